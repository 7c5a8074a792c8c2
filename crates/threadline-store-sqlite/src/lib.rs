//! The embedded engine: one SQLite file in WAL mode, created on first start.
//!
//! SQLite allows one writer at a time, so all writes go through one connection behind a mutex,
//! on the blocking thread pool; reads use a small pool of their own connections and never wait
//! for writers (WAL). The write path is in `capture`, reads in `read`, ledger maintenance
//! (verify, rebuild, snapshot) in `admin`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::Event;
use threadline_domain::ledger::MasterChange;
use threadline_domain::master::{Location, Party, Product};
use threadline_store::{
    CaptureOutcome, EventQuery, IdempotencyKey, ItemView, ListQuery, LotView, MasterWrite, Page,
    RebuildReport, Receipt, Snapshot, StoreError, StoredEvent, User, VerifyReport, Versioned,
};
use uuid::Uuid;

mod admin;
mod capture;
mod master;
mod migrate;
mod read;

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// WAL + `synchronous=NORMAL`: a committed transaction survives a crash of the process
    /// (kill -9); the last transactions may be lost if the machine loses power.
    Process,
    /// WAL + `synchronous=FULL`: a committed transaction survives power loss.
    Power,
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self
            .idle
            .lock()
            .map_err(|_| StoreError::Database("reader pool poisoned".into()))?
            .pop()
        {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(db)?;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        c.pragma_update(None, "cache_size", -16_000).map_err(db)?;
        Ok(c)
    }

    fn give(&self, c: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 16
        {
            idle.push(c);
        }
    }
}

#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Readers>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.readers.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let mut c = Connection::open(path).map_err(db)?;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db)?;
        c.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        c.pragma_update(
            None,
            "synchronous",
            if durability == Durability::Power {
                "FULL"
            } else {
                "NORMAL"
            },
        )
        .map_err(db)?;
        c.pragma_update(None, "cache_size", -64_000).map_err(db)?;
        c.pragma_update(None, "temp_store", "MEMORY").map_err(db)?;
        migrate::run(&mut c)?;
        Ok(Self {
            writer: Arc::new(Mutex::new(c)),
            readers: Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The schema version this binary creates.
    pub fn schema_version() -> i64 {
        migrate::latest()
    }

    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = writer
                .lock()
                .map_err(|_| StoreError::Database("writer connection poisoned".into()))?;
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Database(format!("write task failed: {e}")))?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let c = readers.take()?;
            // One read transaction per call: every statement of a read (verify's ledger walk
            // and head check, an item and its children) sees the same snapshot.
            c.execute_batch("BEGIN DEFERRED").map_err(db)?;
            let out = f(&c);
            let end = c.execute_batch("COMMIT").map_err(db);
            readers.give(c);
            end.and(out)
        })
        .await
        .map_err(|e| StoreError::Database(format!("read task failed: {e}")))?
    }

    /// Makes a consistent copy of the live database into `dest` (SQLite's online backup).
    pub async fn backup_to(&self, dest: PathBuf) -> Result<(), StoreError> {
        self.read(move |c| {
            let mut out = Connection::open(&dest).map_err(db)?;
            let b = rusqlite::backup::Backup::new(c, &mut out).map_err(db)?;
            b.run_to_completion(1000, std::time::Duration::from_millis(0), None)
                .map_err(db)
        })
        .await
    }
}

