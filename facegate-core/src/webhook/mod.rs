//! Webhook signatures, as Stripe signs its events: the header
//! `FaceGate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
//! FaceGate signs each delivery with the endpoint's secret; a receiver checks
//! it with [`verify_signature`] before it trusts the body:
//!
//! ```
//! use facegate_core::webhook::{signature_header, verify_signature, DEFAULT_TOLERANCE_SECS};
//!
//! let secret = b"whsec_from_registration";
//! let body = br#"{"id":"evt_1","type":"user.enrolled"}"#;
//! let header = signature_header(secret, 1_767_225_600, body);
//! // In the receiver: the raw body, the header, the current time.
//! let signed_at = verify_signature(secret, &header, body, 1_767_225_630, DEFAULT_TOLERANCE_SECS).unwrap();
//! assert_eq!(signed_at, 1_767_225_600);
//! ```
//!
//! A header may carry several `v1` values, as Stripe's may: any one that
//! matches is enough (FaceGate sends one; a future secret roll can send
//! one per secret without breaking receivers). Comparisons are
//! constant time. A timestamp outside the tolerance is refused, so a
//! captured delivery cannot be replayed later; within it, receivers dedupe
//! on the event's id (deliveries are at least once).

mod signature;
pub(crate) mod target;

pub use signature::{
    DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER, SignatureError, signature_header, verify_signature,
};
pub use target::WebhookConfig;
