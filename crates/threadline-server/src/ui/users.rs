//! `/admin/users` (needs `manage_users`): users with their roles and state, API tokens, and
//! the forms that create a user, change a user's roles, lock or unlock a user, create a token
//! (its secret shown once) and revoke one. Every form posts to `POST /admin/users` with the
//! session's CSRF token and an `action`, and goes through the API's own handlers in
//! [`crate::account`], so the same rules hold (no locking yourself out, password strength…).

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_store::CustomRole;

use super::{FormOutcome, esc, lang_of_request, lang_param, page_with, table, url_encode};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{self, Lang, Msg, t};

/// The roles a form offers: the shipped ones, then the plant's own.
fn role_boxes(lang: Lang, prefix: &str, checked: &[&str], custom: &[CustomRole]) -> String {
    let shipped = Role::ALL
        .iter()
        .map(|r| (r.as_str(), i18n::vocabulary(lang, r.as_str())));
    let own = custom
        .iter()
        .map(|r| (r.def.name.as_str(), r.def.label.as_str()));
    shipped
        .chain(own)
        .map(|(name, label)| {
            format!(
                "<label class=\"check\"><input type=\"checkbox\" id=\"{prefix}-{name}\" name=\"role.{name}\"{c}> {label}</label>",
                c = if checked.contains(&name) { " checked" } else { "" },
                label = esc(label),
            )
        })
        .collect()
}

