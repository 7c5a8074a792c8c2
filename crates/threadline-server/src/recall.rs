//! Recall campaigns (召回): from "this lot is bad" to holds, the affected list, the contact list
//! and progress, in one call.
//!
//! Creating a campaign walks the forward trace of its scope, places a recall hold on every
//! affected unit and lot still in our hands — as ledger events recorded through
//! [`Store::capture`] in one batch, so shipping them is refused from then on — and stores the
//! campaign with its members. Everything else is read live: where each affected unit is now,
//! who to contact (distributors with their business contact; customers with their personal
//! contact in the field `personal`, which is what field-level masking will hide), and how far
//! the campaign has come (each unit `scrapped`, `repaired`, `returned`, `located` or
//! `not_found`, judged from its state and from events since the campaign began).
//!
//! A campaign can be narrowed once the cause is better understood (only the units whose
//! component came from one supplier lot, say): the units and lots the narrower scope does not
//! reach leave the campaign, their recall holds are released by ledger events (unless another
//! open campaign still covers them), and the narrowing is recorded with who, when, why and
//! the scope — the members it took out stay listed, marked with it.
//!
//! An account bound to a site ([`crate::site`]) works on its site's part of a campaign: it
//! creates one over what the scope reached there (the units and lots the site saw — held, if
//! in our hands; nothing elsewhere is touched), its preview counts that part, and it reads a
//! campaign that covers something of its site with that part only (counts, progress, affected
//! list, contacts). Narrowing and closing decide for the whole campaign, so it may do them
//! only on a campaign wholly of its site (403 `outside_site` otherwise).

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use threadline_domain::access::Permission;
use threadline_domain::codes::ItemKey;
use threadline_domain::event::{CaptureContext, Event, EventRequest, HoldKind};
use threadline_domain::mask::{MASKED, Mask, Visibility};
use threadline_domain::master::{Contact, LocationKind};
use threadline_domain::projection::{ItemStatus, Node};
use threadline_domain::{FieldError, Quantity};
use threadline_store::{
    Direction, EventQuery, IdempotencyKey, Reached, Recall, RecallMember, RecallNarrowing, Store,
};

use crate::AppState;
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;
use crate::export::{Cell, Format};
use crate::partner::Partner;
use crate::trace::{Places, ScopeRequest, Whereabouts, holds_text, node_cells};

/// Most units and lots one campaign covers.
pub const MAX_MEMBERS: usize = 2_000_000;
/// Units per hold event (all of a campaign's hold events are one batch, one transaction).
const HOLD_CHUNK: usize = 1000;
/// Most events read to judge a campaign's progress.
const PROGRESS_SCAN: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Could cause serious harm: stop everything, contact every customer.
    Critical,
    Major,
    Minor,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
        }
    }
}

/// `POST /api/v1/recalls` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    /// The campaign's code; made from the date if absent.
    #[serde(default)]
    pub code: Option<String>,
    pub reason: String,
    pub severity: Severity,
    pub scope: ScopeRequest,
}

fn bad(code: &'static str, message: impl Into<String>, field: &str) -> AppError {
    AppError::malformed(code, message, Some(field.to_owned()))
}

fn check_code(code: &str) -> Result<(), AppError> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(bad(
            "invalid_code",
            format!("recall code `{code}` must be 1–64 letters, digits, `-`, `_` or `.`"),
            "code",
        ))
    }
}

/// How far one affected unit is from closure.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// Scrapped, used up or destroyed.
    Scrapped,
    /// Repaired since the campaign began.
    Repaired,
    /// Back with us (returned or in repair).
    Returned,
    /// We know where it is (in our hands, or seen by an event since the campaign began), not
    /// yet dealt with.
    Located,
    /// Out in the field with no news since the campaign began.
    NotFound,
}

impl Closure {
    fn as_str(self) -> &'static str {
        match self {
            Closure::Scrapped => "scrapped",
            Closure::Repaired => "repaired",
            Closure::Returned => "returned",
            Closure::Located => "located",
            Closure::NotFound => "not_found",
        }
    }

    fn is_closed(self) -> bool {
        matches!(
            self,
            Closure::Scrapped | Closure::Repaired | Closure::Returned
        )
    }
}

/// One affected unit or lot, now.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Affected {
    pub node: Node,
    pub depth: u32,
    /// This campaign placed a recall hold on it.
    pub held_by_recall: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<HoldKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Whereabouts>,
    /// Units not built into another affected unit: their closure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closure: Option<Closure>,
    /// The narrowing that took it out of the campaign (listed with `removed=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<u32>,
}

/// A party to contact about the campaign.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ContactRow {
    pub party: String,
    /// `distributor` or `customer`.
    pub kind: &'static str,
    pub name: String,
    /// Affected units it holds or was sold.
    pub units: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// A distributor's business contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// A customer's contact: personal data, masked without `read_customer_data`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal: Option<Contact>,
}

