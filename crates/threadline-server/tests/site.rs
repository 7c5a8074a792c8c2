//! Site scoping, on both engines: an account bound to a site records events only at that site
//! or under it — through the operations, the event API and EPCIS capture — and a refusal names
//! each place outside it and writes nothing; it reads only the units that were there and the
//! events that happened there, anything else "not found" — and so the label jobs, EPCIS
//! capture jobs, locations, diversions and authenticity checks of its site.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Api, Session};
use serde_json::{Value, json};
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};
use tokio::io::AsyncReadExt;

async fn entries(api: &Api) -> i64 {
    api.get("/api/v1/ledger/verify").await.body["entries"]
        .as_i64()
        .unwrap()
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap_or_default().to_owned(),
                e["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A second site, DG, with a line.
async fn second_site(admin: &Api) {
    for l in [
        json!({"code": "DG", "name": "Dongguan plant", "kind": "site"}),
        json!({"code": "DG-L1", "name": "DG line 1", "kind": "line", "parent": "DG"}),
    ] {
        let r = admin.post("/api/v1/locations", l).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
}

/// A token of `roles` bound to `site`, as a client of the admin's router.
async fn site_token(admin: &Api, name: &str, roles: &[&str], site: &str) -> Api {
    let r = admin
        .post(
            "/api/v1/tokens",
            json!({"name": name, "roles": roles, "site": site}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    Api {
        router: admin.router.clone(),
        auth: format!("Bearer {}", r.body["secret"].as_str().unwrap()),
    }
}

store_test!(
    an_account_of_one_site_records_only_there,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        second_site(&admin).await;
        let sz = site_token(&admin, "sz-line", &["production", "warehouse"], "SZ").await;

        // At its own site (a line under SZ): recorded.
        let r = sz
            .post(
                "/api/v1/ops/commission",
                json!({"time": at(60), "product": "PHONE", "serials": ["P1"], "work_order": "WO-1", "line": "SZ-L1", "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let before = entries(&admin).await;

        // At another site: refused through the operation, naming its own field.
        let r = sz
            .post(
                "/api/v1/ops/commission",
                json!({"time": at(50), "product": "PHONE", "serials": ["P2"], "work_order": "WO-2", "line": "DG-L1", "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(
            field_codes(&r.body),
            [("outside_site".to_owned(), "line".to_owned())]
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("site SZ"),
            "{:?}",
            r.body
        );
        // A batch of events names each event outside; none is written.
        let r = sz
            .post(
                "/api/v1/events",
                json!([
                    {"type": "object", "action": "OBSERVE", "event_time": at(40), "biz_step": "storing",
                     "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": "P1"}]},
                    {"type": "object", "action": "OBSERVE", "event_time": at(40), "biz_step": "storing",
                     "biz_location": "DG-L1", "read_point": "DG", "items": [{"product": "PHONE", "serial": "P1"}]}
                ]),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(
            field_codes(&r.body),
            [
                (
                    "outside_site".to_owned(),
                    "events[1].biz_location".to_owned()
                ),
                ("outside_site".to_owned(), "events[1].read_point".to_owned())
            ]
        );
        // EPCIS capture of one event at the other site: a SecurityException naming bizLocation.
        let ev = json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
            "epcList": ["https://id.gs1.org/01/09521234543213/21/P1"], "action": "OBSERVE", "bizStep": "storing",
            "bizLocation": {"id": "urn:threadline:loc:DG-L1"}});
        let r = sz
            .send(
                Request::post("/epcis/events")
                    .header("content-type", "application/ld+json")
                    .body(Body::from(ev.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert!(
            r.body.to_string().contains("bizLocation.id"),
            "{:?}",
            r.body
        );
        assert_eq!(entries(&admin).await, before);

        // An account without a site records anywhere.
        let r = admin
            .post(
                "/api/v1/ops/commission",
                json!({"time": at(30), "product": "PHONE", "serials": ["P2"], "work_order": "WO-2", "line": "DG-L1", "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
);

store_test!(
    an_account_of_one_site_reads_only_what_was_there,
    |s: TestStore| async move {
        plant(&*s).await;
        let admin = Api::new(&s).await;
        second_site(&admin).await;
        let dg = site_token(&admin, "dg-audit", &["auditor"], "DG").await;
        // P1 and P2 made at SZ in one event, P3 at DG; then P2 goes to DG.
        for (serials, line) in [(json!(["P1", "P2"]), "SZ-L1"), (json!(["P3"]), "DG-L1")] {
            let r = admin
                .post(
                    "/api/v1/ops/commission",
                    json!({"time": at(60), "product": "PHONE", "serials": serials, "work_order": "WO-1",
                           "line": line, "attributes": {"color": "black"}}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let r = admin
            .post(
                "/api/v1/events",
                json!({"type": "object", "action": "OBSERVE", "event_time": at(30), "biz_step": "inspecting",
                       "biz_location": "DG-L1", "items": [{"product": "PHONE", "serial": "P2"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let sz_made = admin.get("/api/v1/events?product=PHONE&serial=P1").await;
        let sz_event = sz_made.body["items"][0]["id"].as_str().unwrap().to_owned();

        // A unit never at DG answers like one that does not exist: item, passport, its events.
        let missing = dg.get("/api/v1/items/PHONE/NOPE").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        for uri in [
            "/api/v1/items/PHONE/P1",
            "/api/v1/items/PHONE/P1/passport",
            "/api/v1/events?product=PHONE&serial=P1",
            "/api/v1/passport?code=P1",
        ] {
            let r = dg.get(uri).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {:?}", r.body);
            assert_eq!(r.body["error"]["code"], "not_found", "{uri}");
        }
        let r = dg.get(&format!("/api/v1/events/{sz_event}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        let page = dg.get("/unit?product=PHONE&serial=P1&lang=en").await;
        let text = page.body.as_str().unwrap();
        assert!(
            text.contains("id=\"not-found\"") && !text.contains("id=\"timeline\""),
            "{text}"
        );
        let page = dg.get("/unit?product=PHONE&serial=P3&lang=en").await;
        assert!(!page.body.as_str().unwrap().contains("id=\"not-found\""));
        // The same reads by an account bound to no site find it.
        assert_eq!(
            admin.get("/api/v1/items/PHONE/P1").await.status,
            StatusCode::OK
        );

        // Made there, or brought there: found, with its whole history of that unit alone.
        assert_eq!(
            dg.get("/api/v1/items/PHONE/P3").await.status,
            StatusCode::OK
        );
        let r = dg.get("/api/v1/items/PHONE/P2/passport").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let timeline = r.body["timeline"].as_array().unwrap();
        assert_eq!(timeline.len(), 2, "{timeline:?}");
        let named = serde_json::to_string(timeline).unwrap();
        assert!(
            named.contains("\"P2\"") && !named.contains("\"P1\""),
            "the SZ commissioning names P2 alone: {named}"
        );
        let r = dg.get("/api/v1/events?product=PHONE&serial=P2").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

        // The event list without a unit: what happened at DG only.
        let r = dg.get("/api/v1/events?limit=100").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let places: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["biz_location"].as_str().unwrap())
            .collect();
        assert_eq!(places, ["DG-L1", "DG-L1"], "{:?}", r.body);
        let all = admin.get("/api/v1/events?limit=100").await;
        assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
    }
);

/// The same story at two sites, SZ and DG: resin lot `R-{site}` received on the site's line
/// from SUP1, board `B-{site}` and phone `P-{site}` made there (work order `WO-{site}`), the
/// board and a kilogram of resin built into the phone, the phone inspected. Returns the admin
/// client (no site) and a signed-in user of the role `quality` at each site.
async fn two_sites(s: &TestStore) -> (Api, Session, Session) {
    plant(&**s).await;
    let admin = Api::new(s).await;
    second_site(&admin).await;
    for site in ["SZ", "DG"] {
        let line = format!("{site}-L1");
        let wo = format!("WO-{site}");
        let phone = json!({"product": "PHONE", "serial": format!("P-{site}")});
        let board = json!({"product": "BOARD", "serial": format!("B-{site}")});
        for (op, body) in [
            (
                "receive",
                json!({"time": at(100), "supplier": "SUP1", "purchase_order": format!("PO-{site}"),
                "location": line, "lines": [{"product": "RESIN", "lots": [{"lot": format!("R-{site}"), "quantity": "10"}]}]}),
            ),
            (
                "commission",
                json!({"time": at(90), "product": "BOARD", "serials": [format!("B-{site}")],
                "work_order": wo, "line": line}),
            ),
            (
                "commission",
                json!({"time": at(90), "product": "PHONE", "serials": [format!("P-{site}")],
                "work_order": wo, "line": line, "attributes": {"color": "black"}}),
            ),
            (
                "assemble",
                json!({"time": at(80), "parent": phone, "components": [board],
                "component_lots": [{"product": "RESIN", "lot": format!("R-{site}"), "quantity": "1"}],
                "location": line, "work_order": wo}),
            ),
            (
                "inspect",
                json!({"time": at(70), "items": [phone], "result": "pass", "inspector": "Wu",
                "location": line}),
            ),
        ] {
            let r = admin.post(&format!("/api/v1/ops/{op}"), body).await;
            assert_eq!(
                r.status,
                StatusCode::CREATED,
                "{op} at {site}: {:?}",
                r.body
            );
        }
    }
    let mut users = Vec::new();
    for site in ["SZ", "DG"] {
        let name = format!("qa-{}", site.to_lowercase());
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": name, "password": "correct horse battery", "roles": ["quality"], "site": site}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        users.push(Session::sign_in(&admin.router, &name, "correct horse battery").await);
    }
    let dg = users.pop().unwrap();
    let sz = users.pop().unwrap();
    (admin, sz, dg)
}

/// The serials and lot codes of one site's story.
fn story(site: &str) -> [String; 3] {
    ["P", "B", "R"].map(|k| format!("{k}-{site}"))
}

/// `text` names every code of `mine` and none of `theirs`.
#[track_caller]
fn only(what: &str, text: &str, mine: &[String], theirs: &[String]) {
    for m in mine {
        assert!(text.contains(m.as_str()), "{what}: {m} missing in {text}");
    }
    for t in theirs {
        assert!(!text.contains(t.as_str()), "{what}: {t} shown in {text}");
    }
}

store_test!(
    two_sites_each_read_only_their_own_units,
    |s: TestStore| async move {
        let (admin, sz, dg) = two_sites(&s).await;
        for (user, site, other) in [(&sz, "SZ", "DG"), (&dg, "DG", "SZ")] {
            let (mine, theirs) = (story(site), story(other));
            let [phone, board, resin] = mine.clone();
            let [their_phone, _, their_resin] = theirs.clone();

            // Scan: its own unit resolves; the other site's is not registered, as is a plain
            // serial nobody has; the scan station says the same.
            let r = user.get(&format!("/api/v1/scan?code={phone}")).await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            assert_eq!(r.body["resolved"]["item"]["serial"], phone.as_str());
            for code in [their_phone.as_str(), "(01)09521234543213(21)P-XX"] {
                let r = user.get(&format!("/api/v1/scan?code={code}")).await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{site} {code}: {:?}",
                    r.body
                );
            }
            let r = user
                .get(&format!(
                    "/api/v1/scan?code=(01)09521234543213(21){their_phone}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{site}: {:?}", r.body);
            let r = user
                .get(&format!(
                    "/api/v1/scan/check?operation=inspect&code={their_phone}"
                ))
                .await;
            assert_eq!(r.body["reason"], "not_registered", "{site}: {:?}", r.body);

            // Traces: backward from its phone; the other's is not found; forward from the
            // supplier reaches only its own lot and phone, in JSON and in the export.
            let r = user
                .get(&format!(
                    "/api/v1/trace/backward?product=PHONE&serial={phone}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            only(
                "backward",
                &r.body["nodes"].to_string(),
                &[board.clone(), resin.clone()],
                &theirs,
            );
            let r = user
                .get(&format!(
                    "/api/v1/trace/backward?product=PHONE&serial={their_phone}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{site}: {:?}", r.body);
            let r = user
                .get(&format!(
                    "/api/v1/trace/forward?product=RESIN&lot={their_resin}"
                ))
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{site}: {:?}", r.body);
            let r = user
                .get(&format!("/api/v1/trace/forward?line={other}-L1"))
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{site}: {:?}", r.body);
            let r = user.get("/api/v1/trace/forward?supplier=SUP1").await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            only(
                "forward",
                &r.body["nodes"].to_string(),
                &[phone.clone(), resin.clone()],
                &theirs,
            );
            let r = user
                .get("/api/v1/trace/forward?supplier=SUP1&format=csv")
                .await;
            assert_eq!(r.status, StatusCode::OK);
            only(
                "forward csv",
                r.body.as_str().unwrap(),
                &[phone.clone(), resin.clone()],
                &theirs,
            );

            // Unit and lot lists and their exports: what is at its site.
            for uri in ["/api/v1/items", "/api/v1/items?format=csv"] {
                let r = user.get(uri).await;
                assert_eq!(r.status, StatusCode::OK, "{uri}");
                only(
                    uri,
                    &r.body.to_string(),
                    &[phone.clone(), board.clone()],
                    &theirs,
                );
            }
            for uri in ["/api/v1/lots", "/api/v1/lots?format=csv"] {
                let r = user.get(uri).await;
                assert_eq!(r.status, StatusCode::OK, "{uri}");
                only(
                    uri,
                    &r.body.to_string(),
                    std::slice::from_ref(&resin),
                    &theirs,
                );
            }
            let r = user
                .get("/api/v1/ops/pick?product=RESIN&quantity=100")
                .await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            only(
                "pick",
                &r.body.to_string(),
                std::slice::from_ref(&resin),
                &theirs,
            );
            let r = user.get(&format!("/api/v1/lots/RESIN/{their_resin}")).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{site}: {:?}", r.body);
            let r = user.get(&format!("/api/v1/lots/RESIN/{resin}")).await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);

            // EPCIS: the events and places of its site only.
            let r = user.get("/epcis/events?perPage=100").await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            let events = r.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(events.len(), 5, "{site}: {events:?}");
            only(
                "epcis events",
                &r.body.to_string(),
                &[phone.clone(), board.clone()],
                &theirs,
            );
            let r = user.get("/epcis/bizLocations").await;
            only(
                "bizLocations",
                &r.body.to_string(),
                &[format!("{site}-L1")],
                &[format!("{other}-L1")],
            );
            let r = user
                .get(&format!(
                    "/epcis/bizLocations/urn:threadline:loc:{other}-L1/events"
                ))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            assert_eq!(
                r.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"],
                json!([]),
                "{site}"
            );
            let their_event = admin
                .get(&format!(
                    "/api/v1/events?product=PHONE&serial={their_phone}"
                ))
                .await
                .body["items"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let r = user.get(&format!("/epcis/events/{their_event}")).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{site}: {:?}", r.body);

            // A query subscription would deliver every site's events: refused.
            let q = format!("q-{site}");
            let r = user
                .post(
                    "/epcis/queries",
                    json!({"name": q, "query": {"EQ_bizStep": "commissioning"}}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{site}: {:?}", r.body);
            let r = user
                .post(
                    &format!("/epcis/queries/{q}/subscriptions"),
                    json!({"dest": "https://receiver.example/hook", "stream": true}),
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{site}: {:?}", r.body);
            let r = user.get(&format!("/epcis/queries/{q}/events")).await;
            assert_eq!(r.status, StatusCode::OK, "{site}: {:?}", r.body);
            only(
                "named query",
                &r.body.to_string(),
                std::slice::from_ref(&phone),
                &theirs,
            );

            // The dashboard counts its site: its line, not the other's, and no sales channel.
            let r = user.get("/dashboard?lang=en").await;
            assert_eq!(r.status, StatusCode::OK);
            let html = r.body.as_str().unwrap();
            assert!(html.contains(&format!("{site}-L1")), "{site}: {html}");
            assert!(!html.contains(&format!("{other}-L1")), "{site}: {html}");
            assert!(!html.contains("id=\"channel\""), "{site}");
            // Search: its own units, lots and orders; the other site's are not there.
            for q in [
                their_phone.clone(),
                their_resin.clone(),
                format!("WO-{other}"),
            ] {
                let html = user.get(&format!("/search?q={q}&lang=en")).await.body;
                let html = html.as_str().unwrap();
                assert!(html.contains("id=\"nothing\""), "{site} {q}: {html}");
            }
            for q in [phone.clone(), resin.clone(), format!("WO-{site}")] {
                let html = user.get(&format!("/search?q={q}&lang=en")).await.body;
                let html = html.as_str().unwrap();
                assert!(!html.contains("id=\"nothing\""), "{site} {q}: {html}");
                only("search", html, &[], &theirs);
            }

            // The home page shows its units, not the ledger's length.
            let html = user
                .get("/?lang=en")
                .await
                .body
                .as_str()
                .unwrap()
                .to_owned();
            assert!(html.contains("Units at your site: 2"), "{site}: {html}");
            assert!(!html.contains("entries"), "{site}: {html}");
        }

        // An account of no site sees both stories everywhere.
        let all = [story("SZ"), story("DG")].concat();
        let r = admin.get("/api/v1/trace/forward?supplier=SUP1").await;
        only(
            "admin forward",
            &r.body["nodes"].to_string(),
            &[all[0].clone(), all[3].clone()],
            &[],
        );
        let r = admin.get("/api/v1/items").await;
        only(
            "admin items",
            &r.body.to_string(),
            &[
                all[0].clone(),
                all[1].clone(),
                all[3].clone(),
                all[4].clone(),
            ],
            &[],
        );
        let r = admin.get("/api/v1/lots").await;
        only(
            "admin lots",
            &r.body.to_string(),
            &[all[2].clone(), all[5].clone()],
            &[],
        );
        let html = admin.get("/dashboard?lang=en").await.body;
        let html = html.as_str().unwrap();
        assert!(
            html.contains("SZ-L1") && html.contains("DG-L1") && html.contains("id=\"channel\"")
        );
        let r = admin.get("/epcis/events?perPage=100").await;
        assert_eq!(
            r.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                .as_array()
                .unwrap()
                .len(),
            10
        );
        assert!(
            admin
                .get("/?lang=en")
                .await
                .body
                .as_str()
                .unwrap()
                .contains("entries")
        );
    }
);

store_test!(
    a_site_recalls_and_reads_its_part_of_a_campaign,
    |s: TestStore| async move {
        let (admin, sz, dg) = two_sites(&s).await;
        let (mine, theirs) = (story("SZ"), story("DG"));

        // The preview and the campaign of a site cover what the scope reached there; nothing
        // at the other site is held.
        let page = sz.get("/recalls/new?supplier=SUP1&lang=en").await;
        assert_eq!(page.status, StatusCode::OK);
        let r = sz
            .post(
                "/api/v1/recalls",
                json!({"code": "RC-SZ", "reason": "resin", "severity": "major", "scope": {"supplier": "SUP1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(
            (r.body["units"].as_u64(), r.body["lots"].as_u64()),
            (Some(1), Some(1)),
            "{:?}",
            r.body
        );
        let held = |v: &Value| v["holds"].as_array().unwrap().iter().any(|h| h == "recall");
        assert!(held(&admin.item("PHONE", "P-SZ").await));
        assert!(!held(&admin.item("PHONE", "P-DG").await));
        // A scope that starts at the other site is not found to it.
        let r = sz
            .post(
                "/api/v1/recalls",
                json!({"code": "RC-X", "reason": "resin", "severity": "major",
                       "scope": {"product": "RESIN", "lot": "R-DG"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

        // A plant-wide campaign: each site reads its own part of it.
        let r = admin
            .post(
                "/api/v1/recalls",
                json!({"code": "RC-ALL", "reason": "resin", "severity": "major", "scope": {"supplier": "SUP1"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["units"], 2);
        for (user, mine, theirs) in [(&sz, &mine, &theirs), (&dg, &theirs, &mine)] {
            let [phone, _, resin] = mine.clone();
            let r = user.get("/api/v1/recalls/RC-ALL").await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert_eq!(
                (r.body["units"].as_u64(), r.body["lots"].as_u64()),
                (Some(1), Some(1))
            );
            for uri in [
                "/api/v1/recalls/RC-ALL/units",
                "/api/v1/recalls/RC-ALL/units?format=csv",
                "/api/v1/recalls/RC-ALL/contacts",
            ] {
                let r = user.get(uri).await;
                assert_eq!(r.status, StatusCode::OK, "{uri}: {:?}", r.body);
                let want: &[String] = if uri.contains("contacts") {
                    &[]
                } else {
                    &[phone.clone(), resin.clone()]
                };
                only(uri, &r.body.to_string(), want, theirs);
            }
            // Deciding for the whole campaign is not a site's to do.
            let r = user.post("/api/v1/recalls/RC-ALL/close", json!({})).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
            assert_eq!(r.body["errors"][0]["code"], "outside_site");
        }
        // The SZ campaign does not exist for DG; SZ lists both, DG only the plant's.
        let r = dg.get("/api/v1/recalls/RC-SZ").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = dg.post("/api/v1/recalls/RC-SZ/close", json!({})).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let codes = |v: &Value| -> Vec<String> {
            v["recalls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["code"].as_str().unwrap().to_owned())
                .collect()
        };
        let mut sz_list = codes(&sz.get("/api/v1/recalls").await.body);
        sz_list.sort();
        assert_eq!(sz_list, ["RC-ALL", "RC-SZ"]);
        assert_eq!(codes(&dg.get("/api/v1/recalls").await.body), ["RC-ALL"]);
        // Its own campaign it may close.
        let r = sz
            .post("/api/v1/recalls/RC-SZ/close", json!({"note": "done"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
);

/// The id of the first event naming a unit.
async fn first_event(admin: &Api, product: &str, serial: &str) -> String {
    admin
        .get(&format!("/api/v1/events?product={product}&serial={serial}"))
        .await
        .body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The last event naming a unit, as the admin reads it.
async fn last_event(admin: &Api, product: &str, serial: &str) -> Value {
    let r = admin
        .get(&format!(
            "/api/v1/events?product={product}&serial={serial}&limit=100"
        ))
        .await;
    r.body["items"].as_array().unwrap().last().unwrap().clone()
}

store_test!(
    a_site_prints_the_labels_of_its_own_units_only,
    |s: TestStore| async move {
        let (admin, _, _) = two_sites(&s).await;
        let r = admin
            .post("/api/v1/products", json!({"code": "TAG", "name": "Tag", "tracking": "serial",
                "serial_rule": {"code": "TAGR", "template": "TG-{SEQ:5}", "sequence_reset": "never"}}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = admin
            .post(
                "/api/v1/label-templates",
                json!({"name": "plain", "template": {"width_mm": 50, "height_mm": 30, "dpi": 203,
                    "fields": [{"type": "text", "x_mm": 2, "y_mm": 2, "size_mm": 3, "text": "{product}"}]}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let sz = site_token(&admin, "sz-prod", &["production"], "SZ").await;
        let dg = site_token(&admin, "dg-prod", &["production"], "DG").await;

        // SZ allocates a block: the allocation happened at SZ, so the block is SZ's.
        let r = sz
            .post("/api/v1/products/TAG/allocations", json!({"count": 3}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let block = r.body["receipt"]["id"].as_str().unwrap().to_owned();
        let pool = r.body["serials"][0].as_str().unwrap().to_owned();
        let e = admin.get(&format!("/api/v1/events/{block}")).await;
        assert_eq!(e.body["read_point"], "SZ", "{:?}", e.body);
        assert_eq!(
            sz.get(&format!("/api/v1/items/TAG/{pool}")).await.status,
            StatusCode::OK
        );
        assert_eq!(
            dg.get(&format!("/api/v1/items/TAG/{pool}")).await.status,
            StatusCode::NOT_FOUND
        );

        // DG cannot print, download or reprint anything of SZ's — its block, its commissioning,
        // its lot, its unit — and nothing is recorded; each is "not found".
        let made_at_sz = first_event(&admin, "PHONE", "P-SZ").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let printer = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut bytes = Vec::new();
                let _ = socket.read_to_end(&mut bytes).await;
                assert!(bytes.is_empty(), "a refused job sent labels");
            }
        });
        let before = entries(&admin).await;
        for job in [
            json!({"template": "plain", "allocation": block}),
            json!({"template": "plain", "commissioning": made_at_sz}),
            json!({"template": "plain", "lot": {"product": "RESIN", "lot": "R-SZ"}}),
            json!({"template": "plain", "reprint": {"product": "PHONE", "serial": "P-SZ"}}),
            json!({"template": "plain", "reprint": {"product": "TAG", "serial": pool}}),
        ] {
            let r = dg.post("/api/v1/label-jobs", job.clone()).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{job}: {:?}", r.body);
            assert_eq!(r.body["error"]["code"], "not_found", "{job}");
            // Sent to a printer that is there: refused all the same, nothing sent.
            let mut to_printer = job.clone();
            to_printer["printer"] = json!(printer);
            let r = dg.post("/api/v1/label-jobs/print", to_printer).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{job}: {:?}", r.body);
        }
        assert_eq!(entries(&admin).await, before);

        // SZ prints its block and its lot, and reprints its phone: the records happened at SZ.
        for job in [
            json!({"template": "plain", "allocation": block}),
            json!({"template": "plain", "lot": {"product": "RESIN", "lot": "R-SZ"}}),
            json!({"template": "plain", "reprint": {"product": "PHONE", "serial": "P-SZ"}}),
        ] {
            let (status, headers, body) = sz.post_file("/api/v1/label-jobs", job.clone()).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{job}: {}",
                String::from_utf8_lossy(&body)
            );
            assert!(body.starts_with(b"%PDF"), "{job}");
            assert!(headers.contains_key("x-label-count"));
        }
        assert_eq!(entries(&admin).await, before + 2);
        let printed = last_event(&admin, "TAG", &pool).await;
        assert_eq!(printed["biz_step"], "encoding", "{printed}");
        assert_eq!(printed["read_point"], "SZ", "{printed}");
        let reprint = last_event(&admin, "PHONE", "P-SZ").await;
        assert_eq!(reprint["read_point"], "SZ", "{reprint}");
        assert!(reprint["biz_transactions"].to_string().contains("reprint"));
        // The reprint moved nothing: P-SZ is where it was.
        assert_eq!(admin.item("PHONE", "P-SZ").await["location"], "SZ-L1");
        // DG reprints its own phone, recorded at DG.
        let (status, _, _) = dg
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "plain", "reprint": {"product": "PHONE", "serial": "P-DG"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            last_event(&admin, "PHONE", "P-DG").await["read_point"],
            "DG"
        );
        // An account of no site prints anyone's.
        let (status, _, _) = admin
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "plain", "reprint": {"product": "PHONE", "serial": "P-DG"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = admin
            .post_file(
                "/api/v1/label-jobs",
                json!({"template": "plain", "allocation": block}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // The label page shows a block to its site only.
        let page = async |who: &Api| {
            let r = who
                .get(&format!("/labels?allocation={block}&lang=en"))
                .await;
            assert_eq!(r.status, StatusCode::OK);
            r.body.as_str().unwrap().contains("id=\"allocated\"")
        };
        assert!(page(&sz).await);
        assert!(!page(&dg).await);
        assert!(page(&admin).await);
    }
);

/// An EPCIS document of `events`.
fn epcis_document(events: &[Value]) -> String {
    json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-06-01T10:00:00Z",
        "epcisBody": {"eventList": events}})
    .to_string()
}

/// An EPCIS object event observing `serial` of PHONE stored at `place`.
fn stored_at(serial: &str, place: &str) -> Value {
    json!({"type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": [format!("https://id.gs1.org/01/09521234543213/21/{serial}")], "action": "OBSERVE",
        "bizStep": "storing", "bizLocation": {"id": format!("urn:threadline:loc:{place}")}})
}

/// An EPCIS object event commissioning `serial` of PHONE at `place`.
fn made_at(serial: &str, place: &str) -> Value {
    json!({"type": "ObjectEvent", "eventTime": "2026-06-01T10:00:00Z", "eventTimeZoneOffset": "+00:00",
        "epcList": [format!("https://id.gs1.org/01/09521234543213/21/{serial}")], "action": "ADD",
        "bizStep": "commissioning", "disposition": "active",
        "bizLocation": {"id": format!("urn:threadline:loc:{place}")}})
}

/// `POST /epcis/capture` of `doc` (`proceed` when asked): the job's address.
async fn capture(api: &Api, doc: &str, proceed: bool) -> String {
    let mut req = Request::post("/epcis/capture").header("content-type", "application/ld+json");
    if proceed {
        req = req.header("GS1-Capture-Error-Behaviour", "proceed");
    }
    let r = api
        .send(req.body(Body::from(doc.to_owned())).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    r.headers["location"].to_str().unwrap().to_owned()
}

/// The audit records of one object.
async fn audited(admin: &Api, object: &str) -> Vec<Value> {
    let r = admin.get(&format!("/api/v1/audit?object={object}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["records"].as_array().unwrap().clone()
}

store_test!(
    a_site_reads_its_own_capture_jobs_each_audited_with_its_events,
    |s: TestStore| async move {
        let (admin, sz_user, dg_user) = two_sites(&s).await;
        let sz = site_token(&admin, "sz-ops", &["production", "warehouse"], "SZ").await;
        let dg = site_token(&admin, "dg-ops", &["production", "warehouse"], "DG").await;

        // SZ captures one document whole: its job, and one audit record written with the event.
        let job = capture(&sz, &epcis_document(&[stored_at("P-SZ", "SZ-L1")]), false).await;
        let id = job.trim_start_matches("/epcis/capture/").to_owned();
        let r = sz.get(&job).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["success"], true, "{:?}", r.body);
        let stored = last_event(&admin, "PHONE", "P-SZ").await;
        assert_eq!(stored["biz_step"], "storing", "{stored}");
        let records = audited(&admin, &format!("epcis/capture/{id}")).await;
        assert_eq!(records.len(), 1, "{records:?}");
        let after = &records[0]["after"];
        assert_eq!(records[0]["status"], 202, "{records:?}");
        assert_eq!(records[0]["actor"], "token:sz-ops");
        assert_eq!(
            (after["count"].as_u64(), &after["first_seq"]),
            (Some(1), &stored["seq"]),
            "the record carries the receipt of its transaction: {records:?}"
        );
        assert_eq!(after["ids"], json!([stored["id"]]));
        assert!(
            audited(&admin, "epcis/capture")
                .await
                .iter()
                .all(|r| r["object"] == format!("epcis/capture/{id}")),
            "the guard records nothing more"
        );

        // The job is read by its sender, by another account of its site, and by an account of
        // no site; to DG it is not known, as a job that does not exist.
        assert_eq!(sz_user.get(&job).await.status, StatusCode::OK);
        assert_eq!(admin.get(&job).await.status, StatusCode::OK);
        for r in [
            dg.get(&job).await,
            dg_user.get(&job).await,
            dg.get("/epcis/capture/nope").await,
        ] {
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
            assert_eq!(r.headers["content-type"], "application/problem+json");
            assert_eq!(
                r.body["type"], "epcisException:NoSuchResourceException",
                "{:?}",
                r.body
            );
        }

        // DG's job, under `proceed` with one event the ledger refuses (a unit commissioned
        // without the attribute its product requires — a unit never made is registered from a
        // partner's event, and one commissioned twice keeps its state, neither refused): one
        // record for the event captured, none for the refusal; SZ does not read it.
        let job = capture(
            &dg,
            &epcis_document(&[made_at("P-DG", "DG-L1"), stored_at("P-DG", "DG-L1")]),
            true,
        )
        .await;
        let id = job.trim_start_matches("/epcis/capture/").to_owned();
        let r = dg.get(&job).await;
        assert_eq!(r.body["success"], false, "{:?}", r.body);
        // Every error names the first event, and it is refused for the attribute it lacks.
        let errors = r.body["errors"].as_array().unwrap();
        assert!(
            errors.iter().all(|e| e["field"]
                .as_str()
                .is_some_and(|f| f.starts_with("epcisBody.eventList[0]."))),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e["title"] == "missing_attribute"),
            "{errors:?}"
        );
        assert_eq!(sz.get(&job).await.status, StatusCode::NOT_FOUND);
        assert_eq!(sz_user.get(&job).await.status, StatusCode::NOT_FOUND);
        assert_eq!(dg_user.get(&job).await.status, StatusCode::OK);
        let records = audited(&admin, &format!("epcis/capture/{id}")).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["after"]["event"], 1, "{records:?}");
        assert_eq!(
            records[0]["after"]["first_seq"],
            last_event(&admin, "PHONE", "P-DG").await["seq"]
        );

        // A document the ledger refuses whole records nothing; the guard records the request.
        let before = entries(&admin).await;
        let job = capture(&dg, &epcis_document(&[made_at("P-DG", "DG-L1")]), false).await;
        let id = job.trim_start_matches("/epcis/capture/").to_owned();
        assert_eq!(dg.get(&job).await.body["success"], false);
        assert_eq!(entries(&admin).await, before);
        let records = audited(&admin, &format!("epcis/capture/{id}")).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert!(records[0]["after"].is_null(), "{records:?}");
    }
);

store_test!(
    a_site_reads_and_writes_its_own_places_and_shares_the_rest,
    |s: TestStore| async move {
        let (admin, sz_user, _) = two_sites(&s).await;
        let r = admin
            .post(
                "/api/v1/locations",
                json!({"code": "EXT-GD", "name": "DIST-GD warehouse", "kind": "external", "party": "DIST-GD"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let sz_admin = site_token(&admin, "sz-admin", &["admin"], "SZ").await;
        let mine = ["SZ".to_owned(), "SZ-L1".to_owned(), "EXT-GD".to_owned()];
        let theirs = ["DG-L1".to_owned(), "\"DG\"".to_owned()];

        // Locations: its site's places and the external ones, in the list, the export, one
        // by one and their history; another site's are not found.
        for uri in ["/api/v1/locations", "/api/v1/locations?format=csv"] {
            let r = sz_user.get(uri).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}");
            only(uri, &r.body.to_string(), &mine, &theirs);
        }
        let csv = sz_user.get("/api/v1/locations?format=csv").await;
        assert!(
            !csv.body
                .as_str()
                .unwrap()
                .lines()
                .any(|l| l.starts_with("DG")),
            "{:?}",
            csv.body
        );
        for uri in [
            "/api/v1/locations/DG-L1",
            "/api/v1/locations/DG",
            "/api/v1/locations/DG-L1/history",
        ] {
            let r = sz_user.get(uri).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {:?}", r.body);
        }
        for uri in [
            "/api/v1/locations/SZ-L1",
            "/api/v1/locations/EXT-GD",
            "/api/v1/locations/SZ-L1/history",
        ] {
            assert_eq!(sz_user.get(uri).await.status, StatusCode::OK, "{uri}");
        }
        // Products and parties are the plant's: shared.
        let r = sz_user.get("/api/v1/products").await;
        only("products", &r.body.to_string(), &["PHONE".to_owned()], &[]);
        let r = sz_user.get("/api/v1/parties").await;
        only("parties", &r.body.to_string(), &["SUP1".to_owned()], &[]);
        assert_eq!(
            sz_user.get("/api/v1/products/PHONE").await.status,
            StatusCode::OK
        );

        // Writes: a place under its site, yes; under another site, refused naming the parent
        // and nothing written; another site's place is not found to replace.
        let r = sz_admin
            .post(
                "/api/v1/locations",
                json!({"code": "DG-L2", "name": "DG line 2", "kind": "line", "parent": "DG"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        assert_eq!(
            field_codes(&r.body),
            [("outside_site".to_owned(), "parent".to_owned())]
        );
        assert_eq!(
            admin.get("/api/v1/locations/DG-L2").await.status,
            StatusCode::NOT_FOUND
        );
        let r = sz_admin
            .post(
                "/api/v1/locations",
                json!({"code": "XX", "name": "Another plant", "kind": "site"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        let r = sz_admin
            .put(
                "/api/v1/locations/DG-L1",
                "\"1\"",
                json!({"code": "DG-L1", "name": "Mine now", "kind": "line", "parent": "DG"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
        let r = sz_admin
            .put(
                "/api/v1/locations/SZ-L1",
                "\"1\"",
                json!({"code": "SZ-L1", "name": "Line 1", "kind": "line", "parent": "DG"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "moved out of its site: {:?}",
            r.body
        );
        assert_eq!(
            admin.get("/api/v1/locations/SZ-L1").await.body["parent"],
            "SZ"
        );
        let r = sz_admin
            .post(
                "/api/v1/locations",
                json!({"code": "SZ-L2", "name": "SZ line 2", "kind": "line", "parent": "SZ"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

        // The pages: the admin list and edit form, and the scan station's place choices.
        let html = sz_admin.get("/admin/locations?lang=en").await.body;
        only(
            "admin page",
            html.as_str().unwrap(),
            &["SZ-L2".to_owned(), "EXT-GD".to_owned()],
            &["DG-L1".to_owned()],
        );
        let r = sz_admin.get("/admin/locations?edit=DG-L1&lang=en").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let html = sz_user.get("/scan?lang=en").await.body;
        let html = html.as_str().unwrap();
        assert!(
            html.contains("<option value=\"SZ-L1\">") && !html.contains("<option value=\"DG-L1\">"),
            "{html}"
        );

        // An account of no site reads and lists every place.
        let r = admin.get("/api/v1/locations").await;
        only(
            "admin locations",
            &r.body.to_string(),
            &["DG-L1".to_owned(), "SZ-L2".to_owned()],
            &[],
        );
        let html = admin.get("/admin/locations?lang=en").await.body;
        assert!(html.as_str().unwrap().contains("DG-L1"));
    }
);

store_test!(
    a_site_reads_the_diversions_and_checks_of_its_own_units,
    |s: TestStore| async move {
        let (admin, sz, dg) = two_sites(&s).await;
        // Each phone is checked from outside while still in our hands (suspicious), and a made-up
        // serial once.
        for code in ["P-SZ", "P-DG", "P-FAKE"] {
            let r = admin
                .post(
                    "/api/v1/authenticity/checks",
                    json!({"code": format!("(01)09521234543213(21){code}"), "region": "CN-SH"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        // Both phones are sold in Shanghai by DIST-GD, authorised for Guangdong only.
        for (phone, site) in [("P-SZ", "SZ"), ("P-DG", "DG")] {
            let r = admin
                .post(
                    "/api/v1/ops/move",
                    json!({"time": at(65), "items": [{"product": "PHONE", "serial": phone}],
                           "to": format!("{site}-L1"), "put_away": true}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            let r = admin
                .post(
                    "/api/v1/ops/sell",
                    json!({"time": at(60), "customer": "CUST1", "seller": "DIST-GD", "region": "CN-SH",
                           "items": [{"product": "PHONE", "serial": phone}]}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
        let diversions = |n: u64| json!([{"seller": "DIST-GD", "region": "CN-SH", "units": n, "authorised": ["CN-GD"]}]);
        let checks =
            "/api/v1/authenticity/checks?from=2026-05-01T00:00:00Z&to=2026-07-01T00:00:00Z";
        let serials = |v: &Value| -> Vec<String> {
            v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["serial"].as_str().unwrap_or("-").to_owned())
                .collect()
        };
        for (user, mine, theirs) in [(&sz, "P-SZ", "P-DG"), (&dg, "P-DG", "P-SZ")] {
            let r = user.get("/api/v1/channel/diversions").await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert_eq!(r.body["diversions"], diversions(1), "{mine}");
            let r = user.get(checks).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert_eq!(serials(&r.body), [mine], "{:?}", r.body);
            let r = user
                .get(&format!("{checks}&verdict=genuine,suspicious&limit=1"))
                .await;
            assert_eq!(serials(&r.body), [mine], "{:?}", r.body);
            // The dashboard shows the same: its diversions and its alerts, not the plant's
            // channel.
            let html = user.get("/dashboard?lang=en").await.body;
            let html = html.as_str().unwrap();
            assert!(html.contains("id=\"diversions-table\""), "{mine}: {html}");
            assert!(!html.contains("id=\"channel\""), "{mine}");
            let alerts = &html[html.find("id=\"authenticity\"").unwrap()..];
            assert!(alerts.contains(mine), "{mine}: {alerts}");
            assert!(
                !alerts.contains(theirs) && !alerts.contains("P-FAKE"),
                "{alerts}"
            );
        }
        // An account of no site: both units, and the made-up code.
        let r = admin.get("/api/v1/channel/diversions").await;
        assert_eq!(r.body["diversions"], diversions(2));
        let mut all = serials(&admin.get(checks).await.body);
        all.sort();
        assert_eq!(all, ["-", "P-DG", "P-SZ"]);
        let html = admin.get("/dashboard?lang=en").await.body;
        let html = html.as_str().unwrap();
        assert!(html.contains("id=\"channel\"") && html.contains("P-FAKE"));
    }
);
