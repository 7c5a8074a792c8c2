//! The business event: one step in the life of units and lots, shaped like an EPCIS 2.0 event
//! (what, when, where, why, which transactions, between which parties) so that it maps to the
//! standard one to one. Requests are parsed into [`Event`] once; the ledger stores `Event`s.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codes::{ItemKey, LocationCode, LotCode, LotKey, PartyCode};
use crate::error::{FieldError, Violations};
use crate::quantity::Quantity;

/// How far ahead of the server clock an event time may be before it is refused: scanners and
/// PLCs have drifting clocks, but a unit cannot be shipped tomorrow.
pub const FUTURE_TOLERANCE_SECONDS: i64 = 300;

/// The five EPCIS event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Object,
    Aggregation,
    Transaction,
    Transformation,
    Association,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Object => "object",
            EventKind::Aggregation => "aggregation",
            EventKind::Transaction => "transaction",
            EventKind::Transformation => "transformation",
            EventKind::Association => "association",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// Objects come into being (commissioning, first receipt) or are added to a parent.
    Add,
    /// Objects are seen; state changes but identity does not.
    Observe,
    /// Objects cease to exist (scrap, decommission) or are removed from a parent.
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "ADD",
            Action::Observe => "OBSERVE",
            Action::Delete => "DELETE",
        }
    }
}

/// CBV 2.0 business steps.
pub const CBV_BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
];

/// CBV 2.0 dispositions.
pub const CBV_DISPOSITIONS: &[&str] = &[
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
];

/// The disposition of a pool serial whose label has been printed (Threadline's own vocabulary:
/// CBV has no word for it). Recorded by an `OBSERVE` event with business step `encoding`.
pub const PRINTED_DISPOSITION: &str = "urn:threadline:disp:printed";

/// CBV 2.0 business transaction types, plus the two every plant has that CBV lacks: the sales
/// order (`so`) and the repair order (`ro`).
pub const BIZ_TRANSACTION_TYPES: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
    "so",
    "ro",
];

/// A vocabulary word: either one of the known bare words, or a URI of the user's own vocabulary
/// (anything with a scheme, e.g. `urn:acme:step:burn_in`). Unknown bare words are refused — a
/// typo must not become a new business step.
fn vocabulary_word(kind: &str, known: &[&str], s: &str) -> Result<String, FieldError> {
    if known.contains(&s) {
        return Ok(s.to_owned());
    }
    let is_uri = s.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && !rest.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    }) && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if is_uri && s.len() <= 256 {
        return Ok(s.to_owned());
    }
    Err(FieldError::new(
        "unknown_vocabulary",
        format!("`{s}` is not a CBV {kind}; use a CBV word or a URI of your own vocabulary"),
    ))
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $list:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                vocabulary_word($kind, $list, s).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

vocabulary!(
    /// Why: the business step (`commissioning`, `shipping`, …).
    BizStep, "business step", CBV_BIZ_STEPS);
vocabulary!(
    /// The business condition of the objects after the event (`active`, `in_transit`, …).
    Disposition, "disposition", CBV_DISPOSITIONS);
vocabulary!(
    /// A business transaction type (`po`, `prodorder`, `so`, `rma`, …).
    BizTransactionType, "business transaction type", BIZ_TRANSACTION_TYPES);

/// A purchase order, work order, sales order, RMA… that the event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BizTransaction {
    #[serde(rename = "type")]
    pub kind: BizTransactionType,
    pub id: TransactionId,
}

/// The identifier of a business transaction, e.g. `PO-2026-0001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct TransactionId(String);

impl TryFrom<String> for TransactionId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        if s.trim().is_empty() || s.trim() != s || s.len() > 128 || s.chars().any(char::is_control)
        {
            return Err(FieldError::new(
                "invalid_transaction_id",
                format!("transaction id `{s}` must be 1–128 characters without surrounding space"),
            ));
        }
        Ok(Self(s))
    }
}

impl From<TransactionId> for String {
    fn from(v: TransactionId) -> String {
        v.0
    }
}

impl TransactionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// CBV source/destination types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    OwningParty,
    PossessingParty,
    Location,
}

/// A source or destination of a transfer: a party (owning or possessing) or a location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(rename = "type")]
    pub kind: EndpointKind,
    /// A party code for the party kinds, a location code for `location`.
    pub id: String,
}

