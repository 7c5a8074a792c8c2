//! Serial-number rules over HTTP, without state: preview what a rule makes and check a serial
//! against a rule. Storing rules and allocating from them (counters, pools) builds on this.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use threadline_domain::FieldError;
use threadline_domain::master::{MasterRecord, Product, SerialRuleDef};
use threadline_serial::{AllocationContext, SerialRule, guessing_risk};
use threadline_store::{AuditOf, Receipt, Versioned};

use crate::AppState;
use crate::audit::AuditNote;
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
    /// A stored rule's code or a rule spec; the product's rule (`context.product`) if absent.
    #[serde(default)]
    rule: Option<Value>,
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
    let rule = resolve_rule(&*app.store, req.rule, Some(&req.context.product)).await?;
    let ctx = context(&req.context, app.clock.now());
    let pattern = rule
        .pattern(&ctx)
        .map_err(|e| AppError::Rule(vec![e.within("context")]))?;
    let first = req.first.unwrap_or(rule.sequence_start());
    let batch = pattern
        .generate(first, req.count, &mut rand::rng())
        .map_err(|e| AppError::Rule(vec![e]))?;
    let issued = req.planned.unwrap_or(req.count as u64);
    let risk = guessing_risk(&rule, issued);
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
    /// A stored rule's code or a rule spec; the product's rule if absent.
    #[serde(default)]
    rule: Option<Value>,
    #[serde(default)]
    product: Option<String>,
    serial: String,
}

/// The rule a preview or validation names: a stored rule by code, a spec given inline, or the
/// rule of `product`.
async fn resolve_rule(
    store: &dyn threadline_store::Store,
    rule: Option<Value>,
    product: Option<&str>,
) -> Result<SerialRule, AppError> {
    match (rule, product) {
        (Some(Value::String(code)), _) => {
            let v = store.serial_rule(&code).await?.ok_or_else(|| {
                AppError::Rule(vec![
                    FieldError::new(
                        "unknown_serial_rule",
                        format!("serial rule {code} does not exist"),
                    )
                    .at("rule"),
                ])
            })?;
            stored_rule(&v)
        }
        (Some(spec), _) => {
            // The spec's shape first, then the rule itself, so a problem names its field
            // (`rule.template`, `rule.time_zone`).
            let text = spec.to_string();
            let spec =
                parse::<threadline_serial::RuleSpec>(text.as_bytes(), "").map_err(|e| match e {
                    AppError::Malformed(v) => {
                        AppError::Malformed(v.into_iter().map(|e| e.within("rule")).collect())
                    }
                    other => other,
                })?;
            SerialRule::new(spec).map_err(|e| AppError::Malformed(vec![e.within("rule")]))
        }
        (None, Some(code)) => {
            let product = existing_product(store, code).await?;
            Ok(required_product_rule(store, &product).await?.rule)
        }
        (None, None) => Err(AppError::malformed(
            "missing_field",
            "name the rule (its code or a spec) or the product whose rule applies",
            Some("rule".into()),
        )),
    }
}

