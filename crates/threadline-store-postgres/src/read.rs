//! Queries. A read is one statement where it can be (one statement sees one snapshot); reads
//! that need several run in a read-only REPEATABLE READ transaction opened by the caller.
//!
//! Text filters follow SQLite's semantics exactly: byte order (`COLLATE "C"` columns), ASCII-only
//! `lower()`, and `LIKE` without an escape character.

use std::collections::HashMap;

use deadpool_postgres::{ClientWrapper, GenericClient, Transaction};
use serde::de::DeserializeOwned;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::ledger::{LedgerEntry, MasterChange};
use threadline_domain::projection::ItemStatus;
use threadline_domain::{ProductCode, Quantity, Serial};
use threadline_store::{
    EventQuery, IdempotencyKey, ItemRow, ItemView, ListQuery, LotView, Page, Receipt, StateQuery,
    StockLine, StoreError, StoredEvent, UnitHistory, UnitState, Versioned, page_of,
};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::capture::holds_of;
use crate::{col, db, from_micros, storable};

/// The receipts of an earlier request with this key, if any; a different request under the
/// same key is refused. Call with the chain head locked.
pub(crate) async fn idempotent_replay(
    tx: &Transaction<'_>,
    k: &IdempotencyKey,
) -> Result<Option<Vec<Receipt>>, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT request_hash, receipts FROM idempotency WHERE key = $1")
        .await
        .map_err(db)?;
    let Some(row) = tx.query_opt(&stmt, &[&k.key]).await.map_err(db)? else {
        return Ok(None);
    };
    let hash: Vec<u8> = col(&row, 0)?;
    let receipts: String = col(&row, 1)?;
    if hash != k.request_hash {
        return Err(StoreError::Invalid(vec![
            FieldError::new(
                "idempotency_key_reused",
                format!(
                    "Idempotency-Key `{}` was already used for a different request",
                    k.key
                ),
            )
            .at("Idempotency-Key"),
        ]));
    }
    serde_json::from_str(&receipts)
        .map(Some)
        .map_err(|e| StoreError::Schema(e.to_string()))
}

pub(crate) async fn remember(
    tx: &Transaction<'_>,
    k: &IdempotencyKey,
    receipts: &[Receipt],
) -> Result<(), StoreError> {
    let body = serde_json::to_string(receipts).map_err(|e| StoreError::Database(e.to_string()))?;
    let stmt = tx
        .prepare_cached("INSERT INTO idempotency (key, request_hash, receipts, created_at) VALUES ($1, $2, $3, $4)")
        .await
        .map_err(db)?;
    let now = chrono::Utc::now().timestamp_micros();
    tx.execute(&stmt, &[&k.key, &k.request_hash.as_slice(), &body, &now])
        .await
        .map_err(db)?;
    Ok(())
}

fn versioned<T: DeserializeOwned>(
    def: &str,
    version: i64,
    updated_at: i64,
) -> Result<Versioned<T>, StoreError> {
    Ok(Versioned {
        def: serde_json::from_str(def).map_err(|e| StoreError::Schema(e.to_string()))?,
        version: u32::try_from(version)
            .map_err(|_| StoreError::Schema(format!("version {version} is out of range")))?,
        updated_at: from_micros(updated_at),
    })
}

/// The statement of one master record of `table` by its code.
fn master_sql(table: &str) -> String {
    format!("SELECT def, version, updated_at FROM {table} WHERE code = $1")
}

/// A master record from a row of [`master_sql`].
fn master_of<T: DeserializeOwned>(r: &tokio_postgres::Row) -> Result<Versioned<T>, StoreError> {
    versioned(&col::<String>(r, 0)?, col(r, 1)?, col(r, 2)?)
}

pub(crate) async fn master_one<T: DeserializeOwned>(
    c: &impl GenericClient,
    table: &str,
    code: &str,
) -> Result<Option<Versioned<T>>, StoreError> {
    if !storable(code) {
        return Ok(None);
    }
    let stmt = c.prepare_cached(&master_sql(table)).await.map_err(db)?;
    let row = c.query_opt(&stmt, &[&code]).await.map_err(db)?;
    row.as_ref().map(master_of).transpose()
}

