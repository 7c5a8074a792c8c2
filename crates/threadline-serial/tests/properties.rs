//! Properties over random rules: what is generated reads back into the parts it was made from;
//! a store that keeps one counter per sequence scope never hands out the same serial twice,
//! across resets, codes of every length and time zones; broken templates are refused at the
//! position of the fault.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use threadline_serial::{
    AllocationContext, CheckAlgorithm, ContextField, RuleSpec, SequenceReset, SerialRule,
    Uniqueness,
};

/// What characters a random rule may use: `Numeric` rules can carry any check, `Upper` rules
/// MOD 37-36, `Free` rules (lower-case letters, punctuation) none.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Numeric,
    Upper,
    Free,
}

#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Context(ContextField, Option<usize>),
    Date(&'static str),
    Sequence(usize, &'static str),
    Random(usize, &'static str),
}

impl Piece {
    fn text(&self) -> String {
        match self {
            Piece::Literal(text) => text.clone(),
            Piece::Context(field, None) => format!("{{{}}}", field.placeholder()),
            Piece::Context(field, Some(w)) => format!("{{{}:{w}}}", field.placeholder()),
            Piece::Date(name) => format!("{{{name}}}"),
            Piece::Sequence(w, a) => format!("{{SEQ:{w}:{a}}}"),
            Piece::Random(n, a) => format!("{{RAND:{n}:{a}}}"),
        }
    }
}

fn code_chars(mode: Mode) -> &'static str {
    match mode {
        Mode::Numeric => "[0-9]",
        Mode::Upper => "[A-Z0-9]",
        Mode::Free => "[A-Za-z0-9._-]",
    }
}

fn sequence_alphabets(mode: Mode) -> Vec<&'static str> {
    match mode {
        Mode::Numeric => vec!["10"],
        Mode::Upper => vec!["36", "crockford32", "16", "upper"],
        Mode::Free => vec!["36", "lower", "2", "alnum"],
    }
}

fn random_alphabets(mode: Mode) -> Vec<&'static str> {
    match mode {
        Mode::Numeric => vec!["digits"],
        Mode::Upper => vec!["alnum", "crockford32", "hex"],
        Mode::Free => vec!["lower", "crockford32", "8"],
    }
}

fn piece(mode: Mode, random: bool) -> BoxedStrategy<Piece> {
    let literal = match mode {
        Mode::Free => "[A-Za-z0-9./:_-]{1,3}",
        _ => "[A-Z0-9-]{1,3}",
    };
    let field = proptest::sample::select(ContextField::ALL.to_vec());
    let date = proptest::sample::select(vec!["YY", "YYYY", "MM", "DD", "YYMMDD", "JJJ", "WW"]);
    let mut choices = vec![
        literal.prop_map(Piece::Literal).boxed(),
        (field, proptest::option::of(1usize..=4))
            .prop_map(|(f, w)| Piece::Context(f, w))
            .boxed(),
        date.prop_map(Piece::Date).boxed(),
    ];
    if random {
        choices.push(
            (1usize..=5, proptest::sample::select(random_alphabets(mode)))
                .prop_map(|(n, a)| Piece::Random(n, a))
                .boxed(),
        );
    }
    proptest::strategy::Union::new(choices).boxed()
}

/// A random valid rule, and the context values (one pool per field) to use with it.
#[derive(Debug, Clone)]
struct Case {
    spec: RuleSpec,
    mode: Mode,
    random_parts: Vec<usize>,
}

