//! `/api/v1/ops/…`: one endpoint per business step of the lifecycle (receive, commission,
//! assemble, inspect, pack, ship, sell, return, repair, scrap, hold…), in the words a clerk or an
//! ERP uses — a purchase order and its lines, a sales order, an RMA.
//!
//! An operation adds no rule and no storage of its own: it is planned into EPCIS-shaped
//! [`EventRequest`]s, which go through the same permission check, [`Event::from_request`] and
//! [`threadline_store::Store::capture`] as `POST /api/v1/events`, all or nothing. The ledger stays
//! the single truth. What an operation adds is the translation back: every refusal names the
//! field of the operation's own body (`lines[1].serials[4]`), not of the events it became, and
//! checks that need the order line (a serial of another product) are made before capture.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use threadline_domain::access::Permission;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::event::{
    CaptureContext, Event, EventRequest, HoldKind, LotQuantity, TransactionId,
};
use threadline_domain::projection::{ItemStatus, Node};
use threadline_domain::{LocationCode, LotCode, PartyCode, ProductCode, Quantity, Serial};
use threadline_store::{
    AuditOf, CaptureOutcome, Direction, IdempotencyKey, Receipt, Store, StoreError,
};
use uuid::Uuid;

use crate::AppState;
use crate::api::{idempotency, permitted};
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;
use crate::esign::{SignatureRequest, Signed};
use async_trait::async_trait;

/// One event of a plan, and where its parts came from in the operation's body.
#[derive(Debug)]
struct Planned {
    event: Map<String, Value>,
    /// Event field → operation field (`items[3]` → `lines[0].serials[2]`), longest match wins.
    paths: Vec<(String, String)>,
}

impl Planned {
    fn new(kind: &str, action: Option<&str>, step: &str, time: DateTime<FixedOffset>) -> Self {
        let mut event = Map::new();
        event.insert("type".into(), json!(kind));
        if let Some(a) = action {
            event.insert("action".into(), json!(a));
        }
        event.insert("event_time".into(), json!(time.to_rfc3339()));
        event.insert("biz_step".into(), json!(step));
        Planned {
            event,
            paths: vec![("event_time".into(), "time".into())],
        }
    }

    fn set(mut self, key: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        if !v.is_null() {
            self.event.insert(key.into(), v);
        }
        self
    }

    fn list(&mut self, key: &str) -> &mut Vec<Value> {
        let slot = self
            .event
            .entry(key.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        match slot {
            Value::Array(a) => a,
            _ => unreachable!("just made an array"),
        }
    }

    /// Adds a unit to `items`, `children`, `inputs` or `outputs`, remembering its source field.
    fn unit(&mut self, list: &str, key: &ItemKey, from: impl Into<String>) {
        let from = from.into();
        let i = self.list(list).len();
        self.list(list).push(json!(key));
        self.paths
            .push((format!("{list}[{i}].serial"), from.clone()));
        self.paths.push((format!("{list}[{i}]"), from));
    }

    fn units<'a>(&mut self, list: &str, keys: impl IntoIterator<Item = &'a ItemKey>, from: &str) {
        for (i, k) in keys.into_iter().enumerate() {
            self.unit(list, k, format!("{from}[{i}]"));
        }
    }

    fn lot(&mut self, list: &str, q: &LotQuantity, from: impl Into<String>) {
        let i = self.list(list).len();
        self.list(list).push(json!(q));
        self.paths.push((format!("{list}[{i}]"), from.into()));
    }

    fn lots<'a>(&mut self, list: &str, qs: impl IntoIterator<Item = &'a LotQuantity>, from: &str) {
        for (i, q) in qs.into_iter().enumerate() {
            self.lot(list, q, format!("{from}[{i}]"));
        }
    }

    fn transaction(self, kind: &str, id: Option<&TransactionId>) -> Self {
        match id {
            Some(id) => {
                let mut me = self;
                me.list("biz_transactions")
                    .push(json!({"type": kind, "id": id}));
                me
            }
            None => self,
        }
    }

    fn endpoint(mut self, list: &str, kind: &str, id: Option<&str>) -> Self {
        if let Some(id) = id {
            self.list(list).push(json!({"type": kind, "id": id}));
        }
        self
    }

    /// Sets `fields.<name>` unless the value is null or an empty list/object.
    fn field(mut self, name: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).unwrap_or(Value::Null);
        let empty = match &v {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            let fields = self
                .event
                .entry("fields")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(f) = fields {
                f.insert(name.into(), v);
            }
            self.paths.push((format!("fields.{name}"), name.into()));
        }
        self
    }

    /// The same event with every unit scanned a second time into one list left out, the paths
    /// of the units after it renumbered: what the ledger's state would say about the rest.
    fn without_repeats(&self) -> Planned {
        let mut event = self.event.clone();
        let mut paths = self.paths.clone();
        for list in ["items", "children", "inputs", "outputs"] {
            let Some(Value::Array(units)) = event.get_mut(list) else {
                continue;
            };
            let mut seen = HashSet::new();
            let mut kept = Vec::with_capacity(units.len());
            let mut renumber = Vec::new();
            for (i, u) in units.drain(..).enumerate() {
                if seen.insert(u.to_string()) {
                    renumber.push((i, Some(kept.len())));
                    kept.push(u);
                } else {
                    renumber.push((i, None));
                }
            }
            *units = kept;
            paths.retain_mut(|(ev, _)| {
                let Some(rest) = ev.strip_prefix(&format!("{list}[")) else {
                    return true;
                };
                let Some((n, tail)) = rest.split_once(']') else {
                    return true;
                };
                match n.parse::<usize>().ok().and_then(|n| renumber.get(n)) {
                    Some((_, Some(to))) => {
                        *ev = format!("{list}[{to}]{tail}");
                        true
                    }
                    Some((_, None)) => false,
                    None => true,
                }
            });
        }
        Planned { event, paths }
    }

    fn has(&self, key: &str) -> bool {
        self.event
            .get(key)
            .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()))
    }
}

/// Maps a field of event `i` of the plan back to the operation's body.
fn op_field(plan: &[Planned], field: &str) -> String {
    let (i, rest) = match field
        .strip_prefix("events[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(n, rest)| Some((n.parse::<usize>().ok()?, rest)))
    {
        Some((i, rest)) => (i, rest),
        None => (0, field),
    };
    let Some(p) = plan.get(i) else {
        return field.to_owned();
    };
    let best = p
        .paths
        .iter()
        .filter(|(ev, _)| {
            rest == ev
                || rest
                    .strip_prefix(ev.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
        .max_by_key(|(ev, _)| ev.len());
    match best {
        // A source or destination names its party or place by `id`; the operation's field is
        // that code itself.
        Some((ev, op))
            if (ev.starts_with("sources[") || ev.starts_with("destinations["))
                && &rest[ev.len()..] == ".id" =>
        {
            op.clone()
        }
        Some((ev, op)) => format!("{op}{}", &rest[ev.len()..]),
        // A field the process requires and the operation left out: operations name their
        // fields as the events record them (`inspector`, `equipment`, `operator`…).
        None if rest.starts_with("fields.") => rest["fields.".len()..].to_owned(),
        // Operations that do not say otherwise call the event's place `location`.
        None if rest == "biz_location" => "location".to_owned(),
        None if plan.len() > 1 => format!("events[{i}].{rest}"),
        None => rest.to_owned(),
    }
}

fn remap(plan: &[Planned], errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.field = e.field.as_deref().map(|f| op_field(plan, f));
            e
        })
        .collect()
}

/// The time of an operation: as given, or now.
fn time_of(t: Option<DateTime<FixedOffset>>, now: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.unwrap_or_else(|| now.fixed_offset())
}

fn required(field: &str, what: &str) -> FieldError {
    FieldError::new("required", what.to_owned()).at(field)
}

/// The same unit scanned twice in one operation, wherever in it.
fn duplicate_scans<'a>(scans: impl IntoIterator<Item = (&'a ItemKey, String)>) -> Vec<FieldError> {
    let mut seen = HashSet::new();
    scans
        .into_iter()
        .filter(|(k, _)| !seen.insert(*k))
        .map(|(k, field)| {
            FieldError::new(
                "duplicate_scan",
                format!(
                    "serial {} of {} is scanned twice in this operation",
                    k.serial, k.product
                ),
            )
            .at(field)
        })
        .collect()
}

