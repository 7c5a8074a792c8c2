//! The EPCIS 2.0 Simple Event Query, read from `GET /events` parameters and judged against an
//! event's EPCIS form — the same JSON a partner reads — so every parameter means what the
//! standard says whatever Threadline field it maps to. The caller narrows the candidates with
//! its indexes ([`Filter::narrowing`]) and asks [`Filter::matches`] of each.
//!
//! Several values of one parameter are separated by `|` (any of them matches); EPCs compare in
//! their canonical Digital Link form, so an EPC URN and a Digital Link name the same object,
//! and an EPC pattern (`urn:epc:idpat:sgtin:….*`, a GTIN-only Digital Link, or any URI ending
//! in `*`) matches every instance under it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use threadline_domain::error::FieldError;

use crate::hash::Context;
use crate::ids;
use crate::vocab::{self, Vocab};

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    EventTime,
    RecordTime,
}

/// One comparison of an ILMD field or a top-level extension field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
}

#[derive(Debug, Clone)]
enum Cond {
    EventType(Vec<String>),
    Time {
        field: &'static str,
        at_least: bool,
        t: DateTime<Utc>,
    },
    Action(Vec<String>),
    Word {
        field: &'static str,
        vocab: Vocab,
        values: Vec<String>,
    },
    /// `readPoint`/`bizLocation` is one of these places (canonical URIs).
    Place {
        field: &'static str,
        uris: Vec<String>,
    },
    Match {
        lists: &'static [&'static str],
        patterns: Vec<Pattern>,
    },
    Quantity {
        op: Op,
        value: f64,
    },
    DeclarationExists,
    DeclarationText {
        field: &'static str,
        values: Vec<String>,
    },
    EventId(Vec<String>),
    Typed {
        list: &'static str,
        value: &'static str,
        vocab: Vocab,
        kind: String,
        uris: Vec<String>,
    },
    Field {
        ilmd: bool,
        name: String,
        op: Op,
        values: Vec<String>,
    },
    TransformationId(Vec<String>),
    /// `EQ_persistentDisposition_set` / `_unset`: the list holds one of these.
    Persistent {
        list: &'static str,
        values: Vec<String>,
    },
    /// `EQ_INNER_{field}`, `…_INNER_ILMD_{field}`: a field nested inside an extension (or
    /// inside one of the ILMD's), at any depth below the top.
    Inner {
        ilmd: bool,
        name: String,
        op: Op,
        values: Vec<String>,
    },
    /// `EQ_ATTR_{field}_{attr}` / `HASATTR_{field}`: the field's value is one of these
    /// vocabulary elements (canonical ids), those whose master data answers the
    /// [`AttributeQuery`] of this index in [`Filter::attributes`] — the caller finds them
    /// ([`Filter::add_attribute_matches`]); none found, nothing matches.
    Attr {
        field: &'static str,
        query: usize,
        ids: std::collections::BTreeSet<String>,
    },
    /// `EXISTS_sensorElementList`.
    SensorExists,
    /// A text field of a sensor report (and of its element's metadata, for the fields both
    /// carry): `EQ_type`, `EQ_deviceID`, `EQ_stringValue`…
    SensorText {
        field: &'static str,
        values: Vec<String>,
    },
    /// `GE_`/`LT_` `time`, `startTime`, `endTime` of a sensor element's metadata (or a report's
    /// own `time`).
    SensorTime {
        field: &'static str,
        at_least: bool,
        t: DateTime<Utc>,
    },
    /// A measured value of a sensor report compared, in one unit when `uom` is given
    /// (`GE_value_CEL`, `LT_maxValue`, `GT_percRank`).
    SensorValue {
        field: &'static str,
        uom: Option<String>,
        op: Op,
        value: f64,
    },
}

/// Sensor report fields compared as text, and whether an element's metadata carries them too.
const SENSOR_TEXT: [(&str, bool); 10] = [
    ("type", false),
    ("deviceID", true),
    ("dataProcessingMethod", true),
    ("bizRules", true),
    ("microorganism", false),
    ("chemicalSubstance", false),
    ("stringValue", false),
    ("booleanValue", false),
    ("hexBinaryValue", false),
    ("uriValue", false),
];

/// Sensor report fields compared as numbers.
const SENSOR_VALUES: [&str; 7] = [
    "value",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percValue",
    "percRank",
];

/// A sensor parameter: `EQ_type`, `GE_time`, `GT_value_CEL`…; `None` for any other name.
fn sensor_cond(name: &str, v: &str, list: &[String]) -> Result<Option<Cond>, FieldError> {
    if name == "EXISTS_sensorElementList" {
        return Ok(Some(Cond::SensorExists));
    }
    let Some((op, rest)) = name.split_once('_') else {
        return Ok(None);
    };
    if op == "EQ"
        && let Some((field, _)) = SENSOR_TEXT.iter().find(|(f, _)| *f == rest)
    {
        return Ok(Some(Cond::SensorText {
            field,
            values: list.to_vec(),
        }));
    }
    if matches!(op, "GE" | "LT")
        && let Some(field) = ["time", "startTime", "endTime"]
            .into_iter()
            .find(|f| *f == rest)
    {
        return Ok(Some(Cond::SensorTime {
            field,
            at_least: op == "GE",
            t: time(name, v)?,
        }));
    }
    if !matches!(op, "EQ" | "GT" | "GE" | "LT" | "LE") {
        return Ok(None);
    }
    let (field, uom) = match rest.split_once('_') {
        Some((f, u)) => (f, Some(u)),
        None => (rest, None),
    };
    let Some(field) = SENSOR_VALUES.into_iter().find(|f| *f == field) else {
        return Ok(None);
    };
    if let Some(u) = uom
        && !(2..=4).contains(&u.len())
    {
        return Err(bad(
            name,
            format!("`{u}` is not a unit of measure (UN/CEFACT Rec 20: 2 to 4 letters or digits)"),
        ));
    }
    Ok(Some(Cond::SensorValue {
        field,
        uom: uom.map(str::to_owned),
        op: op_of(name),
        value: v
            .parse::<f64>()
            .map_err(|_| bad(name, format!("{name} is a number, got `{v}`")))?,
    }))
}

/// An identifier to match: exactly, or everything under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// Everything starting with one of these.
    Under(Vec<String>),
    /// A GTIN (its canonical Digital Link): itself — a quantity of the product without a lot —
    /// and every instance and lot of it.
    Gtin(String),
    /// Any other EPC pattern URI (`urn:epc:idpat:grai:0614141.12345.*`,
    /// `urn:epc:idpat:giai:0614141.*`): every EPC of the scheme whose fields equal the
    /// pattern's, a `*` field matching any value (EPC Tag Data Standard), whether the event
    /// names it as an EPC URN or as a Digital Link.
    IdPat {
        scheme: String,
        fields: Vec<Option<String>>,
    },
}

