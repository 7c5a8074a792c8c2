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
use threadline_domain::codes::ItemKey;
use threadline_domain::{ProductCode, Serial};

use crate::AppState;
use crate::auth::{Actor, SignInError, random_bytes, same_secret, sign_in};
use crate::error::AppError;
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

/// The stylesheet, served from this origin so the policy needs no `'unsafe-inline'`.
const STYLE: &str = "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}\
header{background:#17324d;color:#fff;padding:12px 16px;display:flex;justify-content:space-between;align-items:center;gap:12px}\
header a{color:#fff}header form{display:inline;margin:0}header button{margin:0 0 0 8px;padding:4px 10px;font-size:.9rem;background:#2d5077}\
.who{margin-left:auto}main{padding:16px;max-width:960px;margin:auto}section{background:#fff;border-radius:8px;padding:16px;margin-bottom:16px}\
label{display:block;margin:8px 0 4px}input{font-size:1.1rem;padding:8px;width:100%;box-sizing:border-box}\
button{font-size:1.1rem;padding:10px 16px;margin-top:12px;background:#1f6feb;color:#fff;border:0;border-radius:6px}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:6px;border-bottom:1px solid #e3e6ea;vertical-align:top}\
.badge{display:inline-block;padding:2px 8px;border-radius:10px;background:#e3e6ea;margin-right:4px}.hold{background:#ffd8d3;color:#8a1c0f}\
.ok{color:#116329}.bad{color:#8a1c0f}";

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

fn lang_param(lang: Lang) -> &'static str {
    if lang == Lang::Zh { "zh" } else { "en" }
}

fn page(lang: Lang, title: &str, actor: Option<&Actor>, body: &str) -> Html<String> {
    let other = if lang == Lang::Zh { "en" } else { "zh" };
    let who = match actor {
        Some(a) => {
            let sign_out = match &a.session {
                Some(s) => format!(
                    "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input type=\"hidden\" name=\"lang\" value=\"{l}\"><button type=\"submit\">{out}</button></form>",
                    csrf = esc(&s.csrf_token),
                    l = lang_param(lang),
                    out = t(lang, Msg::SignOut),
                ),
                None => String::new(),
            };
            format!(
                "<span class=\"who\">{signed} {name}{sign_out}</span>",
                signed = t(lang, Msg::SignedInAs),
                name = esc(&a.name()),
            )
        }
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Threadline</title><link rel=\"stylesheet\" href=\"/assets/threadline.css\"></head><body><header><a href=\"/?lang={cur}\"><strong>Threadline</strong></a>\
         {who}<a href=\"?lang={other}\">{switch}</a></header><main>{body}</main></body></html>",
        code = lang.code(),
        cur = lang_param(lang),
        title = esc(title),
        switch = t(lang, Msg::SwitchLanguage),
    ))
}

#[derive(Debug, Deserialize)]
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

/// How a page shows a refusal: anonymous visitors go to the sign-in page; anything else gets
/// a page saying what happened, with the matching status.
pub fn refusal(lang: Lang, e: AppError) -> Response {
    let (status, msg) = match e {
        AppError::Unauthorized(_) => return login_redirect(lang),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, Msg::Forbidden),
        AppError::Internal(m) => {
            tracing::error!(error = %m, "internal error on a page");
            (StatusCode::INTERNAL_SERVER_ERROR, Msg::ServerError)
        }
        _ => (StatusCode::BAD_REQUEST, Msg::ServerError),
    };
    (
        status,
        page(
            lang,
            t(lang, msg),
            None,
            &format!("<section class=\"bad\">{}</section>", t(lang, msg)),
        ),
    )
        .into_response()
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
        l = lang_param(lang),
        label = t(lang, Msg::ScanOrType),
        hint = t(lang, Msg::ScanHint),
        b = t(lang, Msg::LookUp),
        cv = esc(code),
    )
}

pub async fn home(
    State(app): State<AppState>,
    actor: Actor,
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
    page(lang, t(lang, Msg::Home), Some(&actor), &body).into_response()
}

pub async fn unit(
    State(app): State<AppState>,
    actor: Actor,
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
            Some(&actor),
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
    let passport = crate::passport::passport(&*app.store, &key, app.clock.now())
        .await
        .ok()
        .flatten();
    let warranty = match passport
        .as_ref()
        .map(|p| (p.warranty.status, p.warranty.end))
    {
        Some(("active", Some(end))) => format!(
            "<span class=\"badge\">{} {}</span>",
            t(lang, Msg::WarrantyUntil),
            esc(&end.format("%Y-%m-%d").to_string())
        ),
        Some(("expired", _)) => format!(
            "<span class=\"badge\">{}</span>",
            t(lang, Msg::WarrantyExpired)
        ),
        Some(("not_started", _)) => format!(
            "<span class=\"badge\">{}</span>",
            t(lang, Msg::WarrantyNotStarted)
        ),
        _ => String::new(),
    };
    let events = passport.map(|p| p.timeline).unwrap_or_default();
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
        "{form}<section><h2>{prod} {ser}</h2><p><span class=\"badge\">{status}</span>{holds}{warranty}</p><table>\
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
    page(
        lang,
        &format!("{} {}", item.product, item.serial),
        Some(&actor),
        &body,
    )
    .into_response()
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

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    lang: Option<String>,
}

/// `POST /login`: the sign-in form. Success sets the session cookie and goes to the home page;
/// a refusal shows the form again with the reason.
pub async fn login_submit(
    State(app): State<AppState>,
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
    match sign_in(&app, &f.name, &f.password).await {
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
            let message = match e {
                SignInError::InvalidCredentials => t(lang, Msg::InvalidCredentials).to_owned(),
                SignInError::Locked(until) => format!(
                    "{} {}",
                    t(lang, Msg::AccountLocked),
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
                SignInError::Disabled => t(lang, Msg::AccountDisabled).to_owned(),
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

#[derive(Debug, Deserialize)]
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
