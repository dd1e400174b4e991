//! Analytics at size (docs/usage-and-billing.md): a tenant with 1M audit
//! rows over 90 days on PostgreSQL, their usage rollup, and 20k users
//! active over four months; then the read routes' latency through the API
//! (`FaceGate::handle`, key check and JSON included), and the cost each
//! login adds to count itself.
//!
//! ```text
//! FACEGATE_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1/postgres \
//!   cargo bench -p facegate-axum --bench analytics
//! ```
//!
//! Settings (environment): `FACEGATE_BENCH_AUDIT_ROWS` (default 1000000),
//! `FACEGATE_BENCH_USERS` (default 20000), `FACEGATE_BENCH_READS` (default 50).

use std::time::{Duration, Instant};

use bytes::Bytes;
use facegate_core::FaceGate;
use facegate_core::clock;
use facegate_core::ids::UserId;
use facegate_core::store::prelude::*;
use facegate_core::usage::{UsageMetric, UsageTally};
use facegate_store_seaorm::SeaOrmStore;
use facegate_store_seaorm::testing::postgres_for_instances;
use sea_orm::ConnectionTrait;

const KEY: &str = "fg_test_analyticsbench0000000";
const ERRORS: [&str; 6] = [
    "NO_MATCH",
    "LIVENESS_FAILED",
    "PIN_REQUIRED",
    "LIVENESS_SESSION_EXPIRED",
    "RISK_BLOCKED",
    "RATE_LIMITED",
];
const DEVICES: [&str; 4] = ["desktop", "mobile", "tablet", "other"];
const BROWSERS: [&str; 5] = ["Chrome", "Safari", "Firefox", "Edge", "other"];

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tally(metric: UsageMetric, dimension: &str, count: u32, success: bool) -> UsageTally {
    UsageTally {
        metric,
        dimension: dimension.to_owned(),
        count,
        success,
        latency_ms: 900 * count,
        confidence: success.then_some(96.5 * count as f32),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what:<44} p50 {:>7.2} ms   p95 {:>7.2} ms   max {:>7.2} ms   ({} runs)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        times.len()
    );
}

