//! The JSON calls behind the hosted pages (`/auth/api/flow/...`): one file per area, each
//! calling its `core` area. The browser's cookies (session, CSRF, binding) are read and made in
//! `api::cookies`; who may call is a guard: `Csrf` for every state-changing call, `SignedIn`
//! for a call that needs the browser's keyward session.
//!
//! Errors come in the login API's shape with a machine-readable `code` and, for a field at
//! fault, its `field`: the pages decide what to show from those, never from the message.

mod context;
mod link;
mod login;
mod passkey;
mod register;
mod setup;
mod suggestion;
mod upstream;

pub use suggestion::DataSuggestion;

use super::cookies;
use super::route::{Cx, Guard, OpDoc, Route, Surface, schema_ref};
use crate::core::sessions;
use crate::db::{sessions::Session, users::User};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use warp::http::Method;

pub fn surface() -> Surface {
    Surface {
        name: "flow",
        error_schema: |g| schema_ref::<FlowError>(g),
        render: super::error_response,
        routes: vec![
            Route::new(
                Method::GET,
                "/auth/api/flow/context",
                "flowContext",
                context::context,
            )
            .summary("What a hosted page shows")
            .describe(
                "The application asking (with `flow`), the strategy instances to log in with, \
                 who is logged in in this browser, and the password rules.",
            )
            .errors(&[404]),
            Route::new(
                Method::POST,
                "/auth/api/flow/login",
                "flowLogin",
                login::login,
            )
            .summary("Password login of the browser")
            .describe(
                "Sets the session cookie and answers where to go: back to the application \
                 with a code, or the account page. A login that finds an identity waiting for \
                 registration answers a register token bound to this browser and the register \
                 page to go on to.",
            )
            .errors(&[401, 403, 429, 503]),
            Route::new(
                Method::POST,
                "/auth/api/flow/passkey/login/start",
                "flowPasskeyLoginStart",
                passkey::start,
            )
            .summary("Begin a passkey login of the browser")
            .describe(
                "Answers a ceremony id and the options for `navigator.credentials.get`. With a \
                 username that has passkeys, they are the allowed credentials; otherwise the \
                 challenge is for a discoverable credential (also for conditional mediation), \
                 so the answer does not tell whether a user exists. 409 when passkeys are off.",
            )
            .errors(&[409]),
            Route::new(
                Method::POST,
                "/auth/api/flow/passkey/login/finish",
                "flowPasskeyLoginFinish",
                passkey::finish,
            )
            .summary("Finish a passkey login of the browser")
            .describe(
                "Checks the assertion against the ceremony (single use, 5 minutes), sets the \
                 session cookie and answers where to go: back to the application with a code, \
                 or the account page. Throttled like a password login.",
            )
            .errors(&[401, 403, 409, 429]),
            Route::new(
                Method::POST,
                "/auth/api/flow/passkey/signup/start",
                "flowPasskeySignupStart",
                passkey::signup_start,
            )
            .summary("Begin a sign-up with a passkey")
            .describe(
                "The register page's sign-up without a password: checks the new account's \
                 username, display name and email as `flowRegister` does (409 with `field` \
                 `username` when it is taken), and that the passkey instance allows login and \
                 self-registration (403), before anything is stored; counted against the \
                 address's new logins (429 after 30 a minute). Answers a ceremony id (single \
                 use, 5 minutes, bound to this browser's binding cookie, which it sets if \
                 needed) and the options for `navigator.credentials.create` (a discoverable \
                 credential with user verification). 409 `precondition` when passkeys are off.",
            )
            .errors(&[400, 403, 404, 409, 429]),
            Route::new(
                Method::POST,
                "/auth/api/flow/passkey/signup/finish",
                "flowPasskeySignupFinish",
                passkey::signup_finish,
            )
            .summary("Finish a sign-up with a passkey")
            .describe(
                "Verifies the new credential against the ceremony, then in one transaction \
                 checks again that the username is free and sign-up still allowed, creates the \
                 user with the passkey as its first login, sets the session cookie and answers \
                 where to go: back to the application with a code, or the account page. A \
                 ceremony of another browser is 403 `ceremony_other_browser`; an unknown, used \
                 or expired one 400 `ceremony_unknown`; a credential already registered 409 \
                 `identity_taken`. A refusal creates nothing.",
            )
            .errors(&[400, 403, 404, 409]),
            Route::new(
                Method::POST,
                "/auth/api/flow/logout",
                "flowLogout",
                login::logout,
            )
            .summary("Log the browser out")
            .describe("Ends the browser's session, if it has one, and removes its cookie.")
            .errors(&[400]),
            Route::new(
                Method::POST,
                "/auth/api/flow/setup/check",
                "flowSetupCheck",
                setup::check,
            )
            .summary("Whether a setup link is still good")
            .errors(&[401]),
            Route::new(
                Method::POST,
                "/auth/api/flow/setup",
                "flowSetup",
                setup::setup,
            )
            .summary("Create the first admin with the setup link")
            .errors(&[401, 409, 503]),
            Route::new(
                Method::POST,
                "/auth/api/flow/suggestion",
                "flowSuggestion",
                suggestion::suggestion,
            )
            .summary("The account a register token suggests, and the login it attaches")
            .describe("Only for a register token that a login in this browser made.")
            .errors(&[401]),
            Route::new(
                Method::POST,
                "/auth/api/flow/register",
                "flowRegister",
                register::register,
            )
            .summary("Create an account and log the browser in to it")
            .describe(
                "From a register token of this browser (the waiting login becomes the account's \
                 first), or from a new username and password on a userpass instance that allows \
                 self-registration.",
            )
            .errors(&[401, 403, 404, 409, 429, 503]),
            Route::new(Method::POST, "/auth/api/flow/link", "flowLink", link::link)
                .summary("Add a login to the browser's user")
                .describe(
                    "A register token of this browser (its waiting login), or a username and \
                     password on a userpass instance: a new password login, or one that waits \
                     for registration and has this password.",
                )
                .errors(&[404, 409, 429, 503]),
        ]
        .into_iter()
        .chain(upstream::routes())
        .collect(),
    }
}

