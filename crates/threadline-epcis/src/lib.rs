//! EPCIS 2.0 for Threadline: the standard's documents to and from ledger events, and the CBV 2.0
//! event hash ID.
//!
//! Why this crate exists: partners' EPCIS clients must be able to send Threadline events and
//! read them back, and Threadline's own history must read as correct EPCIS events. There is one
//! event store: an EPCIS event becomes the same [`EventRequest`](threadline_domain::event::EventRequest)
//! Threadline's own API makes, checked by the same rules, and any ledger event can be written as
//! EPCIS. Pure: no I/O — the caller loads the products a document names into a
//! [`Catalogue`] (by GTIN) before mapping.
//!
//! Module map:
//! - [`format`](mod@format) — `GS1-EPC-Format`: identifiers in answers as Digital Links or EPC URNs;
//! - [`ids`] — EPC URNs, Digital Links and Threadline URNs ↔ units, lots, places, parties;
//! - [`vocab`] — CBV words, Web URIs and URNs;
//! - [`hash`] — the event hash ID;
//! - [`json`] — JSON-LD documents ↔ events;
//! - [`masterdata`] — the vocabulary elements of a document's header;
//! - [`xml`] — the XML binding, read into and written from the JSON shape;
//! - [`query`] — the Simple Event Query, judged against an event's EPCIS form;
//! - [`schedule`] — when a scheduled query subscription runs.

pub mod format;
pub mod hash;
pub mod ids;
pub mod json;
pub mod masterdata;
pub mod query;
pub mod schedule;
pub mod vocab;
pub mod xml;

pub use hash::{Context, hash_id, prehash};
pub use ids::{Catalogue, Pattern, ProductInfo};
pub use json::{
    Document, DocumentKind, Inbound, event_json, parse_document, query_document, to_request,
};
