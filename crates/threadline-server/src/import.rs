//! Bulk import from CSV or XLSX of master data (products, parties, locations) and of what a
//! plant already has: serials (legacy or supplier, with their origin, status and location) and
//! lots (a quantity at a location) — the opening stock —, and history from an old system (one
//! object event per row at its own time, recorded in time order). Columns are matched by header name, in
//! Chinese or English; every master row becomes the same record the API takes, every serial or
//! lot row the event that registers it (checked by `Event::from_request` and the projection like
//! a capture); a dry run reports every bad row with its spreadsheet row number and reason, a
//! commit records them all in one transaction or none. The file is read and recorded a chunk
//! at a time into that one transaction (`Store::begin_import`), so a million rows import in
//! bounded memory; history is put in time order by sorted runs spilled to temporary files.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use threadline_domain::error::FieldError;
use threadline_domain::event::{CaptureContext, Event, EventRequest};
use threadline_domain::master::MasterRecord;
use threadline_store::import::{ImportSession, ImportStart};
use threadline_store::{AuditOf, IdempotencyKey, MasterWrite, Receipt, Store, StoreError};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;
use crate::error::AppError;
use crate::export::{Format, spreadsheet};

/// One importable column: the record's field, whether every row needs it, how a number is
/// read, the header names it answers to, and Chinese words for its values.
struct Column {
    field: &'static str,
    required: bool,
    number: bool,
    /// A date (`YYYY-MM-DD`) or a time; from XLSX, a date cell or an Excel serial number too.
    date: Option<Dated>,
    names: &'static [&'static str],
    values: &'static [(&'static str, &'static str)],
}

/// What a dated column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dated {
    /// A calendar date, kept as `YYYY-MM-DD`.
    Day,
    /// A time of day on a date (read by the history import with its time zone).
    Time,
}

/// An Excel date-time (days since the workbook's epoch, the time as the fraction) as the
/// text the import reads: `YYYY-MM-DD HH:MM:SS`, on no particular clock (Excel keeps none).
fn excel_datetime(value: f64, is_1904: bool) -> String {
    let (y, mo, d, h, mi, s, _) =
        calamine::ExcelDateTime::new(value, calamine::ExcelDateTimeType::DateTime, is_1904)
            .to_ymd_hms_milli();
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// A cell of a dated column as the import reads it, or why not. From XLSX, a number is an
/// Excel serial date (a date cell whose format the workbook does not mark as one); a date
/// column takes `YYYY-MM-DD` or `YYYY/MM/DD` (a date-time's time is dropped).
fn dated(kind: Dated, cell: &str, xlsx: bool) -> Result<String, FieldError> {
    let serial = xlsx
        .then(|| cell.parse::<f64>().ok())
        .flatten()
        .filter(|v| (1.0..2_958_466.0).contains(v));
    let text = match serial {
        Some(v) => excel_datetime(v, false),
        None => cell.to_owned(),
    };
    if kind == Dated::Time {
        return Ok(text);
    }
    let day = text.split([' ', 'T']).next().unwrap_or("");
    ["%Y-%m-%d", "%Y/%m/%d"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(day, f).ok())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| {
            FieldError::new(
                "invalid_date",
                format!("`{cell}` is not a date such as 2024-03-01"),
            )
        })
}

