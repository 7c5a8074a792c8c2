//! Users, API tokens, web sessions and custom roles on PostgreSQL. Plain rows, not ledger entries, so these
//! writes never queue behind the chain head; the constraints refuse duplicates and the
//! counters are updated in one statement each, so concurrent sign-ins cannot lose a failure.

use chrono::{DateTime, Utc};
use threadline_domain::FieldError;
use threadline_domain::access::{LockoutPolicy, Permissions, RoleDefinition, RoleName, Roles};
use threadline_store::access::{role_in_use, role_stale, role_taken, undefined_role};
use threadline_store::{
    CustomRole, LoginFailure, NewSession, NewToken, NewUser, SessionRecord, StoreError,
    TokenRecord, UserRecord,
};
use tokio_postgres::Row;
use uuid::Uuid;

use deadpool_postgres::Transaction;

use crate::{PgStore, col, db, from_micros, is_unique_violation, micros, storable};

const USER_COLUMNS: &str = "u.name, u.password_hash, u.roles, u.site, u.disabled, u.failed_logins, u.locked_until, u.created_at, u.password_changed_at, u.party";

fn user_row(r: &Row, at: usize) -> Result<UserRecord, StoreError> {
    let roles: String = col(r, at + 2)?;
    let failed: i32 = col(r, at + 5)?;
    Ok(UserRecord {
        name: col(r, at)?,
        password_hash: col(r, at + 1)?,
        roles: Roles::from_stored(&roles),
        site: col(r, at + 3)?,
        disabled: col(r, at + 4)?,
        failed_logins: u32::try_from(failed).unwrap_or(0),
        locked_until: col::<Option<i64>>(r, at + 6)?.map(from_micros),
        created_at: from_micros(col(r, at + 7)?),
        password_changed_at: col::<Option<i64>>(r, at + 8)?.map(from_micros),
        party: col(r, at + 9)?,
    })
}

fn missing_user(name: &str) -> StoreError {
    StoreError::NotFound(format!("user {name}"))
}

fn changed_one(n: u64, name: &str) -> Result<(), StoreError> {
    if n == 0 {
        Err(missing_user(name))
    } else {
        Ok(())
    }
}

fn is_constraint(e: &tokio_postgres::Error, name: &str) -> bool {
    is_unique_violation(e) && e.as_db_error().and_then(|d| d.constraint()) == Some(name)
}

const TOKEN_COLUMNS: &str =
    "id, name, roles, site, created_at, created_by, last_used_at, revoked_at, party";

fn token_row(r: &Row) -> Result<TokenRecord, StoreError> {
    let roles: String = col(r, 2)?;
    Ok(TokenRecord {
        id: col(r, 0)?,
        name: col(r, 1)?,
        roles: Roles::from_stored(&roles),
        site: col(r, 3)?,
        created_at: from_micros(col(r, 4)?),
        created_by: col(r, 5)?,
        last_used_at: col::<Option<i64>>(r, 6)?.map(from_micros),
        revoked_at: col::<Option<i64>>(r, 7)?.map(from_micros),
        party: col(r, 8)?,
    })
}

const ROLE_COLUMNS: &str = "name, label, description, permissions, version, created_at, created_by, updated_at, updated_by";

/// A stored custom role; `None` for a row this version cannot read (a name a newer Threadline
/// allows), which grants nothing rather than failing every request.
fn role_row(r: &Row) -> Result<Option<CustomRole>, StoreError> {
    let name: String = col(r, 0)?;
    let permissions: String = col(r, 3)?;
    let version: i32 = col(r, 4)?;
    let Ok(name) = RoleName::parse(&name) else {
        return Ok(None);
    };
    Ok(Some(CustomRole {
        def: RoleDefinition {
            name,
            label: col(r, 1)?,
            description: col(r, 2)?,
            permissions: Permissions::from_stored(&permissions),
        },
        version: u32::try_from(version).unwrap_or(0),
        created_at: from_micros(col(r, 5)?),
        created_by: col(r, 6)?,
        updated_at: from_micros(col(r, 7)?),
        updated_by: col(r, 8)?,
    }))
}

