//! The passwordless API, as Zitadel's REST gateway serves it: passkey links (v1 `_link` and
//! `_send_link` for oneself and, as an admin, for anyone; v2 `registration_link`) and the v2
//! passkey registration, list and removal. The rules live in `core::passkeys` (and
//! `core::passkey_mail`); this surface parses Zitadel's requests and renders its answers and
//! its gRPC-style errors:
//!
//! | path | file |
//! |---|---|
//! | `/users/me/passwordless/...`, `/management/v1/users/{userId}/passwordless/...`, `/v2/users/{userId}/passkeys/registration_link` | `links` |
//! | `/v2/users/{userId}/passkeys...` | `passkeys` |

mod links;
mod passkeys;

use super::guard::bearer;
use super::route::{Cx, Guard, OpDoc, Route, Surface, schema_ref};
use super::send_json;
use crate::core::principal::{self, Principal};
use crate::core::{passkeys as core_passkeys, rfc3339};
use crate::error::{CeremonyProblem, Error, LinkCodeProblem, Reason, Result, Thing};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use warp::http::Method;
use warp::reply::Response;

pub fn surface() -> Surface {
    use Method as M;
    Surface {
        name: "passwordless",
        error_schema: |g| schema_ref::<ZitadelError>(g),
        render: zitadel_error,
        // A literal segment must come before a `{param}` at the same place: the first route
        // that matches a request takes it.
        routes: vec![
            Route::new(
                M::POST,
                "/users/me/passwordless/_link",
                "zitadelAddMyPasswordlessLink",
                links::my_link,
            )
            .summary("A passkey registration link for oneself")
            .describe(
                "Makes a one-time link (valid `--passkey-link-ttl` seconds, 1 h by default) that \
                 opens keyward's passkey page, where a passkey can be registered without logging \
                 in: for another device, e.g. a phone. Needs a token with the scope `login`.",
            )
            .errors(&[404]),
            Route::new(
                M::POST,
                "/users/me/passwordless/_send_link",
                "zitadelSendMyPasswordlessLink",
                links::my_send_link,
            )
            .summary("Mail oneself a passkey registration link")
            .describe(
                "Mails the link of `_link` to the user's e-mail address. Code 9 when no mail \
                 server is configured or the user has no e-mail address; code 14 (503) when the \
                 mail server refuses or cannot be reached, and the link is then void.",
            )
            .errors(&[404, 503]),
            Route::new(
                M::POST,
                "/management/v1/users/{userId}/passwordless/_send_link",
                "zitadelSendPasswordlessLink",
                links::user_send_link,
            )
            .summary("Mail any user a passkey registration link (admin)")
            .errors(&[404, 503]),
            Route::new(
                M::POST,
                "/management/v1/users/{userId}/passwordless/_link",
                "zitadelAddPasswordlessLink",
                links::user_link,
            )
            .summary("A passkey registration link for any user (admin)")
            .errors(&[404]),
            Route::new(
                M::POST,
                "/v2/users/{userId}/passkeys/registration_link",
                "zitadelCreatePasskeyRegistrationLink",
                links::registration_link,
            )
            .summary("A passkey registration code or a mailed link for a user")
            .describe(
                "Yourself (scope `login`) or, as an admin, any user. `{\"returnCode\": {}}` answers \
                 the code (`id`, `code`) that `POST /v2/users/{userId}/passkeys` takes; \
                 `{\"sendLink\": {\"urlTemplate\": ...}}` mails the link (the template's \
                 `{{.UserID}}`, `{{.OrgID}}`, `{{.CodeID}}` and `{{.Code}}` filled in; without a \
                 template keyward's passkey page). A template with any other action, a `{{` \
                 without `}}`, or that does not give an absolute http(s) URL is refused (code \
                 3). An empty body mails the default link, as Zitadel does when no medium is \
                 named; both at once are refused (code 3).",
            )
            .errors(&[404, 503]),
            Route::new(
                M::POST,
                "/v2/users/{userId}/passkeys/_search",
                "zitadelSearchPasskeys",
                passkeys::search,
            )
            .summary("The user's passkeys (same as GET)")
            .errors(&[404]),
            Route::new(
                M::GET,
                "/v2/users/{userId}/passkeys",
                "zitadelListPasskeys",
                passkeys::list,
            )
            .summary("The user's passkeys")
            .describe("Yourself (scope `login`) or, as an admin, any user.")
            .errors(&[404]),
            Route::new(
                M::POST,
                "/v2/users/{userId}/passkeys",
                "zitadelRegisterPasskey",
                passkeys::start,
            )
            .summary("Start a passkey registration")
            .describe(
                "With `code` (from a link or `registration_link`) no login is needed; without, \
                 the caller is the user (scope `login`) or an admin. Answers the `passkeyId` that \
                 names the ceremony and the options for `navigator.credentials.create` (binary \
                 fields base64url). The ceremony lasts 5 minutes; a code stays usable until a \
                 registration with it completes.",
            )
            .errors(&[404, 409]),
            Route::new(
                M::POST,
                "/v2/users/{userId}/passkeys/{passkeyId}",
                "zitadelVerifyPasskeyRegistration",
                passkeys::finish,
            )
            .summary("Finish a passkey registration")
            .describe(
                "A registration started with a code needs no login (the `passkeyId` names the \
                 ceremony); one started without a code needs the user (scope `login`) or an \
                 admin, not necessarily the one who started it. Takes the JSON of the browser's \
                 `PublicKeyCredential` and a name for the passkey; a registration started with a \
                 code uses the code up only now. A credential id that is already registered, to \
                 this user or another, is code 6 (409).",
            )
            .errors(&[404, 409]),
            Route::new(
                M::DELETE,
                "/v2/users/{userId}/passkeys/{passkeyId}",
                "zitadelRemovePasskey",
                passkeys::remove,
            )
            .summary("Remove a passkey")
            .describe(
                "Yourself (scope `login`) or, as an admin, any user. Refused (code 9) when it is \
                 the user's last way to log in.",
            )
            .errors(&[404]),
        ],
    }
}

