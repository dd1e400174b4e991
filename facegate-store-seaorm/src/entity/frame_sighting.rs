use sea_orm::entity::prelude::*;

/// A live ceremony's reference frame, by its perceptual hash (as i64 bits).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "frame_sightings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub liveness_session_id: String,
    pub device_id: String,
    pub user_id: Option<String>,
    pub perceptual: i64,
    pub cluster: i64,
    pub seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