fn version_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl PgStore {
    pub(crate) async fn access_custom_roles(&self) -> Result<Vec<CustomRole>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {ROLE_COLUMNS} FROM custom_roles ORDER BY name"),
                &[],
            )
            .await
            .map_err(db)?;
        let roles = rows.iter().map(role_row).collect::<Result<Vec<_>, _>>()?;
        Ok(roles.into_iter().flatten().collect())
    }

    pub(crate) async fn access_user_count(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .map_err(db)?;
        col(&row, 0)
    }

    pub(crate) async fn access_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        if !storable(name) {
            return Ok(None);
        }
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name = $1"),
                &[&name],
            )
            .await
            .map_err(db)?;
        row.map(|r| user_row(&r, 0)).transpose()
    }

    pub(crate) async fn access_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(|r| user_row(r, 0)).collect()
    }

    pub(crate) async fn access_login_failed(
        &self,
        name: &str,
        now: DateTime<Utc>,
        policy: LockoutPolicy,
    ) -> Result<LoginFailure, StoreError> {
        if !storable(name) {
            return Err(missing_user(name));
        }
        let until = micros(now + policy.lock_for);
        let max = i32::try_from(policy.max_failures.max(1)).unwrap_or(i32::MAX);
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE users SET
                     locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END,
                     failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END
                 WHERE name = $1
                 RETURNING failed_logins, locked_until",
                &[&name, &max, &until],
            )
            .await
            .map_err(db)?
            .ok_or_else(|| missing_user(name))?;
        let failures: i32 = col(&row, 0)?;
        let locked_until: Option<i64> = col(&row, 1)?;
        // The count restarts at 0 exactly when this failure started a lockout.
        Ok(LoginFailure {
            failures: u32::try_from(failures).unwrap_or(0),
            locked_until: locked_until.filter(|_| failures == 0).map(from_micros),
        })
    }

    pub(crate) async fn access_login_succeeded(&self, name: &str) -> Result<(), StoreError> {
        if !storable(name) {
            return Err(missing_user(name));
        }
        let client = self.client().await?;
        let n = client
            .execute(
                "UPDATE users SET failed_logins = 0 WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(db)?;
        changed_one(n, name)
    }

    pub(crate) async fn access_token_by_digest(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<TokenRecord>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE secret_digest = $1"),
                &[&digest.as_slice()],
            )
            .await
            .map_err(db)?;
        row.map(|r| token_row(&r)).transpose()
    }

    pub(crate) async fn access_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(token_row).collect()
    }

    pub(crate) async fn access_token_used(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE api_tokens SET last_used_at = greatest(last_used_at, $2) WHERE id = $1",
                &[&id, &micros(now)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn access_create_session(&self, s: NewSession) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(
            "DELETE FROM sessions WHERE expires_at <= $1",
            &[&micros(s.created_at)],
        )
        .await
        .map_err(db)?;
        tx.execute(
            "INSERT INTO sessions (id_digest, user_name, csrf_token, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $4, $5)",
            &[
                &s.id_digest.as_slice(),
                &s.user,
                &s.csrf_token,
                &micros(s.created_at),
                &micros(s.expires_at),
            ],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn access_session(
        &self,
        digest: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        // Prepared once per connection: every signed-in page asks for its session.
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {USER_COLUMNS}, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at
                 FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_digest = $1"
            ))
            .await
            .map_err(db)?;
        let row = client
            .query_opt(&stmt, &[&digest.as_slice()])
            .await
            .map_err(db)?;
        row.map(|r| {
            Ok(SessionRecord {
                user: user_row(&r, 0)?,
                csrf_token: col(&r, 10)?,
                created_at: from_micros(col(&r, 11)?),
                last_seen_at: from_micros(col(&r, 12)?),
                expires_at: from_micros(col(&r, 13)?),
            })
        })
        .transpose()
    }

    pub(crate) async fn access_touch_session(
        &self,
        digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE id_digest = $1",
                &[&digest.as_slice(), &micros(now)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    pub(crate) async fn access_end_session(&self, digest: &[u8; 32]) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM sessions WHERE id_digest = $1",
                &[&digest.as_slice()],
            )
            .await
            .map_err(db)?;
        Ok(())
    }
}

