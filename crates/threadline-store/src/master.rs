//! Rules for master-data writes that need the current state; shared by every engine so they
//! cannot disagree.

use threadline_domain::error::{FieldError, Violations};
use threadline_domain::master::{Location, LocationKind, MasterRecord, Party, PartyKind};

use crate::StoreError;

/// What a master write needs to know about the records it references.
pub trait MasterLookup {
    fn location_kind(&mut self, code: &str) -> crate::Result<Option<LocationKind>>;
    fn party_kind(&mut self, code: &str) -> crate::Result<Option<PartyKind>>;
    /// The code of the product that already holds this GTIN, if any.
    fn gtin_owner(&mut self, gtin: &str) -> crate::Result<Option<String>>;
    /// Whether a serial rule with this code is stored.
    fn serial_rule_exists(&mut self, code: &str) -> crate::Result<bool>;
    /// The code of the serial rule a product category is assigned to, if any.
    fn category_rule(&mut self, category: &str) -> crate::Result<Option<String>>;
}

/// The stored rule code a product names in `serial_rule` (a string), if it names one.
pub fn rule_reference(product: &threadline_domain::master::Product) -> Option<&str> {
    product
        .serial_rule
        .as_ref()
        .and_then(serde_json::Value::as_str)
}

/// Checks a record's own rules and its references.
pub fn check(record: &MasterRecord, lookup: &mut dyn MasterLookup) -> crate::Result<()> {
    let mut v: Violations = match record {
        MasterRecord::Product(p) => p.check(),
        MasterRecord::Party(p) => p.check(),
        MasterRecord::Location(l) => l.check(),
        MasterRecord::Process(p) => p.check(),
        MasterRecord::SerialRule(r) => r.check(),
    };
    match record {
        MasterRecord::Product(p) => {
            if let Some(code) = rule_reference(p) {
                if !lookup.serial_rule_exists(code)? {
                    v.push(
                        FieldError::new(
                            "unknown_serial_rule",
                            format!("serial rule {code} does not exist; create it first"),
                        )
                        .at("serial_rule"),
                    );
                }
            } else if let Some(rule) = &p.serial_rule
                && let Err(e) =
                    serde_json::from_value::<threadline_serial::SerialRule>(rule.clone())
            {
                v.push(
                    FieldError::new(
                        "invalid_serial_rule",
                        format!("serial rule of product {}: {e}", p.code),
                    )
                    .at("serial_rule"),
                );
            }
            if let Some(g) = &p.gtin
                && let Some(owner) = lookup.gtin_owner(g.as_str())?
                && owner != p.code.as_str()
            {
                return Err(StoreError::Conflict(
                    FieldError::new(
                        "duplicate_gtin",
                        format!("GTIN {g} already belongs to product {owner}"),
                    )
                    .at("gtin"),
                ));
            }
        }
        MasterRecord::Party(p) => check_party(p, lookup, &mut v)?,
        MasterRecord::Location(l) => check_location(l, lookup, &mut v)?,
        MasterRecord::Process(_) => {}
        MasterRecord::SerialRule(r) => check_serial_rule(r, lookup, &mut v)?,
    }
    if v.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(v))
    }
}

fn check_party(p: &Party, lookup: &mut dyn MasterLookup, v: &mut Violations) -> crate::Result<()> {
    if let Some(parent) = &p.parent {
        match lookup.party_kind(parent.as_str())? {
            None => v.push(
                FieldError::new("unknown_party", format!("party {parent} does not exist"))
                    .at("parent"),
            ),
            Some(PartyKind::Distributor) => {}
            Some(_) => v.push(
                FieldError::new(
                    "invalid_parent",
                    format!("party {parent} is not a distributor"),
                )
                .at("parent"),
            ),
        }
    }
    Ok(())
}

/// A stored rule must parse (each problem named under `rule.…`), and each of its categories
/// may belong to no other rule.
fn check_serial_rule(
    r: &threadline_domain::master::SerialRuleDef,
    lookup: &mut dyn MasterLookup,
    v: &mut Violations,
) -> crate::Result<()> {
    match serde_json::from_value::<threadline_serial::RuleSpec>(r.rule.clone()) {
        Err(e) => {
            v.push(FieldError::new("invalid_serial_rule", format!("serial rule: {e}")).at("rule"))
        }
        Ok(spec) => {
            if let Err(e) = threadline_serial::SerialRule::new(spec) {
                v.push(e.within("rule"));
            }
        }
    }
    for (i, category) in r.categories.iter().enumerate() {
        if let Some(owner) = lookup.category_rule(category)?
            && owner != r.code()
        {
            return Err(StoreError::Conflict(
                FieldError::new(
                    "category_taken",
                    format!("category {category} already takes serial rule {owner}"),
                )
                .at(format!("categories[{i}]")),
            ));
        }
    }
    Ok(())
}

fn check_location(
    l: &Location,
    lookup: &mut dyn MasterLookup,
    v: &mut Violations,
) -> crate::Result<()> {
    if let Some(parent) = &l.parent {
        match lookup.location_kind(parent.as_str())? {
            None => v.push(
                FieldError::new(
                    "unknown_location",
                    format!("location {parent} does not exist"),
                )
                .at("parent"),
            ),
            Some(k) if !l.kind.allowed_parents().contains(&k) => v.push(
                FieldError::new(
                    "invalid_parent",
                    format!(
                        "a {} cannot be inside a {} ({parent})",
                        l.kind.as_str(),
                        k.as_str()
                    ),
                )
                .at("parent"),
            ),
            Some(_) => {}
        }
    }
    if let Some(party) = &l.party
        && lookup.party_kind(party.as_str())?.is_none()
    {
        v.push(
            FieldError::new("unknown_party", format!("party {party} does not exist")).at("party"),
        );
    }
    Ok(())
}

/// The version a master write gets, given the current version and stored definition of the
/// record (if any): a create refuses an existing code, a change must name the current version,
/// and a product's tracking mode never changes.
/// Is `e` the refusal of creating a master record whose code exists ([`next_version`])?
pub fn already_exists(e: &StoreError) -> bool {
    matches!(e, StoreError::Invalid(v) if v.iter().any(|f| f.code == "already_exists"))
}

pub fn next_version(w: &crate::MasterWrite, current: Option<(u32, &str)>) -> crate::Result<u32> {
    let code = w.record.code();
    let kind = w.record.kind();
    match (w.replaces, current) {
        (None, Some(_)) => Err(StoreError::Invalid(vec![
            FieldError::new("already_exists", format!("{kind} {code} already exists")).at("code"),
        ])),
        (None, None) => Ok(1),
        (Some(_), None) => Err(StoreError::NotFound(format!("{kind} {code}"))),
        (Some(v), Some((cur, _))) if v != cur => Err(StoreError::Invalid(vec![
            FieldError::new(
                "version_conflict",
                format!("{kind} {code} is at version {cur}, not {v}; reload it and apply your change again"),
            )
            .at("version"),
        ])),
        (Some(v), Some((_, def))) => {
            if let MasterRecord::Product(p) = &w.record {
                let old: threadline_domain::master::Product =
                    serde_json::from_str(def).map_err(|e| StoreError::Schema(e.to_string()))?;
                if old.tracking != p.tracking {
                    return Err(StoreError::Invalid(vec![
                        FieldError::new(
                            "immutable_field",
                            format!("product {code} is tracked by {}; its tracking mode cannot change", old.tracking.as_str()),
                        )
                        .at("tracking"),
                    ]));
                }
            }
            Ok(v + 1)
        }
    }
}
