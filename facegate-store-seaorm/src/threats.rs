//! Threat intelligence: sightings, learned patterns and frame sightings
//! ([`ThreatStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use facegate_core::ids::{LivenessSessionId, TenantId, ThreatPatternId, UserId};
use facegate_core::store::{StoreError, ThreatStore};
use facegate_core::threat::{
    FrameSighting, ThreatAction, ThreatKind, ThreatObservation, ThreatPattern,
};

use crate::entity::{frame_sighting, threat_observation, threat_pattern};
use crate::{SeaOrmStore, store_error};

fn pattern(row: threat_pattern::Model) -> Result<ThreatPattern, StoreError> {
    let unknown =
        |what: &str| StoreError::Backend(format!("threat pattern {}: unknown {what}", row.id));
    Ok(ThreatPattern {
        kind: ThreatKind::parse(&row.kind).ok_or_else(|| unknown("kind"))?,
        action: ThreatAction::parse(&row.action).ok_or_else(|| unknown("action"))?,
        id: ThreatPatternId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        indicator: row.indicator,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        occurrences: u32::try_from(row.occurrences).unwrap_or(u32::MAX),
    })
}

fn sighting(row: frame_sighting::Model) -> FrameSighting {
    FrameSighting {
        tenant_id: TenantId::from_string(row.tenant_id),
        liveness_session_id: LivenessSessionId::from_string(row.liveness_session_id),
        device_id: row.device_id,
        user_id: row.user_id.map(UserId::from_string),
        // Stored as the same 64 bits, signed.
        perceptual: row.perceptual as u64,
        cluster: row.cluster as u64,
        seen_at: row.seen_at,
    }
}

fn active(p: &ThreatPattern) -> threat_pattern::ActiveModel {
    threat_pattern::ActiveModel {
        id: Set(p.id.to_string()),
        tenant_id: Set(p.tenant_id.to_string()),
        kind: Set(p.kind.as_str().to_owned()),
        indicator: Set(p.indicator.clone()),
        first_seen: Set(p.first_seen),
        last_seen: Set(p.last_seen),
        occurrences: Set(i64::from(p.occurrences)),
        action: Set(p.action.as_str().to_owned()),
    }
}

fn of_pattern(p: &ThreatPattern) -> Condition {
    Condition::all()
        .add(threat_pattern::Column::TenantId.eq(p.tenant_id.as_str()))
        .add(threat_pattern::Column::Kind.eq(p.kind.as_str()))
        .add(threat_pattern::Column::Indicator.eq(p.indicator.as_str()))
}

/// The stored pattern, locked until the transaction ends (PostgreSQL: the
/// row; SQLite: the database, as any write does).
async fn locked_pattern(
    txn: &impl ConnectionTrait,
    fresh: &ThreatPattern,
) -> Result<Option<threat_pattern::Model>, sea_orm::DbErr> {
    let touched = threat_pattern::Entity::update_many()
        .col_expr(
            threat_pattern::Column::Action,
            Expr::col(threat_pattern::Column::Action),
        )
        .filter(of_pattern(fresh))
        .exec(txn)
        .await?;
    if touched.rows_affected == 0 {
        return Ok(None);
    }
    threat_pattern::Entity::find()
        .filter(of_pattern(fresh))
        .one(txn)
        .await
}

