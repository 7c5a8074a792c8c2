//! Property tests: every produced form parses back to the same value, and the scan entry point
//! never panics.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use proptest::prelude::*;
use threadline_domain::gs1::mod10_check_digit;
use threadline_gs1::{DigitalLink, ElementString, EpcUrn, Symbology, parse_scan};

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn cset82(max: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = CSET82.chars().collect();
    proptest::collection::vec(proptest::sample::select(chars), 1..=max)
        .prop_map(|v| v.into_iter().collect())
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|v| v.into_iter().map(|d| char::from(b'0' + d)).collect())
}

fn with_check_digit(payload_len: usize) -> impl Strategy<Value = String> {
    digits(payload_len).prop_map(|p| {
        let cd = mod10_check_digit(&p).unwrap();
        format!("{p}{cd}")
    })
}

fn date() -> impl Strategy<Value = String> {
    (0u8..100, 1u8..13, 0u8..29).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

/// Optional AIs that may accompany a GTIN, as (AI, value strategy).
fn gtin_attributes() -> impl Strategy<Value = Vec<(String, String)>> {
    let one = prop_oneof![
        date().prop_map(|v| ("11".to_owned(), v)),
        date().prop_map(|v| ("15".to_owned(), v)),
        date().prop_map(|v| ("17".to_owned(), v)),
        digits(6).prop_map(|v| ("3103".to_owned(), v)),
        digits(6).prop_map(|v| ("3922".to_owned(), v)),
        cset82(30).prop_map(|v| ("240".to_owned(), v)),
        cset82(20).prop_map(|v| ("8012".to_owned(), v)),
        cset82(30).prop_map(|v| ("400".to_owned(), v)),
        cset82(30).prop_map(|v| ("90".to_owned(), v)),
        cset82(90).prop_map(|v| ("91".to_owned(), v)),
        cset82(20).prop_map(|v| ("7240".to_owned(), v)),
        digits(3).prop_map(|v| ("422".to_owned(), v)),
        (1u32..=99_999_999).prop_map(|v| ("30".to_owned(), v.to_string())),
    ];
    proptest::collection::vec(one, 0..6).prop_map(|mut v| {
        // One value per AI; keep (3922) valid by pairing it with (30) or a (31nn) measure.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        if v.iter().any(|(a, _)| a == "3922") && !v.iter().any(|(a, _)| a == "30" || a == "3103") {
            v.push(("3103".to_owned(), "000100".to_owned()));
        }
        v
    })
}

