//! Registration: identities that belong to nobody yet wait for the registration window, and
//! the register token proves a login to one of them. Self-register makes a new user of it;
//! self-link and admin-link attach it to an existing user (see `linking`).

use super::instances::{self, Instance};
use super::sessions::{self, Origin};
use super::users::{self, NewUser, check_username, userpass_subject};
use super::{Actor, new_id};
use crate::App;
use crate::auth::jwt::{self, Claims, Kind};
use crate::auth::password::check_new_password;
use crate::auth::secret::{b64, digest, digest_eq};
use crate::db::Write;
use crate::db::identities::State;
use crate::db::{self, identities, identities::Identity, sessions::Session, users::User};
use crate::error::{Error, Reason, Result};
use crate::strategies::Kind as StrategyKind;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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

/// The machine-readable reason of the refusal below, for the pages to act on.
pub const OTHER_BROWSER: &str = "register_token_other_browser";

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

/// Every way a register token can fail is this same 401.
pub fn invalid_token() -> Error {
    Error::token_invalid(
        "the register token is invalid or expired, or its login is no longer waiting for registration",
    )
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

/// Checks a register token; every way it can fail is the same 401.
pub async fn check_token(app: &App, token: &str) -> Result<Pending> {
    let claims = register_claims(app, token).await?.base;
    let id = claims.sub.clone();
    let identity = app
        .db
        .read(move |c| identities::get(c, &id))
        .await?
        .filter(|i| {
            i.state == State::WaitingForRegister
                && i.user_id.is_none()
                && i.expires.is_some_and(|e| e > db::now_ms())
        })
        .ok_or_else(invalid_token)?;
    let instance = instances::get(app, &identity.instance_id).await?;
    Ok(Pending {
        identity,
        session_id: claims.sid,
        instance,
    })
}

/// Refuses a username that a password identity on `instance_id` holds: a waiting one holds
/// it until its registration window ends. Read before any hash, and again in the writing
/// transaction (`claim_subject`).
async fn check_subject_free(app: &App, instance_id: &str, subject: &str) -> Result<()> {
    let (iid, subj) = (instance_id.to_string(), subject.to_string());
    let held = app
        .db
        .read(move |c| Ok(identities::by_subject(c, &iid, &subj)?.is_some_and(|i| !stale(&i))))
        .await?;
    if held {
        return Err(username_held());
    }
    Ok(())
}

fn username_held() -> Error {
    Error::conflict("the instance already has this username")
}

/// A registration abandoned past its window does not keep the name.
pub(super) fn stale(i: &Identity) -> bool {
    i.state == State::WaitingForRegister && i.expires.is_some_and(|e| e <= db::now_ms())
}

/// In the writing transaction: makes room for a new identity `subject` on `instance_id`,
/// removing a stale waiting one, or refuses with 409.
pub(super) fn claim_subject(tx: &Write, instance_id: &str, subject: &str) -> Result<()> {
    if let Some(old) = identities::by_subject(tx, instance_id, subject)? {
        if !stale(&old) {
            return Err(username_held());
        }
        identities::delete(tx, &old.id)?;
    }
    Ok(())
}

/// A new password identity as the write makes it: waiting for registration (`user` None) or
/// at once the login of `user`.
pub(super) fn password_identity(
    app: &App,
    instance_id: &str,
    username: &str,
    hash: String,
    user: Option<&str>,
) -> Identity {
    let now = db::now_ms();
    Identity {
        id: new_id(),
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
            None => Some(now + app.settings.register_window as i64 * 1000),
        },
        password_hash: Some(hash),
        profile: json!({"username": username}),
        created_at: now,
    }
}

/// The client's address for the throttle.
fn ip(origin: &Origin) -> Option<std::net::IpAddr> {
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
            let identity = password_identity(&app2, &inst.id, &username, hash, None);
            identities::insert(tx, &identity).map_err(|_| username_held())?;
            let session = sessions::start(&app2, tx, None, Some(&identity.id), &origin)?;
            Ok((identity, session))
        })
        .await?;
    let (token, _) = register_token(app, &identity, &session)?;
    Ok((token, identity))
}

/// What the provider told us about the person, checked against existing usernames.
pub async fn data_suggestion(app: &App, token: &str) -> Result<Value> {
    Ok(suggestion(app, token).await?.0)
}

/// The hosted pages' suggestion: `data_suggestion` for a register token of this browser only
/// (see `check_browser`), and, while the login waits, the login the page is about to attach,
/// so that it can name it: `login: {instance, type, account}`.
pub async fn page_suggestion(app: &App, token: &str, cookie: Option<&str>) -> Result<Value> {
    check_browser(app, token, cookie).await?;
    let (mut v, login) = suggestion(app, token).await?;
    if let Some(l) = login {
        v["login"] = l;
    }
    Ok(v)
}

