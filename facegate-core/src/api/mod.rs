//! The framework-neutral REST API: `http::Request` in, `http::Response` out.
//! Adapters (`facegate-axum`, `facegate-actix`) only translate to and from
//! their framework's types; every rule lives here.

mod analytics;
mod billing;
mod consent;
mod cors;
mod deletions;
mod demo;
mod faces;
mod handoff;
mod health;
mod keys;
mod liveness;
mod maintenance;
pub(crate) mod openapi;
pub(crate) mod origin;
mod policy;
mod rate_limit;
mod reseal;
mod risk;
mod routes;
mod sdk;
mod sessions;
mod signals;
mod sync;
mod threat_intel;
mod usage;
pub use cors::CorsConfig;
pub use demo::{ClientAddr, DemoConfig};
pub use handoff::{
    HANDOFF_AUTH_TIMEOUT, HandoffConfig, HandoffFeed, HandoffSocket,
    SECRET_HEADER as HANDOFF_SECRET_HEADER, SocketClose,
};
pub use maintenance::{MaintenanceReport, Retention, UNAUTHENTICATED_PER_MINUTE};
pub use reseal::ResealReport;
pub use routes::ROUTE_TABLE;
pub use sessions::OpenedSession;
pub use signals::SignalsConfig;
mod users;
mod verify;
mod webhooks;
pub(crate) mod wire;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request, Response, header};
use http_body::Body;

use crate::api_key::ApiKey;
use crate::clock;
use crate::domain::{AuditEvent, KeyScope, SigningKeyRecord, Tenant, TenantStatus};
use crate::error::ApiError;
use crate::ids::{ApiKeyId, TenantId};
use crate::providers::consent::{ConsentRegistry, StaticConsentRegistry};
use crate::providers::face::FaceProvider;
use crate::providers::risk::{DefaultRiskPolicy, RiskPolicy, ThreatIntel};
use crate::providers::session::SessionProvider;
use crate::store::Store;
use crate::token::{KeyRing, TokenConfig};
use routes::Route;

/// Request body limits. Image routes need room for a base64 photo; everything
/// else is small JSON, and a small limit keeps abuse cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Routes that carry images (enroll, match, detect-attributes…). Default 6 MB.
    pub image_routes: usize,
    /// Every other route. Default 64 KB.
    pub other_routes: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            image_routes: 6 * 1024 * 1024,
            other_routes: 64 * 1024,
        }
    }
}

/// The FaceGate service. Cheap to clone; build it once with [`FaceGate::builder`]
/// and hand it to an adapter.
#[derive(Clone)]
pub struct FaceGate {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    consent: Arc<dyn ConsentRegistry>,
    face: Option<Arc<dyn FaceProvider>>,
    limits: BodyLimits,
    started: Instant,
    followers: faces::IndexFollowers,
    tokens: TokenConfig,
    /// Loaded from the store on first use, replaced on rotation.
    keys: tokio::sync::RwLock<Option<Arc<KeyRing>>>,
    /// When re-reading the signing keys last failed.
    key_reload_failed: std::sync::Mutex<Option<Instant>>,
    risk: Arc<dyn RiskPolicy>,
    threat_intel: Option<Arc<dyn ThreatIntel>>,
    billing: Option<Arc<dyn crate::billing::BillingProvider>>,
    metrics: Option<crate::metrics::Metrics>,
    /// By the `provider` name clients send; `jwt` is built in.
    session_providers: SessionProviders,
    /// Tokens the guard has verified recently.
    guard_cache: crate::guard::GuardCache,
    /// Host-supplied signing keys; `None` keeps them in the store.
    configured_keys: Option<Vec<SigningKeyRecord>>,
    cors: CorsConfig,
    demo: Option<demo::Demo>,
    retention: Retention,
    housekeeping: maintenance::Housekeeping,
    master_key: Option<crate::sealed::MasterKey>,
    /// Whether face templates may be stored plain or under a previous
    /// master key (see [`FaceGate::reseal_templates`]).
    reseal_wanted: std::sync::atomic::AtomicBool,
    handoff: HandoffConfig,
    webhooks: webhooks::Webhooks,
    signals: signals::Signals,
    threats: threat_intel::Threats,
    plans: crate::usage::Plans,
}

