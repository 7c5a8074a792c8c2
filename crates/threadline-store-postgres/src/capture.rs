//! The write path: load the touched state, let the domain check and apply the events, then
//! append the ledger rows and write the changed state back — one transaction.
//!
//! The work per batch is a fixed number of round trips, not one per row: the slice is loaded by
//! one pipelined group of set-based queries (plus one per level of assembly ancestors), and
//! written back by two pipelined groups of multi-row statements — the first creates the new
//! units and lots and appends the ledger, the second needs their row ids. Statements in one
//! group are sent in the order listed (`biased`), and the server runs them in that order.

use std::collections::{BTreeSet, HashMap, HashSet};

use bytes::{BufMut, Bytes, BytesMut};
use deadpool_postgres::Transaction;
use futures_util::SinkExt;
use threadline_domain::codes::{ItemKey, LotKey, ProductCode, Serial};
use threadline_domain::error::FieldError;
use threadline_domain::event::{Event, HoldKind};
use threadline_domain::ledger::{EntryRef, Hash, chain_hash};
use threadline_domain::master::Product;
use threadline_domain::projection::{
    EdgeOp, ItemState, ItemStatus, KeyMap, LotState, Needs, Node, Slice, StatusRules,
};
use threadline_domain::{LocationCode, LotCode, Quantity};
use threadline_store::{Receipt, StoreError};
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{Row, Statement};
use uuid::Uuid;

use crate::{col, db, is_unique_violation, micros, storable};

/// The last ledger entry: its sequence number and hash.
pub(crate) type Head = (i64, Hash);

/// Row ids of the things a batch touches.
#[derive(Default)]
pub(crate) struct Ids {
    products: HashMap<ProductCode, i64>,
    items: KeyMap<ItemKey, i64>,
    lots: KeyMap<LotKey, i64>,
}

/// Locks the chain head for the rest of the transaction and returns it. Every write
/// transaction calls this first.
///
/// It also sets how the transaction's statements are planned. They look rows up by key, from
/// arrays of one key or of thousands, so they probe indexes: never hash or merge whole tables
/// (which the planner prefers for a thousand keys against a few hundred thousand rows, and
/// which grows with the table). And lookups are planned for their actual parameters (see
/// [`plan`]).
pub(crate) async fn lock_head(tx: &Transaction<'_>) -> Result<Head, StoreError> {
    let stmt = tx
        .prepare_cached("SELECT seq, hash FROM ledger_head WHERE id = 1 FOR UPDATE")
        .await
        .map_err(db)?;
    let (_, _, row) = tokio::try_join!(
        biased;
        tx.batch_execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"),
        plan(tx, Plans::Custom),
        tx.query_one(&stmt, &[]),
    )
    .map_err(db)?;
    head_of(&row)
}

/// How the statements that follow in a transaction are planned.
#[derive(Clone, Copy)]
enum Plans {
    /// For each execution, with its parameters: for lookups and updates that join keys to
    /// tables. A generic plan made once per connection, while the tables were small or not yet
    /// analysed, can probe an index by half its key and filter the rest — a cost that then
    /// grows with the table.
    Custom,
    /// PostgreSQL's default, which settles on a cached generic plan: for plain inserts from
    /// arrays, whose plan never changes, so that planning does not copy megabytes of
    /// parameters into each plan.
    Cached,
}

/// Sets how the statements sent after this one in the transaction are planned.
async fn plan(tx: &Transaction<'_>, plans: Plans) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute(match plans {
        Plans::Custom => "SET LOCAL plan_cache_mode = force_custom_plan",
        Plans::Cached => "SET LOCAL plan_cache_mode = auto",
    })
    .await
}

pub(crate) fn head_of(row: &Row) -> Result<Head, StoreError> {
    let seq: i64 = col(row, 0)?;
    let hash: Vec<u8> = col(row, 1)?;
    let hash: Hash = hash
        .try_into()
        .map_err(|_| StoreError::Schema("ledger head hash is not 32 bytes".into()))?;
    Ok((seq, hash))
}

/// Ledger rows about to be appended, column by column.
#[derive(Default)]
pub(crate) struct LedgerRows {
    seqs: Vec<i64>,
    ids: Vec<Uuid>,
    kinds: Vec<&'static str>,
    recorded_at: Vec<i64>,
    bodies: Vec<String>,
    hashes: Vec<Hash>,
}

impl LedgerRows {
    /// Chains `entry` after `head`, moves `head` on, and returns the entry's receipt.
    pub(crate) fn push(&mut self, head: &mut Head, entry: EntryRef<'_>) -> Receipt {
        self.push_body(head, entry, entry.body())
    }

    /// [`LedgerRows::push`] with the entry's body already serialised (`entry.body()`).
    fn push_body(&mut self, head: &mut Head, entry: EntryRef<'_>, body: String) -> Receipt {
        let seq = head.0 + 1;
        let hash = chain_hash(&head.1, seq, body.as_bytes());
        self.seqs.push(seq);
        self.ids.push(entry.id());
        self.kinds.push(entry.kind());
        self.recorded_at.push(micros(entry.recorded_at()));
        self.bodies.push(body);
        self.hashes.push(hash);
        *head = (seq, hash);
        Receipt {
            id: entry.id(),
            seq,
            hash: hex::encode(hash),
        }
    }

    /// Appends the rows and moves the recorded head to `head`, in that order.
    pub(crate) async fn write(&self, tx: &Transaction<'_>, head: &Head) -> Result<(), StoreError> {
        let (insert, set_head) =
            tokio::try_join!(biased; tx.prepare_cached(APPEND_LEDGER), tx.prepare_cached(SET_HEAD))
                .map_err(db)?;
        self.write_prepared(tx, &insert, &set_head, head).await
    }

    async fn write_prepared(
        &self,
        tx: &Transaction<'_>,
        insert: &Statement,
        set_head: &Statement,
        head: &Head,
    ) -> Result<(), StoreError> {
        let hashes: Vec<&[u8]> = self.hashes.iter().map(|h| h.as_slice()).collect();
        let head_hash = head.1.as_slice();
        let (appended, moved) = tokio::join!(
            biased;
            execute_unless(tx, false, insert, [&self.seqs, &self.ids, &self.kinds, &self.recorded_at, &self.bodies, &hashes]),
            execute_unless(tx, false, set_head, [&head.0, &head_hash]),
        );
        appended.map_err(|e| self.conflict(e))?;
        moved.map_err(db)?;
        Ok(())
    }

    /// SQLite reports a duplicate key on the ledger as the entry being appended: find that
    /// entry in the key the server names (the key text is not translated), else the first.
    fn conflict(&self, e: tokio_postgres::Error) -> StoreError {
        if !is_unique_violation(&e) {
            return db(e);
        }
        let detail = e.as_db_error().and_then(|d| d.detail()).unwrap_or_default();
        let culprit = self
            .seqs
            .iter()
            .zip(&self.ids)
            .find(|(seq, id)| {
                detail.contains(&format!("(entry_id)=({id})"))
                    || detail.contains(&format!("(seq)=({seq})"))
            })
            .map(|(_, id)| *id)
            .or_else(|| self.ids.first().copied())
            .unwrap_or_default();
        StoreError::Conflict(
            FieldError::new(
                "duplicate_event",
                format!("entry {culprit} is already recorded"),
            )
            .at("id"),
        )
    }
}

const APPEND_LEDGER: &str = "INSERT INTO ledger (seq, entry_id, kind, recorded_at, body, hash)
     SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::bytea[])";
const SET_HEAD: &str = "UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1";

