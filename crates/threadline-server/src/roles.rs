//! `/api/v1/roles`: the shipped roles, read-only, and the plant's custom roles — a name, a
//! label, a description and a set of permissions — created, changed and deleted by whoever
//! holds `manage_users`.
//!
//! Each change is one [`AppState::change_access`]: the role and its audit record (who, when,
//! from where, before and after) in one transaction, and the server's token cache emptied, so
//! the change holds from the next request of every user and token that holds the role. A role
//! someone holds cannot be deleted (409 naming how many hold it; revoked tokens do not count).
//! What a custom role grants is its permissions and nothing else: see
//! [`threadline_domain::access::RoleDefinition`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use threadline_domain::FieldError;
use threadline_domain::access::{Permission, Permissions, Role, RoleDefinition};
use threadline_store::{AccessChange, CustomRole, TokenRecord, UserRecord};

use crate::AppState;
use crate::api::{if_match, with_etag};
use crate::audit::{AuditNote, Pending};
use crate::auth::Actor;
use crate::body::{parse, require_json};
use crate::error::AppError;

/// A role as the API shows it (and as an audit record keeps a custom role's before and after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RoleView {
    pub name: String,
    /// What people read for it.
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What it may do, in the fixed order of the permissions.
    #[schemars(with = "Vec<Permission>")]
    pub permissions: Permissions,
    /// Shipped with Threadline: fixed; it cannot be changed or deleted, only copied.
    pub shipped: bool,
    /// A custom role's version (the `ETag`; a change names it in `If-Match`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// Who holds it now (in lists; not kept in audit records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_by: Option<Holders>,
}

/// The accounts holding a role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Holders {
    pub users: u32,
    /// Tokens not revoked.
    pub tokens: u32,
}

impl RoleView {
    pub fn shipped(r: Role) -> RoleView {
        RoleView {
            name: r.as_str().to_owned(),
            label: crate::i18n::vocabulary(crate::i18n::Lang::En, r.as_str()).to_owned(),
            description: None,
            permissions: r.permissions(),
            shipped: true,
            version: None,
            created_at: None,
            created_by: None,
            updated_at: None,
            updated_by: None,
            held_by: None,
        }
    }

    pub fn custom(r: &CustomRole) -> RoleView {
        RoleView {
            name: r.def.name.to_string(),
            label: r.def.label.clone(),
            description: r.def.description.clone(),
            permissions: r.def.permissions,
            shipped: false,
            version: Some(r.version),
            created_at: Some(r.created_at),
            created_by: Some(r.created_by.clone()),
            updated_at: Some(r.updated_at),
            updated_by: Some(r.updated_by.clone()),
            held_by: None,
        }
    }
}

/// Every role, shipped first, each with who holds it.
pub async fn all(app: &AppState) -> Result<Vec<RoleView>, AppError> {
    let (users, tokens, custom) = (
        app.store.users().await?,
        app.store.tokens().await?,
        app.store.custom_roles().await?,
    );
    let mut views: Vec<RoleView> = Role::ALL.iter().map(|r| RoleView::shipped(*r)).collect();
    views.extend(custom.iter().map(RoleView::custom));
    for v in &mut views {
        v.held_by = Some(holders(&v.name, &users, &tokens));
    }
    Ok(views)
}

fn holders(name: &str, users: &[UserRecord], tokens: &[TokenRecord]) -> Holders {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Holders {
        users: count(
            users
                .iter()
                .filter(|u| u.roles.names().any(|r| r == name))
                .count(),
        ),
        tokens: count(
            tokens
                .iter()
                .filter(|t| t.revoked_at.is_none() && t.roles.names().any(|r| r == name))
                .count(),
        ),
    }
}

/// The custom role named `name`.
pub async fn custom(app: &AppState, name: &str) -> Result<Option<CustomRole>, AppError> {
    Ok(app
        .store
        .custom_roles()
        .await?
        .into_iter()
        .find(|r| r.def.name.as_str() == name))
}

fn not_found(name: &str) -> AppError {
    AppError::NotFound(format!("role {name} does not exist"))
}

/// A shipped role cannot be changed or deleted (409 naming `name`).
fn fixed(name: &str) -> Result<(), AppError> {
    match Role::parse(name) {
        Ok(r) => Err(AppError::Conflict(vec![
            FieldError::new(
                "shipped_role",
                format!(
                    "{r} is a shipped role: its permissions are fixed; create a custom role from it instead"
                ),
            )
            .at("name"),
        ])),
        Err(_) => Ok(()),
    }
}

