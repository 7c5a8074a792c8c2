//! Partner scoping through HTTP, on both engines: a distributor's account sees the units
//! shipped to it or to its sub-distributors — item, passport, events, scan, scan check,
//! trace and its export, EPCIS query, the recall campaigns that cover its units (those units
//! only), and the trace and recall pages drawn from those answers — and every other unit or
//! campaign answers exactly as one that does not exist; an event naming many units shows it
//! only its own; routes outside its scope are "not found". A distributor account must name a
//! distributor party.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, FixedClock};
use threadline_testkit::fixtures::{at, now, plant};
use threadline_testkit::{TestStore, store_test};

const MINE: &str = "GD-0001";
const SUBS: &str = "SUB-0001";
const THEIRS: &str = "SH-0001";
const OURS: &str = "HQ-0001";

fn unit(serial: &str) -> Value {
    json!({"product": "BOARD", "serial": serial})
}

async fn ok(api: &Api, uri: &str, body: Value) -> Value {
    let r = api.post(uri, body).await;
    assert!(r.status.is_success(), "{uri}: {} {:?}", r.status, r.body);
    r.body
}

/// Four boards commissioned in one event: one shipped to DIST-GD, one to its sub-distributor,
/// one to another distributor, one kept. Returns the admin client and a client per partner.
async fn setup(s: &TestStore) -> (Api, Api, Api) {
    plant(&**s).await;
    let state = AppState {
        clock: std::sync::Arc::new(FixedClock(now())),
        ..AppState::new(s.store.clone())
    };
    let admin = Api::with_state(s, state.clone(), "root", &[Role::Admin]).await;
    ok(
        &admin,
        "/api/v1/parties",
        json!({"code": "DIST-GD-SUB", "name": "Foshan sub-dealer",
        "kind": "distributor", "parent": "DIST-GD"}),
    )
    .await;
    ok(
        &admin,
        "/api/v1/parties",
        json!({"code": "DIST-SH", "name": "Shanghai Dist.",
        "kind": "distributor"}),
    )
    .await;
    ok(
        &admin,
        "/api/v1/events",
        json!({"type": "object", "action": "ADD", "event_time": at(600),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1",
        "items": [unit(MINE), unit(SUBS), unit(THEIRS), unit(OURS)],
        "biz_transactions": [{"type": "prodorder", "id": "WO-P"}]}),
    )
    .await;
    ok(
        &admin,
        "/api/v1/ops/move",
        json!({"time": at(590), "to": "SZ-WH-A1", "put_away": true,
        "items": [unit(MINE), unit(SUBS), unit(THEIRS), unit(OURS)]}),
    )
    .await;
    for (serial, to) in [
        (MINE, "DIST-GD"),
        (SUBS, "DIST-GD-SUB"),
        (THEIRS, "DIST-SH"),
    ] {
        ok(
            &admin,
            "/api/v1/ops/ship",
            json!({"time": at(580), "sales_order": format!("SO-{serial}"),
            "distributor": to, "from": "SZ-WH-A1",
            "lines": [{"line": "1", "product": "BOARD", "serials": [serial]}]}),
        )
        .await;
    }
    let mut partners = Vec::new();
    for (name, party) in [("gd", "DIST-GD"), ("sh", "DIST-SH")] {
        let r = ok(
            &admin,
            "/api/v1/tokens",
            json!({"name": name, "roles": ["distributor"], "party": party}),
        )
        .await;
        assert_eq!(r["token"]["party"], party);
        partners.push(Api {
            router: admin.router.clone(),
            auth: format!("Bearer {}", r["secret"].as_str().unwrap()),
        });
    }
    let sh = partners.pop().unwrap();
    let gd = partners.pop().unwrap();
    (admin, gd, sh)
}

