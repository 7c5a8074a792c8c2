//! `/admin/webhooks` (needs `configure`): the webhook subscriptions with their filters and
//! state, a form that subscribes a URL (its signing secret shown once), disable and enable,
//! and a subscription's delivery log — status, attempts, the receiver's last answer and error —
//! with a redelivery button on dead-lettered deliveries. Every form posts to
//! `POST /admin/webhooks` with the session's CSRF token and an `action`, and goes through the
//! API's own handlers in [`crate::webhook`], so the checks (private destinations, names,
//! versions) and the audit note are the API's.

use std::collections::BTreeMap;

use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use threadline_store::webhook::{
    Delivery, DeliveryQuery, DeliveryStatus, Topic, Webhook, WebhookFormat,
};

use super::{FormOutcome, esc, lang_of_request, lang_param, page_with, table, url_encode};
use crate::AppState;
use crate::audit::AuditNote;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{self, Lang, Msg, t};

/// The deliveries the log shows at once.
const LOG_LIMIT: u32 = 100;

#[derive(Debug, Default, serde::Deserialize)]
struct Params {
    /// The subscription whose delivery log is shown.
    hook: Option<String>,
    /// Only deliveries in this state.
    status: Option<String>,
    /// What the last form changed.
    done: Option<String>,
}

fn when(lang: Lang, zone: chrono_tz::Tz, t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| i18n::datetime(lang, zone, &t))
        .unwrap_or_default()
}

fn status_badge(lang: Lang, s: DeliveryStatus) -> String {
    let class = match s {
        DeliveryStatus::Delivered => "ok",
        DeliveryStatus::Pending => "warn",
        DeliveryStatus::Dead => "bad",
    };
    format!(
        "<span class=\"badge {class}\" data-status=\"{}\">{}</span>",
        s.as_str(),
        i18n::delivery_status(lang, s)
    )
}

/// A form posting `action` to this page, with `hidden` fields and a submit button.
fn action_form(
    lang: Lang,
    csrf: &str,
    id: &str,
    action: &str,
    hidden: &[(&str, &str)],
    inner: &str,
    button: &str,
) -> String {
    super::action_form(
        "/admin/webhooks",
        lang,
        csrf,
        id,
        action,
        hidden,
        inner,
        button,
    )
}

