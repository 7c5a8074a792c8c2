//! GS1 identification keys that Threadline stores and compares: GTIN, SSCC and GLN.
//!
//! Why this module exists: an SSCC on a pallet or a GLN in a `readPoint` is a key that joins
//! events together, so it must be parsed once, with its check digit verified, and carried as a
//! type that cannot hold a wrong value. GTIN is the domain crate's [`Gtin`] (re-exported here so
//! that there is exactly one GTIN type in Threadline); the check digit arithmetic is the domain
//! crate's [`mod10_check_digit`].

use threadline_domain::error::FieldError;
pub use threadline_domain::gs1::Gtin;
use threadline_domain::gs1::mod10_check_digit;

/// Whether `key` (digits, check digit last) has a correct GS1 mod-10 check digit.
pub fn has_valid_check_digit(key: &str) -> bool {
    let Some((payload, cd)) = key.len().checked_sub(1).map(|n| key.split_at(n)) else {
        return false;
    };
    match (mod10_check_digit(payload), cd.as_bytes().first()) {
        (Some(expected), Some(&b)) => b == b'0' + expected,
        _ => false,
    }
}

fn parse_numeric_key(
    kind: &str,
    code: &'static str,
    len: usize,
    s: &str,
) -> Result<(), FieldError> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            code,
            format!("{kind} `{}` must be exactly {len} digits", s.escape_debug()),
        ));
    }
    if !has_valid_check_digit(s) {
        let expected = mod10_check_digit(&s[..len - 1]).unwrap_or(0);
        return Err(FieldError::new(
            "invalid_check_digit",
            format!(
                "{kind} `{s}` has check digit {}, expected {expected}",
                &s[len - 1..]
            ),
        ));
    }
    Ok(())
}

/// A Serial Shipping Container Code: 18 digits (extension digit, GS1 Company Prefix, serial
/// reference, check digit). Identifies one logistic unit (case, pallet).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sscc(String);

impl Sscc {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        parse_numeric_key("SSCC", "invalid_sscc", 18, s)?;
        Ok(Self(s.to_owned()))
    }

    /// Builds an SSCC from its 17 leading digits, computing the check digit.
    pub fn from_payload(payload: &str) -> Result<Self, FieldError> {
        match mod10_check_digit(payload) {
            Some(cd) if payload.len() == 17 => Ok(Self(format!("{payload}{cd}"))),
            _ => Err(FieldError::new(
                "invalid_sscc",
                format!(
                    "SSCC payload `{}` must be exactly 17 digits",
                    payload.escape_debug()
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The extension digit (first digit), assigned freely by the company.
    pub fn extension_digit(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }
}

/// A Global Location Number: 13 digits (GS1 Company Prefix, location reference, check digit).
/// Identifies a site, a bin, or — in AI (417) — a party.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gln(String);

impl Gln {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        parse_numeric_key("GLN", "invalid_gln", 13, s)?;
        Ok(Self(s.to_owned()))
    }

    /// Builds a GLN from its 12 leading digits, computing the check digit.
    pub fn from_payload(payload: &str) -> Result<Self, FieldError> {
        match mod10_check_digit(payload) {
            Some(cd) if payload.len() == 12 => Ok(Self(format!("{payload}{cd}"))),
            _ => Err(FieldError::new(
                "invalid_gln",
                format!(
                    "GLN payload `{}` must be exactly 12 digits",
                    payload.escape_debug()
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds a GTIN-14 from its 13 leading digits, computing the check digit.
pub fn gtin_from_payload(payload: &str) -> Result<Gtin, FieldError> {
    match mod10_check_digit(payload) {
        Some(cd) if payload.len() == 13 => Gtin::parse(&format!("{payload}{cd}")),
        _ => Err(FieldError::new(
            "invalid_gtin",
            format!(
                "GTIN payload `{}` must be exactly 13 digits",
                payload.escape_debug()
            ),
        )),
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $t {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::parse(s)
            }
        }
    )*};
}
display_as_str!(Sscc, Gln);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_check_digits() {
        assert!(Sscc::parse("123456789012345675").is_ok());
        assert_eq!(
            Sscc::parse("123456789012345670").unwrap_err().code,
            "invalid_check_digit"
        );
        assert_eq!(
            Sscc::parse("12345678901234567").unwrap_err().code,
            "invalid_sscc"
        );
        assert_eq!(
            Sscc::parse("12345678901234567A").unwrap_err().code,
            "invalid_sscc"
        );
        assert_eq!(
            Sscc::from_payload("04012345000000011").unwrap().as_str(),
            "040123450000000115"
        );
        assert_eq!(
            Sscc::parse("340123450000000017").unwrap().extension_digit(),
            3
        );
        assert!(Gln::parse("4012345000009").is_ok());
        assert!(Gln::parse("0614141073467").is_ok());
        assert_eq!(
            Gln::parse("4012345000008").unwrap_err().code,
            "invalid_check_digit"
        );
        assert_eq!(
            Gln::from_payload("401234500000").unwrap().as_str(),
            "4012345000009"
        );
        assert_eq!(
            gtin_from_payload("0401234511111").unwrap().as_str(),
            "04012345111118"
        );
        for gtin in [
            "24012345678905",
            "2112233789657",
            "416000336108",
            "02345680",
            "12345678901231",
        ] {
            assert!(Gtin::parse(gtin).is_ok(), "{gtin}");
            assert!(has_valid_check_digit(gtin), "{gtin}");
        }
        assert!(!has_valid_check_digit("24012345678909"));
        assert!(!has_valid_check_digit(""));
        assert!(!has_valid_check_digit("1A"));
        assert_eq!(
            "4012345000009".parse::<Gln>().unwrap().to_string(),
            "4012345000009"
        );
    }
}
