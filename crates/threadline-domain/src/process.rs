//! The process definition: which business operation is allowed in which unit state, and which
//! fields an operation must carry for which products. It is data — a default ships, and a plant
//! can replace it — so "may this unit be shipped now?" is configuration, not code.
//!
//! The projection consults it at the moment of the scan ([`crate::projection::Slice::apply`]);
//! replaying the ledger (`rebuild`) does not, because events that were accepted stay accepted
//! even if the rules change later.

use serde::{Deserialize, Serialize};

use crate::error::{FieldError, Violations};
use crate::event::{Action, Event, EventKind};
use crate::projection::ItemStatus;

/// The business operation an event performs, read from its type, action, step and disposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Commission,
    Receive,
    Assemble,
    Disassemble,
    Transform,
    Inspect,
    Store,
    Ship,
    Sell,
    Return,
    Repair,
    Scrap,
    Hold,
    Observe,
}

impl Operation {
    pub fn of(ev: &Event) -> Operation {
        let step = ev.biz_step.as_ref().map(|s| s.as_str()).unwrap_or("");
        let disposition = ev.disposition.as_ref().map(|d| d.as_str()).unwrap_or("");
        if ev.hold.is_some() {
            return Operation::Hold;
        }
        match (ev.kind, ev.action) {
            (EventKind::Object, Some(Action::Add)) if step == "receiving" => Operation::Receive,
            (EventKind::Object, Some(Action::Add)) => Operation::Commission,
            (EventKind::Object, Some(Action::Delete)) => Operation::Scrap,
            (EventKind::Aggregation | EventKind::Association, Some(Action::Add)) => {
                Operation::Assemble
            }
            (EventKind::Aggregation | EventKind::Association, Some(Action::Delete)) => {
                Operation::Disassemble
            }
            (EventKind::Transformation, _) => Operation::Transform,
            (EventKind::Object, _) => match (step, disposition) {
                (_, "returned") => Operation::Return,
                ("retail_selling", _) | (_, "retail_sold") => Operation::Sell,
                ("shipping" | "departing", _) => Operation::Ship,
                ("repairing", _) => Operation::Repair,
                ("inspecting", _) => Operation::Inspect,
                ("receiving" | "accepting" | "arriving", _) => Operation::Receive,
                (
                    "storing" | "stocking" | "picking" | "loading" | "unloading"
                    | "staging_outbound",
                    _,
                ) => Operation::Store,
                _ => Operation::Observe,
            },
            _ => Operation::Observe,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Commission => "commission",
            Operation::Receive => "receive",
            Operation::Assemble => "assemble",
            Operation::Disassemble => "disassemble",
            Operation::Transform => "transform",
            Operation::Inspect => "inspect",
            Operation::Store => "store",
            Operation::Ship => "ship",
            Operation::Sell => "sell",
            Operation::Return => "return",
            Operation::Repair => "repair",
            Operation::Scrap => "scrap",
            Operation::Hold => "hold",
            Operation::Observe => "observe",
        }
    }

    /// Words a clerk reads in an error ("shipping needs it in stock").
    pub fn gerund(self) -> &'static str {
        match self {
            Operation::Commission => "commissioning",
            Operation::Receive => "receiving",
            Operation::Assemble => "assembling",
            Operation::Disassemble => "disassembling",
            Operation::Transform => "using",
            Operation::Inspect => "inspecting",
            Operation::Store => "moving",
            Operation::Ship => "shipping",
            Operation::Sell => "selling",
            Operation::Return => "returning",
            Operation::Repair => "repairing",
            Operation::Scrap => "scrapping",
            Operation::Hold => "holding",
            Operation::Observe => "recording",
        }
    }
}

/// Which unit states an operation accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRule {
    pub operation: Operation,
    /// The states a unit may be in; empty means any state a unit can still take steps in.
    #[serde(default)]
    pub from: Vec<ItemStatus>,
    /// Refuse units that carry any hold (QC, recall, admin).
    #[serde(default)]
    pub refuse_held: bool,
    /// The state the operation leaves its units in; absent, the event's disposition decides
    /// (`StatusRules`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ItemStatus>,
}

