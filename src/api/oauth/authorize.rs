//! `GET /auth/oauth/authorize`: parses the authorization request and renders what
//! `core::oauth::authorize` decided: keyward's error page, a redirect back to the client (with a
//! code or an error), or a redirect to the hosted login page.

use super::{given, redirect};
use crate::api::io::{Query, Raw};
use crate::api::route::{Cx, Input, OpDoc, Public, Route, query_params};
use crate::api::{public_error, respond};
use crate::core::oauth::authorize::{self, Decision, Page, Params};
use crate::error::{Error, Reason, Result};
use schemars::{JsonSchema, SchemaGenerator};
use serde::Deserialize;
use serde_json::json;
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

pub fn route() -> Route {
    Route::new(
        Method::GET,
        "/auth/oauth/authorize",
        "oauthAuthorize",
        authorize,
    )
    .summary("Authorization request (code flow)")
    .describe(
        "An unknown client or redirect URI gets an error page, never a redirect. Otherwise the \
         browser goes to the hosted login page (or, with a live keyward session and no \
         `prompt=login`, straight back) and in the end to `redirect_uri?code=&state=`; errors \
         go to `redirect_uri?error=&error_description=&state=`. `code_challenge` with \
         `code_challenge_method=S256` is required for clients without a secret.",
    )
    .response(
        302,
        json!({
            "description": "To the hosted login page, or back to the client's redirect URI with a code or an error",
            "headers": {"Location": {"schema": {"type": "string"}}},
        }),
    )
    .response(
        400,
        json!({
            "description": "The request cannot be sent back to its client: an error page",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }),
    )
}

/// The parameters of an authorization request (RFC 6749 4.1.1, RFC 7636, RFC 8707, OpenID
/// Connect). An empty value counts as absent; a parameter given twice is refused.
#[derive(Deserialize, JsonSchema)]
struct AuthorizeQuery {
    /// Must be `code`.
    #[schemars(extend("enum" = ["code"]))]
    response_type: Option<String>,
    /// The client's id; without a known one, the answer is an error page.
    client_id: Option<String>,
    /// One of the client's `redirectUrls`, exactly; may be left out when it has only one.
    redirect_uri: Option<String>,
    /// Space-separated; default: every scope the client may ask for.
    scope: Option<String>,
    /// Sent back to the client as it is.
    state: Option<String>,
    /// Put into the ID token.
    nonce: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)), 43 characters.
    code_challenge: Option<String>,
    /// Must be `S256` when there is a challenge.
    #[schemars(extend("enum" = ["S256"]))]
    code_challenge_method: Option<String>,
    /// RFC 8707: the audience of the access token, one of the client's `resources`.
    resource: Option<String>,
    /// `none`, `login` (log in again), `create` (the register page) or `link` (the link page);
    /// `consent` and `select_account` are taken and change nothing.
    #[schemars(extend("enum" = ["none", "login", "create", "link", "consent", "select_account"]))]
    prompt: Option<String>,
    /// OpenID Connect `max_age`: seconds since the browser's last sign-in after which it must
    /// sign in again instead of passing through with its session.
    max_age: Option<String>,
}

/// The query, or why it could not be read: authorize answers that with its error page too,
/// never in the JSON error shape.
struct Asked(Result<AuthorizeQuery>);

impl Input for Asked {
    fn parse(cx: &Cx) -> Result<Self> {
        Ok(Asked(Query::<AuthorizeQuery>::parse(cx).map(|Query(q)| q)))
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.query = query_params::<AuthorizeQuery>(g);
    }
}

async fn authorize(cx: Cx, _: Public, Asked(q): Asked) -> Result<Raw> {
    let q = match q {
        Ok(q) => q,
        Err(e) => {
            return Ok(Raw(error_page(&format!(
                "The sign-in request is not valid: {}.",
                e.message
            ))));
        }
    };
    let params = Params {
        response_type: given(q.response_type),
        client_id: given(q.client_id),
        redirect_uri: given(q.redirect_uri),
        scope: given(q.scope),
        state: given(q.state),
        nonce: given(q.nonce),
        code_challenge: given(q.code_challenge),
        code_challenge_method: given(q.code_challenge_method),
        resource: given(q.resource),
        prompt: given(q.prompt),
        max_age: given(q.max_age),
    };
    let cookie = super::super::cookies::session(&cx.req).map(str::to_string);
    Ok(Raw(
        match authorize::authorize(&cx.app, params, cookie).await {
            Ok(Decision::Refused(message)) => error_page(message),
            Ok(Decision::Failed {
                redirect_uri,
                state,
                error,
            }) => redirect_error(&redirect_uri, state.as_deref(), &error),
            Ok(Decision::Issued(url)) => redirect(&url),
            Ok(Decision::Login { page, flow }) => {
                let page = match page {
                    Page::Login => "login",
                    Page::Register => "register",
                    Page::Link => "link",
                };
                redirect(&format!("/auth/flow/{page}?flow={flow}"))
            }
            Err(e) => error_page(&public_error(&e).message),
        },
    ))
}

/// The `error` an authorization error goes back to the client with (RFC 6749 4.1.2.1, OpenID
/// Connect 3.1.2.6, RFC 8707).
fn error_code(r: Reason) -> &'static str {
    match r {
        Reason::GrantUnsupported => "unsupported_response_type",
        Reason::ScopeInvalid => "invalid_scope",
        Reason::TargetInvalid => "invalid_target",
        Reason::NotLoggedIn => "login_required",
        Reason::Internal => "server_error",
        _ => "invalid_request",
    }
}

/// Sends an error back to the client's (already verified) redirect URI.
fn redirect_error(redirect_uri: &str, state: Option<&str>, e: &Error) -> Response {
    let e = public_error(e);
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            u.query_pairs_mut()
                .append_pair("error", error_code(e.reason))
                .append_pair("error_description", &e.message);
            if let Some(s) = state {
                u.query_pairs_mut().append_pair("state", s);
            }
            redirect(u.as_str())
        }
        Err(_) => error_page(&e.message),
    }
}

/// The page shown when an authorization request cannot be sent back to its client.
fn error_page(message: &str) -> Response {
    let esc = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in error</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><main><div class=\"card\"><h1>This sign-in request cannot go on</h1>\
         <p class=\"msg error\" role=\"alert\">{esc}</p>\
         <p class=\"muted\">Go back to the application and try again, or tell its administrator.</p>\
         </div></main></body></html>"
    );
    let mut r = respond(400, "text/html; charset=utf-8", html);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::api::assets::CSP),
    );
    r
}
