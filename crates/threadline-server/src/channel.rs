//! Channel control (窜货): a distributor sells only into the regions it is authorised for.
//!
//! A sale (`ops/sell`) names the region it was made in and the seller — or, if none is named,
//! the distributor holding the unit is recorded as the seller. When the seller has authorised
//! regions and the sale's region is not among them, the sale is still recorded (it happened), but its event carries a
//! `diversion` field saying so: the webhook topic `diversion` fires on it, and the dashboard
//! and `GET /api/v1/channel/diversions` list the sales made outside authorised regions. A
//! sub-distributor without regions of its own sells under its parent's; a region inside an
//! authorised one (`CN-GD-SZ` in `CN-GD`) is authorised.
//!
//! An account bound to a site reads the diversions of the units its site sees
//! ([`crate::site::SiteScope`]): each sale's units are counted only when the site sees them.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::json;
use threadline_domain::codes::ItemKey;
use threadline_domain::master::PartyKind;
use threadline_store::dashboard::{Channel, Period, Sale, Window};
use threadline_store::{EventQuery, Store};

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::site::SiteScope;

/// A distributor's authorised regions: its own, or its parent's when it has none. Empty: it
/// may sell anywhere (or the party is not a distributor).
pub async fn authorised_regions(store: &dyn Store, code: &str) -> Result<Vec<String>, AppError> {
    let mut at = code.to_owned();
    // A parent chain is short; the bound only guards against a cycle in the data.
    for _ in 0..8 {
        let Some(p) = store.party(&at).await? else {
            return Ok(Vec::new());
        };
        if p.def.kind != PartyKind::Distributor {
            return Ok(Vec::new());
        }
        if !p.def.regions.is_empty() {
            return Ok(p.def.regions.clone());
        }
        match &p.def.parent {
            Some(parent) => at = parent.to_string(),
            None => return Ok(Vec::new()),
        }
    }
    Ok(Vec::new())
}

/// `region` is one of `authorised` or inside one (`CN-GD-SZ` is inside `CN-GD`).
pub fn within(region: &str, authorised: &[String]) -> bool {
    authorised.iter().any(|a| {
        region == a
            || region
                .strip_prefix(a.as_str())
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// What a sale outside the seller's authorised regions records (the event field `diversion`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SaleDiversion {
    /// The distributor whose regions the sale left.
    pub seller: String,
    pub region: String,
    pub authorised: Vec<String>,
}

/// Who sold: the seller named, or else the distributor holding the first unit.
pub async fn seller_of(
    store: &dyn Store,
    named: Option<&str>,
    items: &[ItemKey],
) -> Result<Option<String>, AppError> {
    if let Some(s) = named {
        return Ok(Some(s.to_owned()));
    }
    let Some(first) = items.first() else {
        return Ok(None);
    };
    let Some(holder) = store.item(first).await?.and_then(|u| u.custodian) else {
        return Ok(None);
    };
    let distributor = store
        .party(&holder)
        .await?
        .is_some_and(|p| p.def.kind == PartyKind::Distributor);
    Ok(distributor.then_some(holder))
}

/// Judges a sale by `seller` in `region`: `None` when it is inside the seller's regions, or
/// when there is no region, no seller or no regions to judge by.
pub async fn judge_sale(
    store: &dyn Store,
    seller: Option<&str>,
    region: Option<&str>,
) -> Result<Option<SaleDiversion>, AppError> {
    let (Some(seller), Some(region)) = (seller, region.map(str::trim).filter(|r| !r.is_empty()))
    else {
        return Ok(None);
    };
    let authorised = authorised_regions(store, seller).await?;
    if authorised.is_empty() || within(region, &authorised) {
        return Ok(None);
    }
    Ok(Some(SaleDiversion {
        seller: seller.to_owned(),
        region: region.to_owned(),
        authorised,
    }))
}

/// Units a seller sold into a region it is not authorised for, in a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DiversionRow {
    pub seller: String,
    pub region: String,
    pub units: i64,
    pub authorised: Vec<String>,
}

/// The sales of a channel view made outside their seller's authorised regions, most units
/// first.
pub async fn diversions(store: &dyn Store, c: &Channel) -> Result<Vec<DiversionRow>, AppError> {
    let mut regions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for s in &c.sales {
        let (Some(seller), Some(region)) = (&s.seller, &s.region) else {
            continue;
        };
        if !regions.contains_key(seller) {
            let r = authorised_regions(store, seller).await?;
            regions.insert(seller.clone(), r);
        }
        let authorised = regions.get(seller).cloned().unwrap_or_default();
        if !authorised.is_empty() && !within(region, &authorised) {
            out.push(DiversionRow {
                seller: seller.clone(),
                region: region.clone(),
                units: s.units,
                authorised,
            });
        }
    }
    out.sort_by(|a, b| {
        b.units
            .cmp(&a.units)
            .then_with(|| (&a.seller, &a.region).cmp(&(&b.seller, &b.region)))
    });
    Ok(out)
}

/// `GET /api/v1/channel/diversions` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiversionParams {
    /// Sales from this time (default: 30 days before `to`).
    #[serde(default)]
    pub from: Option<DateTime<FixedOffset>>,
    /// Sales before this time (default: now).
    #[serde(default)]
    pub to: Option<DateTime<FixedOffset>>,
}

