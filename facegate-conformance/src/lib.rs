//! One conformance suite for every FaceGate adapter. Each case sends real
//! HTTP requests through an adapter and checks status, headers and JSON
//! body; the adapter crates run every case against their own framework in
//! the same `cargo test`, so a difference between frameworks is a failing
//! test:
//!
//! ```ignore
//! // facegate-axum/tests/conformance.rs
//! async fn app(facegate: FaceGate) -> AxumApp { … }
//! facegate_conformance::suite!(tokio::test, app);
//! ```
//!
//! An adapter under test serves the FaceGate API plus three host routes the
//! guard cases use (see [`Adapter`]). New routes of the core get their
//! cases here, once, and both frameworks are held to them.
#![forbid(unsafe_code)]

/// One conformance case: an async fn generic over the adapter factory,
/// with a fresh fixture around the adapter it builds.
macro_rules! case {
    ($(#[$doc:meta])* $name:ident($fx:ident) $body:block) => {
        $(#[$doc])*
        pub async fn $name<A, F, Fut>(make: F, engine: $crate::Engine)
        where
            A: $crate::Adapter,
            F: FnOnce(facegate_core::FaceGate) -> Fut,
            Fut: std::future::Future<Output = A>,
        {
            let $fx = $crate::Fixture::new(make, engine).await;
            $body
        }
    };
}

pub mod cases;
mod events;
mod fixture;
mod handoff;
mod isolation;
mod policy;
mod privacy;
mod provider;
pub mod receiver;
mod signals;
pub mod socket;
mod sync;
mod threats;
mod trust;
mod usage;

pub use fixture::{Fixture, Reply, camera_frame, camera_jpeg, photo, photo_bytes};

use bytes::Bytes;

/// The face engine a case runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The local on-CPU engine (the default), judging uploaded frames.
    Local,
    /// AWS Rekognition through a local Rekognition peer
    /// (`facegate-rekognition-peer`), running liveness itself.
    Rekognition,
}

/// An app under test.
///
/// Besides FaceGate's API (as the adapter mounts it), it serves:
/// - `GET /api/profile`, behind the adapter's guard with cookie `fg_token`
///   accepted, answering `{"sub": …, "name": …}` from the verified user;
/// - `GET /api/admin`, behind a guard requiring role `admin`, answering
///   `{"area": "admin"}`;
/// - `GET /hello`, behind an optional guard (anonymous requests pass), with
///   the optional user extractor, answering `{"user": <sub or null>}`;
/// - `GET /api/pinned`, behind a guard pinned to tenant [`PINNED_TENANT`],
///   answering `{"sub": …}`;
/// - `GET /api/demo`, behind a guard that allows the demo tenant, answering
///   `{"sub": …, "role": …}`.
#[async_trait::async_trait(?Send)]
pub trait Adapter {
    async fn send(&self, request: http::Request<Bytes>) -> http::Response<Bytes>;
}

/// The tenant `GET /api/pinned` accepts tokens of.
pub const PINNED_TENANT: &str = "ten_conformance_pinned";

/// Declares one test per conformance case, run on `$runtime` (the
/// framework's test attribute) against the app `$make` builds around a
/// `FaceGate` (an `async fn(FaceGate) -> impl Adapter`), with the local
/// engine; and, in a module `rekognition`, the face and login cases again
/// with the Rekognition engine.
#[macro_export]
macro_rules! suite {
    ($runtime:path, $make:path) => {
        $crate::suite!(@cases Local, $runtime, $make,
            health_is_public,
            jwks_is_public,
            openapi_document_is_public,
            sdk_is_public,
            unknown_routes_and_methods,
            api_keys,
            suspended_tenant,
            malformed_and_invalid_bodies,
            body_limits,
            consent,
            users,
            faces,
            guard_without_token,
            liveness_verify_and_sessions,
            liveness_errors,
            lockout,
            session_providers,
            cors,
            demo,
            guard_pins_tenants,
            suspended_tenant_tokens,
            client_keys_reach_the_ceremony_only,
            client_key_origins,
            external_ids_are_unique,
            session_exchange_and_device_binding,
            re_enroll_from_a_live_session,
            liveness_abuse,
            biometric_leftovers,
            pin_tries,
            replayed_uploads_and_probe_bounds,
            face_index_follows_the_store,
            policy_routes,
            risk_blocks_and_shadow_mode_reports,
            step_up_by_pin,
            step_up_by_active_liveness,
            lockout_follows_the_policy_and_grows,
            continuous_reverification,
            face_rotation,
            handoff_signs_the_desktop_in,
            handoff_expiry_decline_and_tenants,
            handoff_enrolls_with_consent,
            webhooks_sign_retry_and_log,
            events_report_what_happened,
            webhooks_give_up_and_seal_secrets,
            signals_are_validated_idempotent_and_open_to_pages,
            signals_busy_and_limited,
            signals_feed_the_risk_score,
            sync_re_checks_offline_verifications,
            threat_intel_blocks_a_replayed_still,
            threat_intel_learns_from_refusals,
            threat_intel_shared_across_tenants,
            analytics_and_usage_count_what_happened,
            plans_gate_analytics_and_hold_a_hard_limit,
            metrics_count_requests_logins_and_liveness,
            tenant_isolation_from_the_route_table,
            deletion_receipts_and_no_biometric_leftovers,
            retention_deletes_idle_users_with_receipts,
        );
        mod rekognition {
            use super::*;
            $crate::suite!(@cases Rekognition, $runtime, $make,
                health_is_public,
                users,
                faces,
                liveness_verify_and_sessions,
                liveness_errors,
                provider_liveness,
                lockout,
                session_providers,
                client_keys_reach_the_ceremony_only,
                session_exchange_and_device_binding,
                re_enroll_from_a_live_session,
                biometric_leftovers,
                pin_tries,
                engine_deletions_are_retried,
                step_up_by_active_liveness,
                continuous_reverification,
            );
        }
    };
    (@cases $engine:ident, $runtime:path, $make:path, $($case:ident),* $(,)?) => {
        $(
            #[$runtime]
            async fn $case() {
                $crate::cases::$case($make, $crate::Engine::$engine).await
            }
        )*
    };
}