/// Fields an operation must carry for some products (e.g. medical devices: inspector and
/// equipment on every inspection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    pub operation: Operation,
    /// Applies to products of this category; to all products if absent.
    #[serde(default)]
    pub category: Option<String>,
    /// Names of `fields` entries that must be present and not null.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Process {
    #[serde(default)]
    pub steps: Vec<StepRule>,
    #[serde(default)]
    pub required_fields: Vec<FieldRule>,
    /// The plant's time zone, an IANA name such as `Asia/Shanghai`: the pages show dates and
    /// times there and the dashboards cut days there. `Asia/Shanghai` if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl Default for Process {
    /// The process that ships: a unit is shipped from stock once, sold from stock or transit,
    /// returned after it left us, repaired after it came back, and nothing on hold is shipped,
    /// sold or built into something else.
    fn default() -> Self {
        use ItemStatus::*;
        let rule = |operation, from: &[ItemStatus], refuse_held| StepRule {
            operation,
            from: from.to_vec(),
            refuse_held,
            to: None,
        };
        Process {
            steps: vec![
                rule(Operation::Ship, &[InStock], true),
                rule(Operation::Sell, &[InStock, InTransit], true),
                rule(
                    Operation::Assemble,
                    &[InProduction, InStock, Returned, InRepair],
                    true,
                ),
                rule(
                    Operation::Store,
                    &[InProduction, InStock, Returned, InRepair],
                    false,
                ),
                rule(Operation::Receive, &[Unassigned, InTransit, InStock], false),
                rule(Operation::Return, &[Sold, InTransit, InStock], false),
                rule(Operation::Repair, &[Returned, InRepair, InStock], false),
            ],
            required_fields: Vec::new(),
            time_zone: None,
        }
    }
}

/// The code under which the process definition is kept in the ledger: a plant has one.
pub const PROCESS_CODE: &str = "default";

impl Process {
    pub fn rule(&self, op: Operation) -> Option<&StepRule> {
        self.steps.iter().find(|r| r.operation == op)
    }

