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
    let key = digest(token);
    let cid = client.id.clone();
    let was_refresh = app
        .db
        .write(move |tx| match db::refresh_tokens::get(tx, &key)? {
            Some(t) if t.client_id.as_deref() == Some(cid.as_str()) => {
                db::sessions::end(tx, &t.session_id, tx.now)?;
                Ok(true)
            }
            Some(_) => Ok(true),
            None => Ok(false),
        })
        .await?;
    if was_refresh {
        return Ok(());
    }
    if let Ok(claims) =
        jwt::verify::<Claims>(&app.keys, Kind::Access, token, &app.public_url, None).await
        && claims.client_id.as_deref() == Some(client.id.as_str())
    {
        app.db
            .write(move |tx| db::revoked_tokens::insert(tx, &claims.jti, claims.exp * 1000))
            .await?;
    }
    Ok(())
}
