//! Waiting identities and their register tokens. An identity that belongs to nobody yet waits
//! for the registration window; the register token proves a login to it. What becomes of it is
//! decided elsewhere: a new user (`registration`) or a login of an existing one (`linking`);
//! both attach it here (`attach_in`), so neither needs the other.

use super::instances::{self, Instance};
use super::new_id;
use super::sessions::{self, Origin};
use super::users::{check_username, userpass_subject};
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::auth::password::check_new_password;
use crate::auth::secret::{b64, digest, digest_eq};
use crate::db::identities::State;
use crate::db::{self, Read, Write, identities, identities::Identity, sessions::Session};
use crate::error::{Error, Reason, Result};
use crate::strategies::Kind as StrategyKind;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Signs the register token of a login to a waiting identity: `sub` is the identity, `sid` the
/// session, and it lives as long as the identity may still wait. Returns it with its lifetime.
/// This is the token of the JSON login API, which any holder may use.
pub fn register_token(app: &App, identity: &Identity, session: &Session) -> Result<(String, i64)> {
    sign_register_token(app, identity, session, None)
}

/// The register token of a login through the hosted pages: bound to the browser that made it
/// (the value of its binding cookie), so that the pages take it from that browser only.
pub fn browser_register_token(
    app: &App,
    identity: &Identity,
    session: &Session,
    browser: &str,
) -> Result<(String, i64)> {
    sign_register_token(app, identity, session, Some(browser_binding(browser)))
}

fn sign_register_token(
    app: &App,
    identity: &Identity,
    session: &Session,
    binding: Option<String>,
) -> Result<(String, i64)> {
    let now = jwt::now_secs();
    let exp = identity
        .expires
        .map(|e| e / 1000)
        .unwrap_or(now + app.settings.register_window as i64)
        .min(now + app.settings.register_window as i64);
    let claims = RegisterClaims {
        base: Claims {
            iss: app.public_url.clone(),
            sub: identity.id.clone(),
            aud: app.public_url.clone(),
            exp,
            iat: now,
            nbf: now,
            jti: new_id(),
            scope: "login-register".into(),
            client_id: session.client_id.clone(),
            sid: session.id.clone(),
        },
        browser: binding,
    };
    Ok((jwt::sign(&app.keys, Kind::Register, &claims)?, exp - now))
}

/// A register token's claims: those of every keyward token, and for a token made by the hosted
/// pages the SHA-256 (base64url) of its browser's binding cookie.
#[derive(Serialize, Deserialize)]
struct RegisterClaims {
    #[serde(flatten)]
    base: Claims,
    #[serde(
        rename = "kw_browser",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    browser: Option<String>,
}

/// What a register token carries of a browser's binding cookie: its digest, so that the token
/// (which travels in URLs and storage) never reveals the cookie.
fn browser_binding(cookie: &str) -> String {
    b64(&digest(cookie))
}

/// The hosted register and link pages take a register token only from the browser whose login
/// made it (`cookie`: that browser's binding cookie): a token made through the JSON API, or in
/// another browser and sent along in a link, could attach a login someone else chose. Checked
/// before anything changes; an invalid token is the usual 401.
pub async fn check_browser(app: &App, token: &str, cookie: Option<&str>) -> Result<()> {
    let claims = register_claims(app, token).await?;
    let ours = match (claims.browser, cookie) {
        (Some(bound), Some(c)) => digest_eq(bound.as_bytes(), browser_binding(c).as_bytes()),
        _ => false,
    };
    if ours {
        Ok(())
    } else {
        Err(Error::new(
            Reason::OtherBrowser,
            "This sign-up link was made in another browser, or not by a sign-in on this site. \
             Nothing was added or created. To add a login, sign in with it here, in this browser.",
        ))
    }
}

/// A register token that checked out: the identity still waits, and the session of its login.
pub struct Pending {
    pub identity: Identity,
    pub session_id: String,
    pub instance: Instance,
}

/// Every way a register token can fail is this same 401. It names the field (`register_token`)
/// so that a client can tell it from a 401 about its own access token (which it would renew).
pub fn invalid_token() -> Error {
    Error {
        field: Some("register_token".into()),
        ..Error::token_invalid(
            "the register token is invalid or expired, or its login is no longer waiting for registration",
        )
    }
}

/// The claims of a register token: signature, type, issuer, audience, lifetime and scope.
async fn register_claims(app: &App, token: &str) -> Result<RegisterClaims> {
    jwt::verify::<RegisterClaims>(
        &app.keys,
        Kind::Register,
        token,
        &app.public_url,
        Some(&app.public_url),
    )
    .await
    .ok()
    .filter(|c| c.base.has_scope("login-register"))
    .ok_or_else(invalid_token)
}

