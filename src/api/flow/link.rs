//! `POST /auth/api/flow/link`: the signed-in browser's user adds another way to log in.

use super::super::cookies;
use super::super::io::{Body, Json};
use super::super::route::Cx;
use super::{Csrf, Next, SignedIn, given};
use crate::core::Actor;
use crate::core::linking::{self, LinkWith};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowLinkRequest")]
pub(super) struct LinkBody {
    /// The authorization request the page serves, if any.
    flow: Option<String>,
    /// The register token of a login in this browser that found a waiting identity; without
    /// it, `username` and `password` on a userpass instance.
    register_token: Option<String>,
    /// The userpass instance, by id or name; by default the default one.
    instance_id: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub(super) async fn link(
    cx: Cx,
    (_, me): (Csrf, SignedIn),
    Body(b): Body<LinkBody>,
) -> Result<Json<Next>> {
    let with = match given(b.register_token) {
        Some(token) => LinkWith::Token {
            token,
            browser: cookies::browser(&cx.app, &cx.req),
        },
        None => LinkWith::Password {
            instance: b.instance_id,
            username: b
                .username
                .ok_or_else(|| Error::field("username", "must be given"))?
                .trim()
                .to_string(),
            password: b
                .password
                .ok_or_else(|| Error::field("password", "must be given"))?,
        },
    };
    let actor = Actor::user(&me.user, cx.address());
    let redirect = linking::link_from_page(
        &cx.app,
        &actor,
        &me.session.id,
        given(b.flow).as_deref(),
        with,
        &cx.req.origin(None),
    )
    .await?;
    Ok(Json(Next::to(redirect)))
}
