//! A serial rule: the template plus everything that decides how its serials are counted and
//! where they must be unique. Rules are data (created through the API, versioned by the store);
//! [`RuleSpec`] is their JSON shape and [`SerialRule`] the parsed, trusted form.
//!
//! ```json
//! {
//!   "code": "PJC",
//!   "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
//!   "time_zone": "+08:00",
//!   "sequence_reset": "daily",
//!   "uniqueness": "product"
//! }
//! ```
//!
//! The reset period is a rule field, not template syntax: the template says what a serial looks
//! like, the rule says how its counter behaves. The two are checked against each other once, so
//! that a daily reset is refused unless the template shows the day (otherwise two days would
//! make the same serials).

use std::collections::BTreeMap;

use chrono::{FixedOffset, Offset, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::FieldError;

use crate::alphabet::Alphabet;
use crate::template::{DatePart, Template};

/// When the sequence starts again from [`SerialRule::sequence_start`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SequenceReset {
    /// One counter for the life of the rule.
    #[default]
    Never,
    /// A new counter every calendar year in the rule's time zone.
    Yearly,
    /// A new counter every calendar month.
    Monthly,
    /// A new counter every day.
    Daily,
}

impl SequenceReset {
    /// The JSON name, `daily`.
    pub fn name(self) -> &'static str {
        match self {
            SequenceReset::Never => "never",
            SequenceReset::Yearly => "yearly",
            SequenceReset::Monthly => "monthly",
            SequenceReset::Daily => "daily",
        }
    }
}

/// Where a serial of the rule must be unique.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Uniqueness {
    /// Unique within one product, the GS1 way (GTIN + serial): each product counts on its own.
    #[default]
    Product,
    /// Unique across all products: products without `{PRODUCT}` in the template share one
    /// counter.
    Global,
}

/// A fixed offset from UTC such as `+08:00`, in which date parts and reset periods are
/// evaluated. Written `+HH:MM` or `-HH:MM` from `-12:00` to `+14:00`; `Z` and `UTC` mean
/// `+00:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UtcOffset(FixedOffset);

impl UtcOffset {
    /// UTC itself.
    pub fn utc() -> UtcOffset {
        UtcOffset(Utc.fix())
    }

    /// Parses `+08:00`, `-05:30`, `Z` or `UTC`.
    pub fn parse(text: &str) -> Result<UtcOffset, FieldError> {
        let refuse = || {
            FieldError::new(
                "invalid_time_zone",
                format!(
                    "time zone `{text}` must be an offset from UTC written +HH:MM or -HH:MM \
                     (from -12:00 to +14:00), such as +08:00"
                ),
            )
            .at("time_zone")
        };
        if text == "Z" || text == "UTC" {
            return Ok(UtcOffset::utc());
        }
        let b = text.as_bytes();
        if b.len() != 6 || b[3] != b':' || !matches!(b[0], b'+' | b'-') {
            return Err(refuse());
        }
        let two = |i: usize| -> Option<i32> {
            (b[i].is_ascii_digit() && b[i + 1].is_ascii_digit())
                .then(|| i32::from(b[i] - b'0') * 10 + i32::from(b[i + 1] - b'0'))
        };
        let (Some(hours), Some(minutes)) = (two(1), two(4)) else {
            return Err(refuse());
        };
        let seconds = (hours * 60 + minutes) * 60 * if b[0] == b'-' { -1 } else { 1 };
        if minutes > 59 || !(-12 * 3600..=14 * 3600).contains(&seconds) {
            return Err(refuse());
        }
        FixedOffset::east_opt(seconds)
            .map(UtcOffset)
            .ok_or_else(refuse)
    }

    /// The offset as chrono sees it.
    pub fn fixed(self) -> FixedOffset {
        self.0
    }
}

