//! Reading JSON request bodies field by field, so that every 400 names the field at fault.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

pub struct Body(pub Map<String, Value>);

impl Body {
    /// An empty body counts as `{}`; anything else must be a JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Body> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => Ok(Body(m)),
            Ok(_) => Err(Error::bad_request("the body must be a JSON object")),
            Err(e) => Err(Error::bad_request(format!(
                "the body is not valid JSON: {e}"
            ))),
        }
    }

    /// Refuses fields other than `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::bad_request(format!("unknown field {k}"))),
            None => Ok(()),
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn value(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// A string field; absent or null is None.
    pub fn opt_str(&self, field: &str) -> Result<Option<String>> {
        match self.value(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::bad_request(format!("{field} must be a string"))),
        }
    }

    pub fn str(&self, field: &str) -> Result<String> {
        self.opt_str(field)?
            .ok_or_else(|| Error::bad_request(format!("{field} must be given")))
    }

    /// A string that must be given and not empty.
    pub fn nonempty(&self, field: &str) -> Result<String> {
        let s = self.str(field)?;
        if s.trim().is_empty() {
            return Err(Error::bad_request(format!("{field} must not be empty")));
        }
        Ok(s)
    }

    /// A field that may be set to null: None when absent, Some(None) when null.
    pub fn nullable_str(&self, field: &str) -> Result<Option<Option<String>>> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
            Some(_) => Err(Error::bad_request(format!(
                "{field} must be a string or null"
            ))),
        }
    }

    pub fn opt_bool(&self, field: &str) -> Result<Option<bool>> {
        match self.value(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::bad_request(format!("{field} must be a boolean"))),
        }
    }
}