/// The error shape of the flows: the login API's, with a machine-readable code.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct FlowError {
    /// The HTTP status.
    status_code: u16,
    /// Its reason phrase.
    error: String,
    /// What went wrong, in words (for people; pages decide on `code` and `field`).
    message: String,
    /// What went wrong, as a stable name: `invalid`, `wrong_credentials`, `blocked`,
    /// `register_token_other_browser`, `ceremony_other_browser`, `ceremony_unknown`,
    /// `conflict`, `same_identity`, `identity_taken`, `throttled`, ...
    code: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// The schema of the flows' (and pages') error shape.
pub fn flow_error_schema(g: &mut schemars::SchemaGenerator) -> serde_json::Value {
    schema_ref::<FlowError>(g)
}

/// Where the browser goes next.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "FlowNext")]
struct Next {
    /// A URL or path to send the browser to.
    redirect: String,
    /// After a login that found an identity waiting for registration: its register token,
    /// bound to this browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    register_token: Option<String>,
}

impl Next {
    fn to(redirect: String) -> Next {
        Next {
            redirect,
            register_token: None,
        }
    }
}

/// The browser answers for its call with the CSRF token its pages got (double submit), from
/// keyward's own origin.
pub struct Csrf;

impl Guard for Csrf {
    async fn check(cx: &Cx) -> Result<Self> {
        cookies::check_csrf(&cx.app, &cx.req).map(|_| Csrf)
    }
    fn doc(d: &mut OpDoc) {
        d.security = vec![json!({"csrfToken": [], "csrfCookie": []})];
        d.error(403);
    }
}

/// A browser with a live keyward session (its session cookie), of a user who is not blocked.
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

impl Guard for SignedIn {
    async fn check(cx: &Cx) -> Result<Self> {
        let found = match cookies::session(&cx.req) {
            Some(c) => sessions::cookie_session(&cx.app, c).await?,
            None => None,
        };
        let (session, user) = found.ok_or_else(|| Error::unauthorized("log in first"))?;
        Ok(SignedIn { session, user })
    }
    fn doc(d: &mut OpDoc) {
        d.security = vec![json!({"browserSession": []})];
        d.error(401);
    }
}

/// A text field the pages may send empty: empty counts as absent.
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}
