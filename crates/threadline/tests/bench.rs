//! The benchmark code keeps working (it measures; it asserts nothing about speed).

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_bench_runs_at_a_tiny_size() {
    let mut out = Vec::new();
    let opts = threadline::bench::CaptureBench {
        db: None,
        events: 300,
        batch: 100,
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
