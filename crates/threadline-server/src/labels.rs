//! Labels over HTTP: label templates (stored, checked by `threadline-labels` before they are
//! written), a preview of one label as PNG or SVG, and print jobs — the labels of an
//! allocation block, of a lot, or the reprint of one serial — as a PDF or ZPL download, or
//! ZPL sent to a network printer (raw TCP, port 9100).
//!
//! A reprint is recorded in the ledger before its label is produced: an object `OBSERVE`
//! event with business step `encoding` (CBV: writing an identifier to a data carrier), no
//! disposition (the unit's state does not change), and a business transaction of type
//! [`REPRINT_TRANSACTION`] whose id is the job's id. The event's actor and record time say who
//! reprinted which serial, and when; the unit's history shows each reprint.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::event::{CaptureContext, Event, EventRequest};
use threadline_domain::projection::ItemStatus;
use threadline_labels::{CompiledTemplate, Label, LabelData, LabelTemplate, PdfLayout};
use threadline_store::{LabelTemplateRecord, LabelTemplateWrite, Store};
use tokio::io::AsyncWriteExt;

use crate::AppState;
use crate::api::if_match;
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;

/// The business transaction type that marks a reprint (Threadline's own vocabulary: CBV has
/// none for it).
pub const REPRINT_TRANSACTION: &str = "urn:threadline:btt:reprint";

/// Most labels one job prints.
pub const MAX_JOB_LABELS: usize = 10_000;
/// How long sending to a printer may take before the job is given up.
const PRINTER_TIMEOUT: Duration = Duration::from_secs(10);

fn checked(definition: &serde_json::Value, field: &str) -> Result<CompiledTemplate, AppError> {
    let template = LabelTemplate::from_json(&definition.to_string())
        .map_err(|e| AppError::Malformed(vec![e.within(field)]))?;
    template
        .compile()
        .map_err(|v| AppError::Rule(v.into_iter().map(|e| e.within(field)).collect()))
}

fn check_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::Rule(vec![
            FieldError::new(
                "invalid_name",
                "a template name is 1–100 letters, digits, `-`, `_` or `.`",
            )
            .at("name"),
        ]))
    }
}

fn record_response(status: StatusCode, r: &LabelTemplateRecord) -> Response {
    crate::api::with_etag(status, r, r.version)
}

async fn stored(store: &dyn Store, name: &str) -> Result<LabelTemplateRecord, AppError> {
    store
        .label_template(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("label template {name} does not exist")))
}

/// `GET /api/v1/label-templates`
pub async fn list(State(app): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(json!({ "items": app.store.label_templates().await? })).into_response())
}

