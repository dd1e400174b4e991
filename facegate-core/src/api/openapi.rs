//! The OpenAPI 3.1 document, `GET /v1/openapi.json`. Every route of the
//! route table is described by one exhaustive match over [`Route`] (a new
//! route does not compile until it is described here); request and response
//! schemas are derived from the handlers' own wire types, and each error
//! answer from [`ApiError`]'s own status and code. Built once, served as bytes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponseBuilder,
};
use utoipa::{IntoParams, ToSchema};

use super::handoff::PhoneStep;
use super::routes::{ROUTE_TABLE, Route, sample_path};
use super::{
    analytics, billing, consent, deletions, demo, faces, handoff, health, liveness, policy,
    sessions, signals, sync, threat_intel, usage, users, verify, webhooks,
};
use crate::error::{ApiError, FieldIssue};
use crate::policy::PolicyType;

/// The document as served: JSON, built on first use.
pub(super) fn serve() -> Response<Bytes> {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        Bytes::from(serde_json::to_vec(&document()).expect("the OpenAPI document serialises"))
    });
    let mut response = Response::new(body.clone());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// The schema of a string that is one of `values` (for types that serialise
/// themselves by name).
pub(crate) fn string_enum<const N: usize>(values: [&'static str; N]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .into()
}

/// Who may call an operation, and with what.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No credentials: probes, public keys, the SDK, this document.
    Public,
    /// A server key (the host's backend).
    Server,
    /// A server key, or a client (browser) key from one of its origins.
    AnyKey,
    /// A server key; a client key too where the tenant allows client match.
    Match,
    /// Keyless: the handoff's token in the path is the phone's credential.
    HandoffToken,
    /// Keyless: the billing provider's signature header is the credential.
    Signature,
    /// Keyless, on the built-in demo tenant (there only when the host mounts a demo).
    Demo,
}

const SERVER_KEY: &str = "server_key";
const CLIENT_KEY: &str = "client_key";
const API_KEY_HEADER: &str = "api_key_header";
const FACEGATE_TOKEN: &str = "facegate_token";

