//! `passkey`: WebAuthn passkeys (the ceremonies are in `core::passkeys`).

use super::{Caps, Kind, Strategy, parse, schema};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub struct Passkey;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// WebAuthn passkeys. The relying party comes from the public URL (its host is the id), so an
/// instance has nothing to configure.
struct PasskeyConfig {}

static CAPS: Caps = Caps {
    can_login: true,
    // Self-registration: a new account signs up with a passkey on the register page. A
    // passkey is still never found by a login that waits for registration.
    can_login_register: true,
    can_sync: false,
    needs_redirect_flow: false,
    allows_implicit_signup: false,
    accepts_variables: &[],
    secret_fields: &[],
};

impl Strategy for Passkey {
    fn kind(&self) -> Kind {
        Kind::Passkey
    }
    fn caps(&self) -> &'static Caps {
        &CAPS
    }
    fn config_schema(&self) -> Value {
        schema::<PasskeyConfig>()
    }
    fn check_fields(&self, c: &Value) -> Result<()> {
        parse::<PasskeyConfig>(c).map(|_| ())
    }
}
