//! Field-level restriction: which fields are a customer's personal data or commercial, and
//! how they read to someone who may not see them.
//!
//! Everything that leaves the server — API answers, pages, CSV/XLSX exports, EPCIS documents,
//! webhook payloads — passes through [`masked`] with the [`Visibility`] of whoever receives
//! it, right before it is rendered. Stored data is never changed: masking is a view.
//!
//! What is restricted:
//! - **personal data** (needs `read_customer_data`): a customer party's name and contact
//!   (person, phone, e-mail, address); the event fields in [`PERSONAL_FIELDS`] (ship-to
//!   address, the `customer_*` fields an ERP sends); the customer's name where a trace or a
//!   recall shows where a unit went.
//! - **commercial data** (needs `read_prices`): the event fields in [`COMMERCIAL_FIELDS`]
//!   (prices, amounts, discounts, costs).
//!
//! Party *codes* are identifiers, not personal data: they stay visible so that units can still
//! be traced to a customer record by someone who may open it. A plant must not use a personal
//! detail (a phone number) as a customer's code.
//!
//! Partners' data arrives in shapes Threadline does not define: EPCIS user extensions and
//! ILMD of other namespaces (kept verbatim in [`Event::epcis`]), custom attributes (`ilmd`,
//! a unit's attributes) and free event `fields`, at any depth. Those are judged by the *name*
//! of each key ([`Restricted::of_key`]): its local name (after a namespace prefix or IRI) is
//! cut into words (`customerName`, `customer_name`, `Customer-Name` are all `customer name`),
//! and a key is personal when it names a contact detail (phone, mobile, e-mail, address,
//! street, postcode, contact, birth date…) or the name of a person-like subject (customer,
//! consignee, recipient, buyer, patient…); commercial when it names a price, cost, amount,
//! discount, rebate, margin, revenue or fee; Chinese names likewise (电话, 地址, 价格…). Under a
//! person-like subject (`ex:consignee: {…}`) everything but its identifiers (`id`, `code`,
//! `gln`, `type`) is personal, and a subject's bare value in partner content is taken to be a
//! name (Threadline's own `fields.customer` holds a party code and stays). The rule errs on
//! the side of hiding: `costCentre` is masked too. A masked value, object or list reads `***`.

use serde::Serialize;
use serde_json::Value;

use crate::access::{Permission, Permissions};
use crate::event::Event;
use crate::master::{Contact, MasterRecord, Party, PartyKind};

/// What a masked field reads.
pub const MASKED: &str = "***";

/// Event fields (`fields`) that are a customer's personal data.
pub const PERSONAL_FIELDS: &[&str] = &[
    "ship_to_address",
    "customer_name",
    "customer_phone",
    "customer_email",
    "customer_address",
    "contact",
];

/// Event fields (`fields`) that are commercial.
pub const COMMERCIAL_FIELDS: &[&str] = &[
    "price",
    "unit_price",
    "total_price",
    "amount",
    "discount",
    "cost",
];

/// What a receiver may see of the restricted fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Visibility {
    pub personal: bool,
    pub commercial: bool,
}

impl Visibility {
    /// Everything: the data as stored.
    pub const ALL: Visibility = Visibility {
        personal: true,
        commercial: true,
    };
    /// Nothing restricted: for receivers that are no actor, such as webhook endpoints.
    pub const NONE: Visibility = Visibility {
        personal: false,
        commercial: false,
    };

    /// What an actor holding `p` may see.
    pub fn of(p: Permissions) -> Visibility {
        Visibility {
            personal: p.contains(Permission::ReadCustomerData),
            commercial: p.contains(Permission::ReadPrices),
        }
    }

    pub fn sees_all(self) -> bool {
        self.personal && self.commercial
    }
}

/// A value with restricted fields.
pub trait Mask {
    /// Replaces what `v` may not see with [`MASKED`]. Call through [`masked`].
    fn mask(&mut self, v: Visibility);
}

/// `value` as `v` may see it: the one function every output goes through.
pub fn masked<T: Mask>(mut value: T, v: Visibility) -> T {
    if !v.sees_all() {
        value.mask(v);
    }
    value
}

/// Replaces a present text with [`MASKED`].
pub fn mask_text(s: &mut Option<String>) {
    if let Some(s) = s {
        MASKED.clone_into(s);
    }
}

impl<T: Mask> Mask for Option<T> {
    fn mask(&mut self, v: Visibility) {
        if let Some(t) = self {
            t.mask(v);
        }
    }
}