/// A link to another operation: its method and template, and each of its
/// parameters with the JSON pointer into this answer it is taken from.
type Link = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// One operation as documented.
struct Op {
    summary: &'static str,
    access: Access,
    /// The body's schema, and whether it may be left out.
    body: Option<(RefOr<Schema>, bool)>,
    params: Vec<Parameter>,
    status: StatusCode,
    media_type: &'static str,
    answer: Option<RefOr<Schema>>,
    /// Operations the success answer leads to: (method, template, and each
    /// parameter with the JSON pointer into the answer it is taken from).
    links: Vec<Link>,
    /// Other answers of the handler's own types, by status.
    also: Vec<(StatusCode, RefOr<Schema>)>,
    errors: Vec<ApiError>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

fn op(summary: &'static str, access: Access) -> Op {
    let mut errors = vec![
        ApiError::RateLimited {
            retry_after_secs: 1,
        },
        ApiError::Unavailable,
    ];
    if matches!(access, Access::Server | Access::AnyKey | Access::Match) {
        errors.extend([
            ApiError::MissingApiKey,
            ApiError::InvalidApiKey,
            ApiError::TenantSuspended,
            ApiError::ForbiddenOrigin,
            ApiError::EmptyOrigin,
        ]);
    }
    if matches!(access, Access::Server | Access::Match) {
        errors.push(ApiError::InsufficientScope { required: "server" });
    }
    if access == Access::Demo {
        // Off (or its tenant gone), or its tenant suspended by the host.
        errors.extend([ApiError::RouteNotFound, ApiError::TenantSuspended]);
    }
    if !matches!(access, Access::Public) {
        // A body is read (within the route's limit) before the route looks
        // at it, whether it takes one or not.
        errors.extend([
            ApiError::PayloadTooLarge { limit: 0 },
            ApiError::MalformedJson(String::new()),
        ]);
    }
    Op {
        summary,
        access,
        body: None,
        params: Vec::new(),
        status: StatusCode::OK,
        media_type: "application/json",
        answer: None,
        links: Vec::new(),
        also: Vec::new(),
        errors,
        schemas: Vec::new(),
    }
}

impl Op {
    /// `T`'s schema among the components, by reference.
    fn schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        self.schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.schemas);
        RefOr::Ref(Ref::from_schema_name(T::name()))
    }

    /// A JSON body of type `T`, with the errors of reading one.
    fn body<T: ToSchema>(self) -> Self {
        self.some_body::<T>(false)
    }

    /// A JSON body of type `T` that may be left out (empty).
    fn optional_body<T: ToSchema>(self) -> Self {
        self.some_body::<T>(true)
    }

    fn some_body<T: ToSchema>(mut self, optional: bool) -> Self {
        self.body = Some((self.schema_of::<T>(), optional));
        self.errors.extend([
            ApiError::MalformedJson(String::new()),
            ApiError::Validation(Vec::new()),
            ApiError::PayloadTooLarge { limit: 0 },
        ]);
        self
    }

    /// Query parameters from `T`, with the error of a bad one.
    fn query<T: IntoParams>(mut self) -> Self {
        self.params
            .extend(T::into_params(|| Some(ParameterIn::Query)));
        self.errors.push(ApiError::Validation(Vec::new()));
        self
    }

    /// An optional request header, its value a string matching `pattern`.
    fn header(mut self, name: &str, description: &str, pattern: &str) -> Self {
        self.params.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(pattern)),
                ))
                .build(),
        );
        self.errors.push(ApiError::Validation(Vec::new()));
        self
    }

    /// The headers that name the caller's device (see `liveness::Device`).
    fn device_headers(self) -> Self {
        self.header(
            "x-device-id",
            "The device, for lockouts and risk; a fresh one per request without it.",
            "^[A-Za-z0-9_.:-]{1,128}$",
        )
        .header(
            "x-device-fingerprint",
            "A hex SHA-256 the client derives from the device, bound into its tokens.",
            "^[0-9A-Fa-f]{64}$",
        )
    }

    /// A JSON answer of type `T`, 200.
    fn ok<T: ToSchema>(self) -> Self {
        self.answers::<T>(StatusCode::OK)
    }

    /// A JSON answer, 200, of either type (they must not both match).
    fn ok_either<A: ToSchema, B: ToSchema>(mut self) -> Self {
        let a = self.schema_of::<A>();
        let b = self.schema_of::<B>();
        self.answer = Some(OneOfBuilder::new().item(a).item(b).into());
        self.status = StatusCode::OK;
        self
    }

    /// A JSON answer of type `T` with `status`.
    fn answers<T: ToSchema>(mut self, status: StatusCode) -> Self {
        self.answer = Some(self.schema_of::<T>());
        self.status = status;
        self
    }

    /// A JSON answer of type `T` with another `status` (instead of the
    /// error envelope there).
    fn also<T: ToSchema>(mut self, status: StatusCode) -> Self {
        let schema = self.schema_of::<T>();
        self.also.push((status, schema));
        self
    }

    /// A WebSocket upgrade: 101, no body.
    fn switches_protocols(mut self) -> Self {
        self.status = StatusCode::SWITCHING_PROTOCOLS;
        self.answer = None;
        self
    }

    /// A JSON object answer of no schema here, 200.
    fn json_object(mut self) -> Self {
        self.answer = Some(ObjectBuilder::new().schema_type(Type::Object).into());
        self
    }

    /// A text answer (a page, a script) of `media_type`, 200.
    fn text(mut self, media_type: &'static str) -> Self {
        self.answer = Some(ObjectBuilder::new().schema_type(Type::String).into());
        self.media_type = media_type;
        self
    }

    /// The success answer leads to `method template`, each parameter taken
    /// from the answer at its JSON pointer; a parameter named `x-…` is a
    /// header (an OpenAPI link: what stateful tests follow).
    fn link(
        mut self,
        method: &'static str,
        template: &'static str,
        params: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.links.push((method, template, params));
        self
    }

    /// The errors a handler may answer besides those of its access and input.
    fn errors(mut self, errors: impl IntoIterator<Item = ApiError>) -> Self {
        self.errors.extend(errors);
        self
    }

    /// The errors of reading a photo and finding one face in it.
    fn image_errors(self) -> Self {
        self.errors([
            ApiError::InvalidImage(String::new()),
            ApiError::ImagesTooLarge(String::new()),
            ApiError::NoFaceDetected,
            ApiError::ManyFaces,
            ApiError::FaceEngineUnavailable,
            ApiError::EngineBusy,
        ])
    }
}

