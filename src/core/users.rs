//! Users: creation (with an optional first password), profile changes, deletion, and log-out
//! everywhere. No change may leave the installation without an admin who can log in.

use super::guard::AdminGuard;
use super::{Actor, instances, new_id};
use crate::App;
use crate::auth::password::check_new_password;
use crate::db::Write;
use crate::db::identities::State;
use crate::db::{self, identities, identities::Identity, sessions, users, users::User};
use crate::error::{Error, Result, Thing};
use serde_json::json;

pub const MAX_USERNAME_LEN: usize = 64;
pub const MAX_DISPLAY_NAME_LEN: usize = 200;

/// Usernames: 1 to 64 letters, digits and `. _ - @`, so they are safe in URLs, logs and pages.
pub fn check_username(username: &str) -> Result<()> {
    super::check_no_control("username", username)?;
    if username.is_empty() {
        return Err(Error::field("username", "must not be empty"));
    }
    if username.chars().count() > MAX_USERNAME_LEN {
        return Err(Error::field(
            "username",
            format!("must be at most {MAX_USERNAME_LEN} characters long"),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(Error::field(
            "username",
            "may only contain letters, digits and . _ - @",
        ));
    }
    Ok(())
}

pub fn check_display_name(name: &str) -> Result<()> {
    super::check_no_control("displayName", name)?;
    if name.trim().is_empty() {
        return Err(Error::field("displayName", "must not be empty"));
    }
    if name.chars().count() > MAX_DISPLAY_NAME_LEN {
        return Err(Error::field(
            "displayName",
            format!("must be at most {MAX_DISPLAY_NAME_LEN} characters long"),
        ));
    }
    Ok(())
}

pub fn check_email(email: &Option<String>) -> Result<()> {
    if let Some(e) = email {
        super::check_no_control("email", e)?;
        let ok = e.len() <= 254
            && e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !e.chars().any(char::is_whitespace)
            });
        if !ok {
            return Err(Error::field("email", "is not a valid e-mail address"));
        }
    }
    Ok(())
}

/// The subject under which a password identity is stored: usernames log in case-insensitively.
pub fn userpass_subject(username: &str) -> String {
    username.to_lowercase()
}

/// How a strategy of type `type_name` stores the subject `raw`: userpass subjects are
/// usernames, kept lowercase; every other provider's subject is kept exactly.
pub fn subject_for(type_name: &str, raw: &str) -> String {
    if type_name == "userpass" {
        userpass_subject(raw)
    } else {
        raw.to_string()
    }
}

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub password: Option<String>,
}

/// Creates a user; with a password, also a password identity on the default userpass instance.
pub async fn create(app: &App, actor: &Actor, n: NewUser) -> Result<User> {
    check_username(&n.username)?;
    check_display_name(&n.display_name)?;
    check_email(&n.email)?;
    let hash = match &n.password {
        Some(p) => {
            check_new_password(p)?;
            Some(app.hasher.hash(p.clone()).await?)
        }
        None => None,
    };
    let app2 = app.clone();
    let actor = actor.clone();
    app.db
        .write(move |tx| create_in(&app2, tx, &actor, n, hash))
        .await
}

/// `create` inside the caller's transaction, with the password already hashed.
pub fn create_in(
    app: &App,
    tx: &Write,
    actor: &Actor,
    n: NewUser,
    password_hash: Option<String>,
) -> Result<User> {
    let now = tx.now;
    let user = User {
        id: new_id(),
        username: n.username,
        display_name: n.display_name.trim().to_string(),
        email: n.email,
        is_admin: n.is_admin,
        is_blocked: false,
        revoke_tokens_before: None,
        sequence: 1,
        created_at: now,
        updated_at: now,
    };
    users::insert(tx, &user)?;
    if let Some(hash) = password_hash {
        let inst = instances::default_userpass(app, tx)?.ok_or_else(|| {
            Error::conflict("there is no userpass strategy instance to hold the password")
        })?;
        identities::insert(
            tx,
            &Identity {
                id: new_id(),
                user_id: Some(user.id.clone()),
                instance_id: inst.id,
                subject: userpass_subject(&user.username),
                state: State::Valid,
                expires: None,
                password_hash: Some(hash),
                profile: json!({"username": user.username, "displayName": user.display_name, "email": user.email}),
                created_at: now,
            },
        )
        .map_err(|e| match e.reason {
            crate::error::Reason::Conflict => {
                Error::conflict("a password identity with this username already exists")
            }
            _ => e,
        })?;
    }
    actor.audit(
        tx,
        "user.create",
        Some(&user.id),
        json!({"username": user.username, "isAdmin": user.is_admin, "withPassword": n.password.is_some()}),
    )?;
    Ok(user)
}

