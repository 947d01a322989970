//! Password login, the one path behind the token endpoint's password grant and the hosted
//! login page: throttled, the same answer and cost for an unknown username and a wrong
//! password, and a stored hash upgraded when its parameters are out of date. The hash is
//! checked first; everything the login changes is then one write transaction.

use super::instances::{self, Instance};
use super::sessions::{self, Origin};
use super::users::userpass_subject;
use crate::App;
use crate::db::Write;
use crate::db::identities::State;
use crate::db::{self, identities, identities::Identity, sessions::Session, users::User};
use crate::error::{Error, Reason, Result, Thing};
use crate::strategies::Kind;

/// What a successful password check leads to.
pub enum Outcome {
    /// A user logged in: a new session.
    LoggedIn { user: User, session: Session },
    /// The identity belongs to nobody yet: it waits for registration (self-register or link).
    Waiting {
        identity: Identity,
        session: Session,
    },
}

pub const WRONG: &str = "Wrong username or password.";

/// Resolves the instance a password login uses: the one named by id or name, else the default.
/// `field` is the request field that named it (`instanceId` on the pages, `instance` at the
/// token endpoint), for the error.
pub async fn password_instance(app: &App, key: Option<&str>, field: &str) -> Result<Instance> {
    let inst = match key.filter(|k| !k.is_empty()) {
        Some(k) => instances::by_id_or_name(app, k)
            .await?
            .ok_or_else(|| Error::field(field, format!(": no strategy instance {k:?}")))?,
        None => {
            let app2 = app.clone();
            app.db
                .read(move |c| instances::default_userpass(&app2, c))
                .await?
                .ok_or_else(|| Error::bad_request("there is no userpass strategy instance"))?
        }
    };
    if inst.kind != Kind::Userpass {
        return Err(Error::field(
            field,
            ": password login needs a userpass strategy instance",
        ));
    }
    if !inst.is_login_active {
        return Err(Error::forbidden(
            "login is disabled on this strategy instance",
        ));
    }
    Ok(inst)
}

/// The throttle key of a password login: the identity, or for an unknown username its own key
/// on the instance, throttled exactly like a known one.
fn throttle_key(inst: &Instance, subject: &str, identity: Option<&Identity>) -> String {
    match identity {
        Some(i) => format!("identity:{}", i.id),
        None => format!("unknown:{}:{subject}", inst.id),
    }
}

fn wrong() -> Error {
    Error::new(Reason::WrongCredentials, WRONG)
}

/// A checked password: the identity as it was read, the hash it was checked against, and a new
/// hash when that one's parameters are out of date.
pub struct Checked {
    pub identity: Identity,
    pub verified: Option<String>,
    pub upgrade: Option<String>,
}

/// Checks `password` against `identity` (None: an unknown username, checked against a dummy so
/// it costs the same), throttled under `key` and the client's address. A wrong password is the
/// same 401 either way.
pub async fn check_password(
    app: &App,
    key: &str,
    address: Option<&str>,
    identity: Option<Identity>,
    password: &str,
) -> Result<Checked> {
    let ip = address.and_then(|a| a.parse().ok());
    // Counted from here on; released if this request ends without a verdict.
    let attempt = app.throttle.begin(key, ip)?;
    let stored = identity.as_ref().and_then(|i| i.password_hash.clone());
    let verdict = app
        .hasher
        .verify(password.to_string(), stored.clone())
        .await?;
    let Some(identity) = identity.filter(|_| verdict.ok) else {
        attempt.failed();
        return Err(wrong());
    };
    attempt.succeeded();
    let upgrade = if verdict.outdated {
        // An upgrade can wait for the next login when the hash queue is full.
        match app.hasher.hash(password.to_string()).await {
            Ok(h) => Some(h),
            Err(e) if matches!(e.reason, Reason::Busy(_)) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    Ok(Checked {
        identity,
        verified: stored,
        upgrade,
    })
}

impl Checked {
    /// In the transaction that acts on the check: the identity as it is now, refused unless
    /// it still has the hash that was checked (a password changed meanwhile does not let the
    /// old one in); an outdated hash is replaced here too.
    pub fn current(&self, tx: &Write) -> Result<Identity> {
        let now = identities::get(tx, &self.identity.id)?
            .filter(|i| i.password_hash == self.verified)
            .ok_or_else(wrong)?;
        if let Some(h) = &self.upgrade {
            identities::set_password_hash(tx, &now.id, h)?;
        }
        Ok(now)
    }
}

/// A password login (token endpoint, hosted login page). The password is checked first; then
/// one write transaction confirms the identity, upgrades an outdated hash, starts the session
/// and runs `then` with the outcome, so that a caller's own writes (a refresh token, a cookie,
/// an authorization code) land together with the login or not at all.
pub async fn password_login_then<T, F>(
    app: &App,
    inst: &Instance,
    username: &str,
    password: &str,
    origin: &Origin,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, Outcome) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let r = password_login_counted(app, inst, username, password, origin, then).await;
    app.metrics.login(inst.kind, inst.name.as_deref(), &r);
    r
}

async fn password_login_counted<T, F>(
    app: &App,
    inst: &Instance,
    username: &str,
    password: &str,
    origin: &Origin,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, Outcome) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    if username.is_empty() || password.is_empty() {
        return Err(Error::field("username", "and password must be given"));
    }
    if password.len() > crate::auth::password::MAX_PASSWORD_LEN {
        return Err(wrong());
    }
    let subject = userpass_subject(username);
    let (inst_id, subj) = (inst.id.clone(), subject.clone());
    let identity = app
        .db
        .read(move |c| identities::by_subject(c, &inst_id, &subj))
        .await?;
    let key = throttle_key(inst, &subject, identity.as_ref());
    let checked = check_password(app, &key, origin.address.as_deref(), identity, password).await?;
    let (app2, origin) = (app.clone(), origin.clone());
    app.db
        .write(move |tx| {
            let identity = checked.current(tx)?;
            let outcome = finish_in(&app2, tx, identity, &origin)?;
            then(tx, outcome)
        })
        .await
}

