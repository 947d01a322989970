//! `POST /auth/api/flow/setup/check` and `/setup`: the one-time setup link that creates the
//! first admin. Creating the admin is state-changing, so it takes the CSRF token as every other
//! such flow call does (the setup page sends it); checking a link changes nothing.

use super::super::io::{Body, Created, Json};
use super::super::route::{Cx, Public};
use super::Csrf;
use crate::api::login_api::UserOut;
use crate::core::bootstrap;
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SetupCheckRequest")]
pub(super) struct CheckBody {
    /// The token of the setup link.
    token: String,
}

/// The setup link is good.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "SetupLinkValid")]
pub(super) struct Valid {
    /// Always true.
    valid: bool,
}

pub(super) async fn check(cx: Cx, _: Public, Body(b): Body<CheckBody>) -> Result<Json<Valid>> {
    bootstrap::check_setup_token(&cx.app, b.token).await?;
    Ok(Json(Valid { valid: true }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "SetupRequest")]
pub(super) struct SetupBody {
    /// The token of the setup link.
    token: String,
    username: String,
    /// Empty or absent: the username.
    display_name: Option<String>,
    password: String,
}

pub(super) async fn setup(cx: Cx, _: Csrf, Body(b): Body<SetupBody>) -> Result<Created<UserOut>> {
    let user = bootstrap::complete_setup(
        &cx.app,
        b.token,
        b.username,
        b.display_name,
        b.password,
        cx.address(),
    )
    .await?;
    // The new admin, as the login API shows a user.
    Ok(Created(UserOut::of(&user)))
}
