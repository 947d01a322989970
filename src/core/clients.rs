//! OAuth clients: validation, the admin operations, client secrets, and client authentication
//! for the token endpoint.
//!
//! A client secret is 32 random bytes (base64url), stored only as its SHA-256 digest. Its
//! `fingerprint` is the base64url (no padding) of the first 12 bytes of that digest, 16
//! characters: it names the secret in the API and is the key under which the token endpoint
//! finds it, and it reveals nothing useful about a 256-bit secret. `censored` is the secret's
//! first 4 characters and "…", so that an admin can tell secrets apart.

use super::{Actor, new_id};
use crate::App;
use crate::auth::secret::{b64, digest, digest_eq, random_token};
use crate::db::{self, clients::ClientRow, clients::SecretRow};
use crate::db::{Read, Write};
use crate::error::{Error, Reason, Result, Thing};
use serde_json::json;

/// The scopes a client may be allowed. `login-register` is missing on purpose: only register
/// tokens carry it, and no client may ask for it.
pub const CLIENT_SCOPES: &[&str] = &[
    "login",
    "openid",
    "profile",
    "email",
    "read:current_user",
    "update:current_user_identities",
    "read:users",
    "update:users",
    "sync",
];

/// The public clients of keyward's own pages.
pub const ACCOUNT_CLIENT: &str = "keyward-account";
pub const ADMIN_CLIENT: &str = "keyward-admin";

/// `(id, name, path)` of each built-in client; its one redirect URL is `{public_url}{path}`.
const BUILTINS: &[(&str, &str, &str)] = &[
    (ACCOUNT_CLIENT, "Account page", "/account"),
    (ADMIN_CLIENT, "Admin console", "/admin"),
];

pub const MAX_NAME_LEN: usize = 200;
/// The most redirect URLs, and the most resources, a client may have.
pub const MAX_URLS: usize = 100;
const MAX_URL_LEN: usize = 2048;

/// A client as the core hands it out: its row, with the redirect URLs of a built-in client
/// computed from the public URL (see `open_row`).
pub type Client = ClientRow;

impl Client {
    /// Redirect URIs match exactly, as OAuth 2.1 requires: no prefix or pattern matching.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_urls.iter().any(|u| u == uri)
    }

    pub fn allows_scope(&self, scope: &str) -> bool {
        self.valid_scopes.iter().any(|s| s == scope)
    }

    /// Whether the client may ask for tokens whose audience is `resource` (RFC 8707): one of
    /// its `resources`, or keyward's own public URL, which every client may ask for. The
    /// comparison is exact, as the audience check of a resource server is.
    pub fn allows_resource(&self, public_url: &str, resource: &str) -> bool {
        resource == public_url || self.resources.iter().any(|r| r == resource)
    }
}

/// The redirect URLs of a built-in client, computed from the public URL at read time so they
/// stay right when the public URL changes between runs (and, on a loopback server reached
/// through its address, from that origin too: see `AppState::local_origin`).
fn builtin_redirects(app: &App, id: &str) -> Option<Vec<String>> {
    BUILTINS
        .iter()
        .find(|(bid, _, _)| *bid == id)
        .map(|(_, _, path)| {
            std::iter::once(&app.public_url)
                .chain(app.local_origin.as_ref())
                .map(|base| format!("{base}{path}"))
                .collect()
        })
}

fn open_row(app: &App, mut r: ClientRow) -> Client {
    if r.builtin
        && let Some(urls) = builtin_redirects(app, &r.id)
    {
        r.redirect_urls = urls;
    }
    r
}

/// Creates the built-in clients that are missing. They cannot be deleted through the API, so
/// this is a no-op after the first start; it runs in `ensure_defaults`' transaction.
pub fn ensure_builtin(tx: &Write) -> Result<()> {
    for (id, name, _) in BUILTINS {
        if db::clients::get(tx, id)?.is_none() {
            db::clients::insert(
                tx,
                &ClientRow {
                    id: id.to_string(),
                    name: name.to_string(),
                    // Computed at read time, see `builtin_redirects`.
                    redirect_urls: Vec::new(),
                    is_valid: true,
                    requires_secret: false,
                    valid_scopes: vec!["login".into()],
                    client_credential_flow_user: None,
                    allow_password_grant: false,
                    builtin: true,
                    created_at: tx.now,
                    resources: Vec::new(),
                },
            )?;
        }
    }
    Ok(())
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin {
        Ok(())
    } else {
        Err(Error::forbidden("only admins may manage OAuth clients"))
    }
}

fn check_name(name: &str) -> Result<String> {
    super::check_no_control("name", name)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::field("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(Error::field(
            "name",
            format!("must be at most {MAX_NAME_LEN} characters long"),
        ));
    }
    Ok(name.to_string())
}

