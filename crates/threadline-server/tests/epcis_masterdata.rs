//! EPCIS master data in a capture document's header, on both engines: the vocabulary elements
//! are kept as sent, apart from Threadline's own locations, and their `children` are the
//! hierarchy `WD_readPoint`/`WD_bizLocation` walk, with Threadline's own location tree. Also
//! what an `OBSERVE` AggregationEvent does to packing (nothing).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_epcis::masterdata::{BUSINESS_LOCATION, READ_POINT, key};
use threadline_server::{AppState, FixedClock, app};
use threadline_testkit::fixtures::{now, put, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// The plant (`0614141000012`) and the places the header puts under it; `U` is elsewhere.
const SITE: &str = "urn:epc:id:sgln:0614141.00001.0";
const C1: &str = "urn:epc:id:sgln:0614141.00002.0";
/// C2 as a Digital Link: the hierarchy compares GS1 keys in any form.
const C2: &str = "https://id.gs1.org/414/0614141000036";
/// C2's dock, under C2 in Threadline's own tree (not in the header).
const DOCK: &str = "urn:epc:id:sgln:0614141.00003.7";
/// Under C1 in the header.
const G: &str = "urn:epc:id:sgln:0614141.00004.0";
const U: &str = "urn:epc:id:sgln:0614141.00009.0";

async fn send(router: &axum::Router, auth: &str, req: Request<Body>) -> (StatusCode, Value) {
    let mut req = req;
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, ct: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", ct)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Threadline's own places: the five GLNs flat (no parent), C2's dock under C2.
async fn setup(s: &TestStore) {
    put(&**s, "product", json!({"code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"})).await;
    put(&**s, "product", json!({"code": "CASE", "name": "Case", "gtin": "10614141073471", "tracking": "serial", "container": true})).await;
    for (code, name) in [
        ("0614141000012", "Plant"),
        ("0614141000029", "Hall 1"),
        ("0614141000036", "Hall 2"),
        ("0614141000043", "Cell"),
        ("0614141000098", "Elsewhere"),
    ] {
        put(
            &**s,
            "location",
            json!({"code": code, "name": name, "kind": "site"}),
        )
        .await;
    }
    put(&**s, "location", json!({"code": "0614141000036.7", "name": "Dock", "kind": "area", "parent": "0614141000036"})).await;
}

async fn server(s: &TestStore, at: DateTime<Utc>) -> (axum::Router, String) {
    let state = AppState {
        clock: Arc::new(FixedClock(at)),
        ..AppState::new(s.store.clone())
    };
    let name = format!("epcis-md-{}", at.timestamp());
    let secret = token(&**s, &name, &[Role::Admin]).await;
    (app(state), format!("Bearer {secret}"))
}

/// A commissioning of serial `serial` at `place` (read point and business location).
fn commissioning(serial: &str, place: &str) -> Value {
    json!({"type": "ObjectEvent", "eventTime": "2022-02-16T08:00:00-06:00",
        "eventTimeZoneOffset": "-06:00", "epcList": [format!("https://id.gs1.org/01/10614141073464/21/{serial}")],
        "action": "ADD", "bizStep": "commissioning", "disposition": "active",
        "readPoint": {"id": place}, "bizLocation": {"id": place}})
}

/// One unit commissioned at each place, serials 1 to 6.
fn events() -> Vec<Value> {
    [SITE, C1, C2, DOCK, G, U]
        .iter()
        .enumerate()
        .map(|(i, p)| commissioning(&(i + 1).to_string(), p))
        .collect()
}

/// The header's vocabularies: the plant's business locations C1 and C2, C1's G; as read
/// points, U's C1.
fn vocabularies() -> Value {
    json!([
        {"type": "urn:epcglobal:epcis:vtype:BusinessLocation", "vocabularyElementList": [
            {"id": SITE, "attributes": [
                {"id": "urn:epcglobal:cbv:mda#name", "attribute": "Plant"},
                {"id": "https://ns.example.com/epcis/dims", "attribute": {"ex:w": 3, "ex:tags": ["a", "b"]}}],
             "children": [C1, C2]},
            {"id": C1, "children": [G]}]},
        {"type": "urn:epcglobal:epcis:vtype:ReadPoint", "vocabularyElementList": [
            {"id": U, "children": [C1]}]}
    ])
}

fn json_document(vocabularies: Value, events: Vec<Value>) -> String {
    json!({"@context": [CONTEXT, {"ex": "https://ns.example.com/epcis/"}], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2022-02-17T00:00:00Z",
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": events}})
    .to_string()
}

fn xml_event(serial: &str, place: &str) -> String {
    format!(
        "<ObjectEvent><eventTime>2022-02-16T08:00:00-06:00</eventTime><eventTimeZoneOffset>-06:00</eventTimeZoneOffset>\
         <epcList><epc>urn:epc:id:sgtin:0614141.107346.{serial}</epc></epcList><action>ADD</action>\
         <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep><disposition>urn:epcglobal:cbv:disp:active</disposition>\
         <readPoint><id>{place}</id></readPoint><bizLocation><id>{place}</id></bizLocation></ObjectEvent>"
    )
}

/// The same capture in XML: master data in the header's extension, as the standard's example
/// (`masterdata_all_possible_fields.xml`) has it.
fn xml_document(elements: &str) -> String {
    let events: String = [SITE, C1, C2, DOCK, G, U]
        .iter()
        .enumerate()
        .map(|(i, p)| xml_event(&(i + 1).to_string(), p))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:ex="https://ns.example.com/epcis/" schemaVersion="2.0" creationDate="2022-02-17T00:00:00Z">
<EPCISHeader><extension><EPCISMasterData><VocabularyList>{elements}</VocabularyList></EPCISMasterData></extension></EPCISHeader>
<EPCISBody><EventList>{events}</EventList></EPCISBody></epcis:EPCISDocument>"#
    )
}

fn xml_vocabularies() -> String {
    format!(
        r#"<Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation"><VocabularyElementList>
<VocabularyElement id="{SITE}"><attribute id="urn:epcglobal:cbv:mda#name">Plant</attribute>
<attribute id="https://ns.example.com/epcis/dims"><ex:w>3</ex:w></attribute>
<children><id>{C1}</id><id>{C2}</id></children></VocabularyElement>
<VocabularyElement id="{C1}"><children><id>{G}</id></children></VocabularyElement>
</VocabularyElementList></Vocabulary>
<Vocabulary type="urn:epcglobal:epcis:vtype:ReadPoint"><VocabularyElementList>
<VocabularyElement id="{U}"><children><id>{C1}</id></children></VocabularyElement>
</VocabularyElementList></Vocabulary>"#
    )
}

/// Captures a document (rollback): the job.
async fn capture(router: &axum::Router, auth: &str, ct: &str, doc: &str) -> Value {
    let req = post("/epcis/capture", ct, doc);
    let mut req = req;
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    let resp = router.clone().oneshot(req).await.unwrap();
    if resp.status() != StatusCode::ACCEPTED {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        panic!("{}", String::from_utf8_lossy(&bytes));
    }
    let job = resp.headers()["location"].to_str().unwrap().to_owned();
    send(router, auth, get(&job)).await.1
}

/// The serials of the events a query answers, sorted.
async fn serials(router: &axum::Router, auth: &str, query: &str) -> Vec<String> {
    let (st, doc) = send(router, auth, get(&format!("/epcis/events?{query}"))).await;
    assert_eq!(st, StatusCode::OK, "{query}: {doc}");
    let mut out: Vec<String> = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let epc = e["epcList"][0].as_str().unwrap();
            epc.rsplit('/').next().unwrap().to_owned()
        })
        .collect();
    out.sort();
    out
}

/// What `WD_` answers for the header's hierarchy, whichever binding carried it.
async fn assert_hierarchy(router: &axum::Router, auth: &str) {
    let enc = |u: &str| u.replace(':', "%3A").replace('/', "%2F");
    // The plant: itself, C1 and C2 (the header), G (under C1, the header), the dock (under
    // C2, Threadline's own tree); not U.
    assert_eq!(
        serials(router, auth, &format!("WD_bizLocation={}", enc(SITE))).await,
        ["1", "2", "3", "4", "5"]
    );
    // The same place named as a Digital Link.
    assert_eq!(
        serials(
            router,
            auth,
            "WD_bizLocation=https%3A%2F%2Fid.gs1.org%2F414%2F0614141000012"
        )
        .await,
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(
        serials(router, auth, &format!("EQ_bizLocation={}", enc(SITE))).await,
        ["1"]
    );
    assert_eq!(
        serials(router, auth, &format!("WD_bizLocation={}", enc(C2))).await,
        ["3", "4"]
    );
    // Read points follow the ReadPoint vocabulary only: the plant has no children there, U has
    // C1 (and C1's G is a business location's child, not a read point's).
    assert_eq!(
        serials(router, auth, &format!("WD_readPoint={}", enc(SITE))).await,
        ["1"]
    );
    assert_eq!(
        serials(router, auth, &format!("WD_readPoint={}", enc(U))).await,
        ["2", "6"]
    );
    assert_eq!(
        serials(router, auth, &format!("WD_bizLocation={}", enc(U))).await,
        ["6"]
    );
}

/// Threadline's own places are as they were: the header re-parented nothing.
async fn assert_locations_untouched(router: &axum::Router, auth: &str) {
    for code in ["0614141000029", "0614141000036", "0614141000043"] {
        let (st, loc) = send(router, auth, get(&format!("/api/v1/locations/{code}"))).await;
        assert_eq!(st, StatusCode::OK, "{loc}");
        assert!(loc["parent"].is_null(), "{loc}");
    }
}

store_test!(
    a_json_ld_header_hierarchy_widens_wd_queries_and_is_kept_as_sent,
    |s: TestStore| async move {
        setup(&s).await;
        let (router, auth) = server(&s, now()).await;
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(vocabularies(), events()),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert_hierarchy(&router, &auth).await;
        assert_locations_untouched(&router, &auth).await;

        // Stored exactly as sent, under its canonical key, with the capture's time.
        let stored = s
            .store
            .vocabulary(BUSINESS_LOCATION, &[key(SITE), key(C2), key(U)])
            .await
            .unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
        let site = &stored[0];
        assert_eq!(site.element.id, SITE);
        assert_eq!(site.element.children, [C1, C2]);
        assert_eq!(
            json!(site.element.attributes),
            vocabularies()[0]["vocabularyElementList"][0]["attributes"]
        );
        assert_eq!(site.recorded_at, now());
        let rp = s.store.vocabulary(READ_POINT, &[key(U)]).await.unwrap();
        assert_eq!(rp.len(), 1);
        assert_eq!(rp[0].element.children, [C1]);
    }
);

store_test!(
    an_xml_header_hierarchy_widens_wd_queries_the_same_way,
    |s: TestStore| async move {
        setup(&s).await;
        let (router, auth) = server(&s, now()).await;
        let job = capture(
            &router,
            &auth,
            "application/xml",
            &xml_document(&xml_vocabularies()),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert_hierarchy(&router, &auth).await;
        assert_locations_untouched(&router, &auth).await;
        let stored = s
            .store
            .vocabulary(BUSINESS_LOCATION, &[key(SITE)])
            .await
            .unwrap();
        assert_eq!(
            json!(stored[0].element.attributes),
            json!([{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Plant"},
                   {"id": "https://ns.example.com/epcis/dims", "attribute": {"ex:w": "3"}}])
        );
    }
);

store_test!(
    a_later_header_replaces_an_element_and_a_refused_capture_keeps_none,
    |s: TestStore| async move {
        setup(&s).await;
        let (router, auth) = server(&s, now()).await;
        let enc = |u: &str| u.replace(':', "%3A").replace('/', "%2F");
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(vocabularies(), events()),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");

        // A document whose event the ledger refuses (serial 1 is commissioned already): its
        // header goes with it.
        let moved = json!([{"type": "BusinessLocation", "vocabularyElementList": [
            {"id": SITE, "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Plant 2"}],
             "children": [U]}]}]);
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(moved.clone(), vec![commissioning("1", SITE)]),
        )
        .await;
        assert_eq!(job["success"], false, "{job}");
        assert_eq!(
            serials(&router, &auth, &format!("WD_bizLocation={}", enc(SITE))).await,
            ["1", "2", "3", "4", "5"]
        );

        // A later header with only master data re-states the plant: its children and
        // attributes now, with the later capture's time.
        let later = now() + Duration::hours(1);
        let (router, auth) = server(&s, later).await;
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(moved, Vec::new()),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert_eq!(
            serials(&router, &auth, &format!("WD_bizLocation={}", enc(SITE))).await,
            ["1", "6"]
        );
        let stored = s
            .store
            .vocabulary(BUSINESS_LOCATION, &[key(SITE)])
            .await
            .unwrap();
        assert_eq!(stored[0].element.children, [U]);
        assert_eq!(stored[0].element.attributes[0]["attribute"], "Plant 2");
        assert_eq!(stored[0].recorded_at, later);
        // C1's element, not re-stated, stays.
        assert_eq!(
            s.store
                .vocabulary(BUSINESS_LOCATION, &[key(C1)])
                .await
                .unwrap()[0]
                .element
                .children,
            [G]
        );
    }
);

store_test!(
    bad_master_data_is_refused_by_field_and_nothing_is_written,
    |s: TestStore| async move {
        setup(&s).await;
        let (router, auth) = server(&s, now()).await;
        let cases = [
            (
                "application/ld+json",
                json_document(
                    json!([{"type": "BusinessLocation", "vocabularyElementList": [{"children": [C1]}]}]),
                    events(),
                ),
                "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].id",
            ),
            (
                "application/ld+json",
                json_document(
                    json!([{"type": "BusinessLocation", "vocabularyElementList": [{"id": SITE, "children": C1}]}]),
                    events(),
                ),
                "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].children",
            ),
            (
                "application/ld+json",
                json_document(
                    json!([{"type": "BusinessLocation", "vocabularyElementList": [{"id": SITE, "parent": C1}]}]),
                    events(),
                ),
                "epcisHeader.epcisMasterData.vocabularyList[0].vocabularyElementList[0].parent",
            ),
            (
                "application/xml",
                xml_document(&format!(
                    r#"<Vocabulary type="urn:epcglobal:epcis:vtype:BusinessLocation"><VocabularyElementList>
<VocabularyElement><children><id>{C1}</id></children></VocabularyElement></VocabularyElementList></Vocabulary>"#
                )),
                "EPCISHeader.EPCISMasterData.VocabularyList.Vocabulary[0].VocabularyElementList.VocabularyElement[0].id",
            ),
            (
                "application/xml",
                xml_document(
                    r#"<Vocabulary><VocabularyElementList></VocabularyElementList></Vocabulary>"#,
                ),
                "EPCISHeader.EPCISMasterData.VocabularyList.Vocabulary[0].type",
            ),
        ];
        for (ct, doc, field) in cases {
            let (st, body) = send(&router, &auth, post("/epcis/capture", ct, &doc)).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{field}: {body}");
            assert_eq!(body["type"], "epcisException:ValidationException");
            assert_eq!(body["errors"][0]["field"], field, "{body}");
        }
        assert!(serials(&router, &auth, "").await.is_empty());
        assert!(
            s.store
                .vocabulary(BUSINESS_LOCATION, &[key(SITE), key(C1)])
                .await
                .unwrap()
                .is_empty()
        );
    }
);

store_test!(
    a_wd_place_known_to_neither_hierarchy_is_refused_and_one_only_in_master_data_is_not,
    |s: TestStore| async move {
        setup(&s).await;
        let (router, auth) = server(&s, now()).await;
        let (st, body) = send(
            &router,
            &auth,
            get("/epcis/events?WD_bizLocation=urn%3Aexample%3Aregion%3Anorth"),
        )
        .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["errors"][0]["field"], "WD_bizLocation");
        // A region that is no GLN, known from a header, stands for the places below it.
        let region = json!([{"type": "BusinessLocation", "vocabularyElementList": [
            {"id": "urn:example:region:north", "children": [C2]}]}]);
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(region, events()),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert_eq!(
            serials(
                &router,
                &auth,
                "WD_bizLocation=urn%3Aexample%3Aregion%3Anorth"
            )
            .await,
            ["3", "4"]
        );
    }
);

