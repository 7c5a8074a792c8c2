//! The PostgreSQL engine (work in progress).

pub mod testing {
    //! Fresh schemas for tests.
    pub async fn fresh_schema(_url: &str) -> Result<(super::PgStore, ()), threadline_store::StoreError> {
        Err(threadline_store::StoreError::Database("not implemented yet".into()))
    }
}

#[derive(Debug)]
pub struct PgStore;
