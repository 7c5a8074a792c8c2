//! The CBV 2.0 event hash ID: a name for an event that any two parties compute alike from its
//! content, whatever binding (JSON or XML), identifier form (EPC URN or Digital Link), time zone
//! or number spelling it was written in. Threadline uses it as the event ID when a partner gives
//! none, and to refuse an identical event captured twice.
//!
//! The pre-hash string is `eventType=…` followed by every present field in the canonical order
//! of CBV 2.0 §8.9 (`eventTime, eventTimeZoneOffset, certificationInfo, parentID, epcList, …,
//! ilmd`, then user extensions), each rendered `name=value` with no separator; list elements are
//! sorted by their rendering; `recordTime`, `eventID` and `errorDeclaration` are left out.
//! Values are normalised: times to UTC with milliseconds (rounded half up), CBV values to Web
//! URIs, EPC URNs and Digital Links to the constrained canonical Digital Link, numbers without
//! trailing zeros, CURIEs expanded; extensions are written `{namespace}name`. The reference in
//! practice is `RalphTro/epcis-event-hash-generator` and its CBV 2.0 vectors
//! (`tests/examples/expected/CBV2.0`, the profile its `cbv_version.py` names `CBV2.0`, which
//! openepcis's CBV 2.0 mode agrees with): a `bizTransaction`, `source` or `destination` renders
//! its `type` first; sensor elements are written `sensorElement…` without a `sensorElementList`
//! wrapper, a sensor report's `type` as a `https://ref.gs1.org/voc/` term (another vocabulary's
//! as given), its `stringValue` and `hexBinaryValue` as text; and extensions nested
//! in `readPoint`, `bizLocation` and sensor elements are left out of those elements and appended
//! after `ilmd`, each under its element's name (`readPoint{ns}field=…`), before the event's own
//! extensions. (CBV 2.1 nests them in place and keeps the wrapper; its IDs end `?ver=CBV2.1`.)

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ids::canonical_gs1_uri;
use crate::vocab::Vocab;

/// JSON-LD prefixes in force for a document: the EPCIS context's own plus the document's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    prefixes: BTreeMap<String, String>,
}

/// Prefixes Threadline writes, and those the standard EPCIS context defines.
pub const THREADLINE_NS: &str = "urn:threadline:epcis:";
pub const ATTRIBUTE_NS: &str = "urn:threadline:attribute:";
pub const FIELD_NS: &str = "urn:threadline:field:";
pub const CBVMDA_NS: &str = "urn:epcglobal:cbv:mda:";

impl Default for Context {
    fn default() -> Self {
        let mut prefixes = BTreeMap::new();
        for (p, iri) in [
            ("gs1", "https://gs1.org/voc/"),
            ("cbvmda", CBVMDA_NS),
            ("epcis", "https://ref.gs1.org/epcis/"),
            ("cbv", "https://ref.gs1.org/cbv/"),
            ("xsd", "http://www.w3.org/2001/XMLSchema#"),
            ("threadline", THREADLINE_NS),
            ("tla", ATTRIBUTE_NS),
            (threadline_domain::event::FIELD_EXTENSION_PREFIX, FIELD_NS),
        ] {
            prefixes.insert(p.to_owned(), iri.to_owned());
        }
        Context { prefixes }
    }
}

impl Context {
    pub fn insert(&mut self, prefix: &str, iri: &str) {
        self.prefixes.insert(prefix.to_owned(), iri.to_owned());
    }

    /// The namespace IRI of a prefix.
    pub fn iri(&self, prefix: &str) -> Option<&str> {
        self.prefixes.get(prefix).map(String::as_str)
    }

    /// Splits a namespaced name (`example:myField`, or a full IRI) into namespace and local
    /// name; `None` for a plain name.
    pub fn split<'a>(&'a self, key: &'a str) -> Option<(&'a str, &'a str)> {
        let (prefix, local) = key.split_once(':')?;
        if let Some(ns) = self.iri(prefix) {
            return Some((ns, local));
        }
        if local.starts_with("//") || prefix == "urn" {
            let at = key.rfind(['/', '#', ':'])?;
            return Some((&key[..=at], &key[at + 1..]));
        }
        None
    }

    /// Expands `prefix:local` when the prefix is declared; anything else unchanged.
    pub fn expand(&self, s: &str) -> String {
        match s.split_once(':') {
            Some((p, local)) if !local.starts_with("//") => match self.iri(p) {
                Some(ns) => format!("{ns}{local}"),
                None => s.to_owned(),
            },
            _ => s.to_owned(),
        }
    }

    /// The declared prefixes (for writing a document's `@context`).
    pub fn prefixes(&self) -> &BTreeMap<String, String> {
        &self.prefixes
    }
}

