//! The OAuth 2 / OpenID Connect endpoints (`/.well-known/...`, `/auth/oauth/...`).
//! Errors here come in RFC 6749's shape; an authorization request with an unknown client or
//! redirect URI gets an error page, never a redirect.

use super::guard::bearer;
use super::{Req, respond, send_json};
use crate::App;
use crate::core::clients::{self, Client};
use crate::core::login;
use crate::core::oauth::{self, AuthRequest};
use crate::core::principal::authenticate;
use crate::error::{Error, Reason, Result, Thing};
use serde_json::{Value, json};
use std::collections::HashMap;
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

/// RFC 6749's error shape, `{error, error_description}`, with the status its code calls for.
pub fn oauth_error(e: &Error) -> Response {
    let e = &*super::public_error(e);
    let (status, code) = match e.reason {
        Reason::NotLoggedIn | Reason::TokenInvalid => (401, "invalid_token"),
        Reason::ClientUnauthenticated => (401, "invalid_client"),
        Reason::Forbidden | Reason::OtherBrowser => (403, "access_denied"),
        Reason::ScopeMissing => (403, "insufficient_scope"),
        Reason::WrongCredentials | Reason::Blocked | Reason::GrantInvalid => (400, "invalid_grant"),
        Reason::ScopeInvalid => (400, "invalid_scope"),
        Reason::TargetInvalid => (400, "invalid_target"),
        Reason::ClientNotAllowed => (400, "unauthorized_client"),
        Reason::GrantUnsupported => (400, "unsupported_grant_type"),
        Reason::NotFound(_) => (404, "invalid_request"),
        Reason::MethodNotAllowed => (405, "invalid_request"),
        Reason::TooLarge => (413, "invalid_request"),
        Reason::MediaType => (415, "invalid_request"),
        Reason::Throttled(_) => (429, "slow_down"),
        Reason::Busy(_) => (503, "temporarily_unavailable"),
        Reason::Internal => (500, "server_error"),
        Reason::Invalid
        | Reason::InvalidQuery
        | Reason::Conflict
        | Reason::IdentityTaken
        | Reason::SameIdentity
        | Reason::LastLoginMethod
        | Reason::Precondition => (400, "invalid_request"),
    };
    let mut r = super::with_retry_after(
        send_json(
            status,
            &json!({"error": code, "error_description": e.message}),
        ),
        e,
    );
    if status == 401 {
        let challenge = if code == "invalid_token" {
            "Bearer error=\"invalid_token\""
        } else {
            "Basic realm=\"keyward\""
        };
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    r
}

pub async fn handle(app: &App, req: Req) -> Response {
    let segs = req.rest(0);
    let m = req.method.clone();
    let r = match segs.as_slice() {
        [".well-known", "jwks.json"] if m == Method::GET => {
            app.keys.published().await.map(|jwks| {
                let mut r = send_json(200, &jwks);
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                );
                r
            })
        }
        [".well-known", "openid-configuration"] if m == Method::GET => {
            Ok(send_json(200, &discovery(app)))
        }
        ["auth", "oauth", "authorize"] if m == Method::GET => return authorize(app, &req).await,
        ["auth", "oauth", "token"] if m == Method::POST => token(app, &req).await,
        ["auth", "oauth", "userinfo"] if m == Method::GET || m == Method::POST => {
            userinfo(app, &req).await
        }
        ["auth", "oauth", "revoke"] if m == Method::POST => revoke(app, &req).await,
        ["auth", "oauth", "introspect"] if m == Method::POST => introspect(app, &req).await,
        [".well-known", "jwks.json" | "openid-configuration"]
        | [
            "auth",
            "oauth",
            "authorize" | "token" | "userinfo" | "revoke" | "introspect",
        ] => Err(super::method_not_allowed()),
        _ => Err(Error::not_found(Thing::Route, "no such resource")),
    };
    match r {
        Ok(r) => r,
        Err(e) => oauth_error(&e),
    }
}

fn discovery(app: &App) -> Value {
    let u = &app.public_url;
    json!({
        "issuer": u,
        "authorization_endpoint": format!("{u}/auth/oauth/authorize"),
        "token_endpoint": format!("{u}/auth/oauth/token"),
        "userinfo_endpoint": format!("{u}/auth/oauth/userinfo"),
        "jwks_uri": format!("{u}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{u}/auth/oauth/revoke"),
        "introspection_endpoint": format!("{u}/auth/oauth/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "password"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": clients::CLIENT_SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid", "name", "preferred_username", "email", "email_verified"],
        "prompt_values_supported": ["none", "login", "create", "link"],
        "request_parameter_supported": false,
    })
}

/// Form parameters; a parameter given twice is refused, as RFC 6749 requires.
fn form(req: &Req) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).map_err(|_| {
        Error::bad_request("the body must be a form (application/x-www-form-urlencoded)")
    })?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if out.insert(k.clone(), v).is_some() {
            return Err(Error::bad_request(format!("{k} is given more than once")));
        }
    }
    Ok(out)
}

