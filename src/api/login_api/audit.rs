//! The audit log (admins only).

use super::limit;
use crate::api::guard::Admin;
use crate::api::io::{Json, Query};
use crate::api::route::Cx;
use crate::core::{audit, rfc3339};
use crate::error::Result;
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
}

/// One privileged change.
#[derive(Serialize, JsonSchema)]
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
}

pub(super) async fn list(
    cx: Cx,
    Admin(p): Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEventOut>>> {
    let limit = limit(q.limit, 100)?;
    let rows = audit::list(&cx.app, &p.actor(None), q.before, limit).await?;
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
            })
            .collect(),
    ))
}