const fn col(field: &'static str, required: bool, names: &'static [&'static str]) -> Column {
    Column {
        field,
        required,
        number: false,
        date: None,
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

/// Where a legacy or supplier serial came from.
const ORIGINS: &[(&str, &str)] = &[
    ("历史", "legacy"),
    ("旧系统", "legacy"),
    ("供应商", "supplier"),
];
const PRODUCT_COLUMN: Column = col(
    "product",
    true,
    &["product", "产品编码", "物料编码", "料号", "产品"],
);
const ORIGIN_COLUMN: Column = Column {
    values: ORIGINS,
    ..col("origin", false, &["origin", "来源"])
};
const SUPPLIER_COLUMN: Column = col("supplier", false, &["supplier", "供应商", "供应商编码"]);
const LOCATION_COLUMN: Column = col("location", false, &["location", "位置", "库位", "仓库"]);
const PRODUCTION_DATE_COLUMN: Column = Column {
    date: Some(Dated::Day),
    ..col(
        "production_date",
        false,
        &[
            "production_date",
            "manufacture_date",
            "commissioning_date",
            "生产日期",
            "制造日期",
            "赋码日期",
        ],
    )
};

const SERIAL_COLUMNS: &[Column] = &[
    PRODUCT_COLUMN,
    col("serial", true, &["serial", "序列号", "sn"]),
    ORIGIN_COLUMN,
    SUPPLIER_COLUMN,
    Column {
        values: &[
            ("在库", "in_stock"),
            ("在制", "in_production"),
            ("已售", "sold"),
            ("未使用", "unassigned"),
        ],
        ..col("status", false, &["status", "状态"])
    },
    LOCATION_COLUMN,
    col("lot", false, &["lot", "批次", "批号"]),
    PRODUCTION_DATE_COLUMN,
];

const LOT_COLUMNS: &[Column] = &[
    PRODUCT_COLUMN,
    col("lot", true, &["lot", "批次", "批号"]),
    col("quantity", true, &["quantity", "数量"]),
    Column {
        required: true,
        ..LOCATION_COLUMN
    },
    ORIGIN_COLUMN,
    SUPPLIER_COLUMN,
    PRODUCTION_DATE_COLUMN,
    Column {
        date: Some(Dated::Day),
        ..col(
            "expiry_date",
            false,
            &["expiry_date", "有效期至", "失效日期"],
        )
    },
];

/// Business steps by the words a plant's old system uses.
const STEPS: &[(&str, &str)] = &[
    ("生产", "commissioning"),
    ("赋码", "commissioning"),
    ("收货", "receiving"),
    ("入库", "storing"),
    ("检验", "inspecting"),
    ("发货", "shipping"),
    ("销售", "retail_selling"),
    ("退货", "receiving"),
    ("维修", "repairing"),
    ("报废", "destroying"),
];

const EVENT_COLUMNS: &[Column] = &[
    Column {
        date: Some(Dated::Time),
        ..col("event_time", true, &["event_time", "时间", "发生时间"])
    },
    Column {
        values: STEPS,
        ..col("biz_step", true, &["biz_step", "业务步骤", "步骤"])
    },
    Column {
        values: &[("新增", "ADD"), ("观察", "OBSERVE"), ("删除", "DELETE")],
        ..col("action", false, &["action", "动作"])
    },
    PRODUCT_COLUMN,
    col("serial", false, &["serial", "序列号", "sn"]),
    col("lot", false, &["lot", "批次", "批号"]),
    col("quantity", false, &["quantity", "数量"]),
    LOCATION_COLUMN,
    col("disposition", false, &["disposition", "处置", "状态"]),
    col("transaction_type", false, &["transaction_type", "单据类型"]),
    col("transaction_id", false, &["transaction_id", "单据号"]),
    col("time_zone", false, &["time_zone", "时区"]),
];

/// The columns a list of master records is exported with: the import template's headers and
/// the record fields under them, so an export edited in Excel imports back.
pub fn export_columns(kind: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        "product" => (
            PRODUCT_TEMPLATE,
            &[
                "code",
                "name",
                "tracking",
                "gtin",
                "uom",
                "category",
                "warranty_months",
            ],
        ),
        "party" => (PARTY_TEMPLATE, &["code", "name", "kind"]),
        _ => (
            LOCATION_TEMPLATE,
            &["code", "name", "kind", "parent", "party", "region"],
        ),
    }
}

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

const SERIAL_TEMPLATE: &[&str] = &[
    "产品编码 (product)",
    "序列号 (serial)",
    "来源 (origin)",
    "供应商 (supplier)",
    "状态 (status)",
    "位置 (location)",
    "批次 (lot)",
    "生产日期 (production_date)",
];
const LOT_TEMPLATE: &[&str] = &[
    "产品编码 (product)",
    "批次 (lot)",
    "数量 (quantity)",
    "位置 (location)",
    "来源 (origin)",
    "供应商 (supplier)",
    "生产日期 (production_date)",
    "有效期至 (expiry_date)",
];

const EVENT_TEMPLATE: &[&str] = &[
    "时间 (event_time)",
    "业务步骤 (biz_step)",
    "动作 (action)",
    "产品编码 (product)",
    "序列号 (serial)",
    "批次 (lot)",
    "数量 (quantity)",
    "位置 (location)",
    "处置 (disposition)",
    "单据类型 (transaction_type)",
    "单据号 (transaction_id)",
    "时区 (time_zone)",
];

/// What rows become: master records of one type, events that register units or lots, or
/// events of the past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Master(&'static str),
    Serials,
    Lots,
    History,
}

/// The kinds that can be imported, as the path names them.
pub const KINDS: &[&str] = &[
    "products",
    "parties",
    "locations",
    "serials",
    "lots",
    "events",
];

/// What can be imported.
fn kind_of(kind: &str) -> Result<(Target, &'static [Column], &'static [&'static str]), AppError> {
    match kind {
        "products" => Ok((Target::Master("product"), PRODUCT_COLUMNS, PRODUCT_TEMPLATE)),
        "parties" => Ok((Target::Master("party"), PARTY_COLUMNS, PARTY_TEMPLATE)),
        "locations" => Ok((
            Target::Master("location"),
            LOCATION_COLUMNS,
            LOCATION_TEMPLATE,
        )),
        "serials" => Ok((Target::Serials, SERIAL_COLUMNS, SERIAL_TEMPLATE)),
        "lots" => Ok((Target::Lots, LOT_COLUMNS, LOT_TEMPLATE)),
        "events" => Ok((Target::History, EVENT_COLUMNS, EVENT_TEMPLATE)),
        other => Err(AppError::NotFound(format!(
            "`{other}` cannot be imported ({})",
            KINDS.join(", ")
        ))),
    }
}

fn text<'a>(def: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    def.get(field).and_then(Value::as_str)
}

/// The event that registers a row of the serials or lots import, or the column at fault.
/// Serials: an ADD of the unit, `commissioning` for a legacy serial, `receiving` (from the
/// supplier, its owning party) for a supplier's; its status now sets the disposition, `in_stock`
/// by default, which needs a location. Lots: an ADD of the quantity at the location — a lot's
/// opening stock. The origin is kept with the instance data.
fn event_of(
    target: Target,
    def: &Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
    zone: chrono_tz::Tz,
) -> Result<Value, (&'static str, FieldError)> {
    if target == Target::History {
        return history_event(def);
    }
    let origin = text(def, "origin").unwrap_or("legacy");
    if !matches!(origin, "legacy" | "supplier") {
        return Err((
            "origin",
            FieldError::new(
                "invalid_value",
                format!("origin is legacy (历史) or supplier (供应商), not `{origin}`"),
            ),
        ));
    }
    let supplier = text(def, "supplier");
    if origin == "supplier" && supplier.is_none() {
        return Err((
            "supplier",
            FieldError::new(
                "missing_field",
                "a supplier's serial or lot names its supplier",
            ),
        ));
    }
    let mut ilmd = Map::new();
    ilmd.insert("origin".into(), json!(origin));
    for f in ["lot", "production_date", "expiry_date"] {
        // A lot's own code is in `lots`; a serial's lot is instance data.
        if (target == Target::Serials || f != "lot")
            && let Some(v) = def.get(f)
        {
            ilmd.insert(f.into(), v.clone());
        }
    }
    // A legacy unit was commissioned when it was made: its production date, from the start
    // of that day in the plant's time zone, is when its registering event happened. A
    // supplier's unit is received now; its production date stays with its instance data.
    let made = match (target, origin, text(def, "production_date")) {
        (Target::Serials, "legacy", Some(day)) => start_of_day(day, zone),
        _ => None,
    };
    let mut ev = json!({
        "type": "object",
        "action": "ADD",
        "event_time": made.unwrap_or(now).to_rfc3339(),
        "biz_step": if origin == "supplier" { "receiving" } else { "commissioning" },
        "ilmd": ilmd,
    });
    if let Some(s) = supplier {
        ev["sources"] = json!([{"type": "owning_party", "id": s}]);
    }
    if let Some(l) = def.get("location") {
        ev["biz_location"] = l.clone();
    }
    match target {
        Target::Serials => {
            let status = text(def, "status").unwrap_or("in_stock");
            let disposition = match status {
                "in_stock" => "sellable_not_accessible",
                "in_production" => "active",
                "sold" => "retail_sold",
                "unassigned" => "encoded",
                other => {
                    return Err((
                        "status",
                        FieldError::new(
                            "invalid_value",
                            format!(
                                "status is in_stock (在库), in_production (在制), sold (已售) or unassigned (未使用), not `{other}`"
                            ),
                        ),
                    ));
                }
            };
            if status == "in_stock" && def.get("location").is_none() {
                return Err((
                    "location",
                    FieldError::new("missing_field", "a unit in stock needs its location"),
                ));
            }
            ev["disposition"] = json!(disposition);
            ev["items"] = json!([{"product": def.get("product"), "serial": def.get("serial")}]);
        }
        Target::Lots => {
            ev["disposition"] = json!("sellable_not_accessible");
            ev["lots"] = json!([{"product": def.get("product"), "lot": def.get("lot"),
                                 "quantity": def.get("quantity")}]);
        }
        Target::Master(_) | Target::History => {}
    }
    Ok(ev)
}

/// The first instant of `day` (`YYYY-MM-DD`) in `zone` (the earliest, where a clock change
/// makes midnight twice or never).
fn start_of_day(day: &str, zone: chrono_tz::Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    (0..3).find_map(|h| {
        zone.from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
    })
}

/// A row of the historical events import: an object event at its own time (RFC 3339, or
/// `YYYY-MM-DD HH:MM[:SS]` on the clock of `time_zone`, +08:00 when absent) naming one unit
/// (`serial`) or a lot quantity (`lot`, `quantity`). The action is `ADD` for commissioning and
/// receiving and `OBSERVE` otherwise, unless the row says.
fn history_event(def: &Map<String, Value>) -> Result<Value, (&'static str, FieldError)> {
    let bad = |field: &'static str, m: String| Err((field, FieldError::new("invalid_value", m)));
    let when = text(def, "event_time").unwrap_or_default();
    let zone = text(def, "time_zone").unwrap_or("+08:00");
    let event_time = match chrono::DateTime::parse_from_rfc3339(when) {
        Ok(t) => t.to_rfc3339(),
        Err(_) => {
            let Ok(offset) = zone.parse::<chrono::FixedOffset>() else {
                return bad(
                    "time_zone",
                    format!("`{zone}` is not a UTC offset such as +08:00"),
                );
            };
            let local = chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M:%S")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M"));
            match local
                .ok()
                .and_then(|l| l.and_local_timezone(offset).single())
            {
                Some(t) => t.to_rfc3339(),
                None => {
                    return bad(
                        "event_time",
                        format!(
                            "`{when}` is not a time such as 2024-03-01 08:30 or 2024-03-01T08:30:00+08:00"
                        ),
                    );
                }
            }
        }
    };
    let step = text(def, "biz_step").unwrap_or_default();
    let action = text(def, "action").unwrap_or(match step {
        "commissioning" | "receiving" => "ADD",
        _ => "OBSERVE",
    });
    let mut ev =
        json!({"type": "object", "action": action, "event_time": event_time, "biz_step": step});
    match (def.get("serial"), def.get("lot")) {
        (Some(serial), None) => {
            ev["items"] = json!([{"product": def.get("product"), "serial": serial}]);
        }
        (None, Some(lot)) => {
            let Some(quantity) = def.get("quantity") else {
                return Err((
                    "quantity",
                    FieldError::new("missing_field", "a lot row needs its quantity"),
                ));
            };
            ev["lots"] = json!([{"product": def.get("product"), "lot": lot, "quantity": quantity}]);
        }
        _ => {
            return Err((
                "serial",
                FieldError::new(
                    "missing_field",
                    "a row names one unit (serial) or one lot (lot and quantity)",
                ),
            ));
        }
    }
    for (column, field) in [("location", "biz_location"), ("disposition", "disposition")] {
        if let Some(v) = def.get(column) {
            ev[field] = v.clone();
        }
    }
    match (def.get("transaction_type"), def.get("transaction_id")) {
        (Some(t), Some(id)) => ev["biz_transactions"] = json!([{"type": t, "id": id}]),
        (None, None) => {}
        (_, None) => {
            return Err((
                "transaction_id",
                FieldError::new("missing_field", "a transaction type needs its number"),
            ));
        }
        (None, _) => {
            return Err((
                "transaction_type",
                FieldError::new("missing_field", "a transaction number needs its type"),
            ));
        }
    }
    Ok(ev)
}

