//! Caches of what the database said. An entry counts only while this process has committed no
//! write since it was read (any write may have changed it) and for at most `FRESH_FOR`, which
//! bounds how long a change made by another process (the CLI, another node) goes unseen. They
//! serve the hot read paths: a Bearer token's liveness, client authentication and the shared
//! client-credentials session; in a burst of such requests no write happens and the database
//! is not asked again.

use super::Db;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FRESH_FOR: Duration = Duration::from_secs(1);
const MAX_ENTRIES: usize = 50_000;

pub struct Snapshots<K, V> {
    map: Mutex<HashMap<K, (u64, Instant, V)>>,
}

impl<K, V> Default for Snapshots<K, V> {
    fn default() -> Self {
        Snapshots {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Snapshots<K, V> {
    pub fn get(&self, db: &Db, key: &K) -> Option<V> {
        let generation = db.generation();
        let map = self.map.lock().expect("snapshot lock");
        map.get(key)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < FRESH_FOR)
            .map(|(_, _, v)| v.clone())
    }

    /// Keeps `value`, read after `generation` was taken: a write that committed meanwhile
    /// makes it stale at once.
    pub fn put(&self, generation: u64, key: K, value: V) {
        let mut map = self.map.lock().expect("snapshot lock");
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (generation, Instant::now(), value));
    }
}