// Keys go in as arrays joined through `unnest`, never as `= ANY($1)`: with a thousand keys the
// planner turns `= ANY` into a sequential scan, while the join probes the index once per key.
const Q_PRODUCTS: &str = "SELECT p.id, p.code, p.def FROM unnest($1::text[]) AS k(code) JOIN products p ON p.code = k.code";
const Q_LOCATIONS: &str =
    "SELECT l.code FROM unnest($1::text[]) AS k(code) JOIN locations l ON l.code = k.code";
const Q_PARTIES: &str =
    "SELECT p.code FROM unnest($1::text[]) AS k(code) JOIN parties p ON p.code = k.code";
const Q_EVENTS: &str =
    "SELECT e.event_id FROM unnest($1::uuid[]) AS k(id) JOIN events e ON e.event_id = k.id";
const Q_ITEMS: &str = "SELECT k.n, i.id, i.status, i.holds, i.location, i.custodian, i.lot, i.attributes, pp.code, par.serial
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(product, serial, n)
     JOIN products p ON p.code = k.product
     JOIN items i ON i.product_id = p.id AND i.serial = k.serial
     LEFT JOIN items par ON par.id = i.parent_id
     LEFT JOIN products pp ON pp.id = par.product_id";
const Q_CHILDREN: &str = "SELECT k.n, cp.code, c.serial
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(product, serial, n)
     JOIN products pp ON pp.code = k.product
     JOIN items par ON par.product_id = pp.id AND par.serial = k.serial
     JOIN items c ON c.parent_id = par.id
     JOIN products cp ON cp.id = c.product_id";
const Q_LOTS: &str = "SELECT k.n, l.id, l.production_date, l.expiry_date, l.holds
     FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(product, lot, n)
     JOIN products p ON p.code = k.product
     JOIN lots l ON l.product_id = p.id AND l.code = k.lot";
const Q_STOCK: &str = "SELECT k.n, s.quantity
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(product, lot, location, n)
     JOIN products p ON p.code = k.product
     JOIN lots l ON l.product_id = p.id AND l.code = k.lot
     JOIN lot_stock s ON s.lot_id = l.id AND s.location = k.location";

/// Runs `stmt` with `params` unless `skip` (nothing to look up): no rows then.
/// (The parameters are taken by value so that they live as long as the future does, which is
/// what lets these run side by side in one pipelined `join!`.)
async fn rows_unless<const N: usize>(
    tx: &Transaction<'_>,
    skip: bool,
    stmt: &Statement,
    params: [&(dyn ToSql + Sync); N],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    if skip {
        Ok(Vec::new())
    } else {
        tx.query(stmt, &params).await
    }
}

/// Executes `stmt` with `params` unless `skip` (nothing to write).
async fn execute_unless<const N: usize>(
    tx: &Transaction<'_>,
    skip: bool,
    stmt: &Statement,
    params: [&(dyn ToSql + Sync); N],
) -> Result<u64, tokio_postgres::Error> {
    if skip {
        Ok(0)
    } else {
        tx.execute(stmt, &params).await
    }
}

/// The 0-based index of the key a set-based lookup row answers (`WITH ORDINALITY` is 1-based).
fn nth(row: &Row) -> Result<usize, StoreError> {
    let n: i64 = col(row, 0)?;
    usize::try_from(n - 1)
        .map_err(|_| StoreError::Database(format!("lookup row number {n} is out of range")))
}

fn product_of(id: i64, def: &str) -> Result<(i64, Product), StoreError> {
    serde_json::from_str(def)
        .map(|p| (id, p))
        .map_err(|e| StoreError::Schema(e.to_string()))
}

fn date(d: Option<String>) -> Option<chrono::NaiveDate> {
    d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
}

fn item_key_of(product: &str, serial: &str) -> Result<ItemKey, StoreError> {
    Ok(ItemKey {
        product: ProductCode::parse(product).map_err(|e| StoreError::Schema(e.message))?,
        serial: Serial::parse(serial).map_err(|e| StoreError::Schema(e.message))?,
    })
}

/// One row of [`Q_ITEMS`] as the projection's state, with the item's row id.
fn item_state(r: &Row) -> Result<(i64, ItemState), StoreError> {
    let id: i64 = col(r, 1)?;
    let status: String = col(r, 2)?;
    let holds: i16 = col(r, 3)?;
    let location: Option<String> = col(r, 4)?;
    let custodian: Option<String> = col(r, 5)?;
    let lot: Option<String> = col(r, 6)?;
    let attributes: Option<String> = col(r, 7)?;
    let parent_product: Option<String> = col(r, 8)?;
    let parent_serial: Option<String> = col(r, 9)?;
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
            .map(|l| LocationCode::parse(&l))
            .transpose()
            .map_err(|_| corrupt("location"))?,
        custodian,
        lot: lot
            .map(|l| LotCode::parse(&l))
            .transpose()
            .map_err(|_| corrupt("lot"))?,
        parent,
        attributes: attributes
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|_| corrupt("attributes"))?
            .unwrap_or_default(),
    };
    Ok((id, state))
}

/// Records the answer of [`Q_ITEMS`] for `keys`: a state for each row, "does not exist" for the
/// rest.
fn put_items(
    s: &mut Slice,
    ids: &mut Ids,
    keys: &[&ItemKey],
    rows: &[Row],
) -> Result<(), StoreError> {
    let mut found: Vec<Option<(i64, ItemState)>> = vec![None; keys.len()];
    for r in rows {
        let n = nth(r)?;
        if let Some(slot) = found.get_mut(n) {
            *slot = Some(item_state(r)?);
        }
    }
    for (key, f) in keys.iter().zip(found) {
        match f {
            Some((id, st)) => {
                ids.items.insert((*key).clone(), id);
                s.items.insert((*key).clone(), Some(st));
            }
            None => {
                s.items.insert((*key).clone(), None);
            }
        }
    }
    Ok(())
}

/// Records the answer of [`Q_PRODUCTS`]; `wanted` gives each code its parsed form.
fn put_products(
    s: &mut Slice,
    ids: &mut Ids,
    wanted: &BTreeSet<&ProductCode>,
    rows: &[Row],
) -> Result<(), StoreError> {
    for r in rows {
        let code: String = col(r, 1)?;
        let Some(key) = wanted.iter().find(|p| p.as_str() == code) else {
            continue;
        };
        let (id, p) = product_of(col(r, 0)?, &col::<String>(r, 2)?)?;
        ids.products.insert((*key).clone(), id);
        s.products.insert((*key).clone(), p);
    }
    Ok(())
}

/// Loads units not in the slice yet — with their products, and their ancestors level by level.
async fn load_items(
    tx: &Transaction<'_>,
    (q_products, q_items): (&Statement, &Statement),
    s: &mut Slice,
    ids: &mut Ids,
    mut pending: Vec<ItemKey>,
) -> Result<(), StoreError> {
    loop {
        pending.retain(|k| !s.items.contains_key(k));
        pending.sort();
        pending.dedup();
        if pending.is_empty() {
            return Ok(());
        }
        let unknown: BTreeSet<&ProductCode> = pending
            .iter()
            .map(|k| &k.product)
            .filter(|p| !ids.products.contains_key(*p))
            .collect();
        let codes: Vec<&str> = unknown.iter().map(|p| p.as_str()).collect();
        let keys: Vec<&ItemKey> = pending.iter().collect();
        let (products, serials): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .map(|k| (k.product.as_str(), k.serial.as_str()))
            .unzip();
        let (rp, ri) = tokio::try_join!(
            rows_unless(tx, codes.is_empty(), q_products, [&codes]),
            rows_unless(tx, false, q_items, [&products, &serials]),
        )
        .map_err(db)?;
        put_products(s, ids, &unknown, &rp)?;
        put_items(s, ids, &keys, &ri)?;
        pending = s.missing_ancestors();
    }
}