/// Scanned serials that are not registered for the line's product but are for another one:
/// the clerk scanned the wrong box.
async fn wrong_products(
    store: &dyn Store,
    scans: &[(ItemKey, String)],
) -> Result<Vec<FieldError>, AppError> {
    let mut out = Vec::new();
    for (k, field) in scans {
        if store.item(k).await?.is_some() {
            continue;
        }
        let others = store.items_by_serial(k.serial.as_str(), 5).await?;
        if let Some(other) = others.iter().find(|o| o.product != k.product) {
            out.push(
                FieldError::new(
                    "wrong_product",
                    format!(
                        "serial {} is a unit of {}, not of {} as the line says",
                        k.serial, other.product, k.product
                    ),
                )
                .at(field.clone()),
            );
        }
    }
    Ok(out)
}

/// What an operation becomes: events, problems found while planning, and anything the
/// response reports besides the receipts.
pub struct Plan {
    events: Vec<Planned>,
    problems: Vec<FieldError>,
    extra: Map<String, Value>,
}

impl Plan {
    fn new(events: Vec<Planned>, problems: Vec<FieldError>) -> Plan {
        Plan {
            events,
            problems,
            extra: Map::new(),
        }
    }
}

/// A business operation: a request body that plans itself into events against the current
/// state (read through `store`, never written).
#[async_trait]
pub trait Operation: DeserializeOwned + Send + Sync {
    /// The last segment of its endpoint, `/api/v1/ops/<NAME>`.
    const NAME: &'static str;

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError>;

    /// For an operation a plant may require a signature for: which one, the permission the
    /// signer must hold, and the signature the request carries.
    fn signed(&self) -> Option<(Signed, Permission, Option<&SignatureRequest>)> {
        None
    }
}

/// `POST /api/v1/ops/<T::NAME>`: parse, plan, check each planned event's permission, capture.
pub async fn handle<T: Operation>(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let op: T = read(&headers, &body)?;
    let now = app.clock.now();
    let mut plan = op.plan(&*app.store, now).await?;
    let mut out = std::mem::take(&mut plan.extra);
    out.insert("operation".into(), json!(T::NAME));
    if plan.events.is_empty() && plan.problems.is_empty() {
        out.insert("events".into(), json!([]));
        return Ok((StatusCode::OK, Json(Value::Object(out))).into_response());
    }
    let key = key_for(&headers, T::NAME, &body)?;
    let signature = match op.signed() {
        Some((which, needs, given)) => {
            crate::esign::signature(&app, &actor, which, needs, given).await?
        }
        None => None,
    };
    let ctx = CaptureContext {
        actor: actor.name(),
        now,
    };
    // A correction's reason goes into the record, as for `POST /api/v1/events`.
    let reasons: Vec<&str> = plan
        .events
        .iter()
        .filter_map(|p| p.event.get("corrects")?.get("reason")?.as_str())
        .collect();
    let note = crate::audit::AuditNote::object(format!("ops/{}", T::NAME))
        .signed(signature)
        .reason((!reasons.is_empty()).then(|| reasons.join("; ")));
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |r: &Vec<Receipt>| note.after(summary(r))
    });
    let outcome = record_plan(&*app.store, &ctx, Some((&actor, audit)), key, plan).await?;
    let note =
        crate::api::recorded_unless_replayed(note.after(summary(outcome.receipts())), &outcome);
    out.insert("events".into(), json!(outcome.receipts()));
    Ok(note.on((StatusCode::CREATED, Json(Value::Object(out))).into_response()))
}

/// What the audit trail says an operation recorded: how many events, at which ledger positions.
fn summary(receipts: &[Receipt]) -> Value {
    json!({
        "count": receipts.len(),
        "first_seq": receipts.first().map(|r| r.seq),
        "last_seq": receipts.last().map(|r| r.seq),
    })
}

/// Performs an operation as `ctx.actor` without a permission check: for loading data (the
/// demo plant) and for callers that checked already.
pub async fn perform<T: Operation>(
    store: &dyn Store,
    ctx: &CaptureContext,
    op: &T,
) -> Result<Vec<Receipt>, AppError> {
    let plan = op.plan(store, ctx.now).await?;
    if plan.events.is_empty() && plan.problems.is_empty() {
        return Ok(Vec::new());
    }
    Ok(record_plan(store, ctx, None, None, plan)
        .await?
        .receipts()
        .to_vec())
}

/// Plans an operation into the events it would record, without recording them and without a
/// permission check: for a loader that gathers many operations into one large capture (the
/// benchmark plant). `id` gives each event its identifier. The events are judged by the
/// store's process rules only when they are captured.
pub async fn plan_events<T: Operation>(
    store: &dyn Store,
    ctx: &CaptureContext,
    op: &T,
    id: &mut (dyn FnMut() -> Uuid + Send),
) -> Result<Vec<Event>, AppError> {
    let Plan {
        events: plan,
        problems,
        ..
    } = op.plan(store, ctx.now).await?;
    let requests = requests_of(&plan)?;
    events_of(store, &plan, requests, problems, ctx, id).await
}

fn requests_of(plan: &[Planned]) -> Result<Vec<EventRequest>, AppError> {
    plan.iter()
        .map(|p| {
            serde_json::from_value(Value::Object(p.event.clone()))
                .map_err(|e| AppError::Internal(format!("an operation planned a bad event: {e}")))
        })
        .collect()
}

/// Records a plan: permission per event (when an actor is given, with the audit record of its
/// request), the request rules, then one capture. Every problem is named by the operation's
/// own field.
async fn record_plan(
    store: &dyn Store,
    ctx: &CaptureContext,
    actor: Option<(&Actor, AuditOf<Vec<Receipt>>)>,
    key: Option<IdempotencyKey>,
    plan: Plan,
) -> Result<CaptureOutcome, AppError> {
    let Plan {
        events: plan,
        problems,
        ..
    } = plan;
    let requests = requests_of(&plan)?;
    let mut audit = None;
    if let Some((actor, record)) = actor {
        audit = Some(record);
        permitted(actor, &requests, requests.len() > 1).map_err(|e| match e {
            AppError::Forbidden(v) => AppError::Forbidden(remap(&plan, v)),
            other => other,
        })?;
        crate::site::SiteCheck::new(store, actor)
            .check_all(&requests, requests.len() > 1)
            .await
            .map_err(|e| match e {
                AppError::Forbidden(v) => AppError::Forbidden(remap(&plan, v)),
                other => other,
            })?;
    }
    let events = events_of(store, &plan, requests, problems, ctx, &mut Uuid::now_v7).await?;
    match store.capture_audited(events, key, audit).await {
        Ok(outcome) => Ok(outcome),
        Err(StoreError::Invalid(v)) => Err(AppError::from(StoreError::Invalid(remap(&plan, v)))),
        Err(e) => Err(e.into()),
    }
}

/// The planned requests as events, each problem named by the operation's own field.
async fn events_of(
    store: &dyn Store,
    plan: &[Planned],
    requests: Vec<EventRequest>,
    mut problems: Vec<FieldError>,
    ctx: &CaptureContext,
    id: &mut (dyn FnMut() -> Uuid + Send),
) -> Result<Vec<Event>, AppError> {
    let batch = requests.len() > 1;
    let mut events = Vec::with_capacity(requests.len());
    for (i, req) in requests.into_iter().enumerate() {
        match Event::from_request(req, ctx, id()) {
            Ok(e) => events.push(e),
            Err(v) => problems.extend(remap(
                plan,
                v.into_iter()
                    .map(|e| {
                        if batch {
                            e.within(&format!("events[{i}]"))
                        } else {
                            e
                        }
                    })
                    .collect(),
            )),
        }
    }
    if !problems.is_empty() {
        problems.extend(state_problems(store, ctx, plan).await?);
        let mut seen = HashSet::new();
        problems.retain(|e| seen.insert((e.code, e.field.clone())));
        return Err(AppError::Rule(problems));
    }
    Ok(events)
}

/// What the ledger's current state refuses in a plan that is refused already (a scan repeated,
/// a field missing): a dry run of every event that is well formed once its repeated scans are
/// left out, so one answer names every bad line of a batch. Nothing is kept.
async fn state_problems(
    store: &dyn Store,
    ctx: &CaptureContext,
    plan: &[Planned],
) -> Result<Vec<FieldError>, AppError> {
    let mut dry = Vec::new();
    let mut events = Vec::new();
    for p in plan {
        let p = p.without_repeats();
        let Ok(req) = serde_json::from_value::<EventRequest>(Value::Object(p.event.clone())) else {
            continue;
        };
        if let Ok(e) = Event::from_request(req, ctx, Uuid::now_v7()) {
            events.push(e);
            dry.push(p);
        }
    }
    if events.is_empty() {
        return Ok(Vec::new());
    }
    match store.capture_import(events, true, None, None).await {
        Ok(_) => Ok(Vec::new()),
        Err(StoreError::Invalid(v)) => Ok(remap(&dry, v)),
        Err(e) => Err(e.into()),
    }
}

