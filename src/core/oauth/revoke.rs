//! Revocation (RFC 7009): a refresh token ends its session, and with it every token of the
//! session; an access token is refused from then on (its `jti` is kept until it expires).
//! Unknown tokens, and tokens of other clients, are not an error and change nothing.

use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::auth::secret::digest;
use crate::core::clients::Client;
use crate::db;
use crate::error::Result;

pub async fn revoke(app: &App, client: &Client, token: &str) -> Result<()> {
    // The signature is checked before the transaction, so the write lock is not held for it;
    // a refresh token is no JWT and fails at once.
    let access = jwt::verify::<Claims>(&app.keys, Kind::Access, token, &app.public_url, None)
        .await
        .ok()
        .filter(|c| c.client_id.as_deref() == Some(client.id.as_str()));
    let (key, cid) = (digest(token), client.id.clone());
    app.db
        .write(move |tx| {
            if let Some(t) = db::refresh_tokens::get(tx, &key)? {
                if t.client_id.as_deref() == Some(cid.as_str()) {
                    db::sessions::end(tx, &t.session_id, tx.now)?;
                }
                return Ok(());
            }
            if let Some(claims) = access {
                db::revoked_tokens::insert(tx, &claims.jti, claims.exp * 1000)?;
            }
            Ok(())
        })
        .await
}
