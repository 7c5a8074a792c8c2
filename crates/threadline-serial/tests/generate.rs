//! Making serials and reading them back, by example: the issue's templates, time zones, reset
//! boundaries, sequence overflow, random parts, context errors, validation errors, the FMD test
//! and a million serials in one batch.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{CryptoRng, RngCore, SeedableRng};
use threadline_serial::{
    AllocationContext, CheckAlgorithm, Period, SerialRule, guessing_risk, require_fmd,
};

fn parse_rule(json: serde_json::Value) -> SerialRule {
    serde_json::from_value(json).unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(20_261_122)
}

fn pjc() -> SerialRule {
    parse_rule(serde_json::json!({
        "code": "PJC", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
        "time_zone": "+08:00", "sequence_reset": "daily"
    }))
}

#[test]
fn the_issue_example() {
    let at = utc(2023, 12, 25, 9, 30, 0);
    let context = AllocationContext::new("TC-200", at).with_line("A01");
    let batch = pjc().generate(&context, 1, 3, &mut rng()).unwrap();
    assert_eq!(
        batch.to_vec(),
        [
            "PJC-231225-A01-00001",
            "PJC-231225-A01-00002",
            "PJC-231225-A01-00003"
        ]
    );
    assert_eq!(batch.first_sequence(), Some(1));
    assert_eq!(batch.next_sequence(), Some(4));
    assert_eq!(batch.get(1), Some("PJC-231225-A01-00002"));
    assert_eq!(batch.get(3), None);
    let rule = pjc();
    let pattern = rule.pattern(&context).unwrap();
    assert_eq!(pattern.to_string(), "PJC-231225-A01-{SEQ:5:10}");
    assert_eq!(pattern.serial_len(), 20);
}

#[test]
fn dates_are_read_in_the_rules_time_zone() {
    let context = |at| AllocationContext::new("TC-200", at).with_line("A01");
    let rule = pjc();
    // 16:00 UTC is midnight in +08:00.
    let before = rule.generate(&context(utc(2023, 12, 24, 15, 59, 59)), 1, 1, &mut rng());
    let after = rule.generate(&context(utc(2023, 12, 24, 16, 0, 0)), 1, 1, &mut rng());
    assert_eq!(before.unwrap().to_vec(), ["PJC-231224-A01-00001"]);
    assert_eq!(after.unwrap().to_vec(), ["PJC-231225-A01-00001"]);
    let west = SerialRule::new(threadline_serial::RuleSpec {
        time_zone: Some("-05:30".into()),
        ..rule.spec().clone()
    })
    .unwrap();
    let serial = west
        .generate(&context(utc(2024, 1, 1, 5, 29, 0)), 7, 1, &mut rng())
        .unwrap();
    assert_eq!(serial.to_vec(), ["PJC-231231-A01-00007"]);
}

#[test]
fn every_date_part() {
    let rule = parse_rule(serde_json::json!({
        "code": "D", "template": "{YYYY}.{YY}.{MM}.{DD}.{JJJ}.{WW}.{SEQ:2}", "time_zone": "Z"
    }));
    let at = utc(2027, 1, 1, 12, 0, 0); // Friday, ISO week 53 of 2026
    let batch = rule.generate(&AllocationContext::new("P", at), 1, 1, &mut rng());
    let serial = batch.unwrap().to_vec().remove(0);
    assert_eq!(serial, "2027.27.01.01.001.53.01");
    let parts = rule.validate(&serial).unwrap();
    let date = parts.date.unwrap();
    assert_eq!(date.date, NaiveDate::from_ymd_opt(2027, 1, 1));
    assert_eq!(
        (
            date.year,
            date.month,
            date.day,
            date.day_of_year,
            date.iso_week
        ),
        (Some(2027), Some(1), Some(1), Some(1), Some(53))
    );
}