fn read<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, AppError> {
    require_json(headers)?;
    parse(body, "")
}

fn key_for(headers: &HeaderMap, op: &str, body: &[u8]) -> Result<Option<IdempotencyKey>, AppError> {
    idempotency(headers, &format!("POST /api/v1/ops/{op}"), body)
}

// ---------------------------------------------------------------------------------------------
// The operations. Each request type is the body of its endpoint; `plan` turns it into events.

/// A received lot: quantity and, for a first receipt, its dates.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLot {
    pub lot: LotCode,
    pub quantity: Quantity,
    #[serde(default)]
    pub production_date: Option<NaiveDate>,
    #[serde(default)]
    pub expiry_date: Option<NaiveDate>,
}

/// One line of a purchase order or a sales order: a product, its serials and/or lots.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// The order's own line number, recorded on the event.
    #[serde(default)]
    pub line: Option<String>,
    pub product: ProductCode,
    #[serde(default)]
    pub serials: Vec<Serial>,
    #[serde(default)]
    pub lots: Vec<ReceivedLot>,
    /// Custom attribute values of the received units (receipt only).
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

impl OrderLine {
    fn keys(&self) -> Vec<ItemKey> {
        self.serials
            .iter()
            .map(|s| ItemKey {
                product: self.product.clone(),
                serial: s.clone(),
            })
            .collect()
    }

    fn lot(&self, l: &ReceivedLot) -> LotQuantity {
        LotQuantity {
            product: self.product.clone(),
            lot: l.lot.clone(),
            quantity: Some(l.quantity),
            uom: None,
        }
    }
}

fn line_scans(lines: &[OrderLine]) -> Vec<(ItemKey, String)> {
    lines
        .iter()
        .enumerate()
        .flat_map(|(l, line)| {
            line.keys()
                .into_iter()
                .enumerate()
                .map(move |(i, k)| (k, format!("lines[{l}].serials[{i}]")))
        })
        .collect()
}

fn empty_lines(lines: &[OrderLine]) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.serials.is_empty() && l.lots.is_empty())
        .map(|(i, _)| required(&format!("lines[{i}]"), "a line needs `serials` or `lots`"))
        .collect();
    if lines.is_empty() {
        out.push(required("lines", "name at least one line"));
    }
    out
}

/// `POST /api/v1/ops/receive`: goods received against a purchase order.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub supplier: PartyCode,
    pub purchase_order: TransactionId,
    /// The receiving bin or area.
    pub location: LocationCode,
    #[serde(default)]
    pub inspector: Option<String>,
    pub lines: Vec<OrderLine>,
}

impl Receive {
    /// Supplier serials not yet known are registered here, with the supplier as their origin;
    /// lots come into stock at `location`, one event per lot (each carries its own dates).
    fn events(&self, now: DateTime<Utc>) -> (Vec<Planned>, Vec<FieldError>) {
        let t = time_of(self.time, now);
        let mut plan = Vec::new();
        let base = |step: &str| {
            let mut p = Planned::new("object", Some("ADD"), step, t)
                .set("disposition", "sellable_not_accessible")
                .set("biz_location", &self.location)
                .endpoint("sources", "owning_party", Some(self.supplier.as_str()))
                .transaction("po", Some(&self.purchase_order))
                .field("supplier", &self.supplier)
                .field("origin", &self.supplier)
                .field("inspector", &self.inspector);
            p.paths.push(("sources[0]".into(), "supplier".into()));
            p
        };
        for (l, line) in self.lines.iter().enumerate() {
            if !line.serials.is_empty() {
                let mut p = base("receiving").field("po_line", &line.line);
                p.units("items", &line.keys(), &format!("lines[{l}].serials"));
                if !line.attributes.is_empty() {
                    p = p.set("ilmd", &line.attributes);
                    p.paths
                        .push(("ilmd".into(), format!("lines[{l}].attributes")));
                }
                plan.push(p);
            }
            for (i, lot) in line.lots.iter().enumerate() {
                let mut p = base("receiving").field("po_line", &line.line).set(
                    "ilmd",
                    json!({"production_date": lot.production_date, "expiry_date": lot.expiry_date})
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .filter(|(_, v)| !v.is_null())
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect::<Map<_, _>>()
                        }),
                );
                p.lot("lots", &line.lot(lot), format!("lines[{l}].lots[{i}]"));
                plan.push(p);
            }
        }
        let mut problems = empty_lines(&self.lines);
        let scans = line_scans(&self.lines);
        problems.extend(duplicate_scans(scans.iter().map(|(k, f)| (k, f.clone()))));
        (plan, problems)
    }
}

#[async_trait]
impl Operation for Receive {
    const NAME: &'static str = "receive";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let (plan, problems) = op.events(now);
        Ok(Plan::new(plan, problems))
    }
}

/// `POST /api/v1/ops/commission`: finished-good serials made on a work order.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Commission {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub product: ProductCode,
    pub serials: Vec<Serial>,
    pub work_order: TransactionId,
    /// The production line.
    pub line: LocationCode,
    #[serde(default)]
    pub station: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub revision: Option<String>,
    #[serde(default)]
    pub lot: Option<LotCode>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

impl Commission {
    fn events(&self, now: DateTime<Utc>) -> (Vec<Planned>, Vec<FieldError>) {
        let mut ilmd = self.attributes.clone();
        if let Some(lot) = &self.lot {
            ilmd.insert("lot".into(), json!(lot));
        }
        let mut p = Planned::new(
            "object",
            Some("ADD"),
            "commissioning",
            time_of(self.time, now),
        )
        .set("disposition", "active")
        .set("biz_location", &self.line)
        .set("read_point", &self.line)
        .transaction("prodorder", Some(&self.work_order))
        .field("station", &self.station)
        .field("operator", &self.operator)
        .field("revision", &self.revision)
        .set("ilmd", (!ilmd.is_empty()).then_some(&ilmd));
        p.paths.push(("ilmd".into(), "attributes".into()));
        p.paths.push(("biz_location".into(), "line".into()));
        let keys: Vec<ItemKey> = self
            .serials
            .iter()
            .map(|s| ItemKey {
                product: self.product.clone(),
                serial: s.clone(),
            })
            .collect();
        p.units("items", &keys, "serials");
        let mut problems = Vec::new();
        if self.serials.is_empty() {
            problems.push(required("serials", "name at least one serial"));
        }
        (vec![p], problems)
    }
}

#[async_trait]
impl Operation for Commission {
    const NAME: &'static str = "commission";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let (plan, problems) = op.events(now);
        Ok(Plan::new(plan, problems))
    }
}

/// `POST /api/v1/ops/assemble`: components (serials and lot quantities) into a parent.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assemble {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub parent: ItemKey,
    #[serde(default)]
    pub components: Vec<ItemKey>,
    #[serde(default)]
    pub component_lots: Vec<LotQuantity>,
    /// Where the lots are taken from (required with `component_lots`).
    #[serde(default)]
    pub location: Option<LocationCode>,
    #[serde(default)]
    pub work_order: Option<TransactionId>,
    #[serde(default)]
    pub station: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
}

impl Assemble {
    fn events(&self, now: DateTime<Utc>) -> (Vec<Planned>, Vec<FieldError>) {
        let mut p = Planned::new(
            "aggregation",
            Some("ADD"),
            "assembling",
            time_of(self.time, now),
        )
        .set("biz_location", &self.location)
        .transaction("prodorder", self.work_order.as_ref())
        .field("station", &self.station)
        .field("operator", &self.operator);
        p.unit("parent", &self.parent, "parent");
        p.event.insert("parent".into(), json!(self.parent));
        p.units("children", &self.components, "components");
        p.lots("child_lots", &self.component_lots, "component_lots");
        p.paths.push(("biz_location".into(), "location".into()));
        let mut problems = Vec::new();
        if self.components.is_empty() && self.component_lots.is_empty() {
            problems.push(required(
                "components",
                "name the components (serials or lot quantities)",
            ));
        }
        (vec![p], problems)
    }
}

#[async_trait]
impl Operation for Assemble {
    const NAME: &'static str = "assemble";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let (plan, problems) = op.events(now);
        Ok(Plan::new(plan, problems))
    }
}

