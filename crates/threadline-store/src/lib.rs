//! The storage interface: what Threadline asks of a database, and nothing about how.
//!
//! One trait, [`Store`], chosen once at start-up from the database URL; one crate per engine
//! (`threadline-store-sqlite`, `threadline-store-postgres`) owns its SQL and migrations. Handlers
//! never see driver types. Every engine passes the same contract tests
//! (`crates/threadline-testkit`), which is how "identical behaviour" is kept true.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::{FieldError, Violations};
use threadline_domain::event::{Event, EventKind, HoldKind};
use threadline_domain::ledger::{Break, MasterChange};
use threadline_domain::mask::{Mask, Visibility};
use threadline_domain::master::{Location, MasterRecord, Party, Product, SerialRuleDef};
use threadline_domain::process::Process;
use threadline_domain::projection::{Discrepancy, ItemStatus, LotState, Node};
use threadline_domain::quantity::Quantity;
use uuid::Uuid;

pub mod access;
pub mod audit;
pub mod authenticity;
pub mod batch;
pub mod dashboard;
pub mod epcis;
pub mod import;
pub mod master;
pub mod query;
pub mod recall;
pub mod search;
pub mod webhook;

pub use access::{
    AccessChange, CustomRole, LoginFailure, NewSession, NewToken, NewUser, SessionRecord,
    TokenRecord, UserRecord, UserView,
};
pub use audit::{AuditEntry, AuditOf, AuditQuery};
pub use recall::{Recall, RecallMember, RecallNarrowing};

/// Why a storage call failed. Small on purpose: callers map it to a status code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request is well-formed but breaks a rule of the current state; every problem found.
    #[error("refused: {}", .0.first().map(ToString::to_string).unwrap_or_default())]
    Invalid(Violations),
    /// A uniqueness rule was hit (a serial captured twice, a product code taken).
    #[error("conflict: {0}")]
    Conflict(FieldError),
    #[error("not found: {0}")]
    NotFound(String),
    /// The database is newer than this program, or its schema is otherwise unusable.
    #[error("schema: {0}")]
    Schema(String),
    /// The database failed; the text is for the log, never for a response body.
    #[error("database: {0}")]
    Database(String),
}

impl StoreError {
    pub fn db(e: impl std::fmt::Display) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A client's promise that a retried request is the same request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    /// SHA-256 of the request body: the same key with another body is refused.
    pub request_hash: [u8; 32],
}

/// What the ledger said about one appended entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Receipt {
    pub id: Uuid,
    pub seq: i64,
    /// Hex SHA-256 chain hash.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    Recorded(Vec<Receipt>),
    /// The idempotency key was seen before: these are the first request's receipts and nothing
    /// new was written.
    Replayed(Vec<Receipt>),
}

impl CaptureOutcome {
    pub fn receipts(&self) -> &[Receipt] {
        match self {
            CaptureOutcome::Recorded(r) | CaptureOutcome::Replayed(r) => r,
        }
    }
}

/// A master-data write.
#[derive(Debug, Clone)]
pub struct MasterWrite {
    pub record: MasterRecord,
    pub actor: String,
    pub now: DateTime<Utc>,
    pub id: Uuid,
    /// `None`: create, refusing an existing code. `Some(v)`: replace version `v`, refusing if
    /// the current version is another (someone changed it meanwhile).
    pub replaces: Option<u32>,
}

/// A definition with its version and when it last changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Versioned<T> {
    #[serde(flatten)]
    pub def: T,
    pub version: u32,
    pub updated_at: DateTime<Utc>,
}

impl<T: Mask> Mask for Versioned<T> {
    fn mask(&mut self, v: Visibility) {
        self.def.mask(v);
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Substring of code or name, case-insensitive.
    pub search: Option<String>,
    /// `kind` for parties and locations, `tracking` for products.
    pub kind: Option<String>,
    /// Locations only: the parent location.
    pub parent: Option<String>,
    /// Return codes after this one (keyset paging).
    pub after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T: Mask> Mask for Page<T> {
    fn mask(&mut self, v: Visibility) {
        self.items.mask(v);
    }
}

/// A stored label template. The definition is JSON that `threadline-labels` reads; the store
/// keeps it as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LabelTemplateRecord {
    pub name: String,
    pub definition: serde_json::Value,
    pub version: u32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// What a printed label needs of one unit: its state (a first print or a reprint), its lot
/// and its attributes. Read in batches by [`Store::label_units`].
#[derive(Debug, Clone, PartialEq)]
pub struct LabelUnit {
    pub status: ItemStatus,
    pub lot: Option<String>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// A label of it was printed before: an `OBSERVE` event with business step `encoding`
    /// names it (a first print, a reprint, or labels marked printed elsewhere).
    pub labelled: bool,
}

/// Creating or replacing a label template.
#[derive(Debug, Clone)]
pub struct LabelTemplateWrite {
    pub name: String,
    pub definition: serde_json::Value,
    pub actor: String,
    pub now: DateTime<Utc>,
    /// `None`: create, refusing an existing name. `Some(v)`: replace version `v`, refusing
    /// another version (a conflict) or a missing template (not found).
    pub replaces: Option<u32>,
}

impl NamedQuery {
    /// The refusal when the name is taken.
    pub fn taken(&self) -> StoreError {
        StoreError::Conflict(
            FieldError::new(
                "already_exists",
                format!("a query named {} exists already", self.name),
            )
            .at("name"),
        )
    }
}

impl LabelTemplateWrite {
    /// The refusal when the name is taken.
    pub fn taken(&self) -> StoreError {
        StoreError::Conflict(
            FieldError::new(
                "already_exists",
                format!("label template {} already exists", self.name),
            )
            .at("name"),
        )
    }
    /// The refusal when the stored version is not the one replaced.
    pub fn stale(&self, current: u32) -> StoreError {
        StoreError::Conflict(
            FieldError::new(
                "version_mismatch",
                format!(
                    "label template {} is at version {current}, not {}; reload it and try again",
                    self.name,
                    self.replaces.unwrap_or(0)
                ),
            )
            .at("If-Match"),
        )
    }
}

/// The current state of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ItemView {
    pub product: String,
    pub serial: String,
    pub status: ItemStatus,
    pub holds: Vec<HoldKind>,
    pub location: Option<String>,
    pub custodian: Option<String>,
    pub lot: Option<String>,
    pub parent: Option<ItemKey>,
    pub children: Vec<ItemKey>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Events that name this unit.
    pub event_count: i64,
    pub first_seen: DateTime<Utc>,
    pub last_event_time: DateTime<Utc>,
}

/// Which units or lots a list shows, in the order they were first registered.
#[derive(Debug, Clone, Default)]
pub struct StateQuery {
    pub product: Option<String>,
    /// Units in this status (lots have none).
    pub status: Option<ItemStatus>,
    /// Units at this location; lots with stock at it.
    pub location: Option<String>,
    /// Units at one of these locations; lots with stock at one (`None`: anywhere). A site's
    /// places, for an account bound to a site.
    pub places: Option<Vec<String>>,
    /// Resume after this position (`Page::next` of the previous page).
    pub after: Option<i64>,
    pub limit: u32,
}

/// One unit in a list: its current state, without genealogy or history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ItemRow {
    pub product: String,
    pub serial: String,
    pub status: ItemStatus,
    pub holds: Vec<HoldKind>,
    pub location: Option<String>,
    pub custodian: Option<String>,
    pub lot: Option<String>,
    /// The unit it is built or packed into.
    pub parent: Option<ItemKey>,
}

