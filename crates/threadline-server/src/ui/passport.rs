//! The passport page (`/unit`): one unit's identity, state badges (holds, warranty), where it
//! is, what it is built from and into, and its whole timeline — who, when, where and why —
//! with the QC records (measurements against their limits) and repairs picked out. Composed
//! from [`crate::passport::passport`]; the search box takes any form a scanner sends, and a
//! lot code leads to the lot's stock and its trace.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use serde_json::Value;
use threadline_domain::codes::ItemKey;
use threadline_domain::event::HoldChange;
use threadline_domain::{ProductCode, Serial};
use threadline_store::{LotView, StoredEvent};

use super::{PageParams, esc, lang_of, lang_param, page_with};
use crate::AppState;
use crate::auth::Actor;
use crate::i18n::{Lang, Msg, t};
use crate::passport::Passport;

/// The search box: whatever a scanner sends, or a typed serial.
pub(super) fn lookup_form(lang: Lang, code: &str) -> String {
    format!(
        "<section class=\"card\"><form method=\"get\" action=\"/unit\" class=\"inline\" role=\"search\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <div><label for=\"code\">{label}</label><input id=\"code\" name=\"code\" value=\"{cv}\" required autofocus autocomplete=\"off\" spellcheck=\"false\"></div>\
         <button type=\"submit\">{b}</button></form><p class=\"hint\">{hint}</p></section>",
        l = lang_param(lang),
        label = t(lang, Msg::ScanOrType),
        hint = t(lang, Msg::ScanHint),
        b = t(lang, Msg::LookUp),
        cv = esc(code),
    )
}

/// A link to a unit's passport.
pub(super) fn unit_link(lang: Lang, product: &str, serial: &str) -> String {
    format!(
        "<a href=\"/unit?product={p}&amp;serial={s}&amp;lang={l}\">{pt} · {st}</a>",
        p = super::url_encode(product),
        s = super::url_encode(serial),
        l = lang_param(lang),
        pt = esc(product),
        st = esc(serial),
    )
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text_of).collect::<Vec<_>>().join(", "),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Why and how: the fields of an event a person reads (restricted ones arrive masked).
fn reasons(lang: Lang, e: &StoredEvent) -> String {
    let ev = &e.event;
    let mut parts: Vec<String> = ev
        .biz_transactions
        .iter()
        .map(|tx| {
            format!(
                "<span class=\"badge\">{} {}</span>",
                esc(&super::search::order_kind(lang, tx.kind.as_str())),
                esc(tx.id.as_str())
            )
        })
        .collect();
    for (key, value) in &ev.fields {
        let Some(label) = crate::i18n::field_label(lang, key) else {
            continue;
        };
        let text = text_of(value);
        if text.is_empty() {
            continue;
        }
        let text = if key == "result" {
            crate::i18n::qc_result(lang, &text).to_owned()
        } else {
            text
        };
        parts.push(format!("{}: {}", label, esc(&text)));
    }
    if let Some(c) = &ev.corrects {
        parts.push(format!("{}: {}", t(lang, Msg::Corrects), esc(&c.reason)));
    }
    parts.join(" · ")
}

fn step_of(e: &StoredEvent) -> &str {
    e.event
        .biz_step
        .as_ref()
        .map(|b| b.as_str())
        .unwrap_or(e.event.kind.as_str())
}

