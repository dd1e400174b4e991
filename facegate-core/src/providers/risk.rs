//! Risk scoring of a login. A [`RiskPolicy`] turns what the server knows
//! about an attempt into a score in [0, 1] made of named factors; the
//! tenant's risk policy (`POST /v1/policy/risk`) decides what a score
//! means (allow, step-up, block). [`DefaultRiskPolicy`] is used unless the
//! host registers its own; docs/risk.md lists its factors.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::SignIn;
use crate::ids::{TenantId, UserId};
use crate::threat::{ThreatAction, ThreatMatch};

/// What a risk policy knows about a login.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskContext {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub device_id: String,
    /// Whether the client identified its device (`x-device-id` or
    /// `x-device-fingerprint`) rather than leaving the server to make one up.
    pub device_identified: bool,
    pub user_agent: Option<String>,
    /// The client address's network (see [`network_of`]); `None` when the
    /// adapter could not tell.
    pub network: Option<String>,
    /// Match confidence and the tenant's threshold, 0–100.
    pub confidence: f32,
    pub match_threshold: f32,
    /// Liveness confidence and the tenant's minimum, 0–100.
    pub liveness_confidence: f32,
    pub liveness_minimum: f32,
    /// Failed checks of this device and of this user within the lockout
    /// window, and how many lock.
    pub recent_failures: u32,
    pub max_failed_attempts: u32,
    /// The user's sign-ins over the last [`SIGN_IN_LOOKBACK_DAYS`], newest
    /// first; `None` when they could not be read.
    pub history: Option<Vec<SignIn>>,
    /// Threat patterns in force on this login's device, network, frame or
    /// user: learned ones (`GET /v1/threat-intel`) and a host's
    /// [`ThreatIntel`] feed's; `None` when they could not be read.
    pub threat_matches: Option<Vec<ThreatMatch>>,
    /// A login finished on a phone for a desktop (cross-device handoff):
    /// the desktop's network, `Some(None)` when it could not be told.
    pub handoff_desktop_network: Option<Option<String>>,
    /// Retries this device's client reported (`POST /v1/signals`, type
    /// `retry`) over the last [`CLIENT_RETRY_WINDOW_MINUTES`]; `None` when
    /// unknown (no device fingerprint, or unreadable).
    pub client_retries: Option<u32>,
    pub now: DateTime<Utc>,
}

/// How far back `client_retries` counts.
pub const CLIENT_RETRY_WINDOW_MINUTES: i64 = 60;

/// How far back sign-ins count for `new_device`, `new_network` and `velocity`.
pub const SIGN_IN_LOOKBACK_DAYS: i64 = 30;

/// One named contribution to a score: `weight · value`, `value` in [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RiskFactor {
    pub code: &'static str,
    pub weight: f32,
    pub value: f32,
}

/// A score and the factors it is made of (those with a value above zero).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskScore {
    /// 0 (no risk) to 1.
    pub score: f32,
    pub factors: Vec<RiskFactor>,
}

impl RiskScore {
    /// The weighted sum of these factors, capped at 1, to two decimals.
    pub fn of(factors: Vec<RiskFactor>) -> Self {
        let sum: f32 = factors.iter().map(|f| f.weight * f.value).sum();
        let score = (sum.clamp(0.0, 1.0) * 100.0).round() / 100.0;
        let factors = factors.into_iter().filter(|f| f.value > 0.0).collect();
        Self { score, factors }
    }
}

#[async_trait]
pub trait RiskPolicy: Send + Sync + 'static {
    async fn assess(&self, context: &RiskContext) -> RiskScore;
}

/// A host's own source of threat intelligence (known-bad devices,
/// networks, user agents), read besides the patterns FaceGate learns. A
/// match's action is enforced as a learned pattern's is: `step_up` and
/// `block` raise the score to the tenant's thresholds.
#[async_trait]
pub trait ThreatIntel: Send + Sync + 'static {
    /// What the feed knows of this login's device, network or user agent.
    async fn matches(
        &self,
        tenant: &TenantId,
        device_id: &str,
        network: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Vec<ThreatMatch>, String>;
}

/// The factors of docs/risk.md, weighted as in the table there. A factor
/// whose data is missing counts fully (fails closed): an unidentified
/// device is a new device, an unknown address a new network.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRiskPolicy;

