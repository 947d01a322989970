//! The password grant (RFC 6749 4.3), for clients an admin allowed it (`allowPasswordGrant`):
//! a password login on a userpass instance, whose session and refresh token are written in the
//! login's transaction. A login to an identity that waits for registration answers, as Gropius
//! did, with a register token in place of the access token, and no refresh token.

use super::{Grant, Tokens, check_resource, granted_scope, store_refresh};
use crate::App;
use crate::core::clients::Client;
use crate::core::login::{self, Outcome};
use crate::core::sessions::Origin;
use crate::db::{identities::Identity, sessions::Session};
use crate::error::{Error, Reason, Result};

/// A password grant's request.
pub struct Login {
    pub username: String,
    pub password: String,
    pub scope: Option<String>,
    /// The userpass instance, by id or name; None: the default one.
    pub instance: Option<String>,
    /// The RFC 8707 resource asked for.
    pub resource: Option<String>,
}

/// The scope a register token carries: it can only register or link its identity.
const REGISTER_SCOPE: &str = "login-register";

pub async fn grant(app: &App, client: &Client, l: Login, origin: &Origin) -> Result<Tokens> {
    if !client.allow_password_grant {
        return Err(Error::new(
            Reason::ClientNotAllowed,
            "this client may not use the password grant",
        ));
    }
    let scope = granted_scope(client, l.scope.as_deref())?;
    let audience = check_resource(app, client, l.resource.as_deref())?;
    let inst = login::password_instance(app, l.instance.as_deref(), "instance").await?;
    enum Done {
        Tokens(Grant),
        Waiting(Identity, Session),
    }
    let (app2, client_id) = (app.clone(), client.id.clone());
    let done = login::password_login_then(
        app,
        &inst,
        &l.username,
        &l.password,
        origin,
        move |tx, outcome| match outcome {
            Outcome::LoggedIn { user, session } => {
                let mut g = Grant {
                    user,
                    session_id: session.id,
                    session_created: session.created_at,
                    client_id,
                    scope,
                    audience,
                    nonce: None,
                    refresh: None,
                };
                store_refresh(&app2, tx, &mut g)?;
                Ok(Done::Tokens(g))
            }
            Outcome::Waiting { identity, session } => Ok(Done::Waiting(identity, session)),
        },
    )
    .await?;
    match done {
        Done::Tokens(g) => super::sign(app, &g),
        Done::Waiting(identity, session) => {
            let (token, ttl) = crate::core::pending::register_token(app, &identity, &session)?;
            Ok(Tokens {
                access_token: token,
                expires_in: ttl.max(0) as u64,
                scope: REGISTER_SCOPE.into(),
                refresh_token: None,
                id_token: None,
            })
        }
    }
}
