//! The login API's route table as a whole: every route answers a wrong method with 405 and an
//! `Allow` header naming the methods it takes, unknown paths get 404, both in the login API's
//! error shape, and bodies are JSON objects.

mod common;

use common::{Server, expect_error};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// Asserts the login API's error shape with its machine-readable code.
fn login_error(r: reqwest::blocking::Response, status: u16, code: &str) -> Value {
    let allow = r
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    let v: Value = r.json().unwrap();
    assert_eq!(v["statusCode"], status, "{v}");
    assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    assert_eq!(v["code"], code, "{v}");
    json!({"body": v, "allow": allow})
}

/// The login API's paths in the OpenAPI document, each with its methods.
fn login_paths(s: &Server) -> BTreeMap<String, BTreeSet<String>> {
    let doc: Value = s.get("/api/openapi.json", None).json().unwrap();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/auth/api/login/"))
        .map(|(p, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_ascii_uppercase())
                .collect();
            (p.clone(), methods)
        })
        .collect()
}

/// A concrete path for a template: every `{param}` becomes `x`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "x" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_route_answers_a_wrong_method_with_405_and_allow() {
    let s = Server::start();
    let admin = s.admin("admin");
    let paths = login_paths(&s);
    // Every area of the surface is in the table (so the loop below cannot pass empty).
    for p in [
        "/auth/api/login/strategy",
        "/auth/api/login/strategy/{type}/instance",
        "/auth/api/login/strategy-instance/{id}",
        "/auth/api/login/strategy-instance/{id}/userpass/register",
        "/auth/api/login/registration/self-register",
        "/auth/api/login/user/{id}",
        "/auth/api/login/user/{id}/login-data",
        "/auth/api/login/login-data/{id}/password",
        "/auth/api/login/user/{id}/active-login",
        "/auth/api/login/active-login/{id}",
        "/auth/api/login/user/{id}/revoke-tokens",
        "/auth/api/login/client/{id}/client-secret/{fingerprint}",
        "/auth/api/login/audit",
    ] {
        assert!(paths.contains_key(p), "{p} is not in the document");
    }
    assert_eq!(paths.len(), 28, "{:?}", paths.keys());
    let operations: usize = paths.values().map(BTreeSet::len).sum();
    assert_eq!(operations, 40);

    for (template, methods) in &paths {
        let path = concrete(template);
        for wrong in METHODS.iter().filter(|m| !methods.contains(**m)) {
            // With and without a token: the method is refused before anyone is asked to log in.
            for token in [None, Some(admin.as_str())] {
                let r = s.send(wrong, &path, token, None);
                assert_eq!(r.status(), 405, "{wrong} {path}");
                let got = login_error(r, 405, "method_not_allowed");
                let allow: BTreeSet<String> = got["allow"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{wrong} {path}: no Allow header"))
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .collect();
                assert_eq!(&allow, methods, "{wrong} {path}");
            }
        }
    }
}

#[test]
fn unknown_paths_are_404_in_the_login_shape() {
    let s = Server::start();
    let admin = s.admin("admin");
    for path in [
        "/auth/api/login",
        "/auth/api/login/",
        "/auth/api/login/nope",
        "/auth/api/login/users",
        "/auth/api/login/user/self/nope",
        "/auth/api/login/user/x/login-data/y",
        "/auth/api/login/strategy/userpass/instance/extra",
        "/auth/api/login/strategy-instance/x/userpass",
        "/auth/api/login/strategy-instance/x/github/register",
        "/auth/api/login/registration",
        "/auth/api/login/registration/nope",
        "/auth/api/login/client/x/client-secret/y/z",
        "/auth/api/login/audit/1",
    ] {
        for method in METHODS {
            for token in [None, Some(admin.as_str())] {
                let r = s.send(method, path, token, None);
                assert_eq!(r.status(), 404, "{method} {path}");
                assert!(r.headers().get("allow").is_none(), "{method} {path}");
                login_error(r, 404, "not_found");
            }
        }
    }
}

