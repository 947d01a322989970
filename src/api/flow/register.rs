//! `POST /auth/api/flow/register`: a new account, and the browser logged in to it.

use super::super::cookies::{self, WithCookies};
use super::super::io::{Body, Json};
use super::super::route::Cx;
use super::{Csrf, Next, given};
use crate::core::registration::{self, Registration};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowRegisterRequest")]
pub(super) struct RegisterBody {
    /// The authorization request the page serves, if any.
    flow: Option<String>,
    /// The register token of a login in this browser that found a waiting identity; without
    /// it, `password` makes a new password login.
    register_token: Option<String>,
    /// The userpass instance of the new password login, by id or name; by default the default
    /// one.
    instance_id: Option<String>,
    username: String,
    /// The new password login's password (without `registerToken`).
    password: Option<String>,
    /// Empty or absent: the username.
    display_name: Option<String>,
    email: Option<String>,
}

/// The new account as a register form gives it: the display name defaults to the username,
/// an empty email is none.
pub(super) fn profile(
    username: &str,
    display_name: Option<String>,
    email: Option<String>,
) -> Registration {
    let username = username.trim().to_string();
    let display_name = display_name
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| username.clone());
    Registration {
        username,
        display_name,
        email: email.filter(|e| !e.trim().is_empty()),
    }
}

pub(super) async fn register(
    cx: Cx,
    _: Csrf,
    Body(b): Body<RegisterBody>,
) -> Result<WithCookies<Json<Next>>> {
    let r = profile(&b.username, b.display_name, b.email);
    let flow = given(b.flow);
    let entered = match given(b.register_token) {
        Some(token) => {
            let browser = cookies::browser(&cx.app, &cx.req);
            registration::register_from_page(
                &cx.app,
                flow.as_deref(),
                &token,
                browser.as_deref(),
                r,
                cx.address(),
            )
            .await?
        }
        None => {
            let password = b
                .password
                .ok_or_else(|| Error::field("password", "must be given"))?;
            registration::register_with_password(
                &cx.app,
                flow.as_deref(),
                b.instance_id.as_deref(),
                &password,
                r,
                cx.req.origin(None),
            )
            .await?
        }
    };
    Ok(WithCookies {
        answer: Json(Next::to(entered.redirect)),
        cookies: vec![cookies::session_cookie(
            &cx.app,
            &entered.cookie,
            entered.max_age,
        )],
    })
}
