//! [`PolicyStore`] and [`RiskStore`]: tenant policies with their change
//! log, sign-ins, and logins waiting for a step-up.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use facegate_core::domain::{PolicyChange, SignIn, StepUp};
use facegate_core::ids::{ApiKeyId, StepUpId, TenantId, UserId};
use facegate_core::policy::{Policy, PolicyType};
use facegate_core::store::{PolicyStore, RiskStore, StoreError, StoredPolicy};

use crate::entity::{policy_change, sign_in, step_up, tenant_policy};
use crate::{SeaOrmStore, store_error};

fn config_text(policy: &Policy) -> String {
    policy.config_json().to_string()
}

fn policy_of(kind: &str, config: &str) -> Result<Policy, StoreError> {
    let corrupt = || StoreError::Backend(format!("unreadable {kind} policy"));
    let kind = PolicyType::parse(kind).ok_or_else(corrupt)?;
    let config = serde_json::from_str(config).map_err(|_| corrupt())?;
    Policy::from_config(kind, config).map_err(|_| corrupt())
}

/// The row of a tenant's policy of this type, locked for the rest of the
/// transaction (a write that changes nothing, as `lock_user` does).
async fn locked_policy(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    kind: PolicyType,
) -> Result<Option<tenant_policy::Model>, StoreError> {
    tenant_policy::Entity::update_many()
        .col_expr(
            tenant_policy::Column::Config,
            Expr::col(tenant_policy::Column::Config),
        )
        .filter(tenant_policy::Column::TenantId.eq(tenant.as_str()))
        .filter(tenant_policy::Column::PolicyType.eq(kind.as_str()))
        .exec(txn)
        .await
        .map_err(store_error)?;
    tenant_policy::Entity::find_by_id((tenant.to_string(), kind.as_str().to_owned()))
        .one(txn)
        .await
        .map_err(store_error)
}

async fn log_change(txn: &impl ConnectionTrait, change: &PolicyChange) -> Result<(), StoreError> {
    let row = policy_change::Model {
        id: change.id.clone(),
        tenant_id: change.tenant_id.to_string(),
        policy_type: change.policy_type.as_str().to_owned(),
        before_config: change.before.as_ref().map(config_text),
        after_config: change.after.as_ref().map(config_text),
        changed_by: change.changed_by.to_string(),
        changed_at: change.changed_at,
    };
    policy_change::Entity::insert(row.into_active_model())
        .exec_without_returning(txn)
        .await
        .map_err(store_error)?;
    Ok(())
}

fn new_change(
    tenant: &TenantId,
    kind: PolicyType,
    before: Option<Policy>,
    after: Option<Policy>,
    changed_by: &ApiKeyId,
    at: DateTime<Utc>,
) -> PolicyChange {
    PolicyChange {
        id: uuid::Uuid::now_v7().simple().to_string(),
        tenant_id: tenant.clone(),
        policy_type: kind,
        before,
        after,
        changed_by: changed_by.clone(),
        changed_at: at,
    }
}

