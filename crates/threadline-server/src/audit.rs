//! The audit trail of the HTTP surface: every unsafe request an identified actor makes — the
//! changes and the refusals for lack of permission — and every sign-in, failed sign-in and
//! lockout becomes one chained [`AuditRecord`] (who, when by the server's clock, from which
//! address, what, to what, and the value before).
//!
//! [`crate::auth::guard`] writes the record after the handler answered, so no handler can
//! forget it; a handler that knows more (the value before, what it created, a reason) says so
//! with an [`AuditNote`] in its response's extensions. A handler whose change is a store write
//! hands the store the record to commit with it ([`Pending`]) and says so
//! ([`AuditNote::recorded`]): the guard then writes none. `GET /api/v1/audit` searches the trail
//! (auditors: `read_audit`) and exports it as CSV or XLSX.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{Extensions, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use threadline_domain::audit::{AuditRecord, Signature};
use threadline_store::{AuditEntry, AuditOf, AuditQuery};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::export::{Cell, Format};

/// What a handler adds to the record of its request. Put it into the response with
/// [`AuditNote::on`].
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    /// What was changed, as a path (`products/TC-200`); the request's path when absent.
    pub object: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub signature: Option<Signature>,
    /// The handler wrote the record itself, in its change's transaction ([`Pending`]): the
    /// guard writes none.
    pub recorded: bool,
}

impl AuditNote {
    pub fn object(object: impl Into<String>) -> AuditNote {
        AuditNote {
            object: Some(object.into()),
            ..AuditNote::default()
        }
    }

    #[must_use]
    pub fn before(mut self, v: impl serde::Serialize) -> AuditNote {
        self.before = serde_json::to_value(v).ok();
        self
    }

    #[must_use]
    pub fn after(mut self, v: impl serde::Serialize) -> AuditNote {
        self.after = serde_json::to_value(v).ok();
        self
    }

    #[must_use]
    pub fn signed(mut self, s: Option<Signature>) -> AuditNote {
        self.signature = s;
        self
    }

    #[must_use]
    pub fn reason(mut self, r: Option<String>) -> AuditNote {
        self.reason = r;
        self
    }

    /// Marks the note as recorded by the handler, with its change.
    #[must_use]
    pub fn recorded(mut self) -> AuditNote {
        self.recorded = true;
        self
    }

    /// Attaches the note to `resp`, for the guard to record.
    pub fn on(self, mut resp: Response) -> Response {
        resp.extensions_mut().insert(self);
        resp
    }
}

/// The client's address as the socket saw it (`None` in-process, as in tests). A proxy in
/// front of Threadline is recorded as the proxy; forwarded headers are not trusted.
pub fn client_address(ext: &Extensions) -> Option<String> {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
}

/// The client's address, as an extractor (for handlers that record by themselves).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(&parts.extensions)))
    }
}

/// A name a stranger typed, made safe to store and show: no control characters, at most 100
/// characters.
fn tried_name(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

/// Where a record comes from: the request's actor (if any), address and action.
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: Option<String>,
    pub address: Option<String>,
}

impl Origin {
    pub fn of(actor: Option<&Actor>, ext: &Extensions) -> Origin {
        Origin {
            actor: actor.map(Actor::name),
            address: client_address(ext),
        }
    }
}

/// The record a request would leave, as the guard sees it before the handler runs (who, from
/// where, the route, the object). A handler whose change is a store write that takes its audit
/// record (`Store::change_access`) builds the record from it with [`Pending::record`], so the
/// change and its record commit together, and answers with [`AuditNote::recorded`].
#[derive(Debug, Clone)]
pub struct Pending {
    pub origin: Origin,
    pub action: String,
    pub object: String,
    /// A page's form: its success is answered with a redirect (303), which is what the record
    /// says, whatever the API handler it went through answered.
    pub page: bool,
}

impl Pending {
    /// The same request, for a page's form that answers with a page of its own (a secret
    /// shown once, 201) rather than a redirect: its record says what the page answered.
    #[must_use]
    pub fn answered_in_place(self) -> Pending {
        Pending {
            page: false,
            ..self
        }
    }

    /// The record of this request answered with `status`, completed by `note`.
    pub fn record(&self, app: &AppState, status: StatusCode, note: &AuditNote) -> AuditRecord {
        self.record_at(app.clock.now(), status, note)
    }

