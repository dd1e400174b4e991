//! Threat intelligence that learns (`GET /v1/threat-intel`): what attacks
//! leave behind (the same still shown in many ceremonies, bursts of spoofed
//! frames, one device trying many faces or many PINs, streams of no-match
//! logins, offline verifications the server disowned) is counted per
//! hashed *indicator* (a device, a network, a frame, a user). Once a count
//! crosses its [`ThreatRule`], a [`ThreatPattern`] is learned with an
//! action, and every later login sharing the indicator is stepped up or
//! blocked by the risk engine. Patterns decay one action level per
//! [`ThreatConfig::decay`] without new sightings, then expire.
//!
//! Indicators are keyed hashes ([`Indicators`]): no address, device id or
//! image is shown or kept in a pattern. See docs/threat-intel.md.

use chrono::{DateTime, Duration, Utc};
use hmac::Mac;
use serde::Serialize;

use crate::ids::{LivenessSessionId, TenantId, ThreatPatternId, UserId};

/// What a pattern was learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThreatKind {
    /// One still (a decoded frame's perceptual hash) in several ceremonies.
    ReplayedFrames,
    /// Frames judged spoofs, from one device or network.
    PadBurst,
    /// One device matching many enrolled people.
    IdentityHopping,
    /// No-match logins from one device or network.
    Enumeration,
    /// Wrong PINs from one device or network.
    PinGuessing,
    /// Offline verifications of a user that the server flagged (`POST /v1/sync`).
    OfflineMismatch,
}

impl ThreatKind {
    pub const ALL: [ThreatKind; 6] = [
        Self::ReplayedFrames,
        Self::PadBurst,
        Self::IdentityHopping,
        Self::Enumeration,
        Self::PinGuessing,
        Self::OfflineMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReplayedFrames => "replayed_frames",
            Self::PadBurst => "pad_burst",
            Self::IdentityHopping => "identity_hopping",
            Self::Enumeration => "enumeration",
            Self::PinGuessing => "pin_guessing",
            Self::OfflineMismatch => "offline_mismatch",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl utoipa::PartialSchema for ThreatKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::api::openapi::string_enum(Self::ALL.map(Self::as_str))
    }
}

impl utoipa::ToSchema for ThreatKind {}

impl Serialize for ThreatKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a pattern does to a login that shares its indicator. Ordered:
/// `Monitor < StepUp < Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreatAction {
    /// Reported (`GET /v1/threat-intel`, `threat.detected`); logins unchanged.
    Monitor,
    /// Logins need a step-up (the risk score is raised to the step-up threshold).
    StepUp,
    /// Logins are refused (the score is raised to the block threshold).
    Block,
}

impl ThreatAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monitor => "monitor",
            Self::StepUp => "step_up",
            Self::Block => "block",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Monitor, Self::StepUp, Self::Block]
            .into_iter()
            .find(|a| a.as_str() == name)
    }

    /// 1 for monitor, 3 for block: the decay periods a pattern lives for.
    fn level(self) -> i32 {
        match self {
            Self::Monitor => 1,
            Self::StepUp => 2,
            Self::Block => 3,
        }
    }

    fn of_level(level: i32) -> Option<Self> {
        match level {
            1 => Some(Self::Monitor),
            2 => Some(Self::StepUp),
            l if l >= 3 => Some(Self::Block),
            _ => None,
        }
    }
}

/// When sightings of one indicator become a pattern: distinct subjects
/// (ceremonies, users, PIN tries…) within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreatRule {
    pub window: Duration,
    pub monitor_at: u32,
    pub step_up_at: Option<u32>,
    pub block_at: Option<u32>,
}

impl ThreatRule {
    /// The action `count` sightings within the window call for.
    pub fn action_for(&self, count: u32) -> Option<ThreatAction> {
        let reaches = |at: Option<u32>| at.is_some_and(|at| count >= at.max(1));
        if reaches(self.block_at) {
            Some(ThreatAction::Block)
        } else if reaches(self.step_up_at) {
            Some(ThreatAction::StepUp)
        } else if count >= self.monitor_at.max(1) {
            Some(ThreatAction::Monitor)
        } else {
            None
        }
    }
}