/// `GET /api/v1/label-templates/{name}`
pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    Ok(record_response(
        StatusCode::OK,
        &stored(&*app.store, &name).await?,
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    name: String,
    template: serde_json::Value,
}

/// `POST /api/v1/label-templates` — `{"name", "template"}`; 409 if the name is taken.
pub async fn create(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: NewTemplate = parse(&body, "")?;
    check_name(&req.name)?;
    checked(&req.template, "template")?;
    let record = app
        .store
        .put_label_template(LabelTemplateWrite {
            name: req.name,
            definition: req.template,
            actor: actor.name(),
            now: app.clock.now(),
            replaces: None,
        })
        .await?;
    Ok(
        crate::audit::AuditNote::object(format!("label-templates/{}", record.name))
            .after(&record)
            .on(record_response(StatusCode::CREATED, &record)),
    )
}

/// `PUT /api/v1/label-templates/{name}` — the template; `If-Match` names the version replaced.
pub async fn replace(
    State(app): State<AppState>,
    actor: Actor,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let version = if_match(&headers)?;
    let definition: serde_json::Value = parse(&body, "")?;
    checked(&definition, "template")?;
    let before = app.store.label_template(&name).await?;
    let record = app
        .store
        .put_label_template(LabelTemplateWrite {
            name,
            definition,
            actor: actor.name(),
            now: app.clock.now(),
            replaces: Some(version),
        })
        .await?;
    Ok(
        crate::audit::AuditNote::object(format!("label-templates/{}", record.name))
            .before(before)
            .after(&record)
            .on(record_response(StatusCode::OK, &record)),
    )
}

/// `DELETE /api/v1/label-templates/{name}`
pub async fn delete(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let before = app.store.label_template(&name).await?;
    app.store.delete_label_template(&name).await?;
    Ok(
        crate::audit::AuditNote::object(format!("label-templates/{name}"))
            .before(before)
            .on(StatusCode::NO_CONTENT.into_response()),
    )
}

/// Values for a preview, by placeholder name: `{"serial": "…", "expiry": "2027-03-31",
/// "attr.color": "white"}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LabelPreviewRequest")]
pub struct PreviewRequest {
    /// A stored template's name, or…
    #[serde(default)]
    name: Option<String>,
    /// …a template being edited.
    #[serde(default)]
    template: Option<serde_json::Value>,
    #[serde(default)]
    data: std::collections::BTreeMap<String, String>,
    #[serde(default = "default_preview")]
    format: String,
}

fn default_preview() -> String {
    "png".to_owned()
}

fn preview_data(
    values: &std::collections::BTreeMap<String, String>,
) -> Result<LabelData, AppError> {
    let mut data = LabelData::new();
    for (k, v) in values {
        if threadline_labels::template::DATE_PLACEHOLDERS.contains(&k.as_str()) {
            let date = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                AppError::Rule(vec![
                    FieldError::new("invalid_date", format!("{k} must be a date YYYY-MM-DD"))
                        .at(format!("data.{k}")),
                ])
            })?;
            data.set_date(k, date);
        } else {
            data.set(k, v.clone());
        }
    }
    Ok(data)
}

/// `POST /api/v1/label-templates/preview` — one label as PNG (at the template's dpi) or SVG.
pub async fn preview(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: PreviewRequest = parse(&body, "")?;
    let compiled = match (&req.name, &req.template) {
        (Some(name), None) => checked(&stored(&*app.store, name).await?.definition, "template")?,
        (None, Some(t)) => checked(t, "template")?,
        _ => {
            return Err(AppError::malformed(
                "invalid_preview",
                "send either `name` (a stored template) or `template`",
                Some("template".into()),
            ));
        }
    };
    let label = compiled
        .label(&preview_data(&req.data)?)
        .map_err(|e| AppError::Rule(vec![e.within("template")]))?;
    match req.format.as_str() {
        "png" => Ok(download(
            "image/png",
            None,
            threadline_labels::raster::png(&label),
        )),
        "svg" => Ok(download(
            "image/svg+xml",
            None,
            threadline_labels::svg::render(&label).into_bytes(),
        )),
        other => Err(AppError::malformed(
            "invalid_format",
            format!("format {other} is not png or svg"),
            Some("format".into()),
        )),
    }
}

fn download(content_type: &'static str, file: Option<&str>, bytes: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(file) =
        file.and_then(|f| HeaderValue::from_str(&format!("attachment; filename=\"{f}\"")).ok())
    {
        h.insert(header::CONTENT_DISPOSITION, file);
    }
    resp
}

/// What a print job prints.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The stored template's name.
    template: String,
    /// `pdf` (default for downloads) or `zpl`.
    #[serde(default)]
    format: Option<String>,
    /// PDF page layout: `roll` (one label per page, the default) or `a4`.
    #[serde(default)]
    layout: Option<String>,
    /// The labels of an allocation block: the allocation event's id.
    #[serde(default)]
    allocation: Option<uuid::Uuid>,
    /// The label of a lot, `copies` times.
    #[serde(default)]
    lot: Option<LotKey>,
    #[serde(default)]
    copies: Option<u32>,
    /// A reprint of one serial's label, recorded as an event.
    #[serde(default)]
    reprint: Option<ItemKey>,
    /// `host:port` of a ZPL printer, for `…/print`.
    #[serde(default)]
    printer: Option<String>,
}

