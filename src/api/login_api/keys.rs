//! Signing keys (admins only): the list and rotation.

use crate::api::guard::Admin;
use crate::api::io::{Body, Created, Json, NoInput};
use crate::api::route::Cx;
use crate::config::KeyAlg;
use crate::core::{keys, rfc3339};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A signing key (its public half only).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyOut {
    kid: String,
    /// `ES256`, `EdDSA` or `RS256`.
    alg: String,
    created_at: String,
    /// When a newer key took over; null for the key that signs.
    retired_at: Option<String>,
    /// Whether new tokens are signed with it.
    signing: bool,
    /// Whether it is still in the JWKS (the signing key, and a retired one until every token
    /// it signed has expired).
    published: bool,
}

impl SigningKeyOut {
    pub fn of(k: &keys::KeyView) -> SigningKeyOut {
        SigningKeyOut {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            created_at: rfc3339(k.created_at),
            retired_at: k.retired_at.map(rfc3339),
            signing: k.signing,
            published: k.published,
        }
    }
}

/// `POST /signing-key` body.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct RotateBody {
    /// `ES256`, `EdDSA` or `RS256`; default: the algorithm of the key that signs now.
    alg: Option<String>,
}

pub(super) async fn list(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<Vec<SigningKeyOut>>> {
    let ks = keys::list(&cx.app, &p.actor(None)).await?;
    Ok(Json(ks.iter().map(SigningKeyOut::of).collect()))
}

pub(super) async fn rotate(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<RotateBody>,
) -> Result<Created<SigningKeyOut>> {
    let alg = match b.alg {
        None => None,
        Some(a) => Some(
            KeyAlg::parse(&a)
                .ok_or_else(|| Error::field("alg", "must be ES256, EdDSA or RS256"))?,
        ),
    };
    let k = keys::rotate(&cx.app, &p.actor(cx.address()), alg).await?;
    Ok(Created(SigningKeyOut::of(&k)))
}
