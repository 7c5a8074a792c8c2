//! Round trips of the standard's example documents through the REST binding, on both engines:
//! each is captured (JSON-LD and XML), queried back in both forms, and must come back as the
//! same events — the same CBV 2.0 hash IDs, and where the source publishes them, exactly those.
//! The examples name products, places and parties Threadline must know (one event store: an
//! event moves what it names), so each test first loads what the document names as master data
//! and commissions the objects it expects to exist. Sources: `threadline-epcis/tests/fixtures/README.md`.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};
use threadline_domain::access::Role;
use threadline_domain::projection::{ItemStatus, Node};
use threadline_domain::quantity::Quantity;
use threadline_epcis::{Document, hash_id, ids};
use threadline_server::{AppState, FixedClock, app};
use threadline_store::Direction;
use threadline_testkit::fixtures::{now, put, token};
use threadline_testkit::{TestStore, store_test};
use tower::ServiceExt;

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../threadline-epcis/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn read(name: &str) -> Document {
    let text = fixture(name);
    if name.ends_with(".xml") {
        threadline_epcis::xml::parse_document(text.as_bytes()).unwrap()
    } else {
        threadline_epcis::parse_document(text.as_bytes()).unwrap()
    }
}

fn hashes(d: &Document) -> Vec<String> {
    d.events.iter().map(|e| hash_id(e, &d.context)).collect()
}

struct Server {
    router: axum::Router,
    auth: String,
}

impl Server {
    async fn new(s: &TestStore) -> Server {
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        let secret = token(&**s, "epcis-examples", &[Role::Admin]).await;
        Server {
            router: app(state),
            auth: format!("Bearer {secret}"),
        }
    }

