//! The software authenticator that the passkey tests and the benchmark use is checked against
//! webauthn-rs itself, so that a failing passkey test points at the server, not at the tool.

mod common;

use common::softkey::SoftKey;
use serde_json::Value;
use webauthn_rs::prelude::*;

fn rp() -> Webauthn {
    let origin = Url::parse("http://localhost:8080").unwrap();
    WebauthnBuilder::new("localhost", &origin)
        .unwrap()
        .rp_name("keyward")
        .build()
        .unwrap()
}

fn registered(rp: &Webauthn, key: &SoftKey) -> Passkey {
    let (options, state) = rp
        .start_passkey_registration(Uuid::new_v4(), "alice", "Alice", None)
        .unwrap();
    let options = serde_json::to_value(&options).unwrap();
    let credential = key.register(&options, "http://localhost:8080");
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential).unwrap();
    rp.finish_passkey_registration(&credential, &state)
        .expect("webauthn-rs accepts the soft key's registration")
}

#[test]
fn soft_key_registers_and_signs_in() {
    let rp = rp();
    let key = SoftKey::new();
    let passkey = registered(&rp, &key);
    for round in 1..=2u32 {
        let (options, state) = rp
            .start_passkey_authentication(std::slice::from_ref(&passkey))
            .unwrap();
        let options: Value = serde_json::to_value(&options).unwrap();
        let assertion = key.assert(&options, "http://localhost:8080");
        let assertion: PublicKeyCredential = serde_json::from_value(assertion).unwrap();
        let result = rp
            .finish_passkey_authentication(&assertion, &state)
            .expect("webauthn-rs accepts the soft key's assertion");
        assert!(result.user_verified());
        assert_eq!(result.counter(), round);
    }
}

#[test]
fn soft_key_answers_a_discoverable_challenge() {
    let rp = rp();
    let key = SoftKey::new();
    let passkey = registered(&rp, &key);
    let (options, state) = rp.start_discoverable_authentication().unwrap();
    let options: Value = serde_json::to_value(&options).unwrap();
    let assertion = key.assert(&options, "http://localhost:8080");
    let assertion: PublicKeyCredential = serde_json::from_value(assertion).unwrap();
    let (_, credential_id) = rp.identify_discoverable_authentication(&assertion).unwrap();
    assert_eq!(credential_id, passkey.cred_id().as_slice());
    let result = rp
        .finish_discoverable_authentication_v2(&assertion, state, &passkey)
        .expect("accepted");
    assert!(result.user_verified());
}

#[test]
fn an_impostor_key_with_a_known_credential_id_is_refused() {
    let rp = rp();
    let key = SoftKey::new();
    let passkey = registered(&rp, &key);
    let (options, state) = rp.start_passkey_authentication(&[passkey]).unwrap();
    let options: Value = serde_json::to_value(&options).unwrap();
    let forged = key.impostor().assert(&options, "http://localhost:8080");
    let forged: PublicKeyCredential = serde_json::from_value(forged).unwrap();
    assert!(rp.finish_passkey_authentication(&forged, &state).is_err());
}
