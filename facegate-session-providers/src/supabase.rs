//! Supabase: an access token minted locally, HS256-signed with the project's
//! JWT secret, with the claims Supabase Auth (GoTrue) puts in its own tokens.
//!
//! Why locally: Supabase has no API that turns an outside proof of identity
//! into a session, but every Supabase service (PostgREST, Storage, Realtime)
//! accepts any token signed with the project's JWT secret, and Row Level
//! Security reads the same claims (`auth.uid()` is the `sub` cast to `uuid`,
//! `auth.jwt()` the whole payload).
//!
//! What it does not do: a Supabase refresh token is a row in the project's
//! `auth.refresh_tokens` table and only Supabase Auth can create one, so
//! `refresh_token` is empty; the client asks FaceGate again when the token
//! expires. For the same reason Supabase Auth's own endpoints (`getUser`,
//! `refreshSession`, `setSession`) do not know this session; see
//! `docs/session-providers.md` for how a client uses the token.
//!
//! `sub` is the host's Supabase user id (the identity's `external_id`) when
//! it gave one at enrollment, else the UUID inside the FaceGate user id
//! (`user_<32 hex>`), written hyphenated so `auth.uid()` casts it.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use facegate_core::ids::UserId;
use facegate_core::providers::session::{
    ProviderSession, SessionProvider, SessionProviderError, VerifiedIdentity,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::time::now_secs;

const AUDIENCE: &str = "authenticated";
const ROLE: &str = "authenticated";
const DEFAULT_ISSUER: &str = "supabase";
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The `supabase` session provider.
///
/// ```
/// use std::time::Duration;
/// use facegate_session_providers::SupabaseSessions;
///
/// let provider = SupabaseSessions::new("the project's JWT secret")
///     .issuer("https://myproject.supabase.co/auth/v1")
///     .lifetime(Duration::from_secs(15 * 60));
/// # let _ = provider;
/// ```
#[derive(Clone)]
pub struct SupabaseSessions {
    key: EncodingKey,
    secret_is_empty: bool,
    issuer: String,
    lifetime: Duration,
}

impl SupabaseSessions {
    /// `jwt_secret` is the project's JWT secret (Project Settings → API →
    /// JWT Settings), used as its raw bytes the way Supabase does. Tokens
    /// last one hour and name the issuer `supabase` until told otherwise.
    pub fn new(jwt_secret: impl AsRef<[u8]>) -> Self {
        let secret = jwt_secret.as_ref();
        Self {
            key: EncodingKey::from_secret(secret),
            secret_is_empty: secret.is_empty(),
            issuer: DEFAULT_ISSUER.to_owned(),
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// The `iss` claim; Supabase Auth writes `<project url>/auth/v1`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// How long a token lasts (whole seconds, at least one).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }
}

impl fmt::Debug for SupabaseSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupabaseSessions")
            .field("jwt_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// The claims of a Supabase Auth access token.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    email: &'a str,
    phone: &'a str,
    app_metadata: &'a Value,
    user_metadata: &'a Value,
    role: &'a str,
    aal: &'a str,
    amr: Value,
    session_id: &'a str,
    is_anonymous: bool,
}

/// The Supabase user id a FaceGate identity maps to.
fn subject(identity: &VerifiedIdentity) -> Result<String, SessionProviderError> {
    if let Some(external) = crate::external_id(identity) {
        return Ok(external.to_owned());
    }
    let user_id = identity.user_id.as_str();
    user_id
        .strip_prefix(UserId::PREFIX)
        .and_then(|simple| uuid::Uuid::try_parse(simple).ok())
        .map(|uuid| uuid.hyphenated().to_string())
        .ok_or_else(|| {
            SessionProviderError::Config(format!(
                "user id {user_id} has no UUID for Supabase's `sub`; enroll the user with \
                 an external_id (their Supabase user id)"
            ))
        })
}

#[async_trait]
impl SessionProvider for SupabaseSessions {
    fn name(&self) -> &'static str {
        "supabase"
    }

    async fn create_session(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<ProviderSession, SessionProviderError> {
        if self.secret_is_empty {
            return Err(SessionProviderError::Config(
                "the Supabase JWT secret is empty".to_owned(),
            ));
        }
        let lifetime = self.lifetime.as_secs();
        if lifetime == 0 {
            return Err(SessionProviderError::Config(
                "the Supabase token lifetime must be at least one second".to_owned(),
            ));
        }

        let sub = subject(identity)?;
        let iat = now_secs();
        // Never past the FaceGate session it comes from.
        let exp = iat
            .saturating_add(lifetime)
            .min(identity.session_expires_at);
        let expires_in = exp.saturating_sub(iat);
        let email = identity.email.as_deref().unwrap_or("");
        // `facegate_role` sits in app_metadata too: Supabase users can edit
        // their own user_metadata, so policies should read the app side.
        let app_metadata = json!({
            "provider": "facegate",
            "providers": ["facegate"],
            "facegate_role": identity.role,
        });
        let user_metadata = json!({
            "name": identity.name,
            "facegate_user_id": identity.user_id.as_str(),
            "facegate_role": identity.role,
        });
        let claims = Claims {
            iss: &self.issuer,
            sub: &sub,
            aud: AUDIENCE,
            exp,
            iat,
            email,
            phone: "",
            app_metadata: &app_metadata,
            user_metadata: &user_metadata,
            role: ROLE,
            aal: "aal1",
            amr: json!([{ "method": "facegate", "timestamp": iat }]),
            session_id: identity.session_id.as_str(),
            is_anonymous: false,
        };

        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|error| {
                SessionProviderError::Config(format!("cannot sign the Supabase token: {error}"))
            })?;
        tracing::debug!(
            tenant = %identity.tenant_id,
            user = %identity.user_id,
            session = %identity.session_id,
            expires_in,
            "minted a Supabase access token"
        );

        // Shaped like supabase-js's `Session`.
        let provider_session = json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
            "expires_at": exp,
            "refresh_token": "",
            "user": {
                "id": sub,
                "aud": AUDIENCE,
                "role": ROLE,
                "email": email,
                "app_metadata": app_metadata,
                "user_metadata": user_metadata,
            },
        });
        Ok(ProviderSession {
            token,
            refresh_token: String::new(),
            expires_in,
            provider_session: Some(provider_session),
        })
    }
}
