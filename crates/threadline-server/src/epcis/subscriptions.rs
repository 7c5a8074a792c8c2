//! EPCIS 2.0 query subscriptions over webhooks (`/epcis/queries/{name}/subscriptions`).
//!
//! A subscription is a webhook of format `epcis` (the same id is its `subscriptionID`) and a
//! row that says what it asks of its named query: `stream: true` — each event the query
//! matches, as it is recorded — or a `schedule` — on each query time, what matched since the
//! last run (one `EPCISQueryDocument` per 500 events; none when nothing matched, unless
//! `reportIfEmpty`). Events recorded before `initialRecordTime` (default: the subscription's
//! creation) are never reported.
//!
//! The worker ([`run`], called at the start of each pass of `webhook::work_once`) reads the
//! ledger after each subscription's cursor, judges the events with the query exactly as
//! `GET /events` would for a reader who sees no personal or commercial data (what the
//! receiver gets is masked the same way), and queues the deliveries in the transaction that
//! moves the cursor on. From there on a delivery is like any other: the outbox, signed
//! (Standard Webhooks headers and `GS1-Signature`, the Base64 HMAC-SHA256 of the body keyed
//! with the `signatureToken`), retried with back-off, dead-lettered, shown in the webhook's
//! delivery log.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use threadline_domain::error::FieldError;
use threadline_domain::event::Event;
use threadline_domain::mask::{Visibility, masked};
use threadline_epcis::query::Filter;
use threadline_epcis::schedule::Schedule;
use threadline_store::webhook::{
    Delivery, EpcisSubscription, SubscriptionRun, Topic, Webhook, WebhookFilter, WebhookFormat,
};
use threadline_store::{NamedQuery, StoreError};
use uuid::Uuid;

use super::{
    Problem, Products, is_xml, judge, narrowed, negotiate, no_query, prepared_filter, utf8_percent,
    with_version,
};
use crate::AppState;
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;

/// Most events in one scheduled report; more make several.
pub const REPORT_BATCH: usize = 500;
/// Most events one run of one subscription reads; the rest wait for the next pass.
const RUN_SCAN_LIMIT: usize = 20_000;

pub(super) fn controls(field: &str, msg: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "SubscriptionControlsException",
        vec![FieldError::new("invalid_value", msg).at(field)],
    )
}

fn no_subscription(id: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "NoSuchNameException",
        vec![
            FieldError::new(
                "not_found",
                format!("there is no subscription {id} to this query"),
            )
            .at("subscriptionID"),
        ],
    )
}

pub(super) fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A subscription as the API shows it (never its token).
fn subscription_json(s: &EpcisSubscription, hook: Option<&Webhook>) -> Value {
    let mut v = json!({
        "subscriptionID": s.id.to_string(),
        "queryName": s.query,
        "createdAt": millis(s.created_at),
        "createdBy": s.created_by,
        "reportIfEmpty": s.report_if_empty,
    });
    if let Some(h) = hook {
        v["dest"] = json!(h.url);
        v["active"] = json!(h.active);
    }
    match &s.schedule {
        Some(fields) => {
            v["schedule"] = json!(fields);
            if let Some(t) = s.next_run_at {
                v["nextRunAt"] = json!(millis(t));
            }
        }
        None => v["stream"] = json!(true),
    }
    if let Some(t) = s.initial_record_time {
        v["initialRecordTime"] = json!(millis(t));
    }
    v
}

async fn query_of(app: &AppState, name: &str) -> Result<NamedQuery, Problem> {
    app.store
        .named_query(name)
        .await?
        .ok_or_else(|| no_query(name))
}

/// What a client asks for, checked; every refusal names its field.
struct Request {
    dest: String,
    token: Option<String>,
    schedule: Option<BTreeMap<String, String>>,
    report_if_empty: bool,
    initial_record_time: Option<DateTime<Utc>>,
}

