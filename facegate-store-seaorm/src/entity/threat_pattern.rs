use sea_orm::entity::prelude::*;

/// A learned threat pattern (see `facegate_core::threat`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "threat_patterns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub indicator: String,
    pub first_seen: DateTimeUtc,
    pub last_seen: DateTimeUtc,
    pub occurrences: i64,
    pub action: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
