//! Cross-device handoffs, and how their status changes reach every
//! instance: a broadcast channel in this process, fed on PostgreSQL by
//! `LISTEN facegate_handoff` (each change is `pg_notify`'d after it
//! commits). On SQLite, one process owns the database, so the channel is
//! enough.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, IntoActiveModel, QueryFilter,
    Statement,
};
use tokio::sync::broadcast;

use facegate_core::domain::{Handoff, HandoffMode, HandoffOutcome, HandoffStatus};
use facegate_core::ids::{HandoffId, TenantId, UserId};
use facegate_core::store::{HandoffStore, StoreError};

use crate::entity::{handoff, handoff_ceremony};
use crate::{SeaOrmStore, store_error};

/// The PostgreSQL notification channel.
const CHANNEL: &str = "facegate_handoff";
/// Changes a slow watcher may fall behind by before it re-reads anyway.
const BUS_CAPACITY: usize = 1024;

/// This process's channel of handoff changes.
#[derive(Debug)]
pub(crate) struct HandoffBus {
    sender: broadcast::Sender<HandoffId>,
    /// Set once the PostgreSQL listener is started (on first subscription).
    listening: OnceLock<()>,
}

impl Default for HandoffBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BUS_CAPACITY).0,
            listening: OnceLock::new(),
        }
    }
}

/// Forwards PostgreSQL notifications to the bus while the store lives.
async fn listen(pool: sea_orm::sqlx::PgPool, bus: Weak<HandoffBus>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(%err, "handoff listener could not connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(CHANNEL).await {
            tracing::warn!(%err, "handoff listener could not LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            // Woken now and then to notice a dropped store.
            let next = tokio::time::timeout(Duration::from_secs(30), listener.try_recv()).await;
            let Some(bus) = bus.upgrade() else { return };
            match next {
                Ok(Ok(Some(notification))) => {
                    let _ = bus
                        .sender
                        .send(HandoffId::from_string(notification.payload()));
                }
                // The connection was lost: watchers re-read on their timer;
                // `try_recv` reconnects on the next call.
                Ok(Ok(None)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(%err, "handoff listener failed; reconnecting");
                    break;
                }
                Err(_) => {}
            }
        }
    }
}

fn row_of(h: &Handoff) -> Result<handoff::Model, StoreError> {
    Ok(handoff::Model {
        id: h.id.to_string(),
        tenant_id: h.tenant_id.to_string(),
        token_hash: h.token_hash.clone(),
        secret_hash: h.secret_hash.clone(),
        mode: h.mode.as_str().into(),
        status: h.status.as_str().into(),
        match_code: h.match_code.clone(),
        desktop: json(&h.desktop)?,
        enroll_profile: h.enroll_profile.as_ref().map(json).transpose()?,
        phone_device_id: h.phone_device_id.clone(),
        attempts: i32::try_from(h.attempts).unwrap_or(i32::MAX),
        claimed_until: h.claimed_until,
        outcome: h.outcome.as_ref().map(json).transpose()?,
        user_id: h
            .outcome
            .as_ref()
            .and_then(|o| o.user_id.as_ref())
            .map(ToString::to_string),
        created_at: h.created_at,
        expires_at: h.expires_at,
        completed_at: h.completed_at,
        collected_at: h.collected_at,
    })
}

fn json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Backend(err.to_string()))
}

fn parsed<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|err| StoreError::Backend(format!("handoff row: {err}")))
}

fn handoff_of(row: handoff::Model) -> Result<Handoff, StoreError> {
    let bad = |what: &str| StoreError::Backend(format!("handoff row: bad {what}"));
    Ok(Handoff {
        id: HandoffId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        token_hash: row.token_hash,
        secret_hash: row.secret_hash,
        mode: HandoffMode::parse(&row.mode).ok_or_else(|| bad("mode"))?,
        status: HandoffStatus::parse(&row.status).ok_or_else(|| bad("status"))?,
        match_code: row.match_code,
        desktop: parsed(&row.desktop)?,
        enroll_profile: row.enroll_profile.as_deref().map(parsed).transpose()?,
        phone_device_id: row.phone_device_id,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        claimed_until: row.claimed_until,
        outcome: row.outcome.as_deref().map(parsed).transpose()?,
        created_at: row.created_at,
        expires_at: row.expires_at,
        completed_at: row.completed_at,
        collected_at: row.collected_at,
    })
}

/// Rows of this tenant's handoff, open (pending or scanned) and in time.
fn open_row(tenant: &TenantId, id: &HandoffId, at: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(handoff::Column::TenantId.eq(tenant.as_str()))
        .add(handoff::Column::Id.eq(id.as_str()))
        .add(handoff::Column::ExpiresAt.gt(at))
        .add(handoff::Column::Status.is_in([
            HandoffStatus::Pending.as_str(),
            HandoffStatus::Scanned.as_str(),
        ]))
}

impl SeaOrmStore {
    /// Tells every watcher (here and, on PostgreSQL, everywhere) that the
    /// handoff changed. Called after the change committed; a lost
    /// notification costs a watcher one poll interval.
    async fn announce(&self, id: &HandoffId) {
        let _ = self.handoffs.sender.send(id.clone());
        if self.db.get_database_backend() == DbBackend::Postgres {
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), id.to_string().into()],
            );
            if let Err(err) = self.db.execute_raw(notify).await {
                tracing::warn!(%err, handoff = %id, "could not notify other instances");
            }
        }
    }

    async fn changed(&self, id: &HandoffId, rows: u64) -> bool {
        if rows == 1 {
            self.announce(id).await;
        }
        rows == 1
    }
}