impl DefaultRiskPolicy {
    pub const NEW_DEVICE: f32 = 0.25;
    pub const NEW_NETWORK: f32 = 0.15;
    pub const RECENT_FAILURES: f32 = 0.3;
    pub const LOW_MATCH_MARGIN: f32 = 0.25;
    pub const LOW_LIVENESS_MARGIN: f32 = 0.15;
    pub const VELOCITY: f32 = 0.3;
    pub const USER_AGENT_CHANGE: f32 = 0.1;
    /// A threat pattern on the login's device, network, frame or user:
    /// a blocking one counts fully, a stepping-up one half, a monitored
    /// one not at all.
    pub const THREAT_INTEL_MATCH: f32 = 0.6;
    /// A handoff whose phone is on another network than the desktop (or
    /// either's is unknown): the relay of a phished QR code looks like this.
    pub const HANDOFF_DISTANCE: f32 = 0.2;
    /// Retries the client reported: light, as the client asserts them
    /// (their absence says nothing, so unknown counts as none).
    pub const CLIENT_RETRIES: f32 = 0.1;
    /// Reported retries that make `client_retries` count fully.
    pub const CLIENT_RETRIES_FULL: u32 = 5;
    /// Points above a threshold under which a margin counts as low (linearly).
    pub const MARGIN_POINTS: f32 = 10.0;
    /// Sign-ins from another device, on another network, this recent make `velocity`.
    pub const VELOCITY_MINUTES: i64 = 10;
}

/// 1 at the threshold, 0 at [`DefaultRiskPolicy::MARGIN_POINTS`] above it.
fn thin_margin(value: f32, threshold: f32) -> f32 {
    if !value.is_finite() {
        return 1.0;
    }
    (1.0 - (value - threshold) / DefaultRiskPolicy::MARGIN_POINTS).clamp(0.0, 1.0)
}

#[async_trait]
impl RiskPolicy for DefaultRiskPolicy {
    async fn assess(&self, c: &RiskContext) -> RiskScore {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        let history = c.history.as_deref();
        // Unknown history: every history factor counts fully.
        let seen = |pred: &dyn Fn(&SignIn) -> bool| history.is_some_and(|h| h.iter().any(pred));
        let new_device = !c.device_identified || !seen(&|s| s.device_id == c.device_id);
        let new_network = match &c.network {
            None => true,
            Some(net) => !seen(&|s| s.network.as_deref() == Some(net.as_str())),
        };
        // The user agent last seen on this device, if the device is known.
        let user_agent_change = match history {
            None => true,
            Some(h) => h
                .iter()
                .find(|s| s.device_id == c.device_id)
                .is_some_and(|last| c.user_agent.is_none() || last.user_agent != c.user_agent),
        };
        let velocity = match history {
            None => 1.0,
            Some(h) => {
                let since = c.now - Duration::minutes(Self::VELOCITY_MINUTES);
                // Another device on the same known network is most likely
                // the same person at home or at work, not a stolen face.
                let elsewhere = |s: &SignIn| s.network.is_none() || s.network != c.network;
                let mut others: Vec<&str> = h
                    .iter()
                    .filter(|s| s.at >= since && s.device_id != c.device_id && elsewhere(s))
                    .map(|s| s.device_id.as_str())
                    .collect();
                others.sort_unstable();
                others.dedup();
                (others.len() as f32 / 2.0).min(1.0)
            }
        };
        let failures = c.recent_failures as f32 / c.max_failed_attempts.max(1) as f32;
        // The strongest pattern: block counts fully, step-up half, monitor
        // not at all (the rules' thresholds are enforced besides, see
        // `FaceGate::assess_login`).
        let threats = c.threat_matches.as_ref().map_or(1.0, |matches| {
            match matches.iter().map(|m| m.action).max() {
                Some(ThreatAction::Block) => 1.0,
                Some(ThreatAction::StepUp) => 0.5,
                Some(ThreatAction::Monitor) | None => 0.0,
            }
        });
        let handoff_distance = match &c.handoff_desktop_network {
            None => false,
            Some(desktop) => desktop.is_none() || c.network.is_none() || *desktop != c.network,
        };
        RiskScore::of(vec![
            RiskFactor {
                code: "new_device",
                weight: Self::NEW_DEVICE,
                value: flag(new_device),
            },
            RiskFactor {
                code: "new_network",
                weight: Self::NEW_NETWORK,
                value: flag(new_network),
            },
            RiskFactor {
                code: "recent_failures",
                weight: Self::RECENT_FAILURES,
                value: failures.min(1.0),
            },
            RiskFactor {
                code: "low_match_margin",
                weight: Self::LOW_MATCH_MARGIN,
                value: thin_margin(c.confidence, c.match_threshold),
            },
            RiskFactor {
                code: "low_liveness_margin",
                weight: Self::LOW_LIVENESS_MARGIN,
                value: thin_margin(c.liveness_confidence, c.liveness_minimum),
            },
            RiskFactor {
                code: "velocity",
                weight: Self::VELOCITY,
                value: velocity,
            },
            RiskFactor {
                code: "user_agent_change",
                weight: Self::USER_AGENT_CHANGE,
                value: flag(user_agent_change),
            },
            RiskFactor {
                code: "threat_intel_match",
                weight: Self::THREAT_INTEL_MATCH,
                value: threats,
            },
            RiskFactor {
                code: "handoff_distance",
                weight: Self::HANDOFF_DISTANCE,
                value: flag(handoff_distance),
            },
            RiskFactor {
                code: "client_retries",
                weight: Self::CLIENT_RETRIES,
                value: c.client_retries.map_or(0.0, |n| {
                    (n as f32 / Self::CLIENT_RETRIES_FULL as f32).min(1.0)
                }),
            },
        ])
    }
}