/// Configures a [`FaceGate`]; only the store is required.
pub struct FaceGateBuilder {
    store: Arc<dyn Store>,
    consent: Arc<dyn ConsentRegistry>,
    face: Option<Arc<dyn FaceProvider>>,
    limits: BodyLimits,
    tokens: TokenConfig,
    risk: Arc<dyn RiskPolicy>,
    threat_intel: Option<Arc<dyn ThreatIntel>>,
    billing: Option<Arc<dyn crate::billing::BillingProvider>>,
    metrics: Option<crate::metrics::MetricsConfig>,
    session_providers: SessionProviders,
    guard: crate::guard::GuardConfig,
    configured_keys: Option<Vec<SigningKeyRecord>>,
    cors: CorsConfig,
    demo: Option<DemoConfig>,
    retention: Retention,
    master_key: Option<crate::sealed::MasterKey>,
    handoff: HandoffConfig,
    webhooks: crate::webhook::WebhookConfig,
    signals: SignalsConfig,
    threats: crate::threat::ThreatConfig,
    plans: crate::usage::Plans,
}

impl FaceGateBuilder {
    /// The consent texts clients may record consent for. Without one, no
    /// consent can be recorded (and so nobody can be enrolled).
    pub fn consent_registry(mut self, registry: impl ConsentRegistry) -> Self {
        self.consent = Arc::new(registry);
        self
    }

    pub fn face_provider(mut self, provider: impl FaceProvider) -> Self {
        self.face = Some(Arc::new(provider));
        self
    }

    pub fn body_limits(mut self, limits: BodyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Issuer, audience and lifetime of the tokens FaceGate signs.
    pub fn tokens(mut self, tokens: TokenConfig) -> Self {
        self.tokens = tokens;
        self
    }

    /// Signs tokens with host-supplied keys (see
    /// [`crate::token::signing_key_from_pem`]) instead of keys generated and
    /// kept in the store: `current` signs, `previous` keys keep verifying for
    /// one token lifetime after start (a rolling key change). Rotation is then
    /// the host's, by configuration.
    pub fn signing_keys(
        mut self,
        current: SigningKeyRecord,
        previous: Vec<SigningKeyRecord>,
    ) -> Self {
        let now = crate::clock::now();
        let mut keys: Vec<SigningKeyRecord> = previous
            .into_iter()
            .map(|key| SigningKeyRecord {
                retired_at: Some(now),
                ..key
            })
            .collect();
        keys.push(current);
        self.configured_keys = Some(keys);
        self
    }

    /// Lets browser apps on these origins call the API (preflights and
    /// `Access-Control-*` headers); none by default.
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.cors = cors;
        self
    }

    /// Serves the try-it page at `/demo` and its keyless routes, on a
    /// built-in demo tenant (see [`DemoConfig`]). Off by default: turn it on
    /// for demos and evaluation, not on a production deployment.
    pub fn demo(mut self, demo: DemoConfig) -> Self {
        self.demo = Some(demo);
        self
    }

    /// Seals what FaceGate stores that a copy of the database must not give
    /// away (AES-256-GCM): the signing keys it generates, webhook secrets,
    /// face templates and the reference images of live sessions; see
    /// [`crate::sealed`]. Values stored before the key was set are still
    /// read; without the key, sealed values do not open (500).
    pub fn master_key(mut self, key: crate::sealed::MasterKey) -> Self {
        self.master_key = Some(key);
        self
    }

    /// How long audit events are kept (400 days by default); see
    /// [`FaceGate::run_maintenance`].
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Scores verify attempts; [`DefaultRiskPolicy`] otherwise.
    pub fn risk_policy(mut self, policy: impl RiskPolicy) -> Self {
        self.risk = Arc::new(policy);
        self
    }

    /// A threat feed of the host's own, read with the learned patterns by
    /// the risk engine's `threat_intel_match` factor; none by default.
    pub fn threat_intel(mut self, feed: impl ThreatIntel) -> Self {
        self.threat_intel = Some(Arc::new(feed));
        self
    }