/// The caller may see `id` when it is their own account or they are an admin.
pub fn may_see(actor: &Actor, id: &str) -> Result<()> {
    if actor.is_admin || actor.id == id {
        Ok(())
    } else {
        Err(Error::forbidden("only admins may access other users"))
    }
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<User> {
    may_see(actor, id)?;
    let id = id.to_string();
    app.db
        .read(move |c| users::get(c, &id))
        .await?
        .ok_or_else(|| Error::not_found(Thing::User, "user not found"))
}

/// One page of users, and the username after which the next page starts (none on the last).
pub struct Page {
    pub items: Vec<User>,
    pub next_after: Option<String>,
}

/// Users ordered by username, after the username `after`, at most `limit` of them (admins
/// only). `search` matches a prefix of the username or display name, or the whole e-mail.
pub async fn list(
    app: &App,
    actor: &Actor,
    search: Option<String>,
    after: Option<String>,
    limit: u32,
) -> Result<Page> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may list users"));
    }
    // One more than asked tells whether there is a next page.
    let mut items = app
        .db
        .read(move |c| users::page(c, search.as_deref(), after.as_deref(), limit + 1))
        .await?;
    let next_after = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|u| u.username.clone())
    } else {
        None
    };
    Ok(Page { items, next_after })
}

#[derive(Default)]
pub struct Update {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub is_admin: Option<bool>,
    pub is_blocked: Option<bool>,
}

pub async fn update(app: &App, actor: &Actor, id: &str, u: Update) -> Result<User> {
    may_see(actor, id)?;
    if let Some(n) = &u.username {
        check_username(n)?;
    }
    if let Some(n) = &u.display_name {
        check_display_name(n)?;
    }
    if let Some(e) = &u.email {
        check_email(e)?;
    }
    let id = id.to_string();
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            let mut user = users::get(tx, &id)?
                .ok_or_else(|| Error::not_found(Thing::User, "user not found"))?;
            // Checked against the row in this transaction: sending a field back unchanged (as a
            // client that edits what `GET` gave it does) is not a change.
            let differs = u.username.as_ref().is_some_and(|v| *v != user.username)
                || u.is_admin.is_some_and(|v| v != user.is_admin)
                || u.is_blocked.is_some_and(|v| v != user.is_blocked);
            if !actor.is_admin && differs {
                return Err(Error::forbidden(
                    "only admins may change username, isAdmin and isBlocked",
                ));
            }
            let admins = AdminGuard::new(tx)?;
            let mut changed = Vec::new();
            if let Some(v) = u.username.filter(|v| *v != user.username) {
                user.username = v;
                changed.push("username");
            }
            if let Some(v) = u.display_name {
                user.display_name = v.trim().to_string();
                changed.push("displayName");
            }
            if let Some(v) = u.email {
                user.email = v;
                changed.push("email");
            }
            if let Some(v) = u.is_admin.filter(|v| *v != user.is_admin) {
                user.is_admin = v;
                changed.push("isAdmin");
            }
            if let Some(v) = u.is_blocked.filter(|v| *v != user.is_blocked) {
                user.is_blocked = v;
                changed.push("isBlocked");
            }
            users::update(tx, &user)?;
            admins.check(tx, "this would leave no admin who can log in")?;
            actor.audit(
                tx,
                "user.update",
                Some(&user.id),
                json!({ "changed": changed }),
            )?;
            users::get(tx, &user.id)?.ok_or_else(|| Error::not_found(Thing::User, "user not found"))
        })
        .await
}

pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may delete users"));
    }
    let id = id.to_string();
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            let user = users::get(tx, &id)?
                .ok_or_else(|| Error::not_found(Thing::User, "user not found"))?;
            let admins = AdminGuard::new(tx)?;
            users::delete(tx, &id)?;
            admins.check(tx, "the last admin cannot be deleted")?;
            actor.audit(
                tx,
                "user.delete",
                Some(&id),
                json!({"username": user.username}),
            )
        })
        .await
}

/// A user's identities, each with its instance.
pub async fn login_data(
    app: &App,
    actor: &Actor,
    id: &str,
) -> Result<Vec<(Identity, instances::Instance)>> {
    may_see(actor, id)?;
    Ok(with_identities(app, id).await?.1)
}

/// A user with their identities, each with its instance, read in one go. The caller decides
/// who may see them (the Auth0 surface does so by its scopes).
pub async fn with_identities(
    app: &App,
    id: &str,
) -> Result<(User, Vec<(Identity, instances::Instance)>)> {
    let id = id.to_string();
    let (user, rows) = app
        .db
        .read(move |c| {
            let user = users::get(c, &id)?
                .ok_or_else(|| Error::not_found(Thing::User, "user not found"))?;
            let mut out = Vec::new();
            for i in identities::list_for_user(c, &id)? {
                let inst = db::instances::get(c, &i.instance_id)?
                    .ok_or_else(|| Error::internal("identity without instance"))?;
                out.push((i, inst));
            }
            Ok((user, out))
        })
        .await?;
    let list = rows
        .into_iter()
        .map(|(i, r)| Ok((i, instances::open_row(app, r)?)))
        .collect::<Result<_>>()?;
    Ok((user, list))
}

/// Log out everywhere: every session ends and every token issued before now is refused.
pub async fn revoke_tokens(app: &App, actor: &Actor, id: &str) -> Result<()> {
    may_see(actor, id)?;
    let id = id.to_string();
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            let mut user = users::get(tx, &id)?
                .ok_or_else(|| Error::not_found(Thing::User, "user not found"))?;
            let now = tx.now;
            user.revoke_tokens_before = Some(now);
            users::update(tx, &user)?;
            let ended = sessions::end_all_for_user(tx, &id, now)?;
            actor.audit(
                tx,
                "user.revoke-tokens",
                Some(&id),
                json!({"sessionsEnded": ended}),
            )
        })
        .await
}
