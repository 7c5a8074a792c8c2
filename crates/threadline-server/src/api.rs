//! `/api/v1`: JSON over HTTP. Handlers parse, call the store, and render; rules live in the
//! domain and the store. Every handler here runs behind [`crate::auth::guard`], which has
//! already checked the route's permission; those that record something take the [`Actor`]
//! to name it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use threadline_domain::access::required_for;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::event::{CaptureContext, Event, EventKind, EventRequest};
use threadline_domain::mask::masked;
use threadline_domain::master::{Location, MasterRecord, Party, Product};
use threadline_domain::projection::ItemStatus;
use threadline_domain::{LotCode, ProductCode, Serial};
use threadline_store::{
    CaptureOutcome, EventQuery, IdempotencyKey, ItemRow, ListQuery, LotView, MasterWrite, Receipt,
    StateQuery, StoredEvent, Versioned,
};
use uuid::Uuid;

use crate::AppState;
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;
use crate::body::{first_byte, parse, require_json};
use crate::error::AppError;
use crate::export::{self, Cell, Format};
use crate::partner::Partner;

pub(crate) fn idempotency(
    headers: &HeaderMap,
    scope: &str,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(key) = idempotency_key(headers)? else {
        return Ok(None);
    };
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(body);
    Ok(Some(IdempotencyKey {
        key,
        request_hash: h.finalize().into(),
    }))
}

/// [`idempotency`] for a body hashed as it was read: `request_hash` is SHA-256 of the scope,
/// a zero byte and the body.
pub(crate) fn idempotency_of(
    headers: &HeaderMap,
    request_hash: [u8; 32],
) -> Result<Option<IdempotencyKey>, AppError> {
    Ok(idempotency_key(headers)?.map(|key| IdempotencyKey { key, request_hash }))
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            AppError::malformed(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1–255 visible ASCII characters",
                Some("Idempotency-Key".into()),
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// `POST /api/v1/events`. The actor must hold, for every event, the permissions
/// [`required_for`] names; otherwise the whole request is refused with 403 naming each event.
pub async fn capture_events(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let batch = first_byte(&body) == Some(b'[');
    let requests: Vec<EventRequest> = if batch {
        parse(&body, "events")?
    } else {
        vec![parse(&body, "")?]
    };
    if requests.is_empty() {
        return Err(AppError::malformed(
            "empty_batch",
            "the batch holds no events",
            Some("events".into()),
        ));
    }
    if requests.len() > app.limits.max_batch {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "batch_too_large",
                format!(
                    "a batch holds at most {} events; this one holds {}",
                    app.limits.max_batch,
                    requests.len()
                ),
            )
            .at("events"),
        ]));
    }
    let ctx = CaptureContext {
        actor: actor.name(),
        now: app.clock.now(),
    };
    let within = |i: usize, e: FieldError| {
        if batch {
            e.within(&format!("events[{i}]"))
        } else {
            e
        }
    };
    permitted(&actor, &requests, batch)?;
    crate::site::SiteCheck::new(&*app.store, &actor)
        .check_all(&requests, batch)
        .await?;
    let mut events = Vec::with_capacity(requests.len());
    let mut violations = Vec::new();
    for (i, req) in requests.into_iter().enumerate() {
        match Event::from_request(req, &ctx, Uuid::now_v7()) {
            Ok(e) => events.push(e),
            Err(v) => violations.extend(v.into_iter().map(|e| within(i, e))),
        }
    }
    if !violations.is_empty() {
        return Err(AppError::Rule(violations));
    }
    let key = idempotency(&headers, "POST /api/v1/events", &body)?;
    let note = capture_note(&events);
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |r: &Vec<Receipt>| note.after(receipts_summary(r, false))
    });
    let outcome = app.store.capture_audited(events, key, Some(audit)).await?;
    let replayed = matches!(outcome, CaptureOutcome::Replayed(_));
    let mut resp = (
        StatusCode::CREATED,
        Json(json!({ "events": outcome.receipts() })),
    )
        .into_response();
    if replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(recorded_unless_replayed(
        note.after(receipts_summary(outcome.receipts(), replayed)),
        &outcome,
    )
    .on(resp))
}

