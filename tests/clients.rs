//! OAuth clients on the login API: the admin routes, client secrets, the built-in clients of
//! keyward's own pages, and client authentication as the token endpoint uses it.

mod common;

use common::{Server, expect_error};
use keyward::config::{Common, LogFormat, Settings};
use keyward::core::clients;
use serde_json::{Value, json};

const CLIENTS: &str = "/auth/api/login/client";

fn client_path(id: &str) -> String {
    format!("{CLIENTS}/{id}")
}

fn secrets_path(id: &str) -> String {
    format!("{CLIENTS}/{id}/client-secret")
}

/// Opens the running server's state from its database, as the CLI does, to call the core.
fn open(s: &Server, public_url: Option<&str>) -> keyward::App {
    keyward::open(
        &Common {
            db: s.db_path(),
            public_url: public_url.map(str::to_string),
            log_format: LogFormat::Text,
        },
        Settings::default(),
        None,
    )
    .unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn create(s: &Server, admin: &str, body: &Value) -> Value {
    let r = s.post(CLIENTS, Some(admin), body);
    assert_eq!(r.status(), 201);
    r.json().unwrap()
}

fn new_secret(s: &Server, admin: &str, id: &str) -> Value {
    let r = s.post(&secrets_path(id), Some(admin), &json!({}));
    assert_eq!(r.status(), 201);
    r.json().unwrap()
}

fn audit(s: &Server, admin: &str) -> Vec<Value> {
    let r = s.get("/auth/api/login/audit?limit=500", Some(admin));
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

#[test]
fn create_read_update_delete() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (bob, _) = s.user(&admin, "bob");

    // Only the name is needed; everything else has a default.
    let c = create(&s, &admin, &json!({"name": "  Tracker  "}));
    let id = c["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(
        c,
        json!({
            "id": id, "name": "Tracker", "redirectUrls": [], "isValid": true,
            "requiresSecret": true, "validScopes": ["login"], "clientCredentialFlowUser": null,
            "allowPasswordGrant": false, "builtin": false, "resources": [],
        })
    );
    let got: Value = s.get(&client_path(&id), Some(&admin)).json().unwrap();
    assert_eq!(got, c);
    let list: Vec<Value> = s.get(CLIENTS, Some(&admin)).json().unwrap();
    assert!(list.contains(&c));

    // Every field can be given on creation.
    let full = create(
        &s,
        &admin,
        &json!({
            "name": "Sync", "redirectUrls": ["https://app.example.com/cb", "http://localhost:3000/cb"],
            "isValid": false, "requiresSecret": true, "validScopes": ["sync", "read:users", "sync"],
            "clientCredentialFlowUser": bob, "allowPasswordGrant": true,
        }),
    );
    assert_eq!(
        full["redirectUrls"],
        json!(["https://app.example.com/cb", "http://localhost:3000/cb"])
    );
    assert_eq!(full["validScopes"], json!(["sync", "read:users"]));
    assert_eq!(full["clientCredentialFlowUser"], json!(bob));
    assert_eq!(full["isValid"], false);
    assert_eq!(full["allowPasswordGrant"], true);

    // Update: only the fields given change.
    let r = s.put(
        &client_path(&id),
        Some(&admin),
        &json!({
            "name": "Issue tracker", "redirectUrls": ["http://tracker.internal/callback"],
            "validScopes": ["openid", "profile", "email", "login"],
            "clientCredentialFlowUser": bob, "allowPasswordGrant": true,
        }),
    );
    assert_eq!(r.status(), 200);
    let u: Value = r.json().unwrap();
    assert_eq!(u["name"], "Issue tracker");
    assert_eq!(
        u["redirectUrls"],
        json!(["http://tracker.internal/callback"])
    );
    assert_eq!(
        u["validScopes"],
        json!(["openid", "profile", "email", "login"])
    );
    assert_eq!(u["clientCredentialFlowUser"], json!(bob));
    assert_eq!(u["allowPasswordGrant"], true);
    assert_eq!(u["isValid"], true);
    assert_eq!(u["requiresSecret"], true);

    // What GET answers can be sent back as it is, with a change.
    let mut back = u.clone();
    back["isValid"] = json!(false);
    back["clientCredentialFlowUser"] = Value::Null;
    let r = s.put(&client_path(&id), Some(&admin), &back);
    assert_eq!(r.status(), 200);
    let u2: Value = r.json().unwrap();
    assert_eq!(u2, back);
    // Public now that no user needs it.
    let r = s.put(
        &client_path(&id),
        Some(&admin),
        &json!({"requiresSecret": false}),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["requiresSecret"], false);

    // Delete.
    let r = s.delete(&client_path(&id), Some(&admin));
    assert_eq!(r.status(), 200);
    let d: Value = r.json().unwrap();
    assert_eq!(d["operation"], "delete-client");
    assert_eq!(d["result"], "success");
    assert!(d["time"].is_string());
    expect_error(s.get(&client_path(&id), Some(&admin)), 404);
    expect_error(s.delete(&client_path(&id), Some(&admin)), 404);
    expect_error(
        s.put(&client_path(&id), Some(&admin), &json!({"name": "x"})),
        404,
    );
    let list: Vec<Value> = s.get(CLIENTS, Some(&admin)).json().unwrap();
    assert!(!list.iter().any(|c| c["id"] == json!(id)));

    // Deleting the client-credentials user leaves the client without one.
    let fid = full["id"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/auth/api/login/user/{bob}"), Some(&admin))
            .status(),
        200
    );
    let f: Value = s.get(&client_path(fid), Some(&admin)).json().unwrap();
    assert_eq!(f["clientCredentialFlowUser"], Value::Null);

    // Each change is in the audit log.
    let actions: Vec<String> = audit(&s, &admin)
        .iter()
        .filter(|e| e["target"] == json!(id))
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "client.delete",
            "client.update",
            "client.update",
            "client.update",
            "client.create"
        ]
    );
}