impl std::fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.0.local_minus_utc();
        let sign = if seconds < 0 { '-' } else { '+' };
        let minutes = seconds.unsigned_abs() / 60;
        write!(f, "{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

fn default_sequence_start() -> u64 {
    1
}

fn is_default_sequence_start(start: &u64) -> bool {
    *start == 1
}

/// A rule as written in JSON. Unknown fields are refused; [`SerialRule::try_from`] checks the
/// rest and names the field of each problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The rule's code, named in every error about it (letters, digits, `-`, `_`, `.`).
    pub code: String,
    /// The template; see [`crate::template`].
    pub template: String,
    /// Required when the template has date parts or the sequence resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub sequence_reset: SequenceReset,
    /// The first value of a new counter (after a reset, too). Defaults to 1.
    #[serde(
        default = "default_sequence_start",
        skip_serializing_if = "is_default_sequence_start"
    )]
    pub sequence_start: u64,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    /// The rule's own alphabets by name, for `{SEQ:…:name}` and `{RAND:…:name}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alphabets: BTreeMap<String, String>,
}

/// A checked serial rule, parsed once. Serialises as its [`RuleSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
pub struct SerialRule {
    spec: RuleSpec,
    template: Template,
    time_zone: Option<UtcOffset>,
}

impl TryFrom<RuleSpec> for SerialRule {
    type Error = FieldError;

    fn try_from(spec: RuleSpec) -> Result<Self, FieldError> {
        SerialRule::new(spec)
    }
}

impl From<SerialRule> for RuleSpec {
    fn from(rule: SerialRule) -> RuleSpec {
        rule.spec
    }
}

impl SerialRule {
    /// Checks a rule: its code, alphabets, template, time zone, and that the reset period and
    /// the sequence start fit the template. Each error names its field.
    pub fn new(spec: RuleSpec) -> Result<SerialRule, FieldError> {
        check_code(&spec.code)?;
        let alphabets = spec
            .alphabets
            .iter()
            .map(|(name, chars)| Alphabet::custom(name, chars))
            .collect::<Result<Vec<_>, _>>()?;
        let template = Template::parse_with(&spec.template, &alphabets)?;
        let time_zone = spec
            .time_zone
            .as_deref()
            .map(UtcOffset::parse)
            .transpose()?;
        let has_dates = template.date_parts().next().is_some();
        let reset = spec.sequence_reset;
        if time_zone.is_none() && (has_dates || reset != SequenceReset::Never) {
            return Err(FieldError::new(
                "time_zone_required",
                format!(
                    "rule `{}` {} and so needs a time_zone, such as +08:00, to tell which day \
                     it is",
                    spec.code,
                    if has_dates {
                        "writes dates"
                    } else {
                        "resets its sequence"
                    }
                ),
            )
            .at("time_zone"));
        }
        check_reset(&spec, &template)?;
        let max = template.sequence_max().unwrap_or(u64::MAX);
        if spec.sequence_start > max {
            return Err(FieldError::new(
                "sequence_start_too_large",
                format!(
                    "rule `{}` starts its sequence at {}, but its {{SEQ}} can write at most {max}",
                    spec.code, spec.sequence_start
                ),
            )
            .at("sequence_start"));
        }
        Ok(SerialRule {
            spec,
            template,
            time_zone,
        })
    }

    /// The rule's code.
    pub fn code(&self) -> &str {
        &self.spec.code
    }

    /// The rule as written.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// The parsed template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The time zone dates are evaluated in (UTC when the rule needs none).
    pub fn time_zone(&self) -> UtcOffset {
        self.time_zone.unwrap_or_else(UtcOffset::utc)
    }

    /// When the sequence starts again.
    pub fn sequence_reset(&self) -> SequenceReset {
        self.spec.sequence_reset
    }

    /// The first value of a new counter.
    pub fn sequence_start(&self) -> u64 {
        self.spec.sequence_start
    }

    /// The largest sequence value, if the rule counts.
    pub fn sequence_max(&self) -> Option<u64> {
        self.template.sequence_max()
    }

    /// Whether serials of the rule carry a sequence (and so need a counter in the store).
    pub fn has_sequence(&self) -> bool {
        self.template.sequence().is_some()
    }

    /// Where serials must be unique.
    pub fn uniqueness(&self) -> Uniqueness {
        self.spec.uniqueness
    }
}

fn check_code(code: &str) -> Result<(), FieldError> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "invalid_code",
            format!(
                "rule code `{}` must be 1 to 64 letters, digits, `-`, `_` or `.`",
                code.escape_debug()
            ),
        )
        .at("code"))
    }
}