/// Loads exactly what `needs` names into a slice.
async fn load(tx: &Transaction<'_>, needs: &Needs, ids: &mut Ids) -> Result<Slice, StoreError> {
    let mut s = Slice::default();
    let product_codes: Vec<&str> = needs.products.iter().map(ProductCode::as_str).collect();
    // Raw codes from sources/destinations may hold what PostgreSQL text cannot; such a code
    // names nothing stored, which is also what SQLite finds.
    let locations: Vec<&str> = needs
        .locations
        .iter()
        .map(String::as_str)
        .filter(|c| storable(c))
        .collect();
    let parties: Vec<&str> = needs
        .parties
        .iter()
        .map(String::as_str)
        .filter(|c| storable(c))
        .collect();
    let events: Vec<Uuid> = needs.events.iter().copied().collect();
    let items: Vec<&ItemKey> = needs.items.iter().collect();
    let (item_products, item_serials): (Vec<&str>, Vec<&str>) = items
        .iter()
        .map(|k| (k.product.as_str(), k.serial.as_str()))
        .unzip();
    let parents: Vec<&ItemKey> = needs.children_of.iter().collect();
    let (parent_products, parent_serials): (Vec<&str>, Vec<&str>) = parents
        .iter()
        .map(|k| (k.product.as_str(), k.serial.as_str()))
        .unzip();
    let lots: Vec<&LotKey> = needs.lots.iter().collect();
    let (lot_products, lot_codes): (Vec<&str>, Vec<&str>) = lots
        .iter()
        .map(|k| (k.product.as_str(), k.lot.as_str()))
        .unzip();
    let stock: Vec<&(LotKey, String)> = needs
        .stock
        .iter()
        .filter(|(_, loc)| storable(loc))
        .collect();
    let (stock_products, (stock_lots, stock_locations)): (Vec<&str>, (Vec<&str>, Vec<&str>)) =
        stock
            .iter()
            .map(|(k, loc)| (k.product.as_str(), (k.lot.as_str(), loc.as_str())))
            .unzip();

    let (q_products, q_locations, q_parties, q_events, q_items, q_children, q_lots, q_stock) =
        tokio::try_join!(
            tx.prepare_cached(Q_PRODUCTS),
            tx.prepare_cached(Q_LOCATIONS),
            tx.prepare_cached(Q_PARTIES),
            tx.prepare_cached(Q_EVENTS),
            tx.prepare_cached(Q_ITEMS),
            tx.prepare_cached(Q_CHILDREN),
            tx.prepare_cached(Q_LOTS),
            tx.prepare_cached(Q_STOCK),
        )
        .map_err(db)?;
    let (r_products, r_locations, r_parties, r_events, r_items, r_children, r_lots, r_stock) =
        tokio::try_join!(
            rows_unless(tx, product_codes.is_empty(), &q_products, [&product_codes]),
            rows_unless(tx, locations.is_empty(), &q_locations, [&locations]),
            rows_unless(tx, parties.is_empty(), &q_parties, [&parties]),
            rows_unless(tx, events.is_empty(), &q_events, [&events]),
            rows_unless(
                tx,
                items.is_empty(),
                &q_items,
                [&item_products, &item_serials]
            ),
            rows_unless(
                tx,
                parents.is_empty(),
                &q_children,
                [&parent_products, &parent_serials]
            ),
            rows_unless(tx, lots.is_empty(), &q_lots, [&lot_products, &lot_codes]),
            rows_unless(
                tx,
                stock.is_empty(),
                &q_stock,
                [&stock_products, &stock_lots, &stock_locations]
            ),
        )
        .map_err(db)?;

    put_products(&mut s, ids, &needs.products.iter().collect(), &r_products)?;
    for r in &r_locations {
        s.locations.insert(col(r, 0)?);
    }
    for r in &r_parties {
        s.parties.insert(col(r, 0)?);
    }
    for r in &r_events {
        s.events.insert(col(r, 0)?);
    }
    put_items(&mut s, ids, &items, &r_items)?;

    // Ancestors, level by level, so the domain can refuse assembly cycles.
    let ancestors = s.missing_ancestors();
    load_items(tx, (&q_products, &q_items), &mut s, ids, ancestors).await?;

    // The current children of assembly parents, loaded as units too (a DELETE without children
    // takes them all out).
    let mut children: HashMap<usize, BTreeSet<ItemKey>> = HashMap::new();
    for r in &r_children {
        let key = item_key_of(&col::<String>(r, 1)?, &col::<String>(r, 2)?)?;
        children.entry(nth(r)?).or_default().insert(key);
    }
    let mut unloaded = Vec::new();
    for (n, parent) in parents.iter().enumerate() {
        if ids.items.contains_key(*parent) {
            let set = children.remove(&n).unwrap_or_default();
            unloaded.extend(set.iter().filter(|k| !s.items.contains_key(*k)).cloned());
            s.children.insert((*parent).clone(), set);
        }
    }
    load_items(tx, (&q_products, &q_items), &mut s, ids, unloaded).await?;

    // Containers move with everything inside them, through nested containers.
    loop {
        let containers = s.missing_contents();
        if containers.is_empty() {
            break;
        }
        let (products, serials): (Vec<&str>, Vec<&str>) = containers
            .iter()
            .map(|k| (k.product.as_str(), k.serial.as_str()))
            .unzip();
        let rows = tx
            .query(&q_children, &[&products, &serials])
            .await
            .map_err(db)?;
        let mut found: HashMap<usize, BTreeSet<ItemKey>> = HashMap::new();
        for r in &rows {
            let key = item_key_of(&col::<String>(r, 1)?, &col::<String>(r, 2)?)?;
            found.entry(nth(r)?).or_default().insert(key);
        }
        let mut unloaded = Vec::new();
        for (n, c) in containers.iter().enumerate() {
            let set = found.remove(&n).unwrap_or_default();
            unloaded.extend(set.iter().filter(|k| !s.items.contains_key(*k)).cloned());
            s.children.insert(c.clone(), set);
        }
        load_items(tx, (&q_products, &q_items), &mut s, ids, unloaded).await?;
    }
    let process = tx
        .query_opt(
            "SELECT def FROM processes WHERE code = $1",
            &[&threadline_domain::process::PROCESS_CODE],
        )
        .await
        .map_err(db)?;
    if let Some(r) = process {
        s.process = serde_json::from_str(&col::<String>(&r, 0)?)
            .map_err(|e| StoreError::Schema(format!("stored process definition: {e}")))?;
    }

    let mut found_lots: HashMap<usize, (i64, LotState)> = HashMap::new();
    for r in &r_lots {
        let holds: i16 = col(r, 4)?;
        let state = LotState {
            production_date: date(col(r, 2)?),
            expiry_date: date(col(r, 3)?),
            holds: u8::try_from(holds).unwrap_or(0),
        };
        found_lots.insert(nth(r)?, (col(r, 1)?, state));
    }
    for (n, key) in lots.iter().enumerate() {
        if !ids.products.contains_key(&key.product) {
            continue;
        }
        match found_lots.remove(&n) {
            Some((id, st)) => {
                ids.lots.insert((*key).clone(), id);
                s.lots.insert((*key).clone(), Some(st));
            }
            None => {
                s.lots.insert((*key).clone(), None);
            }
        }
    }
    for r in &r_stock {
        let Some(key) = stock.get(nth(r)?) else {
            continue;
        };
        s.stock
            .insert((*key).clone(), Quantity::from_millis(col(r, 1)?));
    }
    if !needs.counters.is_empty() {
        let scopes: Vec<&str> = needs
            .counters
            .iter()
            .map(String::as_str)
            .filter(|c| storable(c))
            .collect();
        let stmt = tx
            .prepare_cached("SELECT scope, next FROM serial_counters WHERE scope = ANY($1)")
            .await
            .map_err(db)?;
        for r in tx.query(&stmt, &[&scopes]).await.map_err(db)? {
            let scope: String = col(&r, 0)?;
            let next: i64 = col(&r, 1)?;
            let next = u64::try_from(next)
                .map_err(|_| StoreError::Schema(format!("counter {scope} is negative")))?;
            s.counters.insert(scope, next);
        }
    }
    Ok(s)
}

