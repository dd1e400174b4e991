use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "liveness_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub device_id: String,
    pub mode: String,
    /// The challenge's actions as a JSON array.
    #[sea_orm(column_type = "Text")]
    pub actions: String,
    pub nonce: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub is_live: Option<bool>,
    pub confidence: Option<f32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reference_image: Option<String>,
    /// The reference face as the engine analysed it (dropped with the image).
    pub reference_probe: Option<Vec<u8>>,
    pub user_id: Option<String>,
    pub consumed_at: Option<DateTimeUtc>,
    pub pin_failures: i32,
    /// How often verify, enroll or match probed the reference face.
    pub probes: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
