//! Server-rendered pages. Plain HTML and one stylesheet, no script: fast on a warehouse PDA,
//! and a content security policy that allows no script at all.
//!
//! Every page but the sign-in page needs a session ([`crate::auth::guard`] sends anonymous
//! visitors to `/login`). Forms that change something carry a CSRF token in a hidden field:
//! the session's for sign-out, and a short-lived cookie-bound one for the sign-in form itself.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Actor, SignInError, random_bytes, same_secret, sign_in};
use crate::error::AppError;
use crate::i18n::{Lang, Msg, t};

pub mod admin;
pub mod apidocs;
pub mod chart;
pub mod dashboard;
pub mod labels;
pub mod passport;
pub mod process;
pub mod recall;
pub mod roles;
pub mod search;
pub mod station;
pub mod trace;
pub mod users;
pub mod webhooks;

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

/// A table: its headings (`true` for a numeric, right-aligned column) and its rows.
pub(crate) fn table(id: &str, heads: &[(&str, bool)], rows: &str) -> String {
    let heads: String = heads
        .iter()
        .map(|(h, numeric)| format!("<th{}>{h}</th>", if *numeric { " class=\"n\"" } else { "" }))
        .collect();
    format!(
        "<div class=\"table-wrap\"><table id=\"{id}\"><thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

/// A posted form of a signed-in page: its fields and language, once its CSRF token matches
/// the session's (API tokens have no session and no CSRF token); otherwise the refusal page.
pub(crate) fn posted_form(
    actor: &Actor,
    headers: &HeaderMap,
    form: Result<Form<std::collections::BTreeMap<String, String>>, FormRejection>,
) -> Result<(Lang, std::collections::BTreeMap<String, String>), Box<Response>> {
    let accept = headers.get("accept-language").and_then(|v| v.to_str().ok());
    let Ok(Form(f)) = form else {
        return Err(Box::new(refusal(
            Lang::negotiate(None, accept),
            AppError::malformed("invalid_form", "the form could not be read", None),
        )));
    };
    let lang = Lang::negotiate(f.get("lang").map(String::as_str), accept);
    if let Some(session) = &actor.session
        && !same_secret(
            &session.csrf_token,
            f.get("csrf").map(String::as_str).unwrap_or(""),
        )
    {
        return Err(Box::new(refusal(lang, crate::auth::csrf_refused())));
    }
    Ok((lang, f))
}

/// The stylesheet, served from this origin so the policy needs no `'unsafe-inline'`.
const STYLE: &str = include_str!("ui/threadline.css");

/// `GET /assets/threadline.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// A script served from this origin (the policy allows no other), cached for an hour.
pub(crate) fn script_asset(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        source,
    )
        .into_response()
}

fn lang_param(lang: Lang) -> &'static str {
    if lang == Lang::Zh { "zh" } else { "en" }
}

fn page(lang: Lang, title: &str, actor: Option<&Actor>, body: &str) -> Html<String> {
    page_with(lang, title, actor, body, &[], None)
}

/// The same page in the other language: the current path and query with `lang` replaced.
fn switch_href(here: Option<&Uri>, other: &str) -> String {
    let Some(uri) = here else {
        return format!("?lang={other}");
    };
    let mut query: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("lang="))
        .map(str::to_owned)
        .collect();
    query.push(format!("lang={other}"));
    format!("{}?{}", uri.path(), query.join("&"))
}

/// The navigation: only the pages the actor may use are offered.
fn nav(lang: Lang, actor: &Actor) -> String {
    use threadline_domain::access::Permission;
    let l = lang_param(lang);
    let mut links = vec![(format!("/?lang={l}"), t(lang, Msg::Home))];
    if station::StationOp::ALL
        .iter()
        .any(|o| actor.permissions.contains(o.permission()))
    {
        links.push((format!("/scan?lang={l}"), t(lang, Msg::ScanStation)));
    }
    if actor.permissions.contains(Permission::Read) {
        links.push((format!("/unit?lang={l}"), t(lang, Msg::Passport)));
        links.push((format!("/trace?lang={l}"), t(lang, Msg::Trace)));
        links.push((format!("/recalls?lang={l}"), t(lang, Msg::Recalls)));
        links.push((format!("/dashboard?lang={l}"), t(lang, Msg::Dashboard)));
        links.push((format!("/search?lang={l}"), t(lang, Msg::Search)));
    }
    if actor.permissions.contains(Permission::Commission) {
        links.push((format!("/labels?lang={l}"), t(lang, Msg::Labels)));
    }
    if actor.permissions.contains(Permission::Configure) {
        links.push((format!("/admin/products?lang={l}"), t(lang, Msg::Admin)));
    } else if actor.permissions.contains(Permission::ManageUsers) {
        links.push((format!("/admin/users?lang={l}"), t(lang, Msg::Admin)));
    }
    // A partner account reaches only its routes: offer no link that would answer 404.
    if actor.is_partner() {
        links.retain(|(href, _)| {
            let path = href.split('?').next().unwrap_or("");
            crate::partner::PARTNER_ROUTES.contains(&path)
        });
    }
    links
        .iter()
        .map(|(href, label)| format!("<a href=\"{href}\">{label}</a>"))
        .collect()
}

