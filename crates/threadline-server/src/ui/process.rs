//! The process rules admin page (`/admin/process`, needs `configure`): the stored process
//! definition — which operation is allowed in which unit state, whether it refuses units on
//! hold, the state it leaves them in, and the fields an operation must carry for a product
//! category — shown as a form, with its version history.
//!
//! The form posts to the same page with the session's CSRF token; the page turns it into the
//! definition's JSON and calls the API's own handler (`process::put_process` with `If-Match`),
//! so the checks, the versioning in the ledger and the audit record are the API's. A refusal is
//! shown on the form as it was typed, each problem named by its field.

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use threadline_domain::error::FieldError;
use threadline_domain::process::{Operation, PROCESS_CODE, Process};
use threadline_domain::projection::ItemStatus;

use super::{esc, lang_of_request, lang_param, page_with, table};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{self, Lang, Msg, t};

/// Every operation a step rule can name, in the order of a unit's life.
const OPERATIONS: [Operation; 14] = [
    Operation::Receive,
    Operation::Commission,
    Operation::Assemble,
    Operation::Disassemble,
    Operation::Transform,
    Operation::Inspect,
    Operation::Store,
    Operation::Ship,
    Operation::Sell,
    Operation::Return,
    Operation::Repair,
    Operation::Scrap,
    Operation::Hold,
    Operation::Observe,
];

/// The states an operation may leave its units in (`Process::check` refuses the pool states,
/// `consumed` and `voided`: only allocation, printing, transformation and voiding do that).
fn result_states() -> impl Iterator<Item = ItemStatus> {
    ItemStatus::ALL.into_iter().filter(|s| {
        !matches!(
            s,
            ItemStatus::Unassigned
                | ItemStatus::Printed
                | ItemStatus::Consumed
                | ItemStatus::Voided
        )
    })
}

/// Time zones offered as the plant's (any IANA name may be typed).
const ZONES: [&str; 12] = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Ho_Chi_Minh",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Mexico_City",
    "UTC",
];

/// Blank rows offered for new required-field rules.
const SPARE_ROWS: usize = 2;

/// A stored definition as the form's values.
fn form_of(process: &Process) -> BTreeMap<String, String> {
    let mut f = BTreeMap::new();
    for rule in &process.steps {
        let op = rule.operation.as_str();
        for s in &rule.from {
            f.insert(format!("step.{op}.from.{}", s.as_str()), "on".to_owned());
        }
        if rule.refuse_held {
            f.insert(format!("step.{op}.held"), "on".to_owned());
        }
        if let Some(to) = rule.to {
            f.insert(format!("step.{op}.to"), to.as_str().to_owned());
        }
    }
    for (i, r) in process.required_fields.iter().enumerate() {
        f.insert(
            format!("req.{i}.operation"),
            r.operation.as_str().to_owned(),
        );
        f.insert(
            format!("req.{i}.category"),
            r.category.clone().unwrap_or_default(),
        );
        f.insert(format!("req.{i}.fields"), r.fields.join(", "));
    }
    if let Some(z) = &process.time_zone {
        f.insert("time_zone".to_owned(), z.clone());
    }
    f
}

