//! Lists of units, lots and events, as JSON pages and as streamed CSV/XLSX exports read back
//! with a spreadsheet reader. Both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use calamine::Reader;
use common::Api;
use serde_json::json;
use threadline_testkit::{TestStore, store_test};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn upload(api: &Api, uri: &str, csv: &str) {
    let r = api
        .send(
            Request::post(uri)
                .header("content-type", "text/csv")
                .body(Body::from(csv.to_owned()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{uri}: {:?}", r.body);
}

/// A GET answered with a file: content type and bytes.
async fn download(api: &Api, uri: &str) -> (String, Vec<u8>) {
    let mut req = Request::get(uri).body(Body::empty()).unwrap();
    req.headers_mut()
        .insert("authorization", api.auth.parse().unwrap());
    let resp = tower::ServiceExt::oneshot(api.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{uri}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (ct, bytes.to_vec())
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The first sheet's cells as a reader shows them: a date cell as `YYYY-MM-DD` (with
/// ` HH:MM:SS` when it has a time of day).
fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    xlsx_cells(bytes)
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    calamine::Data::DateTime(d) => {
                        let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                        if (h, mi, s) == (0, 0, 0) {
                            format!("{y:04}-{mo:02}-{da:02}")
                        } else {
                            format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
                        }
                    }
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn xlsx_cells(bytes: Vec<u8>) -> Vec<Vec<calamine::Data>> {
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

/// Three units of TC (two in stock at SZ-FG, one sold) and two resin lots in three stock lines.
async fn plant(api: &Api) {
    for (uri, body) in [
        (
            "/api/v1/products",
            json!({"code": "TC", "name": "Controller", "tracking": "serial"}),
        ),
        (
            "/api/v1/products",
            json!({"code": "RESIN", "name": "Resin", "tracking": "lot", "uom": "KGM"}),
        ),
        (
            "/api/v1/locations",
            json!({"code": "SZ", "name": "Plant", "kind": "site"}),
        ),
        (
            "/api/v1/locations",
            json!({"code": "SZ-FG", "name": "FG", "kind": "area", "parent": "SZ"}),
        ),
        (
            "/api/v1/locations",
            json!({"code": "SZ-RM", "name": "RM", "kind": "area", "parent": "SZ"}),
        ),
    ] {
        let r = api.post(uri, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    upload(
        api,
        "/api/v1/imports/serials?mode=commit",
        "product,serial,status,location\nTC,TC-1,in_stock,SZ-FG\nTC,TC-2,sold,\nTC,TC-3,in_stock,SZ-FG\n",
    )
    .await;
    upload(
        api,
        "/api/v1/imports/lots?mode=commit",
        "product,lot,quantity,location,expiry_date\nRESIN,R-1,250.5,SZ-RM,2027-01-31\nRESIN,R-1,10,SZ-FG,2027-01-31\nRESIN,R-2,40,SZ-RM,\n",
    )
    .await;
}

store_test!(
    units_and_lots_list_by_state_page_by_page,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let r = api.get("/api/v1/items?product=TC&status=in_stock").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let serials: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["serial"].as_str().unwrap())
            .collect();
        assert_eq!(serials, ["TC-1", "TC-3"]);
        assert_eq!(r.body["items"][0]["location"], "SZ-FG");
        assert!(r.body.get("next").is_none());

        // A page at a time: `next` is where the following page starts.
        let mut seen = Vec::new();
        let mut uri = "/api/v1/items?product=TC&limit=2".to_owned();
        loop {
            let r = api.get(&uri).await;
            for i in r.body["items"].as_array().unwrap() {
                seen.push(i["serial"].as_str().unwrap().to_owned());
            }
            match r.body["next"].as_str() {
                Some(n) => uri = format!("/api/v1/items?product=TC&limit=2&after={n}"),
                None => break,
            }
        }
        assert_eq!(seen, ["TC-1", "TC-2", "TC-3"]);
        let sold = api.get("/api/v1/items?status=sold").await;
        assert_eq!(sold.body["items"][0]["serial"], "TC-2");
        assert_eq!(sold.body["items"].as_array().unwrap().len(), 1);

        let r = api.get("/api/v1/lots?location=SZ-FG").await;
        let lots = r.body["items"].as_array().unwrap();
        assert_eq!(lots.len(), 1, "{:?}", r.body);
        assert_eq!(lots[0]["lot"], "R-1");
        assert_eq!(
            lots[0]["stock"].as_array().unwrap().len(),
            2,
            "both stock lines of R-1"
        );
        assert_eq!(
            api.get("/api/v1/lots?product=RESIN").await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // Bad input names the parameter.
        for (uri, field) in [
            ("/api/v1/items?status=flying", Some("status")),
            ("/api/v1/items?format=pdf", Some("format")),
            ("/api/v1/items?after=abc", Some("after")),
            ("/api/v1/items?limit=0", Some("limit")),
            ("/api/v1/lots?status=in_stock", None),
        ] {
            let r = api.get(uri).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(
                r.body["error"]["field"].as_str(),
                field,
                "{uri}: {:?}",
                r.body
            );
        }
    }
);

store_test!(
    lists_export_to_csv_and_xlsx_that_read_back,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;

        let (ct, bytes) = download(&api, "/api/v1/items?product=TC&format=csv").await;
        assert!(ct.starts_with("text/csv"), "{ct}");
        let rows = csv_rows(&bytes);
        assert_eq!(
            rows[0],
            [
                "product",
                "serial",
                "status",
                "holds",
                "location",
                "custodian",
                "lot",
                "parent"
            ]
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[2][..3], ["TC", "TC-2", "sold"]);

        let (ct, bytes) = download(&api, "/api/v1/items?status=in_stock&format=xlsx").await;
        assert!(ct.starts_with(XLSX), "{ct}");
        let rows = xlsx_rows(bytes);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1][..5], ["TC", "TC-1", "in_stock", "", "SZ-FG"]);

        // Lots: one row per lot and location, quantities as numbers.
        let (_, bytes) = download(&api, "/api/v1/lots?format=xlsx").await;
        let cells = xlsx_cells(bytes.clone());
        assert!(
            matches!(&cells[1][3], calamine::Data::DateTime(d) if d.is_datetime()),
            "the expiry date is a date cell: {:?}",
            cells[1][3]
        );
        let rows = xlsx_rows(bytes);
        assert_eq!(
            rows[0],
            [
                "product",
                "lot",
                "production_date",
                "expiry_date",
                "holds",
                "location",
                "quantity"
            ]
        );
        let lines: Vec<(String, String, String)> = rows[1..]
            .iter()
            .map(|r| (r[1].clone(), r[5].clone(), r[6].clone()))
            .collect();
        assert_eq!(
            lines,
            [
                ("R-1".into(), "SZ-FG".into(), "10".into()),
                ("R-1".into(), "SZ-RM".into(), "250.5".into()),
                ("R-2".into(), "SZ-RM".into(), "40".into()),
            ]
        );
        assert_eq!(rows[1][3], "2027-01-31");

        // Events: every match, past the JSON page size, in ledger order.
        let all = api.get("/api/v1/events?limit=1000").await;
        let count = all.body["items"].as_array().unwrap().len();
        assert_eq!(count, 6, "three units and three stock lines registered");
        let (_, bytes) = download(&api, "/api/v1/events?format=csv").await;
        let rows = csv_rows(&bytes);
        assert_eq!(rows.len(), count + 1);
        assert_eq!(
            rows[0][..5],
            ["seq", "id", "event_time", "local_time", "record_time"]
        );
        assert_eq!(rows[1][1], all.body["items"][0]["id"].as_str().unwrap());
        assert_eq!(rows[1][11], "TC/TC-1");
        assert_eq!(rows[4][12], "RESIN/R-1 250.5");
        let (_, bytes) = download(&api, "/api/v1/events?product=TC&serial=TC-2&format=xlsx").await;
        let cells = xlsx_cells(bytes.clone());
        assert!(
            matches!(&cells[1][2], calamine::Data::DateTime(d) if d.is_datetime()),
            "event_time is a date-time cell: {:?}",
            cells[1][2]
        );
        let rows = xlsx_rows(bytes);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1][8], "retail_sold");
        // The same instant as the JSON's, in UTC; CSV keeps RFC 3339.
        let json = api.get("/api/v1/events?product=TC&serial=TC-2").await;
        let t = chrono::DateTime::parse_from_rfc3339(
            json.body["items"][0]["event_time"].as_str().unwrap(),
        )
        .unwrap()
        .with_timezone(&chrono::Utc);
        assert_eq!(rows[1][2], t.format("%Y-%m-%d %H:%M:%S").to_string());
        let (_, bytes) = download(&api, "/api/v1/events?product=TC&serial=TC-2&format=csv").await;
        assert_eq!(csv_rows(&bytes)[1][2], t.to_rfc3339());
    }
);

// An event's time in a plant's export is also written as the clock where it happened read it:
// the `local_time` column, in the event's own `event_time_zone_offset` — RFC 3339 with the
// offset in CSV, the wall-clock time in XLSX (its cell format names the offset) — beside the
// UTC `event_time`.
store_test!(
    event_exports_show_each_event_in_its_own_zone,
    |s: TestStore| async move {
        let api = Api::new(&s).await;
        plant(&api).await;
        let commission = |serial: &str, time: &str, offset: Option<&str>| {
            let mut e = json!({"type": "object", "action": "ADD", "event_time": time,
                "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-FG",
                "items": [{"product": "TC", "serial": serial}]});
            if let Some(o) = offset {
                e["event_time_zone_offset"] = json!(o);
            }
            e
        };
        // Shenzhen's line, a plant in Monterrey (the offset declared apart from the time), and
        // a gateway that sends UTC.
        let batch = json!([
            commission("TC-10", "2026-05-19T08:41:07+08:00", None),
            commission("TC-11", "2026-05-19T00:41:07Z", Some("-05:00")),
            commission("TC-12", "2026-05-19T00:41:07Z", None),
        ]);
        let r = api.post("/api/v1/events", batch).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let wanted = [
            (
                "TC/TC-10",
                "2026-05-19T08:41:07+08:00",
                "2026-05-19 08:41:07",
            ),
            (
                "TC/TC-11",
                "2026-05-18T19:41:07-05:00",
                "2026-05-18 19:41:07",
            ),
            (
                "TC/TC-12",
                "2026-05-19T00:41:07+00:00",
                "2026-05-19 00:41:07",
            ),
        ];
        let (_, bytes) = download(
            &api,
            "/api/v1/events?product=TC&biz_step=commissioning&format=csv",
        )
        .await;
        let rows = csv_rows(&bytes);
        assert_eq!(rows[0][2..4], ["event_time", "local_time"]);
        let ours: Vec<&Vec<String>> = rows[1..]
            .iter()
            .filter(|r| ["TC/TC-10", "TC/TC-11", "TC/TC-12"].contains(&r[11].as_str()))
            .collect();
        assert_eq!(ours.len(), 3, "{rows:?}");
        for (row, (unit, local, _)) in ours.iter().zip(wanted) {
            assert_eq!(row[11], unit);
            // The same instant in UTC, and as the plant's clock read it.
            assert_eq!(row[2], "2026-05-19T00:41:07+00:00", "{unit}");
            assert_eq!(row[3], local, "{unit}");
        }
        let (_, bytes) = download(
            &api,
            "/api/v1/events?product=TC&biz_step=commissioning&format=xlsx",
        )
        .await;
        let cells = xlsx_cells(bytes.clone());
        let rows = xlsx_rows(bytes);
        assert_eq!(rows[0][2..4], ["event_time", "local_time"]);
        let ours: Vec<usize> = (1..rows.len())
            .filter(|&i| ["TC/TC-10", "TC/TC-11", "TC/TC-12"].contains(&rows[i][11].as_str()))
            .collect();
        assert_eq!(ours.len(), 3);
        for (i, (unit, _, wall)) in ours.into_iter().zip(wanted) {
            assert!(
                matches!(&cells[i][3], calamine::Data::DateTime(d) if d.is_datetime()),
                "local_time is a date-time cell: {:?}",
                cells[i][3]
            );
            assert_eq!(rows[i][2], "2026-05-19 00:41:07", "{unit}");
            assert_eq!(rows[i][3], wall, "{unit}");
        }
    }
);
