//! Published vectors from the GS1 standards notes (`/work/shared/standards/GS1-EPCIS.md`, §5–6)
//! and one invalid input of every kind, through the public API only.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use threadline_gs1::{
    DigitalLink, ElementString, EpcUrn, Gln, Gtin, ParseOptions, Scan, Sscc, Symbology, parse_scan,
};

fn code<T: std::fmt::Debug>(r: Result<T, threadline_gs1::FieldError>) -> &'static str {
    r.unwrap_err().code
}

#[test]
fn check_digit_vectors() {
    for ok in [
        "24012345678905",
        "2112233789657",
        "416000336108",
        "02345680",
        "12345678901231",
    ] {
        assert!(Gtin::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(code(Gtin::parse("24012345678909")), "invalid_check_digit");
    assert!(Sscc::parse("123456789012345675").is_ok());
    assert_eq!(
        code(Sscc::parse("123456789012345670")),
        "invalid_check_digit"
    );
    assert!(Gln::parse("4012345000009").is_ok());
    // The same through AIs.
    assert!(ElementString::parse_bracketed("(00)123456789012345675").is_ok());
    assert_eq!(
        code(ElementString::parse_bracketed("(00)123456789012345670")),
        "invalid_check_digit"
    );
    assert_eq!(
        code(ElementString::parse_bracketed("(01)24012345678909")),
        "invalid_check_digit"
    );
}

#[test]
fn fnc1_vectors() {
    let es = ElementString::parse_bracketed("(01)12345678901231(10)12345").unwrap();
    assert_eq!(es.to_caret(), "^01123456789012311012345");
    assert_eq!(
        ElementString::parse_caret("^01123456789012311012345").unwrap(),
        es
    );
    assert_eq!(
        es.to_scan_data(Symbology::Gs1128),
        "]C101123456789012311012345"
    );

    let lenient = ParseOptions::default().with_requisites(false);
    let es = ElementString::parse_bracketed_with("(10)12345(11)991225", &lenient).unwrap();
    assert_eq!(es.to_caret(), "^1012345^11991225");
    assert_eq!(
        es.to_scan_data(Symbology::DataMatrix),
        "]d21012345\u{1d}11991225"
    );
    assert_eq!(
        ElementString::parse_raw_with("]d21012345\u{1d}11991225\u{1d}", &lenient).unwrap(),
        es
    );
}

#[test]
fn hri_vectors() {
    let es = ElementString::parse_bracketed("(01)12312312312333(10)ABC123").unwrap();
    assert_eq!(es.hri(), ["(01) 12312312312333", "(10) ABC123"]);
    assert_eq!(
        es.hri_with_titles(),
        ["GTIN (01) 12312312312333", "BATCH/LOT (10) ABC123"]
    );
    // Digital Link attributes are decoded for HRI.
    let dl = DigitalLink::parse("https://example.com/01/12312312312333?99=ABC%2d123").unwrap();
    assert_eq!(
        dl.element_string().hri(),
        ["(01) 12312312312333", "(99) ABC-123"]
    );
}

#[test]
fn digital_link_generation_vector() {
    let es =
        ElementString::parse_bracketed("(01)12312312312326(22)ABC(10)DEF(21)GHI(95)INT").unwrap();
    let dl = DigitalLink::from_element_string(&es)
        .unwrap()
        .with_base("https://example.com")
        .unwrap();
    assert_eq!(
        dl.to_uri(),
        "https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI?95=INT"
    );
    assert_eq!(DigitalLink::parse(&dl.to_uri()).unwrap(), dl);
}

#[test]
fn urn_and_digital_link_vectors() {
    let urn = EpcUrn::parse("urn:epc:id:sgtin:4012345.011111.98%22").unwrap();
    assert_eq!(
        urn.to_digital_link().to_uri(),
        "https://id.gs1.org/01/04012345111118/21/98%22"
    );
    let dl = DigitalLink::parse("https://id.gs1.org/01/04012345111118/21/98%22").unwrap();
    assert_eq!(
        EpcUrn::from_digital_link(&dl, 7).unwrap().to_urn(),
        "urn:epc:id:sgtin:4012345.011111.98%22"
    );

    let urn = EpcUrn::parse("urn:epc:id:sscc:4012345.0000000011").unwrap();
    assert_eq!(
        urn.to_digital_link().to_uri(),
        "https://id.gs1.org/00/040123450000000115"
    );
    let dl = DigitalLink::parse("https://id.gs1.org/00/040123450000000115").unwrap();
    assert_eq!(
        EpcUrn::from_digital_link(&dl, 7).unwrap().to_urn(),
        "urn:epc:id:sscc:4012345.0000000011"
    );

    // EPCIS recipes (§1.8 of the notes).
    let dl = DigitalLink::parse("https://id.gs1.org/414/4012345000009").unwrap();
    assert_eq!(
        EpcUrn::from_digital_link(&dl, 7).unwrap().to_urn(),
        "urn:epc:id:sgln:4012345.00000.0"
    );
    let dl = DigitalLink::parse("https://id.gs1.org/01/09521234543213/10/SUP-77").unwrap();
    assert_eq!(
        EpcUrn::from_digital_link(&dl, 7).unwrap().to_urn(),
        "urn:epc:class:lgtin:9521234.054321.SUP-77"
    );
    let urn = EpcUrn::parse("urn:epc:idpat:sgtin:4012345.011111.*").unwrap();
    assert_eq!(
        urn.to_digital_link().to_uri(),
        "https://id.gs1.org/01/04012345111118"
    );
    // Hash normalisation's constrained form.
    let dl = DigitalLink::parse(
        "https://example.org/01/04012345111118/22/344/10/1223/21/765tz?17=270101",
    )
    .unwrap();
    assert_eq!(
        dl.to_constrained_uri(),
        "https://id.gs1.org/01/04012345111118/21/765tz"
    );
    let dl = DigitalLink::parse("https://id.gs1.org/414/0614141073467/254/1234").unwrap();
    assert_eq!(
        dl.to_constrained_uri(),
        "https://id.gs1.org/414/0614141073467/254/1234"
    );
}

#[test]
fn cset82_exactly() {
    let cset82 =
        "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    assert_eq!(cset82.len(), 82);
    for c in (0u8..=127).map(char::from) {
        let es = ElementString::from_pairs([
            ("01", "09521234543213".to_owned()),
            ("21", format!("A{c}")),
        ]);
        assert_eq!(es.is_ok(), cset82.contains(c), "{c:?}");
    }
    for c in [
        ' ', '#', '$', '@', '[', '\\', ']', '^', '`', '{', '|', '}', '~', '中',
    ] {
        let es = ElementString::from_pairs([
            ("01", "09521234543213".to_owned()),
            ("10", format!("L{c}")),
        ]);
        let err = es.unwrap_err();
        assert_eq!(err.code, "invalid_character", "{c:?}");
        assert!(err.message.contains("(10)"), "{}", err.message);
    }
}

#[test]
fn invalid_input_of_every_kind() {
    let p = |s: &str| ElementString::parse_bracketed(s).map_err(|e| (e.code, e.message));
    let cases = [
        ("(9876)X", "unknown_ai", "9876"),
        ("(01)0952123454321", "invalid_length", "0952123454321"),
        (
            "(01)09521234543213(10)123456789012345678901",
            "invalid_length",
            "(10)",
        ),
        ("(01)09521234543213(21)AB CD", "invalid_character", "(21)"),
        (
            "(01)09521234543214",
            "invalid_check_digit",
            "09521234543214",
        ),
        ("(01)09521234543213(17)270230", "invalid_date", "270230"),
        (
            "(01)09521234543213(7003)2702011260",
            "invalid_time",
            "(7003)",
        ),
        (
            "(01)09521234543213(21)A(21)B",
            "conflicting_ai_values",
            "(21)",
        ),
        ("(21)A", "missing_required_ai", "(21)"),
        ("(02)09521234543213(10)L", "missing_required_ai", "(02)"),
        (
            "(01)09521234543213(21)A(235)B",
            "mutually_exclusive_ais",
            "(235)",
        ),
        ("(8006)095212345432130302", "invalid_value", "(8006)"),
        ("01)x", "invalid_element_string", "01)x"),
    ];
    for (input, want_code, named) in cases {
        let (code, message) = p(input).unwrap_err();
        assert_eq!(code, want_code, "{input}");
        assert!(message.contains(named), "{input}: {message}");
    }
    // Scan-level classification errors.
    assert_eq!(code(parse_scan("")), "empty_scan");
    assert_eq!(code(parse_scan("]d2010952123454321")), "invalid_length");
    assert_eq!(
        code(parse_scan("https://id.gs1.org/01/9521234543213")),
        "zero_suppressed_gtin"
    );
    assert_eq!(
        code(parse_scan("https://id.gs1.org/01/09521234543213/10/A/22/B")),
        "invalid_qualifier_order"
    );
    assert_eq!(
        code(parse_scan("urn:epc:id:sgtin:4012345.011111.A%41")),
        "invalid_epc_urn"
    );
    assert_eq!(
        code(parse_scan("urn:epc:id:usdod:CAGE1.5678")),
        "unsupported_epc"
    );
}

#[test]
fn scan_entry_point() {
    let gs = '\u{1d}';
    let forms = [
        format!("]d20104012345111118{gs}21{}\r\n", "98\""),
        format!("]Q30104012345111118{gs}2198\""),
        format!("]C121{}{gs}0104012345111118", "98\""),
        "(01)04012345111118(21)98\"".to_owned(),
        "https://id.gs1.org/01/04012345111118/21/98%22".to_owned(),
        "https://brand.example/p/01/04012345111118/21/98%22?linkType=all".to_owned(),
        "urn:epc:id:sgtin:4012345.011111.98%22".to_owned(),
    ];
    for f in &forms {
        let s = parse_scan(f).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert_eq!(
            s.gtin().map(|g| g.to_string()).as_deref(),
            Some("04012345111118"),
            "{f:?}"
        );
        assert_eq!(s.serial(), Some("98\""), "{f:?}");
    }
    assert_eq!(
        parse_scan("ACME-SN-000123\r\n").unwrap(),
        Scan::Plain("ACME-SN-000123".to_owned())
    );
}