/// A reset period must be visible in the serial: after a daily reset the sequence repeats, and
/// only the day written in the serial keeps yesterday's and today's serials apart.
fn check_reset(spec: &RuleSpec, template: &Template) -> Result<(), FieldError> {
    let reset = spec.sequence_reset;
    if reset == SequenceReset::Never {
        return Ok(());
    }
    if template.sequence().is_none() {
        return Err(FieldError::new(
            "reset_without_sequence",
            format!(
                "rule `{}` resets its sequence {}, but its template has no {{SEQ:…}}",
                spec.code,
                reset.name()
            ),
        )
        .at("sequence_reset"));
    }
    let has = |parts: &[DatePart]| template.date_parts().any(|d| parts.contains(&d));
    let year = has(&[DatePart::Yy, DatePart::Yyyy, DatePart::Yymmdd]);
    let day = has(&[DatePart::Yymmdd, DatePart::DayOfYear])
        || (has(&[DatePart::Dd]) && has(&[DatePart::Mm]));
    let month = day || has(&[DatePart::Mm]);
    let (shown, needs) = match reset {
        SequenceReset::Never => (true, ""),
        SequenceReset::Yearly => (year, "the year: add {YY} or {YYYY}"),
        SequenceReset::Monthly => (
            year && month,
            "the year and month: add {YYMMDD}, or {YY} and {MM}",
        ),
        SequenceReset::Daily => (
            year && day,
            "the day: add {YYMMDD}, {YY}{MM}{DD} or {YY}{JJJ}",
        ),
    };
    if shown {
        return Ok(());
    }
    Err(FieldError::new(
        "reset_not_shown",
        format!(
            "rule `{}` resets its sequence {}, so serials of different periods would be equal \
             unless the template shows {needs}",
            spec.code,
            reset.name()
        ),
    )
    .at("sequence_reset"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(template: &str) -> RuleSpec {
        RuleSpec {
            code: "R1".into(),
            template: template.into(),
            time_zone: Some("+08:00".into()),
            sequence_reset: SequenceReset::Never,
            sequence_start: 1,
            uniqueness: Uniqueness::Product,
            alphabets: BTreeMap::new(),
        }
    }

    #[test]
    fn json_shape_and_defaults() {
        let rule: SerialRule = serde_json::from_str(
            r#"{"code": "PJC", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
                "time_zone": "+08:00", "sequence_reset": "daily"}"#,
        )
        .unwrap();
        assert_eq!(rule.code(), "PJC");
        assert_eq!(rule.sequence_reset(), SequenceReset::Daily);
        assert_eq!(rule.uniqueness(), Uniqueness::Product);
        assert_eq!(rule.sequence_start(), 1);
        assert_eq!(rule.time_zone().to_string(), "+08:00");
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "PJC", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
                "time_zone": "+08:00", "sequence_reset": "daily", "uniqueness": "product"})
        );
        let back: SerialRule = serde_json::from_value(json).unwrap();
        assert_eq!(back, rule);
    }

    #[test]
    fn unknown_fields_and_bad_rules_are_refused() {
        let e = serde_json::from_str::<SerialRule>(
            r#"{"code": "X", "template": "{SEQ:4}", "reset": "daily"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `reset`"), "{e}");
        let e = serde_json::from_str::<SerialRule>(
            r#"{"code": "X", "template": "{SEQ:4}", "uniqueness": "site"}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant `site`"), "{e}");
        // Semantic errors keep their message through serde.
        let e = serde_json::from_str::<SerialRule>(r#"{"code": "X", "template": "{SEQ:0}"}"#)
            .unwrap_err();
        assert!(
            e.to_string().contains("template: `{SEQ:0}` at position 1"),
            "{e}"
        );
    }

    #[test]
    fn each_problem_names_its_field() {
        let cases: Vec<(RuleSpec, &str, &str, &str)> = vec![
            (
                RuleSpec {
                    code: "a b".into(),
                    ..spec("{SEQ:4}")
                },
                "code",
                "invalid_code",
                "`a b`",
            ),
            (
                RuleSpec {
                    time_zone: Some("+8".into()),
                    ..spec("{SEQ:4}")
                },
                "time_zone",
                "invalid_time_zone",
                "`+8`",
            ),
            (
                RuleSpec {
                    time_zone: None,
                    ..spec("{YY}{SEQ:4}")
                },
                "time_zone",
                "time_zone_required",
                "writes dates",
            ),
            (
                RuleSpec {
                    time_zone: None,
                    sequence_reset: SequenceReset::Yearly,
                    ..spec("{YY}{SEQ:4}")
                },
                "time_zone",
                "time_zone_required",
                "",
            ),
            (
                RuleSpec {
                    sequence_reset: SequenceReset::Daily,
                    ..spec("{YY}{MM}{SEQ:4}")
                },
                "sequence_reset",
                "reset_not_shown",
                "shows the day",
            ),
            (
                RuleSpec {
                    sequence_reset: SequenceReset::Monthly,
                    ..spec("{MM}{DD}{SEQ:4}")
                },
                "sequence_reset",
                "reset_not_shown",
                "year and month",
            ),
            (
                RuleSpec {
                    sequence_reset: SequenceReset::Yearly,
                    ..spec("{WW}{SEQ:4}")
                },
                "sequence_reset",
                "reset_not_shown",
                "the year",
            ),
            (
                RuleSpec {
                    sequence_reset: SequenceReset::Daily,
                    ..spec("{YYMMDD}{RAND:8}")
                },
                "sequence_reset",
                "reset_without_sequence",
                "no {SEQ",
            ),
            (
                RuleSpec {
                    sequence_start: 10_000,
                    ..spec("{SEQ:4}")
                },
                "sequence_start",
                "sequence_start_too_large",
                "at most 9999",
            ),
            (
                RuleSpec {
                    alphabets: BTreeMap::from([("hex".into(), "01".into())]),
                    ..spec("{SEQ:4}")
                },
                "alphabets.hex",
                "invalid_alphabet",
                "built in",
            ),
            (
                spec("{SEQ:4}{SEQ:4}"),
                "template",
                "repeated_part",
                "position 8",
            ),
        ];
        for (spec, field, code, fragment) in cases {
            let e = SerialRule::new(spec.clone()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{spec:?}: {e}");
            assert_eq!(e.code, code, "{spec:?}: {e}");
            assert!(e.message.contains(fragment), "{spec:?}: {e}");
        }
    }

    #[test]
    fn resets_shown_by_the_template_are_accepted() {
        for (template, reset) in [
            ("{YYMMDD}{SEQ:4}", SequenceReset::Daily),
            ("{YY}{JJJ}{SEQ:4}", SequenceReset::Daily),
            ("{YYYY}{MM}{DD}{SEQ:4}", SequenceReset::Daily),
            ("{YY}{JJJ}{SEQ:4}", SequenceReset::Monthly),
            ("{YYYY}-{MM}-{SEQ:4}", SequenceReset::Monthly),
            ("{YY}{WW}{SEQ:4}", SequenceReset::Yearly),
        ] {
            SerialRule::new(RuleSpec {
                sequence_reset: reset,
                ..spec(template)
            })
            .unwrap();
        }
        let custom = SerialRule::new(RuleSpec {
            alphabets: BTreeMap::from([("vowels".into(), "AEIOU".into())]),
            ..spec("{SEQ:3:vowels}")
        })
        .unwrap();
        assert_eq!(custom.sequence_max(), Some(124));
    }

    #[test]
    fn time_zones() {
        for (text, shown) in [
            ("+08:00", "+08:00"),
            ("-05:30", "-05:30"),
            ("Z", "+00:00"),
            ("UTC", "+00:00"),
            ("+14:00", "+14:00"),
            ("-12:00", "-12:00"),
            ("-00:00", "+00:00"),
        ] {
            assert_eq!(UtcOffset::parse(text).unwrap().to_string(), shown);
        }
        for bad in [
            "+8:00", "08:00", "+08:60", "+14:30", "-12:01", "+0800", "", "CST", "+0a:00",
        ] {
            assert_eq!(
                UtcOffset::parse(bad).unwrap_err().code,
                "invalid_time_zone",
                "{bad}"
            );
        }
    }
}
