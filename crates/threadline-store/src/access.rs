//! What the store keeps about identities: users, API tokens, web sessions and the plant's
//! custom roles.
//!
//! Secrets never reach the database in the clear: passwords as Argon2id PHC strings, token
//! secrets and session ids as SHA-256 digests ([`threadline_domain::access::Credential`]).
//! These rows are not ledger entries: an [`AccessChange`] and its audit record are written in
//! one transaction ([`crate::Store::change_access`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use threadline_domain::FieldError;
use threadline_domain::access::{RoleDefinition, RoleName, Roles, TokenName, UserName};
use threadline_domain::codes::{LocationCode, PartyCode};
use uuid::Uuid;

use crate::StoreError;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: UserName,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub roles: Roles,
    /// The site the user works at: events only there, reads narrowed to it (`threadline-server`'s `site`).
    pub site: Option<LocationCode>,
    /// The partner (a distributor) the user works for: sees only what was shipped to it or
    /// to the parties under it.
    pub party: Option<PartyCode>,
    pub created_at: DateTime<Utc>,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub password_hash: String,
    pub roles: Roles,
    pub site: Option<String>,
    pub party: Option<String>,
    /// Locked by an administrator: no sign-in until unlocked.
    pub disabled: bool,
    /// Failed sign-ins since the last success or lockout.
    pub failed_logins: u32,
    /// Locked by failed sign-ins until then.
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: Option<DateTime<Utc>>,
}

