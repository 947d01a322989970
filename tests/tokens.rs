//! Strict token validation: forged, tampered, expired and confused tokens all get 401; and a
//! database made by schema version 1 is upgraded in place.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::{Server, expect_error};
use keyward::auth::jwt::{self, Claims, Kind};
use keyward::config::{Common, LogFormat, Settings};
use serde_json::{Value, json};

/// Opens the running server's state from its database, as the CLI does, to sign test tokens
/// with the real key.
fn open(s: &Server) -> keyward::App {
    keyward::open(
        &Common {
            db: s.db_path(),
            public_url: None,
            log_format: LogFormat::Text,
        },
        Settings::default(),
        None,
    )
    .unwrap()
}

fn decode(t: &str) -> (Value, Value) {
    let mut parts = t.split('.');
    let h = serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    let c = serde_json::from_slice(&B64.decode(parts.next().unwrap()).unwrap()).unwrap();
    (h, c)
}

fn forge(header: &Value, claims: &Value, sig: &str) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        sig
    )
}

#[test]
fn forged_and_misused_tokens_are_refused() {
    let s = Server::start();
    let good = s.admin("admin");
    let me = "/auth/api/login/user/self";
    assert_eq!(s.get(me, Some(&good)).status(), 200);
    let (header, claims) = decode(&good);
    let sig = good.rsplit('.').next().unwrap();
    let app = open(&s);
    let base: Claims = serde_json::from_value(claims.clone()).unwrap();

    // Tampered payload (the signature no longer matches).
    let mut c = claims.clone();
    c["scope"] = json!("login sync");
    expect_error(s.get(me, Some(&forge(&header, &c, sig))), 401);
    // Tampered signature.
    let mut bad_sig = sig.to_string();
    let flipped = if bad_sig.ends_with('A') { 'B' } else { 'A' };
    bad_sig.pop();
    bad_sig.push(flipped);
    expect_error(s.get(me, Some(&forge(&header, &claims, &bad_sig))), 401);
    // alg none.
    let mut h = header.clone();
    h["alg"] = json!("none");
    expect_error(s.get(me, Some(&forge(&h, &claims, ""))), 401);
    // HS256 with the public key as the HMAC secret (key confusion).
    let jwks: Value = s.get("/.well-known/jwks.json", None).json().unwrap();
    let jwk = jwks["keys"][0].clone();
    for secret in [jwk.to_string(), jwk["x"].as_str().unwrap().to_string()] {
        let mut hh = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hh.typ = Some("at+jwt".into());
        hh.kid = header["kid"].as_str().map(str::to_string);
        let t = jsonwebtoken::encode(
            &hh,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        expect_error(s.get(me, Some(&t)), 401);
    }

    let now = jwt::now_secs();
    let signed = |c: &Claims, kind: Kind| jwt::sign(&app.keys, kind, c).unwrap();
    // Properly signed but expired (beyond the 30 s leeway).
    let mut c = base.clone();
    c.iat = now - 7200;
    c.nbf = now - 7200;
    c.exp = now - 3600;
    expect_error(s.get(me, Some(&signed(&c, Kind::Access))), 401);
    // Not yet valid.
    let mut c = base.clone();
    c.nbf = now + 3600;
    expect_error(s.get(me, Some(&signed(&c, Kind::Access))), 401);
    // Wrong issuer.
    let mut c = base.clone();
    c.iss = "https://evil.example.com".into();
    expect_error(s.get(me, Some(&signed(&c, Kind::Access))), 401);
    // Wrong audience (a token for another resource server).
    let mut c = base.clone();
    c.aud = "https://api.example.com".into();
    expect_error(s.get(me, Some(&signed(&c, Kind::Access))), 401);
    // Wrong typ: a register token is no access token.
    expect_error(s.get(me, Some(&signed(&base, Kind::Register))), 401);
    // A session that does not exist.
    let mut c = base.clone();
    c.sid = "00000000-0000-0000-0000-000000000000".into();
    expect_error(s.get(me, Some(&signed(&c, Kind::Access))), 401);
    // A user that does not exist.
    let mut c = base.clone();
    c.sub = "00000000-0000-0000-0000-000000000000".into();
    expect_error(s.get(me, Some(&signed(&c, Kind::Access))), 401);
    // Missing claims.
    let mut raw = claims.clone();
    raw.as_object_mut().unwrap().remove("nbf");
    let key = app.keys.signing().unwrap();
    let mut hh = jsonwebtoken::Header::new(key.alg);
    hh.typ = Some("at+jwt".into());
    hh.kid = Some(key.kid.clone());
    let t = jsonwebtoken::encode(&hh, &raw, &key.encoding).unwrap();
    expect_error(s.get(me, Some(&t)), 401);
    // An unknown kid.
    let mut h = header.clone();
    h["kid"] = json!("nope");
    expect_error(s.get(me, Some(&forge(&h, &claims, sig))), 401);
    // And the untouched token still works: nothing above changed state.
    assert_eq!(s.get(me, Some(&good)).status(), 200);
}

#[test]
fn schema_version_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("keyward.db");
    {
        let mut c = rusqlite::Connection::open(&db).unwrap();
        keyward::db::migrate(&mut c, 1).unwrap();
        let v: u32 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
        c.execute(
            "INSERT INTO users (id, username, display_name, email, is_admin, is_blocked, sequence, created_at, updated_at)
             VALUES ('11111111-1111-1111-1111-111111111111', 'old-admin', 'Old Admin', 'old@example.com', 1, 0, 1, 0, 0)",
            [],
        )
        .unwrap();
    }
    let s = Server::start_in(dir, &[]);
    let c = rusqlite::Connection::open(s.db_path()).unwrap();
    let v: u32 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, keyward::db::latest_version());
    assert!(v >= 2);
    // The version-2 table exists and the old row survived.
    let n: i64 = c
        .query_row("SELECT count(*) FROM revoked_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    let t = s.token("old-admin", "login");
    let me: Value = s.get("/auth/api/login/user/self", Some(&t)).json().unwrap();
    assert_eq!(me["email"], "old@example.com");
    assert_eq!(me["isAdmin"], true);
    // An admin exists already, so no setup link was printed.
    assert!(
        !s.stdout_with("#token=")
            .iter()
            .any(|l| l.contains("#token="))
    );
}
