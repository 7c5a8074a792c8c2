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

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

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
        peak_rss_mib: peak_rss_mib(),
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
