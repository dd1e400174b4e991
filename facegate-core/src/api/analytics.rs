//! `GET /v1/analytics/overview`, `/devices` and `/failures` (server keys,
//! plans with the `analytics` feature): logins over the last 7, 30 or 90
//! days, read from the daily usage rollup (see [`crate::usage`]) and, for
//! active users, from who was counted active.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::Duration;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::usage::total;
use super::{FaceGate, wire};
use crate::clock;
use crate::domain::Tenant;
use crate::error::{ApiError, FieldIssue};
use crate::usage::{PlanFeature, UsageMetric, UsageRow};

/// Error codes `/failures` lists, the most frequent first.
const TOP_ERRORS: usize = 10;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct PeriodQuery {
    period: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Overview {
    total_attempts: u64,
    success_rate: f64,
    avg_confidence: f64,
    avg_latency_ms: u64,
    active_users: u64,
    period: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Devices {
    period: &'static str,
    device_types: Vec<Breakdown>,
    browsers: Vec<Breakdown>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Breakdown {
    name: String,
    attempts: u64,
    successes: u64,
    success_rate: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Failures {
    period: &'static str,
    total_failures: u64,
    top_errors: Vec<ErrorCount>,
    retries: Retries,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorCount {
    code: String,
    count: u64,
    /// Of all login attempts.
    share: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Retries {
    /// Login attempts the server answered.
    attempts: u64,
    successful_logins: u64,
    /// `attempts ÷ successful_logins`; `null` without a success.
    attempts_per_success: Option<f64>,
    /// What clients reported (`POST /v1/signals` of type `attempt` and
    /// `retry`): client-asserted, so a hint, not a count of record.
    client_attempts: u64,
    client_retries: u64,
}

fn ratio(part: u64, whole: u64, places: i32) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    let scale = 10f64.powi(places);
    (part as f64 / whole as f64 * scale).round() / scale
}

/// Rows of one metric summed by dimension.
fn by_dimension(rows: &[UsageRow], metric: UsageMetric) -> BTreeMap<&str, (u64, u64)> {
    let mut sums = BTreeMap::new();
    for row in rows.iter().filter(|r| r.metric == metric) {
        let sum: &mut (u64, u64) = sums.entry(row.dimension.as_str()).or_default();
        sum.0 += row.count;
        sum.1 += row.successes;
    }
    sums
}

fn breakdown(sums: BTreeMap<&str, (u64, u64)>, order: Option<&[&str]>) -> Vec<Breakdown> {
    let mut list: Vec<Breakdown> = sums
        .into_iter()
        .map(|(name, (attempts, successes))| Breakdown {
            name: name.to_owned(),
            attempts,
            successes,
            success_rate: ratio(successes, attempts, 3),
        })
        .collect();
    match order {
        Some(order) => list.sort_by_key(|b| order.iter().position(|n| *n == b.name)),
        None => list.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.name.cmp(&b.name))),
    }
    list
}

impl FaceGate {
    /// The period asked for, and its rollup rows; 403 on a plan without
    /// analytics.
    async fn analytics_rows(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<(&'static str, i64, Vec<UsageRow>), ApiError> {
        let query: PeriodQuery = wire::parse_query(query)?;
        let (period, days) = match query.period.as_deref().unwrap_or("30d") {
            "7d" => ("7d", 7),
            "30d" => ("30d", 30),
            "90d" => ("90d", 90),
            _ => {
                return Err(ApiError::Validation(vec![FieldIssue::new(
                    "period",
                    "one of 7d, 30d, 90d",
                )]));
            }
        };
        let plan = self.plan_of(&tenant.id).await?;
        if !plan.has(PlanFeature::Analytics) {
            return Err(ApiError::FeatureNotInPlan {
                feature: PlanFeature::Analytics.as_str(),
                plan: plan.name,
            });
        }
        let today = clock::now().date_naive();
        let rows = self
            .inner
            .store
            .usage_rows(&tenant.id, today - Duration::days(days - 1), today)
            .await?;
        Ok((period, days, rows))
    }

    pub(super) async fn analytics_overview(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let (period, days, rows) = self.analytics_rows(tenant, query).await?;
        let logins = rows.iter().filter(|r| r.metric == UsageMetric::Verify);
        let (attempts, successes, latency, confidence) =
            logins.fold((0, 0, 0, 0.0), |(a, s, l, c), r| {
                (
                    a + r.count,
                    s + r.successes,
                    l + r.latency_ms_sum,
                    c + r.confidence_sum,
                )
            });
        let active_users = self
            .inner
            .store
            .active_users_since(&tenant.id, clock::now() - Duration::days(days))
            .await?;
        let avg_confidence = if successes == 0 {
            0.0
        } else {
            (confidence / successes as f64 * 10.0).round() / 10.0
        };
        Ok(wire::json_response(
            StatusCode::OK,
            &Overview {
                total_attempts: attempts,
                success_rate: ratio(successes, attempts, 3),
                avg_confidence,
                avg_latency_ms: latency.checked_div(attempts).unwrap_or(0),
                active_users,
                period,
            },
        ))
    }

    pub(super) async fn analytics_devices(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let (period, _, rows) = self.analytics_rows(tenant, query).await?;
        const CLASSES: [&str; 4] = ["desktop", "mobile", "tablet", "other"];
        Ok(wire::json_response(
            StatusCode::OK,
            &Devices {
                period,
                device_types: breakdown(
                    by_dimension(&rows, UsageMetric::DeviceType),
                    Some(&CLASSES),
                ),
                browsers: breakdown(by_dimension(&rows, UsageMetric::Browser), None),
            },
        ))
    }

    pub(super) async fn analytics_failures(
        &self,
        tenant: &Tenant,
        query: Option<&str>,
    ) -> Result<Response<Bytes>, ApiError> {
        let (period, _, rows) = self.analytics_rows(tenant, query).await?;
        let attempts = total(&rows, UsageMetric::Verify);
        let successes: u64 = rows
            .iter()
            .filter(|r| r.metric == UsageMetric::Verify)
            .map(|r| r.successes)
            .sum();
        let mut errors: Vec<(&str, u64)> = by_dimension(&rows, UsageMetric::VerifyError)
            .into_iter()
            .map(|(code, (count, _))| (code, count))
            .collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let signals = by_dimension(&rows, UsageMetric::Signal);
        let signal = |kind: &str| signals.get(kind).map_or(0, |s| s.0);
        Ok(wire::json_response(
            StatusCode::OK,
            &Failures {
                period,
                total_failures: attempts.saturating_sub(successes),
                top_errors: errors
                    .into_iter()
                    .take(TOP_ERRORS)
                    .map(|(code, count)| ErrorCount {
                        code: code.to_owned(),
                        count,
                        share: ratio(count, attempts, 3),
                    })
                    .collect(),
                retries: Retries {
                    attempts,
                    successful_logins: successes,
                    attempts_per_success: (successes > 0)
                        .then(|| (attempts as f64 / successes as f64 * 100.0).round() / 100.0),
                    client_attempts: signal("attempt"),
                    client_retries: signal("retry"),
                },
            },
        ))
    }
}