/// Whether `i` still waits for registration at `now`.
fn waits(i: &Identity, now: i64) -> bool {
    i.state == State::WaitingForRegister
        && i.user_id.is_none()
        && i.expires.is_some_and(|e| e > now)
}

/// Checks a register token; every way it can fail is the same 401.
pub async fn check_token(app: &App, token: &str) -> Result<Pending> {
    let claims = register_claims(app, token).await?.base;
    let id = claims.sub.clone();
    let identity = app
        .db
        .read(move |r| Ok(identities::get(r, &id)?.filter(|i| waits(i, r.now))))
        .await?
        .ok_or_else(invalid_token)?;
    let instance = instances::get(app, &identity.instance_id).await?;
    Ok(Pending {
        identity,
        session_id: claims.sid,
        instance,
    })
}

/// In the caller's transaction: attaches a waiting identity to `user_id` and gives the session
/// of its login that user, with a fresh inactivity expiry. A second attempt with the same
/// identity fails with 401.
pub fn attach_in(app: &App, tx: &Write, p: &Pending, user_id: &str) -> Result<()> {
    if !identities::claim_waiting(tx, &p.identity.id, user_id, tx.now)? {
        return Err(invalid_token());
    }
    db::sessions::assign_user(
        tx,
        &p.session_id,
        user_id,
        tx.now + app.settings.session_inactivity as i64 * 1000,
    )?;
    db::users::bump_sequence(tx, user_id)
}

/// Refuses a username that a password identity on `instance_id` holds: a waiting one holds
/// it until its registration window ends. Read before any hash, and again in the writing
/// transaction (`claim_subject`).
pub(super) async fn check_subject_free(app: &App, instance_id: &str, subject: &str) -> Result<()> {
    let (iid, subj) = (instance_id.to_string(), subject.to_string());
    let held = app
        .db
        .read(move |r| Ok(held(r, &iid, &subj)?.is_some()))
        .await?;
    if held {
        return Err(username_held());
    }
    Ok(())
}

/// The identity that holds `subject` on `instance_id`, if one does (a waiting one abandoned
/// past its window does not).
pub(super) fn held(r: &Read, instance_id: &str, subject: &str) -> Result<Option<Identity>> {
    Ok(identities::by_subject(r, instance_id, subject)?.filter(|i| !stale(i, r.now)))
}

/// A 409 on the username: the page shows it next to that field.
fn username_held() -> Error {
    let mut e = Error::conflict("the instance already has this username");
    e.field = Some("username".into());
    e
}

/// A registration abandoned past its window does not keep the name.
fn stale(i: &Identity, now: i64) -> bool {
    i.state == State::WaitingForRegister && i.expires.is_some_and(|e| e <= now)
}

/// In the writing transaction: makes room for a new identity `subject` on `instance_id`,
/// removing a stale waiting one, or refuses with 409.
pub(super) fn claim_subject(tx: &Write, instance_id: &str, subject: &str) -> Result<()> {
    if let Some(old) = identities::by_subject(tx, instance_id, subject)? {
        if !stale(&old, tx.now) {
            return Err(username_held());
        }
        identities::delete(tx, &old.id)?;
    }
    Ok(())
}

/// A new password identity as the write makes it and inserts it: waiting for registration
/// (`user` None) or at once the login of `user`. `id` is its id when the caller needs it
/// before (an audit actor), else a new one.
pub(super) fn insert_password_identity(
    app: &App,
    tx: &Write,
    id: Option<String>,
    instance_id: &str,
    username: &str,
    hash: String,
    user: Option<&str>,
) -> Result<Identity> {
    let identity = Identity {
        id: id.unwrap_or_else(new_id),
        user_id: user.map(str::to_string),
        instance_id: instance_id.to_string(),
        subject: userpass_subject(username),
        state: if user.is_some() {
            State::Valid
        } else {
            State::WaitingForRegister
        },
        expires: match user {
            Some(_) => None,
            None => Some(tx.now + app.settings.register_window as i64 * 1000),
        },
        password_hash: Some(hash),
        profile: json!({"username": username}),
        created_at: tx.now,
    };
    identities::insert(tx, &identity).map_err(|_| username_held())?;
    Ok(identity)
}

/// The client's address for the throttle.
pub(super) fn ip(origin: &Origin) -> Option<std::net::IpAddr> {
    origin.address.as_deref().and_then(|a| a.parse().ok())
}

