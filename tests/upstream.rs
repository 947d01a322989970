//! Upstream logins (GitHub, GitLab, OIDC) against stand-ins of the providers on 127.0.0.1:
//! the redirect flow, implicit registration, linking, and every way it must fail.

mod common;

use common::upstream::{
    Browser, Flavor, StandIn, Tamper, closed_port, param, signed_in, silent_provider,
};
use common::{Server, expect_error};
use serde_json::{Value, json};

fn instance(
    s: &Server,
    admin: &str,
    kind: &str,
    name: &str,
    config: Value,
    extra: Value,
) -> String {
    let mut body = json!({"name": name, "type": kind, "instanceConfig": config});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = s.post("/auth/api/login/strategy-instance", Some(admin), &body);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let v: Value = r.json().unwrap();
    assert_eq!(
        v["callbackUrl"],
        format!(
            "{}/auth/api/flow/callback/{}",
            s.public_url(),
            v["id"].as_str().unwrap()
        )
    );
    v["id"].as_str().unwrap().to_string()
}

/// From the redirect to where the callback sends the browser.
fn round_trip(s: &Server, b: &mut Browser, inst: &str, mode: &str) -> String {
    let (status, to_provider) =
        b.get(&s.url(&format!("/auth/api/flow/redirect/{inst}?mode={mode}")));
    assert_eq!(status, 302);
    let (status, back) = b.get(&to_provider);
    assert_eq!(
        status, 302,
        "the stand-in refused the authorization request: {to_provider}"
    );
    let (status, to) = b.get(&back);
    assert_eq!(status, 302);
    to
}

/// A GitHub stand-in, a server with an admin, and a GitHub instance there:
/// `(stand-in, server, admin token, instance id)`.
fn github() -> (StandIn, Server, String, String) {
    let gh = StandIn::start(Flavor::Github);
    let s = Server::start();
    let admin = s.admin("admin");
    let inst = instance(&s, &admin, "github", "GitHub", gh.config(), json!({}));
    (gh, s, admin, inst)
}

/// Starts an upstream login at `inst` in `b`: (status, where the provider is asked).
fn started(b: &mut Browser, s: &Server, inst: &str) -> (u16, String) {
    b.get(&s.url(&format!("/auth/api/flow/redirect/{inst}")))
}

fn problem(to: &str) -> String {
    assert!(
        to.starts_with("/auth/flow/problem?"),
        "not the problem page: {to}"
    );
    param(to, "reason").unwrap()
}

fn register_token(to: &str) -> String {
    assert!(
        to.starts_with("/auth/flow/register"),
        "not the register page: {to}"
    );
    to.split_once("#registerToken=").unwrap().1.to_string()
}

