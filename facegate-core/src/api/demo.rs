//! `/demo`: a page to try face login on, and the keyless routes behind it.
//!
//! The routes are the `/v1` handlers run for one built-in demo tenant, so the
//! demo shows the real product: `/demo/liveness-session`, `…/{id}/frames`,
//! `/demo/consent`, `/demo/enroll`, `/demo/verify`, plus `/demo/preflight`
//! (what the page needs to know) and `GET /demo` (the page). Without an API
//! key anyone can call them, so they are off unless the host turns them on
//! ([`super::FaceGateBuilder::demo`]), each client's requests are rate
//! limited, and what people enroll is deleted after [`DemoConfig::data_ttl`].

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};

use super::rate_limit::FixedWindow;
use super::routes::Route;
use super::{AuditDraft, FaceGate, wire};
use crate::clock;
use crate::deletion::DeletionReason;
use crate::domain::{
    KeyScope, LivenessSettings, PinSettings, Tenant, TenantSettings, TenantStatus,
};
use crate::error::{ApiError, FieldIssue};
use crate::ids::TenantId;

const DEMO_PAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../facegate-web/demo/index.html"
));

/// How often expired demo users are looked for, and how many go per sweep.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
const SWEEP_BATCH: u64 = 100;
/// The window of [`DemoConfig::requests_per_minute`].
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The client's network address, which adapters put in the request's
/// extensions: the demo's rate limit is per address, counted in the store
/// (one limit across all instances). Without it (an axum app served without
/// `into_make_service_with_connect_info`), all clients share one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Turns the demo on; see the module docs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The demo tenant's face rules; they replace whatever it has stored.
    pub settings: TenantSettings,
    /// Requests one client may make to the demo's POST routes per minute.
    pub requests_per_minute: u32,
    /// How long enrolled demo users (and their faces) are kept.
    pub data_ttl: Duration,
    /// Origins allowed to embed the demo page in an iframe and to receive
    /// its `postMessage` close events.
    pub embed_origins: Vec<String>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            settings: TenantSettings::default(),
            requests_per_minute: 60,
            data_ttl: Duration::from_secs(24 * 60 * 60),
            embed_origins: Vec::new(),
        }
    }
}

/// The demo's state inside [`FaceGate`].
pub(super) struct Demo {
    config: DemoConfig,
    tenant: tokio::sync::OnceCell<Tenant>,
    limiter: FixedWindow,
    last_sweep: Mutex<Option<Instant>>,
}

impl Demo {
    pub(super) fn new(mut config: DemoConfig) -> Self {
        // The demo runs as a client key: its users get this role, whatever
        // the page sends.
        config.settings.client_role = DEMO_ROLE.into();
        Self {
            limiter: FixedWindow {
                limit: config.requests_per_minute,
                window: RATE_WINDOW,
            },
            config,
            tenant: tokio::sync::OnceCell::new(),
            last_sweep: Mutex::new(None),
        }
    }

    /// Whether a sweep is due now (and, if so, claims it).
    fn sweep_due(&self, now: Instant) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(at) if now.duration_since(at) < SWEEP_EVERY => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Preflight<'a> {
    ready: bool,
    face_engine: Option<&'static str>,
    liveness: &'a LivenessSettings,
    pin: &'a PinSettings,
    consent: Option<PreflightConsent>,
    data_ttl_hours: u64,
    embed_origins: &'a [String],
}

#[derive(Serialize, utoipa::ToSchema)]
struct PreflightConsent {
    consent_version: String,
    consent_text: String,
    consent_text_hash: String,
}

