//! Users: the paged list and creation (admins), and reading, changing and deleting one user
//! (`self` names the caller).

use super::{DefaultReturn, UserOut, limit, nullable, self_or};
use crate::api::guard::{Admin, LoginUser};
use crate::api::io::{Body, Created, Json, NoInput, Query};
use crate::api::route::Cx;
use crate::auth::password::MIN_PASSWORD_LEN;
use crate::auth::secret::{b64, b64_decode};
use crate::core::users::{self, MAX_DISPLAY_NAME_LEN, MAX_USERNAME_LEN, NewUser, Update};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /user` query.
#[derive(Deserialize, JsonSchema)]
pub struct ListQuery {
    /// A prefix of the username or display name, or the whole e-mail address; case is ignored.
    search: Option<String>,
    /// 1 to 500; default 50.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
    /// The `nextCursor` of the page before.
    cursor: Option<String>,
}

/// One page of users.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    items: Vec<UserOut>,
    /// Where the next page starts; null on the last page.
    next_cursor: Option<String>,
}

/// A new user.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct NewUserBody {
    /// Letters, digits and `. _ - @`.
    #[schemars(length(min = 1, max = MAX_USERNAME_LEN))]
    username: String,
    #[schemars(length(min = 1, max = MAX_DISPLAY_NAME_LEN))]
    display_name: String,
    #[schemars(length(max = 254))]
    email: Option<String>,
    /// Default false.
    is_admin: Option<bool>,
    /// With a password, the user also gets a password identity (same username) on the default
    /// userpass instance.
    #[schemars(length(min = MIN_PASSWORD_LEN))]
    password: Option<String>,
}

/// A change to a user: anyone may change their own `displayName` and `email`; admins also
/// `username`, `isAdmin` and `isBlocked` (others may send those unchanged, as in the body that
/// `GET` gave them, whose read-only fields are ignored).
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct UpdateUserBody {
    /// Letters, digits and `. _ - @`.
    #[schemars(length(min = 1, max = MAX_USERNAME_LEN))]
    username: Option<String>,
    #[schemars(length(min = 1, max = MAX_DISPLAY_NAME_LEN))]
    display_name: Option<String>,
    /// null removes the e-mail address.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    email: Option<Option<String>>,
    is_admin: Option<bool>,
    is_blocked: Option<bool>,
    /// Read-only, ignored (a client may send back what `GET` gave it).
    #[allow(dead_code)]
    id: Option<String>,
    /// Read-only, ignored.
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    revoke_tokens_before: Option<Option<String>>,
    /// Read-only, ignored.
    #[allow(dead_code)]
    created_at: Option<String>,
}

pub(super) async fn list(
    cx: Cx,
    Admin(p): Admin,
    Query(q): Query<ListQuery>,
) -> Result<Json<UserPage>> {
    let limit = limit(q.limit, 50)?;
    // The cursor is the last username of the page before, encoded so it reads as opaque.
    let after = match q.cursor.filter(|c| !c.is_empty()) {
        Some(c) => Some(
            b64_decode(&c)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Error::field("cursor", "is not valid"))?,
        ),
        None => None,
    };
    let page = users::list(&cx.app, &p.actor(None), q.search, after, limit).await?;
    Ok(Json(UserPage {
        items: page.items.iter().map(UserOut::of).collect(),
        next_cursor: page.next_after.map(|u| b64(u.as_bytes())),
    }))
}

pub(super) async fn create(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<NewUserBody>,
) -> Result<Created<UserOut>> {
    let n = NewUser {
        username: b.username,
        display_name: b.display_name,
        email: b.email,
        is_admin: b.is_admin.unwrap_or(false),
        password: b.password,
    };
    let u = users::create(&cx.app, &p.actor(cx.address()), n).await?;
    Ok(Created(UserOut::of(&u)))
}

pub(super) async fn get(cx: Cx, LoginUser(p): LoginUser, _: NoInput) -> Result<Json<UserOut>> {
    let id = self_or(&p, cx.param(0));
    // The principal was read a moment ago: one's own user needs no second read.
    if id == p.user.id {
        return Ok(Json(UserOut::of(&p.user)));
    }
    Ok(Json(UserOut::of(
        &users::get(&cx.app, &p.actor(None), id).await?,
    )))
}

pub(super) async fn update(
    cx: Cx,
    LoginUser(p): LoginUser,
    Body(b): Body<UpdateUserBody>,
) -> Result<Json<UserOut>> {
    let id = self_or(&p, cx.param(0));
    let u = Update {
        username: b.username,
        display_name: b.display_name,
        email: b.email,
        is_admin: b.is_admin,
        is_blocked: b.is_blocked,
    };
    let user = users::update(&cx.app, &p.actor(cx.address()), id, u).await?;
    Ok(Json(UserOut::of(&user)))
}

pub(super) async fn delete(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<DefaultReturn>> {
    let id = self_or(&p, cx.param(0));
    users::delete(&cx.app, &p.actor(cx.address()), id).await?;
    Ok(Json(DefaultReturn::of("delete-user")))
}
