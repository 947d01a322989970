//! Sessions ("active logins") and the access tokens that name them.

use super::new_id;
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
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
    c: &rusqlite::Connection,
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

/// Signs an access token for `user_id` in session `sid`, audience keyward itself.
pub fn access_token(
    app: &App,
    user_id: &str,
    sid: &str,
    scope: &str,
    client_id: Option<&str>,
    ttl_secs: u64,
) -> Result<(String, Claims)> {
    let now = jwt::now_secs();
    let claims = Claims {
        iss: app.public_url.clone(),
        sub: user_id.to_string(),
        aud: app.public_url.clone(),
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
