//! Serial-number rules over HTTP, without state: preview what a rule makes and check a serial
//! against a rule. Storing rules and allocating from them (counters, pools) builds on this.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use threadline_serial::{AllocationContext, SerialRule, guessing_risk};

use crate::AppState;
use crate::body::{parse, require_json};
use crate::error::AppError;

/// Most serials a preview returns.
pub const MAX_PREVIEW: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    product: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    line: Option<String>,
    /// The allocation time; now if absent.
    #[serde(default)]
    at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    rule: SerialRule,
    context: Context,
    /// The first sequence value; the rule's start if absent.
    #[serde(default)]
    first: Option<u64>,
    #[serde(default = "default_count")]
    count: usize,
    /// How many serials will be issued under this rule in all, for the FMD guessing figure.
    #[serde(default)]
    planned: Option<u64>,
}

fn default_count() -> usize {
    10
}

fn context<'a>(c: &'a Context, now: DateTime<Utc>) -> AllocationContext<'a> {
    let mut ctx = AllocationContext::new(&c.product, c.at.unwrap_or(now));
    if let Some(v) = &c.category {
        ctx = ctx.with_category(v);
    }
    if let Some(v) = &c.site {
        ctx = ctx.with_site(v);
    }
    if let Some(v) = &c.line {
        ctx = ctx.with_line(v);
    }
    ctx
}

/// `POST /api/v1/serial-rules/preview`: the next serials a rule would make, the counter they
/// draw from, and the guessing probability.
pub async fn preview(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: PreviewRequest = parse(&body, "")?;
    if req.count == 0 || req.count > MAX_PREVIEW {
        return Err(AppError::malformed(
            "invalid_count",
            format!("count must be 1–{MAX_PREVIEW}"),
            Some("count".into()),
        ));
    }
    let ctx = context(&req.context, app.clock.now());
    let pattern = req
        .rule
        .pattern(&ctx)
        .map_err(|e| AppError::Rule(vec![e.within("context")]))?;
    let first = req.first.unwrap_or(req.rule.sequence_start());
    let batch = pattern
        .generate(first, req.count, &mut rand::rng())
        .map_err(|e| AppError::Rule(vec![e]))?;
    let issued = req.planned.unwrap_or(req.count as u64);
    let risk = guessing_risk(&req.rule, issued);
    Ok(Json(json!({
        "serials": batch.to_vec(),
        "pattern": pattern.to_string(),
        "scope": pattern.scope().key(),
        "guessing": {
            "issued": issued,
            "probability": risk.probability,
            "meets_eu_fmd": risk.meets_fmd(),
        },
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    rule: SerialRule,
    serial: String,
}

/// `POST /api/v1/serial-rules/validate`: could the rule have made this serial, is its check
/// character right, and what do its parts say.
pub async fn validate(headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: ValidateRequest = parse(&body, "")?;
    let parts = req
        .rule
        .validate(&req.serial)
        .map_err(|e| AppError::Rule(vec![e.at("serial")]))?;
    Ok(Json(json!({
        "valid": true,
        "product": parts.product,
        "category": parts.category,
        "site": parts.site,
        "line": parts.line,
        "date": parts.date.as_ref().map(|d| json!({
            "year": d.year, "month": d.month, "day": d.day, "day_of_year": d.day_of_year, "iso_week": d.iso_week,
            "calendar_date": d.date.map(|x| x.to_string()),
        })),
        "sequence": parts.sequence,
        "random": parts.random,
        "check": parts.check,
    }))
    .into_response())
}
