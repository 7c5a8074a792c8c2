//! The process definition as data: read, changed with If-Match, used by capture at once.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::http::StatusCode;
use common::Api;
use serde_json::json;
use threadline_domain::access::Role;
use threadline_testkit::fixtures::{at, plant};
use threadline_testkit::{TestStore, store_test};

store_test!(
    the_process_is_read_changed_and_used_at_once,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        // The shipped default, as version 0.
        let r = api.get("/api/v1/process").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["etag"], "\"0\"");
        assert!(
            r.body["steps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["operation"] == "ship")
        );

        let inspect = |serial: &str| {
            json!({"type": "object", "action": "OBSERVE", "event_time": at(10), "biz_step": "inspecting",
                   "items": [{"product": "PHONE", "serial": serial}], "fields": {"inspector": "Zhao"}})
        };
        let commission = json!({"type": "object", "action": "ADD", "event_time": at(30), "biz_step": "commissioning",
            "disposition": "active", "biz_location": "SZ-L1", "items": [{"product": "PHONE", "serial": "P1"}], "ilmd": {"color": "white"}});
        assert_eq!(
            api.post("/api/v1/events", commission).await.status,
            StatusCode::CREATED
        );
        assert_eq!(
            api.post("/api/v1/events", inspect("P1")).await.status,
            StatusCode::CREATED
        );

        // Bad definitions name the field and write nothing.
        let before = api.ledger_len().await;
        let mut def = r.body.clone();
        def["required_fields"] =
            json!([{"operation": "inspect", "fields": ["inspector", "equipment"]}]);
        let mut bad = def.clone();
        bad["steps"][0]["operation"] = json!("fly");
        let r = api.put("/api/v1/process", "\"0\"", bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(
            r.body["error"]["field"]
                .as_str()
                .unwrap()
                .starts_with("steps[0].operation")
        );
        let mut twice = def.clone();
        twice["steps"]
            .as_array_mut()
            .unwrap()
            .push(json!({"operation": "ship", "from": ["in_stock"]}));
        let r = api.put("/api/v1/process", "\"0\"", twice).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.codes()[0].0, "duplicate_rule");
        let mut unreachable = def.clone();
        unreachable["steps"][0]["to"] = json!("consumed");
        let r = api.put("/api/v1/process", "\"0\"", unreachable).await;
        assert_eq!(
            (r.status, r.codes()[0].clone()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                ("invalid_state".to_owned(), "steps[0].to".to_owned())
            )
        );
        let r = api.put("/api/v1/process", "\"3\"", def.clone()).await;
        assert_eq!(
            (r.status, r.codes()[0].0.as_str()),
            (StatusCode::CONFLICT, "version_conflict")
        );
        // Only `configure` may change it.
        let qc = Api::with_roles(&s, "qc-1", &[Role::Qc]).await;
        assert_eq!(
            qc.put("/api/v1/process", "\"0\"", def.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(api.ledger_len().await, before);

        // Stored as version 1; inspections now need equipment.
        let r = api.put("/api/v1/process", "\"0\"", def.clone()).await;
        assert_eq!(
            (r.status, r.body["version"].as_i64()),
            (StatusCode::OK, Some(1))
        );
        assert_eq!(r.headers["etag"], "\"1\"");
        let r = api.post("/api/v1/events", inspect("P1")).await;
        assert_eq!(
            (r.status, r.codes()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![("missing_field".to_owned(), "fields.equipment".to_owned())]
            )
        );
        // The same version again is a conflict; the next one names version 1.
        assert_eq!(
            api.put("/api/v1/process", "\"0\"", def.clone())
                .await
                .status,
            StatusCode::CONFLICT
        );
        def["required_fields"] = json!([]);
        let r = api.put("/api/v1/process", "\"1\"", def).await;
        assert_eq!(r.body["version"], 2);
        assert_eq!(
            api.post("/api/v1/events", inspect("P1")).await.status,
            StatusCode::CREATED
        );
        let h = api.get("/api/v1/process/history").await;
        assert_eq!(h.body["versions"].as_array().unwrap().len(), 2);
        assert_eq!(h.body["versions"][0]["actor"], "token:test-admin");
    }
);
