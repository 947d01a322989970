//! `POST /auth/oauth/revoke` (RFC 7009).

use super::TokenForm;
use super::{ClientAuth, given};
use crate::api::io::{Form, Json};
use crate::api::route::Cx;
use crate::core::oauth::revoke;
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Serialize;

/// Revocation answers an empty object, whatever the token was.
#[derive(Serialize, JsonSchema)]
pub struct Revoked {}

pub async fn revoke(
    cx: Cx,
    ClientAuth(client): ClientAuth,
    Form(f): Form<TokenForm>,
) -> Result<Json<Revoked>> {
    let token = given(f.token).ok_or_else(|| Error::field("token", "is required"))?;
    revoke::revoke(&cx.app, &client, &token).await?;
    Ok(Json(Revoked {}))
}
