//! A login's risk: the facts the [`RiskPolicy`] scores, and what the
//! tenant's risk rules make of the score (allow, step-up, block), as the
//! `risk` object of verify answers.
//!
//! [`RiskPolicy`]: crate::providers::risk::RiskPolicy

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::{ClientAddr, FaceGate};
use crate::domain::{SignIn, Tenant, User};
use crate::ids::LivenessSessionId;
use crate::policy::{RiskMode, RiskRules};
use crate::providers::risk::{
    CLIENT_RETRY_WINDOW_MINUTES, RiskContext, RiskFactor, RiskScore, SIGN_IN_LOOKBACK_DAYS,
    network_of,
};
use crate::threat::{ThreatAction, ThreatMatch};

/// Sign-ins read per login: enough for a month of a busy user's devices.
const SIGN_INS_READ: u32 = 200;

/// What the server saw of a login, besides the user.
pub(super) struct LoginFacts<'a> {
    pub device_id: &'a str,
    pub device_identified: bool,
    pub user_agent: Option<&'a str>,
    pub client: Option<ClientAddr>,
    pub confidence: f32,
    pub liveness_confidence: f32,
    /// This device's and this user's failed checks within the lockout window.
    pub recent_failures: u32,
    /// A handoff's desktop network (see `RiskContext`).
    pub handoff_desktop_network: Option<Option<String>>,
    /// The device's fingerprint (`x-device-fingerprint`), for its signals.
    pub device_fingerprint: Option<&'a str>,
    /// The live ceremony the face came from, for its frame's patterns.
    pub liveness_session: &'a LivenessSessionId,
    pub now: DateTime<Utc>,
}

/// What enforcing the rules does with a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Decision {
    Allow,
    StepUp,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum StepUpType {
    /// The user's PIN, sent with the same liveness session.
    Pin,
    /// A second, active-mode liveness session, sent with `step_up_for`.
    LivenessActive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum RiskLevel {
    Low,
    Medium,
    High,
}

/// The `risk` object of a verify answer. `decision` is what enforcing the
/// rules does; in shadow mode the login goes ahead whatever it says.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(super) struct RiskView {
    pub score: f32,
    pub level: RiskLevel,
    pub factors: Vec<RiskFactor>,
    pub step_up_required: bool,
    pub step_up_type: Option<StepUpType>,
    pub mode: RiskMode,
    pub decision: Decision,
}

impl RiskView {
    pub(super) fn new(score: RiskScore, rules: &RiskRules, step_up: Option<StepUpType>) -> Self {
        let threshold = rules.step_up_threshold as f32;
        let level = if !score.score.is_finite() || score.score >= threshold {
            RiskLevel::High
        } else if score.score >= threshold / 2.0 {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        };
        Self {
            decision: decide(rules, score.score),
            score: score.score,
            level,
            factors: score.factors,
            step_up_required: step_up.is_some(),
            step_up_type: step_up,
            mode: rules.mode,
        }
    }

    /// Whether the rules are enforced and say `decision` for this login.
    pub(super) fn enforces(&self, decision: Decision) -> bool {
        self.mode == RiskMode::Enforce && self.decision == decision
    }
}

/// What enforcing `rules` does with `score`.
pub(super) fn decide(rules: &RiskRules, score: f32) -> Decision {
    // Scores are f32 to two decimals: compared as f32, 0.9 reaches a 0.9
    // threshold (widened, 0.9f32 is 0.8999…). A score that is not a number
    // (a host's policy gone wrong) is the worst.
    let score = if score.is_finite() { score } else { 1.0 };
    if score >= rules.block_threshold as f32 {
        Decision::Block
    } else if score >= rules.step_up_threshold as f32 {
        Decision::StepUp
    } else {
        Decision::Allow
    }
}