    /// Lets `POST /v1/session` create sessions of this provider (Supabase,
    /// Firebase, Auth0…) for every tenant that has none of that name of its
    /// own; unregistered providers answer 501.
    pub fn session_provider(mut self, provider: impl SessionProvider) -> Self {
        self.session_providers
            .shared
            .insert(provider.name(), Arc::new(provider));
        self
    }

    /// This tenant's provider of that name (its own Supabase project, say),
    /// in place of the one every tenant shares. A host that registers only
    /// per-tenant providers gives each tenant exactly the ones it set up;
    /// the others answer 501.
    pub fn session_provider_for(
        mut self,
        tenant: TenantId,
        provider: impl SessionProvider,
    ) -> Self {
        self.session_providers
            .per_tenant
            .insert((tenant, provider.name()), Arc::new(provider));
        self
    }

    /// Cross-device handoff settings (the public URL its QR codes point to).
    pub fn handoff(mut self, handoff: HandoffConfig) -> Self {
        self.handoff = handoff;
        self
    }

    /// How events are delivered to tenants' webhook endpoints.
    pub fn webhooks(mut self, webhooks: crate::webhook::WebhookConfig) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// How client signals are taken in (`POST /v1/signals`).
    pub fn signals(mut self, signals: SignalsConfig) -> Self {
        self.signals = signals;
        self
    }

    /// How threats are learned (`GET /v1/threat-intel`); see [`crate::threat`].
    pub fn threats(mut self, threats: crate::threat::ThreatConfig) -> Self {
        self.threats = threats;
        self
    }

    /// The plans the host sells its tenants (see [`crate::usage::Plans`]);
    /// without them every tenant is on [`crate::usage::Plan::unmetered`].
    pub fn plans(mut self, plans: crate::usage::Plans) -> Self {
        self.plans = plans;
        self
    }

    /// Takes payment for the plans (`facegate-billing-stripe`); without
    /// one, checkout, portal and the provider's webhook answer 503
    /// `billing_not_configured`.
    pub fn billing(mut self, provider: impl crate::billing::BillingProvider) -> Self {
        self.billing = Some(Arc::new(provider));
        self
    }

    /// Counts requests, logins, liveness checks and the engine's load for
    /// Prometheus ([`FaceGate::metrics_text`]); off by default.
    pub fn metrics(mut self, metrics: crate::metrics::MetricsConfig) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How the guard caches verified tokens; see [`crate::guard`].
    pub fn guard(mut self, guard: crate::guard::GuardConfig) -> Self {
        self.guard = guard;
        self
    }

    pub fn build(self) -> FaceGate {
        if self.master_key.is_none() && self.face.is_some() {
            tracing::warn!(
                "face templates and the reference images of live sessions are stored unencrypted: configure a master key (FaceGateBuilder::master_key, FACEGATE_MASTER_KEY) to seal them"
            );
        }
        FaceGate {
            inner: Arc::new(Inner {
                store: self.store,
                consent: self.consent,
                face: self.face,
                limits: self.limits,
                started: Instant::now(),
                followers: faces::IndexFollowers::default(),
                tokens: self.tokens,
                keys: tokio::sync::RwLock::new(None),
                key_reload_failed: std::sync::Mutex::new(None),
                risk: self.risk,
                threat_intel: self.threat_intel,
                billing: self.billing,
                metrics: self.metrics.map(crate::metrics::Metrics::new),
                session_providers: self.session_providers,
                guard_cache: crate::guard::GuardCache::new(self.guard),
                configured_keys: self.configured_keys,
                cors: self.cors,
                demo: self.demo.map(demo::Demo::new),
                retention: self.retention,
                housekeeping: maintenance::Housekeeping::default(),
                reseal_wanted: self.master_key.is_some().into(),
                master_key: self.master_key.clone(),
                handoff: self.handoff,
                webhooks: webhooks::Webhooks::new(self.webhooks),
                signals: signals::Signals::new(self.signals),
                threats: threat_intel::Threats {
                    indicators: crate::threat::Indicators::new(self.master_key.as_ref()),
                    config: self.threats.bounded(),
                },
                plans: self.plans,
            }),
        }
    }
}