/// A customer's name and contact are personal data.
impl Mask for ContactRow {
    fn mask(&mut self, v: Visibility) {
        if self.kind == "customer" && !v.personal {
            MASKED.clone_into(&mut self.name);
            self.personal.mask(v);
        }
    }
}

impl Mask for Affected {
    fn mask(&mut self, v: Visibility) {
        self.state.mask(v);
    }
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Progress {
    /// Affected units (not counting parts built into other affected units).
    pub units: usize,
    pub scrapped: usize,
    pub repaired: usize,
    pub returned: usize,
    pub located: usize,
    pub not_found: usize,
    /// Scrapped, repaired or returned.
    pub closed: usize,
    /// `closed` / `units`, 0–100 (100 when there is nothing to do).
    pub percent: f64,
}

/// A campaign as shown: the decision, counts, progress and contacts.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CampaignView {
    #[serde(flatten)]
    pub recall: Recall,
    pub status: &'static str,
    pub units: usize,
    pub lots: usize,
    pub held_units: usize,
    pub held_lots: usize,
    /// Units in our hands now (held), and units out there (shipped, at a distributor, sold).
    pub in_our_hands: usize,
    pub outside: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    pub by_custodian: BTreeMap<String, usize>,
    pub progress: Progress,
    pub contacts: Vec<ContactRow>,
    /// How the scope was narrowed since the campaign was created, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub narrowings: Vec<RecallNarrowing>,
}

/// Units by where they are, counted alike by a campaign and by the preview of its scope: a
/// part built into another unit goes where that unit goes and is not counted again.
#[derive(Debug, Default)]
pub struct Tally {
    pub in_our_hands: usize,
    /// Shipped, at a distributor or sold: neither in our hands nor used up.
    pub outside: usize,
}

impl Tally {
    /// Counts a unit by its whereabouts; false (and nothing counted) for a part built into
    /// another unit.
    pub fn add(&mut self, w: &Whereabouts) -> bool {
        if w.inside.is_some() {
            return false;
        }
        if w.in_our_hands {
            self.in_our_hands += 1;
        } else if !w.status.is_final() {
            self.outside += 1;
        }
        true
    }
}

/// What a recall on `scope` would cover, as `actor` may see it — for an account of one site,
/// what the scope reached there ([`crate::trace::Readers`]): the preview the recall page counts.
pub async fn preview(
    store: &dyn Store,
    actor: &Actor,
    scope: crate::trace::Scope,
) -> Result<crate::trace::Trace, AppError> {
    let mut readers = crate::trace::Readers::of(store, actor, &scope).await?;
    crate::trace::reach_shown(store, &mut readers, scope, Direction::Parents).await
}

/// The affected nodes of a campaign with their current state and closure.
async fn affected(
    store: &dyn Store,
    members: &[RecallMember],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Affected>, AppError> {
    let roots: Vec<Node> = members.iter().map(|m| m.node.clone()).collect();
    let rows = store.reach(roots, Direction::Parents, now).await?;
    let rows = threadline_store::collect_reach(rows, usize::MAX)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut now_state: HashMap<Node, Reached> = rows
        .into_iter()
        .filter(|r| r.depth == 0)
        .map(|r| (r.node.clone(), r))
        .collect();
    let (seen, repaired) = news_since(store, members, since).await?;
    let mut places = Places::new(store);
    places.prepare(now_state.values()).await?;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let r = now_state.remove(&m.node);
        let state = match (r.as_ref().and_then(|r| r.unit.as_ref()), &m.node) {
            (Some(u), Node::Item(k)) => {
                let mut w = places.whereabouts(u.clone()).await?;
                if w.status == ItemStatus::Sold && w.inside.is_none() {
                    places.sold_through(k, &mut w).await?;
                }
                Some(w)
            }
            _ => None,
        };
        let closure = match (&m.node, &state) {
            (Node::Item(k), Some(w)) if w.inside.is_none() => {
                Some(closure_of(w, repaired.contains(k), seen.contains(k)))
            }
            _ => None,
        };
        out.push(Affected {
            node: m.node.clone(),
            depth: m.depth,
            held_by_recall: m.held,
            holds: r.map(|r| r.holds).unwrap_or_default(),
            state,
            closure,
            removed_by: m.removed_by,
        });
    }
    Ok(out)
}

fn closure_of(w: &Whereabouts, repaired: bool, seen: bool) -> Closure {
    match w.status {
        ItemStatus::Scrapped | ItemStatus::Consumed | ItemStatus::Voided => Closure::Scrapped,
        _ if repaired => Closure::Repaired,
        ItemStatus::Returned | ItemStatus::InRepair => Closure::Returned,
        _ if w.in_our_hands || seen => Closure::Located,
        _ => Closure::NotFound,
    }
}