/// The operation for a route. Demo routes answer as the routes they stand for.
fn describe(route: &Route) -> Op {
    use Access::*;
    use ApiError as E;
    match route {
        Route::Health => op("Health of the service and its dependencies", Public)
            .ok::<health::HealthResponse>()
            .also::<health::HealthResponse>(StatusCode::SERVICE_UNAVAILABLE),
        Route::Jwks => op(
            "The public keys FaceGate tokens are signed with (JWKS)",
            Public,
        )
        .ok::<crate::token::Jwks>(),
        Route::OpenApi => op("This document", Public).json_object(),
        Route::Sdk(file) => op("The browser SDK, or its types", Public).text(file.media_type()),
        Route::ConsentVersions => op("Consent versions the tenant accepts", AnyKey)
            .ok::<consent::ConsentVersionsResponse>(),
        Route::RecordConsent => op("Record a user's consent to biometric processing", AnyKey)
            .body::<consent::RecordConsentRequest>()
            .answers::<consent::RecordConsentResponse>(StatusCode::CREATED)
            .link("DELETE", "/v1/consent/:id", &[("id", "/consent_id")])
            .errors(consent_errors()),
        Route::RevokeConsent(_) => op(
            "Revoke a consent: the user and their biometric data are deleted, with a receipt",
            Server,
        )
        .ok::<consent::RevokeConsentResponse>()
        .errors([E::ConsentNotFound]),
        Route::ListUsers => op("List users, oldest first", Server)
            .query::<users::ListUsersQuery>()
            .ok::<users::ListUsersResponse>()
            .link("GET", "/v1/users/:id", &[("id", "/users/0/id")])
            .link("PATCH", "/v1/users/:id/status", &[("id", "/users/0/id")])
            .link("DELETE", "/v1/users/:id", &[("id", "/users/0/id")]),
        Route::GetUser(_) => op("A user with their enrollments", Server)
            .ok::<users::UserDetailResponse>()
            .errors([E::UserNotFound]),
        Route::DeleteUser(_) => op(
            "Delete a user and their biometric data, with a signed receipt",
            Server,
        )
        .query::<users::DeleteUserQuery>()
        .ok::<deletions::ReceiptView>()
        .link("GET", "/v1/deletions/:receipt_id", &[("receipt_id", "/receipt_id")])
        .errors([E::UserNotFound]),
        Route::SetUserStatus(_) => op("Suspend, lock or reactivate a user", Server)
            .body::<users::SetStatusRequest>()
            .ok::<users::UserView>()
            .errors([E::UserNotFound]),
        Route::ReEnroll(_) => op(
            "Replace a user's face (a client key: the user's own live face, with a verification token)",
            AnyKey,
        )
        .body::<faces::ReEnrollRequest>()
        .errors(live_session_errors())
        .ok::<faces::EnrollResponse>()
        .image_errors()
        .errors([
            E::UserNotFound,
            E::FaceMismatch,
            E::UserAlreadyEnrolled,
            E::InsufficientScope { required: "server" },
            E::InvalidVerificationToken,
            E::ReverifyRequired,
            E::EngineUnsupported(""),
            E::MinorsNotAllowed,
            E::UserSuspended,
            E::UserLocked,
            E::TooManyAttempts {
                retry_after_secs: 1,
            },
        ]),
        Route::GetDeletion(_) => op("Check a deletion receipt", Server)
            .ok::<deletions::CheckedReceipt>()
            .errors([E::ReceiptNotFound]),
        Route::Enroll => enroll(op("Enroll a user's face", AnyKey)),
        Route::Match => op("Search the tenant's faces for a photo's face", Match)
            .body::<faces::ImageRequest>()
            .ok::<faces::MatchResponse>()
            .image_errors(),
        Route::DetectAttributes => op("Estimate age, gender and pose of a photo's face", Server)
            .body::<faces::ImageRequest>()
            .ok::<faces::DetectResponse>()
            .image_errors()
            .errors([E::NoFaceInImage, E::EngineUnsupported("")]),
        Route::FaceIndex => op("The in-memory face index's state", Server)
            .ok::<faces::FaceIndexStatus>()
            .errors([E::FaceEngineUnavailable]),
        Route::StartLiveness => start_liveness(op("Start a liveness session", AnyKey))
            .optional_body::<liveness::StartRequest>()
            .link("POST", "/v1/liveness/session/:id/frames", &[("id", "/session_id")])
            .link("GET", "/v1/liveness/result/:sessionId", &[("sessionId", "/session_id")]),
        Route::LivenessFrames(_) => liveness_frames(op(
            "Send a liveness session's frames; the session is judged",
            AnyKey,
        )),
        Route::LivenessResult(_) => op("A liveness session's outcome", AnyKey)
            .ok::<liveness::ResultResponse>()
            .errors([
                E::FaceEngineUnavailable,
                E::EngineBusy,
                E::LivenessSessionNotFound,
                E::LivenessSessionExpired,
                E::LivenessNotCompleted,
            ]),
        Route::Verify => verify(op(
            "Log in with a live face: a verification token bound to the device",
            AnyKey,
        ))
        .link("POST", "/v1/session/:id/revoke", &[("id", "/session_id")])
        .link("GET", "/v1/sessions/:id/risk-score", &[("id", "/session_id")]),
        Route::CreateSession => op(
            "Exchange a verification token for a session (FaceGate's own or a provider's)",
            AnyKey,
        )
        .body::<sessions::CreateSessionRequest>()
        .ok::<sessions::CreateSessionResponse>()
        .errors([
            E::InvalidVerificationToken,
            E::ReverifyRequired,
            E::UserSuspended,
            E::UserLocked,
            E::ProviderNotImplemented(String::new()),
            E::ProviderFailed(String::new()),
        ]),
        Route::RefreshSession => op("Rotate a refresh token", AnyKey)
            .body::<sessions::RefreshRequest>()
            .ok::<sessions::RefreshResponse>()
            .errors([
                E::InvalidRefreshToken,
                E::RefreshTokenReused,
                E::ReverifyRequired,
                E::UserSuspended,
                E::UserLocked,
            ]),
        Route::RevokeSession(_) => op("Revoke a session and its refresh tokens", Server)
            .ok::<sessions::RevokeResponse>()
            .errors([E::SessionNotFound]),
        Route::SessionRiskScore(_) => op("A session's last risk assessment", Server)
            .ok::<sessions::RiskScoreResponse>()
            .errors([E::SessionNotFound]),
        Route::ListPolicies => op("The tenant's policies", Server)
            .ok::<policy::ListPoliciesResponse>(),
        Route::PutPolicy(kind) => {
            let put = op("Set a policy", Server);
            match kind {
                PolicyType::Rotation => put.body::<crate::policy::RotationPolicy>(),
                PolicyType::Risk => put.body::<crate::policy::RiskRules>(),
                PolicyType::Continuous => put.body::<crate::policy::ContinuousPolicy>(),
            }
            .ok::<policy::PutPolicyResponse>()
        }
        Route::DeletePolicy(_) => op("Remove a policy", Server)
            .ok::<policy::DeletePolicyResponse>()
            // A type that is none of the three is no route.
            .errors([E::RouteNotFound]),
        Route::CreateHandoff => op(
            "Start a cross-device handoff: a QR code for a phone",
            AnyKey,
        )
        .optional_body::<handoff::CreateRequest>()
        .device_headers()
        .answers::<handoff::CreateResponse>(StatusCode::CREATED)
        .link(
            "GET",
            "/v1/handoff/:token/status",
            &[("token", "/handoff_token"), (handoff::SECRET_HEADER, "/desktop_secret")],
        )
        .link("POST", "/v1/handoff/:token/scan", &[("token", "/handoff_token")])
        .link("POST", "/v1/handoff/:token/decline", &[("token", "/handoff_token")])
        .link("POST", "/v1/handoff/:token/liveness", &[("token", "/handoff_token")])
        .link("POST", "/v1/handoff/:token/consent", &[("token", "/handoff_token")])
        .errors([E::InsufficientScope { required: "server" }]),
        Route::HandoffStatus(_) => op("The desktop's poll of its handoff", AnyKey)
            .header(
                handoff::SECRET_HEADER,
                "The `desktop_secret` of `POST /v1/handoff`: only the desktop that asked may poll.",
                "^.{1,256}$",
            )
            .ok::<handoff::StatusResponse>()
            .errors([
                E::HandoffNotFound,
                E::HandoffExpired,
                E::InvalidHandoffSecret,
                E::UserNotFound,
                E::UserSuspended,
            ]),
        Route::HandoffSocket(_) => op(
            "The desktop's WebSocket of its handoff's status (its token in the path; \
             the desktop secret is its first message)",
            HandoffToken,
        )
        .switches_protocols()
        .errors([
            E::HandoffNotFound,
            E::HandoffExpired,
            E::TenantSuspended,
            E::ForbiddenOrigin,
        ]),
        Route::HandoffPhone(_, step) => phone(step),
        Route::Signals => op("Report a page's telemetry (a beacon may carry its client key in the body)", AnyKey)
            .body::<signals::SignalsRequest>()
            .answers::<signals::Accepted>(StatusCode::ACCEPTED)
            .errors([E::InsufficientScope { required: "client" }, E::SignalsUnavailable]),
        Route::ThreatIntel => op("Attack patterns the tenant has learned", Server)
            .ok::<threat_intel::ThreatIntelResponse>(),
        Route::Sync => op("Re-check logins an offline device made", Server)
            .body::<sync::SyncRequest>()
            .ok::<sync::SyncResponse>()
            .image_errors(),
        Route::AnalyticsOverview => analytics(op("Login figures over a period", Server))
            .ok::<analytics::Overview>(),
        Route::AnalyticsDevices => analytics(op("Logins by device and browser", Server))
            .ok::<analytics::Devices>(),
        Route::AnalyticsFailures => analytics(op("Failed logins by reason", Server))
            .ok::<analytics::Failures>(),
        Route::UsageSummary => op("Usage this period, against the plan", Server)
            .query::<usage::SummaryQuery>()
            .ok::<usage::UsageSummary>(),
        Route::UsageDaily => op("Usage by day", Server)
            .query::<usage::DailyQuery>()
            .ok::<usage::UsageDaily>(),
        Route::BillingStatus => op("The tenant's plan and billing state", Server)
            .ok::<usage::BillingStatus>(),
        Route::BillingCheckout => op("A hosted checkout page to change plan", Server)
            .body::<billing::CheckoutBody>()
            .ok::<billing::HostedPage>()
            .errors([
                E::BillingNotConfigured,
                E::SubscriptionExists,
                E::ProviderFailed(String::new()),
            ]),
        Route::BillingPortal => op("A hosted billing portal page", Server)
            .ok::<billing::HostedPage>()
            .errors([
                E::BillingNotConfigured,
                E::NoBillingAccount,
                E::ProviderFailed(String::new()),
            ]),
        Route::BillingWebhook(_) => op(
            "The billing provider's events (signed with `Stripe-Signature`)",
            Signature,
        )
        .body::<serde_json::Value>()
        .ok::<billing::Received>()
        .errors([
            E::BillingNotConfigured,
            E::InvalidWebhookSignature,
            E::RouteNotFound,
            E::ProviderFailed(String::new()),
        ]),
        Route::CreateWebhook => op("Register a webhook endpoint", Server)
            .body::<webhooks::CreateWebhookRequest>()
            .answers::<webhooks::CreatedWebhook>(StatusCode::CREATED)
            .link("GET", "/v1/webhooks/:id/deliveries", &[("id", "/id")])
            .link("DELETE", "/v1/webhooks/:id", &[("id", "/id")])
            .errors([E::WebhookLimitReached { max: 0 }]),
        Route::ListWebhooks => op("The tenant's webhook endpoints", Server)
            .ok::<webhooks::WebhookList>(),
        Route::DeleteWebhook(_) => op("Remove a webhook endpoint", Server)
            .ok::<webhooks::DeletedWebhook>()
            .errors([E::WebhookNotFound]),
        Route::WebhookDeliveries(_) => op("An endpoint's deliveries, newest first", Server)
            .query::<webhooks::DeliveriesQuery>()
            .ok::<webhooks::DeliveryPage>()
            .errors([E::WebhookNotFound]),
        Route::Redeliver(..) => op("Send a delivery again", Server)
            .answers::<webhooks::DeliveryView>(StatusCode::ACCEPTED)
            .errors([E::WebhookNotFound, E::DeliveryNotFound]),
        Route::DemoPage => op("The demo page", Demo).text("text/html"),
        Route::DemoPreflight => op("What the demo page needs to start", Demo)
            .ok::<demo::Preflight>()
            .also::<demo::Preflight>(StatusCode::SERVICE_UNAVAILABLE),
        Route::DemoConsent => op("The demo's consent (as `POST /v1/consent`)", Demo)
            .body::<consent::RecordConsentRequest>()
            .answers::<consent::RecordConsentResponse>(StatusCode::CREATED)
            .errors(consent_errors()),
        Route::DemoStartLiveness => start_liveness(op(
            "The demo's liveness session (as `POST /v1/liveness/session`)",
            Demo,
        )),
        Route::DemoLivenessFrames(_) => liveness_frames(op(
            "The demo's frames (as `POST /v1/liveness/session/:id/frames`)",
            Demo,
        )),
        Route::DemoEnroll => enroll(op("The demo's enrollment (as `POST /v1/enroll`)", Demo)),
        Route::DemoVerify => verify(op("The demo's login (as `POST /v1/verify`)", Demo)),
    }
}

