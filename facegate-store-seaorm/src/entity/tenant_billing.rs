use sea_orm::entity::prelude::*;

/// A tenant's plan and its billing provider's ids.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_billing")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    pub plan: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub updated_at: DateTimeUtc,
    /// When the billing provider made the change last applied.
    pub event_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
