//! The JSON calls behind the hosted pages (`/auth/api/flow/...`), the browser session cookie
//! and CSRF protection.
//!
//! The session cookie `kw_session` is `<active login id>.<secret>`; only the secret's digest is
//! stored. It is HttpOnly and SameSite=Lax (Secure behind https). Every state-changing call
//! must also carry the header `X-CSRF-Token` equal to the `kw_csrf` cookie that the pages set
//! (double submit), and an `Origin`, when the browser sends one, must be keyward's own.
//!
//! A login here that finds an identity waiting for registration gets a register token bound
//! to this browser (its `kw_browser` cookie); the register and link calls take no other.

use super::body::Body;
use super::{Req, error_response, method_not_allowed, send_json};
use crate::App;
use crate::auth::secret::{digest, digest_eq, random_token};
use crate::core::linking::{self, LinkWith};
use crate::core::{bootstrap, login, oauth, registration};
use crate::db::Write;
use crate::db::{self, sessions::Session, users::User};
use crate::error::{Error, Reason, Result, Thing};
use serde_json::{Value, json};
use warp::http::{HeaderValue, Method, header};
use warp::reply::Response;

pub const SESSION_COOKIE: &str = "kw_session";
pub const CSRF_COOKIE: &str = "kw_csrf";
/// Where a login that no application asked for ends up.
pub const AFTER_LOGIN: &str = "/account";

pub async fn handle(app: &App, req: Req) -> Response {
    let mut cookies = Vec::new();
    let r = route(app, &req, &mut cookies).await;
    let mut resp = match r {
        Ok((status, v)) => send_json(status, &v),
        Err(e) => error_response(&e),
    };
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// A cookie's value from the request.
pub fn cookie<'a>(req: &'a Req, name: &str) -> Option<&'a str> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure_attr(app: &App) -> &'static str {
    if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

pub fn session_cookie(app: &App, value: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        secure_attr(app)
    )
}

/// The CSRF cookie a page response sets when the browser has none yet.
pub fn csrf_cookie(app: &App) -> String {
    format!(
        "{CSRF_COOKIE}={}; Path=/; SameSite=Strict{}",
        random_token(24),
        secure_attr(app)
    )
}

/// The cookie that register tokens of the hosted pages are bound to. Behind https it has the
/// `__Host-` prefix, so no sibling domain can plant a value of its choosing.
fn browser_cookie_name(app: &App) -> &'static str {
    if app.public_url.starts_with("https://") {
        "__Host-kw_browser"
    } else {
        "kw_browser"
    }
}

/// This browser's binding cookie, if it has one.
fn browser_cookie<'a>(app: &App, req: &'a Req) -> Option<&'a str> {
    cookie(req, browser_cookie_name(app)).filter(|v| !v.is_empty())
}

/// This browser's binding cookie value, made (and set) when it has none yet.
fn browser_binding(app: &App, req: &Req, cookies: &mut Vec<String>) -> String {
    if let Some(v) = browser_cookie(app, req) {
        return v.to_string();
    }
    let v = random_token(32);
    cookies.push(format!(
        "{}={v}; Path=/; HttpOnly; SameSite=Lax{}",
        browser_cookie_name(app),
        secure_attr(app)
    ));
    v
}

/// Refuses a state-changing call that does not prove it comes from keyward's own pages.
pub fn check_csrf(app: &App, req: &Req) -> Result<()> {
    if let Some(origin) = req.header("origin") {
        let ours = url::Url::parse(&app.public_url).map(|u| u.origin().ascii_serialization());
        if ours.as_deref().ok() != Some(origin) {
            return Err(Error::forbidden("cross-site request refused"));
        }
    }
    let cookie = cookie(req, CSRF_COOKIE).unwrap_or("");
    let header = req.header("x-csrf-token").unwrap_or("");
    if cookie.is_empty() || !digest_eq(cookie.as_bytes(), header.as_bytes()) {
        return Err(Error::forbidden(
            "missing or wrong CSRF token; reload the page and try again",
        ));
    }
    Ok(())
}

/// The live session and user behind the browser's session cookie.
pub async fn cookie_session(app: &App, req: &Req) -> Option<(Session, User)> {
    let (sid, secret) = cookie(req, SESSION_COOKIE)?.split_once('.')?;
    let (sid, secret) = (sid.to_string(), secret.to_string());
    app.db
        .read(move |c| {
            let Some(stored) = db::sessions::cookie_digest(c, &sid)? else {
                return Ok(None);
            };
            if !digest_eq(&stored, &digest(&secret)) {
                return Ok(None);
            }
            let now = db::now_ms();
            let Some(s) = db::sessions::get(c, &sid)?.filter(|s| s.is_live(now)) else {
                return Ok(None);
            };
            let user = match &s.user_id {
                Some(u) => db::users::get(c, u)?.filter(|u| !u.is_blocked),
                None => None,
            };
            Ok(user.map(|u| (s, u)))
        })
        .await
        .ok()
        .flatten()
}