/// `POST /api/v1/ops/remove`: components taken out of a parent (all of them if none named).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Remove {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub parent: ItemKey,
    #[serde(default)]
    pub components: Vec<ItemKey>,
    #[serde(default)]
    pub location: Option<LocationCode>,
    #[serde(default)]
    pub repair_order: Option<TransactionId>,
    #[serde(default)]
    pub reason: Option<String>,
}

fn removal(
    t: DateTime<FixedOffset>,
    step: &str,
    parent: &ItemKey,
    location: Option<&LocationCode>,
) -> Planned {
    let mut p = Planned::new("aggregation", Some("DELETE"), step, t).set("biz_location", location);
    p.event.insert("parent".into(), json!(parent));
    p.paths.push(("parent".into(), "parent".into()));
    p
}

#[async_trait]
impl Operation for Remove {
    const NAME: &'static str = "remove";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut p = removal(
            time_of(op.time, now),
            "removing",
            &op.parent,
            op.location.as_ref(),
        )
        .transaction("ro", op.repair_order.as_ref())
        .field("reason", &op.reason);
        p.units("children", &op.components, "components");
        Ok(Plan::new(vec![p], Vec::new()))
    }
}

/// A part swapped: the old one comes out, the new one goes in.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Swap {
    pub old: ItemKey,
    pub new: ItemKey,
}

/// The events of part swaps in `parent`: every old part out, then every new part in.
fn swaps(
    t: DateTime<FixedOffset>,
    parent: &ItemKey,
    parts: &[Swap],
    from: &str,
    location: Option<&LocationCode>,
    order: (&str, Option<&TransactionId>),
) -> Vec<Planned> {
    if parts.is_empty() {
        return Vec::new();
    }
    let mut out = removal(t, "removing", parent, location).transaction(order.0, order.1);
    let mut into = Planned::new("aggregation", Some("ADD"), "replacing", t)
        .set("biz_location", location)
        .transaction(order.0, order.1);
    into.event.insert("parent".into(), json!(parent));
    into.paths.push(("parent".into(), "parent".into()));
    for (i, s) in parts.iter().enumerate() {
        out.unit("children", &s.old, format!("{from}[{i}].old"));
        into.unit("children", &s.new, format!("{from}[{i}].new"));
    }
    vec![out, into]
}

fn swap_scans<'a>(parts: &'a [Swap], from: &str) -> Vec<(&'a ItemKey, String)> {
    parts
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            [
                (&s.old, format!("{from}[{i}].old")),
                (&s.new, format!("{from}[{i}].new")),
            ]
        })
        .collect()
}

/// `POST /api/v1/ops/replace`: parts swapped in a parent; the genealogy keeps both bindings.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Replace {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub parent: ItemKey,
    pub parts: Vec<Swap>,
    #[serde(default)]
    pub location: Option<LocationCode>,
    #[serde(default)]
    pub repair_order: Option<TransactionId>,
}

#[async_trait]
impl Operation for Replace {
    const NAME: &'static str = "replace";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let plan = swaps(
            time_of(op.time, now),
            &op.parent,
            &op.parts,
            "parts",
            op.location.as_ref(),
            ("ro", op.repair_order.as_ref()),
        );
        let mut problems = duplicate_scans(swap_scans(&op.parts, "parts"));
        if op.parts.is_empty() {
            problems.push(required("parts", "name the parts swapped (old and new)"));
        }
        Ok(Plan::new(plan, problems))
    }
}

/// A lot produced by a transformation, with its dates.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputLot {
    pub product: ProductCode,
    pub lot: LotCode,
    pub quantity: Quantity,
}

/// `POST /api/v1/ops/transform`: inputs consumed (with quantities) into outputs, on equipment
/// with process parameters.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub location: LocationCode,
    #[serde(default)]
    pub inputs: Vec<ItemKey>,
    #[serde(default)]
    pub input_lots: Vec<LotQuantity>,
    #[serde(default)]
    pub outputs: Vec<ItemKey>,
    #[serde(default)]
    pub output_lots: Vec<LotQuantity>,
    #[serde(default)]
    pub production_date: Option<NaiveDate>,
    #[serde(default)]
    pub expiry_date: Option<NaiveDate>,
    #[serde(default)]
    pub equipment: Option<String>,
    /// Process parameters (temperature, pressure…), recorded as given.
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    #[serde(default)]
    pub work_order: Option<TransactionId>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Value>,
}

#[async_trait]
impl Operation for Transform {
    const NAME: &'static str = "transform";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut ilmd = op.attributes.clone();
        if let Some(d) = op.production_date {
            ilmd.insert("production_date".into(), json!(d));
        }
        if let Some(d) = op.expiry_date {
            ilmd.insert("expiry_date".into(), json!(d));
        }
        let mut p = Planned::new(
            "transformation",
            None,
            "creating_class_instance",
            time_of(op.time, now),
        )
        .set("biz_location", &op.location)
        .transaction("prodorder", op.work_order.as_ref())
        .field("equipment", &op.equipment)
        .field("parameters", &op.parameters)
        .set("ilmd", (!ilmd.is_empty()).then_some(&ilmd));
        p.paths.push(("biz_location".into(), "location".into()));
        p.paths.push(("ilmd".into(), "attributes".into()));
        p.units("inputs", &op.inputs, "inputs");
        p.lots("input_lots", &op.input_lots, "input_lots");
        p.units("outputs", &op.outputs, "outputs");
        p.lots("output_lots", &op.output_lots, "output_lots");
        Ok(Plan::new(vec![p], Vec::new()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InspectionResult {
    Pass,
    Fail,
    /// Passed with a reservation (a deviation accepted, a re-test due).
    Conditional,
}

/// One measured value and its limits.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub name: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

impl Measurement {
    fn within_limits(&self) -> bool {
        self.low.is_none_or(|l| self.value >= l) && self.high.is_none_or(|h| self.value <= h)
    }
}

/// `POST /api/v1/ops/inspect`: a QC result for units and/or lot samples. A failure puts them
/// on QC hold (which needs the `hold` permission too).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inspect {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    /// Lots inspected, with the sample quantity.
    #[serde(default)]
    pub lots: Vec<LotQuantity>,
    pub result: InspectionResult,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    #[serde(default)]
    pub defect_codes: Vec<String>,
    pub inspector: String,
    #[serde(default)]
    pub equipment: Option<String>,
    /// References to documents or photos kept elsewhere.
    #[serde(default)]
    pub attachments: Vec<String>,
    #[serde(default)]
    pub location: Option<LocationCode>,
    #[serde(default)]
    pub note: Option<String>,
}

#[async_trait]
impl Operation for Inspect {
    const NAME: &'static str = "inspect";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut problems = Vec::new();
        if op.inspector.trim().is_empty() {
            problems.push(required("inspector", "say who inspected"));
        }
        for (i, m) in op.measurements.iter().enumerate() {
            if m.name.trim().is_empty() {
                problems.push(required(
                    &format!("measurements[{i}].name"),
                    "name the measurement",
                ));
            }
            if let (Some(l), Some(h)) = (m.low, m.high)
                && l > h
            {
                problems.push(
                    FieldError::new(
                        "invalid_limits",
                        format!(
                            "the low limit {l} of {} is above its high limit {h}",
                            m.name
                        ),
                    )
                    .at(format!("measurements[{i}].low")),
                );
            }
            if op.result == InspectionResult::Pass && !m.within_limits() {
                problems.push(
                    FieldError::new(
                        "out_of_limits",
                        format!(
                            "{} = {} is outside its limits; the result cannot be pass",
                            m.name, m.value
                        ),
                    )
                    .at(format!("measurements[{i}].value")),
                );
            }
        }
        let (disposition, hold) = match op.result {
            InspectionResult::Fail => ("non_conformant", Some(json!({"place": "qc"}))),
            InspectionResult::Pass | InspectionResult::Conditional => ("conformant", None),
        };
        let mut p = Planned::new(
            "object",
            Some("OBSERVE"),
            "inspecting",
            time_of(op.time, now),
        )
        .set("disposition", disposition)
        .set("biz_location", &op.location)
        .set("hold", hold)
        .field("result", op.result)
        .field("measurements", &op.measurements)
        .field("defect_codes", &op.defect_codes)
        .field("inspector", &op.inspector)
        .field("equipment", &op.equipment)
        .field("attachments", &op.attachments)
        .field("note", &op.note);
        p.units("items", &op.items, "items");
        p.lots("lots", &op.lots, "lots");
        if !p.has("items") && !p.has("lots") {
            problems.push(required("items", "name the units or lots inspected"));
        }
        Ok(Plan::new(vec![p], problems))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Back to production; the QC hold is released.
    Rework,
    /// Scrapped: the units leave the books.
    Scrap,
    /// Used as it is, with an approval; the QC hold is released.
    UseAsIs,
}

/// `POST /api/v1/ops/disposition`: what happens to units (or lots) that failed QC.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QcDisposition {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub lots: Vec<LotQuantity>,
    pub decision: Decision,
    pub reason: String,
    /// Who approved a use-as-is (required for it).
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub location: Option<LocationCode>,
    /// The electronic signature, where the plant requires one for dispositions.
    #[serde(default, skip_serializing)]
    pub signature: Option<SignatureRequest>,
}

#[async_trait]
impl Operation for QcDisposition {
    const NAME: &'static str = "disposition";

