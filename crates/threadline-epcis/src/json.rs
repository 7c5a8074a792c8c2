//! EPCIS 2.0 JSON-LD: documents in, ledger events out, and back.
//!
//! Inbound, a document is read into its events ([`Document`]); each event becomes an
//! [`Inbound`]: the [`EventRequest`] Threadline's rules check like any other, plus what only the
//! EPCIS binding keeps (the partner's event ID, the hash ID, and content Threadline does not
//! model, kept exactly). Outbound, a ledger [`Event`] is written as a standard EPCIS event;
//! Threadline's own data with no EPCIS field (holds, corrections, allocations, custom fields and
//! attributes) goes into namespaced extensions, which read back to the same event.
//!
//! Errors name the field as a JSON path inside the event (`epcList[2]`); the caller prefixes
//! the event's place in the document.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Map, Value, json};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::event::{
    Action, BizStep, BizTransaction, BizTransactionType, ClassQuantity, Disposition, Endpoint,
    EndpointKind, ErrorDeclaration, Event, EventKind, EventRequest, Ilmd, LotQuantity, Role,
    TransactionId, Untracked,
};
use threadline_domain::quantity::Quantity;
use uuid::Uuid;

use crate::hash::{self, ATTRIBUTE_NS, CBVMDA_NS, Context, FIELD_NS, THREADLINE_NS};
use crate::ids::{self, Catalogue};
use crate::vocab::{self, Vocab};

/// The JSON-LD context every document Threadline writes starts with. Never fetched: its terms
/// are known.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// Which document a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Document,
    QueryDocument,
    /// A bare event (`POST /events`).
    Event,
}

/// A parsed EPCIS document: its kind, the prefixes in force, and its events as JSON objects
/// (XML documents are read into the same shape).
#[derive(Debug, Clone)]
pub struct Document {
    pub kind: DocumentKind,
    pub context: Context,
    pub events: Vec<Map<String, Value>>,
    /// Where the event list sits, for error paths (`epcisBody.eventList`).
    pub events_path: &'static str,
    /// The master data of the document's header, in document order (none for a bare event).
    pub master_data: Vec<crate::masterdata::VocabularyElement>,
}

fn err(code: &'static str, field: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(code, msg).at(field)
}

/// Reads the prefixes of a JSON-LD `@context` (a URL, an object, or a list of both). URLs are
/// not fetched; only the standard EPCIS context's terms are known.
pub fn read_context(v: Option<&Value>, ctx: &mut Context) {
    let Some(v) = v else { return };
    for item in v.as_array().map_or_else(|| vec![v], |a| a.iter().collect()) {
        if let Some(o) = item.as_object() {
            for (k, iri) in o {
                if let Some(iri) = iri
                    .as_str()
                    .or_else(|| iri.get("@id").and_then(Value::as_str))
                {
                    ctx.insert(k, iri);
                }
            }
        }
    }
}

/// Reads an EPCIS document, query document or single event from JSON.
pub fn parse_document(body: &[u8]) -> Result<Document, FieldError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| FieldError::new("invalid_json", format!("the body is not JSON: {e}")))?;
    from_value(v)
}

/// [`parse_document`] for a value already read.
pub fn from_value(v: Value) -> Result<Document, FieldError> {
    let Value::Object(mut doc) = v else {
        return Err(FieldError::new(
            "invalid_document",
            "an EPCIS document is a JSON object",
        ));
    };
    let mut context = Context::default();
    let kind = match doc.get("type").and_then(Value::as_str) {
        Some("EPCISDocument") => DocumentKind::Document,
        Some("EPCISQueryDocument") => DocumentKind::QueryDocument,
        Some(t) if t.ends_with("Event") => DocumentKind::Event,
        Some(t) => {
            return Err(err(
                "invalid_document",
                "type",
                format!("`{t}` is not an EPCIS document or event type"),
            ));
        }
        None => return Err(err("required", "type", "the document has no `type`")),
    };
    if kind != DocumentKind::Event {
        if !doc.contains_key("@context") {
            return Err(err(
                "required",
                "@context",
                "an EPCIS document needs `@context`",
            ));
        }
        match doc.get("schemaVersion") {
            Some(Value::String(_)) => {}
            Some(_) => {
                return Err(err(
                    "invalid_value",
                    "schemaVersion",
                    "`schemaVersion` is a string such as \"2.0\"",
                ));
            }
            None => {
                return Err(err(
                    "required",
                    "schemaVersion",
                    "an EPCIS document needs `schemaVersion`",
                ));
            }
        }
        match doc.get("creationDate").and_then(Value::as_str) {
            Some(d) if DateTime::parse_from_rfc3339(d).is_ok() => {}
            _ => {
                return Err(err(
                    "required",
                    "creationDate",
                    "an EPCIS document needs `creationDate`, a date-time with offset",
                ));
            }
        }
    }
    read_context(doc.get("@context"), &mut context);
    if kind == DocumentKind::Event {
        doc.remove("@context");
        return Ok(Document {
            kind,
            context,
            events: vec![doc],
            events_path: "",
            master_data: Vec::new(),
        });
    }
    let master_data = crate::masterdata::from_json_header(doc.get("epcisHeader"))?;
    let (list, path) = match kind {
        DocumentKind::QueryDocument => (
            doc.get_mut("epcisBody")
                .and_then(|b| b.get_mut("queryResults"))
                .and_then(|q| q.get_mut("resultsBody"))
                .and_then(|r| r.get_mut("eventList")),
            "epcisBody.queryResults.resultsBody.eventList",
        ),
        _ => (
            doc.get_mut("epcisBody")
                .and_then(|b| b.get_mut("eventList")),
            "epcisBody.eventList",
        ),
    };
    let Some(Value::Array(list)) = list.map(Value::take) else {
        return Err(err(
            "required",
            path,
            format!("the document needs `{path}`, a list"),
        ));
    };
    let mut events = Vec::with_capacity(list.len());
    for (i, e) in list.into_iter().enumerate() {
        match e {
            Value::Object(o) => events.push(o),
            _ => {
                return Err(err(
                    "invalid_event",
                    &format!("{path}[{i}]"),
                    "an event is a JSON object",
                ));
            }
        }
    }
    Ok(Document {
        kind,
        context,
        events,
        events_path: path,
        master_data,
    })
}

