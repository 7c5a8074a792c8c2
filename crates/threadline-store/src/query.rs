//! SQL shared by the engines where their dialects agree, so a filter means the same on both.

use crate::{DiscrepancyQuery, EventQuery};

/// A bound value of a shared statement; each engine turns it into its driver's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
}

/// The event listing for `q`: statement text and its arguments in order. `placeholder(n)` writes
/// the n-th (1-based) placeholder: `?n` for SQLite, `$n` for PostgreSQL. Fetches one row more
/// than the page so the caller knows whether there is a next page.
pub fn events_sql(q: &EventQuery, placeholder: fn(usize) -> String) -> (String, Vec<SqlValue>) {
    let mut args = Vec::new();
    let mut arg = |v: SqlValue| {
        args.push(v);
        placeholder(args.len())
    };
    let mut cond = Vec::new();
    let mut keyed = Vec::new();
    if let Some(k) = &q.item {
        let (a, b) = (
            arg(SqlValue::Text(k.product.to_string())),
            arg(SqlValue::Text(k.serial.to_string())),
        );
        keyed.push(format!(
            "SELECT ei.seq FROM event_items ei JOIN items i ON i.id = ei.item_id JOIN products p ON p.id = i.product_id WHERE p.code = {a} AND i.serial = {b}"
        ));
    }
    if let Some(k) = &q.lot {
        let (a, b) = (
            arg(SqlValue::Text(k.product.to_string())),
            arg(SqlValue::Text(k.lot.to_string())),
        );
        keyed.push(format!(
            "SELECT el.seq FROM event_lots el JOIN lots lo ON lo.id = el.lot_id JOIN products p ON p.id = lo.product_id WHERE p.code = {a} AND lo.code = {b}"
        ));
    }
    let given = keyed.len() == 1 && !q.given.is_empty();
    for sub in keyed {
        if given {
            // The unit or lot, and what named it before a product took its GTIN on. One
            // semi-join: an `OR` of two would scan the events on PostgreSQL. Until a database
            // upgraded with events in its ledger is rebuilt (migration 0029), its index misses
            // what was recorded before; it is not scanned for them.
            let uris: Vec<String> = q
                .given
                .iter()
                .map(|u| arg(SqlValue::Text(u.clone())))
                .collect();
            cond.push(format!(
                "e.seq IN ({sub} UNION SELECT seq FROM event_objects WHERE uri IN ({}))",
                uris.join(", ")
            ));
        } else {
            cond.push(format!("e.seq IN ({sub})"));
        }
    }
    if let Some((t, id)) = &q.biz_transaction {
        let (a, b) = (
            arg(SqlValue::Text(t.clone())),
            arg(SqlValue::Text(id.clone())),
        );
        cond.push(format!(
            "e.seq IN (SELECT seq FROM event_transactions WHERE type = {a} AND tx_id = {b})"
        ));
    }
    if let Some(k) = q.kind {
        cond.push(format!(
            "e.kind = {}",
            arg(SqlValue::Text(k.as_str().to_owned()))
        ));
    }
    if let Some(s) = &q.biz_step {
        cond.push(format!("e.biz_step = {}", arg(SqlValue::Text(s.clone()))));
    }
    if let Some(s) = &q.biz_location {
        cond.push(format!(
            "e.biz_location = {}",
            arg(SqlValue::Text(s.clone()))
        ));
    }
    if let Some(t) = q.from {
        cond.push(format!(
            "e.event_time >= {}",
            arg(SqlValue::Int(t.timestamp_micros()))
        ));
    }
    if let Some(t) = q.to {
        cond.push(format!(
            "e.event_time < {}",
            arg(SqlValue::Int(t.timestamp_micros()))
        ));
    }
    if let Some(id) = &q.epcis_id {
        cond.push(format!("e.epcis_id = {}", arg(SqlValue::Text(id.clone()))));
    }
    match q.declared {
        Some(true) => cond.push("e.declared IS NOT NULL".into()),
        Some(false) => cond.push("e.declared IS NULL".into()),
        None => {}
    }
    if let Some(objects) = &q.objects {
        let mut any = Vec::new();
        for o in objects {
            match o {
                crate::ObjectMatch::Uri(u) => {
                    any.push(format!("uri = {}", arg(SqlValue::Text(u.clone()))));
                }
                crate::ObjectMatch::Prefix(p) => {
                    let (lo, hi) = (
                        arg(SqlValue::Text(p.clone())),
                        arg(SqlValue::Text(format!("{p}\u{10FFFF}"))),
                    );
                    any.push(format!("(uri >= {lo} AND uri < {hi})"));
                }
            }
        }
        if !any.is_empty() {
            // Trusted only once it holds every event (migration 0029, `rebuild`).
            cond.push(format!(
                "(NOT EXISTS (SELECT 1 FROM projection_complete WHERE name = 'event_objects') \
                 OR e.seq IN (SELECT seq FROM event_objects WHERE {}))",
                any.join(" OR ")
            ));
        }
    }
    if let Some(s) = q.after_seq {
        cond.push(format!("e.seq > {}", arg(SqlValue::Int(s))));
    }
    let limit = arg(SqlValue::Int(i64::from(q.limit.clamp(1, 1000)) + 1));
    let mut sql =
        String::from("SELECT l.seq, l.body, l.hash FROM events e JOIN ledger l ON l.seq = e.seq");
    if !cond.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&cond.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY e.seq LIMIT {limit}"));
    (sql, args)
}

