//! The audit trail: who changed what, when, from where, and what it was before.
//!
//! Every write through the server — events, master data, configuration, users, tokens, sessions
//! — and every failed sign-in or lockout becomes one [`AuditRecord`]. Records are chained like
//! ledger entries (same [`chain_hash`](crate::ledger::chain_hash) over the stored body text, in
//! their own sequence), so `threadline verify` detects a changed, removed or reordered record.
//!
//! A record never holds a secret: no password, hash, token secret or session id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An electronic signature given for an operation: the signer re-entered their password and
/// stated what the signature means (21 CFR Part 11 §11.50).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Signature {
    /// The user who signed (re-authenticated).
    pub signer: String,
    /// What the signature means: `approval`, `release`, `responsibility`, ….
    pub meaning: String,
    pub signed_at: DateTime<Utc>,
}

/// One audit record, as its body is stored and hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditRecord {
    pub id: Uuid,
    /// Server time.
    pub recorded_at: DateTime<Utc>,
    /// The user (`li.na`) or token (`token:erp`) acting; for a failed sign-in, the name that
    /// was tried; `None` for an anonymous caller.
    pub actor: Option<String>,
    /// The client's network address, when the server knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What was done: `POST /api/v1/products`, `sign_in_failed`, `account_locked`, ….
    pub action: String,
    /// What it was done to, as a path: `products/TC-200`, `users/li.na`, `events/<id>`.
    pub object: String,
    /// The HTTP status of the answer (a refusal is recorded as well as a change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The value before the change, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    /// The value after, or what was recorded (event ids, the new version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// Why, where the operation takes a reason (a correction, a recall closure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl AuditRecord {
    /// The body text that is stored and hashed.
    pub fn body(&self) -> String {
        // Serialising this type cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_survives_its_body() {
        let r = AuditRecord {
            id: Uuid::nil(),
            recorded_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            actor: Some("li.na".into()),
            address: Some("192.0.2.7".into()),
            action: "PUT /api/v1/products/{code}".into(),
            object: "products/TC-200".into(),
            status: Some(200),
            before: Some(serde_json::json!({"name": "old"})),
            after: Some(serde_json::json!({"name": "new"})),
            reason: None,
            signature: None,
        };
        assert_eq!(AuditRecord::from_body(&r.body()).ok(), Some(r.clone()));
        assert!(!r.body().contains("reason"), "absent fields are left out");
    }
}