/// One EPCIS event read for capture.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// What Threadline's rules check, exactly as if it came from its own API.
    pub request: EventRequest,
    /// The partner's event ID when it is not `urn:uuid:…`, else the hash ID when none was
    /// given; `None` when the event ID is the UUID in `request.id`.
    pub epcis_id: Option<String>,
    pub hash_id: String,
    /// EPCIS content kept exactly (see [`Event::epcis`]).
    pub extras: BTreeMap<String, Value>,
}

impl Inbound {
    /// Moves the EPCIS-only parts into the event made from [`Inbound::request`].
    pub fn finish(self, event: &mut Event) {
        event.epcis_id = self.epcis_id;
        event.hash_id = Some(self.hash_id);
        event.epcis = self.extras;
        event.epcis_capture = true;
    }

    /// For an error declaration, the eventID of the event it declares in error (which the
    /// caller resolves to a ledger event and puts in `request.corrects`).
    pub fn declares(&self) -> Option<&str> {
        self.request
            .error_declaration
            .as_ref()
            .and(self.epcis_id.as_deref())
    }
}

/// Every URI in an event that may name a product by GTIN, so the caller can fill a
/// [`Catalogue`] before [`to_request`].
pub fn object_uris(ev: &Map<String, Value>) -> Vec<&str> {
    let mut out = Vec::new();
    for k in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        out.extend(
            ev.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
    }
    out.extend(ev.get("parentID").and_then(Value::as_str));
    for k in [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ] {
        out.extend(
            ev.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|q| q.get("epcClass").and_then(Value::as_str)),
        );
    }
    out
}

/// The standard fields of an event; every other top-level field is an extension.
pub(crate) const STANDARD: &[&str] = &[
    "type",
    "eventTime",
    "eventTimeZoneOffset",
    "recordTime",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
    "parentID",
    "epcList",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
    "ilmd",
    "@context",
];

/// The key in an event's kept EPCIS content (`Event::epcis`) of the lots whose count was sent
/// with an explicit `uom: "EA"`: by quantity list, their positions in it. A count is held
/// without a unit, so without this the answer would leave `uom` out, and a hash ID computed
/// on the answer would differ from the one the partner's event has.
pub const EXPLICIT_EA: &str = "explicitEaUom";

/// Fields kept exactly, as sent.
const KEPT: &[&str] = &[
    "errorDeclaration",
    "certificationInfo",
    "transformationID",
    "persistentDisposition",
    "sensorElementList",
];

