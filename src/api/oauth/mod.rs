//! The OAuth 2 / OpenID Connect surface (`/.well-known/...`, `/auth/oauth/...`): one file per
//! endpoint, each parsing its form or query and rendering what `core::oauth` decided. Errors
//! come in RFC 6749's shape (`oauth_error`); an authorization request with an unknown client
//! or redirect URI gets an error page, never a redirect (`authorize`).

mod authorize;
mod discovery;
mod introspect;
mod revoke;
mod token;
mod userinfo;

use super::io::Form;
use super::route::{Cx, Guard, Input, OpDoc, Route, Surface, schema_ref};
use super::{respond, send_json};
use crate::core::clients::{self, Client};
use crate::error::{CeremonyProblem, Error, Reason, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

pub fn surface() -> Surface {
    Surface {
        name: "oauth",
        error_schema: |g| schema_ref::<OAuthError>(g),
        render: oauth_error,
        routes: vec![
            Route::new(
                Method::GET,
                "/.well-known/openid-configuration",
                "oidcDiscovery",
                discovery::discovery,
            )
            .summary("OpenID Connect discovery document"),
            Route::new(
                Method::GET,
                "/.well-known/jwks.json",
                "oidcJwks",
                discovery::jwks,
            )
            .summary("The public keys that tokens are signed with")
            .describe(
                "Every signing key in the database, a key that `keyward keys rotate` has just \
                 added included, and the retired keys whose tokens may still be live.",
            ),
            authorize::route(),
            Route::new(
                Method::POST,
                "/auth/oauth/token",
                "oauthToken",
                token::token,
            )
            .summary("Token endpoint")
            .describe(
                "Grants `authorization_code`, `refresh_token`, `client_credentials`, and \
                     `password` for clients with `allowPasswordGrant`. Client authentication by \
                     HTTP Basic, by `client_id` + `client_secret` in the form, or by `client_id` \
                     alone for public clients. When a password login finds an identity waiting \
                     for registration, `access_token` is a register token (scope \
                     `login-register`) and there is no refresh token. Errors are RFC 6749 5.2's \
                     (400, or 401 `invalid_client`), `invalid_target`, `slow_down` (429) and \
                     `temporarily_unavailable` (503).",
            )
            .errors(&[429, 503]),
            Route::new(
                Method::GET,
                "/auth/oauth/userinfo",
                "oidcUserinfo",
                userinfo::userinfo,
            )
            .summary("The claims of the access token's user")
            .describe("The token needs the scope `openid`; `profile` and `email` add claims."),
            Route::new(
                Method::POST,
                "/auth/oauth/userinfo",
                "oidcUserinfoPost",
                userinfo::userinfo_post,
            )
            .summary("The claims of the access token's user (POST)")
            .describe(
                "As the GET; the token may also come as the form parameter `access_token` \
                 (RFC 6750 2.2), never in both places (400).",
            ),
            Route::new(
                Method::POST,
                "/auth/oauth/revoke",
                "oauthRevoke",
                revoke::revoke,
            )
            .summary("Revoke a token (RFC 7009)")
            .describe(
                "A refresh token ends its login, and every token of it; an access token is \
                 refused from then on. Unknown tokens and other clients' tokens are not an \
                 error and change nothing.",
            ),
            Route::new(
                Method::POST,
                "/auth/oauth/introspect",
                "oauthIntrospect",
                introspect::introspect,
            )
            .summary("Introspect a token (RFC 7662)")
            .describe(
                "For confidential clients. `active: true` only for tokens issued to the client \
                 itself or whose `aud` is one of its `resources`; `{\"active\": false}` for \
                 every other token.",
            ),
        ],
    }
}

/// RFC 6749's error codes (and RFC 6750's, RFC 8707's).
#[derive(Serialize, JsonSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Code {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    InvalidToken,
    InsufficientScope,
    AccessDenied,
    SlowDown,
    TemporarilyUnavailable,
    ServerError,
}

/// RFC 6749's error shape.
#[derive(Serialize, JsonSchema)]
struct OAuthError {
    error: Code,
    /// What went wrong, in words.
    error_description: String,
}