fn read_request(app: &AppState, body: &[u8]) -> Result<Request, Problem> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::validation(vec![FieldError::new(
            "invalid_json",
            format!("the body is not JSON: {e}"),
        )])
    })?;
    let Some(obj) = v.as_object() else {
        return Err(Problem::validation(vec![FieldError::new(
            "invalid_json",
            "a subscription is a JSON object",
        )]));
    };
    const KNOWN: [&str; 7] = [
        "dest",
        "signatureToken",
        "secret",
        "reportIfEmpty",
        "stream",
        "schedule",
        "initialRecordTime",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Problem::validation(vec![
            FieldError::new(
                "unknown_field",
                format!("`{k}` is not a subscription field"),
            )
            .at(k),
        ]));
    }
    let dest = obj.get("dest").and_then(Value::as_str).ok_or_else(|| {
        Problem::validation(vec![
            FieldError::new("required", "dest, the URL results are sent to, is required")
                .at("dest"),
        ])
    })?;
    crate::webhook::check_url(dest, app.webhooks.allow_private).map_err(|mut e| {
        e.field = Some("dest".into());
        Problem::validation(vec![e])
    })?;
    let mut token = None;
    for k in ["signatureToken", "secret"] {
        match obj.get(k) {
            None => {}
            Some(Value::String(t)) if !t.is_empty() && t.len() <= 200 => token = Some(t.clone()),
            Some(_) => {
                return Err(Problem::validation(vec![
                    FieldError::new("invalid_value", "a signature token is 1–200 characters").at(k),
                ]));
            }
        }
    }
    let report_if_empty = match obj.get("reportIfEmpty") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(controls("reportIfEmpty", "reportIfEmpty is true or false")),
    };
    let stream = match obj.get("stream") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(controls("stream", "stream is true or false")),
    };
    let schedule = match obj.get("schedule") {
        None => None,
        Some(Value::Object(m)) => {
            let mut fields = BTreeMap::new();
            for (k, x) in m {
                let text = match x {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        return Err(controls(
                            &format!("schedule.{k}"),
                            "a schedule field is text such as \"5\", \"1,15\" or \"[1-5]\"",
                        ));
                    }
                };
                fields.insert(k.clone(), text);
            }
            Schedule::parse(&fields, app.clock.now()).map_err(|e| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "SubscriptionControlsException",
                    vec![e],
                )
            })?;
            Some(fields)
        }
        Some(_) => return Err(controls("schedule", "schedule is an object of fields")),
    };
    match (stream, &schedule) {
        (true, Some(_)) => {
            return Err(controls(
                "schedule",
                "a subscription either streams or has a schedule, not both",
            ));
        }
        (false, None) => {
            return Err(controls(
                "stream",
                "set stream to true, or give a schedule: a subscription must say when it reports",
            ));
        }
        _ => {}
    }
    let initial_record_time = match obj.get("initialRecordTime") {
        None => None,
        Some(Value::String(t)) => Some(
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    controls(
                        "initialRecordTime",
                        format!("initialRecordTime must be a date-time with offset, got `{t}`"),
                    )
                })?,
        ),
        Some(_) => {
            return Err(controls(
                "initialRecordTime",
                "initialRecordTime is a date-time",
            ));
        }
    };
    Ok(Request {
        dest: dest.to_owned(),
        token,
        schedule,
        report_if_empty,
        initial_record_time,
    })
}

/// `POST /epcis/queries/{name}/subscriptions`: 201 with the subscription's address. A token
/// made for a subscription that brought none is shown once, here.
pub async fn create(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    negotiate(&headers)?;
    query_of(&app, &name).await?;
    // Deliveries are judged for a reader of the whole plant: not one of a single site.
    if let Some(site) = &actor.site {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "SecurityException",
            vec![FieldError::new(
                "outside_site",
                format!(
                    "{} works at site {site}; a subscription delivers events of every site",
                    actor.name()
                ),
            )],
        ));
    }
    let req = read_request(&app, &body)?;
    let now = app.clock.now();
    let id = Uuid::now_v7();
    let made = req.token.is_none().then(crate::webhook::new_secret);
    let hook = Webhook {
        id,
        name: format!("epcis-{id}"),
        url: req.dest,
        // The standard's callbacks carry JSON-LD; a subscriber whose request's `Accept` names
        // XML is sent the XML binding's document instead.
        format: if is_xml(&headers, header::ACCEPT) {
            WebhookFormat::EpcisXml
        } else {
            WebhookFormat::Epcis
        },
        secret: req.token.or_else(|| made.clone()).unwrap_or_default(),
        filter: WebhookFilter::default(),
        language: "en".into(),
        active: true,
        version: 0,
        created_at: now,
        updated_at: now,
        updated_by: actor.name(),
    };
    // Without an initialRecordTime, the subscription reports what is recorded from now on;
    // with one, the ledger is read from its start and the time decides.
    let after_seq = match req.initial_record_time {
        Some(_) => 0,
        None => app.store.ledger_len().await?,
    };
    let next_run_at = match &req.schedule {
        Some(fields) => Schedule::parse(fields, now)
            .map_err(|e| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "SubscriptionControlsException",
                    vec![e],
                )
            })?
            .next_after(now),
        None => None,
    };
    let sub = EpcisSubscription {
        id,
        query: name.clone(),
        stream: req.schedule.is_none(),
        schedule: req.schedule,
        report_if_empty: req.report_if_empty,
        initial_record_time: req.initial_record_time,
        after_seq,
        next_run_at,
        created_at: now,
        created_by: actor.name(),
    };
    let object = format!("epcis/queries/{}/subscriptions/{id}", name);
    // Recorded with the subscription, in its transaction (never its token).
    let note = AuditNote::object(object).after(subscription_json(&sub, Some(&hook)));
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |_: &EpcisSubscription| note
    });
    match app
        .store
        .create_subscription(hook.clone(), sub.clone(), Some(audit))
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(no_query(&name)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(query = %name, subscription = %id, actor = %actor.name(), "EPCIS subscription created");
    let mut body = subscription_json(&sub, Some(&hook));
    if let Some(t) = made {
        body["signatureToken"] = json!(t);
    }
    let mut resp = note
        .recorded()
        .on((StatusCode::CREATED, axum::Json(body)).into_response());
    let location = format!("/epcis/queries/{}/subscriptions/{id}", utf8_percent(&name));
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(with_version(resp))
}

