//! Linking, merging and unlinking: the one place where identities change owners. Every surface
//! (the login API's self-link and admin-link, the hosted link page, the Auth0 identities API)
//! calls these. Each runs inside one transaction; `identities.UNIQUE(instance_id, subject)` and
//! the conditional update in `claim_waiting` make an identity belong to at most one user even
//! when requests race.

use super::guard::AdminGuard;
use super::login::{self, check_password};
use super::oauth::{destination_in, open_flow};
use super::pending::{self, claim_subject, insert_password_identity};
use super::sessions::Origin;
use super::users::{MAX_USERNAME_LEN, check_username, subject_for, userpass_subject};
use super::{Actor, new_id};
use crate::App;
use crate::auth::jwt::{self, Kind};
use crate::auth::password::check_new_password;
use crate::core::principal::{Principal, live_subject_in};
use crate::db::Write;
use crate::db::identities::State;
use crate::db::{self, identities, identities::Identity, users, users::User};
use crate::error::{Error, Reason, Result, Thing};
use serde_json::json;

/// `self-link` and `admin-link`: the identity behind a register token joins `user_id`.
/// Returns the session of the login that found the identity, which now belongs to the user.
pub async fn link(
    app: &App,
    actor: &Actor,
    token: &str,
    user_id: &str,
    operation: &str,
) -> Result<String> {
    link_then(app, actor, token, user_id, operation, |_, sid| {
        Ok(sid.to_string())
    })
    .await
}

/// `link` with the caller's own writes in the same transaction; `then` gets the session of
/// the login that found the identity.
async fn link_then<T, F>(
    app: &App,
    actor: &Actor,
    token: &str,
    user_id: &str,
    operation: &str,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write, &str) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let pending = pending::check_token(app, token).await?;
    let (app2, actor, user_id, op) = (
        app.clone(),
        actor.clone(),
        user_id.to_string(),
        operation.to_string(),
    );
    app.db
        .write(move |tx| {
            if users::get(tx, &user_id)?.is_none() {
                return Err(Error::not_found(Thing::User, "no user has this id"));
            }
            pending::attach_in(&app2, tx, &pending, &user_id)?;
            actor.audit(
                tx,
                &format!("identity.{op}"),
                Some(&pending.identity.id),
                json!({"user": user_id, "instance": pending.instance.id}),
            )?;
            then(tx, &pending.session_id)
        })
        .await
}

/// What a signed-in user adds on the hosted link page.
pub enum LinkWith {
    /// The register token of a login that found a waiting identity, and the binding cookie of
    /// the browser that sends it: only the browser whose login made the token may use it.
    Token {
        token: String,
        browser: Option<String>,
    },
    /// A username and password on a userpass instance: a new password login, or an existing
    /// one that still waits for registration.
    Password {
        instance: Option<String>,
        username: String,
        password: String,
    },
}

/// The hosted link page: self-link for the signed-in `actor`, whose browser is in session
/// `sid`; the code for the application that asked (`flow`) comes in the link's transaction.
/// Returns where the browser goes next. With a register token, the browser keeps its own
/// session, so the session of the login that found the identity, held by nobody, ends. With a
/// password, see `link_password`.
pub async fn link_from_page(
    app: &App,
    actor: &Actor,
    sid: &str,
    flow: Option<&str>,
    with: LinkWith,
    origin: &Origin,
) -> Result<String> {
    let sid = sid.to_string();
    match with {
        LinkWith::Token { token, browser } => {
            pending::check_browser(app, &token, browser.as_deref()).await?;
            let request = open_flow(app, flow)?;
            link_then(
                app,
                actor,
                &token,
                &actor.id,
                "self-link",
                move |tx, found_by| {
                    db::sessions::end(tx, found_by, tx.now)?;
                    destination_in(tx, &sid, request.as_ref())
                },
            )
            .await
        }
        LinkWith::Password {
            instance,
            username,
            password,
        } => {
            let request = open_flow(app, flow)?;
            link_password(
                app,
                actor,
                instance.as_deref(),
                &username,
                &password,
                origin,
                move |tx| destination_in(tx, &sid, request.as_ref()),
            )
            .await
        }
    }
}

