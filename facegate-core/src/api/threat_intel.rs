//! `GET /v1/threat-intel` (server keys), and the learning behind it: the
//! API's refusals are reported here as sightings ([`FaceGate::sight`]), the
//! store counts them and learns patterns (see [`crate::threat`]), and the
//! risk engine reads the patterns on a login's indicators
//! ([`FaceGate::threats_on`]).
//!
//! Learning never fails a request: a sighting that cannot be stored is
//! logged and lost (the attack counts one less).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::Serialize;
use serde_json::json;

use super::{FaceGate, wire};
use crate::clock;
use crate::domain::Tenant;
use crate::error::ApiError;
use crate::events::{Event, EventKind};
use crate::ids::{LivenessSessionId, TenantId, ThreatPatternId, UserId};
use crate::store::StoreError;
use crate::threat::{
    FrameSighting, Indicators, ThreatAction, ThreatConfig, ThreatKind, ThreatMatch,
    ThreatObservation, ThreatPattern, is_network,
};

/// Patterns one `GET /v1/threat-intel` lists, the most recently seen first.
const PATTERNS_LISTED: u32 = 500;
/// Frames of one face compared with a new one (a day of a busy user).
const FRAMES_COMPARED: u32 = 200;

/// The config and the indicator key.
pub(super) struct Threats {
    pub(super) config: ThreatConfig,
    pub(super) indicators: Indicators,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ThreatIntelResponse {
    patterns: Vec<PatternView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PatternView {
    id: ThreatPatternId,
    kind: ThreatKind,
    indicator: String,
    #[schema(format = DateTime)]
    first_seen: String,
    #[schema(format = DateTime)]
    last_seen: String,
    occurrences: u32,
    action: ThreatAction,
    /// When it lapses without new sightings (our addition).
    #[schema(format = DateTime)]
    expires_at: String,
}

/// One sighting to learn from: `subject` seen with `indicator`.
pub(super) struct Sighting<'a> {
    pub kind: ThreatKind,
    pub indicator: String,
    pub subject: &'a str,
}

impl FaceGate {
    pub(super) fn indicators(&self) -> &Indicators {
        &self.inner.threats.indicators
    }

    pub(super) async fn threat_intel(&self, tenant: &Tenant) -> Result<Response<Bytes>, ApiError> {
        let now = clock::now();
        let decay = self.inner.threats.config.decay;
        let patterns: Vec<PatternView> = self
            .inner
            .store
            .threat_patterns(&tenant.id, PATTERNS_LISTED)
            .await?
            .into_iter()
            .filter_map(|p| {
                let action = p.action_at(now, decay)?;
                Some(PatternView {
                    expires_at: wire::timestamp(&p.expires_at(decay)),
                    id: p.id,
                    kind: p.kind,
                    indicator: p.indicator,
                    first_seen: wire::timestamp(&p.first_seen),
                    last_seen: wire::timestamp(&p.last_seen),
                    occurrences: p.occurrences,
                    action,
                })
            })
            .collect();
        Ok(wire::json_response(
            StatusCode::OK,
            &ThreatIntelResponse { patterns },
        ))
    }

    /// Learns from sightings (each on its own); a pattern learned or raised
    /// is reported as `threat.detected`.
    pub(super) async fn sight(&self, tenant: &TenantId, sightings: Vec<Sighting<'_>>) {
        let now = clock::now();
        for sighting in sightings {
            if let Err(err) = self.learn(tenant, &sighting, now).await {
                tracing::warn!(%err, kind = sighting.kind.as_str(), "could not learn from a threat sighting");
            }
        }
    }

    async fn learn(
        &self,
        tenant: &TenantId,
        sighting: &Sighting<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let config = &self.inner.threats.config;
        let Some(rule) = config.rule(sighting.kind) else {
            return Ok(());
        };
        let store = &self.inner.store;
        let new = store
            .record_threat(&ThreatObservation {
                tenant_id: tenant.clone(),
                kind: sighting.kind,
                indicator: sighting.indicator.clone(),
                subject: sighting.subject.to_owned(),
                seen_at: now,
            })
            .await?;
        if !new {
            // The same subject again (a retried request): nothing new.
            return Ok(());
        }
        let count = store
            .count_threats(
                tenant,
                sighting.kind,
                &sighting.indicator,
                now - rule.window,
            )
            .await?;
        let mut level = rule.action_for(count);
        if is_network(&sighting.indicator) {
            // Many people share a network: it is stepped up, never blocked.
            level = level.map(|a| a.min(ThreatAction::StepUp));
        }
        // Below the rule, there is only something to count if a pattern is
        // in force: found by a read, not under the pattern's lock.
        if level.is_none() {
            let in_force = store
                .threat_patterns_on(
                    Some(tenant),
                    std::slice::from_ref(&sighting.indicator),
                    now - config.decay * 3,
                )
                .await?;
            let decay = config.decay;
            if !in_force
                .iter()
                .any(|p| p.kind == sighting.kind && p.action_at(now, decay).is_some())
            {
                return Ok(());
            }
        }
        let fresh = ThreatPattern {
            id: ThreatPatternId::generate(),
            tenant_id: tenant.clone(),
            kind: sighting.kind,
            indicator: sighting.indicator.clone(),
            first_seen: now,
            last_seen: now,
            occurrences: count,
            action: level.unwrap_or(ThreatAction::Monitor),
        };
        let Some((pattern, before)) = store
            .learn_threat(fresh, count, level, config.decay)
            .await?
        else {
            return Ok(());
        };
        if pattern.action_at(now, config.decay) > before {
            tracing::warn!(
                tenant = %tenant, kind = pattern.kind.as_str(), action = pattern.action.as_str(),
                occurrences = pattern.occurrences, "threat pattern learned"
            );
            let detected = Event::new(
                tenant,
                EventKind::ThreatDetected,
                json!({
                    "pattern_id": pattern.id,
                    "kind": pattern.kind,
                    "indicator": pattern.indicator,
                    "action": pattern.action,
                    "occurrences": pattern.occurrences,
                    "first_seen": wire::timestamp(&pattern.first_seen),
                }),
                now,
            )
            // Once per raise: a second wave after a decay is reported again.
            .dedupe(format!(
                "threat.detected:{}:{}:{}",
                pattern.id,
                pattern.action.as_str(),
                pattern.last_seen.timestamp_millis()
            ));
            self.record_events(&[detected]).await;
        }
        Ok(())
    }