/// The column an event field stands for (`items[0].serial` → `serial`).
fn column_of(target: Target, path: &str) -> &str {
    let p = path.trim_start_matches('.');
    let last = p.rsplit('.').next().unwrap_or(p);
    if p.starts_with("items") {
        if last == "product" {
            "product"
        } else {
            "serial"
        }
    } else if p.starts_with("lots") {
        match last {
            "product" => "product",
            "quantity" => "quantity",
            _ => "lot",
        }
    } else if p.starts_with("biz_location") {
        "location"
    } else if p.starts_with("biz_transactions") {
        if last == "id" {
            "transaction_id"
        } else {
            "transaction_type"
        }
    } else if p.starts_with("sources") {
        "supplier"
    } else if p == "disposition" && target == Target::Serials {
        "status"
    } else if p == "event_time" && target == Target::Serials {
        "production_date"
    } else if let Some(rest) = p.strip_prefix("ilmd.") {
        rest
    } else {
        p
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

/// Rows read from the file at a time: what one chunk of the import holds in memory.
const CHUNK_ROWS: usize = 5_000;

/// A chunk of rows: each row's spreadsheet number (the header is row 1) and its cells.
type Chunk = Vec<(usize, Vec<String>)>;

/// What a file's reader sends: chunks in row order, or why the file cannot be read.
type RowStream = mpsc::Receiver<Result<Chunk, AppError>>;

fn unreadable(m: String) -> AppError {
    AppError::malformed("unreadable_file", m, Some("file".into()))
}

/// The kind of file `ct` names: CSV (`false`) or XLSX (`true`), or a refusal.
fn is_xlsx(ct: &str) -> Result<bool, AppError> {
    if ct.starts_with(XLSX) {
        Ok(true)
    } else if ct.starts_with("text/csv") {
        Ok(false)
    } else {
        Err(AppError::malformed(
            "unsupported_media_type",
            "send text/csv or an XLSX workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)",
            Some("Content-Type".into()),
        ))
    }
}

/// Reads `file` on a blocking task into chunks of rows of text: CSV (UTF-8) streamed record by
/// record, or the first sheet of an XLSX workbook (read whole: a workbook is a zip archive).
fn read_rows(xlsx: bool, file: &std::path::Path) -> RowStream {
    let (tx, rx) = mpsc::channel(2);
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let read = if xlsx {
            read_xlsx(&file, &tx)
        } else {
            read_csv(&file, &tx)
        };
        if let Err(e) = read {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// Sends `chunk` on; `false` once nobody listens (the import stopped).
fn send_chunk(tx: &mpsc::Sender<Result<Chunk, AppError>>, chunk: &mut Chunk) -> bool {
    tx.blocking_send(Ok(std::mem::take(chunk))).is_ok()
}

fn read_csv(
    file: &std::path::Path,
    tx: &mpsc::Sender<Result<Chunk, AppError>>,
) -> Result<(), AppError> {
    let f = std::fs::File::open(file)
        .map_err(|e| AppError::Internal(format!("opening {}: {e}", file.display())))?;
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(f));
    let mut rec = csv::StringRecord::new();
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut n = 0;
    loop {
        match rd.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                n += 1;
                chunk.push((n, rec.iter().map(str::to_owned).collect()));
                if chunk.len() == CHUNK_ROWS && !send_chunk(tx, &mut chunk) {
                    return Ok(());
                }
            }
            Err(e) => return Err(unreadable(format!("row {}: {e}", n + 1))),
        }
    }
    if !chunk.is_empty() {
        send_chunk(tx, &mut chunk);
    }
    Ok(())
}

fn read_xlsx(
    file: &std::path::Path,
    tx: &mpsc::Sender<Result<Chunk, AppError>>,
) -> Result<(), AppError> {
    use calamine::Reader;
    let f = std::fs::File::open(file)
        .map_err(|e| AppError::Internal(format!("opening {}: {e}", file.display())))?;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::BufReader::new(f))
            .map_err(|e| unreadable(format!("the XLSX workbook cannot be read: {e}")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| unreadable("the workbook has no sheet".into()))?
        .map_err(|e| unreadable(format!("the first sheet cannot be read: {e}")))?;
    // A date cell is a number with a date format: read it as the date it shows.
    let cell = |c: &calamine::Data| match c {
        calamine::Data::DateTime(d) if d.is_datetime() => {
            let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
            format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
        }
        other => other.to_string(),
    };
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    for (i, r) in range.rows().enumerate() {
        chunk.push((i + 1, r.iter().map(cell).collect()));
        if chunk.len() == CHUNK_ROWS && !send_chunk(tx, &mut chunk) {
            return Ok(());
        }
    }
    if !chunk.is_empty() {
        send_chunk(tx, &mut chunk);
    }
    Ok(())
}

/// History rows that passed, put in time order in bounded memory: sorted runs of
/// [`RUN_ROWS`] rows (time, row, the event as the import made it) spilled to temporary files
/// and merged when read back. Rows of one time keep their spreadsheet order.
struct TimeOrder {
    run: Vec<(i64, usize, String)>,
    spilled: Vec<std::fs::File>,
    /// Rows sorted in memory before a run is spilled.
    run_rows: usize,
}

impl Default for TimeOrder {
    fn default() -> Self {
        TimeOrder {
            run: Vec::new(),
            spilled: Vec::new(),
            run_rows: RUN_ROWS,
        }
    }
}

/// History rows sorted in memory before a run is spilled to disk.
const RUN_ROWS: usize = 100_000;

impl TimeOrder {
    async fn push(&mut self, at: i64, row: usize, event: String) -> Result<(), AppError> {
        self.run.push((at, row, event));
        if self.run.len() >= self.run_rows {
            self.spill().await?;
        }
        Ok(())
    }

    async fn spill(&mut self) -> Result<(), AppError> {
        let run = std::mem::take(&mut self.run);
        let file = tokio::task::spawn_blocking(move || write_run(run))
            .await
            .map_err(|e| AppError::Internal(format!("sorting history failed: {e}")))?
            .map_err(|e| AppError::Internal(format!("spilling sorted history: {e}")))?;
        self.spilled.push(file);
        Ok(())
    }

    /// The rows in time order, a chunk at a time, read on a blocking task.
    async fn into_chunks(mut self) -> Result<mpsc::Receiver<Result<Chunk, AppError>>, AppError> {
        if !self.spilled.is_empty() && !self.run.is_empty() {
            self.spill().await?;
        }
        let (tx, rx) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            let merged = if self.spilled.is_empty() {
                let mut run = self.run;
                run.sort_by_key(|(at, row, _)| (*at, *row));
                merge_into(tx.clone(), run.into_iter().map(|(_, n, e)| Ok((n, e))))
            } else {
                match Merge::new(self.spilled) {
                    Ok(m) => merge_into(tx.clone(), m),
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = merged {
                let _ = tx.blocking_send(Err(AppError::Internal(format!(
                    "reading sorted history: {e}"
                ))));
            }
        });
        Ok(rx)
    }
}

/// Sends the merged rows on in chunks (the event text as the one cell of each row).
fn merge_into(
    tx: mpsc::Sender<Result<Chunk, AppError>>,
    rows: impl Iterator<Item = std::io::Result<(usize, String)>>,
) -> std::io::Result<()> {
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    for r in rows {
        let (n, event) = r?;
        chunk.push((n, vec![event]));
        if chunk.len() == CHUNK_ROWS && !send_chunk(&tx, &mut chunk) {
            return Ok(());
        }
    }
    if !chunk.is_empty() {
        send_chunk(&tx, &mut chunk);
    }
    Ok(())
}

/// Sorts a run and writes it to an anonymous temporary file, one `time\trow\tevent` a line
/// (the event is compact JSON: no raw newline or tab).
fn write_run(mut run: Vec<(i64, usize, String)>) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, Write};
    run.sort_by_key(|(at, row, _)| (*at, *row));
    let mut out = std::io::BufWriter::new(tempfile::tempfile()?);
    for (at, row, event) in run {
        writeln!(out, "{at}\t{row}\t{event}")?;
    }
    let mut file = out.into_inner().map_err(|e| e.into_error())?;
    file.rewind()?;
    Ok(file)
}

