//! The audit log as admins read it.

use super::Actor;
use crate::App;
use crate::db;
use crate::error::{Error, Result};
use serde_json::Value;

/// One audit event, its details parsed.
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub details: Value,
}

/// The newest events first, older than the event `before` when given (admins only).
pub async fn list(
    app: &App,
    actor: &Actor,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditEvent>> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may read the audit log"));
    }
    let rows = app
        .db
        .read(move |r| db::audit::list(r, before, limit))
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| AuditEvent {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            address: e.address,
            // Written by `Actor::audit` from a JSON value; a row edited by hand shows as null.
            details: serde_json::from_str(&e.details).unwrap_or(Value::Null),
        })
        .collect())
}