impl Endpoint {
    pub fn party(&self) -> Option<&str> {
        (self.kind != EndpointKind::Location).then_some(self.id.as_str())
    }
    pub fn location(&self) -> Option<&str> {
        (self.kind == EndpointKind::Location).then_some(self.id.as_str())
    }
}

/// A quantity of one lot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LotQuantity {
    pub product: crate::codes::ProductCode,
    pub lot: LotCode,
    // Absent only on a partner's EPCIS event, whose quantity elements may leave it out
    // (EPCIS 2.0 §7.3.3.2): the lot is recorded with the event, its genealogy and its indexes,
    // and an unknown quantity moves no stock. Threadline's own API requires it, and its schema
    // says so (a doc comment here would inline `Quantity` into the OpenAPI document).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Quantity")]
    pub quantity: Option<Quantity>,
    /// The unit the quantity is given in when it is not the product's own (UN/CEFACT Rec. 20;
    /// `EA` is a count): absent, the product's unit. Stock is counted in the product's unit,
    /// so a quantity in another unit is recorded with the event and moves no stock (there is
    /// no conversion between units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

/// An object an event names by an identifier Threadline does not track as a unit — a GRAI,
/// GIAI, GSRN, GDTI, an SGLN named as an object, any other URI —, as the event gave it, with
/// its role (`subject` for `epcList`, `parent`, `child`, `input`, `output`). It is kept for the
/// event's hash and its queries; it has no state, and no state changes for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Untracked {
    pub role: Role,
    /// The identifier as given (an EPC URN, a Digital Link, any absolute URI).
    pub id: String,
}

/// A quantity of a class Threadline does not count per lot — a product named by its GTIN
/// without a lot (`urn:epc:idpat:sgtin:….*`, `/01/{gtin}`), or a class of another kind —, as
/// the event gave it, with its role (`subject` for `quantityList`, `child`, `input`,
/// `output`). It is recorded with the event; it registers no lot and moves no stock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassQuantity {
    pub role: Role,
    /// The class as given (`epcClass`).
    pub class: String,
    /// The product whose GTIN the class names, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<crate::codes::ProductCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    /// As given; absent, a count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

impl LotQuantity {
    pub fn key(&self) -> LotKey {
        LotKey {
            product: self.product.clone(),
            lot: self.lot.clone(),
        }
    }
}

/// Instance/lot master data given when objects come into being (EPCIS ILMD): the lot a unit
/// belongs to, dates, and values of the product's custom attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ilmd {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<LotCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<NaiveDate>,
    /// Custom attribute values and any other instance data, kept exactly.
    #[serde(flatten)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldKind {
    Qc,
    Recall,
    Admin,
}

impl HoldKind {
    pub const ALL: [HoldKind; 3] = [HoldKind::Qc, HoldKind::Recall, HoldKind::Admin];

    pub fn bit(self) -> u8 {
        match self {
            HoldKind::Qc => 1,
            HoldKind::Recall => 2,
            HoldKind::Admin => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Qc => "qc",
            HoldKind::Recall => "recall",
            HoldKind::Admin => "admin",
        }
    }
}

/// Placing or releasing a hold on every unit and lot the event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HoldChange {
    Place(HoldKind),
    Release(HoldKind),
}

/// This event corrects an earlier one. The earlier event stays in the ledger, marked as
/// corrected; this event's own content says what is true instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Correction {
    pub event: Uuid,
    pub reason: String,
}

/// The EPCIS error declaration of an event recorded in error (EPCIS 2.0 §7.4.1.4): a copy of
/// that event, saying it did not occur or its data were wrong. In Threadline it is a correction
/// of that event (`corrects` names it) that changes no state: what is true instead is recorded
/// by the corrective events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDeclaration {
    pub declaration_time: DateTime<Utc>,
    /// A CBV error reason (`did_not_occur`, `incorrect_data`) or a URI of one's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Serials drawn from a product's rule: which counter (`scope`), from which value, how many.
/// Carried by the event that registers the allocated serials, so the counter is a projection
/// of the ledger like everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub scope: String,
    pub first: u64,
    pub count: u64,
    /// The product version whose rule made the serials.
    pub rule_version: u32,
}

