//! Passkey registration links: v1 `_link` / `_send_link` (oneself, or any user as an admin)
//! and v2 `registration_link`. A link carries a one-time code (`core::passkeys::make_link`);
//! the passkey page it opens registers a passkey with that code and no login.

use super::{Details, DetailsOut, Empty, SelfOrAdmin};
use crate::api::guard::{Admin, LoginUser};
use crate::api::io::{Body, Json};
use crate::api::route::Cx;
use crate::core::{Actor, passkey_mail, passkeys};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `POST .../passwordless/_link`: the link and how long it lasts.
#[derive(Serialize, JsonSchema)]
pub(super) struct LinkOut {
    details: Details,
    /// `{publicUrl}/auth/flow/passkey?userID=&orgID=&codeID=&code=`
    link: String,
    /// How long the link is valid from now, as a protobuf duration: `"3600s"`.
    expiration: String,
}

async fn link_for(cx: &Cx, actor: &Actor, user_id: &str) -> Result<Json<LinkOut>> {
    let link = passkeys::make_link(&cx.app, actor, user_id, None).await?;
    Ok(Json(LinkOut {
        details: link.details.into(),
        link: link.url,
        expiration: format!("{}s", link.ttl_secs),
    }))
}

pub(super) async fn my_link(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: Body<Empty>,
) -> Result<Json<LinkOut>> {
    let actor = p.actor(cx.address());
    link_for(&cx, &actor, &p.user.id).await
}

pub(super) async fn user_link(cx: Cx, Admin(p): Admin, _: Body<Empty>) -> Result<Json<LinkOut>> {
    let actor = p.actor(cx.address());
    link_for(&cx, &actor, cx.param(0)).await
}

pub(super) async fn my_send_link(
    cx: Cx,
    LoginUser(p): LoginUser,
    _: Body<Empty>,
) -> Result<Json<DetailsOut>> {
    let actor = p.actor(cx.address());
    let details = passkey_mail::send_link(&cx.app, &actor, &p.user.id, None).await?;
    Ok(Json(DetailsOut {
        details: details.into(),
    }))
}

pub(super) async fn user_send_link(
    cx: Cx,
    Admin(p): Admin,
    _: Body<Empty>,
) -> Result<Json<DetailsOut>> {
    let actor = p.actor(cx.address());
    let details = passkey_mail::send_link(&cx.app, &actor, cx.param(0), None).await?;
    Ok(Json(DetailsOut {
        details: details.into(),
    }))
}

/// `POST /v2/users/{userId}/passkeys/registration_link`: exactly one of `returnCode` and
/// `sendLink`. An empty body sends the default link by mail, as Zitadel does when the request
/// names no medium. Unknown fields (a generated client's `userId`) are ignored.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RegistrationLinkBody {
    /// Answer the code instead of sending it: `{}`.
    return_code: Option<Empty>,
    /// Mail the link to the user's e-mail address.
    send_link: Option<SendLink>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct SendLink {
    /// The link to mail, a Go template as in Zitadel: `{{.UserID}}`, `{{.OrgID}}`,
    /// `{{.CodeID}}` and `{{.Code}}` are filled in (no other action is allowed), and the
    /// result must be an absolute http(s) URL; without it, keyward's passkey page.
    url_template: Option<String>,
}

/// The code of a link, for `POST /v2/users/{userId}/passkeys`.
#[derive(Serialize, JsonSchema)]
pub(super) struct CodeOut {
    id: String,
    code: String,
}

/// `{details}`, and with `returnCode` the code.
#[derive(Serialize, JsonSchema)]
pub(super) struct RegistrationLinkOut {
    details: Details,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<CodeOut>,
}

pub(super) async fn registration_link(
    cx: Cx,
    SelfOrAdmin(p): SelfOrAdmin,
    Body(b): Body<RegistrationLinkBody>,
) -> Result<Json<RegistrationLinkOut>> {
    // Passkeys off is the answer, whatever the body asks for.
    passkeys::require_on(&cx.app)?;
    let actor = p.actor(cx.address());
    let user_id = cx.param(0);
    match (b.return_code, b.send_link) {
        (Some(_), Some(_)) => Err(Error::bad_request(
            "give either returnCode or sendLink, not both",
        )),
        (Some(_), None) => {
            let link = passkeys::make_link(&cx.app, &actor, user_id, None).await?;
            Ok(Json(RegistrationLinkOut {
                details: link.details.into(),
                code: Some(CodeOut {
                    id: link.code_id,
                    code: link.code,
                }),
            }))
        }
        (None, send) => {
            let template = send.and_then(|s| s.url_template);
            let details =
                passkey_mail::send_link(&cx.app, &actor, user_id, template.as_deref()).await?;
            Ok(Json(RegistrationLinkOut {
                details: details.into(),
                code: None,
            }))
        }
    }
}