/// Recording a consent; only a server key may link it to a user (`user_id`).
fn consent_errors() -> [ApiError; 4] {
    [
        ApiError::UnknownConsentVersion,
        ApiError::ConsentHashMismatch,
        ApiError::UserNotFound,
        ApiError::InsufficientScope { required: "server" },
    ]
}

/// The errors of taking a judged liveness session for enroll or verify.
fn live_session_errors() -> [ApiError; 5] {
    [
        ApiError::LivenessSessionNotFound,
        ApiError::LivenessSessionExpired,
        ApiError::LivenessSessionConsumed,
        ApiError::LivenessNotCompleted,
        ApiError::LivenessFailed,
    ]
}

fn enroll(op: Op) -> Op {
    use ApiError as E;
    op.body::<faces::EnrollRequest>()
        .errors(live_session_errors())
        .answers::<faces::EnrollResponse>(StatusCode::CREATED)
        .image_errors()
        .errors([
            E::ConsentRequired,
            E::ConsentInvalid,
            E::EnrollmentPayloadTooLarge { limit: 0 },
            E::ExternalIdTaken,
            E::UserAlreadyEnrolled,
            E::MinorsNotAllowed,
            E::PinRequiredAtEnroll,
            E::UniquePinRequired,
            E::InsufficientScope { required: "server" },
            E::UsageLimitReached {
                limit: 0,
                resets_at: chrono::DateTime::UNIX_EPOCH,
            },
            E::EngineUnsupported(""),
        ])
}