/// An event as a client sends it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// A client-chosen id (UUID); a server-made UUIDv7 otherwise.
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(default)]
    pub action: Option<Action>,
    /// RFC 3339 with offset, e.g. `2026-11-22T10:00:00+08:00`.
    pub event_time: DateTime<FixedOffset>,
    /// The local offset of the business process; defaults to the offset of `event_time`.
    #[serde(default)]
    pub event_time_zone_offset: Option<String>,
    #[serde(default)]
    pub biz_step: Option<BizStep>,
    #[serde(default)]
    pub disposition: Option<Disposition>,
    #[serde(default)]
    pub read_point: Option<LocationCode>,
    #[serde(default)]
    pub biz_location: Option<LocationCode>,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub lots: Vec<LotQuantity>,
    #[serde(default)]
    pub parent: Option<ItemKey>,
    #[serde(default)]
    pub children: Vec<ItemKey>,
    #[serde(default)]
    pub child_lots: Vec<LotQuantity>,
    #[serde(default)]
    pub inputs: Vec<ItemKey>,
    #[serde(default)]
    pub input_lots: Vec<LotQuantity>,
    #[serde(default)]
    pub outputs: Vec<ItemKey>,
    #[serde(default)]
    pub output_lots: Vec<LotQuantity>,
    /// Objects named by identifiers Threadline does not track ([`Untracked`]).
    #[serde(default)]
    pub untracked: Vec<Untracked>,
    /// Quantities of classes Threadline does not count per lot ([`ClassQuantity`]).
    #[serde(default)]
    pub class_quantities: Vec<ClassQuantity>,
    /// The event carries sensor readings (EPCIS `sensorElementList`, which the EPCIS binding
    /// keeps): an object event may then name no object at all. Set by the binding only.
    #[serde(skip)]
    #[schemars(skip)]
    pub sensor_readings: bool,
    #[serde(default)]
    pub biz_transactions: Vec<BizTransaction>,
    #[serde(default)]
    pub sources: Vec<Endpoint>,
    #[serde(default)]
    pub destinations: Vec<Endpoint>,
    #[serde(default)]
    pub ilmd: Option<Ilmd>,
    #[serde(default)]
    pub hold: Option<HoldChange>,
    #[serde(default)]
    pub corrects: Option<Correction>,
    #[serde(default)]
    pub allocation: Option<Allocation>,
    /// This event is the error declaration of the event `corrects` names.
    #[serde(default)]
    pub error_declaration: Option<ErrorDeclaration>,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Set by the EPCIS binding, never read from a request: a lot's quantity may be left out
    /// ([`LotQuantity::quantity`]).
    #[serde(skip)]
    #[schemars(skip)]
    pub quantity_optional: bool,
}

/// A validated event, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    pub event_time: DateTime<Utc>,
    pub event_time_zone_offset: String,
    pub record_time: DateTime<Utc>,
    /// Who recorded it: a user name or an API client.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<BizStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<LocationCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_location: Option<LocationCode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<LotQuantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ItemKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ItemKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_lots: Vec<LotQuantity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<ItemKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_lots: Vec<LotQuantity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<ItemKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_lots: Vec<LotQuantity>,
    /// Objects named by identifiers Threadline does not track ([`Untracked`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untracked: Vec<Untracked>,
    /// Quantities of classes Threadline does not count per lot ([`ClassQuantity`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_quantities: Vec<ClassQuantity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biz_transactions: Vec<BizTransaction>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<Endpoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ilmd: Option<Ilmd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<Correction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation: Option<Allocation>,
    /// This event declares the event `corrects` names to be in error; it changes no state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_declaration: Option<ErrorDeclaration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The EPCIS `eventID` the event was captured with, when it is not `urn:uuid:{id}` (a
    /// partner's URI, or the CBV 2.0 event hash ID when the partner gave none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epcis_id: Option<String>,
    /// The CBV 2.0 event hash ID (`ni:///sha-256;…?ver=CBV2.0`): of the document as sent for an
    /// event captured through the EPCIS binding, of its EPCIS form for any other (stamped by the
    /// store at capture). Absent only on events recorded before hash IDs were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_id: Option<String>,
    /// Captured through the EPCIS binding: another event so captured with the same `hash_id`
    /// (and the same error-declaration status) is refused as a duplicate. Threadline's own
    /// events are never refused for their hash: two identical scans in one millisecond are
    /// two scans.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub epcis_capture: bool,
    /// The process rules an event captured through the EPCIS binding was recorded past
    /// (`on_hold`, `out_of_sequence`…: [`crate::projection::past_process`]), as the process
    /// definition in force at capture judged them. Set by the store once the projection has
    /// accepted the event, before its ledger body is written; a rebuild reads them back from
    /// the body and never asks the process again. Outside the EPCIS form, so the event's hash
    /// ID is unchanged. Empty for every other event, and absent in bodies written before it
    /// existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process_discrepancies: Vec<crate::projection::Discrepancy>,
    /// EPCIS content Threadline does not model, kept exactly so the event reads back as it was
    /// sent (sensor data, certification info, transformation ID, persistent disposition,
    /// namespaced ILMD and user extensions with their namespaces…). Only the EPCIS binding
    /// (`threadline-epcis`) writes and reads it; the rules never look at it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub epcis: BTreeMap<String, serde_json::Value>,
}

