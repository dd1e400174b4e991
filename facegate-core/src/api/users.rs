//! Users: `GET /v1/users`, `GET /v1/users/:id`, `DELETE /v1/users/:id`,
//! `PATCH /v1/users/:id/status`. Every query is scoped to the caller's tenant:
//! another tenant's user is indistinguishable from one that does not exist.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::deletions::ReceiptView;
use super::{FaceGate, wire};
use crate::clock;
use crate::deletion::{DeletionReason, DeletionReceipt};
use crate::domain::{FaceEnrollment, Tenant, User, UserStatus};
use crate::error::{ApiError, FieldIssue};
use crate::events::{Event, EventKind};
use crate::ids::{FaceId, TenantId, UserId};
use crate::store::{EngineFaceDeletion, UserPage};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

/// A user as shown by the API.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct UserView {
    id: UserId,
    name: String,
    role: String,
    email: Option<String>,
    phone: Option<String>,
    external_id: Option<String>,
    metadata: Value,
    status: UserStatus,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    created_at: DateTime<Utc>,
    face_count: u32,
}

impl UserView {
    fn new(user: User, face_count: u32) -> Self {
        Self {
            id: user.id,
            name: user.name,
            role: user.role,
            email: user.email,
            phone: user.phone,
            external_id: user.external_id,
            metadata: user.metadata,
            status: user.status,
            created_at: user.created_at,
            face_count,
        }
    }
}

/// An enrollment as shown by the API (`faceId`, `angle`, `confidence`, plus
/// when and how it was taken).
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct EnrollmentView {
    #[serde(rename = "faceId")]
    face_id: FaceId,
    angle: String,
    confidence: f32,
    enrolled_with_glasses: bool,
    #[serde(serialize_with = "wire::serialize_timestamp")]
    created_at: DateTime<Utc>,
}

