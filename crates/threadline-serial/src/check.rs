//! Check characters: one (or, for MOD 97-10, two) characters computed from the rest of a serial,
//! so that a mistyped or misread serial is refused at the scan instead of being booked against
//! the wrong unit.
//!
//! Every algorithm catches every *single substitution* (one character replaced by another of
//! the alphabet). They differ in which *adjacent transpositions* (`…ab…` read as `…ba…`,
//! the commonest typing error) they promise to catch:
//!
//! | algorithm | template name | covers | check character | adjacent transpositions caught |
//! |---|---|---|---|---|
//! | GS1 mod-10 (GTIN, SSCC) | `gs1` | digits | one digit | all but digits 5 apart (`05`↔`50`, `16`↔`61`, …) |
//! | Luhn (cards, IMEI) | `luhn` | digits | one digit | all but `09`↔`90` |
//! | ISO 7064 MOD 11-2 (ISNI, ORCID) | `mod11-2` | digits | a digit or `X` | all |
//! | ISO 7064 MOD 37,36 hybrid | `mod37-36` | `0-9A-Z` | one of `0-9A-Z` | most, not all |
//! | ISO 7064 MOD 97-10 (IBAN) | `mod97-10` | digits | two digits | all |
//! | Damm | `damm` | digits | one digit | all |
//! | Verhoeff | `verhoeff` | digits | one digit | all |
//!
//! The promises include the check character itself (swapping it with its neighbour is caught
//! where the table says so), and [`CheckAlgorithm::catches_transposition`] states them as a
//! predicate that the property tests hold each algorithm to. A character the algorithm cannot
//! cover (a letter under `luhn`, a lower-case letter under `mod37-36`) is an error naming its
//! position, never silently skipped. (Templates choose what a check covers: see
//! [`crate::template`].)

use serde::{Deserialize, Serialize};
use threadline_domain::FieldError;
use threadline_domain::gs1::mod10_check_digit;

/// A check-character algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum CheckAlgorithm {
    /// GS1 mod-10: weights 3 and 1 alternating from the right, as in every GTIN, SSCC and GLN.
    #[serde(rename = "gs1")]
    Gs1Mod10,
    /// Luhn (ISO/IEC 7812-1): every second digit from the right doubled.
    #[serde(rename = "luhn")]
    Luhn,
    /// ISO 7064 MOD 11-2, a pure system over digits whose check character is a digit or `X`.
    #[serde(rename = "mod11-2")]
    Mod11_2,
    /// ISO 7064 MOD 37,36, the hybrid system over digits and upper-case letters.
    #[serde(rename = "mod37-36")]
    Mod37_36,
    /// ISO 7064 MOD 97-10: two check digits making the whole number ≡ 1 (mod 97).
    #[serde(rename = "mod97-10")]
    Mod97_10,
    /// H. Michael Damm's algorithm over a totally anti-symmetric quasigroup of order 10.
    #[serde(rename = "damm")]
    Damm,
    /// Verhoeff's algorithm over the dihedral group D5.
    #[serde(rename = "verhoeff")]
    Verhoeff,
}

/// The check character(s) of a string: one character, or two for MOD 97-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckChars {
    bytes: [u8; 2],
    len: u8,
}

impl CheckChars {
    fn one(b: u8) -> Self {
        CheckChars {
            bytes: [b, 0],
            len: 1,
        }
    }

    /// The characters as bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The characters as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl std::fmt::Display for CheckChars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

impl CheckAlgorithm {
    /// Every algorithm, in the order of the table above.
    pub const ALL: [CheckAlgorithm; 7] = [
        CheckAlgorithm::Gs1Mod10,
        CheckAlgorithm::Luhn,
        CheckAlgorithm::Mod11_2,
        CheckAlgorithm::Mod37_36,
        CheckAlgorithm::Mod97_10,
        CheckAlgorithm::Damm,
        CheckAlgorithm::Verhoeff,
    ];