/// How FaceGate learns threats ([`crate::FaceGateBuilder::threats`]).
/// Each rule is `None` to learn nothing of that kind.
#[derive(Debug, Clone)]
pub struct ThreatConfig {
    /// The same still in live ceremonies of the same face from several
    /// devices, within 24 h: monitor at 2, step-up at 3, block at 5.
    pub replayed_frames: Option<ThreatRule>,
    /// Spoofed frames (the anti-spoof model's verdict) from one device or
    /// network within an hour: monitor at 2, step-up at 3, block at 5.
    pub pad_burst: Option<ThreatRule>,
    /// Distinct people matched on one device within 24 h: monitor at 3,
    /// step-up at 5, never block (a shop's or a family's shared device has
    /// several honest users).
    pub identity_hopping: Option<ThreatRule>,
    /// No-match logins from one device or network within an hour: monitor
    /// at 5, step-up at 10, block at 20.
    pub enumeration: Option<ThreatRule>,
    /// Wrong PINs from one device or network within an hour: monitor at 3,
    /// step-up at 5, block at 10.
    pub pin_guessing: Option<ThreatRule>,
    /// Flagged offline verifications of one user within 7 days: monitor at
    /// 1, step-up at 3, never block (the host's own backend syncs them).
    pub offline_mismatch: Option<ThreatRule>,
    /// How long a pattern keeps its action without new sightings; it then
    /// drops one level (block → step-up → monitor → expired). Default 24 h.
    pub decay: Duration,
    /// Frames whose perceptual hashes differ by at most this many of their
    /// 64 bits are the same still (a re-encoding). Default 4.
    pub same_frame_bits: u32,
    /// Collective immunity: logins of every tenant are checked against
    /// every tenant's patterns (hashes only; a pattern learned in another
    /// tenant steps a login up, never blocks it). Off by default.
    pub share_across_tenants: bool,
}

impl Default for ThreatConfig {
    fn default() -> Self {
        let rule = |hours: i64, monitor_at, step_up_at, block_at| {
            Some(ThreatRule {
                window: Duration::hours(hours),
                monitor_at,
                step_up_at,
                block_at,
            })
        };
        Self {
            replayed_frames: rule(24, 2, Some(3), Some(5)),
            pad_burst: rule(1, 2, Some(3), Some(5)),
            identity_hopping: rule(24, 3, Some(5), None),
            enumeration: rule(1, 5, Some(10), Some(20)),
            pin_guessing: rule(1, 3, Some(5), Some(10)),
            offline_mismatch: rule(24 * 7, 1, Some(3), None),
            decay: Duration::hours(24),
            same_frame_bits: 4,
            share_across_tenants: false,
        }
    }
}

impl ThreatConfig {
    /// Learns nothing (patterns already learned still count).
    pub fn off() -> Self {
        Self {
            replayed_frames: None,
            pad_burst: None,
            identity_hopping: None,
            enumeration: None,
            pin_guessing: None,
            offline_mismatch: None,
            ..Self::default()
        }
    }

    pub fn rule(&self, kind: ThreatKind) -> Option<&ThreatRule> {
        match kind {
            ThreatKind::ReplayedFrames => self.replayed_frames.as_ref(),
            ThreatKind::PadBurst => self.pad_burst.as_ref(),
            ThreatKind::IdentityHopping => self.identity_hopping.as_ref(),
            ThreatKind::Enumeration => self.enumeration.as_ref(),
            ThreatKind::PinGuessing => self.pin_guessing.as_ref(),
            ThreatKind::OfflineMismatch => self.offline_mismatch.as_ref(),
        }
    }

