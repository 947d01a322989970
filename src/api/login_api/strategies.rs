//! `GET /strategy`, `GET /strategy/{type}`: the strategy kinds and what each can do.

use crate::api::io::{Json, NoInput};
use crate::api::route::{Cx, Public};
use crate::error::{Error, Result, Thing};
use crate::strategies::{self, Kind, Strategy};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// A strategy kind and what it can do.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrategyOut {
    type_name: Kind,
    can_login_register: bool,
    can_sync: bool,
    needs_redirect_flow: bool,
    allows_implicit_signup: bool,
    /// What a login form for it asks for.
    accepts_variables: Vec<Variable>,
    /// The JSON Schema of an instance's `instanceConfig`.
    instance_config_schema: Value,
}

/// One input of a login form.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    name: &'static str,
    display_name: &'static str,
    /// `string` or `password`.
    #[serde(rename = "type")]
    kind: &'static str,
}

impl StrategyOut {
    fn of(s: &dyn Strategy) -> StrategyOut {
        let caps = s.caps();
        StrategyOut {
            type_name: s.kind(),
            can_login_register: caps.can_login_register,
            can_sync: caps.can_sync,
            needs_redirect_flow: caps.needs_redirect_flow,
            allows_implicit_signup: caps.allows_implicit_signup,
            accepts_variables: caps
                .accepts_variables
                .iter()
                .map(|&(name, display_name, kind)| Variable {
                    name,
                    display_name,
                    kind,
                })
                .collect(),
            instance_config_schema: s.config_schema(),
        }
    }
}

/// The strategy kind a path names; 404 when there is none.
pub(super) fn kind_in_path(name: &str) -> Result<Kind> {
    Kind::parse(name)
        .ok_or_else(|| Error::not_found(Thing::Strategy, format!("unknown strategy {name:?}")))
}

pub(super) async fn list(_: Cx, _: Public, _: NoInput) -> Result<Json<Vec<StrategyOut>>> {
    Ok(Json(strategies::all().map(StrategyOut::of).collect()))
}

pub(super) async fn get(cx: Cx, _: Public, _: NoInput) -> Result<Json<StrategyOut>> {
    let kind = kind_in_path(cx.param(0))?;
    Ok(Json(StrategyOut::of(kind.strategy())))
}
