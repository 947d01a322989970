//! `POST /auth/api/flow/passkey/login/start` and `/finish`: the hosted login page's passkey
//! login, username-first or usernameless. It ends like the password login: the session cookie,
//! and the application's code or the account page.
//!
//! `POST /auth/api/flow/passkey/signup/start` and `/finish`: the hosted register page's
//! sign-up with a passkey instead of a password, bound to the browser that began it. It ends
//! like the password sign-up.

use super::super::cookies::{self, WithCookies};
use super::super::io::{Body, Json};
use super::super::route::Cx;
use super::{Csrf, Next, given};
use crate::core::{hosted, oauth, passkeys, registration};
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowPasskeyStartRequest")]
pub(super) struct StartBody {
    /// The authorization request the page serves, if any (checked here, so that a page with
    /// an expired one learns it before the user touches the authenticator).
    flow: Option<String>,
    /// Username-first: that user's passkeys are offered. Without it (or for a username
    /// without passkeys) the challenge is for a discoverable credential.
    username: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "FlowPasskeyStart")]
pub(super) struct Started {
    ceremony_id: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.get`, binary fields base64url.
    options: Value,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowPasskeyFinishRequest")]
pub(super) struct FinishBody {
    flow: Option<String>,
    ceremony_id: String,
    /// The JSON of the browser's `PublicKeyCredential` (binary fields base64url).
    credential: Value,
}

pub(super) async fn start(cx: Cx, _: Csrf, Body(b): Body<StartBody>) -> Result<Json<Started>> {
    oauth::open_flow(&cx.app, given(b.flow).as_deref())?;
    let s = passkeys::start_login(&cx.app, b.username.as_deref(), cx.address().as_deref()).await?;
    Ok(Json(Started {
        ceremony_id: s.ceremony_id,
        options: s.options,
    }))
}

pub(super) async fn finish(
    cx: Cx,
    _: Csrf,
    Body(b): Body<FinishBody>,
) -> Result<WithCookies<Json<Next>>> {
    let flow = given(b.flow);
    let e = hosted::page_passkey_login(
        &cx.app,
        flow.as_deref(),
        &b.ceremony_id,
        b.credential,
        cx.req.origin(None),
    )
    .await?;
    Ok(WithCookies {
        answer: Json(Next::to(e.redirect)),
        cookies: vec![cookies::session_cookie(&cx.app, &e.cookie, e.max_age)],
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowPasskeySignupStartRequest")]
pub(super) struct SignupStartBody {
    /// The authorization request the page serves, if any.
    flow: Option<String>,
    username: String,
    /// Empty or absent: the username.
    display_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowPasskeySignupFinishRequest")]
pub(super) struct SignupFinishBody {
    flow: Option<String>,
    ceremony_id: String,
    /// The JSON of the browser's `PublicKeyCredential` from `navigator.credentials.create`
    /// (binary fields base64url).
    credential: Value,
    /// The new passkey's name (1 to 64 characters); by default "Passkey".
    passkey_name: Option<String>,
}

pub(super) async fn signup_start(
    cx: Cx,
    _: Csrf,
    Body(b): Body<SignupStartBody>,
) -> Result<WithCookies<Json<Started>>> {
    // The ceremony is bound to this browser: it gets its binding cookie now if it has none.
    let (browser, new_browser) = cookies::browser_or_new(&cx.app, &cx.req);
    let r = super::register::profile(&b.username, b.display_name, b.email);
    let flow = given(b.flow);
    let s = registration::start_passkey_signup(
        &cx.app,
        flow.as_deref(),
        r,
        &browser,
        &cx.req.origin(None),
    )
    .await?;
    Ok(WithCookies {
        answer: Json(Started {
            ceremony_id: s.ceremony_id,
            options: s.options,
        }),
        cookies: new_browser.into_iter().collect(),
    })
}

pub(super) async fn signup_finish(
    cx: Cx,
    _: Csrf,
    Body(b): Body<SignupFinishBody>,
) -> Result<WithCookies<Json<Next>>> {
    let flow = given(b.flow);
    let browser = cookies::browser(&cx.app, &cx.req);
    let name = given(b.passkey_name).unwrap_or_else(|| "Passkey".into());
    let e = registration::register_with_passkey(
        &cx.app,
        flow.as_deref(),
        &b.ceremony_id,
        b.credential,
        &name,
        browser.as_deref(),
        cx.req.origin(None),
    )
    .await?;
    Ok(WithCookies {
        answer: Json(Next::to(e.redirect)),
        cookies: vec![cookies::session_cookie(&cx.app, &e.cookie, e.max_age)],
    })
}
