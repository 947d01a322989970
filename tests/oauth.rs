//! The authorization server over HTTP: the code flow through the hosted login's JSON calls,
//! refresh rotation and reuse, PKCE, client authentication, the grants, revocation,
//! introspection, single sign-on, sessions and per-address throttling. The per-identity
//! throttle and its timing live in `throttle.rs`, a test binary of their own.

mod common;

use common::{Server, expect_error, jwt_claims, oauth_error};
use reqwest::blocking::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyz-._~ABCDEFG";

fn challenge(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

struct Ctx {
    s: Server,
    admin: String,
}

fn setup() -> Ctx {
    let s = Server::start();
    let admin = s.admin("admin");
    Ctx { s, admin }
}

impl Ctx {
    /// Creates a client; with `secret`, also a secret, returned as the second value.
    fn client(&self, body: Value, secret: bool) -> (String, Option<String>) {
        let id = self.s.new_client(&self.admin, &body);
        let secret = secret.then(|| self.s.new_secret(&self.admin, &id));
        (id, secret)
    }

    /// Redeems a code of the public client with the right PKCE verifier.
    fn redeem(&self, client: &str, code: &str) -> Response {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", client),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
    }

    fn public_client(&self) -> String {
        self.client(
            json!({"name": "spa", "redirectUrls": [REDIRECT], "requiresSecret": false,
                   "validScopes": ["openid", "profile", "email", "login"]}),
            false,
        )
        .0
    }

    fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Response {
        let mut rb = self.s.http.post(self.s.url("/auth/oauth/token")).form(form);
        if let Some((u, p)) = basic {
            rb = rb.basic_auth(u, Some(p));
        }
        rb.send().unwrap()
    }
}

/// A browser in miniature: keeps keyward's cookies between calls.
#[derive(Default)]
struct Browser {
    cookies: HashMap<String, String>,
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
            let c = v.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), val.into());
            }
        }
    }
    fn get(&mut self, s: &Server, url: &str) -> Response {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            s.url(url)
        };
        let r = s
            .http
            .get(url)
            .header("cookie", self.header())
            .send()
            .unwrap();
        self.keep(&r);
        r
    }
    fn post(&mut self, s: &Server, path: &str, body: &Value, csrf: bool) -> Response {
        let mut rb = s
            .http
            .post(s.url(path))
            .header("cookie", self.header())
            .json(body);
        if csrf {
            rb = rb.header(
                "x-csrf-token",
                self.cookies.get("kw_csrf").cloned().unwrap_or_default(),
            );
        }
        let r = rb.send().unwrap();
        self.keep(&r);
        r
    }

    /// Runs authorize → login page → login call; returns the URL the browser is sent back to.
    fn authorize(&mut self, s: &Server, query: &str, login: Option<(&str, &str)>) -> String {
        let r = self.get(s, &format!("/auth/oauth/authorize?{query}"));
        assert_eq!(r.status(), 302, "{:?}", r.text());
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        if loc.starts_with(REDIRECT) {
            return loc;
        }
        assert!(loc.starts_with("/auth/flow/login?flow="), "{loc}");
        let flow = loc.split("flow=").nth(1).unwrap().to_string();
        let page = self.get(s, &loc);
        assert_eq!(page.status(), 200);
        let ctx: Value = self
            .get(s, &format!("/auth/api/flow/context?flow={flow}"))
            .json()
            .unwrap();
        assert_eq!(ctx["client"]["name"], "spa");
        let (u, p) = login.expect("the login form is shown");
        let r = self.post(
            s,
            "/auth/api/flow/login",
            &json!({"flow": flow, "username": u, "password": p}),
            true,
        );
        assert_eq!(r.status(), 200);
        r.json::<Value>().unwrap()["redirect"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn code_query(client: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id={client}&redirect_uri={}&scope=openid%20profile%20email%20login&state=st8&nonce=n0nce&code_challenge={}&code_challenge_method=S256{extra}",
        urlencode(REDIRECT),
        challenge(VERIFIER)
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn discovery_document() {
    let c = setup();
    let d: Value =
        c.s.get("/.well-known/openid-configuration", None)
            .json()
            .unwrap();
    assert_eq!(d["issuer"], c.s.public_url());
    assert_eq!(
        d["token_endpoint"],
        format!("{}/auth/oauth/token", c.s.public_url())
    );
    assert_eq!(
        d["jwks_uri"],
        format!("{}/.well-known/jwks.json", c.s.public_url())
    );
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
}

#[test]
fn code_flow_refresh_rotation_and_reuse() {
    let c = setup();
    let client = c.public_client();
    let mut b = Browser::default();
    let back = b.authorize(
        &c.s,
        &code_query(&client, ""),
        Some(("admin", "correct horse battery")),
    );
    assert!(back.starts_with(REDIRECT));
    assert_eq!(query_param(&back, "state").as_deref(), Some("st8"));
    let code = query_param(&back, "code").unwrap();

    // PKCE: a wrong verifier is refused and does not use the code up... but a code is single
    // use, so check the wrong verifier on a second code below.
    let r = c.redeem(&client, &code);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 600);
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    assert!(t["id_token"].is_string());
    // The access token works on keyward's own API (scope login) and on userinfo.
    assert_eq!(
        c.s.get("/auth/api/login/user/self", Some(&access)).status(),
        200
    );
    let ui: Value =
        c.s.get("/auth/oauth/userinfo", Some(&access))
            .json()
            .unwrap();
    assert_eq!(ui["preferred_username"], "admin");

    // Code reuse: refused, and what the first use issued is revoked.
    let r = c.redeem(&client, &code);
    oauth_error(r, 400, "invalid_grant");
    expect_error(c.s.get("/auth/api/login/user/self", Some(&access)), 401);
    oauth_error(
        c.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client),
            ],
            None,
        ),
        400,
        "invalid_grant",
    );

    // A fresh login (the session above is over, so the form shows again).
    let mut b = Browser::default();
    let back = b.authorize(
        &c.s,
        &code_query(&client, ""),
        Some(("admin", "correct horse battery")),
    );
    let code = query_param(&back, "code").unwrap();
    let t: Value = c
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &client),
                ("code_verifier", VERIFIER),
            ],
            None,
        )
        .json()
        .unwrap();
    let r1 = t["refresh_token"].as_str().unwrap().to_string();
    // Rotation: each use gives a new refresh token.
    let t2: Value = c
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("client_id", &client),
            ],
            None,
        )
        .json()
        .unwrap();
    let r2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    let a2 = t2["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        c.s.get("/auth/api/login/user/self", Some(&a2)).status(),
        200
    );
    // A code is no refresh token, and a refresh token is no code.
    oauth_error(
        c.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &code),
                ("client_id", &client),
            ],
            None,
        ),
        400,
        "invalid_grant",
    );
    oauth_error(c.redeem(&client, &r2), 400, "invalid_grant");
    // Reuse of r1 ends the whole session: r2 and the access token die too.
    oauth_error(
        c.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("client_id", &client),
            ],
            None,
        ),
        400,
        "invalid_grant",
    );
    oauth_error(
        c.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r2),
                ("client_id", &client),
            ],
            None,
        ),
        400,
        "invalid_grant",
    );
    expect_error(c.s.get("/auth/api/login/user/self", Some(&a2)), 401);
}

