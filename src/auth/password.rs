//! Password hashing with argon2id. Hashing is slow on purpose, so it runs on the blocking pool
//! behind a semaphore sized to the cores: a flood of logins queues here and never starves the
//! async workers that serve health checks, token refreshes and pages. The queue is bounded
//! (`--hash-queue` places per slot): past it a request is refused at once with 503 rather than
//! waiting behind everyone else.

use crate::config::Settings;
use crate::error::{Error, Reason, Result};
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{Semaphore, TryAcquireError};

/// The shortest password accepted anywhere a password is set.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longer input is refused before hashing, so nobody can make us hash megabytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

pub fn check_new_password(password: &str) -> Result<()> {
    check_new_password_as("password", password)
}

/// `check_new_password` for a request whose password field has another name (`newPassword`).
pub fn check_new_password_as(field: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(Error::field(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters long"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::field(
            field,
            format!("must be at most {MAX_PASSWORD_LEN} bytes long"),
        ));
    }
    Ok(())
}

/// The bcrypt versions keyward imports: `$2a$`, `$2b$` and `$2y$` (Auth0, the Gropius login
/// service); they differ only in how old implementations treated long passwords.
fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// The most work an imported hash may ask of a login: the same bounds as the argon2 flags, and
/// a bcrypt cost of 16 (seconds per check), so that an imported hash cannot stall the hashing
/// slots or exhaust memory.
const MAX_IMPORTED_BCRYPT_COST: u32 = 16;

/// Checks a password hash brought in by `keyward users import` without hashing anything:
/// argon2id or argon2i as a PHC string, or bcrypt. Returns why it is not accepted.
pub fn check_imported_hash(stored: &str) -> std::result::Result<(), String> {
    if is_bcrypt(stored) {
        let parts: bcrypt::HashParts = stored
            .parse()
            .map_err(|e| format!("not a valid bcrypt hash ({e})"))?;
        let cost = parts.get_cost();
        if !(4..=MAX_IMPORTED_BCRYPT_COST).contains(&cost) {
            return Err(format!(
                "bcrypt cost {cost} is outside 4 to {MAX_IMPORTED_BCRYPT_COST}"
            ));
        }
        return Ok(());
    }
    if !stored.starts_with("$argon2") {
        return Err(
            "unsupported password hash: use argon2id, argon2i or bcrypt ($2a$, $2b$, $2y$)".into(),
        );
    }
    let hash = PasswordHash::new(stored).map_err(|e| format!("not a valid PHC string ({e})"))?;
    match Algorithm::try_from(hash.algorithm.as_str()) {
        Ok(Algorithm::Argon2id | Algorithm::Argon2i) => {}
        _ => {
            return Err(format!(
                "unsupported password hash {}: use argon2id, argon2i or bcrypt",
                hash.algorithm
            ));
        }
    }
    if let Some(v) = hash.version
        && Version::try_from(v).is_err()
    {
        return Err(format!("unknown argon2 version {v}"));
    }
    let params = Params::try_from(&hash).map_err(|e| format!("bad argon2 parameters ({e})"))?;
    if params.m_cost() > 1_048_576 || params.t_cost() > 64 || params.p_cost() > 16 {
        return Err("argon2 parameters above m=1048576, t=64, p=16".into());
    }
    let salt_ok = hash.salt.as_ref().is_some_and(|s| s.len() >= 8);
    let out_ok = hash.hash.as_ref().is_some_and(|h| h.len() >= 16);
    if !salt_ok || !out_ok {
        return Err("the argon2 hash lacks its salt or output".into());
    }
    Ok(())
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Requests waiting for a permit now, and how many may wait.
    waiting: Arc<AtomicUsize>,
    queue: usize,
    /// Hashing slots (permits) in all.
    slots: usize,
    /// Work memory of finished hashes, kept for the next ones: one argon2 buffer per permit at
    /// most. Allocating 19 MiB for every hash costs page faults and, with glibc, leaves the
    /// freed buffers fragmenting the heap until the process holds gigabytes.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    /// When a hash last ran: pooled memory is given back once hashing has been idle a while.
    last_use: Arc<Mutex<Option<std::time::Instant>>>,
    /// A hash of a random password, checked when a username is unknown so that the answer takes
    /// as long as a wrong password. Made at the first need, so an idle server stays small.
    dummy: Arc<OnceLock<String>>,
}

