//! The master-data admin pages: `/admin/{products,parties,locations}` list the records and
//! hold the form that creates one (`?new`) or edits one (`?edit=CODE`). The form posts to the
//! same page with the session's CSRF token; the page turns it into the API's JSON and calls
//! the API's own handlers (`api::create_*`, `api::replace_*` with `If-Match`), so the rules,
//! the versioning and the audit are the API's. An edit starts from the stored record, so
//! fields the form does not show (a serial rule, a container flag, contacts the actor may not
//! read) are kept as they are.

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Map, Value, json};
use threadline_domain::access::Permission;

use super::{esc, lang_of_request, lang_param, page_with, table, url_encode};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{self, Lang, Msg, t};
use crate::site::Shown;

#[derive(Clone, Copy)]
enum Input {
    Text,
    Number,
    /// One of these words (translated by [`i18n::vocabulary`]).
    Select(&'static [&'static str]),
    /// A comma-separated list, stored as an array.
    List,
}

struct Field {
    /// Where the value sits in the record's JSON (`contact.person`).
    path: &'static str,
    label: Msg,
    input: Input,
    required: bool,
    /// Shown and written only with `read_customer_data`.
    customer_data: bool,
}

const fn field(path: &'static str, label: Msg, input: Input, required: bool) -> Field {
    Field {
        path,
        label,
        input,
        required,
        customer_data: false,
    }
}

const fn contact(path: &'static str, label: Msg) -> Field {
    Field {
        path,
        label,
        input: Input::Text,
        required: false,
        customer_data: true,
    }
}

/// One kind of master record and its form.
struct Kind {
    slug: &'static str,
    title: Msg,
    fields: &'static [Field],
    /// The columns of the list, as field paths.
    columns: &'static [&'static str],
    /// The product form's custom attribute rows.
    attributes: bool,
}

const ATTRIBUTE_TYPES: &[&str] = &["text", "number", "date", "enum", "bool"];

const KINDS: [Kind; 4] = [
    Kind {
        slug: "products",
        title: Msg::Products,
        fields: &[
            field("code", Msg::Code, Input::Text, true),
            field("name", Msg::Name, Input::Text, true),
            field(
                "tracking",
                Msg::Tracking,
                Input::Select(&["serial", "lot", "none"]),
                true,
            ),
            field("gtin", Msg::Gtin, Input::Text, false),
            field("uom", Msg::Uom, Input::Text, false),
            field("category", Msg::Category, Input::Text, false),
            field("warranty_months", Msg::WarrantyMonths, Input::Number, false),
        ],
        columns: &["code", "name", "tracking", "gtin", "warranty_months"],
        attributes: true,
    },
    Kind {
        slug: "parties",
        title: Msg::Parties,
        fields: &[
            field("code", Msg::Code, Input::Text, true),
            field("name", Msg::Name, Input::Text, true),
            field(
                "kind",
                Msg::Kind,
                Input::Select(&["supplier", "customer", "distributor"]),
                true,
            ),
            field("regions", Msg::RegionsList, Input::List, false),
            field("parent", Msg::ParentParty, Input::Text, false),
            contact("contact.person", Msg::ContactPerson),
            contact("contact.phone", Msg::Phone),
            contact("contact.email", Msg::Email),
            contact("contact.address", Msg::Address),
        ],
        columns: &["code", "name", "kind", "regions"],
        attributes: false,
    },
    Kind {
        slug: "locations",
        title: Msg::Locations,
        fields: &[
            field("code", Msg::Code, Input::Text, true),
            field("name", Msg::Name, Input::Text, true),
            field(
                "kind",
                Msg::Kind,
                Input::Select(&["site", "area", "line", "bin", "external"]),
                true,
            ),
            field("parent", Msg::ParentLocation, Input::Text, false),
            field("party", Msg::OwnerParty, Input::Text, false),
            field("region", Msg::RegionOfLocation, Input::Text, false),
        ],
        columns: &["code", "name", "kind", "parent", "party"],
        attributes: false,
    },
    Kind {
        slug: "serial-rules",
        title: Msg::SerialRules,
        fields: &[
            field("code", Msg::Code, Input::Text, true),
            field("name", Msg::Name, Input::Text, true),
            field("template", Msg::RuleTemplate, Input::Text, true),
            field("time_zone", Msg::TimeZone, Input::Text, false),
            field(
                "sequence_reset",
                Msg::SequenceReset,
                Input::Select(&["never", "yearly", "monthly", "daily"]),
                false,
            ),
            field("sequence_start", Msg::SequenceStart, Input::Number, false),
            field(
                "uniqueness",
                Msg::Uniqueness,
                Input::Select(&["product", "global"]),
                false,
            ),
            field("categories", Msg::RuleCategories, Input::List, false),
        ],
        columns: &["code", "name", "template", "categories"],
        attributes: false,
    },
];

