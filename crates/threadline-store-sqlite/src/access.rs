//! Users, API tokens, web sessions and custom roles on SQLite. Plain rows, not ledger entries.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use threadline_domain::FieldError;
use threadline_domain::access::{LockoutPolicy, Permissions, RoleDefinition, RoleName, Roles};
use threadline_store::access::{role_in_use, role_stale, role_taken, undefined_role};
use threadline_store::{
    CustomRole, LoginFailure, NewSession, NewToken, NewUser, SessionRecord, StoreError,
    TokenRecord, UserRecord,
};
use uuid::Uuid;

use crate::{db, from_micros, micros};

const USER_COLUMNS: &str = "u.name, u.password_hash, u.roles, u.site, u.disabled, u.failed_logins, u.locked_until, u.created_at, u.password_changed_at, u.party";

fn user_row(r: &Row<'_>, at: usize) -> rusqlite::Result<UserRecord> {
    let roles: String = r.get(at + 2)?;
    let failed: i64 = r.get(at + 5)?;
    Ok(UserRecord {
        name: r.get(at)?,
        password_hash: r.get(at + 1)?,
        roles: Roles::from_stored(&roles),
        site: r.get(at + 3)?,
        disabled: r.get::<_, i64>(at + 4)? != 0,
        failed_logins: u32::try_from(failed).unwrap_or(u32::MAX),
        locked_until: r.get::<_, Option<i64>>(at + 6)?.map(from_micros),
        created_at: from_micros(r.get(at + 7)?),
        password_changed_at: r.get::<_, Option<i64>>(at + 8)?.map(from_micros),
        party: r.get(at + 9)?,
    })
}

fn missing_user(name: &str) -> StoreError {
    StoreError::NotFound(format!("user {name}"))
}

fn changed_one(n: usize, name: &str) -> Result<(), StoreError> {
    if n == 0 {
        Err(missing_user(name))
    } else {
        Ok(())
    }
}

fn is_unique(e: &rusqlite::Error, column: &str) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
        && e.to_string().contains(column)
}

pub fn user_count(c: &Connection) -> Result<i64, StoreError> {
    c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .map_err(db)
}

pub fn create_user(c: &Connection, u: &NewUser) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO users (name, password_hash, roles, site, created_at, party) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            u.name.as_str(),
            u.password_hash,
            u.roles.to_stored(),
            u.site.as_ref().map(|s| s.as_str()),
            micros(u.created_at),
            u.party.as_ref().map(|p| p.as_str())
        ],
    )
    .map_err(|e| {
        if is_unique(&e, "users.name") {
            StoreError::Conflict(
                FieldError::new("already_exists", format!("user {} already exists", u.name))
                    .at("name"),
            )
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub fn user(c: &Connection, name: &str) -> Result<Option<UserRecord>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?1"
    ))
    .map_err(db)?
    .query_row([name], |r| user_row(r, 0))
    .optional()
    .map_err(db)
}

pub fn users(c: &Connection) -> Result<Vec<UserRecord>, StoreError> {
    let mut st = c
        .prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
        ))
        .map_err(db)?;
    let rows = st.query_map([], |r| user_row(r, 0)).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub fn set_password(
    c: &Connection,
    name: &str,
    hash: &str,
    now: DateTime<Utc>,
    keep: Option<[u8; 32]>,
) -> Result<(), StoreError> {
    let n = c
        .execute(
            "UPDATE users SET password_hash = ?2, password_changed_at = ?3, failed_logins = 0, locked_until = NULL WHERE name = ?1",
            params![name, hash, micros(now)],
        )
        .map_err(db)?;
    changed_one(n, name)?;
    c.execute(
        "DELETE FROM sessions WHERE user_name = ?1 AND id_digest IS NOT ?2",
        params![name, keep.as_ref().map(|k| k.as_slice())],
    )
    .map_err(db)?;
    Ok(())
}

pub fn set_user_access(
    c: &Connection,
    name: &str,
    roles: &Roles,
    site: Option<&str>,
    party: Option<&str>,
) -> Result<(), StoreError> {
    let n = c
        .execute(
            "UPDATE users SET roles = ?2, site = ?3, party = ?4 WHERE name = ?1",
            params![name, roles.to_stored(), site, party],
        )
        .map_err(db)?;
    changed_one(n, name)
}

pub fn set_user_disabled(c: &Connection, name: &str, disabled: bool) -> Result<(), StoreError> {
    let n = if disabled {
        c.execute("UPDATE users SET disabled = 1 WHERE name = ?1", [name])
    } else {
        c.execute(
            "UPDATE users SET disabled = 0, failed_logins = 0, locked_until = NULL WHERE name = ?1",
            [name],
        )
    }
    .map_err(db)?;
    changed_one(n, name)?;
    if disabled {
        c.execute("DELETE FROM sessions WHERE user_name = ?1", [name])
            .map_err(db)?;
    }
    Ok(())
}

