//! Queries. Every read runs on a reader connection and sees one consistent snapshot.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::de::DeserializeOwned;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::ledger::{LedgerEntry, MasterChange};
use threadline_domain::projection::{DiscrepancyKind, ItemStatus};
use threadline_store::{
    EventQuery, IdempotencyKey, ItemRow, ItemView, ListQuery, LotView, Page, Receipt, StateQuery,
    StockLine, StoreError, StoredEvent, UnitState, Versioned, page_of,
};
use uuid::Uuid;

use crate::capture::holds_of;
use crate::{db, from_micros};

pub(crate) fn idempotent_replay(
    tx: &Transaction,
    k: &IdempotencyKey,
) -> Result<Option<Vec<Receipt>>, StoreError> {
    let row: Option<(Vec<u8>, String)> = tx
        .query_row(
            "SELECT request_hash, receipts FROM idempotency WHERE key = ?1",
            [&k.key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let Some((hash, receipts)) = row else {
        return Ok(None);
    };
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

pub(crate) fn remember(
    tx: &Transaction,
    k: &IdempotencyKey,
    receipts: &[Receipt],
) -> Result<(), StoreError> {
    let body = serde_json::to_string(receipts).map_err(|e| StoreError::Database(e.to_string()))?;
    tx.execute(
        "INSERT INTO idempotency (key, request_hash, receipts, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            k.key,
            k.request_hash.as_slice(),
            body,
            receipts.first().map(|r| r.seq).unwrap_or(0)
        ],
    )
    .map_err(db)?;
    Ok(())
}

fn versioned<T: DeserializeOwned>(
    def: &str,
    version: u32,
    updated_at: i64,
) -> Result<Versioned<T>, StoreError> {
    Ok(Versioned {
        def: serde_json::from_str(def).map_err(|e| StoreError::Schema(e.to_string()))?,
        version,
        updated_at: from_micros(updated_at),
    })
}

pub(crate) fn master_one<T: DeserializeOwned>(
    c: &Connection,
    table: &str,
    code: &str,
) -> Result<Option<Versioned<T>>, StoreError> {
    let row: Option<(String, u32, i64)> = c
        .prepare_cached(&format!(
            "SELECT def, version, updated_at FROM {table} WHERE code = ?1"
        ))
        .map_err(db)?
        .query_row([code], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db)?;
    row.map(|(d, v, u)| versioned(&d, v, u)).transpose()
}

pub(crate) fn master_list<T: DeserializeOwned>(
    c: &Connection,
    table: &str,
    kind_column: &str,
    q: &ListQuery,
) -> Result<Page<Versioned<T>>, StoreError> {
    let limit = q.limit.clamp(1, 1000);
    let mut sql = format!("SELECT code, def, version, updated_at FROM {table} WHERE code > ?1");
    let mut args: Vec<Box<dyn rusqlite::ToSql>> =
        vec![Box::new(q.after.clone().unwrap_or_default())];
    if let Some(s) = &q.search {
        args.push(Box::new(format!("%{}%", s.to_lowercase())));
        sql.push_str(&format!(
            " AND (lower(code) LIKE ?{n} OR lower(name) LIKE ?{n})",
            n = args.len()
        ));
    }
    if let Some(k) = &q.kind {
        args.push(Box::new(k.clone()));
        sql.push_str(&format!(" AND {kind_column} = ?{}", args.len()));
    }
    if let (Some(p), "locations") = (&q.parent, table) {
        args.push(Box::new(p.clone()));
        sql.push_str(&format!(" AND parent = ?{}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY code LIMIT {}", limit + 1));
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(db)?;
    let mut items = Vec::new();
    let mut codes = Vec::new();
    for row in rows {
        let (code, def, v, u) = row.map_err(db)?;
        codes.push(code);
        items.push(versioned(&def, v, u)?);
    }
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        codes.get(limit as usize - 1).cloned()
    } else {
        None
    };
    Ok(Page { items, next })
}

pub(crate) fn master_history(
    c: &Connection,
    kind: &str,
    code: &str,
) -> Result<Vec<MasterChange>, StoreError> {
    // Master entries are few; the body holds kind and code.
    let mut stmt = c
        .prepare_cached("SELECT body FROM ledger WHERE kind = 'master' ORDER BY seq")
        .map_err(db)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let body = row.map_err(db)?;
        if let Ok(LedgerEntry::Master(m)) = LedgerEntry::from_body(&body)
            && m.record.kind() == kind
            && m.record.code() == code
        {
            out.push(m);
        }
    }
    Ok(out)
}

fn keys_of(c: &Connection, sql: &str, id: i64) -> Result<Vec<ItemKey>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (p, s) = row.map_err(db)?;
        out.push(ItemKey {
            product: threadline_domain::ProductCode::parse(&p)
                .map_err(|e| StoreError::Schema(e.message))?,
            serial: threadline_domain::Serial::parse(&s)
                .map_err(|e| StoreError::Schema(e.message))?,
        });
    }
    Ok(out)
}