// The changes of [`threadline_store::AccessChange`], each inside the caller's transaction.

pub(crate) async fn create_user(tx: &Transaction<'_>, u: &NewUser) -> Result<(), StoreError> {
    tx.execute(
            "INSERT INTO users (name, password_hash, roles, site, created_at, party) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &u.name.as_str(),
                &u.password_hash,
                &u.roles.to_stored(),
                &u.site.as_ref().map(|s| s.as_str()),
                &micros(u.created_at),
                &u.party.as_ref().map(|p| p.as_str()),
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(
                    FieldError::new(
                        "already_exists",
                        format!("user {} already exists", u.name),
                    )
                    .at("name"),
                )
            } else {
                db(e)
            }
        })?;
    Ok(())
}

pub(crate) async fn set_password(
    tx: &Transaction<'_>,
    name: &str,
    hash: String,
    now: DateTime<Utc>,
    keep: Option<[u8; 32]>,
) -> Result<(), StoreError> {
    if !storable(name) {
        return Err(missing_user(name));
    }
    let n = tx
        .execute(
            "UPDATE users SET password_hash = $2, password_changed_at = $3, failed_logins = 0, locked_until = NULL WHERE name = $1",
            &[&name, &hash, &micros(now)],
        )
        .await
        .map_err(db)?;
    changed_one(n, name)?;
    let keep = keep.map(|k| k.to_vec());
    tx.execute(
        "DELETE FROM sessions WHERE user_name = $1 AND id_digest IS DISTINCT FROM $2",
        &[&name, &keep],
    )
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) async fn set_user_access(
    tx: &Transaction<'_>,
    name: &str,
    roles: &Roles,
    site: Option<&str>,
    party: Option<&str>,
) -> Result<(), StoreError> {
    if !storable(name) {
        return Err(missing_user(name));
    }
    let n = tx
        .execute(
            "UPDATE users SET roles = $2, site = $3, party = $4 WHERE name = $1",
            &[&name, &roles.to_stored(), &site, &party],
        )
        .await
        .map_err(db)?;
    changed_one(n, name)
}

pub(crate) async fn set_user_disabled(
    tx: &Transaction<'_>,
    name: &str,
    disabled: bool,
) -> Result<(), StoreError> {
    if !storable(name) {
        return Err(missing_user(name));
    }
    let sql = if disabled {
        "UPDATE users SET disabled = true WHERE name = $1"
    } else {
        "UPDATE users SET disabled = false, failed_logins = 0, locked_until = NULL WHERE name = $1"
    };
    let n = tx.execute(sql, &[&name]).await.map_err(db)?;
    changed_one(n, name)?;
    if disabled {
        tx.execute("DELETE FROM sessions WHERE user_name = $1", &[&name])
            .await
            .map_err(db)?;
    }
    Ok(())
}