pub(crate) async fn master_list<T: DeserializeOwned>(
    c: &ClientWrapper,
    table: &str,
    kind_column: &str,
    q: &ListQuery,
) -> Result<Page<Versioned<T>>, StoreError> {
    let limit = q.limit.clamp(1, 1000);
    let empty = Page {
        items: Vec::new(),
        next: None,
    };
    // No stored code holds NUL, so for any of them `code > "ab\0…"` is `code > "ab"`.
    let after: String = q
        .after
        .as_deref()
        .unwrap_or_default()
        .split('\0')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut sql = format!("SELECT code, def, version, updated_at FROM {table} WHERE code > $1");
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(after)];
    if let Some(s) = &q.search {
        if !storable(s) {
            return Ok(empty);
        }
        args.push(Box::new(format!("%{}%", s.to_lowercase())));
        sql.push_str(&format!(
            " AND (lower(code) LIKE ${n} ESCAPE '' OR lower(name) LIKE ${n} ESCAPE '')",
            n = args.len()
        ));
    }
    if let Some(k) = &q.kind {
        if !storable(k) {
            return Ok(empty);
        }
        args.push(Box::new(k.clone()));
        sql.push_str(&format!(" AND {kind_column} = ${}", args.len()));
    }
    if let (Some(p), "locations") = (&q.parent, table) {
        if !storable(p) {
            return Ok(empty);
        }
        args.push(Box::new(p.clone()));
        sql.push_str(&format!(" AND parent = ${}", args.len()));
    }
    args.push(Box::new(i64::from(limit) + 1));
    sql.push_str(&format!(" ORDER BY code LIMIT ${}", args.len()));
    let stmt = c.prepare_cached(&sql).await.map_err(db)?;
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = c.query(&stmt, &params).await.map_err(db)?;
    let mut items = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    for r in &rows {
        codes.push(col(r, 0)?);
        items.push(versioned(&col::<String>(r, 1)?, col(r, 2)?, col(r, 3)?)?);
    }
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        codes.get(limit as usize - 1).cloned()
    } else {
        None
    };
    Ok(Page { items, next })
}

pub(crate) async fn master_history(
    c: &ClientWrapper,
    kind: &str,
    code: &str,
) -> Result<Vec<MasterChange>, StoreError> {
    // Master entries are few; the body holds kind and code.
    let stmt = c
        .prepare_cached("SELECT body FROM ledger WHERE kind = 'master' ORDER BY seq")
        .await
        .map_err(db)?;
    let mut out = Vec::new();
    for r in c.query(&stmt, &[]).await.map_err(db)? {
        let body: String = col(&r, 0)?;
        if let Ok(LedgerEntry::Master(m)) = LedgerEntry::from_body(&body)
            && m.record.kind() == kind
            && m.record.code() == code
        {
            out.push(m);
        }
    }
    Ok(out)
}

fn item_key(p: &str, s: &str) -> Result<ItemKey, StoreError> {
    Ok(ItemKey {
        product: ProductCode::parse(p).map_err(|e| StoreError::Schema(e.message))?,
        serial: Serial::parse(s).map_err(|e| StoreError::Schema(e.message))?,
    })
}

/// The statement of [`item`]: a unit by its product and serial.
const ITEM_SQL: &str = "SELECT i.status, i.holds, i.location, i.custodian, i.lot, i.attributes, pp.code, par.serial,
                    ch.products, ch.serials, ev.n, ev.first, ev.last
             FROM items i
             JOIN products p ON p.id = i.product_id
             LEFT JOIN items par ON par.id = i.parent_id
             LEFT JOIN products pp ON pp.id = par.product_id
             CROSS JOIN LATERAL (
                 SELECT array_agg(cp.code ORDER BY cp.code, c.serial) AS products, array_agg(c.serial ORDER BY cp.code, c.serial) AS serials
                 FROM items c JOIN products cp ON cp.id = c.product_id WHERE c.parent_id = i.id
             ) ch
             CROSS JOIN LATERAL (
                 SELECT count(*) AS n, min(e.event_time) AS first, max(e.event_time) AS last
                 FROM event_items ei JOIN events e ON e.seq = ei.seq WHERE ei.item_id = i.id
             ) ev
             WHERE p.code = $1 AND i.serial = $2";

