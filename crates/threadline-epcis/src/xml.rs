//! The XML binding (`urn:epcglobal:epcis:xsd:2`): documents are read into the JSON shape of
//! [`crate::json`], so both bindings share one mapping and one hash, and written from it in the
//! XSD's element order.
//!
//! Reading: CBV URNs and Web URIs become bare words, as in JSON; elements in other namespaces
//! become `prefix:name` extensions with the prefix declared in the document's context; EPCIS
//! 1.2 `<extension>`/`<baseExtension>` wrappers are unwrapped. Writing: CBV words become URNs.

use quick_xml::events::Event as XmlEvent;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde_json::{Map, Value, json};
use threadline_domain::error::FieldError;

use crate::hash::Context;
use crate::json::{Document, DocumentKind};
use crate::vocab::{self, Vocab};

pub const EPCIS_NS: &str = "urn:epcglobal:epcis:xsd:2";
pub const QUERY_NS: &str = "urn:epcglobal:epcis-query:xsd:2";

/// A parsed element: namespace, prefix as written, local name, attributes, children, text.
#[derive(Debug, Default)]
struct Node {
    ns: Option<String>,
    prefix: Option<String>,
    name: String,
    attrs: Vec<(Option<String>, Option<String>, String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.ns.is_none() && c.name == name)
    }
    fn text(&self) -> String {
        self.text.trim().to_owned()
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.0.is_none() && a.2 == name)
            .map(|a| a.3.as_str())
    }
}

fn bad(msg: impl Into<String>) -> FieldError {
    FieldError::new("invalid_xml", msg)
}

fn parse_tree(body: &[u8], ctx: &mut Context) -> Result<Node, FieldError> {
    let mut reader = NsReader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    loop {
        let (res, ev) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| bad(format!("the body is not well-formed XML: {e}")))?;
        let ns = match res {
            ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
            _ => None,
        };
        match ev {
            XmlEvent::Start(ref e) | XmlEvent::Empty(ref e) => {
                let mut node = Node {
                    prefix: e
                        .name()
                        .prefix()
                        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()),
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ns: ns.clone(),
                    ..Node::default()
                };
                if let (Some(p), Some(n)) = (&node.prefix, &node.ns) {
                    ctx.insert(p, n);
                }
                for a in e.attributes() {
                    let a = a.map_err(|e| bad(format!("bad attribute: {e}")))?;
                    let key = a.key;
                    if key.as_namespace_binding().is_some() {
                        continue;
                    }
                    let (res, local) = reader.resolve_attribute(key);
                    let ans = match res {
                        ResolveResult::Bound(n) => {
                            Some(String::from_utf8_lossy(n.as_ref()).into_owned())
                        }
                        _ => None,
                    };
                    let prefix = key
                        .prefix()
                        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned());
                    if let (Some(p), Some(n)) = (&prefix, &ans) {
                        ctx.insert(p, n);
                    }
                    let value = a
                        .unescape_value()
                        .map_err(|e| bad(format!("bad attribute value: {e}")))?
                        .into_owned();
                    node.attrs.push((
                        ans,
                        prefix,
                        String::from_utf8_lossy(local.as_ref()).into_owned(),
                        value,
                    ));
                }
                if matches!(ev, XmlEvent::Empty(_)) {
                    if let Some(top) = stack.last_mut() {
                        top.children.push(node);
                    }
                } else {
                    stack.push(node);
                }
            }
            XmlEvent::End(_) => {
                let node = stack.pop().ok_or_else(|| bad("unbalanced end tag"))?;
                stack
                    .last_mut()
                    .ok_or_else(|| bad("unbalanced end tag"))?
                    .children
                    .push(node);
            }
            XmlEvent::Text(t) => {
                let s = t.unescape().map_err(|e| bad(format!("bad text: {e}")))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            XmlEvent::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let mut root = stack.pop().ok_or_else(|| bad("empty document"))?;
    root.children
        .pop()
        .ok_or_else(|| bad("the document has no root element"))
}