fn case(random: bool) -> impl Strategy<Value = Case> {
    let mode = proptest::sample::select(vec![Mode::Numeric, Mode::Upper, Mode::Free]);
    mode.prop_flat_map(move |mode| {
        (
            Just(mode),
            proptest::collection::vec(piece(mode, random), 0..5),
            any::<bool>(),
            (
                1usize..=6,
                proptest::sample::select(sequence_alphabets(mode)),
            ),
            any::<prop::sample::Index>(),
            (1usize..=5, proptest::sample::select(random_alphabets(mode))),
            proptest::option::of(proptest::sample::select(CheckAlgorithm::ALL.to_vec())),
            any::<prop::sample::Index>(),
            any::<bool>(),
            proptest::sample::select(vec!["+08:00", "-05:30", "Z", "+14:00", "-12:00", "+05:45"]),
            0u64..2,
        )
    })
    .prop_map(
        move |(
            mode,
            mut pieces,
            sequence,
            (width, alphabet),
            at,
            (len, alphabet_r),
            check,
            reset,
            global,
            zone,
            start,
        )| {
            let has_random = pieces.iter().any(|p| matches!(p, Piece::Random(..)));
            if sequence || !random || !has_random {
                let at = at.index(pieces.len() + 1);
                pieces.insert(at, Piece::Sequence(width, alphabet));
            }
            if !pieces.iter().any(|p| matches!(p, Piece::Sequence(..))) && !has_random {
                pieces.push(Piece::Random(len, alphabet_r));
            }
            // Each code once, and only one without a width.
            let mut seen = Vec::new();
            pieces.retain(|p| match p {
                Piece::Context(field, _) if seen.contains(field) => false,
                Piece::Context(field, _) => {
                    seen.push(*field);
                    true
                }
                _ => true,
            });
            let mut variable_seen = false;
            for piece in &mut pieces {
                if let Piece::Context(_, width @ None) = piece {
                    if variable_seen {
                        *width = Some(2);
                    }
                    variable_seen = true;
                }
            }
            let check = match (mode, check) {
                (Mode::Numeric, Some(c)) => Some(c),
                (Mode::Upper, Some(_)) => Some(CheckAlgorithm::Mod37_36),
                _ => None,
            };
            let dates: Vec<&str> = pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Date(d) => Some(*d),
                    _ => None,
                })
                .collect();
            let shows = |names: &[&str]| names.iter().any(|n| dates.contains(n));
            let year = shows(&["YY", "YYYY", "YYMMDD"]);
            let day = shows(&["YYMMDD", "JJJ"]) || (shows(&["DD"]) && shows(&["MM"]));
            let month = day || shows(&["MM"]);
            let mut resets = vec![SequenceReset::Never];
            let counts = pieces.iter().any(|p| matches!(p, Piece::Sequence(..)));
            if counts && year {
                resets.push(SequenceReset::Yearly);
                if month {
                    resets.push(SequenceReset::Monthly);
                }
                if day {
                    resets.push(SequenceReset::Daily);
                }
            }
            let mut template: String = pieces.iter().map(Piece::text).collect();
            if let Some(check) = check {
                template.push_str(&format!("{{CHECK:{}}}", check.name()));
            }
            let random_parts = pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Random(n, _) => Some(*n),
                    _ => None,
                })
                .collect();
            Case {
                spec: RuleSpec {
                    code: "RANDOM-RULE".into(),
                    template,
                    time_zone: Some(zone.into()),
                    sequence_reset: *reset.get(&resets),
                    sequence_start: start,
                    uniqueness: if global {
                        Uniqueness::Global
                    } else {
                        Uniqueness::Product
                    },
                    alphabets: BTreeMap::from([(
                        "lower".into(),
                        "abcdefghijkmnpqrstuvwxyz".into(),
                    )]),
                },
                mode,
                random_parts,
            }
        },
    )
}

/// `value` cycled or cut to exactly the width the template wants for `field`, if any.
fn fit(rule: &SerialRule, field: ContextField, value: &str) -> String {
    let width = rule.template().parts().iter().find_map(|p| match p {
        threadline_serial::Part::Context { field: f, width } if *f == field => *width,
        _ => None,
    });
    match width {
        Some(w) => value.chars().cycle().take(w).collect(),
        None => value.to_owned(),
    }
}

