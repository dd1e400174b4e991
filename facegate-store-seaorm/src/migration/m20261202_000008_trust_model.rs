//! The trust model: API keys get a scope and origin rules and are found by
//! their hash (unique) rather than by a prefix of the secret, which is cut
//! back to the key's scheme for keys stored before; `external_id` is unique
//! per tenant; a verification token is exchanged for a session once; audit
//! events carry a note (a forced re-enrollment); users count wrong PINs
//! (per window, across sessions and devices).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // All or nothing on SQLite too (sea-orm-migration wraps only PostgreSQL
    // migrations by default): a failed unique index leaves nothing half done.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // An empty external_id is no link (the API now stores none).
        manager
            .get_connection()
            .execute_unprepared("UPDATE users SET external_id = NULL WHERE external_id = ''")
            .await?;
        // Fails if two users of a tenant already share an external_id: the
        // operator decides which keeps it (no link is dropped silently).
        manager
            .create_index(
                Index::create()
                    .name("idx_users_tenant_external_id")
                    .table("users")
                    .col("tenant_id")
                    .col("external_id")
                    .unique()
                    .take(),
            )
            .await?;

        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table("api_keys")
                    .add_column(string("scope").default("server"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("api_keys")
                    .add_column(text("origins").default("{}"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_hash")
                    .table("api_keys")
                    .col("hash")
                    .unique()
                    .take(),
            )
            .await?;
        // Keys stored before kept 8 secret characters "for lookup"; none
        // are needed any more, and none should be shown.
        manager
            .get_connection()
            .execute_unprepared("UPDATE api_keys SET prefix = substr(prefix, 1, 8)")
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_api_keys_prefix")
                    .table("api_keys")
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(integer("pin_wrong").default(0))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(timestamp_with_time_zone_null("pin_window_started_at"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("audit_events")
                    .add_column(string_null("note"))
                    .take(),
            )
            .await?;

        // The retention sweep deletes by age across tenants.
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_created_at")
                    .table("audit_events")
                    .col("created_at")
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("token_exchanges")
                    .col(string("jti").primary_key())
                    .col(string("tenant_id"))
                    .col(string("session_id"))
                    .col(timestamp_with_time_zone("exchanged_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_token_exchanges_tenant")
                            .from("token_exchanges", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_token_exchanges_expires")
                    .table("token_exchanges")
                    .col("expires_at")
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("token_exchanges").take())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("audit_events")
                    .drop_column("note")
                    .take(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_users_tenant_external_id")
                    .table("users")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_prefix")
                    .table("api_keys")
                    .col("prefix")
                    .take(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_api_keys_hash")
                    .table("api_keys")
                    .to_owned(),
            )
            .await?;
        for column in ["pin_window_started_at", "pin_wrong"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).take())
                .await?;
        }
        for column in ["origins", "scope"] {
            manager
                .alter_table(Table::alter().table("api_keys").drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