/// Maps one EPCIS event to Threadline's request; every problem is reported.
pub fn to_request(
    ev: &Map<String, Value>,
    ctx: &Context,
    catalogue: &Catalogue,
) -> Result<Inbound, Vec<FieldError>> {
    let mut v: Vec<FieldError> = Vec::new();
    let hash_id = hash::hash_id(ev, ctx);
    let text = |k: &str| ev.get(k).and_then(Value::as_str);

    let kind = match text("type") {
        Some("ObjectEvent") => EventKind::Object,
        Some("AggregationEvent") => EventKind::Aggregation,
        Some("TransactionEvent") => EventKind::Transaction,
        Some("TransformationEvent") => EventKind::Transformation,
        Some("AssociationEvent") => EventKind::Association,
        Some(t) => {
            v.push(err(
                "invalid_event_type",
                "type",
                format!("`{t}` is not an EPCIS 2.0 event type"),
            ));
            EventKind::Object
        }
        None => {
            v.push(err("required", "type", "the event has no `type`"));
            EventKind::Object
        }
    };
    let event_time = match text("eventTime").map(DateTime::<FixedOffset>::parse_from_rfc3339) {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            v.push(err(
                "invalid_time",
                "eventTime",
                "`eventTime` must be a date-time with an offset, e.g. 2026-11-22T09:30:00+08:00",
            ));
            None
        }
        None => {
            v.push(err("required", "eventTime", "the event has no `eventTime`"));
            None
        }
    };
    let offset = text("eventTimeZoneOffset").map(str::to_owned);
    if offset.is_none() {
        v.push(err(
            "required",
            "eventTimeZoneOffset",
            "the event has no `eventTimeZoneOffset`",
        ));
    }
    let action = match text("action") {
        None => None,
        Some("ADD") => Some(Action::Add),
        Some("OBSERVE") => Some(Action::Observe),
        Some("DELETE") => Some(Action::Delete),
        Some(a) => {
            v.push(err(
                "invalid_value",
                "action",
                format!("action `{a}` is not ADD, OBSERVE or DELETE"),
            ));
            None
        }
    };
    let error_declaration = ev
        .get("errorDeclaration")
        .and_then(|d| declaration(&mut v, d, ctx));
    let declares = error_declaration.is_some();

    let (mut id, mut epcis_id) = (None, None);
    match text("eventID") {
        // A declaration repeats the eventID of the event it declares; its own ledger id is new.
        Some(e) if declares && ids::is_uri(e) => epcis_id = Some(e.to_owned()),
        Some(e) => match e.strip_prefix("urn:uuid:").map(Uuid::parse_str) {
            Some(Ok(u)) => id = Some(u),
            _ if ids::is_uri(e) => epcis_id = Some(e.to_owned()),
            _ => v.push(err(
                "invalid_value",
                "eventID",
                format!("eventID `{e}` is not a URI"),
            )),
        },
        None => epcis_id = Some(hash_id.clone()),
    }

    let vocab_value = |v: &mut Vec<FieldError>, name: &str, voc: Vocab| -> Option<String> {
        let s = ev.get(name)?;
        match s.as_str() {
            Some(s) => Some(vocab::word_in(voc, s)),
            None => {
                v.push(err("invalid_value", name, format!("`{name}` is a string")));
                None
            }
        }
    };
    let biz_step = vocab_value(&mut v, "bizStep", Vocab::BizStep)
        .and_then(|s| BizStep::parse(&s).map_err(|e| v.push(e.at("bizStep"))).ok());
    let disposition = vocab_value(&mut v, "disposition", Vocab::Disposition).and_then(|s| {
        Disposition::parse(&s)
            .map_err(|e| v.push(e.at("disposition")))
            .ok()
    });

    let mut extras: BTreeMap<String, Value> = BTreeMap::new();
    let mut place = |v: &mut Vec<FieldError>, name: &str| {
        let p = ev.get(name)?;
        let Some(id) = p.get("id").and_then(Value::as_str) else {
            v.push(err(
                "required",
                &format!("{name}.id"),
                format!("`{name}` needs an `id`"),
            ));
            return None;
        };
        let rest: Map<String, Value> = p
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "id")
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect();
        if !rest.is_empty() {
            extras.insert(name.to_owned(), Value::Object(rest));
        }
        ids::location(id)
            .map_err(|e| v.push(e.at(format!("{name}.id"))))
            .ok()
    };
    let read_point = place(&mut v, "readPoint");
    let biz_location = place(&mut v, "bizLocation");

    // Objects Threadline tracks go in the unit lists; others are kept as given, by role.
    let mut untracked: Vec<Untracked> = Vec::new();
    let mut units = |v: &mut Vec<FieldError>, name: &str, role: Role| -> Vec<ItemKey> {
        let mut out = Vec::new();
        match ev.get(name) {
            None => {}
            Some(Value::Array(a)) => {
                for (i, x) in a.iter().enumerate() {
                    match x.as_str().map(|s| (s, ids::object(catalogue, s))) {
                        Some((_, Ok(ids::Object::Unit(k)))) => out.push(k),
                        Some((s, Ok(ids::Object::Untracked))) => untracked.push(Untracked {
                            role,
                            id: s.to_owned(),
                        }),
                        Some((_, Err(e))) => v.push(e.at(format!("{name}[{i}]"))),
                        None => v.push(err(
                            "invalid_value",
                            &format!("{name}[{i}]"),
                            "an EPC is a URI string",
                        )),
                    }
                }
            }
            Some(_) => v.push(err(
                "invalid_value",
                name,
                format!("`{name}` is a list of EPCs"),
            )),
        }
        out
    };
    let items = units(&mut v, "epcList", Role::Subject);
    let children = units(&mut v, "childEPCs", Role::Child);
    let inputs = units(&mut v, "inputEPCList", Role::Input);
    let outputs = units(&mut v, "outputEPCList", Role::Output);
    let parent = match ev.get("parentID") {
        None => None,
        Some(p) => match p.as_str().map(|s| (s, ids::object(catalogue, s))) {
            Some((_, Ok(ids::Object::Unit(k)))) => Some(k),
            Some((s, Ok(ids::Object::Untracked))) => {
                untracked.push(Untracked {
                    role: Role::Parent,
                    id: s.to_owned(),
                });
                None
            }
            Some((_, Err(e))) => {
                v.push(e.at("parentID"));
                None
            }
            None => {
                v.push(err(
                    "invalid_value",
                    "parentID",
                    "`parentID` is a URI string",
                ));
                None
            }
        },
    };
    // Lots go in the lot lists; a product without a lot and other classes are kept as given.
    let mut class_quantities: Vec<ClassQuantity> = Vec::new();
    // The lots (by list and position) whose count was written `uom: "EA"` where the lot is
    // held without a unit: the answer writes it back as sent.
    let mut explicit_ea: Map<String, Value> = Map::new();
    let mut quantities = |v: &mut Vec<FieldError>, name: &str, role: Role| -> Vec<LotQuantity> {
        let mut out = Vec::new();
        let Some(list) = ev.get(name) else { return out };
        let Some(list) = list.as_array() else {
            v.push(err("invalid_value", name, format!("`{name}` is a list")));
            return out;
        };
        for (i, q) in list.iter().enumerate() {
            let at = format!("{name}[{i}]");
            let Some(class) = q.get("epcClass").and_then(Value::as_str) else {
                v.push(err(
                    "required",
                    &format!("{at}.epcClass"),
                    "a quantity element needs `epcClass`",
                ));
                continue;
            };
            let named = match ids::class(catalogue, class) {
                Ok(c) => c,
                Err(e) => {
                    v.push(e.at(format!("{at}.epcClass")));
                    continue;
                }
            };
            let amount = match q.get("quantity") {
                Some(Value::Number(n)) => Quantity::parse(&n.to_string())
                    .map(Some)
                    .map_err(|e| e.at(format!("{at}.quantity"))),
                Some(_) => Err(err(
                    "invalid_quantity",
                    &format!("{at}.quantity"),
                    "`quantity` is a number",
                )),
                None => Ok(None),
            };
            // UN/CEFACT Rec. 20 codes: 2 or 3 capital letters or digits (the EPCIS schema's
            // pattern).
            let uom = match q.get("uom") {
                None => Ok(None),
                Some(Value::String(u))
                    if (2..=3).contains(&u.len())
                        && u.bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
                {
                    Ok(Some(u.clone()))
                }
                Some(_) => Err(err(
                    "invalid_uom",
                    &format!("{at}.uom"),
                    "`uom` is a UN/CEFACT Rec. 20 code: 2 or 3 capital letters or digits",
                )),
            };
            let (amount, uom) = match (amount, uom) {
                (Ok(a), Ok(u)) => (a, u),
                (a, u) => {
                    v.extend(a.err().into_iter().chain(u.err()));
                    continue;
                }
            };
            match named {
                ids::Class::Lot(key) => {
                    // A quantity element may leave its quantity out (EPCIS 2.0 §7.3.3.2): the
                    // lot is recorded, and an unknown quantity moves no stock.
                    let quantity = amount;
                    // Kept only where it is not the product's own unit: no uom is a count.
                    let sent_ea = uom.as_deref() == Some("EA");
                    let given = uom.unwrap_or_else(|| "EA".to_owned());
                    let product_uom = catalogue.by_code(key.product.as_str()).map(|p| &p.uom);
                    let uom = match product_uom {
                        Some(p) if *p == given => None,
                        _ => Some(given),
                    };
                    // A count written `EA` reads back without a unit (as one sent without
                    // does) unless this is kept.
                    if sent_ea {
                        if let Value::Array(at) = explicit_ea
                            .entry(name.to_owned())
                            .or_insert_with(|| Value::Array(Vec::new()))
                        {
                            at.push(json!(out.len()));
                        }
                    }
                    out.push(LotQuantity {
                        product: key.product,
                        lot: key.lot,
                        quantity,
                        uom,
                    });
                }
                ids::Class::Product(code) => class_quantities.push(ClassQuantity {
                    role,
                    class: class.to_owned(),
                    product: Some(code),
                    quantity: amount,
                    uom,
                }),
                ids::Class::Untracked => class_quantities.push(ClassQuantity {
                    role,
                    class: class.to_owned(),
                    product: None,
                    quantity: amount,
                    uom,
                }),
            }
        }
        out
    };
    let lots = quantities(&mut v, "quantityList", Role::Subject);
    let child_lots = quantities(&mut v, "childQuantityList", Role::Child);
    let input_lots = quantities(&mut v, "inputQuantityList", Role::Input);
    let output_lots = quantities(&mut v, "outputQuantityList", Role::Output);
    let sensor_readings = ev
        .get("sensorElementList")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty());

    let mut biz_transactions = Vec::new();
    for (i, bt) in ev
        .get("bizTransactionList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("bizTransactionList[{i}]");
        let Some(t) = bt.get("type").and_then(Value::as_str) else {
            v.push(err(
                "required",
                &format!("{at}.type"),
                "Threadline needs the type of a business transaction (po, desadv, prodorder…)",
            ));
            continue;
        };
        let kind =
            BizTransactionType::parse(&vocab::btt_in(t)).map_err(|e| e.at(format!("{at}.type")));
        let id = bt
            .get("bizTransaction")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                err(
                    "required",
                    &format!("{at}.bizTransaction"),
                    "a business transaction needs `bizTransaction`",
                )
            })
            .and_then(|u| ids::transaction(u).map_err(|e| e.at(format!("{at}.bizTransaction"))))
            .and_then(|s| {
                TransactionId::try_from(s).map_err(|e| e.at(format!("{at}.bizTransaction")))
            });
        match (kind, id) {
            (Ok(kind), Ok(id)) => biz_transactions.push(BizTransaction { kind, id }),
            (k, i) => v.extend(k.err().into_iter().chain(i.err())),
        }
    }
    let endpoints = |v: &mut Vec<FieldError>, list: &str, value: &str| -> Vec<Endpoint> {
        let mut out = Vec::new();
        for (i, e) in ev
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{list}[{i}]");
            let kind = match e
                .get("type")
                .and_then(Value::as_str)
                .and_then(|t| Vocab::SourceDestType.word(t))
            {
                Some("owning_party") => EndpointKind::OwningParty,
                Some("possessing_party") => EndpointKind::PossessingParty,
                Some(_) => EndpointKind::Location,
                None => {
                    v.push(err(
                        "invalid_value",
                        &format!("{at}.type"),
                        "the type is owning_party, possessing_party or location",
                    ));
                    continue;
                }
            };
            let Some(uri) = e.get(value).and_then(Value::as_str) else {
                v.push(err(
                    "required",
                    &format!("{at}.{value}"),
                    format!("`{value}` is required"),
                ));
                continue;
            };
            let id = match kind {
                EndpointKind::Location => ids::location(uri).map(|c| c.as_str().to_owned()),
                _ => ids::party(uri).map(|c| c.as_str().to_owned()),
            };
            match id {
                Ok(id) => out.push(Endpoint { kind, id }),
                Err(e) => v.push(e.at(format!("{at}.{value}"))),
            }
        }
        out
    };
    let sources = endpoints(&mut v, "sourceList", "source");
    let destinations = endpoints(&mut v, "destinationList", "destination");

    let mut ilmd: Option<Ilmd> = None;
    let mut kept_ilmd = Map::new();
    if let Some(m) = ev.get("ilmd") {
        let Some(m) = m.as_object() else {
            v.push(err("invalid_value", "ilmd", "`ilmd` is an object"));
            return Err(v);
        };
        let mut out = Ilmd::default();
        for (k, x) in m {
            let at = format!("ilmd.{k}");
            let Some((ns, local)) = ctx.split(k) else {
                v.push(err(
                    "not_namespaced",
                    &at,
                    format!("ILMD field `{k}` needs a namespace (a prefix declared in @context)"),
                ));
                continue;
            };
            let date = |x: &Value| {
                x.as_str()
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                    .ok_or_else(|| err("invalid_date", &at, format!("`{k}` is a date YYYY-MM-DD")))
            };
            match (ns, local) {
                (CBVMDA_NS, "lotNumber") => match x.as_str().map(threadline_domain::LotCode::parse)
                {
                    Some(Ok(l)) => out.lot = Some(l),
                    Some(Err(e)) => v.push(e.at(at)),
                    None => v.push(err("invalid_value", &at, "the lot number is text")),
                },
                (CBVMDA_NS, "itemExpirationDate") => match date(x) {
                    Ok(d) => out.expiry_date = Some(d),
                    Err(e) => v.push(e),
                },
                (THREADLINE_NS, "productionDate") => match date(x) {
                    Ok(d) => out.production_date = Some(d),
                    Err(e) => v.push(e),
                },
                (ATTRIBUTE_NS, name) => {
                    out.attributes.insert(name.to_owned(), x.clone());
                }
                _ => {
                    kept_ilmd.insert(k.clone(), x.clone());
                }
            }
        }
        ilmd = Some(out);
    }
    if !kept_ilmd.is_empty() {
        extras.insert("ilmd".into(), Value::Object(kept_ilmd));
    }

    let mut fields = BTreeMap::new();
    let mut hold = None;
    let mut corrects = None;
    let mut allocation = None;
    let mut kept_ext = Map::new();
    for (k, x) in ev {
        if STANDARD.contains(&k.as_str()) {
            if KEPT.contains(&k.as_str()) {
                extras.insert(k.clone(), x.clone());
            }
            continue;
        }
        let Some((ns, local)) = ctx.split(k) else {
            v.push(err("unknown_field", k, format!("`{k}` is not an EPCIS field; extensions need a namespace (a prefix declared in @context)")));
            continue;
        };
        match (ns, local) {
            (FIELD_NS, name) => {
                fields.insert(name.to_owned(), x.clone());
            }
            (THREADLINE_NS, "hold") => match typed(k, x) {
                Ok(h) => hold = Some(h),
                Err(e) => v.push(e),
            },
            (THREADLINE_NS, "corrects") => match typed(k, x) {
                Ok(c) => corrects = Some(c),
                Err(e) => v.push(e),
            },
            (THREADLINE_NS, "allocation") => match typed(k, x) {
                Ok(a) => allocation = Some(a),
                Err(e) => v.push(e),
            },
            _ => {
                kept_ext.insert(k.clone(), x.clone());
            }
        }
    }
    if !kept_ext.is_empty() {
        extras.insert("extensions".into(), Value::Object(kept_ext));
    }
    if extras
        .keys()
        .any(|k| k != "transformationID" && k != "certificationInfo" && k != "errorDeclaration")
    {
        let used: Map<String, Value> = ctx
            .prefixes()
            .iter()
            .filter(|(p, iri)| Context::default().iri(p) != Some(iri.as_str()))
            .map(|(p, iri)| (p.clone(), Value::String(iri.clone())))
            .collect();
        if !used.is_empty() {
            extras.insert("@context".into(), Value::Object(used));
        }
    }
    // Identifiers sent as EPC URNs are held as Digital Links; which ones is kept, so that
    // `GS1-EPC-Format: Never_Translates` answers them as they were captured.
    let forms = crate::format::captured_forms(ev);
    if !forms.is_empty() {
        extras.insert(crate::format::CAPTURED_FORMS.into(), Value::Object(forms));
    }
    if !explicit_ea.is_empty() {
        extras.insert(EXPLICIT_EA.into(), Value::Object(explicit_ea));
    }

    let Some(event_time) = event_time else {
        return Err(v);
    };
    if !v.is_empty() {
        return Err(v);
    }
    Ok(Inbound {
        request: EventRequest {
            id,
            kind,
            action,
            event_time,
            event_time_zone_offset: offset,
            biz_step,
            disposition,
            read_point,
            biz_location,
            items,
            lots,
            parent,
            children,
            child_lots,
            inputs,
            input_lots,
            outputs,
            output_lots,
            untracked,
            class_quantities,
            sensor_readings,
            biz_transactions,
            sources,
            destinations,
            ilmd,
            hold,
            corrects,
            allocation,
            error_declaration,
            fields,
            quantity_optional: true,
        },
        epcis_id,
        hash_id,
        extras,
    })
}

