//! `/epcis`: the GS1 EPCIS 2.0 REST binding over the one ledger. An event captured here is the
//! same ledger event Threadline's own API records (same rules, same permissions per event), and
//! every ledger event reads back as a standard EPCIS event (`threadline_epcis`).
//!
//! Capture runs synchronously with `rollback` behaviour (all or nothing): `POST /capture`
//! answers 202 with the finished job's address. Jobs are kept in memory, the last
//! [`MAX_JOBS`], so a restart forgets them (the events are in the ledger). Errors are RFC 7807
//! problem documents with the EPCIS exception type, plus Threadline's `errors` list naming each
//! field.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use threadline_domain::access::required_for;
use threadline_domain::error::FieldError;
use threadline_domain::event::{CaptureContext, Event};
use threadline_epcis::json::{Inbound, kind_of, object_uris};
use threadline_epcis::vocab::{self, Vocab};
use threadline_epcis::{Catalogue, Document, Pattern, ids};
use threadline_store::{EventQuery, StoreError};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;

/// Most events in one `POST /capture` (advertised in `GS1-EPCIS-Capture-Limit`).
pub const CAPTURE_LIMIT: usize = 10_000;
/// Largest capture document in bytes (advertised in `GS1-EPCIS-Capture-File-Size-Limit`).
pub const CAPTURE_FILE_SIZE_LIMIT: usize = 16 * 1024 * 1024;
/// Capture jobs remembered.
pub const MAX_JOBS: usize = 1000;
const PER_PAGE: u32 = 100;

/// The capture jobs of this process, newest last.
#[derive(Debug, Clone, Default)]
pub struct Jobs(Arc<Mutex<VecDeque<(String, Value)>>>);

impl Jobs {
    fn put(&self, id: String, job: Value) {
        if let Ok(mut q) = self.0.lock() {
            if q.len() >= MAX_JOBS {
                q.pop_front();
            }
            q.push_back((id, job));
        }
    }
    fn get(&self, id: &str) -> Option<Value> {
        self.0
            .lock()
            .ok()?
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.clone())
    }
}

/// An EPCIS exception: status, exception type, and the problems found.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    errors: Vec<FieldError>,
}

impl Problem {
    fn new(status: StatusCode, kind: &'static str, errors: Vec<FieldError>) -> Self {
        Problem {
            status,
            kind,
            errors,
        }
    }
    fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationException", errors)
    }
    fn query(e: FieldError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "QueryParameterException", vec![e])
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        let (status, kind, errors) = match e {
            AppError::Malformed(v) | AppError::Rule(v) => {
                (StatusCode::BAD_REQUEST, "ValidationException", v)
            }
            AppError::Conflict(v) => (StatusCode::CONFLICT, "ResourceAlreadyExistsException", v),
            AppError::Forbidden(v) => (StatusCode::FORBIDDEN, "SecurityException", v),
            AppError::Unauthorized(f) => (StatusCode::UNAUTHORIZED, "SecurityException", vec![f]),
            AppError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                "NoSuchResourceException",
                vec![FieldError::new("not_found", m)],
            ),
            AppError::PreconditionRequired(f) => {
                (StatusCode::BAD_REQUEST, "ValidationException", vec![f])
            }
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ImplementationException",
                    vec![FieldError::new(
                        "internal",
                        "the server failed to handle this request; it has been logged",
                    )],
                )
            }
        };
        Problem {
            status,
            kind,
            errors,
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let detail = self
            .errors
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let body = json!({
            "type": format!("epcisException:{}", self.kind),
            "title": self.kind,
            "status": self.status.as_u16(),
            "detail": detail,
            "errors": self.errors,
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        with_version(resp)
    }
}

fn with_version(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("gs1-epcis-version", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-cbv-version", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-epcis-capture-limit", HeaderValue::from(CAPTURE_LIMIT));
    h.insert(
        "gs1-epcis-capture-file-size-limit",
        HeaderValue::from(CAPTURE_FILE_SIZE_LIMIT),
    );
    resp
}

fn is_xml(headers: &HeaderMap, name: header::HeaderName) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("xml"))
}

/// `GET /epcis`: the top-level resources.
pub async fn discovery() -> Response {
    with_version(
        axum::Json(json!([
            "capture",
            "events",
            "eventTypes",
            "epcs",
            "bizSteps",
            "bizLocations",
            "readPoints",
            "dispositions"
        ]))
        .into_response(),
    )
}

