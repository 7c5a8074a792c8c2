//! `/admin/roles` (needs `manage_users`): the plant's custom roles with who holds them, a form
//! that creates one or edits one (a checkbox per permission), a delete button, and the shipped
//! roles read-only with their permissions — each with a link that copies it into the form as
//! a starting point. Every form posts to `POST /admin/roles` with the session's CSRF token and
//! an `action`, and goes through the API's own handlers in [`crate::roles`]: the same rules,
//! the same audit record.

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use threadline_domain::access::{Permission, Permissions};

use super::{FormOutcome, esc, lang_of_request, lang_param, page_with, table, url_encode};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{self, Lang, Msg, t};
use crate::roles::RoleView;

/// What the role form shows: a stored role to edit, a role copied into a new one, or what was
/// posted and refused.
#[derive(Debug, Default)]
struct Draft {
    name: String,
    label: String,
    description: String,
    permissions: Permissions,
    /// The version being edited; `None` for a new role.
    version: Option<u32>,
}

impl Draft {
    fn of(v: &RoleView) -> Draft {
        Draft {
            name: v.name.clone(),
            label: v.label.clone(),
            description: v.description.clone().unwrap_or_default(),
            permissions: v.permissions,
            version: v.version,
        }
    }

    fn posted(f: &BTreeMap<String, String>) -> Draft {
        let text = |k: &str| f.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
        Draft {
            name: text("name"),
            label: text("label"),
            description: text("description"),
            permissions: Permission::ALL
                .iter()
                .filter(|p| f.contains_key(&format!("perm.{p}")))
                .fold(Permissions::NONE, |s, p| s.with(*p)),
            version: f.get("version").and_then(|v| v.parse().ok()),
        }
    }
}

/// The permissions of a role, as the reader reads them.
fn permission_list(lang: Lang, p: Permissions) -> String {
    p.iter()
        .map(|p| i18n::permission(lang, p))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The page's label for a refused field.
fn field_label(lang: Lang, field: Option<&str>) -> Option<&'static str> {
    let f = field?;
    Some(match f {
        "name" => t(lang, Msg::RoleName),
        "label" => t(lang, Msg::RoleLabel),
        "description" => t(lang, Msg::Description),
        f if f.starts_with("permissions") => t(lang, Msg::Permissions),
        "If-Match" => t(lang, Msg::Version),
        _ => return None,
    })
}

/// The form that creates a role (`draft.version` is `None`) or changes one.
fn role_form(lang: Lang, csrf: &str, draft: &Draft) -> String {
    let boxes: String = Permission::ALL
        .iter()
        .map(|p| {
            format!(
                "<label class=\"check\" title=\"{p}\"><input type=\"checkbox\" id=\"perm-{p}\" name=\"perm.{p}\"{c}> {label}</label>",
                c = if draft.permissions.contains(*p) { " checked" } else { "" },
                label = esc(i18n::permission(lang, *p)),
            )
        })
        .collect();
    let version = draft.version.map(|v| v.to_string()).unwrap_or_default();
    let (action, hidden, name_input): (&str, Vec<(&str, &str)>, String) = match draft.version {
        Some(_) => (
            "update",
            vec![("name", draft.name.as_str()), ("version", version.as_str())],
            format!(
                "<div><label for=\"r-name\">{n}</label><input id=\"r-name\" value=\"{v}\" disabled></div>",
                n = t(lang, Msg::RoleName),
                v = esc(&draft.name),
            ),
        ),
        None => (
            "create",
            Vec::new(),
            format!(
                "<div><label for=\"r-name\">{n}</label><input id=\"r-name\" name=\"name\" value=\"{v}\" autocomplete=\"off\" required \
                 maxlength=\"{max}\" pattern=\"[a-z][a-z0-9_\\-]*\"><p class=\"hint\">{hint}</p></div>",
                n = t(lang, Msg::RoleName),
                v = esc(&draft.name),
                max = threadline_domain::access::MAX_ROLE_NAME_LEN,
                hint = t(lang, Msg::RoleNameHint),
            ),
        ),
    };
    super::action_form(
        "/admin/roles",
        lang,
        csrf,
        "role-form",
        action,
        &hidden,
        &format!(
            "<div class=\"grid\">{name_input}\
             <div><label for=\"r-label\">{l}</label><input id=\"r-label\" name=\"label\" value=\"{lv}\" required maxlength=\"{lmax}\"></div></div>\
             <label for=\"r-description\">{d}</label><textarea id=\"r-description\" name=\"description\" rows=\"2\" maxlength=\"{dmax}\">{dv}</textarea>\
             <fieldset><legend>{p}</legend><div class=\"checks\">{boxes}</div></fieldset>",
            l = t(lang, Msg::RoleLabel),
            lv = esc(&draft.label),
            lmax = threadline_domain::access::MAX_ROLE_LABEL_CHARS,
            d = t(lang, Msg::Description),
            dv = esc(&draft.description),
            dmax = threadline_domain::access::MAX_ROLE_DESCRIPTION_CHARS,
            p = t(lang, Msg::Permissions),
        ),
        t(lang, Msg::Save),
    )
}