/// The role an item or lot plays in an event; also the role column of the event indexes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Subject,
    Parent,
    Child,
    Input,
    Output,
}

impl Role {
    pub fn code(self) -> i16 {
        match self {
            Role::Subject => 0,
            Role::Parent => 1,
            Role::Child => 2,
            Role::Input => 3,
            Role::Output => 4,
        }
    }

    pub fn from_code(c: i64) -> Option<Role> {
        Some(match c {
            0 => Role::Subject,
            1 => Role::Parent,
            2 => Role::Child,
            3 => Role::Input,
            4 => Role::Output,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Subject => "subject",
            Role::Parent => "parent",
            Role::Child => "child",
            Role::Input => "input",
            Role::Output => "output",
        }
    }
}

/// What the server adds to a request: who sent it, the server time, and a fresh id.
#[derive(Debug, Clone)]
pub struct CaptureContext {
    pub actor: String,
    pub now: DateTime<Utc>,
}

fn parse_offset(s: &str) -> Result<FixedOffset, FieldError> {
    let bad = || {
        FieldError::new(
            "invalid_time_zone_offset",
            format!("`{s}` is not an offset like +08:00"),
        )
    };
    let b = s.as_bytes();
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return Err(bad());
    }
    let h: i32 = s[1..3].parse().map_err(|_| bad())?;
    let m: i32 = s[4..6].parse().map_err(|_| bad())?;
    if h > 14 || m > 59 || (h == 14 && m != 0) {
        return Err(bad());
    }
    let secs = (h * 3600 + m * 60) * if b[0] == b'-' { -1 } else { 1 };
    FixedOffset::east_opt(secs).ok_or_else(bad)
}

/// `+08:00` style text for an offset.
pub fn format_offset(o: &FixedOffset) -> String {
    let secs = o.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    format!("{sign}{:02}:{:02}", secs / 3600, (secs % 3600) / 60)
}

impl Event {
    /// The event time as the clock where it happened read it: in the event's own
    /// `event_time_zone_offset` (UTC if that does not read as an offset, which capture never
    /// lets through).
    pub fn local_event_time(&self) -> DateTime<FixedOffset> {
        let offset = parse_offset(&self.event_time_zone_offset)
            .unwrap_or_else(|_| chrono::Offset::fix(&Utc));
        self.event_time.with_timezone(&offset)
    }