/// Reads an EPCIS XML document or query document.
pub fn parse_document(body: &[u8]) -> Result<Document, FieldError> {
    let mut context = Context::default();
    let root = parse_tree(body, &mut context)?;
    let kind = match (root.ns.as_deref(), root.name.as_str()) {
        (Some(EPCIS_NS), "EPCISDocument") => DocumentKind::Document,
        (Some(QUERY_NS), "EPCISQueryDocument") => DocumentKind::QueryDocument,
        (ns, name) => {
            return Err(FieldError::new(
                "invalid_document",
                format!(
                    "`{name}` in {} is not an EPCIS 2.0 document (EPCISDocument in {EPCIS_NS}, EPCISQueryDocument in {QUERY_NS})",
                    ns.unwrap_or("no namespace")
                ),
            ));
        }
    };
    if root.attr("schemaVersion").is_none() {
        return Err(FieldError::new(
            "required",
            "an EPCIS document needs the schemaVersion attribute",
        )
        .at("schemaVersion"));
    }
    let body_el = root.child("EPCISBody").ok_or_else(|| {
        FieldError::new("required", "the document has no EPCISBody").at("EPCISBody")
    })?;
    let list = match kind {
        DocumentKind::QueryDocument => body_el
            .children
            .iter()
            .find(|c| c.name == "QueryResults")
            .and_then(|q| q.child("resultsBody"))
            .and_then(|r| r.child("EventList")),
        _ => body_el.child("EventList"),
    };
    let list = list.ok_or_else(|| {
        FieldError::new("required", "the document has no EventList").at("EventList")
    })?;
    let mut events = Vec::new();
    for e in &list.children {
        let e = if e.ns.is_none() && e.name == "extension" {
            match e.children.first() {
                Some(inner) => inner,
                None => continue,
            }
        } else {
            e
        };
        events.push(event(e, &mut context));
    }
    let master_data = match root.child("EPCISHeader") {
        Some(h) => master_data(h, &mut context)?,
        None => Vec::new(),
    };
    Ok(Document {
        kind,
        context,
        events,
        events_path: "EventList",
        master_data,
    })
}