/// A k-way merge of sorted runs.
struct Merge {
    runs: Vec<std::io::Lines<std::io::BufReader<std::fs::File>>>,
    /// The next row of each run: (time, row, run) on the heap, its event beside it.
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(i64, usize, usize)>>,
    next: Vec<Option<String>>,
}

impl Merge {
    fn new(files: Vec<std::fs::File>) -> std::io::Result<Merge> {
        use std::io::BufRead;
        let mut m = Merge {
            runs: files
                .into_iter()
                .map(|f| std::io::BufReader::new(f).lines())
                .collect(),
            heap: std::collections::BinaryHeap::new(),
            next: Vec::new(),
        };
        m.next = vec![None; m.runs.len()];
        for i in 0..m.runs.len() {
            m.advance(i)?;
        }
        Ok(m)
    }

    /// Reads run `i`'s next line onto the heap.
    fn advance(&mut self, i: usize) -> std::io::Result<()> {
        let Some(line) = self.runs[i].next().transpose()? else {
            return Ok(());
        };
        let bad = || std::io::Error::other("a spilled history line is damaged");
        let mut parts = line.splitn(3, '\t');
        let at: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let row: usize = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let event = parts.next().ok_or_else(bad)?;
        self.next[i] = Some(event.to_owned());
        self.heap.push(std::cmp::Reverse((at, row, i)));
        Ok(())
    }
}

