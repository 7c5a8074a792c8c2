//! Site scoping: an account bound to a site (a user's or token's `site`) records events only
//! where that site is — the event's business location and read point must be the site or a
//! place under it. Refused events are named (`events[i].biz_location`) with 403, and nothing
//! is written. Events that name no place are not judged here.
//!
//! It reads as a partner does ([`SiteScope`]): the units that were at the site — there now,
//! or named by an event that happened at, came from or went to a place of the site —, the lots
//! likewise (stock at the site, or an event there naming them), and the events that happened
//! there; anything else answers "not found", never "forbidden". Every read path asks it: a
//! unit's item, passport and history, the scan, traces and their exports (nodes it does not
//! see are left out), recall campaigns (their members at the site), unit and lot lists (what
//! is at the site now), the dashboards (what happened and is at the site), EPCIS queries and
//! their resources, EPCIS capture jobs (those it or its site sent), label jobs (of units it
//! sees), channel diversions and authenticity checks (about units it sees), and the home page.
//!
//! Master data is the plant's, with one exception ([`Shown`]): products, parties, serial
//! rules, label templates and the process are shared by every site — a site makes, receives
//! and ships the plant's products, to and from the company's partners —, while of the
//! locations an account of one site reads its own site's places and the places outside our
//! walls (`external`: customers', distributors', 3PLs' — where its goods go), not another
//! site's, and writes only those.

use std::collections::{HashMap, HashSet};

use threadline_domain::FieldError;
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::{EndpointKind, Event, EventRequest};
use threadline_domain::projection::Node;
use threadline_domain::{ProductCode, Serial};
use threadline_store::{EventQuery, ItemView, LotView, Store, Versioned};

use crate::auth::Actor;
use crate::error::AppError;
use crate::partner::not_found;
use crate::scan::{Resolved, ScanReading};

/// Judges the places of events for one actor, remembering what it has looked up.
pub struct SiteCheck<'a> {
    store: &'a dyn Store,
    site: Option<String>,
    actor: String,
    within: HashMap<String, bool>,
}

/// Parent links followed at most (a location tree is shallow; the bound guards a cycle).
const MAX_DEPTH: usize = 16;

impl<'a> SiteCheck<'a> {
    pub fn new(store: &'a dyn Store, actor: &Actor) -> SiteCheck<'a> {
        SiteCheck {
            store,
            site: actor.site.clone(),
            actor: actor.name(),
            within: HashMap::new(),
        }
    }

    /// `code` is the site or under it.
    async fn inside(&mut self, code: &str, site: &str) -> Result<bool, AppError> {
        if let Some(known) = self.within.get(code) {
            return Ok(*known);
        }
        let mut at = code.to_owned();
        let mut found = false;
        for _ in 0..MAX_DEPTH {
            if at == site {
                found = true;
                break;
            }
            match self
                .store
                .location(&at)
                .await?
                .and_then(|l| l.def.parent.map(|p| p.to_string()))
            {
                Some(parent) => at = parent,
                None => break,
            }
        }
        self.within.insert(code.to_owned(), found);
        Ok(found)
    }

    /// The problems of one event: each place it names outside the actor's site.
    pub async fn problems(&mut self, req: &EventRequest) -> Result<Vec<FieldError>, AppError> {
        let Some(site) = self.site.clone() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        // A read point that is the business location is judged (and named) once.
        let read_point = req
            .read_point
            .as_ref()
            .filter(|r| Some(*r) != req.biz_location.as_ref());
        for (field, place) in [
            ("biz_location", req.biz_location.as_ref()),
            ("read_point", read_point),
        ] {
            let Some(place) = place else { continue };
            if !self.inside(place.as_str(), &site).await? {
                out.push(
                    FieldError::new(
                        "outside_site",
                        format!("{} works at site {site}; {place} is not there", self.actor),
                    )
                    .at(field),
                );
            }
        }
        Ok(out)
    }

    /// Refuses the whole request with 403, naming each place outside the site
    /// (`events[i].…` in a batch).
    pub async fn check_all(
        &mut self,
        requests: &[EventRequest],
        batch: bool,
    ) -> Result<(), AppError> {
        let mut refusals = Vec::new();
        for (i, req) in requests.iter().enumerate() {
            for e in self.problems(req).await? {
                refusals.push(if batch {
                    e.within(&format!("events[{i}]"))
                } else {
                    e
                });
            }
        }
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(AppError::Forbidden(refusals))
        }
    }
}

/// Which master records an account of one site reads and writes (see the module docs).
pub trait Shown {
    /// The record is the site's, or shared by every site: the account reads it.
    fn shown_to(&self, _site: &SiteScope) -> bool {
        true
    }

    /// The record, as it is to be written, stays the site's or shared: the account writes it.
    fn kept_in(&self, _site: &SiteScope) -> bool {
        true
    }
}

