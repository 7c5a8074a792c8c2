//! The recall workspace: the list of campaigns (`/recalls`), a preview of a scope's forward
//! trace with the affected units by state (`/recalls/new`), the form that creates the campaign
//! (`POST /recalls`, through the same [`crate::recall::create`] as the API), and a campaign's
//! page (`/recalls/{code}`: counts, progress to closure, contacts, exports) rendered from the
//! API's own answer, so what the API hides from an actor the page cannot show.

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use threadline_domain::access::Permission;

use super::trace::{TraceQuery, scope_form, scope_inputs};
use super::{esc, lang_of_request, lang_param, page_with, url_encode};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{Lang, Msg, t};

fn severity(lang: Lang, s: &str) -> &str {
    match (lang, s) {
        (Lang::Zh, "critical") => "严重",
        (Lang::En, "critical") => "Critical",
        (Lang::Zh, "major") => "重要",
        (Lang::En, "major") => "Major",
        (Lang::Zh, "minor") => "一般",
        (Lang::En, "minor") => "Minor",
        _ => s,
    }
}

/// `GET /recalls`: every campaign, and (for those who may recall) where a new one starts.
pub async fn list(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let recalls = match crate::recall::campaigns(&*app.store, &actor).await {
        Ok(r) => r,
        Err(e) => return super::refusal(lang, e),
    };
    let zone = super::zone(&app).await;
    let rows: String = recalls
        .iter()
        .map(|r| {
            format!(
                "<tr><td><a href=\"/recalls/{cu}?lang={l}\">{code}</a></td><td><span class=\"badge {sc}\">{sev}</span></td><td>{reason}</td><td>{when}</td><td>{by}</td><td>{status}</td></tr>",
                cu = url_encode(&r.code),
                l = lang_param(lang),
                code = esc(&r.code),
                sc = if r.severity == "critical" { "bad" } else { "warn" },
                sev = esc(severity(lang, &r.severity)),
                reason = esc(&r.reason),
                when = esc(&crate::i18n::datetime(lang, zone, &r.created_at)),
                by = esc(&r.created_by),
                status = t(lang, if r.closed_at.is_some() { Msg::Closed } else { Msg::Open }),
            )
        })
        .collect();
    let table = if recalls.is_empty() {
        format!("<p class=\"muted\">{}</p>", t(lang, Msg::NoneRecorded))
    } else {
        format!(
            "<div class=\"table-wrap\"><table id=\"recalls\"><thead><tr><th>{c}</th><th>{s}</th><th>{r}</th><th>{w}</th><th>{b}</th><th>{st}</th></tr></thead><tbody>{rows}</tbody></table></div>",
            c = t(lang, Msg::RecallCode),
            s = t(lang, Msg::Severity),
            r = t(lang, Msg::FieldReason),
            w = t(lang, Msg::When),
            b = t(lang, Msg::Who),
            st = t(lang, Msg::Status),
        )
    };
    let new = if actor.permissions.contains(Permission::Recall) {
        let q = TraceQuery::read(&BTreeMap::new());
        format!(
            "<section class=\"card\"><h2>{}</h2>{}</section>",
            t(lang, Msg::NewRecall),
            scope_form(lang, &q, "/recalls/new", Msg::Preview)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<section class=\"card\"><h1>{}</h1>{table}</section>{new}",
        t(lang, Msg::Recalls)
    );
    page_with(
        lang,
        t(lang, Msg::Recalls),
        Some(&actor),
        &body,
        &[],
        Some(&uri),
    )
    .into_response()
}

/// `GET /recalls/new?…scope…`: what a campaign on this scope would cover, and the form that
/// creates it.
pub async fn preview(
    State(app): State<AppState>,
    actor: Actor,
    Query(raw): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let q = TraceQuery::read(&raw);
    preview_page(&app, &actor, lang, &q, &uri, None).await
}

async fn preview_page(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
    q: &TraceQuery,
    uri: &Uri,
    error: Option<String>,
) -> Response {
    let form = format!(
        "<section class=\"card\"><h1>{}</h1>{}</section>",
        t(lang, Msg::NewRecall),
        scope_form(lang, q, "/recalls/new", Msg::Preview)
    );
    let show = |body: String| {
        page_with(
            lang,
            t(lang, Msg::NewRecall),
            Some(actor),
            &format!("{form}{body}"),
            &[],
            Some(uri),
        )
        .into_response()
    };
    let error = error
        .map(|e| format!("<section class=\"card bad\" id=\"recall-error\">{e}</section>"))
        .unwrap_or_default();
    if q.fields.is_empty() {
        return show(error);
    }
    let trace = async {
        let scope = q
            .scope(super::zone(app).await)?
            .check(app.clock.now(), "")?;
        crate::recall::preview(&*app.store, actor, scope).await
    }
    .await;
    let trace = match trace {
        Ok(t) => t,
        Err(AppError::Internal(m)) => return super::refusal(lang, AppError::Internal(m)),
        Err(e) => {
            return show(format!(
                "{error}<section class=\"card bad\" id=\"recall-error\">{}</section>",
                super::refusal_line(lang, &e)
            ));
        }
    };
    // Counted as the campaign counts them (`recall::Tally`): a part built into another unit
    // goes where that unit goes.
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let mut tally = crate::recall::Tally::default();
    let (mut units, mut lots) = (0, 0);
    for n in &trace.nodes {
        match &n.state {
            Some(s) => {
                units += 1;
                if tally.add(s) {
                    *by_state
                        .entry(crate::i18n::status(lang, s.status))
                        .or_default() += 1;
                }
            }
            None => lots += 1,
        }
    }
    let total: usize = by_state.values().sum();
    let (ours, outside) = (tally.in_our_hands, tally.outside);
    let bars: String = by_state
        .iter()
        .map(|(state, n)| bar(state, *n, total))
        .collect();
    let hidden: String = q
        .fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        .chain(q.as_of.iter().map(|d| {
            format!(
                "<input type=\"hidden\" name=\"as_of\" value=\"{}\">",
                esc(d)
            )
        }))
        .collect();
    let csrf = actor
        .session
        .as_ref()
        .map(|s| {
            format!(
                "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
                esc(&s.csrf_token)
            )
        })
        .unwrap_or_default();
    let create = if actor.permissions.contains(Permission::Recall) {
        format!(
            "<section class=\"card\"><h2>{h}</h2><form method=\"post\" action=\"/recalls\" class=\"grid\" id=\"create-recall\">{csrf}{hidden}\
             <input type=\"hidden\" name=\"lang\" value=\"{l}\">\
             <div><label for=\"r-code\">{l_code}</label><input id=\"r-code\" name=\"code\" autocomplete=\"off\" placeholder=\"RC-…\"></div>\
             <div><label for=\"r-severity\">{l_sev}</label><select id=\"r-severity\" name=\"severity\"><option value=\"critical\">{c}</option><option value=\"major\" selected>{ma}</option><option value=\"minor\">{mi}</option></select></div>\
             <div class=\"wide\"><label for=\"r-reason\">{l_reason}</label><input id=\"r-reason\" name=\"reason\" required></div>\
             <div class=\"wide\"><p class=\"hint\">{hint}</p><button type=\"submit\" class=\"danger\">{b}</button></div></form></section>",
            h = t(lang, Msg::CreateRecall),
            l = lang_param(lang),
            l_code = t(lang, Msg::RecallCode),
            l_sev = t(lang, Msg::Severity),
            c = severity(lang, "critical"),
            ma = severity(lang, "major"),
            mi = severity(lang, "minor"),
            l_reason = t(lang, Msg::FieldReason),
            hint = t(lang, Msg::RecallHint),
            b = t(lang, Msg::CreateRecall),
        )
    } else {
        String::new()
    };
    show(format!(
        "{error}<section class=\"card\" id=\"recall-preview\"><h2>{h}</h2>\
         <p id=\"preview-summary\">{l_units}: <strong>{units}</strong> · {l_ours}: <strong>{ours}</strong> · {l_out}: <strong>{outside}</strong> · {l_lots}: <strong>{lots}</strong></p>\
         <div class=\"bars\">{bars}</div></section>{create}",
        h = t(lang, Msg::AffectedByState),
        l_units = t(lang, Msg::Units),
        l_ours = t(lang, Msg::InOurHands),
        l_out = t(lang, Msg::Outside),
        l_lots = t(lang, Msg::Lots),
    ))
}

/// A horizontal bar: `n` of `total`, as an SVG (the policy allows no inline style).
fn bar(label: &str, n: usize, total: usize) -> String {
    let width = (n * 200).checked_div(total).unwrap_or(0);
    format!(
        "<div class=\"bar\"><span>{}</span><svg viewBox=\"0 0 200 14\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect width=\"200\" height=\"14\" rx=\"3\" fill=\"#e6ebf1\"/><rect width=\"{width}\" height=\"14\" rx=\"3\" fill=\"#1f6feb\"/></svg><span>{n}</span></div>",
        esc(label)
    )
}

/// `POST /recalls`: the create form, sent on to [`crate::recall::create`].
pub async fn create(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let (lang, f) = match super::posted_form(&actor, &headers, form) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    let q = TraceQuery::read(&f);
    let scope = match q.scope(super::zone(&app).await) {
        Ok(s) => s,
        Err(e) => {
            return preview_page(
                &app,
                &actor,
                lang,
                &q,
                &uri,
                Some(super::refusal_line(lang, &e)),
            )
            .await;
        }
    };
    let code = f
        .get("code")
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            format!(
                "RC-{}-{}",
                app.clock.now().format("%Y%m%d"),
                &uuid::Uuid::now_v7().simple().to_string()[26..]
            )
        });
    let body = json!({
        "code": code,
        "reason": f.get("reason").map(|r| r.trim()).unwrap_or(""),
        "severity": f.get("severity").map(String::as_str).unwrap_or("major"),
        "scope": {
            "product": scope.product, "serial": scope.serial, "lot": scope.lot,
            "supplier": scope.supplier, "work_order": scope.work_order, "as_of": scope.as_of,
        },
    });
    let json_headers = super::json_request();
    let created = crate::recall::create(
        State(app.clone()),
        actor.clone(),
        pending,
        json_headers,
        Bytes::from(body.to_string()),
    )
    .await;
    match created {
        Ok(mut resp) if resp.status().is_success() => super::done_redirect(
            &mut resp,
            &format!("/recalls/{}?lang={}", url_encode(&code), lang_param(lang)),
        ),
        Ok(resp) => {
            let message = error_text(resp).await;
            preview_page(&app, &actor, lang, &q, &uri, Some(message)).await
        }
        Err(AppError::Internal(m)) => super::refusal(lang, AppError::Internal(m)),
        Err(e) => {
            preview_page(
                &app,
                &actor,
                lang,
                &q,
                &uri,
                Some(super::refusal_line(lang, &e)),
            )
            .await
        }
    }
}

