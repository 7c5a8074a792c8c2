//! Bulk import of master data through the API: Chinese and English headers, a dry run that
//! names every bad row, an all-or-nothing commit, a real XLSX written by a spreadsheet library,
//! and the templates. Both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use calamine::Reader;
use common::{Api, Reply};
use threadline_testkit::{TestStore, store_test};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn upload(api: &Api, uri: &str, content_type: &str, body: Vec<u8>) -> Reply {
    api.send(
        Request::post(uri)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

store_test!(
    a_dry_run_names_every_bad_row_and_a_commit_is_all_or_nothing,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        let before = api.ledger_len().await;
        let bad = "编码,名称,类型,上级\n\
                   SZ2,深圳二厂,工厂,\n\
                   SZ2-WH,仓库,库区,SZ2\n\
                   SZ2-A1,,货位,SZ2-WH\n\
                   SZ2-A2,A2,货位,NOPE\n\
                   SZ2-X,X,仓库,SZ2\n";
        let r = upload(&api, "/api/v1/imports/locations", "text/csv", bad.into()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let fields: Vec<String> = r.codes().into_iter().map(|(_, f)| f).collect();
        assert_eq!(
            fields,
            vec!["rows[4].名称", "rows[5].上级", "rows[6].类型"],
            "{:?}",
            r.body
        );
        // A commit of the same file writes nothing either.
        let r = upload(
            &api,
            "/api/v1/imports/locations?mode=commit",
            "text/csv",
            bad.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(api.ledger_len().await, before);

        let good = "编码 (code),名称 (name),类型 (kind),上级 (parent)\n\
                    SZ2,深圳二厂,工厂,\n\
                    SZ2-WH,仓库,库区,SZ2\n\
                    SZ2-A1,A1,货位,SZ2-WH\n";
        let r = upload(&api, "/api/v1/imports/locations", "text/csv", good.into()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            (r.body["rows"].as_u64(), r.body["dry_run"].as_bool()),
            (Some(3), Some(true))
        );
        assert_eq!(api.ledger_len().await, before, "a dry run keeps nothing");
        let r = upload(
            &api,
            "/api/v1/imports/locations?mode=commit",
            "text/csv",
            good.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before + 3);
        let bin = api.get("/api/v1/locations/SZ2-A1").await;
        assert_eq!(
            (bin.body["kind"].as_str(), bin.body["parent"].as_str()),
            (Some("bin"), Some("SZ2-WH"))
        );
        // Importing them again: every row already exists.
        let r = upload(
            &api,
            "/api/v1/imports/locations?mode=commit",
            "text/csv",
            good.into(),
        )
        .await;
        assert_eq!(r.codes().len(), 3);
        assert_eq!(
            r.codes()[0],
            ("already_exists".into(), "rows[2].编码 (code)".into())
        );

        // Headers that are not columns are refused before any row is read.
        let r = upload(
            &api,
            "/api/v1/imports/parties",
            "text/csv",
            "编码,名称,颜色\nS1,x,red\n".into(),
        )
        .await;
        assert_eq!(
            r.codes(),
            vec![
                ("unknown_column".into(), "rows[1].颜色".into()),
                ("missing_column".into(), "rows[1]".into()),
            ]
        );
    }
);

store_test!(
    an_xlsx_written_by_a_spreadsheet_library_imports_and_templates_download,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["code", "name", "tracking", "gtin", "warranty_months"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1, 0, "TC-300").unwrap();
        sheet.write_string(1, 1, "控制器 300").unwrap();
        sheet.write_string(1, 2, "序列号").unwrap();
        sheet.write_string(1, 3, "06901234567892").unwrap();
        sheet.write_number(1, 4, 24).unwrap();
        sheet.write_string(2, 0, "RESIN-X").unwrap();
        sheet.write_string(2, 1, "Resin X").unwrap();
        sheet.write_string(2, 2, "lot").unwrap();
        sheet.write_string(3, 0, "BAD").unwrap();
        sheet.write_string(3, 1, "Bad").unwrap();
        sheet.write_string(3, 2, "serial").unwrap();
        sheet.write_string(3, 4, "two years").unwrap();
        let bytes = book.save_to_buffer().unwrap();

        let r = upload(&api, "/api/v1/imports/products", XLSX, bytes.clone()).await;
        assert_eq!(
            r.codes(),
            vec![("invalid_number".into(), "rows[4].warranty_months".into())]
        );

        sheet_fix(&mut book);
        let bytes = book.save_to_buffer().unwrap();
        let r = upload(&api, "/api/v1/imports/products?mode=commit", XLSX, bytes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let p = api.get("/api/v1/products/TC-300").await.body;
        assert_eq!(
            (p["tracking"].as_str(), p["warranty_months"].as_u64()),
            (Some("serial"), Some(24))
        );
        assert_eq!(p["gtin"], "06901234567892");

        // The template is a workbook whose header row imports as is.
        let (status, headers, bytes) = {
            let req = Request::get("/api/v1/imports/parties/template?format=xlsx")
                .body(Body::empty())
                .unwrap();
            let mut req = req;
            req.headers_mut()
                .insert("authorization", api.auth.parse().unwrap());
            let resp = tower::ServiceExt::oneshot(api.router.clone(), req)
                .await
                .unwrap();
            let (st, h) = (resp.status(), resp.headers().clone());
            let b = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (st, h, b.to_vec())
        };
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap().starts_with(XLSX));
        let mut wb: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let range = wb.worksheet_range_at(0).unwrap().unwrap();
        let head: Vec<String> = range
            .rows()
            .next()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(head, vec!["编码 (code)", "名称 (name)", "类型 (kind)"]);
        let csv = format!("{}\nSUP-9,华南树脂,供应商\n", head.join(","));
        let r = upload(
            &api,
            "/api/v1/imports/parties?mode=commit",
            "text/csv",
            csv.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(
            api.get("/api/v1/parties/SUP-9").await.body["kind"],
            "supplier"
        );
    }
);

/// Removes the bad row of the products sheet.
fn sheet_fix(book: &mut rust_xlsxwriter::Workbook) {
    let sheet = book.worksheet_from_index(0).unwrap();
    for c in 0..5u16 {
        sheet.clear_cell(3, c);
    }
}

/// Master data the serials and lots imports refer to.
async fn plant(api: &Api) {
    for (uri, body) in [
        (
            "/api/v1/products",
            serde_json::json!({"code": "TC", "name": "Controller", "tracking": "serial"}),
        ),
        (
            "/api/v1/products",
            serde_json::json!({"code": "BOARD", "name": "Board", "tracking": "serial"}),
        ),
        (
            "/api/v1/products",
            serde_json::json!({"code": "RESIN", "name": "Resin", "tracking": "lot", "uom": "KGM"}),
        ),
        (
            "/api/v1/parties",
            serde_json::json!({"code": "S1", "name": "Supplier", "kind": "supplier"}),
        ),
        (
            "/api/v1/locations",
            serde_json::json!({"code": "SZ", "name": "Plant", "kind": "site"}),
        ),
        (
            "/api/v1/locations",
            serde_json::json!({"code": "SZ-FG", "name": "FG", "kind": "area", "parent": "SZ"}),
        ),
    ] {
        let r = api.post(uri, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
}

store_test!(
    legacy_and_supplier_serials_import_with_their_origin_and_place_in_stock,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        let bad = "产品编码,序列号,来源,供应商,状态,位置\n\
                   TC,TC-L001,历史,,在库,SZ-FG\n\
                   TC,TC-L002,供应商,,在库,SZ-FG\n\
                   TC,TC-L003,历史,,在库,NOPE\n\
                   RESIN,R-1,历史,,在库,SZ-FG\n\
                   TC,TC-L001,历史,,在库,SZ-FG\n\
                   TC,TC-L007,历史,,丢失,SZ-FG\n\
                   TC,TC-L008,历史,,在库,\n";
        for mode in ["dry_run", "commit"] {
            let r = upload(
                &api,
                &format!("/api/v1/imports/serials?mode={mode}"),
                "text/csv",
                bad.into(),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
            let fields: Vec<String> = r.codes().into_iter().map(|(_, f)| f).collect();
            assert_eq!(
                fields,
                vec![
                    "rows[3].供应商",
                    "rows[4].位置",
                    "rows[5].产品编码",
                    "rows[6].序列号",
                    "rows[7].状态",
                    "rows[8].位置"
                ],
                "{:?}",
                r.body
            );
            assert_eq!(api.ledger_len().await, before, "nothing written ({mode})");
        }

        let good = "product,serial,origin,supplier,status,location,lot,production_date\n\
                    TC,TC-L001,legacy,,in_stock,SZ-FG,,2019-05-01\n\
                    BOARD,B-S1-0001,供应商,S1,在库,SZ-FG,B-LOT-7,\n\
                    TC,TC-L002,历史,,已售,,,\n";
        let r = upload(&api, "/api/v1/imports/serials", "text/csv", good.into()).await;
        assert_eq!(
            (r.status, r.body["rows"].as_u64()),
            (StatusCode::OK, Some(3)),
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before, "a dry run keeps nothing");
        let r = upload(
            &api,
            "/api/v1/imports/serials?mode=commit",
            "text/csv",
            good.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["entries"].as_array().unwrap().len(), 3);
        assert_eq!(api.ledger_len().await, before + 3);

        let unit = api.item("TC", "TC-L001").await;
        assert_eq!(
            (unit["status"].as_str(), unit["location"].as_str()),
            (Some("in_stock"), Some("SZ-FG")),
            "{unit}"
        );
        assert_eq!(api.item("TC", "TC-L002").await["status"], "sold");
        let board = api.item("BOARD", "B-S1-0001").await;
        assert_eq!(board["status"], "in_stock");
        let events = api
            .get("/api/v1/events?product=BOARD&serial=B-S1-0001")
            .await;
        let ev = &events.body["items"][0];
        assert_eq!(ev["biz_step"], "receiving", "{ev}");
        assert_eq!(ev["sources"][0]["id"], "S1");
        assert_eq!(
            (ev["ilmd"]["origin"].as_str(), ev["ilmd"]["lot"].as_str()),
            (Some("supplier"), Some("B-LOT-7"))
        );
        let events = api.get("/api/v1/events?product=TC&serial=TC-L001").await;
        let ev = &events.body["items"][0];
        assert_eq!(
            (ev["biz_step"].as_str(), ev["ilmd"]["origin"].as_str()),
            (Some("commissioning"), Some("legacy"))
        );
        assert_eq!(ev["ilmd"]["production_date"], "2019-05-01");

        // Imported twice: every row is a duplicate now.
        let r = upload(
            &api,
            "/api/v1/imports/serials?mode=commit",
            "text/csv",
            good.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.codes().len(), 3, "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before + 3);
    }
);

store_test!(
    lots_import_as_opening_stock_from_a_real_xlsx,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in [
            "产品编码",
            "批次",
            "数量",
            "位置",
            "来源",
            "供应商",
            "有效期至",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1, 0, "RESIN").unwrap();
        sheet.write_string(1, 1, "R-2611").unwrap();
        sheet.write_number(1, 2, 250.5).unwrap();
        sheet.write_string(1, 3, "SZ-FG").unwrap();
        sheet.write_string(1, 4, "供应商").unwrap();
        sheet.write_string(1, 5, "S1").unwrap();
        sheet.write_string(1, 6, "2027-06-30").unwrap();
        sheet.write_string(2, 0, "RESIN").unwrap();
        sheet.write_string(2, 1, "R-2612").unwrap();
        sheet.write_string(2, 2, "many").unwrap();
        sheet.write_string(2, 3, "SZ").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let r = upload(&api, "/api/v1/imports/lots?mode=commit", XLSX, bytes).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let fields: Vec<String> = r.codes().into_iter().map(|(_, f)| f).collect();
        assert_eq!(fields, vec!["rows[3].数量"], "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before);

        let sheet = book.worksheet_from_index(0).unwrap();
        sheet.write_number(2, 2, 40).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let r = upload(&api, "/api/v1/imports/lots", XLSX, bytes.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before, "a dry run keeps nothing");
        let r = upload(&api, "/api/v1/imports/lots?mode=commit", XLSX, bytes).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before + 2);
        let lot = api.get("/api/v1/lots/RESIN/R-2611").await.body;
        assert_eq!(lot["expiry_date"], "2027-06-30", "{lot}");
        let stock = serde_json::to_string(&lot["stock"]).unwrap();
        assert!(stock.contains("SZ-FG") && stock.contains("250.5"), "{lot}");
        let lot = api.get("/api/v1/lots/RESIN/R-2612").await.body;
        assert!(
            serde_json::to_string(&lot["stock"]).unwrap().contains("40"),
            "{lot}"
        );

        // Without a location column the file is refused before any row is read.
        let r = upload(
            &api,
            "/api/v1/imports/lots",
            "text/csv",
            "product,lot,quantity\nRESIN,R-9,1\n".into(),
        )
        .await;
        assert_eq!(
            r.codes(),
            vec![("missing_column".into(), "rows[1]".into())],
            "{:?}",
            r.body
        );

        // The templates of both kinds import as they are.
        for (kind, header) in [
            ("serials", "序列号 (serial)"),
            ("lots", "数量 (quantity)"),
            ("events", "时间 (event_time)"),
        ] {
            let r = api
                .get(&format!("/api/v1/imports/{kind}/template?format=csv"))
                .await;
            assert_eq!(r.status, StatusCode::OK);
            let text = r.body.as_str().unwrap_or_default().to_owned();
            assert!(text.contains(header), "{text}");
        }
    }
);

store_test!(
    historical_events_import_in_the_order_they_happened,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        let bad = "时间,业务步骤,产品编码,序列号,批次,数量,位置,单据类型,单据号\n\
                   2024-01-05 08:00,生产,TC,TC-H1,,,SZ-FG,,\n\
                   2024-01-06,入库,TC,TC-H1,,,SZ-FG,,\n\
                   2024-01-07 09:00,flying,TC,TC-H1,,,SZ-FG,,\n\
                   2024-01-08 09:00,收货,RESIN,,R-H1,,SZ-FG,,\n\
                   2024-01-09 09:00,发货,TC,,,,SZ-FG,po,\n";
        let r = upload(
            &api,
            "/api/v1/imports/events?mode=commit",
            "text/csv",
            bad.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        let fields: Vec<String> = r.codes().into_iter().map(|(_, f)| f).collect();
        assert_eq!(
            fields,
            vec![
                "rows[3].时间",
                "rows[4].业务步骤",
                "rows[5].数量",
                "rows[6].序列号"
            ],
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before);

        // Rows out of order: recorded by time, each at its own time; the process rules hold
        // (shipping needs the unit in stock first).
        let good = "event_time,biz_step,product,serial,lot,quantity,location,disposition,transaction_type,transaction_id\n\
                    2024-01-09 09:00,shipping,TC,TC-H1,,,SZ-FG,in_transit,desadv,DN-1\n\
                    2024-01-05 08:00,commissioning,TC,TC-H1,,,SZ-FG,active,,\n\
                    2024-01-06T10:00:00+08:00,storing,TC,TC-H1,,,SZ-FG,sellable_not_accessible,,\n\
                    2024-01-08 09:00,receiving,RESIN,,R-H1,12.5,SZ-FG,,po,PO-7\n";
        let r = upload(&api, "/api/v1/imports/events", "text/csv", good.into()).await;
        assert_eq!(
            (r.status, r.body["rows"].as_u64()),
            (StatusCode::OK, Some(4)),
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before, "a dry run keeps nothing");
        let r = upload(
            &api,
            "/api/v1/imports/events?mode=commit",
            "text/csv",
            good.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before + 4);
        let unit = api.item("TC", "TC-H1").await;
        assert_eq!(unit["status"], "in_transit", "{unit}");
        let events = api.get("/api/v1/events?product=TC&serial=TC-H1").await;
        let times: Vec<&str> = events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_time"].as_str().unwrap())
            .collect();
        assert_eq!(
            times,
            [
                "2024-01-05T00:00:00Z",
                "2024-01-06T02:00:00Z",
                "2024-01-09T01:00:00Z"
            ]
        );
        assert_eq!(events.body["items"][2]["biz_transactions"][0]["id"], "DN-1");
        let lot = api.get("/api/v1/lots/RESIN/R-H1").await.body;
        assert!(
            serde_json::to_string(&lot["stock"])
                .unwrap()
                .contains("12.5"),
            "{lot}"
        );

        // Shipping a unit that was never put in stock is refused, naming the row.
        let r = upload(
            &api,
            "/api/v1/imports/events",
            "text/csv",
            "时间,业务步骤,产品编码,序列号,位置\n2024-02-01 08:00,生产,TC,TC-H2,SZ-FG\n2024-02-02 08:00,发货,TC,TC-H2,SZ-FG\n".into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert!(
            r.codes().iter().all(|(_, f)| f.starts_with("rows[3]")),
            "{:?}",
            r.body
        );
    }
);

store_test!(
    master_lists_export_in_the_columns_the_import_reads_back,
    |s: TestStore| async move {
        threadline_testkit::fixtures::plant(&*s).await;
        let api = Api::new(&s).await;
        // Products as CSV: the template's header, one row per product, numbers as numbers.
        let r = api
            .send(
                Request::get("/api/v1/products?format=csv")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let csv = r
            .body
            .as_str()
            .unwrap()
            .trim_start_matches('\u{feff}')
            .to_owned();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "编码 (code),名称 (name),追溯方式 (tracking),商品条码 (gtin),单位 (uom),类别 (category),保修月数 (warranty_months)"
        );
        let listed = api.get("/api/v1/products?limit=1000").await.body["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(lines.clone().count(), listed, "{csv}");
        assert!(
            lines.any(|l| l.starts_with("PHONE,Phone,serial,09521234543213,")),
            "{csv}"
        );

        // Edited in a spreadsheet and sent back, it reads cleanly: every row names a product
        // that exists already (the importer creates, it does not overwrite), nothing else.
        let r = upload(
            &api,
            "/api/v1/imports/products",
            "text/csv",
            csv.into_bytes(),
        )
        .await;
        let codes: Vec<String> = r.codes().into_iter().map(|(c, _)| c).collect();
        assert!(!codes.is_empty(), "{:?}", r.body);
        assert!(codes.iter().all(|c| c == "already_exists"), "{:?}", r.body);

        // Locations as XLSX, paged through the whole list: a workbook a spreadsheet opens.
        let mut req = Request::get("/api/v1/locations?format=xlsx")
            .body(Body::empty())
            .unwrap();
        req.headers_mut()
            .insert("authorization", api.auth.parse().unwrap());
        let resp = tower::ServiceExt::oneshot(api.router.clone(), req)
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(rows[0][0], "编码 (code)");
        assert_eq!(rows[0][5], "地区 (region)");
        let listed = api.get("/api/v1/locations?limit=1000").await.body["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(rows.len() - 1, listed);
        assert!(
            rows.iter().any(|r| r[0] == "SZ-WH-A1" && r[2] == "bin"),
            "{rows:?}"
        );
        // A format it does not speak is named.
        let r = api.get("/api/v1/parties?format=pdf").await;
        assert_eq!(
            r.codes(),
            [("invalid_format".to_owned(), "format".to_owned())]
        );
    }
);

async fn commit_with_key(api: &Api, kind: &str, key: &str, csv: &str) -> Reply {
    api.send(
        Request::post(format!("/api/v1/imports/{kind}?mode=commit"))
            .header("content-type", "text/csv")
            .header("idempotency-key", key)
            .body(Body::from(csv.to_owned()))
            .unwrap(),
    )
    .await
}

store_test!(
    a_retried_commit_with_its_idempotency_key_answers_the_first_and_writes_nothing,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;

        // Master rows (Store::put_masters).
        let products = "编码,名称,追溯方式\nTC-300,控制器 300,序列号\nTC-400,控制器 400,序列号\n";
        let first = commit_with_key(&api, "products", "erp-import-1", products).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert!(first.headers.get("idempotent-replayed").is_none());
        assert_eq!(api.ledger_len().await, before + 2);
        // Without the key the same file is refused (the codes exist now); with it, the retry
        // answers exactly the first answer and records nothing.
        let again = commit_with_key(&api, "products", "erp-import-1", products).await;
        assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
        assert_eq!(again.body, first.body);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(api.ledger_len().await, before + 2);
        let plain = upload(
            &api,
            "/api/v1/imports/products?mode=commit",
            "text/csv",
            products.into(),
        )
        .await;
        assert_eq!(plain.status, StatusCode::UNPROCESSABLE_ENTITY);

        // The same key with another file, another kind or through another endpoint is refused,
        // naming the key, and writes nothing.
        let other = "编码,名称,追溯方式\nTC-500,控制器 500,序列号\n";
        for r in [
            commit_with_key(&api, "products", "erp-import-1", other).await,
            commit_with_key(&api, "parties", "erp-import-1", "编码,名称,类型\nC9,客户,客户\n").await,
            api.send(
                Request::post("/api/v1/events")
                    .header("content-type", "application/json")
                    .header("idempotency-key", "erp-import-1")
                    .body(Body::from(
                        serde_json::json!({"type": "object", "action": "ADD",
                            "event_time": "2026-05-26T10:00:00+08:00", "biz_step": "commissioning",
                            "biz_location": "SZ-FG", "items": [{"product": "TC", "serial": "TC-K1"}]})
                        .to_string(),
                    ))
                    .unwrap(),
            )
            .await,
        ] {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
            assert_eq!(
                r.codes(),
                vec![(
                    "idempotency_key_reused".to_owned(),
                    "Idempotency-Key".to_owned()
                )],
                "{:?}",
                r.body
            );
            assert!(r.message().contains("erp-import-1"), "{:?}", r.body);
        }
        assert_eq!(api.ledger_len().await, before + 2);
        assert_eq!(
            api.get("/api/v1/products/TC-500").await.status,
            StatusCode::NOT_FOUND
        );

        // Registering rows (Store::capture_import). A commit refused for a bad row does not
        // keep its key: the corrected file commits under it.
        let bad = "产品编码,序列号,来源,状态,位置\nTC,TC-L001,历史,在库,SZ-FG\nTC,TC-L002,历史,在库,NOPE\n";
        let r = commit_with_key(&api, "serials", "erp-serials-1", bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(api.ledger_len().await, before + 2);
        let good = "产品编码,序列号,来源,状态,位置\nTC,TC-L001,历史,在库,SZ-FG\nTC,TC-L002,历史,在库,SZ-FG\n";
        let first = commit_with_key(&api, "serials", "erp-serials-1", good).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert_eq!(first.body["entries"].as_array().unwrap().len(), 2);
        assert_eq!(api.ledger_len().await, before + 4);
        let again = commit_with_key(&api, "serials", "erp-serials-1", good).await;
        assert_eq!(
            (again.status, &again.body),
            (StatusCode::CREATED, &first.body)
        );
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(api.ledger_len().await, before + 4);
        let events = api.get("/api/v1/events?product=TC&serial=TC-L001").await;
        assert_eq!(events.body["items"].as_array().unwrap().len(), 1);

        // A dry run ignores the key (it keeps nothing), and an empty key is refused by name.
        let dry = api
            .send(
                Request::post("/api/v1/imports/products")
                    .header("content-type", "text/csv")
                    .header("idempotency-key", "erp-import-1")
                    .body(Body::from(other))
                    .unwrap(),
            )
            .await;
        assert_eq!(dry.status, StatusCode::OK, "{:?}", dry.body);
        let r = commit_with_key(&api, "products", " ", other).await;
        assert_eq!(
            (r.status, r.codes()),
            (
                StatusCode::BAD_REQUEST,
                vec![(
                    "invalid_idempotency_key".to_owned(),
                    "Idempotency-Key".to_owned()
                )]
            ),
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before + 4);
    }
);

store_test!(
    xlsx_date_cells_and_excel_serial_dates_import_as_dates,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        let day = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        let stamp = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let date = |y, m, d| rust_xlsxwriter::ExcelDateTime::from_ymd(y, m, d).unwrap();

        // Serials with their production dates as a spreadsheet keeps them: a date cell, a date
        // cell with a time, a serial number whose date format was lost, text either way round;
        // and one that is no date at all.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["产品编码", "序列号", "来源", "状态", "位置", "生产日期"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (r, serial) in ["TC-D1", "TC-D2", "TC-D3", "TC-D4", "TC-D5"]
            .iter()
            .enumerate()
        {
            let r = r as u32 + 1;
            for (c, v) in ["TC", serial, "历史", "在库", "SZ-FG"].iter().enumerate() {
                sheet.write_string(r, c as u16, *v).unwrap();
            }
        }
        sheet
            .write_datetime_with_format(1, 5, date(2019, 5, 1), &day)
            .unwrap();
        let with_time = date(2020, 2, 29).and_hms(17, 45, 0).unwrap();
        sheet
            .write_datetime_with_format(2, 5, &with_time, &stamp)
            .unwrap();
        sheet.write_number(3, 5, 45444).unwrap();
        sheet.write_string(4, 5, "2021/03/09").unwrap();
        sheet.write_string(5, 5, "soon").unwrap();
        let r = upload(
            &api,
            "/api/v1/imports/serials?mode=commit",
            XLSX,
            book.save_to_buffer().unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(
            r.codes(),
            vec![("invalid_date".to_owned(), "rows[6].生产日期".to_owned())],
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before);

        let sheet = book.worksheet_from_index(0).unwrap();
        sheet.write_string(5, 5, "2022-12-31").unwrap();
        let r = upload(
            &api,
            "/api/v1/imports/serials?mode=commit",
            XLSX,
            book.save_to_buffer().unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        for (serial, produced) in [
            ("TC-D1", "2019-05-01"),
            ("TC-D2", "2020-02-29"),
            ("TC-D3", "2024-06-01"),
            ("TC-D4", "2021-03-09"),
            ("TC-D5", "2022-12-31"),
        ] {
            let events = api
                .get(&format!("/api/v1/events?product=TC&serial={serial}"))
                .await;
            assert_eq!(
                events.body["items"][0]["ilmd"]["production_date"], produced,
                "{serial}: {:?}",
                events.body
            );
        }

        // History with its times as date-time cells: on the plant's clock (+08:00 unless the
        // row says otherwise).
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in ["时间", "业务步骤", "产品编码", "序列号", "位置"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        let at = date(2024, 3, 1).and_hms(8, 30, 0).unwrap();
        sheet.write_datetime_with_format(1, 0, &at, &stamp).unwrap();
        for (c, v) in ["生产", "TC", "TC-H9", "SZ-FG"].iter().enumerate() {
            sheet.write_string(1, c as u16 + 1, *v).unwrap();
        }
        let r = upload(
            &api,
            "/api/v1/imports/events?mode=commit",
            XLSX,
            book.save_to_buffer().unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let events = api.get("/api/v1/events?product=TC&serial=TC-H9").await;
        let t = events.body["items"][0]["event_time"].as_str().unwrap();
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(t).unwrap(),
            chrono::DateTime::parse_from_rfc3339("2024-03-01T08:30:00+08:00").unwrap(),
            "{:?}",
            events.body
        );
    }
);

/// A serials file of `n` legacy units of TC in stock at SZ-FG (rows 2 ..= n + 1), each row
/// passed through `edit` (its row number and cells) first.
fn serials_csv(n: usize, mut edit: impl FnMut(usize, &mut Vec<String>)) -> String {
    let mut csv = String::from("product,serial,origin,status,location\n");
    for i in 0..n {
        let row = i + 2;
        let mut cells: Vec<String> = ["TC", &format!("TC-M{i:06}"), "legacy", "in_stock", "SZ-FG"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        edit(row, &mut cells);
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    csv
}

store_test!(
    a_streamed_import_of_twenty_thousand_rows_commits_every_row,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        let csv = serials_csv(20_000, |_, _| {});

        // The dry run reads every chunk and keeps nothing.
        let r = upload(
            &api,
            "/api/v1/imports/serials",
            "text/csv",
            csv.clone().into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["rows"], 20_000);
        assert_eq!(r.body["entries"].as_array().unwrap().len(), 0);
        assert_eq!(api.ledger_len().await, before, "a dry run keeps nothing");
        assert_eq!(
            api.get("/api/v1/items/TC/TC-M000000").await.status,
            StatusCode::NOT_FOUND
        );

        let first = commit_with_key(&api, "serials", "big-file-1", &csv).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        assert_eq!(first.body["rows"], 20_000);
        // The answer lists the first 1,000 receipts; the positions span all of them.
        let entries = first.body["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 1_000);
        let (first_seq, last_seq) = (
            first.body["first_seq"].as_i64().unwrap(),
            first.body["last_seq"].as_i64().unwrap(),
        );
        assert_eq!(
            (first_seq, last_seq),
            (before + 1, before + 20_000),
            "{:?}",
            first.body["entries"][0]
        );
        assert_eq!(entries[0]["seq"], first_seq);
        assert_eq!(api.ledger_len().await, before + 20_000);
        for serial in ["TC-M000000", "TC-M004999", "TC-M005000", "TC-M019999"] {
            let unit = api.item("TC", serial).await;
            assert_eq!(
                (unit["status"].as_str(), unit["location"].as_str()),
                (Some("in_stock"), Some("SZ-FG")),
                "{serial}: {unit}"
            );
        }

        // The retry answers the first commit exactly and records nothing.
        let again = commit_with_key(&api, "serials", "big-file-1", &csv).await;
        assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.body, first.body);
        assert_eq!(api.ledger_len().await, before + 20_000);
        // One audit record says what the commit kept.
        let audit = api.get("/api/v1/audit?object=imports/serials").await;
        let kept: Vec<_> = audit.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["after"]["count"].is_number())
            .map(|r| r["after"].clone())
            .collect();
        assert_eq!(
            kept,
            vec![
                serde_json::json!({"count": 20_000, "first_seq": first_seq, "last_seq": last_seq})
            ],
            "{:?}",
            audit.body
        );
    }
);

store_test!(
    bad_rows_at_the_start_middle_and_end_are_named_by_row_and_nothing_is_written,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        // 12,000 rows in three chunks: a bad status on the first row, a unit of an unknown
        // product in the middle of the second chunk, a serial that repeats one of the first
        // chunk (only the store can tell) and a missing location on the last row.
        let csv = serials_csv(12_000, |row, cells| match row {
            2 => cells[3] = "丢失".into(),
            7_500 => cells[0] = "NOPE".into(),
            11_000 => cells[1] = "TC-M000100".into(),
            12_001 => cells[4] = String::new(),
            _ => {}
        });
        for mode in ["dry_run", "commit"] {
            let r = upload(
                &api,
                &format!("/api/v1/imports/serials?mode={mode}"),
                "text/csv",
                csv.clone().into(),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
            assert_eq!(
                r.codes().into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
                vec![
                    "rows[2].status",
                    "rows[7500].product",
                    "rows[11000].serial",
                    "rows[12001].location"
                ],
                "{mode}: {:?}",
                r.body
            );
            assert_eq!(api.ledger_len().await, before, "nothing written ({mode})");
        }
        assert_eq!(
            api.get("/api/v1/items/TC/TC-M000003").await.status,
            StatusCode::NOT_FOUND
        );

        // Past 1,000 refusals the report lists the first 1,000 by row and says how many more.
        let csv = serials_csv(1_250, |_, cells| cells[3] = "lost".into());
        let r = upload(&api, "/api/v1/imports/serials", "text/csv", csv.into()).await;
        let codes = r.codes();
        assert_eq!(codes.len(), 1_001, "{:?}", r.body["errors"][1000]);
        assert_eq!(codes[0], ("invalid_value".into(), "rows[2].status".into()));
        assert_eq!(codes[999].1, "rows[1001].status");
        assert_eq!(codes[1_000].0, "too_many_errors");
        assert!(
            r.body["errors"][1000]["message"]
                .as_str()
                .unwrap()
                .starts_with("250 more problems"),
            "{:?}",
            r.body["errors"][1000]
        );
        assert_eq!(api.ledger_len().await, before);
    }
);

store_test!(
    a_legacy_serial_is_registered_when_it_was_made,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let before = api.ledger_len().await;
        // A production date in the future is refused, naming its column.
        let r = upload(
            &api,
            "/api/v1/imports/serials?mode=commit",
            "text/csv",
            "产品编码,序列号,位置,生产日期\nTC,TC-OLD-0,SZ-FG,2030-01-01\n".into(),
        )
        .await;
        assert_eq!(
            r.codes(),
            vec![("future_event_time".into(), "rows[2].生产日期".into())],
            "{:?}",
            r.body
        );
        assert_eq!(api.ledger_len().await, before);

        let csv = "产品编码,序列号,来源,供应商,位置,生产日期\n\
                   TC,TC-OLD-1,历史,,SZ-FG,2019-05-01\n\
                   TC,TC-OLD-2,历史,,SZ-FG,\n\
                   BOARD,B-OLD-1,供应商,S1,SZ-FG,2025-12-24\n";
        let r = upload(
            &api,
            "/api/v1/imports/serials?mode=commit",
            "text/csv",
            csv.into(),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let registered = |p: &'static str, serial: &'static str| {
            let api = &api;
            async move {
                let passport = api
                    .get(&format!("/api/v1/items/{p}/{serial}/passport"))
                    .await;
                assert_eq!(passport.status, StatusCode::OK, "{:?}", passport.body);
                let ev = passport.body["timeline"][0].clone();
                (
                    ev["event_time"].as_str().unwrap_or_default().to_owned(),
                    ev["ilmd"]["production_date"].clone(),
                )
            }
        };
        // Made on 1 May 2019 in the plant (Asia/Shanghai, by default): midnight there.
        let (t, day) = registered("TC", "TC-OLD-1").await;
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(&t).unwrap(),
            chrono::DateTime::parse_from_rfc3339("2019-05-01T00:00:00+08:00").unwrap(),
            "{t}"
        );
        assert_eq!(day, "2019-05-01");
        // Without a date, and for a supplier's unit (received now), the import's time.
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z").unwrap();
        let (t, _) = registered("TC", "TC-OLD-2").await;
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(&t).unwrap(),
            now,
            "{t}"
        );
        let (t, day) = registered("BOARD", "B-OLD-1").await;
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(&t).unwrap(),
            now,
            "{t}"
        );
        assert_eq!(day, "2025-12-24");
    }
);
