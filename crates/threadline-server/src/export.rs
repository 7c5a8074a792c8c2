//! Spreadsheet exports (CSV and XLSX) that stream: rows are produced in chunks by a task, turned
//! into bytes as they come, and sent to the client, so a million-row export runs in bounded
//! memory. XLSX uses `rust_xlsxwriter`'s constant-memory worksheets (each row goes to a temp
//! file as it is written) and writes the finished zip straight into the response.

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::error::AppError;

/// How a trace or list is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
}

impl Format {
    /// `format=json|csv|xlsx`; JSON when absent.
    pub fn parse(s: Option<&str>) -> Result<Format, AppError> {
        match s {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(other) => Err(AppError::malformed(
                "invalid_format",
                format!("format must be json, csv or xlsx, not `{other}`"),
                Some("format".into()),
            )),
        }
    }
}

/// One spreadsheet cell: numbers stay numbers in XLSX so they sort as numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    /// A calendar date: `YYYY-MM-DD` in CSV, a date cell in XLSX.
    Date(chrono::NaiveDate),
    /// An instant: RFC 3339 (UTC) in CSV, a date-time cell in UTC in XLSX (Excel keeps no
    /// zone; the cell's format says `UTC`), so a spreadsheet sorts and filters it as a time.
    Time(chrono::DateTime<chrono::Utc>),
    /// An instant as the clock where it happened read it: RFC 3339 with its offset in CSV
    /// (`2026-05-19T08:41:07+08:00`), in XLSX a date-time cell of that wall-clock time whose
    /// format names the offset (`2026-05-19 08:41:07 +08:00`), so a plant's spreadsheet shows
    /// its own hours.
    LocalTime(chrono::DateTime<chrono::FixedOffset>),
}

impl Cell {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(s) => s.as_str().into(),
            Cell::Number(n) => n.to_string().into(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string().into(),
            Cell::Time(t) => t.to_rfc3339().into(),
            Cell::LocalTime(t) => t.to_rfc3339().into(),
        }
    }

    /// An optional date: empty when absent.
    pub fn date(d: Option<chrono::NaiveDate>) -> Cell {
        d.map_or(Cell::Text(String::new()), Cell::Date)
    }

    /// An optional instant: empty when absent.
    pub fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Cell {
        t.map_or(Cell::Text(String::new()), Cell::Time)
    }
}

/// The Excel date-time of a calendar date and a time of day.
fn excel_date(
    d: chrono::NaiveDate,
    t: Option<chrono::NaiveTime>,
) -> Result<rust_xlsxwriter::ExcelDateTime, rust_xlsxwriter::XlsxError> {
    use chrono::{Datelike, Timelike};
    let year = u16::try_from(d.year()).unwrap_or(1900);
    let day = rust_xlsxwriter::ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8)?;
    match t {
        None => Ok(day),
        Some(t) => day.and_hms(t.hour() as u16, t.minute() as u8, t.second()),
    }
}

/// A cell's text as the CSV writer takes it, without a copy of it.
struct CellText<'a>(std::borrow::Cow<'a, str>);

impl AsRef<[u8]> for CellText<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Writes CSV rows (and the header, if given) to `out`.
pub fn write_csv_rows(
    out: &mut Vec<u8>,
    header: Option<&[&str]>,
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<(), AppError> {
    let fail = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    let mut w = csv::Writer::from_writer(out);
    if let Some(h) = header {
        w.write_record(h).map_err(fail)?;
    }
    for row in rows {
        w.write_record(row.iter().map(|c| CellText(c.text())))
            .map_err(fail)?;
    }
    w.flush()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    Ok(())
}

/// Row chunks on their way to a spreadsheet.
pub type RowSender = mpsc::Sender<Vec<Vec<Cell>>>;

type ByteResult = Result<Bytes, std::io::Error>;

/// A `Write` that hands what it gets to the response body in pieces.
struct BodyWriter {
    tx: mpsc::Sender<ByteResult>,
    buf: Vec<u8>,
}

impl BodyWriter {
    const PIECE: usize = 64 * 1024;
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let piece = Bytes::from(std::mem::take(&mut self.buf));
        self.tx
            .blocking_send(Ok(piece))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// A response body that `write` writes on the blocking pool, sent in pieces as it is written
/// (nothing waits whole in memory). An error after the first bytes went out can only cut the
/// body short; it is logged with `what`.
pub(crate) fn written_body<F>(what: &'static str, write: F) -> Body
where
    F: FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<ByteResult>(4);
    tokio::task::spawn_blocking(move || {
        let errors = tx.clone();
        let mut out = BodyWriter {
            tx,
            buf: Vec::with_capacity(BodyWriter::PIECE),
        };
        let written = write(&mut out).and_then(|()| std::io::Write::flush(&mut out));
        if let Err(e) = written
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            tracing::error!(error = %e, "{what} failed while streaming");
            let _ = errors.blocking_send(Err(std::io::Error::other(format!("{what} failed"))));
        }
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    }))
}

