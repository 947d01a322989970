//! Login data (a user's identities): the list, unlinking one, and changing a password.

use super::{DefaultReturn, InstanceOut, self_or};
use crate::App;
use crate::api::guard::LoginUser;
use crate::api::io::{Body, Json, NoInput};
use crate::api::route::Cx;
use crate::auth::password::MIN_PASSWORD_LEN;
use crate::core::instances::Instance;
use crate::core::{linking, login, rfc3339, users};
use crate::db::identities::{Identity, State};
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One identity of a user: one way for them to log in.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginDataOut {
    id: String,
    state: State,
    /// When a waiting identity's registration window ends; null otherwise.
    expires: Option<String>,
    strategy_instance: InstanceOut,
    /// The username at the provider, or else the subject.
    description: String,
}

impl LoginDataOut {
    fn of(app: &App, i: &Identity, inst: &Instance) -> LoginDataOut {
        LoginDataOut {
            id: i.id.clone(),
            state: i.state,
            expires: i.expires.map(rfc3339),
            strategy_instance: InstanceOut::of(app, inst),
            description: i
                .profile
                .get("username")
                .and_then(Value::as_str)
                .unwrap_or(&i.subject)
                .to_string(),
        }
    }
}

/// `PUT /login-data/{id}/password` body.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct PasswordBody {
    /// Required of the owner; an admin may leave it out for another user's password.
    old_password: Option<String>,
    #[schemars(length(min = MIN_PASSWORD_LEN))]
    new_password: String,
}

pub(super) async fn list(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: NoInput,
) -> Result<Json<Vec<LoginDataOut>>> {
    let id = self_or(&p, cx.param(0));
    let rows = users::login_data(&cx.app, &p.actor(None), id).await?;
    Ok(Json(
        rows.iter()
            .map(|(i, inst)| LoginDataOut::of(&cx.app, i, inst))
            .collect(),
    ))
}

pub(super) async fn unlink(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: NoInput,
) -> Result<Json<DefaultReturn>> {
    linking::unlink(&cx.app, &p.actor(cx.address()), cx.param(0)).await?;
    Ok(Json(DefaultReturn::of("delete-login-data")))
}

pub(super) async fn change_password(
    cx: Cx,
    LoginUser(p): LoginUser,
    Body(b): Body<PasswordBody>,
) -> Result<Json<DefaultReturn>> {
    login::change_password(
        &cx.app,
        &p.actor(cx.address()),
        cx.param(0),
        b.old_password,
        b.new_password,
    )
    .await?;
    Ok(Json(DefaultReturn::of("change-password")))
}
