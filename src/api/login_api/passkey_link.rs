//! `POST /user/{id}/passkey-link`: a one-time link that adds a passkey to the user's account,
//! shown with its QR code (the account page and the admin console) or mailed to the user.

use super::self_or;
use crate::api::guard::LoginUser;
use crate::api::io::{Body, Created};
use crate::api::qr;
use crate::api::route::Cx;
use crate::core::{passkey_mail, passkeys, rfc3339};
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct PasskeyLinkBody {
    /// Mail the link to the user's e-mail address instead of answering it.
    #[serde(default)]
    send: bool,
}

/// A passkey link: shown (with its QR code) or mailed.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyLinkOut {
    /// Whether the link went out by mail (then it is not shown here).
    sent: bool,
    /// The link: open it on the device that should hold the passkey.
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    /// How long the link works, as the passwordless API writes durations (`"3600s"`).
    expiration: String,
    /// The link as a QR code: an SVG document.
    #[serde(skip_serializing_if = "Option::is_none")]
    qr_code: Option<String>,
}

pub(super) async fn create(
    cx: Cx,
    LoginUser(p): LoginUser,
    Body(b): Body<PasskeyLinkBody>,
) -> Result<Created<PasskeyLinkOut>> {
    let id = self_or(&p, cx.param(0)).to_string();
    let actor = p.actor(cx.address());
    let expiration = format!("{}s", cx.app.settings.passkey_link_ttl);
    if b.send {
        passkey_mail::send_link(&cx.app, &actor, &id, None).await?;
        return Ok(Created(PasskeyLinkOut {
            sent: true,
            link: None,
            code_id: None,
            expires_at: None,
            expiration,
            qr_code: None,
        }));
    }
    let link = passkeys::make_link(&cx.app, &actor, &id, None).await?;
    Ok(Created(PasskeyLinkOut {
        sent: false,
        qr_code: Some(qr::svg(&link.url)?),
        expires_at: Some(rfc3339(link.expires_at)),
        expiration,
        code_id: Some(link.code_id),
        link: Some(link.url),
    }))
}