/// Reads `errorDeclaration`: its time, its reason (a CBV word in any spelling, or a URI), the
/// corrective event IDs (URIs) and namespaced extensions. The object itself is kept exactly.
fn declaration(v: &mut Vec<FieldError>, d: &Value, ctx: &Context) -> Option<ErrorDeclaration> {
    let Some(o) = d.as_object() else {
        v.push(err(
            "invalid_value",
            "errorDeclaration",
            "`errorDeclaration` is an object",
        ));
        return None;
    };
    let mut ok = true;
    let time = match o.get("declarationTime").and_then(Value::as_str) {
        Some(t) => match DateTime::parse_from_rfc3339(t) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(_) => {
                v.push(err(
                    "invalid_time",
                    "errorDeclaration.declarationTime",
                    "`declarationTime` is a date-time with an offset",
                ));
                None
            }
        },
        None => {
            v.push(err(
                "required",
                "errorDeclaration.declarationTime",
                "an error declaration needs `declarationTime`",
            ));
            None
        }
    };
    let reason = match o.get("reason") {
        None => None,
        Some(Value::String(r)) if Vocab::ErrorReason.word(r).is_some() || ids::is_uri(r) => {
            Some(vocab::word_in(Vocab::ErrorReason, r))
        }
        Some(_) => {
            ok = false;
            v.push(err(
                "unknown_vocabulary",
                "errorDeclaration.reason",
                "the reason is did_not_occur, incorrect_data or a URI of your own",
            ));
            None
        }
    };
    match o.get("correctiveEventIDs") {
        None => {}
        Some(Value::Array(list)) => {
            for (i, x) in list.iter().enumerate() {
                if !x.as_str().is_some_and(ids::is_uri) {
                    ok = false;
                    v.push(err(
                        "invalid_value",
                        &format!("errorDeclaration.correctiveEventIDs[{i}]"),
                        "a corrective event ID is a URI",
                    ));
                }
            }
        }
        Some(_) => {
            ok = false;
            v.push(err(
                "invalid_value",
                "errorDeclaration.correctiveEventIDs",
                "`correctiveEventIDs` is a list of event IDs",
            ));
        }
    }
    for k in o.keys() {
        if !["declarationTime", "reason", "correctiveEventIDs"].contains(&k.as_str())
            && ctx.split(k).is_none()
        {
            ok = false;
            v.push(err(
                "unknown_field",
                &format!("errorDeclaration.{k}"),
                format!("`{k}` is not an EPCIS field; extensions need a namespace (a prefix declared in @context)"),
            ));
        }
    }
    let declaration_time = time?;
    ok.then_some(ErrorDeclaration {
        declaration_time,
        reason,
    })
}

