//! The tenant policies of the spec (`POST /v1/policy/{rotation,risk,continuous}`):
//! what each one holds, its defaults, its validation, and the arithmetic the
//! API applies with it (lockout waits, confidence decay, rotation dates).
//! A tenant has at most one stored policy of each type; without one, the
//! defaults here apply.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::TenantSettings;
use crate::error::FieldIssue;

/// Face rotation: how long an enrolled face is trusted before the user must
/// enroll again. Off unless set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationPolicy {
    /// A face this old is due for re-enrollment.
    pub rotation_days: u32,
    /// Days after `rotation_days` during which verify still succeeds.
    pub grace_period_days: u32,
    /// Days before `rotation_days` from which verify answers
    /// `re_enrollment_required: true`.
    pub notify_before_days: u32,
}

/// Risk thresholds and lockout rules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskRules {
    /// A login scored at or above this is refused (403 `RISK_BLOCKED`).
    pub block_threshold: f64,
    /// A login scored at or above this (and below the block threshold)
    /// gets no token until a step-up (PIN or active liveness) is passed.
    pub step_up_threshold: f64,
    /// Failed checks of a device or user within `lockout_duration_minutes`
    /// that lock it.
    pub max_failed_attempts: u32,
    /// The first lockout's length; each further lockout within a day lasts
    /// one more such period (Keycloak's wait increment).
    pub lockout_duration_minutes: u32,
    /// `shadow` scores and reports but blocks nothing (our addition, to
    /// tune thresholds before enforcing them).
    #[serde(default)]
    pub mode: RiskMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RiskMode {
    #[default]
    Enforce,
    Shadow,
}

/// Continuous re-verification of open sessions. Off unless set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinuousPolicy {
    /// A session must re-verify this long after its last verification.
    pub re_verify_interval_minutes: u32,
    /// Per hour: confidence is `c0 · exp(−rate · hours)` since the last
    /// verification.
    pub confidence_decay_rate: f64,
    /// Below this decayed confidence (0–100) the session must re-verify.
    pub min_confidence: f64,
}

/// The three policy types, as named in paths and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    Rotation,
    Risk,
    Continuous,
}