/// The subscriptions to a query, with their webhooks.
async fn of_query(
    app: &AppState,
    name: &str,
) -> Result<Vec<(EpcisSubscription, Option<Webhook>)>, Problem> {
    query_of(app, name).await?;
    let hooks: HashMap<Uuid, Webhook> = app
        .store
        .webhooks()
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    Ok(app
        .store
        .subscriptions()
        .await?
        .into_iter()
        .filter(|s| s.query == name)
        .map(|s| {
            let h = hooks.get(&s.id).cloned();
            (s, h)
        })
        .collect())
}

/// One subscription to a query, with its webhook.
async fn find(
    app: &AppState,
    name: &str,
    id: &str,
) -> Result<(EpcisSubscription, Option<Webhook>), Problem> {
    of_query(app, name)
        .await?
        .into_iter()
        .find(|(s, _)| s.id.to_string() == id)
        .ok_or_else(|| no_subscription(id))
}

/// `GET /epcis/queries/{name}/subscriptions`.
pub async fn list(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let list: Vec<Value> = of_query(&app, &name)
        .await?
        .iter()
        .map(|(s, h)| subscription_json(s, h.as_ref()))
        .collect();
    Ok(with_version(axum::Json(list).into_response()))
}

/// The smallest record time an event the subscription has still to report can have (the
/// standard's `GS1-Query-Min-Record-Time`): its `initialRecordTime` (else the time it was
/// made), or — once a run has read past it — the record time of the last event read, since
/// the ledger records in order.
async fn min_record_time(
    app: &AppState,
    sub: &EpcisSubscription,
) -> Result<DateTime<Utc>, Problem> {
    let floor = sub.initial_record_time.unwrap_or(sub.created_at);
    if sub.after_seq <= 0 {
        return Ok(floor);
    }
    let last = app
        .store
        .events(&threadline_store::EventQuery {
            after_seq: Some(sub.after_seq - 1),
            limit: 1,
            ..threadline_store::EventQuery::default()
        })
        .await?
        .items
        .into_iter()
        .next()
        .filter(|s| s.seq == sub.after_seq);
    Ok(last.map_or(floor, |s| floor.max(s.event.record_time)))
}

/// `GET /epcis/queries/{name}/subscriptions/{id}`, with `GS1-Query-Min-Record-Time`.
pub async fn get(
    State(app): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let found = find(&app, &name, &id).await?;
    let min = min_record_time(&app, &found.0).await?;
    let mut body = subscription_json(&found.0, found.1.as_ref());
    body["minRecordTime"] = json!(millis(min));
    let mut resp = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&millis(min)) {
        resp.headers_mut().insert("gs1-query-min-record-time", v);
    }
    Ok(with_version(resp))
}