/// The fields of an EPC URN, pattern or class (`urn:epc:id:grai:0614141.12345.400`): its scheme
/// and the `.`-separated values.
fn urn_fields(urn: &str) -> Option<(&str, Vec<&str>)> {
    let mut parts = urn.splitn(5, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("urn"), Some("epc"), Some("id" | "idpat" | "class")) => {}
        _ => return None,
    }
    let scheme = parts.next()?;
    let body = parts.next()?;
    Some((scheme, body.split('.').collect()))
}

impl Pattern {
    /// Does the object `uri` — an EPC URN, or a GS1 Digital Link read as the EPC URN of the
    /// pattern's company prefix (any length when the pattern leaves it `*`) — fit the pattern
    /// `scheme`/`fields`?
    fn fits(scheme: &str, fields: &[Option<String>], uri: &str) -> bool {
        let fit = |urn: &str| {
            urn_fields(urn).is_some_and(|(s, f)| {
                s == scheme
                    && f.len() == fields.len()
                    && f.iter()
                        .zip(fields)
                        .all(|(have, want)| want.as_deref().is_none_or(|w| w == *have))
            })
        };
        if uri.starts_with("urn:epc:") {
            return fit(uri);
        }
        let Some(es) = ids::gs1_keys(uri).ok().flatten() else {
            return false;
        };
        let lengths: Vec<usize> = match fields.first() {
            Some(Some(gcp)) => vec![gcp.len()],
            _ => (6..=12).collect(),
        };
        lengths.into_iter().any(|len| {
            threadline_gs1::EpcUrn::from_element_string(&es, len).is_ok_and(|u| fit(&u.to_urn()))
        })
    }
}

impl Pattern {
    fn of(value: &str) -> Pattern {
        if let Some(stem) = value.strip_suffix('*')
            && !value.starts_with("urn:epc:idpat:")
        {
            return Pattern::Under(vec![stem.to_owned()]);
        }
        if let Some(code) = value.strip_prefix("urn:threadline:product:") {
            return Pattern::Under(vec![
                format!("urn:threadline:unit:{code}:"),
                format!("urn:threadline:lot:{code}:"),
            ]);
        }
        let c = canonical(value);
        if c == value
            && let Some(rest) = value.strip_prefix("urn:epc:idpat:")
            && let Some((scheme, body)) = rest.split_once(':')
            && !scheme.is_empty()
            && !body.is_empty()
        {
            return Pattern::IdPat {
                scheme: scheme.to_owned(),
                fields: body
                    .split('.')
                    .map(|f| (f != "*").then(|| f.to_owned()))
                    .collect(),
            };
        }
        // A GTIN alone (an idpat, or /01/{gtin}) is every instance and lot of it.
        let gtin_only = c
            .strip_prefix("https://id.gs1.org/01/")
            .is_some_and(|rest| !rest.contains('/'));
        if gtin_only {
            Pattern::Gtin(c)
        } else {
            Pattern::Exact(c)
        }
    }

    fn matches(&self, uri: &str) -> bool {
        let c = canonical(uri);
        match self {
            Pattern::Exact(x) => *x == c,
            Pattern::Under(stems) => stems
                .iter()
                .any(|s| c.starts_with(s.as_str()) || uri.starts_with(s.as_str())),
            Pattern::Gtin(g) => {
                c == *g
                    || c.strip_prefix(g.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            }
            Pattern::IdPat { scheme, fields } => Pattern::fits(scheme, fields, uri),
        }
    }
}

/// An identifier in the form comparisons use: the constrained Digital Link of a GS1 key,
/// anything else as written.
fn canonical(uri: &str) -> String {
    ids::canonical_gs1_uri(uri).unwrap_or_else(|| uri.to_owned())
}

/// A parsed Simple Event Query.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    conds: Vec<Cond>,
    /// `orderBy` and whether it is ascending (`orderDirection`, descending by default).
    pub order: Option<(OrderBy, bool)>,
    /// `eventCountLimit`: at most this many events in all.
    pub event_count_limit: Option<usize>,
    /// `maxEventCount`: more matching events than this is an error.
    pub max_event_count: Option<usize>,
    pub per_page: Option<u32>,
    pub next_page_token: Option<String>,
    /// `WD_readPoint`/`WD_bizLocation`: the places whose descendants the caller must add
    /// ([`Filter::add_descendants`]), by parameter.
    pub wd: Vec<(&'static str, Vec<String>)>,
    /// `EQ_ATTR_`/`HASATTR_` parameters: which master data the caller must look up, in order
    /// (the index is the one [`Filter::add_attribute_matches`] takes).
    pub attributes: Vec<AttributeQuery>,
}

/// The fields whose values are vocabulary elements that master data may describe, with the
/// vocabulary type of their elements: `EQ_ATTR_{field}_{attr}` and `HASATTR_{field}` name
/// one of these.
pub const ATTRIBUTE_FIELDS: [(&str, &str); 3] = [
    ("readPoint", crate::masterdata::READ_POINT),
    ("bizLocation", crate::masterdata::BUSINESS_LOCATION),
    ("epcClass", crate::masterdata::EPC_CLASS),
];

/// What one `EQ_ATTR_{field}_{attr}` or `HASATTR_{field}` parameter asks of the master data of
/// a field's element: an attribute (one of `attributes`), non-null, and — for `EQ_ATTR_` —
/// with one of `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeQuery {
    /// The parameter, to name in an error.
    pub param: String,
    /// `readPoint`, `bizLocation` or `epcClass`.
    pub field: &'static str,
    /// The vocabulary type of the field's elements.
    pub vtype: &'static str,
    /// Attribute names in the form [`attribute_name`] gives.
    pub names: Vec<String>,
    /// `None` for `HASATTR_`: any value.
    pub values: Option<Vec<String>>,
}

impl AttributeQuery {
    /// Does an element with these attributes (JSON-LD's `{"id", "attribute"}` objects) match?
    pub fn holds(&self, attributes: &[Value]) -> bool {
        attributes.iter().any(|a| {
            let Some(id) = a.get("id").and_then(Value::as_str) else {
                return false;
            };
            let Some(value) = a.get("attribute").filter(|v| !v.is_null()) else {
                return false;
            };
            if !self.names.contains(&attribute_name(id)) {
                return false;
            }
            let Some(values) = &self.values else {
                return true;
            };
            values.iter().any(|w| match value {
                Value::String(v) => v == w || canonical(v) == canonical(w),
                other => compare(Op::Eq, other, w),
            })
        })
    }
}

/// An attribute's name as queries compare it: a CURIE expanded with the standard prefixes
/// (`cbvmda:name`), and CBV's master data attributes in one spelling whether written
/// `urn:epcglobal:cbv:mda#name` (CBV 1.x, XML) or `urn:epcglobal:cbv:mda:name` (the EPCIS 2.0
/// JSON-LD context's `cbvmda`).
pub fn attribute_name(name: &str) -> String {
    let full = Context::default().expand(name.trim());
    match full.strip_prefix("urn:epcglobal:cbv:mda#") {
        Some(local) => format!("urn:epcglobal:cbv:mda:{local}"),
        None => full,
    }
}

