//! `POST /auth/oauth/revoke` (RFC 7009).

use super::{ClientAuth, given};
use crate::api::io::{Form, Json};
use crate::api::route::Cx;
use crate::core::oauth::revoke;
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A revocation request (`application/x-www-form-urlencoded`).
#[derive(Deserialize, JsonSchema)]
pub struct RevokeRequest {
    /// A refresh token or an access token of the client.
    #[schemars(required)]
    token: Option<String>,
    /// Ignored: keyward tells the kinds apart itself.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    /// Client authentication in the form (client_secret_post), or a public client's id.
    #[allow(dead_code)]
    client_id: Option<String>,
    #[allow(dead_code)]
    client_secret: Option<String>,
}

/// Revocation answers an empty object, whatever the token was.
#[derive(Serialize, JsonSchema)]
pub struct Revoked {}

pub async fn revoke(
    cx: Cx,
    ClientAuth(client): ClientAuth,
    Form(f): Form<RevokeRequest>,
) -> Result<Json<Revoked>> {
    let token = given(f.token).ok_or_else(|| Error::field("token", "is required"))?;
    revoke::revoke(&cx.app, &client, &token).await?;
    Ok(Json(Revoked {}))
}
