//! Bulk import of master data (products, parties, locations) from CSV or XLSX: columns are
//! matched by header name, in Chinese or English; every row becomes the same master record the
//! API takes; a dry run reports every bad row with its spreadsheet row number and reason, a
//! commit records them all in one transaction or none (`Store::put_masters`).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use threadline_domain::error::FieldError;
use threadline_domain::master::MasterRecord;
use threadline_store::{MasterWrite, StoreError};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::export::{Format, spreadsheet};

/// One importable column: the record's field, whether every row needs it, how a number is
/// read, the header names it answers to, and Chinese words for its values.
struct Column {
    field: &'static str,
    required: bool,
    number: bool,
    names: &'static [&'static str],
    values: &'static [(&'static str, &'static str)],
}

const fn col(field: &'static str, required: bool, names: &'static [&'static str]) -> Column {
    Column {
        field,
        required,
        number: false,
        names,
        values: &[],
    }
}

const PRODUCT_COLUMNS: &[Column] = &[
    col(
        "code",
        true,
        &["code", "编码", "产品编码", "物料编码", "料号"],
    ),
    col("name", true, &["name", "名称", "产品名称", "物料名称"]),
    Column {
        values: &[("序列号", "serial"), ("批次", "lot"), ("不追溯", "none")],
        ..col("tracking", true, &["tracking", "追溯方式", "管理方式"])
    },
    col("gtin", false, &["gtin", "商品条码", "条码"]),
    col("uom", false, &["uom", "单位", "计量单位"]),
    col("category", false, &["category", "类别", "分类"]),
    Column {
        number: true,
        ..col(
            "warranty_months",
            false,
            &["warranty_months", "保修月数", "质保月数"],
        )
    },
];

const PARTY_COLUMNS: &[Column] = &[
    col("code", true, &["code", "编码", "单位编码"]),
    col("name", true, &["name", "名称", "单位名称"]),
    Column {
        values: &[
            ("供应商", "supplier"),
            ("客户", "customer"),
            ("经销商", "distributor"),
        ],
        ..col("kind", true, &["kind", "类型"])
    },
];

const LOCATION_COLUMNS: &[Column] = &[
    col("code", true, &["code", "编码", "位置编码", "库位编码"]),
    col("name", true, &["name", "名称", "位置名称"]),
    Column {
        values: &[
            ("工厂", "site"),
            ("厂区", "site"),
            ("区域", "area"),
            ("库区", "area"),
            ("产线", "line"),
            ("库位", "bin"),
            ("货位", "bin"),
            ("外部", "external"),
        ],
        ..col("kind", true, &["kind", "类型"])
    },
    col("parent", false, &["parent", "上级", "上级位置"]),
    col("party", false, &["party", "所属单位"]),
    col("region", false, &["region", "地区"]),
];

/// Template headers: Chinese name, English field in brackets (both are recognised).
const PRODUCT_TEMPLATE: &[&str] = &[
    "编码 (code)",
    "名称 (name)",
    "追溯方式 (tracking)",
    "商品条码 (gtin)",
    "单位 (uom)",
    "类别 (category)",
    "保修月数 (warranty_months)",
];
const PARTY_TEMPLATE: &[&str] = &["编码 (code)", "名称 (name)", "类型 (kind)"];
const LOCATION_TEMPLATE: &[&str] = &[
    "编码 (code)",
    "名称 (name)",
    "类型 (kind)",
    "上级 (parent)",
    "所属单位 (party)",
    "地区 (region)",
];

/// What can be imported.
fn kind_of(
    kind: &str,
) -> Result<(&'static str, &'static [Column], &'static [&'static str]), AppError> {
    match kind {
        "products" => Ok(("product", PRODUCT_COLUMNS, PRODUCT_TEMPLATE)),
        "parties" => Ok(("party", PARTY_COLUMNS, PARTY_TEMPLATE)),
        "locations" => Ok(("location", LOCATION_COLUMNS, LOCATION_TEMPLATE)),
        other => Err(AppError::NotFound(format!(
            "`{other}` cannot be imported (products, parties, locations)"
        ))),
    }
}