/// DIST-GD receives its board at its warehouse and sells it to CUST1 in Shenzhen.
async fn sold_by_gd(admin: &Api) {
    ok(
        admin,
        "/api/v1/locations",
        json!({"code": "EXT-GD", "name": "GD warehouse", "kind": "external", "party": "DIST-GD"}),
    )
    .await;
    ok(
        admin,
        "/api/v1/ops/distributor-receipt",
        json!({"time": at(570), "distributor": "DIST-GD", "location": "EXT-GD", "items": [unit(MINE)]}),
    )
    .await;
    ok(
        admin,
        "/api/v1/ops/sell",
        json!({"time": at(560), "customer": "CUST1", "seller": "DIST-GD", "region": "CN-GD-SZ",
               "items": [unit(MINE)]}),
    )
    .await;
}

/// Two campaigns: the work order (every board) and DIST-SH's board alone.
async fn two_recalls(admin: &Api) {
    for (code, scope) in [
        ("RC-WO", json!({"work_order": "WO-P"})),
        ("RC-SH", json!({"product": "BOARD", "serial": THEIRS})),
    ] {
        ok(
            admin,
            "/api/v1/recalls",
            json!({"code": code, "reason": "cracked solder joints", "severity": "major",
            "scope": scope}),
        )
        .await;
    }
}

/// The error of a refusal with the serial taken out, to compare "hidden" with "absent".
fn shape(r: &common::Reply, serial: &str) -> (StatusCode, String) {
    (r.status, r.body.to_string().replace(serial, "<serial>"))
}

