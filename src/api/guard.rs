//! Who may call an operation: the guards a handler takes (see `api::route::Guard`). Each one
//! authenticates the request once, before the handler runs, and describes itself in the
//! OpenAPI document (its security scheme and the errors it may answer).

use super::route::{Cx, Guard, OpDoc};
use crate::core::principal::{self, Principal};
use crate::error::{Error, Reason, Result};
use serde_json::json;

/// The token of an `Authorization: Bearer` header value, if there is one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

async fn authenticate(cx: &Cx) -> Result<Principal> {
    let token = bearer(cx.req.header("authorization"))
        .ok_or_else(|| Error::unauthorized("not logged in: send Authorization: Bearer <token>"))?;
    principal::authenticate(&cx.app, token).await
}

fn bearer_doc(d: &mut OpDoc) {
    d.security = vec![json!({"bearer": []})];
    d.errors(&[401, 403]);
}

/// Both guards, `A` checked first. The operation needs what both need (their security
/// requirements joined) and may answer the errors of either.
impl<A: Guard, B: Guard> Guard for (A, B) {
    async fn check(cx: &Cx) -> Result<Self> {
        let a = A::check(cx).await?;
        Ok((a, B::check(cx).await?))
    }
    fn doc(d: &mut OpDoc) {
        A::doc(d);
        let first = std::mem::take(&mut d.security);
        B::doc(d);
        let second = std::mem::take(&mut d.security);
        d.security = match (first.is_empty(), second.is_empty()) {
            (true, _) => second,
            (_, true) => first,
            // Each way of meeting A together with each way of meeting B.
            _ => first
                .iter()
                .flat_map(|a| {
                    second.iter().map(move |b| {
                        let mut both = a.as_object().cloned().unwrap_or_default();
                        both.extend(b.as_object().cloned().unwrap_or_default());
                        serde_json::Value::Object(both)
                    })
                })
                .collect(),
        };
    }
}

/// Any live access token keyward issued; the operation decides on scopes and ownership (the
/// identities and passwordless APIs, whose rules depend on whose user is named).
pub struct Bearer(pub Principal);

impl Guard for Bearer {
    async fn check(cx: &Cx) -> Result<Self> {
        authenticate(cx).await.map(Bearer)
    }
    fn doc(d: &mut OpDoc) {
        bearer_doc(d);
    }
}

/// A logged-in user: an access token with the `login` scope (the login API for oneself).
pub struct LoginUser(pub Principal);

impl Guard for LoginUser {
    async fn check(cx: &Cx) -> Result<Self> {
        let p = authenticate(cx).await?;
        if !p.claims.has_scope("login") {
            return Err(Error::new(
                Reason::ScopeMissing,
                "the token lacks the scope login",
            ));
        }
        Ok(LoginUser(p))
    }
    fn doc(d: &mut OpDoc) {
        bearer_doc(d);
    }
}

/// An admin: a `login` token of a user whose `isAdmin` is true.
pub struct Admin(pub Principal);

impl Guard for Admin {
    async fn check(cx: &Cx) -> Result<Self> {
        let LoginUser(p) = LoginUser::check(cx).await?;
        if !p.user.is_admin {
            return Err(Error::forbidden("only admins may do this"));
        }
        Ok(Admin(p))
    }
    fn doc(d: &mut OpDoc) {
        bearer_doc(d);
    }
}