#[async_trait]
impl HandoffStore for SeaOrmStore {
    async fn insert_handoff(&self, h: &Handoff) -> Result<(), StoreError> {
        handoff::Entity::insert(row_of(h)?.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn handoff_by_token(&self, token_hash: &str) -> Result<Option<Handoff>, StoreError> {
        handoff::Entity::find()
            .filter(handoff::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(handoff_of)
            .transpose()
    }

    async fn handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
    ) -> Result<Option<Handoff>, StoreError> {
        handoff::Entity::find_by_id(id.as_str())
            .filter(handoff::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(handoff_of)
            .transpose()
    }

    async fn scan_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        phone: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let first_or_same = Condition::any()
            .add(handoff::Column::Status.eq(HandoffStatus::Pending.as_str()))
            .add(handoff::Column::PhoneDeviceId.eq(phone));
        let done = handoff::Entity::update_many()
            .col_expr(
                handoff::Column::Status,
                Expr::value(HandoffStatus::Scanned.as_str()),
            )
            .col_expr(handoff::Column::PhoneDeviceId, Expr::value(phone))
            .filter(open_row(tenant, id, at))
            .filter(first_or_same)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(self.changed(id, done.rows_affected).await)
    }

    async fn count_handoff_attempt(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        max: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = handoff::Entity::update_many()
            .col_expr(
                handoff::Column::Attempts,
                Expr::col(handoff::Column::Attempts).add(1),
            )
            .filter(open_row(tenant, id, at))
            .filter(handoff::Column::Attempts.lt(i32::try_from(max).unwrap_or(i32::MAX)))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected == 1)
    }

    async fn claim_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        phone: &str,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let free = Condition::any()
            .add(handoff::Column::ClaimedUntil.is_null())
            .add(handoff::Column::ClaimedUntil.lte(at));
        let done = handoff::Entity::update_many()
            .col_expr(handoff::Column::ClaimedUntil, Expr::value(until))
            .filter(open_row(tenant, id, at))
            .filter(handoff::Column::PhoneDeviceId.eq(phone))
            .filter(free)
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected == 1)
    }

    async fn release_handoff(&self, tenant: &TenantId, id: &HandoffId) -> Result<(), StoreError> {
        handoff::Entity::update_many()
            .col_expr(
                handoff::Column::ClaimedUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .filter(handoff::Column::TenantId.eq(tenant.as_str()))
            .filter(handoff::Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn add_handoff_ceremony(&self, h: &Handoff, ceremony: &str) -> Result<(), StoreError> {
        let row = handoff_ceremony::Model {
            tenant_id: h.tenant_id.to_string(),
            handoff_id: h.id.to_string(),
            ceremony_id: ceremony.to_owned(),
            expires_at: h.expires_at,
        };
        handoff_ceremony::Entity::insert(row.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn handoff_has_ceremony(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        ceremony: &str,
    ) -> Result<bool, StoreError> {
        Ok(handoff_ceremony::Entity::find()
            .filter(handoff_ceremony::Column::TenantId.eq(tenant.as_str()))
            .filter(handoff_ceremony::Column::HandoffId.eq(id.as_str()))
            .filter(handoff_ceremony::Column::CeremonyId.eq(ceremony))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .is_some())
    }

    async fn decline_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = handoff::Entity::update_many()
            .col_expr(
                handoff::Column::Status,
                Expr::value(HandoffStatus::Declined.as_str()),
            )
            .col_expr(handoff::Column::CompletedAt, Expr::value(at))
            .filter(open_row(tenant, id, at))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(self.changed(id, done.rows_affected).await)
    }

    async fn complete_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        outcome: &HandoffOutcome,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = handoff::Entity::update_many()
            .col_expr(
                handoff::Column::Status,
                Expr::value(HandoffStatus::Completed.as_str()),
            )
            .col_expr(handoff::Column::Outcome, Expr::value(json(outcome)?))
            .col_expr(
                handoff::Column::UserId,
                Expr::value(outcome.user_id.as_ref().map(UserId::to_string)),
            )
            .col_expr(handoff::Column::CompletedAt, Expr::value(at))
            .filter(open_row(tenant, id, at))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(self.changed(id, done.rows_affected).await)
    }

    async fn collect_handoff(
        &self,
        tenant: &TenantId,
        id: &HandoffId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = handoff::Entity::update_many()
            .col_expr(handoff::Column::CollectedAt, Expr::value(at))
            .filter(handoff::Column::TenantId.eq(tenant.as_str()))
            .filter(handoff::Column::Id.eq(id.as_str()))
            .filter(handoff::Column::Status.eq(HandoffStatus::Completed.as_str()))
            .filter(handoff::Column::CollectedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected == 1)
    }

    async fn prune_handoffs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        handoff_ceremony::Entity::delete_many()
            .filter(handoff_ceremony::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        let deleted = handoff::Entity::delete_many()
            .filter(handoff::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }

    fn handoff_changes(&self) -> broadcast::Receiver<HandoffId> {
        let receiver = self.handoffs.sender.subscribe();
        if self.db.get_database_backend() == DbBackend::Postgres
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            self.handoffs.listening.get_or_init(|| {
                let pool = self.db.get_postgres_connection_pool().clone();
                runtime.spawn(listen(pool, Arc::downgrade(&self.handoffs)));
            });
        }
        receiver
    }
}
