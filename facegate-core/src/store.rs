//! The storage trait. `facegate-store-seaorm` implements it on SQLite and
//! PostgreSQL; a host with its own database can implement it too.
//!
//! Every read and write that concerns tenant data takes the tenant id, so a
//! query can never reach another tenant's rows. Writes that touch several
//! rows are atomic: an implementation must run them in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ApiKeyRecord, AuditEvent, ConsentRecord, FaceEnrollment, Session, SigningKeyRecord, Tenant,
    TenantSettings, TenantStatus, User, UserStatus,
};
use crate::ids::{ApiKeyId, ConsentId, SessionId, TenantId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached (health reports `unhealthy`).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was broken (an id or key prefix that already exists).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Backend(String),
}

/// One page of a tenant's users, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    /// Return users created after this one (the previous page's last id).
    pub after: Option<UserId>,
    pub limit: u32,
}

/// A user with the number of faces enrolled, as listed by `GET /v1/users`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub user: User,
    pub face_count: u32,
}

/// What [`Store::revoke_consent`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRevocation {
    /// The record after revocation (its `revoked_at` is the first revocation's time).
    pub record: ConsentRecord,
    /// Whether this call deleted the linked user.
    pub user_deleted: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A cheap round trip, for the health check.
    async fn ping(&self) -> Result<(), StoreError>;

    // Tenants and API keys.
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Returns false when the tenant does not exist.
    async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
    ) -> Result<bool, StoreError>;
    /// Returns false when the tenant does not exist.
    async fn set_tenant_settings(
        &self,
        id: &TenantId,
        settings: &TenantSettings,
    ) -> Result<bool, StoreError>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// Active (unrevoked) keys whose lookup prefix is `prefix`.
    async fn api_keys_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKeyRecord>, StoreError>;
    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Returns false when the tenant has no such unrevoked key.
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    // Users and their faces.
    /// Inserts a user together with its first enrollments, atomically. With
    /// `consent`, links that consent record to the new user in the same
    /// transaction; if it is revoked or already linked, nothing is written
    /// and the result is [`StoreError::Conflict`].
    async fn insert_user(
        &self,
        user: &User,
        faces: &[FaceEnrollment],
        consent: Option<&ConsentId>,
    ) -> Result<(), StoreError>;
    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn list_users(
        &self,
        tenant: &TenantId,
        page: &UserPage,
    ) -> Result<Vec<UserSummary>, StoreError>;
    /// Returns the updated user, or `None` when the tenant has no such user.
    async fn set_user_status(
        &self,
        tenant: &TenantId,
        id: &UserId,
        status: UserStatus,
    ) -> Result<Option<User>, StoreError>;
    async fn faces_of_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Vec<FaceEnrollment>, StoreError>;
    /// Replaces all of a user's faces with `faces` in one transaction and
    /// returns the ones removed; `None` when the tenant has no such user.
    async fn replace_faces(
        &self,
        tenant: &TenantId,
        user: &UserId,
        faces: &[FaceEnrollment],
    ) -> Result<Option<Vec<FaceEnrollment>>, StoreError>;
    /// Every face of the tenant, for engines that rebuild their index on start.
    async fn faces_of_tenant(&self, tenant: &TenantId) -> Result<Vec<FaceEnrollment>, StoreError>;
    /// Deletes a user and all their face data in one transaction; linked consent
    /// records are kept (as evidence) but unlinked. Returns false when absent.
    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<bool, StoreError>;

    // Consent.
    async fn insert_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError>;
    async fn consent(
        &self,
        tenant: &TenantId,
        id: &ConsentId,
    ) -> Result<Option<ConsentRecord>, StoreError>;
    /// Marks the consent revoked (once; a repeat keeps the first time) and, in
    /// the same transaction, deletes the linked user and their faces.
    /// Returns `None` when the tenant has no such consent.
    async fn revoke_consent(
        &self,
        tenant: &TenantId,
        id: &ConsentId,
        at: DateTime<Utc>,
    ) -> Result<Option<ConsentRevocation>, StoreError>;

    // Sessions.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Session>, StoreError>;
    /// Marks the session revoked (once; a repeat keeps the first time).
    /// Returns `None` when the tenant has no such session.
    async fn revoke_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError>;

    // Token signing keys.
    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Adds `key` as the signing key and retires every other unretired key
    /// at `key.created_at`, in one transaction.
    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    // Audit trail.
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// The tenant's most recent events, newest first.
    async fn audit_events(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
