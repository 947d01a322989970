//! The login API (`/auth/api/login`), as the Gropius login service speaks it: strategies,
//! strategy instances, users and the audit log.

use super::body::Body;
use super::guard::bearer;
use super::{Req, error_response, method_not_allowed, send_json};
use crate::App;
use crate::core::instances::{self, Flags, Instance};
use crate::core::principal::{Principal, authenticate};
use crate::core::{linking, registration, rfc3339, users};
use crate::db::identities::Identity;
use crate::db::users::User;
use crate::error::{Error, Result, Thing};
use crate::strategies;
use serde_json::{Value, json};
use warp::http::Method;
use warp::reply::Response;

pub async fn handle(app: &App, req: Req) -> Response {
    match route(app, &req).await {
        Ok((status, v)) => send_json(status, &v),
        Err(e) => error_response(&e),
    }
}

/// The caller behind the Bearer token, which must carry the `login` scope.
pub async fn principal(app: &App, req: &Req) -> Result<Principal> {
    let token = bearer(req.header("authorization"))
        .ok_or_else(|| Error::unauthorized("not logged in: send Authorization: Bearer <token>"))?;
    let p = authenticate(app, token).await?;
    p.require_scope("login")?;
    Ok(p)
}

async fn admin(app: &App, req: &Req) -> Result<Principal> {
    let p = principal(app, req).await?;
    p.require_admin()?;
    Ok(p)
}

