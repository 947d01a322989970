//! The login API routes of the admin console: the dashboard's figures (`/stats`), the signing
//! keys (`/signing-key`) and the audit log's filters (`/audit`, `/audit/actions`).

mod common;

use common::{BIN, Server, expect_error, oauth_error};
use serde_json::{Value, json};

fn get_json(s: &Server, path: &str, token: &str) -> Value {
    let r = s.get(path, Some(token));
    assert_eq!(r.status(), 200, "{path}");
    r.json().unwrap()
}

/// The header of a JWT, without checking anything.
fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn ms(t: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn only_admins_reach_the_console_routes() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (_, user) = s.user(&admin, "bob");
    for (method, path) in [
        ("GET", "/auth/api/login/stats"),
        ("GET", "/auth/api/login/signing-key"),
        ("POST", "/auth/api/login/signing-key"),
        ("GET", "/auth/api/login/audit?user=self"),
        ("GET", "/auth/api/login/audit/actions"),
    ] {
        let body = (method == "POST").then(|| json!({}));
        expect_error(s.send(method, path, Some(&user), body.as_ref()), 403);
        expect_error(s.send(method, path, None, body.as_ref()), 401);
    }
    // The refused rotation changed nothing.
    let keys = get_json(&s, "/auth/api/login/signing-key", &admin);
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
}

#[test]
fn the_dashboard_figures_count_what_was_done() {
    let s = Server::start();
    let admin = s.admin("admin");
    let client = s.client_with_secret(
        &admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    );
    let before = get_json(&s, "/auth/api/login/stats", &admin);
    let mut ids = vec![];
    for name in ["ann", "ben", "cat"] {
        ids.push(s.user(&admin, name).0);
    }
    let r = s.put(
        &format!("/auth/api/login/user/{}", ids[2]),
        Some(&admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);
    for _ in 0..2 {
        oauth_error(
            s.password_grant(&client, "ann", "wrong password", None),
            400,
            "invalid_grant",
        );
    }
    assert_eq!(
        s.password_grant(&client, "ann", "password-of-user", None)
            .status(),
        200
    );
    // Five failures in a row on ben: the sixth attempt is throttled.
    for _ in 0..5 {
        s.password_grant(&client, "ben", "wrong password", None);
    }
    assert_eq!(
        s.password_grant(&client, "ben", "password-of-user", None)
            .status(),
        429
    );
    let st = get_json(&s, "/auth/api/login/stats", &admin);
    let n = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_i64).unwrap();
    assert_eq!(
        n(&st, "/users/total"),
        n(&before, "/users/total") + 3,
        "{st}"
    );
    assert_eq!(n(&st, "/users/total"), 4, "{st}");
    assert_eq!(n(&st, "/users/admins"), 1, "{st}");
    assert_eq!(n(&st, "/users/blocked"), 1, "{st}");
    assert_eq!(n(&st, "/logins/success") - n(&before, "/logins/success"), 1);
    assert_eq!(n(&st, "/logins/failure") - n(&before, "/logins/failure"), 7);
    assert_eq!(
        n(&st, "/logins/throttled") - n(&before, "/logins/throttled"),
        1
    );
    // Each user made with a password has a password identity on `local`.
    let local = st["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "local")
        .unwrap_or_else(|| panic!("{st}"));
    assert_eq!(local["type"], "userpass");
    assert_eq!(local["count"], 4, "{st}");
    assert!(
        st["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "passkey")
    );
    // The CLI's tokens have sessions too: the admin's, each user's, ann's password grant.
    assert!(n(&st, "/activeSessions") >= 5, "{st}");
    let keys = st["signingKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["signing"], true);
    assert_eq!(keys[0]["alg"], "ES256");
    assert!(keys[0]["ageSeconds"].as_i64().unwrap() >= 0);
    let out = std::process::Command::new(BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        st["version"],
        String::from_utf8(out.stdout).unwrap().trim_end()
    );
    let wal = {
        let mut p = s.db_path().into_os_string();
        p.push("-wal");
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    };
    let file = std::fs::metadata(s.db_path()).unwrap().len();
    assert!(n(&st, "/databaseBytes") > 0);
    assert!(
        n(&st, "/databaseBytes") as u64 <= file + wal + (1 << 20),
        "{st}"
    );
    // The process started less than a day ago: the figures count from its start.
    let (started, since, now) = (
        ms(&st["startedAt"]),
        ms(&st["logins"]["countingSince"]),
        ms(&st["time"]),
    );
    assert!(started <= since && since <= now, "{st}");
    assert!(since - started < 60_000, "{st}");
}

#[test]
fn rotating_in_the_api_signs_with_the_new_key_at_once_and_publishes_it() {
    let s = Server::start();
    let admin = s.admin("admin");
    let old = get_json(&s, "/auth/api/login/signing-key", &admin);
    let old_kid = old[0]["kid"].as_str().unwrap().to_string();
    assert_eq!(old[0]["signing"], true);
    assert_eq!(old[0]["published"], true);
    assert_eq!(old[0]["retiredAt"], Value::Null);
    // A bad algorithm names the field and rotates nothing.
    let m = expect_error(
        s.post(
            "/auth/api/login/signing-key",
            Some(&admin),
            &json!({"alg": "HS256"}),
        ),
        400,
    );
    assert!(m.contains("alg"), "{m}");
    let r = s.post("/auth/api/login/signing-key", Some(&admin), &json!({}));
    assert_eq!(r.status(), 201);
    let new: Value = r.json().unwrap();
    let kid = new["kid"].as_str().unwrap().to_string();
    assert_ne!(kid, old_kid);
    assert_eq!(new["alg"], "ES256", "the algorithm of the key that signed");
    assert_eq!(new["signing"], true);
    assert_eq!(new["published"], true);
    // Published before the answer, and the very next token is signed with it.
    let jwks: Value = s.get("/.well-known/jwks.json", None).json().unwrap();
    let kids: Vec<_> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&kid.as_str()) && kids.contains(&old_kid.as_str()));
    let client = s.client_with_secret(
        &admin,
        &json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
    );
    s.user(&admin, "bob");
    let r = s.password_grant(&client, "bob", "password-of-user", None);
    let token = r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(jwt_header(&token)["kid"], kid.as_str());
    // The old key is retired, still published, and its tokens (the admin's) still work.
    let list = get_json(&s, "/auth/api/login/signing-key", &admin);
    assert_eq!(list[0]["kid"], kid.as_str());
    assert_eq!(list[1]["kid"], old_kid.as_str());
    assert_eq!(list[1]["signing"], false);
    assert_eq!(list[1]["published"], true);
    assert!(list[1]["retiredAt"].is_string());
    // Another algorithm on request.
    let r = s.post(
        "/auth/api/login/signing-key",
        Some(&admin),
        &json!({"alg": "EdDSA"}),
    );
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["alg"], "EdDSA");
    // Audited, with the admin as actor and the key as target.
    let events = get_json(&s, "/auth/api/login/audit?action=key.rotate", &admin);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["target"], kid.as_str());
    assert_eq!(events[1]["actorName"], "admin");
    assert_eq!(events[1]["details"]["alg"], "ES256");
    // The CLI rotates through the same function: the same audit action.
    let out = s.cli(&["keys", "rotate"], None);
    assert!(out.status.success());
    let events = get_json(&s, "/auth/api/login/audit?action=key.rotate", &admin);
    assert_eq!(events[0]["actor"], "cli");
    assert_eq!(events.as_array().unwrap().len(), 3);
}

