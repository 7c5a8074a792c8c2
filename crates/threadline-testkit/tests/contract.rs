//! The store contract: every behaviour a storage engine must have, run on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use serde_json::json;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::projection::{ItemStatus, Node};
use threadline_store::{
    CaptureOutcome, EventQuery, IdempotencyKey, ListQuery, MasterWrite, StoreError,
};
use threadline_testkit::fixtures::*;
use threadline_testkit::{TestStore, store_test};
use uuid::Uuid;

fn key(p: &str, s: &str) -> ItemKey {
    serde_json::from_value(json!({"product": p, "serial": s})).unwrap()
}

fn lot(p: &str, l: &str) -> LotKey {
    serde_json::from_value(json!({"product": p, "lot": l})).unwrap()
}

fn codes(e: &StoreError) -> Vec<(&'static str, Option<String>)> {
    match e {
        StoreError::Invalid(v) => v.iter().map(|f| (f.code, f.field.clone())).collect(),
        StoreError::Conflict(f) => vec![(f.code, f.field.clone())],
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn ledger_len(s: &TestStore) -> i64 {
    s.verify().await.unwrap().entries
}

store_test!(
    master_data_is_versioned_and_checked,
    |s: TestStore| async move {
        plant(&*s).await;
        let p = s.product("PHONE").await.unwrap().unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.def.gtin.as_ref().unwrap().as_str(), "09521234543213");

        // A GTIN belongs to one product.
        let e = s
        .put_master(MasterWrite {
            record: master("product", json!({"code": "PHONE2", "name": "P2", "tracking": "serial", "gtin": "09521234543213"})),
            replaces: None,
            id: Uuid::now_v7(),
            actor: "t".into(),
            now: now(),
        })
        .await
        .unwrap_err();
        assert_eq!(codes(&e), vec![("duplicate_gtin", Some("gtin".into()))]);

        // Creating an existing code is refused; nothing is written.
        let before = ledger_len(&s).await;
        let dup = MasterWrite {
            record: master(
                "product",
                json!({"code": "PHONE", "name": "Other", "tracking": "serial"}),
            ),
            actor: "t".into(),
            now: now(),
            id: Uuid::now_v7(),
            replaces: None,
        };
        let e = s.put_master(dup.clone()).await.unwrap_err();
        assert_eq!(codes(&e), vec![("already_exists", Some("code".into()))]);
        assert_eq!(ledger_len(&s).await, before);

        // A change names the version it replaces.
        let change = MasterWrite {
            replaces: Some(1),
            ..dup.clone()
        };
        s.put_master(change.clone()).await.unwrap();
        let p = s.product("PHONE").await.unwrap().unwrap();
        assert_eq!((p.version, p.def.name.as_str()), (2, "Other"));
        let stale = MasterWrite {
            id: Uuid::now_v7(),
            ..change
        };
        assert_eq!(
            codes(&s.put_master(stale).await.unwrap_err())[0].0,
            "version_conflict"
        );
        let history = s.master_history("product", "PHONE").await.unwrap();
        assert_eq!(
            history.iter().map(|h| h.version).collect::<Vec<_>>(),
            vec![1, 2]
        );

        // Tracking mode cannot change once set.
        let retrack = MasterWrite {
            record: master(
                "product",
                json!({"code": "PHONE", "name": "Phone", "tracking": "lot"}),
            ),
            replaces: Some(2),
            id: Uuid::now_v7(),
            actor: "t".into(),
            now: now(),
        };
        assert_eq!(
            codes(&s.put_master(retrack).await.unwrap_err())[0].0,
            "immutable_field"
        );

        // Location hierarchy rules.
        for (def, code) in [
            (
                json!({"code": "X1", "name": "x", "kind": "bin", "parent": "NOPE"}),
                "unknown_location",
            ),
            (
                json!({"code": "X2", "name": "x", "kind": "line", "parent": "SZ-WH-A1"}),
                "invalid_parent",
            ),
            (
                json!({"code": "X3", "name": "x", "kind": "bin"}),
                "missing_parent",
            ),
        ] {
            let w = MasterWrite {
                record: master("location", def),
                replaces: None,
                id: Uuid::now_v7(),
                actor: "t".into(),
                now: now(),
            };
            assert_eq!(codes(&s.put_master(w).await.unwrap_err())[0].0, code);
        }

        // Lists page by code and filter.
        let page = s
            .locations(&ListQuery {
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page.items
                .iter()
                .map(|l| l.def.code.as_str())
                .collect::<Vec<_>>(),
            vec!["SZ", "SZ-L1"]
        );
        let page2 = s
            .locations(&ListQuery {
                limit: 2,
                after: page.next.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            page2
                .items
                .iter()
                .map(|l| l.def.code.as_str())
                .collect::<Vec<_>>(),
            vec!["SZ-WH", "SZ-WH-A1"]
        );
        let bins = s
            .locations(&ListQuery {
                limit: 10,
                kind: Some("bin".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(bins.items.len(), 2);
        let found = s
            .parties(&ListQuery {
                limit: 10,
                search: Some("resin".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
        assert!(s.verify().await.unwrap().first_break.is_none());
    }
);

store_test!(
    commissioning_registers_units_once,
    |s: TestStore| async move {
        plant(&*s).await;
        let out = s
            .capture(vec![commission_phones(&["P1", "P2"], 60)], None)
            .await
            .unwrap();
        assert!(matches!(out, CaptureOutcome::Recorded(ref r) if r.len() == 1));
        let item = s.item(&key("PHONE", "P1")).await.unwrap().unwrap();
        assert_eq!(item.status, ItemStatus::InProduction);
        assert_eq!(item.location.as_deref(), Some("SZ-L1"));
        assert_eq!(item.attributes.get("color"), Some(&json!("black")));
        assert_eq!(item.event_count, 1);

        let before = ledger_len(&s).await;
        let e = s
            .capture(vec![commission_phones(&["P3", "P2"], 50)], None)
            .await
            .unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("duplicate_serial", Some("items[1].serial".into()))]
        );
        assert_eq!(ledger_len(&s).await, before);
        assert!(
            s.item(&key("PHONE", "P3")).await.unwrap().is_none(),
            "nothing of a refused event is written"
        );
    }
);

store_test!(
    a_batch_is_all_or_nothing_and_names_every_bad_event,
    |s: TestStore| async move {
        plant(&*s).await;
        let before = ledger_len(&s).await;
        let ship_unknown = event(json!({
            "type": "object", "action": "OBSERVE", "event_time": at(10), "biz_step": "shipping", "disposition": "in_transit",
            "items": [{"product": "PHONE", "serial": "NOPE"}]
        }));
        let bad_location = event(json!({
            "type": "object", "action": "OBSERVE", "event_time": at(10), "biz_location": "MARS",
            "items": [{"product": "PHONE", "serial": "B1"}]
        }));
        let batch = vec![
            commission_phones(&["B1", "B2"], 30),
            ship_unknown,
            bad_location,
        ];
        let e = s.capture(batch, None).await.unwrap_err();
        assert_eq!(
            codes(&e),
            vec![
                ("unknown_serial", Some("events[1].items[0].serial".into())),
                ("unknown_location", Some("events[2].biz_location".into()))
            ]
        );
        assert_eq!(ledger_len(&s).await, before);
        assert!(s.item(&key("PHONE", "B1")).await.unwrap().is_none());
    }
);

store_test!(
    a_retried_request_is_recorded_once,
    |s: TestStore| async move {
        plant(&*s).await;
        let k = IdempotencyKey {
            key: "scan-42".into(),
            request_hash: [7; 32],
        };
        let batch = vec![commission_phones(&["I1"], 5)];
        let first = s.capture(batch.clone(), Some(k.clone())).await.unwrap();
        let len = ledger_len(&s).await;
        let again = s.capture(batch, Some(k.clone())).await.unwrap();
        assert!(matches!(again, CaptureOutcome::Replayed(_)));
        assert_eq!(first.receipts(), again.receipts());
        assert_eq!(ledger_len(&s).await, len);
        let other = IdempotencyKey {
            request_hash: [8; 32],
            ..k
        };
        let e = s
            .capture(vec![commission_phones(&["I2"], 5)], Some(other))
            .await
            .unwrap_err();
        assert_eq!(codes(&e)[0].0, "idempotency_key_reused");
    }
);

store_test!(
    assembly_keeps_a_time_aware_genealogy,
    |s: TestStore| async move {
        plant(&*s).await;
        s.capture(
            vec![
                commission_phones(&["A1", "A2"], 60),
                commission_boards(&["BD1", "BD2"], 60),
            ],
            None,
        )
        .await
        .unwrap();
        let assemble = |parent: &str, child: &str, m: i64| {
            event(
                json!({"type": "aggregation", "action": "ADD", "event_time": at(m), "biz_step": "assembling", "biz_location": "SZ-L1",
            "parent": {"product": "PHONE", "serial": parent}, "children": [{"product": "BOARD", "serial": child}]}),
            )
        };
        let a = assemble("A1", "BD1", 50);
        let add_id = a.id;
        s.capture(vec![a], None).await.unwrap();
        let phone = s.item(&key("PHONE", "A1")).await.unwrap().unwrap();
        assert_eq!(phone.children, vec![key("BOARD", "BD1")]);
        assert_eq!(
            s.item(&key("BOARD", "BD1")).await.unwrap().unwrap().parent,
            Some(key("PHONE", "A1"))
        );

        // A component is in one parent at a time.
        let e = s
            .capture(vec![assemble("A2", "BD1", 40)], None)
            .await
            .unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("already_assembled", Some("children[0].serial".into()))]
        );
        // A unit cannot go into itself.
        let cycle = event(
            json!({"type": "aggregation", "action": "ADD", "event_time": at(40),
        "parent": {"product": "BOARD", "serial": "BD1"}, "children": [{"product": "PHONE", "serial": "A1"}]}),
        );
        assert_eq!(
            codes(&s.capture(vec![cycle], None).await.unwrap_err())[0].0,
            "assembly_cycle"
        );

        // Removing all children closes the link; putting the board elsewhere opens a new one.
        let remove = event(
            json!({"type": "aggregation", "action": "DELETE", "event_time": at(30), "biz_step": "disassembling",
        "parent": {"product": "PHONE", "serial": "A1"}}),
        );
        let remove_id = remove.id;
        s.capture(vec![remove], None).await.unwrap();
        assert!(
            s.item(&key("PHONE", "A1"))
                .await
                .unwrap()
                .unwrap()
                .children
                .is_empty()
        );
        s.capture(vec![assemble("A2", "BD1", 20)], None)
            .await
            .unwrap();
        let edges = s.snapshot().await.unwrap().edges;
        let a1 = edges
            .iter()
            .find(|e| e.parent == Node::Item(key("PHONE", "A1")))
            .unwrap();
        assert_eq!((a1.from_event, a1.to_event), (add_id, Some(remove_id)));
        let a2 = edges
            .iter()
            .find(|e| e.parent == Node::Item(key("PHONE", "A2")))
            .unwrap();
        assert_eq!(a2.to_event, None);
        // Removing a child that is not in the parent is refused.
        let wrong = event(
            json!({"type": "aggregation", "action": "DELETE", "event_time": at(10),
        "parent": {"product": "PHONE", "serial": "A1"}, "children": [{"product": "BOARD", "serial": "BD1"}]}),
        );
        assert_eq!(
            codes(&s.capture(vec![wrong], None).await.unwrap_err())[0].0,
            "not_in_parent"
        );
    }
);

store_test!(
    lot_quantities_never_go_negative,
    |s: TestStore| async move {
        plant(&*s).await;
        s.capture(vec![receive_resin("R-1", "100", "SZ-WH-A1", 100)], None)
            .await
            .unwrap();
        let l = s.lot(&lot("RESIN", "R-1")).await.unwrap().unwrap();
        assert_eq!(l.stock.len(), 1);
        assert_eq!(
            (
                l.stock[0].location.as_str(),
                l.stock[0].quantity.to_string()
            ),
            ("SZ-WH-A1", "100".to_string())
        );
        assert_eq!(
            l.expiry_date.map(|d| d.to_string()).as_deref(),
            Some("2027-05-01")
        );

        let mv = |q: &str| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(90), "biz_step": "storing",
            "lots": [{"product": "RESIN", "lot": "R-1", "quantity": q}],
            "sources": [{"type": "location", "id": "SZ-WH-A1"}], "destinations": [{"type": "location", "id": "SZ-WH-A2"}]}),
            )
        };
        s.capture(vec![mv("30.5")], None).await.unwrap();
        let e = s.capture(vec![mv("70")], None).await.unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("insufficient_quantity", Some("lots[0].quantity".into()))]
        );

        // Transformation: resin becomes boards; the boards' genealogy points at the lot.
        let mold = event(
            json!({"type": "transformation", "event_time": at(80), "biz_step": "commissioning", "biz_location": "SZ-WH-A2",
        "input_lots": [{"product": "RESIN", "lot": "R-1", "quantity": "0.5"}],
        "outputs": [{"product": "BOARD", "serial": "M1"}]}),
        );
        s.capture(vec![mold], None).await.unwrap();
        let l = s.lot(&lot("RESIN", "R-1")).await.unwrap().unwrap();
        let q: Vec<(String, String)> = l
            .stock
            .iter()
            .map(|s| (s.location.clone(), s.quantity.to_string()))
            .collect();
        assert_eq!(
            q,
            vec![
                ("SZ-WH-A1".into(), "69.5".into()),
                ("SZ-WH-A2".into(), "30".into())
            ]
        );
        let snap = s.snapshot().await.unwrap();
        assert!(
            snap.edges
                .iter()
                .any(|e| e.parent == Node::Item(key("BOARD", "M1"))
                    && e.child == Node::Lot(lot("RESIN", "R-1")))
        );

        // Scrapping more than there is at a bin is refused.
        let scrap = event(
            json!({"type": "object", "action": "DELETE", "event_time": at(70), "biz_step": "destroying", "biz_location": "SZ-WH-A2",
        "lots": [{"product": "RESIN", "lot": "R-1", "quantity": "30.001"}]}),
        );
        assert_eq!(
            codes(&s.capture(vec![scrap], None).await.unwrap_err())[0].0,
            "insufficient_quantity"
        );
    }
);

