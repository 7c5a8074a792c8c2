//! Backward and forward trace (逆向溯源 / 正向追踪) over the time-aware genealogy, as of a date.
//!
//! A trace starts from a [`Scope`]: one unit or lot, or — forward only — everything received
//! from a supplier, made under a work order, made on a line (in a time window or shift), or
//! made in a production time window. The scope resolves to starting nodes from the event
//! indexes; [`Store::reach`] then walks the genealogy from all of them in one set-based
//! statement. Backward: everything that went into the start, level by level; a part removed
//! before the as-of date is listed with when and not descended into. Forward: every unit and
//! lot the start reached through links that held at the as-of date. Every unit carries where it
//! is now ([`Whereabouts`]: state, location, custodian, distributor, customer, region).
//!
//! JSON answers are capped at [`MAX_NODES`]; CSV and XLSX exports stream without a cap.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::{Action, EndpointKind, Event, HoldKind};
use threadline_domain::mask::{Mask, Visibility, mask_text, masked};
use threadline_domain::master::{Location, LocationKind, Party, PartyKind};
use threadline_domain::projection::{ItemStatus, Node};
use threadline_domain::{LotCode, ProductCode, Quantity, Serial};
use threadline_store::{Direction, EventQuery, ReachStream, Reached, Store, UnitState};

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::export::{Cell, Format};

/// Most nodes one JSON trace returns; a larger result is refused rather than cut silently
/// (ask for `format=csv` or `xlsx`, which stream).
pub const MAX_NODES: usize = 200_000;

/// Where a trace starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    Item(ItemKey),
    Lot(LotKey),
    /// Every unit and lot received from this supplier (in the window, if given).
    Supplier(String),
    /// Every unit and lot made under this work order (`prodorder`).
    WorkOrder(String),
    /// Every unit and lot made on this line (in the window and shift, if given).
    Line(String),
    /// Every unit commissioned and lot made in the window.
    Production,
}

/// A daily time window on the events' own clock (their recorded offset), e.g. `22:00-06:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shift {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Shift {
    fn parse(s: &str) -> Option<Shift> {
        let (a, b) = s.split_once('-')?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
        let shift = Shift {
            start: t(a)?,
            end: t(b)?,
        };
        (shift.start != shift.end).then_some(shift)
    }

    fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }
}

/// What a trace covers, checked: where it starts, an optional window, and the as-of date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scope {
    pub start: Start,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<Shift>,
    pub as_of: DateTime<Utc>,
}

/// A scope as a client sends it (query string or JSON): exactly one of `serial`/`lot` (with
/// `product`), `supplier`, `work_order`, `line`, or a bare `from`+`to` production window.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeRequest {
    pub product: Option<String>,
    pub serial: Option<String>,
    pub lot: Option<String>,
    pub supplier: Option<String>,
    pub work_order: Option<String>,
    pub line: Option<String>,
    /// `HH:MM-HH:MM`, with `line`.
    pub shift: Option<String>,
    pub from: Option<DateTime<FixedOffset>>,
    pub to: Option<DateTime<FixedOffset>>,
    pub as_of: Option<DateTime<FixedOffset>>,
}

fn bad(code: &'static str, message: impl Into<String>, field: &str) -> AppError {
    AppError::malformed(code, message, Some(field.to_owned()))
}

