//! The character sets a sequence or random part is written in.
//!
//! Every character a rule can put into a serial belongs to GS1 CSET 82 (the printable ASCII
//! subset allowed in AI (21) and (10)), so any serial a rule produces can also be carried in a
//! GS1 element string. An alphabet is an ordered list of distinct characters: the position of a
//! character is its digit value, so `{SEQ:4:crockford32}` counts `0000`, `0001`, … `000Z`, `0010`.

use threadline_domain::FieldError;

/// Characters of GS1 CSET 82 (GS1 General Specifications, figure 7.11-1), in ASCII order.
pub const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// Whether `b` may appear in a serial a rule produces.
pub fn is_cset82(b: u8) -> bool {
    matches!(b, b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

const DIGITS_AND_LETTERS: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The built-in named alphabets, as `(name, characters)`.
///
/// `crockford32` is Douglas Crockford's base 32: digits and upper-case letters without `I`, `L`,
/// `O` and `U`, so a person reading a label never has to tell `0` from `O` or `1` from `I`/`L`.
/// A rule that wants a different set (say, without `5`/`S` and `2`/`Z` as well) names its own
/// in `alphabets`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("digits", "0123456789"),
    ("hex", "0123456789ABCDEF"),
    ("upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    ("alnum", DIGITS_AND_LETTERS),
    ("crockford32", "0123456789ABCDEFGHJKMNPQRSTVWXYZ"),
];

const ABSENT: u8 = u8::MAX;

/// An ordered set of 2 to 64 distinct CSET 82 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Alphabet {
    name: String,
    chars: Vec<u8>,
    /// `index[b]` is the value of ASCII byte `b`, or [`ABSENT`].
    index: [u8; 128],
}

impl std::fmt::Debug for Alphabet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Alphabet({} = {:?})", self.name, self.chars())
    }
}

impl Alphabet {
    /// The most characters an alphabet may have.
    pub const MAX_LEN: usize = 64;

    /// A built-in alphabet by name (see [`BUILTIN`]), or a radix from 2 to 36 written as a
    /// number (`10`, `16`, `36`: the first that many of `0-9A-Z`).
    pub fn builtin(name: &str) -> Option<Alphabet> {
        if let Some((_, chars)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            return Some(Self::from_trusted(name, chars));
        }
        if name.is_empty() || name.len() > 2 || !name.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let radix: usize = name.parse().ok()?;
        if !(2..=36).contains(&radix) || name.starts_with('0') {
            return None;
        }
        Some(Self::from_trusted(name, &DIGITS_AND_LETTERS[..radix]))
    }

