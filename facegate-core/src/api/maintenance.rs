//! Housekeeping that must happen whether or not anyone starts a liveness
//! session: expired ceremonies lose their images, old audit events go. Run
//! at most once an hour per instance, in the background of a request (so
//! every host gets it without wiring), or by the host with
//! [`FaceGate::run_maintenance`]. With several instances each sweeps; the
//! deletes are idempotent.
//!
//! Also here: the audit trail's budget for requests that never reached a
//! tenant (no key, a bad key, an unknown route, the public probes). One row each would let an
//! attacker grow the database at line rate; instead each instance writes at
//! most [`UNAUTHENTICATED_PER_MINUTE`] of them a minute, and the first one
//! after a dropped stretch says how many were dropped (`note`: `dropped N`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::FaceGate;
use crate::clock;
use crate::deletion::DeletionReason;

/// How often an instance sweeps.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(60 * 60);
/// Tenantless audit rows an instance writes per minute.
pub const UNAUTHENTICATED_PER_MINUTE: u32 = 60;
/// How long ceremonies are kept (for lockout counting) after they expire.
const FORGET_SESSIONS_AFTER_HOURS: i64 = 24;
/// How long face changes are kept in the log. An instance that has not
/// read its tenant's log for longer reloads the tenant's faces instead.
const KEEP_FACE_CHANGES_HOURS: i64 = 24;
/// How long request counters are kept (longer than any window).
const KEEP_REQUEST_WINDOWS_HOURS: i64 = 1;
/// Users the retention sweep deletes per tenant and pass; the rest wait
/// for the next pass, an hour later.
const RETENTION_BATCH: u64 = 500;

/// What is kept, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Audit events older than this are deleted. Default 400 days: a year
    /// of analytics and a month to spare.
    pub audit: Duration,
    /// Events and their webhook deliveries older than this are deleted.
    /// Default 30 days: past the 24 h of retries, time to redeliver by hand.
    pub events: Duration,
    /// Client signals older than this are deleted. Default 90 days: the
    /// longest analytics period.
    pub signals: Duration,
    /// Synced offline verifications (`POST /v1/sync`) older than this are
    /// deleted. Default 90 days.
    pub sync_records: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            audit: Duration::from_secs(400 * 24 * 60 * 60),
            events: Duration::from_secs(30 * 24 * 60 * 60),
            signals: Duration::from_secs(90 * 24 * 60 * 60),
            sync_records: Duration::from_secs(90 * 24 * 60 * 60),
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub liveness_sessions_deleted: u64,
    pub reference_frames_deleted: u64,
    pub face_changes_deleted: u64,
    pub request_windows_deleted: u64,
    pub audit_events_deleted: u64,
    /// Faces deleted from an engine that keeps faces itself, which had
    /// failed when their rows were removed.
    pub engine_faces_deleted: u64,
    /// Sign-ins older than the risk engine looks back, and expired step-ups.
    pub sign_ins_deleted: u64,
    pub step_ups_deleted: u64,
    /// Handoffs an hour past their expiry.
    pub handoffs_deleted: u64,
    /// Events past their retention, with their deliveries.
    pub events_deleted: u64,
    /// Client signals past their retention.
    pub signals_deleted: u64,
    /// Synced offline verifications past their retention.
    pub sync_records_deleted: u64,
    /// Threat sightings and frames past the longest rule window, and
    /// patterns that have expired.
    pub threats_deleted: u64,
    /// Who was active in months no analytics period reaches any more (the
    /// months' counts stay).
    pub activity_deleted: u64,
    /// Billing providers' events old enough not to be redelivered.
    pub billing_events_deleted: u64,
    /// Users idle past their tenant's biometric retention, deleted with
    /// receipts.
    pub retention_users_deleted: u64,
    /// Values sealed again under the current master key (stored before it
    /// was configured, or under a key it replaced); see [`FaceGate::reseal`].
    pub resealed: super::reseal::ResealReport,
}

