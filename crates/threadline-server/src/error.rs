//! The one error type of the HTTP surface. Every refusal becomes
//! `{"error": {"code", "message", "field"}, "errors": [...]}` with the status the kind of
//! problem deserves; internal failures are logged and never leak their text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use threadline_domain::error::FieldError;
use threadline_store::StoreError;

#[derive(Debug)]
pub enum AppError {
    /// The request cannot be read: bad JSON, wrong types, unknown fields. 400.
    Malformed(Vec<FieldError>),
    /// Readable, but breaks a rule. 422.
    Rule(Vec<FieldError>),
    /// Would duplicate something that exists. 409.
    Conflict(Vec<FieldError>),
    /// No credentials, or credentials that do not hold (unknown or revoked token, wrong
    /// password, expired session). 401, with `WWW-Authenticate: Bearer`.
    Unauthorized(FieldError),
    /// Signed in, but lacking a permission (or the CSRF token). 403.
    Forbidden(Vec<FieldError>),
    /// 404.
    NotFound(String),
    /// A precondition header is missing (e.g. `If-Match` on a change). 428.
    PreconditionRequired(FieldError),
    /// The body is larger than the endpoint takes. 413.
    TooLarge(FieldError),
    /// Too many attempts; try again in this many seconds. 429, with `Retry-After`.
    TooManyRequests(FieldError, u64),
    /// 500; the text goes to the log only.
    Internal(String),
}

impl AppError {
    pub fn malformed(
        code: &'static str,
        message: impl Into<String>,
        field: Option<String>,
    ) -> Self {
        let mut e = FieldError::new(code, message);
        e.field = field;
        AppError::Malformed(vec![e])
    }
}

impl AppError {
    /// The sentence a person reads about this error (internal details stay in the log).
    pub fn first_message(&self) -> String {
        match self {
            AppError::Malformed(v) | AppError::Rule(v) | AppError::Conflict(v) => {
                v.first().map(|e| e.message.clone()).unwrap_or_default()
            }
            AppError::NotFound(m) => m.clone(),
            AppError::PreconditionRequired(f)
            | AppError::Unauthorized(f)
            | AppError::TooLarge(f)
            | AppError::TooManyRequests(f, _) => f.message.clone(),
            AppError::Forbidden(v) => v.first().map(|e| e.message.clone()).unwrap_or_default(),
            AppError::Internal(_) => String::new(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(v)
                if !v.is_empty()
                    && v.iter().all(|f| threadline_store::is_conflict_code(f.code)) =>
            {
                AppError::Conflict(v)
            }
            StoreError::Invalid(v) => AppError::Rule(v),
            StoreError::Conflict(f) => AppError::Conflict(vec![f]),
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} does not exist")),
            StoreError::Schema(m) | StoreError::Database(m) => AppError::Internal(m),
        }
    }
}

impl AppError {
    /// Every problem, as the body of the refusal lists them (internal failures are logged and
    /// answered with a general sentence).
    /// The status the API answers with, and every problem.
    pub fn into_status_and_errors(self) -> (StatusCode, Vec<FieldError>) {
        let (status, errors, _) = self.parts();
        (status, errors)
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.parts().1
    }

    /// The status, the problems, and whether to challenge for credentials.
    fn parts(self) -> (StatusCode, Vec<FieldError>, bool) {
        self.parts_and_retry().0
    }

    /// The parts, and when a client that was told to slow down may try again.
    fn parts_and_retry(self) -> ((StatusCode, Vec<FieldError>, bool), Option<u64>) {
        let mut retry = None;
        let mut challenge = false;
        let (status, errors) = match self {
            AppError::Malformed(v) => (StatusCode::BAD_REQUEST, v),
            AppError::Rule(v) => (StatusCode::UNPROCESSABLE_ENTITY, v),
            AppError::Conflict(v) => (StatusCode::CONFLICT, v),
            AppError::Unauthorized(f) => {
                challenge = true;
                (StatusCode::UNAUTHORIZED, vec![f])
            }
            AppError::Forbidden(v) => (StatusCode::FORBIDDEN, v),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, vec![FieldError::new("not_found", m)]),
            AppError::PreconditionRequired(f) => (StatusCode::PRECONDITION_REQUIRED, vec![f]),
            AppError::TooLarge(f) => (StatusCode::PAYLOAD_TOO_LARGE, vec![f]),
            AppError::TooManyRequests(f, secs) => {
                retry = Some(secs);
                (StatusCode::TOO_MANY_REQUESTS, vec![f])
            }
            AppError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    vec![FieldError::new(
                        "internal",
                        "the server failed to handle this request; it has been logged",
                    )],
                )
            }
        };
        ((status, errors, challenge), retry)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let ((status, errors, challenge), retry) = self.parts_and_retry();
        let first = errors
            .first()
            .cloned()
            .unwrap_or_else(|| FieldError::new("unknown", "unknown error"));
        let mut resp = (
            status,
            axum::Json(json!({ "error": first, "errors": errors })),
        )
            .into_response();
        if challenge {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"threadline\""),
            );
        }
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
