//! What the search page looks up besides the scan parser: lots by code, orders (business
//! transactions) by number, parties (customers, distributors, suppliers) by code or name, and
//! the units an order names or a party holds. The statements are the same on both engines.

use serde::Serialize;
use threadline_domain::mask::{MASKED, Mask, Visibility};

/// A lot whose code starts with the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotHit {
    pub product: String,
    pub lot: String,
    pub held: bool,
}

/// An order whose number is the text: its type (`po`, `prodorder`, `so`, `rma`, `ro`…), the
/// events that name it, the units those events name, and its first and last event times (µs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderHit {
    pub kind: String,
    pub id: String,
    pub events: i64,
    pub units: i64,
    pub first_us: i64,
    pub last_us: i64,
}

/// A party whose code or name contains the text, and how many units it holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyHit {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub units_held: i64,
}

/// A customer's name is personal data.
impl Mask for PartyHit {
    fn mask(&mut self, v: Visibility) {
        if self.kind == "customer" && !v.personal {
            MASKED.clone_into(&mut self.name);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SearchHits {
    pub lots: Vec<LotHit>,
    pub orders: Vec<OrderHit>,
    pub parties: Vec<PartyHit>,
}

impl Mask for SearchHits {
    fn mask(&mut self, v: Visibility) {
        self.parties.mask(v);
    }
}

/// A unit in a list of hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitHit {
    pub product: String,
    pub serial: String,
    pub status: String,
}

/// Whose units to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitsOf {
    /// Named by the events of an order: its type and number.
    Order { kind: String, id: String },
    /// Held now by a party.
    Custodian(String),
}

/// Lots whose code starts with `$1`, at most `$2`: product, lot, holds.
pub const LOTS: &str = "SELECT p.code, l.code, l.holds FROM lots l JOIN products p ON p.id = l.product_id \
     WHERE substr(l.code, 1, length(CAST($1 AS TEXT))) = CAST($1 AS TEXT) ORDER BY l.code, p.code LIMIT $2";

/// Orders numbered `$1`, at most `$2`.
pub const ORDERS: &str = "SELECT t.type, t.tx_id, COUNT(DISTINCT t.seq), \
       (SELECT COUNT(DISTINCT ei.item_id) FROM event_transactions u JOIN event_items ei ON ei.seq = u.seq \
         WHERE u.type = t.type AND u.tx_id = t.tx_id), \
       MIN(e.event_time), MAX(e.event_time) \
     FROM event_transactions t JOIN events e ON e.seq = t.seq \
     WHERE t.tx_id = $1 GROUP BY t.type, t.tx_id ORDER BY t.type LIMIT $2";

/// Parties whose lower-cased code or name is LIKE `$1` (escaped with `\`), at most `$2`.
pub const PARTIES: &str = "SELECT p.code, p.name, p.kind, \
       (SELECT COUNT(*) FROM items i WHERE i.custodian = p.code) \
     FROM parties p \
     WHERE lower(p.code) LIKE $1 ESCAPE '\\' OR lower(p.name) LIKE $1 ESCAPE '\\' \
     ORDER BY p.kind, p.code LIMIT $2";

/// Units named by the events of order (`$1` type, `$2` number), at most `$3`.
pub const ORDER_UNITS: &str = "SELECT DISTINCT p.code, i.serial, i.status \
     FROM event_transactions t JOIN event_items ei ON ei.seq = t.seq \
       JOIN items i ON i.id = ei.item_id JOIN products p ON p.id = i.product_id \
     WHERE t.type = $1 AND t.tx_id = $2 ORDER BY 1, 2 LIMIT $3";

/// Units held by party `$1`, at most `$2`.
pub const HELD_UNITS: &str = "SELECT p.code, i.serial, i.status FROM items i JOIN products p ON p.id = i.product_id \
     WHERE i.custodian = $1 ORDER BY 1, 2 LIMIT $2";

/// The LIKE pattern that finds `text` anywhere, case-insensitively (`%`, `_` and `\` in the
/// text match themselves).
pub fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_their_wildcards() {
        assert_eq!(contains_pattern("Acme"), "%acme%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
