//! Test support: a fresh store per test on each engine, and the macro that stamps one test out
//! per engine so the contract suite is written once.
//!
//! PostgreSQL tests run when `THREADLINE_TEST_PG` holds a server URL (CI sets it; see
//! `.ci/run`); each test gets its own schema, dropped when the test ends. Without the variable
//! they print a notice and pass nothing off as tested: the test returns early and says so.

use std::sync::Arc;

pub mod fixtures;
pub mod invariants;
pub mod rng;
pub mod scanner;

use threadline_store::Store;

/// A store for one test, and whatever must outlive it (a temp dir, a schema to drop).
pub struct TestStore {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for TestStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestStore")
            .field("engine", &self.store.engine())
            .finish()
    }
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

/// A new SQLite database in a temporary directory.
pub fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = threadline_store_sqlite::SqliteStore::open(
        &dir.path().join("t.db"),
        threadline_store_sqlite::Durability::Process,
    )
    .expect("open sqlite");
    TestStore {
        store: Arc::new(store),
        _guard: Box::new(dir),
    }
}

/// The PostgreSQL server URL for tests, if configured.
///
/// In CI (`CI` set) a missing URL is an error, not a skip: the PostgreSQL half of the suite
/// must never pass by not running.
pub fn pg_url() -> Option<String> {
    let url = std::env::var("THREADLINE_TEST_PG")
        .ok()
        .filter(|s| !s.is_empty());
    if url.is_none() && std::env::var_os("CI").is_some() {
        panic!("CI is set but THREADLINE_TEST_PG is not: the PostgreSQL tests would be skipped");
    }
    url
}

/// A new, empty schema on the test PostgreSQL server; `None` if none is configured.
pub async fn postgres() -> Option<TestStore> {
    let url = pg_url()?;
    let (store, guard) = threadline_store_postgres::testing::fresh_schema(&url)
        .await
        .expect("fresh PostgreSQL schema");
    Some(TestStore {
        store: Arc::new(store),
        _guard: Box::new(guard),
    })
}

/// Stamps out `async fn $name(store: TestStore)` as one `#[tokio::test]` per engine:
/// `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! store_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let store = $crate::sqlite();
                ($body)(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(store) = $crate::postgres().await else {
                    eprintln!("THREADLINE_TEST_PG is not set: PostgreSQL variant skipped");
                    return;
                };
                ($body)(store).await;
            }
        }
    };
}
