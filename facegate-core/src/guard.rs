//! The guard: a tower layer that lets a request through to the host's own
//! routes only with a valid FaceGate token, and hands the verified claims to
//! the handler (as an `Arc<Claims>` request extension; the adapters wrap it
//! in extractors).
//!
//! ```ignore
//! let app = Router::new()
//!     .route("/api/profile", get(profile))
//!     .layer(FaceGateAuthLayer::new(facegate.clone()));
//! ```
//!
//! Checked, in order: a bearer token (or the configured cookie); signature
//! with the algorithm pinned to EdDSA and a known `kid`; `exp`/`nbf` with
//! leeway, `iss`, `aud`; the session, which must exist and not be revoked or
//! expired, of a tenant that is not suspended; the tenant (`tid`), which must
//! be one the layer accepts ([`FaceGateAuthLayer::tenants`]; the demo
//! tenant only after [`FaceGateAuthLayer::allow_demo`]); the device binding
//! (`dfp` against the `x-device-fingerprint` header); and the role, when the
//! layer requires one.
//!
//! A verified token is cached (see [`GuardConfig`]), so a request with a
//! known token costs a map lookup instead of a signature check and a
//! database read. Expiry, device binding and role are still checked on
//! every request. **Consistency window:** a session revoked through this
//! `FaceGate` (revoke endpoint, refresh-token reuse, a suspended user or
//! tenant) is refused at once; one revoked through another instance sharing
//! the database is refused within [`GuardConfig::session_recheck`] (2
//! seconds by default).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use serde_json::json;
use tower::{Layer, Service};

use crate::FaceGate;
use crate::clock;
use crate::domain::TenantStatus;
use crate::ids::{SessionId, TenantId, UserId};
use crate::policy::TenantPolicies;
use crate::token::Claims;

/// Why a request was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardRejection {
    #[error("A FaceGate token is required")]
    MissingToken,
    #[error("Invalid token: {0}")]
    InvalidToken(String),
    #[error("This route needs the role {0}")]
    WrongRole(String),
    #[error("Could not check the token right now")]
    Unavailable,
    /// The session is past its re-verification deadline (continuous
    /// policy): RFC 9470's step-up challenge, with the policy's interval as
    /// `max_age` (seconds).
    #[error("This session must be re-verified")]
    ReverifyRequired { max_age: u64 },
}

impl GuardRejection {
    /// The JSON error response, with the `WWW-Authenticate` header of RFC 6750.
    pub fn response<B: From<Bytes>>(&self) -> Response<B> {
        let (status, code, challenge) = match self {
            GuardRejection::MissingToken => {
                (StatusCode::UNAUTHORIZED, "MISSING_TOKEN", "Bearer".into())
            }
            GuardRejection::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                "INVALID_TOKEN",
                r#"Bearer error="invalid_token""#.into(),
            ),
            GuardRejection::WrongRole(_) => (
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_ROLE",
                r#"Bearer error="insufficient_scope""#.into(),
            ),
            GuardRejection::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Bearer".into(),
            ),
            GuardRejection::ReverifyRequired { max_age } => (
                StatusCode::UNAUTHORIZED,
                "REVERIFY_REQUIRED",
                format!(
                    r#"Bearer error="insufficient_user_authentication", error_description="A more recent face verification is required", max_age="{max_age}""#
                ),
            ),
        };
        let mut response = crate::api::wire::json_response(
            status,
            &json!({ "error": self.to_string(), "code": code }),
        );
        if let Ok(challenge) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response.map(B::from)
    }
}

/// How the guard caches verified tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// How long a verified token's session is trusted before the store is
    /// read again. Zero reads the store on every request. Default 2 s.
    pub session_recheck: Duration,
    /// Most tokens kept; when full, the cache starts over. Default 10 000.
    pub capacity: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            session_recheck: Duration::from_secs(2),
            capacity: 10_000,
        }
    }
}

/// Verified tokens, by the token itself.
pub(crate) struct GuardCache {
    config: GuardConfig,
    entries: Mutex<HashMap<String, CachedToken>>,
}

#[derive(Clone)]
struct CachedToken {
    verdict: Verdict,
    /// When the session was last read from the store.
    session_checked: Instant,
}

/// A verified token and its session's re-verification deadline.
#[derive(Clone)]
struct Verdict {
    claims: Arc<Claims>,
    /// `(deadline, max_age in seconds)` under a continuous policy.
    reverify: Option<(chrono::DateTime<chrono::Utc>, u64)>,
}

