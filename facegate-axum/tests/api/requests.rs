//! Transport-level rules: unknown routes, wrong methods, body limits, bad JSON.

use axum::body::Body;
use serde_json::json;

use crate::support::{TestApp, assert_error, request};

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let app = TestApp::new().await;
    assert_error(
        &app.call("GET", "/v1/nothing-here", None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &app.call("GET", "/v1/analytics/nothing-here", None).await,
        404,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let app = TestApp::new().await;
    assert_error(
        &app.call("POST", "/v1/users", Some(json!({}))).await,
        405,
        "METHOD_NOT_ALLOWED",
    );
    assert_error(
        &app.call("PUT", "/v1/health", None).await,
        405,
        "METHOD_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::new().await;
    for body in ["{\"consent_version\": ", "not json", "", "{} {}"] {
        let request = request("POST", "/v1/consent")
            .header("x-api-key", &app.key)
            .body(Body::from(body))
            .unwrap();
        assert_error(&app.send(request).await, 400, "INVALID_JSON");
    }
}

#[tokio::test]
async fn oversized_body_is_413_with_or_without_content_length() {
    let app = TestApp::new().await;
    let big =
        json!({ "consent_version": "v1", "consent_text_hash": "a".repeat(70 * 1024) }).to_string();

    let declared = request("POST", "/v1/consent")
        .header("x-api-key", &app.key)
        .header("content-length", big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let reply = app.send(declared).await;
    assert_error(&reply, 413, "PAYLOAD_TOO_LARGE");
    assert!(reply.body["error"].as_str().unwrap().contains("65536"));

    // Streamed without a length: the limit still holds while reading.
    let chunks = big
        .into_bytes()
        .chunks(8192)
        .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
        .collect::<Vec<_>>();
    let streamed = request("POST", "/v1/consent")
        .header("x-api-key", &app.key)
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert_error(&app.send(streamed).await, 413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn auth_is_checked_before_the_body_is_read() {
    let app = TestApp::new().await;
    let big = "x".repeat(100 * 1024);
    let request = request("POST", "/v1/consent")
        .body(Body::from(big))
        .unwrap();
    assert_error(&app.send(request).await, 401, "MISSING_API_KEY");
}

#[tokio::test]
async fn the_router_can_be_nested_under_a_prefix() {
    let app = TestApp::new().await;
    let nested = axum::Router::new().nest("/auth", facegate_axum::router(app.facegate.clone()));
    let request = request("GET", "/auth/v1/users")
        .header("x-api-key", &app.key)
        .body(Body::empty())
        .unwrap();
    let reply = TestApp::send_to(nested, request).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
