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
//!
//! A job belongs to the site of the units it prints. An account bound to a site prints the
//! labels only of what its site sees ([`crate::site::SiteScope`]): a block whose allocation or
//! commissioning event happened there (an allocation by such an account is recorded at its
//! site), a lot or a unit that was there; another site's block, lot or serial is "not found",
//! as one that does not exist. What it records of a print happens at its site (the events'
//! read point is the site: where the printer is), like every event it records. Jobs are not
//! stored: their record is those events, which the unit's history and the event lists show,
//! scoped like every read.

use std::collections::HashMap;
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
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;
use crate::site::SiteScope;

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
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: NewTemplate = parse(&body, "")?;
    check_name(&req.name)?;
    checked(&req.template, "template")?;
    let note = AuditNote::object(format!("label-templates/{}", req.name));
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |r: &LabelTemplateRecord| note.after(r)
    });
    let record = app
        .store
        .put_label_template(
            LabelTemplateWrite {
                name: req.name,
                definition: req.template,
                actor: actor.name(),
                now: app.clock.now(),
                replaces: None,
            },
            Some(audit),
        )
        .await?;
    Ok(note
        .after(&record)
        .recorded()
        .on(record_response(StatusCode::CREATED, &record)))
}

/// `PUT /api/v1/label-templates/{name}` — the template; `If-Match` names the version replaced.
pub async fn replace(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let version = if_match(&headers)?;
    let definition: serde_json::Value = parse(&body, "")?;
    checked(&definition, "template")?;
    let before = app.store.label_template(&name).await?;
    let note = AuditNote::object(format!("label-templates/{name}")).before(before);
    let audit = pending.record_of(&app, StatusCode::OK, {
        let note = note.clone();
        move |r: &LabelTemplateRecord| note.after(r)
    });
    let record = app
        .store
        .put_label_template(
            LabelTemplateWrite {
                name,
                definition,
                actor: actor.name(),
                now: app.clock.now(),
                replaces: Some(version),
            },
            Some(audit),
        )
        .await?;
    Ok(note
        .after(&record)
        .recorded()
        .on(record_response(StatusCode::OK, &record)))
}

/// `DELETE /api/v1/label-templates/{name}`
pub async fn delete(
    State(app): State<AppState>,
    pending: Pending,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let before = app.store.label_template(&name).await?;
    let note = AuditNote::object(format!("label-templates/{name}")).before(before);
    let audit = pending.record_of(&app, StatusCode::NO_CONTENT, {
        let note = note.clone();
        move |(): &()| note
    });
    app.store.delete_label_template(&name, Some(audit)).await?;
    Ok(note.recorded().on(StatusCode::NO_CONTENT.into_response()))
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

pub(crate) fn preview_data(
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

/// A template being edited, drawn as SVG with the given values: the admin page's preview.
pub(crate) fn preview_svg(
    definition: &serde_json::Value,
    values: &std::collections::BTreeMap<String, String>,
) -> Result<String, AppError> {
    let label = checked(definition, "template")?
        .label(&preview_data(values)?)
        .map_err(|e| AppError::Rule(vec![e.within("template")]))?;
    Ok(threadline_labels::svg::render(&label))
}

fn download(
    content_type: &'static str,
    file: Option<&str>,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut resp = (StatusCode::OK, body.into()).into_response();
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
    pub template: String,
    /// `pdf` (default for downloads) or `zpl`.
    #[serde(default)]
    pub format: Option<String>,
    /// PDF page layout: `roll` (one label per page, the default) or `a4`.
    #[serde(default)]
    pub layout: Option<String>,
    /// The labels of an allocation block: the allocation event's id.
    #[serde(default)]
    pub allocation: Option<uuid::Uuid>,
    /// The labels of a commissioning batch: the commissioning event's id.
    #[serde(default)]
    pub commissioning: Option<uuid::Uuid>,
    /// The label of a lot, `copies` times.
    #[serde(default)]
    pub lot: Option<LotKey>,
    #[serde(default)]
    pub copies: Option<u32>,
    /// A reprint of one serial's label, recorded as an event.
    #[serde(default)]
    pub reprint: Option<ItemKey>,
    /// `host:port` of a ZPL printer, for `…/print`.
    #[serde(default)]
    pub printer: Option<String>,
}

/// Product and lot data of a job, each read once however many labels name it.
#[derive(Default)]
struct Shared {
    products: HashMap<String, LabelData>,
    lots: HashMap<(String, String), LabelData>,
}

impl Shared {
    /// Sets the product's values (name, GTIN) on `data`.
    async fn product(
        &mut self,
        store: &dyn Store,
        code: &str,
        data: &mut LabelData,
    ) -> Result<(), AppError> {
        if !self.products.contains_key(code) {
            let product = store
                .product(code)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("product {code} does not exist")))?;
            let mut d = LabelData::new();
            d.set("product", code.to_owned());
            d.set("product_name", product.def.name.clone());
            if let Some(g) = &product.def.gtin {
                d.set("gtin", g.as_str().to_owned());
            }
            self.products.insert(code.to_owned(), d);
        }
        if let Some(d) = self.products.get(code) {
            data.merge(d);
        }
        Ok(())
    }

    /// Sets the lot's values (its code and dates) on `data`.
    async fn lot(
        &mut self,
        store: &dyn Store,
        product: &str,
        lot: &str,
        data: &mut LabelData,
    ) -> Result<(), AppError> {
        let k = (product.to_owned(), lot.to_owned());
        if !self.lots.contains_key(&k) {
            let mut d = LabelData::new();
            d.set("lot", lot.to_owned());
            let key: LotKey = serde_json::from_value(json!({"product": product, "lot": lot}))
                .map_err(|e| AppError::Internal(format!("lot key: {e}")))?;
            if let Some(view) = store.lot(&key).await? {
                if let Some(date) = view.expiry_date {
                    d.set_date("expiry", date);
                }
                if let Some(date) = view.production_date {
                    d.set_date("production_date", date);
                }
            }
            self.lots.insert(k.clone(), d);
        }
        if let Some(d) = self.lots.get(&k) {
            data.merge(d);
        }
        Ok(())
    }
}

