//! What the admin console's generated instance forms rely on: each strategy's published config
//! schema marks its secrets `writeOnly` (and nothing else), and a refused config names the
//! config field at fault in the error's `field` (`instanceConfig.issuer`), so the page can put
//! the message under that field.

mod common;

use common::Server;
use serde_json::{Value, json};

#[test]
fn secret_config_fields_are_write_only_in_the_published_schema() {
    let s = Server::start();
    let list: Value = s.get("/auth/api/login/strategy", None).json().unwrap();
    for st in list.as_array().unwrap() {
        let name = st["typeName"].as_str().unwrap();
        let props = st["instanceConfigSchema"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (field, schema) in &props {
            let secret = field == "clientSecret";
            assert_eq!(
                schema.get("writeOnly") == Some(&json!(true)),
                secret,
                "{name}.{field}: writeOnly exactly for secrets: {schema}"
            );
            assert!(
                schema["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{name}.{field} has a title for its label: {schema}"
            );
        }
        if ["github", "gitlab", "oidc"].contains(&name) {
            assert!(props.contains_key("clientSecret"), "{name}");
        }
    }
}

/// The answer's `field` and message for a refused oidc/github config.
fn refused(s: &Server, admin: &str, kind: &str, config: Value) -> (String, String) {
    let r = s.post(
        &format!("/auth/api/login/strategy/{kind}/instance"),
        Some(admin),
        &json!({ "name": "x", "instanceConfig": config }),
    );
    assert_eq!(r.status(), 400);
    let v: Value = r.json().unwrap();
    (
        v["field"].as_str().unwrap_or("").to_string(),
        v["message"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn a_refused_config_names_its_field() {
    let s = Server::start();
    let admin = s.admin("admin");

    let (field, message) = refused(&s, &admin, "oidc", json!({ "clientId": "a" }));
    assert_eq!(field, "instanceConfig.issuer");
    assert!(message.contains("issuer"), "{message}");

    let (field, message) = refused(&s, &admin, "oidc", json!({ "issuer": 7, "clientId": "a" }));
    assert_eq!(field, "instanceConfig.issuer");
    assert!(message.starts_with("instanceConfig.issuer"), "{message}");

    let (field, _) = refused(&s, &admin, "github", json!({ "clientId": "a" }));
    assert_eq!(field, "instanceConfig.clientSecret");

    let (field, _) = refused(
        &s,
        &admin,
        "github",
        json!({ "clientId": "a", "clientSecret": "b", "scopes": "read:user" }),
    );
    assert_eq!(field, "instanceConfig.scopes");

    // An item of a list: the message says which, `field` names the list.
    let (field, message) = refused(
        &s,
        &admin,
        "github",
        json!({ "clientId": "a", "clientSecret": "b", "scopes": ["read:user", 7] }),
    );
    assert_eq!(field, "instanceConfig.scopes");
    assert!(message.starts_with("instanceConfig.scopes[1]"), "{message}");

    let (field, message) = refused(
        &s,
        &admin,
        "github",
        json!({ "clientId": "a", "clientSecret": "b", "colour": "red" }),
    );
    assert_eq!(field, "instanceConfig.colour");
    assert!(message.contains("colour"), "{message}");

    // Checks past the shape already named their field; they still do.
    let (field, _) = refused(
        &s,
        &admin,
        "github",
        json!({ "clientId": " ", "clientSecret": "b" }),
    );
    assert_eq!(field, "instanceConfig.clientId");

    // Not an object at all: the config as a whole.
    let r = s.post(
        "/auth/api/login/strategy/userpass/instance",
        Some(&admin),
        &json!({ "instanceConfig": "x" }),
    );
    assert_eq!(r.status(), 400);
}