/// What the caller's indexes can answer: one value per field, or nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Narrowing {
    pub event_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub biz_step: Option<String>,
    pub biz_location: Option<String>,
    /// One exact EPC or class named by a MATCH parameter.
    pub epc: Option<String>,
    pub biz_transaction: Option<(String, String)>,
    pub declared: Option<bool>,
    /// The objects one of which an event must name in an EPC list or as parent (a `MATCH_`
    /// parameter on objects whose every value is an exact EPC or an EPC pattern), for an index
    /// of the objects Threadline records as given; the caller uses it only when none of them
    /// can be a unit it tracks.
    pub objects: Option<Vec<ObjectPattern>>,
}

/// One value of [`Narrowing::objects`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectPattern {
    /// An exact object, in canonical form.
    Exact(String),
    /// Every EPC of this scheme (`grai`, `giai`…) — a superset of an EPC pattern's.
    Scheme(String),
}

fn bad(name: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new("invalid_value", msg).at(name)
}

fn values(v: &str) -> Vec<String> {
    v.split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn time(name: &str, v: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            FieldError::new(
                "invalid_time",
                format!("{name} must be a date-time with offset, got `{v}`"),
            )
            .at(name)
        })
}

fn count(name: &str, v: &str) -> Result<usize, FieldError> {
    v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
        bad(
            name,
            format!("{name} is a positive whole number, got `{v}`"),
        )
    })
}

