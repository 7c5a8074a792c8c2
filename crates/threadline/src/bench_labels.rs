//! `threadline bench labels`: render labels for N serials into one PDF, written as it goes, and
//! report the time and the process's peak memory. A typical unit label: product name in
//! Chinese, the serial, a GS1 DataMatrix with GTIN, lot, expiry and serial and its
//! interpretation lines, and a GS1-128 of GTIN and serial. Nothing here asserts a speed.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use threadline_labels::{LabelData, LabelTemplate, PdfLabels, PdfLayout};

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LabelsFigure {
    pub labels: usize,
    pub pages: usize,
    pub seconds: f64,
    pub labels_per_second: f64,
    pub pdf_bytes: u64,
    /// Peak resident memory of the process (`VmHWM`), if the platform tells.
    pub peak_rss_mib: Option<f64>,
}

/// The label the benchmark prints.
pub const TEMPLATE: &str = r#"{"width_mm": 60, "height_mm": 40, "dpi": 300, "fields": [
  {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3.5, "text": "{product_name} · {product}"},
  {"type": "text", "x_mm": 2, "y_mm": 5.5, "size_mm": 3, "text": "SN {serial}  EXP {expiry:%Y-%m-%d}"},
  {"type": "barcode", "x_mm": 2, "y_mm": 10, "symbology": "gs1_datamatrix", "module_mm": 0.4,
   "data": "(01){gtin}(17){expiry:%y%m%d}(10){lot}(21){serial}", "hri_size_mm": 2},
  {"type": "barcode", "x_mm": 14, "y_mm": 10, "symbology": "gs1_128", "module_mm": 0.19, "height_mm": 9, "hri": false,
   "data": "(01){gtin}(21){serial}"}
]}"#;

/// Renders `count` labels into a PDF on `sink` (A4 sheets), reporting on `report`.
pub fn labels<W: Write>(
    count: usize,
    sink: W,
    report: &mut impl Write,
) -> anyhow::Result<LabelsFigure> {
    let template = LabelTemplate::from_json(TEMPLATE)
        .map_err(|e| anyhow::anyhow!("bench template: {e}"))?
        .compile()
        .map_err(|e| anyhow::anyhow!("bench template: {e:?}"))?;
    let expiry = chrono::NaiveDate::from_ymd_opt(2028, 6, 30).context("date")?;
    let started = Instant::now();
    let mut pdf = PdfLabels::new(Counting(sink, 0), PdfLayout::A4)?;
    for n in 0..count {
        let mut data = LabelData::new();
        data.set("serial", format!("TC2-261122-A01-{n:05}"))
            .set("product", "TC-200")
            .set("product_name", "智能控制器")
            .set("gtin", "06901234567892")
            .set("lot", format!("L{:04}", n / 500))
            .set_date("expiry", expiry);
        let label = template
            .label(&data)
            .map_err(|e| anyhow::anyhow!("label {n}: {e}"))?;
        pdf.add(&label)?;
    }
    let pages = pdf.page_count();
    let out = pdf.finish()?;
    let seconds = started.elapsed().as_secs_f64();
    let figure = LabelsFigure {
        labels: count,
        pages,
        seconds,
        labels_per_second: count as f64 / seconds.max(1e-9),
        pdf_bytes: out.1,
        peak_rss_mib: crate::bench::rss_mib("VmHWM:"),
    };
    writeln!(
        report,
        "| labels | pages | seconds | labels/s | PDF MiB | peak RSS MiB |"
    )?;
    writeln!(report, "|---|---|---|---|---|---|")?;
    writeln!(
        report,
        "| {} | {} | {:.2} | {:.0} | {:.1} | {} |",
        figure.labels,
        figure.pages,
        figure.seconds,
        figure.labels_per_second,
        figure.pdf_bytes as f64 / 1_048_576.0,
        figure
            .peak_rss_mib
            .map(|m| format!("{m:.1}"))
            .unwrap_or_else(|| "?".into())
    )?;
    Ok(figure)
}

/// A writer that counts what passes through.
struct Counting<W>(W, u64);

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1 += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// What the print job through HTTP measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HttpLabelsFigure {
    pub labels: usize,
    /// `POST /api/v1/products/{code}/allocations` of the block.
    pub allocate_seconds: f64,
    /// `POST /api/v1/label-jobs` until the last byte of the PDF was read.
    pub job_seconds: f64,
    pub pdf_bytes: u64,
    /// Growth of the process's peak resident memory during the job (server and client are
    /// this process), if the platform tells.
    pub job_peak_growth_mib: Option<f64>,
}

