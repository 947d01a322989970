//! The admin dashboard's figures in one answer.

use crate::api::guard::Admin;
use crate::api::io::{Json, NoInput};
use crate::api::route::Cx;
use crate::core::{rfc3339, stats};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Serialize;

/// Everything the admin dashboard shows.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsOut {
    users: UserCountsOut,
    /// Every strategy instance with the number of its identities (those waiting for
    /// registration included), oldest instance first.
    identities: Vec<InstanceCountOut>,
    /// Sessions that have not ended or expired.
    active_sessions: i64,
    logins: LoginsOut,
    /// The published signing keys, newest first.
    signing_keys: Vec<KeyAgeOut>,
    /// As `keyward --version` prints it.
    version: String,
    /// The database file and its write-ahead log, in bytes.
    database_bytes: i64,
    /// When the server process started.
    started_at: String,
    /// When these figures were read.
    time: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserCountsOut {
    total: i64,
    admins: i64,
    blocked: i64,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceCountOut {
    id: String,
    name: Option<String>,
    /// The strategy kind.
    #[serde(rename = "type")]
    kind: String,
    count: i64,
}

/// Logins through the login page, the token endpoint and upstream providers, by outcome, since
/// `countingSince`. Counted in memory by this server process, in hours.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginsOut {
    success: u64,
    /// Refused: wrong credentials, a blocked account or login method.
    failure: u64,
    /// Refused by the throttle before any check.
    throttled: u64,
    /// Where the window starts: the start of the hour 23 hours before this one, or the time
    /// this process began counting when that is later.
    counting_since: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyAgeOut {
    kid: String,
    alg: String,
    created_at: String,
    /// Whole seconds since the key was made.
    age_seconds: i64,
    /// Whether new tokens are signed with it.
    signing: bool,
}

pub(super) async fn get(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<StatsOut>> {
    let s = stats::read(&cx.app, &p.actor(None)).await?;
    Ok(Json(StatsOut {
        users: UserCountsOut {
            total: s.users.total,
            admins: s.users.admins,
            blocked: s.users.blocked,
        },
        identities: s
            .instances
            .into_iter()
            .map(|i| InstanceCountOut {
                id: i.id,
                name: i.name,
                kind: i.kind,
                count: i.identities,
            })
            .collect(),
        active_sessions: s.active_sessions,
        logins: LoginsOut {
            success: s.logins.success,
            failure: s.logins.failure,
            throttled: s.logins.throttled,
            counting_since: rfc3339(s.logins.since),
        },
        signing_keys: s
            .keys
            .iter()
            .map(|k| KeyAgeOut {
                kid: k.kid.clone(),
                alg: k.alg.clone(),
                created_at: rfc3339(k.created_at),
                age_seconds: (s.now - k.created_at).max(0) / 1000,
                signing: k.signing,
            })
            .collect(),
        version: format!("keyward {}", env!("KEYWARD_VERSION")),
        database_bytes: s.db_bytes,
        started_at: rfc3339(cx.app.metrics.started() * 1000),
        time: rfc3339(s.now),
    }))
}
