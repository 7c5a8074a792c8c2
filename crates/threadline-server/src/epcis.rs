//! `/epcis`: the GS1 EPCIS 2.0 REST binding over the one ledger. An event captured here is the
//! same ledger event Threadline's own API records (same rules, same permissions per event), and
//! every ledger event reads back as a standard EPCIS event (`threadline_epcis`).
//!
//! Capture runs synchronously: `rollback` (the default) captures all or nothing, `proceed`
//! each event on its own; `POST /capture` answers 202 with the finished job's address. Jobs
//! are rows in the store, so they outlive a restart. An identical EPCIS event captured again
//! is refused by its hash ID (409); an error declaration is recorded as a correction of the
//! declared event. Errors are RFC 7807 problem documents with the EPCIS exception type, plus
//! Threadline's `errors` list naming each field.

use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use threadline_domain::access::required_for;
use threadline_domain::error::FieldError;
use threadline_domain::event::{CaptureContext, Correction, Event};
use threadline_domain::mask::{Visibility, masked};
use threadline_epcis::format::EpcFormat;
use threadline_epcis::json::{kind_of, object_uris};
use threadline_epcis::query::{Filter, OrderBy};
use threadline_epcis::{Catalogue, Document, Pattern, ids};
use threadline_store::{CaptureJob, EventQuery, StoreError};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::partner::Partner;

pub mod stream;
pub mod subscriptions;

/// Most events in one `POST /capture` (advertised in `GS1-EPCIS-Capture-Limit`).
pub const CAPTURE_LIMIT: usize = 10_000;
/// Largest capture document in bytes (advertised in `GS1-EPCIS-Capture-File-Size-Limit`).
pub const CAPTURE_FILE_SIZE_LIMIT: usize = 16 * 1024 * 1024;
const PER_PAGE: u32 = 100;

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
            AppError::TooManyRequests(f, _) => {
                (StatusCode::TOO_MANY_REQUESTS, "SecurityException", vec![f])
            }
            AppError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                "NoSuchResourceException",
                vec![FieldError::new("not_found", m)],
            ),
            AppError::PreconditionRequired(f) => {
                (StatusCode::BAD_REQUEST, "ValidationException", vec![f])
            }
            AppError::TooLarge(f) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "CaptureLimitExceededException",
                vec![f],
            ),
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

/// Refuses a client that needs an EPCIS or CBV version other than 2.0 (406): the versions it
/// asks for (`GS1-EPCIS-Version`, `GS1-CBV-Version`) or accepts (`GS1-EPCIS-Min`/`-Max`).
pub fn negotiate(headers: &HeaderMap) -> Result<(), Problem> {
    let version = |name: &str| -> Result<Option<(u32, u32)>, Problem> {
        let Some(v) = headers.get(name) else {
            return Ok(None);
        };
        let text = v.to_str().unwrap_or("").trim();
        let mut parts = text.split('.').map(str::parse::<u32>);
        match (parts.next(), parts.next().unwrap_or(Ok(0))) {
            (Some(Ok(major)), Ok(minor)) => Ok(Some((major, minor))),
            _ => Err(Problem::validation(vec![
                FieldError::new(
                    "invalid_value",
                    format!("`{text}` is not a version such as 2.0"),
                )
                .at(name),
            ])),
        }
    };
    let ours = (2, 0);
    let refuse = |name: &str, why: String| {
        Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "ValidationException",
            vec![FieldError::new("unsupported_version", why).at(name)],
        )
    };
    for name in ["GS1-EPCIS-Version", "GS1-CBV-Version"] {
        if let Some(v) = version(name)?
            && v != ours
        {
            return Err(refuse(
                name,
                format!("Threadline speaks 2.0, not {}.{}", v.0, v.1),
            ));
        }
    }
    if let Some(min) = version("GS1-EPCIS-Min")?
        && min > ours
    {
        return Err(refuse(
            "GS1-EPCIS-Min",
            "Threadline speaks EPCIS 2.0".into(),
        ));
    }
    if let Some(max) = version("GS1-EPCIS-Max")?
        && max < ours
    {
        return Err(refuse(
            "GS1-EPCIS-Max",
            "Threadline speaks EPCIS 2.0".into(),
        ));
    }
    Ok(())
}

fn with_version(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("gs1-epcis-version", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-epcis-min", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-epcis-max", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-cbv-version", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-epcis-capture-limit", HeaderValue::from(CAPTURE_LIMIT));
    h.insert(
        "gs1-epcis-capture-file-size-limit",
        HeaderValue::from(CAPTURE_FILE_SIZE_LIMIT),
    );
    resp
}