/// A redirect after a form the API's own handler accepted, carrying that handler's audit note
/// (what changed, before and after, the reason, a signature) into the page request's record.
pub(crate) fn done_redirect(handled: &mut Response, to: &str) -> Response {
    let redirect = axum::response::Redirect::to(to).into_response();
    match handled.extensions_mut().remove::<crate::audit::AuditNote>() {
        Some(note) => note.on(redirect),
        None => redirect,
    }
}

/// A form of an admin page that posts `action` to `to` with the session's CSRF token, the
/// page's language and `hidden` fields, around `inner` and a submit button.
#[allow(clippy::too_many_arguments)]
pub(crate) fn action_form(
    to: &str,
    lang: Lang,
    csrf: &str,
    id: &str,
    action: &str,
    hidden: &[(&str, &str)],
    inner: &str,
    button: &str,
) -> String {
    let hidden: String = hidden
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        .collect();
    format!(
        "<form method=\"post\" action=\"{to}\" id=\"{id}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{l}\"><input type=\"hidden\" name=\"action\" value=\"{action}\">{hidden}{inner}\
         <button type=\"submit\">{button}</button></form>",
        id = esc(id),
        csrf = esc(csrf),
        l = lang_param(lang),
    )
}

/// The headers of a JSON request a page's form sends on to the API's own handler.
pub(crate) fn json_request() -> axum::http::HeaderMap {
    let mut h = axum::http::HeaderMap::new();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    h
}

