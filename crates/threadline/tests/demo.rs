//! The demo plant loads on both engines, passes verify, and rebuilds to the same state.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use threadline_testkit::{TestStore, store_test};

store_test!(
    demo_loads_verifies_and_rebuilds,
    |s: TestStore| async move {
        let now = threadline_testkit::fixtures::now();
        let n = threadline::demo::load(&*s, now)
            .await
            .unwrap()
            .expect("empty database takes the demo");
        assert!(n > 500, "a living plant, not a toy: {n} entries");
        assert_eq!(
            threadline::demo::load(&*s, now).await.unwrap(),
            None,
            "never loaded twice"
        );
        let report = s.verify().await.unwrap();
        assert_eq!((report.entries as usize, report.first_break), (n, None));
        let live = s.snapshot().await.unwrap();
        assert!(live.items.len() > 600);
        assert!(
            live.edges.iter().any(|e| e.to_event.is_some()),
            "a repair swapped a part"
        );
        s.rebuild().await.unwrap();
        assert_eq!(s.snapshot().await.unwrap(), live);
    }
);

store_test!(
    the_passport_of_a_repaired_unit_tells_its_whole_story,
    |s: TestStore| async move {
        let now = threadline_testkit::fixtures::now();
        threadline::demo::load(&*s, now).await.unwrap();
        let key: threadline_domain::codes::ItemKey = serde_json::from_value(
            serde_json::json!({"product": "TC-200", "serial": "TC2-2610-00001"}),
        )
        .unwrap();
        let p = threadline_server::passport::passport(&*s, &key, now)
            .await
            .unwrap()
            .expect("registered");
        assert_eq!(
            p.identity.digital_link.as_deref(),
            Some("https://id.gs1.org/01/06901234567892/21/TC2-2610-00001")
        );
        assert_eq!((p.warranty.status, p.warranty.months), ("active", Some(24)));
        let start = p.warranty.start.unwrap();
        assert!(start < now && p.warranty.end.unwrap() > now);
        let steps: Vec<&str> = p
            .timeline
            .iter()
            .map(|e| e.event.biz_step.as_ref().map(|s| s.as_str()).unwrap_or(""))
            .collect();
        assert_eq!(
            &steps[..4],
            ["commissioning", "assembling", "inspecting", "storing"]
        );
        assert!(
            p.timeline.windows(2).all(|w| w[0].seq < w[1].seq),
            "oldest first"
        );
        assert_eq!(p.qc.len(), 1);
        let repair_steps: Vec<&str> = p
            .repairs
            .iter()
            .map(|e| e.event.biz_step.as_ref().map(|s| s.as_str()).unwrap_or(""))
            .collect();
        assert!(
            repair_steps.contains(&"removing")
                && repair_steps.contains(&"replacing")
                && repair_steps.contains(&"repairing"),
            "{repair_steps:?}"
        );
        // The battery swap shows in the components.
        assert!(
            p.state
                .children
                .iter()
                .any(|c| c.serial.as_str() == "ND5A2609201"),
            "{:?}",
            p.state.children
        );
        // An unknown unit has no passport.
        let ghost: threadline_domain::codes::ItemKey =
            serde_json::from_value(serde_json::json!({"product": "TC-200", "serial": "NOPE"}))
                .unwrap();
        assert!(
            threadline_server::passport::passport(&*s, &ghost, now)
                .await
                .unwrap()
                .is_none()
        );
    }
);

store_test!(
    backward_and_forward_trace_as_of_a_date,
    |s: TestStore| async move {
        use threadline_domain::projection::Node;
        use threadline_store::Direction;
        let now = threadline_testkit::fixtures::now();
        threadline::demo::load(&*s, now).await.unwrap();
        let unit: Node = serde_json::from_value(
            serde_json::json!({"item": {"product": "TC-200", "serial": "TC2-2610-00001"}}),
        )
        .unwrap();
        let label = |n: &Node| match n {
            Node::Item(k) => format!("{} {}", k.product, k.serial),
            Node::Lot(k) => format!("{} lot {}", k.product, k.lot),
        };

        // Today: the board, the replacement battery, the resin; the old battery shown as removed.
        let t = threadline_server::trace::trace(&*s, unit.clone(), Direction::Children, now)
            .await
            .unwrap();
        let held: Vec<String> = t
            .nodes
            .iter()
            .filter(|n| n.removed_at.is_none())
            .map(|n| label(&n.node))
            .collect();
        let removed: Vec<String> = t
            .nodes
            .iter()
            .filter(|n| n.removed_at.is_some())
            .map(|n| label(&n.node))
            .collect();
        assert_eq!(
            held,
            [
                "PCB-A PCBA-2610-00001",
                "RESIN-PC lot KF-2609-01",
                "BAT-5 ND5A2609201"
            ]
        );
        assert_eq!(removed, ["BAT-5 ND5A2609001"]);
        let resin = t
            .nodes
            .iter()
            .find(|n| matches!(&n.node, Node::Lot(_)))
            .unwrap();
        assert_eq!(
            resin.quantity.map(|q| q.to_string()).as_deref(),
            Some("0.12")
        );

        // Before the repair: the original battery, and no replacement yet.
        let before = now - chrono::Duration::days(6);
        let t = threadline_server::trace::trace(&*s, unit.clone(), Direction::Children, before)
            .await
            .unwrap();
        let held: Vec<String> = t
            .nodes
            .iter()
            .filter(|n| n.removed_at.is_none())
            .map(|n| label(&n.node))
            .collect();
        assert!(
            held.contains(&"BAT-5 ND5A2609001".to_string())
                && !held.contains(&"BAT-5 ND5A2609201".to_string()),
            "{held:?}"
        );

        // Forward from the resin lot: the first 100 controllers, each with where it is now.
        let lot: Node = serde_json::from_value(
            serde_json::json!({"lot": {"product": "RESIN-PC", "lot": "KF-2609-01"}}),
        )
        .unwrap();
        let t = threadline_server::trace::trace(&*s, lot, Direction::Parents, now)
            .await
            .unwrap();
        let units: Vec<&threadline_server::trace::TraceNode> = t
            .nodes
            .iter()
            .filter(|n| matches!(&n.node, Node::Item(k) if k.product.as_str() == "TC-200"))
            .collect();
        assert_eq!(units.len(), 100);
        assert!(units.iter().all(|n| n.state.is_some()));
        assert!(
            units
                .iter()
                .any(|n| n.state.as_ref().unwrap().custodian.as_deref() == Some("DIST-GD"))
        );
        // Forward from the swapped-out battery today reaches nothing; as of before the repair it reached its unit.
        let old: Node = serde_json::from_value(
            serde_json::json!({"item": {"product": "BAT-5", "serial": "ND5A2609001"}}),
        )
        .unwrap();
        assert!(
            threadline_server::trace::trace(&*s, old.clone(), Direction::Parents, now)
                .await
                .unwrap()
                .nodes
                .is_empty()
        );
        let t = threadline_server::trace::trace(&*s, old, Direction::Parents, before)
            .await
            .unwrap();
        assert_eq!(
            t.nodes.iter().map(|n| label(&n.node)).collect::<Vec<_>>(),
            ["TC-200 TC2-2610-00001"]
        );
    }
);

