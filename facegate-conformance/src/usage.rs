//! Analytics, usage and plans: what the API counts as it serves, read back
//! through `/v1/analytics/*`, `/v1/usage/*` and `/v1/billing/status`, and
//! the plan's gate and hard limit.

use facegate_core::FaceGate;
use facegate_core::domain::{KeyEnvironment, LivenessMode};
use facegate_core::usage::{Plan, PlanFeature, Plans};
use serde_json::{Value, json};

use crate::cases::{BIDEN, FINGERPRINT, OBAMA, OBAMA_2, OBAMA_3, checked_session, enroll_obama};
use crate::policy::stranger_session;
use crate::signals::{batch, now_ms, signal};
use crate::{Adapter, Engine, Fixture, Reply, photo};

const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

const DEVICE: [(&str, &str); 1] = [("x-device-fingerprint", FINGERPRINT)];

const ROUTES: [&str; 6] = [
    "/v1/analytics/overview",
    "/v1/analytics/devices",
    "/v1/analytics/failures",
    "/v1/usage/summary",
    "/v1/usage/daily",
    "/v1/billing/status",
];

/// A login from a device with this user agent; the reply.
async fn login<A: Adapter>(fx: &Fixture<A>, session: &str, user_agent: &str) -> Reply {
    fx.call_with(
        "POST",
        "/v1/verify",
        Some(json!({ "liveness_session_id": session })),
        &[("user-agent", user_agent), DEVICE[0]],
    )
    .await
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn this_month() -> String {
    chrono::Utc::now().format("%Y-%m").to_string()
}

case!(
    /// One enrollment, one match, a login from a phone, a failed one from a
    /// desktop, a refresh and a client's retries: each route reports them,
    /// to server keys of this tenant only.
    analytics_and_usage_count_what_happened(fx) {
        fx.settings(|s| s.liveness.mode = LivenessMode::Passive).await;
        let user_id = enroll_obama(&fx).await;
        fx.call("POST", "/v1/match", Some(json!({ "image": photo(OBAMA_3) }))).await.assert_ok(200);
        let session = checked_session(&fx, &DEVICE, &[OBAMA, OBAMA_2, OBAMA_3]).await;
        let signed_in = login(&fx, &session, PHONE).await;
        let refresh_token = signed_in.assert_ok(200)["refresh_token"].as_str().unwrap().to_owned();
        login(&fx, "lv_nope", DESKTOP).await.assert_error(404, "LIVENESS_SESSION_NOT_FOUND");
        fx.call_with("POST", "/v1/session/refresh", Some(json!({ "refresh_token": refresh_token })), &DEVICE)
            .await
            .assert_ok(200);
        let signals = batch(vec![signal("attempt", now_ms()), signal("retry", now_ms()), signal("retry", now_ms())]);
        fx.call("POST", "/v1/signals", Some(signals.clone())).await.assert_ok(202);
        // A resent batch is not counted again.
        fx.call("POST", "/v1/signals", Some(signals)).await.assert_ok(202);
        // Nor is what never reached a handler or could not be read: a
        // page's (public) key cannot pad the counts with junk.
        let client = fx
            .facegate
            .mint_client_key(&fx.tenant, KeyEnvironment::Test, Default::default())
            .await
            .unwrap();
        let client_bearer = format!("Bearer {}", client.key.expose_secret());
        fx.raw("POST", "/v1/match", &[("authorization", &client_bearer), ("content-type", "application/json")], "{}")
            .await
            .assert_error(403, "INSUFFICIENT_SCOPE");
        fx.call("POST", "/v1/verify", Some(json!({}))).await.assert_error(400, "VALIDATION_FAILED");
        fx.raw("POST", "/v1/verify", &[("authorization", &client_bearer), ("content-type", "application/json")], "{")
            .await
            .assert_error(400, "INVALID_JSON");

        let overview = fx.call("GET", "/v1/analytics/overview", None).await;
        let overview = overview.assert_ok(200);
        assert_eq!(overview["total_attempts"], 2, "{overview}");
        assert_eq!(overview["success_rate"], 0.5);
        assert!(overview["avg_confidence"].as_f64().unwrap() > 90.0, "{overview}");
        assert!(overview["avg_latency_ms"].is_u64());
        assert_eq!(overview["active_users"], 1);
        assert_eq!(overview["period"], "30d");
        let week = fx.call("GET", "/v1/analytics/overview?period=7d", None).await;
        assert_eq!(week.assert_ok(200)["period"], "7d");
        assert_eq!(week.body["total_attempts"], 2);
        for bad in ["?period=1y", "?period=", "?since=2026"] {
            fx.call("GET", &format!("/v1/analytics/overview{bad}"), None)
                .await
                .assert_error(400, "VALIDATION_FAILED");
        }

        let devices = fx.call("GET", "/v1/analytics/devices?period=90d", None).await;
        assert_eq!(
            devices.assert_ok(200)["device_types"],
            json!([
                { "name": "desktop", "attempts": 1, "successes": 0, "success_rate": 0.0 },
                { "name": "mobile", "attempts": 1, "successes": 1, "success_rate": 1.0 },
            ])
        );
        let browsers: Vec<&str> = devices.body["browsers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        assert_eq!(browsers, ["Chrome", "Safari"]);

        let failures = fx.call("GET", "/v1/analytics/failures", None).await;
        let failures = failures.assert_ok(200);
        assert_eq!(failures["total_failures"], 1);
        assert_eq!(
            failures["top_errors"],
            json!([{ "code": "LIVENESS_SESSION_NOT_FOUND", "count": 1, "share": 0.5 }])
        );
        assert_eq!(
            failures["retries"],
            json!({ "attempts": 2, "successful_logins": 1, "attempts_per_success": 2.0, "client_attempts": 1, "client_retries": 2 })
        );

        let summary = fx.call("GET", "/v1/usage/summary", None).await;
        assert_eq!(
            summary.assert_ok(200),
            &json!({ "period": this_month(), "verify_count": 2, "enroll_count": 1, "match_count": 1, "refresh_count": 1, "mau": 1 })
        );
        let before = fx.call("GET", "/v1/usage/summary?period=2026-01", None).await;
        assert_eq!(before.assert_ok(200)["verify_count"], 0);
        for bad in ["2026-13", "1999-01", "2026-5", "may"] {
            fx.call("GET", &format!("/v1/usage/summary?period={bad}"), None)
                .await
                .assert_error(400, "VALIDATION_FAILED");
        }

        let today = today();
        let daily = fx.call("GET", &format!("/v1/usage/daily?from={today}&to={today}"), None).await;
        assert_eq!(
            daily.assert_ok(200)["days"],
            json!([{ "date": today, "verify_count": 2, "enroll_count": 1, "match_count": 1, "refresh_count": 1 }])
        );
        let month = fx.call("GET", "/v1/usage/daily", None).await;
        assert_eq!(month.assert_ok(200)["days"].as_array().unwrap().len(), 30);
        for bad in [
            "from=2026-02-01&to=2026-01-01".to_owned(),
            "from=2025-01-01&to=2026-01-03".to_owned(),
            "from=2026-02-30".to_owned(),
            format!("from={today}&to=tomorrow"),
        ] {
            fx.call("GET", &format!("/v1/usage/daily?{bad}"), None)
                .await
                .assert_error(400, "VALIDATION_FAILED");
        }
        let year = fx.call("GET", "/v1/usage/daily?from=2025-01-01&to=2026-01-01", None).await;
        assert_eq!(year.assert_ok(200)["days"].as_array().unwrap().len(), 366);

        let status = fx.call("GET", "/v1/billing/status", None).await;
        assert_eq!(
            status.assert_ok(200),
            &json!({
                "plan": "self_hosted", "plan_display_name": "Self-hosted", "price_monthly": 0.0,
                "mau_count": 1, "mau_limit": null, "verify_count": 2, "enroll_count": 1,
                "overage_mau": 0, "overage_cost": 0.0, "period": this_month(), "hard_limit": false,
            })
        );

        // No billing provider: the spec's 503, for the keyless webhook too.
        for (route, body) in [("/v1/billing/checkout", Some(json!({ "plan": "pro" }))), ("/v1/billing/portal", None)] {
            let refused = fx.call("POST", route, body).await;
            refused.assert_error(503, "BILLING_NOT_CONFIGURED");
            assert_eq!(refused.body["error"], "billing_not_configured");
            fx.raw("POST", route, &[("authorization", &client_bearer)], "")
                .await
                .assert_error(403, "INSUFFICIENT_SCOPE");
        }
        fx.raw("POST", "/v1/webhooks/stripe", &[("stripe-signature", "t=1,v1=00")], "{}")
            .await
            .assert_error(503, "BILLING_NOT_CONFIGURED");

        // A page's key reads none of it; another tenant reads its own zeros.
        let other = fx.facegate.create_tenant("other").await.unwrap();
        let other_key = fx.facegate.mint_api_key(&other.id, KeyEnvironment::Test).await.unwrap();
        let other_bearer = format!("Bearer {}", other_key.key.expose_secret());
        for route in ROUTES {
            fx.raw("GET", route, &[("authorization", &client_bearer)], "")
                .await
                .assert_error(403, "INSUFFICIENT_SCOPE");
            let theirs = fx.raw("GET", route, &[("authorization", &other_bearer)], "").await;
            let theirs = theirs.assert_ok(200).to_string();
            assert!(!theirs.contains(&user_id), "{route}: {theirs}");
            for counted in ["\"total_attempts\":2", "\"verify_count\":2", "\"mau_count\":1"] {
                assert!(!theirs.contains(counted), "{route}: {theirs}");
            }
        }
    }
);

/// The host's plans in these cases: a free plan of one user, no analytics;
/// a paid one with analytics and overage.
pub(crate) fn plans() -> Plans {
    Plans::new([
        Plan::new("free", "Free").hard_mau_limit(1),
        Plan::new("pro", "Pro")
            .price_monthly(99.0)
            .mau_limit(1000, 0.05)
            .feature(PlanFeature::Analytics),
    ])
    .unwrap()
}

pub async fn plans_gate_analytics_and_hold_a_hard_limit<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(facegate_core::FaceGate) -> Fut,
    Fut: std::future::Future<Output = A>,
{
    let fx = Fixture::configured(make, engine, |builder| builder.plans(plans())).await;
    fx.settings(|s| s.liveness.mode = LivenessMode::Passive)
        .await;
    let gated = fx.call("GET", "/v1/analytics/overview", None).await;
    gated.assert_error(403, "FEATURE_NOT_IN_PLAN");
    assert_eq!(gated.body["plan"], "free");
    assert_eq!(gated.body["feature"], "analytics");
    // Usage and the plan's status are every plan's.
    let status = fx.call("GET", "/v1/billing/status", None).await;
    assert_eq!(status.assert_ok(200)["plan"], "free");
    assert_eq!(status.body["mau_limit"], 1);
    assert_eq!(status.body["hard_limit"], true);

    // Two people enroll while nobody is active; the first to sign in takes
    // the plan's one user, the second is refused until next month.
    enroll_obama(&fx).await;
    let biden = fx
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "name": "Joe", "role": "user", "consent_id": fx.consent().await, "face_image": photo(BIDEN) })),
        )
        .await;
    biden.assert_ok(201);
    let obama = checked_session(&fx, &DEVICE, &[OBAMA, OBAMA_2, OBAMA_3]).await;
    login(&fx, &obama, DESKTOP).await.assert_ok(200);
    let joe = stranger_session(&fx, &DEVICE).await;
    let refused = login(&fx, &joe, DESKTOP).await;
    refused.assert_error(429, "USAGE_LIMIT_REACHED");
    assert_eq!(refused.body["mau_limit"], 1);
    let resets_at =
        chrono::DateTime::parse_from_rfc3339(refused.body["resets_at"].as_str().unwrap()).unwrap();
    assert!(
        resets_at > chrono::Utc::now() && resets_at.format("%d %H:%M").to_string() == "01 00:00"
    );
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=31 * 86_400).contains(&retry_after), "{retry_after}");
    // A third person cannot enroll: checked before the image is read.
    let third = fx
        .call(
            "POST",
            "/v1/enroll",
            Some(json!({ "name": "C", "role": "user", "consent_id": fx.consent().await, "face_image": "not an image" })),
        )
        .await;
    third.assert_error(429, "USAGE_LIMIT_REACHED");
    // The counted user keeps signing in.
    let again = checked_session(&fx, &DEVICE, &[OBAMA_3, OBAMA, OBAMA_2]).await;
    login(&fx, &again, DESKTOP).await.assert_ok(200);
    let status = fx.call("GET", "/v1/billing/status", None).await;
    assert_eq!(status.assert_ok(200)["mau_count"], 1);
    // The refusal was a login attempt like any other.
    let failures = fx.call("GET", "/v1/usage/summary", None).await;
    assert_eq!(failures.assert_ok(200)["verify_count"], 3);

    // Upgraded: analytics open, no hard limit, the price and overage shown.
    fx.facegate
        .set_tenant_plan(&fx.tenant, "pro")
        .await
        .unwrap();
    assert!(
        fx.facegate
            .set_tenant_plan(&fx.tenant, "gold")
            .await
            .is_err()
    );
    let overview = fx.call("GET", "/v1/analytics/overview", None).await;
    assert_eq!(overview.assert_ok(200)["total_attempts"], 3);
    let failures = fx.call("GET", "/v1/analytics/failures", None).await;
    assert_eq!(
        failures.assert_ok(200)["top_errors"][0]["code"],
        "USAGE_LIMIT_REACHED"
    );
    let joe = stranger_session(&fx, &DEVICE).await;
    login(&fx, &joe, PHONE).await.assert_ok(200);
    let status = fx.call("GET", "/v1/billing/status", None).await;
    let status: &Value = status.assert_ok(200);
    assert_eq!(status["plan"], "pro");
    assert_eq!(status["plan_display_name"], "Pro");
    assert_eq!(status["price_monthly"], 99.0);
    assert_eq!(status["mau_count"], 2);
    assert_eq!(status["mau_limit"], 1000);
    assert_eq!(status["overage_mau"], 0);
}