/// The data of a unit's label: its product's name and GTIN, its lot (and the lot's dates), its
/// attributes.
async fn unit_data(store: &dyn Store, key: &ItemKey) -> Result<LabelData, AppError> {
    let item = store.item(key).await?.ok_or_else(|| {
        AppError::NotFound(format!(
            "serial {} of {} does not exist",
            key.serial, key.product
        ))
    })?;
    let mut data = LabelData::new();
    data.set("serial", item.serial.clone());
    for (k, v) in &item.attributes {
        data.set_attribute(
            k,
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string()),
        );
    }
    if let Some(lot) = &item.lot {
        data.set("lot", lot.clone());
        let lk: LotKey = serde_json::from_value(json!({"product": item.product, "lot": lot}))
            .map_err(|e| AppError::Internal(format!("lot key: {e}")))?;
        lot_dates(store, &lk, &mut data).await?;
    }
    product_data(store, &item.product, &mut data).await?;
    Ok(data)
}

async fn product_data(store: &dyn Store, code: &str, data: &mut LabelData) -> Result<(), AppError> {
    let product = store
        .product(code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("product {code} does not exist")))?;
    data.set("product", code.to_owned());
    data.set("product_name", product.def.name.clone());
    if let Some(g) = &product.def.gtin {
        data.set("gtin", g.as_str().to_owned());
    }
    Ok(())
}

async fn lot_dates(store: &dyn Store, key: &LotKey, data: &mut LabelData) -> Result<(), AppError> {
    if let Some(lot) = store.lot(key).await? {
        if let Some(d) = lot.expiry_date {
            data.set_date("expiry", d);
        }
        if let Some(d) = lot.production_date {
            data.set_date("production_date", d);
        }
    }
    Ok(())
}

/// An encoding event recorded on `actor`'s behalf for a print job, refused unless the actor
/// holds the permission the event needs (`what` says which record it is).
fn encoding_event(
    actor: &Actor,
    body: serde_json::Value,
    id: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
    what: &str,
) -> Result<Event, AppError> {
    let request: EventRequest = serde_json::from_value(body)
        .map_err(|e| AppError::Internal(format!("{what} event: {e}")))?;
    let missing = actor
        .permissions
        .missing(threadline_domain::access::required_for(&request));
    if !missing.is_empty() {
        return Err(AppError::Forbidden(vec![FieldError::new(
            "forbidden",
            format!(
                "a {what} is recorded as an encoding event, which needs a permission {} lacks",
                actor.name()
            ),
        )]));
    }
    Event::from_request(
        request,
        &CaptureContext {
            actor: actor.name(),
            now,
        },
        id,
    )
    .map_err(AppError::Rule)
}

/// Records the reprint of `key` by `actor` (see the module docs).
async fn record_reprint(
    app: &AppState,
    actor: &Actor,
    key: &ItemKey,
    job: uuid::Uuid,
) -> Result<(), AppError> {
    let now = app.clock.now();
    let event = encoding_event(
        actor,
        json!({
            "type": "object", "action": "OBSERVE", "event_time": now.to_rfc3339(), "biz_step": "encoding",
            "items": [key],
            "biz_transactions": [{"type": REPRINT_TRANSACTION, "id": format!("REPRINT-{job}")}],
        }),
        job,
        now,
        "reprint",
    )?;
    app.store.capture(vec![event], None).await?;
    Ok(())
}

