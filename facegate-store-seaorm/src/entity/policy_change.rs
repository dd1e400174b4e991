use sea_orm::entity::prelude::*;

/// One policy write: before → after, by which API key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "policy_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub policy_type: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub before_config: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub after_config: Option<String>,
    pub changed_by: String,
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
