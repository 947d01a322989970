//! The login API (`/auth/api/login`), as the Gropius login service speaks it. This file holds
//! its route table and the wire types several areas share; each area's handlers, with their
//! own request and answer types, live in the file named after it:
//!
//! | path | file | core |
//! |---|---|---|
//! | `/strategy`, `/strategy/{type}` | `strategies` | `strategies` |
//! | `/strategy/{type}/instance`, `/strategy-instance...` | `instances` | `core::instances` |
//! | `/user`, `/user/{id}` | `users` | `core::users` |
//! | `/user/{id}/login-data`, `/login-data/...` | `login_data` | `core::linking`, `core::login` |
//! | `/user/{id}/active-login`, `/active-login/{id}`, `/user/{id}/revoke-tokens` | `sessions` | `core::sessions`, `core::users` |
//! | `/user/{id}/passkey-link` | `passkey_link` | `core::passkeys`, `core::passkey_mail` |
//! | `/strategy-instance/{id}/userpass/register`, `/registration/...` | `registration` | `core::registration`, `core::linking` |
//! | `/client...` | `clients` | `core::clients` |
//! | `/audit`, `/audit/actions` | `audit` | `core::audit` |
//! | `/stats` | `stats` | `core::stats` |
//! | `/signing-key` | `keys` | `core::keys` |

mod audit;
mod clients;
mod instances;
mod keys;
mod login_data;
mod passkey_link;
mod registration;
mod sessions;
mod stats;
mod strategies;
mod users;

use super::route::{Route, Surface};
use crate::App;
use crate::core::instances::Instance;
use crate::core::principal::Principal;
use crate::core::rfc3339;
use crate::db::users::User;
use crate::error::{Error, Result};
use crate::strategies::Kind;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use warp::http::Method;

