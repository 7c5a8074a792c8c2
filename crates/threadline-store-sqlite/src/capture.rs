//! The write path: load the touched state, let the domain check and apply the events, then
//! append the ledger rows and write the changed state back — one transaction.

use std::collections::HashMap;

use rusqlite::types::{Null, ToSqlOutput};
use rusqlite::{OptionalExtension, Transaction, params};
use threadline_domain::codes::{ItemKey, LotKey, ProductCode, Serial};
use threadline_domain::error::FieldError;
use threadline_domain::event::{Event, HoldKind};
use threadline_domain::ledger::{EntryRef, Hash, chain_hash};
use threadline_domain::master::Product;
use threadline_domain::projection::{
    EdgeOp, ItemState, ItemStatus, KeyMap, LotState, Needs, Node, Slice, StatusRules,
};
use threadline_store::{Receipt, StoreError};
use uuid::Uuid;

use crate::{db, micros};

/// Row ids of the things a batch touches.
#[derive(Default)]
pub(crate) struct Ids {
    products: HashMap<ProductCode, i64>,
    items: KeyMap<ItemKey, i64>,
    lots: KeyMap<LotKey, i64>,
}

pub(crate) fn head(tx: &Transaction) -> Result<(i64, Hash), StoreError> {
    let (seq, hash): (i64, Vec<u8>) = tx
        .query_row("SELECT seq, hash FROM ledger_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db)?;
    let hash: Hash = hash
        .try_into()
        .map_err(|_| StoreError::Schema("ledger head hash is not 32 bytes".into()))?;
    Ok((seq, hash))
}

/// Appends one entry after `prev` and returns its receipt. The caller updates the head.
pub(crate) fn append(
    tx: &Transaction,
    prev: &mut (i64, Hash),
    entry: EntryRef<'_>,
) -> Result<Receipt, StoreError> {
    append_body(tx, prev, entry, &entry.body())
}

/// [`append`] with the entry's body already serialised (`entry.body()`).
fn append_body(
    tx: &Transaction,
    prev: &mut (i64, Hash),
    entry: EntryRef<'_>,
    body: &str,
) -> Result<Receipt, StoreError> {
    let seq = prev.0 + 1;
    let hash = chain_hash(&prev.1, seq, body.as_bytes());
    let mut stmt = tx
        .prepare_cached("INSERT INTO ledger (seq, entry_id, kind, recorded_at, body, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .map_err(db)?;
    stmt.execute(params![
        seq,
        entry.id().as_bytes(),
        entry.kind(),
        micros(entry.recorded_at()),
        body,
        hash.as_slice()
    ])
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(
            FieldError::new(
                "duplicate_event",
                format!("entry {} is already recorded", entry.id()),
            )
            .at("id"),
        ),
        _ => db(e),
    })?;
    *prev = (seq, hash);
    Ok(Receipt {
        id: entry.id(),
        seq,
        hash: hex::encode(hash),
    })
}

pub(crate) fn set_head(tx: &Transaction, head: &(i64, Hash)) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE ledger_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![head.0, head.1.as_slice()],
    )
    .map_err(db)?;
    Ok(())
}

pub(crate) fn load_product(
    tx: &Transaction,
    code: &str,
) -> Result<Option<(i64, Product)>, StoreError> {
    let row: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, def FROM products WHERE code = ?1")
        .map_err(db)?
        .query_row([code], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)?;
    row.map(|(id, def)| {
        serde_json::from_str(&def)
            .map(|p| (id, p))
            .map_err(|e| StoreError::Schema(e.to_string()))
    })
    .transpose()
}

fn exists(tx: &Transaction, sql: &str, key: &dyn rusqlite::ToSql) -> Result<bool, StoreError> {
    tx.prepare_cached(sql)
        .map_err(db)?
        .exists([key])
        .map_err(db)
}