impl PolicyType {
    pub const ALL: [PolicyType; 3] = [
        PolicyType::Rotation,
        PolicyType::Risk,
        PolicyType::Continuous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Rotation => "rotation",
            PolicyType::Risk => "risk",
            PolicyType::Continuous => "continuous",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One stored policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy_type", content = "config", rename_all = "snake_case")]
pub enum Policy {
    Rotation(RotationPolicy),
    Risk(RiskRules),
    Continuous(ContinuousPolicy),
}

impl Policy {
    pub fn policy_type(&self) -> PolicyType {
        match self {
            Policy::Rotation(_) => PolicyType::Rotation,
            Policy::Risk(_) => PolicyType::Risk,
            Policy::Continuous(_) => PolicyType::Continuous,
        }
    }

    /// The config alone, for answers: its fields in the spec's order.
    pub fn config(&self) -> PolicyConfig<'_> {
        match self {
            Policy::Rotation(p) => PolicyConfig::Rotation(p),
            Policy::Risk(p) => PolicyConfig::Risk(p),
            Policy::Continuous(p) => PolicyConfig::Continuous(p),
        }
    }

    /// The config alone, as JSON (as the store keeps it).
    pub fn config_json(&self) -> serde_json::Value {
        match self {
            Policy::Rotation(p) => serde_json::to_value(p),
            Policy::Risk(p) => serde_json::to_value(p),
            Policy::Continuous(p) => serde_json::to_value(p),
        }
        .unwrap_or_default()
    }

    /// Reads a config of this type back from JSON.
    pub fn from_config(kind: PolicyType, config: serde_json::Value) -> serde_json::Result<Self> {
        Ok(match kind {
            PolicyType::Rotation => Policy::Rotation(serde_json::from_value(config)?),
            PolicyType::Risk => Policy::Risk(serde_json::from_value(config)?),
            PolicyType::Continuous => Policy::Continuous(serde_json::from_value(config)?),
        })
    }

    /// The ranges of the issue: thresholds in [0, 1] with step-up ≤ block,
    /// days and minutes positive and bounded, confidences 0–100.
    pub fn validate(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                issues.push(FieldIssue::new(field, message));
            }
        };
        match self {
            Policy::Rotation(p) => {
                check(
                    (1..=3650).contains(&p.rotation_days),
                    "rotation_days",
                    "must be 1 to 3650",
                );
                check(
                    p.grace_period_days <= 365,
                    "grace_period_days",
                    "must be 0 to 365",
                );
                check(
                    p.notify_before_days <= 365 && p.notify_before_days < p.rotation_days.max(1),
                    "notify_before_days",
                    "must be 0 to 365 and less than rotation_days",
                );
            }
            Policy::Risk(p) => {
                let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
                check(unit(p.block_threshold), "block_threshold", "must be 0 to 1");
                check(
                    unit(p.step_up_threshold),
                    "step_up_threshold",
                    "must be 0 to 1",
                );
                check(
                    !(unit(p.block_threshold) && unit(p.step_up_threshold))
                        || p.step_up_threshold <= p.block_threshold,
                    "step_up_threshold",
                    "must not exceed block_threshold",
                );
                check(
                    (1..=100).contains(&p.max_failed_attempts),
                    "max_failed_attempts",
                    "must be 1 to 100",
                );
                check(
                    (1..=1440).contains(&p.lockout_duration_minutes),
                    "lockout_duration_minutes",
                    "must be 1 to 1440 (a day)",
                );
            }
            Policy::Continuous(p) => {
                check(
                    (1..=10_080).contains(&p.re_verify_interval_minutes),
                    "re_verify_interval_minutes",
                    "must be 1 to 10080 (a week)",
                );
                check(
                    p.confidence_decay_rate.is_finite()
                        && (0.0..=10.0).contains(&p.confidence_decay_rate),
                    "confidence_decay_rate",
                    "must be 0 to 10 (per hour)",
                );
                check(
                    p.min_confidence.is_finite() && (0.0..=100.0).contains(&p.min_confidence),
                    "min_confidence",
                    "must be 0 to 100",
                );
            }
        }
        issues
    }
}

