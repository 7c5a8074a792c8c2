//! Exact quantities. Lots are counted in units of measure with up to three decimals (kg to the
//! gram, litres to the millilitre); floats would let a lot drift below zero by rounding, so a
//! quantity is an integer count of thousandths, identical on every database engine.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Thousandths per unit.
const SCALE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(i64);

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn from_units(units: i64) -> Self {
        Self(units.saturating_mul(SCALE))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_add(other.0).map(Quantity)
    }

    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_sub(other.0).map(Quantity)
    }

    /// Parses `12`, `12.5`, `0.125`; refuses more than three decimals rather than rounding.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                "invalid_quantity",
                format!("`{s}` is not a quantity with at most 3 decimals"),
            )
        };
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if frac.len() > 3
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || (body.contains('.') && frac.is_empty())
        {
            return Err(bad());
        }
        let int: i64 = int.parse().map_err(|_| bad())?;
        let mut frac_millis: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_millis += i64::from(b - b'0') * 10_i64.pow(2 - i as u32);
        }
        let v = int
            .checked_mul(SCALE)
            .and_then(|v| v.checked_add(frac_millis))
            .ok_or_else(bad)?;
        Ok(Self(if neg { -v } else { v }))
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (int, frac) = (abs / SCALE as u64, abs % SCALE as u64);
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let frac = format!("{frac:03}");
            write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// Written as a decimal string; read from a decimal string or a number.
impl schemars::JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An exact quantity with at most 3 decimals; answered as a decimal string, accepted as a string or a number.",
            "anyOf": [
                { "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,3})?$" },
                { "type": "number" }
            ],
            "examples": ["12.5"]
        })
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a quantity as a number or a decimal string, at most 3 decimals")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(|e| E::custom(e.message))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|v| v.checked_mul(SCALE))
                    .map(Quantity)
                    .ok_or_else(|| E::custom("quantity too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                v.checked_mul(SCALE)
                    .map(Quantity)
                    .ok_or_else(|| E::custom("quantity too large"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                // Go through the shortest decimal text so 0.1 means exactly 0.1.
                Quantity::parse(&v.to_string()).map_err(|e| E::custom(e.message))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_exactly() {
        assert_eq!(Quantity::parse("12.5").unwrap().millis(), 12_500);
        assert_eq!(Quantity::parse("0.125").unwrap().to_string(), "0.125");
        assert_eq!(Quantity::parse("3").unwrap().to_string(), "3");
        assert!(Quantity::parse("1.2345").is_err());
        assert!(Quantity::parse("1.").is_err());
        assert!(Quantity::parse("abc").is_err());
        assert!(Quantity::parse("").is_err());
        let q: Quantity = serde_json::from_str("0.1").unwrap();
        assert_eq!(q.millis(), 100);
    }

    proptest! {
        #[test]
        fn text_round_trips(m in -10_000_000_000i64..10_000_000_000) {
            let q = Quantity::from_millis(m);
            prop_assert_eq!(Quantity::parse(&q.to_string()).unwrap(), q);
        }
    }
}