fn load_item(
    tx: &Transaction,
    product_id: i64,
    serial: &str,
) -> Result<Option<(i64, ItemState)>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT i.id, i.status, i.holds, i.location, i.custodian, i.lot, i.attributes, pp.code, par.serial
             FROM items i
             LEFT JOIN items par ON par.id = i.parent_id
             LEFT JOIN products pp ON pp.id = par.product_id
             WHERE i.product_id = ?1 AND i.serial = ?2",
        )
        .map_err(db)?;
    let row = stmt
        .query_row(params![product_id, serial], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })
        .optional()
        .map_err(db)?;
    let Some((
        id,
        status,
        holds,
        location,
        custodian,
        lot,
        attributes,
        parent_product,
        parent_serial,
    )) = row
    else {
        return Ok(None);
    };
    let corrupt = |what: &str| StoreError::Schema(format!("item {id}: stored {what} is not valid"));
    let parent = match (parent_product, parent_serial) {
        (Some(p), Some(s)) => Some(ItemKey {
            product: ProductCode::parse(&p).map_err(|_| corrupt("parent"))?,
            serial: Serial::parse(&s).map_err(|_| corrupt("parent"))?,
        }),
        _ => None,
    };
    let state = ItemState {
        status: ItemStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        holds: u8::try_from(holds).map_err(|_| corrupt("holds"))?,
        location: location
            .map(|l| threadline_domain::LocationCode::parse(&l))
            .transpose()
            .map_err(|_| corrupt("location"))?,
        custodian,
        lot: lot
            .map(|l| threadline_domain::LotCode::parse(&l))
            .transpose()
            .map_err(|_| corrupt("lot"))?,
        parent,
        attributes: attributes
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|_| corrupt("attributes"))?
            .unwrap_or_default(),
    };
    Ok(Some((id, state)))
}

fn item_key_of(product: String, serial: String) -> Result<ItemKey, StoreError> {
    Ok(ItemKey {
        product: ProductCode::parse(&product).map_err(|e| StoreError::Schema(e.message))?,
        serial: Serial::parse(&serial).map_err(|e| StoreError::Schema(e.message))?,
    })
}

/// Loads units (and their products, and their ancestors) into the slice.
fn load_items(
    tx: &Transaction,
    s: &mut Slice,
    ids: &mut Ids,
    mut pending: Vec<ItemKey>,
) -> Result<(), StoreError> {
    while !pending.is_empty() {
        for key in pending {
            if s.items.contains_key(&key) {
                continue;
            }
            let pid = match ids.products.get(&key.product) {
                Some(pid) => Some(*pid),
                None => match load_product(tx, key.product.as_str())? {
                    Some((pid, p)) => {
                        ids.products.insert(key.product.clone(), pid);
                        s.products.insert(key.product.clone(), p);
                        Some(pid)
                    }
                    None => None,
                },
            };
            match pid
                .map(|pid| load_item(tx, pid, key.serial.as_str()))
                .transpose()?
                .flatten()
            {
                Some((id, st)) => {
                    ids.items.insert(key.clone(), id);
                    s.items.insert(key, Some(st));
                }
                None => {
                    s.items.insert(key, None);
                }
            }
        }
        pending = s.missing_ancestors();
    }
    Ok(())
}