/// Affected units named by an event since the campaign began (other than its own holds), and
/// those repaired since.
async fn news_since(
    store: &dyn Store,
    members: &[RecallMember],
    since: DateTime<Utc>,
) -> Result<(HashSet<ItemKey>, HashSet<ItemKey>), AppError> {
    let units: HashSet<&ItemKey> = members
        .iter()
        .filter_map(|m| match &m.node {
            Node::Item(k) => Some(k),
            Node::Lot(_) => None,
        })
        .collect();
    let (mut seen, mut repaired) = (HashSet::new(), HashSet::new());
    let mut q = EventQuery {
        from: Some(since),
        limit: 1000,
        ..Default::default()
    };
    let mut read = 0;
    loop {
        let page = store.events(&q).await?;
        read += page.items.len();
        for e in &page.items {
            let ev = &e.event;
            if ev.hold.is_some() {
                continue;
            }
            let named = ev
                .items
                .iter()
                .chain(&ev.parent)
                .chain(&ev.children)
                .chain(&ev.inputs)
                .chain(&ev.outputs);
            for k in named.filter(|k| units.contains(k)) {
                seen.insert(k.clone());
                if ev.biz_step.as_ref().map(|s| s.as_str()) == Some("repairing") {
                    repaired.insert(k.clone());
                }
            }
        }
        match (page.next, page.items.last()) {
            (Some(_), Some(last)) if read < PROGRESS_SCAN => q.after_seq = Some(last.seq),
            _ => break,
        }
    }
    Ok((seen, repaired))
}

/// Counts, progress and contacts over the affected list.
async fn view(
    store: &dyn Store,
    recall: Recall,
    list: &[Affected],
) -> Result<CampaignView, AppError> {
    let mut v = CampaignView {
        status: if recall.closed_at.is_some() {
            "closed"
        } else {
            "open"
        },
        recall,
        units: 0,
        lots: 0,
        held_units: 0,
        held_lots: 0,
        in_our_hands: 0,
        outside: 0,
        by_status: BTreeMap::new(),
        by_custodian: BTreeMap::new(),
        progress: Progress::default(),
        contacts: Vec::new(),
        narrowings: Vec::new(),
    };
    let mut parties: BTreeMap<(String, &'static str), (usize, std::collections::BTreeSet<String>)> =
        BTreeMap::new();
    let mut tally = Tally::default();
    for a in list {
        match &a.node {
            Node::Lot(_) => {
                v.lots += 1;
                v.held_lots += usize::from(a.held_by_recall);
            }
            Node::Item(_) => {
                v.units += 1;
                v.held_units += usize::from(a.held_by_recall);
            }
        }
        let (Some(w), Some(c)) = (&a.state, a.closure) else {
            continue;
        };
        if !tally.add(w) {
            continue;
        }
        *v.by_status.entry(w.status.as_str()).or_default() += 1;
        if let Some(cu) = &w.custodian {
            *v.by_custodian.entry(cu.clone()).or_default() += 1;
        }
        if !w.in_our_hands && !w.status.is_final() {
            for (party, kind) in [(&w.distributor, "distributor"), (&w.customer, "customer")] {
                if let Some(p) = party {
                    let e = parties.entry((p.clone(), kind)).or_default();
                    e.0 += 1;
                    if let Some(r) = &w.region {
                        e.1.insert(r.clone());
                    }
                }
            }
        }
        let p = &mut v.progress;
        p.units += 1;
        match c {
            Closure::Scrapped => p.scrapped += 1,
            Closure::Repaired => p.repaired += 1,
            Closure::Returned => p.returned += 1,
            Closure::Located => p.located += 1,
            Closure::NotFound => p.not_found += 1,
        }
        p.closed += usize::from(c.is_closed());
    }
    v.in_our_hands = tally.in_our_hands;
    v.outside = tally.outside;
    v.progress.percent = if v.progress.units == 0 {
        100.0
    } else {
        (v.progress.closed as f64 * 1000.0 / v.progress.units as f64).round() / 10.0
    };
    v.narrowings = store.recall_narrowings(&v.recall.code).await?;
    let mut places = Places::new(store);
    for ((code, kind), (units, regions)) in parties {
        let party = places.party(&code).await?.cloned();
        let name = party.as_ref().map(|p| p.name.clone()).unwrap_or_default();
        let contact = party.and_then(|p| p.contact);
        v.contacts.push(ContactRow {
            party: code,
            kind,
            name,
            units,
            regions: regions.into_iter().collect(),
            contact: if kind == "distributor" {
                contact.clone()
            } else {
                None
            },
            personal: if kind == "customer" { contact } else { None },
        });
    }
    Ok(v)
}

/// The events placing (or, with `change` `{"release": "recall"}`, releasing) a campaign's
/// recall holds, carrying `fields`.
fn hold_requests(
    change: serde_json::Value,
    fields: serde_json::Value,
    now: DateTime<Utc>,
    units: &[ItemKey],
    lots: &[(threadline_domain::codes::LotKey, Quantity)],
) -> Result<Vec<EventRequest>, AppError> {
    let time = now.to_rfc3339();
    let mut out = Vec::new();
    for chunk in units.chunks(HOLD_CHUNK) {
        out.push(
            json!({"type": "object", "action": "OBSERVE", "event_time": time,
            "hold": change, "items": chunk, "fields": fields}),
        );
    }
    if !lots.is_empty() {
        let lots: Vec<_> = lots
            .iter()
            .map(|(k, q)| json!({"product": k.product, "lot": k.lot, "quantity": q}))
            .collect();
        out.push(
            json!({"type": "object", "action": "OBSERVE", "event_time": time,
            "hold": change, "lots": lots, "fields": fields}),
        );
    }
    out.into_iter()
        .map(|v| serde_json::from_value(v).map_err(|e| AppError::Internal(e.to_string())))
        .collect()
}

fn hold_events(requests: Vec<EventRequest>, ctx: &CaptureContext) -> Result<Vec<Event>, AppError> {
    requests
        .into_iter()
        .map(|req| {
            Event::from_request(req, ctx, uuid::Uuid::now_v7())
                .map_err(|v| AppError::Internal(format!("recall hold event refused: {v:?}")))
        })
        .collect()
}

/// What of a lot is on hand at our own (not external) locations.
async fn stock_in_our_hands(
    store: &dyn Store,
    places: &mut Places<'_>,
    lot: &threadline_domain::codes::LotKey,
) -> Result<Quantity, AppError> {
    let mut ours = Quantity::from_millis(0);
    for line in store.lot(lot).await?.map(|l| l.stock).unwrap_or_default() {
        let internal = places
            .location(&line.location)
            .await?
            .is_some_and(|l| l.kind != LocationKind::External);
        if internal {
            ours = Quantity::from_millis(ours.millis() + line.quantity.millis());
        }
    }
    Ok(ours)
}

fn check_reason(reason: &str, what: &str) -> Result<String, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(bad(
            "invalid_reason",
            format!("give the reason for {what} (1–1000 characters)"),
            "reason",
        ));
    }
    Ok(reason.to_owned())
}