    fn signed(&self) -> Option<(Signed, Permission, Option<&SignatureRequest>)> {
        Some((
            Signed::Disposition,
            Permission::Inspect,
            self.signature.as_ref(),
        ))
    }

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let t = time_of(op.time, now);
        let mut problems = Vec::new();
        if op.reason.trim().is_empty() {
            problems.push(required("reason", "give the reason for the decision"));
        }
        if op.decision == Decision::UseAsIs && op.approved_by.as_deref().is_none_or(str::is_empty) {
            problems.push(
                FieldError::new(
                    "approval_required",
                    "use-as-is needs the name of whoever approved it",
                )
                .at("approved_by"),
            );
        }
        let p = match op.decision {
            Decision::Scrap => Planned::new("object", Some("DELETE"), "destroying", t)
                .set("disposition", "destroyed"),
            Decision::Rework => Planned::new("object", Some("OBSERVE"), "inspecting", t)
                .set("disposition", "in_progress")
                .set("hold", json!({"release": "qc"})),
            Decision::UseAsIs => Planned::new("object", Some("OBSERVE"), "inspecting", t)
                .set("disposition", "conformant")
                .set("hold", json!({"release": "qc"})),
        };
        let mut p = p
            .set("biz_location", &op.location)
            .field("decision", op.decision)
            .field("reason", &op.reason)
            .field("approved_by", &op.approved_by);
        p.units("items", &op.items, "items");
        p.lots("lots", &op.lots, "lots");
        if !p.has("items") && !p.has("lots") {
            problems.push(required("items", "name the units or lots decided on"));
        }
        Ok(Plan::new(vec![p], problems))
    }
}

/// `POST /api/v1/ops/pack`: units (or cases) into a container, registered on first use.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pack {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    /// A unit of a container product: an SSCC or an internal code as the serial.
    pub container: ItemKey,
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub location: Option<LocationCode>,
}

#[async_trait]
impl Operation for Pack {
    const NAME: &'static str = "pack";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let t = time_of(op.time, now);
        let mut plan = Vec::new();
        if store.item(&op.container).await?.is_none() {
            let mut new = Planned::new("object", Some("ADD"), "packing", t)
                .set("disposition", "sellable_not_accessible")
                .set("biz_location", &op.location);
            new.unit("items", &op.container, "container");
            plan.push(new);
        }
        let mut p = Planned::new("aggregation", Some("ADD"), "packing", t)
            .set("biz_location", &op.location)
            .set("parent", &op.container);
        p.paths.push(("parent".into(), "container".into()));
        p.units("children", &op.items, "items");
        plan.push(p);
        let mut problems = Vec::new();
        if op.items.is_empty() {
            problems.push(required("items", "name what goes into the container"));
        }
        Ok(Plan::new(plan, problems))
    }
}

/// `POST /api/v1/ops/unpack`: units out of a container (all of them if none named).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Unpack {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub container: ItemKey,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub location: Option<LocationCode>,
}

#[async_trait]
impl Operation for Unpack {
    const NAME: &'static str = "unpack";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut p = removal(
            time_of(op.time, now),
            "unpacking",
            &op.container,
            op.location.as_ref(),
        );
        p.paths.push(("parent".into(), "container".into()));
        p.units("children", &op.items, "items");
        Ok(Plan::new(vec![p], Vec::new()))
    }
}

/// `POST /api/v1/ops/move`: put away, move or transfer units, containers and lot quantities.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Move {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub lots: Vec<LotQuantity>,
    /// Where lot quantities are taken from (required with `lots`).
    #[serde(default)]
    pub from: Option<LocationCode>,
    pub to: LocationCode,
    /// Put away into stock: units made on a line become `in_stock`.
    #[serde(default)]
    pub put_away: bool,
    #[serde(default)]
    pub transfer_order: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
}

#[async_trait]
impl Operation for Move {
    const NAME: &'static str = "move";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut p = Planned::new("object", Some("OBSERVE"), "storing", time_of(op.time, now))
            .set("biz_location", &op.to)
            .set(
                "disposition",
                op.put_away.then_some("sellable_not_accessible"),
            )
            .field("transfer_order", &op.transfer_order)
            .field("operator", &op.operator);
        p.paths.push(("biz_location".into(), "to".into()));
        if !op.lots.is_empty() {
            p = p
                .endpoint("sources", "location", op.from.as_ref().map(|l| l.as_str()))
                .endpoint("destinations", "location", Some(op.to.as_str()));
            p.paths.push(("sources[0]".into(), "from".into()));
            p.paths.push(("destinations[0]".into(), "to".into()));
        }
        p.units("items", &op.items, "items");
        p.lots("lots", &op.lots, "lots");
        let mut problems = Vec::new();
        if !op.lots.is_empty() && op.from.is_none() {
            problems.push(required(
                "from",
                "say where the lot quantities are taken from",
            ));
        }
        if op.items.is_empty() && op.lots.is_empty() {
            problems.push(required("items", "name the units or lots moved"));
        }
        Ok(Plan::new(vec![p], problems))
    }
}

/// A unit price in the order's currency, as written: a non-negative decimal with at most four
/// decimal places (`"1299.00"`). Commercial data: masked without `read_prices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Price(String);

impl TryFrom<String> for Price {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 12
            || !digits(whole)
            || !digits(frac)
            || frac.len() > 4
            || (s.contains('.') && frac.is_empty())
        {
            return Err(format!(
                "`{s}` is not a price: write a decimal such as \"1299.00\" (at most 4 decimals)"
            ));
        }
        Ok(Price(s))
    }
}

impl From<Price> for String {
    fn from(p: Price) -> String {
        p.0
    }
}

impl schemars::JsonSchema for Price {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Price".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A unit price in the order's currency: a decimal string with at most 4 decimals. Masked (`***`) to readers without `read_prices`.",
            "type": "string",
            "pattern": "^[0-9]{1,12}(\\.[0-9]{1,4})?$",
            "examples": ["1299.00"]
        })
    }
}

/// `POST /api/v1/ops/ship`: goods shipped against a sales order.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ship {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub sales_order: TransactionId,
    #[serde(default)]
    pub customer: Option<PartyCode>,
    #[serde(default)]
    pub distributor: Option<PartyCode>,
    #[serde(default)]
    pub ship_to_region: Option<String>,
    #[serde(default)]
    pub ship_to_address: Option<String>,
    #[serde(default)]
    pub carrier: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// The unit price agreed on the order (recorded as the event field `price`).
    #[serde(default)]
    pub price: Option<Price>,
    /// The warehouse (or bin, for lot quantities) the goods leave.
    pub from: LocationCode,
    /// The receiving party's location, if it is known (required for lot quantities).
    #[serde(default)]
    pub to: Option<LocationCode>,
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// Containers shipped whole, with everything inside.
    #[serde(default)]
    pub containers: Vec<ItemKey>,
}