/// Loads exactly what `needs` names into a slice.
fn load(tx: &Transaction, needs: &Needs, ids: &mut Ids) -> Result<Slice, StoreError> {
    let mut s = Slice::default();
    for code in &needs.products {
        if let Some((id, p)) = load_product(tx, code.as_str())? {
            ids.products.insert(code.clone(), id);
            s.products.insert(code.clone(), p);
        }
    }
    for code in &needs.locations {
        if exists(tx, "SELECT 1 FROM locations WHERE code = ?1", code)? {
            s.locations.insert(code.clone());
        }
    }
    for code in &needs.parties {
        if exists(tx, "SELECT 1 FROM parties WHERE code = ?1", code)? {
            s.parties.insert(code.clone());
        }
    }
    for id in &needs.events {
        if exists(
            tx,
            "SELECT 1 FROM events WHERE event_id = ?1",
            &id.as_bytes().as_slice(),
        )? {
            s.events.insert(*id);
        }
    }
    let process: Option<String> = tx
        .prepare_cached("SELECT def FROM processes WHERE code = ?1")
        .map_err(db)?
        .query_row([threadline_domain::process::PROCESS_CODE], |r| r.get(0))
        .optional()
        .map_err(db)?;
    if let Some(def) = process {
        s.process = serde_json::from_str(&def)
            .map_err(|e| StoreError::Schema(format!("stored process definition: {e}")))?;
    }
    load_items(tx, &mut s, ids, needs.items.iter().cloned().collect())?;
    load_children(tx, &mut s, ids, needs.children_of.iter().cloned().collect())?;
    // Containers move with everything inside them, through nested containers.
    loop {
        let containers = s.missing_contents();
        if containers.is_empty() {
            break;
        }
        load_children(tx, &mut s, ids, containers)?;
    }
    for key in &needs.lots {
        let Some(pid) = ids.products.get(&key.product) else {
            continue;
        };
        let row: Option<(i64, Option<String>, Option<String>, i64)> = tx
            .prepare_cached("SELECT id, production_date, expiry_date, holds FROM lots WHERE product_id = ?1 AND code = ?2")
            .map_err(db)?
            .query_row(params![pid, key.lot.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()
            .map_err(db)?;
        match row {
            Some((id, prod, exp, holds)) => {
                ids.lots.insert(key.clone(), id);
                let date = |d: Option<String>| {
                    d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
                };
                s.lots.insert(
                    key.clone(),
                    Some(LotState {
                        production_date: date(prod),
                        expiry_date: date(exp),
                        holds: u8::try_from(holds).unwrap_or(0),
                    }),
                );
            }
            None => {
                s.lots.insert(key.clone(), None);
            }
        }
    }
    for scope in &needs.counters {
        let next: Option<i64> = tx
            .prepare_cached("SELECT next FROM serial_counters WHERE scope = ?1")
            .map_err(db)?
            .query_row([scope], |r| r.get(0))
            .optional()
            .map_err(db)?;
        if let Some(next) = next {
            let next = u64::try_from(next)
                .map_err(|_| StoreError::Schema(format!("counter {scope} is negative")))?;
            s.counters.insert(scope.clone(), next);
        }
    }
    for (lot, loc) in &needs.stock {
        let Some(lot_id) = ids.lots.get(lot) else {
            continue;
        };
        let q: Option<i64> = tx
            .prepare_cached("SELECT quantity FROM lot_stock WHERE lot_id = ?1 AND location = ?2")
            .map_err(db)?
            .query_row(params![lot_id, loc], |r| r.get(0))
            .optional()
            .map_err(db)?;
        if let Some(q) = q {
            s.stock.insert(
                (lot.clone(), loc.clone()),
                threadline_domain::Quantity::from_millis(q),
            );
        }
    }
    Ok(s)
}

/// For each correction in the batch, what the events recorded after the event it corrects
/// set on the units it may reach (their timelines from there: [`crate::read::timeline_after`]).
fn weigh_corrections(tx: &Transaction, s: &mut Slice, events: &[Event]) -> Result<(), StoreError> {
    for (corrected, unit) in s.corrections_to_weigh(events) {
        let seq: Option<i64> = tx
            .prepare_cached("SELECT seq FROM events WHERE event_id = ?1")
            .map_err(db)?
            .query_row([corrected.as_bytes().as_slice()], |r| r.get(0))
            .optional()
            .map_err(db)?;
        let Some(seq) = seq else { continue };
        let later = crate::read::timeline_after(tx, &unit, seq)?;
        s.note_later(
            corrected,
            unit,
            later.iter().map(|e| (&e.event, e.via.is_some())),
        );
    }
    Ok(())
}

/// Loads the current children of `parents` (and the children as units).
fn load_children(
    tx: &Transaction,
    s: &mut Slice,
    ids: &mut Ids,
    parents: Vec<ItemKey>,
) -> Result<(), StoreError> {
    let mut children_keys = Vec::new();
    for parent in &parents {
        let Some(pid) = ids.items.get(parent) else {
            s.children.entry(parent.clone()).or_default();
            continue;
        };
        let mut stmt = tx
            .prepare_cached("SELECT p.code, c.serial FROM items c JOIN products p ON p.id = c.product_id WHERE c.parent_id = ?1")
            .map_err(db)?;
        let rows = stmt
            .query_map([pid], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(db)?;
        let mut set = std::collections::BTreeSet::new();
        for row in rows {
            let (p, ser) = row.map_err(db)?;
            let k = item_key_of(p, ser)?;
            if !s.items.contains_key(&k) {
                children_keys.push(k.clone());
            }
            set.insert(k);
        }
        s.children.insert(parent.clone(), set);
    }
    load_items(tx, s, ids, children_keys)
}

fn node_ids(ids: &Ids, n: &Node) -> Result<(&'static str, i64), StoreError> {
    let missing = || StoreError::Database(format!("genealogy node {n:?} has no row id"));
    Ok(match n {
        Node::Item(k) => ("i", *ids.items.get(k).ok_or_else(missing)?),
        Node::Lot(k) => ("l", *ids.lots.get(k).ok_or_else(missing)?),
    })
}

fn item_id(ids: &Ids, key: &ItemKey) -> Result<i64, StoreError> {
    ids.items
        .get(key)
        .copied()
        .ok_or_else(|| StoreError::Database(format!("no row id for unit {key}")))
}

fn lot_id(ids: &Ids, key: &LotKey) -> Result<i64, StoreError> {
    ids.lots
        .get(key)
        .copied()
        .ok_or_else(|| StoreError::Database(format!("no row id for {key}")))
}

/// The columns of a new unit's row ([`UNIT_ROW_SQL`]), its id already in `ids`.
fn unit_row<'a>(
    ids: &Ids,
    key: &'a ItemKey,
    pid: i64,
    st: &'a ItemState,
    attributes: Option<String>,
) -> Result<[ToSqlOutput<'a>; 10], StoreError> {
    fn text(t: Option<&str>) -> ToSqlOutput<'_> {
        t.map_or(ToSqlOutput::from(Null), ToSqlOutput::from)
    }
    let parent = st.parent.as_ref().and_then(|p| ids.items.get(p).copied());
    Ok([
        ToSqlOutput::from(item_id(ids, key)?),
        ToSqlOutput::from(pid),
        ToSqlOutput::from(key.serial.as_str()),
        ToSqlOutput::from(st.status.as_str()),
        ToSqlOutput::from(i64::from(st.holds)),
        text(st.location.as_ref().map(|l| l.as_str())),
        text(st.custodian.as_deref()),
        text(st.lot.as_ref().map(|l| l.as_str())),
        parent.map_or(ToSqlOutput::from(Null), ToSqlOutput::from),
        attributes.map_or(ToSqlOutput::from(Null), ToSqlOutput::from),
    ])
}

/// Writes the slice's changes back. A new unit the unique key refuses is a serial an
/// allocation in `events` drew that was registered already ([`threadline_store::already_registered`]).
fn write_back<'s>(
    tx: &Transaction,
    s: &'s Slice,
    ids: &mut Ids,
    when: &HashMap<Uuid, (i64, i64)>,
    events: &[Event],
    prefix_index: bool,
) -> Result<(), StoreError> {
    // New units are inserted whole; only those whose parent is in the batch too need their
    // parent id set afterwards. Units that existed are updated whole. Row ids come from
    // `last_insert_rowid` (or, for many units, are given: below), not `RETURNING`: SQLite
    // answers `RETURNING` through a temporary table and a statement journal, a page copy per
    // row.
    let attrs_of = |st: &ItemState| {
        (!st.attributes.is_empty())
            .then(|| serde_json::to_string(&st.attributes).unwrap_or_default())
    };
    let mut later_parent = Vec::new();
    let mut existing = Vec::new();
    let mut new = Vec::new();
    for key in &s.dirty_items {
        if ids.items.contains_key(key) {
            existing.push(key);
            continue;
        }
        let Some(Some(st)) = s.items.get(key) else {
            continue;
        };
        let pid = *ids
            .products
            .get(&key.product)
            .ok_or_else(|| StoreError::Database(format!("no id for product {}", key.product)))?;
        new.push((key, pid, st));
    }
    // A new unit the unique key refuses: every unit from the refused row (or chunk) on that is
    // registered already is named, as PostgreSQL names them all.
    let refused = |e: rusqlite::Error, from: usize| -> StoreError {
        if e.sqlite_error_code() != Some(rusqlite::ErrorCode::ConstraintViolation) {
            return db(e);
        }
        let mut found = Vec::new();
        for &(key, pid, _) in &new[from..] {
            let exists = tx
                .prepare_cached("SELECT 1 FROM items WHERE product_id = ?1 AND serial = ?2")
                .and_then(|mut q| q.exists(params![pid, key.serial.as_str()]));
            match exists {
                Ok(true) => found.push(key),
                Ok(false) => {}
                Err(e) => return db(e),
            }
        }
        if found.is_empty() {
            return db(e);
        }
        threadline_store::already_registered(events, found, prefix_index)
    };
    if new.len() >= ITEM_ROWS {
        // Many new units (an allocation block, a large import chunk): their row ids are given
        // here — what SQLite would give, the largest so far plus one, under the writer's lock —
        // so that a parent in the batch has its id before its children, and the rows go in
        // `ITEM_ROWS` to a statement.
        let last: i64 = tx
            .query_row("SELECT coalesce(max(id), 0) FROM items", [], |r| r.get(0))
            .map_err(db)?;
        ids.items.reserve(new.len());
        for (n, (key, _, _)) in new.iter().enumerate() {
            let n = i64::try_from(n).map_err(|_| StoreError::Database("too many units".into()))?;
            ids.items.insert((*key).clone(), last + 1 + n);
        }
        let row = |&(key, pid, st): &(&'s ItemKey, i64, &'s ItemState)| {
            unit_row(ids, key, pid, st, attrs_of(st))
        };
        let mut chunks = new.chunks_exact(ITEM_ROWS);
        let mut done = 0;
        {
            let mut many = tx.prepare_cached(&UNIT_ROWS_SQL).map_err(db)?;
            let mut alike = tx.prepare_cached(&ALIKE_UNIT_ROWS_SQL).map_err(db)?;
            for chunk in &mut chunks {
                let first = &chunk[0];
                let same = |&(_, pid, st): &(&ItemKey, i64, &ItemState)| {
                    let (_, pid0, st0) = *first;
                    pid == pid0
                        && st.status == st0.status
                        && st.holds == st0.holds
                        && st.location == st0.location
                        && st.custodian == st0.custodian
                        && st.lot == st0.lot
                        && st.parent == st0.parent
                        && st.attributes == st0.attributes
                };
                if chunk.iter().all(same) {
                    // The units differ only in id and serial (a block, a work order's units):
                    // the rest is bound once.
                    let [
                        _,
                        pid,
                        _,
                        status,
                        holds,
                        location,
                        custodian,
                        lot,
                        parent,
                        attributes,
                    ] = row(first)?;
                    let shared = [
                        pid, status, holds, location, custodian, lot, parent, attributes,
                    ];
                    let own = chunk
                        .iter()
                        .map(|&(key, _, _)| {
                            Ok([
                                ToSqlOutput::from(item_id(ids, key)?),
                                ToSqlOutput::from(key.serial.as_str()),
                            ])
                        })
                        .collect::<Result<Vec<_>, StoreError>>()?;
                    alike
                        .execute(rusqlite::params_from_iter(
                            shared.iter().chain(own.iter().flatten()),
                        ))
                        .map_err(|e| refused(e, done))?;
                } else {
                    let values = chunk.iter().map(row).collect::<Result<Vec<_>, _>>()?;
                    many.execute(rusqlite::params_from_iter(values.iter().flatten()))
                        .map_err(|e| refused(e, done))?;
                }
                done += ITEM_ROWS;
            }
        }
        let mut one = tx.prepare_cached(UNIT_ROW_SQL).map_err(db)?;
        for (n, unit) in chunks.remainder().iter().enumerate() {
            one.execute(rusqlite::params_from_iter(row(unit)?))
                .map_err(|e| refused(e, done + n))?;
        }
    } else {
        let mut ins = tx
            .prepare_cached(
                "INSERT INTO items (product_id, serial, status, holds, location, custodian, lot, parent_id, attributes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(db)?;
        for (n, &(key, pid, st)) in new.iter().enumerate() {
            let parent_id = st.parent.as_ref().and_then(|p| ids.items.get(p).copied());
            if st.parent.is_some() && parent_id.is_none() {
                later_parent.push(key);
            }
            ins.execute(params![
                pid,
                key.serial.as_str(),
                st.status.as_str(),
                i64::from(st.holds),
                st.location.as_ref().map(|l| l.as_str()),
                st.custodian,
                st.lot.as_ref().map(|l| l.as_str()),
                parent_id,
                attrs_of(st)
            ])
            .map_err(|e| refused(e, n))?;
            ids.items.insert(key.clone(), tx.last_insert_rowid());
        }
    }
    {
        let mut set_parent = tx
            .prepare_cached("UPDATE items SET parent_id = ?2 WHERE id = ?1")
            .map_err(db)?;
        for key in later_parent {
            let Some(Some(st)) = s.items.get(key) else {
                continue;
            };
            let parent_id = st.parent.as_ref().and_then(|p| ids.items.get(p).copied());
            set_parent
                .execute(params![item_id(ids, key)?, parent_id])
                .map_err(db)?;
        }
    }
    for key in &s.dirty_lots {
        if ids.lots.contains_key(key) {
            continue;
        }
        let pid = *ids
            .products
            .get(&key.product)
            .ok_or_else(|| StoreError::Database(format!("no id for product {}", key.product)))?;
        tx.prepare_cached("INSERT INTO lots (product_id, code) VALUES (?1, ?2)")
            .map_err(db)?
            .execute(params![pid, key.lot.as_str()])
            .map_err(db)?;
        ids.lots.insert(key.clone(), tx.last_insert_rowid());
    }
    let mut upd = tx
        .prepare_cached(
            "UPDATE items SET status = ?2, holds = ?3, location = ?4, custodian = ?5, lot = ?6, parent_id = ?7, attributes = ?8 WHERE id = ?1",
        )
        .map_err(db)?;
    for key in existing {
        let Some(Some(st)) = s.items.get(key) else {
            continue;
        };
        let id = item_id(ids, key)?;
        let parent_id = st.parent.as_ref().and_then(|p| ids.items.get(p).copied());
        upd.execute(params![
            id,
            st.status.as_str(),
            i64::from(st.holds),
            st.location.as_ref().map(|l| l.as_str()),
            st.custodian,
            st.lot.as_ref().map(|l| l.as_str()),
            parent_id,
            attrs_of(st)
        ])
        .map_err(db)?;
    }
    for key in &s.dirty_lots {
        let Some(Some(l)) = s.lots.get(key) else {
            continue;
        };
        tx.prepare_cached(
            "UPDATE lots SET production_date = ?2, expiry_date = ?3, holds = ?4 WHERE id = ?1",
        )
        .map_err(db)?
        .execute(params![
            lot_id(ids, key)?,
            l.production_date.map(|d| d.to_string()),
            l.expiry_date.map(|d| d.to_string()),
            i64::from(l.holds)
        ])
        .map_err(db)?;
    }
    for key in &s.dirty_stock {
        let lot_id = lot_id(ids, &key.0)?;
        let q = s.stock.get(key).copied().unwrap_or_default();
        if q.millis() == 0 {
            tx.prepare_cached("DELETE FROM lot_stock WHERE lot_id = ?1 AND location = ?2")
                .map_err(db)?
                .execute(params![lot_id, key.1])
                .map_err(db)?;
        } else {
            tx.prepare_cached(
                "INSERT INTO lot_stock (lot_id, location, quantity) VALUES (?1, ?2, ?3)
                 ON CONFLICT (lot_id, location) DO UPDATE SET quantity = excluded.quantity",
            )
            .map_err(db)?
            .execute(params![lot_id, key.1, q.millis()])
            .map_err(db)?;
        }
    }
    for scope in &s.dirty_counters {
        let next = s.counters.get(scope).copied().unwrap_or(0);
        tx.prepare_cached(
            "INSERT INTO serial_counters (scope, next) VALUES (?1, ?2) ON CONFLICT (scope) DO UPDATE SET next = excluded.next",
        )
        .map_err(db)?
        .execute(params![scope, i64::try_from(next).unwrap_or(i64::MAX)])
        .map_err(db)?;
    }
    for op in &s.edges {
        match op {
            EdgeOp::Open {
                parent,
                child,
                quantity,
                kind,
                event,
            } => {
                let (pt, pid) = node_ids(ids, parent)?;
                let (ct, cid) = node_ids(ids, child)?;
                let (seq, time) = *when.get(event).ok_or_else(|| {
                    StoreError::Database(format!("no position for event {event}"))
                })?;
                tx.prepare_cached(
                    "INSERT INTO genealogy (parent_type, parent_id, child_type, child_id, kind, quantity, from_seq, from_time)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(db)?
                .execute(params![pt, pid, ct, cid, kind.as_str(), quantity.map(|q| q.millis()), seq, time])
                .map_err(db)?;
            }
            EdgeOp::Close {
                parent,
                child,
                event,
            } => {
                let (pt, pid) = node_ids(ids, parent)?;
                let (ct, cid) = node_ids(ids, child)?;
                let (seq, time) = *when.get(event).ok_or_else(|| {
                    StoreError::Database(format!("no position for event {event}"))
                })?;
                tx.prepare_cached(
                    "UPDATE genealogy SET to_seq = ?5, to_time = ?6
                     WHERE parent_type = ?1 AND parent_id = ?2 AND child_type = ?3 AND child_id = ?4 AND to_seq IS NULL",
                )
                .map_err(db)?
                .execute(params![pt, pid, ct, cid, seq, time])
                .map_err(db)?;
            }
        }
    }
    Ok(())
}

const UNIT_ROW_SQL: &str = "INSERT INTO items (id, product_id, serial, status, holds, location, custodian, lot, parent_id, attributes)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// [`UNIT_ROW_SQL`] for [`ITEM_ROWS`] units at once.
static UNIT_ROWS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; ITEM_ROWS].join(", ");
    format!(
        "INSERT INTO items (id, product_id, serial, status, holds, location, custodian, lot, parent_id, attributes) VALUES {values}"
    )
});