impl FaceGate {
    /// Serves a `/demo` route; 404 while the demo is off.
    pub(super) async fn demo<B>(
        &self,
        route: Route,
        parts: &Parts,
        body: B,
        audit: &mut AuditDraft,
    ) -> Result<Response<Bytes>, ApiError>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let demo = self.inner.demo.as_ref().ok_or(ApiError::RouteNotFound)?;
        if route == Route::DemoPage {
            return Ok(page(&demo.config.embed_origins));
        }
        if parts.method == Method::POST {
            let bucket = rate_bucket(parts.extensions.get::<ClientAddr>());
            demo.limiter
                .check(self.inner.store.as_ref(), &bucket, clock::now())
                .await?;
        }
        let tenant = self.demo_tenant(demo).await?;
        audit.tenant = Some(tenant.clone());
        self.sweep_demo_data(demo, &tenant).await;
        let body = self.read_body(&route, &parts.headers, body).await?;
        match route {
            Route::DemoPreflight => Ok(self.demo_preflight(demo, &tenant)),
            Route::DemoConsent => self.record_consent(&tenant, KeyScope::Client, &body).await,
            Route::DemoStartLiveness => self.start_liveness(&tenant, &parts.headers, &[]).await,
            Route::DemoLivenessFrames(id) => {
                self.submit_liveness_frames(&tenant, &id, parts, &body)
                    .await
            }
            Route::DemoEnroll => {
                self.enroll(&tenant, KeyScope::Client, parts, &demo_enroll_body(&body)?)
                    .await
            }
            Route::DemoVerify => self.verify(&tenant, parts, &body).await,
            _ => Err(ApiError::RouteNotFound),
        }
    }

    fn demo_preflight(&self, demo: &Demo, tenant: &Tenant) -> Response<Bytes> {
        let face_engine = self.inner.face.as_ref().map(|face| face.name());
        let consent = self
            .inner
            .consent
            .versions()
            .pop()
            .map(|v| PreflightConsent {
                consent_version: v.consent_version,
                consent_text: v.text,
                consent_text_hash: v.consent_text_hash,
            });
        let ready = face_engine.is_some() && consent.is_some();
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        wire::json_response(
            status,
            &Preflight {
                ready,
                face_engine,
                liveness: &tenant.settings.liveness,
                pin: &tenant.settings.pin,
                consent,
                data_ttl_hours: demo.config.data_ttl.as_secs() / 3600,
                embed_origins: &demo.config.embed_origins,
            },
        )
    }

    /// The demo tenant, created on first use with the configured settings;
    /// 403 `TENANT_SUSPENDED` while an operator has it suspended (read on
    /// every request: the demo is not a hot path, and a suspension must
    /// hold on every instance at once).
    async fn demo_tenant(&self, demo: &Demo) -> Result<Tenant, ApiError> {
        let cached = self.demo_tenant_once(demo).await?;
        let tenant = self
            .inner
            .store
            .tenant(&cached.id)
            .await?
            .ok_or(ApiError::RouteNotFound)?;
        if tenant.status != TenantStatus::Active {
            return Err(ApiError::TenantSuspended);
        }
        Ok(tenant)
    }

    /// The demo tenant as created (or found) on first use; its status is
    /// not current, see [`Self::demo_tenant`].
    async fn demo_tenant_once(&self, demo: &Demo) -> Result<Tenant, ApiError> {
        let tenant = demo
            .tenant
            .get_or_try_init(|| async {
                let id = TenantId::demo();
                let store = &self.inner.store;
                let settings = demo.config.settings.clone();
                match store.tenant(&id).await? {
                    Some(mut tenant) => {
                        if tenant.settings != settings {
                            store.set_tenant_settings(&id, &settings).await?;
                            tenant.settings = settings;
                        }
                        Ok::<_, ApiError>(tenant)
                    }
                    None => {
                        let tenant = Tenant {
                            id: id.clone(),
                            name: "FaceGate demo".into(),
                            status: TenantStatus::Active,
                            settings,
                            created_at: clock::now(),
                        };
                        if let Err(err) = store.insert_tenant(&tenant).await {
                            // Another instance sharing the database was first.
                            return store.tenant(&id).await?.ok_or(err.into());
                        }
                        Ok(tenant)
                    }
                }
            })
            .await?;
        Ok(tenant.clone())
    }

    /// Deletes demo users older than the data TTL, a batch at most once a
    /// minute. Best effort: a failure is logged, the request goes on.
    async fn sweep_demo_data(&self, demo: &Demo, tenant: &Tenant) {
        if !demo.sweep_due(Instant::now()) {
            return;
        }
        let now = clock::now();
        // Past windows of the rate limit: one row per address and minute.
        let window = chrono::Duration::from_std(RATE_WINDOW).unwrap_or(chrono::Duration::MAX);
        if let Err(err) = self
            .inner
            .store
            .prune_request_windows(now - window - window)
            .await
        {
            tracing::warn!(%err, "could not prune the demo's rate-limit windows");
        }
        let ttl = chrono::Duration::from_std(demo.config.data_ttl).unwrap_or(chrono::Duration::MAX);
        let before = now - ttl;
        let expired = match self
            .inner
            .store
            .users_created_before(&tenant.id, before, SWEEP_BATCH)
            .await
        {
            Ok(expired) => expired,
            Err(err) => {
                tracing::warn!(%err, "could not list expired demo users");
                return;
            }
        };
        let full_batch = expired.len() as u64 == SWEEP_BATCH;
        // The demo keeps its users for `data_ttl`: a retention period.
        let deleted = self
            .erase_users(tenant, &expired, DeletionReason::Retention, None)
            .await;
        tracing::info!(deleted, "expired demo users deleted");
        // Then their consents and ceremonies, once no older user is left.
        if !full_batch
            && let Err(err) = self
                .inner
                .store
                .delete_ceremonies_before(&tenant.id, before)
                .await
        {
            tracing::warn!(%err, "could not delete expired demo consents and ceremonies");
        }
    }
}

