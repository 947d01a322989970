//! What an OAuth client or resource server reads first: the OpenID Connect discovery document
//! and the JWKS.

use crate::api::io::{Json, NoInput};
use crate::api::route::{Cx, OpDoc, Output, Public};
use crate::core::clients;
use crate::error::{Error, Result};
use schemars::{JsonSchema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use warp::http::{HeaderValue, header};
use warp::reply::Response;

/// OpenID Connect discovery (OpenID Connect Discovery 1.0, RFC 8414).
#[derive(Serialize, JsonSchema)]
pub struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    response_types_supported: Vec<&'static str>,
    response_modes_supported: Vec<&'static str>,
    grant_types_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
    id_token_signing_alg_values_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    code_challenge_methods_supported: Vec<&'static str>,
    scopes_supported: Vec<&'static str>,
    claims_supported: Vec<&'static str>,
    prompt_values_supported: Vec<&'static str>,
    request_parameter_supported: bool,
}

pub async fn discovery(cx: Cx, _: Public, _: NoInput) -> Result<Json<Discovery>> {
    let u = &cx.app.public_url;
    let client_auth = vec!["client_secret_basic", "client_secret_post", "none"];
    Ok(Json(Discovery {
        issuer: u.clone(),
        authorization_endpoint: format!("{u}/auth/oauth/authorize"),
        token_endpoint: format!("{u}/auth/oauth/token"),
        userinfo_endpoint: format!("{u}/auth/oauth/userinfo"),
        jwks_uri: format!("{u}/.well-known/jwks.json"),
        revocation_endpoint: format!("{u}/auth/oauth/revoke"),
        introspection_endpoint: format!("{u}/auth/oauth/introspect"),
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec![
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
        ],
        subject_types_supported: vec!["public"],
        id_token_signing_alg_values_supported: vec!["ES256", "EdDSA", "RS256"],
        token_endpoint_auth_methods_supported: client_auth.clone(),
        revocation_endpoint_auth_methods_supported: client_auth,
        introspection_endpoint_auth_methods_supported: vec![
            "client_secret_basic",
            "client_secret_post",
        ],
        code_challenge_methods_supported: vec!["S256"],
        scopes_supported: clients::CLIENT_SCOPES.to_vec(),
        claims_supported: vec![
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
        ],
        prompt_values_supported: vec!["none", "login", "create", "link"],
        request_parameter_supported: false,
    }))
}

/// A public key (RFC 7517): EC P-256 (`x`, `y`), Ed25519 (`x`) or RSA (`n`, `e`).
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Jwk {
    kty: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    use_: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<String>,
}

/// A JWK Set (RFC 7517 5).
#[derive(Serialize, JsonSchema)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// The JWKS answer: JSON that caches may keep for five minutes.
pub struct Cached(Jwks);

impl Output for Cached {
    fn into_response(self) -> Response {
        let mut r = Json(self.0).into_response();
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        r
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        Json::<Jwks>::doc(d, g);
    }
}

pub async fn jwks(cx: Cx, _: Public, _: NoInput) -> Result<Cached> {
    let published = cx.app.keys.published().await?;
    let keys = serde_json::from_value(published["keys"].clone())
        .map_err(|e| Error::internal(format!("bad stored JWK: {e}")))?;
    Ok(Cached(Jwks { keys }))
}