    /// How long sightings of `kind` are kept: its rule's window (none when
    /// the kind is not learned).
    pub fn window(&self, kind: ThreatKind) -> Duration {
        self.rule(kind).map_or(Duration::zero(), |r| r.window)
    }

    /// `decay` within a minute and 30 days, each window within a minute
    /// and a year: a pattern must live a while, and times computed from
    /// them must be times.
    pub(crate) fn bounded(mut self) -> Self {
        self.decay = self.decay.clamp(Duration::minutes(1), Duration::days(30));
        for rule in [
            &mut self.replayed_frames,
            &mut self.pad_burst,
            &mut self.identity_hopping,
            &mut self.enumeration,
            &mut self.pin_guessing,
            &mut self.offline_mismatch,
        ]
        .into_iter()
        .flatten()
        {
            rule.window = rule.window.clamp(Duration::minutes(1), Duration::days(365));
        }
        self
    }
}

/// Makes indicators: `class:` and 32 hex characters of HMAC-SHA256 of the
/// value. Keyed from the master key when there is one, so an indicator
/// cannot be reversed by hashing every address of a /24 (without a master
/// key the key is a published constant: a plain hash). One key for every
/// tenant, so that shared patterns line up across tenants.
#[derive(Clone)]
pub struct Indicators {
    key: [u8; 32],
}

impl std::fmt::Debug for Indicators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Indicators(***)")
    }
}

const INDICATOR_LABEL: &str = "facegate threat-intel indicators v1";

impl Indicators {
    pub fn new(master: Option<&crate::sealed::MasterKey>) -> Self {
        use sha2::Digest;
        let key = match master {
            Some(master) => master.derive(INDICATOR_LABEL),
            None => sha2::Sha256::digest(INDICATOR_LABEL).into(),
        };
        Self { key }
    }

    fn hash(&self, class: &str, value: &str) -> String {
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(class.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{class}:{}", hex::encode(&digest[..16]))
    }

    /// A device, by the id its ceremonies ran under.
    pub fn device(&self, device_id: &str) -> String {
        self.hash("dev", device_id)
    }

    /// A client network (a /24 or /48, see [`crate::providers::risk::network_of`]).
    pub fn network(&self, network: &str) -> String {
        self.hash("net", network)
    }

    /// A still, by its cluster's perceptual hash.
    pub fn frame(&self, cluster: u64) -> String {
        self.hash("frm", &format!("{cluster:016x}"))
    }

    /// An enrolled user of a tenant.
    pub fn user(&self, tenant: &TenantId, user: &str) -> String {
        self.hash("usr", &format!("{tenant}/{user}"))
    }
}

/// Whether an indicator names a network: many people may share one (an
/// office, a carrier's NAT), so a network pattern steps up, never blocks.
pub fn is_network(indicator: &str) -> bool {
    indicator.starts_with("net:")
}

/// One sighting: `subject` (a ceremony, a user, a PIN try) seen with
/// `indicator`. Stored once per tenant, kind, indicator and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreatObservation {
    pub tenant_id: TenantId,
    pub kind: ThreatKind,
    pub indicator: String,
    pub subject: String,
    pub seen_at: DateTime<Utc>,
}

/// A learned pattern. `action` is the one set at `last_seen`; what is in
/// force later is [`ThreatPattern::action_at`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreatPattern {
    pub id: ThreatPatternId,
    pub tenant_id: TenantId,
    pub kind: ThreatKind,
    pub indicator: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Sightings since the pattern was learned (those that made it included).
    pub occurrences: u32,
    pub action: ThreatAction,
}

impl ThreatPattern {
    /// The action in force at `now`: one level lower per `decay` since the
    /// last sighting; `None` once it has decayed below monitor (expired).
    pub fn action_at(&self, now: DateTime<Utc>, decay: Duration) -> Option<ThreatAction> {
        let decay_ms = decay.num_milliseconds().max(1);
        let periods = (now - self.last_seen).num_milliseconds().max(0) / decay_ms;
        let periods = i32::try_from(periods).unwrap_or(i32::MAX);
        ThreatAction::of_level(self.action.level().saturating_sub(periods))
    }

