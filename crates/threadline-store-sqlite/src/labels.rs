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

/// Whether a label of unit `i` was printed: an `OBSERVE` event with business step `encoding`
/// names it (a first print, a reprint, or labels printed elsewhere).
const LABELLED: &str = "EXISTS (SELECT 1 FROM event_items ei JOIN events e ON e.seq = ei.seq
    WHERE ei.item_id = i.id AND e.action = 'OBSERVE' AND e.biz_step = 'encoding')";

/// Keys per query: three parameters each, well under SQLite's limit.
const UNITS_PER_QUERY: usize = 500;

/// The label data of `keys`, in their order, a chunk of keys per query.
pub fn units(
    c: &Connection,
    keys: &[threadline_domain::codes::ItemKey],
) -> Result<Vec<Option<threadline_store::LabelUnit>>, StoreError> {
    let mut out = vec![None; keys.len()];
    for (chunk_no, chunk) in keys.chunks(UNITS_PER_QUERY).enumerate() {
        let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "WITH k(n, code, serial) AS (VALUES {values})
             SELECT k.n, i.status, i.lot, i.attributes, {LABELLED} FROM k
             JOIN products p ON p.code = k.code JOIN items i ON i.product_id = p.id AND i.serial = k.serial"
        );
        let mut params: Vec<rusqlite::types::Value> = Vec::with_capacity(chunk.len() * 3);
        for (i, key) in chunk.iter().enumerate() {
            params.push(rusqlite::types::Value::Integer(
                i64::try_from(chunk_no * UNITS_PER_QUERY + i).unwrap_or(i64::MAX),
            ));
            params.push(rusqlite::types::Value::Text(key.product.to_string()));
            params.push(rusqlite::types::Value::Text(key.serial.to_string()));
        }
        let mut st = c.prepare_cached(&sql).map_err(db)?;
        let rows = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .map_err(db)?;
        for row in rows {
            let (n, status, lot, attributes, labelled) = row.map_err(db)?;
            let unit = threadline_store::LabelUnit {
                status: threadline_domain::projection::ItemStatus::parse(&status)
                    .ok_or_else(|| StoreError::Schema(format!("unknown status {status}")))?,
                lot,
                attributes: attributes
                    .map(|a| serde_json::from_str(&a))
                    .transpose()
                    .map_err(|e| StoreError::Schema(e.to_string()))?
                    .unwrap_or_default(),
                labelled,
            };
            if let Some(slot) = usize::try_from(n).ok().and_then(|n| out.get_mut(n)) {
                *slot = Some(unit);
            }
        }
    }
    Ok(out)
}