/// The session providers: a tenant's own first, then the shared ones.
#[derive(Default)]
struct SessionProviders {
    shared: HashMap<&'static str, Arc<dyn SessionProvider>>,
    per_tenant: HashMap<(TenantId, &'static str), Arc<dyn SessionProvider>>,
}

impl SessionProviders {
    fn get(&self, tenant: &TenantId, name: &'static str) -> Option<&Arc<dyn SessionProvider>> {
        self.per_tenant
            .get(&(tenant.clone(), name))
            .or_else(|| self.shared.get(name))
    }
}

/// What the audit trail learns about a request as it is handled.
struct AuditDraft {
    tenant: Option<Tenant>,
    route: Option<Route>,
    error_code: Option<&'static str>,
    note: Option<&'static str>,
    /// What the request counts as, when its route alone cannot say (a
    /// handoff's completion logs in or enrolls).
    usage: Option<crate::usage::UsageMetric>,
    /// The request reached its handler: key, scope and body were fine.
    handled: bool,
}

impl FaceGate {
    pub fn builder(store: impl Store) -> FaceGateBuilder {
        Self::builder_with_store(Arc::new(store))
    }

    /// Like [`FaceGate::builder`], for a store the host keeps a handle to.
    pub fn builder_with_store(store: Arc<dyn Store>) -> FaceGateBuilder {
        FaceGateBuilder {
            store,
            consent: Arc::new(StaticConsentRegistry::new()),
            face: None,
            limits: BodyLimits::default(),
            tokens: TokenConfig::default(),
            risk: Arc::new(DefaultRiskPolicy),
            threat_intel: None,
            billing: None,
            metrics: None,
            session_providers: SessionProviders::default(),
            guard: crate::guard::GuardConfig::default(),
            configured_keys: None,
            cors: CorsConfig::default(),
            demo: None,
            retention: Retention::default(),
            master_key: None,
            handoff: HandoffConfig::default(),
            webhooks: crate::webhook::WebhookConfig::default(),
            signals: SignalsConfig::default(),
            threats: crate::threat::ThreatConfig::default(),
            plans: crate::usage::Plans::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The metrics in Prometheus' text format, read now (the engine's load,
    /// the webhook backlog); `None` unless [`FaceGateBuilder::metrics`]
    /// turned them on. Serve it to the scraper only (a separate listener,
    /// or a route the host guards): it tells about traffic, not tenants.
    pub async fn metrics_text(&self) -> Option<String> {
        let metrics = self.inner.metrics.as_ref()?;
        let engine = self.inner.face.as_ref().and_then(|face| face.load());
        let backlog = match self.inner.store.count_pending_deliveries().await {
            Ok(count) => Some(count),
            Err(err) => {
                tracing::warn!(%err, "metrics: could not count pending webhook deliveries");
                None
            }
        };
        Some(metrics.render(engine, backlog))
    }

    /// Counts a judged liveness check (when metrics are on).
    pub(crate) fn count_liveness(&self, outcome: &'static str) {
        if let Some(metrics) = &self.inner.metrics {
            metrics.liveness(outcome);
        }
    }

    /// The host's plans (see [`FaceGateBuilder::plans`]).
    pub fn plans(&self) -> &crate::usage::Plans {
        &self.inner.plans
    }

    pub(crate) fn token_config(&self) -> &TokenConfig {
        &self.inner.tokens
    }

    pub(crate) fn guard_cache(&self) -> &crate::guard::GuardCache {
        &self.inner.guard_cache
    }

    /// Serves one request. Never fails: every error becomes its JSON response,
    /// and every request leaves an audit event.
    #[tracing::instrument(name = "facegate", skip_all, fields(method = %request.method(), path = %routes::loggable_path(request.uri().path())))]
    pub async fn handle<B>(&self, request: Request<B>) -> Response<Bytes>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        self.maintain_if_due();
        self.start_webhook_worker();
        let (parts, body) = request.into_parts();
        let mut audit = AuditDraft {
            tenant: None,
            route: None,
            error_code: None,
            note: None,
            usage: None,
            handled: false,
        };
        if let Some(preflight) = self.inner.cors.preflight(&parts.method, &parts.headers) {
            return preflight;
        }
        let mut response = match self.dispatch(&parts, body, &mut audit).await {
            Ok(response) => response,
            Err(err) => {
                match &err {
                    ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
                    ApiError::ProviderFailed(detail) => {
                        tracing::warn!(%detail, "session provider failed")
                    }
                    _ => {}
                }
                audit.error_code = Some(err.code());
                wire::error_response(&err)
            }
        };
        self.inner.cors.decorate(&parts.headers, &mut response);
        if parts.method == http::Method::HEAD {
            // The GET's status and headers (its length included), no body.
            let length = http::HeaderValue::from(response.body().len());
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, length);
            *response.body_mut() = Bytes::new();
        }
        let elapsed = started.elapsed();
        let latency_ms = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        let usage = Self::usage_tallies(&audit, &parts.headers, &response, latency_ms);
        if let Some(metrics) = &self.inner.metrics {
            let route = audit.route.as_ref().map_or("(unmatched)", Route::template);
            metrics.request(
                route,
                &parts.method,
                response.status().as_u16(),
                elapsed.as_secs_f64(),
            );
            if let Some((tenant, outcome)) = usage::login_outcome(usage.as_ref()) {
                metrics.login(outcome, tenant);
            }
        }
        let status = response.status().as_u16();
        tokio::join!(
            self.record_audit(&parts, audit, status, latency_ms),
            self.count_usage(usage)
        );
        response
    }