/// `POST /api/v1/recalls` (needs `recall`): creates a campaign from a forward-trace scope, puts
/// a recall hold on everything affected still in our hands, and answers with the campaign:
/// counts, progress and the contact list.
pub async fn create(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: RecallRequest = parse(&body, "")?;
    let now = app.clock.now();
    let code = match req.code {
        Some(c) => c,
        None => format!(
            "RC-{}-{}",
            now.format("%Y%m%d"),
            &uuid::Uuid::now_v7().simple().to_string()[26..]
        ),
    };
    check_code(&code)?;
    let reason = check_reason(&req.reason, "the recall")?;
    let scope = req.scope.check(now, "scope.")?;
    if app.store.recall(&code).await?.is_some() {
        return Err(threadline_store::recall::code_taken(&code).into());
    }
    // An account of one site recalls what the scope reached there.
    let mut readers = crate::trace::Readers::of(&*app.store, &actor, &scope).await?;
    let rows = crate::trace::walk(&*app.store, &scope, Direction::Parents).await?;
    let rows = threadline_store::collect_reach(rows, MAX_MEMBERS)
        .await
        .map_err(|e| match e {
            threadline_store::ReachError::Store(e) => AppError::from(e),
            threadline_store::ReachError::TooLarge(n) => AppError::Rule(vec![
                FieldError::new(
                    "recall_too_large",
                    format!("the scope reaches more than {n} units and lots; narrow it"),
                )
                .at("scope"),
            ]),
        })?;
    let rows = if readers.sees_all() {
        rows
    } else {
        let mut kept = Vec::with_capacity(rows.len());
        for r in rows {
            if readers
                .keeps_row(&*app.store, &r, Direction::Parents)
                .await?
            {
                kept.push(r);
            }
        }
        if kept.is_empty() {
            return Err(AppError::NotFound(format!(
                "the scope reaches nothing at the site of {}",
                actor.name()
            )));
        }
        kept
    };

    // What to hold: units in our hands that are not inside another unit (the outer one is
    // held), and lots with stock at our own locations; skip what already carries a recall hold.
    let mut places = Places::new(&*app.store);
    let (mut hold_units, mut hold_lots) = (Vec::new(), Vec::new());
    let mut members = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(threadline_store::REACH_CHUNK) {
        places.prepare(chunk.iter()).await?;
        for r in chunk {
            let already = r.holds.contains(&HoldKind::Recall);
            let held = match (&r.node, &r.unit) {
                (Node::Item(k), Some(u)) if !already => {
                    let w = places.whereabouts(u.clone()).await?;
                    let hold = w.in_our_hands && w.inside.is_none();
                    if hold {
                        hold_units.push(k.clone());
                    }
                    hold
                }
                (Node::Lot(k), _) if !already => {
                    let ours = stock_in_our_hands(&*app.store, &mut places, k).await?;
                    let hold = ours.millis() > 0;
                    if hold {
                        hold_lots.push((k.clone(), ours));
                    }
                    hold
                }
                _ => false,
            };
            members.push(RecallMember {
                node: r.node.clone(),
                depth: r.depth,
                held,
                removed_by: None,
            });
        }
    }

    let ctx = CaptureContext {
        actor: actor.name(),
        now,
    };
    let events = hold_events(
        hold_requests(
            json!({"place": "recall"}),
            json!({"recall": code, "reason": reason}),
            now,
            &hold_units,
            &hold_lots,
        )?,
        &ctx,
    )?;
    let mut opened_seq = 0;
    if !events.is_empty() {
        // A retry after a failure between the holds and the campaign row replays the holds.
        let mut h = Sha256::new();
        h.update(b"recall\0");
        h.update(&body);
        let outcome = app
            .store
            .capture(
                events,
                Some(IdempotencyKey {
                    key: format!("recall:{code}"),
                    request_hash: h.finalize().into(),
                }),
            )
            .await?;
        opened_seq = outcome.receipts().last().map(|r| r.seq).unwrap_or(0);
    }
    let recall = Recall {
        code,
        reason,
        severity: req.severity.as_str().to_owned(),
        scope: serde_json::to_value(&scope).map_err(|e| AppError::Internal(e.to_string()))?,
        opened_seq,
        created_at: now,
        created_by: actor.name(),
        closed_at: None,
        closed_by: None,
        close_note: None,
    };
    let note = AuditNote::object(format!("recalls/{}", recall.code))
        .after(&recall)
        .reason(Some(recall.reason.clone()));
    let audit = pending.record_of(&app, StatusCode::CREATED, {
        let note = note.clone();
        move |(): &()| note
    });
    app.store
        .create_recall(recall.clone(), members.clone(), Some(audit))
        .await?;
    tracing::info!(recall = %recall.code, actor = %recall.created_by, held_units = hold_units.len(), held_lots = hold_lots.len(), "recall created");
    let list = affected(&*app.store, &members, now, now).await?;
    let v = view(&*app.store, recall, &list).await?;
    Ok(note
        .recorded()
        .on((StatusCode::CREATED, Json(actor.masked(v))).into_response()))
}