impl ItemRow {
    /// From the columns of the units table; a value that does not parse is a schema problem.
    #[allow(clippy::too_many_arguments)]
    pub fn from_columns(
        product: String,
        serial: String,
        status: &str,
        holds: Vec<HoldKind>,
        location: Option<String>,
        custodian: Option<String>,
        lot: Option<String>,
        parent: Option<(String, String)>,
    ) -> Result<ItemRow> {
        let schema = |e: threadline_domain::error::FieldError| StoreError::Schema(e.message);
        Ok(ItemRow {
            status: ItemStatus::parse(status)
                .ok_or_else(|| StoreError::Schema(format!("unknown unit status `{status}`")))?,
            product,
            serial,
            holds,
            location,
            custodian,
            lot,
            parent: match parent {
                Some((p, s)) => Some(ItemKey {
                    product: threadline_domain::ProductCode::parse(&p).map_err(schema)?,
                    serial: threadline_domain::Serial::parse(&s).map_err(schema)?,
                }),
                None => None,
            },
        })
    }
}

/// A page from up to `limit + 1` rows read with their positions: the extra row only says
/// there is a next page, which starts after the last position shown.
pub fn page_of<T>(mut rows: Vec<(i64, T)>, limit: u32) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|(pos, _)| pos.to_string())
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(|(_, t)| t).collect(),
        next,
    }
}

/// The current state of one lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LotView {
    pub product: String,
    pub lot: String,
    pub production_date: Option<chrono::NaiveDate>,
    pub expiry_date: Option<chrono::NaiveDate>,
    pub holds: Vec<HoldKind>,
    pub stock: Vec<StockLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StockLine {
    pub location: String,
    pub quantity: Quantity,
}

/// Stock that may be picked: a lot quantity at a location, or one unit.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Available {
    pub lot: Option<String>,
    pub serial: Option<String>,
    pub location: Option<String>,
    pub quantity: Quantity,
    pub expiry_date: Option<chrono::NaiveDate>,
    /// Its age for FIFO: the lot's production date, else when it was first recorded.
    pub since: DateTime<Utc>,
}

impl Available {
    /// Builds a lot row of [`query::AVAILABLE_LOTS`].
    pub fn lot_row(
        code: String,
        location: String,
        millis: i64,
        expiry: Option<String>,
        production: Option<String>,
        first_micros: Option<i64>,
    ) -> Available {
        let date = |d: Option<String>| {
            d.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        };
        let produced = date(production)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc());
        Available {
            lot: Some(code),
            serial: None,
            location: Some(location),
            quantity: Quantity::from_millis(millis),
            expiry_date: date(expiry),
            since: produced.unwrap_or_else(|| from_micros(first_micros)),
        }
    }

    /// Builds a unit row of [`query::AVAILABLE_UNITS`].
    pub fn unit_row(
        serial: String,
        location: Option<String>,
        first_micros: Option<i64>,
    ) -> Available {
        Available {
            lot: None,
            serial: Some(serial),
            location,
            quantity: Quantity::from_millis(1000),
            expiry_date: None,
            since: from_micros(first_micros),
        }
    }
}

fn from_micros(us: Option<i64>) -> DateTime<Utc> {
    us.and_then(DateTime::from_timestamp_micros)
        .unwrap_or_default()
}

/// Filters for listing events. All given filters must match.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub item: Option<ItemKey>,
    pub lot: Option<LotKey>,
    pub kind: Option<EventKind>,
    pub biz_step: Option<String>,
    pub biz_location: Option<String>,
    pub biz_transaction: Option<(String, String)>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The EPCIS `eventID` an event was captured with (not `urn:uuid:` ones: those are `id`s).
    pub epcis_id: Option<String>,
    /// Only error declarations (`true`) or only the others (`false`).
    pub declared: Option<bool>,
    /// Keyset paging: only entries with a ledger sequence above this.
    pub after_seq: Option<i64>,
    /// Events naming one of these objects recorded as given (`Event::untracked`), by the
    /// `event_objects` index (migration 0029) — a superset the caller still judges: until a
    /// database upgraded with events in its ledger is rebuilt, the index is not trusted and
    /// this narrows nothing.
    pub objects: Option<Vec<ObjectMatch>>,
    /// With `item` or `lot`: events that named that unit or lot by one of these URIs while it
    /// was recorded as given (before a product took the GTIN on) match too, by the
    /// `event_objects` index — or every event, until that index is trusted.
    pub given: Vec<String>,
    pub limit: u32,
}

/// Which discrepancies [`Store::discrepancy_list`] reads: every given filter must match.
#[derive(Debug, Clone, Default)]
pub struct DiscrepancyQuery {
    /// Only discrepancies of this kind.
    pub kind: Option<threadline_domain::projection::DiscrepancyKind>,
    /// Only these codes (`on_hold`, `qc_hold`…); empty: every code.
    pub codes: Vec<String>,
    /// Only those of events recorded at or after this time (the ledger's `recorded_at`: when
    /// the partner's report reached Threadline, not when it says the event happened).
    pub since: Option<DateTime<Utc>>,
    /// Keyset paging, newest first: only discrepancies before this position.
    pub before: Option<DiscrepancyPosition>,
    pub limit: u32,
}

/// Where a discrepancy is in the ledger: its event's sequence and its order within the event.
/// Pages run newest first: by event, and within an event from its last discrepancy back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscrepancyPosition {
    pub seq: i64,
    pub n: i64,
}

impl DiscrepancyPosition {
    /// The `next` of a page (`41.0`), read back; `None` if it is not one.
    pub fn parse(s: &str) -> Option<DiscrepancyPosition> {
        let (seq, n) = s.split_once('.')?;
        Some(DiscrepancyPosition {
            seq: seq.parse().ok()?,
            n: n.parse().ok()?,
        })
    }
}

impl std::fmt::Display for DiscrepancyPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.seq, self.n)
    }
}

/// One discrepancy of a partner's event with where and when it was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DiscrepancyRow {
    /// The event's ledger position.
    pub seq: i64,
    /// Its order within the event.
    pub n: i64,
    pub event_id: Uuid,
    /// When the partner says the event happened.
    pub event_time: DateTime<Utc>,
    /// When Threadline recorded it.
    pub recorded_at: DateTime<Utc>,
    #[serde(flatten)]
    pub discrepancy: Discrepancy,
}

impl DiscrepancyRow {
    pub fn position(&self) -> DiscrepancyPosition {
        DiscrepancyPosition {
            seq: self.seq,
            n: self.n,
        }
    }
}

/// One object of [`EventQuery::objects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectMatch {
    /// This URI, in its canonical form ([`epcis::object_uris`]) or as an event wrote it.
    Uri(String),
    /// Every URI starting with this.
    Prefix(String),
}

/// An EPCIS named query: a name for a set of Simple Event Query parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NamedQuery {
    pub name: String,
    /// Parameter → value (several values joined with `|`).
    pub query: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// An EPCIS capture job as `GET /epcis/capture/{id}` shows it; plain rows, not ledger entries
/// (the events are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptureJob {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// Who sent the document.
    pub actor: String,
    /// The site the sender was bound to when it sent the document (`None`: no site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    pub job: serde_json::Value,
}