/// [`UNIT_ROWS_SQL`] for units alike but for id and serial: `?1`–`?8` are the columns they
/// share (product, status, holds, location, custodian, lot, parent, attributes), then each
/// unit's id and serial.
static ALIKE_UNIT_ROWS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let values = (0..ITEM_ROWS)
        .map(|i| {
            let at = 9 + 2 * i;
            format!("(?{at}, ?1, ?{}, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", at + 1)
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO items (id, product_id, serial, status, holds, location, custodian, lot, parent_id, attributes) VALUES {values}"
    )
});

/// Many new units, and a large event's unit index rows, go in this many to a statement: a
/// statement's own work per execution (reset, binding, the step into the VM) is then paid
/// once per chunk.
const ITEM_ROWS: usize = 128;

/// [`ITEM_ROWS`] index rows of one event and role: `?1` the event's position, `?2` the role,
/// then each unit's id.
static ITEM_ROWS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let values = (0..ITEM_ROWS)
        .map(|i| format!("(?{}, ?1, ?2)", 3 + i))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT OR IGNORE INTO event_items (item_id, seq, role) VALUES {values}")
});

fn index_events(
    tx: &Transaction,
    events: &[Event],
    positions: &[i64],
    ids: &Ids,
) -> Result<(), StoreError> {
    let mut event_row = tx
        .prepare_cached(
            "INSERT INTO events (seq, event_id, event_time, kind, action, biz_step, disposition, biz_location, read_point, corrects,
                                 epcis_id, declared, dedup, head, units)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )
        .map_err(db)?;
    let mut items = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO event_items (item_id, seq, role) VALUES (?1, ?2, ?3)",
        )
        .map_err(db)?;
    let mut lots = tx
        .prepare_cached("INSERT OR IGNORE INTO event_lots (lot_id, seq, role, quantity) VALUES (?1, ?2, ?3, ?4)")
        .map_err(db)?;
    let mut txs = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO event_transactions (type, tx_id, seq) VALUES (?1, ?2, ?3)",
        )
        .map_err(db)?;
    let mut objects = tx
        .prepare_cached("INSERT OR IGNORE INTO event_objects (uri, seq, role) VALUES (?1, ?2, ?3)")
        .map_err(db)?;
    for (ev, seq) in events.iter().zip(positions) {
        let (head, units) = threadline_store::event_head(ev).unzip();
        event_row
            .execute(params![
                seq,
                ev.id.as_bytes().as_slice(),
                micros(ev.event_time),
                ev.kind.as_str(),
                ev.action.map(|a| a.as_str()),
                ev.biz_step.as_ref().map(|b| b.as_str()),
                ev.disposition.as_ref().map(|d| d.as_str()),
                ev.biz_location.as_ref().map(|l| l.as_str()),
                ev.read_point.as_ref().map(|l| l.as_str()),
                ev.corrects.as_ref().map(|c| c.event.as_bytes().to_vec()),
                ev.epcis_id,
                ev.error_declaration
                    .as_ref()
                    .map(|d| micros(d.declaration_time)),
                threadline_store::epcis::dedup_key(ev),
                head,
                units,
            ])
            .map_err(|e| match e.sqlite_error_code() {
                // The ledger refused a repeated event id already; what is left is the hash.
                Some(rusqlite::ErrorCode::ConstraintViolation) => {
                    threadline_store::epcis::duplicate(ev)
                }
                _ => db(e),
            })?;
        let rows: Vec<[i64; 3]> = ev
            .item_refs()
            .filter_map(|(key, role)| {
                ids.items
                    .get(key)
                    .map(|id| [*id, *seq, i64::from(role.code())])
            })
            .collect();
        // Runs of one role (an event's `items`, its `children`…) go `ITEM_ROWS` to a statement.
        let mut rest = rows.as_slice();
        while !rest.is_empty() {
            let role = rest[0][2];
            let run = rest.iter().take_while(|r| r[2] == role).count();
            let (same, after) = rest.split_at(run);
            let mut chunks = same.chunks_exact(ITEM_ROWS);
            if same.len() >= ITEM_ROWS {
                let mut many = tx.prepare_cached(&ITEM_ROWS_SQL).map_err(db)?;
                for chunk in &mut chunks {
                    many.execute(rusqlite::params_from_iter(
                        [*seq, role].iter().chain(chunk.iter().map(|r| &r[0])),
                    ))
                    .map_err(db)?;
                }
            }
            for row in chunks.remainder() {
                items.execute(*row).map_err(db)?;
            }
            rest = after;
        }
        for (q, role) in ev.lot_refs() {
            if let Some(id) = ids.lots.get(&q.key()) {
                // An unstated quantity (a partner's) is indexed as 0: the column is not read.
                let quantity = q.quantity.map_or(0, |x| x.millis());
                lots.execute(params![id, seq, role.code(), quantity])
                    .map_err(db)?;
            }
        }
        for bt in &ev.biz_transactions {
            txs.execute(params![bt.kind.as_str(), bt.id.as_str(), seq])
                .map_err(db)?;
        }
        for (uri, role) in threadline_store::epcis::event_objects(ev) {
            objects.execute(params![uri, seq, role]).map_err(db)?;
        }
    }
    Ok(())
}

