use sea_orm::entity::prelude::*;

/// An offline verification a client synced, and the server's re-check.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub verified_at: DateTimeUtc,
    #[sea_orm(primary_key, auto_increment = false)]
    pub frame_hash: String,
    pub client_confidence: f32,
    pub server_matched: bool,
    pub server_confidence: f32,
    pub flagged: bool,
    pub reason: Option<String>,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
