//! Token signing keys: creation, rotation, the in-memory keyring and the JWKS.
//!
//! The newest unretired key signs. A retired key stays published (and accepted) for
//! `KEY_RETENTION_MS`, which is longer than any token keyward issues may live, so every token it
//! signed expires before it disappears.

use crate::auth::secret::{MasterKey, b64};
use crate::config::KeyAlg;
use crate::db::{self, Db, keys::KeyRow};
use crate::error::{Error, Result};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Every token lifetime is capped at one day (config and CLI enforce it); keys outlive that.
pub const KEY_RETENTION_MS: i64 = 25 * 3600 * 1000;

/// Tokens whose checked signature is remembered (about 100 bytes each).
const VERIFIED_CACHE: usize = 50_000;

pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
}

#[derive(Default)]
struct KeySet {
    signing: Option<Arc<SigningKey>>,
    by_kid: HashMap<String, Arc<SigningKey>>,
    /// The kids and their retirement, to tell whether a reload found anything new.
    shape: Vec<(String, Option<i64>)>,
}

#[derive(Clone)]
pub struct Keyring {
    db: Db,
    master: MasterKey,
    set: Arc<RwLock<Arc<KeySet>>>,
    /// When an unknown kid last sent us to the database (see `reload_for_unknown_kid`).
    last_miss: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// Claims of tokens whose signature was checked, by the SHA-256 of the whole token: a client
    /// sends the same access token many times, and a signature check costs far more than the
    /// rest of a request. Claims are validated again on every use.
    verified: Arc<std::sync::Mutex<HashMap<[u8; 32], Arc<Value>>>>,
}

fn algorithm(alg: KeyAlg) -> Algorithm {
    match alg {
        KeyAlg::Es256 => Algorithm::ES256,
        KeyAlg::EdDsa => Algorithm::EdDSA,
        KeyAlg::Rs256 => Algorithm::RS256,
    }
}

/// A fresh key pair: the private key as DER (the form jsonwebtoken signs with) and the public JWK.
fn generate(alg: KeyAlg, kid: &str) -> Result<(Vec<u8>, Value)> {
    let fail = |e: String| Error::internal(format!("key generation failed: {e}"));
    let (der, mut jwk) = match alg {
        KeyAlg::Es256 => {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            use p256::pkcs8::EncodePrivateKey;
            let sk = p256::SecretKey::random(&mut OsRng);
            let der = sk.to_pkcs8_der().map_err(|e| fail(e.to_string()))?;
            let point = sk.public_key().to_encoded_point(false);
            let (x, y) = (
                point.x().expect("uncompressed"),
                point.y().expect("uncompressed"),
            );
            (
                der.as_bytes().to_vec(),
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
            )
        }
        KeyAlg::EdDsa => {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            let sk = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let der = sk.to_pkcs8_der().map_err(|e| fail(e.to_string()))?;
            (
                der.as_bytes().to_vec(),
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(sk.verifying_key().as_bytes())}),
            )
        }
        KeyAlg::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::traits::PublicKeyParts;
            let sk = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| fail(e.to_string()))?;
            let der = sk.to_pkcs1_der().map_err(|e| fail(e.to_string()))?;
            (
                der.as_bytes().to_vec(),
                json!({"kty": "RSA", "n": b64(&sk.n().to_bytes_be()), "e": b64(&sk.e().to_bytes_be())}),
            )
        }
    };
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok((der, jwk))
}

fn load_key(master: &MasterKey, row: &KeyRow) -> Result<SigningKey> {
    let alg = KeyAlg::parse(&row.alg)
        .ok_or_else(|| Error::internal(format!("unknown key algorithm {}", row.alg)))?;
    let der = master.open(&format!("signing-key:{}", row.kid), &row.private_key)?;
    let jwk: Value = serde_json::from_str(&row.public_jwk)
        .map_err(|e| Error::internal(format!("bad stored JWK: {e}")))?;
    let s = |k: &str| jwk[k].as_str().unwrap_or_default().to_string();
    let bad = |e: jsonwebtoken::errors::Error| Error::internal(format!("bad stored key: {e}"));
    let (encoding, decoding) = match alg {
        KeyAlg::Es256 => (
            EncodingKey::from_ec_der(&der),
            DecodingKey::from_ec_components(&s("x"), &s("y")).map_err(bad)?,
        ),
        KeyAlg::EdDsa => (
            EncodingKey::from_ed_der(&der),
            DecodingKey::from_ed_components(&s("x")).map_err(bad)?,
        ),
        KeyAlg::Rs256 => (
            EncodingKey::from_rsa_der(&der),
            DecodingKey::from_rsa_components(&s("n"), &s("e")).map_err(bad)?,
        ),
    };
    Ok(SigningKey {
        kid: row.kid.clone(),
        alg: algorithm(alg),
        encoding,
        decoding,
    })
}

impl Keyring {
    /// Loads the keys, creating the first ES256 key when the database has none.
    pub fn open(db: Db, master: MasterKey) -> Result<Keyring> {
        let ring = Keyring {
            db,
            master,
            set: Arc::new(RwLock::new(Arc::new(KeySet::default()))),
            last_miss: Arc::default(),
            verified: Arc::default(),
        };
        let active = ring.db.read_blocking(db::keys::count_active)?;
        if active == 0 {
            ring.rotate(KeyAlg::Es256)?;
        } else {
            ring.reload()?;
        }
        Ok(ring)
    }

