//! Session providers for FaceGate: after a face is verified, the core's
//! `POST /v1/session { verification_token, provider }` hands the verified
//! identity to the provider the client named, and returns that provider's
//! session.
//!
//! | provider   | type                  | what it returns                              | how      |
//! |------------|-----------------------|----------------------------------------------|----------|
//! | `supabase` | [`SupabaseSessions`]  | a Supabase access token (HS256, JWT secret)  | locally  |
//! | `firebase` | [`FirebaseSessions`]  | a Firebase custom token (RS256, service key) | locally  |
//! | `auth0`    | [`Auth0Sessions`]     | Auth0 tokens from a Custom Token Exchange    | over HTTP|
//!
//! `Auth0Sessions` sits behind the `auth0` cargo feature (on by default); it
//! is the only part of the crate that needs an HTTP client.
//!
//! A host registers the providers it wants when it builds FaceGate; a
//! provider it did not register answers 501 `PROVIDER_NOT_IMPLEMENTED`:
//!
//! ```ignore
//! use std::time::Duration;
//!
//! use facegate_core::FaceGate;
//! use facegate_session_providers::{Auth0Sessions, FirebaseSessions, SupabaseSessions};
//!
//! let supabase = SupabaseSessions::new(std::env::var("SUPABASE_JWT_SECRET")?)
//!     .issuer("https://myproject.supabase.co/auth/v1")
//!     .lifetime(Duration::from_secs(3600));
//! let firebase = FirebaseSessions::from_service_account_json(
//!     &std::fs::read_to_string("service-account.json")?,
//! )?;
//! let auth0 = Auth0Sessions::new("tenant.eu.auth0.com", client_id, client_secret)
//!     .audience("https://api.example.com");
//!
//! let facegate = FaceGate::builder(store)
//!     .session_provider(supabase)
//!     .session_provider(firebase)
//!     .session_provider(auth0)
//!     .build()?;
//! ```
//!
//! Errors follow the trait: [`SessionProviderError::Config`] for the host's
//! own setup (a bad key, an id the provider cannot accept) and
//! [`SessionProviderError::Upstream`] when the provider's service fails.
//! Nothing here logs a token, a key or a secret.
#![forbid(unsafe_code)]

#[cfg(feature = "auth0")]
pub mod auth0;
pub mod firebase;
pub mod supabase;

mod time;

#[cfg(feature = "auth0")]
pub use auth0::Auth0Sessions;
pub use facegate_core::providers::session::{
    ProviderSession, SessionProvider, SessionProviderError, VerifiedIdentity,
};
pub use firebase::FirebaseSessions;
pub use supabase::SupabaseSessions;

/// The host's own id for the user, when it gave a non-empty one.
pub(crate) fn external_id(identity: &VerifiedIdentity) -> Option<&str> {
    identity.external_id.as_deref().filter(|id| !id.is_empty())
}
