//! The sync API: provider access tokens for a client-credentials token with the scope `sync`,
//! refreshed with the provider when they (nearly) expire.

mod common;

use common::upstream::{Browser, Flavor, StandIn, param, signed_in};
use common::{Server, expect_error};
use serde_json::{Value, json};

struct Setup {
    s: Server,
    gh: StandIn,
    admin: String,
    inst: String,
    /// The identity of the linked GitHub account.
    identity: String,
    user: String,
}

fn cc_token(s: &Server, admin: &str, user: &str, scopes: &[&str]) -> String {
    let (id, secret) = s.client_with_secret(
        admin,
        &json!({"name": "syncer", "requiresSecret": true, "validScopes": scopes,
                "clientCredentialFlowUser": user}),
    );
    let r = s
        .http
        .post(s.url("/auth/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text());
    r.json::<Value>().unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn link(s: &Server, b: &mut Browser, inst: &str) {
    let (_, p) = b.get(&s.url(&format!("/auth/api/flow/redirect/{inst}?mode=link")));
    let (_, back) = b.get(&p);
    let (_, to) = b.get(&back);
    assert!(to.starts_with("/account?linked="), "{to}");
}

fn setup(sync: bool, expires_in: i64) -> Setup {
    let gh = StandIn::start(Flavor::Github);
    gh.set(|x| x.expires_in = expires_in);
    let s = Server::start();
    let admin = s.admin("admin");
    let r = s.post(
        "/auth/api/login/strategy-instance",
        Some(&admin),
        &json!({"name": "GitHub", "type": "github", "instanceConfig": gh.config(),
                "isSyncActive": sync}),
    );
    assert_eq!(r.status(), 201);
    let inst = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (user, _) = s.user(&admin, "alice");
    link(&s, &mut signed_in(&s, "alice"), &inst);
    let data: Vec<Value> = s
        .get(
            &format!("/auth/api/login/user/{user}/login-data"),
            Some(&admin),
        )
        .json()
        .unwrap();
    let identity = data
        .iter()
        .find(|d| d["strategyInstance"]["id"] == inst.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    Setup {
        s,
        gh,
        admin,
        inst,
        identity,
        user,
    }
}

#[test]
fn sync_token_is_for_client_credentials_with_the_sync_scope() {
    let x = setup(true, 3600);
    let path = format!("/auth/api/sync/token/{}", x.identity);
    expect_error(x.s.get(&path, None), 401);
    // A user's own token with the scope: not client credentials.
    let user_token = x.s.token("admin", "sync");
    expect_error(x.s.get(&path, Some(&user_token)), 403);
    // Client credentials without the scope.
    let login_only = cc_token(&x.s, &x.admin, &x.user, &["login"]);
    let r = x.s.get(&path, Some(&login_only));
    assert_eq!(r.status(), 403);
    let v: Value = r.json().unwrap();
    // The login API's code for a missing scope.
    assert_eq!(v["code"], "scope_missing", "{v}");
    assert!(v["message"].as_str().unwrap().contains("sync"), "{v}");

    let cc = cc_token(&x.s, &x.admin, &x.user, &["sync"]);
    let r = x.s.get(&path, Some(&cc));
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert!(v["token"].as_str().unwrap().starts_with("at-"), "{v}");
    assert!(v["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["strategyInstance"]["id"], x.inst.as_str());
    assert_eq!(
        x.gh.get(|s| s.refreshes),
        0,
        "a fresh token is not refreshed"
    );
    // The same token again, from the database.
    let again: Value = x.s.get(&path, Some(&cc)).json().unwrap();
    assert_eq!(again["token"], v["token"]);

    expect_error(
        x.s.get("/auth/api/sync/token/not-an-identity", Some(&cc)),
        404,
    );
    // The password identity of the same user: its instance does not sync.
    let data: Vec<Value> =
        x.s.get(
            &format!("/auth/api/login/user/{}/login-data", x.user),
            Some(&x.admin),
        )
        .json()
        .unwrap();
    let password = data
        .iter()
        .find(|d| d["strategyInstance"]["name"] == "local")
        .unwrap();
    expect_error(
        x.s.get(
            &format!("/auth/api/sync/token/{}", password["id"].as_str().unwrap()),
            Some(&cc),
        ),
        409,
    );
}

#[test]
fn an_instance_without_sync_keeps_no_tokens() {
    let x = setup(false, 3600);
    let cc = cc_token(&x.s, &x.admin, &x.user, &["sync"]);
    expect_error(
        x.s.get(&format!("/auth/api/sync/token/{}", x.identity), Some(&cc)),
        409,
    );
    // Turning sync on later does not invent a grant: the login did not give one.
    let r = x.s.put(
        &format!("/auth/api/login/strategy-instance/{}", x.inst),
        Some(&x.admin),
        &json!({"isSyncActive": true}),
    );
    assert_eq!(r.status(), 200);
    let m = expect_error(
        x.s.get(&format!("/auth/api/sync/token/{}", x.identity), Some(&cc)),
        409,
    );
    assert!(m.contains("did not grant sync"), "{m}");
}

#[test]
fn an_expiring_token_is_refreshed_and_a_refused_refresh_needs_a_new_login() {
    // Expires within the minute: refreshed on every call.
    let x = setup(true, 30);
    let cc = cc_token(&x.s, &x.admin, &x.user, &["sync"]);
    let path = format!("/auth/api/sync/token/{}", x.identity);
    let first: Value = x.s.get(&path, Some(&cc)).json().unwrap();
    assert_eq!(x.gh.get(|s| s.refreshes), 1);
    let second: Value = x.s.get(&path, Some(&cc)).json().unwrap();
    assert_eq!(
        x.gh.get(|s| s.refreshes),
        2,
        "the rotated refresh token was kept"
    );
    assert_ne!(first["token"], second["token"]);

    x.gh.set(|s| s.refuse_refresh = true);
    expect_error(x.s.get(&path, Some(&cc)), 502);
    let m = expect_error(x.s.get(&path, Some(&cc)), 409);
    assert!(m.contains("log in"), "{m}");

    // A new login with the account gives new tokens.
    x.gh.set(|s| {
        s.refuse_refresh = false;
        s.expires_in = 3600;
    });
    let mut b = Browser::new();
    let (_, p) = b.get(&x.s.url(&format!("/auth/api/flow/redirect/{}", x.inst)));
    assert_eq!(param(&p, "code_challenge_method").as_deref(), Some("S256"));
    let (_, back) = b.get(&p);
    assert_eq!(b.get(&back).1, "/account");
    let r = x.s.get(&path, Some(&cc));
    assert_eq!(r.status(), 200);
}
