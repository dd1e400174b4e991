//! The one error type of the REST API, and its JSON envelope:
//! `{ "error": "…", "code": "SCREAMING_CODE", "details": [...] }`.

use http::StatusCode;
use serde::Serialize;

use crate::store::StoreError;

/// One problem with a request body or query, in the spirit of the spec's
/// "zod issues": where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    /// The field's path, e.g. `["metadata", "plan"]`; empty for the whole body.
    pub path: Vec<String>,
    pub message: String,
}

impl FieldIssue {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path
                .split('.')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Missing API key: send `Authorization: Bearer fg_…` or `x-api-key`")]
    MissingApiKey,
    #[error("Invalid API key")]
    InvalidApiKey,
    #[error("Tenant account is suspended")]
    TenantSuspended,
    #[error("Malformed JSON body: {0}")]
    MalformedJson(String),
    #[error("Validation failed")]
    Validation(Vec<FieldIssue>),
    #[error("Request body too large: the limit for this route is {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("Unknown consent version")]
    UnknownConsentVersion,
    #[error("consent_text_hash does not match the registered text of this consent version")]
    ConsentHashMismatch,
    #[error("User not found")]
    UserNotFound,
    #[error("Consent record not found")]
    ConsentNotFound,
    #[error("Not found")]
    RouteNotFound,
    #[error("Method not allowed")]
    MethodNotAllowed,
    #[error("Service unavailable")]
    Unavailable,
    /// Details go to the log, never to the client.
    #[error("Internal server error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => ApiError::Unavailable,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            MissingApiKey | InvalidApiKey => StatusCode::UNAUTHORIZED,
            TenantSuspended => StatusCode::FORBIDDEN,
            MalformedJson(_) | Validation(_) | UnknownConsentVersion | ConsentHashMismatch => {
                StatusCode::BAD_REQUEST
            }
            PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UserNotFound | ConsentNotFound | RouteNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            MissingApiKey => "MISSING_API_KEY",
            InvalidApiKey => "INVALID_API_KEY",
            TenantSuspended => "TENANT_SUSPENDED",
            MalformedJson(_) => "INVALID_JSON",
            Validation(_) => "VALIDATION_FAILED",
            PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            UnknownConsentVersion => "INVALID_CONSENT_VERSION",
            ConsentHashMismatch => "CONSENT_HASH_MISMATCH",
            UserNotFound => "USER_NOT_FOUND",
            ConsentNotFound => "CONSENT_NOT_FOUND",
            RouteNotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Unavailable => "SERVICE_UNAVAILABLE",
            Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The JSON envelope.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        if let ApiError::Validation(issues) = self {
            body["details"] = serde_json::to_value(issues).unwrap_or_default();
        }
        body
    }
}