fn read_document(headers: &HeaderMap, body: &[u8]) -> Result<Document, Problem> {
    if body.len() > CAPTURE_FILE_SIZE_LIMIT {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CaptureLimitExceededException",
            vec![FieldError::new(
                "too_large",
                format!("a capture document holds at most {CAPTURE_FILE_SIZE_LIMIT} bytes"),
            )],
        ));
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let doc = if ct.contains("xml") {
        threadline_epcis::xml::parse_document(body)
    } else if ct.contains("json") {
        threadline_epcis::parse_document(body)
    } else {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaTypeException",
            vec![
                FieldError::new(
                    "unsupported_media_type",
                    format!(
                        "send application/ld+json, application/json or application/xml (got `{ct}`)"
                    ),
                )
                .at("Content-Type"),
            ],
        ));
    };
    doc.map_err(|e| Problem::validation(vec![e]))
}

/// Loads the products the events name by GTIN.
async fn catalogue_for(app: &AppState, doc: &Document) -> Result<Catalogue, Problem> {
    let mut c = Catalogue::default();
    let gtins = ids::gtins(doc.events.iter().flat_map(object_uris));
    for g in gtins {
        if let Some(p) = app.store.product_by_gtin(g.as_str()).await? {
            c.insert(&p.def);
        }
    }
    Ok(c)
}

/// Maps and checks every event of a document; all problems are reported, nothing is written.
async fn events_of(app: &AppState, actor: &Actor, doc: &Document) -> Result<Vec<Event>, Problem> {
    let catalogue = catalogue_for(app, doc).await?;
    let at = |i: usize| {
        if doc.events_path.is_empty() {
            String::new()
        } else {
            format!("{}[{i}]", doc.events_path)
        }
    };
    let within = |i: usize, e: FieldError| {
        if doc.events_path.is_empty() {
            e
        } else {
            e.within(&at(i))
        }
    };
    let mut inbound: Vec<Inbound> = Vec::with_capacity(doc.events.len());
    let mut errors = Vec::new();
    for (i, ev) in doc.events.iter().enumerate() {
        match threadline_epcis::to_request(ev, &doc.context, &catalogue) {
            Ok(x) => inbound.push(x),
            Err(v) => errors.extend(v.into_iter().map(|e| within(i, e))),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let refusals: Vec<FieldError> = inbound
        .iter()
        .enumerate()
        .filter_map(|(i, x)| {
            let missing = actor.permissions.missing(required_for(&x.request));
            let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
            (!missing.is_empty()).then(|| {
                within(
                    i,
                    FieldError::new(
                        "forbidden",
                        format!(
                            "recording this event needs the permission {}, which {} lacks",
                            names.join(", "),
                            actor.name()
                        ),
                    ),
                )
            })
        })
        .collect();
    if !refusals.is_empty() {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "SecurityException",
            refusals,
        ));
    }
    let ctx = CaptureContext {
        actor: actor.name(),
        now: app.clock.now(),
    };
    let mut events = Vec::with_capacity(inbound.len());
    for (i, x) in inbound.into_iter().enumerate() {
        match Event::from_request(x.request.clone(), &ctx, Uuid::now_v7()) {
            Ok(mut e) => {
                x.finish(&mut e);
                events.push(e);
            }
            Err(v) => errors.extend(v.into_iter().map(|e| within(i, e))),
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    Ok(events)
}

/// `POST /epcis/capture`: an EPCISDocument (or EPCISQueryDocument), all or nothing.
pub async fn capture(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let doc = read_document(&headers, &body)?;
    if doc.events.len() > CAPTURE_LIMIT {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "CaptureLimitExceededException",
            vec![
                FieldError::new(
                    "too_many_events",
                    format!(
                        "a capture holds at most {CAPTURE_LIMIT} events; this one holds {}",
                        doc.events.len()
                    ),
                )
                .at(doc.events_path),
            ],
        ));
    }
    if let Some(b) = headers
        .get("gs1-capture-error-behaviour")
        .and_then(|v| v.to_str().ok())
        && b != "rollback"
    {
        return Err(Problem::validation(vec![FieldError::new("not_supported", format!("capture error behaviour `{b}` is not supported; Threadline captures all or nothing (rollback)")).at("GS1-Capture-Error-Behaviour")]));
    }
    let events = events_of(&app, &actor, &doc).await?;
    let id = Uuid::now_v7().to_string();
    let created = app
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let job = match app.store.capture(events, None).await {
        Ok(_) => {
            json!({"captureID": id, "createdAt": created, "finishedAt": created, "running": false, "success": true, "captureErrorBehaviour": "rollback", "errors": []})
        }
        Err(e @ (StoreError::Invalid(_) | StoreError::Conflict(_))) => {
            let p = Problem::from(e);
            let errors: Vec<Value> = p
                .errors
                .iter()
                .map(|e| json!({"type": format!("epcisException:{}", p.kind), "title": e.code, "status": p.status.as_u16(), "detail": e.to_string()}))
                .collect();
            json!({"captureID": id, "createdAt": created, "finishedAt": created, "running": false, "success": false, "captureErrorBehaviour": "rollback", "errors": errors})
        }
        Err(e) => return Err(e.into()),
    };
    app.epcis_jobs.put(id.clone(), job);
    let mut resp = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/epcis/capture/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(with_version(resp))
}

