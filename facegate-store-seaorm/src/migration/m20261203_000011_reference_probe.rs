//! A live session keeps its reference face as the engine analysed it
//! during the liveness check (an embedding, for the local engine), beside
//! the reference image, so verify searches it without analysing the image
//! again. Biometric data like the image: dropped with it.

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
            .alter_table(
                Table::alter()
                    .table("liveness_sessions")
                    .add_column(blob_null("reference_probe"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("liveness_sessions")
                    .drop_column("reference_probe")
                    .take(),
            )
            .await
    }
}