store_test!(holds_and_corrections, |s: TestStore| async move {
    plant(&*s).await;
    let c = commission_phones(&["H1"], 60);
    let commission_id = c.id;
    s.capture(vec![c], None).await.unwrap();
    let hold = event(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(50), "biz_step": "inspecting",
        "disposition": "non_conformant", "items": [{"product": "PHONE", "serial": "H1"}], "hold": {"place": "qc"}}),
    );
    s.capture(vec![hold], None).await.unwrap();
    let item = s.item(&key("PHONE", "H1")).await.unwrap().unwrap();
    assert_eq!(item.holds, vec![threadline_domain::event::HoldKind::Qc]);

    let fix = event(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(40), "biz_location": "SZ-WH-A1",
        "items": [{"product": "PHONE", "serial": "H1"}], "corrects": {"event": commission_id, "reason": "scanned at the wrong line"}}),
    );
    s.capture(vec![fix.clone()], None).await.unwrap();
    let original = s.event(commission_id).await.unwrap().unwrap();
    assert_eq!(original.corrected_by, vec![fix.id]);
    let unknown = event(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(30),
        "items": [{"product": "PHONE", "serial": "H1"}], "corrects": {"event": Uuid::now_v7(), "reason": "x"}}),
    );
    assert_eq!(
        codes(&s.capture(vec![unknown], None).await.unwrap_err())[0].0,
        "unknown_event"
    );

    // Scrapped units take no further steps.
    let scrap = event(
        json!({"type": "object", "action": "DELETE", "event_time": at(20), "biz_step": "destroying",
        "items": [{"product": "PHONE", "serial": "H1"}]}),
    );
    s.capture(vec![scrap], None).await.unwrap();
    assert_eq!(
        s.item(&key("PHONE", "H1")).await.unwrap().unwrap().status,
        ItemStatus::Scrapped
    );
    let ship = event(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(10), "biz_step": "shipping",
        "disposition": "in_transit", "items": [{"product": "PHONE", "serial": "H1"}]}),
    );
    assert_eq!(
        codes(&s.capture(vec![ship], None).await.unwrap_err())[0].0,
        "item_scrapped"
    );
});

