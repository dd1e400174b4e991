use sea_orm::entity::prelude::*;

/// The number of the tenant's last face change. Bumped as the last write of
/// a transaction that changes face rows: the row lock it takes orders the
/// commits, so changes become visible in sequence order, without gaps.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "face_log_heads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub head: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
