//! The v2 passkey operations: start and finish a registration (with a link code and no login,
//! or as the user or an admin), list (`GET` and `_search`) and remove.

use super::{Details, DetailsOut, Empty, MaybeCaller, SelfOrAdmin, authenticate, may_act_on};
use crate::api::io::{Body, Json, NoInput};
use crate::api::route::Cx;
use crate::core::passkeys::{self, Attachment, Authority};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A code from a link or from `registration_link`.
#[derive(Deserialize, JsonSchema)]
pub(super) struct CodeIn {
    /// The code's id (`codeID` of the link).
    id: String,
    /// The code itself (`code` of the link).
    code: String,
}

/// The kind of authenticator to ask for: Zitadel's enum, by name or (as protojson reads an
/// enum) by number.
#[derive(Default)]
pub(super) enum Authenticator {
    /// Any: this device or a security key or phone.
    #[default]
    Unspecified,
    /// This device (Touch ID, Windows Hello, …).
    Platform,
    /// A security key or another device.
    CrossPlatform,
}

const AUTHENTICATORS: [&str; 3] = [
    "PASSKEY_AUTHENTICATOR_UNSPECIFIED",
    "PASSKEY_AUTHENTICATOR_PLATFORM",
    "PASSKEY_AUTHENTICATOR_CROSS_PLATFORM",
];

impl Authenticator {
    fn of(n: usize) -> Option<Authenticator> {
        [
            Authenticator::Unspecified,
            Authenticator::Platform,
            Authenticator::CrossPlatform,
        ]
        .into_iter()
        .nth(n)
    }
}

impl<'de> Deserialize<'de> for Authenticator {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Authenticator;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("one of PASSKEY_AUTHENTICATOR_UNSPECIFIED, PASSKEY_AUTHENTICATOR_PLATFORM, PASSKEY_AUTHENTICATOR_CROSS_PLATFORM, or 0, 1, 2")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                v: &str,
            ) -> std::result::Result<Self::Value, E> {
                AUTHENTICATORS
                    .iter()
                    .position(|a| *a == v)
                    .and_then(Authenticator::of)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .ok()
                    .and_then(Authenticator::of)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                usize::try_from(v)
                    .ok()
                    .and_then(Authenticator::of)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Authenticator {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PasskeyAuthenticator".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The kind of authenticator to ask for: any (`PASSKEY_AUTHENTICATOR_UNSPECIFIED`, 0), this device (`PASSKEY_AUTHENTICATOR_PLATFORM`, 1: Touch ID, Windows Hello, …) or a security key or another device (`PASSKEY_AUTHENTICATOR_CROSS_PLATFORM`, 2). By name or, as Zitadel's gateway reads an enum, by number.",
            "oneOf": [
                {"type": "string", "enum": AUTHENTICATORS},
                {"type": "integer", "enum": [0, 1, 2]}
            ]
        })
    }
}

