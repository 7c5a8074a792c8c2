//! `threadline bench load` and `threadline bench passport`: reads of the generated plant
//! through HTTP, from a separate process.
//!
//! `bench load` is the load generator: `clients` concurrent keep-alive connections ask for the
//! passport of random units of the plant's sample for `seconds`, repeated `runs` times
//! (requests/s, p50 and p99 of each run); then one client asks for the backward trace of random
//! finished units one after another (p50 and p99), and for their EPCIS events
//! (`MATCH_anyEPC`, p50 and p95), and the forward trace of the plant's first
//! resin lot as a streamed CSV (seconds to the last byte, rows). `bench passport` is the
//! driver: it starts `threadline serve` on the generated database as a child process, runs
//! `bench load` as another, reads the server's peak RSS (`VmHWM`) when the load is done, stops
//! the server, and prints and writes every figure. Nothing here asserts a speed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use rand::{Rng as _, SeedableRng, rngs::StdRng};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::bench::Figure;
use crate::bench_plant::{Manifest, UnitKey};

/// Options of the load generator.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `http://127.0.0.1:PORT` of a running server.
    pub url: String,
    pub token: String,
    pub manifest: Manifest,
    pub clients: usize,
    pub seconds: f64,
    pub runs: usize,
    /// Backward traces per run (one client).
    pub traces: usize,
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn passport_path(u: &UnitKey) -> String {
    format!(
        "/api/v1/items/{}/{}/passport",
        encode(&u.product),
        encode(&u.serial)
    )
}

fn authority(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http:// (the benchmark speaks plain HTTP/1.1)")?;
    Ok(rest.trim_end_matches('/').to_owned())
}

/// One keep-alive HTTP/1.1 connection that GETs and reads whole answers (sized or chunked).
struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
    token: String,
}

impl Conn {
    async fn open(host: &str, token: &str) -> anyhow::Result<Conn> {
        let s = TcpStream::connect(host)
            .await
            .with_context(|| format!("connecting to {host}"))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
            host: host.to_owned(),
            token: token.to_owned(),
        })
    }

    /// GETs `path`; returns the status and the body's length and line count.
    async fn get(&mut self, path: &str) -> anyhow::Result<(u16, usize, usize)> {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            self.host, self.token
        );
        self.stream.get_mut().write_all(head.as_bytes()).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let (mut len, mut chunked) = (None, false);
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse::<usize>().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let (mut bytes, mut lines) = (0usize, 0usize);
        let mut buf = vec![0u8; 64 * 1024];
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .with_context(|| format!("bad chunk size {line:?}"))?;
                if size == 0 {
                    line.clear();
                    self.stream.read_line(&mut line).await?;
                    break;
                }
                lines += skip(&mut self.stream, &mut buf, size).await?;
                bytes += size;
                let mut crlf = [0u8; 2];
                self.stream.read_exact(&mut crlf).await?;
            }
        } else {
            let n = len.unwrap_or(0);
            lines += skip(&mut self.stream, &mut buf, n).await?;
            bytes += n;
        }
        Ok((status, bytes, lines))
    }
}

