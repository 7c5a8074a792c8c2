//! The ledger: every business event and every master-data change, in one append-only sequence,
//! each entry chained to the one before by SHA-256 so that any later change to a stored entry,
//! any removal and any reordering is detected by `threadline verify`.
//!
//! The hash of entry `n` is `SHA-256(hash(n-1) ‖ n as 8 big-endian bytes ‖ body)`, where `body`
//! is the exact UTF-8 JSON text stored with the entry and the hash before entry 1 is 32 zero
//! bytes. Hashing the stored text (not a re-serialisation) keeps old entries verifiable when
//! the serialisation code changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::event::Event;
use crate::master::MasterRecord;

pub type Hash = [u8; 32];

/// The hash "before" the first entry.
pub const GENESIS: Hash = [0; 32];

/// A master-data change: a new product, party or location, or a new version of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MasterChange {
    pub id: Uuid,
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    /// 1 for the first definition, then +1 for every change.
    pub version: u32,
    pub record: MasterRecord,
}

/// One ledger entry, as its body is stored.
// Entries live only between parsing and serialising; boxing the event would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum LedgerEntry {
    Event(Event),
    Master(MasterChange),
}

impl LedgerEntry {
    pub fn id(&self) -> Uuid {
        match self {
            LedgerEntry::Event(e) => e.id,
            LedgerEntry::Master(m) => m.id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            LedgerEntry::Event(_) => "event",
            LedgerEntry::Master(_) => "master",
        }
    }

    pub fn recorded_at(&self) -> DateTime<Utc> {
        match self {
            LedgerEntry::Event(e) => e.record_time,
            LedgerEntry::Master(m) => m.recorded_at,
        }
    }

    /// The body text that is stored and hashed.
    pub fn body(&self) -> String {
        self.as_ref().body()
    }

    /// A borrowed view, for writing without cloning.
    pub fn as_ref(&self) -> EntryRef<'_> {
        match self {
            LedgerEntry::Event(e) => EntryRef::Event(e),
            LedgerEntry::Master(m) => EntryRef::Master(m),
        }
    }

    pub fn from_body(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

/// The event of an event entry's body, decoded straight into the event (its `entry` tag
/// ignored): [`LedgerEntry::from_body`] goes through serde's buffered path for tagged enums,
/// which copies every string of the body once more before decoding it. For bodies the caller
/// knows to be events (the event index names them).
pub fn event_from_body(body: &str) -> Result<Event, serde_json::Error> {
    serde_json::from_str(body)
}

/// A ledger entry by reference: serialises to exactly the same body as [`LedgerEntry`], so the
/// write path can hash and store an event without cloning it.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum EntryRef<'a> {
    Event(&'a Event),
    Master(&'a MasterChange),
}

impl EntryRef<'_> {
    pub fn id(&self) -> Uuid {
        match self {
            EntryRef::Event(e) => e.id,
            EntryRef::Master(m) => m.id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            EntryRef::Event(_) => "event",
            EntryRef::Master(_) => "master",
        }
    }

    pub fn recorded_at(&self) -> DateTime<Utc> {
        match self {
            EntryRef::Event(e) => e.record_time,
            EntryRef::Master(m) => m.recorded_at,
        }
    }

    /// The body text that is stored and hashed.
    pub fn body(&self) -> String {
        // Serialising these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The chained hash of one entry.
pub fn chain_hash(prev: &Hash, seq: i64, body: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(body);
    h.finalize().into()
}

/// What `verify` found wrong with an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// A sequence number is missing or repeated: an entry was removed or inserted.
    Gap { expected: i64, found: i64 },
    /// The stored hash does not match the body and the previous hash: the body or the hash
    /// was changed.
    Hash { seq: i64 },
    /// The body no longer parses as an entry.
    Body { seq: i64, reason: String },
    /// An index column disagrees with the body it was derived from.
    Index { seq: i64, column: &'static str },
    /// The recorded chain head does not match the last entry: entries were cut off the end.
    Head { expected_seq: i64, found_seq: i64 },
    /// The audit trail's own chain is broken (its records are numbered and chained
    /// separately; see [`crate::audit`]).
    Audit(Box<Break>),
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Gap { expected, found } => {
                write!(
                    f,
                    "entry {expected} is missing (next entry found is {found})"
                )
            }
            Break::Hash { seq } => {
                write!(f, "entry {seq}: content or link does not match its hash")
            }
            Break::Body { seq, reason } => {
                write!(f, "entry {seq}: body is not a valid entry: {reason}")
            }
            Break::Index { seq, column } => {
                write!(
                    f,
                    "entry {seq}: indexed column `{column}` does not match the entry body"
                )
            }
            Break::Head {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "the ledger head records entry {expected_seq} as the last, but the last entry is {found_seq}"
            ),
            Break::Audit(inner) => write!(f, "audit trail: {inner}"),
        }
    }
}

/// Walks a chain entry by entry. Feed entries in `seq` order.
#[derive(Debug)]
pub struct ChainVerifier {
    prev: Hash,
    next_seq: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            prev: GENESIS,
            next_seq: 1,
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, seq: i64, body: &[u8], stored: &[u8]) -> Result<(), Break> {
        if seq != self.next_seq {
            return Err(Break::Gap {
                expected: self.next_seq,
                found: seq,
            });
        }
        let h = chain_hash(&self.prev, seq, body);
        if h.as_slice() != stored {
            return Err(Break::Hash { seq });
        }
        self.prev = h;
        self.next_seq += 1;
        Ok(())
    }

    /// Entries checked so far.
    pub fn count(&self) -> i64 {
        self.next_seq - 1
    }

    pub fn last_hash(&self) -> Hash {
        self.prev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_owned_entries_serialise_identically() {
        let m = MasterChange {
            id: Uuid::nil(),
            recorded_at: DateTime::from_timestamp(0, 0).unwrap(),
            actor: "t".into(),
            version: 1,
            record: serde_json::from_value(serde_json::json!({"type": "party", "def": {"code": "P", "name": "p", "kind": "supplier"}}))
                .unwrap(),
        };
        let owned = LedgerEntry::Master(m.clone());
        assert_eq!(owned.body(), EntryRef::Master(&m).body());
        assert_eq!(LedgerEntry::from_body(&owned.body()).unwrap(), owned);
    }

    #[test]
    fn a_changed_body_or_link_breaks_the_chain() {
        let h1 = chain_hash(&GENESIS, 1, b"a");
        let h2 = chain_hash(&h1, 2, b"b");
        let mut v = ChainVerifier::default();
        assert!(v.check(1, b"a", &h1).is_ok());
        assert!(v.check(2, b"b", &h2).is_ok());

        let mut v = ChainVerifier::default();
        assert!(v.check(1, b"A", &h1).is_err());

        let mut v = ChainVerifier::default();
        assert!(v.check(1, b"a", &h1).is_ok());
        assert_eq!(
            v.check(3, b"b", &h2),
            Err(Break::Gap {
                expected: 2,
                found: 3
            })
        );
        // The same body at another position hashes differently.
        assert_ne!(chain_hash(&h1, 3, b"b"), h2);
    }
}
