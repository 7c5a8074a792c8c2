//! Label templates on SQLite: plain versioned rows.

use rusqlite::{Connection, OptionalExtension, Row, params};
use threadline_store::{LabelTemplateRecord, LabelTemplateWrite, StoreError};

use crate::{db, from_micros, micros};

const COLUMNS: &str = "name, definition, version, updated_at, updated_by";

fn row(r: &Row<'_>) -> rusqlite::Result<(String, String, i64, i64, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn record(
    (name, definition, version, at, by): (String, String, i64, i64, String),
) -> Result<LabelTemplateRecord, StoreError> {
    Ok(LabelTemplateRecord {
        name,
        definition: serde_json::from_str(&definition)
            .map_err(|e| StoreError::Database(format!("stored label template: {e}")))?,
        version: u32::try_from(version).unwrap_or(0),
        updated_at: from_micros(at),
        updated_by: by,
    })
}

pub fn list(c: &Connection) -> Result<Vec<LabelTemplateRecord>, StoreError> {
    let mut st = c
        .prepare(&format!(
            "SELECT {COLUMNS} FROM label_templates ORDER BY name"
        ))
        .map_err(db)?;
    let rows = st.query_map([], row).map_err(db)?;
    rows.map(|r| r.map_err(db).and_then(record)).collect()
}

pub fn get(c: &Connection, name: &str) -> Result<Option<LabelTemplateRecord>, StoreError> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM label_templates WHERE name = ?1"),
        [name],
        row,
    )
    .optional()
    .map_err(db)?
    .map(record)
    .transpose()
}

pub fn put(c: &Connection, w: &LabelTemplateWrite) -> Result<LabelTemplateRecord, StoreError> {
    let body = w.definition.to_string();
    let version = match w.replaces {
        None => {
            let n = c
                .execute(
                    "INSERT INTO label_templates (name, definition, version, updated_at, updated_by)
                     VALUES (?1, ?2, 1, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                    params![w.name, body, micros(w.now), w.actor],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(w.taken());
            }
            1
        }
        Some(v) => {
            let n = c
                .execute(
                    "UPDATE label_templates SET definition = ?2, version = version + 1, updated_at = ?3, updated_by = ?4
                     WHERE name = ?1 AND version = ?5",
                    params![w.name, body, micros(w.now), w.actor, i64::from(v)],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(match get(c, &w.name)? {
                    Some(current) => w.stale(current.version),
                    None => StoreError::NotFound(format!("label template {}", w.name)),
                });
            }
            v + 1
        }
    };
    Ok(LabelTemplateRecord {
        name: w.name.clone(),
        definition: w.definition.clone(),
        version,
        updated_at: w.now,
        updated_by: w.actor.clone(),
    })
}

pub fn delete(c: &Connection, name: &str) -> Result<(), StoreError> {
    let n = c
        .execute("DELETE FROM label_templates WHERE name = ?1", [name])
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("label template {name}")));
    }
    Ok(())
}
