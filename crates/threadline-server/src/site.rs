//! Site scoping of writes: an account bound to a site (a user's or token's `site`) records
//! events only where that site is — the event's business location and read point must be the
//! site or a place under it. Refused events are named (`events[i].biz_location`) with 403, and
//! nothing is written. Events that name no place are not judged here.

use std::collections::HashMap;

use threadline_domain::FieldError;
use threadline_domain::event::EventRequest;
use threadline_store::Store;

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
