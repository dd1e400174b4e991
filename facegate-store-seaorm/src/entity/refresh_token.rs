use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Hex SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub tenant_id: String,
    pub session_id: String,
    pub created_at: DateTimeUtc,
    pub spent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