impl<T: Mask> Mask for Vec<T> {
    fn mask(&mut self, v: Visibility) {
        for t in self {
            t.mask(v);
        }
    }
}

impl<T: Mask + ?Sized> Mask for Box<T> {
    fn mask(&mut self, v: Visibility) {
        (**self).mask(v);
    }
}

/// A contact is a person's: all of it is personal data.
impl Mask for Contact {
    fn mask(&mut self, v: Visibility) {
        if !v.personal {
            mask_text(&mut self.person);
            mask_text(&mut self.phone);
            mask_text(&mut self.email);
            mask_text(&mut self.address);
        }
    }
}

/// A customer's name and contact are personal data; a distributor's or supplier's are business
/// contacts and stay.
impl Mask for Party {
    fn mask(&mut self, v: Visibility) {
        if self.kind == PartyKind::Customer && !v.personal {
            MASKED.clone_into(&mut self.name);
            self.contact.mask(v);
        }
    }
}

/// Products and locations hold no restricted field.
impl Mask for crate::master::Product {
    fn mask(&mut self, _: Visibility) {}
}

impl Mask for crate::master::Location {
    fn mask(&mut self, _: Visibility) {}
}

impl Mask for MasterRecord {
    fn mask(&mut self, v: Visibility) {
        if let MasterRecord::Party(p) = self {
            p.mask(v);
        }
    }
}

impl Mask for crate::ledger::MasterChange {
    fn mask(&mut self, v: Visibility) {
        self.record.mask(v);
    }
}

/// Threadline's own event fields that hold a party code, though their name is a person-like
/// subject: identifiers, which stay.
const CODE_FIELDS: &[&str] = &["customer"];

impl Mask for Event {
    fn mask(&mut self, v: Visibility) {
        let mut changed = false;
        for (key, value) in &mut self.fields {
            if CODE_FIELDS.contains(&key.as_str()) && !value.is_object() && !value.is_array() {
                continue;
            }
            changed |= mask_entry(key, value, v, false);
        }
        if let Some(ilmd) = &mut self.ilmd {
            changed |= mask_map(&mut ilmd.attributes, v);
        }
        for (key, value) in &mut self.epcis {
            // Prefixes and their IRIs, not data.
            if key != "@context" {
                changed |= mask_json(value, v, false);
            }
        }
        if changed {
            // The CBV hash ID is a digest of the unmasked event: with the rest known, a price
            // or a phone number could be found by trying values against it.
            self.hash_id = None;
        }
    }
}

/// Masks the entries of a map of named values (custom attributes, free fields) that `v` may
/// not see, judged by their names; whether anything was masked.
pub fn mask_map(map: &mut std::collections::BTreeMap<String, Value>, v: Visibility) -> bool {
    let mut changed = false;
    for (key, value) in map {
        changed |= mask_entry(key, value, v, false);
    }
    changed
}

/// What a key's name says its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restricted {
    /// A customer's personal data.
    Personal,
    /// A price, cost or amount.
    Commercial,
    /// A person-like party (customer, consignee…): what is under it is personal, but for its
    /// identifiers.
    Subject,
    /// An identifier (`id`, `code`, `gln`, `type`): never masked under a subject.
    Identifier,
}

const PERSONAL_WORDS: &[&str] = &[
    "phone",
    "phones",
    "telephone",
    "tel",
    "mobile",
    "cellphone",
    "fax",
    "email",
    "mail",
    "address",
    "addresses",
    "addr",
    "street",
    "postcode",
    "postal",
    "zip",
    "contact",
    "contacts",
    "birth",
    "birthday",
    "birthdate",
    "dob",
];
const SUBJECT_WORDS: &[&str] = &[
    "customer",
    "customers",
    "consignee",
    "recipient",
    "receiver",
    "buyer",
    "purchaser",
    "patient",
    "person",
    "enduser",
];
const COMMERCIAL_WORDS: &[&str] = &[
    "price",
    "prices",
    "pricing",
    "cost",
    "costs",
    "amount",
    "amounts",
    "discount",
    "discounts",
    "rebate",
    "margin",
    "revenue",
    "subtotal",
    "fee",
    "fees",
];
const IDENTIFIER_WORDS: &[&str] = &["id", "code", "gln", "pgln", "type", "kind"];
const PERSONAL_CJK: &[&str] = &[
    "电话",
    "手机",
    "地址",
    "联系",
    "邮箱",
    "姓名",
    "客户名",
    "收货人",
    "身份证",
];
const COMMERCIAL_CJK: &[&str] = &["价", "金额", "成本", "折扣", "费用"];

