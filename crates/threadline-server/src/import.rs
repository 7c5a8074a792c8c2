//! Bulk import from CSV or XLSX of master data (products, parties, locations) and of what a
//! plant already has: serials (legacy or supplier, with their origin, status and location) and
//! lots (a quantity at a location) — the opening stock —, and history from an old system (one
//! object event per row at its own time, recorded in time order). Columns are matched by header name, in
//! Chinese or English; every master row becomes the same record the API takes, every serial or
//! lot row the event that registers it (checked by `Event::from_request` and the projection like
//! a capture); a dry run reports every bad row with its spreadsheet row number and reason, a
//! commit records them all in one transaction or none (`Store::put_masters`,
//! `Store::capture_import`).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use threadline_domain::error::FieldError;
use threadline_domain::event::{CaptureContext, Event, EventRequest};
use threadline_domain::master::MasterRecord;
use threadline_store::{AuditOf, CaptureOutcome, IdempotencyKey, MasterWrite, Receipt, StoreError};
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
    ..col("production_date", false, &["production_date", "生产日期"])
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
    let mut ev = json!({
        "type": "object",
        "action": "ADD",
        "event_time": now.to_rfc3339(),
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
        // A date cell is a number with a date format: read it as the date it shows.
        let cell = |c: &calamine::Data| match c {
            calamine::Data::DateTime(d) if d.is_datetime() => {
                let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
            }
            other => other.to_string(),
        };
        return Ok(range.rows().map(|r| r.iter().map(cell).collect()).collect());
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
/// `rows[N].<header>`, N the spreadsheet row (the header is row 1). A commit honours
/// `Idempotency-Key` like `POST /api/v1/events`: a retry of the same file (same kind, media
/// type and bytes) answers the first commit's answer with `Idempotent-Replayed: true` and
/// records nothing; another request under the same key is refused. A dry run ignores the key.
pub async fn import(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
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
    let key = if dry_run {
        None
    } else {
        crate::api::idempotency(
            &headers,
            &format!("POST /api/v1/imports/{kind} {ct}"),
            &body,
        )?
    };
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let note = AuditNote::object(format!("imports/{kind}"));
    let audit = pending.record_of(&app, status, {
        let note = note.clone();
        move |r: &Vec<Receipt>| note.after(summary(r))
    });
    let outcome = run(
        &*app.store,
        &kind,
        ct,
        &body,
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
        note.after(summary(&outcome.receipts)).recorded().on(resp)
    })
}

/// What the audit trail says an import kept: how many entries, at which ledger positions.
fn summary(receipts: &[Receipt]) -> Value {
    json!({
        "count": receipts.len(),
        "first_seq": receipts.first().map(|r| r.seq),
        "last_seq": receipts.last().map(|r| r.seq),
    })
}

/// What an import answered.
#[derive(Debug)]
pub struct Imported {
    /// `{kind, rows, dry_run, entries}`.
    pub answer: Value,
    /// The idempotency key was seen before: `answer` is the first commit's, nothing was written.
    pub replayed: bool,
    /// What was kept (nothing for a dry run).
    pub receipts: Vec<Receipt>,
}

/// Imports `body` (CSV or XLSX by the media type `ct`) as `kind` (`products`, `parties`,
/// `locations`) for `actor`: every row is checked, and kept only if `dry_run` is false and
/// no row is refused. Answers `{kind, rows, dry_run, entries}`; a refusal names every bad row
/// as `rows[N].<header>`, N the spreadsheet row. A commit under `idempotency` (the store keeps
/// the key with the receipts, in the commit's transaction) that was made before answers the
/// first commit again. A commit keeps the record `audit` builds from its receipts with them.
/// The API and the command line both call this.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: &dyn threadline_store::Store,
    kind: &str,
    ct: &str,
    body: &[u8],
    dry_run: bool,
    idempotency: Option<IdempotencyKey>,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
    audit: Option<AuditOf<Vec<Receipt>>>,
) -> Result<Imported, AppError> {
    let (target, columns, _) = kind_of(kind)?;
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
    let mut events = Vec::new();
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
            let value = if let Some(kind) = c.date {
                match dated(kind, cell, ct.starts_with(XLSX)) {
                    Ok(v) => json!(v),
                    Err(e) => {
                        errors.push(at_row(
                            n,
                            header_of.get(c.field).copied().unwrap_or(c.field),
                            e,
                        ));
                        continue;
                    }
                }
            } else if c.number {
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
        let record_type = match target {
            Target::Master(t) => t,
            _ => {
                let ctx = CaptureContext {
                    actor: actor.to_owned(),
                    now,
                };
                let header = |f: &str| {
                    header_of
                        .get(column_of(target, f))
                        .copied()
                        .unwrap_or(f)
                        .to_owned()
                };
                match event_of(target, &def, now)
                    .map_err(|(f, e)| vec![at_row(n, &header(f), e)])
                    .and_then(|v| {
                        let req: EventRequest =
                            serde_path_to_error::deserialize(v).map_err(|e| {
                                let path = e.path().to_string();
                                vec![at_row(
                                    n,
                                    &header(&path),
                                    FieldError::new("invalid_value", e.inner().to_string()),
                                )]
                            })?;
                        Event::from_request(req, &ctx, Uuid::now_v7()).map_err(|v| {
                            v.into_iter()
                                .map(|mut e| {
                                    let f = e.field.take().unwrap_or_default();
                                    at_row(n, &header(&f), e)
                                })
                                .collect()
                        })
                    }) {
                    Ok(ev) => {
                        events.push(ev);
                        rows_of.push(n);
                    }
                    Err(v) => errors.extend(v),
                }
                continue;
            }
        };
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
    // History is recorded in the order it happened, whatever the order of the rows.
    if target == Target::History {
        let mut paired: Vec<(Event, usize)> = events.into_iter().zip(rows_of).collect();
        paired.sort_by_key(|(e, _)| e.event_time);
        (events, rows_of) = paired.into_iter().unzip();
    }
    let count = writes.len() + events.len();
    let keep = !dry_run && errors.is_empty();
    // The key goes with every commit, even one with bad rows: a retry whose first attempt was
    // kept answers that attempt before any row is judged against what it recorded.
    let key = if dry_run { None } else { idempotency };
    let stored = if matches!(target, Target::Master(_)) {
        store.put_masters(writes, !keep, key, audit).await
    } else {
        store.capture_import(events, !keep, key, audit).await
    };
    let receipts = match stored {
        Ok(CaptureOutcome::Replayed(r)) => {
            tracing::info!(kind = %kind, rows = r.len(), actor = %actor, "import replayed");
            return Ok(Imported {
                answer: json!({"kind": kind, "rows": r.len(), "dry_run": false, "entries": r}),
                replayed: true,
                receipts: Vec::new(),
            });
        }
        Ok(CaptureOutcome::Recorded(r)) if errors.is_empty() => r,
        Ok(_) => return Err(AppError::Rule(by_row(errors))),
        // The key names no row: the whole request is refused as it is.
        Err(StoreError::Invalid(v)) if v.iter().any(|e| e.code == "idempotency_key_reused") => {
            return Err(AppError::Rule(v));
        }
        Err(StoreError::Invalid(v)) => {
            // `[i].field` → the spreadsheet row and its header.
            let refused = v
                .into_iter()
                .map(|mut e| {
                    let f = e.field.take().unwrap_or_default();
                    let g = f.strip_prefix("events").unwrap_or(&f);
                    let (idx, rest) = g
                        .strip_prefix('[')
                        .and_then(|s| s.split_once(']'))
                        .map(|(i, r)| (i.parse::<usize>().ok(), r.trim_start_matches('.')))
                        .unwrap_or((None, g));
                    let rest = match target {
                        Target::Master(_) => rest,
                        _ => column_of(target, rest),
                    };
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
    let receipts = if dry_run { Vec::new() } else { receipts };
    Ok(Imported {
        answer: json!({"kind": kind, "rows": count, "dry_run": dry_run, "entries": receipts}),
        replayed: false,
        receipts,
    })
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
