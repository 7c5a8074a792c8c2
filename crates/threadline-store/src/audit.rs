//! The audit trail as stored: a chained sequence of [`AuditRecord`]s, separate from the ledger,
//! searched by actor, object and time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::audit::AuditRecord;
use threadline_domain::ledger::{Break, ChainVerifier};
use uuid::Uuid;

use crate::query::SqlValue;
use crate::{Page, Result, StoreError};

/// Filters for searching the audit trail. All given filters must match.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Exactly this actor (`li.na`, `token:erp`).
    pub actor: Option<String>,
    /// This object or anything under it: `products/TC-200` also finds
    /// `products/TC-200/history`; `users` finds every user.
    pub object: Option<String>,
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// Keyset paging: only records with a sequence above this.
    pub after_seq: Option<i64>,
    pub limit: u32,
}

/// The audit record of a write, completed by what the write answers (a capture's ledger
/// positions, a stored subscription): the engine builds it inside the write's transaction and
/// appends it before committing, so the change and its record are kept together or not at all.
pub type AuditOf<T> = Box<dyn FnOnce(&T) -> AuditRecord + Send>;

/// An audit record with its place in the audit chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub seq: i64,
    /// Hex SHA-256 chain hash.
    pub hash: String,
    #[serde(flatten)]
    pub record: AuditRecord,
}

/// The search for `q`: statement text and its arguments in order (`placeholder(n)` writes the
/// n-th placeholder, as for [`crate::query::events_sql`]). Selects `seq, body, hash` and one
/// row more than the page, so the caller knows whether there is a next page. An object
/// matches itself and every path below it, in a form an index on `object` answers (`'0'` is
/// the character after `/`).
pub fn search_sql(q: &AuditQuery, placeholder: fn(usize) -> String) -> (String, Vec<SqlValue>) {
    let mut args = Vec::new();
    let mut arg = |v: SqlValue| {
        args.push(v);
        placeholder(args.len())
    };
    let mut cond = Vec::new();
    if let Some(a) = &q.actor {
        cond.push(format!("actor = {}", arg(SqlValue::Text(a.clone()))));
    }
    if let Some(o) = &q.object {
        let o = o.trim_end_matches('/');
        let (exact, low, high) = (
            arg(SqlValue::Text(o.to_owned())),
            arg(SqlValue::Text(format!("{o}/"))),
            arg(SqlValue::Text(format!("{o}0"))),
        );
        cond.push(format!(
            "(object = {exact} OR (object >= {low} AND object < {high}))"
        ));
    }
    if let Some(t) = q.from {
        cond.push(format!(
            "recorded_at >= {}",
            arg(SqlValue::Int(t.timestamp_micros()))
        ));
    }
    if let Some(t) = q.to {
        cond.push(format!(
            "recorded_at < {}",
            arg(SqlValue::Int(t.timestamp_micros()))
        ));
    }
    if let Some(s) = q.after_seq {
        cond.push(format!("seq > {}", arg(SqlValue::Int(s))));
    }
    let limit = arg(SqlValue::Int(i64::from(q.limit.clamp(1, 1000)) + 1));
    let filter = if cond.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", cond.join(" AND "))
    };
    (
        format!("SELECT seq, body, hash FROM audit_log{filter} ORDER BY seq LIMIT {limit}"),
        args,
    )
}

/// A page of search results from `(seq, body, hash)` rows (one more than `limit` if there is a
/// next page).
pub fn page(rows: Vec<(i64, String, Vec<u8>)>, limit: u32) -> Result<Page<AuditEntry>> {
    let limit = limit.clamp(1, 1000) as usize;
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(|(seq, body, hash)| {
            Ok(AuditEntry {
                seq,
                hash: hex::encode(hash),
                record: AuditRecord::from_body(&body)
                    .map_err(|e| StoreError::Schema(format!("audit record {seq}: {e}")))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let next = more
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Page { items, next })
}

/// The columns of one stored audit record, as [`AuditVerifier::check`] reads them.
#[derive(Debug, Clone, Copy)]
pub struct AuditRow<'a> {
    pub seq: i64,
    pub body: &'a str,
    pub hash: &'a [u8],
    pub record_id: Uuid,
    pub recorded_at: i64,
    pub actor: Option<&'a str>,
    pub object: &'a str,
}

/// Walks the audit chain record by record (in `seq` order), checking each hash and that the
/// searchable columns match the body. Breaks are [`Break::Audit`].
#[derive(Debug, Default)]
pub struct AuditVerifier {
    chain: ChainVerifier,
}

impl AuditVerifier {
    pub fn check(&mut self, row: AuditRow<'_>) -> Result<(), Break> {
        let wrap = |b: Break| Break::Audit(Box::new(b));
        self.chain
            .check(row.seq, row.body.as_bytes(), row.hash)
            .map_err(wrap)?;
        let r = AuditRecord::from_body(row.body).map_err(|e| {
            wrap(Break::Body {
                seq: row.seq,
                reason: e.to_string(),
            })
        })?;
        let column = if r.id != row.record_id {
            Some("record_id")
        } else if r.recorded_at.timestamp_micros() != row.recorded_at {
            Some("recorded_at")
        } else if r.actor.as_deref() != row.actor {
            Some("actor")
        } else if r.object != row.object {
            Some("object")
        } else {
            None
        };
        match column {
            Some(column) => Err(wrap(Break::Index {
                seq: row.seq,
                column,
            })),
            None => Ok(()),
        }
    }

    /// Checks the recorded head against the last record walked.
    pub fn finish(&self, head_seq: i64, head_hash: &[u8]) -> Result<(), Break> {
        let n = self.chain.count();
        if head_seq != n || (head_seq > 0 && head_hash != self.chain.last_hash()) {
            return Err(Break::Audit(Box::new(Break::Head {
                expected_seq: head_seq,
                found_seq: n,
            })));
        }
        Ok(())
    }

    pub fn count(&self) -> i64 {
        self.chain.count()
    }
}