pub(crate) fn item(c: &Connection, key: &ItemKey) -> Result<Option<ItemView>, StoreError> {
    type Row = (
        i64,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = c
        .prepare_cached(
            "SELECT i.id, i.status, i.holds, i.location, i.custodian, i.lot, i.attributes
             FROM items i JOIN products p ON p.id = i.product_id WHERE p.code = ?1 AND i.serial = ?2",
        )
        .map_err(db)?
        .query_row(params![key.product.as_str(), key.serial.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .optional()
        .map_err(db)?;
    let Some((id, status, holds, location, custodian, lot, attributes)) = row else {
        return Ok(None);
    };
    let parent = keys_of(
        c,
        "SELECT p.code, par.serial FROM items i JOIN items par ON par.id = i.parent_id JOIN products p ON p.id = par.product_id WHERE i.id = ?1",
        id,
    )?
    .into_iter()
    .next();
    let children = keys_of(
        c,
        "SELECT p.code, c.serial FROM items c JOIN products p ON p.id = c.product_id WHERE c.parent_id = ?1 ORDER BY p.code, c.serial",
        id,
    )?;
    let (count, first, last): (i64, Option<i64>, Option<i64>) = c
        .prepare_cached(
            "SELECT count(*), min(e.event_time), max(e.event_time) FROM event_items ei JOIN events e ON e.seq = ei.seq WHERE ei.item_id = ?1",
        )
        .map_err(db)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(db)?;
    Ok(Some(ItemView {
        product: key.product.to_string(),
        serial: key.serial.to_string(),
        status: ItemStatus::parse(&status)
            .ok_or_else(|| StoreError::Schema(format!("unknown status {status}")))?,
        holds: holds_of(holds),
        location,
        custodian,
        lot,
        parent,
        children,
        attributes: attributes
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|e| StoreError::Schema(e.to_string()))?
            .unwrap_or_default(),
        event_count: count,
        first_seen: from_micros(first.unwrap_or(0)),
        last_event_time: from_micros(last.unwrap_or(0)),
    }))
}

/// [`threadline_store::Store::unit_states`]: the keys bound as one JSON array of
/// `[product, serial]`, read from it outwards (each unit one probe of `items`' unique key).
pub(crate) fn unit_states(
    c: &Connection,
    keys: &[ItemKey],
) -> Result<Vec<Option<UnitState>>, StoreError> {
    let mut out = vec![None; keys.len()];
    if keys.is_empty() {
        return Ok(out);
    }
    let json = serde_json::to_string(
        &keys
            .iter()
            .map(|k| [k.product.as_str(), k.serial.as_str()])
            .collect::<Vec<_>>(),
    )
    .map_err(|e| StoreError::Database(e.to_string()))?;
    let mut stmt = c.prepare_cached(UNIT_STATES).map_err(db)?;
    let mut rows = stmt.query([json]).map_err(db)?;
    while let Some(r) = rows.next().map_err(db)? {
        let n: i64 = r.get(0).map_err(db)?;
        let status: String = r.get(1).map_err(db)?;
        let parent = match (
            r.get::<_, Option<String>>(5).map_err(db)?,
            r.get::<_, Option<String>>(6).map_err(db)?,
        ) {
            (Some(p), Some(s)) => Some(ItemKey {
                product: threadline_domain::ProductCode::parse(&p)
                    .map_err(|e| StoreError::Schema(e.message))?,
                serial: threadline_domain::Serial::parse(&s)
                    .map_err(|e| StoreError::Schema(e.message))?,
            }),
            _ => None,
        };
        let state = UnitState {
            status: ItemStatus::parse(&status)
                .ok_or_else(|| StoreError::Schema(format!("unknown status {status}")))?,
            location: r.get(2).map_err(db)?,
            custodian: r.get(3).map_err(db)?,
            lot: r.get(4).map_err(db)?,
            parent,
        };
        if let Some(slot) = usize::try_from(n).ok().and_then(|n| out.get_mut(n)) {
            *slot = Some(state);
        }
    }
    Ok(out)
}

/// The units of a JSON array of `[product, serial]`, each with its array index (`j.key`).
/// `CROSS JOIN` keeps the planner starting from the array: it has no statistics to tell it
/// the array is small and `items` large.
pub(crate) const UNIT_STATES: &str =
    "SELECT j.key, i.status, i.location, i.custodian, i.lot, pp.code, par.serial
     FROM json_each(?1) j
     CROSS JOIN products p ON p.code = json_extract(j.value, '$[0]')
     CROSS JOIN items i ON i.product_id = p.id AND i.serial = json_extract(j.value, '$[1]')
     LEFT JOIN items par ON par.id = i.parent_id
     LEFT JOIN products pp ON pp.id = par.product_id";

pub(crate) fn lot(c: &Connection, key: &LotKey) -> Result<Option<LotView>, StoreError> {
    let row: Option<(i64, Option<String>, Option<String>, i64)> = c
        .prepare_cached(
            "SELECT l.id, l.production_date, l.expiry_date, l.holds FROM lots l JOIN products p ON p.id = l.product_id
             WHERE p.code = ?1 AND l.code = ?2",
        )
        .map_err(db)?
        .query_row(params![key.product.as_str(), key.lot.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(db)?;
    let Some((id, prod, exp, holds)) = row else {
        return Ok(None);
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT location, quantity FROM lot_stock WHERE lot_id = ?1 ORDER BY location",
        )
        .map_err(db)?;
    let stock = stmt
        .query_map([id], |r| {
            Ok(StockLine {
                location: r.get(0)?,
                quantity: threadline_domain::Quantity::from_millis(r.get(1)?),
            })
        })
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let date =
        |d: Option<String>| d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    Ok(Some(LotView {
        product: key.product.to_string(),
        lot: key.lot.to_string(),
        production_date: date(prod),
        expiry_date: date(exp),
        holds: holds_of(holds),
        stock,
    }))
}

/// A list of places bound as one JSON array (read back with `json_each`), or NULL.
pub(crate) fn places_json(places: Option<&[String]>) -> Result<Option<String>, StoreError> {
    places
        .map(|p| serde_json::to_string(p).map_err(StoreError::db))
        .transpose()
}

pub(crate) fn item_list(c: &Connection, q: &StateQuery) -> Result<Page<ItemRow>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT i.id, p.code, i.serial, i.status, i.holds, i.location, i.custodian, i.lot, pp.code, par.serial
             FROM items i JOIN products p ON p.id = i.product_id
             LEFT JOIN items par ON par.id = i.parent_id LEFT JOIN products pp ON pp.id = par.product_id
             WHERE (?1 IS NULL OR p.code = ?1) AND (?2 IS NULL OR i.status = ?2)
               AND (?3 IS NULL OR i.location = ?3) AND i.id > ?4
               AND (?6 IS NULL OR i.location IN (SELECT value FROM json_each(?6)))
             ORDER BY i.id LIMIT ?5",
        )
        .map_err(db)?;
    type Row = (
        i64,
        String,
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows = stmt
        .query_map(
            params![
                q.product,
                q.status.map(|s| s.as_str()),
                q.location,
                q.after.unwrap_or(0),
                i64::from(q.limit) + 1,
                places_json(q.places.as_deref())?
            ],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )
        .map_err(db)?
        .collect::<Result<Vec<Row>, _>>()
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, product, serial, status, holds, location, custodian, lot, pp, ps) in rows {
        let row = ItemRow::from_columns(
            product,
            serial,
            &status,
            holds_of(holds),
            location,
            custodian,
            lot,
            pp.zip(ps),
        )?;
        out.push((id, row));
    }
    Ok(page_of(out, q.limit))
}

pub(crate) fn lot_list(c: &Connection, q: &StateQuery) -> Result<Page<LotView>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT l.id, p.code, l.code FROM lots l JOIN products p ON p.id = l.product_id
             WHERE (?1 IS NULL OR p.code = ?1)
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM lot_stock s WHERE s.lot_id = l.id AND s.location = ?2))
               AND (?5 IS NULL OR EXISTS (SELECT 1 FROM lot_stock s WHERE s.lot_id = l.id
                      AND s.location IN (SELECT value FROM json_each(?5))))
               AND l.id > ?3
             ORDER BY l.id LIMIT ?4",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                q.product,
                q.location,
                q.after.unwrap_or(0),
                i64::from(q.limit) + 1,
                places_json(q.places.as_deref())?
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, product, code) in rows {
        let key = LotKey {
            product: threadline_domain::ProductCode::parse(&product)
                .map_err(|e| StoreError::Schema(e.message))?,
            lot: threadline_domain::LotCode::parse(&code)
                .map_err(|e| StoreError::Schema(e.message))?,
        };
        if let Some(view) = lot(c, &key)? {
            out.push((id, view));
        }
    }
    Ok(page_of(out, q.limit))
}

