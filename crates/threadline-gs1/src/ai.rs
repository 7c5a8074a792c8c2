//! The GS1 Application Identifier (AI) dictionary and the value rules that go with it.
//!
//! Why this module exists: every other part of this crate — element strings, Digital Link URIs,
//! EPC URNs, scan classification — has to answer the same questions about an AI: is it known,
//! how long may its value be, which characters are allowed, does it carry a check digit or a
//! date, does a barcode need an FNC1 separator after it, which other AIs must or must not appear
//! with it, and what role it plays in a Digital Link. Keeping the answers in one data table
//! (see `table.rs`) means a rule is fixed in one place, and the table can be compared line by line
//! with the GS1 Barcode Syntax Dictionary.
//!
//! What is checked: the format of every component (numeric / CSET 82 / CSET 39 / CSET 64 and its
//! length), mod-10 check digits, the alphanumeric check pair of GMN (8013), dates (YYMMDD, with
//! `DD = 00` allowed where GS1 allows it) and times, and a handful of small content rules
//! ("piece of total", "no zero prefix", IBAN mod 97, …). Code-list checks (ISO 3166 country
//! codes, ISO 4217 currencies, package types) are *not* performed: such values are only checked
//! for their format, so an unusual but valid code never stops a scan.

use chrono::NaiveDate;
use threadline_domain::error::FieldError;
use threadline_domain::gs1::mod10_check_digit;

mod table;

/// The character set a component's characters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cset {
    /// `0-9` (format `N`).
    Numeric,
    /// GS1 AI encodable character set 82 (format `X`): `! " % & ' ( ) * + , - . / 0-9 : ; < = >
    /// ? A-Z _ a-z`. No space, no `#`, `$`, `@`, `[`, `\`, `]`, `^`, `` ` ``, `{`, `|`, `}`, `~`.
    Cset82,
    /// GS1 AI encodable character set 39 (format `Y`): `# - / 0-9 A-Z`.
    Cset39,
    /// Base64url (format `Z`): `- 0-9 A-Z _ a-z`, with `=` padding only at the end.
    Cset64,
}

/// The 82 characters of CSET 82, in the order GS1 numbers them (used by the GMN check pair).
pub(crate) const CSET82: &[u8; 82] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

impl Cset {
    /// Whether `b` belongs to the set (for [`Cset::Cset64`], the padding `=` is not included).
    pub fn contains(self, b: u8) -> bool {
        match self {
            Cset::Numeric => b.is_ascii_digit(),
            Cset::Cset82 => is_cset82(b),
            Cset::Cset39 => {
                b.is_ascii_digit() || b.is_ascii_uppercase() || matches!(b, b'#' | b'-' | b'/')
            }
            Cset::Cset64 => b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'),
        }
    }

    /// A short description for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Cset::Numeric => "digits only",
            Cset::Cset82 => {
                "GS1 character set 82 (letters, digits and ! \" % & ' ( ) * + , - . / : ; < = > ? _)"
            }
            Cset::Cset39 => "GS1 character set 39 (A-Z, 0-9, # - /)",
            Cset::Cset64 => "base64url (A-Z, a-z, 0-9, - _ and trailing = padding)",
        }
    }
}

/// Whether `b` is one of the 82 characters of GS1 CSET 82.
pub fn is_cset82(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'"'
                | b'%'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'-'
                | b'.'
                | b'/'
                | b':'
                | b';'
                | b'<'
                | b'='
                | b'>'
                | b'?'
                | b'_'
        )
}

/// A content rule applied to one component after its character set and length are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// No content rule beyond format.
    None,
    /// GS1 mod-10 check digit in the last position.
    Csum,
    /// GS1 alphanumeric check pair (GMN, AI 8013) in the last two positions.
    CsumAlpha,
    /// `YYMMDD`, where `DD = 00` means "end of month".
    Yymmd0,
    /// `YYMMDD` with a real day.
    Yymmdd,
    /// `YYYYMMDD` with a real day.
    Yyyymmdd,
    /// `HH`, 00–23.
    Hh,
    /// `MM` minutes, 00–59.
    Mi,
    /// `SS` seconds, 00–59.
    Ss,
    /// `HHMM`.
    Hhmi,
    /// The digit `0`.
    Zero,
    /// Not all zeros.
    NonZero,
    /// Winding direction: `0`, `1` or `9`.
    Winding,
    /// `0` or `1`.
    YesNo,
    /// The character `-`.
    Hyphen,
    /// No leading zero (unless the value is a single digit).
    NoZeroPrefix,
    /// `PPTT`: piece `PP` of total `TT`, `1 <= PP <= TT`.
    PieceOfTotal,
    /// One base64url character (importer index of AI 7040).
    ImporterIdx,
    /// Any `%` starts a valid `%XX` escape (address AIs 43xx and names 725x).
    PercentEncoded,
    /// An IBAN: country letters, check digits, mod 97 = 1.
    Iban,
    /// Latitude in 10 digits (`0..=1800000000`).
    Latitude,
    /// Longitude in 10 digits (`0..=3600000000`).
    Longitude,
    /// At least one character that is not a digit.
    HasNonDigit,
    /// ISO/IEC 5218 sex code: `0`, `1`, `2` or `9`.
    Iso5218,
    /// Position in sequence `n/m`, `1 <= n <= m`.
    PosInSeqSlash,
}