    /// Turns a request into an event, or lists everything wrong with it. Checks what can be
    /// known without the database: the EPCIS shape rules, duplicates within the event, the
    /// clock. State rules (does the serial exist, is it on hold) are the projection's.
    pub fn from_request(
        req: EventRequest,
        ctx: &CaptureContext,
        id: Uuid,
    ) -> Result<Event, Violations> {
        let mut v = Violations::new();
        let err =
            |code: &'static str, msg: String, field: &str| FieldError::new(code, msg).at(field);

        let offset = match &req.event_time_zone_offset {
            Some(s) => match parse_offset(s) {
                Ok(o) => format_offset(&o),
                Err(e) => {
                    v.push(e.at("event_time_zone_offset"));
                    String::new()
                }
            },
            None => format_offset(req.event_time.offset()),
        };
        let event_time = req.event_time.with_timezone(&Utc);
        if (event_time - ctx.now).num_seconds() > FUTURE_TOLERANCE_SECONDS {
            v.push(err(
                "future_event_time",
                format!(
                    "event time {} is in the future (server time {})",
                    req.event_time.to_rfc3339(),
                    ctx.now.to_rfc3339()
                ),
                "event_time",
            ));
        }

        // What the event names in a role: units and lots, and what Threadline records without
        // tracking (objects of other keys, quantities of classes it does not count per lot).
        let others = |role: Role| {
            req.untracked.iter().any(|u| u.role == role)
                || req.class_quantities.iter().any(|q| q.role == role)
        };
        let has = |items: &Vec<ItemKey>, lots: &Vec<LotQuantity>, role: Role| {
            !items.is_empty() || !lots.is_empty() || others(role)
        };
        let kind = req.kind;
        let misplaced = |v: &mut Violations, name: &str, present: bool| {
            if present {
                v.push(err(
                    "not_allowed",
                    format!("a {} event does not take `{name}`", kind.as_str()),
                    name,
                ));
            }
        };
        match kind {
            EventKind::Transformation => misplaced(&mut v, "action", req.action.is_some()),
            _ if req.action.is_none() => v.push(err(
                "required",
                format!(
                    "a {} event needs an action (ADD, OBSERVE or DELETE)",
                    kind.as_str()
                ),
                "action",
            )),
            _ => {}
        }
        let untracked_parent = req
            .untracked
            .iter()
            .filter(|u| u.role == Role::Parent)
            .count();
        match kind {
            EventKind::Object | EventKind::Transaction => {
                if !has(&req.items, &req.lots, Role::Subject) && !req.sensor_readings {
                    v.push(err(
                        "required",
                        format!("a {} event needs `items` or `lots`", kind.as_str()),
                        "items",
                    ));
                }
                misplaced(&mut v, "parent", req.parent.is_some());
                misplaced(&mut v, "children", !req.children.is_empty());
                misplaced(&mut v, "child_lots", !req.child_lots.is_empty());
            }
            EventKind::Aggregation | EventKind::Association => {
                misplaced(&mut v, "items", !req.items.is_empty());
                misplaced(&mut v, "lots", !req.lots.is_empty());
                // EPCIS 2.0 §7.4.3: an aggregation's parent is optional when it is observed
                // (the parent may not be seen or known); an association always names it.
                let parent_optional =
                    kind == EventKind::Aggregation && req.action == Some(Action::Observe);
                if req.parent.is_none() && untracked_parent == 0 && !parent_optional {
                    v.push(err(
                        "required",
                        format!("an {} event needs a `parent`", kind.as_str()),
                        "parent",
                    ));
                }
                if usize::from(req.parent.is_some()) + untracked_parent > 1 {
                    v.push(err(
                        "not_allowed",
                        "an event has one parent".into(),
                        "parent",
                    ));
                }
                if req.action != Some(Action::Delete)
                    && !has(&req.children, &req.child_lots, Role::Child)
                {
                    v.push(err(
                        "required",
                        "`children` or `child_lots` is required unless the action is DELETE".into(),
                        "children",
                    ));
                }
            }
            EventKind::Transformation => {
                misplaced(&mut v, "items", !req.items.is_empty());
                misplaced(&mut v, "lots", !req.lots.is_empty());
                misplaced(&mut v, "parent", req.parent.is_some());
                misplaced(&mut v, "children", !req.children.is_empty());
                misplaced(&mut v, "child_lots", !req.child_lots.is_empty());
                if !has(&req.inputs, &req.input_lots, Role::Input) {
                    v.push(err(
                        "required",
                        "a transformation needs `inputs` or `input_lots`".into(),
                        "inputs",
                    ));
                }
                if !has(&req.outputs, &req.output_lots, Role::Output) {
                    v.push(err(
                        "required",
                        "a transformation needs `outputs` or `output_lots`".into(),
                        "outputs",
                    ));
                }
            }
        }
        if kind != EventKind::Transformation {
            misplaced(&mut v, "inputs", !req.inputs.is_empty());
            misplaced(&mut v, "input_lots", !req.input_lots.is_empty());
            misplaced(&mut v, "outputs", !req.outputs.is_empty());
            misplaced(&mut v, "output_lots", !req.output_lots.is_empty());
        }
        // Each role belongs to the lists of some event types.
        let fits = |role: Role| match kind {
            EventKind::Object | EventKind::Transaction => role == Role::Subject,
            EventKind::Aggregation | EventKind::Association => {
                matches!(role, Role::Parent | Role::Child)
            }
            EventKind::Transformation => matches!(role, Role::Input | Role::Output),
        };
        let mut seen_untracked = HashSet::new();
        for (i, u) in req.untracked.iter().enumerate() {
            let at = format!("untracked[{i}]");
            if !fits(u.role) {
                misplaced(&mut v, &format!("{at}.role"), true);
            }
            if u.id.trim().is_empty() || u.id.len() > 1024 {
                v.push(err(
                    "invalid_identifier",
                    "an identifier is 1–1024 characters".into(),
                    &format!("{at}.id"),
                ));
            }
            if !seen_untracked.insert((u.role, u.id.as_str())) {
                v.push(err(
                    "duplicate_scan",
                    format!("{} appears twice in this event", u.id),
                    &at,
                ));
            }
        }
        for (i, q) in req.class_quantities.iter().enumerate() {
            let at = format!("class_quantities[{i}]");
            if !fits(q.role) || q.role == Role::Parent {
                misplaced(&mut v, &format!("{at}.role"), true);
            }
            if q.class.trim().is_empty() || q.class.len() > 1024 {
                v.push(err(
                    "invalid_identifier",
                    "a class is 1–1024 characters".into(),
                    &format!("{at}.class"),
                ));
            }
            if q.quantity.is_some_and(|x| !x.is_positive()) {
                v.push(err(
                    "invalid_quantity",
                    format!("quantity of {} must be greater than zero", q.class),
                    &format!("{at}.quantity"),
                ));
            }
        }
        if kind == EventKind::Transaction && req.biz_transactions.is_empty() {
            v.push(err(
                "required",
                "a transaction event needs `biz_transactions`".into(),
                "biz_transactions",
            ));
        }
        let ilmd_allowed = kind == EventKind::Transformation
            || (kind == EventKind::Object && req.action == Some(Action::Add));
        if req.ilmd.is_some() && !ilmd_allowed {
            v.push(err("not_allowed", "`ilmd` is only allowed when objects come into being (object ADD or transformation)".into(), "ilmd"));
        }
        if let Some(ilmd) = &req.ilmd
            && let (Some(p), Some(e)) = (ilmd.production_date, ilmd.expiry_date)
            && e < p
        {
            v.push(err(
                "invalid_dates",
                format!("expiry date {e} is before production date {p}"),
                "ilmd.expiry_date",
            ));
        }
        if req.hold.is_some() && !(kind == EventKind::Object && req.action == Some(Action::Observe))
        {
            v.push(err(
                "not_allowed",
                "a hold is placed or released by an object OBSERVE event".into(),
                "hold",
            ));
        }
        if req.error_declaration.is_some() && req.corrects.is_none() {
            v.push(err(
                "required",
                "an error declaration names the event it declares in error (`corrects`)".into(),
                "corrects",
            ));
        }
        if let Some(c) = &req.corrects {
            if c.reason.trim().is_empty() {
                v.push(err(
                    "required",
                    "a correction needs a reason".into(),
                    "corrects.reason",
                ));
            } else if c.reason.chars().count() > 1000 {
                v.push(err(
                    "too_long",
                    "the correction reason is longer than 1000 characters".into(),
                    "corrects.reason",
                ));
            }
        }
        for (i, e) in req
            .sources
            .iter()
            .chain(req.destinations.iter())
            .enumerate()
        {
            let (list, idx) = if i < req.sources.len() {
                ("sources", i)
            } else {
                ("destinations", i - req.sources.len())
            };
            if e.id.trim().is_empty() {
                v.push(err(
                    "empty",
                    "source/destination id must not be empty".into(),
                    &format!("{list}[{idx}].id"),
                ));
            }
        }
        if let Some(a) = &req.allocation {
            if !(kind == EventKind::Object && req.action == Some(Action::Add)) {
                v.push(err(
                    "not_allowed",
                    "an allocation registers serials: an object ADD event".into(),
                    "allocation",
                ));
            } else if a.count != req.items.len() as u64 || a.count == 0 {
                v.push(err(
                    "invalid_allocation",
                    format!(
                        "the allocation counts {} serials but the event names {}",
                        a.count,
                        req.items.len()
                    ),
                    "allocation.count",
                ));
            } else if a.scope.is_empty() || a.scope.len() > 256 {
                v.push(err(
                    "invalid_allocation",
                    "the allocation scope must be 1–256 characters".into(),
                    "allocation.scope",
                ));
            }
        }
        for key in req.fields.keys() {
            if key.is_empty() || key.len() > 128 {
                v.push(err(
                    "invalid_field_name",
                    format!("custom field name `{key}` must be 1–128 characters"),
                    "fields",
                ));
            }
        }

        // A unit may appear once per event: the same serial scanned twice is a mistake at the
        // scan, and a unit cannot be both the parent and a child, or both input and output.
        let mut seen: HashSet<&ItemKey> = HashSet::new();
        let lists: [(&str, &Vec<ItemKey>); 4] = [
            ("items", &req.items),
            ("children", &req.children),
            ("inputs", &req.inputs),
            ("outputs", &req.outputs),
        ];
        if let Some(p) = &req.parent {
            seen.insert(p);
        }
        for (name, list) in lists {
            for (i, key) in list.iter().enumerate() {
                if !seen.insert(key) {
                    v.push(err(
                        "duplicate_scan",
                        format!(
                            "serial {} of {} appears twice in this event",
                            key.serial, key.product
                        ),
                        &format!("{name}[{i}]"),
                    ));
                }
            }
        }
        let lot_lists: [(&str, &Vec<LotQuantity>); 4] = [
            ("lots", &req.lots),
            ("child_lots", &req.child_lots),
            ("input_lots", &req.input_lots),
            ("output_lots", &req.output_lots),
        ];
        for (name, list) in lot_lists {
            let mut seen_lots = HashSet::new();
            for (i, q) in list.iter().enumerate() {
                match q.quantity {
                    Some(x) if !x.is_positive() => v.push(err(
                        "invalid_quantity",
                        format!("quantity of {} must be greater than zero", q.key()),
                        &format!("{name}[{i}].quantity"),
                    )),
                    None if !req.quantity_optional => v.push(err(
                        "required",
                        format!("say how much of {} (`quantity`)", q.key()),
                        &format!("{name}[{i}].quantity"),
                    )),
                    _ => {}
                }
                // The same lot in two units is two quantities, not a repeated scan.
                if !seen_lots.insert((q.key(), q.uom.clone())) {
                    v.push(err(
                        "duplicate_scan",
                        format!("{} appears twice in `{name}`", q.key()),
                        &format!("{name}[{i}]"),
                    ));
                }
            }
        }
        if !v.is_empty() {
            return Err(v);
        }
        Ok(Event {
            id: req.id.unwrap_or(id),
            kind,
            action: req.action,
            event_time,
            event_time_zone_offset: offset,
            record_time: ctx.now,
            actor: ctx.actor.clone(),
            biz_step: req.biz_step,
            disposition: req.disposition,
            read_point: req.read_point,
            biz_location: req.biz_location,
            items: req.items,
            lots: req.lots,
            parent: req.parent,
            children: req.children,
            child_lots: req.child_lots,
            inputs: req.inputs,
            input_lots: req.input_lots,
            outputs: req.outputs,
            output_lots: req.output_lots,
            untracked: req.untracked,
            class_quantities: req.class_quantities,
            biz_transactions: req.biz_transactions,
            sources: req.sources,
            destinations: req.destinations,
            ilmd: req.ilmd,
            hold: req.hold,
            corrects: req.corrects,
            allocation: req.allocation,
            error_declaration: req.error_declaration,
            fields: req.fields,
            epcis_id: None,
            hash_id: None,
            epcis_capture: false,
            process_discrepancies: Vec::new(),
            epcis: BTreeMap::new(),
        })
    }

