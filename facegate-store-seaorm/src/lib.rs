//! SeaORM implementation of FaceGate's [`Store`]: SQLite embedded by default
//! (a file, or in memory for tests), PostgreSQL at scale. Migrations run on
//! connect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), facegate_core::StoreError> {
//! let store = facegate_store_seaorm::SeaOrmStore::connect("sqlite://./facegate.db").await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod convert;
mod deletions;
pub mod entity;
mod events;
mod handoffs;
pub mod migration;
mod policy;
mod signals;
mod sync;
#[cfg(feature = "testing")]
pub mod testing;
mod threats;
mod usage;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DbBackend, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use facegate_core::deletion::{DeletionReceipt, Erased};
use facegate_core::domain::{
    ApiKeyRecord, AuditEvent, ConsentRecord, FaceEnrollment, LivenessCompletion, LivenessSession,
    PinSettings, RefreshTokenRecord, Session, SigningKeyRecord, Tenant, TenantSettings,
    TenantStatus, User, UserStatus,
};
use facegate_core::ids::{
    ApiKeyId, ConsentId, LivenessSessionId, ReceiptId, SessionId, TenantId, UserId,
};
use facegate_core::store::{
    AuditStore, ConsentRevocation, ConsentStore, EngineFaceDeletion, FaceChange, FaceChangeKind,
    FailureSubject, LivenessStore, PinLimits, PinTry, RateLimitStore, RefreshRotation,
    ResealedTemplate, SealReceipt, SessionStore, SigningKeyStore, StoreError, TenantStore,
    UserPage, UserStore, UserSummary,
};

use entity::{
    api_key, audit_event, consent, engine_face_deletion, face_change, face_enrollment,
    face_log_head, handoff, liveness_session, rate_window, reference_frame, refresh_token, session,
    sign_in, signing_key, step_up, tenant, token_exchange, user,
};
use events::write_events;
use facegate_core::events::Event;
use migration::Migrator;

/// The advisory lock key migrations hold on PostgreSQL ("fgmigrat").
const MIGRATION_LOCK: i64 = 0x6667_6d69_6772_6174;

/// A FaceGate store on a SeaORM connection.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// Handoff status changes, announced to this process's watchers (and
    /// through PostgreSQL notifications to the other instances').
    handoffs: std::sync::Arc<handoffs::HandoffBus>,
}

impl SeaOrmStore {
    /// Connects and brings the schema up to date.
    ///
    /// `url` is `sqlite://path/to/file.db` (created if missing), `sqlite::memory:`,
    /// or `postgres://user:password@host/database`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(with_sqlite_create_mode(url));
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10));
        if url.starts_with("sqlite:") {
            // SQLite serialises writers anyway. One connection that never idles
            // out also keeps an in-memory database alive for the store's lifetime.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>)
                .map_sqlx_sqlite_opts(|opts| opts.busy_timeout(Duration::from_secs(5)));
        }
        let db = Database::connect(options).await.map_err(store_error)?;
        Self::from_connection(db).await
    }

    /// Uses a connection the host already has, migrating it first. On
    /// PostgreSQL the migration runs under an advisory lock, so instances
    /// starting together on one database migrate it once, one after the
    /// other, instead of racing to create the same tables.
    pub async fn from_connection(db: DatabaseConnection) -> Result<Self, StoreError> {
        if db.get_database_backend() == DbBackend::Postgres {
            // Held until this transaction ends; the migrations run inside it
            // (each in a savepoint), so one connection is enough.
            let lock = db.begin().await.map_err(store_error)?;
            lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await
                .map_err(store_error)?;
            Migrator::up(&lock, None).await.map_err(store_error)?;
            lock.commit().await.map_err(store_error)?;
        } else {
            Migrator::up(&db, None).await.map_err(store_error)?;
        }
        Ok(Self {
            db,
            handoffs: Default::default(),
        })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// [`UserStore::delete_user`], and [`UserStore::delete_idle_user`] with
    /// `idle_since`.
    async fn delete_user_if(
        &self,
        tenant: &TenantId,
        id: &UserId,
        idle_since: Option<DateTime<Utc>>,
        events: &[Event],
        seal: &SealReceipt<'_>,
    ) -> Result<Option<DeletionReceipt>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let Some((erased, faces)) = delete_user_rows(&txn, tenant, id, idle_since)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let receipt = seal(id, erased)?;
        deletions::insert(&txn, tenant, id, &receipt)
            .await
            .map_err(store_error)?;
        log_face_changes(&txn, tenant, faces, Utc::now())
            .await
            .map_err(store_error)?;
        write_events(&txn, events).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(Some(receipt))
    }

    /// Up to `limit` of the tenant's users created before `before` and
    /// matching `also`, oldest first: the batches the retention sweep and
    /// the demo's expiry delete.
    async fn oldest_users(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        also: Condition,
        limit: u64,
    ) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<String> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .filter(user::Column::CreatedAt.lt(before))
            .filter(also)
            .order_by_asc(user::Column::CreatedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(ids.into_iter().map(UserId::from_string).collect())
    }
}

/// `sqlite://facegate.db` should create the file on first start, as a user expects.
fn with_sqlite_create_mode(url: &str) -> String {
    let is_file = url.starts_with("sqlite:") && !url.contains(":memory:");
    if is_file && !url.contains("mode=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_owned()
    }
}

pub(crate) fn store_error(err: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        return StoreError::Conflict(detail);
    }
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => StoreError::Unavailable(err.to_string()),
        other => StoreError::Backend(other.to_string()),
    }
}