impl Shown for threadline_domain::master::Product {}
impl Shown for threadline_domain::master::Party {}

impl Shown for threadline_domain::master::Location {
    /// A place of the site, or one outside our walls.
    fn shown_to(&self, site: &SiteScope) -> bool {
        self.kind == threadline_domain::master::LocationKind::External
            || site.holds_place(self.code.as_str())
    }

    /// Under a place of the site (the site itself has no parent), or outside our walls.
    fn kept_in(&self, site: &SiteScope) -> bool {
        self.kind == threadline_domain::master::LocationKind::External
            || match &self.parent {
                Some(p) => site.holds_place(p.as_str()),
                None => site.holds_place(self.code.as_str()),
            }
    }
}

/// What an account bound to a site may read: the site's places (the site and every location
/// under it, read once per request), and the units it has looked up.
#[derive(Debug, Clone)]
pub struct SiteScope {
    places: HashSet<String>,
    seen: HashMap<ItemKey, bool>,
    lots: HashMap<LotKey, bool>,
}

/// The key of a stored unit.
pub fn key_of(item: &ItemView) -> Result<ItemKey, AppError> {
    Ok(ItemKey {
        product: ProductCode::parse(&item.product).map_err(|e| AppError::Internal(e.message))?,
        serial: Serial::parse(&item.serial).map_err(|e| AppError::Internal(e.message))?,
    })
}

/// The key of a stored lot.
pub fn lot_key_of(lot: &LotView) -> Result<LotKey, AppError> {
    Ok(LotKey {
        product: ProductCode::parse(&lot.product).map_err(|e| AppError::Internal(e.message))?,
        lot: threadline_domain::LotCode::parse(&lot.lot)
            .map_err(|e| AppError::Internal(e.message))?,
    })
}

impl SiteScope {
    /// The scope of `actor`, or `None` for an account bound to no site.
    pub async fn of(store: &dyn Store, actor: &Actor) -> Result<Option<SiteScope>, AppError> {
        let Some(site) = actor.site.clone() else {
            return Ok(None);
        };
        let children = crate::partner::parent_links(
            |q| async move { store.locations(&q).await },
            |l: &Versioned<threadline_domain::master::Location>| {
                l.def
                    .parent
                    .as_ref()
                    .map(|p| (l.def.code.to_string(), p.to_string()))
            },
        )
        .await?;
        let places = crate::partner::with_descendants(HashSet::from([site]), &children);
        Ok(Some(SiteScope {
            places,
            seen: HashMap::new(),
            lots: HashMap::new(),
        }))
    }

    /// The site and every place under it, sorted: what a list or a figure is narrowed to.
    pub fn places(&self) -> Vec<String> {
        let mut p: Vec<String> = self.places.iter().cloned().collect();
        p.sort();
        p
    }

    /// `code` is a place of the site.
    pub fn holds_place(&self, code: &str) -> bool {
        self.places.contains(code)
    }

    /// Keeps of a lot's stock the lines at the site's places.
    pub fn trim_stock(&self, lot: &mut LotView) {
        lot.stock.retain(|s| self.places.contains(&s.location));
    }

    /// `e` happened at a place of the site, or came from or went to one.
    pub fn happened_here(&self, e: &Event) -> bool {
        e.biz_location
            .iter()
            .chain(e.read_point.iter())
            .any(|l| self.places.contains(l.as_str()))
            || e.sources
                .iter()
                .chain(e.destinations.iter())
                .any(|p| p.kind == EndpointKind::Location && self.places.contains(&p.id))
    }

    /// `key` was at the site: it is at one of its places now, or an event naming it happened
    /// here. Unregistered units are not.
    pub async fn sees(&mut self, store: &dyn Store, key: &ItemKey) -> Result<bool, AppError> {
        if let Some(s) = self.seen.get(key) {
            return Ok(*s);
        }
        // Where it is now is one point read; only a unit that is elsewhere needs its history
        // (a trace or a campaign over a site's own units then reads no timeline at all).
        let seen = match store.item(key).await? {
            None => false,
            Some(item) => self.look(store, key, item.location.as_deref()).await?,
        };
        self.seen.insert(key.clone(), seen);
        Ok(seen)
    }

    /// [`Self::sees`] of a registered unit whose current location the caller has read already
    /// (a trace row carries it): no second read of the unit.
    pub async fn sees_at(
        &mut self,
        store: &dyn Store,
        key: &ItemKey,
        location: Option<&str>,
    ) -> Result<bool, AppError> {
        if let Some(s) = self.seen.get(key) {
            return Ok(*s);
        }
        let seen = self.look(store, key, location).await?;
        self.seen.insert(key.clone(), seen);
        Ok(seen)
    }