store_test!(
    events_are_listed_by_unit_transaction_and_page,
    |s: TestStore| async move {
        plant(&*s).await;
        for i in 0..5 {
            s.capture(vec![commission_phones(&[&format!("E{i}")], 60 - i)], None)
                .await
                .unwrap();
        }
        let ship = event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(5), "biz_step": "shipping", "disposition": "in_transit",
        "items": [{"product": "PHONE", "serial": "E1"}], "destinations": [{"type": "owning_party", "id": "DIST-GD"}],
        "biz_transactions": [{"type": "so", "id": "SO-9"}]}),
        );
        let stock = event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(6), "biz_step": "storing",
        "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": "E1"}]}),
        );
        s.capture(vec![stock, ship], None).await.unwrap();
        let e1 = s
            .events(&EventQuery {
                item: Some(key("PHONE", "E1")),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(e1.items.len(), 3);
        let item = s.item(&key("PHONE", "E1")).await.unwrap().unwrap();
        assert_eq!(
            (
                item.status,
                item.custodian.as_deref(),
                item.location.as_deref()
            ),
            (ItemStatus::InTransit, Some("DIST-GD"), None)
        );
        let so = s
            .events(&EventQuery {
                biz_transaction: Some(("so".into(), "SO-9".into())),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(so.items.len(), 1);
        let wo = s
            .events(&EventQuery {
                biz_transaction: Some(("prodorder".into(), "WO-1".into())),
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(wo.items.len(), 3);
        let after: i64 = wo.next.as_deref().unwrap().parse().unwrap();
        let rest = s
            .events(&EventQuery {
                biz_transaction: Some(("prodorder".into(), "WO-1".into())),
                limit: 3,
                after_seq: Some(after),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((rest.items.len(), rest.next), (2, None));
        let commissioning = s
            .events(&EventQuery {
                biz_step: Some("commissioning".into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(commissioning.items.len(), 5);
    }
);

store_test!(
    a_client_chosen_event_id_is_recorded_once,
    |s: TestStore| async move {
        plant(&*s).await;
        let id = Uuid::now_v7();
        let mut first = commission_phones(&["ID1"], 30);
        first.id = id;
        s.capture(vec![first], None).await.unwrap();
        let before = ledger_len(&s).await;
        let mut again = commission_phones(&["ID2"], 20);
        again.id = id;
        let e = s.capture(vec![again.clone()], None).await.unwrap_err();
        assert_eq!(codes(&e)[0].0, "duplicate_event");
        // Twice within one batch.
        let mut twin = commission_phones(&["ID3"], 10);
        twin.id = Uuid::now_v7();
        let mut twin2 = commission_phones(&["ID4"], 10);
        twin2.id = twin.id;
        let e = s.capture(vec![twin, twin2], None).await.unwrap_err();
        assert_eq!(codes(&e)[0].0, "duplicate_event");
        assert_eq!(ledger_len(&s).await, before);
        assert!(s.item(&key("PHONE", "ID2")).await.unwrap().is_none());
    }
);

store_test!(
    the_process_refuses_out_of_sequence_steps_at_the_scan,
    |s: TestStore| async move {
        plant(&*s).await;
        s.capture(vec![commission_phones(&["Q1", "Q2", "Q3"], 100)], None)
            .await
            .unwrap();
        let ship = |serial: &str, m: i64| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(m), "biz_step": "shipping", "disposition": "in_transit",
            "items": [{"product": "PHONE", "serial": serial}], "destinations": [{"type": "owning_party", "id": "DIST-GD"}]}),
            )
        };
        let store = |serial: &str, m: i64| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(m), "biz_step": "storing",
            "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": serial}]}),
            )
        };
        let before = ledger_len(&s).await;
        // Not in stock yet.
        let e = s.capture(vec![ship("Q1", 90)], None).await.unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("not_in_stock", Some("items[0].serial".into()))]
        );
        let StoreError::Invalid(v) = &e else {
            unreachable!()
        };
        assert!(
            v[0].message.contains("Q1")
                && v[0].message.contains("in production")
                && v[0].message.contains("in stock"),
            "{}",
            v[0].message
        );
        assert_eq!(ledger_len(&s).await, before);

        // Stored, then shipped once; a second shipment is refused.
        s.capture(vec![store("Q1", 80), ship("Q1", 79)], None)
            .await
            .unwrap();
        assert_eq!(
            codes(&s.capture(vec![ship("Q1", 70)], None).await.unwrap_err())[0].0,
            "already_shipped"
        );
        let sell = event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(60), "biz_step": "retail_selling",
        "disposition": "retail_sold", "items": [{"product": "PHONE", "serial": "Q1"}], "destinations": [{"type": "owning_party", "id": "CUST1"}]}),
        );
        s.capture(vec![sell.clone()], None).await.unwrap();
        assert_eq!(
            codes(&s.capture(vec![ship("Q1", 50)], None).await.unwrap_err())[0].0,
            "already_sold"
        );

        // A unit on QC hold is neither shipped nor built into another.
        let hold = event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(40), "biz_step": "inspecting",
        "disposition": "non_conformant", "items": [{"product": "PHONE", "serial": "Q2"}], "hold": {"place": "qc"}}),
        );
        s.capture(vec![store("Q2", 45), hold], None).await.unwrap();
        let e = s.capture(vec![ship("Q2", 30)], None).await.unwrap_err();
        assert_eq!(codes(&e), vec![("qc_hold", Some("items[0].serial".into()))]);
        let StoreError::Invalid(v) = &e else {
            unreachable!()
        };
        assert!(
            v[0].message.contains("Q2") && v[0].message.contains("QC hold"),
            "{}",
            v[0].message
        );
        let build = event(
            json!({"type": "aggregation", "action": "ADD", "event_time": at(30), "biz_step": "assembling",
        "parent": {"product": "PHONE", "serial": "Q3"}, "children": [{"product": "PHONE", "serial": "Q2"}]}),
        );
        assert_eq!(
            codes(&s.capture(vec![build], None).await.unwrap_err())[0].0,
            "qc_hold"
        );
        // A batch reports every refused scan at once.
        let e = s
            .capture(vec![ship("Q2", 20), ship("Q3", 20)], None)
            .await
            .unwrap_err();
        assert_eq!(
            codes(&e),
            vec![
                ("qc_hold", Some("events[0].items[0].serial".into())),
                ("not_in_stock", Some("events[1].items[0].serial".into()))
            ]
        );
        // Rebuild replays what was accepted and ends where the live state is.
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    verify_sees_one_snapshot_while_captures_run,
    |s: TestStore| async move {
        plant(&*s).await;
        let writer = {
            let store = s.store.clone();
            tokio::spawn(async move {
                for i in 0..60 {
                    store
                        .capture(vec![commission_boards(&[&format!("V{i}")], 10)], None)
                        .await
                        .unwrap();
                }
            })
        };
        while !writer.is_finished() {
            let report = s.verify().await.unwrap();
            assert_eq!(
                report.first_break, None,
                "a live ledger must verify at every moment"
            );
        }
        writer.await.unwrap();
        assert_eq!(s.verify().await.unwrap().first_break, None);
    }
);

