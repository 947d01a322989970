//! Passkey links by mail and with a QR code (`POST /auth/api/login/user/{id}/passkey-link`),
//! against a real SMTP server process: what arrives, who may send to whom, and that a link whose
//! mail was not delivered cannot be used.

mod common;

use common::smtp::{SmtpServer, free_port};
use common::{Server, expect_error};
use serde_json::{Value, json};

fn with_mail(smtp: &str) -> Server {
    Server::start_with(&[
        "--smtp-url",
        smtp,
        "--smtp-from",
        "Login <login@example.test>",
    ])
}

/// A user with an e-mail address: (id, token).
fn user_with_email(s: &Server, admin: &str, name: &str) -> (String, String) {
    let (id, token) = s.user(admin, name);
    let r = s.put(
        &format!("/auth/api/login/user/{id}"),
        Some(admin),
        &json!({"email": format!("{name}@example.test")}),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    (id, token)
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read a link out of a message.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The passkey link in a message (the plain-text part).
fn link_in(mail: &str) -> String {
    let text = unfold(mail);
    let path = text
        .find("/auth/flow/passkey?")
        .expect("a passkey link in the mail");
    let start = text[..path].rfind("http").expect("an absolute link");
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .next()
        .unwrap()
        .to_string()
}

fn query(link: &str, key: &str) -> String {
    let q = url::Url::parse(link).unwrap();
    q.query_pairs()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} in {link}"))
        .1
        .into_owned()
}

#[test]
fn a_link_is_shown_with_its_qr_code_and_expiry() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (id, token) = s.user(&admin, "alice");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({}),
    );
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    assert_eq!(v["sent"], false);
    assert_eq!(v["expiration"], "3600s");
    let link = v["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/auth/flow/passkey?",
            s.base.replace("127.0.0.1", "localhost")
        )),
        "{link}"
    );
    assert_eq!(query(link, "userID"), id);
    assert_eq!(query(link, "codeID"), v["codeId"].as_str().unwrap());
    // At least 95 bits: 16 random bytes in base64url.
    assert!(query(link, "code").len() >= 16, "{link}");
    assert!(v["expiresAt"].as_str().unwrap().ends_with('Z'));
    let svg = v["qrCode"].as_str().unwrap();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(!svg.to_ascii_lowercase().contains("<script"), "{svg}");
}

#[test]
fn who_may_make_a_link_for_whom() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (alice, alice_token) = s.user(&admin, "alice");
    let (bob, _) = s.user(&admin, "bob");
    // Another user's link would add a passkey to their account: only an admin may.
    let r = s.post(
        &format!("/auth/api/login/user/{bob}/passkey-link"),
        Some(&alice_token),
        &json!({}),
    );
    expect_error(r, 403);
    let r = s.post(
        &format!("/auth/api/login/user/{alice}/passkey-link"),
        Some(&admin),
        &json!({}),
    );
    assert_eq!(r.status(), 201);
    let r = s.post(
        "/auth/api/login/user/00000000-0000-4000-8000-000000000000/passkey-link",
        Some(&admin),
        &json!({}),
    );
    expect_error(r, 404);
    let r = s.post("/auth/api/login/user/self/passkey-link", None, &json!({}));
    expect_error(r, 401);
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&alice_token),
        &json!({"send": "yes"}),
    );
    expect_error(r, 400);
}

