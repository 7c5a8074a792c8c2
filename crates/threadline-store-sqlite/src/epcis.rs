//! EPCIS capture jobs and named queries on SQLite: plain rows.

use rusqlite::{Connection, OptionalExtension, params};
use threadline_store::{CaptureJob, NamedQuery, StoreError};

use crate::{db, from_micros, micros};

pub fn put_job(c: &Connection, job: &CaptureJob) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO epcis_capture_jobs (id, created_at, actor, site, job) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET job = excluded.job",
        params![
            job.id,
            micros(job.created_at),
            job.actor,
            job.site,
            job.job.to_string()
        ],
    )
    .map_err(db)?;
    Ok(())
}

pub fn job(c: &Connection, id: &str) -> Result<Option<CaptureJob>, StoreError> {
    let row: Option<(i64, String, Option<String>, String)> = c
        .query_row(
            "SELECT created_at, actor, site, job FROM epcis_capture_jobs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(db)?;
    row.map(|(at, actor, site, job)| {
        Ok(CaptureJob {
            id: id.to_owned(),
            created_at: from_micros(at),
            actor,
            site,
            job: serde_json::from_str(&job)
                .map_err(|e| StoreError::Database(format!("stored capture job: {e}")))?,
        })
    })
    .transpose()
}

type QueryRow = (String, String, i64, String);

fn named(r: QueryRow) -> Result<NamedQuery, StoreError> {
    Ok(NamedQuery {
        name: r.0,
        query: serde_json::from_str(&r.1)
            .map_err(|e| StoreError::Database(format!("stored named query: {e}")))?,
        created_at: from_micros(r.2),
        created_by: r.3,
    })
}

pub fn create_query(c: &Connection, q: &NamedQuery) -> Result<(), StoreError> {
    let query = serde_json::to_string(&q.query).map_err(StoreError::db)?;
    let n = c
        .execute(
            "INSERT INTO epcis_queries (name, query, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO NOTHING",
            params![q.name, query, micros(q.created_at), q.created_by],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(q.taken());
    }
    Ok(())
}

pub fn queries(c: &Connection, name: Option<&str>) -> Result<Vec<NamedQuery>, StoreError> {
    let mut st = c
        .prepare_cached(
            "SELECT name, query, created_at, created_by FROM epcis_queries
             WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
        )
        .map_err(db)?;
    let rows = st
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db)?;
    rows.map(|r| r.map_err(db).and_then(named)).collect()
}

pub fn delete_query(c: &Connection, name: &str) -> Result<(), StoreError> {
    let n = c
        .execute("DELETE FROM epcis_queries WHERE name = ?1", [name])
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("query {name}")));
    }
    Ok(())
}

/// Writes the vocabulary elements of a capture's header, each replacing what was stored under
/// its type and key (the latest header wins).
pub fn put_vocabulary(
    c: &Connection,
    master: &threadline_store::epcis::MasterData,
) -> Result<(), StoreError> {
    if master.elements.is_empty() {
        return Ok(());
    }
    let mut st = c
        .prepare_cached(
            "INSERT INTO epcis_vocabulary (vtype, key, id, attributes, children, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (vtype, key) DO UPDATE SET id = excluded.id,
               attributes = excluded.attributes, children = excluded.children,
               recorded_at = excluded.recorded_at",
        )
        .map_err(db)?;
    for e in &master.elements {
        st.execute(params![
            e.vtype,
            e.key(),
            e.id,
            serde_json::to_string(&e.attributes).map_err(StoreError::db)?,
            serde_json::to_string(&e.children).map_err(StoreError::db)?,
            micros(master.recorded_at)
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// The stored vocabulary elements of `vtype` with one of `keys`.
pub fn vocabulary(
    c: &Connection,
    vtype: &str,
    keys: &[String],
) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
    let mut st = c
        .prepare_cached(
            "SELECT id, attributes, children, recorded_at FROM epcis_vocabulary
             WHERE vtype = ?1 AND key = ?2",
        )
        .map_err(db)?;
    let mut out = Vec::new();
    for key in keys {
        let row: Option<(String, String, String, i64)> = st
            .query_row(params![vtype, key], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(db)?;
        if let Some((id, attributes, children, at)) = row {
            out.push(stored_vocabulary(vtype, id, &attributes, &children, at)?);
        }
    }
    Ok(out)
}

/// The stored vocabulary elements of `vtype` in key order, at most `limit` after `after`.
pub fn vocabulary_page(
    c: &Connection,
    vtype: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
    let mut st = c
        .prepare_cached(
            "SELECT id, attributes, children, recorded_at FROM epcis_vocabulary
             WHERE vtype = ?1 AND (?2 IS NULL OR key > ?2) ORDER BY key LIMIT ?3",
        )
        .map_err(db)?;
    let rows = st
        .query_map(params![vtype, after, limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, attributes, children, at) = row.map_err(db)?;
        out.push(stored_vocabulary(vtype, id, &attributes, &children, at)?);
    }
    Ok(out)
}

fn stored_vocabulary(
    vtype: &str,
    id: String,
    attributes: &str,
    children: &str,
    at: i64,
) -> Result<threadline_store::epcis::StoredVocabulary, StoreError> {
    let bad =
        |e: serde_json::Error| StoreError::Database(format!("stored vocabulary element: {e}"));
    Ok(threadline_store::epcis::StoredVocabulary {
        element: threadline_store::epcis::VocabularyElement {
            vtype: vtype.to_owned(),
            id,
            attributes: serde_json::from_str(attributes).map_err(bad)?,
            children: serde_json::from_str(children).map_err(bad)?,
        },
        recorded_at: from_micros(at),
    })
}
