//! Partner reports that differed from Threadline, on both engines: `GET /api/v1/discrepancies`
//! (filters, paging newest first, bad parameters named, an account of one site reading its
//! site's, a partner's account refused) and the dashboard's "partner reports" in Chinese and
//! English, where a partner's event past a hold is shown with its unit linked to the passport.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Api;
use serde_json::{Value, json};
use threadline_server::i18n::{Lang, discrepancy_sentence};
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

fn unit(serial: &str) -> Value {
    json!({"product": "PHONE", "serial": serial})
}

/// PHONE's GTIN is 09521234543213.
fn dl(serial: &str) -> String {
    format!("https://id.gs1.org/01/09521234543213/21/{serial}")
}

async fn recorded(api: &Api, ev: Value) {
    let r = api.post("/api/v1/events", ev).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

/// A token of `body` (roles, site or party), as a client of the admin's router.
async fn token(admin: &Api, body: Value) -> Api {
    let r = admin.post("/api/v1/tokens", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    Api {
        router: admin.router.clone(),
        auth: format!("Bearer {}", r.body["secret"].as_str().unwrap()),
    }
}

/// Threadline's own events at two sites: P1–P4 in stock at SZ (P2 on QC hold, P3 on an admin
/// hold), P5 in production at SZ, P9 made at DG and on an admin hold there; moving stock
/// requires an `operator`. Then one partner's document: P2 and P3 shipped past their holds in
/// one event, P9 in another, P4 stored without an operator, P5 received out of sequence — in
/// that order.
async fn setup(s: &TestStore) -> Api {
    plant(&**s).await;
    let admin = Api::new(s).await;
    for l in [
        json!({"code": "DG", "name": "Dongguan plant", "kind": "site"}),
        json!({"code": "DG-L1", "name": "DG line 1", "kind": "line", "parent": "DG"}),
    ] {
        let r = admin.post("/api/v1/locations", l).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let sz: Vec<Value> = (1..=5).map(|i| unit(&format!("P{i}"))).collect();
    recorded(
        &admin,
        json!({"type": "object", "action": "ADD", "event_time": at(100),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1",
        "items": sz, "ilmd": {"color": "black"}}),
    )
    .await;
    recorded(
        &admin,
        json!({"type": "object", "action": "ADD", "event_time": at(100),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "DG-L1",
        "items": [unit("P9")], "ilmd": {"color": "black"}}),
    )
    .await;
    let stocked: Vec<Value> = (1..=4).map(|i| unit(&format!("P{i}"))).collect();
    recorded(
        &admin,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(90),
        "biz_step": "storing", "disposition": "sellable_not_accessible",
        "biz_location": "SZ-WH-A1", "items": stocked}),
    )
    .await;
    recorded(
        &admin,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(90),
        "biz_step": "storing", "disposition": "sellable_not_accessible",
        "biz_location": "DG-L1", "items": [unit("P9")]}),
    )
    .await;
    recorded(
        &admin,
        json!({"type": "object", "action": "OBSERVE", "event_time": at(80),
        "biz_step": "inspecting", "disposition": "non_conformant", "items": [unit("P2")],
        "hold": {"place": "qc"}}),
    )
    .await;
    for serial in ["P3", "P9"] {
        recorded(
            &admin,
            json!({"type": "object", "action": "OBSERVE", "event_time": at(80),
            "biz_step": "inspecting", "items": [unit(serial)], "hold": {"place": "admin"}}),
        )
        .await;
    }
    let mut process = admin.get("/api/v1/process").await.body;
    process.as_object_mut().unwrap().remove("version");
    process["required_fields"] = json!([{"operation": "store", "fields": ["operator"]}]);
    let r = admin.put("/api/v1/process", "\"0\"", process).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let ship = |serials: &[&str], from: &str| {
        json!({"type": "ObjectEvent", "eventTime": at(10), "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "epcList": serials.iter().map(|s| dl(s)).collect::<Vec<_>>(),
            "bizLocation": {"id": format!("urn:threadline:loc:{from}")},
            "destinationList": [{"type": "owning_party", "destination": "urn:threadline:party:DIST-GD"}]})
    };
    let events = vec![
        ship(&["P2", "P3"], "SZ-WH-A1"),
        ship(&["P9"], "DG-L1"),
        json!({"type": "ObjectEvent", "eventTime": at(9), "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE", "bizStep": "storing", "disposition": "sellable_not_accessible",
            "epcList": [dl("P4")], "bizLocation": {"id": "urn:threadline:loc:SZ-WH-A2"}}),
        json!({"type": "ObjectEvent", "eventTime": at(8), "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE", "bizStep": "receiving", "disposition": "sellable_not_accessible",
            "epcList": [dl("P5")], "bizLocation": {"id": "urn:threadline:loc:SZ-WH-A1"}}),
    ];
    let doc = json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-06-01T11:55:00Z", "epcisBody": {"eventList": events}});
    let r = admin
        .send(
            Request::post("/epcis/capture")
                .header("content-type", "application/ld+json")
                .body(Body::from(doc.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job = admin
        .get(r.headers["location"].to_str().unwrap())
        .await
        .body;
    assert_eq!(job["success"], true, "{job}");
    admin
}

/// `(code, field, kind, serial of the unit)` of each discrepancy answered.
fn rows(body: &Value) -> Vec<(String, String, String, String)> {
    body["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["field"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                d["unit"]["serial"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn row(code: &str, field: &str, kind: &str, serial: &str) -> (String, String, String, String) {
    (code.into(), field.into(), kind.into(), serial.into())
}

store_test!(
    the_api_lists_partner_reports_newest_first_filtered_and_paged,
    |s: TestStore| async move {
        let admin = setup(&s).await;
        let r = admin.get("/api/v1/discrepancies").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(
            rows(&r.body),
            [
                row("out_of_sequence", "epcList[0]", "process", "P5"),
                // The required field in the EPCIS event's terms: Threadline's user extension.
                row("missing_field", "tlf:operator", "process", "P4"),
                row("on_hold", "epcList[0]", "process", "P9"),
                // Within an event, from its last discrepancy back.
                row("on_hold", "epcList[1]", "process", "P3"),
                row("qc_hold", "epcList[0]", "process", "P2"),
            ],
            "{:?}",
            r.body
        );
        assert!(r.body.get("next").is_none(), "{:?}", r.body);
        let first = &r.body["discrepancies"][0];
        assert_eq!(first["unit"], unit("P5"));
        assert!(
            first["event_id"].is_string() && first["seq"].is_i64(),
            "{first}"
        );
        assert_eq!(first["recorded_at"], "2026-06-01T12:00:00Z");

        // Past a hold: by code (and kind).
        let held = admin
            .get("/api/v1/discrepancies?kind=process&code=on_hold,qc_hold")
            .await;
        assert_eq!(held.status, StatusCode::OK, "{:?}", held.body);
        let serials: Vec<String> = rows(&held.body).into_iter().map(|r| r.3).collect();
        assert_eq!(serials, ["P9", "P3", "P2"]);
        let state = admin.get("/api/v1/discrepancies?kind=state").await;
        assert_eq!(rows(&state.body), []);

        // Paged: two at a time, newest first, `next` passed back as `after` — the second page
        // starts inside the event of P2 and P3.
        let mut seen = Vec::new();
        let mut uri = "/api/v1/discrepancies?code=on_hold,qc_hold&limit=2".to_owned();
        let mut pages = 0;
        loop {
            let r = admin.get(&uri).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            pages += 1;
            seen.extend(rows(&r.body).into_iter().map(|r| r.3));
            match r.body["next"].as_str() {
                Some(next) => {
                    uri = format!("/api/v1/discrepancies?code=on_hold,qc_hold&limit=2&after={next}")
                }
                None => break,
            }
        }
        assert_eq!(
            (pages, seen),
            (2, vec!["P9".into(), "P3".into(), "P2".into()])
        );

        // Since: reports recorded at or after a time.
        let none = admin
            .get("/api/v1/discrepancies?since=2026-06-01T12:00:00.000001Z")
            .await;
        assert_eq!(rows(&none.body), []);
        let all = admin
            .get("/api/v1/discrepancies?since=2026-06-01T20:00:00%2B08:00")
            .await;
        assert_eq!(rows(&all.body).len(), 5, "{:?}", all.body);

        // The store's count agrees.
        let q = threadline_store::DiscrepancyQuery {
            codes: vec!["on_hold".into(), "qc_hold".into()],
            ..Default::default()
        };
        assert_eq!(s.store.discrepancy_count(&q).await.unwrap(), 3);
    }
);

store_test!(
    bad_parameters_are_refused_naming_the_field,
    |s: TestStore| async move {
        let admin = setup(&s).await;
        for (query, code, field) in [
            ("kind=partner", "invalid_value", "kind"),
            ("code=on_hold,not_a_code", "invalid_value", "code"),
            ("code=invalid_value", "invalid_value", "code"),
            ("since=yesterday", "invalid_value", "since"),
            ("after=page-2", "invalid_value", "after"),
            ("after=12", "invalid_value", "after"),
            ("limit=0", "invalid_limit", "limit"),
            ("limit=1001", "invalid_limit", "limit"),
            ("limit=ten", "invalid_limit", "limit"),
        ] {
            let r = admin.get(&format!("/api/v1/discrepancies?{query}")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {:?}", r.body);
            assert_eq!(
                r.codes(),
                [(code.to_owned(), field.to_owned())],
                "{query}: {:?}",
                r.body
            );
        }
        // An unknown parameter is named in the message.
        let r = admin.get("/api/v1/discrepancies?status=open").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(r.body.to_string().contains("status"), "{:?}", r.body);
    }
);

store_test!(
    an_account_of_one_site_reads_its_site_s_reports_and_a_partner_none,
    |s: TestStore| async move {
        let admin = setup(&s).await;
        let dg = token(
            &admin,
            json!({"name": "dg-qa", "roles": ["auditor"], "site": "DG"}),
        )
        .await;
        let sz = token(
            &admin,
            json!({"name": "sz-qa", "roles": ["auditor"], "site": "SZ"}),
        )
        .await;
        let r = dg.get("/api/v1/discrepancies?code=on_hold,qc_hold").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let serials: Vec<String> = rows(&r.body).into_iter().map(|r| r.3).collect();
        assert_eq!(serials, ["P9"]);
        // Paged within its site: one at a time, every page its own.
        let r = sz.get("/api/v1/discrepancies?limit=1").await;
        assert_eq!(
            rows(&r.body),
            [row("out_of_sequence", "epcList[0]", "process", "P5")]
        );
        let mut serials = vec!["P5".to_owned()];
        let mut next = r.body["next"].as_str().map(str::to_owned);
        while let Some(after) = next {
            let r = sz
                .get(&format!("/api/v1/discrepancies?limit=1&after={after}"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            serials.extend(rows(&r.body).into_iter().map(|r| r.3));
            next = r.body["next"].as_str().map(str::to_owned);
        }
        assert_eq!(serials, ["P5", "P4", "P3", "P2"]);

        // The dashboards likewise: DG's shows P9 past its hold, SZ's P3 and P2, not P9.
        let html = dg.get("/dashboard?lang=en").await.body;
        let html = html.as_str().unwrap();
        assert!(html.contains("serial=P9&amp;"), "{html}");
        assert!(!html.contains("serial=P3&amp;"), "{html}");
        let html = sz.get("/dashboard?lang=en").await.body;
        let html = html.as_str().unwrap();
        assert!(html.contains("serial=P3&amp;") && html.contains("serial=P2&amp;"));
        assert!(!html.contains("serial=P9&amp;"), "{html}");

        // A partner's account: the route does not exist for it, and its dashboard has no
        // partner reports.
        let partner = token(
            &admin,
            json!({"name": "gd", "roles": ["distributor"], "party": "DIST-GD"}),
        )
        .await;
        let r = partner.get("/api/v1/discrepancies").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        let r = partner.get("/dashboard?lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        let html = r.body.as_str().unwrap();
        assert!(!html.contains("partner-reports"), "{html}");
        assert!(!html.contains("past-hold"), "{html}");
    }
);

store_test!(
    the_dashboard_shows_a_partner_s_report_past_a_hold_in_both_languages,
    |s: TestStore| async move {
        let admin = setup(&s).await;
        for (lang, l) in [(Lang::Zh, "zh"), (Lang::En, "en")] {
            let r = admin.get(&format!("/dashboard?lang={l}")).await;
            assert_eq!(r.status, StatusCode::OK);
            let html = r.body.as_str().unwrap();
            let section = &html[html.find("id=\"partner-reports\"").unwrap()..];
            let section = &section[..section.find("</section>").unwrap()];
            let held = &section[section.find("id=\"past-hold-table\"").unwrap()..];
            let held = &held[..held.find("</table>").unwrap()];
            // Each report past a hold: its unit linked to its passport, its event time, and
            // what differs in the reader's language.
            for serial in ["P9", "P3"] {
                assert!(
                    held.contains(&format!(
                        "<a href=\"/unit?product=PHONE&amp;serial={serial}&amp;lang={l}\">"
                    )),
                    "{l}: {held}"
                );
            }
            assert!(held.contains("serial=P2&amp;"), "{held}");
            assert!(!held.contains("serial=P4&amp;"), "{held}");
            for code in ["on_hold", "qc_hold"] {
                let sentence = discrepancy_sentence(lang, code).unwrap();
                assert!(
                    held.contains(&threadline_server::ui::esc(sentence)),
                    "{l} {code}: {held}"
                );
            }
            let when = threadline_server::i18n::datetime(
                lang,
                chrono_tz::Asia::Shanghai,
                &(threadline_testkit::fixtures::now() - chrono::Duration::minutes(10)),
            );
            assert!(
                held.contains(&threadline_server::ui::esc(&when)),
                "{when}: {held}"
            );
            // The counts of the last 30 days: three past a hold, five in all.
            let kpi = |id: &str| {
                let k = &section[section.find(&format!("id=\"{id}\"")).unwrap()..];
                let n = &k[k.find("class=\"num\">").unwrap() + 12..];
                n[..n.find('<').unwrap()].to_owned()
            };
            assert_eq!(kpi("kpi-past-hold"), "3", "{section}");
            assert_eq!(kpi("kpi-discrepancies"), "5", "{section}");
            // The latest of any kind: the missing operator among them.
            let sentence = discrepancy_sentence(lang, "missing_field").unwrap();
            assert!(
                section.contains(&threadline_server::ui::esc(sentence)),
                "{l}: {section}"
            );
            assert!(section.contains("<code>tlf:operator</code>"), "{section}");
        }
        let zh = admin.get("/dashboard?lang=zh").await.body;
        assert!(zh.as_str().unwrap().contains("越过冻结的报告"));
        let en = admin.get("/dashboard?lang=en").await.body;
        assert!(en.as_str().unwrap().contains("Reports past a hold"));
    }
);

store_test!(
    with_no_report_the_dashboard_says_so,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        let html = admin.get("/dashboard?lang=en").await.body;
        let html = html.as_str().unwrap();
        assert!(html.contains("id=\"no-past-hold\""), "{html}");
        assert!(html.contains("id=\"no-partner-reports\""), "{html}");
        let r = admin.get("/api/v1/discrepancies").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, json!({"discrepancies": []}));
    }
);