/// The scope key changes exactly at each reset boundary, in the rule's time zone.
#[test]
fn scope_keys_change_across_reset_boundaries() {
    let scope = |reset: &str, template: &str, at| {
        parse_rule(serde_json::json!({
            "code": "S", "template": template, "time_zone": "+08:00", "sequence_reset": reset
        }))
        .scope(&AllocationContext::new("TC-200", at))
        .unwrap()
    };
    // Local midnight of 2024-03-01 in +08:00 is 2024-02-29T16:00Z.
    let last_second = utc(2024, 2, 29, 15, 59, 59);
    let first_second = utc(2024, 2, 29, 16, 0, 0);
    let daily = |at| scope("daily", "{YYMMDD}{SEQ:4}", at);
    assert_eq!(daily(last_second).key(), "2024-02-29|product=TC-200");
    assert_eq!(daily(first_second).key(), "2024-03-01|product=TC-200");
    assert_eq!(
        daily(utc(2024, 2, 29, 0, 0, 0)),
        daily(last_second),
        "same local day, same counter"
    );
    let monthly = |at| scope("monthly", "{YY}{MM}{SEQ:4}", at);
    assert_eq!(monthly(last_second).key(), "2024-02|product=TC-200");
    assert_eq!(monthly(first_second).key(), "2024-03|product=TC-200");
    assert_eq!(
        monthly(first_second).period(),
        Period::Month {
            year: 2024,
            month: 3
        }
    );
    assert_eq!(monthly(utc(2024, 3, 31, 15, 59, 59)), monthly(first_second));
    let yearly = |at| scope("yearly", "{YY}{SEQ:4}", at);
    assert_eq!(
        yearly(utc(2024, 12, 31, 15, 59, 59)).key(),
        "2024|product=TC-200"
    );
    assert_eq!(
        yearly(utc(2024, 12, 31, 16, 0, 0)).key(),
        "2025|product=TC-200"
    );
    assert_eq!(yearly(last_second), yearly(utc(2024, 12, 31, 15, 59, 59)));
    let never = |at| scope("never", "{YYMMDD}{SEQ:4}", at);
    assert_eq!(never(last_second).key(), "always|product=TC-200");
    assert_eq!(never(last_second), never(utc(2031, 6, 1, 0, 0, 0)));
}

#[test]
fn scope_keys_name_the_codes_that_make_a_prefix() {
    let at = utc(2026, 11, 22, 1, 0, 0);
    let context = AllocationContext::new("TC-200", at)
        .with_category("CTRL")
        .with_site("SZ")
        .with_line("L1");
    let key = |template: &str, uniqueness: &str| {
        parse_rule(serde_json::json!({
            "code": "K", "template": template, "uniqueness": uniqueness
        }))
        .scope(&context)
        .unwrap()
        .key()
        .to_owned()
    };
    assert_eq!(key("{SEQ:6}", "product"), "always|product=TC-200");
    assert_eq!(key("{SEQ:6}", "global"), "always");
    assert_eq!(
        key("{SITE:2}{LINE}{SEQ:6}", "global"),
        "always|site=SZ|line=L1"
    );
    assert_eq!(
        key("{CATEGORY}-{SEQ:6}", "product"),
        "always|product=TC-200|category=CTRL"
    );
    assert_eq!(key("{PRODUCT}-{SEQ:6}", "global"), "always|product=TC-200");
}