const EVENT_TYPES: &[&str] = &[
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

impl Filter {
    /// Reads the query parameters; an unknown parameter or a bad value is refused naming it.
    pub fn parse(params: &[(String, String)]) -> Result<Filter, FieldError> {
        let mut f = Filter::default();
        for (name, v) in params {
            f.read(name, v)?;
        }
        Ok(f)
    }

    fn read(&mut self, name: &str, v: &str) -> Result<(), FieldError> {
        let list = values(v);
        let cond = match name {
            "eventType" => {
                if let Some(t) = list.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
                    return Err(bad(name, format!("`{t}` is not an EPCIS event type")));
                }
                Cond::EventType(list)
            }
            "GE_eventTime"
            | "LT_eventTime"
            | "GE_recordTime"
            | "LT_recordTime"
            | "GE_errorDeclarationTime"
            | "LT_errorDeclarationTime" => {
                let (op, field) = name.split_once('_').unwrap_or_default();
                Cond::Time {
                    field: match field {
                        "eventTime" => "eventTime",
                        "recordTime" => "recordTime",
                        _ => "declarationTime",
                    },
                    at_least: op == "GE",
                    t: time(name, v)?,
                }
            }
            "EQ_action" => {
                if let Some(a) = list
                    .iter()
                    .find(|a| !["ADD", "OBSERVE", "DELETE"].contains(&a.as_str()))
                {
                    return Err(bad(name, format!("`{a}` is not ADD, OBSERVE or DELETE")));
                }
                Cond::Action(list)
            }
            "EQ_bizStep" => Cond::Word {
                field: "bizStep",
                vocab: Vocab::BizStep,
                values: list,
            },
            "EQ_disposition" => Cond::Word {
                field: "disposition",
                vocab: Vocab::Disposition,
                values: list,
            },
            "EQ_readPoint" | "EQ_bizLocation" | "WD_readPoint" | "WD_bizLocation" => {
                let field = if name.ends_with("readPoint") {
                    "readPoint"
                } else {
                    "bizLocation"
                };
                if name.starts_with("WD_") {
                    self.wd.push((field, list.clone()));
                }
                Cond::Place {
                    field,
                    uris: list.iter().map(|u| canonical(u)).collect(),
                }
            }
            "EQ_transformationID" => Cond::TransformationId(list),
            "MATCH_epc"
            | "MATCH_parentID"
            | "MATCH_inputEPC"
            | "MATCH_outputEPC"
            | "MATCH_anyEPC"
            | "MATCH_epcClass"
            | "MATCH_inputEPCClass"
            | "MATCH_outputEPCClass"
            | "MATCH_anyEPCClass" => Cond::Match {
                lists: match name {
                    "MATCH_epc" => &["epcList", "childEPCs"],
                    "MATCH_parentID" => &["parentID"],
                    "MATCH_inputEPC" => &["inputEPCList"],
                    "MATCH_outputEPC" => &["outputEPCList"],
                    "MATCH_anyEPC" => &[
                        "epcList",
                        "childEPCs",
                        "parentID",
                        "inputEPCList",
                        "outputEPCList",
                    ],
                    "MATCH_epcClass" => &["quantityList", "childQuantityList"],
                    "MATCH_inputEPCClass" => &["inputQuantityList"],
                    "MATCH_outputEPCClass" => &["outputQuantityList"],
                    _ => &[
                        "quantityList",
                        "childQuantityList",
                        "inputQuantityList",
                        "outputQuantityList",
                    ],
                },
                patterns: list.iter().map(|p| Pattern::of(p)).collect(),
            },
            "EQ_quantity" | "GT_quantity" | "GE_quantity" | "LT_quantity" | "LE_quantity" => {
                Cond::Quantity {
                    op: op_of(name),
                    value: v
                        .parse::<f64>()
                        .map_err(|_| bad(name, format!("{name} is a number, got `{v}`")))?,
                }
            }
            "EXISTS_errorDeclaration" => Cond::DeclarationExists,
            "EQ_errorReason" => Cond::DeclarationText {
                field: "reason",
                values: list
                    .iter()
                    .map(|r| vocab::word_in(Vocab::ErrorReason, r))
                    .collect(),
            },
            "EQ_correctiveEventID" => Cond::DeclarationText {
                field: "correctiveEventIDs",
                values: list,
            },
            "EQ_eventID" => Cond::EventId(list),
            "orderBy" => {
                let by = match v {
                    "eventTime" => OrderBy::EventTime,
                    "recordTime" => OrderBy::RecordTime,
                    _ => {
                        return Err(FieldError::new(
                            "not_supported",
                            format!("orderBy is eventTime or recordTime, got `{v}`"),
                        )
                        .at(name));
                    }
                };
                let asc = self.order.is_some_and(|o| o.1);
                self.order = Some((by, asc));
                return Ok(());
            }
            "orderDirection" => {
                let asc = match v {
                    "ASC" => true,
                    "DESC" => false,
                    _ => {
                        return Err(bad(
                            name,
                            format!("orderDirection is ASC or DESC, got `{v}`"),
                        ));
                    }
                };
                let by = self.order.map_or(OrderBy::EventTime, |o| o.0);
                self.order = Some((by, asc));
                return Ok(());
            }
            "eventCountLimit" => {
                self.event_count_limit = Some(count(name, v)?);
                return Ok(());
            }
            "maxEventCount" => {
                self.max_event_count = Some(count(name, v)?);
                return Ok(());
            }
            "perPage" => {
                self.per_page = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| bad(name, format!("perPage must be 1–1000, got `{v}`")))?,
                );
                return Ok(());
            }
            "nextPageToken" => {
                self.next_page_token = Some(v.to_owned());
                return Ok(());
            }
            n => {
                if let Some(t) = n.strip_prefix("EQ_bizTransaction_") {
                    Cond::Typed {
                        list: "bizTransactionList",
                        value: "bizTransaction",
                        vocab: Vocab::BizTransactionType,
                        kind: vocab::btt_in(t),
                        uris: list,
                    }
                } else if let Some(t) = n.strip_prefix("EQ_source_") {
                    Cond::Typed {
                        list: "sourceList",
                        value: "source",
                        vocab: Vocab::SourceDestType,
                        kind: vocab::word_in(Vocab::SourceDestType, t),
                        uris: list,
                    }
                } else if let Some(t) = n.strip_prefix("EQ_destination_") {
                    Cond::Typed {
                        list: "destinationList",
                        value: "destination",
                        vocab: Vocab::SourceDestType,
                        kind: vocab::word_in(Vocab::SourceDestType, t),
                        uris: list,
                    }
                } else if let Some(kind) = n.strip_prefix("EQ_persistentDisposition_") {
                    Cond::Persistent {
                        list: match kind {
                            "set" => "set",
                            "unset" => "unset",
                            _ => {
                                return Err(FieldError::new(
                                    "not_supported",
                                    "persistentDisposition is queried by _set or _unset",
                                )
                                .at(n));
                            }
                        },
                        values: list
                            .iter()
                            .map(|d| vocab::word_in(Vocab::Disposition, d))
                            .collect(),
                    }
                } else if n.starts_with("EQ_ATTR_") || n.starts_with("HASATTR_") {
                    let q = attribute_query(n, &list)?;
                    let field = q.field;
                    self.attributes.push(q);
                    Cond::Attr {
                        field,
                        query: self.attributes.len() - 1,
                        ids: std::collections::BTreeSet::new(),
                    }
                } else if let Some(cond) = sensor_cond(n, v, &list)? {
                    cond
                } else if let Some(cond) = field_cond(n, list) {
                    cond
                } else {
                    return Err(FieldError::new(
                        "not_supported",
                        format!("query parameter `{n}` is unknown or not supported"),
                    )
                    .at(n));
                }
            }
        };
        self.conds.push(cond);
        Ok(())
    }

    /// Adds the places below a `WD_` place (their URIs), so they match too.
    pub fn add_descendants(&mut self, field: &str, uris: impl IntoIterator<Item = String>) {
        let extra: Vec<String> = uris.into_iter().map(|u| canonical(&u)).collect();
        for c in &mut self.conds {
            if let Cond::Place { field: f, uris } = c
                && *f == field
            {
                uris.extend(extra.iter().cloned());
            }
        }
    }

    /// Adds the elements (their ids) whose master data answers the attribute query `query`
    /// (an index of [`Filter::attributes`]), so events naming them in its field match.
    pub fn add_attribute_matches(&mut self, query: usize, ids: impl IntoIterator<Item = String>) {
        let extra: Vec<String> = ids.into_iter().map(|u| canonical(&u)).collect();
        for c in &mut self.conds {
            if let Cond::Attr { query: q, ids, .. } = c
                && *q == query
            {
                ids.extend(extra.iter().cloned());
            }
        }
    }

    /// What an index can narrow the candidates to; the caller still asks [`Filter::matches`].
    pub fn narrowing(&self) -> Narrowing {
        let mut n = Narrowing::default();
        for c in &self.conds {
            match c {
                Cond::EventType(t) if t.len() == 1 => n.event_type = t.first().cloned(),
                Cond::Time {
                    field: "eventTime",
                    at_least,
                    t,
                } => {
                    if *at_least {
                        n.from = Some(n.from.map_or(*t, |x| x.max(*t)));
                    } else {
                        n.to = Some(n.to.map_or(*t, |x| x.min(*t)));
                    }
                }
                Cond::Word {
                    field: "bizStep",
                    values,
                    ..
                } if values.len() == 1 => {
                    n.biz_step = values.first().map(|v| vocab::word_in(Vocab::BizStep, v));
                }
                Cond::Place {
                    field: "bizLocation",
                    uris,
                } if uris.len() == 1 && !self.wd.iter().any(|(f, _)| *f == "bizLocation") => {
                    n.biz_location = uris.first().cloned();
                }
                Cond::Match { patterns, lists } => {
                    if patterns.len() == 1
                        && lists.len() >= 4
                        && let Some(Pattern::Exact(u)) = patterns.first()
                    {
                        n.epc = Some(u.clone());
                    }
                    let objects: Option<Vec<ObjectPattern>> =
                        if lists.iter().any(|l| l.ends_with("QuantityList")) {
                            None
                        } else {
                            patterns
                                .iter()
                                .map(|p| match p {
                                    Pattern::Exact(u) => Some(ObjectPattern::Exact(u.clone())),
                                    Pattern::IdPat { scheme, .. } => {
                                        Some(ObjectPattern::Scheme(scheme.clone()))
                                    }
                                    Pattern::Under(_) | Pattern::Gtin(_) => None,
                                })
                                .collect()
                        };
                    if let Some(o) = objects
                        && !o.is_empty()
                        && n.objects.is_none()
                    {
                        n.objects = Some(o);
                    }
                }
                Cond::Typed {
                    list: "bizTransactionList",
                    kind,
                    uris,
                    ..
                } if uris.len() == 1 => {
                    n.biz_transaction = uris.first().map(|u| (kind.clone(), u.clone()));
                }
                Cond::DeclarationExists => n.declared = Some(true),
                _ => {}
            }
        }
        n
    }

    /// Does the event (its EPCIS form, with the context its prefixes are declared in) match?
    pub fn matches(&self, ev: &Map<String, Value>, ctx: &Context) -> bool {
        self.conds.iter().all(|c| cond_matches(c, ev, ctx))
    }

    /// Whether results must be collected and sorted rather than streamed in ledger order.
    pub fn collects(&self) -> bool {
        self.order.is_some() || self.event_count_limit.is_some() || self.max_event_count.is_some()
    }
}

fn op_of(name: &str) -> Op {
    match name.split('_').next() {
        Some("GT") => Op::Gt,
        Some("GE") => Op::Ge,
        Some("LT") => Op::Lt,
        Some("LE") => Op::Le,
        Some("EXISTS") => Op::Exists,
        _ => Op::Eq,
    }
}