impl Iterator for Merge {
    type Item = std::io::Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let std::cmp::Reverse((_, row, i)) = self.heap.pop()?;
        let event = self.next[i].take().unwrap_or_default();
        Some(self.advance(i).map(|()| (row, event)))
    }
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

/// The largest CSV file an import takes through the API: read as a stream and spooled to a
/// temporary file, never held in memory. An XLSX workbook is read whole (it is a zip
/// archive), so it keeps the general request limit ([`crate::body::MAX_BODY_BYTES`]).
pub const MAX_CSV_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Receipts an import's answer lists: those of its first rows. `first_seq`..`last_seq` span
/// them all (an import's entries are contiguous: one transaction holds the ledger's head).
pub const MAX_ENTRIES: usize = 1_000;

/// Refusals an import reports, the first by row; how many more is said after them.
pub const MAX_REFUSALS: usize = 1_000;

/// `POST /api/v1/imports/{kind}?mode=dry_run|commit` with a CSV or XLSX body. Refusals name
/// `rows[N].<header>`, N the spreadsheet row (the header is row 1). A commit honours
/// `Idempotency-Key` like `POST /api/v1/events`: a retry of the same file (same kind, media
/// type and bytes) answers the first commit's answer with `Idempotent-Replayed: true` and
/// records nothing; another request under the same key is refused. A dry run ignores the key.
/// The body is spooled to a temporary file as it arrives (hashed on the way for the key) and
/// imported from there a chunk at a time.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(kind): Path<String>,
    Query(p): Query<ImportParams>,
    headers: HeaderMap,
    body: Body,
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
    kind_of(&kind)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let limit = if is_xlsx(&ct)? {
        crate::body::MAX_BODY_BYTES as u64
    } else {
        MAX_CSV_BYTES
    };
    let scope = format!("POST /api/v1/imports/{kind} {ct}");
    let (file, request_hash) = spool(body, limit, &scope).await?;
    let key = if dry_run {
        None
    } else {
        crate::api::idempotency_of(&headers, request_hash)?
    };
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let note = AuditNote::object(format!("imports/{kind}"));
    let audit = pending.record_of(&app, status, {
        let note = note.clone();
        move |s: &Summary| note.after(s.audit())
    });
    let outcome = run(
        &*app.store,
        &kind,
        &ct,
        &file,
        dry_run,
        key,
        &actor.name(),
        app.clock.now(),
        Some(audit),
    )
    .await?;
    let mut resp = (status, Json(outcome.answer)).into_response();
    if outcome.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    // A commit kept its record with its rows; a dry run or a replay kept nothing, and the
    // guard records the request after it.
    Ok(if dry_run || outcome.replayed {
        resp
    } else {
        note.after(outcome.summary.audit()).recorded().on(resp)
    })
}