impl From<FaceEnrollment> for EnrollmentView {
    fn from(face: FaceEnrollment) -> Self {
        Self {
            face_id: face.id,
            angle: face.angle,
            confidence: face.confidence,
            enrolled_with_glasses: face.enrolled_with_glasses,
            created_at: face.created_at,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(super) struct ListUsersQuery {
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(inline)]
    cursor: Option<UserId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ListUsersResponse {
    users: Vec<UserView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    next_cursor: Option<UserId>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct UserDetailResponse {
    #[serde(flatten)]
    user: UserView,
    enrollments: Vec<EnrollmentView>,
    /// When the current face was enrolled (`null` without one), and when
    /// the rotation policy wants a new one (`null` without a policy).
    #[serde(serialize_with = "wire::serialize_optional_timestamp")]
    face_enrolled_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "wire::serialize_optional_timestamp")]
    rotation_due_at: Option<DateTime<Utc>>,
}

/// `?reason=`: who asked for the deletion.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq, Debug, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum RequestedBy {
    #[default]
    UserRequest,
    TenantRequest,
}

#[derive(Deserialize, utoipa::IntoParams)]
pub(super) struct DeleteUserQuery {
    #[serde(default)]
    #[param(inline)]
    reason: RequestedBy,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct SetStatusRequest {
    status: UserStatus,
}

impl FaceGate {
    pub(super) async fn list_users(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let query: ListUsersQuery = wire::parse_query(query)?;
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            )]));
        }
        // One extra row tells whether another page follows.
        let page = UserPage {
            after: query.cursor,
            limit: limit + 1,
        };
        let mut users = self.inner.store.list_users(&tenant.id, &page).await?;
        let next_cursor = if users.len() > limit as usize {
            users.truncate(limit as usize);
            users.last().map(|summary| summary.user.id.clone())
        } else {
            None
        };
        let users = users
            .into_iter()
            .map(|summary| UserView::new(summary.user, summary.face_count))
            .collect();
        Ok(wire::json_response(
            StatusCode::OK,
            &ListUsersResponse { users, next_cursor },
        ))
    }

    pub(super) async fn get_user(
        &self,
        tenant: &Tenant,
        id: &UserId,
    ) -> Result<Response<Bytes>, ApiError> {
        let user = self.tenant_user(tenant, id).await?;
        let faces = self.inner.store.faces_of_user(&tenant.id, id).await?;
        let face_enrolled_at = oldest(&faces);
        let rotation = self.policies(tenant).await?.rotation;
        let body = UserDetailResponse {
            user: UserView::new(user, faces.len() as u32),
            enrollments: faces.into_iter().map(EnrollmentView::from).collect(),
            face_enrolled_at,
            rotation_due_at: rotation.zip(face_enrolled_at).map(|(p, at)| p.due_at(at)),
        };
        Ok(wire::json_response(StatusCode::OK, &body))
    }

    /// When the user's current face was enrolled (the oldest of their face
    /// rows: re-enrollment replaces them all); `None` without one.
    pub(super) async fn face_enrolled_at(
        &self,
        tenant: &Tenant,
        user: &User,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        let faces = self.inner.store.faces_of_user(&tenant.id, &user.id).await?;
        Ok(oldest(&faces))
    }

    /// Deletes the user and all face data: the rows in one transaction,
    /// which also queues the faces an engine keeps itself; then those from
    /// the engine (retried by maintenance if the engine is down).
    pub(super) async fn delete_user_route(
        &self,
        tenant: &Tenant,
        id: &UserId,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let query: DeleteUserQuery = wire::parse_query(query)?;
        let reason = match query.reason {
            RequestedBy::UserRequest => DeletionReason::UserRequest,
            RequestedBy::TenantRequest => DeletionReason::TenantRequest,
        };
        let receipt = self
            .erase_user(tenant, id, reason)
            .await?
            .ok_or(ApiError::UserNotFound)?;
        Ok(wire::json_response(
            StatusCode::OK,
            &ReceiptView::from(receipt),
        ))
    }

    /// Deletes a user and everything of theirs, with a signed receipt and a
    /// `user.deleted` event written in the same transaction; `None` when the
    /// tenant has no such user.
    pub(crate) async fn erase_user(
        &self,
        tenant: &Tenant,
        id: &UserId,
        reason: DeletionReason,
    ) -> Result<Option<DeletionReceipt>, ApiError> {
        let receipt = self.erase_user_rows(tenant, id, reason, None).await?;
        if receipt.is_some() {
            self.faces_removed(&tenant.id).await;
        }
        Ok(receipt)
    }

    /// [`Self::erase_user`] for a batch (the retention sweep, the demo's
    /// expiry): the face index catches up once, after the batch, not once
    /// per user. With `idle_since`, each is deleted only if still idle
    /// since then when its transaction runs. Failures are logged and
    /// skipped; returns how many went.
    pub(super) async fn erase_users(
        &self,
        tenant: &Tenant,
        users: &[UserId],
        reason: DeletionReason,
        idle_since: Option<DateTime<Utc>>,
    ) -> u64 {
        let mut deleted = 0;
        for user in users {
            match self.erase_user_rows(tenant, user, reason, idle_since).await {
                Ok(Some(_)) => deleted += 1,
                // Deleted meanwhile (by another instance's sweep, say), or
                // signed in since the batch was read.
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(%err, tenant = %tenant.id, %user, "could not delete a user")
                }
            }
        }
        if deleted > 0 {
            self.faces_removed(&tenant.id).await;
        }
        deleted
    }

    /// The store's half of [`Self::erase_user`]: rows, receipt and event,
    /// without the face index's catch-up.
    async fn erase_user_rows(
        &self,
        tenant: &Tenant,
        id: &UserId,
        reason: DeletionReason,
        idle_since: Option<DateTime<Utc>>,
    ) -> Result<Option<DeletionReceipt>, ApiError> {
        let sealer = self.sealer(&tenant.id, reason).await?;
        let deleted = Event::new(
            &tenant.id,
            EventKind::UserDeleted,
            json!({ "user_id": id, "reason": reason, "receipt_id": sealer.receipt_id() }),
            clock::now(),
        );
        let events = std::slice::from_ref(&deleted);
        let seal = |user: &UserId, erased| sealer.seal(user, erased);
        let store = &self.inner.store;
        let receipt = match idle_since {
            None => store.delete_user(&tenant.id, id, events, &seal).await?,
            Some(since) => {
                store
                    .delete_idle_user(&tenant.id, id, since, events, &seal)
                    .await?
            }
        };
        if receipt.is_some() {
            self.events_written();
            tracing::info!(tenant = %tenant.id, user = %id, reason = reason.as_str(), "user deleted");
        }
        Ok(receipt)
    }

    pub(super) async fn set_user_status(
        &self,
        tenant: &Tenant,
        id: &UserId,
        body: &[u8],
    ) -> Result<Response<Bytes>, ApiError> {
        let request: SetStatusRequest = wire::parse_json(body)?;
        let user = self
            .inner
            .store
            .set_user_status(&tenant.id, id, request.status, clock::now())
            .await?
            .ok_or(ApiError::UserNotFound)?;
        if request.status != UserStatus::Active {
            // The store revoked their sessions; the guard forgets them too.
            self.guard_cache().forget_user(id);
        }
        let face_count = self.inner.store.faces_of_user(&tenant.id, id).await?.len() as u32;
        tracing::info!(tenant = %tenant.id, user = %id, status = request.status.as_str(), "user status set");
        Ok(wire::json_response(
            StatusCode::OK,
            &UserView::new(user, face_count),
        ))
    }

    async fn tenant_user(&self, tenant: &Tenant, id: &UserId) -> Result<User, ApiError> {
        self.inner
            .store
            .user(&tenant.id, id)
            .await?
            .ok_or(ApiError::UserNotFound)
    }

    /// After a write that removed a tenant's faces: this instance's index
    /// forgets them now (not at the tenant's next face operation), and an
    /// engine that keeps faces itself deletes its copies. Best effort:
    /// every hit is re-checked against the store meanwhile.
    pub(super) async fn faces_removed(&self, tenant: &TenantId) {
        if self.inner.face.is_none() {
            return;
        }
        if let Err(err) = self.warm_face_engine(tenant).await {
            tracing::warn!(%tenant, %err, "the face index could not catch up after a deletion");
        }
        self.delete_engine_faces(Some(tenant)).await;
    }

    /// Deletes from the face engine the faces the store let go (queued by
    /// the writes that removed their rows), of one tenant or of all;
    /// returns how many went. Best effort: what fails stays queued for the
    /// next maintenance pass. Until then the face can match in the engine
    /// but never log in: every hit is checked against the store.
    pub(super) async fn delete_engine_faces(&self, tenant: Option<&TenantId>) -> u64 {
        let Some(face) = &self.inner.face else {
            return 0;
        };
        let store = &self.inner.store;
        let queued = match store
            .engine_face_deletions(tenant, face.name(), ENGINE_DELETIONS_PER_PASS)
            .await
        {
            Ok(queued) => queued,
            Err(err) => {
                tracing::warn!(%err, "could not read the engine's queued deletions");
                return 0;
            }
        };
        let mut by_tenant: HashMap<TenantId, Vec<EngineFaceDeletion>> = HashMap::new();
        for deletion in queued {
            by_tenant
                .entry(deletion.tenant_id.clone())
                .or_default()
                .push(deletion);
        }
        let mut deleted = 0;
        for (tenant, batch) in by_tenant {
            let ids: Vec<String> = batch.iter().map(|d| d.provider_face_id.clone()).collect();
            if let Err(err) = face.delete(&tenant, &ids).await {
                tracing::warn!(%tenant, faces = ids.len(), %err, "the face engine could not delete faces; they stay queued");
                continue;
            }
            match store.finish_engine_face_deletions(&batch).await {
                Ok(()) => deleted += batch.len() as u64,
                Err(err) => {
                    tracing::warn!(%tenant, %err, "engine deletions done but not recorded; they will be repeated")
                }
            }
        }
        deleted
    }
}

/// Engine deletions one pass takes (one tenant's go in one call per 4096).
const ENGINE_DELETIONS_PER_PASS: u32 = 1000;

fn oldest(faces: &[FaceEnrollment]) -> Option<DateTime<Utc>> {
    faces.iter().map(|f| f.created_at).min()
}
