//! Partner scoping: an account of a distributor (the `distributor` role, bound to its party)
//! sees and reports only the units that were shipped to that party or to the parties under it
//! (its sub-distributors, through `parent`); everything else is "not found", never
//! "forbidden", so an answer cannot tell a partner that another's serial exists.
//!
//! Two walls: [`PARTNER_ROUTES`] is all a partner account may call at all (the guard answers
//! 404 for every other route, after the permission check), and the handlers of those routes
//! ask [`Partner::sees`] about every unit they would show and keep only those
//! ([`Partner::redact`] for events, which can name many units). A recall campaign exists for
//! a partner when it covers one of its units, and shows it those units only — where they are
//! and how far from closure — so it can act on them without learning of anyone else's.
//!
//! A unit was shipped to the partner when its custodian is one of the partner's parties, it
//! is at a location one of them owns, or an event that names it sends it to one of them (a
//! party destination), happens at or sends it to a location one of them owns, or records one
//! of them as the seller (`sold_by`). Units inside a case shipped to a partner are covered by
//! the case's shipment, which is on their timeline (`via` the case), and by their custodian.

use std::collections::{HashMap, HashSet};

use threadline_domain::access::Role;
use threadline_domain::codes::ItemKey;
use threadline_domain::event::{EndpointKind, Event};
use threadline_domain::projection::Node;
use threadline_domain::{ProductCode, Serial};
use threadline_store::{Direction, ItemView, ListQuery, Store, Versioned};

use crate::auth::Actor;
use crate::error::AppError;
use crate::scan::{Resolved, ScanReading};

/// The routes a partner account may call; the guard answers 404 for any other (routes that
/// need only a signed-in account — who am I, password, sign-out — stay open).
pub const PARTNER_ROUTES: &[&str] = &[
    "/",
    "/unit",
    "/api/v1/items/{product}/{serial}",
    "/api/v1/items/{product}/{serial}/passport",
    "/api/v1/passport",
    "/api/v1/events",
    "/api/v1/scan",
    "/api/v1/scan/check",
    "/api/v1/trace/backward",
    "/api/v1/trace/forward",
    "/api/v1/recalls",
    "/api/v1/recalls/{code}",
    "/api/v1/recalls/{code}/units",
    "/epcis/events",
    "/trace",
    "/recalls",
    "/recalls/{code}",
    "/dashboard",
];

impl Actor {
    /// A partner account: bound to a party, or holding the `distributor` role (which, unbound,
    /// sees nothing).
    pub fn is_partner(&self) -> bool {
        self.party.is_some() || self.roles.contains(Role::Distributor)
    }
}

/// Every `(child, parent)` link of a hierarchical master list — parties, locations — read
/// page by page through `read`; `link` names a record's parent, if it has one.
pub async fn parent_links<T, Fut>(
    mut read: impl FnMut(ListQuery) -> Fut,
    link: impl Fn(&T) -> Option<(String, String)>,
) -> Result<Vec<(String, String)>, AppError>
where
    Fut: std::future::Future<
            Output = Result<threadline_store::Page<T>, threadline_store::StoreError>,
        >,
{
    let mut links = Vec::new();
    let mut q = ListQuery {
        limit: 1000,
        ..ListQuery::default()
    };
    loop {
        let page = read(q.clone()).await?;
        links.extend(page.items.iter().filter_map(&link));
        match page.next {
            Some(n) => q.after = Some(n),
            None => return Ok(links),
        }
    }
}

/// `roots` and everything under them at any depth, given `(child, parent)` links (a cycle
/// cannot grow the set forever): a partner's sub-distributors, a site's places.
pub fn with_descendants(
    mut roots: HashSet<String>,
    children: &[(String, String)],
) -> HashSet<String> {
    loop {
        let before = roots.len();
        for (child, parent) in children {
            if roots.contains(parent) {
                roots.insert(child.clone());
            }
        }
        if roots.len() == before {
            return roots;
        }
    }
}

/// What one partner account may see, with what it has already looked up.
pub struct Partner {
    parties: HashSet<String>,
    owners: HashMap<String, Option<String>>,
    seen: HashMap<ItemKey, bool>,
}

/// The answer for anything a partner may not see: the same as for what does not exist.
pub fn not_found(what: impl std::fmt::Display) -> AppError {
    AppError::NotFound(format!("{what} is not registered"))
}

impl Partner {
    /// The scope of `actor`, or `None` for an account that is no partner.
    pub async fn of(store: &dyn Store, actor: &Actor) -> Result<Option<Partner>, AppError> {
        if !actor.is_partner() {
            return Ok(None);
        }
        let mut parties: HashSet<String> = actor.party.iter().cloned().collect();
        if !parties.is_empty() {
            let children = parent_links(
                |q| async move { store.parties(&q).await },
                |p: &Versioned<threadline_domain::master::Party>| {
                    p.def
                        .parent
                        .as_ref()
                        .map(|parent| (p.def.code.to_string(), parent.to_string()))
                },
            )
            .await?;
            // Sub-distributors at any depth.
            parties = with_descendants(parties, &children);
        }
        Ok(Some(Partner {
            parties,
            owners: HashMap::new(),
            seen: HashMap::new(),
        }))
    }

    async fn owned(&mut self, store: &dyn Store, location: &str) -> Result<bool, AppError> {
        let owner = match self.owners.get(location) {
            Some(o) => o.clone(),
            None => {
                let o = store
                    .location(location)
                    .await?
                    .and_then(|l| l.def.party.map(|p| p.to_string()));
                self.owners.insert(location.to_owned(), o.clone());
                o
            }
        };
        Ok(owner.is_some_and(|o| self.parties.contains(&o)))
    }

