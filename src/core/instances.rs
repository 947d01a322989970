//! Strategy instances: creation with capability checks, updates, and deletion that never locks
//! the installation out.

use super::guard::AdminGuard;
use super::{Actor, new_id};
use crate::App;
use crate::db::Read;
use crate::db::{self, identities, instances::InstanceRow};
use crate::error::{Error, Result, Thing};
use crate::strategies::provider::Failure;
use crate::strategies::{Kind, Strategy};
use serde_json::{Value, json};

/// An instance with its config opened.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub name: Option<String>,
    pub kind: Kind,
    pub config: Value,
    pub is_login_active: bool,
    pub is_self_register_active: bool,
    pub is_sync_active: bool,
    pub does_implicit_register: bool,
    pub created_at: i64,
}

impl Instance {
    pub fn strategy(&self) -> &'static dyn Strategy {
        self.kind.strategy()
    }
}

/// The four flags of an instance, each optional in a request.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flags {
    pub is_login_active: Option<bool>,
    pub is_self_register_active: Option<bool>,
    pub is_sync_active: Option<bool>,
    pub does_implicit_register: Option<bool>,
}

/// The name under which the default password instance is created on first start.
pub const DEFAULT_USERPASS: &str = "local";
/// The passkey instance made at the first start: passkeys are registered under it.
pub const DEFAULT_PASSKEY: &str = "passkey";

fn config_context(id: &str) -> String {
    format!("instance-config:{id}")
}

pub fn open_row(app: &App, row: InstanceRow) -> Result<Instance> {
    let plain = app.master.open(&config_context(&row.id), &row.config)?;
    let config = serde_json::from_slice(&plain)
        .map_err(|e| Error::internal(format!("stored config is not JSON: {e}")))?;
    Ok(Instance {
        id: row.id,
        name: row.name,
        kind: row.kind,
        config,
        is_login_active: row.is_login_active,
        is_self_register_active: row.is_self_register_active,
        is_sync_active: row.is_sync_active,
        does_implicit_register: row.does_implicit_register,
        created_at: row.created_at,
    })
}

fn seal_row(app: &App, i: &Instance) -> InstanceRow {
    InstanceRow {
        id: i.id.clone(),
        name: i.name.clone(),
        kind: i.kind,
        config: app
            .master
            .seal(&config_context(&i.id), i.config.to_string().as_bytes()),
        is_login_active: i.is_login_active,
        is_self_register_active: i.is_self_register_active,
        is_sync_active: i.is_sync_active,
        does_implicit_register: i.does_implicit_register,
        created_at: i.created_at,
    }
}

/// A flag's value: the request's, or by default what the strategy can do. True is refused
/// where the strategy cannot do it.
fn flag(field: &str, requested: Option<bool>, capable: bool, s: &dyn Strategy) -> Result<bool> {
    match requested {
        Some(true) if !capable => Err(Error::field(
            field,
            format!(
                "cannot be true: the {} strategy does not support it",
                s.type_name()
            ),
        )),
        Some(v) => Ok(v),
        None => Ok(capable),
    }
}

fn apply_flags(i: &mut Instance, f: Flags, defaults_from_capability: bool) -> Result<()> {
    let s = i.kind.strategy();
    let keep = |req: Option<bool>, cur: bool| {
        if defaults_from_capability {
            req
        } else {
            Some(req.unwrap_or(cur))
        }
    };
    i.is_login_active = flag(
        "isLoginActive",
        keep(f.is_login_active, i.is_login_active),
        s.caps().can_login,
        s,
    )?;
    i.is_self_register_active = flag(
        "isSelfRegisterActive",
        keep(f.is_self_register_active, i.is_self_register_active),
        s.caps().can_login_register,
        s,
    )?;
    i.is_sync_active = flag(
        "isSyncActive",
        keep(f.is_sync_active, i.is_sync_active),
        s.caps().can_sync,
        s,
    )?;
    i.does_implicit_register = flag(
        "doesImplicitRegister",
        keep(f.does_implicit_register, i.does_implicit_register),
        s.caps().allows_implicit_signup,
        s,
    )?;
    Ok(())
}

