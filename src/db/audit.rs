//! The audit log: one row for every privileged change.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::params;
use serde_json::Value;

pub struct Event<'a> {
    /// Who: a user id, or `cli` / `setup` / `system`.
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub address: Option<&'a str>,
    pub details: Value,
}

pub fn record(c: &Write, e: &Event) -> Result<()> {
    c.execute(
        "INSERT INTO audit_events (at, actor, action, target, address, details)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            c.now,
            e.actor,
            e.action,
            e.target,
            e.address,
            e.details.to_string()
        ],
    )?;
    Ok(())
}

pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub details: String,
}

/// The newest events first, older than `before` (an event id) when given.
pub fn list(c: &Read, before: Option<i64>, limit: u32) -> Result<Vec<EventRow>> {
    let mut st = c.prepare_cached(
        "SELECT id, at, actor, action, target, address, details FROM audit_events
         WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
        Ok(EventRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            address: r.get(5)?,
            details: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
