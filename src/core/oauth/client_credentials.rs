//! The client_credentials grant (RFC 6749 4.4): a confidential client gets tokens for its
//! `clientCredentialFlowUser`. Its grants share one session per client and user, so that a
//! flood of grants writes nothing but its first session.

use super::{Tokens, granted_scope, invalid_grant};
use crate::App;
use crate::core::clients::Client;
use crate::core::sessions::{self, Origin};
use crate::db;
use crate::error::{Error, Reason, Result};

pub async fn grant(
    app: &App,
    client: &Client,
    scope: Option<&str>,
    resource: Option<String>,
) -> Result<Tokens> {
    if !client.requires_secret {
        return Err(Error::new(
            Reason::ClientNotAllowed,
            "a public client cannot use client_credentials",
        ));
    }
    let uid = client.client_credential_flow_user.clone().ok_or_else(|| {
        Error::new(
            Reason::ClientNotAllowed,
            "the client has no clientCredentialFlowUser",
        )
    })?;
    let scope = granted_scope(client, scope)?;
    let key = (client.id.clone(), uid);
    let found = match app.caches.client_sessions.get(&app.db, &key) {
        Some((user, sid)) => (Some(user), Some(sid)),
        None => {
            let generation = app.db.generation();
            let (cid, uid) = key.clone();
            let found = app
                .db
                .read(move |r| {
                    let user = db::users::get(r, &uid)?;
                    let sid = db::sessions::client_session(r, &cid, &uid, r.now)?;
                    Ok((user, sid))
                })
                .await?;
            if let (Some(u), Some(s)) = &found {
                app.caches
                    .client_sessions
                    .put(generation, key, (u.clone(), s.clone()));
            }
            found
        }
    };
    let user = found
        .0
        .filter(|u| !u.is_blocked)
        .ok_or_else(|| invalid_grant("the clientCredentialFlowUser is blocked or gone"))?;
    let sid = match found.1 {
        Some(sid) => sid,
        None => {
            let (cid, uid) = (client.id.clone(), user.id.clone());
            let app2 = app.clone();
            let s = app
                .db
                .write(move |tx| {
                    let origin = Origin {
                        client_id: Some(cid),
                        ..Default::default()
                    };
                    sessions::start(&app2, tx, Some(&uid), None, &origin)
                })
                .await?;
            s.id
        }
    };
    let scope = scope.join(" ");
    let ttl = app.settings.access_token_ttl;
    let (token, _) = sessions::access_token(
        app,
        &user.id,
        &sid,
        &scope,
        Some(&client.id),
        ttl,
        resource.as_deref(),
    )?;
    Ok(Tokens {
        access_token: token,
        expires_in: ttl,
        scope,
        refresh_token: None,
        id_token: None,
    })
}
