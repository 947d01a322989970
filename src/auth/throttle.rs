//! Brute-force throttling of password and code checks, in memory (per process).
//!
//! An attempt counts from the moment it is let through (`begin`), not when its hash is done:
//! while it runs it counts like a failure, so of any number of simultaneous guesses only as
//! many are checked as failures would be allowed. Its verdict then settles it: a failure stays
//! counted, a success resets the identity's streak, and an attempt dropped without a verdict
//! (the request went away, the hash queue was full, an internal error) is not counted.
//!
//! Per identity: the first `FREE_FAILURES` consecutive failures are answered normally; after
//! that every attempt is refused, before any hash is computed, until a delay has passed that
//! starts at 1 s and doubles with each further failure, up to 15 minutes. A success resets it.
//! Per client address: more than `ADDRESS_FAILURES` failures within a minute, across
//! usernames, refuses further attempts until the oldest of them is a minute old. A refused
//! attempt is not itself a failure. New password identities are limited per address too:
//! `ADDRESS_CREATIONS` a minute, each counted when it is let through. Passkey logins that were
//! started and not finished are limited per address too (`ADDRESS_PENDING_CEREMONIES` within
//! a ceremony's lifetime): each start writes a ceremony row before anyone is signed in, and a
//! finish (let through, so itself throttled) settles one. IPv6 addresses count per /64, which
//! one subscriber usually holds whole.

use crate::error::{Error, Reason, Result};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FREE_FAILURES: u32 = 5;
pub const ADDRESS_FAILURES: usize = 30;
pub const ADDRESS_CREATIONS: usize = 30;
/// Generous: the login page starts one for passkey autofill on every view, and only a few of
/// them end in a passkey login.
pub const ADDRESS_PENDING_CEREMONIES: usize = 300;
/// How long a started passkey login counts as pending: its ceremony's lifetime.
const CEREMONY_LIFETIME: Duration = Duration::from_secs(5 * 60);
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
const WINDOW: Duration = Duration::from_secs(60);
/// Past this many tracked keys, stale ones are dropped so memory stays bounded.
const PRUNE_AT: usize = 100_000;

/// An identity's consecutive failures, and its attempts still running.
struct Streak {
    failures: u32,
    last_failure: Instant,
    in_flight: u32,
    last_begin: Instant,
}

impl Streak {
    /// How long a new attempt must wait: running attempts count as failures made when they
    /// began.
    fn wait(&self, now: Instant) -> Option<Duration> {
        let d = delay(self.failures.saturating_add(self.in_flight));
        let since = if self.in_flight > 0 {
            self.last_failure.max(self.last_begin)
        } else {
            self.last_failure
        };
        let until = since + d;
        (until > now).then(|| until - now)
    }

    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && (self.failures == 0 || now.duration_since(self.last_failure) >= MAX_DELAY)
    }
}

/// What one address did within the last minute, and its attempts still running.
#[derive(Default)]
struct Window {
    events: VecDeque<Instant>,
    in_flight: usize,
}

impl Window {
    fn prune(&mut self, now: Instant) {
        while self
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.events.pop_front();
        }
    }

    /// How long a new attempt must wait under `limit`.
    fn wait(&mut self, now: Instant, limit: usize) -> Option<Duration> {
        self.prune(now);
        let used = self.events.len() + self.in_flight;
        if used < limit {
            return None;
        }
        // A place frees when enough events have aged out of the window; while attempts run,
        // one frees when they finish, which is about a hash from now.
        Some(match self.events.get(used - limit) {
            Some(t) => WINDOW.saturating_sub(now.duration_since(*t)),
            None => Duration::from_secs(1),
        })
    }

    fn record(&mut self, now: Instant, limit: usize) {
        self.events.push_back(now);
        // Older events cannot matter once `limit` newer ones exist.
        while self.events.len() > limit {
            self.events.pop_front();
        }
    }

    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self
                .events
                .back()
                .is_none_or(|t| now.duration_since(*t) >= WINDOW)
    }
}

#[derive(Default)]
pub struct Throttle {
    keys: Mutex<HashMap<String, Streak>>,
    /// Failed password checks by address (bucket).
    addresses: Mutex<HashMap<IpAddr, Window>>,
    /// New password identities by address (bucket).
    creations: Mutex<HashMap<IpAddr, Window>>,
    /// Start times of passkey logins not yet finished, by address (bucket).
    ceremonies: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn delay(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << exp).min(MAX_DELAY)
}

fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn too_many(wait: Duration, what: &str) -> Error {
    let secs = whole_seconds(wait);
    let unit = if secs == 1 { "second" } else { "seconds" };
    Error::new(
        Reason::Throttled(secs),
        format!("{what} Try again in {secs} {unit}."),
    )
}

const FAILED: &str = "Too many failed attempts.";