/// RFC 8707: an authorization for a `resource` gives access tokens with that audience, through
/// every refresh; a refresh that names another resource is refused.
#[test]
fn resource_audience_survives_refresh() {
    let c = setup();
    const API: &str = "https://api.example.com/";
    // The client may ask for both resources: the refusal below is the grant's, not the client's.
    let client = c
        .client(
            json!({"name": "spa", "redirectUrls": [REDIRECT], "requiresSecret": false,
                   "validScopes": ["openid", "profile", "email", "login"],
                   "resources": [API, "https://other.example.com/"]}),
            false,
        )
        .0;
    let mut b = Browser::default();
    let back = b.authorize(
        &c.s,
        &code_query(&client, &format!("&resource={}", urlencode(API))),
        Some(("admin", "correct horse battery")),
    );
    let code = query_param(&back, "code").unwrap();
    let r = c.redeem(&client, &code);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let t: Value = r.json().unwrap();
    assert_eq!(jwt_claims(t["access_token"].as_str().unwrap())["aud"], API);
    // Such a token is not for keyward's own API.
    expect_error(
        c.s.get("/auth/api/login/user/self", t["access_token"].as_str()),
        401,
    );
    let refresh = |token: &str, resource: Option<&str>| {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", client.as_str()),
        ];
        form.extend(resource.map(|r| ("resource", r)));
        c.token(&form, None)
    };
    let r = refresh(t["refresh_token"].as_str().unwrap(), None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let t: Value = r.json().unwrap();
    assert_eq!(jwt_claims(t["access_token"].as_str().unwrap())["aud"], API);
    // Another resource: refused, and the refresh token is not used up by it.
    let token = t["refresh_token"].as_str().unwrap().to_string();
    oauth_error(
        refresh(&token, Some("https://other.example.com/")),
        400,
        "invalid_target",
    );
    let r = refresh(&token, Some(API));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let t: Value = r.json().unwrap();
    assert_eq!(jwt_claims(t["access_token"].as_str().unwrap())["aud"], API);
}

