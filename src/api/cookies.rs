//! The cookies of the hosted pages, on the wire: reading them from a request and making the
//! `Set-Cookie` values of answers. What a cookie's value means is the core's business
//! (`core::sessions`, `core::pending`); the double-submit CSRF check is here.
//!
//! - `kw_session`: the browser's keyward session, `<session id>.<secret>`; HttpOnly,
//!   SameSite=Lax (Secure behind https).
//! - `kw_csrf`: a random value that every page sets when the browser has none; a state-changing
//!   flow call must send it back in the `X-CSRF-Token` header (double submit), and an `Origin`,
//!   when the browser sends one, must be keyward's own. SameSite=Strict, readable by the pages.
//! - `kw_browser` (`__Host-kw_browser` behind https): the value that register tokens of the
//!   hosted pages are bound to (see `core::pending::check_browser`); HttpOnly.

use super::Req;
use super::route::{OpDoc, Output};
use crate::App;
use crate::auth::secret::{digest_eq, random_token};
use crate::core::sessions;
use crate::db::{sessions::Session, users::User};
use crate::error::{Error, Result};
use schemars::SchemaGenerator;
use serde_json::json;
use warp::http::{HeaderValue, header};
use warp::reply::Response;

pub const SESSION_COOKIE: &str = "kw_session";
pub const CSRF_COOKIE: &str = "kw_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A cookie's value from the request.
pub fn cookie<'a>(req: &'a Req, name: &str) -> Option<&'a str> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure_attr(app: &App) -> &'static str {
    if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// The browser's session cookie, if it sends one.
pub fn session(req: &Req) -> Option<&str> {
    cookie(req, SESSION_COOKIE).filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value of the session cookie; an empty value with `max_age` 0 removes it.
pub fn session_cookie(app: &App, value: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        secure_attr(app)
    )
}

/// The live keyward session and user of this browser, if it has one (single sign-on at the
/// authorization endpoint). A session that cannot be read counts as none.
pub async fn browser_session(app: &App, req: &Req) -> Option<(Session, User)> {
    sessions::cookie_session(app, session(req)?)
        .await
        .ok()
        .flatten()
}

/// Whether the browser has a CSRF cookie already.
pub fn has_csrf(req: &Req) -> bool {
    cookie(req, CSRF_COOKIE).is_some()
}

/// The CSRF cookie a page answer sets when the browser has none yet.
pub fn csrf_cookie(app: &App) -> String {
    format!(
        "{CSRF_COOKIE}={}; Path=/; SameSite=Strict{}",
        random_token(24),
        secure_attr(app)
    )
}

/// Refuses a state-changing call that does not prove it comes from keyward's own pages: an
/// `Origin` other than keyward's, or an `X-CSRF-Token` header that is not the CSRF cookie.
pub fn check_csrf(app: &App, req: &Req) -> Result<()> {
    if let Some(origin) = req.header("origin") {
        let ours = url::Url::parse(&app.public_url).map(|u| u.origin().ascii_serialization());
        // The listening address of a loopback server is keyward too (see `local_origin`).
        let local = app.local_origin.as_deref() == Some(origin);
        if ours.as_deref().ok() != Some(origin) && !local {
            return Err(Error::forbidden("cross-site request refused"));
        }
    }
    let cookie = cookie(req, CSRF_COOKIE).unwrap_or("");
    let header = req.header(CSRF_HEADER).unwrap_or("");
    if cookie.is_empty() || !digest_eq(cookie.as_bytes(), header.as_bytes()) {
        return Err(Error::forbidden(
            "missing or wrong CSRF token; reload the page and try again",
        ));
    }
    Ok(())
}

/// The binding cookie's name. Behind https it has the `__Host-` prefix, so no sibling domain
/// can plant a value of its choosing.
fn browser_cookie_name(app: &App) -> &'static str {
    if app.public_url.starts_with("https://") {
        "__Host-kw_browser"
    } else {
        "kw_browser"
    }
}

/// This browser's binding cookie, if it has one.
pub fn browser(app: &App, req: &Req) -> Option<String> {
    cookie(req, browser_cookie_name(app))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// This browser's binding cookie value, and, when it has none yet, a new one with the
/// `Set-Cookie` value that gives it to the browser.
pub fn browser_or_new(app: &App, req: &Req) -> (String, Option<String>) {
    if let Some(v) = browser(app, req) {
        return (v, None);
    }
    let v = random_token(32);
    let set = format!(
        "{}={v}; Path=/; HttpOnly; SameSite=Lax{}",
        browser_cookie_name(app),
        secure_attr(app)
    );
    (v, Some(set))
}

/// An answer with cookies: `O`, and a `Set-Cookie` header for each of `cookies`.
pub struct WithCookies<O> {
    pub answer: O,
    pub cookies: Vec<String>,
}

impl<O: Output> Output for WithCookies<O> {
    fn into_response(self) -> Response {
        let mut r = self.answer.into_response();
        for c in self.cookies {
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        r
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        let before = d.responses.len();
        O::doc(d, g);
        for (_, resp) in d.responses.iter_mut().skip(before) {
            resp["headers"] = json!({"Set-Cookie": {
                "description": "The browser's session cookie (kw_session) or binding cookie (kw_browser), when they change",
                "schema": {"type": "string"},
            }});
        }
    }
}