store_test!(
    a_distributor_sees_only_units_shipped_to_it_or_under_it,
    |s: TestStore| async move {
        let (_admin, gd, sh) = setup(&s).await;

        for serial in [MINE, SUBS] {
            let r = gd.get(&format!("/api/v1/items/BOARD/{serial}")).await;
            assert_eq!(r.status, StatusCode::OK, "{serial}: {:?}", r.body);
        }
        // Another distributor's unit and our own stock read exactly like a unit that does
        // not exist.
        let absent = gd.get("/api/v1/items/BOARD/NO-SUCH-1").await;
        assert_eq!(absent.status, StatusCode::NOT_FOUND);
        for serial in [THEIRS, OURS] {
            let r = gd.get(&format!("/api/v1/items/BOARD/{serial}")).await;
            assert_eq!(shape(&r, serial), shape(&absent, "NO-SUCH-1"), "{serial}");
            let p = gd
                .get(&format!("/api/v1/items/BOARD/{serial}/passport"))
                .await;
            assert_eq!(p.status, StatusCode::NOT_FOUND, "{serial}");
            let p = gd.get(&format!("/api/v1/passport?code={serial}")).await;
            let none = gd.get("/api/v1/passport?code=NO-SUCH-1").await;
            assert_eq!(shape(&p, serial), shape(&none, "NO-SUCH-1"), "{serial}");
            let e = gd
                .get(&format!("/api/v1/events?product=BOARD&serial={serial}"))
                .await;
            assert_eq!(e.status, StatusCode::NOT_FOUND, "{serial}");
            let sc = gd.get(&format!("/api/v1/scan?code={serial}")).await;
            let none = gd.get("/api/v1/scan?code=NO-SUCH-1").await;
            assert_eq!(shape(&sc, serial), shape(&none, "NO-SUCH-1"), "{serial}");
            let check = gd
                .get(&format!("/api/v1/scan/check?operation=ship&code={serial}"))
                .await;
            let none = gd
                .get("/api/v1/scan/check?operation=ship&code=NO-SUCH-1")
                .await;
            assert_eq!(check.status, StatusCode::OK);
            assert_eq!(check.body["reason"], "not_registered", "{:?}", check.body);
            assert_eq!(shape(&check, serial), shape(&none, "NO-SUCH-1"), "{serial}");
            for dir in ["backward", "forward"] {
                let t = gd
                    .get(&format!(
                        "/api/v1/trace/{dir}?product=BOARD&serial={serial}"
                    ))
                    .await;
                assert_eq!(t.status, StatusCode::NOT_FOUND, "{dir} {serial}");
                let (status, _, _) = gd
                    .get_file(&format!(
                        "/api/v1/trace/{dir}?product=BOARD&serial={serial}&format=csv"
                    ))
                    .await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{dir} {serial} CSV");
            }
            let (_, _, page) = gd.get_file(&format!("/unit?code={serial}&lang=en")).await;
            let page = String::from_utf8(page).unwrap();
            assert!(page.contains("id=\"not-found\""), "{serial}: {page}");
        }

        // Its own unit: the whole history, but the commissioning event (four boards) names
        // only this one.
        let passport = gd
            .get(&format!("/api/v1/items/BOARD/{MINE}/passport"))
            .await;
        assert_eq!(passport.status, StatusCode::OK, "{:?}", passport.body);
        let text = passport.body.to_string();
        assert!(
            !text.contains(THEIRS) && !text.contains(OURS) && !text.contains(SUBS),
            "{text}"
        );
        let first = &passport.body["timeline"][0];
        assert_eq!(first["biz_step"], "commissioning");
        assert_eq!(first["items"], json!([unit(MINE)]));
        let events = gd
            .get(&format!("/api/v1/events?product=BOARD&serial={MINE}"))
            .await;
        assert_eq!(events.status, StatusCode::OK);
        assert_eq!(events.body["items"][0]["items"], json!([unit(MINE)]));
        let (status, _, csv) = gd
            .get_file(&format!(
                "/api/v1/events?product=BOARD&serial={MINE}&format=csv"
            ))
            .await;
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(status, StatusCode::OK, "{csv}");
        assert!(
            csv.contains(MINE) && !csv.contains(THEIRS) && !csv.contains(SUBS),
            "{csv}"
        );
        let page = gd.get_file(&format!("/unit?code={MINE}&lang=en")).await.2;
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains(MINE) && !page.contains(THEIRS), "{page}");
        let check = gd
            .get(&format!("/api/v1/scan/check?operation=ship&code={MINE}"))
            .await;
        assert_ne!(check.body["reason"], "not_registered", "{:?}", check.body);
        let t = gd
            .get(&format!(
                "/api/v1/trace/forward?product=BOARD&serial={MINE}"
            ))
            .await;
        assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);

        // Nothing wider than one of its units: no event listing, no set trace, no recalls,
        // no master data, no stock, no unit or lot list or export, no EPCIS resource listing.
        for uri in [
            "/api/v1/events",
            "/api/v1/trace/forward?work_order=WO-P",
            "/api/v1/trace/forward?supplier=SUP1&format=csv",
            "/api/v1/products",
            "/api/v1/ops/pick?product=BOARD&quantity=1",
            "/api/v1/lots/RESIN/L1",
            "/api/v1/items",
            "/api/v1/items?format=csv",
            "/api/v1/lots",
            "/api/v1/lots?format=xlsx",
            "/api/v1/channel/diversions",
            "/api/v1/authenticity/checks",
            "/epcis/bizSteps/commissioning/events",
            "/epcis/epcs",
            "/epcis/epcs/urn:threadline:unit:BOARD:SH-0001/events",
            "/epcis/bizLocations",
            "/epcis/readPoints",
            "/epcis/queries",
            "/search",
            "/search?q=SH-0001",
        ] {
            let (status, _, body) = gd.get_file(uri).await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{uri}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let (status, _, _) = gd
            .get_file("/api/v1/scan/check?operation=commission&code=SH-0001")
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "whether a serial is free is not told"
        );

        // Its home page counts its own units (MINE and SUBS on their way), not the ledger.
        let (_, _, home) = gd.get_file("/?lang=en").await;
        let home = String::from_utf8(home).unwrap();
        assert!(
            home.contains("Your units: In stock 0 · In transit 2"),
            "{home}"
        );
        assert!(!home.contains("entries"), "{home}");

        // EPCIS: its units only, even inside an event naming four.
        let (status, _, doc) = gd.get_file("/epcis/events?EQ_bizStep=commissioning").await;
        assert_eq!(status, StatusCode::OK);
        let doc = String::from_utf8(doc).unwrap();
        assert!(doc.contains(MINE) && doc.contains(SUBS), "{doc}");
        assert!(!doc.contains(THEIRS) && !doc.contains(OURS), "{doc}");

        // The other distributor: the mirror image.
        assert_eq!(
            sh.get(&format!("/api/v1/items/BOARD/{THEIRS}"))
                .await
                .status,
            StatusCode::OK
        );
        for serial in [MINE, SUBS, OURS] {
            assert_eq!(
                sh.get(&format!("/api/v1/items/BOARD/{serial}"))
                    .await
                    .status,
                StatusCode::NOT_FOUND,
                "{serial}"
            );
        }
        let (_, _, doc) = sh.get_file("/epcis/events?EQ_bizStep=shipping").await;
        let doc = String::from_utf8(doc).unwrap();
        assert!(doc.contains(THEIRS) && !doc.contains(MINE), "{doc}");
    }
);

