//! Account takeover through linking, tried as an attacker would (issue 7, items 1 and 3).
//!
//! `POST /api/v2/users/{attacker}/identities {"link_with": <token>}` merges the user the token
//! speaks for into the attacker. Only a register token, or an ID token that the secondary got
//! just now through the caller's own app, may do that: any other token of the victim (an
//! access token leaked to an app or a resource server, an ID token of another app, an old ID
//! token) is 401 and changes nothing. Provider-mode linking with `update:users` must not claim
//! an identity that waits for registration: only its register token may.

mod common;

use common::{Server, jwt_claims};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "password-of-user";
const LINK_SCOPES: &str = "openid login read:current_user update:current_user_identities";

struct Ctx {
    s: Server,
    admin: String,
    local: String,
    /// The app the attacker and the victim both use: it may ask for ID tokens and for the
    /// scopes of the identities API.
    app: (String, String),
    /// Another app the victim uses.
    other: (String, String),
}

fn setup(extra: &[&str]) -> Ctx {
    let s = Server::start_with(extra);
    let admin = s.admin("admin");
    let local = s.instance_id("local");
    let scopes = [
        "openid",
        "login",
        "read:current_user",
        "update:current_user_identities",
    ];
    let app = s.client_with_secret(
        &admin,
        &json!({"name": "shared app", "requiresSecret": true, "validScopes": scopes,
                "allowPasswordGrant": true}),
    );
    let other = s.client_with_secret(
        &admin,
        &json!({"name": "other app", "requiresSecret": true, "validScopes": scopes,
                "allowPasswordGrant": true}),
    );
    Ctx {
        s,
        admin,
        local,
        app,
        other,
    }
}

impl Ctx {
    fn user(&self, username: &str) -> String {
        self.s.user(&self.admin, username).0
    }

    /// A password grant on `client`; returns the token response.
    fn tokens(&self, client: &(String, String), username: &str) -> Value {
        let r = self
            .s
            .password_grant(client, username, PASSWORD, Some(LINK_SCOPES));
        assert_eq!(r.status(), 200, "{:?}", r.text());
        let t: Value = r.json().unwrap();
        assert!(t["id_token"].is_string(), "{t}");
        t
    }

    fn link_with(&self, primary: &str, caller: &str, token: &str) -> Response {
        self.s.post(
            &format!("/api/v2/users/{primary}/identities"),
            Some(caller),
            &json!({"link_with": token}),
        )
    }

    /// The subjects of `user`'s identities, as the identities API lists them.
    fn subjects(&self, user: &str) -> Vec<String> {
        let t = self.s.token("admin", "read:users");
        let r = self.s.get(&format!("/api/v2/users/{user}"), Some(&t));
        assert_eq!(r.status(), 200, "{:?}", r.text());
        let u: Value = r.json().unwrap();
        u["identities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["user_id"].as_str().unwrap().to_string())
            .collect()
    }

    fn merge_events(&self) -> Vec<Value> {
        let events: Value = self
            .s
            .get("/auth/api/login/audit", Some(&self.admin))
            .json()
            .unwrap();
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "user.merge")
            .cloned()
            .collect()
    }

    /// The victim is untouched: still there, still with only their own login, still able to
    /// log in as themself; the attacker gained nothing; nobody was merged.
    fn assert_intact(&self, victim: &str, victim_name: &str, attacker: &str, attacker_name: &str) {
        let r = self
            .s
            .get(&format!("/auth/api/login/user/{victim}"), Some(&self.admin));
        assert_eq!(r.status(), 200, "the victim still exists");
        assert_eq!(self.subjects(victim), [victim_name]);
        assert_eq!(self.subjects(attacker), [attacker_name]);
        let t = self.tokens(&self.app, victim_name);
        assert_eq!(
            jwt_claims(t["access_token"].as_str().unwrap())["sub"],
            victim,
            "the victim still logs in as themself"
        );
        assert!(self.merge_events().is_empty(), "{:?}", self.merge_events());
    }
}

/// Asserts the Auth0 401 `invalid_token`.
fn refused(r: Response) {
    assert_eq!(r.status().as_u16(), 401, "{:?}", r.text());
    let v: Value = r.json().unwrap();
    assert_eq!(v["statusCode"], 401, "{v}");
    assert_eq!(v["errorCode"], "invalid_token", "{v}");
}

