//! Authenticity checks (防伪): every time a code is checked from outside (a consumer's phone, a
//! customs officer, a distributor's counter), what was scanned, where, and the verdict. Plain
//! rows beside the ledger — a check changes no unit — read back to judge the next check (how
//! often and in how many regions a code has been checked) and listed for the dashboards.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One check as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthenticityCheck {
    /// The check's number, once recorded (absent on a check about to be recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub at: DateTime<Utc>,
    /// What was scanned, as sent (at most 512 characters).
    pub code: String,
    /// The unit it named, when it named a registered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Where the check was made (e.g. `CN-SH`), as the caller says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Through what (e.g. `wechat`, `customs`), as the caller says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `genuine`, `suspicious`, `unknown` or `not_ours`.
    pub verdict: String,
    /// The reason codes behind a `suspicious` verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Who asked (the API token or user).
    pub actor: String,
}

/// What earlier checks of one unit say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CheckHistory {
    pub checks: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_at: Option<DateTime<Utc>>,
    /// The distinct regions it was checked in, sorted.
    pub regions: Vec<String>,
}

/// Which checks to list: a window, and optionally only some verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Empty: every verdict.
    pub verdicts: Vec<String>,
    pub limit: u32,
}

/// The stored form of a check's reasons (comma-separated codes).
pub fn reasons_column(reasons: &[String]) -> String {
    reasons.join(",")
}

pub fn reasons_of_column(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

impl AuthenticityCheck {
    /// A check a counterfeit watcher wants to hear of: judged `suspicious`, or naming a code of
    /// ours that we never issued (`unknown`).
    pub fn is_alert(&self) -> bool {
        matches!(self.verdict.as_str(), "suspicious" | "unknown")
    }
}
