//! The guard layer on a host's own routes, and its attacks.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use facegate_axum::{FaceGate, FaceGateAuthLayer, FaceGateUser};
use facegate_core::domain::{Session, User};
use facegate_core::guard::GuardConfig;
use facegate_core::token::Claims;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::support::{TestApp, request};

const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// A host app: `/api/profile` behind the guard, `/api/admin` needing the
/// `admin` role, `/hello` open to all but greeting signed-in users by name.
fn host(app: &TestApp) -> Router {
    host_on(&app.facegate)
}

fn host_on(facegate: &FaceGate) -> Router {
    let guarded = Router::new()
        .route(
            "/api/profile",
            get(|user: FaceGateUser| async move { user.name.clone() }),
        )
        .layer(FaceGateAuthLayer::new(facegate.clone()).cookie("fg_token"));
    let admin = Router::new()
        .route("/api/admin", get(|| async { "admin area" }))
        .layer(FaceGateAuthLayer::new(facegate.clone()).require_role("admin"));
    let open = Router::new().route(
        "/hello",
        get(|user: Option<FaceGateUser>| async move {
            user.map_or("hello stranger".to_owned(), |u| format!("hello {}", u.name))
        }),
    );
    guarded.merge(admin).merge(open)
}

async fn signed_in(
    app: &TestApp,
    role: &str,
    fingerprint: Option<&str>,
) -> (User, Session, String) {
    let mut user = app.seed_user(&app.tenant, "Ada", 1).await;
    user.role = role.to_owned();
    let opened = app
        .facegate
        .open_session(&user, "dev_test", fingerprint, 98.5, 0.05)
        .await
        .unwrap();
    (user, opened.session, opened.verification_token)
}

async fn get_with(
    app: &TestApp,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, String, Option<String>) {
    get_from(host(app), path, headers).await
}

async fn get_from(
    host: Router,
    path: &str,
    headers: &[(&str, String)],
) -> (u16, String, Option<String>) {
    let mut builder = request("GET", path);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let response = tower::ServiceExt::oneshot(host, builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        challenge,
    )
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

#[track_caller]
fn assert_invalid_token((status, body, challenge): (u16, String, Option<String>)) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token""#)
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "INVALID_TOKEN");
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_user() {
    let app = TestApp::new().await;
    let (_, _, token) = signed_in(&app, "guard", None).await;
    let (status, body, _) = get_with(&app, "/api/profile", &[bearer(&token)]).await;
    assert_eq!((status, body.as_str()), (200, "Ada"));
    let (_, body, _) = get_with(&app, "/hello", &[]).await;
    assert_eq!(body, "hello stranger");
}