fn stored(c: &Connection, seq: i64, body: &str, hash: &[u8]) -> Result<StoredEvent, StoreError> {
    let event = threadline_domain::ledger::event_from_body(body)
        .map_err(|e| StoreError::Schema(format!("entry {seq}: {e}")))?;
    let mut stmt = c
        .prepare_cached("SELECT event_id FROM events WHERE corrects = ?1 ORDER BY seq")
        .map_err(db)?;
    let corrected_by = stmt
        .query_map([event.id.as_bytes().as_slice()], |r| r.get::<_, Vec<u8>>(0))
        .map_err(db)?
        .filter_map(|r| r.ok().and_then(|b| Uuid::from_slice(&b).ok()))
        .collect();
    Ok(StoredEvent {
        seq,
        hash: hex::encode(hash),
        event,
        corrected_by,
        others: 0,
        via: None,
        discrepancies: Vec::new(),
    })
}

pub(crate) fn event(c: &Connection, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
    let row: Option<(i64, String, Vec<u8>)> = c
        .prepare_cached("SELECT l.seq, l.body, l.hash FROM events e JOIN ledger l ON l.seq = e.seq WHERE e.event_id = ?1")
        .map_err(db)?
        .query_row([id.as_bytes().as_slice()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db)?;
    row.map(|(seq, body, hash)| stored(c, seq, &body, &hash))
        .transpose()
}

pub(crate) fn events(c: &Connection, q: &EventQuery) -> Result<Page<StoredEvent>, StoreError> {
    let limit = q.limit.clamp(1, 1000);
    let (sql, args) = threadline_store::query::events_sql(q, |n| format!("?{n}"));
    let args = args.into_iter().map(|v| match v {
        threadline_store::query::SqlValue::Text(t) => rusqlite::types::Value::Text(t),
        threadline_store::query::SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
    });
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let mut items = Vec::with_capacity(rows.len());
    for (seq, body, hash) in rows.iter().take(limit as usize) {
        items.push(stored(c, *seq, body, hash)?);
    }
    let next = (rows.len() > limit as usize)
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Page { items, next })
}

