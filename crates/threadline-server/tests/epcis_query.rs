//! The Simple Event Query through `GET /epcis/events`, on both engines: `EQ_ATTR_` and
//! `HASATTR_` on the master data of a field's element (a capture header's, and Threadline's own
//! locations'), `MATCH_` on the objects Threadline records as given (GRAIs, GIAIs, any URI)
//! through their index and after a rebuild, and a quantity's explicit `uom: "EA"` read back as
//! sent.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::{AppState, FixedClock, app};
use threadline_store::{EventQuery, ObjectMatch};
use threadline_testkit::fixtures::{put, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The plant (a site), its dock (inside it), a hall and a place elsewhere: Threadline's own.
const PLANT: &str = "urn:epc:id:sgln:0614141.00001.0";
const DOCK: &str = "urn:epc:id:sgln:0614141.00001.7";
const HALL: &str = "urn:epc:id:sgln:0614141.00002.0";
const ELSEWHERE: &str = "urn:epc:id:sgln:0614141.00009.0";

async fn send(router: &axum::Router, auth: &str, req: Request<Body>) -> (StatusCode, Value) {
    let mut req = req;
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    match (status, location) {
        (StatusCode::ACCEPTED, Some(job)) => {
            let (_, job) = Box::pin(send(router, auth, get(&job))).await;
            (status, job)
        }
        _ => (status, body),
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

async fn server(s: &TestStore, at: DateTime<Utc>) -> (axum::Router, String) {
    let state = AppState {
        clock: Arc::new(FixedClock(at)),
        ..AppState::new(s.store.clone())
    };
    let secret = token(&*s.store, "epcis-query", &[Role::Admin]).await;
    (app(state), format!("Bearer {secret}"))
}

async fn setup(s: &TestStore) -> (axum::Router, String) {
    put(&*s.store, "product", json!({"code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"})).await;
    put(
        &*s.store,
        "product",
        json!({"code": "PEL", "name": "Pellets", "gtin": "10614141073471", "tracking": "lot"}),
    )
    .await;
    put(&*s.store, "product", json!({"code": "RES", "name": "Resin", "gtin": "10614141073488", "tracking": "lot", "uom": "KGM"})).await;
    put(
        &*s.store,
        "location",
        json!({"code": "0614141000012", "name": "Plant", "kind": "site", "region": "CN-GD"}),
    )
    .await;
    put(&*s.store, "location", json!({"code": "0614141000012.7", "name": "Dock 7", "kind": "area", "parent": "0614141000012"})).await;
    put(
        &*s.store,
        "location",
        json!({"code": "0614141000029", "name": "Hall 1", "kind": "site"}),
    )
    .await;
    put(
        &*s.store,
        "location",
        json!({"code": "0614141000098", "name": "Elsewhere", "kind": "site"}),
    )
    .await;
    let at = DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    server(s, at).await
}

fn document(vocabularies: Value, events: Vec<Value>) -> String {
    json!({"@context": [CONTEXT, {"ex": "https://ns.example.com/epcis/"}], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2024-02-17T00:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": events}})
    .to_string()
}

async fn capture(router: &axum::Router, auth: &str, doc: String) {
    let req = Request::post("/epcis/capture")
        .header("content-type", "application/ld+json")
        .body(Body::from(doc))
        .unwrap();
    let (st, job) = send(router, auth, req).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["success"], true, "{job}");
}

fn event(id: &str, fields: Value) -> Value {
    let mut ev = json!({"type": "ObjectEvent", "eventID": format!("urn:uuid:{id}"),
        "eventTime": "2024-02-16T08:00:00+08:00", "eventTimeZoneOffset": "+08:00", "action": "OBSERVE"});
    for (k, v) in fields.as_object().unwrap() {
        ev[k] = v.clone();
    }
    ev
}

/// The eventIDs (their last segment) a query answers, sorted; panics on anything but 200.
async fn answered(router: &axum::Router, auth: &str, query: &str) -> Vec<String> {
    let (st, doc) = send(router, auth, get(&format!("/epcis/events?{query}"))).await;
    assert_eq!(st, StatusCode::OK, "{query}: {doc}");
    let mut out: Vec<String> = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["eventID"]
                .as_str()
                .unwrap()
                .trim_start_matches("urn:uuid:00000000-0000-4000-8000-")
                .to_owned()
        })
        .collect();
    out.sort();
    out
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn n(k: u32) -> String {
    format!("{k:012}")
}

store_test!(
    master_data_attributes_select_events,
    |s: TestStore| async move {
        let (router, auth) = setup(&s).await;
        // The header describes the plant and the hall as business locations, the dock as a
        // read point, and the projector's class; Threadline's own records describe every place.
        let vocabularies = json!([
            {"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": [
                {"id": PLANT, "attributes": [
                    {"id": "cbvmda:sst", "attribute": "201"}]},
                {"id": "https://id.gs1.org/414/0614141000029", "attributes": [
                    {"id": "https://ns.example.com/epcis/temperatureZone", "attribute": "frozen"},
                    {"id": "urn:epcglobal:cbv:mda#sst", "attribute": null}]}]},
            {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": [
                {"id": DOCK, "attributes": [{"id": "urn:epcglobal:cbv:mda:ssa", "attribute": 7}]}]},
            {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": [
                {"id": "urn:epc:idpat:sgtin:0614141.107346.*", "attributes": [
                    {"id": "urn:epcglobal:cbv:mda#descriptionShort", "attribute": "Projector"}]}]}
        ]);
        let events = vec![
            event(
                &uuid(1),
                json!({"epcList": ["https://id.gs1.org/01/10614141073464/21/1"],
                "action": "ADD", "bizStep": "commissioning", "disposition": "active",
                "readPoint": {"id": DOCK}, "bizLocation": {"id": PLANT}}),
            ),
            event(
                &uuid(2),
                json!({"epcList": ["https://id.gs1.org/01/10614141073464/21/2"],
                "action": "ADD", "bizStep": "commissioning", "disposition": "active",
                "readPoint": {"id": HALL}, "bizLocation": {"id": HALL}}),
            ),
            event(
                &uuid(3),
                json!({"quantityList": [{"epcClass": "urn:epc:idpat:sgtin:0614141.107346.*", "quantity": 3}],
                "bizLocation": {"id": ELSEWHERE}}),
            ),
        ];
        capture(&router, &auth, document(vocabularies, events)).await;
        let (one, two, three) = (n(1), n(2), n(3));
        for (query, want) in [
            // The header's master data, in any spelling of CBV's attribute names.
            (
                "EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda:sst=201",
                vec![&one],
            ),
            ("EQ_ATTR_bizLocation_cbvmda:sst=999%7C201", vec![&one]),
            (
                "EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda%23sst=201",
                vec![&one],
            ),
            ("EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda:sst=999", vec![]),
            // A read point's element is a ReadPoint: the plant's business location data is not.
            ("EQ_ATTR_readPoint_urn:epcglobal:cbv:mda:sst=201", vec![]),
            ("EQ_ATTR_readPoint_urn:epcglobal:cbv:mda:ssa=7", vec![&one]),
            // Threadline's own places: name, the site a place is in, kind, region.
            (
                "EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda%23name=Hall%201",
                vec![&two],
            ),
            (
                "EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda%23name=Hall%201%7CElsewhere",
                vec![&two, &three],
            ),
            (
                "EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda%23name=Hall%202",
                vec![],
            ),
            (
                "EQ_ATTR_readPoint_urn:epcglobal:cbv:mda%23site=https://id.gs1.org/414/0614141000012",
                vec![&one],
            ),
            (
                "EQ_ATTR_readPoint_cbvmda:site=urn:epc:id:sgln:0614141.00001.0",
                vec![&one],
            ),
            (
                "EQ_ATTR_bizLocation_urn:threadline:field:region=CN-GD",
                vec![&one],
            ),
            (
                "EQ_ATTR_bizLocation_urn:threadline:field:kind=site",
                vec![&one, &two, &three],
            ),
            // HASATTR_ names attributes; a null attribute is no attribute.
            (
                "HASATTR_bizLocation=https://ns.example.com/epcis/temperatureZone",
                vec![&two],
            ),
            ("HASATTR_bizLocation=ex:nothing%7Ccbvmda:sst", vec![&one]),
            ("HASATTR_bizLocation=ex:nothing", vec![]),
            // The attribute in the parameter's name, as some clients write it.
            ("HASATTR_bizLocation_urn:epcglobal:cbv:mda:sst", vec![&one]),
            ("HASATTR_readPoint=urn:epcglobal:cbv:mda:site", vec![&one]),
            ("HASATTR_readPoint=urn:threadline:field:region", vec![]),
            // A class's master data.
            (
                "EQ_ATTR_epcClass_urn:epcglobal:cbv:mda%23descriptionShort=Projector",
                vec![&three],
            ),
            (
                "EQ_ATTR_epcClass_urn:epcglobal:cbv:mda%23descriptionShort=Lamp",
                vec![],
            ),
            ("HASATTR_epcClass=cbvmda:descriptionShort", vec![&three]),
            // With other parameters.
            (
                "HASATTR_bizLocation=urn:epcglobal:cbv:mda:name&EQ_ATTR_bizLocation_urn:epcglobal:cbv:mda%23name=Plant",
                vec![&one],
            ),
        ] {
            let want: Vec<String> = want.into_iter().cloned().collect();
            assert_eq!(answered(&router, &auth, query).await, want, "{query}");
        }
        for (query, param) in [
            (
                "EQ_ATTR_epcList_urn:epcglobal:cbv:mda:name=x",
                "EQ_ATTR_epcList_urn:epcglobal:cbv:mda:name",
            ),
            ("EQ_ATTR_bizLocation=x", "EQ_ATTR_bizLocation"),
            ("EQ_ATTR_bizLocation_=x", "EQ_ATTR_bizLocation_"),
            (
                "EQ_ATTR_bizLocation_cbvmda:name=",
                "EQ_ATTR_bizLocation_cbvmda:name",
            ),
            ("HASATTR_bizStep=cbvmda:name", "HASATTR_bizStep"),
            ("HASATTR_bizLocation=", "HASATTR_bizLocation"),
        ] {
            let (st, body) = send(&router, &auth, get(&format!("/epcis/events?{query}"))).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(
                body["type"], "epcisException:QueryParameterException",
                "{query}"
            );
            assert_eq!(body["errors"][0]["field"], param, "{query}: {body}");
        }
    }
);

/// GRAIs (as EPC URNs and Digital Links), a GIAI, an SGLN as an object and a plain URI, in
/// each role a list gives them, beside Threadline's own units.
fn untracked_events() -> Vec<Value> {
    vec![
        event(
            &uuid(11),
            json!({"epcList": ["urn:epc:id:grai:0614141.12345.400"], "bizLocation": {"id": PLANT}}),
        ),
        event(
            &uuid(12),
            json!({"epcList": [
            threadline_epcis::format::to_digital_link("urn:epc:id:grai:0614141.12345.401").unwrap(),
            "https://id.gs1.org/01/10614141073464/21/11"], "bizLocation": {"id": PLANT},
            "action": "ADD", "bizStep": "commissioning", "disposition": "active"}),
        ),
        event(
            &uuid(13),
            json!({"epcList": ["urn:epc:id:grai:0614141.54321.400", "urn:epc:id:giai:0614141.A-1"]}),
        ),
        event(
            &uuid(14),
            json!({"type": "AggregationEvent", "action": "OBSERVE", "parentID": "urn:epc:id:giai:0614141.B-2",
            "childEPCs": ["https://example.com/asset/9", "urn:epc:id:sgln:0614141.00009.5"]}),
        ),
        event(
            &uuid(15),
            json!({"epcList": ["https://id.gs1.org/01/10614141073464/21/12"], "bizLocation": {"id": PLANT},
            "action": "ADD", "bizStep": "commissioning", "disposition": "active"}),
        ),
    ]
}

/// A query value of `MATCH_` that no index answers, so the events are judged one by one as
/// before the index (`*` after a URI that matches nothing).
const UNINDEXED: &str = "urn:nothing:*";

store_test!(
    objects_recorded_as_given_are_found_by_their_index,
    |s: TestStore| async move {
        let (router, auth) = setup(&s).await;
        capture(&router, &auth, document(json!([]), untracked_events())).await;
        let cases: Vec<(&str, String, Vec<u32>)> = vec![
            (
                "MATCH_epc",
                "urn:epc:id:grai:0614141.12345.400".into(),
                vec![11],
            ),
            (
                "MATCH_anyEPC",
                threadline_epcis::format::to_digital_link("urn:epc:id:grai:0614141.12345.400")
                    .unwrap(),
                vec![11],
            ),
            (
                "MATCH_epc",
                "urn:epc:id:grai:0614141.12345.401".into(),
                vec![12],
            ),
            (
                "MATCH_epc",
                "urn:epc:id:grai:0614141.12345.400%7Curn:epc:id:giai:0614141.A-1".into(),
                vec![11, 13],
            ),
            (
                "MATCH_epc",
                "urn:epc:idpat:grai:0614141.12345.*".into(),
                vec![11, 12],
            ),
            (
                "MATCH_anyEPC",
                "urn:epc:idpat:grai:0614141.*.*".into(),
                vec![11, 12, 13],
            ),
            (
                "MATCH_anyEPC",
                "urn:epc:idpat:grai:0614141.*.400".into(),
                vec![11, 13],
            ),
            (
                "MATCH_anyEPC",
                "urn:epc:idpat:grai:0614142.*.*".into(),
                vec![],
            ),
            (
                "MATCH_anyEPC",
                "urn:epc:idpat:giai:0614141.*".into(),
                vec![13, 14],
            ),
            (
                "MATCH_parentID",
                "urn:epc:id:giai:0614141.B-2".into(),
                vec![14],
            ),
            (
                "MATCH_parentID",
                "urn:epc:idpat:giai:0614141.*".into(),
                vec![14],
            ),
            ("MATCH_epc", "urn:epc:id:giai:0614141.B-2".into(), vec![]),
            ("MATCH_epc", "https://example.com/asset/9".into(), vec![14]),
            (
                "MATCH_anyEPC",
                "urn:epc:idpat:sgln:0614141.00009.*".into(),
                vec![14],
            ),
            (
                "MATCH_anyEPC",
                "https://id.gs1.org/414/0614141000098/254/5".into(),
                vec![14],
            ),
            (
                "MATCH_anyEPC",
                "urn:epc:idpat:sgtin:0614141.*.*".into(),
                vec![12, 15],
            ),
            ("MATCH_epc", "https://example.com/asset/10".into(), vec![]),
        ];
        let check = |label: &'static str| {
            let router = router.clone();
            let auth = auth.clone();
            let cases = cases.clone();
            async move {
                for (param, value, want) in &cases {
                    let want: Vec<String> = want.iter().map(|k| n(*k)).collect();
                    let indexed = answered(&router, &auth, &format!("{param}={value}")).await;
                    assert_eq!(indexed, want, "{label}: {param}={value}");
                    // The same as judging every event.
                    let judged =
                        answered(&router, &auth, &format!("{param}={value}%7C{UNINDEXED}")).await;
                    assert_eq!(judged, want, "{label}, judged: {param}={value}");
                }
            }
        };
        // The index itself: the events naming an object, in either form, or under a prefix.
        let indexed = |objects: Vec<ObjectMatch>| {
            let store = s.store.clone();
            async move {
                let q = EventQuery {
                    objects: Some(objects),
                    limit: 100,
                    ..EventQuery::default()
                };
                let page = store.events(&q).await.unwrap();
                page.items
                    .iter()
                    .map(|e| e.event.id.to_string())
                    .map(|id| id.trim_start_matches("00000000-0000-4000-8000-").to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let grai =
            threadline_epcis::format::to_digital_link("urn:epc:id:grai:0614141.12345.400").unwrap();
        for label in ["captured", "rebuilt"] {
            check(label).await;
            assert_eq!(
                indexed(vec![ObjectMatch::Uri(grai.clone())]).await,
                vec![n(11)],
                "{label}"
            );
            assert_eq!(
                indexed(vec![ObjectMatch::Uri(
                    "urn:epc:id:grai:0614141.12345.400".into()
                )])
                .await,
                vec![n(11)],
                "{label}"
            );
            assert_eq!(
                indexed(vec![
                    ObjectMatch::Prefix("urn:epc:id:giai:".into()),
                    ObjectMatch::Uri("https://example.com/asset/9".into())
                ])
                .await,
                vec![n(13), n(14)],
                "{label}"
            );
            assert_eq!(
                indexed(vec![ObjectMatch::Prefix("https://id.gs1.org/8003/".into())]).await,
                vec![n(11), n(12), n(13)],
                "{label}"
            );
            if label == "captured" {
                s.store.rebuild().await.unwrap();
            }
        }
    }
);

store_test!(
    an_explicit_count_unit_reads_back_as_sent,
    |s: TestStore| async move {
        let (router, auth) = setup(&s).await;
        let lot = |product: &str, lot: &str| format!("https://id.gs1.org/01/{product}/10/{lot}");
        let events = vec![
            // A count of a product counted in EA, with and without `uom`.
            event(
                &uuid(21),
                json!({"action": "ADD", "bizLocation": {"id": PLANT},
                "quantityList": [{"epcClass": lot("10614141073471", "L1"), "quantity": 5, "uom": "EA"}]}),
            ),
            event(
                &uuid(22),
                json!({"action": "ADD", "bizLocation": {"id": PLANT},
                "quantityList": [{"epcClass": lot("10614141073471", "L2"), "quantity": 5}]}),
            ),
            // A count of a product counted in KGM, with and without, beside its own unit.
            event(
                &uuid(23),
                json!({"action": "ADD", "bizLocation": {"id": PLANT},
                "quantityList": [
                    {"epcClass": lot("10614141073488", "R1"), "quantity": 2, "uom": "KGM"},
                    {"epcClass": lot("10614141073488", "R1"), "quantity": 4, "uom": "EA"},
                    {"epcClass": lot("10614141073488", "R2"), "quantity": 6}]}),
            ),
        ];
        capture(&router, &auth, document(json!([]), events.clone())).await;
        let mut sent_ctx = threadline_epcis::Context::default();
        sent_ctx.insert("ex", "https://ns.example.com/epcis/");
        for sent in &events {
            let id = sent["eventID"].as_str().unwrap();
            let (st, doc) = send(
                &router,
                &auth,
                get(&format!("/epcis/events?EQ_eventID={id}")),
            )
            .await;
            assert_eq!(st, StatusCode::OK, "{doc}");
            let back = &doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0];
            let mut ctx = threadline_epcis::Context::default();
            threadline_epcis::json::read_context(Some(&doc["@context"]), &mut ctx);
            assert_eq!(
                threadline_epcis::hash_id(back.as_object().unwrap(), &ctx),
                threadline_epcis::hash_id(sent.as_object().unwrap(), &sent_ctx),
                "{id}: {back}"
            );
            let uoms = |ev: &Value| -> Vec<Value> {
                let mut u: Vec<Value> = ev["quantityList"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| json!([q["epcClass"], q["quantity"], q.get("uom")]))
                    .collect();
                u.sort_by_key(|v| v.to_string());
                u
            };
            let mut sent_forms = sent.clone();
            for q in sent_forms["quantityList"].as_array_mut().unwrap() {
                q["epcClass"] = json!(q["epcClass"].as_str().unwrap());
            }
            assert_eq!(uoms(back), uoms(&sent_forms), "{id}: {back}");
        }
    }
);