/// The demo's start reads no body; the others take an optional one.
fn start_liveness(op: Op) -> Op {
    op.device_headers().ok::<liveness::StartResponse>().errors([
        ApiError::FaceEngineUnavailable,
        ApiError::EngineBusy,
        ApiError::TooManyAttempts {
            retry_after_secs: 1,
        },
    ])
}

fn liveness_frames(op: Op) -> Op {
    use ApiError as E;
    op.body::<liveness::FramesRequest>()
        .ok::<liveness::OutcomeResponse>()
        .image_errors()
        .errors([
            E::LivenessSessionNotFound,
            E::LivenessSessionExpired,
            E::LivenessAlreadyCompleted,
            E::EngineUnsupported(""),
            E::TooManyAttempts {
                retry_after_secs: 1,
            },
        ])
}

fn verify(op: Op) -> Op {
    use ApiError as E;
    op.body::<verify::VerifyRequest>()
        .device_headers()
        .errors(live_session_errors())
        .ok::<verify::VerifyResponse>()
        .image_errors()
        .errors([
            E::TooManyAttempts {
                retry_after_secs: 1,
            },
            E::PinRequired,
            E::WrongPinCode {
                attempts_remaining: 0,
            },
            E::UserSuspended,
            E::UserLocked,
            E::RiskBlocked,
            E::ReEnrollmentRequired,
            E::StepUpNotFound,
            E::StepUpExpired,
            E::StepUpConsumed,
            E::StepUpFailed,
            E::ReverifyFaceMismatch,
            E::InvalidRefreshToken,
            E::RefreshTokenReused,
            E::SessionNotFound,
            E::UsageLimitReached {
                limit: 0,
                resets_at: chrono::DateTime::UNIX_EPOCH,
            },
            E::EngineUnsupported(""),
        ])
}

