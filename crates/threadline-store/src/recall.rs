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
) -> crate::Result<RecallMember> {
    Ok(RecallMember {
        node: crate::node_of(t, product, code)?,
        depth: u32::try_from(depth).map_err(|e| crate::StoreError::Schema(e.to_string()))?,
        held,
    })
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
