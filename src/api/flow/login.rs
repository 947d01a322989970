//! `POST /auth/api/flow/login` and `/logout`: the browser's password login and its logout.

use super::super::cookies::{self, WithCookies};
use super::super::io::{Body, Json, NoInput};
use super::super::route::Cx;
use super::{Csrf, Next, given};
use crate::core::hosted::{self, PageLogin};
use crate::core::sessions;
use crate::error::Result;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "FlowLoginRequest")]
pub(super) struct LoginBody {
    /// The authorization request the page serves, if any.
    flow: Option<String>,
    /// The userpass instance, by id or name; by default the default one.
    instance_id: Option<String>,
    username: String,
    password: String,
}

pub(super) async fn login(
    cx: Cx,
    _: Csrf,
    Body(b): Body<LoginBody>,
) -> Result<WithCookies<Json<Next>>> {
    // Made now, set only if the login needs it: a register token is bound to this browser.
    let (browser, new_browser) = cookies::browser_or_new(&cx.app, &cx.req);
    let flow = given(b.flow);
    let step = hosted::page_login(
        &cx.app,
        flow.as_deref(),
        b.instance_id.as_deref(),
        b.username.trim(),
        &b.password,
        cx.req.origin(None),
        &browser,
    )
    .await?;
    Ok(match step {
        PageLogin::Entered(e) => WithCookies {
            answer: Json(Next::to(e.redirect)),
            cookies: vec![cookies::session_cookie(&cx.app, &e.cookie, e.max_age)],
        },
        PageLogin::Register { token } => {
            let page = match &flow {
                Some(f) => format!("/auth/flow/register?flow={f}"),
                None => "/auth/flow/register".to_string(),
            };
            WithCookies {
                answer: Json(Next {
                    redirect: format!("{page}#registerToken={token}"),
                    register_token: Some(token),
                }),
                cookies: new_browser.into_iter().collect(),
            }
        }
    })
}

pub(super) async fn logout(cx: Cx, _: Csrf, _: NoInput) -> Result<WithCookies<Json<Next>>> {
    sessions::logout(&cx.app, cookies::session(&cx.req), cx.address()).await?;
    Ok(WithCookies {
        answer: Json(Next::to("/auth/flow/login".into())),
        cookies: vec![cookies::session_cookie(&cx.app, "", 0)],
    })
}