/// Client authentication: HTTP Basic, or client_id (+ client_secret) in the form.
async fn client_auth(app: &App, req: &Req, f: &HashMap<String, String>) -> Result<Client> {
    let basic = req
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .map(|b| {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| {
                    Error::new(Reason::ClientUnauthenticated, "malformed Basic credentials")
                })?;
            let (id, secret) = raw.split_once(':').ok_or_else(|| {
                Error::new(Reason::ClientUnauthenticated, "malformed Basic credentials")
            })?;
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            Ok::<_, Error>((dec(id), dec(secret)))
        })
        .transpose()?;
    let (id, secret) = match basic {
        Some((id, secret)) => {
            if f.get("client_id").is_some_and(|c| *c != id) {
                return Err(Error::bad_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id, Some(secret))
        }
        None => {
            let id = f.get("client_id").cloned().ok_or_else(|| {
                Error::new(
                    Reason::ClientUnauthenticated,
                    "client authentication is required",
                )
            })?;
            (id, f.get("client_secret").cloned())
        }
    };
    clients::authenticate(app, &id, secret.as_deref()).await
}

async fn token(app: &App, req: &Req) -> Result<Response> {
    let f = form(req)?;
    let client = client_auth(app, req, &f).await?;
    let get = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let need = |k: &str| get(k).ok_or_else(|| Error::bad_request(format!("{k} is required")));
    let grant = need("grant_type")?;
    let body = match grant {
        "authorization_code" => {
            let resource = oauth::check_resource(app, &client, get("resource"))?;
            oauth::exchange_code(
                app,
                &client,
                need("code")?,
                get("redirect_uri"),
                get("code_verifier"),
                resource,
            )
            .await?
        }
        "refresh_token" => {
            let resource = oauth::check_resource(app, &client, get("resource"))?;
            oauth::refresh(app, &client, need("refresh_token")?, get("scope"), resource).await?
        }
        "client_credentials" => {
            let resource = oauth::check_resource(app, &client, get("resource"))?;
            oauth::client_credentials(app, &client, get("scope"), resource).await?
        }
        "password" => {
            if !client.allow_password_grant {
                return Err(Error::new(
                    Reason::ClientNotAllowed,
                    "this client may not use the password grant",
                ));
            }
            let scope = oauth::granted_scope(&client, get("scope"))?;
            let resource = oauth::check_resource(app, &client, get("resource"))?;
            let inst = login::password_instance(app, get("instance")).await?;
            let o = req.origin(Some(&client.id));
            oauth::password_grant(
                app,
                &client,
                &inst,
                need("username")?,
                f.get("password").map(String::as_str).unwrap_or(""),
                &o,
                oauth::Asked { scope, resource },
            )
            .await?
        }
        other => {
            return Err(Error::new(
                Reason::GrantUnsupported,
                format!("grant_type {other} is not supported"),
            ));
        }
    };
    let mut r = send_json(200, &body);
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}

async fn userinfo(app: &App, req: &Req) -> Result<Response> {
    let token = bearer(req.header("authorization"))
        .ok_or_else(|| Error::token_invalid("an access token is required"))?;
    let p = authenticate(app, token).await?;
    if !p.claims.has_scope("openid") {
        return Err(Error::new(
            Reason::ScopeMissing,
            "the token lacks the scope openid",
        ));
    }
    let scope = oauth::parse_scope(&p.claims.scope);
    let mut out = json!({"sub": p.user.id});
    oauth::profile_claims(&p.user, &scope, &mut out);
    Ok(send_json(200, &out))
}

async fn revoke(app: &App, req: &Req) -> Result<Response> {
    let f = form(req)?;
    let client = client_auth(app, req, &f).await?;
    let token = f
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::field("token", "is required"))?;
    oauth::revoke(app, &client, token).await?;
    Ok(send_json(200, &json!({})))
}

