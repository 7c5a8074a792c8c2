//! The one error shape every boundary speaks: a machine code, a sentence for a person, and the
//! field (a JSON path such as `events[3].items[0].serial`) the sentence is about.

use serde::Serialize;

/// Why a value or a request was refused. `code` is stable and meant for programs; `message` is
/// for the person holding the scanner and names the offending value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Prefixes the field path, so an error found inside `items[0]` becomes `events[2].items[0]`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field.take() {
            None => prefix.to_owned(),
            Some(f) if f.starts_with('[') => format!("{prefix}{f}"),
            Some(f) => format!("{prefix}.{f}"),
        });
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FieldError {}

/// Every problem found in one request. A request is refused if this is non-empty, and all of
/// it is reported at once so a clerk fixes a pallet of scans in one pass.
pub type Violations = Vec<FieldError>;