/// One component of an AI's value, e.g. the `N13` and the optional `[X..17]` of AI (253).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Component {
    cset: Cset,
    min: u8,
    max: u8,
    optional: bool,
    check: Check,
}

impl Component {
    pub fn cset(&self) -> Cset {
        self.cset
    }
    pub fn min_len(&self) -> usize {
        usize::from(self.min)
    }
    pub fn max_len(&self) -> usize {
        usize::from(self.max)
    }
    /// Optional trailing component (`[...]` in the dictionary).
    pub fn is_optional(&self) -> bool {
        self.optional
    }
    pub fn check(&self) -> Check {
        self.check
    }
    pub fn is_fixed_length(&self) -> bool {
        self.min == self.max
    }
}

/// One entry of the dictionary: a single AI or a range such as `3100`–`3105`.
#[derive(Debug, Clone, Copy)]
pub struct AiDef {
    first: &'static str,
    last: &'static str,
    title: &'static str,
    predefined: bool,
    key: bool,
    dl_attribute: bool,
    components: &'static [Component],
    req: &'static [&'static str],
    ex: &'static str,
    dl_qualifiers: Option<&'static str>,
}

impl AiDef {
    /// The first AI of the entry (the only one unless this is a range).
    pub fn first(&self) -> &'static str {
        self.first
    }
    /// The last AI of the entry (equal to [`AiDef::first`] unless this is a range).
    pub fn last(&self) -> &'static str {
        self.last
    }
    /// The data title printed in human-readable text, e.g. `BATCH/LOT`.
    pub fn title(&self) -> &'static str {
        self.title
    }
    /// Whether `ai` is covered by this entry.
    pub fn covers(&self, ai: &str) -> bool {
        ai.len() == self.first.len() && self.first <= ai && ai <= self.last
    }
    /// Predefined-length AI (`*` in the dictionary): no FNC1 separator is needed after it.
    pub fn is_predefined_length(&self) -> bool {
        self.predefined
    }
    /// Whether a GS1 identification key (`!`): SSCC, GTIN, GLN, GRAI, …
    pub fn is_key(&self) -> bool {
        self.key
    }
    /// Whether the AI may be a data attribute in a Digital Link query string (`?`).
    pub fn is_dl_attribute(&self) -> bool {
        self.dl_attribute
    }
    /// Whether the AI can be the primary key of a Digital Link URI path.
    pub fn is_dl_primary_key(&self) -> bool {
        self.dl_qualifiers.is_some()
    }
    /// The alternative ordered qualifier sequences of a Digital Link primary key, e.g.
    /// `[["22", "10", "21"], ["235"]]` for GTIN. Empty for AIs without qualifiers.
    pub fn dl_qualifier_sequences(&self) -> Vec<Vec<&'static str>> {
        match self.dl_qualifiers {
            None | Some("") => Vec::new(),
            Some(s) => s.split('|').map(|alt| alt.split(',').collect()).collect(),
        }
    }
    /// Whether `ai` is a qualifier of this primary key in any alternative sequence.
    pub fn has_dl_qualifier(&self, ai: &str) -> bool {
        match self.dl_qualifiers {
            None => false,
            Some(s) => s.split(['|', ',']).any(|q| q == ai),
        }
    }
    /// The value's components, in order.
    pub fn components(&self) -> &'static [Component] {
        self.components
    }
    /// The shortest valid value.
    pub fn min_len(&self) -> usize {
        self.components
            .iter()
            .filter(|c| !c.optional)
            .map(Component::min_len)
            .sum()
    }
    /// The longest valid value.
    pub fn max_len(&self) -> usize {
        self.components.iter().map(Component::max_len).sum()
    }
    /// Requisite clauses (`req=`): each clause is a comma-separated list of alternatives, each
    /// alternative one AI pattern or several joined by `+`; `n` in a pattern stands for any digit.
    /// Every clause must be satisfied by the AIs present.
    pub fn requisites(&self) -> &'static [&'static str] {
        self.req
    }
    /// Exclusions (`ex=`): comma-separated AI patterns that may not appear with this AI.
    pub fn exclusions(&self) -> impl Iterator<Item = &'static str> {
        self.ex.split(',').filter(|s| !s.is_empty())
    }
    /// Whether an FNC1 separator must follow this AI when it is not the last in a barcode.
    pub fn needs_fnc1(&self) -> bool {
        needs_fnc1(self.first)
    }

    /// Checks `value` against this entry's format and content rules. `ai` is the actual AI
    /// (within a range) and is used only in messages.
    pub fn validate(&self, ai: &str, value: &str) -> Result<(), FieldError> {
        let (min, max) = (self.min_len(), self.max_len());
        if let Some(c) = value
            .chars()
            .find(|c| !c.is_ascii() || c.is_ascii_control())
        {
            return Err(FieldError::new(
                "invalid_character",
                format!(
                    "AI ({ai}) value `{}` contains {}, which is not allowed in a GS1 data field",
                    value.escape_debug(),
                    describe_char(c)
                ),
            ));
        }
        let len = value.len();
        if len < min || len > max {
            let expected = if min == max {
                format!("exactly {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(FieldError::new(
                "invalid_length",
                format!(
                    "AI ({ai}) {} value `{value}` has {len} characters; it must have {expected}",
                    self.title
                ),
            ));
        }
        let bytes = value.as_bytes();
        let mut pos = 0usize;
        for comp in self.components {
            let rest = len - pos;
            if rest == 0 {
                if comp.optional {
                    break;
                }
                return Err(FieldError::new(
                    "invalid_length",
                    format!("AI ({ai}) {} value `{value}` is too short", self.title),
                ));
            }
            let take = if comp.is_fixed_length() {
                comp.max_len()
            } else {
                rest.min(comp.max_len())
            };
            if take > rest || take < comp.min_len() {
                return Err(FieldError::new(
                    "invalid_length",
                    format!(
                        "AI ({ai}) {} value `{value}` does not match its format {}",
                        self.title,
                        self.format_spec()
                    ),
                ));
            }
            let part = &value[pos..pos + take];
            if let Some(&b) = part.as_bytes().iter().find(|&&b| !comp.cset.contains(b)) {
                // Base64url padding is allowed, and checked by `check_cset64`.
                if !(comp.cset == Cset::Cset64 && b == b'=') {
                    return Err(FieldError::new(
                        "invalid_character",
                        format!(
                            "AI ({ai}) {} value `{value}` contains {}; allowed: {}",
                            self.title,
                            describe_char(char::from(b)),
                            comp.cset.describe()
                        ),
                    ));
                }
            }
            if comp.cset == Cset::Cset64 {
                check_cset64(ai, value, part)?;
            }
            run_check(comp.check, ai, self.title, value, part)?;
            pos += take;
        }
        if pos != bytes.len() {
            return Err(FieldError::new(
                "invalid_length",
                format!(
                    "AI ({ai}) {} value `{value}` is too long for its format {}",
                    self.title,
                    self.format_spec()
                ),
            ));
        }
        Ok(())
    }

    /// The format in dictionary notation, e.g. `N13 [X..17]`.
    pub fn format_spec(&self) -> String {
        let parts: Vec<String> = self
            .components
            .iter()
            .map(|c| {
                let t = match c.cset {
                    Cset::Numeric => 'N',
                    Cset::Cset82 => 'X',
                    Cset::Cset39 => 'Y',
                    Cset::Cset64 => 'Z',
                };
                let body = if c.is_fixed_length() {
                    format!("{t}{}", c.max)
                } else {
                    format!("{t}..{}", c.max)
                };
                if c.optional {
                    format!("[{body}]")
                } else {
                    body
                }
            })
            .collect();
        parts.join(" ")
    }
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\u{1d}' => "a GS (FNC1) separator".to_owned(),
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c => format!("`{c}`"),
    }
}