async fn route(app: &App, req: &Req, cookies: &mut Vec<String>) -> Result<(u16, Value)> {
    let segs = req.rest(3);
    match (segs.as_slice(), &req.method) {
        (["context"], &Method::GET) => context(app, req).await,
        (["login"], &Method::POST) => {
            check_csrf(app, req)?;
            login(app, req, cookies).await
        }
        (["logout"], &Method::POST) => {
            check_csrf(app, req)?;
            if let Some((s, u)) = cookie_session(app, req).await {
                let actor = crate::core::Actor::user(&u, req.address());
                // A session that ended meanwhile (404) is logged out all the same.
                match crate::core::sessions::end(app, &actor, &s.id).await {
                    Err(e) if !matches!(e.reason, Reason::NotFound(_)) => return Err(e),
                    _ => {}
                }
            }
            cookies.push(session_cookie(app, "", 0));
            Ok((200, json!({"redirect": "/auth/flow/login"})))
        }
        // Whether a setup link is still good, so the page can say so before asking for anything.
        (["setup", "check"], &Method::POST) => {
            let b = Body::parse(&req.body)?;
            b.only(&["token"])?;
            bootstrap::check_setup_token(app, b.str("token")?).await?;
            Ok((200, json!({"valid": true})))
        }
        (["setup"], &Method::POST) => {
            let b = Body::parse(&req.body)?;
            b.only(&["token", "username", "displayName", "password"])?;
            let user = bootstrap::complete_setup(
                app,
                b.str("token")?,
                b.str("username")?,
                b.opt_str("displayName")?,
                b.str("password")?,
                req.address(),
            )
            .await?;
            Ok((201, super::login_api::user_json(&user)))
        }
        (["suggestion"], &Method::POST) => {
            check_csrf(app, req)?;
            let b = Body::parse(&req.body)?;
            b.only(&["registerToken"])?;
            let token = b.nonempty("registerToken")?;
            Ok((
                200,
                registration::page_suggestion(app, &token, browser_cookie(app, req)).await?,
            ))
        }
        (["register"], &Method::POST) => {
            check_csrf(app, req)?;
            register(app, req, cookies).await
        }
        (["link"], &Method::POST) => {
            check_csrf(app, req)?;
            link(app, req).await
        }
        (
            ["context"]
            | ["login"]
            | ["logout"]
            | ["setup"]
            | ["setup", "check"]
            | ["suggestion"]
            | ["register"]
            | ["link"],
            _,
        ) => Err(method_not_allowed()),
        _ => Err(Error::not_found(Thing::Route, "no such resource")),
    }
}

/// What the login page shows: the client asking, the instances to log in with, who is logged in.
async fn context(app: &App, req: &Req) -> Result<(u16, Value)> {
    let client = match req.query("flow").filter(|f| !f.is_empty()) {
        Some(f) => {
            let r = oauth::open_request(app, f)?;
            let c = crate::core::clients::get(app, &r.client_id).await?;
            json!({"id": c.id, "name": c.name})
        }
        None => Value::Null,
    };
    let instances: Vec<Value> = crate::core::instances::list(app, None)
        .await?
        .into_iter()
        .filter(|i| i.is_login_active)
        .map(|i| json!({"id": i.id, "name": i.name, "type": i.kind}))
        .collect();
    let user = cookie_session(app, req)
        .await
        .map(|(_, u)| json!({"username": u.username, "displayName": u.display_name}));
    Ok((
        200,
        json!({"client": client, "instances": instances, "user": user}),
    ))
}

/// What `enter_in` wrote: where the browser goes next and its session cookie.
pub struct Entered {
    redirect: String,
    cookie: String,
    max_age: i64,
}

impl Entered {
    fn reply(self, app: &App, cookies: &mut Vec<String>) -> (u16, Value) {
        cookies.push(session_cookie(app, &self.cookie, self.max_age));
        (200, json!({"redirect": self.redirect}))
    }
}

/// `enter` in the caller's transaction: the session's cookie digest and, for an authorization
/// request, its code, written with the login itself.
fn enter_in(tx: &Write, sid: &str, request: Option<&oauth::AuthRequest>) -> Result<Entered> {
    let secret = random_token(32);
    db::sessions::set_cookie_digest(tx, sid, &digest(&secret))?;
    let s = db::sessions::get(tx, sid)?.ok_or_else(|| Error::internal("session vanished"))?;
    let redirect = match request {
        Some(r) => oauth::issue_code(tx, sid, r)?,
        None => AFTER_LOGIN.to_string(),
    };
    Ok(Entered {
        redirect,
        cookie: format!("{sid}.{secret}"),
        max_age: (s.absolute_expires - db::now_ms()) / 1000,
    })
}

fn flow_request(app: &App, b: &Body) -> Result<Option<oauth::AuthRequest>> {
    b.opt_str("flow")?
        .filter(|f| !f.is_empty())
        .map(|f| oauth::open_request(app, &f))
        .transpose()
}

