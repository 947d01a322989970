//! The embedded pages and their static files (assets/, embedded with rust-embed).

use super::{Req, error_response, respond};
use crate::App;
use crate::error::{Error, Thing};
use rust_embed::RustEmbed;
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Pages load only their own scripts and styles and cannot be framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn handle(app: &App, req: Req) -> Response {
    if req.method != Method::GET && req.method != Method::HEAD {
        return error_response(&super::method_not_allowed());
    }
    let segs = req.rest(0);
    if segs.is_empty() {
        // The root has nothing of its own: people who open it want their account.
        return super::oauth::redirect("/account");
    }
    let file = match segs.as_slice() {
        ["auth", "flow", "setup"] => "flow/setup.html".to_string(),
        ["auth", "flow", "login"] => "flow/login.html".to_string(),
        ["auth", "flow", "register"] => "flow/register.html".to_string(),
        ["auth", "flow", "link"] => "flow/link.html".to_string(),
        ["account"] => "account/index.html".to_string(),
        ["assets", rest @ ..] if !rest.is_empty() && !rest.contains(&"..") => rest.join("/"),
        _ => return error_response(&Error::not_found(Thing::Route, "no such page")),
    };
    let mut r = serve(&file);
    // Pages hand the browser its CSRF cookie; the flow calls require it back in a header.
    if file.ends_with(".html")
        && r.status().is_success()
        && super::flow::cookie(&req, super::flow::CSRF_COOKIE).is_none()
        && let Ok(v) = HeaderValue::from_str(&super::flow::csrf_cookie(app))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn serve(file: &str) -> Response {
    let Some(content) = Assets::get(file) else {
        return error_response(&Error::not_found(Thing::Route, "no such file"));
    };
    let mime = mime_guess::from_path(file).first_or_octet_stream();
    let mut r = respond(200, "text/plain", content.data.into_owned());
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if file.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    } else {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
    }
    r
}