/// A header's names: the text, and the text in brackets if any (`编码 (code)`).
fn header_names(h: &str) -> Vec<String> {
    let h = h.trim().trim_start_matches('\u{feff}');
    let mut out = vec![h.to_lowercase()];
    if let Some(open) = h.find(['(', '（']) {
        out.push(h[..open].trim().to_lowercase());
        let inner = h[open..]
            .trim_start_matches(['(', '（'])
            .trim_end_matches([')', '）']);
        out.push(inner.trim().to_lowercase());
    }
    out
}

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Reads the body into rows of text: CSV (UTF-8) or the first sheet of an XLSX workbook, by
/// its media type `ct`.
fn table(ct: &str, body: &[u8]) -> Result<Vec<Vec<String>>, AppError> {
    let unreadable = |m: String| AppError::malformed("unreadable_file", m, Some("file".into()));
    if ct.starts_with(XLSX) {
        use calamine::Reader;
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(body))
                .map_err(|e| unreadable(format!("the XLSX workbook cannot be read: {e}")))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or_else(|| unreadable("the workbook has no sheet".into()))?
            .map_err(|e| unreadable(format!("the first sheet cannot be read: {e}")))?;
        return Ok(range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect());
    }
    if ct.starts_with("text/csv") {
        let mut rd = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut out = Vec::new();
        for (i, rec) in rd.records().enumerate() {
            let rec = rec.map_err(|e| unreadable(format!("row {}: {e}", i + 1)))?;
            out.push(rec.iter().map(str::to_owned).collect());
        }
        return Ok(out);
    }
    Err(AppError::malformed(
        "unsupported_media_type",
        "send text/csv or an XLSX workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)",
        Some("Content-Type".into()),
    ))
}

fn at_row(row: usize, header: &str, e: FieldError) -> FieldError {
    let mut e = e;
    e.field = Some(if header.is_empty() {
        format!("rows[{row}]")
    } else {
        format!("rows[{row}].{header}")
    });
    e
}

/// A row's definition as the record it stands for; a refusal names the field.
fn record_of(
    record_type: &str,
    def: Value,
) -> Result<MasterRecord, serde_path_to_error::Error<serde_json::Error>> {
    use threadline_domain::master::{Location, Party, Product};
    Ok(match record_type {
        "product" => MasterRecord::Product(serde_path_to_error::deserialize::<_, Product>(def)?),
        "party" => MasterRecord::Party(serde_path_to_error::deserialize::<_, Party>(def)?),
        _ => MasterRecord::Location(serde_path_to_error::deserialize::<_, Location>(def)?),
    })
}

/// Refusals in spreadsheet order.
fn by_row(mut errors: Vec<FieldError>) -> Vec<FieldError> {
    let row = |e: &FieldError| {
        e.field
            .as_deref()
            .and_then(|f| f.strip_prefix("rows["))
            .and_then(|f| f.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0)
    };
    errors.sort_by_key(row);
    errors
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// `dry_run` (default): check every row, keep nothing. `commit`: all rows or none.
    #[serde(default)]
    pub mode: Option<String>,
}

/// `POST /api/v1/imports/{kind}?mode=dry_run|commit` with a CSV or XLSX body. Refusals name
/// `rows[N].<header>`, N the spreadsheet row (the header is row 1).
pub async fn import(
    State(app): State<AppState>,
    actor: Actor,
    Path(kind): Path<String>,
    Query(p): Query<ImportParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let dry_run: bool = match p.mode.as_deref() {
        None | Some("dry_run") => true,
        Some("commit") => false,
        Some(other) => {
            return Err(AppError::malformed(
                "invalid_mode",
                format!("mode is dry_run or commit, not `{other}`"),
                Some("mode".into()),
            ));
        }
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let outcome = run(
        &*app.store,
        &kind,
        ct,
        &body,
        dry_run,
        &actor.name(),
        app.clock.now(),
    )
    .await?;
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(outcome)).into_response())
}

