//! The passport of one unit (一物一档): identity, current state, warranty, and the whole
//! timeline with QC records and repairs picked out — what a service engineer or an auditor reads
//! first. Composed from the store's unit view and event index; it adds no rule of its own.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::codes::ItemKey;
use threadline_domain::mask::{Mask, Visibility};
use threadline_domain::{ProductCode, Serial};
use threadline_store::{ItemView, Store, StoredEvent};

use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::partner::Partner;

/// Where a unit stands with its warranty.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Warranty {
    /// `none` (the product has no warranty), `not_started` (not sold to an end customer yet),
    /// `active` or `expired`.
    pub status: &'static str,
    pub months: Option<u32>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Identity {
    pub product: String,
    pub product_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    pub serial: String,
    /// The GS1 Digital Link of the unit, when its product has a GTIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digital_link: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Passport {
    pub identity: Identity,
    pub state: ItemView,
    pub warranty: Warranty,
    /// Every event that names the unit, oldest first, each with this unit only (and, when it
    /// is the parent, its components); `others` counts the units left out. Events on a
    /// container while the unit was packed in it (shipped, received, moved, held with it) are
    /// there too, each with that container and marked with it in `via`.
    pub timeline: Vec<StoredEvent>,
    /// The inspections among them.
    pub qc: Vec<StoredEvent>,
    /// Returns, repairs and part swaps among them.
    pub repairs: Vec<StoredEvent>,
}

impl Mask for Passport {
    fn mask(&mut self, v: Visibility) {
        self.state.mask(v);
        self.timeline.mask(v);
        self.qc.mask(v);
        self.repairs.mask(v);
    }
}

fn step(e: &StoredEvent) -> &str {
    e.event.biz_step.as_ref().map(|s| s.as_str()).unwrap_or("")
}

fn disposition(e: &StoredEvent) -> &str {
    e.event
        .disposition
        .as_ref()
        .map(|s| s.as_str())
        .unwrap_or("")
}

/// Builds the passport of `key`, or `None` if the unit is not registered.
pub async fn passport(
    store: &dyn Store,
    key: &ItemKey,
    now: DateTime<Utc>,
) -> Result<Option<Passport>, AppError> {
    let Some(history) = store.unit_history(key).await? else {
        return Ok(None);
    };
    // A batch event (a work order commissioned, a pallet shipped) is shown with this unit
    // only: the passport is of one unit, and an event may name thousands.
    let threadline_store::UnitHistory {
        state,
        product,
        timeline,
    } = history;
    let mut timeline = timeline;
    // Where a partner's EPCIS event disagreed with the state: marked on its entry.
    let captured: Vec<uuid::Uuid> = timeline
        .iter()
        .filter(|e| e.event.epcis_capture)
        .map(|e| e.event.id)
        .collect();
    if !captured.is_empty() {
        let mut found: std::collections::HashMap<uuid::Uuid, Vec<_>> =
            std::collections::HashMap::new();
        for (id, d) in store.discrepancies(&captured).await? {
            found.entry(id).or_default().push(d);
        }
        for e in &mut timeline {
            if let Some(d) = found.get(&e.event.id) {
                e.discrepancies = d.clone();
            }
        }
    }
    let months = product.as_ref().and_then(|p| p.def.warranty_months);
    // The warranty starts at the first sale to an end customer that was not corrected away.
    let sale = timeline
        .iter()
        .filter(|e| e.corrected_by.is_empty())
        .find(|e| step(e) == "retail_selling" || disposition(e) == "retail_sold")
        .map(|e| e.event.event_time);
    let warranty = match (months, sale) {
        (None, _) => Warranty {
            status: "none",
            months: None,
            start: None,
            end: None,
        },
        (Some(m), None) => Warranty {
            status: "not_started",
            months: Some(m),
            start: None,
            end: None,
        },
        (Some(m), Some(start)) => {
            let end = start.checked_add_months(Months::new(m));
            let status = match end {
                Some(end) if now < end => "active",
                _ => "expired",
            };
            Warranty {
                status,
                months: Some(m),
                start: Some(start),
                end,
            }
        }
    };
    let qc = timeline
        .iter()
        .filter(|e| step(e) == "inspecting")
        .cloned()
        .collect();
    let repairs = timeline
        .iter()
        .filter(|e| {
            matches!(step(e), "repairing" | "removing" | "replacing")
                || disposition(e) == "returned"
                || e.event
                    .biz_transactions
                    .iter()
                    .any(|t| matches!(t.kind.as_str(), "rma" | "ro"))
        })
        .cloned()
        .collect();
    let gtin = product
        .as_ref()
        .and_then(|p| p.def.gtin.as_ref())
        .map(|g| g.to_string());
    let identity = Identity {
        product: key.product.to_string(),
        product_name: product
            .as_ref()
            .map(|p| p.def.name.clone())
            .unwrap_or_default(),
        digital_link: gtin.as_ref().map(|g| {
            format!(
                "https://id.gs1.org/01/{g}/21/{}",
                encode_path(key.serial.as_str())
            )
        }),
        gtin,
        serial: key.serial.to_string(),
    };
    Ok(Some(Passport {
        identity,
        state,
        warranty,
        timeline,
        qc,
        repairs,
    }))
}

