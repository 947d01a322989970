//! The identities API (`/api/v2/users/...`), as the Auth0 Management API speaks it: read a user
//! with its identities, link an account (by a token that proves control of it, or by provider
//! and user id), and unlink an identity into a standalone user. The rules live in
//! `core::linking`; this file parses, checks scopes, and renders Auth0's shapes.

use super::body::Body;
use super::{Req, send_json};
use crate::App;
use crate::auth::jwt::{self, Kind};
use crate::auth::principal::{Principal, authenticate, bearer};
use crate::core::instances::{self, Instance};
use crate::core::linking;
use crate::core::users::{self, subject_for};
use crate::core::{Actor, rfc3339};
use crate::db::{identities::Identity, users::User};
use crate::error::{Error, Kind as ErrKind, Result};
use serde_json::{Value, json};
use warp::http::Method;
use warp::reply::Response;

/// Auth0's error shape, with its `errorCode`.
fn auth0_error(e: &Error) -> Response {
    let status = e.status();
    let code = e.code.unwrap_or(match e.kind {
        ErrKind::BadRequest => "invalid_body",
        ErrKind::Unauthorized => "invalid_token",
        ErrKind::Forbidden => "insufficient_scope",
        ErrKind::NotFound => "inexistent_user",
        ErrKind::Conflict => "identity_conflict",
        ErrKind::MethodNotAllowed => "invalid_uri",
        ErrKind::TooManyRequests(_) => "too_many_requests",
        ErrKind::Unavailable(_) => "temporarily_unavailable",
        _ => "internal_error",
    });
    let error = warp::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    super::with_retry_after(
        send_json(
            status,
            &json!({"statusCode": status, "error": error, "message": e.message, "errorCode": code}),
        ),
        e,
    )
}

pub async fn handle(app: &App, req: Req) -> Response {
    match route(app, &req).await {
        Ok((status, v)) => send_json(status, &v),
        Err(e) => auth0_error(&e),
    }
}

async fn caller(app: &App, req: &Req) -> Result<Principal> {
    let token = bearer(req.header("authorization"))
        .ok_or_else(|| Error::unauthorized("Missing authentication").with_code("invalid_token"))?;
    authenticate(app, token)
        .await
        .map_err(|e| Error::unauthorized(e.message).with_code("invalid_token"))
}

/// The caller's own user with `own_scope`, or any user with the privileged `all_scope`.
fn allow(p: &Principal, id: &str, own_scope: &str, all_scope: &str) -> Result<()> {
    if p.require_privileged_scope(all_scope).is_ok() {
        return Ok(());
    }
    if p.user.id != id {
        return Err(Error::forbidden(format!(
            "only your own user, unless the token has {all_scope}"
        ))
        .with_code("insufficient_scope"));
    }
    p.require_scope(own_scope)
        .map_err(|e| e.with_code("insufficient_scope"))
}

async fn route(app: &App, req: &Req) -> Result<(u16, Value)> {
    let segs = req.rest(2);
    let m = &req.method;
    match segs.as_slice() {
        ["users", id] if m == Method::GET => {
            let p = caller(app, req).await?;
            allow(&p, id, "read:current_user", "read:users")?;
            let (user, list) = users::with_identities(app, id).await?;
            Ok((200, user_json(&user, &list)))
        }
        ["users", id, "identities"] if m == Method::POST => {
            let p = caller(app, req).await?;
            let b = Body::parse(&req.body).map_err(|e| e.with_code("invalid_body"))?;
            b.only(&["link_with", "provider", "user_id", "connection_id"])
                .map_err(|e| e.with_code("invalid_body"))?;
            let by_token = b.has("link_with");
            if by_token && (b.has("provider") || b.has("user_id") || b.has("connection_id")) {
                return Err(Error::bad_request(
                    "link_with cannot be used together with provider, user_id or connection_id",
                )
                .with_code("invalid_body"));
            }
            let actor = p.actor(req.address());
            if by_token {
                allow(&p, id, "update:current_user_identities", "update:users")?;
                let token = b
                    .nonempty("link_with")
                    .map_err(|e| e.with_code("invalid_body"))?;
                link_with(app, &actor, id, &token).await?;
            } else {
                p.require_privileged_scope("update:users")
                    .map_err(|e| e.with_code("insufficient_scope"))?;
                let provider = b
                    .nonempty("provider")
                    .map_err(|e| e.with_code("invalid_body"))?;
                let subject = b
                    .nonempty("user_id")
                    .map_err(|e| e.with_code("invalid_body"))?;
                let connection = b
                    .opt_str("connection_id")
                    .map_err(|e| e.with_code("invalid_body"))?;
                link_by_provider(app, &actor, id, &provider, &subject, connection).await?;
            }
            let (_, list) = users::with_identities(app, id).await?;
            Ok((201, identities_json(&list)))
        }
        ["users", id, "identities", provider, subject] if m == Method::DELETE => {
            let p = caller(app, req).await?;
            allow(&p, id, "update:current_user_identities", "update:users")?;
            linking::detach(app, &p.actor(req.address()), id, provider, subject).await?;
            let (_, list) = users::with_identities(app, id).await?;
            Ok((200, identities_json(&list)))
        }
        ["users", _] | ["users", _, "identities"] | ["users", _, "identities", _, _] => {
            Err(super::method_not_allowed())
        }
        _ => Err(Error::not_found("no such resource").with_code("invalid_uri")),
    }
}