fn analytics(op: Op) -> Op {
    op.query::<analytics::PeriodQuery>()
        .errors([ApiError::FeatureNotInPlan {
            feature: "analytics",
            plan: String::new(),
        }])
}

/// The phone's side of a handoff: keyless, the token is the credential.
fn phone(step: &PhoneStep) -> Op {
    use Access::HandoffToken;
    use ApiError as E;
    let closed = [
        E::HandoffNotFound,
        E::HandoffExpired,
        E::HandoffCompleted,
        E::HandoffDeclined,
        E::HandoffInUse,
        E::HandoffAttemptsExhausted,
        E::TenantSuspended,
    ];
    match step {
        // The page reads no device headers.
        PhoneStep::Page => {
            return op("The phone's page of a handoff", HandoffToken)
                .text("text/html")
                .errors(closed);
        }
        PhoneStep::Scan => op(
            "The phone opens the handoff and sees who asks",
            HandoffToken,
        )
        .ok::<handoff::ScanResponse>(),
        PhoneStep::StartLiveness => start_liveness(op(
            "The phone's liveness session (as `POST /v1/liveness/session`)",
            HandoffToken,
        ))
        .optional_body::<liveness::StartRequest>(),
        PhoneStep::LivenessFrames(_) => liveness_frames(op(
            "The phone's frames (as `POST /v1/liveness/session/:id/frames`)",
            HandoffToken,
        )),
        PhoneStep::Consent => op("The phone's consent (as `POST /v1/consent`)", HandoffToken)
            .body::<consent::RecordConsentRequest>()
            .answers::<consent::RecordConsentResponse>(StatusCode::CREATED)
            .errors(consent_errors())
            // A handoff that verifies has no consent step.
            .errors([E::RouteNotFound]),
        PhoneStep::Complete => verify(enroll(op(
            "The phone finishes the handoff: a login or an enrollment",
            HandoffToken,
        )))
        .body::<handoff::CompleteRequest>()
        // Done; or, for a login, verify's answer when it is not (no match,
        // a step-up).
        .ok_either::<handoff::PhoneDone, verify::VerifyResponse>(),
        PhoneStep::Decline => {
            op("The phone declines the handoff", HandoffToken).ok::<handoff::PhoneDone>()
        }
    }
    // The phone names its device on every step after the page (its
    // lockouts, and the desktop's view of it).
    .device_headers()
    .errors(closed)
}

