//! Master-data writes: a ledger entry plus the upsert of its projection row.
//!
//! The shared rules ([`threadline_store::master::check`]) ask their questions through a
//! synchronous [`MasterLookup`]; a record references at most a GTIN, a parent and a party, so
//! those few answers are fetched first (in one pipelined round trip) and the lookup reads them.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use threadline_domain::error::FieldError;
use threadline_domain::ledger::{EntryRef, MasterChange};
use threadline_domain::master::{LocationKind, MasterRecord, PartyKind};
use threadline_store::master::{MasterLookup, check, next_version};
use threadline_store::{MasterWrite, Receipt, StoreError};

use crate::capture::{LedgerRows, lock_head};
use crate::{col, db, is_unique_violation, micros};

pub(crate) fn table(record: &MasterRecord) -> &'static str {
    match record {
        MasterRecord::Product(_) => "products",
        MasterRecord::Party(_) => "parties",
        MasterRecord::Location(_) => "locations",
        MasterRecord::Process(_) => "processes",
        MasterRecord::SerialRule(_) => "serial_rules",
    }
}

/// The answers [`check`] may ask for one record, fetched before it asks.
#[derive(Default)]
struct Prefetched {
    location_kinds: HashMap<String, Option<LocationKind>>,
    party_kinds: HashMap<String, Option<PartyKind>>,
    gtin_owners: HashMap<String, Option<String>>,
    serial_rules: HashMap<String, bool>,
    category_rules: HashMap<String, Option<String>>,
}

fn not_prefetched(what: &str, code: &str) -> StoreError {
    StoreError::Database(format!(
        "master check asked about {what} {code}, which was not fetched"
    ))
}

impl MasterLookup for Prefetched {
    fn location_kind(&mut self, code: &str) -> Result<Option<LocationKind>, StoreError> {
        self.location_kinds
            .get(code)
            .copied()
            .ok_or_else(|| not_prefetched("location", code))
    }
    fn party_kind(&mut self, code: &str) -> Result<Option<PartyKind>, StoreError> {
        self.party_kinds
            .get(code)
            .copied()
            .ok_or_else(|| not_prefetched("party", code))
    }
    fn gtin_owner(&mut self, gtin: &str) -> Result<Option<String>, StoreError> {
        self.gtin_owners
            .get(gtin)
            .cloned()
            .ok_or_else(|| not_prefetched("GTIN", gtin))
    }
    fn serial_rule_exists(&mut self, code: &str) -> Result<bool, StoreError> {
        self.serial_rules
            .get(code)
            .copied()
            .ok_or_else(|| not_prefetched("serial rule", code))
    }
    fn category_rule(&mut self, category: &str) -> Result<Option<String>, StoreError> {
        self.category_rules
            .get(category)
            .cloned()
            .ok_or_else(|| not_prefetched("category", category))
    }
}

fn kind_of<T: serde::de::DeserializeOwned>(k: Option<String>) -> Result<Option<T>, StoreError> {
    k.map(|k| {
        serde_json::from_value(serde_json::Value::String(k))
            .map_err(|e| StoreError::Schema(e.to_string()))
    })
    .transpose()
}

async fn one_text(
    tx: &Transaction<'_>,
    sql: &str,
    key: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let Some(key) = key else { return Ok(None) };
    let stmt = tx.prepare_cached(sql).await.map_err(db)?;
    let row = tx.query_opt(&stmt, &[&key]).await.map_err(db)?;
    row.map(|r| col(&r, 0)).transpose()
}

impl Prefetched {
    async fn load(tx: &Transaction<'_>, record: &MasterRecord) -> Result<Self, StoreError> {
        let (gtin, parent_location, parent_party, party) = match record {
            MasterRecord::Product(p) => (p.gtin.as_ref().map(|g| g.as_str()), None, None, None),
            MasterRecord::Party(p) => (None, None, p.parent.as_ref().map(|c| c.as_str()), None),
            MasterRecord::Location(l) => (
                None,
                l.parent.as_ref().map(|c| c.as_str()),
                None,
                l.party.as_ref().map(|c| c.as_str()),
            ),
            MasterRecord::Process(_) | MasterRecord::SerialRule(_) => (None, None, None, None),
        };
        let (owner, location_kind, parent_kind, party_kind) = tokio::try_join!(
            one_text(tx, "SELECT code FROM products WHERE gtin = $1", gtin),
            one_text(
                tx,
                "SELECT kind FROM locations WHERE code = $1",
                parent_location
            ),
            one_text(tx, "SELECT kind FROM parties WHERE code = $1", parent_party),
            one_text(tx, "SELECT kind FROM parties WHERE code = $1", party),
        )?;
        let mut out = Prefetched::default();
        if let Some(g) = gtin {
            out.gtin_owners.insert(g.to_owned(), owner);
        }
        if let Some(c) = parent_location {
            out.location_kinds
                .insert(c.to_owned(), kind_of(location_kind)?);
        }
        if let Some(c) = parent_party {
            out.party_kinds.insert(c.to_owned(), kind_of(parent_kind)?);
        }
        if let Some(c) = party {
            out.party_kinds.insert(c.to_owned(), kind_of(party_kind)?);
        }
        match record {
            MasterRecord::Product(p) => {
                if let Some(code) = threadline_store::master::rule_reference(p) {
                    let found = one_text(
                        tx,
                        "SELECT code FROM serial_rules WHERE code = $1",
                        Some(code),
                    )
                    .await?;
                    out.serial_rules.insert(code.to_owned(), found.is_some());
                }
            }
            MasterRecord::SerialRule(r) => {
                for category in &r.categories {
                    let owner = one_text(
                        tx,
                        "SELECT rule FROM serial_rule_categories WHERE category = $1",
                        Some(category),
                    )
                    .await?;
                    out.category_rules.insert(category.clone(), owner);
                }
            }
            _ => {}
        }
        Ok(out)
    }
}