    /// A rule's own alphabet. The name is lower case (`[a-z][a-z0-9_-]*`, at most 32 characters)
    /// and must not shadow a built-in; the characters are 2 to 64 distinct CSET 82 characters.
    pub fn custom(name: &str, chars: &str) -> Result<Alphabet, FieldError> {
        let field = format!("alphabets.{name}");
        let well_formed = name.len() <= 32
            && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(FieldError::new(
                "invalid_alphabet",
                format!(
                    "alphabet name `{name}` must start with a lower-case letter and use only \
                     a-z, 0-9, `_` and `-` (at most 32 characters)"
                ),
            )
            .at(field));
        }
        if Self::builtin(name).is_some() {
            return Err(FieldError::new(
                "invalid_alphabet",
                format!("alphabet name `{name}` is built in; choose another name"),
            )
            .at(field));
        }
        if let Some((i, c)) = chars
            .char_indices()
            .find(|&(_, c)| !c.is_ascii() || !is_cset82(c as u8))
        {
            return Err(FieldError::new(
                "invalid_alphabet",
                format!(
                    "alphabet `{name}` has `{}` at position {}; use GS1 CSET 82 characters \
                     (letters, digits and !\"%&'()*+,-./:;<=>?_)",
                    c.escape_debug(),
                    chars[..i].chars().count() + 1
                ),
            )
            .at(field));
        }
        if !(2..=Self::MAX_LEN).contains(&chars.len()) {
            return Err(FieldError::new(
                "invalid_alphabet",
                format!(
                    "alphabet `{name}` has {} characters; it needs 2 to {}",
                    chars.len(),
                    Self::MAX_LEN
                ),
            )
            .at(field));
        }
        let bytes = chars.as_bytes();
        if let Some(i) = (1..bytes.len()).find(|&i| bytes[..i].contains(&bytes[i])) {
            return Err(FieldError::new(
                "invalid_alphabet",
                format!(
                    "alphabet `{name}` has `{}` twice (again at position {})",
                    bytes[i] as char,
                    i + 1
                ),
            )
            .at(field));
        }
        Ok(Self::from_trusted(name, chars))
    }

    /// Built from characters already known to be distinct CSET 82 characters.
    fn from_trusted(name: &str, chars: &str) -> Alphabet {
        let mut index = [ABSENT; 128];
        for (value, b) in chars.bytes().enumerate() {
            index[usize::from(b)] = value as u8;
        }
        Alphabet {
            name: name.to_owned(),
            chars: chars.as_bytes().to_vec(),
            index,
        }
    }

    /// The name it is referred to by in a template.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its characters, in digit order.
    pub fn chars(&self) -> &str {
        // Only ASCII bytes are ever stored.
        std::str::from_utf8(&self.chars).unwrap_or_default()
    }

    /// How many characters it has: the base a sequence in it counts in.
    pub fn radix(&self) -> u32 {
        self.chars.len() as u32
    }

    /// The digit value of `b`, if `b` belongs to the alphabet.
    #[inline]
    pub fn value_of(&self, b: u8) -> Option<u8> {
        match self.index.get(usize::from(b)) {
            Some(&v) if v != ABSENT => Some(v),
            _ => None,
        }
    }

    /// Whether `b` belongs to the alphabet.
    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        self.value_of(b).is_some()
    }

    /// The character for digit value `v` (`v < radix`).
    #[inline]
    pub(crate) fn char_at(&self, v: usize) -> u8 {
        self.chars[v]
    }

    /// `radix^width`, if it fits in a `u128`.
    pub fn combinations(&self, width: usize) -> Option<u128> {
        let width = u32::try_from(width).ok()?;
        u128::from(self.radix()).checked_pow(width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_distinct_cset82() {
        for (name, chars) in BUILTIN {
            let a = Alphabet::builtin(name).unwrap();
            assert_eq!(a.chars(), *chars);
            assert!(chars.bytes().all(is_cset82));
            for (v, b) in chars.bytes().enumerate() {
                assert_eq!(a.value_of(b), Some(v as u8), "{name}");
            }
        }
        let crockford = Alphabet::builtin("crockford32").unwrap();
        assert_eq!(crockford.radix(), 32);
        for look_alike in *b"ILOU" {
            assert!(!crockford.contains(look_alike));
        }
        assert_eq!(Alphabet::builtin("16").unwrap().chars(), "0123456789ABCDEF");
        assert_eq!(Alphabet::builtin("2").unwrap().chars(), "01");
        for bad in ["1", "37", "010", "", "Digits", "x"] {
            assert!(Alphabet::builtin(bad).is_none(), "{bad}");
        }
        let all: String = (0u8..128)
            .filter(|&b| is_cset82(b))
            .map(char::from)
            .collect();
        assert_eq!(all, CSET82);
    }

    #[test]
    fn custom_alphabets_are_checked() {
        let a = Alphabet::custom("vowels", "AEIOU").unwrap();
        assert_eq!(a.value_of(b'I'), Some(2));
        assert_eq!(a.value_of(b'B'), None);
        assert_eq!(a.value_of(0xC3), None);
        let cases = [
            ("Vowels", "AEIOU", "must start with a lower-case letter"),
            ("digits", "0123", "is built in"),
            ("x", "A", "has 1 characters"),
            ("x", "AB A", "has ` ` at position 3"),
            ("x", "ABCA", "has `A` twice (again at position 4)"),
            ("x", "AB{", "has `{` at position 3"),
            ("x", "ABé", "has `é` at position 3"),
        ];
        for (name, chars, expected) in cases {
            let e = Alphabet::custom(name, chars).unwrap_err();
            assert_eq!(e.code, "invalid_alphabet");
            assert!(
                e.message.contains(expected),
                "{name} {chars}: {}",
                e.message
            );
            assert_eq!(e.field.as_deref(), Some(&*format!("alphabets.{name}")));
        }
    }
}
