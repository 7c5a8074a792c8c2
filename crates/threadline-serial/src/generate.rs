//! Making serials from a rule.
//!
//! The store owns the counters; this module owns everything else. An allocation goes:
//!
//! 1. [`SerialRule::pattern`] fills in what is fixed for one allocation — the codes from the
//!    [`AllocationContext`] and the date in the rule's time zone — and names the counter the
//!    allocation draws from, its [`SequenceScope`];
//! 2. the store reserves `count` values of that scope's counter (starting at
//!    [`SerialRule::sequence_start`] for a scope it has not seen), in its own transaction;
//! 3. [`Pattern::generate`] writes the serials for those values into one [`SerialBatch`].
//!
//! # Why serials never repeat
//!
//! A template reads back into its parts without guessing (see [`crate::template`]), and a reset
//! period is refused unless the template shows it (see [`crate::rule`]). So two serials of a rule
//! are equal only if their codes, their shown dates and their sequence values are equal — and
//! then they came from the same scope's counter with the same value, which the store hands out
//! once. The property tests check exactly that implication. Rules without a sequence rely on
//! chance: one batch never repeats a random part, and the store's unique index catches the
//! astronomically rare repeat across batches (redraw by generating again).
//!
//! # Speed
//!
//! Everything fixed is rendered once per batch; the sequence is an odometer incremented in
//! place; random characters come several to one 64-bit draw; the serials are written into one
//! buffer with no allocation per serial.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rand::{CryptoRng, RngCore};
use threadline_domain::FieldError;

use crate::alphabet::Alphabet;
use crate::check::CheckAlgorithm;
use crate::rule::{SequenceReset, SerialRule, Uniqueness};
use crate::template::{ContextField, MAX_SERIAL_LEN, Part};

/// The most serials one call to [`Pattern::generate`] makes.
pub const MAX_BATCH: usize = 10_000_000;

/// How often a rule without a sequence redraws a random part that repeated within the batch
/// before it suspects the random source.
const MAX_REDRAWS: u32 = 64;

/// What an allocation knows: the codes a template may write and the allocation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationContext<'a> {
    pub product: &'a str,
    pub category: Option<&'a str>,
    pub site: Option<&'a str>,
    pub line: Option<&'a str>,
    /// When the serials are allocated; date parts and reset periods use this instant in the
    /// rule's time zone.
    pub at: DateTime<Utc>,
}

impl<'a> AllocationContext<'a> {
    /// A context with only the product and the time.
    pub fn new(product: &'a str, at: DateTime<Utc>) -> Self {
        AllocationContext {
            product,
            category: None,
            site: None,
            line: None,
            at,
        }
    }

    /// With the product's category code.
    pub fn with_category(self, category: &'a str) -> Self {
        AllocationContext {
            category: Some(category),
            ..self
        }
    }

    /// With the site code.
    pub fn with_site(self, site: &'a str) -> Self {
        AllocationContext {
            site: Some(site),
            ..self
        }
    }

    /// With the production line code.
    pub fn with_line(self, line: &'a str) -> Self {
        AllocationContext {
            line: Some(line),
            ..self
        }
    }

    /// The value of `field`, if given.
    pub fn value(&self, field: ContextField) -> Option<&'a str> {
        match field {
            ContextField::Product => Some(self.product),
            ContextField::Category => self.category,
            ContextField::Site => self.site,
            ContextField::Line => self.line,
        }
    }
}

/// The span of time one counter covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// The sequence never resets.
    Always,
    Year(i32),
    Month {
        year: i32,
        month: u32,
    },
    Day(NaiveDate),
}

impl Period {
    /// The period of `reset` that `date` (a date in the rule's time zone) falls in.
    pub fn of(reset: SequenceReset, date: NaiveDate) -> Period {
        match reset {
            SequenceReset::Never => Period::Always,
            SequenceReset::Yearly => Period::Year(date.year()),
            SequenceReset::Monthly => Period::Month {
                year: date.year(),
                month: date.month(),
            },
            SequenceReset::Daily => Period::Day(date),
        }
    }
}

impl std::fmt::Display for Period {
    /// `always`, `2026`, `2026-11` or `2026-11-22`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Always => f.write_str("always"),
            Period::Year(year) => write!(f, "{year:04}"),
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Day(date) => write!(f, "{}", date.format("%Y-%m-%d")),
        }
    }
}