/// The vocabulary elements of `EPCISHeader` (`EPCISMasterData` in its `extension`, as the
/// standard's examples have it, or directly in it), or the first thing wrong, named by its path
/// (`EPCISHeader.EPCISMasterData.VocabularyList.Vocabulary[0].VocabularyElementList.VocabularyElement[1].id`).
fn master_data(
    header: &Node,
    ctx: &mut Context,
) -> Result<Vec<crate::masterdata::VocabularyElement>, FieldError> {
    let md = header.child("EPCISMasterData").or_else(|| {
        header
            .child("extension")
            .and_then(|x| x.child("EPCISMasterData"))
    });
    let Some(md) = md else {
        return Ok(Vec::new());
    };
    let refuse = |code, at: &str, msg: &str| FieldError::new(code, msg).at(at);
    let at = "EPCISHeader.EPCISMasterData.VocabularyList";
    let list = md
        .child("VocabularyList")
        .ok_or_else(|| refuse("required", at, "EPCISMasterData needs a VocabularyList"))?;
    let mut out = Vec::new();
    let vocabularies = list.children.iter().filter(|c| c.ns.is_none());
    for (i, voc) in vocabularies.enumerate() {
        let at = format!("{at}.Vocabulary[{i}]");
        if voc.name != "Vocabulary" {
            return Err(refuse(
                "unknown_field",
                &at,
                &format!(
                    "a VocabularyList holds Vocabulary elements, not {}",
                    voc.name
                ),
            ));
        }
        let vtype = match voc.attr("type").map(str::trim) {
            Some(t) if !t.is_empty() => crate::masterdata::vtype(t),
            _ => {
                return Err(refuse(
                    "required",
                    &format!("{at}.type"),
                    "a Vocabulary needs its type, a URI such as urn:epcglobal:epcis:vtype:BusinessLocation",
                ));
            }
        };
        let at = format!("{at}.VocabularyElementList");
        let Some(elements) = voc.child("VocabularyElementList") else {
            return Err(refuse(
                "required",
                &at,
                "a Vocabulary needs a VocabularyElementList",
            ));
        };
        let elements = elements.children.iter().filter(|c| c.ns.is_none());
        for (j, el) in elements.enumerate() {
            let at = format!("{at}.VocabularyElement[{j}]");
            if el.name != "VocabularyElement" {
                return Err(refuse(
                    "unknown_field",
                    &at,
                    &format!(
                        "a VocabularyElementList holds VocabularyElement elements, not {}",
                        el.name
                    ),
                ));
            }
            let id = match el.attr("id").map(str::trim) {
                Some(id) if !id.is_empty() => id.to_owned(),
                _ => {
                    return Err(refuse(
                        "required",
                        &format!("{at}.id"),
                        "a vocabulary element needs an id (a URI)",
                    ));
                }
            };
            let mut attributes = Vec::new();
            let mut children = Vec::new();
            let mut a = 0;
            for c in el.children.iter().filter(|c| c.ns.is_none()) {
                match c.name.as_str() {
                    "attribute" => {
                        let Some(aid) = c.attr("id").map(str::trim).filter(|s| !s.is_empty())
                        else {
                            return Err(refuse(
                                "required",
                                &format!("{at}.attribute[{a}].id"),
                                "an attribute needs an id (a URI)",
                            ));
                        };
                        attributes.push(json!({"id": aid, "attribute": ext_value(c, ctx)}));
                        a += 1;
                    }
                    "children" => {
                        for (k, child) in c.children.iter().filter(|c| c.ns.is_none()).enumerate() {
                            let text = child.text();
                            if child.name != "id" || text.is_empty() {
                                return Err(refuse(
                                    "invalid_value",
                                    &format!("{at}.children.id[{k}]"),
                                    "children lists the ids of the element's children, each an id element",
                                ));
                            }
                            children.push(text);
                        }
                    }
                    "extension" => {}
                    other => {
                        return Err(refuse(
                            "unknown_field",
                            &format!("{at}.{other}"),
                            &format!(
                                "`{other}` is not part of a vocabulary element (attribute, children)"
                            ),
                        ));
                    }
                }
            }
            out.push(crate::masterdata::VocabularyElement {
                vtype: vtype.clone(),
                id,
                attributes,
                children,
            });
        }
    }
    Ok(out)
}

fn curie(n: &Node, ctx: &mut Context) -> String {
    let ns = n.ns.clone().unwrap_or_default();
    let prefix = match &n.prefix {
        Some(p) => p.clone(),
        None => {
            let existing = ctx
                .prefixes()
                .iter()
                .find(|(_, v)| **v == ns)
                .map(|(k, _)| k.clone());
            existing.unwrap_or_else(|| {
                let p = format!("ns{}", ctx.prefixes().len());
                ctx.insert(&p, &ns);
                p
            })
        }
    };
    format!("{prefix}:{}", n.name)
}

/// An extension element's value: its text, or an object of its children.
fn ext_value(n: &Node, ctx: &mut Context) -> Value {
    if n.children.is_empty() {
        return json!(n.text());
    }
    let mut o = Map::new();
    for c in &n.children {
        let k = if c.ns.is_some() {
            curie(c, ctx)
        } else {
            c.name.clone()
        };
        let v = ext_value(c, ctx);
        push(&mut o, k, v);
    }
    Value::Object(o)
}

fn push(o: &mut Map<String, Value>, k: String, v: Value) {
    match o.get_mut(&k) {
        Some(Value::Array(a)) => a.push(v),
        Some(prev) => {
            let first = prev.take();
            *prev = json!([first, v]);
        }
        None => {
            o.insert(k, v);
        }
    }
}

fn number_or_text(s: &str) -> Value {
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| json!(s), Value::Number)
}

const NUMERIC_ATTRS: &[&str] = &[
    "value",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
];

