//! PINs: a user's hashed PIN (looked up by tenant for the uniqueness
//! option) and the wrong PINs entered against a liveness session.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(string_null("pin_hash"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_tenant_pin_hash")
                    .table("users")
                    .col("tenant_id")
                    .col("pin_hash")
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("liveness_sessions")
                    .add_column(integer("pin_failures").default(0))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("liveness_sessions")
                    .drop_column("pin_failures")
                    .take(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_tenant_pin_hash")
                    .table("users")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("users").drop_column("pin_hash").take())
            .await
    }
}
