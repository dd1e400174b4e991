use sea_orm::entity::prelude::*;

/// A cross-device handoff; the token and the desktop's secret as hashes.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "handoffs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub token_hash: String,
    pub secret_hash: String,
    pub mode: String,
    pub status: String,
    pub match_code: String,
    /// `HandoffDesktop` as JSON.
    pub desktop: String,
    pub enroll_profile: Option<String>,
    pub phone_device_id: Option<String>,
    pub attempts: i32,
    /// While a phone's `complete` runs: no other may start.
    pub claimed_until: Option<DateTimeUtc>,
    /// `HandoffOutcome` as JSON.
    pub outcome: Option<String>,
    /// The user a completed handoff signed in or enrolled (deleted with them).
    pub user_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub collected_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