fn check_cset64(ai: &str, value: &str, part: &str) -> Result<(), FieldError> {
    let body = part.trim_end_matches('=');
    let pad = part.len() - body.len();
    let bad = body.contains('=') || pad > 2 || (pad > 0 && part.len() % 4 != 0);
    if bad {
        return Err(FieldError::new(
            "invalid_character",
            format!("AI ({ai}) value `{value}` has misplaced base64url `=` padding"),
        ));
    }
    Ok(())
}

fn digits_value(s: &str) -> u64 {
    s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(b.wrapping_sub(b'0')))
    })
}

fn two(s: &str, at: usize) -> u32 {
    let b = s.as_bytes();
    u32::from(b[at].wrapping_sub(b'0')) * 10 + u32::from(b[at + 1].wrapping_sub(b'0'))
}

pub(crate) fn is_leap_year(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(leap: bool, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

fn run_check(
    check: Check,
    ai: &str,
    title: &str,
    value: &str,
    part: &str,
) -> Result<(), FieldError> {
    let fail = |code: &'static str, why: String| {
        Err(FieldError::new(
            code,
            format!("AI ({ai}) {title} value `{value}`: {why}"),
        ))
    };
    let all_digits = part.bytes().all(|b| b.is_ascii_digit());
    match check {
        Check::None => Ok(()),
        Check::Csum => {
            let (payload, cd) = part.split_at(part.len().saturating_sub(1));
            match mod10_check_digit(payload) {
                Some(expected) if cd.as_bytes().first() == Some(&(b'0' + expected)) => Ok(()),
                Some(expected) => fail(
                    "invalid_check_digit",
                    format!("check digit is {cd}, expected {expected}"),
                ),
                None => fail(
                    "invalid_character",
                    "check digit needs digits only".to_owned(),
                ),
            }
        }
        Check::CsumAlpha => match gmn_check_pair(&part[..part.len().saturating_sub(2)]) {
            Some(pair) if part.len() >= 3 && part.ends_with(&pair) => Ok(()),
            Some(pair) if part.len() >= 3 => fail(
                "invalid_check_digit",
                format!(
                    "check characters are `{}`, expected `{pair}`",
                    &part[part.len() - 2..]
                ),
            ),
            _ => fail(
                "invalid_length",
                "too short to carry a check pair".to_owned(),
            ),
        },
        Check::Yymmd0 | Check::Yymmdd => {
            if !all_digits || part.len() != 6 {
                return fail("invalid_date", "not a YYMMDD date".to_owned());
            }
            let (yy, mm, dd) = (two(part, 0), two(part, 2), two(part, 4));
            let leap = yy % 4 == 0;
            let dim = days_in_month(leap, mm);
            let day_ok = (dd == 0 && check == Check::Yymmd0) || (dd >= 1 && dd <= dim);
            if dim == 0 || !day_ok {
                return fail(
                    "invalid_date",
                    format!("`{part}` is not a valid YYMMDD date"),
                );
            }
            Ok(())
        }
        Check::Yyyymmdd => {
            if !all_digits || part.len() != 8 {
                return fail("invalid_date", "not a YYYYMMDD date".to_owned());
            }
            let year = i32::try_from(digits_value(&part[..4])).unwrap_or(0);
            let (mm, dd) = (two(part, 4), two(part, 6));
            let dim = days_in_month(is_leap_year(year), mm);
            if dim == 0 || dd == 0 || dd > dim {
                return fail(
                    "invalid_date",
                    format!("`{part}` is not a valid YYYYMMDD date"),
                );
            }
            Ok(())
        }
        Check::Hh | Check::Mi | Check::Ss | Check::Hhmi => {
            let ok = all_digits
                && match check {
                    Check::Hh => part.len() == 2 && two(part, 0) <= 23,
                    Check::Hhmi => part.len() == 4 && two(part, 0) <= 23 && two(part, 2) <= 59,
                    _ => part.len() == 2 && two(part, 0) <= 59,
                };
            if ok {
                Ok(())
            } else {
                fail("invalid_time", format!("`{part}` is not a valid time"))
            }
        }
        Check::Zero => {
            if part == "0" {
                Ok(())
            } else {
                fail("invalid_value", format!("`{part}` must be 0"))
            }
        }
        Check::NonZero => {
            if part.bytes().any(|b| b != b'0') {
                Ok(())
            } else {
                fail("invalid_value", format!("`{part}` must not be zero"))
            }
        }
        Check::Winding => match part {
            "0" | "1" | "9" => Ok(()),
            _ => fail(
                "invalid_value",
                format!("winding direction `{part}` must be 0, 1 or 9"),
            ),
        },
        Check::YesNo => match part {
            "0" | "1" => Ok(()),
            _ => fail("invalid_value", format!("`{part}` must be 0 or 1")),
        },
        Check::Hyphen => {
            if part == "-" {
                Ok(())
            } else {
                fail("invalid_value", format!("`{part}` must be `-`"))
            }
        }
        Check::NoZeroPrefix => {
            if part.len() > 1 && part.starts_with('0') {
                fail("invalid_value", format!("`{part}` must not start with 0"))
            } else {
                Ok(())
            }
        }
        Check::PieceOfTotal => {
            let ok = all_digits && part.len() == 4 && {
                let (p, t) = (two(part, 0), two(part, 2));
                p >= 1 && t >= 1 && p <= t
            };
            if ok {
                Ok(())
            } else {
                fail(
                    "invalid_value",
                    format!("`{part}` is not a valid piece number and total"),
                )
            }
        }
        Check::ImporterIdx => {
            if part.len() == 1 && Cset::Cset64.contains(part.as_bytes()[0]) {
                Ok(())
            } else {
                fail(
                    "invalid_value",
                    format!("`{part}` is not a valid importer index"),
                )
            }
        }
        Check::PercentEncoded => {
            let b = part.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                    if !ok {
                        return fail("invalid_value", "`%` must start a %XX escape".to_owned());
                    }
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Ok(())
        }
        Check::Iban => {
            if iban_ok(part) {
                Ok(())
            } else {
                fail(
                    "invalid_check_digit",
                    format!("`{part}` is not a valid IBAN"),
                )
            }
        }
        Check::Latitude | Check::Longitude => {
            let limit = if check == Check::Latitude {
                1_800_000_000
            } else {
                3_600_000_000
            };
            if all_digits && digits_value(part) <= limit {
                Ok(())
            } else {
                fail("invalid_value", format!("`{part}` is out of range"))
            }
        }
        Check::HasNonDigit => {
            if all_digits {
                fail(
                    "invalid_value",
                    "must contain a character that is not a digit".to_owned(),
                )
            } else {
                Ok(())
            }
        }
        Check::Iso5218 => match part {
            "0" | "1" | "2" | "9" => Ok(()),
            _ => fail(
                "invalid_value",
                format!("`{part}` is not an ISO/IEC 5218 code"),
            ),
        },
        Check::PosInSeqSlash => {
            let ok = part.split_once('/').is_some_and(|(p, t)| {
                !p.is_empty()
                    && !t.is_empty()
                    && p.bytes().chain(t.bytes()).all(|b| b.is_ascii_digit())
                    && !p.starts_with('0')
                    && !t.starts_with('0')
                    && digits_value(p) <= digits_value(t)
            });
            if ok {
                Ok(())
            } else {
                fail("invalid_value", format!("`{part}` is not `n/m`"))
            }
        }
    }
}

/// The GS1 alphanumeric check pair (used by GMN, AI 8013) over `data` (CSET 82, at most 24
/// characters): each character's CSET 82 index is weighted by a prime, the largest weight on the
/// left and 2 on the right; the sum modulo 1021 is written as two characters of the 32-character
/// alphabet `23456789ABCDEFGHJKLMNPQRSTUVWXYZ`. `None` if `data` is empty, too long or not CSET 82.
pub fn gmn_check_pair(data: &str) -> Option<String> {
    const PRIMES: [u32; 24] = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
    ];
    const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    if data.is_empty() || data.len() > PRIMES.len() {
        return None;
    }
    let mut sum = 0u32;
    for (i, b) in data.bytes().rev().enumerate() {
        let idx = CSET82.iter().position(|&c| c == b)?;
        sum += u32::try_from(idx).ok()? * PRIMES[i];
    }
    let sum = sum % 1021;
    let hi = ALPHABET[(sum >> 5) as usize];
    let lo = ALPHABET[(sum & 31) as usize];
    Some(String::from_utf8_lossy(&[hi, lo]).into_owned())
}

