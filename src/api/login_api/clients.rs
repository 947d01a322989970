//! OAuth clients and their secrets (admins only). The rules, the admin check included, live
//! in `core::clients`.

use super::{DefaultReturn, not_null, nullable, without_default};
use crate::api::guard::Admin;
use crate::api::io::{Body, Created, Json, NoInput};
use crate::api::route::Cx;
use crate::core::clients::{
    self, CLIENT_SCOPES, Client, MAX_NAME_LEN, MAX_URLS, NewClient, Update,
};
use crate::core::rfc3339;
use crate::error::Result;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// An OAuth client.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientOut {
    id: String,
    name: String,
    /// Compared exactly at the authorize endpoint.
    redirect_urls: Vec<String>,
    /// A disabled client gets no tokens.
    is_valid: bool,
    /// A confidential client: it must authenticate with one of its secrets.
    requires_secret: bool,
    valid_scopes: Vec<String>,
    /// The user whom client-credentials tokens speak for.
    client_credential_flow_user: Option<String>,
    allow_password_grant: bool,
    /// The RFC 8707 resources it may ask tokens for, besides keyward itself.
    resources: Vec<String>,
    /// One of keyward's own clients (its pages): it cannot be deleted.
    builtin: bool,
}

impl ClientOut {
    fn of(c: &Client) -> ClientOut {
        ClientOut {
            id: c.id.clone(),
            name: c.name.clone(),
            redirect_urls: c.redirect_urls.clone(),
            is_valid: c.is_valid,
            requires_secret: c.requires_secret,
            valid_scopes: c.valid_scopes.clone(),
            client_credential_flow_user: c.client_credential_flow_user.clone(),
            allow_password_grant: c.allow_password_grant,
            resources: c.resources.clone(),
            builtin: c.builtin,
        }
    }
}

/// A new OAuth client; every field but the name has a default.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct NewClientBody {
    #[schemars(length(min = 1, max = MAX_NAME_LEN))]
    name: String,
    /// Absolute http(s) URLs without a fragment; default none.
    #[serde(default)]
    #[schemars(schema_with = "urls")]
    redirect_urls: Option<Vec<String>>,
    /// Default true.
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_valid: Option<bool>,
    /// Default true.
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    requires_secret: Option<bool>,
    /// Default `["login"]`.
    #[serde(default)]
    #[schemars(schema_with = "scopes")]
    valid_scopes: Option<Vec<String>>,
    /// Needs `requiresSecret`.
    client_credential_flow_user: Option<String>,
    /// Default false.
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    allow_password_grant: Option<bool>,
    /// Absolute http(s) URLs; default none (keyward's own URL only).
    #[serde(default)]
    #[schemars(schema_with = "urls")]
    resources: Option<Vec<String>>,
}

/// A change to an OAuth client; a field left out stays as it is. `id` and `builtin`, read-only,
/// are accepted when they match, so that a client read with GET can be sent back.
#[derive(Deserialize, JsonSchema)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    expecting = "a JSON object"
)]
pub struct UpdateClientBody {
    #[schemars(length(min = 1, max = MAX_NAME_LEN))]
    name: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "urls")]
    redirect_urls: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    is_valid: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    requires_secret: Option<bool>,
    #[serde(default)]
    #[schemars(schema_with = "scopes")]
    valid_scopes: Option<Vec<String>>,
    /// null removes the user.
    #[serde(default, deserialize_with = "nullable")]
    #[schemars(with = "Option<String>")]
    client_credential_flow_user: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    #[schemars(with = "bool", transform = without_default)]
    allow_password_grant: Option<bool>,
    #[serde(default)]
    #[schemars(schema_with = "urls")]
    resources: Option<Vec<String>>,
    id: Option<String>,
    builtin: Option<bool>,
}

/// Redirect URLs and resources: absolute http(s) URLs with a host and without a fragment.
fn urls(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["array", "null"],
        "maxItems": MAX_URLS,
        "items": {"type": "string", "format": "uri"},
    })
}

/// The scopes a client may be allowed.
fn scopes(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["array", "null"],
        "items": {"type": "string", "enum": CLIENT_SCOPES},
    })
}

/// A stored client secret: never the secret itself.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOut {
    /// The secret's first characters, to tell secrets apart.
    censored: String,
    /// Names the secret (e.g. to delete it).
    fingerprint: String,
    created_at: String,
}

/// A new client secret; its text is shown this once.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSecretOut {
    secret_text: String,
    censored: String,
    fingerprint: String,
}

pub(super) async fn list(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<Vec<ClientOut>>> {
    let list = clients::list(&cx.app, &p.actor(None)).await?;
    Ok(Json(list.iter().map(ClientOut::of).collect()))
}

pub(super) async fn create(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<NewClientBody>,
) -> Result<Created<ClientOut>> {
    let n = NewClient {
        name: b.name,
        redirect_urls: b.redirect_urls,
        is_valid: b.is_valid,
        requires_secret: b.requires_secret,
        valid_scopes: b.valid_scopes,
        client_credential_flow_user: b.client_credential_flow_user,
        allow_password_grant: b.allow_password_grant,
        resources: b.resources,
    };
    let c = clients::create(&cx.app, &p.actor(cx.address()), n).await?;
    Ok(Created(ClientOut::of(&c)))
}

pub(super) async fn get(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<ClientOut>> {
    let c = clients::show(&cx.app, &p.actor(None), cx.param(0)).await?;
    Ok(Json(ClientOut::of(&c)))
}

pub(super) async fn update(
    cx: Cx,
    Admin(p): Admin,
    Body(b): Body<UpdateClientBody>,
) -> Result<Json<ClientOut>> {
    let u = Update {
        name: b.name,
        redirect_urls: b.redirect_urls,
        is_valid: b.is_valid,
        requires_secret: b.requires_secret,
        valid_scopes: b.valid_scopes,
        client_credential_flow_user: b.client_credential_flow_user,
        allow_password_grant: b.allow_password_grant,
        resources: b.resources,
        builtin: b.builtin,
        id: b.id,
    };
    let c = clients::update(&cx.app, &p.actor(cx.address()), cx.param(0), u).await?;
    Ok(Json(ClientOut::of(&c)))
}

pub(super) async fn delete(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<DefaultReturn>> {
    clients::delete(&cx.app, &p.actor(cx.address()), cx.param(0)).await?;
    Ok(Json(DefaultReturn::of("delete-client")))
}

pub(super) async fn secrets(cx: Cx, Admin(p): Admin, _: NoInput) -> Result<Json<Vec<SecretOut>>> {
    let list = clients::secrets(&cx.app, &p.actor(None), cx.param(0)).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SecretOut {
                censored: s.censored,
                fingerprint: s.fingerprint,
                created_at: rfc3339(s.created_at),
            })
            .collect(),
    ))
}

pub(super) async fn create_secret(
    cx: Cx,
    Admin(p): Admin,
    _: NoInput,
) -> Result<Created<NewSecretOut>> {
    let s = clients::create_secret(&cx.app, &p.actor(cx.address()), cx.param(0)).await?;
    Ok(Created(NewSecretOut {
        secret_text: s.secret_text,
        censored: s.censored,
        fingerprint: s.fingerprint,
    }))
}

pub(super) async fn delete_secret(
    cx: Cx,
    Admin(p): Admin,
    _: NoInput,
) -> Result<Json<DefaultReturn>> {
    clients::delete_secret(&cx.app, &p.actor(cx.address()), cx.param(0), cx.param(1)).await?;
    Ok(Json(DefaultReturn::of("delete-client-secret")))
}