/// An event as read back: the event, its place in the ledger, and later corrections of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredEvent {
    pub seq: i64,
    pub hash: String,
    #[serde(flatten)]
    pub event: Event,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub corrected_by: Vec<Uuid>,
    /// Units the event named that this view of it leaves out (a unit's passport shows a batch
    /// event with that unit only); 0 when the event is whole.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub others: u64,
    /// In a unit's timeline: the container the event named, which held this unit at the time
    /// — the unit moved (was shipped, received, held…) as part of it. Absent when the event
    /// names the unit itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub via: Option<ItemKey>,
    /// Where this EPCIS capture disagreed with the state when it was applied
    /// ([`Discrepancy`]): filled by the readers that show them, from [`Store::discrepancies`]
    /// (a store's read leaves it empty).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub discrepancies: Vec<Discrepancy>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl StoredEvent {
    /// Keeps of the event what concerns the unit `key`: the unit itself, the unit it went
    /// into (`parent`), and — when `key` is the parent — its components. What else it named is
    /// counted in [`StoredEvent::others`].
    pub fn narrow_to(&mut self, key: &threadline_domain::codes::ItemKey) {
        let e = &mut self.event;
        let before = e.items.len() + e.children.len() + e.inputs.len() + e.outputs.len();
        let is_parent = e.parent.as_ref() == Some(key);
        e.items.retain(|k| k == key);
        if !is_parent {
            e.children.retain(|k| k == key);
        }
        e.inputs.retain(|k| k == key);
        e.outputs.retain(|k| k == key);
        let after = e.items.len() + e.children.len() + e.inputs.len() + e.outputs.len();
        self.others += u64::try_from(before - after).unwrap_or(u64::MAX);
    }
}

/// Events naming at least this many units keep a *head* beside their ledger body: the event
/// without its unit lists. A unit's passport reads the head of a batch event (a work order of
/// hundreds commissioned, a pallet shipped) instead of reading and decoding every key it names.
pub const HEAD_MIN_UNITS: usize = 8;

/// The head of `ev` — the event as JSON without `items`, `children`, `inputs` and `outputs` —
/// and how many unit keys those lists hold; `None` for an event naming fewer than
/// [`HEAD_MIN_UNITS`] units, which is read whole. Written by the engines in the event index
/// at capture and rebuild; derived data, not part of the hashed ledger body.
pub fn event_head(ev: &Event) -> Option<(String, i64)> {
    let units = ev.items.len() + ev.children.len() + ev.inputs.len() + ev.outputs.len();
    if units < HEAD_MIN_UNITS {
        return None;
    }
    // Everything but the unit lists, which are not copied: a block's are 100,000 keys.
    let head = Event {
        items: Vec::new(),
        children: Vec::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        id: ev.id,
        kind: ev.kind,
        action: ev.action,
        event_time: ev.event_time,
        event_time_zone_offset: ev.event_time_zone_offset.clone(),
        record_time: ev.record_time,
        actor: ev.actor.clone(),
        biz_step: ev.biz_step.clone(),
        disposition: ev.disposition.clone(),
        read_point: ev.read_point.clone(),
        biz_location: ev.biz_location.clone(),
        lots: ev.lots.clone(),
        parent: ev.parent.clone(),
        child_lots: ev.child_lots.clone(),
        input_lots: ev.input_lots.clone(),
        output_lots: ev.output_lots.clone(),
        untracked: ev.untracked.clone(),
        class_quantities: ev.class_quantities.clone(),
        biz_transactions: ev.biz_transactions.clone(),
        sources: ev.sources.clone(),
        destinations: ev.destinations.clone(),
        ilmd: ev.ilmd.clone(),
        hold: ev.hold,
        corrects: ev.corrects.clone(),
        allocation: ev.allocation.clone(),
        error_declaration: ev.error_declaration.clone(),
        fields: ev.fields.clone(),
        epcis_id: ev.epcis_id.clone(),
        hash_id: ev.hash_id.clone(),
        epcis_capture: ev.epcis_capture,
        epcis: ev.epcis.clone(),
        process_discrepancies: ev.process_discrepancies.clone(),
    };
    let json = serde_json::to_string(&head).ok()?;
    Some((json, i64::try_from(units).unwrap_or(i64::MAX)))
}

/// The refusal of allocated serials that turn out to be registered already. An allocation's
/// serials are not looked up before the projection applies its event
/// ([`threadline_domain::projection::Needs::of`]); the unique key on units finds such a
/// serial when the engine inserts it, and this names it as the projection names any serial
/// registered twice (`duplicate_serial`, `items[i].serial`, within `events[j]` when the
/// batch's fields are prefixed).
pub fn already_registered<'a>(
    events: &[threadline_domain::event::Event],
    keys: impl IntoIterator<Item = &'a ItemKey>,
    prefix_index: bool,
) -> StoreError {
    let mut found = Vec::new();
    for key in keys {
        let at = events.iter().enumerate().find_map(|(j, ev)| {
            ev.allocation.as_ref()?;
            ev.items.iter().position(|k| k == key).map(|i| (j, i))
        });
        let e = FieldError::new(
            "duplicate_serial",
            format!(
                "serial {} of {} is already registered",
                key.serial, key.product
            ),
        );
        found.push(match at {
            Some((j, i)) if prefix_index => e
                .at(format!("items[{i}].serial"))
                .within(&format!("events[{j}]")),
            Some((_, i)) => e.at(format!("items[{i}].serial")),
            None => e,
        });
    }
    StoreError::Invalid(found)
}

/// A unit's key from the product code and serial an engine read back.
pub fn item_key(product: &str, serial: &str) -> Result<ItemKey> {
    Ok(ItemKey {
        product: threadline_domain::ProductCode::parse(product)
            .map_err(|e| StoreError::Schema(e.message))?,
        serial: threadline_domain::Serial::parse(serial)
            .map_err(|e| StoreError::Schema(e.message))?,
    })
}

/// A unit's state, product and timeline from one snapshot ([`Store::unit_history`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UnitHistory {
    pub state: ItemView,
    pub product: Option<Versioned<Product>>,
    pub timeline: Vec<StoredEvent>,
}

/// One row of a unit's timeline as an engine reads it: the unit's role in the event (an event
/// may name a unit in two roles, one row each), and either the event's head or — when it has
/// none, or the unit is the parent and keeps its components — the ledger body. A row of an
/// event on a container that held the unit then names that container in `via` (its role is
/// the container's: subject).
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub seq: i64,
    pub role: i64,
    pub via: Option<ItemKey>,
    pub head: Option<String>,
    pub units: Option<i64>,
    pub body: Option<String>,
    pub hash: Vec<u8>,
    pub corrected_by: Vec<Uuid>,
}