    /// The rules the JSON shape cannot express: one rule per operation, named fields.
    pub fn check(&self) -> Violations {
        let mut out = Violations::new();
        let mut seen = std::collections::HashSet::new();
        for (i, r) in self.steps.iter().enumerate() {
            if !seen.insert(r.operation) {
                out.push(
                    FieldError::new(
                        "duplicate_rule",
                        format!(
                            "operation {} has more than one step rule",
                            r.operation.as_str()
                        ),
                    )
                    .at(format!("steps[{i}].operation")),
                );
            }
        }
        for (i, r) in self.steps.iter().enumerate() {
            if let Some(to) = r.to
                && matches!(
                    to,
                    ItemStatus::Unassigned
                        | ItemStatus::Printed
                        | ItemStatus::Consumed
                        | ItemStatus::Voided
                )
            {
                out.push(
                    FieldError::new(
                        "invalid_state",
                        format!(
                            "no operation can leave units {}: only allocation, printing, transformation and voiding do",
                            to.as_str().replace('_', " ")
                        ),
                    )
                    .at(format!("steps[{i}].to")),
                );
            }
        }
        for (i, f) in self.required_fields.iter().enumerate() {
            if f.category.as_ref().is_some_and(|c| c.trim().is_empty()) {
                out.push(
                    FieldError::new("empty", "a category must not be empty")
                        .at(format!("required_fields[{i}].category")),
                );
            }
            if f.fields.is_empty() {
                out.push(
                    FieldError::new("required", "name at least one field")
                        .at(format!("required_fields[{i}].fields")),
                );
            }
            for (j, name) in f.fields.iter().enumerate() {
                if name.is_empty() || name.len() > 128 {
                    out.push(
                        FieldError::new(
                            "invalid_field_name",
                            format!("field name `{name}` must be 1–128 characters"),
                        )
                        .at(format!("required_fields[{i}].fields[{j}]")),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_process_round_trips_as_data() {
        let p = Process::default();
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains("\"operation\":\"ship\""));
        assert_eq!(serde_json::from_str::<Process>(&text).unwrap(), p);
        assert!(serde_json::from_str::<Process>(r#"{"steps": [{"operation": "fly"}]}"#).is_err());
    }
}

#[cfg(test)]
mod required_fields {
    use super::*;
    use crate::event::{CaptureContext, EventRequest};
    use crate::master::Product;
    use crate::projection::{DiscrepancyKind, ItemState, Slice, StatusRules};

    fn inspect(fields: serde_json::Value) -> Event {
        let req: EventRequest = serde_json::from_value(serde_json::json!({
            "type": "object", "action": "OBSERVE", "event_time": "2026-01-01T08:00:00+08:00", "biz_step": "inspecting",
            "items": [{"product": "PUMP", "serial": "P1"}], "fields": fields}))
        .unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        Event::from_request(
            req,
            &CaptureContext {
                actor: "t".into(),
                now,
            },
            uuid::Uuid::now_v7(),
        )
        .unwrap()
    }

    #[test]
    fn a_plant_can_require_fields_per_product_category() {
        let mut slice = Slice::default();
        let product: Product = serde_json::from_value(serde_json::json!({"code": "PUMP", "name": "Infusion pump", "tracking": "serial", "category": "medical"})).unwrap();
        slice.products.insert(product.code.clone(), product);
        let key: crate::ItemKey =
            serde_json::from_value(serde_json::json!({"product": "PUMP", "serial": "P1"})).unwrap();
        slice.items.insert(
            key,
            Some(ItemState {
                status: ItemStatus::InStock,
                holds: 0,
                location: None,
                custodian: None,
                lot: None,
                parent: None,
                attributes: Default::default(),
            }),
        );
        slice.process.required_fields.push(FieldRule {
            operation: Operation::Inspect,
            category: Some("medical".into()),
            fields: vec!["inspector".into(), "equipment".into()],
        });

        let v = slice
            .apply(
                &inspect(serde_json::json!({"inspector": "Zhao"})),
                &StatusRules,
            )
            .unwrap_err();
        assert_eq!(
            (v[0].code, v[0].field.as_deref()),
            ("missing_field", Some("fields.equipment"))
        );
        assert!(
            slice
                .apply(
                    &inspect(serde_json::json!({"inspector": "Zhao", "equipment": "ATE-07"})),
                    &StatusRules
                )
                .is_ok()
        );
        // Replaying the ledger does not ask again.
        slice.replay = true;
        assert!(
            slice
                .apply(&inspect(serde_json::json!({})), &StatusRules)
                .is_ok()
        );
    }

    #[test]
    fn a_partners_event_past_a_required_field_keeps_the_discrepancy_in_its_body() {
        let mut slice = Slice::default();
        let product: Product = serde_json::from_value(
            serde_json::json!({"code": "PUMP", "name": "Infusion pump", "tracking": "serial"}),
        )
        .unwrap();
        slice.products.insert(product.code.clone(), product);
        let key: crate::ItemKey =
            serde_json::from_value(serde_json::json!({"product": "PUMP", "serial": "P1"})).unwrap();
        let unit = ItemState {
            status: ItemStatus::InStock,
            holds: 0,
            location: None,
            custodian: None,
            lot: None,
            parent: None,
            attributes: Default::default(),
        };
        slice.items.insert(key.clone(), Some(unit.clone()));
        slice.process.required_fields.push(FieldRule {
            operation: Operation::Inspect,
            category: None,
            fields: vec!["inspector".into()],
        });
        let mut reported = inspect(serde_json::json!({}));
        reported.epcis_capture = true;
        slice.apply(&reported, &StatusRules).unwrap();
        let found: Vec<(&str, &str, DiscrepancyKind)> = slice
            .discrepancies
            .iter()
            .map(|(_, d)| (d.code.as_str(), d.field.as_str(), d.kind))
            .collect();
        assert_eq!(
            found,
            [("missing_field", "tlf:inspector", DiscrepancyKind::Process)]
        );
        let mut events = vec![reported.clone()];
        slice.stamp_process_discrepancies(&mut events);
        assert_eq!(events[0].process_discrepancies.len(), 1);
        // The body carries it; the EPCIS form does not change.
        let body = crate::ledger::EntryRef::Event(&events[0]).body();
        assert!(body.contains("\"process_discrepancies\""), "{body}");

        // A replay under a process that requires nothing reads it back from the body, and
        // never computes one the body lacks.
        let mut replay = Slice::default();
        replay.replay = true;
        replay.products = slice.products.clone();
        replay.items.insert(key, Some(unit));
        let read = crate::ledger::event_from_body(&body).unwrap();
        replay.apply(&read, &StatusRules).unwrap();
        assert_eq!(replay.discrepancies, slice.discrepancies);
        assert!(replay.process_discrepancies().is_empty());
        let mut older = reported;
        older.id = uuid::Uuid::now_v7();
        replay.discrepancies.clear();
        replay.apply(&older, &StatusRules).unwrap();
        assert!(replay.discrepancies.is_empty());
    }
}
