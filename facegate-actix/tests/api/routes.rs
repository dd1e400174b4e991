//! The API through the adapter: routes, methods, keys, queries, bodies and
//! the core's body limits (actix's own must not cut first).

use actix_web::test::{self, TestRequest};
use serde_json::json;

use crate::support::{TestApp, assert_error, host, send};

#[actix_web::test]
async fn health_is_200_json_without_a_key() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let reply = send(&service, TestRequest::get().uri("/v1/health").to_request()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json()["status"], "healthy");
}

#[actix_web::test]
async fn jwks_is_served_at_the_well_known_path() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let reply = send(
        &service,
        TestRequest::get()
            .uri("/.well-known/jwks.json")
            .to_request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.json()["keys"].is_array(), "{}", reply.text);
}

#[actix_web::test]
async fn unknown_routes_are_the_cores_json_404() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    for path in ["/v1/nothing-here", "/v1", "/v1/", "/v1/users/a/b/c"] {
        let request = TestRequest::get()
            .uri(path)
            .insert_header(("x-api-key", app.key.as_str()))
            .to_request();
        assert_error(&send(&service, request).await, 404, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn wrong_method_is_a_json_405() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let request = TestRequest::put().uri("/v1/health").to_request();
    assert_error(&send(&service, request).await, 405, "METHOD_NOT_ALLOWED");
    let request = TestRequest::post()
        .uri("/v1/users")
        .insert_header(("x-api-key", app.key.as_str()))
        .set_payload("{}")
        .to_request();
    assert_error(&send(&service, request).await, 405, "METHOD_NOT_ALLOWED");
}

#[actix_web::test]
async fn api_keys_are_required_and_checked() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let request = TestRequest::get().uri("/v1/users").to_request();
    assert_error(&send(&service, request).await, 401, "MISSING_API_KEY");
    let request = TestRequest::get()
        .uri("/v1/users")
        .insert_header(("authorization", "Bearer fg_test_0000000000000000nope"))
        .to_request();
    assert_error(&send(&service, request).await, 401, "INVALID_API_KEY");
    let request = TestRequest::get()
        .uri("/v1/users")
        .insert_header(("authorization", format!("Bearer {}", app.key)))
        .to_request();
    let reply = send(&service, request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["users"], json!([]));
}

#[actix_web::test]
async fn the_query_string_reaches_the_core() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let request = TestRequest::get()
        .uri("/v1/users?limit=many")
        .insert_header(("x-api-key", app.key.as_str()))
        .to_request();
    assert_error(&send(&service, request).await, 400, "VALIDATION_FAILED");
}

#[actix_web::test]
async fn json_bodies_are_forwarded() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let body = json!({ "consent_version": "v1", "consent_text_hash": app.consent_hash() });
    let request = TestRequest::post()
        .uri("/v1/consent")
        .insert_header(("x-api-key", app.key.as_str()))
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string())
        .to_request();
    let reply = send(&service, request).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(reply.json()["consent_id"].is_string(), "{}", reply.text);

    let request = TestRequest::post()
        .uri("/v1/consent")
        .insert_header(("x-api-key", app.key.as_str()))
        .set_payload("{\"consent_version\": ")
        .to_request();
    assert_error(&send(&service, request).await, 400, "INVALID_JSON");
}

/// A POST of `$body` with this tenant's key, with or without its
/// `Content-Length` (without, the core can only find out by reading).
macro_rules! post {
    ($app:expr, $path:expr, $body:expr, $declared:expr) => {{
        let mut request = TestRequest::post()
            .uri($path)
            .insert_header(("x-api-key", $app.key.as_str()))
            .insert_header(("content-type", "application/json"))
            .set_payload($body)
            .to_request();
        if !$declared {
            request.headers_mut().remove("content-length");
        }
        request
    }};
}

#[actix_web::test]
async fn bodies_over_the_image_limit_are_the_cores_413() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    for declared in [true, false] {
        let request = post!(app, "/v1/match", vec![b' '; 7 * 1024 * 1024], declared);
        let reply = send(&service, request).await;
        assert_error(&reply, 413, "PAYLOAD_TOO_LARGE");
    }
}

#[actix_web::test]
async fn bodies_over_the_json_limit_are_the_cores_413() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    for declared in [true, false] {
        let request = post!(app, "/v1/consent", vec![b' '; 100 * 1024], declared);
        assert_error(&send(&service, request).await, 413, "PAYLOAD_TOO_LARGE");
    }
}

#[actix_web::test]
async fn bodies_past_actix_default_limit_are_not_cut() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    // 1 MB: past actix's 256 KB `PayloadConfig`, well within the image
    // limit. The body reaches the core, which reads it whole and then finds
    // it is not JSON.
    for declared in [true, false] {
        let mut body = vec![b' '; 1024 * 1024];
        body.extend_from_slice(b"not json");
        let request = post!(app, "/v1/match", body, declared);
        assert_error(&send(&service, request).await, 400, "INVALID_JSON");
    }
}

#[actix_web::test]
async fn the_api_can_be_mounted_in_a_scope() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let reply = send(
        &service,
        TestRequest::get().uri("/auth/v1/health").to_request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["status"], "healthy");
    let request = TestRequest::get()
        .uri("/auth/v1/users?limit=many")
        .insert_header(("x-api-key", app.key.as_str()))
        .to_request();
    assert_error(&send(&service, request).await, 400, "VALIDATION_FAILED");
    let reply = send(
        &service,
        TestRequest::get()
            .uri("/auth/.well-known/jwks.json")
            .to_request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[actix_web::test]
async fn metrics_are_served_by_their_own_configure_when_turned_on() {
    use actix_web::App;
    use facegate_core::FaceGate;

    let store = facegate_store_seaorm::testing::test_store().await;
    let facegate = FaceGate::builder(store.clone())
        .metrics(facegate_core::metrics::MetricsConfig::default())
        .build();
    let api = test::init_service(host(facegate.clone())).await;
    send(&api, TestRequest::get().uri("/auth/v1/health").to_request()).await;
    let metrics =
        test::init_service(App::new().configure(facegate_actix::configure_metrics(facegate))).await;
    let reply = send(&metrics, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply
            .text
            .contains(r#"facegate_requests_total{route="/v1/health",method="GET",status="2xx"} 1"#),
        "{}",
        reply.text
    );
    let off = test::init_service(App::new().configure(facegate_actix::configure_metrics(
        FaceGate::builder(store).build(),
    )))
    .await;
    assert_eq!(
        send(&off, TestRequest::get().uri("/metrics").to_request())
            .await
            .status,
        404
    );
}