/// `OPTIONS` on a resource of the binding: 204 with the methods it takes and what this
/// server speaks — EPCIS and CBV 2.0.0, identifiers as Digital Links unless asked otherwise,
/// the capture limits.
pub fn options(allow: &str) -> Response {
    let mut resp = with_version(StatusCode::NO_CONTENT.into_response());
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(allow) {
        h.insert(header::ALLOW, v);
    }
    h.insert("gs1-cbv-min", HeaderValue::from_static("2.0.0"));
    h.insert("gs1-cbv-max", HeaderValue::from_static("2.0.0"));
    h.insert(
        "gs1-epc-format",
        HeaderValue::from_static("Always_GS1_Digital_Link"),
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
            "dispositions",
            "queries"
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

/// Loads the products the events name by GTIN, and the container units their SSCCs are.
async fn catalogue_for(app: &AppState, doc: &Document) -> Result<Catalogue, Problem> {
    let mut c = Catalogue::default();
    let gtins = ids::gtins(doc.events.iter().flat_map(object_uris));
    for g in gtins {
        if let Some(p) = app.store.product_by_gtin(g.as_str()).await? {
            c.insert(&p.def);
        }
    }
    load_ssccs(app, doc.events.iter().flat_map(object_uris), &mut c).await?;
    Ok(c)
}

/// Notes in `c` the registered container unit each SSCC among `uris` is: a unit whose serial
/// is the SSCC, of a product marked `container`. An SSCC that two container products hold is
/// refused: which of them it names cannot be told.
async fn load_ssccs<'a>(
    app: &AppState,
    uris: impl IntoIterator<Item = &'a str>,
    c: &mut Catalogue,
) -> Result<(), Problem> {
    for sscc in ids::ssccs(uris) {
        let mut found = Vec::new();
        for key in app.store.items_by_serial(&sscc, 10).await? {
            if let Some(p) = app.store.product(key.product.as_str()).await?
                && p.def.container
            {
                found.push(key);
            }
        }
        match found.as_slice() {
            [] => {}
            [key] => c.insert_sscc(&sscc, key.clone()),
            many => {
                return Err(Problem::validation(vec![FieldError::new(
                    "ambiguous_identifier",
                    format!(
                        "SSCC {sscc} is a unit of several container products ({}); it must name one",
                        many.iter()
                            .map(|k| k.product.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )]));
            }
        }
    }
    Ok(())
}

/// The default container product [`ids::SSCC_PRODUCT`], when `events` name one of its units
/// and it does not exist yet: the capture creates it in its transaction, with its audit record.
async fn sscc_product(
    app: &AppState,
    actor: &Actor,
    pending: &crate::audit::Pending,
    status: StatusCode,
    mut events: impl Iterator<Item = &Event>,
) -> Result<Creations, Problem> {
    let named = events.any(|e| {
        e.item_refs()
            .any(|(k, _)| k.product.as_str() == ids::SSCC_PRODUCT)
    });
    if !named || app.store.product(ids::SSCC_PRODUCT).await?.is_some() {
        return Ok(Vec::new());
    }
    let product: threadline_domain::master::Product = serde_json::from_value(json!({
        "code": ids::SSCC_PRODUCT,
        "name": "SSCC logistic units",
        "tracking": "serial",
        "container": true
    }))
    .map_err(|e| Problem::from(AppError::Internal(e.to_string())))?;
    let note =
        crate::audit::AuditNote::object(format!("products/{}", ids::SSCC_PRODUCT)).after(&product);
    let record = pending.record(app, status, &note);
    Ok(vec![(
        threadline_store::MasterWrite {
            record: threadline_domain::master::MasterRecord::Product(product),
            actor: actor.name(),
            now: app.clock.now(),
            id: Uuid::now_v7(),
            replaces: None,
        },
        Some(record),
    )])
}

/// One event of a document after mapping and the checks that need no state: the event, or
/// why it was refused.
type Checked = Result<Event, Problem>;

/// The ledger event an error declaration declares: named by its `urn:uuid:` eventID, by an
/// earlier event of the same document, or by the eventID it was captured with.
async fn declared_event(
    app: &AppState,
    earlier: &[(Option<String>, Uuid)],
    event_id: &str,
) -> Result<Option<Uuid>, Problem> {
    if let Some(Ok(u)) = event_id.strip_prefix("urn:uuid:").map(Uuid::parse_str) {
        return Ok(Some(u));
    }
    if let Some((_, u)) = earlier.iter().find(|(e, _)| e.as_deref() == Some(event_id)) {
        return Ok(Some(*u));
    }
    let page = app
        .store
        .events(&EventQuery {
            epcis_id: Some(event_id.to_owned()),
            declared: Some(false),
            limit: 1,
            ..EventQuery::default()
        })
        .await?;
    Ok(page.items.first().map(|e| e.event.id))
}

/// Maps and checks every event of a document, each on its own; nothing is written.
async fn check_events(
    app: &AppState,
    actor: &Actor,
    doc: &Document,
) -> Result<Vec<Checked>, Problem> {
    let catalogue = catalogue_for(app, doc).await?;
    let within = |i: usize, e: FieldError| {
        if doc.events_path.is_empty() {
            e
        } else {
            e.within(&format!("{}[{i}]", doc.events_path))
        }
    };
    let ctx = CaptureContext {
        actor: actor.name(),
        now: app.clock.now(),
    };
    // The eventIDs of the document's events so far, for declarations of one of them.
    let mut earlier: Vec<(Option<String>, Uuid)> = Vec::new();
    let mut sites = crate::site::SiteCheck::new(&*app.store, actor);
    let mut out = Vec::with_capacity(doc.events.len());
    for (i, ev) in doc.events.iter().enumerate() {
        let mut x = match threadline_epcis::to_request(ev, &doc.context, &catalogue) {
            Ok(x) => x,
            Err(v) => {
                out.push(Err(Problem::validation(
                    v.into_iter().map(|e| within(i, e)).collect(),
                )));
                continue;
            }
        };
        if let Some(declared) = x.declares().map(str::to_owned) {
            let Some(original) = declared_event(app, &earlier, &declared).await? else {
                out.push(Err(Problem::validation(vec![within(
                    i,
                    FieldError::new(
                        "unknown_event",
                        format!("the event declared in error ({declared}) was never captured"),
                    )
                    .at("eventID"),
                )])));
                continue;
            };
            let reason = x
                .request
                .error_declaration
                .as_ref()
                .and_then(|d| d.reason.clone())
                .unwrap_or_else(|| "error declared".to_owned());
            x.request.corrects = Some(Correction {
                event: original,
                reason,
            });
        }
        let missing = actor.permissions.missing(required_for(&x.request));
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
            out.push(Err(Problem::new(
                StatusCode::FORBIDDEN,
                "SecurityException",
                vec![within(
                    i,
                    FieldError::new(
                        "forbidden",
                        format!(
                            "recording this event needs the permission {}, which {} lacks",
                            names.join(", "),
                            actor.name()
                        ),
                    ),
                )],
            )));
            continue;
        }
        let outside = sites.problems(&x.request).await.map_err(Problem::from)?;
        if !outside.is_empty() {
            let named = outside
                .into_iter()
                .map(|mut e| {
                    e.field = e.field.map(|f| match f.as_str() {
                        "biz_location" => "bizLocation.id".to_owned(),
                        "read_point" => "readPoint.id".to_owned(),
                        _ => f,
                    });
                    within(i, e)
                })
                .collect();
            out.push(Err(Problem::new(
                StatusCode::FORBIDDEN,
                "SecurityException",
                named,
            )));
            continue;
        }
        match Event::from_request(x.request.clone(), &ctx, Uuid::now_v7()) {
            Ok(mut e) => {
                if e.error_declaration.is_none() {
                    earlier.push((
                        x.epcis_id
                            .clone()
                            .or_else(|| Some(format!("urn:uuid:{}", e.id))),
                        e.id,
                    ));
                }
                x.finish(&mut e);
                out.push(Ok(e));
            }
            Err(v) => out.push(Err(Problem::validation(
                v.into_iter()
                    .map(|mut e| {
                        e.field = e.field.map(|f| threadline_domain::event::epcis_field(&f));
                        within(i, e)
                    })
                    .collect(),
            ))),
        }
    }
    Ok(out)
}

/// All events, or one problem listing everything wrong with any of them (the status of the
/// first refusal).
fn all_or_nothing(checked: Vec<Checked>) -> Result<Vec<Event>, Problem> {
    let mut events = Vec::with_capacity(checked.len());
    let mut refused: Option<Problem> = None;
    for c in checked {
        match (c, &mut refused) {
            (Ok(e), None) => events.push(e),
            (Ok(_), Some(_)) => {}
            (Err(p), None) => refused = Some(p),
            (Err(p), Some(first)) => first.errors.extend(p.errors),
        }
    }
    match refused {
        Some(p) => Err(p),
        None => Ok(events),
    }
}

/// How `POST /capture` treats an event that cannot be captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorBehaviour {
    /// Nothing is captured (the default).
    Rollback,
    /// Every other event is captured, each on its own.
    Proceed,
}

impl ErrorBehaviour {
    fn of(headers: &HeaderMap) -> Result<Self, Problem> {
        match headers
            .get("gs1-capture-error-behaviour")
            .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("rollback") => Ok(ErrorBehaviour::Rollback),
            Some("proceed") => Ok(ErrorBehaviour::Proceed),
            Some(b) => Err(Problem::validation(vec![
                FieldError::new(
                    "invalid_value",
                    format!("capture error behaviour `{b}` is neither rollback nor proceed"),
                )
                .at("GS1-Capture-Error-Behaviour"),
            ])),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            ErrorBehaviour::Rollback => "rollback",
            ErrorBehaviour::Proceed => "proceed",
        }
    }
}

/// A capture job's errors as RFC 7807 entries.
fn job_errors(p: &Problem) -> Vec<Value> {
    p.errors
        .iter()
        .map(|e| {
            json!({"type": format!("epcisException:{}", p.kind), "title": e.code,
                   "status": p.status.as_u16(), "detail": e.to_string(), "field": e.field})
        })
        .collect()
}

