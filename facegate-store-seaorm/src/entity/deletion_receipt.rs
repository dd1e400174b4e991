use sea_orm::entity::prelude::*;

/// A deleted user's receipt: what was removed, and the signed JWS.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deletion_receipts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub reason: String,
    pub deleted_at: DateTimeUtc,
    pub faces: i32,
    pub liveness_images: i32,
    pub sessions: i32,
    pub refresh_tokens: i32,
    pub provider_faces: i32,
    pub receipt: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
