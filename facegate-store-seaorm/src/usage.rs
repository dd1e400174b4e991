//! Usage rollup, monthly active users and tenants' plans ([`UsageStore`]).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};

use facegate_core::ids::{TenantId, UserId};
use facegate_core::store::{StoreError, UsageStore};
use facegate_core::usage::{
    Activity, BillingEventOutcome, BillingUpdate, Month, TenantBilling, UsageMetric, UsageRow,
    UsageTally,
};

use crate::entity::{active_user, billing_event, tenant_billing, usage_day, usage_month};
use crate::{SeaOrmStore, store_error};

const DAY_FORMAT: &str = "%Y-%m-%d";

/// A tenant's billing row as first written.
fn billing_row(
    tenant: &TenantId,
    plan: Option<&str>,
    customer_id: Option<&str>,
) -> tenant_billing::ActiveModel {
    tenant_billing::ActiveModel {
        tenant_id: Set(tenant.to_string()),
        plan: Set(plan.map(str::to_owned)),
        customer_id: Set(customer_id.map(str::to_owned)),
        subscription_id: Set(None),
        updated_at: Set(facegate_core::clock::now()),
        event_at: Set(None),
    }
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `row.col + excluded.col`: an upsert that adds instead of overwriting.
fn added(column: usage_day::Column) -> sea_orm::sea_query::SimpleExpr {
    Expr::col((usage_day::Entity, column)).add(Expr::col((Alias::new("excluded"), column)))
}

#[async_trait]
impl UsageStore for SeaOrmStore {
    async fn add_usage(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        tallies: &[UsageTally],
    ) -> Result<(), StoreError> {
        if tallies.is_empty() {
            return Ok(());
        }
        // One order for every writer: concurrent upserts of the same rows
        // then queue on their locks instead of deadlocking.
        let mut tallies: Vec<&UsageTally> = tallies.iter().collect();
        tallies.sort_by(|a, b| (a.metric, &a.dimension).cmp(&(b.metric, &b.dimension)));
        let day = day.format(DAY_FORMAT).to_string();
        let rows = tallies.into_iter().map(|t| usage_day::ActiveModel {
            tenant_id: Set(tenant.to_string()),
            day: Set(day.clone()),
            metric: Set(t.metric.as_str().to_owned()),
            dimension: Set(t.dimension.clone()),
            count: Set(i64::from(t.count)),
            successes: Set(if t.success { i64::from(t.count) } else { 0 }),
            latency_ms_sum: Set(i64::from(t.latency_ms)),
            confidence_sum: Set(t.confidence.map_or(0.0, f64::from)),
        });
        use usage_day::Column as C;
        usage_day::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([C::TenantId, C::Day, C::Metric, C::Dimension])
                    .value(C::Count, added(C::Count))
                    .value(C::Successes, added(C::Successes))
                    .value(C::LatencyMsSum, added(C::LatencyMsSum))
                    .value(C::ConfidenceSum, added(C::ConfidenceSum))
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn usage_rows(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let rows = usage_day::Entity::find()
            .filter(usage_day::Column::TenantId.eq(tenant.as_str()))
            .filter(usage_day::Column::Day.gte(from.format(DAY_FORMAT).to_string()))
            .filter(usage_day::Column::Day.lte(to.format(DAY_FORMAT).to_string()))
            .all(&self.db)
            .await
            .map_err(store_error)?;
        rows.into_iter()
            .map(|row| {
                let unknown = |what: &str| {
                    StoreError::Backend(format!("usage row {} {}: bad {what}", row.day, row.metric))
                };
                Ok(UsageRow {
                    day: NaiveDate::parse_from_str(&row.day, DAY_FORMAT)
                        .map_err(|_| unknown("day"))?,
                    metric: UsageMetric::parse(&row.metric).ok_or_else(|| unknown("metric"))?,
                    dimension: row.dimension,
                    count: unsigned(row.count),
                    successes: unsigned(row.successes),
                    latency_ms_sum: unsigned(row.latency_ms_sum),
                    confidence_sum: row.confidence_sum,
                })
            })
            .collect()
    }

    async fn mark_active(
        &self,
        tenant: &TenantId,
        user: &UserId,
        at: DateTime<Utc>,
        limit: Option<u64>,
    ) -> Result<Activity, StoreError> {
        let month = Month::of(at).to_string();
        let txn = self.db.begin().await.map_err(store_error)?;
        use active_user::Column as A;
        let inserted = active_user::Entity::insert(active_user::ActiveModel {
            tenant_id: Set(tenant.to_string()),
            month: Set(month.clone()),
            user_id: Set(user.to_string()),
            last_active_at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([A::TenantId, A::Month, A::UserId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        // The retention sweep's "last interaction", at most hourly a write.
        use crate::entity::user::Column as U;
        crate::entity::user::Entity::update_many()
            .col_expr(U::LastSeenAt, Expr::value(at))
            .filter(U::TenantId.eq(tenant.as_str()))
            .filter(U::Id.eq(user.as_str()))
            .filter(
                Condition::any()
                    .add(U::LastSeenAt.is_null())
                    .add(U::LastSeenAt.lt(at - chrono::Duration::hours(1))),
            )
            .exec(&txn)
            .await
            .map_err(store_error)?;
        if inserted == 0 {
            active_user::Entity::update_many()
                .col_expr(A::LastActiveAt, Expr::value(at))
                .filter(A::TenantId.eq(tenant.as_str()))
                .filter(A::Month.eq(month.as_str()))
                .filter(A::UserId.eq(user.as_str()))
                .filter(A::LastActiveAt.lt(at))
                .exec(&txn)
                .await
                .map_err(store_error)?;
            txn.commit().await.map_err(store_error)?;
            return Ok(Activity::Counted);
        }
        use usage_month::Column as M;
        usage_month::Entity::insert(usage_month::ActiveModel {
            tenant_id: Set(tenant.to_string()),
            month: Set(month.clone()),
            mau: Set(0),
        })
        .on_conflict(
            OnConflict::columns([M::TenantId, M::Month])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        // The check rides on the increment: PostgreSQL re-reads `mau` after
        // waiting on a racing login's lock, SQLite runs one writer at a time.
        let mut count = usage_month::Entity::update_many()
            .col_expr(M::Mau, Expr::col(M::Mau).add(1))
            .filter(M::TenantId.eq(tenant.as_str()))
            .filter(M::Month.eq(month.as_str()));
        if let Some(limit) = limit {
            count = count.filter(M::Mau.lt(i64::try_from(limit).unwrap_or(i64::MAX)));
        }
        if count.exec(&txn).await.map_err(store_error)?.rows_affected == 0 {
            txn.rollback().await.map_err(store_error)?;
            return Ok(Activity::LimitReached);
        }
        txn.commit().await.map_err(store_error)?;
        Ok(Activity::New)
    }

    async fn monthly_active_users(
        &self,
        tenant: &TenantId,
        month: Month,
    ) -> Result<u64, StoreError> {
        let row = usage_month::Entity::find_by_id((tenant.to_string(), month.to_string()))
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(row.map_or(0, |row| unsigned(row.mau)))
    }

    async fn active_users_since(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        use active_user::Column as A;
        let count: Option<i64> = active_user::Entity::find()
            .select_only()
            .column_as(Expr::col(A::UserId).count_distinct(), "count")
            .filter(A::TenantId.eq(tenant.as_str()))
            .filter(A::Month.gte(Month::of(since).to_string()))
            .filter(A::LastActiveAt.gte(since))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(unsigned(count.unwrap_or(0)))
    }

    async fn prune_activity(&self, before: Month) -> Result<u64, StoreError> {
        let deleted = active_user::Entity::delete_many()
            .filter(active_user::Column::Month.lt(before.to_string()))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }

    async fn tenant_billing(&self, tenant: &TenantId) -> Result<TenantBilling, StoreError> {
        let row = tenant_billing::Entity::find_by_id(tenant.to_string())
            .one(&self.db)
            .await
            .map_err(store_error)?;
        Ok(
            row.map_or_else(TenantBilling::default, |row| TenantBilling {
                plan: row.plan,
                customer_id: row.customer_id,
                subscription_id: row.subscription_id,
            }),
        )
    }

    async fn set_tenant_plan(
        &self,
        tenant: &TenantId,
        plan: Option<&str>,
    ) -> Result<(), StoreError> {
        use tenant_billing::Column as B;
        tenant_billing::Entity::insert(billing_row(tenant, plan, None))
            .on_conflict(
                OnConflict::column(B::TenantId)
                    .update_columns([B::Plan, B::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn set_billing_customer(
        &self,
        tenant: &TenantId,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        use tenant_billing::Column as B;
        // Set only where none is: the first of racing checkouts keeps it.
        tenant_billing::Entity::insert(billing_row(tenant, None, Some(customer_id)))
            .on_conflict(
                OnConflict::column(B::TenantId)
                    .update_columns([B::CustomerId, B::UpdatedAt])
                    .action_and_where(Expr::col((tenant_billing::Entity, B::CustomerId)).is_null())
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(store_error)?;
        self.tenant_billing(tenant)
            .await?
            .customer_id
            .ok_or_else(|| StoreError::Backend("billing customer not stored".into()))
    }

    async fn record_billing_event(
        &self,
        provider: &str,
        event_id: &str,
        received_at: DateTime<Utc>,
        update: Option<&BillingUpdate>,
    ) -> Result<BillingEventOutcome, StoreError> {
        let txn = self.db.begin().await.map_err(store_error)?;
        use billing_event::Column as E;
        let recorded = billing_event::Entity::insert(billing_event::ActiveModel {
            provider: Set(provider.to_owned()),
            event_id: Set(event_id.to_owned()),
            received_at: Set(received_at),
        })
        .on_conflict(
            OnConflict::columns([E::Provider, E::EventId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(store_error)?;
        if recorded == 0 {
            txn.rollback().await.map_err(store_error)?;
            return Ok(BillingEventOutcome::Duplicate);
        }
        let Some(update) = update else {
            txn.commit().await.map_err(store_error)?;
            return Ok(BillingEventOutcome::Recorded);
        };
        use tenant_billing::Column as B;
        // Every condition in the one statement: the row is checked as it
        // is written. Within one second (the providers' resolution) an
        // ending wins over a change that keeps the subscription.
        let ends = update.plan.is_none();
        let in_order = Expr::col(B::EventAt)
            .is_null()
            .or(Expr::col(B::EventAt).lt(update.event_at))
            .or(Expr::col(B::EventAt)
                .eq(update.event_at)
                .and(Expr::value(ends)));
        let applied = tenant_billing::Entity::update_many()
            .col_expr(B::Plan, Expr::value(update.plan.clone()))
            .col_expr(
                B::SubscriptionId,
                Expr::value((!ends).then(|| update.subscription_id.clone())),
            )
            .col_expr(B::EventAt, Expr::value(Some(update.event_at)))
            .col_expr(B::UpdatedAt, Expr::value(received_at))
            .filter(B::TenantId.eq(update.tenant.as_str()))
            .filter(B::CustomerId.eq(update.customer_id.as_str()))
            .filter(
                Condition::any()
                    .add(B::SubscriptionId.is_null())
                    .add(B::SubscriptionId.eq(update.subscription_id.as_str())),
            )
            .filter(in_order)
            .exec(&txn)
            .await
            .map_err(store_error)?;
        txn.commit().await.map_err(store_error)?;
        Ok(if applied.rows_affected == 0 {
            BillingEventOutcome::Ignored
        } else {
            BillingEventOutcome::Applied
        })
    }

    async fn prune_billing_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = billing_event::Entity::delete_many()
            .filter(billing_event::Column::ReceivedAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected)
    }
}