pub async fn metrics_count_requests_logins_and_liveness<A, F, Fut>(make: F, engine: Engine)
where
    A: Adapter,
    F: FnOnce(facegate_core::FaceGate) -> Fut,
    Fut: std::future::Future<Output = A>,
{
    let fx = Fixture::configured(make, engine, |builder| {
        builder.metrics(facegate_core::metrics::MetricsConfig { per_tenant: true })
    })
    .await;
    fx.settings(|s| s.liveness.mode = LivenessMode::Passive)
        .await;
    enroll_obama(&fx).await;
    let session = checked_session(&fx, &DEVICE, &[OBAMA, OBAMA_2, OBAMA_3]).await;
    login(&fx, &session, PHONE).await.assert_ok(200);
    login(&fx, &session, PHONE)
        .await
        .assert_error(400, "LIVENESS_SESSION_CONSUMED");
    fx.raw("GET", "/v1/users/user_secret_id", &[], "")
        .await
        .assert_error(401, "MISSING_API_KEY");
    fx.raw("GET", "/v1/no/such/route", &[], "")
        .await
        .assert_error(404, "NOT_FOUND");

    let text = fx.facegate.metrics_text().await.expect("metrics are on");
    let tenant = fx.tenant.as_str();
    for line in [
        r#"facegate_requests_total{route="/v1/enroll",method="POST",status="2xx"} 1"#,
        r#"facegate_requests_total{route="/v1/verify",method="POST",status="2xx"} 1"#,
        r#"facegate_requests_total{route="/v1/verify",method="POST",status="4xx"} 1"#,
        r#"facegate_requests_total{route="(unmatched)",method="GET",status="4xx"} 1"#,
        r#"facegate_request_duration_seconds_count{route="/v1/verify"} 2"#,
        r#"facegate_liveness_checks_total{outcome="live"} 1"#,
        "facegate_webhook_backlog 0",
    ] {
        assert!(text.contains(line), "no {line} in:\n{text}");
    }
    for line in [
        format!(r#"facegate_logins_total{{outcome="success",tenant="{tenant}"}} 1"#),
        format!(
            r#"facegate_logins_total{{outcome="LIVENESS_SESSION_CONSUMED",tenant="{tenant}"}} 1"#
        ),
    ] {
        assert!(text.contains(&line), "no {line} in:\n{text}");
    }
    // Route templates, never raw paths or ids.
    assert!(
        !text.contains("user_secret_id") && !text.contains("no/such"),
        "{text}"
    );
    // The engine is shared by the cases running at once: its figures are
    // at least this case's.
    let figure = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .parse()
            .unwrap()
    };
    assert!(figure("facegate_engine_inferences_total") >= 4.0, "{text}");
    assert!(
        figure("facegate_engine_inference_seconds_total") > 0.0,
        "{text}"
    );
    assert!(figure("facegate_index_faces") >= 1.0, "{text}");
    assert!(
        figure("facegate_engine_inferences_running") >= 0.0,
        "{text}"
    );
    assert!(
        figure("facegate_engine_inferences_waiting") >= 0.0,
        "{text}"
    );

    // Off unless asked for.
    let quiet = FaceGate::builder(facegate_store_seaorm::testing::test_store().await).build();
    assert_eq!(quiet.metrics_text().await, None);
}
