//! `/search?q=…`: one box for whatever someone has in hand — a serial in any scanned form
//! (through the scan parser), a lot code, an order number or a customer — and every kind of
//! hit, each linked to where it is told in full.
//!
//! An account of one site ([`crate::site`]) finds the units and lots that were there, and an
//! order's figures from the events of it that happened there; a party's units held are those
//! of its site among the first `UNITS` (50) it holds.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use std::collections::HashSet;

use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::projection::ItemStatus;
use threadline_domain::{LotCode, ProductCode, Serial};
use threadline_gs1::scan::{Scan, parse_scan};
use threadline_store::EventQuery;
use threadline_store::search::{OrderHit, SearchHits, UnitHit, UnitsOf};

use super::passport::unit_link;
use super::{esc, lang_of_request, lang_param, page_with, table, url_encode};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{self, Lang, Msg, t};
use crate::site::SiteScope;

/// Most hits of each kind, and most units listed under one order or party.
const LIMIT: u32 = 20;
const UNITS: u32 = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Params {
    q: Option<String>,
}

/// The display name of an order type; a type without one shows as it is.
pub(crate) fn order_kind(lang: Lang, kind: &str) -> String {
    let m = match kind {
        "po" => Msg::OrderPo,
        "prodorder" => Msg::OrderProd,
        "so" => Msg::OrderSo,
        "rma" => Msg::OrderRma,
        "ro" => Msg::OrderRo,
        other => return other.to_owned(),
    };
    t(lang, m).to_owned()
}

fn status_text(lang: Lang, s: &str) -> String {
    ItemStatus::parse(s)
        .map(|s| i18n::status(lang, s).to_owned())
        .unwrap_or_else(|| s.to_owned())
}

fn units_table(lang: Lang, id: &str, units: &[UnitHit]) -> String {
    let rows: String = units
        .iter()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                unit_link(lang, &u.product, &u.serial),
                esc(&status_text(lang, &u.status))
            )
        })
        .collect();
    table(
        id,
        &[(t(lang, Msg::Units), false), (t(lang, Msg::Status), false)],
        &rows,
    )
}

fn section(id: &str, title: &str, body: &str) -> String {
    format!("<section id=\"{id}\"><h2>{title}</h2>{body}</section>")
}

fn time(lang: Lang, zone: chrono_tz::Tz, us: i64) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| i18n::datetime(lang, zone, &t))
        .unwrap_or_default()
}

/// Keeps of `units` those the site saw (all of them for an account of no site).
async fn seen_units(
    app: &AppState,
    site: Option<&mut SiteScope>,
    units: Vec<UnitHit>,
) -> Result<Vec<UnitHit>, AppError> {
    let Some(s) = site else {
        return Ok(units);
    };
    let mut kept = Vec::with_capacity(units.len());
    for u in units {
        let (Ok(product), Ok(serial)) = (ProductCode::parse(&u.product), Serial::parse(&u.serial))
        else {
            continue;
        };
        if s.sees(&*app.store, &ItemKey { product, serial }).await? {
            kept.push(u);
        }
    }
    Ok(kept)
}

/// An order's figures from the events of it that happened at the site; `None` when none did.
async fn order_here(
    app: &AppState,
    site: &SiteScope,
    order: OrderHit,
) -> Result<Option<OrderHit>, AppError> {
    let mut q = EventQuery {
        biz_transaction: Some((order.kind.clone(), order.id.clone())),
        limit: 1000,
        ..EventQuery::default()
    };
    let (mut events, mut units, mut first, mut last) = (0, HashSet::new(), i64::MAX, i64::MIN);
    loop {
        let page = app.store.events(&q).await?;
        for e in page.items.iter().filter(|e| site.happened_here(&e.event)) {
            let ev = &e.event;
            events += 1;
            units.extend(
                ev.items
                    .iter()
                    .chain(&ev.parent)
                    .chain(&ev.children)
                    .chain(&ev.inputs)
                    .chain(&ev.outputs)
                    .cloned(),
            );
            let t = ev.event_time.timestamp_micros();
            first = first.min(t);
            last = last.max(t);
        }
        match (page.next, page.items.last()) {
            (Some(_), Some(l)) => q.after_seq = Some(l.seq),
            _ => break,
        }
    }
    Ok((events > 0).then(|| OrderHit {
        events,
        units: i64::try_from(units.len()).unwrap_or(i64::MAX),
        first_us: first,
        last_us: last,
        ..order
    }))
}

