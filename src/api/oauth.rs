//! The OAuth 2 / OpenID Connect endpoints (`/.well-known/...`, `/auth/oauth/...`).
//! Errors here come in RFC 6749's shape.

use super::{Req, send_json};
use crate::App;
use crate::error::Error;
use serde_json::json;
use warp::http::Method;
use warp::reply::Response;

/// RFC 6749's error shape.
pub fn oauth_error(e: &Error) -> Response {
    let code = e.code.unwrap_or(match e.status() {
        401 => "invalid_client",
        403 => "access_denied",
        404 => "not_found",
        405 => "invalid_request",
        429 => "slow_down",
        500 => "server_error",
        _ => "invalid_request",
    });
    super::with_retry_after(
        send_json(
            e.status(),
            &json!({"error": code, "error_description": e.message}),
        ),
        e,
    )
}

pub async fn handle(app: &App, req: Req) -> Response {
    let segs = req.rest(0);
    match (segs.as_slice(), &req.method) {
        ([".well-known", "jwks.json"], &Method::GET) => {
            let mut r = send_json(200, &app.keys.jwks());
            r.headers_mut().insert(
                warp::http::header::CACHE_CONTROL,
                warp::http::HeaderValue::from_static("public, max-age=300"),
            );
            r
        }
        ([".well-known", "jwks.json"], _) => oauth_error(&super::method_not_allowed()),
        _ => oauth_error(&Error::not_found("no such resource")),
    }
}
