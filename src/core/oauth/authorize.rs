//! The authorization request (RFC 6749 4.1.1): which client asks, where the answer goes, what
//! it asks for, and whether the browser must log in first. A request with an unknown client or
//! redirect URI is refused on keyward's own page, never sent anywhere; once both are known
//! good, errors go back to the client. A browser with a live keyward session gets its code at
//! once (single sign-on); otherwise the checked request is sealed into the login page's URL.

use super::{check_resource, granted_scope};
use crate::App;
use crate::auth::secret::{b64, digest, random_token};
use crate::core::{clients, sessions};
use crate::db::{self, Write};
use crate::error::{Error, Reason, Result};

/// How long an authorization request may wait for its login, and a code for its exchange.
const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
const CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// The parameters of an authorization request as sent (an empty one counts as absent).
#[derive(Debug, Default)]
pub struct Params {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub prompt: Option<String>,
    /// OIDC `max_age` (seconds), as sent.
    pub max_age: Option<String>,
}

/// The hosted page a browser logs in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Login,
    /// `prompt=create`.
    Register,
    /// `prompt=link`: the link page, which asks for a login first when there is none.
    Link,
}

/// What becomes of an authorization request.
pub enum Decision {
    /// The request cannot be sent back to its client (no or unknown client, a redirect URI it
    /// has not registered): the browser stays on keyward's page, which says why.
    Refused(&'static str),
    /// Back to the client's (verified) redirect URI with an error.
    Failed {
        redirect_uri: String,
        state: Option<String>,
        error: Error,
    },
    /// Single sign-on: back to the client with a code; the URL carries it.
    Issued(String),
    /// The browser logs in first, on `page`, which carries the sealed request (`flow`).
    Login { page: Page, flow: String },
}

/// An authorization request that has been checked and is waiting for a login.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub resource: Option<String>,
    /// Unix ms after which the request is void.
    pub expires: i64,
}

/// Decides an authorization request. `session_cookie` is the browser's keyward session cookie,
/// if it sent one. An `Err` is a failure inside keyward (the request could not be decided).
pub async fn authorize(app: &App, p: Params, session_cookie: Option<String>) -> Result<Decision> {
    // Until the client and redirect URI are known good, errors stay on keyward's page.
    let Some(client_id) = p.client_id else {
        return Ok(Decision::Refused(
            "The request names no client (client_id is missing).",
        ));
    };
    let client = match clients::get(app, &client_id).await {
        Ok(c) if c.is_valid => c,
        _ => {
            return Ok(Decision::Refused(
                "The application that sent you here is not known to this login service.",
            ));
        }
    };
    let redirect_uri = match p.redirect_uri {
        Some(r) if client.redirect_urls.contains(&r) => r,
        Some(_) => {
            return Ok(Decision::Refused(
                "The application asked to return to an address it has not registered.",
            ));
        }
        None if client.redirect_urls.len() == 1 => client.redirect_urls[0].clone(),
        None => return Ok(Decision::Refused("The request names no redirect_uri.")),
    };
    let state = p.state;
    let fail = |error: Error| {
        Ok(Decision::Failed {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
        })
    };
    let invalid = |m: &str| fail(Error::bad_request(m));
    // A missing parameter is a malformed request (RFC 6749 4.1.2.1); only a given one that is
    // not `code` is unsupported.
    if p.response_type.is_none() {
        return invalid("response_type is required");
    }
    if p.response_type.as_deref() != Some("code") {
        return fail(Error::new(
            Reason::GrantUnsupported,
            "only response_type=code is supported",
        ));
    }
    let scope = match granted_scope(&client, p.scope.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let challenge = p.code_challenge;
    match (&challenge, p.code_challenge_method.as_deref()) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => return invalid("code_challenge_method must be S256"),
        (None, _) if !client.requires_secret => {
            return invalid("a public client must use PKCE (code_challenge with S256)");
        }
        (None, _) => {}
    }
    if challenge.as_ref().is_some_and(|c| c.len() != 43) {
        return invalid("code_challenge must be a base64url SHA-256 digest");
    }
    let resource = match check_resource(app, &client, p.resource.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let prompt = p.prompt.as_deref().unwrap_or("");
    // `consent` and `select_account` are taken and mean nothing here: keyward asks for no
    // consent and a browser has one session.
    if !matches!(
        prompt,
        "" | "none" | "login" | "create" | "link" | "consent" | "select_account"
    ) {
        return invalid("prompt must be none, login, create or link");
    }
    // OIDC `max_age`: a session signed in longer ago than this does not pass through.
    let max_age_ms = match p.max_age.as_deref().map(str::parse::<u32>) {
        None => None,
        Some(Ok(secs)) => Some(i64::from(secs) * 1000),
        Some(Err(_)) => return invalid("max_age must be a whole number of seconds"),
    };
    let request = AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        scope,
        state: state.clone(),
        nonce: p.nonce,
        code_challenge: challenge,
        resource,
        expires: db::now_ms() + REQUEST_TTL_MS,
    };
    // Single sign-on: a browser with a live keyward session is not asked again.
    if !matches!(prompt, "login" | "create" | "link") {
        if let Some(cookie) = session_cookie {
            let r = request.clone();
            let issued = app
                .db
                .write(move |tx| match sessions::from_cookie(tx, &cookie)? {
                    Some((session, _user))
                        if max_age_ms.is_none_or(|m| tx.now - session.created_at <= m) =>
                    {
                        issue_code(tx, &session.id, &r).map(Some)
                    }
                    _ => Ok(None),
                })
                .await?;
            if let Some(url) = issued {
                return Ok(Decision::Issued(url));
            }
        }
        if prompt == "none" {
            return fail(Error::unauthorized("the user is not logged in"));
        }
    }
    let page = match prompt {
        "create" => Page::Register,
        "link" => Page::Link,
        _ => Page::Login,
    };
    Ok(Decision::Login {
        page,
        flow: seal_request(app, &request),
    })
}