/// Writes `body` to a temporary file as it arrives, refusing it past `limit` bytes, and
/// hashes `scope`, a zero byte and the body (the request hash of `Idempotency-Key`).
async fn spool(
    body: Body,
    limit: u64,
    scope: &str,
) -> Result<(tempfile::TempPath, [u8; 32]), AppError> {
    use futures_util::StreamExt;
    use sha2::Digest;
    let internal = |e: std::io::Error| AppError::Internal(format!("spooling an import: {e}"));
    let (file, path) = tempfile::NamedTempFile::new()
        .map_err(internal)?
        .into_parts();
    // The file is written on a blocking task, fed the body's frames as they come.
    let (frames, mut to_write) = mpsc::channel::<axum::body::Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        while let Some(bytes) = to_write.blocking_recv() {
            out.write_all(&bytes)?;
        }
        out.flush()
    });
    let mut hash = sha2::Sha256::new();
    hash.update(scope.as_bytes());
    hash.update([0]);
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(frame) = stream.next().await {
        let bytes = frame.map_err(|e| unreadable(format!("the upload broke off: {e}")))?;
        size += bytes.len() as u64;
        if size > limit {
            return Err(AppError::TooLarge(
                FieldError::new(
                    "file_too_large",
                    format!(
                        "the file is larger than {} MiB; split it, or send CSV (up to {} MiB)",
                        limit / (1024 * 1024),
                        MAX_CSV_BYTES / (1024 * 1024)
                    ),
                )
                .at("file"),
            ));
        }
        hash.update(&bytes);
        if frames.send(bytes).await.is_err() {
            break;
        }
    }
    drop(frames);
    writer
        .await
        .map_err(|e| AppError::Internal(format!("spooling an import: {e}")))?
        .map_err(internal)?;
    Ok((path, hash.finalize().into()))
}

/// What an import kept: how many rows, at which ledger positions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: usize,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
}

impl Summary {
    /// What the audit trail says an import kept.
    fn audit(&self) -> Value {
        json!({"count": self.rows, "first_seq": self.first_seq, "last_seq": self.last_seq})
    }
}

/// What an import answered.
#[derive(Debug)]
pub struct Imported {
    /// `{kind, rows, dry_run, entries, first_seq, last_seq}`.
    pub answer: Value,
    /// The idempotency key was seen before: `answer` is the first commit's, nothing was written.
    pub replayed: bool,
    /// What was kept (nothing for a dry run or a replay).
    pub summary: Summary,
}

/// The refusals of an import: the first [`MAX_REFUSALS`] by row, and how many more.
#[derive(Default)]
struct Refusals {
    kept: Vec<FieldError>,
    more: usize,
}

impl Refusals {
    fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.kept.extend(errors);
        if self.kept.len() >= 2 * MAX_REFUSALS {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.kept = by_row(std::mem::take(&mut self.kept));
        self.more += self.kept.len().saturating_sub(MAX_REFUSALS);
        self.kept.truncate(MAX_REFUSALS);
    }

    fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    fn into_errors(mut self) -> Vec<FieldError> {
        self.trim();
        if self.more > 0 {
            self.kept.push(FieldError::new(
                "too_many_errors",
                format!(
                    "{} more problems are not listed: only the first {MAX_REFUSALS} (by row) are",
                    self.more
                ),
            ));
        }
        self.kept
    }
}

/// The receipts of a commit as its answer lists them: the first [`MAX_ENTRIES`] and the last.
#[derive(Default)]
struct Tally {
    listed: Vec<Receipt>,
    last: Option<Receipt>,
    count: usize,
}

impl Tally {
    fn add(&mut self, receipts: Vec<Receipt>) {
        self.count += receipts.len();
        for r in receipts {
            if self.listed.len() < MAX_ENTRIES {
                self.listed.push(r.clone());
            }
            self.last = Some(r);
        }
    }

    /// What the idempotency key keeps, for a retry's answer: the listed receipts, and the last
    /// one after them when it is not among them.
    fn remembered(&self) -> Vec<Receipt> {
        let mut r = self.listed.clone();
        if self.count > MAX_ENTRIES
            && let Some(last) = &self.last
        {
            r.push(last.clone());
        }
        r
    }

    /// The answer a retry gets from what [`Tally::remembered`] kept.
    fn replayed(mut remembered: Vec<Receipt>) -> (usize, Vec<Receipt>, Option<Receipt>) {
        if remembered.len() <= MAX_ENTRIES {
            let last = remembered.last().cloned();
            return (remembered.len(), remembered, last);
        }
        let last = remembered.pop();
        remembered.truncate(MAX_ENTRIES);
        let rows = match (remembered.first(), &last) {
            (Some(f), Some(l)) => usize::try_from(l.seq - f.seq + 1).unwrap_or(remembered.len()),
            _ => remembered.len(),
        };
        (rows, remembered, last)
    }
}

/// The answer of an import.
fn answer(
    kind: &str,
    rows: usize,
    dry_run: bool,
    entries: &[Receipt],
    last: Option<&Receipt>,
) -> Value {
    json!({"kind": kind, "rows": rows, "dry_run": dry_run, "entries": entries,
           "first_seq": entries.first().map(|r| r.seq), "last_seq": last.map(|r| r.seq)})
}

