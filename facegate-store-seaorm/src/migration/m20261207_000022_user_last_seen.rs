//! Issue 19: when a user last signed in or refreshed a session, for the
//! biometric retention sweep (BIPA: at most three years after the last
//! interaction).

use sea_orm_migration::{prelude::*, schema::*};

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
                    .table("users")
                    .add_column(timestamp_with_time_zone_null("last_seen_at"))
                    .take(),
            )
            .await?;
        // Users from before this column: their clock starts now. The
        // monthly activity rows go after 90 days, so they cannot say when
        // someone last came; a guess would delete people who did.
        let now = chrono::Utc::now();
        manager
            .exec_stmt(
                Query::update()
                    .table("users")
                    .value("last_seen_at", now)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .drop_column("last_seen_at")
                    .take(),
            )
            .await
    }
}