    /// Adds a new signing key and retires the others; returns its kid.
    pub fn rotate(&self, alg: KeyAlg) -> Result<String> {
        self.rotate_then(alg, |_, _| Ok(()))
    }

    /// `rotate` with the caller's writes (its audit event) in the same transaction; `then`
    /// gets the new kid. Blocking (an RSA key takes a while to make): call it from the
    /// blocking pool. The key is published the moment the transaction commits (the JWKS is
    /// read from the database) and signs from the reload that follows, before this returns.
    pub fn rotate_then(
        &self,
        alg: KeyAlg,
        then: impl FnOnce(&db::Write, &str) -> Result<()>,
    ) -> Result<String> {
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let (der, jwk) = generate(alg, &kid)?;
        let row = KeyRow {
            private_key: self.master.seal(&format!("signing-key:{kid}"), &der),
            kid: kid.clone(),
            alg: alg.as_str().into(),
            public_jwk: jwk.to_string(),
            created_at: db::now_ms(),
            retired_at: None,
        };
        self.db.write_blocking(|tx| {
            db::keys::insert_and_retire_others(tx, &row)?;
            then(tx, &row.kid)
        })?;
        self.reload()?;
        Ok(kid)
    }

    /// Reads the key set from the database again (a `keys rotate` from the CLI lands here).
    /// A token named a kid we do not know: perhaps the CLI rotated a key a moment ago. Looks in
    /// the database at most four times a second, so tokens with made-up kids cannot make every
    /// request read the database.
    pub fn reload_for_unknown_kid(&self) -> Result<()> {
        {
            let mut last = self.last_miss.lock().expect("keyring lock");
            if last.is_some_and(|t| t.elapsed() < std::time::Duration::from_millis(250)) {
                return Ok(());
            }
            *last = Some(std::time::Instant::now());
        }
        self.reload()
    }

    pub fn reload(&self) -> Result<()> {
        let rows = self
            .db
            .read_blocking(|r| db::keys::list_live(r, r.now - KEY_RETENTION_MS))?;
        let shape: Vec<_> = rows.iter().map(|r| (r.kid.clone(), r.retired_at)).collect();
        // The periodic reload usually finds the same keys: nothing to decrypt and parse again.
        if self.set.read().expect("keyring lock").shape == shape && !shape.is_empty() {
            return Ok(());
        }
        let mut set = KeySet {
            shape,
            ..KeySet::default()
        };
        for row in &rows {
            let key = Arc::new(load_key(&self.master, row)?);
            if row.retired_at.is_none() && set.signing.is_none() {
                set.signing = Some(key.clone());
            }
            set.by_kid.insert(key.kid.clone(), key);
        }
        *self.set.write().expect("keyring lock") = Arc::new(set);
        Ok(())
    }

    pub fn signing(&self) -> Result<Arc<SigningKey>> {
        self.set
            .read()
            .expect("keyring lock")
            .signing
            .clone()
            .ok_or_else(|| Error::internal("no signing key"))
    }

    pub fn verified(&self, digest: &[u8; 32]) -> Option<Arc<Value>> {
        self.verified
            .lock()
            .expect("keyring lock")
            .get(digest)
            .cloned()
    }

    pub fn remember_verified(&self, digest: [u8; 32], claims: Arc<Value>) {
        let mut m = self.verified.lock().expect("keyring lock");
        // Bounded: when full it starts over, which costs one signature check per token.
        if m.len() >= VERIFIED_CACHE {
            m.clear();
        }
        m.insert(digest, claims);
    }

    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.set
            .read()
            .expect("keyring lock")
            .by_kid
            .get(kid)
            .cloned()
    }

    /// The JWKS, read from the database on every call rather than from this keyring: a key
    /// that `keyward keys rotate` (another process) has just added is published at once, before
    /// the keyring has picked it up and before any token it signs can reach a client. Only the
    /// stored public JWKs are read; nothing is decrypted.
    pub async fn published(&self) -> Result<Value> {
        let since = db::now_ms() - KEY_RETENTION_MS;
        let stored = self
            .db
            .read(move |c| db::keys::public_jwks(c, since))
            .await?;
        // A key this process does not hold yet (`keys rotate` has just added it): take it up
        // now rather than at the next periodic reload, so that once a key is published, this
        // server signs with it too. Publishing does not wait for it to succeed.
        let new_kid = {
            let set = self.set.read().expect("keyring lock");
            stored.iter().any(|(kid, _)| !set.by_kid.contains_key(kid))
        };
        if new_kid {
            let ring = self.clone();
            match tokio::task::spawn_blocking(move || ring.reload()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "key reload failed"),
                Err(e) => tracing::warn!(error = %e, "key reload failed"),
            }
        }
        let keys = stored
            .iter()
            .map(|(_, j)| {
                serde_json::from_str::<Value>(j)
                    .map_err(|e| Error::internal(format!("bad stored JWK: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(json!({ "keys": keys }))
    }

    /// Every stored key, newest first, for `keys list`.
    pub async fn describe(&self) -> Result<Vec<KeyRow>> {
        self.db.read(|r| db::keys::list_live(r, 0)).await
    }
}