    /// The name used in templates (`{CHECK:luhn}`) and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            CheckAlgorithm::Gs1Mod10 => "gs1",
            CheckAlgorithm::Luhn => "luhn",
            CheckAlgorithm::Mod11_2 => "mod11-2",
            CheckAlgorithm::Mod37_36 => "mod37-36",
            CheckAlgorithm::Mod97_10 => "mod97-10",
            CheckAlgorithm::Damm => "damm",
            CheckAlgorithm::Verhoeff => "verhoeff",
        }
    }

    /// The algorithm called `name` in templates.
    pub fn from_name(name: &str) -> Option<CheckAlgorithm> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The characters the algorithm can compute a check over.
    pub fn covers(self) -> &'static str {
        match self {
            CheckAlgorithm::Mod37_36 => ALNUM,
            _ => &ALNUM[..10],
        }
    }

    /// Whether the algorithm can cover the character `b`.
    #[inline]
    pub fn can_cover(self, b: u8) -> bool {
        match self {
            CheckAlgorithm::Mod37_36 => b.is_ascii_digit() || b.is_ascii_uppercase(),
            _ => b.is_ascii_digit(),
        }
    }

    /// The characters a check character can be.
    pub fn check_chars(self) -> &'static str {
        match self {
            CheckAlgorithm::Mod11_2 => "0123456789X",
            _ => self.covers(),
        }
    }

    /// How many check characters the algorithm appends: 2 for MOD 97-10, otherwise 1.
    pub fn check_len(self) -> usize {
        match self {
            CheckAlgorithm::Mod97_10 => 2,
            _ => 1,
        }
    }

    /// Every algorithm here catches every single substitution: one character of a valid string
    /// (check character included) replaced by another character the algorithm accepts.
    pub fn catches_every_substitution(self) -> bool {
        true
    }

    /// Whether the algorithm promises to catch `…ab…` read as `…ba…` anywhere in the string,
    /// the check character included (`a` ≠ `b`, both characters it accepts).
    pub fn catches_transposition(self, a: u8, b: u8) -> bool {
        if a == b {
            return false;
        }
        match self {
            CheckAlgorithm::Gs1Mod10 => a.abs_diff(b) != 5,
            CheckAlgorithm::Luhn => !matches!((a, b), (b'0', b'9') | (b'9', b'0')),
            CheckAlgorithm::Mod37_36 => false,
            CheckAlgorithm::Mod11_2
            | CheckAlgorithm::Mod97_10
            | CheckAlgorithm::Damm
            | CheckAlgorithm::Verhoeff => true,
        }
    }

    /// The check character(s) for `data` (the characters the check covers, without it).
    pub fn compute(self, data: &str) -> Result<CheckChars, FieldError> {
        self.compute_bytes(data.as_bytes())
    }

    /// [`CheckAlgorithm::compute`] over ASCII bytes.
    pub fn compute_bytes(self, data: &[u8]) -> Result<CheckChars, FieldError> {
        if let Some(i) = data.iter().position(|&b| !self.can_cover(b)) {
            return Err(self.outside_alphabet(data, i));
        }
        Ok(match self {
            CheckAlgorithm::Gs1Mod10 => {
                // Only digits reach this point; the shared GS1 function agrees with every GTIN.
                let text = std::str::from_utf8(data).unwrap_or_default();
                CheckChars::one(b'0' + mod10_check_digit(text).unwrap_or(0))
            }
            CheckAlgorithm::Luhn => CheckChars::one(b'0' + luhn(data)),
            CheckAlgorithm::Mod11_2 => {
                let p = data
                    .iter()
                    .fold(0u32, |p, &b| ((p + u32::from(b - b'0')) * 2) % 11);
                match (12 - p) % 11 {
                    10 => CheckChars::one(b'X'),
                    c => CheckChars::one(b'0' + c as u8),
                }
            }
            CheckAlgorithm::Mod37_36 => {
                let p = data
                    .iter()
                    .fold(36u32, |p, &b| hybrid36_step(p, alnum_value(b)));
                CheckChars::one(ALNUM.as_bytes()[((37 - p) % 36) as usize])
            }
            CheckAlgorithm::Mod97_10 => {
                let r = data
                    .iter()
                    .fold(0u32, |r, &b| (r * 10 + u32::from(b - b'0')) % 97);
                let c = 98 - (r * 100) % 97;
                CheckChars {
                    bytes: [b'0' + (c / 10) as u8, b'0' + (c % 10) as u8],
                    len: 2,
                }
            }
            CheckAlgorithm::Damm => CheckChars::one(b'0' + damm(data)),
            CheckAlgorithm::Verhoeff => {
                let c = verhoeff_fold(data, 1);
                CheckChars::one(b'0' + VERHOEFF_INVERSE[usize::from(c)])
            }
        })
    }

    /// Whether `serial` ends in the right check character(s) for what comes before them.
    /// Refuses (with the position) characters the algorithm cannot cover, and a string
    /// shorter than its check.
    pub fn verify(self, serial: &str) -> Result<(), FieldError> {
        let n = self.check_len();
        if serial.len() <= n || !serial.is_char_boundary(serial.len() - n) {
            return Err(FieldError::new(
                "too_short",
                format!(
                    "`{serial}` is too short to carry a {} check character",
                    self.name()
                ),
            ));
        }
        let (data, given) = serial.split_at(serial.len() - n);
        let expected = self.compute(data)?;
        if given.as_bytes() != expected.as_bytes() {
            return Err(FieldError::new(
                "wrong_check_character",
                format!(
                    "`{serial}` ends in `{given}`, but its {} check character is `{expected}`",
                    self.name()
                ),
            ));
        }
        Ok(())
    }

    /// Whether [`CheckAlgorithm::verify`] accepts `serial`.
    pub fn is_valid(self, serial: &str) -> bool {
        self.verify(serial).is_ok()
    }

    fn outside_alphabet(self, data: &[u8], i: usize) -> FieldError {
        let what = match std::str::from_utf8(data) {
            Ok(text) => match text.get(i..).and_then(|rest| rest.chars().next()) {
                Some(c) => format!("`{}`", c.escape_debug()),
                None => "a non-ASCII character".to_owned(),
            },
            Err(_) => "a non-ASCII character".to_owned(),
        };
        let position = std::str::from_utf8(&data[..i]).map_or(i, |s| s.chars().count()) + 1;
        let covers = match self {
            CheckAlgorithm::Mod37_36 => "digits and upper-case letters",
            _ => "digits only",
        };
        FieldError::new(
            "check_alphabet",
            format!(
                "{what} at position {position} cannot be covered by a {} check character \
                 ({covers})",
                self.name()
            ),
        )
    }
}