/// The whole document.
pub(crate) fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut schemas = BTreeMap::new();
    for (method, template) in ROUTE_TABLE {
        let route = Route::resolve(
            &Method::from_bytes(method.as_bytes()).expect("the route table's methods"),
            &sample_path(template),
        )
        .unwrap_or_else(|err| panic!("{method} {template}: {err:?}"));
        let mut op = describe(&route);
        for (name, schema) in op.schemas.drain(..) {
            schemas.entry(name).or_insert(schema);
        }
        paths.add_path_operation(
            openapi_path(template),
            vec![http_method(method)],
            operation(method, template, op),
        );
    }
    let mut components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .schema_from::<FieldIssue>()
        .schema("Error", error_envelope());
    for (name, scheme) in security_schemes() {
        components = components.security_scheme(name, scheme);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("FaceGate")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

const DESCRIPTION: &str = "Face login for a host application, self-hosted: the host \
    mounts this API under its own origin. Server keys (`fg_live_…`, `fg_test_…`) are \
    for the host's backend; client keys (`fg_live_pub_…`, `fg_test_pub_…`) are safe in a \
    browser and work only from their origins and on the routes that say so. Every error \
    is `{ \"error\": \"…\", \"code\": \"SCREAMING_CODE\" }`, with `details` for \
    validation failures. The FaceGate tokens `POST /v1/session` hands out are verified \
    on the host's own routes by the guard (`facegate_token`), against \
    `/.well-known/jwks.json`.";

fn security_schemes() -> [(&'static str, SecurityScheme); 4] {
    let bearer = |description: &str| {
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description))
                .build(),
        )
    };
    [
        (
            SERVER_KEY,
            bearer("A server API key, `Authorization: Bearer fg_live_…`: the host's backend only."),
        ),
        (
            CLIENT_KEY,
            bearer(
                "A client API key, `Authorization: Bearer fg_live_pub_…`: safe in a browser; the request's `Origin` must be one the key allows.",
            ),
        ),
        (
            API_KEY_HEADER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "Either key in `x-api-key` instead of `Authorization`.",
            ))),
        ),
        (FACEGATE_TOKEN, {
            let mut token = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A FaceGate session token (EdDSA JWT, device-bound), checked by the guard on the host's own routes."))
                .build();
            token.bearer_format = Some("JWT".to_owned());
            SecurityScheme::Http(token)
        }),
    ]
}

fn operation(method: &str, template: &str, op: Op) -> utoipa::openapi::path::Operation {
    let mut builder = OperationBuilder::new()
        .summary(Some(op.summary))
        .operation_id(Some(operation_id(method, template)))
        .tag(tag(template));
    for name in template.split('/').filter_map(|s| s.strip_prefix(':')) {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    for param in op.params {
        builder = builder.parameter(param);
    }
    if let Some((body, optional)) = op.body {
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(body)).build(),
                )
                .required(Some(if optional {
                    Required::False
                } else {
                    Required::True
                }))
                .build(),
        ));
    }
    let mut answer =
        ResponseBuilder::new().description(op.status.canonical_reason().unwrap_or("OK"));
    if let Some(schema) = op.answer {
        answer = answer.content(
            op.media_type,
            ContentBuilder::new().schema(Some(schema)).build(),
        );
    }
    for (method, target, params) in op.links {
        assert!(
            ROUTE_TABLE.contains(&(method, target)),
            "a link to {method} {target}, which is not in the route table"
        );
        let mut link = LinkBuilder::new().operation_id(operation_id(method, target));
        for (param, pointer) in params {
            let name = match param.starts_with("x-") {
                true => format!("header.{param}"),
                false => format!("path.{param}"),
            };
            link = link.parameter(name, format!("$response.body#{pointer}"));
        }
        answer = answer.link(operation_id(method, target), link.build());
    }
    builder = builder.response(op.status.as_str(), answer.build());
    let mut errors = error_statuses(&op.errors);
    for (status, schema) in op.also {
        // The handler's own answer there, or the error envelope.
        let reason = status.canonical_reason().unwrap_or("");
        let (description, schema) = match errors.remove(&status) {
            Some(codes) => (
                format!("{reason}, or {}", codes.join(", ")),
                OneOfBuilder::new()
                    .item(schema)
                    .item(error_schema(&codes))
                    .into(),
            ),
            None => (reason.to_owned(), schema),
        };
        builder = builder.response(
            status.as_str(),
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(schema)).build(),
                )
                .build(),
        );
    }
    for (status, codes) in errors {
        builder = builder.response(
            status.as_str(),
            ResponseBuilder::new()
                .description(codes.join(", "))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(error_schema(&codes)))
                        .build(),
                )
                .build(),
        );
    }
    let security: Vec<SecurityRequirement> = match op.access {
        Access::Server => vec![SERVER_KEY, API_KEY_HEADER],
        Access::AnyKey | Access::Match => vec![SERVER_KEY, CLIENT_KEY, API_KEY_HEADER],
        Access::Public | Access::HandoffToken | Access::Signature | Access::Demo => vec![],
    }
    .into_iter()
    .map(|name| SecurityRequirement::new(name, Vec::<String>::new()))
    .collect();
    if !security.is_empty() {
        builder = builder.securities(Some(security));
    }
    builder.build()
}

