//! The Rekognition engine against the local Rekognition peer, over HTTP,
//! signed with SigV4 (the peer checks every signature). Needs the models
//! and test photos (scripts/fetch-models, scripts/fetch-testdata).

mod common;

use std::sync::OnceLock;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use base64::Engine as _;
use common::photo;
use facegate_core::providers::face::{FaceError, FaceProvider, ImageInput};
use facegate_face_local::{EngineConfig, LocalFaceEngine, default_testdata_dir};
use facegate_face_rekognition::{RekognitionConfig, RekognitionEngine, https_client};
use facegate_rekognition_peer::{AwsError, Peer, PeerCredentials};

const KEY_ID: &str = "AKIDFACEGATETEST";
const SECRET: &str = "facegate-test-secret";

fn local_engine() -> &'static LocalFaceEngine {
    static ENGINE: OnceLock<LocalFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        LocalFaceEngine::load(EngineConfig::default()).unwrap_or_else(|err| panic!("{err}"))
    })
}

/// Obama and Biden in one picture.
fn side_by_side() -> ImageInput {
    let open = |path: &str| {
        image::open(default_testdata_dir().join(path))
            .unwrap()
            .to_rgb8()
    };
    let (left, right) = (
        open("face_recognition/obama.jpg"),
        open("face_recognition/biden.jpg"),
    );
    let mut both = image::RgbImage::new(
        left.width() + right.width(),
        left.height().max(right.height()),
    );
    image::imageops::overlay(&mut both, &left, 0, 0);
    image::imageops::overlay(&mut both, &right, i64::from(left.width()), 0);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&both)
        .unwrap();
    ImageInput(base64::engine::general_purpose::STANDARD.encode(jpeg))
}

/// A fresh peer on a free port, and its endpoint.
async fn peer() -> (Peer, String) {
    Peer::start_local(
        local_engine(),
        PeerCredentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            account_id: "111122223333".into(),
        },
    )
    .await
    .unwrap()
}

/// The SDK's configuration for the peer at `endpoint`, signing with `secret`.
async fn sdk_for(endpoint: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(KEY_ID, secret, None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(https_client())
        .load()
        .await
}

async fn engine_with(endpoint: &str, secret: &str) -> RekognitionEngine {
    RekognitionEngine::new(
        &sdk_for(endpoint, secret).await,
        RekognitionConfig::default(),
    )
}

#[tokio::test]
async fn faces_are_indexed_searched_and_deleted_in_the_tenants_collection() {
    let (peer, endpoint) = peer().await;
    let engine = engine_with(&endpoint, SECRET).await;
    common::faces_round_trip(&engine).await;

    // One CreateCollection for the tenant's two operations that needed it.
    let calls = peer.calls();
    assert_eq!(calls["CreateCollection"], 1, "{calls:?}");
    assert_eq!(calls["IndexFaces"], 1, "{calls:?}");
}

#[tokio::test]
async fn detect_attributes_come_in_the_local_engines_shape() {
    let (_peer, endpoint) = peer().await;
    let engine = engine_with(&endpoint, SECRET).await;
    let image = photo("face_recognition/obama.jpg");
    let faces = engine.detect(&image).await.unwrap();
    let local = local_engine().detect(&image).await.unwrap();
    assert_eq!(faces.len(), 1);
    let (face, local) = (&faces[0], &local[0]);
    // Boxes in pixels, as the local engine reports them (ratios × size).
    for (ours, theirs) in [
        (face.bounding_box.left, local.bounding_box.left),
        (face.bounding_box.top, local.bounding_box.top),
        (face.bounding_box.width, local.bounding_box.width),
    ] {
        assert!((ours - theirs).abs() < 1.0, "{ours} vs {theirs}");
    }
    for key in [
        "age_range",
        "gender",
        "eyes_open",
        "pose",
        "sharpness",
        "brightness",
    ] {
        assert!(
            !face.attributes[key].is_null(),
            "{key} missing: {}",
            face.attributes
        );
    }
    assert_eq!(face.attributes["gender"]["value"], "male");
    assert_eq!(
        face.attributes["eyes_open"]["left"],
        local.attributes["eyes_open"]["left"]
    );
    let age = face.estimated_age.unwrap();
    assert!((age - local.estimated_age.unwrap()).abs() <= 1.0);

    // Probe rules as the local engine's: one face, big enough.
    assert!(matches!(
        engine.probe(&side_by_side()).await,
        Err(FaceError::ManyFaces)
    ));
}

#[tokio::test]
async fn bad_images_cost_no_call_and_aws_errors_map_to_face_errors() {
    let (peer, endpoint) = peer().await;
    let engine = engine_with(&endpoint, SECRET).await;
    let not_an_image = ImageInput(base64::engine::general_purpose::STANDARD.encode(b"GIF89a"));
    assert!(matches!(
        engine.detect(&not_an_image).await,
        Err(FaceError::InvalidImage(_))
    ));
    assert!(!peer.calls().contains_key("DetectFaces"));

    // Throttled beyond the SDK's three attempts: busy (503 ENGINE_BUSY).
    let throttled = AwsError::new(400, "ThrottlingException", "Rate exceeded");
    peer.fail_next(vec![throttled.clone(); 3]);
    assert!(matches!(
        engine.probe(&photo("face_recognition/obama.jpg")).await,
        Err(FaceError::Busy)
    ));
    // Throttled once: the SDK's retry absorbs it.
    peer.fail_next([throttled]);
    engine
        .probe(&photo("face_recognition/obama.jpg"))
        .await
        .unwrap();

    // A wrong secret: the peer refuses the signature, the engine says so.
    let wrong = engine_with(&endpoint, "not-the-secret").await;
    match wrong.health().await {
        Err(FaceError::Engine(message)) => {
            assert!(message.contains("InvalidSignatureException"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    engine.health().await.unwrap();
}

#[tokio::test]
async fn only_temporary_credentials_go_to_a_browser() {
    use aws_credential_types::provider::SharedCredentialsProvider;
    let (peer, endpoint) = peer().await;
    let sdk = sdk_for(&endpoint, SECRET).await;
    let with = |browser: Credentials| {
        let mut config = RekognitionConfig::default();
        config.liveness.browser_credentials = Some(SharedCredentialsProvider::new(browser));
        RekognitionEngine::new(&sdk, config)
    };
    let tenant = facegate_core::ids::TenantId::generate();
    // The host's own long-term keys (no session token, no expiry): refused,
    // and no session is made at AWS for nothing.
    let long_term = with(Credentials::new(KEY_ID, SECRET, None, None, "host"));
    match long_term.start_liveness(&tenant).await {
        Err(FaceError::Engine(message)) => assert!(message.contains("not temporary"), "{message}"),
        other => panic!("{:?}", other.map(|s| s.session_id)),
    }
    assert!(!peer.calls().contains_key("CreateFaceLivenessSession"));
    // Temporary ones are handed out.
    let expiry = std::time::SystemTime::now() + std::time::Duration::from_secs(900);
    let temporary = with(Credentials::new(
        "ASIATEMP",
        "s",
        Some("t".into()),
        Some(expiry),
        "sts",
    ));
    let started = temporary.start_liveness(&tenant).await.unwrap();
    assert_eq!(started.credentials.unwrap().access_key_id, "ASIATEMP");
    assert_eq!(peer.calls()["CreateFaceLivenessSession"], 1);
}