/// The result of a check: whether it matched, and whether the stored hash should be replaced
/// because it was made with other parameters than the current ones.
pub struct Verdict {
    pub ok: bool,
    pub outdated: bool,
}

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

impl Hasher {
    pub fn new(s: &Settings) -> Result<Hasher> {
        let params = Params::new(
            s.argon2_memory,
            s.argon2_iterations,
            s.argon2_parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| Error::internal(format!("bad argon2 parameters: {e}")))?;
        let permits = if s.hash_concurrency == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            usize::from(s.hash_concurrency)
        };
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::default(),
            queue: permits * usize::from(s.hash_queue),
            slots: permits,
            buffers: Arc::default(),
            last_use: Arc::default(),
            dummy: Arc::default(),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        let me = self.clone();
        self.off_thread(move || me.hash_now(&password)).await
    }

    /// Checks `password` against `stored`, or against the dummy hash when `stored` is None.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verdict> {
        let me = self.clone();
        self.off_thread(move || {
            let known = stored.is_some();
            let stored = match stored {
                Some(s) => s,
                None => me.dummy()?,
            };
            let v = me.verify_now(&password, &stored);
            Ok(Verdict {
                ok: v.ok && known,
                outdated: v.outdated,
            })
        })
        .await
    }

    /// Hashes on the calling thread (the CLI, and the blocking pool through `hash`).
    pub fn hash_now(&self, password: &str) -> Result<String> {
        let mut salt = [0u8; SALT_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        let mut out = [0u8; OUTPUT_LEN];
        self.compute(&self.params, password, &salt, &mut out)?;
        let fail = |e: argon2::password_hash::phc::Error| {
            Error::internal(format!("PHC encoding failed: {e}"))
        };
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params)
                .map_err(|e| Error::internal(format!("bad argon2 parameters: {e}")))?,
            salt: Some(Salt::new(&salt).map_err(fail)?),
            hash: Some(Output::new(&out).map_err(fail)?),
        };
        Ok(phc.to_string())
    }

    fn dummy(&self) -> Result<String> {
        if let Some(d) = self.dummy.get() {
            return Ok(d.clone());
        }
        let d = self.hash_now(&crate::auth::secret::random_token(16))?;
        Ok(self.dummy.get_or_init(|| d).clone())
    }

    fn verify_now(&self, password: &str, stored: &str) -> Verdict {
        let no = Verdict {
            ok: false,
            outdated: false,
        };
        // An imported bcrypt hash is checked as it is and always replaced at the next login.
        if is_bcrypt(stored) {
            return Verdict {
                ok: bcrypt::verify(password, stored).unwrap_or(false),
                outdated: true,
            };
        }
        let Ok(hash) = PasswordHash::new(stored) else {
            return no;
        };
        let (Ok(alg), Ok(params), Some(salt), Some(expected)) = (
            Algorithm::try_from(hash.algorithm.as_str()),
            Params::try_from(&hash),
            hash.salt.as_ref(),
            hash.hash.as_ref(),
        ) else {
            return no;
        };
        let version = hash
            .version
            .and_then(|v| Version::try_from(v).ok())
            .unwrap_or_default();
        let mut out = vec![0u8; expected.len()];
        let computed = self.compute_with(alg, version, &params, password, salt.as_ref(), &mut out);
        let ok = computed.is_ok() && crate::auth::secret::digest_eq(&out, expected.as_ref());
        let outdated = alg != Algorithm::Argon2id
            || version != Version::V0x13
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost();
        Verdict { ok, outdated }
    }

    fn compute(&self, params: &Params, password: &str, salt: &[u8], out: &mut [u8]) -> Result<()> {
        self.compute_with(
            Algorithm::Argon2id,
            Version::V0x13,
            params,
            password,
            salt,
            out,
        )
    }

    /// Runs argon2 in a pooled work buffer.
    fn compute_with(
        &self,
        alg: Algorithm,
        version: Version,
        params: &Params,
        password: &str,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let mut params = params.clone();
        if params.output_len() != Some(out.len()) {
            params = Params::new(
                params.m_cost(),
                params.t_cost(),
                params.p_cost(),
                Some(out.len()),
            )
            .map_err(|e| Error::internal(format!("bad argon2 parameters: {e}")))?;
        }
        let blocks = params.block_count();
        let mut buf = self
            .buffers
            .lock()
            .expect("hasher lock")
            .pop()
            .unwrap_or_default();
        if buf.len() != blocks {
            buf = vec![Block::default(); blocks];
        }
        let r = Argon2::new(alg, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut buf[..])
            .map_err(|e| Error::internal(format!("hashing failed: {e}")));
        *self.last_use.lock().expect("hasher lock") = Some(std::time::Instant::now());
        // Only buffers of the current size are worth keeping.
        if blocks == self.params.block_count() {
            self.buffers.lock().expect("hasher lock").push(buf);
        }
        r
    }

    /// Gives the pooled work memory back when no hash has run for `idle`: a login burst
    /// should not leave the server holding tens of megabytes.
    pub fn release_idle(&self, idle: std::time::Duration) {
        let quiet = self
            .last_use
            .lock()
            .expect("hasher lock")
            .is_none_or(|t| t.elapsed() >= idle);
        if quiet {
            self.buffers.lock().expect("hasher lock").clear();
        }
    }

    /// Hashes waiting for a slot, and hashes holding one (for the metrics).
    pub fn load(&self) -> (usize, usize) {
        let running = self.slots.saturating_sub(self.permits.available_permits());
        (self.waiting.load(Ordering::Relaxed), running)
    }

    /// A place in the queue in front of the permits, or 503 at once when it is full.
    fn queue_place(&self) -> Result<QueuePlace> {
        self.waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.queue).then_some(n + 1)
            })
            .map_err(|_| {
                Error::new(
                    Reason::Busy(1),
                    "Too many password checks are waiting. Try again in a second.",
                )
            })?;
        Ok(QueuePlace(self.waiting.clone()))
    }

    async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let closed = |_| Error::internal("hasher closed");
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(Error::internal("hasher closed")),
            Err(TryAcquireError::NoPermits) => {
                // Held while waiting; a request that goes away gives its place back.
                let _place = self.queue_place()?;
                self.permits.clone().acquire_owned().await.map_err(closed)?
            }
        };
        // The permit moves into the task: a request that goes away mid-hash does not free its
        // place while the hash still runs, so hashes in flight (and pooled buffers) never exceed
        // the permits.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| Error::internal(format!("hash task failed: {e}")))?
    }
}