/// A case and the parent of each unit, read through the API.
async fn parent_of(router: &axum::Router, auth: &str, serial: &str) -> Value {
    let (st, item) = send(router, auth, get(&format!("/api/v1/items/PJ-1/{serial}"))).await;
    assert_eq!(st, StatusCode::OK, "{item}");
    item["parent"].clone()
}

store_test!(
    an_observe_aggregation_confirms_and_changes_no_packing,
    |s: TestStore| async move {
        setup(&s).await;
        let (router, auth) = server(&s, now()).await;
        let unit = |n: &str| format!("https://id.gs1.org/01/10614141073464/21/{n}");
        let case = "https://id.gs1.org/01/10614141073471/21/C1";
        let commission_case = json!({"type": "ObjectEvent", "eventTime": "2022-02-16T08:00:00Z",
            "eventTimeZoneOffset": "+00:00", "epcList": [case], "action": "ADD",
            "bizStep": "commissioning", "disposition": "active", "bizLocation": {"id": SITE}});
        let aggregation = |action: &str, step: &str, children: &[&str], hour: u32| {
            let children: Vec<String> = children.iter().map(|c| unit(c)).collect();
            json!({"type": "AggregationEvent", "eventTime": format!("2022-02-17T{hour:02}:00:00Z"),
                "eventTimeZoneOffset": "+00:00", "parentID": case, "childEPCs": children,
                "action": action, "bizStep": step, "bizLocation": {"id": SITE}})
        };
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(
                json!([]),
                vec![
                    commissioning("1", SITE),
                    commissioning("2", SITE),
                    commission_case,
                    aggregation("ADD", "packing", &["1"], 1),
                    // Seen in the case: unit 1, which is, and unit 2, which is not.
                    aggregation("OBSERVE", "inspecting", &["1", "2"], 2),
                    // Seen with only unit 2: unit 1 is not taken out either.
                    aggregation("OBSERVE", "inspecting", &["2"], 3),
                ],
            ),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert_eq!(parent_of(&router, &auth, "1").await["serial"], "C1");
        assert!(parent_of(&router, &auth, "2").await.is_null());
        // Unit 2 was only observed in the case: the partner's unpacking of it is recorded, takes
        // out nothing (it was never in) and says so — a discrepancy, not a refusal.
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(
                json!([]),
                vec![aggregation("DELETE", "unpacking", &["2"], 4)],
            ),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert_eq!(job["discrepancies"][0]["title"], "not_in_parent", "{job}");
        assert_eq!(
            job["discrepancies"][0]["field"], "epcisBody.eventList[0].childEPCs[0]",
            "{job}"
        );
        assert!(parent_of(&router, &auth, "2").await.is_null());
        assert_eq!(parent_of(&router, &auth, "1").await["serial"], "C1");
        // Unit 1 was packed by the ADD: taking it out works.
        let job = capture(
            &router,
            &auth,
            "application/ld+json",
            &json_document(
                json!([]),
                vec![aggregation("DELETE", "unpacking", &["1"], 5)],
            ),
        )
        .await;
        assert_eq!(job["success"], true, "{job}");
        assert!(parent_of(&router, &auth, "1").await.is_null());
    }
);