/// The statement behind [`timeline_after`].
static TIMELINE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    threadline_store::query::timeline_sql(
        |n| format!("?{n}"),
        "(SELECT group_concat(hex(k.event_id)) FROM events k WHERE k.corrects = e.event_id)",
        "json_extract(cp.def, '$.container') = 1",
    )
});

/// The events naming `key`, narrowed to it, and those that moved it inside a container
/// ([`threadline_store::query::timeline_sql`]): batch events from their heads.
pub(crate) fn timeline(c: &Connection, key: &ItemKey) -> Result<Vec<StoredEvent>, StoreError> {
    timeline_after(c, key, 0)
}

/// [`timeline`] from after ledger position `after`.
pub(crate) fn timeline_after(
    c: &Connection,
    key: &ItemKey,
    after: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    // The body is read only where there is no head or the unit is the parent (it keeps its
    // components); the corrections of each event come in the same statement.
    let mut stmt = c.prepare_cached(&TIMELINE).map_err(db)?;
    let mut rows = stmt
        .query(params![key.product.as_str(), key.serial.as_str(), after])
        .map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let corrections: Option<String> = r.get(6).map_err(db)?;
        let corrected_by = corrections
            .iter()
            .flat_map(|c| c.split(','))
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| Uuid::from_slice(&b).ok())
                    .ok_or_else(|| StoreError::Schema(format!("event id {h}")))
            })
            .collect::<Result<_, _>>()?;
        let via = match (
            r.get::<_, Option<String>>(7).map_err(db)?,
            r.get::<_, Option<String>>(8).map_err(db)?,
        ) {
            (Some(p), Some(s)) => Some(threadline_store::item_key(&p, &s)?),
            _ => None,
        };
        out.push(threadline_store::TimelineRow {
            seq: r.get(0).map_err(db)?,
            role: r.get(1).map_err(db)?,
            via,
            head: r.get(2).map_err(db)?,
            units: r.get(3).map_err(db)?,
            body: r.get(4).map_err(db)?,
            hash: r.get(5).map_err(db)?,
            corrected_by,
        });
    }
    threadline_store::timeline(key, out)
}

