//! Recall campaigns: plain rows beside the ledger (their holds are ledger events).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use threadline_domain::projection::Node;
use threadline_store::recall::{already_closed, closed, code_taken, member_columns, member_of};
use threadline_store::{Recall, RecallMember, RecallNarrowing, StoreError};

use crate::{db, from_micros, micros};

const COLUMNS: &str = "code, reason, severity, scope, opened_seq, created_at, created_by, closed_at, closed_by, close_note";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Recall> {
    let scope: String = r.get(3)?;
    Ok(Recall {
        code: r.get(0)?,
        reason: r.get(1)?,
        severity: r.get(2)?,
        scope: serde_json::from_str(&scope).unwrap_or(serde_json::Value::Null),
        opened_seq: r.get(4)?,
        created_at: from_micros(r.get(5)?),
        created_by: r.get(6)?,
        closed_at: r.get::<_, Option<i64>>(7)?.map(from_micros),
        closed_by: r.get(8)?,
        close_note: r.get(9)?,
    })
}

pub(crate) fn create(
    tx: &Connection,
    r: &Recall,
    members: &[RecallMember],
) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO recalls ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, NULL)"
        ),
        params![
            r.code,
            r.reason,
            r.severity,
            r.scope.to_string(),
            r.opened_seq,
            micros(r.created_at),
            r.created_by
        ],
    )
    .map_err(|e| {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
            code_taken(&r.code)
        } else {
            db(e)
        }
    })?;
    {
        let mut ins = tx
            .prepare_cached("INSERT INTO recall_members (recall, ord, node_type, product, code, depth, held) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            .map_err(db)?;
        for (i, m) in members.iter().enumerate() {
            let (t, p, code) = member_columns(&m.node);
            ins.execute(params![
                r.code,
                i as i64,
                t,
                p,
                code,
                i64::from(m.depth),
                m.held
            ])
            .map_err(db)?;
        }
    }
    Ok(())
}

pub(crate) fn one(c: &Connection, code: &str) -> Result<Option<Recall>, StoreError> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM recalls WHERE code = ?1"))
        .map_err(db)?
        .query_row([code], row)
        .optional()
        .map_err(db)
}

pub(crate) fn all(c: &Connection) -> Result<Vec<Recall>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recalls ORDER BY created_at DESC, code"
        ))
        .map_err(db)?;
    let rows = stmt.query_map([], row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn members(c: &Connection, code: &str) -> Result<Vec<RecallMember>, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT node_type, product, code, depth, held, dropped FROM recall_members WHERE recall = ?1 ORDER BY ord")
        .map_err(db)?;
    let mut rows = stmt.query([code]).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let (t, p, k): (String, String, String) = (
            r.get(0).map_err(db)?,
            r.get(1).map_err(db)?,
            r.get(2).map_err(db)?,
        );
        out.push(member_of(
            &t,
            &p,
            &k,
            r.get(3).map_err(db)?,
            r.get(4).map_err(db)?,
            r.get(5).map_err(db)?,
        )?);
    }
    Ok(out)
}

pub(crate) fn close(
    tx: &Connection,
    code: &str,
    by: &str,
    at: DateTime<Utc>,
    note: Option<&str>,
) -> Result<Recall, StoreError> {
    let Some(current) = one(tx, code)? else {
        return Err(StoreError::NotFound(format!("recall {code}")));
    };
    if current.closed_at.is_some() {
        return Err(already_closed(code));
    }
    tx.execute(
        "UPDATE recalls SET closed_at = ?2, closed_by = ?3, close_note = ?4 WHERE code = ?1",
        params![code, micros(at), by, note],
    )
    .map_err(db)?;
    let closed = one(tx, code)?.ok_or_else(|| StoreError::NotFound(format!("recall {code}")))?;
    Ok(closed)
}

const NARROWING_COLUMNS: &str =
    "n, at, actor, reason, scope, removed_units, removed_lots, released";

fn narrowing_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecallNarrowing> {
    let scope: String = r.get(4)?;
    let count = |i: usize| -> rusqlite::Result<usize> {
        usize::try_from(r.get::<_, i64>(i)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Integer, e.into())
        })
    };
    Ok(RecallNarrowing {
        n: r.get(0)?,
        at: from_micros(r.get(1)?),
        by: r.get(2)?,
        reason: r.get(3)?,
        scope: serde_json::from_str(&scope).unwrap_or(serde_json::Value::Null),
        removed_units: count(5)?,
        removed_lots: count(6)?,
        released: count(7)?,
    })
}

pub(crate) fn narrow(
    tx: &Connection,
    code: &str,
    mut narrowing: RecallNarrowing,
    removed: &[Node],
) -> Result<RecallNarrowing, StoreError> {
    let Some(current) = one(tx, code)? else {
        return Err(StoreError::NotFound(format!("recall {code}")));
    };
    if current.closed_at.is_some() {
        return Err(closed(code));
    }
    let last: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(n), 0) FROM recall_narrowings WHERE recall = ?1",
            [code],
            |r| r.get(0),
        )
        .map_err(db)?;
    narrowing.n = u32::try_from(last + 1).map_err(|e| StoreError::Database(e.to_string()))?;
    {
        let mut drop = tx
            .prepare_cached(
                "UPDATE recall_members SET dropped = ?5
                 WHERE recall = ?1 AND node_type = ?2 AND product = ?3 AND code = ?4 AND dropped IS NULL",
            )
            .map_err(db)?;
        for node in removed {
            let (t, p, k) = member_columns(node);
            drop.execute(params![code, t, p, k, narrowing.n])
                .map_err(db)?;
        }
    }
    tx.execute(
        &format!("INSERT INTO recall_narrowings (recall, {NARROWING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            code,
            narrowing.n,
            micros(narrowing.at),
            narrowing.by,
            narrowing.reason,
            narrowing.scope.to_string(),
            narrowing.removed_units as i64,
            narrowing.removed_lots as i64,
            narrowing.released as i64
        ],
    )
    .map_err(db)?;
    Ok(narrowing)
}

pub(crate) fn narrowings(c: &Connection, code: &str) -> Result<Vec<RecallNarrowing>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {NARROWING_COLUMNS} FROM recall_narrowings WHERE recall = ?1 ORDER BY n"
        ))
        .map_err(db)?;
    let rows = stmt.query_map([code], narrowing_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}