#[test]
fn pkce_and_redirect_checks() {
    let c = setup();
    let client = c.public_client();
    let mut b = Browser::default();
    let back = b.authorize(
        &c.s,
        &code_query(&client, ""),
        Some(("admin", "correct horse battery")),
    );
    let code = query_param(&back, "code").unwrap();
    let wrong = "X".repeat(43);
    oauth_error(
        c.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &client),
                ("code_verifier", &wrong),
            ],
            None,
        ),
        400,
        "invalid_grant",
    );
    // SSO: the second authorize goes straight back with a code, no form.
    let back = b.authorize(&c.s, &code_query(&client, ""), None);
    let code = query_param(&back, "code").unwrap();
    oauth_error(
        c.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("client_id", &client),
            ],
            None,
        ),
        400,
        "invalid_grant",
    );
    // prompt=login shows the form again.
    let r = b.get(
        &c.s,
        &format!(
            "/auth/oauth/authorize?{}",
            code_query(&client, "&prompt=login")
        ),
    );
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/auth/flow/login?flow=")
    );
    // A public client must use PKCE: the error goes back to the (registered) redirect URI.
    let r = b.get(
        &c.s,
        &format!(
            "/auth/oauth/authorize?response_type=code&client_id={client}&redirect_uri={}&state=s",
            urlencode(REDIRECT)
        ),
    );
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("s"));
    // Unknown client or unregistered redirect URI: an error page at keyward, never a redirect.
    for q in [
        format!(
            "response_type=code&client_id=nope&redirect_uri={}",
            urlencode(REDIRECT)
        ),
        format!(
            "response_type=code&client_id={client}&redirect_uri={}",
            urlencode("https://evil.example.com/cb")
        ),
        "response_type=code".to_string(),
    ] {
        let r = b.get(&c.s, &format!("/auth/oauth/authorize?{q}"));
        assert_eq!(r.status(), 400);
        assert!(r.headers().get("location").is_none());
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    // prompt=none without a session comes back with login_required.
    let mut fresh = Browser::default();
    let r = fresh.get(
        &c.s,
        &format!(
            "/auth/oauth/authorize?{}",
            code_query(&client, "&prompt=none")
        ),
    );
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("login_required")
    );
}