#[test]
fn a_link_is_mailed_to_the_user_in_text_and_html() {
    let smtp = SmtpServer::start();
    let s = with_mail(&smtp.url());
    let admin = s.admin("admin");
    let (id, token) = user_with_email(&s, &admin, "alice");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let v: Value = r.json().unwrap();
    assert_eq!(v["sent"], true);
    assert!(v.get("link").is_none(), "a mailed link is not shown: {v}");
    let mails = smtp.wait_for(1);
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("X-Envelope-To: alice@example.test"), "{mail}");
    assert!(mail.contains("login@example.test"), "{mail}");
    assert!(mail.contains("text/plain"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    let link = link_in(mail);
    assert!(link.contains("/auth/flow/passkey?"), "{link}");
    assert_eq!(query(&link, "userID"), id);
    assert!(unfold(mail).contains("expires in 60 minutes"), "{mail}");
    // The mailed link starts a passkey registration without any login.
    let r = s.post(
        &format!("/v2/users/{id}/passkeys"),
        None,
        &json!({"code": {"id": query(&link, "codeID"), "code": query(&link, "code")}}),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());

    // An admin mails a link to another user.
    let (bob, _) = user_with_email(&s, &admin, "bob");
    let r = s.post(
        &format!("/auth/api/login/user/{bob}/passkey-link"),
        Some(&admin),
        &json!({"send": true}),
    );
    assert_eq!(r.status(), 201);
    let mails = smtp.wait_for(2);
    assert!(mails[1].contains("X-Envelope-To: bob@example.test"));
}

#[test]
fn no_mail_server_or_no_address_is_a_clear_refusal() {
    let s = Server::start();
    let admin = s.admin("admin");
    let (_, token) = user_with_email(&s, &admin, "alice");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    let m = expect_error(r, 409);
    assert!(m.contains("--smtp-url"), "{m}");

    let smtp = SmtpServer::start();
    let s = with_mail(&smtp.url());
    let admin = s.admin("admin");
    let (_, token) = s.user(&admin, "carol");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    let m = expect_error(r, 409);
    assert!(m.contains("e-mail"), "{m}");
    assert!(smtp.messages().is_empty());
}

#[test]
fn a_mail_server_that_is_down_is_503() {
    let s = with_mail(&format!("smtp://127.0.0.1:{}", free_port()));
    let admin = s.admin("admin");
    let (_, token) = user_with_email(&s, &admin, "alice");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    let m = expect_error(r, 503);
    // What the mail server or the connection said stays in the log.
    assert!(!m.to_lowercase().contains("connection refused"), "{m}");
}

#[test]
fn a_link_whose_mail_was_refused_is_void() {
    let smtp = SmtpServer::refusing();
    let s = with_mail(&smtp.url());
    let admin = s.admin("admin");
    let (id, token) = user_with_email(&s, &admin, "alice");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    expect_error(r, 503);
    // The server kept what it refused to deliver: the link in it must not work.
    let mails = smtp.wait_for(1);
    let link = link_in(&mails[0]);
    let r = s.post(
        &format!("/v2/users/{id}/passkeys"),
        None,
        &json!({"code": {"id": query(&link, "codeID"), "code": query(&link, "code")}}),
    );
    assert_eq!(r.status(), 400, "a refused mail's link still works");
    let v: Value = r.json().unwrap();
    assert_eq!(v["code"], 9, "{v}");
    assert_eq!(v["details"][0]["id"], "KW-PL-044", "void, unsent: {v}");
}

#[test]
fn smtp_settings_are_checked_at_start() {
    let s = Server::start();
    for bad in ["http://mail.example.test", "smtp://", "smtp://h?tls=maybe"] {
        let out = s.cli(&["serve", "--smtp-url", bad], None);
        assert!(!out.status.success(), "{bad} accepted");
    }
}

#[test]
fn a_mail_server_named_by_host_name_gets_the_mail() {
    // The name is resolved by keyward's own resolver (from /etc/hosts here), as in the static
    // release binary, where glibc's getaddrinfo is not used.
    let smtp = SmtpServer::start();
    let named = smtp.url().replace("127.0.0.1", "localhost");
    assert!(named.contains("//localhost:"), "{named}");
    let s = with_mail(&named);
    let admin = s.admin("admin");
    let (_, token) = user_with_email(&s, &admin, "alice");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let mails = smtp.wait_for(1);
    assert!(mails[0].contains("X-Envelope-To: alice@example.test"));
    // A name that resolves nowhere is the same 503 as a server that is down.
    let s = with_mail("smtp://no-such-host.invalid:25");
    let admin = s.admin("admin");
    let (_, token) = user_with_email(&s, &admin, "bob");
    let r = s.post(
        "/auth/api/login/user/self/passkey-link",
        Some(&token),
        &json!({"send": true}),
    );
    expect_error(r, 503);
}