/// The diversions among the sales of the window's units that `site` sees (see
/// `sales_seen`): what the API and the dashboard show an account of one site.
pub async fn diversions_seen(
    store: &dyn Store,
    site: &mut SiteScope,
    window: &Window,
) -> Result<Vec<DiversionRow>, AppError> {
    let c = Channel {
        holdings: Vec::new(),
        sales: sales_seen(store, site, window).await?,
    };
    diversions(store, &c).await
}

/// The sales of the window's units that `site` sees, by seller and region, as
/// [`Store::channel`] counts the plant's: each unit sold by a sale that stands (neither an
/// error declaration nor corrected).
async fn sales_seen(
    store: &dyn Store,
    site: &mut SiteScope,
    window: &Window,
) -> Result<Vec<Sale>, AppError> {
    let mut by: BTreeMap<(Option<String>, Option<String>), i64> = BTreeMap::new();
    let mut q = EventQuery {
        biz_step: Some("retail_selling".to_owned()),
        from: Some(window.from),
        to: Some(window.to),
        limit: 1000,
        ..EventQuery::default()
    };
    loop {
        let page = store.events(&q).await?;
        for e in &page.items {
            if e.event.error_declaration.is_some() || !e.corrected_by.is_empty() {
                continue;
            }
            let text = |k: &str| {
                e.event
                    .fields
                    .get(k)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            };
            for unit in &e.event.items {
                if site.sees(store, unit).await? {
                    *by.entry((text("sold_by"), text("region"))).or_default() += 1;
                }
            }
        }
        match (page.next, page.items.last()) {
            (Some(_), Some(last)) => q.after_seq = Some(last.seq),
            _ => break,
        }
    }
    Ok(by
        .into_iter()
        .map(|((seller, region), units)| Sale {
            seller,
            region,
            units,
        })
        .collect())
}

/// `GET /api/v1/channel/diversions?from=&to=`: sales made outside the seller's authorised
/// regions in the window, by seller and region (for an account of one site, of the units its
/// site sees).
pub async fn list(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<DiversionParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let (from, to) = crate::api::recent_window(p.from, p.to, app.clock.now())?;
    let window = Window {
        from,
        to,
        period: Period::Day,
        zone: threadline_store::dashboard::ZoneOffsets::fixed(0),
        places: None,
    };
    let rows = match SiteScope::of(&*app.store, &actor).await? {
        None => diversions(&*app.store, &app.store.channel(&window).await?).await?,
        Some(mut site) => diversions_seen(&*app.store, &mut site, &window).await?,
    };
    Ok(Json(json!({"from": from, "to": to, "diversions": rows})).into_response())
}