/// Checks and applies `events`. With `head` (capture) the events are appended to the ledger
/// after it; without (rebuild) `seqs` gives their existing ledger positions.
pub(crate) fn project_events(
    tx: &Transaction,
    events: &mut [Event],
    head: Option<&mut (i64, Hash)>,
    seqs: &[i64],
    prefix_index: bool,
) -> Result<Vec<Receipt>, StoreError> {
    // Event ids of the batch are not looked up: the unique index on `events.event_id` refuses a
    // repeated id (mapped to `duplicate_event`), and repeats within the batch are caught by
    // the slice.
    if head.is_some() {
        // An EPCIS event captured before is a duplicate, whatever else it would break.
        for (k, ev) in threadline_store::epcis::batch_keys(events)? {
            if exists(tx, "SELECT 1 FROM events WHERE dedup = ?1", &k)? {
                return Err(threadline_store::epcis::duplicate(ev));
            }
        }
    }
    let needs = Needs::of(events);
    let mut ids = Ids::default();
    let mut slice = load(tx, &needs, &mut ids)?;
    weigh_corrections(tx, &mut slice, events)?;
    // Replaying the ledger (no head to append to) applies what was accepted without asking the
    // process rules again.
    slice.replay = head.is_none();
    slice
        .apply_batch(events, &StatusRules, prefix_index)
        .map_err(StoreError::Invalid)?;
    let bodies = if head.is_some() {
        // What the process said of a partner's event is kept in its body.
        slice.stamp_process_discrepancies(events);
        threadline_store::batch::ledger_bodies(events, &slice.products)
    } else {
        Vec::new()
    };
    let events = &*events;
    let mut receipts = Vec::with_capacity(events.len());
    let mut when = HashMap::with_capacity(events.len());
    let positions: Vec<i64> = match head {
        Some(h) => {
            for (ev, body) in events.iter().zip(&bodies) {
                receipts.push(append_body(tx, h, EntryRef::Event(ev), body)?);
            }
            set_head(tx, h)?;
            receipts.iter().map(|r| r.seq).collect()
        }
        None => seqs.to_vec(),
    };
    for (ev, seq) in events.iter().zip(&positions) {
        when.insert(ev.id, (*seq, micros(ev.event_time)));
    }
    write_back(tx, &slice, &mut ids, &when, events, prefix_index)?;
    index_events(tx, events, &positions, &ids)?;
    write_discrepancies(tx, &slice, &when)?;
    Ok(receipts)
}

/// What the batch's EPCIS captures disagreed with, at their events' positions.
fn write_discrepancies(
    tx: &Transaction,
    slice: &Slice,
    when: &HashMap<Uuid, (i64, i64)>,
) -> Result<(), StoreError> {
    if slice.discrepancies.is_empty() {
        return Ok(());
    }
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO discrepancies (seq, n, code, field, message, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db)?;
    let mut n: HashMap<i64, i64> = HashMap::new();
    for (id, d) in &slice.discrepancies {
        let Some((seq, _)) = when.get(id) else {
            continue;
        };
        let k = n.entry(*seq).or_default();
        stmt.execute(params![
            seq,
            *k,
            d.code,
            d.field,
            d.message,
            d.kind.as_str()
        ])
        .map_err(db)?;
        *k += 1;
    }
    Ok(())
}

/// Holds bits → kinds.
pub(crate) fn holds_of(bits: i64) -> Vec<HoldKind> {
    HoldKind::ALL
        .into_iter()
        .filter(|k| bits & i64::from(k.bit()) != 0)
        .collect()
}