/// Captures the events the store accepts: all or nothing, or each on its own (`proceed`);
/// the errors of the job, and whether an audit record was written. Each capture transaction
/// appends the audit record of what it recorded (`audit`, the job's record completed by its
/// receipts): one for a document captured whole, one per event captured under `proceed`.
async fn record(
    app: &AppState,
    checked: Vec<Checked>,
    behaviour: ErrorBehaviour,
    audit: &JobAudit<'_>,
    events_path: &str,
    mut master: threadline_store::epcis::MasterData,
) -> Result<Recorded, Problem> {
    // What the store refuses names the field inside the batch it was given (`events[0].items[1]`,
    // or a bare field for one event); the job names it inside the document.
    let refusal = |e: StoreError, first: usize| -> Result<Problem, Problem> {
        let mut p = match e {
            e @ (StoreError::Invalid(_) | StoreError::Conflict(_)) => Problem::from(e),
            e => return Err(e.into()),
        };
        for e in &mut p.errors {
            e.field = Some(in_document(e.field.take(), events_path, first));
        }
        Ok(p)
    };
    let mut done = Recorded::default();
    // The events recorded, by id: their place in the document and their eventID.
    let mut placed: HashMap<Uuid, (usize, String)> = HashMap::new();
    match behaviour {
        ErrorBehaviour::Rollback => {
            let events = match all_or_nothing(checked) {
                Ok(events) => events,
                Err(p) => {
                    done.errors = job_errors(&p);
                    return Ok(done);
                }
            };
            let ids: HashMap<Uuid, (usize, String)> = events
                .iter()
                .enumerate()
                .map(|(i, e)| (e.id, (i, threadline_epcis::json::event_id(e))))
                .collect();
            match app
                .store
                .capture_epcis(events, master, Some(audit.of(None)))
                .await
            {
                Ok(_) => {
                    done.recorded = true;
                    placed = ids;
                }
                Err(e) => done.errors = job_errors(&refusal(e, 0)?),
            }
        }
        ErrorBehaviour::Proceed => {
            let mut errors = Vec::new();
            let mut recorded = false;
            // Master records the events need go with each event until one is recorded.
            let creates = std::mem::take(&mut master.creates);
            // The header's master data on its own, as each event is: it stands whatever
            // becomes of the events.
            if !master.elements.is_empty() {
                app.store.capture_epcis(Vec::new(), master, None).await?;
            }
            for (i, c) in checked.into_iter().enumerate() {
                let p = match c {
                    Ok(e) => {
                        let (id, event_id) = (e.id, threadline_epcis::json::event_id(&e));
                        match app
                            .store
                            .capture_epcis(
                                vec![e],
                                threadline_store::epcis::MasterData {
                                    creates: if recorded {
                                        Vec::new()
                                    } else {
                                        creates.clone()
                                    },
                                    ..threadline_store::epcis::MasterData::default()
                                },
                                Some(audit.of(Some(i))),
                            )
                            .await
                        {
                            Ok(_) => {
                                recorded = true;
                                placed.insert(id, (i, event_id));
                                continue;
                            }
                            Err(e) => refusal(e, i)?,
                        }
                    }
                    Err(p) => p,
                };
                errors.extend(job_errors(&p));
            }
            done.errors = errors;
            done.recorded = recorded;
        }
    }
    // What the recorded events disagreed with, named within the document as errors are.
    if !placed.is_empty() {
        let ids: Vec<Uuid> = placed.keys().copied().collect();
        let mut found = app.store.discrepancies(&ids).await?;
        found.sort_by_key(|(id, _)| placed.get(id).map(|(i, _)| *i));
        for (id, d) in found {
            let Some((i, event_id)) = placed.get(&id) else {
                continue;
            };
            let field = match (events_path, d.field.as_str()) {
                ("", f) => f.to_owned(),
                (path, "") => format!("{path}[{i}]"),
                (path, f) => format!("{path}[{i}].{f}"),
            };
            done.discrepancies
                .push(json!({"title": d.code, "detail": d.message,
                "field": field, "eventID": event_id, "kind": d.kind}));
        }
    }
    Ok(done)
}

/// What a capture did: the refusals of its job, the discrepancies of the events it recorded
/// (recorded all the same: see [`threadline_domain::projection::tolerated`]), and whether it
/// recorded anything.
#[derive(Default)]
struct Recorded {
    errors: Vec<Value>,
    discrepancies: Vec<Value>,
    recorded: bool,
}

/// Master records a capture creates for its events, each with its audit record.
type Creations = Vec<(
    threadline_store::MasterWrite,
    Option<threadline_domain::audit::AuditRecord>,
)>;

/// The audit record of a capture job: the request's, naming the job, completed by the
/// receipts of the transaction it is appended in.
struct JobAudit<'a> {
    app: &'a AppState,
    pending: &'a crate::audit::Pending,
    note: crate::audit::AuditNote,
}

impl JobAudit<'_> {
    /// The record of the transaction that captures the document's event `event` (`None`: all
    /// of them).
    fn of(
        &self,
        event: Option<usize>,
    ) -> threadline_store::AuditOf<Vec<threadline_store::Receipt>> {
        let note = self.note.clone();
        self.pending.record_of(
            self.app,
            StatusCode::ACCEPTED,
            move |r: &Vec<threadline_store::Receipt>| {
                let mut after = crate::api::receipts_summary(r, false);
                if let Some(i) = event {
                    after["event"] = json!(i);
                }
                note.after(after)
            },
        )
    }
}

/// A field the store names within a batch whose first event is the document's event `first`
/// (`events[2].items[0].serial`, or `eventID` for a batch of one), named within the document
/// (`epcisBody.eventList[2].items[0].serial`).
fn in_document(field: Option<String>, events_path: &str, first: usize) -> String {
    let field = field.unwrap_or_default();
    if events_path.is_empty() {
        return field;
    }
    let (index, rest) = match field
        .strip_prefix("events[")
        .and_then(|r| r.split_once(']'))
        .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)))
    {
        Some((n, rest)) => (first + n, rest.strip_prefix('.').unwrap_or(rest).to_owned()),
        None => (first, field),
    };
    match threadline_domain::event::epcis_field(&rest) {
        f if f.is_empty() => format!("{events_path}[{index}]"),
        f => format!("{events_path}[{index}].{f}"),
    }
}

