//! `/demo`: the try-it page and its keyless routes on the demo tenant.

use std::time::Duration;

use axum::body::Body;
use facegate_core::domain::{LivenessMode, Tenant, TenantSettings, TenantStatus, User, UserStatus};
use facegate_core::ids::{TenantId, UserId};
use facegate_core::{ClientAddr, DemoConfig};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::liveness::{frames_body, frames_for};
use crate::support::{Reply, TestApp, assert_error, json_body, photo, request};

const BIDEN: &str = "face_recognition/biden.jpg";

async fn demo_app(configure: impl FnOnce(&mut DemoConfig)) -> TestApp {
    let mut demo = DemoConfig::default();
    demo.settings.liveness.mode = LivenessMode::Passive;
    configure(&mut demo);
    TestApp::with_face_engine_and(|builder| builder.demo(demo)).await
}

/// A keyless call, as the demo page makes it, from `client`.
async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    client: [u8; 4],
) -> Reply {
    let mut request = request(method, path).body(json_body(body)).unwrap();
    request
        .extensions_mut()
        .insert(ClientAddr(std::net::IpAddr::from(client)));
    app.send(request).await
}

const VISITOR: [u8; 4] = [203, 0, 113, 7];

/// A passive ceremony through the demo routes, with these frames.
async fn demo_session(app: &TestApp, frames: impl FnOnce(&Value) -> Vec<String>) -> String {
    let started = call(app, "POST", "/demo/liveness-session", None, VISITOR).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let id = started.body["session_id"].as_str().unwrap().to_owned();
    let frames = frames(&started.body["challenge"]);
    let judged = call(
        app,
        "POST",
        &format!("/demo/liveness-session/{id}/frames"),
        Some(frames_body(&started.body["challenge"]["nonce"], &frames)),
        VISITOR,
    )
    .await;
    assert_eq!(judged.body["is_live"], true, "{}", judged.body);
    id
}

#[tokio::test]
async fn the_demo_is_off_unless_the_host_turns_it_on() {
    let app = TestApp::with_face_engine().await;
    for (method, path) in [
        ("GET", "/demo"),
        ("GET", "/demo/preflight"),
        ("POST", "/demo/enroll"),
    ] {
        assert_error(
            &call(&app, method, path, None, VISITOR).await,
            404,
            "NOT_FOUND",
        );
    }
}

#[tokio::test]
async fn the_page_is_html_framed_only_by_the_embed_origins() {
    let app = demo_app(|demo| demo.embed_origins = vec!["https://shop.example".into()]).await;
    let response = app
        .app
        .clone()
        .oneshot(request("GET", "/demo").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-security-policy"],
        "frame-ancestors 'self' https://shop.example"
    );
    let html = response.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(
        html.contains("/v1/sdk/facegate-widget.js"),
        "the page runs the widget"
    );

    let preflight = call(&app, "GET", "/demo/preflight", None, VISITOR).await;
    assert_eq!(preflight.status, 200, "{}", preflight.body);
    assert_eq!(preflight.body["ready"], true);
    assert_eq!(preflight.body["face_engine"], "local");
    assert_eq!(preflight.body["liveness"]["mode"], "passive");
    assert_eq!(preflight.body["pin"]["mode"], "when_ambiguous");
    assert_eq!(preflight.body["consent"]["consent_version"], "v1");
    assert_eq!(
        preflight.body["consent"]["consent_text_hash"],
        app.consent_hash()
    );
    assert_eq!(preflight.body["data_ttl_hours"], 24);
    assert_eq!(
        preflight.body["embed_origins"],
        json!(["https://shop.example"])
    );
}

