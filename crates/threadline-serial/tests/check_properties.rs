//! Each check algorithm keeps the promises its documentation makes: every single substitution
//! is caught, and every adjacent transposition it claims to catch is caught — anywhere in the
//! string, the check character included. The exceptions the documentation lists are real.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use threadline_serial::CheckAlgorithm;

fn algorithm() -> impl Strategy<Value = CheckAlgorithm> {
    proptest::sample::select(CheckAlgorithm::ALL.to_vec())
}

/// A valid string of `algorithm`: 1 to 30 characters it covers, then the check.
fn valid(algorithm: CheckAlgorithm) -> impl Strategy<Value = String> {
    let covers: Vec<char> = algorithm.covers().chars().collect();
    proptest::collection::vec(proptest::sample::select(covers), 1..30).prop_map(move |data| {
        let data: String = data.into_iter().collect();
        let check = algorithm.compute(&data).unwrap();
        format!("{data}{check}")
    })
}

fn with_valid() -> impl Strategy<Value = (CheckAlgorithm, String)> {
    algorithm().prop_flat_map(|a| (Just(a), valid(a)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_strings_verify((algorithm, serial) in with_valid()) {
        prop_assert!(algorithm.verify(&serial).is_ok(), "{}", serial);
    }

    /// Any character a serial can hold, put anywhere in place of another, is caught.
    #[test]
    fn every_single_substitution_is_caught(
        (algorithm, serial) in with_valid(),
        position in any::<prop::sample::Index>(),
        replacement in any::<prop::sample::Index>(),
    ) {
        prop_assert!(algorithm.catches_every_substitution());
        let alphabet: Vec<u8> = format!("{}{}", algorithm.covers(), algorithm.check_chars()).into_bytes();
        let mut bytes = serial.clone().into_bytes();
        let i = position.index(bytes.len());
        let new = replacement.get(&alphabet);
        prop_assume!(*new != bytes[i]);
        bytes[i] = *new;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(
            algorithm.verify(&changed).is_err(),
            "{:?} accepted {} (from {})", algorithm, changed, serial
        );
    }

    #[test]
    fn promised_adjacent_transpositions_are_caught(
        (algorithm, serial) in with_valid(),
        position in any::<prop::sample::Index>(),
    ) {
        let mut bytes = serial.clone().into_bytes();
        let i = position.index(bytes.len() - 1);
        let (a, b) = (bytes[i], bytes[i + 1]);
        prop_assume!(a != b);
        bytes.swap(i, i + 1);
        let swapped = String::from_utf8(bytes).unwrap();
        if algorithm.catches_transposition(a, b) {
            prop_assert!(
                algorithm.verify(&swapped).is_err(),
                "{:?} accepted {} (from {})", algorithm, swapped, serial
            );
        }
    }
}

/// Every transposition that could be promised is tried for the algorithms that promise all:
/// every pair of characters, after every short prefix, including the check position.
#[test]
fn all_promised_transpositions_exhaustively_over_short_prefixes() {
    for algorithm in CheckAlgorithm::ALL {
        let covers = algorithm.covers().as_bytes();
        let prefixes: Vec<String> = std::iter::once(String::new())
            .chain(covers.iter().map(|&c| (c as char).to_string()))
            .collect();
        for prefix in &prefixes {
            for &a in covers {
                for &b in covers {
                    // …ab + check: swap a and b.
                    let data = format!("{prefix}{}{}", a as char, b as char);
                    let good = format!("{data}{}", algorithm.compute(&data).unwrap());
                    let bad = format!("{prefix}{}{}{}", b as char, a as char, &good[data.len()..]);
                    if algorithm.catches_transposition(a, b) {
                        assert!(!algorithm.is_valid(&bad), "{algorithm:?}: {good} → {bad}");
                    }
                    // …a + check: swap a with the first check character.
                    let data = format!("{prefix}{}", a as char);
                    let good = format!("{data}{}", algorithm.compute(&data).unwrap());
                    let mut swapped = good.clone().into_bytes();
                    let k = data.len() - 1;
                    let (x, y) = (swapped[k], swapped[k + 1]);
                    swapped.swap(k, k + 1);
                    let bad = String::from_utf8(swapped).unwrap();
                    if x != y && algorithm.catches_transposition(x, y) {
                        assert!(!algorithm.is_valid(&bad), "{algorithm:?}: {good} → {bad}");
                    }
                }
            }
        }
    }
}

/// The documented exceptions are not over-cautious: each one really lets an error through.
#[test]
fn the_documented_exceptions_exist() {
    let missed = |algorithm: CheckAlgorithm, a: u8, b: u8| {
        assert!(!algorithm.catches_transposition(a, b));
        let prefixes = ["", "1", "12", "123", "A", "7Q"];
        prefixes.iter().any(|prefix| {
            let data = format!("{prefix}{}{}", a as char, b as char);
            let Ok(check) = algorithm.compute(&data) else {
                return false;
            };
            algorithm.is_valid(&format!("{prefix}{}{}{check}", b as char, a as char))
        })
    };
    assert!(missed(CheckAlgorithm::Luhn, b'0', b'9'));
    assert!(missed(CheckAlgorithm::Gs1Mod10, b'1', b'6'));
    assert!(missed(CheckAlgorithm::Gs1Mod10, b'9', b'4'));
    let hybrid_misses = (b'0'..=b'9')
        .chain(b'A'..=b'Z')
        .flat_map(|a| (b'0'..=b'9').chain(b'A'..=b'Z').map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && missed(CheckAlgorithm::Mod37_36, a, b))
        .count();
    assert!(hybrid_misses > 0);
}

#[test]
fn check_characters_outside_the_check_alphabet_are_wrong() {
    assert!(!CheckAlgorithm::Mod11_2.is_valid("0794Y"));
    assert!(!CheckAlgorithm::Luhn.is_valid("7992739871X"));
    assert!(!CheckAlgorithm::Mod37_36.is_valid("A12425GABC1234002m"));
    assert!(CheckAlgorithm::Mod37_36.is_valid("A12425GABC1234002M"));
}
