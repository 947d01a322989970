//! Registration: a new user, made from an identity that waits for registration (the register
//! token proves the login to it; see `pending`), or on the hosted register page from a new
//! username and password or a new passkey. Linking an identity to an existing user is
//! `linking`'s.

use super::login;
use super::oauth::{destination_in, open_flow};
use super::passkeys::{self, SignupStarted};
use super::pending::{self, check_subject_free, claim_subject, insert_password_identity};
use super::sessions::{self, Entered, Origin};
use super::users::{self, NewUser, check_username, userpass_subject};
use super::{Actor, new_id};
use crate::App;
use crate::auth::password::check_new_password;
use crate::db::{self, Write, users::User};
use crate::error::{Error, Result};

/// A new account's profile, as a register form gives it (a passkey sign-up keeps it in its
/// ceremony until the passkey comes back).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

/// The hosted register page with a register token, which only the browser whose login made it
/// (`browser`: its binding cookie) may use: the new user, its first login, the browser's
/// session cookie and the code for the application that asked (`flow`), in one transaction.
pub async fn register_from_page(
    app: &App,
    flow: Option<&str>,
    token: &str,
    browser: Option<&str>,
    r: Registration,
    address: Option<String>,
) -> Result<Entered> {
    let request = open_flow(app, flow)?;
    pending::check_browser(app, token, browser).await?;
    self_register_then(app, token, r, address, move |tx, _, sid| {
        let to = destination_in(tx, sid, request.as_ref())?;
        sessions::enter_in(tx, sid, to)
    })
    .await
}

/// `self_register` with the caller's own writes in the same transaction as the new user: all
/// of it lands, or none.
async fn self_register_then<T, F>(
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
    let pending = pending::check_token(app, token).await?;
    if !pending.instance.is_self_register_active {
        return Err(self_register_disabled());
    }
    check_registration(&r)?;
    let app2 = app.clone();
    app.db
        .write(move |tx| {
            let user = create_self_registered(&app2, tx, &pending.identity.id, address, r)?;
            pending::attach_in(&app2, tx, &pending, &user.id)?;
            then(tx, &user, &pending.session_id)
        })
        .await
}

/// The hosted register page without a register token: a new password login on a userpass
/// instance that allows self-registration, and at once the account it belongs to. Every
/// check that needs no hash comes first; then, after the hash, one transaction makes the user,
/// its password identity, the session of this login, the browser's session cookie and the code
/// for the application that asked (`flow`): a failure anywhere leaves nothing behind, no
/// identity holding the username.
pub async fn register_with_password(
    app: &App,
    flow: Option<&str>,
    instance: Option<&str>,
    password: &str,
    r: Registration,
    origin: Origin,
) -> Result<Entered> {
    let (request, origin) = super::hosted::flow_and_origin(app, flow, origin)?;
    let inst = login::password_instance(app, instance, "instanceId").await?;
    if !inst.is_self_register_active {
        return Err(self_register_disabled());
    }
    check_registration(&r)?;
    check_new_password(password)?;
    check_username_free(app, &r.username).await?;
    let subject = userpass_subject(&r.username);
    check_subject_free(app, &inst.id, &subject).await?;
    app.throttle.creation(pending::ip(&origin))?;
    let hash = app.hasher.hash(password.to_string()).await?;
    let app2 = app.clone();
    app.db
        .write(move |tx| {
            claim_subject(tx, &inst.id, &subject)?;
            let identity_id = new_id();
            let username = r.username.clone();
            let user = create_self_registered(&app2, tx, &identity_id, origin.address.clone(), r)?;
            let identity = insert_password_identity(
                &app2,
                tx,
                Some(identity_id),
                &inst.id,
                &username,
                hash,
                Some(&user.id),
            )?;
            let session = sessions::start(&app2, tx, Some(&user.id), Some(&identity.id), &origin)?;
            let to = destination_in(tx, &session.id, request.as_ref())?;
            sessions::enter_in(tx, &session.id, to)
        })
        .await
}

