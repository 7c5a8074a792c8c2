//! The label pages.
//!
//! - `/labels` (needs `commission`): a production lead allocates a block of new serials for a
//!   product, prints the block's labels — a PDF (roll or A4 sheets) or ZPL to download, or ZPL
//!   sent to a network printer — and reprints one serial's label.
//! - `/admin/labels` (needs `configure`): label templates, each edited as its JSON definition
//!   with a preview drawn from sample values — on the server when the form is sent with
//!   "Preview", and as the definition is typed by `/assets/labels.js`, which asks the API's
//!   preview (`POST /api/v1/label-templates/preview`) for an SVG.
//!
//! Every form carries the session's CSRF token and goes through the API's own code (the
//! allocation, `labels::download_job` / `print_job`, the template handlers), so the rules, the
//! ledger records of a print or a reprint, and the audit are the API's.

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use threadline_domain::error::FieldError;

use super::{esc, lang_of_request, lang_param, page_with, table, url_encode};
use crate::AppState;
use crate::audit::AuditNote;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{Lang, Msg, int, t};

/// The sample values a template is previewed with, by placeholder.
const SAMPLE: [(&str, &str); 7] = [
    ("serial", "TC-00001"),
    ("product", "TC"),
    ("product_name", "控制器 Controller"),
    ("gtin", "09521234543213"),
    ("lot", "L-001"),
    ("expiry", "2027-12-31"),
    ("production_date", "2026-12-01"),
];

/// The template a new one starts from: a 50 × 30 mm unit label with a GS1 DataMatrix.
fn starter() -> Value {
    json!({"width_mm": 50, "height_mm": 30, "dpi": 203, "fields": [
        {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name}"},
        {"type": "barcode", "x_mm": 2, "y_mm": 6, "symbology": "gs1_datamatrix", "module_mm": 0.5,
         "data": "(01){gtin}(21){serial}"}
    ]})
}

fn csrf_of(actor: &Actor) -> String {
    actor
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default()
}

/// The hidden fields every form of these pages carries.
fn hidden(actor: &Actor, lang: Lang) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">",
        esc(&csrf_of(actor)),
        lang_param(lang)
    )
}

/// A refusal's problems, each with the field it names.
fn problems(lang: Lang, errors: &[FieldError]) -> String {
    super::form_errors(lang, errors.iter().map(|e| (None, e)))
}

fn input(id: &str, name: &str, label: &str, value: &str, extra: &str) -> String {
    format!(
        "<div><label for=\"{id}\">{label}</label><input id=\"{id}\" name=\"{name}\" value=\"{v}\" autocomplete=\"off\"{extra}></div>",
        v = esc(value),
    )
}

fn options(items: &[(String, String)], current: &str) -> String {
    items
        .iter()
        .map(|(value, label)| {
            format!(
                "<option value=\"{v}\"{s}>{l}</option>",
                v = esc(value),
                s = if value == current { " selected" } else { "" },
                l = esc(label),
            )
        })
        .collect()
}

fn select(id: &str, name: &str, label: &str, items: &[(String, String)], current: &str) -> String {
    format!(
        "<div><label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{name}\" required>{}</select></div>",
        options(items, current)
    )
}

/// The template and output choices of a print form.
fn print_choices(lang: Lang, templates: &[String], f: &BTreeMap<String, String>) -> String {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let names: Vec<(String, String)> = templates.iter().map(|n| (n.clone(), n.clone())).collect();
    let outputs = [
        ("pdf-roll", Msg::OutputPdfRoll),
        ("pdf-a4", Msg::OutputPdfA4),
        ("zpl", Msg::OutputZpl),
    ]
    .map(|(v, m)| (v.to_owned(), t(lang, m).to_owned()));
    format!(
        "{}{}",
        select(
            &format!("{}-template", get("do")),
            "template",
            t(lang, Msg::LabelTemplate),
            &names,
            get("template"),
        ),
        select(
            &format!("{}-output", get("do")),
            "output",
            t(lang, Msg::LabelOutput),
            &outputs,
            get("output"),
        ),
    )
}

/// What `/labels` shows besides its forms.
enum Outcome {
    None,
    Refused(Vec<FieldError>),
    /// Labels sent to a printer: how many, and where.
    Sent(u64, String),
}

#[derive(Debug, Default, serde::Deserialize)]
struct LabelsParams {
    allocation: Option<String>,
}