fn alnum_value(b: u8) -> u32 {
    if b.is_ascii_digit() {
        u32::from(b - b'0')
    } else {
        u32::from(b - b'A') + 10
    }
}

/// One step of the ISO 7064 hybrid system MOD 37,36: `P' = (((P + a) ||36) × 2) mod 37`,
/// where `x ||36` is `x mod 36` with 0 replaced by 36.
fn hybrid36_step(p: u32, a: u32) -> u32 {
    let s = match (p + a) % 36 {
        0 => 36,
        s => s,
    };
    (s * 2) % 37
}

fn luhn(data: &[u8]) -> u8 {
    let sum: u32 = data
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            match (i % 2 == 0, d * 2) {
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
                (false, _) => d,
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Damm's quasigroup (his 2004 dissertation's table): zero diagonal, totally anti-symmetric.
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |interim, &b| {
        DAMM[usize::from(interim)][usize::from(b - b'0')]
    })
}

/// Multiplication in the dihedral group D5, elements 0–4 rotations and 5–9 reflections.
const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Verhoeff's position permutation σ = (0)(1 5 8 9 4 2 7)(3 6); position `i` uses σ^(i mod 8).
const VERHOEFF_SIGMA: [u8; 10] = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4];

const VERHOEFF_INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Folds the digits from the right, the rightmost at position `first_position`.
fn verhoeff_fold(data: &[u8], first_position: usize) -> u8 {
    data.iter().rev().enumerate().fold(0u8, |c, (i, &b)| {
        let mut digit = b - b'0';
        for _ in 0..(i + first_position) % 8 {
            digit = VERHOEFF_SIGMA[usize::from(digit)];
        }
        VERHOEFF_D[usize::from(c)][usize::from(digit)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published examples: (algorithm, data, check).
    const PUBLISHED: &[(CheckAlgorithm, &str, &str)] = &[
        // GS1 General Specifications examples: a GTIN-14, a GTIN-13, an SSCC.
        (CheckAlgorithm::Gs1Mod10, "2401234567890", "5"),
        (CheckAlgorithm::Gs1Mod10, "211223378965", "7"),
        (CheckAlgorithm::Gs1Mod10, "12345678901234567", "5"),
        // The Luhn example of ISO/IEC 7812 and Wikipedia.
        (CheckAlgorithm::Luhn, "7992739871", "3"),
        (CheckAlgorithm::Luhn, "49015420323751", "8"), // the IMEI example on Wikipedia
        // ORCID's documented identifiers 0000-0002-1825-0097 and 0000-0002-1694-233X.
        (CheckAlgorithm::Mod11_2, "000000021825009", "7"),
        (CheckAlgorithm::Mod11_2, "000000021694233", "X"),
        (CheckAlgorithm::Mod11_2, "0794", "0"),
        // ISO 7064 MOD 37,36 example (python-stdnum documents the same value).
        (CheckAlgorithm::Mod37_36, "A12425GABC1234002", "M"),
        // IBAN GB82 WEST 1234 5698 7654 32: BBAN + "GB" as 1611, check digits 82.
        (CheckAlgorithm::Mod97_10, "32142829123456987654321611", "82"),
        // IBAN DE89 3704 0044 0532 0130 00.
        (CheckAlgorithm::Mod97_10, "3704004405320130001314", "89"),
        // Damm's and Verhoeff's well-known examples.
        (CheckAlgorithm::Damm, "572", "4"),
        (CheckAlgorithm::Verhoeff, "236", "3"),
        (CheckAlgorithm::Verhoeff, "12345", "1"),
        (CheckAlgorithm::Verhoeff, "142857", "0"),
    ];

    #[test]
    fn published_examples() {
        for &(algo, data, check) in PUBLISHED {
            assert_eq!(
                algo.compute(data).unwrap().as_str(),
                check,
                "{algo:?} {data}"
            );
            assert!(algo.is_valid(&format!("{data}{check}")), "{algo:?} {data}");
        }
        assert!(CheckAlgorithm::Luhn.is_valid("79927398713"));
        assert!(!CheckAlgorithm::Luhn.is_valid("79927398710"));
        assert!(CheckAlgorithm::Damm.is_valid("5724"));
        assert!(CheckAlgorithm::Mod11_2.is_valid("000000021694233X"));
        assert!(!CheckAlgorithm::Mod11_2.is_valid("0000000216942330"));
    }

    #[test]
    fn gs1_agrees_with_the_domain() {
        for data in ["", "0", "12345678901234567", "9999999"] {
            assert_eq!(
                CheckAlgorithm::Gs1Mod10.compute(data).unwrap().as_bytes()[0] - b'0',
                mod10_check_digit(data).unwrap()
            );
        }
    }

    #[test]
    fn input_outside_the_alphabet_is_named() {
        let e = CheckAlgorithm::Luhn.compute("12A4").unwrap_err();
        assert_eq!(e.code, "check_alphabet");
        assert!(e.message.contains("`A` at position 3"), "{}", e.message);
        assert!(e.message.contains("digits only"), "{}", e.message);
        let e = CheckAlgorithm::Mod37_36.compute("AB-c").unwrap_err();
        assert!(e.message.contains("`-` at position 3"), "{}", e.message);
        let e = CheckAlgorithm::Damm.compute("1é2").unwrap_err();
        assert!(e.message.contains("`é` at position 2"), "{}", e.message);
        let e = CheckAlgorithm::Verhoeff.verify("12é").unwrap_err();
        assert_eq!(e.code, "too_short");
        // An X is only a check character, never data.
        let e = CheckAlgorithm::Mod11_2.verify("12X45").unwrap_err();
        assert_eq!(e.code, "check_alphabet");
        let e = CheckAlgorithm::Mod97_10.verify("12").unwrap_err();
        assert_eq!(e.code, "too_short");
        let e = CheckAlgorithm::Luhn.verify("79927398710").unwrap_err();
        assert_eq!(e.code, "wrong_check_character");
        assert!(e.message.contains("ends in `0`"), "{}", e.message);
        assert!(e.message.contains("is `3`"), "{}", e.message);
    }

    #[test]
    fn names_round_trip() {
        for algo in CheckAlgorithm::ALL {
            assert_eq!(CheckAlgorithm::from_name(algo.name()), Some(algo));
            let json = serde_json::to_string(&algo).unwrap();
            assert_eq!(json, format!("\"{}\"", algo.name()));
            assert_eq!(serde_json::from_str::<CheckAlgorithm>(&json).unwrap(), algo);
            assert!(algo.check_chars().starts_with(&algo.covers()[..10]));
        }
        assert_eq!(CheckAlgorithm::from_name("LUHN"), None);
    }

    #[test]
    fn damm_table_is_totally_anti_symmetric() {
        for (i, row) in DAMM.iter().enumerate() {
            assert_eq!(row[i], 0);
            let mut seen = [false; 10];
            for &v in row {
                seen[usize::from(v)] = true;
            }
            assert!(seen.iter().all(|&s| s), "row {i} is not a permutation");
        }
        for c in 0..10 {
            for x in 0..10 {
                for y in 0..10 {
                    if x != y {
                        assert_ne!(DAMM[DAMM[c][x] as usize][y], DAMM[DAMM[c][y] as usize][x]);
                    }
                }
            }
        }
    }
}