/// Unknown fields are ignored, as Zitadel's gateway does (a generated client sends the
/// path's `userId` too).
#[derive(Deserialize, JsonSchema)]
pub(super) struct StartBody {
    /// A link code: no login needed then.
    code: Option<CodeIn>,
    authenticator: Option<Authenticator>,
    /// The relying-party id; if given, it must be keyward's (the host of its public URL).
    domain: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartOut {
    details: Details,
    /// Names the ceremony: finish it at `POST /v2/users/{userId}/passkeys/{passkeyId}`; the
    /// passkey keeps this id.
    passkey_id: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.create`, binary fields base64url.
    public_key_credential_creation_options: Value,
}

/// The relying-party id: the host of the public URL, when it is a name (with an IP address,
/// passkeys are off and the core says so).
fn rp_id(public_url: &str) -> Option<String> {
    match url::Url::parse(public_url).ok()?.host()? {
        url::Host::Domain(d) => Some(d.to_string()),
        _ => None,
    }
}

pub(super) async fn start(
    cx: Cx,
    _: MaybeCaller,
    Body(b): Body<StartBody>,
) -> Result<Json<StartOut>> {
    let user_id = cx.param(0);
    if let (Some(domain), Some(rp)) = (&b.domain, rp_id(&cx.app.public_url))
        && !domain.eq_ignore_ascii_case(&rp)
    {
        return Err(Error::field(
            "domain",
            format!("must be this server's relying-party id, {rp}"),
        ));
    }
    let attachment = match b.authenticator.unwrap_or_default() {
        Authenticator::Unspecified => Attachment::Unspecified,
        Authenticator::Platform => Attachment::Platform,
        Authenticator::CrossPlatform => Attachment::CrossPlatform,
    };
    let started = match &b.code {
        Some(c) => {
            let by = Authority::Code {
                code_id: &c.id,
                code: &c.code,
            };
            passkeys::start_registration(&cx.app, user_id, by, attachment).await?
        }
        None => {
            let p = authenticate(&cx).await?;
            may_act_on(&p, user_id)?;
            let actor = p.actor(cx.address());
            passkeys::start_registration(&cx.app, user_id, Authority::Caller(&actor), attachment)
                .await?
        }
    };
    Ok(Json(StartOut {
        details: started.details.into(),
        passkey_id: started.passkey_id,
        public_key_credential_creation_options: started.options,
    }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct FinishBody {
    /// The JSON of the browser's `PublicKeyCredential` (binary fields base64url).
    public_key_credential: Map<String, Value>,
    /// What the user calls this passkey, e.g. "iPhone".
    #[schemars(length(min = 1, max = 64))]
    passkey_name: String,
}

pub(super) async fn finish(
    cx: Cx,
    _: MaybeCaller,
    Body(b): Body<FinishBody>,
) -> Result<Json<DetailsOut>> {
    // The request's login, if it has one that may act for the user; the core needs it only for
    // a ceremony started without a code, and decides.
    let caller = async {
        let p = authenticate(&cx).await?;
        may_act_on(&p, cx.param(0))?;
        Ok(p.actor(cx.address()))
    }
    .await;
    let details = passkeys::finish_registration(
        &cx.app,
        cx.param(0),
        cx.param(1),
        Value::Object(b.public_key_credential),
        &b.passkey_name,
        caller,
        cx.address(),
    )
    .await?;
    Ok(Json(DetailsOut {
        details: details.into(),
    }))
}

#[derive(Serialize, JsonSchema)]
pub(super) struct PasskeyOut {
    /// The passkey's id (also its identity id in the login API and the identities API).
    id: String,
    /// Always `AUTH_FACTOR_STATE_READY`: only completed registrations are passkeys.
    state: &'static str,
    name: String,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct ListOut {
    details: Details,
    result: Vec<PasskeyOut>,
}

async fn list_of(cx: &Cx, p: &crate::core::principal::Principal) -> Result<Json<ListOut>> {
    let actor = p.actor(cx.address());
    let (list, details) = passkeys::list(&cx.app, &actor, cx.param(0)).await?;
    Ok(Json(ListOut {
        details: details.into(),
        result: list
            .into_iter()
            .map(|k| PasskeyOut {
                id: k.id,
                state: "AUTH_FACTOR_STATE_READY",
                name: k.name,
            })
            .collect(),
    }))
}

pub(super) async fn list(cx: Cx, SelfOrAdmin(p): SelfOrAdmin, _: NoInput) -> Result<Json<ListOut>> {
    list_of(&cx, &p).await
}

pub(super) async fn search(
    cx: Cx,
    SelfOrAdmin(p): SelfOrAdmin,
    _: Body<Empty>,
) -> Result<Json<ListOut>> {
    list_of(&cx, &p).await
}

pub(super) async fn remove(
    cx: Cx,
    SelfOrAdmin(p): SelfOrAdmin,
    _: NoInput,
) -> Result<Json<DetailsOut>> {
    let actor = p.actor(cx.address());
    let details = passkeys::remove(&cx.app, &actor, cx.param(0), cx.param(1)).await?;
    Ok(Json(DetailsOut {
        details: details.into(),
    }))
}
