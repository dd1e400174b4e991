//! The tenant policies (server keys only): `POST /v1/policy/rotation`,
//! `/risk` and `/continuous` (upsert, per spec), and our additions
//! `GET /v1/policy` (all three, defaults marked, with the recent changes)
//! and `DELETE /v1/policy/:type` (back to the defaults). Every write is
//! logged with the key that made it, before → after.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::{Serialize, Serializer};

use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{PolicyChange, Tenant};
use crate::error::ApiError;
use crate::ids::ApiKeyId;
use crate::policy::{Policy, PolicyConfig, PolicyType, RiskRules, TenantPolicies};

/// Changes listed by `GET /v1/policy`.
const CHANGES_LISTED: u32 = 20;

/// A policy's config as answers show it (`null`: none, the policy is off).
fn serialize_config<S: Serializer>(
    policy: &Option<Policy>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match policy {
        Some(policy) => policy.config().serialize(serializer),
        None => serializer.serialize_none(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PutPolicyResponse {
    policy_type: PolicyType,
    action: &'static str,
    #[serde(serialize_with = "serialize_config")]
    #[schema(value_type = Option<PolicyConfig>)]
    config: Option<Policy>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PolicyView {
    policy_type: PolicyType,
    /// `null` for a policy that is off by default (rotation, continuous).
    #[serde(serialize_with = "serialize_config")]
    #[schema(value_type = Option<PolicyConfig>)]
    config: Option<Policy>,
    is_default: bool,
    #[serde(serialize_with = "wire::serialize_optional_timestamp")]
    updated_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ChangeView {
    policy_type: PolicyType,
    #[serde(serialize_with = "serialize_config")]
    #[schema(value_type = Option<PolicyConfig>)]
    before: Option<Policy>,
    #[serde(serialize_with = "serialize_config")]
    #[schema(value_type = Option<PolicyConfig>)]
    after: Option<Policy>,
    changed_by: ApiKeyId,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    changed_at: DateTime<Utc>,
}

impl From<PolicyChange> for ChangeView {
    fn from(change: PolicyChange) -> Self {
        Self {
            policy_type: change.policy_type,
            before: change.before,
            after: change.after,
            changed_by: change.changed_by,
            changed_at: change.changed_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ListPoliciesResponse {
    policies: Vec<PolicyView>,
    changes: Vec<ChangeView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct DeletePolicyResponse {
    policy_type: PolicyType,
    deleted: bool,
    /// The default now in force (`null`: the policy is off).
    #[serde(serialize_with = "serialize_config")]
    #[schema(value_type = Option<PolicyConfig>)]
    config: Option<Policy>,
}

/// The default of a policy type (`None`: off).
fn default_policy(tenant: &Tenant, kind: PolicyType) -> Option<Policy> {
    match kind {
        PolicyType::Risk => Some(Policy::Risk(RiskRules::default_for(&tenant.settings))),
        PolicyType::Rotation | PolicyType::Continuous => None,
    }
}

impl FaceGate {
    /// The policies in force for the tenant (stored ones, defaults for the rest).
    pub(crate) async fn policies(&self, tenant: &Tenant) -> Result<TenantPolicies, ApiError> {
        let stored: Vec<Policy> = self
            .inner
            .store
            .policies(&tenant.id)
            .await?
            .into_iter()
            .map(|p| p.policy)
            .collect();
        Ok(TenantPolicies::from_stored(&tenant.settings, &stored))
    }

    pub(super) async fn put_policy(
        &self,
        tenant: &Tenant,
        key: &ApiKeyId,
        kind: PolicyType,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let policy = match kind {
            PolicyType::Rotation => Policy::Rotation(wire::parse_json(body)?),
            PolicyType::Risk => Policy::Risk(wire::parse_json(body)?),
            PolicyType::Continuous => Policy::Continuous(wire::parse_json(body)?),
        };
        let issues = policy.validate();
        if !issues.is_empty() {
            return Err(ApiError::Validation(issues));
        }
        let before = self
            .inner
            .store
            .put_policy(&tenant.id, &policy, key, clock::now())
            .await?;
        // Tokens the guard cached were checked against the old policy.
        self.guard_cache().forget_tenant(&tenant.id);
        tracing::info!(tenant = %tenant.id, policy = kind.as_str(), by = %key, ?before, after = ?policy, "policy set");
        Ok(wire::json_response(
            StatusCode::OK,
            &PutPolicyResponse {
                policy_type: kind,
                action: if before.is_some() {
                    "updated"
                } else {
                    "created"
                },
                config: Some(policy),
            },
        ))
    }

    pub(super) async fn list_policies(&self, tenant: &Tenant) -> Result<Response<Bytes>, ApiError> {
        let stored = self.inner.store.policies(&tenant.id).await?;
        let policies = PolicyType::ALL
            .into_iter()
            .map(
                |kind| match stored.iter().find(|p| p.policy.policy_type() == kind) {
                    Some(p) => PolicyView {
                        policy_type: kind,
                        config: Some(p.policy),
                        is_default: false,
                        updated_at: Some(p.updated_at),
                    },
                    None => PolicyView {
                        policy_type: kind,
                        config: default_policy(tenant, kind),
                        is_default: true,
                        updated_at: None,
                    },
                },
            )
            .collect();
        let changes = self
            .inner
            .store
            .policy_changes(&tenant.id, CHANGES_LISTED)
            .await?
            .into_iter()
            .map(ChangeView::from)
            .collect();
        Ok(wire::json_response(
            StatusCode::OK,
            &ListPoliciesResponse { policies, changes },
        ))
    }

    pub(super) async fn delete_policy(
        &self,
        tenant: &Tenant,
        key: &ApiKeyId,
        kind: PolicyType,
    ) -> Result<Response<Bytes>, ApiError> {
        let deleted = self
            .inner
            .store
            .delete_policy(&tenant.id, kind, key, clock::now())
            .await?;
        self.guard_cache().forget_tenant(&tenant.id);
        if let Some(before) = &deleted {
            tracing::info!(tenant = %tenant.id, policy = kind.as_str(), by = %key, ?before, "policy back to defaults");
        }
        Ok(wire::json_response(
            StatusCode::OK,
            &DeletePolicyResponse {
                policy_type: kind,
                deleted: deleted.is_some(),
                config: default_policy(tenant, kind),
            },
        ))
    }
}