store_test!(
    a_container_carries_its_contents_and_holds_each_unit_once,
    |s: TestStore| async move {
        plant(&*s).await;
        put(
            &*s,
            "product",
            json!({"code": "CASE", "name": "Shipping case", "tracking": "serial", "container": true}),
        )
        .await;
        s.capture(vec![commission_phones(&["C1", "C2", "C3"], 100)], None)
            .await
            .unwrap();
        let store = |items: serde_json::Value, m: i64| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(m), "biz_step": "storing",
                "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1", "items": items}),
            )
        };
        let case = |serial: &str| json!({"product": "CASE", "serial": serial});
        let phone = |serial: &str| json!({"product": "PHONE", "serial": serial});
        let new_cases = event(
            json!({"type": "object", "action": "ADD", "event_time": at(95), "biz_step": "commissioning",
            "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1", "items": [case("00095212345000000018"), case("00095212345000000025")]}),
        );
        let pack = |container: &str, items: serde_json::Value, m: i64| {
            event(
                json!({"type": "aggregation", "action": "ADD", "event_time": at(m), "biz_step": "packing",
                "parent": case(container), "children": items}),
            )
        };
        s.capture(
            vec![
                store(json!([phone("C1"), phone("C2"), phone("C3")]), 96),
                new_cases,
                pack(
                    "00095212345000000018",
                    json!([phone("C1"), phone("C2")]),
                    90,
                ),
            ],
            None,
        )
        .await
        .unwrap();
        let before = ledger_len(&s).await;

        // A unit is in one container at a time.
        let e = s
            .capture(
                vec![pack("00095212345000000025", json!([phone("C2")]), 80)],
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("already_packed", Some("children[0].serial".into()))]
        );
        // Only containers are packed into.
        let into_phone = event(
            json!({"type": "aggregation", "action": "ADD", "event_time": at(80), "biz_step": "packing",
            "parent": phone("C3"), "children": [phone("C1")]}),
        );
        let e = s.capture(vec![into_phone], None).await.unwrap_err();
        assert!(
            codes(&e).contains(&("not_a_container", Some("parent.serial".into()))),
            "{e:?}"
        );
        // A packed unit does not leave on its own.
        let ship = |items: serde_json::Value, m: i64| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(m), "biz_step": "shipping", "disposition": "in_transit",
                "items": items, "destinations": [{"type": "owning_party", "id": "DIST-GD"}]}),
            )
        };
        let e = s
            .capture(vec![ship(json!([phone("C1")]), 70)], None)
            .await
            .unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("in_container", Some("items[0].serial".into()))]
        );
        // A held unit inside the case stops the case, naming the unit.
        let hold = event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(75), "items": [phone("C2")], "hold": {"place": "admin"}}),
        );
        s.capture(vec![hold], None).await.unwrap();
        let e = s
            .capture(vec![ship(json!([case("00095212345000000018")]), 70)], None)
            .await
            .unwrap_err();
        let StoreError::Invalid(v) = &e else {
            unreachable!()
        };
        assert_eq!(v[0].code, "on_hold");
        assert!(v[0].message.contains("C2"), "{}", v[0].message);
        // A case with contents is not scrapped.
        let scrap = event(
            json!({"type": "object", "action": "DELETE", "event_time": at(70), "biz_step": "destroying",
            "items": [case("00095212345000000018")]}),
        );
        assert_eq!(
            codes(&s.capture(vec![scrap], None).await.unwrap_err())[0].0,
            "container_not_empty"
        );
        assert_eq!(ledger_len(&s).await, before + 1);

        // Released, the case ships and everything in it ships with it.
        let release = event(
            json!({"type": "object", "action": "OBSERVE", "event_time": at(65), "items": [phone("C2")], "hold": {"release": "admin"}}),
        );
        s.capture(
            vec![release, ship(json!([case("00095212345000000018")]), 60)],
            None,
        )
        .await
        .unwrap();
        for serial in ["C1", "C2"] {
            let u = s.item(&key("PHONE", serial)).await.unwrap().unwrap();
            assert_eq!(
                (u.status, u.custodian.as_deref()),
                (ItemStatus::InTransit, Some("DIST-GD"))
            );
        }
        let c3 = s.item(&key("PHONE", "C3")).await.unwrap().unwrap();
        assert_eq!(c3.status, ItemStatus::InStock);
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    custom_attributes_are_checked_on_every_operation,
    |s: TestStore| async move {
        plant(&*s).await;
        s.capture(vec![commission_phones(&["A1"], 100)], None)
            .await
            .unwrap();
        let repaint = |color: &str| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(50), "biz_step": "inspecting",
                "items": [{"product": "PHONE", "serial": "A1"}], "fields": {"color": color}}),
            )
        };
        let before = ledger_len(&s).await;
        let e = s.capture(vec![repaint("pink")], None).await.unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("invalid_attribute", Some("fields.color".into()))]
        );
        assert_eq!(ledger_len(&s).await, before);
        s.capture(vec![repaint("white")], None).await.unwrap();
        let u = s.item(&key("PHONE", "A1")).await.unwrap().unwrap();
        assert_eq!(u.attributes["color"], "white");
    }
);