/// The counter an allocation draws from, within its rule: the period, and the codes that make
/// a prefix of their own ("per rule and per prefix").
///
/// The codes in scope are those the template writes, plus the product when serials are unique
/// per product. The key is stable text such as `2026-11-22|product=TC-200|line=A01`; the store
/// keeps one counter per (rule, key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceScope {
    period: Period,
    key: String,
}

impl SequenceScope {
    /// The period of the counter.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The counter's key within its rule.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Display for SequenceScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)
    }
}

/// A rule with one allocation's codes and date filled in: what is left open is the sequence,
/// the random parts and the check character.
#[derive(Debug, Clone)]
pub struct Pattern<'r> {
    rule: &'r SerialRule,
    fixed: Vec<u8>,
    segments: Vec<Segment<'r>>,
    serial_len: usize,
    /// Which characters before the check character it covers.
    check_mask: Vec<bool>,
    scope: SequenceScope,
}

#[derive(Debug, Clone)]
enum Segment<'r> {
    /// `fixed[start..end]`.
    Fixed(usize, usize),
    Sequence {
        width: usize,
        alphabet: &'r Alphabet,
    },
    Random(RandomDraw<'r>),
    Check(CheckAlgorithm),
}

impl SerialRule {
    /// Fills in the codes and the date of one allocation. Refuses a missing or malformed code,
    /// a code of the wrong width, a code the check character cannot cover, a date a two-digit
    /// year cannot write, and serials longer than the limit.
    pub fn pattern<'r>(
        &'r self,
        context: &AllocationContext<'_>,
    ) -> Result<Pattern<'r>, FieldError> {
        let template = self.template();
        let date = context
            .at
            .with_timezone(&self.time_zone().fixed())
            .date_naive();
        let check_index = template
            .parts()
            .iter()
            .position(|p| matches!(p, Part::Check(_)));
        let mut fixed = Vec::with_capacity(MAX_SERIAL_LEN);
        let mut segments = Vec::new();
        let mut fixed_from = 0;
        let mut serial_len = 0;
        let mut open = |segments: &mut Vec<Segment<'r>>, fixed: &Vec<u8>, segment| {
            if fixed.len() > fixed_from {
                segments.push(Segment::Fixed(fixed_from, fixed.len()));
            }
            fixed_from = fixed.len();
            segments.push(segment);
        };
        for (index, part) in template.parts().iter().enumerate() {
            let covered_by = template
                .check()
                .filter(|_| check_index.is_some_and(|c| index < c));
            match part {
                Part::Literal(text) => fixed.extend_from_slice(text.as_bytes()),
                Part::Context { field, width } => {
                    let value = self.context_value(context, *field, *width, covered_by)?;
                    fixed.extend_from_slice(value.as_bytes());
                }
                Part::Date(date_part) => date_part.render(date, &mut fixed).map_err(|e| {
                    FieldError::new(e.code, format!("rule `{}`: {}", self.code(), e.message))
                        .at("at")
                })?,
                Part::Sequence { width, alphabet } => {
                    serial_len += width;
                    open(
                        &mut segments,
                        &fixed,
                        Segment::Sequence {
                            width: *width,
                            alphabet,
                        },
                    );
                }
                Part::Random { len, alphabet } => {
                    serial_len += len;
                    open(
                        &mut segments,
                        &fixed,
                        Segment::Random(RandomDraw::new(alphabet, *len)),
                    );
                }
                Part::Check(algorithm) => {
                    serial_len += algorithm.check_len();
                    open(&mut segments, &fixed, Segment::Check(*algorithm));
                }
            }
        }
        if fixed.len() > fixed_from {
            segments.push(Segment::Fixed(fixed_from, fixed.len()));
        }
        serial_len += fixed.len();
        if serial_len > MAX_SERIAL_LEN {
            return Err(FieldError::new(
                "too_long",
                format!(
                    "rule `{}` would make serials of {serial_len} characters with these codes; a \
                     serial has at most {MAX_SERIAL_LEN}",
                    self.code()
                ),
            ));
        }
        let scope = self.scope_for(context, date)?;
        let check_mask = template.check_mask(serial_len - template.fixed_len());
        Ok(Pattern {
            rule: self,
            fixed,
            segments,
            serial_len,
            check_mask,
            scope,
        })
    }

    /// The counter one allocation with `context` draws from. The same as
    /// [`Pattern::scope`] of [`SerialRule::pattern`].
    pub fn scope(&self, context: &AllocationContext<'_>) -> Result<SequenceScope, FieldError> {
        self.pattern(context).map(|p| p.scope)
    }

    /// Makes `count` serials for one allocation: [`SerialRule::pattern`] then
    /// [`Pattern::generate`].
    pub fn generate<R: CryptoRng + ?Sized>(
        &self,
        context: &AllocationContext<'_>,
        first: u64,
        count: usize,
        rng: &mut R,
    ) -> Result<SerialBatch, FieldError> {
        self.pattern(context)?.generate(first, count, rng)
    }

    fn scope_for(
        &self,
        context: &AllocationContext<'_>,
        date: NaiveDate,
    ) -> Result<SequenceScope, FieldError> {
        let period = Period::of(self.sequence_reset(), date);
        let mut key = period.to_string();
        for field in ContextField::ALL {
            let in_scope = self.template().shows(field)
                || (field == ContextField::Product && self.uniqueness() == Uniqueness::Product);
            if !in_scope {
                continue;
            }
            let value = self.context_value(context, field, None, None)?;
            key.push('|');
            key.push_str(field.field());
            key.push('=');
            key.push_str(value);
        }
        Ok(SequenceScope { period, key })
    }

    /// The code for `field`, checked: present, well formed (so scope keys stay unambiguous),
    /// of the template's width, and coverable by the check character.
    fn context_value<'c>(
        &self,
        context: &AllocationContext<'c>,
        field: ContextField,
        width: Option<usize>,
        covered_by: Option<CheckAlgorithm>,
    ) -> Result<&'c str, FieldError> {
        let name = field.field();
        let value = context.value(field).ok_or_else(|| {
            FieldError::new(
                "missing_context",
                format!(
                    "rule `{}` writes {{{}}}, so the allocation needs a {name}",
                    self.code(),
                    field.placeholder()
                ),
            )
            .at(name)
        })?;
        let well_formed = !value.is_empty()
            && value.len() <= MAX_SERIAL_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !well_formed {
            return Err(FieldError::new(
                "invalid_code",
                format!(
                    "{name} `{}` must be 1 to {MAX_SERIAL_LEN} letters, digits, `-`, `_` or `.`",
                    value.escape_debug()
                ),
            )
            .at(name));
        }
        if let Some(width) = width.filter(|&w| w != value.len()) {
            return Err(FieldError::new(
                "wrong_width",
                format!(
                    "{name} `{value}` has {} characters; rule `{}` writes {{{}:{width}}}, \
                     exactly {width}",
                    value.len(),
                    self.code(),
                    field.placeholder()
                ),
            )
            .at(name));
        }
        if let Some(algorithm) = covered_by {
            if let Some(c) = value.bytes().find(|&b| !algorithm.can_cover(b)) {
                return Err(FieldError::new(
                    "check_alphabet",
                    format!(
                        "{name} `{value}` has `{}`, which the {} check character of rule `{}` \
                         cannot cover",
                        c as char,
                        algorithm.name(),
                        self.code()
                    ),
                )
                .at(name));
            }
        }
        Ok(value)
    }
}