/// A capture recorded its audit record with its events; a replay recorded nothing, and the
/// guard records the request after it.
pub(crate) fn recorded_unless_replayed(note: AuditNote, outcome: &CaptureOutcome) -> AuditNote {
    match outcome {
        CaptureOutcome::Recorded(_) => note.recorded(),
        CaptureOutcome::Replayed(_) => note,
    }
}

/// The receipts of a capture, for the audit trail: the ledger range, and the event ids of a
/// batch of at most 100 (the ledger holds the rest).
pub(crate) fn receipts_summary(r: &[Receipt], replayed: bool) -> serde_json::Value {
    let mut v = json!({
        "count": r.len(),
        "first_seq": r.first().map(|r| r.seq),
        "last_seq": r.last().map(|r| r.seq),
        "replayed": replayed,
    });
    if r.len() <= 100 {
        v["ids"] = json!(r.iter().map(|r| r.id).collect::<Vec<_>>());
    }
    v
}

/// What the audit trail says about a capture: the event (or `events` for a batch) and the
/// reasons of any corrections.
pub(crate) fn capture_note(events: &[Event]) -> AuditNote {
    let object = match events {
        [one] => format!("events/{}", one.id),
        _ => "events".to_owned(),
    };
    let reasons: Vec<&str> = events
        .iter()
        .filter_map(|e| e.corrects.as_ref().map(|c| c.reason.as_str()))
        .collect();
    AuditNote::object(object).reason((!reasons.is_empty()).then(|| reasons.join("; ")))
}

/// Refuses the whole request with 403, naming each event the actor may not record (see
/// [`required_for`]).
pub(crate) fn permitted(
    actor: &Actor,
    requests: &[EventRequest],
    batch: bool,
) -> Result<(), AppError> {
    let refusals: Vec<FieldError> = requests
        .iter()
        .enumerate()
        .filter_map(|(i, req)| {
            let missing = actor.permissions.missing(required_for(req));
            let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
            (!missing.is_empty()).then(|| {
                let e = FieldError::new(
                    "forbidden",
                    format!(
                        "recording this event needs the permission {}, which {} lacks",
                        names.join(", "),
                        actor.name()
                    ),
                );
                if batch {
                    e.within(&format!("events[{i}]"))
                } else {
                    e
                }
            })
        })
        .collect();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(AppError::Forbidden(refusals))
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    product: Option<String>,
    serial: Option<String>,
    lot: Option<String>,
    #[serde(rename = "type")]
    kind: Option<EventKind>,
    biz_step: Option<String>,
    biz_location: Option<String>,
    transaction_type: Option<String>,
    transaction_id: Option<String>,
    from: Option<chrono::DateTime<chrono::FixedOffset>>,
    to: Option<chrono::DateTime<chrono::FixedOffset>>,
    after: Option<i64>,
    limit: Option<u32>,
    /// `json` (default), or `csv` / `xlsx`: every matching event from `after` on, streamed.
    format: Option<String>,
}

fn field_err(e: FieldError, field: &str) -> AppError {
    AppError::Malformed(vec![e.at(field)])
}

/// A report's time window in UTC: `to` defaults to `now`, `from` to 30 days before `to`;
/// `from` must come first (400 naming `from`).
pub(crate) fn recent_window(
    from: Option<chrono::DateTime<chrono::FixedOffset>>,
    to: Option<chrono::DateTime<chrono::FixedOffset>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), AppError> {
    let to = to.map(|t| t.with_timezone(&chrono::Utc)).unwrap_or(now);
    let from = from
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(to - chrono::Duration::days(30));
    if from >= to {
        return Err(AppError::malformed(
            "invalid_window",
            "`from` must be before `to`",
            Some("from".into()),
        ));
    }
    Ok((from, to))
}

