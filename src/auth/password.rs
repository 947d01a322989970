//! Password hashing with argon2id. Hashing is slow on purpose, so it runs on the blocking pool
//! behind a semaphore sized to the cores: a flood of logins queues here and never starves the
//! async workers that serve health checks, token refreshes and pages.

use crate::config::Settings;
use crate::error::{Error, Result};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// The shortest password accepted anywhere a password is set.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longer input is refused before hashing, so nobody can make us hash megabytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

pub fn check_new_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(Error::bad_request(format!(
            "password must be at least {MIN_PASSWORD_LEN} characters long"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::bad_request(format!(
            "password must be at most {MAX_PASSWORD_LEN} bytes long"
        )));
    }
    Ok(())
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, checked when a username is unknown so that the answer takes
    /// as long as a wrong password.
    dummy: Arc<String>,
}

/// The result of a check: whether it matched, and whether the stored hash should be replaced
/// because it was made with other parameters than the current ones.
pub struct Verdict {
    pub ok: bool,
    pub outdated: bool,
}

impl Hasher {
    pub fn new(s: &Settings) -> Result<Hasher> {
        let params = Params::new(
            s.argon2_memory,
            s.argon2_iterations,
            s.argon2_parallelism,
            None,
        )
        .map_err(|e| Error::internal(format!("bad argon2 parameters: {e}")))?;
        let permits = if s.hash_concurrency == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            s.hash_concurrency
        };
        let dummy = hash_with(&params, &crate::auth::secret::random_token(16))?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy: Arc::new(dummy),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        let params = self.params.clone();
        self.off_thread(move || hash_with(&params, &password)).await
    }

    /// Checks `password` against `stored`, or against the dummy hash when `stored` is None.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verdict> {
        let params = self.params.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy.to_string());
        let v = self
            .off_thread(move || Ok(verify_with(&params, &password, &stored)))
            .await?;
        Ok(Verdict {
            ok: v.ok && known,
            outdated: v.outdated,
        })
    }

    /// Synchronous hashing for the CLI.
    pub fn hash_now(&self, password: &str) -> Result<String> {
        hash_with(&self.params, password)
    }

    async fn off_thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| Error::internal("hasher closed"))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::internal(format!("hash task failed: {e}")))?
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_with(params: &Params, password: &str) -> Result<String> {
    argon(params)
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hashing failed: {e}")))
}

fn verify_with(params: &Params, password: &str, stored: &str) -> Verdict {
    let Ok(hash) = PasswordHash::new(stored) else {
        return Verdict {
            ok: false,
            outdated: false,
        };
    };
    let ok = argon(params)
        .verify_password(password.as_bytes(), &hash)
        .is_ok();
    let outdated = hash.algorithm.as_str() != "argon2id"
        || Params::try_from(&hash).map_or(true, |p| {
            p.m_cost() != params.m_cost()
                || p.t_cost() != params.t_cost()
                || p.p_cost() != params.p_cost()
        });
    Verdict { ok, outdated }
}