fn node_ids(ids: &Ids, n: &Node) -> Result<(&'static str, i64), StoreError> {
    let missing = || StoreError::Database(format!("genealogy node {n:?} has no row id"));
    Ok(match n {
        Node::Item(k) => ("i", *ids.items.get(k).ok_or_else(missing)?),
        Node::Lot(k) => ("l", *ids.lots.get(k).ok_or_else(missing)?),
    })
}

fn product_id(ids: &Ids, p: &ProductCode) -> Result<i64, StoreError> {
    ids.products
        .get(p)
        .copied()
        .ok_or_else(|| StoreError::Database(format!("no id for product {p}")))
}

fn attributes_text(st: &ItemState) -> Result<Option<String>, StoreError> {
    if st.attributes.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(&st.attributes)
        .map(Some)
        .map_err(|e| StoreError::Database(e.to_string()))
}

/// Units that have no row yet, column by column, in full — but for a parent that is new in
/// the same batch, which is set afterwards, when it has an id.
#[derive(Default)]
struct NewItems<'a> {
    keys: Vec<&'a ItemKey>,
    /// Units whose parent has no row yet.
    later_parent: HashSet<&'a ItemKey>,
    product_ids: Vec<i64>,
    serials: Vec<&'a str>,
    statuses: Vec<&'static str>,
    holds: Vec<i16>,
    locations: Vec<Option<&'a str>>,
    custodians: Vec<Option<&'a str>>,
    lots: Vec<Option<&'a str>>,
    parent_ids: Vec<Option<i64>>,
    attributes: Vec<Option<String>>,
}

#[derive(Default)]
struct NewLots<'a> {
    keys: Vec<&'a LotKey>,
    product_ids: Vec<i64>,
    codes: Vec<&'a str>,
    production: Vec<Option<String>>,
    expiry: Vec<Option<String>>,
    holds: Vec<i16>,
}

/// The event index rows (`events`, `event_transactions`), which need no projection ids.
#[derive(Default)]
struct EventRows<'a> {
    seqs: Vec<i64>,
    ids: Vec<Uuid>,
    times: Vec<i64>,
    kinds: Vec<&'static str>,
    actions: Vec<Option<&'static str>>,
    biz_steps: Vec<Option<&'a str>>,
    dispositions: Vec<Option<&'a str>>,
    biz_locations: Vec<Option<&'a str>>,
    read_points: Vec<Option<&'a str>>,
    corrects: Vec<Option<Uuid>>,
    epcis_ids: Vec<Option<&'a str>>,
    declared: Vec<Option<i64>>,
    dedups: Vec<Option<String>>,
    heads: Vec<Option<String>>,
    units: Vec<Option<i64>>,
    events: &'a [Event],
    tx_types: Vec<&'a str>,
    tx_ids: Vec<&'a str>,
    tx_seqs: Vec<i64>,
    object_uris: Vec<String>,
    object_seqs: Vec<i64>,
    object_roles: Vec<i16>,
}

impl<'a> EventRows<'a> {
    fn of(events: &'a [Event], positions: &[i64]) -> Self {
        let mut r = EventRows {
            events,
            ..EventRows::default()
        };
        // An index row is written once however often the event names it (SQLite's
        // INSERT OR IGNORE); plain INSERTs cost half of ON CONFLICT DO NOTHING.
        let mut seen = HashSet::new();
        let mut seen_objects = HashSet::new();
        for (ev, seq) in events.iter().zip(positions) {
            r.seqs.push(*seq);
            r.ids.push(ev.id);
            r.times.push(micros(ev.event_time));
            r.kinds.push(ev.kind.as_str());
            r.actions.push(ev.action.map(|a| a.as_str()));
            r.biz_steps.push(ev.biz_step.as_ref().map(|b| b.as_str()));
            r.dispositions
                .push(ev.disposition.as_ref().map(|d| d.as_str()));
            r.biz_locations
                .push(ev.biz_location.as_ref().map(|l| l.as_str()));
            r.read_points
                .push(ev.read_point.as_ref().map(|l| l.as_str()));
            r.corrects.push(ev.corrects.as_ref().map(|c| c.event));
            r.epcis_ids.push(ev.epcis_id.as_deref());
            r.declared.push(
                ev.error_declaration
                    .as_ref()
                    .map(|d| micros(d.declaration_time)),
            );
            r.dedups.push(threadline_store::epcis::dedup_key(ev));
            let (head, units) = threadline_store::event_head(ev).unzip();
            r.heads.push(head);
            r.units.push(units);
            for bt in &ev.biz_transactions {
                if seen.insert((bt.kind.as_str(), bt.id.as_str(), *seq)) {
                    r.tx_types.push(bt.kind.as_str());
                    r.tx_ids.push(bt.id.as_str());
                    r.tx_seqs.push(*seq);
                }
            }
            for (uri, role) in threadline_store::epcis::event_objects(ev) {
                if seen_objects.insert((uri.clone(), *seq, role)) {
                    r.object_uris.push(uri);
                    r.object_seqs.push(*seq);
                    r.object_roles.push(role);
                }
            }
        }
        r
    }

    /// The events table refuses only a repeated hash of an EPCIS capture (the ledger refused
    /// a repeated id already): name the event the server names, else the first captured one.
    fn conflict(&self, e: tokio_postgres::Error) -> StoreError {
        if !is_unique_violation(&e) {
            return db(e);
        }
        let detail = e.as_db_error().and_then(|d| d.detail()).unwrap_or_default();
        self.events
            .iter()
            .zip(&self.dedups)
            .filter_map(|(ev, k)| k.as_ref().map(|k| (ev, k)))
            .find(|(_, k)| detail.contains(&format!("(dedup)=({k})")))
            .or_else(|| {
                self.events
                    .iter()
                    .zip(&self.dedups)
                    .find_map(|(ev, k)| k.as_ref().map(|k| (ev, k)))
            })
            .map_or_else(|| db(e), |(ev, _)| threadline_store::epcis::duplicate(ev))
    }
}

const INSERT_ITEMS: &str = "INSERT INTO items (product_id, serial, status, holds, location, custodian, lot, parent_id, attributes)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                          $9::text[])
     ON CONFLICT (product_id, serial) DO NOTHING
     RETURNING id, product_id, serial";
const INSERT_LOTS: &str = "INSERT INTO lots (product_id, code, production_date, expiry_date, holds)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::smallint[])
     RETURNING id, product_id, code";
const INSERT_EVENTS: &str =
    "INSERT INTO events (seq, event_id, event_time, kind, action, biz_step, disposition, biz_location, read_point, corrects,
                         epcis_id, declared, dedup, head, units)
     SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                          $9::text[], $10::uuid[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::bigint[])";
const INSERT_TRANSACTIONS: &str = "INSERT INTO event_transactions (type, tx_id, seq)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])";
const INSERT_OBJECTS: &str = "INSERT INTO event_objects (uri, seq, role)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[])";
const UPDATE_ITEMS: &str = "UPDATE items AS i SET status = u.status, holds = u.holds, location = u.location, custodian = u.custodian,
       lot = u.lot, parent_id = u.parent_id, attributes = u.attributes
     FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])
       AS u(id, status, holds, location, custodian, lot, parent_id, attributes)
     WHERE i.id = u.id";
