//! The dashboards' figures on SQLite: the shared statements of
//! [`threadline_store::dashboard`] in this engine's dialect.

use rusqlite::{Connection, params};
use threadline_store::StoreError;
use threadline_store::dashboard::{
    self as d, Channel, Count, Dialect, Holding, QcBy, QcRow, Sale, ServiceStats, Turnaround,
    UnitCounts, Window,
};

use crate::{db, micros};

fn bounds(w: &Window) -> (i64, i64) {
    (micros(w.from), micros(w.to))
}

pub(crate) fn qc(c: &Connection, by: QcBy, w: &Window) -> Result<Vec<QcRow>, StoreError> {
    let (from, to) = bounds(w);
    let mut stmt = c.prepare(&d::qc_sql(Dialect::Sqlite, by, w)).map_err(db)?;
    let rows = stmt
        .query_map(params![from, to], |r| {
            Ok(QcRow {
                group: r.get(0)?,
                period: r.get(1)?,
                first_inspected: r.get(2)?,
                first_passed: r.get(3)?,
                inspections: r.get(4)?,
                failed: r.get(5)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn counts(
    c: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Count>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(db)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok(Count {
                key: r.get(0)?,
                count: r.get(1)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn units(c: &Connection, places: Option<&[String]>) -> Result<UnitCounts, StoreError> {
    Ok(UnitCounts {
        by_status: counts(c, &d::units_by_status_sql(places), [])?,
        by_location: counts(c, &d::units_by_location_sql(places), [])?,
    })
}

pub(crate) fn channel(c: &Connection, w: &Window) -> Result<Channel, StoreError> {
    let (from, to) = bounds(w);
    let mut stmt = c.prepare_cached(d::HOLDINGS).map_err(db)?;
    let holdings = stmt
        .query_map([], |r| {
            let def: String = r.get(2)?;
            Ok(Holding {
                distributor: r.get(0)?,
                name: r.get(1)?,
                regions: d::regions_of(&def),
                in_transit: r.get(3)?,
                in_stock: r.get(4)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let mut stmt = c.prepare(&d::sales_sql(Dialect::Sqlite)).map_err(db)?;
    let sales = stmt
        .query_map(params![from, to], |r| {
            Ok(Sale {
                seller: r.get(0)?,
                region: r.get(1)?,
                units: r.get(2)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    Ok(Channel { holdings, sales })
}

pub(crate) fn service(c: &Connection, w: &Window, top: u32) -> Result<ServiceStats, StoreError> {
    let (from, to) = bounds(w);
    let mut stmt = c
        .prepare(&d::turnaround_sql(w, Dialect::Sqlite))
        .map_err(db)?;
    let turnaround = stmt
        .query_map(params![from, to], |r| {
            Ok(Turnaround {
                period: r.get(0)?,
                completed: r.get(1)?,
                total_us: r.get(2)?,
                max_us: r.get(3)?,
                within_day: r.get(4)?,
                within_3_days: r.get(5)?,
                within_week: r.get(6)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let top = i64::from(top);
    Ok(ServiceStats {
        turnaround,
        faults: counts(
            c,
            &d::faults_sql(Dialect::Sqlite, w),
            params![from, to, top],
        )?,
        defects: counts(
            c,
            &d::defects_sql(Dialect::Sqlite, w),
            params![from, to, top],
        )?,
    })
}