#[test]
fn client_authentication_and_grants() {
    let c = setup();
    let (uid, _) = c.s.user(&c.admin, "robot");
    let (conf, secret) = c.client(
        json!({"name": "backend", "requiresSecret": true, "validScopes": ["login", "openid"],
               "clientCredentialFlowUser": uid}),
        true,
    );
    let secret = secret.unwrap();
    // client_credentials with Basic and with form fields.
    let r = c.token(
        &[("grant_type", "client_credentials"), ("scope", "login")],
        Some((&conf, &secret)),
    );
    assert_eq!(r.status(), 200);
    let t: Value = r.json().unwrap();
    assert!(t.get("refresh_token").is_none());
    let me: Value =
        c.s.get(
            "/auth/api/login/user/self",
            Some(t["access_token"].as_str().unwrap()),
        )
        .json()
        .unwrap();
    assert_eq!(me["id"], uid);
    let r = c.token(
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &conf),
            ("client_secret", &secret),
        ],
        None,
    );
    assert_eq!(r.status(), 200);
    // Wrong secret, unknown client, missing secret.
    oauth_error(
        c.token(
            &[("grant_type", "client_credentials")],
            Some((&conf, "wrong")),
        ),
        401,
        "invalid_client",
    );
    oauth_error(
        c.token(
            &[("grant_type", "client_credentials")],
            Some(("nope", &secret)),
        ),
        401,
        "invalid_client",
    );
    oauth_error(
        c.token(
            &[("grant_type", "client_credentials"), ("client_id", &conf)],
            None,
        ),
        401,
        "invalid_client",
    );
    oauth_error(
        c.token(&[("grant_type", "client_credentials")], None),
        401,
        "invalid_client",
    );
    // Changes made through the API count at once, even right after a burst of grants.
    for _ in 0..3 {
        assert_eq!(
            c.token(
                &[("grant_type", "client_credentials")],
                Some((&conf, &secret))
            )
            .status(),
            200
        );
    }
    c.s.put(
        &format!("/auth/api/login/user/{uid}"),
        Some(&c.admin),
        &json!({"isBlocked": true}),
    );
    oauth_error(
        c.token(
            &[("grant_type", "client_credentials")],
            Some((&conf, &secret)),
        ),
        400,
        "invalid_grant",
    );
    c.s.put(
        &format!("/auth/api/login/user/{uid}"),
        Some(&c.admin),
        &json!({"isBlocked": false}),
    );
    let list: Value =
        c.s.get(
            &format!("/auth/api/login/client/{conf}/client-secret"),
            Some(&c.admin),
        )
        .json()
        .unwrap();
    let fp = list[0]["fingerprint"].as_str().unwrap().to_string();
    let r2 = c.s.post(
        &format!("/auth/api/login/client/{conf}/client-secret"),
        Some(&c.admin),
        &json!({}),
    );
    let secret2 = r2.json::<Value>().unwrap()["secretText"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        c.token(
            &[("grant_type", "client_credentials")],
            Some((&conf, &secret))
        )
        .status(),
        200
    );
    assert_eq!(
        c.s.delete(
            &format!("/auth/api/login/client/{conf}/client-secret/{fp}"),
            Some(&c.admin)
        )
        .status(),
        200
    );
    oauth_error(
        c.token(
            &[("grant_type", "client_credentials")],
            Some((&conf, &secret)),
        ),
        401,
        "invalid_client",
    );
    let secret = secret2;
    // A scope the client may not have.
    oauth_error(
        c.token(
            &[("grant_type", "client_credentials"), ("scope", "sync")],
            Some((&conf, &secret)),
        ),
        400,
        "invalid_scope",
    );
    // Unknown grant type; missing grant type; a parameter twice.
    oauth_error(
        c.token(&[("grant_type", "magic")], Some((&conf, &secret))),
        400,
        "unsupported_grant_type",
    );
    oauth_error(
        c.token(&[("scope", "login")], Some((&conf, &secret))),
        400,
        "invalid_request",
    );
    oauth_error(
        c.token(
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "password"),
            ],
            Some((&conf, &secret)),
        ),
        400,
        "invalid_request",
    );
    // The password grant is refused unless the client allows it.
    oauth_error(
        c.token(
            &[
                ("grant_type", "password"),
                ("username", "robot"),
                ("password", "password-of-user"),
            ],
            Some((&conf, &secret)),
        ),
        400,
        "unauthorized_client",
    );
    let (pw, pw_secret) = c.client(
        json!({"name": "legacy", "requiresSecret": true, "validScopes": ["login", "openid"], "allowPasswordGrant": true}),
        true,
    );
    let pw_secret = pw_secret.unwrap();
    let r = c.token(
        &[
            ("grant_type", "password"),
            ("username", "robot"),
            ("password", "password-of-user"),
            ("scope", "login openid"),
        ],
        Some((&pw, &pw_secret)),
    );
    assert_eq!(r.status(), 200);
    let t: Value = r.json().unwrap();
    assert!(t["refresh_token"].is_string() && t["id_token"].is_string());
    // The instance by name, a wrong password, an unknown user, and an instance that is not there.
    let r = c.token(
        &[
            ("grant_type", "password"),
            ("username", "robot"),
            ("password", "password-of-user"),
            ("instance", "local"),
        ],
        Some((&pw, &pw_secret)),
    );
    assert_eq!(r.status(), 200);
    oauth_error(
        c.token(
            &[
                ("grant_type", "password"),
                ("username", "robot"),
                ("password", "nope nope"),
            ],
            Some((&pw, &pw_secret)),
        ),
        400,
        "invalid_grant",
    );
    oauth_error(
        c.token(
            &[
                ("grant_type", "password"),
                ("username", "ghost"),
                ("password", "nope nope"),
            ],
            Some((&pw, &pw_secret)),
        ),
        400,
        "invalid_grant",
    );
    oauth_error(
        c.token(
            &[
                ("grant_type", "password"),
                ("username", "robot"),
                ("password", "x"),
                ("instance", "nope"),
            ],
            Some((&pw, &pw_secret)),
        ),
        400,
        "invalid_request",
    );

    // Revoke and introspect (by the client the tokens were issued to: to any other they are
    // inactive, see attacks_oauth.rs).
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let intro = |token: &str| -> Value {
        c.s.http
            .post(c.s.url("/auth/oauth/introspect"))
            .basic_auth(&pw, Some(&pw_secret))
            .form(&[("token", token)])
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let i = intro(&access);
    assert_eq!(i["active"], true);
    assert_eq!(i["username"], "robot");
    assert_eq!(intro(&refresh)["active"], true);
    assert_eq!(intro("garbage")["active"], false);
    // Introspection needs a confidential client.
    let public = c.public_client();
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/introspect"))
            .form(&[("token", access.as_str()), ("client_id", public.as_str())])
            .send()
            .unwrap();
    oauth_error(r, 401, "invalid_client");
    // Revoking the access token: refused by keyward from then on, inactive to introspection.
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/revoke"))
            .basic_auth(&pw, Some(&pw_secret))
            .form(&[("token", access.as_str())])
            .send()
            .unwrap();
    assert_eq!(r.status(), 200);
    expect_error(c.s.get("/auth/api/login/user/self", Some(&access)), 401);
    assert_eq!(intro(&access)["active"], false);
    assert_eq!(intro(&refresh)["active"], true);
    // Revoking the refresh token ends the session.
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/revoke"))
            .basic_auth(&pw, Some(&pw_secret))
            .form(&[("token", refresh.as_str())])
            .send()
            .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(intro(&refresh)["active"], false);
    oauth_error(
        c.token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&pw, &pw_secret)),
        ),
        400,
        "invalid_grant",
    );
    // An unknown token is not an error to revoke.
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/revoke"))
            .basic_auth(&pw, Some(&pw_secret))
            .form(&[("token", "nothing")])
            .send()
            .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn sessions_can_be_listed_and_ended() {
    let c = setup();
    let (_, pw_secret) = (0, 0);
    let _ = pw_secret;
    let (pw, secret) = c.client(
        json!({"name": "legacy", "validScopes": ["login"], "allowPasswordGrant": true}),
        true,
    );
    let secret = secret.unwrap();
    let (bob_id, _) = c.s.user(&c.admin, "bob");
    let login = || -> Value {
        c.token(
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", "password-of-user"),
            ],
            Some((&pw, &secret)),
        )
        .json()
        .unwrap()
    };
    let t1 = login();
    let a1 = t1["access_token"].as_str().unwrap().to_string();
    let a2 = login()["access_token"].as_str().unwrap().to_string();
    let list: Value =
        c.s.get("/auth/api/login/user/self/active-login", Some(&a1))
            .json()
            .unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() >= 3, "{list:?}"); // two logins and the CLI token of `user()`
    let current = list.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["clientId"], pw);
    // Bob ends his other session: its token is refused, his own stays fine.
    let other = list
        .iter()
        .find(|s| s["current"] == false && s["clientId"] == pw)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r =
        c.s.delete(&format!("/auth/api/login/active-login/{other}"), Some(&a1));
    assert_eq!(r.status(), 200);
    expect_error(c.s.get("/auth/api/login/user/self", Some(&a2)), 401);
    assert_eq!(
        c.s.get("/auth/api/login/user/self", Some(&a1)).status(),
        200
    );
    expect_error(
        c.s.delete(&format!("/auth/api/login/active-login/{other}"), Some(&a1)),
        404,
    );
    // Another user cannot see or end bob's sessions; the admin can.
    let (_, carl) = c.s.user(&c.admin, "carl");
    expect_error(
        c.s.get(
            &format!("/auth/api/login/user/{bob_id}/active-login"),
            Some(&carl),
        ),
        403,
    );
    let cur = current["id"].as_str().unwrap();
    expect_error(
        c.s.delete(&format!("/auth/api/login/active-login/{cur}"), Some(&carl)),
        404,
    );
    assert_eq!(
        c.s.get(
            &format!("/auth/api/login/user/{bob_id}/active-login"),
            Some(&c.admin)
        )
        .status(),
        200
    );

    // Password change: the owner needs the old password; an admin may reset.
    let data: Value =
        c.s.get("/auth/api/login/user/self/login-data", Some(&a1))
            .json()
            .unwrap();
    let lid = data[0]["id"].as_str().unwrap().to_string();
    let path = format!("/auth/api/login/login-data/{lid}/password");
    expect_error(
        c.s.put(
            &path,
            Some(&a1),
            &json!({"newPassword": "brand new password"}),
        ),
        400,
    );
    expect_error(
        c.s.put(
            &path,
            Some(&a1),
            &json!({"oldPassword": "wrong!", "newPassword": "brand new password"}),
        ),
        403,
    );
    expect_error(
        c.s.put(
            &path,
            Some(&a1),
            &json!({"oldPassword": "password-of-user", "newPassword": "short"}),
        ),
        400,
    );
    expect_error(
        c.s.put(
            &path,
            Some(&carl),
            &json!({"oldPassword": "password-of-user", "newPassword": "brand new password"}),
        ),
        404,
    );
    assert_eq!(
        c.s.put(
            &path,
            Some(&a1),
            &json!({"oldPassword": "password-of-user", "newPassword": "brand new password"})
        )
        .status(),
        200
    );
    oauth_error(
        c.token(
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", "password-of-user"),
            ],
            Some((&pw, &secret)),
        ),
        400,
        "invalid_grant",
    );
    assert_eq!(
        c.s.put(
            &path,
            Some(&c.admin),
            &json!({"newPassword": "admin chose this"})
        )
        .status(),
        200
    );
    let r = c.token(
        &[
            ("grant_type", "password"),
            ("username", "bob"),
            ("password", "admin chose this"),
        ],
        Some((&pw, &secret)),
    );
    assert_eq!(r.status(), 200);
}

