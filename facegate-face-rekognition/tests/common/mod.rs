//! What both runs check (the local peer in `peer.rs`, real AWS in
//! `aws.rs`): the engine through Rekognition's real protocol.

use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{FaceProvider, ImageInput};
use facegate_face_local::default_testdata_dir;
use facegate_face_rekognition::RekognitionEngine;

use base64::Engine as _;

pub const THRESHOLD: f32 = facegate_core::domain::TenantSettings::DEFAULT_MATCH_THRESHOLD;

pub fn photo(path: &str) -> ImageInput {
    let bytes = std::fs::read(default_testdata_dir().join(path))
        .unwrap_or_else(|err| panic!("{path}: {err} (run scripts/fetch-testdata)"));
    ImageInput(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Index, search (same man, another man, another tenant), delete (twice,
/// and where there is no collection) in a fresh tenant's collection.
#[allow(dead_code)] // each test file uses what it needs
pub async fn faces_round_trip(engine: &RekognitionEngine) -> TenantId {
    let tenant = TenantId::generate();
    let obama = UserId::generate();

    // Nothing enrolled yet: no collection, no match, no error.
    let probe = engine
        .probe(&photo("face_recognition/obama.jpg"))
        .await
        .unwrap();
    assert_eq!(
        engine.search(&tenant, &probe, THRESHOLD).await.unwrap(),
        None
    );

    let face_id = FaceId::generate();
    let indexed = engine
        .index(&tenant, &obama, &face_id, &probe)
        .await
        .unwrap();
    assert_eq!(
        indexed.template, None,
        "Rekognition keeps its own embeddings"
    );

    // Another photo of the same man matches; another person does not.
    let again = engine
        .probe(&photo("face_recognition/obama2.jpg"))
        .await
        .unwrap();
    let hit = engine
        .search(&tenant, &again, THRESHOLD)
        .await
        .unwrap()
        .expect("Obama matches Obama");
    assert_eq!(hit.user_id, obama);
    assert_eq!(hit.provider_face_id, indexed.provider_face_id);
    assert!(hit.confidence >= THRESHOLD);
    let biden = engine
        .probe(&photo("face_recognition/biden.jpg"))
        .await
        .unwrap();
    assert_eq!(
        engine.search(&tenant, &biden, THRESHOLD).await.unwrap(),
        None
    );
    // Another tenant's collection does not hold him.
    assert_eq!(
        engine
            .search(&TenantId::generate(), &again, THRESHOLD)
            .await
            .unwrap(),
        None
    );

    engine
        .delete(&tenant, std::slice::from_ref(&indexed.provider_face_id))
        .await
        .unwrap();
    assert_eq!(
        engine.search(&tenant, &again, THRESHOLD).await.unwrap(),
        None
    );
    // Deleting again, or in a tenant with no collection, is no error.
    engine
        .delete(&tenant, std::slice::from_ref(&indexed.provider_face_id))
        .await
        .unwrap();
    engine
        .delete(&TenantId::generate(), &["missing".into()])
        .await
        .unwrap();

    tenant
}
