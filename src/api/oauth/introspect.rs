//! `POST /auth/oauth/introspect` (RFC 7662).

use super::TokenForm;
use super::{ClientAuth, given};
use crate::api::io::{Form, Json};
use crate::api::route::{Cx, Guard, OpDoc};
use crate::core::clients::Client;
use crate::core::oauth::introspect::{self, Introspection};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Serialize;

/// A client that may introspect: authenticated as `ClientAuth`, and confidential.
pub struct ConfidentialClient(Client);

impl Guard for ConfidentialClient {
    async fn check(cx: &Cx) -> Result<Self> {
        let ClientAuth(client) = ClientAuth::check(cx).await?;
        introspect::may_introspect(&client)?;
        Ok(ConfidentialClient(client))
    }
    fn doc(d: &mut OpDoc) {
        ClientAuth::doc(d);
    }
}

/// What a token is (RFC 7662 2.2). A token the client may not learn about, or that is not
/// currently good, is `{"active": false}` and nothing else.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Answer {
    Access(AccessToken),
    Refresh(RefreshToken),
    Inactive(Inactive),
}

/// A live access token.
#[derive(Serialize, JsonSchema)]
pub struct AccessToken {
    /// true.
    active: bool,
    /// `Bearer`.
    token_type: &'static str,
    scope: String,
    /// The client it was issued to; null for tokens issued to no client.
    client_id: Option<String>,
    username: String,
    sub: String,
    aud: String,
    iss: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    /// The login (session) it belongs to.
    sid: String,
}

/// A live refresh token of the client.
#[derive(Serialize, JsonSchema)]
pub struct RefreshToken {
    /// true.
    active: bool,
    /// `refresh_token`.
    token_type: &'static str,
    scope: String,
    client_id: String,
    username: String,
    sub: String,
    exp: i64,
    sid: String,
}

#[derive(Serialize, JsonSchema)]
pub struct Inactive {
    /// false.
    active: bool,
}

pub async fn introspect(
    cx: Cx,
    ConfidentialClient(client): ConfidentialClient,
    Form(f): Form<TokenForm>,
) -> Result<Json<Answer>> {
    let token = given(f.token).ok_or_else(|| Error::field("token", "is required"))?;
    Ok(Json(
        match introspect::introspect(&cx.app, &client, &token).await? {
            Introspection::Inactive => Answer::Inactive(Inactive { active: false }),
            Introspection::Access(p) => Answer::Access(AccessToken {
                active: true,
                token_type: "Bearer",
                scope: p.claims.scope,
                client_id: p.claims.client_id,
                username: p.user.username,
                sub: p.claims.sub,
                aud: p.claims.aud,
                iss: p.claims.iss,
                exp: p.claims.exp,
                iat: p.claims.iat,
                nbf: p.claims.nbf,
                jti: p.claims.jti,
                sid: p.claims.sid,
            }),
            Introspection::Refresh {
                user,
                client_id,
                scope,
                expires,
                session_id,
            } => Answer::Refresh(RefreshToken {
                active: true,
                token_type: "refresh_token",
                scope,
                client_id,
                username: user.username,
                sub: user.id,
                exp: expires / 1000,
                sid: session_id,
            }),
        },
    ))
}