    async fn dispatch<B>(
        &self,
        parts: &Parts,
        body: B,
        audit: &mut AuditDraft,
    ) -> Result<Response<Bytes>, ApiError>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let route = Route::resolve(&parts.method, parts.uri.path())?;
        audit.route = Some(route.clone());
        // Routes that need no API key: probes, the keys other services
        // verify FaceGate tokens with, and the browser SDK.
        match route {
            Route::Health => return Ok(self.health().await),
            Route::Jwks => return self.jwks().await,
            Route::OpenApi => return Ok(openapi::serve()),
            Route::Sdk(file) => return Ok(sdk::serve(file)),
            ref demo if demo.is_demo() => {
                audit.handled = true;
                return self.demo(route, parts, body, audit).await;
            }
            Route::HandoffPhone(token, step) => {
                audit.handled = true;
                return self.phone(&token, step, parts, body, audit).await;
            }
            Route::BillingWebhook(provider) => {
                let body = self.read_body(&route, &parts.headers, body).await?;
                audit.handled = true;
                let (answer, tenant) = self
                    .billing_webhook(provider, &parts.headers, &body)
                    .await?;
                // A verified event about a tenant goes on its audit trail.
                audit.tenant = tenant;
                return Ok(answer);
            }
            _ => {}
        }

        // A beacon cannot set headers: its (client) key is in the body.
        let (tenant, scope, key, body) =
            if route == Route::Signals && presented_key(&parts.headers).is_none() {
                let body = self.read_body(&route, &parts.headers, body).await?;
                let presented = signals::beacon_key(&body).ok_or(ApiError::MissingApiKey)?;
                let (tenant, scope, key, origins) =
                    self.authenticate_key(&presented, &parts.headers).await?;
                audit.tenant = Some(tenant.clone());
                if scope != KeyScope::Client {
                    // A server key has no business in a page's beacon.
                    return Err(ApiError::InsufficientScope {
                        required: KeyScope::Client.as_str(),
                    });
                }
                // A beacon is a simple request: no preflight asks CORS first.
                // So it must name its page, and the page must be one the key
                // lists or, for a key open to any origin, one CORS allows.
                if parts.headers.get(header::ORIGIN).is_none() {
                    return Err(ApiError::EmptyOrigin);
                }
                if origins.allowed.is_empty() && !self.inner.cors.allows(&parts.headers) {
                    return Err(ApiError::ForbiddenOrigin);
                }
                (tenant, scope, key, body)
            } else {
                let (tenant, scope, key) = self.authenticate(&parts.headers).await?;
                audit.tenant = Some(tenant.clone());
                if scope == KeyScope::Client && !route.allows_client_keys(&tenant.settings) {
                    return Err(ApiError::InsufficientScope {
                        required: KeyScope::Server.as_str(),
                    });
                }
                let body = self.read_body(&route, &parts.headers, body).await?;
                (tenant, scope, key, body)
            };
        audit.tenant = Some(tenant.clone());
        audit.handled = true;
        let query = parts.uri.query();