/// A whole page: header with navigation, who is signed in and the language switch; the
/// session's CSRF token in a `<meta>` for scripts that call the API; `scripts` from this origin.
fn page_with(
    lang: Lang,
    title: &str,
    actor: Option<&Actor>,
    body: &str,
    scripts: &[&str],
    here: Option<&Uri>,
) -> Html<String> {
    let other = if lang == Lang::Zh { "en" } else { "zh" };
    let (who, links, csrf) = match actor {
        Some(a) => {
            let (sign_out, csrf) = match &a.session {
                Some(s) => (
                    format!(
                        "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                         <input type=\"hidden\" name=\"lang\" value=\"{l}\"><button type=\"submit\" id=\"sign-out\">{out}</button></form>",
                        csrf = esc(&s.csrf_token),
                        l = lang_param(lang),
                        out = t(lang, Msg::SignOut),
                    ),
                    format!(
                        "<meta name=\"csrf-token\" content=\"{}\">",
                        esc(&s.csrf_token)
                    ),
                ),
                None => (String::new(), String::new()),
            };
            (
                format!(
                    "<span class=\"who\"><span class=\"muted\">{signed}</span> <span id=\"who\">{name}</span>{sign_out}</span>",
                    signed = t(lang, Msg::SignedInAs),
                    name = esc(&a.name()),
                ),
                format!(
                    "<nav aria-label=\"{}\">{}</nav>",
                    t(lang, Msg::Menu),
                    nav(lang, a)
                ),
                csrf,
            )
        }
        None => (String::new(), String::new(), String::new()),
    };
    let scripts: String = scripts
        .iter()
        .map(|s| format!("<script src=\"{s}\" defer></script>"))
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         {csrf}<title>{title} · Threadline</title><link rel=\"stylesheet\" href=\"/assets/threadline.css\">{scripts}</head><body><header><a class=\"brand\" href=\"/?lang={cur}\">Threadline</a>\
         {links}<span class=\"spacer\"></span>{who}<a id=\"lang-switch\" href=\"{switch_href}\" hreflang=\"{other}\">{switch}</a></header><main>{body}</main></body></html>",
        code = lang.code(),
        cur = lang_param(lang),
        title = esc(title),
        switch = t(lang, Msg::SwitchLanguage),
        switch_href = esc(&switch_href(here, other)),
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct LangOnly {
    lang: Option<String>,
}

/// The language of a request: `?lang=`, else the browser's preference.
pub fn lang_of_request(uri: &Uri, headers: &HeaderMap) -> Lang {
    let q = Query::<LangOnly>::try_from_uri(uri)
        .ok()
        .and_then(|Query(q)| q.lang);
    Lang::negotiate(
        q.as_deref(),
        headers.get("accept-language").and_then(|v| v.to_str().ok()),
    )
}

fn login_redirect(lang: Lang) -> Response {
    Redirect::to(&format!("/login?lang={}", lang_param(lang))).into_response()
}

/// What an admin form's last request came to, shown above the form.
pub(crate) enum FormOutcome {
    None,
    /// Saved: what was saved.
    Done(String),
    /// Created with a secret made for it (a token, a webhook's signing key): its name and the
    /// secret, shown this once.
    Secret(String, String),
    Refused(Vec<threadline_domain::error::FieldError>),
}

impl FormOutcome {
    /// The outcome as HTML; `secret_heading` says what the secret is.
    pub(crate) fn html(&self, lang: Lang, secret_heading: Msg) -> String {
        match self {
            FormOutcome::None => String::new(),
            FormOutcome::Done(what) => format!(
                "<p class=\"ok\" id=\"saved\" role=\"status\">✔ {} · {}</p>",
                t(lang, Msg::SavedRecord),
                esc(what)
            ),
            FormOutcome::Secret(name, secret) => format!(
                "<div class=\"card\" id=\"new-secret\" role=\"status\"><p><strong>{}</strong> · {}</p><p><code id=\"secret\">{}</code></p></div>",
                t(lang, secret_heading),
                esc(name),
                esc(secret)
            ),
            FormOutcome::Refused(errors) => form_errors(lang, errors.iter().map(|e| (None, e))),
        }
    }
}

/// The refusals of a form as a list under its fields: each with the field's name for the
/// reader when `label` is given (and its path), else its path alone; nothing when there is none.
pub(crate) fn form_errors<'a>(
    lang: Lang,
    errors: impl IntoIterator<Item = (Option<&'a str>, &'a threadline_domain::error::FieldError)>,
) -> String {
    let items: String = errors
        .into_iter()
        .map(|(label, e)| {
            let field = match (label, e.field.as_deref()) {
                (Some(label), Some(f)) => {
                    format!(
                        "<strong>{}</strong> (<code>{}</code>): ",
                        esc(label),
                        esc(f)
                    )
                }
                (None, Some(f)) => format!("<code>{}</code>: ", esc(f)),
                (_, None) => String::new(),
            };
            format!("<li>{field}{}</li>", crate::i18n::refusal_html(lang, e))
        })
        .collect();
    if items.is_empty() {
        return String::new();
    }
    format!(
        "<div class=\"bad\" id=\"form-errors\" role=\"alert\"><p>{}</p><ul>{items}</ul></div>",
        t(lang, Msg::FixErrors)
    )
}

/// How a page shows a refusal: anonymous visitors go to the sign-in page; anything else gets
/// a page saying what happened, with the matching status.
pub fn refusal(lang: Lang, e: AppError) -> Response {
    let (status, msg) = match &e {
        AppError::Unauthorized(_) => return login_redirect(lang),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, Msg::Forbidden),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, Msg::PageNotFound),
        AppError::Internal(m) => {
            tracing::error!(error = %m, "internal error on a page");
            (StatusCode::INTERNAL_SERVER_ERROR, Msg::ServerError)
        }
        _ => (StatusCode::BAD_REQUEST, Msg::ServerError),
    };
    // What was wrong with a readable request, in the reader's words (see `i18n::ERRORS`).
    let why = match e {
        AppError::Forbidden(_) | AppError::NotFound(_) | AppError::Internal(_) => String::new(),
        e => format!(" <span id=\"refusal\">{}</span>", refusal_line(lang, &e)),
    };
    (
        status,
        page(
            lang,
            t(lang, msg),
            None,
            &format!("<section class=\"bad\">{}{why}</section>", t(lang, msg)),
        ),
    )
        .into_response()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
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

