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

/// The columns of a walk's row (those of [`threadline_store::RawReached`]) for the nodes of
/// `level` — `(depth, t, id, vt, vid, kind, qty, ft, tt, fs)` —, in the order of the recursive
/// walk's rows within a depth.
fn level_rows(level: &str) -> String {
    use threadline_store::query::{INSIDE_COLUMNS, INSIDE_JOINS};
    format!(
        "SELECT r.depth, r.t, p.code, COALESCE(i.serial, l.code),
                r.vt, r.vid, r.kind, r.qty, r.ft, r.tt,
                i.status, COALESCE(i.holds, l.holds), i.location, i.custodian, i.lot, pp.code, pi.serial,
                r.id, {INSIDE_COLUMNS}
         FROM ({level}) r
         LEFT JOIN items i ON r.t = 'i' AND i.id = r.id
         LEFT JOIN lots l ON r.t = 'l' AND l.id = r.id
         LEFT JOIN products p ON p.id = COALESCE(i.product_id, l.product_id)
         {INSIDE_JOINS}
         ORDER BY r.fs, r.t, r.id"
    )
}

/// One level of the walk: the links from the nodes of the level before (unit ids `$1`, lot
/// ids `$2`) that held at `$3`, at depth `$4`. Backward, a link that ended by `$3` is listed
/// with its end (and not followed: the caller leaves it out of the next level). The nodes are
/// joined as a table (`unnest`: planned for a wide level's length without planning each id),
/// or — `by_value` — compared as arrays (`= ANY`), which lets a custom plan read each id's own
/// statistics: a lot's ten ids may reach half a million units, which the column's most common
/// values tell the planner and a joined table does not.
fn step_sql(direction: threadline_store::Direction, by_value: bool) -> String {
    let (me, other, still_held) = match direction {
        threadline_store::Direction::Parents => (
            "child",
            "parent",
            " AND (g.to_time IS NULL OR g.to_time > $3)",
        ),
        threadline_store::Direction::Children => ("parent", "child", ""),
    };
    let from = if by_value {
        format!(
            "FROM genealogy g
             WHERE ((g.{me}_type = 'i' AND g.{me}_id = ANY($1::bigint[]))
                    OR (g.{me}_type = 'l' AND g.{me}_id = ANY($2::bigint[])))
               AND g.from_time <= $3{still_held}"
        )
    } else {
        format!(
            "FROM (SELECT 'i'::text COLLATE \"C\" AS t, u.id FROM unnest($1::bigint[]) AS u(id)
                   UNION ALL
                   SELECT 'l'::text COLLATE \"C\", u.id FROM unnest($2::bigint[]) AS u(id)) n
             JOIN genealogy g ON g.{me}_type = n.t AND g.{me}_id = n.id
             WHERE g.from_time <= $3{still_held}"
        )
    };
    level_rows(&format!(
        "SELECT $4::int AS depth, g.{other}_type AS t, g.{other}_id AS id, g.{me}_type AS vt,
                g.{me}_id AS vid, g.kind, g.quantity AS qty, g.from_time AS ft,
                CASE WHEN g.to_time <= $3 THEN g.to_time END AS tt, g.from_seq AS fs
         {from}"
    ))
}

/// How many nodes make a level wide enough to be planned for its own arrays.
const WIDE_LEVEL: usize = 1_000;

/// Walks the genealogy a level at a time and sends its rows in chunks as they arrive; stops
/// early if the receiver is gone. Each level is one statement with the level's node ids as
/// arrays: backward, a narrow level runs the statement's generic plan (index probes); forward,
/// a narrow level compares its ids as arrays on a custom plan (`step_sql`'s `by_value`: the
/// planner reads how many units each lot reached); a level of more than [`WIDE_LEVEL`] nodes
/// — and every one after it — is planned for its arrays joined as a table (half a million ids
/// join by hash); the statements share one REPEATABLE READ snapshot. The rows are those of [`threadline_store::query::reach_sql`] (SQLite's one
/// recursive statement), in the same order: a node is followed once, at its first depth — a
/// second path to it adds only rows [`threadline_store::Walk`] leaves out.
///
/// The stream ends when the last rows are sent, before the transaction's `COMMIT` (it is read
/// only: it has nothing to keep), so the reader does not wait for that round trip.
pub(crate) async fn reach(
    mut client: deadpool_postgres::Object,
    roots: Vec<threadline_domain::projection::Node>,
    direction: threadline_store::Direction,
    as_of: i64,
    tx: ReachSender,
) {
    let t = match client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
    {
        Ok(t) => t,
        Err(e) => {
            let _ = tx.send(Err(db(e))).await;
            return;
        }
    };
    match walk(&t, &roots, direction, as_of, &tx).await {
        // Dropped, the transaction rolls back.
        Err(e) => {
            let _ = tx.send(Err(e)).await;
        }
        Ok(()) => {
            drop(tx);
            if let Err(e) = t.commit().await {
                tracing::warn!(error = %e, "ending a trace's read-only transaction failed");
            }
        }
    }
}