#[test]
fn the_victims_access_token_does_not_merge_the_victim() {
    let c = setup(&[]);
    let victim = c.user("victim");
    let mallory = c.user("mallory");
    let caller = c.tokens(&c.app, "mallory")["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // An access token the victim's app holds (leaked, or a resource server's copy), of the
    // same app as the attacker's token and of another one, and one made by the CLI.
    let same_app = c.tokens(&c.app, "victim")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let other_app = c.tokens(&c.other, "victim")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let cli = c.s.token("victim", "login");
    for token in [&same_app, &other_app, &cli] {
        refused(c.link_with(&mallory, &caller, token));
    }
    c.assert_intact(&victim, "victim", &mallory, "mallory");
}

#[test]
fn an_id_token_issued_to_another_client_does_not_merge() {
    let c = setup(&[]);
    let victim = c.user("victim");
    let mallory = c.user("mallory");
    let caller = c.tokens(&c.app, "mallory")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // A fresh ID token of the victim, but for the other app.
    let id_token = c.tokens(&c.other, "victim")["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(jwt_claims(&id_token)["aud"], c.other.0.as_str());
    refused(c.link_with(&mallory, &caller, &id_token));

    // A caller token that belongs to no app (made by the CLI) matches no ID token's audience.
    let victims_app_id_token = c.tokens(&c.app, "victim")["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let cli_caller = c.s.token("mallory", "login update:current_user_identities");
    refused(c.link_with(&mallory, &cli_caller, &victims_app_id_token));

    // Garbage and forgeries: not a JWT, a JWT without a signature, one with a made-up typ.
    let claims = jwt_claims(&victims_app_id_token);
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let parts: Vec<&str> = victims_app_id_token.split('.').collect();
    let retyped = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "ES256", "typ": "register+jwt"})),
        parts[1],
        parts[2]
    );
    for token in ["not-a-token", "a.b.c", &unsigned, &retyped] {
        refused(c.link_with(&mallory, &caller, token));
    }
    c.assert_intact(&victim, "victim", &mallory, "mallory");
}

