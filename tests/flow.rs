//! The flow surface (`/auth/api/flow/...`) and the pages as route tables: errors with the
//! machine-readable `code` and `field` the pages decide on, the password minimum in the
//! context, the 404/405 answers of the tables, and the pages' files.

mod common;

use common::*;
use reqwest::blocking::Response;
use serde_json::{Value, json};

const CSRF: &str = "t0k3n";

/// A flow call from a page of this browser: the CSRF cookie and header, and `cookies`.
fn call(s: &Server, path: &str, cookies: &str, body: &Value) -> Response {
    s.http
        .post(s.url(path))
        .header("cookie", format!("kw_csrf={CSRF}; {cookies}"))
        .header("x-csrf-token", CSRF)
        .json(body)
        .send()
        .unwrap()
}

/// The flow error shape: status, code and field (if any).
fn error_of(r: Response) -> (u16, String, Option<String>, String) {
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap();
    assert_eq!(v["statusCode"], status, "{v}");
    assert!(v["error"].is_string(), "{v}");
    (
        status,
        v["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {v}"))
            .into(),
        v["field"].as_str().map(str::to_string),
        v["message"].as_str().unwrap().into(),
    )
}

/// Logs in on the login page; returns the session cookie (`kw_session=...`).
fn page_login(s: &Server, username: &str, password: &str) -> String {
    let r = call(
        s,
        "/auth/api/flow/login",
        "",
        &json!({"username": username, "password": password}),
    );
    assert_eq!(r.status(), 200);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("kw_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn flow_errors_name_their_code_and_field() {
    let s = Server::start();
    let admin = s.admin("admin");
    s.user(&admin, "bob");

    // The register page's field rules: each error names its field.
    for (body, field) in [
        (
            json!({"username": "new", "password": "a long password", "email": "nope"}),
            "email",
        ),
        (
            json!({"username": "bad name!", "password": "a long password"}),
            "username",
        ),
        (json!({"username": "new", "password": "short"}), "password"),
        (json!({"username": "new"}), "password"),
        (
            json!({"username": "new", "password": "a long password", "displayName": "x".repeat(201)}),
            "displayName",
        ),
    ] {
        let (status, code, f, _) = error_of(call(&s, "/auth/api/flow/register", "", &body));
        assert_eq!((status, code.as_str()), (400, "invalid"), "{body}");
        assert_eq!(f.as_deref(), Some(field), "{body}");
    }
    // A taken username: 409 on the username field.
    let (status, code, f, _) = error_of(call(
        &s,
        "/auth/api/flow/register",
        "",
        &json!({"username": "bob", "password": "a long password"}),
    ));
    assert_eq!(
        (status, code.as_str(), f.as_deref()),
        (409, "conflict", Some("username"))
    );

    // The instance and the body's own fields are named as the request names them.
    let (status, code, f, m) = error_of(call(
        &s,
        "/auth/api/flow/login",
        "",
        &json!({"instanceId": "nothing", "username": "bob", "password": "password-of-user"}),
    ));
    assert_eq!(
        (status, code.as_str(), f.as_deref()),
        (400, "invalid", Some("instanceId")),
        "{m}"
    );
    assert!(m.starts_with("instanceId"), "{m}");
    for path in ["/auth/api/flow/register", "/auth/api/flow/link"] {
        let (status, _, f, m) = error_of(call(
            &s,
            path,
            "",
            &json!({"instanceId": "nothing", "username": "x", "password": "a long password"}),
        ));
        // The link page needs a session first (401); the register page names the instance.
        if status == 400 {
            assert_eq!(f.as_deref(), Some("instanceId"), "{path}: {m}");
        }
    }
    let (status, _, f, m) = error_of(call(
        &s,
        "/auth/api/flow/login",
        "",
        &json!({"password": "password-of-user"}),
    ));
    assert_eq!((status, f.as_deref()), (400, Some("username")), "{m}");

    // Without the CSRF header; a wrong password; a foreign register token.
    let r = s
        .http
        .post(s.url("/auth/api/flow/login"))
        .json(&json!({"username": "bob", "password": "password-of-user"}))
        .send()
        .unwrap();
    let (status, code, _, _) = error_of(r);
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let (status, code, _, _) = error_of(call(
        &s,
        "/auth/api/flow/login",
        "",
        &json!({"username": "bob", "password": "not it at all"}),
    ));
    assert_eq!((status, code.as_str()), (401, "wrong_credentials"));
    let local: Value = s
        .get("/auth/api/login/strategy-instance", None)
        .json()
        .unwrap();
    let local = local[0]["id"].as_str().unwrap().to_string();
    let w: Value = s
        .post(
            &format!("/auth/api/login/strategy-instance/{local}/userpass/register"),
            None,
            &json!({"username": "waiting", "password": "waiting password"}),
        )
        .json()
        .unwrap();
    let (status, code, _, _) = error_of(call(
        &s,
        "/auth/api/flow/suggestion",
        "",
        &json!({"registerToken": w["register_token"]}),
    ));
    assert_eq!(
        (status, code.as_str()),
        (403, "register_token_other_browser")
    );
    let (status, code, f, _) = error_of(call(
        &s,
        "/auth/api/flow/suggestion",
        "",
        &json!({"registerToken": " "}),
    ));
    assert_eq!(
        (status, code.as_str(), f.as_deref()),
        (400, "invalid", Some("registerToken"))
    );
}

#[test]
fn the_link_page_tells_its_conflicts_apart_by_code() {
    let s = Server::start();
    let admin = s.admin("admin");
    s.user(&admin, "alice");
    s.user(&admin, "bob");
    let session = page_login(&s, "alice", "password-of-user");
    let link = |username: &str, password: &str| {
        call(
            &s,
            "/auth/api/flow/link",
            &session,
            &json!({"username": username, "password": password}),
        )
    };
    // Nobody signed in: 401 before anything else.
    let (status, code, _, _) = error_of(call(
        &s,
        "/auth/api/flow/link",
        "",
        &json!({"username": "x", "password": "y"}),
    ));
    assert_eq!((status, code.as_str()), (401, "not_logged_in"));
    // Her own login, another account's, a short password for a new one.
    let (status, code, _, _) = error_of(link("alice", "password-of-user"));
    assert_eq!((status, code.as_str()), (409, "same_identity"));
    let (status, code, _, _) = error_of(link("bob", "password-of-user"));
    assert_eq!((status, code.as_str()), (409, "identity_taken"));
    let (status, code, f, _) = error_of(link("alice-two", "short"));
    assert_eq!(
        (status, code.as_str(), f.as_deref()),
        (400, "invalid", Some("password"))
    );
    let (status, code, f, _) = error_of(call(
        &s,
        "/auth/api/flow/link",
        &session,
        &json!({"password": "a long password"}),
    ));
    assert_eq!(
        (status, code.as_str(), f.as_deref()),
        (400, "invalid", Some("username"))
    );
    let r = link("alice-two", "a long password");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["redirect"], "/account");
}