struct Codes {
    product: String,
    category: String,
    site: String,
    line: String,
}

impl Codes {
    fn fitted(rule: &SerialRule, raw: &[String; 4]) -> Codes {
        Codes {
            product: fit(rule, ContextField::Product, &raw[0]),
            category: fit(rule, ContextField::Category, &raw[1]),
            site: fit(rule, ContextField::Site, &raw[2]),
            line: fit(rule, ContextField::Line, &raw[3]),
        }
    }

    fn context(&self, at: DateTime<Utc>) -> AllocationContext<'_> {
        AllocationContext::new(&self.product, at)
            .with_category(&self.category)
            .with_site(&self.site)
            .with_line(&self.line)
    }
}

fn case_with_codes(random: bool) -> impl Strategy<Value = (Case, [String; 4])> {
    case(random).prop_flat_map(|case| {
        let pattern = format!("{}{{1,6}}", code_chars(case.mode));
        let code = || proptest::string::string_regex(&pattern).unwrap();
        let codes = [code(), code(), code(), code()];
        (Just(case), codes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn generated_serials_read_back_into_their_parts(
        (case, raw) in case_with_codes(true),
        seconds in 0i64..(100 * 365 * 86_400 - 4 * 86_400),
        offset in 0u64..1000,
        count in 1usize..5,
        seed in any::<u64>(),
    ) {
        let rule = SerialRule::new(case.spec.clone());
        prop_assert!(rule.is_ok(), "{:?}: {:?}", case.spec, rule);
        let rule = rule.unwrap();
        let at = Utc.with_ymd_and_hms(2000, 1, 2, 0, 0, 0).unwrap() + Duration::seconds(seconds);
        let codes = Codes::fitted(&rule, &raw);
        let context = codes.context(at);
        let pattern = rule.pattern(&context).unwrap();
        let first = rule.sequence_start() + offset;
        let batch = match pattern.generate(first, count, &mut StdRng::seed_from_u64(seed)) {
            Err(e) if e.code == "sequence_exhausted" => return Ok(()),
            other => other.unwrap(),
        };
        let local = at.with_timezone(&rule.time_zone().fixed()).date_naive();
        let template = rule.template();
        let date_parts: Vec<&str> = template.date_parts().map(|d| d.placeholder()).collect();
        let shows = |names: &[&str]| names.iter().any(|n| date_parts.contains(n));
        for (i, serial) in batch.iter().enumerate() {
            prop_assert_eq!(serial.len(), pattern.serial_len());
            let parsed = rule.validate(serial);
            prop_assert!(parsed.is_ok(), "{} from {}: {:?}", serial, case.spec.template, parsed);
            let parsed = parsed.unwrap();
            for field in ContextField::ALL {
                if template.shows(field) {
                    prop_assert_eq!(parsed.context(field), context.value(field), "{}", serial);
                } else {
                    prop_assert_eq!(parsed.context(field), None);
                }
            }
            if rule.has_sequence() {
                prop_assert_eq!(parsed.sequence, Some(first + i as u64));
            }
            let lens: Vec<usize> = parsed.random.iter().map(String::len).collect();
            prop_assert_eq!(&lens, &case.random_parts);
            prop_assert_eq!(parsed.check.is_some(), template.check().is_some());
            if let Some(date) = parsed.date {
                if shows(&["YY", "YYYY", "YYMMDD"]) {
                    prop_assert_eq!(date.year, Some(local.year()));
                }
                if shows(&["MM", "YYMMDD"]) {
                    prop_assert_eq!(date.month, Some(local.month()));
                }
                if shows(&["DD", "YYMMDD"]) {
                    prop_assert_eq!(date.day, Some(local.day()));
                }
                if shows(&["JJJ"]) {
                    prop_assert_eq!(date.day_of_year, Some(local.ordinal()));
                }
                if shows(&["WW"]) {
                    prop_assert_eq!(date.iso_week, Some(local.iso_week().week()));
                }
                if let Some(d) = date.date {
                    prop_assert_eq!(d, local);
                }
            } else {
                prop_assert!(date_parts.is_empty());
            }
        }
    }

    /// A store that keeps one counter per (rule, scope key) and hands out each value once never
    /// issues a serial twice where it must be unique — over allocations spread across a month
    /// and a year boundary, codes of different lengths, and any time zone.
    #[test]
    fn a_counter_per_scope_never_repeats_a_serial(
        case in case(false),
        allocations in proptest::collection::vec(
            (0i64..(70 * 24), 0usize..3, 0usize..3, 0usize..3, 1usize..4),
            1..60,
        ),
    ) {
        let rule = SerialRule::new(case.spec.clone()).unwrap();
        let pool: [&str; 3] = match case.mode {
            Mode::Numeric => ["1", "12", "2"],
            Mode::Upper => ["A", "AB", "B1"],
            Mode::Free => ["a-b", "a", "b-"],
        };
        let start = Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap();
        let mut counters: HashMap<String, u64> = HashMap::new();
        let mut issued: HashSet<(String, String)> = HashSet::new();
        for (hours, product, line, site, count) in allocations {
            let raw = [
                pool[product].to_owned(),
                pool[(product + line) % 3].to_owned(),
                pool[site].to_owned(),
                pool[line].to_owned(),
            ];
            let codes = Codes::fitted(&rule, &raw);
            let context = codes.context(start + Duration::hours(hours) + Duration::minutes(17));
            let pattern = rule.pattern(&context).unwrap();
            let next = counters
                .entry(pattern.scope().key().to_owned())
                .or_insert(rule.sequence_start());
            let batch = match pattern.generate(*next, count, &mut StdRng::seed_from_u64(1)) {
                Err(e) if e.code == "sequence_exhausted" => continue,
                other => other.unwrap(),
            };
            *next = batch.next_sequence().unwrap();
            let product = match rule.uniqueness() {
                Uniqueness::Product => codes.product.clone(),
                Uniqueness::Global => String::new(),
            };
            for serial in batch.iter() {
                prop_assert!(
                    issued.insert((product.clone(), serial.to_owned())),
                    "{} issued twice by {:?} (scope {})", serial, case.spec, pattern.scope()
                );
            }
        }
    }

    /// A character no serial may hold is refused at the position it was put in.
    #[test]
    fn a_foreign_character_is_refused_at_its_position(
        case in case(true),
        at in any::<prop::sample::Index>(),
        foreign in proptest::sample::select(vec![' ', 'é', '#', '\t', '批', '~']),
    ) {
        let text = &case.spec.template;
        let i = at.index(text.len() + 1);
        let broken = format!("{}{foreign}{}", &text[..i], &text[i..]);
        let e = SerialRule::new(RuleSpec { template: broken.clone(), ..case.spec.clone() }).unwrap_err();
        prop_assert_eq!(e.code, "invalid_character");
        let expected = format!("at position {}:", i + 1);
        prop_assert!(e.message.contains(&expected), "{}: {}", broken, e.message);
    }

    /// A stray `}` between parts is refused at its position.
    #[test]
    fn a_stray_brace_is_refused_at_its_position(case in case(true), at in any::<prop::sample::Index>()) {
        let text = &case.spec.template;
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| !text[..i].contains('{') || text[..i].rfind('{') < text[..i].rfind('}'))
            .collect();
        let i = *at.get(&boundaries);
        let broken = format!("{}}}{}", &text[..i], &text[i..]);
        let e = SerialRule::new(RuleSpec { template: broken.clone(), ..case.spec.clone() }).unwrap_err();
        prop_assert_eq!(e.code, "unopened_placeholder");
        let expected = format!("`}}` at position {}:", i + 1);
        prop_assert!(e.message.contains(&expected), "{}: {}", broken, e.message);
    }
}
