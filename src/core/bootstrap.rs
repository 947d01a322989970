//! First start: the organization id, the default `local` password instance, the `passkey`
//! instance, and the one-time setup link through which the first admin is created.

use super::{Actor, instances, new_id, users};
use crate::App;
use crate::auth::password::check_new_password;
use crate::auth::secret::{digest, digest_eq, random_token};
use crate::db::Read;
use crate::db::{self, settings};
use crate::error::{Error, Result};
use crate::strategies::Kind;
use serde_json::json;

const SETUP_KEY: &str = "setup_link";
const SETUP_TTL_MS: i64 = 3600 * 1000;

/// Creates what a new installation needs, once. The `local` instance is made on the very first
/// start only: an admin who deletes it later does not get it back.
pub fn ensure_defaults(app: &App) -> Result<()> {
    app.db.write_blocking(|tx| {
        if settings::get(tx, "org_id")?.is_none() {
            settings::set(tx, "org_id", &new_id())?;
        }
        if settings::get(tx, "default_instance_created")?.is_none() {
            if db::instances::by_name(tx, instances::DEFAULT_USERPASS)?.is_none() {
                insert_instance(
                    app,
                    tx,
                    instances::DEFAULT_USERPASS,
                    Kind::Userpass,
                    true,
                    0,
                )?;
            }
            settings::set(tx, "default_instance_created", "1")?;
        }
        // Installations older than passkeys get theirs at their first start with them.
        if settings::get(tx, "passkey_instance_created")?.is_none() {
            if db::instances::by_name(tx, instances::DEFAULT_PASSKEY)?.is_none() {
                // A millisecond later: lists (oldest first) keep `local` first.
                insert_instance(app, tx, instances::DEFAULT_PASSKEY, Kind::Passkey, true, 1)?;
            }
            settings::set(tx, "passkey_instance_created", "1")?;
        }
        super::clients::ensure_builtin(tx)?;
        Ok(())
    })
}

/// A default instance: login active, self-registration as `self_register` says.
fn insert_instance(
    app: &App,
    tx: &db::Write,
    name: &str,
    kind: Kind,
    self_register: bool,
    later_ms: i64,
) -> Result<()> {
    let id = new_id();
    let config = json!({}).to_string();
    db::instances::insert(
        tx,
        &db::instances::InstanceRow {
            config: app
                .master
                .seal(&format!("instance-config:{id}"), config.as_bytes()),
            id,
            name: Some(name.into()),
            kind,
            is_login_active: true,
            is_self_register_active: self_register,
            is_sync_active: false,
            does_implicit_register: false,
            created_at: tx.now + later_ms,
        },
    )
}

/// When no admin exists, makes a new one-time setup link (valid one hour) and returns it.
pub fn setup_link(app: &App) -> Result<Option<String>> {
    app.db.write_blocking(|tx| {
        if db::users::any_admin(tx)? {
            settings::delete(tx, SETUP_KEY)?;
            return Ok(None);
        }
        let token = random_token(32);
        let stored = json!({
            "digest": crate::auth::secret::b64(&digest(&token)),
            "expires": tx.now + SETUP_TTL_MS,
        });
        settings::set(tx, SETUP_KEY, &stored.to_string())?;
        Ok(Some(format!(
            "{}/auth/flow/setup#token={token}",
            app.public_url
        )))
    })
}

/// Is this setup token the current, unexpired one while no admin exists?
fn setup_token_ok(c: &Read, token: &str) -> Result<bool> {
    let Some(stored) = settings::get(c, SETUP_KEY)? else {
        return Ok(false);
    };
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap_or_default();
    let want = stored["digest"]
        .as_str()
        .and_then(crate::auth::secret::b64_decode)
        .unwrap_or_default();
    let fresh = stored["expires"].as_i64().unwrap_or(0) > c.now;
    Ok(fresh && digest_eq(&want, &digest(token)) && !db::users::any_admin(c)?)
}

pub async fn check_setup_token(app: &App, token: String) -> Result<()> {
    let ok = app.db.read(move |c| setup_token_ok(c, &token)).await?;
    if ok {
        Ok(())
    } else {
        Err(Error::token_invalid(
            "this setup link is invalid, used or expired; restart keyward for a new one, or use `keyward admin create`",
        ))
    }
}

/// Creates the first admin through the setup link; the link is used up with it.
pub async fn complete_setup(
    app: &App,
    token: String,
    username: String,
    display_name: Option<String>,
    password: String,
    address: Option<String>,
) -> Result<db::users::User> {
    users::check_username(&username)?;
    if let Some(d) = display_name.as_deref().filter(|d| !d.trim().is_empty()) {
        users::check_display_name(d)?;
    }
    check_new_password(&password)?;
    check_setup_token(app, token.clone()).await?;
    let hash = app.hasher.hash(password.clone()).await?;
    let app2 = app.clone();
    app.db
        .write(move |tx| {
            // Checked again inside the transaction: of two racing requests one wins.
            if !setup_token_ok(tx, &token)? {
                return Err(Error::token_invalid(
                    "this setup link is invalid, used or expired",
                ));
            }
            settings::delete(tx, SETUP_KEY)?;
            let actor = Actor {
                id: "setup".into(),
                is_admin: true,
                address,
            };
            users::create_in(
                &app2,
                tx,
                &actor,
                users::NewUser {
                    display_name: display_name
                        .filter(|d| !d.trim().is_empty())
                        .unwrap_or_else(|| username.clone()),
                    username,
                    email: None,
                    is_admin: true,
                    password: Some(password),
                },
                Some(hash),
            )
        })
        .await
}
