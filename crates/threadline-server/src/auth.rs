//! Who is asking, and may they: the [`Actor`] behind a request, how it is recognised, and the
//! [`guard`] every non-public route runs before its handler.
//!
//! Machines send `Authorization: Bearer tlt_…` (an API token); people sign in and carry a
//! session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` unless configured off for plain-HTTP
//! development). A cookie-authenticated unsafe request must also echo the session's CSRF token
//! (`X-CSRF-Token` for the API, a form field for the pages). Passwords are Argon2id, hashed and
//! verified on the blocking pool so a sign-in never stalls the async workers. Repeated failed
//! sign-ins lock an account for a while ([`LockoutPolicy`]); "now" is always the app's clock.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration as StdDuration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use subtle::ConstantTimeEq;
use threadline_domain::FieldError;
use threadline_domain::access::{
    Credential, CredentialKind, LockoutPolicy, Password, Permission, Permissions, Roles,
};
use threadline_domain::mask::{Mask, Visibility, masked};
use threadline_store::{NewSession, StoreError, TokenRecord, UserRecord};

use crate::AppState;
use crate::error::AppError;

/// Session and sign-in policy.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// Mark the session cookie `Secure` (and name it with the `__Host-` prefix). Turn off only
    /// for plain-HTTP development on a host that is not `localhost`.
    pub secure_cookies: bool,
    /// A session unused this long has ended.
    pub session_idle: chrono::Duration,
    /// A session ends this long after sign-in, however active.
    pub session_lifetime: chrono::Duration,
    pub lockout: LockoutPolicy,
    /// Failed sign-ins one client address may make, whatever names it tries.
    pub address_limit: AddressLimit,
    /// The operations that need an electronic signature ([`crate::esign`]).
    pub signatures: crate::esign::SignedOps,
}

/// After `max_failures` failed sign-ins from one address within `window`, that address is
/// refused (429) until the oldest of them leaves the window — so guessing across many
/// accounts from one place stops too, not only guessing one account's password.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimit {
    pub max_failures: u32,
    pub window: chrono::Duration,
}

impl Default for AddressLimit {
    fn default() -> Self {
        AddressLimit {
            max_failures: 20,
            window: chrono::Duration::minutes(15),
        }
    }
}

/// Recent failed sign-ins by client address, kept in memory by each server process.
#[derive(Debug, Default)]
pub struct AddressFailures {
    recent: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::VecDeque<DateTime<Utc>>>,
    >,
}

/// Addresses remembered at most; beyond it, those without a failure in the window go.
const MAX_ADDRESSES: usize = 100_000;

impl AddressFailures {
    /// When `address` may try again, if it may not now.
    pub fn blocked_until(
        &self,
        address: &str,
        now: DateTime<Utc>,
        limit: AddressLimit,
    ) -> Option<DateTime<Utc>> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let times = recent.get_mut(address)?;
        while times.front().is_some_and(|t| *t <= now - limit.window) {
            times.pop_front();
        }
        let n = u32::try_from(times.len()).unwrap_or(u32::MAX);
        if n >= limit.max_failures {
            times.front().map(|t| *t + limit.window)
        } else {
            None
        }
    }

    /// Counts a failed sign-in from `address`.
    pub fn failed(&self, address: &str, now: DateTime<Utc>, limit: AddressLimit) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() >= MAX_ADDRESSES && !recent.contains_key(address) {
            recent.retain(|_, times| times.back().is_some_and(|t| *t > now - limit.window));
        }
        recent.entry(address.to_owned()).or_default().push_back(now);
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            secure_cookies: true,
            session_idle: chrono::Duration::minutes(30),
            session_lifetime: chrono::Duration::hours(12),
            lockout: LockoutPolicy::default(),
            address_limit: AddressLimit::default(),
            signatures: crate::esign::SignedOps::NONE,
        }
    }
}