#[derive(Debug, Default, serde::Deserialize)]
struct Params {
    /// A custom role to edit.
    edit: Option<String>,
    /// A role (shipped or custom) to start a new one from.
    copy: Option<String>,
    done: Option<String>,
}

async fn render(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
    uri: &Uri,
    draft: Option<Draft>,
    outcome: FormOutcome,
    status: StatusCode,
) -> Response {
    let roles = match crate::roles::all(app).await {
        Ok(r) => r,
        Err(e) => return super::refusal(lang, e),
    };
    let zone = super::zone(app).await;
    let csrf = actor
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let outcome = match &outcome {
        FormOutcome::Refused(errors) => super::form_errors(
            lang,
            errors
                .iter()
                .map(|e| (field_label(lang, e.field.as_deref()), e)),
        ),
        other => other.html(lang, Msg::TokenSecret),
    };
    let l = lang_param(lang);
    let held = |v: &RoleView| {
        let h = v.held_by.unwrap_or_default();
        format!(
            "{} {} · {} {}",
            t(lang, Msg::Users),
            i18n::int(lang, i64::from(h.users)),
            t(lang, Msg::Tokens),
            i18n::int(lang, i64::from(h.tokens))
        )
    };
    let copy_link = |v: &RoleView| {
        format!(
            "<a href=\"/admin/roles?copy={n}&amp;lang={l}#role-form\">{c}</a>",
            n = url_encode(&v.name),
            c = t(lang, Msg::CopyRole),
        )
    };
    let custom_rows: String = roles
        .iter()
        .filter(|v| !v.shipped)
        .map(|v| {
            let delete = super::action_form(
"/admin/roles",
                lang,
                &csrf,
                &format!("delete-{}", v.name),
                "delete",
                &[("name", &v.name)],
                "",
                t(lang, Msg::DeleteRole),
            );
            format!(
                "<tr><td><a href=\"/admin/roles?edit={n}&amp;lang={l}#role-form\"><code>{name}</code></a></td><td>{label}</td>\
                 <td>{perms}</td><td>{held}</td><td>{updated} · {by}</td><td>{copy}</td><td>{delete}</td></tr>",
                n = url_encode(&v.name),
                name = esc(&v.name),
                label = esc(&v.label),
                perms = esc(&permission_list(lang, v.permissions)),
                held = esc(&held(v)),
                updated = esc(
                    &v.updated_at
                        .map(|at| i18n::datetime(lang, zone, &at))
                        .unwrap_or_default()
                ),
                by = esc(v.updated_by.as_deref().unwrap_or("")),
                copy = copy_link(v),
            )
        })
        .collect();
    let custom_table = if custom_rows.is_empty() {
        format!("<p class=\"muted\">{}</p>", t(lang, Msg::NoCustomRoles))
    } else {
        table(
            "custom-roles",
            &[
                (t(lang, Msg::RoleName), false),
                (t(lang, Msg::RoleLabel), false),
                (t(lang, Msg::Permissions), false),
                (t(lang, Msg::HeldBy), false),
                (t(lang, Msg::Updated), false),
                ("", false),
                ("", false),
            ],
            &custom_rows,
        )
    };
    let shipped_rows: String = roles
        .iter()
        .filter(|v| v.shipped)
        .map(|v| {
            format!(
                "<tr><td><code>{name}</code></td><td>{label}</td><td>{perms}</td><td>{held}</td><td>{copy}</td></tr>",
                name = esc(&v.name),
                label = esc(i18n::vocabulary(lang, &v.name)),
                perms = esc(&permission_list(lang, v.permissions)),
                held = esc(&held(v)),
                copy = copy_link(v),
            )
        })
        .collect();
    let shipped_table = table(
        "shipped-roles",
        &[
            (t(lang, Msg::RoleName), false),
            (t(lang, Msg::RoleLabel), false),
            (t(lang, Msg::Permissions), false),
            (t(lang, Msg::HeldBy), false),
            ("", false),
        ],
        &shipped_rows,
    );
    let draft = draft.unwrap_or_default();
    let form_heading = if draft.version.is_some() {
        format!("{} {}", t(lang, Msg::EditRecord), esc(&draft.name))
    } else {
        t(lang, Msg::NewRole).to_owned()
    };
    let form = role_form(lang, &csrf, &draft);
    let body = format!(
        "<section><h1>{admin}</h1>{tabs}</section>{outcome}\
         <section id=\"custom-roles-section\"><h2>{custom}</h2><p class=\"hint\">{custom_hint}</p>{custom_table}</section>\
         <section id=\"role-form-section\"><h2>{form_heading}</h2>{form}</section>\
         <section id=\"shipped-roles-section\"><h2>{shipped}</h2><p class=\"hint\">{shipped_hint}</p>{shipped_table}</section>",
        admin = t(lang, Msg::Admin),
        tabs = super::admin::tabs(lang, actor, "roles"),
        custom = t(lang, Msg::CustomRoles),
        custom_hint = t(lang, Msg::CustomRolesHint),
        shipped = t(lang, Msg::ShippedRoles),
        shipped_hint = t(lang, Msg::ShippedRolesHint),
    );
    (
        status,
        page_with(
            lang,
            t(lang, Msg::Roles),
            Some(actor),
            &body,
            &[],
            Some(uri),
        ),
    )
        .into_response()
}