fn limit(l: Option<u32>) -> Result<u32, AppError> {
    match l {
        None => Ok(100),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(AppError::malformed(
            "invalid_limit",
            format!("limit must be between 1 and 1000, got {n}"),
            Some("limit".into()),
        )),
    }
}

pub async fn list_events(
    State(app): State<AppState>,
    actor: Actor,
    query: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(f) = query.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let product = f
        .product
        .as_deref()
        .map(|p| ProductCode::parse(p).map_err(|e| field_err(e, "product")))
        .transpose()?;
    let need_product = || {
        AppError::malformed(
            "missing_field",
            "give `product` with `serial` or `lot`",
            Some("product".into()),
        )
    };
    let item = match &f.serial {
        Some(s) => Some(ItemKey {
            product: product.clone().ok_or_else(need_product)?,
            serial: Serial::parse(s).map_err(|e| field_err(e, "serial"))?,
        }),
        None => None,
    };
    let lot = match &f.lot {
        Some(l) => Some(LotKey {
            product: product.clone().ok_or_else(need_product)?,
            lot: LotCode::parse(l).map_err(|e| field_err(e, "lot"))?,
        }),
        None => None,
    };
    let biz_transaction = match (f.transaction_type, f.transaction_id) {
        (Some(t), Some(id)) => Some((t, id)),
        (None, None) => None,
        _ => {
            return Err(AppError::malformed(
                "missing_field",
                "give both transaction_type and transaction_id",
                Some("transaction_id".into()),
            ));
        }
    };
    let q = EventQuery {
        item,
        lot,
        kind: f.kind,
        biz_step: f.biz_step,
        biz_location: f.biz_location,
        biz_transaction,
        from: f.from.map(|t| t.with_timezone(&chrono::Utc)),
        to: f.to.map(|t| t.with_timezone(&chrono::Utc)),
        after_seq: f.after,
        limit: limit(f.limit)?,
        ..EventQuery::default()
    };
    // A partner lists the history of one unit shipped to it, and of each event only that unit
    // (an event may name many others).
    let mut only = match Partner::of(&*app.store, &actor).await? {
        None => None,
        Some(mut p) => {
            let Some(key) = &q.item else {
                return Err(AppError::NotFound(
                    "a partner account lists the events of one unit shipped to it: give product and serial".into(),
                ));
            };
            p.require(&*app.store, key).await?;
            Some(key.clone())
        }
    };
    // An account of one site lists the history of a unit that was there, of each event only
    // that unit, as a partner does; and otherwise the events that happened there (a page may
    // then hold fewer than `limit`).
    let mut here = None;
    if let Some(mut site) = crate::site::SiteScope::of(&*app.store, &actor).await? {
        match &q.item {
            Some(key) => {
                site.require(&*app.store, key).await?;
                only = Some(key.clone());
            }
            None => here = Some(site),
        }
    }
    let scoped = move |mut page: threadline_store::Page<StoredEvent>| {
        if let Some(key) = &only {
            for e in &mut page.items {
                Partner::only(&mut e.event, key);
            }
        }
        if let Some(site) = &here {
            page.items.retain(|e| site.happened_here(&e.event));
        }
        page
    };
    match Format::parse(f.format.as_deref())? {
        Format::Json => Ok(Json(actor.masked(scoped(app.store.events(&q).await?))).into_response()),
        format => {
            let store = app.store.clone();
            let seen = actor.visibility();
            Ok(export::pages(
                format,
                "events",
                EVENT_COLUMNS,
                q.after_seq,
                move |after| {
                    let store = store.clone();
                    let scoped = scoped.clone();
                    let q = EventQuery {
                        after_seq: after,
                        limit: EXPORT_PAGE,
                        ..q.clone()
                    };
                    async move { Ok(masked(scoped(store.events(&q).await?), seen)) }
                },
                event_cells,
            ))
        }
    }
}

/// Rows read per query while a list streams as a spreadsheet.
const EXPORT_PAGE: u32 = 1000;