impl AuthSettings {
    /// The session cookie's name.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-threadline_session"
        } else {
            "threadline_session"
        }
    }

    /// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` if configured.
    pub fn set_cookie(&self, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        let text = format!(
            "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}"
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Last-use and last-seen times are written at most this often per token or session.
const TOUCH_EVERY_SECS: i64 = 60;

/// API tokens recently found valid, by the digest of their secret, with the permissions their
/// roles granted then (custom roles resolved), so that a machine sending thousands of requests
/// a second costs one lookup every [`TokenCache::LIFETIME`] instead of database reads per
/// request.
///
/// A token revoked, or a custom role changed or deleted, through this server is forgotten at
/// once ([`AppState::change_access`] empties the cache on every access change); a change made
/// by another server sharing the database holds here at the latest [`TokenCache::LIFETIME`]
/// later. Unknown and revoked tokens are never kept, so a stream of bad secrets cannot fill it.
#[derive(Debug, Default)]
pub struct TokenCache {
    found: Mutex<HashMap<[u8; 32], (TokenRecord, Permissions, Instant)>>,
}

impl TokenCache {
    /// How long a token found valid is believed without asking the database again.
    pub const LIFETIME: StdDuration = StdDuration::from_secs(2);
    /// At most this many tokens are kept; past it the cache starts over.
    const CAPACITY: usize = 4096;

    fn get(&self, digest: &[u8; 32]) -> Option<(TokenRecord, Permissions)> {
        let found = self.found.lock().ok()?;
        let (token, permissions, at) = found.get(digest)?;
        (at.elapsed() < Self::LIFETIME).then(|| (token.clone(), *permissions))
    }

    fn put(&self, digest: [u8; 32], token: TokenRecord, permissions: Permissions) {
        if let Ok(mut found) = self.found.lock() {
            if found.len() >= Self::CAPACITY {
                found.clear();
            }
            found.insert(digest, (token, permissions, Instant::now()));
        }
    }

    /// Notes a use written to the database, so the cached copy does not ask for another.
    fn used(&self, digest: &[u8; 32], at: DateTime<Utc>) {
        if let Ok(mut found) = self.found.lock()
            && let Some((token, _, _)) = found.get_mut(digest)
        {
            token.last_used_at = Some(at);
        }
    }

    /// Forgets every token: the next request of each reads it from the database.
    pub fn forget_all(&self) {
        if let Ok(mut found) = self.found.lock() {
            found.clear();
        }
    }
}

/// The name under which something acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Principal {
    User(String),
    Token(String),
}

/// The web session a request came with.
#[derive(Clone)]
pub struct Session {
    pub digest: [u8; 32],
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Who is acting, with what they may do. Put into the request by [`guard`]; handlers take it
/// as an extractor.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    pub roles: Roles,
    pub permissions: Permissions,
    /// The site the account works at: its events must happen there ([`crate::site`]).
    pub site: Option<String>,
    /// The partner (distributor) this account works for; see [`crate::partner::Partner::of`].
    pub party: Option<String>,
    pub session: Option<Session>,
}

impl Actor {
    /// The name recorded on events and master changes: the user's name, or `token:<name>`.
    pub fn name(&self) -> String {
        match &self.principal {
            Principal::User(n) => n.clone(),
            Principal::Token(n) => format!("token:{n}"),
        }
    }

    pub fn user_name(&self) -> Option<&str> {
        match &self.principal {
            Principal::User(n) => Some(n),
            Principal::Token(_) => None,
        }
    }

    /// What this actor may see of customers' personal data and commercial fields.
    pub fn visibility(&self) -> Visibility {
        Visibility::of(self.permissions)
    }

    /// `value` as this actor may see it ([`threadline_domain::mask::masked`]): every answer
    /// that carries data goes through here, right before it is rendered.
    pub fn masked<T: Mask>(&self, value: T) -> T {
        masked(value, self.visibility())
    }

    /// Refuses with 403 unless the actor holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(forbidden(self, &[p]))
        }
    }
}

/// The 403 for lacking `missing`.
pub fn forbidden(actor: &Actor, missing: &[Permission]) -> AppError {
    let names: Vec<&str> = missing.iter().map(|p| p.as_str()).collect();
    AppError::Forbidden(vec![FieldError::new(
        "forbidden",
        format!(
            "{} lacks the permission {} this needs",
            actor.name(),
            names.join(", ")
        ),
    )])
}

pub fn unauthenticated() -> AppError {
    AppError::Unauthorized(FieldError::new(
        "unauthenticated",
        "sign in (POST /api/v1/session) or send Authorization: Bearer <token>",
    ))
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or_else(unauthenticated)
    }
}

/// 32 bytes from the thread's cryptographically secure generator (ChaCha, seeded by the OS).
pub fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut b);
    b
}

/// Equal, in time that does not depend on where the strings differ.
pub fn same_secret(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Hashes a password with Argon2id (the crate's defaults: 19 MiB, 2 passes). Blocking; CPU
/// heavy on purpose.
pub fn hash_password_blocking(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = random_bytes();
    let salt = SaltString::encode_b64(&salt[..16]).map_err(|e| format!("salt: {e}"))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing: {e}"))
}

/// [`hash_password_blocking`] on the blocking pool.
pub async fn hash_password(password: Password) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_password_blocking(password.expose()))
        .await
        .map_err(|e| AppError::Internal(format!("hashing task: {e}")))?
        .map_err(AppError::Internal)
}