/// One unit of a job: its key, its label's values and whether a label of it was printed.
struct JobUnit {
    key: ItemKey,
    data: LabelData,
    status: ItemStatus,
    labelled: bool,
}

/// The units of `keys` with their label data, read in one batch. A key with no unit is
/// refused by name; units in a final state (voided, scrapped, consumed) are left out — no label
/// is printed for them — unless `refuse_final`, which refuses them.
async fn job_units(
    store: &dyn Store,
    keys: &[ItemKey],
    refuse_final: bool,
) -> Result<Vec<JobUnit>, AppError> {
    let read = store.label_units(keys).await?;
    let mut shared = Shared::default();
    let mut out = Vec::with_capacity(keys.len());
    for (key, unit) in keys.iter().zip(read) {
        let unit = unit.ok_or_else(|| {
            AppError::NotFound(format!(
                "serial {} of {} does not exist",
                key.serial, key.product
            ))
        })?;
        if unit.status.is_final() {
            if refuse_final {
                return Err(AppError::Rule(vec![
                    FieldError::new(
                        "final_state",
                        format!(
                            "serial {} of {} is {}: no label is printed for it",
                            key.serial,
                            key.product,
                            unit.status.as_str()
                        ),
                    )
                    .at("reprint"),
                ]));
            }
            continue;
        }
        let mut data = LabelData::new();
        data.set("serial", key.serial.to_string());
        for (k, v) in &unit.attributes {
            data.set_attribute(
                k,
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            );
        }
        if let Some(lot) = &unit.lot {
            shared
                .lot(store, key.product.as_str(), lot, &mut data)
                .await?;
        }
        shared
            .product(store, key.product.as_str(), &mut data)
            .await?;
        out.push(JobUnit {
            key: key.clone(),
            data,
            status: unit.status,
            labelled: unit.labelled,
        });
    }
    Ok(out)
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

/// The event that records a reprint of `keys` (see the module docs).
fn reprint_event(
    actor: &Actor,
    keys: &[ItemKey],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Event, AppError> {
    let job = uuid::Uuid::now_v7();
    encoding_event(
        actor,
        json!({
            "type": "object", "action": "OBSERVE", "event_time": now.to_rfc3339(), "biz_step": "encoding",
            "items": keys,
            "biz_transactions": [{"type": REPRINT_TRANSACTION, "id": format!("REPRINT-{job}")}],
            "read_point": actor.site,
        }),
        job,
        now,
        "reprint",
    )
}

/// What a job prints labels of.
enum Source {
    /// The units of an allocation block or a commissioning batch: the event's id, and the
    /// field of the request that named it.
    Block(uuid::Uuid, &'static str),
    Lot(LotKey),
    Reprint(ItemKey),
}

fn source(req: &JobRequest) -> Result<Source, AppError> {
    let mut named = Vec::new();
    if let Some(id) = req.allocation {
        named.push(Source::Block(id, "allocation"));
    }
    if let Some(id) = req.commissioning {
        named.push(Source::Block(id, "commissioning"));
    }
    if let Some(lot) = &req.lot {
        named.push(Source::Lot(lot.clone()));
    }
    if let Some(key) = &req.reprint {
        named.push(Source::Reprint(key.clone()));
    }
    match (named.pop(), named.is_empty()) {
        (Some(s), true) => Ok(s),
        _ => Err(AppError::malformed(
            "invalid_job",
            "name exactly one of `allocation`, `commissioning`, `lot` or `reprint`",
            Some("allocation".into()),
        )),
    }
}

/// The units of the event a block job names: an allocation's serials, or the units a
/// commissioning event made. For an account of one site (`site`), an event that happened
/// elsewhere does not exist.
async fn block_keys(
    store: &dyn Store,
    site: Option<&SiteScope>,
    id: uuid::Uuid,
    field: &'static str,
) -> Result<Vec<ItemKey>, AppError> {
    let event = store
        .event(id)
        .await?
        .map(|e| e.event)
        .filter(|e| site.is_none_or(|s| s.happened_here(e)))
        .ok_or_else(|| AppError::NotFound(format!("event {id} does not exist")))?;
    let fits = if field == "allocation" {
        event.allocation.is_some()
    } else {
        event.biz_step.as_ref().map(|b| b.as_str()) == Some("commissioning")
            && event.action == Some(threadline_domain::event::Action::Add)
    };
    if !fits {
        let (code, what) = if field == "allocation" {
            ("not_an_allocation", "a serial allocation")
        } else {
            (
                "not_a_commissioning",
                "a commissioning (object ADD, commissioning)",
            )
        };
        return Err(AppError::Rule(vec![
            FieldError::new(code, format!("event {id} is not {what}")).at(field),
        ]));
    }
    if event.items.len() > MAX_JOB_LABELS {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "too_many_labels",
                format!("a job prints at most {MAX_JOB_LABELS} labels"),
            )
            .at(field),
        ]));
    }
    Ok(event.items)
}

