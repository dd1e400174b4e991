use serde_json::json;

use crate::support::{TestApp, request};

#[tokio::test]
async fn every_request_leaves_an_audit_event() {
    let app = TestApp::new().await;
    let ada = app.seed_user(&app.tenant, "Ada", 1).await;
    let request = request("GET", &format!("/v1/users/{}", ada.id))
        .header("x-api-key", &app.key)
        .header("user-agent", "facegate-tests/1.0")
        .header("x-device-id", "dev_kiosk_7")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, 200);
    app.call(
        "PATCH",
        "/v1/users/user_missing/status",
        Some(json!({ "status": "locked" })),
    )
    .await;

    let events = app
        .facegate
        .store()
        .audit_events(&app.tenant, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let (failed, served) = (&events[0], &events[1]);
    assert_eq!(served.method, "GET");
    assert_eq!(served.route, "/v1/users/:id");
    assert_eq!(served.resource_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(served.status, 200);
    assert_eq!(served.error_code, None);
    assert_eq!(served.user_agent.as_deref(), Some("facegate-tests/1.0"));
    assert_eq!(served.device_id.as_deref(), Some("dev_kiosk_7"));
    assert_eq!(failed.route, "/v1/users/:id/status");
    assert_eq!(failed.status, 404);
    assert_eq!(failed.error_code.as_deref(), Some("USER_NOT_FOUND"));
}

/// Requests that never reach a tenant (no key, a bad key) are written within
/// a budget per instance and minute, so an attacker cannot grow the trail at
/// line rate.
#[tokio::test]
async fn unauthenticated_failures_are_sampled() {
    let app = TestApp::new().await;
    for _ in 0..100 {
        let reply = app
            .send(
                request("GET", "/v1/users")
                    .header("x-api-key", "fg_test_0000000000000000nope")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    // Deleting everything up to tomorrow counts what was written.
    let written = app
        .facegate
        .store()
        .prune_audit(facegate_core::clock::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        written,
        u64::from(facegate_core::UNAUTHENTICATED_PER_MINUTE)
    );
}

/// The retention sweep deletes events older than the retention, and only those.
#[tokio::test]
async fn the_audit_trail_keeps_its_retention() {
    let app = TestApp::new().await;
    app.call("GET", "/v1/users", None).await;
    let old = facegate_core::domain::AuditEvent {
        id: "0000000000000000000000000000old1".into(),
        tenant_id: Some(app.tenant.clone()),
        method: "GET".into(),
        route: "/v1/users".into(),
        resource_id: None,
        status: 200,
        error_code: None,
        note: None,
        latency_ms: 1,
        user_agent: None,
        device_id: None,
        created_at: facegate_core::clock::now() - chrono::Duration::days(401),
    };
    app.facegate.store().record_audit(&old).await.unwrap();
    // The first request also started a sweep in the background: either
    // sweep may be the one that deletes the old event.
    let report = app.facegate.run_maintenance().await;
    assert!(report.audit_events_deleted <= 1);
    let left = app
        .facegate
        .store()
        .audit_events(&app.tenant, 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].id, old.id);
}
