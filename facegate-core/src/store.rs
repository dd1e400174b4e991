//! The storage trait. `facegate-store-seaorm` implements it on SQLite and
//! PostgreSQL; a host with its own database can implement it too.
//!
//! Every read and write that concerns tenant data takes the tenant id, so a
//! query can never reach another tenant's rows. Writes that touch several
//! rows are atomic: an implementation must run them in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::deletion::{DeletionReceipt, Erased};
use crate::domain::{
    ApiKeyRecord, AuditEvent, ConsentRecord, FaceEnrollment, Handoff, HandoffOutcome,
    LivenessCompletion, LivenessSession, PolicyChange, RefreshTokenRecord, Session, SignIn, Signal,
    SigningKeyRecord, StepUp, SyncRecord, Tenant, TenantSettings, TenantStatus, User, UserStatus,
};
use crate::events::{AttemptOutcome, DueDelivery, Event, WebhookDelivery, WebhookEndpoint};
use crate::ids::{
    ApiKeyId, ConsentId, DeliveryId, FaceId, HandoffId, LivenessSessionId, ReceiptId, SessionId,
    StepUpId, TenantId, UserId, WebhookId,
};
use crate::policy::{Policy, PolicyType};
use crate::threat::{FrameSighting, ThreatAction, ThreatKind, ThreatObservation, ThreatPattern};
use crate::usage::{
    Activity, BillingEventOutcome, BillingUpdate, Month, TenantBilling, UsageRow, UsageTally,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached (health reports `unhealthy`).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (an id or key prefix that already exists).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A field that is unique per tenant already holds this value
    /// (`external_id`).
    #[error("{0} is already taken")]
    Duplicate(&'static str),
    #[error("database error: {0}")]
    Backend(String),
}

/// One page of a tenant's users, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// Return users created after this one (the previous page's last id).
    pub after: Option<UserId>,
    pub limit: u32,
}

/// A user with the number of faces enrolled, as listed by `GET /v1/users`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub user: User,
    pub face_count: u32,
}

/// What [`ConsentStore::revoke_consent`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRevocation {
    /// The record after revocation (its `revoked_at` is the first revocation's time).
    pub record: ConsentRecord,
    /// The receipt, when this call deleted the linked user.
    pub deletion: Option<DeletionReceipt>,
}

/// Seals a deletion's receipt once the deleting transaction has counted
/// what it removed; the store writes the receipt in that transaction, so a
/// user is never gone without one. An error rolls the deletion back.
pub type SealReceipt<'a> =
    dyn Fn(&UserId, Erased) -> Result<DeletionReceipt, StoreError> + Send + Sync + 'a;

/// Whose liveness failures to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureSubject<'a> {
    Device(&'a str),
    User(&'a UserId),
}

/// How many PINs may be tried; see [`LivenessStore::reserve_pin_try`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinLimits {
    pub session_max: u32,
    pub user_max: u32,
    pub user_window: chrono::Duration,
}

/// What [`LivenessStore::reserve_pin_try`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinTry {
    /// Reserved: the session's tries so far, this one included.
    Reserved { session_tries: u32 },
    /// The session is consumed, unknown, or out of tries; nothing reserved.
    SessionSpent,
    /// The user is out of tries in the window that started at this time;
    /// nothing reserved.
    UserLocked { window_started_at: DateTime<Utc> },
}

/// What [`SessionStore::rotate_refresh_token`] (or
/// [`SessionStore::reverify_session`]) found.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshRotation {
    /// The token was unspent: it is spent now and its successor stored.
    Rotated(Session),
    /// The token was spent before: its session is revoked now.
    Reused(SessionId),
    /// No such token in this tenant.
    Unknown,
}

/// A face template sealed again under the current master key (see
/// [`UserStore::reseal_face_templates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealedTemplate {
    pub face: FaceId,
    /// What the row held when the pass read it.
    pub stored: Vec<u8>,
    pub sealed: Vec<u8>,
}

/// A face the store let go that the face engine still holds (an engine that
/// keeps faces itself, like Rekognition: a face row without a template).
/// Queued in the transaction that removed the row, deleted from the
/// engine after it commits, and kept until the engine has done so (see
/// [`UserStore::engine_face_deletions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineFaceDeletion {
    pub tenant_id: TenantId,
    pub provider: String,
    pub provider_face_id: String,
    pub queued_at: DateTime<Utc>,
}