/// `EQ_ATTR_{field}_{attr}` (values: the attribute's values) or `HASATTR_{field}` (values:
/// attribute names), the field one of [`ATTRIBUTE_FIELDS`].
fn attribute_query(name: &str, list: &[String]) -> Result<AttributeQuery, FieldError> {
    let fields = || {
        ATTRIBUTE_FIELDS
            .iter()
            .map(|(f, _)| *f)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unknown = |field: &str| {
        FieldError::new(
            "not_supported",
            format!(
                "`{field}` is not a field master data describes here (one of {})",
                fields()
            ),
        )
        .at(name)
    };
    if let Some(rest) = name.strip_prefix("HASATTR_") {
        // The standard's form names the attributes in the value; `HASATTR_{field}_{attr}`
        // (as some clients write it) names one in the parameter, and its value is ignored.
        let found = ATTRIBUTE_FIELDS.iter().find_map(|(f, t)| {
            if rest == *f {
                Some((*f, *t, None))
            } else {
                rest.strip_prefix(f)
                    .and_then(|r| r.strip_prefix('_'))
                    .filter(|a| !a.trim().is_empty())
                    .map(|a| (*f, *t, Some(a)))
            }
        });
        let Some((field, vtype, named)) = found else {
            let field = rest.split_once('_').map_or(rest, |(f, _)| f);
            return Err(unknown(field));
        };
        let names: Vec<String> = match named {
            Some(a) => vec![attribute_name(a)],
            None => list.iter().map(|a| attribute_name(a)).collect(),
        };
        if names.is_empty() {
            return Err(bad(name, format!("{name} names one or more attributes")));
        }
        return Ok(AttributeQuery {
            param: name.to_owned(),
            field,
            vtype,
            names,
            values: None,
        });
    }
    let rest = name.strip_prefix("EQ_ATTR_").unwrap_or_default();
    let Some((field, vtype, attr)) = ATTRIBUTE_FIELDS.iter().find_map(|(f, t)| {
        rest.strip_prefix(f)
            .and_then(|r| r.strip_prefix('_'))
            .map(|a| (*f, *t, a))
    }) else {
        let field = rest.split_once('_').map_or(rest, |(f, _)| f);
        return Err(unknown(field));
    };
    if attr.trim().is_empty() {
        return Err(bad(
            name,
            format!("{name} names no attribute after `{field}_`"),
        ));
    }
    if list.is_empty() {
        return Err(bad(name, format!("{name} needs one or more values")));
    }
    Ok(AttributeQuery {
        param: name.to_owned(),
        field,
        vtype,
        names: vec![attribute_name(attr)],
        values: Some(list.to_vec()),
    })
}

/// `EQ_ILMD_{field}`, `GT_{field}`, `EXISTS_ILMD_{field}`…: a namespaced field name (an IRI
/// such as `https://ns.example.com/epcis/myField`, or `prefix:local` as the event declares it).
fn field_cond(name: &str, values: Vec<String>) -> Option<Cond> {
    let (op, rest) = name.split_once('_')?;
    if !["EQ", "GT", "GE", "LT", "LE", "EXISTS"].contains(&op) {
        return None;
    }
    let (inner, rest) = match rest.strip_prefix("INNER_") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (ilmd, field) = match rest.strip_prefix("ILMD_") {
        Some(f) => (true, f),
        None => (false, rest),
    };
    // A field is namespaced: an IRI or a CURIE.
    if !field.contains(':') {
        return None;
    }
    if inner {
        return Some(Cond::Inner {
            ilmd,
            name: field.to_owned(),
            op: op_of(name),
            values,
        });
    }
    Some(Cond::Field {
        ilmd,
        name: field.to_owned(),
        op: op_of(name),
        values,
    })
}

fn text<'a>(ev: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    ev.get(k).and_then(Value::as_str)
}

fn uris_of<'a>(ev: &'a Map<String, Value>, list: &str) -> Vec<&'a str> {
    match ev.get(list) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| {
                x.as_str()
                    .or_else(|| x.get("epcClass").and_then(Value::as_str))
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn compare(op: Op, have: &Value, want: &str) -> bool {
    let have_text = match have {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    if op == Op::Eq {
        return have_text == want
            || matches!((have_text.parse::<f64>(), want.parse::<f64>()), (Ok(a), Ok(b)) if a == b);
    }
    let ord = match (have_text.parse::<f64>(), want.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b),
        _ => match (
            DateTime::parse_from_rfc3339(&have_text),
            DateTime::parse_from_rfc3339(want),
        ) {
            (Ok(a), Ok(b)) => Some(a.cmp(&b)),
            _ => None,
        },
    };
    let Some(ord) = ord else { return false };
    match op {
        Op::Gt => ord.is_gt(),
        Op::Ge => ord.is_ge(),
        Op::Lt => ord.is_lt(),
        Op::Le => ord.is_le(),
        Op::Eq | Op::Exists => false,
    }
}

/// The value of a namespaced field of `obj`, named as an IRI or as a CURIE.
fn field<'a>(obj: &'a Map<String, Value>, name: &str, ctx: &Context) -> Option<&'a Value> {
    let want = ctx.expand(name);
    obj.iter()
        .find(|(k, _)| *k == name || ctx.expand(k) == want)
        .map(|(_, v)| v)
}

/// Every value of a field named `name` anywhere inside `v` (objects and arrays).
fn nested<'a>(v: &'a Value, name: &str, ctx: &Context, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if let Some(x) = field(m, name, ctx) {
                out.push(x);
            }
            for x in m.values() {
                nested(x, name, ctx, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                nested(x, name, ctx, out);
            }
        }
        _ => {}
    }
}

/// Each sensor report of an event with its element's metadata.
fn sensor_reports(
    ev: &Map<String, Value>,
) -> impl Iterator<Item = (Option<&Map<String, Value>>, &Map<String, Value>)> {
    ev.get("sensorElementList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|el| {
            let meta = el.get("sensorMetadata").and_then(Value::as_object);
            el.get("sensorReport")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .map(move |r| (meta, r))
        })
}

/// A sensor measurement type as an IRI: `gs1:Temperature` and a bare `Temperature` are GS1's.
fn sensor_type(t: &str, ctx: &Context) -> String {
    match t.strip_prefix("gs1:") {
        Some(term) => format!("https://gs1.org/voc/{term}"),
        None if !t.contains(':') => format!("https://gs1.org/voc/{t}"),
        None => ctx.expand(t),
    }
}