/// Redirect URLs (`field` redirectUrls) and resources (`field` resources) are absolute http or
/// https URLs with a host and without a fragment (RFC 6749 3.1.2, RFC 8707 2). Other schemes
/// (`javascript:`, `data:`, custom app schemes) are refused. They are stored exactly as given,
/// because the authorize endpoint and resource servers compare them exactly.
fn check_urls(field: &str, urls: &[String]) -> Result<()> {
    if urls.len() > MAX_URLS {
        return Err(Error::field(
            field,
            format!(": at most {MAX_URLS} URLs are allowed"),
        ));
    }
    for u in urls {
        super::check_no_control(field, u)?;
        // url::Url::parse would quietly trim these, and the stored text would then never match.
        if u.len() > MAX_URL_LEN || u.chars().any(char::is_whitespace) {
            return Err(Error::field(field, format!(": {u:?} is not a valid URL")));
        }
        let parsed = url::Url::parse(u)
            .ok()
            .filter(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
            .ok_or_else(|| {
                Error::field(
                    field,
                    format!(": {u:?} is not an absolute http or https URL"),
                )
            })?;
        if parsed.fragment().is_some() {
            return Err(Error::field(
                field,
                format!(": {u:?} must not have a fragment"),
            ));
        }
    }
    Ok(())
}

/// Checks the scopes and drops duplicates, keeping the order.
fn check_scopes(scopes: Vec<String>) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes {
        if !CLIENT_SCOPES.contains(&s.as_str()) {
            return Err(Error::bad_request(if s == "login-register" {
                "validScopes: login-register is not a client scope".to_string()
            } else {
                format!(
                    "validScopes: unknown scope {s:?}; known scopes are {}",
                    CLIENT_SCOPES.join(", ")
                )
            }));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// The rules that relate fields to each other and to other rows; run inside the transaction
/// that writes the row, so that the user cannot vanish in between.
fn check_row(c: &Read, r: &ClientRow) -> Result<()> {
    if let Some(user) = &r.client_credential_flow_user {
        if !r.requires_secret {
            return Err(Error::bad_request(
                "clientCredentialFlowUser requires requiresSecret to be true",
            ));
        }
        if db::users::get(c, user)?.is_none() {
            return Err(Error::field("clientCredentialFlowUser", ": no such user"));
        }
    }
    if r.builtin && r.requires_secret {
        return Err(Error::bad_request(
            "requiresSecret: built-in clients are public clients of keyward's own pages",
        ));
    }
    Ok(())
}

fn not_found() -> Error {
    Error::not_found(Thing::Client, "client not found")
}

/// Every client, for an admin.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<Client>> {
    require_admin(actor)?;
    let rows = app.db.read(db::clients::list).await?;
    Ok(rows.into_iter().map(|r| open_row(app, r)).collect())
}

/// A client by id, for an admin (404).
pub async fn show(app: &App, actor: &Actor, id: &str) -> Result<Client> {
    require_admin(actor)?;
    get(app, id).await
}

/// A client by id (404), e.g. for the authorize endpoint. A disabled client is returned too:
/// callers check `is_valid`.
pub async fn get(app: &App, id: &str) -> Result<Client> {
    let id = id.to_string();
    let row = app.db.read(move |c| db::clients::get(c, &id)).await?;
    row.map(|r| open_row(app, r)).ok_or_else(not_found)
}

/// A new client; every field but the name has a default.
pub struct NewClient {
    pub name: String,
    /// Default: none.
    pub redirect_urls: Option<Vec<String>>,
    /// Default: true.
    pub is_valid: Option<bool>,
    /// Default: true.
    pub requires_secret: Option<bool>,
    /// Default: `["login"]`.
    pub valid_scopes: Option<Vec<String>>,
    pub client_credential_flow_user: Option<String>,
    /// Default: false.
    pub allow_password_grant: Option<bool>,
    /// Default: none (keyward's own URL only).
    pub resources: Option<Vec<String>>,
}

pub async fn create(app: &App, actor: &Actor, n: NewClient) -> Result<Client> {
    require_admin(actor)?;
    let redirect_urls = n.redirect_urls.unwrap_or_default();
    check_urls("redirectUrls", &redirect_urls)?;
    let resources = n.resources.unwrap_or_default();
    check_urls("resources", &resources)?;
    let row = ClientRow {
        id: new_id(),
        name: check_name(&n.name)?,
        redirect_urls,
        is_valid: n.is_valid.unwrap_or(true),
        requires_secret: n.requires_secret.unwrap_or(true),
        valid_scopes: check_scopes(n.valid_scopes.unwrap_or_else(|| vec!["login".into()]))?,
        client_credential_flow_user: n.client_credential_flow_user,
        allow_password_grant: n.allow_password_grant.unwrap_or(false),
        builtin: false,
        created_at: 0,
        resources,
    };
    let actor = actor.clone();
    let row = app
        .db
        .write(move |tx| {
            let row = ClientRow {
                created_at: tx.now,
                ..row
            };
            check_row(tx, &row)?;
            db::clients::insert(tx, &row)?;
            actor.audit(
                tx,
                "client.create",
                Some(&row.id),
                json!({
                    "name": row.name,
                    "redirectUrls": row.redirect_urls,
                    "isValid": row.is_valid,
                    "requiresSecret": row.requires_secret,
                    "validScopes": row.valid_scopes,
                    "clientCredentialFlowUser": row.client_credential_flow_user,
                    "allowPasswordGrant": row.allow_password_grant,
                    "resources": row.resources,
                }),
            )?;
            Ok(row)
        })
        .await?;
    Ok(open_row(app, row))
}

/// A change to a client: None leaves a field as it is.
#[derive(Debug, Default)]
pub struct Update {
    pub name: Option<String>,
    pub redirect_urls: Option<Vec<String>>,
    pub is_valid: Option<bool>,
    pub requires_secret: Option<bool>,
    pub valid_scopes: Option<Vec<String>>,
    /// Some(None) removes the user.
    pub client_credential_flow_user: Option<Option<String>>,
    pub allow_password_grant: Option<bool>,
    pub resources: Option<Vec<String>>,
    /// Read-only, like `id`: accepted only when it matches, so a client read with GET can be
    /// sent back.
    pub builtin: Option<bool>,
    pub id: Option<String>,
}

pub async fn update(app: &App, actor: &Actor, id: &str, u: Update) -> Result<Client> {
    require_admin(actor)?;
    if u.id.as_ref().is_some_and(|given| given != id) {
        return Err(Error::field("id", "cannot be changed"));
    }
    let name = u.name.as_deref().map(check_name).transpose()?;
    if let Some(urls) = &u.redirect_urls {
        check_urls("redirectUrls", urls)?;
    }
    if let Some(urls) = &u.resources {
        check_urls("resources", urls)?;
    }
    let valid_scopes = u.valid_scopes.map(check_scopes).transpose()?;
    let (id, actor, app2) = (id.to_string(), actor.clone(), app.clone());
    let row = app
        .db
        .write(move |tx| {
            let mut row = db::clients::get(tx, &id)?.ok_or_else(not_found)?;
            if u.builtin.is_some_and(|b| b != row.builtin) {
                return Err(Error::field("builtin", "cannot be changed"));
            }
            let mut changed = Vec::new();
            if let Some(v) = name {
                row.name = v;
                changed.push("name");
            }
            if let Some(v) = u.redirect_urls {
                match builtin_redirects(&app2, &row.id).filter(|_| row.builtin) {
                    // Sending back the computed URLs is no change; anything else is refused.
                    Some(fixed) if fixed == v => {}
                    Some(_) => {
                        return Err(Error::bad_request(
                            "redirectUrls: a built-in client's redirect URLs follow the public URL and cannot be changed",
                        ));
                    }
                    None => {
                        row.redirect_urls = v;
                        changed.push("redirectUrls");
                    }
                }
            }
            if let Some(v) = u.is_valid {
                row.is_valid = v;
                changed.push("isValid");
            }
            if let Some(v) = u.requires_secret {
                row.requires_secret = v;
                changed.push("requiresSecret");
            }
            if let Some(v) = valid_scopes {
                row.valid_scopes = v;
                changed.push("validScopes");
            }
            if let Some(v) = u.client_credential_flow_user {
                row.client_credential_flow_user = v;
                changed.push("clientCredentialFlowUser");
            }
            if let Some(v) = u.allow_password_grant {
                row.allow_password_grant = v;
                changed.push("allowPasswordGrant");
            }
            if let Some(v) = u.resources {
                row.resources = v;
                changed.push("resources");
            }
            check_row(tx, &row)?;
            db::clients::update(tx, &row)?;
            actor.audit(
                tx,
                "client.update",
                Some(&row.id),
                json!({ "changed": changed }),
            )?;
            Ok(row)
        })
        .await?;
    Ok(open_row(app, row))
}

/// Deletes a client with its secrets; built-in clients cannot be deleted (409).
pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    require_admin(actor)?;
    let (id, actor) = (id.to_string(), actor.clone());
    app.db
        .write(move |tx| {
            let row = db::clients::get(tx, &id)?.ok_or_else(not_found)?;
            if row.builtin {
                return Err(Error::conflict(
                    "built-in clients cannot be deleted: keyward's own pages use them",
                ));
            }
            db::clients::delete(tx, &id)?;
            actor.audit(tx, "client.delete", Some(&id), json!({"name": row.name}))
        })
        .await
}

/// The fingerprint of a secret: see the module documentation.
pub fn fingerprint(secret: &str) -> String {
    fingerprint_of_digest(&digest(secret))
}

fn fingerprint_of_digest(d: &[u8]) -> String {
    b64(&d[..12.min(d.len())])
}

/// A secret as it is shown once, on creation.
#[derive(Debug, Clone)]
pub struct NewSecret {
    pub secret_text: String,
    pub censored: String,
    pub fingerprint: String,
}

/// A stored secret as it can be listed: never the secret itself.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    pub censored: String,
    pub fingerprint: String,
    pub created_at: i64,
}

