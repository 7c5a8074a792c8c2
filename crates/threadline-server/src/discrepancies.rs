//! Partner reports that differed from Threadline: the discrepancies of EPCIS events recorded
//! although the state or the process disagreed (`projection::tolerated`,
//! `projection::past_process`), newest first — `GET /api/v1/discrepancies` and the dashboard's
//! "partner reports", where a report past a hold (`on_hold`, `qc_hold`) is shown first: holds
//! are there to stop a shipment, and the webhook `past_hold` alone reaches only those who
//! subscribed.
//!
//! Each discrepancy is answered with the unit it names (the entry of the event's EPC list its
//! field points at, or the event's only unit), which the dashboard links to its passport. An
//! account of one site reads those of events that happened at its site or of units its site
//! saw ([`crate::site::SiteScope`]); a partner's account reads none (the route is not one of
//! [`crate::partner::PARTNER_ROUTES`], and its dashboard shows only its channel), as its
//! passport shows no discrepancy: their messages may name other units.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use threadline_domain::codes::ItemKey;
use threadline_domain::event::Event;
use threadline_domain::projection::{self, DiscrepancyKind};
use threadline_store::{DiscrepancyPosition, DiscrepancyQuery, DiscrepancyRow, Store};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::site::SiteScope;

/// `GET /api/v1/discrepancies` query. Every value is read as text and checked here, so a
/// wrong one is refused naming its field.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// `state` (Threadline's state disagreed) or `process` (the process definition in force
    /// at capture refused the step).
    #[serde(default)]
    pub kind: Option<String>,
    /// Only these codes, comma-separated (`on_hold,qc_hold`: reports past a hold).
    #[serde(default)]
    pub code: Option<String>,
    /// Only reports recorded at or after this time (RFC 3339); default: all.
    #[serde(default)]
    pub since: Option<String>,
    /// `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<String>,
}

/// One discrepancy of a partner's report, with the unit it names.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    #[serde(flatten)]
    pub row: DiscrepancyRow,
    /// The unit the discrepancy names; absent when it names none (a place, a lot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<ItemKey>,
}

/// A page of reports, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reports {
    pub discrepancies: Vec<Report>,
    /// Pass back as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn bad(field: &str, message: String) -> AppError {
    AppError::malformed("invalid_value", message, Some(field.into()))
}

/// The query `p` asks for, checked field by field.
pub fn query_of(p: &ListParams) -> Result<DiscrepancyQuery, AppError> {
    let kind = match p.kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("state") => Some(DiscrepancyKind::State),
        Some("process") => Some(DiscrepancyKind::Process),
        Some(k) => {
            return Err(bad(
                "kind",
                format!("kind `{k}` is not `state` or `process`"),
            ));
        }
    };
    let mut codes = Vec::new();
    for c in p
        .code
        .iter()
        .flat_map(|c| c.split(','))
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        if !projection::TOLERATED.contains(&c) && !projection::PAST_PROCESS.contains(&c) {
            return Err(bad(
                "code",
                format!(
                    "`{c}` is no discrepancy's code (one of {}, {})",
                    projection::TOLERATED.join(", "),
                    projection::PAST_PROCESS.join(", ")
                ),
            ));
        }
        codes.push(c.to_owned());
    }
    let since = match p.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DateTime::<FixedOffset>::parse_from_rfc3339(s)
                .map_err(|_| {
                    bad(
                        "since",
                        format!("`{s}` is not an RFC 3339 time (2026-05-01T00:00:00+08:00)"),
                    )
                })?
                .with_timezone(&Utc),
        ),
    };
    let before = match p.after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(a) => Some(DiscrepancyPosition::parse(a).ok_or_else(|| {
            bad(
                "after",
                format!("`{a}` is not a list position (pass back `next`)"),
            )
        })?),
    };
    let limit = match p.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 100,
        Some(l) => match l.parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(AppError::malformed(
                    "invalid_limit",
                    format!("limit must be between 1 and 1000, got `{l}`"),
                    Some("limit".into()),
                ));
            }
        },
    };
    Ok(DiscrepancyQuery {
        kind,
        codes,
        since,
        before,
        limit,
    })
}