pub(crate) async fn item(
    c: &impl GenericClient,
    key: &ItemKey,
) -> Result<Option<ItemView>, StoreError> {
    let stmt = c.prepare_cached(ITEM_SQL).await.map_err(db)?;
    let row = c
        .query_opt(&stmt, &[&key.product.as_str(), &key.serial.as_str()])
        .await
        .map_err(db)?;
    row.map(|r| item_of(key, &r)).transpose()
}

/// The unit `key` from a row of [`ITEM_SQL`].
fn item_of(key: &ItemKey, r: &tokio_postgres::Row) -> Result<ItemView, StoreError> {
    let status: String = col(r, 0)?;
    let holds: i16 = col(r, 1)?;
    let attributes: Option<String> = col(r, 5)?;
    let parent = match (col::<Option<String>>(r, 6)?, col::<Option<String>>(r, 7)?) {
        (Some(p), Some(s)) => Some(item_key(&p, &s)?),
        _ => None,
    };
    let child_products: Vec<String> = col::<Option<Vec<String>>>(r, 8)?.unwrap_or_default();
    let child_serials: Vec<String> = col::<Option<Vec<String>>>(r, 9)?.unwrap_or_default();
    let children = child_products
        .iter()
        .zip(&child_serials)
        .map(|(p, s)| item_key(p, s))
        .collect::<Result<Vec<_>, _>>()?;
    let first: Option<i64> = col(r, 11)?;
    let last: Option<i64> = col(r, 12)?;
    Ok(ItemView {
        product: key.product.to_string(),
        serial: key.serial.to_string(),
        status: ItemStatus::parse(&status)
            .ok_or_else(|| StoreError::Schema(format!("unknown status {status}")))?,
        holds: holds_of(i64::from(holds)),
        location: col(r, 2)?,
        custodian: col(r, 3)?,
        lot: col(r, 4)?,
        parent,
        children,
        attributes: attributes
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|e| StoreError::Schema(e.to_string()))?
            .unwrap_or_default(),
        event_count: col(r, 10)?,
        first_seen: from_micros(first.unwrap_or(0)),
        last_event_time: from_micros(last.unwrap_or(0)),
    })
}

/// [`threadline_store::Store::unit_states`]: the keys as two parallel arrays, each unit one
/// probe of `items`' unique key.
pub(crate) async fn unit_states(
    c: &impl GenericClient,
    keys: &[ItemKey],
) -> Result<Vec<Option<UnitState>>, StoreError> {
    let mut out = vec![None; keys.len()];
    let (mut products, mut serials, mut at) = (Vec::new(), Vec::new(), Vec::new());
    for (n, k) in keys.iter().enumerate() {
        if storable(k.product.as_str()) && storable(k.serial.as_str()) {
            products.push(k.product.as_str());
            serials.push(k.serial.as_str());
            at.push(i64::try_from(n).map_err(|e| StoreError::Schema(e.to_string()))?);
        }
    }
    if at.is_empty() {
        return Ok(out);
    }
    let stmt = c
        .prepare_cached(
            "SELECT k.n, i.status, i.location, i.custodian, i.lot, pp.code, par.serial
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(product, serial, n)
             JOIN products p ON p.code = k.product
             JOIN items i ON i.product_id = p.id AND i.serial = k.serial
             LEFT JOIN items par ON par.id = i.parent_id
             LEFT JOIN products pp ON pp.id = par.product_id",
        )
        .await
        .map_err(db)?;
    for r in c
        .query(&stmt, &[&products, &serials, &at])
        .await
        .map_err(db)?
    {
        let n: i64 = col(&r, 0)?;
        let status: String = col(&r, 1)?;
        let parent = match (col::<Option<String>>(&r, 5)?, col::<Option<String>>(&r, 6)?) {
            (Some(p), Some(s)) => Some(item_key(&p, &s)?),
            _ => None,
        };
        let state = UnitState {
            status: ItemStatus::parse(&status)
                .ok_or_else(|| StoreError::Schema(format!("unknown status {status}")))?,
            location: col(&r, 2)?,
            custodian: col(&r, 3)?,
            lot: col(&r, 4)?,
            parent,
        };
        if let Some(slot) = usize::try_from(n).ok().and_then(|n| out.get_mut(n)) {
            *slot = Some(state);
        }
    }
    Ok(out)
}

