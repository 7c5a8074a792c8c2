//! Server-rendered pages. Plain HTML and CSS, no script yet: fast on a warehouse PDA.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use threadline_domain::codes::ItemKey;
use threadline_domain::{ProductCode, Serial};
use threadline_store::EventQuery;

use crate::AppState;
use crate::i18n::{Lang, Msg, t};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#17324d;color:#fff;padding:12px 16px;display:flex;justify-content:space-between;align-items:center}\
header a{color:#fff}main{padding:16px;max-width:960px;margin:auto}section{background:#fff;border-radius:8px;padding:16px;margin-bottom:16px}\
label{display:block;margin:8px 0 4px}input{font-size:1.1rem;padding:8px;width:100%;box-sizing:border-box}\
button{font-size:1.1rem;padding:10px 16px;margin-top:12px;background:#1f6feb;color:#fff;border:0;border-radius:6px}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:6px;border-bottom:1px solid #e3e6ea;vertical-align:top}\
.badge{display:inline-block;padding:2px 8px;border-radius:10px;background:#e3e6ea;margin-right:4px}.hold{background:#ffd8d3;color:#8a1c0f}\
.ok{color:#116329}.bad{color:#8a1c0f}";

fn page(lang: Lang, title: &str, body: &str) -> Html<String> {
    let other = if lang == Lang::Zh { "en" } else { "zh" };
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Threadline</title><style>{STYLE}</style></head><body><header><a href=\"/?lang={cur}\"><strong>Threadline</strong></a>\
         <a href=\"?lang={other}\">{switch}</a></header><main>{body}</main></body></html>",
        code = lang.code(),
        cur = if lang == Lang::Zh { "zh" } else { "en" },
        title = esc(title),
        switch = t(lang, Msg::SwitchLanguage),
    ))
}

#[derive(Debug, Deserialize)]
pub struct PageParams {
    lang: Option<String>,
    product: Option<String>,
    serial: Option<String>,
    /// Whatever the scanner sent.
    code: Option<String>,
}

fn lang_of(p: &PageParams, headers: &HeaderMap) -> Lang {
    Lang::negotiate(
        p.lang.as_deref(),
        headers.get("accept-language").and_then(|v| v.to_str().ok()),
    )
}

fn lookup_form(lang: Lang, code: &str) -> String {
    format!(
        "<section><h2>{h}</h2><form method=\"get\" action=\"/unit\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <label for=\"code\">{label}</label><input id=\"code\" name=\"code\" value=\"{cv}\" required autofocus autocomplete=\"off\">\
         <p><small>{hint}</small></p><button type=\"submit\">{b}</button></form></section>",
        h = t(lang, Msg::LookUpUnit),
        l = if lang == Lang::Zh { "zh" } else { "en" },
        label = t(lang, Msg::ScanOrType),
        hint = t(lang, Msg::ScanHint),
        b = t(lang, Msg::LookUp),
        cv = esc(code),
    )
}

pub async fn home(
    State(app): State<AppState>,
    Query(p): Query<PageParams>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&p, &headers);
    let ledger = match app.store.verify().await {
        Ok(r) if r.first_break.is_none() => {
            format!(
                "<span class=\"ok\">✔ {} · {} {}</span>",
                t(lang, Msg::LedgerIntact),
                r.entries,
                t(lang, Msg::Entries)
            )
        }
        Ok(r) => format!(
            "<span class=\"bad\">✘ {}: {}</span>",
            t(lang, Msg::LedgerBroken),
            esc(&r.first_break.map(|b| b.to_string()).unwrap_or_default())
        ),
        Err(_) => format!(
            "<span class=\"bad\">✘ {}</span>",
            t(lang, Msg::LedgerBroken)
        ),
    };
    let body = format!(
        "<section><h1>Threadline</h1><p>{tag}</p><p>{ledger}</p><p>{eng}: {engine} · {api}</p></section>{form}",
        tag = t(lang, Msg::AppTagline),
        eng = t(lang, Msg::Engine),
        engine = app.store.engine(),
        api = t(lang, Msg::ApiHint),
        form = lookup_form(lang, ""),
    );
    page(lang, t(lang, Msg::Home), &body).into_response()
}

pub async fn unit(
    State(app): State<AppState>,
    Query(p): Query<PageParams>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&p, &headers);
    let code = p.code.clone().unwrap_or_default();
    let form = lookup_form(lang, code.trim());
    let not_found = |detail: String| {
        page(
            lang,
            t(lang, Msg::LookUpUnit),
            &format!(
                "{form}<section class=\"bad\"><p>{}</p><p>{}</p></section>",
                t(lang, Msg::NotRegistered),
                esc(&detail)
            ),
        )
        .into_response()
    };
    // A unit named by product and serial, or by whatever the scanner sent.
    let item = match (&p.product, &p.serial) {
        (Some(product), Some(serial)) => {
            match (
                ProductCode::parse(product.trim()),
                Serial::parse(serial.trim()),
            ) {
                (Ok(product), Ok(serial)) => app
                    .store
                    .item(&ItemKey { product, serial })
                    .await
                    .ok()
                    .flatten(),
                _ => None,
            }
        }
        _ => {
            let year = chrono::Datelike::year(&app.clock.now());
            match crate::scan::resolve(&*app.store, &code, year).await {
                Ok((crate::scan::Resolved::Item { item }, _)) => Some(item),
                Ok(_) => None,
                Err(e) => return not_found(e.first_message()),
            }
        }
    };
    let Some(item) = item else {
        return not_found(String::new());
    };
    let (Ok(product), Ok(serial)) = (
        ProductCode::parse(&item.product),
        Serial::parse(&item.serial),
    ) else {
        return not_found(String::new());
    };
    let key = ItemKey { product, serial };
    let none = t(lang, Msg::None);
    let opt = |v: &Option<String>| v.as_deref().map(esc).unwrap_or_else(|| none.to_owned());
    let holds: String = item
        .holds
        .iter()
        .map(|h| {
            format!(
                "<span class=\"badge hold\">{}</span>",
                crate::i18n::hold(lang, *h)
            )
        })
        .collect();
    let children: Vec<String> = item
        .children
        .iter()
        .map(|c| format!("{} {}", esc(c.product.as_str()), esc(c.serial.as_str())))
        .collect();
    let events = app
        .store
        .events(&EventQuery {
            item: Some(key.clone()),
            limit: 1000,
            ..Default::default()
        })
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let rows: String = events
        .iter()
        .map(|e| {
            let ev = &e.event;
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&ev.event_time.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
                esc(ev
                    .biz_step
                    .as_ref()
                    .map(|b| b.as_str())
                    .unwrap_or(ev.kind.as_str())),
                esc(ev.biz_location.as_ref().map(|l| l.as_str()).unwrap_or(none)),
                esc(&ev.actor)
            )
        })
        .collect();
    let body = format!(
        "{form}<section><h2>{prod} {ser}</h2><p><span class=\"badge\">{status}</span>{holds}</p><table>\
         <tr><th>{l_loc}</th><td>{loc}</td></tr><tr><th>{l_cus}</th><td>{cus}</td></tr><tr><th>{l_lot}</th><td>{lot}</td></tr>\
         <tr><th>{l_par}</th><td>{par}</td></tr><tr><th>{l_comp}</th><td>{comp}</td></tr></table></section>\
         <section><h2>{l_tl}</h2><table><tr><th>{l_when}</th><th>{l_step}</th><th>{l_where}</th><th>{l_who}</th></tr>{rows}</table></section>",
        prod = esc(&item.product),
        ser = esc(&item.serial),
        status = crate::i18n::status(lang, item.status),
        l_loc = t(lang, Msg::Location),
        loc = opt(&item.location),
        l_cus = t(lang, Msg::Custodian),
        cus = opt(&item.custodian),
        l_lot = t(lang, Msg::Lot),
        lot = opt(&item.lot),
        l_par = t(lang, Msg::Parent),
        par = item
            .parent
            .as_ref()
            .map(|p| format!("{} {}", esc(p.product.as_str()), esc(p.serial.as_str())))
            .unwrap_or_else(|| none.to_owned()),
        l_comp = t(lang, Msg::Components),
        comp = if children.is_empty() {
            none.to_owned()
        } else {
            children.join("<br>")
        },
        l_tl = t(lang, Msg::Timeline),
        l_when = t(lang, Msg::When),
        l_step = t(lang, Msg::Step),
        l_where = t(lang, Msg::Where),
        l_who = t(lang, Msg::Who),
    );
    page(lang, &format!("{} {}", item.product, item.serial), &body).into_response()
}