pub fn surface() -> Surface {
    use Method as M;
    Surface {
        name: "login",
        error_schema: super::login_error_schema,
        render: super::bearer_error_response,
        routes: vec![
            // Strategies
            Route::new(
                M::GET,
                "/auth/api/login/strategy",
                "listStrategies",
                strategies::list,
            )
            .tag("strategies")
            .summary("The strategy kinds and what each can do"),
            Route::new(
                M::GET,
                "/auth/api/login/strategy/{type}",
                "getStrategy",
                strategies::get,
            )
            .tag("strategies")
            .summary("One strategy kind")
            .errors(&[404]),
            // Strategy instances
            Route::new(
                M::GET,
                "/auth/api/login/strategy/{type}/instance",
                "listStrategyInstancesOfType",
                instances::list_of_type,
            )
            .tag("strategy instances")
            .summary("The instances of one strategy kind, without their configs")
            .errors(&[404]),
            Route::new(
                M::POST,
                "/auth/api/login/strategy/{type}/instance",
                "createStrategyInstanceOfType",
                instances::create_of_type,
            )
            .tag("strategy instances")
            .summary("Create an instance of the strategy kind in the path (admin)")
            .describe(
                "The type in the path wins over a `type` in the body. A flag left out defaults \
                 to what the strategy can do; a flag set true that it cannot do is a 400.",
            )
            .errors(&[409]),
            Route::new(
                M::GET,
                "/auth/api/login/strategy-instance",
                "listStrategyInstances",
                instances::list,
            )
            .tag("strategy instances")
            .summary("Every strategy instance, without its config"),
            Route::new(
                M::POST,
                "/auth/api/login/strategy-instance",
                "createStrategyInstance",
                instances::create,
            )
            .tag("strategy instances")
            .summary("Create a strategy instance (admin)")
            .describe(
                "`type` is required. A flag left out defaults to what the strategy can do; a \
                 flag set true that it cannot do is a 400.",
            )
            .errors(&[409]),
            Route::new(
                M::GET,
                "/auth/api/login/strategy-instance/{id}",
                "getStrategyInstance",
                instances::get,
            )
            .tag("strategy instances")
            .summary("A strategy instance with its config, secrets censored (admin)")
            .errors(&[404]),
            Route::new(
                M::PUT,
                "/auth/api/login/strategy-instance/{id}",
                "updateStrategyInstance",
                instances::update,
            )
            .tag("strategy instances")
            .summary("Change a strategy instance's name, config or flags (admin)")
            .describe(
                "An instance read with GET may be sent back as it is: secrets still censored \
                 keep their stored values, and the read-only fields are accepted. The type \
                 cannot change.",
            )
            .errors(&[404, 409]),
            Route::new(
                M::DELETE,
                "/auth/api/login/strategy-instance/{id}",
                "deleteStrategyInstance",
                instances::delete,
            )
            .tag("strategy instances")
            .summary("Delete a strategy instance (admin)")
            .describe(
                "409 while identities use it, unless `cascade=true`, which removes them too; \
                 409 when it would remove the last admin's last way to log in.",
            )
            .errors(&[404, 409]),
            // New password identities, registration and linking
            Route::new(
                M::POST,
                "/auth/api/login/strategy-instance/{id}/userpass/register",
                "userpassRegister",
                registration::userpass_register,
            )
            .tag("registration")
            .summary("A new password identity, waiting for registration")
            .describe(
                "Answers a register token for `self-register` or `self-link`. Throttled per \
                 client address.",
            )
            .errors(&[403, 404, 409, 429, 503]),
            Route::new(
                M::POST,
                "/auth/api/login/registration/data-suggestion",
                "registrationDataSuggestion",
                registration::data_suggestion,
            )
            .tag("registration")
            .summary("What the identity's provider said of the person")
            .errors(&[401]),
            Route::new(
                M::POST,
                "/auth/api/login/registration/self-register",
                "selfRegister",
                registration::self_register,
            )
            .tag("registration")
            .summary("A new user made from a waiting identity")
            .errors(&[401, 403, 409]),
            Route::new(
                M::POST,
                "/auth/api/login/registration/self-link",
                "selfLink",
                registration::self_link,
            )
            .tag("registration")
            .summary("Add a waiting identity to the caller's user")
            .errors(&[409]),
            Route::new(
                M::POST,
                "/auth/api/login/registration/admin-link",
                "adminLink",
                registration::admin_link,
            )
            .tag("registration")
            .summary("Add a waiting identity to any user (admin)")
            .errors(&[404, 409]),
            // Users
            Route::new(M::GET, "/auth/api/login/user", "listUsers", users::list)
                .tag("users")
                .summary("One page of users, ordered by username (admin)"),
            Route::new(M::POST, "/auth/api/login/user", "createUser", users::create)
                .tag("users")
                .summary("Create a user, with a password identity when a password is given (admin)")
                .errors(&[409, 503]),
            Route::new(M::GET, "/auth/api/login/user/{id}", "getUser", users::get)
                .tag("users")
                .summary("A user (`self`: the caller)")
                .errors(&[404]),
            Route::new(
                M::PUT,
                "/auth/api/login/user/{id}",
                "updateUser",
                users::update,
            )
            .tag("users")
            .summary("Change a user (`self`: the caller)")
            .describe(
                "Anyone may change their own `displayName` and `email`; admins also \
                     `username`, `isAdmin` and `isBlocked`. No change may leave no admin who \
                     can log in (409).",
            )
            .errors(&[404, 409]),
            Route::new(
                M::DELETE,
                "/auth/api/login/user/{id}",
                "deleteUser",
                users::delete,
            )
            .tag("users")
            .summary("Delete a user with their identities and sessions (admin)")
            .errors(&[404, 409]),
            // Login data
            Route::new(
                M::GET,
                "/auth/api/login/user/{id}/login-data",
                "listLoginData",
                login_data::list,
            )
            .tag("login data")
            .summary("A user's identities (`self`: the caller)")
            .errors(&[404]),
            Route::new(
                M::DELETE,
                "/auth/api/login/login-data/{id}",
                "deleteLoginData",
                login_data::unlink,
            )
            .tag("login data")
            .summary("Unlink an identity (its owner or an admin)")
            .describe("409 when it is the user's last valid way to log in.")
            .errors(&[404, 409]),
            Route::new(
                M::PUT,
                "/auth/api/login/login-data/{id}/name",
                "renameLoginData",
                login_data::rename,
            )
            .tag("login data")
            .summary("Rename a passkey's login data (its owner or an admin)")
            .describe("Answers the login data with its new name.")
            .errors(&[400, 404]),
            Route::new(
                M::PUT,
                "/auth/api/login/login-data/{id}/password",
                "changePassword",
                login_data::change_password,
            )
            .tag("login data")
            .summary("Change a password identity's password")
            .describe(
                "The owner must give the old password (throttled like a login); an admin may \
                 set another user's password without it.",
            )
            .errors(&[404, 409, 429, 503]),
            // Sessions
            Route::new(
                M::GET,
                "/auth/api/login/user/{id}/active-login",
                "listActiveLogins",
                sessions::list,
            )
            .tag("active logins")
            .summary("A user's live sessions, newest first (`self`: the caller)")
            .errors(&[404]),
            Route::new(
                M::DELETE,
                "/auth/api/login/active-login/{id}",
                "deleteActiveLogin",
                sessions::end,
            )
            .tag("active logins")
            .summary("End a session and every token of it (its owner or an admin)")
            .errors(&[404]),
            Route::new(
                M::POST,
                "/auth/api/login/user/{id}/revoke-tokens",
                "revokeTokens",
                sessions::revoke_tokens,
            )
            .tag("active logins")
            .summary("Log out everywhere (`self`: the caller)")
            .describe("Every session ends and every token issued before now is refused.")
            .errors(&[404]),
            Route::new(
                M::POST,
                "/auth/api/login/user/{id}/passkey-link",
                "createPasskeyLink",
                passkey_link::create,
            )
            .tag("passkeys")
            .summary("A one-time link that adds a passkey (`self`: the caller; admin: anyone)")
            .describe(
                "Answers the link with its expiry and its QR code (SVG), or with `send: true` \
                 mails it to the user's e-mail address. The link's code is used up only when a \
                 passkey is saved with it; it expires after `--passkey-link-ttl` seconds.",
            )
            .errors(&[400, 403, 404, 409, 503]),
            // OAuth clients
            Route::new(
                M::GET,
                "/auth/api/login/client",
                "listClients",
                clients::list,
            )
            .tag("clients")
            .summary("Every OAuth client (admin)"),
            Route::new(
                M::POST,
                "/auth/api/login/client",
                "createClient",
                clients::create,
            )
            .tag("clients")
            .summary("Create an OAuth client (admin)"),
            Route::new(
                M::GET,
                "/auth/api/login/client/{id}",
                "getClient",
                clients::get,
            )
            .tag("clients")
            .summary("An OAuth client (admin)")
            .errors(&[404]),
            Route::new(
                M::PUT,
                "/auth/api/login/client/{id}",
                "updateClient",
                clients::update,
            )
            .tag("clients")
            .summary("Change an OAuth client (admin)")
            .describe(
                "A client read with GET may be sent back as it is: `id` and `builtin` are \
                     accepted when they match.",
            )
            .errors(&[404]),
            Route::new(
                M::DELETE,
                "/auth/api/login/client/{id}",
                "deleteClient",
                clients::delete,
            )
            .tag("clients")
            .summary("Delete an OAuth client with its secrets (admin)")
            .describe("Built-in clients cannot be deleted (409).")
            .errors(&[404, 409]),
            Route::new(
                M::GET,
                "/auth/api/login/client/{id}/client-secret",
                "listClientSecrets",
                clients::secrets,
            )
            .tag("clients")
            .summary("A client's secrets, censored, oldest first (admin)")
            .errors(&[404]),
            Route::new(
                M::POST,
                "/auth/api/login/client/{id}/client-secret",
                "createClientSecret",
                clients::create_secret,
            )
            .tag("clients")
            .summary("A new client secret; its text is shown this once (admin)")
            .errors(&[404]),
            Route::new(
                M::DELETE,
                "/auth/api/login/client/{id}/client-secret/{fingerprint}",
                "deleteClientSecret",
                clients::delete_secret,
            )
            .tag("clients")
            .summary("Delete a client secret by its fingerprint (admin)")
            .errors(&[404]),
            // Audit
            Route::new(
                M::GET,
                "/auth/api/login/audit",
                "listAuditEvents",
                audit::list,
            )
            .tag("audit")
            .summary("The audit log, newest first (admin)")
            .describe(
                "Filters: `user` (events where that id is the actor or the target), `action` \
                 (exact, or a prefix ending in `.` such as `user.`), `from` and `to` (RFC 3339, \
                 inclusive; a bad time is a 400 naming the field); `before` (an event id) \
                 pages on. `actorName` / `targetName` are the usernames of users that still \
                 exist.",
            ),
            Route::new(
                M::GET,
                "/auth/api/login/audit/actions",
                "listAuditActions",
                audit::actions,
            )
            .tag("audit")
            .summary("The action names an audit filter may use (admin)")
            .describe("Those keyward records and any other found in the log, in order."),
            // The admin console
            Route::new(M::GET, "/auth/api/login/stats", "getStats", stats::get)
                .tag("admin console")
                .summary("The dashboard's figures in one answer (admin)")
                .describe(
                    "Users, identities per strategy instance, live sessions, logins of the \
                     last 24 hours (counted in memory by this process, in hours, since \
                     `countingSince`), the published signing keys, the version, the \
                     database size and the process start.",
                ),
            Route::new(
                M::GET,
                "/auth/api/login/signing-key",
                "listSigningKeys",
                keys::list,
            )
            .tag("admin console")
            .summary("The signing keys, newest first, public halves only (admin)"),
            Route::new(
                M::POST,
                "/auth/api/login/signing-key",
                "rotateSigningKey",
                keys::rotate,
            )
            .tag("admin console")
            .summary("Rotate: a new key signs from now on (admin)")
            .describe(
                "As `keyward keys rotate`. The new key is in the JWKS before this answers and \
                 signs every token issued after it; older keys stay published (and their \
                 tokens valid) until every token they signed has expired.",
            ),
        ],
    }
}