/// The hosted register page: a new account from a waiting identity (`registerToken`), or from
/// a new username and password on a userpass instance that allows self-registration.
async fn register(app: &App, req: &Req, cookies: &mut Vec<String>) -> Result<(u16, Value)> {
    let b = Body::parse(&req.body)?;
    b.only(&[
        "flow",
        "registerToken",
        "instanceId",
        "username",
        "password",
        "displayName",
        "email",
    ])?;
    let request = flow_request(app, &b)?;
    let username = b.str("username")?.trim().to_string();
    // The page lets the display name default to the username.
    let display_name = b
        .opt_str("displayName")?
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| username.clone());
    let r = registration::Registration {
        username,
        display_name,
        email: b.opt_str("email")?.filter(|e| !e.trim().is_empty()),
    };
    match b.opt_str("registerToken")?.filter(|t| !t.is_empty()) {
        Some(token) => {
            registration::check_browser(app, &token, browser_cookie(app, req)).await?;
            // The account, its login, the session and the browser's way in: one transaction.
            let entered = registration::self_register_then(
                app,
                &token,
                r,
                req.address(),
                move |tx, _, sid| enter_in(tx, sid, request.as_ref()),
            )
            .await?;
            Ok(entered.reply(app, cookies))
        }
        None => {
            let o = req.origin(request.as_ref().map(|r| r.client_id.as_str()));
            let instance = b.opt_str("instanceId")?;
            let password = b.str("password")?;
            // The account, its login, the session and the browser's way in: one transaction.
            let entered = registration::register_with_password(
                app,
                instance.as_deref(),
                &password,
                r,
                &o,
                move |tx, _, session| enter_in(tx, &session.id, request.as_ref()),
            )
            .await?;
            Ok(entered.reply(app, cookies))
        }
    }
}

/// The hosted link page: the logged-in user adds another way to log in, by a register token
/// from a login that found a waiting identity, or by a username and password on a userpass
/// instance (a new password login, or one that waits for registration).
async fn link(app: &App, req: &Req) -> Result<(u16, Value)> {
    let (browser_session, user) = cookie_session(app, req)
        .await
        .ok_or_else(|| Error::unauthorized("log in first"))?;
    let b = Body::parse(&req.body)?;
    b.only(&[
        "flow",
        "registerToken",
        "instanceId",
        "username",
        "password",
    ])?;
    let actor = crate::core::Actor::user(&user, req.address());
    let with = match b.opt_str("registerToken")?.filter(|t| !t.is_empty()) {
        Some(t) => {
            registration::check_browser(app, &t, browser_cookie(app, req)).await?;
            LinkWith::Token(t)
        }
        None => LinkWith::Password {
            instance: b.opt_str("instanceId")?,
            username: b.str("username")?.trim().to_string(),
            password: b.str("password")?,
        },
    };
    let request = flow_request(app, &b)?;
    let sid = browser_session.id;
    // The code for the application, if one asked, comes with the link.
    let redirect =
        linking::link_from_page(
            app,
            &actor,
            with,
            &req.origin(None),
            move |tx| match &request {
                Some(r) => oauth::issue_code(tx, &sid, r),
                None => Ok(AFTER_LOGIN.to_string()),
            },
        )
        .await?;
    Ok((200, json!({"redirect": redirect})))
}

async fn login(app: &App, req: &Req, cookies: &mut Vec<String>) -> Result<(u16, Value)> {
    let b = Body::parse(&req.body)?;
    b.only(&["flow", "instanceId", "username", "password"])?;
    let flow = b.opt_str("flow")?.filter(|f| !f.is_empty());
    let request = flow
        .as_deref()
        .map(|f| oauth::open_request(app, f))
        .transpose()?;
    let inst = login::password_instance(app, b.opt_str("instanceId")?.as_deref()).await?;
    let o = req.origin(request.as_ref().map(|r| r.client_id.as_str()));
    // A login to a user gets its cookie (and code) in the login's own transaction; a login to
    // a waiting identity goes on to the register page.
    let step = login::password_login_then(
        app,
        &inst,
        b.str("username")?.trim(),
        &b.str("password")?,
        &o,
        move |tx, outcome| {
            Ok(match outcome {
                login::Outcome::LoggedIn { session, .. } => {
                    LoginStep::Enter(enter_in(tx, &session.id, request.as_ref())?)
                }
                login::Outcome::Waiting { identity, session } => {
                    LoginStep::Register(Box::new((identity, session)))
                }
            })
        },
    )
    .await?;
    match step {
        LoginStep::Enter(entered) => Ok(entered.reply(app, cookies)),
        LoginStep::Register(waiting) => {
            let (identity, session) = *waiting;
            // The token is this browser's: the pages take it from no other.
            let browser = browser_binding(app, req, cookies);
            let (token, _) =
                registration::browser_register_token(app, &identity, &session, &browser)?;
            let mut next = format!("/auth/flow/register#registerToken={token}");
            if let Some(f) = &flow {
                next = format!("/auth/flow/register?flow={f}#registerToken={token}");
            }
            Ok((200, json!({"registerToken": token, "redirect": next})))
        }
    }
}

/// Where a hosted password login goes on.
enum LoginStep {
    Enter(Entered),
    /// The waiting identity and the session of this login.
    Register(Box<(db::identities::Identity, Session)>),
}
