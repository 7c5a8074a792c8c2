//! The figures of the dashboards: quality, where the units are, the sales channel and the
//! service desk, each one aggregate query over the projections (and, for fields only the
//! ledger body holds, its JSON). The statements are written once here with the few dialect
//! differences (JSON access, date truncation) filled in per engine, so a figure means the
//! same on SQLite and PostgreSQL.
//!
//! Events declared in error, and events a later event corrects, are left out of every figure.

use chrono::{DateTime, Duration, Offset, Utc};
use serde::Serialize;

/// The engine a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// How the time axis is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// What quality figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QcBy {
    /// The line the unit was commissioned on.
    Line,
    Product,
    /// The unit's lot.
    Lot,
    /// The supplier the unit was received from, or that of any unit ever assembled into it: a
    /// phone with boards from two suppliers counts for both.
    Supplier,
}

impl QcBy {
    pub const ALL: [QcBy; 4] = [QcBy::Line, QcBy::Product, QcBy::Lot, QcBy::Supplier];

    pub fn parse(s: &str) -> Option<QcBy> {
        QcBy::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QcBy::Line => "line",
            QcBy::Product => "product",
            QcBy::Lot => "lot",
            QcBy::Supplier => "supplier",
        }
    }
}

/// The time window of a figure, `[from, to)`, and how periods are cut: each day starts at local
/// midnight in `zone`; weeks start on Monday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub period: Period,
    pub zone: ZoneOffsets,
    /// Only what happened at these places — inspections, repairs, by their business location
    /// — (`None`: everywhere): a site's places, for an account bound to a site.
    pub places: Option<Vec<String>>,
}

/// How local time stands to UTC over a window: the offset (seconds east of UTC) in force at its
/// start, and each later change — summer time beginning or ending — with the instant it takes
/// effect. A moment's local day is its UTC time plus the offset in force at that moment, so a day
/// of 23 or 25 hours is still one day, cut at its own local midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneOffsets {
    pub initial: i32,
    pub changes: Vec<(DateTime<Utc>, i32)>,
}

impl ZoneOffsets {
    /// One offset all the time (`+08:00`, UTC).
    pub fn fixed(seconds_east: i32) -> ZoneOffsets {
        ZoneOffsets {
            initial: seconds_east,
            changes: Vec::new(),
        }
    }