/// The columns of a lot with its stock, read by [`lot_of`].
const LOT_COLUMNS: &str = "l.production_date, l.expiry_date, l.holds,
    ARRAY(SELECT s.location FROM lot_stock s WHERE s.lot_id = l.id ORDER BY s.location),
    ARRAY(SELECT s.quantity FROM lot_stock s WHERE s.lot_id = l.id ORDER BY s.location),
    p.code, l.code, l.id";

pub(crate) async fn lot(c: &ClientWrapper, key: &LotKey) -> Result<Option<LotView>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {LOT_COLUMNS} FROM lots l JOIN products p ON p.id = l.product_id
             WHERE p.code = $1 AND l.code = $2"
        ))
        .await
        .map_err(db)?;
    c.query_opt(&stmt, &[&key.product.as_str(), &key.lot.as_str()])
        .await
        .map_err(db)?
        .map(|r| lot_of(&r))
        .transpose()
}

pub(crate) async fn lot_list(
    c: &ClientWrapper,
    q: &StateQuery,
) -> Result<Page<LotView>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {LOT_COLUMNS} FROM lots l JOIN products p ON p.id = l.product_id
             WHERE ($1::text IS NULL OR p.code = $1)
               AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM lot_stock s WHERE s.lot_id = l.id AND s.location = $2))
               AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM lot_stock s WHERE s.lot_id = l.id AND s.location = ANY($5)))
               AND l.id > $3
             ORDER BY l.id LIMIT $4"
        ))
        .await
        .map_err(db)?;
    let rows = c
        .query(
            &stmt,
            &[
                &q.product,
                &q.location,
                &q.after.unwrap_or(0),
                &(i64::from(q.limit) + 1),
                &q.places,
            ],
        )
        .await
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push((col::<i64>(r, 7)?, lot_of(r)?));
    }
    Ok(page_of(out, q.limit))
}

pub(crate) async fn item_list(
    c: &ClientWrapper,
    q: &StateQuery,
) -> Result<Page<ItemRow>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT i.id, p.code, i.serial, i.status, i.holds, i.location, i.custodian, i.lot, pp.code, par.serial
             FROM items i JOIN products p ON p.id = i.product_id
             LEFT JOIN items par ON par.id = i.parent_id LEFT JOIN products pp ON pp.id = par.product_id
             WHERE ($1::text IS NULL OR p.code = $1) AND ($2::text IS NULL OR i.status = $2)
               AND ($3::text IS NULL OR i.location = $3) AND i.id > $4
               AND ($6::text[] IS NULL OR i.location = ANY($6))
             ORDER BY i.id LIMIT $5",
        )
        .await
        .map_err(db)?;
    let status = q.status.map(|s| s.as_str());
    let rows = c
        .query(
            &stmt,
            &[
                &q.product,
                &status,
                &q.location,
                &q.after.unwrap_or(0),
                &(i64::from(q.limit) + 1),
                &q.places,
            ],
        )
        .await
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let status: String = col(r, 3)?;
        let holds: i16 = col(r, 4)?;
        let parent = col::<Option<String>>(r, 8)?.zip(col::<Option<String>>(r, 9)?);
        let row = ItemRow::from_columns(
            col(r, 1)?,
            col(r, 2)?,
            &status,
            holds_of(i64::from(holds)),
            col(r, 5)?,
            col(r, 6)?,
            col(r, 7)?,
            parent,
        )?;
        out.push((col::<i64>(r, 0)?, row));
    }
    Ok(page_of(out, q.limit))
}

