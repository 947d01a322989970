//! Introspection (RFC 7662), for confidential clients: what a token is, or inactive for
//! anything not currently good. A client learns about its own tokens and about access tokens
//! for one of its resources (it is their resource server); every other token is inactive to
//! it, whatever it is.

use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::auth::secret::digest;
use crate::core::clients::Client;
use crate::core::principal::{self, Principal};
use crate::db::{self, users::User};
use crate::error::{Error, Reason, Result};

/// What introspection says of a token (one a request: its size does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Introspection {
    Inactive,
    /// A live access token.
    Access(Principal),
    /// A live refresh token of the client.
    Refresh {
        user: User,
        client_id: String,
        scope: String,
        /// Unix ms.
        expires: i64,
        session_id: String,
    },
}

/// Only a confidential client may introspect: a public one cannot prove who it is.
pub fn may_introspect(client: &Client) -> Result<()> {
    if !client.requires_secret {
        return Err(Error::new(
            Reason::ClientUnauthenticated,
            "introspection needs a confidential client",
        ));
    }
    Ok(())
}

pub async fn introspect(app: &App, client: &Client, token: &str) -> Result<Introspection> {
    may_introspect(client)?;
    if let Ok(claims) =
        jwt::verify::<Claims>(&app.keys, Kind::Access, token, &app.public_url, None).await
    {
        let ours = claims.client_id.as_deref() == Some(client.id.as_str())
            || client.resources.contains(&claims.aud);
        if !ours {
            return Ok(Introspection::Inactive);
        }
        return Ok(match principal::check_live(app, claims).await {
            Ok(p) => Introspection::Access(p),
            Err(_) => Introspection::Inactive,
        });
    }
    let (key, own) = (digest(token), client.id.clone());
    app.db
        .read(move |r| {
            let Some(t) = db::refresh_tokens::get(r, &key)? else {
                return Ok(Introspection::Inactive);
            };
            // A refresh token is only ever for the client it was issued to.
            if t.used_at.is_some() || t.expires <= r.now || t.client_id.as_deref() != Some(&own) {
                return Ok(Introspection::Inactive);
            }
            let session = db::sessions::get(r, &t.session_id)?.filter(|s| s.is_live(r.now));
            let user = match session.as_ref().and_then(|s| s.user_id.clone()) {
                Some(u) => db::users::get(r, &u)?.filter(|u| !u.is_blocked),
                None => None,
            };
            Ok(match user {
                Some(user) => Introspection::Refresh {
                    user,
                    client_id: own,
                    scope: t.scope,
                    expires: t.expires,
                    session_id: t.session_id,
                },
                None => Introspection::Inactive,
            })
        })
        .await
}
