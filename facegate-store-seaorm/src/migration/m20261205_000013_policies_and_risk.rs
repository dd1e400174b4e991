//! Issue 14: the tenant policies and their change log, the sign-ins the
//! risk engine compares logins with, and logins waiting for a step-up.

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
                    .table("tenant_policies")
                    .col(string("tenant_id"))
                    .col(string("policy_type"))
                    .col(text("config"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("tenant_id").col("policy_type"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("policy_changes")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("policy_type"))
                    .col(text_null("before_config"))
                    .col(text_null("after_config"))
                    .col(string("changed_by"))
                    .col(timestamp_with_time_zone("changed_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_policy_changes_tenant")
                    .table("policy_changes")
                    .col("tenant_id")
                    .col("changed_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sign_ins")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(string("device_id"))
                    .col(string_null("network"))
                    .col(text_null("user_agent"))
                    .col(timestamp_with_time_zone("at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_ins_user")
                    .table("sign_ins")
                    .col("tenant_id")
                    .col("user_id")
                    .col("at")
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sign_ins_at")
                    .table("sign_ins")
                    .col("at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("step_ups")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(string("device_id"))
                    .col(string_null("device_fingerprint"))
                    .col(float("confidence"))
                    .col(float("risk_score"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("completed_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_step_ups_expires_at")
                    .table("step_ups")
                    .col("expires_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["step_ups", "sign_ins", "policy_changes", "tenant_policies"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
