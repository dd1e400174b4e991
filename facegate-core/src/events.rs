//! Events: what happened in a tenant, written to an outbox in the same
//! transaction as the change they report, then delivered to the tenant's
//! webhook endpoints by a background worker (see `docs/events.md`).
//!
//! Delivery is at least once: an endpoint may see an event twice (a
//! retry after a lost answer, a manual redelivery), so receivers dedupe on
//! the event's `id`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{DeliveryId, EventId, TenantId, WebhookId};

/// What an event reports. The wire name is the `type` of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    UserEnrolled,
    UserReEnrolled,
    UserDeleted,
    ConsentRevoked,
    AuthSucceeded,
    AuthFailed,
    LivenessFailed,
    RiskBlocked,
    SessionRevoked,
    UserRotationDue,
    SyncFlagged,
    ThreatDetected,
}

impl EventKind {
    pub const ALL: [EventKind; 12] = [
        Self::UserEnrolled,
        Self::UserReEnrolled,
        Self::UserDeleted,
        Self::ConsentRevoked,
        Self::AuthSucceeded,
        Self::AuthFailed,
        Self::LivenessFailed,
        Self::RiskBlocked,
        Self::SessionRevoked,
        Self::UserRotationDue,
        Self::SyncFlagged,
        Self::ThreatDetected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserEnrolled => "user.enrolled",
            Self::UserReEnrolled => "user.re_enrolled",
            Self::UserDeleted => "user.deleted",
            Self::ConsentRevoked => "consent.revoked",
            Self::AuthSucceeded => "auth.succeeded",
            Self::AuthFailed => "auth.failed",
            Self::LivenessFailed => "liveness.failed",
            Self::RiskBlocked => "risk.blocked",
            Self::SessionRevoked => "session.revoked",
            Self::UserRotationDue => "user.rotation_due",
            Self::SyncFlagged => "sync.flagged",
            Self::ThreatDetected => "threat.detected",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl utoipa::PartialSchema for EventKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::api::openapi::string_enum(Self::ALL.map(Self::as_str))
    }
}

impl utoipa::ToSchema for EventKind {}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One thing that happened, as stored in the outbox and delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub tenant_id: TenantId,
    pub kind: EventKind,
    /// What the event is about; ids and codes, never images or templates.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// Events of a tenant with the same key are written once (the first
    /// wins): `user.rotation_due` is reported once per enrolled face, not
    /// at every login.
    pub dedupe_key: Option<String>,
}

impl Event {
    pub fn new(
        tenant: &TenantId,
        kind: EventKind,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: EventId::generate(),
            tenant_id: tenant.clone(),
            kind,
            data,
            created_at: at,
            dedupe_key: None,
        }
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    /// The JSON a webhook delivery carries (the same bytes on every attempt).
    pub fn payload(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Payload<'a> {
            id: &'a EventId,
            #[serde(rename = "type")]
            kind: EventKind,
            #[serde(serialize_with = "crate::api::wire::serialize_timestamp")]
            created_at: DateTime<Utc>,
            tenant_id: &'a TenantId,
            data: &'a serde_json::Value,
        }
        serde_json::to_vec(&Payload {
            id: &self.id,
            kind: self.kind,
            created_at: self.created_at,
            tenant_id: &self.tenant_id,
            data: &self.data,
        })
        .expect("an event serializes")
    }
}

/// A tenant's webhook endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    /// The kinds it receives; empty for all.
    pub events: Vec<EventKind>,
    /// The signing secret as stored: sealed under the master key when the
    /// host has one (see [`crate::sealed`]).
    pub secret: Vec<u8>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

impl WebhookEndpoint {
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Succeeded,
    /// Given up on: every attempt failed for the retry window.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookId,
    pub event_id: EventId,
    pub event_kind: EventKind,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status at the last attempt, when it answered.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed (a status, a timeout, a refused address).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Clone)]
pub struct DueDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    /// As stored (see [`WebhookEndpoint::secret`]).
    pub secret: Vec<u8>,
    pub event: Event,
    /// The claim's lease, which also names the claim: the attempt is
    /// recorded only while the delivery is still under it.
    pub lease_until: DateTime<Utc>,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("delivery", &self.delivery)
            .field("url", &self.url)
            .field("secret", &"***")
            .field("event", &self.event.id)
            .field("lease_until", &self.lease_until)
            .finish()
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// `Succeeded`, `Failed` (given up), or `Pending` with the next attempt.
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
}
