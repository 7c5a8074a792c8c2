//! Current state as a pure function of the ledger.
//!
//! The store loads a [`Slice`] — the current state of exactly the products, locations, parties,
//! units, lots and stock a batch of events touches — and [`Slice::apply`] checks each event
//! against it and moves it forward. The store then writes the slice's dirty entries back in the
//! same transaction as the ledger rows. `rebuild` runs the very same code over the whole ledger,
//! which is why the live projection and a rebuilt one cannot drift apart.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::{ItemKey, LocationCode, LotKey, ProductCode};
use crate::error::{FieldError, Violations};
use crate::event::{Action, Event, EventKind, HoldChange, LotQuantity};
use crate::master::{Product, TrackingMode};
use crate::quantity::Quantity;

/// Where a unit is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// A serial exists (pre-generated, received unknown) but the unit has not been made.
    Unassigned,
    /// An allocated serial whose label has been printed, not yet on a unit: still in the pool,
    /// but a label exists and must be accounted for.
    Printed,
    InProduction,
    InStock,
    InTransit,
    /// Sold, in the field.
    Sold,
    InRepair,
    Returned,
    /// Used up as the input of a transformation.
    Consumed,
    Scrapped,
    /// An allocated serial withdrawn before it was ever on a unit (a spoiled label, an unused
    /// block): accounted for, never reused.
    Voided,
}

impl ItemStatus {
    pub const ALL: [ItemStatus; 11] = [
        ItemStatus::Unassigned,
        ItemStatus::Printed,
        ItemStatus::InProduction,
        ItemStatus::InStock,
        ItemStatus::InTransit,
        ItemStatus::Sold,
        ItemStatus::InRepair,
        ItemStatus::Returned,
        ItemStatus::Consumed,
        ItemStatus::Scrapped,
        ItemStatus::Voided,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Unassigned => "unassigned",
            ItemStatus::Printed => "printed",
            ItemStatus::InProduction => "in_production",
            ItemStatus::InStock => "in_stock",
            ItemStatus::InTransit => "in_transit",
            ItemStatus::Sold => "sold",
            ItemStatus::InRepair => "in_repair",
            ItemStatus::Returned => "returned",
            ItemStatus::Consumed => "consumed",
            ItemStatus::Scrapped => "scrapped",
            ItemStatus::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<ItemStatus> {
        ItemStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A serial of the pool (allocated or registered, perhaps printed) not yet on a unit:
    /// commissioning takes it over, voiding withdraws it.
    pub fn is_pooled(self) -> bool {
        matches!(self, ItemStatus::Unassigned | ItemStatus::Printed)
    }

    /// A unit in this state no longer exists physically; only a correction may touch it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ItemStatus::Consumed | ItemStatus::Scrapped | ItemStatus::Voided
        )
    }
}

/// The set of holds on a unit or lot, as bits of [`crate::event::HoldKind::bit`].
pub type Holds = u8;

/// The current state of one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ItemState {
    pub status: ItemStatus,
    pub holds: Holds,
    pub location: Option<LocationCode>,
    pub custodian: Option<String>,
    pub lot: Option<crate::codes::LotCode>,
    pub parent: Option<ItemKey>,
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// The current state of one lot (stock is kept per location, separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LotState {
    pub production_date: Option<chrono::NaiveDate>,
    pub expiry_date: Option<chrono::NaiveDate>,
    pub holds: Holds,
}

/// A node of the genealogy graph.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    Item(ItemKey),
    Lot(LotKey),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Physical containment or assembly (AggregationEvent).
    Aggregation,
    /// A fitted part, sensor or tool (AssociationEvent).
    Association,
    /// Input consumed to make output (TransformationEvent).
    Transformation,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Aggregation => "aggregation",
            EdgeKind::Association => "association",
            EdgeKind::Transformation => "transformation",
        }
    }

    pub fn parse(s: &str) -> Option<EdgeKind> {
        [
            EdgeKind::Aggregation,
            EdgeKind::Association,
            EdgeKind::Transformation,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A change to the genealogy: links open when a child goes into a parent and close when it is
/// taken out, so the graph can be read as of any time.
#[derive(Debug, Clone, PartialEq)]
pub enum EdgeOp {
    Open {
        parent: Node,
        child: Node,
        quantity: Option<Quantity>,
        kind: EdgeKind,
        event: Uuid,
    },
    Close {
        parent: Node,
        child: Node,
        event: Uuid,
    },
}

/// Where a partner's EPCIS event and Threadline's state or process disagree. An event captured
/// through the EPCIS binding ([`Event::epcis_capture`]) reports something that already
/// happened: it is recorded all the same, the projection applies what is consistent with the
/// state and skips or adapts the rest, and each disagreement is kept as one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Discrepancy {
    /// The refusal code Threadline's own API would answer (`not_in_parent`, `on_hold`, …).
    pub code: String,
    /// The field in the EPCIS event's terms (`childEPCs[0]`, `bizLocation.id`).
    pub field: String,
    pub message: String,
    /// Which rule the event was recorded past: the state ([`tolerated`]) or the process
    /// definition in force at capture ([`past_process`]).
    #[serde(default)]
    pub kind: DiscrepancyKind,
}

/// What a [`Discrepancy`] disagrees with, and so how a rebuild gets it back.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// Threadline's state: derived data, recomputed by a rebuild, which applies the same rule
    /// to the same ledger.
    #[default]
    State,
    /// The process definition in force when the event was captured: computed once, at capture,
    /// and kept in the ledgered event body ([`Event::process_discrepancies`]); a rebuild reads
    /// it back from there and never asks the process again, since the definition may have
    /// changed since.
    Process,
}

impl DiscrepancyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::State => "state",
            DiscrepancyKind::Process => "process",
        }
    }

    /// Reads a stored kind; anything unknown is a state discrepancy, as rows written before
    /// kinds existed are.
    pub fn parse(s: &str) -> DiscrepancyKind {
        if s == "process" {
            DiscrepancyKind::Process
        } else {
            DiscrepancyKind::State
        }
    }
}

/// Is this refusal a disagreement with the state that an EPCIS capture is recorded despite?
/// What is tolerated, and what the projection does instead:
/// - `not_in_parent`: a child taken out of a parent it is not in stays where it is;
/// - `already_packed` / `already_assembled`: a child put into a parent while in another is
///   moved (the partner repacked it without reporting the unpacking);
/// - `location_required`: a lot quantity taken with no place to take it from moves no stock;
/// - `insufficient_quantity`: what is on hand there is taken (stock never goes below zero);
/// - `item_scrapped`: a unit that no longer exists (consumed, scrapped, voided) stays as it
///   is — no status, place, custody, attribute, hold or new containment —; as a
///   transformation's input the genealogy records it as an input all the same;
/// - `duplicate_serial`: a unit an object ADD commissions again keeps what it was
///   commissioned with (the partner's ILMD, place and status do not overwrite it);
/// - `unknown_serial` / `unknown_lot`: a unit or lot of a known product that Threadline never
///   registered is registered on first use, from the partner's event ([`Slice::first_seen`]):
///   Threadline did not see it made.
///
/// (The units these two leave as they are: [`Slice::untouched`].) The process rules have their
/// own list ([`past_process`]). Everything else — unknown products, places and parties,
/// `assembly_cycle` (a unit cannot be recorded inside itself consistently: one place, one
/// parent, no cycle), `not_in_pool`, a repeated event — is refused as from Threadline's own
/// API.
pub fn tolerated(e: &FieldError) -> bool {
    TOLERATED.contains(&e.code)
}

/// The codes [`tolerated`] lists: a discrepancy of kind `state` has one of them.
pub const TOLERATED: &[&str] = &[
    "unknown_serial",
    "unknown_lot",
    "not_in_parent",
    "already_packed",
    "already_assembled",
    "location_required",
    "insufficient_quantity",
    "item_scrapped",
    "duplicate_serial",
];

/// Is this refusal one of the process definition's (`Slice::check_process`) that an EPCIS
/// capture is recorded past? What the projection does instead is a rule of its own, which does
/// not read the process (a rebuild does not have the process the event was captured under):
/// - `out_of_sequence`, `not_in_stock`, `already_shipped`, `already_sold`: the event's status
///   is set as the event says (the partner's step happened);
/// - `on_hold`, `qc_hold`: the unit takes the step and keeps its holds (the event's topics
///   include `past_hold`, so someone hears of it);
/// - `in_container`: a unit reported moving (shipped, sold, stored, received, returned,
///   scrapped) without the container it is packed in has left it — the link is closed, as
///   `already_packed` moves a child — and moves alone;
/// - `missing_field`: nothing is filled in; the field is recorded as missing.
///
/// `not_a_container` and `container_not_empty` are refused still: the first asks for a product
/// to be defined as a container, the second would leave units packed in a scrapped container.
pub fn past_process(e: &FieldError) -> bool {
    PAST_PROCESS.contains(&e.code)
}

/// The codes [`past_process`] lists: a discrepancy of kind `process` has one of them.
pub const PAST_PROCESS: &[&str] = &[
    "out_of_sequence",
    "not_in_stock",
    "already_shipped",
    "already_sold",
    "on_hold",
    "qc_hold",
    "in_container",
    "missing_field",
];

/// The codes a partner's event past a hold is recorded with ([`past_hold`]).
pub const PAST_HOLD: &[&str] = &["on_hold", "qc_hold"];

