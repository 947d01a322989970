//! The identities API (`/api/v2/users/...`), as the Auth0 Management API speaks it: read a user
//! with its identities, link an account (by a token that proves control of it, or by provider
//! and user id), and unlink an identity into a standalone user. The rules live in
//! `core::linking` and `core::principal`; this file parses and renders Auth0's shapes.

use super::guard::Bearer;
use super::io::{Body, Created, Json, NoInput, Query};
use super::route::{Cx, Route, Surface, schema_ref};
use super::send_json;
use crate::core::instances::Instance;
use crate::core::linking::{self, LinkRequest};
use crate::core::{rfc3339, users};
use crate::db::{identities::Identity, users::User};
use crate::error::{Error, Reason, Result, Thing};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warp::http::Method;
use warp::reply::Response;

pub fn surface() -> Surface {
    Surface {
        name: "identities",
        error_schema: |g| schema_ref::<Auth0Error>(g),
        render: auth0_error,
        routes: vec![
            Route::new(Method::GET, "/api/v2/users/{id}", "auth0GetUser", get_user)
                .summary("A user with its identities")
                .describe(
                    "Your own user with `read:current_user`, any user with `read:users` (an admin \
                     or a client-credentials token).",
                )
                // 413: any request over the body limit, a body or not.
                .errors(&[404, 413]),
            Route::new(
                Method::POST,
                "/api/v2/users/{id}/identities",
                "auth0LinkIdentity",
                link,
            )
            .summary("Link an account or an identity to the user")
            .describe(
                "With `link_with`: a register token, or an ID token of the secondary user issued \
                 to the caller's app within the last 5 minutes; the secondary user is merged into \
                 the primary. With `provider` + `user_id` (+ `connection_id`) and `update:users`: \
                 an identity that belongs to a user.",
            )
            .errors(&[404, 409]),
            Route::new(
                Method::DELETE,
                "/api/v2/users/{id}/identities/{provider}/{user_id}",
                "auth0UnlinkIdentity",
                unlink,
            )
            .summary("Unlink an identity into a standalone user")
            .describe("400: the user's last identity, which cannot be unlinked.")
            .errors(&[400, 404, 413]),
        ],
    }
}

/// Auth0's error shape.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Auth0Error {
    status_code: u16,
    error: String,
    message: String,
    /// A machine-readable code, e.g. `invalid_body`, `inexistent_user`, `identity_conflict`.
    error_code: String,
}

/// Auth0's error shape, `{statusCode, error, message, errorCode}`.
pub(super) fn auth0_error(e: &Error) -> Response {
    let e = &*super::public_error(e);
    let (status, code) = match e.reason {
        Reason::InvalidQuery => (400, "invalid_query_string"),
        Reason::SameIdentity | Reason::LastLoginMethod => (400, "invalid_body"),
        Reason::NotLoggedIn | Reason::TokenInvalid | Reason::WrongCredentials => {
            (401, "invalid_token")
        }
        Reason::Forbidden | Reason::ScopeMissing | Reason::Blocked => (403, "insufficient_scope"),
        Reason::NotFound(Thing::Route) => (404, "invalid_uri"),
        Reason::NotFound(Thing::Identity | Thing::Instance | Thing::Strategy) => {
            (404, "inexistent_identity")
        }
        Reason::NotFound(_) => (404, "inexistent_user"),
        Reason::MethodNotAllowed => (405, "invalid_uri"),
        Reason::Conflict | Reason::IdentityTaken => (409, "identity_conflict"),
        Reason::TooLarge => (413, "invalid_body"),
        Reason::MediaType => (415, "invalid_body"),
        Reason::Throttled(_) => (429, "too_many_requests"),
        Reason::Busy(_) | Reason::Unavailable => (503, "temporarily_unavailable"),
        Reason::Internal => (500, "internal_error"),
        Reason::ProviderFailed => (502, "bad_gateway"),
        _ => (400, "invalid_body"),
    };
    let r = super::with_retry_after(
        send_json(
            status,
            &json!({
                "statusCode": status,
                "error": super::status_text(status),
                "message": e.message,
                "errorCode": code,
            }),
        ),
        e,
    );
    super::with_bearer_challenge(r, e)
}

/// `GET /api/v2/users/{id}` query: Auth0's field selection.
#[derive(Deserialize, JsonSchema)]
struct UserQuery {
    /// Comma-separated names of the fields to include (or, with `include_fields=false`, to
    /// leave out). Without it, every field.
    fields: Option<String>,
    /// Whether `fields` names the fields to include (default) or to leave out.
    include_fields: Option<bool>,
}

/// A user as Auth0 shows it. A field without a value is left out, never sent as `null`; with
/// `fields`, only the fields asked for are there.
#[derive(Serialize, JsonSchema, Default)]
struct Auth0User {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identities: Option<Vec<Auth0Identity>>,
}