/// Reads `n` bytes of a body and counts its lines.
async fn skip(
    stream: &mut BufReader<TcpStream>,
    buf: &mut [u8],
    n: usize,
) -> anyhow::Result<usize> {
    let (mut left, mut newlines) = (n, 0usize);
    while left > 0 {
        let k = left.min(buf.len());
        stream.read_exact(&mut buf[..k]).await?;
        newlines += buf[..k].iter().filter(|b| **b == b'\n').count();
        left -= k;
    }
    Ok(newlines)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// One passport run: `clients` connections for `seconds`; returns requests/s, p50 and p99 (ms).
async fn passport_run(
    host: &str,
    token: &str,
    sample: Arc<Vec<UnitKey>>,
    clients: usize,
    seconds: f64,
    seed: u64,
) -> anyhow::Result<(f64, f64, f64)> {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (host, token, sample) = (host.to_owned(), token.to_owned(), sample.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(&host, &token).await?;
            let mut rng = StdRng::seed_from_u64(seed ^ (c as u64).wrapping_mul(0x9E37_79B9));
            let mut lat = Vec::new();
            while Instant::now() < until {
                let u = &sample[rng.random_range(0..sample.len())];
                let t = Instant::now();
                let (status, _, _) = conn.get(&passport_path(u)).await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                if status != 200 {
                    bail!("passport of {} {} answered {status}", u.product, u.serial);
                }
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok((
        all.len() as f64 / wall,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
    ))
}

/// Runs the load generator against a running server; returns the figures.
pub async fn load(opts: LoadOptions, out: &mut dyn std::io::Write) -> anyhow::Result<Vec<Figure>> {
    let host = authority(&opts.url)?;
    if opts.manifest.sample.is_empty() {
        bail!("the manifest has no sample units");
    }
    let sample = Arc::new(opts.manifest.sample.clone());
    let runs = opts.runs.max(1);
    // Warm the connection pool and the caches a little, as a plant's day would.
    passport_run(
        &host,
        &opts.token,
        sample.clone(),
        opts.clients,
        (opts.seconds / 5.0).min(2.0),
        1,
    )
    .await?;
    let (mut rps, mut p50, mut p99) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let (r, a, b) = passport_run(
            &host,
            &opts.token,
            sample.clone(),
            opts.clients,
            opts.seconds,
            run as u64 + 2,
        )
        .await?;
        writeln!(
            out,
            "passport run {}: {r:.0} requests/s, p50 {a:.2} ms, p99 {b:.2} ms ({} clients)",
            run + 1,
            opts.clients
        )?;
        rps.push(r);
        p50.push(a);
        p99.push(b);
    }
    let events = opts.manifest.events;
    let c = opts.clients;
    let mut figures = vec![
        Figure::of(
            &format!("passport through HTTP, {c} clients, {events} events"),
            "requests/s",
            rps,
        ),
        Figure::of(&format!("passport p50, {c} clients"), "ms", p50),
        Figure::of(&format!("passport p99, {c} clients"), "ms", p99),
    ];

    // Backward trace of one finished unit, and the EPCIS events naming one unit
    // (`MATCH_anyEPC`), one request at a time.
    let mut conn = Conn::open(&host, &opts.token).await?;
    let mut rng = StdRng::seed_from_u64(opts.manifest.seed);
    let backward = one_at_a_time(
        &mut conn,
        &mut rng,
        &sample,
        runs,
        opts.traces,
        out,
        "backward trace",
        |u| {
            format!(
                "/api/v1/trace/backward?product={}&serial={}",
                encode(&u.product),
                encode(&u.serial)
            )
        },
    )
    .await?;
    figures.push(Figure::of(
        "backward trace of one finished unit p50, 1 client",
        "ms",
        backward.iter().map(|l| percentile(l, 0.5)).collect(),
    ));
    figures.push(Figure::of(
        "backward trace of one finished unit p99, 1 client",
        "ms",
        backward.iter().map(|l| percentile(l, 0.99)).collect(),
    ));
    // The generated products have no GTIN: their units are Threadline URNs to EPCIS.
    let epcis = one_at_a_time(
        &mut conn,
        &mut rng,
        &sample,
        runs,
        opts.traces,
        out,
        "EPCIS MATCH_anyEPC",
        |u| {
            format!(
                "/epcis/events?MATCH_anyEPC={}",
                encode(&format!(
                    "urn:threadline:unit:{}:{}",
                    encode(&u.product),
                    encode(&u.serial)
                ))
            )
        },
    )
    .await?;
    figures.push(Figure::of(
        "EPCIS GET /events?MATCH_anyEPC= one unit p50, 1 client",
        "ms",
        epcis.iter().map(|l| percentile(l, 0.5)).collect(),
    ));
    figures.push(Figure::of(
        "EPCIS GET /events?MATCH_anyEPC= one unit p95, 1 client",
        "ms",
        epcis.iter().map(|l| percentile(l, 0.95)).collect(),
    ));

    // Forward trace of the first resin lot, streamed as CSV.
    let lot = &opts.manifest.resin_lot;
    let path = format!(
        "/api/v1/trace/forward?product={}&lot={}&format=csv",
        encode(&lot.product),
        encode(&lot.serial)
    );
    let (mut secs, mut rows) = (Vec::new(), 0usize);
    for run in 0..runs {
        let t = Instant::now();
        let (status, bytes, lines) = conn.get(&path).await?;
        let s = t.elapsed().as_secs_f64();
        if status != 200 {
            bail!("forward trace of {} answered {status}", lot.serial);
        }
        rows = lines.saturating_sub(1);
        writeln!(
            out,
            "forward trace run {}: {} {rows} rows ({:.1} MiB CSV) in {s:.3} s",
            run + 1,
            lot.serial,
            bytes as f64 / 1_048_576.0
        )?;
        secs.push(s * 1000.0);
    }
    figures.push(Figure::of(
        &format!(
            "forward trace of a resin lot through HTTP (CSV to the last byte), {rows} rows, {} finished units",
            opts.manifest.resin_lot_reaches
        ),
        "ms",
        secs,
    ));
    Ok(figures)
}

/// `runs` runs of `count` GETs of random sample units, one after another on `conn`; the
/// sorted latencies (ms) of each run. Anything but 200 stops the benchmark.
#[allow(clippy::too_many_arguments)]
async fn one_at_a_time(
    conn: &mut Conn,
    rng: &mut StdRng,
    sample: &[UnitKey],
    runs: usize,
    count: usize,
    out: &mut dyn std::io::Write,
    what: &str,
    path: impl Fn(&UnitKey) -> String,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let mut all = Vec::new();
    for run in 0..runs {
        let mut lat = Vec::new();
        for _ in 0..count.max(1) {
            let u = &sample[rng.random_range(0..sample.len())];
            let t = Instant::now();
            let (status, _, _) = conn.get(&path(u)).await?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            if status != 200 {
                bail!("{what} of {} {} answered {status}", u.product, u.serial);
            }
        }
        lat.sort_by(|a, b| a.total_cmp(b));
        writeln!(
            out,
            "{what} run {}: {} requests, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            run + 1,
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99)
        )?;
        all.push(lat);
    }
    Ok(all)
}

/// Options of the driver.
#[derive(Debug, Clone)]
pub struct PassportBench {
    pub db: String,
    pub manifest: PathBuf,
    /// The `threadline` executable to start the server and the load generator with.
    pub exe: PathBuf,
    pub clients: usize,
    pub seconds: f64,
    pub runs: usize,
    pub traces: usize,
}

fn status_kib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Kills the child process on drop (the server must not outlive a failed run).
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a manifest written by `bench gen`.
pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(path)
        .with_context(|| format!("reading the manifest {} (run bench gen)", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))
}