/// `POST /epcis/capture`: an EPCISDocument (or EPCISQueryDocument), all or nothing unless
/// `GS1-Capture-Error-Behaviour: proceed`. The job is stored, so its outcome outlives a
/// restart; it keeps the sender and its site, which alone read it back.
pub async fn capture(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    negotiate(&headers)?;
    let behaviour = ErrorBehaviour::of(&headers)?;
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
    let checked = check_events(&app, &actor, &doc).await?;
    if behaviour == ErrorBehaviour::Rollback && checked.iter().any(Result::is_err) {
        // A document that cannot be read as events, or that the caller may not record, is
        // refused at once; the job reports what the ledger's state refuses.
        return Err(all_or_nothing(checked)
            .err()
            .unwrap_or_else(|| Problem::validation(Vec::new())));
    }
    let id = Uuid::now_v7().to_string();
    let created = app.clock.now();
    let note = crate::audit::AuditNote::object(format!("epcis/capture/{id}"));
    let audit = JobAudit {
        app: &app,
        pending: &pending,
        note: note.clone(),
    };
    let accepted = checked.iter().filter_map(|c| c.as_ref().ok());
    let creates = sscc_product(&app, &actor, &pending, StatusCode::ACCEPTED, accepted).await?;
    let master = threadline_store::epcis::MasterData {
        elements: doc.master_data,
        recorded_at: created,
        creates,
    };
    let Recorded {
        errors,
        discrepancies,
        recorded,
    } = record(&app, checked, behaviour, &audit, doc.events_path, master).await?;
    let at = created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut job = json!({"captureID": id, "createdAt": at, "finishedAt": at, "running": false,
        "success": errors.is_empty(), "captureErrorBehaviour": behaviour.as_str(), "errors": errors});
    // Threadline's addition to the standard's job: where the recorded events disagreed with
    // its state (a partner's report is recorded all the same).
    if !discrepancies.is_empty() {
        job["discrepancies"] = Value::Array(discrepancies);
    }
    app.store
        .put_capture_job(CaptureJob {
            id: id.clone(),
            created_at: created,
            actor: actor.name(),
            site: actor.site.clone(),
            job,
        })
        .await?;
    let mut resp = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/epcis/capture/{id}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    // A job that recorded nothing leaves the guard its record (naming the job); one that
    // recorded events appended its records with them.
    let note = if recorded { note.recorded() } else { note };
    Ok(note.on(with_version(resp)))
}

