//! A FaceGate on a fresh store with the face engine of the run (the local
//! engine, or Rekognition through a local Rekognition peer), a tenant and
//! its key, behind the adapter under test; and a small JSON client for it.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use bytes::Bytes;
use facegate_core::domain::{KeyEnvironment, TenantSettings};
use facegate_core::ids::TenantId;
use facegate_core::{FaceGate, FaceGateBuilder, StaticConsentRegistry};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;

use crate::{Adapter, Engine};

pub const CONSENT_TEXT: &str = "I agree that my face is used to sign me in.";

pub struct Fixture<A> {
    pub app: A,
    pub facegate: FaceGate,
    pub tenant: TenantId,
    pub key: String,
    /// The Rekognition peer the engine calls, on a Rekognition run.
    pub peer: Option<facegate_rekognition_peer::Peer>,
    /// The store's database, for cases that move a record back in time
    /// (an old face, a session verified long ago).
    pub db: facegate_store_seaorm::SeaOrmStore,
}

/// An answer: status, headers, and the body parsed as JSON (`Null` if empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope: status, JSON content type, `code`, and a message.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert!(
            self.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "error message missing: {}",
            self.body
        );
        assert_json(self);
    }

    #[track_caller]
    pub fn assert_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_json(self);
        &self.body
    }
}

#[track_caller]
fn assert_json(reply: &Reply) {
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{:?}",
        reply.headers
    );
}

/// Models load once per test binary.
pub(crate) fn engine() -> &'static LocalFaceEngine {
    static ENGINE: OnceLock<LocalFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        LocalFaceEngine::load(EngineConfig::default()).unwrap_or_else(|err| panic!("{err}"))
    })
}

/// The peer's keys, and the temporary ones the browser gets.
const PEER_KEY_ID: &str = "AKIDFACEGATECONFORMANCE";
const PEER_SECRET: &str = "facegate-conformance-secret";
pub const BROWSER_KEY_ID: &str = "ASIAFACEGATEBROWSER";

/// A Rekognition engine on a fresh peer of its own (any free port).
async fn rekognition() -> (
    facegate_face_rekognition::RekognitionEngine,
    facegate_rekognition_peer::Peer,
) {
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    let (peer, endpoint) = facegate_rekognition_peer::Peer::start_local(
        engine(),
        facegate_rekognition_peer::PeerCredentials {
            access_key_id: PEER_KEY_ID.into(),
            secret_access_key: PEER_SECRET.into(),
            account_id: "111122223333".into(),
        },
    )
    .await
    .expect("the Rekognition peer binds a local port");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            PEER_KEY_ID,
            PEER_SECRET,
            None,
            None,
            "conformance",
        ))
        .endpoint_url(endpoint)
        .http_client(facegate_face_rekognition::https_client())
        .load()
        .await;
    let config = facegate_face_rekognition::RekognitionConfig {
        liveness: facegate_face_rekognition::LivenessConfig {
            browser_credentials: Some(SharedCredentialsProvider::new(Credentials::new(
                BROWSER_KEY_ID,
                "browser-secret",
                Some("browser-session-token".into()),
                Some(std::time::SystemTime::now() + std::time::Duration::from_secs(3600)),
                "conformance",
            ))),
            ..Default::default()
        },
        ..Default::default()
    };
    (
        facegate_face_rekognition::RekognitionEngine::new(&sdk, config),
        peer,
    )
}

impl<A: Adapter> Fixture<A> {
    pub async fn new<F, Fut>(make: F, engine: Engine) -> Self
    where
        F: FnOnce(FaceGate) -> Fut,
        Fut: Future<Output = A>,
    {
        Self::configured(make, engine, |builder| builder).await
    }

