//! `GET|POST /auth/oauth/userinfo` (OpenID Connect Core 5.3).

use crate::api::guard::bearer;
use crate::api::io::{Json, NoInput};
use crate::api::route::{Cx, Guard, Input, OpDoc, schema_ref};
use crate::core::oauth;
use crate::core::principal::{self, Principal};
use crate::error::{Error, Result};
use schemars::{JsonSchema, SchemaGenerator};
use serde::Serialize;
use serde_json::json;

/// The access token of a userinfo request, checked as every Bearer token is. A missing token is
/// `invalid_token` in the body too, but its challenge carries no error code (RFC 6750 3.1).
pub struct AccessToken(Principal);

impl Guard for AccessToken {
    async fn check(cx: &Cx) -> Result<Self> {
        let header = bearer(cx.req.header("authorization"));
        let token = match (header, form_token(cx)) {
            (Some(_), Some(_)) => {
                // RFC 6750 2: a client must not use more than one method.
                return Err(Error::bad_request(
                    "the access token is given twice: in the Authorization header and in the form",
                ));
            }
            (Some(t), None) => t.to_string(),
            (None, Some(t)) => t,
            (None, None) => return Err(Error::unauthorized("an access token is required")),
        };
        principal::authenticate(&cx.app, &token)
            .await
            .map(AccessToken)
    }
    fn doc(d: &mut OpDoc) {
        d.security = vec![json!({"bearer": []})];
        d.errors(&[401, 403]);
    }
}

/// The token of a POST sent as the form parameter `access_token` (RFC 6750 2.2), if any.
fn form_token(cx: &Cx) -> Option<String> {
    let form = cx.req.header("content-type").is_some_and(|t| {
        t.trim_start()
            .starts_with("application/x-www-form-urlencoded")
    });
    if cx.req.method != warp::http::Method::POST || !form {
        return None;
    }
    form_urlencoded::parse(&cx.req.body)
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Nothing is read from the request but its token: a body, if any, is left alone.
pub struct Unread;

/// A POST's form body, read by the guard for its `access_token` (RFC 6750 2.2); nothing else
/// in it is read.
pub struct TokenForm;

/// The form body a userinfo POST may carry instead of the Authorization header.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct UserinfoForm {
    /// The access token, when it is not in the Authorization header (never both).
    access_token: Option<String>,
}

impl Input for TokenForm {
    fn parse(_: &Cx) -> Result<Self> {
        Ok(TokenForm)
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.body = Some(json!({
            "required": false,
            "content": {"application/x-www-form-urlencoded": {"schema": schema_ref::<UserinfoForm>(g)}},
        }));
        d.errors(&[400, 413]);
    }
}

impl Input for Unread {
    fn parse(_: &Cx) -> Result<Self> {
        Ok(Unread)
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        NoInput::doc(d, g);
    }
}

/// The claims of the token's user that its scopes allow.
#[derive(Serialize, JsonSchema)]
pub struct UserInfo {
    /// The user's id.
    sub: String,
    /// With `profile`: the display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// With `profile`: the username.
    #[serde(skip_serializing_if = "Option::is_none")]
    preferred_username: Option<String>,
    /// With `profile`: Unix seconds of the last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<i64>,
    /// With `email`, when the user has an address.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// With `email`: always false (keyward does not verify addresses).
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

pub async fn userinfo(_: Cx, AccessToken(p): AccessToken, _: Unread) -> Result<Json<UserInfo>> {
    claims(&p)
}

pub async fn userinfo_post(
    _: Cx,
    AccessToken(p): AccessToken,
    _: TokenForm,
) -> Result<Json<UserInfo>> {
    claims(&p)
}

fn claims(p: &Principal) -> Result<Json<UserInfo>> {
    let (sub, profile) = oauth::userinfo(p)?;
    Ok(Json(UserInfo {
        sub,
        name: profile.name,
        preferred_username: profile.preferred_username,
        updated_at: profile.updated_at,
        email: profile.email,
        email_verified: profile.email_verified,
    }))
}