/// `link_with`: a register token (an identity waiting for registration) or an access or ID
/// token that keyward issued to another user, which is then merged into the primary.
async fn link_with(app: &App, actor: &Actor, primary: &str, token: &str) -> Result<()> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        Error::unauthorized("link_with is not a token keyward issued").with_code("invalid_token")
    })?;
    if header.typ.as_deref() == Some(Kind::Register.typ()) {
        return linking::link(app, actor, token, primary, "link")
            .await
            .map(|_| ());
    }
    let kind = if header.typ.as_deref() == Some(Kind::Access.typ()) {
        Kind::Access
    } else {
        Kind::Id
    };
    let claims: Value =
        jwt::verify(&app.keys, kind, token, &app.public_url, None).map_err(|_| {
            Error::unauthorized("link_with is not a valid token keyward issued")
                .with_code("invalid_token")
        })?;
    // Access and ID tokens alike must still speak for their user: not blocked, not logged out
    // everywhere, their session live, and (access tokens) not revoked.
    let secondary = claims["sub"].as_str().unwrap_or_default().to_string();
    crate::auth::principal::live_subject(
        app,
        &secondary,
        claims["sid"].as_str().unwrap_or_default(),
        claims["iat"].as_i64().unwrap_or(0),
        if kind == Kind::Access {
            Some(claims["jti"].as_str().unwrap_or_default())
        } else {
            None
        },
    )
    .await
    .map_err(|_| Error::unauthorized("link_with is no longer valid").with_code("invalid_token"))?;
    linking::merge(app, actor, primary, &secondary).await
}

/// `provider` + `user_id` (+ `connection_id`): the identity on that connection joins the
/// primary; when it belongs to another user, that user is merged into the primary.
async fn link_by_provider(
    app: &App,
    actor: &Actor,
    primary: &str,
    provider: &str,
    subject: &str,
    connection: Option<String>,
) -> Result<()> {
    let candidates: Vec<Instance> = instances::list(app, Some(provider.to_string())).await?;
    let inst = match connection {
        Some(c) => candidates.into_iter().find(|i| i.id == c).ok_or_else(|| {
            Error::not_found("no such connection for this provider")
                .with_code("inexistent_identity")
        })?,
        None if candidates.len() > 1 => {
            return Err(Error::bad_request(
                "several connections have this provider: connection_id is required",
            )
            .with_code("invalid_body"));
        }
        None => candidates.into_iter().next().ok_or_else(|| {
            Error::not_found("no connection has this provider").with_code("inexistent_identity")
        })?,
    };
    let subject = subject_for(provider, subject);
    linking::link_existing(app, actor, primary, &inst.id, &subject).await
}

fn identities_json(list: &[(Identity, Instance)]) -> Value {
    list.iter()
        .enumerate()
        .map(|(n, (i, inst))| {
            let mut v = json!({
                "connection": inst.name.clone().unwrap_or_else(|| inst.id.clone()),
                "provider": inst.type_name,
                "user_id": i.subject,
                "isSocial": inst.strategy().needs_redirect_flow,
            });
            // As Auth0: the primary identity's profile is the user's own; the others carry theirs.
            if n > 0 {
                v["profileData"] = i.profile.clone();
            }
            v
        })
        .collect()
}

fn user_json(u: &User, list: &[(Identity, Instance)]) -> Value {
    json!({
        "user_id": u.id,
        "username": u.username,
        "name": u.display_name,
        "email": u.email,
        "created_at": rfc3339(u.created_at),
        "updated_at": rfc3339(u.updated_at),
        "blocked": u.is_blocked,
        "identities": identities_json(list),
    })
}