/// Makes a code for a logged-in session, in the caller's transaction, and returns the redirect
/// URL that carries it.
pub fn issue_code(tx: &Write, session_id: &str, req: &AuthRequest) -> Result<String> {
    let code = random_token(32);
    db::codes::insert(
        tx,
        &digest(&code),
        &db::codes::Code {
            client_id: req.client_id.clone(),
            session_id: session_id.to_string(),
            redirect_uri: req.redirect_uri.clone(),
            scope: req.scope.clone(),
            resource: req.resource.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            expires: tx.now + CODE_TTL_MS,
            used_at: None,
        },
    )?;
    let mut url = url::Url::parse(&req.redirect_uri)
        .map_err(|_| Error::internal("stored redirect URI is not a URL"))?;
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = &req.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Ok(url.to_string())
}

/// Sealed authorization requests travel through the login pages in the URL, so no server
/// state is kept for a login that is never finished.
pub fn seal_request(app: &App, req: &AuthRequest) -> String {
    let plain = serde_json::to_vec(req).unwrap_or_default();
    b64(&app.master.seal("authorize-request", &plain))
}

pub fn open_request(app: &App, sealed: &str) -> Result<AuthRequest> {
    let bad = || {
        Error::bad_request(
            "this login link is invalid or has expired; start again from the application",
        )
    };
    let bytes = crate::auth::secret::b64_decode(sealed).ok_or_else(bad)?;
    let plain = app
        .master
        .open("authorize-request", &bytes)
        .map_err(|_| bad())?;
    let req: AuthRequest = serde_json::from_slice(&plain).map_err(|_| bad())?;
    if req.expires <= db::now_ms() {
        return Err(bad());
    }
    Ok(req)
}

/// The authorization request a hosted page serves (its sealed `flow`), if it serves one.
pub fn open_flow(app: &App, flow: Option<&str>) -> Result<Option<AuthRequest>> {
    flow.filter(|f| !f.is_empty())
        .map(|f| open_request(app, f))
        .transpose()
}

/// Where a browser that logged in to session `sid` goes, in the login's own transaction: back
/// to the application that asked, with its code, or to the account page.
pub fn destination_in(tx: &Write, sid: &str, request: Option<&AuthRequest>) -> Result<String> {
    match request {
        Some(r) => issue_code(tx, sid, r),
        None => Ok(crate::core::sessions::AFTER_LOGIN.to_string()),
    }
}
