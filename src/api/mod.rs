//! The HTTP surfaces. warp accepts the request and reads it into a `Req`; `dispatch` hands it
//! to the surface that owns its path prefix, and each surface matches `(method, segments)`
//! itself, so that every answer, a 404 or 405 included, comes in that surface's error shape.

pub mod address;
pub mod assets;
pub mod cookies;
pub mod flow;
pub mod guard;
pub mod identities;
pub mod io;
pub mod login_api;
pub mod oauth;
pub mod openapi;
pub mod ops;
pub mod passwordless;
pub mod qr;
pub mod route;
pub mod sync;

use crate::App;
use crate::error::{CeremonyProblem, Error, LinkCodeProblem, Reason, RequestId, Thing};
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY: usize = 1 << 20;

pub struct Req {
    pub method: Method,
    pub path: String,
    /// The path split at `/`, percent-decoded, without empty segments.
    pub segs: Vec<String>,
    pub query: HashMap<String, String>,
    /// The query string as sent, for typed query parameters.
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The client's address: the TCP peer, or what a trusted proxy says (see `address`).
    pub client: Option<IpAddr>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
    /// The client's address, as text for sessions, audit events and the throttle.
    pub fn address(&self) -> Option<String> {
        self.client.map(|a| a.to_string())
    }
    /// Where a login comes from (and for which OAuth client), kept with its session.
    pub fn origin(&self, client_id: Option<&str>) -> crate::core::sessions::Origin {
        crate::core::sessions::Origin {
            client_id: client_id.map(str::to_string),
            address: self.address(),
            user_agent: self
                .header("user-agent")
                .map(|s| s.chars().take(200).collect()),
        }
    }

    /// The segments after the first `n`.
    pub fn rest(&self, n: usize) -> Vec<&str> {
        self.segs.iter().skip(n).map(String::as_str).collect()
    }
}

/// The warp filter of the whole service.
pub fn routes(app: App) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(
            move |method: Method,
                  full: warp::path::FullPath,
                  query_str: String,
                  headers: HeaderMap,
                  addr: Option<SocketAddr>,
                  body| {
                let app = app.clone();
                let id = RequestId::new();
                let answer = async move {
                    let started = Instant::now();
                    let path = full.as_str().to_string();
                    let segs = split_path(&path);
                    let resp = match read_body(body).await {
                        Ok(body) => {
                            let client = addr.map(|a| {
                                address::client(a.ip(), &headers, &app.settings.trusted_proxies)
                            });
                            let req = Req {
                                segs,
                                query: serde_urlencoded::from_str(&query_str).unwrap_or_default(),
                                raw_query: query_str,
                                method: method.clone(),
                                path: path.clone(),
                                headers,
                                body,
                                client,
                            };
                            dispatch(&app, req).await
                        }
                        Err(e) => {
                            let mut r = Surface::of(&segs).error(&e);
                            // The rest of the body is left unread: the connection cannot be reused.
                            r.headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                            r
                        }
                    };
                    let route = resp.extensions().get::<route::Template>().map(|t| t.0);
                    app.metrics
                        .request(route, &method, resp.status(), started.elapsed());
                    log_request(&method, &path, resp.status(), started);
                    resp
                };
                crate::error::for_request(id, answer).map(move |r| with_request_id(secure(r), id))
            },
        )
        // Only a body that cannot be streamed at all gets here.
        .recover(|_| async {
            let r = error_response(&Error::bad_request("the request could not be read"));
            Ok::<_, Infallible>(with_request_id(secure(r), RequestId::new()))
        })
        .unify()
}

fn with_request_id(mut r: Response, id: RequestId) -> Response {
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

/// Whose error shape an answer takes, by the prefix of its path: errors found before a surface
/// has the request (an oversized body, a body in the wrong media type) come in it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    /// The login API, the flows, operations and pages.
    Login,
    OAuth,
    Auth0,
    Zitadel,
}

impl Surface {
    fn of(segs: &[String]) -> Surface {
        let seg = |i: usize| segs.get(i).map(String::as_str).unwrap_or("");
        match (seg(0), seg(1)) {
            (".well-known", _) | ("auth", "oauth") => Surface::OAuth,
            ("api", "v2") => Surface::Auth0,
            ("users", "me") | ("management", "v1") | ("v2", "users") => Surface::Zitadel,
            _ => Surface::Login,
        }
    }

    fn error(self, e: &Error) -> Response {
        match self {
            Surface::Login => error_response(e),
            Surface::OAuth => oauth::oauth_error(e),
            Surface::Auth0 => identities::auth0_error(e),
            Surface::Zitadel => passwordless::zitadel_error(e),
        }
    }
}

