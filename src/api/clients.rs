//! OAuth clients on the login API (`/auth/api/login/client...`), admin only.

use super::body::Body;
use super::login_api::{default_return, principal};
use super::{Req, method_not_allowed};
use crate::App;
use crate::core::clients::{self, Client};
use crate::core::principal::Principal;
use crate::core::rfc3339;
use crate::error::{Error, Result, Thing};
use serde_json::{Value, json};
use warp::http::Method;

/// `rest` is the path after `client`.
/// The fields a client is written with.
const FIELDS: &[&str] = &[
    "name",
    "redirectUrls",
    "isValid",
    "requiresSecret",
    "validScopes",
    "clientCredentialFlowUser",
    "allowPasswordGrant",
    "resources",
];

pub async fn route(app: &App, req: &Req, rest: &[&str]) -> Result<(u16, Value)> {
    let m = &req.method;
    match rest {
        [] if m == Method::GET => {
            admin(app, req).await?;
            let list = clients::list(app).await?;
            Ok((200, list.iter().map(client_json).collect()))
        }
        [] if m == Method::POST => {
            let p = admin(app, req).await?;
            let b = Body::parse(&req.body)?;
            b.only(FIELDS)?;
            let n = clients::NewClient {
                name: b.str("name")?,
                redirect_urls: str_list(&b, "redirectUrls")?,
                is_valid: b.opt_bool("isValid")?,
                requires_secret: b.opt_bool("requiresSecret")?,
                valid_scopes: str_list(&b, "validScopes")?,
                client_credential_flow_user: b.opt_str("clientCredentialFlowUser")?,
                allow_password_grant: b.opt_bool("allowPasswordGrant")?,
                resources: str_list(&b, "resources")?,
            };
            let c = clients::create(app, &p.actor(req.address()), n).await?;
            Ok((201, client_json(&c)))
        }
        [id] if m == Method::GET => {
            admin(app, req).await?;
            Ok((200, client_json(&clients::get(app, id).await?)))
        }
        [id] if m == Method::PUT => {
            let p = admin(app, req).await?;
            let b = Body::parse(&req.body)?;
            // The read-only `id` and `builtin` are accepted so that a client read with GET can
            // be changed and sent back as it is.
            b.only(&[FIELDS, &["id", "builtin"]].concat())?;
            if b.opt_str("id")?.is_some_and(|given| given != *id) {
                return Err(Error::field("id", "cannot be changed"));
            }
            let u = clients::Update {
                name: b.opt_str("name")?,
                redirect_urls: str_list(&b, "redirectUrls")?,
                is_valid: b.opt_bool("isValid")?,
                requires_secret: b.opt_bool("requiresSecret")?,
                valid_scopes: str_list(&b, "validScopes")?,
                client_credential_flow_user: b.nullable_str("clientCredentialFlowUser")?,
                allow_password_grant: b.opt_bool("allowPasswordGrant")?,
                resources: str_list(&b, "resources")?,
                builtin: b.opt_bool("builtin")?,
            };
            let c = clients::update(app, &p.actor(req.address()), id, u).await?;
            Ok((200, client_json(&c)))
        }
        [id] if m == Method::DELETE => {
            let p = admin(app, req).await?;
            clients::delete(app, &p.actor(req.address()), id).await?;
            Ok((200, default_return("delete-client")))
        }
        [id, "client-secret"] if m == Method::GET => {
            admin(app, req).await?;
            let list = clients::secrets(app, id).await?;
            Ok((
                200,
                list.iter()
                    .map(|s| {
                        json!({
                            "censored": s.censored,
                            "fingerprint": s.fingerprint,
                            "createdAt": rfc3339(s.created_at),
                        })
                    })
                    .collect(),
            ))
        }
        [id, "client-secret"] if m == Method::POST => {
            let p = admin(app, req).await?;
            // No body is expected; one that is sent must not carry fields we would ignore.
            Body::parse(&req.body)?.only(&[])?;
            let s = clients::create_secret(app, &p.actor(req.address()), id).await?;
            Ok((
                201,
                json!({
                    "secretText": s.secret_text,
                    "censored": s.censored,
                    "fingerprint": s.fingerprint,
                }),
            ))
        }
        [id, "client-secret", fingerprint] if m == Method::DELETE => {
            let p = admin(app, req).await?;
            clients::delete_secret(app, &p.actor(req.address()), id, fingerprint).await?;
            Ok((200, default_return("delete-client-secret")))
        }
        [] | [_] | [_, "client-secret"] | [_, "client-secret", _] => Err(method_not_allowed()),
        _ => Err(Error::not_found(Thing::Route, "no such resource")),
    }
}

async fn admin(app: &App, req: &Req) -> Result<Principal> {
    let p = principal(app, req).await?;
    p.require_admin()?;
    Ok(p)
}

/// An optional array of strings; absent or null is None.
fn str_list(b: &Body, field: &str) -> Result<Option<Vec<String>>> {
    let Some(v) = b.value(field) else {
        return Ok(None);
    };
    let bad = || Error::bad_request(format!("{field} must be an array of strings"));
    v.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|s| s.as_str().map(str::to_string).ok_or_else(bad))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub fn client_json(c: &Client) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "redirectUrls": c.redirect_urls,
        "isValid": c.is_valid,
        "requiresSecret": c.requires_secret,
        "validScopes": c.valid_scopes,
        "clientCredentialFlowUser": c.client_credential_flow_user,
        "allowPasswordGrant": c.allow_password_grant,
        "resources": c.resources,
        "builtin": c.builtin,
    })
}
