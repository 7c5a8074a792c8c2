//! `/api/v1/session`, `/api/v1/me`, `/api/v1/users`, `/api/v1/tokens`: signing in and out,
//! who-am-I, password changes, and the administration of users and API tokens.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use threadline_domain::FieldError;
use threadline_domain::access::{
    Credential, CredentialKind, Password, Permissions, Role, Roles, TokenName, UserName,
};
use threadline_domain::master::PartyKind;
use threadline_domain::{LocationCode, PartyCode};
use threadline_store::{AccessChange, NewToken, NewUser, UserRecord};
use uuid::Uuid;

use crate::AppState;
use crate::audit::{AuditNote, ClientAddress, Pending};
use crate::auth::{Actor, Principal, SignedIn, hash_password, random_bytes, sign_in};
use crate::body::{parse, require_json};
use crate::error::AppError;

fn password(s: &str, field: &str) -> Result<Password, AppError> {
    Password::parse(s).map_err(|e| AppError::Rule(vec![e.at(field)]))
}

fn user_not_found(name: &str) -> AppError {
    AppError::NotFound(format!("user {name} does not exist"))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    name: String,
    password: String,
}

/// The body of a successful sign-in and of `/me` for a session.
fn session_body(
    user: &UserRecord,
    permissions: Permissions,
    csrf_token: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    json!({
        "actor": user.name,
        "user": user.view(),
        "permissions": permissions,
        "csrf_token": csrf_token,
        "expires_at": expires_at,
    })
}

/// The cookie that carries a new session.
pub fn session_cookie(app: &AppState, s: &SignedIn) -> axum::http::HeaderValue {
    app.auth.set_cookie(
        app.auth.session_cookie(),
        s.session_id.expose(),
        app.auth.session_lifetime.num_seconds(),
    )
}

/// The cookie that ends one.
pub fn cleared_session_cookie(app: &AppState) -> axum::http::HeaderValue {
    app.auth.set_cookie(app.auth.session_cookie(), "", 0)
}

/// `POST /api/v1/session`: `{"name", "password"}` → the session cookie, who-am-I and the
/// CSRF token to send with unsafe requests.
pub async fn create_session(
    State(app): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: SignInRequest = parse(&body, "")?;
    let s = sign_in(&app, &req.name, &req.password, address.as_deref()).await?;
    let permissions = crate::auth::permissions_of(&app, &s.user.roles).await?;
    let mut resp = Json(session_body(
        &s.user,
        permissions,
        &s.csrf_token,
        s.expires_at,
    ))
    .into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&app, &s));
    Ok(resp)
}

/// `DELETE /api/v1/session`: signs the session out.
pub async fn end_session(State(app): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    let Some(s) = &actor.session else {
        return Err(AppError::Rule(vec![FieldError::new(
            "not_a_session",
            "this request is authenticated by a token; revoke the token instead",
        )]));
    };
    app.store.end_session(&s.digest).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, cleared_session_cookie(&app));
    Ok(resp)
}

