//! `/api/v1/process`: the process definition as data — which operation is allowed in which unit
//! state, which holds block it, which fields it needs per product category. It is a master entry
//! in the ledger (versioned, with history), so every change is attributable and `rebuild`
//! replays the rules in force at each point. Until a plant stores its own, capture uses
//! [`Process::default`], shown here as version 0.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use threadline_domain::error::FieldError;
use threadline_domain::master::MasterRecord;
use threadline_domain::process::{PROCESS_CODE, Process};
use threadline_store::MasterWrite;
use uuid::Uuid;

use crate::AppState;
use crate::api::if_match;
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;

/// The plant's time zone: the process definition's `time_zone`, else
/// [`crate::i18n::DEFAULT_ZONE`].
pub fn zone_of(process: &Process) -> chrono_tz::Tz {
    process
        .time_zone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(crate::i18n::DEFAULT_ZONE)
}

/// The plant's time zone, as the stored process definition names it.
pub async fn plant_zone(store: &dyn threadline_store::Store) -> Result<chrono_tz::Tz, AppError> {
    Ok(store
        .process()
        .await?
        .map(|v| zone_of(&v.def))
        .unwrap_or(crate::i18n::DEFAULT_ZONE))
}

/// Refuses a time zone that is not an IANA name (`Asia/Shanghai`, `Europe/Berlin`, `UTC`).
fn check_zone(process: &Process) -> Result<(), AppError> {
    match process.time_zone.as_deref() {
        Some(z) if z.parse::<chrono_tz::Tz>().is_err() => Err(AppError::Rule(vec![
            FieldError::new(
                "invalid_time_zone",
                format!("{z:?} is not a time zone; give an IANA name such as Asia/Shanghai"),
            )
            .at("time_zone"),
        ])),
        _ => Ok(()),
    }
}

fn respond(status: StatusCode, process: &Process, version: u32) -> Response {
    let mut body = serde_json::to_value(process).unwrap_or_default();
    if let Some(o) = body.as_object_mut() {
        o.insert("version".into(), json!(version));
    }
    let mut resp = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

/// `GET /api/v1/process`: the definition capture checks against, with its version (`ETag`).
pub async fn get_process(State(app): State<AppState>) -> Result<Response, AppError> {
    Ok(match app.store.process().await? {
        Some(v) => respond(StatusCode::OK, &v.def, v.version),
        None => respond(StatusCode::OK, &Process::default(), 0),
    })
}

/// `PUT /api/v1/process` with `If-Match: "<version>"` (`"0"` replaces the shipped default).
pub async fn put_process(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let version = if_match(&headers)?;
    let mut value: serde_json::Value = parse(&body, "")?;
    // The version travels in If-Match; a `version` echoed back from a GET is ignored.
    if let Some(o) = value.as_object_mut() {
        o.remove("version");
    }
    let body = serde_json::to_vec(&value).map_err(|e| AppError::Internal(e.to_string()))?;
    let def: Process = parse(&body, "")?;
    check_zone(&def)?;
    let before = app.store.process().await?;
    let current = before.as_ref().map(|v| v.version).unwrap_or(0);
    if version != current {
        return Err(AppError::Conflict(vec![
            FieldError::new(
                "version_conflict",
                format!(
                    "the process definition is at version {current}, not {version}; reload it and apply your change again"
                ),
            )
            .at("If-Match"),
        ]));
    }
    let now = app.clock.now();
    let replaces = (version > 0).then_some(version);
    let note = crate::audit::AuditNote::object("process")
        .before(before)
        .after(crate::api::next_version(&def, replaces, now));
    let record = pending.record(&app, StatusCode::OK, &note);
    app.store
        .put_master_audited(
            MasterWrite {
                record: MasterRecord::Process(def),
                actor: actor.name(),
                now,
                id: Uuid::now_v7(),
                replaces,
            },
            Some(record),
        )
        .await?;
    let stored = app.store.process().await?.ok_or_else(|| {
        AppError::Internal("the process definition vanished after a write".into())
    })?;
    Ok(note
        .recorded()
        .on(respond(StatusCode::OK, &stored.def, stored.version)))
}

/// `GET /api/v1/process/history`: every stored version, oldest first.
pub async fn process_history(State(app): State<AppState>) -> Result<Response, AppError> {
    let history = app.store.master_history("process", PROCESS_CODE).await?;
    Ok(Json(json!({ "versions": history })).into_response())
}