impl Mask for CampaignView {
    fn mask(&mut self, v: Visibility) {
        self.contacts.mask(v);
    }
}

/// A campaign and the members it covers now (or, with `removed`, those narrowings took out).
async fn load(
    app: &AppState,
    code: &str,
    removed: bool,
) -> Result<(Recall, Vec<RecallMember>), AppError> {
    let recall = app
        .store
        .recall(code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("recall {code} does not exist")))?;
    let mut members = app.store.recall_members(code).await?;
    members.retain(|m| m.removed_by.is_some() == removed);
    Ok((recall, members))
}

/// Which members of a campaign an account sees: a partner its own units (no lots), an
/// account of one site the units and lots that were there; others everything.
struct Members {
    partner: Option<Partner>,
    site: Option<crate::site::SiteScope>,
}

impl Members {
    async fn of(store: &dyn Store, actor: &Actor) -> Result<Members, AppError> {
        Ok(Members {
            partner: Partner::of(store, actor).await?,
            site: crate::site::SiteScope::of(store, actor).await?,
        })
    }

    fn all(&self) -> bool {
        self.partner.is_none() && self.site.is_none()
    }

    async fn sees(&mut self, store: &dyn Store, node: &Node) -> Result<bool, AppError> {
        if let Some(p) = self.partner.as_mut() {
            let Node::Item(k) = node else {
                return Ok(false);
            };
            if !p.sees(store, k).await? {
                return Ok(false);
            }
        }
        match self.site.as_mut() {
            Some(s) => s.sees_node(store, node).await,
            None => Ok(true),
        }
    }
}

/// A campaign and its members as `actor` may see them ([`load`]). A partner account sees a
/// campaign only when it covers one of the partner's units, and then only those units (no
/// lots, no other unit), without the scope it was opened from or its narrowings (they name
/// what lies upstream: suppliers, lots, work orders); an account of one site sees a campaign
/// that covers a unit or lot that was there, with those members only. Any other campaign does
/// not exist for it. The flag says the view is a partner's.
async fn load_for(
    app: &AppState,
    actor: &Actor,
    code: &str,
    removed: bool,
) -> Result<(Recall, Vec<RecallMember>, bool), AppError> {
    let mut sight = Members::of(&*app.store, actor).await?;
    if sight.all() {
        let (recall, members) = load(app, code, removed).await?;
        return Ok((recall, members, false));
    }
    let hidden = || AppError::NotFound(format!("recall {code} does not exist"));
    let recall = app.store.recall(code).await?.ok_or_else(hidden)?;
    let mut mine = Vec::new();
    for m in app.store.recall_members(code).await? {
        if sight.sees(&*app.store, &m.node).await? {
            mine.push(m);
        }
    }
    if mine.is_empty() {
        return Err(hidden());
    }
    mine.retain(|m| m.removed_by.is_some() == removed);
    if sight.partner.is_some() {
        Ok((for_partner(recall), mine, true))
    } else {
        Ok((recall, mine, false))
    }
}