/// `GET /admin/roles`: `?edit=` a custom role, `?copy=` any role into a new one.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let p = axum::extract::Query::<Params>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let outcome = p.done.map(FormOutcome::Done).unwrap_or(FormOutcome::None);
    let wanted = p.edit.as_deref().or(p.copy.as_deref());
    let draft = match wanted {
        None => None,
        Some(name) => match crate::roles::all(&app).await {
            Ok(roles) => roles.iter().find(|v| v.name == name).map(|v| {
                let mut d = Draft::of(v);
                if p.edit.is_none() || v.shipped {
                    // A copy is a new role: it keeps the permissions, not the name.
                    d.version = None;
                    d.name = String::new();
                    if v.shipped {
                        d.label = i18n::vocabulary(lang, &v.name).to_owned();
                    }
                }
                d
            }),
            Err(e) => return super::refusal(lang, e),
        },
    };
    render(&app, &actor, lang, &uri, draft, outcome, StatusCode::OK).await
}

/// `POST /admin/roles`: `action` = `create`, `update` (with the `version` it was loaded with)
/// or `delete`.
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
    let draft = Draft::posted(&f);
    let name = draft.name.clone();
    let body = json!({
        "label": draft.label,
        "description": (!draft.description.is_empty()).then_some(&draft.description),
        "permissions": draft.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    });
    let st = State(app.clone());
    let a = actor.clone();
    let action = f.get("action").map(String::as_str).unwrap_or("");
    let done = match action {
        "create" => {
            let mut b = body;
            b["name"] = json!(name);
            let bytes = Bytes::from(b.to_string());
            crate::roles::create(st, a, pending, super::json_request(), bytes).await
        }
        "update" => {
            let mut h = super::json_request();
            let version = draft.version.unwrap_or(0);
            if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
                h.insert(header::IF_MATCH, v);
            }
            let bytes = Bytes::from(body.to_string());
            crate::roles::replace(st, a, pending, Path(name.clone()), h, bytes).await
        }
        "delete" => crate::roles::delete(st, a, pending, Path(name.clone())).await,
        _ => Err(AppError::malformed(
            "invalid_action",
            "the form names no known action",
            Some("action".into()),
        )),
    };
    match done {
        Ok(mut resp) => super::done_redirect(
            &mut resp,
            &format!(
                "/admin/roles?done={}&lang={}{}",
                url_encode(&name),
                lang_param(lang),
                if action == "update" {
                    format!("&edit={}#role-form", url_encode(&name))
                } else {
                    String::new()
                }
            ),
        ),
        Err(e @ (AppError::Unauthorized(_) | AppError::Forbidden(_) | AppError::Internal(_))) => {
            super::refusal(lang, e)
        }
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            // A refused delete leaves the form empty; a refused create or change shows what
            // was sent, to fix.
            let draft = (action != "delete").then_some(draft);
            render(
                &app,
                &actor,
                lang,
                &uri,
                draft,
                FormOutcome::Refused(errors),
                status,
            )
            .await
        }
    }
}