fn iban_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    let mut rem = 0u32;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Looks up an AI (2 to 4 digits) in the dictionary.
pub fn lookup(ai: &str) -> Option<&'static AiDef> {
    if !(2..=4).contains(&ai.len()) || !ai.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    table::TABLE.iter().find(|d| d.covers(ai))
}

/// Finds the AI at the start of `data` (GS1 AIs are prefix-free, so at most one matches).
/// Returns the AI as a slice of `data` and its entry.
pub fn match_prefix(data: &str) -> Option<(&str, &'static AiDef)> {
    (2..=4).find_map(|n| {
        let ai = data.get(..n)?;
        lookup(ai).map(|d| (ai, d))
    })
}

/// Every entry of the dictionary, in AI order.
pub fn entries() -> impl Iterator<Item = &'static AiDef> {
    table::TABLE.iter()
}

/// Total length (AI + value) of an element whose AI begins with one of the predefined-length
/// two-digit prefixes, or `None` if an FNC1 separator terminates it.
pub fn predefined_length(ai: &str) -> Option<usize> {
    let prefix = ai.get(..2)?;
    Some(match prefix {
        "00" => 20,
        "01" | "02" | "03" => 16,
        "04" => 18,
        "11" | "12" | "13" | "14" | "15" | "16" | "17" | "18" | "19" => 8,
        "20" => 4,
        "31" | "32" | "33" | "34" | "35" | "36" => 10,
        "41" => 16,
        _ => return None,
    })
}