/// Refuses a decision on the whole campaign — narrowing, closing — to an account of one site
/// unless every member is of its site: 404 when it sees none (the campaign does not exist for
/// it), 403 `outside_site` when it sees only some.
async fn require_whole(app: &AppState, actor: &Actor, code: &str) -> Result<(), AppError> {
    let Some(mut site) = crate::site::SiteScope::of(&*app.store, actor).await? else {
        return Ok(());
    };
    let (mut seen, mut unseen) = (0usize, 0usize);
    for m in app.store.recall_members(code).await? {
        if site.sees_node(&*app.store, &m.node).await? {
            seen += 1;
        } else {
            unseen += 1;
        }
    }
    if seen == 0 {
        return Err(AppError::NotFound(format!("recall {code} does not exist")));
    }
    if unseen > 0 {
        return Err(AppError::Forbidden(vec![FieldError::new(
            "outside_site",
            format!(
                "recall {code} covers {unseen} units and lots outside the site of {}; an account of every site decides for the whole campaign",
                actor.name()
            ),
        )]));
    }
    Ok(())
}

/// A campaign's row as a partner reads it: without the scope.
fn for_partner(mut recall: Recall) -> Recall {
    recall.scope = serde_json::Value::Null;
    recall
}

/// `GET /api/v1/recalls`: every campaign, newest first; for a partner account, those that
/// cover one of its units; for an account of one site, those that cover something there.
pub async fn list(State(app): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    let recalls = campaigns(&*app.store, &actor).await?;
    Ok(Json(json!({ "recalls": recalls })).into_response())
}

/// Every campaign `actor` may know of, newest first: for a partner account, those that cover
/// one of its units, without their scope; for an account of one site, those that cover a unit
/// or lot that was there. The API and the recalls page both list these.
pub async fn campaigns(store: &dyn Store, actor: &Actor) -> Result<Vec<Recall>, AppError> {
    let recalls = store.recalls().await?;
    let mut sight = Members::of(store, actor).await?;
    if sight.all() {
        return Ok(recalls);
    }
    let mut kept = Vec::new();
    'campaigns: for r in recalls {
        for m in store.recall_members(&r.code).await? {
            if sight.sees(store, &m.node).await? {
                kept.push(if sight.partner.is_some() {
                    for_partner(r)
                } else {
                    r
                });
                continue 'campaigns;
            }
        }
    }
    Ok(kept)
}

/// `GET /api/v1/recalls/{code}`: the campaign with counts, progress and contacts, now (for a
/// partner account, of its units only: `load_for`).
pub async fn get(
    State(app): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let (recall, members, partner) = load_for(&app, &actor, &code, false).await?;
    let list = affected(&*app.store, &members, recall.created_at, app.clock.now()).await?;
    let mut v = view(&*app.store, recall, &list).await?;
    if partner {
        v.narrowings.clear();
    }
    Ok(Json(actor.masked(v)).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    format: Option<String>,
    /// `true`: the units and lots narrowings took out of the campaign instead.
    #[serde(default)]
    removed: bool,
}

/// The columns of an affected-units export.
pub const UNIT_COLUMNS: &[&str] = &[
    "kind_of_node",
    "product",
    "serial_or_lot",
    "depth",
    "closure",
    "held_by_recall",
    "holds",
    "status",
    "location",
    "custodian",
    "distributor",
    "customer",
    "customer_name",
    "region",
    "inside",
];

/// The columns of a contact-list export. `personal_*` are a customer's personal data.
pub const CONTACT_COLUMNS: &[&str] = &[
    "party",
    "kind",
    "name",
    "units",
    "regions",
    "contact_person",
    "contact_phone",
    "contact_email",
    "contact_address",
    "personal_person",
    "personal_phone",
    "personal_email",
    "personal_address",
];

fn params_of(
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<(Format, bool), AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    Ok((Format::parse(p.format.as_deref())?, p.removed))
}

fn affected_cells(a: &Affected) -> Vec<Cell> {
    let (kind, product, id) = node_cells(&a.node);
    let s = a.state.as_ref();
    let text = |v: Option<String>| Cell::Text(v.unwrap_or_default());
    vec![
        Cell::Text(kind.to_owned()),
        Cell::Text(product),
        Cell::Text(id),
        Cell::Number(f64::from(a.depth)),
        text(a.closure.map(|c| c.as_str().to_owned())),
        Cell::Text(if a.held_by_recall { "yes" } else { "no" }.to_owned()),
        Cell::Text(holds_text(&a.holds)),
        text(s.map(|s| s.status.as_str().to_owned())),
        text(s.and_then(|s| s.location.clone())),
        text(s.and_then(|s| s.custodian.clone())),
        text(s.and_then(|s| s.distributor.clone())),
        text(s.and_then(|s| s.customer.clone())),
        text(s.and_then(|s| s.customer_name.clone())),
        text(s.and_then(|s| s.region.clone())),
        text(s.and_then(|s| {
            s.inside
                .as_ref()
                .map(|k| format!("{} {}", k.product, k.serial))
        })),
    ]
}

fn contact_cells(c: &ContactRow) -> Vec<Cell> {
    let parts = |c: &Option<Contact>| {
        let c = c.clone().unwrap_or_default();
        [c.person, c.phone, c.email, c.address].map(|v| Cell::Text(v.unwrap_or_default()))
    };
    let mut row = vec![
        Cell::Text(c.party.clone()),
        Cell::Text(c.kind.to_owned()),
        Cell::Text(c.name.clone()),
        Cell::Number(c.units as f64),
        Cell::Text(c.regions.join(" ")),
    ];
    row.extend(parts(&c.contact));
    row.extend(parts(&c.personal));
    row
}

/// Sends rows already in memory to a streamed spreadsheet.
fn rows_out(
    format: Format,
    name: String,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
) -> Response {
    crate::export::spreadsheet(format, &name, columns, move |tx| async move {
        let mut rows = rows;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(threadline_store::REACH_CHUNK));
            if tx.send(std::mem::replace(&mut rows, rest)).await.is_err() {
                break;
            }
        }
        Ok(())
    })
}