/// Imports the file at `file` (CSV or XLSX by the media type `ct`) as `kind` for `actor`:
/// every row is checked, and kept only if `dry_run` is false and no row is refused. The file
/// is read a chunk of 5,000 rows at a time (CSV streamed; XLSX read whole) and each
/// chunk recorded in one transaction opened for the import ([`Store::begin_import`]), so a
/// file of a million rows is imported in bounded memory and still all or nothing. Answers
/// `{kind, rows, dry_run, entries, first_seq, last_seq}` (`entries`: the receipts of the first
/// [`MAX_ENTRIES`] rows); a refusal names every bad row as `rows[N].<header>`, N the
/// spreadsheet row (the first [`MAX_REFUSALS`], then how many more). A commit under
/// `idempotency` made before answers the first commit again. A commit keeps the record
/// `audit` builds from its summary with it. The API and the command line both call this.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: &dyn Store,
    kind: &str,
    ct: &str,
    file: &std::path::Path,
    dry_run: bool,
    idempotency: Option<IdempotencyKey>,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
    audit: Option<AuditOf<Summary>>,
) -> Result<Imported, AppError> {
    let (target, columns, _) = kind_of(kind)?;
    let xlsx = is_xlsx(ct)?;
    let mut rows = read_rows(xlsx, file);
    let mut first = match rows.recv().await {
        Some(chunk) => chunk?,
        None => Vec::new(),
    };
    if first.is_empty() {
        return Err(AppError::Rule(vec![
            FieldError::new("empty_file", "the file has no header row").at("rows[1]"),
        ]));
    }
    let (_, head) = first.remove(0);
    let zone = match target {
        Target::Serials => crate::process::plant_zone(store).await?,
        _ => crate::i18n::DEFAULT_ZONE,
    };
    let mapping = Mapping::new(target, columns, &head, xlsx, actor, now, zone)?;
    // The key goes with every commit, even one with bad rows: a retry whose first attempt was
    // kept answers that attempt before any row is judged against what it recorded.
    let key = if dry_run { None } else { idempotency };
    let mut session = match store.begin_import(key).await {
        Ok(ImportStart::Replayed(r)) => {
            let (rows, entries, last) = Tally::replayed(r);
            tracing::info!(kind = %kind, rows, actor = %actor, "import replayed");
            return Ok(Imported {
                answer: answer(kind, rows, false, &entries, last.as_ref()),
                replayed: true,
                summary: Summary::default(),
            });
        }
        Ok(ImportStart::Open(s)) => s,
        // The key names no row: the whole request is refused as it is.
        Err(StoreError::Invalid(v)) => return Err(AppError::Rule(v)),
        Err(e) => return Err(e.into()),
    };
    let mut import = Import {
        mapping,
        refusals: Refusals::default(),
        tally: Tally::default(),
        rows: 0,
        history: TimeOrder::default(),
    };
    let fed = import.feed(&mut *session, first, rows).await;
    if let Err(e) = fed {
        let _ = session.rollback().await;
        return Err(e);
    }
    if !import.refusals.is_empty() {
        session.rollback().await?;
        return Err(AppError::Rule(import.refusals.into_errors()));
    }
    let tally = import.tally;
    let summary = Summary {
        rows: import.rows,
        first_seq: tally.listed.first().map(|r| r.seq),
        last_seq: tally.last.as_ref().map(|r| r.seq),
    };
    if dry_run {
        session.rollback().await?;
        tracing::info!(kind = %kind, rows = summary.rows, dry_run, actor = %actor, "import");
        return Ok(Imported {
            answer: answer(kind, summary.rows, true, &[], None),
            replayed: false,
            summary: Summary::default(),
        });
    }
    let record = audit.map(|build| build(&summary));
    session.commit(tally.remembered(), record).await?;
    tracing::info!(kind = %kind, rows = summary.rows, dry_run, actor = %actor, "import");
    Ok(Imported {
        answer: answer(
            kind,
            summary.rows,
            false,
            &tally.listed,
            tally.last.as_ref(),
        ),
        replayed: false,
        summary,
    })
}

/// How a file's columns are read: each header's column, and what a row needs to become.
struct Mapping<'a> {
    target: Target,
    columns: Vec<Option<&'static Column>>,
    /// The file's own header of each field, for refusals.
    header_of: HashMap<&'static str, String>,
    xlsx: bool,
    actor: &'a str,
    now: chrono::DateTime<chrono::Utc>,
    /// The plant's time zone: a legacy serial's production date starts there.
    zone: chrono_tz::Tz,
}