/// When the last sweep ran, and the tenantless-audit budget.
#[derive(Default)]
pub(super) struct Housekeeping {
    last_sweep: Mutex<Option<Instant>>,
    unauthenticated: Mutex<Budget>,
}

#[derive(Default)]
struct Budget {
    minute: Option<Instant>,
    written: u32,
    dropped: u64,
}

/// Whether to write a tenantless audit row, and the drop count to note on it.
pub(super) enum AuditAdmission {
    Write { dropped_before: u64 },
    Drop,
}

impl Housekeeping {
    /// Claims the sweep if one is due.
    fn sweep_due(&self, now: Instant) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        match *last {
            Some(at) if now.duration_since(at) < MAINTENANCE_EVERY => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    pub(super) fn admit_unauthenticated(&self, now: Instant) -> AuditAdmission {
        let mut budget = self
            .unauthenticated
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if budget
            .minute
            .is_none_or(|start| now.duration_since(start) >= Duration::from_secs(60))
        {
            budget.minute = Some(now);
            budget.written = 0;
        }
        if budget.written >= UNAUTHENTICATED_PER_MINUTE {
            budget.dropped += 1;
            return AuditAdmission::Drop;
        }
        budget.written += 1;
        AuditAdmission::Write {
            dropped_before: std::mem::take(&mut budget.dropped),
        }
    }
}

impl FaceGate {
    /// One housekeeping pass: images of expired ceremonies dropped, the
    /// ceremonies themselves a day later, the digests of reference frames
    /// after [`crate::liveness::REMEMBER_REFERENCE_FRAMES`], face-log
    /// entries after a day, request counters after an hour, sign-ins after
    /// the risk engine's 30 days, step-ups an hour after they expire, audit
    /// events, events (with their deliveries) and signals past their
    /// retention.
    /// Failures are logged; the next pass retries.
    pub async fn run_maintenance(&self) -> MaintenanceReport {
        let now = clock::now();
        let store = &self.inner.store;
        let mut report = MaintenanceReport::default();
        let forget_before = now - chrono::Duration::hours(FORGET_SESSIONS_AFTER_HOURS);
        match store.prune_liveness_sessions(now, forget_before).await {
            Ok(deleted) => report.liveness_sessions_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune liveness sessions"),
        }
        let retention = &self.inner.retention;
        let before = kept_since(now, retention.audit);
        let forget_frames = now - crate::liveness::REMEMBER_REFERENCE_FRAMES;
        match store.prune_reference_frames(forget_frames).await {
            Ok(deleted) => report.reference_frames_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune reference frames"),
        }
        let forget_changes = now - chrono::Duration::hours(KEEP_FACE_CHANGES_HOURS);
        match store.prune_face_changes(forget_changes).await {
            Ok(deleted) => report.face_changes_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune the face log"),
        }
        let forget_windows = now - chrono::Duration::hours(KEEP_REQUEST_WINDOWS_HOURS);
        match store.prune_request_windows(forget_windows).await {
            Ok(deleted) => report.request_windows_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune request counters"),
        }
        let forget_sign_ins =
            now - chrono::Duration::days(crate::providers::risk::SIGN_IN_LOOKBACK_DAYS);
        match store.prune_sign_ins(forget_sign_ins).await {
            Ok(deleted) => report.sign_ins_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune sign-ins"),
        }
        match store.prune_step_ups(now - chrono::Duration::hours(1)).await {
            Ok(deleted) => report.step_ups_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune step-ups"),
        }
        match store.prune_handoffs(now - chrono::Duration::hours(1)).await {
            Ok(deleted) => report.handoffs_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune handoffs"),
        }
        match store.prune_events(kept_since(now, retention.events)).await {
            Ok(deleted) => report.events_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune events"),
        }
        match store
            .prune_signals(kept_since(now, retention.signals))
            .await
        {
            Ok(deleted) => report.signals_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune signals"),
        }
        // Kept at least as long as a record may be synced, or a late resend
        // would be checked (and reported) a second time.
        let keep_sync = retention.sync_records.max(super::sync::RESEND_WINDOW);
        match store.prune_sync_records(kept_since(now, keep_sync)).await {
            Ok(deleted) => report.sync_records_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune synced records"),
        }
        let threats = &self.inner.threats.config;
        let sightings: Vec<_> = crate::threat::ThreatKind::ALL
            .into_iter()
            .map(|kind| (kind, now - threats.window(kind)))
            .collect();
        let frames = now - threats.window(crate::threat::ThreatKind::ReplayedFrames);
        // A block lasts three decay periods at most (see `ThreatPattern::action_at`).
        let expired = now - threats.decay * 3;
        match store.prune_threats(&sightings, frames, expired).await {
            Ok(deleted) => report.threats_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune threat intelligence"),
        }
        // The longest analytics period is 90 days: its first month is kept.
        let oldest_read = crate::usage::Month::of(now - chrono::Duration::days(90));
        match store.prune_activity(oldest_read).await {
            Ok(deleted) => report.activity_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune monthly activity"),
        }
        // Stripe redelivers for three days; a month covers any provider's.
        match store
            .prune_billing_events(now - chrono::Duration::days(30))
            .await
        {
            Ok(deleted) => report.billing_events_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune billing events"),
        }
        match store.prune_audit(before).await {
            Ok(deleted) => report.audit_events_deleted = deleted,
            Err(err) => tracing::warn!(%err, "could not prune the audit trail"),
        }
        report.engine_faces_deleted = self.delete_engine_faces(None).await;
        report.retention_users_deleted = self.sweep_retention(now).await;
        report.resealed = self.reseal_if_wanted().await;
        tracing::debug!(?report, "maintenance done");
        report
    }

