//! The route table: every path the core serves, matched on method and path
//! segments. Adapters forward everything under `/v1` here, so a route exists in
//! both frameworks the moment it exists in this file.

use http::Method;

use crate::domain::TenantSettings;
use crate::error::ApiError;
use crate::ids::{
    ConsentId, DeliveryId, LivenessSessionId, ReceiptId, SessionId, UserId, WebhookId,
};
use crate::policy::PolicyType;

use super::handoff::PhoneStep;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Health,
    Jwks,
    OpenApi,
    Sdk(super::sdk::SdkFile),
    ConsentVersions,
    RecordConsent,
    RevokeConsent(ConsentId),
    ListUsers,
    GetUser(UserId),
    DeleteUser(UserId),
    SetUserStatus(UserId),
    ReEnroll(UserId),
    GetDeletion(ReceiptId),
    Enroll,
    Match,
    DetectAttributes,
    FaceIndex,
    StartLiveness,
    LivenessFrames(LivenessSessionId),
    LivenessResult(LivenessSessionId),
    Verify,
    CreateSession,
    RefreshSession,
    RevokeSession(SessionId),
    SessionRiskScore(SessionId),
    ListPolicies,
    PutPolicy(PolicyType),
    DeletePolicy(PolicyType),
    CreateHandoff,
    /// The desktop's poll; the token is a credential, never logged.
    HandoffStatus(String),
    /// The phone's routes, keyless: the token is the credential.
    HandoffPhone(String, PhoneStep),
    /// The desktop's socket, which adapters upgrade before the core sees it.
    HandoffSocket(String),
    Signals,
    ThreatIntel,
    Sync,
    AnalyticsOverview,
    AnalyticsDevices,
    AnalyticsFailures,
    UsageSummary,
    UsageDaily,
    BillingStatus,
    BillingCheckout,
    BillingPortal,
    /// The billing provider's webhook, keyless: its signature is the credential.
    BillingWebhook(&'static str),
    CreateWebhook,
    ListWebhooks,
    DeleteWebhook(WebhookId),
    WebhookDeliveries(WebhookId),
    Redeliver(WebhookId, DeliveryId),
    DemoPage,
    DemoPreflight,
    DemoConsent,
    DemoStartLiveness,
    DemoLivenessFrames(LivenessSessionId),
    DemoEnroll,
    DemoVerify,
}

