//! The dashboards' figures on both engines: a small plant history recorded through the
//! operations, read back through the store's dashboard queries and the `/dashboard` page.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use chrono::{DateTime, Utc};
use common::{Api, history};
use threadline_store::dashboard::{Count, Period, QcBy, QcRow, Window, ZoneOffsets};
use threadline_testkit::fixtures::plant;
use threadline_testkit::{TestStore, store_test};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn window(period: Period) -> Window {
    Window {
        from: at("2026-05-01T00:00:00+08:00"),
        to: at("2026-06-02T00:00:00+08:00"),
        period,
        zone: ZoneOffsets::fixed(8 * 3600),
        places: None,
    }
}

fn qc(group: Option<&str>, period: &str, counts: [i64; 4]) -> QcRow {
    QcRow {
        group: group.map(str::to_owned),
        period: period.to_owned(),
        first_inspected: counts[0],
        first_passed: counts[1],
        inspections: counts[2],
        failed: counts[3],
    }
}

fn count(key: Option<&str>, n: i64) -> Count {
    Count {
        key: key.map(str::to_owned),
        count: n,
    }
}

store_test!(quality_by_every_dimension, |s: TestStore| async move {
    plant(&*s).await;
    let api = Api::new(&s).await;
    history(&api).await;
    let store = &s.store;
    assert_eq!(
        store
            .qc_stats(QcBy::Product, &window(Period::Day))
            .await
            .unwrap(),
        vec![
            qc(Some("PHONE"), "2026-05-26", [2, 1, 2, 1]),
            qc(Some("PHONE"), "2026-05-27", [1, 1, 1, 0]),
            qc(Some("PHONE"), "2026-05-28", [0, 0, 1, 0]),
        ]
    );
    // Weeks start on Monday (25 May 2026).
    assert_eq!(
        store
            .qc_stats(QcBy::Line, &window(Period::Week))
            .await
            .unwrap(),
        vec![qc(Some("SZ-L1"), "2026-05-25", [3, 2, 4, 1])]
    );
    // P1 and P2 carry SUP1's boards; P3 has no supplier.
    assert_eq!(
        store
            .qc_stats(QcBy::Supplier, &window(Period::Month))
            .await
            .unwrap(),
        vec![
            qc(Some("SUP1"), "2026-05-01", [2, 1, 3, 1]),
            qc(None, "2026-05-01", [1, 1, 1, 0]),
        ]
    );
    assert_eq!(
        store
            .qc_stats(QcBy::Lot, &window(Period::Month))
            .await
            .unwrap(),
        vec![qc(None, "2026-05-01", [3, 2, 4, 1])]
    );
    // The window's bounds hold: nothing before 27 May local time.
    let late = Window {
        from: at("2026-05-27T00:00:00+08:00"),
        ..window(Period::Month)
    };
    assert_eq!(
        store.qc_stats(QcBy::Product, &late).await.unwrap(),
        vec![qc(Some("PHONE"), "2026-05-01", [1, 1, 2, 0])]
    );
    // Day boundaries follow the offset: in UTC the 10:00 (+08:00) inspections are still the
    // same days, the 26 May ones at 02:00 and 03:00 UTC.
    let utc = Window {
        zone: ZoneOffsets::fixed(0),
        ..window(Period::Day)
    };
    assert_eq!(
        store.qc_stats(QcBy::Product, &utc).await.unwrap()[0].period,
        "2026-05-26"
    );
});

store_test!(units_channel_and_service, |s: TestStore| async move {
    plant(&*s).await;
    let api = Api::new(&s).await;
    history(&api).await;
    let store = &s.store;
    let units = store.unit_counts(None).await.unwrap();
    // P1 and P2 with their boards B1 and B2 in stock, P3 on the road.
    assert_eq!(
        units.by_status,
        vec![count(Some("in_stock"), 4), count(Some("in_transit"), 1)]
    );
    assert_eq!(
        units.by_location,
        vec![count(Some("SZ-WH-A1"), 4), count(None, 1)]
    );
    let channel = store.channel(&window(Period::Month)).await.unwrap();
    assert_eq!(channel.holdings.len(), 1);
    let gd = &channel.holdings[0];
    assert_eq!(
        (
            gd.distributor.as_str(),
            gd.regions.clone(),
            gd.in_transit,
            gd.in_stock
        ),
        ("DIST-GD", vec!["CN-GD".to_owned()], 1, 0)
    );
    assert_eq!(channel.sales.len(), 1);
    assert_eq!(
        (
            channel.sales[0].seller.as_deref(),
            channel.sales[0].region.as_deref(),
            channel.sales[0].units
        ),
        (Some("DIST-GD"), Some("CN-GD-SZ"), 1)
    );
    let service = store
        .service_stats(&window(Period::Month), 5)
        .await
        .unwrap();
    assert_eq!(service.turnaround.len(), 1);
    let t = &service.turnaround[0];
    // Returned 30 May 12:00, repaired 1 June 12:00: two days.
    assert_eq!(
        (
            t.period.as_str(),
            t.completed,
            t.total_us,
            t.max_us,
            t.within_day,
            t.within_3_days,
            t.within_week
        ),
        (
            "2026-06-01",
            1,
            2 * 86_400_000_000,
            2 * 86_400_000_000,
            0,
            1,
            1
        )
    );
    assert_eq!(service.faults, vec![count(Some("F-BAT"), 1)]);
    assert_eq!(
        service.defects,
        vec![count(Some("E-SCRATCH"), 1), count(Some("E-VOLT-LOW"), 1)]
    );
    // Nothing in a window before it all.
    let empty = Window {
        from: at("2026-01-01T00:00:00Z"),
        to: at("2026-02-01T00:00:00Z"),
        ..window(Period::Month)
    };
    let service = store.service_stats(&empty, 5).await.unwrap();
    assert!(
        service.turnaround.is_empty() && service.faults.is_empty() && service.defects.is_empty()
    );
    assert!(store.channel(&empty).await.unwrap().sales.is_empty());
});