/// A stored serial rule as its form edits it: the rule's fields, name and categories, flat
/// (the API's body for the rule).
fn flat_rule(v: &threadline_store::Versioned<threadline_domain::master::SerialRuleDef>) -> Value {
    let mut out = crate::serials::rule_view(v);
    if let Value::Object(m) = &mut out {
        m.remove("version");
        m.remove("updated_at");
    }
    out
}

fn kind_of(slug: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.slug == slug)
}

/// A stored record: its version and its definition as JSON, unmasked.
struct Stored {
    version: u32,
    def: Value,
}

async fn stored(
    app: &AppState,
    actor: &Actor,
    kind: &Kind,
    code: &str,
) -> Result<Option<Stored>, AppError> {
    fn pack<T: serde::Serialize>(v: threadline_store::Versioned<T>) -> Stored {
        Stored {
            version: v.version,
            def: serde_json::to_value(&v.def).unwrap_or(Value::Null),
        }
    }
    Ok(match kind.slug {
        "products" => app.store.product(code).await?.map(pack),
        "parties" => app.store.party(code).await?.map(pack),
        "serial-rules" => app.store.serial_rule(code).await?.map(|v| Stored {
            version: v.version,
            def: flat_rule(&v),
        }),
        _ => {
            let site = crate::site::SiteScope::of(&*app.store, actor).await?;
            app.store
                .location(code)
                .await?
                .filter(|l| site.as_ref().is_none_or(|s| l.def.shown_to(s)))
                .map(pack)
        }
    })
}

/// Every record of a kind, as JSON, by code (at most 1,000).
/// Every record of a kind `actor` reads (for an account of one site, its site's locations
/// and the external ones: [`crate::site::Shown`]).
async fn all(app: &AppState, actor: &Actor, kind: &Kind) -> Result<Vec<(u32, Value)>, AppError> {
    let q = threadline_store::ListQuery {
        search: None,
        kind: None,
        parent: None,
        after: None,
        limit: 1000,
    };
    fn pack<T: serde::Serialize>(v: threadline_store::Versioned<T>) -> (u32, Value) {
        (
            v.version,
            serde_json::to_value(&v.def).unwrap_or(Value::Null),
        )
    }
    Ok(match kind.slug {
        "products" => app
            .store
            .products(&q)
            .await?
            .items
            .into_iter()
            .map(pack)
            .collect(),
        "parties" => app
            .store
            .parties(&q)
            .await?
            .items
            .into_iter()
            .map(pack)
            .collect(),
        "serial-rules" => app
            .store
            .serial_rules(&q)
            .await?
            .items
            .iter()
            .map(|v| (v.version, flat_rule(v)))
            .collect(),
        _ => {
            let site = crate::site::SiteScope::of(&*app.store, actor).await?;
            app.store
                .locations(&q)
                .await?
                .items
                .into_iter()
                .filter(|l| site.as_ref().is_none_or(|s| l.def.shown_to(s)))
                .map(pack)
                .collect()
        }
    })
}

fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// The text a form shows for a stored value.
fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Sets (or, for `None`, removes) the value at `path`; an object left empty is removed too.
fn set_path(root: &mut Value, path: &str, value: Option<Value>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    if !root.is_object() {
        *root = Value::Object(Map::new());
    }
    let Value::Object(map) = root else { return };
    match rest {
        None => match value {
            Some(v) => {
                map.insert(head.to_owned(), v);
            }
            None => {
                map.remove(head);
            }
        },
        Some(rest) => {
            let child = map
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            set_path(child, rest, value);
            if child.as_object().is_some_and(Map::is_empty) {
                map.remove(head);
            }
        }
    }
}

/// The form's values as the record's JSON, over `base` (the stored record, or nothing).
fn to_json(
    kind: &Kind,
    form: &BTreeMap<String, String>,
    base: Value,
    sees_contacts: bool,
) -> Value {
    let mut out = if base.is_object() { base } else { json!({}) };
    for f in kind.fields {
        if f.customer_data && !sees_contacts {
            continue;
        }
        let raw = form.get(f.path).map(|s| s.trim()).unwrap_or("");
        let value = if raw.is_empty() {
            None
        } else {
            Some(match f.input {
                // A number that is not one goes to the API as text, which names the field.
                Input::Number => raw
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(raw)),
                Input::List => Value::Array(
                    raw.split([',', '，'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Value::from)
                        .collect(),
                ),
                Input::Text | Input::Select(_) => Value::from(raw),
            })
        };
        set_path(&mut out, f.path, value);
    }
    if kind.attributes {
        let rows: Vec<Value> = (0..attribute_rows(form))
            .filter_map(|i| {
                let get = |k: &str| {
                    form.get(&format!("attr.{i}.{k}"))
                        .map(|s| s.trim().to_owned())
                        .unwrap_or_default()
                };
                let name = get("name");
                if name.is_empty() {
                    return None;
                }
                let mut a = json!({"name": name, "type": get("type")});
                if !get("required").is_empty() {
                    a["required"] = json!(true);
                }
                let options: Vec<Value> = get("options")
                    .split([',', '，'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Value::from)
                    .collect();
                if !options.is_empty() {
                    a["options"] = Value::Array(options);
                }
                Some(a)
            })
            .collect();
        set_path(
            &mut out,
            "attributes",
            (!rows.is_empty()).then_some(Value::Array(rows)),
        );
    }
    out
}

/// How many attribute rows the form sent.
fn attribute_rows(form: &BTreeMap<String, String>) -> usize {
    form.keys()
        .filter_map(|k| {
            k.strip_prefix("attr.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

/// A stored record as the form's values.
fn from_json(kind: &Kind, def: &Value) -> BTreeMap<String, String> {
    let mut form: BTreeMap<String, String> = kind
        .fields
        .iter()
        .map(|f| (f.path.to_owned(), text_of(get_path(def, f.path))))
        .collect();
    if kind.attributes
        && let Some(attrs) = def.get("attributes").and_then(Value::as_array)
    {
        for (i, a) in attrs.iter().enumerate() {
            form.insert(format!("attr.{i}.name"), text_of(a.get("name")));
            form.insert(format!("attr.{i}.type"), text_of(a.get("type")));
            if a.get("required").and_then(Value::as_bool) == Some(true) {
                form.insert(format!("attr.{i}.required"), "on".into());
            }
            form.insert(format!("attr.{i}.options"), text_of(a.get("options")));
        }
    }
    form
}

fn select(
    lang: Lang,
    id: &str,
    name: &str,
    words: &[&str],
    current: &str,
    required: bool,
) -> String {
    let mut opts = String::new();
    if !required {
        opts.push_str("<option value=\"\"></option>");
    }
    for w in words {
        opts.push_str(&format!(
            "<option value=\"{w}\"{sel}>{label}</option>",
            sel = if *w == current { " selected" } else { "" },
            label = esc(i18n::vocabulary(lang, w)),
        ));
    }
    format!(
        "<select id=\"{id}\" name=\"{name}\"{req}>{opts}</select>",
        req = if required { " required" } else { "" }
    )
}

/// The create/edit form. `version` is the edited record's; `None` creates.
fn form_html(
    lang: Lang,
    kind: &Kind,
    actor: &Actor,
    values: &BTreeMap<String, String>,
    version: Option<u32>,
    errors: &[threadline_domain::error::FieldError],
) -> String {
    let sees_contacts = actor.permissions.contains(Permission::ReadCustomerData);
    let csrf = actor
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let value = |p: &str| values.get(p).map(String::as_str).unwrap_or("");
    let mut fields = String::new();
    for f in kind.fields {
        if f.customer_data && !sees_contacts {
            continue;
        }
        let id = format!("f-{}", f.path.replace('.', "-"));
        let req = if f.required { " required" } else { "" };
        let readonly = if f.path == "code" && version.is_some() {
            " readonly"
        } else {
            ""
        };
        let input = match f.input {
            Input::Select(words) => select(lang, &id, f.path, words, value(f.path), f.required),
            Input::Number => format!(
                "<input id=\"{id}\" name=\"{n}\" value=\"{v}\" inputmode=\"numeric\"{req}>",
                n = f.path,
                v = esc(value(f.path)),
            ),
            Input::Text | Input::List => format!(
                "<input id=\"{id}\" name=\"{n}\" value=\"{v}\" autocomplete=\"off\"{req}{readonly}>",
                n = f.path,
                v = esc(value(f.path)),
            ),
        };
        fields.push_str(&format!(
            "<div><label for=\"{id}\">{label}</label>{input}</div>",
            label = t(lang, f.label),
        ));
    }
    let attributes = if kind.attributes {
        let shown = attribute_rows(values) + 3;
        let rows: String = (0..shown)
            .map(|i| {
                let v = |k: &str| values.get(&format!("attr.{i}.{k}")).cloned().unwrap_or_default();
                format!(
                    "<tr><td><input name=\"attr.{i}.name\" value=\"{n}\" aria-label=\"{ln}\"></td>\
                     <td>{ty}</td>\
                     <td><input type=\"checkbox\" name=\"attr.{i}.required\" aria-label=\"{lr}\"{chk}></td>\
                     <td><input name=\"attr.{i}.options\" value=\"{o}\" aria-label=\"{lo}\"></td></tr>",
                    n = esc(&v("name")),
                    ln = t(lang, Msg::AttrName),
                    ty = select(lang, &format!("attr-{i}-type"), &format!("attr.{i}.type"), ATTRIBUTE_TYPES, &v("type"), true),
                    lr = t(lang, Msg::AttrRequired),
                    chk = if v("required").is_empty() { "" } else { " checked" },
                    o = esc(&v("options")),
                    lo = t(lang, Msg::AttrOptions),
                )
            })
            .collect();
        format!(
            "<h3>{h}</h3><p class=\"hint\">{hint}</p>{table}",
            h = t(lang, Msg::Attributes),
            hint = t(lang, Msg::AttributesHint),
            table = table(
                "attributes",
                &[
                    (t(lang, Msg::AttrName), false),
                    (t(lang, Msg::AttrType), false),
                    (t(lang, Msg::AttrRequired), false),
                    (t(lang, Msg::AttrOptions), false),
                ],
                &rows
            ),
        )
    } else {
        String::new()
    };
    let errors = super::form_errors(
        lang,
        errors.iter().map(|e| {
            let label = e.field.as_deref().map(|f| {
                kind.fields
                    .iter()
                    .find(|x| x.path == f || f.starts_with(&format!("{}.", x.path)))
                    .map(|x| t(lang, x.label))
                    .or_else(|| {
                        f.starts_with("attributes")
                            .then(|| t(lang, Msg::Attributes))
                    })
                    .unwrap_or(f)
            });
            (label, e)
        }),
    );
    let heading = match version {
        Some(v) => format!(
            "{} {} <span class=\"muted\">· {} {v}</span>",
            t(lang, Msg::EditRecord),
            esc(value("code")),
            t(lang, Msg::Version)
        ),
        None => t(lang, Msg::NewRecord).to_owned(),
    };
    // A serial rule shows the next serials it would give, drawn by /assets/serial-rules.js as
    // the form is typed (the sample inputs are not part of the rule).
    let preview = if kind.slug == "serial-rules" {
        format!(
            "<div id=\"rule-preview-panel\"><h3>{h}</h3><p class=\"hint\">{hint}</p><div class=\"grid\">\
             <div><label for=\"sample-product\">{lp}</label><input id=\"sample-product\" class=\"sample\" value=\"SAMPLE\" autocomplete=\"off\"></div>\
             <div><label for=\"sample-line\">{ll}</label><input id=\"sample-line\" class=\"sample\" value=\"L1\" autocomplete=\"off\"></div></div>\
             <ol id=\"rule-preview\" aria-live=\"polite\"></ol><div id=\"rule-preview-errors\"></div></div>",
            h = t(lang, Msg::RulePreview),
            hint = t(lang, Msg::RulePreviewHint),
            lp = t(lang, Msg::SampleProduct),
            ll = t(lang, Msg::SampleLine),
        )
    } else {
        String::new()
    };
    format!(
        "<section id=\"record-form\"><h2>{heading}</h2>{errors}<form method=\"post\" action=\"/admin/{slug}\" id=\"record\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">{ver}\
         <div class=\"grid\">{fields}</div>{attributes}{preview}<button type=\"submit\" id=\"save\">{save}</button></form></section>",
        slug = kind.slug,
        csrf = esc(&csrf),
        l = lang_param(lang),
        ver = version
            .map(|v| format!("<input type=\"hidden\" name=\"version\" value=\"{v}\">"))
            .unwrap_or_default(),
        save = t(lang, Msg::Save),
    )
}

/// `GET /assets/serial-rules.js`: the serial rule form's live preview.
pub async fn rule_script() -> Response {
    super::script_asset(include_str!("serial-rules.js"))
}

/// The admin tabs: the record kinds for those who configure, users for those who manage them.
pub(super) fn tabs(lang: Lang, actor: &Actor, current: &str) -> String {
    let mut links: Vec<(String, &str, &str)> = Vec::new();
    if actor.permissions.contains(Permission::Configure) {
        links.extend(KINDS.iter().map(|k| {
            (
                format!("/admin/{}?lang={}", k.slug, lang_param(lang)),
                t(lang, k.title),
                k.slug,
            )
        }));
        links.push((
            format!("/admin/labels?lang={}", lang_param(lang)),
            t(lang, Msg::LabelTemplates),
            "labels",
        ));
        links.push((
            format!("/admin/process?lang={}", lang_param(lang)),
            t(lang, Msg::ProcessRules),
            "process",
        ));
        links.push((
            format!("/admin/webhooks?lang={}", lang_param(lang)),
            t(lang, Msg::Webhooks),
            "webhooks",
        ));
    }
    if actor.permissions.contains(Permission::ManageUsers) {
        links.push((
            format!("/admin/users?lang={}", lang_param(lang)),
            t(lang, Msg::Users),
            "users",
        ));
        links.push((
            format!("/admin/roles?lang={}", lang_param(lang)),
            t(lang, Msg::Roles),
            "roles",
        ));
    }
    let links: String = links
        .into_iter()
        .map(|(href, label, slug)| {
            format!(
                "<a href=\"{href}\" class=\"tab{}\"{}>{label}</a>",
                if slug == current { " current" } else { "" },
                if slug == current {
                    " aria-current=\"page\""
                } else {
                    ""
                },
            )
        })
        .collect();
    format!(
        "<nav class=\"tabs\" aria-label=\"{}\">{links}</nav>",
        t(lang, Msg::Admin)
    )
}

fn list_html(lang: Lang, kind: &Kind, records: &[(u32, Value)]) -> String {
    let label = |p: &'static str| -> &'static str {
        kind.fields
            .iter()
            .find(|f| f.path == p)
            .map(|f| t(lang, f.label))
            .unwrap_or(p)
    };
    let mut heads: Vec<(&str, bool)> = kind.columns.iter().map(|c| (label(c), false)).collect();
    heads.push((t(lang, Msg::Version), true));
    let rows: String = records
        .iter()
        .map(|(version, def)| {
            let code = text_of(def.get("code"));
            let cells: String = kind
                .columns
                .iter()
                .map(|c| {
                    let text = text_of(get_path(def, c));
                    let text = if *c == "code" {
                        format!(
                            "<a href=\"/admin/{}?edit={}&amp;lang={}\">{}</a>",
                            kind.slug,
                            url_encode(&code),
                            lang_param(lang),
                            esc(&text)
                        )
                    } else if matches!(*c, "kind" | "tracking") {
                        esc(i18n::vocabulary(lang, &text))
                    } else {
                        esc(&text)
                    };
                    format!("<td>{text}</td>")
                })
                .collect();
            format!("<tr>{cells}<td class=\"n\">{version}</td></tr>")
        })
        .collect();
    table(&format!("{}-list", kind.slug), &heads, &rows)
}

#[derive(Debug, Default, serde::Deserialize)]
struct ListParams {
    edit: Option<String>,
    new: Option<String>,
    saved: Option<String>,
}

fn not_found(lang: Lang, actor: &Actor, uri: &Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        page_with(
            lang,
            t(lang, Msg::NotFoundPage),
            Some(actor),
            &format!(
                "<section><p class=\"bad\">{}</p></section>",
                t(lang, Msg::NotFoundPage)
            ),
            &[],
            Some(uri),
        ),
    )
        .into_response()
}

/// Who is looking, in which language, at which address.
struct Viewer<'a> {
    app: &'a AppState,
    actor: &'a Actor,
    lang: Lang,
    uri: &'a Uri,
}

async fn render(
    v: &Viewer<'_>,
    kind: &Kind,
    form: Option<String>,
    status: StatusCode,
    saved: Option<&str>,
) -> Response {
    let (app, actor, lang, uri) = (v.app, v.actor, v.lang, v.uri);
    let records = match all(app, actor, kind).await {
        Ok(r) => r,
        Err(e) => return super::refusal(lang, e),
    };
    let saved = saved
        .map(|c| {
            format!(
                "<p class=\"ok\" id=\"saved\" role=\"status\">✔ {} · {}</p>",
                t(lang, Msg::SavedRecord),
                esc(c)
            )
        })
        .unwrap_or_default();
    let new = if form.is_none() {
        format!(
            "<a class=\"button\" id=\"new-record\" href=\"/admin/{}?new=1&amp;lang={}\">{}</a>",
            kind.slug,
            lang_param(lang),
            t(lang, Msg::NewRecord)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<section><h1>{admin}</h1>{tabs}</section>{form}<section id=\"records\"><h2>{title}</h2>{saved}{list}{new}</section>",
        admin = t(lang, Msg::Admin),
        tabs = tabs(lang, actor, kind.slug),
        form = form.unwrap_or_default(),
        title = t(lang, kind.title),
        list = list_html(lang, kind, &records),
    );
    (
        status,
        page_with(
            lang,
            t(lang, kind.title),
            Some(actor),
            &body,
            if kind.slug == "serial-rules" {
                &["/assets/serial-rules.js"]
            } else {
                &[]
            },
            Some(uri),
        ),
    )
        .into_response()
}

/// `GET /admin`: the first admin page.
pub async fn index(uri: Uri, headers: HeaderMap) -> Response {
    let lang = lang_of_request(&uri, &headers);
    Redirect::to(&format!("/admin/products?lang={}", lang_param(lang))).into_response()
}

/// `GET /admin/{kind}`: the list, with the form when `?new` or `?edit=CODE` asks for it.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let Some(kind) = kind_of(&slug) else {
        return not_found(lang, &actor, &uri);
    };
    let p = axum::extract::Query::<ListParams>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let form = if let Some(code) = p.edit.as_deref() {
        match stored(&app, &actor, kind, code).await {
            Ok(Some(s)) => Some(form_html(
                lang,
                kind,
                &actor,
                &from_json(kind, &s.def),
                Some(s.version),
                &[],
            )),
            Ok(None) => return not_found(lang, &actor, &uri),
            Err(e) => return super::refusal(lang, e),
        }
    } else if p.new.is_some() {
        Some(form_html(lang, kind, &actor, &BTreeMap::new(), None, &[]))
    } else {
        None
    };
    let viewer = Viewer {
        app: &app,
        actor: &actor,
        lang,
        uri: &uri,
    };
    render(&viewer, kind, form, StatusCode::OK, p.saved.as_deref()).await
}

/// `POST /admin/{kind}`: creates the record, or replaces the version the form was loaded
/// with (`version`), through the API's handlers.
pub async fn save(
    State(app): State<AppState>,
    actor: Actor,
    pending: crate::audit::Pending,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Response {
    let (lang, f) = match super::posted_form(&actor, &headers, form) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    let Some(kind) = kind_of(&slug) else {
        return not_found(lang, &actor, &uri);
    };
    let code = f
        .get("code")
        .map(|c| c.trim().to_owned())
        .unwrap_or_default();
    let version: Option<u32> = f.get("version").and_then(|v| v.parse().ok());
    let sees_contacts = actor.permissions.contains(Permission::ReadCustomerData);
    let base = if version.is_some() {
        match stored(&app, &actor, kind, &code).await {
            Ok(Some(s)) => s.def,
            Ok(None) => return not_found(lang, &actor, &uri),
            Err(e) => return super::refusal(lang, e),
        }
    } else {
        json!({})
    };
    let body = Bytes::from(to_json(kind, &f, base, sees_contacts).to_string());
    let mut json_headers = super::json_request();
    if let Some(v) = version
        && let Ok(h) = HeaderValue::from_str(&format!("\"{v}\""))
    {
        json_headers.insert(header::IF_MATCH, h);
    }
    let st = State(app.clone());
    let a = actor.clone();
    let done = match (kind.slug, version) {
        ("products", None) => crate::api::create_product(st, a, pending, json_headers, body).await,
        ("products", Some(_)) => {
            crate::api::replace_product(st, a, pending, Path(code.clone()), json_headers, body)
                .await
        }
        ("parties", None) => crate::api::create_party(st, a, pending, json_headers, body).await,
        ("parties", Some(_)) => {
            crate::api::replace_party(st, a, pending, Path(code.clone()), json_headers, body).await
        }
        ("serial-rules", None) => {
            crate::serials::create_rule(st, a, pending, json_headers, body).await
        }
        ("serial-rules", Some(_)) => {
            crate::serials::replace_rule(st, a, pending, Path(code.clone()), json_headers, body)
                .await
        }
        (_, None) => crate::api::create_location(st, a, pending, json_headers, body).await,
        (_, Some(_)) => {
            crate::api::replace_location(st, a, pending, Path(code.clone()), json_headers, body)
                .await
        }
    };
    match done {
        Ok(mut resp) => super::done_redirect(
            &mut resp,
            &format!(
                "/admin/{}?saved={}&lang={}",
                kind.slug,
                url_encode(&code),
                lang_param(lang)
            ),
        ),
        Err(e @ (AppError::Unauthorized(_) | AppError::Forbidden(_) | AppError::Internal(_))) => {
            super::refusal(lang, e)
        }
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            let form = form_html(lang, kind, &actor, &f, version, &errors);
            let viewer = Viewer {
                app: &app,
                actor: &actor,
                lang,
                uri: &uri,
            };
            render(&viewer, kind, Some(form), status, None).await
        }
    }
}
