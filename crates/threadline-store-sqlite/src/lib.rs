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
use rusqlite::{Connection, OpenFlags};
use threadline_domain::FieldError;
use threadline_domain::access::LockoutPolicy;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::Event;
use threadline_domain::ledger::MasterChange;
use threadline_domain::master::{Location, Party, Product, SerialRuleDef};
use threadline_domain::process::{PROCESS_CODE, Process};
use threadline_store::webhook::{
    Attempt, AttemptOutcome, Delivery, DeliveryQuery, Webhook, WebhookWrite,
};
use threadline_store::{
    AccessChange, AuditOf, Available, CaptureJob, CaptureOutcome, EventQuery, IdempotencyKey,
    ItemRow, ItemView, LabelTemplateRecord, LabelTemplateWrite, ListQuery, LoginFailure, LotView,
    MasterWrite, NamedQuery, NewSession, Page, RebuildReport, Receipt, SessionRecord, Snapshot,
    StateQuery, StoreError, StoredEvent, TokenRecord, UserRecord, VerifyReport, Versioned,
};
use uuid::Uuid;

mod access;
mod admin;
mod audit;
mod authenticity;
mod capture;
mod dashboard;
mod epcis;
mod import;
mod labels;
mod master;
mod migrate;
mod read;
mod recall;
mod search;
mod webhook;

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

    /// Runs `f` in one read transaction on an idle reader: every statement of a read
    /// (verify's ledger walk and head check, an item and its children) sees the same
    /// snapshot.
    fn snapshot<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let c = self.take()?;
        c.execute_batch("BEGIN DEFERRED").map_err(db)?;
        let out = f(&c);
        let end = c.execute_batch("COMMIT").map_err(db);
        self.give(c);
        end.and(out)
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
    /// The one capture transaction: events (none: only the rest), the idempotency key, an EPCIS
    /// header's master data and the audit record, all or nothing.
    async fn capture_with(
        &self,
        mut events: Vec<Event>,
        idempotency: Option<IdempotencyKey>,
        master: Option<threadline_store::epcis::MasterData>,
        audit: Option<AuditOf<Vec<Receipt>>>,
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
            for (write, record) in master.iter().flat_map(|m| m.creates.iter()) {
                match master::put(&tx, write.clone()) {
                    Ok(_) => {
                        if let Some(record) = record {
                            audit::append_in(&tx, record)?;
                        }
                    }
                    Err(e) if threadline_store::master::already_exists(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            let receipts = if events.is_empty() {
                Vec::new()
            } else {
                let mut head = capture::head(&tx)?;
                let batch = events.len() > 1;
                let receipts =
                    capture::project_events(&tx, &mut events, Some(&mut head), &[], batch)?;
                webhook::enqueue(&tx, &events, &receipts)?;
                receipts
            };
            if let Some(master) = &master {
                epcis::put_vocabulary(&tx, master)?;
            }
            if let Some(k) = &idempotency {
                read::remember(&tx, k, &receipts)?;
            }
            audit::append_of(&tx, audit, &receipts)?;
            tx.commit().map_err(db)?;
            Ok(CaptureOutcome::Recorded(receipts))
        })
        .await
    }

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
        tokio::task::spawn_blocking(move || readers.snapshot(f))
            .await
            .map_err(|e| StoreError::Database(format!("read task failed: {e}")))?
    }

    /// A point read — one unit, one token, one session: a few index probes whose pages are
    /// almost always in memory, done in a fraction of a millisecond. It runs on the calling
    /// task's thread: handing it to the blocking pool and back costs two thread wake-ups,
    /// more than the read. Reads that scan (lists, traces, exports) go through
    /// [`Self::read`].
    fn read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.snapshot(f)
    }
}

/// Copies the database at `path` into a new file `dest` while servers may be writing to it:
/// `VACUUM INTO` on a read-only connection reads one snapshot (a WAL read transaction, so
/// writers are not blocked and the copy holds exactly the commits before it began) and
/// writes it compacted. `dest` must not exist.
pub fn backup(path: &Path, dest: &Path) -> Result<(), StoreError> {
    if !path.exists() {
        return Err(StoreError::NotFound(format!(
            "there is no database at {}",
            path.display()
        )));
    }
    if dest.exists() {
        return Err(StoreError::Conflict(
            FieldError::new(
                "exists",
                format!("{} already exists; name a new file", dest.display()),
            )
            .at("dest"),
        ));
    }
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    let dest = dest
        .to_str()
        .ok_or_else(|| StoreError::Database(format!("{} is not UTF-8", dest.display())))?;
    c.execute("VACUUM INTO ?1", [dest]).map_err(db)?;
    Ok(())
}