/// `POST /strategy-instance/{id}/userpass/register`: a new password identity that waits for
/// registration. Nobody needs to be logged in. Everything that needs no hash is checked first
/// (the instance, the username and password rules, that the username is free), so a refused
/// request never costs a hash; what is left counts against the address's budget of new logins.
pub async fn userpass_register(
    app: &App,
    instance_id: &str,
    username: &str,
    password: &str,
    origin: &Origin,
) -> Result<(String, Identity)> {
    let inst = instances::get(app, instance_id).await?;
    if inst.kind != StrategyKind::Userpass {
        return Err(Error::bad_request(
            "the strategy instance is not a userpass instance",
        ));
    }
    if !inst.is_login_active {
        return Err(Error::forbidden(
            "login is disabled on this strategy instance",
        ));
    }
    check_username(username)?;
    check_new_password(password)?;
    let subject = userpass_subject(username);
    check_subject_free(app, &inst.id, &subject).await?;
    app.throttle.creation(ip(origin))?;
    let hash = app.hasher.hash(password.to_string()).await?;
    let (app2, origin, username) = (app.clone(), origin.clone(), username.to_string());
    let (identity, session) = app
        .db
        .write(move |tx| {
            claim_subject(tx, &inst.id, &subject)?;
            let identity =
                insert_password_identity(&app2, tx, None, &inst.id, &username, hash, None)?;
            let session = sessions::start(&app2, tx, None, Some(&identity.id), &origin)?;
            Ok((identity, session))
        })
        .await?;
    let (token, _) = register_token(app, &identity, &session)?;
    Ok((token, identity))
}

/// What a data suggestion says of the waiting identity's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuggestionStatus {
    /// A suggestion whose username is free.
    Ok,
    /// A suggestion whose username a user has.
    UsernameTaken,
    /// The identity belongs to a user already.
    AlreadyRegistered,
    /// The provider told us nothing to suggest.
    NoData,
}

/// What the provider told us about the person, checked against existing usernames.
pub struct Suggestion {
    pub status: SuggestionStatus,
    /// The suggested account (with `Ok` and `UsernameTaken` only).
    pub profile: Option<Profile>,
    /// The waiting login the suggestion is about: for the hosted pages, while it waits.
    pub login: Option<WaitingLogin>,
}

/// A suggested account, from what the provider told us.
pub struct Profile {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// The login a hosted page is about to attach, so that it can name it.
pub struct WaitingLogin {
    /// The instance's name (its id when it has none).
    pub instance: String,
    pub kind: StrategyKind,
    /// The username or e-mail address at the provider, else the subject.
    pub account: String,
}

/// The login API's data suggestion: what the provider told us about the person.
pub async fn data_suggestion(app: &App, token: &str) -> Result<Suggestion> {
    Ok(Suggestion {
        login: None,
        ..suggestion(app, token).await?
    })
}

/// The hosted pages' suggestion: `data_suggestion` for a register token of this browser only
/// (see `check_browser`), and, while the login waits, the login the page is about to attach.
pub async fn page_suggestion(app: &App, token: &str, cookie: Option<&str>) -> Result<Suggestion> {
    check_browser(app, token, cookie).await?;
    suggestion(app, token).await
}

async fn suggestion(app: &App, token: &str) -> Result<Suggestion> {
    let claims = register_claims(app, token).await?.base;
    let id = claims.sub.clone();
    let (identity, instance, taken, now) = app
        .db
        .read(move |r| {
            let i = identities::get(r, &id)?;
            let instance = match &i {
                Some(i) => db::instances::get(r, &i.instance_id)?,
                None => None,
            };
            let taken = match i.as_ref().and_then(|i| i.profile["username"].as_str()) {
                Some(u) => db::users::by_username(r, u)?.is_some(),
                None => false,
            };
            Ok((i, instance, taken, r.now))
        })
        .await?;
    let identity = identity.ok_or_else(invalid_token)?;
    if identity.state == State::Valid && identity.user_id.is_some() {
        return Ok(Suggestion {
            status: SuggestionStatus::AlreadyRegistered,
            profile: None,
            login: None,
        });
    }
    if identity.state != State::WaitingForRegister || identity.expires.is_none_or(|e| e <= now) {
        return Err(invalid_token());
    }
    let p = &identity.profile;
    let text = |k: &str| p[k].as_str().map(str::to_string);
    let login = instance.map(|inst| WaitingLogin {
        instance: inst.name.unwrap_or(inst.id),
        kind: inst.kind,
        account: text("username")
            .or(text("email"))
            .unwrap_or_else(|| identity.subject.clone()),
    });
    let username = text("username");
    let display_name = text("displayName").or(text("name")).or(username.clone());
    let email = text("email");
    if username.is_none() && display_name.is_none() && email.is_none() {
        return Ok(Suggestion {
            status: SuggestionStatus::NoData,
            profile: None,
            login,
        });
    }
    Ok(Suggestion {
        status: if taken {
            SuggestionStatus::UsernameTaken
        } else {
            SuggestionStatus::Ok
        },
        profile: Some(Profile {
            username,
            display_name,
            email,
        }),
        login,
    })
}