/// The page from the element with `id` on (1,500 characters).
fn near(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    html[at..].chars().take(1500).collect()
}

store_test!(
    the_dashboard_page_shows_the_figures,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        history(&api).await;
        let r = api
        .get("/dashboard?lang=en&by=supplier&period=month&from=2026-05-01&to=2026-06-01&tz=%2B08:00")
        .await;
        assert_eq!(r.status, 200);
        let html = r.body.as_str().unwrap();
        // 2 of 3 units passed their first inspection; 1 of 4 inspections failed.
        assert!(
            near(html, "kpi-fpy").contains("66.7%"),
            "{}",
            near(html, "kpi-fpy")
        );
        assert!(near(html, "kpi-defects").contains("25.0%"));
        assert!(near(html, "kpi-first").contains(">3<"));
        // By supplier: SUP1's row, then the units with none.
        let table = near(html, "qc-table");
        assert!(table.contains("Supplier"), "{table}");
        assert!(html.contains("<td>SUP1</td><td class=\"n\">2</td><td class=\"n\">50.0%</td><td class=\"n\">3</td><td class=\"n\">1</td><td class=\"n\">33.3%</td>"));
        assert!(html.contains("<td>(none)</td><td class=\"n\">1</td><td class=\"n\">100.0%</td>"));
        // Two lines in each quality chart, one dot per month that has inspections.
        let fpy_chart = &html[html.find("id=\"chart-fpy\"").unwrap()..];
        let fpy_chart = &fpy_chart[..fpy_chart.find("</svg>").unwrap()];
        assert_eq!(fpy_chart.matches("<g class=\"series\"").count(), 2);
        assert!(fpy_chart.contains("SUP1 · May 2026: 50%"), "{fpy_chart}");
        // Units, channel and service.
        assert!(near(html, "chart-status").contains("In stock"));
        assert!(html.contains("<td>DIST-GD</td><td>Guangdong Dist.</td><td>CN-GD</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">1</td>"));
        assert!(near(html, "chart-regions").contains("CN-GD-SZ"));
        assert!(near(html, "kpi-repairs").contains(">1<"));
        assert!(near(html, "kpi-turnaround").contains("2.0"));
        assert!(near(html, "chart-faults").contains("F-BAT"));
        assert!(near(html, "chart-defect-codes").contains("E-VOLT-LOW"));
        assert!(near(html, "window").contains("1 May 2026 – 1 Jun 2026 (+08:00)"));

        // In Chinese, the same numbers.
        let r = api
            .get("/dashboard?lang=zh&by=line&period=week&from=2026-05-01&to=2026-06-01")
            .await;
        let html = r.body.as_str().unwrap();
        assert!(near(html, "kpi-fpy").contains("66.7%"));
        assert!(near(html, "qc-table").contains("产线"));
        assert!(html.contains("<td>SZ-L1</td><td class=\"n\">3</td><td class=\"n\">66.7%</td>"));
        assert!(near(html, "window").contains("2026年5月1日 – 2026年6月1日"));
    }
);

store_test!(a_wrong_filter_is_named, |s: TestStore| async move {
    plant(&*s).await;
    let api = Api::new(&s).await;
    for (query, field) in [
        ("by=colour", "by"),
        ("period=year", "period"),
        ("from=2026-13-01", "from"),
        ("from=2026-06-02&to=2026-06-01", "from"),
        ("period=day&from=2020-01-01&to=2026-06-01", "from"),
        ("tz=Mars", "tz"),
    ] {
        let r = api.get(&format!("/dashboard?lang=en&{query}")).await;
        assert_eq!(r.status, 400, "{query}");
        let html = r.body.as_str().unwrap();
        assert!(
            near(html, "filter-error").contains(&format!("Invalid filter: <code>{field}</code>")),
            "{query}: {}",
            near(html, "filter-error")
        );
    }
    // An empty store shows empty figures.
    let r = api.get("/dashboard?lang=en").await;
    assert_eq!(r.status, 200);
    let html = r.body.as_str().unwrap();
    assert!(near(html, "kpi-fpy").contains("—"));
    assert!(near(html, "quality").contains("No data for this period"));
});

store_test!(
    a_sale_outside_the_authorised_regions_is_flagged,
    |s: TestStore| async move {
        plant(&*s).await;
        let state = threadline_server::AppState {
            webhooks: threadline_server::webhook::WebhookSettings {
                allow_private: true,
                ..Default::default()
            },
            ..threadline_server::AppState::new(s.store.clone())
        };
        let api = Api::with_state(
            &s,
            state,
            "channel-admin",
            &[threadline_domain::access::Role::Admin],
        )
        .await;
        history(&api).await;
        let r = api
            .post(
                "/api/v1/webhooks",
                serde_json::json!({"name": "sales-ops", "url": "http://127.0.0.1:9/hook", "filter": {"topics": ["diversion"]}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        // P1 was sold by DIST-GD in CN-GD-SZ, inside its authorised CN-GD: no alert.
        let r = api.get("/api/v1/channel/diversions?from=2026-05-01T00:00:00%2B08:00&to=2026-06-02T00:00:00%2B08:00").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["diversions"], serde_json::json!([]));

        // P3 reaches DIST-GD and is sold in Shanghai: recorded, and flagged.
        let r = api
            .post(
                "/api/v1/ops/distributor-receipt",
                serde_json::json!({"time": "2026-05-31T09:00:00+08:00", "distributor": "DIST-GD", "location": "EXT-GD",
                    "items": [{"product": "PHONE", "serial": "P3"}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = api
            .post(
                "/api/v1/ops/sell",
                serde_json::json!({"time": "2026-05-31T15:00:00+08:00", "customer": "CUST1", "region": "CN-SH",
                    "items": [{"product": "PHONE", "serial": "P3"}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let event = r.body["events"][0]["id"].as_str().unwrap().to_owned();
        let e = api.get(&format!("/api/v1/events/{event}")).await;
        assert_eq!(
            e.body["fields"]["diversion"],
            serde_json::json!({"seller": "DIST-GD", "region": "CN-SH", "authorised": ["CN-GD"]}),
            "{:?}",
            e.body
        );
        // The webhook topic fires for it (and only for it).
        let d = api.get("/api/v1/webhooks/sales-ops/deliveries").await;
        let d = d.body["deliveries"].as_array().unwrap().clone();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0]["event"], event.as_str());
        assert!(
            d[0]["topics"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("diversion"))
        );
        // The list and the dashboard show it; a window before it shows nothing.
        let r = api.get("/api/v1/channel/diversions?from=2026-05-01T00:00:00%2B08:00&to=2026-06-02T00:00:00%2B08:00").await;
        assert_eq!(
            r.body["diversions"],
            serde_json::json!([{"seller": "DIST-GD", "region": "CN-SH", "units": 1, "authorised": ["CN-GD"]}]),
            "{:?}",
            r.body
        );
        let r = api
            .get("/api/v1/channel/diversions?from=2026-04-01T00:00:00Z&to=2026-05-01T00:00:00Z")
            .await;
        assert_eq!(r.body["diversions"], serde_json::json!([]));
        let r = api
            .get("/api/v1/channel/diversions?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z")
            .await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (axum::http::StatusCode::BAD_REQUEST, Some("from")),
            "{:?}",
            r.body
        );
        let r = api.get("/api/v1/channel/diversions?since=2026-05-02").await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        let page = api
            .get("/dashboard?lang=zh&from=2026-05-01&to=2026-06-01&tz=%2B08:00")
            .await;
        let html = page.body.as_str().unwrap();
        let table = near(html, "diversions-table");
        assert!(
            table.contains("CN-SH") && table.contains("DIST-GD"),
            "{table}"
        );
        assert!(html.contains("窜货预警"));
    }
);

/// The plant in Berlin: four phones inspected close to midnight around the two summer-time
/// switches — the 25-hour 26 October 2025 and the 23-hour 29 March 2026 (Europe/Berlin).
async fn berlin_inspections(api: &Api) {
    let mut process = api.get("/api/v1/process").await.body;
    process["time_zone"] = "Europe/Berlin".into();
    let r = api.put("/api/v1/process", "\"0\"", process).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api
        .post(
            "/api/v1/ops/commission",
            serde_json::json!({"time": "2025-10-01T09:00:00Z", "product": "PHONE",
                "serials": ["D1", "D2", "D3", "D4"], "work_order": "WO-DST", "line": "SZ-L1",
                "attributes": {"color": "black"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    for (serial, time) in [
        // 00:30 summer time on the 25-hour day (a fixed winter offset would say the 25th)…
        ("D1", "2025-10-25T22:30:00Z"),
        // …and 23:30 winter time on the same day (a fixed summer offset would say the 27th).
        ("D2", "2025-10-26T22:30:00Z"),
        // 23:30 winter time the evening before summer time begins (summer: the 29th)…
        ("D3", "2026-03-28T22:30:00Z"),
        // …and 00:30 summer time the day after it began (winter: the 29th).
        ("D4", "2026-03-29T22:30:00Z"),
    ] {
        let r = api
            .post(
                "/api/v1/ops/inspect",
                serde_json::json!({"time": time, "items": [{"product": "PHONE", "serial": serial}],
                    "result": "pass", "inspector": "Zhao"}),
            )
            .await;
        assert_eq!(r.status, 201, "{serial}: {:?}", r.body);
    }
}

store_test!(
    days_are_cut_at_local_midnight_across_summer_time,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        berlin_inspections(&api).await;
        let berlin = chrono_tz::Europe::Berlin;
        // Local midnight of 25 October 2025 (summer time) to that of 31 March 2026 (summer).
        let (from, to) = (at("2025-10-24T22:00:00Z"), at("2026-03-30T22:00:00Z"));
        let zone = ZoneOffsets::of_zone(berlin, from, to);
        assert_eq!(
            zone,
            ZoneOffsets {
                initial: 7200,
                changes: vec![
                    (at("2025-10-26T01:00:00Z"), 3600),
                    (at("2026-03-29T01:00:00Z"), 7200)
                ],
            }
        );
        let w = |period| Window {
            from,
            to,
            period,
            zone: zone.clone(),
            places: None,
        };
        let store = &s.store;
        assert_eq!(
            store
                .qc_stats(QcBy::Product, &w(Period::Day))
                .await
                .unwrap(),
            vec![
                qc(Some("PHONE"), "2025-10-26", [2, 2, 2, 0]),
                qc(Some("PHONE"), "2026-03-28", [1, 1, 1, 0]),
                qc(Some("PHONE"), "2026-03-30", [1, 1, 1, 0]),
            ]
        );
        // Sunday 26 October is in the week of Monday the 20th; Saturday 28 March in that of
        // the 23rd, Monday 30 March starts its own.
        assert_eq!(
            store.qc_stats(QcBy::Line, &w(Period::Week)).await.unwrap(),
            vec![
                qc(Some("SZ-L1"), "2025-10-20", [2, 2, 2, 0]),
                qc(Some("SZ-L1"), "2026-03-23", [1, 1, 1, 0]),
                qc(Some("SZ-L1"), "2026-03-30", [1, 1, 1, 0]),
            ]
        );
        // Neither fixed offset of the zone cuts all four right.
        for fixed in [3600, 7200] {
            let days: Vec<String> = store
                .qc_stats(
                    QcBy::Product,
                    &Window {
                        zone: ZoneOffsets::fixed(fixed),
                        ..w(Period::Day)
                    },
                )
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.period)
                .collect();
            assert_ne!(days, ["2025-10-26", "2026-03-28", "2026-03-30"], "{fixed}");
        }

        // The page cuts days in the plant's zone: one point per local day with inspections.
        let r = api
            .get("/dashboard?lang=en&by=product&period=day&from=2025-10-25&to=2026-03-30")
            .await;
        assert_eq!(r.status, 200);
        let html = r.body.as_str().unwrap();
        assert!(near(html, "window").contains("(Europe/Berlin)"));
        let chart = &html[html.find("id=\"chart-fpy\"").unwrap()..];
        let chart = &chart[..chart.find("</svg>").unwrap()];
        for day in ["26 Oct", "28 Mar", "30 Mar"] {
            assert!(
                chart.contains(&format!("PHONE · {day}: 100%")),
                "{day}: {chart}"
            );
        }
        for day in ["25 Oct", "27 Oct", "29 Mar"] {
            assert!(
                !chart.contains(&format!("PHONE · {day}:")),
                "{day}: {chart}"
            );
        }
        assert!(near(html, "kpi-first").contains(">4<"));
        // A window that starts on the 25-hour day begins at its midnight, in summer time:
        // D1 (00:30) is in it, nothing from the evening before.
        let r = api
            .get("/dashboard?lang=en&by=product&period=day&from=2025-10-26&to=2025-10-26")
            .await;
        let html = r.body.as_str().unwrap();
        assert!(
            near(html, "kpi-first").contains(">2<"),
            "{}",
            near(html, "kpi-first")
        );
    }
);