fn typed<T: serde::de::DeserializeOwned>(k: &str, x: &Value) -> Result<T, FieldError> {
    serde_json::from_value(x.clone()).map_err(|e| err("invalid_value", k, e.to_string()))
}

/// The EPCIS `eventID` of a ledger event.
pub fn event_id(ev: &Event) -> String {
    ev.epcis_id
        .clone()
        .unwrap_or_else(|| format!("urn:uuid:{}", ev.id))
}

/// The EPCIS type name of an event kind.
pub fn type_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Object => "ObjectEvent",
        EventKind::Aggregation => "AggregationEvent",
        EventKind::Transaction => "TransactionEvent",
        EventKind::Transformation => "TransformationEvent",
        EventKind::Association => "AssociationEvent",
    }
}

/// The event kind of an EPCIS type name.
pub fn kind_of(type_name: &str) -> Option<EventKind> {
    Some(match type_name {
        "ObjectEvent" => EventKind::Object,
        "AggregationEvent" => EventKind::Aggregation,
        "TransactionEvent" => EventKind::Transaction,
        "TransformationEvent" => EventKind::Transformation,
        "AssociationEvent" => EventKind::Association,
        _ => return None,
    })
}

/// Writes a ledger event as an EPCIS 2.0 event (JSON-LD, without its own `@context`).
pub fn event_json(ev: &Event, catalogue: &Catalogue) -> Map<String, Value> {
    let mut o = Map::new();
    let put = |o: &mut Map<String, Value>, k: &str, v: Value| {
        o.insert(k.to_owned(), v);
    };
    put(&mut o, "type", json!(type_name(ev.kind)));
    put(
        &mut o,
        "eventTime",
        json!(
            ev.event_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
    );
    put(
        &mut o,
        "recordTime",
        json!(
            ev.record_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
    );
    put(
        &mut o,
        "eventTimeZoneOffset",
        json!(ev.event_time_zone_offset),
    );
    put(&mut o, "eventID", json!(event_id(ev)));
    if let Some(d) = &ev.error_declaration {
        let written = ev
            .epcis
            .get("errorDeclaration")
            .cloned()
            .unwrap_or_else(|| {
                let mut x = Map::new();
                x.insert(
                    "declarationTime".into(),
                    json!(
                        d.declaration_time
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    ),
                );
                if let Some(r) = &d.reason {
                    x.insert("reason".into(), json!(r));
                }
                Value::Object(x)
            });
        put(&mut o, "errorDeclaration", written);
    }
    for k in ["certificationInfo", "transformationID"] {
        if let Some(x) = ev.epcis.get(k) {
            put(&mut o, k, x.clone());
        }
    }
    // Units, then the objects Threadline records as given in the same role.
    let unit_list = |list: &[ItemKey], role: Role| {
        Value::Array(
            list.iter()
                .map(|k| json!(ids::unit_uri(catalogue, k)))
                .chain(
                    ev.untracked
                        .iter()
                        .filter(|u| u.role == role)
                        .map(|u| json!(u.id)),
                )
                .collect(),
        )
    };
    let has_list = |list: &[ItemKey], role: Role| {
        !list.is_empty() || ev.untracked.iter().any(|u| u.role == role)
    };
    let has_quantities = |list: &[LotQuantity], role: Role| {
        !list.is_empty() || ev.class_quantities.iter().any(|q| q.role == role)
    };
    // Lots, then the quantities of classes Threadline records as given in the same role.
    let lot_list = |list: &[LotQuantity], role: Role, name: &str| {
        let sent_ea: Vec<u64> = ev
            .epcis
            .get(EXPLICIT_EA)
            .and_then(|m| m.get(name))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect();
        let classes = ev
            .class_quantities
            .iter()
            .filter(|q| q.role == role)
            .map(|q| {
                let mut e = Map::new();
                e.insert("epcClass".into(), json!(q.class));
                if let Some(n) = q.quantity {
                    e.insert("quantity".into(), quantity(n));
                }
                if let Some(u) = &q.uom {
                    e.insert("uom".into(), json!(u));
                }
                Value::Object(e)
            })
            .collect::<Vec<_>>();
        Value::Array(
            list.iter()
                .enumerate()
                .map(|(i, q)| {
                    let mut e = Map::new();
                    e.insert(
                        "epcClass".into(),
                        json!(ids::lot_uri(
                            catalogue,
                            &LotKey {
                                product: q.product.clone(),
                                lot: q.lot.clone()
                            }
                        )),
                    );
                    if let Some(n) = q.quantity {
                        e.insert("quantity".into(), quantity(n));
                    }
                    // The unit it was given in, else its product's; none for a count.
                    let uom = q.uom.as_deref().or_else(|| {
                        catalogue
                            .by_code(q.product.as_str())
                            .map(|p| p.uom.as_str())
                    });
                    if let Some(u) = uom.filter(|u| *u != "EA") {
                        e.insert("uom".into(), json!(u));
                    } else if uom.is_none_or(|u| u == "EA") && sent_ea.contains(&(i as u64)) {
                        e.insert("uom".into(), json!("EA"));
                    }
                    Value::Object(e)
                })
                .chain(classes)
                .collect(),
        )
    };
    if let Some(p) = &ev.parent {
        put(&mut o, "parentID", json!(ids::unit_uri(catalogue, p)));
    } else if let Some(u) = ev.untracked.iter().find(|u| u.role == Role::Parent) {
        put(&mut o, "parentID", json!(u.id));
    }
    match ev.kind {
        EventKind::Object | EventKind::Transaction => {
            put(&mut o, "epcList", unit_list(&ev.items, Role::Subject));
            if has_quantities(&ev.lots, Role::Subject) {
                put(
                    &mut o,
                    "quantityList",
                    lot_list(&ev.lots, Role::Subject, "quantityList"),
                );
            }
        }
        EventKind::Aggregation | EventKind::Association => {
            if has_list(&ev.children, Role::Child) {
                put(&mut o, "childEPCs", unit_list(&ev.children, Role::Child));
            }
            if has_quantities(&ev.child_lots, Role::Child) {
                put(
                    &mut o,
                    "childQuantityList",
                    lot_list(&ev.child_lots, Role::Child, "childQuantityList"),
                );
            }
        }
        EventKind::Transformation => {
            for (k, l, role) in [
                ("inputEPCList", &ev.inputs, Role::Input),
                ("outputEPCList", &ev.outputs, Role::Output),
            ] {
                if has_list(l, role) {
                    put(&mut o, k, unit_list(l, role));
                }
            }
            for (k, l, role) in [
                ("inputQuantityList", &ev.input_lots, Role::Input),
                ("outputQuantityList", &ev.output_lots, Role::Output),
            ] {
                if has_quantities(l, role) {
                    put(&mut o, k, lot_list(l, role, k));
                }
            }
        }
    }
    if let Some(a) = ev.action {
        put(&mut o, "action", json!(a.as_str()));
    }
    if let Some(s) = &ev.biz_step {
        put(&mut o, "bizStep", json!(s.as_str()));
    }
    if let Some(d) = &ev.disposition {
        put(&mut o, "disposition", json!(d.as_str()));
    }
    if let Some(x) = ev.epcis.get("persistentDisposition") {
        put(&mut o, "persistentDisposition", x.clone());
    }
    for (k, l) in [
        ("readPoint", &ev.read_point),
        ("bizLocation", &ev.biz_location),
    ] {
        if let Some(l) = l {
            let mut p = Map::new();
            p.insert("id".into(), json!(ids::location_uri(l)));
            if let Some(Value::Object(ext)) = ev.epcis.get(k) {
                p.extend(ext.clone());
            }
            put(&mut o, k, Value::Object(p));
        }
    }
    if !ev.biz_transactions.is_empty() {
        let list = ev
            .biz_transactions
            .iter()
            .map(|b| json!({"type": vocab::btt_out(b.kind.as_str()), "bizTransaction": ids::transaction_uri(b.id.as_str())}))
            .collect();
        put(&mut o, "bizTransactionList", Value::Array(list));
    }
    for (k, value, list) in [
        ("sourceList", "source", &ev.sources),
        ("destinationList", "destination", &ev.destinations),
    ] {
        if list.is_empty() {
            continue;
        }
        let list = list
            .iter()
            .map(|e| {
                let (t, uri) = match e.kind {
                    EndpointKind::OwningParty => ("owning_party", party_uri(&e.id)),
                    EndpointKind::PossessingParty => ("possessing_party", party_uri(&e.id)),
                    EndpointKind::Location => ("location", location_uri(&e.id)),
                };
                json!({"type": t, value: uri})
            })
            .collect();
        put(&mut o, k, Value::Array(list));
    }
    if let Some(x) = ev.epcis.get("sensorElementList") {
        put(&mut o, "sensorElementList", x.clone());
    }
    let mut ilmd = Map::new();
    if let Some(i) = &ev.ilmd {
        if let Some(l) = &i.lot {
            ilmd.insert("cbvmda:lotNumber".into(), json!(l.as_str()));
        }
        if let Some(d) = i.expiry_date {
            ilmd.insert("cbvmda:itemExpirationDate".into(), json!(d.to_string()));
        }
        if let Some(d) = i.production_date {
            ilmd.insert("threadline:productionDate".into(), json!(d.to_string()));
        }
        for (k, x) in &i.attributes {
            ilmd.insert(format!("tla:{k}"), x.clone());
        }
    }
    if let Some(Value::Object(kept)) = ev.epcis.get("ilmd") {
        ilmd.extend(kept.clone());
    }
    if ev.ilmd.is_some() || !ilmd.is_empty() {
        put(&mut o, "ilmd", Value::Object(ilmd));
    }
    if let Some(h) = &ev.hold {
        put(&mut o, "threadline:hold", json!(h));
    }
    // A declaration names what it declares by its eventID, like the standard.
    if let Some(c) = ev
        .corrects
        .as_ref()
        .filter(|_| ev.error_declaration.is_none())
    {
        put(&mut o, "threadline:corrects", json!(c));
    }
    if let Some(a) = &ev.allocation {
        put(&mut o, "threadline:allocation", json!(a));
    }
    for (k, x) in &ev.fields {
        put(
            &mut o,
            &format!("{}:{k}", threadline_domain::event::FIELD_EXTENSION_PREFIX),
            x.clone(),
        );
    }
    if let Some(Value::Object(ext)) = ev.epcis.get("extensions") {
        o.extend(ext.clone());
    }
    o
}

fn party_uri(code: &str) -> String {
    threadline_domain::PartyCode::parse(code)
        .map_or_else(|_| code.to_owned(), |c| ids::party_uri(&c))
}

fn location_uri(code: &str) -> String {
    threadline_domain::LocationCode::parse(code)
        .map_or_else(|_| code.to_owned(), |c| ids::location_uri(&c))
}

/// A quantity as a JSON number: an integer when whole.
fn quantity(q: Quantity) -> Value {
    let m = q.millis();
    if m % 1000 == 0 {
        json!(m / 1000)
    } else {
        serde_json::Number::from_f64(m as f64 / 1000.0).map_or(Value::Null, Value::Number)
    }
}

/// The `@context` of a document holding these events: the EPCIS context, Threadline's
/// prefixes, and the prefixes kept with partners' extensions.
pub fn document_context<'a>(events: impl IntoIterator<Item = &'a Event>) -> Value {
    let mut own = Map::new();
    own.insert("threadline".into(), json!(THREADLINE_NS));
    own.insert("tla".into(), json!(ATTRIBUTE_NS));
    own.insert(
        threadline_domain::event::FIELD_EXTENSION_PREFIX.into(),
        json!(FIELD_NS),
    );
    own.insert("cbvmda".into(), json!(CBVMDA_NS));
    for ev in events {
        if let Some(Value::Object(c)) = ev.epcis.get("@context") {
            for (k, x) in c {
                own.entry(k.clone()).or_insert_with(|| x.clone());
            }
        }
    }
    json!([EPCIS_CONTEXT, own])
}

/// The prefixes of [`document_context`], for hashing events written by Threadline.
pub fn context_of<'a>(events: impl IntoIterator<Item = &'a Event>) -> Context {
    let mut ctx = Context::default();
    read_context(Some(&document_context(events)), &mut ctx);
    ctx
}

/// An `EPCISQueryDocument` holding `events`.
pub fn query_document(
    query_name: &str,
    events: &[Event],
    catalogue: &Catalogue,
    created: DateTime<chrono::Utc>,
) -> Value {
    let list: Vec<Value> = events
        .iter()
        .map(|e| Value::Object(event_json(e, catalogue)))
        .collect();
    json!({
        "@context": document_context(events),
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": list}}}
    })
}