/// `password_login_then` with nothing more to write.
pub async fn password_login(
    app: &App,
    inst: &Instance,
    username: &str,
    password: &str,
    origin: &Origin,
) -> Result<Outcome> {
    password_login_then(app, inst, username, password, origin, |_, o| Ok(o)).await
}

/// After a successful check, in the caller's transaction: the identity's state decides between
/// a session for its user and a wait for registration.
pub fn finish_in(app: &App, tx: &Write, identity: Identity, origin: &Origin) -> Result<Outcome> {
    let now = tx.now;
    match identity.state {
        State::Valid => {
            let uid = identity
                .user_id
                .clone()
                .ok_or_else(|| Error::internal("valid identity without user"))?;
            let user = db::users::get(tx, &uid)?
                .ok_or_else(|| Error::internal("identity of a deleted user"))?;
            if user.is_blocked {
                return Err(Error::new(Reason::Blocked, "This account is blocked."));
            }
            let session = sessions::start(app, tx, Some(&uid), Some(&identity.id), origin)?;
            Ok(Outcome::LoggedIn { user, session })
        }
        State::WaitingForRegister if identity.expires.is_some_and(|e| e > now) => {
            let session = sessions::start(app, tx, None, Some(&identity.id), origin)?;
            Ok(Outcome::Waiting { identity, session })
        }
        _ => Err(Error::new(
            Reason::Blocked,
            "This login method is blocked or expired.",
        )),
    }
}

/// `PUT /login-data/{id}/password`: the owner proves the old password (throttled like a login);
/// an admin may set another user's password without it. Both hashes are made first; then one
/// transaction checks that the login data still belongs to whom it did and still has the
/// password that was proven, and writes.
pub async fn change_password(
    app: &App,
    actor: &super::Actor,
    identity_id: &str,
    old: Option<String>,
    new: String,
) -> Result<()> {
    // The login API's field is `newPassword`.
    crate::auth::password::check_new_password_as("newPassword", &new)?;
    let id = identity_id.to_string();
    let not_found = || Error::not_found(Thing::Identity, "login data not found");
    let (identity, inst) = app
        .db
        .read(move |c| {
            let Some(i) = identities::get(c, &id)? else {
                return Ok(None);
            };
            let inst = db::instances::get(c, &i.instance_id)?
                .ok_or_else(|| Error::internal("identity without instance"))?;
            Ok(Some((i, inst)))
        })
        .await?
        .ok_or_else(not_found)?;
    let owner = identity.user_id.as_deref() == Some(actor.id.as_str());
    if !owner && !actor.is_admin {
        return Err(not_found());
    }
    if inst.kind != Kind::Userpass {
        return Err(Error::bad_request(
            "only password login data has a password",
        ));
    }
    let verified = if owner {
        let old = old.ok_or_else(|| Error::field("oldPassword", "must be given"))?;
        let key = format!("identity:{}", identity.id);
        let ip = actor.address.as_deref().and_then(|a| a.parse().ok());
        let attempt = app.throttle.begin(&key, ip)?;
        let v = app
            .hasher
            .verify(old, identity.password_hash.clone())
            .await?;
        if !v.ok {
            attempt.failed();
            return Err(Error::forbidden("oldPassword is wrong"));
        }
        attempt.succeeded();
        Some(identity.password_hash.clone())
    } else {
        None
    };
    let hash = app.hasher.hash(new).await?;
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            let now = identities::get(tx, &identity.id)?.ok_or_else(not_found)?;
            let still_owner = now.user_id.as_deref() == Some(actor.id.as_str());
            if still_owner != owner || (!still_owner && !actor.is_admin) {
                return Err(not_found());
            }
            if let Some(proven) = &verified
                && now.password_hash != *proven
            {
                return Err(Error::conflict(
                    "the password was changed meanwhile; try again",
                ));
            }
            identities::set_password_hash(tx, &now.id, &hash)?;
            actor.audit(
                tx,
                "login-data.password",
                Some(&now.id),
                serde_json::json!({"user": now.user_id, "reset": !owner}),
            )
        })
        .await
}