fn verify_blocking(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of nothing anyone knows, verified against when the user does not exist, so a wrong
/// name costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password_blocking(&hex::encode(random_bytes())).unwrap_or_default())
}

/// Verifies `password` against `hash` (or the dummy) on the blocking pool.
pub(crate) async fn verify_password(
    hash: Option<String>,
    password: String,
) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let ok = verify_blocking(hash.as_deref().unwrap_or_else(|| dummy_hash()), &password);
        ok && hash.is_some()
    })
    .await
    .map_err(|e| AppError::Internal(format!("verification task: {e}")))
}

/// Why a sign-in (or a password check) failed.
#[derive(Debug)]
pub enum SignInError {
    /// Unknown name or wrong password: deliberately the same answer.
    InvalidCredentials,
    /// Too many failures; no password is checked until then.
    Locked(DateTime<Utc>),
    /// An administrator locked the account (told only to someone who knows the password).
    Disabled,
    /// Too many failures from this client address; it may try again at this time, in this
    /// many seconds.
    Throttled(DateTime<Utc>, u64),
    Failed(AppError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Failed(e.into())
    }
}

impl From<AppError> for SignInError {
    fn from(e: AppError) -> Self {
        SignInError::Failed(e)
    }
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::InvalidCredentials => AppError::Unauthorized(FieldError::new(
                "invalid_credentials",
                "the name or the password is wrong",
            )),
            SignInError::Locked(until) => AppError::Unauthorized(FieldError::new(
                "account_locked",
                format!(
                    "too many failed sign-ins: the account is locked until {}",
                    until.to_rfc3339()
                ),
            )),
            SignInError::Disabled => AppError::Unauthorized(FieldError::new(
                "account_disabled",
                "an administrator has locked this account",
            )),
            SignInError::Throttled(until, secs) => AppError::TooManyRequests(
                FieldError::new(
                    "too_many_sign_ins",
                    format!(
                        "too many failed sign-ins from this address: try again after {}",
                        until.to_rfc3339()
                    ),
                ),
                secs,
            ),
            SignInError::Failed(e) => e,
        }
    }
}

/// Checks `password` for `user`, counting a failure towards the lockout. During a lockout
/// nothing is checked, so guessing cannot go on. Failures and lockouts are audited, with the
/// client's `address`.
pub async fn check_password(
    app: &AppState,
    user: &UserRecord,
    password: &str,
    address: Option<&str>,
) -> Result<(), SignInError> {
    let now = app.clock.now();
    let failed = |why: String| {
        crate::audit::sign_in_event(app, &user.name, address, "sign_in_failed", Some(why))
    };
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        failed(format!("locked until {}", until.to_rfc3339())).await;
        return Err(SignInError::Locked(until));
    }
    let ok = password.len() <= threadline_domain::access::MAX_PASSWORD_BYTES
        && verify_password(Some(user.password_hash.clone()), password.to_owned()).await?;
    if !ok {
        let f = app
            .store
            .login_failed(&user.name, now, app.auth.lockout)
            .await?;
        return Err(match f.locked_until {
            Some(until) => {
                tracing::warn!(user = %user.name, %until, "account locked after repeated failed sign-ins");
                crate::audit::sign_in_event(
                    app,
                    &user.name,
                    address,
                    "account_locked",
                    Some(format!(
                        "wrong password; locked until {}",
                        until.to_rfc3339()
                    )),
                )
                .await;
                SignInError::Locked(until)
            }
            None => {
                failed("wrong password".into()).await;
                SignInError::InvalidCredentials
            }
        });
    }
    Ok(())
}

