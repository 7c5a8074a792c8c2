//! `threadline bench trace`: a large forward trace and its streamed export.
//!
//! The data is made deterministically: one resin lot from a supplier is turned into ten
//! compound lots; each of `units` housings takes compound from one of them; each housing is
//! built into one finished device; the devices are stored and a tenth of them shipped to a distributor. So the
//! resin lot reaches `units` finished devices through three levels (compound → housing →
//! device), 2 × `units` + 10 nodes in all. The figures: the set-based walk alone
//! (`Store::reach`), the walk with every unit's whereabouts (what a JSON trace or an export
//! computes), and the CSV and XLSX exports through HTTP (rows/s, and the process's peak RSS
//! during the export, reset with `/proc/self/clear_refs` before it). Nothing here asserts a
//! speed.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use threadline_domain::event::{CaptureContext, Event, EventRequest};
use threadline_domain::projection::Node;
use threadline_store::{Direction, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bench::Figure;

/// Options of one trace run.
#[derive(Debug, Clone)]
pub struct TraceBench {
    /// `sqlite` (a fresh temporary file, the default), `sqlite:PATH` (a file kept after the
    /// run), or the URL of a PostgreSQL database: empty, or loaded by an earlier run, which is
    /// then measured again without loading.
    pub db: Option<String>,
    /// Finished units the lot reaches.
    pub units: usize,
    /// Repetitions of each timed step.
    pub runs: usize,
    /// Also measure the XLSX export.
    pub xlsx: bool,
}

fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn at(seconds: i64) -> String {
    (base() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

fn item(product: &str, serial: &str) -> Value {
    json!({"product": product, "serial": serial})
}

struct Loader<'a> {
    store: &'a dyn Store,
    pending: Vec<Event>,
    now: DateTime<Utc>,
    events: usize,
}

impl Loader<'_> {
    async fn master(&self, kind: &str, def: Value) -> anyhow::Result<()> {
        crate::bench::put_masters(self.store, self.now, &[(kind, def)]).await
    }

    async fn event(&mut self, v: Value) -> anyhow::Result<()> {
        let req: EventRequest = serde_json::from_value(v)?;
        let ctx = CaptureContext {
            actor: "bench".into(),
            now: self.now,
        };
        let e = Event::from_request(req, &ctx, uuid::Uuid::now_v7())
            .map_err(|v| anyhow::anyhow!("bench event refused: {v:?}"))?;
        self.pending.push(e);
        if self.pending.len() >= 1000 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.events += batch.len();
        self.store.capture(batch, None).await?;
        Ok(())
    }
}

/// Loads the genealogy; returns the number of events recorded.
pub async fn load(store: &dyn Store, units: usize) -> anyhow::Result<usize> {
    let mut l = Loader {
        store,
        pending: Vec::new(),
        now: Utc::now().max(base() + chrono::Duration::days(30)),
        events: 0,
    };
    l.master(
        "location",
        json!({"code": "BENCH", "name": "Bench plant", "kind": "site", "region": "CN-GD"}),
    )
    .await?;
    l.master(
        "location",
        json!({"code": "BENCH-L1", "name": "Bench line", "kind": "line", "parent": "BENCH"}),
    )
    .await?;
    l.master(
        "location",
        json!({"code": "BENCH-WH", "name": "Bench warehouse", "kind": "area", "parent": "BENCH"}),
    )
    .await?;
    l.master(
        "party",
        json!({"code": "SUP-RESIN", "name": "Resin supplier", "kind": "supplier"}),
    )
    .await?;
    l.master("party", json!({"code": "DIST-1", "name": "Distributor", "kind": "distributor", "regions": ["CN-SH"]})).await?;
    l.master("location", json!({"code": "EXT-DIST-1", "name": "Distributor warehouse", "kind": "external", "party": "DIST-1", "region": "CN-SH"})).await?;
    for (code, tracking) in [
        ("RESIN", "lot"),
        ("COMPOUND", "lot"),
        ("HOUSING", "serial"),
        ("DEVICE", "serial"),
    ] {
        l.master(
            "product",
            json!({"code": code, "name": code, "tracking": tracking}),
        )
        .await?;
    }
    let compounds = 10usize;
    let per_compound = units.div_ceil(compounds);
    let compound_kg = per_compound as f64 * 0.1 + 1.0;
    l.event(json!({"type": "object", "action": "ADD", "event_time": at(0), "biz_step": "receiving",
        "biz_location": "BENCH-L1", "lots": [{"product": "RESIN", "lot": "R-1", "quantity": format!("{}", compound_kg * compounds as f64)}],
        "sources": [{"type": "owning_party", "id": "SUP-RESIN"}], "biz_transactions": [{"type": "po", "id": "PO-1"}]}))
        .await?;
    for c in 0..compounds {
        l.event(json!({"type": "transformation", "event_time": at(60 + c as i64), "biz_step": "creating_class_instance", "biz_location": "BENCH-L1",
            "input_lots": [{"product": "RESIN", "lot": "R-1", "quantity": format!("{compound_kg}")}],
            "output_lots": [{"product": "COMPOUND", "lot": format!("C-{c}"), "quantity": format!("{compound_kg}")}]}))
            .await?;
    }
    let housings: Vec<String> = (0..units).map(|i| format!("H{i:09}")).collect();
    let devices: Vec<String> = (0..units).map(|i| format!("D{i:09}")).collect();
    for (product, serials, t) in [("HOUSING", &housings, 3600), ("DEVICE", &devices, 7200)] {
        for (k, chunk) in serials.chunks(1000).enumerate() {
            let items: Vec<Value> = chunk.iter().map(|s| item(product, s)).collect();
            l.event(json!({"type": "object", "action": "ADD", "event_time": at(t + k as i64), "biz_step": "commissioning",
                "disposition": "active", "biz_location": "BENCH-L1", "items": items,
                "biz_transactions": [{"type": "prodorder", "id": format!("WO-{product}")}]}))
                .await?;
        }
    }
    for (i, h) in housings.iter().enumerate() {
        l.event(json!({"type": "aggregation", "action": "ADD", "event_time": at(10_000 + (i / 100) as i64), "biz_step": "assembling",
            "biz_location": "BENCH-L1", "parent": item("HOUSING", h),
            "child_lots": [{"product": "COMPOUND", "lot": format!("C-{}", i % compounds), "quantity": "0.1"}]}))
            .await?;
    }
    for (i, (d, h)) in devices.iter().zip(&housings).enumerate() {
        l.event(json!({"type": "aggregation", "action": "ADD", "event_time": at(20_000 + (i / 100) as i64), "biz_step": "assembling",
            "biz_location": "BENCH-L1", "parent": item("DEVICE", d), "children": [item("HOUSING", h)]}))
            .await?;
    }
    for (k, chunk) in devices.chunks(1000).enumerate() {
        let items: Vec<Value> = chunk.iter().map(|s| item("DEVICE", s)).collect();
        l.event(json!({"type": "object", "action": "OBSERVE", "event_time": at(29_000 + k as i64), "biz_step": "storing",
            "disposition": "sellable_not_accessible", "biz_location": "BENCH-WH", "items": items}))
            .await?;
    }
    for (k, chunk) in devices.chunks(1000).step_by(10).enumerate() {
        let items: Vec<Value> = chunk.iter().map(|s| item("DEVICE", s)).collect();
        l.event(json!({"type": "object", "action": "OBSERVE", "event_time": at(30_000 + k as i64), "biz_step": "shipping",
            "disposition": "in_transit", "items": items,
            "destinations": [{"type": "owning_party", "id": "DIST-1"}, {"type": "location", "id": "EXT-DIST-1"}]}))
            .await?;
    }
    l.flush().await?;
    Ok(l.events)
}

fn root() -> anyhow::Result<Node> {
    Ok(serde_json::from_value(
        json!({"lot": {"product": "RESIN", "lot": "R-1"}}),
    )?)
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// GETs `path` over HTTP/1.0 (the body ends when the server closes) and returns the body size
/// and its line count.
async fn download(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
) -> anyhow::Result<(usize, usize)> {
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut bytes, mut lines, mut head) = (0usize, 0usize, Vec::new());
    let mut in_body = false;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let mut data = &buf[..n];
        if !in_body {
            head.extend_from_slice(data);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let status = String::from_utf8_lossy(&head[..end]).to_string();
            if !status.starts_with("HTTP/1.0 200") && !status.starts_with("HTTP/1.1 200") {
                bail!(
                    "export answered {}",
                    status.lines().next().unwrap_or_default()
                );
            }
            in_body = true;
            let body_start = end + 4 - (head.len() - n);
            data = &buf[body_start.min(n)..n];
        }
        bytes += data.len();
        lines += data.iter().filter(|b| **b == b'\n').count();
    }
    Ok((bytes, lines))
}