#[async_trait]
impl threadline_store::Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn capture(
        &self,
        events: Vec<Event>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<CaptureOutcome, StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            if let Some(k) = &idempotency
                && let Some(prior) = read::idempotent_replay(&tx, k)?
            {
                return Ok(CaptureOutcome::Replayed(prior));
            }
            let mut head = capture::head(&tx)?;
            let batch = events.len() > 1;
            let receipts = capture::project_events(&tx, &events, Some(&mut head), &[], batch)?;
            if let Some(k) = &idempotency {
                read::remember(&tx, k, &receipts)?;
            }
            tx.commit().map_err(db)?;
            Ok(CaptureOutcome::Recorded(receipts))
        })
        .await
    }

    async fn put_master(&self, write: MasterWrite) -> Result<Receipt, StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let r = master::put(&tx, write)?;
            tx.commit().map_err(db)?;
            Ok(r)
        })
        .await
    }

    async fn product(&self, code: &str) -> Result<Option<Versioned<Product>>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| read::master_one(c, "products", &code))
            .await
    }

    async fn products(&self, q: &ListQuery) -> Result<Page<Versioned<Product>>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::master_list(c, "products", "tracking", &q))
            .await
    }

    async fn party(&self, code: &str) -> Result<Option<Versioned<Party>>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| read::master_one(c, "parties", &code))
            .await
    }

    async fn parties(&self, q: &ListQuery) -> Result<Page<Versioned<Party>>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::master_list(c, "parties", "kind", &q))
            .await
    }

    async fn location(&self, code: &str) -> Result<Option<Versioned<Location>>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| read::master_one(c, "locations", &code))
            .await
    }

    async fn locations(&self, q: &ListQuery) -> Result<Page<Versioned<Location>>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::master_list(c, "locations", "kind", &q))
            .await
    }

    async fn master_history(
        &self,
        kind: &str,
        code: &str,
    ) -> Result<Vec<MasterChange>, StoreError> {
        let (kind, code) = (kind.to_owned(), code.to_owned());
        self.read(move |c| read::master_history(c, &kind, &code))
            .await
    }

    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, StoreError> {
        let key = key.clone();
        self.read(move |c| read::item(c, &key)).await
    }

    async fn lot(&self, key: &LotKey) -> Result<Option<LotView>, StoreError> {
        let key = key.clone();
        self.read(move |c| read::lot(c, &key)).await
    }

    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        self.read(move |c| read::event(c, id)).await
    }

    async fn events(&self, q: &EventQuery) -> Result<Page<StoredEvent>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::events(c, &q)).await
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.read(admin::verify).await
    }

    async fn rebuild(&self) -> Result<RebuildReport, StoreError> {
        self.write(|c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let r = admin::rebuild(&tx)?;
            tx.commit().map_err(db)?;
            Ok(r)
        })
        .await
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.read(admin::snapshot).await
    }

    async fn counter(&self, scope: &str) -> Result<Option<u64>, StoreError> {
        let scope = scope.to_owned();
        self.read(move |c| {
            use rusqlite::OptionalExtension;
            let next: Option<i64> = c
                .query_row(
                    "SELECT next FROM serial_counters WHERE scope = ?1",
                    [scope],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db)?;
            next.map(|n| u64::try_from(n).map_err(|e| StoreError::Schema(e.to_string())))
                .transpose()
        })
        .await
    }

    async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Versioned<Product>>, StoreError> {
        let gtin = gtin.to_owned();
        self.read(move |c| read::product_by_gtin(c, &gtin)).await
    }

    async fn items_by_serial(&self, serial: &str, limit: u32) -> Result<Vec<ItemKey>, StoreError> {
        let serial = serial.to_owned();
        self.read(move |c| read::items_by_serial(c, &serial, limit))
            .await
    }

    async fn user_count(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
                .map_err(db)
        })
        .await
    }

    async fn create_user(&self, user: User) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO users (name, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    user.name,
                    user.password_hash,
                    user.role,
                    Utc::now().timestamp_micros()
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(
                    threadline_domain::FieldError::new(
                        "duplicate",
                        format!("user {} already exists", user.name),
                    )
                    .at("name"),
                ),
                _ => db(e),
            })?;
            Ok(())
        })
        .await
    }

    async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| {
            use rusqlite::OptionalExtension;
            c.query_row(
                "SELECT name, password_hash, role FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok(User {
                        name: r.get(0)?,
                        password_hash: r.get(1)?,
                        role: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(db)
        })
        .await
    }
}
