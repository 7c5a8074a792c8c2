//! Serial templates: the shape of the serials a rule makes, written as text such as
//! `PJC-{YYMMDD}-{LINE}-{SEQ:5}` and parsed once into [`Part`]s.
//!
//! # Syntax
//!
//! Text outside braces is copied as it is. It may use the characters of GS1 CSET 82 (letters,
//! digits and ``!"%&'()*+,-./:;<=>?_``), so every serial can travel in GS1 AI (21); braces are
//! not allowed in serials and there is no escape for them.
//!
//! | placeholder | writes | width |
//! |---|---|---|
//! | `{PRODUCT}`, `{CATEGORY}`, `{SITE}`, `{LINE}` | the code from the allocation context | its length, or exactly `n` with `{LINE:n}` |
//! | `{YY}`, `{YYYY}`, `{MM}`, `{DD}`, `{YYMMDD}` | the allocation date in the rule's time zone | 2, 4, 2, 2, 6 |
//! | `{JJJ}` | day of the year, `001`–`366` | 3 |
//! | `{WW}` | ISO 8601 week, `01`–`53` | 2 |
//! | `{SEQ:width}`, `{SEQ:width:alphabet}` | the sequence value, zero-padded (radix 10 by default) | `width` |
//! | `{RAND:length}`, `{RAND:length:alphabet}` | random characters (digits by default) | `length` |
//! | `{CHECK:algorithm}` | check character(s) over what comes before it (below) | 1 (2 for `mod97-10`) |
//!
//! A check character covers every character a placeholder before it writes, and the literal
//! characters before it that the algorithm can read; literal characters it cannot read
//! (separators such as `-`, letters under a numeric algorithm) are skipped, the way ORCID's
//! MOD 11-2 skips its hyphens. They are the same in every serial and checked by position, so
//! skipping them loses no protection, and `PJC-{YYMMDD}-{LINE}-{SEQ:5}{CHECK:mod37-36}` works.
//!
//! An alphabet is a radix from 2 to 36 (`{SEQ:6:36}`), a built-in name (`crockford32`,
//! `alnum`, …, see [`crate::alphabet::BUILTIN`]) or the name of one of the rule's own alphabets.
//!
//! # What a template promises
//!
//! Parsing refuses, naming the position, anything that would break these:
//! - every serial of the template can be read back into its parts without guessing: at most one
//!   part has no fixed width (give the others one, like `{SITE:2}`);
//! - serials differ from one another: there is one `{SEQ}` or at least one `{RAND}`;
//! - a serial has at most [`MAX_SERIAL_LEN`] characters;
//! - the check character can cover every sequence and random character before it (letters
//!   cannot be under `luhn`, say); codes from the context are checked when serials are made;
//! - a sequence's largest value plus one fits in a `u64`, so a counter can always name the
//!   value after the last one it handed out.

use chrono::{Datelike, NaiveDate};
use threadline_domain::FieldError;

use crate::alphabet::{Alphabet, is_cset82};
use crate::check::CheckAlgorithm;

/// The longest serial a rule may make (the store's limit for any serial).
pub const MAX_SERIAL_LEN: usize = threadline_domain::codes::MAX_SERIAL_LEN;

/// The longest template text accepted.
pub const MAX_TEMPLATE_LEN: usize = 200;

/// A code taken from the allocation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContextField {
    Product,
    Category,
    Site,
    Line,
}

impl ContextField {
    /// Every context field, in the order a sequence scope key lists them.
    pub const ALL: [ContextField; 4] = [
        ContextField::Product,
        ContextField::Category,
        ContextField::Site,
        ContextField::Line,
    ];

    /// The placeholder name, `PRODUCT`.
    pub fn placeholder(self) -> &'static str {
        match self {
            ContextField::Product => "PRODUCT",
            ContextField::Category => "CATEGORY",
            ContextField::Site => "SITE",
            ContextField::Line => "LINE",
        }
    }

    /// The field name in requests and error paths, `product`.
    pub fn field(self) -> &'static str {
        match self {
            ContextField::Product => "product",
            ContextField::Category => "category",
            ContextField::Site => "site",
            ContextField::Line => "line",
        }
    }
}