store_test!(
    capture_checks_against_the_stored_process_definition,
    |s: TestStore| async move {
        plant(&*s).await;
        assert!(s.process().await.unwrap().is_none());
        s.capture(vec![commission_phones(&["R1"], 100)], None)
            .await
            .unwrap();
        let inspect = || {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(50), "biz_step": "inspecting",
                "items": [{"product": "PHONE", "serial": "R1"}], "fields": {"inspector": "Zhao"}}),
            )
        };
        s.capture(vec![inspect()], None).await.unwrap();
        let mut process = threadline_domain::process::Process::default();
        process
            .required_fields
            .push(threadline_domain::process::FieldRule {
                operation: threadline_domain::process::Operation::Inspect,
                category: None,
                fields: vec!["inspector".into(), "equipment".into()],
            });
        s.put_master(MasterWrite {
            record: threadline_domain::master::MasterRecord::Process(process.clone()),
            actor: "test".into(),
            now: now(),
            id: Uuid::now_v7(),
            replaces: None,
        })
        .await
        .unwrap();
        assert_eq!(s.process().await.unwrap().unwrap().def, process);
        let e = s.capture(vec![inspect()], None).await.unwrap_err();
        assert_eq!(
            codes(&e),
            vec![("missing_field", Some("fields.equipment".into()))]
        );
        // What was accepted before stays accepted: rebuild replays it under the rules of its day.
        let live = s.snapshot().await.unwrap();
        assert_eq!(live.processes.len(), 1);
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    the_process_says_which_state_an_operation_leaves,
    |s: TestStore| async move {
        plant(&*s).await;
        s.capture(vec![commission_phones(&["D1", "D2"], 100)], None)
            .await
            .unwrap();
        let store = |serial: &str, m: i64| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(m), "biz_step": "storing",
                "disposition": "sellable_not_accessible", "biz_location": "SZ-WH-A1", "items": [{"product": "PHONE", "serial": serial}]}),
            )
        };
        let ship = |serial: &str, m: i64| {
            event(
                json!({"type": "object", "action": "OBSERVE", "event_time": at(m), "biz_step": "shipping", "disposition": "in_transit",
                "items": [{"product": "PHONE", "serial": serial}], "destinations": [{"type": "owning_party", "id": "CUST1"}]}),
            )
        };
        s.capture(vec![store("D1", 90), store("D2", 90), ship("D1", 80)], None)
            .await
            .unwrap();
        // A plant that sells straight to end customers: a shipment leaves the unit sold.
        let mut process = threadline_domain::process::Process::default();
        for r in &mut process.steps {
            if r.operation == threadline_domain::process::Operation::Ship {
                r.to = Some(ItemStatus::Sold);
            }
        }
        s.put_master(MasterWrite {
            record: threadline_domain::master::MasterRecord::Process(process),
            actor: "test".into(),
            now: now(),
            id: Uuid::now_v7(),
            replaces: None,
        })
        .await
        .unwrap();
        s.capture(vec![ship("D2", 70)], None).await.unwrap();
        let status = |serial: &'static str| {
            let s = &s;
            async move { s.item(&key("PHONE", serial)).await.unwrap().unwrap().status }
        };
        assert_eq!(status("D1").await, ItemStatus::InTransit);
        assert_eq!(status("D2").await, ItemStatus::Sold);
        // Rebuild replays each event under the process of its day.
        let live = s.snapshot().await.unwrap();
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    label_units_are_read_in_one_batch_in_the_order_asked,
    |s: TestStore| async move {
        plant(&*s).await;
        s.capture(vec![commission_phones(&["P1", "P2"], 30)], None)
            .await
            .unwrap();
        // More keys than one SQLite query takes, most naming nothing.
        let mut keys: Vec<ItemKey> = (0..1200)
            .map(|i| key("PHONE", &format!("NO-{i}")))
            .collect();
        keys[0] = key("PHONE", "P2");
        keys[1100] = key("PHONE", "P1");
        let units = s.label_units(&keys).await.unwrap();
        assert_eq!(units.len(), 1200);
        let found: Vec<usize> = (0..1200).filter(|&i| units[i].is_some()).collect();
        assert_eq!(found, [0, 1100]);
        let p1 = units[1100].clone().unwrap();
        assert_eq!(p1.status, ItemStatus::InProduction);
        assert_eq!(p1.attributes.get("color"), Some(&json!("black")));
        assert!(!p1.labelled);

        // A label printed for P1 (an OBSERVE encoding event): P1 is labelled, P2 is not.
        s.capture(
            vec![event(json!({
                "type": "object", "action": "OBSERVE", "event_time": at(10), "biz_step": "encoding",
                "items": [{"product": "PHONE", "serial": "P1"}]
            }))],
            None,
        )
        .await
        .unwrap();
        let units = s
            .label_units(&[key("PHONE", "P1"), key("PHONE", "P2")])
            .await
            .unwrap();
        let labelled: Vec<bool> = units.iter().map(|u| u.as_ref().unwrap().labelled).collect();
        assert_eq!(labelled, [true, false]);
        assert!(s.label_units(&[]).await.unwrap().is_empty());
    }
);