/// Whether an FNC1 (GS) separator must follow `ai` when another element follows it. Decided by
/// the predefined-length prefix table only, so fixed-length AIs outside it (e.g. 402, 8006,
/// 7003) still need the separator.
pub fn needs_fnc1(ai: &str) -> bool {
    predefined_length(ai).is_none()
}

/// Whether AI pattern `pattern` (digits, with `n` for any digit) matches `ai`.
pub(crate) fn pattern_matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len()
        && pattern
            .bytes()
            .zip(ai.bytes())
            .all(|(p, a)| p == a || (p == b'n' && a.is_ascii_digit()))
}

/// Checks the mutual exclusions and (if `requisites`) the requisites of the elements present,
/// given as `(AI, value)` pairs (the values are only quoted in messages).
pub(crate) fn check_associations(
    elements: &[(&str, &str)],
    requisites: bool,
) -> Result<(), FieldError> {
    let present = |pat: &str| elements.iter().any(|&(o, _)| pattern_matches(pat, o));
    for &(ai, value) in elements {
        let Some(def) = lookup(ai) else { continue };
        for pat in def.exclusions() {
            let clash = elements
                .iter()
                .find(|&&(o, _)| o != ai && pattern_matches(pat, o));
            if let Some(&(other, other_value)) = clash {
                return Err(FieldError::new(
                    "mutually_exclusive_ais",
                    format!(
                        "AI ({ai}) {} `{value}` may not appear together with AI ({other}) `{other_value}`",
                        def.title
                    ),
                ));
            }
        }
    }
    if !requisites {
        return Ok(());
    }
    for &(ai, value) in elements {
        let Some(def) = lookup(ai) else { continue };
        for clause in def.req {
            let satisfied = clause.split(',').any(|alt| alt.split('+').all(present));
            if !satisfied {
                let wanted: Vec<String> = clause
                    .split(',')
                    .map(|alt| {
                        alt.split('+')
                            .map(|p| format!("({p})"))
                            .collect::<Vec<_>>()
                            .join(" with ")
                    })
                    .collect();
                return Err(FieldError::new(
                    "missing_required_ai",
                    format!(
                        "AI ({ai}) {} `{value}` requires {} to be present",
                        def.title,
                        wanted.join(" or ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A GS1 `YYMMDD` date as carried by AIs 11, 13, 15, 16, 17 (and others). `DD = 00` means the
/// last day of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gs1Date {
    yy: u8,
    mm: u8,
    dd: u8,
}

impl Gs1Date {
    /// Parses `YYMMDD`; `DD = 00` is accepted.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        run_check(Check::Yymmd0, "date", "YYMMDD", s, s)?;
        // Validated above: six digits with a real month.
        let d = |i: usize| u8::try_from(two(s, i)).unwrap_or(0);
        Ok(Self {
            yy: d(0),
            mm: d(2),
            dd: d(4),
        })
    }
    /// The two-digit year.
    pub fn year_in_century(&self) -> u8 {
        self.yy
    }
    pub fn month(&self) -> u8 {
        self.mm
    }
    /// The day, or `None` when the date says `00` ("end of the month").
    pub fn day(&self) -> Option<u8> {
        (self.dd != 0).then_some(self.dd)
    }
    /// The full year by the GS1 General Specifications' sliding window, relative to the current
    /// year `reference_year` (the caller's clock: this crate has none): a two-digit year more
    /// than 50 years ahead is in the previous century, one 50 or more years behind in the next.
    pub fn full_year(&self, reference_year: i32) -> i32 {
        let century = reference_year.div_euclid(100) * 100;
        let diff = i32::from(self.yy) - reference_year.rem_euclid(100);
        if diff >= 51 {
            century - 100 + i32::from(self.yy)
        } else if diff <= -50 {
            century + 100 + i32::from(self.yy)
        } else {
            century + i32::from(self.yy)
        }
    }
    /// The calendar date, with `DD = 00` resolved to the month's last day. `None` only when the
    /// window puts a 29 February into a non-leap century year.
    pub fn to_date(&self, reference_year: i32) -> Option<NaiveDate> {
        let year = self.full_year(reference_year);
        let month = u32::from(self.mm);
        let day = match self.dd {
            0 => days_in_month(is_leap_year(year), month),
            d => u32::from(d),
        };
        NaiveDate::from_ymd_opt(year, month, day)
    }
}

impl std::fmt::Display for Gs1Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}{:02}{:02}", self.yy, self.mm, self.dd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_consistent_and_prefix_free() {
        let all: Vec<&AiDef> = entries().collect();
        for d in &all {
            assert!(
                d.first <= d.last && d.first.len() == d.last.len(),
                "{}",
                d.first
            );
            assert_eq!(
                d.predefined,
                predefined_length(d.first).is_some(),
                "predefined flag of {} disagrees with the prefix table",
                d.first
            );
            if let Some(total) = predefined_length(d.first) {
                assert_eq!(d.min_len(), total - d.first.len(), "{}", d.first);
                assert_eq!(d.max_len(), total - d.first.len(), "{}", d.first);
            }
            assert!(!d.components.is_empty());
            // Only the final component may be variable; optional ones only at the end.
            let n = d.components.len();
            for (i, c) in d.components.iter().enumerate() {
                if i + 1 < n {
                    assert!(
                        c.is_fixed_length() || d.components[i + 1..].iter().all(|c| c.optional),
                        "{}",
                        d.first
                    );
                }
                if c.optional {
                    assert!(d.components[i..].iter().all(|c| c.optional), "{}", d.first);
                }
            }
        }
        // No AI is a prefix of another one.
        let mut ais: Vec<String> = Vec::new();
        for d in &all {
            let lo: u32 = d.first.parse().unwrap();
            let hi: u32 = d.last.parse().unwrap();
            for v in lo..=hi {
                ais.push(format!("{v:0width$}", width = d.first.len()));
            }
        }
        for a in &ais {
            for b in &ais {
                assert!(
                    a == b || !b.starts_with(a.as_str()),
                    "{a} is a prefix of {b}"
                );
            }
            assert_eq!(
                ais.iter().filter(|x| *x == a).count(),
                1,
                "{a} listed twice"
            );
        }
        for w in all.windows(2) {
            assert!(
                w[0].first < w[1].first,
                "{} before {}",
                w[0].first,
                w[1].first
            );
        }
        // Every AI named in a rule exists (patterns with `n` at least match something).
        for d in &all {
            let named = d
                .req
                .iter()
                .flat_map(|c| c.split([',', '+']))
                .chain(d.exclusions());
            for p in named {
                assert!(
                    ais.iter().any(|a| pattern_matches(p, a)),
                    "{} names unknown {p}",
                    d.first
                );
            }
            for q in d.dl_qualifier_sequences().into_iter().flatten() {
                assert!(lookup(q).is_some(), "{} qualifier {q}", d.first);
            }
        }
    }

    #[test]
    fn required_ais_from_the_brief_are_present() {
        let required = [
            "00", "01", "02", "10", "11", "13", "15", "16", "17", "20", "21", "22", "235", "240",
            "241", "250", "251", "253", "254", "255", "30", "37", "400", "401", "402", "403",
            "7003", "7007", "7240", "8003", "8004", "8006", "8008", "8010", "8011", "8012", "8013",
            "8017", "8018", "8019", "8020", "8026", "8030", "90",
        ];
        for ai in required {
            assert!(lookup(ai).is_some(), "{ai}");
        }
        for ai in 410..=417 {
            assert!(lookup(&ai.to_string()).is_some(), "{ai}");
        }
        for ai in 422..=426 {
            assert!(lookup(&ai.to_string()).is_some(), "{ai}");
        }
        for ai in 91..=99 {
            assert!(lookup(&ai.to_string()).is_some(), "{ai}");
        }
        for m in 310..=369 {
            if (317..=319).contains(&m) || (338..=339).contains(&m) || m == 358 || m == 359 {
                continue; // not allocated
            }
            for n in 0..=5 {
                assert!(lookup(&format!("{m}{n}")).is_some(), "{m}{n}");
            }
        }
        assert_eq!(lookup("3102").unwrap().title(), "NET WEIGHT (kg)");
        assert!(lookup("3106").is_none());
        assert!(lookup("23").is_none());
        assert!(lookup("1").is_none());
        assert!(lookup("0a").is_none());
    }

    #[test]
    fn fnc1_rules() {
        for ai in ["00", "01", "02", "11", "17", "20", "3103", "3922", "414"] {
            let needs = ai.starts_with("39");
            assert_eq!(needs_fnc1(ai), needs, "{ai}");
        }
        for ai in [
            "10", "21", "402", "8006", "7003", "8111", "30", "37", "253", "90",
        ] {
            assert!(needs_fnc1(ai), "{ai}");
        }
    }

    #[test]
    fn value_rules() {
        let v = |ai: &str, value: &str| lookup(ai).unwrap().validate(ai, value).map_err(|e| e.code);
        assert_eq!(v("01", "12345678901231"), Ok(()));
        assert_eq!(v("01", "12345678901234"), Err("invalid_check_digit"));
        assert_eq!(v("01", "1234567890123"), Err("invalid_length"));
        assert_eq!(v("01", "1234567890123A"), Err("invalid_character"));
        assert_eq!(v("00", "123456789012345675"), Ok(()));
        assert_eq!(v("00", "123456789012345670"), Err("invalid_check_digit"));
        assert_eq!(v("10", "ABC-123/x"), Ok(()));
        assert_eq!(v("10", "ABC 123"), Err("invalid_character"));
        for bad in [
            "#", "$", "@", "[", "\\", "]", "^", "`", "{", "|", "}", "~", "é", "\u{1d}",
        ] {
            assert_eq!(
                v("21", &format!("A{bad}")),
                Err("invalid_character"),
                "{bad}"
            );
        }
        assert_eq!(v("21", "!\"%&'()*+,-./:;<=>?_zZ9"), Err("invalid_length"));
        assert_eq!(v("21", "!\"%&'()*+,-./:;<=>?_"), Ok(()));
        assert_eq!(v("10", ""), Err("invalid_length"));
        assert_eq!(v("10", "123456789012345678901"), Err("invalid_length"));
        assert_eq!(v("17", "991231"), Ok(()));
        assert_eq!(v("17", "250200"), Ok(()));
        assert_eq!(v("17", "240229"), Ok(()));
        assert_eq!(v("17", "250229"), Err("invalid_date"));
        assert_eq!(v("17", "251301"), Err("invalid_date"));
        assert_eq!(v("17", "250431"), Err("invalid_date"));
        assert_eq!(v("7007", "250100"), Err("invalid_date"));
        assert_eq!(v("7007", "250101250131"), Ok(()));
        assert_eq!(v("7003", "2501012359"), Ok(()));
        assert_eq!(v("7003", "2501012460"), Err("invalid_time"));
        assert_eq!(v("8008", "25010112"), Ok(()));
        assert_eq!(v("8008", "250101125959"), Ok(()));
        assert_eq!(v("8008", "25010112595"), Err("invalid_length"));
        assert_eq!(v("8003", "11234567890128"), Err("invalid_value"));
        assert_eq!(v("8003", "00614141000418"), Ok(()));
        assert_eq!(v("8003", "00614141000418ABC"), Ok(()));
        assert_eq!(v("8006", "123456789012310102"), Ok(()));
        assert_eq!(v("8006", "123456789012310302"), Err("invalid_value"));
        assert_eq!(v("8011", "0123"), Err("invalid_value"));
        assert_eq!(v("8011", "0"), Ok(()));
        assert_eq!(v("8010", "ABC#-/1"), Ok(()));
        assert_eq!(v("8010", "abc"), Err("invalid_character"));
        assert_eq!(v("8030", "QUJD"), Ok(()));
        assert_eq!(v("8030", "QUI="), Ok(()));
        assert_eq!(v("8030", "QU=I"), Err("invalid_character"));
        assert_eq!(v("8007", "GB82WEST12345698765432"), Ok(()));
        assert_eq!(
            v("8007", "GB82WEST12345698765433"),
            Err("invalid_check_digit")
        );
        assert_eq!(v("253", "4000001000005"), Ok(()));
        assert_eq!(v("253", "4000001000005ABC"), Ok(()));
        assert_eq!(v("255", "4000001000005123456789012"), Ok(()));
        assert_eq!(
            v("255", "40000010000051234567890123"),
            Err("invalid_length")
        );
        assert_eq!(v("4300", "ACME%20Corp"), Ok(()));
        assert_eq!(v("4300", "ACME%2"), Err("invalid_value"));
    }

    #[test]
    fn gmn_check_pair_published_example() {
        // GS1 General Specifications, GMN example.
        assert_eq!(
            gmn_check_pair("1987654Ad4X4bL5ttr2310c").as_deref(),
            Some("2K")
        );
        let v = |value: &str| {
            lookup("8013")
                .unwrap()
                .validate("8013", value)
                .map_err(|e| e.code)
        };
        assert_eq!(v("1987654Ad4X4bL5ttr2310c2K"), Ok(()));
        assert_eq!(v("1987654Ad4X4bL5ttr2310c2L"), Err("invalid_check_digit"));
    }

    #[test]
    fn dates() {
        let d = Gs1Date::parse("270100").unwrap();
        assert_eq!(d.day(), None);
        assert_eq!(d.to_date(2025), NaiveDate::from_ymd_opt(2027, 1, 31));
        assert_eq!(
            Gs1Date::parse("240200").unwrap().to_date(2025),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(Gs1Date::parse("991231").unwrap().full_year(2025), 1999);
        assert_eq!(Gs1Date::parse("750101").unwrap().full_year(2025), 2075);
        assert_eq!(Gs1Date::parse("760101").unwrap().full_year(2025), 1976);
        assert_eq!(Gs1Date::parse("050101").unwrap().full_year(2090), 2105);
        assert_eq!(Gs1Date::parse("270131").unwrap().to_string(), "270131");
        assert_eq!(Gs1Date::parse("271301").unwrap_err().code, "invalid_date");
    }

    #[test]
    fn associations() {
        assert_eq!(
            check_associations(&[("01", "v"), ("21", "v")], true),
            Ok(())
        );
        assert_eq!(
            check_associations(&[("21", "v")], true).unwrap_err().code,
            "missing_required_ai"
        );
        assert_eq!(check_associations(&[("21", "v")], false), Ok(()));
        assert_eq!(
            check_associations(&[("10", "v")], true).unwrap_err().code,
            "missing_required_ai"
        );
        assert_eq!(
            check_associations(&[("02", "v"), ("10", "v")], true)
                .unwrap_err()
                .code,
            "missing_required_ai"
        );
        assert_eq!(
            check_associations(&[("00", "v"), ("02", "v"), ("37", "v"), ("10", "v")], true),
            Ok(())
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("250", "v")], true)
                .unwrap_err()
                .code,
            "missing_required_ai"
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("21", "v"), ("250", "v")], true),
            Ok(())
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("02", "v")], true)
                .unwrap_err()
                .code,
            "mutually_exclusive_ais"
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("21", "v"), ("235", "v")], true)
                .unwrap_err()
                .code,
            "mutually_exclusive_ais"
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("3102", "v"), ("3103", "v")], true)
                .unwrap_err()
                .code,
            "mutually_exclusive_ais"
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("3102", "v"), ("3202", "v")], true),
            Ok(())
        );
        assert_eq!(
            check_associations(&[("8030", "v")], true).unwrap_err().code,
            "missing_required_ai"
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("8030", "v")], true)
                .unwrap_err()
                .code,
            "missing_required_ai"
        );
        assert_eq!(
            check_associations(&[("01", "v"), ("21", "v"), ("8030", "v")], true),
            Ok(())
        );
        let msg = check_associations(&[("21", "v")], true)
            .unwrap_err()
            .message;
        assert!(
            msg.contains("(21)") && msg.contains("(01) or (03) or (8006)"),
            "{msg}"
        );
    }
}