const EVENT_COLUMNS: &[&str] = &[
    "seq",
    "id",
    "event_time",
    "local_time",
    "record_time",
    "type",
    "action",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "units",
    "lots",
    "parent",
    "transactions",
    "actor",
];

fn text(s: impl ToString) -> Cell {
    Cell::Text(s.to_string())
}

fn opt<T: ToString>(v: Option<T>) -> Cell {
    Cell::Text(v.map(|v| v.to_string()).unwrap_or_default())
}

fn event_cells(e: &StoredEvent) -> Vec<Vec<Cell>> {
    let ev = &e.event;
    let units: Vec<String> = ev
        .items
        .iter()
        .chain(&ev.children)
        .chain(&ev.inputs)
        .chain(&ev.outputs)
        .map(|k| format!("{}/{}", k.product, k.serial))
        .collect();
    let lots: Vec<String> = ev
        .lots
        .iter()
        .chain(&ev.child_lots)
        .chain(&ev.input_lots)
        .chain(&ev.output_lots)
        .map(|l| match l.quantity {
            Some(q) => format!("{}/{} {q}", l.product, l.lot),
            None => format!("{}/{}", l.product, l.lot),
        })
        .collect();
    let transactions: Vec<String> = ev
        .biz_transactions
        .iter()
        .map(|t| format!("{}:{}", t.kind.as_str(), t.id.as_str()))
        .collect();
    vec![vec![
        Cell::Number(e.seq as f64),
        text(ev.id),
        Cell::Time(ev.event_time),
        Cell::LocalTime(ev.local_event_time()),
        Cell::Time(ev.record_time),
        text(ev.kind.as_str()),
        opt(ev.action.map(|a| a.as_str())),
        opt(ev.biz_step.as_ref().map(|b| b.as_str())),
        opt(ev.disposition.as_ref().map(|d| d.as_str())),
        opt(ev.read_point.as_ref()),
        opt(ev.biz_location.as_ref()),
        text(units.join(" ")),
        text(lots.join(" ")),
        opt(ev
            .parent
            .as_ref()
            .map(|k| format!("{}/{}", k.product, k.serial))),
        text(transactions.join(" ")),
        text(&ev.actor),
    ]]
}

fn holds_text(h: &[threadline_domain::event::HoldKind]) -> Cell {
    text(h.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(" "))
}

/// `after` as a list position.
fn position(after: Option<String>) -> Result<Option<i64>, AppError> {
    after
        .map(|a| {
            a.parse::<i64>().map_err(|_| {
                AppError::malformed(
                    "invalid_value",
                    format!("`{a}` is not a list position (pass back `next`)"),
                    Some("after".into()),
                )
            })
        })
        .transpose()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Units of this product.
    product: Option<String>,
    /// Units in this status: unassigned, in_production, in_stock, in_transit, sold, in_repair,
    /// returned, consumed, scrapped, voided.
    status: Option<String>,
    /// Units at this location.
    location: Option<String>,
    /// `next` of the previous page.
    after: Option<String>,
    limit: Option<u32>,
    /// `json` (default), or `csv` / `xlsx`: every matching unit from `after` on, streamed.
    format: Option<String>,
}

const ITEM_COLUMNS: &[&str] = &[
    "product",
    "serial",
    "status",
    "holds",
    "location",
    "custodian",
    "lot",
    "parent",
];

fn item_cells(i: &ItemRow) -> Vec<Vec<Cell>> {
    vec![vec![
        text(&i.product),
        text(&i.serial),
        text(i.status.as_str()),
        holds_text(&i.holds),
        opt(i.location.as_ref()),
        opt(i.custodian.as_ref()),
        opt(i.lot.as_ref()),
        opt(i
            .parent
            .as_ref()
            .map(|k| format!("{}/{}", k.product, k.serial))),
    ]]
}