    async fn reaches(&mut self, store: &dyn Store, e: &Event) -> Result<bool, AppError> {
        if e.destinations
            .iter()
            .any(|d| d.kind != EndpointKind::Location && self.parties.contains(&d.id))
        {
            return Ok(true);
        }
        if e.fields
            .get("sold_by")
            .and_then(|v| v.as_str())
            .is_some_and(|s| self.parties.contains(s))
        {
            return Ok(true);
        }
        let places: Vec<String> = e
            .biz_location
            .iter()
            .map(ToString::to_string)
            .chain(
                e.destinations
                    .iter()
                    .filter(|d| d.kind == EndpointKind::Location)
                    .map(|d| d.id.clone()),
            )
            .collect();
        for p in places {
            if self.owned(store, &p).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `party` is this partner or one of its sub-distributors.
    pub fn is_own(&self, party: &str) -> bool {
        self.parties.contains(party)
    }

    /// Was `key` shipped to this partner (see the module docs)? Unregistered units are not.
    pub async fn sees(&mut self, store: &dyn Store, key: &ItemKey) -> Result<bool, AppError> {
        if let Some(s) = self.seen.get(key) {
            return Ok(*s);
        }
        let seen = self.look(store, key).await?;
        self.seen.insert(key.clone(), seen);
        Ok(seen)
    }

    async fn look(&mut self, store: &dyn Store, key: &ItemKey) -> Result<bool, AppError> {
        if self.parties.is_empty() {
            return Ok(false);
        }
        // One snapshot: the unit and its timeline, each batch event read from its head (no
        // reading of the thousand other units a commissioning names).
        let Some(history) = store.unit_history(key).await? else {
            return Ok(false);
        };
        let item = history.state;
        if item
            .custodian
            .as_ref()
            .is_some_and(|c| self.parties.contains(c))
        {
            return Ok(true);
        }
        if let Some(l) = &item.location
            && self.owned(store, l).await?
        {
            return Ok(true);
        }
        for e in &history.timeline {
            if self.reaches(store, &e.event).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Refuses with 404 ("not registered") unless the partner sees `key`.
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

    /// Keeps of `event` only the unit `key` (a unit's history as a partner reads it). What the
    /// process said of the event goes: its messages may name the other units.
    pub fn only(event: &mut Event, key: &ItemKey) {
        event.process_discrepancies.clear();
        event.items.retain(|k| k == key);
        event.children.retain(|k| k == key);
        event.inputs.retain(|k| k == key);
        event.outputs.retain(|k| k == key);
        if event.parent.as_ref() != Some(key) {
            event.parent = None;
        }
    }

    /// Keeps of `event` only the units this partner sees; `false` when none is left (the
    /// event is then not shown at all). Lots stay: they name no serial.
    pub async fn redact(&mut self, store: &dyn Store, event: &mut Event) -> Result<bool, AppError> {
        event.process_discrepancies.clear();
        let mut any = false;
        for list in [
            &mut event.items,
            &mut event.children,
            &mut event.inputs,
            &mut event.outputs,
        ] {
            let mut kept = Vec::with_capacity(list.len());
            for k in list.drain(..) {
                if self.sees(store, &k).await? {
                    kept.push(k);
                }
            }
            any |= !kept.is_empty();
            *list = kept;
        }
        if let Some(p) = event.parent.clone() {
            if self.sees(store, &p).await? {
                any = true;
            } else {
                event.parent = None;
            }
        }
        // Objects Threadline does not track are no unit a partner can be shown to hold.
        event.untracked.clear();
        Ok(any)
    }
}

impl Partner {
    /// [`crate::scan::resolve`] for a partner: a unit it sees, or "not registered" — whether
    /// the code names another partner's unit, a lot, a product or nothing.
    pub async fn resolve(
        &mut self,
        store: &dyn Store,
        code: &str,
        year: i32,
    ) -> Result<(ItemView, ScanReading), AppError> {
        let hidden = || not_found(format_args!("`{code}`"));
        match crate::scan::resolve(store, code, year).await {
            Ok((Resolved::Item { item }, reading)) => {
                let key = ItemKey {
                    product: ProductCode::parse(&item.product)
                        .map_err(|e| AppError::Internal(e.message))?,
                    serial: Serial::parse(&item.serial)
                        .map_err(|e| AppError::Internal(e.message))?,
                };
                if self.sees(store, &key).await? {
                    Ok((item, reading))
                } else {
                    Err(hidden())
                }
            }
            Ok(_) | Err(AppError::NotFound(_)) => Err(hidden()),
            Err(AppError::Rule(v)) if v.iter().any(|e| e.code == "ambiguous_serial") => {
                Err(hidden())
            }
            Err(e) => Err(e),
        }
    }

    /// Keeps a trace node a partner may see: everything inside one of its units (backward),
    /// and of what its unit went into (forward) only the units it sees.
    pub async fn keeps(
        &mut self,
        store: &dyn Store,
        node: &Node,
        direction: Direction,
    ) -> Result<bool, AppError> {
        match (direction, node) {
            (Direction::Children, _) => Ok(true),
            (Direction::Parents, Node::Item(k)) => self.sees(store, k).await,
            (Direction::Parents, Node::Lot(_)) => Ok(false),
        }
    }
}
