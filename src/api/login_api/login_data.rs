//! Login data (a user's identities): the list, unlinking one, and changing a password.

use super::{DefaultReturn, InstanceOut, self_or};
use crate::App;
use crate::api::guard::LoginUser;
use crate::api::io::{Body, Json, NoInput};
use crate::api::route::Cx;
use crate::auth::password::MIN_PASSWORD_LEN;
use crate::core::instances::Instance;
use crate::core::passkeys::{self, PasskeyInfo};
use crate::core::{linking, login, rfc3339, users};
use crate::db::identities::{Identity, State};
use crate::error::{Error, Result, Thing};
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
    /// The username at the provider, or else the subject; a passkey's name.
    description: String,
    /// Who the identity is at its provider: a password login's username, an upstream account's
    /// id, a passkey's credential id.
    subject: String,
    /// Only on a passkey's login data.
    #[serde(skip_serializing_if = "Option::is_none")]
    passkey: Option<PasskeyOut>,
}

/// What the login data of a passkey says about it.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyOut {
    name: String,
    created_at: String,
    /// Null until its first login.
    last_used_at: Option<String>,
}

/// `PUT /login-data/{id}/name` body.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct NameBody {
    /// 1 to 64 characters, no control characters.
    #[schemars(length(min = 1, max = 64))]
    name: String,
}

impl LoginDataOut {
    fn of(app: &App, i: &Identity, inst: &Instance, passkey: Option<&PasskeyInfo>) -> LoginDataOut {
        if let Some(p) = passkey {
            return LoginDataOut {
                id: i.id.clone(),
                state: i.state,
                expires: i.expires.map(rfc3339),
                strategy_instance: InstanceOut::of(app, inst),
                description: p.name.clone(),
                subject: i.subject.clone(),
                passkey: Some(PasskeyOut {
                    name: p.name.clone(),
                    created_at: rfc3339(p.created_at),
                    last_used_at: p.last_used_at.map(rfc3339),
                }),
            };
        }
        LoginDataOut {
            passkey: None,
            id: i.id.clone(),
            state: i.state,
            expires: i.expires.map(rfc3339),
            strategy_instance: InstanceOut::of(app, inst),
            subject: i.subject.clone(),
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
    let keys = passkeys::of_user(&cx.app, id).await?;
    Ok(Json(
        rows.iter()
            .map(|(i, inst)| {
                let key = keys.iter().find(|k| k.id == i.id);
                LoginDataOut::of(&cx.app, i, inst, key)
            })
            .collect(),
    ))
}

/// Renames a passkey's login data (its owner or an admin) and answers it.
pub(super) async fn rename(
    cx: Cx,
    LoginUser(p): LoginUser,
    Body(b): Body<NameBody>,
) -> Result<Json<LoginDataOut>> {
    let id = cx.param(0);
    let owner = passkeys::rename_identity(&cx.app, &p.actor(cx.address()), id, &b.name).await?;
    let rows = users::with_identities(&cx.app, &owner).await?.1;
    let keys = passkeys::of_user(&cx.app, &owner).await?;
    rows.iter()
        .find(|(i, _)| i.id == id)
        .map(|(i, inst)| {
            Json(LoginDataOut::of(
                &cx.app,
                i,
                inst,
                keys.iter().find(|k| k.id == id),
            ))
        })
        .ok_or_else(|| Error::not_found(Thing::Passkey, "passkey not found"))
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