/// Makes a new secret for a client; its text is returned here and never again.
pub async fn create_secret(app: &App, actor: &Actor, client_id: &str) -> Result<NewSecret> {
    require_admin(actor)?;
    let text = random_token(32);
    let d = digest(&text);
    let row = SecretRow {
        fingerprint: fingerprint_of_digest(&d),
        client_id: client_id.to_string(),
        digest: d,
        censored: format!("{}…", text.chars().take(4).collect::<String>()),
        created_at: 0,
    };
    let out = NewSecret {
        secret_text: text,
        censored: row.censored.clone(),
        fingerprint: row.fingerprint.clone(),
    };
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            let row = SecretRow {
                created_at: tx.now,
                ..row
            };
            db::clients::get(tx, &row.client_id)?.ok_or_else(not_found)?;
            db::clients::insert_secret(tx, &row)?;
            actor.audit(
                tx,
                "client-secret.create",
                Some(&row.client_id),
                json!({"fingerprint": row.fingerprint}),
            )
        })
        .await?;
    Ok(out)
}

/// A client's secrets, censored, oldest first, for an admin; 404 when there is no such client.
pub async fn secrets(app: &App, actor: &Actor, client_id: &str) -> Result<Vec<SecretInfo>> {
    require_admin(actor)?;
    let id = client_id.to_string();
    let rows = app
        .db
        .read(move |c| {
            db::clients::get(c, &id)?.ok_or_else(not_found)?;
            db::clients::secrets(c, &id)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|s| SecretInfo {
            censored: s.censored,
            fingerprint: s.fingerprint,
            created_at: s.created_at,
        })
        .collect())
}

