//! The typed inputs and outputs of route handlers (see `api::route`): each parses or renders
//! its part of the request or answer and describes it in the OpenAPI document.

use super::route::{Cx, Input, OpDoc, Output, json_response, query_params, schema_ref};
use super::{respond, send_json};
use crate::error::{Error, Reason, Result};
use schemars::{JsonSchema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use warp::http::{HeaderValue, header};
use warp::reply::Response;

/// Deserializes `T` and names the field at fault, in the message (`username: invalid type ...`)
/// and as the error's `field`: the top-level request field the error is in, or the one serde's
/// message names (a missing or unknown field of the body itself).
fn named<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<T> {
    serde_path_to_error::deserialize(d).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let named_in_message = inner
            .split_once("field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name.to_string());
        let top = path
            .split(['.', '['])
            .next()
            .filter(|f| !f.is_empty())
            .map(str::to_string);
        // serde's own messages already name a missing or unknown field.
        let (message, field) = if path == "." {
            (inner.replace('`', ""), named_in_message)
        } else if inner.contains("field `") {
            (inner.replace('`', ""), top)
        } else {
            (format!("{path}: {}", inner.replace('`', "")), top)
        };
        let mut err = Error::bad_request(message);
        err.field = field;
        err
    })
}

/// Whether the request says its body is JSON (`application/json`, any parameters).
fn is_json(cx: &Cx) -> bool {
    cx.req.header("content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// A JSON request body. An empty body counts as `{}`; a non-empty one must be sent as
/// `application/json`.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + Send + 'static> Input for Body<T> {
    fn parse(cx: &Cx) -> Result<Self> {
        let body = &cx.req.body;
        let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            if !is_json(cx) {
                return Err(Error::new(
                    Reason::MediaType,
                    "the body must be sent as application/json",
                ));
            }
            body
        };
        // serde reads a struct from a JSON array too, field by position: a body is an object.
        if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::bad_request("the body must be a JSON object"));
        }
        let mut de = serde_json::Deserializer::from_slice(text);
        let v = named(&mut de)?;
        de.end()
            .map_err(|e| Error::bad_request(format!("the body is not valid JSON: {e}")))?;
        Ok(Body(v))
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.body = Some(json!({
            "required": false,
            "content": {"application/json": {"schema": schema_ref::<T>(g)}},
        }));
        d.errors(&[400, 413, 415]);
    }
}

/// Query parameters.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + Send + 'static> Input for Query<T> {
    fn parse(cx: &Cx) -> Result<Self> {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(
            cx.req.raw_query.as_bytes(),
        ));
        named(de).map(Query).map_err(|mut e| {
            e.reason = Reason::InvalidQuery;
            e
        })
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.query = query_params::<T>(g);
        d.error(400);
    }
}

/// A form body (`application/x-www-form-urlencoded`), as the OAuth endpoints take. A
/// parameter given twice is refused (RFC 6749 3.2).
pub struct Form<T>(pub T);

impl<T: DeserializeOwned + JsonSchema + Send + 'static> Input for Form<T> {
    fn parse(cx: &Cx) -> Result<Self> {
        // JSON read as a form would be one nameless key, and the answer would be about a
        // missing field; say what is wrong instead.
        if cx.req.header("content-type").is_some_and(|t| {
            t.trim_start()
                .get(..16)
                .is_some_and(|m| m.eq_ignore_ascii_case("application/json"))
        }) {
            return Err(Error::bad_request(
                "the body must be a form (application/x-www-form-urlencoded), not JSON",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (k, _) in form_urlencoded::parse(&cx.req.body) {
            if !seen.insert(k.clone()) {
                return Err(Error::bad_request(format!("{k} is given more than once")));
            }
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&cx.req.body));
        named(de).map(Form)
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.body = Some(json!({
            "required": true,
            "content": {"application/x-www-form-urlencoded": {"schema": schema_ref::<T>(g)}},
        }));
        d.errors(&[400, 413]);
    }
}

/// No input at all. A body, if one is sent, must be empty or `{}`.
pub struct NoInput;

impl Input for NoInput {
    fn parse(cx: &Cx) -> Result<Self> {
        let body = &cx.req.body;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoInput);
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) if m.is_empty() => Ok(NoInput),
            Ok(Value::Object(m)) => Err(Error::bad_request(format!(
                "unknown field {}",
                m.keys().next().map(String::as_str).unwrap_or_default()
            ))),
            _ => Err(Error::bad_request("no body is expected")),
        }
    }
    fn doc(_: &mut OpDoc, _: &mut SchemaGenerator) {}
}

impl<A: Input, B: Input> Input for (A, B) {
    fn parse(cx: &Cx) -> Result<Self> {
        Ok((A::parse(cx)?, B::parse(cx)?))
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        A::doc(d, g);
        B::doc(d, g);
    }
}

/// 200 with `T` as JSON.
pub struct Json<T>(pub T);
/// 201 with `T` as JSON.
pub struct Created<T>(pub T);

fn json_of<T: Serialize>(status: u16, v: &T) -> Response {
    match serde_json::to_value(v) {
        Ok(v) => send_json(status, &v),
        Err(e) => super::internal_error_response(&Error::internal(format!(
            "cannot render the answer: {e}"
        ))),
    }
}

impl<T: Serialize + JsonSchema + Send + 'static> Output for Json<T> {
    fn into_response(self) -> Response {
        json_of(200, &self.0)
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.responses
            .push((200, json_response("OK", schema_ref::<T>(g))));
    }
}

impl<T: Serialize + JsonSchema + Send + 'static> Output for Created<T> {
    fn into_response(self) -> Response {
        json_of(201, &self.0)
    }
    fn doc(d: &mut OpDoc, g: &mut SchemaGenerator) {
        d.responses
            .push((201, json_response("Created", schema_ref::<T>(g))));
    }
}

/// An HTML page.
pub struct Html {
    pub status: u16,
    pub body: String,
}

impl Output for Html {
    fn into_response(self) -> Response {
        let mut r = respond(self.status, "text/html; charset=utf-8", self.body);
        r.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(super::assets::CSP),
        );
        r
    }
    fn doc(d: &mut OpDoc, _: &mut SchemaGenerator) {
        d.responses.push((
            200,
            json!({"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}),
        ));
    }
}

/// Any answer a handler built itself (redirects, pages, files); documented by the route.
pub struct Raw(pub Response);

impl Output for Raw {
    fn into_response(self) -> Response {
        self.0
    }
    fn doc(_: &mut OpDoc, _: &mut SchemaGenerator) {}
}