    /// With more configuration of the FaceGate under test.
    pub async fn configured<F, Fut>(
        make: F,
        engine_kind: Engine,
        configure: impl FnOnce(FaceGateBuilder) -> FaceGateBuilder,
    ) -> Self
    where
        F: FnOnce(FaceGate) -> Fut,
        Fut: Future<Output = A>,
    {
        let store = facegate_store_seaorm::testing::test_store().await;
        let db = store.clone();
        // Any case may register a local receiver (crate::receiver). Threat
        // learning is off: the fixture's camera shows the same photos in
        // every ceremony, and cases fail on purpose; the threat cases
        // (crate::threats) turn it on.
        let builder = FaceGate::builder(store)
            .consent_registry(StaticConsentRegistry::new().with_version("v1", CONSENT_TEXT))
            .webhooks(crate::events::fast_webhooks())
            .threats(facegate_core::threat::ThreatConfig::off());
        let (builder, peer) = match engine_kind {
            Engine::Local => (builder.face_provider(engine().clone()), None),
            Engine::Rekognition => {
                let (rekognition, peer) = rekognition().await;
                (builder.face_provider(rekognition), Some(peer))
            }
        };
        let facegate = configure(builder).build();
        let tenant = facegate.create_tenant("conformance").await.unwrap();
        let key = facegate
            .mint_api_key(&tenant.id, KeyEnvironment::Test)
            .await
            .unwrap()
            .key
            .expose_secret()
            .to_owned();
        Self {
            app: make(facegate.clone()).await,
            facegate,
            tenant: tenant.id,
            key,
            peer,
            db,
        }
    }

    pub fn engine(&self) -> Engine {
        match self.peer {
            Some(_) => Engine::Rekognition,
            None => Engine::Local,
        }
    }

    /// A GET whose answer is not JSON (the SDK module): status, headers, text.
    pub async fn get_text(&self, path: &str) -> (StatusCode, HeaderMap, String) {
        let request = Request::builder().uri(path).body(Bytes::new()).unwrap();
        let (parts, bytes) = self.app.send(request).await.into_parts();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    /// Sends a request as is.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.app.send(request.body(body.into()).unwrap()).await;
        let (parts, bytes) = response.into_parts();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{method} {path} → {}: body is not JSON: {:?}",
                    parts.status,
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Sends JSON with this tenant's API key and extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let auth = format!("Bearer {}", self.key);
        let mut all = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        all.extend_from_slice(headers);
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        self.raw(method, path, &all, body).await
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn settings(&self, change: impl FnOnce(&mut TenantSettings)) {
        self.facegate
            .update_tenant_settings(&self.tenant, change)
            .await
            .unwrap();
    }

    /// Records consent to the `v1` text and returns its id.
    pub async fn consent(&self) -> String {
        let hash = facegate_core::ConsentVersion::new("v1", CONSENT_TEXT).consent_text_hash;
        let reply = self
            .call(
                "POST",
                "/v1/consent",
                Some(serde_json::json!({ "consent_version": "v1", "consent_text_hash": hash })),
            )
            .await;
        reply.assert_ok(201)["consent_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A photo from scripts/fetch-testdata, base64-encoded.
pub fn photo(path: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(photo_bytes(path))
}

/// The photo as a camera would send it: a JPEG with a 16×16 patch in the
/// top-left corner that differs on every call. No two ceremonies of a real
/// camera upload the same pixels, and the server refuses a live session
/// whose reference frame another session had (a captured upload replayed).
pub fn camera_frame(path: &str) -> String {
    let image = image::load_from_memory(&photo_bytes(path))
        .unwrap_or_else(|err| panic!("{path}: {err}"))
        .to_rgb8();
    camera_jpeg(image, 95)
}

/// `image` marked as by [`camera_frame`], as base64 JPEG of this quality.
pub fn camera_jpeg(mut image: image::RgbImage, quality: u8) -> String {
    static SHOT: AtomicU32 = AtomicU32::new(1);
    let [low, high, ..] = SHOT.fetch_add(1, Ordering::Relaxed).to_le_bytes();
    let patch = image::Rgb([low, high, 0x80]);
    for y in 0..16.min(image.height()) {
        for x in 0..16.min(image.width()) {
            image.put_pixel(x, y, patch);
        }
    }
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(&image)
        .expect("an RGB image encodes as JPEG");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A photo from scripts/fetch-testdata, as stored.
pub fn photo_bytes(path: &str) -> Vec<u8> {
    std::fs::read(facegate_face_local::default_testdata_dir().join(path))
        .unwrap_or_else(|err| panic!("{path}: {err} (run scripts/fetch-testdata)"))
}
