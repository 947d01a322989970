//! The Prometheus metrics of `GET /metrics`. Everything a request or a login touches is an
//! atomic counter reached without a lock: the request table is laid out once at start (one
//! slot per route template and method, allocated at its first use) and token counters are
//! handles made at start. Gauges (hash queue, sessions, database pool, memory) are read when
//! a scrape comes, so keeping them costs nothing between scrapes.
//!
//! Labels come from small fixed sets: route templates (never a raw path, so never an id),
//! eight method names, five status classes, the four grants, three login outcomes, and the
//! names of strategy instances (which admins make, a handful per installation).

use crate::strategies::Kind;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use warp::http::{Method, StatusCode};

/// The route label of a request no route matched: an unknown path, or one refused before
/// routing (a body too large, a body that is not JSON).
pub const UNMATCHED: &str = "unmatched";

const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Upper bounds of the latency buckets, in seconds: a token refresh takes well under a
/// millisecond, a password login tens of milliseconds, a queued one up to seconds.
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The grants of the token endpoint, the `grant` label of `keyward_tokens_issued_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    Password,
}

impl Grant {
    const ALL: [Grant; 4] = [
        Grant::AuthorizationCode,
        Grant::RefreshToken,
        Grant::ClientCredentials,
        Grant::Password,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
            Grant::Password => "password",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    strategy: &'static str,
    /// The instance's name; `unnamed` for an instance without one (its id is never a label).
    instance: String,
    outcome: &'static str,
}

fn login_labels(strategy: Kind, instance: Option<&str>, outcome: &'static str) -> LoginLabels {
    LoginLabels {
        strategy: strategy.as_str(),
        instance: instance.unwrap_or("unnamed").to_string(),
        outcome,
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant: &'static str,
}

/// What a scrape reads from the rest of the process just before it renders.
pub struct Readings {
    pub hashes_waiting: usize,
    pub hashes_running: usize,
    pub active_sessions: i64,
    pub pool_in_use: u32,
    pub pool_size: u32,
    /// The strategy instances, so that each of those whose logins are counted has its series
    /// from the start (at 0), not only after its first login.
    pub instances: Vec<(Kind, Option<String>)>,
}

/// The strategies whose logins are counted (`Metrics::login` is called on their paths).
const COUNTED: [Kind; 5] = [
    Kind::Userpass,
    Kind::Passkey,
    Kind::Github,
    Kind::Gitlab,
    Kind::Oidc,
];
const OUTCOMES: [&str; 3] = ["success", "failure", "throttled"];

pub struct Metrics {
    registry: Registry,
    requests: Arc<Requests>,
    logins: Family<LoginLabels, Counter>,
    /// One handle per grant, in the order of `Grant::ALL`.
    tokens: [Counter; 4],
    hashes_waiting: Gauge,
    hashes_running: Gauge,
    active_sessions: Gauge,
    pool_in_use: Gauge,
    pool_size: Gauge,
    resident_memory: Gauge,
    /// The same logins by hour, for the admin dashboard's "last 24 hours".
    recent: RecentLogins,
    /// When the process started, in Unix seconds.
    started: i64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// The metrics of a process whose routes have the templates `routes`.
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Metrics {
        let requests = Arc::new(Requests::new(routes));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(RequestsView(requests.clone())));
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "keyward_logins",
            "Logins by strategy, strategy instance and outcome (success, failure, throttled)",
            logins.clone(),
        );
        let grants = Family::<GrantLabels, Counter>::default();
        let tokens = Grant::ALL.map(|g| {
            grants
                .get_or_create(&GrantLabels { grant: g.as_str() })
                .clone()
        });
        registry.register(
            "keyward_tokens_issued",
            "Tokens issued by the token endpoint, by grant",
            grants,
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let hashes_waiting = gauge(
            &mut registry,
            "keyward_password_hashes_waiting",
            "Password hashes waiting for a hashing slot",
        );
        let hashes_running = gauge(
            &mut registry,
            "keyward_password_hashes_running",
            "Password hashes running now",
        );
        let active_sessions = gauge(
            &mut registry,
            "keyward_active_sessions",
            "Sessions that have not ended or expired",
        );
        let pool_in_use = gauge(
            &mut registry,
            "keyward_db_connections_in_use",
            "Database connections lent out of the pool",
        );
        let pool_size = gauge(
            &mut registry,
            "keyward_db_connections",
            "Database connections the pool holds (in use and idle)",
        );
        let resident_memory = gauge(
            &mut registry,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
        );
        let start = gauge(
            &mut registry,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
        );
        let started = process_start_time();
        start.set(started);
        Metrics {
            registry,
            requests,
            logins,
            tokens,
            hashes_waiting,
            hashes_running,
            active_sessions,
            pool_in_use,
            pool_size,
            resident_memory,
            recent: RecentLogins::new(crate::db::now_ms()),
            started,
        }
    }

    /// When the process started, in Unix seconds (`process_start_time_seconds`).
    pub fn started(&self) -> i64 {
        self.started
    }

    /// The logins of the last 24 hours by outcome, as counted in memory since this process
    /// began counting (see `RecentLogins`).
    pub fn recent_logins(&self, now_ms: i64) -> RecentCounts {
        self.recent.sum(now_ms)
    }

    /// One answered request: `route` is the template of the route that answered, None when
    /// none did.
    pub fn request(
        &self,
        route: Option<&str>,
        method: &Method,
        status: StatusCode,
        took: Duration,
    ) {
        self.requests.observe(route, method, status, took);
    }

    /// The end of a login on `strategy`'s instance named `instance`: success, a refusal
    /// (wrong credentials, a blocked account or login method) or throttled. Other errors (a
    /// bad request, a full hash queue, an internal failure) are no verdict on the login and
    /// are not counted here (they show in the request counts).
    pub fn login<T>(&self, strategy: Kind, instance: Option<&str>, r: &crate::error::Result<T>) {
        use crate::error::Reason;
        let outcome = match r {
            Ok(_) => "success",
            Err(e) => match e.reason {
                Reason::Throttled(_) => "throttled",
                Reason::WrongCredentials | Reason::Blocked | Reason::Forbidden => "failure",
                _ => return,
            },
        };
        self.logins
            .get_or_create(&login_labels(strategy, instance, outcome))
            .inc();
        self.recent.add(crate::db::now_ms(), outcome);
    }

    /// A token response of the token endpoint.
    pub fn token_issued(&self, grant: Grant) {
        if let Some(i) = Grant::ALL.iter().position(|g| *g == grant) {
            self.tokens[i].inc();
        }
    }

    /// The exposition (Prometheus text format 0.0.4) with the gauges set from `now`.
    pub fn render(&self, now: Readings) -> String {
        let int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.hashes_waiting.set(int(now.hashes_waiting));
        self.hashes_running.set(int(now.hashes_running));
        self.active_sessions.set(now.active_sessions);
        self.pool_in_use.set(i64::from(now.pool_in_use));
        self.pool_size.set(i64::from(now.pool_size));
        self.resident_memory.set(resident_memory());
        for (kind, name) in now.instances.iter().filter(|(k, _)| COUNTED.contains(k)) {
            for outcome in OUTCOMES {
                // Only made here (at 0); the guard is let go at once.
                drop(
                    self.logins
                        .get_or_create(&login_labels(*kind, name.as_deref(), outcome)),
                );
            }
        }
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a label.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        out
    }
}

const HOUR_MS: i64 = 3_600_000;

/// Logins by outcome in hourly buckets, the current hour and the 23 before it: a ring of 24,
/// each bucket tagged with its hour and emptied when the ring comes round to it again. Kept in
/// memory only (no database write per login), so the figures count from the process start.
struct RecentLogins {
    started_ms: i64,
    hours: std::sync::Mutex<[(i64, [u64; 3]); 24]>,
}

/// The logins of the window `since` .. now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentCounts {
    pub success: u64,
    pub failure: u64,
    pub throttled: u64,
    /// Unix milliseconds: the start of the oldest hour of the window, or the moment counting
    /// began when that is later (a process up for less than 24 hours).
    pub since: i64,
}

impl RecentLogins {
    fn new(now_ms: i64) -> RecentLogins {
        RecentLogins {
            started_ms: now_ms,
            hours: std::sync::Mutex::new([(i64::MIN, [0; 3]); 24]),
        }
    }

    fn add(&self, now_ms: i64, outcome: &str) {
        let Some(o) = OUTCOMES.iter().position(|x| *x == outcome) else {
            return;
        };
        let hour = now_ms.div_euclid(HOUR_MS);
        let mut hours = self.hours.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut hours[hour.rem_euclid(24) as usize];
        if slot.0 != hour {
            *slot = (hour, [0; 3]);
        }
        slot.1[o] += 1;
    }

    fn sum(&self, now_ms: i64) -> RecentCounts {
        let hour = now_ms.div_euclid(HOUR_MS);
        let mut n = [0u64; 3];
        for (h, counts) in self.hours.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if *h > hour - 24 && *h <= hour {
                for (total, c) in n.iter_mut().zip(counts) {
                    *total += c;
                }
            }
        }
        RecentCounts {
            success: n[0],
            failure: n[1],
            throttled: n[2],
            since: ((hour - 23) * HOUR_MS).max(self.started_ms),
        }
    }
}

/// Requests by route template and method: a slot each, made at its first request.
struct Requests {
    /// Route templates; index 0 is `UNMATCHED`.
    routes: Vec<&'static str>,
    index: HashMap<&'static str, usize>,
    slots: Vec<OnceLock<Box<Slot>>>,
}

#[derive(Default)]
struct Slot {
    by_class: [AtomicU64; 5],
    /// Per bucket (not cumulative), the last one past the largest bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Requests {
    fn new(templates: impl IntoIterator<Item = &'static str>) -> Requests {
        let mut routes = vec![UNMATCHED];
        let mut index = HashMap::new();
        for t in templates {
            if !index.contains_key(t) {
                index.insert(t, routes.len());
                routes.push(t);
            }
        }
        let slots = (0..routes.len() * METHODS.len())
            .map(|_| OnceLock::new())
            .collect();
        Requests {
            routes,
            index,
            slots,
        }
    }

    fn observe(&self, route: Option<&str>, method: &Method, status: StatusCode, took: Duration) {
        let r = route.and_then(|t| self.index.get(t)).copied().unwrap_or(0);
        let m = METHODS
            .iter()
            .position(|n| *n == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        let Some(cell) = self.slots.get(r * METHODS.len() + m) else {
            return;
        };
        let slot = cell.get_or_init(Box::default);
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        slot.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        let b = BOUNDS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BOUNDS.len());
        slot.buckets[b].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        slot.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The slots in use, with their route template and method.
    fn used(&self) -> impl Iterator<Item = (&'static str, &'static str, &Slot)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let slot = s.get()?;
            Some((
                self.routes[i / METHODS.len()],
                METHODS[i % METHODS.len()],
                &**slot,
            ))
        })
    }
}

#[derive(Debug)]
struct RequestsView(Arc<Requests>);

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Requests")
    }
}

impl Collector for RequestsView {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut counts = encoder.encode_descriptor(
            "keyward_http_requests",
            "HTTP requests by route template, method and status class",
            None,
            MetricType::Counter,
        )?;
        for (route, method, slot) in self.0.used() {
            for (class, n) in CLASSES.iter().zip(&slot.by_class) {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let labels = [("route", route), ("method", method), ("status", class)];
                    counts
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                }
            }
        }
        let mut latency = encoder.encode_descriptor(
            "keyward_http_request_duration_seconds",
            "HTTP request latency by route template and method, from the request read to the answer",
            None,
            MetricType::Histogram,
        )?;
        for (route, method, slot) in self.0.used() {
            let mut buckets = Vec::with_capacity(BOUNDS.len() + 1);
            let mut count = 0;
            for (i, b) in slot.buckets.iter().enumerate() {
                let n = b.load(Ordering::Relaxed);
                count += n;
                buckets.push((BOUNDS.get(i).copied().unwrap_or(f64::INFINITY), n));
            }
            let sum = slot.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let labels = [("route", route), ("method", method)];
            latency
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// The resident set size, from /proc (0 where there is none).
fn resident_memory() -> i64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> i64 {
    #[cfg(unix)]
    // SAFETY: sysconf only reads a system constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    #[cfg(not(unix))]
    let n = 4096;
    if n > 0 { n as i64 } else { 4096 }
}

/// When the process started, in Unix seconds: its start in clock ticks after boot (from
/// /proc/self/stat) plus the boot time; the time of this call where /proc has neither.
fn process_start_time() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let from_proc = || -> Option<i64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) may hold spaces: fields are counted after its `)`.
        let after = stat.rsplit_once(')')?.1;
        let ticks: i64 = after.split_whitespace().nth(19)?.parse().ok()?;
        let boot: i64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        #[cfg(unix)]
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        #[cfg(not(unix))]
        let hz = 100;
        (hz > 0).then(|| boot + ticks / hz as i64)
    };
    from_proc().unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_logins_count_the_last_24_hours_by_hour() {
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS;
        let r = RecentLogins::new(t0 + 10);
        r.add(t0 + 20, "success");
        r.add(t0 + 30, "failure");
        r.add(t0 + HOUR_MS, "success");
        r.add(t0 + HOUR_MS + 1, "throttled");
        r.add(t0 + HOUR_MS + 2, "nonsense");
        let now = r.sum(t0 + HOUR_MS + 5);
        assert_eq!((now.success, now.failure, now.throttled), (2, 1, 1));
        // Up for less than a day: the window starts when counting began.
        assert_eq!(now.since, t0 + 10);
        // 23 hours on, the first hour is still in the window; 24 hours on it has left it.
        let later = r.sum(t0 + 23 * HOUR_MS);
        assert_eq!((later.success, later.failure), (2, 1));
        let day = r.sum(t0 + 24 * HOUR_MS);
        assert_eq!((day.success, day.failure, day.throttled), (1, 0, 1));
        assert_eq!(day.since, t0 + HOUR_MS);
        // The ring comes round: an hour 24 hours after another reuses its bucket from zero.
        r.add(t0 + 24 * HOUR_MS, "failure");
        let next = r.sum(t0 + 24 * HOUR_MS);
        assert_eq!((next.success, next.failure), (1, 1));
    }

    #[test]
    fn requests_are_counted_by_template_method_and_class() {
        let m = Metrics::new(["/a/{id}", "/b"]);
        let ms = Duration::from_millis(3);
        m.request(Some("/a/{id}"), &Method::GET, StatusCode::OK, ms);
        m.request(Some("/a/{id}"), &Method::GET, StatusCode::NOT_FOUND, ms);
        m.request(
            None,
            &Method::from_bytes(b"BREW").unwrap(),
            StatusCode::NOT_FOUND,
            ms,
        );
        let text = m.render(Readings {
            hashes_waiting: 2,
            hashes_running: 1,
            active_sessions: 7,
            pool_in_use: 1,
            pool_size: 3,
            instances: vec![(Kind::Userpass, Some("local".into())), (Kind::Oidc, None)],
        });
        for line in [
            r#"keyward_http_requests_total{route="/a/{id}",method="GET",status="2xx"} 1"#,
            r#"keyward_http_requests_total{route="/a/{id}",method="GET",status="4xx"} 1"#,
            r#"keyward_http_requests_total{route="unmatched",method="other",status="4xx"} 1"#,
            r#"keyward_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",le="0.005"} 2"#,
            r#"keyward_http_request_duration_seconds_bucket{route="/a/{id}",method="GET",le="0.0025"} 0"#,
            r#"keyward_http_request_duration_seconds_count{route="/a/{id}",method="GET"} 2"#,
            "keyward_password_hashes_waiting 2",
            "keyward_active_sessions 7",
            r#"keyward_tokens_issued_total{grant="refresh_token"} 0"#,
            r#"keyward_logins_total{strategy="userpass",instance="local",outcome="throttled"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains(r#"route="/b""#), "{text}");
        // Every login-counting instance has its series from the start; an unnamed one by kind.
        assert!(
            text.lines().any(|l| l
                == r#"keyward_logins_total{strategy="oidc",instance="unnamed",outcome="success"} 0"#),
            "{text}"
        );
    }
}