async fn json_of(resp: Response) -> Value {
    match axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

async fn error_text(resp: Response) -> String {
    let v = json_of(resp).await;
    v["errors"][0]["message"]
        .as_str()
        .or(v["error"]["message"].as_str())
        .unwrap_or("")
        .to_owned()
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// `GET /recalls/{code}`: the campaign as the API shows it to this actor.
pub async fn campaign(
    State(app): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let v = match crate::recall::get(State(app.clone()), actor.clone(), Path(code.clone())).await {
        Ok(resp) if resp.status().is_success() => json_of(resp).await,
        Ok(resp) => return super::refusal(lang, AppError::NotFound(error_text(resp).await)),
        Err(e) => return super::refusal(lang, e),
    };
    let zone = super::zone(&app).await;
    let none = t(lang, Msg::None);
    let p = &v["progress"];
    let units = count(p, "units");
    let closure: String = [
        ("scrapped", Msg::ClosureScrapped),
        ("repaired", Msg::ClosureRepaired),
        ("returned", Msg::ClosureReturned),
        ("located", Msg::ClosureLocated),
        ("not_found", Msg::ClosureNotFound),
    ]
    .iter()
    .map(|(k, m)| {
        bar(
            t(lang, *m),
            usize::try_from(count(p, k)).unwrap_or(0),
            usize::try_from(units).unwrap_or(0),
        )
    })
    .collect();
    let by_status: String = v["by_status"]
        .as_object()
        .map(|o| {
            let total: u64 = o.values().filter_map(Value::as_u64).sum();
            o.iter()
                .map(|(k, n)| {
                    let label = threadline_domain::projection::ItemStatus::ALL
                        .iter()
                        .find(|s| s.as_str() == k)
                        .map(|s| crate::i18n::status(lang, *s).to_owned())
                        .unwrap_or_else(|| k.clone());
                    bar(
                        &label,
                        usize::try_from(n.as_u64().unwrap_or(0)).unwrap_or(0),
                        usize::try_from(total).unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let contacts: String = v["contacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let contact = c.get("personal").or(c.get("contact")).map(|ct| {
                        ["person", "phone", "email"]
                            .iter()
                            .filter_map(|k| ct[*k].as_str())
                            .collect::<Vec<_>>()
                            .join(" · ")
                    });
                    format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(c["party"].as_str().unwrap_or("")),
                        esc(c["name"].as_str().unwrap_or("")),
                        t(lang, if c["kind"] == "customer" { Msg::FieldCustomer } else { Msg::FieldDistributor }),
                        c["units"].as_u64().unwrap_or(0),
                        esc(&c["regions"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()),
                        contact.filter(|s| !s.is_empty()).map(|s| esc(&s)).unwrap_or_else(|| none.to_owned()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let cu = url_encode(&code);
    let mut exports = format!(
        "<a class=\"button secondary\" id=\"units-csv\" href=\"/api/v1/recalls/{cu}/units?format=csv\">{u} CSV</a> \
         <a class=\"button secondary\" href=\"/api/v1/recalls/{cu}/units?format=xlsx\">{u} XLSX</a>",
        u = t(lang, Msg::AffectedUnits),
    );
    if actor.permissions.contains(Permission::ReadCustomerData) {
        exports.push_str(&format!(
            " <a class=\"button secondary\" id=\"contacts-xlsx\" href=\"/api/v1/recalls/{cu}/contacts?format=xlsx\">{c} XLSX</a>",
            c = t(lang, Msg::Contacts),
        ));
    }
    let closed = v["closed_at"].is_string();
    let csrf = esc(&actor
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default());
    let narrowings = narrowings_card(lang, zone, &v, &cu);
    let narrow = if !closed && actor.permissions.contains(Permission::Recall) {
        format!(
            "<section class=\"card\" id=\"narrow\"><h2>{h}</h2><p class=\"hint\">{hint}</p>\
             <form method=\"post\" action=\"/recalls/{cu}/narrow\" class=\"inline\" id=\"narrow-recall\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">{inputs}\
             <div class=\"wide\"><label for=\"n-reason\">{l_reason}</label><input id=\"n-reason\" name=\"reason\" required maxlength=\"1000\"></div>\
             <button type=\"submit\">{h}</button></form></section>",
            h = t(lang, Msg::NarrowRecall),
            hint = t(lang, Msg::NarrowHint),
            l = lang_param(lang),
            inputs = scope_inputs(lang, &TraceQuery::read(&BTreeMap::new()), "n"),
            l_reason = t(lang, Msg::FieldReason),
        )
    } else {
        String::new()
    };
    let close = if closed {
        format!(
            "<section class=\"card\" id=\"closure\"><h2>{}</h2><p>{} · {}</p><p>{}</p></section>",
            t(lang, Msg::Closed),
            esc(v["closed_by"].as_str().unwrap_or("")),
            esc(&v["closed_at"]
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| crate::i18n::datetime(lang, zone, &t))
                .unwrap_or_default()),
            esc(v["close_note"].as_str().unwrap_or("")),
        )
    } else if actor.permissions.contains(Permission::Recall) {
        // Where the plant requires it, closing is signed: name, password again, meaning.
        let signature = if app
            .auth
            .signatures
            .contains(crate::esign::Signed::RecallClose)
        {
            format!(
                "<fieldset id=\"close-signature\"><legend>{lg}</legend><p class=\"hint\">{sh}</p><div class=\"grid\">\
                 <div><label for=\"sig-user\">{lu}</label><input id=\"sig-user\" name=\"sig_user\" value=\"{user}\" autocomplete=\"username\" required></div>\
                 <div><label for=\"sig-password\">{lp}</label><input id=\"sig-password\" name=\"sig_password\" type=\"password\" autocomplete=\"current-password\" required></div>\
                 <div><label for=\"sig-meaning\">{lm}</label><input id=\"sig-meaning\" name=\"sig_meaning\" value=\"{meaning}\" required></div></div></fieldset>",
                lg = t(lang, Msg::Signature),
                sh = t(lang, Msg::SignatureHint),
                lu = t(lang, Msg::UserName),
                user = esc(actor.user_name().unwrap_or("")),
                lp = t(lang, Msg::Password),
                lm = t(lang, Msg::SignatureMeaning),
                meaning = t(lang, Msg::ClosureApproved),
            )
        } else {
            String::new()
        };
        format!(
            "<section class=\"card\"><h2>{h}</h2><p class=\"hint\">{hint}</p><form method=\"post\" action=\"/recalls/{cu}/close\" id=\"close-recall\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
             <label for=\"close-note\">{nl}</label><input id=\"close-note\" name=\"note\" maxlength=\"2000\">{signature}\
             <button type=\"submit\" class=\"danger\">{h}</button></form></section>",
            h = t(lang, Msg::CloseRecall),
            hint = t(lang, Msg::CloseHint),
            l = lang_param(lang),
            nl = t(lang, Msg::CloseNote),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<section class=\"card\" id=\"campaign\"><h1>{l_recall} {code}</h1><p><span class=\"badge {sc}\">{sev}</span><span class=\"badge {stc}\" id=\"campaign-status\">{status}</span></p>\
         <dl class=\"kv\"><dt>{l_reason}</dt><dd>{reason}</dd><dt>{l_who}</dt><dd>{by} · {when}</dd></dl><p>{exports}</p></section>\
         <div class=\"cols\"><section class=\"card\"><h2>{l_counts}</h2><dl class=\"kv\" id=\"campaign-counts\"><dt>{l_units}</dt><dd>{units}</dd><dt>{l_lots}</dt><dd>{lots}</dd>\
         <dt>{l_held}</dt><dd>{held}</dd><dt>{l_ours}</dt><dd>{ours}</dd><dt>{l_out}</dt><dd>{outside}</dd></dl><h3>{l_state}</h3><div class=\"bars\">{by_status}</div></section>\
         <section class=\"card\"><h2>{l_progress} <span id=\"progress\">{pct:.0}%</span></h2><div class=\"bars\">{closure}</div></section></div>\
         <section class=\"card\"><h2>{l_contacts}</h2><div class=\"table-wrap\"><table id=\"contacts\"><thead><tr><th>{l_party}</th><th>{l_name}</th><th>{l_kind}</th><th>{l_units}</th><th>{l_region}</th><th>{l_contact}</th></tr></thead><tbody>{contacts}</tbody></table></div></section>{narrowings}{narrow}{close}",
        l_recall = t(lang, Msg::Recall),
        code = esc(&code),
        sc = if v["severity"] == "critical" {
            "bad"
        } else {
            "warn"
        },
        sev = esc(severity(lang, v["severity"].as_str().unwrap_or(""))),
        stc = if closed { "ok" } else { "warn" },
        status = t(lang, if closed { Msg::Closed } else { Msg::Open }),
        l_reason = t(lang, Msg::FieldReason),
        reason = esc(v["reason"].as_str().unwrap_or("")),
        l_who = t(lang, Msg::Who),
        by = esc(v["created_by"].as_str().unwrap_or("")),
        when = esc(&v["created_at"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| crate::i18n::datetime(lang, zone, &t))
            .unwrap_or_default()),
        l_counts = t(lang, Msg::Scope),
        l_units = t(lang, Msg::Units),
        units = count(&v, "units"),
        l_lots = t(lang, Msg::Lots),
        lots = count(&v, "lots"),
        l_held = t(lang, Msg::HeldByRecall),
        held = count(&v, "held_units") + count(&v, "held_lots"),
        l_ours = t(lang, Msg::InOurHands),
        ours = count(&v, "in_our_hands"),
        l_out = t(lang, Msg::Outside),
        outside = count(&v, "outside"),
        l_state = t(lang, Msg::AffectedByState),
        l_progress = t(lang, Msg::Progress),
        pct = p["percent"].as_f64().unwrap_or(0.0),
        l_contacts = t(lang, Msg::Contacts),
        l_party = t(lang, Msg::Party),
        l_name = t(lang, Msg::Name),
        l_kind = t(lang, Msg::Kind),
        l_region = t(lang, Msg::FieldRegion),
        l_contact = t(lang, Msg::Contact),
    );
    page_with(
        lang,
        &format!("{} {code}", t(lang, Msg::Recall)),
        Some(&actor),
        &body,
        &[],
        Some(&uri),
    )
    .into_response()
}

/// The narrowings of a campaign (from the API's JSON), with the export of what they took out.
fn narrowings_card(lang: Lang, zone: chrono_tz::Tz, v: &Value, cu: &str) -> String {
    let Some(list) = v["narrowings"].as_array().filter(|a| !a.is_empty()) else {
        return String::new();
    };
    let rows: String = list
        .iter()
        .map(|n| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&n["at"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| crate::i18n::datetime(lang, zone, &t))
                    .unwrap_or_default()),
                esc(n["by"].as_str().unwrap_or("")),
                esc(n["reason"].as_str().unwrap_or("")),
                n["removed_units"].as_u64().unwrap_or(0),
                n["removed_lots"].as_u64().unwrap_or(0),
                n["released"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"narrowings\"><h2>{h}</h2><div class=\"table-wrap\"><table><thead><tr><th>{l_when}</th><th>{l_who}</th><th>{l_reason}</th><th>{l_units}</th><th>{l_lots}</th><th>{l_rel}</th></tr></thead><tbody>{rows}</tbody></table></div>\
         <p><a class=\"button secondary\" id=\"removed-csv\" href=\"/api/v1/recalls/{cu}/units?removed=true&amp;format=csv\">{l_removed} CSV</a></p></section>",
        h = t(lang, Msg::Narrowings),
        l_when = t(lang, Msg::When),
        l_who = t(lang, Msg::Who),
        l_reason = t(lang, Msg::FieldReason),
        l_units = t(lang, Msg::Units),
        l_lots = t(lang, Msg::Lots),
        l_rel = t(lang, Msg::HoldsReleased),
        l_removed = t(lang, Msg::RemovedFromRecall),
    )
}

/// After a campaign form: back to the campaign, or a page that says why it was refused.
fn after_campaign_form(
    lang: Lang,
    actor: &Actor,
    code: &str,
    uri: Uri,
    title: Msg,
    error_id: &str,
    outcome: Result<Response, AppError>,
) -> Response {
    match outcome {
        Ok(mut resp) => super::done_redirect(
            &mut resp,
            &format!("/recalls/{}?lang={}", url_encode(code), lang_param(lang)),
        ),
        // A refused signature is a 403 the signer must read (the route's own permission was
        // checked before the handler ran).
        Err(e @ (AppError::Unauthorized(_) | AppError::Internal(_))) => super::refusal(lang, e),
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            let message = errors
                .first()
                .map(|e| crate::i18n::refusal_html(lang, e))
                .unwrap_or_default();
            // The switch of this page leads to the campaign: the form's address takes no GET.
            let here = format!("/recalls/{}", url_encode(code))
                .parse::<Uri>()
                .unwrap_or(uri);
            (
                status,
                page_with(
                    lang,
                    t(lang, title),
                    Some(actor),
                    &format!(
                        "<section><p class=\"bad\" id=\"{error_id}\" role=\"alert\">{}</p><p><a href=\"/recalls/{}?lang={}\">{} {}</a></p></section>",
                        message,
                        url_encode(code),
                        lang_param(lang),
                        t(lang, Msg::Recall),
                        esc(code)
                    ),
                    &[],
                    Some(&here),
                ),
            )
                .into_response()
        }
    }
}

/// `POST /recalls/{code}/narrow`: the narrowing form, sent on to [`crate::recall::narrow`].
pub async fn narrow(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    Path(code): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let (lang, f) = match super::posted_form(&actor, &headers, form) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    let q = TraceQuery::read(&f);
    let outcome = match q.scope(super::zone(&app).await) {
        Err(e) => Err(e),
        Ok(scope) => {
            let body = json!({
                "reason": f.get("reason").map(|r| r.trim()).unwrap_or(""),
                "scope": {
                    "product": scope.product, "serial": scope.serial, "lot": scope.lot,
                    "supplier": scope.supplier, "work_order": scope.work_order,
                },
            });
            crate::recall::narrow(
                State(app.clone()),
                actor.clone(),
                pending,
                Path(code.clone()),
                super::json_request(),
                Bytes::from(body.to_string()),
            )
            .await
        }
    };
    after_campaign_form(
        lang,
        &actor,
        &code,
        uri,
        Msg::NarrowRecall,
        "narrow-error",
        outcome,
    )
}

/// `POST /recalls/{code}/close`: the close form, sent on to [`crate::recall::close`].
pub async fn close(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    Path(code): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let (lang, f) = match super::posted_form(&actor, &headers, form) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    let note = f.get("note").map(|n| n.trim()).filter(|n| !n.is_empty());
    let field = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut body = json!({ "note": note });
    if f.contains_key("sig_user") {
        body["signature"] = json!({
            "user": field("sig_user"),
            "password": f.get("sig_password").cloned().unwrap_or_default(),
            "meaning": field("sig_meaning"),
        });
    }
    let body = Bytes::from(body.to_string());
    let outcome = crate::recall::close(
        State(app.clone()),
        actor.clone(),
        pending,
        Path(code.clone()),
        super::json_request(),
        body,
    )
    .await;
    after_campaign_form(
        lang,
        &actor,
        &code,
        uri,
        Msg::CloseRecall,
        "close-error",
        outcome,
    )
}