/// `GET /api/v1/recalls/{code}/units[?format=csv|xlsx]`: every affected unit and lot, where it
/// is now and how far it is from closure.
pub async fn units(
    State(app): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let (format, removed) = params_of(params)?;
    let (recall, members, _) = load_for(&app, &actor, &code, removed).await?;
    let list =
        actor.masked(affected(&*app.store, &members, recall.created_at, app.clock.now()).await?);
    if format == Format::Json {
        return Ok(Json(json!({ "recall": recall.code, "units": list })).into_response());
    }
    let rows = list.iter().map(affected_cells).collect();
    Ok(rows_out(
        format,
        format!(
            "recall-{code}-{}",
            if removed { "removed" } else { "units" }
        ),
        UNIT_COLUMNS,
        rows,
    ))
}

/// `GET /api/v1/recalls/{code}/contacts[?format=csv|xlsx]` (needs `read_customer_data`): the
/// distributors and customers holding affected units, with their contacts.
pub async fn contacts(
    State(app): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let (format, removed) = params_of(params)?;
    if removed {
        return Err(bad(
            "unexpected_field",
            "the contact list is of the units the campaign covers; `removed` applies to /units",
            "removed",
        ));
    }
    let (recall, members, _) = load_for(&app, &actor, &code, false).await?;
    let list = affected(&*app.store, &members, recall.created_at, app.clock.now()).await?;
    let v = actor.masked(view(&*app.store, recall, &list).await?);
    if format == Format::Json {
        return Ok(
            Json(json!({ "recall": v.recall.code, "contacts": v.contacts })).into_response(),
        );
    }
    let rows = v.contacts.iter().map(contact_cells).collect();
    Ok(rows_out(
        format,
        format!("recall-{code}-contacts"),
        CONTACT_COLUMNS,
        rows,
    ))
}

/// `POST /api/v1/recalls/{code}/narrow` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NarrowRequest {
    /// Why the campaign covers less now.
    pub reason: String,
    /// The narrower scope: the campaign keeps what it covers and this scope also reaches. Its
    /// `as_of` is the campaign's creation unless given.
    pub scope: ScopeRequest,
}