/// Deletes one of a client's secrets by its fingerprint; 404 for an unknown client or secret.
pub async fn delete_secret(
    app: &App,
    actor: &Actor,
    client_id: &str,
    fingerprint: &str,
) -> Result<()> {
    require_admin(actor)?;
    let (id, fp, actor) = (
        client_id.to_string(),
        fingerprint.to_string(),
        actor.clone(),
    );
    app.db
        .write(move |tx| {
            db::clients::get(tx, &id)?.ok_or_else(not_found)?;
            if !db::clients::delete_secret(tx, &id, &fp)? {
                return Err(Error::not_found(Thing::Secret, "client secret not found"));
            }
            actor.audit(
                tx,
                "client-secret.delete",
                Some(&id),
                json!({"fingerprint": fp}),
            )
        })
        .await
}

/// Client authentication for the token and introspection endpoints. Every failure is a 401
/// with the OAuth code `invalid_client`. A client that requires a secret must present one of
/// its secrets; a public client may present none, but a secret that is presented must be right.
/// An empty secret counts as none (some libraries send `client_secret=` for public clients).
///
/// One read with two primary-key lookups and a constant-time digest comparison: no cache, so
/// a change made by another process (the CLI) takes effect at once.
pub async fn authenticate(app: &App, client_id: &str, secret: Option<&str>) -> Result<Client> {
    let refused = |why: &str| Error::new(Reason::ClientUnauthenticated, why);
    let presented = secret.filter(|s| !s.is_empty()).map(digest);
    let fp = presented.as_deref().map(fingerprint_of_digest);
    let key = (client_id.to_string(), fp);
    let (row, stored) = match app.caches.clients.get(&app.db, &key) {
        Some(found) => found,
        None => {
            let generation = app.db.generation();
            let (id, fp) = key.clone();
            let found = app
                .db
                .read(move |c| db::clients::for_auth(c, &id, fp.as_deref()))
                .await?
                .ok_or_else(|| refused("unknown client"))?;
            app.caches.clients.put(generation, key, found.clone());
            found
        }
    };
    if !row.is_valid {
        return Err(refused("the client is disabled"));
    }
    match (presented, stored) {
        (Some(p), Some(s)) if digest_eq(&s, &p) => {}
        (Some(_), _) => return Err(refused("wrong client secret")),
        (None, _) if row.requires_secret => {
            return Err(refused("this client must authenticate with a secret"));
        }
        (None, _) => {}
    }
    Ok(open_row(app, row))
}