#[async_trait]
impl Operation for Ship {
    const NAME: &'static str = "ship";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let consignee = op.distributor.as_ref().or(op.customer.as_ref());
        let has_lots = op.lines.iter().any(|l| !l.lots.is_empty());
        let mut p = Planned::new("object", Some("OBSERVE"), "shipping", time_of(op.time, now))
            .set("disposition", "in_transit")
            .set("read_point", &op.from)
            .transaction("so", Some(&op.sales_order))
            .endpoint("sources", "location", Some(op.from.as_str()))
            .endpoint(
                "destinations",
                "owning_party",
                consignee.map(|c| c.as_str()),
            )
            .endpoint(
                "destinations",
                "location",
                op.to.as_ref().map(|l| l.as_str()),
            )
            .field("customer", &op.customer)
            .field("distributor", &op.distributor)
            .field("ship_to_region", &op.ship_to_region)
            .field("ship_to_address", &op.ship_to_address)
            .field("carrier", &op.carrier)
            .field("tracking_number", &op.tracking_number)
            .field("price", &op.price);
        p.paths.push(("read_point".into(), "from".into()));
        p.paths.push(("sources[0]".into(), "from".into()));
        let party_at = usize::from(consignee.is_some());
        if consignee.is_some() {
            p.paths.push((
                "destinations[0]".into(),
                if op.distributor.is_some() {
                    "distributor"
                } else {
                    "customer"
                }
                .into(),
            ));
        }
        p.paths
            .push((format!("destinations[{party_at}]"), "to".into()));
        for (l, line) in op.lines.iter().enumerate() {
            for (i, k) in line.keys().iter().enumerate() {
                p.unit("items", k, format!("lines[{l}].serials[{i}]"));
            }
            for (i, lot) in line.lots.iter().enumerate() {
                p.lot("lots", &line.lot(lot), format!("lines[{l}].lots[{i}]"));
            }
        }
        for (i, c) in op.containers.iter().enumerate() {
            p.unit("items", c, format!("containers[{i}]"));
        }
        let mut problems = Vec::new();
        if consignee.is_none() {
            problems.push(required("customer", "name the customer or the distributor"));
        }
        if has_lots && op.to.is_none() {
            problems.push(required(
                "to",
                "lot quantities need the location they are shipped to",
            ));
        }
        if op.lines.is_empty() && op.containers.is_empty() {
            problems.push(required("lines", "name what is shipped"));
        }
        problems.extend(
            op.lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.serials.is_empty() && l.lots.is_empty())
                .map(|(i, _)| required(&format!("lines[{i}]"), "a line needs `serials` or `lots`")),
        );
        let scans = line_scans(&op.lines);
        problems.extend(wrong_products(store, &scans).await?);
        Ok(Plan::new(vec![p], problems))
    }
}

/// `POST /api/v1/ops/distributor-receipt`: a distributor takes goods into its warehouse.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistributorReceipt {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub distributor: PartyCode,
    /// The distributor's location.
    pub location: LocationCode,
    #[serde(default)]
    pub sales_order: Option<TransactionId>,
    /// Units and containers received.
    pub items: Vec<ItemKey>,
}

#[async_trait]
impl Operation for DistributorReceipt {
    const NAME: &'static str = "distributor-receipt";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut p = Planned::new(
            "object",
            Some("OBSERVE"),
            "receiving",
            time_of(op.time, now),
        )
        .set("disposition", "sellable_accessible")
        .set("biz_location", &op.location)
        .endpoint(
            "destinations",
            "possessing_party",
            Some(op.distributor.as_str()),
        )
        .transaction("so", op.sales_order.as_ref());
        p.paths.push(("biz_location".into(), "location".into()));
        p.paths
            .push(("destinations[0]".into(), "distributor".into()));
        p.units("items", &op.items, "items");
        Ok(Plan::new(vec![p], Vec::new()))
    }
}

/// `POST /api/v1/ops/sell`: sold to an end customer; the warranty starts now, for the months
/// the product gives.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sell {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub customer: PartyCode,
    /// The distributor or shop that sold it; by default the distributor holding the first unit.
    #[serde(default)]
    pub seller: Option<PartyCode>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub invoice: Option<String>,
    /// The unit price the customer paid (recorded as the event field `price`).
    #[serde(default)]
    pub price: Option<Price>,
    pub items: Vec<ItemKey>,
}

#[async_trait]
impl Operation for Sell {
    const NAME: &'static str = "sell";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let t = time_of(op.time, now);
        let mut months = BTreeMap::new();
        for k in &op.items {
            if !months.contains_key(k.product.as_str())
                && let Some(p) = store.product(k.product.as_str()).await?
                && let Some(m) = p.def.warranty_months
            {
                months.insert(k.product.to_string(), m);
            }
        }
        // Sold by the seller named, or else by the distributor holding the unit; a sale outside
        // the seller's authorised regions is recorded, and flagged (窜货).
        let seller =
            crate::channel::seller_of(store, op.seller.as_ref().map(|s| s.as_str()), &op.items)
                .await?;
        let diversion =
            crate::channel::judge_sale(store, seller.as_deref(), op.region.as_deref()).await?;
        let mut p = Planned::new("object", Some("OBSERVE"), "retail_selling", t)
            .set("disposition", "retail_sold")
            .endpoint("destinations", "owning_party", Some(op.customer.as_str()))
            .field("sold_by", &seller)
            .field("region", &op.region)
            .field("diversion", &diversion)
            .field("invoice", &op.invoice)
            .field("price", &op.price)
            .field("warranty_start", t.to_rfc3339())
            .field("warranty_months", &months);
        p.paths.push(("destinations[0]".into(), "customer".into()));
        p.units("items", &op.items, "items");
        Ok(Plan::new(vec![p], Vec::new()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnOutcome {
    /// Kept aside as `returned` (not sellable, not shippable) until someone decides.
    Quarantine,
    /// Back into stock at `location`.
    Restock,
    /// Straight into repair.
    Repair,
}

/// `POST /api/v1/ops/return`: units coming back under an RMA.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Return {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub rma: TransactionId,
    #[serde(default)]
    pub customer: Option<PartyCode>,
    pub reason: String,
    pub condition: String,
    pub outcome: ReturnOutcome,
    pub location: LocationCode,
    pub items: Vec<ItemKey>,
}

#[async_trait]
impl Operation for Return {
    const NAME: &'static str = "return";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let t = time_of(op.time, now);
        let mut back = Planned::new("object", Some("OBSERVE"), "receiving", t)
            .set("disposition", "returned")
            .set("biz_location", &op.location)
            .transaction("rma", Some(&op.rma))
            .endpoint(
                "sources",
                "owning_party",
                op.customer.as_ref().map(|c| c.as_str()),
            )
            .field("reason", &op.reason)
            .field("condition", &op.condition)
            .field("outcome", op.outcome);
        back.paths.push(("biz_location".into(), "location".into()));
        back.units("items", &op.items, "items");
        let mut plan = vec![back];
        let next = match op.outcome {
            ReturnOutcome::Quarantine => None,
            ReturnOutcome::Restock => Some(
                Planned::new("object", Some("OBSERVE"), "storing", t)
                    .set("disposition", "sellable_not_accessible"),
            ),
            ReturnOutcome::Repair => Some(
                Planned::new("object", Some("OBSERVE"), "repairing", t)
                    .set("disposition", "in_progress"),
            ),
        };
        if let Some(n) = next {
            let mut n = n
                .set("biz_location", &op.location)
                .transaction("rma", Some(&op.rma));
            n.units("items", &op.items, "items");
            plan.push(n);
        }
        let mut problems = Vec::new();
        for (name, v) in [("reason", &op.reason), ("condition", &op.condition)] {
            if v.trim().is_empty() {
                problems.push(required(name, &format!("give the {name}")));
            }
        }
        Ok(Plan::new(plan, problems))
    }
}

/// `POST /api/v1/ops/repair`: a repair order on one unit, with the parts swapped.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repair {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub repair_order: TransactionId,
    pub unit: ItemKey,
    pub fault: String,
    #[serde(default)]
    pub fault_code: Option<String>,
    pub engineer: String,
    #[serde(default)]
    pub parts: Vec<Swap>,
    /// Finished: the unit goes back into stock at `location`; otherwise it stays in repair.
    #[serde(default)]
    pub completed: bool,
    pub location: LocationCode,
}

#[async_trait]
impl Operation for Repair {
    const NAME: &'static str = "repair";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let t = time_of(op.time, now);
        // In or out of warranty is read from the unit's passport at the time of the repair.
        let warranty = crate::passport::passport(store, &op.unit, t.with_timezone(&Utc))
            .await?
            .map(|p| match p.warranty.status {
                "active" => "in_warranty",
                "expired" => "out_of_warranty",
                other => other,
            });
        let mut plan = swaps(
            t,
            &op.unit,
            &op.parts,
            "parts",
            Some(&op.location),
            ("ro", Some(&op.repair_order)),
        );
        for p in &mut plan {
            p.paths.push(("parent".into(), "unit".into()));
        }
        let mut done = Planned::new("object", Some("OBSERVE"), "repairing", t)
            .set(
                "disposition",
                if op.completed {
                    "sellable_not_accessible"
                } else {
                    "in_progress"
                },
            )
            .set("biz_location", &op.location)
            .transaction("ro", Some(&op.repair_order))
            .field("fault", &op.fault)
            .field("fault_code", &op.fault_code)
            .field("engineer", &op.engineer)
            .field("parts_replaced", &op.parts)
            .field("completed", op.completed)
            .field("warranty", warranty);
        done.unit("items", &op.unit, "unit");
        plan.push(done);
        let mut problems = duplicate_scans(
            std::iter::once((&op.unit, "unit".to_owned())).chain(swap_scans(&op.parts, "parts")),
        );
        for (name, v) in [("fault", &op.fault), ("engineer", &op.engineer)] {
            if v.trim().is_empty() {
                problems.push(required(name, &format!("give the {name}")));
            }
        }
        Ok(Plan::new(plan, problems))
    }
}