/// The units the text names as a scan: one unit, a lot or a product through the scan parser,
/// or every unit with that serial when it is a plain serial — of those the actor may see.
async fn scanned(
    app: &AppState,
    actor: &Actor,
    site: &mut Option<SiteScope>,
    lang: Lang,
    text: &str,
) -> Result<String, AppError> {
    let plain = matches!(parse_scan(text), Ok(Scan::Plain(_)));
    if plain {
        let Ok(serial) = Serial::parse(text) else {
            return Ok(String::new());
        };
        let mut units = Vec::new();
        for key in app.store.items_by_serial(serial.as_str(), LIMIT).await? {
            if let Some(s) = site.as_mut()
                && !s.sees(&*app.store, &key).await?
            {
                continue;
            }
            if let Some(item) = app.store.item(&key).await? {
                units.push(UnitHit {
                    product: item.product,
                    serial: item.serial,
                    status: item.status.as_str().to_owned(),
                });
            }
        }
        return Ok(if units.is_empty() {
            String::new()
        } else {
            section(
                "hits-units",
                t(lang, Msg::Units),
                &units_table(lang, "units", &units),
            )
        });
    }
    let year = chrono::Datelike::year(&app.clock.now());
    Ok(
        match crate::passport::unit_of_code(&*app.store, actor, text, year).await {
            Ok((crate::scan::Resolved::Item { item }, _)) => section(
                "hits-units",
                t(lang, Msg::Units),
                &units_table(
                    lang,
                    "units",
                    &[UnitHit {
                        product: item.product,
                        serial: item.serial,
                        status: item.status.as_str().to_owned(),
                    }],
                ),
            ),
            Ok((crate::scan::Resolved::Lot { lot }, _)) => section(
                "hits-scanned-lot",
                t(lang, Msg::Lots),
                &format!(
                    "<p><a href=\"/unit?code={c}&amp;lang={l}\">{p} · {lot}</a></p>",
                    c = url_encode(text),
                    l = lang_param(lang),
                    p = esc(&lot.product),
                    lot = esc(&lot.lot),
                ),
            ),
            Ok((crate::scan::Resolved::Product { product }, _)) => section(
                "hits-product",
                t(lang, Msg::ProductFound),
                &format!(
                    "<p>{} · {}</p>",
                    esc(product.def.code.as_str()),
                    esc(&product.def.name)
                ),
            ),
            // A code the parser read but that names nothing here: say why, next to the hits.
            Err(e @ (AppError::NotFound(_) | AppError::Rule(_))) => format!(
                "<section class=\"card\" id=\"scan-problem\"><p class=\"bad\">{}</p></section>",
                super::refusal_line(lang, &e)
            ),
            Err(e) => return Err(e),
        },
    )
}