/// A threat pattern's action is a decision, whatever the policy weighs: a
/// blocking one raises the score to the block threshold, a stepping-up one
/// (and patterns that could not be read) to the step-up threshold. A
/// stepping-up pattern never tips a login into a block by its own weight
/// (networks, other tenants' patterns and a feed outage step up only);
/// the other factors still may.
pub(super) fn enforce_threats(
    mut score: RiskScore,
    matches: Option<&[ThreatMatch]>,
    rules: &RiskRules,
) -> RiskScore {
    if !score.score.is_finite() {
        return score;
    }
    let (block, step_up) = (rules.block_threshold as f32, rules.step_up_threshold as f32);
    let strongest = match matches {
        None => Some(ThreatAction::StepUp),
        Some(matches) => matches.iter().map(|m| m.action).max(),
    };
    match strongest {
        Some(ThreatAction::Block) => score.score = score.score.max(block),
        Some(ThreatAction::StepUp) => {
            // What the other factors weigh (a policy's score is their sum).
            let others: f32 = score
                .factors
                .iter()
                .filter(|f| f.code != "threat_intel_match")
                .map(|f| f.weight * f.value)
                .sum();
            if score.score >= block && others < block {
                // Just under the block threshold (scores have two decimals).
                score.score = ((block * 100.0).round() - 1.0) / 100.0;
            }
            score.score = score.score.max(step_up);
        }
        Some(ThreatAction::Monitor) | None => {}
    }
    score
}

/// Failures among these within the rules' lockout window.
pub(super) fn recent(failures: &[DateTime<Utc>], rules: &RiskRules, now: DateTime<Utc>) -> u32 {
    let since = now - rules.lockout_duration();
    u32::try_from(failures.iter().filter(|at| **at >= since).count()).unwrap_or(u32::MAX)
}

impl FaceGate {
    /// Scores a login of `user` with the host's risk policy.
    pub(super) async fn assess_login(
        &self,
        tenant: &Tenant,
        rules: &RiskRules,
        user: &User,
        facts: &LoginFacts<'_>,
    ) -> RiskScore {
        let network = facts.client.map(|c| network_of(c.0));
        let history = match self
            .inner
            .store
            .sign_ins(
                &tenant.id,
                &user.id,
                facts.now - Duration::days(SIGN_IN_LOOKBACK_DAYS),
                SIGN_INS_READ,
            )
            .await
        {
            Ok(history) => Some(history),
            Err(err) => {
                tracing::warn!(%err, "sign-in history unavailable; its risk factors count fully");
                None
            }
        };
        let threat_matches = self
            .threat_matches(tenant, user, facts, network.as_deref())
            .await;
        let client_retries = match facts.device_fingerprint {
            None => None,
            Some(fingerprint) => self
                .inner
                .store
                .count_signals(
                    &tenant.id,
                    &fingerprint.to_ascii_lowercase(),
                    "retry",
                    facts.now - Duration::minutes(CLIENT_RETRY_WINDOW_MINUTES),
                )
                .await
                .inspect_err(|err| tracing::warn!(%err, "client signals unavailable"))
                .ok(),
        };
        let context = RiskContext {
            tenant_id: tenant.id.clone(),
            user_id: user.id.clone(),
            device_id: facts.device_id.to_owned(),
            device_identified: facts.device_identified,
            user_agent: facts.user_agent.map(str::to_owned),
            network,
            confidence: facts.confidence,
            match_threshold: tenant.settings.match_threshold,
            liveness_confidence: facts.liveness_confidence,
            liveness_minimum: tenant.settings.liveness.min_confidence,
            recent_failures: facts.recent_failures,
            max_failed_attempts: rules.max_failed_attempts,
            history,
            threat_matches,
            handoff_desktop_network: facts.handoff_desktop_network.clone(),
            client_retries,
            now: facts.now,
        };
        let score = self.inner.risk.assess(&context).await;
        enforce_threats(score, context.threat_matches.as_deref(), rules)
    }