/// `POST /api/v1/ops/scrap`: units and lot quantities destroyed; their history stays.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scrap {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub lots: Vec<LotQuantity>,
    pub reason: String,
    /// Where lot quantities are scrapped from (required with `lots`).
    #[serde(default)]
    pub location: Option<LocationCode>,
}

#[async_trait]
impl Operation for Scrap {
    const NAME: &'static str = "scrap";

    async fn plan(&self, _store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let op = self;
        let mut p = Planned::new(
            "object",
            Some("DELETE"),
            "destroying",
            time_of(op.time, now),
        )
        .set("disposition", "destroyed")
        .set("biz_location", &op.location)
        .field("reason", &op.reason);
        p.paths.push(("biz_location".into(), "location".into()));
        p.units("items", &op.items, "items");
        p.lots("lots", &op.lots, "lots");
        let mut problems = Vec::new();
        if op.reason.trim().is_empty() {
            problems.push(required("reason", "give the reason for scrapping"));
        }
        if op.items.is_empty() && op.lots.is_empty() {
            problems.push(required("items", "name the units or lots scrapped"));
        }
        Ok(Plan::new(vec![p], problems))
    }
}

/// `POST /api/v1/ops/hold` and `/release`: a QC, recall or administrative hold on units, lots,
/// or everything produced from a lot (through every level of assembly and transformation).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    pub kind: HoldKind,
    #[serde(default)]
    pub items: Vec<ItemKey>,
    #[serde(default)]
    pub lots: Vec<LotKey>,
    /// Lots whose every downstream unit and lot is held (or released) too.
    #[serde(default)]
    pub produced_from: Vec<LotKey>,
    pub reason: String,
}

/// `POST /api/v1/ops/release`: the same body as a hold; releases it.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Release(pub Hold);

#[async_trait]
impl Operation for Hold {
    const NAME: &'static str = "hold";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        hold_plan(self, store, now, true).await
    }
}

#[async_trait]
impl Operation for Release {
    const NAME: &'static str = "release";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        hold_plan(&self.0, store, now, false).await
    }
}