#[test]
fn the_audit_log_filters_by_user_action_and_time() {
    let s = Server::start();
    let admin = s.admin("admin");
    let me = get_json(&s, "/auth/api/login/user/self", &admin)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (bob, bob_token) = s.user(&admin, "bob");
    let (carl, _) = s.user(&admin, "carl");
    let t_mid = chrono::Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // bob acts himself (as actor), the admin acts on carl (as target).
    let r = s.put(
        "/auth/api/login/user/self",
        Some(&bob_token),
        &json!({"displayName": "Bob B."}),
    );
    assert_eq!(r.status(), 200);
    let r = s.put(
        &format!("/auth/api/login/user/{carl}"),
        Some(&admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);
    s.new_client(&admin, &json!({"name": "app", "validScopes": ["login"]}));

    let q = |query: &str| -> Vec<Value> {
        get_json(&s, &format!("/auth/api/login/audit?{query}"), &admin)
            .as_array()
            .unwrap()
            .clone()
    };
    let all = q("");
    assert!(
        all.windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64())
    );
    // By user: bob's own change (actor), the CLI's token for him and his creation (target),
    // newest first.
    let of_bob = q(&format!("user={bob}"));
    let actions: Vec<_> = of_bob
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.update", "token.issue", "user.create"],
        "{of_bob:?}"
    );
    assert_eq!(of_bob[0]["actor"], bob.as_str());
    assert_eq!(of_bob[0]["actorName"], "bob");
    assert_eq!(of_bob[1]["actor"], "cli");
    assert_eq!(of_bob[1]["actorName"], Value::Null);
    assert_eq!(of_bob[2]["target"], bob.as_str());
    assert_eq!(of_bob[2]["targetName"], "bob");
    assert_eq!(of_bob[2]["actorName"], "admin");
    // The admin acted on everything else: the same rows the whole log has, bob's own left out.
    let of_admin = q(&format!("user={me}"));
    let want: Vec<_> = all
        .iter()
        .filter(|e| e["actor"] == me.as_str() || e["target"] == me.as_str())
        .collect();
    assert_eq!(of_admin.iter().collect::<Vec<_>>(), want);
    // An event of the CLI names no user.
    let cli: Vec<_> = all.iter().filter(|e| e["actor"] == "cli").collect();
    assert!(!cli.is_empty());
    assert!(cli.iter().all(|e| e["actorName"].is_null()));
    // By action: exact, and by prefix.
    let updates = q("action=user.update");
    assert_eq!(updates.len(), 2);
    assert!(updates.iter().all(|e| e["action"] == "user.update"));
    let user_events = q("action=user.");
    let want: Vec<_> = all
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("user."))
        .collect();
    assert_eq!(user_events.iter().collect::<Vec<_>>(), want);
    assert!(user_events.len() >= 5, "{user_events:?}");
    assert!(q("action=user").is_empty(), "a prefix ends in a dot");
    // User and action together.
    let carl_updates = q(&format!("user={carl}&action=user.update"));
    assert_eq!(carl_updates.len(), 1);
    assert_eq!(carl_updates[0]["targetName"], "carl");
    // By time: from the middle on, up to the middle.
    let mid = t_mid.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let later = q(&format!("from={}", urlencode(&mid)));
    let earlier = q(&format!("to={}", urlencode(&mid)));
    assert_eq!(later.len() + earlier.len(), all.len());
    let later_actions: Vec<_> = later
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        later_actions,
        ["client.create", "user.update", "user.update"]
    );
    assert!(
        earlier
            .iter()
            .all(|e| ms(&e["time"]) <= t_mid.timestamp_millis())
    );
    let window = q(&format!(
        "from={}&to={}&action=user.",
        urlencode(&mid),
        urlencode(&chrono::Utc::now().to_rfc3339())
    ));
    assert_eq!(window.len(), 2);
    // A time range with nothing in it.
    assert!(q("to=2001-01-01T00:00:00Z").is_empty());
    assert!(q("from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z").is_empty());
    // Paging a filtered list by cursor: page by page, the same events.
    let mut paged = vec![];
    let mut before = String::new();
    loop {
        let page = q(&format!("action=user.&limit=2{before}"));
        if page.is_empty() {
            break;
        }
        before = format!("&before={}", page.last().unwrap()["id"]);
        paged.extend(page);
    }
    assert_eq!(paged, user_events);
    // A bad time is a 400 that names the field; so is a bad limit.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2025-13-01T00:00:00Z", "to"),
        ("limit=0", "limit"),
    ] {
        let m = expect_error(
            s.get(&format!("/auth/api/login/audit?{query}"), Some(&admin)),
            400,
        );
        assert!(m.starts_with(field), "{query}: {m}");
    }
    // The actions a filter may offer: keyward's own and those in the log.
    let actions = get_json(&s, "/auth/api/login/audit/actions", &admin);
    let actions: Vec<_> = actions
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for a in [
        "user.create",
        "user.update",
        "client.create",
        "key.rotate",
        "token.issue",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    assert!(actions.windows(2).all(|w| w[0] < w[1]));
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[test]
fn the_console_page_cannot_be_framed_and_loads_only_its_own_scripts() {
    let s = Server::start();
    let r = s.get("/admin", None);
    assert_eq!(r.status(), 200);
    let h = r.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    for part in [
        "frame-ancestors 'none'",
        "script-src 'self'",
        "default-src 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = r.text().unwrap();
    // Every script is one of keyward's own files, and none is inline.
    let scripts: Vec<&str> = html
        .match_indices("<script")
        .map(|(i, _)| &html[i..])
        .collect();
    assert!(scripts.len() >= 5, "{html}");
    for tag in scripts {
        assert!(tag.starts_with("<script src=\"/assets/"), "{tag:.60}");
    }
    // Each script it names is served.
    for src in html.split("src=\"").skip(1) {
        let path = &src[..src.find('"').unwrap()];
        if path.starts_with("/assets/") {
            assert_eq!(s.get(path, None).status(), 200, "{path}");
        }
    }
}

#[test]
fn racing_rotations_each_answer_their_own_new_key() {
    let s = Server::start();
    let admin = s.admin("admin");
    let answers: Vec<(u16, Value)> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                sc.spawn(|| {
                    let r = s.post("/auth/api/login/signing-key", Some(&admin), &json!({}));
                    (r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut kids: Vec<String> = answers
        .iter()
        .map(|(status, v)| {
            assert_eq!(*status, 201, "{v}");
            v["kid"].as_str().unwrap().to_string()
        })
        .collect();
    kids.sort();
    kids.dedup();
    assert_eq!(kids.len(), 6, "six distinct new keys");
    // Exactly one key signs, and it is one of the six.
    let list = get_json(&s, "/auth/api/login/signing-key", &admin);
    let signing: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["signing"] == true)
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(signing.len(), 1, "{list}");
    assert!(kids.contains(&signing[0]));
}