/// The event `id` names, if it is one `actor` reads: for an account of one site, one that
/// happened there (an allocation of its own, a commissioning on its line).
async fn block(app: &AppState, actor: &Actor, id: &str) -> Option<threadline_domain::event::Event> {
    let id = id.parse::<uuid::Uuid>().ok()?;
    let event = app.store.event(id).await.ok()??.event;
    match crate::site::SiteScope::of(&*app.store, actor).await {
        Ok(None) => Some(event),
        Ok(Some(site)) => site.happened_here(&event).then_some(event),
        Err(_) => None,
    }
}

/// The allocation block a page shows: its product, how many serials, the first and last.
async fn block_summary(app: &AppState, actor: &Actor, lang: Lang, id: &str) -> String {
    let Some(event) = block(app, actor, id).await else {
        return String::new();
    };
    let items = &event.items;
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return String::new();
    };
    format!(
        "<p class=\"ok\" id=\"allocated\" role=\"status\">✔ {allocated}: {product} · {n} · <code>{first}</code> … <code>{last}</code></p>",
        allocated = t(lang, Msg::AllocatedBlock),
        product = esc(first.product.as_str()),
        n = int(lang, items.len() as i64),
        first = esc(first.serial.as_str()),
        last = esc(last.serial.as_str()),
    )
}

/// `/labels` with its three forms, `f` holding what was sent.
async fn render_labels(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
    uri: &Uri,
    f: &BTreeMap<String, String>,
    outcome: Outcome,
    status: StatusCode,
) -> Response {
    let templates: Vec<String> = match app.store.label_templates().await {
        Ok(t) => t.into_iter().map(|r| r.name).collect(),
        Err(e) => return super::refusal(lang, e.into()),
    };
    let products: Vec<(String, String)> = match app
        .store
        .products(&threadline_store::ListQuery {
            search: None,
            kind: None,
            parent: None,
            after: None,
            limit: 1000,
        })
        .await
    {
        Ok(p) => p
            .items
            .into_iter()
            .filter(|p| p.def.tracking == threadline_domain::master::TrackingMode::Serial)
            .map(|p| {
                (
                    p.def.code.to_string(),
                    format!("{} · {}", p.def.code, p.def.name),
                )
            })
            .collect(),
        Err(e) => return super::refusal(lang, e.into()),
    };
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let with_do = |d: &str| {
        let mut g = f.clone();
        g.insert("do".into(), d.into());
        g
    };
    let outcome = match outcome {
        Outcome::None => String::new(),
        Outcome::Refused(errors) => problems(lang, &errors),
        Outcome::Sent(n, printer) => format!(
            "<p class=\"ok\" id=\"sent\" role=\"status\">✔ {} {} · {}</p>",
            t(lang, Msg::SentToPrinter),
            esc(&printer),
            int(lang, n as i64)
        ),
    };
    let allocation = get("allocation");
    let summary = if allocation.is_empty() {
        String::new()
    } else {
        block_summary(app, actor, lang, allocation).await
    };
    let no_templates = if templates.is_empty() {
        format!("<p class=\"bad\">{}</p>", t(lang, Msg::NoLabelTemplates))
    } else {
        String::new()
    };
    let allocate = format!(
        "<section id=\"allocate\"><h2>{h}</h2><p class=\"hint\">{hint}</p><form method=\"post\" action=\"/labels\">{hidden}\
         <input type=\"hidden\" name=\"do\" value=\"allocate\"><div class=\"grid\">{product}{count}</div>\
         <button type=\"submit\" id=\"allocate-button\">{b}</button></form></section>",
        h = t(lang, Msg::AllocateSerials),
        hint = t(lang, Msg::AllocateHint),
        hidden = hidden(actor, lang),
        product = select(
            "allocate-product",
            "product",
            t(lang, Msg::Product),
            &products,
            get("product")
        ),
        count = input(
            "allocate-count",
            "count",
            t(lang, Msg::Quantity),
            if get("count").is_empty() {
                "100"
            } else {
                get("count")
            },
            " inputmode=\"numeric\" required"
        ),
        b = t(lang, Msg::AllocateButton),
    );
    let print = format!(
        "<section id=\"print\"><h2>{h}</h2>{summary}{no_templates}<form method=\"post\" action=\"/labels\">{hidden}\
         <input type=\"hidden\" name=\"do\" value=\"print\"><div class=\"grid\">{block}{choices}{printer}</div>\
         <p class=\"hint\">{hint}</p><button type=\"submit\" id=\"print-button\">{b}</button></form></section>",
        h = t(lang, Msg::PrintLabels),
        hidden = hidden(actor, lang),
        block = input(
            "print-allocation",
            "allocation",
            t(lang, Msg::AllocationId),
            allocation,
            " required"
        ),
        choices = print_choices(lang, &templates, &with_do("print")),
        printer = input(
            "print-printer",
            "printer",
            t(lang, Msg::NetworkPrinter),
            get("printer"),
            " placeholder=\"192.168.1.50:9100\""
        ),
        hint = t(lang, Msg::PrintHint),
        b = t(lang, Msg::PrintButton),
    );
    let reprint = format!(
        "<section id=\"reprint\"><h2>{h}</h2><p class=\"hint\">{hint}</p><form method=\"post\" action=\"/labels\">{hidden}\
         <input type=\"hidden\" name=\"do\" value=\"reprint\"><div class=\"grid\">{product}{serial}{choices}</div>\
         <button type=\"submit\" id=\"reprint-button\">{b}</button></form></section>",
        h = t(lang, Msg::ReprintLabel),
        hint = t(lang, Msg::ReprintHint),
        hidden = hidden(actor, lang),
        product = select(
            "reprint-product",
            "product",
            t(lang, Msg::Product),
            &products,
            get("product")
        ),
        serial = input(
            "reprint-serial",
            "serial",
            t(lang, Msg::Serial),
            get("serial"),
            " required"
        ),
        choices = print_choices(lang, &templates, &with_do("reprint")),
        b = t(lang, Msg::ReprintButton),
    );
    let body = format!(
        "<section><h1>{title}</h1><p class=\"hint\">{intro}</p></section>{outcome}{allocate}{print}{reprint}",
        title = t(lang, Msg::Labels),
        intro = t(lang, Msg::LabelsIntro),
    );
    (
        status,
        page_with(
            lang,
            t(lang, Msg::Labels),
            Some(actor),
            &body,
            &[],
            Some(uri),
        ),
    )
        .into_response()
}

