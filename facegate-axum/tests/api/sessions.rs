//! The whole login through the axum router, then what follows it: the
//! guarded host route, session exchange, refresh-token rotation and
//! revocation.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use facegate_axum::{FaceGate, FaceGateAuthLayer, FaceGateUser};
use facegate_session_providers::SupabaseSessions;
use serde_json::{Value, json};

use crate::liveness::{FINGERPRINT, active_app, enroll_obama, live_session, passive_app, verify};
use crate::support::{Reply, TestApp, assert_error, request};

/// The host's own app: FaceGate's API plus a guarded `/api/profile`.
fn host(facegate: &FaceGate) -> Router {
    facegate_axum::router(facegate.clone()).merge(
        Router::new()
            .route(
                "/api/profile",
                get(|user: FaceGateUser| async move {
                    axum::Json(json!({ "user": user.sub, "name": user.name }))
                }),
            )
            .layer(FaceGateAuthLayer::new(facegate.clone())),
    )
}

async fn profile(app: &TestApp, token: &str, fingerprint: Option<&str>) -> Reply {
    let mut builder =
        request("GET", "/api/profile").header("authorization", format!("Bearer {token}"));
    if let Some(fp) = fingerprint {
        builder = builder.header("x-device-fingerprint", fp);
    }
    TestApp::send_to(host(&app.facegate), builder.body(Body::empty()).unwrap()).await
}

async fn verified(app: &TestApp) -> Value {
    let device = [("x-device-fingerprint", FINGERPRINT)];
    let session = live_session(app, &device).await;
    let reply = verify(app, &session, &device).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["matched"], true, "{}", reply.body);
    reply.body
}

/// `POST /v1/session` from the device the tokens are bound to.
async fn exchange(app: &TestApp, body: Option<Value>) -> Reply {
    app.call_with(
        "POST",
        "/v1/session",
        body,
        &[("x-device-fingerprint", FINGERPRINT)],
    )
    .await
}

async fn refresh(app: &TestApp, token: &Value) -> Reply {
    app.call_with(
        "POST",
        "/v1/session/refresh",
        Some(json!({ "refresh_token": token })),
        &[("x-device-fingerprint", FINGERPRINT)],
    )
    .await
}