/// The operation of `/api/v1/ops` an event of the demo was recorded by, read from the event as
/// the ledger keeps it.
fn operation_of(e: &threadline_store::StoredEvent) -> &'static str {
    use threadline_domain::event::{Action, EventKind, HoldChange};
    let ev = &e.event;
    let step = ev.biz_step.as_ref().map(|s| s.as_str()).unwrap_or("");
    let disposition = ev.disposition.as_ref().map(|d| d.as_str()).unwrap_or("");
    if ev.corrects.is_some() {
        return "correct";
    }
    match (ev.hold, ev.kind, ev.action, step) {
        (Some(HoldChange::Place(_)), _, _, "holding") => "hold",
        (Some(HoldChange::Release(_)), _, _, "holding") => "release",
        (_, EventKind::Transformation, _, _) => "transform",
        (_, EventKind::Object, Some(Action::Add), "receiving") => "receive",
        (_, EventKind::Object, Some(Action::Add), "commissioning") => "commission",
        (_, EventKind::Aggregation, Some(Action::Add), "assembling") => "assemble",
        (_, EventKind::Aggregation, Some(Action::Add), "replacing") => "replace",
        (_, EventKind::Aggregation, Some(Action::Delete), "removing") => "remove",
        // Packing registers a new container, then fills it.
        (_, EventKind::Aggregation | EventKind::Object, Some(Action::Add), "packing") => "pack",
        (_, EventKind::Aggregation, Some(Action::Delete), "unpacking") => "unpack",
        (_, EventKind::Object, _, "inspecting") if ev.fields.contains_key("decision") => {
            "disposition"
        }
        (_, EventKind::Object, _, "inspecting") => "inspect",
        (_, EventKind::Object, _, "storing") => "move",
        (_, EventKind::Object, _, "shipping") => "ship",
        (_, EventKind::Object, _, "receiving") if disposition == "returned" => "return",
        (_, EventKind::Object, _, "receiving") => "distributor-receipt",
        (_, EventKind::Object, _, "retail_selling") => "sell",
        (_, EventKind::Object, _, "repairing") => "repair",
        (_, EventKind::Object, Some(Action::Delete), "destroying") => "scrap",
        _ => "other",
    }
}

store_test!(the_demo_uses_every_operation, |s: TestStore| async move {
    let now = threadline_testkit::fixtures::now();
    threadline::demo::load(&*s, now).await.unwrap();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    let mut after = None;
    loop {
        let page = s
            .events(&threadline_store::EventQuery {
                after_seq: after,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let Some(last) = page.items.last() else { break };
        after = Some(last.seq);
        for e in &page.items {
            *seen.entry(operation_of(e)).or_default() += 1;
        }
    }
    // Every operation that records events (`pick` only suggests, it records nothing).
    let every = [
        "receive",
        "commission",
        "assemble",
        "remove",
        "replace",
        "transform",
        "inspect",
        "disposition",
        "pack",
        "unpack",
        "move",
        "ship",
        "distributor-receipt",
        "sell",
        "return",
        "repair",
        "scrap",
        "hold",
        "release",
        "correct",
    ];
    let missing: Vec<&str> = every
        .iter()
        .copied()
        .filter(|op| !seen.contains_key(op))
        .collect();
    assert!(
        missing.is_empty(),
        "the demo never uses {missing:?}: {seen:?}"
    );
    assert_eq!(seen.get("other"), None, "{seen:?}");
    // The correction put the misplaced unit back where it is; the mistaken move stays.
    let key: threadline_domain::codes::ItemKey = serde_json::from_value(
        serde_json::json!({"product": "TC-200", "serial": "TC2-2610-00200"}),
    )
    .unwrap();
    assert_eq!(
        s.item(&key).await.unwrap().unwrap().location.as_deref(),
        Some("SZ-WH-A04")
    );
});