#[async_trait]
impl PolicyStore for SeaOrmStore {
    async fn policies(&self, tenant: &TenantId) -> Result<Vec<StoredPolicy>, StoreError> {
        tenant_policy::Entity::find()
            .filter(tenant_policy::Column::TenantId.eq(tenant.as_str()))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| {
                Ok(StoredPolicy {
                    policy: policy_of(&row.policy_type, &row.config)?,
                    updated_at: row.updated_at,
                })
            })
            .collect()
    }

    async fn put_policy(
        &self,
        tenant: &TenantId,
        policy: &Policy,
        changed_by: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<Option<Policy>, StoreError> {
        let kind = policy.policy_type();
        let txn = self.db.begin().await.map_err(store_error)?;
        let row = tenant_policy::Model {
            tenant_id: tenant.to_string(),
            policy_type: kind.as_str().to_owned(),
            config: config_text(policy),
            updated_at: at,
        };
        // Insert-if-absent first: of two racing creations one inserts, and
        // the other finds the row (and its lock) below.
        let inserted = tenant_policy::Entity::insert(row.clone().into_active_model())
            .on_conflict(
                OnConflict::columns([
                    tenant_policy::Column::TenantId,
                    tenant_policy::Column::PolicyType,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        let before = if inserted > 0 {
            None
        } else {
            let current = locked_policy(&txn, tenant, kind)
                .await?
                .ok_or_else(|| StoreError::Backend("policy row vanished".into()))?;
            let before = policy_of(&current.policy_type, &current.config)?;
            tenant_policy::Entity::update(tenant_policy::ActiveModel {
                tenant_id: Set(row.tenant_id.clone()),
                policy_type: Set(row.policy_type.clone()),
                config: Set(row.config.clone()),
                updated_at: Set(at),
            })
            .exec(&txn)
            .await
            .map_err(store_error)?;
            Some(before)
        };
        log_change(
            &txn,
            &new_change(tenant, kind, before, Some(*policy), changed_by, at),
        )
        .await?;
        txn.commit().await.map_err(store_error)?;
        Ok(before)
    }

    async fn delete_policy(
        &self,
        tenant: &TenantId,
        kind: PolicyType,
        changed_by: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<Option<Policy>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let Some(current) = locked_policy(&txn, tenant, kind).await? else {
            return Ok(None);
        };
        let before = policy_of(&current.policy_type, &current.config)?;
        tenant_policy::Entity::delete_by_id((current.tenant_id, current.policy_type))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        log_change(
            &txn,
            &new_change(tenant, kind, Some(before), None, changed_by, at),
        )
        .await?;
        txn.commit().await.map_err(store_error)?;
        Ok(Some(before))
    }

    async fn policy_changes(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<PolicyChange>, StoreError> {
        policy_change::Entity::find()
            .filter(policy_change::Column::TenantId.eq(tenant.as_str()))
            .order_by_desc(policy_change::Column::ChangedAt)
            .order_by_desc(policy_change::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| {
                let kind = PolicyType::parse(&row.policy_type)
                    .ok_or_else(|| StoreError::Backend("unreadable policy change".into()))?;
                let read = |config: Option<String>| {
                    config
                        .map(|config| policy_of(&row.policy_type, &config))
                        .transpose()
                };
                Ok(PolicyChange {
                    id: row.id.clone(),
                    tenant_id: TenantId::from_string(&row.tenant_id),
                    policy_type: kind,
                    before: read(row.before_config.clone())?,
                    after: read(row.after_config.clone())?,
                    changed_by: ApiKeyId::from_string(&row.changed_by),
                    changed_at: row.changed_at,
                })
            })
            .collect()
    }
}

fn step_up_of(row: step_up::Model) -> StepUp {
    StepUp {
        id: StepUpId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        user_id: UserId::from_string(row.user_id),
        device_id: row.device_id,
        device_fingerprint: row.device_fingerprint,
        confidence: row.confidence,
        risk_score: row.risk_score,
        created_at: row.created_at,
        expires_at: row.expires_at,
        completed_at: row.completed_at,
    }
}

#[async_trait]
impl RiskStore for SeaOrmStore {
    async fn record_sign_in(&self, sign_in: &SignIn) -> Result<(), StoreError> {
        let row = sign_in::Model {
            id: uuid::Uuid::now_v7().simple().to_string(),
            tenant_id: sign_in.tenant_id.to_string(),
            user_id: sign_in.user_id.to_string(),
            device_id: sign_in.device_id.clone(),
            network: sign_in.network.clone(),
            user_agent: sign_in.user_agent.clone(),
            at: sign_in.at,
        };
        sign_in::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn sign_ins(
        &self,
        tenant: &TenantId,
        user: &UserId,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SignIn>, StoreError> {
        Ok(sign_in::Entity::find()
            .filter(sign_in::Column::TenantId.eq(tenant.as_str()))
            .filter(sign_in::Column::UserId.eq(user.as_str()))
            .filter(sign_in::Column::At.gte(since))
            .order_by_desc(sign_in::Column::At)
            .order_by_desc(sign_in::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| SignIn {
                tenant_id: TenantId::from_string(row.tenant_id),
                user_id: UserId::from_string(row.user_id),
                device_id: row.device_id,
                network: row.network,
                user_agent: row.user_agent,
                at: row.at,
            })
            .collect())
    }

    async fn prune_sign_ins(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = sign_in::Entity::delete_many()
            .filter(sign_in::Column::At.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }

    async fn insert_step_up(&self, step_up: &StepUp) -> Result<(), StoreError> {
        let row = step_up::Model {
            id: step_up.id.to_string(),
            tenant_id: step_up.tenant_id.to_string(),
            user_id: step_up.user_id.to_string(),
            device_id: step_up.device_id.clone(),
            device_fingerprint: step_up.device_fingerprint.clone(),
            confidence: step_up.confidence,
            risk_score: step_up.risk_score,
            created_at: step_up.created_at,
            expires_at: step_up.expires_at,
            completed_at: step_up.completed_at,
        };
        step_up::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn step_up(
        &self,
        tenant: &TenantId,
        id: &StepUpId,
    ) -> Result<Option<StepUp>, StoreError> {
        Ok(step_up::Entity::find_by_id(id.as_str())
            .filter(step_up::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(step_up_of))
    }

    async fn complete_step_up(
        &self,
        tenant: &TenantId,
        id: &StepUpId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = step_up::Entity::update_many()
            .col_expr(step_up::Column::CompletedAt, Expr::value(at))
            .filter(step_up::Column::TenantId.eq(tenant.as_str()))
            .filter(step_up::Column::Id.eq(id.as_str()))
            .filter(step_up::Column::CompletedAt.is_null())
            .filter(step_up::Column::ExpiresAt.gt(at))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected == 1)
    }

    async fn prune_step_ups(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = step_up::Entity::delete_many()
            .filter(step_up::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }
}