/// `GET /epcis/capture/{captureID}`.
pub async fn capture_job(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    match app.epcis_jobs.get(&id) {
        Some(job) => Ok(with_version(axum::Json(job).into_response())),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "NoSuchResourceException",
            vec![FieldError::new(
                "not_found",
                format!("capture job {id} is not known"),
            )],
        )),
    }
}

/// `POST /epcis/events`: one event, 201 with its address.
pub async fn capture_one(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let doc = read_document(&headers, &body)?;
    if doc.events.len() != 1 {
        return Err(Problem::validation(vec![FieldError::new(
            "one_event",
            "POST /events takes one event; send documents to /capture",
        )]));
    }
    let events = events_of(&app, &actor, &doc).await?;
    let id = events
        .first()
        .map(threadline_epcis::json::event_id)
        .unwrap_or_default();
    app.store.capture(events, None).await?;
    let mut resp = StatusCode::CREATED.into_response();
    let location = format!("/epcis/events/{}", utf8_percent(&id));
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(with_version(resp))
}

fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Writes events as an EPCISQueryDocument, JSON-LD or XML as the client accepts.
async fn respond(
    app: &AppState,
    headers: &HeaderMap,
    events: Vec<Event>,
    next: Option<String>,
) -> Result<Response, Problem> {
    let mut catalogue = Catalogue::default();
    let codes: BTreeSet<&str> = events
        .iter()
        .flat_map(|e| {
            e.item_refs()
                .map(|(k, _)| k.product.as_str())
                .chain(e.lot_refs().map(|(q, _)| q.product.as_str()))
        })
        .collect();
    for code in codes {
        if let Some(p) = app.store.product(code).await? {
            catalogue.insert(&p.def);
        }
    }
    let now = app.clock.now();
    let mut resp = if is_xml(headers, header::ACCEPT) {
        let list: Vec<_> = events
            .iter()
            .map(|e| threadline_epcis::event_json(e, &catalogue))
            .collect();
        let ctx = threadline_epcis::json::context_of(&events);
        let text = threadline_epcis::xml::write_document(
            &list,
            &ctx,
            Some("SimpleEventQuery"),
            &now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        ([(header::CONTENT_TYPE, "application/xml")], text).into_response()
    } else {
        let doc = threadline_epcis::query_document("SimpleEventQuery", &events, &catalogue, now);
        (
            [(header::CONTENT_TYPE, "application/ld+json")],
            doc.to_string(),
        )
            .into_response()
    };
    if let Some(token) = next
        && let Ok(v) = HeaderValue::from_str(&format!("<?nextPageToken={token}>; rel=\"next\""))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(with_version(resp))
}

/// `GET /epcis/events/{eventID}`.
pub async fn get_event(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "NoSuchResourceException",
            vec![FieldError::new("not_found", format!("event {id} does not exist")).at("eventID")],
        )
    };
    let uuid = id.strip_prefix("urn:uuid:").unwrap_or(&id);
    let Ok(uuid) = Uuid::parse_str(uuid) else {
        return Err(not_found());
    };
    let ev = app.store.event(uuid).await?.ok_or_else(not_found)?;
    respond(&app, &headers, vec![ev.event], None).await
}