#[tokio::test]
async fn no_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::new().await;
    let (status, body, challenge) = get_with(&app, "/api/profile", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert!(body.contains("MISSING_TOKEN"));
    // An API key is not a user token.
    let (status, _, _) = get_with(&app, "/api/profile", &[bearer(&app.key)]).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_token_may_come_from_the_configured_cookie() {
    let app = TestApp::new().await;
    let (_, _, token) = signed_in(&app, "guard", None).await;
    let cookie = ("cookie", format!("theme=dark; fg_token={token}"));
    let (status, body, _) = get_with(&app, "/api/profile", &[cookie]).await;
    assert_eq!((status, body.as_str()), (200, "Ada"));
}

#[tokio::test]
async fn a_session_revoked_through_the_api_is_refused_at_once() {
    let app = TestApp::new().await;
    let (_, session, token) = signed_in(&app, "guard", None).await;
    // Twice: the second request is served from the guard's cache.
    for _ in 0..2 {
        assert_eq!(
            get_with(&app, "/api/profile", &[bearer(&token)]).await.0,
            200
        );
    }
    let revoked = app
        .call("POST", &format!("/v1/session/{}/revoke", session.id), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(
        revoked.body,
        json!({ "revoked": true, "session_id": session.id })
    );
    assert_invalid_token(get_with(&app, "/api/profile", &[bearer(&token)]).await);
}

#[tokio::test]
async fn a_revocation_by_another_instance_is_seen_by_an_uncached_guard_at_once() {
    let app = TestApp::new().await;
    let (_, session, token) = signed_in(&app, "guard", None).await;
    let uncached = host_on(
        &FaceGate::builder_with_store(app.facegate.store().clone())
            .guard(GuardConfig {
                session_recheck: std::time::Duration::ZERO,
                ..GuardConfig::default()
            })
            .build(),
    );
    assert_eq!(
        get_from(uncached.clone(), "/api/profile", &[bearer(&token)])
            .await
            .0,
        200
    );
    // Another instance on the same database revokes the session.
    let other = app.restarted();
    let revoked = other
        .call("POST", &format!("/v1/session/{}/revoke", session.id), None)
        .await;
    assert_eq!(revoked.status, 200);
    // An instance that rechecks every request refuses at once; one with
    // the default cache within `session_recheck` (not asserted: timing).
    assert_invalid_token(get_from(uncached, "/api/profile", &[bearer(&token)]).await);
}

#[tokio::test]
async fn tampered_expired_misaddressed_and_confused_tokens_are_refused() {
    let app = TestApp::new().await;
    let (_, _, token) = signed_in(&app, "guard", None).await;
    let ring = app.facegate.key_ring().await.unwrap();
    let claims: Claims = {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };

    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&Claims {
            role: "admin".into(),
            ..claims.clone()
        })
        .unwrap(),
    );
    parts[1] = &forged;
    assert_invalid_token(get_with(&app, "/api/profile", &[bearer(&parts.join("."))]).await);

    let expired = Claims {
        exp: claims.iat - 120,
        nbf: claims.iat - 900,
        ..claims.clone()
    };
    assert_invalid_token(
        get_with(
            &app,
            "/api/profile",
            &[bearer(&ring.sign(&expired).unwrap())],
        )
        .await,
    );

    let elsewhere = Claims {
        aud: "another-service".into(),
        ..claims.clone()
    };
    assert_invalid_token(
        get_with(
            &app,
            "/api/profile",
            &[bearer(&ring.sign(&elsewhere).unwrap())],
        )
        .await,
    );

    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({ "alg": "none", "kid": kid }).to_string());
    let none = format!("{none_header}.{}.", token.split('.').nth(1).unwrap());
    assert_invalid_token(get_with(&app, "/api/profile", &[bearer(&none)]).await);

    let jwks = serde_json::to_value(ring.jwks()).unwrap();
    let public = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid);
    let confused =
        jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(&public)).unwrap();
    assert_invalid_token(get_with(&app, "/api/profile", &[bearer(&confused)]).await);
}

#[tokio::test]
async fn a_device_bound_token_works_only_on_its_device() {
    let app = TestApp::new().await;
    let (_, _, token) = signed_in(&app, "guard", Some(FINGERPRINT)).await;
    let own = ("x-device-fingerprint", FINGERPRINT.to_owned());
    assert_eq!(
        get_with(&app, "/api/profile", &[bearer(&token), own])
            .await
            .0,
        200
    );
    let other = ("x-device-fingerprint", "0".repeat(64));
    assert_invalid_token(get_with(&app, "/api/profile", &[bearer(&token), other]).await);
    assert_invalid_token(get_with(&app, "/api/profile", &[bearer(&token)]).await);
}

#[tokio::test]
async fn a_route_needing_a_role_refuses_others_with_403() {
    let app = TestApp::new().await;
    let (_, _, guard_token) = signed_in(&app, "guard", None).await;
    let (status, body, challenge) = get_with(&app, "/api/admin", &[bearer(&guard_token)]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("INSUFFICIENT_ROLE"));
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="insufficient_scope""#)
    );
    let (_, _, admin_token) = signed_in(&app, "admin", None).await;
    assert_eq!(
        get_with(&app, "/api/admin", &[bearer(&admin_token)])
            .await
            .0,
        200
    );
}
