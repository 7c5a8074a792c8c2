//! Authenticity (防伪): is this code genuine, and has it been checked suspiciously often or in
//! two places?
//!
//! `POST /api/v1/authenticity/checks` takes a code as scanned from outside — a consumer's
//! phone through the brand's mini-program, a customs officer, a shop counter — with the region
//! it was scanned in, resolves it through the one scan parser, judges it, records the check and
//! answers the verdict with its reasons:
//! - `not_ours`: no product of ours (unreadable, no GTIN, a GTIN we do not make);
//! - `unknown`: one of our products, but a serial we never registered — a made-up code;
//! - `suspicious`: a registered unit, but the label should not be out there (never released,
//!   scrapped, in our own hands), has been checked [`OFTEN`] times or more, or in two regions,
//!   or is checked outside the regions its distributor may sell in;
//! - `genuine`: none of that.
//!
//! Checks are rows beside the ledger ([`threadline_store::authenticity`]): a check changes no
//! unit. `GET /api/v1/authenticity/checks` lists them; the dashboard shows the suspicious ones;
//! a `suspicious` or `unknown` one is queued, in the transaction that records it, to the
//! webhooks subscribed to `suspicious_check`.
//!
//! An account bound to a site lists the checks of the units its site sees
//! ([`crate::site::SiteScope`]); a check that named no registered unit is about no site's.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use threadline_domain::codes::{ItemKey, ProductCode, Serial};
use threadline_domain::projection::ItemStatus;
use threadline_store::authenticity::{AuthenticityCheck, CheckHistory, CheckQuery};
use threadline_store::{ItemView, Store, UnitState};

use crate::AppState;
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;
use crate::scan::Resolved;
use crate::trace::Places;

/// Earlier checks of one unit at which a new check is suspicious: a genuine unit is checked a
/// handful of times (at purchase, at registration); a copied label, over and over.
pub const OFTEN: u64 = 5;
/// The longest code kept with a check.
const CODE_LIMIT: usize = 512;

/// `POST /api/v1/authenticity/checks` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The code as scanned: a GS1 Digital Link URL, an element string, an EPC URN or a serial.
    pub code: String,
    /// Where it was scanned, as a region code (`CN-SH`, `CN-GD-SZ`).
    #[serde(default)]
    pub region: Option<String>,
    /// Through what it was checked (`wechat`, `customs`, `counter`…).
    #[serde(default)]
    pub channel: Option<String>,
}

/// Why a check is suspicious.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Reason {
    /// `not_released`, `scrapped`, `in_our_hands`, `checked_often`, `two_regions` or
    /// `outside_region`.
    pub code: &'static str,
    pub message: String,
}

/// The answer to a check.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    /// `genuine`, `suspicious`, `unknown` or `not_ours`.
    pub verdict: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// Earlier checks of the same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earlier: Option<CheckHistory>,
}

fn bad(code: &'static str, message: impl Into<String>, field: &str) -> AppError {
    AppError::malformed(code, message, Some(field.to_owned()))
}

/// A region code as parties use them (`CN-GD`), or a clear refusal.
fn region_of(r: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(r) = r.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let ok = r.len() <= 32
        && r.split('-')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(Some(r.to_ascii_uppercase()))
    } else {
        Err(bad(
            "invalid_region",
            format!("region `{r}` must be a code such as CN-GD"),
            "region",
        ))
    }
}