#[test]
fn a_stale_id_token_does_not_merge() {
    // The limit is one second here, so the test can wait past it.
    let c = setup(&["--link-max-auth-age", "1"]);
    let victim = c.user("victim");
    let mallory = c.user("mallory");
    let victim_tokens = c.tokens(&c.app, "victim");
    let id_token = victim_tokens["id_token"].as_str().unwrap().to_string();
    let refresh = victim_tokens["refresh_token"].as_str().unwrap().to_string();
    let auth_time = jwt_claims(&id_token)["auth_time"].as_i64().unwrap();
    // Past the limit: auth_time counts whole seconds, so three seconds are past one for sure.
    std::thread::sleep(Duration::from_secs(3));
    let caller = c.tokens(&c.app, "mallory")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    refused(c.link_with(&mallory, &caller, &id_token));

    // A refresh makes a new ID token, but not a new login: its auth_time is the old one.
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/token"))
            .basic_auth(&c.app.0, Some(&c.app.1))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let refreshed = r.json::<Value>().unwrap()["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(jwt_claims(&refreshed)["auth_time"], auth_time);
    refused(c.link_with(&mallory, &caller, &refreshed));
    c.assert_intact(&victim, "victim", &mallory, "mallory");
}

#[test]
fn id_tokens_of_logins_that_ended_do_not_merge() {
    let c = setup(&[]);
    let bob = c.user("bob");
    let carol = c.user("carol");
    let caller = c.tokens(&c.app, "bob")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Carol logs out everywhere after her login: that ID token no longer speaks for her.
    let id_token = c.tokens(&c.app, "carol")["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let own = c.s.token("carol", "login");
    let r = c.s.post(
        &format!("/auth/api/login/user/{carol}/revoke-tokens"),
        Some(&own),
        &json!({}),
    );
    assert!(r.status().is_success(), "{:?}", r.text());
    refused(c.link_with(&bob, &caller, &id_token));

    // Blocked: a fresh login, then an admin blocks her.
    let id_token = c.tokens(&c.app, "carol")["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.s.put(
        &format!("/auth/api/login/user/{carol}"),
        Some(&c.admin),
        &json!({"isBlocked": true}),
    );
    assert_eq!(r.status(), 200);
    refused(c.link_with(&bob, &caller, &id_token));
    assert_eq!(c.subjects(&bob), ["bob"]);
    assert_eq!(c.subjects(&carol), ["carol"]);
    assert!(c.merge_events().is_empty());
}

#[test]
fn a_fresh_id_token_of_the_callers_app_merges() {
    let c = setup(&[]);
    let bob = c.user("bob");
    let carol = c.user("carol");
    let caller = c.tokens(&c.app, "bob")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id_token = c.tokens(&c.app, "carol")["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(jwt_claims(&id_token)["aud"], c.app.0.as_str());
    let r = c.link_with(&bob, &caller, &id_token);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let list: Value = r.json().unwrap();
    let got: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["bob", "carol"]);
    // Carol is merged: gone as a user, her password logs in as bob, the audit log says so.
    let r =
        c.s.get(&format!("/auth/api/login/user/{carol}"), Some(&c.admin));
    assert_eq!(r.status(), 404);
    let t = c.tokens(&c.app, "carol");
    assert_eq!(jwt_claims(t["access_token"].as_str().unwrap())["sub"], bob);
    let events = c.merge_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"], bob);
    assert_eq!(events[0]["details"]["secondary"], carol);
    // Her ID token was good once: her user is gone now.
    refused(c.link_with(&bob, &caller, &id_token));

    // The user's own fresh ID token: the primary and the secondary are the same.
    let own_id = c.tokens(&c.app, "bob")["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = c.link_with(&bob, &caller, &own_id);
    assert_eq!(r.status(), 400);
    let v: Value = r.json().unwrap();
    assert_eq!(v["message"], "Main identity and the new one are the same.");
    assert_eq!(v["errorCode"], "invalid_body");
}

#[test]
fn provider_mode_does_not_claim_a_waiting_identity() {
    let c = setup(&[]);
    let bob = c.user("bob");
    let admin = c.s.token("admin", "login update:users read:users");
    // Anyone can make a password identity that waits for registration.
    let r = c.s.post(
        &format!(
            "/auth/api/login/strategy-instance/{}/userpass/register",
            c.local
        ),
        None,
        &json!({"username": "waiting", "password": "waiting password"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let register_token = r.json::<Value>().unwrap()["register_token"]
        .as_str()
        .unwrap()
        .to_string();

    for body in [
        json!({"provider": "userpass", "user_id": "waiting"}),
        json!({"provider": "userpass", "user_id": "waiting", "connection_id": c.local}),
    ] {
        let r = c.s.post(
            &format!("/api/v2/users/{bob}/identities"),
            Some(&admin),
            &body,
        );
        assert_eq!(r.status(), 404, "{:?}", r.text());
        let v: Value = r.json().unwrap();
        assert_eq!(v["statusCode"], 404, "{v}");
    }
    assert_eq!(c.subjects(&bob), ["bob"]);

    // The identity still waits: its password login answers with a register token, and its
    // register token still makes an account of it.
    let r =
        c.s.password_grant(&c.app, "waiting", "waiting password", Some("login"));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    assert_eq!(r.json::<Value>().unwrap()["scope"], "login-register");
    let r = c.s.post(
        "/auth/api/login/registration/self-register",
        None,
        &json!({"register_token": register_token, "username": "waiting",
                "displayName": "Waiting"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
}

#[test]
fn the_link_age_limit_is_range_checked() {
    for bad in ["0", "3601", "-5", "soon"] {
        let out = std::process::Command::new(common::BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg(format!("--link-max-auth-age={bad}"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--link-max-auth-age"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let help = std::process::Command::new(common::BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--link-max-auth-age"));
}

/// A browser in miniature: keeps keyward's cookies and sends the CSRF header, as the pages do.
#[derive(Default)]
struct Browser {
    cookies: std::collections::HashMap<String, String>,
    set_cookies: Vec<String>,
}

impl Browser {
    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn keep(&mut self, r: &Response) {
        for v in r.headers().get_all("set-cookie") {
            let c = v.to_str().unwrap().to_string();
            let (kv, _) = c.split_once(';').unwrap_or((&c, ""));
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.insert(k.into(), val.into());
            self.set_cookies.push(c.clone());
        }
    }
    /// Opens the login page (which hands out the CSRF cookie).
    fn open(s: &Server) -> Browser {
        let mut b = Browser::default();
        let r = s.http.get(s.url("/auth/flow/login")).send().unwrap();
        assert_eq!(r.status(), 200);
        b.keep(&r);
        assert!(b.cookies.contains_key("kw_csrf"));
        b
    }
    fn call(&mut self, s: &Server, path: &str, body: &Value) -> (u16, Value) {
        let r = s
            .http
            .post(s.url(path))
            .header("cookie", self.header())
            .header("x-csrf-token", self.cookies["kw_csrf"].clone())
            .json(body)
            .send()
            .unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }
    fn login(&mut self, s: &Server, username: &str, password: &str) -> Value {
        let (status, v) = self.call(
            s,
            "/auth/api/flow/login",
            &json!({"username": username, "password": password}),
        );
        assert_eq!(status, 200, "{v}");
        v
    }
}

/// The refusal the pages show for a register token made elsewhere.
fn other_browser((status, v): (u16, Value)) {
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["code"], "register_token_other_browser", "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("another browser"),
        "{v}"
    );
}

#[test]
fn the_pages_take_register_tokens_only_from_the_browser_that_made_them() {
    let c = setup(&[]);
    let alice = c.user("alice");
    let users_before: Value =
        c.s.get("/auth/api/login/user", Some(&c.admin))
            .json()
            .unwrap();
    let login_data = || {
        let r = c.s.get(
            &format!("/auth/api/login/user/{alice}/login-data"),
            Some(&c.admin),
        );
        let v: Value = r.json().unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| l["description"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    // The victim is signed in on the pages.
    let mut victim = Browser::open(&c.s);
    victim.login(&c.s, "alice", PASSWORD);

    // The attacker makes a password login of their own, with no login at all, and a second
    // one through the pages of their own browser.
    let r = c.s.post(
        &format!(
            "/auth/api/login/strategy-instance/{}/userpass/register",
            c.local
        ),
        None,
        &json!({"username": "mallory-pass", "password": "mallory password"}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let api_token = r.json::<Value>().unwrap()["register_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut attacker = Browser::open(&c.s);
    let answer = attacker.login(&c.s, "mallory-pass", "mallory password");
    let page_token = answer["registerToken"].as_str().unwrap().to_string();
    assert!(
        answer["redirect"]
            .as_str()
            .unwrap()
            .starts_with("/auth/flow/register#registerToken="),
        "{answer}"
    );
    let bind = attacker
        .set_cookies
        .iter()
        .find(|c| c.starts_with("kw_browser="))
        .expect("the login sets the binding cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(bind.contains(attr), "{bind}");
    }

    // In the victim's browser, neither token does anything on the pages.
    for token in [&api_token, &page_token] {
        other_browser(victim.call(
            &c.s,
            "/auth/api/flow/suggestion",
            &json!({"registerToken": token}),
        ));
        other_browser(victim.call(
            &c.s,
            "/auth/api/flow/link",
            &json!({"registerToken": token}),
        ));
        other_browser(victim.call(
            &c.s,
            "/auth/api/flow/register",
            &json!({"registerToken": token, "username": "trapped", "displayName": "Trapped"}),
        ));
    }
    // A browser without any binding cookie is refused the same way.
    let mut bare = Browser::open(&c.s);
    other_browser(bare.call(
        &c.s,
        "/auth/api/flow/suggestion",
        &json!({"registerToken": page_token}),
    ));
    // Nothing changed: alice has her own login only, no account was made, the attacker's login
    // still waits (its password login answers with a register token).
    assert_eq!(login_data(), ["alice"]);
    let users_after: Value =
        c.s.get("/auth/api/login/user", Some(&c.admin))
            .json()
            .unwrap();
    assert_eq!(users_after["items"], users_before["items"]);
    let r =
        c.s.password_grant(&c.app, "mallory-pass", "mallory password", Some("login"));
    assert_eq!(r.json::<Value>().unwrap()["scope"], "login-register");

    // In the browser that made it, the page token works, and the page learns what it attaches.
    let (status, v) = attacker.call(
        &c.s,
        "/auth/api/flow/suggestion",
        &json!({"registerToken": page_token}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["login"],
        json!({"instance": "local", "type": "userpass", "account": "mallory-pass"})
    );
    // An invalid token is still the plain 401.
    let (status, _) = attacker.call(
        &c.s,
        "/auth/api/flow/suggestion",
        &json!({"registerToken": "not-a-token"}),
    );
    assert_eq!(status, 401);

    // The victim's own flow: a login of hers that waits, signed in with in her browser, is
    // linked from her browser.
    let r = c.s.post(
        &format!(
            "/auth/api/login/strategy-instance/{}/userpass/register",
            c.local
        ),
        None,
        &json!({"username": "alice-second", "password": "second password"}),
    );
    assert_eq!(r.status(), 201);
    let own = victim.login(&c.s, "alice-second", "second password")["registerToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, v) = victim.call(&c.s, "/auth/api/flow/link", &json!({"registerToken": own}));
    assert_eq!(status, 200, "{v}");
    let mut got = login_data();
    got.sort();
    assert_eq!(got, ["alice", "alice-second"]);
}
