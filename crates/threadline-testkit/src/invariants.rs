//! The invariants every sequence of operations keeps, checked on a store after it: each unit
//! is in one place and at most one parent (assembly or container), with exactly one open
//! genealogy link to it and no cycle; no lot quantity is negative (or kept at zero); and
//! rebuilding the projection from the ledger gives exactly the live state.

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
    let report = s.rebuild().await.expect("rebuild");
    assert_eq!(report.entries, s.verify().await.expect("verify").entries);
    assert_eq!(
        live,
        s.snapshot().await.expect("snapshot"),
        "{what}: rebuilt projection differs from the live one"
    );
    assert!(s.verify().await.expect("verify").first_break.is_none());
}