        match route {
            Route::Health => Ok(self.health().await),
            Route::Jwks => self.jwks().await,
            Route::OpenApi => Ok(openapi::serve()),
            Route::Sdk(file) => Ok(sdk::serve(file)),
            Route::ConsentVersions => Ok(self.consent_versions()),
            Route::RecordConsent => self.record_consent(&tenant, scope, &body).await,
            Route::RevokeConsent(id) => self.revoke_consent(&tenant, &id).await,
            Route::ListUsers => self.list_users(&tenant, query).await,
            Route::GetUser(id) => self.get_user(&tenant, &id).await,
            Route::DeleteUser(id) => self.delete_user_route(&tenant, &id, query).await,
            Route::GetDeletion(id) => self.get_deletion(&tenant, &id).await,
            Route::SetUserStatus(id) => self.set_user_status(&tenant, &id, &body).await,
            Route::ReEnroll(id) => {
                self.re_enroll(&tenant, scope, &parts.headers, &id, &body, audit)
                    .await
            }
            Route::Enroll => self.enroll(&tenant, scope, parts, &body).await,
            Route::Match => self.match_face(&tenant, scope, &body).await,
            Route::FaceIndex => self.face_index_status(&tenant).await,
            Route::DetectAttributes => self.detect_attributes(&body).await,
            Route::StartLiveness => self.start_liveness(&tenant, &parts.headers, &body).await,
            Route::LivenessFrames(id) => {
                self.submit_liveness_frames(&tenant, &id, parts, &body)
                    .await
            }
            Route::LivenessResult(id) => self.liveness_result(&tenant, &id).await,
            Route::Verify => self.verify(&tenant, parts, &body).await,
            Route::CreateSession => self.create_session(&tenant, &parts.headers, &body).await,
            Route::RefreshSession => self.refresh_session(&tenant, &parts.headers, &body).await,
            Route::RevokeSession(id) => self.revoke_session(&tenant, &id).await,
            Route::SessionRiskScore(id) => self.session_risk_score(&tenant, &id).await,
            Route::ListPolicies => self.list_policies(&tenant).await,
            Route::PutPolicy(kind) => self.put_policy(&tenant, &key, kind, &body).await,
            Route::DeletePolicy(kind) => self.delete_policy(&tenant, &key, kind).await,
            Route::CreateHandoff => self.create_handoff(&tenant, scope, parts, &body).await,
            Route::HandoffStatus(token) => {
                self.handoff_status(&tenant, &token, &parts.headers).await
            }
            Route::Signals => {
                let client = parts.extensions.get::<ClientAddr>().copied();
                self.ingest_signals(&tenant, client, &body).await
            }
            Route::Sync => self.sync_offline(&tenant, &body).await,
            Route::ThreatIntel => self.threat_intel(&tenant).await,
            Route::AnalyticsOverview => self.analytics_overview(&tenant, query).await,
            Route::AnalyticsDevices => self.analytics_devices(&tenant, query).await,
            Route::AnalyticsFailures => self.analytics_failures(&tenant, query).await,
            Route::UsageSummary => self.usage_summary(&tenant, query).await,
            Route::UsageDaily => self.usage_daily(&tenant, query).await,
            Route::BillingStatus => self.billing_status(&tenant).await,
            Route::BillingCheckout => self.billing_checkout(&tenant, &body).await,
            Route::BillingPortal => self.billing_portal(&tenant).await,
            Route::CreateWebhook => self.create_webhook(&tenant, &body).await,
            Route::ListWebhooks => self.list_webhooks(&tenant).await,
            Route::DeleteWebhook(id) => self.delete_webhook(&tenant, &id).await,
            Route::WebhookDeliveries(id) => self.webhook_deliveries(&tenant, &id, query).await,
            Route::Redeliver(id, delivery) => self.redeliver(&tenant, &id, &delivery).await,
            // Reached only without an upgrade: the adapters take sockets.
            Route::HandoffSocket(_) | Route::HandoffPhone(..) | Route::BillingWebhook(_) => {
                Err(ApiError::RouteNotFound)
            }
            Route::DemoPage
            | Route::DemoPreflight
            | Route::DemoConsent
            | Route::DemoStartLiveness
            | Route::DemoLivenessFrames(_)
            | Route::DemoEnroll
            | Route::DemoVerify => Err(ApiError::RouteNotFound),
        }
    }

