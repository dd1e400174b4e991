//! Issue 16: client telemetry signals, one row per signal, unique per
//! tenant by the client's UUID (a resend is the same signal).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signals")
                    .col(string("tenant_id"))
                    .col(string("signal_id"))
                    .col(string("device_fingerprint"))
                    .col(string("source"))
                    .col(string("kind"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(json_binary("data"))
                    .col(timestamp_with_time_zone("received_at"))
                    .primary_key(Index::create().col("tenant_id").col("signal_id"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signals_device")
                    .table("signals")
                    .col("tenant_id")
                    .col("device_fingerprint")
                    .col("kind")
                    .col("occurred_at")
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signals_received")
                    .table("signals")
                    .col("received_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signals").take())
            .await
    }
}