/// One entry of a tenant's face log (see [`UserStore::face_changes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FaceChange {
    /// The entry's number: the tenant's changes are numbered 1, 2, 3… in
    /// the order their transactions committed, without gaps.
    pub seq: u64,
    pub kind: FaceChangeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaceChangeKind {
    /// A face row that was added and is still stored.
    Added(FaceEnrollment),
    /// A face row that was removed (or added and since removed).
    Removed { provider_face_id: String },
}

/// The aggregates' traits, to call store methods on a concrete store type
/// (`use facegate_core::store::prelude::*;`). Through `dyn Store` or an
/// `S: Store` bound they need no import.
pub mod prelude {
    pub use super::{
        AuditStore as _, ConsentStore as _, EventStore as _, HandoffStore as _, LivenessStore as _,
        PolicyStore as _, RateLimitStore as _, RiskStore as _, SessionStore as _, SignalStore as _,
        SigningKeyStore as _, Store, SyncStore as _, TenantStore as _, ThreatStore as _,
        UsageStore as _, UserStore as _,
    };
}

/// Everything FaceGate stores, as one trait object (`Arc<dyn Store>`): the
/// aggregates' traits together. Implement those ([`TenantStore`],
/// [`PolicyStore`], [`UserStore`], [`ConsentStore`], [`LivenessStore`],
/// [`SessionStore`], [`RiskStore`], [`HandoffStore`], [`SigningKeyStore`],
/// [`RateLimitStore`], [`AuditStore`], [`EventStore`], [`SignalStore`],
/// [`SyncStore`], [`ThreatStore`], [`UsageStore`]);
/// `Store` comes with them.
pub trait Store:
    TenantStore
    + PolicyStore
    + UserStore
    + ConsentStore
    + LivenessStore
    + SessionStore
    + RiskStore
    + HandoffStore
    + SigningKeyStore
    + RateLimitStore
    + AuditStore
    + EventStore
    + SignalStore
    + SyncStore
    + ThreatStore
    + UsageStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: TenantStore
        + PolicyStore
        + UserStore
        + ConsentStore
        + LivenessStore
        + SessionStore
        + RiskStore
        + HandoffStore
        + SigningKeyStore
        + RateLimitStore
        + AuditStore
        + EventStore
        + SignalStore
        + SyncStore
        + ThreatStore
        + UsageStore
        + Send
        + Sync
        + 'static
{
}

/// Tenants and their API keys, and the store's own health.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// A cheap round trip, for the health check.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    /// Every tenant (for sweeps that follow each tenant's settings).
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Returns false when the tenant does not exist. Suspending also revokes
    /// the tenant's open sessions at `at`, in the same transaction: its users
    /// sign in again once it is active again.
    async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Returns false when the tenant does not exist.
    async fn set_tenant_settings(
        &self,
        id: &TenantId,
        settings: &TenantSettings,
    ) -> Result<bool, StoreError>;

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The key whose SHA-256 is `hash`, revoked or not.
    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError>;

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Returns false when the tenant has no such unrevoked key.
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// A stored policy and when it was last written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPolicy {
    pub policy: Policy,
    pub updated_at: DateTime<Utc>,
}

/// The tenants' policies (at most one of each type per tenant) and the log
/// of their changes.
#[async_trait]
pub trait PolicyStore: Send + Sync {
    async fn policies(&self, tenant: &TenantId) -> Result<Vec<StoredPolicy>, StoreError>;