#[tokio::main]
async fn main() {
    let Some(url) = postgres_for_instances().await else {
        return;
    };
    let audit_rows = setting("FACEGATE_BENCH_AUDIT_ROWS", 1_000_000);
    let users = setting("FACEGATE_BENCH_USERS", 20_000);
    let reads = setting("FACEGATE_BENCH_READS", 50);
    let store = SeaOrmStore::connect(&url).await.unwrap();
    let db = store.connection().clone();
    let facegate = FaceGate::builder(store.clone()).build();
    let tenant = facegate.ensure_api_key(KEY, "bench").await.unwrap();
    let t = tenant.as_str();

    // The audit trail: requests spread evenly over 90 days.
    let started = Instant::now();
    db.execute_unprepared(&format!(
        "INSERT INTO audit_events (id, tenant_id, method, route, resource_id, status, error_code, note, latency_ms, user_agent, device_id, created_at)
         SELECT md5(i::text), '{t}', 'POST', '/v1/verify', NULL,
                CASE WHEN i % 10 = 0 THEN 401 ELSE 200 END,
                CASE WHEN i % 10 = 0 THEN 'NO_MATCH' END, NULL, 900 + i % 400,
                'Mozilla/5.0', 'dev_' || (i % 5000), now() - (i % 7776000) * interval '1 second'
         FROM generate_series(1, {audit_rows}) AS i"
    ))
    .await
    .unwrap();
    println!(
        "audit_events: {audit_rows} rows for the tenant in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The rollup those requests made, day by day, as the API writes it.
    let started = Instant::now();
    let per_day = (audit_rows / 90) as u32;
    let today = clock::now().date_naive();
    let mut rollup_writes = 0;
    for back in 0..90 {
        let day = today - chrono::Duration::days(back);
        let failed = per_day / 10;
        let mut tallies = vec![
            tally(UsageMetric::Verify, "", per_day - failed, true),
            tally(UsageMetric::Enroll, "", per_day / 50, true),
            tally(UsageMetric::Match, "", per_day / 20, true),
            tally(UsageMetric::Refresh, "", per_day * 3, true),
            tally(UsageMetric::Signal, "attempt", per_day, false),
            tally(UsageMetric::Signal, "retry", per_day / 8, false),
        ];
        for (i, code) in ERRORS.iter().enumerate() {
            tallies.push(tally(UsageMetric::VerifyError, code, failed >> i, false));
        }
        for (i, device) in DEVICES.iter().enumerate() {
            tallies.push(tally(
                UsageMetric::DeviceType,
                device,
                per_day >> (i + 1),
                true,
            ));
        }
        for (i, browser) in BROWSERS.iter().enumerate() {
            tallies.push(tally(
                UsageMetric::Browser,
                browser,
                per_day >> (i + 1),
                true,
            ));
        }
        store.add_usage(&tenant, day, &tallies).await.unwrap();
        // Failures as their own rows' share.
        let failed_tallies = vec![tally(UsageMetric::Verify, "", failed, false)];
        store
            .add_usage(&tenant, day, &failed_tallies)
            .await
            .unwrap();
        rollup_writes += 2;
    }
    println!(
        "usage_days: 90 days of rollup in {rollup_writes} writes, {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Who was active: every user in each of the last four months.
    let started = Instant::now();
    for months_back in 0..4 {
        let at = clock::now() - chrono::Duration::days(30 * months_back);
        let month = facegate_core::usage::Month::of(at);
        db.execute_unprepared(&format!(
            "INSERT INTO active_users (tenant_id, month, user_id, last_active_at)
             SELECT '{t}', '{month}', 'user_' || i, now() - ({months_back} * 30 + i % 28) * interval '1 day'
             FROM generate_series(1, {users}) AS i ON CONFLICT DO NOTHING"
        ))
        .await
        .unwrap();
    }
    db.execute_unprepared("ANALYZE").await.unwrap();
    println!(
        "active_users: {users} users over 4 months in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let get = |path: &'static str| {
        let facegate = facegate.clone();
        async move {
            let request = http::Request::get(path)
                .header("authorization", format!("Bearer {KEY}"))
                .body(String::new())
                .unwrap();
            let started = Instant::now();
            let response = facegate.handle(request).await;
            let took = started.elapsed();
            assert_eq!(response.status(), 200, "{path}: {:?}", response.body());
            (took, response.into_body())
        }
    };
    let (_, body): (Duration, Bytes) = get("/v1/analytics/overview?period=90d").await;
    println!("overview 90d: {}", String::from_utf8_lossy(&body));
    for path in [
        "/v1/analytics/overview?period=90d",
        "/v1/analytics/overview?period=7d",
        "/v1/analytics/devices?period=90d",
        "/v1/analytics/failures?period=90d",
        "/v1/usage/summary",
        "/v1/usage/daily?from=2026-01-01&to=2026-12-31",
        "/v1/billing/status",
    ] {
        let mut times = Vec::with_capacity(reads);
        for _ in 0..reads {
            times.push(get(path).await.0);
        }
        report(&format!("GET {path}"), times);
    }

    // What counting adds to each request: the rollup upsert of a login's
    // four rows, and counting its user active (already counted, and new).
    let login = [
        tally(UsageMetric::Verify, "", 1, true),
        tally(UsageMetric::DeviceType, "mobile", 1, true),
        tally(UsageMetric::Browser, "Safari", 1, true),
    ];
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        store.add_usage(&tenant, today, &login).await.unwrap();
        times.push(started.elapsed());
    }
    report("add_usage (a login's 3 rows)", times);
    let mut counted = Vec::new();
    let mut new = Vec::new();
    for i in 0..200 {
        let user = UserId::from_string(format!("user_{}", i + 1));
        let started = Instant::now();
        store
            .mark_active(&tenant, &user, clock::now(), Some(1_000_000))
            .await
            .unwrap();
        counted.push(started.elapsed());
        let fresh = UserId::from_string(format!("fresh_{i}"));
        let started = Instant::now();
        store
            .mark_active(&tenant, &fresh, clock::now(), Some(1_000_000))
            .await
            .unwrap();
        new.push(started.elapsed());
    }
    report("mark_active (counted this month)", counted);
    report("mark_active (new this month, limit checked)", new);
}