/// The events naming `key`, each narrowed to it as [`StoredEvent::narrow_to`] does, and the
/// events on the containers that held it while they did, each narrowed to that container and
/// marked with it (`via`), from the rows an engine read in ledger order (for one event, the
/// rows naming the unit itself before those of a container).
pub fn timeline(key: &ItemKey, rows: Vec<TimelineRow>) -> Result<Vec<StoredEvent>> {
    use threadline_domain::event::Role;
    let schema = |seq: i64, e: serde_json::Error| StoreError::Schema(format!("entry {seq}: {e}"));
    let mut out: Vec<StoredEvent> = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.next() {
        let mut group = vec![first];
        while let Some(next) = rows.next_if(|r| r.seq == group[0].seq) {
            group.push(next);
        }
        // An event naming the unit and the container it is in (both shipped) is the unit's
        // own; otherwise it came through one container (a unit is in one at a time).
        let via = if group.iter().any(|r| r.via.is_none()) {
            group.retain(|r| r.via.is_none());
            None
        } else {
            group.truncate(1);
            group[0].via.clone()
        };
        let subject = via.as_ref().unwrap_or(key);
        let seq = group[0].seq;
        let whole = group.iter_mut().find_map(|r| r.body.take());
        let row = &group[0];
        let stored = match (whole, row.head.as_deref(), row.units) {
            (Some(body), _, _) => {
                let event = threadline_domain::ledger::event_from_body(&body)
                    .map_err(|e| schema(seq, e))?;
                let mut stored = StoredEvent {
                    seq,
                    hash: hex::encode(&row.hash),
                    event,
                    corrected_by: row.corrected_by.clone(),
                    others: 0,
                    via: via.clone(),
                    discrepancies: Vec::new(),
                };
                stored.narrow_to(subject);
                stored
            }
            (None, Some(head), Some(units)) => {
                let mut event: Event = serde_json::from_str(head).map_err(|e| schema(seq, e))?;
                for r in &group {
                    let list = match Role::from_code(r.role) {
                        Some(Role::Subject) => &mut event.items,
                        Some(Role::Child) => &mut event.children,
                        Some(Role::Input) => &mut event.inputs,
                        Some(Role::Output) => &mut event.outputs,
                        Some(Role::Parent) | None => {
                            return Err(StoreError::Schema(format!(
                                "entry {seq}: role {} read without the event body",
                                r.role
                            )));
                        }
                    };
                    list.push(subject.clone());
                }
                let named = i64::try_from(group.len()).unwrap_or(i64::MAX);
                StoredEvent {
                    seq,
                    hash: hex::encode(&row.hash),
                    event,
                    corrected_by: row.corrected_by.clone(),
                    others: u64::try_from(units - named).unwrap_or(0),
                    via: via.clone(),
                    discrepancies: Vec::new(),
                }
            }
            _ => {
                return Err(StoreError::Schema(format!(
                    "entry {seq}: neither a head nor the body was read"
                )));
            }
        };
        out.push(stored);
    }
    Ok(out)
}

/// A unit's custom attribute values are judged by their names (see
/// [`threadline_domain::mask`]): a product may define `customer_name` or `unit_price`.
impl Mask for ItemView {
    fn mask(&mut self, v: Visibility) {
        threadline_domain::mask::mask_map(&mut self.attributes, v);
    }
}

impl Mask for StoredEvent {
    fn mask(&mut self, v: Visibility) {
        self.event.mask(v);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VerifyReport {
    pub entries: i64,
    /// Records in the audit trail's chain, checked after the ledger.
    pub audit_records: i64,
    /// The first break found; `None` means the ledger is intact.
    #[serde(serialize_with = "ser_break")]
    #[schemars(with = "Option<String>")]
    pub first_break: Option<Break>,
}

fn ser_break<S: serde::Serializer>(
    b: &Option<Break>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_some(&b.to_string()),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RebuildReport {
    pub entries: i64,
    pub items: i64,
    pub lots: i64,
}

/// One genealogy link, as in the projection.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct EdgeRow {
    pub parent: Node,
    pub child: Node,
    pub kind: String,
    pub quantity: Option<Quantity>,
    pub from_event: Uuid,
    pub to_event: Option<Uuid>,
}

/// Which way to walk the genealogy from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What went into it: components, consumed lots and inputs (backward trace).
    Children,
    /// What it went into: assemblies, containers and outputs (forward trace).
    Parents,
}

/// One genealogy link seen from a node: the node at the other end and the interval the link held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Link {
    pub node: Node,
    pub kind: String,
    pub quantity: Option<Quantity>,
    pub from_time: DateTime<Utc>,
    /// When the link ended (a part removed in a repair); open if absent.
    pub to_time: Option<DateTime<Utc>>,
}

impl Link {
    /// Did the link hold at `t`?
    pub fn held_at(&self, t: DateTime<Utc>) -> bool {
        self.from_time <= t && self.to_time.is_none_or(|end| end > t)
    }
}

/// Everything derived from the ledger, in a canonical order: two snapshots are equal exactly
/// when the projections are. Used to prove `rebuild` reproduces the live state.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Snapshot {
    pub products: Vec<(String, u32, String)>,
    pub parties: Vec<(String, u32, String)>,
    pub locations: Vec<(String, u32, String)>,
    pub items: Vec<(ItemKey, String)>,
    pub lots: Vec<(LotKey, LotState)>,
    pub stock: Vec<(LotKey, String, Quantity)>,
    pub edges: Vec<EdgeRow>,
    pub events: Vec<(i64, Uuid)>,
    /// Serial counters: scope and next value.
    pub counters: Vec<(String, u64)>,
    /// The stored process definition: code, version, definition.
    pub processes: Vec<(String, u32, String)>,
    /// Stored serial rules: code, version, definition.
    pub serial_rules: Vec<(String, u32, String)>,
    /// Category assignments of serial rules: category, rule code.
    pub rule_categories: Vec<(String, String)>,
    /// What EPCIS captures disagreed with: the event's ledger position, in order.
    pub discrepancies: Vec<(i64, Discrepancy)>,
}