#[test]
fn hosted_login_page_and_csrf() {
    let c = setup();
    let mut b = Browser::default();
    let r = b.get(&c.s, "/auth/flow/login");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(b.cookies.contains_key("kw_csrf"));
    // Without the CSRF header, or from another origin: 403.
    let creds = json!({"username": "admin", "password": "correct horse battery"});
    expect_error(b.post(&c.s, "/auth/api/flow/login", &creds, false), 403);
    let r =
        c.s.http
            .post(c.s.url("/auth/api/flow/login"))
            .header("cookie", b.header())
            .header("x-csrf-token", b.cookies["kw_csrf"].clone())
            .header("origin", "https://evil.example.com")
            .json(&creds)
            .send()
            .unwrap();
    expect_error(r, 403);
    // Wrong password: a clear 401; blocked user: 403; a good login sets an HttpOnly cookie.
    let msg = expect_error(
        b.post(
            &c.s,
            "/auth/api/flow/login",
            &json!({"username": "admin", "password": "nope nope"}),
            true,
        ),
        401,
    );
    assert_eq!(msg, "Wrong username or password.");
    let (bob, _) = c.s.user(&c.admin, "bob");
    c.s.put(
        &format!("/auth/api/login/user/{bob}"),
        Some(&c.admin),
        &json!({"isBlocked": true}),
    );
    let msg = expect_error(
        b.post(
            &c.s,
            "/auth/api/flow/login",
            &json!({"username": "bob", "password": "password-of-user"}),
            true,
        ),
        403,
    );
    assert!(msg.contains("blocked"));
    let r = b.post(&c.s, "/auth/api/flow/login", &creds, true);
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert_eq!(r.json::<Value>().unwrap()["redirect"], "/account");
    let ctx: Value = b.get(&c.s, "/auth/api/flow/context").json().unwrap();
    assert_eq!(ctx["user"]["username"], "admin");
    assert_eq!(ctx["instances"][0]["name"], "local");
    // An expired or forged flow is a 400.
    expect_error(b.get(&c.s, "/auth/api/flow/context?flow=forged"), 400);
    // Logout ends the session.
    assert_eq!(
        b.post(&c.s, "/auth/api/flow/logout", &json!({}), true)
            .status(),
        200
    );
    let ctx: Value = b.get(&c.s, "/auth/api/flow/context").json().unwrap();
    assert_eq!(ctx["user"], Value::Null);
}