fn check_name(name: &Option<String>) -> Result<()> {
    if let Some(n) = name {
        super::check_no_control("name", n)?;
        if n.trim().is_empty() {
            return Err(Error::field("name", "must not be empty"));
        }
    }
    Ok(())
}

/// A new instance: its kind, and what the request said of the rest.
pub struct NewInstance {
    pub kind: Kind,
    pub name: Option<String>,
    /// Default: `{}`.
    pub config: Option<Value>,
    /// A flag left out defaults to what the strategy can do.
    pub flags: Flags,
}

pub async fn create(app: &App, actor: &Actor, n: NewInstance) -> Result<Instance> {
    require_admin(actor)?;
    check_name(&n.name)?;
    let config = n.config.unwrap_or_else(|| json!({}));
    n.kind.strategy().check_config(&config)?;
    check_provider(app, n.kind, &config, None).await?;
    let mut inst = Instance {
        id: new_id(),
        name: n.name,
        kind: n.kind,
        config,
        is_login_active: false,
        is_self_register_active: false,
        is_sync_active: false,
        does_implicit_register: false,
        created_at: 0,
    };
    apply_flags(&mut inst, n.flags, true)?;
    let (app2, actor) = (app.clone(), actor.clone());
    app.db
        .write(move |tx| {
            inst.created_at = tx.now;
            let row = seal_row(&app2, &inst);
            db::instances::insert(tx, &row)?;
            actor.audit(
                tx,
                "strategy-instance.create",
                Some(&row.id),
                json!({"type": row.kind, "name": row.name}),
            )?;
            Ok(inst)
        })
        .await
}

fn require_admin(actor: &Actor) -> Result<()> {
    if actor.is_admin {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only admins may manage strategy instances",
        ))
    }
}

/// An instance as an admin reads it, config included (the public lists leave configs out).
pub async fn show(app: &App, actor: &Actor, id: &str) -> Result<Instance> {
    require_admin(actor)?;
    get(app, id).await
}

pub async fn get(app: &App, id: &str) -> Result<Instance> {
    let id = id.to_string();
    let row = app
        .db
        .read(move |c| db::instances::get(c, &id))
        .await?
        .ok_or_else(|| Error::not_found(Thing::Instance, "strategy instance not found"))?;
    open_row(app, row)
}

pub async fn list(app: &App, kind: Option<Kind>) -> Result<Vec<Instance>> {
    let rows = app.db.read(move |c| db::instances::list(c, kind)).await?;
    rows.into_iter().map(|r| open_row(app, r)).collect()
}

/// Finds an instance by id or, failing that, by name.
pub async fn by_id_or_name(app: &App, key: &str) -> Result<Option<Instance>> {
    let key = key.to_string();
    let row = app
        .db
        .read(move |c| {
            Ok(match db::instances::get(c, &key)? {
                Some(r) => Some(r),
                None => db::instances::by_name(c, &key)?,
            })
        })
        .await?;
    row.map(|r| open_row(app, r)).transpose()
}

/// The instance that `POST /user` with a password and the password grant use by default:
/// the userpass instance named `local`, else the oldest userpass instance.
pub fn default_userpass(app: &App, c: &Read) -> Result<Option<Instance>> {
    if let Some(r) = db::instances::by_name(c, DEFAULT_USERPASS)?
        && r.kind == Kind::Userpass
    {
        return Ok(Some(open_row(app, r)?));
    }
    let first = db::instances::list(c, Some(Kind::Userpass))?
        .into_iter()
        .next();
    first.map(|r| open_row(app, r)).transpose()
}

/// For an `oidc` config whose issuer is new (not `known`): fetches the issuer's discovery
/// document, which must be reachable and name that issuer. Returns the issuer it checked.
async fn check_provider(
    app: &App,
    kind: Kind,
    config: &Value,
    known: Option<&str>,
) -> Result<Option<String>> {
    if kind != Kind::Oidc {
        return Ok(None);
    }
    let Some(issuer) = crate::strategies::oidc::issuer_of(config) else {
        return Ok(None);
    };
    if known == Some(issuer) {
        return Ok(None);
    }
    match crate::strategies::oidc::discover(&app.upstream, issuer, true).await {
        Ok(_) => Ok(Some(issuer.to_string())),
        Err(Failure::Unreachable(m)) => Err(Error::field(
            "instanceConfig.issuer",
            format!(": the provider cannot be reached ({m})"),
        )),
        Err(f) => Err(Error::field(
            "instanceConfig.issuer",
            format!(
                ": the provider's discovery document is not usable: {}",
                f.detail()
            ),
        )),
    }
}