/// Do these discrepancies say a unit was on hold when the partner's event moved it?
pub fn past_hold(discrepancies: &[Discrepancy]) -> bool {
    discrepancies
        .iter()
        .any(|d| PAST_HOLD.contains(&d.code.as_str()))
}

/// Which status an event leaves its units in. The default follows CBV dispositions; the
/// process-definition issue makes this table data.
#[derive(Debug, Clone, Default)]
pub struct StatusRules;

impl StatusRules {
    fn by_disposition(&self, ev: &Event) -> Option<ItemStatus> {
        let d = ev.disposition.as_ref()?.as_str();
        let repairing = ev
            .biz_step
            .as_ref()
            .is_some_and(|s| s.as_str() == "repairing");
        Some(match d {
            "active" | "in_progress" if repairing => ItemStatus::InRepair,
            "active" | "in_progress" => ItemStatus::InProduction,
            // A serial allocated but not yet on a unit.
            "encoded" => ItemStatus::Unassigned,
            crate::event::PRINTED_DISPOSITION => ItemStatus::Printed,
            "sellable_accessible" | "sellable_not_accessible" | "available" => ItemStatus::InStock,
            "in_transit" => ItemStatus::InTransit,
            "retail_sold" | "dispensed" => ItemStatus::Sold,
            "returned" => ItemStatus::Returned,
            "destroyed" | "disposed" => ItemStatus::Scrapped,
            _ => return None,
        })
    }

    /// The status of the event's subject units (object events) or outputs (transformations).
    pub fn status_after(&self, ev: &Event) -> Option<ItemStatus> {
        match (ev.kind, ev.action) {
            (EventKind::Object, Some(Action::Add)) | (EventKind::Transformation, _) => {
                Some(self.by_disposition(ev).unwrap_or(ItemStatus::InProduction))
            }
            (EventKind::Object, Some(Action::Delete)) => Some(ItemStatus::Scrapped),
            (EventKind::Object, _) => self.by_disposition(ev),
            _ => None,
        }
    }
}

/// What a store must load before applying a batch.
#[derive(Debug, Default)]
pub struct Needs {
    pub products: BTreeSet<ProductCode>,
    pub locations: BTreeSet<String>,
    pub parties: BTreeSet<String>,
    pub events: BTreeSet<Uuid>,
    pub items: BTreeSet<ItemKey>,
    /// Parents whose current children must be loaded.
    pub children_of: BTreeSet<ItemKey>,
    pub lots: BTreeSet<LotKey>,
    pub stock: BTreeSet<(LotKey, String)>,
    /// Serial counters (by scope key) that allocations in the batch draw from.
    pub counters: BTreeSet<String>,
}

/// A hash map keyed by unit, lot or stock cell: hashed with `foldhash` (seeded per process)
/// rather than SipHash, which took a sixth of allocating a 100,000-serial block.
pub type KeyMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The units a batch changed, each once, in key order: what the store writes back.
///
/// Units changed in key order — an allocation's block, serials drawn in sequence, a batch
/// commissioning units one after another — are kept in a list, at one comparison each, instead
/// of a tree; the first one out of order turns the list into a set. Either way the store reads
/// the same keys in the same order.
#[derive(Debug, Clone)]
pub struct DirtyItems(DirtyKeys);

#[derive(Debug, Clone)]
enum DirtyKeys {
    /// Strictly increasing.
    Ordered(Vec<ItemKey>),
    Set(BTreeSet<ItemKey>),
}

impl Default for DirtyItems {
    fn default() -> Self {
        DirtyItems(DirtyKeys::Ordered(Vec::new()))
    }
}

impl DirtyItems {
    pub fn insert(&mut self, k: &ItemKey) {
        match &mut self.0 {
            DirtyKeys::Ordered(keys) => match keys.last() {
                Some(last) if last >= k => {
                    if keys.binary_search(k).is_err() {
                        let mut set: BTreeSet<ItemKey> = std::mem::take(keys).into_iter().collect();
                        set.insert(k.clone());
                        self.0 = DirtyKeys::Set(set);
                    }
                }
                _ => keys.push(k.clone()),
            },
            DirtyKeys::Set(set) => {
                set.insert(k.clone());
            }
        }
    }

    pub fn contains(&self, k: &ItemKey) -> bool {
        match &self.0 {
            DirtyKeys::Ordered(keys) => keys.binary_search(k).is_ok(),
            DirtyKeys::Set(set) => set.contains(k),
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            DirtyKeys::Ordered(keys) => keys.len(),
            DirtyKeys::Set(set) => set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys in order.
    pub fn iter(&self) -> DirtyItemsIter<'_> {
        DirtyItemsIter(match &self.0 {
            DirtyKeys::Ordered(keys) => DirtyIter::Ordered(keys.iter()),
            DirtyKeys::Set(set) => DirtyIter::Set(set.iter()),
        })
    }
}

impl<'a> IntoIterator for &'a DirtyItems {
    type Item = &'a ItemKey;
    type IntoIter = DirtyItemsIter<'a>;

    fn into_iter(self) -> DirtyItemsIter<'a> {
        self.iter()
    }
}

/// The keys of [`DirtyItems`], in order.
#[derive(Debug, Clone)]
pub struct DirtyItemsIter<'a>(DirtyIter<'a>);

#[derive(Debug, Clone)]
enum DirtyIter<'a> {
    Ordered(std::slice::Iter<'a, ItemKey>),
    Set(std::collections::btree_set::Iter<'a, ItemKey>),
}

impl<'a> Iterator for DirtyItemsIter<'a> {
    type Item = &'a ItemKey;

    fn next(&mut self) -> Option<&'a ItemKey> {
        match &mut self.0 {
            DirtyIter::Ordered(i) => i.next(),
            DirtyIter::Set(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            DirtyIter::Ordered(i) => i.size_hint(),
            DirtyIter::Set(i) => i.size_hint(),
        }
    }
}

/// The touched part of the current state, plus what changed.
#[derive(Debug, Default)]
pub struct Slice {
    pub products: HashMap<ProductCode, Product>,
    pub locations: HashSet<String>,
    pub parties: HashSet<String>,
    pub events: HashSet<Uuid>,
    /// `None` means "loaded, and does not exist".
    pub items: KeyMap<ItemKey, Option<ItemState>>,
    pub children: KeyMap<ItemKey, BTreeSet<ItemKey>>,
    pub lots: KeyMap<LotKey, Option<LotState>>,
    pub stock: KeyMap<(LotKey, String), Quantity>,
    /// Serial counters: the next value of each scope that has one.
    pub counters: HashMap<String, u64>,

    /// The rules checked at the scan. Replaying the ledger sets `replay` and skips them.
    pub process: crate::process::Process,
    pub replay: bool,

    /// For each correction in the batch and each unit it may reach: what the events recorded
    /// after the corrected one (and before the batch) set on that unit, as the store read them
    /// ([`Slice::note_later`]). A correction leaves alone what a later event set.
    pub set_later: HashMap<(Uuid, ItemKey), Setting>,
    /// What the events applied to this slice set on each unit, in order of application (by
    /// position among them), so a correction later in the same batch sees them too.
    applied: HashMap<ItemKey, Vec<(usize, Setting)>>,
    /// Each applied event's position.
    positions: HashMap<Uuid, usize>,
    /// The batch has a correction: note what each event sets ([`Slice::apply_batch`]).
    weigh_corrections: bool,

    pub dirty_items: DirtyItems,
    pub dirty_lots: BTreeSet<LotKey>,
    pub dirty_stock: BTreeSet<(LotKey, String)>,
    pub dirty_counters: BTreeSet<String>,
    pub edges: Vec<EdgeOp>,
    /// What the applied EPCIS captures disagreed with, by event id, in order of application.
    pub discrepancies: Vec<(Uuid, Discrepancy)>,
}

impl Needs {
    pub fn of(events: &[Event]) -> Needs {
        let mut n = Needs::default();
        for ev in events {
            // An allocation's serials were just drawn from its counter: they are new, and are
            // not looked up one by one (a hundred thousand probes per block). Should one exist
            // all the same, the store's unique key on units refuses it as `duplicate_serial`
            // (`threadline_store::already_registered`). A partner's EPCIS event is looked up
            // whatever it carries: a serial it registers twice is a discrepancy, not a refusal.
            let allocated = ev.allocation.is_some() && !ev.epcis_capture;
            for (k, role) in ev.item_refs() {
                if !n.products.contains(&k.product) {
                    n.products.insert(k.product.clone());
                }
                if allocated && role == crate::event::Role::Subject {
                    continue;
                }
                n.items.insert(k.clone());
            }
            if let (Some(p), EventKind::Aggregation | EventKind::Association) =
                (&ev.parent, ev.kind)
            {
                n.children_of.insert(p.clone());
            }
            for (q, _) in ev.lot_refs() {
                n.products.insert(q.product.clone());
                n.lots.insert(q.key());
            }
            if let Some(lot) = ev.ilmd.as_ref().and_then(|i| i.lot.as_ref()) {
                for k in ev.items.iter().chain(ev.outputs.iter()) {
                    n.lots.insert(LotKey {
                        product: k.product.clone(),
                        lot: lot.clone(),
                    });
                }
            }
            for l in ev.location_refs() {
                n.locations.insert(l.as_str().to_owned());
            }
            for l in ev.endpoint_locations() {
                n.locations.insert(l.to_owned());
            }
            for p in ev.party_refs() {
                n.parties.insert(p.to_owned());
            }
            if let Some(c) = &ev.corrects {
                n.events.insert(c.event);
            }
            if let Some(a) = &ev.allocation {
                n.counters.insert(a.scope.clone());
            }
            for (q, loc) in stock_moves(ev) {
                let _ = q;
                if let Some(loc) = loc {
                    n.stock.insert((q.key(), loc.to_owned()));
                }
            }
            if let (Some(src), Some(dst)) = (ev.source_location(), ev.destination_location()) {
                for q in &ev.lots {
                    n.stock.insert((q.key(), src.to_owned()));
                    n.stock.insert((q.key(), dst.to_owned()));
                }
            }
        }
        n
    }
}

/// Who holds an event's units after it, where it says: `Some(Some(party))` for a transfer to
/// that party (its possessing party, else its owning party), `Some(None)` for a return that
/// names no party taking the units — they are back in our own hands, so no one outside holds
/// them —, `None` where the event leaves custody as it was.
pub fn custody_after(ev: &Event) -> Option<Option<String>> {
    if let Some(party) = ev.new_custodian() {
        return Some(Some(party.to_owned()));
    }
    (crate::process::Operation::of(ev) == crate::process::Operation::Return).then_some(None)
}

/// Lot quantities the event adds (+) or takes (−), with the location they apply to.
fn stock_moves(ev: &Event) -> Vec<(&LotQuantity, Option<&str>)> {
    let at = ev.biz_location.as_ref().map(|l| l.as_str());
    let mut out = Vec::new();
    match (ev.kind, ev.action) {
        (EventKind::Object, Some(Action::Add | Action::Delete)) => {
            out.extend(ev.lots.iter().map(|q| (q, at)))
        }
        // Lots go into a parent Threadline tracks; into another (a GRAI, a GIAI…) they are
        // recorded and stay where the stock says.
        (EventKind::Aggregation | EventKind::Association, Some(Action::Add))
            if ev.parent.is_some() =>
        {
            out.extend(ev.child_lots.iter().map(|q| (q, at)))
        }
        (EventKind::Transformation, _) => {
            out.extend(ev.input_lots.iter().map(|q| (q, at)));
            out.extend(ev.output_lots.iter().map(|q| (q, at)));
        }
        _ => {}
    }
    out
}

/// Where an event names a unit a step applies to: the field a refusal names.
#[derive(Debug, Clone, Copy)]
enum Subject {
    Parent,
    Child(usize),
    /// In `items`, or packed in the container there.
    Item(usize),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Parent => f.write_str("parent"),
            Subject::Child(i) => write!(f, "children[{i}]"),
            Subject::Item(i) => write!(f, "items[{i}]"),
        }
    }
}