fn attrs_object(n: &Node, ctx: &mut Context) -> Map<String, Value> {
    let mut o = Map::new();
    for (ns, prefix, name, value) in &n.attrs {
        let key = match (ns, prefix) {
            (Some(ns), Some(p)) => {
                ctx.insert(p, ns);
                format!("{p}:{name}")
            }
            _ => name.clone(),
        };
        let v = if NUMERIC_ATTRS.contains(&name.as_str()) {
            number_or_text(value)
        } else if name == "booleanValue" {
            json!(value == "true")
        } else if name == "exception" {
            json!(vocab::word_in(Vocab::SensorAlert, value))
        } else if name == "component" {
            json!(vocab::word_in(Vocab::Component, value))
        } else {
            json!(value)
        };
        o.insert(key, v);
    }
    for c in &n.children {
        if c.ns.is_some() {
            let k = curie(c, ctx);
            let v = ext_value(c, ctx);
            push(&mut o, k, v);
        }
    }
    o
}

fn event(n: &Node, ctx: &mut Context) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("type".into(), json!(n.name));
    fields(n, &mut o, ctx);
    o
}

fn fields(n: &Node, o: &mut Map<String, Value>, ctx: &mut Context) {
    for c in &n.children {
        if c.ns.is_some() {
            let k = curie(c, ctx);
            let v = ext_value(c, ctx);
            push(o, k, v);
            continue;
        }
        let name = c.name.as_str();
        let v = match name {
            "extension" | "baseExtension" => {
                fields(c, o, ctx);
                continue;
            }
            "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
                Value::Array(c.children.iter().map(|e| json!(e.text())).collect())
            }
            "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
                Value::Array(
                    c.children
                        .iter()
                        .map(|q| {
                            let mut e = Map::new();
                            for f in &q.children {
                                let t = f.text();
                                let v = if f.name == "quantity" {
                                    number_or_text(&t)
                                } else {
                                    json!(t)
                                };
                                e.insert(f.name.clone(), v);
                            }
                            Value::Object(e)
                        })
                        .collect(),
                )
            }
            "bizStep" => json!(vocab::word_in(Vocab::BizStep, &c.text())),
            "disposition" => json!(vocab::word_in(Vocab::Disposition, &c.text())),
            "readPoint" | "bizLocation" => {
                let mut p = Map::new();
                for f in &c.children {
                    if f.ns.is_none() && f.name == "id" {
                        p.insert("id".into(), json!(f.text()));
                    } else if f.ns.is_none() && f.name == "extension" {
                        for g in &f.children {
                            let k = curie(g, ctx);
                            let v = ext_value(g, ctx);
                            push(&mut p, k, v);
                        }
                    } else {
                        let k = curie(f, ctx);
                        let v = ext_value(f, ctx);
                        push(&mut p, k, v);
                    }
                }
                Value::Object(p)
            }
            "bizTransactionList" | "sourceList" | "destinationList" => {
                let (value, voc) = match name {
                    "bizTransactionList" => ("bizTransaction", Vocab::BizTransactionType),
                    "sourceList" => ("source", Vocab::SourceDestType),
                    _ => ("destination", Vocab::SourceDestType),
                };
                Value::Array(
                    c.children
                        .iter()
                        .map(|e| {
                            let mut x = Map::new();
                            if let Some(t) = e.attr("type") {
                                let t = if voc == Vocab::BizTransactionType {
                                    vocab::btt_in(t)
                                } else {
                                    vocab::word_in(voc, t)
                                };
                                x.insert("type".into(), json!(t));
                            }
                            x.insert(value.into(), json!(e.text()));
                            Value::Object(x)
                        })
                        .collect(),
                )
            }
            "persistentDisposition" => {
                let mut p = Map::new();
                for f in &c.children {
                    let entry = p.entry(f.name.clone()).or_insert_with(|| json!([]));
                    if let Value::Array(a) = entry {
                        a.push(json!(vocab::word_in(Vocab::Disposition, &f.text())));
                    }
                }
                Value::Object(p)
            }
            "sensorElementList" => Value::Array(
                c.children
                    .iter()
                    .map(|el| {
                        let mut x = Map::new();
                        let mut reports = Vec::new();
                        for f in &el.children {
                            match (f.ns.is_none(), f.name.as_str()) {
                                (true, "sensorMetadata") => {
                                    x.insert(
                                        "sensorMetadata".into(),
                                        Value::Object(attrs_object(f, ctx)),
                                    );
                                }
                                (true, "sensorReport") => {
                                    reports.push(Value::Object(attrs_object(f, ctx)))
                                }
                                _ => {
                                    let k = curie(f, ctx);
                                    let v = ext_value(f, ctx);
                                    push(&mut x, k, v);
                                }
                            }
                        }
                        x.insert("sensorReport".into(), Value::Array(reports));
                        Value::Object(x)
                    })
                    .collect(),
            ),
            "errorDeclaration" => {
                let mut x = Map::new();
                for f in &c.children {
                    match (f.ns.is_none(), f.name.as_str()) {
                        (true, "reason") => {
                            x.insert(
                                "reason".into(),
                                json!(vocab::word_in(Vocab::ErrorReason, &f.text())),
                            );
                        }
                        (true, "correctiveEventIDs") => {
                            x.insert(
                                "correctiveEventIDs".into(),
                                Value::Array(f.children.iter().map(|e| json!(e.text())).collect()),
                            );
                        }
                        (true, "extension") => fields(f, &mut x, ctx),
                        (true, _) => {
                            x.insert(f.name.clone(), json!(f.text()));
                        }
                        _ => {
                            let k = curie(f, ctx);
                            let v = ext_value(f, ctx);
                            push(&mut x, k, v);
                        }
                    }
                }
                Value::Object(x)
            }
            "ilmd" => {
                let mut x = Map::new();
                for f in &c.children {
                    if f.ns.is_none() && f.name == "extension" {
                        for g in &f.children {
                            let k = curie(g, ctx);
                            let v = ext_value(g, ctx);
                            push(&mut x, k, v);
                        }
                    } else {
                        let k = curie(f, ctx);
                        let v = ext_value(f, ctx);
                        push(&mut x, k, v);
                    }
                }
                Value::Object(x)
            }
            "certificationInfo" => {
                push(o, "certificationInfo".into(), json!(c.text()));
                continue;
            }
            _ => json!(c.text()),
        };
        o.insert(name.to_owned(), v);
    }
}