/// Resolves a job into its labels and records it: a reprint, or the printing of a block's
/// labels, is in the ledger before anything is produced — and only once every label is known
/// to render, so a job that fails records nothing. What it records keeps the audit record of
/// `pending` (answered `status`) with it; the note says so (`None` when nothing was recorded:
/// a lot's labels).
async fn job_labels(
    app: &AppState,
    actor: &Actor,
    pending: &Pending,
    status: StatusCode,
    req: &JobRequest,
) -> Result<(Vec<Label>, Option<AuditNote>), AppError> {
    let compiled = checked(
        &stored(&*app.store, &req.template).await?.definition,
        "template",
    )?;
    let source = source(req)?;
    let mut site = SiteScope::of(&*app.store, actor).await?;
    let (data, record): (Vec<LabelData>, Vec<Event>) = match source {
        Source::Block(id, field) => {
            let keys = block_keys(&*app.store, site.as_ref(), id, field).await?;
            let units = job_units(&*app.store, &keys, false).await?;
            let now = app.clock.now();
            let record = block_print_events(actor, &units, id, field, now)?;
            (units.into_iter().map(|u| u.data).collect(), record)
        }
        Source::Lot(lot) => {
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
            if app.store.lot(&lot).await?.is_none() {
                return Err(AppError::NotFound(format!(
                    "lot {} of {} does not exist",
                    lot.lot, lot.product
                )));
            }
            if let Some(s) = site.as_mut() {
                s.require_lot(&*app.store, &lot).await?;
            }
            let mut shared = Shared::default();
            let mut d = LabelData::new();
            shared
                .lot(&*app.store, lot.product.as_str(), lot.lot.as_str(), &mut d)
                .await?;
            shared
                .product(&*app.store, lot.product.as_str(), &mut d)
                .await?;
            (vec![d; copies], Vec::new())
        }
        Source::Reprint(key) => {
            if let Some(s) = site.as_mut() {
                s.require(&*app.store, &key).await?;
            }
            let units = job_units(&*app.store, std::slice::from_ref(&key), true).await?;
            let record = vec![reprint_event(actor, &[key], app.clock.now())?];
            (units.into_iter().map(|u| u.data).collect(), record)
        }
    };
    let labels = data
        .iter()
        .enumerate()
        .map(|(i, d)| {
            compiled.label(d).map_err(|e| {
                let serial = d.get("serial").unwrap_or("");
                let at = format!("template.{}", e.field.unwrap_or_default());
                let message = if data.len() == 1 {
                    e.message
                } else {
                    format!("label {} ({serial}): {}", i + 1, e.message)
                };
                AppError::Rule(vec![FieldError::new(e.code, message).at(at)])
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if record.is_empty() {
        return Ok((labels, None));
    }
    let note = AuditNote::object("label-jobs");
    let audit = pending.record_of(app, status, {
        let note = note.clone();
        move |r: &Vec<threadline_store::Receipt>| note.after(crate::api::receipts_summary(r, false))
    });
    let outcome = app.store.capture_audited(record, None, Some(audit)).await?;
    let note = note.after(crate::api::receipts_summary(outcome.receipts(), false));
    Ok((labels, Some(note.recorded())))
}

/// The events that account for a block's labels: units never labelled get their first label
/// (pool serials become `printed`; units already made are observed being encoded), and units
/// labelled before are reprinted — every label in circulation is accounted for.
fn block_print_events(
    actor: &Actor,
    units: &[JobUnit],
    id: uuid::Uuid,
    field: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Event>, AppError> {
    let (mut pool, mut made, mut again) = (Vec::new(), Vec::new(), Vec::new());
    for u in units {
        match (u.labelled, u.status) {
            (true, _) => again.push(u.key.clone()),
            (false, ItemStatus::Unassigned) => pool.push(u.key.clone()),
            (false, _) => made.push(u.key.clone()),
        }
    }
    let mut events = Vec::new();
    for (keys, disposition) in [
        (pool, Some(threadline_domain::event::PRINTED_DISPOSITION)),
        (made, None),
    ] {
        if keys.is_empty() {
            continue;
        }
        let mut body = json!({
            "type": "object", "action": "OBSERVE", "event_time": now.to_rfc3339(), "biz_step": "encoding",
            "items": keys,
            "fields": {field: id.to_string()},
            "read_point": actor.site,
        });
        if let Some(d) = disposition {
            body["disposition"] = json!(d);
        }
        events.push(encoding_event(
            actor,
            body,
            uuid::Uuid::now_v7(),
            now,
            "print",
        )?);
    }
    if !again.is_empty() {
        events.push(reprint_event(actor, &again, now)?);
    }
    Ok(events)
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

/// Writes `labels` as a PDF in `layout`, or as ZPL, each label dropped once it is written.
fn write_labels(
    out: &mut dyn std::io::Write,
    pdf: Option<PdfLayout>,
    labels: Vec<Label>,
) -> std::io::Result<()> {
    match pdf {
        Some(layout) => {
            let mut pdf = threadline_labels::PdfLabels::new(out, layout)?;
            for label in labels {
                pdf.add(&label)?;
            }
            pdf.finish().map(|_| ())
        }
        None => {
            for label in labels {
                out.write_all(threadline_labels::zpl::render(&label).as_bytes())?;
            }
            Ok(())
        }
    }
}

/// `POST /api/v1/label-jobs` — the labels as a PDF or ZPL download.
pub async fn download_job(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
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
    let (labels, note) = job_labels(&app, &actor, &pending, StatusCode::OK, &req).await?;
    let count = labels.len();
    let (content_type, file, pdf) = if format == "pdf" {
        ("application/pdf", "labels.pdf", Some(layout))
    } else {
        ("application/zpl", "labels.zpl", None)
    };
    // Streamed as it is drawn: a PDF of thousands of pages is never whole in memory.
    let body = crate::export::written_body("labels", move |out| write_labels(out, pdf, labels));
    let mut resp = download(content_type, Some(file), body);
    resp.headers_mut()
        .insert("x-label-count", HeaderValue::from(count));
    Ok(match note {
        Some(n) => n.on(resp),
        None => resp,
    })
}

/// `POST /api/v1/label-jobs/print` — the labels as ZPL, sent to `printer` (`host:port`) over
/// raw TCP.
pub async fn print_job(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
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
    let unreachable = |e: String| {
        AppError::Rule(vec![
            FieldError::new("printer_unreachable", format!("printer {printer}: {e}")).at("printer"),
        ])
    };
    // The printer is reached first: a job for a printer that is not there records nothing.
    let mut stream =
        tokio::time::timeout(PRINTER_TIMEOUT, tokio::net::TcpStream::connect(&printer))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
    let (labels, note) = job_labels(&app, &actor, &pending, StatusCode::OK, &req).await?;
    let count = labels.len();
    let bytes = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        write_labels(&mut bytes, None, labels).map(|()| bytes)
    })
    .await
    .map_err(|e| AppError::Internal(format!("rendering: {e}")))?
    .map_err(|e| AppError::Internal(format!("zpl: {e}")))?;
    let send = async {
        stream.write_all(&bytes).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(PRINTER_TIMEOUT, send)
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    tracing::info!(printer = %printer, labels = count, actor = %actor.name(), "labels sent to printer");
    let resp =
        Json(json!({ "printer": printer, "labels": count, "bytes": bytes.len() })).into_response();
    Ok(match note {
        Some(n) => n.on(resp),
        None => resp,
    })
}