impl ScopeRequest {
    /// Checks the request; `now` is the as-of date when none is given. Field names in errors
    /// are prefixed with `prefix` (`scope.` inside a recall).
    pub fn check(self, now: DateTime<Utc>, prefix: &str) -> Result<Scope, AppError> {
        let f = |name: &str| format!("{prefix}{name}");
        let product = || -> Result<ProductCode, AppError> {
            let p = self.product.as_deref().ok_or_else(|| {
                bad(
                    "missing_field",
                    "give `product` with `serial` or `lot`",
                    &f("product"),
                )
            })?;
            ProductCode::parse(p).map_err(|e| AppError::Malformed(vec![e.at(f("product"))]))
        };
        let starts = [
            self.serial.is_some() || self.lot.is_some(),
            self.supplier.is_some(),
            self.work_order.is_some(),
            self.line.is_some(),
        ];
        if starts.iter().filter(|s| **s).count() > 1
            || (self.serial.is_some() && self.lot.is_some())
        {
            return Err(bad(
                "ambiguous_scope",
                "give one starting point: `serial` or `lot` (with `product`), `supplier`, `work_order` or `line`",
                &f(if self.lot.is_some() && self.serial.is_some() {
                    "lot"
                } else {
                    "supplier"
                }),
            ));
        }
        let window_allowed = !(starts[0] || starts[2]);
        let time = |t: Option<DateTime<FixedOffset>>| t.map(|t| t.with_timezone(&Utc));
        let (from, to) = (time(self.from), time(self.to));
        if !window_allowed && (from.is_some() || to.is_some()) {
            return Err(bad(
                "unexpected_field",
                "a time window applies to a supplier, a line or production, not to one unit, lot or work order",
                &f(if from.is_some() { "from" } else { "to" }),
            ));
        }
        if let (Some(a), Some(b)) = (from, to)
            && b <= a
        {
            return Err(bad("invalid_window", "`to` must be after `from`", &f("to")));
        }
        let shift = match &self.shift {
            None => None,
            Some(_) if self.line.is_none() => {
                return Err(bad(
                    "unexpected_field",
                    "a shift applies to a line",
                    &f("shift"),
                ));
            }
            Some(s) => Some(Shift::parse(s).ok_or_else(|| {
                bad(
                    "invalid_shift",
                    format!("shift `{s}` must look like 08:00-16:00"),
                    &f("shift"),
                )
            })?),
        };
        let code = |v: &str, field: &str| -> Result<String, AppError> {
            if v.trim().is_empty()
                || v.trim() != v
                || v.len() > 128
                || v.chars().any(char::is_control)
            {
                return Err(bad(
                    "invalid_code",
                    format!("`{v}` must be 1–128 characters without surrounding space"),
                    &f(field),
                ));
            }
            Ok(v.to_owned())
        };
        let start = if let Some(s) = &self.serial {
            Start::Item(ItemKey {
                product: product()?,
                serial: Serial::parse(s)
                    .map_err(|e| AppError::Malformed(vec![e.at(f("serial"))]))?,
            })
        } else if let Some(l) = &self.lot {
            Start::Lot(LotKey {
                product: product()?,
                lot: LotCode::parse(l).map_err(|e| AppError::Malformed(vec![e.at(f("lot"))]))?,
            })
        } else if self.product.is_some() {
            return Err(bad(
                "missing_field",
                "give either `serial` or `lot` with `product`",
                &f("serial"),
            ));
        } else if let Some(s) = &self.supplier {
            Start::Supplier(code(s, "supplier")?)
        } else if let Some(w) = &self.work_order {
            Start::WorkOrder(code(w, "work_order")?)
        } else if let Some(l) = &self.line {
            Start::Line(code(l, "line")?)
        } else if from.is_some() && to.is_some() {
            Start::Production
        } else {
            return Err(bad(
                "missing_field",
                "give a starting point: `serial` or `lot` with `product`, `supplier`, `work_order`, `line`, or a `from`–`to` production window",
                &f(if from.is_some() { "to" } else { "serial" }),
            ));
        };
        Ok(Scope {
            start,
            from,
            to,
            shift,
            as_of: time(self.as_of).unwrap_or(now),
        })
    }
}

impl Scope {
    /// One unit or lot (the trace lists what it reached, not the start itself).
    pub fn is_single(&self) -> bool {
        matches!(self.start, Start::Item(_) | Start::Lot(_))
    }

