//! Reading a serial against a rule: could the rule have made it, is its check character right,
//! and what are its parts.
//!
//! Because a template has at most one part without a fixed width, the length of a serial fixes
//! where every part starts; reading is one pass with no backtracking, and a serial has at most
//! one reading. Errors name the first position that does not fit, so a person at a scanner
//! sees which character is wrong.

use chrono::{Datelike, NaiveDate};
use threadline_domain::FieldError;

use crate::alphabet::is_cset82;
use crate::rule::SerialRule;
use crate::template::{ContextField, DatePart, MAX_SERIAL_LEN, Part};

/// The parts read back out of a serial.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedSerial {
    pub product: Option<String>,
    pub category: Option<String>,
    pub site: Option<String>,
    pub line: Option<String>,
    /// What the date parts say, if the template has any.
    pub date: Option<SerialDate>,
    /// The sequence value, if the template has a sequence.
    pub sequence: Option<u64>,
    /// Each random part, in order.
    pub random: Vec<String>,
    /// The check character(s), if the template has them.
    pub check: Option<String>,
}

impl ParsedSerial {
    /// The code read for `field`.
    pub fn context(&self, field: ContextField) -> Option<&str> {
        match field {
            ContextField::Product => self.product.as_deref(),
            ContextField::Category => self.category.as_deref(),
            ContextField::Site => self.site.as_deref(),
            ContextField::Line => self.line.as_deref(),
        }
    }

    fn context_mut(&mut self, field: ContextField) -> &mut Option<String> {
        match field {
            ContextField::Product => &mut self.product,
            ContextField::Category => &mut self.category,
            ContextField::Site => &mut self.site,
            ContextField::Line => &mut self.line,
        }
    }
}

/// The date written in a serial, as far as its date parts tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SerialDate {
    /// The year; two-digit years are read as 20YY.
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub day: Option<u32>,
    /// Day of the year, 1–366.
    pub day_of_year: Option<u32>,
    /// ISO 8601 week, 1–53.
    pub iso_week: Option<u32>,
    /// The calendar date, when the parts name one (year with month and day, or year with day
    /// of the year).
    pub date: Option<NaiveDate>,
}

/// Date fields as read, each remembering the 1-based position it was read at.
#[derive(Default)]
struct DateReading {
    year4: Option<(i32, usize)>,
    year2: Option<(i32, usize)>,
    month: Option<(u32, usize)>,
    day: Option<(u32, usize)>,
    day_of_year: Option<(u32, usize)>,
    iso_week: Option<(u32, usize)>,
}