/// A request's place in the hash queue, given back when dropped.
struct QueuePlace(Arc<AtomicUsize>);

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    fn hasher(m: u32, t: u32) -> Hasher {
        Hasher::new(&Settings {
            argon2_memory: m,
            argon2_iterations: t,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn our_hashes_and_the_crates_agree_both_ways() {
        let h = hasher(64, 1);
        let ours = h.hash_now("correct horse").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse")
        .unwrap()
        .to_string();
        let v = h.verify_now("correct horse", &theirs);
        assert!(v.ok && !v.outdated);
        assert!(!h.verify_now("wrong horse", &theirs).ok);
        assert!(!h.verify_now("correct horse", "not a hash").ok);
    }

    #[test]
    fn other_parameters_are_outdated_but_still_check() {
        let old = hasher(32, 1).hash_now("pw-pw-pw-pw").unwrap();
        let v = hasher(64, 2).verify_now("pw-pw-pw-pw", &old);
        assert!(v.ok && v.outdated);
        // Buffers of the current size are pooled; at most one was made here.
        let h = hasher(64, 1);
        for _ in 0..3 {
            h.hash_now("again and again").unwrap();
        }
        assert_eq!(h.buffers.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let h = Hasher::new(&Settings {
            argon2_memory: 64,
            argon2_iterations: 1,
            hash_concurrency: 1,
            hash_queue: 1,
            ..Default::default()
        })
        .unwrap();
        // The only permit is taken: one request may wait, the next is refused.
        let held = h.permits.clone().try_acquire_owned().unwrap();
        let waiting = tokio::spawn({
            let h = h.clone();
            async move { h.hash("first password".into()).await }
        });
        while h.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let e = h.hash("second password".into()).await.unwrap_err();
        assert_eq!(e.reason, Reason::Busy(1));
        drop(held);
        assert!(waiting.await.unwrap().is_ok());
        assert_eq!(h.waiting.load(Ordering::SeqCst), 0);
        assert!(h.hash("third password".into()).await.is_ok());
    }
}