/// Checks and records a master write.
pub(crate) async fn put(tx: &Transaction<'_>, w: MasterWrite) -> Result<Receipt, StoreError> {
    let mut head = lock_head(tx).await?;
    let table = table(&w.record);
    let code = w.record.code().to_owned();
    let stmt = tx
        .prepare_cached(&format!("SELECT version, def FROM {table} WHERE code = $1"))
        .await
        .map_err(db)?;
    let current: Option<(u32, String)> = match tx.query_opt(&stmt, &[&code]).await.map_err(db)? {
        Some(r) => {
            let v: i64 = col(&r, 0)?;
            Some((
                u32::try_from(v).map_err(|_| {
                    StoreError::Schema(format!("{} {code} has version {v}", w.record.kind()))
                })?,
                col(&r, 1)?,
            ))
        }
        None => None,
    };
    let version = next_version(&w, current.as_ref().map(|(v, def)| (*v, def.as_str())))?;
    check(&w.record, &mut Prefetched::load(tx, &w.record).await?)?;
    let change = MasterChange {
        id: w.id,
        recorded_at: w.now,
        actor: w.actor,
        version,
        record: w.record,
    };
    let mut rows = LedgerRows::default();
    let receipt = rows.push(&mut head, EntryRef::Master(&change));
    rows.write(tx, &head).await?;
    project(tx, &change).await?;
    Ok(receipt)
}

/// PostgreSQL text cannot hold NUL; the searchable name column gets U+FFFD instead (the
/// definition, which is JSON, keeps the name exactly).
fn searchable(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains('\0') {
        name.replace('\0', "\u{FFFD}").into()
    } else {
        name.into()
    }
}

/// Writes a master change into its projection table.
pub(crate) async fn project(tx: &Transaction<'_>, c: &MasterChange) -> Result<(), StoreError> {
    let at = micros(c.recorded_at);
    let version = i64::from(c.version);
    let to_json =
        |v: Result<String, serde_json::Error>| v.map_err(|e| StoreError::Database(e.to_string()));
    let done = match &c.record {
        MasterRecord::Product(p) => {
            let def = to_json(serde_json::to_string(p))?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO products (code, name, tracking, gtin, version, updated_at, def) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, tracking = excluded.tracking, gtin = excluded.gtin,
                       version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                )
                .await
                .map_err(db)?;
            let gtin = p.gtin.as_ref().map(|g| g.as_str());
            tx.execute(
                &stmt,
                &[
                    &p.code.as_str(),
                    &searchable(&p.name),
                    &p.tracking.as_str(),
                    &gtin,
                    &version,
                    &at,
                    &def,
                ],
            )
            .await
        }
        MasterRecord::Party(p) => {
            let def = to_json(serde_json::to_string(p))?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO parties (code, name, kind, version, updated_at, def) VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                       version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                )
                .await
                .map_err(db)?;
            tx.execute(
                &stmt,
                &[
                    &p.code.as_str(),
                    &searchable(&p.name),
                    &p.kind.as_str(),
                    &version,
                    &at,
                    &def,
                ],
            )
            .await
        }
        MasterRecord::Location(l) => {
            let def = to_json(serde_json::to_string(l))?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO locations (code, name, kind, parent, version, updated_at, def) VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, parent = excluded.parent,
                       version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                )
                .await
                .map_err(db)?;
            let parent = l.parent.as_ref().map(|p| p.as_str());
            tx.execute(
                &stmt,
                &[
                    &l.code.as_str(),
                    &searchable(&l.name),
                    &l.kind.as_str(),
                    &parent,
                    &version,
                    &at,
                    &def,
                ],
            )
            .await
        }
        MasterRecord::Process(p) => {
            let def = to_json(serde_json::to_string(p))?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO processes (code, version, updated_at, def) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (code) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                )
                .await
                .map_err(db)?;
            tx.execute(&stmt, &[&c.record.code(), &version, &at, &def])
                .await
        }
        MasterRecord::SerialRule(r) => {
            let def = to_json(serde_json::to_string(r))?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO serial_rules (code, name, version, updated_at, def) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, version = excluded.version,
                       updated_at = excluded.updated_at, def = excluded.def",
                )
                .await
                .map_err(db)?;
            let code = r.code();
            match tx
                .execute(&stmt, &[&code, &searchable(&r.name), &version, &at, &def])
                .await
            {
                Err(e) => Err(e),
                Ok(_) => {
                    tx.execute(
                        "DELETE FROM serial_rule_categories WHERE rule = $1",
                        &[&code],
                    )
                    .await
                    .map_err(db)?;
                    let categories: Vec<&str> = r.categories.iter().map(String::as_str).collect();
                    tx.execute(
                        "INSERT INTO serial_rule_categories (category, rule) SELECT c, $2 FROM unnest($1::text[]) AS c",
                        &[&categories, &code],
                    )
                    .await
                }
            }
        }
    };
    done.map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(FieldError::new(
                "duplicate",
                format!(
                    "{} {} conflicts with an existing record",
                    c.record.kind(),
                    c.record.code()
                ),
            ))
        } else {
            db(e)
        }
    })?;
    Ok(())
}
