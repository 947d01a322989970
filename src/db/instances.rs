//! Strategy instances: configured login methods. The config column is sealed by the core.

use super::{Read, Write};
use crate::error::Result;
use rusqlite::{OptionalExtension, Row, params};

#[derive(Debug, Clone)]
pub struct InstanceRow {
    pub id: String,
    pub name: Option<String>,
    pub kind: crate::strategies::Kind,
    pub config: Vec<u8>,
    pub is_login_active: bool,
    pub is_self_register_active: bool,
    pub is_sync_active: bool,
    pub does_implicit_register: bool,
    pub created_at: i64,
}

const COLS: &str = "id, name, type, config, is_login_active, is_self_register_active, \
                    is_sync_active, does_implicit_register, created_at";

fn from_row(r: &Row) -> rusqlite::Result<InstanceRow> {
    Ok(InstanceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        config: r.get(3)?,
        is_login_active: r.get(4)?,
        is_self_register_active: r.get(5)?,
        is_sync_active: r.get(6)?,
        does_implicit_register: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub fn get(c: &Read, id: &str) -> Result<Option<InstanceRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM strategy_instances WHERE id = ?1"
    ))?;
    Ok(st.query_row(params![id], from_row).optional()?)
}

pub fn by_name(c: &Read, name: &str) -> Result<Option<InstanceRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM strategy_instances WHERE name = ?1"
    ))?;
    Ok(st.query_row(params![name], from_row).optional()?)
}

/// All instances, or those of one type, oldest first.
pub fn list(c: &Read, kind: Option<crate::strategies::Kind>) -> Result<Vec<InstanceRow>> {
    let mut st = c.prepare_cached(&format!(
        "SELECT {COLS} FROM strategy_instances WHERE ?1 IS NULL OR type = ?1 ORDER BY created_at, id"
    ))?;
    let rows = st.query_map(params![kind], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn insert(c: &Write, i: &InstanceRow) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO strategy_instances ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            i.id,
            i.name,
            i.kind,
            i.config,
            i.is_login_active,
            i.is_self_register_active,
            i.is_sync_active,
            i.does_implicit_register,
            i.created_at
        ],
    )
    .map_err(|e| super::unique_or(e, "a strategy instance with this name already exists"))?;
    Ok(())
}

pub fn update(c: &Write, i: &InstanceRow) -> Result<()> {
    c.execute(
        "UPDATE strategy_instances SET name = ?2, config = ?3, is_login_active = ?4,
         is_self_register_active = ?5, is_sync_active = ?6, does_implicit_register = ?7
         WHERE id = ?1",
        params![
            i.id,
            i.name,
            i.config,
            i.is_login_active,
            i.is_self_register_active,
            i.is_sync_active,
            i.does_implicit_register
        ],
    )
    .map_err(|e| super::unique_or(e, "a strategy instance with this name already exists"))?;
    Ok(())
}

pub fn delete(c: &Write, id: &str) -> Result<bool> {
    Ok(c.execute("DELETE FROM strategy_instances WHERE id = ?1", params![id])? > 0)
}
