//! `threadline bench capture`: batch capture through HTTP, measured against the ceiling of the
//! storage layout — the same ledger, index and unit rows written by bare prepared statements.
//!
//! The server runs in this process on a loopback port; the client is a separate task speaking
//! plain HTTP/1.1 over one keep-alive connection, so the figure includes parsing, validation,
//! the projection, hashing and the response. Nothing here asserts a speed: it reports one.

use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Options of one capture run.
#[derive(Debug, Clone)]
pub struct CaptureBench {
    /// `sqlite:` (a fresh temporary file per run) or a PostgreSQL URL (a fresh schema on that
    /// server per run, dropped after it).
    pub db: Option<String>,
    pub events: usize,
    pub batch: usize,
    /// Concurrent clients sharing the requests.
    pub clients: usize,
    pub runs: usize,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Figure {
    pub(crate) fn of(name: &str, unit: &str, mut xs: Vec<f64>) -> Figure {
        xs.sort_by(|a, b| a.total_cmp(b));
        let median = if xs.is_empty() { 0.0 } else { xs[xs.len() / 2] };
        Figure {
            name: name.to_owned(),
            unit: unit.to_owned(),
            min: xs.first().copied().unwrap_or(0.0),
            median,
            max: xs.last().copied().unwrap_or(0.0),
        }
    }
}

fn event_json(i: usize, now: DateTime<Utc>) -> serde_json::Value {
    json!({"type": "object", "action": "ADD", "event_time": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "BENCH-L1",
        "items": [{"product": "BENCH", "serial": format!("B{i:010}")}],
        "biz_transactions": [{"type": "prodorder", "id": format!("WO-{}", i / 5000)}]})
}

/// Threadline served in this process on a loopback port, for a benchmark's clients.
pub(crate) struct Loopback {
    pub addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Loopback {
    pub(crate) async fn start(
        store: std::sync::Arc<dyn threadline_store::Store>,
    ) -> anyhow::Result<Loopback> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(threadline_server::serve(
            listener,
            threadline_server::AppState::new(store),
            async {
                let _ = stop_rx.await;
            },
        ));
        Ok(Loopback { addr, stop, server })
    }

    /// Shuts the server down and waits for it.
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}

pub(crate) async fn post(
    stream: &mut BufReader<tokio::net::TcpStream>,
    path: &str,
    token: &str,
    body: &[u8],
) -> anyhow::Result<(u16, Vec<u8>)> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.get_mut().write_all(head.as_bytes()).await?;
    stream.get_mut().write_all(body).await?;
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("bad status line")?;
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut buf = vec![0; len];
    stream.read_exact(&mut buf).await?;
    Ok((status, buf))
}

pub(crate) async fn setup(
    store: &dyn threadline_store::Store,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    crate::bench::put_masters(
        store,
        now,
        &[
        (
            "location",
            json!({"code": "BENCH", "name": "Bench site", "kind": "site"}),
        ),
        (
            "location",
            json!({"code": "BENCH-L1", "name": "Bench line", "kind": "line", "parent": "BENCH"}),
        ),
        (
            "product",
            json!({"code": "BENCH", "name": "Bench unit", "tracking": "serial"}),
        ),
        ],
    )
    .await?;
    Ok(())
}

/// Records master data (`(kind, definition)` pairs, as the import and the API take them) as
/// the benchmark's own actor.
pub(crate) async fn put_masters(
    store: &dyn threadline_store::Store,
    now: DateTime<Utc>,
    records: &[(&str, serde_json::Value)],
) -> anyhow::Result<()> {
    for (kind, def) in records {
        let record = serde_json::from_value(json!({"type": kind, "def": def}))?;
        store
            .put_master(threadline_store::MasterWrite {
                record,
                actor: "bench".into(),
                now,
                id: uuid::Uuid::now_v7(),
                replaces: None,
            })
            .await?;
    }
    Ok(())
}

