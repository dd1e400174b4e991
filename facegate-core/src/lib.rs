//! FaceGate core: domain types, provider traits, and one framework-neutral
//! implementation of the FaceGate REST API over `http` types.
//!
//! ```text
//! domain     records: tenants, keys, users, faces, consent, sessions, audit
//! providers  what a host plugs in: face engine, consent registry, risk, sessions
//! store      the storage trait (implemented by facegate-store-seaorm)
//! api        FaceGate::handle: http::Request in, http::Response out
//! token      the JWTs FaceGate signs, and the key ring behind them
//! liveness   challenge, frame judging and lockout rules
//! pin        the PINs a tenant may ask for besides the face
//! policy     the tenant policies: rotation, risk and lockout, re-verification
//! sealed     secrets at rest, under the host's master key
//! guard      the tower layer that checks those tokens on the host's routes
//! usage      what requests count as, the host's plans, monthly active users
//! billing    the provider tenants pay for plans through (checkout, webhooks)
//! metrics    Prometheus metrics with bounded labels, opt-in
//! admin      tenants, API keys and signing keys, for operators and CLIs
//! ```
#![forbid(unsafe_code)]

mod admin;
pub(crate) mod api;
pub mod api_key;
pub mod billing;
pub mod clock;
pub mod deletion;
mod device;
pub mod domain;
mod error;
pub mod events;
pub mod guard;
pub mod ids;
pub mod liveness;
pub mod metrics;
pub mod pin;
pub mod policy;
pub mod providers;
pub mod sealed;
pub mod store;
pub mod threat;
pub mod token;
pub mod usage;
pub mod webhook;

pub use admin::{AdminError, MintedKey};
pub use api::{
    BodyLimits, ClientAddr, CorsConfig, DemoConfig, FaceGate, FaceGateBuilder, MaintenanceReport,
    OpenedSession, ROUTE_TABLE, ResealReport, Retention, SignalsConfig, UNAUTHENTICATED_PER_MINUTE,
};
/// Cross-device handoff: what adapters need to serve its WebSocket.
pub mod handoff {
    pub use crate::api::{
        HANDOFF_AUTH_TIMEOUT, HANDOFF_SECRET_HEADER, HandoffConfig, HandoffFeed, HandoffSocket,
        SocketClose,
    };
}
pub use error::{ApiError, FieldIssue};
pub use guard::{FaceGateAuthLayer, GuardRejection};
pub use providers::consent::{ConsentRegistry, ConsentVersion, StaticConsentRegistry};
pub use providers::face::FaceProvider;
pub use providers::risk::RiskPolicy;
pub use providers::session::SessionProvider;
pub use store::{Store, StoreError};

/// Shared by the crate's property tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// The case budget: 256 per property by default (seconds in CI); more
    /// with `FACEGATE_PROPTEST_CASES` for a longer hunt.
    pub fn proptest_config() -> proptest::test_runner::Config {
        let cases = std::env::var("FACEGATE_PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(256);
        proptest::test_runner::Config {
            cases,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        }
    }
}