/// `self` in a user path means the caller.
fn self_or<'a>(p: &'a Principal, id: &'a str) -> &'a str {
    if id == "self" { &p.user.id } else { id }
}

/// A list's `limit` query parameter: 1 to 500, `default` when absent.
fn limit(given: Option<u32>, default: u32) -> Result<u32> {
    match given {
        None => Ok(default),
        Some(l) if (1..=500).contains(&l) => Ok(l),
        Some(_) => Err(Error::field("limit", "must be a number from 1 to 500")),
    }
}

/// A request field that may be set to null: absent is `None`, null is `Some(None)`. Use with
/// `#[serde(default, deserialize_with = "nullable")]`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An optional field that may be left out but not sent as `null` (a flag that is not a
/// boolean, a config that is not an object): serde's own `Option` would take `null` as absent.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The schema of a `not_null` field: the value's own type, without the `default: null` that
/// `#[serde(default)]` would document for it.
fn without_default(schema: &mut schemars::Schema) {
    schema.remove("default");
}

/// A string field that must not be empty or blank.
fn nonempty(field: &str, value: String) -> Result<String> {
    if value.trim().is_empty() {
        return Err(Error::field(field, "must not be empty"));
    }
    Ok(value)
}

/// The answer of an operation that returns nothing else (Gropius' `DefaultReturn`).
#[derive(Serialize, JsonSchema)]
pub struct DefaultReturn {
    /// The operation, e.g. `delete-user`.
    operation: &'static str,
    /// Always `success`.
    result: &'static str,
    time: String,
}