async fn introspect(app: &App, req: &Req) -> Result<Response> {
    let f = form(req)?;
    let client = client_auth(app, req, &f).await?;
    if !client.requires_secret {
        return Err(Error::new(
            Reason::ClientUnauthenticated,
            "introspection needs a confidential client",
        ));
    }
    let token = f
        .get("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::field("token", "is required"))?;
    Ok(send_json(
        200,
        &oauth::introspect(app, &client, token).await?,
    ))
}

/// The page shown when an authorization request cannot be sent back to its client.
fn error_page(message: &str) -> Response {
    let esc = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign-in error</title><link rel=\"stylesheet\" href=\"/assets/style.css\"></head>\
         <body><main><div class=\"card\"><h1>This sign-in request cannot go on</h1>\
         <p class=\"msg error\" role=\"alert\">{esc}</p>\
         <p class=\"muted\">Go back to the application and try again, or tell its administrator.</p>\
         </div></main></body></html>"
    );
    let mut r = respond(400, "text/html; charset=utf-8", html);
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::assets::CSP),
    );
    r
}

pub fn redirect(location: &str) -> Response {
    let mut r = respond(302, "text/plain", Vec::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Sends an error back to the client's (already verified) redirect URI.
fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    code: &str,
    description: &str,
) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            u.query_pairs_mut()
                .append_pair("error", code)
                .append_pair("error_description", description);
            if let Some(s) = state {
                u.query_pairs_mut().append_pair("state", s);
            }
            redirect(u.as_str())
        }
        Err(_) => error_page(description),
    }
}

async fn authorize(app: &App, req: &Req) -> Response {
    let q = |k: &str| req.query(k).filter(|v| !v.is_empty());
    // Until the client and redirect URI are known good, errors stay on our page.
    let Some(client_id) = q("client_id") else {
        return error_page("The request names no client (client_id is missing).");
    };
    let client = match clients::get(app, client_id).await {
        Ok(c) if c.is_valid => c,
        _ => {
            return error_page(
                "The application that sent you here is not known to this login service.",
            );
        }
    };
    let redirect_uri = match q("redirect_uri") {
        Some(r) if client.redirect_urls.iter().any(|u| u == r) => r.to_string(),
        Some(_) => {
            return error_page(
                "The application asked to return to an address it has not registered.",
            );
        }
        None if client.redirect_urls.len() == 1 => client.redirect_urls[0].clone(),
        None => return error_page("The request names no redirect_uri."),
    };
    let state = q("state");
    let fail = |code: &str, d: &str| redirect_error(&redirect_uri, state, code, d);
    if q("response_type") != Some("code") {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let scope = match oauth::granted_scope(&client, q("scope")) {
        Ok(s) => s,
        Err(e) => return fail("invalid_scope", &e.message),
    };
    let challenge = q("code_challenge");
    match (challenge, q("code_challenge_method")) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => return fail("invalid_request", "code_challenge_method must be S256"),
        (None, _) if !client.requires_secret => {
            return fail(
                "invalid_request",
                "a public client must use PKCE (code_challenge with S256)",
            );
        }
        (None, _) => {}
    }
    if challenge.is_some_and(|c| c.len() != 43) {
        return fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 digest",
        );
    }
    let resource = match oauth::check_resource(app, &client, q("resource")) {
        Ok(r) => r,
        Err(e) => return fail("invalid_target", &e.message),
    };
    let prompt = q("prompt").unwrap_or("");
    if !matches!(
        prompt,
        "" | "none" | "login" | "create" | "link" | "consent" | "select_account"
    ) {
        return fail(
            "invalid_request",
            "prompt must be none, login, create or link",
        );
    }
    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.map(str::to_string),
        nonce: q("nonce").map(str::to_string),
        code_challenge: challenge.map(str::to_string),
        resource,
        expires: crate::db::now_ms() + 10 * 60 * 1000,
    };
    // Single sign-on: a browser with a live keyward session is not asked again.
    if !matches!(prompt, "login" | "create" | "link") {
        if let Some((session, _user)) = super::cookies::browser_session(app, req).await {
            let sid = session.id.clone();
            let r = request.clone();
            match app
                .db
                .write(move |tx| oauth::issue_code(tx, &sid, &r))
                .await
            {
                Ok(url) => return redirect(&url),
                Err(e) => return error_page(&super::public_error(&e).message),
            }
        }
        if prompt == "none" {
            return fail("login_required", "the user is not logged in");
        }
    }
    let sealed = oauth::seal_request(app, &request);
    // `link` goes to the link page, which asks for a login first when there is no session.
    let page = match prompt {
        "create" => "register",
        "link" => "link",
        _ => "login",
    };
    redirect(&format!("/auth/flow/{page}?flow={sealed}"))
}