async fn route(app: &App, req: &Req) -> Result<(u16, Value)> {
    let segs = req.rest(3);
    let m = &req.method;
    let ok = |v: Value| Ok((200, v));
    match segs.as_slice() {
        ["strategy"] if m == Method::GET => {
            ok(strategies::STRATEGIES.iter().map(|s| s.to_json()).collect())
        }
        ["strategy", t] if m == Method::GET => strategies::find(t)
            .map(|s| (200, s.to_json()))
            .ok_or_else(|| Error::not_found(Thing::Strategy, format!("unknown strategy {t:?}"))),
        ["strategy", t, "instance"] if m == Method::GET => {
            strategies::find(t).ok_or_else(|| {
                Error::not_found(Thing::Strategy, format!("unknown strategy {t:?}"))
            })?;
            let list = instances::list(app, crate::strategies::Kind::parse(t)).await?;
            ok(list.iter().map(|i| instance_json(app, i, false)).collect())
        }
        ["strategy", t, "instance"] if m == Method::POST => {
            create_instance(app, req, Some(t.to_string())).await
        }
        ["strategy-instance"] if m == Method::GET => {
            let list = instances::list(app, None).await?;
            ok(list.iter().map(|i| instance_json(app, i, false)).collect())
        }
        ["strategy-instance"] if m == Method::POST => create_instance(app, req, None).await,
        ["strategy-instance", id] if m == Method::GET => {
            admin(app, req).await?;
            ok(instance_json(app, &instances::get(app, id).await?, true))
        }
        ["strategy-instance", id] if m == Method::PUT => {
            let p = admin(app, req).await?;
            let b = Body::parse(&req.body)?;
            // The read-only fields are accepted so that an instance read with GET can be sent back.
            b.only(&[INSTANCE_FIELDS, &["id", "callbackUrl", "createdAt"]].concat())?;
            let u = instances::Update {
                name: b.nullable_str("name")?,
                type_name: b.opt_str("type")?,
                config: b.value("instanceConfig").cloned(),
                flags: flags(&b)?,
            };
            let inst = instances::update(app, &p.actor(req.address()), id, u).await?;
            ok(instance_json(app, &inst, true))
        }
        ["strategy-instance", id] if m == Method::DELETE => {
            let p = admin(app, req).await?;
            let cascade = match req.query("cascade") {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(Error::field("cascade", "must be true or false")),
            };
            instances::delete(app, &p.actor(req.address()), id, cascade).await?;
            ok(default_return("delete-strategy-instance"))
        }
        ["user"] if m == Method::GET => {
            let p = principal(app, req).await?;
            let limit = query_limit(req, 50)?;
            let page = users::list(
                app,
                &p.actor(None),
                req.query("search").map(str::to_string),
                req.query("cursor").map(str::to_string),
                limit,
            )
            .await?;
            ok(json!({
                "items": page.items.iter().map(user_json).collect::<Vec<_>>(),
                "nextCursor": page.next_cursor,
            }))
        }
        ["user"] if m == Method::POST => {
            let p = admin(app, req).await?;
            let b = Body::parse(&req.body)?;
            b.only(&["username", "displayName", "email", "isAdmin", "password"])?;
            let n = users::NewUser {
                username: b.str("username")?,
                display_name: b.str("displayName")?,
                email: b.opt_str("email")?,
                is_admin: b.opt_bool("isAdmin")?.unwrap_or(false),
                password: b.opt_str("password")?,
            };
            let u = users::create(app, &p.actor(req.address()), n).await?;
            Ok((201, user_json(&u)))
        }
        ["user", id] if m == Method::GET => {
            let p = principal(app, req).await?;
            let id = self_or(&p, id);
            // The principal was read a moment ago: one's own user needs no second read.
            if id == p.user.id {
                return ok(user_json(&p.user));
            }
            ok(user_json(&users::get(app, &p.actor(None), id).await?))
        }
        ["user", id] if m == Method::PUT => {
            let p = principal(app, req).await?;
            let id = self_or(&p, id);
            let b = Body::parse(&req.body)?;
            b.only(&["username", "displayName", "email", "isAdmin", "isBlocked"])?;
            let u = users::Update {
                username: b.opt_str("username")?,
                display_name: b.opt_str("displayName")?,
                email: b.nullable_str("email")?,
                is_admin: b.opt_bool("isAdmin")?,
                is_blocked: b.opt_bool("isBlocked")?,
            };
            ok(user_json(
                &users::update(app, &p.actor(req.address()), id, u).await?,
            ))
        }
        ["user", id] if m == Method::DELETE => {
            let p = principal(app, req).await?;
            let id = self_or(&p, id);
            users::delete(app, &p.actor(req.address()), id).await?;
            ok(default_return("delete-user"))
        }
        ["user", id, "login-data"] if m == Method::GET => {
            let p = principal(app, req).await?;
            let id = self_or(&p, id);
            let rows = users::login_data(app, &p.actor(None), id).await?;
            ok(rows
                .iter()
                .map(|(i, inst)| login_data_json(app, i, inst))
                .collect())
        }
        ["user", id, "revoke-tokens"] if m == Method::POST => {
            let p = principal(app, req).await?;
            let id = self_or(&p, id);
            users::revoke_tokens(app, &p.actor(req.address()), id).await?;
            ok(default_return("revoke-tokens"))
        }
        ["audit"] if m == Method::GET => {
            admin(app, req).await?;
            let before = req
                .query("before")
                .map(|b| {
                    b.parse::<i64>()
                        .map_err(|_| Error::field("before", "must be an event id"))
                })
                .transpose()?;
            let limit = query_limit(req, 100)?;
            let rows = app
                .db
                .read(move |c| crate::db::audit::list(c, before, limit))
                .await?;
            ok(rows
                .iter()
                .map(|e| {
                    json!({
                        "id": e.id, "time": rfc3339(e.at), "actor": e.actor, "action": e.action,
                        "target": e.target, "address": e.address,
                        "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null),
                    })
                })
                .collect())
        }
        ["client", rest @ ..] => super::clients::route(app, req, rest).await,
        ["strategy-instance", id, "userpass", "register"] if m == Method::POST => {
            let b = Body::parse(&req.body)?;
            b.only(&["username", "password"])?;
            let origin = req.origin(None);
            let (token, _) = crate::core::pending::userpass_register(
                app,
                id,
                b.str("username")?.trim(),
                &b.str("password")?,
                &origin,
            )
            .await?;
            Ok((201, json!({ "register_token": token })))
        }
        ["registration", "data-suggestion"] if m == Method::POST => {
            let b = Body::parse(&req.body)?;
            b.only(&["register_token"])?;
            let s =
                crate::core::pending::data_suggestion(app, &b.nonempty("register_token")?).await?;
            ok(json!(super::flow::DataSuggestion::from(s)))
        }
        ["registration", "self-register"] if m == Method::POST => {
            let b = Body::parse(&req.body)?;
            b.only(&["register_token", "username", "displayName", "email"])?;
            let token = b.nonempty("register_token")?;
            let r = registration::Registration {
                username: b.str("username")?.trim().to_string(),
                display_name: b.str("displayName")?,
                email: b.opt_str("email")?.filter(|e| !e.is_empty()),
            };
            let (user, _) = registration::self_register(app, &token, r, req.address()).await?;
            Ok((201, user_json(&user)))
        }
        ["registration", "self-link"] if m == Method::POST => {
            let p = principal(app, req).await?;
            let b = Body::parse(&req.body)?;
            b.only(&["register_token"])?;
            let token = b.nonempty("register_token")?;
            linking::link(
                app,
                &p.actor(req.address()),
                &token,
                &p.user.id,
                "self-link",
            )
            .await?;
            ok(default_return("self-link"))
        }
        ["registration", "admin-link"] if m == Method::POST => {
            let p = admin(app, req).await?;
            let b = Body::parse(&req.body)?;
            b.only(&["register_token", "userIdToLink"])?;
            let token = b.nonempty("register_token")?;
            let user = b.nonempty("userIdToLink")?;
            linking::link(app, &p.actor(req.address()), &token, &user, "admin-link").await?;
            ok(default_return("admin-link"))
        }
        ["login-data", id] if m == Method::DELETE => {
            let p = principal(app, req).await?;
            linking::unlink(app, &p.actor(req.address()), id).await?;
            ok(default_return("delete-login-data"))
        }
        ["user", id, "active-login"] if m == Method::GET => {
            let p = principal(app, req).await?;
            let id = self_or(&p, id);
            let list = crate::core::sessions::list(app, &p.actor(None), id).await?;
            ok(list
                .iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "createdAt": rfc3339(s.created_at),
                        "lastUsedAt": rfc3339(s.last_used_at),
                        "expires": rfc3339(s.expires.min(s.absolute_expires)),
                        "clientId": s.client_id,
                        "address": s.address,
                        "userAgent": s.user_agent,
                        "current": s.id == p.claims.sid,
                    })
                })
                .collect())
        }
        ["active-login", id] if m == Method::DELETE => {
            let p = principal(app, req).await?;
            crate::core::sessions::end(app, &p.actor(req.address()), id).await?;
            ok(default_return("delete-active-login"))
        }
        ["login-data", id, "password"] if m == Method::PUT => {
            let p = principal(app, req).await?;
            let b = Body::parse(&req.body)?;
            b.only(&["oldPassword", "newPassword"])?;
            crate::core::login::change_password(
                app,
                &p.actor(req.address()),
                id,
                b.opt_str("oldPassword")?,
                b.str("newPassword")?,
            )
            .await?;
            ok(default_return("change-password"))
        }
        ["strategy"]
        | ["strategy", _]
        | ["strategy", _, "instance"]
        | ["strategy-instance"]
        | ["strategy-instance", _]
        | ["user"]
        | ["user", _]
        | ["user", _, "login-data" | "revoke-tokens" | "active-login"]
        | ["active-login", _]
        | ["login-data", _, "password"]
        | ["login-data", _]
        | ["strategy-instance", _, "userpass", "register"]
        | [
            "registration",
            "data-suggestion" | "self-register" | "self-link" | "admin-link",
        ]
        | ["audit"] => Err(method_not_allowed()),
        _ => Err(Error::not_found(Thing::Route, "no such resource")),
    }
}

