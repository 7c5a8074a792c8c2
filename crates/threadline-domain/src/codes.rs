//! Identifiers that arrive from outside: product, party and location codes, serial numbers and
//! lot codes. Each is parsed once at the edge and trusted afterwards.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Longest serial or lot accepted. GS1 AI (21) and (10) allow 20; legacy and supplier serials
/// are often longer, so the store allows more and the GS1 layer checks its own limit.
pub const MAX_SERIAL_LEN: usize = 64;
pub const MAX_CODE_LEN: usize = 64;

fn check_code(kind: &str, s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(
            "empty",
            format!("{kind} must not be empty"),
        ));
    }
    if s.len() > MAX_CODE_LEN {
        return Err(FieldError::new(
            "too_long",
            format!("{kind} `{s}` is longer than {MAX_CODE_LEN} characters"),
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(FieldError::new(
            "invalid_character",
            format!("{kind} `{s}` contains `{c}`; use letters, digits, `-`, `_` and `.`"),
        ));
    }
    Ok(())
}

fn check_serial(kind: &str, s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(
            "empty",
            format!("{kind} must not be empty"),
        ));
    }
    if s.chars().count() > MAX_SERIAL_LEN {
        return Err(FieldError::new(
            "too_long",
            format!("{kind} `{s}` is longer than {MAX_SERIAL_LEN} characters"),
        ));
    }
    if s.trim() != s {
        return Err(FieldError::new(
            "invalid_character",
            format!("{kind} `{s}` starts or ends with white space"),
        ));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(FieldError::new(
            "invalid_character",
            format!("{kind} `{}` contains a control character", s.escape_debug()),
        ));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                $check($kind, s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                $check($kind, &s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// A product's code, e.g. `PJC-200`. Appears in URLs, so it is restricted to URL-safe text.
    ProductCode, "product code", check_code);
text_newtype!(
    /// A supplier, customer or distributor code.
    PartyCode, "party code", check_code);
text_newtype!(
    /// A site, area, line, bin or external location code.
    LocationCode, "location code", check_code);
text_newtype!(
    /// A serial number as printed on the unit; any printable text, because supplier and legacy
    /// serials arrive in every shape.
    Serial, "serial", check_serial);
text_newtype!(
    /// A batch/lot code.
    LotCode, "lot code", check_serial);

/// One serialized unit: unique per product.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ItemKey {
    pub product: ProductCode,
    pub serial: Serial,
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.product, self.serial)
    }
}

/// One batch of a product.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct LotKey {
    pub product: ProductCode,
    pub lot: LotCode,
}

impl std::fmt::Display for LotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} lot {}", self.product, self.lot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_refuse_what_cannot_go_in_a_url() {
        assert!(ProductCode::parse("PJC-200_v1.2").is_ok());
        assert_eq!(ProductCode::parse("").unwrap_err().code, "empty");
        assert_eq!(
            ProductCode::parse("a b").unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            ProductCode::parse("a/b").unwrap_err().code,
            "invalid_character"
        );
        assert_eq!(
            ProductCode::parse(&"x".repeat(65)).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn serials_take_supplier_shapes_but_not_control_characters() {
        assert!(Serial::parse("SN 0001/ä").is_ok());
        assert_eq!(Serial::parse(" SN").unwrap_err().code, "invalid_character");
        assert_eq!(
            Serial::parse("SN\u{1d}21").unwrap_err().code,
            "invalid_character"
        );
        assert!(serde_json::from_str::<Serial>("\"\"").is_err());
    }
}