    async fn send(&self, mut req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        req.headers_mut()
            .insert("authorization", self.auth.parse().unwrap());
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Captures a document and answers its finished capture job.
    async fn capture(&self, body: &str, content_type: &str, behaviour: &str) -> Value {
        let req = Request::post("/epcis/capture")
            .header("content-type", content_type)
            .header("GS1-Capture-Error-Behaviour", behaviour)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let (st, h, body) = self.send(req).await;
        assert_eq!(st, StatusCode::ACCEPTED, "{body}");
        let job = h["location"].to_str().unwrap().to_owned();
        let (st, _, job) = self
            .send(Request::get(&job).body(Body::empty()).unwrap())
            .await;
        assert_eq!(st, StatusCode::OK);
        serde_json::from_str(&job).unwrap()
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (st, _, body) = self
            .send(Request::get(uri).body(Body::empty()).unwrap())
            .await;
        (st, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// The eventIDs of the events a Simple Event Query parameter selects (JSON-LD).
    async fn matching(&self, param: &str, value: &str) -> Vec<String> {
        let v = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC);
        let (st, _, body) = self
            .send(
                Request::get(format!("/epcis/events?{param}={v}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        event_ids(&threadline_epcis::parse_document(body.as_bytes()).unwrap())
    }

    /// Captures the XML a query answers for these eventIDs: the same events again, each refused
    /// as the duplicate it is (`proceed`) — the XML binding reads them to the same hash IDs.
    async fn recapture_as_xml(&self, event_ids: &[String]) {
        let ids: Vec<String> = event_ids
            .iter()
            .map(|i| {
                percent_encoding::utf8_percent_encode(i, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        let (_, _, xml) = self
            .send(
                Request::get(format!("/epcis/events?EQ_eventID={}", ids.join("%7C")))
                    .header("accept", "application/xml")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let job = self.capture(&xml, "application/xml", "proceed").await;
        let errors = job["errors"].as_array().unwrap();
        assert_eq!(errors.len(), event_ids.len(), "{job:#}");
        assert!(
            errors.iter().all(|e| e["title"] == "duplicate_event"),
            "{job:#}"
        );
    }

    /// The events with these eventIDs, read back as JSON-LD and as XML, each parsed as a
    /// partner would.
    async fn query(&self, event_ids: &[String]) -> (Document, Document) {
        let ids: Vec<String> = event_ids
            .iter()
            .map(|i| {
                percent_encoding::utf8_percent_encode(i, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        let uri = format!(
            "/epcis/events?EQ_eventID={}&orderBy=eventTime&orderDirection=ASC",
            ids.join("%7C")
        );
        let (st, _, json) = self
            .send(Request::get(&uri).body(Body::empty()).unwrap())
            .await;
        assert_eq!(st, StatusCode::OK, "{json}");
        let json = threadline_epcis::parse_document(json.as_bytes()).unwrap();
        let (st, h, xml) = self
            .send(
                Request::get(&uri)
                    .header("accept", "application/xml")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{xml}");
        assert!(h["content-type"].to_str().unwrap().contains("xml"));
        let xml = threadline_epcis::xml::parse_document(xml.as_bytes()).unwrap();
        (json, xml)
    }
}

/// What a document names: products by GTIN (lot-tracked when named by a class, in the
/// quantity's unit), places and parties by GLN, and the units and lots that must exist before
/// it (everything an event names that it does not create).
#[derive(Default)]
struct Names {
    products: BTreeMap<String, (bool, String)>,
    /// GTINs of aggregation parents: cases and pallets.
    containers: BTreeSet<String>,
    places: BTreeSet<String>,
    parties: BTreeSet<String>,
    units: BTreeSet<String>,
    lots: BTreeMap<String, Option<String>>,
}

fn names(d: &Document) -> Names {
    let mut n = Names::default();
    for ev in &d.events {
        let creates = |list: &str| {
            list == "outputEPCList"
                || list == "outputQuantityList"
                || (ev.get("type") == Some(&json!("ObjectEvent"))
                    && ev.get("action") == Some(&json!("ADD")))
        };
        for list in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
            for epc in ev.get(list).and_then(Value::as_array).into_iter().flatten() {
                let epc = epc.as_str().unwrap();
                for g in ids::gtins([epc]) {
                    n.products
                        .entry(g.as_str().to_owned())
                        .or_insert((true, "EA".into()));
                }
                if !creates(list) && !ids::gtins([epc]).is_empty() {
                    n.units.insert(epc.to_owned());
                }
            }
        }
        if let Some(p) = ev.get("parentID").and_then(Value::as_str) {
            if ev.get("type") == Some(&json!("AggregationEvent")) {
                n.containers
                    .extend(ids::gtins([p]).iter().map(|g| g.as_str().to_owned()));
            }
            for g in ids::gtins([p]) {
                n.products
                    .entry(g.as_str().to_owned())
                    .or_insert((true, "EA".into()));
            }
            if !ids::gtins([p]).is_empty() {
                n.units.insert(p.to_owned());
            }
        }
        for list in [
            "quantityList",
            "childQuantityList",
            "inputQuantityList",
            "outputQuantityList",
        ] {
            for q in ev.get(list).and_then(Value::as_array).into_iter().flatten() {
                let class = q["epcClass"].as_str().unwrap();
                let uom = q.get("uom").and_then(Value::as_str).map(str::to_owned);
                for g in ids::gtins([class]) {
                    // A product has one unit: the first the document gives it.
                    n.products
                        .entry(g.as_str().to_owned())
                        .or_insert((false, uom.clone().unwrap_or_else(|| "EA".into())));
                }
                if !creates(list) && class.starts_with("urn:epc:class:lgtin:") {
                    n.lots.insert(class.to_owned(), uom);
                }
            }
        }
        for place in ["readPoint", "bizLocation"] {
            if let Some(id) = ev.get(place).and_then(|p| p["id"].as_str()) {
                n.places.insert(id.to_owned());
            }
        }
        for (list, key) in [("sourceList", "source"), ("destinationList", "destination")] {
            for x in ev.get(list).and_then(Value::as_array).into_iter().flatten() {
                let uri = x[key].as_str().unwrap().to_owned();
                if x["type"] == "location" {
                    n.places.insert(uri);
                } else {
                    n.parties.insert(uri);
                }
            }
        }
    }
    n
}

/// Loads what a document names and commissions what it expects to exist, at the start of 2000
/// at its first place, with `disposition` (which decides the state they are found in).
async fn prepare(s: &TestStore, server: &Server, d: &Document, disposition: &str) {
    let n = names(d);
    for (gtin, (serial, uom)) in &n.products {
        let tracking = if *serial { "serial" } else { "lot" };
        put(
            &**s,
            "product",
            json!({"code": format!("G{gtin}"), "name": format!("GTIN {gtin}"),
            "gtin": gtin, "tracking": tracking, "uom": uom, "container": n.containers.contains(gtin)}),
        )
        .await;
    }
    let codes: BTreeSet<String> = n
        .places
        .iter()
        .map(|p| ids::location(p).unwrap().as_str().to_owned())
        .collect();
    let sites: BTreeSet<&str> = codes
        .iter()
        .map(|c| c.split_once('.').map_or(c.as_str(), |(gln, _)| gln))
        .collect();
    for site in &sites {
        put(
            &**s,
            "location",
            json!({"code": site, "name": site, "kind": "site"}),
        )
        .await;
    }
    for (code, site) in codes.iter().filter_map(|c| Some((c, c.split_once('.')?.0))) {
        put(
            &**s,
            "location",
            json!({"code": code, "name": code, "kind": "area", "parent": site}),
        )
        .await;
    }
    for party in &n.parties {
        let code = ids::party(party).unwrap();
        put(
            &**s,
            "party",
            json!({"code": code.as_str(), "name": code.as_str(), "kind": "supplier"}),
        )
        .await;
    }
    if n.units.is_empty() && n.lots.is_empty() {
        return;
    }
    let place = n.places.iter().next().cloned().unwrap();
    let quantities: Vec<Value> = n
        .lots
        .iter()
        .map(|(class, uom)| match uom {
            Some(u) => json!({"epcClass": class, "quantity": 100000, "uom": u}),
            None => json!({"epcClass": class, "quantity": 100000}),
        })
        .collect();
    let mut ev = json!({"type": "ObjectEvent", "eventTime": "2000-01-01T00:00:00Z",
        "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizStep": "commissioning",
        "disposition": disposition, "epcList": n.units.iter().collect::<Vec<_>>(),
        "bizLocation": {"id": place}});
    if !quantities.is_empty() {
        ev["quantityList"] = Value::Array(quantities);
    }
    let doc = json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2000-01-01T00:00:00Z", "epcisBody": {"eventList": [ev]}});
    let job = server
        .capture(&doc.to_string(), "application/ld+json", "rollback")
        .await;
    assert_eq!(job["success"], true, "{job}");
}

/// The ID an event reads back under: its own eventID, or its hash.
fn event_ids(d: &Document) -> Vec<String> {
    d.events
        .iter()
        .map(|e| match e.get("eventID").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => hash_id(e, &d.context),
        })
        .collect()
}

/// Captures a whole document (`rollback`) in one binding, reads it back in both, and checks
/// the same events came back: their IDs, and their hash IDs as a partner computes them.
async fn round_trip(server: &Server, sent: &Document, body: &str, content_type: &str) {
    let job = server.capture(body, content_type, "rollback").await;
    assert_eq!(job["success"], true, "{job}");
    let ids = event_ids(sent);
    let (json, xml) = server.query(&ids).await;
    let expected: BTreeSet<(String, String)> = ids.into_iter().zip(hashes(sent)).collect();
    for back in [&json, &xml] {
        let got: BTreeSet<(String, String)> =
            event_ids(back).into_iter().zip(hashes(back)).collect();
        assert_eq!(got, expected, "{:?}", back.events);
    }
}

store_test!(
    the_persistent_disposition_example_round_trips,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("PersistentDisposition-example.jsonld");
        // Received from the supplier: on their way.
        prepare(&s, &server, &sent, "in_transit").await;
        round_trip(
            &server,
            &sent,
            &fixture("PersistentDisposition-example.jsonld"),
            "application/ld+json",
        )
        .await;
        // Kept exactly, and queried by the standard's parameter.
        let (json, _) = server.query(&event_ids(&sent)).await;
        assert_eq!(
            json.events[1]["persistentDisposition"],
            json!({"unset": ["completeness_inferred"], "set": ["completeness_verified"]})
        );
    }
);

store_test!(
    the_sensor_data_example_round_trips,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("SensorDataExample1.jsonld");
        prepare(&s, &server, &sent, "active").await;
        round_trip(
            &server,
            &sent,
            &fixture("SensorDataExample1.jsonld"),
            "application/ld+json",
        )
        .await;
        let (json, xml) = server.query(&event_ids(&sent)).await;
        // Kept exactly, but for the device's GIAI: a Digital Link, the binding's default
        // `GS1-EPC-Format`.
        let mut expected = sent.events[0]["sensorElementList"].clone();
        for el in expected.as_array_mut().unwrap() {
            el["sensorMetadata"]["deviceID"] = json!("https://id.gs1.org/8004/4000001111");
        }
        assert_eq!(json.events[0]["sensorElementList"], expected);
        assert_eq!(xml.events[0]["sensorElementList"], expected);
    }
);

store_test!(
    the_error_declaration_example_declares_a_captured_event,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld");
        // In stock, to be shipped.
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        // The declared event must be there first: the same event, same eventID, undeclared.
        let mut original: Map<String, Value> = sent.events[0].clone();
        original.remove("errorDeclaration");
        let doc = json!({"@context": [CONTEXT, {"example": "http://ns.example.com/epcis/"}],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2005-07-11T11:30:47.0Z",
            "epcisBody": {"eventList": [original]}});
        let job = server
            .capture(&doc.to_string(), "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job}");

        round_trip(
            &server,
            &sent,
            &fixture("Example_9.6.1-ObjectEvent-with-error-declaration.jsonld"),
            "application/ld+json",
        )
        .await;
        // Both the original and its declaration answer to the eventID; only one declares.
        let (json, _) = server.query(&event_ids(&sent)[..1]).await;
        assert_eq!(json.events.len(), 2, "{:?}", json.events);
        let declared: Vec<&Map<String, Value>> = json
            .events
            .iter()
            .filter(|e| e.contains_key("errorDeclaration"))
            .collect();
        assert_eq!(declared.len(), 1);
        assert_eq!(declared[0]["errorDeclaration"]["reason"], "incorrect_data");
        assert_eq!(
            declared[0]["errorDeclaration"]["correctiveEventIDs"],
            sent.events[0]["errorDeclaration"]["correctiveEventIDs"]
        );
    }
);

/// The discrepancies of a capture job, by the document's event index: `code.field` (the field
/// within the event, in EPCIS terms).
fn discrepancies(job: &Value) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for e in job["discrepancies"].as_array().into_iter().flatten() {
        let field = e["field"].as_str().unwrap();
        let (i, rest) = field
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .unwrap();
        out.entry(i.parse().unwrap())
            .or_default()
            .push(format!("{}{rest}", e["title"].as_str().unwrap()));
    }
    out
}

/// Captures the published `epcisDocWithVariousEventTypes` in one binding (`rollback`: all or
/// nothing) and checks what Threadline made of it: every event recorded and read back in both
/// bindings with its published hash ID; where the example disagrees with Threadline's state,
/// the disagreement listed by field; the state as the lenient rules leave it; and a rebuild
/// giving the same state and the same discrepancies.
async fn capture_various_event_types(s: &TestStore, fixture_name: &str, content_type: &str) {
    let server = Server::new(s).await;
    let sent = read("epcisDocWithVariousEventTypes.jsonld");
    let published: Vec<String> = fixture("epcisDocWithVariousEventTypes.hashes")
        .lines()
        .map(str::to_owned)
        .collect();
    prepare(s, &server, &sent, "sellable_not_accessible").await;
    let before = s.store.verify().await.unwrap().entries;
    let job = server
        .capture(&fixture(fixture_name), content_type, "rollback")
        .await;
    // SSCCs are containers (registered the first time an event names them), a lot may be
    // commissioned with no business location (3), one product is counted in KGM in one event
    // and as a count in another (5, 12). The example also reports what Threadline's state
    // disagrees with — lot quantities packed with no business location to take them from (5),
    // unpacking from a pallet children it never saw packed (7), and two transformations that
    // use inputs event 10 used up (11, 12: the example reuses them) —: a partner's report of
    // what happened, recorded all the same, each disagreement listed by field.
    assert_eq!(job["success"], true, "{job:#}");
    assert_eq!(job["errors"], json!([]), "{job:#}");
    let found = discrepancies(&job);
    assert_eq!(
        found.keys().copied().collect::<Vec<_>>(),
        [5, 7, 11, 12],
        "{job:#}"
    );
    assert!(
        job["discrepancies"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "{}[5]",
                if content_type.contains("xml") {
                    "EventList"
                } else {
                    "epcisBody.eventList"
                }
            )),
        "{job:#}"
    );
    assert_eq!(job["discrepancies"][0]["eventID"], published[5]);
    assert_eq!(
        found[&5],
        [
            "location_required.bizLocation.id",
            "location_required.bizLocation.id"
        ],
        "{job:#}"
    );
    assert_eq!(
        found[&7],
        [
            "not_in_parent.childEPCs[0]",
            "not_in_parent.childEPCs[1]",
            "not_in_parent.childEPCs[2]"
        ],
        "{job:#}"
    );
    assert_eq!(
        found[&11],
        [
            "item_scrapped.inputEPCList[0]",
            "item_scrapped.inputEPCList[1]",
            "location_required.bizLocation.id",
            "location_required.bizLocation.id"
        ],
        "{job:#}"
    );
    assert_eq!(
        found[&12],
        [
            "item_scrapped.inputEPCList[0]",
            "item_scrapped.inputEPCList[1]"
        ],
        "{job:#}"
    );
    // The 13 events, and the default container product `SSCC` the first SSCC needs.
    assert_eq!(s.store.verify().await.unwrap().entries, before + 14);

    // Read back in both forms, every event carries its published hash ID.
    let all = hashes(&sent);
    assert_eq!(all, published);
    let (json, xml) = server.query(&published).await;
    for back in [&json, &xml] {
        let got: BTreeSet<(String, String)> =
            event_ids(back).into_iter().zip(hashes(back)).collect();
        let want: BTreeSet<(String, String)> =
            published.iter().map(|h| (h.clone(), h.clone())).collect();
        assert_eq!(got, want);
    }
    assert_eq!(json.events.len(), 13);

    // The same document again, in the other binding: the same events, by their hash.
    let (other, other_type) = if content_type.contains("xml") {
        (
            "epcisDocWithVariousEventTypes.jsonld",
            "application/ld+json",
        )
    } else {
        ("epcisDocWithVariousEventTypes.xml", "application/xml")
    };
    let again = server.capture(&fixture(other), other_type, "proceed").await;
    let errors = again["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 13, "{again:#}");
    assert!(
        errors.iter().all(|e| e["title"] == "duplicate_event"),
        "{again:#}"
    );

    // What they did: the pallet of event 4, an SSCC of the default container product,
    // holds the four units packed into it; the SSCCs of events 0–2 exist; event 3's lot
    // exists with no stock anywhere.
    let (st, product) = server.get("/api/v1/products/SSCC").await;
    assert_eq!(st, StatusCode::OK, "{product}");
    assert_eq!(product["container"], true);
    let sscc = |uri: &str| ids::ssccs([uri]).remove(0);
    let pallet = s
        .store
        .item(&key("SSCC", &sscc("urn:epc:id:sscc:4047023.0111111122")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pallet.children.len(), 4, "{pallet:?}");
    for uri in [
        "urn:epc:id:sscc:5200001.0111111146",
        "urn:epc:id:sscc:4012345.0111111111",
    ] {
        assert!(
            s.store
                .item(&key("SSCC", &sscc(uri)))
                .await
                .unwrap()
                .is_some()
        );
    }
    // A unit or a lot by its EPC URN.
    let product = |uri: &str| format!("G{}", ids::gtins([uri])[0].as_str());
    let unit = |uri: &str| key(&product(uri), uri.rsplit('.').next().unwrap());
    let lot = |uri: &str| threadline_domain::codes::LotKey {
        product: threadline_domain::codes::ProductCode::parse(&product(uri)).unwrap(),
        lot: threadline_domain::codes::LotCode::parse(uri.rsplit('.').next().unwrap()).unwrap(),
    };
    let commissioned = s
        .store
        .lot(&lot("urn:epc:class:lgtin:4054739.099914.20160711"))
        .await
        .unwrap()
        .unwrap();
    assert!(commissioned.stock.is_empty(), "{commissioned:?}");
    // Event 5 packed lot quantities from nowhere: the lots' stock is where it was.
    let packed = s
        .store
        .lot(&lot("urn:epc:class:lgtin:4054739.012345.lot2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        packed
            .stock
            .iter()
            .map(|l| l.quantity)
            .collect::<Vec<Quantity>>(),
        [Quantity::from_units(100000)],
        "{packed:?}"
    );
    // Event 7 unpacked SSCCs that were in nothing: they are registered, in nothing, and the
    // pallet holds nothing.
    for serial in [
        "4012344.0998811123",
        "4012344.0998811124",
        "4012344.0998811125",
    ] {
        let uri = format!("urn:epc:id:sscc:{serial}");
        let unit = s
            .store
            .item(&key("SSCC", &sscc(&uri)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unit.parent, None, "{unit:?}");
    }
    let emptied = s
        .store
        .item(&key("SSCC", &sscc("urn:epc:id:sscc:4012344.0998811122")))
        .await
        .unwrap()
        .unwrap();
    assert!(emptied.children.is_empty(), "{emptied:?}");
    // Events 10–12 used the same two inputs: they stay consumed (by event 10), and the
    // outputs of each transformation trace back to them.
    let input = unit("urn:epc:id:sgtin:4012345.011122.25");
    let used = s.store.item(&input).await.unwrap().unwrap();
    assert_eq!(used.status, ItemStatus::Consumed);
    let made = s
        .store
        .links(
            &Node::Lot(lot("urn:epc:class:lgtin:4054739.099902.P20131121")),
            Direction::Children,
        )
        .await
        .unwrap();
    let inputs: BTreeSet<Node> = made.into_iter().map(|l| l.node).collect();
    assert!(inputs.contains(&Node::Item(input.clone())), "{inputs:?}");
    let output = unit("urn:epc:id:sgtin:4012345.077889.25");
    let from: Vec<Node> = s
        .store
        .links(&Node::Item(output), Direction::Children)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.node)
        .collect();
    // Event 10, and again event 11: with its lots.
    assert_eq!(
        from.iter()
            .filter(|n| **n == Node::Item(input.clone()))
            .count(),
        2,
        "{from:?}"
    );
    assert!(
        from.contains(&Node::Lot(lot("urn:epc:class:lgtin:4012345.011111.4444"))),
        "{from:?}"
    );

    // A rebuild replays the ledger under the same rule: the same state, the same
    // discrepancies.
    let live = s.store.snapshot().await.unwrap();
    assert_eq!(live.discrepancies.len(), 11, "{:?}", live.discrepancies);
    s.store.rebuild().await.unwrap();
    assert_eq!(s.store.snapshot().await.unwrap(), live);
    let (st, read) = server
        .get(&format!(
            "/api/v1/events/{}",
            s.store.snapshot().await.unwrap().events[8].1
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{read}");
    assert_eq!(
        read["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["childEPCs[0]", "childEPCs[1]", "childEPCs[2]"],
        "{read:#}"
    );
}

store_test!(
    every_event_type_of_the_hash_vectors_is_captured_from_json_ld_with_its_discrepancies,
    |s: TestStore| async move {
        capture_various_event_types(
            &s,
            "epcisDocWithVariousEventTypes.jsonld",
            "application/ld+json",
        )
        .await;
    }
);

store_test!(
    every_event_type_of_the_hash_vectors_is_captured_from_xml_with_its_discrepancies,
    |s: TestStore| async move {
        capture_various_event_types(&s, "epcisDocWithVariousEventTypes.xml", "application/xml")
            .await;
    }
);

fn key(product: &str, serial: &str) -> threadline_domain::codes::ItemKey {
    threadline_domain::codes::ItemKey {
        product: threadline_domain::codes::ProductCode::parse(product).unwrap(),
        serial: threadline_domain::codes::Serial::parse(serial).unwrap(),
    }
}

store_test!(
    the_persistent_disposition_example_round_trips_from_xml,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("persistentDisposition.xml");
        // In stock, to be shipped.
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        round_trip(
            &server,
            &sent,
            &fixture("persistentDisposition.xml"),
            "application/xml",
        )
        .await;
        let (json, xml) = server.query(&event_ids(&sent)).await;
        for back in [&json, &xml] {
            let sets: Vec<&Value> = back
                .events
                .iter()
                .map(|e| &e["persistentDisposition"])
                .collect();
            assert!(sets.contains(&&json!({"set": ["recalled"]})), "{sets:?}");
            assert!(sets.contains(&&json!({"unset": ["recalled"]})), "{sets:?}");
        }
    }
);

store_test!(
    the_aggregation_example_with_persistent_dispositions_round_trips_from_xml,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("Example-PersistentDisposition.xml");
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        // The case arrives packed. Threadline records an OBSERVE aggregation without changing
        // what is in what, so the unpacking (DELETE) needs the packing to have been recorded:
        // here, as the supplier's ADD. (The standard reads OBSERVE as "these children are seen
        // in this parent"; Threadline does not yet take that as containment.)
        let mut pack = sent.events[0].clone();
        for k in [
            "persistentDisposition",
            "bizTransactionList",
            "sourceList",
            "destinationList",
        ] {
            pack.remove(k);
        }
        pack.insert("action".into(), json!("ADD"));
        pack.insert("bizStep".into(), json!("packing"));
        pack.insert("eventTime".into(), json!("2020-06-01T00:00:00Z"));
        let doc = json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2020-06-01T00:00:00Z", "epcisBody": {"eventList": [pack]}});
        let job = server
            .capture(&doc.to_string(), "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job}");
        round_trip(
            &server,
            &sent,
            &fixture("Example-PersistentDisposition.xml"),
            "application/xml",
        )
        .await;
    }
);

store_test!(
    sensor_data_captured_from_xml_reads_back_with_its_published_hash_ids,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let name = "SensorDataExamples-cases-1-6-7.xml";
        let sent = read(name);
        let published: Vec<String> = fixture("SensorDataExamples-cases-1-6-7.hashes")
            .lines()
            .map(str::to_owned)
            .collect();
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        // Case 6 reports the conditions at a place with no object (an empty epcList), as
        // EPCIS 2.0 allows: captured first from its JSON-LD form, it is a ledger event that
        // changes no unit.
        let mut context = Map::new();
        for (prefix, iri) in sent.context.prefixes() {
            context.insert(prefix.clone(), json!(iri));
        }
        let case6 = json!({"@context": [CONTEXT, context], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": "2024-01-01T00:00:00Z",
            "epcisBody": {"eventList": [sent.events[1].clone()]}});
        let before = s.store.verify().await.unwrap().entries;
        let job = server
            .capture(&case6.to_string(), "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        assert_eq!(s.store.verify().await.unwrap().entries, before + 1);

        // The whole document from XML: case 6 is there already, the others are captured.
        let job = server
            .capture(&fixture(name), "application/xml", "proceed")
            .await;
        let errors = job["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{job:#}");
        assert_eq!(errors[0]["field"], "EventList[1].eventID");
        assert_eq!(errors[0]["title"], "duplicate_event");

        let (json, xml) = server.query(&published).await;
        let want: BTreeSet<&String> = published.iter().collect();
        for back in [&json, &xml] {
            assert_eq!(event_ids(back).iter().collect::<BTreeSet<_>>(), want);
            assert_eq!(hashes(back).iter().collect::<BTreeSet<_>>(), want);
        }
        assert_eq!(json.events.len(), 3);
        for (j, x) in json.events.iter().zip(&xml.events) {
            assert_eq!(j["sensorElementList"], x["sensorElementList"]);
        }
        let captured = [published[0].clone(), published[2].clone()];
        let (json, xml) = server.query(&captured).await;
        // The readings come back as sent, in both bindings.
        assert_eq!(
            json.events[1]["sensorElementList"][0]["sensorReport"][1],
            json!({"type": "rail:Abc", "stringValue": "111100001111000011110000",
                "deviceID": "https://id.gs1.org/8004/4000001112"})
        );
        assert_eq!(
            xml.events[1]["sensorElementList"],
            json.events[1]["sensorElementList"]
        );
    }
);

/// A document of `events` under `@context`.
fn document(context: Value, events: Vec<Value>) -> String {
    json!({"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z", "epcisBody": {"eventList": events}})
    .to_string()
}

fn lot_key(product: &str, lot: &str) -> threadline_domain::codes::LotKey {
    threadline_domain::codes::LotKey {
        product: threadline_domain::codes::ProductCode::parse(product).unwrap(),
        lot: threadline_domain::codes::LotCode::parse(lot).unwrap(),
    }
}

store_test!(
    sscc_pallets_are_containers_packed_shipped_and_unpacked_with_their_contents,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        for (kind, def) in [
            (
                "product",
                json!({"code": "PJ", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"}),
            ),
            (
                "product",
                json!({"code": "PAL", "name": "Pallet", "tracking": "serial", "container": true}),
            ),
            (
                "location",
                json!({"code": "WH", "name": "Warehouse", "kind": "site"}),
            ),
            (
                "location",
                json!({"code": "DOCK", "name": "Dock", "kind": "area", "parent": "WH"}),
            ),
            (
                "party",
                json!({"code": "CUST", "name": "Customer", "kind": "customer"}),
            ),
        ] {
            put(&*s, kind, def).await;
        }
        let sgtin = |n: u32| format!("urn:epc:id:sgtin:0614141.107346.{n}");
        let pallet_urn = "urn:epc:id:sscc:0614141.1234567890";
        let pallet = ids::ssccs([pallet_urn]).remove(0);
        let pallet_dl = format!("https://id.gs1.org/00/{pallet}");
        let at = |loc: &str| json!({"id": format!("urn:threadline:loc:{loc}")});
        let events = vec![
            json!({"type": "ObjectEvent", "eventTime": "2024-03-01T08:00:00Z", "eventTimeZoneOffset": "+08:00",
                "action": "ADD", "bizStep": "commissioning", "disposition": "sellable_not_accessible",
                "epcList": [sgtin(2017), sgtin(2018), sgtin(2019)], "bizLocation": at("WH")}),
            // Packed into a pallet no one registered: an SSCC of the default container product.
            json!({"type": "AggregationEvent", "eventTime": "2024-03-01T09:00:00Z", "eventTimeZoneOffset": "+08:00",
                "action": "ADD", "bizStep": "packing", "parentID": pallet_urn,
                "childEPCs": [sgtin(2017), sgtin(2018)], "bizLocation": at("WH")}),
            // Shipped by its SSCC as a Digital Link: what is in it goes with it.
            json!({"type": "ObjectEvent", "eventTime": "2024-03-01T10:00:00Z", "eventTimeZoneOffset": "+08:00",
                "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
                "epcList": [pallet_dl], "bizLocation": at("DOCK"),
                "destinationList": [{"type": "possessing_party", "destination": "urn:threadline:party:CUST"}]}),
        ];
        let ctx = json!([CONTEXT]);
        let job = server
            .capture(
                &document(ctx.clone(), events.clone()),
                "application/ld+json",
                "rollback",
            )
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        let (st, product) = server.get("/api/v1/products/SSCC").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(product["container"], true);
        let unit = |serial: &str| key("PJ", serial);
        for serial in ["2017", "2018"] {
            let u = s.store.item(&unit(serial)).await.unwrap().unwrap();
            assert_eq!(u.status.as_str(), "in_transit", "{u:?}");
            assert_eq!(u.parent, Some(key("SSCC", &pallet)));
            assert_eq!(u.custodian.as_deref(), Some("CUST"));
            assert_eq!(u.location.as_deref(), Some("DOCK"));
        }
        let loose = s.store.item(&unit("2019")).await.unwrap().unwrap();
        assert_eq!(loose.status.as_str(), "in_stock");

        // Unpacked (DELETE) by its SSCC as an EPC URN: the unit named leaves the pallet.
        let unpack = json!({"type": "AggregationEvent", "eventTime": "2024-03-02T09:00:00Z",
            "eventTimeZoneOffset": "+08:00", "action": "DELETE", "bizStep": "unpacking",
            "parentID": pallet_urn, "childEPCs": [sgtin(2017)], "bizLocation": at("WH")});
        let job = server
            .capture(
                &document(ctx.clone(), vec![unpack.clone()]),
                "application/ld+json",
                "rollback",
            )
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        assert_eq!(
            s.store.item(&unit("2017")).await.unwrap().unwrap().parent,
            None
        );
        let p = s.store.item(&key("SSCC", &pallet)).await.unwrap().unwrap();
        assert_eq!(p.children, vec![unit("2018")]);

        // Read back with the same hash IDs, in both bindings; found by the SSCC in either form.
        let mut all = events.clone();
        all.push(unpack);
        let sent = threadline_epcis::parse_document(document(ctx.clone(), all).as_bytes()).unwrap();
        let ids_sent = event_ids(&sent);
        let (json, xml) = server.query(&ids_sent).await;
        for back in [&json, &xml] {
            assert_eq!(hashes(back), hashes(&sent));
            assert_eq!(back.events[1]["parentID"], pallet_dl);
        }
        assert_eq!(
            server.matching("MATCH_parentID", pallet_urn).await,
            [ids_sent[1].clone(), ids_sent[3].clone()]
        );
        assert_eq!(
            server.matching("MATCH_epc", pallet_urn).await,
            [ids_sent[2].clone()]
        );
        server.recapture_as_xml(&ids_sent).await;

        // A scanned SSCC is that pallet.
        let (st, scan) = server
            .get(&format!("/api/v1/scan?code=%2800%29{pallet}"))
            .await;
        assert_eq!(st, StatusCode::OK, "{scan}");
        assert_eq!(scan["resolved"]["kind"], "item");
        assert_eq!(scan["resolved"]["item"]["product"], "SSCC");
        assert_eq!(scan["resolved"]["item"]["serial"], pallet);

        // An SSCC packed through the plant's own operation is that container, not another.
        let own_urn = "urn:epc:id:sscc:0614141.0000000001";
        let own = ids::ssccs([own_urn]).remove(0);
        let (st, _, body) = server
            .send(
                Request::post("/api/v1/ops/pack")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"container": {"product": "PAL", "serial": own},
                            "items": [{"product": "PJ", "serial": "2019"}], "location": "WH"})
                        .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert!(st.is_success(), "{body}");
        let ship = json!({"type": "ObjectEvent", "eventTime": "2024-03-03T10:00:00Z", "eventTimeZoneOffset": "+08:00",
            "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
            "epcList": [own_urn], "bizLocation": at("DOCK")});
        let job = server
            .capture(
                &document(ctx, vec![ship]),
                "application/ld+json",
                "rollback",
            )
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        assert_eq!(
            s.store
                .item(&unit("2019"))
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "in_transit"
        );
        assert!(s.store.item(&key("SSCC", &own)).await.unwrap().is_none());
    }
);

store_test!(
    objects_of_other_gs1_keys_and_gtins_without_a_lot_are_recorded_as_given,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        // A returnable asset (GRAI) with two fixed assets (GIAI), ten of a GTIN without a lot
        // and 200.5 kg of a lot associated with it.
        let name = "AssociationEvent_all_possible_fields.json";
        let sent = read(name);
        let published: Vec<String> = fixture("AssociationEvent_all_possible_fields.hashes")
            .lines()
            .map(str::to_owned)
            .collect();
        prepare(&s, &server, &sent, "active").await;
        let resin = lot_key("G04012345123456", "998877");
        let stock = |lot: threadline_store::LotView| -> Vec<(String, String)> {
            lot.stock
                .iter()
                .map(|l| (l.location.clone(), l.quantity.to_string()))
                .collect()
        };
        let before = stock(s.store.lot(&resin).await.unwrap().unwrap());
        round_trip(&server, &sent, &fixture(name), "application/ld+json").await;
        assert_eq!(hashes(&sent), published);
        // The GRAI is not tracked: nothing moved into it, no lot of the GTIN was made.
        assert_eq!(stock(s.store.lot(&resin).await.unwrap().unwrap()), before);
        let (st, lots) = server.get("/api/v1/lots?product=G04012345987652").await;
        assert_eq!(st, StatusCode::OK, "{lots}");
        assert_eq!(lots["items"], json!([]), "{lots}");
        // Queried by what it names, in either form.
        for (param, value) in [
            ("MATCH_parentID", "urn:epc:id:grai:4012345.55555.987"),
            ("MATCH_anyEPC", "https://id.gs1.org/8004/400000112346"),
            ("MATCH_epc", "urn:epc:id:giai:4000001.12345"),
            ("MATCH_epcClass", "https://id.gs1.org/01/04012345987652"),
            ("MATCH_anyEPCClass", "urn:epc:idpat:sgtin:4012345.098765.*"),
        ] {
            assert_eq!(
                server.matching(param, value).await,
                published,
                "{param}={value}"
            );
        }
        assert_eq!(
            server
                .matching("MATCH_anyEPC", "urn:epc:id:giai:4000001.99999")
                .await,
            Vec::<String>::new()
        );
        server.recapture_as_xml(&published).await;

        // An event that names only what Threadline does not track — a document (GDTI), a
        // service relation (GSRN), a place named as an object (SGLN) and a quantity of a GTIN —
        // is a ledger event all the same, chained like any other, and changes no unit.
        let gsrn = "urn:epc:id:gsrn:0614141.0000010253";
        let ev = json!({"type": "ObjectEvent", "eventTime": "2024-03-01T08:00:00Z",
            "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "inspecting",
            "epcList": ["urn:epc:id:gdti:0614141.00001.1618034", gsrn, "urn:epc:id:sgln:4012345.00001.0"],
            "quantityList": [{"epcClass": "https://id.gs1.org/01/04012345987652", "quantity": 5}],
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}});
        let body = document(json!([CONTEXT]), vec![ev]);
        let before = s.store.verify().await.unwrap().entries;
        let job = server
            .capture(&body, "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        let report = s.store.verify().await.unwrap();
        assert_eq!(report.entries, before + 1);
        let sent = threadline_epcis::parse_document(body.as_bytes()).unwrap();
        round_trip_read(&server, &sent).await;
        let dl = ids::canonical_gs1_uri(gsrn).unwrap();
        assert_eq!(server.matching("MATCH_epc", &dl).await, event_ids(&sent));
        server.recapture_as_xml(&event_ids(&sent)).await;
    }
);

/// Reads the events of `sent` back in both bindings: the same IDs and hash IDs.
async fn round_trip_read(server: &Server, sent: &Document) {
    let ids = event_ids(sent);
    let (json, xml) = server.query(&ids).await;
    let expected: BTreeSet<(String, String)> = ids.into_iter().zip(hashes(sent)).collect();
    for back in [&json, &xml] {
        let got: BTreeSet<(String, String)> =
            event_ids(back).into_iter().zip(hashes(back)).collect();
        assert_eq!(got, expected, "{:?}", back.events);
    }
}

store_test!(
    lots_made_without_a_place_and_a_product_counted_in_two_units,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let name = "epcisDocWithVariousEventTypes.jsonld";
        let doc = read(name);
        let published: Vec<String> = fixture("epcisDocWithVariousEventTypes.hashes")
            .lines()
            .map(str::to_owned)
            .collect();
        let pick = |idx: &[usize]| Document {
            kind: doc.kind,
            context: doc.context.clone(),
            events: idx.iter().map(|&i| doc.events[i].clone()).collect(),
            events_path: doc.events_path,
            master_data: Vec::new(),
        };
        // What events 3, 5 and 12 name: event 5 counts product 4054739099902 in KGM, and
        // event 12 makes a lot of it given as a count.
        prepare(&s, &server, &pick(&[3, 5, 12]), "active").await;
        // Event 3 commissions a lot with no business location; event 12 makes one (of the
        // product counted in KGM, as a count) with none either.
        let mut body: Value = serde_json::from_str(&fixture(name)).unwrap();
        body["epcisBody"]["eventList"] = json!([doc.events[3], doc.events[12]]);
        let job = server
            .capture(&body.to_string(), "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        let captured = [published[3].clone(), published[12].clone()];
        let (json, xml) = server.query(&captured).await;
        for back in [&json, &xml] {
            assert_eq!(
                event_ids(back).iter().collect::<BTreeSet<_>>(),
                captured.iter().collect::<BTreeSet<_>>()
            );
            assert_eq!(
                hashes(back).iter().collect::<BTreeSet<_>>(),
                captured.iter().collect::<BTreeSet<_>>()
            );
            let made = back
                .events
                .iter()
                .find(|e| e.contains_key("outputQuantityList"))
                .unwrap();
            assert_eq!(made["outputQuantityList"][0].get("uom"), None);
        }
        server.recapture_as_xml(&captured).await;
        // Both lots exist; neither has stock anywhere until an event puts some somewhere.
        for (product, lot) in [
            ("G04054739999148", "20160711"),
            ("G04054739999025", "P20131121"),
        ] {
            let l = s.store.lot(&lot_key(product, lot)).await.unwrap().unwrap();
            assert!(l.stock.is_empty(), "{l:?}");
        }

        // One event giving one lot in kilograms and in litres: both kept as given; the stock
        // is counted in the product's unit (KGM), the litres move none.
        let place = "urn:epc:id:sgln:4012345.00001.0";
        let class = "urn:epc:class:lgtin:4054739.099902.LX1";
        let ev = json!({"type": "ObjectEvent", "eventTime": "2024-03-01T08:00:00Z",
            "eventTimeZoneOffset": "+00:00", "action": "ADD", "bizStep": "commissioning",
            "quantityList": [{"epcClass": class, "quantity": 100, "uom": "KGM"},
                             {"epcClass": class, "quantity": 40, "uom": "LTR"}],
            "readPoint": {"id": place}, "bizLocation": {"id": place}});
        let body = document(json!([CONTEXT]), vec![ev]);
        let job = server
            .capture(&body, "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        let sent = threadline_epcis::parse_document(body.as_bytes()).unwrap();
        round_trip_read(&server, &sent).await;
        let (json, _) = server.query(&event_ids(&sent)).await;
        let uoms: BTreeSet<&str> = json.events[0]["quantityList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["uom"].as_str().unwrap())
            .collect();
        assert_eq!(uoms, BTreeSet::from(["KGM", "LTR"]));
        let l = s
            .store
            .lot(&lot_key("G04054739999025", "LX1"))
            .await
            .unwrap()
            .unwrap();
        let code = ids::location(place).unwrap();
        assert_eq!(
            l.stock
                .iter()
                .map(|x| (x.location.as_str(), x.quantity.to_string()))
                .collect::<Vec<_>>(),
            [(code.as_str(), "100".to_owned())]
        );
        server.recapture_as_xml(&event_ids(&sent)).await;
    }
);

store_test!(
    what_is_malformed_is_still_refused_by_field,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        put(
            &*s,
            "product",
            json!({"code": "PJ", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"}),
        )
        .await;
        let ev = |extra: Value| {
            let mut e = json!({"type": "ObjectEvent", "eventTime": "2024-03-01T08:00:00Z",
                "eventTimeZoneOffset": "+00:00", "action": "OBSERVE"});
            for (k, v) in extra.as_object().unwrap() {
                e[k] = v.clone();
            }
            e
        };
        let events = vec![
            // Not a URI at all.
            ev(json!({"epcList": ["PALLET 7"]})),
            // An SSCC one digit short.
            json!({"type": "AggregationEvent", "eventTime": "2024-03-01T08:00:00Z",
                "eventTimeZoneOffset": "+00:00", "action": "ADD",
                "parentID": "urn:epc:id:sscc:0614141.123456789",
                "childEPCs": ["urn:epc:id:sgtin:0614141.107346.1"]}),
            // A bare word CBV does not have.
            ev(json!({"bizStep": "shipped", "epcList": ["urn:epc:id:grai:4012345.55555.987"]})),
            // A GTIN whose check digit is wrong (one no product holds is a partner's own,
            // recorded as given).
            ev(
                json!({"quantityList": [{"epcClass": "https://id.gs1.org/01/04012345111119", "quantity": 3}]}),
            ),
            // A unit of measure that is no UN/CEFACT code.
            ev(
                json!({"quantityList": [{"epcClass": "https://id.gs1.org/01/10614141073464/10/L1", "quantity": 2, "uom": "kg"}]}),
            ),
            // A class where an object belongs.
            ev(json!({"epcList": ["urn:epc:idpat:sgtin:0614141.107346.*"]})),
        ];
        let before = s.store.verify().await.unwrap().entries;
        let (st, _, body) = server
            .send(
                Request::post("/epcis/capture")
                    .header("content-type", "application/ld+json")
                    .body(Body::from(document(json!([CONTEXT]), events)))
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let got: BTreeSet<(String, String)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let l = "epcisBody.eventList";
        for (field, code) in [
            (format!("{l}[0].epcList[0]"), "invalid_identifier"),
            (format!("{l}[1].parentID"), "invalid_epc_urn"),
            (format!("{l}[2].bizStep"), "unknown_vocabulary"),
            (
                format!("{l}[3].quantityList[0].epcClass"),
                "invalid_check_digit",
            ),
            (format!("{l}[4].quantityList[0].uom"), "invalid_uom"),
            (format!("{l}[5].epcList[0]"), "unsupported_identifier"),
        ] {
            assert!(
                got.contains(&(field.clone(), code.to_owned())),
                "{field} {code}: {body:#}"
            );
        }
        assert_eq!(s.store.verify().await.unwrap().entries, before);
    }
);

/// The unpacking of the published example's event 7 (three SSCCs Threadline never saw packed),
/// as a one-event EPCIS document.
fn unpacking(read_point: &str) -> String {
    let mut ev = read("epcisDocWithVariousEventTypes.jsonld").events[7].clone();
    ev.insert("readPoint".into(), json!({"id": read_point}));
    json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2019-10-21T12:00:00Z", "epcisBody": {"eventList": [ev]}})
    .to_string()
}

store_test!(
    a_conflicting_event_is_refused_through_threadlines_own_api_and_recorded_from_a_partner,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("epcisDocWithVariousEventTypes.jsonld");
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        put(
            &*s,
            "product",
            json!({"code": "SSCC", "name": "SSCC", "tracking": "serial", "uom": "EA", "container": true}),
        )
        .await;
        let sscc = |uri: &str| ids::ssccs([uri]).remove(0);
        let place = ids::location("urn:epc:id:sgln:4012345.00077.0").unwrap();
        let unit = |uri: &str| json!({"product": "SSCC", "serial": sscc(uri)});
        let before = s.store.verify().await.unwrap().entries;
        let own = json!({"type": "aggregation", "action": "DELETE",
            "event_time": "2019-10-21T14:02:56+02:00", "biz_step": "unpacking",
            "read_point": place.as_str(), "parent": unit("urn:epc:id:sscc:4012344.0998811122"),
            "children": [unit("urn:epc:id:sscc:4012344.0998811123"),
                unit("urn:epc:id:sscc:4012344.0998811124")]});
        let (st, _, body) = server
            .send(
                Request::post("/api/v1/events")
                    .header("content-type", "application/json")
                    .body(Body::from(own.to_string()))
                    .unwrap(),
            )
            .await;
        // Threadline's own API stays strict: the same refusal as before, nothing written.
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let refused: Vec<(&str, &str)> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["code"].as_str().unwrap(), e["field"].as_str().unwrap()))
            .collect();
        assert_eq!(
            refused,
            [
                ("not_in_parent", "children[0].serial"),
                ("not_in_parent", "children[1].serial")
            ],
            "{body:#}"
        );
        assert_eq!(s.store.verify().await.unwrap().entries, before);

        // A malformed EPCIS document is refused by field, with nothing written: here the
        // same unpacking read at a place Threadline does not know.
        let job = server
            .capture(
                &unpacking("urn:epc:id:sgln:4012345.00099.0"),
                "application/ld+json",
                "rollback",
            )
            .await;
        assert_eq!(job["success"], false, "{job:#}");
        let text = job.to_string();
        assert!(text.contains("unknown_location"), "{job:#}");
        assert!(text.contains("readPoint.id"), "{job:#}");
        assert!(!text.contains("not_in_parent"), "{job:#}");
        assert_eq!(s.store.verify().await.unwrap().entries, before);

        // From a partner, through the EPCIS binding, the event is what happened: recorded,
        // with its disagreement, and the children stay where they were.
        let (st, _, body) = server
            .send(
                Request::post("/epcis/events")
                    .header("content-type", "application/ld+json")
                    .body(Body::from(unpacking("urn:epc:id:sgln:4012345.00077.0")))
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{body}");
        assert_eq!(s.store.verify().await.unwrap().entries, before + 1);
        let recorded = s.store.snapshot().await.unwrap();
        let fields: Vec<(&str, &str)> = recorded
            .discrepancies
            .iter()
            .map(|(_, d)| (d.code.as_str(), d.field.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("not_in_parent", "childEPCs[0]"),
                ("not_in_parent", "childEPCs[1]"),
                ("not_in_parent", "childEPCs[2]")
            ]
        );
        for uri in [
            "urn:epc:id:sscc:4012344.0998811123",
            "urn:epc:id:sscc:4012344.0998811125",
        ] {
            let child = s
                .store
                .item(&key("SSCC", &sscc(uri)))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(child.parent, None);
        }
        // The unit's passport marks the entry, in the reader's language.
        let serial = sscc("urn:epc:id:sscc:4012344.0998811123");
        let (st, passport) = server
            .get(&format!("/api/v1/items/SSCC/{serial}/passport"))
            .await;
        assert_eq!(st, StatusCode::OK, "{passport}");
        let marked: Vec<&Value> = passport["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("discrepancies").is_some())
            .collect();
        assert_eq!(marked.len(), 1, "{passport:#}");
        assert_eq!(marked[0]["discrepancies"][0]["code"], "not_in_parent");
        for (lang, marker, sentence) in [
            (
                "en",
                "report differs from our records",
                "The unit is not in this parent",
            ),
            ("zh", "合作方报告与系统记录不符", "单品不在该上级中"),
        ] {
            let (st, _, page) = server
                .send(
                    Request::get(format!("/unit?lang={lang}&product=SSCC&serial={serial}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(st, StatusCode::OK);
            assert!(page.contains(marker), "{page}");
            assert!(page.contains(sentence), "{page}");
        }
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), recorded);
    }
);

store_test!(
    a_lot_named_without_its_quantity_is_recorded_and_moves_no_stock,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("epcisDocWithVariousEventTypes.jsonld");
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        let class = "urn:epc:class:lgtin:4054739.012345.lot2";
        let place = "urn:epc:id:sgln:4012345.00025.0";
        // The example's packing of lot quantities (event 5), at a place, with the quantity
        // left out: EPCIS 2.0 makes it optional.
        let mut ev = sent.events[5].clone();
        ev.insert("childQuantityList".into(), json!([{"epcClass": class}]));
        ev.insert("bizLocation".into(), json!({"id": place}));
        let text = json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2019-10-21T12:00:00Z", "epcisBody": {"eventList": [ev]}})
        .to_string();
        let doc = threadline_epcis::parse_document(text.as_bytes()).unwrap();
        let hash = hashes(&doc).remove(0);
        let job = server
            .capture(&text, "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        assert!(job.get("discrepancies").is_none(), "{job:#}");

        // Read back without a quantity, in both bindings, under the same hash ID.
        let (json, xml) = server.query(std::slice::from_ref(&hash)).await;
        for back in [&json, &xml] {
            assert_eq!(event_ids(back), std::slice::from_ref(&hash));
            assert_eq!(hashes(back), std::slice::from_ref(&hash));
            let element = &back.events[0]["childQuantityList"][0];
            assert!(element.get("quantity").is_none(), "{element}");
        }
        // In the genealogy, with no quantity; the lot's stock is where it was.
        let product = format!("G{}", ids::gtins([class])[0].as_str());
        let lot = threadline_domain::codes::LotKey {
            product: threadline_domain::codes::ProductCode::parse(&product).unwrap(),
            lot: threadline_domain::codes::LotCode::parse("lot2").unwrap(),
        };
        let pallet = key(
            "SSCC",
            &ids::ssccs(["urn:epc:id:sscc:4012344.0111111133"]).remove(0),
        );
        let links = s
            .store
            .links(&Node::Item(pallet), Direction::Children)
            .await
            .unwrap();
        assert_eq!(links.len(), 1, "{links:?}");
        assert_eq!(links[0].node, Node::Lot(lot.clone()));
        assert_eq!(links[0].quantity, None);
        let stock = s.store.lot(&lot).await.unwrap().unwrap().stock;
        assert_eq!(
            stock.iter().map(|l| l.quantity).collect::<Vec<_>>(),
            [Quantity::from_units(100000)],
            "{stock:?}"
        );
        let live = s.store.snapshot().await.unwrap();
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), live);

        // Threadline's own API still needs the quantity: refused by field, nothing written.
        let before = s.store.verify().await.unwrap().entries;
        let own = json!({"type": "aggregation", "action": "ADD",
            "event_time": "2019-10-21T17:30:56+02:00", "biz_step": "packing",
            "biz_location": ids::location(place).unwrap().as_str(),
            "parent": {"product": "SSCC", "serial": ids::ssccs(["urn:epc:id:sscc:4012344.0111111133"]).remove(0)},
            "child_lots": [{"product": product, "lot": "lot2"}]});
        let (st, _, body) = server
            .send(
                Request::post("/api/v1/events")
                    .header("content-type", "application/json")
                    .body(Body::from(own.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["errors"][0]["code"], "required", "{body:#}");
        assert_eq!(
            body["errors"][0]["field"], "child_lots[0].quantity",
            "{body:#}"
        );
        assert_eq!(s.store.verify().await.unwrap().entries, before);
    }
);

store_test!(
    an_observed_aggregation_may_leave_out_its_parent_but_not_its_children,
    |s: TestStore| async move {
        let server = Server::new(&s).await;
        let sent = read("epcisDocWithVariousEventTypes.jsonld");
        prepare(&s, &server, &sent, "sellable_not_accessible").await;
        let document = |ev: Map<String, Value>| {
            json!({"@context": [CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2019-10-21T12:00:00Z", "epcisBody": {"eventList": [ev]}})
            .to_string()
        };
        // EPCIS 2.0 §7.4.3: the parent of an observed aggregation may not be seen or known.
        let mut seen = sent.events[4].clone();
        seen.remove("parentID");
        seen.remove("bizStep");
        seen.insert("action".into(), json!("OBSERVE"));
        let text = document(seen);
        let hash = hashes(&threadline_epcis::parse_document(text.as_bytes()).unwrap()).remove(0);
        let job = server
            .capture(&text, "application/ld+json", "rollback")
            .await;
        assert_eq!(job["success"], true, "{job:#}");
        let (json, xml) = server.query(std::slice::from_ref(&hash)).await;
        for back in [&json, &xml] {
            assert_eq!(hashes(back), std::slice::from_ref(&hash));
            assert!(back.events[0].get("parentID").is_none());
        }
        // But it names what was seen: a parent alone is no observation (a DELETE alone empties
        // its parent).
        let before = s.store.verify().await.unwrap().entries;
        let mut parent_only = sent.events[4].clone();
        parent_only.remove("childEPCs");
        parent_only.insert("action".into(), json!("OBSERVE"));
        let (st, _, body) = server
            .send(
                Request::post("/epcis/capture")
                    .header("content-type", "application/ld+json")
                    .body(Body::from(document(parent_only)))
                    .unwrap(),
            )
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        let problem: Value = serde_json::from_str(&body).unwrap();
        let text = problem.to_string();
        assert!(text.contains("required"), "{problem:#}");
        assert!(
            text.contains("epcisBody.eventList[0].childEPCs"),
            "{problem:#}"
        );
        assert_eq!(s.store.verify().await.unwrap().entries, before);
    }
);
