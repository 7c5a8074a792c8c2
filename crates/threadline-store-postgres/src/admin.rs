//! Ledger maintenance: verify the chain, rebuild every projection from it, and take a canonical
//! snapshot of the projection for comparison.
//!
//! `verify` and `snapshot` run in the caller's read-only REPEATABLE READ transaction, so a
//! capture committing meanwhile is either wholly in what they see or not at all. `rebuild`
//! holds the chain head like any writer.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::Event;
use threadline_domain::ledger::{Break, ChainVerifier, LedgerEntry};
use threadline_domain::projection::{LotState, Node};
use threadline_domain::{LotCode, ProductCode, Quantity, Serial};
use threadline_store::{EdgeRow, RebuildReport, Snapshot, StoreError, VerifyReport};
use uuid::Uuid;

use crate::capture::{lock_head, project_events};
use crate::{col, db, micros};

/// Ledger rows fetched per round trip while verifying or rebuilding.
const CHUNK: i32 = 2000;

pub(crate) async fn verify(tx: &Transaction<'_>) -> Result<VerifyReport, StoreError> {
    let stmt = tx
        .prepare(
            "SELECT l.seq, l.body, l.hash, e.event_id, e.event_time, e.kind
             FROM ledger l LEFT JOIN events e ON e.seq = l.seq ORDER BY l.seq",
        )
        .await
        .map_err(db)?;
    let portal = tx.bind(&stmt, &[]).await.map_err(db)?;
    let mut v = ChainVerifier::default();
    let report = |v: &ChainVerifier, b: Break| {
        Ok(VerifyReport {
            entries: v.count(),
            audit_records: 0,
            first_break: Some(b),
        })
    };
    loop {
        let rows = tx.query_portal(&portal, CHUNK).await.map_err(db)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = col(r, 0)?;
            let body: &str = col(r, 1)?;
            let hash: &[u8] = col(r, 2)?;
            if let Err(b) = v.check(seq, body.as_bytes(), hash) {
                return report(&v, b);
            }
            let entry = match LedgerEntry::from_body(body) {
                Ok(e) => e,
                Err(e) => {
                    return report(
                        &v,
                        Break::Body {
                            seq,
                            reason: e.to_string(),
                        },
                    );
                }
            };
            if let LedgerEntry::Event(ev) = entry {
                let id: Option<Uuid> = col(r, 3)?;
                let time: Option<i64> = col(r, 4)?;
                let kind: Option<&str> = col(r, 5)?;
                if id != Some(ev.id) {
                    return report(
                        &v,
                        Break::Index {
                            seq,
                            column: "event_id",
                        },
                    );
                }
                if time != Some(micros(ev.event_time)) {
                    return report(
                        &v,
                        Break::Index {
                            seq,
                            column: "event_time",
                        },
                    );
                }
                if kind != Some(ev.kind.as_str()) {
                    return report(
                        &v,
                        Break::Index {
                            seq,
                            column: "kind",
                        },
                    );
                }
            }
        }
    }
    let row = tx
        .query_one("SELECT seq, hash FROM ledger_head WHERE id = 1", &[])
        .await
        .map_err(db)?;
    let head_seq: i64 = col(&row, 0)?;
    let head_hash: Vec<u8> = col(&row, 1)?;
    if head_seq != v.count() || (head_seq > 0 && head_hash != v.last_hash()) {
        return report(
            &v,
            Break::Head {
                expected_seq: head_seq,
                found_seq: v.count(),
            },
        );
    }
    let (audit_records, first_break) = crate::audit::verify(tx).await?;
    Ok(VerifyReport {
        entries: v.count(),
        audit_records,
        first_break,
    })
}

pub(crate) async fn rebuild(tx: &Transaction<'_>) -> Result<RebuildReport, StoreError> {
    // Captures wait until the rebuilt projection is committed; readers keep seeing the old one
    // until then (DELETE, not TRUNCATE, which would lock them out).
    lock_head(tx).await?;
    tx.batch_execute(
        &threadline_store::query::PROJECTION_TABLES
            .iter()
            .map(|t| format!("DELETE FROM {t};"))
            .collect::<String>(),
    )
    .await
    .map_err(db)?;
    let chunk = tx
        .prepare("SELECT seq, body FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2")
        .await
        .map_err(db)?;
    let mut after = 0i64;
    let mut entries = 0i64;
    loop {
        let rows = tx
            .query(&chunk, &[&after, &i64::from(CHUNK)])
            .await
            .map_err(db)?;
        let Some(last) = rows.last() else { break };
        after = col(last, 0)?;
        entries += rows.len() as i64;
        let mut events: Vec<Event> = Vec::new();
        let mut seqs: Vec<i64> = Vec::new();
        for r in &rows {
            let seq: i64 = col(r, 0)?;
            let body: &str = col(r, 1)?;
            match LedgerEntry::from_body(body)
                .map_err(|e| StoreError::Schema(format!("entry {seq}: {e}")))?
            {
                LedgerEntry::Event(e) => {
                    events.push(e);
                    seqs.push(seq);
                }
                LedgerEntry::Master(m) => {
                    flush(tx, &mut events, &mut seqs).await?;
                    crate::master::project(tx, &m).await?;
                }
            }
        }
        flush(tx, &mut events, &mut seqs).await?;
    }
    tx.execute(threadline_store::query::MARK_COMPLETE, &[])
        .await
        .map_err(db)?;
    let row = tx
        .query_one(
            "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM lots)",
            &[],
        )
        .await
        .map_err(db)?;
    Ok(RebuildReport {
        entries,
        items: col(&row, 0)?,
        lots: col(&row, 1)?,
    })
}

