//! The query schedule of an EPCIS subscription: cron-like fields `second`, `minute`, `hour`,
//! `dayOfMonth`, `month` and `dayOfWeek` (1 = Monday … 7 = Sunday), each a comma-separated list
//! of numbers and `[from-to]` ranges. A time is a query time when every field given matches it;
//! an omitted field matches any value (so `{"hour": "2"}` fires every second from 2:00:00 to
//! 2:59:59, as the standard warns). Times are read in UTC, the time zone this service chooses.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use threadline_domain::error::FieldError;

/// The fields in order, with their legal ranges.
const FIELDS: [(&str, u32, u32); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("dayOfMonth", 1, 31),
    ("month", 1, 12),
    ("dayOfWeek", 1, 7),
];

/// How far ahead a schedule is looked at: one that matches no time in five years (30 February)
/// is refused.
const HORIZON_DAYS: i64 = 5 * 366;

/// A parsed schedule: per field (second, minute, hour, dayOfMonth, month, dayOfWeek) the ranges
/// it allows, `None` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    fields: [Option<Vec<(u32, u32)>>; 6],
}

fn refuse(field: &str, msg: String) -> FieldError {
    FieldError::new("invalid_schedule", msg).at(format!("schedule.{field}"))
}

fn element(field: &str, lo: u32, hi: u32, e: &str) -> Result<(u32, u32), FieldError> {
    let number = |s: &str| -> Result<u32, FieldError> {
        let n = s
            .parse::<u32>()
            .ok()
            .filter(|_| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                refuse(
                    field,
                    format!("`{e}` is not a number or a range such as [1-5]"),
                )
            })?;
        if !(lo..=hi).contains(&n) {
            return Err(refuse(
                field,
                format!("{field} runs from {lo} to {hi}; {n} is outside"),
            ));
        }
        Ok(n)
    };
    match e.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(range) => {
            let (a, b) = range
                .split_once('-')
                .ok_or_else(|| refuse(field, format!("`{e}` is not a range such as [1-5]")))?;
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(refuse(field, format!("the range `{e}` runs backwards")));
            }
            Ok((a, b))
        }
        None => number(e).map(|n| (n, n)),
    }
}

impl Schedule {
    /// Reads the fields of a subscription's `schedule`; an unknown field or a value outside the
    /// grammar or its range is refused naming it (`schedule.minute`), as is a schedule that
    /// never comes (`now` is when it is asked).
    pub fn parse(given: &BTreeMap<String, String>, now: DateTime<Utc>) -> Result<Self, FieldError> {
        if let Some(k) = given
            .keys()
            .find(|k| !FIELDS.iter().any(|f| f.0 == k.as_str()))
        {
            return Err(refuse(
                k,
                format!(
                    "`{k}` is not a schedule field (second, minute, hour, dayOfMonth, month, dayOfWeek)"
                ),
            ));
        }
        let mut fields: [Option<Vec<(u32, u32)>>; 6] = Default::default();
        for (i, (name, lo, hi)) in FIELDS.iter().enumerate() {
            if let Some(v) = given.get(*name) {
                let list = v
                    .split(',')
                    .map(|e| element(name, *lo, *hi, e.trim()))
                    .collect::<Result<Vec<_>, _>>()?;
                fields[i] = Some(list);
            }
        }
        let s = Schedule { fields };
        if s.next_after(now).is_none() {
            return Err(FieldError::new(
                "invalid_schedule",
                "this schedule matches no date in the next five years",
            )
            .at("schedule"));
        }
        Ok(s)
    }

    fn allows(&self, field: usize, v: u32) -> bool {
        self.fields[field]
            .as_ref()
            .is_none_or(|list| list.iter().any(|(a, b)| (*a..=*b).contains(&v)))
    }

    /// The first query time after `t` (whole seconds), if one comes within five years.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let floor = |t: DateTime<Utc>, unit: Duration| t.duration_trunc(unit).ok();
        let mut t = floor(t, Duration::seconds(1))? + Duration::seconds(1);
        let end = t + Duration::days(HORIZON_DAYS);
        while t < end {
            let day_ok = self.allows(4, t.month())
                && self.allows(3, t.day())
                && self.allows(5, t.weekday().number_from_monday());
            if !day_ok {
                t = floor(t, Duration::days(1))? + Duration::days(1);
            } else if !self.allows(2, t.hour()) {
                t = floor(t, Duration::hours(1))? + Duration::hours(1);
            } else if !self.allows(1, t.minute()) {
                t = floor(t, Duration::minutes(1))? + Duration::minutes(1);
            } else if !self.allows(0, t.second()) {
                t += Duration::seconds(1);
            } else {
                return Some(t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(fields: &[(&str, &str)]) -> Result<Schedule, FieldError> {
        let map = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Schedule::parse(&map, at("2026-03-02T10:00:00Z"))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn next_query_times_follow_the_fields() -> Result<(), FieldError> {
        // 2026-03-02 is a Monday.
        let daily = schedule(&[("second", "0"), ("minute", "5"), ("hour", "1")])?;
        assert_eq!(
            daily.next_after(at("2026-03-02T10:00:00Z")),
            Some(at("2026-03-03T01:05:00Z"))
        );
        let hourly_weekdays =
            schedule(&[("second", "0"), ("minute", "0"), ("dayOfWeek", "[1-5]")])?;
        assert_eq!(
            hourly_weekdays.next_after(at("2026-03-06T23:30:00Z")),
            Some(at("2026-03-09T00:00:00Z")),
            "Friday night runs on Monday"
        );
        let twice = schedule(&[("second", "0"), ("minute", "0,[30-30]")])?;
        assert_eq!(
            twice.next_after(at("2026-03-02T10:00:00Z")),
            Some(at("2026-03-02T10:30:00Z")),
            "strictly after the time asked"
        );
        let every_second = schedule(&[])?;
        assert_eq!(
            every_second.next_after(at("2026-03-02T10:00:00.500Z")),
            Some(at("2026-03-02T10:00:01Z"))
        );
        let leap = schedule(&[
            ("second", "0"),
            ("minute", "0"),
            ("hour", "0"),
            ("month", "2"),
            ("dayOfMonth", "29"),
        ])?;
        assert_eq!(
            leap.next_after(at("2026-03-02T10:00:00Z")),
            Some(at("2028-02-29T00:00:00Z"))
        );
        Ok(())
    }

    #[test]
    fn bad_fields_are_refused_by_name() {
        for (field, value, named) in [
            ("minute", "60", "schedule.minute"),
            ("hour", "[5-2]", "schedule.hour"),
            ("dayOfWeek", "0", "schedule.dayOfWeek"),
            ("second", "*", "schedule.second"),
            ("month", "1-3", "schedule.month"),
            ("minute", "", "schedule.minute"),
            ("weekday", "1", "schedule.weekday"),
        ] {
            let e = schedule(&[(field, value)]).err();
            assert_eq!(
                e.and_then(|e| e.field).as_deref(),
                Some(named),
                "{field}={value}"
            );
        }
        let never = schedule(&[("month", "2"), ("dayOfMonth", "30")]).err();
        assert_eq!(never.and_then(|e| e.field).as_deref(), Some("schedule"));
    }
}