/// Percent-encodes a query parameter value.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub async fn home(
    State(app): State<AppState>,
    actor: Actor,
    Query(p): Query<PageParams>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&p, &headers);
    // The ledger's length is the plant's figure: a partner or an account of one site sees
    // its own instead.
    let own = match own_figures(&app, &actor, lang).await {
        Ok(own) => own,
        Err(e) => return refusal(lang, e),
    };
    let ledger = match own {
        Some(own) => own,
        None => ledger_line(&app, lang).await,
    };
    let body = format!(
        "<section><h1>Threadline</h1><p>{tag}</p><p>{ledger}</p><p>{eng}: {engine} · {api}</p></section>{form}",
        tag = t(lang, Msg::AppTagline),
        eng = t(lang, Msg::Engine),
        engine = app.store.engine(),
        api = t(lang, Msg::ApiHint),
        form = passport::lookup_form(lang, ""),
    );
    page(lang, t(lang, Msg::Home), Some(&actor), &body).into_response()
}

/// A partner's units in stock and in transit (its own and its sub-distributors'), or the
/// units at the places of an account's site; `None` for an account that sees the plant.
async fn own_figures(
    app: &AppState,
    actor: &Actor,
    lang: Lang,
) -> Result<Option<String>, crate::error::AppError> {
    if let Some(partner) = crate::partner::Partner::of(&*app.store, actor).await? {
        let now = app.clock.now();
        let window = threadline_store::dashboard::Window {
            from: now,
            to: now,
            period: threadline_store::dashboard::Period::Day,
            zone: threadline_store::dashboard::ZoneOffsets::fixed(0),
            places: None,
        };
        let (mut in_stock, mut in_transit) = (0, 0);
        for h in app.store.channel(&window).await?.holdings {
            if partner.is_own(&h.distributor) {
                in_stock += h.in_stock;
                in_transit += h.in_transit;
            }
        }
        return Ok(Some(format!(
            "<span id=\"own-figures\">{}: {} {} · {} {}</span>",
            t(lang, Msg::YourUnits),
            t(lang, Msg::InStockAt),
            crate::i18n::int(lang, in_stock),
            t(lang, Msg::InTransitTo),
            crate::i18n::int(lang, in_transit),
        )));
    }
    if let Some(site) = crate::site::SiteScope::of(&*app.store, actor).await? {
        let counts = app.store.unit_counts(Some(&site.places())).await?;
        let units: i64 = counts.by_status.iter().map(|c| c.count).sum();
        return Ok(Some(format!(
            "<span id=\"own-figures\">{}: {}</span>",
            t(lang, Msg::UnitsAtSite),
            crate::i18n::int(lang, units),
        )));
    }
    Ok(None)
}

/// Whether the ledger verifies, with its length.
async fn ledger_line(app: &AppState, lang: Lang) -> String {
    match app.store.verify().await {
        Ok(r) if r.first_break.is_none() => {
            format!(
                "<span class=\"ok\">✔ {} · {} {}</span>",
                t(lang, Msg::LedgerIntact),
                crate::i18n::int(lang, r.entries),
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
    }
}

/// The cookie that binds the sign-in form to the browser that fetched it (double submit):
/// a forged cross-site sign-in cannot know its value.
fn login_cookie(app: &AppState) -> &'static str {
    if app.auth.secure_cookies {
        "__Host-threadline_login"
    } else {
        "threadline_login"
    }
}

fn login_form(lang: Lang, csrf: &str, name: &str, message: Option<&str>) -> String {
    let message = message
        .map(|m| format!("<p class=\"bad\">{}</p>", esc(m)))
        .unwrap_or_default();
    format!(
        "<section><h1>{h}</h1>{message}<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <label for=\"name\">{u}</label><input id=\"name\" name=\"name\" value=\"{nv}\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">{p}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">{b}</button></form></section>",
        h = t(lang, Msg::SignIn),
        csrf = esc(csrf),
        l = lang_param(lang),
        u = t(lang, Msg::UserName),
        p = t(lang, Msg::Password),
        b = t(lang, Msg::SignInButton),
        nv = esc(name),
    )
}

/// A fresh sign-in form with its binding cookie.
fn fresh_login(
    app: &AppState,
    lang: Lang,
    status: StatusCode,
    name: &str,
    message: Option<&str>,
) -> Response {
    let csrf = hex::encode(random_bytes());
    let mut resp = (
        status,
        page(
            lang,
            t(lang, Msg::SignIn),
            None,
            &login_form(lang, &csrf, name, message),
        ),
    )
        .into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        app.auth.set_cookie(login_cookie(app), &csrf, 3600),
    );
    resp
}

/// `GET /login`.
pub async fn login_page(State(app): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let lang = lang_of_request(&uri, &headers);
    fresh_login(&app, lang, StatusCode::OK, "", None)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    lang: Option<String>,
}