/// Every route the core serves, as `(method, path template)`, `:name` for a
/// path parameter: what tests and generated documents walk, so a new route
/// is in them the moment it is here. A unit test holds it to the matcher:
/// each entry resolves to the route whose template it names, and every
/// template is listed once.
pub const ROUTE_TABLE: &[(&str, &str)] = &[
    ("GET", "/v1/health"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/v1/sdk/facegate.js"),
    ("GET", "/v1/sdk/facegate.d.ts"),
    ("GET", "/v1/sdk/facegate-widget.js"),
    ("GET", "/v1/sdk/facegate-widget.d.ts"),
    ("GET", "/v1/consent/versions"),
    ("POST", "/v1/consent"),
    ("DELETE", "/v1/consent/:id"),
    ("GET", "/v1/users"),
    ("GET", "/v1/users/:id"),
    ("DELETE", "/v1/users/:id"),
    ("PATCH", "/v1/users/:id/status"),
    ("POST", "/v1/users/:id/re-enroll"),
    ("GET", "/v1/deletions/:receipt_id"),
    ("POST", "/v1/enroll"),
    ("POST", "/v1/match"),
    ("POST", "/v1/detect-attributes"),
    ("GET", "/v1/face-index"),
    ("POST", "/v1/liveness/session"),
    ("POST", "/v1/liveness/session/:id/frames"),
    ("GET", "/v1/liveness/result/:sessionId"),
    ("POST", "/v1/verify"),
    ("POST", "/v1/session"),
    ("POST", "/v1/session/refresh"),
    ("POST", "/v1/session/:id/revoke"),
    ("GET", "/v1/sessions/:id/risk-score"),
    ("GET", "/v1/policy"),
    ("POST", "/v1/policy/rotation"),
    ("POST", "/v1/policy/risk"),
    ("POST", "/v1/policy/continuous"),
    ("DELETE", "/v1/policy/:type"),
    ("POST", "/v1/handoff"),
    ("GET", "/v1/handoff/:token/status"),
    ("GET", "/v1/handoff/:token/ws"),
    ("GET", "/v1/handoff/:token/verify"),
    ("POST", "/v1/handoff/:token/scan"),
    ("POST", "/v1/handoff/:token/liveness"),
    ("POST", "/v1/handoff/:token/liveness/:id/frames"),
    ("POST", "/v1/handoff/:token/consent"),
    ("POST", "/v1/handoff/:token/complete"),
    ("POST", "/v1/handoff/:token/decline"),
    ("POST", "/v1/signals"),
    ("GET", "/v1/threat-intel"),
    ("POST", "/v1/sync"),
    ("GET", "/v1/analytics/overview"),
    ("GET", "/v1/analytics/devices"),
    ("GET", "/v1/analytics/failures"),
    ("GET", "/v1/usage/summary"),
    ("GET", "/v1/usage/daily"),
    ("GET", "/v1/billing/status"),
    ("POST", "/v1/billing/checkout"),
    ("POST", "/v1/billing/portal"),
    ("POST", "/v1/webhooks/stripe"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks"),
    ("DELETE", "/v1/webhooks/:id"),
    ("GET", "/v1/webhooks/:id/deliveries"),
    ("POST", "/v1/webhooks/:id/deliveries/:delivery_id/redeliver"),
    ("GET", "/demo"),
    ("GET", "/demo/preflight"),
    ("POST", "/demo/consent"),
    ("POST", "/demo/liveness-session"),
    ("POST", "/demo/liveness-session/:id/frames"),
    ("POST", "/demo/enroll"),
    ("POST", "/demo/verify"),
];

/// Methods tried when telling a 405 from a 404.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

impl Route {
    /// The route for a request; `HEAD` is `GET` without the body (see
    /// `FaceGate::handle`).
    pub(crate) fn resolve(method: &Method, path: &str) -> Result<Route, ApiError> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let Some(route) = Self::matching(method, &segments) {
            return Ok(route);
        }
        if METHODS
            .iter()
            .any(|other| Self::matching(other, &segments).is_some())
        {
            Err(ApiError::MethodNotAllowed)
        } else {
            Err(ApiError::RouteNotFound)
        }
    }

    fn matching(method: &Method, segments: &[&str]) -> Option<Route> {
        use Route::*;
        let route = match (method.as_str(), segments) {
            ("GET", ["v1", "health"]) => Health,
            ("GET", [".well-known", "jwks.json"]) => Jwks,
            ("GET", ["v1", "openapi.json"]) => OpenApi,
            ("GET", ["v1", "sdk", "facegate.js"]) => Sdk(super::sdk::SdkFile::Module),
            ("GET", ["v1", "sdk", "facegate.d.ts"]) => Sdk(super::sdk::SdkFile::Types),
            ("GET", ["v1", "sdk", "facegate-widget.js"]) => Sdk(super::sdk::SdkFile::Widget),
            ("GET", ["v1", "sdk", "facegate-widget.d.ts"]) => Sdk(super::sdk::SdkFile::WidgetTypes),
            ("GET", ["v1", "consent", "versions"]) => ConsentVersions,
            ("POST", ["v1", "consent"]) => RecordConsent,
            ("DELETE", ["v1", "consent", id]) => RevokeConsent(ConsentId::from_string(*id)),
            ("GET", ["v1", "users"]) => ListUsers,
            ("GET", ["v1", "users", id]) => GetUser(UserId::from_string(*id)),
            ("DELETE", ["v1", "users", id]) => DeleteUser(UserId::from_string(*id)),
            ("PATCH", ["v1", "users", id, "status"]) => SetUserStatus(UserId::from_string(*id)),
            ("POST", ["v1", "users", id, "re-enroll"]) => ReEnroll(UserId::from_string(*id)),
            ("GET", ["v1", "deletions", id]) => GetDeletion(ReceiptId::from_string(*id)),
            ("POST", ["v1", "enroll"]) => Enroll,
            ("POST", ["v1", "match"]) => Match,
            ("POST", ["v1", "detect-attributes"]) => DetectAttributes,
            ("GET", ["v1", "face-index"]) => FaceIndex,
            ("POST", ["v1", "liveness", "session"]) => StartLiveness,
            ("POST", ["v1", "liveness", "session", id, "frames"]) => {
                LivenessFrames(LivenessSessionId::from_string(*id))
            }
            ("GET", ["v1", "liveness", "result", id]) => {
                LivenessResult(LivenessSessionId::from_string(*id))
            }
            ("POST", ["v1", "verify"]) => Verify,
            ("POST", ["v1", "session"]) => CreateSession,
            ("POST", ["v1", "session", "refresh"]) => RefreshSession,
            ("POST", ["v1", "session", id, "revoke"]) => RevokeSession(SessionId::from_string(*id)),
            ("GET", ["v1", "sessions", id, "risk-score"]) => {
                SessionRiskScore(SessionId::from_string(*id))
            }
            ("GET", ["v1", "policy"]) => ListPolicies,
            ("POST", ["v1", "policy", name]) => PutPolicy(PolicyType::parse(name)?),
            ("DELETE", ["v1", "policy", name]) => DeletePolicy(PolicyType::parse(name)?),
            ("POST", ["v1", "handoff"]) => CreateHandoff,
            ("GET", ["v1", "handoff", token, "status"]) => HandoffStatus((*token).to_owned()),
            ("GET", ["v1", "handoff", token, "ws"]) => HandoffSocket((*token).to_owned()),
            ("GET", ["v1", "handoff", token, "verify"]) => {
                HandoffPhone((*token).to_owned(), PhoneStep::Page)
            }
            ("POST", ["v1", "handoff", token, step]) => HandoffPhone(
                (*token).to_owned(),
                match *step {
                    "scan" => PhoneStep::Scan,
                    "liveness" => PhoneStep::StartLiveness,
                    "consent" => PhoneStep::Consent,
                    "complete" => PhoneStep::Complete,
                    "decline" => PhoneStep::Decline,
                    _ => return None,
                },
            ),
            ("POST", ["v1", "handoff", token, "liveness", id, "frames"]) => HandoffPhone(
                (*token).to_owned(),
                PhoneStep::LivenessFrames(LivenessSessionId::from_string(*id)),
            ),
            ("POST", ["v1", "signals"]) => Signals,
            ("GET", ["v1", "threat-intel"]) => ThreatIntel,
            ("POST", ["v1", "sync"]) => Sync,
            ("GET", ["v1", "analytics", "overview"]) => AnalyticsOverview,
            ("GET", ["v1", "analytics", "devices"]) => AnalyticsDevices,
            ("GET", ["v1", "analytics", "failures"]) => AnalyticsFailures,
            ("GET", ["v1", "usage", "summary"]) => UsageSummary,
            ("GET", ["v1", "usage", "daily"]) => UsageDaily,
            ("GET", ["v1", "billing", "status"]) => BillingStatus,
            ("POST", ["v1", "billing", "checkout"]) => BillingCheckout,
            ("POST", ["v1", "billing", "portal"]) => BillingPortal,
            ("POST", ["v1", "webhooks", "stripe"]) => BillingWebhook("stripe"),
            ("POST", ["v1", "webhooks"]) => CreateWebhook,
            ("GET", ["v1", "webhooks"]) => ListWebhooks,
            ("DELETE", ["v1", "webhooks", id]) => DeleteWebhook(WebhookId::from_string(*id)),
            ("GET", ["v1", "webhooks", id, "deliveries"]) => {
                WebhookDeliveries(WebhookId::from_string(*id))
            }
            ("POST", ["v1", "webhooks", id, "deliveries", delivery, "redeliver"]) => Redeliver(
                WebhookId::from_string(*id),
                DeliveryId::from_string(*delivery),
            ),
            ("GET", ["demo"] | ["demo", ""]) => DemoPage,
            ("GET", ["demo", "preflight"]) => DemoPreflight,
            ("POST", ["demo", "consent"]) => DemoConsent,
            ("POST", ["demo", "liveness-session"]) => DemoStartLiveness,
            ("POST", ["demo", "liveness-session", id, "frames"]) => {
                DemoLivenessFrames(LivenessSessionId::from_string(*id))
            }
            ("POST", ["demo", "enroll"]) => DemoEnroll,
            ("POST", ["demo", "verify"]) => DemoVerify,
            _ => return None,
        };
        Some(route)
    }

    /// The path template, as recorded on the audit trail.
    pub(crate) fn template(&self) -> &'static str {
        use Route::*;
        match self {
            Health => "/v1/health",
            Jwks => "/.well-known/jwks.json",
            OpenApi => "/v1/openapi.json",
            Sdk(super::sdk::SdkFile::Module) => "/v1/sdk/facegate.js",
            Sdk(super::sdk::SdkFile::Types) => "/v1/sdk/facegate.d.ts",
            Sdk(super::sdk::SdkFile::Widget) => "/v1/sdk/facegate-widget.js",
            Sdk(super::sdk::SdkFile::WidgetTypes) => "/v1/sdk/facegate-widget.d.ts",
            ConsentVersions => "/v1/consent/versions",
            RecordConsent => "/v1/consent",
            RevokeConsent(_) => "/v1/consent/:id",
            ListUsers => "/v1/users",
            GetUser(_) | DeleteUser(_) => "/v1/users/:id",
            GetDeletion(_) => "/v1/deletions/:receipt_id",
            SetUserStatus(_) => "/v1/users/:id/status",
            ReEnroll(_) => "/v1/users/:id/re-enroll",
            Enroll => "/v1/enroll",
            Match => "/v1/match",
            DetectAttributes => "/v1/detect-attributes",
            FaceIndex => "/v1/face-index",
            StartLiveness => "/v1/liveness/session",
            LivenessFrames(_) => "/v1/liveness/session/:id/frames",
            LivenessResult(_) => "/v1/liveness/result/:sessionId",
            Verify => "/v1/verify",
            CreateSession => "/v1/session",
            RefreshSession => "/v1/session/refresh",
            RevokeSession(_) => "/v1/session/:id/revoke",
            SessionRiskScore(_) => "/v1/sessions/:id/risk-score",
            ListPolicies => "/v1/policy",
            PutPolicy(PolicyType::Rotation) => "/v1/policy/rotation",
            PutPolicy(PolicyType::Risk) => "/v1/policy/risk",
            PutPolicy(PolicyType::Continuous) => "/v1/policy/continuous",
            DeletePolicy(_) => "/v1/policy/:type",
            CreateHandoff => "/v1/handoff",
            HandoffStatus(_) => "/v1/handoff/:token/status",
            HandoffSocket(_) => "/v1/handoff/:token/ws",
            HandoffPhone(_, step) => match step {
                PhoneStep::Page => "/v1/handoff/:token/verify",
                PhoneStep::Scan => "/v1/handoff/:token/scan",
                PhoneStep::StartLiveness => "/v1/handoff/:token/liveness",
                PhoneStep::LivenessFrames(_) => "/v1/handoff/:token/liveness/:id/frames",
                PhoneStep::Consent => "/v1/handoff/:token/consent",
                PhoneStep::Complete => "/v1/handoff/:token/complete",
                PhoneStep::Decline => "/v1/handoff/:token/decline",
            },
            Signals => "/v1/signals",
            ThreatIntel => "/v1/threat-intel",
            Sync => "/v1/sync",
            AnalyticsOverview => "/v1/analytics/overview",
            AnalyticsDevices => "/v1/analytics/devices",
            AnalyticsFailures => "/v1/analytics/failures",
            UsageSummary => "/v1/usage/summary",
            UsageDaily => "/v1/usage/daily",
            BillingStatus => "/v1/billing/status",
            BillingCheckout => "/v1/billing/checkout",
            BillingPortal => "/v1/billing/portal",
            BillingWebhook(_) => "/v1/webhooks/stripe",
            CreateWebhook | ListWebhooks => "/v1/webhooks",
            DeleteWebhook(_) => "/v1/webhooks/:id",
            WebhookDeliveries(_) => "/v1/webhooks/:id/deliveries",
            Redeliver(..) => "/v1/webhooks/:id/deliveries/:delivery_id/redeliver",
            DemoPage => "/demo",
            DemoPreflight => "/demo/preflight",
            DemoConsent => "/demo/consent",
            DemoStartLiveness => "/demo/liveness-session",
            DemoLivenessFrames(_) => "/demo/liveness-session/:id/frames",
            DemoEnroll => "/demo/enroll",
            DemoVerify => "/demo/verify",
        }
    }

    /// The id in the path, if any, as recorded on the audit trail.
    pub(crate) fn resource_id(&self) -> Option<&str> {
        use Route::*;
        match self {
            RevokeConsent(id) => Some(id.as_str()),
            GetUser(id) | DeleteUser(id) | SetUserStatus(id) | ReEnroll(id) => Some(id.as_str()),
            GetDeletion(id) => Some(id.as_str()),
            LivenessFrames(id) | LivenessResult(id) | DemoLivenessFrames(id) => Some(id.as_str()),
            RevokeSession(id) | SessionRiskScore(id) => Some(id.as_str()),
            PutPolicy(kind) | DeletePolicy(kind) => Some(kind.as_str()),
            // A handoff's token is a credential: not for the audit trail.
            CreateHandoff | HandoffStatus(_) | HandoffSocket(_) | HandoffPhone(..) => None,
            DeleteWebhook(id) | WebhookDeliveries(id) | Redeliver(id, _) => Some(id.as_str()),
            CreateWebhook | ListWebhooks | Signals | ThreatIntel | Sync => None,
            AnalyticsOverview | AnalyticsDevices | AnalyticsFailures | UsageSummary
            | UsageDaily | BillingStatus | BillingCheckout | BillingPortal | BillingWebhook(_) => {
                None
            }
            ListPolicies | Health | Jwks | OpenApi | Sdk(_) | ConsentVersions | RecordConsent
            | ListUsers | Enroll | Match | DetectAttributes | FaceIndex | StartLiveness
            | Verify | CreateSession | RefreshSession | DemoPage | DemoPreflight | DemoConsent
            | DemoStartLiveness | DemoEnroll | DemoVerify => None,
        }
    }

    /// Routes whose body carries images get the larger body limit.
    pub(crate) fn carries_images(&self) -> bool {
        matches!(
            self,
            Route::Enroll
                | Route::Match
                | Route::DetectAttributes
                | Route::ReEnroll(_)
                | Route::LivenessFrames(_)
                | Route::HandoffPhone(_, PhoneStep::LivenessFrames(_))
                | Route::DemoLivenessFrames(_)
                | Route::DemoEnroll
                | Route::Sync
        )
    }

    /// Whether a client (browser) key may call this route: the login and
    /// enrollment ceremony, and match where the tenant allows it. Every
    /// other route needs a server key. Some handlers narrow further what a
    /// client key may send (see `KeyScope::Client`).
    pub(crate) fn allows_client_keys(&self, settings: &TenantSettings) -> bool {
        use Route::*;
        match self {
            Health | Jwks | OpenApi | Sdk(_) | ConsentVersions | RecordConsent | StartLiveness
            | LivenessFrames(_) | LivenessResult(_) | Verify | Enroll | CreateSession
            | RefreshSession => true,
            // The desktop's side of a handoff, from a browser.
            CreateHandoff | HandoffStatus(_) | HandoffSocket(_) => true,
            // Keyless: the handoff's token is the phone's credential.
            HandoffPhone(..) => true,
            // Narrowed by the handler: the user's own live face only.
            ReEnroll(_) => true,
            // A page's own telemetry.
            Signals => true,
            Match => settings.client_match,
            RevokeConsent(_) | ListUsers | GetUser(_) | DeleteUser(_) | SetUserStatus(_)
            | GetDeletion(_) | DetectAttributes | FaceIndex | RevokeSession(_)
            | SessionRiskScore(_) | ListPolicies | PutPolicy(_) | DeletePolicy(_) => false,
            // Endpoints and their secrets are the host's backend's business.
            CreateWebhook | ListWebhooks | DeleteWebhook(_) | WebhookDeliveries(_)
            | Redeliver(..) => false,
            // "Is this face that user?" about anyone: the backend's question.
            Sync => false,
            // What the tenant has learned about its attackers.
            ThreatIntel => false,
            // The tenant's figures and plan: the host's backend's business.
            AnalyticsOverview | AnalyticsDevices | AnalyticsFailures | UsageSummary
            | UsageDaily | BillingStatus | BillingCheckout | BillingPortal => false,
            // Keyless: the provider's signature is the credential.
            BillingWebhook(_) => true,
            // Keyless, on the demo tenant.
            DemoPage
            | DemoPreflight
            | DemoConsent
            | DemoStartLiveness
            | DemoLivenessFrames(_)
            | DemoEnroll
            | DemoVerify => true,
        }
    }

    /// The keyless demo routes (see `api::demo`).
    pub(crate) fn is_demo(&self) -> bool {
        use Route::*;
        matches!(
            self,
            DemoPage
                | DemoPreflight
                | DemoConsent
                | DemoStartLiveness
                | DemoLivenessFrames(_)
                | DemoEnroll
                | DemoVerify
        )
    }
}