/// The suggestion, and the waiting login it is about (none once it is registered).
async fn suggestion(app: &App, token: &str) -> Result<(Value, Option<Value>)> {
    let claims = register_claims(app, token).await?.base;
    let id = claims.sub.clone();
    let (identity, instance, taken) = app
        .db
        .read(move |c| {
            let i = identities::get(c, &id)?;
            let instance = match &i {
                Some(i) => db::instances::get(c, &i.instance_id)?,
                None => None,
            };
            let taken = match i.as_ref().and_then(|i| i.profile["username"].as_str()) {
                Some(u) => db::users::by_username(c, u)?.is_some(),
                None => false,
            };
            Ok((i, instance, taken))
        })
        .await?;
    let identity = identity.ok_or_else(invalid_token)?;
    if identity.state == State::Valid && identity.user_id.is_some() {
        return Ok((json!({"status": "ALREADY_REGISTERED"}), None));
    }
    if identity.state != State::WaitingForRegister
        || identity.expires.is_none_or(|e| e <= db::now_ms())
    {
        return Err(invalid_token());
    }
    let p = &identity.profile;
    let login = instance.map(|inst| {
        json!({
            "instance": inst.name.unwrap_or(inst.id),
            "type": inst.kind,
            "account": p["username"].as_str().or(p["email"].as_str()).unwrap_or(&identity.subject),
        })
    });
    let username = p["username"].as_str();
    let display_name = p["displayName"].as_str().or(username);
    let email = p["email"].as_str();
    if username.is_none() && display_name.is_none() && email.is_none() {
        return Ok((json!({"status": "NO_DATA"}), login));
    }
    Ok((
        json!({
            "status": if taken { "USERNAME_TAKEN" } else { "OK" },
            "username": username,
            "displayName": display_name,
            "email": email,
        }),
        login,
    ))
}

pub struct Registration {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
}

fn check_registration(r: &Registration) -> Result<()> {
    check_username(&r.username)?;
    users::check_display_name(&r.display_name)?;
    users::check_email(&r.email)
}

fn self_register_disabled() -> Error {
    Error::forbidden("self-registration is disabled on this strategy instance")
}

/// `self-register`: a new user made from a waiting identity, which becomes its first login.
/// Returns the user and the session of the login that found the identity.
pub async fn self_register(
    app: &App,
    token: &str,
    r: Registration,
    address: Option<String>,
) -> Result<(User, String)> {
    self_register_then(app, token, r, address, |_, user, sid| {
        Ok((user.clone(), sid.to_string()))
    })
    .await
}

/// `self_register` with the caller's own writes (the hosted page's cookie and authorization
/// code) in the same transaction as the new user: all of it lands, or none.
pub async fn self_register_then<T, F>(
    app: &App,
    token: &str,
    r: Registration,
    address: Option<String>,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, &User, &str) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let pending = check_token(app, token).await?;
    if !pending.instance.is_self_register_active {
        return Err(self_register_disabled());
    }
    check_registration(&r)?;
    let app2 = app.clone();
    app.db
        .write(move |tx| {
            let actor = Actor {
                id: format!("self-register:{}", pending.identity.id),
                is_admin: false,
                address,
            };
            let user = users::create_in(
                &app2,
                tx,
                &actor,
                NewUser {
                    username: r.username,
                    display_name: r.display_name,
                    email: r.email,
                    is_admin: false,
                    password: None,
                },
                None,
            )?;
            super::linking::attach_in(&app2, tx, &pending, &user.id)?;
            then(tx, &user, &pending.session_id)
        })
        .await
}

/// The hosted register page without a register token: a new password login on a userpass
/// instance that allows self-registration, and at once the account it belongs to. Every
/// check that needs no hash comes first; then, after the hash, one transaction makes the user,
/// its password identity and the session of this login, and runs `then` (the page's cookie
/// and authorization code): a failure anywhere leaves nothing behind, no identity holding the
/// username.
pub async fn register_with_password<T, F>(
    app: &App,
    instance: Option<&str>,
    password: &str,
    r: Registration,
    origin: &Origin,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, &User, &Session) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let inst = super::login::password_instance(app, instance).await?;
    if !inst.is_self_register_active {
        return Err(self_register_disabled());
    }
    check_registration(&r)?;
    check_new_password(password)?;
    let name = r.username.clone();
    if app
        .db
        .read(move |c| db::users::by_username(c, &name))
        .await?
        .is_some()
    {
        return Err(Error::conflict("username is already taken"));
    }
    let subject = userpass_subject(&r.username);
    check_subject_free(app, &inst.id, &subject).await?;
    app.throttle.creation(ip(origin))?;
    let hash = app.hasher.hash(password.to_string()).await?;
    let (app2, origin) = (app.clone(), origin.clone());
    app.db
        .write(move |tx| {
            claim_subject(tx, &inst.id, &subject)?;
            let identity_id = new_id();
            let username = r.username.clone();
            let actor = Actor {
                id: format!("self-register:{identity_id}"),
                is_admin: false,
                address: origin.address.clone(),
            };
            let user = users::create_in(
                &app2,
                tx,
                &actor,
                NewUser {
                    username: r.username,
                    display_name: r.display_name,
                    email: r.email,
                    is_admin: false,
                    password: None,
                },
                None,
            )?;
            let identity = Identity {
                id: identity_id,
                ..password_identity(&app2, &inst.id, &username, hash, Some(&user.id))
            };
            identities::insert(tx, &identity).map_err(|_| username_held())?;
            let session = sessions::start(&app2, tx, Some(&user.id), Some(&identity.id), &origin)?;
            then(tx, &user, &session)
        })
        .await
}
