//! Issue 19: deletion receipts. One row per deleted user: what was removed,
//! and the signed receipt. It names the user's id, which is not biometric
//! data, so that the deletion can be proven later.

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
                    .table("deletion_receipts")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(string("reason"))
                    .col(timestamp_with_time_zone("deleted_at"))
                    .col(integer("faces"))
                    .col(integer("liveness_images"))
                    .col(integer("sessions"))
                    .col(integer("refresh_tokens"))
                    .col(integer("provider_faces"))
                    .col(text("receipt"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("deletion_receipts").take())
            .await
    }
}