/// Starts a server on the generated database and a load generator, both as child processes.
pub async fn passport(
    opts: PassportBench,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Figure>> {
    let manifest = read_manifest(&opts.manifest)?;
    let token = {
        let store = crate::open_store(&opts.db, "process").await?;
        crate::bench::token(
            &*store,
            threadline_domain::access::Role::Auditor,
            Utc::now(),
        )
        .await?
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir()?;
    let log = std::fs::File::create(dir.path().join("serve.log"))?;
    let mut server = ChildGuard(
        std::process::Command::new(&opts.exe)
            .args(["serve", "--db", &opts.db, "--listen", &addr])
            .env(
                "THREADLINE_ADMIN_PASSWORD",
                format!("Bench-{}-pw", uuid::Uuid::new_v4().simple()),
            )
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} serve", opts.exe.display()))?,
    );
    let pid = server.0.id();
    let t = Instant::now();
    loop {
        if let Ok(mut c) = Conn::open(&addr, "").await
            && let Ok((200, _, _)) = c.get("/healthz").await
        {
            break;
        }
        if let Some(status) = server.0.try_wait()? {
            let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
            bail!("the server stopped ({status}): {log}");
        }
        if t.elapsed() > Duration::from_secs(120) {
            bail!("the server did not answer /healthz within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let idle = status_kib(pid, "VmRSS:").unwrap_or(f64::NAN) / 1024.0;
    writeln!(
        out,
        "server pid {pid} on {addr}: {idle:.0} MiB resident at start; {} events, {} finished units",
        manifest.events, manifest.finished_units
    )?;
    let figures_file = dir.path().join("load.json");
    let mut load = std::process::Command::new(&opts.exe);
    load.args([
        "bench",
        "load",
        "--url",
        &format!("http://{addr}"),
        "--manifest",
    ])
    .arg(&opts.manifest)
    .args([
        "--clients",
        &opts.clients.to_string(),
        "--seconds",
        &opts.seconds.to_string(),
        "--runs",
        &opts.runs.to_string(),
        "--traces",
        &opts.traces.to_string(),
        "--json",
    ])
    .arg(&figures_file)
    .env("THREADLINE_TOKEN", token.expose());
    let load = tokio::task::spawn_blocking(move || load.output())
        .await?
        .context("running bench load")?;
    out.write_all(&load.stdout)?;
    if !load.status.success() {
        bail!(
            "bench load failed ({}): {}",
            load.status,
            String::from_utf8_lossy(&load.stderr)
        );
    }
    let peak = status_kib(pid, "VmHWM:").unwrap_or(f64::NAN) / 1024.0;
    drop(server);
    let mut figures: Vec<Figure> = serde_json::from_slice(&std::fs::read(&figures_file)?)?;
    figures.push(Figure::of(
        &format!("server peak RSS (VmHWM), {} events", manifest.events),
        "MiB",
        vec![peak],
    ));
    crate::bench::table(out, &figures, 2)?;
    Ok(figures)
}