    /// A registered unit now at `location` was at the site.
    async fn look(
        &self,
        store: &dyn Store,
        key: &ItemKey,
        location: Option<&str>,
    ) -> Result<bool, AppError> {
        if location.is_some_and(|l| self.places.contains(l)) {
            return Ok(true);
        }
        // The unit and its timeline in one snapshot, batch events read from their heads.
        let Some(history) = store.unit_history(key).await? else {
            return Ok(false);
        };
        Ok(history
            .state
            .location
            .as_ref()
            .is_some_and(|l| self.places.contains(l))
            || history
                .timeline
                .iter()
                .any(|e| self.happened_here(&e.event)))
    }

    /// Refuses with 404 ("not registered") unless the site saw `key`.
    pub async fn require(&mut self, store: &dyn Store, key: &ItemKey) -> Result<(), AppError> {
        if self.sees(store, key).await? {
            Ok(())
        } else {
            Err(not_found(format_args!(
                "serial {} of product {}",
                key.serial, key.product
            )))
        }
    }

    /// The lot `key` was at the site: it has stock at one of its places, or an event naming
    /// it happened here (or came from or went to here). Unregistered lots are not.
    pub async fn sees_lot(&mut self, store: &dyn Store, key: &LotKey) -> Result<bool, AppError> {
        if let Some(s) = self.lots.get(key) {
            return Ok(*s);
        }
        let seen = self.look_lot(store, key).await?;
        self.lots.insert(key.clone(), seen);
        Ok(seen)
    }

    async fn look_lot(&self, store: &dyn Store, key: &LotKey) -> Result<bool, AppError> {
        let Some(lot) = store.lot(key).await? else {
            return Ok(false);
        };
        if lot.stock.iter().any(|s| self.places.contains(&s.location)) {
            return Ok(true);
        }
        let mut q = EventQuery {
            lot: Some(key.clone()),
            limit: 1000,
            ..EventQuery::default()
        };
        loop {
            let page = store.events(&q).await?;
            if page.items.iter().any(|e| self.happened_here(&e.event)) {
                return Ok(true);
            }
            match (page.next, page.items.last()) {
                (Some(_), Some(last)) => q.after_seq = Some(last.seq),
                _ => return Ok(false),
            }
        }
    }

    /// Refuses with 404 ("not registered") unless the site saw the lot `key`.
    pub async fn require_lot(&mut self, store: &dyn Store, key: &LotKey) -> Result<(), AppError> {
        if self.sees_lot(store, key).await? {
            Ok(())
        } else {
            Err(not_found(key))
        }
    }

    /// A unit or lot the site saw.
    pub async fn sees_node(&mut self, store: &dyn Store, node: &Node) -> Result<bool, AppError> {
        match node {
            Node::Item(k) => self.sees(store, k).await,
            Node::Lot(k) => self.sees_lot(store, k).await,
        }
    }

    /// [`crate::scan::resolve`] for an account of this site: a unit or lot it saw (a plain
    /// serial that several products use names the one unit of them it saw), a product, or
    /// "not registered" — whether the code names another site's unit or nothing.
    pub async fn resolve(
        &mut self,
        store: &dyn Store,
        code: &str,
        year: i32,
    ) -> Result<(Resolved, ScanReading), AppError> {
        let hidden = || not_found(format_args!("`{}`", code.trim()));
        match crate::scan::resolve(store, code, year).await {
            Ok((Resolved::Item { item }, reading)) => {
                if self.sees(store, &key_of(&item)?).await? {
                    Ok((Resolved::Item { item }, reading))
                } else {
                    Err(hidden())
                }
            }
            Ok((Resolved::Lot { lot }, reading)) => {
                if self.sees_lot(store, &lot_key_of(&lot)?).await? {
                    Ok((Resolved::Lot { lot }, reading))
                } else {
                    Err(hidden())
                }
            }
            Ok(product) => Ok(product),
            Err(AppError::NotFound(_)) => Err(hidden()),
            Err(AppError::Rule(v)) if v.iter().any(|e| e.code == "ambiguous_serial") => {
                let (scan, reading) = crate::scan::read(code, year)?;
                let threadline_gs1::scan::Scan::Plain(text) = &scan else {
                    return Err(hidden());
                };
                let serial = Serial::parse(text).map_err(|e| AppError::Rule(vec![e.at("code")]))?;
                let mut here = Vec::new();
                for k in store.items_by_serial(serial.as_str(), 10).await? {
                    if self.sees(store, &k).await? {
                        here.push(k);
                    }
                }
                match here.as_slice() {
                    [] => Err(hidden()),
                    [key] => match store.item(key).await? {
                        Some(item) => Ok((Resolved::Item { item }, reading)),
                        None => Err(hidden()),
                    },
                    many => Err(AppError::Rule(vec![
                        FieldError::new(
                            "ambiguous_serial",
                            format!(
                                "serial {serial} belongs to units of several products ({}); scan the GS1 code or choose the product",
                                many.iter()
                                    .map(|k| k.product.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                        .at("code"),
                    ])),
                }
            }
            Err(e) => Err(e),
        }
    }
}