/// `DELETE /epcis/queries/{name}/subscriptions/{id}`: nothing more is queued or sent for it
/// (its deliveries and their log go with it).
pub async fn delete(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path((name, id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let found = find(&app, &name, &id).await?;
    let note = AuditNote::object(format!("epcis/queries/{name}/subscriptions/{}", found.0.id))
        .before(subscription_json(&found.0, found.1.as_ref()));
    let audit = pending.record_of(&app, StatusCode::NO_CONTENT, {
        let note = note.clone();
        move |(): &()| note
    });
    match app.store.delete_subscription(found.0.id, Some(audit)).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(no_subscription(&id)),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(query = %name, subscription = %id, actor = %actor.name(), "EPCIS subscription deleted");
    Ok(with_version(
        note.recorded().on(StatusCode::NO_CONTENT.into_response()),
    ))
}

/// The events after ledger sequence `after` up to `up_to` that the query matches, as a
/// receiver sees them; and how far they were read (`up_to`, or less when the run stopped at
/// [`RUN_SCAN_LIMIT`]).
async fn matching(
    app: &AppState,
    filter: &Filter,
    after: i64,
    up_to: i64,
) -> Result<(Vec<(i64, Event)>, i64), Problem> {
    let Some(mut q) = narrowed(app, filter).await? else {
        return Ok((Vec::new(), up_to));
    };
    q.after_seq = Some(after);
    let mut products = Products::default();
    let mut found = Vec::new();
    let mut scanned = 0usize;
    loop {
        let page = app.store.events(&q).await?;
        let stored: Vec<_> = page.items.iter().filter(|s| s.seq <= up_to).collect();
        let events: Vec<Event> = stored
            .iter()
            .map(|s| masked(s.event.clone(), Visibility::NONE))
            .collect();
        products.load(app, &events).await?;
        for (s, ev) in stored.iter().zip(events) {
            scanned += 1;
            if judge(filter, &ev, &products.catalogue) {
                found.push((s.seq, ev));
            }
            if scanned >= RUN_SCAN_LIMIT {
                return Ok((found, s.seq));
            }
        }
        let beyond = page.items.iter().any(|s| s.seq > up_to);
        match page.next {
            Some(n) if !beyond => {
                q.after_seq =
                    Some(n.parse::<i64>().map_err(|_| {
                        Problem::from(StoreError::Schema(format!("page token {n}")))
                    })?);
            }
            _ => return Ok((found, up_to)),
        }
    }
}

/// One run of one subscription up to ledger sequence `head`: queues what it reports and moves
/// it on. Returns how many deliveries it queued.
async fn run_one(
    app: &AppState,
    sub: &EpcisSubscription,
    head: i64,
    now: DateTime<Utc>,
) -> Result<usize, Problem> {
    let Some(query) = app.store.named_query(&sub.query).await? else {
        return Ok(0);
    };
    let mut params: Vec<(String, String)> = query
        .query
        .into_iter()
        .filter(|(k, _)| !super::SUBSCRIPTION_IGNORES.contains(&k.as_str()))
        .collect();
    if let Some(t) = sub.initial_record_time {
        params.push(("GE_recordTime".into(), millis(t)));
    }
    let filter = prepared_filter(app, &params).await?;
    let (found, to_seq) = if head > sub.after_seq {
        matching(app, &filter, sub.after_seq, head).await?
    } else {
        (Vec::new(), sub.after_seq)
    };
    let (deliveries, next_run_at) = match &sub.schedule {
        None => (
            found
                .iter()
                .map(|(seq, e)| Delivery {
                    event: Some(e.id),
                    ..Delivery::pending(sub.id, *seq, vec![Topic::Event], now)
                })
                .collect(),
            None,
        ),
        Some(fields) => {
            let ids: Vec<Uuid> = found.iter().map(|(_, e)| e.id).collect();
            let mut out: Vec<Delivery> = ids
                .chunks(REPORT_BATCH)
                .map(|chunk| Delivery {
                    report: Some(chunk.to_vec()),
                    ..Delivery::pending(sub.id, to_seq, vec![Topic::Event], now)
                })
                .collect();
            if out.is_empty() && sub.report_if_empty {
                out.push(Delivery {
                    report: Some(Vec::new()),
                    ..Delivery::pending(sub.id, to_seq, vec![Topic::Event], now)
                });
            }
            // A stored schedule was checked when it was made; should it fail now, it stops.
            let next = Schedule::parse(fields, now)
                .ok()
                .and_then(|s| s.next_after(now));
            (out, next)
        }
    };
    let n = deliveries.len();
    let moved = app
        .store
        .advance_subscription(SubscriptionRun {
            id: sub.id,
            from_seq: sub.after_seq,
            to_seq,
            due: sub.next_run_at,
            next_run_at,
            deliveries,
        })
        .await?;
    Ok(if moved { n } else { 0 })
}

/// Runs every subscription that is due — a stream when the ledger grew past its cursor, a
/// schedule at its query time — queuing what each reports. Returns how many deliveries were
/// queued. A subscription whose webhook is disabled waits.
pub async fn run(app: &AppState) -> Result<usize, StoreError> {
    let subs = app.store.subscriptions().await?;
    if subs.is_empty() {
        return Ok(0);
    }
    let active: HashMap<Uuid, bool> = app
        .store
        .webhooks()
        .await?
        .into_iter()
        .map(|h| (h.id, h.active))
        .collect();
    let head = app.store.ledger_len().await?;
    let now = app.clock.now();
    let mut queued = 0;
    for sub in subs {
        let due = match sub.schedule {
            None => head > sub.after_seq,
            Some(_) => sub.next_run_at.is_some_and(|t| t <= now),
        };
        if !due || !active.get(&sub.id).copied().unwrap_or(false) {
            continue;
        }
        match run_one(app, &sub, head, now).await {
            Ok(n) => queued += n,
            Err(p) => {
                tracing::warn!(subscription = %sub.id, query = %sub.query, problem = ?p, "EPCIS subscription run failed");
            }
        }
    }
    Ok(queued)
}

/// The body of a subscription's delivery: an `EPCISQueryDocument` naming the query and the
/// subscription, with the delivery's event or report, masked for a receiver who is no actor —
/// JSON-LD, or XML for a subscription made asking for XML ([`WebhookFormat::EpcisXml`]).
pub async fn body(
    app: &AppState,
    hook: &Webhook,
    d: &Delivery,
    at: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let (sub, events, products) = report(app, hook, d).await?;
    if hook.format == WebhookFormat::EpcisXml {
        let list: Vec<_> = events
            .iter()
            .map(|e| {
                let mut form = threadline_epcis::event_json(e, &products.catalogue);
                threadline_epcis::format::reformat(
                    &mut form,
                    threadline_epcis::format::EpcFormat::NoPreference,
                    &app.company_prefixes,
                );
                form
            })
            .collect();
        let ctx = threadline_epcis::json::context_of(&events);
        return Ok(threadline_epcis::xml::write_subscription_document(
            &list,
            &ctx,
            &sub.query,
            &sub.id.to_string(),
            &millis(at),
        )
        .into_bytes());
    }
    let mut doc = threadline_epcis::query_document(&sub.query, &events, &products.catalogue, at);
    doc["epcisBody"]["queryResults"]["subscriptionID"] = json!(sub.id.to_string());
    threadline_epcis::format::reformat_document(
        &mut doc,
        threadline_epcis::format::EpcFormat::NoPreference,
        &app.company_prefixes,
    );
    serde_json::to_vec(&doc).map_err(|e| e.to_string())
}

/// A delivery's subscription, and its events as the receiver sees them.
async fn report(
    app: &AppState,
    hook: &Webhook,
    d: &Delivery,
) -> Result<(EpcisSubscription, Vec<Event>, Products), String> {
    let sub = app
        .store
        .subscriptions()
        .await
        .map_err(|e| format!("the subscription could not be read: {e}"))?
        .into_iter()
        .find(|s| s.id == hook.id)
        .ok_or_else(|| format!("subscription {} no longer exists", hook.id))?;
    let ids: Vec<Uuid> = match (&d.event, &d.report) {
        (Some(e), _) => vec![*e],
        (None, Some(ids)) => ids.clone(),
        (None, None) => return Err("the delivery names no event or report".into()),
    };
    let mut events = Vec::with_capacity(ids.len());
    for id in ids {
        let stored = app
            .store
            .event(id)
            .await
            .map_err(|e| format!("the event could not be read: {e}"))?
            .ok_or_else(|| format!("event {id} is not in the ledger"))?;
        events.push(stored.event);
    }
    let events = masked(events, Visibility::NONE);
    let mut products = Products::default();
    products
        .load(app, &events)
        .await
        .map_err(|p| format!("the products could not be read: {p:?}"))?;
    Ok((sub, events, products))
}