/// Zitadel's error shape: a gRPC status as its REST gateway renders it.
#[derive(Serialize, JsonSchema)]
struct ZitadelError {
    /// The gRPC status code: 3 invalid argument, 5 not found, 6 already exists, 7 permission
    /// denied, 8 resource exhausted (throttled), 9 failed precondition, 12 unimplemented
    /// (method not allowed), 13 internal, 14 unavailable, 16 unauthenticated.
    code: i32,
    /// What went wrong, ending with the error's id in parentheses: `... (KW-PL-040)`.
    message: String,
    details: Vec<ErrorDetail>,
}

#[derive(Serialize, JsonSchema)]
struct ErrorDetail {
    /// Always `type.googleapis.com/zitadel.v1.ErrorDetail`.
    #[serde(rename = "@type")]
    kind: String,
    /// A stable id of the kind of error, `KW-PL-nnn`, which a client (the passkey page) can
    /// decide on.
    id: String,
    /// What went wrong, without the id.
    message: String,
}

/// The gRPC code, the HTTP status (as Zitadel's gateway maps the code) and the stable id of an
/// error. Ids never change meaning; docs/API.md lists them.
fn classify(e: &Error) -> (i32, u16, &'static str) {
    match e.reason {
        Reason::Invalid
        | Reason::Ceremony(CeremonyProblem::Unknown)
        | Reason::SameIdentity
        | Reason::GrantInvalid
        | Reason::GrantUnsupported => (3, 400, "KW-PL-001"),
        Reason::InvalidQuery => (3, 400, "KW-PL-002"),
        Reason::TooLarge => (3, 413, "KW-PL-004"),
        Reason::MediaType => (3, 415, "KW-PL-005"),
        Reason::NotLoggedIn => (16, 401, "KW-PL-010"),
        Reason::TokenInvalid | Reason::WrongCredentials | Reason::ClientUnauthenticated => {
            (16, 401, "KW-PL-011")
        }
        Reason::Forbidden
        | Reason::OtherBrowser
        | Reason::Ceremony(CeremonyProblem::OtherBrowser)
        | Reason::ClientNotAllowed => (7, 403, "KW-PL-020"),
        Reason::ScopeMissing | Reason::ScopeInvalid | Reason::TargetInvalid => {
            (7, 403, "KW-PL-021")
        }
        // A blocked user's own token is refused as invalid (16, KW-PL-011) like everywhere;
        // this is a registration for a blocked user by a link code or an admin.
        Reason::Blocked => (9, 400, "KW-PL-052"),
        Reason::NotFound(Thing::User) => (5, 404, "KW-PL-030"),
        Reason::NotFound(Thing::Passkey) => (5, 404, "KW-PL-031"),
        Reason::NotFound(Thing::Route) => (5, 404, "KW-PL-032"),
        Reason::NotFound(_) => (5, 404, "KW-PL-033"),
        Reason::LinkCode(LinkCodeProblem::Wrong) => (3, 400, "KW-PL-040"),
        Reason::LinkCode(LinkCodeProblem::Expired) => (9, 400, "KW-PL-041"),
        Reason::LinkCode(LinkCodeProblem::Used) => (9, 400, "KW-PL-042"),
        Reason::LinkCode(LinkCodeProblem::Void) => (9, 400, "KW-PL-043"),
        Reason::LinkCode(LinkCodeProblem::Unsent) => (9, 400, "KW-PL-044"),
        Reason::LastLoginMethod => (9, 400, "KW-PL-050"),
        Reason::Precondition => (9, 400, "KW-PL-051"),
        Reason::Conflict | Reason::IdentityTaken => (6, 409, "KW-PL-060"),
        Reason::Throttled(_) => (8, 429, "KW-PL-070"),
        Reason::Unavailable => (14, 503, "KW-PL-080"),
        Reason::Busy(_) => (14, 503, "KW-PL-081"),
        Reason::ProviderFailed => (14, 502, "KW-PL-082"),
        Reason::MethodNotAllowed => (12, 405, "KW-PL-090"),
        Reason::Internal => (13, 500, "KW-PL-099"),
    }
}