/// A lot from a row of [`LOT_COLUMNS`].
fn lot_of(r: &tokio_postgres::Row) -> Result<LotView, StoreError> {
    let date =
        |d: Option<String>| d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let holds: i16 = col(r, 2)?;
    let locations: Vec<String> = col(r, 3)?;
    let quantities: Vec<i64> = col(r, 4)?;
    Ok(LotView {
        product: col(r, 5)?,
        lot: col(r, 6)?,
        production_date: date(col(r, 0)?),
        expiry_date: date(col(r, 1)?),
        holds: holds_of(i64::from(holds)),
        stock: locations
            .into_iter()
            .zip(quantities)
            .map(|(location, q)| StockLine {
                location,
                quantity: Quantity::from_millis(q),
            })
            .collect(),
    })
}

/// Ledger rows (seq, body, hash) as stored events, with the events that correct them.
async fn stored(
    tx: &Transaction<'_>,
    rows: Vec<(i64, String, Vec<u8>)>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for (seq, body, hash) in rows {
        let event = threadline_domain::ledger::event_from_body(&body)
            .map_err(|e| StoreError::Schema(format!("entry {seq}: {e}")))?;
        out.push(StoredEvent {
            seq,
            hash: hex::encode(hash),
            event,
            corrected_by: Vec::new(),
            others: 0,
            via: None,
            discrepancies: Vec::new(),
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Uuid> = out.iter().map(|e| e.event.id).collect();
    let stmt = tx
        .prepare_cached(
            "SELECT e.corrects, e.event_id FROM unnest($1::uuid[]) AS k(id) JOIN events e ON e.corrects = k.id ORDER BY e.seq",
        )
        .await
        .map_err(db)?;
    let mut corrections: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for r in tx.query(&stmt, &[&ids]).await.map_err(db)? {
        corrections
            .entry(col(&r, 0)?)
            .or_default()
            .push(col(&r, 1)?);
    }
    for e in &mut out {
        e.corrected_by = corrections.get(&e.event.id).cloned().unwrap_or_default();
    }
    Ok(out)
}

pub(crate) async fn event(
    tx: &Transaction<'_>,
    id: Uuid,
) -> Result<Option<StoredEvent>, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT l.seq, l.body, l.hash FROM events e JOIN ledger l ON l.seq = e.seq WHERE e.event_id = $1")
        .await
        .map_err(db)?;
    let Some(r) = tx.query_opt(&stmt, &[&id]).await.map_err(db)? else {
        return Ok(None);
    };
    Ok(stored(tx, vec![(col(&r, 0)?, col(&r, 1)?, col(&r, 2)?)])
        .await?
        .pop())
}

/// The statement of a unit's timeline: the events naming `key`, narrowed to it, and those
/// that moved it inside a container ([`threadline_store::query::timeline_sql`]), batch events
/// from their heads; `$3` is the ledger position after which they are read.
static TIMELINE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    threadline_store::query::timeline_sql(
        |n| format!("${n}"),
        "ARRAY(SELECT k.event_id FROM events k WHERE k.corrects = e.event_id ORDER BY k.seq)",
        "(cp.def::jsonb ->> 'container') = 'true'",
    )
});

/// The timeline of `key` ([`TIMELINE_SQL`]) from after ledger position `after`.
pub(crate) async fn timeline_after(
    c: &impl GenericClient,
    key: &ItemKey,
    after: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    // The body is read only where there is no head or the unit is the parent (it keeps its
    // components); the corrections of each event come in the same statement.
    let stmt = c.prepare_cached(&TIMELINE_SQL).await.map_err(db)?;
    let rows = c
        .query(
            &stmt,
            &[&key.product.as_str(), &key.serial.as_str(), &after],
        )
        .await
        .map_err(db)?;
    timeline_of(key, &rows)
}

