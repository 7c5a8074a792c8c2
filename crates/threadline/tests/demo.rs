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