impl GuardCache {
    pub(crate) fn new(config: GuardConfig) -> Self {
        Self {
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedToken>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The verdict on a token verified within the recheck window.
    fn fresh(&self, token: &str) -> Option<Verdict> {
        let entries = self.entries();
        let cached = entries.get(token)?;
        (cached.session_checked.elapsed() < self.config.session_recheck)
            .then(|| cached.verdict.clone())
    }

    fn insert(&self, token: &str, verdict: Verdict) {
        if self.config.session_recheck.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= self.config.capacity {
            entries.clear();
        }
        entries.insert(
            token.to_owned(),
            CachedToken {
                verdict,
                session_checked: Instant::now(),
            },
        );
    }

    fn remove(&self, token: &str) {
        self.entries().remove(token);
    }

    pub(crate) fn forget_session(&self, session: &SessionId) {
        self.entries()
            .retain(|_, cached| cached.verdict.claims.sid != session.as_str());
    }

    pub(crate) fn forget_user(&self, user: &UserId) {
        self.entries()
            .retain(|_, cached| cached.verdict.claims.sub != user.as_str());
    }

    pub(crate) fn forget_tenant(&self, tenant: &TenantId) {
        self.entries()
            .retain(|_, cached| cached.verdict.claims.tid != tenant.as_str());
    }
}

impl FaceGate {
    /// Verifies the FaceGate token of a request to a host route by `rules`;
    /// see the module docs for what is checked.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        rules: &FaceGateAuthLayer,
    ) -> Result<Arc<Claims>, GuardRejection> {
        let token = bearer_token(headers)
            .or_else(|| {
                rules
                    .cookie
                    .as_deref()
                    .and_then(|name| cookie_value(headers, name))
            })
            .ok_or(GuardRejection::MissingToken)?;
        let cache = self.guard_cache();
        let Verdict { claims, reverify } = match cache.fresh(token) {
            Some(verdict) => verdict,
            None => match self.verify_token_and_session(token).await {
                Ok(verdict) => {
                    cache.insert(token, verdict.clone());
                    verdict
                }
                Err(rejection) => {
                    cache.remove(token);
                    return Err(rejection);
                }
            },
        };
        rules.accepts_tenant(&claims.tid)?;
        if let Some((deadline, max_age)) = reverify
            && deadline <= chrono::Utc::now()
        {
            return Err(GuardRejection::ReverifyRequired { max_age });
        }
        let leeway = i64::try_from(self.token_config().leeway.as_secs()).unwrap_or(0);
        // Whole seconds are all `exp` has; no need for the store's truncated clock.
        if claims.exp + leeway <= chrono::Utc::now().timestamp() {
            cache.remove(token);
            return Err(GuardRejection::InvalidToken("the token has expired".into()));
        }
        if !crate::device::matches_binding(claims.dfp.as_deref(), headers) {
            return Err(GuardRejection::InvalidToken(
                "the token is bound to another device".into(),
            ));
        }
        if let Some(role) = rules.role.as_deref()
            && claims.role != role
        {
            return Err(GuardRejection::WrongRole(role.to_owned()));
        }
        Ok(claims)
    }

    /// Forgets cached verdicts on a session's tokens (it was just revoked).
    pub(crate) fn forget_session(&self, session: &SessionId) {
        self.guard_cache().forget_session(session);
    }

    /// The uncached checks: signature and registered claims, then the
    /// session, and its re-verification deadline under the tenant's policy.
    async fn verify_token_and_session(&self, token: &str) -> Result<Verdict, GuardRejection> {
        let claims = self
            .verify_token(token)
            .await
            .map_err(|_| GuardRejection::Unavailable)?
            .map_err(|err| GuardRejection::InvalidToken(err.to_string()))?;
        let session = self
            .store()
            .session(
                &TenantId::from_string(&claims.tid),
                &SessionId::from_string(&claims.sid),
            )
            .await
            .map_err(|_| GuardRejection::Unavailable)?
            .ok_or_else(|| GuardRejection::InvalidToken("unknown session".into()))?;
        if session.revoked_at.is_some() || session.expires_at <= clock::now() {
            return Err(GuardRejection::InvalidToken("the session has ended".into()));
        }
        let tenant = self
            .store()
            .tenant(&session.tenant_id)
            .await
            .map_err(|_| GuardRejection::Unavailable)?
            .filter(|t| t.status == TenantStatus::Active)
            .ok_or_else(|| GuardRejection::InvalidToken("the tenant is suspended".into()))?;
        let stored: Vec<_> = self
            .store()
            .policies(&tenant.id)
            .await
            .map_err(|_| GuardRejection::Unavailable)?
            .into_iter()
            .map(|p| p.policy)
            .collect();
        let reverify = TenantPolicies::from_stored(&tenant.settings, &stored)
            .continuous
            .map(|policy| {
                (
                    policy.deadline(session.last_verified_at, session.confidence),
                    u64::from(policy.re_verify_interval_minutes) * 60,
                )
            });
        Ok(Verdict {
            claims: Arc::new(claims),
            reverify,
        })
    }
}

/// `Authorization: Bearer …`, unless it is an API key (those are for the FaceGate API, not for users).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.starts_with("fg_"))
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Guards the routes it wraps; see the module docs.
#[derive(Clone)]
pub struct FaceGateAuthLayer {
    facegate: FaceGate,
    // Shared, not copied, by the per-request clone of the layer.
    cookie: Option<Arc<str>>,
    role: Option<Arc<str>>,
    optional: bool,
    /// `None`: every tenant but the demo's.
    tenants: Option<Arc<[TenantId]>>,
    allow_demo: bool,
}

impl FaceGateAuthLayer {
    pub fn new(facegate: FaceGate) -> Self {
        Self {
            facegate,
            cookie: None,
            role: None,
            optional: false,
            tenants: None,
            allow_demo: false,
        }
    }

