//! One error type for the core. Each API surface renders it in its own wire shape
//! (see `api::render`), so the core never knows which surface called it.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// The request body is over the size limit (413).
    PayloadTooLarge,
    /// The request body is not in the media type the endpoint takes (415).
    UnsupportedMediaType,
    /// The caller must wait; carries the seconds to wait.
    TooManyRequests(u64),
    /// The server is too busy for this request now (the hash queue is full); carries the
    /// seconds to wait before trying again.
    Unavailable(u64),
    /// A precondition of the operation does not hold (Zitadel's FAILED_PRECONDITION).
    Precondition,
    Internal,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    /// A machine-readable code for surfaces that have one (Auth0 `errorCode`, OAuth `error`).
    pub code: Option<&'static str>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            code: None,
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(Kind::BadRequest, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(Kind::Unauthorized, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, m)
    }
    pub fn precondition(m: impl Into<String>) -> Self {
        Self::new(Kind::Precondition, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(Kind::Internal, m)
    }
    pub fn unavailable(m: impl Into<String>, retry_after: u64) -> Self {
        Self::new(Kind::Unavailable(retry_after), m)
    }
    pub fn unsupported_media_type(m: impl Into<String>) -> Self {
        Self::new(Kind::UnsupportedMediaType, m)
    }
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn status(&self) -> u16 {
        match self.kind {
            Kind::BadRequest => 400,
            Kind::Unauthorized => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::MethodNotAllowed => 405,
            Kind::Conflict => 409,
            Kind::PayloadTooLarge => 413,
            Kind::UnsupportedMediaType => 415,
            Kind::TooManyRequests(_) => 429,
            Kind::Precondition => 412,
            Kind::Internal => 500,
            Kind::Unavailable(_) => 503,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

// Storage failures are internal: their detail goes to the log, never to the client.
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "database error");
        Error::internal("internal database error")
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        tracing::error!(error = %e, "database pool error");
        Error::internal("database unavailable")
    }
}