impl SerialRule {
    /// Reads `serial` as this rule writes it. Refuses, naming the position, a character
    /// outside CSET 82, a wrong length, text that differs from the template's, a character
    /// outside a part's alphabet, a malformed code, a wrong check character, a sequence value
    /// below the rule's start, and a date that does not exist or whose parts disagree.
    pub fn validate(&self, serial: &str) -> Result<ParsedSerial, FieldError> {
        let code = self.code();
        if let Some((i, c)) = serial
            .char_indices()
            .find(|&(_, c)| !c.is_ascii() || !is_cset82(c as u8))
        {
            return Err(FieldError::new(
                "invalid_character",
                format!(
                    "`{}` has `{}` at position {}, which no serial of rule `{code}` contains",
                    serial.escape_debug(),
                    c.escape_debug(),
                    serial[..i].chars().count() + 1
                ),
            ));
        }
        let template = self.template();
        let fixed = template.fixed_len();
        let variable_len = match template.variable_part() {
            Some(_) if serial.len() > fixed && serial.len() <= MAX_SERIAL_LEN => {
                serial.len() - fixed
            }
            None if serial.len() == fixed => 0,
            variable => {
                return Err(FieldError::new(
                    "wrong_length",
                    format!(
                        "`{serial}` has {} characters; serials of rule `{code}` have {}",
                        serial.len(),
                        if variable.is_some() {
                            format!("more than {fixed} and at most {MAX_SERIAL_LEN}")
                        } else {
                            fixed.to_string()
                        }
                    ),
                ));
            }
        };
        let bytes = serial.as_bytes();
        let check_mask = template.check_mask(variable_len);
        let mut parsed = ParsedSerial::default();
        let mut dates = DateReading::default();
        let mut at = 0;
        for part in template.parts() {
            let width = part.width().unwrap_or(variable_len);
            let text = &serial[at..at + width];
            let position = at + 1;
            let mismatch = |offset: usize, why: String| {
                FieldError::new(
                    "does_not_match_rule",
                    format!(
                        "`{serial}` has `{}` at position {}, where rule `{code}` has {why}",
                        bytes[at + offset] as char,
                        at + offset + 1
                    ),
                )
            };
            match part {
                Part::Literal(literal) => {
                    if let Some(k) = literal.bytes().zip(text.bytes()).position(|(a, b)| a != b) {
                        return Err(mismatch(k, format!("`{}`", literal.as_bytes()[k] as char)));
                    }
                }
                Part::Context { field, .. } => {
                    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
                    if let Some(k) = text.bytes().position(|b| !ok(b)) {
                        return Err(mismatch(
                            k,
                            format!(
                                "the {} code (letters, digits, `-`, `_`, `.`)",
                                field.field()
                            ),
                        ));
                    }
                    let slot = parsed.context_mut(*field);
                    *slot = Some(text.to_owned());
                }
                Part::Date(date_part) => {
                    if let Some(k) = text.bytes().position(|b| !b.is_ascii_digit()) {
                        return Err(mismatch(
                            k,
                            format!("the digits of {{{}}}", date_part.placeholder()),
                        ));
                    }
                    dates.read(serial, *date_part, text, position)?;
                }
                Part::Sequence { alphabet, .. } => {
                    let mut value = 0u64;
                    for (k, b) in text.bytes().enumerate() {
                        let digit = alphabet.value_of(b).ok_or_else(|| {
                            mismatch(k, format!("a sequence character of `{}`", alphabet.chars()))
                        })?;
                        // The template's width keeps this within u64.
                        value = value
                            .saturating_mul(u64::from(alphabet.radix()))
                            .saturating_add(u64::from(digit));
                    }
                    if value < self.sequence_start() {
                        return Err(FieldError::new(
                            "does_not_match_rule",
                            format!(
                                "`{serial}` has sequence value {value} (position {position}), \
                                 below the start {} of rule `{code}`",
                                self.sequence_start()
                            ),
                        ));
                    }
                    parsed.sequence = Some(value);
                }
                Part::Random { alphabet, .. } => {
                    if let Some(k) = text.bytes().position(|b| !alphabet.contains(b)) {
                        return Err(mismatch(
                            k,
                            format!("a random character of `{}`", alphabet.chars()),
                        ));
                    }
                    parsed.random.push(text.to_owned());
                }
                Part::Check(algorithm) => {
                    let covered: Vec<u8> = bytes[..at]
                        .iter()
                        .zip(&check_mask)
                        .filter(|(_, covers)| **covers)
                        .map(|(&b, _)| b)
                        .collect();
                    let expected = algorithm.compute_bytes(&covered).map_err(|e| {
                        FieldError::new(
                            "does_not_match_rule",
                            format!("`{serial}` does not fit rule `{code}`: {}", e.message),
                        )
                    })?;
                    if expected.as_str() != text {
                        return Err(FieldError::new(
                            "wrong_check_character",
                            format!(
                                "`{serial}` has check character `{text}` at position {position}, \
                                 but the {} check character of what comes before is \
                                 `{expected}`; the serial was probably mistyped or misread",
                                algorithm.name()
                            ),
                        ));
                    }
                    parsed.check = Some(text.to_owned());
                }
            }
            at += width;
        }
        if template.date_parts().next().is_some() {
            parsed.date = Some(dates.resolve(serial)?);
        }
        Ok(parsed)
    }
}

fn invalid_date(serial: &str, position: usize, why: String) -> FieldError {
    FieldError::new(
        "invalid_date",
        format!("`{serial}` has no valid date: {why} (position {position})"),
    )
}

impl DateReading {
    fn read(
        &mut self,
        serial: &str,
        part: DatePart,
        digits: &str,
        position: usize,
    ) -> Result<(), FieldError> {
        let number = |from: usize, to: usize| -> u32 {
            digits.as_bytes()[from..to]
                .iter()
                .fold(0, |n, &b| n * 10 + u32::from(b - b'0'))
        };
        let set = |slot: &mut Option<(u32, usize)>, value: u32, at: usize, what: &str| match *slot {
            Some((seen, _)) if seen != value => Err(invalid_date(
                serial,
                at,
                format!("the {what} is written as both {seen} and {value}"),
            )),
            _ => {
                *slot = Some((value, at));
                Ok(())
            }
        };
        let set_year = |slot: &mut Option<(i32, usize)>, value: u32, at: usize| {
            let mut as_u32 = slot.map(|(y, at)| (y as u32, at));
            set(&mut as_u32, value, at, "year")?;
            *slot = as_u32.map(|(y, at)| (y as i32, at));
            Ok::<(), FieldError>(())
        };
        match part {
            DatePart::Yy => set_year(&mut self.year2, number(0, 2), position)?,
            DatePart::Yyyy => set_year(&mut self.year4, number(0, 4), position)?,
            DatePart::Mm => set(&mut self.month, number(0, 2), position, "month")?,
            DatePart::Dd => set(&mut self.day, number(0, 2), position, "day")?,
            DatePart::Yymmdd => {
                set_year(&mut self.year2, number(0, 2), position)?;
                set(&mut self.month, number(2, 4), position + 2, "month")?;
                set(&mut self.day, number(4, 6), position + 4, "day")?;
            }
            DatePart::DayOfYear => set(
                &mut self.day_of_year,
                number(0, 3),
                position,
                "day of the year",
            )?,
            DatePart::IsoWeek => set(&mut self.iso_week, number(0, 2), position, "week")?,
        }
        Ok(())
    }

