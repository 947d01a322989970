//! `GET|POST /auth/oauth/userinfo` (OpenID Connect Core 5.3).

use crate::api::guard::bearer;
use crate::api::io::{Json, NoInput};
use crate::api::route::{Cx, Guard, Input, OpDoc};
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
        let token = bearer(cx.req.header("authorization"))
            .ok_or_else(|| Error::unauthorized("an access token is required"))?;
        principal::authenticate(&cx.app, token)
            .await
            .map(AccessToken)
    }
    fn doc(d: &mut OpDoc) {
        d.security = vec![json!({"bearer": []})];
        d.errors(&[401, 403]);
    }
}

/// Nothing is read from the request but its token: a body, if any, is left alone.
pub struct Unread;

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
    let (sub, profile) = oauth::userinfo(&p)?;
    Ok(Json(UserInfo {
        sub,
        name: profile.name,
        preferred_username: profile.preferred_username,
        updated_at: profile.updated_at,
        email: profile.email,
        email_verified: profile.email_verified,
    }))
}