/// One identity of a user: `provider` is the strategy type, `connection` the instance name,
/// `user_id` the subject at the provider.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
struct Auth0Identity {
    connection: String,
    provider: String,
    user_id: String,
    #[serde(rename = "isSocial")]
    is_social: bool,
    /// What the login said of the person when it was made or last used (a provider's profile;
    /// a password login's username, display name and e-mail; a passkey's name), on every
    /// identity, the user's first one included; `{}` when nothing is known.
    #[serde(rename = "profileData")]
    profile_data: serde_json::Map<String, Value>,
}

fn identities_out(list: &[(Identity, Instance)]) -> Vec<Auth0Identity> {
    list.iter()
        .map(|(i, inst)| {
            let profile: serde_json::Map<String, Value> = i
                .profile
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            Auth0Identity {
                connection: inst.name.clone().unwrap_or_else(|| inst.id.clone()),
                provider: inst.kind.to_string(),
                user_id: i.subject.clone(),
                is_social: inst.strategy().caps().needs_redirect_flow,
                profile_data: profile,
            }
        })
        .collect()
}

impl Auth0User {
    fn of(u: User, list: &[(Identity, Instance)]) -> Auth0User {
        Auth0User {
            user_id: Some(u.id),
            username: Some(u.username),
            name: Some(u.display_name),
            email: u.email,
            created_at: Some(rfc3339(u.created_at)),
            updated_at: Some(rfc3339(u.updated_at)),
            blocked: Some(u.is_blocked),
            identities: Some(identities_out(list)),
        }
    }

    /// Keeps the fields `names` names (`include`) or all others (not `include`); no names,
    /// every field.
    fn select(mut self, names: &[&str], include: bool) -> Auth0User {
        if names.is_empty() {
            return self;
        }
        let drop = |name: &str| names.contains(&name) != include;
        if drop("user_id") {
            self.user_id = None;
        }
        if drop("username") {
            self.username = None;
        }
        if drop("name") {
            self.name = None;
        }
        if drop("email") {
            self.email = None;
        }
        if drop("created_at") {
            self.created_at = None;
        }
        if drop("updated_at") {
            self.updated_at = None;
        }
        if drop("blocked") {
            self.blocked = None;
        }
        if drop("identities") {
            self.identities = None;
        }
        self
    }
}

async fn get_user(
    cx: Cx,
    Bearer(p): Bearer,
    Query(q): Query<UserQuery>,
) -> Result<Json<Auth0User>> {
    let id = cx.param(0);
    p.may_act_on(id, "read:current_user", "read:users")?;
    let (user, list) = users::with_identities(&cx.app, id).await?;
    let fields = q.fields.unwrap_or_default();
    let names: Vec<&str> = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    Ok(Json(
        Auth0User::of(user, &list).select(&names, q.include_fields.unwrap_or(true)),
    ))
}

/// `POST /api/v2/users/{id}/identities`: either `link_with`, or `provider` + `user_id`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    /// A register token, or an ID token of the account to merge in.
    link_with: Option<String>,
    /// The strategy type of the identity to link.
    provider: Option<String>,
    /// The identity's subject at the provider.
    user_id: Option<String>,
    /// The strategy instance id; needed when several instances share the type.
    connection_id: Option<String>,
}

async fn link(
    cx: Cx,
    Bearer(p): Bearer,
    Body(b): Body<LinkBody>,
) -> Result<Created<Vec<Auth0Identity>>> {
    let id = cx.param(0);
    // Clients (Auth0's own SDKs among them) send every key, the unused ones as "": an empty
    // value counts as absent when choosing the mode.
    let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let (link_with, provider, user_id, connection_id) = (
        given(b.link_with),
        given(b.provider),
        given(b.user_id),
        given(b.connection_id),
    );
    let request = match link_with {
        Some(token) => {
            if provider.is_some() || user_id.is_some() || connection_id.is_some() {
                return Err(Error::bad_request(
                    "link_with cannot be used together with provider, user_id or connection_id",
                ));
            }
            LinkRequest::Token(token)
        }
        // Neither mode: a malformed body, whoever asks.
        None if provider.is_none() && user_id.is_none() => {
            return Err(Error::bad_request(
                "the body needs link_with (a token of the account to link), or provider and \
                 user_id (an identity to link, with update:users)",
            ));
        }
        None => LinkRequest::Provider {
            provider,
            subject: user_id,
            connection: connection_id,
        },
    };
    linking::link_account(&cx.app, &p, cx.address(), id, request).await?;
    let (_, list) = users::with_identities(&cx.app, id).await?;
    Ok(Created(identities_out(&list)))
}

async fn unlink(cx: Cx, Bearer(p): Bearer, _: NoInput) -> Result<Json<Vec<Auth0Identity>>> {
    let (id, provider, subject) = (cx.param(0), cx.param(1), cx.param(2));
    p.may_act_on(id, "update:current_user_identities", "update:users")?;
    linking::detach(&cx.app, &p.actor(cx.address()), id, provider, subject).await?;
    let (_, list) = users::with_identities(&cx.app, id).await?;
    Ok(Json(identities_out(&list)))
}