    /// Stores `policy` as the tenant's policy of its type and, in the same
    /// transaction, logs the change (before → after) by `changed_by`.
    /// Returns the policy it replaced; `None` when it created one. Of two
    /// concurrent writes each logs the policy it really replaced.
    async fn put_policy(
        &self,
        tenant: &TenantId,
        policy: &Policy,
        changed_by: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<Option<Policy>, StoreError>;

    /// Deletes the tenant's policy of this type (back to the defaults) and
    /// logs it in the same transaction; returns what was deleted (`None`,
    /// and nothing logged, when there was none).
    async fn delete_policy(
        &self,
        tenant: &TenantId,
        kind: PolicyType,
        changed_by: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<Option<Policy>, StoreError>;

    /// The tenant's policy changes, newest first.
    async fn policy_changes(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<PolicyChange>, StoreError>;
}

/// What the risk engine remembers: sign-ins it compares new logins with,
/// and logins waiting for a step-up.
#[async_trait]
pub trait RiskStore: Send + Sync {
    async fn record_sign_in(&self, sign_in: &SignIn) -> Result<(), StoreError>;

    /// The user's sign-ins since `since`, newest first, at most `limit`.
    async fn sign_ins(
        &self,
        tenant: &TenantId,
        user: &UserId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SignIn>, StoreError>;

    /// Forgets sign-ins before `before`; returns how many.
    async fn prune_sign_ins(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    async fn insert_step_up(&self, step_up: &StepUp) -> Result<(), StoreError>;

    async fn step_up(&self, tenant: &TenantId, id: &StepUpId)
    -> Result<Option<StepUp>, StoreError>;

    /// Marks a step-up completed at `at` if it is neither completed nor
    /// expired, atomically; false otherwise (of two racing completions, one
    /// wins).
    async fn complete_step_up(
        &self,
        tenant: &TenantId,
        id: &StepUpId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Deletes step-ups that expired before `before`; returns how many.
    async fn prune_step_ups(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Cross-device handoffs. Every change of status is a conditional update
/// (of two racing phones one wins) and is announced on
/// [`HandoffStore::handoff_changes`] to every instance sharing the store.
#[async_trait]
pub trait HandoffStore: Send + Sync {
    async fn insert_handoff(&self, handoff: &Handoff) -> Result<(), StoreError>;

    /// The handoff whose token hashes to this, in any tenant (the phone
    /// holds a token, not an API key).
    async fn handoff_by_token(&self, token_hash: &str) -> Result<Option<Handoff>, StoreError>;

    async fn handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
    ) -> Result<Option<Handoff>, StoreError>;

    /// Pending → scanned by `phone`, or scanned again by that same phone,
    /// while open and unexpired; false otherwise.
    async fn scan_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        phone: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Counts a liveness session the phone starts, up to `max`; false when
    /// the handoff is out of attempts, closed or expired.
    async fn count_handoff_attempt(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        max: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Claims an open, unexpired handoff scanned by `phone` for one
    /// `complete` until `until`, if no other claim holds it; false otherwise.
    /// Of two racing completions one runs, so one handoff enrolls or signs
    /// in one person.
    async fn claim_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        phone: &str,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Ends a claim that did not complete the handoff (a PIN asked, a face
    /// not recognised): the phone may try again.
    async fn release_handoff(&self, tenant: &TenantId, id: &HandoffId) -> Result<(), StoreError>;

    /// Notes a ceremony (a liveness session, a step-up) started for this
    /// handoff; only those complete it.
    async fn add_handoff_ceremony(
        &self,
        handoff: &Handoff,
        ceremony: &str,
    ) -> Result<(), StoreError>;

    async fn handoff_has_ceremony(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        ceremony: &str,
    ) -> Result<bool, StoreError>;

    /// Pending or scanned → declined, while unexpired; false otherwise.
    async fn decline_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Pending or scanned → completed with this outcome, while unexpired,
    /// once; false otherwise.
    async fn complete_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        outcome: &HandoffOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks a completed handoff's session collected, once; false when it
    /// was collected before (or is not completed).
    async fn collect_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Deletes handoffs (and their ceremonies) that expired before
    /// `before`; returns how many handoffs.
    async fn prune_handoffs(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The ids of handoffs whose status changed, as they change, on this
    /// instance and (on a shared database) on the others. A receiver that
    /// lags may miss ids: watchers re-read the handoff on any change they
    /// hear of, and on a timer.
    fn handoff_changes(&self) -> tokio::sync::broadcast::Receiver<HandoffId>;
}

/// Users, their faces, and the face log other instances follow.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user together with its first enrollments, atomically. With
    /// `consent`, links that consent record to the new user in the same
    /// transaction; if it is revoked or already linked, nothing is written
    /// and the result is [`StoreError::Conflict`]. An `external_id` another
    /// user of the tenant has is [`StoreError::Duplicate`]`("external_id")`,
    /// decided by a unique index, not by a read before the write.
    /// `events` are written with it (see [`EventStore`]).
    async fn insert_user(
        &self,
        user: &User,
        faces: &[FaceEnrollment],
        consent: Option<&ConsentId>,
        events: &[Event],
    ) -> Result<(), StoreError>;

    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError>;

    async fn list_users(
        &self,
        tenant: &TenantId,
        page: &UserPage,
    ) -> Result<Vec<UserSummary>, StoreError>;

    /// Returns the updated user, or `None` when the tenant has no such user.
    /// Any status but active also revokes the user's open sessions at `at`,
    /// in the same transaction: a suspended user's tokens stop working.
    async fn set_user_status(
        &self,
        tenant: &TenantId,
        id: &UserId,
        status: UserStatus,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;

    async fn faces_of_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Vec<FaceEnrollment>, StoreError>;

    /// Replaces all of a user's faces with `faces` in one transaction and
    /// returns the ones removed; `None` when the tenant has no such user
    /// (and `events` are not written).
    async fn replace_faces(
        &self,
        tenant: &TenantId,
        user: &UserId,
        faces: &[FaceEnrollment],
        events: &[Event],
    ) -> Result<Option<Vec<FaceEnrollment>>, StoreError>;

    /// Every face of the tenant, for engines that rebuild their index on start.
    async fn faces_of_tenant(&self, tenant: &TenantId) -> Result<Vec<FaceEnrollment>, StoreError>;

    /// Writes templates sealed again (the master key's re-seal pass), each
    /// only where its row still holds the value the pass read (a face
    /// deleted meanwhile stays deleted); returns how many rows changed.
    async fn reseal_face_templates(
        &self,
        tenant: &TenantId,
        templates: &[ResealedTemplate],
    ) -> Result<u64, StoreError>;

    /// The number of the tenant's last face change (0 before the first).
    /// Every write that adds or removes face rows ([`UserStore::insert_user`],
    /// [`UserStore::replace_faces`], [`UserStore::delete_user`],
    /// [`ConsentStore::revoke_consent`]) logs them in its own transaction, so an
    /// instance with an in-memory index learns every other instance's
    /// changes by reading the log after the last entry it applied.
    async fn face_log_head(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// The tenant's face changes numbered after `after`, in order, at most
    /// `limit`. Entries older than the retention of
    /// [`UserStore::prune_face_changes`] may be gone: a reader that finds the
    /// first one missing reloads every face instead.
    async fn face_changes(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<FaceChange>, StoreError>;

    /// Forgets face changes logged before `before`; returns how many.
    async fn prune_face_changes(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Engine faces waiting to be deleted from `provider`, oldest first, of
    /// one tenant or of every tenant. Every write that removes a face row
    /// without a template queues one in its own transaction.
    async fn engine_face_deletions(
        &self,
        tenant: Option<&TenantId>,
        provider: &str,
        limit: u32,
    ) -> Result<Vec<EngineFaceDeletion>, StoreError>;

    /// Queues these for deletion from the engine (a face indexed for a
    /// write that then failed, whose first deletion failed too). A face
    /// already queued stays one entry.
    async fn queue_engine_face_deletions(
        &self,
        faces: &[EngineFaceDeletion],
    ) -> Result<(), StoreError>;

    /// The engine deleted these: forget them.
    async fn finish_engine_face_deletions(
        &self,
        done: &[EngineFaceDeletion],
    ) -> Result<(), StoreError>;

    /// Deletes a user and all their face data in one transaction (the
    /// reference images of their liveness sessions, their sessions and
    /// refresh tokens, their offline verifications included); linked
    /// consent records are kept (as evidence) but unlinked. Writes the
    /// receipt `seal` makes of what was removed in the same transaction and
    /// returns it; `None` when absent (and nothing is written).
    async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        events: &[Event],
        seal: &SealReceipt<'_>,
    ) -> Result<Option<DeletionReceipt>, StoreError>;

    /// [`UserStore::delete_user`] for the retention sweep: only if, in the
    /// deleting transaction (the user's row locked), the user is still idle
    /// since `idle_since` (created before it, not seen since, no face added
    /// since); `None` when absent or no longer idle.
    async fn delete_idle_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        idle_since: DateTime<Utc>,
        events: &[Event],
        seal: &SealReceipt<'_>,
    ) -> Result<Option<DeletionReceipt>, StoreError>;

    /// A deletion receipt of the tenant.
    async fn deletion_receipt(
        &self,
        tenant: &TenantId,
        id: &ReceiptId,
    ) -> Result<Option<DeletionReceipt>, StoreError>;

    /// Whether a user of the tenant has this PIN hash (the uniqueness option).
    async fn pin_taken(&self, tenant: &TenantId, pin_hash: &str) -> Result<bool, StoreError>;

    /// Users of the tenant enrolled before `before`, oldest first, at most
    /// `limit` (for data that expires, such as the demo's).
    async fn users_created_before(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<UserId>, StoreError>;

    /// Users of the tenant whose last interaction was before `before`: not
    /// enrolled, given a face, signed in or refreshed since (see
    /// [`UsageStore::mark_active`]). Oldest first, at most `limit`.
    async fn users_idle_since(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<UserId>, StoreError>;

    /// Deletes the tenant's consent records, liveness sessions and deletion
    /// receipts from before `before` (for data that expires, such as the
    /// demo's), after its users of that age are gone; returns the rows
    /// deleted.
    async fn delete_ceremonies_before(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Consent records.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    async fn insert_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError>;

    async fn consent(
        &self,
        tenant: &TenantId,
        id: &ConsentId,
    ) -> Result<Option<ConsentRecord>, StoreError>;

    /// Marks the consent revoked (once; a repeat keeps the first time) and, in
    /// the same transaction, deletes the linked user and their faces (as
    /// [`UserStore::delete_user`] does, receipt included).
    /// Returns `None` when the tenant has no such consent. `events` says
    /// what to report for the revocation (given the linked user, if any);
    /// they are written in the same transaction, the first time only.
    async fn revoke_consent(
        &self,
        tenant: &TenantId,
        id: &ConsentId,
        at: DateTime<Utc>,
        events: &(dyn for<'u> Fn(Option<&'u UserId>) -> Vec<Event> + Send + Sync),
        seal: &SealReceipt<'_>,
    ) -> Result<Option<ConsentRevocation>, StoreError>;
}

/// Liveness ceremonies and what is counted against them: PIN tries, probes, replayed frames, failures.
#[async_trait]
pub trait LivenessStore: Send + Sync {
    async fn insert_liveness_session(&self, session: &LivenessSession) -> Result<(), StoreError>;

    async fn liveness_session(
        &self,
        tenant: &TenantId,
        id: &LivenessSessionId,
    ) -> Result<Option<LivenessSession>, StoreError>;

    /// Records the judgement of a session that has none yet; false when it
    /// already had one (a concurrent upload won) or does not exist.
    async fn complete_liveness_session(
        &self,
        tenant: &TenantId,
        id: &LivenessSessionId,
        completion: &LivenessCompletion,
    ) -> Result<bool, StoreError>;

    /// Marks a completed session consumed and drops its reference image;
    /// false when it was consumed already (or is not completed).
    async fn consume_liveness_session(
        &self,
        tenant: &TenantId,
        id: &LivenessSessionId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Reserves one PIN try before the PIN is checked, atomically (a
    /// conditional update each, in one transaction), so concurrent requests
    /// cannot test more PINs than the limits allow: one of each of `users`'
    /// [`PinLimits::user_max`] tries per window (a fixed window of
    /// [`PinLimits::user_window`] from its first try; every user the PIN is
    /// compared with is charged, locked in id order), then one of the
    /// unconsumed session's [`PinLimits::session_max`]. With no users, the
    /// session's try alone (enrollment's unique-PIN check). A reserved try
    /// counts as wrong unless [`LivenessStore::refund_pin_try`] gives it back.
    async fn reserve_pin_try(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        users: &[UserId],
        limits: PinLimits,
        now: DateTime<Utc>,
    ) -> Result<PinTry, StoreError>;

    /// Gives back a try reserved at `reserved_at` for a PIN that proved
    /// right (or free). A user whose window restarted after `reserved_at`
    /// keeps the new window's count: the try belonged to the old one.
    async fn refund_pin_try(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        users: &[UserId],
        reserved_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Counts one probe of an unconsumed session's reference face (verify,
    /// enroll, match), atomically; false, and nothing counted, once it has
    /// been probed `max` times (or is consumed, or unknown).
    async fn count_probe(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        max: u32,
    ) -> Result<bool, StoreError>;

    /// Remembers the reference frame of a live session by the digest of its
    /// decoded pixels; false when another session of the tenant already had
    /// it (a captured upload replayed). Insert-if-absent: of two sessions
    /// racing with one frame, one wins.
    async fn record_reference_frame(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Forgets reference frames seen before `before`. Returns the rows deleted.
    async fn prune_reference_frames(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// When the subject's failed checks completed, since `since`: sessions
    /// judged not live, and sessions whose PIN tries ran out
    /// ([`crate::domain::PinSettings::MAX_TRIES`]).
    async fn liveness_failures(
        &self,
        tenant: &TenantId,
        subject: FailureSubject<'_>,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError>;

    /// Drops the reference images of sessions expired by `now`, and deletes
    /// sessions that expired before `forget_before`. Returns the rows deleted.
    async fn prune_liveness_sessions(
        &self,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Verified sessions, their refresh tokens, and token exchanges.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session with its first refresh token, atomically, and `events`.
    async fn insert_session(
        &self,
        session: &Session,
        refresh_token: &RefreshTokenRecord,
        events: &[Event],
    ) -> Result<(), StoreError>;

    async fn session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Session>, StoreError>;

    /// Marks the session revoked (once; a repeat keeps the first time).
    /// Returns `None` when the tenant has no such session. `events` are
    /// written in the same transaction, the first time only.
    async fn revoke_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        at: DateTime<Utc>,
        events: &[Event],
    ) -> Result<Option<Session>, StoreError>;

    /// The session of the refresh token whose hash is `presented`, spent or
    /// not, without spending it (to check who may spend it first).
    async fn refresh_token_session(
        &self,
        tenant: &TenantId,
        presented: &str,
    ) -> Result<Option<Session>, StoreError>;

    /// Spends the refresh token whose hash is `presented` and stores
    /// `next_hash` as its successor in the same session, in one transaction.
    /// A token spent before revokes its session at `at` instead.
    async fn rotate_refresh_token(
        &self,
        tenant: &TenantId,
        presented: &str,
        next_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<RefreshRotation, StoreError>;

    /// Re-verifies a session that is neither revoked nor expired, as its
    /// refresh token `presented` (a hash) proves the caller holds it: spends
    /// that token, sets the session's confidence and `last_verified_at` to
    /// `confidence` and `at`, and stores `next_refresh` as its successor, in
    /// one transaction. A token spent before is a reuse: the session is
    /// revoked instead ([`RefreshRotation::Reused`]), as at refresh.
    /// [`RefreshRotation::Unknown`] when the tenant has no such token of
    /// this live session.
    async fn reverify_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        presented: &str,
        confidence: f32,
        at: DateTime<Utc>,
        next_refresh: &RefreshTokenRecord,
    ) -> Result<RefreshRotation, StoreError>;

    /// Records that the verification token `jti` (of `session`, valid until
    /// `expires_at`) was exchanged for a session at `at`; false when it was
    /// exchanged before. Atomic: of two concurrent exchanges one wins.
    async fn record_token_exchange(
        &self,
        tenant: &TenantId,
        jti: &str,
        session: &SessionId,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Token signing keys.
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Writes a key's private half sealed again (the master key's re-seal
    /// pass), only where the row still holds `stored`; whether it did.
    async fn reseal_signing_key(
        &self,
        kid: &str,
        stored: &[u8],
        sealed: &[u8],
    ) -> Result<bool, StoreError>;

    /// Adds `key` as the signing key and retires every other unretired key
    /// at `key.created_at`, in one transaction. Of two racing rotations one
    /// fails with [`StoreError::Conflict`] (at most one key is unretired).
    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// Adds `key` as the first signing key: [`StoreError::Conflict`] when an
    /// unretired key exists (or another is being added), decided by the
    /// database, and nothing retired. Instances starting together on an
    /// empty database so store one first key and all sign with it (a
    /// rotation there would retire the key another instance just made).
    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
}

/// Request limits shared by every instance.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one request in `bucket`'s fixed window that started at
    /// `window_start`, atomically, and returns the window's count with it.
    async fn count_request(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
    ) -> Result<u32, StoreError>;

    /// Forgets windows that started before `before`; returns how many.
    async fn prune_request_windows(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Deletes events recorded before `before` (the retention sweep);
    /// returns how many.
    async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The tenant's most recent events, newest first.
    async fn audit_events(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}

/// The event outbox and webhook deliveries. Events reporting a change are
/// written by the change's own method in its transaction (the `events`
/// argument of [`UserStore::insert_user`] and the like); with them, one
/// pending delivery per endpoint of the tenant that wants the kind.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Writes events that report no stored change (a failed login), with
    /// their deliveries. An event whose `dedupe_key` the tenant has used
    /// already is skipped.
    async fn record_events(&self, events: &[Event]) -> Result<(), StoreError>;

    /// The tenant's events, newest first (what the deliveries refer to).
    async fn events(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Event>, StoreError>;

    /// Registers an endpoint unless the tenant has `max` already (counted
    /// in the same transaction); returns whether it was added.
    async fn insert_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        max: u32,
    ) -> Result<bool, StoreError>;

    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Writes an endpoint's secret sealed again (the master key's re-seal
    /// pass), only where the row still holds `stored`; whether it did.
    async fn reseal_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        stored: &[u8],
        sealed: &[u8],
    ) -> Result<bool, StoreError>;

    /// Deletes the endpoint and its deliveries; false when absent.
    async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool, StoreError>;

    /// The endpoint's deliveries, newest first, created before `before`
    /// when given (paging); `None` when the tenant has no such endpoint.
    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookId,
        before: Option<&DeliveryId>,
        limit: u32,
    ) -> Result<Option<Vec<WebhookDelivery>>, StoreError>;

    /// Puts a delivery back in the queue, due at `at` (a manual redelivery,
    /// whatever its status); `None` when the endpoint has no such delivery.
    async fn redeliver(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookId,
        delivery: &DeliveryId,
        at: DateTime<Utc>,
    ) -> Result<Option<WebhookDelivery>, StoreError>;

    /// Claims up to `limit` pending deliveries due at `now`, for this worker
    /// until `lease_until` (a worker that dies leaves them to the next after
    /// that): of each endpoint, its oldest due delivery, and none while
    /// another of its deliveries is claimed. Concurrent workers claim
    /// different rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;

    /// Records an attempt of a claimed delivery and releases the claim;
    /// nothing when the claim is no longer this one (its lease ran out and
    /// another worker claimed it).
    async fn finish_delivery(
        &self,
        due: &DueDelivery,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError>;

    /// Deletes events created before `before` and their deliveries;
    /// returns how many events.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Deliveries still pending, all tenants (the metrics' backlog).
    async fn count_pending_deliveries(&self) -> Result<u64, StoreError>;
}

/// Client telemetry signals.
#[async_trait]
pub trait SignalStore: Send + Sync {
    /// Stores the signals a tenant has not stored yet (by `signal_id`: a
    /// resend is skipped, not counted twice), in one transaction; returns
    /// how many were new.
    async fn insert_signals(&self, signals: &[Signal]) -> Result<u64, StoreError>;

    /// How many signals of `kind` this device sent that happened since `since`.
    async fn count_signals(
        &self,
        tenant: &TenantId,
        device_fingerprint: &str,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError>;

    /// Deletes signals received before `before`; returns how many.
    async fn prune_signals(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Offline verifications synced for a server re-check.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// The record a tenant's client synced for this user, time and frame.
    async fn sync_record(
        &self,
        tenant: &TenantId,
        user: &str,
        verified_at: DateTime<Utc>,
        frame_hash: &str,
    ) -> Result<Option<SyncRecord>, StoreError>;

    /// Stores a record with `events` in one transaction, unless one with the
    /// same tenant, user, time and frame exists (a racing resend): false
    /// then, and nothing written.
    async fn insert_sync_record(
        &self,
        record: &SyncRecord,
        events: &[Event],
    ) -> Result<bool, StoreError>;

    /// Deletes records synced before `before`; returns how many.
    async fn prune_sync_records(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Threat intelligence: sightings, the patterns learned from them, and the
/// frames of live ceremonies kept to recognise a replayed still.
#[async_trait]
pub trait ThreatStore: Send + Sync {
    /// Stores a sighting unless the same (tenant, kind, indicator,
    /// subject) is stored; returns whether it was new.
    async fn record_threat(&self, observation: &ThreatObservation) -> Result<bool, StoreError>;

    /// Distinct subjects seen with this indicator since `since`.
    async fn count_threats(
        &self,
        tenant: &TenantId,
        kind: ThreatKind,
        indicator: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError>;

    /// Learns from one sighting, atomically across instances: the stored
    /// pattern of `fresh`'s tenant, kind and indicator (locked), passed with
    /// `fresh`, `count`, `level` and `decay` to [`ThreatPattern::learn`],
    /// and its answer stored. Returns that answer.
    async fn learn_threat(
        &self,
        fresh: ThreatPattern,
        count: u32,
        level: Option<ThreatAction>,
        decay: chrono::Duration,
    ) -> Result<Option<(ThreatPattern, Option<ThreatAction>)>, StoreError>;

    /// A tenant's patterns, the most recently seen first.
    async fn threat_patterns(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<ThreatPattern>, StoreError>;

    /// Patterns on any of these indicators last seen since `since`: the
    /// tenant's, or every tenant's when `tenant` is `None` (collective
    /// immunity).
    async fn threat_patterns_on(
        &self,
        tenant: Option<&TenantId>,
        indicators: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<ThreatPattern>, StoreError>;

    async fn record_frame_sighting(&self, sighting: &FrameSighting) -> Result<(), StoreError>;

    /// A tenant's frames that matched `user` (or nobody), seen since
    /// `since`, the newest first, at most `limit`.
    async fn frame_sightings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FrameSighting>, StoreError>;

    /// The frame a live ceremony was judged on, if it was kept.
    async fn frame_sighting(
        &self,
        tenant: &TenantId,
        liveness_session: &LivenessSessionId,
    ) -> Result<Option<FrameSighting>, StoreError>;

    /// Deletes sightings of each kind seen before its time, frames seen
    /// before `frames_before` and patterns last seen before
    /// `patterns_before`; returns how many rows.
    async fn prune_threats(
        &self,
        seen_before: &[(ThreatKind, DateTime<Utc>)],
        frames_before: DateTime<Utc>,
        patterns_before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Usage counted as requests are served (a daily rollup), monthly active
/// users, each tenant's plan, and the billing provider's events.
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Adds one request's tallies (distinct metric and dimension each) to
    /// the rollup rows of `day`, atomically and across instances (an
    /// increment in the database, not a read and a write).
    async fn add_usage(
        &self,
        tenant: &TenantId,
        day: chrono::NaiveDate,
        tallies: &[UsageTally],
    ) -> Result<(), StoreError>;

    /// The rollup rows of days `from` to `to`, both included.
    async fn usage_rows(
        &self,
        tenant: &TenantId,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<UsageRow>, StoreError>;

    /// Counts `user` active in the month of `at` (and remembers `at` as
    /// their latest activity). A user not yet counted that month is
    /// refused when the month already has `limit` users; the check and the
    /// count are one atomic step, so racing logins cannot pass the limit.
    async fn mark_active(
        &self,
        tenant: &TenantId,
        user: &UserId,
        at: DateTime<Utc>,
        limit: Option<u64>,
    ) -> Result<Activity, StoreError>;

    /// Distinct users counted active in a month (MAU).
    async fn monthly_active_users(
        &self,
        tenant: &TenantId,
        month: Month,
    ) -> Result<u64, StoreError>;

    /// Distinct users whose latest activity is at or after `since` (within
    /// the months still kept, see [`UsageStore::prune_activity`]).
    async fn active_users_since(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Deletes who was active in months before `before`; the months' counts
    /// stay. Returns how many rows.
    async fn prune_activity(&self, before: Month) -> Result<u64, StoreError>;

    /// The tenant's plan and billing ids (all `None` when never set).
    async fn tenant_billing(&self, tenant: &TenantId) -> Result<TenantBilling, StoreError>;

    /// Sets the tenant's plan (`None`: the default), its billing ids as
    /// they are.
    async fn set_tenant_plan(
        &self,
        tenant: &TenantId,
        plan: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Stores the tenant's customer at the billing provider unless it has
    /// one; returns the one stored (a racing first checkout's, maybe).
    async fn set_billing_customer(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> Result<String, StoreError>;

    /// Records a billing provider's event once, by its id, and applies its
    /// update under [`BillingUpdate`]'s conditions; one transaction, so an
    /// event whose update failed is not taken for a duplicate when the
    /// provider delivers it again.
    async fn record_billing_event(
        &self,
        provider: &str,
        event_id: &str,
        received_at: DateTime<Utc>,
        update: Option<&BillingUpdate>,
    ) -> Result<BillingEventOutcome, StoreError>;

    /// Forgets events received before `before` (providers stop
    /// redelivering after days); returns how many.
    async fn prune_billing_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