/// `POST /api/v1/recalls/{code}/narrow` (needs `recall`): narrows an open campaign to what it
/// covers and the given scope also reaches. The members left out are marked with the new
/// narrowing; their recall holds are released (one batch of ledger events) unless another open
/// campaign covers them too. Answers with the campaign as it is now.
pub async fn narrow(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: NarrowRequest = parse(&body, "")?;
    let reason = check_reason(&req.reason, "narrowing the recall")?;
    let recall = app
        .store
        .recall(&code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("recall {code} does not exist")))?;
    require_whole(&app, &actor, &code).await?;
    let members = app.store.recall_members(&code).await?;
    if recall.closed_at.is_some() {
        return Err(threadline_store::recall::closed(&code).into());
    }
    let scope = req.scope.check(recall.created_at, "scope.")?;
    let rows = crate::trace::walk(&*app.store, &scope, Direction::Parents).await?;
    let rows = threadline_store::collect_reach(rows, MAX_MEMBERS)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let reached: HashSet<Node> = rows.into_iter().map(|r| r.node).collect();
    let (kept, removed): (Vec<&RecallMember>, Vec<&RecallMember>) = members
        .iter()
        .filter(|m| m.removed_by.is_none())
        .partition(|m| reached.contains(&m.node));
    if kept.is_empty() {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "narrow_empty",
                format!(
                    "the narrower scope reaches none of the units and lots of recall {code}; close the campaign instead"
                ),
            )
            .at("scope"),
        ]));
    }
    if removed.is_empty() {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "narrow_unchanged",
                format!(
                    "the narrower scope still reaches every unit and lot of recall {code}; nothing would leave the campaign"
                ),
            )
            .at("scope"),
        ]));
    }

    // Release the holds this campaign placed on what leaves it, unless another open campaign
    // covers the same unit or lot, or the hold is gone already.
    let mut elsewhere: HashSet<Node> = HashSet::new();
    for other in app.store.recalls().await? {
        if other.code != code && other.closed_at.is_none() {
            elsewhere.extend(
                app.store
                    .recall_members(&other.code)
                    .await?
                    .into_iter()
                    .filter(|m| m.removed_by.is_none())
                    .map(|m| m.node),
            );
        }
    }
    let mut places = Places::new(&*app.store);
    let (mut units, mut lots) = (Vec::new(), Vec::new());
    for m in removed
        .iter()
        .filter(|m| m.held && !elsewhere.contains(&m.node))
    {
        match &m.node {
            Node::Item(k) => {
                if app
                    .store
                    .item(k)
                    .await?
                    .is_some_and(|u| u.holds.contains(&HoldKind::Recall))
                {
                    units.push(k.clone());
                }
            }
            Node::Lot(k) => {
                if app
                    .store
                    .lot(k)
                    .await?
                    .is_some_and(|l| l.holds.contains(&HoldKind::Recall))
                {
                    let ours = stock_in_our_hands(&*app.store, &mut places, k).await?;
                    lots.push((k.clone(), ours));
                }
            }
        }
    }
    let now = app.clock.now();
    let n = app.store.recall_narrowings(&code).await?.len() + 1;
    let ctx = CaptureContext {
        actor: actor.name(),
        now,
    };
    let events = hold_events(
        hold_requests(
            json!({"release": "recall"}),
            json!({"recall": code, "reason": reason, "narrowing": n}),
            now,
            &units,
            &lots,
        )?,
        &ctx,
    )?;
    if !events.is_empty() {
        // A retry after a failure between the releases and the narrowing replays the releases.
        let mut h = Sha256::new();
        h.update(b"recall-narrow\0");
        h.update(&body);
        for k in &units {
            h.update(k.to_string().as_bytes());
            h.update(b"\0");
        }
        let request_hash: [u8; 32] = h.finalize().into();
        let key = format!(
            "recall-narrow:{code}:{n}:{}",
            hex::encode(&request_hash[..8])
        );
        app.store
            .capture(events, Some(IdempotencyKey { key, request_hash }))
            .await?;
    }
    let removed_units = removed
        .iter()
        .filter(|m| matches!(m.node, Node::Item(_)))
        .count();
    let note = AuditNote::object(format!("recalls/{code}"))
        .before(json!({"scope": recall.scope, "members": kept.len() + removed.len()}))
        .reason(Some(reason.clone()));
    let audit = pending.record_of(&app, StatusCode::OK, {
        let note = note.clone();
        move |n: &RecallNarrowing| note.after(n)
    });
    let narrowing = app
        .store
        .narrow_recall(
            &code,
            RecallNarrowing {
                n: 0,
                at: now,
                by: actor.name(),
                reason: reason.clone(),
                scope: serde_json::to_value(&scope)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
                removed_units,
                removed_lots: removed.len() - removed_units,
                released: units.len() + lots.len(),
            },
            removed.iter().map(|m| m.node.clone()).collect(),
            Some(audit),
        )
        .await?;
    tracing::info!(recall = %code, actor = %actor.name(), narrowing = narrowing.n, removed = removed.len(), released = narrowing.released, "recall narrowed");
    let note = note.after(&narrowing).recorded();
    let (recall, members) = load(&app, &code, false).await?;
    let list = affected(&*app.store, &members, recall.created_at, now).await?;
    let v = view(&*app.store, recall, &list).await?;
    Ok(note.on(Json(actor.masked(v)).into_response()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    #[serde(default)]
    pub note: Option<String>,
    /// The electronic signature, where the plant requires one for closing recalls.
    #[serde(default)]
    pub signature: Option<crate::esign::SignatureRequest>,
}

/// `POST /api/v1/recalls/{code}/close` (needs `recall`), body `{"note": …}` (optional): closes
/// the campaign. Holds stay until released one by one (each released unit needs a decision).
pub async fn close(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let req: CloseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CloseRequest {
            note: None,
            signature: None,
        }
    } else {
        require_json(&headers)?;
        parse(&body, "")?
    };
    if req.note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(bad(
            "invalid_note",
            "the note is at most 2000 characters",
            "note",
        ));
    }
    let before = app.store.recall(&code).await?;
    if before.is_none() {
        return Err(AppError::NotFound(format!("recall {code} does not exist")));
    }
    require_whole(&app, &actor, &code).await?;
    let signature = crate::esign::signature(
        &app,
        &actor,
        crate::esign::Signed::RecallClose,
        Permission::Recall,
        req.signature.as_ref(),
    )
    .await?;
    let note = AuditNote::object(format!("recalls/{code}"))
        .before(before)
        .reason(req.note.clone())
        .signed(signature);
    let audit = pending.record_of(&app, StatusCode::OK, {
        let note = note.clone();
        move |closed: &Recall| note.after(closed)
    });
    let closed = app
        .store
        .close_recall(
            &code,
            actor.name(),
            app.clock.now(),
            req.note.clone(),
            Some(audit),
        )
        .await?;
    tracing::info!(recall = %code, actor = %actor.name(), "recall closed");
    Ok(note
        .after(&closed)
        .recorded()
        .on(Json(closed).into_response()))
}