/// `GET /api/v1/items?product=…&status=…&location=…[&format=csv|xlsx]`: units by their state
/// (for an account of one site, those at its places now).
pub async fn list_items(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<ItemParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let format = Format::parse(p.format.as_deref())?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            ItemStatus::parse(s).ok_or_else(|| {
                AppError::malformed(
                    "invalid_value",
                    format!(
                        "`{s}` is not a unit status ({})",
                        ItemStatus::ALL.map(|s| s.as_str()).join(", ")
                    ),
                    Some("status".into()),
                )
            })
        })
        .transpose()?;
    let q = StateQuery {
        product: p.product,
        status,
        location: p.location,
        places: crate::site::SiteScope::of(&*app.store, &actor)
            .await?
            .map(|s| s.places()),
        after: position(p.after)?,
        limit: limit(p.limit)?,
    };
    if format == Format::Json {
        return Ok(Json(app.store.item_list(&q).await?).into_response());
    }
    let store = app.store.clone();
    Ok(export::pages(
        format,
        "items",
        ITEM_COLUMNS,
        q.after,
        move |after| {
            let store = store.clone();
            let q = StateQuery {
                after,
                limit: EXPORT_PAGE,
                ..q.clone()
            };
            async move { Ok(store.item_list(&q).await?) }
        },
        item_cells,
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LotParams {
    /// Lots of this product.
    product: Option<String>,
    /// Lots with stock at this location.
    location: Option<String>,
    /// `next` of the previous page.
    after: Option<String>,
    limit: Option<u32>,
    /// `json` (default), or `csv` / `xlsx`: one row per lot and location, streamed.
    format: Option<String>,
}

const LOT_COLUMNS: &[&str] = &[
    "product",
    "lot",
    "production_date",
    "expiry_date",
    "holds",
    "location",
    "quantity",
];

/// One row per stock line (a lot without stock: one row without a location).
fn lot_cells(l: &LotView) -> Vec<Vec<Cell>> {
    let head = || {
        vec![
            text(&l.product),
            text(&l.lot),
            Cell::date(l.production_date),
            Cell::date(l.expiry_date),
            holds_text(&l.holds),
        ]
    };
    if l.stock.is_empty() {
        let mut row = head();
        row.extend([text(""), text("")]);
        return vec![row];
    }
    l.stock
        .iter()
        .map(|s| {
            let mut row = head();
            row.push(text(&s.location));
            row.push(Cell::Number(s.quantity.millis() as f64 / 1000.0));
            row
        })
        .collect()
}

/// `GET /api/v1/lots?product=…&location=…[&format=csv|xlsx]`: lots with their stock (for an
/// account of one site, those with stock at its places, and only that stock).
pub async fn list_lots(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<LotParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let format = Format::parse(p.format.as_deref())?;
    let site = crate::site::SiteScope::of(&*app.store, &actor).await?;
    let q = StateQuery {
        product: p.product,
        status: None,
        location: p.location,
        places: site.as_ref().map(crate::site::SiteScope::places),
        after: position(p.after)?,
        limit: limit(p.limit)?,
    };
    let here = move |mut page: threadline_store::Page<LotView>| {
        if let Some(s) = &site {
            for l in &mut page.items {
                s.trim_stock(l);
            }
        }
        page
    };
    if format == Format::Json {
        return Ok(Json(here(app.store.lot_list(&q).await?)).into_response());
    }
    let store = app.store.clone();
    Ok(export::pages(
        format,
        "lots",
        LOT_COLUMNS,
        q.after,
        move |after| {
            let store = store.clone();
            let here = here.clone();
            let q = StateQuery {
                after,
                limit: EXPORT_PAGE,
                ..q.clone()
            };
            async move { Ok(here(store.lot_list(&q).await?)) }
        },
        lot_cells,
    ))
}

pub async fn get_event(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = Uuid::parse_str(&id).map_err(|_| {
        AppError::malformed(
            "invalid_id",
            format!("`{id}` is not an event id (UUID)"),
            Some("id".into()),
        )
    })?;
    let site = crate::site::SiteScope::of(&*app.store, &actor).await?;
    match app.store.event(id).await? {
        // An account of one site reads the events that happened there.
        Some(e) if site.as_ref().is_none_or(|s| s.happened_here(&e.event)) => {
            let mut e = e;
            // A partner's EPCIS event is recorded despite what the state disagreed with; the
            // disagreements are read with it.
            if e.event.epcis_capture {
                e.discrepancies = app
                    .store
                    .discrepancies(&[id])
                    .await?
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect();
            }
            Ok(Json(actor.masked(e)).into_response())
        }
        _ => Err(AppError::NotFound(format!("event {id} does not exist"))),
    }
}

fn parse_item_key(product: &str, serial: &str) -> Result<ItemKey, AppError> {
    Ok(ItemKey {
        product: ProductCode::parse(product).map_err(|e| field_err(e, "product"))?,
        serial: Serial::parse(serial).map_err(|e| field_err(e, "serial"))?,
    })
}

pub async fn get_item(
    State(app): State<AppState>,
    actor: Actor,
    Path((product, serial)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let key = parse_item_key(&product, &serial)?;
    if let Some(mut p) = Partner::of(&*app.store, &actor).await? {
        p.require(&*app.store, &key).await?;
    }
    if let Some(mut s) = crate::site::SiteScope::of(&*app.store, &actor).await? {
        s.require(&*app.store, &key).await?;
    }
    match app.store.item(&key).await? {
        Some(i) => Ok(Json(actor.masked(i)).into_response()),
        None => Err(AppError::NotFound(format!(
            "serial {serial} of product {product} is not registered"
        ))),
    }
}

/// `GET /api/v1/lots/{product}/{lot}` (for an account of one site: a lot that was there, with
/// its stock there).
pub async fn get_lot(
    State(app): State<AppState>,
    actor: Actor,
    Path((product, lot)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let key = LotKey {
        product: ProductCode::parse(&product).map_err(|e| field_err(e, "product"))?,
        lot: LotCode::parse(&lot).map_err(|e| field_err(e, "lot"))?,
    };
    let mut site = crate::site::SiteScope::of(&*app.store, &actor).await?;
    if let Some(s) = site.as_mut() {
        s.require_lot(&*app.store, &key).await?;
    }
    match app.store.lot(&key).await? {
        Some(mut l) => {
            if let Some(s) = &site {
                s.trim_stock(&mut l);
            }
            Ok(Json(l).into_response())
        }
        None => Err(AppError::NotFound(format!(
            "lot {lot} of product {product} is not registered"
        ))),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    q: Option<String>,
    kind: Option<String>,
    tracking: Option<String>,
    parent: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
    /// `csv` or `xlsx`: every matching record (not one page), with the import template's
    /// columns, streamed.
    format: Option<String>,
}

fn list_query(p: ListParams) -> Result<ListQuery, AppError> {
    Ok(ListQuery {
        search: p.q,
        kind: p.kind.or(p.tracking),
        parent: p.parent,
        after: p.after,
        limit: limit(p.limit)?,
    })
}

pub(crate) fn versioned_response<T: serde::Serialize>(
    status: StatusCode,
    v: &Versioned<T>,
) -> Response {
    with_etag(status, v, v.version)
}

/// `body` as JSON with `ETag: "<version>"`, the version a later change names in `If-Match`.
pub(crate) fn with_etag(status: StatusCode, body: impl serde::Serialize, version: u32) -> Response {
    let mut resp = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

/// `If-Match: "3"` — the version a change replaces.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<u32, AppError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Err(AppError::PreconditionRequired(
            FieldError::new(
                "version_required",
                "send If-Match with the version you are changing (the ETag of the record)",
            )
            .at("If-Match"),
        ));
    };
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            AppError::malformed(
                "invalid_if_match",
                "If-Match must be a version such as \"3\"",
                Some("If-Match".into()),
            )
        })
}