pub fn login_failed(
    c: &Connection,
    name: &str,
    now: DateTime<Utc>,
    policy: LockoutPolicy,
) -> Result<LoginFailure, StoreError> {
    let until = micros(now + policy.lock_for);
    let max = i64::from(policy.max_failures.max(1));
    let row: Option<(i64, Option<i64>)> = c
        .query_row(
            "UPDATE users SET
                 locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END,
                 failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 ELSE failed_logins + 1 END
             WHERE name = ?1
             RETURNING failed_logins, locked_until",
            params![name, max, until],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    let (failures, locked_until) = row.ok_or_else(|| missing_user(name))?;
    // The count restarts at 0 exactly when this failure started a lockout.
    Ok(LoginFailure {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        locked_until: locked_until.filter(|_| failures == 0).map(from_micros),
    })
}

pub fn login_succeeded(c: &Connection, name: &str) -> Result<(), StoreError> {
    let n = c
        .execute("UPDATE users SET failed_logins = 0 WHERE name = ?1", [name])
        .map_err(db)?;
    changed_one(n, name)
}

const TOKEN_COLUMNS: &str =
    "id, name, roles, site, created_at, created_by, last_used_at, revoked_at, party";

fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let id: Vec<u8> = r.get(0)?;
    let roles: String = r.get(2)?;
    Ok(TokenRecord {
        id: Uuid::from_slice(&id).unwrap_or_default(),
        name: r.get(1)?,
        roles: Roles::from_stored(&roles),
        site: r.get(3)?,
        created_at: from_micros(r.get(4)?),
        created_by: r.get(5)?,
        last_used_at: r.get::<_, Option<i64>>(6)?.map(from_micros),
        revoked_at: r.get::<_, Option<i64>>(7)?.map(from_micros),
        party: r.get(8)?,
    })
}

pub fn create_token(c: &Connection, t: &NewToken) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO api_tokens (id, name, secret_digest, roles, site, created_at, created_by, party)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            t.id.as_bytes().as_slice(),
            t.name.as_str(),
            t.secret_digest.as_slice(),
            t.roles.to_stored(),
            t.site.as_ref().map(|s| s.as_str()),
            micros(t.created_at),
            t.created_by,
            t.party.as_ref().map(|p| p.as_str())
        ],
    )
    .map_err(|e| {
        if is_unique(&e, "api_tokens.name") {
            StoreError::Conflict(
                FieldError::new(
                    "already_exists",
                    format!(
                        "a token named {} exists or existed; token names are never reused",
                        t.name
                    ),
                )
                .at("name"),
            )
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub fn token_by_digest(
    c: &Connection,
    digest: &[u8; 32],
) -> Result<Option<TokenRecord>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_digest = ?1"
    ))
    .map_err(db)?
    .query_row([digest.as_slice()], token_row)
    .optional()
    .map_err(db)
}

pub fn tokens(c: &Connection) -> Result<Vec<TokenRecord>, StoreError> {
    let mut st = c
        .prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name"
        ))
        .map_err(db)?;
    let rows = st.query_map([], token_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub fn revoke_token(c: &Connection, name: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let n = c
        .execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE name = ?1",
            params![name, micros(now)],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("token {name}")));
    }
    Ok(())
}

pub fn token_used(c: &Connection, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE api_tokens SET last_used_at = max(coalesce(last_used_at, ?2), ?2) WHERE id = ?1",
        params![id.as_bytes().as_slice(), micros(now)],
    )
    .map_err(db)?;
    Ok(())
}

pub fn create_session(c: &Connection, s: &NewSession) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM sessions WHERE expires_at <= ?1",
        [micros(s.created_at)],
    )
    .map_err(db)?;
    c.execute(
        "INSERT INTO sessions (id_digest, user_name, csrf_token, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        params![
            s.id_digest.as_slice(),
            s.user,
            s.csrf_token,
            micros(s.created_at),
            micros(s.expires_at)
        ],
    )
    .map_err(db)?;
    Ok(())
}

pub fn session(c: &Connection, digest: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {USER_COLUMNS}, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at
         FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_digest = ?1"
    ))
    .map_err(db)?
    .query_row([digest.as_slice()], |r| {
        Ok(SessionRecord {
            user: user_row(r, 0)?,
            csrf_token: r.get(10)?,
            created_at: from_micros(r.get(11)?),
            last_seen_at: from_micros(r.get(12)?),
            expires_at: from_micros(r.get(13)?),
        })
    })
    .optional()
    .map_err(db)
}

