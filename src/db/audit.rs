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
    /// The username of the actor / target when it is the id of a user that still exists.
    pub actor_name: Option<String>,
    pub target_name: Option<String>,
}

/// Which index a filtered page walks: each is a range in id order, so a page of the newest
/// events costs the same at a million events as at a hundred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// The table itself, by id.
    All,
    /// `audit_events_actor`: the events of one actor.
    Actor,
    /// `audit_events_target`: the events about one target.
    Target,
    /// `audit_events_action`: the events of one action.
    Action,
}

/// What a page is restricted to besides its driver: all of it checked on each row the
/// driving index yields.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only events with an id below this (the `before` cursor) and at or above `min_id`.
    pub before: Option<i64>,
    pub min_id: Option<i64>,
    /// Unix milliseconds, both inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// An exact action, or a prefix (ending in `.`) when `action_prefix`.
    pub action: Option<String>,
    pub action_prefix: bool,
}

const EVENT_COLS: &str = "e.id, e.at, e.actor, e.action, e.target, e.address, e.details,
    (SELECT username FROM users WHERE id = e.actor),
    (SELECT username FROM users WHERE id = e.target)";

/// The SQL of one driven page: `?1` the driver's key, `?2` before, `?3` min id, `?4` from,
/// `?5` to, `?6` the action (exact) or `?6`/`?7` its prefix range, `?8` the limit.
fn page_sql(driver: Driver, f: &Filter) -> String {
    let (from, key) = match driver {
        Driver::All => ("audit_events e NOT INDEXED", "?1 IS NULL"),
        Driver::Actor => (
            "audit_events e INDEXED BY audit_events_actor",
            "e.actor = ?1",
        ),
        Driver::Target => (
            "audit_events e INDEXED BY audit_events_target",
            "e.target = ?1",
        ),
        Driver::Action => (
            "audit_events e INDEXED BY audit_events_action",
            "e.action = ?1",
        ),
    };
    let mut sql = format!(
        "SELECT {EVENT_COLS} FROM {from} WHERE {key} AND e.id < ?2 AND e.id >= ?3
         AND e.at >= ?4 AND e.at <= ?5"
    );
    match (&f.action, f.action_prefix, driver) {
        (Some(_), _, Driver::Action) | (None, _, _) => {}
        (Some(_), false, _) => sql.push_str(" AND e.action = ?6"),
        (Some(_), true, _) => sql.push_str(" AND e.action >= ?6 AND e.action < ?7"),
    }
    sql.push_str(" ORDER BY e.id DESC LIMIT ?8");
    sql
}

/// One page of events newest first, walking `driver`'s index from `key` (ignored for `All`).
pub fn page(
    c: &Read,
    driver: Driver,
    key: Option<&str>,
    f: &Filter,
    limit: u32,
) -> Result<Vec<EventRow>> {
    let mut st = c.prepare_cached(&page_sql(driver, f))?;
    let action = f.action.clone().unwrap_or_default();
    // The end of a prefix range: `user.` → `user/` (the character after `.`).
    let action_end = format!("{}/", action.strip_suffix('.').unwrap_or(&action));
    let mut q = st.query(params![
        key,
        f.before.unwrap_or(i64::MAX),
        f.min_id.unwrap_or(i64::MIN),
        f.from.unwrap_or(i64::MIN),
        f.to.unwrap_or(i64::MAX),
        action,
        action_end,
        limit
    ])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        out.push(EventRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            address: r.get(5)?,
            details: r.get(6)?,
            actor_name: r.get(7)?,
            target_name: r.get(8)?,
        });
    }
    Ok(out)
}

/// The newest events first, older than `before` (an event id) when given.
pub fn list(c: &Read, before: Option<i64>, limit: u32) -> Result<Vec<EventRow>> {
    let f = Filter {
        before,
        ..Filter::default()
    };
    page(c, Driver::All, None, &f, limit)
}