/// Peak (`VmHWM:`) or current (`VmRSS:`) resident memory of this process, in MiB (Linux only).
pub(crate) fn rss_mib(which: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(which))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// An API token for a benchmark client. Each run on a shared database needs its own name:
/// names are never reused.
pub(crate) async fn token(
    store: &dyn threadline_store::Store,
    role: threadline_domain::access::Role,
    now: DateTime<Utc>,
) -> anyhow::Result<threadline_domain::access::Credential> {
    Ok(threadline_server::account::mint_token(
        store,
        threadline_domain::access::TokenName::parse(&format!(
            "bench-{}",
            uuid::Uuid::now_v7().simple()
        ))?,
        threadline_domain::access::Roles::one(role),
        None,
        None,
        "bench".into(),
        now,
        None,
    )
    .await?)
}

/// Prints figures as a Markdown table (after a blank line), with `decimals` decimals.
pub(crate) fn table(
    out: &mut dyn std::io::Write,
    figures: &[Figure],
    decimals: usize,
) -> std::io::Result<()> {
    writeln!(
        out,
        "\n| figure | min | median | max | unit |\n|---|---|---|---|---|"
    )?;
    for f in figures {
        writeln!(
            out,
            "| {} | {:.decimals$} | {:.decimals$} | {:.decimals$} | {} |",
            f.name, f.min, f.median, f.max, f.unit
        )?;
    }
    Ok(())
}