/// Writes events (in the JSON shape) as an XML `EPCISQueryDocument` (or `EPCISDocument` when
/// `query_name` is `None`), in the XSD's element order.
pub fn write_document(
    events: &[Map<String, Value>],
    context: &Context,
    query_name: Option<&str>,
    created: &str,
) -> String {
    write(events, context, query_name.map(|q| (q, None)), created)
}

/// Writes a query subscription's report: an XML `EPCISQueryDocument` whose `QueryResults`
/// name the query and the subscription (`subscriptionID`, after `queryName` as the XSD has it).
pub fn write_subscription_document(
    events: &[Map<String, Value>],
    context: &Context,
    query_name: &str,
    subscription_id: &str,
    created: &str,
) -> String {
    write(
        events,
        context,
        Some((query_name, Some(subscription_id))),
        created,
    )
}

fn write(
    events: &[Map<String, Value>],
    context: &Context,
    query: Option<(&str, Option<&str>)>,
    created: &str,
) -> String {
    let query_name = query.map(|(q, _)| q);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut ns = String::new();
    for (p, iri) in context
        .prefixes()
        .iter()
        .filter(|(p, _)| !matches!(p.as_str(), "epcis" | "epcisq"))
    {
        ns.push_str(&format!(" xmlns:{p}=\"{}\"", esc(iri)));
    }
    match query_name {
        Some(q) => out.push_str(&format!(
            "<epcisq:EPCISQueryDocument xmlns:epcisq=\"{QUERY_NS}\"{ns} schemaVersion=\"2.0\" creationDate=\"{created}\"><EPCISBody><epcisq:QueryResults><queryName>{}</queryName>{}<resultsBody><EventList>",
            esc(q),
            query
                .and_then(|(_, id)| id)
                .map(|id| format!("<subscriptionID>{}</subscriptionID>", esc(id)))
                .unwrap_or_default()
        )),
        None => out.push_str(&format!(
            "<epcis:EPCISDocument xmlns:epcis=\"{EPCIS_NS}\"{ns} schemaVersion=\"2.0\" creationDate=\"{created}\"><EPCISBody><EventList>"
        )),
    }
    for e in events {
        write_event(&mut out, e);
    }
    match query_name {
        Some(_) => out.push_str("</EventList></resultsBody></epcisq:QueryResults></EPCISBody></epcisq:EPCISQueryDocument>"),
        None => out.push_str("</EventList></EPCISBody></epcis:EPCISDocument>"),
    }
    out
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn simple(out: &mut String, name: &str, v: &Value) {
    out.push_str(&format!("<{name}>{}</{name}>", esc(&text(v))));
}

fn write_ext(out: &mut String, key: &str, v: &Value) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| write_ext(out, key, x)),
        Value::Object(o) => {
            out.push_str(&format!("<{key}>"));
            for (k, x) in o {
                if !k.starts_with('@') {
                    write_ext(out, k, x);
                }
            }
            out.push_str(&format!("</{key}>"));
        }
        other => simple(out, key, other),
    }
}

