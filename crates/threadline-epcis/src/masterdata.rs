//! Master data a document's header carries (`epcisHeader.epcisMasterData.vocabularyList` in
//! JSON-LD, `EPCISHeader/extension/EPCISMasterData/VocabularyList` in XML): vocabulary elements —
//! a vocabulary type, an element id, its attributes and its children —, read exactly as sent.
//!
//! Threadline keeps them apart from its own master data: they never create or re-parent a
//! Threadline location. What they are for is the hierarchy the standard gives `WD_readPoint`
//! and `WD_bizLocation` ("with descendants"): an element's `children` are the places below it,
//! in the vocabulary of its type (`ReadPoint` for `WD_readPoint`, `BusinessLocation` for
//! `WD_bizLocation`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use threadline_domain::error::FieldError;

use crate::ids;

/// The vocabulary type of business locations (`WD_bizLocation` walks its children).
pub const BUSINESS_LOCATION: &str = "urn:epcglobal:epcis:vtype:BusinessLocation";
/// The vocabulary type of read points (`WD_readPoint` walks its children).
pub const READ_POINT: &str = "urn:epcglobal:epcis:vtype:ReadPoint";
/// The vocabulary type of product classes (`EQ_ATTR_epcClass_…` reads its attributes).
pub const EPC_CLASS: &str = "urn:epcglobal:epcis:vtype:EPCClass";
const VTYPE: &str = "urn:epcglobal:epcis:vtype:";

/// One vocabulary element of a document's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VocabularyElement {
    /// The vocabulary type, a URI (`urn:epcglobal:epcis:vtype:BusinessLocation`; a bare name such
    /// as `BusinessLocation` is read as the standard's `urn:epcglobal:epcis:vtype:` type).
    pub vtype: String,
    /// The element's id, as the document wrote it.
    pub id: String,
    /// Its attributes as JSON-LD writes them, in the document's order: `{"id": …, "attribute": …}`
    /// (an XML attribute's element content is read as an extension's is).
    pub attributes: Vec<Value>,
    /// The ids of its children, as written.
    pub children: Vec<String>,
}

impl VocabularyElement {
    /// The id an element is looked up by: the canonical Digital Link of an EPC URN or Digital
    /// Link (as the Simple Event Query compares places), any other URI as written.
    pub fn key(&self) -> String {
        key(&self.id)
    }
}

/// The lookup key of an element id or a child's id: see [`VocabularyElement::key`].
pub fn key(id: &str) -> String {
    ids::canonical_gs1_uri(id).unwrap_or_else(|| id.to_owned())
}

/// The vocabulary type `WD_{field}` walks: `readPoint` → read points, else business locations.
pub fn hierarchy_of(field: &str) -> &'static str {
    if field == "readPoint" {
        READ_POINT
    } else {
        BUSINESS_LOCATION
    }
}

pub(crate) fn vtype(t: &str) -> String {
    if t.contains(':') {
        t.to_owned()
    } else {
        format!("{VTYPE}{t}")
    }
}

fn refuse(code: &'static str, at: &str, msg: impl Into<String>) -> FieldError {
    FieldError::new(code, msg).at(at)
}

fn uri(v: Option<&Value>, at: &str, what: &str) -> Result<String, FieldError> {
    match v {
        Some(Value::String(s)) if s.chars().any(char::is_control) => Err(refuse(
            "invalid_value",
            at,
            format!("{what}'s id holds a control character"),
        )),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None => Err(refuse(
            "required",
            at,
            format!("{what} needs an id (a URI)"),
        )),
        Some(_) => Err(refuse(
            "invalid_value",
            at,
            format!("{what}'s id is a string (a URI)"),
        )),
    }
}