/// A random valid set of AIs around one primary key, in random order.
fn element_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let trade = (
        with_check_digit(13),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(30)),
        gtin_attributes(),
    )
        .prop_map(|(gtin, cpv, lot, serial, secondary, attrs)| {
            let mut v = vec![("01".to_owned(), gtin)];
            v.extend(cpv.map(|x| ("22".to_owned(), x)));
            v.extend(lot.map(|x| ("10".to_owned(), x)));
            if let Some(serial) = serial {
                v.push(("21".to_owned(), serial));
                v.extend(secondary.map(|x| ("250".to_owned(), x)));
            }
            v.extend(attrs);
            v
        });
    let logistic = (
        with_check_digit(17),
        proptest::option::of((
            with_check_digit(13),
            1u32..=99_999_999,
            proptest::option::of(cset82(20)),
        )),
        proptest::option::of(cset82(30)),
    )
        .prop_map(|(sscc, content, route)| {
            let mut v = vec![("00".to_owned(), sscc)];
            if let Some((gtin, count, lot)) = content {
                v.push(("02".to_owned(), gtin));
                v.push(("37".to_owned(), count.to_string()));
                v.extend(lot.map(|x| ("10".to_owned(), x)));
                v.push(("17".to_owned(), "270100".to_owned()));
            }
            v.extend(route.map(|x| ("403".to_owned(), x)));
            v
        });
    let location = (
        with_check_digit(12),
        proptest::option::of(cset82(20)),
        proptest::option::of(with_check_digit(12)),
    )
        .prop_map(|(gln, ext, party)| {
            let mut v = vec![("414".to_owned(), gln)];
            v.extend(ext.map(|x| ("254".to_owned(), x)));
            v.extend(party.map(|x| ("417".to_owned(), x)));
            v
        });
    let component = (
        "[0-9]{7}[0-9A-Z#/-]{1,20}",
        proptest::option::of("[1-9][0-9]{0,11}"),
    )
        .prop_map(|(cpid, serial)| {
            let mut v = vec![("8010".to_owned(), cpid)];
            v.extend(serial.map(|s| ("8011".to_owned(), s)));
            v
        });
    let asset = ("[0-9]{7}", cset82(20))
        .prop_map(|(gcp, r)| vec![("8004".to_owned(), format!("{gcp}{r}"))]);
    prop_oneof![4 => trade, 2 => logistic, 1 => location, 1 => component, 1 => asset].prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn element_string_forms_round_trip(pairs in element_pairs()) {
        let es = ElementString::from_pairs(pairs.clone()).unwrap_or_else(|e| panic!("{pairs:?}: {e}"));
        prop_assert_eq!(es.len(), pairs.len());
        prop_assert_eq!(&ElementString::parse_raw(&es.to_raw()).unwrap(), &es);
        prop_assert_eq!(&ElementString::parse_caret(&es.to_caret()).unwrap(), &es);
        prop_assert_eq!(&ElementString::parse_bracketed(&es.to_bracketed()).unwrap(), &es);
        for sym in Symbology::ALL {
            let data = es.to_scan_data(sym);
            prop_assert_eq!(&ElementString::parse_raw(&data).unwrap(), &es);
            let scan = parse_scan(&format!("{data}\r\n")).unwrap();
            prop_assert_eq!(scan.element_string(), Some(&es));
        }
        // GS appears exactly after the non-last elements outside the predefined-length table.
        let expected_gs = es.elements()[..es.len() - 1]
            .iter()
            .filter(|e| threadline_gs1::ai::needs_fnc1(e.ai()))
            .count();
        prop_assert_eq!(es.to_raw().matches('\u{1d}').count(), expected_gs);
    }

    #[test]
    fn digital_link_round_trip(pairs in element_pairs(), stem in proptest::option::of("[a-z]{1,8}(/[a-z]{1,8}){0,2}")) {
        let es = ElementString::from_pairs(pairs.clone()).unwrap();
        let dl = DigitalLink::from_element_string(&es).unwrap_or_else(|e| panic!("{es}: {e}"));
        let dl = match &stem {
            Some(stem) => dl.with_base(&format!("https://resolver.example.com/{stem}")).unwrap(),
            None => dl,
        };
        let uri = dl.to_uri();
        let parsed = DigitalLink::parse(&uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        prop_assert_eq!(&parsed, &dl);
        prop_assert_eq!(parsed.to_uri(), uri.clone());
        // Same set of elements as the element string, whatever the order.
        let mut a: Vec<_> = es.iter().map(|e| (e.ai().to_owned(), e.value().to_owned())).collect();
        let mut b: Vec<_> = parsed.element_string().iter().map(|e| (e.ai().to_owned(), e.value().to_owned())).collect();
        a.sort();
        b.sort();
        prop_assert_eq!(a, b);
        let scan = parse_scan(&uri).unwrap();
        prop_assert_eq!(scan.element_string(), Some(dl.element_string()));
        let canonical = DigitalLink::parse(&parsed.to_canonical_uri()).unwrap();
        prop_assert_eq!(canonical.element_string(), dl.element_string());
    }

    #[test]
    fn urn_and_digital_link_round_trip(pairs in element_pairs(), gcp_len in 6usize..=12) {
        let es = ElementString::from_pairs(pairs.clone()).unwrap();
        let urn = match EpcUrn::from_element_string(&es, gcp_len) {
            Ok(urn) => urn,
            // GIAI/CPID values shorter than the prefix, or whose prefix part is not numeric.
            // or a CPID without its serial.
            Err(e) => {
                prop_assert!(matches!(e.code, "invalid_company_prefix" | "unsupported_epc"), "{}", e);
                return Ok(());
            }
        };
        let text = urn.to_urn();
        let parsed = EpcUrn::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        prop_assert_eq!(&parsed, &urn);
        prop_assert_eq!(parsed.company_prefix_len(), gcp_len);
        let dl = urn.to_digital_link();
        let dl_parsed = DigitalLink::parse(&dl.to_uri()).unwrap();
        let back = EpcUrn::from_digital_link(&dl_parsed, gcp_len).unwrap();
        prop_assert_eq!(back.to_urn(), text.clone());
        let scan = parse_scan(&text).unwrap();
        prop_assert_eq!(scan.element_string(), Some(urn.element_string()));
        // Every identity AI of the URN comes from the original element string.
        for e in urn.element_string().iter() {
            prop_assert_eq!(es.get(e.ai()), Some(e.value()));
        }
    }

    #[test]
    fn parse_scan_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = parse_scan(&s);
    }

    #[test]
    fn parse_scan_never_panics_on_gs1_looking_text(
        prefix in prop_oneof![
            Just(""), Just("]d2"), Just("]C1"), Just("]Q1"), Just("]E0"), Just("("), Just("(01)"),
            Just("https://id.gs1.org/"), Just("http://a/01/"), Just("urn:epc:id:sgtin:"),
            Just("urn:epc:tag:sgtin-96:"), Just("urn:epc:idpat:sgtin:"), Just("[)>\u{1e}05\u{1d}"),
        ],
        body in "[0-9()/%?&=.:*\\]\u{1d}\u{1e}A-Za-z\"\\\\#^-]{0,60}",
    ) {
        let _ = parse_scan(&format!("{prefix}{body}"));
    }

    #[test]
    fn parse_scan_never_panics_on_damaged_labels(pairs in element_pairs(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let es = ElementString::from_pairs(pairs.clone()).unwrap();
        let dl = DigitalLink::from_element_string(&es).unwrap().to_uri();
        for text in [es.to_scan_data(Symbology::DataMatrix), es.to_bracketed(), dl] {
            let bytes = text.as_bytes();
            let at = cut.index(bytes.len());
            let _ = parse_scan(&String::from_utf8_lossy(&bytes[..at]));
            let mut damaged = bytes.to_vec();
            damaged[at] = byte;
            let _ = parse_scan(&String::from_utf8_lossy(&damaged));
        }
    }
}
