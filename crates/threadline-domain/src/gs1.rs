//! The GS1 facts the core model needs: the mod-10 check digit and the GTIN key. The full
//! identifier layer (AIs, element strings, Digital Link, EPC URNs) builds on this.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// GS1 mod-10 check digit over `digits` (the payload without its check digit): weights 3,1,3,…
/// from the right. Returns `None` if any character is not an ASCII digit.
pub fn mod10_check_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Is `s` a Serial Shipping Container Code: 18 digits whose last is the GS1 mod-10 check digit
/// of the others? (An SSCC names a logistic unit: a case, a pallet.)
pub fn is_sscc(s: &str) -> bool {
    s.len() == 18
        && s.bytes().all(|b| b.is_ascii_digit())
        && mod10_check_digit(&s[..17]).is_some_and(|c| s.as_bytes()[17] - b'0' == c)
}

/// A Global Trade Item Number, always held as 14 digits (GTIN-8/12/13 are left-padded with
/// zeros, as in AI (01) and EPCIS).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);

impl Gtin {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if !matches!(s.len(), 8 | 12 | 13 | 14) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "invalid_gtin",
                format!("GTIN `{s}` must be 8, 12, 13 or 14 digits"),
            ));
        }
        let padded = format!("{s:0>14}");
        let (payload, check) = padded.split_at(13);
        let expected = mod10_check_digit(payload).unwrap_or(255);
        if check.as_bytes()[0] - b'0' != expected {
            return Err(FieldError::new(
                "invalid_check_digit",
                format!("GTIN `{s}` has check digit {check}, expected {expected}"),
            ));
        }
        Ok(Self(padded))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Gtin {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Gtin::parse(&s)
    }
}

impl From<Gtin> for String {
    fn from(g: Gtin) -> String {
        g.0
    }
}

impl std::fmt::Display for Gtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_check_digit_examples() {
        for ok in [
            "24012345678905",
            "2112233789657",
            "416000336108",
            "02345680",
            "12345678901231",
        ] {
            assert!(Gtin::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Gtin::parse("24012345678909").unwrap_err().code,
            "invalid_check_digit"
        );
        assert_eq!(Gtin::parse("123").unwrap_err().code, "invalid_gtin");
        assert_eq!(
            Gtin::parse("2112233789657").unwrap().as_str(),
            "02112233789657"
        );
        assert_eq!(mod10_check_digit("12345678901234567"), Some(5)); // SSCC 123456789012345675
    }

    proptest! {
        #[test]
        fn every_single_digit_error_is_caught(payload in "[0-9]{13}", pos in 0usize..14, delta in 1u8..10) {
            let cd = mod10_check_digit(&payload).unwrap();
            let good = format!("{payload}{cd}");
            prop_assert!(Gtin::parse(&good).is_ok());
            let mut bytes = good.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let bad = String::from_utf8(bytes).unwrap();
            prop_assert!(Gtin::parse(&bad).is_err());
        }
    }
}