#[test]
fn the_context_says_the_password_minimum() {
    let s = Server::start();
    let ctx: Value = s.get("/auth/api/flow/context", None).json().unwrap();
    assert_eq!(ctx["passwordMinLength"], 8, "{ctx}");
    assert_eq!(ctx["user"], Value::Null);
    assert_eq!(ctx["client"], Value::Null);
    assert_eq!(ctx["instances"][0]["type"], "userpass");
    // A password of that length is enough, one less is not: the same rule.
    let seven = call(
        &s,
        "/auth/api/flow/register",
        "",
        &json!({"username": "seven", "password": "1234567"}),
    );
    assert_eq!(error_of(seven).2.as_deref(), Some("password"));
    let eight = call(
        &s,
        "/auth/api/flow/register",
        "",
        &json!({"username": "eight", "password": "12345678"}),
    );
    assert_eq!(eight.status(), 200);
}

#[test]
fn route_tables_answer_404_and_405_in_the_flow_shape() {
    let s = Server::start();
    let r = s.get("/auth/api/flow/login", None);
    assert_eq!(r.headers()["allow"], "POST");
    let (status, code, _, _) = error_of(r);
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    let (status, code, _, _) = error_of(s.get("/auth/api/flow/nothing", None));
    assert_eq!((status, code.as_str()), (404, "not_found"));
    // The pages: GET only.
    let r = s.post("/account", None, &json!({}));
    assert_eq!(r.headers()["allow"], "GET");
    assert_eq!(error_of(r).0, 405);
    let (status, _, _, _) = error_of(s.get("/auth/flow/nothing", None));
    assert_eq!(status, 404);
}

#[test]
fn the_pages_and_their_files() {
    let s = Server::start();
    // The root sends people to their account.
    let r = s.get("/", None);
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/account");
    for (path, kind) in [
        ("/auth/flow/login", "text/html"),
        ("/auth/flow/register", "text/html"),
        ("/auth/flow/link", "text/html"),
        ("/auth/flow/setup", "text/html"),
        ("/auth/flow/problem", "text/html"),
        ("/account", "text/html"),
        ("/assets/common.js", "text/javascript"),
        ("/assets/providers.js", "text/javascript"),
        ("/assets/flow/problem.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
        ("/assets/flow/login.js", "text/javascript"),
        ("/assets/account/account.js", "text/javascript"),
    ] {
        let r = s.get(path, None);
        assert_eq!(r.status(), 200, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        // Pages hand out the CSRF cookie; files are cached.
        let csrf = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().starts_with("kw_csrf="));
        assert_eq!(csrf, kind == "text/html", "{path}");
    }
    // Nothing outside assets/, however the path is spelled.
    for path in [
        "/assets/nothing.js",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/..%2fCargo.toml",
        "/assets/flow/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/assets/flow/x/y.js",
    ] {
        let (status, code, _, _) = error_of(s.get(path, None));
        assert_eq!((status, code.as_str()), (404, "not_found"), "{path}");
    }
}