/// The hash ID of one EPCIS event in JSON form (`ni:///sha-256;…?ver=CBV2.0`).
pub fn hash_id(event: &Map<String, Value>, ctx: &Context) -> String {
    let digest = Sha256::digest(prehash(event, ctx).as_bytes());
    format!("ni:///sha-256;{}?ver=CBV2.0", hex::encode(digest))
}

/// The pre-hash string of one event (see the module documentation).
pub fn prehash(event: &Map<String, Value>, ctx: &Context) -> String {
    let mut out = String::from("eventType=");
    out.push_str(
        event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    for name in ORDER {
        let Some(v) = event.get(*name) else { continue };
        out.push_str(&field(name, v, ctx));
    }
    // CBV 2.0: what standard elements hold beyond their standard fields comes after them all.
    for name in ["readPoint", "bizLocation"] {
        if let Some(v) = event.get(name) {
            out.push_str(&wrap(name, extensions_of(v, &["id"], ctx)));
        }
    }
    if let Some(v) = event.get("sensorElementList") {
        out.push_str(&sorted(as_list(v).map(|el| {
            let mut s = String::new();
            if let Some(m) = el.get("sensorMetadata") {
                s.push_str(&wrap(
                    "sensorMetadata",
                    extensions_of(m, SENSOR_METADATA, ctx),
                ));
            }
            if let Some(r) = el.get("sensorReport") {
                s.push_str(&sorted(as_list(r).map(|r| {
                    wrap("sensorReport", extensions_of(r, SENSOR_REPORT, ctx))
                })));
            }
            s.push_str(&extensions_of(el, &["sensorMetadata", "sensorReport"], ctx));
            wrap("sensorElement", s)
        })));
    }
    let mut ext: Vec<String> = event
        .iter()
        .filter(|(k, _)| !ORDER.contains(&k.as_str()) && !IGNORED.contains(&k.as_str()))
        .filter(|(k, _)| ctx.split(k).is_some())
        .flat_map(|(k, v)| extension(k, v, ctx))
        .collect();
    ext.sort();
    out.push_str(&ext.concat());
    out
}

const ORDER: &[&str] = &[
    "eventTime",
    "eventTimeZoneOffset",
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
];

const IGNORED: &[&str] = &[
    "type",
    "recordTime",
    "eventID",
    "errorDeclaration",
    "@context",
];

fn field(name: &str, v: &Value, ctx: &Context) -> String {
    match name {
        "epcList" | "inputEPCList" | "childEPCs" | "outputEPCList" => {
            let list: Vec<&Value> = as_list(v).collect();
            let items = rendered(&list, |e| format!("epc={}", leaf("epc", e, None, ctx)));
            wrap(name, sorted(items.into_iter()))
        }
        "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
            let items = sorted(as_list(v).map(|q| {
                format!(
                    "quantityElement{}",
                    ordered(q, &["epcClass", "quantity", "uom"], ctx)
                )
            }));
            wrap(name, items)
        }
        "certificationInfo" => {
            sorted(as_list(v).map(|c| format!("certificationInfo={}", leaf(name, c, None, ctx))))
        }
        "bizStep" => format!("bizStep={}", leaf(name, v, Some(Vocab::BizStep), ctx)),
        "disposition" => format!(
            "disposition={}",
            leaf(name, v, Some(Vocab::Disposition), ctx)
        ),
        "persistentDisposition" => {
            let mut s = String::new();
            for part in ["set", "unset"] {
                if let Some(list) = v.get(part) {
                    s.push_str(&sorted(as_list(list).map(|d| {
                        format!("{part}={}", leaf(part, d, Some(Vocab::Disposition), ctx))
                    })));
                }
            }
            wrap(name, s)
        }
        "readPoint" | "bizLocation" => wrap(name, ordered(v, &["id"], ctx)),
        "bizTransactionList" => {
            list_of_typed(name, v, "bizTransaction", Vocab::BizTransactionType, ctx)
        }
        "sourceList" => list_of_typed(name, v, "source", Vocab::SourceDestType, ctx),
        "destinationList" => list_of_typed(name, v, "destination", Vocab::SourceDestType, ctx),
        "sensorElementList" => sorted(as_list(v).map(|el| {
            let mut s = String::new();
            if let Some(m) = el.get("sensorMetadata") {
                s.push_str(&wrap("sensorMetadata", ordered(m, SENSOR_METADATA, ctx)));
            }
            if let Some(r) = el.get("sensorReport") {
                s.push_str(&sorted(
                    as_list(r).map(|r| wrap("sensorReport", ordered(r, SENSOR_REPORT, ctx))),
                ));
            }
            wrap("sensorElement", s)
        })),
        "ilmd" => {
            let ext = sorted(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .flat_map(|(k, v)| extension(k, v, ctx)),
            );
            wrap(name, ext)
        }
        _ => format!("{name}={}", leaf(name, v, None, ctx)),
    }
}

