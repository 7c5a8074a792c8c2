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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SerialRuleContext")]
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SerialRulePreviewRequest")]
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
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

/// Most serials one allocation request makes.
pub const MAX_ALLOCATION: u64 = 100_000;

/// An allocation request: how many serials, and the context the rule's parts read.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequest {
    pub count: u64,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub line: Option<String>,
    /// The allocation time the rule's date parts read; now if absent.
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// The printer or contract packer the block is handed to, recorded with it.
    #[serde(default)]
    pub printer: Option<String>,
}

/// What an allocation made.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Allocated {
    pub product: String,
    pub serials: Vec<String>,
    pub scope: String,
    pub first: u64,
    pub receipt: threadline_store::Receipt,
}

/// The counter a rule's serials are drawn from: the rule's own code and a digest of its
/// definition (so a changed rule starts a new counter instead of re-issuing numbers), plus the
/// rule's scope key (period, product, line…).
fn counter_key(rule: &SerialRule, scope: &str) -> String {
    use sha2::{Digest, Sha256};
    let spec = serde_json::to_vec(rule.spec()).unwrap_or_default();
    let digest = Sha256::digest(&spec);
    format!("{}#{}|{scope}", rule.code(), hex::encode(&digest[..6]))
}

/// Allocates `req.count` serials of `product` by its serial rule: reads the counter, makes the
/// serials, and records them as one `encoding` event that registers them as unassigned units
/// and moves the counter — all or nothing. Two allocators racing for the same counter cannot
/// both win: the loser's event is refused (`allocation_conflict`) and it draws again.
pub async fn allocate(
    store: &dyn threadline_store::Store,
    product_code: &str,
    req: &AllocationRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Allocated, AppError> {
    use threadline_domain::event::{Allocation, CaptureContext, Event, EventRequest};
    if req.count == 0 || req.count > MAX_ALLOCATION {
        return Err(AppError::malformed(
            "invalid_count",
            format!("count must be 1–{MAX_ALLOCATION}"),
            Some("count".into()),
        ));
    }
    let product = store
        .product(product_code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("product {product_code} does not exist")))?;
    let Some(spec) = &product.def.serial_rule else {
        return Err(AppError::Rule(vec![
            threadline_domain::FieldError::new(
                "no_serial_rule",
                format!("product {product_code} has no serial rule; give it one first"),
            )
            .at("product"),
        ]));
    };
    let rule: SerialRule = serde_json::from_value(spec.clone())
        .map_err(|e| AppError::Internal(format!("stored rule of {product_code}: {e}")))?;
    let mut ctx = AllocationContext::new(product_code, req.at.unwrap_or(now));
    if let Some(c) = &product.def.category {
        ctx = ctx.with_category(c);
    }
    if let Some(v) = &req.site {
        ctx = ctx.with_site(v);
    }
    if let Some(v) = &req.line {
        ctx = ctx.with_line(v);
    }
    let pattern = rule.pattern(&ctx).map_err(|e| AppError::Rule(vec![e]))?;
    let scope = counter_key(&rule, pattern.scope().key());
    let start = rule.sequence_start();
    for attempt in 0..64u32 {
        if attempt > 0 {
            // Another allocator took the counter: back off a little, at random, and draw again.
            let ceiling = 1u64 << attempt.min(6);
            let wait = rand::Rng::random_range(&mut rand::rng(), 0..=ceiling);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        let first = store.counter(&scope).await?.unwrap_or(start);
        let risk = guessing_risk(&rule, first.saturating_sub(start).saturating_add(req.count));
        if risk.random_combinations != Some(1) {
            threadline_serial::require_fmd(
                &rule,
                first.saturating_sub(start).saturating_add(req.count),
            )
            .map_err(|e| AppError::Rule(vec![e.at("count")]))?;
        }
        let count = usize::try_from(req.count).map_err(|_| {
            AppError::malformed("invalid_count", "count too large", Some("count".into()))
        })?;
        let batch = pattern
            .generate(first, count, &mut rand::rng())
            .map_err(|e| AppError::Rule(vec![e.at("count")]))?;
        let serials = batch.to_vec();
        let mut fields = serde_json::Map::new();
        for (k, v) in [
            ("rule", Some(rule.code())),
            ("line", req.line.as_deref()),
            ("site", req.site.as_deref()),
            ("printer", req.printer.as_deref()),
        ] {
            if let Some(v) = v {
                fields.insert(k.to_owned(), json!(v));
            }
        }
        let request: EventRequest = serde_json::from_value(json!({
            "type": "object", "action": "ADD", "event_time": now.to_rfc3339(), "biz_step": "encoding", "disposition": "encoded",
            "items": serials.iter().map(|s| json!({"product": product_code, "serial": s})).collect::<Vec<_>>(),
            "allocation": Allocation { scope: scope.clone(), first, count: req.count, rule_version: product.version },
            "fields": fields,
        }))
        .map_err(|e| AppError::Internal(format!("allocation event: {e}")))?;
        let event = Event::from_request(
            request,
            &CaptureContext {
                actor: actor.to_owned(),
                now,
            },
            uuid::Uuid::now_v7(),
        )
        .map_err(AppError::Rule)?;
        match store.capture(vec![event], None).await {
            Ok(outcome) => {
                let receipt = outcome
                    .receipts()
                    .first()
                    .cloned()
                    .ok_or_else(|| AppError::Internal("no receipt".into()))?;
                return Ok(Allocated {
                    product: product_code.to_owned(),
                    serials,
                    scope,
                    first,
                    receipt,
                });
            }
            Err(threadline_store::StoreError::Invalid(v))
                if v.iter().any(|e| e.code == "allocation_conflict") =>
            {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Conflict(vec![
        threadline_domain::FieldError::new(
            "allocation_conflict",
            "the serial counter kept moving under concurrent allocations; try again",
        )
        .at("count"),
    ]))
}

/// `POST /api/v1/products/{code}/allocations`
pub async fn allocate_endpoint(
    State(app): State<AppState>,
    actor: crate::auth::Actor,
    axum::extract::Path(code): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: AllocationRequest = parse(&body, "")?;
    let out = allocate(&*app.store, &code, &req, &actor.name(), app.clock.now()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(out)).into_response())
}