/// Each error status with the codes it may carry, sorted, once each.
fn error_statuses(errors: &[ApiError]) -> BTreeMap<StatusCode, Vec<&'static str>> {
    let mut statuses: BTreeMap<StatusCode, Vec<&'static str>> = BTreeMap::new();
    for err in errors {
        let codes = statuses.entry(err.status()).or_default();
        if !codes.contains(&err.code()) {
            codes.push(err.code());
        }
    }
    for codes in statuses.values_mut() {
        codes.sort_unstable();
    }
    statuses
}

/// The error envelope (see [`ApiError::body`]); the fields after `details`
/// come with the codes that set them.
fn error_envelope() -> Schema {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let count = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "error",
            text().description(Some("What went wrong, for people.")),
        )
        .required("error")
        .property(
            "code",
            text().description(Some("What went wrong, for code.")),
        )
        .required("code")
        .property(
            "details",
            ArrayBuilder::new()
                .items(RefOr::Ref(Ref::from_schema_name("FieldIssue")))
                .description(Some("`VALIDATION_FAILED`: each field's problem.")),
        )
        .property(
            "attempts_remaining",
            count().description(Some("`WRONG_PIN_CODE`.")),
        )
        .property(
            "required_scope",
            text().description(Some("`INSUFFICIENT_SCOPE`.")),
        )
        .property(
            "feature",
            text().description(Some("`FEATURE_NOT_IN_PLAN`.")),
        )
        .property("plan", text().description(Some("`FEATURE_NOT_IN_PLAN`.")))
        .property(
            "mau_limit",
            count().description(Some("`USAGE_LIMIT_REACHED`.")),
        )
        .property(
            "resets_at",
            text()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some("`USAGE_LIMIT_REACHED`.")),
        )
        .into()
}

/// The error envelope, narrowed to the codes a status carries.
fn error_schema(codes: &[&'static str]) -> RefOr<Schema> {
    AllOfBuilder::new()
        .item(Ref::from_schema_name("Error"))
        .item(
            ObjectBuilder::new().property(
                "code",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(codes.iter().copied())),
            ),
        )
        .into()
}

fn http_method(method: &str) -> HttpMethod {
    match method {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "PATCH" => HttpMethod::Patch,
        "DELETE" => HttpMethod::Delete,
        other => panic!("the route table has no {other}"),
    }
}

/// `/v1/users/:id` as OpenAPI writes it, `/v1/users/{id}`.
fn openapi_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `get_v1_users_id`: unique, as each (method, template) is.
fn operation_id(method: &str, template: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in template.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(
            segment
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id.replace("__", "_")
}

/// The group a route belongs to: its first segment after `/v1`.
fn tag(template: &str) -> &str {
    let mut segments = template.split('/').filter(|s| !s.is_empty());
    match segments.next() {
        Some("v1") => segments.next().unwrap_or("v1"),
        Some(".well-known") => "keys",
        Some(first) => first,
        None => "v1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_of_the_table_is_documented_with_its_answers() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        for (method, template) in ROUTE_TABLE {
            let operation = &doc["paths"][openapi_path(template)][method.to_ascii_lowercase()];
            assert!(operation.is_object(), "{method} {template} is missing");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|status| status.starts_with('2') || status == "101"),
                "{method} {template} has no success answer"
            );
            assert!(responses.contains_key("429"), "{method} {template}: 429");
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, ROUTE_TABLE.len());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(schemas.contains_key(name), "no schema {name}");
        }
    }

    /// Prints the document: `cargo test -p facegate-core --lib
    /// print_the_document -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn print_the_document() {
        println!("{}", serde_json::to_string_pretty(&document()).unwrap());
    }

    #[test]
    fn keyed_routes_name_their_keys_and_keyless_ones_none() {
        let doc = serde_json::to_value(document()).unwrap();
        let links = &doc["paths"]["/v1/handoff"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            links["get_v1_handoff_token_status"]["parameters"]["header.x-handoff-secret"],
            "$response.body#/desktop_secret"
        );
        let security = |method: &str, path: &str| doc["paths"][path][method]["security"].clone();
        assert_eq!(
            security("get", "/v1/users"),
            serde_json::json!([{ "server_key": [] }, { "api_key_header": [] }])
        );
        assert_eq!(security("post", "/v1/verify").as_array().unwrap().len(), 3);
        assert!(security("get", "/v1/health").is_null());
        assert!(security("post", "/v1/handoff/{token}/scan").is_null());
        // A server-only route documents the client key's refusal.
        let forbidden = &doc["paths"]["/v1/users"]["get"]["responses"]["403"];
        assert!(
            forbidden["description"]
                .as_str()
                .unwrap()
                .contains("INSUFFICIENT_SCOPE")
        );
    }
}