/// Element order per event type (EPCIS 2.0 XSD), after the common base fields.
fn order(t: &str) -> &'static [&'static str] {
    match t {
        "ObjectEvent" => &[
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
            "ilmd",
        ],
        "AggregationEvent" => &[
            "parentID",
            "childEPCs",
            "action",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "childQuantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        ],
        "TransactionEvent" => &[
            "bizTransactionList",
            "parentID",
            "epcList",
            "action",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "quantityList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        ],
        "TransformationEvent" => &[
            "inputEPCList",
            "inputQuantityList",
            "outputEPCList",
            "outputQuantityList",
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
        ],
        _ => &[
            "parentID",
            "childEPCs",
            "childQuantityList",
            "action",
            "bizStep",
            "disposition",
            "persistentDisposition",
            "readPoint",
            "bizLocation",
            "bizTransactionList",
            "sourceList",
            "destinationList",
            "sensorElementList",
        ],
    }
}

const BASE: &[&str] = &[
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "errorDeclaration",
    "certificationInfo",
];

fn write_event(out: &mut String, e: &Map<String, Value>) {
    let t = e
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ObjectEvent");
    out.push_str(&format!("<{t}>"));
    let fields = order(t);
    for k in BASE.iter().chain(fields.iter()) {
        let Some(v) = e.get(*k) else { continue };
        write_field(out, k, v);
    }
    for (k, v) in e {
        if k != "type"
            && !BASE.contains(&k.as_str())
            && !fields.contains(&k.as_str())
            && k.contains(':')
        {
            write_ext(out, k, v);
        }
    }
    out.push_str(&format!("</{t}>"));
}

fn list(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn write_field(out: &mut String, k: &str, v: &Value) {
    match k {
        "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => {
            out.push_str(&format!("<{k}>"));
            list(v).for_each(|x| simple(out, "epc", x));
            out.push_str(&format!("</{k}>"));
        }
        "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => {
            out.push_str(&format!("<{k}>"));
            for q in list(v) {
                out.push_str("<quantityElement>");
                for f in ["epcClass", "quantity", "uom"] {
                    if let Some(x) = q.get(f) {
                        simple(out, f, x);
                    }
                }
                out.push_str("</quantityElement>");
            }
            out.push_str(&format!("</{k}>"));
        }
        "bizStep" => simple(out, k, &json!(Vocab::BizStep.urn_of(&text(v)))),
        "disposition" => simple(out, k, &json!(Vocab::Disposition.urn_of(&text(v)))),
        "certificationInfo" => {
            for x in v.as_array().map_or_else(|| vec![v], |a| a.iter().collect()) {
                simple(out, k, x);
            }
        }
        "readPoint" | "bizLocation" => {
            out.push_str(&format!("<{k}>"));
            if let Some(id) = v.get("id") {
                simple(out, "id", id);
            }
            for (ek, ev) in v.as_object().into_iter().flatten() {
                if ek != "id" {
                    write_ext(out, ek, ev);
                }
            }
            out.push_str(&format!("</{k}>"));
        }
        "bizTransactionList" | "sourceList" | "destinationList" => {
            let (item, voc) = match k {
                "bizTransactionList" => ("bizTransaction", Vocab::BizTransactionType),
                "sourceList" => ("source", Vocab::SourceDestType),
                _ => ("destination", Vocab::SourceDestType),
            };
            out.push_str(&format!("<{k}>"));
            for x in list(v) {
                let t = x.get("type").map(|t| voc.urn_of(&text(t)));
                let attr = t
                    .map(|t| format!(" type=\"{}\"", esc(&t)))
                    .unwrap_or_default();
                let value = x.get(item).map(text).unwrap_or_default();
                out.push_str(&format!("<{item}{attr}>{}</{item}>", esc(&value)));
            }
            out.push_str(&format!("</{k}>"));
        }
        "persistentDisposition" => {
            out.push_str("<persistentDisposition>");
            for part in ["set", "unset"] {
                for d in v.get(part).map(list).into_iter().flatten() {
                    simple(out, part, &json!(Vocab::Disposition.urn_of(&text(d))));
                }
            }
            out.push_str("</persistentDisposition>");
        }
        "sensorElementList" => {
            out.push_str("<sensorElementList>");
            for el in list(v) {
                out.push_str("<sensorElement>");
                if let Some(m) = el.get("sensorMetadata") {
                    attrs_element(out, "sensorMetadata", m);
                }
                for r in el.get("sensorReport").map(list).into_iter().flatten() {
                    attrs_element(out, "sensorReport", r);
                }
                for (ek, ev) in el.as_object().into_iter().flatten() {
                    if ek.contains(':') {
                        write_ext(out, ek, ev);
                    }
                }
                out.push_str("</sensorElement>");
            }
            out.push_str("</sensorElementList>");
        }
        "errorDeclaration" => {
            out.push_str("<errorDeclaration>");
            for f in ["declarationTime", "reason"] {
                if let Some(x) = v.get(f) {
                    let x = if f == "reason" {
                        json!(Vocab::ErrorReason.urn_of(&text(x)))
                    } else {
                        x.clone()
                    };
                    simple(out, f, &x);
                }
            }
            if let Some(ids) = v.get("correctiveEventIDs") {
                out.push_str("<correctiveEventIDs>");
                list(ids).for_each(|x| simple(out, "correctiveEventID", x));
                out.push_str("</correctiveEventIDs>");
            }
            for (ek, ev) in v.as_object().into_iter().flatten() {
                if ek.contains(':') {
                    write_ext(out, ek, ev);
                }
            }
            out.push_str("</errorDeclaration>");
        }
        "ilmd" => {
            out.push_str("<ilmd>");
            for (ek, ev) in v.as_object().into_iter().flatten() {
                write_ext(out, ek, ev);
            }
            out.push_str("</ilmd>");
        }
        _ => simple(out, k, v),
    }
}

fn attrs_element(out: &mut String, name: &str, v: &Value) {
    out.push_str(&format!("<{name}"));
    let mut nested = Vec::new();
    for (k, x) in v.as_object().into_iter().flatten() {
        match x {
            Value::Object(_) | Value::Array(_) => nested.push((k, x)),
            _ => {
                let t = match k.as_str() {
                    "exception" => format!("gs1:{}", text(x)),
                    "component" => Vocab::Component.web_uri(&text(x)),
                    _ => text(x),
                };
                out.push_str(&format!(" {k}=\"{}\"", esc(&t)));
            }
        }
    }
    if nested.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        for (k, x) in nested {
            write_ext(out, k, x);
        }
        out.push_str(&format!("</{name}>"));
    }
}