    /// Every unit the event names, with its role.
    pub fn item_refs(&self) -> impl Iterator<Item = (&ItemKey, Role)> {
        self.items
            .iter()
            .map(|k| (k, Role::Subject))
            .chain(self.parent.iter().map(|k| (k, Role::Parent)))
            .chain(self.children.iter().map(|k| (k, Role::Child)))
            .chain(self.inputs.iter().map(|k| (k, Role::Input)))
            .chain(self.outputs.iter().map(|k| (k, Role::Output)))
    }

    /// Every lot quantity the event names, with its role.
    pub fn lot_refs(&self) -> impl Iterator<Item = (&LotQuantity, Role)> {
        self.lots
            .iter()
            .map(|q| (q, Role::Subject))
            .chain(self.child_lots.iter().map(|q| (q, Role::Child)))
            .chain(self.input_lots.iter().map(|q| (q, Role::Input)))
            .chain(self.output_lots.iter().map(|q| (q, Role::Output)))
    }

    /// Every party the event names.
    pub fn party_refs(&self) -> impl Iterator<Item = &str> {
        self.sources
            .iter()
            .chain(self.destinations.iter())
            .filter_map(Endpoint::party)
    }

    /// Every location the event names.
    pub fn location_refs(&self) -> impl Iterator<Item = &LocationCode> {
        self.read_point.iter().chain(self.biz_location.iter())
    }

