//! Secrets keyward makes itself: random tokens (stored as SHA-256 digests) and the master key
//! that seals signing keys and provider secrets at rest.

use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// A random token of `bytes` bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    B64.encode(buf)
}

/// The digest under which a generated secret is stored and looked up.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

/// Compares two digests in constant time.
pub fn digest_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The key that seals secrets in the database. It lives in its own file (mode 0600), so that a
/// copy of the database alone reveals no secret.
#[derive(Clone)]
pub struct MasterKey(XChaCha20Poly1305);

const NONCE_LEN: usize = 24;

impl MasterKey {
    /// Loads the key file, creating it with a fresh random key when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<MasterKey> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                let text = B64.encode(key);
                match write_private(path, &text) {
                    Ok(()) => text,
                    // Another keyward process (the CLI beside the server) made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read_to_string(path).map_err(|e| {
                            Error::internal(format!("cannot read {}: {e}", path.display()))
                        })?
                    }
                    Err(e) => {
                        return Err(Error::internal(format!(
                            "cannot create {}: {e}",
                            path.display()
                        )));
                    }
                }
            }
            Err(e) => {
                return Err(Error::internal(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let bytes = B64
            .decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                Error::internal(format!("{} is not a keyward master key", path.display()))
            })?;
        Ok(MasterKey(XChaCha20Poly1305::new(bytes.as_slice().into())))
    }

    /// Encrypts `plain`, bound to `context` (e.g. the row it belongs to), so a sealed value
    /// cannot be moved to another row.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory input");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::internal("sealed value is too short"));
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.0
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("a sealed value does not open with this master key"))
    }
}

/// Refuses a master key file that other users may read or change: whoever reads it can open
/// every sealed secret (signing keys, provider secrets), and whoever changes it locks keyward
/// out of them. A loose mode may mean the key was already exposed, so keyward does not quietly
/// fix it: the refusal says how.
pub fn check_key_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                let p = path.display();
                return Err(Error::internal(format!(
                    "the master key file {p} can be read or changed by other users (mode {mode:03o}); \
                     make it private with `chmod 600 {p}` and start keyward again"
                )));
            }
        }
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