async fn flush(
    tx: &Transaction<'_>,
    events: &mut Vec<Event>,
    seqs: &mut Vec<i64>,
) -> Result<(), StoreError> {
    let Some(first) = seqs.first().copied() else {
        return Ok(());
    };
    // Events were accepted once in this order, so they are accepted again; if not, the ledger
    // and the rules disagree and rebuilding must stop rather than guess.
    project_events(tx, events, None, seqs, true)
        .await
        .map_err(|e| {
            StoreError::Schema(format!(
                "replaying the ledger failed near entry {first}: {e}"
            ))
        })?;
    events.clear();
    seqs.clear();
    Ok(())
}

fn schema<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Schema(e.to_string())
}

fn item_key(p: &str, s: &str) -> Result<ItemKey, StoreError> {
    Ok(ItemKey {
        product: ProductCode::parse(p).map_err(schema)?,
        serial: Serial::parse(s).map_err(schema)?,
    })
}

fn lot_key(p: &str, l: &str) -> Result<LotKey, StoreError> {
    Ok(LotKey {
        product: ProductCode::parse(p).map_err(schema)?,
        lot: LotCode::parse(l).map_err(schema)?,
    })
}

const SNAP_PRODUCTS: &str = "SELECT code, version, def FROM products ORDER BY code";
const SNAP_PARTIES: &str = "SELECT code, version, def FROM parties ORDER BY code";
const SNAP_LOCATIONS: &str = "SELECT code, version, def FROM locations ORDER BY code";
const SNAP_ITEMS: &str =
    "SELECT p.code, i.serial, i.status, i.holds, i.location, i.custodian, i.lot, pp.code, par.serial, i.attributes, i.id
     FROM items i JOIN products p ON p.id = i.product_id
     LEFT JOIN items par ON par.id = i.parent_id LEFT JOIN products pp ON pp.id = par.product_id
     ORDER BY p.code, i.serial";
const SNAP_LOTS: &str = "SELECT p.code, l.code, l.production_date, l.expiry_date, l.holds, l.id
     FROM lots l JOIN products p ON p.id = l.product_id ORDER BY p.code, l.code";
const SNAP_STOCK: &str =
    "SELECT p.code, l.code, s.location, s.quantity FROM lot_stock s JOIN lots l ON l.id = s.lot_id
     JOIN products p ON p.id = l.product_id ORDER BY p.code, l.code, s.location";
const SNAP_EDGES: &str = "SELECT parent_type, parent_id, child_type, child_id, kind, quantity, from_seq, to_seq FROM genealogy";
const SNAP_EVENTS: &str = "SELECT seq, event_id FROM events ORDER BY seq";

fn master_rows(rows: &[tokio_postgres::Row]) -> Result<Vec<(String, u32, String)>, StoreError> {
    rows.iter()
        .map(|r| {
            let v: i64 = col(r, 1)?;
            Ok((col(r, 0)?, u32::try_from(v).map_err(schema)?, col(r, 2)?))
        })
        .collect()
}