    /// The offsets of the time zone `zone` between `from` and `to`.
    pub fn of_zone(zone: chrono_tz::Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> ZoneOffsets {
        let at = |t: DateTime<Utc>| t.with_timezone(&zone).offset().fix().local_minus_utc();
        let initial = at(from);
        let (mut changes, mut current, mut t) = (Vec::new(), initial, from);
        // Zones change their offset at most a few times a year and never twice in a day: look
        // day by day, then for the second it happened.
        while t < to {
            let next = (t + Duration::days(1)).min(to);
            if at(next) == current {
                t = next;
                continue;
            }
            let (mut before, mut after) = (t, next);
            while after - before > Duration::seconds(1) {
                let mid = before + (after - before) / 2;
                if at(mid) == current {
                    before = mid;
                } else {
                    after = mid;
                }
            }
            current = at(after);
            changes.push((after, current));
            t = after;
        }
        ZoneOffsets { initial, changes }
    }

    /// The offset in seconds in force at the µs timestamp `expr`, as SQL.
    fn sql(&self, expr: &str) -> String {
        if self.changes.is_empty() {
            return self.initial.to_string();
        }
        let mut out = String::from("(CASE");
        let mut offset = self.initial;
        for (at, next) in &self.changes {
            out.push_str(&format!(
                " WHEN {expr} < {} THEN {offset}",
                at.timestamp_micros()
            ));
            offset = *next;
        }
        out.push_str(&format!(" ELSE {offset} END)"));
        out
    }
}

/// ` AND {expr} IN ('A', 'B')` when `places` narrows a figure, else nothing. Places are
/// location codes (letters, digits, `-`, `_`, `.`), written as literals so the statements keep
/// their parameters; a quote is doubled all the same.
pub fn at_places(expr: &str, places: Option<&[String]>) -> String {
    match places {
        None => String::new(),
        Some([]) => " AND 1 = 0".to_owned(),
        Some(p) => format!(
            " AND {expr} IN ({})",
            p.iter()
                .map(|c| format!("'{}'", c.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Quality of one group in one period (`period` is its first day, `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QcRow {
    pub group: Option<String>,
    pub period: String,
    /// Units inspected for the first time in the period.
    pub first_inspected: i64,
    /// Of those, the units that passed that first inspection.
    pub first_passed: i64,
    /// Unit inspections in the period, first or not.
    pub inspections: i64,
    /// Of those, the failed ones.
    pub failed: i64,
}

/// A count under a key (`None`: no value, e.g. a unit with no location).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: Option<String>,
    pub count: i64,
}

/// Units now, by state and by location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitCounts {
    pub by_status: Vec<Count>,
    /// Units on the books (not sold, consumed, scrapped, voided or unassigned), by location,
    /// most first, at most 20.
    pub by_location: Vec<Count>,
}

/// What a distributor holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub distributor: String,
    pub name: String,
    pub regions: Vec<String>,
    pub in_transit: i64,
    pub in_stock: i64,
}

/// Units sold in the window by one seller into one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sale {
    pub seller: Option<String>,
    pub region: Option<String>,
    pub units: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub holdings: Vec<Holding>,
    pub sales: Vec<Sale>,
}

/// Repairs completed in one period and how long they took, from the return (or the first
/// repair event of the cycle) to completion, in microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turnaround {
    pub period: String,
    pub completed: i64,
    pub total_us: i64,
    pub max_us: i64,
    pub within_day: i64,
    pub within_3_days: i64,
    pub within_week: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStats {
    pub turnaround: Vec<Turnaround>,
    /// Repair fault codes (the fault text where no code was given), most first.
    pub faults: Vec<Count>,
    /// QC defect codes, most first.
    pub defects: Vec<Count>,
}

impl Dialect {
    /// The text at `fields.<name>` of the ledger body `l.body`.
    fn field(self, alias: &str, name: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({alias}.body, '$.fields.{name}')"),
            Dialect::Postgres => format!("({alias}.body::jsonb #>> '{{fields,{name}}}')"),
        }
    }

    /// The first day (`YYYY-MM-DD`) of the local period holding the µs timestamp `expr`.
    fn period(self, expr: &str, w: &Window) -> String {
        let secs = format!("({expr} / 1000000 + {})", w.zone.sql(expr));
        match self {
            Dialect::Sqlite => match w.period {
                Period::Day => format!("date({secs}, 'unixepoch')"),
                Period::Week => format!("date({secs}, 'unixepoch', '-6 days', 'weekday 1')"),
                Period::Month => format!("date({secs}, 'unixepoch', 'start of month')"),
            },
            Dialect::Postgres => format!(
                "to_char(date_trunc('{}', to_timestamp({secs}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
                w.period.as_str()
            ),
        }
    }

    /// Each element of the text array `fields.<name>` as `{alias}.value`.
    fn field_elements(self, body: &str, name: &str, alias: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_each({body}.body, '$.fields.{name}') AS {alias}"),
            Dialect::Postgres => format!(
                "jsonb_array_elements_text({body}.body::jsonb #> '{{fields,{name}}}') AS {alias}(value)"
            ),
        }
    }
}

/// The event `e` still stands: not an error declaration, not declared in error or corrected.
fn live(e: &str) -> String {
    format!(
        "{e}.declared IS NULL AND NOT EXISTS (SELECT 1 FROM events c WHERE c.corrects = {e}.event_id)"
    )
}

/// Quality by `by` and period over the window; `$1`, `$2` are the window's bounds in µs.
/// Inspections are the `inspecting` events with a result (a QC disposition has none).
pub fn qc_sql(d: Dialect, by: QcBy, w: &Window) -> String {
    let (extra, join, group) = match by {
        QcBy::Product => (
            String::new(),
            "JOIN items i ON i.id = q.item_id JOIN products p ON p.id = i.product_id".to_owned(),
            "p.code",
        ),
        QcBy::Lot => (
            String::new(),
            "JOIN items i ON i.id = q.item_id".to_owned(),
            "i.lot",
        ),
        QcBy::Line => (
            ", made AS (SELECT x.item_id, MIN(x.seq) AS seq FROM event_items x JOIN events m ON m.seq = x.seq \
               WHERE x.role = 0 AND m.biz_step = 'commissioning' GROUP BY x.item_id)"
                .to_owned(),
            "LEFT JOIN made ON made.item_id = q.item_id LEFT JOIN events me ON me.seq = made.seq"
                .to_owned(),
            "me.biz_location",
        ),
        QcBy::Supplier => {
            let supplier = d.field("rl", "supplier");
            (
                format!(
                    ", bought AS (SELECT x.item_id, {supplier} AS supplier FROM event_items x \
                       JOIN events r ON r.seq = x.seq JOIN ledger rl ON rl.seq = r.seq \
                       WHERE x.role = 0 AND r.biz_step = 'receiving' AND {supplier} IS NOT NULL), \
                     origin AS (SELECT item_id, supplier FROM bought UNION \
                       SELECT g.parent_id, b.supplier FROM genealogy g JOIN bought b ON b.item_id = g.child_id \
                       WHERE g.parent_type = 'i' AND g.child_type = 'i')"
                ),
                "LEFT JOIN origin o ON o.item_id = q.item_id".to_owned(),
                "o.supplier",
            )
        }
    };
    format!(
        "WITH insp AS (SELECT ei.item_id, e.seq, e.event_time, {result} AS result, e.biz_location AS place \
           FROM events e JOIN ledger l ON l.seq = e.seq JOIN event_items ei ON ei.seq = e.seq AND ei.role = 0 \
           WHERE e.biz_step = 'inspecting' AND {result} IS NOT NULL AND {live}), \
         firsts AS (SELECT item_id, MIN(seq) AS seq FROM insp GROUP BY item_id){extra}, \
         q AS (SELECT insp.item_id, insp.event_time, insp.result, \
                 CASE WHEN f.seq IS NULL THEN 0 ELSE 1 END AS first \
               FROM insp LEFT JOIN firsts f ON f.item_id = insp.item_id AND f.seq = insp.seq \
               WHERE insp.event_time >= $1 AND insp.event_time < $2{here}) \
         SELECT {group} AS grp, {period} AS period, SUM(q.first), \
           SUM(CASE WHEN q.first = 1 AND q.result = 'pass' THEN 1 ELSE 0 END), COUNT(*), \
           SUM(CASE WHEN q.result = 'fail' THEN 1 ELSE 0 END) \
         FROM q {join} GROUP BY {group}, {period} ORDER BY 2, 1 NULLS LAST",
        result = d.field("l", "result"),
        live = live("e"),
        period = d.period("q.event_time", w),
        here = at_places("insp.place", w.places.as_deref()),
    )
}

/// Units by state (at `places`, if given).
pub fn units_by_status_sql(places: Option<&[String]>) -> String {
    format!(
        "SELECT status, COUNT(*) FROM items WHERE 1 = 1{} GROUP BY status ORDER BY 2 DESC, 1",
        at_places("location", places)
    )
}

/// Units on the books by location (at `places`, if given).
pub fn units_by_location_sql(places: Option<&[String]>) -> String {
    format!(
        "SELECT location, COUNT(*) FROM items \
         WHERE status NOT IN ('sold', 'consumed', 'scrapped', 'voided', 'unassigned'){} \
         GROUP BY location ORDER BY 2 DESC, 1 NULLS LAST LIMIT 20",
        at_places("location", places)
    )
}

/// Every distributor with what it holds now: code, name, definition (JSON), in transit, in stock.
pub const HOLDINGS: &str = "SELECT p.code, p.name, p.def, \
       SUM(CASE WHEN i.status = 'in_transit' THEN 1 ELSE 0 END), \
       SUM(CASE WHEN i.status = 'in_stock' THEN 1 ELSE 0 END) \
     FROM parties p LEFT JOIN items i ON i.custodian = p.code \
     WHERE p.kind = 'distributor' GROUP BY p.code, p.name, p.def ORDER BY p.code";

/// Units sold in the window (`$1`, `$2`) by seller and region.
pub fn sales_sql(d: Dialect) -> String {
    let (seller, region) = (d.field("l", "sold_by"), d.field("l", "region"));
    format!(
        "SELECT {seller} AS seller, {region} AS region, COUNT(*) \
         FROM events e JOIN ledger l ON l.seq = e.seq JOIN event_items ei ON ei.seq = e.seq AND ei.role = 0 \
         WHERE e.biz_step = 'retail_selling' AND e.event_time >= $1 AND e.event_time < $2 AND {live} \
         GROUP BY {seller}, {region} ORDER BY 3 DESC, 1 NULLS LAST, 2 NULLS LAST",
        live = live("e"),
    )
}

/// Completed repairs in the window (`$1`, `$2`) by period, with their turnaround: from the
/// first return receipt or repair event of the unit since its previous completed repair.
pub fn turnaround_sql(w: &Window, d: Dialect) -> String {
    const DAY: i64 = 86_400_000_000;
    format!(
        "WITH done AS (SELECT e.seq, e.event_time, ei.item_id FROM events e \
           JOIN event_items ei ON ei.seq = e.seq AND ei.role = 0 \
           WHERE e.biz_step = 'repairing' AND e.disposition = 'sellable_not_accessible' AND {live_e}{here}), \
         spans AS (SELECT d.event_time, d.event_time - (SELECT MIN(r.event_time) FROM event_items x \
             JOIN events r ON r.seq = x.seq \
             WHERE x.item_id = d.item_id AND x.role = 0 AND r.seq <= d.seq \
               AND (r.disposition = 'returned' OR r.biz_step = 'repairing') AND {live_r} \
               AND r.seq > COALESCE((SELECT MAX(p.seq) FROM done p WHERE p.item_id = d.item_id AND p.seq < d.seq), 0) \
           ) AS span FROM done d WHERE d.event_time >= $1 AND d.event_time < $2) \
         SELECT {period} AS period, COUNT(*), CAST(SUM(span) AS BIGINT), MAX(span), \
           SUM(CASE WHEN span <= {DAY} THEN 1 ELSE 0 END), \
           SUM(CASE WHEN span <= {d3} THEN 1 ELSE 0 END), \
           SUM(CASE WHEN span <= {d7} THEN 1 ELSE 0 END) \
         FROM spans GROUP BY 1 ORDER BY 1",
        live_e = live("e"),
        live_r = live("r"),
        period = d.period("event_time", w),
        d3 = 3 * DAY,
        d7 = 7 * DAY,
        here = at_places("e.biz_location", w.places.as_deref()),
    )
}

/// Repair faults in the window (`$1`, `$2`, at its places), most first, at most `$3`.
pub fn faults_sql(d: Dialect, w: &Window) -> String {
    let fault = format!(
        "COALESCE({}, {})",
        d.field("l", "fault_code"),
        d.field("l", "fault")
    );
    format!(
        "SELECT {fault} AS fault, COUNT(*) FROM events e JOIN ledger l ON l.seq = e.seq \
         WHERE e.biz_step = 'repairing' AND e.event_time >= $1 AND e.event_time < $2 AND {live} \
           AND {fault} IS NOT NULL{here} \
         GROUP BY {fault} ORDER BY 2 DESC, 1 NULLS LAST LIMIT $3",
        live = live("e"),
        here = at_places("e.biz_location", w.places.as_deref()),
    )
}

/// QC defect codes in the window (`$1`, `$2`, at its places), most first, at most `$3`: one
/// per inspection event that names it.
pub fn defects_sql(d: Dialect, w: &Window) -> String {
    format!(
        "SELECT dc.value, COUNT(*) FROM events e JOIN ledger l ON l.seq = e.seq, {each} \
         WHERE e.biz_step = 'inspecting' AND e.event_time >= $1 AND e.event_time < $2 AND {live}{here} \
         GROUP BY dc.value ORDER BY 2 DESC, 1 LIMIT $3",
        each = d.field_elements("l", "defect_codes", "dc"),
        live = live("e"),
        here = at_places("e.biz_location", w.places.as_deref()),
    )
}

/// A distributor's regions from its stored definition.
pub fn regions_of(def: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(def)
        .ok()
        .and_then(|v| {
            v.get("regions").and_then(|r| {
                r.as_array().map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
            })
        })
        .unwrap_or_default()
}