/// What a subscription's filter asks for, in words.
fn filter_text(lang: Lang, h: &Webhook) -> String {
    let f = &h.filter;
    let topics = if f.topics.is_empty() {
        t(lang, Msg::EveryEvent).to_owned()
    } else {
        f.topics
            .iter()
            .map(|tp| i18n::topic(lang, *tp))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = vec![esc(&topics)];
    for (label, list) in [
        (Msg::FilterProducts, &f.products),
        (Msg::FilterLocations, &f.locations),
        (Msg::FilterSteps, &f.biz_steps),
    ] {
        if !list.is_empty() {
            parts.push(format!(
                "<span class=\"muted\">{}:</span> {}",
                t(lang, label),
                esc(&list.join(", "))
            ));
        }
    }
    parts.join("<br>")
}

fn hooks_table(
    lang: Lang,
    zone: chrono_tz::Tz,
    csrf: &str,
    hooks: &[Webhook],
    shown: Option<&str>,
) -> String {
    let l = lang_param(lang);
    let rows: String = hooks
        .iter()
        .map(|h| {
            let (action, label) = if h.active {
                ("disable", Msg::DisableWebhook)
            } else {
                ("enable", Msg::EnableWebhook)
            };
            let toggle = action_form(
                lang,
                csrf,
                &format!("{action}-{}", h.name),
                action,
                &[("name", &h.name), ("hook", shown.unwrap_or(""))],
                "",
                t(lang, label),
            );
            format!(
                "<tr id=\"hook-{id}\"><td><a href=\"/admin/webhooks?hook={n}&amp;lang={l}#deliveries\">{name}</a></td><td class=\"url\">{url}</td>\
                 <td>{format}</td><td>{filter}</td><td>{state}</td><td>{updated}</td><td>{toggle}</td></tr>",
                id = esc(&h.name),
                n = url_encode(&h.name),
                name = esc(&h.name),
                url = esc(&h.url),
                format = i18n::webhook_format(lang, h.format),
                filter = filter_text(lang, h),
                state = if h.active {
                    format!("<span class=\"badge ok\">{}</span>", t(lang, Msg::Active))
                } else {
                    format!("<span class=\"badge bad\">{}</span>", t(lang, Msg::WebhookPaused))
                },
                updated = esc(&format!("{} · {}", when(lang, zone, Some(h.updated_at)), h.updated_by)),
            )
        })
        .collect();
    if rows.is_empty() {
        return format!(
            "<p class=\"muted\" id=\"no-webhooks\">{}</p>",
            t(lang, Msg::NoWebhooks)
        );
    }
    table(
        "webhooks",
        &[
            (t(lang, Msg::Name), false),
            (t(lang, Msg::WebhookUrl), false),
            (t(lang, Msg::WebhookFormat), false),
            (t(lang, Msg::WebhookFilter), false),
            (t(lang, Msg::Status), false),
            (t(lang, Msg::Updated), false),
            ("", false),
        ],
        &rows,
    )
}

/// A subscription's delivery log, newest first, with the status filter.
fn log_section(
    lang: Lang,
    zone: chrono_tz::Tz,
    csrf: &str,
    hook: &Webhook,
    status: Option<DeliveryStatus>,
    log: &[Delivery],
) -> String {
    let l = lang_param(lang);
    let n = url_encode(&hook.name);
    let filters: String = [None, Some(DeliveryStatus::Pending), Some(DeliveryStatus::Delivered), Some(DeliveryStatus::Dead)]
        .into_iter()
        .map(|s| {
            let (q, label) = match s {
                None => (String::new(), t(lang, Msg::AllStatuses).to_owned()),
                Some(s) => (format!("&amp;status={}", s.as_str()), i18n::delivery_status(lang, s).to_owned()),
            };
            let current = s == status;
            format!(
                "<a href=\"/admin/webhooks?hook={n}{q}&amp;lang={l}#deliveries\" class=\"tab{c}\"{aria}>{label}</a>",
                c = if current { " current" } else { "" },
                aria = if current { " aria-current=\"page\"" } else { "" },
            )
        })
        .collect();
    let rows: String = log
        .iter()
        .map(|d| {
            let subject = match (d.event, d.check) {
                (Some(e), _) => format!(
                    "{} #{}<br><code>{}</code>",
                    t(lang, Msg::LedgerEvent),
                    d.seq,
                    esc(&e.to_string())
                ),
                (None, Some(c)) => format!("{} #{c}", t(lang, Msg::AuthenticityCheck)),
                (None, None) => String::new(),
            };
            let topics = d
                .topics
                .iter()
                .map(|tp| i18n::topic(lang, *tp))
                .collect::<Vec<_>>()
                .join(", ");
            let redeliver = if d.status == DeliveryStatus::Dead {
                action_form(
                    lang,
                    csrf,
                    &format!("redeliver-{}", d.id),
                    "redeliver",
                    &[("id", &d.id.to_string()), ("hook", &hook.name)],
                    "",
                    t(lang, Msg::Redeliver),
                )
            } else {
                String::new()
            };
            format!(
                "<tr id=\"delivery-{id}\"><td>{created}</td><td>{subject}</td><td>{topics}</td><td>{status}</td><td class=\"n\">{attempts}</td>\
                 <td>{last}</td><td class=\"n\">{code}</td><td class=\"error\">{error}</td><td>{redeliver}</td></tr>",
                id = d.id,
                created = esc(&when(lang, zone, Some(d.created_at))),
                topics = esc(&topics),
                status = status_badge(lang, d.status),
                attempts = d.attempts,
                last = esc(&when(lang, zone, d.last_attempt_at)),
                code = d.last_status.map(|c| c.to_string()).unwrap_or_default(),
                error = esc(d.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let list = if rows.is_empty() {
        format!(
            "<p class=\"muted\" id=\"no-deliveries\">{}</p>",
            t(lang, Msg::NoDeliveries)
        )
    } else {
        table(
            "delivery-log",
            &[
                (t(lang, Msg::Created), false),
                (t(lang, Msg::DeliverySubject), false),
                (t(lang, Msg::WebhookTopics), false),
                (t(lang, Msg::Status), false),
                (t(lang, Msg::Attempts), true),
                (t(lang, Msg::LastAttempt), false),
                (t(lang, Msg::LastHttpStatus), true),
                (t(lang, Msg::LastError), false),
                ("", false),
            ],
            &rows,
        )
    };
    format!(
        "<section id=\"deliveries\"><h2>{h} · {name}</h2><nav class=\"tabs\" aria-label=\"{h}\">{filters}</nav>\
         <p class=\"hint\">{hint}</p>{list}</section>",
        h = t(lang, Msg::DeliveryLog),
        name = esc(&hook.name),
        hint = t(lang, Msg::DeliveryLogHint),
    )
}

/// The new-subscription form, refilled with what was sent when it was refused.
fn new_form(lang: Lang, csrf: &str, sent: &BTreeMap<String, String>) -> String {
    let v = |k: &str| esc(sent.get(k).map(String::as_str).unwrap_or(""));
    let format_now = sent.get("format").map(String::as_str).unwrap_or("json");
    let formats: String = [
        WebhookFormat::Json,
        WebhookFormat::Dingtalk,
        WebhookFormat::Wecom,
    ]
    .into_iter()
    .map(|f| {
        format!(
            "<option value=\"{v}\"{s}>{label}</option>",
            v = f.as_str(),
            s = if f.as_str() == format_now {
                " selected"
            } else {
                ""
            },
            label = i18n::webhook_format(lang, f),
        )
    })
    .collect();
    let lang_now = sent.get("language").map(String::as_str).unwrap_or("zh-CN");
    let languages: String = [("zh-CN", "中文"), ("en", "English")]
        .into_iter()
        .map(|(code, label)| {
            format!(
                "<option value=\"{code}\"{s}>{label}</option>",
                s = if code == lang_now { " selected" } else { "" }
            )
        })
        .collect();
    let topics: String = Topic::ALL
        .iter()
        .filter(|tp| **tp != Topic::Event)
        .map(|tp| {
            let name = tp.as_str();
            format!(
                "<label class=\"check\"><input type=\"checkbox\" id=\"w-topic-{name}\" name=\"topic.{name}\"{c}> {label}</label>",
                c = if sent.contains_key(&format!("topic.{name}")) { " checked" } else { "" },
                label = esc(i18n::topic(lang, *tp)),
            )
        })
        .collect();
    action_form(
        lang,
        csrf,
        "new-webhook",
        "create",
        &[],
        &format!(
            "<div class=\"grid\"><div><label for=\"w-name\">{name}</label><input id=\"w-name\" name=\"name\" value=\"{nv}\" autocomplete=\"off\" required></div>\
             <div class=\"wide\"><label for=\"w-url\">{url}</label><input id=\"w-url\" name=\"url\" type=\"url\" value=\"{uv}\" autocomplete=\"off\" required></div>\
             <div><label for=\"w-format\">{format}</label><select id=\"w-format\" name=\"format\">{formats}</select></div>\
             <div><label for=\"w-language\">{language}</label><select id=\"w-language\" name=\"language\">{languages}</select></div>\
             <div class=\"wide\"><label for=\"w-secret\">{secret}</label><input id=\"w-secret\" name=\"secret\" autocomplete=\"off\" value=\"{sv}\">\
             <p class=\"hint\">{secret_hint}</p></div></div>\
             <fieldset><legend>{topics_label}</legend><div class=\"checks\">{topics}</div><p class=\"hint\">{topics_hint}</p></fieldset>\
             <div class=\"grid\"><div><label for=\"w-products\">{products}</label><input id=\"w-products\" name=\"products\" value=\"{pv}\" autocomplete=\"off\"></div>\
             <div><label for=\"w-locations\">{locations}</label><input id=\"w-locations\" name=\"locations\" value=\"{lv}\" autocomplete=\"off\"></div>\
             <div><label for=\"w-steps\">{steps}</label><input id=\"w-steps\" name=\"biz_steps\" value=\"{bv}\" autocomplete=\"off\"></div></div>\
             <p class=\"hint\">{list_hint}</p>",
            name = t(lang, Msg::Name),
            nv = v("name"),
            url = t(lang, Msg::WebhookUrl),
            uv = v("url"),
            format = t(lang, Msg::WebhookFormat),
            language = t(lang, Msg::MessageLanguage),
            secret = t(lang, Msg::WebhookSecret),
            sv = v("secret"),
            secret_hint = t(lang, Msg::WebhookSecretHint),
            topics_label = t(lang, Msg::WebhookTopics),
            topics_hint = t(lang, Msg::WebhookTopicsHint),
            products = t(lang, Msg::FilterProducts),
            pv = v("products"),
            locations = t(lang, Msg::FilterLocations),
            lv = v("locations"),
            steps = t(lang, Msg::FilterSteps),
            bv = v("biz_steps"),
            list_hint = t(lang, Msg::WebhookListHint),
        ),
        t(lang, Msg::Save),
    )
}

#[allow(clippy::too_many_arguments)]
async fn render(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
    uri: &Uri,
    p: &Params,
    outcome: FormOutcome,
    sent: &BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let hooks = match app.store.webhooks().await {
        Ok(h) => h,
        Err(e) => return super::refusal(lang, e.into()),
    };
    let zone = super::zone(app).await;
    let csrf = actor
        .session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default();
    let shown = p
        .hook
        .as_deref()
        .and_then(|name| hooks.iter().find(|h| h.name == name));
    let filter = match p.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match DeliveryStatus::parse(s) {
            Some(s) => Some(s),
            None => {
                return super::refusal(
                    lang,
                    AppError::malformed(
                        "invalid_status",
                        format!("`{s}` is not a delivery status (pending, delivered, dead)"),
                        Some("status".into()),
                    ),
                );
            }
        },
    };
    let log = match shown {
        Some(h) => {
            let q = DeliveryQuery {
                webhook: Some(h.id),
                status: filter,
                limit: LOG_LIMIT,
            };
            match app.store.deliveries(&q).await {
                Ok(list) => log_section(lang, zone, &csrf, h, filter, &list),
                Err(e) => return super::refusal(lang, e.into()),
            }
        }
        None if !hooks.is_empty() => format!(
            "<section id=\"deliveries\"><h2>{}</h2><p class=\"muted\">{}</p></section>",
            t(lang, Msg::DeliveryLog),
            t(lang, Msg::PickWebhook)
        ),
        None => String::new(),
    };
    let outcome = outcome.html(lang, Msg::WebhookSecretShown);
    let body = format!(
        "<section><h1>{admin}</h1>{tabs}</section>{outcome}\
         <section id=\"webhooks-section\"><h2>{title}</h2><p class=\"hint\">{intro}</p>{list}</section>\
         {log}<section><h2>{new}</h2>{form}</section>",
        admin = t(lang, Msg::Admin),
        tabs = super::admin::tabs(lang, actor, "webhooks"),
        title = t(lang, Msg::Webhooks),
        intro = t(lang, Msg::WebhooksIntro),
        list = hooks_table(lang, zone, &csrf, &hooks, shown.map(|h| h.name.as_str())),
        new = t(lang, Msg::NewWebhook),
        form = new_form(lang, &csrf, sent),
    );
    (
        status,
        page_with(
            lang,
            t(lang, Msg::Webhooks),
            Some(actor),
            &body,
            &[],
            Some(uri),
        ),
    )
        .into_response()
}

/// `GET /admin/webhooks?hook=&status=`.
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
    let outcome = p
        .done
        .clone()
        .map(FormOutcome::Done)
        .unwrap_or(FormOutcome::None);
    render(
        &app,
        &actor,
        lang,
        &uri,
        &p,
        outcome,
        &BTreeMap::new(),
        StatusCode::OK,
    )
    .await
}

/// A comma- or space-separated list of the form.
fn list_of(f: &BTreeMap<String, String>, key: &str) -> Vec<String> {
    f.get(key)
        .map(|v| {
            v.split([',', '，', ' ', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A text field of the form, trimmed; empty is absent.
fn given<'a>(f: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    f.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The subscription request a create form stands for.
fn create_request(f: &BTreeMap<String, String>) -> Value {
    let topics: Vec<&str> = Topic::ALL
        .iter()
        .map(|tp| tp.as_str())
        .filter(|tp| f.contains_key(&format!("topic.{tp}")))
        .collect();
    let mut req = json!({
        "name": given(f, "name").unwrap_or(""),
        "url": given(f, "url").unwrap_or(""),
        "format": given(f, "format").unwrap_or("json"),
        "language": given(f, "language").unwrap_or("zh-CN"),
        "filter": {"topics": topics, "products": list_of(f, "products"),
                   "locations": list_of(f, "locations"), "biz_steps": list_of(f, "biz_steps")},
    });
    if let Some(s) = given(f, "secret") {
        req["secret"] = json!(s);
    }
    req
}

/// The request that replaces `h` with only `active` changed (the stored secret is kept).
fn toggled(h: &Webhook, active: bool) -> Value {
    json!({"url": h.url, "format": h.format, "filter": h.filter, "language": h.language, "active": active})
}

/// `POST /admin/webhooks`: one of the forms of the page, by its `action`.
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
    let name = given(&f, "name").unwrap_or("").to_owned();
    let st = State(app.clone());
    let a = actor.clone();
    let action = f.get("action").map(String::as_str).unwrap_or("");
    // The log shown after the post: the subscription it was about, or the one on screen.
    let mut shown = given(&f, "hook").map(str::to_owned);
    let done = match action {
        "create" => {
            let body = Bytes::from(create_request(&f).to_string());
            // The page answers with the secret (201), not a redirect: the record says so.
            let pending = pending.answered_in_place();
            crate::webhook::create(st, a, pending, super::json_request(), body).await
        }
        "disable" | "enable" => match app.store.webhook(&name).await {
            Ok(Some(h)) => {
                let mut hs = super::json_request();
                match HeaderValue::from_str(&format!("\"{}\"", h.version)) {
                    Ok(v) => {
                        hs.insert(axum::http::header::IF_MATCH, v);
                    }
                    Err(e) => return super::refusal(lang, AppError::Internal(e.to_string())),
                }
                let body = Bytes::from(toggled(&h, action == "enable").to_string());
                crate::webhook::replace(st, a, pending, Path(name.clone()), hs, body).await
            }
            Ok(None) => Err(AppError::NotFound(format!("webhook {name} does not exist"))),
            Err(e) => Err(e.into()),
        },
        "redeliver" => {
            let id = f.get("id").cloned().unwrap_or_default();
            crate::webhook::redeliver(st, a, pending, Path(id)).await
        }
        _ => Err(AppError::malformed(
            "invalid_action",
            "the form names no known action",
            Some("action".into()),
        )),
    };
    let l = lang_param(lang);
    match done {
        Ok(mut resp) if action == "create" => {
            let note = resp.extensions_mut().remove::<AuditNote>();
            let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let secret = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v["secret"].as_str().map(str::to_owned));
            let p = Params {
                hook: Some(name.clone()),
                ..Params::default()
            };
            let outcome = match secret {
                Some(s) => FormOutcome::Secret(name, s),
                None => FormOutcome::Done(name),
            };
            let page = render(
                &app,
                &actor,
                lang,
                &uri,
                &p,
                outcome,
                &BTreeMap::new(),
                StatusCode::CREATED,
            )
            .await;
            // The page answers the form itself: the API handler's note goes on it.
            match note {
                Some(n) => n.on(page),
                None => page,
            }
        }
        Ok(mut resp) => {
            let what = if action == "redeliver" {
                f.get("id").cloned().unwrap_or_default()
            } else {
                name.clone()
            };
            if shown.is_none() && action != "redeliver" {
                shown = Some(name.clone());
            }
            let hook = shown
                .map(|h| format!("&hook={}", url_encode(&h)))
                .unwrap_or_default();
            super::done_redirect(
                &mut resp,
                &format!("/admin/webhooks?done={}&lang={l}{hook}", url_encode(&what)),
            )
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::Forbidden(_) | AppError::Internal(_))) => {
            super::refusal(lang, e)
        }
        Err(e) => {
            let (status, errors) = e.into_status_and_errors();
            let p = Params {
                hook: shown,
                ..Params::default()
            };
            let sent = if action == "create" {
                f.clone()
            } else {
                BTreeMap::new()
            };
            render(
                &app,
                &actor,
                lang,
                &uri,
                &p,
                FormOutcome::Refused(errors),
                &sent,
                status,
            )
            .await
        }
    }
}