const SENSOR_METADATA: &[&str] = &[
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
];
const SENSOR_REPORT: &[&str] = &[
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
];

fn wrap(name: &str, inner: String) -> String {
    if inner.is_empty() {
        String::new()
    } else {
        format!("{name}{inner}")
    }
}

fn as_list(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::Array(a) => Box::new(a.iter()),
        other => Box::new(std::iter::once(other)),
    }
}

/// Lists at least this long are rendered on every core ([`rendered`]).
const PARALLEL_FROM: usize = 4096;

/// Each element of `list` rendered, in order. A long list — an allocation block's event names
/// 100,000 EPCs — is split across the machine's cores; each rendering depends on its element
/// alone, so the result is the same.
fn rendered(list: &[&Value], render: impl Fn(&Value) -> String + Sync) -> Vec<String> {
    // The length first: asking for the cores reads the cgroup files, a few system calls that
    // cost more than a short list (a capture batch hashes a thousand events).
    if list.len() < PARALLEL_FROM {
        return list.iter().map(|e| render(e)).collect();
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 {
        return list.iter().map(|e| render(e)).collect();
    }
    let per_thread = list.len().div_ceil(threads);
    let render = &render;
    std::thread::scope(|scope| {
        let mut chunks = list.chunks(per_thread);
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|c| scope.spawn(move || c.iter().map(|e| render(e)).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<String> = first.iter().map(|e| render(e)).collect();
        for handle in others {
            match handle.join() {
                Ok(more) => out.extend(more),
                // A panic while rendering is a bug; let it surface as it would on one thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

fn sorted(items: impl Iterator<Item = String>) -> String {
    let mut v: Vec<String> = items.filter(|s| !s.is_empty()).collect();
    v.sort();
    v.concat()
}

/// `type=…<value name>=…` per element, sorted.
fn list_of_typed(name: &str, v: &Value, value_name: &str, vocab: Vocab, ctx: &Context) -> String {
    let items = sorted(as_list(v).map(|e| {
        let mut s = String::new();
        if let Some(t) = e.get("type") {
            s.push_str(&format!("type={}", leaf("type", t, Some(vocab), ctx)));
        }
        if let Some(x) = e.get(value_name) {
            s.push_str(&format!("{value_name}={}", leaf(value_name, x, None, ctx)));
        }
        s
    }));
    wrap(name, items)
}

/// The standard fields of an object, in `order`.
fn ordered(v: &Value, order: &[&str], ctx: &Context) -> String {
    let Some(obj) = v.as_object() else {
        return String::new();
    };
    let mut s = String::new();
    for k in order {
        if let Some(x) = obj.get(*k) {
            let vocab = match *k {
                "exception" => Some(Vocab::SensorAlert),
                "component" => Some(Vocab::Component),
                _ => None,
            };
            for x in as_list(x) {
                let text = if *k == "type" {
                    sensor_type(x)
                } else {
                    leaf(k, x, vocab, ctx)
                };
                s.push_str(&format!("{k}={text}"));
            }
        }
    }
    s
}

/// The namespaced fields (extensions) of an object beside its standard fields `known`, sorted.
fn extensions_of(v: &Value, known: &[&str], ctx: &Context) -> String {
    sorted(
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .filter(|(k, _)| ctx.split(k).is_some())
            .flat_map(|(k, v)| extension(k, v, ctx)),
    )
}

/// A sensor measurement type: a bare `Temperature`, `gs1:Temperature` or the GS1 Web
/// Vocabulary IRI is the term under `https://ref.gs1.org/voc/`, as the CBV 2.0 vectors write
/// it; a type of another vocabulary is written as given (`example:someSensorProperty` stays
/// so in the vectors, its prefix declared or not).
fn sensor_type(v: &Value) -> String {
    const REF: &str = "https://ref.gs1.org/voc/";
    let s = v.as_str().unwrap_or_default().trim();
    if !s.contains(':') {
        return format!("{REF}{s}");
    }
    match s
        .strip_prefix("gs1:")
        .or_else(|| s.strip_prefix("https://gs1.org/voc/"))
        .or_else(|| s.strip_prefix(REF))
    {
        Some(term) => format!("{REF}{term}"),
        None => s.to_owned(),
    }
}

/// `{namespace}name=value` renderings of one extension (several for an array).
fn extension(key: &str, v: &Value, ctx: &Context) -> Vec<String> {
    let name = match ctx.split(key) {
        Some((ns, local)) => format!("{{{ns}}}{local}"),
        None => key.to_owned(),
    };
    match v {
        Value::Array(a) => a.iter().flat_map(|x| extension(key, x, ctx)).collect(),
        Value::Object(o) => {
            if let Some(text) = o.get("@value").or_else(|| o.get("#text")) {
                return vec![format!("{name}={}", leaf(key, text, None, ctx))];
            }
            let inner = sorted(
                o.iter()
                    .filter(|(k, _)| !k.starts_with('@'))
                    .flat_map(|(k, v)| extension(k, v, ctx)),
            );
            vec![format!("{name}{inner}")]
        }
        Value::Null => Vec::new(),
        other => vec![format!("{name}={}", leaf(key, other, None, ctx))],
    }
}

/// One normalised value.
fn leaf(key: &str, v: &Value, vocab: Option<Vocab>, ctx: &Context) -> String {
    // Read in place: only the rendering is allocated (an event's EPC list may be 100,000 long).
    let written;
    let s = match v {
        Value::String(s) => s.trim(),
        Value::Number(n) => return number(n.as_f64().unwrap_or_default()),
        Value::Bool(b) => return b.to_string(),
        Value::Null => return String::new(),
        other => {
            written = other.to_string();
            written.as_str()
        }
    };
    if contains_ignoring_case(key, "time")
        && !contains_ignoring_case(key, "offset")
        && let Some(t) = time(s)
    {
        return t;
    }
    if let Some(voc) = vocab {
        return voc.web_uri(s);
    }
    if let Some(dl) = canonical_gs1_uri(s) {
        return dl;
    }
    // A sensor's string or hex reading is text, whatever digits it holds (the vectors keep
    // `stringValue=111100001111000011110000` as sent).
    if key == "stringValue" || key == "hexBinaryValue" {
        return s.to_owned();
    }
    if let Some(n) = numeric(s) {
        return n;
    }
    if s.starts_with("urn:epcglobal:cbv:") {
        for voc in [
            Vocab::BizStep,
            Vocab::Disposition,
            Vocab::BizTransactionType,
            Vocab::SourceDestType,
            Vocab::ErrorReason,
        ] {
            if voc.word(s).is_some() {
                return voc.web_uri(s);
            }
        }
    }
    ctx.expand(s)
}

/// Whether `needle` (lower-case ASCII) occurs in `key`, whatever the case of `key`.
fn contains_ignoring_case(key: &str, needle: &str) -> bool {
    key.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// An RFC 3339 time in UTC with exactly three decimals, rounded half up.
pub fn time(s: &str) -> Option<String> {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    let nanos = i64::from(t.timestamp_subsec_nanos() % 1_000_000);
    let t = t.trunc_subsecs(3)
        + if nanos >= 500_000 {
            Duration::milliseconds(1)
        } else {
            Duration::zero()
        };
    Some(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// A number without trailing zeros: `1.0` → `1`, `26.10` → `26.1`.
pub fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn numeric(s: &str) -> Option<String> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (body.contains('.') && frac.is_empty()) {
        return None;
    }
    s.parse::<f64>().ok().map(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_milliseconds_rounded_half_up() {
        assert_eq!(
            time("2023-01-18T11:04:03.1415Z").as_deref(),
            Some("2023-01-18T11:04:03.142Z")
        );
        assert_eq!(
            time("2023-01-18T11:04:03.1414Z").as_deref(),
            Some("2023-01-18T11:04:03.141Z")
        );
        assert_eq!(
            time("2022-02-16T20:33:31.116000-06:00").as_deref(),
            Some("2022-02-17T02:33:31.116Z")
        );
        assert_eq!(
            time("2020-03-04T11:00:30+01:00").as_deref(),
            Some("2020-03-04T10:00:30.000Z")
        );
        assert_eq!(
            time("2023-12-31T23:59:59.9996Z").as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn a_long_epc_list_renders_as_a_short_one() {
        // Past `PARALLEL_FROM` the list is rendered on several threads: the pre-image is the
        // elements rendered one by one, sorted, whatever the order they came in.
        let n = PARALLEL_FROM * 2 + 7;
        let epcs: Vec<String> = (0..n)
            .rev()
            .map(|i| format!("urn:threadline:unit:P-1:S{i:06}"))
            .collect();
        let mut event = Map::new();
        event.insert("type".into(), Value::from("ObjectEvent"));
        event.insert("epcList".into(), Value::from(epcs.clone()));
        let mut expected: Vec<String> = epcs.iter().map(|e| format!("epc={e}")).collect();
        expected.sort();
        assert_eq!(
            prehash(&event, &Context::default()),
            format!("eventType=ObjectEventepcList{}", expected.concat())
        );
        let short: Vec<&Value> = Vec::new();
        assert!(rendered(&short, |_| unreachable!()).is_empty());
    }

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(26.10), "26.1");
        assert_eq!(numeric("0012").as_deref(), Some("12"));
        assert_eq!(numeric("2014-02-10"), None);
    }
}
