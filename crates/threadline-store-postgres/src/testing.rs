//! Fresh schemas for tests: each test gets its own empty schema on a shared server, and the
//! schema is dropped when the test lets go of it.

use threadline_store::StoreError;
use tokio_postgres::NoTls;

use crate::PgStore;

/// Drops its schema (CASCADE) when dropped. Best effort: a failure is logged, not raised.
#[derive(Debug)]
pub struct SchemaGuard {
    config: tokio_postgres::Config,
    schema: String,
}

impl SchemaGuard {
    pub fn schema(&self) -> &str {
        &self.schema
    }
}

async fn admin_connection(
    config: &tokio_postgres::Config,
) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(crate::db)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!("test schema connection: {e}");
        }
    });
    Ok(client)
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let config = self.config.clone();
        let sql = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.schema
        );
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
        // own small runtime can, and joining it means the schema is gone when the test ends.
        let dropper = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return tracing::warn!("cannot drop test schema: {e}"),
            };
            runtime.block_on(async {
                match admin_connection(&config).await {
                    Ok(client) => {
                        if let Err(e) = client.batch_execute(&sql).await {
                            tracing::warn!("cannot drop test schema: {}", crate::describe(&e));
                        }
                    }
                    Err(e) => tracing::warn!("cannot drop test schema: {e}"),
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Creates a uniquely named, empty schema on the server at `base_url`, and returns a connection
/// configuration whose sessions use only it (for tests that start stores themselves, such as
/// two "processes" on one database) with the guard that drops it.
pub async fn empty_schema(
    base_url: &str,
) -> Result<(tokio_postgres::Config, SchemaGuard), StoreError> {
    let config: tokio_postgres::Config = base_url
        .parse()
        .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    admin_connection(&config)
        .await?
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .map_err(crate::db)?;
    let mut scoped = config.clone();
    scoped.options(format!("-csearch_path={schema}"));
    Ok((scoped, SchemaGuard { config, schema }))
}

/// Creates a uniquely named, empty schema on the server at `base_url` and returns a migrated
/// store whose connections use only it, with the guard that drops it.
pub async fn fresh_schema(base_url: &str) -> Result<(PgStore, SchemaGuard), StoreError> {
    let (config, guard) = empty_schema(base_url).await?;
    let store = PgStore::from_config(config).await?;
    Ok((store, guard))
}

/// A run-time setting as the store's own pooled sessions have it (`current_setting(name)`).
pub async fn session_setting(store: &PgStore, name: &str) -> Result<String, StoreError> {
    let client = store.client().await?;
    let row = client
        .query_one("SELECT current_setting($1)", &[&name])
        .await
        .map_err(crate::db)?;
    row.try_get(0).map_err(crate::db)
}