impl UserRecord {
    /// Locked by failed sign-ins at `now`.
    pub fn locked_out_at(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// What the API shows about a user: everything but the hash.
    pub fn view(&self) -> UserView {
        UserView {
            name: self.name.clone(),
            roles: self.roles.clone(),
            site: self.site.clone(),
            party: self.party.clone(),
            disabled: self.disabled,
            locked_until: self.locked_until,
            created_at: self.created_at,
            password_changed_at: self.password_changed_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UserView {
    pub name: String,
    pub roles: Roles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<DateTime<Utc>>,
}

/// What a failed sign-in did to the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    /// Consecutive failures now counted (0 right after a lockout started).
    pub failures: u32,
    /// Set when this failure locked the account.
    pub locked_until: Option<DateTime<Utc>>,
}

/// An API token to create. The secret itself is shown to its creator once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: Uuid,
    pub name: TokenName,
    pub secret_digest: [u8; 32],
    pub roles: Roles,
    /// The site the token may act for: events only there, reads narrowed to it (`threadline-server`'s `site`).
    pub site: Option<LocationCode>,
    /// The partner (a distributor) the token acts for: see [`NewUser::party`].
    pub party: Option<PartyCode>,
    pub created_at: DateTime<Utc>,
    /// The actor who created it (`admin`, `cli`).
    pub created_by: String,
}

/// An API token as stored (without its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub roles: Roles,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A web session to create.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_digest: [u8; 32],
    pub user: String,
    /// Sent back by the browser in `X-CSRF-Token` (or a form field) on every unsafe request.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    /// The absolute end of the session, however active it is.
    pub expires_at: DateTime<Utc>,
}

/// A session with its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    /// The last request seen (updated at most about once a minute).
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A custom role as stored: its definition, its version (1 when created, one more with each
/// change) and who made and last changed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRole {
    pub def: RoleDefinition,
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// The refusal of a user or token given a custom role that is not defined (field `roles`).
pub fn undefined_role(name: &str) -> StoreError {
    StoreError::Invalid(vec![
        FieldError::new(
            "unknown_role",
            format!(
                "`{name}` is not a role: neither a shipped role nor a custom role defined here"
            ),
        )
        .at("roles"),
    ])
}

/// The refusal of deleting a custom role someone still holds (field `name`).
pub fn role_in_use(name: &str, users: i64, tokens: i64) -> StoreError {
    let count = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    StoreError::Conflict(
        FieldError::new(
            "role_in_use",
            format!(
                "role {name} is held by {} and {} (revoked tokens not counted); take it from them first",
                count(users, "user", "users"),
                count(tokens, "active token", "active tokens"),
            ),
        )
        .at("name"),
    )
}

/// The refusal of a custom role whose name is taken (field `name`).
pub fn role_taken(name: &str) -> StoreError {
    StoreError::Conflict(
        FieldError::new("already_exists", format!("role {name} already exists")).at("name"),
    )
}

/// The refusal of a change to a custom role that someone changed first (field `If-Match`).
pub fn role_stale(name: &str, current: u32, replaces: u32) -> StoreError {
    StoreError::Conflict(
        FieldError::new(
            "version_mismatch",
            format!("role {name} is at version {current}, not {replaces}; reload it and try again"),
        )
        .at("If-Match"),
    )
}

/// A change to users or API tokens, applied by [`crate::Store::change_access`] together with
/// its audit record.
#[derive(Debug, Clone)]
pub enum AccessChange {
    /// Refused for a taken name with `Conflict` on field `name`.
    CreateUser(NewUser),
    /// Replaces the password hash, clears failed sign-ins and any lockout, and ends every
    /// session of the user except `keep_session` (the one that changed its own password).
    SetPassword {
        name: String,
        password_hash: String,
        now: DateTime<Utc>,
        keep_session: Option<[u8; 32]>,
    },
    /// Replaces the roles, site and partner binding of a user.
    SetUserAccess {
        name: String,
        roles: Roles,
        site: Option<LocationCode>,
        party: Option<PartyCode>,
    },
    /// `true` locks the account and ends its sessions; `false` unlocks it and also clears
    /// failed sign-ins and any lockout.
    SetUserDisabled { name: String, disabled: bool },
    /// Refused for a name used before (revoked tokens included) with `Conflict` on `name`.
    CreateToken(NewToken),
    /// Revoking again keeps the first time.
    RevokeToken { name: String, now: DateTime<Utc> },
    /// Refused for a taken name with `Conflict` on field `name` ([`role_taken`]).
    CreateRole(CustomRole),
    /// Replaces the definition of a custom role at version `replaces` with `role` (whose
    /// version is the next); `NotFound` if there is none, [`role_stale`] if it moved on.
    ReplaceRole { role: CustomRole, replaces: u32 },
    /// `NotFound` if there is none; [`role_in_use`] while a user or an unrevoked token holds it.
    DeleteRole { name: RoleName },
}

impl AccessChange {
    /// The custom roles this change gives to someone: each must be defined when it commits
    /// (else [`undefined_role`]), and a role being given cannot be deleted meanwhile.
    pub fn roles_given(&self) -> &[RoleName] {
        match self {
            AccessChange::CreateUser(u) => u.roles.custom(),
            AccessChange::SetUserAccess { roles, .. } => roles.custom(),
            AccessChange::CreateToken(t) => t.roles.custom(),
            _ => &[],
        }
    }
}

impl NewUser {
    /// The user as it reads once created.
    pub fn view(&self) -> UserView {
        UserView {
            name: self.name.to_string(),
            roles: self.roles.clone(),
            site: self.site.as_ref().map(|s| s.as_str().to_owned()),
            party: self.party.as_ref().map(|p| p.as_str().to_owned()),
            disabled: false,
            locked_until: None,
            created_at: self.created_at,
            password_changed_at: None,
        }
    }
}

impl NewToken {
    /// The token as it reads once created.
    pub fn record(&self) -> TokenRecord {
        TokenRecord {
            id: self.id,
            name: self.name.to_string(),
            roles: self.roles.clone(),
            site: self.site.as_ref().map(|s| s.as_str().to_owned()),
            party: self.party.as_ref().map(|p| p.as_str().to_owned()),
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            last_used_at: None,
            revoked_at: None,
        }
    }
}
