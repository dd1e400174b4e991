//! A tenant with a key and an axum app in front of a fresh store, plus a tiny
//! client that speaks JSON to it through `tower::ServiceExt::oneshot`.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use facegate_axum::FaceGate;
use facegate_core::clock;
use facegate_core::domain::{FaceEnrollment, KeyEnvironment, TenantSettings, User, UserStatus};
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::{FaceGateBuilder, StaticConsentRegistry};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use facegate_store_seaorm::SeaOrmStore;
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
    store: SeaOrmStore,
    engine: Option<LocalFaceEngine>,
}

fn facegate_on(store: SeaOrmStore, engine: Option<LocalFaceEngine>) -> FaceGate {
    builder_on(store, engine).build()
}

fn builder_on(store: SeaOrmStore, engine: Option<LocalFaceEngine>) -> FaceGateBuilder {
    let builder = FaceGate::builder(store)
        .consent_registry(StaticConsentRegistry::new().with_version("v1", CONSENT_TEXT));
    match engine {
        Some(engine) => builder.face_provider(engine),
        None => builder,
    }
}

/// Models load once per test binary; every test gets its own tenants.
fn shared_engine() -> &'static LocalFaceEngine {
    static ENGINE: OnceLock<LocalFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        LocalFaceEngine::load(EngineConfig::default()).unwrap_or_else(|err| panic!("{err}"))
    })
}

pub use facegate_conformance::{camera_frame, photo, photo_bytes};

/// The photo mirrored left to right (mirroring flips the yaw the engine
/// reports: a face turned right becomes one turned left), marked as a
/// camera frame.
pub fn mirrored_photo(path: &str, quality: u8) -> String {
    let image = image::load_from_memory(&photo_bytes(path))
        .unwrap()
        .to_rgb8();
    facegate_conformance::camera_jpeg(image::imageops::flip_horizontal(&image), quality)
}

/// The photo re-encoded at this JPEG quality, marked as a camera frame.
pub fn reencoded_photo(path: &str, quality: u8) -> String {
    let image = image::load_from_memory(&photo_bytes(path))
        .unwrap()
        .to_rgb8();
    facegate_conformance::camera_jpeg(image, quality)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::build(test_store().await, None).await
    }

    /// With the local face engine (models from scripts/fetch-models).
    pub async fn with_face_engine() -> Self {
        Self::build(test_store().await, Some(shared_engine().clone())).await
    }

    /// With the local face engine and more configuration (session providers…).
    pub async fn with_face_engine_and(
        configure: impl FnOnce(FaceGateBuilder) -> FaceGateBuilder,
    ) -> Self {
        let store = test_store().await;
        let engine = Some(shared_engine().clone());
        let facegate = configure(builder_on(store.clone(), engine.clone())).build();
        Self::around(facegate, store, engine).await
    }

    async fn build(store: SeaOrmStore, engine: Option<LocalFaceEngine>) -> Self {
        let facegate = facegate_on(store.clone(), engine.clone());
        Self::around(facegate, store, engine).await
    }

    async fn around(
        facegate: FaceGate,
        store: SeaOrmStore,
        engine: Option<LocalFaceEngine>,
    ) -> Self {
        let (tenant, key) = new_tenant(&facegate).await;
        Self {
            app: facegate_axum::router(facegate.clone()),
            facegate,
            tenant,
            key,
            store,
            engine,
        }
    }

    /// The same database behind a new process: a new FaceGate and an engine
    /// with an empty index, as after a restart.
    pub fn restarted(&self) -> Self {
        self.restarted_with(|builder| builder)
    }

    /// [`TestApp::restarted`] with more configuration of the new FaceGate.
    pub fn restarted_with(
        &self,
        configure: impl FnOnce(FaceGateBuilder) -> FaceGateBuilder,
    ) -> Self {
        let engine = self.engine.as_ref().map(LocalFaceEngine::restarted);
        let facegate = configure(builder_on(self.store.clone(), engine.clone())).build();
        Self {
            app: facegate_axum::router(facegate.clone()),
            facegate,
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            store: self.store.clone(),
            engine,
        }
    }

    /// The database behind the app, for checking what is stored.
    pub fn database(&self) -> &SeaOrmStore {
        &self.store
    }

    /// Records consent to the `v1` text and returns its id.
    pub async fn consent(&self) -> String {
        let reply = self
            .call(
                "POST",
                "/v1/consent",
                Some(json!({ "consent_version": "v1", "consent_text_hash": self.consent_hash() })),
            )
            .await;
        reply.body["consent_id"].as_str().unwrap().to_owned()
    }

    /// A second tenant on the same FaceGate, with its own key.
    pub async fn other_tenant(&self) -> (TenantId, String) {
        new_tenant(&self.facegate).await
    }

    /// Sends a request with this tenant's key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.key, method, path, body).await
    }

    /// Sends a request with this tenant's key and extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder =
            request(method, path).header("authorization", format!("Bearer {}", self.key));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.send(builder.body(json_body(body)).unwrap()).await
    }

    /// Changes this tenant's settings.
    pub async fn settings(&self, change: impl FnOnce(&mut TenantSettings)) {
        self.facegate
            .update_tenant_settings(&self.tenant, change)
            .await
            .unwrap();
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
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{status}: body is not JSON: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status,
            headers,
            body,
        }
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
            payload: None,
            pin_hash: None,
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
            .insert_user(&user, &faces, None, &[])
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
