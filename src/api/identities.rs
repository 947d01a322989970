//! The identities API (`/api/v2/users/...`), as the Auth0 Management API speaks it: read a user
//! with its identities, link an account (by a token that proves control of it, or by provider
//! and user id), and unlink an identity into a standalone user. The rules live in
//! `core::linking`; this file parses, checks scopes, and renders Auth0's shapes.

use super::body::Body;
use super::guard::bearer;
use super::{Req, send_json};
use crate::App;
use crate::core::instances::{self, Instance};
use crate::core::linking;
use crate::core::principal::{Principal, authenticate};
use crate::core::users::{self, subject_for};
use crate::core::{Actor, rfc3339};
use crate::db::{identities::Identity, users::User};
use crate::error::{Error, Reason, Result, Thing};
use serde_json::{Value, json};
use warp::http::Method;
use warp::reply::Response;

/// Auth0's error shape, `{statusCode, error, message, errorCode}`.
pub(super) fn auth0_error(e: &Error) -> Response {
    let e = &*super::public_error(e);
    let (status, code) = match e.reason {
        Reason::InvalidQuery => (400, "invalid_query_string"),
        Reason::SameIdentity | Reason::LastLoginMethod => (400, "invalid_body"),
        Reason::NotLoggedIn | Reason::TokenInvalid | Reason::WrongCredentials => {
            (401, "invalid_token")
        }
        Reason::Forbidden | Reason::ScopeMissing | Reason::Blocked => (403, "insufficient_scope"),
        Reason::NotFound(Thing::Route) => (404, "invalid_uri"),
        Reason::NotFound(Thing::Identity | Thing::Instance | Thing::Strategy) => {
            (404, "inexistent_identity")
        }
        Reason::NotFound(_) => (404, "inexistent_user"),
        Reason::MethodNotAllowed => (405, "invalid_uri"),
        Reason::Conflict | Reason::IdentityTaken => (409, "identity_conflict"),
        Reason::TooLarge => (413, "invalid_body"),
        Reason::MediaType => (415, "invalid_body"),
        Reason::Throttled(_) => (429, "too_many_requests"),
        Reason::Busy(_) => (503, "temporarily_unavailable"),
        Reason::Internal => (500, "internal_error"),
        _ => (400, "invalid_body"),
    };
    super::with_retry_after(
        send_json(
            status,
            &json!({
                "statusCode": status,
                "error": super::status_text(status),
                "message": e.message,
                "errorCode": code,
            }),
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
        .ok_or_else(|| Error::token_invalid("Missing authentication"))?;
    authenticate(app, token).await
}

/// The caller's own user with `own_scope`, or any user with the privileged `all_scope`.
fn allow(p: &Principal, id: &str, own_scope: &str, all_scope: &str) -> Result<()> {
    if p.require_privileged_scope(all_scope).is_ok() {
        return Ok(());
    }
    if p.user.id != id {
        return Err(Error::new(
            Reason::ScopeMissing,
            format!("only your own user, unless the token has {all_scope}"),
        ));
    }
    p.require_scope(own_scope)
}

async fn route(app: &App, req: &Req) -> Result<(u16, Value)> {
    let segs = req.rest(2);
    let m = &req.method;
    match segs.as_slice() {
        ["users", id] if m == Method::GET => {
            let p = caller(app, req).await?;
            allow(&p, id, "read:current_user", "read:users")?;
            let pick = Fields::of(req)?;
            let (user, list) = users::with_identities(app, id).await?;
            Ok((200, pick.apply(user_json(&user, &list))))
        }
        ["users", id, "identities"] if m == Method::POST => {
            let p = caller(app, req).await?;
            let b = Body::parse(&req.body)?;
            b.only(&["link_with", "provider", "user_id", "connection_id"])?;
            let by_token = b.has("link_with");
            if by_token && (b.has("provider") || b.has("user_id") || b.has("connection_id")) {
                return Err(Error::bad_request(
                    "link_with cannot be used together with provider, user_id or connection_id",
                ));
            }
            let actor = p.actor(req.address());
            if by_token {
                allow(&p, id, "update:current_user_identities", "update:users")?;
                let token = b.nonempty("link_with")?;
                linking::link_with(app, &actor, id, &token, p.claims.client_id.as_deref()).await?;
            } else {
                p.require_privileged_scope("update:users")?;
                let provider = b.nonempty("provider")?;
                let subject = b.nonempty("user_id")?;
                let connection = b.opt_str("connection_id")?;
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
        _ => Err(Error::not_found(Thing::Route, "no such resource")),
    }
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
            Error::not_found(Thing::Identity, "no such connection for this provider")
        })?,
        None if candidates.len() > 1 => {
            return Err(Error::bad_request(
                "several connections have this provider: connection_id is required",
            ));
        }
        None => candidates
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(Thing::Identity, "no connection has this provider"))?,
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
            let profile = without_nulls(i.profile.clone());
            if n > 0 && profile.as_object().is_some_and(|p| !p.is_empty()) {
                v["profileData"] = profile;
            }
            v
        })
        .collect()
}

/// As Auth0: a field without a value is left out, never sent as `null`.
fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null());
    }
    v
}

/// Auth0's `fields` (comma-separated) and `include_fields` (default true: only those fields;
/// false: all but those) of `GET /users/{id}`.
struct Fields {
    names: Vec<String>,
    include: bool,
}

impl Fields {
    fn of(req: &Req) -> Result<Fields> {
        let include = match req.query("include_fields").map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => {
                return Err(Error::new(
                    Reason::InvalidQuery,
                    "include_fields must be true or false",
                ));
            }
        };
        let names = req
            .query("fields")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Fields { names, include })
    }

    /// Without any field named, everything.
    fn apply(&self, mut v: Value) -> Value {
        if let (false, Value::Object(m)) = (self.names.is_empty(), &mut v) {
            m.retain(|k, _| self.names.contains(k) == self.include);
        }
        v
    }
}

fn user_json(u: &User, list: &[(Identity, Instance)]) -> Value {
    without_nulls(json!({
        "user_id": u.id,
        "username": u.username,
        "name": u.display_name,
        "email": u.email,
        "created_at": rfc3339(u.created_at),
        "updated_at": rfc3339(u.updated_at),
        "blocked": u.is_blocked,
        "identities": identities_json(list),
    }))
}
