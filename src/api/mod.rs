//! The HTTP surfaces. warp accepts the request and reads it into a `Req`; `dispatch` hands it
//! to the surface that owns its path prefix, and each surface matches `(method, segments)`
//! itself, so that every answer, a 404 or 405 included, comes in that surface's error shape.

pub mod address;
pub mod assets;
pub mod body;
pub mod clients;
pub mod flow;
pub mod identities;
pub mod login_api;
pub mod oauth;
pub mod ops;

use crate::App;
use crate::error::{Error, Kind};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
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
            move |method,
                  full: warp::path::FullPath,
                  query_str: String,
                  headers: HeaderMap,
                  addr: Option<SocketAddr>,
                  body| {
                let app = app.clone();
                async move {
                    let started = Instant::now();
                    let path = full.as_str().to_string();
                    let resp = match read_body(body).await {
                        Ok(body) => {
                            let client = addr.map(|a| {
                                address::client(a.ip(), &headers, &app.settings.trusted_proxies)
                            });
                            let req = Req {
                                segs: split_path(&path),
                                query: serde_urlencoded::from_str(&query_str).unwrap_or_default(),
                                method,
                                path,
                                headers,
                                body,
                                client,
                            };
                            let (m, p) = (req.method.clone(), req.path.clone());
                            let resp = dispatch(&app, req).await;
                            log_request(&m, &p, resp.status(), started);
                            resp
                        }
                        Err(resp) => resp,
                    };
                    secure(resp)
                }
            },
        )
        // Only a body that cannot be streamed at all gets here.
        .recover(|_| async {
            Ok::<_, Infallible>(error_response(&Error::bad_request(
                "the request could not be read",
            )))
        })
        .unify()
}

async fn read_body<S, B>(mut stream: S) -> Result<Bytes, Response>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: warp::Buf,
{
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| {
            error_response(&Error::bad_request("the request body could not be read"))
        })?;
        while chunk.has_remaining() {
            let part = chunk.chunk();
            if buf.len() + part.len() > MAX_BODY {
                let mut r = error_response(&Error::bad_request("the request body is too large"));
                *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                // The rest of the body is left unread, so the connection cannot be reused.
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return Err(r);
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

async fn dispatch(app: &App, req: Req) -> Response {
    let first = req.segs.first().map(String::as_str).unwrap_or("");
    let second = req.segs.get(1).map(String::as_str).unwrap_or("");
    let third = req.segs.get(2).map(String::as_str).unwrap_or("");
    match (first, second, third) {
        ("healthz" | "readyz", _, _) => ops::handle(app, req).await,
        (".well-known", _, _) | ("auth", "oauth", _) => oauth::handle(app, req).await,
        ("auth", "api", "login") => login_api::handle(app, req).await,
        ("auth", "api", "flow") => flow::handle(app, req).await,
        ("api", "v2", _) => identities::handle(app, req).await,
        ("auth", "flow", _) | ("assets", _, _) | ("", _, _) | ("account", "", "") => {
            assets::handle(app, req).await
        }
        _ => error_response(&Error::not_found("no such resource")),
    }
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

fn status_text(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// Sets `Retry-After` on a 429 or 503.
pub fn with_retry_after(mut r: Response, e: &Error) -> Response {
    if let Kind::TooManyRequests(secs) | Kind::Unavailable(secs) = e.kind
        && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The error shape of the login API, the flows and operations.
pub fn error_response(e: &Error) -> Response {
    let status = e.status();
    with_retry_after(
        send_json(
            status,
            &json!({"statusCode": status, "error": status_text(status), "message": e.message}),
        ),
        e,
    )
}

pub fn method_not_allowed() -> Error {
    Error::new(Kind::MethodNotAllowed, "method not allowed")
}

/// Renders a result in the login API's shape: `ok` status with the JSON, or the error.
pub fn reply(status: u16, r: crate::error::Result<Value>) -> Response {
    match r {
        Ok(v) => send_json(status, &v),
        Err(e) => error_response(&e),
    }
}
