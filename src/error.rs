//! One error type for the core. It says what went wrong as a `Reason`, in the core's own terms;
//! each API surface maps a reason to its own status and code (`api::*::render`), so the core
//! never picks a surface's wire code and never knows which surface called it.

use std::fmt;

/// What is wrong with a passkey link code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCodeProblem {
    /// The code does not match (a try counted against it).
    Wrong,
    Expired,
    /// A passkey was already registered with it.
    Used,
    /// Voided: too many wrong tries.
    Void,
    /// Voided because its mail could not be sent: nobody received it.
    Unsent,
}

impl LinkCodeProblem {
    pub fn code(self) -> &'static str {
        match self {
            LinkCodeProblem::Wrong => "link_code_wrong",
            LinkCodeProblem::Expired => "link_code_expired",
            LinkCodeProblem::Used => "link_code_used",
            LinkCodeProblem::Void => "link_code_void",
            LinkCodeProblem::Unsent => "link_code_unsent",
        }
    }
}

/// Why a passkey sign-up's ceremony cannot be finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyProblem {
    /// Another browser began it (its binding cookie differs).
    OtherBrowser,
    /// No such ceremony is in progress: never begun, already used, or expired.
    Unknown,
}

impl CeremonyProblem {
    pub fn code(self) -> &'static str {
        match self {
            CeremonyProblem::OtherBrowser => "ceremony_other_browser",
            CeremonyProblem::Unknown => "ceremony_unknown",
        }
    }
}

/// What a `NotFound` did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    User,
    Identity,
    Instance,
    Strategy,
    Client,
    Secret,
    Session,
    Passkey,
    /// A path no route serves.
    Route,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request or one of its fields is not valid; the message (and `field`) say which.
    Invalid,
    /// A query parameter is not valid; the message says which.
    InvalidQuery,
    /// The request body is over the size limit.
    TooLarge,
    /// The request body is not in the media type the operation takes.
    MediaType,
    /// No credentials were presented.
    NotLoggedIn,
    /// A presented token is not valid: bad signature, expired, revoked, used up, wrong kind,
    /// or its login has ended.
    TokenInvalid,
    /// Wrong username or password (and unknown usernames, which answer the same).
    WrongCredentials,
    /// An OAuth client failed to authenticate.
    ClientUnauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// The caller's token lacks a scope the operation needs.
    ScopeMissing,
    /// The account or the login method is blocked, disabled or expired.
    Blocked,
    /// A register token that another browser made (see `core::pending`).
    OtherBrowser,
    NotFound(Thing),
    MethodNotAllowed,
    /// The change clashes with what exists (a name, a username, an id).
    Conflict,
    /// The identity already belongs to a user (maybe this one).
    IdentityTaken,
    /// Linking a user's main identity, or the user itself, to that same user.
    SameIdentity,
    /// The change would take away the user's last way to log in.
    LastLoginMethod,
    /// An authorization grant (code, refresh token) is not valid.
    GrantInvalid,
    /// The client may not ask for a scope.
    ScopeInvalid,
    /// The client may not ask for a resource (RFC 8707).
    TargetInvalid,
    /// The client may not use this grant or flow.
    ClientNotAllowed,
    /// The grant type is not one keyward supports.
    GrantUnsupported,
    /// The caller must wait; carries the seconds to wait.
    Throttled(u64),
    /// The service cannot take the request now (a full hash queue); carries seconds to wait.
    Busy(u64),
    /// A precondition of the operation does not hold (Zitadel's FAILED_PRECONDITION).
    Precondition,
    /// A passkey link code that cannot be used.
    LinkCode(LinkCodeProblem),
    /// A passkey sign-up ceremony that cannot be finished.
    Ceremony(CeremonyProblem),
    /// A service keyward depends on (the mail server) refuses or cannot be reached.
    Unavailable,
    /// An upstream provider refused a call (a token refresh) or could not be reached.
    ProviderFailed,
    /// Something failed inside keyward; the message is for the log only.
    Internal,
}

