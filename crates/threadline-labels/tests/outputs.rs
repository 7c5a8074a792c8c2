#![allow(clippy::unwrap_used)]
//! The output formats: PDF pages and sizes, ZPL structure, SVG and PNG of a single label.

use threadline_labels::template::CompiledTemplate;
use threadline_labels::{LabelData, LabelTemplate, PdfLayout, pdf, raster, svg, zpl};
use threadline_testkit::scanner::{self, Format, scan_png};

fn unit_label() -> CompiledTemplate {
    LabelTemplate::from_json(
        &serde_json::json!({"width_mm": 50, "height_mm": 30, "dpi": 300, "fields": [
            {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name} ^~\\ {serial}"},
            {"type": "barcode", "x_mm": 2, "y_mm": 6, "symbology": "gs1_datamatrix", "module_mm": 0.5,
             "data": "(01){gtin}(10){lot}(21){serial}"},
            {"type": "barcode", "x_mm": 20, "y_mm": 6, "symbology": "gs1_128", "module_mm": 0.254, "height_mm": 8, "hri": false,
             "data": "(01){gtin}(10){lot}(21){serial}"}
        ]})
        .to_string(),
    )
    .unwrap()
    .compile()
    .unwrap()
}

fn data(n: u32) -> LabelData {
    LabelData::new()
        .with("serial", format!("TC2-{n:05}"))
        .with("product_name", "控制器")
        .with("gtin", "09521234543213")
        .with("lot", "L_42")
}

/// Every object offset in the cross-reference table points at that object, and the pages.
fn pdf_pages(bytes: &[u8]) -> Vec<String> {
    // One ASCII character per byte, so string offsets are byte offsets.
    let text: String = bytes
        .iter()
        .map(|&b| if b.is_ascii() { b as char } else { '.' })
        .collect();
    let startxref: usize = text
        .rsplit("startxref\n")
        .next()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        text[startxref..].starts_with("xref\n0 "),
        "startxref points at the table"
    );
    let table: Vec<&str> = text[startxref..]
        .lines()
        .skip(3)
        .take_while(|l| !l.starts_with("trailer"))
        .collect();
    for (i, line) in table.iter().enumerate() {
        let offset: usize = line[..10].parse().unwrap();
        assert!(
            bytes[offset..].starts_with(format!("{} 0 obj", i + 1).as_bytes()),
            "object {} is not at {offset}",
            i + 1
        );
    }
    text.split(" 0 obj")
        .filter(|o| o.contains("/Type /Page") && !o.contains("/Type /Pages"))
        .map(|o| {
            let start = o.find("/MediaBox [").unwrap() + 11;
            o[start..start + o[start..].find(']').unwrap()].to_owned()
        })
        .collect()
}

#[test]
fn a_roll_pdf_has_one_label_sized_page_per_label_and_a_sheet_pdf_fills_a4() {
    let t = unit_label();
    let labels: Vec<_> = (0..60).map(|n| t.label(&data(n)).unwrap()).collect();
    let roll = pdf::write_all(Vec::new(), PdfLayout::Roll, &labels[..5]).unwrap();
    let pages = pdf_pages(&roll);
    assert_eq!(pages.len(), 5);
    // 50 × 30 mm in points.
    assert!(
        pages.iter().all(|p| p == "0 0 141.73228 85.03937"),
        "{pages:?}"
    );
    assert!(String::from_utf8_lossy(&roll).contains("/Count 5"));

    // A4 with 5 mm margins and 2 mm gaps holds 3 × 9 labels of 50 × 30 mm: 60 labels, 3 pages.
    let sheet = pdf::write_all(Vec::new(), PdfLayout::A4, &labels).unwrap();
    let pages = pdf_pages(&sheet);
    assert_eq!(pages.len(), 3);
    assert!(
        pages.iter().all(|p| p == "0 0 595.2756 841.8898"),
        "{pages:?}"
    );
}