/// `GET /epcis/capture/{captureID}`: the job, to the account that sent it, an account of the
/// site it was sent from, or an account bound to no site or partner; anything else is not
/// known.
pub async fn capture_job(
    State(app): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let readable = |job: &CaptureJob| {
        job.actor == actor.name()
            || (actor.party.is_none()
                && actor
                    .site
                    .as_ref()
                    .is_none_or(|site| job.site.as_ref() == Some(site)))
    };
    match app.store.capture_job(&id).await? {
        Some(job) if readable(&job) => Ok(with_version(axum::Json(job.job).into_response())),
        _ => Err(Problem::new(
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
    pending: crate::audit::Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    negotiate(&headers)?;
    let doc = read_document(&headers, &body)?;
    if doc.events.len() != 1 {
        return Err(Problem::validation(vec![FieldError::new(
            "one_event",
            "POST /events takes one event; send documents to /capture",
        )]));
    }
    let events = all_or_nothing(check_events(&app, &actor, &doc).await?)?;
    let id = events
        .first()
        .map(threadline_epcis::json::event_id)
        .unwrap_or_default();
    let note = crate::api::capture_note(&events);
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |r: &Vec<threadline_store::Receipt>| note.after(crate::api::receipts_summary(r, false))
    });
    let creates = sscc_product(&app, &actor, &pending, StatusCode::CREATED, events.iter()).await?;
    let master = threadline_store::epcis::MasterData {
        elements: doc.master_data,
        recorded_at: app.clock.now(),
        creates,
    };
    app.store.capture_epcis(events, master, Some(audit)).await?;
    let mut resp = note.recorded().on(StatusCode::CREATED.into_response());
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
    seen: Visibility,
    events: Vec<Event>,
    next: Option<String>,
) -> Result<Response, Problem> {
    let events = masked(events, seen);
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
    let format = EpcFormat::parse(headers.get("gs1-epc-format").and_then(|v| v.to_str().ok()))
        .map_err(|e| Problem::validation(vec![e]))?;
    let as_captured = |form: &mut serde_json::Map<String, Value>, e: &Event| {
        if format == EpcFormat::NeverTranslates {
            threadline_epcis::format::as_captured(
                form,
                e.epcis.get(threadline_epcis::format::CAPTURED_FORMS),
            );
        }
    };
    let written = |e: &Event| {
        let mut form = threadline_epcis::event_json(e, &catalogue);
        threadline_epcis::format::reformat(&mut form, format, &app.company_prefixes);
        as_captured(&mut form, e);
        form
    };
    let mut resp = if is_xml(headers, header::ACCEPT) {
        let list: Vec<_> = events.iter().map(written).collect();
        let ctx = threadline_epcis::json::context_of(&events);
        let text = threadline_epcis::xml::write_document(
            &list,
            &ctx,
            Some("SimpleEventQuery"),
            &now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
        ([(header::CONTENT_TYPE, "application/xml")], text).into_response()
    } else {
        let mut doc =
            threadline_epcis::query_document("SimpleEventQuery", &events, &catalogue, now);
        threadline_epcis::format::reformat_document(&mut doc, format, &app.company_prefixes);
        if let Some(list) =
            doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array_mut()
        {
            for (form, e) in list.iter_mut().zip(&events) {
                if let Some(form) = form.as_object_mut() {
                    as_captured(form, e);
                }
            }
        }
        (
            [(header::CONTENT_TYPE, "application/ld+json")],
            doc.to_string(),
        )
            .into_response()
    };
    if let Some(link) = next
        && let Ok(v) = HeaderValue::from_str(&format!("<{link}>; rel=\"next\""))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp.headers_mut()
        .insert("gs1-epc-format", HeaderValue::from_static(format.applied()));
    Ok(with_version(resp))
}

/// `GET /epcis/events/{eventID}`.
pub async fn get_event(
    State(app): State<AppState>,
    actor: Actor,
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
    let ev = match Uuid::parse_str(id.strip_prefix("urn:uuid:").unwrap_or(&id)) {
        Ok(uuid) => app.store.event(uuid).await?,
        Err(_) => app
            .store
            .events(&EventQuery {
                epcis_id: Some(id.clone()),
                declared: Some(false),
                limit: 1,
                ..EventQuery::default()
            })
            .await?
            .items
            .into_iter()
            .next(),
    };
    let ev = ev.ok_or_else(not_found)?;
    // An account of one site reads the events that happened there.
    if let Some(site) = crate::site::SiteScope::of(&*app.store, &actor).await?
        && !site.happened_here(&ev.event)
    {
        return Err(not_found());
    }
    respond(&app, &headers, actor.visibility(), vec![ev.event], None).await
}

/// Events read from the store per step of a query's scan.
const SCAN_CHUNK: u32 = 500;
/// Most events one request looks at; a page cut short by it still has a next page.
const SCAN_LIMIT: usize = 100_000;
/// Most matching events a sorted or counted query collects before it must be narrowed.
const COLLECT_LIMIT: usize = 10_000;

/// The products of events, loaded once per request, for writing them as EPCIS.
#[derive(Default)]
struct Products {
    loaded: BTreeSet<String>,
    catalogue: Catalogue,
}

impl Products {
    async fn load(&mut self, app: &AppState, events: &[Event]) -> Result<(), Problem> {
        let codes: BTreeSet<String> = events
            .iter()
            .flat_map(|e| {
                e.item_refs()
                    .map(|(k, _)| k.product.to_string())
                    .chain(e.lot_refs().map(|(q, _)| q.product.to_string()))
            })
            .filter(|c| !self.loaded.contains(c))
            .collect();
        for code in codes {
            if let Some(p) = app.store.product(&code).await? {
                self.catalogue.insert(&p.def);
            }
            self.loaded.insert(code);
        }
        Ok(())
    }
}

/// The places under `code`, through every level of `parent`.
async fn descendants(app: &AppState, code: &str) -> Result<Vec<String>, Problem> {
    let mut out = Vec::new();
    let mut pending = vec![code.to_owned()];
    while let Some(parent) = pending.pop() {
        let mut after = None;
        loop {
            let page = app
                .store
                .locations(&threadline_store::ListQuery {
                    parent: Some(parent.clone()),
                    after: after.clone(),
                    limit: 1000,
                    ..threadline_store::ListQuery::default()
                })
                .await?;
            for l in page.items {
                let c = l.def.code.as_str().to_owned();
                if !out.contains(&c) && c != code {
                    out.push(c.clone());
                    pending.push(c);
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    Ok(out)
}

/// The store filter for what the query's indexes can answer, or `None` when the query names
/// something Threadline does not hold (it matches nothing).
async fn narrowed(app: &AppState, filter: &Filter) -> Result<Option<EventQuery>, Problem> {
    let n = filter.narrowing();
    let mut q = EventQuery {
        kind: n.event_type.as_deref().and_then(kind_of),
        from: n.from,
        to: n.to,
        biz_step: n.biz_step,
        declared: n.declared,
        limit: SCAN_CHUNK,
        ..EventQuery::default()
    };
    if let Some(uri) = &n.biz_location {
        match ids::location(uri) {
            Ok(code) => q.biz_location = Some(code.as_str().to_owned()),
            Err(_) => return Ok(None),
        }
    }
    if let Some((kind, uri)) = &n.biz_transaction
        && let Ok(id) = ids::transaction(uri)
    {
        q.biz_transaction = Some((kind.clone(), id));
    }
    if let Some(uri) = &n.epc {
        match pattern_of(app, uri).await? {
            Ok(Pattern::Unit(k)) => {
                q.item = Some(k);
                q.given = threadline_store::epcis::object_uris(uri);
            }
            Ok(Pattern::Lot(k)) => {
                q.lot = Some(k);
                q.given = threadline_store::epcis::object_uris(uri);
            }
            // No index holds what Threadline records as given: every event is judged.
            Ok(Pattern::Product(_) | Pattern::Other) => {}
            Ok(Pattern::Nothing) | Err(_) => return Ok(None),
        }
    }
    if let Some(objects) = &n.objects {
        q.objects = untracked_objects(app, objects).await?;
    }
    Ok(Some(q))
}

/// What one EPC or pattern of a query names, read against the products its GTINs and the
/// containers its SSCCs name.
async fn pattern_of(
    app: &AppState,
    uri: &str,
) -> Result<Result<Pattern, threadline_domain::FieldError>, Problem> {
    let mut c = Catalogue::default();
    for g in ids::gtins([uri]) {
        if let Some(p) = app.store.product_by_gtin(g.as_str()).await? {
            c.insert(&p.def);
        }
    }
    load_ssccs(app, [uri], &mut c).await?;
    Ok(ids::pattern(&c, uri))
}

/// The EPC schemes of the GS1 keys Threadline records as given, with the application
/// identifier their Digital Links lead with (the index holds their canonical Digital Links,
/// and the EPC URNs events wrote).
const RECORDED_SCHEMES: &[(&str, Option<&str>)] = &[
    ("sgln", Some("414")),
    ("pgln", Some("417")),
    ("grai", Some("8003")),
    ("giai", Some("8004")),
    ("gsrn", Some("8018")),
    ("gsrnp", Some("8017")),
    ("gdti", Some("253")),
    ("sgcn", Some("255")),
    ("ginc", Some("401")),
    ("gsin", Some("402")),
    ("itip", Some("8006")),
    ("cpi", Some("8010")),
    ("gid", None),
    ("usdod", None),
    ("adi", None),
    ("bic", None),
    ("imovn", None),
];

/// What the index of objects recorded as given (`event_objects`) narrows a `MATCH_` on
/// objects to, or `None` when a value may name a unit Threadline tracks (a unit, a lot, an
/// SGTIN or SSCC pattern, a scheme it does not know): those are judged on every event.
async fn untracked_objects(
    app: &AppState,
    objects: &[threadline_epcis::query::ObjectPattern],
) -> Result<Option<Vec<threadline_store::ObjectMatch>>, Problem> {
    use threadline_epcis::query::ObjectPattern;
    use threadline_store::ObjectMatch;
    let mut out = Vec::new();
    for o in objects {
        match o {
            ObjectPattern::Exact(uri) => match pattern_of(app, uri).await? {
                Ok(Pattern::Other) => out.push(ObjectMatch::Uri(uri.clone())),
                _ => return Ok(None),
            },
            ObjectPattern::Scheme(scheme) => {
                let Some((_, ai)) = RECORDED_SCHEMES.iter().find(|(s, _)| s == scheme) else {
                    return Ok(None);
                };
                out.push(ObjectMatch::Prefix(format!("urn:epc:id:{scheme}:")));
                if let Some(ai) = ai {
                    out.push(ObjectMatch::Prefix(format!("https://id.gs1.org/{ai}/")));
                }
            }
        }
    }
    Ok(Some(out))
}

/// The query of `params`, with the places under each `WD_` place added: the closure of two
/// hierarchies — Threadline's own locations (`parent`) and the `children` of the EPCIS master
/// data captured in documents' headers (`ReadPoint` elements for `WD_readPoint`,
/// `BusinessLocation` for `WD_bizLocation`) —, each place found looked up in both.
async fn prepared_filter(app: &AppState, params: &[(String, String)]) -> Result<Filter, Problem> {
    let mut filter = Filter::parse(params).map_err(Problem::query)?;
    for (field, uris) in filter.wd.clone() {
        let vtype = threadline_epcis::masterdata::hierarchy_of(field);
        for uri in uris {
            let below = with_descendants(app, vtype, &uri)
                .await
                .map_err(|p| match p {
                    Descent::Refused(e) => Problem::query(e.at(if field == "readPoint" {
                        "WD_readPoint"
                    } else {
                        "WD_bizLocation"
                    })),
                    Descent::Failed(p) => p,
                })?;
            filter.add_descendants(field, below);
        }
    }
    let mut places: Option<Vec<threadline_domain::master::Location>> = None;
    for (i, q) in filter.attributes.clone().into_iter().enumerate() {
        let found = with_attributes(app, &q, &mut places).await?;
        filter.add_attribute_matches(i, found);
    }
    Ok(filter)
}

/// Most vocabulary elements one `EQ_ATTR_`/`HASATTR_` parameter may stand for.
const ATTRIBUTE_LIMIT: usize = 100_000;

/// The elements of `q`'s field whose master data answers it: the captured master data of the
/// field's vocabulary type and — for `readPoint` and `bizLocation` — Threadline's own
/// locations, whose attributes are their master records' ([`location_attributes`]).
async fn with_attributes(
    app: &AppState,
    q: &threadline_epcis::query::AttributeQuery,
    places: &mut Option<Vec<threadline_domain::master::Location>>,
) -> Result<Vec<String>, Problem> {
    const PAGE: u32 = 1000;
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .vocabulary_page(q.vtype, after.as_deref(), PAGE)
            .await?;
        let full = page.len() == PAGE as usize;
        for e in page {
            let key = e.element.key();
            if q.holds(&e.element.attributes) {
                out.push(key.clone());
            }
            after = Some(key);
        }
        if out.len() > ATTRIBUTE_LIMIT {
            return Err(Problem::query(
                FieldError::new(
                    "too_many_places",
                    format!(
                        "{} stands for more than {ATTRIBUTE_LIMIT} elements",
                        q.param
                    ),
                )
                .at(&q.param),
            ));
        }
        if !full {
            break;
        }
    }
    if q.field == "epcClass" {
        return Ok(out);
    }
    if places.is_none() {
        *places = Some(all_locations(app).await?);
    }
    let all = places.as_deref().unwrap_or_default();
    let parents: std::collections::BTreeMap<&str, &threadline_domain::codes::LocationCode> = all
        .iter()
        .filter_map(|l| l.parent.as_ref().map(|p| (l.code.as_str(), p)))
        .collect();
    for l in all {
        if q.holds(&location_attributes(l, &parents)) {
            out.push(ids::location_uri(&l.code));
        }
    }
    Ok(out)
}

/// Every Threadline location.
async fn all_locations(
    app: &AppState,
) -> Result<Vec<threadline_domain::master::Location>, Problem> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .locations(&threadline_store::ListQuery {
                after: after.clone(),
                limit: 1000,
                ..threadline_store::ListQuery::default()
            })
            .await?;
        out.extend(page.items.into_iter().map(|l| l.def));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(out)
}

/// A Threadline location's master record as EPCIS master data attributes: CBV's where CBV
/// has one — `urn:epcglobal:cbv:mda#name`, and `…#site` (the site it is in: its outermost
/// location, for a place inside another) —, Threadline's own fields in `urn:threadline:field:`
/// (`kind`, `parent`, `party`, `region`).
fn location_attributes(
    l: &threadline_domain::master::Location,
    parents: &std::collections::BTreeMap<&str, &threadline_domain::codes::LocationCode>,
) -> Vec<Value> {
    let attr = |id: &str, v: String| json!({"id": id, "attribute": v});
    let mut out = vec![
        attr("urn:epcglobal:cbv:mda#name", l.name.clone()),
        attr("urn:threadline:field:kind", l.kind.as_str().to_owned()),
    ];
    if let Some(parent) = &l.parent {
        out.push(attr(
            "urn:threadline:field:parent",
            ids::location_uri(parent),
        ));
        // The outermost place it is in (a cycle cannot be stored; the walk is bounded anyway).
        let mut site = parent;
        for _ in 0..parents.len() {
            match parents.get(site.as_str()) {
                Some(up) => site = up,
                None => break,
            }
        }
        out.push(attr("urn:epcglobal:cbv:mda#site", ids::location_uri(site)));
    }
    if let Some(p) = &l.party {
        out.push(attr("urn:threadline:field:party", ids::party_uri(p)));
    }
    if let Some(r) = &l.region {
        out.push(attr("urn:threadline:field:region", r.clone()));
    }
    out
}

/// Why the places under a `WD_` place could not be listed.
enum Descent {
    /// The place is neither a Threadline location nor an element of the captured master data,
    /// or stands for too many places.
    Refused(FieldError),
    Failed(Problem),
}

impl From<Problem> for Descent {
    fn from(p: Problem) -> Self {
        Descent::Failed(p)
    }
}

impl From<StoreError> for Descent {
    fn from(e: StoreError) -> Self {
        Descent::Failed(e.into())
    }
}

/// Most places one `WD_` place may stand for.
const DESCENDANT_LIMIT: usize = 100_000;

/// The URIs of the places under `uri` (itself left out), through Threadline's location tree
/// and the master data of type `vtype`, level by level.
async fn with_descendants(app: &AppState, vtype: &str, uri: &str) -> Result<Vec<String>, Descent> {
    use threadline_epcis::masterdata::key;
    if let Err(e) = ids::location(uri)
        && app.store.vocabulary(vtype, &[key(uri)]).await?.is_empty()
    {
        return Err(Descent::Refused(e));
    }
    let mut seen: BTreeSet<String> = BTreeSet::from([key(uri)]);
    let mut out = Vec::new();
    // Each place of a level, and whether Threadline's tree below it is listed already (every
    // level of it is listed at once).
    let mut level = vec![(uri.to_owned(), false)];
    while !level.is_empty() {
        let mut next = Vec::new();
        for (u, listed) in &level {
            if !listed && let Ok(code) = ids::location(u) {
                for c in descendants(app, code.as_str()).await? {
                    if let Ok(c) = threadline_domain::LocationCode::parse(&c) {
                        next.push((ids::location_uri(&c), true));
                    }
                }
            }
        }
        let keys: Vec<String> = level.iter().map(|(u, _)| key(u)).collect();
        for stored in app.store.vocabulary(vtype, &keys).await? {
            next.extend(stored.element.children.into_iter().map(|c| (c, false)));
        }
        level = Vec::new();
        for (u, listed) in next {
            if seen.insert(key(&u)) {
                out.push(u.clone());
                level.push((u, listed));
            }
        }
        if out.len() > DESCENDANT_LIMIT {
            return Err(Descent::Refused(FieldError::new(
                "too_many_places",
                format!("{uri} stands for more than {DESCENDANT_LIMIT} places"),
            )));
        }
    }
    Ok(out)
}

/// Does the event's EPCIS form match the query?
fn judge(filter: &Filter, ev: &Event, catalogue: &Catalogue) -> bool {
    let form = threadline_epcis::event_json(ev, catalogue);
    let ctx = threadline_epcis::json::context_of(std::iter::once(ev));
    filter.matches(&form, &ctx)
}

/// Who reads a query's answer: what restricted fields they see, a partner's wall and a site's
/// (each `None` for an account without).
pub struct Reader {
    seen: Visibility,
    partner: Option<Partner>,
    site: Option<crate::site::SiteScope>,
}

impl Reader {
    pub async fn of(app: &AppState, actor: &Actor) -> Result<Reader, Problem> {
        Ok(Reader {
            seen: actor.visibility(),
            partner: Partner::of(&*app.store, actor).await?,
            site: crate::site::SiteScope::of(&*app.store, actor).await?,
        })
    }
}

/// Runs a Simple Event Query: narrows by the indexes, then keeps the events whose EPCIS form
/// matches, in ledger order one page at a time (`nextPageToken` is the last sequence number
/// shown), or — with `orderBy`, `eventCountLimit` or `maxEventCount` — collected, sorted and
/// paged by position (`o{offset}`).
/// `link` holds the parameters the next page's address repeats (the request's own).
pub async fn run_query(
    app: &AppState,
    headers: &HeaderMap,
    reader: Reader,
    path: &str,
    params: Vec<(String, String)>,
    link: Vec<(String, String)>,
) -> Result<Response, Problem> {
    negotiate(headers)?;
    let Reader {
        seen,
        mut partner,
        site,
    } = reader;
    let filter = prepared_filter(app, &params).await?;
    let per_page = filter.per_page.unwrap_or(PER_PAGE) as usize;
    let bad_token = |t: &str| {
        Problem::query(
            FieldError::new(
                "invalid_value",
                format!("`{t}` is not a page token from this server"),
            )
            .at("nextPageToken"),
        )
    };
    let Some(mut q) = narrowed(app, &filter).await? else {
        return respond(app, headers, seen, Vec::new(), None).await;
    };
    let mut products = Products::default();
    let collect = filter.collects();
    let offset = match (&filter.next_page_token, collect) {
        (Some(t), true) => t
            .strip_prefix('o')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| bad_token(t))?,
        (Some(t), false) => {
            q.after_seq = Some(t.parse::<i64>().map_err(|_| bad_token(t))?);
            0
        }
        (None, _) => 0,
    };
    let mut found: Vec<(i64, Event)> = Vec::new();
    let mut scanned = 0usize;
    let mut last_seen = None;
    let mut cut_short = false;
    let wanted = if collect {
        filter
            .max_event_count
            .map_or(COLLECT_LIMIT, |m| m.min(COLLECT_LIMIT))
            + 1
    } else {
        per_page + 1
    };
    'scan: loop {
        let page = app.store.events(&q).await?;
        // Judged on what the actor may see, so a filter cannot probe a masked value.
        let events: Vec<Event> = page
            .items
            .iter()
            .map(|s| masked(s.event.clone(), seen))
            .collect();
        products.load(app, &events).await?;
        for (stored, mut ev) in page.items.iter().zip(events) {
            scanned += 1;
            last_seen = Some(stored.seq);
            // A partner sees an event only through the units shipped to it, and only those;
            // an account of one site the events that happened there.
            if let Some(p) = partner.as_mut()
                && !p.redact(&*app.store, &mut ev).await?
            {
                continue;
            }
            if site.as_ref().is_some_and(|s| !s.happened_here(&ev)) {
                continue;
            }
            if judge(&filter, &ev, &products.catalogue) {
                found.push((stored.seq, ev));
                if found.len() >= wanted {
                    break 'scan;
                }
            }
        }
        match page.next {
            Some(n) if !collect && scanned >= SCAN_LIMIT => {
                cut_short = n.parse::<i64>().is_ok();
                break;
            }
            Some(n) => q.after_seq = Some(n.parse::<i64>().map_err(|_| bad_token(&n))?),
            None => break,
        }
    }
    let next = if collect {
        if let Some(max) = filter.max_event_count
            && found.len() > max
        {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "QueryTooLargeException",
                vec![
                    FieldError::new(
                        "too_many_events",
                        format!("more than {max} events match this query"),
                    )
                    .at("maxEventCount"),
                ],
            ));
        }
        if found.len() > COLLECT_LIMIT {
            return Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "QueryTooLargeException",
                vec![FieldError::new(
                    "too_many_events",
                    format!(
                        "more than {COLLECT_LIMIT} events match a sorted or counted query; narrow it"
                    ),
                )],
            ));
        }
        if let Some((by, asc)) = filter.order {
            found.sort_by_key(|(seq, e)| {
                let t = match by {
                    OrderBy::EventTime => e.event_time,
                    OrderBy::RecordTime => e.record_time,
                };
                (t, *seq)
            });
            if !asc {
                found.reverse();
            }
        }
        if let Some(limit) = filter.event_count_limit {
            found.truncate(limit);
        }
        let total = found.len();
        let page: Vec<(i64, Event)> = found.into_iter().skip(offset).take(per_page).collect();
        let shown = offset + page.len();
        found = page;
        (shown < total).then(|| format!("o{shown}"))
    } else if found.len() > per_page {
        found.truncate(per_page);
        found.last().map(|(seq, _)| seq.to_string())
    } else if cut_short {
        last_seen.map(|s| s.to_string())
    } else {
        None
    };
    let next = next.map(|token| {
        let mut link: Vec<String> = link
            .iter()
            .filter(|(k, _)| k != "nextPageToken")
            .map(|(k, v)| format!("{}={}", utf8_percent(k), utf8_percent(v)))
            .collect();
        link.push(format!("nextPageToken={token}"));
        format!("{path}?{}", link.join("&"))
    });
    let events = found.into_iter().map(|(_, e)| e).collect();
    respond(app, headers, seen, events, next).await
}