const UPDATE_LOTS: &str = "UPDATE lots AS l SET production_date = u.production_date, expiry_date = u.expiry_date, holds = u.holds
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[]) AS u(id, production_date, expiry_date, holds)
     WHERE l.id = u.id";
const DELETE_STOCK: &str =
    "DELETE FROM lot_stock AS s USING unnest($1::bigint[], $2::text[]) AS u(lot_id, location)
     WHERE s.lot_id = u.lot_id AND s.location = u.location";
const UPSERT_STOCK: &str = "INSERT INTO lot_stock (lot_id, location, quantity)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])
     ON CONFLICT (lot_id, location) DO UPDATE SET quantity = excluded.quantity";
const INSERT_EVENT_ITEMS: &str = "INSERT INTO event_items (item_id, seq, role)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[])";
const INSERT_EVENT_LOTS: &str = "INSERT INTO event_lots (lot_id, seq, role, quantity)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::bigint[])";
const OPEN_EDGES: &str =
    "INSERT INTO genealogy (parent_type, parent_id, child_type, child_id, kind, quantity, from_seq, from_time)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])";
const CLOSE_EDGES: &str = "UPDATE genealogy AS g SET to_seq = u.seq, to_time = u.time
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
       AS u(parent_type, parent_id, child_type, child_id, seq, time)
     WHERE g.parent_type = u.parent_type AND g.parent_id = u.parent_id AND g.child_type = u.child_type
       AND g.child_id = u.child_id AND g.to_seq IS NULL";

/// From this many new units in a batch on (an allocation block, a batch of commissionings, an
/// import chunk), their rows are written with binary `COPY` under row ids reserved for them,
/// and so are a batch's unit index rows from this many on: no `RETURNING` to map back to keys.
/// Below it the one `INSERT … RETURNING` stays: no round trip for the reservation and no
/// savepoint. (128 is SQLite's `ITEM_ROWS`; not tuned for PostgreSQL.)
const MANY_UNITS: usize = 128;

/// Moves the units' id sequence on by `$1` and returns the last id reserved. A range of ids is
/// only the caller's while nothing else draws from the sequence between the two calls: every
/// insert into `items` happens in a write transaction holding the chain head lock
/// ([`lock_head`]), as this one does.
const RESERVE_ITEM_IDS: &str = "SELECT setval(pg_get_serial_sequence('items', 'id'),
                  nextval(pg_get_serial_sequence('items', 'id')) + $1::bigint - 1)";
const COPY_ITEMS: &str = "COPY items (id, product_id, serial, status, holds, location, custodian, lot, parent_id, attributes)
     FROM STDIN (FORMAT binary)";
const ITEM_TYPES: [Type; 10] = [
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::INT2,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
];
const COPY_EVENT_ITEMS: &str = "COPY event_items (item_id, seq, role) FROM STDIN (FORMAT binary)";
const EVENT_ITEM_TYPES: [Type; 3] = [Type::INT8, Type::INT8, Type::INT2];
/// Which of the (product id, serial) pairs have a unit row (1-based positions).
const TAKEN_ITEMS: &str =
    "SELECT k.n FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS k(product_id, serial, n)
     JOIN items i ON i.product_id = k.product_id AND i.serial = k.serial";

/// Reserves `count` consecutive unit row ids (see [`RESERVE_ITEM_IDS`]) and returns the first.
async fn reserve_item_ids(tx: &Transaction<'_>, count: i64) -> Result<i64, StoreError> {
    let stmt = tx.prepare_cached(RESERVE_ITEM_IDS).await.map_err(db)?;
    let last: i64 = col(&tx.query_one(&stmt, &[&count]).await.map_err(db)?, 0)?;
    Ok(last - count + 1)
}

/// Rows in PostgreSQL's binary `COPY` format, encoded whole and sent as one message.
struct CopyRows {
    buf: BytesMut,
    types: &'static [Type],
}

impl CopyRows {
    fn new(types: &'static [Type], rows: usize) -> Self {
        let mut buf = BytesMut::with_capacity(19 + rows * (2 + 16 * types.len()));
        buf.put_slice(b"PGCOPY\n\xff\r\n\0");
        buf.put_i32(0); // flags
        buf.put_i32(0); // header extension
        CopyRows { buf, types }
    }

    /// Appends one row; `values` come in the order of the types.
    fn push(&mut self, values: &[&(dyn ToSql + Sync)]) -> Result<(), StoreError> {
        if values.len() != self.types.len() {
            return Err(StoreError::Database(format!(
                "a copied row has {} values for {} columns",
                values.len(),
                self.types.len()
            )));
        }
        self.buf
            .put_i16(i16::try_from(values.len()).unwrap_or(i16::MAX));
        for (value, ty) in values.iter().zip(self.types) {
            let at = self.buf.len();
            self.buf.put_i32(0);
            let written = value
                .to_sql_checked(ty, &mut self.buf)
                .map_err(|e| StoreError::Database(format!("encoding a copied row: {e}")))?;
            let len = match written {
                IsNull::Yes => -1,
                IsNull::No => i32::try_from(self.buf.len() - at - 4)
                    .map_err(|_| StoreError::Database("a copied value is too long".into()))?,
            };
            self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }

    fn finish(mut self) -> Bytes {
        self.buf.put_i16(-1);
        self.buf.freeze()
    }
}

/// Runs the prepared `COPY ... FROM STDIN` `stmt` with `rows`; returns the rows written.
async fn copy_in(
    tx: &Transaction<'_>,
    stmt: &Statement,
    rows: Bytes,
) -> Result<u64, tokio_postgres::Error> {
    let sink = tx.copy_in(stmt).await?;
    futures_util::pin_mut!(sink);
    sink.as_mut().send(rows).await?;
    sink.finish().await
}

/// Runs the plain statement `sql` unless `skip`.
async fn simple_unless(
    tx: &Transaction<'_>,
    skip: bool,
    sql: &str,
) -> Result<(), tokio_postgres::Error> {
    if skip {
        Ok(())
    } else {
        tx.batch_execute(sql).await
    }
}

impl NewItems<'_> {
    /// The rows to copy, with the ids reserved for them in `ids`.
    fn copy_rows(&self, ids: &Ids) -> Result<Bytes, StoreError> {
        let mut rows = CopyRows::new(&ITEM_TYPES, self.keys.len());
        for (i, key) in self.keys.iter().enumerate() {
            let id = ids
                .items
                .get(*key)
                .ok_or_else(|| StoreError::Database(format!("no id reserved for item {key}")))?;
            rows.push(&[
                id,
                &self.product_ids[i],
                &self.serials[i],
                &self.statuses[i],
                &self.holds[i],
                &self.locations[i],
                &self.custodians[i],
                &self.lots[i],
                &self.parent_ids[i],
                &self.attributes[i],
            ])?;
        }
        Ok(rows.finish())
    }
}

/// After copying new units failed on a key the store holds: rolls back to before the copy and
/// names the serials taken ([`threadline_store::already_registered`]), in the batch's order;
/// `None` when none is (the copy failed on something else).
async fn taken_serials(
    tx: &Transaction<'_>,
    n: &NewItems<'_>,
    events: &[Event],
    prefix_index: bool,
) -> Result<Option<StoreError>, StoreError> {
    tx.batch_execute("ROLLBACK TO SAVEPOINT many_units")
        .await
        .map_err(db)?;
    let stmt = tx.prepare_cached(TAKEN_ITEMS).await.map_err(db)?;
    let rows = tx
        .query(&stmt, &[&n.product_ids, &n.serials])
        .await
        .map_err(db)?;
    let mut taken = rows.iter().map(nth).collect::<Result<Vec<_>, _>>()?;
    if taken.is_empty() {
        return Ok(None);
    }
    taken.sort_unstable();
    Ok(Some(threadline_store::already_registered(
        events,
        taken.iter().filter_map(|i| n.keys.get(*i).copied()),
        prefix_index,
    )))
}