pub(crate) fn product_by_gtin(
    c: &Connection,
    gtin: &str,
) -> Result<Option<Versioned<threadline_domain::master::Product>>, StoreError> {
    let row: Option<(String, u32, i64)> = c
        .prepare_cached("SELECT def, version, updated_at FROM products WHERE gtin = ?1")
        .map_err(db)?
        .query_row([gtin], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db)?;
    row.map(|(d, v, u)| versioned(&d, v, u)).transpose()
}

pub(crate) fn items_by_serial(
    c: &Connection,
    serial: &str,
    limit: u32,
) -> Result<Vec<ItemKey>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT p.code, i.serial FROM items i JOIN products p ON p.id = i.product_id WHERE i.serial = ?1 ORDER BY p.code LIMIT ?2",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![serial, limit.clamp(1, 1000)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (p, s) = row.map_err(db)?;
        out.push(ItemKey {
            product: threadline_domain::ProductCode::parse(&p)
                .map_err(|e| StoreError::Schema(e.message))?,
            serial: threadline_domain::Serial::parse(&s)
                .map_err(|e| StoreError::Schema(e.message))?,
        });
    }
    Ok(out)
}

/// The direct genealogy links of a node.
pub(crate) fn links(
    c: &Connection,
    node: &threadline_domain::projection::Node,
    direction: threadline_store::Direction,
) -> Result<Vec<threadline_store::Link>, StoreError> {
    use threadline_domain::projection::Node;
    let (kind, id): (&str, Option<i64>) = match node {
        Node::Item(k) => (
            "i",
            c.prepare_cached("SELECT i.id FROM items i JOIN products p ON p.id = i.product_id WHERE p.code = ?1 AND i.serial = ?2")
                .map_err(db)?
                .query_row(params![k.product.as_str(), k.serial.as_str()], |r| r.get(0))
                .optional()
                .map_err(db)?,
        ),
        Node::Lot(k) => (
            "l",
            c.prepare_cached("SELECT l.id FROM lots l JOIN products p ON p.id = l.product_id WHERE p.code = ?1 AND l.code = ?2")
                .map_err(db)?
                .query_row(params![k.product.as_str(), k.lot.as_str()], |r| r.get(0))
                .optional()
                .map_err(db)?,
        ),
    };
    let Some(id) = id else { return Ok(Vec::new()) };
    let (me, other) = match direction {
        threadline_store::Direction::Children => ("parent", "child"),
        threadline_store::Direction::Parents => ("child", "parent"),
    };
    let sql = format!(
        "SELECT g.kind, g.quantity, g.from_time, g.to_time, g.{other}_type, ip.code, i.serial, lp.code, l.code
         FROM genealogy g
         LEFT JOIN items i ON g.{other}_type = 'i' AND i.id = g.{other}_id LEFT JOIN products ip ON ip.id = i.product_id
         LEFT JOIN lots l ON g.{other}_type = 'l' AND l.id = g.{other}_id LEFT JOIN products lp ON lp.id = l.product_id
         WHERE g.{me}_type = ?1 AND g.{me}_id = ?2 ORDER BY g.from_seq"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let mut rows = stmt.query(params![kind, id]).map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let other_type: String = r.get(4).map_err(db)?;
        let schema = |e: threadline_domain::FieldError| StoreError::Schema(e.message);
        let node = if other_type == "i" {
            let (p, s): (String, String) = (r.get(5).map_err(db)?, r.get(6).map_err(db)?);
            Node::Item(ItemKey {
                product: threadline_domain::ProductCode::parse(&p).map_err(schema)?,
                serial: threadline_domain::Serial::parse(&s).map_err(schema)?,
            })
        } else {
            let (p, l): (String, String) = (r.get(7).map_err(db)?, r.get(8).map_err(db)?);
            Node::Lot(LotKey {
                product: threadline_domain::ProductCode::parse(&p).map_err(schema)?,
                lot: threadline_domain::LotCode::parse(&l).map_err(schema)?,
            })
        };
        out.push(threadline_store::Link {
            node,
            kind: r.get(0).map_err(db)?,
            quantity: r
                .get::<_, Option<i64>>(1)
                .map_err(db)?
                .map(threadline_domain::Quantity::from_millis),
            from_time: from_micros(r.get(2).map_err(db)?),
            to_time: r.get::<_, Option<i64>>(3).map_err(db)?.map(from_micros),
        });
    }
    Ok(out)
}

