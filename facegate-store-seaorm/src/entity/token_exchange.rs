use sea_orm::entity::prelude::*;

/// A verification token exchanged for a session (`POST /v1/session`), by its
/// `jti`: the primary key makes the second exchange fail atomically.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_exchanges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    pub tenant_id: String,
    pub session_id: String,
    pub exchanged_at: DateTimeUtc,
    /// When the token expires; the row is of no use after.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
