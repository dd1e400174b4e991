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