/// The storage interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// Appends `events` to the ledger and moves the projection, all or nothing. The events have
    /// passed [`Event::from_request`]; this checks them against the current state.
    async fn capture(
        &self,
        events: Vec<Event>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<CaptureOutcome> {
        self.capture_audited(events, idempotency, None).await
    }
    /// [`Store::capture`], and the audit record `audit` builds from the receipts appended in
    /// the same transaction: both or neither. A replay ([`CaptureOutcome::Replayed`]) records
    /// nothing and builds no record.
    async fn capture_audited(
        &self,
        events: Vec<Event>,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome>;

    /// [`Store::capture_audited`] for an EPCIS document: its events and the vocabulary elements
    /// of its header (`master`), with the audit record, in one transaction — all or nothing. An
    /// element is keyed by its vocabulary type and [`epcis::VocabularyElement::key`]; one stated
    /// again replaces what was stored (attributes and children: the latest header wins), with
    /// `master.recorded_at`. Master data never touches Threadline's own locations. With no
    /// events, only the master data (and the record) is written.
    async fn capture_epcis(
        &self,
        events: Vec<Event>,
        master: epcis::MasterData,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome>;

    /// The stored EPCIS vocabulary elements of type `vtype` whose keys
    /// ([`epcis::VocabularyElement::key`]) are among `keys`, in no particular order.
    async fn vocabulary(
        &self,
        vtype: &str,
        keys: &[String],
    ) -> Result<Vec<epcis::StoredVocabulary>>;

    /// The stored EPCIS vocabulary elements of type `vtype`, in order of their keys, at most
    /// `limit` of them after the key `after` (a page: the next starts after the last key).
    async fn vocabulary_page(
        &self,
        vtype: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<epcis::StoredVocabulary>>;

    /// Records imported events (a bulk import of serials, lots or opening stock) in one
    /// transaction, all or nothing, checked against the current state like [`Store::capture`].
    /// Every refusal is reported with its event's index (`events[3].items[0]`); with `dry_run`
    /// nothing is kept even when every event passes. Imported history enqueues no webhook
    /// deliveries: subscribers hear of what happens, not of a plant's opening balance.
    ///
    /// With `idempotency`, the key is looked up first, as [`Store::capture`] does: a key seen
    /// before answers its first receipts ([`CaptureOutcome::Replayed`]) before anything is
    /// checked, the same key with another request hash is refused (`idempotency_key_reused`),
    /// and a new key is kept with the receipts when this commits (never on a dry run), as is
    /// the record `audit` builds from the receipts.
    async fn capture_import(
        &self,
        events: Vec<Event>,
        dry_run: bool,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome>;

    /// Opens a bulk import recorded a chunk at a time in one write transaction
    /// ([`import::ImportSession`]): the file's rows are checked and recorded in bounded memory,
    /// and kept all or nothing. With `idempotency`, the key is looked up first, as
    /// [`Store::capture_import`] does: a key seen before answers what its commit remembered
    /// ([`import::ImportStart::Replayed`]) and opens nothing; the same key with another request
    /// hash is refused (`idempotency_key_reused`); a new key is kept by the commit. Imported
    /// events enqueue no webhook deliveries. The transaction holds the ledger's head (every
    /// other writer waits) until the session commits, rolls back or is dropped.
    async fn begin_import(
        &self,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<import::ImportStart>;

    /// Records a master-data create or change as a ledger entry and updates its projection,
    /// and appends `audit` to the audit trail in the same transaction: both or neither.
    async fn put_master_audited(
        &self,
        write: MasterWrite,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Receipt>;
    /// [`Store::put_master_audited`] without an audit record.
    async fn put_master(&self, write: MasterWrite) -> Result<Receipt> {
        self.put_master_audited(write, None).await
    }
    /// Records master-data writes in one transaction, all or nothing (a bulk import). Every
    /// refusal is reported, its field prefixed with the write's index (`[3].parent`); with
    /// `dry_run` nothing is kept even when every write passes. `idempotency` and `audit` as
    /// for [`Store::capture_import`].
    async fn put_masters(
        &self,
        writes: Vec<MasterWrite>,
        dry_run: bool,
        idempotency: Option<IdempotencyKey>,
        audit: Option<AuditOf<Vec<Receipt>>>,
    ) -> Result<CaptureOutcome>;

    async fn product(&self, code: &str) -> Result<Option<Versioned<Product>>>;
    async fn products(&self, q: &ListQuery) -> Result<Page<Versioned<Product>>>;
    async fn party(&self, code: &str) -> Result<Option<Versioned<Party>>>;
    async fn parties(&self, q: &ListQuery) -> Result<Page<Versioned<Party>>>;
    async fn location(&self, code: &str) -> Result<Option<Versioned<Location>>>;
    async fn locations(&self, q: &ListQuery) -> Result<Page<Versioned<Location>>>;
    /// Every version of one master record, oldest first.
    async fn master_history(&self, kind: &str, code: &str) -> Result<Vec<MasterChange>>;
    /// The stored process definition; `None` until one is written (capture then uses
    /// [`Process::default`]).
    async fn process(&self) -> Result<Option<Versioned<Process>>>;
    /// A stored serial rule by its code.
    async fn serial_rule(&self, code: &str) -> Result<Option<Versioned<SerialRuleDef>>>;
    /// Stored serial rules in code order (paged and searched like the other master lists).
    async fn serial_rules(&self, q: &ListQuery) -> Result<Page<Versioned<SerialRuleDef>>>;
    /// The serial rule assigned to a product category, if any.
    async fn category_serial_rule(
        &self,
        category: &str,
    ) -> Result<Option<Versioned<SerialRuleDef>>>;

    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>>;
    /// The current state of each unit of `keys`, in their order (`None` for one not
    /// registered), read in one statement: what a trace needs of the units its parts are built
    /// into, without a [`Store::item`] — its children and event counts — per unit.
    async fn unit_states(&self, keys: &[ItemKey]) -> Result<Vec<Option<UnitState>>>;
    async fn lot(&self, key: &LotKey) -> Result<Option<LotView>>;
    /// Units by product, status and location, a page at a time.
    async fn item_list(&self, q: &StateQuery) -> Result<Page<ItemRow>>;
    /// Lots by product and location (with stock there), a page at a time.
    async fn lot_list(&self, q: &StateQuery) -> Result<Page<LotView>>;
    async fn event(&self, id: Uuid) -> Result<Option<StoredEvent>>;
    /// Where the events `ids` (EPCIS captures) disagreed with the state when they were
    /// applied ([`Discrepancy`]), each with its event's id, in ledger order; an event with
    /// none has no entry.
    async fn discrepancies(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Discrepancy)>>;
    /// The discrepancies `q` selects, newest first ([`DiscrepancyPosition`]), a page of
    /// `q.limit` at a time; `next` is the last row's position.
    async fn discrepancy_list(&self, q: &DiscrepancyQuery) -> Result<Page<DiscrepancyRow>>;
    /// How many discrepancies `q` selects (its `before` and `limit` ignored).
    async fn discrepancy_count(&self, q: &DiscrepancyQuery) -> Result<i64>;
    async fn events(&self, q: &EventQuery) -> Result<Page<StoredEvent>>;
    /// What a unit's passport is made of, read in one snapshot: its state, its product and
    /// every event naming it in ledger order, each narrowed to it ([`StoredEvent::narrow_to`];
    /// a batch event is read from its head ([`event_head`]), not decoded whole). `None` when
    /// the unit is not registered.
    async fn unit_history(&self, key: &ItemKey) -> Result<Option<UnitHistory>>;

    /// Walks the hash chain and the event index.
    async fn verify(&self) -> Result<VerifyReport>;
    /// Recomputes every projection from the ledger.
    async fn rebuild(&self) -> Result<RebuildReport>;
    /// The whole projection, canonically ordered.
    async fn snapshot(&self) -> Result<Snapshot>;

    /// The direct genealogy links of a node, oldest first; empty if the node does not exist.
    async fn links(&self, node: &Node, direction: Direction) -> Result<Vec<Link>>;
    /// Walks the genealogy from `roots` in one set-based statement (a recursive CTE): every node
    /// reached through links that held at `as_of`, each once, at its smallest depth, with its
    /// current holds and (units) state. Backward, a link that ended by `as_of` (a part swapped
    /// out) is listed with its end and not followed. The starting nodes come first, at depth 0
    /// (unknown ones are left out); then by depth and link order. Rows arrive in chunks of
    /// [`REACH_CHUNK`] while the statement runs, so a caller can write them out as they come.
    async fn reach(
        &self,
        roots: Vec<Node>,
        direction: Direction,
        as_of: DateTime<Utc>,
    ) -> Result<ReachStream>;
    // Recall campaigns.

    /// Stores a campaign and its members, with its audit record; a taken code is `Conflict` on
    /// field `code`.
    async fn create_recall(
        &self,
        recall: Recall,
        members: Vec<RecallMember>,
        audit: Option<AuditOf<()>>,
    ) -> Result<()>;
    async fn recall(&self, code: &str) -> Result<Option<Recall>>;
    /// Every campaign, newest first.
    async fn recalls(&self) -> Result<Vec<Recall>>;
    /// A campaign's units and lots, in trace order, including those a narrowing took out
    /// (`removed_by` set).
    async fn recall_members(&self, code: &str) -> Result<Vec<RecallMember>>;
    /// Narrows an open campaign in one transaction: marks the `removed` members (still
    /// covered ones) as taken out by a new narrowing and records it, numbered after the last
    /// one (`narrowing.n` is ignored), with its audit record. `NotFound`, or `Invalid`
    /// (`recall_closed`) if closed.
    async fn narrow_recall(
        &self,
        code: &str,
        narrowing: RecallNarrowing,
        removed: Vec<Node>,
        audit: Option<AuditOf<RecallNarrowing>>,
    ) -> Result<RecallNarrowing>;
    /// A campaign's narrowings, oldest first.
    async fn recall_narrowings(&self, code: &str) -> Result<Vec<RecallNarrowing>>;
    /// Closes a campaign, with its audit record: `NotFound`, or `Invalid` (`already_closed`)
    /// if it was closed.
    async fn close_recall(
        &self,
        code: &str,
        closed_by: String,
        at: DateTime<Utc>,
        note: Option<String>,
        audit: Option<AuditOf<Recall>>,
    ) -> Result<Recall>;

    // Authenticity checks.

    /// Records one authenticity check.
    /// Records one authenticity check and, in the same transaction, queues a webhook delivery
    /// for each active subscription that wants it ([`webhook::plan_check_deliveries`]).
    /// Answers the check's id.
    async fn record_check(&self, check: authenticity::AuthenticityCheck) -> Result<i64>;
    /// One recorded check by its id.
    async fn check(&self, id: i64) -> Result<Option<authenticity::AuthenticityCheck>>;
    /// What the earlier checks of one unit say.
    async fn check_history(
        &self,
        product: &str,
        serial: &str,
    ) -> Result<authenticity::CheckHistory>;
    /// Checks in a window, newest first.
    async fn checks(
        &self,
        query: &authenticity::CheckQuery,
    ) -> Result<Vec<authenticity::AuthenticityCheck>>;

    /// Quality by line, product, lot or supplier and period (see [`dashboard::qc_sql`]).
    async fn qc_stats(
        &self,
        by: dashboard::QcBy,
        window: &dashboard::Window,
    ) -> Result<Vec<dashboard::QcRow>>;
    /// Units now, by state and by location (at one of `places`, if given: a site's).
    async fn unit_counts(&self, places: Option<&[String]>) -> Result<dashboard::UnitCounts>;
    /// What each distributor holds now, and what was sold in the window by seller and region.
    async fn channel(&self, window: &dashboard::Window) -> Result<dashboard::Channel>;
    /// Repair turnaround by period, and the `top` repair faults and QC defect codes.
    async fn service_stats(
        &self,
        window: &dashboard::Window,
        top: u32,
    ) -> Result<dashboard::ServiceStats>;

    /// Lots, orders and parties matching a searched text (see [`search`]), at most `limit` each.
    async fn search(&self, text: &str, limit: u32) -> Result<search::SearchHits>;
    /// The units an order names or a party holds, at most `limit`, by product and serial.
    async fn units_of(&self, of: &search::UnitsOf, limit: u32) -> Result<Vec<search::UnitHit>>;

    /// The next value of a serial counter, if any allocation drew from it.
    async fn counter(&self, scope: &str) -> Result<Option<u64>>;
    /// What of a product may be picked: lot quantities per location (lots not on hold), or
    /// units in stock that are neither held nor packed. Unordered.
    async fn available(&self, product: &str) -> Result<Vec<Available>>;
    /// Label templates, by name.
    async fn label_templates(&self) -> Result<Vec<LabelTemplateRecord>>;
    async fn label_template(&self, name: &str) -> Result<Option<LabelTemplateRecord>>;
    /// Creates or replaces a template (see [`LabelTemplateWrite::replaces`]), with its audit
    /// record.
    async fn put_label_template(
        &self,
        write: LabelTemplateWrite,
        audit: Option<AuditOf<LabelTemplateRecord>>,
    ) -> Result<LabelTemplateRecord>;
    /// Deletes a template, with its audit record; `NotFound` if there is none.
    async fn delete_label_template(&self, name: &str, audit: Option<AuditOf<()>>) -> Result<()>;
    /// The label data of many units at once, in the order of `keys` (`None` for a key with no
    /// unit): a print job of thousands of serials reads them in a few queries.
    async fn label_units(&self, keys: &[ItemKey]) -> Result<Vec<Option<LabelUnit>>>;
    /// Stores a capture job, replacing one with the same id (a running job that finished).
    async fn put_capture_job(&self, job: CaptureJob) -> Result<()>;
    async fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>>;
    /// Stores a named query, with its audit record in the same transaction; a taken name is
    /// `Conflict` on field `name`.
    async fn create_named_query(
        &self,
        query: NamedQuery,
        audit: Option<AuditOf<NamedQuery>>,
    ) -> Result<()>;
    /// Every named query, by name.
    async fn named_queries(&self) -> Result<Vec<NamedQuery>>;
    async fn named_query(&self, name: &str) -> Result<Option<NamedQuery>>;
    /// Deletes a named query and every subscription to it (their webhooks, deliveries and
    /// log), with its audit record in the same transaction; `NotFound` if there is none.
    async fn delete_named_query(&self, name: &str, audit: Option<AuditOf<()>>) -> Result<()>;
    /// The ledger's length: the sequence number of its last entry, 0 when empty.
    async fn ledger_len(&self) -> Result<i64>;
    /// Creates an EPCIS subscription and its webhook in one transaction; `NotFound` when the
    /// named query does not exist. Its audit record is appended in the same transaction.
    async fn create_subscription(
        &self,
        hook: webhook::Webhook,
        sub: webhook::EpcisSubscription,
        audit: Option<AuditOf<webhook::EpcisSubscription>>,
    ) -> Result<()>;
    /// Every EPCIS subscription, oldest first.
    async fn subscriptions(&self) -> Result<Vec<webhook::EpcisSubscription>>;
    /// Deletes a subscription with its webhook, deliveries and their log; `NotFound` if there
    /// is none. Its audit record is appended in the same transaction.
    async fn delete_subscription(&self, id: Uuid, audit: Option<AuditOf<()>>) -> Result<()>;
    /// Records a run of a subscription (see [`webhook::SubscriptionRun`]); `false`, with
    /// nothing written, when another run moved its cursor or schedule first.
    async fn advance_subscription(&self, run: webhook::SubscriptionRun) -> Result<bool>;
    /// The product that holds this GTIN (the 14-digit form).
    async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Versioned<Product>>>;
    /// Units with this serial in any product — a raw scan carries no product — at most
    /// `limit`, ordered by product code.
    async fn items_by_serial(&self, serial: &str, limit: u32) -> Result<Vec<ItemKey>>;
    // Users. Names are exact (case-sensitive); a missing user is `NotFound` for changes and
    // `None` for reads.

    async fn user_count(&self) -> Result<i64>;
    /// Applies a change to users or tokens and, when given, appends its audit record in the
    /// same transaction: both are written or neither (a record the audit chain refuses undoes
    /// the change). Returns the record's sequence number.
    async fn change_access(
        &self,
        change: AccessChange,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Option<i64>>;
    /// [`AccessChange::CreateUser`], unaudited.
    async fn create_user(&self, user: NewUser) -> Result<()> {
        self.change_access(AccessChange::CreateUser(user), None)
            .await
            .map(drop)
    }
    async fn user(&self, name: &str) -> Result<Option<UserRecord>>;
    /// Every user, by name.
    async fn users(&self) -> Result<Vec<UserRecord>>;
    /// [`AccessChange::SetPassword`], unaudited.
    async fn set_password(
        &self,
        name: &str,
        password_hash: String,
        now: DateTime<Utc>,
        keep_session: Option<[u8; 32]>,
    ) -> Result<()> {
        let change = AccessChange::SetPassword {
            name: name.to_owned(),
            password_hash,
            now,
            keep_session,
        };
        self.change_access(change, None).await.map(drop)
    }
    /// [`AccessChange::SetUserAccess`], unaudited.
    async fn set_user_access(
        &self,
        name: &str,
        roles: &threadline_domain::access::Roles,
        site: Option<&threadline_domain::LocationCode>,
        party: Option<&threadline_domain::PartyCode>,
    ) -> Result<()> {
        let change = AccessChange::SetUserAccess {
            name: name.to_owned(),
            roles: roles.clone(),
            site: site.cloned(),
            party: party.cloned(),
        };
        self.change_access(change, None).await.map(drop)
    }
    /// [`AccessChange::SetUserDisabled`], unaudited.
    async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let change = AccessChange::SetUserDisabled {
            name: name.to_owned(),
            disabled,
        };
        self.change_access(change, None).await.map(drop)
    }
    /// Counts a failed sign-in, atomically. The failure that reaches `policy.max_failures`
    /// locks the account until `now + policy.lock_for` and restarts the count.
    async fn login_failed(
        &self,
        name: &str,
        now: DateTime<Utc>,
        policy: threadline_domain::access::LockoutPolicy,
    ) -> Result<LoginFailure>;
    /// Clears failed sign-ins after a successful one.
    async fn login_succeeded(&self, name: &str) -> Result<()>;

    // API tokens.

    /// [`AccessChange::CreateToken`], unaudited.
    async fn create_token(&self, token: NewToken) -> Result<()> {
        self.change_access(AccessChange::CreateToken(token), None)
            .await
            .map(drop)
    }
    /// The token whose secret has this digest, revoked or not.
    async fn token_by_digest(&self, digest: &[u8; 32]) -> Result<Option<TokenRecord>>;
    /// Every token, by name.
    async fn tokens(&self) -> Result<Vec<TokenRecord>>;
    /// [`AccessChange::RevokeToken`], unaudited.
    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> Result<()> {
        let change = AccessChange::RevokeToken {
            name: name.to_owned(),
            now,
        };
        self.change_access(change, None).await.map(drop)
    }
    /// Records that the token was used at `now`.
    async fn token_used(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;

    // Custom roles: written with [`AccessChange::CreateRole`], `ReplaceRole`, `DeleteRole`.

    /// Every custom role, by name.
    async fn custom_roles(&self) -> Result<Vec<CustomRole>>;

    // Web sessions.

    /// Stores a new session; also forgets sessions past their absolute expiry.
    async fn create_session(&self, session: NewSession) -> Result<()>;
    /// The session with this id digest and its user; expiry is the caller's to judge.
    async fn session(&self, id_digest: &[u8; 32]) -> Result<Option<SessionRecord>>;
    /// Records activity on a session.
    async fn touch_session(&self, id_digest: &[u8; 32], now: DateTime<Utc>) -> Result<()>;
    /// Ends a session (sign-out, expiry). Ending an unknown session is not an error.
    async fn end_session(&self, id_digest: &[u8; 32]) -> Result<()>;

    // The audit trail.

    /// Appends a record to the audit chain; returns its sequence number.
    async fn append_audit(&self, record: threadline_domain::audit::AuditRecord) -> Result<i64>;
    /// Audit records matching `q`, oldest first.
    async fn audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>>;

    // Webhooks (see [`webhook`]): subscriptions, and the outbox `capture` fills.

    /// Creates or replaces a subscription (see [`webhook::WebhookWrite::replaces`]), with its
    /// audit record.
    async fn put_webhook(
        &self,
        write: webhook::WebhookWrite,
        audit: Option<AuditOf<webhook::Webhook>>,
    ) -> Result<webhook::Webhook>;
    /// Every subscription, by name.
    async fn webhooks(&self) -> Result<Vec<webhook::Webhook>>;
    async fn webhook(&self, name: &str) -> Result<Option<webhook::Webhook>>;
    /// Deletes a subscription with its deliveries and their log, with its audit record;
    /// `NotFound` if there is none.
    async fn delete_webhook(&self, name: &str, audit: Option<AuditOf<()>>) -> Result<()>;
    /// Takes up to `limit` pending deliveries due at `now`, oldest event first, and hides them
    /// from other claims until `lease_until` (a worker that dies leaves them to be retried).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<webhook::Delivery>>;
    /// Records an attempt and what follows from it.
    async fn finish_delivery(&self, id: Uuid, outcome: webhook::AttemptOutcome) -> Result<()>;
    /// The delivery log, newest event first.
    async fn deliveries(&self, q: &webhook::DeliveryQuery) -> Result<Vec<webhook::Delivery>>;
    async fn delivery(&self, id: Uuid) -> Result<Option<webhook::Delivery>>;
    /// Every attempt at one delivery, oldest first.
    async fn delivery_attempts(&self, id: Uuid) -> Result<Vec<webhook::Attempt>>;
    /// Queues a delivery again now, whatever its state, with a fresh set of attempts, with its
    /// audit record.
    async fn redeliver(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        audit: Option<AuditOf<webhook::Delivery>>,
    ) -> Result<webhook::Delivery>;
}

/// Adds the refusal of write `i` of a batch to `into` (fields prefixed `[i]`); any other
/// failure is returned.
pub fn refusal_at(i: usize, e: StoreError, into: &mut Violations) -> Result<()> {
    let at = format!("[{i}]");
    match e {
        StoreError::Invalid(v) => into.extend(v.into_iter().map(|f| f.within(&at))),
        StoreError::Conflict(f) => into.push(f.within(&at)),
        other => return Err(other),
    }
    Ok(())
}

/// Violation codes that mean "this already exists" rather than "this is not allowed": a
/// response made only of these is a 409 Conflict, otherwise 422.
pub fn is_conflict_code(code: &str) -> bool {
    matches!(
        code,
        "duplicate_serial"
            | "duplicate_event"
            | "duplicate"
            | "duplicate_gtin"
            | "version_conflict"
            | "already_exists"
            | "already_closed"
    )
}

/// Where a unit is now, as the projection has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnitState {
    pub status: ItemStatus,
    pub location: Option<String>,
    /// The party that holds it (a distributor, a customer), if it left our hands.
    pub custodian: Option<String>,
    pub lot: Option<String>,
    /// The unit it is built into now, if any: it goes where that one goes.
    pub parent: Option<ItemKey>,
}

/// One node of a set-based genealogy walk ([`Store::reach`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reached {
    pub node: Node,
    /// 0 for a starting node, 1 for what it links to directly, …
    pub depth: u32,
    /// The node this one was reached from; absent for a starting node.
    pub via: Option<Node>,
    /// The link's kind (`aggregation`, `association`, `transformation`); absent for a start.
    pub kind: Option<String>,
    pub quantity: Option<Quantity>,
    pub linked_at: Option<DateTime<Utc>>,
    /// When the link ended, if that was at or before the as-of date (a part swapped out).
    pub removed_at: Option<DateTime<Utc>>,
    /// Holds on the unit or lot now.
    pub holds: Vec<HoldKind>,
    /// For units: where each is now. Absent for lots.
    pub unit: Option<UnitState>,
    /// Where the unit this one is built into (`unit.parent`) is now, read in the same row: a
    /// trace's whereabouts of a part starts from it instead of reading that unit again
    /// (a forward trace meets a hundred thousand parts). Not part of any answer.
    #[serde(skip)]
    #[schemars(skip)]
    pub inside: Option<UnitState>,
}

/// The rows of a walk, in chunks, as the engine reads them: a caller can write them out without
/// holding the whole result. An `Err` ends the stream.
pub type ReachStream = tokio::sync::mpsc::Receiver<Result<Vec<Reached>>>;

/// How many rows an engine sends per chunk of a [`ReachStream`].
pub const REACH_CHUNK: usize = 1024;

/// Reads a whole [`ReachStream`], refusing more than `max` rows.
pub async fn collect_reach(mut rx: ReachStream, max: usize) -> Result<Vec<Reached>, ReachError> {
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend(chunk.map_err(ReachError::Store)?);
        if out.len() > max {
            return Err(ReachError::TooLarge(max));
        }
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error(transparent)]
    Store(StoreError),
    #[error("more than {0} nodes")]
    TooLarge(usize),
}

/// One row of the walk as both engines' SQL returns it ([`query::reach_sql`]); turned into a
/// [`Reached`] by [`Walk::reached`], so the engines cannot read it differently. The text
/// borrows the engine's row: a forward walk reads hundreds of thousands of rows, and most of
/// their text is only compared, parsed or looked up.
#[derive(Debug, Clone, Copy)]
pub struct RawReached<'a> {
    pub depth: i64,
    pub node_type: &'a str,
    pub product: &'a str,
    pub code: &'a str,
    pub via_type: Option<&'a str>,
    pub via_id: Option<i64>,
    pub kind: Option<&'a str>,
    pub quantity: Option<i64>,
    /// µs since the epoch, UTC.
    pub from_time: Option<i64>,
    pub removed_time: Option<i64>,
    pub status: Option<&'a str>,
    pub holds: Option<i64>,
    pub location: Option<&'a str>,
    pub custodian: Option<&'a str>,
    pub lot: Option<&'a str>,
    pub parent_product: Option<&'a str>,
    pub parent_serial: Option<&'a str>,
    /// The node's unit or lot row id.
    pub id: i64,
    /// The unit the node is built into, as the same row read it.
    pub inside: RawInside<'a>,
}

/// The state of the unit a walk's node is built into, read in the node's row
/// ([`query::INSIDE_COLUMNS`]): all `None` when it is built into none.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawInside<'a> {
    pub status: Option<&'a str>,
    pub location: Option<&'a str>,
    pub custodian: Option<&'a str>,
    pub lot: Option<&'a str>,
    pub parent_product: Option<&'a str>,
    pub parent_serial: Option<&'a str>,
}

/// A genealogy walk being read: every node met so far by its row — compact, as an interned
/// product and its serial or lot code: a forward walk meets hundreds of thousands —, which
/// names the via node of later rows and keeps only the first row of a node reached along
/// several paths.
#[derive(Debug, Default)]
pub struct Walk {
    products: Vec<threadline_domain::ProductCode>,
    product_index: HashMap<String, u32>,
    met: HashMap<(bool, i64), (u32, Box<str>)>,
}

impl Walk {
    fn intern(&mut self, code: &str) -> Result<u32> {
        if let Some(i) = self.product_index.get(code) {
            return Ok(*i);
        }
        let parsed = threadline_domain::ProductCode::parse(code)
            .map_err(|e| StoreError::Schema(e.message))?;
        let i =
            u32::try_from(self.products.len()).map_err(|e| StoreError::Schema(e.to_string()))?;
        self.products.push(parsed);
        self.product_index.insert(code.to_owned(), i);
        Ok(i)
    }

    fn product(&self, i: u32) -> threadline_domain::ProductCode {
        self.products[i as usize].clone()
    }

    /// The node a row reached, or `None` when an earlier row reached it already.
    pub fn reached(&mut self, raw: RawReached<'_>) -> Result<Option<Reached>> {
        let met_key = (raw.node_type == "i", raw.id);
        if self.met.contains_key(&met_key) {
            return Ok(None);
        }
        let product = self.intern(raw.product)?;
        let node = node_of(raw.node_type, self.product(product), raw.code)?;
        let via = match (raw.via_type, raw.via_id) {
            (Some(t), Some(id)) => {
                let (p, code) = self
                    .met
                    .get(&(t == "i", id))
                    .ok_or_else(|| StoreError::Schema(format!("via node {t} {id} not met yet")))?;
                Some(node_of(t, self.product(*p), code)?)
            }
            _ => None,
        };
        let holds = raw.holds.unwrap_or(0);
        let parent = self.unit_key(raw.parent_product, raw.parent_serial)?;
        let inside = match (&parent, raw.inside.status) {
            (Some(_), Some(s)) => Some(UnitState {
                status: ItemStatus::parse(s)
                    .ok_or_else(|| StoreError::Schema(format!("unknown unit status `{s}`")))?,
                location: raw.inside.location.map(str::to_owned),
                custodian: raw.inside.custodian.map(str::to_owned),
                lot: raw.inside.lot.map(str::to_owned),
                parent: self.unit_key(raw.inside.parent_product, raw.inside.parent_serial)?,
            }),
            _ => None,
        };
        let unit = match (&node, raw.status) {
            (Node::Item(_), Some(s)) => Some(UnitState {
                status: ItemStatus::parse(s)
                    .ok_or_else(|| StoreError::Schema(format!("unknown unit status `{s}`")))?,
                location: raw.location.map(str::to_owned),
                custodian: raw.custodian.map(str::to_owned),
                lot: raw.lot.map(str::to_owned),
                parent,
            }),
            _ => None,
        };
        self.met.insert(met_key, (product, raw.code.into()));
        Ok(Some(Reached {
            node,
            depth: u32::try_from(raw.depth).map_err(|e| StoreError::Schema(e.to_string()))?,
            via,
            kind: raw.kind.map(str::to_owned),
            quantity: raw.quantity.map(Quantity::from_millis),
            linked_at: raw.from_time.map(micros_to_time),
            removed_at: raw.removed_time.map(micros_to_time),
            holds: HoldKind::ALL
                .into_iter()
                .filter(|k| holds & i64::from(k.bit()) != 0)
                .collect(),
            unit,
            inside,
        }))
    }

    /// The key of a unit named by its product code and serial in a row, if both are there.
    fn unit_key(&mut self, product: Option<&str>, serial: Option<&str>) -> Result<Option<ItemKey>> {
        let (Some(p), Some(s)) = (product, serial) else {
            return Ok(None);
        };
        let p = self.intern(p)?;
        Ok(match node_of("i", self.product(p), s)? {
            Node::Item(k) => Some(k),
            Node::Lot(_) => None,
        })
    }
}

pub(crate) fn node_of(
    t: &str,
    product: threadline_domain::ProductCode,
    code: &str,
) -> Result<Node> {
    use threadline_domain::{LotCode, Serial};
    let schema = |e: FieldError| StoreError::Schema(e.message);
    Ok(match t {
        "i" => Node::Item(ItemKey {
            product,
            serial: Serial::parse(code).map_err(schema)?,
        }),
        "l" => Node::Lot(LotKey {
            product,
            lot: LotCode::parse(code).map_err(schema)?,
        }),
        other => return Err(StoreError::Schema(format!("unknown node type `{other}`"))),
    })
}

fn micros_to_time(us: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(us).unwrap_or_default()
}
