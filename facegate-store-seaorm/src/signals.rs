//! Client telemetry signals ([`SignalStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};

use facegate_core::domain::Signal;
use facegate_core::ids::TenantId;
use facegate_core::store::{SignalStore, StoreError};

use crate::entity::signal;
use crate::{SeaOrmStore, store_error};

#[async_trait]
impl SignalStore for SeaOrmStore {
    async fn insert_signals(&self, signals: &[Signal]) -> Result<u64, StoreError> {
        if signals.is_empty() {
            return Ok(0);
        }
        let rows = signals.iter().map(|s| signal::ActiveModel {
            tenant_id: Set(s.tenant_id.to_string()),
            signal_id: Set(s.signal_id.clone()),
            device_fingerprint: Set(s.device_fingerprint.clone()),
            source: Set(s.source.clone()),
            kind: Set(s.kind.clone()),
            occurred_at: Set(s.occurred_at),
            data: Set(s.data.clone()),
            received_at: Set(s.received_at),
        });
        let txn = self.db.begin().await.map_err(store_error)?;
        // The primary key decides what is new: two resends racing store one.
        let inserted = signal::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([signal::Column::TenantId, signal::Column::SignalId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(inserted)
    }

    async fn count_signals(
        &self,
        tenant: &TenantId,
        device_fingerprint: &str,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let count = signal::Entity::find()
            .filter(signal::Column::TenantId.eq(tenant.as_str()))
            .filter(signal::Column::DeviceFingerprint.eq(device_fingerprint))
            .filter(signal::Column::Kind.eq(kind))
            .filter(signal::Column::OccurredAt.gte(since))
            .count(&self.db)
            .await
            .map_err(store_error)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn prune_signals(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = signal::Entity::delete_many()
            .filter(signal::Column::ReceivedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }
}