pub fn touch_session(
    c: &Connection,
    digest: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id_digest = ?1",
        params![digest.as_slice(), micros(now)],
    )
    .map_err(db)?;
    Ok(())
}

pub fn end_session(c: &Connection, digest: &[u8; 32]) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM sessions WHERE id_digest = ?1",
        [digest.as_slice()],
    )
    .map_err(db)?;
    Ok(())
}

const ROLE_COLUMNS: &str = "name, label, description, permissions, version, created_at, created_by, updated_at, updated_by";

fn role_row(r: &Row<'_>) -> rusqlite::Result<Option<CustomRole>> {
    let name: String = r.get(0)?;
    let permissions: String = r.get(3)?;
    let version: i64 = r.get(4)?;
    // A row this version cannot read (a name a newer Threadline allows) is left out: it grants
    // nothing rather than failing every request.
    let Ok(name) = RoleName::parse(&name) else {
        return Ok(None);
    };
    Ok(Some(CustomRole {
        def: RoleDefinition {
            name,
            label: r.get(1)?,
            description: r.get(2)?,
            permissions: Permissions::from_stored(&permissions),
        },
        version: u32::try_from(version).unwrap_or(0),
        created_at: from_micros(r.get(5)?),
        created_by: r.get(6)?,
        updated_at: from_micros(r.get(7)?),
        updated_by: r.get(8)?,
    }))
}

pub fn custom_roles(c: &Connection) -> Result<Vec<CustomRole>, StoreError> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {ROLE_COLUMNS} FROM custom_roles ORDER BY name"
        ))
        .map_err(db)?;
    let rows = st.query_map([], role_row).map_err(db)?;
    let rows: Vec<Option<CustomRole>> = rows.collect::<Result<_, _>>().map_err(db)?;
    Ok(rows.into_iter().flatten().collect())
}

/// Refuses giving a custom role that is not defined (the writer's transaction holds SQLite's
/// one write lock, so no delete can come between this and the change).
pub fn check_roles_defined(c: &Connection, names: &[RoleName]) -> Result<(), StoreError> {
    for n in names {
        let found: Option<i64> = c
            .query_row(
                "SELECT 1 FROM custom_roles WHERE name = ?1",
                [n.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if found.is_none() {
            return Err(undefined_role(n.as_str()));
        }
    }
    Ok(())
}

pub fn create_role(c: &Connection, r: &CustomRole) -> Result<(), StoreError> {
    c.execute(
        &format!(
            "INSERT INTO custom_roles ({ROLE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            r.def.name.as_str(),
            r.def.label,
            r.def.description,
            r.def.permissions.to_stored(),
            i64::from(r.version),
            micros(r.created_at),
            r.created_by,
            micros(r.updated_at),
            r.updated_by
        ],
    )
    .map_err(|e| {
        if is_unique(&e, "custom_roles.name") {
            role_taken(r.def.name.as_str())
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub fn replace_role(c: &Connection, r: &CustomRole, replaces: u32) -> Result<(), StoreError> {
    let name = r.def.name.as_str();
    let n = c
        .execute(
            "UPDATE custom_roles SET label = ?3, description = ?4, permissions = ?5, version = ?6,
                 updated_at = ?7, updated_by = ?8
             WHERE name = ?1 AND version = ?2",
            params![
                name,
                i64::from(replaces),
                r.def.label,
                r.def.description,
                r.def.permissions.to_stored(),
                i64::from(r.version),
                micros(r.updated_at),
                r.updated_by
            ],
        )
        .map_err(db)?;
    if n == 1 {
        return Ok(());
    }
    let current: Option<i64> = c
        .query_row(
            "SELECT version FROM custom_roles WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .map_err(db)?;
    match current {
        None => Err(StoreError::NotFound(format!("role {name}"))),
        Some(v) => Err(role_stale(name, u32::try_from(v).unwrap_or(0), replaces)),
    }
}

pub fn delete_role(c: &Connection, name: &RoleName) -> Result<(), StoreError> {
    let name = name.as_str();
    let exists: Option<i64> = c
        .query_row("SELECT 1 FROM custom_roles WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db)?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("role {name}")));
    }
    let (users, tokens): (i64, i64) = c
        .query_row(
            "SELECT
                 (SELECT count(*) FROM users WHERE instr(' ' || roles || ' ', ' ' || ?1 || ' ') > 0),
                 (SELECT count(*) FROM api_tokens
                  WHERE revoked_at IS NULL AND instr(' ' || roles || ' ', ' ' || ?1 || ' ') > 0)",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db)?;
    if users + tokens > 0 {
        return Err(role_in_use(name, users, tokens));
    }
    c.execute("DELETE FROM custom_roles WHERE name = ?1", [name])
        .map_err(db)?;
    Ok(())
}