/// The discrepancy listing for `q` (`count`: how many it selects instead): statement text and
/// its arguments in order, `placeholder` as for [`events_sql`]. The rows are `seq, n,
/// event_id, event_time, recorded_at, code, field, message, kind`, newest first — the key
/// `(seq, n)` read backwards, so a page stops after its rows —, one more than the page. A code
/// filter reads the index `discrepancies_code` (migration 0033) from its newest end.
pub fn discrepancies_sql(
    q: &DiscrepancyQuery,
    count: bool,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let mut args = Vec::new();
    let mut arg = |v: SqlValue| {
        args.push(v);
        placeholder(args.len())
    };
    let mut cond = Vec::new();
    if let Some(k) = q.kind {
        cond.push(format!(
            "d.kind = {}",
            arg(SqlValue::Text(k.as_str().into()))
        ));
    }
    if !q.codes.is_empty() {
        let codes: Vec<String> = q
            .codes
            .iter()
            .map(|c| arg(SqlValue::Text(c.clone())))
            .collect();
        cond.push(format!("d.code IN ({})", codes.join(", ")));
    }
    if let Some(t) = q.since {
        cond.push(format!(
            "l.recorded_at >= {}",
            arg(SqlValue::Int(t.timestamp_micros()))
        ));
    }
    if let (Some(p), false) = (q.before, count) {
        let (a, b, c) = (
            arg(SqlValue::Int(p.seq)),
            arg(SqlValue::Int(p.seq)),
            arg(SqlValue::Int(p.n)),
        );
        // `n` is a 32-bit integer on PostgreSQL; the bound position is 64-bit.
        cond.push(format!(
            "(d.seq < {a} OR (d.seq = {b} AND CAST(d.n AS BIGINT) < {c}))"
        ));
    }
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    };
    if count {
        return (
            format!("SELECT COUNT(*) FROM discrepancies d JOIN ledger l ON l.seq = d.seq{filter}"),
            args,
        );
    }
    let limit = arg(SqlValue::Int(i64::from(q.limit.clamp(1, 1000)) + 1));
    (
        format!(
            "SELECT d.seq, d.n, e.event_id, e.event_time, l.recorded_at, d.code, d.field, d.message, d.kind \
             FROM discrepancies d JOIN events e ON e.seq = d.seq JOIN ledger l ON l.seq = d.seq{filter} \
             ORDER BY d.seq DESC, d.n DESC LIMIT {limit}"
        ),
        args,
    )
}

/// Lot stock of one product that may be picked (lots not on hold), per location: code,
/// location, quantity (thousandths), expiry date, production date, first event time (µs).
/// Both engines bind `$1` (the product code).
pub const AVAILABLE_LOTS: &str = "SELECT l.code, s.location, s.quantity, l.expiry_date, l.production_date,
       (SELECT MIN(e.event_time) FROM event_lots el JOIN events e ON e.seq = el.seq WHERE el.lot_id = l.id)
     FROM lots l JOIN products p ON p.id = l.product_id JOIN lot_stock s ON s.lot_id = l.id
     WHERE p.code = $1 AND l.holds = 0";

/// Units of one product that may be picked — in stock, not held, not packed: serial,
/// location, first event time (µs). At most 10 000.
pub const AVAILABLE_UNITS: &str = "SELECT i.serial, i.location,
       (SELECT MIN(e.event_time) FROM event_items ei JOIN events e ON e.seq = ei.seq WHERE ei.item_id = i.id)
     FROM items i JOIN products p ON p.id = i.product_id
     WHERE p.code = $1 AND i.status = 'in_stock' AND i.holds = 0 AND i.parent_id IS NULL
     LIMIT 10000";

/// The projection tables `rebuild` empties and refills: everything but the ledger, its head,
/// idempotency keys and identity rows.
pub const PROJECTION_TABLES: &[&str] = &[
    "products",
    "parties",
    "locations",
    "events",
    "items",
    "lots",
    "lot_stock",
    "event_items",
    "event_lots",
    "event_transactions",
    "event_objects",
    "genealogy",
    "discrepancies",
    "serial_counters",
    "processes",
    // Categories first: they reference their rule.
    "serial_rule_categories",
    "serial_rules",
];