fn self_register(s: &Server, token: &str, username: &str) -> String {
    let r = s.post(
        "/auth/api/login/registration/self-register",
        None,
        &json!({"register_token": token, "username": username, "displayName": username}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn login_data(s: &Server, admin: &str, user: &str) -> Vec<Value> {
    let r = s.get(
        &format!("/auth/api/login/user/{user}/login-data"),
        Some(admin),
    );
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().unwrap()
}

fn user_count(s: &Server, admin: &str) -> usize {
    let v: Value = s
        .get("/auth/api/login/user?limit=100", Some(admin))
        .json()
        .unwrap();
    v["items"].as_array().unwrap().len()
}

#[test]
fn github_unknown_account_registers_then_logs_in_with_the_session_cookie() {
    let (gh, s, admin, inst) = github();

    let mut b = Browser::new();
    let (status, to_provider) = started(&mut b, &s, &inst);
    assert_eq!(status, 302);
    assert!(to_provider.starts_with(&format!("{}/login/oauth/authorize?", gh.base)));
    assert_eq!(
        param(&to_provider, "code_challenge_method").unwrap(),
        "S256"
    );
    assert!(param(&to_provider, "state").unwrap().len() >= 22);
    assert!(
        b.cookies.contains_key("kw_browser"),
        "the redirect binds the browser"
    );
    let (_, back) = b.get(&to_provider);
    let (_, to) = b.get(&back);
    let token = register_token(&to);
    assert!(
        !b.cookies.contains_key("kw_session"),
        "no session before registration"
    );

    // The data suggestion comes from the provider's profile.
    let v: Value = s
        .post(
            "/auth/api/login/registration/data-suggestion",
            None,
            &json!({"register_token": token}),
        )
        .json()
        .unwrap();
    assert_eq!(v["username"], "octo");
    assert_eq!(v["displayName"], "Octo Cat");
    assert_eq!(v["email"], "octo@example.test");
    let uid = self_register(&s, &token, "octo");
    let data = login_data(&s, &admin, &uid);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["description"], "octo");
    assert_eq!(data[0]["strategyInstance"]["id"], inst.as_str());

    // The next login of the same account enters a session and goes to the account page.
    let success = r#"keyward_logins_total{strategy="github",instance="GitHub",outcome="success"}"#;
    assert_eq!(metric(&s, success), 0.0, "a registration is not a login");
    let mut b2 = Browser::new();
    let to = round_trip(&s, &mut b2, &inst, "login");
    assert_eq!(to, "/account");
    assert!(b2.cookies.contains_key("kw_session"));
    assert_eq!(gh.get(|x| x.pkce_refusals), 0);
    assert_eq!(metric(&s, success), 1.0, "the provider login is counted");
}

/// The value of one sample of `/metrics` (0 when the series is not there).
fn metric(s: &Server, series: &str) -> f64 {
    let text = s.get("/metrics", None).text().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[test]
fn subject_is_the_numeric_id_so_a_renamed_login_is_the_same_identity() {
    let (gh, s, admin, inst) = github();
    let uid = self_register(
        &s,
        &register_token(&round_trip(&s, &mut Browser::new(), &inst, "login")),
        "octo",
    );
    gh.set(|x| x.account["login"] = json!("octo-renamed"));
    assert_eq!(
        round_trip(&s, &mut Browser::new(), &inst, "login"),
        "/account"
    );
    let data = login_data(&s, &admin, &uid);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["description"], "octo-renamed");

    // Another account that took the old login name is another identity.
    gh.set(|x| {
        x.account["id"] = json!(777);
        x.account["login"] = json!("octo");
    });
    register_token(&round_trip(&s, &mut Browser::new(), &inst, "login"));
}

#[test]
fn gitlab_login_inside_an_authorize_flow_goes_back_to_the_application() {
    let gl = StandIn::start(Flavor::Gitlab);
    let s = Server::start();
    let admin = s.admin("admin");
    let inst = instance(&s, &admin, "gitlab", "GitLab", gl.config(), json!({}));
    let uid = self_register(
        &s,
        &register_token(&round_trip(&s, &mut Browser::new(), &inst, "register")),
        "gl",
    );
    assert_eq!(login_data(&s, &admin, &uid)[0]["description"], "octo");

    let client = s.new_client(
        &admin,
        &json!({"name": "app", "redirectUrls": ["http://127.0.0.1:9/cb"], "requiresSecret": false,
                "validScopes": ["openid"]}),
    );
    let mut b = Browser::new();
    let (_, login_page) = b.get(&s.url(&format!(
        "/auth/oauth/authorize?response_type=code&client_id={client}&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    )));
    let flow = param(&login_page, "flow").unwrap();
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("flow", &flow)
        .finish();
    let (_, to_provider) = b.get(&s.url(&format!("/auth/api/flow/redirect/{inst}?mode=login&{q}")));
    let (_, back) = b.get(&to_provider);
    let (_, to) = b.get(&back);
    assert!(to.starts_with("http://127.0.0.1:9/cb?code="), "{to}");
    assert_eq!(param(&to, "state").unwrap(), "xyz");
}

#[test]
fn link_mode_adds_accounts_to_the_signed_in_user_and_refuses_another_users_account() {
    let (gh, s, admin, inst) = github();
    let (alice, _) = s.user(&admin, "alice");
    let (bob, _) = s.user(&admin, "bob");

    let mut a = signed_in(&s, "alice");
    assert_eq!(
        round_trip(&s, &mut a, &inst, "link"),
        "/account?linked=GitHub"
    );
    // A second account of the same provider on the same user.
    gh.set(|x| x.account["id"] = json!(5555));
    assert_eq!(
        round_trip(&s, &mut a, &inst, "link"),
        "/account?linked=GitHub"
    );
    let data = login_data(&s, &admin, &alice);
    assert_eq!(
        data.iter()
            .filter(|d| d["strategyInstance"]["id"] == inst.as_str())
            .count(),
        2
    );

    // Bob cannot take an account that is Alice's.
    let mut b = signed_in(&s, "bob");
    assert_eq!(
        problem(&round_trip(&s, &mut b, &inst, "link")),
        "identity_taken"
    );
    assert_eq!(login_data(&s, &admin, &bob).len(), 1);
    assert_eq!(login_data(&s, &admin, &alice).len(), 3);

    // Linking needs a session.
    let (status, to) =
        Browser::new().get(&s.url(&format!("/auth/api/flow/redirect/{inst}?mode=link")));
    assert_eq!(status, 302);
    assert_eq!(problem(&to), "not_logged_in");
}

#[test]
fn denied_consent_and_token_errors_end_on_the_problem_page_with_nothing_made() {
    let (gh, s, admin, inst) = github();
    let users = user_count(&s, &admin);

    gh.set(|x| x.deny = true);
    let to = round_trip(&s, &mut Browser::new(), &inst, "login");
    assert_eq!(problem(&to), "consent_denied");
    assert_eq!(param(&to, "instance").unwrap(), inst);

    gh.set(|x| {
        x.deny = false;
        x.token_error = true;
    });
    assert_eq!(
        problem(&round_trip(&s, &mut Browser::new(), &inst, "login")),
        "provider_error"
    );
    assert_eq!(user_count(&s, &admin), users);
    // No waiting identity was made either: the next good login is the first.
    gh.set(|x| x.token_error = false);
    register_token(&round_trip(&s, &mut Browser::new(), &inst, "login"));
}

#[test]
fn a_provider_that_is_down_ends_on_the_problem_page() {
    let s = Server::start();
    let admin = s.admin("admin");
    let down = closed_port();
    let inst = instance(
        &s,
        &admin,
        "gitlab",
        "Down",
        json!({"clientId": "c", "clientSecret": "s", "baseUrl": down}),
        json!({}),
    );
    let mut b = Browser::new();
    let (_, to_provider) = started(&mut b, &s, &inst);
    let state = param(&to_provider, "state").unwrap();
    let (status, to) = b.get(&s.url(&format!(
        "/auth/api/flow/callback/{inst}?code=abc&state={state}"
    )));
    assert_eq!(status, 302);
    assert_eq!(problem(&to), "provider_unreachable");
}

#[test]
fn a_provider_that_does_not_answer_ends_on_the_problem_page_after_the_timeout() {
    let s = Server::start();
    let admin = s.admin("admin");
    let users = user_count(&s, &admin);
    let inst = instance(
        &s,
        &admin,
        "gitlab",
        "Silent",
        json!({"clientId": "c", "clientSecret": "s", "baseUrl": silent_provider()}),
        json!({"doesImplicitRegister": true}),
    );
    let mut b = Browser::new();
    let (_, to_provider) = started(&mut b, &s, &inst);
    let state = param(&to_provider, "state").unwrap();
    // The token call hangs until keyward's own timeout (10 s) gives up on it.
    let (status, to) = b.get(&s.url(&format!(
        "/auth/api/flow/callback/{inst}?code=abc&state={state}"
    )));
    assert_eq!(status, 302);
    assert_eq!(problem(&to), "provider_unreachable");
    assert_eq!(user_count(&s, &admin), users, "nothing made");
}

#[test]
fn state_is_single_use_and_bound_to_the_browser() {
    let (gh, s, admin, inst) = github();

    // Replayed: the same callback twice.
    let mut b = Browser::new();
    let (_, to_provider) = started(&mut b, &s, &inst);
    let (_, back) = b.get(&to_provider);
    register_token(&b.get(&back).1);
    assert_eq!(problem(&b.get(&back).1), "state_invalid");

    // Another browser brings this browser's state (login CSRF): refused.
    let mut victim = Browser::new();
    let (_, to_provider) = started(&mut b, &s, &inst);
    let (_, back) = b.get(&to_provider);
    assert_eq!(problem(&victim.get(&back).1), "state_invalid");
    assert!(!victim.cookies.contains_key("kw_session"));

    // A state that was never issued, none, or one of another instance.
    let other = instance(&s, &admin, "github", "Other", gh.config(), json!({}));
    let (_, to_provider) = started(&mut b, &s, &inst);
    let state = param(&to_provider, "state").unwrap();
    for q in ["code=x&state=made-up", "code=x", ""] {
        let (status, to) = b.get(&s.url(&format!("/auth/api/flow/callback/{inst}?{q}")));
        assert_eq!(status, 302);
        assert_eq!(problem(&to), "state_invalid");
    }
    let (_, to) = b.get(&s.url(&format!(
        "/auth/api/flow/callback/{other}?code=x&state={state}"
    )));
    assert_eq!(problem(&to), "state_invalid");
}

#[test]
fn a_code_injected_into_another_login_fails_the_pkce_check() {
    let (gh, s, _, inst) = github();
    // The attacker's code (made for the attacker's own login) ...
    let mut attacker = Browser::new();
    let (_, to_provider) = started(&mut attacker, &s, &inst);
    let (_, back) = attacker.get(&to_provider);
    let code = param(&back, "code").unwrap();
    // ... brought into the victim's login: the verifier does not match its challenge.
    let mut victim = Browser::new();
    let (_, to_provider) = started(&mut victim, &s, &inst);
    let state = param(&to_provider, "state").unwrap();
    let (_, to) = victim.get(&s.url(&format!(
        "/auth/api/flow/callback/{inst}?code={code}&state={state}"
    )));
    assert_eq!(problem(&to), "provider_error");
    assert_eq!(gh.get(|x| x.pkce_refusals), 1);
}

#[test]
fn no_account_without_implicit_registration_hints_at_an_email_but_never_links() {
    let gh = StandIn::start(Flavor::Github);
    let s = Server::start();
    let admin = s.admin("admin");
    let inst = instance(
        &s,
        &admin,
        "github",
        "GitHub",
        gh.config(),
        json!({"doesImplicitRegister": false, "isSelfRegisterActive": true}),
    );
    let to = round_trip(&s, &mut Browser::new(), &inst, "login");
    assert_eq!(problem(&to), "no_account");
    assert_eq!(param(&to, "register").as_deref(), Some("1"));
    assert_eq!(param(&to, "hint"), None);

    // A user with the provider's verified address: a hint, and still no login or link.
    let r = s.post(
        "/auth/api/login/user",
        Some(&admin),
        &json!({"username": "octo", "displayName": "Octo", "email": "octo@example.test"}),
    );
    assert_eq!(r.status(), 201);
    let uid = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Browser::new();
    let to = round_trip(&s, &mut b, &inst, "login");
    assert_eq!(problem(&to), "no_account");
    assert_eq!(param(&to, "hint").as_deref(), Some("email"));
    assert!(!b.cookies.contains_key("kw_session"));
    assert!(login_data(&s, &admin, &uid).is_empty());

    // mode=register signs up where self-registration is on.
    register_token(&round_trip(&s, &mut Browser::new(), &inst, "register"));
}

#[test]
fn login_disabled_and_unknown_instances_answer_with_the_problem_page() {
    let gh = StandIn::start(Flavor::Github);
    let s = Server::start();
    let admin = s.admin("admin");
    let inst = instance(
        &s,
        &admin,
        "github",
        "GitHub",
        gh.config(),
        json!({"isLoginActive": false}),
    );
    let (status, to) = Browser::new().get(&s.url(&format!("/auth/api/flow/redirect/{inst}")));
    assert_eq!(status, 302);
    assert_eq!(problem(&to), "login_disabled");
    let local = s.instance_id("local");
    for path in [
        "/auth/api/flow/redirect/nope".to_string(),
        format!("/auth/api/flow/redirect/{local}"),
        "/auth/api/flow/callback/nope?code=a&state=b".to_string(),
    ] {
        let (status, to) = Browser::new().get(&s.url(&path));
        assert_eq!(status, 302, "{path}");
        assert_eq!(problem(&to), "instance_unknown");
    }
    let (status, to) =
        Browser::new().get(&s.url(&format!("/auth/api/flow/redirect/{inst}?mode=evil&mode=x")));
    assert_eq!(status, 302);
    assert!(to.starts_with("/auth/flow/problem?"));
}

#[test]
fn instance_config_is_validated_with_the_provider() {
    let s = Server::start();
    let admin = s.admin("admin");
    let create = |body: Value| s.post("/auth/api/login/strategy-instance", Some(&admin), &body);
    let m = expect_error(
        create(
            json!({"type": "github", "instanceConfig": {"clientId": "a", "clientSecret": "b",
                      "baseUrl": "http://github.example.com"}}),
        ),
        400,
    );
    assert!(m.contains("instanceConfig.baseUrl"), "{m}");
    let m = expect_error(
        create(
            json!({"type": "oidc", "instanceConfig": {"issuer": closed_port(), "clientId": "a"}}),
        ),
        400,
    );
    assert!(
        m.contains("instanceConfig.issuer") && m.contains("cannot be reached"),
        "{m}"
    );
    let op = StandIn::start(Flavor::Oidc);
    let m = expect_error(
        create(
            json!({"type": "oidc", "instanceConfig": {"issuer": format!("{}/", op.base), "clientId": "a"}}),
        ),
        400,
    );
    assert!(
        m.contains("instanceConfig.issuer") && m.contains("names the issuer"),
        "{m}"
    );
    // Loopback over http, and the secret stays write-only.
    let id = instance(&s, &admin, "oidc", "Corp", op.config(), json!({}));
    let v: Value = s
        .get(
            &format!("/auth/api/login/strategy-instance/{id}"),
            Some(&admin),
        )
        .json()
        .unwrap();
    assert_eq!(v["instanceConfig"]["clientSecret"], "**********");
    // Changing the issuer checks it again.
    let mut cfg = v["instanceConfig"].clone();
    cfg["issuer"] = json!(closed_port());
    let m = expect_error(
        s.put(
            &format!("/auth/api/login/strategy-instance/{id}"),
            Some(&admin),
            &json!({"instanceConfig": cfg}),
        ),
        400,
    );
    assert!(m.contains("cannot be reached"), "{m}");
}

#[test]
fn oidc_login_validates_the_id_token() {
    let op = StandIn::start(Flavor::Oidc);
    let s = Server::start();
    let admin = s.admin("admin");
    let inst = instance(&s, &admin, "oidc", "Corp", op.config(), json!({}));
    let mut b = Browser::new();
    let (_, to_provider) = started(&mut b, &s, &inst);
    assert!(param(&to_provider, "nonce").unwrap().len() >= 22);
    assert!(
        param(&to_provider, "scope")
            .unwrap()
            .split(' ')
            .any(|x| x == "openid")
    );
    let (_, back) = b.get(&to_provider);
    let token = register_token(&b.get(&back).1);
    let uid = self_register(&s, &token, "corp-user");
    assert_eq!(login_data(&s, &admin, &uid)[0]["description"], "octo");
    assert_eq!(
        round_trip(&s, &mut Browser::new(), &inst, "login"),
        "/account"
    );

    for t in [
        Tamper::Payload,
        Tamper::OtherKey,
        Tamper::Nonce,
        Tamper::Audience,
        Tamper::Expired,
    ] {
        op.set(|x| x.tamper = Some(t));
        let mut b = Browser::new();
        let to = round_trip(&s, &mut b, &inst, "login");
        assert_eq!(problem(&to), "id_token_invalid", "{t:?}");
        assert!(!b.cookies.contains_key("kw_session"), "{t:?}");
    }
}
