//! The authorization_code grant (RFC 6749 4.1.3) with PKCE (RFC 7636): a code is good once, for
//! the client and redirect URI it was issued to, before it expires. A second use ends the
//! session it was issued in, so that whoever redeemed it first loses its tokens too.

use super::{Grant, Tokens, grant_audience, invalid_grant, live_user, store_refresh};
use crate::App;
use crate::auth::secret::{b64, digest, digest_eq};
use crate::core::clients::Client;
use crate::db;
use crate::error::Result;
use sha2::{Digest, Sha256};

/// S256 PKCE: BASE64URL(SHA-256(verifier)) must equal the challenge.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed
        && digest_eq(
            b64(&Sha256::digest(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

/// Exchanges `code` for tokens. `resource`, when the token request names one, must be the one
/// of the authorization request (already checked against the client by `check_resource`).
pub async fn exchange(
    app: &App,
    client: &Client,
    code: String,
    redirect_uri: Option<String>,
    verifier: Option<String>,
    resource: Option<String>,
) -> Result<Tokens> {
    let (app2, client) = (app.clone(), client.clone());
    // The inner Result lets a replay end the session (committed) and still answer an error.
    let grant = app
        .db
        .write(move |tx| {
            let key = digest(&code);
            let Some(c) = db::codes::get(tx, &key)? else {
                return Ok(Err(invalid_grant("the code is not valid")));
            };
            if c.client_id != client.id {
                return Ok(Err(invalid_grant("the code was issued to another client")));
            }
            if c.used_at.is_some() {
                super::end_for_replay(tx, &c.session_id, "authorization code")?;
                return Ok(Err(invalid_grant(
                    "the code was already used; its tokens are revoked",
                )));
            }
            if c.expires <= tx.now {
                return Ok(Err(invalid_grant("the code has expired")));
            }
            if redirect_uri.as_deref() != Some(c.redirect_uri.as_str()) {
                return Ok(Err(invalid_grant(
                    "redirect_uri does not match the authorization request",
                )));
            }
            if let Some(ch) = &c.code_challenge {
                match &verifier {
                    Some(v) if pkce_ok(v, ch) => {}
                    Some(_) => {
                        return Ok(Err(invalid_grant(
                            "code_verifier does not match the code_challenge",
                        )));
                    }
                    None => return Ok(Err(invalid_grant("code_verifier is required"))),
                }
            }
            // Refused before the code is used up: the client may try again as it should.
            let audience = match grant_audience(&app2, &client, c.resource, resource.as_deref()) {
                Ok(a) => a,
                Err(e) => return Ok(Err(e)),
            };
            db::codes::mark_used(tx, &key)?;
            let (session, user) = match live_user(tx, &c.session_id) {
                Ok(x) => x,
                Err(e) => return Ok(Err(e)),
            };
            let mut g = Grant {
                user,
                session_id: c.session_id,
                session_created: session.created_at,
                client_id: client.id.clone(),
                scope: c.scope,
                audience,
                nonce: c.nonce,
                refresh: None,
            };
            store_refresh(&app2, tx, &mut g)?;
            Ok(Ok(g))
        })
        .await??;
    super::sign(app, &grant)
}
