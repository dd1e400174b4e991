//! Issue 15: cross-device handoffs.

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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("handoffs").take())
            .await
    }
}