#[test]
fn a_body_is_a_json_object_never_an_array_read_by_position() {
    let s = Server::start();
    let admin = s.admin("admin");
    // Positionally, this array is a complete new user, admin and password included.
    let user = json!(["mallory", "Mallory", null, true, "password-of-mallory"]);
    let m = expect_error(s.post("/auth/api/login/user", Some(&admin), &user), 400);
    assert!(m.contains("object"), "{m}");
    let client = json!(["App", null, null, null, null, null, null, null]);
    expect_error(s.post("/auth/api/login/client", Some(&admin), &client), 400);
    let instance = json!(["spare", "userpass", null, null, null, null, null]);
    expect_error(
        s.post("/auth/api/login/strategy-instance", Some(&admin), &instance),
        400,
    );
    let page: Value = s.get("/auth/api/login/user", Some(&admin)).json().unwrap();
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin"]);
    let clients: Vec<Value> = s
        .get("/auth/api/login/client", Some(&admin))
        .json()
        .unwrap();
    assert_eq!(clients.len(), 2, "only the built-in clients");
    let instances: Vec<Value> = s
        .get("/auth/api/login/strategy-instance", None)
        .json()
        .unwrap();
    let names: Vec<&str> = instances
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["local", "passkey"], "only the default instances");
}

/// A 400 in the login shape; returns (field, message).
fn bad_field(r: reqwest::blocking::Response) -> (String, String) {
    let v = login_error(r, 400, "invalid")["body"].clone();
    (
        v["field"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_refused_request_field_is_named_in_field_and_message() {
    let s = Server::start();
    let admin = s.admin("admin");

    // null is neither a boolean nor an object: refused on both forms of the instance calls.
    let r = s.post(
        "/auth/api/login/strategy-instance",
        Some(&admin),
        &json!({"type": "userpass", "name": "spare"}),
    );
    assert_eq!(r.status(), 201);
    let spare = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for f in [
        "isLoginActive",
        "isSelfRegisterActive",
        "isSyncActive",
        "doesImplicitRegister",
        "instanceConfig",
    ] {
        let mut body = json!({"type": "userpass"});
        body[f] = Value::Null;
        let (field, message) =
            bad_field(s.post("/auth/api/login/strategy-instance", Some(&admin), &body));
        assert_eq!(field, f, "{message}");
        assert!(message.contains(f), "{message}");
        let mut body = json!({});
        body[f] = Value::Null;
        let (field, _) = bad_field(s.put(
            &format!("/auth/api/login/strategy-instance/{spare}"),
            Some(&admin),
            &body,
        ));
        assert_eq!(field, f);
    }
    // The client's booleans likewise.
    let r = s.post(
        "/auth/api/login/client",
        Some(&admin),
        &json!({"name": "app"}),
    );
    assert_eq!(r.status(), 201);
    let app = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for f in ["isValid", "requiresSecret", "allowPasswordGrant"] {
        let mut body = json!({"name": "other"});
        body[f] = Value::Null;
        let (field, _) = bad_field(s.post("/auth/api/login/client", Some(&admin), &body));
        assert_eq!(field, f);
        let mut body = json!({});
        body[f] = Value::Null;
        let (field, _) = bad_field(s.put(
            &format!("/auth/api/login/client/{app}"),
            Some(&admin),
            &body,
        ));
        assert_eq!(field, f);
    }
    // Nothing was changed by the refused calls.
    assert_eq!(
        s.get("/auth/api/login/client", Some(&admin))
            .json::<Value>()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "other")
            .count(),
        0
    );

    // serde's own errors: a missing field, a wrong type, an unknown variant, an unknown field.
    let (field, message) = bad_field(s.post(
        "/auth/api/login/user",
        Some(&admin),
        &json!({"username": "gina"}),
    ));
    assert_eq!(field, "displayName", "{message}");
    let (field, _) = bad_field(s.post(
        "/auth/api/login/strategy-instance",
        Some(&admin),
        &json!({"type": "userpass", "isLoginActive": "yes"}),
    ));
    assert_eq!(field, "isLoginActive");
    let (field, _) = bad_field(s.post(
        "/auth/api/login/strategy-instance",
        Some(&admin),
        &json!({"type": "nope"}),
    ));
    assert_eq!(field, "type");
    let (field, _) = bad_field(s.post(
        "/auth/api/login/client",
        Some(&admin),
        &json!({"name": "x", "validScopes": ["login", 5]}),
    ));
    assert_eq!(field, "validScopes");
    let (field, _) = bad_field(s.post(
        "/auth/api/login/registration/data-suggestion",
        None,
        &json!({"register_token": "x", "username": "x"}),
    ));
    assert_eq!(field, "username");

    // A new password that is too short is the request's newPassword.
    let data: Value = s
        .get("/auth/api/login/user/self/login-data", Some(&admin))
        .json()
        .unwrap();
    let lid = data[0]["id"].as_str().unwrap();
    let (field, message) = bad_field(s.put(
        &format!("/auth/api/login/login-data/{lid}/password"),
        Some(&admin),
        &json!({"oldPassword": "correct horse battery", "newPassword": "short"}),
    ));
    assert_eq!(field, "newPassword");
    assert!(message.starts_with("newPassword "), "{message}");
}
