//! Offline verifications synced for a server re-check ([`SyncStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use facegate_core::domain::SyncRecord;
use facegate_core::events::Event;
use facegate_core::ids::TenantId;
use facegate_core::store::{StoreError, SyncStore};

use crate::entity::sync_record;
use crate::events::write_events;
use crate::{SeaOrmStore, store_error};

fn record(row: sync_record::Model) -> SyncRecord {
    SyncRecord {
        tenant_id: TenantId::from_string(row.tenant_id),
        user_id: row.user_id,
        verified_at: row.verified_at,
        frame_hash: row.frame_hash,
        client_confidence: row.client_confidence,
        server_matched: row.server_matched,
        server_confidence: row.server_confidence,
        flagged: row.flagged,
        reason: row.reason,
        synced_at: row.synced_at,
    }
}

#[async_trait]
impl SyncStore for SeaOrmStore {
    async fn sync_record(
        &self,
        tenant: &TenantId,
        user: &str,
        verified_at: DateTime<Utc>,
        frame_hash: &str,
    ) -> Result<Option<SyncRecord>, StoreError> {
        let row = sync_record::Entity::find()
            .filter(sync_record::Column::TenantId.eq(tenant.as_str()))
            .filter(sync_record::Column::UserId.eq(user))
            .filter(sync_record::Column::VerifiedAt.eq(verified_at))
            .filter(sync_record::Column::FrameHash.eq(frame_hash))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(record))
    }

    async fn insert_sync_record(
        &self,
        record: &SyncRecord,
        events: &[Event],
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let inserted = sync_record::Entity::insert(sync_record::ActiveModel {
            tenant_id: Set(record.tenant_id.to_string()),
            user_id: Set(record.user_id.clone()),
            verified_at: Set(record.verified_at),
            frame_hash: Set(record.frame_hash.clone()),
            client_confidence: Set(record.client_confidence),
            server_matched: Set(record.server_matched),
            server_confidence: Set(record.server_confidence),
            flagged: Set(record.flagged),
            reason: Set(record.reason.clone()),
            synced_at: Set(record.synced_at),
        })
        .on_conflict(
            OnConflict::columns([
                sync_record::Column::TenantId,
                sync_record::Column::UserId,
                sync_record::Column::VerifiedAt,
                sync_record::Column::FrameHash,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        if inserted == 0 {
            return Ok(false);
        }
        write_events(&txn, events).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn prune_sync_records(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = sync_record::Entity::delete_many()
            .filter(sync_record::Column::SyncedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }
}