/// What a client may see of an error. The text of an internal error (a database, task or
/// signing failure) is for the log only; the client gets a generic message with the request's
/// id, to quote when reporting the problem.
pub fn public_error(e: &Error) -> Cow<'_, Error> {
    if e.reason != Reason::Internal {
        return Cow::Borrowed(e);
    }
    let id = crate::error::current_request()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "unknown".into());
    tracing::error!(request_id = %id, error = %e.message, "internal error");
    Cow::Owned(Error::internal(format!("internal error; request id {id}")))
}

async fn read_body<S, B>(mut stream: S) -> Result<Bytes, Error>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: warp::Buf,
{
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk =
            chunk.map_err(|_| Error::bad_request("the request body could not be read"))?;
        while chunk.has_remaining() {
            let part = chunk.chunk();
            if buf.len() + part.len() > MAX_BODY {
                return Err(Error::new(
                    Reason::TooLarge,
                    format!("the request body is larger than {MAX_BODY} bytes"),
                ));
            }
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(Bytes::from(buf))
}

fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// One log line per request. The query string is left out: it may carry codes and tokens.
fn log_request(method: &Method, path: &str, status: StatusCode, started: Instant) {
    tracing::info!(
        target: "keyward::http",
        method = %method,
        path = %path,
        status = status.as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

/// A JSON body must say so: `Content-Type: application/json`, parameters allowed. A request
/// without a body needs no content type.
fn check_json_body(req: &Req) -> crate::error::Result<()> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let json = req
        .header("content-type")
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(Error::new(
            Reason::MediaType,
            "the body must be JSON, sent with Content-Type: application/json",
        ))
    }
}

async fn dispatch(app: &App, req: Req) -> Response {
    let first = req.segs.first().map(String::as_str).unwrap_or("");
    let second = req.segs.get(1).map(String::as_str).unwrap_or("");
    let third = req.segs.get(2).map(String::as_str).unwrap_or("");
    // The surfaces that take JSON bodies (the OAuth endpoints take forms).
    if matches!(
        (first, second, third),
        ("auth", "api", "login" | "flow" | "sync") | ("api", "v2", _)
    ) && let Err(e) = check_json_body(&req)
    {
        return Surface::of(&req.segs).error(&e);
    }
    match (first, second, third) {
        ("healthz" | "readyz" | "metrics", _, _) | ("api", "openapi.json", _) => {
            surfaces().ops.dispatch(app, req).await
        }
        (".well-known", _, _) | ("auth", "oauth", _) => surfaces().oauth.dispatch(app, req).await,
        ("auth", "api", "login") => surfaces().login.dispatch(app, req).await,
        ("auth", "api", "flow") => surfaces().flow.dispatch(app, req).await,
        ("auth", "api", "sync") => surfaces().sync.dispatch(app, req).await,
        ("api", "v2", _) => surfaces().identities.dispatch(app, req).await,
        ("users", "me", _) | ("management", "v1", _) | ("v2", "users", _) => {
            surfaces().passwordless.dispatch(app, req).await
        }
        ("auth", "flow", _) | ("assets", _, _) | ("", _, _) | ("account" | "admin", "", "") => {
            surfaces().pages.dispatch(app, req).await
        }
        _ => error_response(&Error::not_found(Thing::Route, "no such resource")),
    }
}

/// The route tables of the surfaces, built once.
pub struct Surfaces {
    pub ops: route::Surface,
    pub identities: route::Surface,
    pub login: route::Surface,
    pub flow: route::Surface,
    pub pages: route::Surface,
    pub oauth: route::Surface,
    pub passwordless: route::Surface,
    pub sync: route::Surface,
}

impl Surfaces {
    /// Every route table. The pattern names each field, so a surface added to `Surfaces` must
    /// be added here too (tests/openapi.rs checks each against the document and the 405s).
    pub fn all(&self) -> Vec<&route::Surface> {
        let Surfaces {
            ops,
            identities,
            login,
            flow,
            pages,
            oauth,
            passwordless,
            sync,
        } = self;
        vec![
            ops,
            identities,
            oauth,
            login,
            flow,
            pages,
            passwordless,
            sync,
        ]
    }
}

pub fn surfaces() -> &'static Surfaces {
    static S: std::sync::OnceLock<Surfaces> = std::sync::OnceLock::new();
    S.get_or_init(|| Surfaces {
        ops: ops::surface(),
        identities: identities::surface(),
        login: login_api::surface(),
        flow: flow::surface(),
        pages: assets::surface(),
        oauth: oauth::surface(),
        passwordless: passwordless::surface(),
        sync: sync::surface(),
    })
}