#[test]
fn per_address_throttling_across_usernames() {
    let c = setup();
    let mut b = Browser::default();
    b.get(&c.s, "/auth/flow/login");
    for i in 0..30 {
        let r = b.post(
            &c.s,
            "/auth/api/flow/login",
            &json!({"username": format!("nobody{i}"), "password": "wrong password"}),
            true,
        );
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    let r = b.post(
        &c.s,
        "/auth/api/flow/login",
        &json!({"username": "admin", "password": "correct horse battery"}),
        true,
    );
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let msg = expect_error(r, 429);
    assert!(msg.contains("Try again"));
}

#[test]
fn single_sign_on_needs_the_cookie_of_a_live_session() {
    let c = setup();
    let client = c.public_client();
    let query = format!("/auth/oauth/authorize?{}", code_query(&client, ""));
    let lands = |b: &mut Browser| -> String {
        let r = b.get(&c.s, &query);
        assert_eq!(r.status(), 302, "{:?}", r.text());
        r.headers()["location"].to_str().unwrap().to_string()
    };
    let mut b = Browser::default();
    b.authorize(
        &c.s,
        &code_query(&client, ""),
        Some(("admin", "correct horse battery")),
    );
    assert!(lands(&mut b).starts_with(REDIRECT));
    let cookie = b.cookies["kw_session"].clone();
    let (sid, _) = cookie.split_once('.').unwrap();
    // The session's id with a made-up secret, or without one, is no session.
    for forged in [
        format!("{sid}.{}", "A".repeat(43)),
        sid.to_string(),
        format!("{sid}."),
        ".".to_string(),
    ] {
        let mut f = Browser::default();
        f.cookies.insert("kw_session".into(), forged.clone());
        assert!(
            lands(&mut f).starts_with("/auth/flow/login?flow="),
            "{forged}"
        );
    }
    // Once the session has ended, its cookie brings no code either.
    let r = c.s.delete(
        &format!("/auth/api/login/active-login/{sid}"),
        Some(&c.admin),
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());
    assert!(lands(&mut b).starts_with("/auth/flow/login?flow="));
}

#[test]
fn authorize_refuses_a_repeated_parameter_on_its_page() {
    let c = setup();
    let client = c.public_client();
    // A second redirect_uri, even a registered one, is not a choice the client gets.
    let r = c.s.get(
        &format!(
            "/auth/oauth/authorize?{}&redirect_uri={}",
            code_query(&client, ""),
            urlencode(REDIRECT)
        ),
        None,
    );
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().unwrap().contains("redirect_uri"));
}

#[test]
fn oauth_endpoints_answer_405_with_allow_in_their_shape() {
    let c = setup();
    for (method, path, allow) in [
        ("GET", "/auth/oauth/token", "POST"),
        ("DELETE", "/auth/oauth/userinfo", "GET, POST"),
        ("POST", "/auth/oauth/authorize", "GET"),
        ("POST", "/.well-known/jwks.json", "GET"),
        ("PUT", "/auth/oauth/introspect", "POST"),
    ] {
        let r = c.s.send(method, path, None, None);
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        oauth_error(r, 405, "invalid_request");
    }
    oauth_error(c.s.get("/auth/oauth/nothing", None), 404, "invalid_request");
}

