//! Liveness ceremonies (single-use, counted for lockouts), refresh tokens
//! (hashed, spent once), and the device fingerprint a session is bound to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("sessions")
                    .add_column(string_null("device_fingerprint"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("liveness_sessions")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("device_id"))
                    .col(string("mode"))
                    .col(text("actions"))
                    .col(string("nonce"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .col(boolean_null("is_live"))
                    .col(float_null("confidence"))
                    .col(text_null("reference_image"))
                    .col(string_null("user_id"))
                    .col(timestamp_with_time_zone_null("consumed_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_liveness_sessions_tenant")
                            .from("liveness_sessions", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        for (name, column) in [
            ("idx_liveness_sessions_device", "device_id"),
            ("idx_liveness_sessions_user", "user_id"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("liveness_sessions")
                        .col("tenant_id")
                        .col(column)
                        .col("completed_at")
                        .take(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_liveness_sessions_expiry")
                    .table("liveness_sessions")
                    .col("expires_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(string("hash").primary_key())
                    .col(string("tenant_id"))
                    .col(string("session_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("spent_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_session")
                            .from("refresh_tokens", "session_id")
                            .to("sessions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_session")
                    .table("refresh_tokens")
                    .col("session_id")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["refresh_tokens", "liveness_sessions"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("sessions")
                    .drop_column("device_fingerprint")
                    .take(),
            )
            .await
    }
}
