//! A software passkey authenticator for tests and the benchmark: ES256 (P-256) keys, "none"
//! attestation, discoverable credentials with user verification. It answers the JSON options a
//! WebAuthn server sends (`{"publicKey": {...}}`, binary fields base64url) with the JSON of a
//! browser's `PublicKeyCredential`, the way `navigator.credentials` would.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU32, Ordering};

/// Authenticator data flags (WebAuthn §6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    B64.decode(s.trim_end_matches('=')).expect("base64url")
}

/// One credential: the key, its id, the user handle it was made for, and its signature counter.
pub struct SoftKey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The user handle of the registration (returned in assertions, as a discoverable
    /// credential does); empty until `register` runs.
    pub user_handle: std::sync::Mutex<Vec<u8>>,
    counter: AtomicU32,
    /// Set the user-verified flag (a real authenticator sets it after a PIN or biometric).
    pub verify_user: bool,
}

impl Default for SoftKey {
    fn default() -> Self {
        Self::new()
    }
}

impl SoftKey {
    pub fn new() -> SoftKey {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let mut credential_id = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut credential_id);
        SoftKey {
            key,
            credential_id,
            user_handle: std::sync::Mutex::new(Vec::new()),
            counter: AtomicU32::new(0),
            verify_user: true,
        }
    }

    pub fn id(&self) -> String {
        b64(&self.credential_id)
    }

    fn flags(&self) -> u8 {
        if self.verify_user { UP | UV } else { UP }
    }

    /// The COSE_Key of the public key (RFC 9053: kty EC2, alg ES256, crv P-256, x, y).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut out = vec![0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        out.extend_from_slice(point.x().expect("x"));
        out.extend_from_slice(&[0x22, 0x58, 0x20]);
        out.extend_from_slice(point.y().expect("y"));
        out
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
            .to_string()
            .into_bytes()
    }

    /// Answers `navigator.credentials.create(options)`: the registration credential's JSON.
    pub fn register(&self, options: &Value, origin: &str) -> Value {
        let pk = options.get("publicKey").unwrap_or(options);
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id");
        let challenge = pk["challenge"].as_str().expect("challenge");
        *self.user_handle.lock().unwrap() = unb64(pk["user"]["id"].as_str().expect("user.id"));
        let client_data = Self::client_data("webauthn.create", challenge, origin);

        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend_from_slice(&self.counter.load(Ordering::SeqCst).to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());

        // {"fmt": "none", "attStmt": {}, "authData": h'…'}
        let mut att = vec![0xA3, 0x63];
        att.extend_from_slice(b"fmt");
        att.push(0x64);
        att.extend_from_slice(b"none");
        att.push(0x67);
        att.extend_from_slice(b"attStmt");
        att.push(0xA0);
        att.push(0x68);
        att.extend_from_slice(b"authData");
        cbor_bytes_header(&mut att, auth_data.len());
        att.extend_from_slice(&auth_data);

        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&att),
                "clientDataJSON": b64(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// Answers `navigator.credentials.get(options)`: the assertion's JSON. Each assertion
    /// raises the signature counter, as a real authenticator does.
    pub fn assert(&self, options: &Value, origin: &str) -> Value {
        let pk = options.get("publicKey").unwrap_or(options);
        let rp_id = pk["rpId"].as_str().expect("rpId");
        let challenge = pk["challenge"].as_str().expect("challenge");
        self.assert_with(rp_id, challenge, origin)
    }

    /// An assertion over an explicit relying party and challenge (for forged requests).
    pub fn assert_with(&self, rp_id: &str, challenge: &str, origin: &str) -> Value {
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let count = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&count.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        let handle = self.user_handle.lock().unwrap().clone();
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": if handle.is_empty() { Value::Null } else { Value::String(b64(&handle)) },
            },
            "extensions": {},
        })
    }

    /// The same credential id and user handle with a different key: what an attacker who
    /// learnt a credential id (it is not secret) can present.
    pub fn impostor(&self) -> SoftKey {
        let other = SoftKey::new();
        SoftKey {
            credential_id: self.credential_id.clone(),
            user_handle: std::sync::Mutex::new(self.user_handle.lock().unwrap().clone()),
            ..other
        }
    }
}

/// A CBOR byte-string header (major type 2) for `len` bytes.
fn cbor_bytes_header(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=255 => out.extend_from_slice(&[0x58, len as u8]),
        _ => {
            out.push(0x59);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
}