#[test]
fn max_age_sends_a_browser_signed_in_too_long_ago_back_to_the_login_page() {
    let c = setup();
    let client = c.public_client();
    let mut b = Browser::default();
    b.authorize(
        &c.s,
        &code_query(&client, ""),
        Some(("admin", "correct horse battery")),
    );
    let lands = |b: &mut Browser, extra: &str| -> String {
        let r = b.get(
            &c.s,
            &format!("/auth/oauth/authorize?{}", code_query(&client, extra)),
        );
        assert_eq!(r.status(), 302, "{:?}", r.text());
        r.headers()["location"].to_str().unwrap().to_string()
    };
    // Signed in just now: an hour's max_age passes through with a code.
    assert!(lands(&mut b, "&max_age=3600").starts_with(REDIRECT));
    // A second later, max_age=0 asks for a fresh sign-in; with prompt=none that is an error.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(lands(&mut b, "&max_age=0").starts_with("/auth/flow/login?flow="));
    let none = lands(&mut b, "&max_age=0&prompt=none");
    assert!(none.starts_with(REDIRECT), "{none}");
    assert_eq!(
        query_param(&none, "error").as_deref(),
        Some("login_required")
    );
    // Not a number of seconds: the client hears so.
    for bad in ["-1", "soon", "1.5", "99999999999"] {
        let loc = lands(&mut b, &format!("&max_age={bad}"));
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("invalid_request"),
            "{bad}: {loc}"
        );
    }
}

#[test]
fn a_narrowed_refresh_keeps_the_original_scope_for_the_next_one() {
    let c = setup();
    c.s.user(&c.admin, "dave");
    let (id, secret) = c.client(
        json!({"name": "pw", "requiresSecret": true, "allowPasswordGrant": true,
               "validScopes": ["openid", "login"]}),
        true,
    );
    let client = (id, secret.unwrap());
    let r =
        c.s.password_grant(&client, "dave", "password-of-user", Some("openid login"));
    assert_eq!(r.status(), 200);
    let t: Value = r.json().unwrap();
    let refresh = |rt: &str, scope: &str| {
        let r = c.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", scope),
            ],
            Some((&client.0, &client.1)),
        );
        assert_eq!(r.status(), 200, "{:?}", r.text());
        r.json::<Value>().unwrap()
    };
    // Narrowed: the access token has only `login`, and no ID token comes with it.
    let narrow = refresh(t["refresh_token"].as_str().unwrap(), "login");
    assert_eq!(narrow["scope"], "login", "{narrow}");
    assert_eq!(
        jwt_claims(narrow["access_token"].as_str().unwrap())["scope"],
        "login"
    );
    assert!(narrow.get("id_token").is_none(), "{narrow}");
    // The new refresh token still carries what was granted (RFC 6749 6): the full scope again.
    let full = refresh(narrow["refresh_token"].as_str().unwrap(), "openid login");
    let mut scope: Vec<&str> = full["scope"].as_str().unwrap().split(' ').collect();
    scope.sort();
    assert_eq!(scope, ["login", "openid"], "{full}");
    assert!(full["id_token"].is_string(), "{full}");
    // Never more than the original grant.
    oauth_error(
        c.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", full["refresh_token"].as_str().unwrap()),
                ("scope", "openid login profile"),
            ],
            Some((&client.0, &client.1)),
        ),
        400,
        "invalid_scope",
    );
}