#[test]
fn sequence_overflow_is_refused_naming_the_rule_and_the_maximum() {
    let context = AllocationContext::new("TC-200", utc(2023, 12, 25, 1, 0, 0)).with_line("A01");
    let rule = pjc();
    let last = rule.generate(&context, 99_999, 1, &mut rng()).unwrap();
    assert_eq!(last.to_vec(), ["PJC-231225-A01-99999"]);
    assert_eq!(last.next_sequence(), Some(100_000));
    let e = rule.generate(&context, 99_990, 11, &mut rng()).unwrap_err();
    assert_eq!(e.code, "sequence_exhausted");
    assert!(e.message.contains("rule `PJC`"), "{e}");
    assert!(e.message.contains("at most 99999"), "{e}");
    assert!(
        e.message.contains("2023-12-25|product=TC-200|line=A01"),
        "{e}"
    );
    assert_eq!(
        rule.generate(&context, 100_000, 0, &mut rng())
            .unwrap_err()
            .code,
        "sequence_exhausted"
    );
    assert_eq!(
        rule.generate(&context, u64::MAX, 2, &mut rng())
            .unwrap_err()
            .code,
        "sequence_exhausted"
    );
    let e = rule.generate(&context, 0, 1, &mut rng()).unwrap_err();
    assert_eq!(e.code, "sequence_below_start");
    assert!(
        rule.generate(&context, 5, 0, &mut rng())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sequences_in_other_radixes_count_with_carries() {
    let context = AllocationContext::new("P", utc(2026, 1, 1, 0, 0, 0));
    let make = |template: &str, first, count| {
        parse_rule(serde_json::json!({"code": "R", "template": template}))
            .generate(&context, first, count, &mut rng())
            .unwrap()
            .to_vec()
    };
    assert_eq!(make("{SEQ:3:36}", 34, 4), ["00Y", "00Z", "010", "011"]);
    assert_eq!(make("{SEQ:2:crockford32}", 30, 3), ["0Y", "0Z", "10"]);
    assert_eq!(make("{SEQ:3:16}", 0xFFE, 2), ["FFE", "FFF"]);
    assert_eq!(make("{SEQ:2:2}", 1, 3), ["01", "10", "11"]);
    let custom = parse_rule(serde_json::json!({
        "code": "V", "template": "{SEQ:2:vowels}", "alphabets": {"vowels": "AEIOU"}
    }));
    let batch = custom.generate(&context, 4, 3, &mut rng()).unwrap();
    assert_eq!(batch.to_vec(), ["AU", "EA", "EE"]);
    assert_eq!(custom.validate("EE").unwrap().sequence, Some(6));
}

#[test]
fn check_characters_are_appended_and_verified() {
    let context = AllocationContext::new("P", utc(2026, 1, 1, 0, 0, 0));
    for algorithm in CheckAlgorithm::ALL {
        let template = format!("9{{SEQ:6}}{{CHECK:{}}}", algorithm.name());
        let rule = parse_rule(serde_json::json!({"code": "C", "template": template}));
        let batch = rule.generate(&context, 1, 50, &mut rng()).unwrap();
        for serial in batch.iter() {
            assert!(algorithm.is_valid(serial), "{algorithm:?} {serial}");
            assert_eq!(
                rule.validate(serial).unwrap().check.as_deref(),
                Some(&serial[7..])
            );
        }
    }
    let alnum = parse_rule(serde_json::json!({
        "code": "A", "template": "{PRODUCT}{YY}{WW}{SEQ:6:36}{CHECK:mod37-36}", "time_zone": "+08:00"
    }));
    let batch = alnum
        .generate(
            &AllocationContext::new("TC200", utc(2026, 11, 22, 1, 0, 0)),
            46_655,
            2,
            &mut rng(),
        )
        .unwrap();
    assert_eq!(batch.get(0).unwrap()[..15], *"TC2002647000ZZZ");
    assert_eq!(batch.get(1).unwrap()[..15], *"TC2002647001000");
    for serial in batch.iter() {
        assert!(CheckAlgorithm::Mod37_36.is_valid(serial));
    }
}

#[test]
fn context_codes_are_checked() {
    let at = utc(2026, 1, 1, 0, 0, 0);
    let rule = parse_rule(serde_json::json!({
        "code": "L", "template": "{SITE:2}{LINE}{SEQ:4}{CHECK:luhn}"
    }));
    let cases = [
        (
            AllocationContext::new("P", at).with_site("12"),
            "line",
            "missing_context",
            "needs a line",
        ),
        (
            AllocationContext::new("P", at)
                .with_site("123")
                .with_line("4"),
            "site",
            "wrong_width",
            "exactly 2",
        ),
        (
            AllocationContext::new("P", at)
                .with_site("12")
                .with_line("4A"),
            "line",
            "check_alphabet",
            "`A`",
        ),
        (
            AllocationContext::new("P", at)
                .with_site("12")
                .with_line("4 5"),
            "line",
            "invalid_code",
            "`4 5`",
        ),
        (
            AllocationContext::new("", at)
                .with_site("12")
                .with_line("4"),
            "product",
            "invalid_code",
            "``",
        ),
    ];
    for (context, field, code, fragment) in cases {
        let e = rule.pattern(&context).unwrap_err();
        assert_eq!((e.field.as_deref(), e.code), (Some(field), code), "{e}");
        assert!(e.message.contains(fragment), "{e}");
    }
    let too_long = parse_rule(serde_json::json!({"code": "T", "template": "{PRODUCT}{SEQ:19}"}));
    let e = too_long
        .pattern(&AllocationContext::new(&"P".repeat(46), at))
        .unwrap_err();
    assert_eq!(e.code, "too_long");
    let dated =
        parse_rule(serde_json::json!({"code": "Y", "template": "{YY}{SEQ:4}", "time_zone": "Z"}));
    let e = dated
        .pattern(&AllocationContext::new("P", utc(2100, 1, 1, 0, 0, 0)))
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        ("date_out_of_range", Some("at"))
    );
}

#[test]
fn random_parts_are_drawn_from_their_alphabet_and_reproducible_with_a_seed() {
    let rule = parse_rule(serde_json::json!({
        "code": "R", "template": "{SEQ:4}-{RAND:10:crockford32}-{RAND:3}"
    }));
    let context = AllocationContext::new("P", utc(2026, 1, 1, 0, 0, 0));
    let a = rule.generate(&context, 1, 1000, &mut rng()).unwrap();
    let b = rule.generate(&context, 1, 1000, &mut rng()).unwrap();
    assert_eq!(a, b, "a seeded source repeats itself");
    let mut seen = [0usize; 128];
    for serial in a.iter() {
        let parsed = rule.validate(serial).unwrap();
        assert_eq!(parsed.random.len(), 2);
        for c in parsed.random[0].bytes() {
            assert!(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&c));
            seen[usize::from(c)] += 1;
        }
        assert!(parsed.random[1].bytes().all(|c| c.is_ascii_digit()));
    }
    // 10,000 draws over 32 characters: each should appear about 312 times.
    for c in b"0123456789ABCDEFGHJKMNPQRSTVWXYZ" {
        assert!(
            (200..450).contains(&seen[usize::from(*c)]),
            "{}: {}",
            *c as char,
            seen[usize::from(*c)]
        );
    }
}