/// A policy's config without its type, serialised as the config itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PolicyConfig<'a> {
    Rotation(&'a RotationPolicy),
    Risk(&'a RiskRules),
    Continuous(&'a ContinuousPolicy),
}

/// The policies in force for a tenant: the stored ones, defaults for the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TenantPolicies {
    pub rotation: Option<RotationPolicy>,
    pub risk: RiskRules,
    pub continuous: Option<ContinuousPolicy>,
}

impl TenantPolicies {
    /// From the stored policies; types not stored take their defaults.
    pub fn from_stored(settings: &TenantSettings, stored: &[Policy]) -> Self {
        let mut policies = Self {
            rotation: None,
            risk: RiskRules::default_for(settings),
            continuous: None,
        };
        for policy in stored {
            match *policy {
                Policy::Rotation(p) => policies.rotation = Some(p),
                Policy::Risk(p) => policies.risk = p,
                Policy::Continuous(p) => policies.continuous = Some(p),
            }
        }
        policies
    }
}

impl RiskRules {
    /// The rules without a stored risk policy: the spec's example thresholds,
    /// enforced, and the lockout the tenant's liveness settings had before
    /// policies existed (five failures, `liveness.lockout_minutes`).
    pub fn default_for(settings: &TenantSettings) -> Self {
        Self {
            block_threshold: 0.9,
            step_up_threshold: 0.6,
            max_failed_attempts: crate::domain::LivenessSettings::MAX_FAILURES as u32,
            lockout_duration_minutes: settings.liveness.lockout_minutes.clamp(1, 1440),
            mode: RiskMode::Enforce,
        }
    }

    pub fn lockout_duration(&self) -> Duration {
        Duration::minutes(i64::from(self.lockout_duration_minutes.max(1)))
    }

    /// When a lockout from these failure times ends, if one is in force at
    /// `now`. `max_failed_attempts` failures within one lockout duration
    /// (counted after the previous lockout ended) lock the subject; the
    /// n-th lockout within [`RiskRules::REPEAT_WINDOW_HOURS`] lasts n
    /// durations, so a patient attacker's rate falls with every round.
    pub fn lockout_until(
        &self,
        failures: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut times: Vec<DateTime<Utc>> = failures
            .iter()
            .copied()
            .filter(|at| *at > now - Self::repeat_window())
            .collect();
        times.sort_unstable();
        let duration = self.lockout_duration();
        let needed = self.max_failed_attempts.max(1) as usize;
        let mut lockouts = 0i32;
        let mut until: Option<DateTime<Utc>> = None;
        let mut run: Vec<DateTime<Utc>> = Vec::new();
        for at in times {
            if until.is_some_and(|end| at < end) {
                // A failure completed while locked (started before the lock).
                continue;
            }
            run.retain(|earlier| at - *earlier < duration);
            run.push(at);
            if run.len() >= needed {
                lockouts += 1;
                until = Some(at + duration * lockouts);
                run.clear();
            }
        }
        until.filter(|end| *end > now)
    }

    /// How far back failures are read for [`RiskRules::lockout_until`].
    pub fn repeat_window() -> Duration {
        Duration::hours(Self::REPEAT_WINDOW_HOURS)
    }

    /// Lockouts within this many hours count as repeats.
    pub const REPEAT_WINDOW_HOURS: i64 = 24;
}

impl ContinuousPolicy {
    /// The session's confidence `hours` after its last verification.
    pub fn decayed(&self, verified_confidence: f32, since: Duration) -> f32 {
        let hours = since.num_milliseconds().max(0) as f64 / 3_600_000.0;
        (f64::from(verified_confidence) * (-self.confidence_decay_rate * hours).exp()) as f32
    }

    /// When a session verified at `at` with `confidence` must re-verify:
    /// the interval's end, or when the decayed confidence falls below the
    /// minimum, whichever comes first.
    pub fn deadline(&self, at: DateTime<Utc>, confidence: f32) -> DateTime<Utc> {
        let by_interval = at + Duration::minutes(i64::from(self.re_verify_interval_minutes));
        if f64::from(confidence) < self.min_confidence {
            return at;
        }
        if self.confidence_decay_rate <= 0.0 || self.min_confidence <= 0.0 {
            return by_interval;
        }
        let hours = (f64::from(confidence) / self.min_confidence).ln() / self.confidence_decay_rate;
        let by_decay = at + Duration::milliseconds((hours * 3_600_000.0).min(1e15) as i64);
        by_interval.min(by_decay)
    }
}

/// Where a user's enrolled face stands against the rotation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStatus {
    Current,
    /// Within `notify_before_days` of rotation, or past it within the grace period.
    Due,
    /// Past rotation and grace: no token until the user re-enrolls.
    Expired,
}

impl RotationPolicy {
    /// When a face enrolled at `enrolled_at` is due for rotation.
    pub fn due_at(&self, enrolled_at: DateTime<Utc>) -> DateTime<Utc> {
        enrolled_at + Duration::days(i64::from(self.rotation_days))
    }

