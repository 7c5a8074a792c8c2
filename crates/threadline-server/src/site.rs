//! Site scoping: an account bound to a site (a user's or token's `site`) records events only
//! where that site is — the event's business location and read point must be the site or a
//! place under it. Refused events are named (`events[i].biz_location`) with 403, and nothing
//! is written. Events that name no place are not judged here.
//!
//! It reads as a partner does ([`SiteScope`]): the units that were at the site — there now,
//! or named by an event that happened at, came from or went to a place of the site — and the
//! events that happened there; anything else answers "not found", never "forbidden".

use std::collections::{HashMap, HashSet};

use threadline_domain::FieldError;
use threadline_domain::codes::ItemKey;
use threadline_domain::event::{EndpointKind, Event, EventRequest};
use threadline_store::{Store, Versioned};

use crate::auth::Actor;
use crate::error::AppError;

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

/// What an account bound to a site may read: the site's places (the site and every location
/// under it, read once per request), and the units it has looked up.
#[derive(Debug, Clone)]
pub struct SiteScope {
    places: HashSet<String>,
    seen: HashMap<ItemKey, bool>,
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
        }))
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
        let seen = self.look(store, key).await?;
        self.seen.insert(key.clone(), seen);
        Ok(seen)
    }

    async fn look(&self, store: &dyn Store, key: &ItemKey) -> Result<bool, AppError> {
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
            Err(crate::partner::not_found(format_args!(
                "serial {} of product {}",
                key.serial, key.product
            )))
        }
    }
}
