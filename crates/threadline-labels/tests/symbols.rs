#![allow(clippy::unwrap_used)]
//! Every symbology round-trips: the label is drawn as a PNG, read back by a decoder, and what a
//! scanner would transmit is compared with what was meant — for GS1 data, with the FNC1
//! separators (GS) exactly where GS1 puts them.

use proptest::prelude::*;
use threadline_labels::{LabelData, LabelTemplate, Symbology, encode, raster};
use threadline_testkit::scanner::{Format, Scanned, scan_png};

/// A label with one barcode of `symbology` carrying `data`, drawn at 203 dpi (2 dots a
/// module, as small as thermal printers print) and scanned.
fn print_and_scan(symbology: Symbology, data: &str) -> Scanned {
    let format = match symbology {
        Symbology::Qr | Symbology::Gs1Qr | Symbology::DigitalLinkQr => Format::QR_CODE,
        Symbology::DataMatrix | Symbology::Gs1Datamatrix => Format::DATA_MATRIX,
        Symbology::Code128 | Symbology::Gs1_128 => Format::CODE_128,
        Symbology::Ean13 => Format::EAN_13,
        Symbology::UpcA => Format::UPC_A,
    };
    let template = LabelTemplate::from_json(
        &serde_json::json!({
            "width_mm": 200, "height_mm": 40, "dpi": 203,
            "fields": [{"type": "barcode", "x_mm": 6, "y_mm": 6, "symbology": symbology,
                        "data": "{attr.content}", "module_mm": 0.25, "height_mm": 12, "hri": false}]
        })
        .to_string(),
    )
    .unwrap();
    let mut data_in = LabelData::new();
    data_in.set_attribute("content", data);
    let label = template.compile().unwrap().label(&data_in).unwrap();
    scan_png(&raster::png(&label), format).unwrap()
}

const GS: &str = "\u{1d}";

#[test]
fn gs1_datamatrix_puts_fnc1_first_and_gs_after_variable_length_fields_only() {
    // (10) is variable-length and followed by (17): a GS must follow it. (17) is fixed: none.
    // (21) is last: none.
    let s = print_and_scan(
        Symbology::Gs1Datamatrix,
        "(01)09521234543213(10)LOT42(17)261231(21)X-1",
    );
    assert_eq!(s.symbology_identifier, "]d2");
    assert_eq!(s.data, format!("010952123454321310LOT42{GS}1726123121X-1"));
}

#[test]
fn gs1_qr_and_gs1_128_carry_the_same_element_string() {
    let es = "(01)09521234543213(21)SN/7(10)B-9(30)12";
    let expected = format!("010952123454321321SN/7{GS}10B-9{GS}3012");
    let q = print_and_scan(Symbology::Gs1Qr, es);
    assert_eq!(
        (q.symbology_identifier.as_str(), q.data.as_str()),
        ("]Q3", expected.as_str())
    );
    let c = print_and_scan(Symbology::Gs1_128, es);
    assert_eq!(
        (c.symbology_identifier.as_str(), c.data.as_str()),
        ("]C1", expected.as_str())
    );
}

#[test]
fn digital_link_qr_carries_the_uri_of_the_element_string() {
    let s = print_and_scan(
        Symbology::DigitalLinkQr,
        "(01)09521234543213(21)TC2-2610-00001",
    );
    assert_eq!(s.symbology_identifier, "]Q1");
    assert_eq!(
        s.data,
        "https://id.gs1.org/01/09521234543213/21/TC2-2610-00001"
    );
    let own = print_and_scan(
        Symbology::DigitalLinkQr,
        "https://id.example.com/01/09521234543213/21/A1?17=261231",
    );
    assert_eq!(
        own.data,
        "https://id.example.com/01/09521234543213/21/A1?17=261231"
    );
}

#[test]
fn plain_symbologies_carry_their_text() {
    // Non-ASCII text goes with a UTF-8 ECI, which the identifier ]Q2 announces.
    let qr = print_and_scan(Symbology::Qr, "TC-200 序列号 TC2-2610-00001");
    assert_eq!(
        (qr.symbology_identifier.as_str(), qr.data.as_str()),
        ("]Q2", "TC-200 序列号 TC2-2610-00001")
    );
    let ascii = print_and_scan(Symbology::Qr, "TC2-2610-00001");
    assert_eq!(ascii.symbology_identifier, "]Q1");
    let dm = print_and_scan(Symbology::DataMatrix, "TC2-2610-00001");
    assert_eq!(
        (dm.symbology_identifier.as_str(), dm.data.as_str()),
        ("]d1", "TC2-2610-00001")
    );
    let c = print_and_scan(Symbology::Code128, "TC2-2610-00001>x");
    assert_eq!(
        (c.symbology_identifier.as_str(), c.data.as_str()),
        ("]C0", "TC2-2610-00001>x")
    );
}

#[test]
fn retail_symbologies_carry_the_gtin() {
    let e = print_and_scan(Symbology::Ean13, "09521234543213");
    assert_eq!(
        (e.symbology_identifier.as_str(), e.data.as_str()),
        ("]E0", "9521234543213")
    );
    let u = print_and_scan(Symbology::UpcA, "00012345678905");
    assert_eq!(u.data, "012345678905");
}

#[test]
fn content_a_symbology_cannot_carry_is_refused_with_a_reason() {
    let e = encode(Symbology::Ean13, "19521234543210").unwrap_err();
    assert_eq!(e.code, "invalid_gtin");
    assert!(e.message.contains("GTIN-13"), "{}", e.message);
    let e = encode(Symbology::Ean13, "09521234543214").unwrap_err();
    assert_eq!(e.code, "invalid_check_digit");
    let e = encode(Symbology::Code128, "序列号").unwrap_err();
    assert_eq!(e.code, "invalid_character");
    let e = encode(Symbology::Gs1Datamatrix, "(01)09521234543214(21)A").unwrap_err();
    assert_eq!(e.code, "invalid_check_digit");
    assert!(
        e.message.contains("(01)") || e.message.contains("01"),
        "{}",
        e.message
    );
    let e = encode(Symbology::Gs1_128, "(21)A").unwrap_err();
    assert_eq!(e.code, "missing_required_ai");
    let e = encode(
        Symbology::Gs1_128,
        "(01)09521234543213(10)ABCDEFGHIJKLMNOPQRST(21)ABCDEFGHIJKLM",
    )
    .unwrap_err();
    assert_eq!(e.code, "too_long");
    assert!(e.message.contains("has 53"), "{}", e.message);
}

fn cset82() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9!%&()*+,./:;<=>?_-]{1,12}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn any_serial_and_lot_round_trip_through_gs1_datamatrix_and_gs1_128(serial in cset82(), lot in cset82()) {
        let es = threadline_gs1::ElementString::from_pairs([
            ("01", "09521234543213"), ("10", lot.as_str()), ("21", serial.as_str()),
        ]).unwrap();
        let bracketed = es.to_bracketed();
        let dm = print_and_scan(Symbology::Gs1Datamatrix, &bracketed);
        prop_assert_eq!(&dm.data, &es.to_raw());
        let parsed = threadline_gs1::ElementString::parse_raw(&dm.transmitted()).unwrap();
        prop_assert_eq!(parsed.serial(), Some(serial.as_str()));
        prop_assert_eq!(parsed.lot(), Some(lot.as_str()));
        let c = print_and_scan(Symbology::Gs1_128, &bracketed);
        prop_assert_eq!(&c.data, &es.to_raw());
    }
}
