//! `POST /auth/oauth/token`: the token request's form, by grant, and the token response.

use super::{ClientAuth, given, required};
use crate::api::io::{Form, Json};
use crate::api::route::{Cx, OpDoc, Output};
use crate::core::oauth::{self, GrantRequest, Tokens};
use crate::error::{Error, Reason, Result};
use schemars::{JsonSchema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use warp::http::{HeaderValue, header};
use warp::reply::Response;

/// A token request (`application/x-www-form-urlencoded`): `grant_type` and the fields of that
/// grant. An empty value counts as absent; a parameter given twice is refused; parameters not
/// listed are ignored (RFC 6749 3.2).
#[derive(Deserialize, JsonSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `client_credentials` or `password`.
    #[schemars(required, extend("enum" = ["authorization_code", "refresh_token", "client_credentials", "password"]))]
    grant_type: Option<String>,
    /// authorization_code: the code from the redirect.
    code: Option<String>,
    /// authorization_code: the redirect URI of the authorization request.
    redirect_uri: Option<String>,
    /// authorization_code: the PKCE verifier of the request's `code_challenge`.
    code_verifier: Option<String>,
    /// refresh_token: the refresh token to rotate.
    refresh_token: Option<String>,
    /// password: the username.
    username: Option<String>,
    /// password: the password.
    password: Option<String>,
    /// password: the userpass strategy instance, by id or name; default `local`.
    instance: Option<String>,
    /// Space-separated scopes: for client_credentials and password, those asked for (default:
    /// all of the client's); for refresh_token, a narrower set than the one granted.
    scope: Option<String>,
    /// RFC 8707: the audience of the access token, one of the client's `resources`.
    resource: Option<String>,
    /// Client authentication in the form (client_secret_post), or a public client's id.
    #[allow(dead_code)]
    client_id: Option<String>,
    #[allow(dead_code)]
    client_secret: Option<String>,
}

/// A token response (RFC 6749 5.1).
#[derive(Serialize, JsonSchema)]
pub struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lives.
    expires_in: u64,
    /// Space-separated.
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// With the scope `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl From<Tokens> for TokenResponse {
    fn from(t: Tokens) -> TokenResponse {
        TokenResponse {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            scope: t.scope,
            refresh_token: t.refresh_token,
            id_token: t.id_token,
        }
    }
}

/// The token response, which no cache may keep (RFC 6749 5.1: `Pragma: no-cache` beside the
/// `Cache-Control: no-store` every answer has).
pub struct Issued(TokenResponse);

impl Output for Issued {
    fn into_response(self) -> Response {
        let mut r = Json(self.0).into_response();
        r.headers_mut()
            .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        r
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        Json::<TokenResponse>::doc(d, g);
    }
}

pub async fn token(
    cx: Cx,
    ClientAuth(client): ClientAuth,
    Form(f): Form<TokenRequest>,
) -> Result<Issued> {
    let grant = match required("grant_type", f.grant_type)?.as_str() {
        "authorization_code" => GrantRequest::AuthorizationCode {
            code: required("code", f.code)?,
            redirect_uri: given(f.redirect_uri),
            code_verifier: given(f.code_verifier),
        },
        "refresh_token" => GrantRequest::RefreshToken {
            refresh_token: required("refresh_token", f.refresh_token)?,
            scope: given(f.scope),
        },
        "client_credentials" => GrantRequest::ClientCredentials {
            scope: given(f.scope),
        },
        "password" => GrantRequest::Password {
            username: required("username", f.username)?,
            password: f.password.unwrap_or_default(),
            scope: given(f.scope),
            instance: given(f.instance),
        },
        other => {
            return Err(Error::new(
                Reason::GrantUnsupported,
                format!("grant_type {other} is not supported"),
            ));
        }
    };
    let resource = given(f.resource);
    let origin = cx.req.origin(Some(&client.id));
    let tokens = oauth::token(&cx.app, &client, grant, resource.as_deref(), &origin)
        .await
        .map_err(token_endpoint_error)?;
    Ok(Issued(tokens.into()))
}

/// The token endpoint answers only RFC 6749 5.2's codes (400, or 401 `invalid_client`), plus
/// `invalid_target`, `slow_down` and `temporarily_unavailable`: a rule shared with the login API
/// that refuses a known caller (a strategy instance whose login is disabled) or names a thing
/// that is not there becomes the grant's or the request's fault, keeping its message.
fn token_endpoint_error(e: Error) -> Error {
    let reason = match e.reason {
        Reason::Forbidden
        | Reason::OtherBrowser
        | Reason::NotLoggedIn
        | Reason::TokenInvalid
        | Reason::ScopeMissing => Reason::GrantInvalid,
        Reason::NotFound(_) => Reason::Invalid,
        r => r,
    };
    Error { reason, ..e }
}