/// Marks, after a rebuild, the projections that now hold every event (`projection_complete`,
/// migration 0029): the index of objects recorded as given, which a database upgraded with
/// events in its ledger trusts only once rebuilt.
pub const MARK_COMPLETE: &str =
    "INSERT INTO projection_complete (name) VALUES ('event_objects') ON CONFLICT DO NOTHING";

/// The rows of a unit's timeline ([`crate::timeline`]): the events naming the unit (`$1`
/// product code, `$2` serial) recorded after ledger position `$3`, and the events naming as
/// subject a container that held it — through nested containers — while it did, each row
/// with the event's position, the unit's (or the container's) role, the event's head and unit
/// count, the ledger body where there is no head or the role is parent, the entry's hash,
/// `corrections` (the engine's spelling of the ids of the events correcting `e`, in one
/// column), and the container's product code and serial (NULL for the unit's own rows).
/// Ordered by position, the unit's own rows first, then the nearest container's.
///
/// "While it did" is read from `genealogy` by ledger position, as the projection applied the
/// events: after the packing that opened the link and before the unpacking that closed it
/// (for a nested container, the intersection of the intervals). A container is a unit of a
/// product whose definition says `container` (`is_container`: the engine's test of
/// `cp.def`); parts built into an assembly do not take its steps and are not listed.
///
/// Every join is read from the unit outwards: `CROSS JOIN` fixes SQLite's join order, which
/// without it starts at `genealogy` (SQLite 3.40: every unit link, 0.4 s a passport at 1 M
/// events) or scans `event_items` and `events` whole against a Bloom filter of the few rows
/// wanted (the bundled SQLite 3.50: 2.9 s a passport at 1 M events); PostgreSQL treats it as
/// the inner join it is. With no `sqlite_stat1` SQLite's planner guesses every table's size,
/// and its guesses changed between versions — `tests` pin the plan (`timeline_plan`).
pub fn timeline_sql(p: fn(usize) -> String, corrections: &str, is_container: &str) -> String {
    let (product, serial, after) = (p(1), p(2), p(3));
    format!(
        "WITH RECURSIVE unit(id) AS (
           SELECT i.id FROM items i JOIN products p ON p.id = i.product_id
           WHERE p.code = {product} AND i.serial = {serial}
         ),
         held(id, lo, hi, depth) AS (
           SELECT g.parent_id, g.from_seq, g.to_seq, 1
           FROM unit u CROSS JOIN genealogy g
           JOIN items c ON c.id = g.parent_id JOIN products cp ON cp.id = c.product_id
           WHERE g.child_type = 'i' AND g.child_id = u.id AND g.parent_type = 'i' AND {is_container}
           UNION ALL
           SELECT g.parent_id,
                  CASE WHEN g.from_seq > h.lo THEN g.from_seq ELSE h.lo END,
                  CASE WHEN h.hi IS NULL THEN g.to_seq
                       WHEN g.to_seq IS NULL OR g.to_seq > h.hi THEN h.hi ELSE g.to_seq END,
                  h.depth + 1
           FROM held h CROSS JOIN genealogy g
           JOIN items c ON c.id = g.parent_id JOIN products cp ON cp.id = c.product_id
           WHERE g.child_type = 'i' AND g.child_id = h.id AND g.parent_type = 'i'
             AND h.depth < 32 AND {is_container}
             AND (h.hi IS NULL OR g.from_seq < h.hi) AND (g.to_seq IS NULL OR g.to_seq > h.lo)
         ),
         hits(seq, role, via, depth) AS (
           SELECT ei.seq, ei.role, CAST(NULL AS BIGINT), 0
           FROM unit u JOIN event_items ei ON ei.item_id = u.id
           WHERE ei.seq > {after}
           UNION ALL
           SELECT ei.seq, ei.role, h.id, h.depth
           FROM held h CROSS JOIN event_items ei
           WHERE ei.item_id = h.id AND ei.role = 0
             AND ei.seq > h.lo AND (h.hi IS NULL OR ei.seq < h.hi) AND ei.seq > {after}
         )
         SELECT r.seq, r.role, e.head, e.units,
                CASE WHEN e.head IS NULL OR r.role = 1 THEN l.body END, l.hash,
                {corrections}, vp.code, vi.serial
         FROM hits r CROSS JOIN events e CROSS JOIN ledger l
         LEFT JOIN items vi ON vi.id = r.via LEFT JOIN products vp ON vp.id = vi.product_id
         WHERE e.seq = r.seq AND l.seq = r.seq
         ORDER BY r.seq, r.depth, r.role"
    )
}

