//! `threadline bench epcis`: EPCIS capture of whole documents through HTTP — events per second
//! and the latency of each `POST /epcis/capture` (the capture is synchronous, so a document's
//! latency is the time to its 202). The documents are commissioning events of one GTIN, one
//! EPC each, with no eventID (the hash ID is computed for every event). It reports; it asserts
//! nothing about speed.

use std::time::Instant;

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::io::BufReader;

use crate::bench::{Figure, post, token};

/// Options of the EPCIS capture benchmark.
#[derive(Debug, Clone)]
pub struct EpcisBench {
    /// `sqlite` (a fresh temporary file) or the URL of an empty PostgreSQL database.
    pub db: Option<String>,
    pub documents: usize,
    pub events: usize,
}

const GTIN: &str = "04012345111118";
const GLN: &str = "4012345000009";

fn document(d: usize, events: usize, now: DateTime<Utc>) -> serde_json::Value {
    let list: Vec<serde_json::Value> = (0..events)
        .map(|i| {
            let t = now - chrono::Duration::hours(1) + chrono::Duration::milliseconds(i as i64);
            json!({"type": "ObjectEvent", "eventTime": t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "eventTimeZoneOffset": "+08:00", "action": "ADD", "bizStep": "commissioning",
                "disposition": "active", "bizLocation": {"id": format!("https://id.gs1.org/414/{GLN}")},
                "epcList": [format!("https://id.gs1.org/01/{GTIN}/21/E{d:05}-{i:05}")],
                "bizTransactionList": [{"type": "prodorder", "bizTransaction": format!("urn:epcglobal:cbv:bt:{GLN}:WO-{d}")}]})
        })
        .collect();
    json!({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": now.to_rfc3339(),
        "epcisBody": {"eventList": list}})
}

/// Runs the benchmark, prints a table and returns the figures.
pub async fn epcis(opts: EpcisBench, out: &mut dyn std::io::Write) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let url = match &opts.db {
        Some(u) if !u.starts_with("sqlite") => u.clone(),
        _ => format!("sqlite:{}", dir.path().join("bench.db").display()),
    };
    let now = Utc::now();
    let store = crate::open_store(&url, "process").await?;
    crate::bench::put_masters(
        &*store,
        now,
        &[
        (
            "location",
            json!({"code": GLN, "name": "Bench site", "kind": "site"}),
        ),
        (
            "product",
            json!({"code": "EPCIS-BENCH", "name": "Bench unit", "tracking": "serial", "gtin": GTIN}),
        ),
        ],
    )
    .await?;
    let token = token(&*store, threadline_domain::access::Role::Production, now).await?;
    let bodies: Vec<Vec<u8>> = (0..opts.documents)
        .map(|d| serde_json::to_vec(&document(d, opts.events, now)))
        .collect::<Result<_, _>>()?;
    let before = store.verify().await?.entries;
    let served = crate::bench::Loopback::start(store.clone()).await?;
    let addr = served.addr;
    let client = tokio::spawn(async move {
        let mut conn = BufReader::new(tokio::net::TcpStream::connect(addr).await?);
        let mut each = Vec::with_capacity(bodies.len());
        let start = Instant::now();
        for body in &bodies {
            let t = Instant::now();
            let (status, resp) = post(&mut conn, "/epcis/capture", token.expose(), body).await?;
            if status != 202 {
                bail!(
                    "capture refused with {status}: {}",
                    String::from_utf8_lossy(&resp)
                );
            }
            each.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok::<_, anyhow::Error>((start.elapsed().as_secs_f64(), each))
    });
    let (secs, mut each) = client.await??;
    served.stop().await?;
    let recorded = store.verify().await?.entries - before;
    let expected = i64::try_from(opts.documents * opts.events)?;
    if recorded != expected {
        bail!("{recorded} events were recorded, not {expected}: a capture job failed");
    }
    each.sort_by(|a, b| a.total_cmp(b));
    let p95 = each
        .get((each.len() * 95).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or(0.0);
    let rate = (opts.documents * opts.events) as f64 / secs;
    let engine = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let figures = vec![
        Figure::of(
            &format!("EPCIS capture, {}-event documents, {engine}", opts.events),
            "events/s",
            vec![rate],
        ),
        Figure {
            name: "latency per document (min, p95 in the median column, max)".into(),
            unit: "ms".into(),
            min: each.first().copied().unwrap_or(0.0),
            median: p95,
            max: each.last().copied().unwrap_or(0.0),
        },
    ];
    writeln!(
        out,
        "{} documents of {} events: {rate:.0} events/s; per document p95 {p95:.0} ms",
        opts.documents, opts.events
    )?;
    crate::bench::table(out, &figures, 0)?;
    Ok(figures)
}