pub(crate) async fn snapshot(tx: &Transaction<'_>) -> Result<Snapshot, StoreError> {
    let (products, parties, locations, item_rows, lot_rows, stock_rows, edge_rows, event_rows) =
        tokio::try_join!(
            tx.query(SNAP_PRODUCTS, &[]),
            tx.query(SNAP_PARTIES, &[]),
            tx.query(SNAP_LOCATIONS, &[]),
            tx.query(SNAP_ITEMS, &[]),
            tx.query(SNAP_LOTS, &[]),
            tx.query(SNAP_STOCK, &[]),
            tx.query(SNAP_EDGES, &[]),
            tx.query(SNAP_EVENTS, &[]),
        )
        .map_err(db)?;

    let mut items = Vec::with_capacity(item_rows.len());
    let mut item_ids: HashMap<i64, ItemKey> = HashMap::with_capacity(item_rows.len());
    for r in &item_rows {
        let key = item_key(col(r, 0)?, col(r, 1)?)?;
        let parent: Option<String> = col(r, 7)?;
        let parent_serial: Option<String> = col(r, 8)?;
        let state = format!(
            "{}|{}|{:?}|{:?}|{:?}|{:?}|{}",
            col::<String>(r, 2)?,
            i64::from(col::<i16>(r, 3)?),
            col::<Option<String>>(r, 4)?,
            col::<Option<String>>(r, 5)?,
            col::<Option<String>>(r, 6)?,
            parent.zip(parent_serial),
            col::<Option<String>>(r, 9)?.unwrap_or_default(),
        );
        item_ids.insert(col(r, 10)?, key.clone());
        items.push((key, state));
    }
    let date =
        |d: Option<String>| d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
    let mut lots = Vec::with_capacity(lot_rows.len());
    let mut lot_ids: HashMap<i64, LotKey> = HashMap::with_capacity(lot_rows.len());
    for r in &lot_rows {
        let key = lot_key(col(r, 0)?, col(r, 1)?)?;
        lot_ids.insert(col(r, 5)?, key.clone());
        lots.push((
            key,
            LotState {
                production_date: date(col(r, 2)?),
                expiry_date: date(col(r, 3)?),
                holds: u8::try_from(col::<i16>(r, 4)?).unwrap_or(0),
            },
        ));
    }
    let mut stock = Vec::with_capacity(stock_rows.len());
    for r in &stock_rows {
        stock.push((
            lot_key(col(r, 0)?, col(r, 1)?)?,
            col(r, 2)?,
            Quantity::from_millis(col(r, 3)?),
        ));
    }
    let mut events = Vec::with_capacity(event_rows.len());
    let mut event_at: HashMap<i64, Uuid> = HashMap::with_capacity(event_rows.len());
    for r in &event_rows {
        let (seq, id): (i64, Uuid) = (col(r, 0)?, col(r, 1)?);
        event_at.insert(seq, id);
        events.push((seq, id));
    }
    let node = |kind: &str, id: i64| -> Result<Node, StoreError> {
        let found = if kind == "i" {
            item_ids.get(&id).cloned().map(Node::Item)
        } else {
            lot_ids.get(&id).cloned().map(Node::Lot)
        };
        found.ok_or_else(|| {
            StoreError::Database(format!("genealogy names {kind} {id}, which has no row"))
        })
    };
    let event_id_at = |seq: i64| {
        event_at.get(&seq).copied().ok_or_else(|| {
            StoreError::Database(format!("genealogy names event {seq}, which has no row"))
        })
    };
    let mut edges = Vec::with_capacity(edge_rows.len());
    for r in &edge_rows {
        let to: Option<i64> = col(r, 7)?;
        edges.push(EdgeRow {
            parent: node(col(r, 0)?, col(r, 1)?)?,
            child: node(col(r, 2)?, col(r, 3)?)?,
            kind: col(r, 4)?,
            quantity: col::<Option<i64>>(r, 5)?.map(Quantity::from_millis),
            from_event: event_id_at(col(r, 6)?)?,
            to_event: to.map(event_id_at).transpose()?,
        });
    }
    edges.sort();
    let mut counters = Vec::new();
    for r in tx
        .query(
            "SELECT scope, next FROM serial_counters ORDER BY scope COLLATE \"C\"",
            &[],
        )
        .await
        .map_err(db)?
    {
        let next: i64 = col(&r, 1)?;
        counters.push((
            col::<String>(&r, 0)?,
            u64::try_from(next).map_err(|e| StoreError::Schema(e.to_string()))?,
        ));
    }
    Ok(Snapshot {
        counters,
        products: master_rows(&products)?,
        parties: master_rows(&parties)?,
        locations: master_rows(&locations)?,
        processes: master_rows(
            &tx.query(
                "SELECT code, version, def FROM processes ORDER BY code COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db)?,
        )?,
        serial_rules: master_rows(
            &tx.query(
                "SELECT code, version, def FROM serial_rules ORDER BY code COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db)?,
        )?,
        rule_categories: tx
            .query(
                "SELECT category, rule FROM serial_rule_categories ORDER BY category COLLATE \"C\"",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect::<Result<Vec<_>, StoreError>>()?,
        discrepancies: tx
            .query(
                "SELECT seq, code, field, message, kind FROM discrepancies ORDER BY seq, n",
                &[],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| Ok((col(r, 0)?, crate::read::discrepancy(r)?)))
            .collect::<Result<Vec<_>, StoreError>>()?,
        items,
        lots,
        stock,
        edges,
        events,
    })
}