#[test]
fn token_userinfo_and_authorize_errors_follow_the_rfcs() {
    let c = setup();
    c.s.user(&c.admin, "dave");
    let (id, secret) = c.client(
        json!({"name": "pw", "requiresSecret": true, "allowPasswordGrant": true,
               "validScopes": ["openid", "login"]}),
        true,
    );
    let secret = secret.unwrap();

    // A password login on an instance whose login is off: invalid_grant (RFC 6749 5.2 has no
    // access_denied), saying why.
    let r = c.s.post(
        "/auth/api/login/strategy-instance",
        Some(&c.admin),
        &json!({"type": "userpass", "name": "second", "isLoginActive": false}),
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let form = [
        ("grant_type", "password"),
        ("username", "dave"),
        ("password", "password-of-user"),
        ("instance", "second"),
    ];
    let r = c.token(&form, Some((&id, &secret)));
    assert_eq!(r.status(), 400);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], "invalid_grant", "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("login is disabled"),
        "{v}"
    );
    // An unknown instance is a bad request, not a 404.
    let r = c.token(
        &[
            ("grant_type", "password"),
            ("username", "dave"),
            ("password", "password-of-user"),
            ("instance", "nothing"),
        ],
        Some((&id, &secret)),
    );
    oauth_error(r, 400, "invalid_request");

    // Basic and client_secret in the form: two authentication methods (RFC 6749 2.3).
    let both = [
        ("grant_type", "password"),
        ("username", "dave"),
        ("password", "password-of-user"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
    ];
    oauth_error(c.token(&both, Some((&id, &secret))), 400, "invalid_request");
    // Basic with the same client_id alone is one method.
    let mut one = both[..4].to_vec();
    one.push(("scope", "login"));
    let r = c.token(&one, Some((&id, &secret)));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let login_only: Value = r.json().unwrap();
    let login_only = login_only["access_token"].as_str().unwrap().to_string();

    // userinfo (RFC 6750 3): no token, no error code; a bad one, invalid_token; a token
    // without openid, insufficient_scope with the scope it needs.
    let challenge = |r: &Response| {
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let r = c.s.get("/auth/oauth/userinfo", None);
    assert_eq!(r.status(), 401);
    let h = challenge(&r);
    assert!(h.starts_with("Bearer") && !h.contains("error="), "{h}");
    let r = c.s.get("/auth/oauth/userinfo", Some("garbage"));
    assert_eq!(r.status(), 401);
    let h = challenge(&r);
    assert!(
        h.starts_with("Bearer") && h.contains("error=\"invalid_token\""),
        "{h}"
    );
    let r = c.s.get("/auth/oauth/userinfo", Some(&login_only));
    assert_eq!(r.status(), 403);
    let h = challenge(&r);
    assert!(h.starts_with("Bearer"), "{h}");
    assert!(h.contains("error=\"insufficient_scope\""), "{h}");
    assert!(h.contains("scope=\"openid\""), "{h}");
    oauth_error(r, 403, "insufficient_scope");
    // The Bearer JSON surfaces challenge on their 401s too.
    for path in [
        "/auth/api/login/user/self",
        "/api/v2/users/x",
        "/auth/api/sync/token/x",
    ] {
        let r = c.s.get(path, None);
        assert_eq!(r.status(), 401, "{path}");
        let h = challenge(&r);
        assert!(
            h.starts_with("Bearer") && !h.contains("error="),
            "{path}: {h}"
        );
        let r = c.s.get(path, Some("garbage"));
        assert_eq!(r.status(), 401, "{path}");
        assert!(challenge(&r).contains("error=\"invalid_token\""), "{path}");
    }

    // authorize: a missing response_type is a malformed request; another one is unsupported.
    let spa = c.public_client();
    let mut b = Browser::default();
    let q = code_query(&spa, "");
    for (query, code) in [
        (q.replace("response_type=code&", ""), "invalid_request"),
        (
            q.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
    ] {
        let r = b.get(&c.s, &format!("/auth/oauth/authorize?{query}"));
        assert_eq!(r.status(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(query_param(&loc, "error").as_deref(), Some(code), "{loc}");
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st8"), "{loc}");
    }
}

/// userinfo by POST takes the token from the form (RFC 6750 2.2) as well as from the header,
/// never from both at once; a `resource` that is keyward's own URL with a trailing slash is
/// keyward's own URL, so the token works on keyward's endpoints.
#[test]
fn userinfo_takes_a_form_token_and_the_own_url_with_a_slash_is_keywards_own() {
    let c = setup();
    c.s.user(&c.admin, "erin");
    let (id, secret) = c.client(
        json!({"name": "pw", "requiresSecret": true, "allowPasswordGrant": true,
               "validScopes": ["openid", "profile", "login"]}),
        true,
    );
    let secret = secret.unwrap();
    let own = format!("{}/", c.s.public_url());
    let r = c.token(
        &[
            ("grant_type", "password"),
            ("username", "erin"),
            ("password", "password-of-user"),
            ("scope", "openid profile login"),
            ("resource", own.as_str()),
        ],
        Some((&id, &secret)),
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let v: Value = r.json().unwrap();
    let at = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_claims(&at)["aud"], c.s.public_url());
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    let r = c.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("resource", own.as_str()),
        ],
        Some((&id, &secret)),
    );
    assert_eq!(r.status(), 200, "{:?}", r.text());

    let post = |form: &[(&str, &str)], bearer: Option<&str>| {
        let mut rb = c.s.http.post(c.s.url("/auth/oauth/userinfo")).form(form);
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        rb.send().unwrap()
    };
    let r = post(&[("access_token", at.as_str())], None);
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let v: Value = r.json().unwrap();
    assert_eq!(v["preferred_username"], "erin");
    let r = post(&[], Some(&at));
    assert_eq!(r.status(), 200);
    oauth_error(
        post(&[("access_token", at.as_str())], Some(&at)),
        400,
        "invalid_request",
    );
    oauth_error(
        post(&[("access_token", "garbage")], None),
        401,
        "invalid_token",
    );
    // GET never reads a body: a token only in the query or a body is no token.
    let r =
        c.s.http
            .get(c.s.url(&format!("/auth/oauth/userinfo?access_token={at}")))
            .send()
            .unwrap();
    assert_eq!(r.status(), 401);
}

/// The token endpoint takes a form: a JSON body is told so (invalid_request), not answered as a
/// form without its fields; discovery lists every claim keyward issues.
#[test]
fn a_json_body_at_the_token_endpoint_is_told_to_be_a_form() {
    let c = setup();
    let r =
        c.s.http
            .post(c.s.url("/auth/oauth/token"))
            .header("content-type", "application/json")
            .body(r#"{"grant_type":"client_credentials"}"#)
            .send()
            .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"], "invalid_request", "{v}");
    assert!(
        v["error_description"].as_str().unwrap().contains("form"),
        "{v}"
    );
    let d: Value =
        c.s.get("/.well-known/openid-configuration", None)
            .json()
            .unwrap();
    let claims = d["claims_supported"].as_array().unwrap();
    for claim in [
        "sub",
        "auth_time",
        "sid",
        "preferred_username",
        "updated_at",
    ] {
        assert!(claims.iter().any(|c| c == claim), "{claim}: {d}");
    }
}
