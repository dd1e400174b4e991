//! Issue 16: threat intelligence. Sightings (one row per tenant, kind,
//! indicator and subject: a repeat is the same sighting), the patterns
//! learned from them (one per tenant, kind and indicator), and the
//! perceptual hashes of live ceremonies' reference frames.

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
                    .table("threat_observations")
                    .col(string("tenant_id"))
                    .col(string("kind"))
                    .col(string("indicator"))
                    .col(string("subject"))
                    .col(timestamp_with_time_zone("seen_at"))
                    .primary_key(
                        Index::create()
                            .col("tenant_id")
                            .col("kind")
                            .col("indicator")
                            .col("subject"),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_threat_observations_seen")
                    .table("threat_observations")
                    .col("seen_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("threat_patterns")
                    .col(string("id").primary_key())
                    .col(string("tenant_id"))
                    .col(string("kind"))
                    .col(string("indicator"))
                    .col(timestamp_with_time_zone("first_seen"))
                    .col(timestamp_with_time_zone("last_seen"))
                    .col(big_integer("occurrences"))
                    .col(string("action"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_threat_patterns_unique")
                    .table("threat_patterns")
                    .col("tenant_id")
                    .col("kind")
                    .col("indicator")
                    .unique()
                    .take(),
            )
            .await?;
        // Logins look patterns up by indicator, across tenants when shared.
        manager
            .create_index(
                Index::create()
                    .name("idx_threat_patterns_indicator")
                    .table("threat_patterns")
                    .col("indicator")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("frame_sightings")
                    .col(string("tenant_id"))
                    .col(string("liveness_session_id"))
                    .col(string("device_id"))
                    .col(string_null("user_id"))
                    .col(big_integer("perceptual"))
                    .col(big_integer("cluster"))
                    .col(timestamp_with_time_zone("seen_at"))
                    .primary_key(Index::create().col("tenant_id").col("liveness_session_id"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_frame_sightings_user")
                    .table("frame_sightings")
                    .col("tenant_id")
                    .col("user_id")
                    .col("seen_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["frame_sightings", "threat_patterns", "threat_observations"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