fn parse_time(name: &str, v: &str) -> Result<chrono::DateTime<chrono::Utc>, Problem> {
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            Problem::query(
                FieldError::new(
                    "invalid_time",
                    format!("{name} must be a date-time with offset, got `{v}`"),
                )
                .at(name),
            )
        })
}

/// `GET /epcis/events`: the Simple Event Query parameters Threadline answers from its indexes.
pub async fn query(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params: Vec<(String, String)> = form_urlencoded(raw.as_deref().unwrap_or(""));
    let mut q = EventQuery {
        limit: PER_PAGE,
        ..EventQuery::default()
    };
    let one = |name: &str, v: &str| -> Result<String, Problem> {
        if v.contains('|') {
            return Err(Problem::query(
                FieldError::new(
                    "not_supported",
                    format!("{name} takes one value here; several (a|b) are not supported yet"),
                )
                .at(name),
            ));
        }
        Ok(v.to_owned())
    };
    let mut catalogue: Option<Catalogue> = None;
    for (name, v) in &params {
        match name.as_str() {
            "eventType" => {
                let t = one(name, v)?;
                q.kind = Some(kind_of(&t).ok_or_else(|| {
                    Problem::query(
                        FieldError::new(
                            "invalid_value",
                            format!("`{t}` is not an EPCIS event type"),
                        )
                        .at(name),
                    )
                })?);
            }
            "GE_eventTime" => q.from = Some(parse_time(name, v)?),
            "LT_eventTime" => q.to = Some(parse_time(name, v)?),
            "EQ_bizStep" => q.biz_step = Some(vocab::word_in(Vocab::BizStep, &one(name, v)?)),
            "EQ_bizLocation" => {
                let code = ids::location(&one(name, v)?).map_err(|e| Problem::query(e.at(name)))?;
                q.biz_location = Some(code.as_str().to_owned());
            }
            "MATCH_anyEPC" | "MATCH_epc" | "MATCH_epcClass" | "MATCH_anyEPCClass" => {
                let uri = one(name, v)?;
                if catalogue.is_none() {
                    let mut c = Catalogue::default();
                    for g in ids::gtins([uri.as_str()]) {
                        if let Some(p) = app.store.product_by_gtin(g.as_str()).await? {
                            c.insert(&p.def);
                        }
                    }
                    catalogue = Some(c);
                }
                let c = catalogue
                    .as_ref()
                    .ok_or_else(|| Problem::query(FieldError::new("internal", "no catalogue")))?;
                match ids::pattern(c, &uri).map_err(|e| Problem::query(e.at(name)))? {
                    Pattern::Unit(k) => q.item = Some(k),
                    Pattern::Lot(k) => q.lot = Some(k),
                    Pattern::Nothing => return respond(&app, &headers, Vec::new(), None).await,
                    Pattern::Product(_) => {
                        return Err(Problem::query(FieldError::new("not_supported", "matching every unit of a product (an EPC pattern) is not supported yet").at(name)));
                    }
                }
            }
            "perPage" => {
                q.limit = v
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        Problem::query(
                            FieldError::new(
                                "invalid_value",
                                format!("perPage must be 1–1000, got `{v}`"),
                            )
                            .at(name),
                        )
                    })?;
            }
            "nextPageToken" => {
                q.after_seq = Some(v.parse::<i64>().map_err(|_| {
                    Problem::query(
                        FieldError::new(
                            "invalid_value",
                            format!("`{v}` is not a page token from this server"),
                        )
                        .at(name),
                    )
                })?);
            }
            n if n.starts_with("EQ_bizTransaction_") => {
                let t = vocab::btt_in(&n["EQ_bizTransaction_".len()..]);
                let id =
                    ids::transaction(&one(name, v)?).map_err(|e| Problem::query(e.at(name)))?;
                q.biz_transaction = Some((t, id));
            }
            other => {
                return Err(Problem::query(
                    FieldError::new(
                        "not_supported",
                        format!("query parameter `{other}` is unknown or not supported yet"),
                    )
                    .at(other),
                ));
            }
        }
    }
    let page = app.store.events(&q).await?;
    let events = page.items.into_iter().map(|s| s.event).collect();
    respond(&app, &headers, events, page.next).await
}

/// Splits `a=b&c=d`, decoding `%XX` and `+`.
fn form_urlencoded(raw: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let s = s.replace('+', " ");
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && let Some(h) = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(h);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}