/// The network a client address belongs to, as the risk engine compares
/// them: the `/24` of an IPv4 address, the `/48` of an IPv6 one.
pub fn network_of(addr: std::net::IpAddr) -> String {
    match addr {
        std::net::IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(std::net::IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in(device: &str, network: &str, agent: &str, minutes_ago: i64) -> SignIn {
        SignIn {
            tenant_id: TenantId::from_string("ten_1"),
            user_id: UserId::from_string("user_1"),
            device_id: device.into(),
            network: Some(network.into()),
            user_agent: Some(agent.into()),
            at: Utc::now() - Duration::minutes(minutes_ago),
        }
    }

    fn context(history: Option<Vec<SignIn>>) -> RiskContext {
        RiskContext {
            tenant_id: TenantId::from_string("ten_1"),
            user_id: UserId::from_string("user_1"),
            device_id: "dev_1".into(),
            device_identified: true,
            user_agent: Some("Firefox".into()),
            network: Some("10.0.0.0/24".into()),
            confidence: 100.0,
            match_threshold: 90.0,
            liveness_confidence: 100.0,
            liveness_minimum: 90.0,
            recent_failures: 0,
            max_failed_attempts: 5,
            history,
            threat_matches: Some(Vec::new()),
            handoff_desktop_network: None,
            client_retries: Some(0),
            now: Utc::now(),
        }
    }

    #[tokio::test]
    async fn reported_retries_weigh_lightly_and_unknown_ones_not_at_all() {
        let known = vec![sign_in("dev_1", "10.0.0.0/24", "Firefox", 600)];
        let mut retried = context(Some(known.clone()));
        retried.client_retries = Some(10);
        let score = DefaultRiskPolicy.assess(&retried).await;
        assert_eq!((score.score, codes(&score)), (0.1, vec!["client_retries"]));
        retried.client_retries = Some(2);
        assert_eq!(DefaultRiskPolicy.assess(&retried).await.score, 0.04);
        retried.client_retries = None;
        assert_eq!(DefaultRiskPolicy.assess(&retried).await.score, 0.0);
    }

    fn codes(score: &RiskScore) -> Vec<&'static str> {
        score.factors.iter().map(|f| f.code).collect()
    }

    #[tokio::test]
    async fn a_known_device_on_a_known_network_scores_nothing() {
        let known = context(Some(vec![sign_in("dev_1", "10.0.0.0/24", "Firefox", 600)]));
        let score = DefaultRiskPolicy.assess(&known).await;
        assert_eq!((score.score, codes(&score)), (0.0, vec![]));
    }

    #[tokio::test]
    async fn each_factor_reports_its_weight_and_value() {
        let mut c = context(Some(vec![
            sign_in("dev_9", "10.9.9.0/24", "Chrome", 3),
            sign_in("dev_1", "10.0.0.0/24", "Chrome", 600),
        ]));
        c.network = Some("192.168.1.0/24".into());
        c.confidence = 96.0;
        c.recent_failures = 1;
        let score = DefaultRiskPolicy.assess(&c).await;
        assert_eq!(
            codes(&score),
            [
                "new_network",
                "recent_failures",
                "low_match_margin",
                "velocity",
                "user_agent_change"
            ]
        );
        // 0.15 + 0.3·0.2 + 0.25·0.4 + 0.3·0.5 + 0.1
        assert_eq!(score.score, 0.56);
    }

    #[tokio::test]
    async fn missing_data_fails_closed() {
        let mut c = context(None);
        c.network = None;
        c.threat_matches = None;
        let score = DefaultRiskPolicy.assess(&c).await;
        assert_eq!(
            codes(&score),
            [
                "new_device",
                "new_network",
                "velocity",
                "user_agent_change",
                "threat_intel_match"
            ]
        );
        assert_eq!(score.score, 1.0);
        let mut unidentified = context(Some(vec![sign_in("dev_1", "10.0.0.0/24", "Firefox", 5)]));
        unidentified.device_identified = false;
        assert_eq!(
            codes(&DefaultRiskPolicy.assess(&unidentified).await),
            ["new_device"]
        );
    }

    #[tokio::test]
    async fn velocity_counts_other_devices_on_other_networks() {
        let home = context(Some(vec![
            sign_in("dev_2", "10.0.0.0/24", "Firefox", 2),
            sign_in("dev_1", "10.0.0.0/24", "Firefox", 600),
        ]));
        assert_eq!(DefaultRiskPolicy.assess(&home).await.score, 0.0);
        let away = context(Some(vec![
            sign_in("dev_2", "10.9.0.0/24", "Firefox", 2),
            sign_in("dev_3", "10.8.0.0/24", "Firefox", 3),
            sign_in("dev_4", "10.7.0.0/24", "Firefox", 30),
        ]));
        let score = DefaultRiskPolicy.assess(&away).await;
        // dev_1 and its network unknown, two others in ten minutes: 0.25 + 0.15 + 0.3.
        assert_eq!(
            (codes(&score), score.score),
            (vec!["new_device", "new_network", "velocity"], 0.7)
        );
    }

    #[tokio::test]
    async fn a_handoff_from_another_network_raises_the_score() {
        let known = || context(Some(vec![sign_in("dev_1", "10.0.0.0/24", "Firefox", 600)]));
        let mut same = known();
        same.handoff_desktop_network = Some(Some("10.0.0.0/24".into()));
        assert_eq!(DefaultRiskPolicy.assess(&same).await.score, 0.0);
        for desktop in [Some("198.51.100.0/24".to_owned()), None] {
            let mut far = known();
            far.handoff_desktop_network = Some(desktop);
            let score = DefaultRiskPolicy.assess(&far).await;
            assert_eq!(
                (codes(&score), score.score),
                (vec!["handoff_distance"], 0.2)
            );
        }
    }

    #[tokio::test]
    async fn threat_patterns_weigh_by_their_action() {
        let known = || context(Some(vec![sign_in("dev_1", "10.0.0.0/24", "Firefox", 600)]));
        let with = |actions: &[ThreatAction]| {
            let mut c = known();
            c.threat_matches = Some(
                actions
                    .iter()
                    .map(|&action| ThreatMatch {
                        kind: "enumeration".into(),
                        indicator: "dev:00".into(),
                        action,
                    })
                    .collect(),
            );
            c
        };
        use ThreatAction::*;
        for (actions, score) in [
            (vec![Monitor], 0.0),
            (vec![Monitor, StepUp], 0.3),
            (vec![StepUp, Block], 0.6),
        ] {
            assert_eq!(
                DefaultRiskPolicy.assess(&with(&actions)).await.score,
                score,
                "{actions:?}"
            );
        }
    }

    #[test]
    fn networks_are_prefixes() {
        assert_eq!(
            network_of("203.0.113.77".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            network_of("2001:db8:abcd:12::1".parse().unwrap()),
            "2001:db8:abcd::/48"
        );
        assert_eq!(
            network_of("::ffff:10.1.2.3".parse().unwrap()),
            "10.1.2.0/24"
        );
    }
}