/// Runs the trace benchmark and prints a table; returns the figures.
pub async fn trace(opts: TraceBench, out: &mut dyn std::io::Write) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let url = match &opts.db {
        Some(u) if u.len() > "sqlite:".len() || !u.starts_with("sqlite") => u.clone(),
        _ => format!("sqlite:{}", dir.path().join("bench.db").display()),
    };
    let store = crate::open_store(&url, "process").await?;
    let started = Instant::now();
    let lot: threadline_domain::codes::LotKey =
        serde_json::from_value(json!({"product": "RESIN", "lot": "R-1"}))?;
    if store.lot(&lot).await?.is_some() {
        // A database an earlier run loaded (a PostgreSQL one is kept): measured again as it is.
        writeln!(
            out,
            "the database holds a bench genealogy already: not loaded again"
        )?;
    } else {
        let events = load(&*store, opts.units)
            .await
            .context("loading the genealogy")?;
        writeln!(
            out,
            "loaded {events} events ({} finished units) in {:.1} s",
            opts.units,
            started.elapsed().as_secs_f64()
        )?;
    }
    if !url.starts_with("sqlite") {
        // What autovacuum does a minute after a load this size; measured without it, the walk
        // was planned for empty tables (a hash join spilling to 16 batches, then a million
        // index probes in hash order: 30 s for a million nodes instead of 11 s).
        crate::bench_plant::analyze(&url).await?;
    }
    let as_of = Utc::now();
    let (mut walk, mut whole) = (Vec::new(), Vec::new());
    let mut nodes = 0;
    for run in 0..opts.runs {
        let t = Instant::now();
        let rows = threadline_store::collect_reach(
            store
                .reach(vec![root()?], Direction::Parents, as_of)
                .await?,
            usize::MAX,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let w = t.elapsed().as_secs_f64();
        nodes = rows.iter().filter(|r| r.depth > 0).count();
        let t = Instant::now();
        let mut places = threadline_server::trace::Places::new(&*store);
        let mut units = 0usize;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(threadline_store::REACH_CHUNK).collect();
            places
                .prepare(chunk.iter())
                .await
                .map_err(|e| anyhow::anyhow!(e.first_message()))?;
            for r in chunk {
                let n = threadline_server::trace::TraceNode::of(r, &mut places)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.first_message()))?;
                units += usize::from(n.state.is_some());
            }
        }
        let total = w + t.elapsed().as_secs_f64();
        writeln!(
            out,
            "run {}: walk {:.3} s, with whereabouts {:.3} s ({nodes} nodes, {units} units)",
            run + 1,
            w,
            total
        )?;
        walk.push(w * 1000.0);
        whole.push(total * 1000.0);
    }
    let engine = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let mut figures = vec![
        Figure::of(
            &format!("forward walk (Store::reach), {nodes} nodes, {engine}"),
            "ms",
            walk,
        ),
        Figure::of(
            &format!("forward trace with whereabouts, {nodes} nodes, {engine}"),
            "ms",
            whole,
        ),
    ];

    // Exports through HTTP.
    let token = crate::bench::token(
        &*store,
        threadline_domain::access::Role::Auditor,
        Utc::now(),
    )
    .await?;
    let served = crate::bench::Loopback::start(store.clone()).await?;
    let addr = served.addr;
    let mut formats = vec!["csv"];
    if opts.xlsx {
        formats.push("xlsx");
    }
    for format in formats {
        let (mut rates, mut peaks) = (Vec::new(), Vec::new());
        for run in 0..opts.runs {
            reset_peak_rss();
            let before = crate::bench::rss_mib("VmRSS:").unwrap_or(f64::NAN);
            let t = Instant::now();
            let (bytes, lines) = download(
                addr,
                &format!("/api/v1/trace/forward?product=RESIN&lot=R-1&format={format}"),
                token.expose(),
            )
            .await?;
            let secs = t.elapsed().as_secs_f64();
            let rows = if format == "csv" {
                lines.saturating_sub(1)
            } else {
                nodes
            };
            let peak = crate::bench::rss_mib("VmHWM:").unwrap_or(f64::NAN);
            writeln!(
                out,
                "run {}: {format} export {rows} rows, {:.1} MiB in {secs:.2} s, RSS {before:.0} MiB before, peak {peak:.0} MiB",
                run + 1,
                bytes as f64 / 1_048_576.0
            )?;
            rates.push(rows as f64 / secs);
            peaks.push(peak - before);
        }
        figures.push(Figure::of(
            &format!("{format} export through HTTP, {nodes} rows, {engine}"),
            "rows/s",
            rates,
        ));
        figures.push(Figure::of(
            &format!("peak RSS growth of the process during the {format} export"),
            "MiB",
            peaks,
        ));
    }
    let _ = served.stop().await;

    crate::bench::table(out, &figures, 0)?;
    Ok(figures)
}
