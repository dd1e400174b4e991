//! Users: `GET /v1/users`, `GET /v1/users/:id`, `DELETE /v1/users/:id`,
//! `PATCH /v1/users/:id/status`. Every query is scoped to the caller's tenant:
//! another tenant's user is indistinguishable from one that does not exist.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FaceGate, wire};
use crate::clock;
use crate::domain::{FaceEnrollment, Tenant, User, UserStatus};
use crate::error::{ApiError, FieldIssue};
use crate::ids::{FaceId, UserId};
use crate::store::UserPage;

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

/// A user as shown by the API.
#[derive(Serialize)]
struct UserView {
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
#[derive(Serialize)]
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

#[derive(Deserialize)]
struct ListUsersQuery {
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<UserId>,
}

#[derive(Serialize)]
struct ListUsersResponse {
    users: Vec<UserView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    next_cursor: Option<UserId>,
}

#[derive(Serialize)]
struct UserDetailResponse {
    #[serde(flatten)]
    user: UserView,
    enrollments: Vec<EnrollmentView>,
}

#[derive(Deserialize, Default, Clone, Copy, Serialize, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum DeletionReason {
    #[default]
    UserRequest,
    TenantRequest,
}

#[derive(Deserialize)]
struct DeleteUserQuery {
    #[serde(default)]
    reason: DeletionReason,
}

#[derive(Serialize)]
struct DeleteUserResponse {
    deleted: bool,
    user_id: UserId,
    reason: DeletionReason,
}

#[derive(Deserialize)]
struct SetStatusRequest {
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
        let body = UserDetailResponse {
            user: UserView::new(user, faces.len() as u32),
            enrollments: faces.into_iter().map(EnrollmentView::from).collect(),
        };
        Ok(wire::json_response(StatusCode::OK, &body))
    }

    /// Deletes the user and all face data: first from the face engine (so the
    /// face can no longer match even if the database write then fails), then
    /// the rows, in one transaction.
    pub(super) async fn delete_user(
        &self,
        tenant: &Tenant,
        id: &UserId,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let query: DeleteUserQuery = wire::parse_query(query)?;
        self.tenant_user(tenant, id).await?;
        self.forget_faces(tenant, id).await?;
        if !self.inner.store.delete_user(&tenant.id, id).await? {
            return Err(ApiError::UserNotFound);
        }
        tracing::info!(tenant = %tenant.id, user = %id, reason = ?query.reason, "user deleted");
        Ok(wire::json_response(
            StatusCode::OK,
            &DeleteUserResponse {
                deleted: true,
                user_id: id.clone(),
                reason: query.reason,
            },
        ))
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

    /// Removes a user's faces from the face engine, ahead of deleting the rows.
    pub(super) async fn forget_faces(&self, tenant: &Tenant, id: &UserId) -> Result<(), ApiError> {
        if self.inner.face.is_none() {
            return Ok(());
        }
        // Waits for the tenant's index to be loaded, so a load in progress
        // cannot bring the face back after it is removed.
        let face = self.warm_face_engine(&tenant.id).await?;
        let provider_face_ids: Vec<String> = self
            .inner
            .store
            .faces_of_user(&tenant.id, id)
            .await?
            .into_iter()
            .filter(|enrollment| enrollment.provider == face.name())
            .map(|enrollment| enrollment.provider_face_id)
            .collect();
        if provider_face_ids.is_empty() {
            return Ok(());
        }
        face.delete(&tenant.id, &provider_face_ids)
            .await
            .map_err(|err| ApiError::Internal(format!("face engine could not delete faces: {err}")))
    }
}