/// A part of the allocation date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    /// Two-digit year; read back as 20YY.
    Yy,
    /// Four-digit year.
    Yyyy,
    /// Month, `01`–`12`.
    Mm,
    /// Day of the month, `01`–`31`.
    Dd,
    /// Year, month and day, `YYMMDD`.
    Yymmdd,
    /// Day of the year (the "Julian day" of factory date codes), `001`–`366`.
    DayOfYear,
    /// ISO 8601 week number, `01`–`53`.
    IsoWeek,
}

impl DatePart {
    const ALL: [DatePart; 7] = [
        DatePart::Yy,
        DatePart::Yyyy,
        DatePart::Mm,
        DatePart::Dd,
        DatePart::Yymmdd,
        DatePart::DayOfYear,
        DatePart::IsoWeek,
    ];

    /// The placeholder name, `YYMMDD`.
    pub fn placeholder(self) -> &'static str {
        match self {
            DatePart::Yy => "YY",
            DatePart::Yyyy => "YYYY",
            DatePart::Mm => "MM",
            DatePart::Dd => "DD",
            DatePart::Yymmdd => "YYMMDD",
            DatePart::DayOfYear => "JJJ",
            DatePart::IsoWeek => "WW",
        }
    }

    /// How many digits it writes.
    pub fn width(self) -> usize {
        match self {
            DatePart::Yy | DatePart::Mm | DatePart::Dd | DatePart::IsoWeek => 2,
            DatePart::DayOfYear => 3,
            DatePart::Yyyy => 4,
            DatePart::Yymmdd => 6,
        }
    }

    /// Whether it shows the year.
    pub fn shows_year(self) -> bool {
        matches!(self, DatePart::Yy | DatePart::Yyyy | DatePart::Yymmdd)
    }

    /// Appends the digits for `date`. Two-digit years cover 2000–2099 only, so that reading a
    /// serial back gives the year it was made in.
    pub(crate) fn render(self, date: NaiveDate, out: &mut Vec<u8>) -> Result<(), FieldError> {
        let year = date.year();
        if self.shows_year() && self != DatePart::Yyyy && !(2000..=2099).contains(&year) {
            return Err(FieldError::new(
                "date_out_of_range",
                format!(
                    "{{{}}} writes two-digit years for 2000–2099; {year} is outside",
                    self.placeholder()
                ),
            ));
        }
        if self == DatePart::Yyyy && !(0..=9999).contains(&year) {
            return Err(FieldError::new(
                "date_out_of_range",
                format!("{{YYYY}} cannot write the year {year}"),
            ));
        }
        let push = |out: &mut Vec<u8>, value: u32, width: u32| {
            for k in (0..width).rev() {
                out.push(b'0' + (value / 10u32.pow(k) % 10) as u8);
            }
        };
        let year = year.unsigned_abs();
        match self {
            DatePart::Yy => push(out, year % 100, 2),
            DatePart::Yyyy => push(out, year, 4),
            DatePart::Mm => push(out, date.month(), 2),
            DatePart::Dd => push(out, date.day(), 2),
            DatePart::Yymmdd => {
                push(out, year % 100, 2);
                push(out, date.month(), 2);
                push(out, date.day(), 2);
            }
            DatePart::DayOfYear => push(out, date.ordinal(), 3),
            DatePart::IsoWeek => push(out, date.iso_week().week(), 2),
        }
        Ok(())
    }
}

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as it is.
    Literal(String),
    /// A code from the allocation context; `width` is its exact length, if fixed.
    Context {
        field: ContextField,
        width: Option<usize>,
    },
    /// A part of the allocation date.
    Date(DatePart),
    /// The sequence value, zero-padded to `width` characters of `alphabet`.
    Sequence { width: usize, alphabet: Alphabet },
    /// `len` characters drawn uniformly from `alphabet`.
    Random { len: usize, alphabet: Alphabet },
    /// The check character(s) over everything before.
    Check(CheckAlgorithm),
}