    /// When it expires without new sightings.
    pub fn expires_at(&self, decay: Duration) -> DateTime<Utc> {
        self.last_seen + decay * self.action.level()
    }

    /// The pattern after one more sighting at `now`, from the stored row
    /// (if any): `count` sightings within the rule's window call for
    /// `level`. A pattern in force keeps its first sighting and counts one
    /// more occurrence; when `level` reaches its decayed action it is
    /// renewed at the higher of the two, otherwise it decays on. An
    /// expired or new one starts again from `count`. `None`
    /// when there is nothing to learn (no pattern in force, and `count`
    /// below the rule). Returns the new pattern and the action that was in
    /// force before it.
    pub fn learn(
        stored: Option<ThreatPattern>,
        fresh: ThreatPattern,
        count: u32,
        level: Option<ThreatAction>,
        decay: Duration,
    ) -> Option<(ThreatPattern, Option<ThreatAction>)> {
        let now = fresh.last_seen;
        let before = stored.as_ref().and_then(|p| p.action_at(now, decay));
        let action = before.max(level)?;
        let pattern = match (stored, before) {
            // Renewed (from now, at `action`) only while the count still
            // calls for what is in force: a trickle of sightings below the
            // rule does not keep a block alive.
            (Some(stored), Some(before)) if level.is_some_and(|l| l >= before) => ThreatPattern {
                last_seen: now,
                occurrences: stored.occurrences.saturating_add(1),
                action,
                ..stored
            },
            (Some(stored), Some(_)) => ThreatPattern {
                occurrences: stored.occurrences.saturating_add(1),
                ..stored
            },
            (stored, _) => ThreatPattern {
                // An expired row is renewed in place (its id kept).
                id: stored.map_or(fresh.id, |s| s.id),
                first_seen: now,
                last_seen: now,
                occurrences: count,
                action,
                ..fresh
            },
        };
        Some((pattern, before))
    }
}

/// A login's indicator found in a pattern, from the learned patterns or a
/// host's [`crate::providers::risk::ThreatIntel`] feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreatMatch {
    pub kind: String,
    pub indicator: String,
    pub action: ThreatAction,
}

