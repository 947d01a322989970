//! The refresh_token grant (RFC 6749 6): each refresh token is good once and is replaced by a
//! new one (rotation). A second use ends the session, so that a stolen token that was used
//! by both its owner and the thief stops working for both.

use super::{
    Grant, Tokens, grant_audience, invalid_grant, live_user, parse_scope, store_refresh_scoped,
};
use crate::App;
use crate::auth::secret::digest;
use crate::core::clients::Client;
use crate::db;
use crate::error::{Error, Reason, Result};

/// Rotates `token`. The new access token keeps the audience the grant was made for; a
/// `resource` other than that one, or one the client may no longer ask for, is refused (RFC
/// 8707, `TargetInvalid`). `scope` may narrow the new access token's scopes, never widen them;
/// the new refresh token keeps the scope originally granted (RFC 6749 6), so a later refresh
/// may ask for all of it again.
pub async fn rotate(
    app: &App,
    client: &Client,
    token: String,
    scope: Option<&str>,
    resource: Option<String>,
) -> Result<Tokens> {
    let (app2, client) = (app.clone(), client.clone());
    let narrowed = scope.map(parse_scope);
    let grant = app
        .db
        .write(move |tx| {
            let key = digest(&token);
            let Some(t) = db::refresh_tokens::get(tx, &key)? else {
                return Ok(Err(invalid_grant("the refresh token is not valid")));
            };
            if t.client_id.as_deref() != Some(client.id.as_str()) {
                return Ok(Err(invalid_grant(
                    "the refresh token was issued to another client",
                )));
            }
            if t.used_at.is_some() {
                super::end_for_replay(tx, &t.session_id, "refresh token")?;
                return Ok(Err(invalid_grant(
                    "the refresh token was already used; its login is ended",
                )));
            }
            if t.expires <= tx.now {
                return Ok(Err(invalid_grant("the refresh token has expired")));
            }
            let audience = match grant_audience(&app2, &client, t.resource, resource.as_deref()) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            let (session, user) = match live_user(tx, &t.session_id) {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            let granted = parse_scope(&t.scope);
            let original = t.scope.clone();
            let scope = match &narrowed {
                Some(n) if !n.is_empty() => {
                    if let Some(bad) = n.iter().find(|s| !granted.contains(s)) {
                        return Ok(Err(Error::new(
                            Reason::ScopeInvalid,
                            format!("the scope {bad} was not granted"),
                        )));
                    }
                    n.clone()
                }
                _ => granted,
            };
            db::refresh_tokens::mark_used(tx, &key)?;
            db::sessions::touch(
                tx,
                &t.session_id,
                tx.now,
                tx.now + app2.settings.session_inactivity as i64 * 1000,
            )?;
            let mut g = Grant {
                user,
                session_id: t.session_id,
                session_created: session.created_at,
                client_id: client.id.clone(),
                scope,
                audience,
                nonce: None,
                refresh: None,
            };
            store_refresh_scoped(&app2, tx, &mut g, original)?;
            Ok(Ok(g))
        })
        .await??;
    super::sign(app, &grant)
}