/// Where [`reach`] sends its rows.
type ReachSender = tokio::sync::mpsc::Sender<Result<Vec<threadline_store::Reached>, StoreError>>;

/// [`reach`]'s levels, read in the transaction `t`.
async fn walk(
    t: &deadpool_postgres::Transaction<'_>,
    roots: &[threadline_domain::projection::Node],
    direction: threadline_store::Direction,
    as_of: i64,
    tx: &ReachSender,
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
    // JIT compiling a level's plan costs more than it saves (the sessions have it off unless
    // the URL turned it on). A level of a few nodes — every level of one unit's trace — runs
    // the statement's generic plan (index probes), planned once per connection: planned for
    // its arrays each time, its bind took 0.8–1.2 ms a level at 10 M events for 0.1 ms of
    // work. A wide level is planned for its arrays, and so is every level after it.
    //
    // Forward, a narrow level compares its ids as arrays on a custom plan instead: one lot's
    // few ids may reach half a million units, which only the ids' own statistics say — on
    // the generic plan that level probed `items` row by row (3.4 s against 1.3 s hashed, at
    // 500,000 units). Planning it costs about a millisecond a level; the backward trace, the
    // one read while someone waits at a scanner, keeps the cached plan.
    let forward = direction == threadline_store::Direction::Parents;
    let mut custom = forward;
    let settings = if custom {
        "SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_custom_plan"
    } else {
        "SET LOCAL jit = off; SET LOCAL plan_cache_mode = force_generic_plan"
    };
    let seed = t
        .prepare_cached(&level_rows(&format!(
            "SELECT s.t, s.id, 0 AS depth, NULL::text COLLATE \"C\" AS vt, NULL::bigint AS vid,
                    NULL::text COLLATE \"C\" AS kind, NULL::bigint AS qty, NULL::bigint AS ft,
                    NULL::bigint AS tt, NULL::bigint AS fs
             FROM ({REACH_SEED}) s"
        )))
        .await
        .map_err(db)?;
    let step = t
        .prepare_cached(&step_sql(direction, false))
        .await
        .map_err(db)?;
    let by_value = if forward {
        Some(
            t.prepare_cached(&step_sql(direction, true))
                .await
                .map_err(db)?,
        )
    } else {
        None
    };
    let mut chunk = Vec::with_capacity(threadline_store::REACH_CHUNK);
    let mut walk = threadline_store::Walk::default();
    // Nodes followed already, by kind and row id: each is followed once.
    let mut followed: std::collections::HashSet<(bool, i64)> = std::collections::HashSet::new();
    let (mut units, mut lots): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    for depth in 0..=64i32 {
        let rows = if depth == 0 {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                [&types, &products, &codes];
            // The settings go out with the first level, ahead of it (`biased`: a request is
            // sent when first polled, in that order): they hold for the statements executed
            // after them, whenever those were prepared.
            let (_, rows) =
                tokio::try_join!(biased; t.batch_execute(settings), t.query_raw(&seed, params))
                    .map_err(db)?;
            rows
        } else {
            if units.is_empty() && lots.is_empty() {
                break;
            }
            let wide = units.len() + lots.len() > WIDE_LEVEL;
            if !custom && wide {
                t.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan")
                    .await
                    .map_err(db)?;
                custom = true;
            }
            let statement = match &by_value {
                Some(by_value) if !wide => by_value,
                _ => &step,
            };
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&units, &lots, &as_of, &depth];
            t.query_raw(statement, params).await.map_err(db)?
        };
        let (mut next_units, mut next_lots) = (Vec::new(), Vec::new());
        let mut rows = std::pin::pin!(rows);
        while let Some(r) = rows.next().await {
            let r = r.map_err(db)?;
            let raw = threadline_store::RawReached {
                depth: i64::from(col::<i32>(&r, 0)?),
                node_type: col::<&str>(&r, 1)?,
                product: col::<&str>(&r, 2)?,
                code: col::<&str>(&r, 3)?,
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
                inside: threadline_store::RawInside {
                    status: col(&r, 18)?,
                    location: col(&r, 19)?,
                    custodian: col(&r, 20)?,
                    lot: col(&r, 21)?,
                    parent_product: col(&r, 22)?,
                    parent_serial: col(&r, 23)?,
                },
            };
            // Followed on from here unless the link ended (a part swapped out) or the node
            // was followed from an earlier row; the walk stops at depth 64.
            let unit = raw.node_type == "i";
            if raw.removed_time.is_none() && depth < 64 && followed.insert((unit, raw.id)) {
                if unit {
                    next_units.push(raw.id);
                } else {
                    next_lots.push(raw.id);
                }
            }
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
        (units, lots) = (next_units, next_lots);
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk)).await;
    }
    Ok(())
}