    /// The request body, within the route's limit (images get the larger one).
    async fn read_body<B>(
        &self,
        route: &Route,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Bytes, ApiError>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limit = if route.carries_images() {
            self.inner.limits.image_routes
        } else {
            self.inner.limits.other_routes
        };
        wire::read_body(headers, body, limit).await
    }

    /// Resolves the tenant and the key's scope from `Authorization: Bearer
    /// fg_…` or `x-api-key`; a client key must also come from one of its
    /// origins. Returns the key's id too, for what it changes.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Tenant, KeyScope, ApiKeyId), ApiError> {
        let presented = presented_key(headers).ok_or(ApiError::MissingApiKey)?;
        let (tenant, scope, key, _) = self.authenticate_key(presented, headers).await?;
        Ok((tenant, scope, key))
    }

    /// Resolves a presented key (see [`FaceGate::authenticate`]), with the
    /// key's origin rules.
    async fn authenticate_key(
        &self,
        presented: &str,
        headers: &HeaderMap,
    ) -> Result<(Tenant, KeyScope, ApiKeyId, crate::domain::OriginRules), ApiError> {
        let key = ApiKey::parse(presented).ok_or(ApiError::InvalidApiKey)?;
        let record = self
            .inner
            .store
            .api_key_by_hash(&key.hash())
            .await?
            // Found by its hash; compared again in constant time all the same.
            .filter(|record| record.revoked_at.is_none() && key.matches(&record.hash))
            .ok_or(ApiError::InvalidApiKey)?;
        let tenant = self
            .inner
            .store
            .tenant(&record.tenant_id)
            .await?
            .ok_or(ApiError::InvalidApiKey)?;
        if tenant.status == TenantStatus::Suspended {
            return Err(ApiError::TenantSuspended);
        }
        if record.scope == KeyScope::Client {
            origin::check(&record.origins, headers)?;
        }
        Ok((tenant, record.scope, record.id, record.origins))
    }

    async fn record_audit(&self, parts: &Parts, audit: AuditDraft, status: u16, latency_ms: u32) {
        // Requests that never reached a tenant are written within a budget.
        let mut note = audit.note.map(str::to_owned);
        if audit.tenant.is_none() {
            match self
                .inner
                .housekeeping
                .admit_unauthenticated(Instant::now())
            {
                maintenance::AuditAdmission::Drop => return,
                maintenance::AuditAdmission::Write { dropped_before: 0 } => {}
                maintenance::AuditAdmission::Write { dropped_before } => {
                    note = Some(format!("dropped {dropped_before}"));
                }
            }
        }
        let header = |name: &str, max: usize| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(max).collect::<String>())
        };
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().simple().to_string(),
            tenant_id: audit.tenant.map(|t| t.id),
            method: parts.method.to_string(),
            route: audit
                .route
                .as_ref()
                .map_or("(unmatched)", Route::template)
                .to_owned(),
            resource_id: audit
                .route
                .as_ref()
                .and_then(Route::resource_id)
                .map(str::to_owned),
            status,
            error_code: audit.error_code.map(str::to_owned),
            note,
            latency_ms,
            user_agent: header("user-agent", 512),
            device_id: header("x-device-id", 128),
            created_at: clock::now(),
        };
        // A lost audit line must not turn a served request into an error.
        if let Err(err) = self.inner.store.record_audit(&event).await {
            tracing::warn!(%err, route = %event.route, "could not record audit event");
        }
    }
}

/// The API key a request carries in `Authorization: Bearer` or `x-api-key`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// How long the health check waits for the database before calling it down.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