/// Makes the database file `path` stand alone (no `-wal` beside it), ready to be moved: the
/// write-ahead log is folded in and the journal switched to rollback mode; the next
/// [`SqliteStore::open`] switches it back to WAL.
pub fn settle(path: &Path) -> Result<(), StoreError> {
    let c = Connection::open(path).map_err(db)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db)?;
    c.pragma_update(None, "journal_mode", "DELETE")
        .map_err(db)?;
    Ok(())
}

#[async_trait]
impl threadline_store::Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn capture_audited(
        &self,
        events: Vec<Event>,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome, StoreError> {
        self.capture_with(events, idempotency, None, audit).await
    }

    async fn capture_epcis(
        &self,
        events: Vec<Event>,
        master: threadline_store::epcis::MasterData,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome, StoreError> {
        self.capture_with(events, None, Some(master), audit).await
    }

    async fn vocabulary(
        &self,
        vtype: &str,
        keys: &[String],
    ) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
        let (vtype, keys) = (vtype.to_owned(), keys.to_vec());
        self.read(move |c| epcis::vocabulary(c, &vtype, &keys))
            .await
    }

    async fn vocabulary_page(
        &self,
        vtype: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
        let (vtype, after) = (vtype.to_owned(), after.map(str::to_owned));
        self.read(move |c| epcis::vocabulary_page(c, &vtype, after.as_deref(), limit))
            .await
    }

    async fn capture_import(
        &self,
        mut events: Vec<Event>,
        dry_run: bool,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
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
            let receipts = capture::project_events(&tx, &mut events, Some(&mut head), &[], true)?;
            if !dry_run {
                if let Some(k) = &idempotency {
                    read::remember(&tx, k, &receipts)?;
                }
                audit::append_of(&tx, audit, &receipts)?;
                tx.commit().map_err(db)?;
            }
            Ok(CaptureOutcome::Recorded(receipts))
        })
        .await
    }

    async fn begin_import(
        &self,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<threadline_store::import::ImportStart, StoreError> {
        import::begin(self.writer.clone(), idempotency).await
    }

    async fn put_master_audited(
        &self,
        write: MasterWrite,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Receipt, StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let r = master::put(&tx, write)?;
            if let Some(record) = &audit {
                audit::append_in(&tx, record)?;
            }
            tx.commit().map_err(db)?;
            Ok(r)
        })
        .await
    }

    async fn put_masters(
        &self,
        writes: Vec<MasterWrite>,
        dry_run: bool,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
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
            let mut receipts = Vec::with_capacity(writes.len());
            let mut refused = Vec::new();
            for (i, w) in writes.into_iter().enumerate() {
                match master::put(&tx, w) {
                    Ok(r) => receipts.push(r),
                    Err(e) => threadline_store::refusal_at(i, e, &mut refused)?,
                }
            }
            if !refused.is_empty() {
                return Err(StoreError::Invalid(refused));
            }
            if !dry_run {
                if let Some(k) = &idempotency {
                    read::remember(&tx, k, &receipts)?;
                }
                audit::append_of(&tx, audit, &receipts)?;
                tx.commit().map_err(db)?;
            }
            Ok(CaptureOutcome::Recorded(receipts))
        })
        .await
    }

    async fn process(&self) -> Result<Option<Versioned<Process>>, StoreError> {
        self.read(|c| read::master_one(c, "processes", PROCESS_CODE))
            .await
    }

    async fn serial_rule(
        &self,
        code: &str,
    ) -> Result<Option<Versioned<SerialRuleDef>>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| read::master_one(c, "serial_rules", &code))
            .await
    }

    async fn serial_rules(
        &self,
        q: &ListQuery,
    ) -> Result<Page<Versioned<SerialRuleDef>>, StoreError> {
        let q = ListQuery {
            kind: None,
            ..q.clone()
        };
        self.read(move |c| read::master_list(c, "serial_rules", "name", &q))
            .await
    }

    async fn category_serial_rule(
        &self,
        category: &str,
    ) -> Result<Option<Versioned<SerialRuleDef>>, StoreError> {
        let category = category.to_owned();
        self.read(move |c| {
            use rusqlite::OptionalExtension;
            let rule: Option<String> = c
                .prepare_cached("SELECT rule FROM serial_rule_categories WHERE category = ?1")
                .map_err(db)?
                .query_row([&category], |r| r.get(0))
                .optional()
                .map_err(db)?;
            match rule {
                Some(code) => read::master_one(c, "serial_rules", &code),
                None => Ok(None),
            }
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
        self.read_now(|c| read::item(c, key))
    }

    async fn unit_states(
        &self,
        keys: &[ItemKey],
    ) -> Result<Vec<Option<threadline_store::UnitState>>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |c| read::unit_states(c, &keys)).await
    }

    async fn lot(&self, key: &LotKey) -> Result<Option<LotView>, StoreError> {
        let key = key.clone();
        self.read(move |c| read::lot(c, &key)).await
    }

    async fn item_list(&self, q: &StateQuery) -> Result<Page<ItemRow>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::item_list(c, &q)).await
    }

    async fn lot_list(&self, q: &StateQuery) -> Result<Page<LotView>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::lot_list(c, &q)).await
    }

    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        self.read(move |c| read::event(c, id)).await
    }

    async fn events(&self, q: &EventQuery) -> Result<Page<StoredEvent>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::events(c, &q)).await
    }

    async fn discrepancies(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, threadline_domain::projection::Discrepancy)>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |c| read::discrepancies(c, &ids)).await
    }

    async fn discrepancy_list(
        &self,
        q: &threadline_store::DiscrepancyQuery,
    ) -> Result<Page<threadline_store::DiscrepancyRow>, StoreError> {
        let q = q.clone();
        self.read(move |c| read::discrepancy_list(c, &q)).await
    }

    async fn discrepancy_count(
        &self,
        q: &threadline_store::DiscrepancyQuery,
    ) -> Result<i64, StoreError> {
        let q = q.clone();
        self.read(move |c| read::discrepancy_count(c, &q)).await
    }

    async fn unit_history(
        &self,
        key: &ItemKey,
    ) -> Result<Option<threadline_store::UnitHistory>, StoreError> {
        self.read_now(|c| {
            let Some(state) = read::item(c, key)? else {
                return Ok(None);
            };
            Ok(Some(threadline_store::UnitHistory {
                state,
                product: read::master_one(c, "products", key.product.as_str())?,
                timeline: read::timeline(c, key)?,
            }))
        })
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

    async fn links(
        &self,
        node: &threadline_domain::projection::Node,
        direction: threadline_store::Direction,
    ) -> Result<Vec<threadline_store::Link>, StoreError> {
        let node = node.clone();
        self.read(move |c| read::links(c, &node, direction)).await
    }

    async fn available(&self, product: &str) -> Result<Vec<Available>, StoreError> {
        let product = product.to_owned();
        self.read(move |c| {
            let mut out = Vec::new();
            let mut stmt = c
                .prepare_cached(threadline_store::query::AVAILABLE_LOTS)
                .map_err(db)?;
            let rows = stmt
                .query_map([&product], |r| {
                    Ok(Available::lot_row(
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(db)?;
            for r in rows {
                out.push(r.map_err(db)?);
            }
            let mut stmt = c
                .prepare_cached(threadline_store::query::AVAILABLE_UNITS)
                .map_err(db)?;
            let rows = stmt
                .query_map([&product], |r| {
                    Ok(Available::unit_row(r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(db)?;
            for r in rows {
                out.push(r.map_err(db)?);
            }
            Ok(out)
        })
        .await
    }

    async fn reach(
        &self,
        roots: Vec<threadline_domain::projection::Node>,
        direction: threadline_store::Direction,
        as_of: DateTime<Utc>,
    ) -> Result<threadline_store::ReachStream, StoreError> {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let readers = self.readers.clone();
        // The walk runs in one read transaction on its own connection while the caller reads
        // the chunks; a slow reader holds that snapshot (and WAL checkpoints) until it is done.
        tokio::task::spawn_blocking(move || {
            let run = || {
                let c = readers.take()?;
                c.execute_batch("BEGIN DEFERRED").map_err(db)?;
                let out = read::reach(&c, &roots, direction, micros(as_of), &tx);
                let end = c.execute_batch("COMMIT").map_err(db);
                readers.give(c);
                end.and(out)
            };
            if let Err(e) = run() {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(rx)
    }

    async fn create_recall(
        &self,
        r: threadline_store::Recall,
        members: Vec<threadline_store::RecallMember>,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.write(move |c| audit::audited(c, audit, |tx| recall::create(tx, &r, &members)))
            .await
    }

    async fn recall(&self, code: &str) -> Result<Option<threadline_store::Recall>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| recall::one(c, &code)).await
    }

    async fn recalls(&self) -> Result<Vec<threadline_store::Recall>, StoreError> {
        self.read(recall::all).await
    }

    async fn recall_members(
        &self,
        code: &str,
    ) -> Result<Vec<threadline_store::RecallMember>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| recall::members(c, &code)).await
    }

    async fn narrow_recall(
        &self,
        code: &str,
        narrowing: threadline_store::RecallNarrowing,
        removed: Vec<threadline_domain::projection::Node>,
        audit: Option<AuditOf<threadline_store::RecallNarrowing>>,
    ) -> Result<threadline_store::RecallNarrowing, StoreError> {
        let code = code.to_owned();
        self.write(move |c| {
            audit::audited(c, audit, |tx| {
                recall::narrow(tx, &code, narrowing, &removed)
            })
        })
        .await
    }

    async fn recall_narrowings(
        &self,
        code: &str,
    ) -> Result<Vec<threadline_store::RecallNarrowing>, StoreError> {
        let code = code.to_owned();
        self.read(move |c| recall::narrowings(c, &code)).await
    }

    async fn record_check(
        &self,
        check: threadline_store::authenticity::AuthenticityCheck,
    ) -> Result<i64, StoreError> {
        self.write(move |c| authenticity::record(c, &check)).await
    }

    async fn check(
        &self,
        id: i64,
    ) -> Result<Option<threadline_store::authenticity::AuthenticityCheck>, StoreError> {
        self.read(move |c| authenticity::one(c, id)).await
    }

    async fn check_history(
        &self,
        product: &str,
        serial: &str,
    ) -> Result<threadline_store::authenticity::CheckHistory, StoreError> {
        let (product, serial) = (product.to_owned(), serial.to_owned());
        self.read(move |c| authenticity::history(c, &product, &serial))
            .await
    }

    async fn checks(
        &self,
        query: &threadline_store::authenticity::CheckQuery,
    ) -> Result<Vec<threadline_store::authenticity::AuthenticityCheck>, StoreError> {
        let query = query.clone();
        self.read(move |c| authenticity::list(c, &query)).await
    }

    async fn close_recall(
        &self,
        code: &str,
        closed_by: String,
        at: DateTime<Utc>,
        note: Option<String>,
        audit: Option<AuditOf<threadline_store::Recall>>,
    ) -> Result<threadline_store::Recall, StoreError> {
        let code = code.to_owned();
        self.write(move |c| {
            audit::audited(c, audit, |tx| {
                recall::close(tx, &code, &closed_by, at, note.as_deref())
            })
        })
        .await
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

    async fn label_templates(&self) -> Result<Vec<LabelTemplateRecord>, StoreError> {
        self.read(labels::list).await
    }

    async fn label_template(&self, name: &str) -> Result<Option<LabelTemplateRecord>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| labels::get(c, &name)).await
    }

    async fn put_label_template(
        &self,
        write: LabelTemplateWrite,
        audit: Option<AuditOf<LabelTemplateRecord>>,
    ) -> Result<LabelTemplateRecord, StoreError> {
        self.write(move |c| audit::audited(c, audit, |tx| labels::put(tx, &write)))
            .await
    }

    async fn delete_label_template(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |c| audit::audited(c, audit, |tx| labels::delete(tx, &name)))
            .await
    }

    async fn label_units(
        &self,
        keys: &[ItemKey],
    ) -> Result<Vec<Option<threadline_store::LabelUnit>>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |c| labels::units(c, &keys)).await
    }

    async fn put_capture_job(&self, job: CaptureJob) -> Result<(), StoreError> {
        let job = job.clone();
        self.write(move |c| epcis::put_job(c, &job)).await
    }

    async fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| epcis::job(c, &id)).await
    }

    async fn create_named_query(
        &self,
        query: NamedQuery,
        audit: Option<AuditOf<NamedQuery>>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction().map_err(db)?;
            epcis::create_query(&tx, &query)?;
            audit::append_of(&tx, audit, &query)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn named_queries(&self) -> Result<Vec<NamedQuery>, StoreError> {
        self.read(|c| epcis::queries(c, None)).await
    }

    async fn named_query(&self, name: &str) -> Result<Option<NamedQuery>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| epcis::queries(c, Some(&name)))
            .await
            .map(|v| v.into_iter().next())
    }

    async fn delete_named_query(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |c| {
            let tx = c.transaction().map_err(db)?;
            webhook::delete_query_subscriptions(&tx, &name)?;
            epcis::delete_query(&tx, &name)?;
            audit::append_of(&tx, audit, &())?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn ledger_len(&self) -> Result<i64, StoreError> {
        self.read(|c| {
            c.query_row("SELECT seq FROM ledger_head WHERE id = 1", [], |r| r.get(0))
                .map_err(db)
        })
        .await
    }

    async fn create_subscription(
        &self,
        hook: Webhook,
        sub: threadline_store::webhook::EpcisSubscription,
        audit: Option<AuditOf<threadline_store::webhook::EpcisSubscription>>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction().map_err(db)?;
            webhook::create_subscription(&tx, &hook, &sub)?;
            audit::append_of(&tx, audit, &sub)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn subscriptions(
        &self,
    ) -> Result<Vec<threadline_store::webhook::EpcisSubscription>, StoreError> {
        self.read(webhook::subscriptions).await
    }

    async fn delete_subscription(
        &self,
        id: Uuid,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction().map_err(db)?;
            webhook::delete_subscription(&tx, id)?;
            audit::append_of(&tx, audit, &())?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn advance_subscription(
        &self,
        run: threadline_store::webhook::SubscriptionRun,
    ) -> Result<bool, StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let moved = webhook::advance(&tx, &run)?;
            tx.commit().map_err(db)?;
            Ok(moved)
        })
        .await
    }

    async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Versioned<Product>>, StoreError> {
        let gtin = gtin.to_owned();
        self.read(move |c| read::product_by_gtin(c, &gtin)).await
    }

    async fn qc_stats(
        &self,
        by: threadline_store::dashboard::QcBy,
        window: &threadline_store::dashboard::Window,
    ) -> Result<Vec<threadline_store::dashboard::QcRow>, StoreError> {
        let window = window.clone();
        self.read(move |c| dashboard::qc(c, by, &window)).await
    }

    async fn unit_counts(
        &self,
        places: Option<&[String]>,
    ) -> Result<threadline_store::dashboard::UnitCounts, StoreError> {
        let places = places.map(<[String]>::to_vec);
        self.read(move |c| dashboard::units(c, places.as_deref()))
            .await
    }

    async fn channel(
        &self,
        window: &threadline_store::dashboard::Window,
    ) -> Result<threadline_store::dashboard::Channel, StoreError> {
        let window = window.clone();
        self.read(move |c| dashboard::channel(c, &window)).await
    }

    async fn service_stats(
        &self,
        window: &threadline_store::dashboard::Window,
        top: u32,
    ) -> Result<threadline_store::dashboard::ServiceStats, StoreError> {
        let window = window.clone();
        self.read(move |c| dashboard::service(c, &window, top))
            .await
    }

    async fn search(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<threadline_store::search::SearchHits, StoreError> {
        let text = text.to_owned();
        self.read(move |c| search::search(c, &text, limit)).await
    }

    async fn units_of(
        &self,
        of: &threadline_store::search::UnitsOf,
        limit: u32,
    ) -> Result<Vec<threadline_store::search::UnitHit>, StoreError> {
        let of = of.clone();
        self.read(move |c| search::units_of(c, &of, limit)).await
    }

    async fn items_by_serial(&self, serial: &str, limit: u32) -> Result<Vec<ItemKey>, StoreError> {
        let serial = serial.to_owned();
        self.read(move |c| read::items_by_serial(c, &serial, limit))
            .await
    }

    async fn user_count(&self) -> Result<i64, StoreError> {
        self.read(access::user_count).await
    }

    async fn change_access(
        &self,
        change: AccessChange,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Option<i64>, StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            access::check_roles_defined(&tx, change.roles_given())?;
            match &change {
                AccessChange::CreateUser(u) => access::create_user(&tx, u)?,
                AccessChange::SetPassword {
                    name,
                    password_hash,
                    now,
                    keep_session,
                } => access::set_password(&tx, name, password_hash, *now, *keep_session)?,
                AccessChange::SetUserAccess {
                    name,
                    roles,
                    site,
                    party,
                } => access::set_user_access(
                    &tx,
                    name,
                    roles,
                    site.as_ref().map(|s| s.as_str()),
                    party.as_ref().map(|p| p.as_str()),
                )?,
                AccessChange::SetUserDisabled { name, disabled } => {
                    access::set_user_disabled(&tx, name, *disabled)?;
                }
                AccessChange::CreateToken(t) => access::create_token(&tx, t)?,
                AccessChange::RevokeToken { name, now } => access::revoke_token(&tx, name, *now)?,
                AccessChange::CreateRole(r) => access::create_role(&tx, r)?,
                AccessChange::ReplaceRole { role, replaces } => {
                    access::replace_role(&tx, role, *replaces)?;
                }
                AccessChange::DeleteRole { name } => access::delete_role(&tx, name)?,
            }
            let seq = audit
                .as_ref()
                .map(|r| audit::append_in(&tx, r))
                .transpose()?;
            tx.commit().map_err(db)?;
            Ok(seq)
        })
        .await
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| access::user(c, &name)).await
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read(access::users).await
    }

    async fn login_failed(
        &self,
        name: &str,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<LoginFailure, StoreError> {
        let name = name.to_owned();
        self.write(move |c| access::login_failed(c, &name, now, policy))
            .await
    }

    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |c| access::login_succeeded(c, &name)).await
    }

    async fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.read_now(|c| access::token_by_digest(c, digest))
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(access::tokens).await
    }

    async fn token_used(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(move |c| access::token_used(c, id, now)).await
    }

    async fn custom_roles(&self) -> Result<Vec<threadline_store::CustomRole>, StoreError> {
        self.read_now(access::custom_roles)
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction().map_err(db)?;
            access::create_session(&tx, &session)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn session(&self, id_digest: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.read_now(|c| access::session(c, id_digest))
    }

    async fn touch_session(
        &self,
        id_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let digest = *id_digest;
        self.write(move |c| access::touch_session(c, &digest, now))
            .await
    }

    async fn end_session(&self, id_digest: &[u8; 32]) -> Result<(), StoreError> {
        let digest = *id_digest;
        self.write(move |c| access::end_session(c, &digest)).await
    }

    async fn append_audit(
        &self,
        record: threadline_domain::audit::AuditRecord,
    ) -> Result<i64, StoreError> {
        self.write(move |c| audit::append(c, &record)).await
    }

    async fn audit(
        &self,
        q: &threadline_store::AuditQuery,
    ) -> Result<Page<threadline_store::AuditEntry>, StoreError> {
        let q = q.clone();
        self.read(move |c| audit::search(c, &q)).await
    }

    async fn put_webhook(
        &self,
        write: WebhookWrite,
        audit: Option<AuditOf<Webhook>>,
    ) -> Result<Webhook, StoreError> {
        self.write(move |c| audit::audited(c, audit, |tx| webhook::put(tx, &write)))
            .await
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.read(webhook::list).await
    }

    async fn webhook(&self, name: &str) -> Result<Option<Webhook>, StoreError> {
        let name = name.to_owned();
        self.read(move |c| webhook::get(c, &name)).await
    }

    async fn delete_webhook(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.write(move |c| audit::audited(c, audit, |tx| webhook::delete(tx, &name)))
            .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let out = webhook::claim(&tx, micros(now), micros(lease_until), limit)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
    }

    async fn finish_delivery(&self, id: Uuid, outcome: AttemptOutcome) -> Result<(), StoreError> {
        self.write(move |c| {
            let tx = c.transaction().map_err(db)?;
            webhook::finish(&tx, id, &outcome)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        let q = q.clone();
        self.read(move |c| webhook::list_deliveries(c, &q)).await
    }

    async fn delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        self.read(move |c| webhook::get_delivery(c, id)).await
    }

    async fn delivery_attempts(&self, id: Uuid) -> Result<Vec<Attempt>, StoreError> {
        self.read(move |c| webhook::attempts(c, id)).await
    }

    async fn redeliver(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditOf<Delivery>>,
    ) -> Result<Delivery, StoreError> {
        self.write(move |c| audit::audited(c, audit, |tx| webhook::redeliver(tx, id, micros(now))))
            .await
    }
}
