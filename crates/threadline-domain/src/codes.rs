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
        // The text is shared, not copied, when the value is cloned: a unit's key is held by the
        // event, the projection's maps and the store's row ids at once (a block allocates
        // 100,000 of them). Serialised and read as a plain JSON string. (Not in the item's
        // documentation, which the API's schema shows.)
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, schemars::JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                $check($kind, s)?;
                Ok(Self(s.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                $check($kind, &s)?;
                Ok(Self(s.into()))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0.as_ref().to_owned()
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

        // By hand rather than through `String` (`try_from`/`into`, which the schema still
        // reads): written without a copy, read with one allocation; the same JSON and the same
        // errors.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_string(TextVisitor(|s: &str| $check($kind, s)))
                    .map(Self)
            }
        }
    };
}

/// Reads a JSON string into shared text, checked as `String`'s `TryFrom` checks it.
struct TextVisitor<F>(F);

impl<F: Fn(&str) -> Result<(), FieldError>> serde::de::Visitor<'_> for TextVisitor<F> {
    type Value = std::sync::Arc<str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
        (self.0)(s).map_err(E::custom)?;
        Ok(s.into())
    }

    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<Self::Value, E> {
        (self.0)(&s).map_err(E::custom)?;
        Ok(s.into())
    }

    fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Self::Value, E> {
        match std::str::from_utf8(b) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(b), &self)),
        }
    }
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

    #[test]
    fn codes_are_plain_json_strings_checked_when_read() {
        let key = ItemKey {
            product: ProductCode::parse("PJC-200").unwrap(),
            serial: Serial::parse("SN 0001/ä").unwrap(),
        };
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, r#"{"product":"PJC-200","serial":"SN 0001/ä"}"#);
        assert_eq!(serde_json::from_str::<ItemKey>(&json).unwrap(), key);
        // From text with escapes (read into a `String` first) and from a `Value` alike.
        let escaped: Serial = serde_json::from_str(r#""SN \u00e4""#).unwrap();
        assert_eq!(escaped.as_str(), "SN ä");
        let value: LotCode = serde_json::from_value(serde_json::json!("L-1")).unwrap();
        assert_eq!(value.as_str(), "L-1");
        // A clone shares the text and is equal, hashed and ordered alike.
        let clone = key.clone();
        assert_eq!(clone, key);
        assert_eq!(String::from(clone.serial), "SN 0001/ä");
        // Refusals read as `String`'s `TryFrom` read them.
        assert_eq!(
            serde_json::from_str::<ProductCode>(r#""a b""#)
                .unwrap_err()
                .to_string(),
            format!(
                "{} at line 1 column 5",
                ProductCode::parse("a b").unwrap_err()
            )
        );
        assert_eq!(
            serde_json::from_str::<Serial>("5").unwrap_err().to_string(),
            "invalid type: integer `5`, expected a string at line 1 column 1"
        );
    }
}