store_test!(
    a_distributor_account_names_a_distributor_party,
    |s: TestStore| async move {
        let (admin, _, _) = setup(&s).await;
        for (body, code) in [
            (json!({"name": "d1", "roles": ["distributor"]}), "required"),
            (
                json!({"name": "d2", "roles": ["distributor"], "party": "NOPE"}),
                "unknown_party",
            ),
            (
                json!({"name": "d3", "roles": ["distributor"], "party": "CUST1"}),
                "invalid_party",
            ),
            (
                json!({"name": "d4", "roles": ["warehouse"], "party": "DIST-GD"}),
                "invalid_party",
            ),
        ] {
            let r = admin.post("/api/v1/tokens", body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {:?}",
                r.body
            );
            assert_eq!(r.codes(), [(code.to_owned(), "party".to_owned())], "{body}");
        }
        let r = admin
            .post(
                "/api/v1/users",
                json!({"name": "li.gd", "password": "a-long-password-1",
                "roles": ["distributor"], "party": "DIST-GD"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["party"], "DIST-GD");
        // Its roles cannot leave the binding behind.
        let r = admin
            .put(
                "/api/v1/users/li.gd/roles",
                "",
                json!({"roles": ["warehouse"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        // The account moves to another distributor; a request without `party` keeps it.
        let r = admin
            .put(
                "/api/v1/users/li.gd/roles",
                "",
                json!({"roles": ["distributor"], "party": "DIST-SH"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["party"].as_str()),
            (StatusCode::OK, Some("DIST-SH")),
            "{:?}",
            r.body
        );
        let r = admin
            .put(
                "/api/v1/users/li.gd/roles",
                "",
                json!({"roles": ["distributor"]}),
            )
            .await;
        assert_eq!(r.body["party"], "DIST-SH", "{:?}", r.body);
        // Unbound while still a distributor: refused, naming `party`; bound to a customer too.
        for (party, code) in [(json!(null), "required"), (json!("CUST1"), "invalid_party")] {
            let r = admin
                .put(
                    "/api/v1/users/li.gd/roles",
                    "",
                    json!({"roles": ["distributor"], "party": party}),
                )
                .await;
            assert_eq!(
                r.codes(),
                [(code.to_owned(), "party".to_owned())],
                "{:?}",
                r.body
            );
        }
        assert_eq!(
            admin.get("/api/v1/users/li.gd").await.body["party"],
            "DIST-SH"
        );
        // Unbound together with a role that is not a partner's: an ordinary account again.
        let r = admin
            .put(
                "/api/v1/users/li.gd/roles",
                "",
                json!({"roles": ["warehouse"], "party": null}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert!(
            r.body.get("party").is_none_or(Value::is_null),
            "{:?}",
            r.body
        );
        let tokens = admin.get("/api/v1/tokens").await.body.to_string();
        assert!(!tokens.contains("\"d1\""), "nothing was created: {tokens}");
    }
);

store_test!(
    a_partner_is_offered_only_the_pages_it_may_open,
    |s: TestStore| async move {
        let (admin, gd, _sh) = setup(&s).await;
        let r = gd.get("/?lang=en").await;
        assert_eq!(r.status, 200);
        let page = r.body.as_str().unwrap();
        let nav = &page[page.find("<nav").unwrap()..page.find("</nav>").unwrap()];
        for page in ["/unit", "/trace", "/recalls", "/dashboard"] {
            assert!(nav.contains(&format!("href=\"{page}?lang=en\"")), "{nav}");
        }
        // Pages it may read but not as a partner are not found; admin needs what it lacks.
        for (hidden, status) in [("/search", 404), ("/admin/products", 403)] {
            assert!(
                !nav.contains(&format!("href=\"{hidden}")),
                "{hidden}: {nav}"
            );
            assert_eq!(
                gd.get(&format!("{hidden}?lang=en")).await.status,
                status,
                "{hidden}"
            );
        }
        // Everyone else still gets them.
        let page = admin.get("/?lang=en").await;
        assert!(
            page.body
                .as_str()
                .unwrap()
                .contains("href=\"/search?lang=en\"")
        );
    }
);

store_test!(
    a_distributor_acts_on_a_recall_through_its_own_units_only,
    |s: TestStore| async move {
        let (admin, gd, sh) = setup(&s).await;
        two_recalls(&admin).await;
        let all = admin.get("/api/v1/recalls/RC-WO").await;
        assert_eq!(all.body["units"], 4, "{:?}", all.body);

        // The campaigns that cover its units, without the scope they were opened from.
        let listed = gd.get("/api/v1/recalls").await;
        assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
        let codes: Vec<&str> = listed.body["recalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["RC-WO"]);
        assert!(listed.body["recalls"][0]["scope"].is_null());

        // Its units in the campaign — its own and its sub-distributor's — and no one else's.
        let campaign = gd.get("/api/v1/recalls/RC-WO").await;
        assert_eq!(campaign.status, StatusCode::OK, "{:?}", campaign.body);
        assert_eq!(campaign.body["units"], 2, "{:?}", campaign.body);
        assert_eq!(campaign.body["reason"], "cracked solder joints");
        assert_eq!(
            campaign.body["by_custodian"],
            json!({"DIST-GD": 1, "DIST-GD-SUB": 1})
        );
        let text = campaign.body.to_string();
        for hidden in [THEIRS, OURS, "WO-P", "DIST-SH"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        let units = gd.get("/api/v1/recalls/RC-WO/units").await;
        assert_eq!(units.status, StatusCode::OK, "{:?}", units.body);
        let mut serials: Vec<String> = units.body["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                u["node"]["item"]["serial"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        serials.sort();
        assert_eq!(serials, [MINE, SUBS], "{:?}", units.body);
        let (status, _, csv) = gd.get_file("/api/v1/recalls/RC-WO/units?format=csv").await;
        assert_eq!(status, StatusCode::OK);
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.contains(MINE) && !csv.contains(THEIRS) && !csv.contains(OURS),
            "{csv}"
        );

        // A campaign of another distributor's unit reads exactly like one that does not exist.
        let absent = gd.get("/api/v1/recalls/RC-NONE").await;
        assert_eq!(absent.status, StatusCode::NOT_FOUND);
        for uri in ["/api/v1/recalls/RC-SH", "/api/v1/recalls/RC-SH/units"] {
            let r = gd.get(uri).await;
            assert_eq!(
                (r.status, r.body.to_string().replace("RC-SH", "RC-NONE")),
                (absent.status, absent.body.to_string()),
                "{uri}"
            );
        }

        // The other distributor: the mirror image.
        let listed = sh.get("/api/v1/recalls").await;
        assert_eq!(listed.body["recalls"].as_array().unwrap().len(), 2);
        let units = sh.get("/api/v1/recalls/RC-WO/units").await;
        let text = units.body.to_string();
        assert!(text.contains(THEIRS), "{text}");
        for hidden in [MINE, SUBS, OURS] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
    }
);

store_test!(
    a_distributor_reads_the_trace_and_recall_pages_of_its_own_units_only,
    |s: TestStore| async move {
        let (admin, gd, _sh) = setup(&s).await;
        // Its board is sold to a customer, whose name it may not read.
        sold_by_gd(&admin).await;
        two_recalls(&admin).await;
        let html = |r: common::Reply| r.body.as_str().unwrap().to_owned();

        // The recalls page lists the campaign that covers its units, not the other.
        let r = gd.get("/recalls?lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        let list = html(r);
        assert!(list.contains("RC-WO") && !list.contains("RC-SH"), "{list}");
        assert!(!list.contains("id=\"new-recall\"") && !list.contains("/recalls/new"));

        // The campaign page: its two units, its customer masked; no one else's, no forms.
        let r = gd.get("/recalls/RC-WO?lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        let page = html(r);
        for hidden in [
            THEIRS,
            OURS,
            "WO-P",
            "DIST-SH",
            "Acme Retail",
            "close-recall",
            "narrow-recall",
        ] {
            assert!(!page.contains(hidden), "{hidden} in {page}");
        }
        assert!(page.contains("CUST1") && page.contains("***"), "{page}");
        let all = html(admin.get("/recalls/RC-WO?lang=en").await);
        assert!(all.contains("Acme Retail"), "the admin reads the name");
        // Another's campaign reads like one that does not exist.
        let absent = gd.get("/recalls/RC-NONE?lang=en").await;
        let other = gd.get("/recalls/RC-SH?lang=en").await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);
        assert_eq!(
            (other.status, html(other).replace("RC-SH", "RC-NONE")),
            (absent.status, html(absent))
        );

        // The trace page: from its unit; another's reads like a serial never registered,
        // and anything wider than one unit is refused.
        let trace = |serial: &str| {
            format!("/trace?direction=forward&product=BOARD&serial={serial}&lang=en")
        };
        let page = html(gd.get(&trace(MINE)).await);
        assert!(page.contains("id=\"trace-result\""), "{page}");
        assert!(!page.contains("id=\"start-recall\""));
        let theirs = html(gd.get(&trace(THEIRS)).await);
        assert!(theirs.contains("id=\"trace-error\""), "{theirs}");
        assert_eq!(
            theirs.replace(THEIRS, "<serial>"),
            html(gd.get(&trace("NOPE-1")).await).replace("NOPE-1", "<serial>")
        );
        let wide = html(
            gd.get("/trace?direction=forward&work_order=WO-P&lang=en")
                .await,
        );
        assert!(
            wide.contains("id=\"trace-error\"") && !wide.contains(MINE),
            "{wide}"
        );
        assert!(html(admin.get(&trace(THEIRS)).await).contains("id=\"trace-result\""));
    }
);

store_test!(
    a_distributor_dashboard_is_its_own_part_of_the_channel,
    |s: TestStore| async move {
        let (admin, gd, _sh) = setup(&s).await;
        sold_by_gd(&admin).await;
        let r = gd.get("/dashboard?lang=en").await;
        assert_eq!(r.status, StatusCode::OK);
        let page = r.body.as_str().unwrap();
        // Its own and its sub-distributor's holdings and sales; nobody else's, nothing of the
        // plant's quality, stock, checks or service desk.
        let table = &page[page.find("id=\"channel-table\"").unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        assert!(
            table.contains("<td>DIST-GD</td>") && table.contains("<td>DIST-GD-SUB</td>"),
            "{table}"
        );
        assert!(page.contains("id=\"chart-regions\""), "{page}");
        for hidden in [
            "DIST-SH",
            "Shanghai Dist.",
            "id=\"quality\"",
            "id=\"units\"",
            "id=\"authenticity\"",
            "id=\"service\"",
        ] {
            assert!(!page.contains(hidden), "{hidden} in {page}");
        }
        let all = admin.get("/dashboard?lang=en").await;
        let all = all.body.as_str().unwrap();
        assert!(all.contains("<td>DIST-SH</td>") && all.contains("id=\"quality\""));
    }
);