/// `GET /api/v1/discrepancies?kind=&code=&since=&after=&limit=`.
pub async fn list(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let q = query_of(&p)?;
    let mut site = SiteScope::of(&*app.store, &actor).await?;
    let reports = reports(&*app.store, site.as_mut(), &q).await?;
    Ok(Json(json!(reports)).into_response())
}

/// The page `q` selects as `site` (if any) may read it, each with its unit. For an account
/// of one site, pages of the store are read until `q.limit` reports it sees are found.
pub async fn reports(
    store: &dyn Store,
    mut site: Option<&mut SiteScope>,
    q: &DiscrepancyQuery,
) -> Result<Reports, AppError> {
    let mut events = Events::default();
    let mut out = Vec::new();
    let mut page_q = q.clone();
    if site.is_some() {
        page_q.limit = 1000;
    }
    loop {
        let page = store.discrepancy_list(&page_q).await?;
        for row in page.items {
            page_q.before = Some(row.position());
            let event = events.get(store, row.event_id).await?;
            let unit = event.and_then(|e| unit_of(e, &row.discrepancy.field));
            if let Some(site) = site.as_deref_mut() {
                let here = event.is_some_and(|e| site.happened_here(e));
                let seen = match (&unit, here) {
                    (_, true) => true,
                    (Some(k), false) => site.sees(store, k).await?,
                    (None, false) => false,
                };
                if !seen {
                    continue;
                }
            }
            out.push(Report { row, unit });
            if out.len() >= q.limit as usize {
                // More may follow; the next page starts after the last one answered.
                let next = out.last().map(|r| r.row.position().to_string());
                return Ok(Reports {
                    discrepancies: out,
                    next,
                });
            }
        }
        if page.next.is_none() {
            return Ok(Reports {
                discrepancies: out,
                next: None,
            });
        }
    }
}

/// How many discrepancies `q` selects that `site` (if any) may read. An account bound to no
/// site is answered by one count; an account of one site by reading them, at most `cap`
/// (`None` when there are more).
pub async fn count(
    store: &dyn Store,
    site: Option<&mut SiteScope>,
    q: &DiscrepancyQuery,
    cap: u32,
) -> Result<Option<i64>, AppError> {
    let Some(site) = site else {
        return Ok(Some(store.discrepancy_count(q).await?));
    };
    let q = DiscrepancyQuery {
        before: None,
        limit: cap,
        ..q.clone()
    };
    let seen = reports(store, Some(site), &q).await?;
    Ok(seen
        .next
        .is_none()
        .then_some(seen.discrepancies.len() as i64))
}

/// The events of a page, each read once.
#[derive(Default)]
struct Events(HashMap<Uuid, Option<Event>>);

impl Events {
    async fn get(&mut self, store: &dyn Store, id: Uuid) -> Result<Option<&Event>, AppError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.0.entry(id) {
            slot.insert(store.event(id).await?.map(|s| s.event));
        }
        Ok(self.0.get(&id).and_then(Option::as_ref))
    }
}

/// The unit a discrepancy's field (in the EPCIS event's terms: `epcList[2]`, `childEPCs[0]`,
/// `parentID`) names in `event`; for a field that names no list entry (`tlf:operator`,
/// `bizLocation.id`), the event's unit when it names only one.
pub fn unit_of(event: &Event, field: &str) -> Option<ItemKey> {
    let cut = field.find(['[', '.']).unwrap_or(field.len());
    let (name, rest) = field.split_at(cut);
    let index = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok());
    let list = match name {
        "epcList" => Some(&event.items),
        "childEPCs" => Some(&event.children),
        "inputEPCList" => Some(&event.inputs),
        "outputEPCList" => Some(&event.outputs),
        "parentID" => return event.parent.clone(),
        _ => None,
    };
    if let (Some(list), Some(i)) = (list, index) {
        return list.get(i).cloned();
    }
    let mut all = event
        .items
        .iter()
        .chain(&event.children)
        .chain(&event.inputs)
        .chain(&event.outputs)
        .chain(event.parent.as_ref());
    match (all.next(), all.next()) {
        (Some(only), None) => Some(only.clone()),
        _ => None,
    }
}
