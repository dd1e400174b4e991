//! A tenant with a key and an axum app in front of a fresh store, plus a tiny
//! client that speaks JSON to it through `tower::ServiceExt::oneshot`.

use axum::Router;
use axum::body::Body;
use facegate_axum::FaceGate;
use facegate_core::StaticConsentRegistry;
use facegate_core::clock;
use facegate_core::domain::{FaceEnrollment, KeyEnvironment, User, UserStatus};
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_store_seaorm::testing::test_store;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const CONSENT_TEXT: &str = "I agree that my face is used to sign me in.";

pub struct TestApp {
    pub app: Router,
    pub facegate: FaceGate,
    pub tenant: TenantId,
    pub key: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl TestApp {
    pub async fn new() -> Self {
        let facegate = FaceGate::builder(test_store().await)
            .consent_registry(StaticConsentRegistry::new().with_version("v1", CONSENT_TEXT))
            .build();
        let (tenant, key) = new_tenant(&facegate).await;
        Self {
            app: facegate_axum::router(facegate.clone()),
            facegate,
            tenant,
            key,
        }
    }

    /// A second tenant on the same FaceGate, with its own key.
    pub async fn other_tenant(&self) -> (TenantId, String) {
        new_tenant(&self.facegate).await
    }

    /// Sends a request with this tenant's key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.key, method, path, body).await
    }

    /// Sends a request with another key.
    pub async fn call_as(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let request = request(method, path)
            .header("authorization", format!("Bearer {key}"))
            .body(json_body(body))
            .unwrap();
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        Self::send_to(self.app.clone(), request).await
    }

    pub async fn send_to(app: Router, request: Request<Body>) -> Reply {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{status}: body is not JSON: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply { status, body }
    }

    /// Stores a user with `faces` enrollments directly (enroll comes with the face engine).
    pub async fn seed_user(&self, tenant: &TenantId, name: &str, faces: usize) -> User {
        let user = User {
            id: UserId::generate(),
            tenant_id: tenant.clone(),
            name: name.into(),
            role: "guard".into(),
            email: Some(format!("{}@example.com", name.to_lowercase())),
            phone: Some("+15550100".into()),
            external_id: None,
            metadata: json!({ "team": "blue" }),
            status: UserStatus::Active,
            created_at: clock::now(),
        };
        let faces: Vec<FaceEnrollment> = (0..faces)
            .map(|_| {
                let id = FaceId::generate();
                FaceEnrollment {
                    provider_face_id: id.to_string(),
                    id,
                    tenant_id: tenant.clone(),
                    user_id: user.id.clone(),
                    provider: "local".into(),
                    angle: "front".into(),
                    confidence: 99.1,
                    enrolled_with_glasses: false,
                    template: Some(vec![0; 16]),
                    created_at: clock::now(),
                }
            })
            .collect();
        self.facegate
            .store()
            .insert_user(&user, &faces, None)
            .await
            .unwrap();
        user
    }

    /// The hash a client sends for the registered `v1` text.
    pub fn consent_hash(&self) -> String {
        facegate_core::ConsentVersion::new("v1", CONSENT_TEXT).consent_text_hash
    }
}

async fn new_tenant(facegate: &FaceGate) -> (TenantId, String) {
    let tenant = facegate.create_tenant("acme").await.unwrap();
    let minted = facegate
        .mint_api_key(&tenant.id, KeyEnvironment::Test)
        .await
        .unwrap();
    (tenant.id, minted.key.expose_secret().to_owned())
}

pub fn request(method: &str, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
}

pub fn json_body(body: Option<Value>) -> Body {
    body.map_or_else(Body::empty, |b| Body::from(b.to_string()))
}

/// Asserts the error envelope: status, `code`, and a non-empty `error` message.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.body["code"], code, "body: {}", reply.body);
    assert!(
        reply.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error message missing: {}",
        reply.body
    );
}