#[test]
fn random_only_rules_never_repeat_within_a_batch() {
    let rule = parse_rule(serde_json::json!({"code": "R", "template": "X{RAND:3}"}));
    let context = AllocationContext::new("P", utc(2026, 1, 1, 0, 0, 0));
    let batch = rule.generate(&context, 0, 500, &mut rng()).unwrap();
    assert_eq!(batch.iter().collect::<HashSet<_>>().len(), 500);
    assert_eq!(batch.first_sequence(), None);
    assert_eq!(batch.next_sequence(), None);
    let e = rule.generate(&context, 0, 501, &mut rng()).unwrap_err();
    assert_eq!(e.code, "random_space_too_small");
    assert!(e.message.contains("at most 500"), "{e}");
}

/// A broken random source that always says the same thing.
struct Stuck;

impl RngCore for Stuck {
    fn next_u32(&mut self) -> u32 {
        7
    }
    fn next_u64(&mut self) -> u64 {
        7
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.fill(7);
    }
}

impl CryptoRng for Stuck {}

#[test]
fn a_stuck_random_source_is_noticed() {
    let rule = parse_rule(serde_json::json!({"code": "R", "template": "{RAND:8}"}));
    let context = AllocationContext::new("P", utc(2026, 1, 1, 0, 0, 0));
    assert_eq!(rule.generate(&context, 0, 1, &mut Stuck).unwrap().len(), 1);
    let e = rule.generate(&context, 0, 2, &mut Stuck).unwrap_err();
    assert_eq!(e.code, "random_source_stuck");
    // A dyn source works too.
    let source: &mut dyn CryptoRng = &mut rng();
    assert_eq!(rule.generate(&context, 0, 3, source).unwrap().len(), 3);
}