/// The one role of demo users: whatever the page sends, nobody enrolls
/// themselves as `admin` of anything.
pub(super) const DEMO_ROLE: &str = "demo";

/// `/demo/enroll` takes `/v1/enroll`'s body with `name` optional and the
/// role left to the demo tenant's `client_role` ([`DEMO_ROLE`]), and only
/// from a liveness session: nobody enrolls an uploaded photo.
fn demo_enroll_body(body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let mut request: Map<String, Value> = wire::parse_json(body)?;
    if request.contains_key("face_image") {
        return Err(ApiError::Validation(vec![FieldIssue::new(
            "face_image",
            "the demo enrolls from a liveness session only",
        )]));
    }
    request
        .entry("name")
        .or_insert_with(|| Value::from("Demo user"));
    request.remove("role");
    serde_json::to_vec(&request).map_err(|err| ApiError::Internal(err.to_string()))
}

/// The demo page; framed only by itself and the embed origins.
fn page(embed_origins: &[String]) -> Response<Bytes> {
    let mut response = wire::html_page(DEMO_PAGE, "no-cache");
    let headers = response.headers_mut();
    let ancestors = std::iter::once("'self'")
        .chain(
            embed_origins
                .iter()
                .map(String::as_str)
                .filter(|origin| is_plain_origin(origin)),
        )
        .collect::<Vec<_>>()
        .join(" ");
    if let Ok(value) = HeaderValue::from_str(&format!("frame-ancestors {ancestors}")) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `https://host[:port]`, nothing that could smuggle another directive in.
fn is_plain_origin(origin: &str) -> bool {
    (origin.starts_with("https://") || origin.starts_with("http://"))
        && origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".:/-".contains(&b))
}

/// The demo's rate-limit bucket for a client: its IPv4 address, or its
/// IPv6 /64 (one subscriber's network: an attacker has the whole of it).
fn rate_bucket(client: Option<&ClientAddr>) -> String {
    match client.map(|c| c.0.to_canonical()) {
        Some(IpAddr::V4(v4)) => format!("demo:{v4}"),
        Some(IpAddr::V6(v6)) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            format!("demo:{}/64", std::net::Ipv6Addr::from(network))
        }
        None => "demo:unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_network_shares_one_rate_limit() {
        let addr = |s: &str| Some(ClientAddr(s.parse().unwrap()));
        assert_eq!(
            rate_bucket(addr("203.0.113.7").as_ref()),
            "demo:203.0.113.7"
        );
        assert_eq!(
            rate_bucket(addr("::ffff:203.0.113.7").as_ref()),
            "demo:203.0.113.7"
        );
        assert_eq!(
            rate_bucket(addr("2001:db8:1:2:aaaa::1").as_ref()),
            rate_bucket(addr("2001:db8:1:2:ffff:ffff:ffff:ffff").as_ref())
        );
        assert_eq!(
            rate_bucket(addr("2001:db8:1:2::9").as_ref()),
            "demo:2001:db8:1:2::/64"
        );
        assert_ne!(
            rate_bucket(addr("2001:db8:1:2::1").as_ref()),
            rate_bucket(addr("2001:db8:1:3::1").as_ref())
        );
        assert_eq!(rate_bucket(None), "demo:unknown");
    }

    #[test]
    fn enroll_defaults_the_profile_and_refuses_uploaded_photos() {
        let body =
            demo_enroll_body(br#"{"liveness_session_id":"x","role":"admin","payload":{"a":1}}"#)
                .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["name"], "Demo user");
        assert!(body.get("role").is_none(), "whatever the page sent");
        assert_eq!(body["payload"]["a"], 1);
        assert!(demo_enroll_body(br#"{"face_image":"abc"}"#).is_err());
    }

    #[test]
    fn only_plain_origins_reach_frame_ancestors() {
        let response = page(&[
            "https://shop.example".into(),
            "https://evil.example; script-src *".into(),
        ]);
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            "frame-ancestors 'self' https://shop.example"
        );
    }
}