/// A request path for logs: a handoff's token (a credential) masked.
pub(crate) fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    // As `resolve` reads it: leading slashes do not matter.
    match path.trim_start_matches('/').strip_prefix("v1/handoff/") {
        Some(rest) if !rest.is_empty() => {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            format!("/v1/handoff/…{tail}").into()
        }
        _ => path.into(),
    }
}

/// A template's path with each parameter filled in, for resolving it.
pub(super) fn sample_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            ":type" => "risk",
            s if s.starts_with(':') => "x1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_and_tells_405_from_404() {
        assert_eq!(
            Route::resolve(&Method::GET, "/v1/users/user_1").unwrap(),
            Route::GetUser(UserId::from_string("user_1"))
        );
        assert_eq!(
            Route::resolve(&Method::PATCH, "/v1/users/user_1/status").unwrap(),
            Route::SetUserStatus(UserId::from_string("user_1"))
        );
        assert!(matches!(
            Route::resolve(&Method::POST, "/v1/users/user_1"),
            Err(ApiError::MethodNotAllowed)
        ));
        assert!(matches!(
            Route::resolve(&Method::GET, "/v1/nope"),
            Err(ApiError::RouteNotFound)
        ));
        assert_eq!(
            Route::resolve(&Method::HEAD, "/demo").unwrap(),
            Route::DemoPage
        );
        assert!(matches!(
            Route::resolve(&Method::GET, "/v1/users/a/b/c"),
            Err(ApiError::RouteNotFound)
        ));
    }

    #[test]
    fn the_route_table_is_the_matcher() {
        let mut templates = std::collections::HashSet::new();
        for (method, template) in ROUTE_TABLE {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let route = Route::resolve(&method, &sample_path(template))
                .unwrap_or_else(|err| panic!("{method} {template}: {err:?}"));
            // Two routes share a template (users/:id for GET and DELETE, webhooks for GET and POST).
            assert_eq!(route.template(), *template, "{method} {template}");
            assert!(templates.insert((method, *template)), "{template} twice");
        }
        assert_eq!(templates.len(), ROUTE_TABLE.len());
    }

    #[test]
    fn handoff_tokens_stay_out_of_logs() {
        assert_eq!(
            loggable_path("/v1/handoff/fgh_secret/liveness/abc/frames"),
            "/v1/handoff/…/liveness/abc/frames"
        );
        assert_eq!(loggable_path("/v1/handoff"), "/v1/handoff");
        assert_eq!(
            loggable_path("//v1/handoff/fgh_secret/scan"),
            "/v1/handoff/…/scan"
        );
        assert_eq!(loggable_path("/v1/users/u"), "/v1/users/u");
        let route = Route::resolve(&Method::POST, "/v1/handoff/fgh_x/complete").unwrap();
        assert_eq!(route.resource_id(), None);
    }
}
