//! Brute-force throttling of password and code checks, in memory.
//!
//! Per identity: the first `FREE_FAILURES` consecutive failures are answered normally; after
//! that every attempt is refused, before any hash is computed, until a delay has passed that
//! starts at 1 s and doubles with each further failure, up to 15 minutes. A success resets it.
//! Per client address: more than `ADDRESS_FAILURES` failures within a minute, across
//! usernames, refuses further attempts until the oldest of them is a minute old. A refused
//! attempt is not itself a failure.

use crate::error::{Error, Kind, Result};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FREE_FAILURES: u32 = 5;
pub const ADDRESS_FAILURES: usize = 30;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked keys, stale ones are dropped so memory stays bounded.
const PRUNE_AT: usize = 100_000;

struct Streak {
    failures: u32,
    last: Instant,
}

#[derive(Default)]
pub struct Throttle {
    keys: Mutex<HashMap<String, Streak>>,
    addresses: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn delay(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << exp).min(MAX_DELAY)
}

fn too_many(wait: Duration) -> Error {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let unit = if secs == 1 { "second" } else { "seconds" };
    Error::new(
        Kind::TooManyRequests(secs),
        format!("Too many failed attempts. Try again in {secs} {unit}."),
    )
    .with_code("slow_down")
}

impl Throttle {
    /// Refuses with 429 while `key` or `addr` is throttled.
    pub fn check(&self, key: &str, addr: Option<IpAddr>) -> Result<()> {
        let now = Instant::now();
        if let Some(s) = self.keys.lock().expect("throttle lock").get(key) {
            let until = s.last + delay(s.failures);
            if until > now {
                return Err(too_many(until - now));
            }
        }
        if let Some(ip) = addr
            && let Some(q) = self.addresses.lock().expect("throttle lock").get_mut(&ip)
        {
            while q.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
                q.pop_front();
            }
            if q.len() >= ADDRESS_FAILURES {
                let oldest = *q.front().expect("non-empty");
                return Err(too_many(WINDOW.saturating_sub(now.duration_since(oldest))));
            }
        }
        Ok(())
    }

    pub fn failure(&self, key: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        {
            let mut keys = self.keys.lock().expect("throttle lock");
            if keys.len() >= PRUNE_AT {
                keys.retain(|_, s| now.duration_since(s.last) < MAX_DELAY);
            }
            let s = keys.entry(key.to_string()).or_insert(Streak {
                failures: 0,
                last: now,
            });
            s.failures = s.failures.saturating_add(1);
            s.last = now;
        }
        if let Some(ip) = addr {
            let mut addrs = self.addresses.lock().expect("throttle lock");
            if addrs.len() >= PRUNE_AT {
                addrs.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            }
            let q = addrs.entry(ip).or_default();
            q.push_back(now);
            if q.len() > ADDRESS_FAILURES * 2 {
                q.pop_front();
            }
        }
    }

    pub fn success(&self, key: &str) {
        self.keys.lock().expect("throttle lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_five_and_double() {
        assert_eq!(delay(4), Duration::ZERO);
        assert_eq!(delay(5), Duration::from_secs(1));
        assert_eq!(delay(6), Duration::from_secs(2));
        assert_eq!(delay(9), Duration::from_secs(16));
        assert_eq!(delay(40), MAX_DELAY);
    }

    #[test]
    fn sixth_attempt_is_refused_and_success_resets() {
        let t = Throttle::default();
        for _ in 0..5 {
            t.check("k", None).unwrap();
            t.failure("k", None);
        }
        let e = t.check("k", None).unwrap_err();
        assert_eq!(e.status(), 429);
        t.success("k");
        t.check("k", None).unwrap();
    }

    #[test]
    fn an_address_is_limited_across_keys() {
        let t = Throttle::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..ADDRESS_FAILURES {
            t.check(&format!("user{i}"), Some(ip)).unwrap();
            t.failure(&format!("user{i}"), Some(ip));
        }
        assert_eq!(t.check("fresh", Some(ip)).unwrap_err().status(), 429);
        t.check("fresh", Some("10.0.0.2".parse().unwrap())).unwrap();
    }
}