/// What stage one of the write-back leaves to stage two.
struct Written<'s> {
    /// The new units inserted whole (all but those whose parent is new too and had no row id).
    whole: HashSet<&'s ItemKey>,
    /// The savepoint before copied units is open: stage two releases it.
    savepoint: bool,
}

/// Stage one of the write-back: rows for units and lots that are new, the ledger (when
/// capturing), and the event index. Puts the new row ids into `ids`. A new unit the unique key
/// already holds is a serial an allocation in `events` drew that was registered already
/// ([`threadline_store::already_registered`]).
async fn write_new<'s>(
    tx: &Transaction<'_>,
    s: &'s Slice,
    ids: &mut Ids,
    ledger: Option<(&LedgerRows, &Head)>,
    index: &EventRows<'_>,
    events: &[Event],
    prefix_index: bool,
) -> Result<Written<'s>, StoreError> {
    let new_keys: Vec<(&ItemKey, &ItemState)> = s
        .dirty_items
        .iter()
        .filter(|k| !ids.items.contains_key(*k))
        .filter_map(|k| s.items.get(k).and_then(Option::as_ref).map(|st| (k, st)))
        .collect();
    // Many new units: their row ids are reserved first, so that the rows are copied in without
    // anything read back, and a unit built into a parent that is new too has its parent's id.
    let many = new_keys.len() >= MANY_UNITS;
    if many {
        let count = i64::try_from(new_keys.len())
            .map_err(|_| StoreError::Database("too many new units".into()))?;
        let first = reserve_item_ids(tx, count).await?;
        for ((key, _), id) in new_keys.iter().zip(first..) {
            ids.items.insert((*key).clone(), id);
        }
    }
    let mut new_items = NewItems::default();
    for (key, st) in new_keys {
        let parent_id = st.parent.as_ref().and_then(|p| ids.items.get(p).copied());
        if st.parent.is_some() && parent_id.is_none() {
            new_items.later_parent.insert(key);
        }
        new_items.keys.push(key);
        new_items.product_ids.push(product_id(ids, &key.product)?);
        new_items.serials.push(key.serial.as_str());
        new_items.statuses.push(st.status.as_str());
        new_items.holds.push(i16::from(st.holds));
        new_items
            .locations
            .push(st.location.as_ref().map(|l| l.as_str()));
        new_items.custodians.push(st.custodian.as_deref());
        new_items.lots.push(st.lot.as_ref().map(|l| l.as_str()));
        new_items.parent_ids.push(parent_id);
        new_items.attributes.push(attributes_text(st)?);
    }
    let mut new_lots = NewLots::default();
    for key in &s.dirty_lots {
        if ids.lots.contains_key(key) {
            continue;
        }
        new_lots.keys.push(key);
        new_lots.product_ids.push(product_id(ids, &key.product)?);
        new_lots.codes.push(key.lot.as_str());
        let st = s.lots.get(key).and_then(Option::as_ref);
        new_lots
            .production
            .push(st.and_then(|l| l.production_date).map(|d| d.to_string()));
        new_lots
            .expiry
            .push(st.and_then(|l| l.expiry_date).map(|d| d.to_string()));
        new_lots
            .holds
            .push(st.map(|l| i16::from(l.holds)).unwrap_or(0));
    }

    let (q_append, q_head, q_items, q_lots, q_events, q_txs, q_objects) = tokio::try_join!(
        tx.prepare_cached(APPEND_LEDGER),
        tx.prepare_cached(SET_HEAD),
        tx.prepare_cached(if many { COPY_ITEMS } else { INSERT_ITEMS }),
        tx.prepare_cached(INSERT_LOTS),
        tx.prepare_cached(INSERT_EVENTS),
        tx.prepare_cached(INSERT_TRANSACTIONS),
        tx.prepare_cached(INSERT_OBJECTS),
    )
    .map_err(db)?;
    let n = &new_items;
    let l = &new_lots;
    let e = index;
    // A capture's copied units may hold a serial registered already: the copy then fails, and
    // rolling back to before it lets the taken serials be looked up and named. (A rebuild
    // replays units that were accepted once.)
    let savepoint = many && ledger.is_some();
    // The ledger goes first: a duplicate entry is reported before anything else, as on SQLite.
    let (planned, appended, saved, items, lots, indexed, txs, objects) = tokio::join!(
        biased;
        plan(tx, Plans::Cached),
        async {
            match ledger {
                Some((rows, head)) => rows.write_prepared(tx, &q_append, &q_head, head).await,
                None => Ok(()),
            }
        },
        simple_unless(tx, !savepoint, "SAVEPOINT many_units"),
        async {
            if many {
                // Encoded here, while the server runs the statements queued ahead.
                let rows = n.copy_rows(ids)?;
                Ok(copy_in(tx, &q_items, rows).await.map(|_| Vec::new()))
            } else {
                Ok(rows_unless(
                    tx,
                    n.keys.is_empty(),
                    &q_items,
                    [&n.product_ids, &n.serials, &n.statuses, &n.holds, &n.locations, &n.custodians, &n.lots, &n.parent_ids, &n.attributes]
                ).await)
            }
        },
        rows_unless(tx, l.keys.is_empty(), &q_lots, [&l.product_ids, &l.codes, &l.production, &l.expiry, &l.holds]),
        execute_unless(
                tx,
                e.seqs.is_empty(),
                &q_events,
                [
                    &e.seqs,
                    &e.ids,
                    &e.times,
                    &e.kinds,
                    &e.actions,
                    &e.biz_steps,
                    &e.dispositions,
                    &e.biz_locations,
                    &e.read_points,
                    &e.corrects,
                    &e.epcis_ids,
                    &e.declared,
                    &e.dedups,
                    &e.heads,
                    &e.units,
                ],
        ),
        execute_unless(tx, e.tx_seqs.is_empty(), &q_txs, [&e.tx_types, &e.tx_ids, &e.tx_seqs]),
        execute_unless(
            tx,
            e.object_seqs.is_empty(),
            &q_objects,
            [&e.object_uris, &e.object_seqs, &e.object_roles],
        ),
    );
    planned.map_err(db)?;
    appended?;
    saved.map_err(db)?;
    let items = match items? {
        Ok(rows) => rows,
        Err(e) if savepoint && is_unique_violation(&e) => {
            return Err(taken_serials(tx, n, events, prefix_index)
                .await?
                .unwrap_or_else(|| db(e)));
        }
        Err(e) => return Err(db(e)),
    };
    let lots = lots.map_err(db)?;
    indexed.map_err(|e| index.conflict(e))?;
    txs.map_err(db)?;
    objects.map_err(db)?;

    let by_row: HashMap<(i64, &str), &ItemKey> = n
        .keys
        .iter()
        .zip(&n.product_ids)
        .map(|(k, pid)| ((*pid, k.serial.as_str()), *k))
        .collect();
    for r in &items {
        let (id, pid, serial): (i64, i64, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
        let key = by_row
            .get(&(pid, serial.as_str()))
            .ok_or_else(|| StoreError::Database(format!("unexpected new item {serial}")))?;
        ids.items.insert((*key).clone(), id);
    }
    if !many && items.len() < n.keys.len() {
        let taken = n
            .keys
            .iter()
            .filter(|k| !ids.items.contains_key(**k))
            .copied();
        return Err(threadline_store::already_registered(
            events,
            taken,
            prefix_index,
        ));
    }
    let by_row: HashMap<(i64, &str), &LotKey> = l
        .keys
        .iter()
        .zip(&l.product_ids)
        .map(|(k, pid)| ((*pid, k.lot.as_str()), *k))
        .collect();
    for r in &lots {
        let (id, pid, code): (i64, i64, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
        let key = by_row
            .get(&(pid, code.as_str()))
            .ok_or_else(|| StoreError::Database(format!("unexpected new lot {code}")))?;
        ids.lots.insert((*key).clone(), id);
    }
    Ok(Written {
        whole: new_items
            .keys
            .into_iter()
            .filter(|k| !new_items.later_parent.contains(*k))
            .collect(),
        savepoint,
    })
}

/// Genealogy links as columns: the rows of one multi-row statement.
#[derive(Default)]
struct EdgeColumns {
    parent_types: Vec<&'static str>,
    parent_ids: Vec<i64>,
    child_types: Vec<&'static str>,
    child_ids: Vec<i64>,
    kinds: Vec<&'static str>,
    quantities: Vec<Option<i64>>,
    seqs: Vec<i64>,
    times: Vec<i64>,
}

/// A run of consecutive edge changes of one kind: opening links, or closing them.
enum EdgeRun {
    Open(EdgeColumns),
    /// With the links already closed in this run: the first close of a link wins, as when
    /// applied one by one.
    Close(EdgeColumns, HashSet<(&'static str, i64, &'static str, i64)>),
}

/// Groups the edge operations into runs that one statement each can apply, keeping their order.
fn edge_runs(
    s: &Slice,
    ids: &Ids,
    when: &HashMap<Uuid, (i64, i64)>,
) -> Result<Vec<EdgeRun>, StoreError> {
    let mut runs: Vec<EdgeRun> = Vec::new();
    for op in &s.edges {
        let (parent, child, event, opens) = match op {
            EdgeOp::Open {
                parent,
                child,
                event,
                ..
            } => (parent, child, event, true),
            EdgeOp::Close {
                parent,
                child,
                event,
            } => (parent, child, event, false),
        };
        let (pt, pid) = node_ids(ids, parent)?;
        let (ct, cid) = node_ids(ids, child)?;
        let (seq, time) = when.get(event).copied().ok_or_else(|| {
            StoreError::Database(format!("edge names event {event} outside the batch"))
        })?;
        match (runs.last(), opens) {
            (Some(EdgeRun::Open(_)), true) | (Some(EdgeRun::Close(..)), false) => {}
            (_, true) => runs.push(EdgeRun::Open(EdgeColumns::default())),
            (_, false) => runs.push(EdgeRun::Close(EdgeColumns::default(), HashSet::new())),
        }
        let (cols, kind, quantity) = match (runs.last_mut(), op) {
            (Some(EdgeRun::Open(cols)), EdgeOp::Open { kind, quantity, .. }) => {
                (cols, kind.as_str(), quantity.map(|q| q.millis()))
            }
            (Some(EdgeRun::Close(cols, closed)), EdgeOp::Close { .. }) => {
                if !closed.insert((pt, pid, ct, cid)) {
                    continue;
                }
                (cols, "", None)
            }
            _ => continue,
        };
        cols.parent_types.push(pt);
        cols.parent_ids.push(pid);
        cols.child_types.push(ct);
        cols.child_ids.push(cid);
        cols.kinds.push(kind);
        cols.quantities.push(quantity);
        cols.seqs.push(seq);
        cols.times.push(time);
    }
    Ok(runs)
}

/// Stage two of the write-back: everything that needs the ids of stage one.
async fn write_changes(
    tx: &Transaction<'_>,
    s: &Slice,
    ids: &Ids,
    events: &[Event],
    positions: &[i64],
    when: &HashMap<Uuid, (i64, i64)>,
    written: &Written<'_>,
) -> Result<(), StoreError> {
    // Units: every changed one in full, but those just inserted whole.
    let (
        mut u_ids,
        mut u_status,
        mut u_holds,
        mut u_loc,
        mut u_cust,
        mut u_lot,
        mut u_parent,
        mut u_attrs,
    ) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for key in &s.dirty_items {
        let Some(Some(st)) = s.items.get(key) else {
            continue;
        };
        if written.whole.contains(key) {
            continue;
        }
        let parent_id = st.parent.as_ref().and_then(|p| ids.items.get(p).copied());
        u_ids.push(
            *ids.items
                .get(key)
                .ok_or_else(|| StoreError::Database(format!("no id for item {key}")))?,
        );
        u_status.push(st.status.as_str());
        u_holds.push(i16::from(st.holds));
        u_loc.push(st.location.as_ref().map(|l| l.as_str()));
        u_cust.push(st.custodian.as_deref());
        u_lot.push(st.lot.as_ref().map(|l| l.as_str()));
        u_parent.push(parent_id);
        u_attrs.push(attributes_text(st)?);
    }
    let (mut l_ids, mut l_prod, mut l_exp, mut l_holds) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for key in &s.dirty_lots {
        let Some(Some(l)) = s.lots.get(key) else {
            continue;
        };
        l_ids.push(
            *ids.lots
                .get(key)
                .ok_or_else(|| StoreError::Database(format!("no id for lot {key}")))?,
        );
        l_prod.push(l.production_date.map(|d| d.to_string()));
        l_exp.push(l.expiry_date.map(|d| d.to_string()));
        l_holds.push(i16::from(l.holds));
    }
    let (mut gone_lots, mut gone_locs, mut st_lots, mut st_locs, mut st_qty) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for key in &s.dirty_stock {
        let lot_id = *ids
            .lots
            .get(&key.0)
            .ok_or_else(|| StoreError::Database(format!("no id for lot {}", key.0)))?;
        let q = s.stock.get(key).copied().unwrap_or_default();
        if q.millis() == 0 {
            gone_lots.push(lot_id);
            gone_locs.push(key.1.as_str());
        } else {
            st_lots.push(lot_id);
            st_locs.push(key.1.as_str());
            st_qty.push(q.millis());
        }
    }
    let (mut ei_ids, mut ei_seqs, mut ei_roles) = (Vec::new(), Vec::new(), Vec::new());
    let (mut el_ids, mut el_seqs, mut el_roles, mut el_qty) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Each index row once, the first time it is named (see `EventRows::of`).
    let (mut seen_items, mut seen_lots) = (HashSet::new(), HashSet::new());
    for (ev, seq) in events.iter().zip(positions) {
        for (key, role) in ev.item_refs() {
            if let Some(id) = ids.items.get(key)
                && seen_items.insert((*id, *seq, role.code()))
            {
                ei_ids.push(*id);
                ei_seqs.push(*seq);
                ei_roles.push(role.code());
            }
        }
        for (q, role) in ev.lot_refs() {
            if let Some(id) = ids.lots.get(&q.key())
                && seen_lots.insert((*id, *seq, role.code()))
            {
                el_ids.push(*id);
                el_seqs.push(*seq);
                el_roles.push(role.code());
                // An unstated quantity (a partner's) is indexed as 0: the column is not read.
                el_qty.push(q.quantity.map_or(0, |x| x.millis()));
            }
        }
    }
    let runs = edge_runs(s, ids, when)?;
    // Many unit index rows (an allocation block's, a batch of commissionings') are copied in.
    let copied = if ei_ids.len() >= MANY_UNITS {
        let mut rows = CopyRows::new(&EVENT_ITEM_TYPES, ei_ids.len());
        for ((id, seq), role) in ei_ids.iter().zip(&ei_seqs).zip(&ei_roles) {
            rows.push(&[id, seq, role])?;
        }
        Some(rows.finish())
    } else {
        None
    };

    let (q_items, q_lots, q_gone, q_stock, q_ei, q_el, q_open, q_close) = tokio::try_join!(
        tx.prepare_cached(UPDATE_ITEMS),
        tx.prepare_cached(UPDATE_LOTS),
        tx.prepare_cached(DELETE_STOCK),
        tx.prepare_cached(UPSERT_STOCK),
        tx.prepare_cached(if copied.is_some() {
            COPY_EVENT_ITEMS
        } else {
            INSERT_EVENT_ITEMS
        }),
        tx.prepare_cached(INSERT_EVENT_LOTS),
        tx.prepare_cached(OPEN_EDGES),
        tx.prepare_cached(CLOSE_EDGES),
    )
    .map_err(db)?;
    tokio::try_join!(
        biased;
        simple_unless(tx, !written.savepoint, "RELEASE SAVEPOINT many_units"),
        plan(tx, Plans::Custom),
        execute_unless(tx, u_ids.is_empty(), &q_items, [&u_ids, &u_status, &u_holds, &u_loc, &u_cust, &u_lot, &u_parent, &u_attrs]),
        execute_unless(tx, l_ids.is_empty(), &q_lots, [&l_ids, &l_prod, &l_exp, &l_holds]),
        execute_unless(tx, gone_lots.is_empty(), &q_gone, [&gone_lots, &gone_locs]),
        execute_unless(tx, st_lots.is_empty(), &q_stock, [&st_lots, &st_locs, &st_qty]),
        async {
            match copied {
                Some(rows) => copy_in(tx, &q_ei, rows).await,
                None => execute_unless(tx, ei_ids.is_empty(), &q_ei, [&ei_ids, &ei_seqs, &ei_roles]).await,
            }
        },
        execute_unless(tx, el_ids.is_empty(), &q_el, [&el_ids, &el_seqs, &el_roles, &el_qty]),
        async {
            // Runs depend on one another (a link opened, then closed), so one after another.
            for run in &runs {
                match run {
                    EdgeRun::Open(e) => {
                        let params: [&(dyn ToSql + Sync); 8] =
                            [&e.parent_types, &e.parent_ids, &e.child_types, &e.child_ids, &e.kinds, &e.quantities, &e.seqs, &e.times];
                        tx.execute(&q_open, &params).await?;
                    }
                    EdgeRun::Close(e, _) => {
                        let params: [&(dyn ToSql + Sync); 6] =
                            [&e.parent_types, &e.parent_ids, &e.child_types, &e.child_ids, &e.seqs, &e.times];
                        tx.execute(&q_close, &params).await?;
                    }
                }
            }
            Ok::<u64, tokio_postgres::Error>(0)
        },
    )
    .map_err(db)?;
    Ok(())
}

/// Checks and applies `events`. With `head` (capture) the events are appended to the ledger
/// after it; without (rebuild) `seqs` gives their existing ledger positions.
/// For each correction in the batch, what the events recorded after the event it corrects
/// set on the units it may reach (their timelines from there: [`crate::read::timeline_after`]).
async fn weigh_corrections(
    tx: &Transaction<'_>,
    s: &mut Slice,
    events: &[Event],
) -> Result<(), StoreError> {
    for (corrected, unit) in s.corrections_to_weigh(events) {
        let row = tx
            .query_opt("SELECT seq FROM events WHERE event_id = $1", &[&corrected])
            .await
            .map_err(db)?;
        let Some(row) = row else { continue };
        let seq: i64 = col(&row, 0)?;
        let later = crate::read::timeline_after(tx, &unit, seq).await?;
        s.note_later(
            corrected,
            unit,
            later.iter().map(|e| (&e.event, e.via.is_some())),
        );
    }
    Ok(())
}

pub(crate) async fn project_events(
    tx: &Transaction<'_>,
    events: &mut [Event],
    head: Option<&mut Head>,
    seqs: &[i64],
    prefix_index: bool,
) -> Result<Vec<Receipt>, StoreError> {
    // The batch's own event ids are not looked up: the ledger's unique key refuses one that is
    // already recorded (`duplicate_event`, naming the entry), and the slice refuses one repeated
    // within the batch — as on SQLite.
    if head.is_some() {
        // An EPCIS event captured before is a duplicate, whatever else it would break.
        let keys = threadline_store::epcis::batch_keys(events)?;
        if !keys.is_empty() {
            let texts: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
            let found = tx
                .query(
                    "SELECT k.d FROM unnest($1::text[]) AS k(d) JOIN events e ON e.dedup = k.d LIMIT 1",
                    &[&texts],
                )
                .await
                .map_err(db)?;
            if let Some(r) = found.first() {
                let k: String = col(r, 0)?;
                if let Some((_, ev)) = keys.iter().find(|(x, _)| *x == k) {
                    return Err(threadline_store::epcis::duplicate(ev));
                }
            }
        }
    }
    let needs = Needs::of(events);
    let mut ids = Ids::default();
    let mut slice = load(tx, &needs, &mut ids).await?;
    weigh_corrections(tx, &mut slice, events).await?;
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
    let mut rows = LedgerRows::default();
    let positions: Vec<i64> = match &head {
        Some(h) => {
            let mut h: Head = **h;
            for (ev, body) in events.iter().zip(bodies) {
                receipts.push(rows.push_body(&mut h, EntryRef::Event(ev), body));
            }
            rows.seqs.clone()
        }
        None => seqs.to_vec(),
    };
    let new_head = match head {
        Some(h) => {
            if let (Some(seq), Some(hash)) = (rows.seqs.last(), rows.hashes.last()) {
                *h = (*seq, *hash);
            }
            Some(*h)
        }
        None => None,
    };
    let when: HashMap<Uuid, (i64, i64)> = events
        .iter()
        .zip(&positions)
        .map(|(ev, seq)| (ev.id, (*seq, micros(ev.event_time))))
        .collect();
    let index = EventRows::of(events, &positions);
    let written = write_new(
        tx,
        &slice,
        &mut ids,
        new_head.as_ref().map(|h| (&rows, h)),
        &index,
        events,
        prefix_index,
    )
    .await?;
    write_changes(tx, &slice, &ids, events, &positions, &when, &written).await?;
    if !slice.discrepancies.is_empty() {
        // What the batch's EPCIS captures disagreed with, at their events' positions.
        let (mut seqs, mut ns, mut codes, mut fields, mut messages, mut kinds) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let mut n: HashMap<i64, i32> = HashMap::new();
        for (id, d) in &slice.discrepancies {
            let Some((seq, _)) = when.get(id) else {
                continue;
            };
            let k = n.entry(*seq).or_default();
            seqs.push(*seq);
            ns.push(*k);
            *k += 1;
            codes.push(d.code.as_str());
            fields.push(d.field.as_str());
            messages.push(d.message.as_str());
            kinds.push(d.kind.as_str());
        }
        tx.execute(
            "INSERT INTO discrepancies (seq, n, code, field, message, kind)
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])",
            &[&seqs, &ns, &codes, &fields, &messages, &kinds],
        )
        .await
        .map_err(db)?;
    }
    if !slice.dirty_counters.is_empty() {
        let scopes: Vec<&str> = slice.dirty_counters.iter().map(String::as_str).collect();
        let nexts: Vec<i64> = slice
            .dirty_counters
            .iter()
            .map(|k| i64::try_from(slice.counters.get(k).copied().unwrap_or(0)).unwrap_or(i64::MAX))
            .collect();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO serial_counters (scope, next) SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT (scope) DO UPDATE SET next = excluded.next",
            )
            .await
            .map_err(db)?;
        tx.execute(&stmt, &[&scopes, &nexts]).await.map_err(db)?;
    }
    Ok(receipts)
}

/// Holds bits → kinds.
pub(crate) fn holds_of(bits: i64) -> Vec<HoldKind> {
    HoldKind::ALL
        .into_iter()
        .filter(|k| bits & i64::from(k.bit()) != 0)
        .collect()
}
