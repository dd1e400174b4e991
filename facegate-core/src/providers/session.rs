//! Session providers turn a verified face into a session of the host's auth
//! system (`POST /v1/session { verification_token, provider }`).
//!
//! The `jwt` provider (FaceGate's own token) is built into the core; the
//! `facegate-session-providers` crate adds Supabase, Firebase and Auth0. A
//! provider the host did not register answers 501 `PROVIDER_NOT_IMPLEMENTED`.

use async_trait::async_trait;
use serde_json::Value;

use crate::ids::{SessionId, TenantId, UserId};

/// The verified identity a provider builds its session from: the claims of a
/// valid, unrevoked FaceGate verification token plus the user's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdentity {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub name: String,
    pub role: String,
    pub email: Option<String>,
    /// The host's own id for the user, when it gave one at enrollment (a
    /// Supabase or Firebase user id, say).
    pub external_id: Option<String>,
    /// The FaceGate verification token itself, for providers that exchange
    /// it upstream (Auth0's token exchange).
    pub verification_token: String,
    /// When the FaceGate session ends (Unix seconds): a provider that mints
    /// its own tokens lets none outlive it. Sessions an upstream service
    /// issues (Firebase, Auth0) follow that service's lifetimes; revoking
    /// the FaceGate session does not end them (see docs/session-providers.md).
    pub session_expires_at: u64,
}

/// A provider's session, returned as `token` / `refresh_token` /
/// `expires_in` / `provider_session` by `POST /v1/session`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSession {
    pub token: String,
    /// Empty when the provider issues none.
    pub refresh_token: String,
    /// Seconds until `token` expires.
    pub expires_in: u64,
    /// Provider-specific extras (for example Supabase's token pair).
    pub provider_session: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionProviderError {
    /// The host's configuration is wrong (a bad key, say): 500.
    #[error("session provider is misconfigured: {0}")]
    Config(String),
    /// The provider's service refused or failed: 502.
    #[error("session provider upstream failed: {0}")]
    Upstream(String),
}

#[async_trait]
pub trait SessionProvider: Send + Sync + 'static {
    /// The `provider` value clients send (`supabase`, `auth0`, `firebase`).
    fn name(&self) -> &'static str;

    async fn create_session(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<ProviderSession, SessionProviderError>;
}
