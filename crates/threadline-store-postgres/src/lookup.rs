//! Lookups that resolve what a scanner sends: a product by GTIN, units by serial alone.

use deadpool_postgres::ClientWrapper;
use threadline_domain::codes::ItemKey;
use threadline_domain::master::Product;
use threadline_domain::{ProductCode, Serial};
use threadline_store::{StoreError, Versioned};

use crate::{col, db, from_micros, storable};

pub(crate) async fn product_by_gtin(
    c: &ClientWrapper,
    gtin: &str,
) -> Result<Option<Versioned<Product>>, StoreError> {
    if !storable(gtin) {
        return Ok(None);
    }
    let stmt = c
        .prepare_cached("SELECT def, version, updated_at FROM products WHERE gtin = $1")
        .await
        .map_err(db)?;
    let Some(r) = c.query_opt(&stmt, &[&gtin]).await.map_err(db)? else {
        return Ok(None);
    };
    let def: String = col(&r, 0)?;
    let version: i64 = col(&r, 1)?;
    let updated_at: i64 = col(&r, 2)?;
    Ok(Some(Versioned {
        def: serde_json::from_str(&def).map_err(|e| StoreError::Schema(e.to_string()))?,
        version: u32::try_from(version).map_err(|e| StoreError::Schema(e.to_string()))?,
        updated_at: from_micros(updated_at),
    }))
}

pub(crate) async fn items_by_serial(
    c: &ClientWrapper,
    serial: &str,
    limit: u32,
) -> Result<Vec<ItemKey>, StoreError> {
    if !storable(serial) {
        return Ok(Vec::new());
    }
    let stmt = c
        .prepare_cached(
            "SELECT p.code, i.serial FROM items i JOIN products p ON p.id = i.product_id
             WHERE i.serial = $1 ORDER BY p.code LIMIT $2",
        )
        .await
        .map_err(db)?;
    let rows = c
        .query(&stmt, &[&serial, &i64::from(limit.clamp(1, 1000))])
        .await
        .map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let p: String = col(&r, 0)?;
        let s: String = col(&r, 1)?;
        out.push(ItemKey {
            product: ProductCode::parse(&p).map_err(|e| StoreError::Schema(e.message))?,
            serial: Serial::parse(&s).map_err(|e| StoreError::Schema(e.message))?,
        });
    }
    Ok(out)
}

pub(crate) async fn counter(c: &ClientWrapper, scope: &str) -> Result<Option<u64>, StoreError> {
    if !storable(scope) {
        return Ok(None);
    }
    let stmt = c
        .prepare_cached("SELECT next FROM serial_counters WHERE scope = $1")
        .await
        .map_err(db)?;
    let Some(r) = c.query_opt(&stmt, &[&scope]).await.map_err(db)? else {
        return Ok(None);
    };
    let next: i64 = col(&r, 0)?;
    u64::try_from(next)
        .map(Some)
        .map_err(|e| StoreError::Schema(e.to_string()))
}
