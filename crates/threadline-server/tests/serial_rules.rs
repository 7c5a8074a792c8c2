//! Serial rules as master data: created, versioned and assigned (to a product or a category)
//! through the API; allocated from and validated by code or product; and the pool's states —
//! unassigned, printed, commissioned or voided — on both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::{Value, json};
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};

fn pjc() -> Value {
    json!({"code": "PJC", "name": "Controllers, by line and day", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
           "time_zone": "+08:00", "sequence_reset": "daily", "categories": ["controllers"]})
}

async fn allocate(api: &Api, product: &str, count: u32) -> Vec<String> {
    let r = api
        .post(
            &format!("/api/v1/products/{product}/allocations"),
            json!({"count": count, "line": "A01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["serials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn status_of(api: &Api, product: &str, serial: &str) -> String {
    let r = api.get(&format!("/api/v1/items/{product}/{serial}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["status"].as_str().unwrap().to_owned()
}

store_test!(
    rules_are_versioned_master_data_assigned_to_products_and_categories,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;

        let r = api.post("/api/v1/serial-rules", pjc()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.headers["etag"], "\"1\"");
        assert_eq!(r.body["template"], "PJC-{YYMMDD}-{LINE}-{SEQ:5}");
        assert_eq!(r.body["categories"], json!(["controllers"]));
        let r = api.post("/api/v1/serial-rules", pjc()).await;
        assert_eq!(r.codes(), [("already_exists".into(), "code".into())]);

        // A product naming the rule, and one taking it through its category.
        let r = api
            .post("/api/v1/products", json!({"code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": "PJC"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = api
            .post("/api/v1/products", json!({"code": "TD", "name": "Drive", "tracking": "serial", "category": "controllers"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = api.get("/api/v1/products/TD/serial-rule").await;
        assert_eq!(
            r.body["source"],
            json!({"from": "category", "category": "controllers", "code": "PJC", "version": 1})
        );
        let r = api.get("/api/v1/products/TC/serial-rule").await;
        assert_eq!(
            r.body["source"],
            json!({"from": "rule", "code": "PJC", "version": 1})
        );

        // 2026-06-01T12:00Z is 20:00 on 1 June in +08:00.
        assert_eq!(
            allocate(&api, "TC", 2).await,
            ["PJC-260601-A01-00001", "PJC-260601-A01-00002"]
        );
        // Product uniqueness: TD counts on its own.
        assert_eq!(allocate(&api, "TD", 1).await, ["PJC-260601-A01-00001"]);

        // A new version (a new prefix) continues the same counters: nothing is issued twice.
        let mut v2 = pjc();
        v2["template"] = json!("PJD-{YYMMDD}-{LINE}-{SEQ:5}");
        let r = api
            .put("/api/v1/serial-rules/PJC", "\"1\"", v2.clone())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["version"], 2);
        let r = api.put("/api/v1/serial-rules/PJC", "\"1\"", v2).await;
        assert_eq!(r.codes(), [("version_conflict".into(), "version".into())]);
        assert_eq!(allocate(&api, "TC", 1).await, ["PJD-260601-A01-00003"]);
        let r = api.get("/api/v1/serial-rules/PJC/history").await;
        assert_eq!(
            r.body["versions"].as_array().unwrap().len(),
            2,
            "{:?}",
            r.body
        );

        let r = api.get("/api/v1/serial-rules?q=controllers").await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{:?}", r.body);
        assert_eq!(r.body["items"][0]["code"], "PJC");
    }
);

store_test!(
    bad_rules_and_bad_assignments_are_refused_by_field_and_write_nothing,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let ledger = api.ledger_len().await;

        // A dated template without a time zone.
        let mut bad = pjc();
        bad.as_object_mut().unwrap().remove("time_zone");
        let r = api.post("/api/v1/serial-rules", bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(
            r.codes(),
            [("time_zone_required".into(), "time_zone".into())]
        );
        // An unknown field, a template that does not parse, a missing name.
        let mut bad = pjc();
        bad["prefix"] = json!("X");
        assert_eq!(
            api.post("/api/v1/serial-rules", bad).await.codes()[0].0,
            "unknown_field"
        );
        let mut bad = pjc();
        bad["template"] = json!("PJC-{SEQ:5");
        assert_eq!(
            api.post("/api/v1/serial-rules", bad).await.codes()[0].1,
            "template"
        );
        let mut bad = pjc();
        bad.as_object_mut().unwrap().remove("name");
        assert_eq!(
            api.post("/api/v1/serial-rules", bad).await.codes(),
            [("missing_field".into(), "name".into())]
        );
        let mut bad = pjc();
        bad["categories"] = json!(["controllers", "controllers"]);
        assert_eq!(
            api.post("/api/v1/serial-rules", bad).await.codes(),
            [("duplicate".into(), "categories[1]".into())]
        );
        assert_eq!(api.ledger_len().await, ledger);
        assert_eq!(
            api.get("/api/v1/serial-rules/PJC").await.status,
            StatusCode::NOT_FOUND
        );

        // A product naming a rule that does not exist.
        let r = api
            .post("/api/v1/products", json!({"code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": "NOPE"}))
            .await;
        assert_eq!(
            r.codes(),
            [("unknown_serial_rule".into(), "serial_rule".into())]
        );

        // A category has one rule.
        assert_eq!(
            api.post("/api/v1/serial-rules", pjc()).await.status,
            StatusCode::CREATED
        );
        let mut other = pjc();
        other["code"] = json!("PJX");
        let r = api.post("/api/v1/serial-rules", other).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(
            r.codes(),
            [("category_taken".into(), "categories[0]".into())]
        );
        assert_eq!(api.ledger_len().await, ledger + 1);

        // A product without any rule cannot allocate, and is told how to get one.
        let r = api
            .post(
                "/api/v1/products",
                json!({"code": "TZ", "name": "Other", "tracking": "serial", "category": "drives"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = api
            .post("/api/v1/products/TZ/allocations", json!({"count": 1}))
            .await;
        assert_eq!(r.codes(), [("no_serial_rule".into(), "product".into())]);
        assert!(r.message().contains("drives"), "{:?}", r.body);
    }
);

store_test!(
    serials_are_validated_against_a_stored_rule_or_a_products_rule,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let mut rule = pjc();
        rule["template"] = json!("PJC-{YYMMDD}-{LINE}-{SEQ:5}{CHECK:mod37-36}");
        assert_eq!(
            api.post("/api/v1/serial-rules", rule).await.status,
            StatusCode::CREATED
        );
        api.post(
            "/api/v1/products",
            json!({"code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": "PJC"}),
        )
        .await;
        let serial = allocate(&api, "TC", 1).await.remove(0);

        for body in [
            json!({"rule": "PJC", "serial": serial}),
            json!({"product": "TC", "serial": serial}),
        ] {
            let r = api.post("/api/v1/serial-rules/validate", body).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert_eq!(r.body["line"], "A01");
            assert_eq!(r.body["sequence"], 1);
            assert_eq!(r.body["date"]["calendar_date"], "2026-06-01");
        }
        // One character wrong: the check character catches it.
        let mut wrong = serial.clone().into_bytes();
        let i = wrong.len() - 3;
        wrong[i] = if wrong[i] == b'9' { b'8' } else { wrong[i] + 1 };
        let wrong = String::from_utf8(wrong).unwrap();
        let r = api
            .post(
                "/api/v1/serial-rules/validate",
                json!({"rule": "PJC", "serial": wrong}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.codes()[0].1, "serial");
        let r = api
            .post(
                "/api/v1/serial-rules/validate",
                json!({"rule": "NOPE", "serial": serial}),
            )
            .await;
        assert_eq!(r.codes(), [("unknown_serial_rule".into(), "rule".into())]);
        let r = api
            .post("/api/v1/serial-rules/validate", json!({"serial": serial}))
            .await;
        assert_eq!(r.codes(), [("missing_field".into(), "rule".into())]);

        // The preview of a stored rule shows the next serials without taking them.
        let r = api
            .post(
                "/api/v1/serial-rules/preview",
                json!({"rule": "PJC", "context": {"product": "TC", "line": "A01"}, "count": 2}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["serials"].as_array().unwrap().len(), 2);
        assert_eq!(allocate(&api, "TC", 1).await.len(), 1);
    }
);

store_test!(
    pool_serials_go_unassigned_printed_commissioned_or_voided,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        api.post("/api/v1/serial-rules", pjc()).await;
        api.post(
            "/api/v1/products",
            json!({"code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": "PJC"}),
        )
        .await;
        let serials = allocate(&api, "TC", 4).await;
        assert_eq!(status_of(&api, "TC", &serials[0]).await, "unassigned");

        // A contract packer printed the first three labels.
        let r = api
            .post(
                "/api/v1/products/TC/serials/printed",
                json!({"serials": &serials[..3], "printer": "CM-PACK-1"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(r.body["printed"], 3);
        assert_eq!(status_of(&api, "TC", &serials[1]).await, "printed");

        // A printed serial is commissioned onto a unit…
        let commission = json!({"type": "object", "action": "ADD", "event_time": at(1), "biz_step": "commissioning",
            "disposition": "active", "biz_location": "SZ-L1", "items": [{"product": "TC", "serial": serials[0]}]});
        let r = api.post("/api/v1/events", commission).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(status_of(&api, "TC", &serials[0]).await, "in_production");
        // …a spoiled printed label is voided…
        let void = json!({"type": "object", "action": "DELETE", "event_time": at(1), "biz_step": "decommissioning",
            "items": [{"product": "TC", "serial": serials[1]}], "fields": {"reason": "label torn"}});
        let r = api.post("/api/v1/events", void).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(status_of(&api, "TC", &serials[1]).await, "voided");

        // …and neither can be marked printed again, nor can an unknown serial: nothing is written.
        let ledger = api.ledger_len().await;
        let r = api
            .post(
                "/api/v1/products/TC/serials/printed",
                json!({"serials": [serials[3], serials[0], "NOT-OURS"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(
            r.codes(),
            [
                ("not_in_pool".into(), "serials[1]".into()),
                ("unknown_serial".into(), "serials[2]".into())
            ]
        );
        assert_eq!(api.ledger_len().await, ledger);
        assert_eq!(status_of(&api, "TC", &serials[3]).await, "unassigned");
        let r = api
            .post(
                "/api/v1/products/TC/serials/printed",
                json!({"serials": []}),
            )
            .await;
        assert_eq!(r.codes(), [("invalid_count".into(), "serials".into())]);
        let r = api
            .post(
                "/api/v1/products/NOPE/serials/printed",
                json!({"serials": ["X"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(api.ledger_len().await, ledger);

        // The rebuilt projection agrees.
        let before = s.store.snapshot().await.unwrap();
        s.store.rebuild().await.unwrap();
        assert_eq!(s.store.snapshot().await.unwrap(), before);
    }
);
