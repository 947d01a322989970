//! The audit log as admins read it.

use super::Actor;
use crate::App;
use crate::db::{self, audit::Driver};
use crate::error::{Error, Result};
use serde_json::Value;

/// The actions keyward records, so that a filter can offer them before any has happened.
/// `actions` adds any other action found in the log (one written by an older version).
pub const ACTIONS: &[&str] = &[
    "client.create",
    "client.delete",
    "client.update",
    "client-secret.create",
    "client-secret.delete",
    "identity.admin-link",
    "identity.detach",
    "identity.self-link",
    "identity.unlink",
    "identity.upstream-link",
    "key.rotate",
    "login-data.password",
    "passkey.add",
    "passkey.link",
    "passkey.login",
    "passkey.remove",
    "passkey.rename",
    "session.end",
    "strategy-instance.create",
    "strategy-instance.delete",
    "strategy-instance.update",
    "token.issue",
    "user.create",
    "user.delete",
    "user.merge",
    "user.revoke-tokens",
    "user.update",
    "users.export",
    "users.import",
];

/// One audit event, its details parsed.
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub details: Value,
    pub actor_name: Option<String>,
    pub target_name: Option<String>,
}

/// Which events a page holds; every part is optional.
#[derive(Default, Debug, Clone)]
pub struct Query {
    /// Events this id (a user id, or `cli` / `setup` / `system`) did or that are about it.
    pub user: Option<String>,
    /// An exact action, or a prefix ending in `.` (`user.`).
    pub action: Option<String>,
    /// Unix milliseconds, both inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only events older than this event id.
    pub before: Option<i64>,
}

/// The newest events first that match `q` (admins only). Each part of the filter walks an
/// index in id order: a user its actor and target indexes, an action the action index (a
/// prefix: one walk per action it covers), a time range only bounds the ids. The walks' pages
/// are merged here; all of it reads one snapshot.
pub async fn list(app: &App, actor: &Actor, q: Query, limit: u32) -> Result<Vec<AuditEvent>> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may read the audit log"));
    }
    let rows = app
        .db
        .read(move |r| {
            let (lo, hi) = db::audit::id_bounds(r, q.from, q.to)?;
            let prefix = q.action.as_deref().is_some_and(|a| a.ends_with('.'));
            let f = db::audit::Filter {
                // Below both the cursor and the newest event of the time range.
                before: match (q.before, hi) {
                    (Some(b), Some(h)) => Some(b.min(h.saturating_add(1))),
                    (b, h) => b.or(h.map(|h| h.saturating_add(1))),
                },
                min_id: lo,
                from: q.from,
                to: q.to,
                action: q.action.clone(),
                action_prefix: prefix,
            };
            let mut rows = Vec::new();
            if let Some(u) = &q.user {
                rows.extend(db::audit::page(r, Driver::Actor, Some(u), &f, limit)?);
                rows.extend(db::audit::page(r, Driver::Target, Some(u), &f, limit)?);
            } else if let Some(a) = &q.action {
                let exact = if prefix {
                    db::audit::actions(r)?
                        .into_iter()
                        .filter(|x| x.starts_with(a.as_str()))
                        .collect()
                } else {
                    vec![a.clone()]
                };
                for x in exact {
                    rows.extend(db::audit::page(r, Driver::Action, Some(&x), &f, limit)?);
                }
            } else {
                rows = db::audit::page(r, Driver::All, None, &f, limit)?;
            }
            rows.sort_by_key(|e| std::cmp::Reverse(e.id));
            // An event whose actor is also its target came from both walks.
            rows.dedup_by_key(|e| e.id);
            rows.truncate(limit as usize);
            Ok(rows)
        })
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
            actor_name: e.actor_name,
            target_name: e.target_name,
        })
        .collect())
}

/// Every action a filter may name: those keyward records and those in the log, in order
/// (admins only).
pub async fn actions(app: &App, actor: &Actor) -> Result<Vec<String>> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may read the audit log"));
    }
    let mut all = app.db.read(db::audit::actions).await?;
    all.extend(ACTIONS.iter().map(|a| a.to_string()));
    all.sort();
    all.dedup();
    Ok(all)
}