/// A username and password that the signed-in `actor` adds: a new password login when the
/// username is free on the instance, else the one that waits for registration, whose password
/// must be given. One that already belongs to a user is a conflict, told only to whoever
/// knows its password. The hash is made or checked first; the identity is then made or
/// claimed and linked in one transaction.
async fn link_password<T, F>(
    app: &App,
    actor: &Actor,
    instance: Option<&str>,
    username: &str,
    password: &str,
    origin: &Origin,
    then: F,
) -> Result<T>
where
    F: FnOnce(&Write) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let inst = login::password_instance(app, instance, "instanceId").await?;
    let subject = userpass_subject(username);
    let (iid, subj) = (inst.id.clone(), subject.clone());
    let existing = app.db.read(move |r| pending::held(r, &iid, &subj)).await?;
    let (app2, actor2) = (app.clone(), actor.clone());
    let Some(existing) = existing else {
        check_username(username)?;
        check_new_password(password)?;
        app.throttle.creation(pending::ip(origin))?;
        let hash = app.hasher.hash(password.to_string()).await?;
        let username = username.to_string();
        return app
            .db
            .write(move |tx| {
                if users::get(tx, &actor2.id)?.is_none() {
                    return Err(Error::not_found(Thing::User, "no user has this id"));
                }
                claim_subject(tx, &inst.id, &subject)?;
                let identity = insert_password_identity(
                    &app2,
                    tx,
                    None,
                    &inst.id,
                    &username,
                    hash,
                    Some(&actor2.id),
                )?;
                users::bump_sequence(tx, &actor2.id)?;
                actor2.audit(
                    tx,
                    "identity.self-link",
                    Some(&identity.id),
                    json!({"user": actor2.id, "instance": inst.id}),
                )?;
                then(tx)
            })
            .await;
    };
    let key = format!("identity:{}", existing.id);
    let checked = check_password(
        app,
        &key,
        origin.address.as_deref(),
        Some(existing),
        password,
    )
    .await?;
    app.db
        .write(move |tx| {
            let i = checked.current(tx)?;
            // Told apart by reason, so that the page can say which it is.
            match i.user_id.as_deref() {
                Some(u) if u == actor2.id => {
                    return Err(Error::new(
                        Reason::SameIdentity,
                        "this login is already yours",
                    ));
                }
                Some(_) => {
                    return Err(Error::new(
                        Reason::IdentityTaken,
                        "this login belongs to another account",
                    ));
                }
                None => {}
            }
            if users::get(tx, &actor2.id)?.is_none() {
                return Err(Error::not_found(Thing::User, "no user has this id"));
            }
            if !identities::claim_waiting(tx, &i.id, &actor2.id, tx.now)? {
                return Err(Error::new(
                    Reason::Blocked,
                    "This login method is blocked or expired.",
                ));
            }
            users::bump_sequence(tx, &actor2.id)?;
            actor2.audit(
                tx,
                "identity.self-link",
                Some(&i.id),
                json!({"user": actor2.id, "instance": i.instance_id}),
            )?;
            then(tx)
        })
        .await
}

/// Links the identity `subject` on `instance_id` to `primary` (provider mode): one of another
/// user brings that whole user along (a merge); one of `primary` is "the same" (its main
/// identity) or a conflict; one that belongs to nobody is not found.
pub async fn link_existing(
    app: &App,
    actor: &Actor,
    primary: &str,
    instance_id: &str,
    subject: &str,
) -> Result<()> {
    let (actor, primary, instance_id, subject) = (
        actor.clone(),
        primary.to_string(),
        instance_id.to_string(),
        subject.to_string(),
    );
    app.db
        .write(move |tx| {
            if users::get(tx, &primary)?.is_none() {
                return Err(Error::not_found(Thing::User, "user not found"));
            }
            let unknown = || Error::not_found(Thing::Identity, "identity not found");
            let i = identities::by_subject(tx, &instance_id, &subject)?.ok_or_else(unknown)?;
            match i.user_id.as_deref() {
                Some(u) if u == primary => {
                    // As Auth0: the primary's main identity (`identities[0]`) is "the same";
                    // another one it already has is a conflict.
                    let main = identities::list_for_user(tx, &primary)?
                        .first()
                        .is_some_and(|m| m.id == i.id);
                    Err(if main {
                        same_user()
                    } else {
                        Error::new(
                            Reason::IdentityTaken,
                            "the identity is already linked to this user",
                        )
                    })
                }
                Some(u) => merge_in(tx, &actor, &primary, u),
                // An identity that waits for registration is claimed only with its register
                // token: whoever made it chose its password.
                None => Err(unknown()),
            }
        })
        .await
}