fn timeline(lang: Lang, zone: Tz, events: &[StoredEvent]) -> String {
    let none = t(lang, Msg::None);
    let items: String = events
        .iter()
        .rev()
        .map(|e| {
            let ev = &e.event;
            let hold = match &ev.hold {
                Some(HoldChange::Place(k)) => format!(
                    " <span class=\"badge hold\">{}</span>",
                    crate::i18n::hold(lang, *k)
                ),
                Some(HoldChange::Release(k)) => format!(
                    " <span class=\"badge ok\">{} {}</span>",
                    t(lang, Msg::Released),
                    crate::i18n::hold(lang, *k)
                ),
                None => String::new(),
            };
            let corrected = if e.corrected_by.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"badge warn\">{}</span>", t(lang, Msg::Corrected))
            };
            // A partner's report recorded although the state disagreed: marked, with what
            // disagreed, each in the reader's language.
            let (differs, disagreed) = if e.discrepancies.is_empty() {
                (String::new(), String::new())
            } else {
                let mut codes: Vec<&str> = e.discrepancies.iter().map(|d| d.code.as_str()).collect();
                codes.dedup();
                let what: Vec<String> = codes
                    .into_iter()
                    .map(|c| esc(crate::i18n::discrepancy_sentence(lang, c).unwrap_or(c)))
                    .collect();
                (
                    format!(" <span class=\"badge warn\">{}</span>", t(lang, Msg::Discrepancy)),
                    format!("<div class=\"detail discrepancy\">{}</div>", what.join(" · ")),
                )
            };
            let place = ev
                .biz_location
                .as_ref()
                .or(ev.read_point.as_ref())
                .map(|l| esc(l.as_str()))
                .unwrap_or_else(|| none.to_owned());
            let why = reasons(lang, e);
            let others = if e.others > 0 {
                format!(
                    " <span class=\"muted\">{}</span>",
                    t(lang, Msg::WithOtherUnits).replace("{n}", &crate::i18n::int(lang, i64::try_from(e.others).unwrap_or(i64::MAX)))
                )
            } else {
                String::new()
            };
            let inside = match &e.via {
                Some(c) => format!(
                    " <span class=\"muted\">{}</span>",
                    esc(&t(lang, Msg::InsideContainer).replace("{c}", c.serial.as_str()))
                ),
                None => String::new(),
            };
            format!(
                "<li class=\"{cls}\"><div class=\"when\">{when}</div><div class=\"what\">{step}{hold}{corrected}{differs}{inside}{others}</div>\
                 <div class=\"detail\">{l_where}: {place} · {l_who}: {who}</div>{why}{disagreed}</li>",
                cls = if matches!(ev.hold, Some(HoldChange::Place(_))) { "hold" } else { "" },
                when = esc(&crate::i18n::datetime(lang, zone, &ev.event_time)),
                step = esc(crate::i18n::step(lang, step_of(e))),
                l_where = t(lang, Msg::Where),
                l_who = t(lang, Msg::Who),
                who = esc(&ev.actor),
                why = if why.is_empty() {
                    String::new()
                } else {
                    format!("<div class=\"detail\">{why}</div>")
                },
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"timeline\"><h2>{} <span class=\"muted\">({})</span></h2><ol class=\"timeline\">{items}</ol></section>",
        t(lang, Msg::Timeline),
        events.len()
    )
}

fn number(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// A moment in a table cell, as the plant reads it; it never breaks across lines.
fn when(lang: Lang, zone: Tz, t: &chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "<time datetime=\"{}\">{}</time>",
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        esc(&crate::i18n::datetime(lang, zone, t))
    )
}

