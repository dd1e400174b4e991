//! Issue 17: usage. The daily rollup analytics and usage read, who was
//! active in which month (MAU, exact), each month's count, and tenants' plans.

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
                    .table("usage_days")
                    .col(string("tenant_id"))
                    .col(string("day"))
                    .col(string("metric"))
                    .col(string("dimension"))
                    .col(big_integer("count"))
                    .col(big_integer("successes"))
                    .col(big_integer("latency_ms_sum"))
                    .col(double("confidence_sum"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("day")
                            .col("metric")
                            .col("dimension"),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("active_users")
                    .col(string("tenant_id"))
                    .col(string("month"))
                    .col(string("user_id"))
                    .col(timestamp_with_time_zone("last_active_at"))
                    .primary_key(Index::create().col("tenant_id").col("month").col("user_id"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_active_users_latest")
                    .table("active_users")
                    .col("tenant_id")
                    .col("last_active_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("usage_months")
                    .col(string("tenant_id"))
                    .col(string("month"))
                    .col(big_integer("mau"))
                    .primary_key(Index::create().col("tenant_id").col("month"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("tenant_billing")
                    .col(string("tenant_id").primary_key())
                    .col(string_null("plan"))
                    .col(string_null("customer_id"))
                    .col(string_null("subscription_id"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "tenant_billing",
            "usage_months",
            "active_users",
            "usage_days",
        ] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
