//! Session providers turn a verified face into a session of the host's auth
//! system (`POST /v1/session`): our own JWT, Supabase, Auth0, Firebase.

use async_trait::async_trait;
use serde_json::Value;

use crate::ids::{SessionId, TenantId, UserId};

/// The verified identity a provider builds its session from.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedIdentity {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub name: String,
    pub role: String,
    pub email: Option<String>,
}

/// A provider's session, returned as `token` / `provider_session` by `POST /v1/session`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSession {
    pub token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    /// Provider-specific extras (for example Supabase's token pair).
    pub provider_session: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionProviderError {
    #[error("session provider is misconfigured: {0}")]
    Config(String),
    #[error("session provider upstream failed: {0}")]
    Upstream(String),
}

#[async_trait]
pub trait SessionProvider: Send + Sync + 'static {
    /// The `provider` value clients send (`jwt`, `supabase`, `auth0`, `firebase`).
    fn name(&self) -> &'static str;

    async fn create_session(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<ProviderSession, SessionProviderError>;
}