/// The id range of the events of a time range, found on `audit_events_at`: the lowest id at or
/// after `from`, the highest at or before `to`. An event's time is taken under the database's
/// write lock, so times rise with ids and the range holds exactly the events of that time.
pub fn id_bounds(
    c: &Read,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<(Option<i64>, Option<i64>)> {
    use rusqlite::OptionalExtension;
    let lo = match from {
        None => None,
        Some(t) => Some(
            c.prepare_cached("SELECT id FROM audit_events WHERE at >= ?1 ORDER BY at, id LIMIT 1")?
                .query_row([t], |r| r.get(0))
                .optional()?
                .unwrap_or(i64::MAX),
        ),
    };
    let hi = match to {
        None => None,
        Some(t) => Some(
            c.prepare_cached(
                "SELECT id FROM audit_events WHERE at <= ?1 ORDER BY at DESC, id DESC LIMIT 1",
            )?
            .query_row([t], |r| r.get(0))
            .optional()?
            .unwrap_or(i64::MIN),
        ),
    };
    Ok((lo, hi))
}

/// The distinct actions in the log, in order, each found with one seek on
/// `audit_events_action` (a loose index scan), so it costs the number of actions, not events.
pub fn actions(c: &Read) -> Result<Vec<String>> {
    let mut st = c.prepare_cached(
        "WITH RECURSIVE a(x) AS (
             SELECT (SELECT min(action) FROM audit_events)
             UNION ALL
             SELECT (SELECT min(action) FROM audit_events WHERE action > a.x) FROM a
             WHERE a.x IS NOT NULL
         ) SELECT x FROM a WHERE x IS NOT NULL",
    )?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `sql` on a fresh database of the newest schema, one line per step.
    fn plans(sqls: &[(String, usize)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::Db::open(&dir.path().join("k.db"), 1).unwrap();
        db.read_blocking(|r| {
            Ok(sqls
                .iter()
                .map(|(sql, n)| {
                    let mut st = r.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                    let nulls = vec![rusqlite::types::Null; *n];
                    st.query_map(rusqlite::params_from_iter(nulls), |row| {
                        row.get::<_, String>(3)
                    })
                    .unwrap()
                    .map(|l| l.unwrap())
                    .collect::<Vec<_>>()
                    .join(" | ")
                })
                .collect())
        })
        .unwrap()
    }

    /// Each filter walks an index range in id order: no step scans the table or sorts.
    #[test]
    fn every_filter_is_an_index_range_without_a_sort() {
        let exact = Filter {
            action: Some("user.create".into()),
            ..Filter::default()
        };
        let prefix = Filter {
            action: Some("user.".into()),
            action_prefix: true,
            ..Filter::default()
        };
        let cases = [
            (
                Driver::All,
                Filter::default(),
                "SEARCH e USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
            ),
            (
                Driver::Actor,
                exact.clone(),
                "SEARCH e USING INDEX audit_events_actor (actor=? AND id>? AND id<?)",
            ),
            (
                Driver::Target,
                prefix,
                "SEARCH e USING INDEX audit_events_target (target=? AND id>? AND id<?)",
            ),
            (
                Driver::Action,
                exact,
                "SEARCH e USING INDEX audit_events_action (action=? AND id>? AND id<?)",
            ),
        ];
        let sqls: Vec<_> = cases.iter().map(|(d, f, _)| (page_sql(*d, f), 8)).collect();
        for ((_, _, want), plan) in cases.iter().zip(plans(&sqls)) {
            assert!(plan.starts_with(want), "{plan}\nwant {want}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            // The usernames are found by primary key, once per event of the page.
            assert!(!plan.contains("SCAN"), "{plan}");
        }
        let others = plans(&[
            (
                "SELECT id FROM audit_events WHERE at >= ?1 ORDER BY at, id LIMIT 1".into(),
                1,
            ),
            (
                "SELECT id FROM audit_events WHERE at <= ?1 ORDER BY at DESC, id DESC LIMIT 1"
                    .into(),
                1,
            ),
            (
                "SELECT min(action) FROM audit_events WHERE action > ?1".into(),
                1,
            ),
            ("SELECT count(*) FROM users WHERE is_admin = 1".into(), 0),
            ("SELECT count(*) FROM users WHERE is_blocked = 1".into(), 0),
            (
                "SELECT count(*) FROM identities i WHERE i.instance_id = ?1".into(),
                1,
            ),
            (
                "SELECT count(*) FROM active_logins WHERE ended_at IS NULL
                 AND expires > ?1 AND absolute_expires > ?1"
                    .into(),
                1,
            ),
        ]);
        let want = [
            "SEARCH audit_events USING COVERING INDEX audit_events_at (at>?)",
            "SEARCH audit_events USING COVERING INDEX audit_events_at (at<?)",
            "SEARCH audit_events USING COVERING INDEX audit_events_action (action>?)",
            "SCAN users USING COVERING INDEX users_admins",
            "SCAN users USING COVERING INDEX users_blocked",
            "SEARCH i USING COVERING INDEX sqlite_autoindex_identities_2 (instance_id=?)",
            "SEARCH active_logins USING COVERING INDEX active_logins_live (expires>?)",
        ];
        for (plan, want) in others.iter().zip(want) {
            assert!(plan.starts_with(want), "{plan}\nwant {want}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