/// How many required-field rows the form holds.
fn required_rows(form: &BTreeMap<String, String>) -> usize {
    form.keys()
        .filter_map(|k| {
            k.strip_prefix("req.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// The definition's JSON as the form says it, and what each sent row was: the operation of
/// `steps[i]` and the form row of `required_fields[i]`, to name the fields of an error.
/// Values go to the API as typed, so whatever it refuses is named there.
fn definition_of(form: &BTreeMap<String, String>) -> (Value, Vec<Operation>, Vec<usize>) {
    let get = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
    let mut steps = Vec::new();
    let mut step_ops = Vec::new();
    for op in OPERATIONS {
        let name = op.as_str();
        let from: Vec<&str> = ItemStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .filter(|s| !get(&format!("step.{name}.from.{s}")).is_empty())
            .collect();
        let held = !get(&format!("step.{name}.held")).is_empty();
        let to = get(&format!("step.{name}.to"));
        if from.is_empty() && !held && to.is_empty() {
            continue;
        }
        let mut rule = json!({"operation": name, "from": from, "refuse_held": held});
        if !to.is_empty() {
            rule["to"] = json!(to);
        }
        steps.push(rule);
        step_ops.push(op);
    }
    let mut required = Vec::new();
    let mut rows = Vec::new();
    for i in 0..required_rows(form) {
        let operation = get(&format!("req.{i}.operation"));
        let category = get(&format!("req.{i}.category"));
        let fields: Vec<&str> = get(&format!("req.{i}.fields"))
            .split([',', '，'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if operation.is_empty() && category.is_empty() && fields.is_empty() {
            continue;
        }
        let mut rule = json!({"operation": operation, "fields": fields});
        if !category.is_empty() {
            rule["category"] = json!(category);
        }
        required.push(rule);
        rows.push(i);
    }
    let mut definition = json!({"steps": steps, "required_fields": required});
    let zone = get("time_zone");
    if !zone.is_empty() {
        definition["time_zone"] = json!(zone);
    }
    (definition, step_ops, rows)
}

/// Where an error of the API belongs on the form: a label a person reads, and the form's
/// anchor (`step-ship`, `req-1`) whose box is marked.
fn place_of(
    lang: Lang,
    field: &str,
    step_ops: &[Operation],
    rows: &[usize],
) -> (String, Option<String>) {
    let index = |rest: &str| -> Option<(usize, String)> {
        let (i, tail) = rest.split_once(']')?;
        Some((i.parse().ok()?, tail.trim_start_matches('.').to_owned()))
    };
    if let Some(rest) = field.strip_prefix("steps[")
        && let Some((i, tail)) = index(rest)
        && let Some(op) = step_ops.get(i)
    {
        let part = if tail.starts_with("from") {
            t(lang, Msg::AllowedStates)
        } else if tail.starts_with("to") {
            t(lang, Msg::ResultState)
        } else if tail.starts_with("refuse_held") {
            t(lang, Msg::RefuseHeld)
        } else {
            t(lang, Msg::Operation)
        };
        return (
            format!("{} · {part}", i18n::operation(lang, *op)),
            Some(format!("step-{}", op.as_str())),
        );
    }
    if let Some(rest) = field.strip_prefix("required_fields[")
        && let Some((i, tail)) = index(rest)
        && let Some(row) = rows.get(i)
    {
        let part = if tail.starts_with("category") {
            t(lang, Msg::Category)
        } else if tail.starts_with("fields") {
            t(lang, Msg::FieldNames)
        } else {
            t(lang, Msg::Operation)
        };
        return (
            format!(
                "{} · {} · {part}",
                t(lang, Msg::RequiredFieldRules),
                t(lang, Msg::RowN).replace("{n}", &(row + 1).to_string())
            ),
            Some(format!("req-{row}")),
        );
    }
    if field == "time_zone" {
        return (
            t(lang, Msg::PlantTimeZone).to_owned(),
            Some("time-zone".to_owned()),
        );
    }
    if field.eq_ignore_ascii_case("if-match") {
        return (t(lang, Msg::Version).to_owned(), None);
    }
    (field.to_owned(), None)
}

fn checkbox(id: &str, name: &str, checked: bool, label: &str) -> String {
    format!(
        "<label class=\"check\" for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" name=\"{name}\"{c}> {label}</label>",
        c = if checked { " checked" } else { "" },
    )
}

fn operation_select(lang: Lang, id: &str, name: &str, current: &str) -> String {
    let mut opts = String::from("<option value=\"\"></option>");
    let mut known = false;
    for op in OPERATIONS {
        let sel = op.as_str() == current;
        known |= sel;
        opts.push_str(&format!(
            "<option value=\"{v}\"{s}>{l}</option>",
            v = op.as_str(),
            s = if sel { " selected" } else { "" },
            l = esc(i18n::operation(lang, op)),
        ));
    }
    if !known && !current.is_empty() {
        // What was typed stays on the form, so the refusal naming it makes sense.
        opts.push_str(&format!(
            "<option value=\"{v}\" selected>{v}</option>",
            v = esc(current)
        ));
    }
    format!("<select id=\"{id}\" name=\"{name}\">{opts}</select>")
}

struct Shown<'a> {
    lang: Lang,
    actor: &'a Actor,
    uri: &'a Uri,
    /// The stored version the form replaces (0: the shipped default).
    version: u32,
    form: &'a BTreeMap<String, String>,
    /// The API's refusal: each problem's label and message, and the form's boxes to mark.
    errors: Vec<(String, FieldError)>,
    marked: Vec<String>,
    saved: bool,
    history: &'a [threadline_domain::ledger::MasterChange],
    /// The plant's time zone as stored, for the history's times.
    zone: chrono_tz::Tz,
}

fn render(s: &Shown<'_>, status: StatusCode) -> Response {
    let lang = s.lang;
    let on = |k: String| s.form.get(&k).is_some_and(|v| !v.trim().is_empty());
    let value = |k: String| {
        s.form
            .get(&k)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let csrf = s
        .actor
        .session
        .as_ref()
        .map(|x| x.csrf_token.clone())
        .unwrap_or_default();
    let mut steps = String::new();
    for op in OPERATIONS {
        let name = op.as_str();
        let anchor = format!("step-{name}");
        let states: String = ItemStatus::ALL
            .iter()
            .map(|st| {
                checkbox(
                    &format!("s-{name}-{}", st.as_str()),
                    &format!("step.{name}.from.{}", st.as_str()),
                    on(format!("step.{name}.from.{}", st.as_str())),
                    i18n::status(lang, *st),
                )
            })
            .collect();
        let to = value(format!("step.{name}.to"));
        let mut to_opts = format!(
            "<option value=\"\">{}</option>",
            t(lang, Msg::ByDisposition)
        );
        let mut known = to.is_empty();
        for st in result_states() {
            let sel = st.as_str() == to;
            known |= sel;
            to_opts.push_str(&format!(
                "<option value=\"{v}\"{s}>{l}</option>",
                v = st.as_str(),
                s = if sel { " selected" } else { "" },
                l = i18n::status(lang, st),
            ));
        }
        if !known {
            to_opts.push_str(&format!(
                "<option value=\"{v}\" selected>{v}</option>",
                v = esc(&to)
            ));
        }
        steps.push_str(&format!(
            "<fieldset id=\"{anchor}\" class=\"rule{bad}\"><legend>{label}</legend>\
             <p class=\"hint\">{l_from}</p><div class=\"checks\">{states}</div>\
             {held}<div><label for=\"to-{name}\">{l_to}</label><select id=\"to-{name}\" name=\"step.{name}.to\">{to_opts}</select></div></fieldset>",
            bad = if s.marked.contains(&anchor) { " invalid" } else { "" },
            label = esc(i18n::operation(lang, op)),
            l_from = t(lang, Msg::AllowedStates),
            held = checkbox(
                &format!("held-{name}"),
                &format!("step.{name}.held"),
                on(format!("step.{name}.held")),
                t(lang, Msg::RefuseHeld)
            ),
            l_to = t(lang, Msg::ResultState),
        ));
    }
    let shown_rows = required_rows(s.form) + SPARE_ROWS;
    let rows: String = (0..shown_rows)
        .map(|i| {
            format!(
                "<tr id=\"req-{i}\"{bad}><td>{op}</td>\
                 <td><input id=\"req-{i}-category\" name=\"req.{i}.category\" value=\"{cat}\" aria-label=\"{l_cat}\" autocomplete=\"off\"></td>\
                 <td><input id=\"req-{i}-fields\" name=\"req.{i}.fields\" value=\"{fields}\" aria-label=\"{l_fields}\" autocomplete=\"off\"></td></tr>",
                bad = if s.marked.contains(&format!("req-{i}")) { " class=\"invalid\"" } else { "" },
                op = operation_select(
                    lang,
                    &format!("req-{i}-operation"),
                    &format!("req.{i}.operation"),
                    &value(format!("req.{i}.operation"))
                ),
                cat = esc(&value(format!("req.{i}.category"))),
                l_cat = t(lang, Msg::Category),
                fields = esc(&value(format!("req.{i}.fields"))),
                l_fields = t(lang, Msg::FieldNames),
            )
        })
        .collect();
    let required = table(
        "required-fields",
        &[
            (t(lang, Msg::Operation), false),
            (t(lang, Msg::Category), false),
            (t(lang, Msg::FieldNames), false),
        ],
        &rows,
    );
    let errors = super::form_errors(
        lang,
        s.errors.iter().map(|(label, e)| (Some(label.as_ref()), e)),
    );
    let saved = if s.saved {
        format!(
            "<p class=\"ok\" id=\"saved\" role=\"status\">✔ {} · {} {}</p>",
            t(lang, Msg::SavedRecord),
            t(lang, Msg::Version),
            s.version
        )
    } else {
        String::new()
    };
    let status_line = if s.version == 0 {
        format!(
            "<p id=\"process-version\" class=\"hint\">{}</p>",
            t(lang, Msg::ProcessIsDefault)
        )
    } else {
        format!(
            "<p id=\"process-version\" class=\"hint\">{} {}</p>",
            t(lang, Msg::Version),
            s.version
        )
    };
    let history_rows: String = s
        .history
        .iter()
        .rev()
        .map(|c| {
            format!(
                "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
                c.version,
                esc(&c.actor),
                esc(&i18n::datetime(lang, s.zone, &c.recorded_at))
            )
        })
        .collect();
    let history = if s.history.is_empty() {
        String::new()
    } else {
        format!(
            "<section id=\"history\"><h2>{}</h2>{}</section>",
            t(lang, Msg::VersionHistory),
            table(
                "process-history",
                &[
                    (t(lang, Msg::Version), true),
                    (t(lang, Msg::Who), false),
                    (t(lang, Msg::When), false),
                ],
                &history_rows
            )
        )
    };
    let body = format!(
        "<section><h1>{admin}</h1>{tabs}</section>\
         <section id=\"process\"><h2>{title}</h2>{status_line}<p class=\"hint\">{intro}</p>{saved}{errors}\
         <form method=\"post\" action=\"/admin/process\" id=\"process-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <input type=\"hidden\" name=\"version\" value=\"{version}\">\
         <div class=\"field{zone_bad}\"><label for=\"time-zone\">{l_zone}</label><input id=\"time-zone\" name=\"time_zone\" value=\"{zone}\" placeholder=\"{default_zone}\" list=\"zones\" autocomplete=\"off\"><datalist id=\"zones\">{zones}</datalist><p class=\"hint\">{zone_hint}</p></div>\
         <h3>{l_steps}</h3><p class=\"hint\">{steps_hint}</p><div class=\"rules\">{steps}</div>\
         <h3>{l_req}</h3><p class=\"hint\">{req_hint}</p>{required}\
         <button type=\"submit\" id=\"save\">{save}</button></form></section>{history}",
        admin = t(lang, Msg::Admin),
        tabs = super::admin::tabs(lang, s.actor, "process"),
        title = t(lang, Msg::ProcessRules),
        intro = t(lang, Msg::ProcessRulesIntro),
        csrf = esc(&csrf),
        l = lang_param(lang),
        version = s.version,
        l_steps = t(lang, Msg::StepRules),
        steps_hint = t(lang, Msg::StepRulesHint),
        l_req = t(lang, Msg::RequiredFieldRules),
        req_hint = t(lang, Msg::RequiredFieldRulesHint),
        save = t(lang, Msg::Save),
        zone_bad = if s.marked.iter().any(|m| m == "time-zone") {
            " invalid"
        } else {
            ""
        },
        l_zone = t(lang, Msg::PlantTimeZone),
        zone = esc(&value("time_zone".to_owned())),
        default_zone = i18n::DEFAULT_ZONE.name(),
        zones = ZONES
            .iter()
            .map(|z| format!("<option value=\"{z}\">"))
            .collect::<String>(),
        zone_hint = t(lang, Msg::PlantTimeZoneHint),
    );
    (
        status,
        page_with(
            lang,
            t(lang, Msg::ProcessRules),
            Some(s.actor),
            &body,
            &[],
            Some(s.uri),
        ),
    )
        .into_response()
}

/// The stored definition and its version (0 and the shipped default until a plant saves one),
/// and every stored version.
async fn current(
    app: &AppState,
) -> Result<(Process, u32, Vec<threadline_domain::ledger::MasterChange>), AppError> {
    let (process, version) = match app.store.process().await? {
        Some(v) => (v.def, v.version),
        None => (Process::default(), 0),
    };
    let history = app.store.master_history("process", PROCESS_CODE).await?;
    Ok((process, version, history))
}

#[derive(Debug, Default, serde::Deserialize)]
struct PageParams {
    saved: Option<String>,
}

/// `GET /admin/process`: the current definition as a form, and its history.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let p = axum::extract::Query::<PageParams>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let (process, version, history) = match current(&app).await {
        Ok(x) => x,
        Err(e) => return super::refusal(lang, e),
    };
    let form = form_of(&process);
    render(
        &Shown {
            lang,
            actor: &actor,
            uri: &uri,
            version,
            form: &form,
            errors: Vec::new(),
            marked: Vec::new(),
            saved: p.saved.is_some(),
            history: &history,
            zone: crate::process::zone_of(&process),
        },
        StatusCode::OK,
    )
}

/// `POST /admin/process`: replaces the version the form was loaded with, through the API.
pub async fn save(
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
    let version: u32 = f
        .get("version")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let (definition, step_ops, rows) = definition_of(&f);
    let mut json_headers = super::json_request();
    if let Ok(h) = HeaderValue::from_str(&format!("\"{version}\"")) {
        json_headers.insert(header::IF_MATCH, h);
    }
    let done = crate::process::put_process(
        State(app.clone()),
        actor.clone(),
        pending,
        json_headers,
        Bytes::from(definition.to_string()),
    )
    .await;
    match done {
        Ok(mut resp) => super::done_redirect(
            &mut resp,
            &format!("/admin/process?saved=1&lang={}", lang_param(lang)),
        ),
        Err(e @ (AppError::Unauthorized(_) | AppError::Forbidden(_) | AppError::Internal(_))) => {
            super::refusal(lang, e)
        }
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            let (zone, history) = match current(&app).await {
                Ok((p, _, h)) => (crate::process::zone_of(&p), h),
                Err(e) => return super::refusal(lang, e),
            };
            let mut marked = Vec::new();
            let errors = errors
                .into_iter()
                .map(|e| {
                    let (label, anchor) = match e.field.as_deref() {
                        Some(field) => place_of(lang, field, &step_ops, &rows),
                        None => (String::new(), None),
                    };
                    marked.extend(anchor);
                    (label, e)
                })
                .collect();
            render(
                &Shown {
                    lang,
                    actor: &actor,
                    uri: &uri,
                    version,
                    form: &f,
                    errors,
                    marked,
                    saved: false,
                    history: &history,
                    zone,
                },
                status,
            )
        }
    }
}
