#![allow(clippy::unwrap_used)]
//! Templates are data: read from JSON, checked with errors that name the field, filled with
//! the values of one label.

use chrono::NaiveDate;
use threadline_labels::{LabelData, LabelTemplate, Mark};

fn template(fields: serde_json::Value) -> LabelTemplate {
    LabelTemplate::from_json(
        &serde_json::json!({"width_mm": 50, "height_mm": 30, "fields": fields}).to_string(),
    )
    .unwrap()
}

fn unit() -> LabelData {
    let mut d = LabelData::new();
    d.set("serial", "TC2-2610-00001")
        .set("product", "TC-200")
        .set("product_name", "控制器 TC-200")
        .set("gtin", "09521234543213")
        .set("lot", "L-42")
        .set_attribute("color", "white")
        .set_date("expiry", NaiveDate::from_ymd_opt(2027, 3, 31).unwrap());
    d
}

#[test]
fn a_template_is_filled_with_the_values_of_one_label() {
    let t = template(serde_json::json!([
        {"type": "text", "x_mm": 2, "y_mm": 2, "size_mm": 3, "text": "{product_name} · {attr.color} · exp {expiry:%d.%m.%Y} {{literal}}"},
        {"type": "barcode", "x_mm": 2, "y_mm": 8, "symbology": "gs1_datamatrix", "module_mm": 0.5,
         "data": "(01){gtin}(17){expiry:%y%m%d}(10){lot}(21){serial}"}
    ]));
    let label = t.compile().unwrap().label(&unit()).unwrap();
    let texts: Vec<&str> = label
        .marks
        .iter()
        .filter_map(|m| match m {
            Mark::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    // The text, then the interpretation GS1 asks for under the symbol, one line per AI.
    assert_eq!(
        texts,
        [
            "控制器 TC-200 · white · exp 31.03.2027 {literal}",
            "(01) 09521234543213",
            "(17) 270331",
            "(10) L-42",
            "(21) TC2-2610-00001"
        ]
    );
    let barcode = label.barcodes().next().unwrap();
    assert_eq!(
        barcode.data(),
        "01095212345432131727033110L-42\u{1d}21TC2-2610-00001"
    );
}

#[test]
fn unknown_keys_and_wrong_types_are_refused_naming_them() {
    let e =
        LabelTemplate::from_json(r#"{"width_mm": 50, "height_mm": 30, "fields": [], "colour": 1}"#)
            .unwrap_err();
    assert!(e.message.contains("colour"), "{e:?}");
    let e = LabelTemplate::from_json(
        r#"{"width_mm": 50, "height_mm": 30, "fields": [{"type": "text", "x_mm": 1, "y_mm": 1, "size_mm": 2, "text": "a", "font": "Arial"}]}"#,
    )
    .unwrap_err();
    assert!(e.message.contains("font"), "{e:?}");
    assert_eq!(e.field.as_deref(), Some("fields[0]"), "{e:?}");
    let e = LabelTemplate::from_json(
        r#"{"width_mm": 50, "height_mm": 30, "fields": [{"type": "barcode", "x_mm": 1, "y_mm": 1, "module_mm": 0.5, "data": "x", "symbology": "aztec"}]}"#,
    )
    .unwrap_err();
    assert!(e.message.contains("aztec"), "{e:?}");
    let e = LabelTemplate::from_json(r#"{"width_mm": "wide", "height_mm": 30, "fields": []}"#)
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("width_mm"));
}

#[test]
fn every_problem_of_a_template_is_reported_with_its_field() {
    let t = LabelTemplate::from_json(
        &serde_json::json!({"width_mm": 50, "height_mm": 30, "dpi": 90, "fields": [
            {"type": "text", "x_mm": 60, "y_mm": 1, "size_mm": 0, "text": "{colour}"},
            {"type": "barcode", "x_mm": 1, "y_mm": 1, "symbology": "ean13", "module_mm": 0.33, "data": "1234"},
            {"type": "barcode", "x_mm": 1, "y_mm": 1, "symbology": "gs1_128", "module_mm": 0.33, "data": "(01){gtin}(17){expiry:%Q}"},
            {"type": "logo", "x_mm": 1, "y_mm": 1, "width_mm": 5, "height_mm": 5, "png": "not a picture"}
        ]})
        .to_string(),
    )
    .unwrap();
    let errors = t.compile().unwrap_err();
    let found: Vec<(String, &str)> = errors
        .iter()
        .map(|e| (e.field.clone().unwrap_or_default(), e.code))
        .collect();
    for expected in [
        ("dpi", "invalid_dpi"),
        ("fields[0].x_mm", "outside_label"),
        ("fields[0].size_mm", "invalid_size"),
        ("fields[0].text", "unknown_placeholder"),
        ("fields[1].data", "invalid_gtin"),
        ("fields[2].data", "invalid_date_format"),
        ("fields[3].png", "invalid_logo"),
    ] {
        assert!(
            found
                .iter()
                .any(|(f, c)| f == expected.0 && *c == expected.1),
            "{expected:?} not in {found:?}"
        );
    }
    let unknown = errors
        .iter()
        .find(|e| e.code == "unknown_placeholder")
        .unwrap();
    assert!(
        unknown.message.contains("{colour}") && unknown.message.contains("serial"),
        "{}",
        unknown.message
    );
}

#[test]
fn a_value_missing_at_print_time_names_the_field_and_the_placeholder() {
    let t = template(serde_json::json!([
        {"type": "text", "x_mm": 2, "y_mm": 2, "size_mm": 3, "text": "{serial}"},
        {"type": "barcode", "x_mm": 2, "y_mm": 8, "symbology": "gs1_128", "module_mm": 0.33, "data": "(01){gtin}(10){lot}"}
    ]))
    .compile()
    .unwrap();
    let e = t
        .label(
            &LabelData::new()
                .with("serial", "S1")
                .with("gtin", "09521234543213"),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        ("missing_value", Some("fields[1].data"))
    );
    assert!(e.message.contains("{lot}"), "{}", e.message);
    // A value the symbology cannot carry: a lot with a character outside GS1's set.
    let e = t
        .label(
            &LabelData::new()
                .with("serial", "S1")
                .with("gtin", "09521234543213")
                .with("lot", "批次"),
        )
        .unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        ("invalid_character", Some("fields[1].data"))
    );
}
