//! The event outbox and webhook deliveries ([`EventStore`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};

use facegate_core::events::{
    AttemptOutcome, DeliveryStatus, DueDelivery, Event, EventKind, WebhookDelivery, WebhookEndpoint,
};
use facegate_core::ids::{DeliveryId, EventId, TenantId, WebhookId};
use facegate_core::store::{EventStore, StoreError};

use crate::entity::{event, webhook_delivery, webhook_endpoint};
use crate::{SeaOrmStore, store_error};

/// Writes `events` and, for each, a pending delivery to every endpoint of
/// its tenant that wants it, on `txn` (the change's own transaction). An
/// event whose dedupe key the tenant has used is skipped, deliveries too.
pub(crate) async fn write_events(
    txn: &impl ConnectionTrait,
    events: &[Event],
) -> Result<(), DbErr> {
    let mut endpoints: Option<(TenantId, Vec<webhook_endpoint::Model>)> = None;
    for event in events {
        let written = event::Entity::insert(event::ActiveModel {
            id: Set(event.id.to_string()),
            tenant_id: Set(event.tenant_id.to_string()),
            kind: Set(event.kind.as_str().to_owned()),
            data: Set(event.data.clone()),
            dedupe_key: Set(event.dedupe_key.clone()),
            created_at: Set(event.created_at),
        })
        .on_conflict(
            OnConflict::columns([event::Column::TenantId, event::Column::DedupeKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if written == 0 {
            continue;
        }
        if endpoints
            .as_ref()
            .is_none_or(|(t, _)| *t != event.tenant_id)
        {
            let rows = webhook_endpoint::Entity::find()
                .filter(webhook_endpoint::Column::TenantId.eq(event.tenant_id.as_str()))
                .all(txn)
                .await?;
            endpoints = Some((event.tenant_id.clone(), rows));
        }
        let Some((_, rows)) = &endpoints else {
            continue;
        };
        let deliveries: Vec<_> = rows
            .iter()
            .filter(|row| wants(&row.events, event.kind))
            .map(|row| webhook_delivery::ActiveModel {
                id: Set(DeliveryId::generate().to_string()),
                tenant_id: Set(event.tenant_id.to_string()),
                endpoint_id: Set(row.id.clone()),
                event_id: Set(event.id.to_string()),
                event_kind: Set(event.kind.as_str().to_owned()),
                status: Set(DeliveryStatus::Pending.as_str().to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(Some(event.created_at)),
                locked_until: Set(None),
                last_attempt_at: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                created_at: Set(event.created_at),
            })
            .collect();
        if !deliveries.is_empty() {
            webhook_delivery::Entity::insert_many(deliveries)
                .exec_without_returning(txn)
                .await?;
        }
    }
    Ok(())
}

/// Every kind, as stored; otherwise the kinds' names, comma-separated.
const ALL_KINDS: &str = "*";

fn wants(stored: &str, kind: EventKind) -> bool {
    stored == ALL_KINDS || stored.split(',').any(|name| name == kind.as_str())
}

/// An endpoint's kinds: empty for all. Names this version does not know
/// (stored by a newer one) are left out, not widened to all.
fn kinds(stored: &str) -> Vec<EventKind> {
    if stored == ALL_KINDS {
        return Vec::new();
    }
    stored.split(',').filter_map(EventKind::parse).collect()
}

fn endpoint(row: webhook_endpoint::Model) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        events: kinds(&row.events),
        url: row.url,
        secret: row.secret,
        description: row.description,
        created_at: row.created_at,
    }
}

fn delivery(row: webhook_delivery::Model) -> Result<WebhookDelivery, StoreError> {
    Ok(WebhookDelivery {
        id: DeliveryId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        endpoint_id: WebhookId::from_string(row.endpoint_id),
        event_id: EventId::from_string(row.event_id),
        event_kind: EventKind::parse(&row.event_kind)
            .ok_or_else(|| StoreError::Backend(format!("event kind {:?}", row.event_kind)))?,
        status: DeliveryStatus::parse(&row.status)
            .ok_or_else(|| StoreError::Backend(format!("delivery status {:?}", row.status)))?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: row.next_attempt_at,
        last_attempt_at: row.last_attempt_at,
        last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: row.last_error,
        created_at: row.created_at,
    })
}

fn event_of(row: event::Model) -> Result<Event, StoreError> {
    Ok(Event {
        id: EventId::from_string(row.id),
        tenant_id: TenantId::from_string(row.tenant_id),
        kind: EventKind::parse(&row.kind)
            .ok_or_else(|| StoreError::Backend(format!("event kind {:?}", row.kind)))?,
        data: row.data,
        created_at: row.created_at,
        dedupe_key: row.dedupe_key,
    })
}

#[async_trait]
impl EventStore for SeaOrmStore {
    async fn record_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin().await.map_err(store_error)?;
        write_events(&txn, events).await.map_err(store_error)?;
        txn.commit().await.map_err(store_error)
    }

    async fn events(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Event>, StoreError> {
        event::Entity::find()
            .filter(event::Column::TenantId.eq(tenant.as_str()))
            .order_by_desc(event::Column::CreatedAt)
            .order_by_desc(event::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(event_of)
            .collect()
    }

    async fn insert_webhook(
        &self,
        endpoint: &WebhookEndpoint,
        max: u32,
    ) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        // Two registrations racing for the last place: the tenant's row is
        // locked first, so they count one after the other.
        crate::lock_tenant(&txn, &endpoint.tenant_id)
            .await
            .map_err(store_error)?;
        let count = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::TenantId.eq(endpoint.tenant_id.as_str()))
            .count(&txn)
            .await
            .map_err(store_error)?;
        if count >= u64::from(max) {
            return Ok(false);
        }
        let events = if endpoint.events.is_empty() {
            ALL_KINDS.to_owned()
        } else {
            let names: Vec<&str> = endpoint.events.iter().map(|k| k.as_str()).collect();
            names.join(",")
        };
        webhook_endpoint::Entity::insert(webhook_endpoint::ActiveModel {
            id: Set(endpoint.id.to_string()),
            tenant_id: Set(endpoint.tenant_id.to_string()),
            url: Set(endpoint.url.clone()),
            events: Set(events),
            secret: Set(endpoint.secret.clone()),
            description: Set(endpoint.description.clone()),
            created_at: Set(endpoint.created_at),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .order_by_asc(webhook_endpoint::Column::CreatedAt)
            .order_by_asc(webhook_endpoint::Column::Id)
            .all(&self.db)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(endpoint).collect())
    }

    async fn reseal_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        stored: &[u8],
        sealed: &[u8],
    ) -> Result<bool, StoreError> {
        let changed = webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::Secret,
                Expr::value(sealed.to_vec()),
            )
            .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_endpoint::Column::Id.eq(id.as_str()))
            .filter(webhook_endpoint::Column::Secret.eq(stored.to_vec()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(changed.rows_affected == 1)
    }

    async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        let deleted = webhook_endpoint::Entity::delete_many()
            .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_endpoint::Column::Id.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_delivery::Column::EndpointId.eq(id.as_str()))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookId,
        before: Option<&DeliveryId>,
        limit: u32,
    ) -> Result<Option<Vec<WebhookDelivery>>, StoreError> {
        let known = webhook_endpoint::Entity::find_by_id(endpoint.as_str())
            .filter(webhook_endpoint::Column::TenantId.eq(tenant.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        if known.is_none() {
            return Ok(None);
        }
        // Ids are UUIDv7 behind one prefix: their order is their creation's.
        let mut query = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_str()));
        if let Some(before) = before {
            query = query.filter(webhook_delivery::Column::Id.lt(before.as_str()));
        }
        query
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(delivery)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn redeliver(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookId,
        id: &DeliveryId,
        at: DateTime<Utc>,
    ) -> Result<Option<WebhookDelivery>, StoreError> {
        let scope = |query: sea_orm::UpdateMany<webhook_delivery::Entity>| {
            query
                .filter(webhook_delivery::Column::TenantId.eq(tenant.as_str()))
                .filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_str()))
                .filter(webhook_delivery::Column::Id.eq(id.as_str()))
        };
        scope(webhook_delivery::Entity::update_many())
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(DeliveryStatus::Pending.as_str()),
            )
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(at))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        webhook_delivery::Entity::find_by_id(id.as_str())
            .filter(webhook_delivery::Column::TenantId.eq(tenant.as_str()))
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.as_str()))
            .one(&self.db)
            .await
            .map_err(store_error)?
            .map(delivery)
            .transpose()
    }

    async fn count_pending_deliveries(&self) -> Result<u64, StoreError> {
        let count = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .count(&self.db)
            .await
            .map_err(store_error)?;
        Ok(count)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let backend = self.db.get_database_backend();
        // One statement: the rows it picks are leased before it returns.
        // Each endpoint has one delivery in flight at most, its oldest due
        // one: a receiver that hangs holds one of the worker's slots, not
        // all of them, and an endpoint gets its events in order.
        // PostgreSQL skips rows another worker has locked; SQLite has one
        // writer at a time anyway.
        let (p, skip_locked) = match backend {
            DbBackend::Postgres => (["$1", "$2", "$3"], " FOR UPDATE SKIP LOCKED"),
            _ => (["?1", "?2", "?3"], ""),
        };
        let [lease, at, limit_param] = p;
        let sql = format!(
            "UPDATE webhook_deliveries SET locked_until = {lease} WHERE id IN (\
             SELECT d.id FROM webhook_deliveries d WHERE d.status = 'pending' \
             AND d.next_attempt_at <= {at} \
             AND (d.locked_until IS NULL OR d.locked_until <= {at}) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries f \
                 WHERE f.endpoint_id = d.endpoint_id AND f.status = 'pending' \
                 AND f.locked_until > {at}) \
             AND d.id = (SELECT min(o.id) FROM webhook_deliveries o \
                 WHERE o.endpoint_id = d.endpoint_id AND o.status = 'pending' \
                 AND o.next_attempt_at <= {at}) \
             ORDER BY d.next_attempt_at LIMIT {limit_param}{skip_locked}) RETURNING id"
        );
        let values: Vec<sea_orm::Value> =
            vec![lease_until.into(), now.into(), i64::from(limit).into()];
        let claimed: Vec<String> = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, &sql, values))
            .await
            .map_err(store_error)?
            .iter()
            .map(|row| row.try_get::<String>("", "id"))
            .collect::<Result<_, _>>()
            .map_err(store_error)?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let rows = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Id.is_in(claimed))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let events = event::Entity::find()
            .filter(event::Column::Id.is_in(rows.iter().map(|r| r.event_id.clone())))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let endpoints = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Id.is_in(rows.iter().map(|r| r.endpoint_id.clone())))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        let mut due = Vec::with_capacity(rows.len());
        for row in rows {
            // An endpoint deleted, or an event pruned, since the claim: its
            // delivery went with it.
            let Some(endpoint) = endpoints.iter().find(|e| e.id == row.endpoint_id) else {
                continue;
            };
            let Some(event) = events.iter().find(|e| e.id == row.event_id) else {
                continue;
            };
            // A row this version cannot read (written by a newer one) is
            // left to its lease, not allowed to fail its batch-mates.
            let id = row.id.clone();
            match (event_of(event.clone()), delivery(row)) {
                (Ok(event), Ok(delivery)) => due.push(DueDelivery {
                    url: endpoint.url.clone(),
                    secret: endpoint.secret.clone(),
                    lease_until,
                    event,
                    delivery,
                }),
                (Err(err), _) | (_, Err(err)) => {
                    tracing::warn!(%err, delivery = %id, "unreadable webhook delivery skipped");
                }
            }
        }
        Ok(due)
    }

    async fn finish_delivery(
        &self,
        due: &DueDelivery,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            )
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(outcome.status.as_str()),
            )
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(outcome.next_attempt_at),
            )
            .col_expr(
                webhook_delivery::Column::LockedUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(
                webhook_delivery::Column::LastAttemptAt,
                Expr::value(outcome.at),
            )
            .col_expr(
                webhook_delivery::Column::LastStatusCode,
                Expr::value(outcome.status_code.map(i32::from)),
            )
            .col_expr(
                webhook_delivery::Column::LastError,
                Expr::value(outcome.error.clone()),
            )
            .filter(webhook_delivery::Column::Id.eq(due.delivery.id.as_str()))
            // Only under this claim: a worker whose lease ran out (and the
            // delivery claimed again) records nothing over the new claim.
            .filter(webhook_delivery::Column::LockedUntil.eq(due.lease_until))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::CreatedAt.lt(before))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        let deleted = event::Entity::delete_many()
            .filter(event::Column::CreatedAt.lt(before))
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(deleted.rows_affected)
    }
}