/// The cells of one exported master record: its `fields`, numbers as numbers.
fn master_cells(v: &serde_json::Value, fields: &[&str]) -> Vec<crate::export::Cell> {
    use crate::export::Cell;
    fields
        .iter()
        .map(|f| match &v[*f] {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(Cell::Number)
                .unwrap_or(Cell::Text(n.to_string())),
            serde_json::Value::String(s) => Cell::Text(s.clone()),
            serde_json::Value::Null => Cell::Text(String::new()),
            other => Cell::Text(other.to_string()),
        })
        .collect()
}

/// A definition as it reads once written at `now` over version `replaces` (`None`: created):
/// the audit record's "after", known before the write so that it commits with it.
pub(crate) fn next_version<T>(
    def: T,
    replaces: Option<u32>,
    now: chrono::DateTime<chrono::Utc>,
) -> threadline_store::Versioned<T> {
    threadline_store::Versioned {
        def,
        version: replaces.map_or(1, |v| v + 1),
        updated_at: now,
    }
}

/// Refuses (403 `outside_site`, naming `parent`) a master record an account of one site may
/// not write ([`crate::site::Shown`]).
async fn writable(
    store: &dyn threadline_store::Store,
    actor: &Actor,
    def: &impl crate::site::Shown,
) -> Result<(), AppError> {
    match crate::site::SiteScope::of(store, actor).await? {
        Some(site) if !def.kept_in(&site) => Err(AppError::Forbidden(vec![
            FieldError::new(
                "outside_site",
                format!(
                    "{} works at site {}; this record is not of it",
                    actor.name(),
                    actor.site.as_deref().unwrap_or_default()
                ),
            )
            .at("parent"),
        ])),
        _ => Ok(()),
    }
}