#[test]
fn admin_only() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (_, bob) = s.user(&admin, "bob");
    let id = create(&s, &admin, &json!({"name": "App"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fp = new_secret(&s, &admin, &id)["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"name": "Other"});
    let calls: Vec<(&str, String, Option<&Value>)> = vec![
        ("GET", CLIENTS.to_string(), None),
        ("POST", CLIENTS.to_string(), Some(&body)),
        ("GET", client_path(&id), None),
        ("PUT", client_path(&id), Some(&body)),
        ("DELETE", client_path(&id), None),
        ("GET", secrets_path(&id), None),
        ("POST", secrets_path(&id), None),
        ("DELETE", format!("{}/{fp}", secrets_path(&id)), None),
    ];
    for (method, path, body) in &calls {
        let m = expect_error(s.send(method, path, None, *body), 401);
        assert!(m.contains("not logged in"), "{method} {path}: {m}");
        expect_error(s.send(method, path, Some("not-a-token"), *body), 401);
        expect_error(s.send(method, path, Some(&bob), *body), 403);
    }
    // Nothing changed.
    let c: Value = s.get(&client_path(&id), Some(&admin)).json().unwrap();
    assert_eq!(c["name"], "App");
    let secrets: Vec<Value> = s.get(&secrets_path(&id), Some(&admin)).json().unwrap();
    assert_eq!(secrets.len(), 1);
    let list: Vec<Value> = s.get(CLIENTS, Some(&admin)).json().unwrap();
    assert_eq!(list.len(), 3, "two built-in clients and App");
}

#[test]
fn bad_input_is_refused_and_names_the_field() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (bob, _) = s.user(&admin, "bob");
    let post = |body: &Value| expect_error(s.post(CLIENTS, Some(&admin), body), 400);
    let expect = |body: Value, field: &str| {
        let m = post(&body);
        assert!(m.contains(field), "{body}: {m}");
    };

    expect(json!({}), "name");
    expect(json!({"name": ""}), "name");
    expect(json!({"name": "   "}), "name");
    expect(json!({"name": 5}), "name");
    expect(json!({"name": "x".repeat(201)}), "name");
    for urls in [
        json!("https://a.example/cb"),
        json!([1]),
        json!(["javascript:alert(1)"]),
        json!(["data:text/html,hi"]),
        json!(["ftp://a.example/cb"]),
        json!(["com.example.app:/cb"]),
        json!(["/relative/cb"]),
        json!(["a.example/cb"]),
        json!(["https://a.example/cb#frag"]),
        json!(["https://a.example/cb#"]),
        json!([" https://a.example/cb"]),
        json!(["https://a.example/c b"]),
        json!(["http://"]),
    ] {
        expect(json!({"name": "x", "redirectUrls": urls}), "redirectUrls");
    }
    for scopes in [
        json!("login"),
        json!([true]),
        json!(["admin"]),
        json!(["login register"]),
        json!(["login-register"]),
    ] {
        expect(json!({"name": "x", "validScopes": scopes}), "validScopes");
    }
    for flag in ["isValid", "requiresSecret", "allowPasswordGrant"] {
        expect(json!({"name": "x", flag: "yes"}), flag);
    }
    expect(
        json!({"name": "x", "clientCredentialFlowUser": "00000000-0000-0000-0000-000000000000"}),
        "clientCredentialFlowUser: no such user",
    );
    expect(
        json!({"name": "x", "clientCredentialFlowUser": 7}),
        "clientCredentialFlowUser",
    );
    let m = post(&json!({"name": "x", "requiresSecret": false, "clientCredentialFlowUser": bob}));
    assert!(
        m.contains("clientCredentialFlowUser") && m.contains("requiresSecret"),
        "{m}"
    );
    expect(
        json!({"name": "x", "secret": "abc"}),
        "unknown field secret",
    );
    expect(
        json!({"name": "x", "builtin": true}),
        "unknown field builtin",
    );
    expect(json!({"name": "x", "id": "mine"}), "unknown field id");
    let r = s
        .http
        .post(s.url(CLIENTS))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    expect_error(r, 400);
    expect_error(s.post(CLIENTS, Some(&admin), &json!(["name"])), 400);

    // Nothing was created by any of these.
    let list: Vec<Value> = s.get(CLIENTS, Some(&admin)).json().unwrap();
    assert_eq!(list.len(), 2);

    // The same rules on update, and nothing changes on a refused update.
    let c = create(
        &s,
        &admin,
        &json!({"name": "App", "clientCredentialFlowUser": bob}),
    );
    let path = client_path(c["id"].as_str().unwrap());
    let put = |body: Value, field: &str| {
        let m = expect_error(s.put(&path, Some(&admin), &body), 400);
        assert!(m.contains(field), "{body}: {m}");
    };
    put(json!({"name": ""}), "name");
    put(
        json!({"redirectUrls": ["javascript:alert(1)"]}),
        "redirectUrls",
    );
    put(json!({"validScopes": ["login-register"]}), "validScopes");
    put(json!({"requiresSecret": false}), "clientCredentialFlowUser");
    put(
        json!({"clientCredentialFlowUser": "00000000-0000-0000-0000-000000000000"}),
        "clientCredentialFlowUser",
    );
    put(json!({"id": "another"}), "id");
    put(json!({"builtin": true}), "builtin");
    put(
        json!({"isValid": true, "color": "red"}),
        "unknown field color",
    );
    let after: Value = s.get(&path, Some(&admin)).json().unwrap();
    assert_eq!(after, c);
}

#[test]
fn wrong_method_and_unknown_paths() {
    let s = Server::start();
    let admin = s.admin("admin");
    let id = create(&s, &admin, &json!({"name": "App"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (method, path) in [
        ("PUT", CLIENTS.to_string()),
        ("DELETE", CLIENTS.to_string()),
        ("POST", client_path(&id)),
        ("PATCH", client_path(&id)),
        ("PUT", secrets_path(&id)),
        ("DELETE", secrets_path(&id)),
        ("GET", format!("{}/abc", secrets_path(&id))),
        ("POST", format!("{}/abc", secrets_path(&id))),
    ] {
        expect_error(s.send(method, &path, Some(&admin), None), 405);
    }
    for path in [
        format!("{}/other", client_path(&id)),
        format!("{}/abc/def", secrets_path(&id)),
        format!("{CLIENTS}s"),
    ] {
        expect_error(s.get(&path, Some(&admin)), 404);
    }
    expect_error(s.get(&client_path("no-such-client"), Some(&admin)), 404);
}

#[test]
fn secrets_are_shown_once_and_deleted_by_fingerprint() {
    let s = Server::start();
    let admin = s.admin("admin");
    let id = create(&s, &admin, &json!({"name": "App"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = create(&s, &admin, &json!({"name": "Other"}))["id"]
        .as_str()
        .unwrap()
        .to_string();

    let empty: Vec<Value> = s.get(&secrets_path(&id), Some(&admin)).json().unwrap();
    assert!(empty.is_empty());

    let one = new_secret(&s, &admin, &id);
    let text = one["secretText"].as_str().unwrap().to_string();
    let fp = one["fingerprint"].as_str().unwrap().to_string();
    // 32 random bytes in base64url; the fingerprint is 12 bytes of its SHA-256, base64url.
    assert_eq!(text.len(), 43, "{text}");
    assert_eq!(fp.len(), 16, "{fp}");
    assert_eq!(fp, clients::fingerprint(&text));
    assert_eq!(one["censored"], json!(format!("{}…", &text[..4])));
    assert_eq!(one.as_object().unwrap().len(), 3, "{one}");
    // A body with fields is refused; an empty object is fine.
    expect_error(
        s.post(
            &secrets_path(&id),
            Some(&admin),
            &json!({"secretText": "mine"}),
        ),
        400,
    );

    let two = new_secret(&s, &admin, &id);
    let text2 = two["secretText"].as_str().unwrap().to_string();
    assert_ne!(text, text2);
    assert_ne!(one["fingerprint"], two["fingerprint"]);

    // The list never shows the secret.
    let r = s.get(&secrets_path(&id), Some(&admin));
    assert_eq!(r.status(), 200);
    let raw = r.text().unwrap();
    assert!(!raw.contains(&text) && !raw.contains(&text2), "{raw}");
    let list: Vec<Value> = serde_json::from_str(&raw).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["fingerprint"], json!(fp));
    assert_eq!(list[0]["censored"], one["censored"]);
    assert!(list[0]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(list[0].as_object().unwrap().len(), 3, "{}", list[0]);

    // A fingerprint only deletes a secret of its own client.
    expect_error(
        s.delete(&format!("{}/{fp}", secrets_path(&other)), Some(&admin)),
        404,
    );
    let r = s.delete(&format!("{}/{fp}", secrets_path(&id)), Some(&admin));
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().unwrap()["operation"],
        "delete-client-secret"
    );
    expect_error(
        s.delete(&format!("{}/{fp}", secrets_path(&id)), Some(&admin)),
        404,
    );
    let list: Vec<Value> = s.get(&secrets_path(&id), Some(&admin)).json().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["fingerprint"], two["fingerprint"]);

    // Unknown clients.
    let none = secrets_path("no-such-client");
    expect_error(s.get(&none, Some(&admin)), 404);
    expect_error(s.post(&none, Some(&admin), &json!({})), 404);
    expect_error(s.delete(&format!("{none}/{fp}"), Some(&admin)), 404);

    // No secret ever reaches the audit log.
    let events = audit(&s, &admin);
    let text_of_log = serde_json::to_string(&events).unwrap();
    assert!(!text_of_log.contains(&text) && !text_of_log.contains(&text2));
    let fp2 = two["fingerprint"].clone();
    assert!(events.iter().any(|e| e["action"] == "client-secret.create"
        && e["target"] == json!(id)
        && e["details"]["fingerprint"] == fp2));
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "client-secret.delete"
                && e["details"]["fingerprint"] == json!(fp))
    );

    // Deleting the client takes its secrets with it.
    assert_eq!(s.delete(&client_path(&id), Some(&admin)).status(), 200);
    let db = rusqlite::Connection::open(s.db_path()).unwrap();
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM client_secrets WHERE client_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn built_in_clients_follow_the_public_url() {
    let s = Server::start();
    let admin = s.admin("admin");
    let list: Vec<Value> = s.get(CLIENTS, Some(&admin)).json().unwrap();
    for (id, name, path) in [
        ("keyward-account", "Account page", "/account"),
        ("keyward-admin", "Admin console", "/admin"),
    ] {
        let c = list.iter().find(|c| c["id"] == id).expect(id);
        assert_eq!(
            *c,
            json!({
                // The public URL (localhost) and the loopback address it listens on.
                "id": id, "name": name,
                "redirectUrls": [format!("{}{path}", s.public_url()), format!("{}{path}", s.base)],
                "isValid": true, "requiresSecret": false, "validScopes": ["login"],
                "clientCredentialFlowUser": null, "allowPasswordGrant": false, "builtin": true,
                "resources": [],
            })
        );
        let one: Value = s.get(&client_path(id), Some(&admin)).json().unwrap();
        assert_eq!(one, *c);

        let m = expect_error(s.delete(&client_path(id), Some(&admin)), 409);
        assert!(m.contains("built-in"), "{m}");
        let m = expect_error(
            s.put(
                &client_path(id),
                Some(&admin),
                &json!({"redirectUrls": ["https://evil.example/cb"]}),
            ),
            400,
        );
        assert!(m.contains("redirectUrls"), "{m}");
        let m = expect_error(
            s.put(
                &client_path(id),
                Some(&admin),
                &json!({"requiresSecret": true}),
            ),
            400,
        );
        assert!(m.contains("requiresSecret"), "{m}");
        expect_error(
            s.put(&client_path(id), Some(&admin), &json!({"builtin": false})),
            400,
        );
        // Sent back as read, with another name: the URLs are no change.
        let mut back = c.clone();
        back["name"] = json!(format!("{name} (renamed)"));
        let r = s.put(&client_path(id), Some(&admin), &back);
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().unwrap(), back);
    }

    // The redirect URL is computed from the public URL at read time, not stored.
    let app = open(&s, Some("https://login.example.org/"));
    let c = block_on(clients::get(&app, clients::ACCOUNT_CLIENT)).unwrap();
    assert_eq!(c.redirect_urls, ["https://login.example.org/account"]);
    assert!(c.builtin && !c.requires_secret);
    let c = block_on(clients::get(&app, clients::ADMIN_CLIENT)).unwrap();
    assert_eq!(c.redirect_urls, ["https://login.example.org/admin"]);
    assert!(c.allows_redirect("https://login.example.org/admin"));
    assert!(!c.allows_redirect(&format!("{}/admin", s.base)));
    // And opening the state again (as every start does) makes no second copy.
    let list: Vec<Value> = s.get(CLIENTS, Some(&admin)).json().unwrap();
    assert_eq!(list.len(), 2);
}

#[test]
fn authenticate_checks_client_and_secret() {
    let s = Server::start();
    let admin = s.admin("admin");
    let confidential = create(&s, &admin, &json!({"name": "Backend"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let public = create(
        &s,
        &admin,
        &json!({"name": "SPA", "requiresSecret": false, "redirectUrls": ["http://127.0.0.1:9/cb"]}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = new_secret(&s, &admin, &confidential)["secretText"]
        .as_str()
        .unwrap()
        .to_string();
    let other_secret = new_secret(&s, &admin, &public)["secretText"]
        .as_str()
        .unwrap()
        .to_string();

    let app = open(&s, None);
    let auth = |id: &str, secret: Option<&str>| block_on(clients::authenticate(&app, id, secret));
    let refused = |id: &str, secret: Option<&str>| {
        let e = auth(id, secret).expect_err("refused");
        assert_eq!(
            e.reason,
            keyward::error::Reason::ClientUnauthenticated,
            "{e}"
        );
    };

    let c = auth(&confidential, Some(&secret)).unwrap();
    assert_eq!(c.id, confidential);
    assert!(c.allows_scope("login") && !c.allows_scope("sync"));
    refused(&confidential, None);
    refused(&confidential, Some(""));
    refused(&confidential, Some("wrong"));
    refused(&confidential, Some(&secret[1..]));
    // Another client's secret is not this client's.
    refused(&confidential, Some(&other_secret));
    refused("no-such-client", Some(&secret));
    refused("", None);

    // A public client needs no secret, but a secret it presents must be its own.
    assert_eq!(auth(&public, None).unwrap().id, public);
    assert_eq!(auth(&public, Some("")).unwrap().id, public);
    assert_eq!(auth(&public, Some(&other_secret)).unwrap().id, public);
    refused(&public, Some(&secret));
    assert!(auth(clients::ACCOUNT_CLIENT, None).is_ok());

    // A second secret works beside the first; a deleted one stops at once.
    let second = new_secret(&s, &admin, &confidential);
    let second_text = second["secretText"].as_str().unwrap();
    assert!(auth(&confidential, Some(second_text)).is_ok());
    let fp = clients::fingerprint(&secret);
    assert_eq!(
        s.delete(
            &format!("{}/{fp}", secrets_path(&confidential)),
            Some(&admin)
        )
        .status(),
        200
    );
    // The change was made by the server, another process than this state: it is seen once
    // this state's snapshot of the client has aged (the server itself sees it at once).
    let aged = || std::thread::sleep(keyward::db::snapshot::FRESH_FOR);
    aged();
    refused(&confidential, Some(&secret));
    assert!(auth(&confidential, Some(second_text)).is_ok());

    // A disabled client is refused even with the right secret; enabled again, it works.
    let set_valid = |v: bool| {
        let r = s.put(
            &client_path(&confidential),
            Some(&admin),
            &json!({"isValid": v}),
        );
        assert_eq!(r.status(), 200);
    };
    set_valid(false);
    aged();
    refused(&confidential, Some(second_text));
    set_valid(true);
    aged();
    assert!(auth(&confidential, Some(second_text)).is_ok());

    // A deleted client is unknown.
    assert_eq!(
        s.delete(&client_path(&confidential), Some(&admin)).status(),
        200
    );
    aged();
    refused(&confidential, Some(second_text));
}