impl Reason {
    /// A stable machine-readable name, for surfaces without codes of their own (the pages).
    pub fn code(self) -> &'static str {
        match self {
            Reason::Invalid => "invalid",
            Reason::InvalidQuery => "invalid_query",
            Reason::TooLarge => "too_large",
            Reason::MediaType => "unsupported_media_type",
            Reason::NotLoggedIn => "not_logged_in",
            Reason::TokenInvalid => "token_invalid",
            Reason::WrongCredentials => "wrong_credentials",
            Reason::ClientUnauthenticated => "client_unauthenticated",
            Reason::Forbidden => "forbidden",
            Reason::ScopeMissing => "scope_missing",
            Reason::Blocked => "blocked",
            Reason::OtherBrowser => "register_token_other_browser",
            Reason::NotFound(_) => "not_found",
            Reason::MethodNotAllowed => "method_not_allowed",
            Reason::Conflict => "conflict",
            Reason::IdentityTaken => "identity_taken",
            Reason::SameIdentity => "same_identity",
            Reason::LastLoginMethod => "last_login_method",
            Reason::GrantInvalid => "grant_invalid",
            Reason::ScopeInvalid => "scope_invalid",
            Reason::TargetInvalid => "target_invalid",
            Reason::ClientNotAllowed => "client_not_allowed",
            Reason::GrantUnsupported => "grant_unsupported",
            Reason::Throttled(_) => "throttled",
            Reason::Busy(_) => "busy",
            Reason::Precondition => "precondition",
            Reason::LinkCode(p) => p.code(),
            Reason::Ceremony(p) => p.code(),
            Reason::Unavailable => "unavailable",
            Reason::ProviderFailed => "provider_failed",
            Reason::Internal => "internal",
        }
    }

    /// The seconds a caller should wait, for `Retry-After`.
    pub fn retry_after(self) -> Option<u64> {
        match self {
            Reason::Throttled(s) | Reason::Busy(s) => Some(s.max(1)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub reason: Reason,
    pub message: String,
    /// The request field at fault, when there is one (pages show the message next to it).
    pub field: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Error {
            reason,
            message: message.into(),
            field: None,
        }
    }
    /// An invalid request field: the message starts with the field's name.
    pub fn field(field: &str, problem: impl fmt::Display) -> Self {
        let problem = problem.to_string();
        let sep = if problem.starts_with(':') { "" } else { " " };
        Error {
            reason: Reason::Invalid,
            message: format!("{field}{sep}{problem}"),
            field: Some(field.to_string()),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(Reason::Invalid, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(Reason::NotLoggedIn, m)
    }
    pub fn token_invalid(m: impl Into<String>) -> Self {
        Self::new(Reason::TokenInvalid, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(Reason::Forbidden, m)
    }
    pub fn not_found(thing: Thing, m: impl Into<String>) -> Self {
        Self::new(Reason::NotFound(thing), m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(Reason::Conflict, m)
    }
    pub fn precondition(m: impl Into<String>) -> Self {
        Self::new(Reason::Precondition, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(Reason::Internal, m)
    }
    pub fn is(&self, reason: Reason) -> bool {
        self.reason == reason
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

/// The id of a request: in its `X-Request-Id` header, in the message of an internal error and
/// in the log lines about it, so that a report can be matched to the log. A plain number, so
/// that keeping it per request costs next to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(pub u128);

impl RequestId {
    pub fn new() -> RequestId {
        RequestId(rand::random())
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

tokio::task_local! {
    static TASK_REQUEST: RequestId;
}

thread_local! {
    /// The request a blocking-pool thread works for (see `on_thread`).
    static THREAD_REQUEST: std::cell::Cell<Option<RequestId>> = const { std::cell::Cell::new(None) };
}

/// Runs `fut` as the work of request `id`.
pub async fn for_request<F: std::future::Future>(id: RequestId, fut: F) -> F::Output {
    TASK_REQUEST.scope(id, fut).await
}

/// The request being answered by this task, or by this blocking-pool thread.
pub fn current_request() -> Option<RequestId> {
    TASK_REQUEST
        .try_with(|id| *id)
        .ok()
        .or_else(|| THREAD_REQUEST.with(|c| c.get()))
}

/// Runs `f` on this (blocking-pool) thread as the work of `id`, so that its log lines name it.
pub fn on_thread<T>(id: Option<RequestId>, f: impl FnOnce() -> T) -> T {
    let before = THREAD_REQUEST.with(|c| c.replace(id));
    let out = f();
    THREAD_REQUEST.with(|c| c.set(before));
    out
}

/// The request id as log fields want it.
fn request_field() -> String {
    current_request().map(|r| r.to_string()).unwrap_or_default()
}

// Storage failures are internal: their detail goes to the log, never to the client.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(request_id = %request_field(), error = %e, "database error");
        Error::internal("internal database error")
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        tracing::error!(request_id = %request_field(), error = %e, "database pool error");
        Error::internal("database unavailable")
    }
}
