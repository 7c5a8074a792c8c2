#![allow(clippy::unwrap_used)]
//! The published event-hash examples, reproduced exactly (sources in `fixtures/README.md`).

use threadline_epcis::{hash_id, parse_document, prehash};

fn doc(name: &str) -> threadline_epcis::Document {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    parse_document(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_worked_example_hashes_as_published() {
    let d = doc("epcisDocWithSingleEvent.jsonld");
    let ev = &d.events[0];
    assert_eq!(
        prehash(ev, &d.context),
        "eventType=ObjectEventeventTime=2022-02-17T02:33:31.116ZeventTimeZoneOffset=-06:00epcListepc=https://id.gs1.org/01/10614141073464/21/2017epc=https://id.gs1.org/01/10614141073464/21/2018action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-shippingdisposition=https://ref.gs1.org/cbv/Disp-in_transitreadPointid=https://id.gs1.org/414/0614141073467/254/1234bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=http://transaction.acme.com/po/12345678"
    );
    assert_eq!(
        hash_id(ev, &d.context),
        "ni:///sha-256;ffa491b16867e34a7791a8d5389d826afc24e63a121026b6a4004ace38631b4b?ver=CBV2.0"
    );
}

#[test]
fn transaction_events_prehash_as_published() {
    let d = doc("transactionEvents.jsonld");
    assert_eq!(
        prehash(&d.events[0], &d.context),
        "eventType=TransactionEventeventTime=2019-10-21T06:05:00.000ZeventTimeZoneOffset=-06:00epcListepc=https://id.gs1.org/01/10614141073402/21/1epc=https://id.gs1.org/01/10614141073402/21/2action=ADDbizStep=https://ref.gs1.org/cbv/BizStep-shippingreadPointid=https://id.gs1.org/414/4012345000009/254/5bizLocationid=https://id.gs1.org/414/4012345000009bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=urn:epcglobal:cbv:bt:4012345123456:RE100099"
    );
    assert_eq!(
        prehash(&d.events[1], &d.context),
        "eventType=TransactionEventeventTime=2019-10-21T12:58:56.591ZeventTimeZoneOffset=+02:00quantityListquantityElementepcClass=https://id.gs1.org/01/04012345999884/10/2014-02-10quantity=2030uom=KGMaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-holdingreadPointid=https://id.gs1.org/414/4012345000252bizLocationid=https://id.gs1.org/414/4012345000023bizTransactionListtype=https://ref.gs1.org/cbv/BTT-invbizTransaction=urn:epcglobal:cbv:bt:4012345123456:RE1099"
    );
}

#[test]
fn spelling_does_not_change_the_hash() {
    // The same event with Digital Links, Web URI vocabulary, another time zone and the lists
    // in another order.
    let a = doc("epcisDocWithSingleEvent.jsonld");
    let b = parse_document(br#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2022-02-17T11:30:47Z",
      "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2022-02-17T03:33:31.1160+01:00",
        "eventTimeZoneOffset": "-06:00", "eventID": "urn:uuid:7b2f0b9e-29d2-4b4e-9a63-0b2b4cf1f0a1",
        "recordTime": "2022-03-01T00:00:00Z",
        "epcList": ["https://id.gs1.org/01/10614141073464/21/2018", "https://example.com/01/10614141073464/21/2017"],
        "action": "OBSERVE", "bizStep": "https://ref.gs1.org/cbv/BizStep-shipping",
        "disposition": "urn:epcglobal:cbv:disp:in_transit",
        "readPoint": {"id": "https://id.gs1.org/414/0614141073467/254/1234"},
        "bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "http://transaction.acme.com/po/12345678"}]}]}}"#).unwrap();
    assert_eq!(
        hash_id(&a.events[0], &a.context),
        hash_id(&b.events[0], &b.context)
    );
}

#[test]
fn xml_and_json_forms_of_one_event_hash_identically() {
    let json = doc("epcisDocWithSingleEvent.jsonld");
    let path = format!(
        "{}/tests/fixtures/epcisDocWithSingleEvent.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let xml = threadline_epcis::xml::parse_document(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(xml.events.len(), 1);
    assert_eq!(xml.events[0]["bizStep"], "shipping");
    assert_eq!(
        hash_id(&xml.events[0], &xml.context),
        hash_id(&json.events[0], &json.context)
    );

    // Written back to XML and read again, it still hashes the same.
    let written = threadline_epcis::xml::write_document(
        &json.events,
        &json.context,
        Some("SimpleEventQuery"),
        "2026-11-22T00:00:00Z",
    );
    let again = threadline_epcis::xml::parse_document(written.as_bytes()).unwrap();
    assert_eq!(
        hash_id(&again.events[0], &again.context),
        hash_id(&json.events[0], &json.context)
    );
}

#[test]
fn extensions_keep_their_namespace_in_both_bindings() {
    let json = parse_document(br#"{"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "https://ns.example.com/epcis/"}],
      "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2022-02-17T11:30:47Z",
      "epcisBody": {"eventList": [{"type": "ObjectEvent", "eventTime": "2020-03-04T11:00:30+01:00", "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sgtin:0614141.011111.987"], "action": "OBSERVE",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.0", "example:myField1": "AB-12"},
        "example:userExt": {"example:inner": "CD-34"}}]}}"#).unwrap();
    let pre = prehash(&json.events[0], &json.context);
    // CBV 2.0: the readPoint's own extension after every standard field, under its name.
    assert!(
        pre.ends_with(
            "readPointid=https://id.gs1.org/414/4012345000115readPoint{https://ns.example.com/epcis/}myField1=AB-12{https://ns.example.com/epcis/}userExt{https://ns.example.com/epcis/}inner=CD-34"
        ),
        "{pre}"
    );
    let written = threadline_epcis::xml::write_document(
        &json.events,
        &json.context,
        None,
        "2026-11-22T00:00:00Z",
    );
    let xml = threadline_epcis::xml::parse_document(written.as_bytes()).unwrap();
    assert_eq!(prehash(&xml.events[0], &xml.context), pre);
}

fn published(name: &str) -> Vec<String> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn hashes(d: &threadline_epcis::Document) -> Vec<String> {
    d.events.iter().map(|e| hash_id(e, &d.context)).collect()
}

#[test]
fn every_event_type_hashes_as_published_in_both_bindings() {
    let expected = published("epcisDocWithVariousEventTypes.hashes");
    assert_eq!(expected.len(), 13);
    let json = doc("epcisDocWithVariousEventTypes.jsonld");
    assert_eq!(hashes(&json), expected);
    let path = format!(
        "{}/tests/fixtures/epcisDocWithVariousEventTypes.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let xml = threadline_epcis::xml::parse_document(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(hashes(&xml), expected);
}

#[test]
fn an_association_event_with_every_field_hashes_as_published() {
    let d = doc("AssociationEvent_all_possible_fields.json");
    assert_eq!(
        hashes(&d),
        published("AssociationEvent_all_possible_fields.hashes"),
        "{}",
        prehash(&d.events[0], &d.context)
    );
}

#[test]
fn nested_and_top_level_extensions_hash_as_published() {
    let d = doc("ReferenceEventHashAlgorithm3.jsonld");
    assert_eq!(
        prehash(&d.events[0], &d.context),
        "eventType=ObjectEventeventTime=2020-03-04T10:00:30.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/01/00614141111114/21/987action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-departingdisposition=https://ref.gs1.org/cbv/Disp-in_transitreadPointid=https://id.gs1.org/414/4012345000115bizTransactionListtype=https://ref.gs1.org/cbv/BTT-pobizTransaction=https://id.gs1.org/253/4012345111118123sourceListtype=https://ref.gs1.org/cbv/SDT-owning_partysource=https://id.gs1.org/417/4012345000009destinationListtype=https://ref.gs1.org/cbv/SDT-owning_partydestination=https://id.gs1.org/417/0614141000005readPoint{https://ns.example.com/epcis/}myField1=AB-12{https://ns.example.com/epcis/}userExt=CD-34"
    );
    assert_eq!(hashes(&d), published("ReferenceEventHashAlgorithm3.hashes"));
}

#[test]
fn sensor_data_in_the_xml_binding_hashes_as_published() {
    let path = format!(
        "{}/tests/fixtures/SensorDataExamples-cases-1-6-7.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let d = threadline_epcis::xml::parse_document(&std::fs::read(path).unwrap()).unwrap();
    // Case 6 as published: a measurement type in another vocabulary is written as given, and
    // the sensor elements' extensions come after every standard field.
    assert_eq!(
        prehash(&d.events[1], &d.context),
        "eventType=ObjectEventeventTime=2019-10-07T14:00:00.000ZeventTimeZoneOffset=+01:00action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-inspectingreadPointid=https://id.gs1.org/414/4012345000054sensorElementsensorMetadatastartTime=2019-04-01T14:00:00.000ZendTime=2019-04-02T13:59:59.999ZsensorReporttype=example:someSensorPropertystringValue=someSensorOutputsensorReporttype=https://ref.gs1.org/voc/MT-TemperatureminValue=12.4maxValue=13.8meanValue=13.2sDev=0.41percRank=50percValue=12.7uom=CELsensorElementsensorMetadata{https://ns.example.com/epcis/}someFurtherMetadata=someTextsensorReport{https://ns.example.com/epcis/}cv=123{https://ns.example.com/epcis/}furtherSensorData{https://ns.example.com/epcis/}measure1=123.5{https://ns.example.com/epcis/}measure2=0.987"
    );
    assert_eq!(
        hashes(&d),
        published("SensorDataExamples-cases-1-6-7.hashes")
    );
}
