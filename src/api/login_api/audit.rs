//! The audit log (admins only).

use super::limit;
use crate::api::guard::Admin;
use crate::api::io::{Json, NoInput, Query};
use crate::api::route::Cx;
use crate::core::{audit, parse_rfc3339, rfc3339};
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /audit` query.
#[derive(Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// Only events older than this event id (the `id` of the last event of the page before).
    before: Option<i64>,
    /// 1 to 500; default 100.
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
    /// Only events this id did or that are about it: a user id (as actor or target), or
    /// `cli` / `setup` / `system`.
    user: Option<String>,
    /// Only this action (`user.create`), or the actions that start with a prefix ending in
    /// `.` (`user.`).
    action: Option<String>,
    /// Only events at or after this time (RFC 3339).
    from: Option<String>,
    /// Only events at or before this time (RFC 3339).
    to: Option<String>,
}

/// One privileged change.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventOut {
    id: i64,
    time: String,
    /// A user id, or `cli` / `setup` / `system`.
    actor: String,
    /// E.g. `user.create`.
    action: String,
    target: Option<String>,
    /// The client address of the request.
    address: Option<String>,
    /// What changed; depends on the action.
    details: Value,
    /// The actor's username, when the actor is a user that still exists.
    actor_name: Option<String>,
    /// The target's username, when the target is a user that still exists.
    target_name: Option<String>,
}

/// An RFC 3339 time of the query as Unix milliseconds; a 400 naming `field` otherwise.
fn time(field: &str, v: Option<String>) -> Result<Option<i64>> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_rfc3339(&s).map(Some).ok_or_else(|| {
            Error::field(field, "must be an RFC 3339 time like 2025-04-20T18:05:34Z")
        }),
    }
}

pub(super) async fn list(
    cx: Cx,
    Admin(p): Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEventOut>>> {
    let limit = limit(q.limit, 100)?;
    let query = audit::Query {
        user: q.user.filter(|u| !u.is_empty()),
        action: q.action.filter(|a| !a.is_empty()),
        from: time("from", q.from)?,
        to: time("to", q.to)?,
        before: q.before,
    };
    let rows = audit::list(&cx.app, &p.actor(None), query, limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|e| AuditEventOut {
                id: e.id,
                time: rfc3339(e.at),
                actor: e.actor,
                action: e.action,
                target: e.target,
                address: e.address,
                details: e.details,
                actor_name: e.actor_name,
                target_name: e.target_name,
            })
            .collect(),
    ))
}

pub(super) async fn actions(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<Vec<String>>> {
    Ok(Json(audit::actions(&cx.app, &p.actor(None)).await?))
}
