//! `threadline bench import`: a plant's serial list loaded in bulk — a CSV of legacy units in
//! stock (product, serial, origin, status, location, production date) written to a temporary
//! file and imported with `--commit` through the path `threadline import` and
//! `POST /api/v1/imports/serials` share (`threadline_server::import::run`: the file read a
//! chunk at a time, every row checked and recorded in one transaction). Reports rows/s and
//! the process's peak resident memory (`VmHWM`, reset through `/proc/self/clear_refs` before
//! each run, with what was resident before it). A fresh database per run: a SQLite file, or a
//! fresh schema on the PostgreSQL server named by `--db`. Nothing here asserts a speed.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::json;
use threadline_store::Store;

use crate::bench::Figure;

/// Options of the import benchmark.
#[derive(Debug, Clone)]
pub struct ImportBench {
    /// `sqlite` (a fresh temporary file per run, the default) or a PostgreSQL URL (a fresh
    /// schema on that database per run, dropped after it).
    pub db: Option<String>,
    /// Rows in the file.
    pub rows: usize,
    pub runs: usize,
}

impl ImportBench {
    /// The small size `--quick` runs.
    pub fn quick(db: Option<String>) -> ImportBench {
        ImportBench {
            db,
            rows: 10_000,
            runs: 1,
        }
    }
}

/// Writes the serial list: `rows` legacy units of one product in stock at one place, made on
/// days spread over five years.
fn write_csv(path: &std::path::Path, rows: usize) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "产品编码,序列号,来源,状态,位置,生产日期")?;
    let first_day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).context("a valid date")?;
    for i in 0..rows {
        let day = first_day + chrono::Days::new((i % 1_826) as u64);
        writeln!(out, "IMP-BENCH,IB{i:09},历史,在库,IMP-WH,{day}")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// The product and place the rows name.
async fn master_data(store: &dyn Store) -> anyhow::Result<()> {
    let now = Utc::now();
    crate::bench::put_masters(
        store,
        now,
        &[
            (
                "product",
                json!({"code": "IMP-BENCH", "name": "Imported unit", "tracking": "serial"}),
            ),
            (
                "location",
                json!({"code": "IMP-WH", "name": "Warehouse", "kind": "site"}),
            ),
        ],
    )
    .await?;
    Ok(())
}

/// One run: a fresh database, the master data, the import; rows/s, peak and resident-before.
async fn one_run(
    db: Option<&str>,
    file: &std::path::Path,
    rows: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let dir = tempfile::tempdir()?;
    let (store, _schema): (Arc<dyn Store>, _) = match db {
        Some(url) if crate::is_postgres(url) => {
            let (store, guard) = threadline_store_postgres::testing::fresh_schema(url)
                .await
                .context("making a fresh schema for the run")?;
            (Arc::new(store), Some(guard))
        }
        _ => {
            let url = format!("sqlite:{}", dir.path().join("bench.db").display());
            (crate::open_store(&url, "process").await?, None)
        }
    };
    master_data(&*store).await?;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = crate::bench::rss_mib("VmRSS:").unwrap_or(f64::NAN);
    let start = Instant::now();
    let target = crate::import::Target::Database(store.clone());
    let outcome = crate::import::import(&target, "serials", file, true).await?;
    let secs = start.elapsed().as_secs_f64();
    let peak = crate::bench::rss_mib("VmHWM:").unwrap_or(f64::NAN);
    match outcome {
        Ok(v) if v["rows"].as_u64() == Some(rows as u64) => {}
        Ok(v) => bail!("the import answered {v}, not {rows} rows"),
        Err(errors) => bail!("the import was refused: {errors:?}"),
    }
    Ok((rows as f64 / secs, peak, before))
}

/// Runs the benchmark, prints a table and returns the figures.
pub async fn import_bench(
    opts: ImportBench,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("serials.csv");
    let bytes = write_csv(&file, opts.rows)?;
    let engine = match &opts.db {
        Some(url) if crate::is_postgres(url) => "PostgreSQL",
        _ => "SQLite",
    };
    writeln!(
        out,
        "import of {} serial rows ({:.1} MiB CSV), {engine}, {} run(s)",
        opts.rows,
        bytes as f64 / 1_048_576.0,
        opts.runs
    )?;
    let (mut rates, mut peaks, mut growth) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..opts.runs.max(1) {
        let (rate, peak, before) = one_run(opts.db.as_deref(), &file, opts.rows).await?;
        writeln!(
            out,
            "run {}: {rate:.0} rows/s, peak RSS {peak:.0} MiB ({before:.0} MiB resident before)",
            run + 1
        )?;
        rates.push(rate);
        peaks.push(peak);
        growth.push(peak - before);
    }
    let figures = vec![
        Figure::of(
            &format!("import {} serial rows, {engine}", opts.rows),
            "rows/s",
            rates,
        ),
        Figure::of("peak RSS during the import (VmHWM)", "MiB", peaks),
        Figure::of("peak RSS above resident before", "MiB", growth),
    ];
    writeln!(
        out,
        "\n| figure | min | median | max | unit |\n|---|---|---|---|---|"
    )?;
    for f in &figures {
        writeln!(
            out,
            "| {} | {:.0} | {:.0} | {:.0} | {} |",
            f.name, f.min, f.median, f.max, f.unit
        )?;
    }
    Ok(figures)
}
