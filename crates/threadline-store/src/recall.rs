//! Recall campaigns as stored: the decision and the units and lots it covered. Not ledger
//! entries (the holds a campaign places are); see ARCHITECTURE.md, "Decisions".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::projection::Node;

/// A recall campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recall {
    pub code: String,
    pub reason: String,
    /// `critical`, `major` or `minor`.
    pub severity: String,
    /// The checked trace scope the campaign was created from, as JSON.
    pub scope: serde_json::Value,
    /// The ledger position once its holds were recorded: later events tell its progress.
    pub opened_seq: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_note: Option<String>,
}

/// A unit or lot a campaign covers, in trace order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecallMember {
    pub node: Node,
    pub depth: u32,
    /// This campaign placed a recall hold on it (it was in our hands).
    pub held: bool,
    /// The narrowing (its number) that took it out of the campaign; `None` while covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<u32>,
}

/// One narrowing of a campaign's scope: who, when, why, to what, and what it took out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecallNarrowing {
    /// 1 for the first narrowing of the campaign, then 2, …
    pub n: u32,
    pub at: DateTime<Utc>,
    pub by: String,
    pub reason: String,
    /// The checked narrower scope, as JSON: the campaign now covers what it covered before
    /// and this scope also reaches.
    pub scope: serde_json::Value,
    pub removed_units: usize,
    pub removed_lots: usize,
    /// Recall holds this narrowing released (units and lots no other open campaign covers).
    pub released: usize,
}

/// Storage columns of a member: type (`i`/`l`), product, serial or lot.
pub fn member_columns(n: &Node) -> (&'static str, &str, &str) {
    match n {
        Node::Item(k) => ("i", k.product.as_str(), k.serial.as_str()),
        Node::Lot(k) => ("l", k.product.as_str(), k.lot.as_str()),
    }
}

/// A member from its storage columns.
pub fn member_of(
    t: &str,
    product: &str,
    code: &str,
    depth: i64,
    held: bool,
    removed_by: Option<i64>,
) -> crate::Result<RecallMember> {
    let small = |v: i64| u32::try_from(v).map_err(|e| crate::StoreError::Schema(e.to_string()));
    Ok(RecallMember {
        node: crate::node_of(
            t,
            threadline_domain::ProductCode::parse(product)
                .map_err(|e| crate::StoreError::Schema(e.message))?,
            code,
        )?,
        depth: small(depth)?,
        held,
        removed_by: removed_by.map(small).transpose()?,
    })
}

/// The refusal for changing a closed campaign.
pub fn closed(code: &str) -> crate::StoreError {
    crate::StoreError::Invalid(vec![
        threadline_domain::FieldError::new(
            "recall_closed",
            format!("recall {code} is closed; open a new campaign instead"),
        )
        .at("code"),
    ])
}

/// The refusal for a campaign code already taken.
pub fn code_taken(code: &str) -> crate::StoreError {
    crate::StoreError::Conflict(
        threadline_domain::FieldError::new(
            "already_exists",
            format!("recall {code} already exists"),
        )
        .at("code"),
    )
}

/// The refusal for closing a closed campaign.
pub fn already_closed(code: &str) -> crate::StoreError {
    crate::StoreError::Invalid(vec![threadline_domain::FieldError::new(
        "already_closed",
        format!("recall {code} is already closed"),
    )])
}