/// Renders an error in Zitadel's shape: `{code, message: "… (KW-PL-nnn)", details: [{"@type",
/// id, message}]}`.
pub(super) fn zitadel_error(e: &Error) -> Response {
    let e = &*super::public_error(e);
    let (code, status, id) = classify(e);
    let body = ZitadelError {
        code,
        message: format!("{} ({id})", e.message),
        details: vec![ErrorDetail {
            kind: "type.googleapis.com/zitadel.v1.ErrorDetail".into(),
            id: id.into(),
            message: e.message.clone(),
        }],
    };
    let v = serde_json::to_value(&body).unwrap_or_else(|_| json!({"code": code}));
    super::with_retry_after(send_json(status, &v), e)
}

/// Zitadel's object details of a user: `sequence` (as a string, as the gateway renders an
/// int64) rises with every change of the user.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Details {
    sequence: String,
    creation_date: String,
    change_date: String,
    /// The installation's organization id.
    resource_owner: String,
}

impl From<core_passkeys::Details> for Details {
    fn from(d: core_passkeys::Details) -> Details {
        Details {
            sequence: d.sequence.to_string(),
            creation_date: rfc3339(d.created_at),
            change_date: rfc3339(d.changed_at),
            resource_owner: d.resource_owner,
        }
    }
}

/// `{details}`: the answer of an operation that changes something and returns nothing else.
#[derive(Serialize, JsonSchema)]
struct DetailsOut {
    details: Details,
}

/// An empty request body, `{}` (or none at all). As Zitadel's gateway (protojson with
/// DiscardUnknown), fields in it are ignored.
#[derive(serde::Deserialize, JsonSchema)]
struct Empty {}

async fn authenticate(cx: &Cx) -> Result<Principal> {
    let token = bearer(cx.req.header("authorization"))
        .ok_or_else(|| Error::unauthorized("not logged in: send Authorization: Bearer <token>"))?;
    principal::authenticate(&cx.app, token).await
}

/// A token with the scope `login` that may act on the user `{userId}` (the path's first
/// parameter): that user's own, or an admin's. Another user's id without admin rights is
/// refused before anything is looked up, so the caller learns nothing about that user.
fn may_act_on(p: &Principal, user_id: &str) -> Result<()> {
    if !p.claims.has_scope("login") {
        return Err(Error::new(
            Reason::ScopeMissing,
            "the token lacks the scope login",
        ));
    }
    if p.user.id != user_id && !p.user.is_admin {
        return Err(Error::forbidden(
            "only your own user, unless you are an admin",
        ));
    }
    Ok(())
}

/// The user `{userId}` themself or an admin, with a `login` token.
struct SelfOrAdmin(Principal);

impl Guard for SelfOrAdmin {
    async fn check(cx: &Cx) -> Result<Self> {
        let p = authenticate(cx).await?;
        may_act_on(&p, cx.param(0))?;
        Ok(SelfOrAdmin(p))
    }
    fn doc(d: &mut OpDoc) {
        d.security = vec![json!({"bearer": []})];
        d.errors(&[401, 403]);
    }
}

/// No login needed, but a Bearer token may be given: the handler decides whether it needs one
/// (a passkey registration started without a link code does).
struct MaybeCaller;

impl Guard for MaybeCaller {
    async fn check(_: &Cx) -> Result<Self> {
        Ok(MaybeCaller)
    }
    fn doc(d: &mut OpDoc) {
        // Bearer first: clients (and the fuzzer) that have a token use it.
        d.security = vec![json!({"bearer": []}), json!({})];
        d.errors(&[401, 403]);
    }
}
