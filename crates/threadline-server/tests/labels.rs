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
        let field = formats[136].split("^BXN,").nth(1).unwrap();
        let data = field
            .split("^FD")
            .nth(1)
            .unwrap()
            .split("^FS")
            .next()
            .unwrap();
        let transmitted = format!(
            "]d2{}",
            data.trim_start_matches("_1").replace("_1", "\u{1d}")
        );
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
    }
);