/// A new session, for the response to carry.
#[derive(Debug)]
pub struct SignedIn {
    pub user: UserRecord,
    /// The cookie's value.
    pub session_id: Credential,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs `name` in with `password` and starts a session. Every attempt is audited, with the
/// client's `address`; an address with too many recent failures is refused before any
/// password is checked.
pub async fn sign_in(
    app: &AppState,
    name: &str,
    password: &str,
    address: Option<&str>,
) -> Result<SignedIn, SignInError> {
    let now = app.clock.now();
    let limit = app.auth.address_limit;
    if let Some(a) = address
        && let Some(until) = app.sign_in_failures.blocked_until(a, now, limit)
    {
        tracing::warn!(address = %a, %until, "sign-in refused: too many failures from this address");
        crate::audit::sign_in_event(
            app,
            name,
            address,
            "sign_in_throttled",
            Some(format!(
                "too many failed sign-ins from this address; refused until {}",
                until.to_rfc3339()
            )),
        )
        .await;
        let secs = u64::try_from((until - now).num_seconds()).unwrap_or(1);
        return Err(SignInError::Throttled(until, secs));
    }
    let outcome = sign_in_checked(app, name, password, address).await;
    if let (
        Some(a),
        Err(SignInError::InvalidCredentials | SignInError::Locked(_) | SignInError::Disabled),
    ) = (address, &outcome)
    {
        app.sign_in_failures.failed(a, now, limit);
    }
    outcome
}

async fn sign_in_checked(
    app: &AppState,
    name: &str,
    password: &str,
    address: Option<&str>,
) -> Result<SignedIn, SignInError> {
    let user = match app.store.user(name).await? {
        Some(u) => u,
        None => {
            if password.len() <= threadline_domain::access::MAX_PASSWORD_BYTES {
                verify_password(None, password.to_owned()).await?;
            }
            crate::audit::sign_in_event(
                app,
                name,
                address,
                "sign_in_failed",
                Some("unknown user".into()),
            )
            .await;
            return Err(SignInError::InvalidCredentials);
        }
    };
    check_password(app, &user, password, address).await?;
    if user.disabled {
        crate::audit::sign_in_event(
            app,
            name,
            address,
            "sign_in_failed",
            Some("disabled by an administrator".into()),
        )
        .await;
        return Err(SignInError::Disabled);
    }
    crate::audit::sign_in_event(app, name, address, "sign_in", None).await;
    app.store.login_succeeded(&user.name).await?;
    let now = app.clock.now();
    let session_id = Credential::new(CredentialKind::Session, random_bytes());
    let csrf_token = hex::encode(random_bytes());
    let expires_at = now + app.auth.session_lifetime;
    app.store
        .create_session(NewSession {
            id_digest: session_id.digest(),
            user: user.name.clone(),
            csrf_token: csrf_token.clone(),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(SignedIn {
        user,
        session_id,
        csrf_token,
        expires_at,
    })
}

/// What `roles` allow now: the shipped roles' permissions, and each custom role's as stored
/// (read only when the roles name one; a custom role no longer defined grants nothing).
pub async fn permissions_of(app: &AppState, roles: &Roles) -> Result<Permissions, StoreError> {
    if roles.custom().is_empty() {
        return Ok(roles.shipped_permissions());
    }
    let defined: Vec<_> = app
        .store
        .custom_roles()
        .await?
        .into_iter()
        .map(|r| r.def)
        .collect();
    Ok(roles.permissions(&defined))
}

/// Recognises the actor of a request: a bearer token if an `Authorization` header is sent
/// (a bad one is refused, never ignored), else the session cookie (a stale one is ignored),
/// else nobody.
pub async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Option<Actor>, AppError> {
    let now = app.clock.now();
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let invalid = || {
            AppError::Unauthorized(FieldError::new(
                "invalid_token",
                "the bearer token is unknown, revoked or malformed",
            ))
        };
        let secret = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(invalid)?;
        let secret = Credential::parse(CredentialKind::ApiToken, secret).map_err(|_| invalid())?;
        let digest = secret.digest();
        let (token, permissions) = match app.tokens.get(&digest) {
            Some(found) => found,
            None => {
                let token = app
                    .store
                    .token_by_digest(&digest)
                    .await?
                    .filter(|t| t.revoked_at.is_none())
                    .ok_or_else(invalid)?;
                let permissions = permissions_of(app, &token.roles).await?;
                app.tokens.put(digest, token.clone(), permissions);
                (token, permissions)
            }
        };
        let stale = token
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= TOUCH_EVERY_SECS);
        if stale {
            app.store.token_used(token.id, now).await?;
            app.tokens.used(&digest, now);
        }
        return Ok(Some(Actor {
            principal: Principal::Token(token.name),
            permissions,
            roles: token.roles,
            site: token.site,
            party: token.party,
            session: None,
        }));
    }
    let Some(id) = cookie(headers, app.auth.session_cookie()) else {
        return Ok(None);
    };
    let Ok(id) = Credential::parse(CredentialKind::Session, id) else {
        return Ok(None);
    };
    let digest = id.digest();
    let Some(s) = app.store.session(&digest).await? else {
        return Ok(None);
    };
    if now >= s.expires_at || now >= s.last_seen_at + app.auth.session_idle || s.user.disabled {
        app.store.end_session(&digest).await?;
        return Ok(None);
    }
    if (now - s.last_seen_at).num_seconds() >= TOUCH_EVERY_SECS {
        app.store.touch_session(&digest, now).await?;
    }
    Ok(Some(Actor {
        permissions: permissions_of(app, &s.user.roles).await?,
        principal: Principal::User(s.user.name),
        roles: s.user.roles,
        site: s.user.site,
        party: s.user.party,
        session: Some(Session {
            digest,
            csrf_token: s.csrf_token,
            expires_at: s.expires_at,
        }),
    }))
}

/// What a route demands of its actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone, signed in or not: health, sign-in, the stylesheet.
    Public,
    /// Any signed-in user or token: who-am-I, sign-out, own password.
    SignedIn,
    /// An actor holding this permission.
    Needs(Permission),
    /// Event capture: an actor holding at least one capture permission; the handler then
    /// checks every event against [`threadline_domain::access::required_for`].
    Capture,
}