/// Whether `username` belongs to a user already.
async fn check_username_free(app: &App, username: &str) -> Result<()> {
    let name = username.to_string();
    if app
        .db
        .read(move |c| db::users::by_username(c, &name))
        .await?
        .is_some()
    {
        return Err(username_taken());
    }
    Ok(())
}

/// Whether the passkey instance lets people sign up with a passkey: login and
/// self-registration both on.
fn check_passkey_signup_open(inst: &db::instances::InstanceRow) -> Result<()> {
    if !inst.is_login_active {
        return Err(Error::forbidden(
            "login is disabled on this strategy instance",
        ));
    }
    if !inst.is_self_register_active {
        return Err(self_register_disabled());
    }
    Ok(())
}

/// The hosted register page's passkey sign-up, begun for the browser whose binding cookie is
/// `browser`: the same checks as `register_with_password` (the instance allows it, the profile's
/// rules, the username free, the address's budget of new logins), all before anything is
/// stored; then a ceremony that keeps the profile (see `passkeys::start_signup`).
pub async fn start_passkey_signup(
    app: &App,
    flow: Option<&str>,
    r: Registration,
    browser: &str,
    origin: &Origin,
) -> Result<SignupStarted> {
    open_flow(app, flow)?;
    passkeys::require_on(app)?;
    let inst = app.db.read(passkeys::passkey_instance).await?;
    check_passkey_signup_open(&inst)?;
    check_registration(&r)?;
    check_username_free(app, &r.username).await?;
    app.throttle.creation(pending::ip(origin))?;
    passkeys::start_signup(app, r, browser).await
}

/// Finishes a passkey sign-up of this browser (`browser`: its binding cookie): once the
/// credential checks out, one transaction checks again that the username is free and the
/// instance still allows sign-up, then makes the user, its passkey identity, the session of
/// this login, the browser's session cookie and the code for the application that asked
/// (`flow`), as `register_with_password` ends. A refusal leaves nothing behind but a spent
/// ceremony.
pub async fn register_with_passkey(
    app: &App,
    flow: Option<&str>,
    ceremony_id: &str,
    credential: serde_json::Value,
    name: &str,
    browser: Option<&str>,
    origin: Origin,
) -> Result<Entered> {
    let (request, origin) = super::hosted::flow_and_origin(app, flow, origin)?;
    let name = passkeys::check_name("passkeyName", name)?;
    let app2 = app.clone();
    passkeys::finish_signup_then(app, ceremony_id, credential, browser, move |tx, s| {
        if let Err(e) = check_passkey_signup_open(&s.instance) {
            return Ok(Err(e));
        }
        if db::users::by_username(tx, &s.profile.username)?.is_some() {
            return Ok(Err(username_taken()));
        }
        let identity_id = new_id();
        let r = s.profile.clone();
        let user = create_self_registered(&app2, tx, &identity_id, origin.address.clone(), r)?;
        passkeys::save_signup_in(tx, s, &user.id, &identity_id, &name, origin.address.clone())?;
        let session = sessions::start(&app2, tx, Some(&user.id), Some(&identity_id), &origin)?;
        let to = destination_in(tx, &session.id, request.as_ref())?;
        Ok(Ok(sessions::enter_in(tx, &session.id, to)?))
    })
    .await
}

/// A 409 on the username: the page shows it next to that field.
fn username_taken() -> Error {
    let mut e = Error::conflict("username is already taken");
    e.field = Some("username".into());
    e
}

/// The account a person makes for themself with the login `identity_id`, audited as theirs.
fn create_self_registered(
    app: &App,
    tx: &Write,
    identity_id: &str,
    address: Option<String>,
    r: Registration,
) -> Result<User> {
    let actor = Actor {
        id: format!("self-register:{identity_id}"),
        is_admin: false,
        address,
    };
    users::create_in(
        app,
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
    )
}