pub(crate) async fn create_token(tx: &Transaction<'_>, t: &NewToken) -> Result<(), StoreError> {
    tx.execute(
            "INSERT INTO api_tokens (id, name, secret_digest, roles, site, created_at, created_by, party)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &t.id,
                &t.name.as_str(),
                &t.secret_digest.as_slice(),
                &t.roles.to_stored(),
                &t.site.as_ref().map(|s| s.as_str()),
                &micros(t.created_at),
                &t.created_by,
                &t.party.as_ref().map(|p| p.as_str()),
            ],
        )
        .await
        .map_err(|e| {
            if is_constraint(&e, "api_tokens_name_key") {
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

pub(crate) async fn revoke_token(
    tx: &Transaction<'_>,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let missing = || StoreError::NotFound(format!("token {name}"));
    if !storable(name) {
        return Err(missing());
    }
    let n = tx
        .execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE name = $1",
            &[&name, &micros(now)],
        )
        .await
        .map_err(db)?;
    if n == 0 {
        return Err(missing());
    }
    Ok(())
}

/// Refuses giving a custom role that is not defined. The roles given are locked `FOR SHARE`
/// until the transaction ends, so [`delete_role`] (which locks `FOR UPDATE` before counting
/// holders) waits for this change and then counts it.
pub(crate) async fn check_roles_defined(
    tx: &Transaction<'_>,
    names: &[RoleName],
) -> Result<(), StoreError> {
    if names.is_empty() {
        return Ok(());
    }
    let wanted: Vec<&str> = names.iter().map(RoleName::as_str).collect();
    let rows = tx
        .query(
            "SELECT name FROM custom_roles WHERE name = ANY($1) ORDER BY name FOR SHARE",
            &[&wanted],
        )
        .await
        .map_err(db)?;
    let found: Vec<String> = rows.iter().map(|r| col(r, 0)).collect::<Result<_, _>>()?;
    match wanted.iter().find(|w| !found.iter().any(|f| f == *w)) {
        Some(missing) => Err(undefined_role(missing)),
        None => Ok(()),
    }
}

pub(crate) async fn create_role(tx: &Transaction<'_>, r: &CustomRole) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO custom_roles ({ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        &[
            &r.def.name.as_str(),
            &r.def.label,
            &r.def.description,
            &r.def.permissions.to_stored(),
            &version_of(r.version),
            &micros(r.created_at),
            &r.created_by,
            &micros(r.updated_at),
            &r.updated_by,
        ],
    )
    .await
    .map_err(|e| {
        if is_constraint(&e, "custom_roles_pkey") {
            role_taken(r.def.name.as_str())
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub(crate) async fn replace_role(
    tx: &Transaction<'_>,
    r: &CustomRole,
    replaces: u32,
) -> Result<(), StoreError> {
    let name = r.def.name.as_str();
    let n = tx
        .execute(
            "UPDATE custom_roles SET label = $3, description = $4, permissions = $5, version = $6,
                 updated_at = $7, updated_by = $8
             WHERE name = $1 AND version = $2",
            &[
                &name,
                &version_of(replaces),
                &r.def.label,
                &r.def.description,
                &r.def.permissions.to_stored(),
                &version_of(r.version),
                &micros(r.updated_at),
                &r.updated_by,
            ],
        )
        .await
        .map_err(db)?;
    if n == 1 {
        return Ok(());
    }
    let current = tx
        .query_opt("SELECT version FROM custom_roles WHERE name = $1", &[&name])
        .await
        .map_err(db)?;
    match current {
        None => Err(StoreError::NotFound(format!("role {name}"))),
        Some(row) => {
            let v: i32 = col(&row, 0)?;
            Err(role_stale(name, u32::try_from(v).unwrap_or(0), replaces))
        }
    }
}

pub(crate) async fn delete_role(tx: &Transaction<'_>, name: &RoleName) -> Result<(), StoreError> {
    let name = name.as_str();
    let locked = tx
        .query_opt(
            "SELECT 1 FROM custom_roles WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await
        .map_err(db)?;
    if locked.is_none() {
        return Err(StoreError::NotFound(format!("role {name}")));
    }
    let row = tx
        .query_one(
            "SELECT
                 (SELECT count(*) FROM users WHERE strpos(' ' || roles || ' ', ' ' || $1 || ' ') > 0),
                 (SELECT count(*) FROM api_tokens
                  WHERE revoked_at IS NULL AND strpos(' ' || roles || ' ', ' ' || $1 || ' ') > 0)",
            &[&name],
        )
        .await
        .map_err(db)?;
    let (users, tokens): (i64, i64) = (col(&row, 0)?, col(&row, 1)?);
    if users + tokens > 0 {
        return Err(role_in_use(name, users, tokens));
    }
    tx.execute("DELETE FROM custom_roles WHERE name = $1", &[&name])
        .await
        .map_err(db)?;
    Ok(())
}
