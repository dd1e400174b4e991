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

/// `metrics_router`: the scrape, in OpenMetrics text, when metrics are on.
#[tokio::test]
async fn metrics_are_served_on_their_own_router_when_turned_on() {
    use axum::body::Body;
    use facegate_core::FaceGate;
    use tower::ServiceExt;

    let store = facegate_store_seaorm::testing::test_store().await;
    let facegate = FaceGate::builder(store.clone())
        .metrics(facegate_core::metrics::MetricsConfig::default())
        .build();
    facegate_axum::router(facegate.clone())
        .oneshot(request("GET", "/v1/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let scrape = |facegate: FaceGate| async move {
        facegate_axum::metrics_router(facegate)
            .oneshot(request("GET", "/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap()
    };
    let response = scrape(facegate).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        facegate_core::metrics::CONTENT_TYPE
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(r#"facegate_requests_total{route="/v1/health",method="GET",status="2xx"} 1"#),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    let off = scrape(FaceGate::builder(store).build()).await;
    assert_eq!(off.status(), 404);
}