/// A change to an instance: None leaves a field as it is.
#[derive(Default)]
pub struct Update {
    /// Some(None) removes the name.
    pub name: Option<Option<String>>,
    /// Read-only: accepted only when it is the instance's, so an instance read with GET can be
    /// sent back.
    pub kind: Option<Kind>,
    pub config: Option<Value>,
    pub flags: Flags,
}

/// Changes an instance: the row is read, changed and written in one transaction, so two
/// concurrent updates each apply to what the other wrote and neither is lost.
pub async fn update(app: &App, actor: &Actor, id: &str, u: Update) -> Result<Instance> {
    require_admin(actor)?;
    // A new OIDC issuer is checked with the provider before the transaction (which must not
    // wait for the network); the transaction then refuses an issuer that changed meanwhile.
    let mut checked_issuer = None;
    if let Some(config) = u.config.as_ref().filter(|c| c.is_object()) {
        let current = get(app, id).await?;
        if current.kind == Kind::Oidc {
            let mut config = config.clone();
            current
                .strategy()
                .restore_secrets(&mut config, &current.config);
            current.strategy().check_config(&config)?;
            let known = crate::strategies::oidc::issuer_of(&current.config);
            checked_issuer = check_provider(app, current.kind, &config, known).await?;
        }
    }
    let (app2, actor, id) = (app.clone(), actor.clone(), id.to_string());
    app.db
        .write(move |tx| {
            let row = db::instances::get(tx, &id)?
                .ok_or_else(|| Error::not_found(Thing::Instance, "strategy instance not found"))?;
            let mut inst = open_row(&app2, row)?;
            if u.kind.is_some_and(|k| k != inst.kind) {
                return Err(Error::field("type", "cannot change"));
            }
            if let Some(name) = u.name {
                check_name(&name)?;
                inst.name = name;
            }
            if let Some(mut config) = u.config {
                let s = inst.strategy();
                if config.is_object() {
                    s.restore_secrets(&mut config, &inst.config);
                }
                s.check_config(&config)?;
                let issuer = |c: &Value| crate::strategies::oidc::issuer_of(c).map(str::to_string);
                if inst.kind == Kind::Oidc
                    && issuer(&config) != issuer(&inst.config)
                    && issuer(&config) != checked_issuer
                {
                    return Err(Error::conflict(
                        "the instance's issuer changed meanwhile; try again",
                    ));
                }
                inst.config = config;
            }
            apply_flags(&mut inst, u.flags, false)?;
            db::instances::update(tx, &seal_row(&app2, &inst))?;
            actor.audit(tx, "strategy-instance.update", Some(&inst.id), json!({}))?;
            Ok(inst)
        })
        .await
}

/// Deletes an instance. While identities use it this needs `cascade`, which removes them too;
/// either way it is refused when it would leave no admin with a way to log in.
pub async fn delete(app: &App, actor: &Actor, id: &str, cascade: bool) -> Result<()> {
    require_admin(actor)?;
    let id = id.to_string();
    let actor = actor.clone();
    app.db
        .write(move |tx| {
            if db::instances::get(tx, &id)?.is_none() {
                return Err(Error::not_found(Thing::Instance, "strategy instance not found"));
            }
            let used = identities::count_for_instance(tx, &id)?;
            if used > 0 && !cascade {
                return Err(Error::conflict(format!(
                    "the strategy instance is used by {used} identities; delete with ?cascade=true to remove them too"
                )));
            }
            let admins = AdminGuard::new(tx)?;
            identities::delete_for_instance(tx, &id)?;
            db::instances::delete(tx, &id)?;
            admins.check(tx, "this would remove the last admin's last login method")?;
            actor.audit(
                tx,
                "strategy-instance.delete",
                Some(&id),
                json!({"cascade": cascade, "identitiesRemoved": used}),
            )
        })
        .await
}