    /// The learned patterns and the host's feed on this login's device,
    /// network, frame and user; `None` when either could not be read.
    async fn threat_matches(
        &self,
        tenant: &Tenant,
        user: &User,
        facts: &LoginFacts<'_>,
        network: Option<&str>,
    ) -> Option<Vec<ThreatMatch>> {
        let indicators = self.indicators();
        let mut on = self.device_and_network(facts.device_id, facts.client);
        on.push(indicators.user(&tenant.id, user.id.as_str()));
        match self
            .inner
            .store
            .frame_sighting(&tenant.id, facts.liveness_session)
            .await
        {
            Ok(Some(frame)) => on.push(indicators.frame(frame.cluster)),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(%err, "frame sightings unavailable; threat_intel_match counts fully");
                return None;
            }
        }
        let mut matches = self
            .threats_on(&tenant.id, &on)
            .await
            .inspect_err(|err| tracing::warn!(%err, "threat patterns unavailable"))
            .ok()?;
        if let Some(feed) = &self.inner.threat_intel {
            match feed
                .matches(&tenant.id, facts.device_id, network, facts.user_agent)
                .await
            {
                Ok(fed) => matches.extend(fed),
                // Fails closed, and the learned patterns still hold.
                Err(err) => {
                    tracing::warn!(%err, "threat feed unavailable; the login is stepped up");
                    matches.push(ThreatMatch {
                        kind: "feed_unavailable".into(),
                        indicator: String::new(),
                        action: ThreatAction::StepUp,
                    });
                }
            }
        }
        Some(matches)
    }

    /// Remembers a sign-in (or enrollment) for later logins' risk. A lost
    /// one only makes the next login from this device look newer.
    pub(super) async fn remember_sign_in(
        &self,
        user: &User,
        device_id: &str,
        client: Option<ClientAddr>,
        user_agent: Option<&str>,
        at: DateTime<Utc>,
    ) {
        let sign_in = SignIn {
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            device_id: device_id.to_owned(),
            network: client.map(|c| network_of(c.0)),
            user_agent: user_agent.map(|ua| ua.chars().take(512).collect()),
            at,
        };
        if let Err(err) = self.inner.store.record_sign_in(&sign_in).await {
            tracing::warn!(%err, user = %user.id, "could not record a sign-in");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RiskMode;

    #[test]
    fn a_score_at_a_threshold_reaches_it() {
        for threshold in [0.6, 0.65, 0.7, 0.9, 0.95] {
            let rules = RiskRules {
                block_threshold: threshold,
                step_up_threshold: threshold,
                max_failed_attempts: 5,
                lockout_duration_minutes: 30,
                mode: RiskMode::Enforce,
            };
            let score = RiskScore::of(vec![RiskFactor {
                code: "x",
                weight: threshold as f32,
                value: 1.0,
            }]);
            assert_eq!(decide(&rules, score.score), Decision::Block, "{threshold}");
        }
        let rules = RiskRules::default_for(&Default::default());
        assert_eq!(decide(&rules, f32::NAN), Decision::Block);
        assert_eq!(decide(&rules, 0.59), Decision::Allow);
    }

    #[test]
    fn threat_patterns_decide_within_the_rules() {
        use crate::threat::{ThreatAction, ThreatMatch};
        let rules = RiskRules::default_for(&Default::default());
        let scored = |others: f32, threat: f32| {
            RiskScore::of(vec![
                RiskFactor {
                    code: "new_device",
                    weight: others,
                    value: 1.0,
                },
                RiskFactor {
                    code: "threat_intel_match",
                    weight: 0.6,
                    value: threat,
                },
            ])
        };
        let on = |action| {
            vec![ThreatMatch {
                kind: "enumeration".into(),
                indicator: "net:00".into(),
                action,
            }]
        };
        let decided = |score: RiskScore, matches: Option<&[ThreatMatch]>| {
            decide(&rules, enforce_threats(score, matches, &rules).score)
        };
        let (step_up, block) = (on(ThreatAction::StepUp), on(ThreatAction::Block));
        // A block pattern blocks a login that scored nothing else.
        assert_eq!(decided(scored(0.0, 1.0), Some(&block)), Decision::Block);
        // A step-up pattern steps up, even where its weight would block…
        assert_eq!(decided(scored(0.0, 0.5), Some(&step_up)), Decision::StepUp);
        assert_eq!(decided(scored(0.65, 0.5), Some(&step_up)), Decision::StepUp);
        // …but the other factors may still block on their own.
        assert_eq!(decided(scored(0.9, 0.5), Some(&step_up)), Decision::Block);
        // Unreadable patterns step up; none leave the score alone.
        assert_eq!(decided(scored(0.0, 1.0), None), Decision::StepUp);
        assert_eq!(decided(scored(0.1, 0.0), Some(&[])), Decision::Allow);
    }
}