/// A live ceremony's reference frame, by its perceptual hash, kept for the
/// longest rule window so that a re-encoded copy in a later ceremony is
/// recognised (the hash is 64 bits of a 9×8 grey thumbnail's gradients: it
/// tells copies of one picture apart from other pictures, and cannot be
/// turned back into one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSighting {
    pub tenant_id: TenantId,
    pub liveness_session_id: LivenessSessionId,
    /// The device the ceremony ran on: a still counts once per device.
    pub device_id: String,
    /// Whom the frame matched, if anyone: only sightings of the same face
    /// are compared.
    pub user_id: Option<UserId>,
    pub perceptual: u64,
    /// The perceptual hash of the first sighting of this still.
    pub cluster: u64,
    pub seen_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(action: ThreatAction, hours_ago: i64) -> ThreatPattern {
        let at = Utc::now() - Duration::hours(hours_ago);
        ThreatPattern {
            id: ThreatPatternId::generate(),
            tenant_id: TenantId::from_string("ten_1"),
            kind: ThreatKind::PadBurst,
            indicator: "dev:00".into(),
            first_seen: at,
            last_seen: at,
            occurrences: 5,
            action,
        }
    }

    #[test]
    fn rules_grade_counts() {
        let rule = ThreatConfig::default().replayed_frames.unwrap();
        let actions: Vec<_> = (0..7).map(|n| rule.action_for(n)).collect();
        use ThreatAction::*;
        assert_eq!(
            actions,
            [
                None,
                None,
                Some(Monitor),
                Some(StepUp),
                Some(StepUp),
                Some(Block),
                Some(Block)
            ]
        );
        let never_blocks = ThreatConfig::default().offline_mismatch.unwrap();
        assert_eq!(never_blocks.action_for(1000), Some(StepUp));
    }

    #[test]
    fn patterns_decay_a_level_a_period_then_expire() {
        let day = Duration::hours(24);
        let now = Utc::now();
        use ThreatAction::*;
        let held: Vec<_> = [0, 23, 25, 49, 73]
            .map(|h| pattern(Block, h).action_at(now, day))
            .into();
        assert_eq!(
            held,
            [Some(Block), Some(Block), Some(StepUp), Some(Monitor), None]
        );
        assert_eq!(pattern(Monitor, 25).action_at(now, day), None);
        let p = pattern(StepUp, 0);
        assert_eq!(p.expires_at(day), p.last_seen + Duration::hours(48));
    }

    #[test]
    fn learning_raises_refreshes_and_restarts() {
        let day = Duration::hours(24);
        let fresh = pattern(ThreatAction::Monitor, 0);
        use ThreatAction::*;
        // Nothing stored, count below the rule: nothing learned.
        assert_eq!(
            ThreatPattern::learn(None, fresh.clone(), 1, None, day),
            None
        );
        // New: counted from the sightings that made it.
        let (new, before) =
            ThreatPattern::learn(None, fresh.clone(), 2, Some(Monitor), day).unwrap();
        assert_eq!((new.occurrences, new.action, before), (2, Monitor, None));
        // In force, below the rule: one more occurrence, decaying on.
        let stored = pattern(Block, 30);
        let (kept, before) =
            ThreatPattern::learn(Some(stored.clone()), fresh.clone(), 1, None, day).unwrap();
        assert_eq!(before, Some(StepUp));
        assert_eq!(kept.occurrences, 6);
        assert_eq!(kept.action_at(fresh.last_seen, day), Some(StepUp));
        assert_eq!(kept.last_seen, stored.last_seen);
        assert_eq!(
            (kept.id.clone(), kept.first_seen),
            (stored.id.clone(), stored.first_seen)
        );
        // In force, the rule reached again: renewed at the higher action.
        let (renewed, _) =
            ThreatPattern::learn(Some(stored.clone()), fresh.clone(), 3, Some(StepUp), day)
                .unwrap();
        assert_eq!(
            (renewed.action, renewed.last_seen),
            (StepUp, fresh.last_seen)
        );
        let (raised, _) =
            ThreatPattern::learn(Some(stored), fresh.clone(), 9, Some(Block), day).unwrap();
        assert_eq!(raised.action, Block);
        // Expired: restarts, same row.
        let old = pattern(Monitor, 30);
        assert_eq!(
            ThreatPattern::learn(Some(old.clone()), fresh.clone(), 1, None, day),
            None
        );
        let (renewed, before) =
            ThreatPattern::learn(Some(old.clone()), fresh.clone(), 3, Some(StepUp), day).unwrap();
        assert_eq!(before, None);
        assert_eq!((renewed.id, renewed.occurrences), (old.id, 3));
        assert_eq!(renewed.first_seen, fresh.last_seen);
    }

    #[test]
    fn indicators_are_keyed_classed_and_stable() {
        let plain = Indicators::new(None);
        let keyed = Indicators::new(Some(&crate::sealed::MasterKey::from_bytes([7; 32])));
        let net = plain.network("203.0.113.0/24");
        assert!(net.starts_with("net:") && net.len() == 4 + 32, "{net}");
        assert_eq!(net, plain.network("203.0.113.0/24"));
        assert_ne!(net, keyed.network("203.0.113.0/24"));
        assert!(!net.contains("203"));
        assert!(is_network(&net));
        assert_ne!(plain.device("a"), plain.network("a"));
        assert!(plain.frame(1).starts_with("frm:"));
        let t = TenantId::from_string("ten_1");
        assert_ne!(
            plain.user(&t, "u"),
            plain.user(&TenantId::from_string("ten_2"), "u")
        );
    }
}
