//! The search page's look-ups on PostgreSQL (statements in [`threadline_store::search`]).

use threadline_store::StoreError;
use threadline_store::search::{
    self as q, LotHit, OrderHit, PartyHit, SearchHits, UnitHit, UnitsOf,
};

use crate::{PgStore, col};

impl PgStore {
    pub(crate) async fn search_text(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<SearchHits, StoreError> {
        let limit = i64::from(limit);
        let lots = self
            .rows(q::LOTS, &[&text, &limit])
            .await?
            .iter()
            .map(|r| {
                Ok(LotHit {
                    product: col(r, 0)?,
                    lot: col(r, 1)?,
                    held: col::<i16>(r, 2)? != 0,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let orders = self
            .rows(q::ORDERS, &[&text, &limit])
            .await?
            .iter()
            .map(|r| {
                Ok(OrderHit {
                    kind: col(r, 0)?,
                    id: col(r, 1)?,
                    events: col(r, 2)?,
                    units: col(r, 3)?,
                    first_us: col(r, 4)?,
                    last_us: col(r, 5)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let pattern = q::contains_pattern(text);
        let parties = self
            .rows(q::PARTIES, &[&pattern, &limit])
            .await?
            .iter()
            .map(|r| {
                Ok(PartyHit {
                    code: col(r, 0)?,
                    name: col(r, 1)?,
                    kind: col(r, 2)?,
                    units_held: col(r, 3)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(SearchHits {
            lots,
            orders,
            parties,
        })
    }

    pub(crate) async fn search_units_of(
        &self,
        of: &UnitsOf,
        limit: u32,
    ) -> Result<Vec<UnitHit>, StoreError> {
        let limit = i64::from(limit);
        let rows = match of {
            UnitsOf::Order { kind, id } => self.rows(q::ORDER_UNITS, &[kind, id, &limit]).await?,
            UnitsOf::Custodian(party) => self.rows(q::HELD_UNITS, &[party, &limit]).await?,
        };
        rows.iter()
            .map(|r| {
                Ok(UnitHit {
                    product: col(r, 0)?,
                    serial: col(r, 1)?,
                    status: col(r, 2)?,
                })
            })
            .collect()
    }
}
