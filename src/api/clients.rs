//! OAuth clients on the login API (`/auth/api/login/client...`), admin only.

use super::Req;
use crate::App;
use crate::error::{Error, Result};
use serde_json::Value;

pub async fn route(_app: &App, _req: &Req, _rest: &[&str]) -> Result<(u16, Value)> {
    Err(Error::not_found("no such resource"))
}