#[test]
fn zpl_uses_native_barcode_commands_and_printer_fonts() {
    let t = unit_label();
    let z = zpl::render(&t.label(&data(7)).unwrap());
    assert!(
        z.starts_with("^XA^CI28^PW591^LL354^LH0,0\n") && z.ends_with("^XZ\n"),
        "{z}"
    );
    // GS1 DataMatrix: module 6 dots, the verified size forced, `_` as escape: FNC1 first and
    // as separator, a literal underscore doubled.
    assert!(
        z.contains("^FO24,71^BXN,6,200,20,20,,_^FH\\^FD_1010952123454321310L__42_121TC2-00007^FS"),
        "{z}"
    );
    // GS1-128 in mode N: start C, FNC1, digits in C, a switch to B for the lot, FNC1 after it.
    // A run of four digits at the end goes back to C.
    assert!(
        z.contains(
            "^BY3^FO236,71^BCN,94,N,N,N,N^FH\\^FD>;>8010952123454321310>6L_42>821TC2-0>50007^FS"
        ),
        "{z}"
    );
    // Latin text in font 0 with ^ ~ \ escaped; the Chinese line is a graphic field.
    assert!(
        z.contains("^FO24,196^A0N,30,30^FH\\^FD(01) 09521234543213^FS"),
        "{z}"
    );
    assert!(z.contains("^GFA,"), "{z}");
    assert!(!z.contains("控制器"));
    assert!(
        !z.contains(" ^~"),
        "command characters must be escaped: {z}"
    );
}

#[test]
fn zpl_code128_data_spells_the_transmitted_data() {
    // Decode the mode-N field data back: start codes, switches and FNC1 must give the data a
    // scanner transmits, and subset C must only ever hold digit pairs.
    for (data, gs1) in [
        ("010952123454321310ABC\u{1d}21123", true),
        ("0109521234543213211234567\u{1d}10X", true),
        ("10A1\u{1d}2112345", true),
        ("TC2-2610-00001>^x", false),
        ("12345", false),
        ("A123456B", false),
    ] {
        let field = zpl::code128_data(data, gs1);
        // `^FH\` escapes are read first, as the printer does.
        let field = scanner::zpl::field(&format!("^BCN,^FD{field}^FS"), "^BCN,").unwrap();
        let expected = format!("{}{data}", if gs1 { "]C1" } else { "]C0" });
        assert_eq!(scanner::zpl::code128(&field).unwrap(), expected, "{data:?}");
    }
}

#[test]
fn svg_and_png_of_one_label() {
    let t = unit_label();
    let label = t.label(&data(3)).unwrap();
    let s = svg::render(&label);
    assert!(s.starts_with(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="50mm" height="30mm" viewBox="0 0 50 30">"#
    ));
    assert!(s.contains("控制器 ^~\\ TC2-00003") && s.contains("<path") && s.ends_with("</svg>"));
    let png = raster::png(&label);
    let scanned = scan_png(&png, Format::DATA_MATRIX).unwrap();
    assert_eq!(
        scanned.transmitted(),
        "]d201095212345432131".to_owned() + "0L_42\u{1d}21TC2-00003"
    );
    // 50 × 30 mm at 300 dpi.
    let decoder = png::Decoder::new(std::io::Cursor::new(&png));
    let info = decoder.read_info().unwrap();
    assert_eq!((info.info().width, info.info().height), (591, 354));
}

#[test]
fn zpl_graphic_fields_scan_back_gs1_qr_is_one_and_chinese_text_another() {
    // ^BQ cannot say FNC1 first, so a GS1 QR goes to the printer as the verified symbol drawn
    // as a graphic field: it must scan to the same element string.
    let t = LabelTemplate::from_json(
        &serde_json::json!({"width_mm": 50, "height_mm": 40, "dpi": 203, "fields": [
            {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name}"},
            {"type": "barcode", "x_mm": 4, "y_mm": 8, "symbology": "gs1_qr", "module_mm": 0.5,
             "data": "(01){gtin}(10){lot}(21){serial}"}
        ]})
        .to_string(),
    )
    .unwrap()
    .compile()
    .unwrap();
    let z = zpl::render(&t.label(&data(9)).unwrap());
    let graphics = scanner::zpl::graphics(&z).unwrap();
    assert_eq!(graphics.len(), 2, "{z}");
    // The Chinese name, at its place, is a picture of text, not a symbol.
    assert_eq!((graphics[0].x, graphics[0].y), (16, 12));
    assert!(graphics[0].scan(Format::QR_CODE).is_err());
    let qr = &graphics[1];
    assert_eq!((qr.x, qr.y), (32, 64));
    assert_eq!(
        qr.scan(Format::QR_CODE).unwrap().transmitted(),
        "]Q3010952123454321310L_42\u{1d}21TC2-00009"
    );
}
