//! The same engine checks as `peer.rs`, against real AWS Rekognition.
//! Ignored: run by hand with credentials in the environment (AWS_REGION
//! and the usual chain), allowed the actions in docs/rekognition.md:
//!
//! ```sh
//! AWS_REGION=eu-west-1 cargo test -p facegate-face-rekognition --test aws -- --ignored
//! ```
//!
//! Each run works in collections of its own (`facegate-test-{pid}-…`) and
//! deletes them at the end. It costs a few cents of Rekognition calls.

mod common;

use facegate_core::providers::face::{FaceProvider, ProviderLivenessResult};
use facegate_face_rekognition::{RekognitionConfig, RekognitionEngine, https_client};

#[tokio::test]
#[ignore = "calls real AWS: needs credentials and costs money"]
async fn real_rekognition() {
    let prefix = format!("facegate-test-{}-", std::process::id());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await;
    let engine = RekognitionEngine::new(
        &sdk,
        RekognitionConfig {
            collection_prefix: prefix.clone(),
            ..Default::default()
        },
    );
    engine.health().await.expect("AWS answers ListCollections");
    let tenant = common::faces_round_trip(&engine).await;

    let faces = engine
        .detect(&common::photo("face_recognition/obama.jpg"))
        .await
        .unwrap();
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0].attributes["gender"]["value"], "male");

    // A Face Liveness session nobody streamed to is pending.
    let started = engine.start_liveness(&tenant).await.unwrap();
    assert_eq!(started.region.as_deref(), sdk.region().map(|r| r.as_ref()));
    assert!(matches!(
        engine
            .finish_liveness(&tenant, &started.session_id)
            .await
            .unwrap(),
        ProviderLivenessResult::Pending
    ));

    let client = aws_sdk_rekognition::Client::new(&sdk);
    let collection = format!("{prefix}{tenant}");
    client
        .delete_collection()
        .collection_id(&collection)
        .send()
        .await
        .unwrap_or_else(|err| panic!("delete {collection}: {err:?}"));
}