macro_rules! master_endpoints {
    ($ty:ty, $variant:ident, $kind:literal, $one:ident, $list:ident, $create:ident, $replace:ident, $get:ident, $get_list:ident) => {
        pub async fn $create(State(app): State<AppState>, actor: Actor, pending: crate::audit::Pending, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
            require_json(&headers)?;
            let def: $ty = parse(&body, "")?;
            writable(&*app.store, &actor, &def).await?;
            let code = def.code.to_string();
            let now = app.clock.now();
            let note = AuditNote::object(format!("{}/{code}", stringify!($list))).after(next_version(def.clone(), None, now));
            let record = pending.record(&app, StatusCode::CREATED, &note);
            app.store
                .put_master_audited(MasterWrite { record: MasterRecord::$variant(def), actor: actor.name(), now, id: Uuid::now_v7(), replaces: None }, Some(record))
                .await?;
            let v = app.store.$one(&code).await?.ok_or_else(|| AppError::Internal(format!("{} {code} vanished after create", $kind)))?;
            Ok(note.recorded().on(versioned_response(StatusCode::CREATED, &actor.masked(v))))
        }

        pub async fn $replace(State(app): State<AppState>, actor: Actor, pending: crate::audit::Pending, Path(code): Path<String>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
            require_json(&headers)?;
            let version = if_match(&headers)?;
            let def: $ty = parse(&body, "")?;
            if def.code.as_str() != code {
                return Err(AppError::Rule(vec![FieldError::new("code_mismatch", format!("the body's code {} differs from {code} in the URL; codes cannot be renamed", def.code)).at("code")]));
            }
            let site = crate::site::SiteScope::of(&*app.store, &actor).await?;
            let before = app.store.$one(&code).await?;
            // Another site's record does not exist to an account of one site.
            if let (Some(site), Some(b)) = (&site, &before)
                && !crate::site::Shown::shown_to(&b.def, site)
            {
                return Err(AppError::NotFound(format!("{} {code} does not exist", $kind)));
            }
            writable(&*app.store, &actor, &def).await?;
            let now = app.clock.now();
            let note = AuditNote::object(format!("{}/{code}", stringify!($list))).before(before).after(next_version(def.clone(), Some(version), now));
            let record = pending.record(&app, StatusCode::OK, &note);
            app.store
                .put_master_audited(MasterWrite { record: MasterRecord::$variant(def), actor: actor.name(), now, id: Uuid::now_v7(), replaces: Some(version) }, Some(record))
                .await?;
            let v = app.store.$one(&code).await?.ok_or_else(|| AppError::Internal(format!("{} {code} vanished after update", $kind)))?;
            Ok(note.recorded().on(versioned_response(StatusCode::OK, &actor.masked(v))))
        }

        pub async fn $get(State(app): State<AppState>, actor: Actor, Path(code): Path<String>) -> Result<Response, AppError> {
            let site = crate::site::SiteScope::of(&*app.store, &actor).await?;
            match app.store.$one(&code).await? {
                Some(v) if site.as_ref().is_none_or(|s| crate::site::Shown::shown_to(&v.def, s)) => {
                    Ok(versioned_response(StatusCode::OK, &actor.masked(v)))
                }
                Some(_) => Err(AppError::NotFound(format!("{} {code} does not exist", $kind))),
                None => Err(AppError::NotFound(format!("{} {code} does not exist", $kind))),
            }
        }

        pub async fn $get_list(State(app): State<AppState>, actor: Actor, params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>) -> Result<Response, AppError> {
            let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
            let format = crate::export::Format::parse(p.format.as_deref())?;
            let mut q = list_query(p)?;
            // An account of one site lists what it reads (a page may hold fewer than `limit`).
            let site = crate::site::SiteScope::of(&*app.store, &actor).await?;
            let shown = move |v: &Versioned<$ty>| site.as_ref().is_none_or(|s| crate::site::Shown::shown_to(&v.def, s));
            if format == crate::export::Format::Json {
                let mut page = app.store.$list(&q).await?;
                page.items.retain(&shown);
                return Ok(Json(actor.masked(page)).into_response());
            }
            // Every record, page after page, in the columns the import reads back.
            let (headers, fields) = crate::import::export_columns($kind);
            let store = app.store.clone();
            q.limit = 500;
            Ok(crate::export::spreadsheet(format, stringify!($list), headers, move |tx| async move {
                loop {
                    let page = store.$list(&q).await?;
                    let rows = page
                        .items
                        .into_iter()
                        .filter(&shown)
                        .map(|v| master_cells(&serde_json::to_value(actor.masked(v)).unwrap_or_default(), fields))
                        .collect();
                    if tx.send(rows).await.is_err() {
                        return Ok(());
                    }
                    match page.next {
                        Some(next) => q.after = Some(next),
                        None => return Ok(()),
                    }
                }
            }))
        }
    };
}