    pub fn status(&self, enrolled_at: DateTime<Utc>, now: DateTime<Utc>) -> RotationStatus {
        let due = self.due_at(enrolled_at);
        if now >= due + Duration::days(i64::from(self.grace_period_days)) {
            RotationStatus::Expired
        } else if now >= due - Duration::days(i64::from(self.notify_before_days)) {
            RotationStatus::Due
        } else {
            RotationStatus::Current
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(max: u32, minutes: u32) -> RiskRules {
        RiskRules {
            block_threshold: 0.9,
            step_up_threshold: 0.6,
            max_failed_attempts: max,
            lockout_duration_minutes: minutes,
            mode: RiskMode::Enforce,
        }
    }

    #[test]
    fn each_repeat_lockout_lasts_one_duration_longer() {
        let rules = rules(3, 10);
        let t0 = Utc::now() - Duration::hours(1);
        let burst = |start: DateTime<Utc>| (0..3).map(move |i| start + Duration::seconds(i));
        let first: Vec<_> = burst(t0).collect();
        let end = rules.lockout_until(&first, t0).unwrap();
        assert_eq!(end, first[2] + Duration::minutes(10));
        // Three more right after the first lockout: the second lasts 20 minutes.
        let mut both = first.clone();
        both.extend(burst(end + Duration::seconds(1)));
        let now = end + Duration::seconds(5);
        assert_eq!(
            rules.lockout_until(&both, now),
            Some(both[5] + Duration::minutes(20))
        );
        // Failures spread wider than a duration never lock.
        let spread: Vec<_> = (0..6).map(|i| t0 + Duration::minutes(11 * i)).collect();
        assert_eq!(rules.lockout_until(&spread, t0 + Duration::hours(2)), None);
        // Day-old failures are forgotten.
        assert_eq!(rules.lockout_until(&first, t0 + Duration::hours(25)), None);
    }

    #[test]
    fn the_deadline_is_the_interval_or_the_decay_whichever_is_first() {
        let at = Utc::now();
        let slow = ContinuousPolicy {
            re_verify_interval_minutes: 30,
            confidence_decay_rate: 0.1,
            min_confidence: 85.0,
        };
        assert_eq!(slow.deadline(at, 99.0), at + Duration::minutes(30));
        let fast = ContinuousPolicy {
            confidence_decay_rate: 2.0,
            ..slow
        };
        // ln(99/85)/2 h ≈ 4.57 min.
        let deadline = fast.deadline(at, 99.0);
        let minutes = (deadline - at).num_seconds() as f64 / 60.0;
        assert!((4.5..4.7).contains(&minutes), "{minutes}");
        assert!(fast.decayed(99.0, deadline - at) - 85.0 < 0.01);
        assert_eq!(slow.deadline(at, 80.0), at);
    }

    #[test]
    fn rotation_is_current_then_due_then_expired() {
        let policy = RotationPolicy {
            rotation_days: 90,
            grace_period_days: 7,
            notify_before_days: 14,
        };
        let now = Utc::now();
        let ago = |days| now - Duration::days(days);
        assert_eq!(policy.status(ago(10), now), RotationStatus::Current);
        assert_eq!(policy.status(ago(77), now), RotationStatus::Due);
        assert_eq!(policy.status(ago(95), now), RotationStatus::Due);
        assert_eq!(policy.status(ago(98), now), RotationStatus::Expired);
    }

    #[test]
    fn validation_names_each_bad_field() {
        let bad = Policy::Risk(RiskRules {
            block_threshold: 0.5,
            step_up_threshold: 0.7,
            max_failed_attempts: 0,
            lockout_duration_minutes: 5000,
            mode: RiskMode::Enforce,
        });
        let fields: Vec<_> = bad
            .validate()
            .into_iter()
            .map(|i| i.path.join("."))
            .collect();
        assert_eq!(
            fields,
            [
                "step_up_threshold",
                "max_failed_attempts",
                "lockout_duration_minutes"
            ]
        );
        let nan = Policy::Continuous(ContinuousPolicy {
            re_verify_interval_minutes: 0,
            confidence_decay_rate: f64::NAN,
            min_confidence: 101.0,
        });
        assert_eq!(nan.validate().len(), 3);
    }
}
