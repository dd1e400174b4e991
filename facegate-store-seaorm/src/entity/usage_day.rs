use sea_orm::entity::prelude::*;

/// A day's rollup of one usage metric and dimension (see `facegate_core::usage`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_days")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// `YYYY-MM-DD`, UTC: compares as text on every backend.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dimension: String,
    pub count: i64,
    pub successes: i64,
    pub latency_ms_sum: i64,
    pub confidence_sum: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