/// `GET /epcis/events`: the Simple Event Query.
pub async fn query(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params = form_urlencoded(raw.as_deref().unwrap_or(""));
    let reader = Reader::of(&app, &actor).await?;
    run_query(
        &app,
        &headers,
        reader,
        "/epcis/events",
        params.clone(),
        params,
    )
    .await
}

/// The event types (`GET /epcis/eventTypes`).
pub async fn event_types() -> Response {
    with_version(
        axum::Json(json!([
            "ObjectEvent",
            "AggregationEvent",
            "TransactionEvent",
            "TransformationEvent",
            "AssociationEvent"
        ]))
        .into_response(),
    )
}

/// The CBV business steps (`GET /epcis/bizSteps`).
pub async fn biz_steps() -> Response {
    with_version(axum::Json(threadline_domain::event::CBV_BIZ_STEPS).into_response())
}

/// The CBV dispositions (`GET /epcis/dispositions`).
pub async fn dispositions() -> Response {
    with_version(axum::Json(threadline_domain::event::CBV_DISPOSITIONS).into_response())
}

/// Every place, as the URI events name it (`GET /epcis/bizLocations`, `/readPoints`); for an
/// account of one site, the site's.
pub async fn places(State(app): State<AppState>, actor: Actor) -> Result<Response, Problem> {
    if let Some(site) = crate::site::SiteScope::of(&*app.store, &actor).await? {
        let out: Vec<String> = site
            .places()
            .iter()
            .filter_map(|c| threadline_domain::LocationCode::parse(c).ok())
            .map(|c| ids::location_uri(&c))
            .collect();
        return Ok(with_version(axum::Json(out).into_response()));
    }
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .locations(&threadline_store::ListQuery {
                after,
                limit: 1000,
                ..threadline_store::ListQuery::default()
            })
            .await?;
        out.extend(page.items.iter().map(|l| ids::location_uri(&l.def.code)));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(with_version(axum::Json(out).into_response()))
}