/// The timeline of `key` from the rows of [`TIMELINE_SQL`].
fn timeline_of(
    key: &ItemKey,
    rows: &[tokio_postgres::Row],
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let role: i16 = col(r, 1)?;
        let via = match (col::<Option<String>>(r, 7)?, col::<Option<String>>(r, 8)?) {
            (Some(p), Some(s)) => Some(threadline_store::item_key(&p, &s)?),
            _ => None,
        };
        out.push(threadline_store::TimelineRow {
            seq: col(r, 0)?,
            role: i64::from(role),
            via,
            head: col(r, 2)?,
            units: col(r, 3)?,
            body: col(r, 4)?,
            hash: col(r, 5)?,
            corrected_by: col(r, 6)?,
        });
    }
    threadline_store::timeline(key, out)
}

/// [`threadline_store::Store::unit_history`]: the unit, its product and its timeline in one
/// read-only REPEATABLE READ snapshot, sent as one pipeline. `BEGIN`, the three statements and
/// `COMMIT` leave together and the backend answers them in turn, so a passport costs one
/// round trip — one wake-up of the backend and of this task — instead of five.
pub(crate) async fn unit_history(
    c: &ClientWrapper,
    key: &ItemKey,
) -> Result<Option<UnitHistory>, StoreError> {
    // Prepared first (cached on the connection after its first passport): a statement still
    // to prepare would go out only after the answer to its `Parse`, behind the `COMMIT`.
    let product_sql = master_sql("products");
    let (item_stmt, product_stmt, timeline_stmt) = tokio::try_join!(
        biased;
        c.prepare_cached(ITEM_SQL),
        c.prepare_cached(&product_sql),
        c.prepare_cached(&TIMELINE_SQL),
    )
    .map_err(db)?;
    let (product, serial) = (key.product.as_str(), key.serial.as_str());
    let unit: [&(dyn ToSql + Sync); 2] = [&product, &serial];
    let timeline_from: [&(dyn ToSql + Sync); 3] = [&product, &serial, &0_i64];
    // A request is sent when its future is first polled, in the order polled (`biased`: as
    // written), so the three statements run between `BEGIN` and `COMMIT`. A statement that
    // fails aborts the transaction; those after it fail too and `COMMIT` rolls it back.
    let sent = tokio::try_join!(
        biased;
        c.batch_execute("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
        c.query_opt(&item_stmt, &unit),
        c.query_opt(&product_stmt, &unit[..1]),
        c.query(&timeline_stmt, &timeline_from),
        c.batch_execute("COMMIT"),
    );
    let (_, item, product, timeline, _) = match sent {
        Ok(answers) => answers,
        Err(e) => {
            // Had a request failed before it went out (its parameters not encodable), the
            // pooled connection must not stay inside the transaction; after `COMMIT` this
            // is a no-op.
            let _ = c.batch_execute("ROLLBACK").await;
            return Err(db(e));
        }
    };
    let Some(item) = item else {
        return Ok(None);
    };
    Ok(Some(UnitHistory {
        state: item_of(key, &item)?,
        product: product.as_ref().map(master_of).transpose()?,
        timeline: timeline_of(key, &timeline)?,
    }))
}

pub(crate) async fn events(
    tx: &Transaction<'_>,
    q: &EventQuery,
) -> Result<Page<StoredEvent>, StoreError> {
    let limit = q.limit.clamp(1, 1000);
    let empty = Page {
        items: Vec::new(),
        next: None,
    };
    let texts = [
        q.biz_step.as_deref(),
        q.biz_location.as_deref(),
        q.biz_transaction.as_ref().map(|t| t.0.as_str()),
        q.biz_transaction.as_ref().map(|t| t.1.as_str()),
    ];
    if texts.into_iter().flatten().any(|t| !storable(t)) {
        return Ok(empty);
    }
    let (sql, args) = threadline_store::query::events_sql(q, |n| format!("${n}"));
    let args = boxed(args);
    let stmt = tx.prepare_cached(&sql).await.map_err(db)?;
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = tx.query(&stmt, &params).await.map_err(db)?;
    let more = rows.len() > limit as usize;
    let mut page = Vec::with_capacity(rows.len().min(limit as usize));
    for r in rows.iter().take(limit as usize) {
        page.push((col(r, 0)?, col(r, 1)?, col(r, 2)?));
    }
    let items = stored(tx, page).await?;
    let next = more
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Page { items, next })
}