impl<'a> Mapping<'a> {
    /// Maps each header to a column; unknown and missing columns are refused up front.
    fn new(
        target: Target,
        columns: &'static [Column],
        head: &[String],
        xlsx: bool,
        actor: &'a str,
        now: chrono::DateTime<chrono::Utc>,
        zone: chrono_tz::Tz,
    ) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let mut mapped: Vec<Option<&'static Column>> = Vec::with_capacity(head.len());
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
        let mut header_of = HashMap::new();
        for (c, h) in mapped.iter().zip(head) {
            if let Some(c) = c {
                header_of.insert(c.field, h.clone());
            }
        }
        Ok(Mapping {
            target,
            columns: mapped,
            header_of,
            xlsx,
            actor,
            now,
            zone,
        })
    }

    /// The file's header for a record field.
    fn header<'h>(&'h self, field: &'h str) -> &'h str {
        self.header_of
            .get(field)
            .map(String::as_str)
            .unwrap_or(field)
    }

    /// A row's cells as the record's fields; a cell that cannot be read is refused and left
    /// out.
    fn def_of(
        &self,
        n: usize,
        row: &[String],
        refused: &mut Vec<FieldError>,
    ) -> Map<String, Value> {
        let mut def = Map::new();
        for (c, cell) in self.columns.iter().zip(row) {
            let (Some(c), cell) = (c, cell.trim()) else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            let value = if let Some(kind) = c.date {
                match dated(kind, cell, self.xlsx) {
                    Ok(v) => json!(v),
                    Err(e) => {
                        refused.push(at_row(n, self.header(c.field), e));
                        continue;
                    }
                }
            } else if c.number {
                match cell.parse::<u64>() {
                    Ok(v) => json!(v),
                    Err(_) => {
                        refused.push(at_row(
                            n,
                            self.header(c.field),
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
        def
    }

    /// The event a row's request stands for, checked as a capture checks it.
    fn event(&self, n: usize, request: Value) -> Result<Event, Vec<FieldError>> {
        let header = |f: &str| self.header(column_of(self.target, f)).to_owned();
        let req: EventRequest = serde_path_to_error::deserialize(request).map_err(|e| {
            let path = e.path().to_string();
            vec![at_row(
                n,
                &header(&path),
                FieldError::new("invalid_value", e.inner().to_string()),
            )]
        })?;
        let ctx = CaptureContext {
            actor: self.actor.to_owned(),
            now: self.now,
        };
        Event::from_request(req, &ctx, Uuid::now_v7()).map_err(|v| {
            v.into_iter()
                .map(|mut e| {
                    let f = e.field.take().unwrap_or_default();
                    at_row(n, &header(&f), e)
                })
                .collect()
        })
    }

    /// The store's refusals of a chunk (`events[i].field` or `[i].field`), each named by its
    /// spreadsheet row (`rows_of[i]`) and header.
    fn store_refusals(&self, refusals: Vec<FieldError>, rows_of: &[usize]) -> Vec<FieldError> {
        refusals
            .into_iter()
            .map(|mut e| {
                let f = e.field.take().unwrap_or_default();
                let g = f.strip_prefix("events").unwrap_or(&f);
                let (idx, rest) = g
                    .strip_prefix('[')
                    .and_then(|s| s.split_once(']'))
                    .map(|(i, r)| (i.parse::<usize>().ok(), r.trim_start_matches('.')))
                    .unwrap_or((None, g));
                let rest = match self.target {
                    Target::Master(_) => rest,
                    _ => column_of(self.target, rest),
                };
                let row = idx.and_then(|i| rows_of.get(i)).copied().unwrap_or(0);
                at_row(row, self.header(rest), e)
            })
            .collect()
    }
}

/// An import under way: the rows read so far, what was refused and what was recorded.
struct Import<'a> {
    mapping: Mapping<'a>,
    refusals: Refusals,
    tally: Tally,
    /// Rows that became a record or an event.
    rows: usize,
    /// History rows waiting to be recorded in time order.
    history: TimeOrder,
}

impl Import<'_> {
    /// Reads every chunk, records what it can; refusals are collected, not returned.
    async fn feed(
        &mut self,
        session: &mut dyn ImportSession,
        first: Chunk,
        mut rows: RowStream,
    ) -> Result<(), AppError> {
        let mut next = Some(first);
        while let Some(chunk) = next.take() {
            self.chunk(session, chunk).await?;
            next = match rows.recv().await {
                Some(chunk) => Some(chunk?),
                None => None,
            };
        }
        if self.mapping.target != Target::History {
            return Ok(());
        }
        // History is recorded in the order it happened, whatever the order of the rows.
        let mut sorted = std::mem::take(&mut self.history).into_chunks().await?;
        while let Some(chunk) = sorted.recv().await {
            let mut events = Vec::with_capacity(CHUNK_ROWS);
            let mut rows_of = Vec::with_capacity(CHUNK_ROWS);
            for (n, mut cells) in chunk? {
                let request = serde_json::from_str(&cells.pop().unwrap_or_default())
                    .map_err(|e| AppError::Internal(format!("a sorted history row: {e}")))?;
                match self.mapping.event(n, request) {
                    Ok(ev) => {
                        events.push(ev);
                        rows_of.push(n);
                    }
                    Err(v) => self.refusals.extend(v),
                }
            }
            self.record_events(session, events, &rows_of).await?;
        }
        Ok(())
    }

    /// Checks one chunk's rows and records the good ones (history rows wait to be sorted).
    async fn chunk(
        &mut self,
        session: &mut dyn ImportSession,
        chunk: Chunk,
    ) -> Result<(), AppError> {
        let target = self.mapping.target;
        let mut events = Vec::new();
        let mut writes = Vec::new();
        let mut rows_of = Vec::new();
        let mut refused = Vec::new();
        for (n, row) in chunk {
            if row.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            let def = self.mapping.def_of(n, &row, &mut refused);
            if let Target::Master(t) = target {
                match record_of(t, Value::Object(def)) {
                    Ok(record) => {
                        writes.push(MasterWrite {
                            record,
                            actor: self.mapping.actor.to_owned(),
                            now: self.mapping.now,
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
                        refused.push(at_row(
                            n,
                            self.mapping.header(field),
                            FieldError::new("invalid_value", message.clone()),
                        ));
                    }
                }
                continue;
            }
            let request = match event_of(target, &def, self.mapping.now, self.mapping.zone) {
                Ok(v) => v,
                Err((f, e)) => {
                    refused.push(at_row(n, self.mapping.header(column_of(target, f)), e));
                    continue;
                }
            };
            let kept = (target == Target::History).then(|| request.to_string());
            match self.mapping.event(n, request) {
                Ok(ev) => match kept {
                    Some(request) => {
                        self.rows += 1;
                        self.history
                            .push(ev.event_time.timestamp_micros(), n, request)
                            .await?;
                    }
                    None => {
                        events.push(ev);
                        rows_of.push(n);
                    }
                },
                Err(v) => refused.extend(v),
            }
        }
        // Refusals stay in row order: this chunk's own, then what the store says of its rows.
        self.refusals.extend(by_row(refused));
        if !writes.is_empty() {
            self.rows += writes.len();
            match session.masters(writes).await {
                Ok(r) => self.tally.add(r),
                Err(StoreError::Invalid(v)) => {
                    let v = self.mapping.store_refusals(v, &rows_of);
                    self.refusals.extend(by_row(v));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.rows += events.len();
        self.record_events(session, events, &rows_of).await
    }

    async fn record_events(
        &mut self,
        session: &mut dyn ImportSession,
        events: Vec<Event>,
        rows_of: &[usize],
    ) -> Result<(), AppError> {
        if events.is_empty() {
            return Ok(());
        }
        match session.events(events).await {
            Ok(r) => self.tally.add(r),
            Err(StoreError::Invalid(v)) => {
                let v = self.mapping.store_refusals(v, rows_of);
                self.refusals.extend(by_row(v));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// History rows come back in time order (rows of one time in row order) whether they were
    /// sorted in memory or spilled in runs and merged.
    #[tokio::test]
    async fn history_rows_come_back_in_time_order_from_spilled_runs() {
        let times = [5, 3, 9, 3, 1, 7, 5, 0, 8, 2, 6];
        for run_rows in [3, 1_000] {
            let mut order = TimeOrder {
                run_rows,
                ..TimeOrder::default()
            };
            for (i, t) in times.iter().enumerate() {
                order
                    .push(*t, i + 2, format!("{{\"t\":{t}}}"))
                    .await
                    .unwrap();
            }
            assert_eq!(order.spilled.len(), if run_rows == 3 { 3 } else { 0 });
            let mut chunks = order.into_chunks().await.unwrap();
            let mut got = Vec::new();
            while let Some(chunk) = chunks.recv().await {
                got.extend(chunk.unwrap());
            }
            let rows: Vec<usize> = got.iter().map(|(n, _)| *n).collect();
            assert_eq!(rows, vec![9, 6, 11, 3, 5, 2, 8, 12, 7, 10, 4], "{run_rows}");
            assert_eq!(got[0].1, vec!["{\"t\":0}".to_owned()]);
        }
    }
}