fn cond_matches(c: &Cond, ev: &Map<String, Value>, ctx: &Context) -> bool {
    match c {
        Cond::EventType(types) => text(ev, "type").is_some_and(|t| types.iter().any(|x| x == t)),
        Cond::Time { field, at_least, t } => {
            let v = if *field == "declarationTime" {
                ev.get("errorDeclaration")
                    .and_then(|d| d.get("declarationTime"))
                    .and_then(Value::as_str)
            } else {
                text(ev, field)
            };
            v.and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .is_some_and(|x| {
                    let x = x.with_timezone(&Utc);
                    if *at_least { x >= *t } else { x < *t }
                })
        }
        Cond::Action(list) => text(ev, "action").is_some_and(|a| list.iter().any(|x| x == a)),
        Cond::Word {
            field,
            vocab,
            values,
        } => text(ev, field).is_some_and(|w| {
            let w = vocab::word_in(*vocab, w);
            values.iter().any(|x| vocab::word_in(*vocab, x) == w)
        }),
        Cond::Place { field, uris } => ev
            .get(*field)
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .is_some_and(|id| uris.contains(&canonical(id))),
        Cond::Match { lists, patterns } => lists.iter().any(|l| {
            uris_of(ev, l)
                .iter()
                .any(|u| patterns.iter().any(|p| p.matches(u)))
        }),
        Cond::Quantity { op, value } => [
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
        ]
        .iter()
        .flat_map(|l| ev.get(*l).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|q| q.get("quantity"))
        .any(|q| compare(*op, q, &value.to_string())),
        Cond::DeclarationExists => ev.contains_key("errorDeclaration"),
        Cond::DeclarationText { field, values } => {
            let Some(d) = ev.get("errorDeclaration") else {
                return false;
            };
            match d.get(*field) {
                Some(Value::String(r)) => {
                    let r = vocab::word_in(Vocab::ErrorReason, r);
                    values.contains(&r)
                }
                Some(Value::Array(ids)) => ids
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|i| values.iter().any(|x| x == i)),
                _ => false,
            }
        }
        Cond::EventId(list) => text(ev, "eventID").is_some_and(|i| list.iter().any(|x| x == i)),
        Cond::TransformationId(list) => {
            text(ev, "transformationID").is_some_and(|i| list.iter().any(|x| x == i))
        }
        Cond::Typed {
            list,
            value,
            vocab,
            kind,
            uris,
        } => ev
            .get(*list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|e| {
                let t = e.get("type").and_then(Value::as_str).unwrap_or("");
                let same_type = if *vocab == Vocab::BizTransactionType {
                    vocab::btt_in(t) == *kind
                } else {
                    vocab::word_in(*vocab, t) == *kind
                };
                same_type
                    && e.get(*value).and_then(Value::as_str).is_some_and(|u| {
                        let c = canonical(u);
                        uris.iter().any(|x| *x == u || canonical(x) == c)
                    })
            }),
        Cond::Persistent { list, values } => ev
            .get("persistentDisposition")
            .and_then(|p| p.get(*list))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|d| values.contains(&vocab::word_in(Vocab::Disposition, d))),
        Cond::Inner {
            ilmd,
            name,
            op,
            values,
        } => {
            let tops: Vec<&Value> = if *ilmd {
                ev.get("ilmd")
                    .and_then(Value::as_object)
                    .map(|m| m.values().collect())
                    .unwrap_or_default()
            } else {
                ev.iter()
                    .filter(|(k, _)| !crate::json::STANDARD.contains(&k.as_str()))
                    .map(|(_, v)| v)
                    .collect()
            };
            let mut found = Vec::new();
            for v in tops {
                nested(v, name, ctx, &mut found);
            }
            found.iter().any(|v| match op {
                Op::Exists => true,
                op => values.iter().any(|w| compare(*op, v, w)),
            })
        }
        Cond::Attr { field, ids, .. } => {
            if *field == "epcClass" {
                [
                    "quantityList",
                    "childQuantityList",
                    "inputQuantityList",
                    "outputQuantityList",
                ]
                .iter()
                .flat_map(|l| uris_of(ev, l))
                .any(|c| ids.contains(&canonical(c)))
            } else {
                ev.get(*field)
                    .and_then(|p| p.get("id"))
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.contains(&canonical(id)))
            }
        }
        Cond::SensorExists => ev
            .get("sensorElementList")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        Cond::SensorText { field, values } => {
            let meta = SENSOR_TEXT.iter().any(|(f, both)| f == field && *both);
            sensor_reports(ev).any(|(m, r)| {
                let mut texts = vec![r.get(*field)];
                if meta {
                    texts.push(m.and_then(|m| m.get(*field)));
                }
                texts.into_iter().flatten().any(|t| {
                    let have = match t {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return false,
                    };
                    values.iter().any(|w| {
                        if *field == "type" {
                            sensor_type(&have, ctx) == sensor_type(w, ctx)
                        } else {
                            have == *w || canonical(&have) == canonical(w)
                        }
                    })
                })
            })
        }
        Cond::SensorTime { field, at_least, t } => sensor_reports(ev).any(|(m, r)| {
            let own = (*field == "time").then(|| r.get("time")).flatten();
            [m.and_then(|m| m.get(*field)), own]
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|s| DateTime::parse_from_rfc3339(s).ok())
                .any(|x| {
                    let x = x.with_timezone(&Utc);
                    if *at_least { x >= *t } else { x < *t }
                })
        }),
        Cond::SensorValue {
            field,
            uom,
            op,
            value,
        } => sensor_reports(ev).any(|(_, r)| {
            let unit_ok = uom
                .as_deref()
                .is_none_or(|u| r.get("uom").and_then(Value::as_str) == Some(u));
            unit_ok
                && r.get(*field)
                    .is_some_and(|have| compare(*op, have, &value.to_string()))
        }),
        Cond::Field {
            ilmd,
            name,
            op,
            values,
        } => {
            let scope = if *ilmd {
                match ev.get("ilmd").and_then(Value::as_object) {
                    Some(m) => m,
                    None => return false,
                }
            } else {
                ev
            };
            match (field(scope, name, ctx), op) {
                (None, _) => false,
                (Some(_), Op::Exists) => true,
                (Some(v), op) => values.iter().any(|w| compare(*op, v, w)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(q: &[(&str, &str)]) -> Filter {
        let params: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Filter::parse(&params).unwrap()
    }

    fn ctx() -> Context {
        let mut c = Context::default();
        c.insert("example", "https://ns.example.com/epcis/");
        c
    }

    fn event() -> Map<String, Value> {
        json!({"type": "ObjectEvent", "eventTime": "2022-02-17T02:33:31.116Z", "recordTime": "2022-02-18T00:00:00Z",
            "eventTimeZoneOffset": "-06:00", "eventID": "urn:uuid:1",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "action": "OBSERVE",
            "bizStep": "shipping", "disposition": "in_transit",
            "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
            "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
            "quantityList": [{"epcClass": "https://id.gs1.org/01/10614141073464/10/L1", "quantity": 12.5, "uom": "KGM"}],
            "sourceList": [{"type": "owning_party", "source": "https://id.gs1.org/417/0614141000005"}],
            "ilmd": {"example:grade": "A", "example:weight": 7},
            "example:temp": "2022-02-17T00:00:00Z"})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn a_gtin_matches_its_quantities_without_a_lot_and_its_lots() {
        let mut ev = event();
        ev.insert(
            "quantityList".into(),
            json!([{"epcClass": "urn:epc:idpat:sgtin:0614141.107346.*", "quantity": 3}]),
        );
        for gtin in [
            "https://id.gs1.org/01/10614141073464",
            "urn:epc:idpat:sgtin:0614141.107346.*",
        ] {
            assert!(
                filter(&[("MATCH_epcClass", gtin)]).matches(&ev, &ctx()),
                "{gtin}"
            );
        }
        // A lot is not the product counted without a lot.
        assert!(
            !filter(&[(
                "MATCH_epcClass",
                "https://id.gs1.org/01/10614141073464/10/L1"
            )])
            .matches(&ev, &ctx())
        );
        assert!(
            filter(&[("MATCH_anyEPCClass", "https://id.gs1.org/01/10614141073464")])
                .matches(&event(), &ctx())
        );
    }

    #[test]
    fn every_parameter_matches_what_the_standard_says() {
        let ev = event();
        let yes: &[&[(&str, &str)]] = &[
            &[("eventType", "AggregationEvent|ObjectEvent")],
            &[
                ("GE_eventTime", "2022-02-17T02:33:31.116Z"),
                ("LT_eventTime", "2022-02-18T00:00:00Z"),
            ],
            &[("GE_recordTime", "2022-02-17T00:00:00+08:00")],
            &[("EQ_action", "OBSERVE")],
            &[("EQ_bizStep", "https://ref.gs1.org/cbv/BizStep-shipping")],
            &[("EQ_disposition", "in_transit|active")],
            &[(
                "EQ_readPoint",
                "https://id.gs1.org/414/0614141073467/254/1234",
            )],
            &[("MATCH_epc", "https://id.gs1.org/01/10614141073464/21/2017")],
            &[("MATCH_anyEPC", "urn:epc:idpat:sgtin:0614141.107346.*")],
            &[("MATCH_epcClass", "urn:epc:class:lgtin:0614141.107346.L1")],
            &[("MATCH_anyEPCClass", "https://id.gs1.org/01/10614141073464")],
            &[("GT_quantity", "12"), ("LE_quantity", "12.5")],
            &[(
                "EQ_bizTransaction_po",
                "http://transaction.acme.com/po/12345678",
            )],
            &[("EQ_source_owning_party", "urn:epc:id:pgln:0614141.00000")],
            &[("EQ_ILMD_example:grade", "A")],
            &[("GE_ILMD_https://ns.example.com/epcis/weight", "7")],
            &[("EXISTS_ILMD_example:weight", "")],
            &[("LT_example:temp", "2022-02-18T00:00:00Z")],
            &[("EQ_eventID", "urn:uuid:1")],
        ];
        for q in yes {
            assert!(filter(q).matches(&ev, &ctx()), "{q:?}");
        }
        let no: &[&[(&str, &str)]] = &[
            &[("eventType", "AggregationEvent")],
            &[("LT_eventTime", "2022-02-17T02:33:31.116Z")],
            &[("EQ_bizStep", "receiving")],
            &[("EQ_readPoint", "urn:epc:id:sgln:0614141.07346.0")],
            &[("MATCH_epc", "https://id.gs1.org/01/10614141073464/21/2018")],
            &[("MATCH_parentID", "urn:epc:id:sgtin:0614141.107346.2017")],
            &[(
                "MATCH_inputEPCClass",
                "urn:epc:class:lgtin:0614141.107346.L1",
            )],
            &[("GT_quantity", "12.5")],
            &[(
                "EQ_bizTransaction_inv",
                "http://transaction.acme.com/po/12345678",
            )],
            &[(
                "EQ_destination_owning_party",
                "urn:epc:id:pgln:0614141.00000",
            )],
            &[("EQ_ILMD_example:grade", "B")],
            &[("EXISTS_example:missing", "")],
            &[("EXISTS_errorDeclaration", "")],
            &[("EQ_errorReason", "did_not_occur")],
        ];
        for q in no {
            assert!(!filter(q).matches(&ev, &ctx()), "{q:?}");
        }
        let mut declared = ev.clone();
        declared.insert(
            "errorDeclaration".into(),
            json!({"declarationTime": "2022-03-01T00:00:00Z", "reason": "urn:epcglobal:cbv:er:did_not_occur",
                   "correctiveEventIDs": ["urn:uuid:2"]}),
        );
        for q in [
            &[("EXISTS_errorDeclaration", "")][..],
            &[("EQ_errorReason", "did_not_occur")],
            &[("EQ_correctiveEventID", "urn:uuid:2")],
            &[("GE_errorDeclarationTime", "2022-03-01T00:00:00Z")],
        ] {
            assert!(filter(q).matches(&declared, &ctx()), "{q:?}");
        }
    }

    fn sensed() -> Map<String, Value> {
        json!({"type": "ObjectEvent", "eventTime": "2019-04-02T15:00:00+01:00", "eventTimeZoneOffset": "+01:00",
            "action": "OBSERVE", "epcList": ["urn:epc:id:sgtin:4012345.011111.9876"],
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00005.0"},
            "persistentDisposition": {"set": ["completeness_verified"], "unset": ["https://ref.gs1.org/cbv/Disp-completeness_inferred"]},
            "sensorElementList": [{
                "sensorMetadata": {"time": "2019-04-02T14:05:00+01:00", "startTime": "2019-04-02T13:55:00+01:00",
                    "endTime": "2019-04-02T14:05:00+01:00", "deviceID": "urn:epc:id:giai:4000001.111",
                    "bizRules": "https://example.com/gdti/4012345000054987"},
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": 26.0, "uom": "CEL", "minValue": 25.5, "maxValue": 26.8},
                    {"type": "gs1:AbsoluteHumidity", "value": 12.1, "uom": "A93", "percRank": 50},
                    {"type": "gs1:Certification", "stringValue": "SA8000", "booleanValue": true,
                     "hexBinaryValue": "4AFF", "uriValue": "https://example.com/cert/1",
                     "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
                     "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N",
                     "dataProcessingMethod": "https://example.com/method/1"}
                ]}],
            "example:shipment": {"example:carrier": {"example:name": "ACME", "example:axles": 3}},
            "ilmd": {"example:batch": {"example:line": "L7"}}})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn sensor_persistent_disposition_and_inner_parameters() {
        let ev = sensed();
        let yes: &[&[(&str, &str)]] = &[
            &[("EXISTS_sensorElementList", "")],
            &[("EQ_type", "gs1:Temperature")],
            &[("EQ_type", "https://gs1.org/voc/AbsoluteHumidity|gs1:Speed")],
            &[("EQ_deviceID", "https://id.gs1.org/8004/4000001111")],
            &[("EQ_bizRules", "https://example.com/gdti/4012345000054987")],
            &[("EQ_stringValue", "SA8000")],
            &[("EQ_booleanValue", "true")],
            &[("EQ_hexBinaryValue", "4AFF")],
            &[("EQ_uriValue", "https://example.com/cert/1")],
            &[(
                "EQ_microorganism",
                "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
            )],
            &[(
                "EQ_chemicalSubstance",
                "https://identifiers.org/inchikey:CZMRCDWAGMRECN-UGDNZRGBSA-N",
            )],
            &[("EQ_dataProcessingMethod", "https://example.com/method/1")],
            &[
                ("GE_time", "2019-04-02T13:05:00Z"),
                ("LT_time", "2019-04-02T13:05:01Z"),
            ],
            &[("GE_startTime", "2019-04-02T12:55:00Z")],
            &[("LT_endTime", "2019-04-02T14:00:00Z")],
            &[("GT_value_CEL", "25.9"), ("LE_value_CEL", "26")],
            &[("EQ_value_A93", "12.1")],
            &[("GE_minValue", "25.5"), ("LT_maxValue_CEL", "27")],
            &[("GE_percRank", "50")],
            &[(
                "EQ_persistentDisposition_set",
                "urn:epcglobal:cbv:disp:completeness_verified",
            )],
            &[("EQ_persistentDisposition_unset", "completeness_inferred")],
            &[("EQ_INNER_example:name", "ACME")],
            &[("GT_INNER_example:axles", "2")],
            &[("EXISTS_INNER_https://ns.example.com/epcis/carrier", "")],
            &[("EQ_INNER_ILMD_example:line", "L7")],
        ];
        for q in yes {
            assert!(filter(q).matches(&ev, &ctx()), "{q:?}");
        }
        let no: &[&[(&str, &str)]] = &[
            &[("EQ_type", "gs1:Speed")],
            &[("EQ_deviceID", "urn:epc:id:giai:4000001.112")],
            &[("EQ_booleanValue", "false")],
            &[("GE_time", "2019-04-02T13:05:01Z")],
            &[("GT_value_CEL", "26")],
            // 26 °C is above 20, but no report is in kelvin.
            &[("GT_value_KEL", "20")],
            &[("GT_percRank", "50")],
            &[("EQ_persistentDisposition_set", "completeness_inferred")],
            &[("EQ_persistentDisposition_unset", "completeness_verified")],
            &[("EQ_INNER_example:name", "Other")],
            // A top-level extension is not inner.
            &[("EXISTS_INNER_example:shipment", "")],
            &[("EQ_INNER_ILMD_example:name", "ACME")],
        ];
        for q in no {
            assert!(!filter(q).matches(&ev, &ctx()), "{q:?}");
        }
        // An event without sensor data matches no sensor parameter.
        assert!(!filter(&[("EXISTS_sensorElementList", "")]).matches(&event(), &ctx()));
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        for (k, v) in [
            ("eventType", "ThingEvent"),
            ("GE_eventTime", "yesterday"),
            ("EQ_action", "MAYBE"),
            ("GT_quantity", "lots"),
            ("orderBy", "bizStep"),
            ("orderDirection", "UP"),
            ("eventCountLimit", "0"),
            ("perPage", "5000"),
            ("EQ_nonsense", "1"),
            ("GE_time", "noon"),
            ("GT_value_CEL", "warm"),
            ("GT_value_CELSIUS", "20"),
            ("EQ_persistentDisposition_maybe", "active"),
            ("EQ_ATTR_epcList_urn:epcglobal:cbv:mda:name", "x"),
            ("EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda:name", ""),
            ("HASATTR_epcList", "cbvmda:name"),
            ("HASATTR_readPoint", ""),
        ] {
            let e = Filter::parse(&[(k.to_owned(), v.to_owned())]).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(k));
        }
    }

    #[test]
    fn attribute_queries_compare_names_in_every_spelling() {
        let f = filter(&[("EQ_ATTR_bizLocation_cbvmda:sst", "201|202")]);
        let q = &f.attributes[0];
        assert_eq!(
            (q.field, q.vtype),
            ("bizLocation", crate::masterdata::BUSINESS_LOCATION)
        );
        for name in [
            "urn:epcglobal:cbv:mda#sst",
            "urn:epcglobal:cbv:mda:sst",
            "cbvmda:sst",
        ] {
            assert!(
                q.holds(&[json!({"id": name, "attribute": "202"})]),
                "{name}"
            );
            assert!(q.holds(&[json!({"id": name, "attribute": 201})]), "{name}");
            assert!(
                !q.holds(&[json!({"id": name, "attribute": "203"})]),
                "{name}"
            );
        }
        let named = filter(&[("HASATTR_bizLocation_urn:epcglobal:cbv:mda#sst", "")]);
        assert_eq!(named.attributes[0].names, ["urn:epcglobal:cbv:mda:sst"]);
        let has = filter(&[("HASATTR_epcClass", "cbvmda:name|ex:x")]);
        let q = &has.attributes[0];
        assert!(q.holds(&[json!({"id": "urn:epcglobal:cbv:mda#name", "attribute": "A"})]));
        assert!(!q.holds(&[json!({"id": "urn:epcglobal:cbv:mda#name", "attribute": null})]));
        assert!(!q.holds(&[json!({"id": "urn:epcglobal:cbv:mda#sst", "attribute": "A"})]));
        // Until the caller adds the elements that answer, nothing matches.
        let mut f = filter(&[("HASATTR_readPoint", "cbvmda:name")]);
        assert!(!f.matches(&event(), &ctx()));
        f.add_attribute_matches(
            0,
            ["https://id.gs1.org/414/0614141073467/254/1234".to_owned()],
        );
        assert!(f.matches(&event(), &ctx()));
    }

    #[test]
    fn epc_patterns_match_field_by_field_in_either_form() {
        let grai = "urn:epc:id:grai:0614141.12345.400";
        let dl = crate::format::to_digital_link(grai).unwrap();
        for (pattern, yes) in [
            ("urn:epc:idpat:grai:0614141.12345.*", true),
            ("urn:epc:idpat:grai:0614141.*.*", true),
            ("urn:epc:idpat:grai:*.*.*", true),
            ("urn:epc:idpat:grai:0614141.*.400", true),
            ("urn:epc:idpat:grai:0614141.12345.401", false),
            ("urn:epc:idpat:grai:0614142.*.*", false),
            ("urn:epc:idpat:giai:0614141.*", false),
            ("urn:epc:idpat:grai:0614141.*", false),
        ] {
            let p = Pattern::of(pattern);
            assert_eq!(p.matches(grai), yes, "{pattern} {grai}");
            assert_eq!(p.matches(&dl), yes, "{pattern} {dl}");
        }
        // A GTIN's pattern is still every instance and lot of it.
        assert!(matches!(
            Pattern::of("urn:epc:idpat:sgtin:0614141.107346.*"),
            Pattern::Gtin(_)
        ));
        let n = filter(&[(
            "MATCH_epc",
            "urn:epc:idpat:grai:0614141.*.*|urn:epc:id:giai:0614141.A",
        )])
        .narrowing();
        assert_eq!(
            n.objects,
            Some(vec![
                ObjectPattern::Scheme("grai".into()),
                ObjectPattern::Exact("https://id.gs1.org/8004/0614141A".into())
            ])
        );
        assert_eq!(
            filter(&[("MATCH_epc", "urn:x:*")]).narrowing().objects,
            None
        );
        assert_eq!(
            filter(&[("MATCH_anyEPCClass", "urn:epc:idpat:grai:0614141.*.*")])
                .narrowing()
                .objects,
            None
        );
    }

    #[test]
    fn narrowing_names_what_an_index_answers() {
        let f = filter(&[
            ("EQ_bizStep", "urn:epcglobal:cbv:bizstep:shipping"),
            ("MATCH_anyEPC", "urn:epc:id:sgtin:0614141.107346.2017"),
            ("eventType", "ObjectEvent"),
        ]);
        let n = f.narrowing();
        assert_eq!(n.biz_step.as_deref(), Some("shipping"));
        assert_eq!(
            n.epc.as_deref(),
            Some("https://id.gs1.org/01/10614141073464/21/2017")
        );
        assert_eq!(n.event_type.as_deref(), Some("ObjectEvent"));
        assert_eq!(filter(&[("EQ_bizStep", "a|b")]).narrowing().biz_step, None);
    }
}