    fn resolve(&self, serial: &str) -> Result<SerialDate, FieldError> {
        let fail = |at: usize, why: String| Err(invalid_date(serial, at, why));
        let year = match (self.year4, self.year2) {
            (Some((y4, at)), Some((y2, _))) if y4 % 100 != y2 => {
                return fail(at, format!("the year {y4} does not end in {y2:02}"));
            }
            (Some((y4, _)), _) => Some(y4),
            (None, Some((y2, _))) => Some(2000 + y2),
            (None, None) => None,
        };
        if let Some((month, at)) = self.month {
            if !(1..=12).contains(&month) {
                return fail(at, format!("{month:02} is not a month"));
            }
        }
        if let Some((day, at)) = self.day {
            // Without a year, 29 February may exist; 2000 is a leap year.
            let (y, m) = (year.unwrap_or(2000), self.month.map_or(1, |(m, _)| m));
            let longest = if self.month.is_some() {
                days_in_month(y, m)
            } else {
                31
            };
            if !(1..=longest).contains(&day) {
                return fail(at, format!("day {day:02} does not exist in that month"));
            }
        }
        if let Some((ordinal, at)) = self.day_of_year {
            let longest = year.map_or(366, |y| if is_leap(y) { 366 } else { 365 });
            if !(1..=longest).contains(&ordinal) {
                return fail(at, format!("day {ordinal:03} of the year does not exist"));
            }
        }
        if let Some((week, at)) = self.iso_week {
            // A calendar year Y has days in week 53 when ISO year Y or Y-1 has 53 weeks.
            let has_53 = year.is_none_or(|y| iso_weeks(y) == 53 || iso_weeks(y - 1) == 53);
            if !(1..=53).contains(&week) || (week == 53 && !has_53) {
                return fail(at, format!("week {week:02} does not exist in that year"));
            }
        }
        let from_month_day = match (year, self.month, self.day) {
            (Some(y), Some((m, _)), Some((d, _))) => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        let from_ordinal = match (year, self.day_of_year) {
            (Some(y), Some((o, _))) => NaiveDate::from_yo_opt(y, o),
            _ => None,
        };
        let date = match (from_month_day, from_ordinal) {
            (Some(a), Some(b)) if a != b => {
                let at = self.day_of_year.map_or(0, |(_, at)| at);
                return fail(at, format!("day of the year {} is not {a}", b.ordinal()));
            }
            (a, b) => a.or(b),
        };
        if let (Some(d), Some((m, at))) = (date, self.month) {
            if d.month() != m {
                return fail(at, format!("{d} is not in month {m:02}"));
            }
        }
        if let (Some(d), Some((week, at))) = (date, self.iso_week) {
            if d.iso_week().week() != week {
                return fail(
                    at,
                    format!(
                        "{d} is in ISO week {:02}, not {week:02}",
                        d.iso_week().week()
                    ),
                );
            }
        }
        Ok(SerialDate {
            year,
            month: self.month.map(|(m, _)| m).or(date.map(|d| d.month())),
            day: self.day.map(|(d, _)| d).or(date.map(|d| d.day())),
            day_of_year: self
                .day_of_year
                .map(|(o, _)| o)
                .or(date.map(|d| d.ordinal())),
            iso_week: self.iso_week.map(|(w, _)| w),
            date,
        })
    }
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

fn days_in_month(year: i32, month: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|&d| NaiveDate::from_ymd_opt(year, month, d).is_some())
        .unwrap_or(28)
}

/// How many ISO weeks ISO year `year` has: 28 December is always in its last week.
fn iso_weeks(year: i32) -> u32 {
    NaiveDate::from_ymd_opt(year, 12, 28).map_or(52, |d| d.iso_week().week())
}