/// `POST /api/v1/serial-rules/validate`: could the rule have made this serial, is its check
/// character right, and what do its parts say.
pub async fn validate(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: ValidateRequest = parse(&body, "")?;
    let rule = resolve_rule(&*app.store, req.rule, req.product.as_deref()).await?;
    let parts = rule
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
/// both win: the loser's event is refused (`allocation_conflict`) and it draws again. `audit`
/// makes the audit record each attempt keeps with its event.
pub async fn allocate(
    store: &dyn threadline_store::Store,
    product_code: &str,
    req: &AllocationRequest,
    actor: &str,
    now: DateTime<Utc>,
    audit: Option<&(dyn Fn() -> AuditOf<Vec<Receipt>> + Send + Sync)>,
) -> Result<Allocated, AppError> {
    allocate_at(store, product_code, req, actor, None, now, audit).await
}

/// [`allocate`] by an account bound to `site`: the allocation event's read point is the site,
/// so the block is that site's — it reads, prints and commissions its serials, and no other
/// site sees them ([`crate::site`]).
pub async fn allocate_at(
    store: &dyn threadline_store::Store,
    product_code: &str,
    req: &AllocationRequest,
    actor: &str,
    site: Option<&str>,
    now: DateTime<Utc>,
    audit: Option<&(dyn Fn() -> AuditOf<Vec<Receipt>> + Send + Sync)>,
) -> Result<Allocated, AppError> {
    use threadline_domain::event::{Allocation, EventRequest};
    if req.count == 0 || req.count > MAX_ALLOCATION {
        return Err(AppError::malformed(
            "invalid_count",
            format!("count must be 1–{MAX_ALLOCATION}"),
            Some("count".into()),
        ));
    }
    let product = existing_product(store, product_code).await?;
    let effective = required_product_rule(store, &product).await?;
    let rule = &effective.rule;
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
    let scope = effective.counter_key(pattern.scope().key());
    let start = rule.sequence_start();
    for attempt in 0..64u32 {
        if attempt > 0 {
            // Another allocator took the counter: back off a little, at random, and draw again.
            let ceiling = 1u64 << attempt.min(6);
            let wait = rand::Rng::random_range(&mut rand::rng(), 0..=ceiling);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        let first = store.counter(&scope).await?.unwrap_or(start);
        let risk = guessing_risk(rule, first.saturating_sub(start).saturating_add(req.count));
        if risk.random_combinations != Some(1) {
            threadline_serial::require_fmd(
                rule,
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
        let mut request: EventRequest = serde_json::from_value(json!({
            "type": "object", "action": "ADD", "event_time": now.to_rfc3339(), "biz_step": "encoding", "disposition": "encoded",
            "allocation": Allocation { scope: scope.clone(), first, count: req.count, rule_version: effective.version() },
            "fields": fields,
            "read_point": site,
        }))
        .map_err(|e| AppError::Internal(format!("allocation event: {e}")))?;
        // The block's units are keyed directly: a JSON value per serial, read back, cost a
        // fifth of an allocation.
        let product_key = threadline_domain::ProductCode::parse(product_code)
            .map_err(|e| AppError::Rule(vec![e.at("product")]))?;
        request.items = serials
            .iter()
            .map(|s| {
                threadline_domain::Serial::parse(s)
                    .map(|serial| threadline_domain::codes::ItemKey {
                        product: product_key.clone(),
                        serial,
                    })
                    .map_err(|e| {
                        AppError::Internal(format!("allocation made serial {s}: {}", e.message))
                    })
            })
            .collect::<Result<_, _>>()?;
        let event = recorded_by(request, actor, now)?;
        match store
            .capture_audited(vec![event], None, audit.map(|make| make()))
            .await
        {
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

/// The event of a request made on `actor`'s behalf, with a new id.
fn recorded_by(
    request: threadline_domain::event::EventRequest,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<threadline_domain::event::Event, AppError> {
    threadline_domain::event::Event::from_request(
        request,
        &threadline_domain::event::CaptureContext {
            actor: actor.to_owned(),
            now,
        },
        uuid::Uuid::now_v7(),
    )
    .map_err(AppError::Rule)
}

/// `POST /api/v1/products/{code}/allocations`
pub async fn allocate_endpoint(
    State(app): State<AppState>,
    actor: crate::auth::Actor,
    pending: crate::audit::Pending,
    axum::extract::Path(code): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: AllocationRequest = parse(&body, "")?;
    let make = recorded_with(&app, &pending, allocations_of(&code));
    let out = allocate_at(
        &*app.store,
        &code,
        &req,
        &actor.name(),
        actor.site.as_deref(),
        app.clock.now(),
        Some(&make),
    )
    .await?;
    Ok(allocations_of(&code)
        .after(crate::api::receipts_summary(
            std::slice::from_ref(&out.receipt),
            false,
        ))
        .recorded()
        .on((axum::http::StatusCode::CREATED, Json(out)).into_response()))
}

/// What the audit trail says of an allocation of `product`'s serials.
pub fn allocations_of(product: &str) -> AuditNote {
    AuditNote::object(format!("products/{product}/allocations"))
}

/// The audit record of `pending`, completed with `note` and the receipts of what it records,
/// made afresh for each attempt of a write that may be retried.
pub fn recorded_with<'a>(
    app: &'a AppState,
    pending: &'a crate::audit::Pending,
    note: AuditNote,
) -> impl Fn() -> AuditOf<Vec<Receipt>> + Send + Sync + 'a {
    move || {
        let note = note.clone();
        pending.record_of(app, StatusCode::CREATED, move |r: &Vec<Receipt>| {
            note.after(crate::api::receipts_summary(r, false))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Serial rules as master data.

/// A serial rule as the API and the CLI take it: the rule's own fields (see
/// [`threadline_serial::RuleSpec`]) with a name and the product categories it is assigned to.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    pub code: String,
    pub name: String,
    pub template: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub sequence_reset: threadline_serial::SequenceReset,
    #[serde(default)]
    pub sequence_start: Option<u64>,
    #[serde(default)]
    pub uniqueness: threadline_serial::Uniqueness,
    #[serde(default)]
    pub alphabets: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl RuleBody {
    /// The master record of this rule, after checking the rule itself (each problem named by
    /// its field: `template`, `time_zone`, `sequence_start`…).
    pub fn into_record(self) -> Result<SerialRuleDef, AppError> {
        let spec = threadline_serial::RuleSpec {
            code: self.code,
            template: self.template,
            time_zone: self.time_zone,
            sequence_reset: self.sequence_reset,
            sequence_start: self.sequence_start.unwrap_or(1),
            uniqueness: self.uniqueness,
            alphabets: self.alphabets,
        };
        let rule = SerialRule::new(spec).map_err(|e| AppError::Rule(vec![e]))?;
        let rule = serde_json::to_value(rule.spec())
            .map_err(|e| AppError::Internal(format!("rule spec: {e}")))?;
        Ok(SerialRuleDef {
            rule,
            name: self.name,
            categories: self.categories,
        })
    }
}

/// A stored rule as the API shows it: the rule's fields, name, categories and version, flat.
pub fn rule_view(v: &Versioned<SerialRuleDef>) -> Value {
    let mut out = match &v.def.rule {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    out.insert("name".into(), json!(v.def.name));
    out.insert("categories".into(), json!(v.def.categories));
    out.insert("version".into(), json!(v.version));
    out.insert("updated_at".into(), json!(v.updated_at));
    Value::Object(out)
}

fn stored_rule(v: &Versioned<SerialRuleDef>) -> Result<SerialRule, AppError> {
    serde_json::from_value(v.def.rule.clone())
        .map_err(|e| AppError::Internal(format!("stored serial rule {}: {e}", v.def.code())))
}

/// Where a product's serial rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum RuleSource {
    /// A rule written into the product itself, versioned with it.
    Product { version: u32 },
    /// A stored rule the product names.
    Rule { code: String, version: u32 },
    /// The stored rule of the product's category.
    Category {
        category: String,
        code: String,
        version: u32,
    },
}

/// The rule a product's serials are made and checked by, and where it comes from.
#[derive(Debug, Clone)]
pub struct EffectiveRule {
    pub rule: SerialRule,
    pub source: RuleSource,
}

impl EffectiveRule {
    /// The counter a scope of this rule draws from. A stored rule counts by its code (a new
    /// version of the rule continues the same counters, so it can never re-issue a number);
    /// a product's own rule keeps the key it always had.
    fn counter_key(&self, scope: &str) -> String {
        match &self.source {
            RuleSource::Product { .. } => counter_key(&self.rule, scope),
            RuleSource::Rule { code, .. } | RuleSource::Category { code, .. } => {
                format!("rule:{code}|{scope}")
            }
        }
    }

    fn version(&self) -> u32 {
        match &self.source {
            RuleSource::Product { version }
            | RuleSource::Rule { version, .. }
            | RuleSource::Category { version, .. } => *version,
        }
    }
}

/// The rule that applies to `product`: its own, the stored rule it names, or its category's.
pub async fn product_rule(
    store: &dyn threadline_store::Store,
    product: &Versioned<Product>,
) -> Result<Option<EffectiveRule>, AppError> {
    let code = product.def.code.as_str();
    match &product.def.serial_rule {
        Some(Value::String(rule_code)) => {
            let v = store.serial_rule(rule_code).await?.ok_or_else(|| {
                AppError::Internal(format!(
                    "product {code} names serial rule {rule_code}, which is not stored"
                ))
            })?;
            Ok(Some(EffectiveRule {
                rule: stored_rule(&v)?,
                source: RuleSource::Rule {
                    code: rule_code.clone(),
                    version: v.version,
                },
            }))
        }
        Some(spec) => Ok(Some(EffectiveRule {
            rule: serde_json::from_value(spec.clone())
                .map_err(|e| AppError::Internal(format!("stored rule of {code}: {e}")))?,
            source: RuleSource::Product {
                version: product.version,
            },
        })),
        None => {
            let Some(category) = &product.def.category else {
                return Ok(None);
            };
            let Some(v) = store.category_serial_rule(category).await? else {
                return Ok(None);
            };
            Ok(Some(EffectiveRule {
                rule: stored_rule(&v)?,
                source: RuleSource::Category {
                    category: category.clone(),
                    code: v.def.code().to_owned(),
                    version: v.version,
                },
            }))
        }
    }
}

/// [`product_rule`], or the error a clerk can act on.
async fn required_product_rule(
    store: &dyn threadline_store::Store,
    product: &Versioned<Product>,
) -> Result<EffectiveRule, AppError> {
    product_rule(store, product).await?.ok_or_else(|| {
        let code = product.def.code.as_str();
        let hint = match &product.def.category {
            Some(c) => format!("give it a serial_rule or assign a rule to its category {c}"),
            None => "give it a serial_rule".to_owned(),
        };
        AppError::Rule(vec![
            FieldError::new(
                "no_serial_rule",
                format!("product {code} has no serial rule; {hint}"),
            )
            .at("product"),
        ])
    })
}

async fn existing_product(
    store: &dyn threadline_store::Store,
    code: &str,
) -> Result<Versioned<Product>, AppError> {
    store
        .product(code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("product {code} does not exist")))
}

/// Writes a rule (create when `replaces` is `None`), with `audit` in the same transaction, and
/// reads it back.
pub async fn put_rule(
    store: &dyn threadline_store::Store,
    record: SerialRuleDef,
    replaces: Option<u32>,
    actor: &str,
    now: DateTime<Utc>,
    audit: Option<threadline_domain::audit::AuditRecord>,
) -> Result<Versioned<SerialRuleDef>, AppError> {
    let code = record.code().to_owned();
    store
        .put_master_audited(
            threadline_store::MasterWrite {
                record: MasterRecord::SerialRule(record),
                actor: actor.to_owned(),
                now,
                id: uuid::Uuid::now_v7(),
                replaces,
            },
            audit,
        )
        .await?;
    store
        .serial_rule(&code)
        .await?
        .ok_or_else(|| AppError::Internal(format!("serial rule {code} vanished after writing")))
}

fn rule_response(status: StatusCode, v: &Versioned<SerialRuleDef>) -> Response {
    crate::api::with_etag(status, rule_view(v), v.version)
}

/// `POST /api/v1/serial-rules`
pub async fn create_rule(
    State(app): State<AppState>,
    actor: crate::auth::Actor,
    pending: crate::audit::Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let record = parse::<RuleBody>(&body, "")?.into_record()?;
    let now = app.clock.now();
    let note = AuditNote::object(format!("serial-rules/{}", record.code())).after(rule_view(
        &crate::api::next_version(record.clone(), None, now),
    ));
    let audit = pending.record(&app, StatusCode::CREATED, &note);
    let v = put_rule(&*app.store, record, None, &actor.name(), now, Some(audit)).await?;
    Ok(note.recorded().on(rule_response(StatusCode::CREATED, &v)))
}

/// `PUT /api/v1/serial-rules/{code}` with `If-Match: "<version>"`: a new version of the rule.
/// Its counters continue, so no number is issued twice across versions.
pub async fn replace_rule(
    State(app): State<AppState>,
    actor: crate::auth::Actor,
    pending: crate::audit::Pending,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let version = crate::api::if_match(&headers)?;
    let record = parse::<RuleBody>(&body, "")?.into_record()?;
    if record.code() != code {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "code_mismatch",
                format!(
                    "the body's code {} differs from {code} in the URL; codes cannot be renamed",
                    record.code()
                ),
            )
            .at("code"),
        ]));
    }
    let before = app.store.serial_rule(&code).await?;
    let now = app.clock.now();
    let note = AuditNote::object(format!("serial-rules/{code}"))
        .before(before.as_ref().map(rule_view))
        .after(rule_view(&crate::api::next_version(
            record.clone(),
            Some(version),
            now,
        )));
    let audit = pending.record(&app, StatusCode::OK, &note);
    let v = put_rule(
        &*app.store,
        record,
        Some(version),
        &actor.name(),
        now,
        Some(audit),
    )
    .await?;
    Ok(note.recorded().on(rule_response(StatusCode::OK, &v)))
}

/// `GET /api/v1/serial-rules/{code}`
pub async fn get_rule(
    State(app): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    match app.store.serial_rule(&code).await? {
        Some(v) => Ok(rule_response(StatusCode::OK, &v)),
        None => Err(AppError::NotFound(format!(
            "serial rule {code} does not exist"
        ))),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleListParams {
    /// Part of the code or name.
    q: Option<String>,
    /// The last code of the previous page.
    after: Option<String>,
    /// At most this many (1–1000, default 100).
    limit: Option<u32>,
}

/// `GET /api/v1/serial-rules`: stored rules in code order, `?q=` searching code and name.
pub async fn list_rules(
    State(app): State<AppState>,
    params: Result<Query<RuleListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(AppError::malformed(
            "invalid_limit",
            "limit must be 1–1000",
            Some("limit".into()),
        ));
    }
    let page = app
        .store
        .serial_rules(&threadline_store::ListQuery {
            search: p.q,
            kind: None,
            parent: None,
            after: p.after,
            limit,
        })
        .await?;
    Ok(Json(json!({
        "items": page.items.iter().map(rule_view).collect::<Vec<_>>(),
        "next": page.next,
    }))
    .into_response())
}

/// `GET /api/v1/products/{code}/serial-rule`: the rule that applies to the product and where
/// it comes from (the product itself, a stored rule it names, or its category).
pub async fn product_rule_endpoint(
    State(app): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let product = existing_product(&*app.store, &code).await?;
    let effective = required_product_rule(&*app.store, &product).await?;
    Ok(Json(json!({
        "product": code,
        "source": effective.source,
        "rule": effective.rule.spec(),
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The pool: printed marks.

/// Most serials one printed mark names.
pub const MAX_PRINT_MARK: usize = 10_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintedRequest {
    pub serials: Vec<String>,
    /// The printer (or contract packer) that printed them.
    #[serde(default)]
    pub printer: Option<String>,
}

/// Records that the labels of pool serials of `product` were printed (outside Threadline's own
/// print jobs, e.g. by a contract packer): one `OBSERVE` event, business step `encoding`,
/// disposition [`threadline_domain::event::PRINTED_DISPOSITION`]. Serials not in the pool
/// (already on a unit, voided, unknown) are refused by name and nothing is recorded.
pub async fn mark_printed(
    store: &dyn threadline_store::Store,
    product: &str,
    req: &PrintedRequest,
    actor: &str,
    now: DateTime<Utc>,
    audit: Option<AuditOf<Vec<Receipt>>>,
) -> Result<threadline_store::Receipt, AppError> {
    use threadline_domain::event::{EventRequest, PRINTED_DISPOSITION};
    if req.serials.is_empty() || req.serials.len() > MAX_PRINT_MARK {
        return Err(AppError::malformed(
            "invalid_count",
            format!("name 1–{MAX_PRINT_MARK} serials"),
            Some("serials".into()),
        ));
    }
    existing_product(store, product).await?;
    let mut fields = serde_json::Map::new();
    if let Some(p) = &req.printer {
        fields.insert("printer".into(), json!(p));
    }
    let request: EventRequest = parse(
        json!({
            "type": "object", "action": "OBSERVE", "event_time": now.to_rfc3339(), "biz_step": "encoding",
            "disposition": PRINTED_DISPOSITION,
            "items": req.serials.iter().map(|s| json!({"product": product, "serial": s})).collect::<Vec<_>>(),
            "fields": fields,
        })
        .to_string()
        .as_bytes(),
        "",
    )
    .map_err(|e| match e {
        // A bad serial is named as the caller wrote it: `serials[3]`.
        AppError::Malformed(v) => AppError::Malformed(as_serials(v)),
        other => other,
    })?;
    let event = recorded_by(request, actor, now)?;
    let outcome = store
        .capture_audited(vec![event], None, audit)
        .await
        .map_err(|e| match e {
            threadline_store::StoreError::Invalid(v) => AppError::Rule(as_serials(v)),
            other => other.into(),
        })?;
    outcome
        .receipts()
        .first()
        .cloned()
        .ok_or_else(|| AppError::Internal("no receipt".into()))
}

/// Names problems of the event's `items[i].serial` as the caller wrote them: `serials[i]`.
fn as_serials(v: Vec<FieldError>) -> Vec<FieldError> {
    v.into_iter()
        .map(|mut f| {
            f.field = f.field.map(|p| {
                let p = p.strip_prefix("events[0].").unwrap_or(&p);
                p.replacen("items[", "serials[", 1).replace("].serial", "]")
            });
            f
        })
        .collect()
}

/// `POST /api/v1/products/{code}/serials/printed`
pub async fn printed_endpoint(
    State(app): State<AppState>,
    actor: crate::auth::Actor,
    pending: crate::audit::Pending,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: PrintedRequest = parse(&body, "")?;
    let note = AuditNote::object(format!("products/{code}/serials"));
    let make = recorded_with(&app, &pending, note.clone());
    let receipt = mark_printed(
        &*app.store,
        &code,
        &req,
        &actor.name(),
        app.clock.now(),
        Some(make()),
    )
    .await?;
    Ok(note
        .after(crate::api::receipts_summary(
            std::slice::from_ref(&receipt),
            false,
        ))
        .recorded()
        .on((
            StatusCode::CREATED,
            Json(json!({"product": code, "printed": req.serials.len(), "receipt": receipt})),
        )
            .into_response()))
}