/// The end-to-end path: consent → enroll → liveness session →
/// frames → verify → JWT → the host's guarded route → revoke → 401.
#[tokio::test]
async fn end_to_end_face_login_opens_the_guarded_route_until_revoked() {
    let app = active_app().await;
    let user_id = enroll_obama(&app).await;
    let login = verified(&app).await;
    let token = login["verification_token"].as_str().unwrap();

    let opened = profile(&app, token, Some(FINGERPRINT)).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(opened.body, json!({ "user": user_id, "name": "Barack" }));
    // Bound to the device it was issued to.
    assert_eq!(profile(&app, token, None).await.status, 401);
    assert_eq!(
        profile(&app, token, Some(&"0".repeat(64))).await.status,
        401
    );

    // Tier 2: the default provider is FaceGate's own token, same session.
    let exchanged = exchange(&app, Some(json!({ "verification_token": token }))).await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    assert_eq!(exchanged.body["refresh_token"], "");
    assert_eq!(exchanged.body["provider_session"], Value::Null);
    assert_eq!(exchanged.body["user"]["id"], user_id.as_str());
    let expires_in = exchanged.body["expires_in"].as_u64().unwrap();
    assert!((890..=900).contains(&expires_in), "{expires_in}");
    let session_token = exchanged.body["token"].as_str().unwrap();
    assert_eq!(
        profile(&app, session_token, Some(FINGERPRINT)).await.status,
        200
    );

    let session_id = login["session_id"].as_str().unwrap();
    let revoked = app
        .call("POST", &format!("/v1/session/{session_id}/revoke"), None)
        .await;
    assert_eq!(
        revoked.body,
        json!({ "revoked": true, "session_id": session_id })
    );
    for token in [token, session_token] {
        let refused = profile(&app, token, Some(FINGERPRINT)).await;
        assert_error(&refused, 401, "INVALID_TOKEN");
    }
    // A revoked session's token buys nothing else either.
    let exchange_again = exchange(&app, Some(json!({ "verification_token": token }))).await;
    assert_error(&exchange_again, 401, "INVALID_VERIFICATION_TOKEN");
    assert_error(
        &refresh(&app, &login["refresh_token"]).await,
        401,
        "INVALID_REFRESH_TOKEN",
    );
    assert_error(
        &app.call("POST", "/v1/session/sess_unknown/revoke", None)
            .await,
        404,
        "SESSION_NOT_FOUND",
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = passive_app().await;
    enroll_obama(&app).await;
    let login = verified(&app).await;
    let first = login["refresh_token"].clone();

    let rotated = refresh(&app, &first).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(rotated.body["session_id"], login["session_id"]);
    let second = rotated.body["refresh_token"].clone();
    assert_ne!(second, first);
    let new_token = rotated.body["verification_token"].as_str().unwrap();
    let claims = app
        .facegate
        .key_ring()
        .await
        .unwrap()
        .verify(new_token)
        .unwrap();
    assert_eq!(
        claims.dfp.as_deref(),
        Some(FINGERPRINT),
        "still bound to the device"
    );
    assert_eq!(
        profile(&app, new_token, Some(FINGERPRINT)).await.status,
        200
    );

    // Someone replays the first token: the whole session ends.
    assert_error(&refresh(&app, &first).await, 401, "REFRESH_TOKEN_REUSED");
    assert_error(&refresh(&app, &second).await, 401, "INVALID_REFRESH_TOKEN");
    assert_error(
        &profile(&app, new_token, Some(FINGERPRINT)).await,
        401,
        "INVALID_TOKEN",
    );

    for garbage in [json!("fgr_nope"), json!("not-a-refresh-token")] {
        assert_error(&refresh(&app, &garbage).await, 401, "INVALID_REFRESH_TOKEN");
    }
}

#[tokio::test]
async fn a_refresh_from_another_device_is_refused() {
    let app = passive_app().await;
    enroll_obama(&app).await;
    let login = verified(&app).await;
    let elsewhere = app
        .call_with(
            "POST",
            "/v1/session/refresh",
            Some(json!({ "refresh_token": login["refresh_token"] })),
            &[("x-device-fingerprint", &"1".repeat(64))],
        )
        .await;
    assert_error(&elsewhere, 401, "INVALID_REFRESH_TOKEN");
}

#[tokio::test]
async fn providers_the_host_did_not_register_answer_501_and_bad_tokens_401() {
    let app = passive_app().await;
    enroll_obama(&app).await;
    let token = verified(&app).await["verification_token"].clone();
    for provider in ["supabase", "auth0", "firebase"] {
        let reply = exchange(
            &app,
            Some(json!({ "verification_token": token, "provider": provider })),
        )
        .await;
        assert_error(&reply, 501, "PROVIDER_NOT_IMPLEMENTED");
    }
    let unknown = exchange(
        &app,
        Some(json!({ "verification_token": token, "provider": "okta" })),
    )
    .await;
    assert_error(&unknown, 400, "VALIDATION_FAILED");
    let forged = exchange(
        &app,
        Some(json!({ "verification_token": "eyJhbGciOiJub25lIn0.e30." })),
    )
    .await;
    assert_error(&forged, 401, "INVALID_VERIFICATION_TOKEN");
    // Another tenant's key cannot exchange this tenant's token.
    let (_, other_key) = app.other_tenant().await;
    let reply = app
        .call_as(
            &other_key,
            "POST",
            "/v1/session",
            Some(json!({ "verification_token": token })),
        )
        .await;
    assert_error(&reply, 401, "INVALID_VERIFICATION_TOKEN");
}

#[tokio::test]
async fn a_registered_supabase_provider_mints_a_token_for_the_verified_user() {
    let secret = "super-secret-jwt-token-with-at-least-32-characters";
    let app = TestApp::with_face_engine_and(|builder| {
        builder.session_provider(SupabaseSessions::new(secret))
    })
    .await;
    app.settings(|s| s.liveness.mode = facegate_core::domain::LivenessMode::Passive)
        .await;
    let user_id = enroll_obama(&app).await;
    let token = verified(&app).await["verification_token"].clone();
    let reply = exchange(
        &app,
        Some(json!({ "verification_token": token, "provider": "supabase" })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["authenticated"]);
    let claims = jsonwebtoken::decode::<Value>(
        reply.body["token"].as_str().unwrap(),
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["email"], "barack@example.com");
    assert_eq!(
        claims["user_metadata"]["facegate_user_id"],
        user_id.as_str()
    );
    assert_eq!(reply.body["user"]["id"], user_id.as_str());
}

#[tokio::test]
async fn suspending_a_user_ends_their_sessions_at_once() {
    let app = passive_app().await;
    let user_id = enroll_obama(&app).await;
    let login = verified(&app).await;
    let token = login["verification_token"].as_str().unwrap();
    assert_eq!(profile(&app, token, Some(FINGERPRINT)).await.status, 200);
    let suspended = app
        .call(
            "PATCH",
            &format!("/v1/users/{user_id}/status"),
            Some(json!({ "status": "suspended" })),
        )
        .await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    assert_error(
        &profile(&app, token, Some(FINGERPRINT)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &refresh(&app, &login["refresh_token"]).await,
        401,
        "INVALID_REFRESH_TOKEN",
    );
}

/// Providers are configured per tenant: a tenant's own Supabase project
/// signs its sessions, and a tenant without one gets 501.
#[tokio::test]
async fn session_providers_are_configured_per_tenant() {
    let secret = "tenant-a-supabase-jwt-secret-with-32-characters";
    let first = passive_app().await;
    enroll_obama(&first).await;
    let (other, _) = first.other_tenant().await;
    let theirs = first.restarted_with(|builder| {
        builder.session_provider_for(other.clone(), SupabaseSessions::new(secret))
    });
    let token = verified(&theirs).await["verification_token"].clone();
    let refused = exchange(
        &theirs,
        Some(json!({ "verification_token": token, "provider": "supabase" })),
    )
    .await;
    assert_error(&refused, 501, "PROVIDER_NOT_IMPLEMENTED");

    let ours = first.restarted_with(|builder| {
        builder.session_provider_for(first.tenant.clone(), SupabaseSessions::new(secret))
    });
    let token = verified(&ours).await["verification_token"].clone();
    let reply = exchange(
        &ours,
        Some(json!({ "verification_token": token, "provider": "supabase" })),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["authenticated"]);
    jsonwebtoken::decode::<Value>(
        reply.body["token"].as_str().unwrap(),
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap();
}
