//! Signing keys as admins see and rotate them, from the login API and the CLI alike.

use super::Actor;
use crate::App;
use crate::auth::keys::KEY_RETENTION_MS;
use crate::config::KeyAlg;
use crate::db;
use crate::error::{Error, Result};
use serde_json::json;

/// Keys listed at most: an installation that rotates daily keeps the last three months.
const LIST_LIMIT: u32 = 100;

/// A signing key without its private half.
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    /// The key that signs new tokens.
    pub signing: bool,
    /// Still in the JWKS: the signing key, and a retired one until every token it signed has
    /// expired (`KEY_RETENTION_MS`), exactly as `Keyring::published` decides.
    pub published: bool,
}

/// Views of `rows` (newest first) at `now`.
pub fn views(rows: Vec<db::keys::KeyInfo>, now: i64) -> Vec<KeyView> {
    let mut signing_seen = false;
    rows.into_iter()
        .map(|k| {
            // The newest unretired key signs, as the keyring picks it.
            let signing = k.retired_at.is_none() && !signing_seen;
            signing_seen |= signing;
            KeyView {
                published: k.retired_at.is_none_or(|r| r > now - KEY_RETENTION_MS),
                signing,
                kid: k.kid,
                alg: k.alg,
                created_at: k.created_at,
                retired_at: k.retired_at,
            }
        })
        .collect()
}

/// Every key, newest first (admins only).
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<KeyView>> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may see the signing keys"));
    }
    app.db
        .read(|r| Ok(views(db::keys::list_info(r, LIST_LIMIT)?, r.now)))
        .await
}

/// A new signing key that signs from now on; the others retire and stay published until the
/// tokens they signed have expired. Audited (`key.rotate`) in the same transaction. `alg`
/// defaults to the algorithm of the key that signs now. Answers the new key.
pub async fn rotate(app: &App, actor: &Actor, alg: Option<KeyAlg>) -> Result<KeyView> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may rotate the signing key"));
    }
    let alg = match alg {
        Some(a) => a,
        None => app
            .db
            .read(|r| db::keys::list_info(r, 1))
            .await?
            .first()
            .and_then(|k| KeyAlg::parse(&k.alg))
            .unwrap_or(KeyAlg::Es256),
    };
    let (keys, actor) = (app.keys.clone(), actor.clone());
    let kid = tokio::task::spawn_blocking(move || {
        keys.rotate_then(alg, |tx, kid| {
            actor.audit(tx, "key.rotate", Some(kid), json!({"alg": alg.as_str()}))
        })
    })
    .await
    .map_err(|e| Error::internal(format!("key rotation failed: {e}")))??;
    // Among all keys: a rotation racing this one may have made a newer one meanwhile.
    let rows = app.db.read(|r| db::keys::list_info(r, LIST_LIMIT)).await?;
    views(rows, db::now_ms())
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Error::internal("the new key is not in the database"))
}