master_endpoints!(
    Product,
    Product,
    "product",
    product,
    products,
    create_product,
    replace_product,
    get_product,
    list_products
);
master_endpoints!(
    Party,
    Party,
    "party",
    party,
    parties,
    create_party,
    replace_party,
    get_party,
    list_parties
);
master_endpoints!(
    Location,
    Location,
    "location",
    location,
    locations,
    create_location,
    replace_location,
    get_location,
    list_locations
);

pub async fn master_history(
    State(app): State<AppState>,
    actor: Actor,
    Path((kind, code)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let kind = match kind.as_str() {
        "products" => "product",
        "parties" => "party",
        "locations" => "location",
        "serial-rules" => "serial_rule",
        _ => return Err(AppError::NotFound(format!("/api/v1/{kind} does not exist"))),
    };
    let history = app.store.master_history(kind, &code).await?;
    // Another site's location has no history to an account of one site.
    let hidden = match (kind, crate::site::SiteScope::of(&*app.store, &actor).await?) {
        ("location", Some(site)) => !app
            .store
            .location(&code)
            .await?
            .is_some_and(|l| crate::site::Shown::shown_to(&l.def, &site)),
        _ => false,
    };
    if history.is_empty() || hidden {
        return Err(AppError::NotFound(format!("{kind} {code} does not exist")));
    }
    Ok(Json(json!({ "versions": actor.masked(history) })).into_response())
}

pub async fn verify(State(app): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(app.store.verify().await?).into_response())
}
