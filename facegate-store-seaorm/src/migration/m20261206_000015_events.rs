//! Issue 16: the event outbox, webhook endpoints, and one delivery row per
//! event and endpoint (the worker's queue and the delivery log).

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
                    .table("events")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("kind"))
                    .col(json_binary("data"))
                    .col(string_null("dedupe_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_events_tenant_created",
                &["tenant_id", "created_at"][..],
            ),
            ("idx_events_created", &["created_at"][..]),
        ] {
            let mut index = Index::create().name(name).table("events").take();
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        // NULL keys are distinct in both databases: only keyed events dedupe.
        manager
            .create_index(
                Index::create()
                    .name("idx_events_dedupe")
                    .table("events")
                    .col("tenant_id")
                    .col("dedupe_key")
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_endpoints")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(text("url"))
                    .col(text("events"))
                    .col(blob("secret"))
                    .col(text_null("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_endpoints_tenant")
                    .table("webhook_endpoints")
                    .col("tenant_id")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("endpoint_id"))
                    .col(string("event_id"))
                    .col(string("event_kind"))
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone_null("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(timestamp_with_time_zone_null("last_attempt_at"))
                    .col(integer_null("last_status_code"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        for (name, columns) in [
            ("idx_deliveries_due", &["status", "next_attempt_at"][..]),
            ("idx_deliveries_endpoint", &["endpoint_id", "id"][..]),
            ("idx_deliveries_event", &["event_id"][..]),
        ] {
            let mut index = Index::create()
                .name(name)
                .table("webhook_deliveries")
                .take();
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_deliveries", "webhook_endpoints", "events"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