/// The starting nodes of a walk, from a JSON array of `["i"|"l", product, serial or lot]`.
const REACH_SEED: &str = "SELECT 'i' AS t, i.id AS id FROM json_each(?1) j
       JOIN products p ON p.code = json_extract(j.value, '$[1]')
       JOIN items i ON i.product_id = p.id AND i.serial = json_extract(j.value, '$[2]')
       WHERE json_extract(j.value, '$[0]') = 'i'
     UNION
     SELECT 'l', l.id FROM json_each(?1) j
       JOIN products p ON p.code = json_extract(j.value, '$[1]')
       JOIN lots l ON l.product_id = p.id AND l.code = json_extract(j.value, '$[2]')
       WHERE json_extract(j.value, '$[0]') = 'l'";

/// Runs the walk and sends its rows in chunks; stops early if the receiver is gone.
pub(crate) fn reach(
    c: &Connection,
    roots: &[threadline_domain::projection::Node],
    direction: threadline_store::Direction,
    as_of: i64,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<threadline_store::Reached>, StoreError>>,
) -> Result<(), StoreError> {
    use threadline_domain::projection::Node;
    let seeds: Vec<[&str; 3]> = roots
        .iter()
        .map(|n| match n {
            Node::Item(k) => ["i", k.product.as_str(), k.serial.as_str()],
            Node::Lot(k) => ["l", k.product.as_str(), k.lot.as_str()],
        })
        .collect();
    let seeds = serde_json::to_string(&seeds).map_err(|e| StoreError::Database(e.to_string()))?;
    let sql = threadline_store::query::reach_sql(
        direction,
        REACH_SEED,
        2,
        threadline_store::query::Dialect {
            placeholder: |n| format!("?{n}"),
            null_text: "NULL",
            null_int: "NULL",
            step_order: "ORDER BY 3, 10",
            final_order: "",
        },
    );
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let mut rows = stmt.query(params![seeds, as_of]).map_err(db)?;
    let mut chunk = Vec::with_capacity(threadline_store::REACH_CHUNK);
    let mut walk = threadline_store::Walk::default();
    while let Some(r) = rows.next().map_err(db)? {
        let raw = threadline_store::RawReached {
            depth: r.get(0).map_err(db)?,
            node_type: text(r, 1)?,
            product: text(r, 2)?,
            code: text(r, 3)?,
            via_type: text_or_null(r, 4)?,
            via_id: r.get(5).map_err(db)?,
            kind: text_or_null(r, 6)?,
            quantity: r.get(7).map_err(db)?,
            from_time: r.get(8).map_err(db)?,
            removed_time: r.get(9).map_err(db)?,
            status: text_or_null(r, 10)?,
            holds: r.get(11).map_err(db)?,
            location: text_or_null(r, 12)?,
            custodian: text_or_null(r, 13)?,
            lot: text_or_null(r, 14)?,
            parent_product: text_or_null(r, 15)?,
            parent_serial: text_or_null(r, 16)?,
            id: r.get(17).map_err(db)?,
            inside: threadline_store::RawInside {
                status: text_or_null(r, 18)?,
                location: text_or_null(r, 19)?,
                custodian: text_or_null(r, 20)?,
                lot: text_or_null(r, 21)?,
                parent_product: text_or_null(r, 22)?,
                parent_serial: text_or_null(r, 23)?,
            },
        };
        let Some(reached) = walk.reached(raw)? else {
            continue;
        };
        chunk.push(reached);
        if chunk.len() == threadline_store::REACH_CHUNK {
            let full = std::mem::replace(
                &mut chunk,
                Vec::with_capacity(threadline_store::REACH_CHUNK),
            );
            if tx.blocking_send(Ok(full)).is_err() {
                return Ok(()); // nobody is listening any more
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Ok(chunk));
    }
    Ok(())
}

/// The discrepancies of the events `ids`, in ledger order.
pub(crate) fn discrepancies(
    c: &Connection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, threadline_domain::projection::Discrepancy)>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT e.seq, d.code, d.field, d.message, d.kind FROM events e JOIN discrepancies d ON d.seq = e.seq
             WHERE e.event_id = ?1 ORDER BY d.n",
        )
        .map_err(db)?;
    let mut found = Vec::new();
    for id in ids {
        let rows = stmt
            .query_map([id.as_bytes().as_slice()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    *id,
                    threadline_domain::projection::Discrepancy {
                        code: r.get(1)?,
                        field: r.get(2)?,
                        message: r.get(3)?,
                        kind: DiscrepancyKind::parse(&r.get::<_, String>(4)?),
                    },
                ))
            })
            .map_err(db)?;
        for d in rows {
            found.push(d.map_err(db)?);
        }
    }
    // Stable: an event's own order is kept.
    found.sort_by_key(|(seq, _, _)| *seq);
    Ok(found.into_iter().map(|(_, id, d)| (id, d)).collect())
}