    /// The record of this request answered with `status`, completed by the note `note` makes
    /// of what the store write answers — for a write that appends it in its own transaction
    /// (`Store::capture_audited`, `Store::put_webhook`, …: a capture's ledger positions are
    /// known only there). The handler answers with [`AuditNote::recorded`].
    pub fn record_of<T: 'static>(
        &self,
        app: &AppState,
        status: StatusCode,
        note: impl FnOnce(&T) -> AuditNote + Send + 'static,
    ) -> AuditOf<T> {
        let pending = self.clone();
        let now = app.clock.now();
        Box::new(move |answer: &T| pending.record_at(now, status, &note(answer)))
    }

    fn record_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        status: StatusCode,
        note: &AuditNote,
    ) -> AuditRecord {
        AuditRecord {
            id: Uuid::now_v7(),
            recorded_at: now,
            actor: self.origin.actor.as_deref().map(tried_name),
            address: self.origin.address.clone(),
            action: self.action.clone(),
            object: tried_name(note.object.as_deref().unwrap_or(&self.object)),
            status: Some(if self.page && status.is_success() {
                StatusCode::SEE_OTHER.as_u16()
            } else {
                status.as_u16()
            }),
            before: note.before.clone(),
            after: note.after.clone(),
            reason: note.reason.clone(),
            signature: note.signature.clone(),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Pending {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Pending>().cloned().ok_or_else(|| {
            AppError::Internal("no pending audit record: route without a guard".into())
        })
    }
}

/// Appends one record. A failure to record is logged loudly but does not undo the change it
/// describes (that is already committed; the ledger still attributes events and master data).
pub async fn record(
    app: &AppState,
    origin: &Origin,
    action: String,
    object: String,
    status: Option<StatusCode>,
    note: AuditNote,
) {
    let r = AuditRecord {
        id: Uuid::now_v7(),
        recorded_at: app.clock.now(),
        actor: origin.actor.as_deref().map(tried_name),
        address: origin.address.clone(),
        action,
        object: tried_name(&note.object.unwrap_or(object)),
        status: status.map(|s| s.as_u16()),
        before: note.before,
        after: note.after,
        reason: note.reason,
        signature: note.signature,
    };
    if let Err(e) = app.store.append_audit(r.clone()).await {
        tracing::error!(error = %e, action = %r.action, object = %r.object, actor = ?r.actor, "could not append to the audit trail");
    }
}

/// Records a sign-in event (`sign_in`, `sign_in_failed`, `account_locked`) for user `name`,
/// with why it failed.
pub async fn sign_in_event(
    app: &AppState,
    name: &str,
    address: Option<&str>,
    action: &str,
    why: Option<String>,
) {
    let origin = Origin {
        actor: Some(name.to_owned()),
        address: address.map(str::to_owned),
    };
    record(
        app,
        &origin,
        action.to_owned(),
        format!("users/{}", tried_name(name)),
        None,
        AuditNote::default().reason(why),
    )
    .await;
}

/// Is this request one the trail records? Unsafe methods whose answer was a success or a
/// refusal for lack of permission — and a page's form answered with a redirect (post, then
/// get) whose handler noted a change (`noted`): the API handler it went through did the work.
pub fn recorded(method: &Method, status: StatusCode, noted: bool) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && (status.is_success()
            || status == StatusCode::FORBIDDEN
            || (status.is_redirection() && noted))
}

/// The object a request changes when its handler says nothing: its path under `/api/v1`.
pub fn object_of_path(path: &str) -> String {
    path.strip_prefix("/api/v1/")
        .unwrap_or(path.trim_start_matches('/'))
        .to_owned()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    actor: Option<String>,
    object: Option<String>,
    from: Option<chrono::DateTime<chrono::FixedOffset>>,
    to: Option<chrono::DateTime<chrono::FixedOffset>>,
    after: Option<i64>,
    limit: Option<u32>,
    format: Option<String>,
}

const COLUMNS: &[&str] = &[
    "seq",
    "recorded_at",
    "actor",
    "address",
    "action",
    "object",
    "status",
    "reason",
    "signer",
    "meaning",
    "before",
    "after",
    "hash",
];

fn cells(e: &AuditEntry) -> Vec<Cell> {
    let r = &e.record;
    let text = |s: Option<&str>| Cell::Text(s.unwrap_or("").to_owned());
    let json = |v: &Option<serde_json::Value>| {
        Cell::Text(v.as_ref().map(|v| v.to_string()).unwrap_or_default())
    };
    #[allow(clippy::cast_precision_loss)] // sequence numbers stay far below 2^53
    let seq = e.seq as f64;
    vec![
        Cell::Number(seq),
        Cell::Time(r.recorded_at),
        text(r.actor.as_deref()),
        text(r.address.as_deref()),
        Cell::Text(r.action.clone()),
        Cell::Text(r.object.clone()),
        r.status
            .map(|s| Cell::Number(f64::from(s)))
            .unwrap_or(Cell::Text(String::new())),
        text(r.reason.as_deref()),
        text(r.signature.as_ref().map(|s| s.signer.as_str())),
        text(r.signature.as_ref().map(|s| s.meaning.as_str())),
        json(&r.before),
        json(&r.after),
        Cell::Text(e.hash.clone()),
    ]
}

/// `GET /api/v1/audit?actor=&object=&from=&to=&after=&limit=&format=json|csv|xlsx` (needs
/// `read_audit`): the trail, oldest first. `object` finds the object and everything under it
/// (`users/li.na`, `products`). JSON is paged (`after` = the `next` of the previous page);
/// CSV and XLSX stream every match.
pub async fn search(
    State(app): State<AppState>,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let format = Format::parse(p.format.as_deref())?;
    let limit = match p.limit {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n,
        Some(n) => {
            return Err(AppError::malformed(
                "invalid_limit",
                format!("limit must be between 1 and 1000, got {n}"),
                Some("limit".into()),
            ));
        }
    };
    let q = AuditQuery {
        actor: p.actor,
        object: p.object,
        from: p.from.map(|t| t.to_utc()),
        to: p.to.map(|t| t.to_utc()),
        after_seq: p.after,
        limit,
    };
    if format == Format::Json {
        let page = app.store.audit(&q).await?;
        return Ok(Json(json!({ "records": page.items, "next": page.next })).into_response());
    }
    let store = app.store.clone();
    Ok(crate::export::spreadsheet(
        format,
        "audit",
        COLUMNS,
        move |tx| async move {
            let mut q = AuditQuery { limit: 1000, ..q };
            loop {
                let page = store.audit(&q).await?;
                let rows = page.items.iter().map(cells).collect();
                if tx.send(rows).await.is_err() {
                    return Ok(());
                }
                match page.items.last() {
                    Some(last) if page.next.is_some() => q.after_seq = Some(last.seq),
                    _ => return Ok(()),
                }
            }
        },
    ))
}