/// The first problem of a refusal as the reader reads it, as HTML: the catalogue's sentence for
/// its code in Chinese, the API's message as its title (`i18n::refusal_html`).
pub(crate) fn refusal_line(lang: Lang, e: &AppError) -> String {
    use threadline_domain::error::FieldError;
    let first = match e {
        AppError::Malformed(v)
        | AppError::Rule(v)
        | AppError::Conflict(v)
        | AppError::Forbidden(v) => v.first().cloned(),
        AppError::NotFound(m) => Some(FieldError::new("not_found", m.clone())),
        AppError::PreconditionRequired(f)
        | AppError::Unauthorized(f)
        | AppError::TooLarge(f)
        | AppError::TooManyRequests(f, _) => Some(f.clone()),
        AppError::Internal(_) => None,
    };
    first
        .map(|f| crate::i18n::refusal_html(lang, &f))
        .unwrap_or_default()
}

/// The plant's time zone, in which a page shows dates and times (the default if the store
/// cannot say: a page still shows).
pub(crate) async fn zone(app: &AppState) -> chrono_tz::Tz {
    crate::process::plant_zone(&*app.store)
        .await
        .unwrap_or(crate::i18n::DEFAULT_ZONE)
}

/// `POST /login`: the sign-in form. Success sets the session cookie and goes to the home page;
/// a refusal shows the form again with the reason.
pub async fn login_submit(
    State(app): State<AppState>,
    crate::audit::ClientAddress(address): crate::audit::ClientAddress,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        let lang = Lang::negotiate(
            None,
            headers.get("accept-language").and_then(|v| v.to_str().ok()),
        );
        return fresh_login(&app, lang, StatusCode::BAD_REQUEST, "", None);
    };
    let lang = Lang::negotiate(
        f.lang.as_deref(),
        headers.get("accept-language").and_then(|v| v.to_str().ok()),
    );
    let bound = crate::auth::cookie(&headers, login_cookie(&app))
        .is_some_and(|c| !c.is_empty() && same_secret(c, &f.csrf));
    if !bound {
        return fresh_login(
            &app,
            lang,
            StatusCode::FORBIDDEN,
            &f.name,
            Some(t(lang, Msg::FormExpired)),
        );
    }
    match sign_in(&app, &f.name, &f.password, address.as_deref()).await {
        Ok(s) => {
            let mut resp = Redirect::to(&format!("/?lang={}", lang_param(lang))).into_response();
            let h = resp.headers_mut();
            h.append(header::SET_COOKIE, crate::account::session_cookie(&app, &s));
            h.append(
                header::SET_COOKIE,
                app.auth.set_cookie(login_cookie(&app), "", 0),
            );
            resp
        }
        Err(e) => {
            let zone = zone(&app).await;
            let message = match e {
                SignInError::InvalidCredentials => t(lang, Msg::InvalidCredentials).to_owned(),
                SignInError::Locked(until) => format!(
                    "{} {}",
                    t(lang, Msg::AccountLocked),
                    crate::i18n::datetime(lang, zone, &until)
                ),
                SignInError::Disabled => t(lang, Msg::AccountDisabled).to_owned(),
                SignInError::Throttled(until, _) => format!(
                    "{} {}",
                    t(lang, Msg::TooManySignIns),
                    crate::i18n::datetime(lang, zone, &until)
                ),
                SignInError::Failed(e) => return refusal(lang, e),
            };
            // The binding cookie stays: the form on the page still carries its value.
            (
                StatusCode::UNAUTHORIZED,
                page(
                    lang,
                    t(lang, Msg::SignIn),
                    None,
                    &login_form(lang, &f.csrf, &f.name, Some(&message)),
                ),
            )
                .into_response()
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LogoutForm {
    csrf: String,
    lang: Option<String>,
}

/// `POST /logout`: ends the session if the form carries its CSRF token.
pub async fn logout(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let accept = headers.get("accept-language").and_then(|v| v.to_str().ok());
    let (csrf, lang) = match &form {
        Ok(Form(f)) => (f.csrf.as_str(), Lang::negotiate(f.lang.as_deref(), accept)),
        Err(_) => ("", Lang::negotiate(None, accept)),
    };
    let Some(session) = &actor.session else {
        return login_redirect(lang);
    };
    if !same_secret(&session.csrf_token, csrf) {
        return refusal(lang, crate::auth::csrf_refused());
    }
    if let Err(e) = app.store.end_session(&session.digest).await {
        return refusal(lang, e.into());
    }
    let mut resp = login_redirect(lang);
    resp.headers_mut().append(
        header::SET_COOKIE,
        crate::account::cleared_session_cookie(&app),
    );
    resp
}