/// Every product, as the EPC class pattern its units and lots fall under (`GET /epcis/epcs`):
/// `…/{id}/events` takes a pattern or one EPC.
pub async fn epcs(State(app): State<AppState>) -> Result<Response, Problem> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .products(&threadline_store::ListQuery {
                after,
                limit: 1000,
                ..threadline_store::ListQuery::default()
            })
            .await?;
        out.extend(page.items.iter().map(|p| ids::product_uri(&p.def)));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(with_version(axum::Json(out).into_response()))
}

/// `GET /epcis/{resource}/{id}/events`: the query with the resource's own parameter added.
async fn resource_events(
    app: &AppState,
    headers: &HeaderMap,
    reader: Reader,
    raw: Option<String>,
    path: String,
    param: &str,
    value: String,
) -> Result<Response, Problem> {
    let own = form_urlencoded(raw.as_deref().unwrap_or(""));
    let mut params = own.clone();
    params.push((param.to_owned(), value));
    run_query(app, headers, reader, &path, params, own).await
}

macro_rules! resource_events {
    ($(#[$doc:meta])* $name:ident, $resource:literal, $param:literal) => {
        $(#[$doc])*
        pub async fn $name(
            State(app): State<AppState>,
            actor: Actor,
            headers: HeaderMap,
            Path(id): Path<String>,
            RawQuery(raw): RawQuery,
        ) -> Result<Response, Problem> {
            let path = format!(concat!("/epcis/", $resource, "/{}/events"), utf8_percent(&id));
            let reader = Reader::of(&app, &actor).await?;
            resource_events(&app, &headers, reader, raw, path, $param, id).await
        }
    };
}

resource_events!(
    /// `GET /epcis/eventTypes/{type}/events`.
    event_type_events, "eventTypes", "eventType");
resource_events!(
    /// `GET /epcis/epcs/{epc}/events`: events naming the EPC (or pattern) in any role.
    epc_events, "epcs", "MATCH_anyEPC");
resource_events!(
    /// `GET /epcis/bizSteps/{bizStep}/events`.
    biz_step_events, "bizSteps", "EQ_bizStep");
resource_events!(
    /// `GET /epcis/bizLocations/{location}/events`.
    biz_location_events, "bizLocations", "EQ_bizLocation");
resource_events!(
    /// `GET /epcis/readPoints/{location}/events`.
    read_point_events, "readPoints", "EQ_readPoint");
resource_events!(
    /// `GET /epcis/dispositions/{disposition}/events`.
    disposition_events, "dispositions", "EQ_disposition");

/// A named query as `/epcis/queries` shows it.
fn query_json(q: &threadline_store::NamedQuery) -> Value {
    json!({"name": q.name, "query": q.query,
        "createdAt": q.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "createdBy": q.created_by})
}

fn no_query(name: &str) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "NoSuchNameException",
        vec![FieldError::new("not_found", format!("there is no query named {name}")).at("name")],
    )
}