/// How a refusal is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// JSON: 401 / 403 with an error body.
    Api,
    /// HTML: anonymous visitors are sent to the sign-in page, others get a 403 page. Unsafe
    /// page requests (forms) check the CSRF token in a form field themselves.
    Page,
    /// The EPCIS binding: an API whose refusals are RFC 7807 problem documents with the EPCIS
    /// exception type (`SecurityException`), as its clients expect.
    Epcis,
}

/// The state [`guard`] runs with: the app and one route's demands.
#[derive(Clone)]
pub struct GuardState {
    pub app: AppState,
    pub guard: Guard,
    pub surface: Surface,
    /// The route's path in the table (`/api/v1/products/{code}`): the action audit records name.
    pub path: &'static str,
}

/// Recognises the actor, refuses what the route does not allow, and hands the [`Actor`] to
/// the handler.
pub async fn guard(State(g): State<GuardState>, mut req: Request, next: Next) -> Response {
    let lang = crate::ui::lang_of_request(req.uri(), req.headers());
    let refuse = |e: AppError| match g.surface {
        Surface::Api => e.into_response(),
        Surface::Epcis => {
            let challenge = matches!(e, AppError::Unauthorized(_));
            let mut resp = crate::epcis::Problem::from(e).into_response();
            if challenge {
                resp.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer realm=\"threadline\""),
                );
            }
            resp
        }
        Surface::Page => crate::ui::refusal(lang, e),
    };
    let actor = match authenticate(&g.app, req.headers()).await {
        Ok(Some(a)) => a,
        Ok(None) => return refuse(unauthenticated()),
        Err(e) => return refuse(e),
    };
    if g.surface != Surface::Page
        && let Some(s) = &actor.session
        && !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
    {
        let given = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_secret(&s.csrf_token, given) {
            return refuse(csrf_refused());
        }
    }
    let allowed = match g.guard {
        Guard::Public | Guard::SignedIn => Ok(()),
        // A partner account meets only the routes that scope what they show (after its
        // permissions, so it learns nothing a lacking permission would not tell it).
        Guard::Needs(p) => actor.require(p).and_then(|()| {
            if actor.is_partner() && !crate::partner::PARTNER_ROUTES.contains(&g.path) {
                Err(AppError::NotFound(format!(
                    "{} does not exist",
                    req.uri().path()
                )))
            } else {
                Ok(())
            }
        }),
        Guard::Capture if actor.permissions.may_capture() => Ok(()),
        Guard::Capture => Err(AppError::Forbidden(vec![FieldError::new(
            "forbidden",
            format!(
                "{} holds no permission that records events ({})",
                actor.name(),
                threadline_domain::access::CAPTURE_PERMISSIONS
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )])),
    };
    let method = req.method().clone();
    let action = format!("{method} {}", g.path);
    let object = crate::audit::object_of_path(req.uri().path());
    let origin = crate::audit::Origin::of(Some(&actor), req.extensions());
    let resp = match allowed {
        Err(e) => refuse(e),
        Ok(()) => {
            req.extensions_mut().insert(actor);
            req.extensions_mut().insert(crate::audit::Pending {
                origin: origin.clone(),
                action: action.clone(),
                object: object.clone(),
                page: g.surface == Surface::Page,
            });
            next.run(req).await
        }
    };
    let note = resp.extensions().get::<crate::audit::AuditNote>().cloned();
    if note.as_ref().is_some_and(|n| n.recorded) {
        return resp;
    }
    if crate::audit::recorded(&method, resp.status(), note.is_some()) {
        let note = note.unwrap_or_default();
        crate::audit::record(&g.app, &origin, action, object, Some(resp.status()), note).await;
    }
    resp
}

pub fn csrf_refused() -> AppError {
    AppError::Forbidden(vec![
        FieldError::new(
            "csrf_token_mismatch",
            "a request signed in by cookie must send the session's CSRF token (X-CSRF-Token)",
        )
        .at("X-CSRF-Token"),
    ])
}