    /// Keeps a live ceremony's reference frame and learns `replayed_frames`
    /// when the same still (within [`ThreatConfig::same_frame_bits`]) was
    /// the reference frame of another recent ceremony of the same face.
    pub(super) async fn sight_frame(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        device_id: &str,
        user: Option<&UserId>,
        perceptual: u64,
    ) {
        let config = &self.inner.threats.config;
        let Some(rule) = config.replayed_frames else {
            return;
        };
        let now = clock::now();
        let store = &self.inner.store;
        let earlier = match store
            .frame_sightings(tenant, user, now - rule.window, FRAMES_COMPARED)
            .await
        {
            Ok(earlier) => earlier,
            Err(err) => {
                tracing::warn!(%err, "could not read earlier frames");
                return;
            }
        };
        // Compared with each still's first sighting, so that a cluster
        // cannot drift from one picture to another a bit at a time.
        let same = earlier
            .iter()
            .find(|s| (s.cluster ^ perceptual).count_ones() <= config.same_frame_bits);
        let sighting = FrameSighting {
            tenant_id: tenant.clone(),
            liveness_session_id: session.clone(),
            device_id: device_id.to_owned(),
            user_id: user.cloned(),
            perceptual,
            cluster: same.map_or(perceptual, |s| s.cluster),
            seen_at: now,
        };
        if let Err(err) = store.record_frame_sighting(&sighting).await {
            tracing::warn!(%err, "could not keep a frame sighting");
            return;
        }
        let Some(first) = same else {
            return;
        };
        // Counted per device (a person at their own camera may sit just as
        // before; a still shown from many devices is an attack), the
        // still's first one too, once it has a second.
        let indicator = self.indicators().frame(first.cluster);
        let sightings = [first.device_id.as_str(), device_id]
            .into_iter()
            .map(|subject| Sighting {
                kind: ThreatKind::ReplayedFrames,
                indicator: indicator.clone(),
                subject,
            })
            .collect();
        self.sight(tenant, sightings).await;
    }

    /// The indicators of the device and network a request came from.
    pub(super) fn device_and_network(
        &self,
        device_id: &str,
        client: Option<super::ClientAddr>,
    ) -> Vec<String> {
        let indicators = self.indicators();
        let mut found = vec![indicators.device(device_id)];
        if let Some(client) = client {
            let network = crate::providers::risk::network_of(client.0);
            found.push(indicators.network(&network));
        }
        found
    }

    /// The patterns in force on these indicators: the tenant's, and with
    /// collective immunity other tenants' too (stepping up at most; never
    /// the keyless demo tenant's, which anyone can feed).
    pub(super) async fn threats_on(
        &self,
        tenant: &TenantId,
        indicators: &[String],
    ) -> Result<Vec<ThreatMatch>, StoreError> {
        let config = &self.inner.threats.config;
        let scope = (!config.share_across_tenants).then_some(tenant);
        let now = clock::now();
        let patterns = self
            .inner
            .store
            .threat_patterns_on(scope, indicators, now - config.decay * 3)
            .await?;
        let demo = TenantId::demo();
        Ok(patterns
            .into_iter()
            .filter(|p| p.tenant_id == *tenant || p.tenant_id != demo)
            .filter_map(|p| {
                let mut action = p.action_at(now, config.decay)?;
                if p.tenant_id != *tenant {
                    action = action.min(ThreatAction::StepUp);
                }
                Some(ThreatMatch {
                    kind: p.kind.as_str().to_owned(),
                    indicator: p.indicator,
                    action,
                })
            })
            .collect())
    }

    /// Sights one refusal on the device and the network a request came from.
    pub(super) async fn sight_on(
        &self,
        tenant: &TenantId,
        device_id: &str,
        client: Option<super::ClientAddr>,
        kind: ThreatKind,
        subject: &str,
    ) {
        let sightings = self
            .device_and_network(device_id, client)
            .into_iter()
            .map(|indicator| Sighting {
                kind,
                indicator,
                subject,
            })
            .collect();
        self.sight(tenant, sightings).await;
    }
}
