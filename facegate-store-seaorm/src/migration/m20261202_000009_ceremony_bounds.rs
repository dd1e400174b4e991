//! Bounds on what one ceremony may cost and be reused for: a liveness
//! session counts how often its reference face was probed (verify with a
//! PIN prompt could otherwise be asked again and again until it expires),
//! and the reference frames of live sessions are remembered by their pixel
//! digest, so a captured upload replayed into a new session is refused.

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
                    .add_column(integer("probes").default(0))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("reference_frames")
                    .col(string("tenant_id"))
                    .col(string("digest"))
                    .col(string("liveness_session_id"))
                    .col(timestamp_with_time_zone("seen_at"))
                    .primary_key(Index::create().col("tenant_id").col("digest"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reference_frames_tenant")
                            .from("reference_frames", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reference_frames_seen_at")
                    .table("reference_frames")
                    .col("seen_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("reference_frames").take())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("liveness_sessions")
                    .drop_column("probes")
                    .take(),
            )
            .await?;
        Ok(())
    }
}
