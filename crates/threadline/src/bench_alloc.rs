//! `threadline bench allocate`: allocating serials in bulk from a stored rule — how long a
//! million serials take, in blocks, each block one `encoding` event recorded all or nothing
//! (the counter moved, every serial registered as an unassigned unit). A fresh database per
//! run. It reports; it asserts nothing about speed, only that every serial is distinct.

use std::collections::HashSet;
use std::time::Instant;

use anyhow::bail;
use chrono::Utc;
use serde_json::json;
use threadline_server::serials::{AllocationRequest, allocate};

use crate::bench::Figure;

/// Options of the allocation benchmark.
#[derive(Debug, Clone)]
pub struct AllocBench {
    /// `sqlite` (a fresh temporary file per run) or the URL of an empty PostgreSQL database
    /// (one run).
    pub db: Option<String>,
    /// Serials per run.
    pub serials: u64,
    /// Serials per allocation request.
    pub block: u64,
    pub runs: usize,
}

async fn one_run(url: &str, opts: &AllocBench) -> anyhow::Result<f64> {
    let now = Utc::now();
    let store = crate::open_store(url, "process").await?;
    crate::bench::put_masters(
        &*store,
        now,
        &[
        (
            "serial_rule",
            json!({"name": "Bench rule", "rule": {"code": "BENCH", "template": "9{SEQ:8}{CHECK:gs1}"}}),
        ),
        (
            "product",
            json!({"code": "ALLOC-BENCH", "name": "Bench unit", "tracking": "serial", "serial_rule": "BENCH"}),
        ),
        ],
    )
    .await?;
    // The blocks are kept as they come and checked distinct after the clock stops: hashing a
    // million serials is the benchmark's work, not the allocation's.
    let mut blocks = Vec::new();
    let start = Instant::now();
    let mut left = opts.serials;
    while left > 0 {
        let req = AllocationRequest {
            count: left.min(opts.block),
            site: None,
            line: None,
            at: None,
            printer: None,
        };
        let out = allocate(&*store, "ALLOC-BENCH", &req, "bench", now, None)
            .await
            .map_err(|e| anyhow::anyhow!("allocation refused: {}", e.first_message()))?;
        left -= req.count;
        blocks.push(out.serials);
    }
    let secs = start.elapsed().as_secs_f64();
    let mut seen = HashSet::with_capacity(usize::try_from(opts.serials)?);
    seen.extend(blocks.into_iter().flatten());
    if seen.len() as u64 != opts.serials {
        bail!("{} distinct serials, not {}", seen.len(), opts.serials);
    }
    Ok(secs)
}

/// Runs the benchmark, prints a table and returns the figures.
pub async fn allocate_bench(
    opts: AllocBench,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Figure>> {
    let mut secs = Vec::new();
    let engine = match &opts.db {
        Some(u) if !u.starts_with("sqlite") => {
            secs.push(one_run(u, &opts).await?);
            "PostgreSQL"
        }
        _ => {
            for _ in 0..opts.runs.max(1) {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite:{}", dir.path().join("bench.db").display());
                secs.push(one_run(&url, &opts).await?);
            }
            "SQLite"
        }
    };
    let rates = secs.iter().map(|s| opts.serials as f64 / s).collect();
    let figures = vec![
        Figure::of(
            &format!(
                "allocate {} serials in blocks of {}, {engine}",
                opts.serials, opts.block
            ),
            "s",
            secs,
        ),
        Figure::of("allocation rate", "serials/s", rates),
    ];
    crate::bench::table(out, &figures, 2)?;
    Ok(figures)
}