/// `POST /epcis/queries`: `{"name", "query": {parameter: value or [values]}}`, checked like
/// `GET /events` parameters; 201 with the query's address.
pub async fn create_query(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    body: Bytes,
) -> Result<Response, Problem> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::validation(vec![FieldError::new(
            "invalid_json",
            format!("the body is not JSON: {e}"),
        )])
    })?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty()
        || name.len() > 128
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Problem::validation(vec![
            FieldError::new(
                "invalid_value",
                "a query name is 1–128 letters, digits, `-`, `_` or `.`",
            )
            .at("name"),
        ]));
    }
    let Some(obj) = v.get("query").and_then(Value::as_object) else {
        return Err(Problem::validation(vec![
            FieldError::new("required", "`query` is an object of query parameters").at("query"),
        ]));
    };
    let mut query = std::collections::BTreeMap::new();
    for (k, x) in obj {
        let text = match x {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(a) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("|"),
            _ => {
                return Err(Problem::validation(vec![
                    FieldError::new(
                        "invalid_value",
                        "a value is text, a number or a list of text",
                    )
                    .at(format!("query.{k}")),
                ]));
            }
        };
        query.insert(k.clone(), text);
    }
    let params: Vec<(String, String)> = query.clone().into_iter().collect();
    Filter::parse(&params).map_err(|e| Problem::query(e.within("query")))?;
    let q = threadline_store::NamedQuery {
        name: name.to_owned(),
        query,
        created_at: app.clock.now(),
        created_by: actor.name(),
    };
    // Recorded with the query, in its transaction: who made it and what it asks.
    let note =
        crate::audit::AuditNote::object(format!("epcis/queries/{name}")).after(query_json(&q));
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |_: &threadline_store::NamedQuery| note
    });
    app.store.create_named_query(q.clone(), Some(audit)).await?;
    let mut resp = note
        .recorded()
        .on((StatusCode::CREATED, axum::Json(query_json(&q))).into_response());
    if let Ok(v) = HeaderValue::from_str(&format!("/epcis/queries/{name}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(with_version(resp))
}

/// `GET /epcis/queries`.
pub async fn queries(State(app): State<AppState>) -> Result<Response, Problem> {
    let list: Vec<Value> = app
        .store
        .named_queries()
        .await?
        .iter()
        .map(query_json)
        .collect();
    Ok(with_version(axum::Json(list).into_response()))
}

/// `GET /epcis/queries/{name}`.
pub async fn named_query(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let q = app
        .store
        .named_query(&name)
        .await?
        .ok_or_else(|| no_query(&name))?;
    Ok(with_version(axum::Json(query_json(&q)).into_response()))
}

/// `DELETE /epcis/queries/{name}`.
pub async fn delete_query(
    State(app): State<AppState>,
    pending: crate::audit::Pending,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let existing = app
        .store
        .named_query(&name)
        .await?
        .ok_or_else(|| no_query(&name))?;
    // Recorded with the deletion, in its transaction: what the query asked.
    let note = crate::audit::AuditNote::object(format!("epcis/queries/{name}"))
        .before(query_json(&existing));
    let audit = pending.record_of(&app, StatusCode::NO_CONTENT, {
        let note = note.clone();
        move |(): &()| note
    });
    match app.store.delete_named_query(&name, Some(audit)).await {
        Ok(()) => Ok(with_version(
            note.recorded().on(StatusCode::NO_CONTENT.into_response()),
        )),
        Err(StoreError::NotFound(_)) => Err(no_query(&name)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /epcis/queries/{name}/events`: the stored parameters, paged by the request's
/// `perPage` and `nextPageToken`.
pub async fn named_query_events(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Problem> {
    let q = app
        .store
        .named_query(&name)
        .await?
        .ok_or_else(|| no_query(&name))?;
    let mut params: Vec<(String, String)> = q.query.into_iter().collect();
    let own = form_urlencoded(raw.as_deref().unwrap_or(""));
    match ws {
        Ok(ws) => {
            negotiate(&headers)?;
            let reader = Reader::of(&app, &actor).await?;
            params.retain(|(k, _)| !SUBSCRIPTION_IGNORES.contains(&k.as_str()));
            return stream::open(app, &headers, reader, name, params, &own, ws).await;
        }
        Err(refused) if headers.contains_key(header::UPGRADE) => {
            return Ok(refused.into_response());
        }
        Err(_) => {}
    }
    for (k, v) in own.clone() {
        if k != "perPage" && k != "nextPageToken" {
            return Err(Problem::query(
                FieldError::new(
                    "not_allowed",
                    "a named query takes only perPage and nextPageToken",
                )
                .at(k),
            ));
        }
        params.retain(|(p, _)| *p != k);
        params.push((k, v));
    }
    let path = format!("/epcis/queries/{}/events", utf8_percent(&name));
    let reader = Reader::of(&app, &actor).await?;
    run_query(&app, &headers, reader, &path, params, own).await
}

/// Query parameters that shape a response, not what matches: a subscription ignores them.
pub(crate) const SUBSCRIPTION_IGNORES: [&str; 6] = [
    "orderBy",
    "orderDirection",
    "eventCountLimit",
    "maxEventCount",
    "perPage",
    "nextPageToken",
];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_refusals_name_the_field_inside_the_document() {
        let at = |f: &str, first| in_document(Some(f.to_owned()), "epcisBody.eventList", first);
        assert_eq!(
            at("events[2].items[0].serial", 0),
            "epcisBody.eventList[2].epcList[0]"
        );
        assert_eq!(
            at("events[0].parent.serial", 3),
            "epcisBody.eventList[3].parentID"
        );
        assert_eq!(
            at("child_lots[1].quantity", 4),
            "epcisBody.eventList[4].childQuantityList[1].quantity"
        );
        assert_eq!(
            at("input_lots[0].lot", 0),
            "epcisBody.eventList[0].inputQuantityList[0].epcClass"
        );
        assert_eq!(
            at("biz_location", 1),
            "epcisBody.eventList[1].bizLocation.id"
        );
        assert_eq!(at("event_time", 1), "epcisBody.eventList[1].eventTime");
        assert_eq!(at("eventID", 5), "epcisBody.eventList[5].eventID");
        assert_eq!(at("", 6), "epcisBody.eventList[6]");
        assert_eq!(
            in_document(Some("items[0].serial".into()), "", 0),
            "items[0].serial"
        );
    }
}