async fn hold_plan(
    op: &Hold,
    store: &dyn Store,
    now: DateTime<Utc>,
    place: bool,
) -> Result<Plan, AppError> {
    let change = if place {
        json!({"place": op.kind})
    } else {
        json!({"release": op.kind})
    };
    let mut p = Planned::new("object", Some("OBSERVE"), "holding", time_of(op.time, now))
        .set("hold", change)
        .field("reason", &op.reason);
    p.units("items", &op.items, "items");
    let mut problems = Vec::new();
    // A hold names lots without moving stock; the quantity recorded is what is on hand.
    let mut lots: Vec<(LotKey, String)> = op
        .lots
        .iter()
        .enumerate()
        .map(|(i, l)| (l.clone(), format!("lots[{i}]")))
        .collect();
    let mut units: BTreeSet<ItemKey> = op.items.iter().cloned().collect();
    let mut not_held = Vec::new();
    for (i, root) in op.produced_from.iter().enumerate() {
        if store.lot(root).await?.is_none() {
            problems.push(
                FieldError::new("unknown_lot", format!("{root} is not registered"))
                    .at(format!("produced_from[{i}]")),
            );
            continue;
        }
        lots.push((root.clone(), format!("produced_from[{i}]")));
        let reached =
            crate::trace::trace(store, Node::Lot(root.clone()), Direction::Parents, now).await?;
        for n in reached.nodes {
            match n.node {
                Node::Item(k) => {
                    let gone = n.state.as_ref().is_some_and(|s| s.status.is_final());
                    if !gone && units.insert(k.clone()) {
                        p.unit("items", &k, format!("produced_from[{i}]"));
                    }
                }
                Node::Lot(l) => {
                    if !lots.iter().any(|(x, _)| *x == l) {
                        lots.push((l, format!("produced_from[{i}]")));
                    }
                }
            }
        }
    }
    for (key, from) in lots {
        let on_hand = match store.lot(&key).await? {
            Some(view) => view
                .stock
                .iter()
                .try_fold(Quantity::default(), |acc, s| acc.checked_add(s.quantity))
                .unwrap_or_default(),
            None => {
                problems.push(
                    FieldError::new("unknown_lot", format!("{key} is not registered")).at(from),
                );
                continue;
            }
        };
        if on_hand.is_positive() {
            p.lot(
                "lots",
                &LotQuantity {
                    product: key.product.clone(),
                    lot: key.lot.clone(),
                    quantity: Some(on_hand),
                    uom: None,
                },
                from,
            );
        } else {
            not_held.push(key.to_string());
        }
    }
    if op.reason.trim().is_empty() {
        problems.push(required("reason", "give the reason for the hold"));
    }
    let nothing = !p.has("items") && !p.has("lots");
    if nothing && !problems.is_empty() {
        problems.push(required("items", "name units, lots or produced_from"));
    }
    let mut plan = Plan::new(if nothing { Vec::new() } else { vec![p] }, problems);
    plan.extra.insert("units".into(), json!(units.len()));
    plan.extra.insert("not_held".into(), json!(not_held));
    Ok(plan)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PickStrategy {
    /// First in, first out: oldest production (or receipt) first.
    Fifo,
    /// First expired, first out: nearest expiry first; expired stock is never suggested.
    Fefo,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PickParams {
    product: String,
    quantity: String,
    #[serde(default)]
    strategy: Option<PickStrategy>,
}

/// One suggested pick.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Pick {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub location: Option<String>,
    pub quantity: Quantity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<NaiveDate>,
}

/// `GET /api/v1/ops/pick?product=&quantity=&strategy=fifo|fefo`: what to pick, in order. Held,
/// packed, and (for FEFO) expired stock is left out; `short` says how much is missing. An
/// account of one site picks from the site's places only.
pub async fn pick(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<PickParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(q) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let product =
        ProductCode::parse(&q.product).map_err(|e| AppError::Malformed(vec![e.at("product")]))?;
    let wanted: Quantity = serde_json::from_value(json!(q.quantity))
        .ok()
        .filter(|w: &Quantity| w.is_positive())
        .ok_or_else(|| {
            AppError::malformed(
                "invalid_quantity",
                format!(
                    "quantity `{}` must be a number greater than zero",
                    q.quantity
                ),
                Some("quantity".into()),
            )
        })?;
    let strategy = q.strategy.unwrap_or(PickStrategy::Fifo);
    let today = app.clock.now().date_naive();
    let mut stock = app.store.available(product.as_str()).await?;
    // An account of one site picks from its own places.
    if let Some(site) = crate::site::SiteScope::of(&*app.store, &actor).await? {
        stock.retain(|s| s.location.as_deref().is_some_and(|l| site.holds_place(l)));
    }
    if strategy == PickStrategy::Fefo {
        stock.retain(|s| s.expiry_date.is_none_or(|e| e >= today));
        stock.sort_by_key(|s| (s.expiry_date.is_none(), s.expiry_date, s.since));
    } else {
        stock.sort_by_key(|s| s.since);
    }
    let mut picks = Vec::new();
    let mut left = wanted;
    for s in stock {
        if !left.is_positive() {
            break;
        }
        let take = if s.quantity > left { left } else { s.quantity };
        left = Quantity::from_millis(left.millis() - take.millis());
        picks.push(Pick {
            lot: s.lot,
            serial: s.serial,
            location: s.location,
            quantity: take,
            expiry_date: s.expiry_date,
        });
    }
    Ok(Json(json!({
        "product": product,
        "quantity": wanted,
        "strategy": strategy,
        "picks": picks,
        "short": left,
    }))
    .into_response())
}

/// `POST /api/v1/ops/correct`: an earlier event was wrong. The original stays in the ledger,
/// marked as corrected; what is true instead is recorded as new events that name it, with the
/// reason. `void` declares that the event did not occur (an EPCIS error declaration: a copy of
/// it that changes no state); `location`, `status` and `fields` amend it (one event over the
/// same units and lots: units are put where and in the state they really are, lot quantities
/// the event brought to a place are moved to the right one, fields are recorded as they should
/// have been — a custom attribute among them changes the unit's value). Both may be given.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Correct {
    #[serde(default)]
    pub time: Option<DateTime<FixedOffset>>,
    /// The id of the event in error.
    pub event: Uuid,
    pub reason: String,
    /// The event did not occur.
    #[serde(default)]
    pub void: bool,
    /// Where its units (and the lot quantities it brought somewhere) really are.
    #[serde(default)]
    pub location: Option<LocationCode>,
    /// The state its units are really in: in_production, in_stock, in_transit, sold,
    /// in_repair or returned (scrapping is the scrap operation).
    #[serde(default)]
    pub status: Option<ItemStatus>,
    /// Event fields as they should have been recorded (`operator`, `work_order`, a custom
    /// attribute…).
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

/// The keys of an [`Event`] that a client may send back as an [`EventRequest`].
const REQUEST_KEYS: &[&str] = &[
    "type",
    "action",
    "event_time",
    "event_time_zone_offset",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "items",
    "lots",
    "parent",
    "children",
    "child_lots",
    "inputs",
    "input_lots",
    "outputs",
    "output_lots",
    "biz_transactions",
    "sources",
    "destinations",
    "ilmd",
    "hold",
    "fields",
];

/// The disposition that puts units in `status`, and the step it needs (`in_repair` is
/// `in_progress` while repairing); `None` for a state a correction may not set.
fn disposition_for(status: ItemStatus) -> Option<(&'static str, Option<&'static str>)> {
    Some(match status {
        ItemStatus::InProduction => ("in_progress", None),
        ItemStatus::InStock => ("sellable_not_accessible", None),
        ItemStatus::InTransit => ("in_transit", None),
        ItemStatus::Sold => ("retail_sold", None),
        ItemStatus::InRepair => ("in_progress", Some("repairing")),
        ItemStatus::Returned => ("returned", None),
        _ => return None,
    })
}

/// The lot quantities an event left at a place, and that place: received or made there, or
/// moved there.
fn lots_placed(ev: &Event) -> Vec<(LotQuantity, String)> {
    use threadline_domain::event::{Action, EventKind};
    let at = ev.biz_location.as_ref().map(|l| l.as_str().to_owned());
    match (ev.kind, ev.action) {
        (EventKind::Object, Some(Action::Add)) => at
            .map(|l| ev.lots.iter().map(|q| (q.clone(), l.clone())).collect())
            .unwrap_or_default(),
        (EventKind::Object, Some(Action::Observe)) => match ev.destination_location() {
            Some(d) if ev.source_location().is_some() => {
                ev.lots.iter().map(|q| (q.clone(), d.to_owned())).collect()
            }
            _ => Vec::new(),
        },
        (EventKind::Transformation, _) => at
            .map(|l| {
                ev.output_lots
                    .iter()
                    .map(|q| (q.clone(), l.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

impl Correct {
    fn with_correction(&self, mut p: Planned) -> Planned {
        p.event.insert(
            "corrects".into(),
            json!({"event": self.event, "reason": self.reason}),
        );
        p.paths.push(("corrects.event".into(), "event".into()));
        p.paths.push(("corrects.reason".into(), "reason".into()));
        p
    }

    /// The error declaration: the original as it was recorded, declared not to have occurred.
    fn declaration(&self, original: &Event, t: DateTime<FixedOffset>) -> Result<Planned, AppError> {
        let Value::Object(all) = serde_json::to_value(original)
            .map_err(|e| AppError::Internal(format!("an event would not serialise: {e}")))?
        else {
            return Err(AppError::Internal("an event is not a JSON object".into()));
        };
        let event: Map<String, Value> = all
            .into_iter()
            .filter(|(k, _)| REQUEST_KEYS.contains(&k.as_str()))
            .collect();
        let mut p = Planned {
            event,
            paths: Vec::new(),
        };
        p.event.insert(
            "error_declaration".into(),
            json!({"declaration_time": t.with_timezone(&Utc), "reason": "did_not_occur"}),
        );
        Ok(self.with_correction(p))
    }

    /// The amendment: the same units and lots, where and as they really are.
    fn amendment(
        &self,
        original: &Event,
        t: DateTime<FixedOffset>,
        problems: &mut Vec<FieldError>,
    ) -> Option<Planned> {
        if self.location.is_none() && self.status.is_none() && self.fields.is_empty() {
            return None;
        }
        let mut units: Vec<ItemKey> = Vec::new();
        for k in original
            .items
            .iter()
            .chain(&original.children)
            .chain(&original.outputs)
        {
            if !units.contains(k) {
                units.push(k.clone());
            }
        }
        let placed = lots_placed(original);
        let mut lots: Vec<LotQuantity> = placed.iter().map(|(q, _)| q.clone()).collect();
        for q in original
            .lots
            .iter()
            .chain(&original.child_lots)
            .chain(&original.output_lots)
        {
            if !lots.contains(q) {
                lots.push(q.clone());
            }
        }
        let step = self.status.and_then(|s| match disposition_for(s) {
            Some((_, step)) => step,
            None => {
                problems.push(
                    FieldError::new(
                        "invalid_state",
                        format!(
                            "a correction cannot make units {}: it sets in production, in stock, in transit, sold, in repair or returned (scrap them with the scrap operation)",
                            s.as_str().replace('_', " ")
                        ),
                    )
                    .at("status"),
                );
                None
            }
        });
        if units.is_empty() && self.status.is_some() {
            problems.push(
                FieldError::new(
                    "no_units",
                    format!(
                        "event {} names no units whose state could be corrected",
                        self.event
                    ),
                )
                .at("status"),
            );
        }
        if let Some(to) = &self.location {
            let moved_lots = placed.iter().any(|(_, from)| from != to.as_str());
            if units.is_empty() && !moved_lots {
                problems.push(
                    FieldError::new(
                        "nothing_placed",
                        format!(
                            "event {} put no units and no lot quantities anywhere; there is no location to correct",
                            self.event
                        ),
                    )
                    .at("location"),
                );
            }
        }
        let mut p = Planned::new("object", Some("OBSERVE"), step.unwrap_or("other"), t);
        if step.is_none() {
            p.event.remove("biz_step");
        }
        let mut p = p
            .set(
                "disposition",
                self.status.and_then(disposition_for).map(|(d, _)| d),
            )
            .set("biz_location", &self.location);
        p.paths.push(("biz_location".into(), "location".into()));
        p.paths.push(("disposition".into(), "status".into()));
        // Lot quantities the original left at another place are moved to the right one.
        if let Some(to) = &self.location
            && let Some((_, from)) = placed.iter().find(|(_, from)| from != to.as_str())
        {
            p = p.endpoint("sources", "location", Some(from)).endpoint(
                "destinations",
                "location",
                Some(to.as_str()),
            );
            p.paths.push(("destinations[0]".into(), "location".into()));
            p.paths.push(("sources[0]".into(), "event".into()));
            lots = placed
                .iter()
                .filter(|(_, f)| f == from)
                .map(|(q, _)| q.clone())
                .collect();
        }
        for (name, value) in &self.fields {
            p = p.field(name, value);
            p.paths
                .push((format!("fields.{name}"), format!("fields.{name}")));
        }
        p.units("items", &units, "event");
        p.lots("lots", &lots, "event");
        if !p.has("items") && !p.has("lots") {
            problems.push(
                FieldError::new(
                    "nothing_to_correct",
                    format!("event {} names no units or lots", self.event),
                )
                .at("event"),
            );
        }
        Some(self.with_correction(p))
    }
}

#[async_trait]
impl Operation for Correct {
    const NAME: &'static str = "correct";

    async fn plan(&self, store: &dyn Store, now: DateTime<Utc>) -> Result<Plan, AppError> {
        let t = time_of(self.time, now);
        // The reason is checked with the correction itself (`corrects.reason`).
        let mut problems = Vec::new();
        let Some(original) = store.event(self.event).await? else {
            problems.push(
                FieldError::new(
                    "unknown_event",
                    format!("event {} to be corrected does not exist", self.event),
                )
                .at("event"),
            );
            return Ok(Plan::new(Vec::new(), problems));
        };
        let original = original.event;
        let mut plan = Vec::new();
        if self.void {
            plan.push(self.declaration(&original, t)?);
        }
        if let Some(p) = self.amendment(&original, t, &mut problems) {
            plan.push(p);
        }
        if plan.is_empty() {
            problems.push(required(
                "void",
                "say what is true instead (`location`, `status`, `fields`) or that the event did not occur (`void`)",
            ));
        }
        Ok(Plan::new(plan, problems))
    }
}