/// How an event names a unit, for [`Slice::setting_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// In `items`.
    Subject,
    /// Packed, at any depth, in a container in `items`.
    Carried,
    Input,
    Output,
}

/// The fields of a unit's state an event set — those a correction may amend. A correction of
/// an event that is no longer the latest to set a field leaves that field as the later event
/// made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setting {
    pub status: bool,
    pub location: bool,
    pub custodian: bool,
    /// Custom attributes, by name.
    pub attributes: BTreeSet<String>,
}

impl Setting {
    fn everything(attributes: impl IntoIterator<Item = String>) -> Setting {
        Setting {
            status: true,
            location: true,
            custodian: true,
            attributes: attributes.into_iter().collect(),
        }
    }

    fn merge(&mut self, other: &Setting) {
        self.status |= other.status;
        self.location |= other.location;
        self.custodian |= other.custodian;
        self.attributes.extend(other.attributes.iter().cloned());
    }

    fn is_empty(&self) -> bool {
        *self == Setting::default()
    }
}

/// A refusal an EPCIS capture was recorded past, in the EPCIS event's terms.
fn discrepancy(e: FieldError, kind: DiscrepancyKind) -> Discrepancy {
    let field = crate::event::epcis_field(e.field.as_deref().unwrap_or_default());
    let message = match e.code {
        "unknown_serial" | "unknown_lot" => format!(
            "{}: first seen in a partner's event, registered from it (Threadline did not see it made)",
            e.message
        ),
        _ => e.message,
    };
    Discrepancy {
        code: e.code.to_owned(),
        field,
        message,
        kind,
    }
}

fn err(code: &'static str, msg: String, field: String) -> FieldError {
    FieldError::new(code, msg).at(field)
}

impl Slice {
    /// The state an event leaves its subjects in: the process's rule for its operation, else
    /// its disposition ([`StatusRules`]).
    fn status_of(&self, ev: &Event, rules: &StatusRules) -> Option<ItemStatus> {
        let configured = match ev.kind {
            EventKind::Object | EventKind::Transformation => self
                .process
                .rule(crate::process::Operation::of(ev))
                .and_then(|r| r.to),
            _ => None,
        };
        configured.or_else(|| rules.status_after(ev))
    }

    /// What `ev` sets on unit `k` — named by it as `named` says, or carried inside a
    /// container it names —, as [`Slice::apply`] does it. Corrections and error declarations set
    /// nothing here: a correction stands in for the event it corrects.
    pub fn setting_of(&self, ev: &Event, k: &ItemKey, named: Named) -> Setting {
        if ev.corrects.is_some() || ev.error_declaration.is_some() {
            return Setting::default();
        }
        let carried = named == Named::Carried;
        let status = self.status_of(ev, &StatusRules);
        match (ev.kind, ev.action) {
            (EventKind::Object, Some(Action::Add)) if named == Named::Subject => {
                Setting::everything(
                    ev.ilmd
                        .iter()
                        .flat_map(|i| i.attributes.keys().cloned())
                        .collect::<Vec<_>>(),
                )
            }
            (EventKind::Object, Some(Action::Add)) => Setting::default(),
            (EventKind::Object, _) if matches!(named, Named::Subject | Named::Carried) => Setting {
                status: status.is_some(),
                location: ev.biz_location.is_some()
                    || matches!(status, Some(ItemStatus::InTransit | ItemStatus::Sold)),
                custodian: custody_after(ev).is_some(),
                attributes: if carried {
                    BTreeSet::new()
                } else {
                    let product = self.products.get(&k.product);
                    ev.fields
                        .keys()
                        .filter(|name| product.is_some_and(|p| p.attribute(name).is_some()))
                        .cloned()
                        .collect()
                },
            },
            (EventKind::Transformation, _) if named == Named::Output => Setting {
                status: true,
                location: ev.biz_location.is_some(),
                ..Setting::default()
            },
            (EventKind::Transformation, _) if named == Named::Input => Setting {
                status: true,
                ..Setting::default()
            },
            _ => Setting::default(),
        }
    }

