//! `userpass`: a username and password kept by keyward (the rules are in `core::login`).

use super::{Caps, Kind, Strategy, parse, schema};
use crate::error::Result;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub struct Userpass;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// A username and password kept by keyward.
struct UserpassConfig {}

static CAPS: Caps = Caps {
    can_login: true,
    can_login_register: true,
    can_sync: false,
    needs_redirect_flow: false,
    allows_implicit_signup: false,
    accepts_variables: &[
        ("username", "Username", "string"),
        ("password", "Password", "password"),
    ],
    secret_fields: &[],
};

impl Strategy for Userpass {
    fn kind(&self) -> Kind {
        Kind::Userpass
    }
    fn caps(&self) -> &'static Caps {
        &CAPS
    }
    fn config_schema(&self) -> Value {
        schema::<UserpassConfig>()
    }
    fn check_fields(&self, c: &Value) -> Result<()> {
        parse::<UserpassConfig>(c).map(|_| ())
    }
}
