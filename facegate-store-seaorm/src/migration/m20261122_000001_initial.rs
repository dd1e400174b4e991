//! Tenants, API keys, users, face enrollments, consent records, audit trail.
//!
//! Deleting a tenant removes all its data; deleting a user removes their faces
//! (no face data survives a user) and unlinks, but keeps, their consent records.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id() -> ColumnDef {
    string("id").primary_key().take()
}

fn belongs_to_tenant(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_tenant"))
        .from(table, "tenant_id")
        .to("tenants", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn index(table: &'static str, name: &str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(format!("idx_{table}_{name}")).table(table);
    for column in columns {
        index.col(*column);
    }
    index.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("tenants")
                    .col(id())
                    .col(string("name"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(id())
                    .col(string("tenant_id"))
                    .col(string("environment"))
                    .col(string("prefix"))
                    .col(blob("hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut belongs_to_tenant("api_keys"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("api_keys", "prefix", &["prefix"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(id())
                    .col(string("tenant_id"))
                    .col(string("name"))
                    .col(string("role"))
                    .col(string_null("email"))
                    .col(string_null("phone"))
                    .col(string_null("external_id"))
                    .col(json_binary("metadata"))
                    .col(string("status"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut belongs_to_tenant("users"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("users", "tenant", &["tenant_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("face_enrollments")
                    .col(id())
                    .col(string("tenant_id"))
                    .col(string("user_id"))
                    .col(string("provider"))
                    .col(string("provider_face_id"))
                    .col(string("angle"))
                    .col(float("confidence"))
                    .col(boolean("enrolled_with_glasses"))
                    .col(blob_null("template"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut belongs_to_tenant("face_enrollments"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_face_enrollments_user")
                            .from("face_enrollments", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(index("face_enrollments", "user", &["tenant_id", "user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("consents")
                    .col(id())
                    .col(string("tenant_id"))
                    .col(string_null("user_id"))
                    .col(string("consent_version"))
                    .col(string("consent_text_hash"))
                    .col(timestamp_with_time_zone("consented_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut belongs_to_tenant("consents"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consents_user")
                            .from("consents", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(index("consents", "user", &["tenant_id", "user_id"]))
            .await?;

        // No foreign key: the trail must outlive what it describes.
        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(id())
                    .col(string_null("tenant_id"))
                    .col(string("method"))
                    .col(string("route"))
                    .col(string_null("resource_id"))
                    .col(integer("status"))
                    .col(string_null("error_code"))
                    .col(big_integer("latency_ms"))
                    .col(text_null("user_agent"))
                    .col(string_null("device_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "audit_events",
                "tenant_time",
                &["tenant_id", "created_at"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_events",
            "consents",
            "face_enrollments",
            "users",
            "api_keys",
            "tenants",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().take())
                .await?;
        }
        Ok(())
    }
}
