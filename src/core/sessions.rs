//! Sessions ("active logins") and the access tokens that name them; the browser sessions of
//! the hosted pages, which a cookie names.

use super::new_id;
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::auth::secret::{digest, digest_eq, random_token};
use crate::db::{self, Read, Write, sessions::Session, users::User};
use crate::error::{Error, Reason, Result, Thing};

/// Where a login came from, kept with its session.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a session in the caller's transaction. Its inactivity expiry slides with use; its
/// absolute expiry does not.
pub fn start(
    app: &App,
    c: &Write,
    user_id: Option<&str>,
    identity_id: Option<&str>,
    origin: &Origin,
) -> Result<Session> {
    let now = c.now;
    let s = Session {
        id: new_id(),
        user_id: user_id.map(str::to_string),
        identity_id: identity_id.map(str::to_string),
        client_id: origin.client_id.clone(),
        created_at: now,
        last_used_at: now,
        expires: now + app.settings.session_inactivity as i64 * 1000,
        absolute_expires: now + app.settings.session_lifetime as i64 * 1000,
        ended_at: None,
        address: origin.address.clone(),
        user_agent: origin.user_agent.clone(),
    };
    db::sessions::insert(c, &s)?;
    Ok(s)
}

/// The live session, and its user (not blocked), that a browser's session cookie names. The
/// cookie is `<session id>.<secret>`; only the secret's digest is stored with the session.
pub fn from_cookie(r: &Read, cookie: &str) -> Result<Option<(Session, User)>> {
    let Some((sid, secret)) = cookie.split_once('.') else {
        return Ok(None);
    };
    let Some(stored) = db::sessions::cookie_digest(r, sid)? else {
        return Ok(None);
    };
    if !digest_eq(&stored, &digest(secret)) {
        return Ok(None);
    }
    let Some(s) = db::sessions::get(r, sid)?.filter(|s| s.is_live(r.now)) else {
        return Ok(None);
    };
    let user = match &s.user_id {
        Some(u) => db::users::get(r, u)?.filter(|u| !u.is_blocked),
        None => None,
    };
    Ok(user.map(|u| (s, u)))
}

/// Signs an access token for `user_id` in session `sid`. Its audience is `audience` (an RFC 8707
/// resource) or, by default, keyward itself, which its own endpoints require.
pub fn access_token(
    app: &App,
    user_id: &str,
    sid: &str,
    scope: &str,
    client_id: Option<&str>,
    ttl_secs: u64,
    audience: Option<&str>,
) -> Result<(String, Claims)> {
    let now = jwt::now_secs();
    let claims = Claims {
        iss: app.public_url.clone(),
        sub: user_id.to_string(),
        aud: audience.unwrap_or(&app.public_url).to_string(),
        exp: now + ttl_secs as i64,
        iat: now,
        nbf: now,
        jti: new_id(),
        scope: scope.to_string(),
        client_id: client_id.map(str::to_string),
        sid: sid.to_string(),
    };
    let token = jwt::sign(&app.keys, Kind::Access, &claims)?;
    Ok((token, claims))
}

/// A user's live sessions, newest first (self or admin).
pub async fn list(app: &App, actor: &super::Actor, user_id: &str) -> Result<Vec<Session>> {
    super::users::may_see(actor, user_id)?;
    let uid = user_id.to_string();
    app.db
        .read(move |c| {
            if db::users::get(c, &uid)?.is_none() {
                return Err(Error::not_found(Thing::User, "user not found"));
            }
            db::sessions::list_for_user(c, &uid, c.now)
        })
        .await
}

/// Ends a session (its owner or an admin): its refresh tokens and access tokens die with it.
pub async fn end(app: &App, actor: &super::Actor, id: &str) -> Result<()> {
    let (id, actor) = (id.to_string(), actor.clone());
    app.db
        .write(move |tx| {
            let s = db::sessions::get(tx, &id)?
                .filter(|s| s.ended_at.is_none())
                .ok_or_else(|| Error::not_found(Thing::Session, "active login not found"))?;
            // Someone else's session is "not found" to a non-admin, so ids cannot be probed.
            if !actor.is_admin && s.user_id.as_deref() != Some(actor.id.as_str()) {
                return Err(Error::not_found(Thing::Session, "active login not found"));
            }
            db::sessions::end(tx, &id, tx.now)?;
            actor.audit(
                tx,
                "session.end",
                Some(&id),
                serde_json::json!({"user": s.user_id}),
            )
        })
        .await
}

/// Where a browser goes after a login that no application asked for.
pub const AFTER_LOGIN: &str = "/account";

/// A browser that entered a session: where it goes next, and the value of its session cookie
/// (`<session id>.<secret>`; only the secret's digest is stored) with the cookie's lifetime.
pub struct Entered {
    pub redirect: String,
    pub cookie: String,
    /// Seconds: the session's absolute lifetime left.
    pub max_age: i64,
}

/// In the login's own transaction: gives the browser session `sid` a new cookie secret and
/// sends the browser on to `redirect` (an application's code, or `AFTER_LOGIN`).
pub fn enter_in(tx: &Write, sid: &str, redirect: String) -> Result<Entered> {
    let secret = random_token(32);
    db::sessions::set_cookie_digest(tx, sid, &digest(&secret))?;
    let s = db::sessions::get(tx, sid)?.ok_or_else(|| Error::internal("session vanished"))?;
    Ok(Entered {
        redirect,
        cookie: format!("{sid}.{secret}"),
        max_age: (s.absolute_expires - tx.now) / 1000,
    })
}

/// The session a browser's session cookie names, with its user: only a live session whose
/// stored digest matches the cookie's secret, of a user who is not blocked.
pub async fn cookie_session(app: &App, cookie: &str) -> Result<Option<(Session, User)>> {
    let cookie = cookie.to_string();
    app.db.read(move |r| from_cookie(r, &cookie)).await
}

/// Logs a browser out: the session its cookie names, if it has a live one, ends. A session
/// that ended meanwhile is logged out all the same.
pub async fn logout(app: &App, cookie: Option<&str>, address: Option<String>) -> Result<()> {
    let Some(cookie) = cookie else {
        return Ok(());
    };
    let Some((s, user)) = cookie_session(app, cookie).await? else {
        return Ok(());
    };
    match end(app, &super::Actor::user(&user, address), &s.id).await {
        Err(e) if !matches!(e.reason, Reason::NotFound(_)) => Err(e),
        _ => Ok(()),
    }
}

/// `keyward admin token`: a new session of the user named `username` (not blocked) and an
/// access token in it, audited as the CLI's, in one transaction.
pub async fn issue_cli_token(app: &App, username: &str, scope: &str, ttl: u64) -> Result<String> {
    let (app2, username, scope) = (app.clone(), username.to_string(), scope.to_string());
    app.db
        .write(move |tx| {
            let user = db::users::by_username(tx, &username)?.ok_or_else(|| {
                Error::not_found(Thing::User, format!("no user named {username:?}"))
            })?;
            if user.is_blocked {
                return Err(Error::forbidden(format!("{username} is blocked")));
            }
            let origin = Origin {
                client_id: Some("cli".into()),
                ..Default::default()
            };
            let s = start(&app2, tx, Some(&user.id), None, &origin)?;
            let (token, claims) = access_token(&app2, &user.id, &s.id, &scope, None, ttl, None)?;
            super::Actor::cli().audit(
                tx,
                "token.issue",
                Some(&user.id),
                serde_json::json!({"scope": scope, "ttl": ttl, "jti": claims.jti, "sid": s.id}),
            )?;
            Ok(token)
        })
        .await
}
