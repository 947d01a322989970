//! Sessions ("active logins") and the access tokens that name them.

use super::new_id;
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::db::Write;
use crate::db::{self, sessions::Session};
use crate::error::Result;

/// Where a login came from, kept with its session.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a session in the caller's transaction. Its inactivity expiry slides with use; its
/// absolute expiry does not.
pub fn start(
    app: &App,
    c: &Write,
    user_id: Option<&str>,
    identity_id: Option<&str>,
    origin: &Origin,
) -> Result<Session> {
    let now = db::now_ms();
    let s = Session {
        id: new_id(),
        user_id: user_id.map(str::to_string),
        identity_id: identity_id.map(str::to_string),
        client_id: origin.client_id.clone(),
        created_at: now,
        last_used_at: now,
        expires: now + app.settings.session_inactivity as i64 * 1000,
        absolute_expires: now + app.settings.session_lifetime as i64 * 1000,
        ended_at: None,
        address: origin.address.clone(),
        user_agent: origin.user_agent.clone(),
    };
    db::sessions::insert(c, &s)?;
    Ok(s)
}

/// Signs an access token for `user_id` in session `sid`. Its audience is `audience` (an RFC 8707
/// resource) or, by default, keyward itself, which its own endpoints require.
pub fn access_token(
    app: &App,
    user_id: &str,
    sid: &str,
    scope: &str,
    client_id: Option<&str>,
    ttl_secs: u64,
    audience: Option<&str>,
) -> Result<(String, Claims)> {
    let now = jwt::now_secs();
    let claims = Claims {
        iss: app.public_url.clone(),
        sub: user_id.to_string(),
        aud: audience.unwrap_or(&app.public_url).to_string(),
        exp: now + ttl_secs as i64,
        iat: now,
        nbf: now,
        jti: new_id(),
        scope: scope.to_string(),
        client_id: client_id.map(str::to_string),
        sid: sid.to_string(),
    };
    let token = jwt::sign(&app.keys, Kind::Access, &claims)?;
    Ok((token, claims))
}

/// A user's live sessions, newest first (self or admin).
pub async fn list(app: &App, actor: &super::Actor, user_id: &str) -> Result<Vec<Session>> {
    super::users::may_see(actor, user_id)?;
    let uid = user_id.to_string();
    app.db
        .read(move |c| {
            if db::users::get(c, &uid)?.is_none() {
                return Err(crate::error::Error::not_found(
                    crate::error::Thing::User,
                    "user not found",
                ));
            }
            db::sessions::list_for_user(c, &uid, db::now_ms())
        })
        .await
}

/// Ends a session (its owner or an admin): its refresh tokens and access tokens die with it.
pub async fn end(app: &App, actor: &super::Actor, id: &str) -> Result<()> {
    let (id, actor) = (id.to_string(), actor.clone());
    app.db
        .write(move |tx| {
            let s = db::sessions::get(tx, &id)?
                .filter(|s| s.ended_at.is_none())
                .ok_or_else(|| {
                    crate::error::Error::not_found(
                        crate::error::Thing::Session,
                        "active login not found",
                    )
                })?;
            // Someone else's session is "not found" to a non-admin, so ids cannot be probed.
            if !actor.is_admin && s.user_id.as_deref() != Some(actor.id.as_str()) {
                return Err(crate::error::Error::not_found(
                    crate::error::Thing::Session,
                    "active login not found",
                ));
            }
            db::sessions::end(tx, &id, db::now_ms())?;
            actor.audit(
                tx,
                "session.end",
                Some(&id),
                serde_json::json!({"user": s.user_id}),
            )
        })
        .await
}
