//! Issue 15: cross-device handoffs, and the ceremonies (liveness sessions,
//! step-ups) each started, which only it may complete with.

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
                    .table("handoffs")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("token_hash").unique_key())
                    .col(string("secret_hash"))
                    .col(string("mode"))
                    .col(string("status"))
                    .col(string("match_code"))
                    .col(text("desktop"))
                    .col(text_null("enroll_profile"))
                    .col(string_null("phone_device_id"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone_null("claimed_until"))
                    .col(text_null("outcome"))
                    .col(string_null("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(timestamp_with_time_zone_null("collected_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_handoffs_expires")
                    .table("handoffs")
                    .col("expires_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("handoff_ceremonies")
                    .col(string("tenant_id"))
                    .col(string("handoff_id"))
                    .col(string("ceremony_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .primary_key(Index::create().col("handoff_id").col("ceremony_id"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("handoff_ceremonies").take())
            .await?;
        manager
            .drop_table(Table::drop().table("handoffs").take())
            .await
    }
}