/// The fields a strategy instance is created or changed with.
const INSTANCE_FIELDS: &[&str] = &[
    "name",
    "type",
    "instanceConfig",
    "isLoginActive",
    "isSelfRegisterActive",
    "isSyncActive",
    "doesImplicitRegister",
];

/// The `limit` query parameter of a list: 1 to 500, `default` when absent.
fn query_limit(req: &Req, default: u32) -> Result<u32> {
    match req.query("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| Error::field("limit", "must be a number from 1 to 500")),
    }
}

/// `self` in a user path means the caller.
fn self_or<'a>(p: &'a Principal, id: &'a str) -> &'a str {
    if id == "self" { &p.user.id } else { id }
}

fn flags(b: &Body) -> Result<Flags> {
    Ok(Flags {
        is_login_active: b.opt_bool("isLoginActive")?,
        is_self_register_active: b.opt_bool("isSelfRegisterActive")?,
        is_sync_active: b.opt_bool("isSyncActive")?,
        does_implicit_register: b.opt_bool("doesImplicitRegister")?,
    })
}

async fn create_instance(app: &App, req: &Req, url_type: Option<String>) -> Result<(u16, Value)> {
    let p = admin(app, req).await?;
    if let Some(t) = &url_type
        && strategies::find(t).is_none()
    {
        return Err(Error::field("type", format!(": unknown strategy {t:?}")));
    }
    let b = Body::parse(&req.body)?;
    b.only(INSTANCE_FIELDS)?;
    let body_type = b.opt_str("type")?;
    let inst = instances::create(
        app,
        &p.actor(req.address()),
        url_type.or(body_type),
        b.opt_str("name")?,
        b.value("instanceConfig").cloned(),
        flags(&b)?,
    )
    .await?;
    Ok((201, instance_json(app, &inst, true)))
}

pub fn default_return(operation: &str) -> Value {
    json!({"operation": operation, "result": "success", "time": rfc3339(crate::db::now_ms())})
}

pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "displayName": u.display_name,
        "email": u.email,
        "isAdmin": u.is_admin,
        "isBlocked": u.is_blocked,
        "revokeTokensBefore": u.revoke_tokens_before.map(rfc3339),
        "createdAt": rfc3339(u.created_at),
    })
}

pub fn instance_json(app: &App, i: &Instance, with_config: bool) -> Value {
    let s = i.strategy();
    let mut v = json!({
        "id": i.id,
        "name": i.name,
        "type": i.kind,
        "isLoginActive": i.is_login_active,
        "isSelfRegisterActive": i.is_self_register_active,
        "isSyncActive": i.is_sync_active,
        "doesImplicitRegister": i.does_implicit_register,
        "callbackUrl": s.needs_redirect_flow
            .then(|| format!("{}/auth/api/flow/callback/{}", app.public_url, i.id)),
        "createdAt": rfc3339(i.created_at),
    });
    if with_config {
        v["instanceConfig"] = s.censor(&i.config);
    }
    v
}

pub fn login_data_json(app: &App, i: &Identity, inst: &Instance) -> Value {
    let description = i
        .profile
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or(&i.subject)
        .to_string();
    json!({
        "id": i.id,
        "state": i.state,
        "expires": i.expires.map(rfc3339),
        "strategyInstance": instance_json(app, inst, false),
        "description": description,
    })
}
