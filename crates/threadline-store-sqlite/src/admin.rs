//! Ledger maintenance: verify the chain, rebuild every projection from it, and take a canonical
//! snapshot of the projection for comparison.

use rusqlite::{Connection, Transaction};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::Event;
use threadline_domain::ledger::{Break, ChainVerifier, LedgerEntry};
use threadline_domain::projection::{LotState, Node};
use threadline_domain::{LotCode, ProductCode, Quantity, Serial};
use threadline_store::{EdgeRow, RebuildReport, Snapshot, StoreError, VerifyReport};
use uuid::Uuid;

use crate::capture::project_events;
use crate::{db, micros};

pub(crate) fn verify(c: &Connection) -> Result<VerifyReport, StoreError> {
    let mut stmt = c
        .prepare(
            "SELECT l.seq, l.body, l.hash, e.event_id, e.event_time, e.kind
             FROM ledger l LEFT JOIN events e ON e.seq = l.seq ORDER BY l.seq",
        )
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut v = ChainVerifier::default();
    let report = |v: &ChainVerifier, b: Break| {
        Ok(VerifyReport {
            entries: v.count(),
            audit_records: 0,
            first_break: Some(b),
        })
    };
    while let Some(r) = rows.next().map_err(db)? {
        let seq: i64 = r.get(0).map_err(db)?;
        let body: String = r.get(1).map_err(db)?;
        let hash: Vec<u8> = r.get(2).map_err(db)?;
        if let Err(b) = v.check(seq, body.as_bytes(), &hash) {
            return report(&v, b);
        }
        let entry = match LedgerEntry::from_body(&body) {
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
            let id: Option<Vec<u8>> = r.get(3).map_err(db)?;
            let time: Option<i64> = r.get(4).map_err(db)?;
            let kind: Option<String> = r.get(5).map_err(db)?;
            if id.as_deref() != Some(ev.id.as_bytes().as_slice()) {
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
            if kind.as_deref() != Some(ev.kind.as_str()) {
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
    let (head_seq, head_hash): (i64, Vec<u8>) = c
        .query_row("SELECT seq, hash FROM ledger_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db)?;
    if head_seq != v.count() || (head_seq > 0 && head_hash != v.last_hash()) {
        return report(
            &v,
            Break::Head {
                expected_seq: head_seq,
                found_seq: v.count(),
            },
        );
    }
    let (audit_records, first_break) = crate::audit::verify(c)?;
    Ok(VerifyReport {
        entries: v.count(),
        audit_records,
        first_break,
    })
}

pub(crate) fn rebuild(tx: &Transaction) -> Result<RebuildReport, StoreError> {
    for t in threadline_store::query::PROJECTION_TABLES {
        tx.execute(&format!("DELETE FROM {t}"), []).map_err(db)?;
    }
    let mut after = 0i64;
    let mut entries = 0i64;
    loop {
        let chunk: Vec<(i64, String)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, body FROM ledger WHERE seq > ?1 ORDER BY seq LIMIT 2000",
                )
                .map_err(db)?;
            stmt.query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        let Some(last) = chunk.last() else { break };
        after = last.0;
        entries += chunk.len() as i64;
        let mut events: Vec<Event> = Vec::new();
        let mut seqs: Vec<i64> = Vec::new();
        for (seq, body) in chunk {
            match LedgerEntry::from_body(&body)
                .map_err(|e| StoreError::Schema(format!("entry {seq}: {e}")))?
            {
                LedgerEntry::Event(e) => {
                    events.push(e);
                    seqs.push(seq);
                }
                LedgerEntry::Master(m) => {
                    flush(tx, &mut events, &mut seqs)?;
                    crate::master::project(tx, &m)?;
                }
            }
        }
        flush(tx, &mut events, &mut seqs)?;
    }
    tx.execute(threadline_store::query::MARK_COMPLETE, [])
        .map_err(db)?;
    let count = |t: &str| {
        tx.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(db)
    };
    Ok(RebuildReport {
        entries,
        items: count("items")?,
        lots: count("lots")?,
    })
}

fn flush(tx: &Transaction, events: &mut Vec<Event>, seqs: &mut Vec<i64>) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    // Events were accepted once in this order, so they are accepted again; if not, the ledger
    // and the rules disagree and rebuilding must stop rather than guess.
    project_events(tx, events, None, seqs, true).map_err(|e| {
        StoreError::Schema(format!(
            "replaying the ledger failed near entry {}: {e}",
            seqs[0]
        ))
    })?;
    events.clear();
    seqs.clear();
    Ok(())
}

fn schema<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Schema(e.to_string())
}

fn item_key(p: String, s: String) -> Result<ItemKey, StoreError> {
    Ok(ItemKey {
        product: ProductCode::parse(&p).map_err(schema)?,
        serial: Serial::parse(&s).map_err(schema)?,
    })
}

fn lot_key(p: String, l: String) -> Result<LotKey, StoreError> {
    Ok(LotKey {
        product: ProductCode::parse(&p).map_err(schema)?,
        lot: LotCode::parse(&l).map_err(schema)?,
    })
}

fn node(c: &Connection, kind: &str, id: i64) -> Result<Node, StoreError> {
    if kind == "i" {
        let (p, s) = c
            .prepare_cached("SELECT p.code, i.serial FROM items i JOIN products p ON p.id = i.product_id WHERE i.id = ?1")
            .map_err(db)?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        Ok(Node::Item(item_key(p, s)?))
    } else {
        let (p, l) = c
            .prepare_cached("SELECT p.code, l.code FROM lots l JOIN products p ON p.id = l.product_id WHERE l.id = ?1")
            .map_err(db)?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        Ok(Node::Lot(lot_key(p, l)?))
    }
}

fn event_id_at(c: &Connection, seq: i64) -> Result<Uuid, StoreError> {
    let b: Vec<u8> = c
        .prepare_cached("SELECT event_id FROM events WHERE seq = ?1")
        .map_err(db)?
        .query_row([seq], |r| r.get(0))
        .map_err(db)?;
    Uuid::from_slice(&b).map_err(schema)
}

pub(crate) fn snapshot(c: &Connection) -> Result<Snapshot, StoreError> {
    let master = |table: &str| -> Result<Vec<(String, u32, String)>, StoreError> {
        let mut stmt = c
            .prepare(&format!(
                "SELECT code, version, def FROM {table} ORDER BY code"
            ))
            .map_err(db)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)
    };
    let mut items = Vec::new();
    {
        let mut stmt = c
            .prepare(
                "SELECT p.code, i.serial, i.status, i.holds, i.location, i.custodian, i.lot, pp.code, par.serial, i.attributes
                 FROM items i JOIN products p ON p.id = i.product_id
                 LEFT JOIN items par ON par.id = i.parent_id LEFT JOIN products pp ON pp.id = par.product_id
                 ORDER BY p.code, i.serial",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let key = item_key(r.get(0).map_err(db)?, r.get(1).map_err(db)?)?;
            let parent: Option<String> = r.get(7).map_err(db)?;
            let parent_serial: Option<String> = r.get(8).map_err(db)?;
            let state = format!(
                "{}|{}|{:?}|{:?}|{:?}|{:?}|{}",
                r.get::<_, String>(2).map_err(db)?,
                r.get::<_, i64>(3).map_err(db)?,
                r.get::<_, Option<String>>(4).map_err(db)?,
                r.get::<_, Option<String>>(5).map_err(db)?,
                r.get::<_, Option<String>>(6).map_err(db)?,
                parent.zip(parent_serial),
                r.get::<_, Option<String>>(9)
                    .map_err(db)?
                    .unwrap_or_default(),
            );
            items.push((key, state));
        }
    }
    let mut lots = Vec::new();
    {
        let mut stmt = c
            .prepare(
                "SELECT p.code, l.code, l.production_date, l.expiry_date, l.holds FROM lots l JOIN products p ON p.id = l.product_id
                 ORDER BY p.code, l.code",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let date = |d: Option<String>| {
                d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
            };
            lots.push((
                lot_key(r.get(0).map_err(db)?, r.get(1).map_err(db)?)?,
                LotState {
                    production_date: date(r.get(2).map_err(db)?),
                    expiry_date: date(r.get(3).map_err(db)?),
                    holds: u8::try_from(r.get::<_, i64>(4).map_err(db)?).unwrap_or(0),
                },
            ));
        }
    }
    let mut stock = Vec::new();
    {
        let mut stmt = c
            .prepare(
                "SELECT p.code, l.code, s.location, s.quantity FROM lot_stock s JOIN lots l ON l.id = s.lot_id
                 JOIN products p ON p.id = l.product_id ORDER BY p.code, l.code, s.location",
            )
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            stock.push((
                lot_key(r.get(0).map_err(db)?, r.get(1).map_err(db)?)?,
                r.get(2).map_err(db)?,
                Quantity::from_millis(r.get(3).map_err(db)?),
            ));
        }
    }
    let mut edges = Vec::new();
    {
        let mut stmt = c
            .prepare("SELECT parent_type, parent_id, child_type, child_id, kind, quantity, from_seq, to_seq FROM genealogy")
            .map_err(db)?;
        type Row = (
            String,
            i64,
            String,
            i64,
            String,
            Option<i64>,
            i64,
            Option<i64>,
        );
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db)?;
        for (pt, pid, ct, cid, kind, q, from, to) in rows {
            edges.push(EdgeRow {
                parent: node(c, &pt, pid)?,
                child: node(c, &ct, cid)?,
                kind,
                quantity: q.map(Quantity::from_millis),
                from_event: event_id_at(c, from)?,
                to_event: to.map(|s| event_id_at(c, s)).transpose()?,
            });
        }
        edges.sort();
    }
    let mut events = Vec::new();
    {
        let mut stmt = c
            .prepare("SELECT seq, event_id FROM events ORDER BY seq")
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let b: Vec<u8> = r.get(1).map_err(db)?;
            events.push((r.get(0).map_err(db)?, Uuid::from_slice(&b).map_err(schema)?));
        }
    }
    let mut counters = Vec::new();
    {
        let mut stmt = c
            .prepare("SELECT scope, next FROM serial_counters ORDER BY scope")
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let next: i64 = r.get(1).map_err(db)?;
            counters.push((r.get(0).map_err(db)?, u64::try_from(next).map_err(schema)?));
        }
    }
    Ok(Snapshot {
        counters,
        products: master("products")?,
        parties: master("parties")?,
        locations: master("locations")?,
        processes: master("processes")?,
        serial_rules: master("serial_rules")?,
        rule_categories: {
            let mut stmt = c
                .prepare("SELECT category, rule FROM serial_rule_categories ORDER BY category")
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)?
        },
        discrepancies: {
            let mut stmt = c
                .prepare(
                    "SELECT seq, code, field, message, kind FROM discrepancies ORDER BY seq, n",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        threadline_domain::projection::Discrepancy {
                            code: r.get(1)?,
                            field: r.get(2)?,
                            message: r.get(3)?,
                            kind: threadline_domain::projection::DiscrepancyKind::parse(
                                &r.get::<_, String>(4)?,
                            ),
                        },
                    ))
                })
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)?
        },
        items,
        lots,
        stock,
        edges,
        events,
    })
}