impl Pattern<'_> {
    /// The counter this allocation draws from.
    pub fn scope(&self) -> &SequenceScope {
        &self.scope
    }

    /// The length of every serial of this allocation.
    pub fn serial_len(&self) -> usize {
        self.serial_len
    }

    /// Makes `count` serials with sequence values `first`, `first + 1`, … (ignored by a rule
    /// without a sequence), drawing random parts from `rng` — a cryptographic generator, as the
    /// EU FMD expects; tests pass a seeded one.
    ///
    /// Refuses a batch larger than [`MAX_BATCH`], a `first` below the rule's sequence start, and
    /// values past what the sequence can write (naming the rule, the scope and the maximum).
    /// A rule without a sequence never repeats a random part within one batch, and refuses a
    /// batch larger than half of its random space.
    pub fn generate<R: CryptoRng + ?Sized>(
        &self,
        first: u64,
        count: usize,
        rng: &mut R,
    ) -> Result<SerialBatch, FieldError> {
        let rule = self.rule;
        if count > MAX_BATCH {
            return Err(FieldError::new(
                "batch_too_large",
                format!("{count} serials were asked for at once; the limit is {MAX_BATCH}"),
            )
            .at("count"));
        }
        let mut counter = match rule.template().sequence() {
            Some((width, alphabet)) => Some(Odometer::new(self, first, count, width, alphabet)?),
            None => None,
        };
        let mut seen = match (&counter, rule.template().random_combinations()) {
            (None, Some(space)) if count as u128 > space / 2 => {
                return Err(FieldError::new(
                    "random_space_too_small",
                    format!(
                        "rule `{}` draws serials from {space} random values, too few for {count} \
                         distinct serials at once (at most {}); lengthen its {{RAND}}",
                        rule.code(),
                        space / 2
                    ),
                )
                .at("count"));
            }
            (None, Some(_)) => Some(HashSet::with_capacity(count)),
            _ => None,
        };
        let mut out = Vec::with_capacity(count.saturating_mul(self.serial_len));
        for _ in 0..count {
            let mut redraws = 0;
            loop {
                let start = out.len();
                let drawn = self.write_one(&mut out, start, counter.as_ref(), rng)?;
                let repeated = seen.as_mut().is_some_and(|seen| !seen.insert(drawn));
                if !repeated {
                    break;
                }
                out.truncate(start);
                redraws += 1;
                if redraws >= MAX_REDRAWS {
                    return Err(FieldError::new(
                        "random_source_stuck",
                        format!(
                            "the random source repeated itself {MAX_REDRAWS} times in a row \
                             while making serials of rule `{}`",
                            rule.code()
                        ),
                    ));
                }
            }
            if let Some(counter) = counter.as_mut() {
                counter.advance();
            }
        }
        let text = String::from_utf8(out)
            .map_err(|_| FieldError::new("internal", "a serial was not ASCII; this is a bug"))?;
        Ok(SerialBatch {
            text,
            serial_len: self.serial_len,
            count,
            first_sequence: counter.map(|_| first),
        })
    }

    /// Appends one serial; returns the random parts as one number (for repeat detection).
    #[inline]
    fn write_one<R: RngCore + ?Sized>(
        &self,
        out: &mut Vec<u8>,
        start: usize,
        counter: Option<&Odometer>,
        rng: &mut R,
    ) -> Result<u128, FieldError> {
        let mut drawn = 0u128;
        for segment in &self.segments {
            match segment {
                Segment::Fixed(from, to) => out.extend_from_slice(&self.fixed[*from..*to]),
                Segment::Sequence { .. } => {
                    if let Some(counter) = counter {
                        out.extend_from_slice(&counter.chars);
                    }
                }
                Segment::Random(draw) => draw.append(rng, out, &mut drawn),
                Segment::Check(algorithm) => {
                    let mut covered = [0u8; MAX_SERIAL_LEN];
                    let mut n = 0;
                    for (&b, _) in out[start..]
                        .iter()
                        .zip(&self.check_mask)
                        .filter(|(_, covers)| **covers)
                    {
                        covered[n] = b;
                        n += 1;
                    }
                    let check = algorithm.compute_bytes(&covered[..n])?;
                    out.extend_from_slice(check.as_bytes());
                }
            }
        }
        Ok(drawn)
    }
}