#[async_trait]
impl ThreatStore for SeaOrmStore {
    async fn record_threat(&self, o: &ThreatObservation) -> Result<bool, StoreError> {
        let inserted = threat_observation::Entity::insert(threat_observation::ActiveModel {
            tenant_id: Set(o.tenant_id.to_string()),
            kind: Set(o.kind.as_str().to_owned()),
            indicator: Set(o.indicator.clone()),
            subject: Set(o.subject.clone()),
            seen_at: Set(o.seen_at),
        })
        .on_conflict(
            OnConflict::columns([
                threat_observation::Column::TenantId,
                threat_observation::Column::Kind,
                threat_observation::Column::Indicator,
                threat_observation::Column::Subject,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(store_error)?;
        Ok(inserted > 0)
    }

    async fn count_threats(
        &self,
        tenant: &TenantId,
        kind: ThreatKind,
        indicator: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let count = threat_observation::Entity::find()
            .filter(threat_observation::Column::TenantId.eq(tenant.as_str()))
            .filter(threat_observation::Column::Kind.eq(kind.as_str()))
            .filter(threat_observation::Column::Indicator.eq(indicator))
            .filter(threat_observation::Column::SeenAt.gte(since))
            .count(&self.db)
            .await
            .map_err(store_error)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn learn_threat(
        &self,
        fresh: ThreatPattern,
        count: u32,
        level: Option<ThreatAction>,
        decay: chrono::Duration,
    ) -> Result<Option<(ThreatPattern, Option<ThreatAction>)>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let mut stored = locked_pattern(&txn, &fresh).await.map_err(store_error)?;
        if stored.is_none() && level.is_some() {
            // Two instances learning the same new pattern: one row, and the
            // second waits on it and learns from what the first stored.
            threat_pattern::Entity::insert(active(&ThreatPattern {
                occurrences: 0,
                ..fresh.clone()
            }))
            .on_conflict(
                OnConflict::columns([
                    threat_pattern::Column::TenantId,
                    threat_pattern::Column::Kind,
                    threat_pattern::Column::Indicator,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
            stored = locked_pattern(&txn, &fresh).await.map_err(store_error)?;
        }
        // The placeholder just inserted (it has `fresh`'s id) is no pattern yet.
        let stored = stored
            .filter(|row| row.id != fresh.id.as_str())
            .map(pattern)
            .transpose()?;
        let Some((learned, before)) = ThreatPattern::learn(stored, fresh, count, level, decay)
        else {
            txn.rollback().await.map_err(store_error)?;
            return Ok(None);
        };
        threat_pattern::Entity::update(active(&learned))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(Some((learned, before)))
    }

    async fn threat_patterns(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<ThreatPattern>, StoreError> {
        threat_pattern::Entity::find()
            .filter(threat_pattern::Column::TenantId.eq(tenant.as_str()))
            .order_by_desc(threat_pattern::Column::LastSeen)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(pattern)
            .collect()
    }

    async fn threat_patterns_on(
        &self,
        tenant: Option<&TenantId>,
        indicators: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<ThreatPattern>, StoreError> {
        if indicators.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = threat_pattern::Entity::find()
            .filter(threat_pattern::Column::Indicator.is_in(indicators.iter().map(String::as_str)))
            .filter(threat_pattern::Column::LastSeen.gte(since));
        if let Some(tenant) = tenant {
            query = query.filter(threat_pattern::Column::TenantId.eq(tenant.as_str()));
        }
        query
            .order_by_desc(threat_pattern::Column::LastSeen)
            // Bounded: a login needs the strongest few, not every tenant's.
            .limit(500)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(pattern)
            .collect()
    }

    async fn record_frame_sighting(&self, s: &FrameSighting) -> Result<(), StoreError> {
        frame_sighting::Entity::insert(frame_sighting::ActiveModel {
            tenant_id: Set(s.tenant_id.to_string()),
            liveness_session_id: Set(s.liveness_session_id.to_string()),
            device_id: Set(s.device_id.clone()),
            user_id: Set(s.user_id.as_ref().map(ToString::to_string)),
            perceptual: Set(s.perceptual as i64),
            cluster: Set(s.cluster as i64),
            seen_at: Set(s.seen_at),
        })
        .on_conflict(
            OnConflict::columns([
                frame_sighting::Column::TenantId,
                frame_sighting::Column::LivenessSessionId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn frame_sightings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FrameSighting>, StoreError> {
        let whose = match user {
            Some(user) => frame_sighting::Column::UserId.eq(user.as_str()),
            None => frame_sighting::Column::UserId.is_null(),
        };
        Ok(frame_sighting::Entity::find()
            .filter(frame_sighting::Column::TenantId.eq(tenant.as_str()))
            .filter(whose)
            .filter(frame_sighting::Column::SeenAt.gte(since))
            .order_by_desc(frame_sighting::Column::SeenAt)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(sighting)
            .collect())
    }

    async fn frame_sighting(
        &self,
        tenant: &TenantId,
        liveness_session: &LivenessSessionId,
    ) -> Result<Option<FrameSighting>, StoreError> {
        Ok(frame_sighting::Entity::find()
            .filter(frame_sighting::Column::TenantId.eq(tenant.as_str()))
            .filter(frame_sighting::Column::LivenessSessionId.eq(liveness_session.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(sighting))
    }

    async fn prune_threats(
        &self,
        seen_before: &[(ThreatKind, DateTime<Utc>)],
        frames_before: DateTime<Utc>,
        patterns_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for (kind, before) in seen_before {
            deleted += threat_observation::Entity::delete_many()
                .filter(threat_observation::Column::Kind.eq(kind.as_str()))
                .filter(threat_observation::Column::SeenAt.lt(*before))
                .exec(&self.db)
                .await
                .map_err(store_error)?
                .rows_affected;
        }
        let frames = frame_sighting::Entity::delete_many()
            .filter(frame_sighting::Column::SeenAt.lt(frames_before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        let patterns = threat_pattern::Entity::delete_many()
            .filter(threat_pattern::Column::LastSeen.lt(patterns_before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted + frames.rows_affected + patterns.rows_affected)
    }
}
