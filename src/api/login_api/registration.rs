//! New password identities, and registering or linking an identity that waits for it: the
//! register token a login or `userpass/register` answered names the identity.

use super::{DefaultReturn, UserOut, nonempty};
use crate::api::flow::DataSuggestion;
use crate::api::guard::{Admin, LoginUser};
use crate::api::io::{Body, Created, Json};
use crate::api::route::{Cx, Public};
use crate::auth::password::MIN_PASSWORD_LEN;
use crate::core::users::{MAX_DISPLAY_NAME_LEN, MAX_USERNAME_LEN};
use crate::core::{linking, registration};
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST /strategy-instance/{id}/userpass/register` body.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct UserpassRegisterBody {
    /// Letters, digits and `. _ - @`.
    #[schemars(length(min = 1, max = MAX_USERNAME_LEN))]
    username: String,
    #[schemars(length(min = MIN_PASSWORD_LEN))]
    password: String,
}

/// A register token: it names an identity waiting for registration.
#[derive(Serialize, JsonSchema)]
pub struct RegisterTokenOut {
    register_token: String,
}

/// A body with a register token only.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct RegisterTokenBody {
    #[schemars(length(min = 1))]
    register_token: String,
}

/// `POST /registration/self-register` body.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct SelfRegisterBody {
    #[serde(rename = "register_token")]
    #[schemars(length(min = 1))]
    register_token: String,
    /// Letters, digits and `. _ - @`.
    #[schemars(length(min = 1, max = MAX_USERNAME_LEN))]
    username: String,
    #[schemars(length(min = 1, max = MAX_DISPLAY_NAME_LEN))]
    display_name: String,
    /// An empty string counts as none.
    #[schemars(length(max = 254))]
    email: Option<String>,
}

/// `POST /registration/admin-link` body.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct AdminLinkBody {
    #[serde(rename = "register_token")]
    #[schemars(length(min = 1))]
    register_token: String,
    /// The user who gets the identity.
    #[schemars(length(min = 1))]
    user_id_to_link: String,
}

pub(super) async fn userpass_register(
    cx: Cx,
    _: Public,
    Body(b): Body<UserpassRegisterBody>,
) -> Result<Created<RegisterTokenOut>> {
    let origin = cx.req.origin(None);
    let (register_token, _) = crate::core::pending::userpass_register(
        &cx.app,
        cx.param(0),
        b.username.trim(),
        &b.password,
        &origin,
    )
    .await?;
    Ok(Created(RegisterTokenOut { register_token }))
}

pub(super) async fn data_suggestion(
    cx: Cx,
    _: Public,
    Body(b): Body<RegisterTokenBody>,
) -> Result<Json<DataSuggestion>> {
    let token = nonempty("register_token", b.register_token)?;
    let s = crate::core::pending::data_suggestion(&cx.app, &token).await?;
    Ok(Json(DataSuggestion::from(s)))
}

pub(super) async fn self_register(
    cx: Cx,
    _: Public,
    Body(b): Body<SelfRegisterBody>,
) -> Result<Created<UserOut>> {
    let token = nonempty("register_token", b.register_token)?;
    let r = registration::Registration {
        username: b.username.trim().to_string(),
        display_name: b.display_name,
        email: b.email.filter(|e| !e.is_empty()),
    };
    let (user, _) = registration::self_register(&cx.app, &token, r, cx.address()).await?;
    Ok(Created(UserOut::of(&user)))
}

pub(super) async fn self_link(
    cx: Cx,
    LoginUser(p): LoginUser,
    Body(b): Body<RegisterTokenBody>,
) -> Result<Json<DefaultReturn>> {
    let token = nonempty("register_token", b.register_token)?;
    linking::link(
        &cx.app,
        &p.actor(cx.address()),
        &token,
        &p.user.id,
        "self-link",
    )
    .await?;
    Ok(Json(DefaultReturn::of("self-link")))
}

pub(super) async fn admin_link(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<AdminLinkBody>,
) -> Result<Json<DefaultReturn>> {
    let token = nonempty("register_token", b.register_token)?;
    let user = nonempty("userIdToLink", b.user_id_to_link)?;
    linking::link(&cx.app, &p.actor(cx.address()), &token, &user, "admin-link").await?;
    Ok(Json(DefaultReturn::of("admin-link")))
}