/// How the identities API links an account to a user.
pub enum LinkRequest {
    /// `link_with`: a token that proves control of the account (see `link_with`).
    Token(String),
    /// `provider` + `user_id` (+ `connection_id`): an identity that belongs to a user. The
    /// fields are checked after the caller's right to link this way.
    Provider {
        provider: Option<String>,
        subject: Option<String>,
        connection: Option<String>,
    },
}

/// `POST /api/v2/users/{primary}/identities` for the caller `p`: by token, the caller's own user
/// with `update:current_user_identities` (or any with `update:users`); by provider, only with
/// `update:users`.
pub async fn link_account(
    app: &App,
    p: &Principal,
    address: Option<String>,
    primary: &str,
    request: LinkRequest,
) -> Result<()> {
    let actor = p.actor(address);
    match request {
        LinkRequest::Token(token) => {
            p.may_act_on(primary, "update:current_user_identities", "update:users")?;
            link_with(app, &actor, primary, &token, p.claims.client_id.as_deref()).await
        }
        LinkRequest::Provider {
            provider,
            subject,
            connection,
        } => {
            p.require_privileged_scope("update:users")?;
            let given = |field: &str, v: Option<String>| match v {
                Some(s) if !s.trim().is_empty() => Ok(s),
                Some(_) => Err(Error::field(field, "must not be empty")),
                None => Err(Error::field(field, "must be given")),
            };
            let (provider, subject) = (given("provider", provider)?, given("user_id", subject)?);
            let inst = connection_instance(app, &provider, connection).await?;
            let subject = subject_for(&provider, &subject);
            link_existing(app, &actor, primary, &inst.id, &subject).await
        }
    }
}

/// The instance a provider-mode link means: the one with id `connection`, or the only instance
/// of the type `provider`.
async fn connection_instance(
    app: &App,
    provider: &str,
    connection: Option<String>,
) -> Result<super::instances::Instance> {
    // An unknown provider has no connections.
    let Some(kind) = crate::strategies::Kind::parse(provider) else {
        return Err(Error::not_found(
            Thing::Identity,
            "no connection has this provider",
        ));
    };
    let candidates = super::instances::list(app, Some(kind)).await?;
    match connection {
        Some(c) => candidates.into_iter().find(|i| i.id == c).ok_or_else(|| {
            Error::not_found(Thing::Identity, "no such connection for this provider")
        }),
        None if candidates.len() > 1 => Err(Error::field(
            "connection_id",
            "is required: several connections have this provider",
        )),
        None => candidates
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(Thing::Identity, "no connection has this provider")),
    }
}