fn qc_table(lang: Lang, zone: Tz, events: &[StoredEvent]) -> String {
    if events.is_empty() {
        return format!(
            "<section class=\"card\" id=\"qc\"><h2>{}</h2><p class=\"muted\">{}</p></section>",
            t(lang, Msg::QcRecords),
            t(lang, Msg::NoneRecorded)
        );
    }
    let rows: String = events
        .iter()
        .map(|e| {
            let f = &e.event.fields;
            let result = f.get("result").map(text_of).unwrap_or_default();
            let badge = match result.as_str() {
                "pass" => "ok",
                "fail" => "bad",
                _ => "warn",
            };
            let measurements: String = f
                .get("measurements")
                .and_then(Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .map(|m| {
                            let value = number(m.get("value"));
                            let (low, high) = (number(m.get("low")), number(m.get("high")));
                            let outside = value.is_some_and(|v| {
                                low.is_some_and(|l| v < l) || high.is_some_and(|h| v > h)
                            });
                            let limits = match (low, high) {
                                (Some(l), Some(h)) => format!(" [{l} – {h}]"),
                                (Some(l), None) => format!(" [≥ {l}]"),
                                (None, Some(h)) => format!(" [≤ {h}]"),
                                (None, None) => String::new(),
                            };
                            format!(
                                "<div class=\"{cls}\">{name} = {value} {unit}<span class=\"muted\">{limits}</span></div>",
                                cls = if outside { "bad" } else { "" },
                                name = esc(&m.get("name").map(text_of).unwrap_or_default()),
                                value = value.map(|v| v.to_string()).unwrap_or_default(),
                                unit = esc(&m.get("unit").map(text_of).unwrap_or_default()),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "<tr role=\"row\"><td role=\"cell\" data-label=\"{l_w}\">{when}</td><td role=\"cell\" data-label=\"{l_r}\"><span class=\"badge {badge}\">{result}</span></td><td role=\"cell\" data-label=\"{l_m}\">{measurements}</td><td role=\"cell\" data-label=\"{l_d}\">{defects}</td><td role=\"cell\" data-label=\"{l_i}\">{inspector}</td><td role=\"cell\" data-label=\"{l_e}\">{equipment}</td></tr>",
                when = when(lang, zone, &e.event.event_time),
                result = esc(crate::i18n::qc_result(lang, &result)),
                l_w = t(lang, Msg::When),
                l_r = t(lang, Msg::FieldResult),
                l_m = t(lang, Msg::Measurements),
                l_d = t(lang, Msg::Defects),
                l_i = t(lang, Msg::FieldInspector),
                l_e = t(lang, Msg::Equipment),
                defects = esc(&f.get("defect_codes").map(text_of).unwrap_or_default()),
                inspector = esc(&f.get("inspector").map(text_of).unwrap_or_default()),
                equipment = esc(&f.get("equipment").map(text_of).unwrap_or_default()),
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"qc\"><h2>{h}</h2><div class=\"table-wrap\"><table class=\"stack\" role=\"table\"><thead role=\"rowgroup\"><tr role=\"row\"><th role=\"columnheader\">{w}</th><th role=\"columnheader\">{r}</th><th role=\"columnheader\">{m}</th><th role=\"columnheader\">{d}</th><th role=\"columnheader\">{i}</th><th role=\"columnheader\">{e}</th></tr></thead><tbody role=\"rowgroup\">{rows}</tbody></table></div></section>",
        h = t(lang, Msg::QcRecords),
        w = t(lang, Msg::When),
        r = t(lang, Msg::FieldResult),
        m = t(lang, Msg::Measurements),
        d = t(lang, Msg::Defects),
        i = t(lang, Msg::FieldInspector),
        e = t(lang, Msg::Equipment),
    )
}

fn repairs_table(lang: Lang, zone: Tz, events: &[StoredEvent]) -> String {
    if events.is_empty() {
        return format!(
            "<section class=\"card\" id=\"repairs\"><h2>{}</h2><p class=\"muted\">{}</p></section>",
            t(lang, Msg::Repairs),
            t(lang, Msg::NoneRecorded)
        );
    }
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr role=\"row\"><td role=\"cell\" data-label=\"{}\">{}</td><td role=\"cell\" data-label=\"{}\">{}</td><td role=\"cell\" data-label=\"{}\">{}</td></tr>",
                t(lang, Msg::When),
                when(lang, zone, &e.event.event_time),
                t(lang, Msg::Step),
                esc(crate::i18n::step(lang, step_of(e))),
                t(lang, Msg::Details),
                reasons(lang, e),
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"repairs\"><h2>{h}</h2><div class=\"table-wrap\"><table class=\"stack\" role=\"table\"><thead role=\"rowgroup\"><tr role=\"row\"><th role=\"columnheader\">{w}</th><th role=\"columnheader\">{s}</th><th role=\"columnheader\">{d}</th></tr></thead><tbody role=\"rowgroup\">{rows}</tbody></table></div></section>",
        h = t(lang, Msg::Repairs),
        w = t(lang, Msg::When),
        s = t(lang, Msg::Step),
        d = t(lang, Msg::Details),
    )
}

fn passport_body(lang: Lang, zone: Tz, p: &Passport) -> String {
    let none = t(lang, Msg::None);
    let st = &p.state;
    let mut badges = format!(
        "<span class=\"badge\" id=\"state\">{}</span>",
        crate::i18n::status(lang, st.status)
    );
    for h in &st.holds {
        badges.push_str(&format!(
            "<span class=\"badge hold\">{}</span>",
            crate::i18n::hold(lang, *h)
        ));
    }
    badges.push_str(&match (p.warranty.status, p.warranty.end) {
        ("active", Some(end)) => format!(
            "<span class=\"badge ok\">{} {}</span>",
            t(lang, Msg::WarrantyUntil),
            crate::i18n::date(lang, crate::i18n::day(zone, &end))
        ),
        ("expired", _) => format!(
            "<span class=\"badge\">{}</span>",
            t(lang, Msg::WarrantyExpired)
        ),
        ("not_started", _) => format!(
            "<span class=\"badge\">{}</span>",
            t(lang, Msg::WarrantyNotStarted)
        ),
        _ => String::new(),
    });
    let opt = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_else(|| none.to_owned());
    let parent = st
        .parent
        .as_ref()
        .map(|k| unit_link(lang, k.product.as_str(), k.serial.as_str()))
        .unwrap_or_else(|| none.to_owned());
    let children = if st.children.is_empty() {
        none.to_owned()
    } else {
        st.children
            .iter()
            .map(|k| unit_link(lang, k.product.as_str(), k.serial.as_str()))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let link = p
        .identity
        .digital_link
        .as_deref()
        .map(|l| {
            format!(
                "<dt>{}</dt><dd><code>{}</code></dd>",
                t(lang, Msg::DigitalLink),
                esc(l)
            )
        })
        .unwrap_or_default();
    let gtin = p
        .identity
        .gtin
        .as_deref()
        .map(|g| format!("<dt>GTIN</dt><dd>{}</dd>", esc(g)))
        .unwrap_or_default();
    let trace = format!(
        "<a class=\"button secondary\" href=\"/trace?product={p}&amp;serial={s}&amp;direction=backward&amp;lang={l}\">{b}</a> \
         <a class=\"button secondary\" href=\"/trace?product={p}&amp;serial={s}&amp;direction=forward&amp;lang={l}\">{f}</a>",
        p = super::url_encode(&p.identity.product),
        s = super::url_encode(&p.identity.serial),
        l = lang_param(lang),
        b = t(lang, Msg::TraceBackward),
        f = t(lang, Msg::TraceForward),
    );
    format!(
        "<section class=\"card\" id=\"identity\"><h1>{name} <span class=\"muted\">{serial}</span></h1><p id=\"badges\">{badges}</p>\
         <dl class=\"kv\"><dt>{l_prod}</dt><dd>{product}</dd><dt>{l_ser}</dt><dd>{serial}</dd>{gtin}{link}</dl><p>{trace}</p></section>\
         <div class=\"cols\"><section class=\"card\"><h2>{l_now}</h2><dl class=\"kv\"><dt>{l_loc}</dt><dd>{loc}</dd><dt>{l_cus}</dt><dd>{cus}</dd>\
         <dt>{l_lot}</dt><dd>{lot}</dd><dt>{l_first}</dt><dd>{first}</dd></dl></section>\
         <section class=\"card\" id=\"genealogy\"><h2>{l_gen}</h2><dl class=\"kv\"><dt>{l_par}</dt><dd id=\"parent\">{parent}</dd><dt>{l_comp}</dt><dd id=\"components\">{children}</dd></dl></section></div>\
         {qc}{repairs}{timeline}",
        name = esc(if p.identity.product_name.is_empty() {
            &p.identity.product
        } else {
            &p.identity.product_name
        }),
        serial = esc(&p.identity.serial),
        l_prod = t(lang, Msg::Product),
        product = esc(&p.identity.product),
        l_ser = t(lang, Msg::Serial),
        l_now = t(lang, Msg::WhereNow),
        l_loc = t(lang, Msg::Location),
        loc = opt(&st.location),
        l_cus = t(lang, Msg::Custodian),
        cus = opt(&st.custodian),
        l_lot = t(lang, Msg::Lot),
        lot = opt(&st.lot),
        l_first = t(lang, Msg::FirstSeen),
        first = crate::i18n::date(lang, crate::i18n::day(zone, &st.first_seen)),
        l_gen = t(lang, Msg::Genealogy),
        l_par = t(lang, Msg::Parent),
        l_comp = t(lang, Msg::Components),
        qc = qc_table(lang, zone, &p.qc),
        repairs = repairs_table(lang, zone, &p.repairs),
        timeline = timeline(lang, zone, &p.timeline),
    )
}

fn lot_body(lang: Lang, lot: &LotView) -> String {
    let none = t(lang, Msg::None);
    let holds: String = lot
        .holds
        .iter()
        .map(|h| {
            format!(
                "<span class=\"badge hold\">{}</span>",
                crate::i18n::hold(lang, *h)
            )
        })
        .collect();
    let stock: String = if lot.stock.is_empty() {
        format!("<tr><td colspan=\"2\">{none}</td></tr>")
    } else {
        lot.stock
            .iter()
            .map(|s| {
                format!(
                    "<tr><td>{}</td><td>{}</td></tr>",
                    esc(&s.location),
                    esc(&s.quantity.to_string())
                )
            })
            .collect()
    };
    let date = |d: Option<chrono::NaiveDate>| {
        d.map(|d| crate::i18n::date(lang, d))
            .unwrap_or_else(|| none.to_owned())
    };
    format!(
        "<section class=\"card\" id=\"lot\"><h1>{l_lot} {lot} <span class=\"muted\">{product}</span></h1><p>{holds}</p>\
         <dl class=\"kv\"><dt>{l_pd}</dt><dd>{pd}</dd><dt>{l_ed}</dt><dd>{ed}</dd></dl>\
         <h2>{l_stock}</h2><table><thead><tr><th>{l_loc}</th><th>{l_qty}</th></tr></thead><tbody>{stock}</tbody></table>\
         <p><a class=\"button secondary\" href=\"/trace?product={pu}&amp;lot={lu}&amp;direction=forward&amp;lang={l}\">{f}</a></p></section>",
        l_lot = t(lang, Msg::Lot),
        lot = esc(&lot.lot),
        product = esc(&lot.product),
        l_pd = t(lang, Msg::ProductionDate),
        pd = date(lot.production_date),
        l_ed = t(lang, Msg::ExpiryDate),
        ed = date(lot.expiry_date),
        l_stock = t(lang, Msg::Stock),
        l_loc = t(lang, Msg::Location),
        l_qty = t(lang, Msg::Quantity),
        pu = super::url_encode(&lot.product),
        lu = super::url_encode(&lot.lot),
        l = lang_param(lang),
        f = t(lang, Msg::TraceForward),
    )
}

/// `GET /unit?code=…` (anything a scanner sends) or `?product=…&serial=…`.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    Query(p): Query<PageParams>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&p, &headers);
    let code = p.code.clone().unwrap_or_default();
    let form = lookup_form(lang, code.trim());
    let show = |title: &str, body: String| {
        page_with(
            lang,
            title,
            Some(&actor),
            &format!("{form}{body}"),
            &[],
            Some(&uri),
        )
        .into_response()
    };
    // `detail` is HTML: a refusal in the reader's words, or an escaped code.
    let refused = |detail: String| {
        format!(
            "<section class=\"card bad\" id=\"not-found\"><p><strong>{}</strong></p><p>{detail}</p></section>",
            t(lang, Msg::NotRegistered),
        )
    };
    let now = app.clock.now();
    let key = match (&p.product, &p.serial) {
        (Some(product), Some(serial)) => {
            match (
                ProductCode::parse(product.trim()),
                Serial::parse(serial.trim()),
            ) {
                (Ok(product), Ok(serial)) => ItemKey { product, serial },
                (Err(e), _) | (_, Err(e)) => {
                    return show(
                        t(lang, Msg::Passport),
                        refused(crate::i18n::refusal_html(lang, &e)),
                    );
                }
            }
        }
        _ if code.trim().is_empty() => {
            return show(t(lang, Msg::Passport), String::new());
        }
        _ => {
            let year = chrono::Datelike::year(&now);
            match crate::passport::unit_of_code(&*app.store, &actor, &code, year).await {
                Ok((crate::scan::Resolved::Item { item }, _)) => {
                    match (
                        ProductCode::parse(&item.product),
                        Serial::parse(&item.serial),
                    ) {
                        (Ok(product), Ok(serial)) => ItemKey { product, serial },
                        _ => return show(t(lang, Msg::Passport), refused(String::new())),
                    }
                }
                Ok((crate::scan::Resolved::Lot { lot }, _)) => {
                    return show(t(lang, Msg::Lot), lot_body(lang, &lot));
                }
                Ok((crate::scan::Resolved::Product { product }, _)) => {
                    return show(
                        t(lang, Msg::Passport),
                        refused(esc(&format!("{} {}", product.def.code, product.def.name))),
                    );
                }
                Err(e) => {
                    return show(
                        t(lang, Msg::Passport),
                        refused(super::refusal_line(lang, &e)),
                    );
                }
            }
        }
    };
    match crate::passport::shown(&*app.store, &actor, &key, now).await {
        Ok(Some(passport)) => {
            let title = format!("{} {}", key.product, key.serial);
            show(
                &title,
                passport_body(lang, super::zone(&app).await, &passport),
            )
        }
        Ok(None) => show(
            t(lang, Msg::Passport),
            refused(esc(&format!("{} {}", key.product, key.serial))),
        ),
        Err(e) => super::refusal(lang, e),
    }
}
