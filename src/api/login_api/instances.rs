//! Strategy instances: the configured login methods. Anyone may list them (without configs);
//! admins create, read, change and delete them.

use super::strategies::kind_in_path;
use super::{InstanceOut, not_null, nullable, without_default};
use crate::App;
use crate::api::guard::Admin;
use crate::api::io::{Body, Created, Json, NoInput, Query};
use crate::api::route::{Cx, Public};
use crate::core::instances::{self, Flags, Instance, NewInstance, Update};
use crate::error::{Error, Result};
use crate::strategies::Kind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An instance as admins see it: with its config, every secret shown as `**********`.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceWithConfig {
    #[serde(flatten)]
    instance: InstanceOut,
    instance_config: Map<String, Value>,
}

impl InstanceWithConfig {
    fn of(app: &App, i: &Instance) -> InstanceWithConfig {
        InstanceWithConfig {
            instance: InstanceOut::of(app, i),
            // Stored configs are objects: `create` and `update` refuse anything else.
            instance_config: match i.strategy().censor(&i.config) {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }
}

/// A new strategy instance.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct NewInstanceBody {
    /// Unique among instances; optional.
    #[schemars(length(min = 1))]
    name: Option<String>,
    /// The strategy kind; required unless the path names it (the path wins).
    #[serde(rename = "type")]
    kind: Option<Kind>,
    /// The kind's config (see its `instanceConfigSchema`); default `{}`.
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "Map<String, Value>", transform = without_default)]
    instance_config: Option<Map<String, Value>>,
    /// Default: what the strategy can do (likewise the other flags). True where the strategy
    /// cannot do it is a 400.
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_login_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_self_register_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_sync_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    does_implicit_register: Option<bool>,
}

impl NewInstanceBody {
    fn into_new(self, kind: Kind) -> NewInstance {
        NewInstance {
            kind,
            name: self.name,
            config: self.instance_config.map(Value::Object),
            flags: Flags {
                is_login_active: self.is_login_active,
                is_self_register_active: self.is_self_register_active,
                is_sync_active: self.is_sync_active,
                does_implicit_register: self.does_implicit_register,
            },
        }
    }
}

/// A change to a strategy instance. The read-only fields of an instance read with GET
/// (`id`, `callbackUrl`, `createdAt`) are accepted and ignored; `type` must stay the same.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct UpdateInstanceBody {
    /// null removes the name.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    name: Option<Option<String>>,
    #[serde(rename = "type")]
    kind: Option<Kind>,
    /// Secrets still shown as `**********` keep their stored values.
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "Map<String, Value>", transform = without_default)]
    instance_config: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_login_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_self_register_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_sync_active: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    does_implicit_register: Option<bool>,
    /// Read-only, ignored.
    #[allow(dead_code)]
    id: Option<String>,
    /// Read-only, ignored.
    #[allow(dead_code)]
    callback_url: Option<String>,
    /// Read-only, ignored.
    #[allow(dead_code)]
    created_at: Option<String>,
}

/// `DELETE /strategy-instance/{id}` query.
#[derive(Deserialize, JsonSchema)]
pub struct DeleteQuery {
    /// Also remove the identities that use the instance (default false).
    cascade: Option<bool>,
}

fn public_list(app: &App, list: &[Instance]) -> Vec<InstanceOut> {
    list.iter().map(|i| InstanceOut::of(app, i)).collect()
}

pub(super) async fn list(cx: Cx, _: Public, _: NoInput) -> Result<Json<Vec<InstanceOut>>> {
    let list = instances::list(&cx.app, None).await?;
    Ok(Json(public_list(&cx.app, &list)))
}

pub(super) async fn list_of_type(cx: Cx, _: Public, _: NoInput) -> Result<Json<Vec<InstanceOut>>> {
    let kind = kind_in_path(cx.param(0))?;
    let list = instances::list(&cx.app, Some(kind)).await?;
    Ok(Json(public_list(&cx.app, &list)))
}

pub(super) async fn create(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<NewInstanceBody>,
) -> Result<Created<InstanceWithConfig>> {
    let kind = b
        .kind
        .ok_or_else(|| Error::field("type", "must be given"))?;
    let inst = instances::create(&cx.app, &p.actor(cx.address()), b.into_new(kind)).await?;
    Ok(Created(InstanceWithConfig::of(&cx.app, &inst)))
}

pub(super) async fn create_of_type(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<NewInstanceBody>,
) -> Result<Created<InstanceWithConfig>> {
    let name = cx.param(0);
    let kind = Kind::parse(name)
        .ok_or_else(|| Error::field("type", format!(": unknown strategy {name:?}")))?;
    let inst = instances::create(&cx.app, &p.actor(cx.address()), b.into_new(kind)).await?;
    Ok(Created(InstanceWithConfig::of(&cx.app, &inst)))
}

pub(super) async fn get(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<InstanceWithConfig>> {
    let inst = instances::show(&cx.app, &p.actor(None), cx.param(0)).await?;
    Ok(Json(InstanceWithConfig::of(&cx.app, &inst)))
}

pub(super) async fn update(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<UpdateInstanceBody>,
) -> Result<Json<InstanceWithConfig>> {
    let u = Update {
        name: b.name,
        kind: b.kind,
        config: b.instance_config.map(Value::Object),
        flags: Flags {
            is_login_active: b.is_login_active,
            is_self_register_active: b.is_self_register_active,
            is_sync_active: b.is_sync_active,
            does_implicit_register: b.does_implicit_register,
        },
    };
    let inst = instances::update(&cx.app, &p.actor(cx.address()), cx.param(0), u).await?;
    Ok(Json(InstanceWithConfig::of(&cx.app, &inst)))
}

pub(super) async fn delete(
    cx: Cx,
    Admin(p): Admin,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<super::DefaultReturn>> {
    let cascade = q.cascade.unwrap_or(false);
    instances::delete(&cx.app, &p.actor(cx.address()), cx.param(0), cascade).await?;
    Ok(Json(super::DefaultReturn::of("delete-strategy-instance")))
}
