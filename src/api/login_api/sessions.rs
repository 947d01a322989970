//! Active logins (sessions): the list, ending one, and logging out everywhere.

use super::{DefaultReturn, self_or};
use crate::api::guard::LoginUser;
use crate::api::io::{Json, NoInput};
use crate::api::route::Cx;
use crate::core::{rfc3339, sessions, users};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Serialize;

/// A live session ("active login").
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveLoginOut {
    id: String,
    created_at: String,
    last_used_at: String,
    /// When it ends unless used before: the sooner of its inactivity and absolute expiry.
    expires: String,
    /// The OAuth client it was made for, if any.
    client_id: Option<String>,
    address: Option<String>,
    user_agent: Option<String>,
    /// Whether the calling token belongs to it.
    current: bool,
}

pub(super) async fn list(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: NoInput,
) -> Result<Json<Vec<ActiveLoginOut>>> {
    let id = self_or(&p, cx.param(0));
    let list = sessions::list(&cx.app, &p.actor(None), id).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| ActiveLoginOut {
                current: s.id == p.claims.sid,
                created_at: rfc3339(s.created_at),
                last_used_at: rfc3339(s.last_used_at),
                expires: rfc3339(s.expires.min(s.absolute_expires)),
                id: s.id,
                client_id: s.client_id,
                address: s.address,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

pub(super) async fn end(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: NoInput,
) -> Result<Json<DefaultReturn>> {
    sessions::end(&cx.app, &p.actor(cx.address()), cx.param(0)).await?;
    Ok(Json(DefaultReturn::of("delete-active-login")))
}

pub(super) async fn revoke_tokens(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: NoInput,
) -> Result<Json<DefaultReturn>> {
    let id = self_or(&p, cx.param(0));
    users::revoke_tokens(&cx.app, &p.actor(cx.address()), id).await?;
    Ok(Json(DefaultReturn::of("revoke-tokens")))
}
