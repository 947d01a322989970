//! The rules of keyward, once, for every surface: a surface parses its wire format, calls a
//! function here, and renders the result in its own shape.

pub mod audit;
pub mod backup;
pub mod bootstrap;
pub mod clients;
pub mod guard;
pub mod hosted;
pub mod instances;
pub mod keys;
pub mod linking;
pub mod login;
pub mod oauth;
pub mod passkey_mail;
pub mod passkeys;
pub mod pending;
pub mod principal;
pub mod registration;
pub mod sessions;
pub mod stats;
pub mod sync;
pub mod transfer;
pub mod upstream;
pub mod users;

use crate::db::Write;
use crate::db::audit::Event;
use crate::error::Result;
use serde_json::Value;

/// Who asks for a change, for permission checks and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// A user id, or `cli` / `setup` for changes made outside the HTTP API.
    pub id: String,
    pub is_admin: bool,
    pub address: Option<String>,
}

impl Actor {
    /// A user acting for themself, with an admin's rights when they are one.
    pub fn user(user: &crate::db::users::User, address: Option<String>) -> Actor {
        Actor {
            id: user.id.clone(),
            is_admin: user.is_admin,
            address,
        }
    }

    pub fn cli() -> Actor {
        Actor {
            id: "cli".into(),
            is_admin: true,
            address: None,
        }
    }

    /// Writes an audit event in the caller's transaction, so the event and the change it
    /// describes land together or not at all.
    pub fn audit(
        &self,
        c: &Write,
        action: &str,
        target: Option<&str>,
        details: Value,
    ) -> Result<()> {
        crate::db::audit::record(
            c,
            &Event {
                actor: &self.id,
                action,
                target,
                address: self.address.as_deref(),
                details,
            },
        )
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds, as every surface shows times.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An RFC 3339 time (any offset) as Unix milliseconds; None when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Names and the other text that people and programs show (usernames, display names, e-mails,
/// client and instance names, URLs) hold no control characters: a NUL cuts a string short in C
/// code, and line breaks and escape sequences forge log lines and terminal output.
pub fn check_no_control(field: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(crate::error::Error::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Drops rows that can no longer matter: identities that waited past their registration
/// window, revoked tokens past their expiry, used or expired
/// codes and refresh tokens, sessions that ended more than a day ago, WebAuthn ceremonies past
/// their 5 minutes, passkey link codes a day after they expired, and upstream logins past their
/// 10 minutes.
pub fn housekeeping(c: &Write) -> Result<()> {
    crate::db::identities::purge_expired_waiting(c, c.now)?;
    crate::db::revoked_tokens::purge_expired(c)?;
    crate::db::codes::purge_expired(c)?;
    crate::db::refresh_tokens::purge_expired(c)?;
    crate::db::sessions::purge_ended(c, c.now - 86_400_000)?;
    crate::db::ceremonies::purge_expired(c)?;
    crate::db::link_codes::purge_expired(c, c.now - 86_400_000)?;
    crate::db::upstream_flows::purge_expired(c)?;
    Ok(())
}