/// Writes benchmark figures as JSON, if a file was named.
pub(crate) fn write_figures(
    path: Option<&std::path::Path>,
    figures: &[Figure],
) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_vec_pretty(figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// One run of HTTP capture by `clients` concurrent connections sharing the requests; returns
/// events per second.
async fn http_run(db_url: &str, n: usize, batch: usize, clients: usize) -> anyhow::Result<f64> {
    let now = Utc::now();
    let (store, _schema): (std::sync::Arc<dyn threadline_store::Store>, _) =
        if crate::is_postgres(db_url) {
            let (store, guard) = threadline_store_postgres::testing::fresh_schema(db_url)
                .await
                .context("making a fresh schema for the run")?;
            (std::sync::Arc::new(store), Some(guard))
        } else {
            (crate::open_store(db_url, "process").await?, None)
        };
    setup(&*store, now).await?;
    let token = token(&*store, threadline_domain::access::Role::Production, now).await?;
    let bodies: Vec<Vec<u8>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(batch)
        .map(|c| serde_json::to_vec(&c.iter().map(|i| event_json(*i, now)).collect::<Vec<_>>()))
        .collect::<Result<_, _>>()?;
    // Request i goes to client i mod clients.
    let mut shares: Vec<Vec<Vec<u8>>> = vec![Vec::new(); clients];
    for (i, body) in bodies.into_iter().enumerate() {
        shares[i % clients].push(body);
    }
    let served = Loopback::start(store).await?;
    let addr = served.addr;
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(BufReader::new(tokio::net::TcpStream::connect(addr).await?));
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(shares)
        .map(|(mut conn, share)| {
            let token = token.expose().to_owned();
            tokio::spawn(async move {
                for body in &share {
                    let (status, resp) = post(&mut conn, "/api/v1/events", &token, body).await?;
                    if status != 201 {
                        bail!(
                            "capture refused with {status}: {}",
                            String::from_utf8_lossy(&resp)
                        );
                    }
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    served.stop().await?;
    Ok(n as f64 / secs)
}

/// The ceiling: the same rows a capture writes (ledger entry with chained hash, event index
/// row, unit row, unit-event index row), inserted with prepared statements in one transaction
/// per batch, with none of Threadline's parsing, checking or projection.
fn raw_sqlite_run(path: &std::path::Path, n: usize, batch: usize) -> anyhow::Result<f64> {
    threadline_store_sqlite::SqliteStore::open(path, threadline_store_sqlite::Durability::Process)?;
    let mut c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.execute("INSERT INTO products (code, name, tracking, version, updated_at, def) VALUES ('RAW', 'raw', 'serial', 1, 0, '{}')", [])?;
    let pid = c.last_insert_rowid();
    let now = Utc::now();
    let bodies: Vec<String> = (0..n).map(|i| event_json(i, now).to_string()).collect();
    let start = Instant::now();
    let mut prev = [0u8; 32];
    let mut seq = 0i64;
    for chunk in bodies.chunks(batch) {
        let tx = c.transaction()?;
        {
            let mut ledger = tx.prepare_cached("INSERT INTO ledger (seq, entry_id, kind, recorded_at, body, hash) VALUES (?1, ?2, 'event', ?3, ?4, ?5)")?;
            let mut events = tx.prepare_cached("INSERT INTO events (seq, event_id, event_time, kind, action, biz_step) VALUES (?1, ?2, ?3, 'object', 'ADD', 'commissioning')")?;
            let mut items = tx.prepare_cached("INSERT INTO items (product_id, serial, status, location) VALUES (?1, ?2, 'in_production', 'L1') RETURNING id")?;
            let mut event_items = tx.prepare_cached(
                "INSERT INTO event_items (item_id, seq, role) VALUES (?1, ?2, 0)",
            )?;
            for body in chunk {
                seq += 1;
                let id = uuid::Uuid::now_v7();
                prev = threadline_domain::ledger::chain_hash(&prev, seq, body.as_bytes());
                let t = now.timestamp_micros();
                ledger.execute(rusqlite::params![
                    seq,
                    id.as_bytes().as_slice(),
                    t,
                    body,
                    prev.as_slice()
                ])?;
                events.execute(rusqlite::params![seq, id.as_bytes().as_slice(), t])?;
                let item_id: i64 =
                    items.query_row(rusqlite::params![pid, format!("R{seq:010}")], |r| r.get(0))?;
                event_items.execute(rusqlite::params![item_id, seq])?;
            }
        }
        tx.commit()?;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Runs the capture benchmark and prints a table; returns the figures.
pub async fn capture(
    opts: CaptureBench,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Figure>> {
    let mut http = Vec::new();
    let mut raw = Vec::new();
    let mut ratio = Vec::new();
    for run in 0..opts.runs {
        let dir = tempfile::tempdir()?;
        let url = match &opts.db {
            Some(u) if !u.starts_with("sqlite") => u.clone(),
            _ => format!("sqlite:{}", dir.path().join("bench.db").display()),
        };
        let h = http_run(&url, opts.events, opts.batch, opts.clients).await?;
        let r = if url.starts_with("sqlite") {
            let path = dir.path().join("raw.db");
            let (n, b) = (opts.events, opts.batch);
            tokio::task::spawn_blocking(move || raw_sqlite_run(&path, n, b)).await??
        } else {
            f64::NAN
        };
        writeln!(
            out,
            "run {}: capture {:.0} events/s, raw SQLite {:.0} rows/s",
            run + 1,
            h,
            r
        )?;
        http.push(h);
        if r.is_finite() {
            raw.push(r);
            ratio.push(h / r);
        }
    }
    let engine = if opts.db.as_deref().is_some_and(|u| !u.starts_with("sqlite")) {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut figures = vec![Figure::of(
        &format!(
            "capture through HTTP, {} events/request, {} client{}, {engine}",
            opts.batch,
            opts.clients,
            if opts.clients == 1 { "" } else { "s" }
        ),
        "events/s",
        http,
    )];
    if !raw.is_empty() {
        figures.push(Figure::of(
            "raw SQLite insert of the same rows",
            "rows/s",
            raw,
        ));
        figures.push(Figure::of("capture ÷ raw", "ratio", ratio));
    }
    writeln!(
        out,
        "\n| figure | min | median | max | unit |\n|---|---|---|---|---|"
    )?;
    for f in &figures {
        let fmt = |x: f64| {
            if f.unit == "ratio" {
                format!("{x:.2}")
            } else {
                format!("{x:.0}")
            }
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            f.name,
            fmt(f.min),
            fmt(f.median),
            fmt(f.max),
            f.unit
        )?;
    }
    Ok(figures)
}
