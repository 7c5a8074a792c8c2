//! The benchmark code keeps working (it measures; it asserts nothing about speed).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_bench_runs_at_a_tiny_size() {
    let mut out = Vec::new();
    let opts = threadline::bench::CaptureBench {
        db: None,
        events: 300,
        batch: 100,
        // Three requests over two connections at once: the concurrent path is exercised.
        clients: 2,
        runs: 2,
    };
    let figures = threadline::bench::capture(opts, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(figures.len(), 3, "{text}");
    assert!(
        figures
            .iter()
            .all(|f| f.min > 0.0 && f.min <= f.median && f.median <= f.max),
        "{figures:?}"
    );
    assert!(text.contains("| capture ÷ raw |"), "{text}");
    assert!(text.contains("2 clients, SQLite"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_bench_runs_twice_on_postgres() {
    // Each run on a schema of its own: a second run used to find the first's master data and
    // stop, refused.
    let Ok(url) = std::env::var("THREADLINE_TEST_PG") else {
        eprintln!("THREADLINE_TEST_PG is not set: skipped");
        return;
    };
    let mut out = Vec::new();
    let opts = threadline::bench::CaptureBench {
        db: Some(url),
        events: 200,
        batch: 100,
        clients: 1,
        runs: 2,
    };
    let figures = threadline::bench::capture(opts, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(figures.len(), 1, "{text}");
    assert!(figures[0].min > 0.0, "{figures:?}");
    assert!(text.contains("run 2: capture"), "{text}");
    assert!(text.contains("1 client, PostgreSQL"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_bench_runs_at_a_tiny_size() {
    let mut out = Vec::new();
    let opts = threadline::bench_epcis::EpcisBench {
        db: None,
        documents: 3,
        events: 20,
    };
    let figures = threadline::bench_epcis::epcis(opts, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(figures.len(), 2, "{text}");
    assert!(figures[0].min > 0.0, "{figures:?}");
    assert!(text.contains("3 documents of 20 events"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_bench_runs_at_a_tiny_size() {
    let mut out = Vec::new();
    let opts = threadline::bench_trace::TraceBench {
        db: None,
        units: 250,
        runs: 1,
        xlsx: true,
    };
    let figures = threadline::bench_trace::trace(opts, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    // Walk, walk with whereabouts, then rows/s and memory for CSV and XLSX.
    assert_eq!(figures.len(), 6, "{text}");
    assert!(text.contains("510 nodes, 500 units"), "{text}");
    assert!(text.contains("csv export 510 rows"), "{text}");
    assert!(figures[2].min > 0.0, "{figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_bench_runs_at_a_tiny_size() {
    // SQLite, and PostgreSQL (a fresh schema per run) when a server is given.
    let pg = std::env::var("THREADLINE_TEST_PG").ok();
    for (db, engine) in [(None, "SQLite"), (pg, "PostgreSQL")] {
        if engine == "PostgreSQL" && db.is_none() {
            continue;
        }
        let mut out = Vec::new();
        let opts = threadline::bench_import::ImportBench {
            rows: 300,
            ..threadline::bench_import::ImportBench::quick(db)
        };
        let figures = threadline::bench_import::import_bench(opts, &mut out)
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        // rows/s, peak RSS, and its growth during the import.
        assert_eq!(figures.len(), 3, "{text}");
        assert!(figures[0].min > 0.0, "{figures:?}");
        assert!(text.contains("import of 300 serial rows"), "{text}");
        assert!(
            text.contains(&format!("| import 300 serial rows, {engine} |")),
            "{text}"
        );
    }
}

#[test]
fn labels_bench_runs_at_a_tiny_size() {
    let mut report = Vec::new();
    let mut pdf = Vec::new();
    let figure = threadline::bench_labels::labels(40, &mut pdf, &mut report).unwrap();
    let text = String::from_utf8(report).unwrap();
    // 60 × 40 mm labels on A4: 3 × 6 a page, so 40 labels fill 3 pages.
    assert_eq!((figure.labels, figure.pages), (40, 3), "{text}");
    assert_eq!(figure.pdf_bytes, pdf.len() as u64);
    assert!(pdf.starts_with(b"%PDF-") && String::from_utf8_lossy(&pdf).contains("/Count 3"));
    assert!(text.contains("| 40 | 3 |"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_bench_prints_a_job_through_http_at_a_tiny_size() {
    let mut report = Vec::new();
    let figure = threadline::bench_labels::through_http(30, &mut report)
        .await
        .unwrap();
    let text = String::from_utf8(report).unwrap();
    assert_eq!(figure.labels, 30, "{text}");
    // The whole answer was read (the run checks the PDF ends with %%EOF).
    assert!(figure.pdf_bytes > 2_000, "{figure:?}");
    assert!(text.contains("| 30 | "), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocate_bench_runs_at_a_tiny_size() {
    let mut out = Vec::new();
    let opts = threadline::bench_alloc::AllocBench {
        db: None,
        serials: 250,
        block: 100,
        runs: 2,
    };
    let figures = threadline::bench_alloc::allocate_bench(opts, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(figures.len(), 2, "{text}");
    assert!(figures.iter().all(|f| f.min > 0.0), "{figures:?}");
    assert!(
        text.contains("allocate 250 serials in blocks of 100, SQLite"),
        "{text}"
    );
}

/// Every event of a database, with the record time (the only thing allowed to differ between
/// two generations from one seed) blanked.
async fn ledger_without_record_times(
    store: &dyn threadline_store::Store,
) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .events(&threadline_store::EventQuery {
                after_seq: after,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        after = page.items.last().map(|e| e.seq);
        for e in page.items {
            let mut v = serde_json::to_value(&e.event).unwrap();
            v["record_time"] = serde_json::Value::Null;
            out.push(v);
        }
        if after.is_none() || page.next.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plant_generator_is_deterministic_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledgers = Vec::new();
    for (name, seed) in [("a", 7), ("b", 7), ("c", 8)] {
        let url = format!("sqlite:{}", dir.path().join(format!("{name}.db")).display());
        let store = threadline::open_store(&url, "process").await.unwrap();
        let mut out = Vec::new();
        let made = threadline::bench_plant::generate(
            &*store,
            threadline::bench_plant::GenOptions::quick(seed),
            &mut out,
        )
        .await
        .unwrap();
        let ledger = ledger_without_record_times(&*store).await;
        assert_eq!(
            ledger.len(),
            made.events,
            "{}",
            String::from_utf8_lossy(&out)
        );
        ledgers.push((made, ledger));
    }
    let (a, b, c) = (&ledgers[0], &ledgers[1], &ledgers[2]);
    assert!(
        a.0.events >= 3000 && a.0.finished_units > 0,
        "{:?}",
        a.0.events
    );
    assert_eq!(a.1, b.1, "the same seed gave different events");
    assert_eq!(
        serde_json::to_value(&a.0.sample).unwrap(),
        serde_json::to_value(&b.0.sample).unwrap()
    );
    assert_ne!(a.1, c.1, "another seed gave the same events");
    // Every kind of step of the plant is there.
    let steps: std::collections::BTreeSet<String> =
        a.1.iter()
            .filter_map(|e| e["biz_step"].as_str().map(str::to_owned))
            .collect();
    for step in [
        "receiving",
        "commissioning",
        "assembling",
        "inspecting",
        "shipping",
        "retail_selling",
        "repairing",
    ] {
        assert!(steps.contains(step), "no {step} in {steps:?}");
    }
    // A second generation into the same database is refused, and writes nothing.
    let url = format!("sqlite:{}", dir.path().join("a.db").display());
    let store = threadline::open_store(&url, "process").await.unwrap();
    let err = threadline::bench_plant::generate(
        &*store,
        threadline::bench_plant::GenOptions::quick(7),
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(ledger_without_record_times(&*store).await.len(), a.0.events);
}

/// `bench gen --quick` then `bench passport` through the real binary: a server and a load
/// generator as separate processes, and a JSON file with every figure.
#[test]
fn gen_and_passport_bench_run_at_the_quick_size() {
    let exe = env!("CARGO_BIN_EXE_threadline");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("plant.db").display());
    let made = std::process::Command::new(exe)
        .args(["bench", "gen", "--quick", "--seed", "3", "--db", &db])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(text.contains("finished units"), "{text}");
    let json = dir.path().join("figures.json");
    let run = std::process::Command::new(exe)
        .args([
            "bench",
            "passport",
            "--db",
            &db,
            "--clients",
            "4",
            "--seconds",
            "0.5",
        ])
        .args(["--runs", "2", "--traces", "5", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let figures: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let names: Vec<&str> = figures.iter().filter_map(|f| f["name"].as_str()).collect();
    for expected in [
        "passport through HTTP, 4 clients",
        "passport p50",
        "passport p99",
        "backward trace of one finished unit p50",
        "backward trace of one finished unit p99",
        "forward trace of a resin lot",
        "server peak RSS",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(expected)),
            "no figure {expected} in {names:?}\n{text}"
        );
    }
    for f in &figures {
        let (min, median, max) = (
            f["min"].as_f64().unwrap(),
            f["median"].as_f64().unwrap(),
            f["max"].as_f64().unwrap(),
        );
        assert!(min > 0.0 && min <= median && median <= max, "{f}");
    }
    assert!(text.contains("| passport p99, 4 clients |"), "{text}");
}

/// `bench gen` into PostgreSQL plans on a scratch SQLite file and captures every batch into
/// both: the PostgreSQL plant is the one a direct generation gives — the same events, the same
/// state of every sampled unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plant_planned_on_sqlite_and_copied_to_postgresql_is_the_direct_one() {
    let Some(pg) = threadline_testkit::postgres().await else {
        eprintln!("THREADLINE_TEST_PG is not set: skipped");
        return;
    };
    let direct = threadline_testkit::sqlite();
    let plan = threadline_testkit::sqlite();
    let opts = threadline::bench_plant::GenOptions::quick(11);
    let a = threadline::bench_plant::generate(&*direct.store, opts.clone(), &mut Vec::new())
        .await
        .unwrap();
    let mut out = Vec::new();
    let b = threadline::bench_plant::generate_into(
        &*plan.store,
        Some((pg.store.clone(), None)),
        opts.clone(),
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(a.events, b.events, "{}", String::from_utf8_lossy(&out));
    let want = ledger_without_record_times(&*direct.store).await;
    assert_eq!(want.len(), a.events);
    assert_eq!(ledger_without_record_times(&*pg.store).await, want);
    assert_eq!(ledger_without_record_times(&*plan.store).await, want);
    for u in a.sample.iter().take(50) {
        let key = threadline_domain::ItemKey {
            product: threadline_domain::ProductCode::parse(&u.product).unwrap(),
            serial: threadline_domain::Serial::parse(&u.serial).unwrap(),
        };
        let (d, p) = (
            direct.store.item(&key).await.unwrap(),
            pg.store.item(&key).await.unwrap(),
        );
        assert!(d.is_some(), "{key:?}");
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::to_value(&p).unwrap(),
            "{key:?}"
        );
    }
    // A copy target that is not empty is refused before anything is written.
    let again = threadline_testkit::sqlite();
    let err = threadline::bench_plant::generate_into(
        &*again.store,
        Some((pg.store.clone(), None)),
        opts,
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(ledger_without_record_times(&*again.store).await.is_empty());
}
