//! Upstream logins in progress: the `state` (as its digest), the PKCE verifier and the OIDC
//! nonce, bound to a browser; taken out once.

use super::Write;
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct UpstreamFlow {
    /// SHA-256 of the `state` sent to the provider.
    pub digest: Vec<u8>,
    pub instance_id: String,
    /// `login`, `register` or `link`.
    pub mode: String,
    /// The sealed authorization request the login serves.
    pub flow: Option<String>,
    /// For `link`: the user the login attaches to.
    pub user_id: Option<String>,
    /// SHA-256 of the browser's binding cookie.
    pub browser: Vec<u8>,
    pub verifier: String,
    pub nonce: Option<String>,
    pub created_at: i64,
    pub expires: i64,
}

pub fn insert(c: &Write, f: &UpstreamFlow) -> Result<()> {
    c.execute(
        "INSERT INTO upstream_flows (digest, instance_id, mode, flow, user_id, browser, verifier,
         nonce, created_at, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            f.digest,
            f.instance_id,
            f.mode,
            f.flow,
            f.user_id,
            f.browser,
            f.verifier,
            f.nonce,
            f.created_at,
            f.expires
        ],
    )?;
    Ok(())
}

/// Takes a flow out: deleted whatever comes of it, so a `state` is used once.
pub fn take(c: &Write, digest: &[u8]) -> Result<Option<UpstreamFlow>> {
    let found = c
        .prepare_cached(
            "SELECT digest, instance_id, mode, flow, user_id, browser, verifier, nonce,
             created_at, expires FROM upstream_flows WHERE digest = ?1",
        )?
        .query_row(params![digest], |r| {
            Ok(UpstreamFlow {
                digest: r.get(0)?,
                instance_id: r.get(1)?,
                mode: r.get(2)?,
                flow: r.get(3)?,
                user_id: r.get(4)?,
                browser: r.get(5)?,
                verifier: r.get(6)?,
                nonce: r.get(7)?,
                created_at: r.get(8)?,
                expires: r.get(9)?,
            })
        })
        .optional()?;
    if found.is_some() {
        c.execute(
            "DELETE FROM upstream_flows WHERE digest = ?1",
            params![digest],
        )?;
    }
    Ok(found)
}

pub fn purge_expired(c: &Write) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM upstream_flows WHERE expires < ?1",
        params![c.now],
    )?)
}