async fn insert_faces(txn: &impl ConnectionTrait, faces: &[FaceEnrollment]) -> Result<(), DbErr> {
    if faces.is_empty() {
        return Ok(());
    }
    face_enrollment::Entity::insert_many(
        faces
            .iter()
            .map(|face| convert::face_row(face).into_active_model()),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// A face row as the face log records it.
struct LoggedFace {
    face_id: String,
    provider_face_id: String,
    removed: bool,
}

impl LoggedFace {
    fn added(face: &FaceEnrollment) -> Self {
        Self {
            face_id: face.id.to_string(),
            provider_face_id: face.provider_face_id.clone(),
            removed: false,
        }
    }

    fn removed(row: &face_enrollment::Model) -> Self {
        Self {
            face_id: row.id.clone(),
            provider_face_id: row.provider_face_id.clone(),
            removed: true,
        }
    }
}

/// Numbers `changes` in the tenant's face log. It must be the caller's
/// last write: the head row it locks is held to commit, so transactions
/// that change one tenant's faces commit in the order of their numbers,
/// and a reader that sees head `n` sees every entry up to `n`.
async fn log_face_changes(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    changes: Vec<LoggedFace>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    if changes.is_empty() {
        return Ok(());
    }
    let count = i64::try_from(changes.len()).unwrap_or(i64::MAX);
    let bump = Query::insert()
        .into_table(face_log_head::Entity)
        .columns([face_log_head::Column::TenantId, face_log_head::Column::Head])
        .values_panic([tenant.as_str().into(), count.into()])
        .on_conflict(
            OnConflict::column(face_log_head::Column::TenantId)
                .value(
                    face_log_head::Column::Head,
                    Expr::col((face_log_head::Entity, face_log_head::Column::Head)).add(count),
                )
                .to_owned(),
        )
        .returning_col(face_log_head::Column::Head)
        .to_owned();
    let head: i64 = txn
        .query_one(&bump)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("face log head".into()))?
        .try_get("", "head")?;
    let first = head - count + 1;
    face_change::Entity::insert_many(changes.into_iter().zip(first..).map(|(change, seq)| {
        face_change::Model {
            tenant_id: tenant.to_string(),
            seq,
            face_id: change.face_id,
            provider_face_id: change.provider_face_id,
            removed: change.removed,
            changed_at: at,
        }
        .into_active_model()
    }))
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Queues, for the engine, the removed faces it holds itself (rows without
/// a template), inside the caller's transaction. A face queued twice (two
/// removals racing) is one entry.
async fn queue_engine_deletions(
    txn: &impl ConnectionTrait,
    removed: &[face_enrollment::Model],
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let held: Vec<_> = removed
        .iter()
        .filter(|row| row.template.is_none())
        .map(|row| engine_face_deletion::Model {
            tenant_id: row.tenant_id.clone(),
            provider: row.provider.clone(),
            provider_face_id: row.provider_face_id.clone(),
            queued_at: at,
        })
        .collect();
    let queued = held.len() as u64;
    insert_engine_deletions(txn, held).await?;
    Ok(queued)
}

/// Inserts queued engine deletions; one already there stays as it is.
async fn insert_engine_deletions(
    txn: &impl ConnectionTrait,
    rows: Vec<engine_face_deletion::Model>,
) -> Result<(), DbErr> {
    let held: Vec<_> = rows
        .into_iter()
        .map(IntoActiveModel::into_active_model)
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    engine_face_deletion::Entity::insert_many(held)
        .on_conflict(
            OnConflict::columns([
                engine_face_deletion::Column::TenantId,
                engine_face_deletion::Column::Provider,
                engine_face_deletion::Column::ProviderFaceId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Locks a user's row for the rest of the caller's transaction (a write
/// that changes nothing), so writes to one user's faces take turns. PIN
/// reservations lock it before the liveness session: the same order, so
/// the two cannot deadlock.
async fn lock_user(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &UserId,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::Status, Expr::col(user::Column::Status))
        .filter(user::Column::TenantId.eq(tenant.as_str()))
        .filter(user::Column::Id.eq(id.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes the tenant's row lock for the rest of the transaction (a no-op
/// update), so counts that must hold per tenant are taken one at a time.
pub(crate) async fn lock_tenant(txn: &impl ConnectionTrait, id: &TenantId) -> Result<(), DbErr> {
    tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::col(tenant::Column::Status))
        .filter(tenant::Column::Id.eq(id.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

async fn user_face_rows(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &UserId,
) -> Result<Vec<face_enrollment::Model>, DbErr> {
    face_enrollment::Entity::find()
        .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
        .filter(face_enrollment::Column::UserId.eq(id.as_str()))
        .all(txn)
        .await
}

/// Spends the refresh token `presented` of `session` if nobody else has,
/// inside the caller's transaction: two uses of one token are a reuse,
/// whichever commits second, and a reuse revokes the session (someone else
/// holds a copy). Returns whether this call spent it.
async fn spend_or_revoke(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    presented: &str,
    session: &SessionId,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::SpentAt, Expr::value(at))
        .filter(refresh_token::Column::Hash.eq(presented))
        .filter(refresh_token::Column::SpentAt.is_null())
        .exec(txn)
        .await
        .map_err(store_error)?;
    if spent.rows_affected > 0 {
        return Ok(true);
    }
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(at))
        .filter(session::Column::TenantId.eq(tenant.as_str()))
        .filter(session::Column::Id.eq(session.as_str()))
        .filter(session::Column::RevokedAt.is_null())
        .exec(txn)
        .await
        .map_err(store_error)?;
    Ok(false)
}

/// Deletes a user's faces, sessions and row and unlinks their consent
/// records, inside the caller's transaction. Returns what was removed (for
/// the receipt) and the faces (for the caller to log last), or `None` when
/// the tenant has no such user (and nothing changed).
/// Deletes the user's rows; `None` when absent, or (with `idle_since`) no
/// longer idle since then, judged under the user's row lock: a login or a
/// new face racing the retention sweep keeps the user.
async fn delete_user_rows(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &UserId,
    idle_since: Option<DateTime<Utc>>,
) -> Result<Option<(Erased, Vec<LoggedFace>)>, DbErr> {
    lock_user(txn, tenant, id).await?;
    let Some(row) = user::Entity::find_by_id(id.as_str())
        .filter(user::Column::TenantId.eq(tenant.as_str()))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    if let Some(since) = idle_since {
        let seen = row.last_seen_at.is_some_and(|at| at >= since);
        let new_face = face_enrollment::Entity::find()
            .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
            .filter(face_enrollment::Column::UserId.eq(id.as_str()))
            .filter(face_enrollment::Column::CreatedAt.gte(since))
            .count(txn)
            .await?
            > 0;
        if row.created_at >= since || seen || new_face {
            return Ok(None);
        }
    }
    let faces = user_face_rows(txn, tenant, id).await?;
    let sessions_of_user = Query::select()
        .column(session::Column::Id)
        .from(session::Entity)
        .and_where(session::Column::TenantId.eq(tenant.as_str()))
        .and_where(session::Column::UserId.eq(id.as_str()))
        .to_owned();
    // Their sessions' refresh tokens go by cascade; counted first.
    let refresh_tokens = refresh_token::Entity::find()
        .filter(refresh_token::Column::TenantId.eq(tenant.as_str()))
        .filter(refresh_token::Column::SessionId.in_subquery(sessions_of_user))
        .count(txn)
        .await?;
    let sessions = session::Entity::delete_many()
        .filter(session::Column::TenantId.eq(tenant.as_str()))
        .filter(session::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?
        .rows_affected;
    face_enrollment::Entity::delete_many()
        .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
        .filter(face_enrollment::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    // The perceptual hashes of their ceremonies' frames.
    entity::frame_sighting::Entity::delete_many()
        .filter(entity::frame_sighting::Column::TenantId.eq(tenant.as_str()))
        .filter(entity::frame_sighting::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    // Their offline verifications (frame hashes and confidences).
    entity::sync_record::Entity::delete_many()
        .filter(entity::sync_record::Column::TenantId.eq(tenant.as_str()))
        .filter(entity::sync_record::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    // Where and on what they signed in: theirs, gone with them.
    sign_in::Entity::delete_many()
        .filter(sign_in::Column::TenantId.eq(tenant.as_str()))
        .filter(sign_in::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    step_up::Entity::delete_many()
        .filter(step_up::Column::TenantId.eq(tenant.as_str()))
        .filter(step_up::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    // A handoff's answer names the user and shows their profile.
    handoff::Entity::delete_many()
        .filter(handoff::Column::TenantId.eq(tenant.as_str()))
        .filter(handoff::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    consent::Entity::update_many()
        .col_expr(consent::Column::UserId, Expr::value(None::<String>))
        .filter(consent::Column::TenantId.eq(tenant.as_str()))
        .filter(consent::Column::UserId.eq(id.as_str()))
        .exec(txn)
        .await?;
    // Their face as it waited in a ceremony (used or not).
    let liveness_images = liveness_session::Entity::update_many()
        .col_expr(
            liveness_session::Column::ReferenceImage,
            Expr::value(None::<String>),
        )
        .col_expr(
            liveness_session::Column::ReferenceProbe,
            Expr::value(None::<Vec<u8>>),
        )
        .filter(liveness_session::Column::TenantId.eq(tenant.as_str()))
        .filter(liveness_session::Column::UserId.eq(id.as_str()))
        .filter(
            Condition::any()
                .add(liveness_session::Column::ReferenceImage.is_not_null())
                .add(liveness_session::Column::ReferenceProbe.is_not_null()),
        )
        .exec(txn)
        .await?
        .rows_affected;
    user::Entity::delete_many()
        .filter(user::Column::TenantId.eq(tenant.as_str()))
        .filter(user::Column::Id.eq(id.as_str()))
        .exec(txn)
        .await?;
    let provider_faces = queue_engine_deletions(txn, &faces, Utc::now()).await?;
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    let erased = Erased {
        faces: count(faces.len() as u64),
        liveness_images: count(liveness_images),
        sessions: count(sessions),
        refresh_tokens: count(refresh_tokens),
        provider_faces: count(provider_faces),
    };
    Ok(Some((
        erased,
        faces.iter().map(LoggedFace::removed).collect(),
    )))
}

#[async_trait]
impl TenantStore for SeaOrmStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await.map_err(store_error)
    }

    async fn insert_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        tenant::Entity::insert(convert::tenant_row(tenant).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let row = tenant::Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await
            .map_err(store_error)?;
        row.map(convert::tenant).transpose()
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        tenant::Entity::find()
            .order_by_asc(tenant::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(convert::tenant)
            .collect()
    }

    async fn set_tenant_status(
        &self,
        id: &TenantId,
        status: TenantStatus,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let updated = tenant::Entity::update_many()
            .col_expr(
                tenant::Column::Status,
                Expr::value(convert::tenant_status_str(status)),
            )
            .filter(tenant::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if updated.rows_affected == 0 {
            return Ok(false);
        }
        if status == TenantStatus::Suspended {
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(at))
                .filter(session::Column::TenantId.eq(id.as_str()))
                .filter(session::Column::RevokedAt.is_null())
                .exec(&txn)
                .await
                .map_err(store_error)?;
        }
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn set_tenant_settings(
        &self,
        id: &TenantId,
        settings: &TenantSettings,
    ) -> Result<bool, StoreError> {
        let updated = tenant::Entity::update_many()
            .col_expr(
                tenant::Column::Settings,
                Expr::value(convert::tenant_settings_json(settings)),
            )
            .filter(tenant::Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(updated.rows_affected > 0)
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        api_key::Entity::insert(convert::api_key_row(key).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        api_key::Entity::find()
            .filter(api_key::Column::Hash.eq(hash.to_vec()))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(convert::api_key)
            .transpose()
    }

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant.as_str()))
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(convert::api_key)
            .collect()
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(at))
            .filter(api_key::Column::TenantId.eq(tenant.as_str()))
            .filter(api_key::Column::Id.eq(id.as_str()))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(updated.rows_affected > 0)
    }
}

#[async_trait]
impl UserStore for SeaOrmStore {
    async fn insert_user(
        &self,
        user: &User,
        faces: &[FaceEnrollment],
        consent: Option<&ConsentId>,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        user::Entity::insert(convert::user_row(user).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(|err| match err.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(detail))
                    if detail.contains("external_id") =>
                {
                    StoreError::Duplicate("external_id")
                }
                _ => store_error(err),
            })?;
        insert_faces(&txn, faces).await.map_err(store_error)?;
        if let Some(consent) = consent {
            let linked = consent::Entity::update_many()
                .col_expr(consent::Column::UserId, Expr::value(user.id.as_str()))
                .filter(consent::Column::TenantId.eq(user.tenant_id.as_str()))
                .filter(consent::Column::Id.eq(consent.as_str()))
                .filter(consent::Column::RevokedAt.is_null())
                .filter(consent::Column::UserId.is_null())
                .exec(&txn)
                .await
                .map_err(store_error)?;
            if linked.rows_affected == 0 {
                // Dropping the transaction rolls the user back.
                return Err(StoreError::Conflict(format!(
                    "consent {consent} is revoked or already linked to a user"
                )));
            }
        }
        let logged = faces.iter().map(LoggedFace::added).collect();
        log_face_changes(&txn, &user.tenant_id, logged, user.created_at)
            .await
            .map_err(store_error)?;
        write_events(&txn, events).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }

    async fn user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>, StoreError> {
        let row = user::Entity::find_by_id(id.as_str())
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        row.map(convert::user).transpose()
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        page: &UserPage,
    ) -> Result<Vec<UserSummary>, StoreError> {
        let mut query = user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .order_by_asc(user::Column::Id)
            .limit(u64::from(page.limit));
        if let Some(after) = &page.after {
            query = query.filter(user::Column::Id.gt(after.as_str()));
        }
        let rows = query.all(&self.db).await.map_err(store_error)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }

        let counts: Vec<(String, i64)> = face_enrollment::Entity::find()
            .select_only()
            .column(face_enrollment::Column::UserId)
            .column_as(Expr::col(face_enrollment::Column::Id).count(), "face_count")
            .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
            .filter(face_enrollment::Column::UserId.is_in(rows.iter().map(|row| row.id.clone())))
            .group_by(face_enrollment::Column::UserId)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let count_of = |id: &str| {
            counts
                .iter()
                .find(|(user_id, _)| user_id == id)
                .map_or(0, |(_, count)| *count as u32)
        };

        rows.into_iter()
            .map(|row| {
                let face_count = count_of(&row.id);
                Ok(UserSummary {
                    user: convert::user(row)?,
                    face_count,
                })
            })
            .collect()
    }

    async fn set_user_status(
        &self,
        tenant: &TenantId,
        id: &UserId,
        status: UserStatus,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let updated = user::Entity::update_many()
            .col_expr(user::Column::Status, Expr::value(status.as_str()))
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .filter(user::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        if status != UserStatus::Active {
            session::Entity::update_many()
                .col_expr(session::Column::RevokedAt, Expr::value(at))
                .filter(session::Column::TenantId.eq(tenant.as_str()))
                .filter(session::Column::UserId.eq(id.as_str()))
                .filter(session::Column::RevokedAt.is_null())
                .exec(&txn)
                .await
                .map_err(store_error)?;
        }
        txn.commit().await.map_err(store_error)?;
        self.user(tenant, id).await
    }

    async fn faces_of_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Vec<FaceEnrollment>, StoreError> {
        face_enrollment::Entity::find()
            .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
            .filter(face_enrollment::Column::UserId.eq(id.as_str()))
            .order_by_asc(face_enrollment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(convert::face)
            .collect()
    }

    async fn replace_faces(
        &self,
        tenant: &TenantId,
        user: &UserId,
        faces: &[FaceEnrollment],
        events: &[Event],
    ) -> Result<Option<Vec<FaceEnrollment>>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        // Locked, so two replacements take turns instead of both keeping
        // their new faces.
        lock_user(&txn, tenant, user).await.map_err(store_error)?;
        let exists = user::Entity::find_by_id(user.as_str())
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let old = user_face_rows(&txn, tenant, user)
            .await
            .map_err(store_error)?;
        face_enrollment::Entity::delete_many()
            .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
            .filter(face_enrollment::Column::UserId.eq(user.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        insert_faces(&txn, faces).await.map_err(store_error)?;
        let at = faces.first().map_or_else(Utc::now, |face| face.created_at);
        queue_engine_deletions(&txn, &old, at)
            .await
            .map_err(store_error)?;
        let logged = old
            .iter()
            .map(LoggedFace::removed)
            .chain(faces.iter().map(LoggedFace::added))
            .collect();
        log_face_changes(&txn, tenant, logged, at)
            .await
            .map_err(store_error)?;
        write_events(&txn, events).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        old.into_iter()
            .map(convert::face)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn faces_of_tenant(&self, tenant: &TenantId) -> Result<Vec<FaceEnrollment>, StoreError> {
        face_enrollment::Entity::find()
            .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
            .order_by_asc(face_enrollment::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(convert::face)
            .collect()
    }

    async fn reseal_face_templates(
        &self,
        tenant: &TenantId,
        templates: &[ResealedTemplate],
    ) -> Result<u64, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let mut changed = 0;
        for template in templates {
            changed += face_enrollment::Entity::update_many()
                .col_expr(
                    face_enrollment::Column::Template,
                    Expr::value(template.sealed.clone()),
                )
                .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
                .filter(face_enrollment::Column::Id.eq(template.face.as_str()))
                .filter(face_enrollment::Column::Template.eq(template.stored.clone()))
                .exec(&txn)
                .await
                .map_err(store_error)?
                .rows_affected;
        }
        txn.commit().await.map_err(store_error)?;
        Ok(changed)
    }

    async fn face_log_head(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let head = face_log_head::Entity::find_by_id(tenant.as_str())
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map_or(0, |row| row.head);
        Ok(u64::try_from(head).unwrap_or(0))
    }

    async fn face_changes(
        &self,
        tenant: &TenantId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<FaceChange>, StoreError> {
        let rows = face_change::Entity::find()
            .filter(face_change::Column::TenantId.eq(tenant.as_str()))
            .filter(face_change::Column::Seq.gt(i64::try_from(after).unwrap_or(i64::MAX)))
            .order_by_asc(face_change::Column::Seq)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let added = rows
            .iter()
            .filter(|row| !row.removed)
            .map(|row| row.face_id.clone());
        let mut stored: std::collections::HashMap<String, face_enrollment::Model> =
            face_enrollment::Entity::find()
                .filter(face_enrollment::Column::TenantId.eq(tenant.as_str()))
                .filter(face_enrollment::Column::Id.is_in(added))
                .all(&self.db)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|row| (row.id.clone(), row))
                .collect();
        rows.into_iter()
            .map(|row| {
                // An added face whose row is gone again reads as removed:
                // its removal is a later entry, and either way it is not there.
                let kind = match stored.remove(&row.face_id).filter(|_| !row.removed) {
                    Some(face) => FaceChangeKind::Added(convert::face(face)?),
                    None => FaceChangeKind::Removed {
                        provider_face_id: row.provider_face_id,
                    },
                };
                Ok(FaceChange {
                    seq: u64::try_from(row.seq).unwrap_or(0),
                    kind,
                })
            })
            .collect()
    }

    async fn prune_face_changes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(face_change::Entity::delete_many()
            .filter(face_change::Column::ChangedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?
            .rows_affected)
    }

    async fn engine_face_deletions(
        &self,
        tenant: Option<&TenantId>,
        provider: &str,
        limit: u32,
    ) -> Result<Vec<EngineFaceDeletion>, StoreError> {
        let mut query = engine_face_deletion::Entity::find()
            .filter(engine_face_deletion::Column::Provider.eq(provider));
        if let Some(tenant) = tenant {
            query = query.filter(engine_face_deletion::Column::TenantId.eq(tenant.as_str()));
        }
        Ok(query
            .order_by_asc(engine_face_deletion::Column::QueuedAt)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|row| EngineFaceDeletion {
                tenant_id: TenantId::from_string(row.tenant_id),
                provider: row.provider,
                provider_face_id: row.provider_face_id,
                queued_at: row.queued_at,
            })
            .collect())
    }

    async fn queue_engine_face_deletions(
        &self,
        faces: &[EngineFaceDeletion],
    ) -> Result<(), StoreError> {
        let rows = faces
            .iter()
            .map(|face| engine_face_deletion::Model {
                tenant_id: face.tenant_id.as_str().to_owned(),
                provider: face.provider.clone(),
                provider_face_id: face.provider_face_id.clone(),
                queued_at: face.queued_at,
            })
            .collect();
        insert_engine_deletions(&self.db, rows)
            .await
            .map_err(store_error)
    }

    async fn finish_engine_face_deletions(
        &self,
        done: &[EngineFaceDeletion],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        for deletion in done {
            engine_face_deletion::Entity::delete_many()
                .filter(engine_face_deletion::Column::TenantId.eq(deletion.tenant_id.as_str()))
                .filter(engine_face_deletion::Column::Provider.eq(deletion.provider.as_str()))
                .filter(
                    engine_face_deletion::Column::ProviderFaceId
                        .eq(deletion.provider_face_id.as_str()),
                )
                .exec(&txn)
                .await
                .map_err(store_error)?;
        }
        txn.commit().await.map_err(store_error)
    }

    async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        events: &[Event],
        seal: &SealReceipt<'_>,
    ) -> Result<Option<DeletionReceipt>, StoreError> {
        self.delete_user_if(tenant, id, None, events, seal).await
    }

    async fn delete_idle_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        idle_since: DateTime<Utc>,
        events: &[Event],
        seal: &SealReceipt<'_>,
    ) -> Result<Option<DeletionReceipt>, StoreError> {
        self.delete_user_if(tenant, id, Some(idle_since), events, seal)
            .await
    }

    async fn deletion_receipt(
        &self,
        tenant: &TenantId,
        id: &ReceiptId,
    ) -> Result<Option<DeletionReceipt>, StoreError> {
        deletions::find(&self.db, tenant, id)
            .await
            .map_err(store_error)
    }

    async fn pin_taken(&self, tenant: &TenantId, pin_hash: &str) -> Result<bool, StoreError> {
        let found = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant.as_str()))
            .filter(user::Column::PinHash.eq(pin_hash))
            .into_tuple::<String>()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(found.is_some())
    }

    async fn users_created_before(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<UserId>, StoreError> {
        self.oldest_users(tenant, before, Condition::all(), limit)
            .await
    }

    async fn users_idle_since(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<UserId>, StoreError> {
        let recent_faces = Query::select()
            .column(face_enrollment::Column::UserId)
            .from(face_enrollment::Entity)
            .and_where(face_enrollment::Column::TenantId.eq(tenant.as_str()))
            .and_where(face_enrollment::Column::CreatedAt.gte(before))
            .to_owned();
        let idle = Condition::all()
            .add(
                Condition::any()
                    .add(user::Column::LastSeenAt.is_null())
                    .add(user::Column::LastSeenAt.lt(before)),
            )
            .add(user::Column::Id.not_in_subquery(recent_faces));
        self.oldest_users(tenant, before, idle, limit).await
    }

    async fn delete_ceremonies_before(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let consents = consent::Entity::delete_many()
            .filter(consent::Column::TenantId.eq(tenant.as_str()))
            .filter(consent::Column::ConsentedAt.lt(before))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let sessions = liveness_session::Entity::delete_many()
            .filter(liveness_session::Column::TenantId.eq(tenant.as_str()))
            .filter(liveness_session::Column::CreatedAt.lt(before))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let receipts = deletions::delete_before(&txn, tenant, before)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(consents.rows_affected + sessions.rows_affected + receipts)
    }
}

#[async_trait]
impl ConsentStore for SeaOrmStore {
    async fn insert_consent(&self, record: &ConsentRecord) -> Result<(), StoreError> {
        consent::Entity::insert(convert::consent_row(record).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn consent(
        &self,
        tenant: &TenantId,
        id: &ConsentId,
    ) -> Result<Option<ConsentRecord>, StoreError> {
        let row = consent::Entity::find_by_id(id.as_str())
            .filter(consent::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(convert::consent))
    }

    async fn revoke_consent(
        &self,
        tenant: &TenantId,
        id: &ConsentId,
        at: DateTime<Utc>,
        events: &(dyn for<'u> Fn(Option<&'u UserId>) -> Vec<Event> + Send + Sync),
        seal: &SealReceipt<'_>,
    ) -> Result<Option<ConsentRevocation>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        // Locked before it is read: an enrollment linking it either commits
        // first (and its user is read below, and deleted) or waits and then
        // finds it revoked.
        consent::Entity::update_many()
            .col_expr(consent::Column::Id, Expr::col(consent::Column::Id))
            .filter(consent::Column::TenantId.eq(tenant.as_str()))
            .filter(consent::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let Some(row) = consent::Entity::find_by_id(id.as_str())
            .filter(consent::Column::TenantId.eq(tenant.as_str()))
            .one(&txn)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        if row.revoked_at.is_some() {
            return Ok(Some(ConsentRevocation {
                record: convert::consent(row),
                deletion: None,
            }));
        }
        let linked = row.user_id.clone().map(UserId::from_string);
        let deleted = match &linked {
            Some(user_id) => delete_user_rows(&txn, tenant, user_id, None)
                .await
                .map_err(store_error)?,
            None => None,
        };
        let (deletion, faces) = match (deleted, &linked) {
            (Some((erased, faces)), Some(user_id)) => {
                let receipt = seal(user_id, erased)?;
                deletions::insert(&txn, tenant, user_id, &receipt)
                    .await
                    .map_err(store_error)?;
                (Some(receipt), faces)
            }
            _ => (None, Vec::new()),
        };
        let reported = events(linked.as_ref().filter(|_| deletion.is_some()));
        let mut revoked = row.into_active_model();
        revoked.revoked_at = Set(Some(at));
        revoked.user_id = Set(None);
        let revoked = consent::Entity::update(revoked)
            .exec(&txn)
            .await
            .map_err(store_error)?;
        log_face_changes(&txn, tenant, faces, at)
            .await
            .map_err(store_error)?;
        write_events(&txn, &reported).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(Some(ConsentRevocation {
            record: convert::consent(revoked),
            deletion,
        }))
    }
}

#[async_trait]
impl LivenessStore for SeaOrmStore {
    async fn insert_liveness_session(&self, session: &LivenessSession) -> Result<(), StoreError> {
        liveness_session::Entity::insert(
            convert::liveness_session_row(session).into_active_model(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn liveness_session(
        &self,
        tenant: &TenantId,
        id: &LivenessSessionId,
    ) -> Result<Option<LivenessSession>, StoreError> {
        liveness_session::Entity::find_by_id(id.as_str())
            .filter(liveness_session::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(convert::liveness_session)
            .transpose()
    }

    async fn complete_liveness_session(
        &self,
        tenant: &TenantId,
        id: &LivenessSessionId,
        completion: &LivenessCompletion,
    ) -> Result<bool, StoreError> {
        use liveness_session::Column;
        let updated = liveness_session::Entity::update_many()
            .col_expr(Column::CompletedAt, Expr::value(completion.completed_at))
            .col_expr(Column::IsLive, Expr::value(completion.outcome.is_live))
            .col_expr(
                Column::Confidence,
                Expr::value(completion.outcome.confidence),
            )
            .col_expr(
                Column::ReferenceImage,
                Expr::value(completion.reference_image.clone()),
            )
            .col_expr(
                Column::ReferenceProbe,
                Expr::value(completion.reference_probe.clone()),
            )
            .col_expr(
                Column::UserId,
                Expr::value(completion.user_id.as_ref().map(ToString::to_string)),
            )
            .filter(Column::TenantId.eq(tenant.as_str()))
            .filter(Column::Id.eq(id.as_str()))
            .filter(Column::CompletedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(updated.rows_affected == 1)
    }

    async fn consume_liveness_session(
        &self,
        tenant: &TenantId,
        id: &LivenessSessionId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use liveness_session::Column;
        let updated = liveness_session::Entity::update_many()
            .col_expr(Column::ConsumedAt, Expr::value(at))
            .col_expr(Column::ReferenceImage, Expr::value(None::<String>))
            .col_expr(Column::ReferenceProbe, Expr::value(None::<Vec<u8>>))
            .filter(Column::TenantId.eq(tenant.as_str()))
            .filter(Column::Id.eq(id.as_str()))
            .filter(Column::CompletedAt.is_not_null())
            .filter(Column::ConsumedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(updated.rows_affected == 1)
    }

    async fn reserve_pin_try(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        users: &[UserId],
        limits: PinLimits,
        now: DateTime<Utc>,
    ) -> Result<PinTry, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        // Each user's window: a fresh one (first try, or the last one is
        // over) starts at 1; otherwise one more, but only below the limit.
        // Users in id order, so two requests lock them in the same order.
        let mut users: Vec<&UserId> = users.iter().collect();
        users.sort();
        users.dedup();
        let cutoff = now - limits.user_window;
        let window_over = || {
            Expr::col(user::Column::PinWindowStartedAt)
                .is_null()
                .or(Expr::col(user::Column::PinWindowStartedAt).lt(cutoff))
        };
        for user in users {
            let counted = user::Entity::update_many()
                .col_expr(
                    user::Column::PinWrong,
                    Expr::case(window_over(), 1)
                        .finally(Expr::col(user::Column::PinWrong).add(1))
                        .into(),
                )
                .col_expr(
                    user::Column::PinWindowStartedAt,
                    Expr::case(window_over(), Expr::value(now))
                        .finally(Expr::col(user::Column::PinWindowStartedAt))
                        .into(),
                )
                .filter(user::Column::TenantId.eq(tenant.as_str()))
                .filter(user::Column::Id.eq(user.as_str()))
                .filter(
                    Condition::any()
                        .add(window_over())
                        .add(user::Column::PinWrong.lt(limits.user_max)),
                )
                .exec(&txn)
                .await
                .map_err(store_error)?;
            if counted.rows_affected == 0 {
                let started: Option<Option<DateTime<Utc>>> =
                    user::Entity::find_by_id(user.as_str())
                        .select_only()
                        .column(user::Column::PinWindowStartedAt)
                        .filter(user::Column::TenantId.eq(tenant.as_str()))
                        .into_tuple()
                        .one(&txn)
                        .await
                        .map_err(store_error)?;
                // Dropping the transaction gives the other users' tries back.
                return Ok(match started.flatten() {
                    Some(window_started_at) => PinTry::UserLocked { window_started_at },
                    // No such user: nothing to try a PIN against.
                    None => PinTry::SessionSpent,
                });
            }
        }
        use liveness_session::Column;
        let reserved = liveness_session::Entity::update_many()
            .col_expr(Column::PinFailures, Expr::col(Column::PinFailures).add(1))
            .filter(Column::TenantId.eq(tenant.as_str()))
            .filter(Column::Id.eq(session.as_str()))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::PinFailures.lt(limits.session_max))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if reserved.rows_affected == 0 {
            return Ok(PinTry::SessionSpent);
        }
        let tries: Option<i32> = liveness_session::Entity::find_by_id(session.as_str())
            .select_only()
            .column(Column::PinFailures)
            .into_tuple()
            .one(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(PinTry::Reserved {
            session_tries: tries.map_or(0, |n| u32::try_from(n).unwrap_or(0)),
        })
    }

    async fn refund_pin_try(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        users: &[UserId],
        reserved_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        fn less(
            column: impl sea_orm::sea_query::IntoColumnRef + Copy,
        ) -> sea_orm::sea_query::CaseStatement {
            Expr::case(Expr::col(column).gt(0), Expr::col(column).sub(1)).finally(0)
        }
        let mut users: Vec<&UserId> = users.iter().collect();
        users.sort();
        users.dedup();
        let txn = self.db.begin().await.map_err(store_error)?;
        for user in users {
            user::Entity::update_many()
                .col_expr(user::Column::PinWrong, less(user::Column::PinWrong).into())
                .filter(user::Column::TenantId.eq(tenant.as_str()))
                .filter(user::Column::Id.eq(user.as_str()))
                .filter(user::Column::PinWindowStartedAt.lte(reserved_at))
                .exec(&txn)
                .await
                .map_err(store_error)?;
        }
        liveness_session::Entity::update_many()
            .col_expr(
                liveness_session::Column::PinFailures,
                less(liveness_session::Column::PinFailures).into(),
            )
            .filter(liveness_session::Column::TenantId.eq(tenant.as_str()))
            .filter(liveness_session::Column::Id.eq(session.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }

    async fn count_probe(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        max: u32,
    ) -> Result<bool, StoreError> {
        use liveness_session::Column;
        let counted = liveness_session::Entity::update_many()
            .col_expr(Column::Probes, Expr::col(Column::Probes).add(1))
            .filter(Column::TenantId.eq(tenant.as_str()))
            .filter(Column::Id.eq(session.as_str()))
            .filter(Column::ConsumedAt.is_null())
            .filter(Column::Probes.lt(max))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(counted.rows_affected == 1)
    }

    async fn record_reference_frame(
        &self,
        tenant: &TenantId,
        session: &LivenessSessionId,
        digest: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let digest = hex::encode(digest);
        let row = reference_frame::Model {
            tenant_id: tenant.to_string(),
            digest: digest.clone(),
            liveness_session_id: session.to_string(),
            seen_at: at,
        };
        match reference_frame::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)
        {
            Ok(_) => Ok(true),
            // The same session's upload sent twice is the same ceremony.
            Err(StoreError::Conflict(_)) => Ok(reference_frame::Entity::find_by_id((
                tenant.to_string(),
                digest,
            ))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .is_some_and(|seen| seen.liveness_session_id == session.as_str())),
            Err(err) => Err(err),
        }
    }

    async fn prune_reference_frames(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = reference_frame::Entity::delete_many()
            .filter(reference_frame::Column::SeenAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }

    async fn liveness_failures(
        &self,
        tenant: &TenantId,
        subject: FailureSubject<'_>,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        use liveness_session::Column;
        let query = liveness_session::Entity::find()
            .select_only()
            .column(Column::CompletedAt)
            .filter(Column::TenantId.eq(tenant.as_str()))
            .filter(
                Condition::any()
                    .add(Column::IsLive.eq(false))
                    .add(Column::PinFailures.gte(PinSettings::MAX_TRIES)),
            )
            .filter(Column::CompletedAt.gte(since));
        let query = match subject {
            FailureSubject::Device(device) => query.filter(Column::DeviceId.eq(device)),
            FailureSubject::User(user) => query.filter(Column::UserId.eq(user.as_str())),
        };
        let times: Vec<Option<DateTime<Utc>>> = query
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(times.into_iter().flatten().collect())
    }

    async fn prune_liveness_sessions(
        &self,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        use liveness_session::Column;
        liveness_session::Entity::update_many()
            .col_expr(Column::ReferenceImage, Expr::value(None::<String>))
            .col_expr(Column::ReferenceProbe, Expr::value(None::<Vec<u8>>))
            .filter(Column::ExpiresAt.lte(now))
            .filter(Column::ReferenceImage.is_not_null())
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        let deleted = liveness_session::Entity::delete_many()
            .filter(Column::ExpiresAt.lt(forget_before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }
}

#[async_trait]
impl SessionStore for SeaOrmStore {
    async fn insert_session(
        &self,
        session: &Session,
        refresh_token: &RefreshTokenRecord,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        session::Entity::insert(convert::session_row(session).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        refresh_token::Entity::insert(
            convert::refresh_token_row(refresh_token).into_active_model(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        write_events(&txn, events).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }

    async fn session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> Result<Option<Session>, StoreError> {
        let row = session::Entity::find_by_id(id.as_str())
            .filter(session::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map(convert::session))
    }

    async fn revoke_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        at: DateTime<Utc>,
        events: &[Event],
    ) -> Result<Option<Session>, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let revoked = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(at))
            .filter(session::Column::TenantId.eq(tenant.as_str()))
            .filter(session::Column::Id.eq(id.as_str()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if revoked.rows_affected > 0 {
            write_events(&txn, events).await.map_err(store_error)?;
        }
        txn.commit().await.map_err(store_error)?;
        self.session(tenant, id).await
    }

    async fn refresh_token_session(
        &self,
        tenant: &TenantId,
        presented: &str,
    ) -> Result<Option<Session>, StoreError> {
        let Some(row) = refresh_token::Entity::find_by_id(presented)
            .filter(refresh_token::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        self.session(tenant, &SessionId::from_string(row.session_id))
            .await
    }

    async fn rotate_refresh_token(
        &self,
        tenant: &TenantId,
        presented: &str,
        next_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<RefreshRotation, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let Some(row) = refresh_token::Entity::find_by_id(presented)
            .filter(refresh_token::Column::TenantId.eq(tenant.as_str()))
            .one(&txn)
            .await
            .map_err(store_error)?
        else {
            return Ok(RefreshRotation::Unknown);
        };
        let session_id = SessionId::from_string(&row.session_id);
        if !spend_or_revoke(&txn, tenant, presented, &session_id, at).await? {
            txn.commit().await.map_err(store_error)?;
            return Ok(RefreshRotation::Reused(session_id));
        }
        let next = RefreshTokenRecord {
            hash: next_hash.to_owned(),
            tenant_id: tenant.clone(),
            session_id: session_id.clone(),
            created_at: at,
            spent_at: None,
        };
        refresh_token::Entity::insert(convert::refresh_token_row(&next).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        let session = session::Entity::find_by_id(session_id.as_str())
            .one(&txn)
            .await
            .map_err(store_error)?
            .map(convert::session)
            .ok_or_else(|| StoreError::Backend("refresh token without a session".into()))?;
        txn.commit().await.map_err(store_error)?;
        Ok(RefreshRotation::Rotated(session))
    }

    async fn reverify_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        presented: &str,
        confidence: f32,
        at: DateTime<Utc>,
        next_refresh: &RefreshTokenRecord,
    ) -> Result<RefreshRotation, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let owned = refresh_token::Entity::find_by_id(presented)
            .filter(refresh_token::Column::TenantId.eq(tenant.as_str()))
            .filter(refresh_token::Column::SessionId.eq(id.as_str()))
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some();
        let live = session::Entity::find_by_id(id.as_str())
            .filter(session::Column::TenantId.eq(tenant.as_str()))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(at))
            .one(&txn)
            .await
            .map_err(store_error)?
            .is_some();
        if !owned || !live {
            return Ok(RefreshRotation::Unknown);
        }
        if !spend_or_revoke(&txn, tenant, presented, id, at).await? {
            txn.commit().await.map_err(store_error)?;
            return Ok(RefreshRotation::Reused(id.clone()));
        }
        session::Entity::update_many()
            .col_expr(session::Column::Confidence, Expr::value(confidence))
            .col_expr(session::Column::LastVerifiedAt, Expr::value(at))
            .filter(session::Column::TenantId.eq(tenant.as_str()))
            .filter(session::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        refresh_token::Entity::insert(convert::refresh_token_row(next_refresh).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        let session = session::Entity::find_by_id(id.as_str())
            .one(&txn)
            .await
            .map_err(store_error)?
            .map(convert::session)
            .ok_or_else(|| StoreError::Backend("session vanished".into()))?;
        txn.commit().await.map_err(store_error)?;
        Ok(RefreshRotation::Rotated(session))
    }

    async fn record_token_exchange(
        &self,
        tenant: &TenantId,
        jti: &str,
        session: &SessionId,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Rows of expired tokens are of no use: the token cannot verify.
        token_exchange::Entity::delete_many()
            .filter(token_exchange::Column::ExpiresAt.lt(at))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        let row = token_exchange::Model {
            jti: jti.to_owned(),
            tenant_id: tenant.to_string(),
            session_id: session.to_string(),
            exchanged_at: at,
            expires_at,
        };
        match token_exchange::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)
        {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

#[async_trait]
impl SigningKeyStore for SeaOrmStore {
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        Ok(signing_key::Entity::find()
            .order_by_asc(signing_key::Column::CreatedAt)
            .order_by_asc(signing_key::Column::Kid)
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(convert::signing_key)
            .collect())
    }

    async fn reseal_signing_key(
        &self,
        kid: &str,
        stored: &[u8],
        sealed: &[u8],
    ) -> Result<bool, StoreError> {
        let changed = signing_key::Entity::update_many()
            .col_expr(
                signing_key::Column::PrivateKey,
                Expr::value(sealed.to_vec()),
            )
            .filter(signing_key::Column::Kid.eq(kid))
            .filter(signing_key::Column::PrivateKey.eq(stored.to_vec()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(changed.rows_affected == 1)
    }

    async fn insert_first_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        // The unique index on unretired keys refuses a second one.
        signing_key::Entity::insert(convert::signing_key_row(key).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::RetiredAt, Expr::value(key.created_at))
            .filter(signing_key::Column::RetiredAt.is_null())
            .exec(&txn)
            .await
            .map_err(store_error)?;
        signing_key::Entity::insert(convert::signing_key_row(key).into_active_model())
            .exec_without_returning(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }
}

#[async_trait]
impl RateLimitStore for SeaOrmStore {
    async fn count_request(
        &self,
        bucket: &str,
        window_start: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let count = Query::insert()
            .into_table(rate_window::Entity)
            .columns([
                rate_window::Column::Bucket,
                rate_window::Column::WindowStart,
                rate_window::Column::Count,
            ])
            .values_panic([bucket.into(), window_start.into(), 1.into()])
            .on_conflict(
                OnConflict::columns([
                    rate_window::Column::Bucket,
                    rate_window::Column::WindowStart,
                ])
                .value(
                    rate_window::Column::Count,
                    Expr::col((rate_window::Entity, rate_window::Column::Count)).add(1),
                )
                .to_owned(),
            )
            .returning_col(rate_window::Column::Count)
            .to_owned();
        let count: i32 = self
            .db
            .query_one(&count)
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError::Backend("the request count was not returned".into()))?
            .try_get("", "count")
            .map_err(store_error)?;
        Ok(u32::try_from(count).unwrap_or(0))
    }

    async fn prune_request_windows(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(rate_window::Entity::delete_many()
            .filter(rate_window::Column::WindowStart.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?
            .rows_affected)
    }
}

#[async_trait]
impl AuditStore for SeaOrmStore {
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        audit_event::Entity::insert(convert::audit_row(event).into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        // In batches: a first sweep over years of rows must not hold one
        // long transaction (and its locks) while logins write new events.
        const BATCH: u64 = 10_000;
        let mut total = 0;
        loop {
            let batch = Query::select()
                .column(audit_event::Column::Id)
                .from(audit_event::Entity)
                .and_where(audit_event::Column::CreatedAt.lt(before))
                .limit(BATCH)
                .take();
            let deleted = audit_event::Entity::delete_many()
                .filter(audit_event::Column::Id.in_subquery(batch))
                .exec(&self.db)
                .await
                .map_err(store_error)?
                .rows_affected;
            total += deleted;
            if deleted < BATCH {
                return Ok(total);
            }
        }
    }

    async fn audit_events(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::TenantId.eq(tenant.as_str()))
            .order_by_desc(audit_event::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(convert::audit)
            .collect())
    }
}
