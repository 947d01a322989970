//! The admin dashboard's figures, in one read transaction.

use super::Actor;
use crate::App;
use crate::db;
use crate::error::{Error, Result};
use crate::metrics::RecentCounts;

pub struct Stats {
    pub users: db::stats::UserCounts,
    pub instances: Vec<db::stats::InstanceCount>,
    pub active_sessions: i64,
    pub logins: RecentCounts,
    /// The published keys, newest first.
    pub keys: Vec<super::keys::KeyView>,
    pub db_bytes: i64,
    /// When the figures were read (Unix milliseconds), for the keys' ages.
    pub now: i64,
}

/// Everything the dashboard shows (admins only).
pub async fn read(app: &App, actor: &Actor) -> Result<Stats> {
    if !actor.is_admin {
        return Err(Error::forbidden("only admins may see the figures"));
    }
    let logins = app.metrics.recent_logins(db::now_ms());
    app.db
        .read(move |r| {
            let keys = super::keys::views(db::keys::list_info(r, 100)?, r.now)
                .into_iter()
                .filter(|k| k.published)
                .collect();
            Ok(Stats {
                users: db::stats::users(r)?,
                instances: db::stats::identities_per_instance(r)?,
                active_sessions: db::sessions::count_live(r, r.now)?,
                logins,
                keys,
                db_bytes: db::stats::size_on_disk(r)?,
                now: r.now,
            })
        })
        .await
}
