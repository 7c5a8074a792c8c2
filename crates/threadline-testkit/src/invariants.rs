//! The invariants every sequence of operations keeps, checked on a store after it: each unit
//! is in one place and at most one parent (assembly or container), with exactly one open
//! genealogy link to it and no cycle; a unit taken back (`returned`) is held by no one outside;
//! no lot quantity is negative (or kept at zero); and rebuilding the projection from the
//! ledger gives exactly the live state, and every unit's timeline (its own events and those
//! it took inside a container) reads the same.

use std::collections::{HashMap, HashSet};

use threadline_domain::codes::ItemKey;
use threadline_domain::projection::Node;
use threadline_store::Store;

/// Panics, naming `what` and the unit or lot, at the first invariant broken.
pub async fn check(s: &dyn Store, what: &str) {
    let live = s.snapshot().await.expect("snapshot");
    assert!(
        live.stock.iter().all(|(_, _, q)| q.is_positive()),
        "{what}: no lot quantity is ever negative or kept at zero"
    );
    let mut places = HashSet::new();
    for (key, _) in &live.items {
        assert!(places.insert(key), "{what}: {key} is held twice");
    }
    let mut open: HashMap<ItemKey, Vec<Node>> = HashMap::new();
    for e in &live.edges {
        if let (Node::Item(child), None, "aggregation" | "association") =
            (&e.child, &e.to_event, e.kind.as_str())
        {
            open.entry(child.clone())
                .or_default()
                .push(e.parent.clone());
        }
    }
    for (key, _) in &live.items {
        let unit = s
            .item(key)
            .await
            .expect("item")
            .expect("listed unit exists");
        if unit.status == threadline_domain::projection::ItemStatus::Returned {
            assert_eq!(
                unit.custodian, None,
                "{what}: {key} was taken back, yet {:?} holds it",
                unit.custodian
            );
        }
        let links = open.get(key).cloned().unwrap_or_default();
        assert!(links.len() <= 1, "{what}: {key} is in {links:?}");
        assert_eq!(
            links.first(),
            unit.parent.clone().map(Node::Item).as_ref(),
            "{what}: {key}'s parent and its open genealogy link disagree"
        );
        let mut seen = HashSet::from([key.clone()]);
        let mut cur = unit.parent.clone();
        while let Some(p) = cur {
            assert!(seen.insert(p.clone()), "{what}: {key} is inside itself");
            cur = s
                .item(&p)
                .await
                .expect("item")
                .expect("parent exists")
                .parent;
        }
    }
    let mut timelines = Vec::with_capacity(live.items.len());
    for (key, _) in &live.items {
        timelines.push(s.unit_history(key).await.expect("unit history"));
    }
    let report = s.rebuild().await.expect("rebuild");
    assert_eq!(report.entries, s.verify().await.expect("verify").entries);
    assert_eq!(
        live,
        s.snapshot().await.expect("snapshot"),
        "{what}: rebuilt projection differs from the live one"
    );
    for ((key, _), before) in live.items.iter().zip(timelines) {
        assert_eq!(
            s.unit_history(key).await.expect("unit history"),
            before,
            "{what}: {key}'s timeline differs after a rebuild"
        );
    }
    assert!(s.verify().await.expect("verify").first_break.is_none());
}
