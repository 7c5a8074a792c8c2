//! Authenticity checks: plain rows beside the ledger.

use rusqlite::{Connection, OptionalExtension, params};
use threadline_store::StoreError;
use threadline_store::authenticity::{
    AuthenticityCheck, CheckHistory, CheckQuery, reasons_column, reasons_of_column,
};

use crate::{db, from_micros, micros};

/// Records a check and, in the same transaction, the webhook deliveries it calls for.
pub(crate) fn record(c: &mut Connection, k: &AuthenticityCheck) -> Result<i64, StoreError> {
    let tx = c
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db)?;
    tx.prepare_cached(
        "INSERT INTO authenticity_checks (at, code, product, serial, region, channel, verdict, reasons, actor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .map_err(db)?
    .execute(params![
        micros(k.at),
        k.code,
        k.product,
        k.serial,
        k.region,
        k.channel,
        k.verdict,
        reasons_column(&k.reasons),
        k.actor
    ])
    .map_err(db)?;
    let id = tx.last_insert_rowid();
    if k.is_alert() {
        crate::webhook::enqueue_check(&tx, k, id)?;
    }
    tx.commit().map_err(db)?;
    Ok(id)
}

const CHECK_COLUMNS: &str =
    "id, at, code, product, serial, region, channel, verdict, reasons, actor";

fn check_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuthenticityCheck> {
    let reasons: String = r.get(8)?;
    Ok(AuthenticityCheck {
        id: Some(r.get(0)?),
        at: from_micros(r.get(1)?),
        code: r.get(2)?,
        product: r.get(3)?,
        serial: r.get(4)?,
        region: r.get(5)?,
        channel: r.get(6)?,
        verdict: r.get(7)?,
        reasons: reasons_of_column(&reasons),
        actor: r.get(9)?,
    })
}

pub(crate) fn one(c: &Connection, id: i64) -> Result<Option<AuthenticityCheck>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {CHECK_COLUMNS} FROM authenticity_checks WHERE id = ?1"
    ))
    .map_err(db)?
    .query_row([id], check_row)
    .optional()
    .map_err(db)
}

pub(crate) fn history(
    c: &Connection,
    product: &str,
    serial: &str,
) -> Result<CheckHistory, StoreError> {
    let (checks, first): (i64, Option<i64>) = c
        .prepare_cached(
            "SELECT COUNT(*), MIN(at) FROM authenticity_checks WHERE product = ?1 AND serial = ?2",
        )
        .map_err(db)?
        .query_row([product, serial], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?;
    let mut stmt = c
        .prepare_cached(
            "SELECT DISTINCT region FROM authenticity_checks
             WHERE product = ?1 AND serial = ?2 AND region IS NOT NULL ORDER BY region",
        )
        .map_err(db)?;
    let regions = stmt
        .query_map([product, serial], |r| r.get(0))
        .map_err(db)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(db)?;
    Ok(CheckHistory {
        checks: u64::try_from(checks).unwrap_or(0),
        first_at: first.map(from_micros),
        regions,
    })
}

pub(crate) fn list(c: &Connection, q: &CheckQuery) -> Result<Vec<AuthenticityCheck>, StoreError> {
    let verdicts = q.verdicts.join(",");
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {CHECK_COLUMNS}
             FROM authenticity_checks
             WHERE at >= ?1 AND at < ?2
               AND (?3 = '' OR instr(',' || ?3 || ',', ',' || verdict || ',') > 0)
             ORDER BY at DESC, id DESC LIMIT ?4"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![micros(q.from), micros(q.to), verdicts, i64::from(q.limit)],
            check_row,
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}