/// RFC 6749's error shape, `{error, error_description}`, with the status its code calls for.
pub fn oauth_error(e: &Error) -> Response {
    let e = &*super::public_error(e);
    let (status, code) = match e.reason {
        Reason::NotLoggedIn | Reason::TokenInvalid => (401, Code::InvalidToken),
        Reason::ClientUnauthenticated => (401, Code::InvalidClient),
        Reason::Forbidden
        | Reason::OtherBrowser
        | Reason::Ceremony(CeremonyProblem::OtherBrowser) => (403, Code::AccessDenied),
        Reason::ScopeMissing => (403, Code::InsufficientScope),
        Reason::WrongCredentials | Reason::Blocked | Reason::GrantInvalid => {
            (400, Code::InvalidGrant)
        }
        Reason::ScopeInvalid => (400, Code::InvalidScope),
        Reason::TargetInvalid => (400, Code::InvalidTarget),
        Reason::ClientNotAllowed => (400, Code::UnauthorizedClient),
        Reason::GrantUnsupported => (400, Code::UnsupportedGrantType),
        Reason::NotFound(_) => (404, Code::InvalidRequest),
        Reason::MethodNotAllowed => (405, Code::InvalidRequest),
        Reason::TooLarge => (413, Code::InvalidRequest),
        Reason::MediaType => (415, Code::InvalidRequest),
        Reason::Throttled(_) => (429, Code::SlowDown),
        Reason::Busy(_) | Reason::Unavailable => (503, Code::TemporarilyUnavailable),
        Reason::Internal => (500, Code::ServerError),
        Reason::ProviderFailed => (502, Code::ServerError),
        Reason::Invalid
        | Reason::InvalidQuery
        | Reason::Conflict
        | Reason::IdentityTaken
        | Reason::SameIdentity
        | Reason::LastLoginMethod
        | Reason::Precondition
        | Reason::LinkCode(_)
        | Reason::Ceremony(CeremonyProblem::Unknown) => (400, Code::InvalidRequest),
    };
    let body = OAuthError {
        error: code,
        error_description: e.message.clone(),
    };
    let body = serde_json::to_value(&body).unwrap_or_default();
    let mut r = super::with_retry_after(send_json(status, &body), e);
    match e.reason {
        // A client that failed to authenticate (RFC 6749 5.2).
        Reason::ClientUnauthenticated => {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keyward\""),
            );
        }
        // userinfo, the surface's one Bearer operation, needs `openid` (RFC 6750 3.1).
        Reason::ScopeMissing => {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"keyward\", error=\"insufficient_scope\", scope=\"openid\"",
                ),
            );
        }
        _ => r = super::with_bearer_challenge(r, e),
    }
    r
}

pub fn redirect(location: &str) -> Response {
    let mut r = respond(302, "text/plain", Vec::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// An OAuth parameter's value; an empty one counts as absent.
fn given(v: Option<String>) -> Option<String> {
    v.filter(|v| !v.is_empty())
}

/// A parameter a request must have.
fn required(name: &str, v: Option<String>) -> Result<String> {
    given(v).ok_or_else(|| Error::bad_request(format!("{name} is required")))
}

/// The client authentication fields of a form (client_secret_post, or a public client's id).
#[derive(Deserialize, JsonSchema)]
struct ClientFields {
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The id and secret of `Authorization: Basic`, if the request has one (RFC 6749 2.3.1: both
/// form-encoded before they were joined).
fn basic_credentials(header: Option<&str>) -> Result<Option<(String, String)>> {
    let Some(b) = header.and_then(|h| {
        h.strip_prefix("Basic ")
            .or_else(|| h.strip_prefix("basic "))
    }) else {
        return Ok(None);
    };
    use base64::Engine;
    let malformed = || Error::new(Reason::ClientUnauthenticated, "malformed Basic credentials");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(malformed)?;
    let (id, secret) = raw.split_once(':').ok_or_else(malformed)?;
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    Ok(Some((dec(id), dec(secret))))
}

/// An authenticated OAuth client: HTTP Basic, or `client_id` (+ `client_secret`) in the form;
/// `core::clients::authenticate` decides whether that proves the client.
pub struct ClientAuth(pub Client);

impl Guard for ClientAuth {
    async fn check(cx: &Cx) -> Result<Self> {
        // The form's own parsing, so that a parameter given twice is refused here already.
        let Form(f) = Form::<ClientFields>::parse(cx)?;
        let (id, secret) = match basic_credentials(cx.req.header("authorization"))? {
            Some((id, secret)) => {
                // One authentication method per request (RFC 6749 2.3); a `client_id` beside
                // Basic is fine when it names the same client (4.1.3 asks for it).
                if f.client_secret.is_some() {
                    return Err(Error::bad_request(
                        "client_secret cannot be sent together with Basic credentials: use one \
                         client authentication method",
                    ));
                }
                if f.client_id.is_some_and(|c| c != id) {
                    return Err(Error::bad_request(
                        "client_id differs from the Basic credentials",
                    ));
                }
                (id, Some(secret))
            }
            None => {
                let id = f.client_id.ok_or_else(|| {
                    Error::new(
                        Reason::ClientUnauthenticated,
                        "client authentication is required",
                    )
                })?;
                (id, f.client_secret)
            }
        };
        clients::authenticate(&cx.app, &id, secret.as_deref())
            .await
            .map(ClientAuth)
    }
    fn doc(d: &mut OpDoc) {
        // Or no scheme at all: the form fields, or a public client's id alone.
        d.security = vec![json!({"clientBasic": []}), json!({})];
        d.errors(&[400, 401]);
    }
}

/// The form of revocation and introspection (`application/x-www-form-urlencoded`): the token,
/// and the client's credentials when it authenticates in the form.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub struct TokenForm {
    /// A refresh token or an access token.
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
