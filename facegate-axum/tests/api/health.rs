use crate::support::{TestApp, json_body, request};

#[tokio::test]
async fn health_needs_no_key_and_reports_the_database() {
    let app = TestApp::new().await;
    let reply = app
        .send(request("GET", "/v1/health").body(json_body(None)).unwrap())
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["status"], "healthy");
    assert_eq!(reply.body["checks"]["db"]["status"], "ok");
    assert!(reply.body["checks"]["db"]["latencyMs"].is_u64());
    assert_eq!(reply.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(reply.body["uptime_seconds"].is_u64());
    assert!(reply.body["provider"].is_null());
}

#[tokio::test]
async fn health_is_503_when_the_database_is_unreachable() {
    use facegate_core::FaceGate;

    let store = facegate_store_seaorm::testing::test_store().await;
    let facegate = FaceGate::builder(store.clone()).build();
    store.connection().clone().close().await.unwrap();
    let app = facegate_axum::router(facegate);
    let reply = TestApp::send_to(
        app,
        request("GET", "/v1/health").body(json_body(None)).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body["status"], "unhealthy");
    assert_eq!(reply.body["checks"]["db"]["status"], "error");
}
