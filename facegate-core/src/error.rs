//! The one error type of the REST API, and its JSON envelope:
//! `{ "error": "…", "code": "SCREAMING_CODE", "details": [...] }`.

use http::StatusCode;
use serde::Serialize;

use crate::providers::face::FaceError;
use crate::store::StoreError;

/// One problem with a request body or query, in the spirit of the spec's
/// "zod issues": where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    /// A client (browser) key on a route for server keys.
    #[error("This API key cannot call this route: it needs a {required} key")]
    InsufficientScope { required: &'static str },
    #[error("Requests with this API key are not allowed from this origin")]
    ForbiddenOrigin,
    #[error("Requests with this API key must come from a web page (no Origin or Referer)")]
    EmptyOrigin,
    #[error("Another user of this application already has this external_id")]
    ExternalIdTaken,
    #[error("Malformed JSON body: {0}")]
    MalformedJson(String),
    #[error("Validation failed")]
    Validation(Vec<FieldIssue>),
    #[error("Request body too large: the limit for this route is {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("The enrollment payload must be at most {limit} bytes of JSON")]
    EnrollmentPayloadTooLarge { limit: usize },
    #[error("Unknown consent version")]
    UnknownConsentVersion,
    #[error("consent_text_hash does not match the registered text of this consent version")]
    ConsentHashMismatch,
    #[error("Invalid image: {0}")]
    InvalidImage(String),
    #[error("Images too large: {0}")]
    ImagesTooLarge(String),
    /// Enroll and match need a face (422).
    #[error("No face detected in image")]
    NoFaceDetected,
    /// Detect-attributes answers 400 for a frame without a face, per the spec.
    #[error("No face detected in image")]
    NoFaceInImage,
    #[error("More than one face in image: send a photo of one person")]
    ManyFaces,
    #[error("A consent_id is required: record consent with POST /v1/consent first")]
    ConsentRequired,
    #[error("The consent record is unknown, revoked or already used by another user")]
    ConsentInvalid,
    #[error("This face is already enrolled")]
    UserAlreadyEnrolled,
    /// Re-enroll from a live session whose face is not the user's.
    #[error(
        "This face does not match the user's enrolled face: send force: true to replace it anyway"
    )]
    FaceMismatch,
    #[error("Enrollment of minors is not allowed")]
    MinorsNotAllowed,
    #[error("No face engine is configured on this server")]
    FaceEngineUnavailable,
    #[error("The face engine is busy; retry shortly")]
    EngineBusy,
    #[error("User not found")]
    UserNotFound,
    #[error("Consent record not found")]
    ConsentNotFound,
    #[error("Deletion receipt not found")]
    ReceiptNotFound,
    #[error("Liveness session not found")]
    LivenessSessionNotFound,
    #[error("The liveness session has expired; start a new one")]
    LivenessSessionExpired,
    #[error("The liveness session was already used")]
    LivenessSessionConsumed,
    #[error("The liveness session has no result yet: upload its frames first")]
    LivenessNotCompleted,
    #[error("Frames were already submitted for this liveness session")]
    LivenessAlreadyCompleted,
    #[error("Liveness check failed")]
    LivenessFailed,
    #[error("Too many failed attempts; retry later")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("Too many requests; retry later")]
    RateLimited { retry_after_secs: u64 },
    /// Enroll (400): the tenant requires a PIN and none was sent.
    #[error("This application requires a PIN: send `pin` (4 to 16 digits)")]
    PinRequiredAtEnroll,
    /// Verify (401): the face matched, the PIN must confirm it.
    #[error("Enter your PIN to confirm who you are")]
    PinRequired,
    #[error("Wrong PIN")]
    WrongPinCode { attempts_remaining: u32 },
    #[error("This PIN is already taken: choose another")]
    UniquePinRequired,
    #[error("The configured face engine does not support {0}")]
    EngineUnsupported(&'static str),
    #[error("This user is suspended")]
    UserSuspended,
    #[error("This user is locked")]
    UserLocked,
    #[error("Invalid verification token")]
    InvalidVerificationToken,
    #[error("This verification token was already exchanged for a session")]
    VerificationTokenUsed,
    #[error("Invalid refresh token")]
    InvalidRefreshToken,
    #[error("This refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    #[error("Session not found")]
    SessionNotFound,
    #[error("Session provider `{0}` is not configured on this server")]
    ProviderNotImplemented(String),
    /// Details go to the log, not to the client.
    #[error("The session provider did not answer as expected")]
    ProviderFailed(String),
    /// Verify: the login's risk score reached the tenant's block threshold.
    #[error("This sign-in was blocked as too risky")]
    RiskBlocked,
    /// Verify: the user's face is past its rotation and grace period.
    #[error("Your enrolled face has expired: enroll again from a live session")]
    ReEnrollmentRequired,
    /// Refresh: the session is past its re-verification deadline.
    #[error("This session must be re-verified with a new liveness check")]
    ReverifyRequired,
    #[error("Step-up not found")]
    StepUpNotFound,
    #[error("The step-up has expired; sign in again")]
    StepUpExpired,
    #[error("The step-up was already completed")]
    StepUpConsumed,
    /// The step-up's liveness check showed someone else.
    #[error("The step-up check did not confirm the same person")]
    StepUpFailed,
    /// Re-verification showed someone else: the session is revoked.
    #[error("The face does not match this session's user; the session has been revoked")]
    ReverifyFaceMismatch,
    #[error("Handoff not found")]
    HandoffNotFound,
    /// The spec's 410: ten minutes after creation.
    #[error("Handoff session expired")]
    HandoffExpired,
    #[error("The handoff was already completed")]
    HandoffCompleted,
    #[error("The handoff was declined on the phone")]
    HandoffDeclined,
    /// Another phone opened this handoff first.
    #[error("This handoff is in use on another device")]
    HandoffInUse,
    #[error("Too many attempts for this handoff; start a new one")]
    HandoffAttemptsExhausted,
    /// Status and socket need the `desktop_secret` of the handoff's answer.
    #[error("Missing or invalid desktop secret")]
    InvalidHandoffSecret,
    /// The spec's 503 "signal ingestion unavailable": this instance is
    /// writing as many batches as it takes at once.
    #[error("Signal ingestion is busy; retry shortly")]
    SignalsUnavailable,
    #[error("Webhook endpoint not found")]
    WebhookNotFound,
    #[error("Webhook delivery not found")]
    DeliveryNotFound,
    /// A tenant's endpoints are bounded (`WebhookConfig::max_endpoints`).
    #[error("This tenant has {max} webhook endpoints, the most it may have")]
    WebhookLimitReached { max: u32 },
    /// The tenant's plan does not include what the route serves.
    #[error("The {plan} plan does not include {feature}")]
    FeatureNotInPlan { feature: &'static str, plan: String },
    /// The plan's hard limit of monthly active users is reached: new users
    /// wait for the next month (or a bigger plan).
    #[error("This application has reached its plan's limit of {limit} monthly active users")]
    UsageLimitReached {
        limit: u64,
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// The spec's 503 `billing_not_configured`: no billing provider.
    #[error("billing_not_configured")]
    BillingNotConfigured,
    /// The billing portal is for tenants that checked out once.
    #[error("This tenant has no billing account yet: check out a plan first")]
    NoBillingAccount,
    #[error("Invalid webhook signature")]
    InvalidWebhookSignature,
    /// Checkout while a subscription runs: plans change in the portal.
    #[error("This tenant already has a subscription: change its plan in the billing portal")]
    SubscriptionExists,
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

impl From<FaceError> for ApiError {
    fn from(err: FaceError) -> Self {
        match err {
            FaceError::InvalidImage(reason) => ApiError::InvalidImage(reason),
            FaceError::TooLarge(reason) => ApiError::ImagesTooLarge(reason),
            FaceError::NoFace => ApiError::NoFaceDetected,
            FaceError::ManyFaces => ApiError::ManyFaces,
            FaceError::Busy => ApiError::EngineBusy,
            FaceError::Unsupported(what) => ApiError::EngineUnsupported(what),
            other => ApiError::Internal(format!("face engine: {other}")),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            MissingApiKey
            | InvalidApiKey
            | InvalidVerificationToken
            | VerificationTokenUsed
            | InvalidRefreshToken
            | RefreshTokenReused
            | PinRequired
            | ReverifyRequired
            | InvalidHandoffSecret
            | WrongPinCode { .. } => StatusCode::UNAUTHORIZED,
            TenantSuspended
            | InsufficientScope { .. }
            | ForbiddenOrigin
            | EmptyOrigin
            | MinorsNotAllowed
            | LivenessFailed
            | UserSuspended
            | UserLocked
            | RiskBlocked
            | ReEnrollmentRequired
            | StepUpFailed
            | ReverifyFaceMismatch
            | FeatureNotInPlan { .. } => StatusCode::FORBIDDEN,
            MalformedJson(_)
            | Validation(_)
            | UnknownConsentVersion
            | ConsentHashMismatch
            | InvalidImage(_)
            | NoFaceInImage
            | ConsentRequired
            | ConsentInvalid
            | LivenessSessionExpired
            | LivenessSessionConsumed
            | LivenessNotCompleted
            | LivenessAlreadyCompleted
            | StepUpExpired
            | StepUpConsumed
            | PinRequiredAtEnroll
            | InvalidWebhookSignature => StatusCode::BAD_REQUEST,
            TooManyAttempts { .. }
            | RateLimited { .. }
            | HandoffAttemptsExhausted
            | UsageLimitReached { .. } => StatusCode::TOO_MANY_REQUESTS,
            HandoffExpired => StatusCode::GONE,
            HandoffCompleted
            | HandoffDeclined
            | HandoffInUse
            | WebhookLimitReached { .. }
            | SubscriptionExists => StatusCode::CONFLICT,
            EngineUnsupported(_) | ProviderNotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ProviderFailed(_) => StatusCode::BAD_GATEWAY,
            NoFaceDetected | ManyFaces => StatusCode::UNPROCESSABLE_ENTITY,
            UserAlreadyEnrolled | UniquePinRequired | ExternalIdTaken | FaceMismatch => {
                StatusCode::CONFLICT
            }
            FaceEngineUnavailable | EngineBusy | SignalsUnavailable | BillingNotConfigured => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PayloadTooLarge { .. } | EnrollmentPayloadTooLarge { .. } | ImagesTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            UserNotFound
            | ConsentNotFound
            | ReceiptNotFound
            | LivenessSessionNotFound
            | SessionNotFound
            | StepUpNotFound
            | HandoffNotFound
            | WebhookNotFound
            | DeliveryNotFound
            | NoBillingAccount
            | RouteNotFound => StatusCode::NOT_FOUND,
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
            InsufficientScope { .. } => "INSUFFICIENT_SCOPE",
            ForbiddenOrigin => "FORBIDDEN_ORIGIN",
            EmptyOrigin => "EMPTY_ORIGIN",
            ExternalIdTaken => "EXTERNAL_ID_TAKEN",
            MalformedJson(_) => "INVALID_JSON",
            Validation(_) => "VALIDATION_FAILED",
            PayloadTooLarge { .. } | EnrollmentPayloadTooLarge { .. } | ImagesTooLarge(_) => {
                "PAYLOAD_TOO_LARGE"
            }
            UnknownConsentVersion => "INVALID_CONSENT_VERSION",
            ConsentHashMismatch => "CONSENT_HASH_MISMATCH",
            InvalidImage(_) => "INVALID_IMAGE_FORMAT",
            NoFaceDetected | NoFaceInImage => "NO_FACE_DETECTED",
            ManyFaces => "MANY_FACES",
            ConsentRequired => "CONSENT_REQUIRED",
            ConsentInvalid => "INVALID_CONSENT",
            UserAlreadyEnrolled => "USER_ALREADY_ENROLLED",
            FaceMismatch => "FACE_MISMATCH",
            MinorsNotAllowed => "MINORS_NOT_ALLOWED",
            FaceEngineUnavailable => "FACE_ENGINE_UNAVAILABLE",
            EngineBusy => "ENGINE_BUSY",
            UserNotFound => "USER_NOT_FOUND",
            ConsentNotFound => "CONSENT_NOT_FOUND",
            ReceiptNotFound => "RECEIPT_NOT_FOUND",
            LivenessSessionNotFound => "LIVENESS_SESSION_NOT_FOUND",
            LivenessSessionExpired => "LIVENESS_SESSION_EXPIRED",
            LivenessSessionConsumed => "LIVENESS_SESSION_CONSUMED",
            LivenessNotCompleted => "LIVENESS_NOT_COMPLETED",
            LivenessAlreadyCompleted => "LIVENESS_ALREADY_COMPLETED",
            LivenessFailed => "LIVENESS_FAILED",
            TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            RateLimited { .. } => "RATE_LIMITED",
            PinRequiredAtEnroll | PinRequired => "PIN_REQUIRED",
            WrongPinCode { .. } => "WRONG_PIN_CODE",
            UniquePinRequired => "UNIQUE_PIN_REQUIRED",
            EngineUnsupported(_) => "NOT_SUPPORTED_BY_ENGINE",
            UserSuspended => "USER_SUSPENDED",
            UserLocked => "USER_LOCKED",
            InvalidVerificationToken | VerificationTokenUsed => "INVALID_VERIFICATION_TOKEN",
            InvalidRefreshToken => "INVALID_REFRESH_TOKEN",
            RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            SessionNotFound => "SESSION_NOT_FOUND",
            ProviderNotImplemented(_) => "PROVIDER_NOT_IMPLEMENTED",
            ProviderFailed(_) => "PROVIDER_ERROR",
            RiskBlocked => "RISK_BLOCKED",
            ReEnrollmentRequired => "RE_ENROLLMENT_REQUIRED",
            ReverifyRequired => "REVERIFY_REQUIRED",
            StepUpNotFound => "STEP_UP_NOT_FOUND",
            StepUpExpired => "STEP_UP_EXPIRED",
            StepUpConsumed => "STEP_UP_CONSUMED",
            StepUpFailed => "STEP_UP_FAILED",
            ReverifyFaceMismatch => "REVERIFY_FACE_MISMATCH",
            HandoffNotFound => "HANDOFF_NOT_FOUND",
            WebhookNotFound => "WEBHOOK_NOT_FOUND",
            SignalsUnavailable => "SIGNAL_INGESTION_UNAVAILABLE",
            DeliveryNotFound => "DELIVERY_NOT_FOUND",
            WebhookLimitReached { .. } => "WEBHOOK_LIMIT_REACHED",
            HandoffExpired => "HANDOFF_EXPIRED",
            HandoffCompleted => "HANDOFF_ALREADY_COMPLETED",
            HandoffDeclined => "HANDOFF_DECLINED",
            HandoffInUse => "HANDOFF_IN_USE",
            HandoffAttemptsExhausted => "HANDOFF_ATTEMPTS_EXHAUSTED",
            InvalidHandoffSecret => "INVALID_HANDOFF_SECRET",
            FeatureNotInPlan { .. } => "FEATURE_NOT_IN_PLAN",
            UsageLimitReached { .. } => "USAGE_LIMIT_REACHED",
            BillingNotConfigured => "BILLING_NOT_CONFIGURED",
            NoBillingAccount => "NO_BILLING_ACCOUNT",
            InvalidWebhookSignature => "INVALID_SIGNATURE",
            SubscriptionExists => "SUBSCRIPTION_EXISTS",
            RouteNotFound => "NOT_FOUND",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Unavailable => "SERVICE_UNAVAILABLE",
            Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// Seconds a client should wait before retrying, sent as `Retry-After`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::EngineBusy | ApiError::SignalsUnavailable => Some(1),
            ApiError::TooManyAttempts { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            ApiError::UsageLimitReached { resets_at, .. } => {
                let left = (*resets_at - crate::clock::now()).num_seconds();
                Some(u64::try_from(left).unwrap_or(0).max(1))
            }
            _ => None,
        }
    }

    /// The JSON envelope.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        match self {
            ApiError::Validation(issues) => {
                body["details"] = serde_json::to_value(issues).unwrap_or_default();
            }
            ApiError::WrongPinCode { attempts_remaining } => {
                body["attempts_remaining"] = (*attempts_remaining).into();
            }
            ApiError::InsufficientScope { required } => {
                body["required_scope"] = (*required).into();
            }
            ApiError::FeatureNotInPlan { feature, plan } => {
                body["feature"] = (*feature).into();
                body["plan"] = plan.as_str().into();
            }
            ApiError::UsageLimitReached { limit, resets_at } => {
                body["mau_limit"] = (*limit).into();
                body["resets_at"] = crate::api::wire::timestamp(resets_at).into();
            }
            _ => {}
        }
        body
    }
}