/// The unit an address is counted in: itself for IPv4, its /64 for IPv6 (an IPv4 address
/// mapped into IPv6 is the IPv4 address).
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

fn prune<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    now: Instant,
    idle: impl Fn(&V, Instant) -> bool,
) {
    if map.len() >= PRUNE_AT {
        map.retain(|_, v| !idle(v, now));
    }
}

/// A password check let through. Give it its verdict with `failed` or `succeeded`; dropped
/// without one, it is released and not counted.
#[must_use = "an attempt counts until it is settled or dropped"]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    key: String,
    addr: Option<IpAddr>,
    open: bool,
}

impl Attempt<'_> {
    /// The password was wrong: the failure stays counted for the identity and the address.
    pub fn failed(mut self) {
        self.open = false;
        self.throttle.settle(&self.key, self.addr, Some(false));
    }

    /// The password was right: the identity's streak starts over.
    pub fn succeeded(mut self) {
        self.open = false;
        self.throttle.settle(&self.key, self.addr, Some(true));
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.open {
            self.throttle.settle(&self.key, self.addr, None);
        }
    }
}

impl Throttle {
    /// Lets a password check for `key` from `addr` through, or refuses it with 429 while the
    /// identity or the address is throttled. The attempt counts from now on.
    pub fn begin(&self, key: &str, addr: Option<IpAddr>) -> Result<Attempt<'_>> {
        let now = Instant::now();
        let addr = addr.map(bucket);
        // Both locks at once (always keys first), so that the checks and the reservation of
        // both counters are one step.
        let mut keys = self.keys.lock().expect("throttle lock");
        let mut addrs = self.addresses.lock().expect("throttle lock");
        prune(&mut keys, now, Streak::idle);
        prune(&mut addrs, now, Window::idle);
        if let Some(wait) = keys.get(key).and_then(|s| s.wait(now)) {
            return Err(too_many(wait, FAILED));
        }
        if let Some(ip) = addr
            && let Some(wait) = addrs
                .get_mut(&ip)
                .and_then(|w| w.wait(now, ADDRESS_FAILURES))
        {
            return Err(too_many(wait, FAILED));
        }
        let s = keys.entry(key.to_string()).or_insert(Streak {
            failures: 0,
            last_failure: now,
            in_flight: 0,
            last_begin: now,
        });
        s.in_flight += 1;
        s.last_begin = now;
        if let Some(ip) = addr {
            addrs.entry(ip).or_default().in_flight += 1;
        }
        Ok(Attempt {
            throttle: self,
            key: key.to_string(),
            addr,
            open: true,
        })
    }

    fn settle(&self, key: &str, addr: Option<IpAddr>, verdict: Option<bool>) {
        let now = Instant::now();
        let mut keys = self.keys.lock().expect("throttle lock");
        let mut addrs = self.addresses.lock().expect("throttle lock");
        if let Some(s) = keys.get_mut(key) {
            s.in_flight = s.in_flight.saturating_sub(1);
            match verdict {
                Some(false) => {
                    s.failures = s.failures.saturating_add(1);
                    s.last_failure = now;
                }
                Some(true) => s.failures = 0,
                None => {}
            }
            if s.in_flight == 0 && s.failures == 0 {
                keys.remove(key);
            }
        }
        if let Some(ip) = addr
            && let Some(w) = addrs.get_mut(&ip)
        {
            w.in_flight = w.in_flight.saturating_sub(1);
            if verdict == Some(false) {
                w.record(now, ADDRESS_FAILURES);
            }
        }
    }

    /// Counts a new password identity from `addr`, or refuses it with 429 when the address
    /// made `ADDRESS_CREATIONS` within the last minute. It counts as soon as it is let
    /// through, whatever becomes of it.
    pub fn creation(&self, addr: Option<IpAddr>) -> Result<()> {
        let Some(ip) = addr.map(bucket) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut map = self.creations.lock().expect("throttle lock");
        prune(&mut map, now, Window::idle);
        let w = map.entry(ip).or_default();
        if let Some(wait) = w.wait(now, ADDRESS_CREATIONS) {
            return Err(too_many(wait, "Too many new logins from this address."));
        }
        w.record(now, ADDRESS_CREATIONS);
        Ok(())
    }

    /// Counts a passkey login started from `addr`, or refuses it with 429 while the address
    /// has `ADDRESS_PENDING_CEREMONIES` started and not finished.
    pub fn ceremony_started(&self, addr: Option<IpAddr>) -> Result<()> {
        let Some(ip) = addr.map(bucket) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut map = self.ceremonies.lock().expect("throttle lock");
        let live = |q: &mut VecDeque<Instant>| {
            while q
                .front()
                .is_some_and(|t| now.duration_since(*t) >= CEREMONY_LIFETIME)
            {
                q.pop_front();
            }
        };
        if map.len() >= PRUNE_AT {
            map.retain(|_, q| {
                live(q);
                !q.is_empty()
            });
        }
        let q = map.entry(ip).or_default();
        live(q);
        if q.len() >= ADDRESS_PENDING_CEREMONIES {
            let wait = CEREMONY_LIFETIME.saturating_sub(now.duration_since(q[0]));
            return Err(too_many(
                wait,
                "Too many passkey sign-ins from this address.",
            ));
        }
        q.push_back(now);
        Ok(())
    }

    /// A passkey login from `addr` was finished (let through, whatever its verdict): one of
    /// its pending starts is settled.
    pub fn ceremony_finished(&self, addr: Option<IpAddr>) {
        if let Some(ip) = addr.map(bucket) {
            let mut map = self.ceremonies.lock().expect("throttle lock");
            if let Some(q) = map.get_mut(&ip) {
                q.pop_front();
                if q.is_empty() {
                    map.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_passkey_logins_are_capped_per_address_and_finishing_frees_them() {
        let t = Throttle::default();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let b: IpAddr = "192.0.2.8".parse().unwrap();
        for _ in 0..ADDRESS_PENDING_CEREMONIES {
            t.ceremony_started(Some(a)).unwrap();
        }
        let e = t.ceremony_started(Some(a)).unwrap_err();
        assert!(matches!(e.reason, Reason::Throttled(s) if s > 0));
        // Another address has its own budget; a finish frees one start.
        t.ceremony_started(Some(b)).unwrap();
        t.ceremony_finished(Some(a));
        t.ceremony_started(Some(a)).unwrap();
        assert!(t.ceremony_started(Some(a)).is_err());
        // Without an address (not over TCP) nothing is counted.
        t.ceremony_started(None).unwrap();
    }

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
            t.begin("k", None).unwrap().failed();
        }
        let e = t.begin("k", None).err().unwrap();
        assert!(matches!(e.reason, Reason::Throttled(_)));
        // A success (here of an attempt let through before the streak) resets it.
        let t = Throttle::default();
        let early = t.begin("k", None).unwrap();
        for _ in 0..4 {
            t.begin("k", None).unwrap().failed();
        }
        assert!(t.begin("k", None).is_err());
        early.succeeded();
        t.begin("k", None).unwrap().failed();
    }

    #[test]
    fn attempts_in_flight_count_like_failures() {
        let t = Throttle::default();
        let running: Vec<_> = (0..5).map(|_| t.begin("k", None).unwrap()).collect();
        // Five are running: a sixth is refused before any hash, for at least a second.
        match t.begin("k", None) {
            Err(e) => assert_eq!(e.reason, Reason::Throttled(1)),
            Ok(_) => panic!("a sixth simultaneous attempt was let through"),
        }
        // Released without a verdict (cancelled, internal error): not counted.
        drop(running);
        let running: Vec<_> = (0..5).map(|_| t.begin("k", None).unwrap()).collect();
        for a in running {
            a.failed();
        }
        assert!(t.begin("k", None).is_err());
        // Other identities are not affected.
        t.begin("other", None).unwrap().succeeded();
    }

    #[test]
    fn an_address_is_limited_across_keys_and_in_flight_counts() {
        let t = Throttle::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let running: Vec<_> = (0..ADDRESS_FAILURES)
            .map(|i| t.begin(&format!("user{i}"), Some(ip)).unwrap())
            .collect();
        assert_eq!(
            t.begin("fresh", Some(ip)).err().unwrap().reason,
            Reason::Throttled(1)
        );
        t.begin("fresh", Some("10.0.0.2".parse().unwrap()))
            .unwrap()
            .failed();
        for a in running {
            a.failed();
        }
        let e = t.begin("fresh", Some(ip)).err().unwrap();
        assert!(matches!(e.reason, Reason::Throttled(s) if (59..=60).contains(&s)));
        // Successes do not spend the address's budget.
        let t = Throttle::default();
        for i in 0..ADDRESS_FAILURES * 2 {
            t.begin(&format!("user{i}"), Some(ip)).unwrap().succeeded();
        }
        t.begin("fresh", Some(ip)).unwrap().failed();
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        assert_eq!(bucket(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(bucket(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
        // One /64 shares one budget.
        let t = Throttle::default();
        for i in 0..ADDRESS_FAILURES {
            t.begin(&format!("user{i}"), Some(a)).unwrap().failed();
        }
        assert!(t.begin("fresh", Some(b)).is_err());
        t.begin("fresh", Some(c)).unwrap().failed();
    }

    #[test]
    fn creations_are_counted_when_let_through() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for _ in 0..ADDRESS_CREATIONS {
            t.creation(Some(ip)).unwrap();
        }
        let e = t.creation(Some(ip)).unwrap_err();
        assert!(matches!(e.reason, Reason::Throttled(s) if (59..=60).contains(&s)));
        t.creation(Some("192.0.2.10".parse().unwrap())).unwrap();
        t.creation(None).unwrap();
    }
}