/// The Auth0 `link_with`: a token that proves the caller controls the secondary *now*. Only
/// two kinds do: a register token (its waiting identity joins `primary`), or an ID token that
/// keyward issued to the secondary user for the app the caller's own token belongs to
/// (`caller_client`), from a login at most `--link-max-auth-age` seconds old, whose user and
/// session are still live (that user is then merged into `primary`). Access tokens, ID tokens
/// of other apps or of older logins, and anything else are the same 401, and change nothing.
pub async fn link_with(
    app: &App,
    actor: &Actor,
    primary: &str,
    token: &str,
    caller_client: Option<&str>,
) -> Result<()> {
    let refused = || {
        Error::token_invalid(
            "link_with must be a register token, or an ID token issued to this application \
             from a login made just now",
        )
    };
    let typ = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.typ)
        .ok_or_else(refused)?;
    if typ == Kind::Register.typ() {
        return link(app, actor, token, primary, "link").await.map(|_| ());
    }
    if typ != Kind::Id.typ() {
        return Err(refused());
    }
    // An ID token's audience is the app it was issued to: it must be the caller's.
    let client = caller_client.ok_or_else(refused)?;
    let claims: IdClaims = jwt::verify(&app.keys, Kind::Id, token, &app.public_url, Some(client))
        .await
        .map_err(|_| refused())?;
    let age = jwt::now_secs() - claims.auth_time;
    if !(0..=app.settings.link_max_auth_age as i64).contains(&age) {
        return Err(refused());
    }
    let (actor, primary) = (actor.clone(), primary.to_string());
    app.db
        .write(move |tx| {
            // Checked where the merge happens, so a logout or a block in between wins.
            live_subject_in(tx, &claims.sub, &claims.sid, claims.iat, None)
                .map_err(|_| refused())?;
            merge_in(tx, &actor, &primary, &claims.sub)
        })
        .await
}

/// The claims of an ID token that `link_with` relies on.
#[derive(serde::Deserialize)]
struct IdClaims {
    sub: String,
    sid: String,
    iat: i64,
    auth_time: i64,
}

/// Auth0's answer when the secondary is the primary itself.
fn same_user() -> Error {
    Error::new(
        Reason::SameIdentity,
        "Main identity and the new one are the same.",
    )
}

/// Merges `secondary` into `primary`: every identity moves, the secondary's profile fills the
/// primary's empty fields (nothing of the primary is overwritten), the secondary is removed.
fn merge_in(tx: &Write, actor: &Actor, primary: &str, secondary: &str) -> Result<()> {
    if primary == secondary {
        return Err(same_user());
    }
    let mut p =
        users::get(tx, primary)?.ok_or_else(|| Error::not_found(Thing::User, "user not found"))?;
    let s = users::get(tx, secondary)?
        .ok_or_else(|| Error::not_found(Thing::Identity, "identity not found"))?;
    let admins = AdminGuard::new(tx)?;
    let moved = identities::move_all(tx, &s.id, &p.id)?;
    let mut filled = Vec::new();
    if p.email.is_none() && s.email.is_some() {
        p.email = s.email.clone();
        filled.push("email");
    }
    if p.display_name.trim().is_empty() {
        p.display_name = s.display_name.clone();
        filled.push("displayName");
    }
    // The secondary goes first: its username may only then be free for nothing else.
    users::delete(tx, &s.id)?;
    users::update(tx, &p)?;
    admins.check(tx, "this would leave no admin who can log in")?;
    actor.audit(
        tx,
        "user.merge",
        Some(&p.id),
        json!({"secondary": s.id, "secondaryUsername": s.username, "identitiesMoved": moved, "filled": filled}),
    )
}

/// Unlinks an identity (its owner or an admin). A user's last valid login method stays.
pub async fn unlink(app: &App, actor: &Actor, identity_id: &str) -> Result<()> {
    let (id, actor) = (identity_id.to_string(), actor.clone());
    app.db
        .write(move |tx| {
            let i = identities::get(tx, &id)?
                .filter(|i| actor.is_admin || i.user_id.as_deref() == Some(actor.id.as_str()))
                .ok_or_else(|| Error::not_found(Thing::Identity, "login data not found"))?;
            remove_in(tx, &actor, &i, "identity.unlink")
        })
        .await
}

/// Removes an identity under the last-method rule (and the last admin's): every unlink path,
/// of any kind of login, ends here. `action` names it in the audit log.
pub fn remove_in(tx: &Write, actor: &Actor, i: &Identity, action: &str) -> Result<()> {
    if let Some(uid) = &i.user_id
        && i.state == State::Valid
        && identities::count_valid(tx, uid)? <= 1
    {
        return Err(Error::new(
            Reason::LastLoginMethod,
            "this is the user's last login method",
        ));
    }
    let admins = AdminGuard::new(tx)?;
    identities::delete(tx, &i.id)?;
    admins.check(tx, "this would remove the last admin's last login method")?;
    if let Some(uid) = &i.user_id {
        users::bump_sequence(tx, uid)?;
    }
    actor.audit(
        tx,
        action,
        Some(&i.id),
        json!({"user": i.user_id, "instance": i.instance_id}),
    )
}