/// Resolves a job into its template and labels; a reprint is recorded here, before anything
/// is produced.
async fn job_labels(
    app: &AppState,
    actor: &Actor,
    req: &JobRequest,
) -> Result<Vec<Label>, AppError> {
    let compiled = checked(
        &stored(&*app.store, &req.template).await?.definition,
        "template",
    )?;
    let chosen = [
        req.allocation.is_some(),
        req.lot.is_some(),
        req.reprint.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if chosen != 1 {
        return Err(AppError::malformed(
            "invalid_job",
            "name exactly one of `allocation`, `lot` or `reprint`",
            Some("allocation".into()),
        ));
    }
    let mut data = Vec::new();
    if let Some(id) = req.allocation {
        let event = app
            .store
            .event(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("event {id} does not exist")))?;
        if event.event.allocation.is_none() {
            return Err(AppError::Rule(vec![
                FieldError::new(
                    "not_an_allocation",
                    format!("event {id} is not a serial allocation"),
                )
                .at("allocation"),
            ]));
        }
        if event.event.items.len() > MAX_JOB_LABELS {
            return Err(AppError::Rule(vec![
                FieldError::new(
                    "too_many_labels",
                    format!("a job prints at most {MAX_JOB_LABELS} labels"),
                )
                .at("allocation"),
            ]));
        }
        for key in &event.event.items {
            data.push(unit_data(&*app.store, key).await?);
        }
    } else if let Some(lot) = &req.lot {
        let copies = req.copies.unwrap_or(1) as usize;
        if copies == 0 || copies > MAX_JOB_LABELS {
            return Err(AppError::Rule(vec![
                FieldError::new(
                    "invalid_copies",
                    format!("copies must be 1–{MAX_JOB_LABELS}"),
                )
                .at("copies"),
            ]));
        }
        if app.store.lot(lot).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "lot {} of {} does not exist",
                lot.lot, lot.product
            )));
        }
        let mut d = LabelData::new();
        d.set("lot", lot.lot.to_string());
        lot_dates(&*app.store, lot, &mut d).await?;
        product_data(&*app.store, lot.product.as_str(), &mut d).await?;
        data = vec![d; copies];
    } else if let Some(key) = &req.reprint {
        let d = unit_data(&*app.store, key).await?;
        // The label must be printable before the reprint is recorded.
        compiled
            .label(&d)
            .map_err(|e| AppError::Rule(vec![e.within("template")]))?;
        record_reprint(app, actor, key, uuid::Uuid::now_v7()).await?;
        data.push(d);
    }
    let labels = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            compiled.label(d).map_err(|e| {
                let serial = d.get("serial").unwrap_or("");
                AppError::Rule(vec![
                    FieldError::new(e.code, format!("label {} ({serial}): {}", i + 1, e.message))
                        .at(format!("template.{}", e.field.unwrap_or_default())),
                ])
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(id) = req.allocation {
        record_block_print(app, actor, id).await?;
    }
    Ok(labels)
}

/// Records the printing of an allocation block's labels, once they are known to render: the
/// serials still unassigned are marked printed (their first label), and any printed before is
/// recorded as a reprint — every label in circulation is accounted for.
async fn record_block_print(
    app: &AppState,
    actor: &Actor,
    allocation: uuid::Uuid,
) -> Result<(), AppError> {
    let Some(event) = app.store.event(allocation).await? else {
        return Ok(());
    };
    let mut first = Vec::new();
    let mut again = Vec::new();
    for key in &event.event.items {
        match app.store.item(key).await? {
            Some(item) if item.status == ItemStatus::Unassigned => first.push(key.clone()),
            Some(item) if item.status.is_final() => {}
            _ => again.push(key.clone()),
        }
    }
    let now = app.clock.now();
    let mut checked = Vec::new();
    if !first.is_empty() {
        checked.push(encoding_event(
            actor,
            json!({
                "type": "object", "action": "OBSERVE", "event_time": now.to_rfc3339(), "biz_step": "encoding",
                "disposition": threadline_domain::event::PRINTED_DISPOSITION,
                "items": first,
                "fields": {"allocation": allocation.to_string()},
            }),
            uuid::Uuid::now_v7(),
            now,
            "print",
        )?);
    }
    if !again.is_empty() {
        let job = uuid::Uuid::now_v7();
        checked.push(encoding_event(
            actor,
            json!({
                "type": "object", "action": "OBSERVE", "event_time": now.to_rfc3339(), "biz_step": "encoding",
                "items": again,
                "biz_transactions": [{"type": REPRINT_TRANSACTION, "id": format!("REPRINT-{job}")}],
            }),
            job,
            now,
            "reprint",
        )?);
    }
    if !checked.is_empty() {
        app.store.capture(checked, None).await?;
    }
    Ok(())
}

fn pdf_layout(req: &JobRequest) -> Result<PdfLayout, AppError> {
    match req.layout.as_deref() {
        None | Some("roll") => Ok(PdfLayout::Roll),
        Some("a4") => Ok(PdfLayout::A4),
        Some(other) => Err(AppError::malformed(
            "invalid_layout",
            format!("layout {other} is not roll or a4"),
            Some("layout".into()),
        )),
    }
}

async fn render(format: &str, layout: PdfLayout, labels: Vec<Label>) -> Result<Vec<u8>, AppError> {
    let format = format.to_owned();
    tokio::task::spawn_blocking(move || match format.as_str() {
        "pdf" => threadline_labels::pdf::write_all(Vec::new(), layout, &labels)
            .map_err(|e| AppError::Internal(format!("pdf: {e}"))),
        _ => threadline_labels::zpl::write_all(Vec::new(), &labels)
            .map_err(|e| AppError::Internal(format!("zpl: {e}"))),
    })
    .await
    .map_err(|e| AppError::Internal(format!("rendering: {e}")))?
}

/// `POST /api/v1/label-jobs` — the labels as a PDF or ZPL download.
pub async fn download_job(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: JobRequest = parse(&body, "")?;
    let format = req.format.clone().unwrap_or_else(|| "pdf".to_owned());
    if format != "pdf" && format != "zpl" {
        return Err(AppError::malformed(
            "invalid_format",
            format!("format {format} is not pdf or zpl"),
            Some("format".into()),
        ));
    }
    let layout = pdf_layout(&req)?;
    let labels = job_labels(&app, &actor, &req).await?;
    let count = labels.len();
    let bytes = render(&format, layout, labels).await?;
    let (content_type, file) = if format == "pdf" {
        ("application/pdf", "labels.pdf")
    } else {
        ("application/zpl", "labels.zpl")
    };
    let mut resp = download(content_type, Some(file), bytes);
    resp.headers_mut()
        .insert("x-label-count", HeaderValue::from(count));
    Ok(resp)
}

/// `POST /api/v1/label-jobs/print` — the labels as ZPL, sent to `printer` (`host:port`) over
/// raw TCP.
pub async fn print_job(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: JobRequest = parse(&body, "")?;
    let Some(printer) = req.printer.clone() else {
        return Err(AppError::malformed(
            "missing_printer",
            "name the printer as host:port",
            Some("printer".into()),
        ));
    };
    if req.format.as_deref().is_some_and(|f| f != "zpl") {
        return Err(AppError::malformed(
            "invalid_format",
            "a printer is sent ZPL",
            Some("format".into()),
        ));
    }
    let labels = job_labels(&app, &actor, &req).await?;
    let count = labels.len();
    let bytes = render("zpl", PdfLayout::Roll, labels).await?;
    let unreachable = |e: String| {
        AppError::Rule(vec![
            FieldError::new("printer_unreachable", format!("printer {printer}: {e}")).at("printer"),
        ])
    };
    let send = async {
        let mut stream = tokio::net::TcpStream::connect(&printer).await?;
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(PRINTER_TIMEOUT, send)
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    tracing::info!(printer = %printer, labels = count, actor = %actor.name(), "labels sent to printer");
    Ok(Json(json!({ "printer": printer, "labels": count, "bytes": bytes.len() })).into_response())
}