impl Restricted {
    /// What the key `key` names: a plain key (`price`), a prefixed one (`example:unitPrice`)
    /// or a full IRI (`https://ns.example.com/epcis/customerName`); `None` for anything else.
    pub fn of_key(key: &str) -> Option<Restricted> {
        let local = key.rsplit([':', '/', '#']).next().unwrap_or(key);
        if PERSONAL_CJK.iter().any(|w| local.contains(w)) {
            return Some(Restricted::Personal);
        }
        if COMMERCIAL_CJK.iter().any(|w| local.contains(w)) {
            return Some(Restricted::Commercial);
        }
        let words = words(local);
        let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
        let subject =
            has(SUBJECT_WORDS) || words.windows(2).any(|w| w[0] == "end" && w[1] == "user");
        if has(PERSONAL_WORDS) || (subject && words.iter().any(|w| w == "name" || w == "names")) {
            return Some(Restricted::Personal);
        }
        if has(COMMERCIAL_WORDS) {
            return Some(Restricted::Commercial);
        }
        if words
            .last()
            .is_some_and(|w| IDENTIFIER_WORDS.contains(&w.as_str()))
        {
            return Some(Restricted::Identifier);
        }
        subject.then_some(Restricted::Subject)
    }
}

/// The lower-case words of a name: split at anything not a letter or digit and where a
/// lower-case letter or digit meets an upper-case one (`unitPrice` → `unit`, `price`).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Replaces a value with [`MASKED`]; `null` stays (absent stays absent). Whether it changed.
fn hide(value: &mut Value) -> bool {
    if value.is_null() || value.as_str() == Some(MASKED) {
        return false;
    }
    *value = Value::String(MASKED.to_owned());
    true
}

/// One named value: masked whole, masked but for its identifiers (under a subject), or
/// walked. `under_subject`: it sits inside a person-like party's data.
fn mask_entry(key: &str, value: &mut Value, v: Visibility, under_subject: bool) -> bool {
    match Restricted::of_key(key) {
        Some(Restricted::Personal) if !v.personal => hide(value),
        Some(Restricted::Commercial) if !v.commercial => hide(value),
        Some(Restricted::Identifier) => mask_json(value, v, false),
        Some(Restricted::Subject) if !v.personal => {
            if value.is_object() || value.is_array() {
                mask_json(value, v, true)
            } else {
                hide(value)
            }
        }
        _ if under_subject && !v.personal && !value.is_object() && !value.is_array() => hide(value),
        _ => mask_json(value, v, under_subject),
    }
}