    /// Deletes every user whose last interaction (enrollment, a new face, a
    /// login or a refresh) is older at `now` than their tenant's
    /// `biometric_retention_days`, each in one transaction with a receipt
    /// (reason `retention`) and a `user.deleted` event; at most
    /// [`RETENTION_BATCH`] per tenant a pass. Part of
    /// [`FaceGate::run_maintenance`]; `now` is a parameter so a host can
    /// run it ahead of time, and tests with a clock of their own. The demo
    /// tenant keeps its own, shorter, expiry. Returns the users deleted.
    pub async fn sweep_retention(&self, now: chrono::DateTime<Utc>) -> u64 {
        let tenants = match self.inner.store.tenants().await {
            Ok(tenants) => tenants,
            Err(err) => {
                tracing::warn!(%err, "could not list tenants for the retention sweep");
                return 0;
            }
        };
        let mut deleted = 0;
        for tenant in tenants.iter().filter(|tenant| !tenant.id.is_demo()) {
            let keep = chrono::Duration::days(i64::from(tenant.settings.retention_days()));
            let idle = match self
                .inner
                .store
                .users_idle_since(&tenant.id, now - keep, RETENTION_BATCH)
                .await
            {
                Ok(idle) => idle,
                Err(err) => {
                    tracing::warn!(%err, tenant = %tenant.id, "could not list idle users");
                    continue;
                }
            };
            deleted += self
                .erase_users(tenant, &idle, DeletionReason::Retention, Some(now - keep))
                .await;
        }
        deleted
    }

    /// Starts [`FaceGate::run_maintenance`] in the background when an hour
    /// has passed since the last (or it never ran on this instance).
    pub(super) fn maintain_if_due(&self) {
        if !self.inner.housekeeping.sweep_due(Instant::now()) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let facegate = self.clone();
            runtime.spawn(async move {
                facegate.run_maintenance().await;
            });
        }
    }
}

/// The oldest time a retention of `keep` keeps at `now` (the dawn of time
/// for a retention too long to subtract).
fn kept_since(now: chrono::DateTime<Utc>, keep: Duration) -> chrono::DateTime<Utc> {
    chrono::Duration::from_std(keep)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
}