/// `GET /api/v1/me`.
pub async fn me(actor: Actor) -> Response {
    let (kind, name) = match &actor.principal {
        Principal::User(n) => ("user", n),
        Principal::Token(n) => ("token", n),
    };
    let mut body = json!({
        "actor": actor.name(),
        "kind": kind,
        "name": name,
        "roles": actor.roles,
        "permissions": actor.permissions,
        "site": actor.site,
        "party": actor.party,
    });
    if let Some(s) = &actor.session {
        body["csrf_token"] = json!(s.csrf_token);
        body["expires_at"] = json!(s.expires_at);
    }
    Json(body).into_response()
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    old_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password`: `{"old_password", "new_password"}`. A wrong old password counts
/// towards the lockout. Other sessions of the user end; this one stays.
pub async fn change_own_password(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: PasswordChange = parse(&body, "")?;
    let Some(name) = actor.user_name() else {
        return Err(AppError::Rule(vec![FieldError::new(
            "not_a_user",
            "a token has no password",
        )]));
    };
    let user = app
        .store
        .user(name)
        .await?
        .ok_or_else(|| user_not_found(name))?;
    let new = password(&req.new_password, "new_password")?;
    crate::auth::check_password(&app, &user, &req.old_password, address.as_deref())
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Unauthorized(f) if f.code == "invalid_credentials" => {
                AppError::Forbidden(vec![
                    FieldError::new("wrong_password", "the old password is wrong")
                        .at("old_password"),
                ])
            }
            other => other,
        })?;
    let hash = hash_password(new).await?;
    let change = AccessChange::SetPassword {
        name: name.to_owned(),
        password_hash: hash,
        now: app.clock.now(),
        keep_session: actor.session.as_ref().map(|s| s.digest),
    };
    let note = AuditNote::default();
    let record = pending.record(&app, StatusCode::NO_CONTENT, &note);
    app.change_access(change, Some(record)).await?;
    tracing::info!(user = %name, "password changed by its user");
    Ok(note.recorded().on(StatusCode::NO_CONTENT.into_response()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    name: UserName,
    password: String,
    roles: Roles,
    #[serde(default)]
    site: Option<LocationCode>,
    /// The distributor the user works for: they see only what was shipped to it.
    #[serde(default)]
    party: Option<PartyCode>,
}

/// `GET /api/v1/users`.
pub async fn list_users(State(app): State<AppState>) -> Result<Response, AppError> {
    let users: Vec<_> = app
        .store
        .users()
        .await?
        .iter()
        .map(UserRecord::view)
        .collect();
    Ok(Json(json!({ "items": users })).into_response())
}

/// `POST /api/v1/users`: `{"name", "password", "roles", "site"?}`.
pub async fn create_user(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: UserRequest = parse(&body, "")?;
    let pw = password(&req.password, "password")?;
    partner(&*app.store, req.party.as_ref(), &req.roles).await?;
    let name = req.name.to_string();
    let new = NewUser {
        name: req.name,
        password_hash: hash_password(pw).await?,
        roles: req.roles,
        site: req.site,
        party: req.party,
        created_at: app.clock.now(),
    };
    let user = new.view();
    let note = AuditNote::object(format!("users/{name}")).after(&user);
    let record = pending.record(&app, StatusCode::CREATED, &note);
    app.change_access(AccessChange::CreateUser(new), Some(record))
        .await?;
    tracing::info!(actor = %actor.name(), user = %name, roles = %user.roles.to_stored(), "user created");
    Ok(note
        .recorded()
        .on((StatusCode::CREATED, Json(user)).into_response()))
}

/// `GET /api/v1/users/{name}`.
pub async fn get_user(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    match app.store.user(&name).await? {
        Some(u) => Ok(Json(u.view()).into_response()),
        None => Err(user_not_found(&name)),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequest {
    roles: Roles,
    #[serde(default)]
    site: Option<LocationCode>,
    /// The distributor the account is bound to; absent keeps the binding, `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schemars(with = "Option<PartyCode>")]
    party: Option<Option<PartyCode>>,
}

/// A field that is present (even as `null`) is `Some`; an absent one stays `None` by default.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn not_yourself(actor: &Actor, name: &str, what: &str) -> Result<(), AppError> {
    if actor.user_name() == Some(name) {
        return Err(AppError::Rule(vec![FieldError::new(
            "own_account",
            format!("you cannot {what} your own account; ask another administrator"),
        )]));
    }
    Ok(())
}

