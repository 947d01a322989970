//! Password login, the one path behind the token endpoint's password grant and the hosted
//! login page: throttled, the same answer and cost for an unknown username and a wrong
//! password, and a stored hash upgraded when its parameters are out of date.

use super::instances::{self, Instance};
use super::sessions::{self, Origin};
use super::users::userpass_subject;
use crate::App;
use crate::db::{self, identities, identities::Identity, sessions::Session, users::User};
use crate::error::{Error, Result};

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
pub async fn password_instance(app: &App, key: Option<&str>) -> Result<Instance> {
    let inst = match key.filter(|k| !k.is_empty()) {
        Some(k) => instances::by_id_or_name(app, k)
            .await?
            .ok_or_else(|| Error::bad_request(format!("instance: no strategy instance {k:?}")))?,
        None => {
            let app2 = app.clone();
            app.db
                .read(move |c| instances::default_userpass(&app2, c))
                .await?
                .ok_or_else(|| Error::bad_request("there is no userpass strategy instance"))?
        }
    };
    if inst.type_name != "userpass" {
        return Err(Error::bad_request(
            "instance: password login needs a userpass strategy instance",
        ));
    }
    if !inst.is_login_active {
        return Err(Error::forbidden(
            "login is disabled on this strategy instance",
        ));
    }
    Ok(inst)
}

pub async fn password_login(
    app: &App,
    inst: &Instance,
    username: &str,
    password: &str,
    origin: &Origin,
) -> Result<Outcome> {
    if username.is_empty() || password.is_empty() {
        return Err(Error::bad_request("username and password must be given"));
    }
    if password.len() > crate::auth::password::MAX_PASSWORD_LEN {
        return Err(Error::unauthorized(WRONG).with_code("invalid_grant"));
    }
    let subject = userpass_subject(username);
    let (inst_id, subj) = (inst.id.clone(), subject.clone());
    let identity = app
        .db
        .read(move |c| identities::by_subject(c, &inst_id, &subj))
        .await?;
    // Unknown usernames are throttled under their own key, exactly like known ones.
    let key = match &identity {
        Some(i) => format!("identity:{}", i.id),
        None => format!("unknown:{}:{subject}", inst.id),
    };
    let ip = origin.address.as_deref().and_then(|a| a.parse().ok());
    app.throttle.check(&key, ip)?;
    let stored = identity.as_ref().and_then(|i| i.password_hash.clone());
    let verdict = app.hasher.verify(password.to_string(), stored).await?;
    let Some(identity) = identity.filter(|_| verdict.ok) else {
        app.throttle.failure(&key, ip);
        return Err(Error::unauthorized(WRONG).with_code("invalid_grant"));
    };
    app.throttle.success(&key);
    if verdict.outdated {
        let hash = app.hasher.hash(password.to_string()).await?;
        let id = identity.id.clone();
        app.db
            .write(move |tx| identities::set_password_hash(tx, &id, &hash))
            .await?;
    }
    finish(app, identity, origin).await
}

/// After a successful check: the identity's state decides between a session for its user and a
/// wait for registration.
pub async fn finish(app: &App, identity: Identity, origin: &Origin) -> Result<Outcome> {
    let app2 = app.clone();
    let origin = origin.clone();
    app.db
        .write(move |tx| {
            let now = db::now_ms();
            match identity.state.as_str() {
                identities::VALID => {
                    let uid = identity
                        .user_id
                        .clone()
                        .ok_or_else(|| Error::internal("valid identity without user"))?;
                    let user = db::users::get(tx, &uid)?
                        .ok_or_else(|| Error::internal("identity of a deleted user"))?;
                    if user.is_blocked {
                        return Err(
                            Error::forbidden("This account is blocked.").with_code("access_denied")
                        );
                    }
                    let session =
                        sessions::start(&app2, tx, Some(&uid), Some(&identity.id), &origin)?;
                    Ok(Outcome::LoggedIn { user, session })
                }
                identities::WAITING if identity.expires.is_some_and(|e| e > now) => {
                    let session = sessions::start(&app2, tx, None, Some(&identity.id), &origin)?;
                    Ok(Outcome::Waiting { identity, session })
                }
                _ => Err(Error::forbidden("This login method is blocked or expired.")
                    .with_code("access_denied")),
            }
        })
        .await
}

/// `PUT /login-data/{id}/password`: the owner proves the old password (throttled like a login);
/// an admin may set another user's password without it.
pub async fn change_password(
    app: &App,
    actor: &super::Actor,
    identity_id: &str,
    old: Option<String>,
    new: String,
) -> Result<()> {
    crate::auth::password::check_new_password(&new)?;
    let id = identity_id.to_string();
    let identity = app
        .db
        .read(move |c| identities::get(c, &id))
        .await?
        .ok_or_else(|| Error::not_found("login data not found"))?;
    let owner = identity.user_id.as_deref() == Some(actor.id.as_str());
    if !owner && !actor.is_admin {
        return Err(Error::not_found("login data not found"));
    }
    let inst_id = identity.instance_id.clone();
    let inst = app
        .db
        .read(move |c| db::instances::get(c, &inst_id))
        .await?
        .ok_or_else(|| Error::internal("identity without instance"))?;
    if inst.type_name != "userpass" {
        return Err(Error::bad_request(
            "only password login data has a password",
        ));
    }
    if owner {
        let old = old.ok_or_else(|| Error::bad_request("oldPassword must be given"))?;
        let key = format!("identity:{}", identity.id);
        let ip = actor.address.as_deref().and_then(|a| a.parse().ok());
        app.throttle.check(&key, ip)?;
        let v = app
            .hasher
            .verify(old, identity.password_hash.clone())
            .await?;
        if !v.ok {
            app.throttle.failure(&key, ip);
            return Err(Error::forbidden("oldPassword is wrong"));
        }
        app.throttle.success(&key);
    }
    let hash = app.hasher.hash(new).await?;
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            identities::set_password_hash(tx, &identity.id, &hash)?;
            actor.audit(
                tx,
                "login-data.password",
                Some(&identity.id),
                serde_json::json!({"user": identity.user_id, "reset": !owner}),
            )
        })
        .await
}
