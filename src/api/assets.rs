//! The pages: the embedded HTML pages and their static files (assets/, embedded with
//! rust-embed), as a route table like every other surface. A page answer hands the browser its
//! CSRF cookie (see `api::cookies`) when it has none.

use super::cookies;
use super::io::{NoInput, Raw};
use super::route::{Cx, Public, Route, Surface};
use crate::App;
use crate::error::{Error, Result, Thing};
use rust_embed::RustEmbed;
use serde_json::{Value, json};
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Pages load only their own scripts and styles and cannot be framed.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages and the files they are made of.
const PAGES: [(&str, &str, &str, &str); 8] = [
    (
        "/admin",
        "admin/index.html",
        "pageAdmin",
        "The admin console: users, logins, clients, keys and the audit log",
    ),
    (
        "/account",
        "account/index.html",
        "pageAccount",
        "The account page: a user's own logins and sessions",
    ),
    (
        "/auth/flow/login",
        "flow/login.html",
        "pageLogin",
        "The login page",
    ),
    (
        "/auth/flow/register",
        "flow/register.html",
        "pageRegister",
        "The register page",
    ),
    (
        "/auth/flow/link",
        "flow/link.html",
        "pageLink",
        "The page that adds a login to the signed-in user",
    ),
    (
        "/auth/flow/setup",
        "flow/setup.html",
        "pageSetup",
        "The page of the one-time setup link",
    ),
    (
        "/auth/flow/passkey",
        "flow/passkey.html",
        "pagePasskey",
        "The page of a passkey link: adds a passkey to the link's user",
    ),
    (
        "/auth/flow/problem",
        "flow/problem.html",
        "pageProblem",
        "Where an upstream login that did not work ends: what happened, and the ways on",
    ),
];

pub fn surface() -> Surface {
    let mut routes = vec![
        Route::new(Method::GET, "/", "pageRoot", root)
            .summary("The root: on to the account page")
            .response(
                302,
                json!({
                    "description": "To /account",
                    "headers": {"Location": {"schema": {"type": "string"}}},
                }),
            ),
    ];
    for (path, file, id, summary) in PAGES {
        routes.push(
            Route::new(
                Method::GET,
                path,
                id,
                move |cx: Cx, _: Public, _: NoInput| page(cx, file),
            )
            .summary(summary)
            .response(200, body("The page", &["text/html"])),
        );
    }
    routes.push(
        Route::new(
            Method::GET,
            "/assets/{file}",
            "asset",
            |cx: Cx, _: Public, _: NoInput| {
                let parts = vec![cx.param(0).to_string()];
                file_at(cx, parts)
            },
        )
        .summary("A script or style sheet of the pages")
        .response(200, body("The file", ASSET_TYPES))
        .errors(&[404]),
    );
    routes.push(
        Route::new(
            Method::GET,
            "/assets/{folder}/{file}",
            "assetInFolder",
            |cx: Cx, _: Public, _: NoInput| {
                let parts = vec![cx.param(0).to_string(), cx.param(1).to_string()];
                file_at(cx, parts)
            },
        )
        .summary("A page, script or style sheet of a group of pages")
        .response(200, body("The file", ASSET_TYPES))
        .errors(&[404]),
    );
    Surface {
        name: "pages",
        error_schema: super::flow::flow_error_schema,
        render: super::error_response,
        routes,
    }
}

/// The media types the files of `assets/` come in.
const ASSET_TYPES: &[&str] = &["text/html", "text/css", "text/javascript"];

fn body(description: &str, types: &[&str]) -> Value {
    let content: serde_json::Map<String, Value> = types
        .iter()
        .map(|t| (t.to_string(), json!({"schema": {"type": "string"}})))
        .collect();
    json!({"description": description, "content": content})
}

// The root has nothing of its own: people who open it want their account.
async fn root(_: Cx, _: Public, _: NoInput) -> Result<Raw> {
    Ok(Raw(super::oauth::redirect("/account")))
}

async fn page(cx: Cx, file: &'static str) -> Result<Raw> {
    serve(&cx, file)
}

/// A file under `assets/`, by its path segments; none of them may climb out.
async fn file_at(cx: Cx, parts: Vec<String>) -> Result<Raw> {
    if parts
        .iter()
        .any(|p| p.is_empty() || p == "." || p == ".." || p.contains(['/', '\\']))
    {
        return Err(no_such_file());
    }
    serve(&cx, &parts.join("/"))
}

fn no_such_file() -> Error {
    Error::not_found(Thing::Route, "no such file")
}

fn serve(cx: &Cx, file: &str) -> Result<Raw> {
    let content = Assets::get(file).ok_or_else(no_such_file)?;
    let mime = mime_guess::from_path(file).first_or_octet_stream();
    let mut r = super::respond(200, "text/plain", content.data.into_owned());
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if file.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        with_csrf_cookie(&cx.app, &cx.req, &mut r);
    } else {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
    }
    Ok(Raw(r))
}

/// Pages hand the browser its CSRF cookie; the flow calls require it back in a header.
fn with_csrf_cookie(app: &App, req: &super::Req, r: &mut Response) {
    if !cookies::has_csrf(req)
        && let Ok(v) = HeaderValue::from_str(&cookies::csrf_cookie(app))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}