/// `GET /api/v1/roles`.
pub async fn list(State(app): State<AppState>) -> Result<Response, AppError> {
    Ok(Json(json!({ "items": all(&app).await? })).into_response())
}

/// `GET /api/v1/roles/{name}`: a shipped or custom role (a custom one with its `ETag`).
pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    if let Ok(r) = Role::parse(&name) {
        return Ok(Json(RoleView::shipped(r)).into_response());
    }
    let role = custom(&app, &name).await?.ok_or_else(|| not_found(&name))?;
    Ok(with_etag(
        StatusCode::OK,
        RoleView::custom(&role),
        role.version,
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// A lowercase slug (`line-inspector`): a letter, then letters, digits, `-`, `_`; at most 32
    /// characters; not a shipped role's name. It cannot be changed later.
    name: String,
    /// What people read for it (`产线检验员`), at most 80 characters.
    label: String,
    /// At most 500 characters.
    #[serde(default)]
    description: Option<String>,
    /// At least one.
    #[schemars(with = "Vec<Permission>")]
    permissions: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    label: String,
    #[serde(default)]
    description: Option<String>,
    #[schemars(with = "Vec<Permission>")]
    permissions: Vec<String>,
}

/// `POST /api/v1/roles`: `{"name", "label", "description"?, "permissions"}` → 201, the role.
pub async fn create(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    let req: RoleRequest = parse(&body, "")?;
    let def = RoleDefinition::parse(
        req.name.trim(),
        &req.label,
        req.description.as_deref(),
        &req.permissions,
    )
    .map_err(AppError::Rule)?;
    let now = app.clock.now();
    let role = CustomRole {
        def,
        version: 1,
        created_at: now,
        created_by: actor.name(),
        updated_at: now,
        updated_by: actor.name(),
    };
    let view = RoleView::custom(&role);
    let note = AuditNote::object(format!("roles/{}", view.name)).after(&view);
    let record = pending.record(&app, StatusCode::CREATED, &note);
    app.change_access(AccessChange::CreateRole(role), Some(record))
        .await?;
    tracing::info!(actor = %actor.name(), role = %view.name, permissions = %view.permissions.to_stored(), "custom role created");
    Ok(note.recorded().on(with_etag(StatusCode::CREATED, view, 1)))
}

/// `PUT /api/v1/roles/{name}` with `If-Match: "<version>"`: `{"label", "description"?,
/// "permissions"}` → the role at its next version. Holds from the next request on.
pub async fn replace(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    require_json(&headers)?;
    fixed(&name)?;
    let replaces = if_match(&headers)?;
    let req: RoleChange = parse(&body, "")?;
    let before = custom(&app, &name).await?.ok_or_else(|| not_found(&name))?;
    let def = RoleDefinition::parse(
        &name,
        &req.label,
        req.description.as_deref(),
        &req.permissions,
    )
    .map_err(AppError::Rule)?;
    let role = CustomRole {
        def,
        version: replaces.saturating_add(1),
        updated_at: app.clock.now(),
        updated_by: actor.name(),
        ..before.clone()
    };
    let view = RoleView::custom(&role);
    let note = AuditNote::object(format!("roles/{name}"))
        .before(RoleView::custom(&before))
        .after(&view);
    let record = pending.record(&app, StatusCode::OK, &note);
    let version = role.version;
    app.change_access(AccessChange::ReplaceRole { role, replaces }, Some(record))
        .await?;
    tracing::info!(actor = %actor.name(), role = %name, permissions = %view.permissions.to_stored(), "custom role changed");
    Ok(note.recorded().on(with_etag(StatusCode::OK, view, version)))
}

/// `DELETE /api/v1/roles/{name}`: 204; 409 while a user or an unrevoked token holds it.
pub async fn delete(
    State(app): State<AppState>,
    actor: Actor,
    pending: Pending,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    fixed(&name)?;
    let before = custom(&app, &name).await?.ok_or_else(|| not_found(&name))?;
    let note = AuditNote::object(format!("roles/{name}")).before(RoleView::custom(&before));
    let record = pending.record(&app, StatusCode::NO_CONTENT, &note);
    let change = AccessChange::DeleteRole {
        name: before.def.name.clone(),
    };
    app.change_access(change, Some(record)).await?;
    tracing::info!(actor = %actor.name(), role = %name, "custom role deleted");
    Ok(note.recorded().on(StatusCode::NO_CONTENT.into_response()))
}
