//! Usage and plans: `GET /v1/usage/summary`, `GET /v1/usage/daily`,
//! `GET /v1/billing/status` (server keys), the counting behind them, and the
//! plan's hard limit on new users (429 `USAGE_LIMIT_REACHED`).
//!
//! Each request a tenant makes to a counted route adds to the daily rollup
//! as it is answered ([`FaceGate::count_usage`]); successful logins and
//! refreshes count their user active in the month ([`FaceGate::count_active`]).
//! Counting never fails a request: a tally that cannot be stored is logged.

use bytes::Bytes;
use chrono::{Duration, NaiveDate};
use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::routes::Route;
use super::{AuditDraft, FaceGate, wire};
use crate::clock;
use crate::domain::Tenant;
use crate::error::{ApiError, FieldIssue};
use crate::ids::{TenantId, UserId};
use crate::usage::{Activity, Month, Plan, UsageMetric, UsageRow, UsageTally, classify_user_agent};

/// Days one `GET /v1/usage/daily` may span.
const MAX_DAILY_SPAN: i64 = 366;

/// How a login ended, tagged on the verify response (an `http` extension,
/// never sent) so the count can tell a sign-in from a 200 that is not one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum LoginOutcome {
    SignedIn { confidence: f32 },
    NoMatch,
    StepUp,
}