#[test]
fn validation_names_what_is_wrong() {
    let rule = parse_rule(serde_json::json!({
        "code": "PJC", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}{CHECK:mod37-36}",
        "time_zone": "+08:00", "sequence_reset": "daily"
    }));
    let good = rule
        .generate(
            &AllocationContext::new("TC-200", utc(2024, 2, 29, 1, 0, 0)).with_line("A01"),
            42,
            1,
            &mut rng(),
        )
        .unwrap()
        .to_vec()
        .remove(0);
    let parsed = rule.validate(&good).unwrap();
    assert_eq!(parsed.line.as_deref(), Some("A01"));
    assert_eq!(parsed.sequence, Some(42));
    assert_eq!(
        parsed.date.unwrap().date,
        NaiveDate::from_ymd_opt(2024, 2, 29)
    );
    let with_check = |body: &str| {
        // The check skips the hyphens of the template.
        let covered = body.replace('-', "");
        format!(
            "{body}{}",
            CheckAlgorithm::Mod37_36.compute(&covered).unwrap()
        )
    };
    let cases = [
        (
            "PJC-240229--0004",
            "wrong_length",
            "has 16 characters; serials of rule `PJC` have more than 18",
        ),
        (
            "PJX-240229-A01-00042Z",
            "does_not_match_rule",
            "`X` at position 3, where rule `PJC` has `C`",
        ),
        (
            "PJC-2402X9-A01-00042Z",
            "does_not_match_rule",
            "`X` at position 9, where rule `PJC` has the digits of {YYMMDD}",
        ),
        (
            "PJC-240229-A 1-00042Z",
            "invalid_character",
            "` ` at position 13",
        ),
        (
            "PJC-240229-A01-000A2Z",
            "does_not_match_rule",
            "`A` at position 19, where rule `PJC` has a sequence character",
        ),
        (
            "PJC-240229-A01-00042é",
            "invalid_character",
            "`é` at position 21",
        ),
        (
            "PJC-240229-A01+00042Z",
            "does_not_match_rule",
            "`+` at position 15",
        ),
        (
            "PJC-240229-a01-00042Z",
            "does_not_match_rule",
            "cannot be covered by a mod37-36 check character",
        ),
        (
            "PJC-240229-A01-00000Z",
            "does_not_match_rule",
            "below the start 1",
        ),
    ];
    for (serial, code, fragment) in cases {
        let e = rule.validate(serial).unwrap_err();
        assert_eq!(e.code, code, "{serial}: {e}");
        assert!(e.message.contains(fragment), "{serial}: {e}");
    }
    let e = rule
        .validate(&format!("PJC-240229-{}-00042Z", "A".repeat(47)))
        .unwrap_err();
    assert!(e.message.contains("more than 18 and at most 64"), "{e}");
    // 2025 has no 29 February, even with a right check character.
    let e = rule
        .validate(&with_check("PJC-250229-A01-00042"))
        .unwrap_err();
    assert_eq!(e.code, "invalid_date", "{e}");
    assert!(e.message.contains("position 9"), "{e}");
    rule.validate(&with_check("PJC-240229-B7-00042")).unwrap();
    // A mistyped digit is caught by the check character.
    let mut typo = good.clone().into_bytes();
    typo[17] = if typo[17] == b'7' { b'8' } else { b'7' };
    let e = rule
        .validate(&String::from_utf8(typo).unwrap())
        .unwrap_err();
    assert_eq!(e.code, "wrong_check_character");
    assert!(e.message.contains("position 21"), "{e}");
}

#[test]
fn dates_that_do_not_exist_are_refused() {
    let cases = [
        ("{YYMMDD}{SEQ:2}", "24022901", true),
        ("{YYMMDD}{SEQ:2}", "23022901", false),
        ("{YYMMDD}{SEQ:2}", "23130101", false),
        ("{YYMMDD}{SEQ:2}", "23000101", false),
        ("{YYMMDD}{SEQ:2}", "23123201", false),
        ("{YY}{JJJ}{SEQ:2}", "2436601", true),
        ("{YY}{JJJ}{SEQ:2}", "2336601", false),
        ("{YY}{JJJ}{SEQ:2}", "2300001", false),
        ("{MM}{DD}{SEQ:2}", "022901", true),
        ("{MM}{DD}{SEQ:2}", "023001", false),
        ("{DD}{SEQ:2}", "3101", true),
        ("{DD}{SEQ:2}", "3201", false),
        // ISO 2026 has 53 weeks: late 2026 and early 2027 show week 53.
        ("{YY}{WW}{SEQ:2}", "265301", true),
        ("{YY}{WW}{SEQ:2}", "275301", true),
        ("{YY}{WW}{SEQ:2}", "255301", false),
        ("{YY}{WW}{SEQ:2}", "260001", false),
        ("{WW}{SEQ:2}", "5401", false),
        ("{YYMMDD}{WW}{SEQ:2}", "2701015301", true),
        ("{YYMMDD}{WW}{SEQ:2}", "2701010101", false),
        ("{YYMMDD}{JJJ}{SEQ:2}", "24030106101", true),
        ("{YYMMDD}{JJJ}{SEQ:2}", "24030106001", false),
        ("{YYYY}{YY}{SEQ:2}", "20262601", true),
        ("{YYYY}{YY}{SEQ:2}", "20262701", false),
        ("{YYMMDD}{MM}{SEQ:2}", "2403010301", true),
        ("{YYMMDD}{MM}{SEQ:2}", "2403010401", false),
        ("{YY}{JJJ}{MM}{SEQ:2}", "240610301", true),
        ("{YY}{JJJ}{MM}{SEQ:2}", "240610201", false),
    ];
    for (template, serial, valid) in cases {
        let rule =
            parse_rule(serde_json::json!({"code": "D", "template": template, "time_zone": "Z"}));
        let result = rule.validate(serial);
        assert_eq!(result.is_ok(), valid, "{template} {serial}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.code, "invalid_date", "{template} {serial}: {e}");
            assert!(e.message.contains("position"), "{e}");
        }
    }
    let rule = parse_rule(
        serde_json::json!({"code": "D", "template": "{YY}{JJJ}{SEQ:2}", "time_zone": "Z"}),
    );
    let date = rule.validate("2406101").unwrap().date.unwrap();
    assert_eq!(date.date, NaiveDate::from_ymd_opt(2024, 3, 1));
    assert_eq!((date.month, date.day), (Some(3), Some(1)));
}