/// Reads `epcisHeader` of a JSON-LD document: its vocabulary elements in document order, or
/// the first thing wrong named by its field (`epcisHeader.epcisMasterData.vocabularyList[0].
/// vocabularyElementList[1].id`). A header without master data has none.
pub fn from_json_header(header: Option<&Value>) -> Result<Vec<VocabularyElement>, FieldError> {
    const HEADER: &str = "epcisHeader";
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let Some(header) = header.as_object() else {
        return Err(refuse(
            "invalid_value",
            HEADER,
            "`epcisHeader` is an object",
        ));
    };
    let Some(md) = header.get("epcisMasterData") else {
        return Ok(Vec::new());
    };
    let at = format!("{HEADER}.epcisMasterData");
    let Some(md) = md.as_object() else {
        return Err(refuse(
            "invalid_value",
            &at,
            "`epcisMasterData` is an object",
        ));
    };
    let at = format!("{at}.vocabularyList");
    let list = match md.get("vocabularyList") {
        Some(Value::Array(l)) => l,
        Some(_) => return Err(refuse("invalid_value", &at, "`vocabularyList` is a list")),
        None => {
            return Err(refuse(
                "required",
                &at,
                "`epcisMasterData` needs `vocabularyList`, a list",
            ));
        }
    };
    let mut out = Vec::new();
    for (i, voc) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(voc) = voc.as_object() else {
            return Err(refuse("invalid_value", &at, "a vocabulary is an object"));
        };
        only(voc, &at, &["type", "vocabularyElementList"])?;
        let t = match voc.get("type") {
            Some(Value::String(t)) if !t.trim().is_empty() => vtype(t),
            _ => {
                return Err(refuse(
                    "required",
                    &format!("{at}.type"),
                    "a vocabulary needs its type, a URI such as urn:epcglobal:epcis:vtype:BusinessLocation",
                ));
            }
        };
        let at = format!("{at}.vocabularyElementList");
        let elements = match voc.get("vocabularyElementList") {
            Some(Value::Array(l)) => l,
            Some(_) => {
                return Err(refuse(
                    "invalid_value",
                    &at,
                    "`vocabularyElementList` is a list",
                ));
            }
            None => {
                return Err(refuse(
                    "required",
                    &at,
                    "a vocabulary needs `vocabularyElementList`, a list",
                ));
            }
        };
        for (j, el) in elements.iter().enumerate() {
            let at = format!("{at}[{j}]");
            let Some(el) = el.as_object() else {
                return Err(refuse(
                    "invalid_value",
                    &at,
                    "a vocabulary element is an object",
                ));
            };
            only(el, &at, &["id", "attributes", "children"])?;
            let id = uri(el.get("id"), &format!("{at}.id"), "a vocabulary element")?;
            let mut attributes = Vec::new();
            match el.get("attributes") {
                None => {}
                Some(Value::Array(l)) => {
                    for (k, a) in l.iter().enumerate() {
                        let at = format!("{at}.attributes[{k}]");
                        let Some(o) = a.as_object() else {
                            return Err(refuse("invalid_value", &at, "an attribute is an object"));
                        };
                        only(o, &at, &["id", "attribute"])?;
                        uri(o.get("id"), &format!("{at}.id"), "an attribute")?;
                        if !o.contains_key("attribute") {
                            return Err(refuse(
                                "required",
                                &format!("{at}.attribute"),
                                "an attribute needs its value, `attribute`",
                            ));
                        }
                        attributes.push(a.clone());
                    }
                }
                Some(_) => {
                    return Err(refuse(
                        "invalid_value",
                        &format!("{at}.attributes"),
                        "`attributes` is a list of {\"id\", \"attribute\"}",
                    ));
                }
            }
            let mut children = Vec::new();
            match el.get("children") {
                None => {}
                Some(Value::Array(l)) => {
                    for (k, c) in l.iter().enumerate() {
                        children.push(uri(Some(c), &format!("{at}.children[{k}]"), "a child")?);
                    }
                }
                Some(_) => {
                    return Err(refuse(
                        "invalid_value",
                        &format!("{at}.children"),
                        "`children` is a list of ids",
                    ));
                }
            }
            out.push(VocabularyElement {
                vtype: t.clone(),
                id,
                attributes,
                children,
            });
        }
    }
    Ok(out)
}

/// Refuses a key of `o` that is not one of `known`, naming it.
fn only(o: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), FieldError> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(refuse(
            "unknown_field",
            &format!("{at}.{k}"),
            format!(
                "`{k}` is not part of master data here (it takes {})",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_elements_and_names_what_is_wrong() {
        let h = json!({"epcisMasterData": {"vocabularyList": [{"type": "BusinessLocation",
            "vocabularyElementList": [{"id": "urn:epc:id:sgln:0614141.00001.0",
                "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "DC"}],
                "children": ["urn:epc:id:sgln:0614141.00001.1"]}]}]}});
        let els = from_json_header(Some(&h)).unwrap();
        assert_eq!(els.len(), 1);
        assert_eq!(els[0].vtype, BUSINESS_LOCATION);
        assert_eq!(els[0].key(), "https://id.gs1.org/414/0614141000012");
        assert_eq!(els[0].children, ["urn:epc:id:sgln:0614141.00001.1"]);

        for (bad, field) in [
            (
                json!({"epcisMasterData": {"vocabularyList": [{"type": "ReadPoint", "vocabularyElementList": [{"attributes": []}]}]}}),
                "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].id",
            ),
            (
                json!({"epcisMasterData": {"vocabularyList": [{"vocabularyElementList": []}]}}),
                "epcisHeader.epcisMasterData.vocabularyList[0].type",
            ),
            (
                json!({"epcisMasterData": {"vocabularyList": [{"type": "ReadPoint", "vocabularyElementList": [{"id": "x:1", "parent": "x:2"}]}]}}),
                "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].parent",
            ),
            (
                json!({"epcisMasterData": {"vocabularyList": [{"type": "ReadPoint", "vocabularyElementList": [{"id": "x:1", "children": [7]}]}]}}),
                "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].children[0]",
            ),
            (
                json!({"epcisMasterData": {"vocabularyList": {}}}),
                "epcisHeader.epcisMasterData.vocabularyList",
            ),
        ] {
            let e = from_json_header(Some(&bad)).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{bad}");
        }
    }
}
