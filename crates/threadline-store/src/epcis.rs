//! What both engines keep about an event's EPCIS identity: its CBV 2.0 hash ID, stamped at
//! capture on events that arrive without one, and the key that refuses an EPCIS event captured
//! twice.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use threadline_domain::codes::ProductCode;
use threadline_domain::event::Event;
use threadline_domain::master::Product;
use threadline_epcis::{Catalogue, Context, json};

pub use threadline_epcis::masterdata::VocabularyElement;

/// The master data of an EPCIS document's header, written with its events
/// ([`crate::Store::capture_epcis`]): its vocabulary elements in document order, and when it was
/// captured.
#[derive(Debug, Clone, Default)]
pub struct MasterData {
    pub elements: Vec<VocabularyElement>,
    pub recorded_at: DateTime<Utc>,
    /// Master records the capture makes for its own events — the default container product of
    /// the SSCCs it names (`threadline_epcis::ids::SSCC_PRODUCT`) —, each with its audit record:
    /// created before the events are checked, unless a record of that code exists by then (it
    /// is left as it is, and the audit record dropped).
    pub creates: Vec<(
        crate::MasterWrite,
        Option<threadline_domain::audit::AuditRecord>,
    )>,
}

/// The `event_objects` rows of an object recorded as given: its canonical form (the
/// constrained Digital Link of a GS1 key, any other URI as written), and the form the event
/// wrote when that differs.
pub fn object_uris(id: &str) -> Vec<String> {
    let key = threadline_epcis::masterdata::key(id);
    if key == id {
        vec![key]
    } else {
        vec![key, id.to_owned()]
    }
}

/// The `event_objects` rows of an event: each object and each quantity's class it recorded
/// as given ([`object_uris`]), with its role's code. A class of a GTIN no product held when
/// the event came is found by it once a product takes that GTIN on.
pub fn event_objects(ev: &Event) -> impl Iterator<Item = (String, i16)> + '_ {
    ev.untracked
        .iter()
        .map(|u| (u.id.as_str(), u.role))
        .chain(
            ev.class_quantities
                .iter()
                .map(|q| (q.class.as_str(), q.role)),
        )
        .flat_map(|(id, role)| {
            object_uris(id)
                .into_iter()
                .map(move |uri| (uri, role.code()))
        })
}

/// A vocabulary element as stored: as the last header that stated it wrote it, and when that
/// header was captured.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVocabulary {
    pub element: VocabularyElement,
    pub recorded_at: DateTime<Utc>,
}

/// What hashing an event's EPCIS form needs, built once per batch: the products the events
/// name (units by GTIN where their product has one) and the JSON-LD prefixes every document
/// has.
pub struct HashContext {
    catalogue: Catalogue,
    plain: Context,
}

impl HashContext {
    /// `products` holds at least the products the events name.
    pub fn new(products: &HashMap<ProductCode, Product>) -> HashContext {
        let mut catalogue = Catalogue::default();
        for p in products.values() {
            catalogue.insert(p);
        }
        HashContext {
            catalogue,
            plain: json::context_of(std::iter::empty()),
        }
    }

    /// Gives an event without a hash ID the hash of its EPCIS form, as a partner would read it.
    pub fn stamp(&self, ev: &mut Event) {
        if ev.hash_id.is_some() {
            return;
        }
        let form = json::event_json(ev, &self.catalogue);
        // An event without JSON-LD prefixes of its own (all of Threadline's) hashes with the
        // prefixes every document has.
        let own;
        let ctx = if ev.epcis.contains_key("@context") {
            own = json::context_of(std::iter::once(&*ev));
            &own
        } else {
            &self.plain
        };
        ev.hash_id = Some(threadline_epcis::hash_id(&form, ctx));
    }
}

/// The unique key of an event captured through the EPCIS binding: its hash ID, marked when
/// the event is an error declaration (which hashes like the event it declares). `None` for
/// Threadline's own events, which are never refused for their hash.
pub fn dedup_key(ev: &Event) -> Option<String> {
    let hash = ev.hash_id.as_deref().filter(|_| ev.epcis_capture)?;
    Some(match ev.error_declaration {
        Some(_) => format!("{hash} declared"),
        None => hash.to_owned(),
    })
}

/// The batch's dedup keys, or the refusal of an event that repeats an earlier one of the batch.
pub fn batch_keys(events: &[Event]) -> Result<Vec<(String, &Event)>, crate::StoreError> {
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::new();
    for ev in events {
        if let Some(k) = dedup_key(ev) {
            if !seen.insert(k.clone()) {
                return Err(duplicate(ev));
            }
            keys.push((k, ev));
        }
    }
    Ok(keys)
}

/// The refusal of an event captured before.
pub fn duplicate(ev: &Event) -> crate::StoreError {
    crate::StoreError::Conflict(
        threadline_domain::error::FieldError::new(
            "duplicate_event",
            format!(
                "an identical event ({}) was captured before",
                ev.epcis_id
                    .clone()
                    .or_else(|| ev.hash_id.clone())
                    .unwrap_or_else(|| ev.id.to_string())
            ),
        )
        .at("eventID"),
    )
}