    /// Only tokens of this tenant pass; others get 401 `INVALID_TOKEN`.
    pub fn tenant(self, tenant: TenantId) -> Self {
        self.tenants([tenant])
    }

    /// Only tokens of these tenants pass; others get 401 `INVALID_TOKEN`.
    /// Without a pin, a guard accepts every tenant except the demo's.
    pub fn tenants(mut self, tenants: impl IntoIterator<Item = TenantId>) -> Self {
        self.tenants = Some(tenants.into_iter().collect());
        self
    }

    /// Also accept tokens of the built-in demo tenant (`/demo`), whose users
    /// anyone can enroll and whose role is always `demo`. For demo apps only.
    pub fn allow_demo(mut self) -> Self {
        self.allow_demo = true;
        self
    }

    /// Whether tokens of `tenant` may pass this guard.
    fn accepts_tenant(&self, tenant: &str) -> Result<(), GuardRejection> {
        if tenant == TenantId::DEMO {
            return if self.allow_demo {
                Ok(())
            } else {
                Err(GuardRejection::InvalidToken(
                    "demo tokens are not accepted here".into(),
                ))
            };
        }
        match &self.tenants {
            Some(pinned) if !pinned.iter().any(|t| t.as_str() == tenant) => Err(
                GuardRejection::InvalidToken("the token belongs to another tenant".into()),
            ),
            _ => Ok(()),
        }
    }

    /// Let requests without a token through, anonymous (handlers see no
    /// user); a token that is presented must still be valid.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Whether `rejection` is only "no token", on a layer that allows that.
    pub fn lets_anonymous_through(&self, rejection: &GuardRejection) -> bool {
        self.optional && *rejection == GuardRejection::MissingToken
    }

    /// Checks a request's token with this layer's rules; adapters for other
    /// frameworks call this and translate the outcome.
    pub async fn check(&self, headers: &HeaderMap) -> Result<Arc<Claims>, GuardRejection> {
        self.facegate.authorize(headers, self).await
    }

    /// Also accept the token from this cookie (after the `Authorization` header).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(Arc::from(name.into()));
        self
    }

    /// Only tokens with this role pass; others get 403.
    pub fn require_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(Arc::from(role.into()));
        self
    }
}

impl<S> Layer<S> for FaceGateAuthLayer {
    type Service = FaceGateAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaceGateAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`FaceGateAuthLayer`] wraps around the host's routes.
#[derive(Clone)]
pub struct FaceGateAuth<S> {
    inner: S,
    layer: FaceGateAuthLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for FaceGateAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.check(request.headers()).await {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(rejection) if layer.lets_anonymous_through(&rejection) => {
                    inner.call(request).await
                }
                Err(rejection) => {
                    tracing::debug!(%rejection, "guard refused a request");
                    Ok(rejection.response())
                }
            }
        })
    }
}
