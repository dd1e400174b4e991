//! Issue 16: offline verifications synced for a server re-check, one row
//! per tenant, user, time and frame hash (a resend is the same record). The
//! frames are not kept.

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
                    .table("sync_records")
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(timestamp_with_time_zone("verified_at"))
                    .col(string("frame_hash"))
                    .col(float("client_confidence"))
                    .col(boolean("server_matched"))
                    .col(float("server_confidence"))
                    .col(boolean("flagged"))
                    .col(string_null("reason"))
                    .col(timestamp_with_time_zone("synced_at"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("user_id")
                            .col("verified_at")
                            .col("frame_hash"),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_records_synced")
                    .table("sync_records")
                    .col("synced_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("sync_records").take())
            .await
    }
}