/// The passport of `key` as `actor` may see it: `None` when the unit is not registered or,
/// for a partner account, was not shipped to it; a partner's timeline names only this unit
/// (an event may name many others); restricted fields masked.
pub async fn shown(
    store: &dyn Store,
    actor: &Actor,
    key: &ItemKey,
    now: DateTime<Utc>,
) -> Result<Option<Passport>, AppError> {
    let mut partner = Partner::of(store, actor).await?;
    if let Some(p) = partner.as_mut()
        && !p.sees(store, key).await?
    {
        return Ok(None);
    }
    // An account of one site reads a unit that was there as a partner reads its own.
    let mut site = crate::site::SiteScope::of(store, actor).await?;
    if let Some(s) = site.as_mut()
        && !s.sees(store, key).await?
    {
        return Ok(None);
    }
    let Some(mut passport) = passport(store, key, now).await? else {
        return Ok(None);
    };
    if partner.is_some() || site.is_some() {
        for list in [
            &mut passport.timeline,
            &mut passport.qc,
            &mut passport.repairs,
        ] {
            for e in list.iter_mut() {
                Partner::only(&mut e.event, key);
                // Their messages may name the other units the event named.
                if partner.is_some() {
                    e.discrepancies.clear();
                }
            }
        }
    }
    Ok(Some(actor.masked(passport)))
}

/// What a scanned code names, as `actor` may see it: a partner only its own units, an account
/// of one site only the units and lots that were there; anything else is "not registered".
pub async fn unit_of_code(
    store: &dyn Store,
    actor: &Actor,
    code: &str,
    year: i32,
) -> Result<(crate::scan::Resolved, crate::scan::ScanReading), AppError> {
    let site = crate::site::SiteScope::of(store, actor).await?;
    match (Partner::of(store, actor).await?, site) {
        (Some(mut p), site) => {
            let (item, reading) = p.resolve(store, code, year).await?;
            if let Some(mut s) = site
                && !s.sees(store, &crate::site::key_of(&item)?).await?
            {
                return Err(crate::partner::not_found(format_args!("`{code}`")));
            }
            Ok((crate::scan::Resolved::Item { item }, reading))
        }
        (None, Some(mut s)) => s.resolve(store, code, year).await,
        (None, None) => crate::scan::resolve(store, code, year).await,
    }
}

/// Percent-encodes a serial for a Digital Link path segment (unreserved characters stay).
fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /api/v1/items/{product}/{serial}/passport`
pub async fn by_key(
    State(app): State<AppState>,
    actor: Actor,
    Path((product, serial)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let key = ItemKey {
        product: ProductCode::parse(&product)
            .map_err(|e| AppError::Malformed(vec![e.at("product")]))?,
        serial: Serial::parse(&serial).map_err(|e| AppError::Malformed(vec![e.at("serial")]))?,
    };
    match shown(&*app.store, &actor, &key, app.clock.now()).await? {
        Some(p) => Ok(Json(p).into_response()),
        None => Err(AppError::NotFound(format!(
            "serial {serial} of product {product} is not registered"
        ))),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByCode {
    code: String,
}

/// `GET /api/v1/passport?code=…`: the passport of whatever unit a scanned code names.
pub async fn by_code(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<ByCode>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params
        .map_err(|e| AppError::malformed("invalid_query", e.body_text(), Some("code".into())))?;
    let now = app.clock.now();
    let (resolved, _) =
        unit_of_code(&*app.store, &actor, &p.code, chrono::Datelike::year(&now)).await?;
    let crate::scan::Resolved::Item { item } = resolved else {
        return Err(AppError::Rule(vec![
            threadline_domain::FieldError::new(
                "not_a_unit",
                "this code names a lot or a product, not one unit",
            )
            .at("code"),
        ]));
    };
    let key = ItemKey {
        product: ProductCode::parse(&item.product).map_err(|e| AppError::Internal(e.message))?,
        serial: Serial::parse(&item.serial).map_err(|e| AppError::Internal(e.message))?,
    };
    match shown(&*app.store, &actor, &key, now).await? {
        Some(p) => Ok(Json(p).into_response()),
        None => Err(AppError::NotFound(format!("{} is not registered", p.code))),
    }
}