/// Labels as a production lead prints them: a fresh SQLite database, the product with its
/// serial rule and GTIN, the bench template (without lot and expiry) stored, `count` serials allocated and their
/// labels printed as one A4 PDF by `POST /api/v1/label-jobs` over a loopback socket, the
/// streamed answer read to its end.
pub async fn through_http(
    count: usize,
    report: &mut impl Write,
) -> anyhow::Result<HttpLabelsFigure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("labels.db").display());
    let store = crate::open_store(&url, "process").await?;
    let now = chrono::Utc::now();
    let token = crate::bench::token(&*store, threadline_domain::access::Role::Admin, now).await?;
    let served = crate::bench::Loopback::start(store.clone()).await?;
    let addr = served.addr;
    let mut conn = BufReader::new(tokio::net::TcpStream::connect(addr).await?);
    // Freshly allocated serials have no lot yet: the same label without lot and expiry.
    let template: serde_json::Value = serde_json::from_str(
        &TEMPLATE
            .replace("  EXP {expiry:%Y-%m-%d}", "")
            .replace("(17){expiry:%y%m%d}(10){lot}", ""),
    )?;
    let setup = [
        (
            "/api/v1/products",
            serde_json::json!({"code": "TC-200", "name": "智能控制器", "tracking": "serial", "gtin": "06901234567892",
                "serial_rule": {"code": "BENCH", "template": "TC2-{SEQ:6}", "sequence_reset": "never"}}),
        ),
        (
            "/api/v1/label-templates",
            serde_json::json!({"name": "bench", "template": template}),
        ),
    ];
    for (path, body) in setup {
        let (status, resp) =
            crate::bench::post(&mut conn, path, token.expose(), body.to_string().as_bytes())
                .await?;
        if status != 201 {
            anyhow::bail!(
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&resp)
            );
        }
    }
    let started = Instant::now();
    let (status, resp) = crate::bench::post(
        &mut conn,
        "/api/v1/products/TC-200/allocations",
        token.expose(),
        serde_json::json!({"count": count}).to_string().as_bytes(),
    )
    .await?;
    if status != 201 {
        anyhow::bail!(
            "allocation answered {status}: {}",
            String::from_utf8_lossy(&resp)
        );
    }
    let allocate_seconds = started.elapsed().as_secs_f64();
    let allocation = serde_json::from_slice::<serde_json::Value>(&resp)?["receipt"]["id"]
        .as_str()
        .context("the allocation's event id")?
        .to_owned();

    // The job over HTTP/1.0: the server closes the connection after the streamed body.
    let body = serde_json::json!({"template": "bench", "allocation": allocation, "layout": "a4"})
        .to_string();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = crate::bench::rss_mib("VmHWM:");
    let started = Instant::now();
    let mut job = tokio::net::TcpStream::connect(addr).await?;
    job.write_all(
        format!(
            "POST /api/v1/label-jobs HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            token.expose(),
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut total, mut head, mut tail) = (0u64, Vec::new(), Vec::new());
    loop {
        let n = job.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if head.len() < 64 {
            head.extend_from_slice(&buf[..n.min(64)]);
        }
        tail.extend_from_slice(&buf[n.saturating_sub(16)..n]);
        tail.drain(..tail.len().saturating_sub(16));
    }
    let job_seconds = started.elapsed().as_secs_f64();
    let peak_growth = crate::bench::rss_mib("VmHWM:")
        .zip(before)
        .map(|(after, b)| after - b);
    if !head.starts_with(b"HTTP/1.0 200") && !head.starts_with(b"HTTP/1.1 200") {
        anyhow::bail!("the job answered {}", String::from_utf8_lossy(&head));
    }
    if !tail.ends_with(b"%%EOF\n") {
        anyhow::bail!("the PDF was cut short");
    }
    served.stop().await?;
    let figure = HttpLabelsFigure {
        labels: count,
        allocate_seconds,
        job_seconds,
        pdf_bytes: total,
        job_peak_growth_mib: peak_growth,
    };
    writeln!(
        report,
        "\nThrough HTTP (SQLite): allocate, then POST /api/v1/label-jobs (A4 PDF, streamed)\n"
    )?;
    writeln!(
        report,
        "| labels | allocate s | job s | labels/s | PDF MiB | peak RSS growth MiB |"
    )?;
    writeln!(report, "|---|---|---|---|---|---|")?;
    writeln!(
        report,
        "| {} | {:.2} | {:.2} | {:.0} | {:.1} | {} |",
        figure.labels,
        figure.allocate_seconds,
        figure.job_seconds,
        count as f64 / job_seconds.max(1e-9),
        figure.pdf_bytes as f64 / 1_048_576.0,
        figure
            .job_peak_growth_mib
            .map(|m| format!("{m:.1}"))
            .unwrap_or_else(|| "?".into())
    )?;
    Ok(figure)
}