/// `GET /labels` (`?allocation=ID` after an allocation: the block, ready to print).
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let p = axum::extract::Query::<LabelsParams>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let mut f = BTreeMap::new();
    if let Some(a) = p.allocation {
        // The block's product is the one the forms start with.
        if let Some(e) = block(&app, &actor, &a).await
            && let Some(first) = e.items.first()
        {
            f.insert("product".to_owned(), first.product.to_string());
        }
        f.insert("allocation".to_owned(), a);
    }
    render_labels(&app, &actor, lang, &uri, &f, Outcome::None, StatusCode::OK).await
}

/// A print job's request from a form: the template, the output (`pdf-roll`, `pdf-a4`, `zpl`)
/// and what to print (`source`).
fn job_body(f: &BTreeMap<String, String>, source: (&str, Value)) -> Value {
    let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
    let mut job = json!({"template": get("template")});
    match get("output") {
        "pdf-a4" => job["layout"] = json!("a4"),
        "zpl" => job["format"] = json!("zpl"),
        _ => job["layout"] = json!("roll"),
    }
    job[source.0] = source.1;
    job
}

/// `POST /labels`: allocate a block (then show it, ready to print), print a block's labels
/// (the file comes back as the answer, or goes to the printer), or reprint one serial's label.
pub async fn act(
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
    let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
    let done: Result<Response, AppError> = match get("do") {
        "allocate" => {
            let count = get("count").parse::<u64>().map_err(|_| {
                AppError::malformed(
                    "invalid_count",
                    "the count is a whole number",
                    Some("count".into()),
                )
            });
            match count {
                Err(e) => Err(e),
                Ok(count) => {
                    let req = serde_json::from_value::<crate::serials::AllocationRequest>(
                        json!({"count": count}),
                    )
                    .map_err(|e| AppError::Internal(format!("allocation request: {e}")));
                    match req {
                        Err(e) => Err(e),
                        Ok(req) => {
                            let note = crate::serials::allocations_of(get("product"));
                            let make = crate::serials::recorded_with(&app, &pending, note.clone());
                            crate::serials::allocate_at(
                                &*app.store,
                                get("product"),
                                &req,
                                &actor.name(),
                                actor.site.as_deref(),
                                app.clock.now(),
                                Some(&make),
                            )
                            .await
                            .map(|a| {
                                let summary = crate::api::receipts_summary(
                                    std::slice::from_ref(&a.receipt),
                                    false,
                                );
                                note.after(summary).recorded().on(Redirect::to(&format!(
                                    "/labels?allocation={}&lang={}",
                                    a.receipt.id,
                                    lang_param(lang)
                                ))
                                .into_response())
                            })
                        }
                    }
                }
            }
        }
        "print" | "reprint" => {
            let source = if get("do") == "print" {
                match get("allocation").parse::<uuid::Uuid>() {
                    Ok(id) => Ok(("allocation", json!(id))),
                    Err(_) => Err(AppError::malformed(
                        "invalid_allocation",
                        "the allocation is the id of an allocation event",
                        Some("allocation".into()),
                    )),
                }
            } else {
                Ok((
                    "reprint",
                    json!({"product": get("product"), "serial": get("serial")}),
                ))
            };
            match source {
                Err(e) => Err(e),
                Ok(source) => {
                    let mut job = job_body(&f, source);
                    let printer = get("printer");
                    let body = |j: &Value| Bytes::from(j.to_string());
                    if printer.is_empty() {
                        // The page answers with the file itself, not a redirect.
                        crate::labels::download_job(
                            State(app.clone()),
                            actor.clone(),
                            pending.answered_in_place(),
                            super::json_request(),
                            body(&job),
                        )
                        .await
                    } else {
                        job["format"] = json!("zpl");
                        if let Some(o) = job.as_object_mut() {
                            o.remove("layout");
                        }
                        job["printer"] = json!(printer);
                        match crate::labels::print_job(
                            State(app.clone()),
                            actor.clone(),
                            pending.answered_in_place(),
                            super::json_request(),
                            body(&job),
                        )
                        .await
                        {
                            Ok(mut resp) => {
                                // The page answers the form itself: the job's note goes on it.
                                let note = resp.extensions_mut().remove::<AuditNote>();
                                let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
                                    .await
                                    .unwrap_or_default();
                                let n = serde_json::from_slice::<Value>(&bytes)
                                    .ok()
                                    .and_then(|v| v["labels"].as_u64())
                                    .unwrap_or(0);
                                let page = render_labels(
                                    &app,
                                    &actor,
                                    lang,
                                    &uri,
                                    &f,
                                    Outcome::Sent(n, printer.to_owned()),
                                    StatusCode::OK,
                                )
                                .await;
                                return match note {
                                    Some(n) => n.on(page),
                                    None => page,
                                };
                            }
                            Err(e) => Err(e),
                        }
                    }
                }
            }
        }
        _ => Err(AppError::malformed(
            "invalid_action",
            "the form names no known action",
            Some("do".into()),
        )),
    };
    match done {
        Ok(resp) => resp,
        Err(e @ (AppError::Unauthorized(_) | AppError::Forbidden(_) | AppError::Internal(_))) => {
            super::refusal(lang, e)
        }
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            render_labels(
                &app,
                &actor,
                lang,
                &uri,
                &f,
                Outcome::Refused(errors),
                status,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Label templates (admin).

#[derive(Debug, Default, serde::Deserialize)]
struct TemplateParams {
    edit: Option<String>,
    new: Option<String>,
    saved: Option<String>,
}

/// The sample values of a form (its `data.NAME` fields), or the defaults.
fn sample_of(f: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    SAMPLE
        .iter()
        .filter_map(|(k, default)| {
            let v = f
                .get(&format!("data.{k}"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|| (*default).to_owned());
            (!v.is_empty()).then(|| ((*k).to_owned(), v))
        })
        .collect()
}

/// The template form: name, definition, sample values and the preview (`Ok` an SVG,
/// `Err` why there is none).
fn template_form(
    lang: Lang,
    actor: &Actor,
    f: &BTreeMap<String, String>,
    version: Option<u32>,
    preview: Result<String, Vec<FieldError>>,
    errors: &[FieldError],
) -> String {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let sample = sample_of(f);
    let samples: String = SAMPLE
        .iter()
        .map(|(k, _)| {
            input(
                &format!("sample-{k}"),
                &format!("data.{k}"),
                &format!("{{{k}}}"),
                sample.get(*k).map(String::as_str).unwrap_or(""),
                " class=\"sample\"",
            )
        })
        .collect();
    let (svg, preview_errors) = match preview {
        Ok(svg) => (svg, String::new()),
        Err(errors) => (String::new(), problems(lang, &errors)),
    };
    let heading = match version {
        Some(v) => format!(
            "{} {} <span class=\"muted\">· {} {v}</span>",
            t(lang, Msg::EditRecord),
            esc(get("name")),
            t(lang, Msg::Version)
        ),
        None => t(lang, Msg::NewRecord).to_owned(),
    };
    format!(
        "<section id=\"template-form\"><h2>{heading}</h2>{errors}<form method=\"post\" action=\"/admin/labels\" id=\"label-template\">{hidden}{ver}\
         <div class=\"grid\">{name}</div>\
         <label for=\"definition\">{def}</label><textarea id=\"definition\" name=\"definition\" rows=\"16\" spellcheck=\"false\">{definition}</textarea>\
         <p class=\"hint\">{hint}</p>\
         <h3>{sample_h}</h3><div class=\"grid\">{samples}</div>\
         <h3>{preview_h}</h3><div id=\"preview-errors\">{preview_errors}</div><div id=\"label-preview\" class=\"label-preview\">{svg}</div>\
         <div class=\"actions\"><button type=\"submit\" name=\"do\" value=\"preview\" class=\"secondary\" id=\"preview-button\">{preview_b}</button>\
         <button type=\"submit\" name=\"do\" value=\"save\" id=\"save\">{save}</button></div></form></section>",
        errors = problems(lang, errors),
        hidden = hidden(actor, lang),
        ver = version
            .map(|v| format!("<input type=\"hidden\" name=\"version\" value=\"{v}\">"))
            .unwrap_or_default(),
        name = input(
            "template-name",
            "name",
            t(lang, Msg::TemplateName),
            get("name"),
            if version.is_some() {
                " required readonly"
            } else {
                " required"
            }
        ),
        def = t(lang, Msg::TemplateDefinition),
        definition = esc(get("definition")),
        hint = t(lang, Msg::TemplateHint),
        sample_h = t(lang, Msg::PreviewValues),
        preview_h = t(lang, Msg::Preview),
        preview_b = t(lang, Msg::Preview),
        save = t(lang, Msg::Save),
    )
}

/// The preview of the form's definition with its sample values.
fn preview_of(f: &BTreeMap<String, String>) -> Result<String, Vec<FieldError>> {
    let definition: Value = serde_json::from_str(f.get("definition").map_or("", |s| s.as_str()))
        .map_err(|e| {
            vec![
                FieldError::new("invalid_json", format!("the definition is not JSON: {e}"))
                    .at("definition"),
            ]
        })?;
    crate::labels::preview_svg(&definition, &sample_of(f)).map_err(|e| e.into_status_and_errors().1)
}

async fn render_templates(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
    uri: &Uri,
    form: Option<String>,
    saved: Option<&str>,
    status: StatusCode,
) -> Response {
    let records = match app.store.label_templates().await {
        Ok(r) => r,
        Err(e) => return super::refusal(lang, e.into()),
    };
    let rows: String = records
        .iter()
        .map(|r| {
            let d = &r.definition;
            let num = |k: &str| d.get(k).map(|v| v.to_string()).unwrap_or_default();
            format!(
                "<tr><td><a href=\"/admin/labels?edit={e}&amp;lang={l}\">{n}</a></td><td>{w} × {h} mm</td><td class=\"n\">{dpi}</td>\
                 <td class=\"n\">{fields}</td><td>{by}</td><td class=\"n\">{v}</td></tr>",
                e = url_encode(&r.name),
                l = lang_param(lang),
                n = esc(&r.name),
                w = esc(&num("width_mm")),
                h = esc(&num("height_mm")),
                dpi = esc(&num("dpi")),
                fields = d.get("fields").and_then(Value::as_array).map_or(0, Vec::len),
                by = esc(&r.updated_by),
                v = r.version,
            )
        })
        .collect();
    let list = table(
        "label-templates",
        &[
            (t(lang, Msg::TemplateName), false),
            (t(lang, Msg::LabelSize), false),
            ("DPI", true),
            (t(lang, Msg::LabelFields), true),
            (t(lang, Msg::UpdatedBy), false),
            (t(lang, Msg::Version), true),
        ],
        &rows,
    );
    let saved = saved
        .map(|n| {
            format!(
                "<p class=\"ok\" id=\"saved\" role=\"status\">✔ {} · {}</p>",
                t(lang, Msg::SavedRecord),
                esc(n)
            )
        })
        .unwrap_or_default();
    let new = if form.is_none() {
        format!(
            "<a class=\"button\" id=\"new-record\" href=\"/admin/labels?new=1&amp;lang={}\">{}</a>",
            lang_param(lang),
            t(lang, Msg::NewRecord)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<section><h1>{admin}</h1>{tabs}</section>{form}<section id=\"records\"><h2>{title}</h2>{saved}{list}{new}</section>",
        admin = t(lang, Msg::Admin),
        tabs = super::admin::tabs(lang, actor, "labels"),
        form = form.unwrap_or_default(),
        title = t(lang, Msg::LabelTemplates),
    );
    (
        status,
        page_with(
            lang,
            t(lang, Msg::LabelTemplates),
            Some(actor),
            &body,
            &["/assets/labels.js"],
            Some(uri),
        ),
    )
        .into_response()
}

/// `GET /admin/labels`: the templates, with the form when `?new` or `?edit=NAME` asks for it.
pub async fn templates(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let p = axum::extract::Query::<TemplateParams>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let form = if let Some(name) = p.edit.as_deref() {
        match app.store.label_template(name).await {
            Ok(Some(r)) => {
                let mut f = BTreeMap::new();
                f.insert("name".to_owned(), r.name.clone());
                f.insert(
                    "definition".to_owned(),
                    serde_json::to_string_pretty(&r.definition).unwrap_or_default(),
                );
                let preview = preview_of(&f);
                Some(template_form(
                    lang,
                    &actor,
                    &f,
                    Some(r.version),
                    preview,
                    &[],
                ))
            }
            Ok(None) => {
                return super::refusal(
                    lang,
                    AppError::NotFound(format!("label template {name} does not exist")),
                );
            }
            Err(e) => return super::refusal(lang, e.into()),
        }
    } else if p.new.is_some() {
        let mut f = BTreeMap::new();
        f.insert(
            "definition".to_owned(),
            serde_json::to_string_pretty(&starter()).unwrap_or_default(),
        );
        let preview = preview_of(&f);
        Some(template_form(lang, &actor, &f, None, preview, &[]))
    } else {
        None
    };
    render_templates(
        &app,
        &actor,
        lang,
        &uri,
        form,
        p.saved.as_deref(),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/labels`: `do=preview` draws the form's template; `do=save` creates it or
/// replaces the version the form was loaded with, through the API's handlers.
pub async fn save_template(
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
    let name = f
        .get("name")
        .map(|n| n.trim().to_owned())
        .unwrap_or_default();
    let version: Option<u32> = f.get("version").and_then(|v| v.parse().ok());
    let preview = preview_of(&f);
    let again = |errors: Vec<FieldError>, status: StatusCode, preview| {
        let form = template_form(lang, &actor, &f, version, preview, &errors);
        render_templates(&app, &actor, lang, &uri, Some(form), None, status)
    };
    if f.get("do").map(String::as_str) != Some("save") {
        return again(Vec::new(), StatusCode::OK, preview).await;
    }
    let definition: Value =
        match serde_json::from_str(f.get("definition").map_or("", |s| s.as_str())) {
            Ok(v) => v,
            Err(e) => {
                let err =
                    FieldError::new("invalid_json", format!("the definition is not JSON: {e}"))
                        .at("definition");
                return again(vec![err], StatusCode::BAD_REQUEST, preview).await;
            }
        };
    let mut h = super::json_request();
    let done = match version {
        None => {
            let body = Bytes::from(json!({"name": name, "template": definition}).to_string());
            crate::labels::create(State(app.clone()), actor.clone(), pending, h, body).await
        }
        Some(v) => {
            if let Ok(m) = HeaderValue::from_str(&format!("\"{v}\"")) {
                h.insert(header::IF_MATCH, m);
            }
            let body = Bytes::from(definition.to_string());
            crate::labels::replace(
                State(app.clone()),
                actor.clone(),
                pending,
                Path(name.clone()),
                h,
                body,
            )
            .await
        }
    };
    match done {
        Ok(mut resp) => super::done_redirect(
            &mut resp,
            &format!(
                "/admin/labels?saved={}&lang={}",
                url_encode(&name),
                lang_param(lang)
            ),
        ),
        Err(e @ (AppError::Unauthorized(_) | AppError::Forbidden(_) | AppError::Internal(_))) => {
            super::refusal(lang, e)
        }
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            again(errors, status, preview).await
        }
    }
}

/// `GET /assets/labels.js`: the template form's live preview.
pub async fn script() -> Response {
    super::script_asset(include_str!("labels.js"))
}
