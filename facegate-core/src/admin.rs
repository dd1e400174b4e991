//! Operator actions: create tenants, mint and revoke API keys, suspend a
//! tenant. Used by the example CLI and by hosts with their own admin tooling;
//! none of this is reachable over the public API.

use crate::FaceGate;
use crate::api_key::ApiKey;
use crate::clock;
use crate::deletion::{DeletionReason, DeletionReceipt};
use crate::domain::{
    ApiKeyRecord, KeyEnvironment, KeyScope, OriginRules, Tenant, TenantSettings, TenantStatus,
};
use crate::ids::{ApiKeyId, TenantId, UserId};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("tenant {0} not found")]
    TenantNotFound(TenantId),
    #[error("API key {0} not found or already revoked")]
    KeyNotFound(ApiKeyId),
    #[error(
        "not a valid FaceGate API key: expected fg_live_ or fg_test_ (then pub_ for a client key) followed by 16 to 128 letters and digits"
    )]
    MalformedKey,
    #[error("API key {0} was revoked; mint a new one")]
    KeyRevoked(ApiKeyId),
    #[error("not an origin: {0:?} (expected https://host or http://host:port)")]
    MalformedOrigin(String),
    #[error("no plan named {0:?} (the host's plans: {1})")]
    UnknownPlan(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key ring could not be loaded to sign a deletion receipt.
    #[error(transparent)]
    Api(#[from] crate::error::ApiError),
}

/// A freshly minted key: the record as stored, and the secret, shown once.
#[derive(Debug)]
pub struct MintedKey {
    pub record: ApiKeyRecord,
    pub key: ApiKey,
}

impl FaceGate {
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant, AdminError> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.to_owned(),
            status: TenantStatus::Active,
            settings: TenantSettings::default(),
            created_at: clock::now(),
        };
        self.store().insert_tenant(&tenant).await?;
        tracing::info!(tenant = %tenant.id, name, "tenant created");
        Ok(tenant)
    }

    /// Deletes a user and everything of theirs, as `DELETE /v1/users/:id`
    /// does: one transaction, a signed receipt and a `user.deleted` event.
    /// `None` when the tenant has no such user.
    pub async fn delete_user(
        &self,
        tenant: &TenantId,
        user: &UserId,
        reason: DeletionReason,
    ) -> Result<Option<DeletionReceipt>, AdminError> {
        let tenant = self
            .store()
            .tenant(tenant)
            .await?
            .ok_or_else(|| AdminError::TenantNotFound(tenant.clone()))?;
        Ok(self.erase_user(&tenant, user, reason).await?)
    }

    pub async fn set_tenant_status(
        &self,
        tenant: &TenantId,
        status: TenantStatus,
    ) -> Result<(), AdminError> {
        if self
            .store()
            .set_tenant_status(tenant, status, clock::now())
            .await?
        {
            // Its tokens stop at this instance's guard now, not at the next recheck.
            self.guard_cache().forget_tenant(tenant);
            tracing::info!(%tenant, ?status, "tenant status set");
            Ok(())
        } else {
            Err(AdminError::TenantNotFound(tenant.clone()))
        }
    }

    pub async fn set_tenant_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), AdminError> {
        if self.store().set_tenant_settings(tenant, settings).await? {
            tracing::info!(%tenant, ?settings, "tenant settings set");
            Ok(())
        } else {
            Err(AdminError::TenantNotFound(tenant.clone()))
        }
    }

    /// Puts a tenant on one of the host's plans (see
    /// [`crate::FaceGateBuilder::plans`]); its billing ids stay.
    pub async fn set_tenant_plan(&self, tenant: &TenantId, plan: &str) -> Result<(), AdminError> {
        if self.plans().get(plan).is_none() {
            let names: Vec<&str> = self.plans().iter().map(|p| p.name.as_str()).collect();
            return Err(AdminError::UnknownPlan(plan.to_owned(), names.join(", ")));
        }
        if self.store().tenant(tenant).await?.is_none() {
            return Err(AdminError::TenantNotFound(tenant.clone()));
        }
        self.store().set_tenant_plan(tenant, Some(plan)).await?;
        tracing::info!(%tenant, plan, "tenant plan set");
        Ok(())
    }

    /// Reads the tenant's settings, applies `change`, stores the result and
    /// returns it.
    pub async fn update_tenant_settings(
        &self,
        tenant: &TenantId,
        change: impl FnOnce(&mut TenantSettings),
    ) -> Result<TenantSettings, AdminError> {
        let mut settings = self
            .store()
            .tenant(tenant)
            .await?
            .ok_or_else(|| AdminError::TenantNotFound(tenant.clone()))?
            .settings;
        change(&mut settings);
        self.set_tenant_settings(tenant, &settings).await?;
        Ok(settings)
    }

    /// Mints a new random server key for the tenant. The secret is in the
    /// result and nowhere else.
    pub async fn mint_api_key(
        &self,
        tenant: &TenantId,
        environment: KeyEnvironment,
    ) -> Result<MintedKey, AdminError> {
        self.mint_key(
            tenant,
            environment,
            KeyScope::Server,
            OriginRules::default(),
        )
        .await
    }

    /// Mints a client key (`fg_…_pub_…`), safe in browser code: it reaches
    /// the login and enrollment ceremony only, from `origins`.
    pub async fn mint_client_key(
        &self,
        tenant: &TenantId,
        environment: KeyEnvironment,
        origins: OriginRules,
    ) -> Result<MintedKey, AdminError> {
        self.mint_key(tenant, environment, KeyScope::Client, origins)
            .await
    }

    async fn mint_key(
        &self,
        tenant: &TenantId,
        environment: KeyEnvironment,
        scope: KeyScope,
        origins: OriginRules,
    ) -> Result<MintedKey, AdminError> {
        let origins = OriginRules {
            allowed: origins
                .allowed
                .iter()
                .map(|origin| {
                    crate::api::origin::normalise(origin)
                        .ok_or_else(|| AdminError::MalformedOrigin(origin.clone()))
                })
                .collect::<Result<_, _>>()?,
            ..origins
        };
        self.store()
            .tenant(tenant)
            .await?
            .ok_or_else(|| AdminError::TenantNotFound(tenant.clone()))?;
        let key = ApiKey::generate(environment, scope);
        let record = self.store_key(tenant, &key, origins).await?;
        Ok(MintedKey { record, key })
    }

    pub async fn revoke_api_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<(), AdminError> {
        if self
            .store()
            .revoke_api_key(tenant, id, clock::now())
            .await?
        {
            tracing::info!(%tenant, key = %id, "API key revoked");
            Ok(())
        } else {
            Err(AdminError::KeyNotFound(id.clone()))
        }
    }

    /// Makes sure `key` works: if no tenant has it, creates a tenant called
    /// `tenant_name` holding exactly this key. Returns the key's tenant. This is
    /// what `FACEGATE_BOOTSTRAP_API_KEY` uses so scripts can drive a fresh demo.
    /// A key that was revoked stays revoked ([`AdminError::KeyRevoked`]).
    pub async fn ensure_api_key(
        &self,
        key: &str,
        tenant_name: &str,
    ) -> Result<TenantId, AdminError> {
        let key = ApiKey::parse(key).ok_or(AdminError::MalformedKey)?;
        if let Some(record) = self.store().api_key_by_hash(&key.hash()).await? {
            return match record.revoked_at {
                None => Ok(record.tenant_id),
                Some(_) => Err(AdminError::KeyRevoked(record.id)),
            };
        }
        let tenant = self.create_tenant(tenant_name).await?;
        match self
            .store_key(&tenant.id, &key, OriginRules::default())
            .await
        {
            Ok(_) => Ok(tenant.id),
            // Another instance sharing the database stored it first.
            Err(AdminError::Store(StoreError::Conflict(_))) => {
                let theirs = self.store().api_key_by_hash(&key.hash()).await?;
                theirs.map(|record| record.tenant_id).ok_or_else(|| {
                    AdminError::Store(StoreError::Conflict("the bootstrap key".into()))
                })
            }
            Err(err) => Err(err),
        }
    }

    async fn store_key(
        &self,
        tenant: &TenantId,
        key: &ApiKey,
        origins: OriginRules,
    ) -> Result<ApiKeyRecord, AdminError> {
        let record = ApiKeyRecord {
            id: ApiKeyId::generate(),
            tenant_id: tenant.clone(),
            environment: key.environment(),
            scope: key.scope(),
            origins,
            prefix: key.display_prefix().to_owned(),
            hash: key.hash(),
            created_at: clock::now(),
            revoked_at: None,
        };
        self.store().insert_api_key(&record).await?;
        tracing::info!(%tenant, key = %record.id, prefix = %record.prefix, "API key stored");
        Ok(record)
    }
}