/// The Auth0 unlink: the identity `subject` of a `provider` instance that `user_id` holds
/// becomes a new standalone user. It is found and detached in one transaction, so two requests
/// for the same identity cannot both detach it. A passkey is removed instead (None): its
/// authenticator keeps the user handle of the user it was made for, so it could never log in
/// to a new user.
pub async fn detach(
    app: &App,
    actor: &Actor,
    user_id: &str,
    provider: &str,
    subject: &str,
) -> Result<Option<User>> {
    let subject = subject_for(provider, subject);
    let (actor, uid, provider) = (actor.clone(), user_id.to_string(), provider.to_string());
    app.db
        .write(move |tx| {
            if users::get(tx, &uid)?.is_none() {
                return Err(Error::not_found(Thing::User, "user not found"));
            }
            // An unknown provider names no instance (and never all of them).
            let kind = crate::strategies::Kind::parse(&provider);
            let instances = match kind {
                Some(k) => db::instances::list(tx, Some(k))?,
                None => Vec::new(),
            };
            for inst in instances {
                if let Some(i) = identities::by_subject(tx, &inst.id, &subject)?
                    && i.user_id.as_deref() == Some(uid.as_str())
                {
                    if inst.kind == crate::strategies::Kind::Passkey {
                        remove_in(tx, &actor, &i, "passkey.remove")?;
                        return Ok(None);
                    }
                    return detach_in(tx, &actor, &uid, &i).map(Some);
                }
            }
            Err(Error::not_found(
                Thing::Identity,
                "the user has no such identity",
            ))
        })
        .await
}

/// Detaches an identity from its user and makes it a new standalone user of its own. Refused
/// for the user's last identity.
fn detach_in(tx: &Write, actor: &Actor, user_id: &str, i: &Identity) -> Result<User> {
    if identities::list_for_user(tx, user_id)?.len() <= 1 {
        return Err(Error::new(
            Reason::LastLoginMethod,
            "the user's last identity cannot be unlinked",
        ));
    }
    let admins = AdminGuard::new(tx)?;
    let base = standalone_username(i);
    let mut username = base.clone();
    let mut n = 2;
    while users::by_username(tx, &username)?.is_some() {
        let suffix = format!("-{n}");
        let keep: String = base.chars().take(MAX_USERNAME_LEN - suffix.len()).collect();
        username = format!("{keep}{suffix}");
        n += 1;
    }
    let now = tx.now;
    let p = &i.profile;
    let user = User {
        id: new_id(),
        display_name: p["displayName"].as_str().unwrap_or(&username).to_string(),
        username,
        email: p["email"].as_str().map(str::to_string),
        is_admin: false,
        is_blocked: false,
        revoke_tokens_before: None,
        sequence: 1,
        created_at: now,
        updated_at: now,
    };
    users::insert(tx, &user)?;
    identities::set_user(tx, &i.id, &user.id)?;
    // Logins made through the identity spoke for the old user: they end with the move.
    db::sessions::end_for_identity(tx, &i.id, now)?;
    users::bump_sequence(tx, user_id)?;
    admins.check(tx, "this would remove the last admin's last login method")?;
    actor.audit(
        tx,
        "identity.detach",
        Some(&i.id),
        json!({"from": user_id, "newUser": user.id}),
    )?;
    Ok(user)
}

/// A valid username for a detached identity, from what its provider called the person.
fn standalone_username(i: &Identity) -> String {
    let raw = i.profile["username"].as_str().unwrap_or(&i.subject);
    let clean: String = raw
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        .take(MAX_USERNAME_LEN - 4)
        .collect();
    if check_username(&clean).is_ok() {
        clean
    } else {
        format!("user-{}", &i.id[..8])
    }
}