/// The reasons a registered unit's check is suspicious.
async fn judge(
    store: &dyn Store,
    unit: &ItemView,
    key: &ItemKey,
    region: Option<&str>,
    earlier: &CheckHistory,
) -> Result<Vec<Reason>, AppError> {
    let mut out = Vec::new();
    let status = unit.status;
    match status {
        ItemStatus::Unassigned
        | ItemStatus::Printed
        | ItemStatus::InProduction
        | ItemStatus::Voided => out.push(Reason {
            code: "not_released",
            message: format!(
                "{key} was never released for sale ({}); its label should not be in circulation",
                status.as_str()
            ),
        }),
        ItemStatus::Scrapped | ItemStatus::Consumed => out.push(Reason {
            code: "scrapped",
            message: format!(
                "{key} was {}; a label carrying its code is a copy or was taken off the scrap",
                status.as_str()
            ),
        }),
        _ => {}
    }
    let mut places = Places::new(store);
    let mut w = places
        .whereabouts(UnitState {
            status,
            location: unit.location.clone(),
            custodian: unit.custodian.clone(),
            lot: unit.lot.clone(),
            parent: unit.parent.clone(),
        })
        .await?;
    if status == ItemStatus::Sold && w.inside.is_none() {
        places.sold_through(key, &mut w).await?;
    }
    if out.is_empty() && w.in_our_hands && status != ItemStatus::InTransit {
        out.push(Reason {
            code: "in_our_hands",
            message: format!(
                "{key} is in our own hands ({}{}); the label checked outside may be a copy",
                status.as_str(),
                w.location
                    .as_deref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default()
            ),
        });
    }
    if earlier.checks >= OFTEN {
        out.push(Reason {
            code: "checked_often",
            message: format!(
                "{key} has been checked {} times before{}",
                earlier.checks,
                earlier
                    .first_at
                    .map(|t| format!(", first on {}", t.format("%Y-%m-%d")))
                    .unwrap_or_default()
            ),
        });
    }
    if let Some(r) = region {
        let elsewhere: Vec<&String> = earlier.regions.iter().filter(|x| *x != r).collect();
        if !elsewhere.is_empty() {
            out.push(Reason {
                code: "two_regions",
                message: format!(
                    "{key} is checked in {r} and was checked before in {}",
                    elsewhere
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let Some(d) = &w.distributor {
            let authorised = crate::channel::authorised_regions(store, d).await?;
            if !authorised.is_empty() && !crate::channel::within(r, &authorised) {
                out.push(Reason {
                    code: "outside_region",
                    message: format!(
                        "{key} went to {d}, which sells in {}; it is checked in {r}",
                        authorised.join(", ")
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// `POST /api/v1/authenticity/checks`: judges a scanned code, records the check and answers
/// the verdict. A code that is not ours is an answer (`not_ours`), not an error; only a
/// malformed request is refused.
pub async fn check(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: CheckRequest = parse(&body, "")?;
    let code = req.code.trim().replace('\0', "\u{fffd}");
    if code.is_empty() || code.chars().count() > CODE_LIMIT {
        return Err(bad(
            "invalid_code",
            format!("send the scanned code (1–{CODE_LIMIT} characters)"),
            "code",
        ));
    }
    let region = region_of(req.region.as_deref())?;
    let channel = req
        .channel
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| c.chars().take(64).collect::<String>());
    let now = app.clock.now();
    let resolved = crate::scan::resolve(&*app.store, &code, chrono::Datelike::year(&now)).await;
    let verdict = match resolved {
        Ok((Resolved::Item { item }, _)) => {
            let key = ItemKey {
                product: ProductCode::parse(&item.product)
                    .map_err(|e| AppError::Internal(e.message))?,
                serial: Serial::parse(&item.serial).map_err(|e| AppError::Internal(e.message))?,
            };
            let earlier = app.store.check_history(&item.product, &item.serial).await?;
            let reasons = judge(&*app.store, &item, &key, region.as_deref(), &earlier).await?;
            Verdict {
                verdict: if reasons.is_empty() {
                    "genuine"
                } else {
                    "suspicious"
                },
                message: if reasons.is_empty() {
                    format!("{key} is a genuine unit")
                } else {
                    format!("{key} is registered, but this check is suspicious")
                },
                product: Some(item.product.clone()),
                serial: Some(item.serial.clone()),
                reasons,
                earlier: Some(earlier),
            }
        }
        // A lot or a product code carries no serial: nothing unit-level to vouch for.
        Ok((Resolved::Lot { .. } | Resolved::Product { .. }, reading)) => Verdict {
            verdict: "unknown",
            message: format!(
                "the code names {} but no serial: a unit is checked by the code on its own label",
                reading.gtin.as_deref().unwrap_or("a product")
            ),
            product: None,
            serial: None,
            reasons: Vec::new(),
            earlier: None,
        },
        // Only a code that names one of our products can be a made-up serial of ours.
        Err(AppError::NotFound(message))
            if threadline_gs1::parse_scan(&code).is_ok_and(|s| s.gtin().is_some()) =>
        {
            Verdict {
                verdict: "unknown",
                message: format!("{message}: the code looks like ours, but we never issued it"),
                product: None,
                serial: None,
                reasons: Vec::new(),
                earlier: None,
            }
        }
        Err(AppError::NotFound(_) | AppError::Rule(_) | AppError::Malformed(_)) => Verdict {
            verdict: "not_ours",
            message: "the code names no product of ours".to_owned(),
            product: None,
            serial: None,
            reasons: Vec::new(),
            earlier: None,
        },
        Err(e) => return Err(e),
    };
    app.store
        .record_check(AuthenticityCheck {
            id: None,
            at: now,
            code,
            product: verdict.product.clone(),
            serial: verdict.serial.clone(),
            region,
            channel,
            verdict: verdict.verdict.to_owned(),
            reasons: verdict.reasons.iter().map(|r| r.code.to_owned()).collect(),
            actor: actor.name(),
        })
        .await?;
    if verdict.verdict != "genuine" {
        tracing::warn!(verdict = verdict.verdict, product = ?verdict.product, serial = ?verdict.serial, "authenticity check");
    }
    Ok((StatusCode::CREATED, Json(verdict)).into_response())
}

/// `GET /api/v1/authenticity/checks` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// From this time (default: 30 days before `to`).
    #[serde(default)]
    pub from: Option<DateTime<FixedOffset>>,
    /// Before this time (default: now).
    #[serde(default)]
    pub to: Option<DateTime<FixedOffset>>,
    /// Only these verdicts, comma-separated (`suspicious,unknown`).
    #[serde(default)]
    pub verdict: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The verdicts a check can have.
pub const VERDICTS: [&str; 4] = ["genuine", "suspicious", "unknown", "not_ours"];

/// A checked window and verdict filter.
pub fn query_of(p: ListParams, now: DateTime<Utc>) -> Result<CheckQuery, AppError> {
    let (from, to) = crate::api::recent_window(p.from, p.to, now)?;
    let mut verdicts = Vec::new();
    for v in p.verdict.iter().flat_map(|v| v.split(',')).map(str::trim) {
        if !VERDICTS.contains(&v) {
            return Err(bad(
                "invalid_verdict",
                format!("verdict `{v}` is not one of {}", VERDICTS.join(", ")),
                "verdict",
            ));
        }
        verdicts.push(v.to_owned());
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad("invalid_limit", "limit is 1–1000", "limit"));
    }
    Ok(CheckQuery {
        from,
        to,
        verdicts,
        limit,
    })
}

/// `GET /api/v1/authenticity/checks?from=&to=&verdict=&limit=`: the checks in a window, newest
/// first (for an account of one site, those of units its site sees).
pub async fn list(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let q = query_of(p, app.clock.now())?;
    let checks = match crate::site::SiteScope::of(&*app.store, &actor).await? {
        None => app.store.checks(&q).await?,
        Some(mut site) => checks_seen(&*app.store, &mut site, &q).await?,
    };
    Ok(Json(json!({"from": q.from, "to": q.to, "checks": checks})).into_response())
}

/// The newest `q.limit` checks of `q` that name a unit `site` sees: pages of the window read
/// newest first, each ending where the last one read was made (checks at that instant are read
/// again, and skipped by their number).
pub(crate) async fn checks_seen(
    store: &dyn Store,
    site: &mut crate::site::SiteScope,
    q: &CheckQuery,
) -> Result<Vec<AuthenticityCheck>, AppError> {
    let mut out = Vec::new();
    let mut read = std::collections::HashSet::new();
    let mut page_q = CheckQuery {
        limit: 1000,
        ..q.clone()
    };
    loop {
        let page = store.checks(&page_q).await?;
        let full = page.len() >= page_q.limit as usize;
        let mut fresh = false;
        for c in page {
            if !read.insert(c.id) {
                continue;
            }
            fresh = true;
            page_q.to = c.at + chrono::Duration::microseconds(1);
            let (Some(product), Some(serial)) = (&c.product, &c.serial) else {
                continue;
            };
            let (Ok(product), Ok(serial)) = (ProductCode::parse(product), Serial::parse(serial))
            else {
                continue;
            };
            if site.sees(store, &ItemKey { product, serial }).await? {
                out.push(c);
                if out.len() >= q.limit as usize {
                    return Ok(out);
                }
            }
        }
        // A short page is the window's last; a page of checks all read before cannot move on.
        if !full || !fresh {
            return Ok(out);
        }
    }
}
