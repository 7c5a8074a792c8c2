//! The search page's look-ups on SQLite (statements in [`threadline_store::search`]).

use rusqlite::{Connection, params};
use threadline_store::StoreError;
use threadline_store::search::{
    self as q, LotHit, OrderHit, PartyHit, SearchHits, UnitHit, UnitsOf,
};

use crate::db;

pub(crate) fn search(c: &Connection, text: &str, limit: u32) -> Result<SearchHits, StoreError> {
    let limit = i64::from(limit);
    let lots = c
        .prepare_cached(q::LOTS)
        .map_err(db)?
        .query_map(params![text, limit], |r| {
            Ok(LotHit {
                product: r.get(0)?,
                lot: r.get(1)?,
                held: r.get::<_, i64>(2)? != 0,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let orders = c
        .prepare_cached(q::ORDERS)
        .map_err(db)?
        .query_map(params![text, limit], |r| {
            Ok(OrderHit {
                kind: r.get(0)?,
                id: r.get(1)?,
                events: r.get(2)?,
                units: r.get(3)?,
                first_us: r.get(4)?,
                last_us: r.get(5)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let parties = c
        .prepare_cached(q::PARTIES)
        .map_err(db)?
        .query_map(params![q::contains_pattern(text), limit], |r| {
            Ok(PartyHit {
                code: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                units_held: r.get(3)?,
            })
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    Ok(SearchHits {
        lots,
        orders,
        parties,
    })
}

pub(crate) fn units_of(
    c: &Connection,
    of: &UnitsOf,
    limit: u32,
) -> Result<Vec<UnitHit>, StoreError> {
    let limit = i64::from(limit);
    let row = |r: &rusqlite::Row<'_>| {
        Ok(UnitHit {
            product: r.get(0)?,
            serial: r.get(1)?,
            status: r.get(2)?,
        })
    };
    match of {
        UnitsOf::Order { kind, id } => c
            .prepare_cached(q::ORDER_UNITS)
            .map_err(db)?
            .query_map(params![kind, id, limit], row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db),
        UnitsOf::Custodian(party) => c
            .prepare_cached(q::HELD_UNITS)
            .map_err(db)?
            .query_map(params![party, limit], row)
            .map_err(db)?
            .collect::<Result<_, _>>()
            .map_err(db),
    }
}
