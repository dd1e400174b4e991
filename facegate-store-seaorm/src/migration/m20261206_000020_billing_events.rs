//! Issue 17: billing providers' webhook events, recorded once by id, and
//! when the tenant's plan was last changed by one (an older event never
//! undoes a newer).

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
                    .table("billing_events")
                    .col(string("provider"))
                    .col(string("event_id"))
                    .col(timestamp_with_time_zone("received_at"))
                    .primary_key(Index::create().col("provider").col("event_id"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("tenant_billing")
                    .add_column(timestamp_with_time_zone_null("event_at"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("tenant_billing")
                    .drop_column("event_at")
                    .take(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table("billing_events").take())
            .await
    }
}
