//! What several instances on one database agree through:
//!
//! - `face_changes`, a per-tenant log of face rows added and removed, each
//!   numbered by `face_log_heads.head` in the transaction that changed the
//!   rows, so every instance brings its in-memory face index up to date by
//!   reading the changes after the last one it applied;
//! - at most one unretired signing key (a unique index), so two instances
//!   starting on an empty database create one first key, not two;
//! - `rate_windows`, fixed-window request counters shared by all instances.

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
                    .table("face_log_heads")
                    .col(string("tenant_id").primary_key())
                    .col(big_integer("head"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_face_log_heads_tenant")
                            .from("face_log_heads", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("face_changes")
                    .col(string("tenant_id"))
                    .col(big_integer("seq"))
                    .col(string("face_id"))
                    .col(string("provider_face_id"))
                    .col(boolean("removed"))
                    .col(timestamp_with_time_zone("changed_at"))
                    .primary_key(Index::create().col("tenant_id").col("seq"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_face_changes_tenant")
                            .from("face_changes", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_face_changes_changed_at")
                    .table("face_changes")
                    .col("changed_at")
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("rate_windows")
                    .col(string("bucket"))
                    .col(timestamp_with_time_zone("window_start"))
                    .col(integer("count"))
                    .primary_key(Index::create().col("bucket").col("window_start"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_windows_window_start")
                    .table("rate_windows")
                    .col("window_start")
                    .take(),
            )
            .await?;
        // Databases from before may hold two unretired keys (two instances
        // that raced to create the first). The newest keeps signing; the
        // others retire now, so tokens they signed verify for one more
        // token lifetime.
        let db = manager.get_connection();
        let newest = Query::select()
            .column("kid")
            .from("signing_keys")
            .and_where(Expr::col("retired_at").is_null())
            .order_by("created_at", Order::Desc)
            .order_by("kid", Order::Desc)
            .limit(1)
            .take();
        if let Some(row) = db.query_one(&newest).await? {
            let kid: String = row.try_get("", "kid")?;
            let retire = Query::update()
                .table("signing_keys")
                .value("retired_at", chrono::Utc::now())
                .and_where(Expr::col("retired_at").is_null())
                .and_where(Expr::col("kid").ne(kid))
                .take();
            db.execute(&retire).await?;
        }
        // The expression is the same for every unretired row: one may exist.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_signing_keys_one_unretired \
             ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_signing_keys_one_unretired")
            .await?;
        for table in ["rate_windows", "face_changes", "face_log_heads"] {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}
