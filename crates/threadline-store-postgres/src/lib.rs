//! The scale-out engine: PostgreSQL, shared by any number of Threadline processes.
//!
//! It behaves exactly like the embedded SQLite engine — same errors, receipts, hash chain,
//! verify results, snapshots and paging — and passes the same contract tests. What differs is
//! how it gets there:
//!
//! * **One chain, many writers.** Every write transaction first locks the chain head
//!   (`SELECT … FROM ledger_head WHERE id = 1 FOR UPDATE`) and checks its idempotency key only
//!   after that, so appends from several processes queue up and the chain never forks. Under
//!   READ COMMITTED each later statement of the holder sees everything committed before it.
//! * **Set-based capture.** A batch's slice is loaded with a handful of set-based (`unnest` join)
//!   queries pipelined on one connection, and written back with multi-row
//!   `INSERT … SELECT … FROM unnest(…)` statements: the number of round trips does not grow
//!   with the batch (`capture`).
//! * **Consistent reads.** A read that needs more than one statement runs in a read-only
//!   REPEATABLE READ transaction, so it sees one snapshot (`read`, `admin`).
//!
//! Driver types never leave this crate: every failure becomes a [`StoreError`].

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Transaction,
};
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
use tokio_postgres::error::SqlState;
use tokio_postgres::{IsolationLevel, NoTls, Row};
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
mod lookup;
mod master;
mod migrate;
mod read;
mod recall;
mod search;
pub mod testing;
mod webhook;

/// Connections a store opens at most.
const POOL_SIZE: usize = 16;

/// The server's own words for a failure: SQLSTATE, message and detail.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("{}: {} ({detail})", d.code().code(), d.message()),
            None => format!("{}: {}", d.code().code(), d.message()),
        },
        None => e.to_string(),
    }
}

pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(describe(&e))
}

/// Is this the database refusing a duplicate key (SQLSTATE 23505)?
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Reads column `i`, turning a type mismatch into an error instead of a panic.
pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    r: &'a Row,
    i: usize,
) -> Result<T, StoreError> {
    r.try_get(i).map_err(db)
}

/// PostgreSQL text cannot hold NUL, so a lookup key containing one names nothing stored.
pub(crate) fn storable(s: &str) -> bool {
    !s.contains('\0')
}

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("connections", &status.size)
            .field("max", &status.max_size)
            .finish()
    }
}

impl PgStore {
    /// The one capture transaction: events (none: only the rest), the idempotency key, an EPCIS
    /// header's master data and the audit record, all or nothing.
    async fn capture_with(
        &self,
        mut events: Vec<Event>,
        idempotency: Option<IdempotencyKey>,
        master: Option<threadline_store::epcis::MasterData>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut head = capture::lock_head(&tx).await?;
        // Only now: a retry sent to another process while the first attempt was being recorded
        // waited for the lock above, and finds that attempt's receipts.
        if let Some(k) = &idempotency
            && let Some(prior) = read::idempotent_replay(&tx, k).await?
        {
            tx.rollback().await.map_err(db)?;
            return Ok(CaptureOutcome::Replayed(prior));
        }
        if let Some(m) = master.as_ref().filter(|m| !m.creates.is_empty()) {
            // `master::put` moves the chain head: read it again after.
            for (write, record) in &m.creates {
                match master::put(&tx, write.clone()).await {
                    Ok(_) => {
                        if let Some(record) = record {
                            audit::append_in(&tx, record).await?;
                        }
                    }
                    Err(e) if threadline_store::master::already_exists(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            head = capture::lock_head(&tx).await?;
        }
        let receipts = if events.is_empty() {
            Vec::new()
        } else {
            let batch = events.len() > 1;
            let receipts =
                capture::project_events(&tx, &mut events, Some(&mut head), &[], batch).await?;
            webhook::enqueue(&tx, &events, &receipts).await?;
            receipts
        };
        if let Some(master) = &master {
            epcis::put_vocabulary(&tx, master).await?;
        }
        if let Some(k) = &idempotency {
            read::remember(&tx, k, &receipts).await?;
        }
        audit::append_of(&tx, audit, &receipts).await?;
        tx.commit().await.map_err(db)?;
        Ok(CaptureOutcome::Recorded(receipts))
    }

    /// Connects to the database at `url` (`postgres://user@host:port/db`) and brings its schema
    /// up to date. A database migrated by a newer Threadline is refused with
    /// [`StoreError::Schema`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        Self::from_config(config).await
    }

    /// Like [`PgStore::connect`], from a parsed configuration.
    pub async fn from_config(mut config: tokio_postgres::Config) -> Result<Self, StoreError> {
        if config.get_application_name().is_none() {
            config.application_name("threadline");
        }
        // Threadline's statements are lookups and walks that run in milliseconds; with
        // PostgreSQL's default `jit = on`, one whose estimated cost passes `jit_above_cost`
        // is compiled before it runs — at 10 M events the passport's timeline was estimated
        // past it and spent 48 ms compiling for 0.6 ms of work (docs/BENCHMARKS.md). Options
        // the URL gives come after, so `options=-c jit=on` still turns it back on.
        let given = config.get_options().map(str::to_owned);
        config.options(match given {
            Some(o) => format!("-c jit=off {o}"),
            None => "-c jit=off".to_owned(),
        });
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(15)))
            .wait_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| StoreError::Database(format!("connection pool: {e}")))?;
        let store = Self { pool };
        let mut client = store.client().await?;
        migrate::run(&mut client).await?;
        Ok(store)
    }

    /// The schema version this binary creates.
    pub fn schema_version() -> i64 {
        migrate::latest()
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Database(format!("no database connection: {e}")))
    }

    /// Starts a read-only REPEATABLE READ transaction: one snapshot for several statements.
    async fn begin_read(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
        client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)
    }
}