impl Part {
    /// How many characters it writes, or `None` for a context code without a width.
    pub fn width(&self) -> Option<usize> {
        match self {
            Part::Literal(text) => Some(text.len()),
            Part::Context { width, .. } => *width,
            Part::Date(date) => Some(date.width()),
            Part::Sequence { width, .. } => Some(*width),
            Part::Random { len, .. } => Some(*len),
            Part::Check(algorithm) => Some(algorithm.check_len()),
        }
    }
}

/// A parsed template. See the [module documentation](self) for the syntax and promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
    /// 1-based position of each part in `source`.
    positions: Vec<usize>,
}

fn template_error(code: &'static str, snippet: &str, position: usize, why: String) -> FieldError {
    FieldError::new(code, format!("`{snippet}` at position {position}: {why}")).at("template")
}

impl Template {
    /// Parses a template that uses built-in alphabets only.
    pub fn parse(text: &str) -> Result<Template, FieldError> {
        Self::parse_with(text, &[])
    }

    /// Parses a template that may also name the given alphabets.
    pub fn parse_with(text: &str, alphabets: &[Alphabet]) -> Result<Template, FieldError> {
        if text.is_empty() {
            return Err(FieldError::new("empty", "the template is empty").at("template"));
        }
        if let Some((i, c)) = text
            .char_indices()
            .find(|&(_, c)| !c.is_ascii() || !(is_cset82(c as u8) || c == '{' || c == '}'))
        {
            let position = text[..i].chars().count() + 1;
            return Err(template_error(
                "invalid_character",
                &c.escape_debug().to_string(),
                position,
                "serials use GS1 CSET 82 characters: letters, digits and \
                 !\"%&'()*+,-./:;<=>?_ (no spaces)"
                    .to_owned(),
            ));
        }
        // From here on the text is ASCII, so byte offsets are character positions.
        if text.len() > MAX_TEMPLATE_LEN {
            return Err(FieldError::new(
                "too_long",
                format!(
                    "the template has {} characters; at most {MAX_TEMPLATE_LEN} are allowed",
                    text.len()
                ),
            )
            .at("template"));
        }
        let mut template = Template {
            source: text.to_owned(),
            parts: Vec::new(),
            positions: Vec::new(),
        };
        let bytes = text.as_bytes();
        let mut literal_start = None;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => {
                    if let Some(start) = literal_start.take() {
                        template.push(start, Part::Literal(text[start..i].to_owned()));
                    }
                    let close = bytes[i + 1..]
                        .iter()
                        .position(|&b| b == b'{' || b == b'}')
                        .map(|k| i + 1 + k)
                        .filter(|&k| bytes[k] == b'}')
                        .ok_or_else(|| {
                            template_error(
                                "unclosed_placeholder",
                                "{",
                                i + 1,
                                "this placeholder has no closing `}`".to_owned(),
                            )
                        })?;
                    let part = parse_placeholder(&text[i..=close], i + 1, alphabets)?;
                    template.push(i, part);
                    i = close + 1;
                }
                b'}' => {
                    return Err(template_error(
                        "unopened_placeholder",
                        "}",
                        i + 1,
                        "there is no `{` before it; serials cannot contain braces".to_owned(),
                    ));
                }
                _ => {
                    literal_start.get_or_insert(i);
                    i += 1;
                }
            }
        }
        if let Some(start) = literal_start {
            template.push(start, Part::Literal(text[start..].to_owned()));
        }
        template.check_promises()?;
        Ok(template)
    }

    fn push(&mut self, offset: usize, part: Part) {
        self.parts.push(part);
        self.positions.push(offset + 1);
    }

    /// The text of the part at `index`, for error messages.
    fn snippet(&self, index: usize) -> &str {
        let start = self.positions[index] - 1;
        let end = self
            .positions
            .get(index + 1)
            .map_or(self.source.len(), |p| p - 1);
        &self.source[start..end]
    }

    fn check_promises(&self) -> Result<(), FieldError> {
        let mut sequence = None;
        let mut check = None;
        let mut variable = None;
        let mut codes = [None; ContextField::ALL.len()];
        for (index, part) in self.parts.iter().enumerate() {
            let repeated = |first: usize, why: String| {
                Err(template_error(
                    "repeated_part",
                    self.snippet(index),
                    self.positions[index],
                    format!("{why} (the first is at position {})", self.positions[first]),
                ))
            };
            match part {
                Part::Sequence { .. } | Part::Check(_) => {
                    let slot = if matches!(part, Part::Check(_)) {
                        &mut check
                    } else {
                        &mut sequence
                    };
                    if let Some(first) = slot.replace(index) {
                        return repeated(first, "a template has at most one of these".to_owned());
                    }
                }
                Part::Context { field, width } => {
                    if let Some(first) = codes[*field as usize].replace(index) {
                        return repeated(first, "a template writes each code once".to_owned());
                    }
                    if width.is_some() {
                        continue;
                    }
                    if let Some(first) = variable.replace(index) {
                        return repeated(
                            first,
                            format!(
                                "`{}` has no width either, so a serial could not be read back \
                                 into its parts; give all but one code a width, like `{{{}:3}}`",
                                self.snippet(first),
                                field.placeholder()
                            ),
                        );
                    }
                }
                Part::Literal(_) | Part::Date(_) | Part::Random { .. } => {}
            }
        }
        if sequence.is_none() && !self.parts.iter().any(|p| matches!(p, Part::Random { .. })) {
            return Err(FieldError::new(
                "no_unique_part",
                format!(
                    "template `{}` has neither {{SEQ:…}} nor {{RAND:…}}, so every serial it \
                     makes would be the same",
                    self.source
                ),
            )
            .at("template"));
        }
        if let Some(index) = check {
            self.check_coverage(index)?;
        }
        let fixed = self.fixed_len() + usize::from(variable.is_some());
        if fixed > MAX_SERIAL_LEN {
            return Err(FieldError::new(
                "too_long",
                format!(
                    "serials of template `{}` would have {}{fixed} characters; a serial has at \
                     most {MAX_SERIAL_LEN}",
                    self.source,
                    if variable.is_some() { "at least " } else { "" }
                ),
            )
            .at("template"));
        }
        Ok(())
    }

    fn check_coverage(&self, index: usize) -> Result<(), FieldError> {
        let Part::Check(algorithm) = self.parts[index] else {
            return Ok(());
        };
        let at = self.positions[index];
        if self.parts[..index]
            .iter()
            .all(|p| matches!(p, Part::Literal(_)))
        {
            return Err(template_error(
                "check_covers_nothing",
                self.snippet(index),
                at,
                "a check character covers the placeholders before it, and there are none"
                    .to_owned(),
            ));
        }
        for (k, part) in self.parts[..index].iter().enumerate() {
            if let Part::Sequence { alphabet, .. } | Part::Random { alphabet, .. } = part {
                if let Some(c) = alphabet.chars().bytes().find(|&b| !algorithm.can_cover(b)) {
                    return Err(template_error(
                        "check_alphabet",
                        self.snippet(k),
                        self.positions[k],
                        format!(
                            "writes `{}`, which the {} check character at position {at} \
                             cannot cover ({})",
                            c as char,
                            algorithm.name(),
                            match algorithm {
                                CheckAlgorithm::Mod37_36 => "digits and upper-case letters",
                                _ => "digits only",
                            }
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Which characters of a serial the check character covers: every character from a
    /// placeholder before it, and the literal characters before it that the algorithm can
    /// read. `variable_len` is the width of the part without one. Empty without a check.
    pub(crate) fn check_mask(&self, variable_len: usize) -> Vec<bool> {
        let mut mask = Vec::new();
        let Some(algorithm) = self.check() else {
            return mask;
        };
        for part in self
            .parts
            .iter()
            .take_while(|p| !matches!(p, Part::Check(_)))
        {
            match part {
                Part::Literal(text) => mask.extend(text.bytes().map(|b| algorithm.can_cover(b))),
                other => {
                    let width = other.width().unwrap_or(variable_len);
                    mask.extend(std::iter::repeat_n(true, width));
                }
            }
        }
        mask
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The 1-based position of the part at `index` in the text.
    pub fn position(&self, index: usize) -> usize {
        self.positions[index]
    }

    /// The sequence part's width and alphabet, if the template has one.
    pub fn sequence(&self) -> Option<(usize, &Alphabet)> {
        self.parts.iter().find_map(|p| match p {
            Part::Sequence { width, alphabet } => Some((*width, alphabet)),
            _ => None,
        })
    }

    /// The largest value the sequence can write, if the template has one.
    pub fn sequence_max(&self) -> Option<u64> {
        let (width, alphabet) = self.sequence()?;
        // Parsing guarantees radix^width - 1 fits in a u64.
        alphabet
            .combinations(width)
            .and_then(|n| u64::try_from(n - 1).ok())
    }

    /// The check algorithm, if the template has a check character.
    pub fn check(&self) -> Option<CheckAlgorithm> {
        self.parts.iter().find_map(|p| match p {
            Part::Check(algorithm) => Some(*algorithm),
            _ => None,
        })
    }

    /// Whether the template has a `{RAND}` part.
    pub fn has_random(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Random { .. }))
    }

    /// How many different values its random parts together can take: 1 without a random part,
    /// `None` if more than `u128::MAX`.
    pub fn random_combinations(&self) -> Option<u128> {
        self.parts.iter().try_fold(1u128, |n, p| match p {
            Part::Random { len, alphabet } => n.checked_mul(alphabet.combinations(*len)?),
            _ => Some(n),
        })
    }

    /// The entropy of its random parts, in bits.
    pub fn random_bits(&self) -> f64 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Random { len, alphabet } => *len as f64 * f64::from(alphabet.radix()).log2(),
                _ => 0.0,
            })
            .sum()
    }

    /// The date parts, in order.
    pub fn date_parts(&self) -> impl Iterator<Item = DatePart> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Date(d) => Some(*d),
            _ => None,
        })
    }

    /// Whether the template shows `field`.
    pub fn shows(&self, field: ContextField) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Context { field: f, .. } if *f == field))
    }

    /// The context code without a width, if there is one (there is at most one).
    pub fn variable_part(&self) -> Option<ContextField> {
        self.parts.iter().find_map(|p| match p {
            Part::Context { field, width: None } => Some(*field),
            _ => None,
        })
    }

    /// The total width of the parts with a fixed width.
    pub fn fixed_len(&self) -> usize {
        self.parts.iter().filter_map(Part::width).sum()
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses one `{…}` placeholder found at 1-based `position`.
fn parse_placeholder(
    snippet: &str,
    position: usize,
    alphabets: &[Alphabet],
) -> Result<Part, FieldError> {
    let inner = &snippet[1..snippet.len() - 1];
    let mut args = inner.split(':');
    let name = args.next().unwrap_or_default();
    let args: Vec<&str> = args.collect();
    let fail = |code, why: String| template_error(code, snippet, position, why);
    let arity = |min: usize, max: usize, usage: &str| {
        if (min..=max).contains(&args.len()) {
            Ok(())
        } else {
            Err(fail(
                "invalid_placeholder",
                format!("write it as `{usage}`"),
            ))
        }
    };
    let number = |text: &str, what: &str, max: usize| {
        text.parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n) && text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                fail(
                    "invalid_placeholder",
                    format!("the {what} must be a number from 1 to {max}, not `{text}`"),
                )
            })
    };
    let alphabet = |name: &str| {
        alphabets
            .iter()
            .find(|a| a.name() == name)
            .cloned()
            .or_else(|| Alphabet::builtin(name))
            .ok_or_else(|| {
                let mut known: Vec<&str> =
                    crate::alphabet::BUILTIN.iter().map(|(n, _)| *n).collect();
                known.extend(alphabets.iter().map(Alphabet::name));
                fail(
                    "unknown_alphabet",
                    format!(
                        "there is no alphabet `{name}`; use a radix from 2 to 36 or one of {}",
                        known.join(", ")
                    ),
                )
            })
    };
    if let Some(field) = ContextField::ALL
        .into_iter()
        .find(|f| f.placeholder() == name)
    {
        arity(0, 1, &format!("{{{name}}} or {{{name}:width}}"))?;
        let width = match args.first() {
            Some(w) => Some(number(w, "width", MAX_SERIAL_LEN)?),
            None => None,
        };
        return Ok(Part::Context { field, width });
    }
    if let Some(date) = DatePart::ALL.into_iter().find(|d| d.placeholder() == name) {
        arity(0, 0, &format!("{{{name}}}"))?;
        return Ok(Part::Date(date));
    }
    match name {
        "SEQ" => {
            arity(1, 2, "{SEQ:width} or {SEQ:width:alphabet}")?;
            let alphabet = alphabet(args.get(1).copied().unwrap_or("10"))?;
            let max_width = (1..=64)
                .take_while(|&w| {
                    alphabet
                        .combinations(w)
                        .is_some_and(|n| n <= u128::from(u64::MAX))
                })
                .last()
                .unwrap_or(1);
            let width = number(args[0], "width", max_width)?;
            Ok(Part::Sequence { width, alphabet })
        }
        "RAND" => {
            arity(1, 2, "{RAND:length} or {RAND:length:alphabet}")?;
            let len = number(args[0], "length", MAX_SERIAL_LEN)?;
            let alphabet = alphabet(args.get(1).copied().unwrap_or("digits"))?;
            Ok(Part::Random { len, alphabet })
        }
        "CHECK" => {
            arity(1, 1, "{CHECK:algorithm}")?;
            CheckAlgorithm::from_name(args[0])
                .map(Part::Check)
                .ok_or_else(|| {
                    let known: Vec<&str> = CheckAlgorithm::ALL.iter().map(|a| a.name()).collect();
                    fail(
                        "unknown_check",
                        format!(
                            "there is no check algorithm `{}`; use one of {}",
                            args[0],
                            known.join(", ")
                        ),
                    )
                })
        }
        "" => Err(fail(
            "invalid_placeholder",
            "the placeholder is empty".to_owned(),
        )),
        _ => {
            let upper = name.to_ascii_uppercase();
            let known = ContextField::ALL
                .iter()
                .map(|f| f.placeholder())
                .chain(DatePart::ALL.iter().map(|d| d.placeholder()))
                .chain(["SEQ", "RAND", "CHECK"]);
            let names: Vec<&str> = known.collect();
            let why = if upper != name && names.contains(&upper.as_str()) {
                format!("placeholder names are upper case: `{{{upper}…}}`")
            } else {
                format!(
                    "unknown placeholder `{name}`; use one of {}",
                    names.join(", ")
                )
            };
            Err(fail("unknown_placeholder", why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_issue_example() {
        let t = Template::parse("PJC-{YYMMDD}-{LINE}-{SEQ:5}").unwrap();
        assert_eq!(
            t.parts(),
            &[
                Part::Literal("PJC-".into()),
                Part::Date(DatePart::Yymmdd),
                Part::Literal("-".into()),
                Part::Context {
                    field: ContextField::Line,
                    width: None
                },
                Part::Literal("-".into()),
                Part::Sequence {
                    width: 5,
                    alphabet: Alphabet::builtin("10").unwrap()
                },
            ]
        );
        assert_eq!(t.position(1), 5);
        assert_eq!(t.position(5), 21);
        assert_eq!(t.sequence_max(), Some(99_999));
        assert_eq!(t.fixed_len(), 4 + 6 + 1 + 1 + 5);
        assert_eq!(t.variable_part(), Some(ContextField::Line));
        assert_eq!(t.random_combinations(), Some(1));
        assert_eq!(t.to_string(), "PJC-{YYMMDD}-{LINE}-{SEQ:5}");
    }

    #[test]
    fn parses_every_placeholder() {
        let t = Template::parse(
            "{PRODUCT}{CATEGORY:2}{SITE:1}{LINE:3}{YY}{YYYY}{MM}{DD}{JJJ}{WW}{SEQ:6:36}\
             {RAND:4:crockford32}{CHECK:mod37-36}",
        )
        .unwrap();
        assert_eq!(t.parts().len(), 13);
        assert_eq!(t.check(), Some(CheckAlgorithm::Mod37_36));
        assert_eq!(t.sequence_max(), Some(36u64.pow(6) - 1));
        assert_eq!(t.random_combinations(), Some(32u128.pow(4)));
        assert!((t.random_bits() - 20.0).abs() < 1e-9);
        assert_eq!(t.date_parts().count(), 6);
        assert!(t.shows(ContextField::Site));
        let widest = Template::parse("{SEQ:19}").unwrap();
        assert_eq!(widest.sequence_max(), Some(9_999_999_999_999_999_999));
        let widest = Template::parse("{SEQ:15:16}").unwrap();
        assert_eq!(widest.sequence_max(), Some((1 << 60) - 1));
        assert!(Template::parse("{SEQ:16:16}").is_err());
    }

    /// (template, code, message fragment); every message names a position.
    const REFUSED: &[(&str, &str, &str)] = &[
        ("", "empty", "empty"),
        ("AB {SEQ:4}", "invalid_character", "` ` at position 3"),
        ("批{SEQ:4}", "invalid_character", "`批` at position 1"),
        ("A{SEQ:4", "unclosed_placeholder", "`{` at position 2"),
        ("A{SEQ:4{YY}}", "unclosed_placeholder", "`{` at position 2"),
        ("A}{SEQ:4}", "unopened_placeholder", "`}` at position 2"),
        (
            "X-{LIN}-{SEQ:4}",
            "unknown_placeholder",
            "`{LIN}` at position 3",
        ),
        ("X-{seq:4}", "unknown_placeholder", "upper case: `{SEQ…}`"),
        ("X{}{SEQ:4}", "invalid_placeholder", "`{}` at position 2"),
        (
            "X{SEQ}",
            "invalid_placeholder",
            "`{SEQ}` at position 2: write it as",
        ),
        (
            "X{SEQ:0}",
            "invalid_placeholder",
            "`{SEQ:0}` at position 2: the width must be a number from 1 to 19",
        ),
        ("X{SEQ:20}", "invalid_placeholder", "from 1 to 19"),
        ("X{SEQ:14:36}", "invalid_placeholder", "from 1 to 12"),
        ("X{SEQ:+4}", "invalid_placeholder", "not `+4`"),
        (
            "X{SEQ:4:37}",
            "unknown_alphabet",
            "`{SEQ:4:37}` at position 2: there is no alphabet `37`",
        ),
        ("X{RAND:4:greek}", "unknown_alphabet", "crockford32"),
        (
            "X{SEQ:4}{CHECK:mod11}",
            "unknown_check",
            "`{CHECK:mod11}` at position 9",
        ),
        (
            "X{SEQ:4}{CHECK}",
            "invalid_placeholder",
            "{CHECK:algorithm}",
        ),
        (
            "X{YY:2}{SEQ:4}",
            "invalid_placeholder",
            "`{YY:2}` at position 2",
        ),
        (
            "X{LINE:0}{SEQ:4}",
            "invalid_placeholder",
            "width must be a number from 1 to 64",
        ),
        (
            "{SEQ:4}-{SEQ:2}",
            "repeated_part",
            "`{SEQ:2}` at position 9: a template has at most one of these (the first is at position 1)",
        ),
        (
            "{SEQ:4}{CHECK:luhn}{CHECK:damm}",
            "repeated_part",
            "position 20",
        ),
        (
            "{SITE}{LINE}{SEQ:4}",
            "repeated_part",
            "`{LINE}` at position 7: `{SITE}` has no width either, so a serial could not be read back into its parts; give all but one code a width, like `{LINE:3}` (the first is at position 1)",
        ),
        (
            "{LINE:2}-{SEQ:4}-{LINE:2}",
            "repeated_part",
            "`{LINE:2}` at position 18: a template writes each code once (the first is at position 1)",
        ),
        ("{PRODUCT}-{YYMMDD}", "no_unique_part", "neither"),
        ("{CHECK:luhn}{SEQ:4}", "check_covers_nothing", "position 1"),
        (
            "PJC-{CHECK:luhn}{SEQ:4}",
            "check_covers_nothing",
            "`{CHECK:luhn}` at position 5",
        ),
        (
            "{PRODUCT}{YY}{WW}{SEQ:6:36}{CHECK:luhn}",
            "check_alphabet",
            "`{SEQ:6:36}` at position 18: writes `A`, which the luhn check character at position 28 cannot cover",
        ),
        (
            "{SEQ:4:crockford32}{CHECK:mod11-2}",
            "check_alphabet",
            "`A`",
        ),
        ("{RAND:40}{SEQ:19}{YYMMDD}", "too_long", "65 characters"),
        ("{PRODUCT}{RAND:44}{SEQ:19}{YY}", "too_long", "at least 66"),
    ];

    #[test]
    fn refuses_broken_templates_naming_the_position() {
        for &(text, code, fragment) in REFUSED {
            let e = Template::parse(text).unwrap_err();
            assert_eq!(e.code, code, "{text}: {}", e.message);
            assert!(e.message.contains(fragment), "{text}: {}", e.message);
            assert_eq!(e.field.as_deref(), Some("template"));
        }
        assert!(Template::parse(&"A".repeat(201)).unwrap_err().code == "too_long");
    }

    #[test]
    fn the_check_skips_literal_characters_it_cannot_read() {
        Template::parse("{PRODUCT}{YY}{WW}{SEQ:6:36}{CHECK:mod37-36}").unwrap();
        Template::parse("{PRODUCT}{YY}{WW}{SEQ:6}{CHECK:luhn}").unwrap();
        let t = Template::parse("PJC-{YY}-{LINE}-{SEQ:2}{CHECK:mod37-36}-X").unwrap();
        let mask: String = t
            .check_mask(3)
            .into_iter()
            .map(|covered| if covered { '1' } else { '.' })
            .collect();
        assert_eq!(mask, "111.11.111.11");
        let t = Template::parse("35-{SEQ:2}{CHECK:luhn}").unwrap();
        assert_eq!(t.check_mask(0), [true, true, false, true, true]);
        assert!(Template::parse("{SEQ:2}").unwrap().check_mask(0).is_empty());
    }

    #[test]
    fn custom_alphabets_are_found() {
        let vowels = Alphabet::custom("vowels", "AEIOU").unwrap();
        let t = Template::parse_with("{SEQ:3:vowels}", std::slice::from_ref(&vowels)).unwrap();
        assert_eq!(t.sequence_max(), Some(124));
        let e = Template::parse("{SEQ:3:vowels}").unwrap_err();
        assert_eq!(e.code, "unknown_alphabet");
        let e = Template::parse_with("{SEQ:3:consonants}", &[vowels]).unwrap_err();
        assert!(e.message.ends_with("crockford32, vowels"), "{}", e.message);
    }

    #[test]
    fn dates_render_in_fixed_widths() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 4).unwrap();
        let render = |p: DatePart| {
            let mut out = Vec::new();
            p.render(date, &mut out)
                .map(|()| String::from_utf8(out).unwrap())
        };
        assert_eq!(render(DatePart::Yy).unwrap(), "26");
        assert_eq!(render(DatePart::Yyyy).unwrap(), "2026");
        assert_eq!(render(DatePart::Mm).unwrap(), "01");
        assert_eq!(render(DatePart::Dd).unwrap(), "04");
        assert_eq!(render(DatePart::Yymmdd).unwrap(), "260104");
        assert_eq!(render(DatePart::DayOfYear).unwrap(), "004");
        assert_eq!(render(DatePart::IsoWeek).unwrap(), "01");
        let old = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
        let e = DatePart::Yy.render(old, &mut Vec::new()).unwrap_err();
        assert_eq!(e.code, "date_out_of_range");
        DatePart::Yyyy.render(old, &mut Vec::new()).unwrap();
    }
}