impl std::fmt::Display for Pattern<'_> {
    /// The fixed text with the open parts as placeholders, `PJC-261122-A01-{SEQ:5:10}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for segment in &self.segments {
            match segment {
                Segment::Fixed(from, to) => {
                    f.write_str(std::str::from_utf8(&self.fixed[*from..*to]).unwrap_or_default())?
                }
                Segment::Sequence { width, alphabet } => {
                    write!(f, "{{SEQ:{width}:{}}}", alphabet.name())?
                }
                Segment::Random(draw) => {
                    write!(f, "{{RAND:{}:{}}}", draw.len, draw.alphabet.name())?
                }
                Segment::Check(algorithm) => write!(f, "{{CHECK:{}}}", algorithm.name())?,
            }
        }
        Ok(())
    }
}

/// The sequence value as the characters a template writes, counted up in place.
struct Odometer {
    chars: Vec<u8>,
    digits: Vec<u8>,
    radix: u8,
    alphabet_chars: Vec<u8>,
}

impl Odometer {
    fn new(
        pattern: &Pattern<'_>,
        first: u64,
        count: usize,
        width: usize,
        alphabet: &Alphabet,
    ) -> Result<Odometer, FieldError> {
        let rule = pattern.rule;
        let max = rule.sequence_max().unwrap_or(u64::MAX);
        if first < rule.sequence_start() {
            return Err(FieldError::new(
                "sequence_below_start",
                format!(
                    "sequence value {first} is below the start {} of rule `{}`",
                    rule.sequence_start(),
                    rule.code()
                ),
            )
            .at("first"));
        }
        let last = (count as u64)
            .checked_sub(1)
            .map_or(Some(first), |more| first.checked_add(more));
        if last.is_none_or(|last| last > max) {
            return Err(FieldError::new(
                "sequence_exhausted",
                format!(
                    "rule `{}` cannot make {count} more serials in scope `{}`: the next value \
                     is {first} and its {{SEQ}} counts to at most {max}; widen the sequence or \
                     reset it more often",
                    rule.code(),
                    pattern.scope
                ),
            )
            .at("count"));
        }
        let radix = u64::from(alphabet.radix());
        let mut digits = vec![0u8; width];
        let mut rest = first;
        for digit in digits.iter_mut().rev() {
            *digit = (rest % radix) as u8;
            rest /= radix;
        }
        let alphabet_chars = alphabet.chars().as_bytes().to_vec();
        let chars = digits
            .iter()
            .map(|&d| alphabet_chars[usize::from(d)])
            .collect();
        Ok(Odometer {
            chars,
            digits,
            radix: radix as u8,
            alphabet_chars,
        })
    }

