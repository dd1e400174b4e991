//! Risk scoring of a verification attempt.

use async_trait::async_trait;
use serde::Serialize;

use crate::ids::{TenantId, UserId};

/// What a risk policy knows about an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskContext {
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    pub device_id: String,
    pub user_agent: Option<String>,
    /// Match confidence, 0–100.
    pub confidence: f32,
    /// Failed attempts from this device in the current window.
    pub recent_failures: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

/// The `risk` object of a verify response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskAssessment {
    /// 0 (no risk) to 1.
    pub score: f32,
    pub level: RiskLevel,
    pub factors: Vec<String>,
    pub step_up_required: bool,
    pub step_up_type: Option<String>,
}

#[async_trait]
pub trait RiskPolicy: Send + Sync + 'static {
    async fn assess(&self, context: &RiskContext) -> RiskAssessment;
}