/// Roles as the reader reads them: a shipped role's name in the reader's language, a custom
/// role's label.
fn roles_text(lang: Lang, stored: &str, custom: &[CustomRole]) -> String {
    stored
        .split_whitespace()
        .map(|r| {
            custom
                .iter()
                .find(|c| c.def.name.as_str() == r)
                .map(|c| c.def.label.as_str())
                .unwrap_or_else(|| i18n::vocabulary(lang, r))
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn when(lang: Lang, zone: chrono_tz::Tz, t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| i18n::datetime(lang, zone, &t))
        .unwrap_or_default()
}

/// The distributor an account is bound to (for the `distributor` role only).
fn party_input(lang: Lang, id: &str, value: &str) -> String {
    format!(
        "<div class=\"grid\"><div><label for=\"{id}\">{label}</label><input id=\"{id}\" name=\"party\" value=\"{v}\" autocomplete=\"off\">\
         <p class=\"hint\">{hint}</p></div></div>",
        label = t(lang, Msg::DistributorParty),
        hint = t(lang, Msg::DistributorPartyHint),
        v = esc(value),
    )
}

/// A text field of the form, trimmed; empty is absent.
fn given<'a>(f: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    f.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

#[derive(Debug, Default, serde::Deserialize)]
struct Params {
    edit: Option<String>,
    done: Option<String>,
}

async fn render(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
    uri: &Uri,
    edit: Option<&str>,
    outcome: FormOutcome,
    status: StatusCode,
) -> Response {
    let (users, tokens, custom) = match (
        app.store.users().await,
        app.store.tokens().await,
        app.store.custom_roles().await,
    ) {
        (Ok(u), Ok(t), Ok(c)) => (u, t, c),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return super::refusal(lang, e.into()),
    };
    let zone = super::zone(app).await;
    let csrf = actor
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let outcome = outcome.html(lang, Msg::TokenSecret);
    let user_rows: String = users
        .iter()
        .map(|u| {
            let stored = u.roles.to_stored();
            format!(
                "<tr><td><a href=\"/admin/users?edit={n}&amp;lang={l}\">{name}</a></td><td>{roles}</td><td>{party}</td><td>{state}</td><td>{created}</td></tr>",
                n = url_encode(&u.name),
                l = lang_param(lang),
                name = esc(&u.name),
                roles = esc(&roles_text(lang, &stored, &custom)),
                party = esc(u.party.as_deref().unwrap_or("")),
                state = if u.disabled {
                    format!("<span class=\"badge bad\">{}</span>", t(lang, Msg::Disabled))
                } else {
                    format!("<span class=\"badge ok\">{}</span>", t(lang, Msg::Active))
                },
                created = esc(&when(lang, zone, Some(u.created_at))),
            )
        })
        .collect();
    let users_table = table(
        "users",
        &[
            (t(lang, Msg::UserName), false),
            (t(lang, Msg::Roles), false),
            (t(lang, Msg::DistributorParty), false),
            (t(lang, Msg::Status), false),
            (t(lang, Msg::Created), false),
        ],
        &user_rows,
    );
    let editing = edit
        .and_then(|name| users.iter().find(|u| u.name == name))
        .map(|u| {
            let stored = u.roles.to_stored();
            let checked: Vec<&str> = stored.split_whitespace().collect();
            let site = u.site.clone().unwrap_or_default();
            let roles = super::action_form(
                "/admin/users",
                lang,
                &csrf,
                "edit-roles",
                "roles",
                &[("name", &u.name), ("site", &site)],
                &format!(
                    "<div class=\"checks\">{}</div>{}",
                    role_boxes(lang, "edit-role", &checked, &custom),
                    party_input(lang, "edit-party", u.party.as_deref().unwrap_or("")),
                ),
                t(lang, Msg::SetRoles),
            );
            let (action, label) = if u.disabled {
                ("unlock", Msg::UnlockUser)
            } else {
                ("lock", Msg::LockUser)
            };
            let lock = super::action_form(
                "/admin/users",
                lang,
                &csrf,
                "lock-user",
                action,
                &[("name", &u.name)],
                "",
                t(lang, label),
            );
            format!(
                "<section id=\"user-form\"><h2>{} {}</h2>{roles}{lock}</section>",
                t(lang, Msg::EditRecord),
                esc(&u.name)
            )
        })
        .unwrap_or_default();
    let new_user = super::action_form(
        "/admin/users",
        lang,
        &csrf,
        "new-user",
        "create_user",
        &[],
        &format!(
            "<div class=\"grid\"><div><label for=\"u-name\">{un}</label><input id=\"u-name\" name=\"name\" autocomplete=\"off\" required></div>\
             <div><label for=\"u-password\">{pw}</label><input id=\"u-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required></div></div>\
             <div class=\"checks\">{roles}</div>{party}",
            un = t(lang, Msg::UserName),
            pw = t(lang, Msg::Password),
            roles = role_boxes(lang, "u-role", &[], &custom),
            party = party_input(lang, "u-party", ""),
        ),
        t(lang, Msg::Save),
    );
    let token_rows: String = tokens
        .iter()
        .map(|tk| {
            let revoke = if tk.revoked_at.is_some() {
                format!("<span class=\"badge bad\">{}</span>", t(lang, Msg::Revoked))
            } else {
                super::action_form(
"/admin/users",
                    lang,
                    &csrf,
                    &format!("revoke-{}", tk.name),
                    "revoke_token",
                    &[("name", &tk.name)],
                    "",
                    t(lang, Msg::Revoke),
                )
            };
            format!(
                "<tr><td>{name}</td><td>{roles}</td><td>{by}</td><td>{created}</td><td>{used}</td><td>{revoke}</td></tr>",
                name = esc(&tk.name),
                roles = esc(&roles_text(lang, &tk.roles.to_stored(), &custom)),
                by = esc(&tk.created_by),
                created = esc(&when(lang, zone, Some(tk.created_at))),
                used = esc(&when(lang, zone, tk.last_used_at)),
            )
        })
        .collect();
    let tokens_table = table(
        "tokens",
        &[
            (t(lang, Msg::Name), false),
            (t(lang, Msg::Roles), false),
            (t(lang, Msg::CreatedBy), false),
            (t(lang, Msg::Created), false),
            (t(lang, Msg::LastUsed), false),
            ("", false),
        ],
        &token_rows,
    );
    let new_token = super::action_form(
        "/admin/users",
        lang,
        &csrf,
        "new-token",
        "create_token",
        &[],
        &format!(
            "<div class=\"grid\"><div><label for=\"t-name\">{n}</label><input id=\"t-name\" name=\"name\" autocomplete=\"off\" required></div></div>\
             <div class=\"checks\">{roles}</div>",
            n = t(lang, Msg::Name),
            roles = role_boxes(lang, "t-role", &[], &custom),
        ),
        t(lang, Msg::Save),
    );
    let body = format!(
        "<section><h1>{admin}</h1>{tabs}</section>{outcome}{editing}\
         <section id=\"users-section\"><h2>{users}</h2>{users_table}</section>\
         <section><h2>{nu}</h2>{new_user}</section>\
         <section id=\"tokens-section\"><h2>{tk}</h2>{tokens_table}</section>\
         <section><h2>{nt}</h2>{new_token}</section>",
        admin = t(lang, Msg::Admin),
        tabs = super::admin::tabs(lang, actor, "users"),
        users = t(lang, Msg::Users),
        nu = t(lang, Msg::NewUser),
        tk = t(lang, Msg::Tokens),
        nt = t(lang, Msg::NewToken),
    );
    (
        status,
        page_with(
            lang,
            t(lang, Msg::Users),
            Some(actor),
            &body,
            &[],
            Some(uri),
        ),
    )
        .into_response()
}

/// `GET /admin/users`.
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
    render(
        &app,
        &actor,
        lang,
        &uri,
        p.edit.as_deref(),
        outcome,
        StatusCode::OK,
    )
    .await
}

/// The roles ticked in a form, shipped and custom (the API refuses a name that is neither).
fn ticked(f: &BTreeMap<String, String>) -> Vec<&str> {
    f.keys().filter_map(|k| k.strip_prefix("role.")).collect()
}

/// `POST /admin/users`: one of the forms of the page, by its `action`.
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
    let name = f
        .get("name")
        .map(|n| n.trim().to_owned())
        .unwrap_or_default();
    let json_headers = super::json_request();
    let body = |v: Value| Bytes::from(v.to_string());
    let st = State(app.clone());
    let a = actor.clone();
    let action = f.get("action").map(String::as_str).unwrap_or("");
    let done = match action {
        "create_user" => {
            let b = body(
                json!({"name": name, "password": f.get("password").cloned().unwrap_or_default(), "roles": ticked(&f),
                    "party": given(&f, "party")}),
            );
            crate::account::create_user(st, a, pending, json_headers, b).await
        }
        "roles" => {
            let b = body(
                json!({"roles": ticked(&f), "site": given(&f, "site"), "party": given(&f, "party")}),
            );
            crate::account::set_user_roles(st, a, pending, Path(name.clone()), json_headers, b)
                .await
        }
        "lock" => crate::account::lock_user(st, a, pending, Path(name.clone())).await,
        "unlock" => crate::account::unlock_user(st, a, pending, Path(name.clone())).await,
        "create_token" => {
            let b = body(json!({"name": name, "roles": ticked(&f)}));
            // The page answers with the secret (201), not a redirect: the record says so.
            let pending = pending.answered_in_place();
            crate::account::create_token(st, a, pending, json_headers, b).await
        }
        "revoke_token" => crate::account::revoke_token(st, a, pending, Path(name.clone())).await,
        _ => Err(AppError::malformed(
            "invalid_action",
            "the form names no known action",
            Some("action".into()),
        )),
    };
    match done {
        Ok(mut resp) if action == "create_token" => {
            // The token and its record were written together: the page carries the note on.
            let note = resp.extensions_mut().remove::<crate::audit::AuditNote>();
            let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let secret = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["secret"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let page = render(
                &app,
                &actor,
                lang,
                &uri,
                None,
                FormOutcome::Secret(name, secret),
                StatusCode::CREATED,
            )
            .await;
            match note {
                Some(n) => n.on(page),
                None => page,
            }
        }
        Ok(mut resp) => super::done_redirect(
            &mut resp,
            &format!(
                "/admin/users?done={}&lang={}{}",
                url_encode(&name),
                lang_param(lang),
                if matches!(action, "roles" | "lock" | "unlock") {
                    format!("&edit={}", url_encode(&name))
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
            let edit = matches!(action, "roles" | "lock" | "unlock").then_some(name.as_str());
            render(
                &app,
                &actor,
                lang,
                &uri,
                edit,
                FormOutcome::Refused(errors),
                status,
            )
            .await
        }
    }
}