    /// Locations named as sources/destinations, as raw codes (checked by the projection).
    pub fn endpoint_locations(&self) -> impl Iterator<Item = &str> {
        self.sources
            .iter()
            .chain(self.destinations.iter())
            .filter_map(Endpoint::location)
    }

    pub fn source_location(&self) -> Option<&str> {
        self.sources.iter().find_map(Endpoint::location)
    }

    pub fn destination_location(&self) -> Option<&str> {
        self.destinations.iter().find_map(Endpoint::location)
    }

    /// The party that holds the goods after this event, if it says.
    pub fn new_custodian(&self) -> Option<&str> {
        let find = |k: EndpointKind| {
            self.destinations
                .iter()
                .find(|e| e.kind == k)
                .map(|e| e.id.as_str())
        };
        find(EndpointKind::PossessingParty).or_else(|| find(EndpointKind::OwningParty))
    }
}

/// Parses a party code named in an endpoint.
pub fn endpoint_party_code(s: &str) -> Result<PartyCode, FieldError> {
    PartyCode::parse(s)
}

/// The prefix of Threadline's custom-field namespace (`urn:threadline:field:`) in the EPCIS
/// documents it writes (`threadline-epcis` declares it in their `@context`): a custom field
/// `operator` is the user extension `tlf:operator`.
pub const FIELD_EXTENSION_PREFIX: &str = "tlf";