/// Imports `body` (CSV or XLSX by the media type `ct`) as `kind` (`products`, `parties`,
/// `locations`) for `actor`: every row is checked, and kept only if `dry_run` is false and
/// no row is refused. Answers `{kind, rows, dry_run, entries}`; a refusal names every bad row
/// as `rows[N].<header>`, N the spreadsheet row. The API and the command line both call this.
pub async fn run(
    store: &dyn threadline_store::Store,
    kind: &str,
    ct: &str,
    body: &[u8],
    dry_run: bool,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, AppError> {
    let (record_type, columns, _) = kind_of(kind)?;
    let rows = table(ct, body)?;
    let Some((head, data)) = rows.split_first() else {
        return Err(AppError::Rule(vec![
            FieldError::new("empty_file", "the file has no header row").at("rows[1]"),
        ]));
    };
    // Map each header to a column; unknown and missing columns are refused up front.
    let mut errors = Vec::new();
    let mut mapped: Vec<Option<&Column>> = Vec::with_capacity(head.len());
    for h in head {
        let names = header_names(h);
        let c = columns.iter().find(|c| {
            c.names
                .iter()
                .any(|n| names.iter().any(|x| x == &n.to_lowercase()))
        });
        if c.is_none() && !h.trim().is_empty() {
            errors.push(at_row(
                1,
                h,
                FieldError::new(
                    "unknown_column",
                    format!(
                        "column `{h}` is not one of {}",
                        columns
                            .iter()
                            .map(|c| c.field)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            ));
        }
        mapped.push(c);
    }
    for c in columns.iter().filter(|c| c.required) {
        if !mapped.iter().any(|m| m.is_some_and(|m| m.field == c.field)) {
            errors.push(at_row(
                1,
                "",
                FieldError::new(
                    "missing_column",
                    format!("the column {} is required", c.field),
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Rule(errors));
    }
    let header_of: HashMap<&str, &str> = mapped
        .iter()
        .zip(head)
        .filter_map(|(c, h)| c.map(|c| (c.field, h.as_str())))
        .collect();
    let mut writes = Vec::with_capacity(data.len());
    let mut rows_of = Vec::with_capacity(data.len());
    for (i, row) in data.iter().enumerate() {
        let n = i + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut def = Map::new();
        for (c, cell) in mapped.iter().zip(row) {
            let (Some(c), cell) = (c, cell.trim()) else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            let value = if c.number {
                match cell.parse::<u64>() {
                    Ok(v) => json!(v),
                    Err(_) => {
                        errors.push(at_row(
                            n,
                            header_of.get(c.field).copied().unwrap_or(c.field),
                            FieldError::new(
                                "invalid_number",
                                format!("`{cell}` is not a whole number"),
                            ),
                        ));
                        continue;
                    }
                }
            } else {
                let word = c
                    .values
                    .iter()
                    .find(|(zh, _)| *zh == cell)
                    .map(|(_, en)| *en)
                    .unwrap_or(cell);
                json!(word)
            };
            def.insert(c.field.to_owned(), value);
        }
        let parsed = record_of(record_type, Value::Object(def));
        match parsed {
            Ok(record) => {
                writes.push(MasterWrite {
                    record,
                    actor: actor.to_owned(),
                    now,
                    id: Uuid::now_v7(),
                    replaces: None,
                });
                rows_of.push(n);
            }
            Err(e) => {
                let path = e.path().to_string();
                let message = e.inner().to_string();
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|m| m.split('`').next());
                let field = missing.unwrap_or(&path);
                let header = header_of.get(field).copied().unwrap_or(field).to_owned();
                errors.push(at_row(
                    n,
                    &header,
                    FieldError::new("invalid_value", message.clone()),
                ));
            }
        }
    }
    // Rows that parsed are checked against the database too (in a transaction that is kept
    // only on a clean commit), so one report names every bad row.
    let count = writes.len();
    let keep = !dry_run && errors.is_empty();
    let receipts = match store.put_masters(writes, !keep).await {
        Ok(r) if errors.is_empty() => r,
        Ok(_) => return Err(AppError::Rule(by_row(errors))),
        Err(StoreError::Invalid(v)) => {
            // `[i].field` → the spreadsheet row and its header.
            let refused = v
                .into_iter()
                .map(|mut e| {
                    let f = e.field.take().unwrap_or_default();
                    let (idx, rest) = f
                        .strip_prefix('[')
                        .and_then(|s| s.split_once(']'))
                        .map(|(i, r)| (i.parse::<usize>().ok(), r.trim_start_matches('.')))
                        .unwrap_or((None, f.as_str()));
                    let row = idx.and_then(|i| rows_of.get(i)).copied().unwrap_or(0);
                    let header = header_of.get(rest).copied().unwrap_or(rest).to_owned();
                    at_row(row, &header, e)
                })
                .collect::<Vec<_>>();
            errors.extend(refused);
            return Err(AppError::Rule(by_row(errors)));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(kind = %kind, rows = count, dry_run, actor = %actor, "import");
    Ok(json!({"kind": kind, "rows": count, "dry_run": dry_run,
              "entries": if dry_run { json!([]) } else { json!(receipts) }}))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateParams {
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /api/v1/imports/{kind}/template?format=csv|xlsx`: the header row to fill in.
pub async fn template(
    Path(kind): Path<String>,
    Query(p): Query<TemplateParams>,
) -> Result<Response, AppError> {
    let (_, _, headers) = kind_of(&kind)?;
    let format = match Format::parse(p.format.as_deref().or(Some("xlsx")))? {
        Format::Json => Format::Xlsx,
        f => f,
    };
    Ok(spreadsheet(
        format,
        &format!("{kind}-template"),
        headers,
        |_| async { Ok(()) },
    ))
}
