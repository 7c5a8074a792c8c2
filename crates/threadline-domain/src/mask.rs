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

use serde::Serialize;

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

impl Mask for Event {
    fn mask(&mut self, v: Visibility) {
        for (key, value) in &mut self.fields {
            let hidden = (!v.personal && PERSONAL_FIELDS.contains(&key.as_str()))
                || (!v.commercial && COMMERCIAL_FIELDS.contains(&key.as_str()));
            if hidden {
                *value = serde_json::Value::String(MASKED.to_owned());
            }
        }
    }
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
}