/// `PUT /api/v1/users/{name}/roles`: `{"roles", "site"?, "party"?}`. Not for one's own
/// account, so the last administrator cannot demote themselves by accident. `party` binds the
/// account to another distributor (or, `null`, to none); absent, the binding stays.
pub async fn set_user_roles(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: AccessRequest = parse(&body, "")?;
    not_yourself(&actor, &name, "change the roles of")?;
    let before = app
        .store
        .user(&name)
        .await?
        .ok_or_else(|| user_not_found(&name))?;
    // The partner binding stays unless the request names another; the roles must fit it.
    let party = match req.party {
        Some(p) => p,
        None => before
            .party
            .as_deref()
            .map(PartyCode::parse)
            .transpose()
            .map_err(|e| AppError::Internal(e.message))?,
    };
    partner(&*app.store, party.as_ref(), &req.roles).await?;
    let mut user = before.view();
    user.roles = req.roles.clone();
    user.site = req.site.as_ref().map(|s| s.as_str().to_owned());
    user.party = party.as_ref().map(|p| p.as_str().to_owned());
    let note = AuditNote::object(format!("users/{name}"))
        .before(before.view())
        .after(&user);
    let change = AccessChange::SetUserAccess {
        name: name.clone(),
        roles: req.roles,
        site: req.site,
        party,
    };
    let record = pending.record(&app, StatusCode::OK, &note);
    app.change_access(change, Some(record)).await?;
    tracing::info!(actor = %actor.name(), user = %name, roles = %user.roles.to_stored(), "user roles changed");
    Ok(note.recorded().on(Json(user).into_response()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    password: String,
}

/// `POST /api/v1/users/{name}/password`: an administrator's reset. Ends all of the user's
/// sessions and clears a lockout.
pub async fn reset_password(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: PasswordReset = parse(&body, "")?;
    let pw = password(&req.password, "password")?;
    let Some(before) = app.store.user(&name).await? else {
        return Err(user_not_found(&name));
    };
    let now = app.clock.now();
    let change = AccessChange::SetPassword {
        name: name.clone(),
        password_hash: hash_password(pw).await?,
        now,
        keep_session: None,
    };
    let note = AuditNote::object(format!("users/{name}"))
        .before(json!({"password_changed_at": before.password_changed_at, "locked_until": before.locked_until}))
        .after(json!({"password_changed_at": now}));
    let record = pending.record(&app, StatusCode::NO_CONTENT, &note);
    app.change_access(change, Some(record)).await?;
    tracing::info!(actor = %actor.name(), user = %name, "password reset by an administrator");
    Ok(note.recorded().on(StatusCode::NO_CONTENT.into_response()))
}

/// `POST /api/v1/users/{name}/lock`: no sign-in until unlocked; ends the user's sessions.
pub async fn lock_user(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    not_yourself(&actor, &name, "lock")?;
    let note = set_disabled(&app, &pending, &name, true).await?;
    tracing::info!(actor = %actor.name(), user = %name, "user locked");
    Ok(note.on(StatusCode::NO_CONTENT.into_response()))
}

/// `POST /api/v1/users/{name}/unlock`: also clears a lockout after failed sign-ins.
pub async fn unlock_user(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let note = set_disabled(&app, &pending, &name, false).await?;
    tracing::info!(actor = %actor.name(), user = %name, "user unlocked");
    Ok(note.on(StatusCode::NO_CONTENT.into_response()))
}

/// Locks or unlocks an account with the audit record of what it was before, in one
/// transaction; the note goes on the 204 that [`lock_user`] and [`unlock_user`] answer.
async fn set_disabled(
    app: &AppState,
    pending: &Pending,
    name: &str,
    disabled: bool,
) -> Result<AuditNote, AppError> {
    let before = app
        .store
        .user(name)
        .await?
        .map(|u| json!({"disabled": u.disabled, "locked_until": u.locked_until}));
    let after = if disabled {
        json!({"disabled": true})
    } else {
        json!({"disabled": false, "locked_until": null})
    };
    let note = AuditNote::object(format!("users/{name}"))
        .before(before)
        .after(after);
    let change = AccessChange::SetUserDisabled {
        name: name.to_owned(),
        disabled,
    };
    let record = pending.record(app, StatusCode::NO_CONTENT, &note);
    app.change_access(change, Some(record)).await?;
    Ok(note.recorded())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    name: TokenName,
    roles: Roles,
    #[serde(default)]
    site: Option<LocationCode>,
    /// The distributor the token acts for: it sees only what was shipped to it.
    #[serde(default)]
    party: Option<PartyCode>,
}

/// Checks an account's partner binding: a distributor party that exists, and only with the
/// `distributor` role — and every `distributor` account names one (422 naming `party`).
pub async fn partner(
    store: &dyn threadline_store::Store,
    party: Option<&PartyCode>,
    roles: &Roles,
) -> Result<(), AppError> {
    let is_distributor = roles.contains(Role::Distributor);
    let problem = match party {
        None if is_distributor => Some((
            "required",
            "a distributor account names its party (`party`)".to_owned(),
        )),
        None => None,
        Some(_) if !roles.is_only(Role::Distributor) => Some((
            "invalid_party",
            "only an account with the single role `distributor` is bound to a party".to_owned(),
        )),
        Some(p) => match store.party(p.as_str()).await? {
            Some(v) if v.def.kind == PartyKind::Distributor => None,
            Some(_) => Some(("invalid_party", format!("party {p} is not a distributor"))),
            None => Some(("unknown_party", format!("party {p} does not exist"))),
        },
    };
    match problem {
        None => Ok(()),
        Some((code, message)) => Err(AppError::Rule(vec![
            FieldError::new(code, message).at("party"),
        ])),
    }
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(State(app): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(json!({ "items": app.store.tokens().await? })).into_response())
}

/// Mints a token and stores its digest, with `audit` in the same transaction (the CLI's
/// record); returns the secret, to be shown once.
#[allow(clippy::too_many_arguments)]
pub async fn mint_token(
    store: &dyn threadline_store::Store,
    name: TokenName,
    roles: Roles,
    site: Option<LocationCode>,
    party: Option<PartyCode>,
    created_by: String,
    now: chrono::DateTime<chrono::Utc>,
    audit: Option<threadline_domain::audit::AuditRecord>,
) -> Result<Credential, threadline_store::StoreError> {
    let (token, secret) = new_token(name, roles, site, party, created_by, now);
    store
        .change_access(AccessChange::CreateToken(token), audit)
        .await?;
    Ok(secret)
}

/// A new token and its secret.
fn new_token(
    name: TokenName,
    roles: Roles,
    site: Option<LocationCode>,
    party: Option<PartyCode>,
    created_by: String,
    now: chrono::DateTime<chrono::Utc>,
) -> (NewToken, Credential) {
    let secret = Credential::new(CredentialKind::ApiToken, random_bytes());
    let token = NewToken {
        id: Uuid::now_v7(),
        name,
        secret_digest: secret.digest(),
        roles,
        site,
        party,
        created_at: now,
        created_by,
    };
    (token, secret)
}

/// `POST /api/v1/tokens`: `{"name", "roles", "site"?}` → the token and its secret, which is
/// shown this once.
pub async fn create_token(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: TokenRequest = parse(&body, "")?;
    partner(&*app.store, req.party.as_ref(), &req.roles).await?;
    let name = req.name.to_string();
    let (new, secret) = new_token(
        req.name,
        req.roles,
        req.site,
        req.party,
        actor.name(),
        app.clock.now(),
    );
    let token = new.record();
    let note = AuditNote::object(format!("tokens/{name}")).after(&token);
    let record = pending.record(&app, StatusCode::CREATED, &note);
    app.change_access(AccessChange::CreateToken(new), Some(record))
        .await?;
    tracing::info!(actor = %actor.name(), token = %name, roles = %token.roles.to_stored(), "API token created");
    Ok(note.recorded().on((
        StatusCode::CREATED,
        Json(json!({ "token": token, "secret": secret.expose() })),
    )
        .into_response()))
}

/// `DELETE /api/v1/tokens/{name}`: revokes the token; it stays listed, with its revocation time.
pub async fn revoke_token(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    let before = app
        .store
        .tokens()
        .await?
        .into_iter()
        .find(|t| t.name == name);
    let note = AuditNote::object(format!("tokens/{name}")).before(before);
    let change = AccessChange::RevokeToken {
        name: name.clone(),
        now: app.clock.now(),
    };
    let record = pending.record(&app, StatusCode::NO_CONTENT, &note);
    app.change_access(change, Some(record)).await?;
    tracing::info!(actor = %actor.name(), token = %name, "API token revoked");
    Ok(note.recorded().on(StatusCode::NO_CONTENT.into_response()))
}