/// Answers with a streamed spreadsheet: `produce` sends row chunks (in `columns` order) and
/// returns when done; the rows become CSV or XLSX bytes as they arrive. An error after the
/// first bytes went out can only cut the response short; it is logged.
pub fn spreadsheet<F, Fut>(
    format: Format,
    name: &str,
    columns: &'static [&'static str],
    produce: F,
) -> Response
where
    F: FnOnce(RowSender) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), AppError>> + Send + 'static,
{
    let (rows_tx, mut rows_rx) = mpsc::channel::<Vec<Vec<Cell>>>(4);
    let (bytes_tx, bytes_rx) = mpsc::channel::<ByteResult>(4);
    let producer_errors = bytes_tx.clone();
    tokio::spawn(async move {
        if let Err(e) = produce(rows_tx).await {
            tracing::error!(error = ?e, "export failed while producing rows");
            let _ = producer_errors
                .send(Err(std::io::Error::other("export failed")))
                .await;
        }
    });
    let (content_type, ext) = match format {
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        _ => ("text/csv; charset=utf-8", "csv"),
    };
    if format == Format::Xlsx {
        tokio::task::spawn_blocking(move || {
            let errors = bytes_tx.clone();
            if let Err(e) = write_xlsx(columns, &mut rows_rx, bytes_tx) {
                tracing::error!(error = %e, "xlsx export failed");
                let _ = errors.blocking_send(Err(std::io::Error::other("export failed")));
            }
        });
    } else {
        tokio::spawn(async move {
            let mut first = Some(columns);
            while let Some(chunk) = rows_rx.recv().await {
                let mut out = Vec::with_capacity(chunk.len() * 96);
                let header = first.take();
                if let Err(e) = write_csv_rows(&mut out, header, chunk) {
                    tracing::error!(error = ?e, "csv export failed");
                    let _ = bytes_tx
                        .send(Err(std::io::Error::other("export failed")))
                        .await;
                    return;
                }
                if bytes_tx.send(Ok(Bytes::from(out))).await.is_err() {
                    return;
                }
            }
            if let Some(h) = first {
                let mut out = Vec::new();
                if write_csv_rows(&mut out, Some(h), std::iter::empty()).is_ok() {
                    let _ = bytes_tx.send(Ok(Bytes::from(out))).await;
                }
            }
        });
    }
    let stream = futures_util::stream::unfold(bytes_rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    });
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn write_xlsx(
    columns: &[&str],
    rows: &mut mpsc::Receiver<Vec<Vec<Cell>>>,
    out: mpsc::Sender<ByteResult>,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory()?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let day = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let utc = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss \"UTC\"");
    // One format per offset met (a plant's events carry one or two).
    let mut local: Vec<(i32, rust_xlsxwriter::Format)> = Vec::new();
    for (c, name) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, col(c), *name, &bold)?;
    }
    let mut row: u32 = 0;
    while let Some(chunk) = rows.blocking_recv() {
        for cells in chunk {
            row += 1;
            for (c, cell) in cells.iter().enumerate() {
                match cell {
                    Cell::Text(s) if s.is_empty() => {}
                    Cell::Text(s) => {
                        sheet.write_string(row, col(c), s)?;
                    }
                    Cell::Number(n) => {
                        sheet.write_number(row, col(c), *n)?;
                    }
                    Cell::Date(d) => {
                        sheet.write_datetime_with_format(
                            row,
                            col(c),
                            excel_date(*d, None)?,
                            &day,
                        )?;
                    }
                    Cell::Time(t) => {
                        let at = excel_date(t.date_naive(), Some(t.time()))?;
                        sheet.write_datetime_with_format(row, col(c), at, &utc)?;
                    }
                    Cell::LocalTime(t) => {
                        let secs = t.offset().local_minus_utc();
                        let format = match local.iter().position(|(s, _)| *s == secs) {
                            Some(i) => &local[i].1,
                            None => {
                                let zone = threadline_domain::event::format_offset(t.offset());
                                local.push((
                                    secs,
                                    rust_xlsxwriter::Format::new()
                                        .set_num_format(format!("yyyy-mm-dd hh:mm:ss \"{zone}\"")),
                                ));
                                &local[local.len() - 1].1
                            }
                        };
                        let wall = t.naive_local();
                        let at = excel_date(wall.date(), Some(wall.time()))?;
                        sheet.write_datetime_with_format(row, col(c), at, format)?;
                    }
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, row, col(columns.len().saturating_sub(1)))?;
    let mut w = BodyWriter {
        tx: out,
        buf: Vec::new(),
    };
    book.save_to_writer(&mut w)?;
    std::io::Write::flush(&mut w)?;
    Ok(())
}

fn col(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Streams every page of a list as a spreadsheet: `fetch(after)` reads the page that starts
/// after the position `after` (the list's `next`), and `cells` makes a row of each entry.
pub fn pages<T, F, Fut>(
    format: Format,
    name: &str,
    columns: &'static [&'static str],
    first: Option<i64>,
    fetch: F,
    cells: fn(&T) -> Vec<Vec<Cell>>,
) -> Response
where
    T: Send + 'static,
    F: Fn(Option<i64>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<threadline_store::Page<T>, AppError>> + Send + 'static,
{
    spreadsheet(format, name, columns, move |tx| async move {
        let mut after = first;
        loop {
            let page = fetch(after).await?;
            let rows = page.items.iter().flat_map(cells).collect();
            if tx.send(rows).await.is_err() {
                return Ok(());
            }
            match page.next.as_deref().and_then(|n| n.parse().ok()) {
                Some(n) => after = Some(n),
                None => return Ok(()),
            }
        }
    })
}