/// The discrepancies `q` selects, newest event first (`Store::discrepancy_list`).
pub(crate) fn discrepancy_list(
    c: &Connection,
    q: &threadline_store::DiscrepancyQuery,
) -> Result<Page<threadline_store::DiscrepancyRow>, StoreError> {
    let limit = q.limit.clamp(1, 1000) as usize;
    let (sql, args) = threadline_store::query::discrepancies_sql(q, false, |n| format!("?{n}"));
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(
            rusqlite::params_from_iter(args.into_iter().map(value)),
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    threadline_domain::projection::Discrepancy {
                        code: r.get(5)?,
                        field: r.get(6)?,
                        message: r.get(7)?,
                        kind: DiscrepancyKind::parse(&r.get::<_, String>(8)?),
                    },
                ))
            },
        )
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let more = rows.len() > limit;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    for (seq, n, id, event_time, recorded_at, discrepancy) in rows.into_iter().take(limit) {
        items.push(threadline_store::DiscrepancyRow {
            seq,
            n,
            event_id: Uuid::from_slice(&id).map_err(|e| StoreError::Database(e.to_string()))?,
            event_time: crate::from_micros(event_time),
            recorded_at: crate::from_micros(recorded_at),
            discrepancy,
        });
    }
    let next = more
        .then(|| items.last().map(|d| d.position().to_string()))
        .flatten();
    Ok(Page { items, next })
}

