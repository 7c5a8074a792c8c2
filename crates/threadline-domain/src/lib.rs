//! Threadline's domain: the types and rules of serial and lot traceability, with no I/O.
//!
//! Values from outside are parsed into the types of this crate once, at the edge
//! ([`event::Event::from_request`], [`codes::Serial::parse`], …); everything inside trusts them.
//! The projection ([`projection::Slice::apply`]) is a pure function from the current state and
//! an event to the next state, shared by every storage engine and by `rebuild`.

pub mod access;
pub mod audit;
pub mod codes;
pub mod error;
pub mod event;
pub mod gs1;
pub mod ledger;
pub mod mask;
pub mod master;
pub mod process;
pub mod projection;
pub mod quantity;

pub use codes::{ItemKey, LocationCode, LotCode, LotKey, PartyCode, ProductCode, Serial};
pub use error::{FieldError, Violations};
pub use event::{Event, EventRequest};
pub use quantity::Quantity;
