//! The `FaceGateAuth` middleware and the `FaceGateUser` extractors on a
//! host's own routes.

use actix_web::test::{self, TestRequest};
use facegate_core::clock;
use facegate_core::domain::{Session, User, UserStatus};
use facegate_core::ids::UserId;
use serde_json::json;

use crate::support::{Reply, TestApp, assert_error, host, send};

/// A signed-in user with `role`: a session stored directly, and its token.
async fn signed_in(app: &TestApp, role: &str) -> (User, Session, String) {
    let user = User {
        id: UserId::generate(),
        tenant_id: app.tenant.clone(),
        name: "Ada".into(),
        role: role.into(),
        email: None,
        phone: None,
        external_id: None,
        metadata: json!({}),
        payload: None,
        pin_hash: None,
        status: UserStatus::Active,
        created_at: clock::now(),
    };
    let store = app.facegate.store();
    store.insert_user(&user, &[], None, &[]).await.unwrap();
    let opened = app
        .facegate
        .open_session(&user, "dev_test", None, 98.5, 0.05)
        .await
        .unwrap();
    (user, opened.session, opened.verification_token)
}

fn get(path: &str, token: Option<&str>) -> TestRequest {
    let request = TestRequest::get().uri(path);
    match token {
        Some(token) => request.insert_header(("authorization", format!("Bearer {token}"))),
        None => request,
    }
}

#[track_caller]
fn assert_refused(reply: &Reply, status: u16, code: &str, challenge: &str) {
    assert_error(reply, status, code);
    assert_eq!(reply.header("www-authenticate"), Some(challenge));
}

#[actix_web::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let reply = send(&service, get("/api/profile", None).to_request()).await;
    assert_refused(&reply, 401, "MISSING_TOKEN", "Bearer");
    // An API key is no user token.
    let reply = send(&service, get("/api/profile", Some(&app.key)).to_request()).await;
    assert_refused(&reply, 401, "MISSING_TOKEN", "Bearer");
}

#[actix_web::test]
async fn a_valid_token_reaches_the_handler_with_its_user() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let (_, _, token) = signed_in(&app, "guard").await;
    let reply = send(&service, get("/api/profile", Some(&token)).to_request()).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "Ada"));
    // The configured cookie works too.
    let request = get("/api/profile", None)
        .insert_header(("cookie", format!("theme=dark; fg_token={token}")))
        .to_request();
    let reply = send(&service, request).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "Ada"));
}

#[actix_web::test]
async fn a_missing_role_is_403_insufficient_scope() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let (_, _, token) = signed_in(&app, "guard").await;
    let reply = send(&service, get("/api/admin", Some(&token)).to_request()).await;
    assert_refused(
        &reply,
        403,
        "INSUFFICIENT_ROLE",
        r#"Bearer error="insufficient_scope""#,
    );
    let (_, _, admin) = signed_in(&app, "admin").await;
    let reply = send(&service, get("/api/admin", Some(&admin)).to_request()).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "admin area, Ada")
    );
}

#[actix_web::test]
async fn a_session_revoked_through_the_api_is_refused_at_once() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let (_, session, token) = signed_in(&app, "guard").await;
    // Twice: the second request is served from the guard's cache.
    for _ in 0..2 {
        let reply = send(&service, get("/api/profile", Some(&token)).to_request()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let request = TestRequest::post()
        .uri(&format!("/v1/session/{}/revoke", session.id))
        .insert_header(("x-api-key", app.key.as_str()))
        .to_request();
    let reply = send(&service, request).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "revoked": true, "session_id": session.id })
    );
    let reply = send(&service, get("/api/profile", Some(&token)).to_request()).await;
    assert_refused(
        &reply,
        401,
        "INVALID_TOKEN",
        r#"Bearer error="invalid_token""#,
    );
}

#[actix_web::test]
async fn a_tampered_token_is_401_invalid_token() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    let (_, _, token) = signed_in(&app, "guard").await;
    let tampered = format!("{}x", token);
    let reply = send(&service, get("/api/profile", Some(&tampered)).to_request()).await;
    assert_refused(
        &reply,
        401,
        "INVALID_TOKEN",
        r#"Bearer error="invalid_token""#,
    );
}

#[actix_web::test]
async fn optional_users_are_none_for_anonymous_visitors() {
    let app = TestApp::new().await;
    let service = test::init_service(host(app.facegate.clone())).await;
    // Without the middleware: always anonymous.
    let reply = send(&service, get("/open", None).to_request()).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "hello stranger"));
    // A plain `FaceGateUser` without the middleware is the guard's 401.
    let reply = send(&service, get("/unguarded", None).to_request()).await;
    assert_refused(&reply, 401, "MISSING_TOKEN", "Bearer");
    // Behind the optional middleware: anonymous visitors pass as `None`, a
    // signed-in user is `Some`, and a bad token is still refused.
    let reply = send(&service, get("/hello", None).to_request()).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "hello stranger"));
    let (_, _, token) = signed_in(&app, "guard").await;
    let reply = send(&service, get("/hello", Some(&token)).to_request()).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "hello Ada"));
    let reply = send(&service, get("/hello", Some("not.a.token")).to_request()).await;
    assert_refused(
        &reply,
        401,
        "INVALID_TOKEN",
        r#"Bearer error="invalid_token""#,
    );
}
