//! Master-data writes: a ledger entry plus the upsert of its projection row.

use rusqlite::{OptionalExtension, Transaction, params};
use threadline_domain::error::FieldError;
use threadline_domain::ledger::{EntryRef, MasterChange};
use threadline_domain::master::{LocationKind, MasterRecord, PartyKind};
use threadline_store::master::{MasterLookup, check, next_version};
use threadline_store::{MasterWrite, Receipt, StoreError};

use crate::capture::{append, head, set_head};
use crate::{db, micros};

struct Lookup<'a>(&'a Transaction<'a>);

fn kind_of<T: serde::de::DeserializeOwned>(
    tx: &Transaction,
    sql: &str,
    code: &str,
) -> Result<Option<T>, StoreError> {
    let k: Option<String> = tx
        .query_row(sql, [code], |r| r.get(0))
        .optional()
        .map_err(db)?;
    k.map(|k| {
        serde_json::from_value(serde_json::Value::String(k))
            .map_err(|e| StoreError::Schema(e.to_string()))
    })
    .transpose()
}

impl MasterLookup for Lookup<'_> {
    fn location_kind(&mut self, code: &str) -> Result<Option<LocationKind>, StoreError> {
        kind_of(self.0, "SELECT kind FROM locations WHERE code = ?1", code)
    }
    fn party_kind(&mut self, code: &str) -> Result<Option<PartyKind>, StoreError> {
        kind_of(self.0, "SELECT kind FROM parties WHERE code = ?1", code)
    }
    fn gtin_owner(&mut self, gtin: &str) -> Result<Option<String>, StoreError> {
        self.0
            .query_row("SELECT code FROM products WHERE gtin = ?1", [gtin], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)
    }
    fn serial_rule_exists(&mut self, code: &str) -> Result<bool, StoreError> {
        self.0
            .query_row("SELECT 1 FROM serial_rules WHERE code = ?1", [code], |_| {
                Ok(())
            })
            .optional()
            .map(|r| r.is_some())
            .map_err(db)
    }
    fn category_rule(&mut self, category: &str) -> Result<Option<String>, StoreError> {
        self.0
            .query_row(
                "SELECT rule FROM serial_rule_categories WHERE category = ?1",
                [category],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
    }
}

pub(crate) fn table(record: &MasterRecord) -> &'static str {
    match record {
        MasterRecord::Product(_) => "products",
        MasterRecord::Party(_) => "parties",
        MasterRecord::Location(_) => "locations",
        MasterRecord::Process(_) => "processes",
        MasterRecord::SerialRule(_) => "serial_rules",
    }
}

/// Checks and records a master write.
pub(crate) fn put(tx: &Transaction, w: MasterWrite) -> Result<Receipt, StoreError> {
    let table = table(&w.record);
    let code = w.record.code().to_owned();
    let current: Option<(u32, String)> = tx
        .query_row(
            &format!("SELECT version, def FROM {table} WHERE code = ?1"),
            [&code],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let version = next_version(&w, current.as_ref().map(|(v, def)| (*v, def.as_str())))?;
    check(&w.record, &mut Lookup(tx))?;
    let change = MasterChange {
        id: w.id,
        recorded_at: w.now,
        actor: w.actor,
        version,
        record: w.record,
    };
    let mut h = head(tx)?;
    let receipt = append(tx, &mut h, EntryRef::Master(&change))?;
    set_head(tx, &h)?;
    project(tx, &change)?;
    Ok(receipt)
}

/// Writes a master change into its projection table.
pub(crate) fn project(tx: &Transaction, c: &MasterChange) -> Result<(), StoreError> {
    let at = micros(c.recorded_at);
    match &c.record {
        MasterRecord::Product(p) => {
            let def = serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?;
            tx.execute(
                "INSERT INTO products (code, name, tracking, gtin, version, updated_at, def) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, tracking = excluded.tracking, gtin = excluded.gtin,
                   version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                params![p.code.as_str(), p.name, p.tracking.as_str(), p.gtin.as_ref().map(|g| g.as_str()), c.version, at, def],
            )
        }
        MasterRecord::Party(p) => {
            let def = serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?;
            tx.execute(
                "INSERT INTO parties (code, name, kind, version, updated_at, def) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                   version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                params![p.code.as_str(), p.name, p.kind.as_str(), c.version, at, def],
            )
        }
        MasterRecord::Location(l) => {
            let def = serde_json::to_string(l).map_err(|e| StoreError::Database(e.to_string()))?;
            tx.execute(
                "INSERT INTO locations (code, name, kind, parent, version, updated_at, def) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, parent = excluded.parent,
                   version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                params![l.code.as_str(), l.name, l.kind.as_str(), l.parent.as_ref().map(|p| p.as_str()), c.version, at, def],
            )
        }
        MasterRecord::Process(p) => {
            let def = serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?;
            tx.execute(
                "INSERT INTO processes (code, version, updated_at, def) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (code) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, def = excluded.def",
                params![c.record.code(), c.version, at, def],
            )
        }
        MasterRecord::SerialRule(r) => {
            let def = serde_json::to_string(r).map_err(|e| StoreError::Database(e.to_string()))?;
            tx.execute(
                "INSERT INTO serial_rules (code, name, version, updated_at, def) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, version = excluded.version,
                   updated_at = excluded.updated_at, def = excluded.def",
                params![r.code(), r.name, c.version, at, def],
            )
            .and_then(|_| tx.execute("DELETE FROM serial_rule_categories WHERE rule = ?1", [r.code()]))
            .and_then(|_| {
                let mut stmt = tx.prepare_cached("INSERT INTO serial_rule_categories (category, rule) VALUES (?1, ?2)")?;
                for category in &r.categories {
                    stmt.execute([category.as_str(), r.code()])?;
                }
                Ok(0)
            })
        }
    }
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            StoreError::Conflict(FieldError::new("duplicate", format!("{} {} conflicts with an existing record", c.record.kind(), c.record.code())))
        }
        _ => db(e),
    })?;
    Ok(())
}
