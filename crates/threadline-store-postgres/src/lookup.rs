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

/// The direct genealogy links of a node.
pub(crate) async fn links(
    c: &ClientWrapper,
    node: &threadline_domain::projection::Node,
    direction: threadline_store::Direction,
) -> Result<Vec<threadline_store::Link>, StoreError> {
    use threadline_domain::codes::LotKey;
    use threadline_domain::projection::Node;
    let (kind, product, code, sql) = match node {
        Node::Item(k) => (
            "i",
            k.product.as_str(),
            k.serial.as_str(),
            "SELECT i.id FROM items i JOIN products p ON p.id = i.product_id WHERE p.code = $1 AND i.serial = $2",
        ),
        Node::Lot(k) => (
            "l",
            k.product.as_str(),
            k.lot.as_str(),
            "SELECT l.id FROM lots l JOIN products p ON p.id = l.product_id WHERE p.code = $1 AND l.code = $2",
        ),
    };
    if !storable(product) || !storable(code) {
        return Ok(Vec::new());
    }
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    let Some(r) = c.query_opt(&stmt, &[&product, &code]).await.map_err(db)? else {
        return Ok(Vec::new());
    };
    let id: i64 = col(&r, 0)?;
    let (me, other) = match direction {
        threadline_store::Direction::Children => ("parent", "child"),
        threadline_store::Direction::Parents => ("child", "parent"),
    };
    let sql = format!(
        "SELECT g.kind, g.quantity, g.from_time, g.to_time, g.{other}_type, ip.code, i.serial, lp.code, l.code
         FROM genealogy g
         LEFT JOIN items i ON g.{other}_type = 'i' AND i.id = g.{other}_id LEFT JOIN products ip ON ip.id = i.product_id
         LEFT JOIN lots l ON g.{other}_type = 'l' AND l.id = g.{other}_id LEFT JOIN products lp ON lp.id = l.product_id
         WHERE g.{me}_type = $1 AND g.{me}_id = $2 ORDER BY g.from_seq"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(db)?;
    let mut out = Vec::new();
    for r in c.query(&stmt, &[&kind, &id]).await.map_err(db)? {
        let other_type: String = col(&r, 4)?;
        let schema = |e: threadline_domain::FieldError| StoreError::Schema(e.message);
        let node = if other_type == "i" {
            let (p, s): (String, String) = (col(&r, 5)?, col(&r, 6)?);
            Node::Item(ItemKey {
                product: ProductCode::parse(&p).map_err(schema)?,
                serial: Serial::parse(&s).map_err(schema)?,
            })
        } else {
            let (p, l): (String, String) = (col(&r, 7)?, col(&r, 8)?);
            Node::Lot(LotKey {
                product: ProductCode::parse(&p).map_err(schema)?,
                lot: threadline_domain::LotCode::parse(&l).map_err(schema)?,
            })
        };
        out.push(threadline_store::Link {
            node,
            kind: col(&r, 0)?,
            quantity: col::<Option<i64>>(&r, 1)?.map(threadline_domain::Quantity::from_millis),
            from_time: from_micros(col(&r, 2)?),
            to_time: col::<Option<i64>>(&r, 3)?.map(from_micros),
        });
    }
    Ok(out)
}

/// The starting nodes of a walk, from three parallel arrays: type (`i`/`l`), product, serial
/// or lot.
const REACH_SEED: &str = "SELECT 'i'::text COLLATE \"C\" AS t, i.id AS id
       FROM unnest($1::text[], $2::text[], $3::text[]) AS s(t, product, code)
       JOIN products p ON p.code = s.product
       JOIN items i ON i.product_id = p.id AND i.serial = s.code
       WHERE s.t = 'i'
     UNION
     SELECT 'l'::text COLLATE \"C\", l.id
       FROM unnest($1::text[], $2::text[], $3::text[]) AS s(t, product, code)
       JOIN products p ON p.code = s.product
       JOIN lots l ON l.product_id = p.id AND l.code = s.code
       WHERE s.t = 'l'";

/// Runs the walk and sends its rows in chunks as they arrive; stops early if the receiver is
/// gone. One statement: one snapshot.
pub(crate) async fn reach(
    c: &ClientWrapper,
    roots: &[threadline_domain::projection::Node],
    direction: threadline_store::Direction,
    as_of: i64,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<threadline_store::Reached>, StoreError>>,
) -> Result<(), StoreError> {
    use futures_util::StreamExt;
    use threadline_domain::projection::Node;
    let (mut types, mut products, mut codes) = (Vec::new(), Vec::new(), Vec::new());
    for n in roots {
        let (t, p, code) = match n {
            Node::Item(k) => ("i", k.product.as_str(), k.serial.as_str()),
            Node::Lot(k) => ("l", k.product.as_str(), k.lot.as_str()),
        };
        if storable(p) && storable(code) {
            types.push(t);
            products.push(p);
            codes.push(code);
        }
    }
    let sql = threadline_store::query::reach_sql(
        direction,
        REACH_SEED,
        4,
        threadline_store::query::Dialect {
            placeholder: |n| format!("${n}"),
            null_text: "NULL::text COLLATE \"C\"",
            null_int: "NULL::bigint",
            step_order: "",
            final_order: "ORDER BY r.depth, r.fs, r.t, r.id",
        },
    );
    let stmt = c.prepare_cached(&sql).await.map_err(db)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&types, &products, &codes, &as_of];
    let rows = c.query_raw(&stmt, params).await.map_err(db)?;
    let mut rows = std::pin::pin!(rows);
    let mut chunk = Vec::with_capacity(threadline_store::REACH_CHUNK);
    let mut walk = threadline_store::Walk::default();
    while let Some(r) = rows.next().await {
        let r = r.map_err(db)?;
        let raw = threadline_store::RawReached {
            depth: i64::from(col::<i32>(&r, 0)?),
            node_type: col(&r, 1)?,
            product: col(&r, 2)?,
            code: col(&r, 3)?,
            via_type: col(&r, 4)?,
            via_id: col(&r, 5)?,
            kind: col(&r, 6)?,
            quantity: col(&r, 7)?,
            from_time: col(&r, 8)?,
            removed_time: col(&r, 9)?,
            status: col(&r, 10)?,
            holds: col::<Option<i16>>(&r, 11)?.map(i64::from),
            location: col(&r, 12)?,
            custodian: col(&r, 13)?,
            lot: col(&r, 14)?,
            parent_product: col(&r, 15)?,
            parent_serial: col(&r, 16)?,
            id: col(&r, 17)?,
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
            if tx.send(Ok(full)).await.is_err() {
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk)).await;
    }
    Ok(())
}
