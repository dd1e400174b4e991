//! Faces an engine keeps itself (Rekognition's collections) outlive their
//! rows until the engine deletes them: `engine_face_deletions` queues each
//! in the transaction that removed the row, so an engine that is down when
//! a user is deleted gets the deletion later (maintenance retries), and no
//! face is left behind in it.

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
                    .table("engine_face_deletions")
                    .col(string("tenant_id"))
                    .col(string("provider"))
                    .col(string("provider_face_id"))
                    .col(timestamp_with_time_zone("queued_at"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("provider")
                            .col("provider_face_id"),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_engine_face_deletions_queued_at")
                    .table("engine_face_deletions")
                    .col("queued_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("engine_face_deletions").take())
            .await
    }
}