    /// The corrections in `events` and the units each may reach — what it names, what is
    /// packed in those now, and what earlier events of the batch pack into them — for which
    /// the store reads what later events set ([`Slice::note_later`]).
    pub fn corrections_to_weigh(&self, events: &[Event]) -> Vec<(Uuid, ItemKey)> {
        let mut out = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            let Some(c) = &ev.corrects else { continue };
            if ev.error_declaration.is_some() || ev.kind != EventKind::Object {
                continue;
            }
            let mut units: BTreeSet<ItemKey> = self.with_contents(&ev.items).into_iter().collect();
            loop {
                let before = units.len();
                for earlier in &events[..i] {
                    if let (EventKind::Aggregation, Some(Action::Add), Some(p)) =
                        (earlier.kind, earlier.action, &earlier.parent)
                        && units.contains(p)
                    {
                        units.extend(earlier.children.iter().cloned());
                    }
                }
                if units.len() == before {
                    break;
                }
            }
            out.extend(units.into_iter().map(|k| (c.event, k)));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Records what the events after `corrected` (read by the store: each with whether it
    /// carried `unit` inside a container) set on `unit`.
    pub fn note_later<'e>(
        &mut self,
        corrected: Uuid,
        unit: ItemKey,
        later: impl IntoIterator<Item = (&'e Event, bool)>,
    ) {
        let mut setting = Setting::default();
        for (ev, carried) in later {
            // A timeline's event is narrowed to the unit: its lists are short.
            let named = if carried {
                Named::Carried
            } else if ev.items.contains(&unit) {
                Named::Subject
            } else if ev.outputs.contains(&unit) {
                Named::Output
            } else if ev.inputs.contains(&unit) {
                Named::Input
            } else {
                continue;
            };
            setting.merge(&self.setting_of(ev, &unit, named));
        }
        self.set_later.insert((corrected, unit), setting);
    }

    /// What events after `corrected` set on `k`: recorded before the batch, and applied in it.
    fn set_since(&self, corrected: Uuid, k: &ItemKey) -> Setting {
        let mut s = self
            .set_later
            .get(&(corrected, k.clone()))
            .cloned()
            .unwrap_or_default();
        let from = self.positions.get(&corrected).copied();
        for (pos, setting) in self.applied.get(k).into_iter().flatten() {
            if from.is_none_or(|f| *pos > f) {
                s.merge(setting);
            }
        }
        s
    }

    /// Notes what `ev` (at `pos`) set on `k`.
    fn note_applied(&mut self, pos: usize, ev: &Event, k: &ItemKey, named: Named) {
        let setting = self.setting_of(ev, k, named);
        if !setting.is_empty() {
            self.applied
                .entry(k.clone())
                .or_default()
                .push((pos, setting));
        }
    }

    /// Units whose ancestors are not loaded yet (needed to refuse assembly cycles). The store
    /// loads these and asks again until the answer is empty.
    pub fn missing_ancestors(&self) -> Vec<ItemKey> {
        let mut out = Vec::new();
        for state in self.items.values().flatten() {
            if let Some(p) = &state.parent
                && !self.items.contains_key(p)
            {
                out.push(p.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Containers whose contents are not loaded yet (moving a container moves everything in
    /// it). The store loads their children and asks again until the answer is empty.
    pub fn missing_contents(&self) -> Vec<ItemKey> {
        let mut out: Vec<ItemKey> = self
            .items
            .iter()
            .filter(|(k, st)| {
                st.is_some() && self.is_container(k) && !self.children.contains_key(*k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        out.sort();
        out
    }

    fn is_container(&self, k: &ItemKey) -> bool {
        self.products.get(&k.product).is_some_and(|p| p.container)
    }

    /// Is this lot quantity stated, in its product's own unit? Stock is counted in it; a
    /// quantity in another unit, or a partner's element with no quantity, is recorded with its
    /// event and moves no stock.
    pub fn counted(&self, q: &LotQuantity) -> bool {
        q.quantity.is_some()
            && q.uom
                .as_deref()
                .is_none_or(|u| self.products.get(&q.product).is_some_and(|p| p.uom == u))
    }

    /// A container unit whose serial is an SSCC comes into being the first time an event names
    /// it, as `ops/pack` registers a container on first use: a logistic unit is labelled where
    /// it is built, and partners name it long before (or without) anyone commissioning it.
    pub fn registers_on_first_use(&self, k: &ItemKey) -> bool {
        self.is_container(k) && crate::gs1::is_sscc(k.serial.as_str())
    }

    /// The units and lots of known products that a partner's EPCIS event names and Threadline
    /// never registered, where the event does not itself bring them into being (an ADD's
    /// subjects, a transformation's outputs): they are registered on first use from that event,
    /// as a rule of the projection (no event of their own, so a rebuild registers them again),
    /// with the state the event gives them, and each is a discrepancy (`unknown_serial`,
    /// `unknown_lot`). Empty for Threadline's own events, which refuse them. An SSCC container
    /// is registered on first use for anyone ([`Slice::registers_on_first_use`]).
    pub fn first_seen(&self, ev: &Event) -> (Vec<ItemKey>, Vec<LotKey>) {
        if !ev.epcis_capture || ev.corrects.is_some() || ev.error_declaration.is_some() {
            return (Vec::new(), Vec::new());
        }
        let creating = matches!((ev.kind, ev.action), (EventKind::Object, Some(Action::Add)));
        let known = |p: &ProductCode, mode: TrackingMode| {
            self.products.get(p).is_some_and(|p| p.tracking == mode)
        };
        let mut units: Vec<ItemKey> = Vec::new();
        for (k, role) in ev.item_refs() {
            if !(creating && role == crate::event::Role::Subject)
                && role != crate::event::Role::Output
                && known(&k.product, TrackingMode::Serial)
                && self.items.get(k).is_none_or(Option::is_none)
                && !self.registers_on_first_use(k)
                && !units.contains(k)
            {
                units.push(k.clone());
            }
        }
        let mut lots: Vec<LotKey> = Vec::new();
        for (q, role) in ev.lot_refs() {
            let key = q.key();
            if !(creating && role == crate::event::Role::Subject)
                && role != crate::event::Role::Output
                && known(&q.product, TrackingMode::Lot)
                && !self.lot_exists(&key)
                && !lots.contains(&key)
            {
                lots.push(key);
            }
        }
        (units, lots)
    }

    /// Everything packed in `k`, through nested containers; empty if `k` is not a container.
    pub fn contents(&self, k: &ItemKey) -> Vec<ItemKey> {
        let mut out = Vec::new();
        let mut stack = vec![k.clone()];
        let mut seen = HashSet::new();
        while let Some(c) = stack.pop() {
            if !self.is_container(&c) || !seen.insert(c.clone()) {
                continue;
            }
            for child in self.children.get(&c).into_iter().flatten() {
                out.push(child.clone());
                stack.push(child.clone());
            }
        }
        out
    }

    /// Does this operation move its units (so a packed unit goes with its container)?
    fn moves(op: crate::process::Operation) -> bool {
        use crate::process::Operation;
        matches!(
            op,
            Operation::Ship
                | Operation::Sell
                | Operation::Store
                | Operation::Receive
                | Operation::Return
                | Operation::Scrap
        )
    }

    /// The units of a partner's EPCIS object event that it moves without the container each is
    /// packed in, with that container: they leave it. A rule of the projection that reads no
    /// process (a rebuild applies it alike); Threadline's own events refuse such a move
    /// (`in_container`), so it names none of theirs.
    fn left_containers(&self, ev: &Event) -> Vec<(ItemKey, ItemKey)> {
        if !ev.epcis_capture
            || ev.corrects.is_some()
            || ev.kind != EventKind::Object
            || ev.action == Some(Action::Add)
            || !Self::moves(crate::process::Operation::of(ev))
        {
            return Vec::new();
        }
        ev.items
            .iter()
            .filter_map(|k| {
                let state = self.item(k).filter(|s| !s.status.is_final())?;
                let parent = state.parent.clone()?;
                (self.is_container(&parent) && !ev.items.contains(&parent))
                    .then(|| (parent, k.clone()))
            })
            .collect()
    }

    /// The units a partner's EPCIS event names that keep their state whatever it says: a unit
    /// that no longer exists physically (consumed, scrapped, voided: `item_scrapped`) takes no
    /// status, place, custody, attribute or hold and goes into nothing, nor does anything go
    /// into it — a used-up transformation input still gets its genealogy links —; a unit an
    /// object ADD commissions again (`duplicate_serial`) keeps what it was commissioned with.
    /// A rule of the state, recomputed alike by a rebuild; empty for Threadline's own events,
    /// which refuse both.
    pub fn untouched(&self, ev: &Event) -> HashSet<ItemKey> {
        if !ev.epcis_capture || ev.corrects.is_some() {
            return HashSet::new();
        }
        let creating = matches!((ev.kind, ev.action), (EventKind::Object, Some(Action::Add)));
        ev.item_refs()
            .filter(|(k, role)| {
                self.item(k).is_some_and(|s| {
                    if creating && *role == crate::event::Role::Subject {
                        // Commissioning over a pool serial is no duplicate.
                        !(s.status.is_pooled() && ev.allocation.is_none())
                    } else {
                        s.status.is_final()
                    }
                })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Containers: only containers are packed into, a packed unit moves with its container
    /// (not on its own), and a container is emptied before it is scrapped.
    fn check_containers(&self, ev: &Event, op: crate::process::Operation, v: &mut Violations) {
        let packing = ev
            .biz_step
            .as_ref()
            .is_some_and(|s| s.as_str() == "packing");
        if let (EventKind::Aggregation, Some(Action::Add), true, Some(p)) =
            (ev.kind, ev.action, packing, &ev.parent)
            && self.products.contains_key(&p.product)
            && !self.is_container(p)
        {
            v.push(err(
                "not_a_container",
                format!(
                    "{} {} is not a container: its product is not marked `container`",
                    p.product, p.serial
                ),
                "parent.serial".into(),
            ));
        }
        if ev.kind != EventKind::Object || ev.action == Some(Action::Add) {
            return;
        }
        let moves = Self::moves(op);
        for (i, k) in ev.items.iter().enumerate() {
            let Some(state) = self.item(k) else { continue };
            if moves
                && let Some(parent) = &state.parent
                && self.is_container(parent)
                && !ev.items.contains(parent)
            {
                v.push(err(
                    "in_container",
                    format!(
                        "serial {} of {} is packed in container {}; move the container or unpack it first",
                        k.serial, k.product, parent.serial
                    ),
                    format!("items[{i}].serial"),
                ));
            }
            if ev.action == Some(Action::Delete) && !self.contents(k).is_empty() {
                v.push(err(
                    "container_not_empty",
                    format!(
                        "container {} still holds {} units; unpack it before scrapping it",
                        k.serial,
                        self.contents(k).len()
                    ),
                    format!("items[{i}].serial"),
                ));
            }
        }
    }

    /// Custom attribute values given in `fields` are checked against the definitions of the
    /// products the event touches, whatever the operation.
    fn check_attribute_fields(&self, ev: &Event, v: &mut Violations) {
        if ev.fields.is_empty() {
            return;
        }
        let products: BTreeSet<&ProductCode> = ev
            .item_refs()
            .map(|(k, _)| &k.product)
            .chain(ev.lot_refs().map(|(q, _)| &q.product))
            .collect();
        for (name, value) in &ev.fields {
            for code in &products {
                let Some(def) = self.products.get(*code).and_then(|p| p.attribute(name)) else {
                    continue;
                };
                if let Err(e) = def.check(value) {
                    v.push(e.at(format!("fields.{name}")));
                    break;
                }
            }
        }
    }

    fn item(&self, k: &ItemKey) -> Option<&ItemState> {
        self.items.get(k).and_then(Option::as_ref)
    }

    fn lot_exists(&self, k: &LotKey) -> bool {
        matches!(self.lots.get(k), Some(Some(_)))
    }

    fn stock_of(&self, k: &LotKey, loc: &str) -> Quantity {
        self.stock
            .get(&(k.clone(), loc.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    /// Is `candidate` the unit `k` or one of its ancestors?
    fn is_self_or_ancestor(&self, candidate: &ItemKey, k: &ItemKey) -> bool {
        let mut cur = Some(k.clone());
        let mut guard = 0;
        while let Some(c) = cur {
            if &c == candidate {
                return true;
            }
            guard += 1;
            if guard > 1000 {
                return true;
            }
            cur = self.item(&c).and_then(|s| s.parent.clone());
        }
        false
    }

    /// Checks one event against the current state and, if it is acceptable, applies it.
    /// On refusal nothing in the slice changes.
    pub fn apply(&mut self, ev: &Event, rules: &StatusRules) -> Result<(), Violations> {
        if ev.error_declaration.is_some() {
            // A declaration repeats the event it declares in error and changes nothing: only
            // that event must exist.
            let v = self.check_ids(ev);
            if !v.is_empty() {
                return Err(v);
            }
            self.events.insert(ev.id);
            return Ok(());
        }
        // The process rules are asked at the scan only: a replay applies what was accepted.
        let mut process = Violations::new();
        if !self.replay && ev.corrects.is_none() {
            self.check_process(ev, &mut process);
        }
        let mut state = self.check(ev);
        // A partner's report is recorded despite what the state and the process disagree
        // with; the rest of its refusals stand.
        let (mut past, mut noted) = (Vec::new(), Vec::new());
        if ev.epcis_capture && ev.corrects.is_none() {
            let (soft, hard): (Violations, Violations) =
                process.into_iter().partition(past_process);
            (process, past) = (hard, soft);
            let (soft, hard): (Violations, Violations) = state.into_iter().partition(tolerated);
            (state, noted) = (hard, soft);
        }
        process.extend(state);
        if !process.is_empty() {
            return Err(process);
        }
        self.effects(ev, rules);
        self.events.insert(ev.id);
        // What the process said is kept with the event ([`Slice::process_discrepancies`] stamps
        // it on the body); a replay reads it back from there.
        if self.replay {
            let kept = ev.process_discrepancies.iter().map(|d| {
                (
                    ev.id,
                    Discrepancy {
                        kind: DiscrepancyKind::Process,
                        ..d.clone()
                    },
                )
            });
            self.discrepancies.extend(kept);
        } else {
            let id = ev.id;
            self.discrepancies.extend(
                past.into_iter()
                    .map(|e| (id, discrepancy(e, DiscrepancyKind::Process))),
            );
        }
        self.discrepancies.extend(
            noted
                .into_iter()
                .map(|e| (ev.id, discrepancy(e, DiscrepancyKind::State))),
        );
        Ok(())
    }

    /// The process discrepancies of each event this slice applied at capture, to be kept in
    /// the events' ledger bodies ([`Event::process_discrepancies`]): the store sets them after
    /// the batch is accepted and before the bodies are written. Empty for a replay, which
    /// read them from the bodies.
    pub fn process_discrepancies(&self) -> HashMap<Uuid, Vec<Discrepancy>> {
        let mut out: HashMap<Uuid, Vec<Discrepancy>> = HashMap::new();
        if self.replay {
            return out;
        }
        for (id, d) in &self.discrepancies {
            if d.kind == DiscrepancyKind::Process {
                out.entry(*id).or_default().push(d.clone());
            }
        }
        out
    }

    /// Keeps the process discrepancies this slice found in the bodies of `events`
    /// ([`Slice::process_discrepancies`]).
    pub fn stamp_process_discrepancies(&self, events: &mut [Event]) {
        let mut found = self.process_discrepancies();
        if found.is_empty() {
            return;
        }
        for ev in events {
            if let Some(d) = found.remove(&ev.id) {
                ev.process_discrepancies = d;
            }
        }
    }

    /// The event it corrects exists; its own id is new.
    fn check_ids(&self, ev: &Event) -> Violations {
        let mut v = Violations::new();
        if let Some(c) = &ev.corrects
            && !self.events.contains(&c.event)
        {
            v.push(err(
                "unknown_event",
                format!("event {} to be corrected does not exist", c.event),
                "corrects.event".into(),
            ));
        }
        if self.events.contains(&ev.id) {
            v.push(err(
                "duplicate_event",
                format!("event {} is already recorded", ev.id),
                "id".into(),
            ));
        }
        v
    }

    fn check(&self, ev: &Event) -> Violations {
        let mut v = Violations::new();
        let is_correction = ev.corrects.is_some();
        v.extend(self.check_ids(ev));
        for (name, loc) in [
            ("read_point", &ev.read_point),
            ("biz_location", &ev.biz_location),
        ] {
            if let Some(l) = loc
                && !self.locations.contains(l.as_str())
            {
                v.push(err(
                    "unknown_location",
                    format!("location {l} does not exist"),
                    name.into(),
                ));
            }
        }
        for (list, eps) in [("sources", &ev.sources), ("destinations", &ev.destinations)] {
            for (i, e) in eps.iter().enumerate() {
                let (known, what) = match e.location() {
                    Some(l) => (self.locations.contains(l), "location"),
                    None => (self.parties.contains(e.id.as_str()), "party"),
                };
                if !known {
                    v.push(err(
                        if what == "party" {
                            "unknown_party"
                        } else {
                            "unknown_location"
                        },
                        format!("{what} {} does not exist", e.id),
                        format!("{list}[{i}].id"),
                    ));
                }
            }
        }

        if let Some(a) = &ev.allocation {
            match self.counters.get(&a.scope) {
                Some(next) if *next != a.first => v.push(err(
                    "allocation_conflict",
                    format!("counter {} is at {next}, not {}: another allocation came first; allocate again", a.scope, a.first),
                    "allocation.first".into(),
                )),
                _ => {}
            }
        }

        self.check_attribute_fields(ev, &mut v);

        // Units.
        let creating = matches!((ev.kind, ev.action), (EventKind::Object, Some(Action::Add)));
        let print_mark = ev
            .disposition
            .as_ref()
            .is_some_and(|d| d.as_str() == crate::event::PRINTED_DISPOSITION);
        let item_lists: [(&str, &[ItemKey], crate::event::Role); 4] = [
            ("items", &ev.items, crate::event::Role::Subject),
            ("children", &ev.children, crate::event::Role::Child),
            ("inputs", &ev.inputs, crate::event::Role::Input),
            ("outputs", &ev.outputs, crate::event::Role::Output),
        ];
        let parent_list: Vec<ItemKey> = ev.parent.iter().cloned().collect();
        for (name, list, role) in item_lists.into_iter().chain(std::iter::once((
            "parent",
            parent_list.as_slice(),
            crate::event::Role::Parent,
        ))) {
            for (i, k) in list.iter().enumerate() {
                // Named only when something is refused: a block names 100,000 units.
                let field = || {
                    if name == "parent" {
                        "parent".to_owned()
                    } else {
                        format!("{name}[{i}]")
                    }
                };
                match self.products.get(&k.product) {
                    None => {
                        v.push(err(
                            "unknown_product",
                            format!("product {} does not exist", k.product),
                            format!("{}.product", field()),
                        ));
                        continue;
                    }
                    Some(p) if p.tracking != TrackingMode::Serial => {
                        v.push(err(
                            "wrong_tracking",
                            format!(
                                "product {} is tracked by {}, not by serial",
                                k.product,
                                p.tracking.as_str()
                            ),
                            format!("{}.product", field()),
                        ));
                        continue;
                    }
                    Some(_) => {}
                }
                let state = self.item(k);
                let may_be_new = (creating && role == crate::event::Role::Subject)
                    || role == crate::event::Role::Output
                    || self.registers_on_first_use(k);
                match state {
                    // Commissioning a serial that was allocated in advance.
                    Some(s)
                        if creating
                            && role == crate::event::Role::Subject
                            && s.status.is_pooled()
                            && ev.allocation.is_none() => {}
                    Some(s) if print_mark && !s.status.is_pooled() => v.push(err(
                        "not_in_pool",
                        format!(
                            "serial {} of {} is {}; only pool serials (allocated, not yet on a unit) are marked printed",
                            k.serial,
                            k.product,
                            s.status.as_str().replace('_', " ")
                        ),
                        format!("{}.serial", field()),
                    )),
                    Some(_) if creating && role == crate::event::Role::Subject => v.push(err(
                        "duplicate_serial",
                        format!("serial {} of {} is already registered", k.serial, k.product),
                        format!("{}.serial", field()),
                    )),
                    None if !may_be_new => v.push(err(
                        "unknown_serial",
                        format!("serial {} of {} is not registered", k.serial, k.product),
                        format!("{}.serial", field()),
                    )),
                    Some(s) if s.status.is_final() && !is_correction => v.push(err(
                        "item_scrapped",
                        format!(
                            "serial {} of {} is {} and can take no further steps",
                            k.serial,
                            k.product,
                            s.status.as_str().replace('_', " ")
                        ),
                        format!("{}.serial", field()),
                    )),
                    _ => {}
                }
            }
        }

        // Assembly rules.
        if let (EventKind::Aggregation | EventKind::Association, Some(parent)) =
            (ev.kind, &ev.parent)
        {
            let not_in_parent = |i: usize, c: &ItemKey| {
                err(
                    "not_in_parent",
                    format!(
                        "serial {} of {} is not in {} {}",
                        c.serial, c.product, parent.product, parent.serial
                    ),
                    format!("children[{i}].serial"),
                )
            };
            for (i, c) in ev.children.iter().enumerate() {
                let Some(cs) = self.item(c) else {
                    // A container registered by this very event (or a unit a partner's event
                    // registers) is in nothing yet.
                    if ev.action == Some(Action::Delete)
                        && (self.registers_on_first_use(c)
                            || (ev.epcis_capture && ev.corrects.is_none()))
                    {
                        v.push(not_in_parent(i, c));
                    }
                    continue;
                };
                match ev.action {
                    Some(Action::Add) => {
                        if let Some(cur) = &cs.parent
                            && cur != parent
                        {
                            let (code, how) = if self.is_container(cur) {
                                ("already_packed", "packed in container")
                            } else {
                                ("already_assembled", "installed in")
                            };
                            v.push(err(
                                code,
                                format!(
                                    "serial {} of {} is already {how} {} {}; take it out first",
                                    c.serial, c.product, cur.product, cur.serial
                                ),
                                format!("children[{i}].serial"),
                            ));
                        }
                        if self.is_self_or_ancestor(c, parent) {
                            v.push(err(
                                "assembly_cycle",
                                format!(
                                    "serial {} of {} contains {} {}; it cannot also go into it",
                                    c.serial, c.product, parent.product, parent.serial
                                ),
                                format!("children[{i}].serial"),
                            ));
                        }
                    }
                    Some(Action::Delete) if cs.parent.as_ref() != Some(parent) => {
                        v.push(not_in_parent(i, c));
                    }
                    _ => {}
                }
            }
        }

        // Lots and stock.
        let lot_lists: [(&str, &[LotQuantity]); 4] = [
            ("lots", &ev.lots),
            ("child_lots", &ev.child_lots),
            ("input_lots", &ev.input_lots),
            ("output_lots", &ev.output_lots),
        ];
        let lot_created = |name: &str| {
            name == "output_lots"
                || (name == "lots"
                    && ev.action == Some(Action::Add)
                    && ev.kind == EventKind::Object)
        };
        for (name, list) in lot_lists {
            for (i, q) in list.iter().enumerate() {
                let field = format!("{name}[{i}]");
                match self.products.get(&q.product) {
                    None => {
                        v.push(err(
                            "unknown_product",
                            format!("product {} does not exist", q.product),
                            format!("{field}.product"),
                        ));
                        continue;
                    }
                    Some(p) if p.tracking != TrackingMode::Lot => {
                        v.push(err(
                            "wrong_tracking",
                            format!(
                                "product {} is tracked by {}, not by lot",
                                q.product,
                                p.tracking.as_str()
                            ),
                            format!("{field}.product"),
                        ));
                        continue;
                    }
                    Some(_) => {}
                }
                if !lot_created(name) && !self.lot_exists(&q.key()) {
                    v.push(err(
                        "unknown_lot",
                        format!("{} is not registered", q.key()),
                        format!("{field}.lot"),
                    ));
                }
            }
        }
        let mut taken: HashMap<(LotKey, String), Quantity> = HashMap::new();
        let mut take = |v: &mut Violations,
                        q: &LotQuantity,
                        loc: Option<&str>,
                        field: String,
                        this: &Slice| {
            let (true, Some(quantity)) = (this.counted(q), q.quantity) else {
                return;
            };
            let Some(loc) = loc else {
                v.push(err(
                    "location_required",
                    format!("say where {} is taken from (biz_location)", q.key()),
                    "biz_location".into(),
                ));
                return;
            };
            let key = (q.key(), loc.to_owned());
            let sum = taken.entry(key).or_default();
            *sum = sum
                .checked_add(quantity)
                .unwrap_or(Quantity::from_millis(i64::MAX));
            let on_hand = this.stock_of(&q.key(), loc);
            if *sum > on_hand {
                v.push(err(
                    "insufficient_quantity",
                    format!(
                        "{} has {} on hand at {loc}; {} requested",
                        q.key(),
                        on_hand,
                        sum
                    ),
                    format!("{field}.quantity"),
                ));
            }
        };
        let at = ev.biz_location.as_ref().map(|l| l.as_str());
        match (ev.kind, ev.action) {
            (EventKind::Object, Some(Action::Delete)) => {
                for (i, q) in ev.lots.iter().enumerate() {
                    take(&mut v, q, at, format!("lots[{i}]"), self);
                }
            }
            (EventKind::Object, Some(Action::Observe)) => {
                if let (Some(src), Some(_)) = (ev.source_location(), ev.destination_location()) {
                    for (i, q) in ev.lots.iter().enumerate() {
                        take(&mut v, q, Some(src), format!("lots[{i}]"), self);
                    }
                }
            }
            (EventKind::Aggregation | EventKind::Association, Some(Action::Add))
                if ev.parent.is_some() =>
            {
                for (i, q) in ev.child_lots.iter().enumerate() {
                    take(&mut v, q, at, format!("child_lots[{i}]"), self);
                }
            }
            // Lots made without a place have no stock anywhere until an event puts them
            // somewhere (they are registered all the same).
            (EventKind::Transformation, _) => {
                for (i, q) in ev.input_lots.iter().enumerate() {
                    take(&mut v, q, at, format!("input_lots[{i}]"), self);
                }
            }
            _ => {}
        }

        // Custom attributes of units coming into being.
        let new_units: Vec<&ItemKey> = match (ev.kind, ev.action) {
            // Allocated serials get their attributes when they are commissioned.
            (EventKind::Object, Some(Action::Add)) if ev.allocation.is_none() => {
                ev.items.iter().collect()
            }
            (EventKind::Transformation, _) => ev
                .outputs
                .iter()
                .filter(|k| self.item(k).is_none())
                .collect(),
            _ => Vec::new(),
        };
        let mut checked = HashSet::new();
        for k in new_units {
            let Some(p) = self.products.get(&k.product) else {
                continue;
            };
            if !checked.insert(&k.product) {
                continue;
            }
            let given = ev.ilmd.as_ref().map(|i| &i.attributes);
            for def in &p.attributes {
                match given.and_then(|g| g.get(&def.name)) {
                    None if def.required => v.push(err(
                        "missing_attribute",
                        format!("product {} requires attribute `{}`", p.code, def.name),
                        format!("ilmd.{}", def.name),
                    )),
                    Some(val) => {
                        if let Err(e) = def.check(val) {
                            v.push(e.at(format!("ilmd.{}", def.name)));
                        }
                    }
                    None => {}
                }
            }
        }
        v
    }

    /// The process definition's rules: the unit's state allows this operation, no hold blocks
    /// it, and the fields the operation requires for this product are there.
    fn check_process(&self, ev: &Event, v: &mut Violations) {
        use crate::process::Operation;
        let op = Operation::of(ev);
        // Field names are made only for a refusal, and a unit named by the event is borrowed:
        // a block names 100,000 units.
        let subjects: Vec<(Subject, std::borrow::Cow<'_, ItemKey>, bool)> = match op {
            Operation::Assemble => ev
                .parent
                .iter()
                .map(|k| (Subject::Parent, std::borrow::Cow::Borrowed(k), false))
                .chain(
                    ev.children
                        .iter()
                        .enumerate()
                        .map(|(i, k)| (Subject::Child(i), std::borrow::Cow::Borrowed(k), true)),
                )
                .collect(),
            // A container's contents take the step with it.
            _ => {
                let mut out = Vec::with_capacity(ev.items.len());
                for (i, k) in ev.items.iter().enumerate() {
                    out.push((Subject::Item(i), std::borrow::Cow::Borrowed(k), true));
                    if self.is_container(k) {
                        out.extend(
                            self.contents(k)
                                .into_iter()
                                .map(|c| (Subject::Item(i), std::borrow::Cow::Owned(c), true)),
                        );
                    }
                }
                out
            }
        };
        self.check_containers(ev, op, v);
        if let Some(rule) = self.process.rule(op) {
            for (field, key, holds_matter) in &subjects {
                let Some(state) = self.item(key) else {
                    continue;
                };
                if state.status.is_final() {
                    continue; // reported as item_scrapped
                }
                if !rule.from.is_empty() && !rule.from.contains(&state.status) {
                    let needs = format!(
                        "it is {}; {} needs it {}",
                        state.status.as_str().replace('_', " "),
                        op.gerund(),
                        rule.from
                            .iter()
                            .map(|s| s.as_str().replace('_', " "))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    );
                    let (code, why) = match (op, state.status) {
                        (Operation::Ship | Operation::Sell, ItemStatus::Sold) => {
                            ("already_sold", "it is already sold".to_owned())
                        }
                        (Operation::Ship, ItemStatus::InTransit) => (
                            "already_shipped",
                            "it is already shipped and in transit".to_owned(),
                        ),
                        (Operation::Ship, _) => ("not_in_stock", needs),
                        _ => ("out_of_sequence", needs),
                    };
                    v.push(err(
                        code,
                        format!(
                            "serial {} of {} cannot be {}: {why}",
                            key.serial,
                            key.product,
                            participle(op)
                        ),
                        format!("{field}.serial"),
                    ));
                }
                if rule.refuse_held && *holds_matter && state.holds != 0 {
                    let holds: Vec<&str> = crate::event::HoldKind::ALL
                        .into_iter()
                        .filter(|h| state.holds & h.bit() != 0)
                        .map(|h| h.as_str())
                        .collect();
                    // A QC hold alone means QC failed it (or has not passed it yet): the clerk
                    // is told so, under its own code.
                    let qc_only = state.holds == crate::event::HoldKind::Qc.bit();
                    let (code, what) = if qc_only {
                        (
                            "qc_hold",
                            "on QC hold (failed or awaiting inspection)".to_owned(),
                        )
                    } else {
                        ("on_hold", format!("on {} hold", holds.join(" and ")))
                    };
                    v.push(err(
                        code,
                        format!(
                            "serial {} of {} is {what} and cannot be {}",
                            key.serial,
                            key.product,
                            participle(op)
                        ),
                        format!("{field}.serial"),
                    ));
                }
            }
        }
        for fr in self
            .process
            .required_fields
            .iter()
            .filter(|f| f.operation == op)
        {
            let applies = subjects
                .iter()
                .map(|(_, k, _)| &k.product)
                .chain(ev.lots.iter().map(|q| &q.product))
                .any(|p| {
                    fr.category.is_none()
                        || self.products.get(p).and_then(|p| p.category.as_ref())
                            == fr.category.as_ref()
                });
            if !applies {
                continue;
            }
            for name in &fr.fields {
                if ev.fields.get(name).is_none_or(|x| x.is_null()) {
                    v.push(err(
                        "missing_field",
                        format!(
                            "{} {}requires `{name}`",
                            op.gerund(),
                            fr.category
                                .as_ref()
                                .map(|c| format!("{c} products "))
                                .unwrap_or_default()
                        ),
                        format!("fields.{name}"),
                    ));
                }
            }
        }
    }

    /// `items` and everything packed in them.
    fn with_contents(&self, items: &[ItemKey]) -> Vec<ItemKey> {
        items
            .iter()
            .flat_map(|k| std::iter::once(k.clone()).chain(self.contents(k)))
            .collect()
    }

    fn touch_item(&mut self, k: &ItemKey) -> Option<&mut ItemState> {
        self.dirty_items.insert(k);
        self.items.get_mut(k).and_then(Option::as_mut)
    }

    fn ensure_lot(&mut self, k: LotKey, ev: &Event) {
        if !self.lot_exists(&k) {
            let ilmd = ev.ilmd.as_ref();
            self.lots.insert(
                k.clone(),
                Some(LotState {
                    production_date: ilmd.and_then(|i| i.production_date),
                    expiry_date: ilmd.and_then(|i| i.expiry_date),
                    holds: 0,
                }),
            );
            self.dirty_lots.insert(k);
        }
    }

    fn add_stock(&mut self, k: LotKey, loc: &str, delta: Quantity, negative: bool) {
        let key = (k, loc.to_owned());
        let cur = self.stock.get(&key).copied().unwrap_or_default();
        let next = if negative {
            // Never below zero: only a partner's report takes more than is on hand (refused
            // otherwise), and then what was there is gone.
            cur.checked_sub(delta).map(|q| {
                if q.is_positive() {
                    q
                } else {
                    Quantity::default()
                }
            })
        } else {
            cur.checked_add(delta)
        };
        self.stock.insert(key.clone(), next.unwrap_or(cur));
        self.dirty_stock.insert(key);
    }

    fn new_item(&mut self, k: &ItemKey, ev: &Event, status: ItemStatus) {
        let ilmd = ev.ilmd.as_ref();
        // The product is looked up only for attributes to keep: a block without ILMD names
        // 100,000 units of one product.
        let attributes = match ilmd.filter(|i| !i.attributes.is_empty()) {
            Some(i) => match self.products.get(&k.product) {
                Some(p) => i
                    .attributes
                    .iter()
                    .filter(|(name, _)| p.attribute(name).is_some())
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect(),
                None => BTreeMap::new(),
            },
            None => BTreeMap::new(),
        };
        let lot = ilmd.and_then(|i| i.lot.clone());
        if let Some(lot) = &lot {
            self.ensure_lot(
                LotKey {
                    product: k.product.clone(),
                    lot: lot.clone(),
                },
                ev,
            );
        }
        self.items.insert(
            k.clone(),
            Some(ItemState {
                status,
                holds: 0,
                location: ev.biz_location.clone(),
                custodian: ev.new_custodian().map(str::to_owned),
                lot,
                parent: None,
                attributes,
            }),
        );
        self.dirty_items.insert(k);
    }

    fn link(&mut self, parent: &ItemKey, child: &ItemKey, kind: EdgeKind, ev: &Event) {
        let mut moved_from = None;
        if let Some(c) = self.touch_item(child) {
            if c.parent.as_ref() == Some(parent) {
                return;
            }
            moved_from = c.parent.replace(parent.clone());
        }
        // Only a partner's report puts a child in while it is in another parent (refused
        // otherwise): it was taken out of that one first.
        if let Some(old) = moved_from {
            if let Some(set) = self.children.get_mut(&old) {
                set.remove(child);
            }
            self.edges.push(EdgeOp::Close {
                parent: Node::Item(old),
                child: Node::Item(child.clone()),
                event: ev.id,
            });
        }
        self.children
            .entry(parent.clone())
            .or_default()
            .insert(child.clone());
        self.edges.push(EdgeOp::Open {
            parent: Node::Item(parent.clone()),
            child: Node::Item(child.clone()),
            quantity: None,
            kind,
            event: ev.id,
        });
    }

    fn unlink(&mut self, parent: &ItemKey, child: &ItemKey, ev: &Event) {
        if let Some(c) = self.touch_item(child) {
            c.parent = None;
        }
        if let Some(set) = self.children.get_mut(parent) {
            set.remove(child);
        }
        self.edges.push(EdgeOp::Close {
            parent: Node::Item(parent.clone()),
            child: Node::Item(child.clone()),
            event: ev.id,
        });
    }

    fn effects(&mut self, ev: &Event, rules: &StatusRules) {
        // Containers named by SSCC come into being in stock where the event happens, before
        // the event applies to them.
        let creating = matches!((ev.kind, ev.action), (EventKind::Object, Some(Action::Add)));
        let first_use: Vec<ItemKey> = ev
            .item_refs()
            .filter(|(k, role)| {
                !(creating && *role == crate::event::Role::Subject)
                    && *role != crate::event::Role::Output
                    && !matches!(self.items.get(*k), Some(Some(_)))
                    && self.registers_on_first_use(k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &first_use {
            self.items.insert(
                k.clone(),
                Some(ItemState {
                    status: ItemStatus::InStock,
                    holds: 0,
                    location: ev.biz_location.clone(),
                    custodian: None,
                    lot: None,
                    parent: None,
                    attributes: BTreeMap::new(),
                }),
            );
            self.children.entry(k.clone()).or_default();
            self.dirty_items.insert(k);
        }
        // The process may say which state an operation leaves its units in; replay sees the
        // process that was stored when the event was recorded.
        let status = self.status_of(ev, rules);
        // Units and lots a partner's event names first come into being with what the event
        // says of them (its status, place and custody; in stock where it says no status); the
        // event then applies to them as to any other. A lot gets no stock of its own.
        let (seen_units, seen_lots) = self.first_seen(ev);
        for k in &seen_units {
            self.new_item(k, ev, status.unwrap_or(ItemStatus::InStock));
        }
        for k in seen_lots {
            self.ensure_lot(k, ev);
        }
        // What a partner's event names that no longer exists, or that it commissions again,
        // keeps its state.
        let untouched = self.untouched(ev);
        let at = ev.biz_location.clone();
        let custody = custody_after(ev);
        // What this event sets, noted for a correction later in the batch.
        if self.weigh_corrections {
            let pos = self.positions.len();
            self.positions.insert(ev.id, pos);
            for (list, named) in [
                (&ev.items, Named::Subject),
                (&ev.inputs, Named::Input),
                (&ev.outputs, Named::Output),
            ] {
                for k in list {
                    self.note_applied(pos, ev, k, named);
                }
            }
            if ev.kind == EventKind::Object && ev.action != Some(Action::Add) {
                for k in ev
                    .items
                    .iter()
                    .flat_map(|k| self.contents(k))
                    .collect::<Vec<_>>()
                {
                    self.note_applied(pos, ev, &k, Named::Carried);
                }
            }
        }
        // A correction amends only what no later event has set since the event it corrects.
        let corrected = ev.corrects.as_ref().map(|c| c.event);
        let later =
            |this: &Slice, k: &ItemKey| corrected.map(|c| this.set_since(c, k)).unwrap_or_default();
        match (ev.kind, ev.action) {
            (EventKind::Object, Some(Action::Add)) => {
                self.items.reserve(ev.items.len());
                for k in &ev.items {
                    if untouched.contains(k) {
                        continue;
                    }
                    self.new_item(k, ev, status.unwrap_or(ItemStatus::InProduction));
                }
            }
            (EventKind::Object, _) => {
                let attributes: Vec<(ItemKey, String, serde_json::Value)> = ev
                    .items
                    .iter()
                    .filter(|k| !untouched.contains(*k))
                    .flat_map(|k| {
                        let product = self.products.get(&k.product);
                        ev.fields
                            .iter()
                            .filter(move |(name, _)| {
                                product.is_some_and(|p| p.attribute(name).is_some())
                            })
                            .map(move |(n, val)| (k.clone(), n.clone(), val.clone()))
                    })
                    .collect();
                for (k, name, value) in attributes {
                    if later(self, &k).attributes.contains(&name) {
                        continue;
                    }
                    if let Some(s) = self.touch_item(&k) {
                        s.attributes.insert(name, value);
                    }
                }
                // A unit a partner reports moving without the container it is packed in has
                // left it (refused as `in_container` otherwise).
                for (parent, k) in self.left_containers(ev) {
                    self.unlink(&parent, &k, ev);
                }
                for k in &self.with_contents(&ev.items) {
                    if untouched.contains(k) {
                        continue;
                    }
                    let later = later(self, k);
                    if let Some(s) = self.touch_item(k) {
                        if let Some(st) = status
                            && !later.status
                        {
                            // Deleting a serial that never reached a unit voids it.
                            s.status = if st == ItemStatus::Scrapped && s.status.is_pooled() {
                                ItemStatus::Voided
                            } else {
                                st
                            };
                        }
                        let gone = matches!(s.status, ItemStatus::InTransit | ItemStatus::Sold)
                            && status.is_some();
                        if !later.location && (at.is_some() || gone) {
                            s.location = at.clone();
                        }
                        if let Some(c) = &custody
                            && !later.custodian
                        {
                            s.custodian = c.clone();
                        }
                    }
                }
            }
            (EventKind::Aggregation | EventKind::Association, Some(action)) => {
                let kind = if ev.kind == EventKind::Aggregation {
                    EdgeKind::Aggregation
                } else {
                    EdgeKind::Association
                };
                if let Some(parent) = &ev.parent {
                    match action {
                        Action::Add | Action::Observe if action == Action::Add => {
                            // Nothing is put into, or taken into, what no longer exists.
                            for c in &ev.children {
                                if untouched.contains(c) || untouched.contains(parent) {
                                    continue;
                                }
                                self.link(parent, c, kind, ev);
                            }
                            for q in &ev.child_lots {
                                self.edges.push(EdgeOp::Open {
                                    parent: Node::Item(parent.clone()),
                                    child: Node::Lot(q.key()),
                                    quantity: q.quantity,
                                    kind,
                                    event: ev.id,
                                });
                            }
                        }
                        Action::Delete => {
                            let children: Vec<ItemKey> =
                                if ev.children.is_empty() && ev.child_lots.is_empty() {
                                    self.children
                                        .get(parent)
                                        .map(|s| s.iter().cloned().collect())
                                        .unwrap_or_default()
                                } else {
                                    // A child not in the parent (a partner's report: refused
                                    // otherwise) stays where it is.
                                    ev.children
                                        .iter()
                                        .filter(|c| {
                                            self.item(c)
                                                .is_some_and(|s| s.parent.as_ref() == Some(parent))
                                        })
                                        .cloned()
                                        .collect()
                                };
                            for c in &children {
                                self.unlink(parent, c, ev);
                            }
                            for q in &ev.child_lots {
                                self.edges.push(EdgeOp::Close {
                                    parent: Node::Item(parent.clone()),
                                    child: Node::Lot(q.key()),
                                    event: ev.id,
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            (EventKind::Transformation, _) => {
                for k in &ev.inputs {
                    // An input a partner reports used again keeps the state it ended in.
                    let reported = ev.epcis_capture;
                    if let Some(s) = self.touch_item(k)
                        && !(reported && s.status.is_final())
                    {
                        s.status = ItemStatus::Consumed;
                    }
                }
                for k in &ev.outputs {
                    let st = status.unwrap_or(ItemStatus::InProduction);
                    if untouched.contains(k) {
                        continue;
                    }
                    match self.touch_item(k) {
                        Some(s) => {
                            s.status = st;
                            if at.is_some() {
                                s.location = at.clone();
                            }
                        }
                        None => self.new_item(k, ev, st),
                    }
                }
                for q in &ev.output_lots {
                    self.ensure_lot(q.key(), ev);
                }
                let inputs: Vec<(Node, Option<Quantity>)> = ev
                    .inputs
                    .iter()
                    .map(|k| (Node::Item(k.clone()), None))
                    .chain(
                        ev.input_lots
                            .iter()
                            .map(|q| (Node::Lot(q.key()), q.quantity)),
                    )
                    .collect();
                let outputs: Vec<Node> = ev
                    .outputs
                    .iter()
                    .map(|k| Node::Item(k.clone()))
                    .chain(ev.output_lots.iter().map(|q| Node::Lot(q.key())))
                    .collect();
                for o in &outputs {
                    for (i, qty) in &inputs {
                        self.edges.push(EdgeOp::Open {
                            parent: o.clone(),
                            child: i.clone(),
                            quantity: *qty,
                            kind: EdgeKind::Transformation,
                            event: ev.id,
                        });
                    }
                }
            }
            _ => {}
        }

        if let Some(a) = &ev.allocation {
            self.counters
                .insert(a.scope.clone(), a.first.saturating_add(a.count));
            self.dirty_counters.insert(a.scope.clone());
        }

        // Lot stock.
        if ev.kind == EventKind::Object && ev.action == Some(Action::Add) {
            for q in &ev.lots {
                self.ensure_lot(q.key(), ev);
            }
        }
        let consumed_kinds = [
            EventKind::Aggregation,
            EventKind::Association,
            EventKind::Transformation,
        ];
        for (q, loc) in stock_moves(ev) {
            let Some(loc) = loc else { continue };
            let (true, Some(quantity)) = (self.counted(q), q.quantity) else {
                continue;
            };
            let output = ev.output_lots.contains(q);
            let negative =
                !output && (ev.action == Some(Action::Delete) || consumed_kinds.contains(&ev.kind));
            self.add_stock(q.key(), loc, quantity, negative);
        }
        if ev.kind == EventKind::Object
            && ev.action == Some(Action::Observe)
            && let (Some(src), Some(dst)) = (ev.source_location(), ev.destination_location())
        {
            let (src, dst) = (src.to_owned(), dst.to_owned());
            for (key, quantity) in ev
                .lots
                .iter()
                .filter(|q| self.counted(q))
                .filter_map(|q| Some((q.key(), q.quantity?)))
                .collect::<Vec<_>>()
            {
                self.add_stock(key.clone(), &src, quantity, true);
                self.add_stock(key, &dst, quantity, false);
            }
        }

        // Holds.
        if let Some(h) = ev.hold {
            let apply = |holds: &mut Holds| match h {
                HoldChange::Place(k) => *holds |= k.bit(),
                HoldChange::Release(k) => *holds &= !k.bit(),
            };
            for k in &self.with_contents(&ev.items) {
                if untouched.contains(k) {
                    continue;
                }
                if let Some(s) = self.touch_item(k) {
                    apply(&mut s.holds);
                }
            }
            for q in &ev.lots {
                let key = q.key();
                if let Some(Some(l)) = self.lots.get_mut(&key) {
                    apply(&mut l.holds);
                    self.dirty_lots.insert(key);
                }
            }
        }
    }

    /// Applies a batch: every event is checked, the violations of all of them are reported
    /// (field paths prefixed with `events[i]` when there is more than one), and the slice is
    /// only meaningful if the result is `Ok`.
    pub fn apply_batch(
        &mut self,
        events: &[Event],
        rules: &StatusRules,
        prefix_index: bool,
    ) -> Result<(), Violations> {
        let mut all = Violations::new();
        self.weigh_corrections |= events.iter().any(|e| e.corrects.is_some());
        for (i, ev) in events.iter().enumerate() {
            if let Err(v) = self.apply(ev, rules) {
                if prefix_index {
                    all.extend(v.into_iter().map(|e| e.within(&format!("events[{i}]"))));
                } else {
                    all.extend(v);
                }
            }
        }
        if all.is_empty() { Ok(()) } else { Err(all) }
    }
}

fn participle(op: crate::process::Operation) -> &'static str {
    use crate::process::Operation::*;
    match op {
        Commission => "commissioned",
        Receive => "received",
        Assemble => "assembled",
        Disassemble => "disassembled",
        Transform => "used",
        Inspect => "inspected",
        Store => "moved",
        Ship => "shipped",
        Sell => "sold",
        Return => "returned",
        Repair => "repaired",
        Scrap => "scrapped",
        Hold => "held",
        Observe => "recorded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Serial;
    use proptest::prelude::*;

    fn key(product: u8, serial: u16) -> ItemKey {
        ItemKey {
            product: ProductCode::parse(&format!("P{product}")).unwrap(),
            serial: Serial::parse(&format!("S{serial:05}")).unwrap(),
        }
    }

    proptest! {
        /// Whatever order units are touched in, the store reads each once, in key order.
        #[test]
        fn dirty_items_are_each_unit_once_in_key_order(
            touched in proptest::collection::vec((0u8..3, 0u16..200), 0..300),
        ) {
            let mut dirty = DirtyItems::default();
            let mut expected = BTreeSet::new();
            for (p, s) in touched {
                dirty.insert(&key(p, s));
                expected.insert(key(p, s));
            }
            prop_assert_eq!(dirty.len(), expected.len());
            prop_assert_eq!(dirty.is_empty(), expected.is_empty());
            prop_assert!(dirty.iter().eq(expected.iter()));
            for k in &expected {
                prop_assert!(dirty.contains(k));
            }
            prop_assert!(!dirty.contains(&key(9, 0)));
        }
    }

    #[test]
    fn dirty_items_in_key_order_stay_a_list() {
        let mut dirty = DirtyItems::default();
        for s in 0..1000 {
            dirty.insert(&key(1, s));
            dirty.insert(&key(1, s));
        }
        assert!(matches!(dirty.0, DirtyKeys::Ordered(_)));
        // A unit touched again out of order, already in the list, changes nothing.
        dirty.insert(&key(1, 10));
        assert!(matches!(dirty.0, DirtyKeys::Ordered(_)));
        dirty.insert(&key(0, 10));
        assert!(matches!(dirty.0, DirtyKeys::Set(_)));
        assert_eq!(dirty.len(), 1001);
        assert_eq!(dirty.iter().next(), Some(&key(0, 10)));
    }
}