/// Walks a JSON value and masks every named value in it that `v` may not see.
fn mask_json(value: &mut Value, v: Visibility, under_subject: bool) -> bool {
    let mut changed = false;
    match value {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                changed |= mask_entry(k, x, v, under_subject);
            }
        }
        Value::Array(a) => {
            for x in a {
                changed |= if under_subject && !v.personal && !x.is_object() && !x.is_array() {
                    hide(x)
                } else {
                    mask_json(x, v, under_subject)
                };
            }
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Role;

    fn customer() -> Party {
        serde_json::from_value(serde_json::json!({
            "code": "C-1", "name": "张三", "kind": "customer",
            "contact": {"person": "张三", "phone": "13800138000", "address": "深圳"}
        }))
        .unwrap()
    }

    #[test]
    fn a_customer_is_masked_for_roles_without_customer_data() {
        let p = masked(customer(), Visibility::of(Role::Warehouse.permissions()));
        assert_eq!(p.name, MASKED);
        let c = p.contact.unwrap();
        assert_eq!(c.phone.as_deref(), Some(MASKED));
        assert_eq!(c.person.as_deref(), Some(MASKED));
        assert_eq!(c.email, None, "an absent field stays absent");
        assert_eq!(p.code.as_str(), "C-1");
        let p = masked(customer(), Visibility::of(Role::Service.permissions()));
        assert_eq!(p, customer());
    }

    #[test]
    fn a_distributor_keeps_its_business_contact() {
        let mut d = customer();
        d.kind = PartyKind::Distributor;
        assert_eq!(masked(d.clone(), Visibility::NONE), d);
    }

    #[test]
    fn event_fields_are_masked_by_kind() {
        let mut e: Event = serde_json::from_value(serde_json::json!({
            "id": "0190a000-0000-7000-8000-000000000001", "type": "object", "action": "OBSERVE",
            "event_time": "2026-11-22T01:00:00Z", "event_time_zone_offset": "+08:00",
            "record_time": "2026-11-22T01:00:00Z", "actor": "x",
            "fields": {"price": 12.5, "ship_to_address": "深圳", "carrier": "SF"}
        }))
        .unwrap();
        let seen = masked(e.clone(), Visibility::of(Role::Service.permissions()));
        assert_eq!(seen.fields["price"], MASKED);
        assert_eq!(seen.fields["ship_to_address"], "深圳");
        assert_eq!(seen.fields["carrier"], "SF");
        e.mask(Visibility::NONE);
        assert_eq!(e.fields["ship_to_address"], MASKED);
        assert_eq!(e.fields["carrier"], "SF");
    }

    #[test]
    fn keys_are_judged_by_the_words_of_their_local_name() {
        use Restricted::*;
        for (key, kind) in [
            ("customerName", Some(Personal)),
            ("example:customer_name", Some(Personal)),
            (
                "https://ns.example.com/epcis/Customer-Phone",
                Some(Personal),
            ),
            ("ex:buyerPhone", Some(Personal)),
            ("eMail", Some(Personal)),
            ("ship_to_address", Some(Personal)),
            ("ex:收货人", Some(Personal)),
            ("ex:联系电话", Some(Personal)),
            ("unitPrice", Some(Commercial)),
            ("ex:TOTAL_AMOUNT", Some(Commercial)),
            ("单价", Some(Commercial)),
            ("ex:consignee", Some(Subject)),
            ("customer", Some(Subject)),
            ("ex:customerId", Some(Identifier)),
            ("transformationID", Some(Identifier)),
            ("ship_to_region", None),
            ("hotelName", None),
            ("tracking_number", None),
            ("ex:temp", None),
        ] {
            assert_eq!(Restricted::of_key(key), kind, "{key}");
        }
        for f in PERSONAL_FIELDS {
            assert_eq!(Restricted::of_key(f), Some(Personal), "{f}");
        }
        for f in COMMERCIAL_FIELDS {
            assert_eq!(Restricted::of_key(f), Some(Commercial), "{f}");
        }
    }

    #[test]
    fn partner_content_is_masked_at_any_depth_but_for_identifiers() {
        let mut e: Event = serde_json::from_value(serde_json::json!({
            "id": "0190a000-0000-7000-8000-000000000001", "type": "object", "action": "ADD",
            "event_time": "2026-11-22T01:00:00Z", "event_time_zone_offset": "+08:00",
            "record_time": "2026-11-22T01:00:00Z", "actor": "x", "hash_id": "ni:///sha-256;x",
            "ilmd": {"customer_name": "王五", "color": "blue"},
            "fields": {"customer": "C-1", "terms": {"discount": 5, "incoterm": "FOB"}},
            "epcis": {
                "@context": {"ex": "https://ns.example.com/epcis/"},
                "extensions": {"ex:consignee": {"ex:id": "C-77", "ex:name": "李四",
                    "ex:phones": ["1", "2"]}, "ex:temp": 4.5, "ex:recipient": "张三"},
                "ilmd": {"ex:grade": "A", "ex:unitPrice": {"value": 3}}
            }
        }))
        .unwrap();
        let whole = e.clone();
        assert_eq!(masked(e.clone(), Visibility::ALL), whole);
        e.mask(Visibility::NONE);
        let ilmd = e.ilmd.as_ref().unwrap();
        assert_eq!(ilmd.attributes["customer_name"], MASKED);
        assert_eq!(ilmd.attributes["color"], "blue");
        assert_eq!(e.fields["customer"], "C-1", "a party code stays");
        assert_eq!(e.fields["terms"]["discount"], MASKED);
        assert_eq!(e.fields["terms"]["incoterm"], "FOB");
        let ext = &e.epcis["extensions"];
        assert_eq!(ext["ex:consignee"]["ex:id"], "C-77");
        assert_eq!(ext["ex:consignee"]["ex:name"], MASKED);
        assert_eq!(ext["ex:consignee"]["ex:phones"], MASKED);
        assert_eq!(ext["ex:recipient"], MASKED);
        assert_eq!(ext["ex:temp"], 4.5);
        assert_eq!(e.epcis["ilmd"]["ex:grade"], "A");
        assert_eq!(e.epcis["ilmd"]["ex:unitPrice"], MASKED);
        assert_eq!(e.epcis["@context"], whole.epcis["@context"]);
        assert_eq!(e.hash_id, None, "a digest of what was masked is withheld");
    }
}
