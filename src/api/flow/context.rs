//! `GET /auth/api/flow/context`: what a hosted page shows.

use super::super::cookies;
use super::super::io::{Json, Query};
use super::super::route::{Cx, Public};
use crate::auth::password::MIN_PASSWORD_LEN;
use crate::core::hosted;
use crate::error::Result;
use crate::strategies::Kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[schemars(rename = "FlowContextQuery")]
pub(super) struct ContextQuery {
    /// The authorization request the page serves, as the authorization endpoint sealed it.
    flow: Option<String>,
}

/// What a hosted page shows.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "FlowContext")]
pub(super) struct Context {
    /// The application asking, inside an authorization request.
    client: Option<ClientOut>,
    /// The strategy instances a person can log in with.
    instances: Vec<InstanceOut>,
    /// Who is logged in in this browser.
    user: Option<UserOut>,
    /// The fewest characters a new password may have.
    password_min_length: usize,
    /// Whether keyward can send mail (`--smtp-url`): pages offer to mail a link only then.
    mail: bool,
    /// Whether passkeys are on (the public URL's host is a name, not an IP address): pages
    /// offer passkeys only then.
    passkeys: bool,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "FlowClient")]
struct ClientOut {
    id: String,
    name: String,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "FlowInstance")]
struct InstanceOut {
    id: String,
    name: Option<String>,
    /// The strategy type.
    #[serde(rename = "type")]
    kind: Kind,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "FlowUser")]
struct UserOut {
    username: String,
    display_name: String,
}

pub(super) async fn context(
    cx: Cx,
    _: Public,
    Query(q): Query<ContextQuery>,
) -> Result<Json<Context>> {
    let c = hosted::page_context(&cx.app, q.flow.as_deref(), cookies::session(&cx.req)).await?;
    Ok(Json(Context {
        client: c.client.map(|c| ClientOut {
            id: c.id,
            name: c.name,
        }),
        instances: c
            .instances
            .into_iter()
            .map(|i| InstanceOut {
                id: i.id,
                name: i.name,
                kind: i.kind,
            })
            .collect(),
        user: c.user.map(|u| UserOut {
            username: u.username,
            display_name: u.display_name,
        }),
        password_min_length: MIN_PASSWORD_LEN,
        mail: cx.app.mailer.is_some(),
        passkeys: cx.app.webauthn.is_some(),
    }))
}
