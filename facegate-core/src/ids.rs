//! Typed identifiers. Each is a string with a readable prefix (`user_…`) around
//! a UUIDv7, so ids sort by creation time and never get mixed up in code.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $style:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().$style()))
            }

            /// Wraps an id read back from storage or a request path. No
            /// validation: an id that does not exist is simply not found.
            pub fn from_string(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        // On the wire a plain string; the prefix is a convention, not
        // checked on input (an unknown id is simply not found).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("An id, `", $prefix, "…`.")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// `ten_…`
    TenantId,
    "ten_",
    simple
);
impl TenantId {
    /// The built-in demo tenant (`/demo`): fixed, so every instance sharing
    /// a database shares it. Its tokens carry their own audience and pass a
    /// guard only after `allow_demo()`.
    pub const DEMO: &'static str = "ten_demo";

    pub fn demo() -> Self {
        Self::from_string(Self::DEMO)
    }

    pub fn is_demo(&self) -> bool {
        self.0 == Self::DEMO
    }
}

prefixed_id!(
    /// `key_…`
    ApiKeyId,
    "key_",
    simple
);
prefixed_id!(
    /// `user_…`
    UserId,
    "user_",
    simple
);
prefixed_id!(
    /// `face_…`
    FaceId,
    "face_",
    simple
);
prefixed_id!(
    /// `sess_…`
    SessionId,
    "sess_",
    simple
);
prefixed_id!(
    /// A plain UUID, as the spec's `consent_id` is typed `uuid`.
    ConsentId,
    "",
    hyphenated
);
prefixed_id!(
    /// A plain UUID, like the spec's liveness `session_id`.
    LivenessSessionId,
    "",
    hyphenated
);
prefixed_id!(
    /// `stp_…`: a login waiting for its step-up.
    StepUpId,
    "stp_",
    simple
);
prefixed_id!(
    /// `hof_…`: a cross-device handoff (never shown: clients hold its token).
    HandoffId,
    "hof_",
    simple
);
prefixed_id!(
    /// `evt_…`: an event of the outbox; receivers dedupe on it.
    EventId,
    "evt_",
    simple
);
prefixed_id!(
    /// `wh_…`: a webhook endpoint.
    WebhookId,
    "wh_",
    simple
);
prefixed_id!(
    /// `dlv_…`: one event on its way to one endpoint.
    DeliveryId,
    "dlv_",
    simple
);
prefixed_id!(
    /// `thr_…`: a learned threat pattern.
    ThreatPatternId,
    "thr_",
    simple
);
prefixed_id!(
    /// `del_…`: a deletion receipt.
    ReceiptId,
    "del_",
    simple
);