    /// The starting nodes. A single unit or lot must exist (404); a set may be empty.
    pub async fn starts(&self, store: &dyn Store) -> Result<Vec<Node>, AppError> {
        let events = |q: EventQuery| async move {
            let mut out = Vec::new();
            let mut q = EventQuery { limit: 1000, ..q };
            loop {
                let page = store.events(&q).await?;
                let last = page.items.last().map(|e| e.seq);
                out.extend(page.items);
                match (page.next, last) {
                    (Some(_), Some(seq)) => q.after_seq = Some(seq),
                    _ => return Ok::<_, AppError>(out),
                }
            }
        };
        let window = EventQuery {
            from: self.from,
            to: self.to,
            ..Default::default()
        };
        let mut nodes = Vec::new();
        match &self.start {
            Start::Item(k) => {
                if store.item(k).await?.is_none() {
                    return Err(AppError::NotFound(format!(
                        "serial {} of {} is not registered",
                        k.serial, k.product
                    )));
                }
                nodes.push(Node::Item(k.clone()));
            }
            Start::Lot(k) => {
                if store.lot(k).await?.is_none() {
                    return Err(AppError::NotFound(format!("{k} is not registered")));
                }
                nodes.push(Node::Lot(k.clone()));
            }
            Start::Supplier(code) => {
                if store.party(code).await?.is_none() {
                    return Err(AppError::NotFound(format!("party {code} does not exist")));
                }
                let received = events(EventQuery {
                    biz_step: Some("receiving".into()),
                    ..window.clone()
                })
                .await?;
                for e in received.iter().filter(|e| {
                    e.event
                        .sources
                        .iter()
                        .any(|s| s.kind != EndpointKind::Location && s.id == *code)
                }) {
                    nodes.extend(made_or_named(&e.event));
                }
            }
            Start::WorkOrder(wo) => {
                let made = events(EventQuery {
                    biz_transaction: Some(("prodorder".into(), wo.clone())),
                    ..Default::default()
                })
                .await?;
                for e in &made {
                    nodes.extend(made_or_named(&e.event));
                }
            }
            Start::Line(line) => {
                if store.location(line).await?.is_none() {
                    return Err(AppError::NotFound(format!(
                        "location {line} does not exist"
                    )));
                }
                let made = events(EventQuery {
                    biz_location: Some(line.clone()),
                    ..window.clone()
                })
                .await?;
                for e in made.iter().filter(|e| {
                    self.shift.is_none_or(|s| {
                        let off = e
                            .event
                            .event_time_zone_offset
                            .parse::<FixedOffset>()
                            .unwrap_or(Utc.fix());
                        s.contains(e.event.event_time.with_timezone(&off).time())
                    })
                }) {
                    nodes.extend(made_or_named(&e.event));
                }
            }
            Start::Production => {
                for q in [
                    EventQuery {
                        biz_step: Some("commissioning".into()),
                        ..window.clone()
                    },
                    EventQuery {
                        kind: Some(threadline_domain::event::EventKind::Transformation),
                        ..window.clone()
                    },
                ] {
                    for e in events(q).await? {
                        nodes.extend(made_or_named(&e.event));
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        nodes.retain(|n| seen.insert(n.clone()));
        Ok(nodes)
    }
}

use chrono::Offset as _;

/// The units and lots an event made or names as its subject: items and lots (not those it
/// deletes), an assembly's parent, a transformation's outputs.
fn made_or_named(e: &Event) -> Vec<Node> {
    let mut out = Vec::new();
    if e.action != Some(Action::Delete) {
        out.extend(e.items.iter().cloned().map(Node::Item));
        out.extend(e.lots.iter().map(|l| Node::Lot(l.key())));
    }
    out.extend(e.parent.iter().cloned().map(Node::Item));
    out.extend(e.outputs.iter().cloned().map(Node::Item));
    out.extend(e.output_lots.iter().map(|l| Node::Lot(l.key())));
    out
}

/// Where a unit is now, in the words a recall manager uses.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Whereabouts {
    pub status: ItemStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The party holding it, as recorded by the last transfer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custodian: Option<String>,
    /// The distributor that holds it or sold it on (the owner of the external location).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distributor: Option<String>,
    /// The customer it was sold or shipped to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// That customer's name: personal data (masked without `read_customer_data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The unit it is built into now; it goes where that one goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside: Option<ItemKey>,
    /// In our own plant or warehouse and not used up: a recall puts it on hold.
    pub in_our_hands: bool,
}

/// Party and location master data, and the units parts are built into, looked up once per code
/// while a trace is written.
pub struct Places<'a> {
    store: &'a dyn Store,
    parties: HashMap<String, Option<Party>>,
    locations: HashMap<String, Option<Location>>,
    /// The first region on the way up from each location code met.
    regions: HashMap<String, Option<String>>,
    /// The units parts are built into, read a batch at a time ([`Places::prepare`]) and
    /// forgotten once there are more than [`MAX_UNITS`]: a forward trace meets hundreds of
    /// thousands, each usually once.
    units: HashMap<ItemKey, Option<UnitState>>,
}

/// How many levels up [`Places::whereabouts`] follows a part to the unit it is built into.
const MAX_NESTING: usize = 32;

/// How many units [`Places`] keeps before it forgets them all (at the next
/// [`Places::prepare`]): a few chunks of trace rows' worth.
const MAX_UNITS: usize = 4 * threadline_store::REACH_CHUNK;

impl<'a> Places<'a> {
    pub fn new(store: &'a dyn Store) -> Self {
        Places {
            store,
            parties: HashMap::new(),
            locations: HashMap::new(),
            regions: HashMap::new(),
            units: HashMap::new(),
        }
    }

    /// Knows, for the parts among `rows`, the units they are built into up to the outermost,
    /// so that [`Places::whereabouts`] of each finds them here instead of reading them one by
    /// one: the unit a part is built into comes with the part's row ([`Reached::inside`]); the
    /// units further up are read one statement per level of nesting. A trace calls it once per
    /// chunk of rows; the answer of `whereabouts` is the same without it.
    pub async fn prepare<'u>(
        &mut self,
        rows: impl IntoIterator<Item = &'u Reached>,
    ) -> Result<(), AppError> {
        if self.units.len() > MAX_UNITS {
            self.units = HashMap::new();
        }
        // Each unit is asked for once: parts of one unit share it.
        let mut asked: HashSet<Cow<'u, ItemKey>> = HashSet::new();
        let mut want = Vec::new();
        for r in rows {
            let Some(u) = &r.unit else {
                continue;
            };
            let Some(k) = &u.parent else {
                continue;
            };
            if u.status.is_final() || self.units.contains_key(k) {
                continue;
            }
            match &r.inside {
                Some(outer) => {
                    if let Some(up) = &outer.parent
                        && !self.units.contains_key(up)
                        && asked.insert(Cow::Borrowed(up))
                    {
                        want.push(up.clone());
                    }
                    self.units.insert(k.clone(), Some(outer.clone()));
                }
                None => {
                    if asked.insert(Cow::Borrowed(k)) {
                        want.push(k.clone());
                    }
                }
            }
        }
        for _ in 0..MAX_NESTING {
            if want.is_empty() {
                break;
            }
            let states = self.store.unit_states(&want).await?;
            let mut next = Vec::new();
            for (key, state) in want.into_iter().zip(states) {
                if let Some(p) = state.as_ref().and_then(|s| s.parent.as_ref())
                    && !self.units.contains_key(p)
                    && asked.insert(Cow::Owned(p.clone()))
                {
                    next.push(p.clone());
                }
                self.units.insert(key, state);
            }
            want = next;
        }
        Ok(())
    }

    async fn unit(&mut self, key: &ItemKey) -> Result<Option<&UnitState>, AppError> {
        if !self.units.contains_key(key) {
            let u = self
                .store
                .unit_states(std::slice::from_ref(key))
                .await?
                .pop()
                .flatten();
            self.units.insert(key.clone(), u);
        }
        Ok(self.units.get(key).and_then(Option::as_ref))
    }

    /// The unit a part built into `parent` is in at the top, if `parent` is known: a part goes
    /// where that unit goes.
    async fn outermost(&mut self, parent: &ItemKey) -> Result<Option<&UnitState>, AppError> {
        let mut top = None;
        let mut next = parent.clone();
        for _ in 0..MAX_NESTING {
            let Some(u) = self.unit(&next).await? else {
                break;
            };
            let up = u.parent.clone();
            top = Some(next);
            match up {
                Some(k) => next = k,
                None => break,
            }
        }
        Ok(match top {
            Some(k) => self.units.get(&k).and_then(Option::as_ref),
            None => None,
        })
    }

    pub async fn party(&mut self, code: &str) -> Result<Option<&Party>, AppError> {
        if !self.parties.contains_key(code) {
            let p = self.store.party(code).await?.map(|v| v.def);
            self.parties.insert(code.to_owned(), p);
        }
        Ok(self.parties.get(code).and_then(Option::as_ref))
    }

    pub async fn location(&mut self, code: &str) -> Result<Option<&Location>, AppError> {
        if !self.locations.contains_key(code) {
            let l = self.store.location(code).await?.map(|v| v.def);
            self.locations.insert(code.to_owned(), l);
        }
        Ok(self.locations.get(code).and_then(Option::as_ref))
    }

    /// The first region on the way up from a location.
    async fn region(&mut self, code: &str) -> Result<Option<String>, AppError> {
        if let Some(r) = self.regions.get(code) {
            return Ok(r.clone());
        }
        let r = self.region_above(code).await?;
        self.regions.insert(code.to_owned(), r.clone());
        Ok(r)
    }

    async fn region_above(&mut self, code: &str) -> Result<Option<String>, AppError> {
        let mut at = Some(code.to_owned());
        let mut hops = 0;
        while let Some(c) = at.take() {
            let Some(l) = self.location(&c).await? else {
                break;
            };
            if l.region.is_some() {
                return Ok(l.region.clone());
            }
            at = l.parent.as_ref().map(ToString::to_string);
            hops += 1;
            if hops > 16 {
                break;
            }
        }
        Ok(None)
    }

    /// For a unit sold to a customer (the projection forgets where it was): the distributor it
    /// passed through and the region it was last in, from its history.
    pub async fn sold_through(
        &mut self,
        key: &ItemKey,
        w: &mut Whereabouts,
    ) -> Result<(), AppError> {
        let mut q = EventQuery {
            item: Some(key.clone()),
            limit: 1000,
            ..Default::default()
        };
        let (mut distributor, mut region) = (None, None);
        loop {
            let page = self.store.events(&q).await?;
            for e in &page.items {
                let ev = &e.event;
                let places = ev
                    .biz_location
                    .iter()
                    .map(ToString::to_string)
                    .chain(
                        ev.destinations
                            .iter()
                            .filter_map(|d| d.location().map(str::to_owned)),
                    )
                    .collect::<Vec<_>>();
                for code in places {
                    if let Some(r) = self.region(&code).await? {
                        region = Some(r);
                    }
                    let owner = self
                        .location(&code)
                        .await?
                        .and_then(|l| l.party.as_ref().map(ToString::to_string));
                    if let Some(o) = owner
                        && self.party(&o).await?.map(|p| p.kind) == Some(PartyKind::Distributor)
                    {
                        distributor = Some(o);
                    }
                }
                if let Some(c) = ev.new_custodian()
                    && self.party(c).await?.map(|p| p.kind) == Some(PartyKind::Distributor)
                {
                    distributor = Some(c.to_owned());
                }
            }
            match (page.next, page.items.last()) {
                (Some(_), Some(last)) => q.after_seq = Some(last.seq),
                _ => break,
            }
        }
        w.distributor = w.distributor.take().or(distributor);
        w.region = w.region.take().or(region);
        Ok(())
    }

    /// Reads a unit's projected state in terms of parties and regions. A part built into
    /// another unit is where the outermost unit it is in is — in stock, at a distributor, sold —
    /// unless it was used up or scrapped itself; `inside` names the unit it is built into.
    pub async fn whereabouts(&mut self, part: UnitState) -> Result<Whereabouts, AppError> {
        let top = match &part.parent {
            Some(parent) if !part.status.is_final() => self
                .outermost(parent)
                .await?
                .map(|u| (u.status, u.location.clone(), u.custodian.clone())),
            _ => None,
        };
        let (status, location, custodian) =
            top.unwrap_or((part.status, part.location, part.custodian));
        let mut w = Whereabouts {
            status,
            location,
            custodian,
            distributor: None,
            customer: None,
            customer_name: None,
            region: None,
            inside: part.parent,
            in_our_hands: false,
        };
        if let Some(c) = &w.custodian {
            match self.party(c).await? {
                Some(p) if p.kind == PartyKind::Customer => {
                    w.customer = Some(c.clone());
                    w.customer_name = Some(p.name.clone());
                }
                Some(p) if p.kind == PartyKind::Distributor => w.distributor = Some(c.clone()),
                _ => {}
            }
        }
        let mut external = false;
        if let Some(code) = &w.location {
            let owner = match self.location(code).await? {
                Some(l) => {
                    external = l.kind == LocationKind::External;
                    // Only asked for when the custodian named no distributor.
                    l.party
                        .as_ref()
                        .filter(|_| w.distributor.is_none())
                        .map(ToString::to_string)
                }
                None => None,
            };
            if let Some(o) = owner
                && self.party(&o).await?.map(|p| p.kind) == Some(PartyKind::Distributor)
            {
                w.distributor = Some(o);
            }
            w.region = self.region(code).await?;
        }
        w.in_our_hands = !external
            && matches!(
                w.status,
                ItemStatus::InProduction
                    | ItemStatus::InStock
                    | ItemStatus::InRepair
                    | ItemStatus::Returned
            );
        Ok(w)
    }
}

impl Mask for Whereabouts {
    fn mask(&mut self, v: Visibility) {
        if !v.personal {
            mask_text(&mut self.customer_name);
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TraceNode {
    pub node: Node,
    /// 0 for a starting node (set scopes only), 1 for direct components (or direct parents), …
    pub depth: u32,
    /// The node this one was reached from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Node>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_at: Option<DateTime<Utc>>,
    /// Set when the link ended before the as-of date (a part swapped out in a repair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// Absent when there are none (the document's schemas are of what requests may omit, so
    /// an answer's omitted field says so here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(default)]
    pub holds: Vec<HoldKind>,
    /// For units: where each is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Whereabouts>,
}

impl TraceNode {
    pub async fn of(r: Reached, places: &mut Places<'_>) -> Result<TraceNode, AppError> {
        let state = match r.unit {
            Some(u) => Some(places.whereabouts(u).await?),
            None => None,
        };
        Ok(TraceNode {
            node: r.node,
            depth: r.depth,
            via: r.via,
            kind: r.kind,
            quantity: r.quantity,
            linked_at: r.linked_at,
            removed_at: r.removed_at,
            holds: r.holds,
            state,
        })
    }
}

impl Mask for TraceNode {
    fn mask(&mut self, v: Visibility) {
        self.state.mask(v);
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Trace {
    pub scope: Scope,
    pub direction: &'static str,
    pub as_of: DateTime<Utc>,
    pub nodes: Vec<TraceNode>,
}

impl Mask for Trace {
    fn mask(&mut self, v: Visibility) {
        self.nodes.mask(v);
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Children => "backward",
        Direction::Parents => "forward",
    }
}

/// Starts the walk for a scope: the rows arrive on the stream.
pub async fn walk(
    store: &dyn Store,
    scope: &Scope,
    direction: Direction,
) -> Result<ReachStream, AppError> {
    let starts = scope.starts(store).await?;
    Ok(store.reach(starts, direction, scope.as_of).await?)
}

/// Everything a scope reaches, its starting nodes included — what a recall on it covers — in
/// memory (at most [`MAX_NODES`] nodes besides a single start).
pub async fn reach_scope(
    store: &dyn Store,
    scope: Scope,
    direction: Direction,
) -> Result<Trace, AppError> {
    let rows = rows_of(store, &scope, direction).await?;
    trace_of(store, scope, direction, rows).await
}

/// [`reach_scope`] as the readers may see it: the rows they may not see left out before any
/// unit's whereabouts is read ([`Readers::narrow_rows`]).
pub async fn reach_shown(
    store: &dyn Store,
    readers: &mut Readers,
    scope: Scope,
    direction: Direction,
) -> Result<Trace, AppError> {
    let rows = rows_of(store, &scope, direction).await?;
    let rows = readers.narrow_rows(store, rows, direction).await?;
    trace_of(store, scope, direction, rows).await
}

/// The walk's rows of a scope, at most [`MAX_NODES`] besides a single start.
async fn rows_of(
    store: &dyn Store,
    scope: &Scope,
    direction: Direction,
) -> Result<Vec<Reached>, AppError> {
    let limit = MAX_NODES + usize::from(scope.is_single());
    let rows = walk(store, scope, direction).await?;
    let rows = threadline_store::collect_reach(rows, limit + 1)
        .await
        .map_err(too_large)?;
    if rows.len() > limit {
        return Err(too_large(threadline_store::ReachError::TooLarge(MAX_NODES)));
    }
    Ok(rows)
}

/// The trace of `rows`, each unit with its whereabouts (the units parts are built into read a
/// chunk of rows at a time).
async fn trace_of(
    store: &dyn Store,
    scope: Scope,
    direction: Direction,
    rows: Vec<Reached>,
) -> Result<Trace, AppError> {
    let mut places = Places::new(store);
    let mut nodes = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Reached> = rows.by_ref().take(threadline_store::REACH_CHUNK).collect();
        places.prepare(chunk.iter()).await?;
        for r in chunk {
            nodes.push(TraceNode::of(r, &mut places).await?);
        }
    }
    Ok(Trace {
        as_of: scope.as_of,
        scope,
        direction: direction_name(direction),
        nodes,
    })
}

/// The whole trace of a scope in memory (at most [`MAX_NODES`] nodes). For a single unit or
/// lot the start itself is left out.
pub async fn trace_scope(
    store: &dyn Store,
    scope: Scope,
    direction: Direction,
) -> Result<Trace, AppError> {
    let mut trace = reach_scope(store, scope, direction).await?;
    if trace.scope.is_single() {
        trace.nodes.retain(|n| n.depth != 0);
    }
    Ok(trace)
}

fn too_large(e: threadline_store::ReachError) -> AppError {
    match e {
        threadline_store::ReachError::Store(e) => e.into(),
        threadline_store::ReachError::TooLarge(_) => {
            AppError::Rule(vec![threadline_domain::FieldError::new(
                "trace_too_large",
                format!(
                    "the trace reaches more than {MAX_NODES} units and lots; ask for format=csv or xlsx, which stream, or narrow it"
                ),
            )])
        }
    }
}

/// Walks the genealogy from one unit or lot, as of a date.
pub async fn trace(
    store: &dyn Store,
    root: Node,
    direction: Direction,
    as_of: DateTime<Utc>,
) -> Result<Trace, AppError> {
    let start = match root {
        Node::Item(k) => Start::Item(k),
        Node::Lot(k) => Start::Lot(k),
    };
    let scope = Scope {
        start,
        from: None,
        to: None,
        shift: None,
        as_of,
    };
    trace_scope(store, scope, direction).await
}

/// The columns of a trace export.
pub const EXPORT_COLUMNS: &[&str] = &[
    "depth",
    "kind_of_node",
    "product",
    "serial_or_lot",
    "via_product",
    "via_serial_or_lot",
    "link",
    "quantity",
    "linked_at",
    "removed_at",
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

/// The product and serial or lot of a node, for a spreadsheet row.
pub fn node_cells(n: &Node) -> (&'static str, String, String) {
    match n {
        Node::Item(k) => ("unit", k.product.to_string(), k.serial.to_string()),
        Node::Lot(k) => ("lot", k.product.to_string(), k.lot.to_string()),
    }
}

pub fn holds_text(h: &[HoldKind]) -> String {
    h.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(" ")
}

impl TraceNode {
    /// One spreadsheet row, in [`EXPORT_COLUMNS`] order; the node's text moves into the cells
    /// (an export writes each row once).
    pub fn into_cells(self) -> Vec<Cell> {
        let (kind, product, id) = owned_node_cells(self.node);
        let (via_product, via_id) = self
            .via
            .map(|v| {
                let (_, p, i) = owned_node_cells(v);
                (p, i)
            })
            .unwrap_or_default();
        let text = |v: Option<String>| Cell::Text(v.unwrap_or_default());
        let (status, location, custodian, distributor, customer, customer_name, region, inside) =
            match self.state {
                Some(s) => (
                    Some(s.status.as_str().to_owned()),
                    s.location,
                    s.custodian,
                    s.distributor,
                    s.customer,
                    s.customer_name,
                    s.region,
                    s.inside.map(|k| format!("{} {}", k.product, k.serial)),
                ),
                None => Default::default(),
            };
        vec![
            Cell::Number(f64::from(self.depth)),
            Cell::Text(kind.to_owned()),
            Cell::Text(product),
            Cell::Text(id),
            Cell::Text(via_product),
            Cell::Text(via_id),
            text(self.kind),
            text(self.quantity.map(|q| q.to_string())),
            Cell::time(self.linked_at),
            Cell::time(self.removed_at),
            Cell::Text(holds_text(&self.holds)),
            text(status),
            text(location),
            text(custodian),
            text(distributor),
            text(customer),
            text(customer_name),
            text(region),
            text(inside),
        ]
    }
}

/// [`node_cells`] of a node given away: its codes become the cells' text as they are.
fn owned_node_cells(n: Node) -> (&'static str, String, String) {
    match n {
        Node::Item(k) => ("unit", k.product.into(), k.serial.into()),
        Node::Lot(k) => ("lot", k.product.into(), k.lot.into()),
    }
}

impl Trace {
    /// The trace as a spreadsheet: one row per unit or lot with the key data elements.
    pub fn to_csv(self) -> Result<Vec<u8>, AppError> {
        let mut out = Vec::new();
        crate::export::write_csv_rows(
            &mut out,
            Some(EXPORT_COLUMNS),
            self.nodes.into_iter().map(TraceNode::into_cells),
        )?;
        Ok(out)
    }
}

/// Reads a query string into a [`ScopeRequest`] and an output format, naming any bad field.
pub fn scope_from_query(
    params: BTreeMap<String, String>,
) -> Result<(ScopeRequest, Format), AppError> {
    let mut params = params;
    let format = Format::parse(params.remove("format").as_deref())?;
    let v = serde_json::to_value(&params).map_err(|e| AppError::Internal(e.to_string()))?;
    let req: ScopeRequest = serde_path_to_error::deserialize(v).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if field == "." {
            inner
                .split('`')
                .nth(1)
                .map(str::to_owned)
                .unwrap_or_default()
        } else {
            field
        };
        bad("invalid_query", inner, &field)
    })?;
    Ok((req, format))
}

async fn run(
    app: AppState,
    actor: Actor,
    params: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
    direction: Direction,
) -> Result<Response, AppError> {
    let Query(params) =
        params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let (req, format) = scope_from_query(params)?;
    let scope = req.check(app.clock.now(), "")?;
    if direction == Direction::Children && !scope.is_single() {
        return Err(bad(
            "unexpected_field",
            "a backward trace starts from one unit or lot",
            "serial",
        ));
    }
    match format {
        Format::Json => {
            Ok(Json(shown(&*app.store, &actor, scope, direction).await?).into_response())
        }
        f => {
            let readers = Readers::of(&*app.store, &actor, &scope).await?;
            let rows = walk(&*app.store, &scope, direction).await?;
            let single = scope.is_single();
            let store = app.store.clone();
            let name = format!("trace-{}", direction_name(direction));
            let seen = actor.visibility();
            Ok(crate::export::spreadsheet(
                f,
                &name,
                EXPORT_COLUMNS,
                move |tx| async move {
                    let mut rows = rows;
                    let mut readers = readers;
                    let mut places = Places::new(&*store);
                    while let Some(chunk) = rows.recv().await {
                        let chunk = chunk?;
                        places.prepare(chunk.iter()).await?;
                        let mut out = Vec::with_capacity(threadline_store::REACH_CHUNK);
                        for r in chunk {
                            if single && r.depth == 0 {
                                continue;
                            }
                            if !readers.keeps_row(&*store, &r, direction).await? {
                                continue;
                            }
                            let mut n = TraceNode::of(r, &mut places).await?;
                            readers.hide_via(&*store, &mut n, direction).await?;
                            out.push(masked(n, seen).into_cells());
                        }
                        if tx.send(out).await.is_err() {
                            break;
                        }
                    }
                    Ok(())
                },
            ))
        }
    }
}

/// Who reads a trace: a partner's wall and a site's (each `None` for an account without).
pub struct Readers {
    partner: Option<crate::partner::Partner>,
    site: Option<crate::site::SiteScope>,
}

impl Readers {
    /// The walls of `actor`, once it is known that the start is theirs to trace from: a
    /// partner traces from one unit shipped to it, nothing wider; an account of one site from
    /// a unit or lot that was there, a line of the site, or a set (supplier, work order,
    /// production window) of which it sees only what was there. Anything else is "not found".
    pub async fn of(store: &dyn Store, actor: &Actor, scope: &Scope) -> Result<Readers, AppError> {
        let mut partner = crate::partner::Partner::of(store, actor).await?;
        if let Some(p) = partner.as_mut() {
            match &scope.start {
                Start::Item(k) if scope.is_single() => p.require(store, k).await?,
                _ => {
                    return Err(AppError::NotFound(
                        "a partner account traces from one unit shipped to it".into(),
                    ));
                }
            }
        }
        let mut site = crate::site::SiteScope::of(store, actor).await?;
        if let Some(s) = site.as_mut() {
            match &scope.start {
                Start::Item(k) => s.require(store, k).await?,
                Start::Lot(k) => s.require_lot(store, k).await?,
                Start::Line(l) if !s.holds_place(l) => {
                    return Err(AppError::NotFound(format!("location {l} does not exist")));
                }
                Start::Line(_) | Start::Supplier(_) | Start::WorkOrder(_) | Start::Production => {}
            }
        }
        Ok(Readers { partner, site })
    }

    /// Neither wall hides anything.
    pub fn sees_all(&self) -> bool {
        self.partner.is_none() && self.site.is_none()
    }

    /// The node is shown: a partner keeps what [`crate::partner::Partner::keeps`] keeps, a
    /// site what was there.
    pub async fn keeps(
        &mut self,
        store: &dyn Store,
        node: &Node,
        direction: Direction,
    ) -> Result<bool, AppError> {
        if let Some(p) = self.partner.as_mut()
            && !p.keeps(store, node, direction).await?
        {
            return Ok(false);
        }
        match self.site.as_mut() {
            Some(s) => s.sees_node(store, node).await,
            None => Ok(true),
        }
    }

    /// [`Self::keeps`] of a walk's row: a unit's current location comes from the row, not from
    /// a second read of the unit.
    pub async fn keeps_row(
        &mut self,
        store: &dyn Store,
        row: &Reached,
        direction: Direction,
    ) -> Result<bool, AppError> {
        if let Some(p) = self.partner.as_mut()
            && !p.keeps(store, &row.node, direction).await?
        {
            return Ok(false);
        }
        match (self.site.as_mut(), &row.node, &row.unit) {
            (None, _, _) => Ok(true),
            (Some(s), Node::Item(k), Some(u)) => s.sees_at(store, k, u.location.as_deref()).await,
            (Some(s), node, _) => s.sees_node(store, node).await,
        }
    }

    /// Forgets which node a kept node was reached through when that one is not shown.
    pub async fn hide_via(
        &mut self,
        store: &dyn Store,
        node: &mut TraceNode,
        direction: Direction,
    ) -> Result<(), AppError> {
        if let Some(via) = &node.via
            && !self.keeps(store, via, direction).await?
        {
            node.via = None;
        }
        Ok(())
    }

    /// Keeps of a walk's rows those shown, each reached through a node shown or through none.
    pub async fn narrow_rows(
        &mut self,
        store: &dyn Store,
        rows: Vec<Reached>,
        direction: Direction,
    ) -> Result<Vec<Reached>, AppError> {
        if self.sees_all() {
            return Ok(rows);
        }
        let mut kept = Vec::with_capacity(rows.len());
        for mut r in rows {
            if self.keeps_row(store, &r, direction).await? {
                if let Some(via) = &r.via
                    && !self.keeps(store, via, direction).await?
                {
                    r.via = None;
                }
                kept.push(r);
            }
        }
        Ok(kept)
    }
}

/// The trace of `scope` as `actor` may see it ([`Readers`]): a partner's from one of its units
/// only, a site's of what was there, with the nodes it may see and the units they came
/// through hidden where it may not; restricted fields masked. The API and the trace page both
/// answer this.
pub async fn shown(
    store: &dyn Store,
    actor: &Actor,
    scope: Scope,
    direction: Direction,
) -> Result<Trace, AppError> {
    let mut readers = Readers::of(store, actor, &scope).await?;
    let mut trace = reach_shown(store, &mut readers, scope, direction).await?;
    if trace.scope.is_single() {
        trace.nodes.retain(|n| n.depth != 0);
    }
    Ok(actor.masked(trace))
}

/// `GET /api/v1/trace/backward?product=…&serial=…|lot=…[&as_of=…][&format=csv|xlsx]`
pub async fn backward(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    run(app, actor, params, Direction::Children).await
}

/// `GET /api/v1/trace/forward?…` from a unit or lot (`product` with `serial`|`lot`), a
/// `supplier` (`from`/`to` optional), a `work_order`, a `line` (`from`/`to`/`shift` optional)
/// or a production window (`from` and `to`); `as_of` and `format=csv|xlsx` optional.
pub async fn forward(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<BTreeMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    run(app, actor, params, Direction::Parents).await
}
