//! Registration: identities that belong to nobody yet wait for the registration window, and
//! the register token proves a login to one of them.

use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::db::{identities::Identity, sessions::Session};
use crate::error::Result;

/// Signs the register token of a login to a waiting identity: `sub` is the identity, `sid` the
/// session, and it lives as long as the identity may still wait. Returns it with its lifetime.
pub fn register_token(app: &App, identity: &Identity, session: &Session) -> Result<(String, i64)> {
    let now = jwt::now_secs();
    let exp = identity
        .expires
        .map(|e| e / 1000)
        .unwrap_or(now + app.settings.register_window as i64)
        .min(now + app.settings.register_window as i64);
    let claims = Claims {
        iss: app.public_url.clone(),
        sub: identity.id.clone(),
        aud: app.public_url.clone(),
        exp,
        iat: now,
        nbf: now,
        jti: super::new_id(),
        scope: "login-register".into(),
        client_id: session.client_id.clone(),
        sid: session.id.clone(),
    };
    Ok((jwt::sign(&app.keys, Kind::Register, &claims)?, exp - now))
}
