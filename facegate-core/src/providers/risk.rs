//! Risk scoring of a verification attempt. [`DefaultRiskPolicy`] is used
//! unless the host registers its own.

use async_trait::async_trait;
use serde::Serialize;

use crate::ids::{TenantId, UserId};

/// What a risk policy knows about an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskContext {
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    pub device_id: String,
    /// Whether the client identified its device (`x-device-id` or
    /// `x-device-fingerprint`) rather than leaving the server to make one up.
    pub device_identified: bool,
    pub user_agent: Option<String>,
    /// Match confidence, 0–100.
    pub confidence: f32,
    /// The tenant's match threshold, for the margin above it.
    pub match_threshold: f32,
    /// Failed liveness checks from this device or of this user in the
    /// current lockout window.
    pub recent_failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

/// The `risk` object of a verify response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskAssessment {
    /// 0 (no risk) to 1.
    pub score: f32,
    pub level: RiskLevel,
    pub factors: Vec<String>,
    pub step_up_required: bool,
    pub step_up_type: Option<String>,
}

#[async_trait]
pub trait RiskPolicy: Send + Sync + 'static {
    async fn assess(&self, context: &RiskContext) -> RiskAssessment;
}

/// Adds up a few signals the server has first-hand:
///
/// | factor                     | adds           |
/// |----------------------------|----------------|
/// | `low_match_margin` (< 5 points above the threshold) | 0.25 |
/// | `recent_liveness_failures` | 0.15 each, at most 0.45 |
/// | `unidentified_device`      | 0.10           |
///
/// Below 0.3 is low, below 0.6 medium, else high; high asks for a step-up
/// (another liveness check).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRiskPolicy;

#[async_trait]
impl RiskPolicy for DefaultRiskPolicy {
    async fn assess(&self, context: &RiskContext) -> RiskAssessment {
        let mut score = 0.0_f32;
        let mut factors = Vec::new();
        if context.confidence < context.match_threshold + 5.0 {
            score += 0.25;
            factors.push("low_match_margin".to_owned());
        }
        if context.recent_failures > 0 {
            score += (0.15 * context.recent_failures as f32).min(0.45);
            factors.push("recent_liveness_failures".to_owned());
        }
        if !context.device_identified {
            score += 0.1;
            factors.push("unidentified_device".to_owned());
        }
        let score = (score.min(1.0) * 100.0).round() / 100.0;
        let level = if score < 0.3 {
            RiskLevel::Low
        } else if score < 0.6 {
            RiskLevel::Medium
        } else {
            RiskLevel::High
        };
        RiskAssessment {
            score,
            level,
            factors,
            step_up_required: level == RiskLevel::High,
            step_up_type: (level == RiskLevel::High).then(|| "liveness".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(confidence: f32, failures: u32, identified: bool) -> RiskContext {
        RiskContext {
            tenant_id: TenantId::from_string("ten_1"),
            user_id: None,
            device_id: "dev_1".into(),
            device_identified: identified,
            user_agent: None,
            confidence,
            match_threshold: 90.0,
            recent_failures: failures,
        }
    }

    #[tokio::test]
    async fn factors_add_up_to_a_level() {
        let clean = DefaultRiskPolicy.assess(&context(99.0, 0, true)).await;
        assert_eq!((clean.score, clean.level), (0.0, RiskLevel::Low));
        assert!(clean.factors.is_empty() && !clean.step_up_required);
        let shaky = DefaultRiskPolicy.assess(&context(92.0, 1, false)).await;
        assert_eq!((shaky.score, shaky.level), (0.5, RiskLevel::Medium));
        let bad = DefaultRiskPolicy.assess(&context(91.0, 4, false)).await;
        assert_eq!((bad.score, bad.level), (0.8, RiskLevel::High));
        assert_eq!(bad.step_up_type.as_deref(), Some("liveness"));
    }
}