impl LoginOutcome {
    pub(super) fn tag(self, mut response: Response<Bytes>) -> Response<Bytes> {
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct SummaryQuery {
    period: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct DailyQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct UsageSummary {
    period: String,
    verify_count: u64,
    enroll_count: u64,
    match_count: u64,
    refresh_count: u64,
    mau: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct UsageDaily {
    from: NaiveDate,
    to: NaiveDate,
    days: Vec<DayUsage>,
}

#[derive(Serialize, Default, Clone, utoipa::ToSchema)]
struct DayUsage {
    date: String,
    verify_count: u64,
    enroll_count: u64,
    match_count: u64,
    refresh_count: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct BillingStatus {
    plan: String,
    plan_display_name: String,
    price_monthly: f64,
    mau_count: u64,
    mau_limit: Option<u64>,
    verify_count: u64,
    enroll_count: u64,
    overage_mau: u64,
    overage_cost: f64,
    /// Our additions: the month counted, and whether new users past the
    /// limit are refused rather than billed.
    period: String,
    hard_limit: bool,
}

/// A counted login's tenant and outcome (`success`, or the reason), from
/// its tallies.
pub(super) fn login_outcome(
    usage: Option<&(TenantId, Vec<UsageTally>)>,
) -> Option<(&TenantId, &str)> {
    let (tenant, tallies) = usage?;
    let login = tallies.iter().find(|t| t.metric == UsageMetric::Verify)?;
    if login.success {
        return Some((tenant, "success"));
    }
    let reason = tallies
        .iter()
        .find(|t| t.metric == UsageMetric::VerifyError)
        .map_or("OTHER", |t| t.dimension.as_str());
    Some((tenant, reason))
}

/// The totals of one metric over some rows.
pub(super) fn total(rows: &[UsageRow], metric: UsageMetric) -> u64 {
    rows.iter()
        .filter(|r| r.metric == metric)
        .map(|r| r.count)
        .sum()
}

impl FaceGate {
    /// The plan a tenant is on. The keyless demo's tenant is unmetered: a
    /// host's free plan must not close its try-it page.
    pub(super) async fn plan_of(&self, tenant: &TenantId) -> Result<Plan, ApiError> {
        if *tenant == TenantId::demo() {
            return Ok(Plan::unmetered());
        }
        let billing = self.inner.store.tenant_billing(tenant).await?;
        Ok(self.inner.plans.of(billing.plan.as_deref()).clone())
    }

    /// Refuses an enrollment while the month's users have reached the
    /// plan's hard limit: a new user could not sign in anyway.
    pub(super) async fn check_enroll_quota(&self, tenant: &TenantId) -> Result<(), ApiError> {
        if !self.inner.plans.enforce_limits() {
            return Ok(());
        }
        let plan = self.plan_of(tenant).await?;
        let Some(limit) = plan.enforced_limit() else {
            return Ok(());
        };
        let month = Month::of(clock::now());
        if self.inner.store.monthly_active_users(tenant, month).await? >= limit {
            return Err(ApiError::UsageLimitReached {
                limit,
                resets_at: month.end(),
            });
        }
        Ok(())
    }

    /// Counts a user active this month. `enforce` refuses a user not yet
    /// counted once the plan's hard limit is reached (logins); refreshes
    /// and re-verifications of open sessions are counted, never refused.
    pub(super) async fn count_active(
        &self,
        tenant: &TenantId,
        user: &UserId,
        enforce: bool,
    ) -> Result<(), ApiError> {
        let now = clock::now();
        let limit = if enforce && self.inner.plans.enforce_limits() {
            self.plan_of(tenant).await?.enforced_limit()
        } else {
            None
        };
        match self.inner.store.mark_active(tenant, user, now, limit).await {
            Ok(Activity::LimitReached) => Err(ApiError::UsageLimitReached {
                limit: limit.unwrap_or_default(),
                resets_at: Month::of(now).end(),
            }),
            Ok(Activity::New | Activity::Counted) => Ok(()),
            // A limit must hold: a login that cannot be counted against
            // one waits. Without a limit, counting is only bookkeeping.
            Err(err) if limit.is_some() => Err(err.into()),
            Err(err) => {
                tracing::warn!(%err, tenant = %tenant, "could not count an active user");
                Ok(())
            }
        }
    }

    /// What a request adds to its tenant's rollup, if its route is counted.
    pub(super) fn usage_tallies(
        audit: &AuditDraft,
        headers: &HeaderMap,
        response: &Response<Bytes>,
        latency_ms: u32,
    ) -> Option<(TenantId, Vec<UsageTally>)> {
        // Only what reached a handler, and not a request that could not be
        // read: a public (client) key must not pad the counts with junk.
        if !audit.handled
            || matches!(
                audit.error_code,
                Some("INVALID_JSON" | "VALIDATION_FAILED" | "PAYLOAD_TOO_LARGE")
            )
        {
            return None;
        }
        let tenant = audit.tenant.as_ref()?;
        let metric = audit.usage.or_else(|| match audit.route.as_ref()? {
            Route::Verify | Route::DemoVerify => Some(UsageMetric::Verify),
            Route::Enroll | Route::DemoEnroll | Route::ReEnroll(_) => Some(UsageMetric::Enroll),
            Route::Match => Some(UsageMetric::Match),
            Route::RefreshSession => Some(UsageMetric::Refresh),
            _ => None,
        })?;
        let tally = |metric, dimension: &str, success, confidence| UsageTally {
            metric,
            dimension: dimension.to_owned(),
            count: 1,
            success,
            latency_ms,
            confidence,
        };
        if metric != UsageMetric::Verify {
            let success = response.status().is_success();
            return Some((tenant.id.clone(), vec![tally(metric, "", success, None)]));
        }
        let outcome = response.extensions().get::<LoginOutcome>().copied();
        let (success, confidence, failure) = match outcome {
            Some(LoginOutcome::SignedIn { confidence }) => (true, Some(confidence), None),
            Some(LoginOutcome::NoMatch) => (false, None, Some("NO_MATCH")),
            Some(LoginOutcome::StepUp) => (false, None, Some("STEP_UP_REQUIRED")),
            None => (false, None, Some(audit.error_code.unwrap_or("OTHER"))),
        };
        let user_agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let (device, browser) = classify_user_agent(user_agent);
        let mut tallies = vec![
            tally(UsageMetric::Verify, "", success, confidence),
            tally(UsageMetric::DeviceType, device.as_str(), success, None),
            tally(UsageMetric::Browser, browser, success, None),
        ];
        if let Some(code) = failure {
            tallies.push(tally(UsageMetric::VerifyError, code, false, None));
        }
        Some((tenant.id.clone(), tallies))
    }

    /// Adds tallies to today's rollup; logged and dropped on failure.
    pub(super) async fn count_usage(&self, usage: Option<(TenantId, Vec<UsageTally>)>) {
        let Some((tenant, tallies)) = usage else {
            return;
        };
        let today = clock::now().date_naive();
        if let Err(err) = self.inner.store.add_usage(&tenant, today, &tallies).await {
            tracing::warn!(%err, tenant = %tenant, "could not count usage");
        }
    }

    pub(super) async fn usage_summary(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let query: SummaryQuery = wire::parse_query(query)?;
        let month = match query.period.as_deref() {
            None => Month::of(clock::now()),
            Some(period) => Month::parse(period).ok_or_else(|| {
                ApiError::Validation(vec![FieldIssue::new("period", "a month, YYYY-MM")])
            })?,
        };
        let rows = self
            .inner
            .store
            .usage_rows(&tenant.id, month.first_day(), month.last_day())
            .await?;
        let mau = self
            .inner
            .store
            .monthly_active_users(&tenant.id, month)
            .await?;
        Ok(wire::json_response(
            StatusCode::OK,
            &UsageSummary {
                period: month.to_string(),
                verify_count: total(&rows, UsageMetric::Verify),
                enroll_count: total(&rows, UsageMetric::Enroll),
                match_count: total(&rows, UsageMetric::Match),
                refresh_count: total(&rows, UsageMetric::Refresh),
                mau,
            },
        ))
    }

    pub(super) async fn usage_daily(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let query: DailyQuery = wire::parse_query(query)?;
        let date = |field: &str, value: Option<&String>| -> Result<Option<NaiveDate>, ApiError> {
            value
                .map(|v| {
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .ok()
                        .filter(|d| (2000..=9999).contains(&chrono::Datelike::year(d)))
                        .ok_or_else(|| {
                            ApiError::Validation(vec![FieldIssue::new(field, "a date, YYYY-MM-DD")])
                        })
                })
                .transpose()
        };
        let to = date("to", query.to.as_ref())?.unwrap_or_else(|| clock::now().date_naive());
        let from = date("from", query.from.as_ref())?.unwrap_or(to - Duration::days(29));
        let span = (to - from).num_days() + 1;
        if span < 1 {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "from",
                "on or before `to`",
            )]));
        }
        if span > MAX_DAILY_SPAN {
            return Err(ApiError::Validation(vec![FieldIssue::new(
                "from",
                format!("at most {MAX_DAILY_SPAN} days before `to`"),
            )]));
        }
        let rows = self.inner.store.usage_rows(&tenant.id, from, to).await?;
        let mut days: Vec<DayUsage> = from
            .iter_days()
            .take(span as usize)
            .map(|day| DayUsage {
                date: day.format("%Y-%m-%d").to_string(),
                ..Default::default()
            })
            .collect();
        for row in rows {
            let Some(day) = usize::try_from((row.day - from).num_days())
                .ok()
                .and_then(|i| days.get_mut(i))
            else {
                continue;
            };
            match row.metric {
                UsageMetric::Verify => day.verify_count += row.count,
                UsageMetric::Enroll => day.enroll_count += row.count,
                UsageMetric::Match => day.match_count += row.count,
                UsageMetric::Refresh => day.refresh_count += row.count,
                _ => {}
            }
        }
        Ok(wire::json_response(
            StatusCode::OK,
            &UsageDaily { from, to, days },
        ))
    }

    pub(super) async fn billing_status(
        &self,
        tenant: &Tenant,
    ) -> Result<Response<Bytes>, ApiError> {
        let plan = self.plan_of(&tenant.id).await?;
        let month = Month::of(clock::now());
        let mau = self
            .inner
            .store
            .monthly_active_users(&tenant.id, month)
            .await?;
        let rows = self
            .inner
            .store
            .usage_rows(&tenant.id, month.first_day(), month.last_day())
            .await?;
        let (overage_mau, overage_cost) = plan.overage(mau);
        Ok(wire::json_response(
            StatusCode::OK,
            &BillingStatus {
                plan: plan.name.clone(),
                plan_display_name: plan.display_name.clone(),
                price_monthly: plan.price_monthly,
                mau_count: mau,
                mau_limit: plan.mau_limit,
                verify_count: total(&rows, UsageMetric::Verify),
                enroll_count: total(&rows, UsageMetric::Enroll),
                overage_mau,
                overage_cost,
                period: month.to_string(),
                hard_limit: plan.hard_limit,
            },
        ))
    }
}
