//! Electronic signatures through HTTP, on both engines: where the plant requires them, a QC
//! disposition and a recall closure need the signer's name, password and meaning; a missing,
//! wrong or unauthorised signature records nothing, and a good one is kept in the audit
//! record. Without the setting nothing changes.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::Api;
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::esign::{Signed, SignedOps};
use threadline_server::{AppState, AuthSettings, FixedClock};
use threadline_testkit::fixtures::{at, now, plant};
use threadline_testkit::{TestStore, store_test};

struct Plant {
    admin: Api,
    qc: Api,
    auditor: Api,
}

async fn setup(s: &TestStore, signatures: SignedOps) -> Plant {
    plant(&**s).await;
    let state = AppState {
        clock: Arc::new(FixedClock(now())),
        auth: AuthSettings {
            signatures,
            ..AuthSettings::default()
        },
        ..AppState::new(s.store.clone())
    };
    let p = Plant {
        admin: Api::with_state(s, state.clone(), "root", &[Role::Admin]).await,
        qc: Api::with_state(s, state.clone(), "qc-station", &[Role::Quality]).await,
        auditor: Api::with_state(s, state, "audit", &[Role::Auditor]).await,
    };
    for (name, role) in [("li.qa", "quality"), ("wang.wh", "warehouse")] {
        let r = p
            .admin
            .post(
                "/api/v1/users",
                json!({"name": name, "password": "signing-password-1", "roles": [role]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    // A board that failed QC and is on hold.
    for body in [
        json!({"type": "object", "action": "ADD", "event_time": at(600), "biz_step": "commissioning",
               "disposition": "active", "biz_location": "SZ-L1", "items": [{"product": "BOARD", "serial": "Q1"}],
               "biz_transactions": [{"type": "prodorder", "id": "WO-Q"}]}),
        json!({"type": "object", "action": "OBSERVE", "event_time": at(590), "biz_step": "inspecting",
               "disposition": "non_conformant", "biz_location": "SZ-L1", "hold": {"place": "qc"},
               "items": [{"product": "BOARD", "serial": "Q1"}]}),
    ] {
        let r = p.admin.post("/api/v1/events", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    p
}

fn disposition(signature: Option<Value>) -> Value {
    let mut b = json!({"items": [{"product": "BOARD", "serial": "Q1"}], "decision": "rework",
        "reason": "re-soldered"});
    if let Some(s) = signature {
        b["signature"] = s;
    }
    b
}

fn sig(user: &str, password: &str) -> Value {
    json!({"user": user, "password": password, "meaning": "release approved"})
}

store_test!(
    a_configured_disposition_and_recall_closure_need_a_signature,
    |s: TestStore| async move {
        let p = setup(
            &s,
            SignedOps::NONE
                .with(Signed::Disposition)
                .with(Signed::RecallClose),
        )
        .await;
        let before = p.admin.ledger_len().await;
        let refused = [
            (None, StatusCode::UNPROCESSABLE_ENTITY, "signature"),
            (
                Some(sig("li.qa", "wrong-password")),
                StatusCode::FORBIDDEN,
                "signature.password",
            ),
            (
                Some(sig("nobody", "signing-password-1")),
                StatusCode::FORBIDDEN,
                "signature.password",
            ),
            // The right password of someone who may not inspect.
            (
                Some(sig("wang.wh", "signing-password-1")),
                StatusCode::FORBIDDEN,
                "signature.user",
            ),
            (
                Some(json!({"user": "li.qa", "password": "signing-password-1", "meaning": " "})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "signature.meaning",
            ),
        ];
        for (signature, status, field) in refused {
            let r =
                p.qc.post("/api/v1/ops/disposition", disposition(signature.clone()))
                    .await;
            assert_eq!(r.status, status, "{signature:?}: {:?}", r.body);
            assert_eq!(r.body["error"]["field"], field, "{:?}", r.body);
            assert_eq!(p.admin.ledger_len().await, before, "nothing recorded");
        }
        let held = p.admin.item("BOARD", "Q1").await;
        assert_eq!(held["holds"], json!(["qc"]));

        let r =
            p.qc.post(
                "/api/v1/ops/disposition",
                disposition(Some(sig("li.qa", "signing-password-1"))),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(p.admin.item("BOARD", "Q1").await["holds"], json!([]));
        let audit = p.auditor.get("/api/v1/audit?object=ops/disposition").await;
        let records = audit.body["records"].as_array().unwrap();
        let signed: Vec<&Value> = records
            .iter()
            .filter(|r| r["signature"].is_object())
            .collect();
        assert_eq!(signed.len(), 1, "{records:?}");
        assert_eq!(signed[0]["signature"]["signer"], "li.qa");
        assert_eq!(signed[0]["signature"]["meaning"], "release approved");
        assert!(
            !audit.body.to_string().contains("signing-password-1"),
            "the password is never kept"
        );
        // The wrong password counted like a failed sign-in, and was audited as one.
        let failures = p.auditor.get("/api/v1/audit?object=users/li.qa").await;
        assert!(
            failures.body.to_string().contains("sign_in_failed"),
            "{:?}",
            failures.body
        );

        // Closing a recall.
        let r =
            p.qc.post(
                "/api/v1/recalls",
                json!({"code": "RC-S", "reason": "solder", "severity": "minor",
                "scope": {"work_order": "WO-Q"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r =
            p.qc.post("/api/v1/recalls/RC-S/close", json!({"note": "done"}))
                .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(r.body["error"]["field"], "signature");
        let open = p.qc.get("/api/v1/recalls/RC-S").await;
        assert_eq!(open.body["status"], "open");
        let r = p
            .qc
            .post(
                "/api/v1/recalls/RC-S/close",
                json!({"note": "done", "signature": {"user": "li.qa", "password": "signing-password-1", "meaning": "closure approved"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let audit = p.auditor.get("/api/v1/audit?object=recalls/RC-S").await;
        let closed = audit.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["signature"].is_object())
            .unwrap_or_else(|| panic!("{:?}", audit.body))
            .clone();
        assert_eq!(closed["signature"]["meaning"], "closure approved");
    }
);

store_test!(
    without_the_setting_no_signature_is_asked,
    |s: TestStore| async move {
        let p = setup(&s, SignedOps::NONE).await;
        let r =
            p.qc.post("/api/v1/ops/disposition", disposition(None))
                .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
);

/// A form post, as the page sends it.
async fn post_form(api: &Api, uri: &str, fields: &[(&str, &str)]) -> common::Reply {
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    api.send(
        axum::http::Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

store_test!(
    a_recall_is_closed_from_its_page_with_a_signature,
    |s: TestStore| async move {
        let p = setup(&s, SignedOps::NONE.with(Signed::RecallClose)).await;
        let r =
            p.qc.post(
                "/api/v1/recalls",
                json!({"code": "RC-P", "reason": "solder", "severity": "minor",
                "scope": {"work_order": "WO-Q"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        // The close form asks for the signature, in the reader's language.
        let r = p.qc.get("/recalls/RC-P?lang=zh").await;
        let page = r.body.as_str().unwrap();
        assert!(
            page.contains("id=\"close-signature\"")
                && page.contains("电子签名")
                && page.contains("name=\"sig_password\""),
            "{page}"
        );
        // A wrong password is refused on a page that says why; the campaign stays open.
        let wrong = [
            ("lang", "en"),
            ("note", "all units back"),
            ("sig_user", "li.qa"),
            ("sig_password", "not-the-password"),
            ("sig_meaning", "closure approved"),
        ];
        let r = post_form(&p.qc, "/recalls/RC-P/close", &wrong).await;
        assert!(r.status.is_client_error(), "{:?}", r.status);
        assert!(
            r.body.as_str().unwrap().contains("id=\"close-error\""),
            "{:?}",
            r.body
        );
        assert_eq!(
            p.qc.get("/api/v1/recalls/RC-P").await.body["status"],
            "open"
        );
        // Signed: closed, and the signature is in the audit record.
        let mut good = wrong;
        good[3] = ("sig_password", "signing-password-1");
        let r = post_form(&p.qc, "/recalls/RC-P/close", &good).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{:?}", r.body);
        assert_eq!(
            p.qc.get("/api/v1/recalls/RC-P").await.body["status"],
            "closed"
        );
        let audit = p.auditor.get("/api/v1/audit?object=recalls/RC-P").await;
        let signed = audit.body["records"].as_array().unwrap().iter().any(|r| {
            r["status"] == 303
                && r["signature"]["signer"] == "li.qa"
                && r["signature"]["meaning"] == "closure approved"
                && r["after"]["close_note"] == "all units back"
        });
        assert!(signed, "{:?}", audit.body);
    }
);