/// How an engine writes the parts of [`reach_sql`] its dialect spells its own way.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    /// The n-th (1-based) placeholder: `?n` or `$n`.
    pub placeholder: fn(usize) -> String,
    /// A typed NULL text matching the genealogy's text columns (PostgreSQL needs the collation).
    pub null_text: &'static str,
    pub null_int: &'static str,
    /// Appended to the recursive step: SQLite's `ORDER BY 3, 10` (depth, link order) makes its queue breadth-first.
    pub step_order: &'static str,
    /// Appended to the whole statement: PostgreSQL needs `ORDER BY depth` to promise the order.
    pub final_order: &'static str,
}

/// The columns of a walk's row that tell where the unit a node is built into is (its status,
/// location, custodian, lot, and the key of the unit it is built into in turn): a trace's
/// whereabouts of a part takes them from the row instead of reading that unit again
/// ([`crate::Reached::inside`]). Read through [`INSIDE_JOINS`].
pub const INSIDE_COLUMNS: &str =
    "pi.status, pi.location, pi.custodian, pi.lot, gpp.code, gpi.serial";

/// The joins [`INSIDE_COLUMNS`] and the row's parent key (`pp.code`, `pi.serial`) read from: the
/// unit the node `i` is built into, and the one that unit is built into. Each is one probe of a
/// primary key.
pub const INSIDE_JOINS: &str = "LEFT JOIN items pi ON pi.id = i.parent_id
         LEFT JOIN products pp ON pp.id = pi.product_id
         LEFT JOIN items gpi ON gpi.id = pi.parent_id
         LEFT JOIN products gpp ON gpp.id = gpi.product_id";

/// The set-based genealogy walk behind [`crate::Store::reach`]. `seed` is a statement returning
/// the starting nodes as `(t, id)` (`'i'`/`'l'` and the unit or lot row id); `as_of` is the
/// placeholder number of the as-of time (µs). Rows come breadth-first (by depth): depth, node
/// type, product, serial or lot, via type, via row id, link kind, quantity, linked at, removed
/// at, and the node's status, holds, location, custodian, lot, parent unit's product and serial
/// — the columns of [`crate::RawReached`] — and last the node's row id. The via node is not
/// joined for every row: [`crate::Walk`] names it from the nodes already met (a via node always
/// comes before the nodes it leads to).
///
/// The walk is `UNION ALL` (a tree is walked once). A node reached along several paths (lots
/// merged in a transformation) comes once per path; [`crate::Walk`] keeps the first, which is
/// at its smallest depth. Depth is capped at 64, which also ends a walk round a cycle of lot
/// transformations.
pub fn reach_sql(direction: crate::Direction, seed: &str, as_of: usize, d: Dialect) -> String {
    let t = (d.placeholder)(as_of);
    let (me, other, still_held) = match direction {
        crate::Direction::Parents => (
            "child",
            "parent",
            format!(" AND (g.to_time IS NULL OR g.to_time > {t})"),
        ),
        crate::Direction::Children => ("parent", "child", String::new()),
    };
    let (nt, ni, step_order, final_order) = (d.null_text, d.null_int, d.step_order, d.final_order);
    format!(
        "WITH RECURSIVE walk(t, id, depth, vt, vid, kind, qty, ft, tt, fs) AS (
           SELECT s.t, s.id, 0, {nt}, {ni}, {nt}, {ni}, {ni}, {ni}, {ni} FROM ({seed}) s
           UNION ALL
           SELECT g.{other}_type, g.{other}_id, w.depth + 1, g.{me}_type, g.{me}_id, g.kind, g.quantity,
                  g.from_time, CASE WHEN g.to_time <= {t} THEN g.to_time END, g.from_seq
           FROM walk w JOIN genealogy g ON g.{me}_type = w.t AND g.{me}_id = w.id
           WHERE w.depth < 64 AND w.tt IS NULL AND g.from_time <= {t}{still_held}
           {step_order}
         )
         SELECT r.depth, r.t, p.code, COALESCE(i.serial, l.code),
                r.vt, r.vid, r.kind, r.qty, r.ft, r.tt,
                i.status, COALESCE(i.holds, l.holds), i.location, i.custodian, i.lot, pp.code, pi.serial,
                r.id, {INSIDE_COLUMNS}
         FROM walk r
         LEFT JOIN items i ON r.t = 'i' AND i.id = r.id
         LEFT JOIN lots l ON r.t = 'l' AND l.id = r.id
         LEFT JOIN products p ON p.id = COALESCE(i.product_id, l.product_id)
         {INSIDE_JOINS}
         {final_order}"
    )
}