/// How many discrepancies `q` selects (`Store::discrepancy_count`).
pub(crate) fn discrepancy_count(
    c: &Connection,
    q: &threadline_store::DiscrepancyQuery,
) -> Result<i64, StoreError> {
    let (sql, args) = threadline_store::query::discrepancies_sql(q, true, |n| format!("?{n}"));
    c.prepare_cached(&sql)
        .map_err(db)?
        .query_row(
            rusqlite::params_from_iter(args.into_iter().map(value)),
            |r| r.get(0),
        )
        .map_err(db)
}

fn value(v: threadline_store::query::SqlValue) -> rusqlite::types::Value {
    match v {
        threadline_store::query::SqlValue::Text(t) => rusqlite::types::Value::Text(t),
        threadline_store::query::SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
    }
}

/// Column `i` of a row as text borrowed from the row, `None` for NULL: a walk's row is read
/// without a `String` per column.
fn text_or_null<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r str>, StoreError> {
    r.get_ref(i)
        .map_err(db)?
        .as_str_or_null()
        .map_err(|e| StoreError::Database(format!("column {i}: {e}")))
}

/// Column `i` of a row as text borrowed from the row; NULL is an error.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, StoreError> {
    text_or_null(r, i)?.ok_or_else(|| StoreError::Database(format!("column {i} is NULL")))
}

#[cfg(test)]
mod tests {
    // A test panics on any failure, which is what it should do with it.
    #![allow(clippy::unwrap_used)]

    /// What the timeline may read whole: its own few rows (the unit, the containers that held
    /// it, the ledger positions it names — `unit u`, `held h`, `hits r`). Every table of the
    /// ledger grows with every event and must be reached through an index.
    const OWN_ROWS: &[&str] = &["u", "h", "r"];

    /// SQLite plans without statistics (no `sqlite_stat1`: the same guesses on an empty file
    /// as on a 16 GB one), so the plan on a fresh database is the plan in a plant. The bundled
    /// SQLite 3.50 read `event_items` and `events` whole for every passport (2.9 s at 1 M
    /// events) where 3.40 did not.
    #[test]
    fn a_passport_reads_no_growing_table_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = rusqlite::Connection::open(dir.path().join("plan.db")).unwrap();
        crate::migrate::run(&mut c).unwrap();
        let mut stmt = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", *super::TIMELINE))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params!["PHONE", "H1", 0], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|d| d.contains("genealogy_child")),
            "{plan:#?}"
        );
        for step in &plan {
            let scanned = step
                .strip_prefix("SCAN ")
                .and_then(|rest| rest.split_whitespace().next());
            assert!(
                scanned.is_none_or(|t| OWN_ROWS.contains(&t)),
                "the passport's timeline reads a table whole: `{step}` in {plan:#?}"
            );
        }
    }

    /// The units parts are built into, read a chunk of trace rows at a time: from the array
    /// outwards, one probe of `items`' unique key each, never `items` whole.
    #[test]
    fn unit_states_start_from_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = rusqlite::Connection::open(dir.path().join("plan.db")).unwrap();
        crate::migrate::run(&mut c).unwrap();
        let mut stmt = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::UNIT_STATES))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map([r#"[["PHONE","P1"]]"#], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|d| d.starts_with("SEARCH i USING INDEX sqlite_autoindex_items_1")),
            "{plan:#?}"
        );
        for step in &plan {
            assert!(
                !step.starts_with("SCAN") || step.starts_with("SCAN j "),
                "`{step}` in {plan:#?}"
            );
        }
    }
}