async fn hits(app: &AppState, actor: &Actor, lang: Lang, text: &str) -> Result<String, AppError> {
    let zone = super::zone(app).await;
    let mut site = SiteScope::of(&*app.store, actor).await?;
    let mut out = scanned(app, actor, &mut site, lang, text).await?;
    let SearchHits {
        mut lots,
        mut orders,
        mut parties,
    } = actor.masked(app.store.search(text, LIMIT).await?);
    if let Some(s) = site.as_mut() {
        let mut kept = Vec::with_capacity(lots.len());
        for l in lots {
            let (Ok(product), Ok(lot)) = (ProductCode::parse(&l.product), LotCode::parse(&l.lot))
            else {
                continue;
            };
            if s.sees_lot(&*app.store, &LotKey { product, lot }).await? {
                kept.push(l);
            }
        }
        lots = kept;
        let mut here = Vec::with_capacity(orders.len());
        for o in orders {
            here.extend(order_here(app, s, o).await?);
        }
        orders = here;
        for p in &mut parties {
            let units = app
                .store
                .units_of(&UnitsOf::Custodian(p.code.clone()), UNITS)
                .await?;
            p.units_held = i64::try_from(seen_units(app, Some(&mut *s), units).await?.len())
                .unwrap_or(i64::MAX);
        }
    }
    if !actor.visibility().personal {
        // A customer found by name alone would tell whose name it is.
        let needle = text.to_lowercase();
        parties.retain(|p| p.kind != "customer" || p.code.to_lowercase().contains(&needle));
    }
    if !lots.is_empty() {
        let rows: String = lots
            .iter()
            .map(|l| {
                format!(
                    "<tr><td><a href=\"/trace?product={pu}&amp;lot={lu}&amp;direction=forward&amp;lang={lp}\">{lot}</a></td><td>{p}</td><td>{held}</td></tr>",
                    pu = url_encode(&l.product),
                    lu = url_encode(&l.lot),
                    lp = lang_param(lang),
                    lot = esc(&l.lot),
                    p = esc(&l.product),
                    held = if l.held {
                        format!("<span class=\"badge hold\">{}</span>", t(lang, Msg::OnHold))
                    } else {
                        String::new()
                    },
                )
            })
            .collect();
        out.push_str(&section(
            "hits-lots",
            t(lang, Msg::Lots),
            &table(
                "lots",
                &[
                    (t(lang, Msg::Lot), false),
                    (t(lang, Msg::Product), false),
                    (t(lang, Msg::Holds), false),
                ],
                &rows,
            ),
        ));
    }
    if !orders.is_empty() {
        let rows: String = orders
            .iter()
            .map(|o| {
                format!(
                    "<tr><td>{kind}</td><td>{id}</td><td class=\"n\">{ev}</td><td class=\"n\">{un}</td><td>{first}</td><td>{last}</td></tr>",
                    kind = esc(&order_kind(lang, &o.kind)),
                    id = esc(&o.id),
                    ev = i18n::int(lang, o.events),
                    un = i18n::int(lang, o.units),
                    first = esc(&time(lang, zone, o.first_us)),
                    last = esc(&time(lang, zone, o.last_us)),
                )
            })
            .collect();
        let mut body = table(
            "orders",
            &[
                (t(lang, Msg::OrderType), false),
                (t(lang, Msg::OrderNumber), false),
                (t(lang, Msg::EventsCount), true),
                (t(lang, Msg::Units), true),
                (t(lang, Msg::FirstEvent), false),
                (t(lang, Msg::LastEvent), false),
            ],
            &rows,
        );
        if let [o] = orders.as_slice() {
            let of = UnitsOf::Order {
                kind: o.kind.clone(),
                id: o.id.clone(),
            };
            let units =
                seen_units(app, site.as_mut(), app.store.units_of(&of, UNITS).await?).await?;
            if !units.is_empty() {
                body.push_str(&format!(
                    "<h3>{}</h3>{}",
                    t(lang, Msg::UnitsOfOrder),
                    units_table(lang, "order-units", &units)
                ));
            }
        }
        out.push_str(&section("hits-orders", t(lang, Msg::Orders), &body));
    }
    if !parties.is_empty() {
        let rows: String = parties
            .iter()
            .map(|p| {
                format!(
                    "<tr><td>{code}</td><td>{name}</td><td>{kind}</td><td class=\"n\">{held}</td></tr>",
                    code = esc(&p.code),
                    name = esc(&p.name),
                    kind = esc(&p.kind),
                    held = i18n::int(lang, p.units_held),
                )
            })
            .collect();
        let mut body = table(
            "parties",
            &[
                (t(lang, Msg::Party), false),
                (t(lang, Msg::Name), false),
                (t(lang, Msg::Kind), false),
                (t(lang, Msg::UnitsHeld), true),
            ],
            &rows,
        );
        if let [p] = parties.as_slice() {
            let units = app
                .store
                .units_of(&UnitsOf::Custodian(p.code.clone()), UNITS)
                .await?;
            let units = seen_units(app, site.as_mut(), units).await?;
            if !units.is_empty() {
                body.push_str(&format!(
                    "<h3>{}</h3>{}",
                    t(lang, Msg::UnitsHeldBy),
                    units_table(lang, "party-units", &units)
                ));
            }
        }
        out.push_str(&section("hits-parties", t(lang, Msg::PartiesFound), &body));
    }
    Ok(out)
}

/// `GET /search?q=…`.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let p = Query::<Params>::try_from_uri(&uri)
        .map(|Query(p)| p)
        .unwrap_or_default();
    let text = p.q.as_deref().map(str::trim).unwrap_or("");
    let form = format!(
        "<section><h1>{h}</h1><form id=\"search\" method=\"get\" action=\"/search\" class=\"inline\" role=\"search\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <div><label for=\"q\">{label}</label><input id=\"q\" name=\"q\" value=\"{v}\" required autofocus autocomplete=\"off\" spellcheck=\"false\"></div>\
         <button type=\"submit\">{b}</button></form><p class=\"hint\">{hint}</p></section>",
        h = t(lang, Msg::Search),
        l = lang_param(lang),
        label = t(lang, Msg::SearchLabel),
        v = esc(text),
        b = t(lang, Msg::Search),
        hint = t(lang, Msg::SearchHint),
    );
    let results = if text.is_empty() {
        String::new()
    } else {
        match hits(&app, &actor, lang, text).await {
            Ok(h) if h.is_empty() => format!(
                "<section id=\"nothing\"><p class=\"muted\">{}</p></section>",
                t(lang, Msg::NothingFound)
            ),
            Ok(h) => h,
            Err(e) => return super::refusal(lang, e),
        }
    };
    page_with(
        lang,
        t(lang, Msg::Search),
        Some(&actor),
        &format!("{form}{results}"),
        &[],
        Some(&uri),
    )
    .into_response()
}