#[async_trait]
impl threadline_store::Store for PgStore {
    fn engine(&self) -> &'static str {
        "postgres"
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
        self.vocabulary_of(vtype, keys).await
    }

    async fn vocabulary_page(
        &self,
        vtype: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<threadline_store::epcis::StoredVocabulary>, StoreError> {
        self.vocabulary_list(vtype, after, limit).await
    }

    async fn capture_import(
        &self,
        mut events: Vec<Event>,
        dry_run: bool,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let mut head = capture::lock_head(&tx).await?;
        if let Some(k) = &idempotency
            && let Some(prior) = read::idempotent_replay(&tx, k).await?
        {
            tx.rollback().await.map_err(db)?;
            return Ok(CaptureOutcome::Replayed(prior));
        }
        let receipts =
            capture::project_events(&tx, &mut events, Some(&mut head), &[], true).await?;
        if dry_run {
            tx.rollback().await.map_err(db)?;
        } else {
            if let Some(k) = &idempotency {
                read::remember(&tx, k, &receipts).await?;
            }
            audit::append_of(&tx, audit, &receipts).await?;
            tx.commit().await.map_err(db)?;
        }
        Ok(CaptureOutcome::Recorded(receipts))
    }

    async fn begin_import(
        &self,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<threadline_store::import::ImportStart, StoreError> {
        import::begin(self.client().await?, idempotency).await
    }

    async fn put_master_audited(
        &self,
        write: MasterWrite,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Receipt, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let r = master::put(&tx, write).await?;
        if let Some(record) = &audit {
            audit::append_in(&tx, record).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    async fn put_masters(
        &self,
        writes: Vec<MasterWrite>,
        dry_run: bool,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        // The key is judged with the chain head locked, as in `capture`: a retry sent while
        // the first attempt was being recorded waits here and finds its receipts.
        if let Some(k) = &idempotency {
            capture::lock_head(&tx).await?;
            if let Some(prior) = read::idempotent_replay(&tx, k).await? {
                tx.rollback().await.map_err(db)?;
                return Ok(CaptureOutcome::Replayed(prior));
            }
        }
        let mut receipts = Vec::with_capacity(writes.len());
        let mut refused = Vec::new();
        for (i, w) in writes.into_iter().enumerate() {
            match master::put(&tx, w).await {
                Ok(r) => receipts.push(r),
                Err(e) => threadline_store::refusal_at(i, e, &mut refused)?,
            }
        }
        if !refused.is_empty() {
            return Err(StoreError::Invalid(refused));
        }
        if dry_run {
            tx.rollback().await.map_err(db)?;
        } else {
            if let Some(k) = &idempotency {
                read::remember(&tx, k, &receipts).await?;
            }
            audit::append_of(&tx, audit, &receipts).await?;
            tx.commit().await.map_err(db)?;
        }
        Ok(CaptureOutcome::Recorded(receipts))
    }

    async fn serial_rule(
        &self,
        code: &str,
    ) -> Result<Option<Versioned<SerialRuleDef>>, StoreError> {
        let client = self.client().await?;
        read::master_one(&client, "serial_rules", code).await
    }

    async fn serial_rules(
        &self,
        q: &ListQuery,
    ) -> Result<Page<Versioned<SerialRuleDef>>, StoreError> {
        let client = self.client().await?;
        let q = ListQuery {
            kind: None,
            ..q.clone()
        };
        read::master_list(&client, "serial_rules", "name", &q).await
    }

    async fn category_serial_rule(
        &self,
        category: &str,
    ) -> Result<Option<Versioned<SerialRuleDef>>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT rule FROM serial_rule_categories WHERE category = $1")
            .await
            .map_err(db)?;
        match client.query_opt(&stmt, &[&category]).await.map_err(db)? {
            Some(row) => {
                let code: String = col(&row, 0)?;
                read::master_one(&client, "serial_rules", &code).await
            }
            None => Ok(None),
        }
    }

    async fn process(&self) -> Result<Option<Versioned<Process>>, StoreError> {
        let client = self.client().await?;
        read::master_one(&client, "processes", PROCESS_CODE).await
    }

    async fn product(&self, code: &str) -> Result<Option<Versioned<Product>>, StoreError> {
        let client = self.client().await?;
        read::master_one(&client, "products", code).await
    }

    async fn products(&self, q: &ListQuery) -> Result<Page<Versioned<Product>>, StoreError> {
        let client = self.client().await?;
        read::master_list(&client, "products", "tracking", q).await
    }

    async fn party(&self, code: &str) -> Result<Option<Versioned<Party>>, StoreError> {
        let client = self.client().await?;
        read::master_one(&client, "parties", code).await
    }

    async fn parties(&self, q: &ListQuery) -> Result<Page<Versioned<Party>>, StoreError> {
        let client = self.client().await?;
        read::master_list(&client, "parties", "kind", q).await
    }

    async fn location(&self, code: &str) -> Result<Option<Versioned<Location>>, StoreError> {
        let client = self.client().await?;
        read::master_one(&client, "locations", code).await
    }

    async fn locations(&self, q: &ListQuery) -> Result<Page<Versioned<Location>>, StoreError> {
        let client = self.client().await?;
        read::master_list(&client, "locations", "kind", q).await
    }

    async fn master_history(
        &self,
        kind: &str,
        code: &str,
    ) -> Result<Vec<MasterChange>, StoreError> {
        let client = self.client().await?;
        read::master_history(&client, kind, code).await
    }

    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, StoreError> {
        let client = self.client().await?;
        read::item(&client, key).await
    }

    async fn unit_states(
        &self,
        keys: &[ItemKey],
    ) -> Result<Vec<Option<threadline_store::UnitState>>, StoreError> {
        let client = self.client().await?;
        read::unit_states(&client, keys).await
    }

    async fn lot(&self, key: &LotKey) -> Result<Option<LotView>, StoreError> {
        let client = self.client().await?;
        read::lot(&client, key).await
    }

    async fn item_list(&self, q: &StateQuery) -> Result<Page<ItemRow>, StoreError> {
        let client = self.client().await?;
        read::item_list(&client, q).await
    }

    async fn lot_list(&self, q: &StateQuery) -> Result<Page<LotView>, StoreError> {
        let client = self.client().await?;
        read::lot_list(&client, q).await
    }

    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::begin_read(&mut client).await?;
        let out = read::event(&tx, id).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn discrepancies(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, threadline_domain::projection::Discrepancy)>, StoreError> {
        let client = self.client().await?;
        read::discrepancies(&client, ids).await
    }

    async fn discrepancy_list(
        &self,
        q: &threadline_store::DiscrepancyQuery,
    ) -> Result<Page<threadline_store::DiscrepancyRow>, StoreError> {
        let client = self.client().await?;
        read::discrepancy_list(&client, q).await
    }

    async fn discrepancy_count(
        &self,
        q: &threadline_store::DiscrepancyQuery,
    ) -> Result<i64, StoreError> {
        let client = self.client().await?;
        read::discrepancy_count(&client, q).await
    }

    async fn unit_history(
        &self,
        key: &ItemKey,
    ) -> Result<Option<threadline_store::UnitHistory>, StoreError> {
        let client = self.client().await?;
        read::unit_history(&client, key).await
    }

    async fn events(&self, q: &EventQuery) -> Result<Page<StoredEvent>, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::begin_read(&mut client).await?;
        let out = read::events(&tx, q).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::begin_read(&mut client).await?;
        let out = admin::verify(&tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn rebuild(&self) -> Result<RebuildReport, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let r = admin::rebuild(&tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(r)
    }

    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut client = self.client().await?;
        let tx = Self::begin_read(&mut client).await?;
        let out = admin::snapshot(&tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn links(
        &self,
        node: &threadline_domain::projection::Node,
        direction: threadline_store::Direction,
    ) -> Result<Vec<threadline_store::Link>, StoreError> {
        let client = self.client().await?;
        lookup::links(&client, node, direction).await
    }

    async fn available(&self, product: &str) -> Result<Vec<Available>, StoreError> {
        let client = self.client().await?;
        if !storable(product) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let lots = client
            .prepare_cached(threadline_store::query::AVAILABLE_LOTS)
            .await
            .map_err(db)?;
        for r in client.query(&lots, &[&product]).await.map_err(db)? {
            out.push(Available::lot_row(
                col(&r, 0)?,
                col(&r, 1)?,
                col(&r, 2)?,
                col(&r, 3)?,
                col(&r, 4)?,
                col(&r, 5)?,
            ));
        }
        let units = client
            .prepare_cached(threadline_store::query::AVAILABLE_UNITS)
            .await
            .map_err(db)?;
        for r in client.query(&units, &[&product]).await.map_err(db)? {
            out.push(Available::unit_row(col(&r, 0)?, col(&r, 1)?, col(&r, 2)?));
        }
        Ok(out)
    }

    async fn reach(
        &self,
        roots: Vec<threadline_domain::projection::Node>,
        direction: threadline_store::Direction,
        as_of: DateTime<Utc>,
    ) -> Result<threadline_store::ReachStream, StoreError> {
        let client = self.client().await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(lookup::reach(client, roots, direction, micros(as_of), tx));
        Ok(rx)
    }

    async fn create_recall(
        &self,
        r: threadline_store::Recall,
        members: Vec<threadline_store::RecallMember>,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.recall_create(r, members, audit).await
    }

    async fn recall(&self, code: &str) -> Result<Option<threadline_store::Recall>, StoreError> {
        self.recall_one(code).await
    }

    async fn recalls(&self) -> Result<Vec<threadline_store::Recall>, StoreError> {
        self.recall_all().await
    }

    async fn recall_members(
        &self,
        code: &str,
    ) -> Result<Vec<threadline_store::RecallMember>, StoreError> {
        self.recall_members_of(code).await
    }

    async fn narrow_recall(
        &self,
        code: &str,
        narrowing: threadline_store::RecallNarrowing,
        removed: Vec<threadline_domain::projection::Node>,
        audit: Option<AuditOf<threadline_store::RecallNarrowing>>,
    ) -> Result<threadline_store::RecallNarrowing, StoreError> {
        self.recall_narrow(code, narrowing, removed, audit).await
    }

    async fn recall_narrowings(
        &self,
        code: &str,
    ) -> Result<Vec<threadline_store::RecallNarrowing>, StoreError> {
        self.recall_narrowings_of(code).await
    }

    async fn record_check(
        &self,
        check: threadline_store::authenticity::AuthenticityCheck,
    ) -> Result<i64, StoreError> {
        self.check_record(check).await
    }

    async fn check(
        &self,
        id: i64,
    ) -> Result<Option<threadline_store::authenticity::AuthenticityCheck>, StoreError> {
        self.check_one(id).await
    }

    async fn check_history(
        &self,
        product: &str,
        serial: &str,
    ) -> Result<threadline_store::authenticity::CheckHistory, StoreError> {
        self.check_history_of(product, serial).await
    }

    async fn checks(
        &self,
        query: &threadline_store::authenticity::CheckQuery,
    ) -> Result<Vec<threadline_store::authenticity::AuthenticityCheck>, StoreError> {
        self.checks_in(query).await
    }

    async fn close_recall(
        &self,
        code: &str,
        closed_by: String,
        at: DateTime<Utc>,
        note: Option<String>,
        audit: Option<AuditOf<threadline_store::Recall>>,
    ) -> Result<threadline_store::Recall, StoreError> {
        self.recall_close(code, closed_by, at, note, audit).await
    }

    async fn counter(&self, scope: &str) -> Result<Option<u64>, StoreError> {
        let client = self.client().await?;
        lookup::counter(&client, scope).await
    }

    async fn label_templates(&self) -> Result<Vec<LabelTemplateRecord>, StoreError> {
        self.labels_list().await
    }

    async fn label_template(&self, name: &str) -> Result<Option<LabelTemplateRecord>, StoreError> {
        self.labels_get(name).await
    }

    async fn put_label_template(
        &self,
        write: LabelTemplateWrite,
        audit: Option<AuditOf<LabelTemplateRecord>>,
    ) -> Result<LabelTemplateRecord, StoreError> {
        self.labels_put(write, audit).await
    }

    async fn delete_label_template(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.labels_delete(name, audit).await
    }

    async fn label_units(
        &self,
        keys: &[ItemKey],
    ) -> Result<Vec<Option<threadline_store::LabelUnit>>, StoreError> {
        self.labels_units(keys).await
    }

    async fn put_capture_job(&self, job: CaptureJob) -> Result<(), StoreError> {
        self.put_job(&job).await
    }

    async fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError> {
        self.job(id).await
    }

    async fn create_named_query(
        &self,
        query: NamedQuery,
        audit: Option<AuditOf<NamedQuery>>,
    ) -> Result<(), StoreError> {
        self.create_query(&query, audit).await
    }

    async fn named_queries(&self) -> Result<Vec<NamedQuery>, StoreError> {
        self.queries(None).await
    }

    async fn named_query(&self, name: &str) -> Result<Option<NamedQuery>, StoreError> {
        self.queries(Some(name)).await.map(|v| v.into_iter().next())
    }

    async fn delete_named_query(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.query_delete(name, audit).await
    }

    async fn ledger_len(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT seq FROM ledger_head WHERE id = 1", &[])
            .await
            .map_err(db)?;
        col(&row, 0)
    }

    async fn create_subscription(
        &self,
        hook: Webhook,
        sub: threadline_store::webhook::EpcisSubscription,
        audit: Option<AuditOf<threadline_store::webhook::EpcisSubscription>>,
    ) -> Result<(), StoreError> {
        self.subscription_create(hook, sub, audit).await
    }

    async fn subscriptions(
        &self,
    ) -> Result<Vec<threadline_store::webhook::EpcisSubscription>, StoreError> {
        self.subscriptions_list().await
    }

    async fn delete_subscription(
        &self,
        id: Uuid,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.subscription_delete(id, audit).await
    }

    async fn advance_subscription(
        &self,
        run: threadline_store::webhook::SubscriptionRun,
    ) -> Result<bool, StoreError> {
        self.subscription_advance(run).await
    }

    async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Versioned<Product>>, StoreError> {
        let client = self.client().await?;
        lookup::product_by_gtin(&client, gtin).await
    }

    async fn qc_stats(
        &self,
        by: threadline_store::dashboard::QcBy,
        window: &threadline_store::dashboard::Window,
    ) -> Result<Vec<threadline_store::dashboard::QcRow>, StoreError> {
        self.dashboard_qc(by, window).await
    }

    async fn unit_counts(
        &self,
        places: Option<&[String]>,
    ) -> Result<threadline_store::dashboard::UnitCounts, StoreError> {
        self.dashboard_units(places).await
    }

    async fn channel(
        &self,
        window: &threadline_store::dashboard::Window,
    ) -> Result<threadline_store::dashboard::Channel, StoreError> {
        self.dashboard_channel(window).await
    }

    async fn service_stats(
        &self,
        window: &threadline_store::dashboard::Window,
        top: u32,
    ) -> Result<threadline_store::dashboard::ServiceStats, StoreError> {
        self.dashboard_service(window, top).await
    }

    async fn search(
        &self,
        text: &str,
        limit: u32,
    ) -> Result<threadline_store::search::SearchHits, StoreError> {
        self.search_text(text, limit).await
    }

    async fn units_of(
        &self,
        of: &threadline_store::search::UnitsOf,
        limit: u32,
    ) -> Result<Vec<threadline_store::search::UnitHit>, StoreError> {
        self.search_units_of(of, limit).await
    }

    async fn items_by_serial(&self, serial: &str, limit: u32) -> Result<Vec<ItemKey>, StoreError> {
        let client = self.client().await?;
        lookup::items_by_serial(&client, serial, limit).await
    }

    async fn user_count(&self) -> Result<i64, StoreError> {
        self.access_user_count().await
    }

    async fn change_access(
        &self,
        change: AccessChange,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Option<i64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        access::check_roles_defined(&tx, change.roles_given()).await?;
        match &change {
            AccessChange::CreateUser(u) => access::create_user(&tx, u).await?,
            AccessChange::SetPassword {
                name,
                password_hash,
                now,
                keep_session,
            } => {
                access::set_password(&tx, name, password_hash.clone(), *now, *keep_session).await?;
            }
            AccessChange::SetUserAccess {
                name,
                roles,
                site,
                party,
            } => {
                access::set_user_access(
                    &tx,
                    name,
                    roles,
                    site.as_ref().map(|s| s.as_str()),
                    party.as_ref().map(|p| p.as_str()),
                )
                .await?;
            }
            AccessChange::SetUserDisabled { name, disabled } => {
                access::set_user_disabled(&tx, name, *disabled).await?;
            }
            AccessChange::CreateToken(t) => access::create_token(&tx, t).await?,
            AccessChange::RevokeToken { name, now } => {
                access::revoke_token(&tx, name, *now).await?;
            }
            AccessChange::CreateRole(r) => access::create_role(&tx, r).await?,
            AccessChange::ReplaceRole { role, replaces } => {
                access::replace_role(&tx, role, *replaces).await?;
            }
            AccessChange::DeleteRole { name } => access::delete_role(&tx, name).await?,
        }
        let seq = match &audit {
            Some(r) => Some(audit::append_in(&tx, r).await?),
            None => None,
        };
        tx.commit().await.map_err(db)?;
        Ok(seq)
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        self.access_user(name).await
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.access_users().await
    }

    async fn login_failed(
        &self,
        name: &str,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<LoginFailure, StoreError> {
        self.access_login_failed(name, now, policy).await
    }

    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        self.access_login_succeeded(name).await
    }

    async fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.access_token_by_digest(digest).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.access_tokens().await
    }

    async fn token_used(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.access_token_used(id, now).await
    }

    async fn custom_roles(&self) -> Result<Vec<threadline_store::CustomRole>, StoreError> {
        self.access_custom_roles().await
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.access_create_session(session).await
    }

    async fn session(&self, id_digest: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        self.access_session(id_digest).await
    }

    async fn touch_session(
        &self,
        id_digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.access_touch_session(id_digest, now).await
    }

    async fn end_session(&self, id_digest: &[u8; 32]) -> Result<(), StoreError> {
        self.access_end_session(id_digest).await
    }

    async fn append_audit(
        &self,
        record: threadline_domain::audit::AuditRecord,
    ) -> Result<i64, StoreError> {
        self.audit_append(&record).await
    }

    async fn audit(
        &self,
        q: &threadline_store::AuditQuery,
    ) -> Result<Page<threadline_store::AuditEntry>, StoreError> {
        self.audit_search(q).await
    }

    async fn put_webhook(
        &self,
        write: WebhookWrite,
        audit: Option<AuditOf<Webhook>>,
    ) -> Result<Webhook, StoreError> {
        self.webhooks_put(write, audit).await
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.webhooks_list().await
    }

    async fn webhook(&self, name: &str) -> Result<Option<Webhook>, StoreError> {
        self.webhooks_get(name).await
    }

    async fn delete_webhook(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        self.webhooks_delete(name, audit).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_claim(micros(now), micros(lease_until), limit)
            .await
    }

    async fn finish_delivery(&self, id: Uuid, outcome: AttemptOutcome) -> Result<(), StoreError> {
        self.deliveries_finish(id, outcome).await
    }

    async fn deliveries(&self, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
        self.deliveries_list(q).await
    }

    async fn delivery(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        self.deliveries_get(id).await
    }

    async fn delivery_attempts(&self, id: Uuid) -> Result<Vec<Attempt>, StoreError> {
        self.deliveries_attempts(id).await
    }

    async fn redeliver(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditOf<Delivery>>,
    ) -> Result<Delivery, StoreError> {
        self.deliveries_redeliver(id, micros(now), audit).await
    }
}