/// The path templates of every route, for the request metrics.
pub fn route_templates() -> impl Iterator<Item = &'static str> {
    surfaces()
        .all()
        .into_iter()
        .flat_map(|s| s.routes.iter().map(|r| r.path))
}

pub fn openapi_document(app: &App) -> Value {
    let s = surfaces();
    openapi::document(&app.public_url, &s.all())
}

/// The error shape of the login API, the flows and operations.
#[derive(serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginError {
    /// The HTTP status.
    status_code: u16,
    /// Its reason phrase.
    error: String,
    /// What went wrong, in words.
    message: String,
    /// A stable machine-readable name of what went wrong (e.g. `wrong_credentials`,
    /// `last_login_method`, `register_token_other_browser`), which the pages decide on.
    code: String,
    /// The request field at fault, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

pub fn login_error_schema(g: &mut schemars::SchemaGenerator) -> Value {
    route::schema_ref::<LoginError>(g)
}

pub fn internal_error_response(e: &Error) -> Response {
    error_response(e)
}

/// Headers every answer carries.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

pub fn respond(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
    let mut r = Response::new(body.into().into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn send_json(status: u16, v: &Value) -> Response {
    respond(status, "application/json", v.to_string())
}

pub fn status_text(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// Sets `Retry-After` on a 429 or 503.
pub fn with_retry_after(mut r: Response, e: &Error) -> Response {
    if let Some(secs) = e.reason.retry_after()
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Sets RFC 6750's `WWW-Authenticate` on the 401 of a Bearer-protected surface: no error code
/// when no token was sent (3.1), `invalid_token` when the one sent is not good.
pub fn with_bearer_challenge(mut r: Response, e: &Error) -> Response {
    let challenge = match e.reason {
        Reason::NotLoggedIn => "Bearer realm=\"keyward\"",
        Reason::TokenInvalid => "Bearer realm=\"keyward\", error=\"invalid_token\"",
        _ => return r,
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

/// `error_response` for the Bearer-protected surfaces in the login shape (the login API, the
/// sync API): with the challenge on a 401.
pub fn bearer_error_response(e: &Error) -> Response {
    with_bearer_challenge(error_response(e), e)
}

/// The HTTP status of a reason on the login API, the flows and operations (Gropius' statuses).
pub fn login_status(r: Reason) -> u16 {
    match r {
        Reason::Invalid
        | Reason::InvalidQuery
        | Reason::GrantInvalid
        | Reason::ScopeInvalid
        | Reason::TargetInvalid
        | Reason::ClientNotAllowed
        | Reason::GrantUnsupported
        | Reason::LinkCode(LinkCodeProblem::Wrong)
        | Reason::Ceremony(CeremonyProblem::Unknown) => 400,
        Reason::LinkCode(_) => 410,
        Reason::NotLoggedIn
        | Reason::TokenInvalid
        | Reason::WrongCredentials
        | Reason::ClientUnauthenticated => 401,
        Reason::Forbidden
        | Reason::ScopeMissing
        | Reason::Blocked
        | Reason::OtherBrowser
        | Reason::Ceremony(CeremonyProblem::OtherBrowser) => 403,
        Reason::NotFound(_) => 404,
        Reason::MethodNotAllowed => 405,
        Reason::Conflict
        | Reason::IdentityTaken
        | Reason::SameIdentity
        | Reason::LastLoginMethod
        | Reason::Precondition => 409,
        Reason::TooLarge => 413,
        Reason::MediaType => 415,
        Reason::Throttled(_) => 429,
        Reason::Internal => 500,
        Reason::Busy(_) | Reason::Unavailable => 503,
        Reason::ProviderFailed => 502,
    }
}

/// The error shape of the login API, the flows and operations: `{statusCode, error, message}`,
/// plus `code` (a stable name of the reason, which the pages decide on) and `field` (the
/// request field at fault) where there is one.
pub fn error_response(e: &Error) -> Response {
    let e = &*public_error(e);
    let status = login_status(e.reason);
    let mut body = json!({
        "statusCode": status,
        "error": status_text(status),
        "message": e.message,
        "code": e.reason.code(),
    });
    if let Some(f) = &e.field {
        body["field"] = json!(f);
    }
    with_retry_after(send_json(status, &body), e)
}

pub fn method_not_allowed() -> Error {
    Error::new(Reason::MethodNotAllowed, "method not allowed")
}

/// Renders a result in the login API's shape: `ok` status with the JSON, or the error.
pub fn reply(status: u16, r: crate::error::Result<Value>) -> Response {
    match r {
        Ok(v) => send_json(status, &v),
        Err(e) => error_response(&e),
    }
}