impl DefaultReturn {
    fn of(operation: &'static str) -> DefaultReturn {
        DefaultReturn {
            operation,
            result: "success",
            time: rfc3339(crate::db::now_ms()),
        }
    }
}

/// A user.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    id: String,
    username: String,
    display_name: String,
    email: Option<String>,
    is_admin: bool,
    is_blocked: bool,
    /// Tokens issued before this time are refused (set by `revoke-tokens`).
    revoke_tokens_before: Option<String>,
    created_at: String,
}

impl UserOut {
    pub fn of(u: &User) -> UserOut {
        UserOut {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            is_admin: u.is_admin,
            is_blocked: u.is_blocked,
            revoke_tokens_before: u.revoke_tokens_before.map(rfc3339),
            created_at: rfc3339(u.created_at),
        }
    }
}

/// A strategy instance, without its config.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOut {
    id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Kind,
    is_login_active: bool,
    is_self_register_active: bool,
    is_sync_active: bool,
    does_implicit_register: bool,
    /// `{publicUrl}/auth/api/flow/callback/{id}` for redirect strategies, else null.
    callback_url: Option<String>,
    created_at: String,
}

impl InstanceOut {
    pub fn of(app: &App, i: &Instance) -> InstanceOut {
        InstanceOut {
            id: i.id.clone(),
            name: i.name.clone(),
            kind: i.kind,
            is_login_active: i.is_login_active,
            is_self_register_active: i.is_self_register_active,
            is_sync_active: i.is_sync_active,
            does_implicit_register: i.does_implicit_register,
            callback_url: i
                .strategy()
                .caps()
                .needs_redirect_flow
                .then(|| format!("{}/auth/api/flow/callback/{}", app.public_url, i.id)),
            created_at: rfc3339(i.created_at),
        }
    }
}
