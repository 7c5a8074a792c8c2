//! Electronic signatures (21 CFR Part 11 §11.50, §11.200): for the operations a plant
//! configures (`signatures`: QC disposition, recall closure), the request carries the signer's
//! name and password again and what the signature means; the password is checked like a
//! sign-in (failures count towards the lockout and are audited), the signer must hold the
//! permission the operation needs — and be the signed-in person, when a person is signed in —
//! and the signature (signer, meaning, server time) is kept in the operation's audit record.
//! A missing or refused signature records nothing.

use serde::{Deserialize, Serialize};
use threadline_domain::FieldError;
use threadline_domain::access::Permission;
use threadline_domain::audit::Signature;

use crate::AppState;
use crate::auth::{Actor, Principal, SignInError, check_password};
use crate::error::AppError;

/// An operation that can be configured to need a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signed {
    /// `POST /api/v1/ops/disposition`: a QC disposition (release, rework, scrap…).
    Disposition,
    /// `POST /api/v1/recalls/{code}/close`.
    RecallClose,
}

impl Signed {
    pub const ALL: [Signed; 2] = [Signed::Disposition, Signed::RecallClose];

    pub fn as_str(self) -> &'static str {
        match self {
            Signed::Disposition => "disposition",
            Signed::RecallClose => "recall_close",
        }
    }

    pub fn parse(s: &str) -> Option<Signed> {
        Signed::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// The operations a plant requires a signature for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignedOps(u8);

impl SignedOps {
    pub const NONE: SignedOps = SignedOps(0);

    #[must_use]
    pub fn with(self, op: Signed) -> SignedOps {
        SignedOps(self.0 | (1 << op as u8))
    }

    pub fn contains(self, op: Signed) -> bool {
        self.0 & (1 << op as u8) != 0
    }
}

/// What a request carries to sign: `{"user", "password", "meaning"}`.
#[derive(Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureRequest {
    /// The signer (a user name).
    pub user: String,
    /// The signer's password, entered again.
    pub password: String,
    /// What the signature means: `approval`, `release`, `responsibility`, ….
    pub meaning: String,
}

impl std::fmt::Debug for SignatureRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureRequest")
            .field("user", &self.user)
            .field("meaning", &self.meaning)
            .finish_non_exhaustive()
    }
}

fn refused(field: &str, message: impl Into<String>) -> AppError {
    AppError::Forbidden(vec![
        FieldError::new("signature_refused", message).at(field),
    ])
}

/// The signature `op` needs, checked; `None` when the plant does not require one for `op` (a
/// signature sent anyway is then ignored).
pub async fn signature(
    app: &AppState,
    actor: &Actor,
    op: Signed,
    needs: Permission,
    given: Option<&SignatureRequest>,
) -> Result<Option<Signature>, AppError> {
    if !app.auth.signatures.contains(op) {
        return Ok(None);
    }
    let Some(s) = given else {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "signature_required",
                format!(
                    "{} needs an electronic signature: {{\"user\", \"password\", \"meaning\"}}",
                    op.as_str()
                ),
            )
            .at("signature"),
        ]));
    };
    let meaning = s.meaning.trim();
    if meaning.is_empty() || meaning.chars().count() > 200 {
        return Err(AppError::Rule(vec![
            FieldError::new(
                "invalid_meaning",
                "say what the signature means (at most 200 characters)",
            )
            .at("signature.meaning"),
        ]));
    }
    if let Principal::User(me) = &actor.principal
        && *me != s.user
    {
        return Err(refused(
            "signature.user",
            "a signed-in person signs with their own name",
        ));
    }
    let mismatch = || {
        refused(
            "signature.password",
            "the signer's name and password do not match",
        )
    };
    let Some(user) = app.store.user(&s.user).await? else {
        // The same work and answer as a wrong password.
        let _ = crate::auth::verify_password(None, s.password.clone()).await;
        return Err(mismatch());
    };
    let address = None;
    match check_password(app, &user, &s.password, address).await {
        Ok(()) => {}
        Err(SignInError::InvalidCredentials) => return Err(mismatch()),
        Err(SignInError::Locked(until)) => {
            return Err(refused(
                "signature.user",
                format!("the signer is locked until {}", until.to_rfc3339()),
            ));
        }
        Err(SignInError::Disabled) => {
            return Err(refused("signature.user", "the signer's account is locked"));
        }
        Err(e @ SignInError::Throttled(..)) => return Err(e.into()),
        Err(SignInError::Failed(e)) => return Err(e),
    }
    if user.disabled {
        return Err(refused("signature.user", "the signer's account is locked"));
    }
    if !crate::auth::permissions_of(app, &user.roles)
        .await?
        .contains(needs)
    {
        return Err(refused(
            "signature.user",
            format!(
                "{} lacks the permission {needs} this signature needs",
                s.user
            ),
        ));
    }
    Ok(Some(Signature {
        signer: user.name,
        meaning: meaning.to_owned(),
        signed_at: app.clock.now(),
    }))
}