/// The EPCIS name of a field of Threadline's event (`items[0].serial` → `epcList[0]`,
/// `child_lots[1].quantity` → `childQuantityList[1].quantity`, `biz_location` →
/// `bizLocation.id`, a custom field `fields.operator` → the user extension `tlf:operator`);
/// anything else unchanged.
pub fn epcis_field(field: &str) -> String {
    let cut = field.find(['[', '.']).unwrap_or(field.len());
    let (name, rest) = field.split_at(cut);
    let (index, inner) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((i, inner)) => (format!("[{i}]"), inner.strip_prefix('.').unwrap_or(inner)),
        None => (String::new(), rest.strip_prefix('.').unwrap_or(rest)),
    };
    let epcs = |list: &str| format!("{list}{index}");
    let quantities = |list: &str| match inner {
        "quantity" | "uom" => format!("{list}{index}.{inner}"),
        _ => format!("{list}{index}.epcClass"),
    };
    match name {
        "items" => epcs("epcList"),
        "children" => epcs("childEPCs"),
        "inputs" => epcs("inputEPCList"),
        "outputs" => epcs("outputEPCList"),
        "parent" => "parentID".to_owned(),
        "lots" => quantities("quantityList"),
        "child_lots" => quantities("childQuantityList"),
        "input_lots" => quantities("inputQuantityList"),
        "output_lots" => quantities("outputQuantityList"),
        "biz_location" => "bizLocation.id".to_owned(),
        "read_point" => "readPoint.id".to_owned(),
        "event_time" => "eventTime".to_owned(),
        "event_time_zone_offset" => "eventTimeZoneOffset".to_owned(),
        "biz_step" => "bizStep".to_owned(),
        "biz_transactions" => format!("bizTransactionList{index}"),
        "sources" => format!("sourceList{index}"),
        "destinations" => format!("destinationList{index}"),
        // A custom field travels in EPCIS as a user extension of Threadline's field namespace
        // (`urn:threadline:field:`), under the prefix Threadline's own documents declare for it.
        "fields" if index.is_empty() && !inner.is_empty() => {
            format!("{FIELD_EXTENSION_PREFIX}:{inner}")
        }
        _ => field.to_owned(),
    }
}