#[test]
fn the_fmd_guessing_test() {
    let rule = parse_rule(serde_json::json!({"code": "EU", "template": "{SEQ:6}{RAND:8}"}));
    // 10^8 random values: 9,999 serials give 9.999e-5, 10,000 give exactly 1e-4.
    let ok = require_fmd(&rule, 9_999).unwrap();
    assert_eq!(ok.random_combinations, Some(100_000_000));
    assert_eq!(ok.max_issuable, 9_999);
    assert!(ok.probability < 1e-4);
    assert!((ok.random_bits - 8.0 * 10f64.log2()).abs() < 1e-9);
    let e = require_fmd(&rule, 10_000).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        ("fmd_guessable", Some("quantity"))
    );
    assert!(e.message.contains("rule `EU`"), "{e}");
    assert!(e.message.contains("at most 9999 serials"), "{e}");
    assert!(e.message.contains("1.000e-4"), "{e}");
    assert!((guessing_risk(&rule, 10_000).probability - 1e-4).abs() < 1e-15);
    assert_eq!(guessing_risk(&rule, u64::MAX).probability, 1.0);

    let sequential = parse_rule(serde_json::json!({"code": "SQ", "template": "{SEQ:12}"}));
    let e = require_fmd(&sequential, 1).unwrap_err();
    assert!(e.message.contains("no random part"), "{e}");
    assert_eq!(guessing_risk(&sequential, 1).probability, 1.0);

    let pharma = parse_rule(serde_json::json!({"code": "PH", "template": "{RAND:12:crockford32}"}));
    let risk = require_fmd(&pharma, 1_000_000_000).unwrap();
    assert_eq!(risk.max_issuable, (32u128.pow(12) - 1) / 10_000);
    let huge = parse_rule(serde_json::json!({
        "code": "H", "template": "{RAND:30:alnum}{RAND:30:alnum}"
    }));
    let risk = require_fmd(&huge, u64::MAX).unwrap();
    assert_eq!(risk.random_combinations, None);
    assert!(risk.probability < 1e-20);
}

/// A million serials in one batch: one buffer, a lean loop. Timed for information; the
/// benchmark with a release build is the store's.
#[test]
fn a_million_serials_in_one_batch() {
    let rule = parse_rule(serde_json::json!({
        "code": "BULK", "template": "TC2-{YYMMDD}-{LINE}-{SEQ:7}{RAND:4:crockford32}{CHECK:mod37-36}",
        "time_zone": "+08:00", "sequence_reset": "daily"
    }));
    let context = AllocationContext::new("TC-200", utc(2026, 11, 22, 1, 0, 0)).with_line("L1");
    let started = std::time::Instant::now();
    let batch = rule.generate(&context, 1, 1_000_000, &mut rng()).unwrap();
    eprintln!("1,000,000 serials in {:?}", started.elapsed());
    assert_eq!(batch.len(), 1_000_000);
    assert_eq!(&batch.get(999_999).unwrap()[..21], "TC2-261122-L1-1000000");
    assert_eq!(batch.iter().collect::<HashSet<_>>().len(), 1_000_000);
    for serial in batch.iter().step_by(9_973) {
        rule.validate(serial).unwrap();
    }
}