/// The discrepancies of the events `ids`, in ledger order.
pub(crate) async fn discrepancies(
    c: &impl GenericClient,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, threadline_domain::projection::Discrepancy)>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT e.event_id, d.code, d.field, d.message, d.kind FROM events e JOIN discrepancies d ON d.seq = e.seq
             WHERE e.event_id = ANY($1) ORDER BY d.seq, d.n",
        )
        .await
        .map_err(db)?;
    let rows = c.query(&stmt, &[&ids]).await.map_err(db)?;
    rows.iter()
        .map(|r| Ok((col(r, 0)?, discrepancy(r)?)))
        .collect()
}

/// The discrepancies `q` selects, newest event first (`Store::discrepancy_list`).
pub(crate) async fn discrepancy_list(
    c: &impl GenericClient,
    q: &threadline_store::DiscrepancyQuery,
) -> Result<Page<threadline_store::DiscrepancyRow>, StoreError> {
    let limit = q.limit.clamp(1, 1000) as usize;
    let (sql, args) = threadline_store::query::discrepancies_sql(q, false, |n| format!("${n}"));
    let rows = query_shared(c, &sql, args).await?;
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    for r in rows.iter().take(limit) {
        items.push(threadline_store::DiscrepancyRow {
            seq: col(r, 0)?,
            n: i64::from(col::<i32>(r, 1)?),
            event_id: col(r, 2)?,
            event_time: crate::from_micros(col(r, 3)?),
            recorded_at: crate::from_micros(col(r, 4)?),
            discrepancy: threadline_domain::projection::Discrepancy {
                code: col(r, 5)?,
                field: col(r, 6)?,
                message: col(r, 7)?,
                kind: threadline_domain::projection::DiscrepancyKind::parse(&col::<String>(r, 8)?),
            },
        });
    }
    let next = more
        .then(|| items.last().map(|d| d.position().to_string()))
        .flatten();
    Ok(Page { items, next })
}

/// How many discrepancies `q` selects (`Store::discrepancy_count`).
pub(crate) async fn discrepancy_count(
    c: &impl GenericClient,
    q: &threadline_store::DiscrepancyQuery,
) -> Result<i64, StoreError> {
    let (sql, args) = threadline_store::query::discrepancies_sql(q, true, |n| format!("${n}"));
    let rows = query_shared(c, &sql, args).await?;
    rows.first().map_or(Ok(0), |r| col(r, 0))
}

/// The arguments of a statement `threadline_store` writes, as the driver binds them.
pub(crate) fn boxed(
    args: Vec<threadline_store::query::SqlValue>,
) -> Vec<Box<dyn ToSql + Sync + Send>> {
    args.into_iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                threadline_store::query::SqlValue::Text(t) => Box::new(t),
                threadline_store::query::SqlValue::Int(i) => Box::new(i),
            }
        })
        .collect()
}

/// Runs a statement of `threadline_store::query` with its arguments.
async fn query_shared(
    c: &impl GenericClient,
    sql: &str,
    args: Vec<threadline_store::query::SqlValue>,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let args = boxed(args);
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    c.query(sql, &params).await.map_err(db)
}

/// A discrepancy from columns 1–4 of a row (`code, field, message, kind`).
pub(crate) fn discrepancy(
    r: &tokio_postgres::Row,
) -> Result<threadline_domain::projection::Discrepancy, StoreError> {
    Ok(threadline_domain::projection::Discrepancy {
        code: col(r, 1)?,
        field: col(r, 2)?,
        message: col(r, 3)?,
        kind: threadline_domain::projection::DiscrepancyKind::parse(&col::<String>(r, 4)?),
    })
}
