use sea_orm::entity::prelude::*;

/// A liveness session or step-up a handoff's phone started: the handoff
/// completes with its own ceremonies only.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "handoff_ceremonies")]
pub struct Model {
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub handoff_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub ceremony_id: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