    /// Adds one. Past the last value it wraps, which [`Odometer::new`] made unreachable.
    #[inline]
    fn advance(&mut self) {
        for (digit, char) in self.digits.iter_mut().zip(self.chars.iter_mut()).rev() {
            *digit += 1;
            if *digit < self.radix {
                *char = self.alphabet_chars[usize::from(*digit)];
                return;
            }
            *digit = 0;
            *char = self.alphabet_chars[0];
        }
    }
}

/// Draws characters uniformly from an alphabet, several to one 64-bit word: a word below the
/// largest multiple of `radix^per_word` is read as `per_word` base-`radix` digits; a word
/// above it is thrown away, so no character is more likely than another.
#[derive(Debug, Clone)]
struct RandomDraw<'r> {
    alphabet: &'r Alphabet,
    len: usize,
    per_word: usize,
    block: u64,
    /// Words at or above this are redrawn; `None` when `block` divides 2^64.
    reject_from: Option<u64>,
}

impl<'r> RandomDraw<'r> {
    fn new(alphabet: &'r Alphabet, len: usize) -> Self {
        let radix = u64::from(alphabet.radix());
        let mut per_word = 1;
        let mut block = radix;
        // Keep blocks below 2^58 so fewer than 1 in 64 words is thrown away.
        while let Some(next) = block.checked_mul(radix).filter(|&n| n < 1 << 58) {
            block = next;
            per_word += 1;
        }
        let reject_from = (u64::MAX % block != block - 1).then(|| u64::MAX / block * block);
        RandomDraw {
            alphabet,
            len,
            per_word,
            block,
            reject_from,
        }
    }

    #[inline]
    fn append<R: RngCore + ?Sized>(&self, rng: &mut R, out: &mut Vec<u8>, drawn: &mut u128) {
        let radix = u64::from(self.alphabet.radix());
        let mut remaining = self.len;
        while remaining > 0 {
            let mut word = loop {
                let word = rng.next_u64();
                match self.reject_from {
                    Some(limit) if word >= limit => continue,
                    _ => break word % self.block,
                }
            };
            let take = remaining.min(self.per_word);
            for _ in 0..take {
                let digit = word % radix;
                word /= radix;
                out.push(self.alphabet.char_at(digit as usize));
                *drawn = drawn
                    .wrapping_mul(u128::from(radix))
                    .wrapping_add(u128::from(digit));
            }
            remaining -= take;
        }
    }
}

/// The serials of one allocation, in order, kept in one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialBatch {
    text: String,
    serial_len: usize,
    count: usize,
    first_sequence: Option<u64>,
}

impl SerialBatch {
    /// How many serials.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `index`th serial.
    pub fn get(&self, index: usize) -> Option<&str> {
        (index < self.count).then(|| self.at(index))
    }

    fn at(&self, index: usize) -> &str {
        // Every serial is ASCII, so any offset is a character boundary.
        &self.text[index * self.serial_len..(index + 1) * self.serial_len]
    }

    /// The serials in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.count).map(|i| self.at(i))
    }

    /// The sequence value of the first serial, if the rule counts.
    pub fn first_sequence(&self) -> Option<u64> {
        self.first_sequence
    }

    /// The value the scope's counter moves to after this batch, if the rule counts. It may be
    /// one past the sequence's maximum, which the next batch then refuses.
    pub fn next_sequence(&self) -> Option<u64> {
        self.first_sequence.map(|first| first + self.count as u64)
    }

    /// The serials as separate strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}
