//! Labels over the API: templates managed with `configure`, previews, print jobs for an
//! allocation block and reprints (recorded in the ledger), ZPL sent to a printer over TCP —
//! and a label scanned back brings up the passport of its unit.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_testkit::fixtures::plant;
use threadline_testkit::scanner::{Format, scan_png};
use threadline_testkit::{TestStore, store_test};
use tokio::io::AsyncReadExt;

fn unit_template() -> Value {
    json!({"width_mm": 50, "height_mm": 30, "dpi": 300, "fields": [
        {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name} {serial}"},
        {"type": "barcode", "x_mm": 2, "y_mm": 6, "symbology": "gs1_datamatrix", "module_mm": 0.5,
         "data": "(01){gtin}(21){serial}"}
    ]})
}

/// A product with a GTIN and a serial rule, and the unit template stored.
async fn setup(api: &Api) {
    let r = api
        .post("/api/v1/products", json!({"code": "TC", "name": "Controller", "tracking": "serial", "gtin": "06901234567892",
            "serial_rule": {"code": "TCR", "template": "TC-{SEQ:5}", "sequence_reset": "never"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = api
        .post(
            "/api/v1/label-templates",
            json!({"name": "unit-50x30", "template": unit_template()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

async fn allocate(api: &Api, count: u32) -> (String, Vec<String>) {
    let r = api
        .post("/api/v1/products/TC/allocations", json!({"count": count}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let serials = r.body["serials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    (
        r.body["receipt"]["id"].as_str().unwrap().to_owned(),
        serials,
    )
}

store_test!(
    templates_are_managed_with_configure_and_checked_naming_fields,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        setup(&api).await;
        let r = api.get("/api/v1/label-templates/unit-50x30").await;
        assert_eq!(
            (r.status, r.body["version"].as_u64()),
            (StatusCode::OK, Some(1))
        );
        assert_eq!(r.body["definition"], unit_template());
        assert_eq!(r.body["updated_by"], "token:test-admin");

        let r = api
            .post(
                "/api/v1/label-templates",
                json!({"name": "unit-50x30", "template": unit_template()}),
            )
            .await;
        assert_eq!(r.codes(), [("already_exists".into(), "name".into())]);

        let mut bad = unit_template();
        bad["fields"][0]["text"] = json!("{colour}");
        bad["fields"][1]["symbology"] = json!("ean13");
        let r = api
            .post(
                "/api/v1/label-templates",
                json!({"name": "bad", "template": bad}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.codes().contains(&(
                "unknown_placeholder".into(),
                "template.fields[0].text".into()
            )),
            "{:?}",
            r.codes()
        );
        let mut unknown = unit_template();
        unknown["fields"][0]["font"] = json!("Arial");
        let r = api
            .post(
                "/api/v1/label-templates",
                json!({"name": "bad", "template": unknown}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.codes()[0].1, "template.fields[0]");
        assert!(r.message().contains("font"));
        assert_eq!(
            api.get("/api/v1/label-templates/bad").await.status,
            StatusCode::NOT_FOUND
        );

        let mut wider = unit_template();
        wider["width_mm"] = json!(60);
        let r = api
            .put("/api/v1/label-templates/unit-50x30", "\"1\"", wider.clone())
            .await;
        assert_eq!(
            (r.status, r.body["version"].as_u64()),
            (StatusCode::OK, Some(2)),
            "{:?}",
            r.body
        );
        let r = api
            .put("/api/v1/label-templates/unit-50x30", "\"1\"", wider)
            .await;
        assert_eq!(r.codes(), [("version_mismatch".into(), "If-Match".into())]);
        assert_eq!(
            api.get("/api/v1/label-templates").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let production = Api::with_roles(&s, "line", &[Role::Production]).await;
        let r = production
            .post(
                "/api/v1/label-templates",
                json!({"name": "mine", "template": unit_template()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            production
                .delete("/api/v1/label-templates/unit-50x30")
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            api.delete("/api/v1/label-templates/unit-50x30")
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            api.get("/api/v1/label-templates/unit-50x30").await.status,
            StatusCode::NOT_FOUND
        );
    }
);

store_test!(
    five_hundred_allocated_serials_print_and_scan_back_to_their_passport,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        setup(&api).await;
        let (allocation, serials) = allocate(&api, 500).await;
        assert_eq!(serials.len(), 500);
        let ledger = api.ledger_len().await;

        // A4 sheets of 3 × 9 labels: 19 pages.
        let (status, headers, pdf) = api
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "allocation": allocation, "layout": "a4"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&pdf));
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(headers["x-label-count"], "500");
        assert!(pdf.starts_with(b"%PDF-1.7") && pdf.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 19"));
        // The block's first labels are recorded: its serials are printed pool serials now.
        assert_eq!(api.ledger_len().await, ledger + 1);
        let r = api.get(&format!("/api/v1/items/TC/{}", serials[42])).await;
        assert_eq!(r.body["status"], "printed", "{:?}", r.body);

        let (status, _, zpl) = api
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "allocation": allocation, "format": "zpl"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let zpl = String::from_utf8(zpl).unwrap();
        let formats: Vec<&str> = zpl.split("^XZ\n").filter(|f| !f.is_empty()).collect();
        assert_eq!(formats.len(), 500);
        // Printing the block again is a reprint of every label, recorded as such.
        assert_eq!(api.ledger_len().await, ledger + 2);
        let r = api
            .get(&format!("/api/v1/events?product=TC&serial={}", serials[42]))
            .await;
        let steps: Vec<(String, String)> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["disposition"].as_str().unwrap_or("").to_owned(),
                    e["biz_transactions"][0]["type"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(
            steps,
            [
                ("encoded".to_owned(), String::new()),
                ("urn:threadline:disp:printed".to_owned(), String::new()),
                (String::new(), "urn:threadline:btt:reprint".to_owned()),
            ],
            "{:?}",
            r.body
        );

        // The 137th label's Data Matrix, as the scanner transmits it, brings up its unit.
        let transmitted = zpl_transmits_dm(formats[136]);
        assert_eq!(
            transmitted,
            format!("]d2010690123456789221{}", serials[136])
        );
        let r = api
            .get(&format!(
                "/api/v1/passport?code={}",
                urlencode(&transmitted)
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["identity"]["serial"], serials[136], "{:?}", r.body);

        // The same label drawn as a picture scans to the same passport.
        let (status, _, png) = api
        .post_file("/api/v1/label-templates/preview", json!({"name": "unit-50x30", "format": "png",
            "data": {"serial": serials[136], "gtin": "06901234567892", "product_name": "Controller"}}))
        .await;
        assert_eq!(status, StatusCode::OK);
        let scanned = scan_png(&png, Format::DATA_MATRIX).unwrap();
        assert_eq!(scanned.transmitted(), transmitted);
        let (status, _, svg) = api
            .post_file(
                "/api/v1/label-templates/preview",
                json!({"template": unit_template(), "format": "svg",
            "data": {"serial": "X1", "gtin": "06901234567892", "product_name": "控制器"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8(svg).unwrap().contains("控制器 X1"));

        // A job for something that is not an allocation, or naming nothing, is refused.
        let r = api
            .post("/api/v1/label-jobs", json!({"template": "unit-50x30"}))
            .await;
        assert_eq!(r.codes(), [("invalid_job".into(), "allocation".into())]);
        let r = api
            .post(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "allocation": allocation, "format": "tiff"}),
            )
            .await;
        assert_eq!(r.codes(), [("invalid_format".into(), "format".into())]);
    }
);

fn zpl_transmits_dm(format: &str) -> String {
    use threadline_testkit::scanner::zpl;
    zpl::data_matrix(&zpl::field(format, "^BXN,").unwrap()).unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

store_test!(
    a_reprint_is_recorded_with_who_and_when,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        setup(&api).await;
        let (_, serials) = allocate(&api, 2).await;
        let before = api.ledger_len().await;

        let (status, _, pdf) = api
        .post_file("/api/v1/label-jobs", json!({"template": "unit-50x30", "reprint": {"product": "TC", "serial": serials[1]}}))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(String::from_utf8_lossy(&pdf).contains("/Count 1"));
        assert_eq!(api.ledger_len().await, before + 1);
        let r = api
            .get(&format!("/api/v1/events?product=TC&serial={}", serials[1]))
            .await;
        let events: Vec<&Value> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["biz_transactions"][0]["type"] == "urn:threadline:btt:reprint")
            .collect();
        assert_eq!(events.len(), 1, "{:?}", r.body);
        assert_eq!(events[0]["actor"], "token:test-admin");
        assert_eq!(events[0]["biz_step"], "encoding");
        assert_eq!(events[0]["items"][0]["serial"], serials[1]);
        // The unit is unchanged by a reprint.
        assert_eq!(api.item("TC", &serials[1]).await["status"], "unassigned");

        // An unknown serial, or a template that cannot print it, records nothing.
        let r = api
            .post(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "reprint": {"product": "TC", "serial": "NOPE"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let mut needs_lot = unit_template();
        needs_lot["fields"][0]["text"] = json!("{lot}");
        api.post(
            "/api/v1/label-templates",
            json!({"name": "lot-text", "template": needs_lot}),
        )
        .await;
        let r = api
            .post(
                "/api/v1/label-jobs",
                json!({"template": "lot-text", "reprint": {"product": "TC", "serial": serials[0]}}),
            )
            .await;
        assert_eq!(
            r.codes(),
            [("missing_value".into(), "template.fields[0].text".into())]
        );
        // Warehouse staff may not reprint.
        let warehouse = Api::with_roles(&s, "wh", &[Role::Warehouse]).await;
        let r = warehouse.post("/api/v1/label-jobs", json!({"template": "unit-50x30", "reprint": {"product": "TC", "serial": serials[0]}})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(api.ledger_len().await, before + 1);

        // A serial withdrawn from the pool (voided) gets no label again: a reprint of it is
        // refused naming why, and its block prints without it.
        let (allocation, block) = allocate(&api, 3).await;
        let r = api
            .post(
                "/api/v1/ops/scrap",
                json!({"items": [{"product": "TC", "serial": block[1]}], "reason": "label spoiled"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(api.item("TC", &block[1]).await["status"], "voided");
        let before = api.ledger_len().await;
        let r = api
            .post(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "reprint": {"product": "TC", "serial": block[1]}}),
            )
            .await;
        assert_eq!(r.codes(), [("final_state".into(), "reprint".into())]);
        assert!(r.message().contains("voided"), "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before);
        let (status, headers, zpl) = api
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "allocation": allocation, "format": "zpl"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["x-label-count"], "2");
        let zpl = String::from_utf8(zpl).unwrap();
        assert!(zpl.contains(&block[0]) && zpl.contains(&block[2]) && !zpl.contains(&block[1]));
    }
);

store_test!(
    zpl_is_sent_to_a_network_printer,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        setup(&api).await;
        let (allocation, _) = allocate(&api, 3).await;
        let printer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = printer.local_addr().unwrap().to_string();
        let received = tokio::spawn(async move {
            let (mut socket, _) = printer.accept().await.unwrap();
            let mut bytes = Vec::new();
            socket.read_to_end(&mut bytes).await.unwrap();
            bytes
        });
        let r = api
            .post(
                "/api/v1/label-jobs/print",
                json!({"template": "unit-50x30", "allocation": allocation, "printer": address}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["labels"], 3);
        let got = received.await.unwrap();
        let (_, _, expected) = api
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "unit-50x30", "allocation": allocation, "format": "zpl"}),
            )
            .await;
        assert_eq!(got, expected);
        assert_eq!(r.body["bytes"].as_u64(), Some(expected.len() as u64));

        // Nobody listening: refused naming the printer.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gone = closed.local_addr().unwrap().to_string();
        drop(closed);
        let r = api
            .post(
                "/api/v1/label-jobs/print",
                json!({"template": "unit-50x30", "allocation": allocation, "printer": gone}),
            )
            .await;
        assert_eq!(
            r.codes(),
            [("printer_unreachable".into(), "printer".into())]
        );
        // The printer was not there: nothing was printed, and nothing is recorded.
        let (allocation, serials) = allocate(&api, 2).await;
        let before = api.ledger_len().await;
        let r = api
            .post(
                "/api/v1/label-jobs/print",
                json!({"template": "unit-50x30", "allocation": allocation, "printer": gone}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(api.ledger_len().await, before);
        assert_eq!(api.item("TC", &serials[0]).await["status"], "unassigned");
    }
);

// ---------------------------------------------------------------------------------------------
// The "done when": a production lead allocates 500 serials, prints their labels as a
// PDF or ZPL — through the API and through the page — and a scanner reading any of those
// labels brings up the right passport.

/// A label with three carriers of the same unit: a GS1 DataMatrix, a GS1 Digital Link QR and
/// a GS1-128.
fn scan_template() -> Value {
    json!({"width_mm": 90, "height_mm": 40, "dpi": 300, "fields": [
        {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name} {serial}"},
        {"type": "barcode", "x_mm": 3, "y_mm": 6, "symbology": "gs1_datamatrix", "module_mm": 0.5,
         "data": "(01){gtin}(21){serial}"},
        {"type": "barcode", "x_mm": 40, "y_mm": 6, "symbology": "digital_link_qr", "module_mm": 0.5,
         "data": "(01){gtin}(21){serial}"},
        {"type": "barcode", "x_mm": 5, "y_mm": 26, "symbology": "gs1_128", "module_mm": 0.254,
         "height_mm": 8, "hri": false, "data": "(01){gtin}(21){serial}"}
    ]})
}

/// The labels a sample of a 500-label job is checked on: the first, the last, some between.
const SAMPLE: [usize; 6] = [0, 1, 137, 250, 498, 499];

/// What a scanner transmits for each carrier of a label, and the passport it brings up.
async fn passport_of(api: &Api, transmitted: &str) -> (String, String) {
    let r = api
        .get(&format!("/api/v1/passport?code={}", urlencode(transmitted)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{transmitted:?}: {:?}", r.body);
    (
        r.body["identity"]["product"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        r.body["identity"]["serial"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

/// Scans every carrier of the sampled pages of a roll PDF (one label a page) and looks each
/// up: every one must bring up its serial's passport.
async fn pdf_scans_back(api: &Api, pdf: &[u8], serials: &[String]) {
    use threadline_testkit::scanner::pdf_pages;
    let pages = pdf_pages(pdf, &SAMPLE, 6.0).unwrap();
    for (page, &i) in pages.iter().zip(SAMPLE.iter()) {
        let serial = &serials[i];
        let dm = page.scan(Format::DATA_MATRIX).unwrap();
        assert_eq!(
            dm.transmitted(),
            format!("]d2010690123456789221{serial}"),
            "label {i}"
        );
        let qr = page.scan(Format::QR_CODE).unwrap();
        assert_eq!(
            qr.data,
            format!("https://id.gs1.org/01/06901234567892/21/{serial}")
        );
        let c = page.scan(Format::CODE_128).unwrap();
        assert_eq!(c.transmitted(), format!("]C1010690123456789221{serial}"));
        for scanned in [dm.transmitted(), qr.transmitted(), c.transmitted()] {
            assert_eq!(
                passport_of(api, &scanned).await,
                ("TC".to_owned(), serial.clone()),
                "label {i} read as {scanned:?}"
            );
        }
    }
}

/// What a scanner transmits for the native barcodes of a ZPL label: `^BX` (Data Matrix),
/// `^BQ` (QR) and `^BC` (Code 128 mode N).
fn zpl_transmits(format: &str) -> [String; 3] {
    use threadline_testkit::scanner::zpl;
    [
        zpl::data_matrix(&zpl::field(format, "^BXN,").unwrap()).unwrap(),
        zpl::qr(&zpl::field(format, "^BQN,").unwrap()).unwrap(),
        zpl::code128(&zpl::field(format, "^BCN,").unwrap()).unwrap(),
    ]
}

/// The ZPL of a 500-label job: one format a label, each with its three native barcodes, and
/// what they carry brings up the passport of the label's serial.
async fn zpl_scans_back(api: &Api, zpl: &[u8], serials: &[String]) {
    let zpl = std::str::from_utf8(zpl).unwrap();
    let formats: Vec<&str> = zpl.split("^XZ\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(formats.len(), serials.len());
    for f in &formats {
        assert!(f.starts_with("^XA^CI28^PW1063^LL472^LH0,0\n"), "{f}");
        assert!(f.contains("^BXN,6,200,") && f.contains("^BQN,2,6") && f.contains("^BY3^FO"));
        // Printer fonts for Latin text, no graphic fields: every carrier is native.
        assert!(!f.contains("^GF"), "{f}");
    }
    for &i in &SAMPLE {
        let serial = &serials[i];
        let [dm, qr, c] = zpl_transmits(formats[i]);
        assert_eq!(dm, format!("]d2010690123456789221{serial}"));
        assert_eq!(
            qr,
            format!("]Q1https://id.gs1.org/01/06901234567892/21/{serial}")
        );
        assert_eq!(c, format!("]C1010690123456789221{serial}"));
        for scanned in [dm, qr, c] {
            assert_eq!(
                passport_of(api, &scanned).await,
                ("TC".to_owned(), serial.clone()),
                "label {i} read as {scanned:?}"
            );
        }
    }
}

async fn post_form_file(
    api: &Api,
    uri: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    api.file(
        axum::http::Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(form_body(fields)))
            .unwrap(),
    )
    .await
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The print form of `/labels` for an allocation block.
async fn print_block(
    api: &Api,
    block: &str,
    template: &str,
    output: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    post_form_file(
        api,
        "/labels",
        &[
            ("do", "print"),
            ("lang", "en"),
            ("allocation", block),
            ("template", template),
            ("output", output),
        ],
    )
    .await
}

/// The latest event naming a unit.
async fn last_event(api: &Api, product: &str, serial: &str) -> Value {
    let r = api
        .get(&format!("/api/v1/events?product={product}&serial={serial}"))
        .await;
    r.body["items"].as_array().unwrap().last().unwrap().clone()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

store_test!(
    a_production_lead_allocates_500_serials_prints_them_and_every_label_scans_to_its_passport,
    |s: TestStore| async move {
        let admin = Api::new(&s).await;
        setup(&admin).await;
        let r = admin
            .post(
                "/api/v1/label-templates",
                json!({"name": "unit-90x40", "template": scan_template()}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        // The production lead holds the production role only.
        let lead = Api::with_roles(&s, "lead", &[Role::Production]).await;

        // Through the API: allocate, print a roll PDF and ZPL.
        let r = lead
            .post("/api/v1/products/TC/allocations", json!({"count": 500}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let allocation = r.body["receipt"]["id"].as_str().unwrap().to_owned();
        let serials: Vec<String> = r.body["serials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        let (status, headers, pdf) = lead
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "unit-90x40", "allocation": allocation, "layout": "roll"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", text(&pdf));
        assert_eq!(headers["x-label-count"], "500");
        assert!(text(&pdf).contains("/Count 500"));
        pdf_scans_back(&admin, &pdf, &serials).await;
        let (status, _, zpl) = lead
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "unit-90x40", "allocation": allocation, "format": "zpl"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", text(&zpl));
        zpl_scans_back(&admin, &zpl, &serials).await;

        // Through the page: the same, with form posts.
        let r = lead.get("/labels?lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        let page = r.body.as_str().unwrap();
        assert!(page.contains("id=\"allocate\"") && page.contains("<option value=\"unit-90x40\""));
        assert!(page.contains("<option value=\"TC\""), "{page}");

        // A count that is not a number is refused on the page, naming it; nothing recorded.
        let before = admin.ledger_len().await;
        let (status, _, body) = post_form_file(
            &lead,
            "/labels",
            &[
                ("do", "allocate"),
                ("lang", "en"),
                ("product", "TC"),
                ("count", "five hundred"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            text(&body).contains("id=\"form-errors\"")
                && text(&body).contains("<code>count</code>")
        );
        let (status, _, body) = post_form_file(
            &lead,
            "/labels",
            &[
                ("do", "allocate"),
                ("lang", "en"),
                ("product", "TC"),
                ("count", "0"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", text(&body));
        assert!(text(&body).contains("<code>count</code>"));
        assert_eq!(admin.ledger_len().await, before);

        let (status, headers, _) = post_form_file(
            &lead,
            "/labels",
            &[
                ("do", "allocate"),
                ("lang", "en"),
                ("product", "TC"),
                ("count", "500"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let location = headers["location"].to_str().unwrap().to_owned();
        let block = location
            .strip_prefix("/labels?allocation=")
            .unwrap()
            .strip_suffix("&lang=en")
            .unwrap()
            .to_owned();
        assert_eq!(admin.ledger_len().await, before + 1);
        let event = admin.get(&format!("/api/v1/events/{block}")).await;
        let page_serials: Vec<String> = event.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{:?}", event.body))
            .iter()
            .map(|k| k["serial"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(page_serials.len(), 500);
        assert!(!serials.contains(&page_serials[0]), "a new block");
        let r = lead.get(&location).await;
        let page = r.body.as_str().unwrap();
        assert!(page.contains("id=\"allocated\""), "{page}");
        assert!(page.contains(&format!(
            "<code>{}</code> … <code>{}</code>",
            page_serials[0], page_serials[499]
        )));
        assert!(page.contains(&format!("value=\"{block}\"")));
        // The forms start with the block's product.
        assert!(page.contains("<option value=\"TC\" selected>"), "{page}");

        // A template that does not exist: refused on the page, nothing recorded.
        let (status, _, body) = print_block(&lead, &block, "nope", "pdf-roll").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(text(&body).contains("id=\"form-errors\""));
        assert_eq!(admin.ledger_len().await, before + 1);

        let (status, headers, pdf) = print_block(&lead, &block, "unit-90x40", "pdf-roll").await;
        assert_eq!(status, StatusCode::OK, "{}", text(&pdf));
        assert_eq!(headers["content-type"], "application/pdf");
        assert_eq!(
            headers["content-disposition"],
            "attachment; filename=\"labels.pdf\""
        );
        pdf_scans_back(&admin, &pdf, &page_serials).await;
        // The first print marks the block printed.
        assert_eq!(admin.ledger_len().await, before + 2);
        assert_eq!(
            admin.item("TC", &page_serials[250]).await["status"],
            "printed"
        );

        let (status, headers, zpl) = print_block(&lead, &block, "unit-90x40", "zpl").await;
        assert_eq!(status, StatusCode::OK, "{}", text(&zpl));
        assert_eq!(headers["content-type"], "application/zpl");
        zpl_scans_back(&admin, &zpl, &page_serials).await;
        // Printing it again is a reprint of every label, recorded with who did it.
        assert_eq!(admin.ledger_len().await, before + 3);
        let last = last_event(&admin, "TC", &page_serials[499]).await;
        assert_eq!(
            last["biz_transactions"][0]["type"],
            "urn:threadline:btt:reprint"
        );
        assert_eq!(last["actor"], "token:lead");
        assert_eq!(last["items"].as_array().unwrap().len(), 500);
        // Each write of the page is in the audit trail once, with what the page answered.
        let audited = |object: &'static str| {
            let admin = &admin;
            async move {
                let r = admin.get(&format!("/api/v1/audit?object={object}")).await;
                r.body["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| r["action"] == "POST /labels")
                    .map(|r| (r["status"].as_u64().unwrap(), r["after"]["count"].clone()))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            audited("products/TC/allocations").await,
            [(303, serde_json::json!(1))]
        );
        assert_eq!(
            audited("label-jobs").await,
            [(200, serde_json::json!(1)), (200, serde_json::json!(1))]
        );

        // A reprint of one serial from the page.
        let (status, _, pdf) = post_form_file(
            &lead,
            "/labels",
            &[
                ("do", "reprint"),
                ("lang", "en"),
                ("product", "TC"),
                ("serial", &page_serials[7]),
                ("template", "unit-90x40"),
                ("output", "pdf-a4"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}", text(&pdf));
        assert!(text(&pdf).contains("/Count 1"));
        assert_eq!(admin.ledger_len().await, before + 4);
    }
);

store_test!(
    a_commissioning_batch_prints_first_labels_then_reprints,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = api
            .post(
                "/api/v1/label-templates",
                json!({"name": "serial-128", "template": {"width_mm": 60, "height_mm": 20, "fields": [
                    {"type": "barcode", "x_mm": 3, "y_mm": 2, "symbology": "code128", "module_mm": 0.25, "data": "{serial}"}]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = api
            .post(
                "/api/v1/ops/commission",
                json!({"product": "BOARD", "serials": ["NB-1", "NB-2", "NB-3"], "work_order": "WO-9", "line": "SZ-L1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let batch = r.body["events"][0]["id"].as_str().unwrap().to_owned();
        let before = api.ledger_len().await;

        let (status, headers, zpl) = api
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "serial-128", "commissioning": batch, "format": "zpl"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}", text(&zpl));
        assert_eq!(headers["x-label-count"], "3");
        assert_eq!(text(&zpl).matches("^XA").count(), 3);
        // Never labelled before: a first print, not a reprint; the units stay as they were.
        assert_eq!(api.ledger_len().await, before + 1);
        let last = last_event(&api, "BOARD", "NB-2").await;
        assert_eq!(last["biz_step"], "encoding");
        assert_eq!(last["fields"]["commissioning"], batch.as_str());
        assert!(last.get("biz_transactions").is_none(), "{last:?}");
        assert_eq!(api.item("BOARD", "NB-2").await["status"], "in_production");

        // Again: a reprint of the three.
        let (status, _, _) = api
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "serial-128", "commissioning": batch}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(api.ledger_len().await, before + 2);
        let last = last_event(&api, "BOARD", "NB-3").await;
        assert_eq!(
            last["biz_transactions"][0]["type"],
            "urn:threadline:btt:reprint"
        );

        // An event that is not a commissioning (the reprint), or two sources at once: refused,
        // nothing recorded.
        let reprint = last["id"].as_str().unwrap().to_owned();
        let before = api.ledger_len().await;
        let r = api
            .post(
                "/api/v1/label-jobs",
                json!({"template": "serial-128", "commissioning": reprint}),
            )
            .await;
        assert_eq!(
            r.codes(),
            [("not_a_commissioning".into(), "commissioning".into())]
        );
        let r = api
            .post(
                "/api/v1/label-jobs",
                json!({"template": "serial-128", "commissioning": batch, "reprint": {"product": "BOARD", "serial": "NB-1"}}),
            )
            .await;
        assert_eq!(r.codes(), [("invalid_job".into(), "allocation".into())]);
        assert_eq!(api.ledger_len().await, before);
    }
);

store_test!(
    label_templates_are_edited_on_the_admin_page_with_a_preview,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        let r = api.get("/admin/labels?lang=en&new=1").await;
        assert_eq!(r.status, StatusCode::OK);
        let page = r.body.as_str().unwrap().to_owned();
        // The starter template, drawn with the sample values, and the live preview's script.
        assert!(page.contains("id=\"definition\"") && page.contains("gs1_datamatrix"));
        assert!(
            page.contains("<div id=\"label-preview\" class=\"label-preview\"><svg"),
            "{page}"
        );
        assert!(page.contains("控制器 Controller"));
        assert!(page.contains("<script src=\"/assets/labels.js\" defer></script>"));

        // A definition naming an unknown placeholder: the preview names the field, nothing saved.
        let mut bad = unit_template();
        bad["fields"][0]["text"] = json!("{colour}");
        let before = api.ledger_len().await;
        for action in ["preview", "save"] {
            let (status, _, body) = post_form_file(
                &api,
                "/admin/labels",
                &[
                    ("do", action),
                    ("lang", "en"),
                    ("name", "unit"),
                    ("definition", &bad.to_string()),
                ],
            )
            .await;
            let body = text(&body);
            assert_eq!(
                status,
                if action == "save" {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::OK
                },
                "{body}"
            );
            assert!(
                body.contains("<code>template.fields[0].text</code>"),
                "{body}"
            );
            assert!(body.contains("{colour}"));
        }
        let (status, _, body) = post_form_file(
            &api,
            "/admin/labels",
            &[
                ("do", "save"),
                ("lang", "en"),
                ("name", "unit"),
                ("definition", "{\"width_mm\": 50,"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text(&body).contains("<code>definition</code>"));
        assert_eq!(
            api.get("/api/v1/label-templates/unit").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(api.ledger_len().await, before);

        // Preview with other sample values, then save.
        let good = unit_template().to_string();
        let (status, _, body) = post_form_file(
            &api,
            "/admin/labels",
            &[
                ("do", "preview"),
                ("lang", "en"),
                ("name", "unit"),
                ("definition", &good),
                ("data.serial", "ZX-42"),
                ("data.product_name", "Widget"),
                ("data.gtin", "06901234567892"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(text(&body).contains("Widget ZX-42"));
        let (status, headers, _) = post_form_file(
            &api,
            "/admin/labels",
            &[
                ("do", "save"),
                ("lang", "en"),
                ("name", "unit"),
                ("definition", &good),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers["location"], "/admin/labels?saved=unit&lang=en");
        let r = api.get("/api/v1/label-templates/unit").await;
        assert_eq!(r.body["definition"], unit_template());
        let r = api.get("/admin/labels?lang=en&edit=unit").await;
        let page = r.body.as_str().unwrap();
        assert!(page.contains("name=\"version\" value=\"1\""));
        assert!(page.contains("<a href=\"/admin/labels?edit=unit&amp;lang=en\">unit</a>"));

        // An edit replaces the version it was loaded with; a stale form is refused.
        let mut wider = unit_template();
        wider["width_mm"] = json!(60);
        let edit = [
            ("do", "save"),
            ("lang", "en"),
            ("name", "unit"),
            ("version", "1"),
        ];
        let w = wider.to_string();
        let mut fields = edit.to_vec();
        fields.push(("definition", &w));
        let (status, _, _) = post_form_file(&api, "/admin/labels", &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            api.get("/api/v1/label-templates/unit").await.body["version"],
            2
        );
        let (status, _, body) = post_form_file(&api, "/admin/labels", &fields).await;
        assert_eq!(status, StatusCode::CONFLICT, "{}", text(&body));
        assert!(text(&body).contains("<code>If-Match</code>"));

        // Who may not configure may not open it.
        let lead = Api::with_roles(&s, "lead", &[Role::Production]).await;
        assert_eq!(
            lead.get("/admin/labels?lang=en").await.status,
            StatusCode::FORBIDDEN
        );
    }
);