#[tokio::test]
async fn a_visitor_enrolls_and_logs_in_without_an_api_key() {
    let app = demo_app(|_| {}).await;
    let consent = call(
        &app,
        "POST",
        "/demo/consent",
        Some(json!({ "consent_version": "v1", "consent_text_hash": app.consent_hash() })),
        VISITOR,
    )
    .await;
    assert_eq!(consent.status, 201, "{}", consent.body);
    let consent_id = consent.body["consent_id"].clone();

    // Only from a ceremony: an uploaded photo is refused.
    let uploaded = call(
        &app,
        "POST",
        "/demo/enroll",
        Some(json!({ "consent_id": consent_id, "face_image": photo(BIDEN) })),
        VISITOR,
    )
    .await;
    assert_error(&uploaded, 400, "VALIDATION_FAILED");

    let session = demo_session(&app, frames_for).await;
    let payload = json!({ "email": "barack@example.com" });
    let enrolled = call(
        &app,
        "POST",
        "/demo/enroll",
        Some(
            json!({ "consent_id": consent_id, "liveness_session_id": session, "payload": payload }),
        ),
        VISITOR,
    )
    .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    // The estimate itself is the model's (obama.jpg sits near its boundary).
    let gender = enrolled.body["details"]["gender"].as_str().unwrap();
    assert!(["male", "female"].contains(&gender), "{gender}");

    let session = demo_session(&app, frames_for).await;
    let verified = call(
        &app,
        "POST",
        "/demo/verify",
        Some(json!({ "liveness_session_id": session })),
        VISITOR,
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["matched"], true);
    assert_eq!(verified.body["user"]["id"], enrolled.body["user_id"]);
    assert_eq!(verified.body["user"]["name"], "Demo user");
    assert_eq!(verified.body["payload"], payload);

    // Someone else is live but unknown.
    let stranger = demo_session(&app, |_| {
        vec![
            photo(BIDEN),
            crate::support::reencoded_photo(BIDEN, 90),
            crate::support::reencoded_photo(BIDEN, 85),
        ]
    })
    .await;
    let unknown = call(
        &app,
        "POST",
        "/demo/verify",
        Some(json!({ "liveness_session_id": stranger })),
        VISITOR,
    )
    .await;
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert_eq!(unknown.body["matched"], false);

    // The demo's people live in the demo tenant, not in the host's.
    let listed = app.call("GET", "/v1/users", None).await;
    assert_eq!(listed.body["users"], json!([]), "{}", listed.body);
}

#[tokio::test]
async fn each_client_is_rate_limited_on_its_own() {
    let app = demo_app(|demo| demo.requests_per_minute = 2).await;
    for _ in 0..2 {
        let started = call(&app, "POST", "/demo/liveness-session", None, VISITOR).await;
        assert_eq!(started.status, 200, "{}", started.body);
    }
    let limited = call(&app, "POST", "/demo/liveness-session", None, VISITOR).await;
    assert_error(&limited, 429, "RATE_LIMITED");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Reading the page's settings is not limited, nor is another visitor.
    assert_eq!(
        call(&app, "GET", "/demo/preflight", None, VISITOR)
            .await
            .status,
        200
    );
    let other = call(
        &app,
        "POST",
        "/demo/liveness-session",
        None,
        [198, 51, 100, 1],
    )
    .await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[tokio::test]
async fn demo_users_are_deleted_after_the_data_ttl() {
    let app = demo_app(|demo| demo.data_ttl = Duration::from_secs(24 * 3600)).await;
    let store = app.facegate.store();
    let demo = TenantId::from_string("ten_demo");
    store
        .insert_tenant(&Tenant {
            id: demo.clone(),
            name: "FaceGate demo".into(),
            status: TenantStatus::Active,
            settings: TenantSettings::default(),
            created_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let user = |hours_ago: i64| User {
        id: UserId::generate(),
        tenant_id: demo.clone(),
        name: "Demo user".into(),
        role: "user".into(),
        email: None,
        phone: None,
        external_id: None,
        metadata: json!({}),
        payload: None,
        pin_hash: None,
        status: UserStatus::Active,
        created_at: chrono::Utc::now() - chrono::Duration::hours(hours_ago),
    };
    let (old, fresh) = (user(25), user(1));
    for user in [&old, &fresh] {
        store.insert_user(user, &[], None, &[]).await.unwrap();
    }
    let consent = |hours_ago: i64| facegate_core::domain::ConsentRecord {
        id: facegate_core::ids::ConsentId::generate(),
        tenant_id: demo.clone(),
        user_id: None,
        consent_version: "v1".into(),
        consent_text_hash: "00".into(),
        consented_at: chrono::Utc::now() - chrono::Duration::hours(hours_ago),
        revoked_at: None,
    };
    let (old_consent, fresh_consent) = (consent(25), consent(1));
    for record in [&old_consent, &fresh_consent] {
        store.insert_consent(record).await.unwrap();
    }

    // The first demo request sweeps; the stored settings give way to the config's.
    let preflight = call(&app, "GET", "/demo/preflight", None, VISITOR).await;
    assert_eq!(preflight.body["liveness"]["mode"], "passive");
    assert!(
        store.user(&demo, &old.id).await.unwrap().is_none(),
        "expired"
    );
    assert!(
        store.user(&demo, &fresh.id).await.unwrap().is_some(),
        "kept"
    );
    // Their consents go with them.
    assert!(
        store
            .consent(&demo, &old_consent.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .consent(&demo, &fresh_consent.id)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_suspended_demo_tenant_takes_no_one_in() {
    let app = demo_app(|_| {}).await;
    let ready = call(&app, "GET", "/demo/preflight", None, VISITOR).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    // The operator suspends the demo on a running instance: it holds at
    // once, though the demo tenant was loaded before.
    app.facegate
        .store()
        .set_tenant_status(
            &TenantId::demo(),
            TenantStatus::Suspended,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let started = call(&app, "POST", "/demo/liveness-session", None, VISITOR).await;
    assert_error(&started, 403, "TENANT_SUSPENDED");
}
