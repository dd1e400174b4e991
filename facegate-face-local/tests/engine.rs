//! The engine on real photos (models from scripts/fetch-models, photos from
//! scripts/fetch-testdata).

use std::sync::OnceLock;

use base64::Engine as _;
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{
    FaceError, FaceProbe, FaceProvider, FrameObservation, ImageInput,
};
use facegate_face_local::{
    EngineConfig, LocalFaceEngine, ModelError, ModelSet, default_model_dir, default_testdata_dir,
};

const THRESHOLD: f32 = facegate_core::domain::TenantSettings::DEFAULT_MATCH_THRESHOLD;
const OBAMAS: [&str; 5] = [
    "face_recognition/obama.jpg",
    "face_recognition/obama2.jpg",
    "face_recognition/obama3.jpg",
    "face_recognition/obama_partial_face.jpg",
    "face_recognition/obama_partial_face2.jpg",
];
const OTHERS: [&str; 2] = ["face_recognition/biden.jpg", "skimage/astronaut.png"];

fn testdata_bytes(path: &str) -> Vec<u8> {
    std::fs::read(default_testdata_dir().join(path))
        .unwrap_or_else(|err| panic!("{path}: {err} (run scripts/fetch-testdata)"))
}

fn encode(bytes: &[u8]) -> ImageInput {
    ImageInput(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn photo(path: &str) -> ImageInput {
    encode(&testdata_bytes(path))
}

fn png(image: &image::RgbImage) -> ImageInput {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    encode(&bytes)
}

fn engine() -> &'static LocalFaceEngine {
    static ENGINE: OnceLock<LocalFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        LocalFaceEngine::load(EngineConfig::default()).unwrap_or_else(|err| panic!("{err}"))
    })
}

async fn probe(path: &str) -> FaceProbe {
    engine()
        .probe(&photo(path))
        .await
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// A tenant whose only enrolled face is `path`.
async fn enrolled(path: &str) -> TenantId {
    let tenant = TenantId::generate();
    engine()
        .index(
            &tenant,
            &UserId::from_string(path),
            &FaceId::generate(),
            &probe(path).await,
        )
        .await
        .unwrap();
    tenant
}

#[tokio::test]
async fn every_obama_photo_matches_every_other_and_no_one_else() {
    for enrolled_photo in OBAMAS {
        let tenant = enrolled(enrolled_photo).await;
        for probe_photo in OBAMAS {
            let hit = engine()
                .search(&tenant, &probe(probe_photo).await, THRESHOLD)
                .await
                .unwrap();
            let hit = hit.unwrap_or_else(|| panic!("{probe_photo} should match {enrolled_photo}"));
            assert_eq!(hit.user_id.as_str(), enrolled_photo);
        }
        for stranger in OTHERS {
            let hit = engine()
                .search(&tenant, &probe(stranger).await, THRESHOLD)
                .await
                .unwrap();
            assert!(
                hit.is_none(),
                "{stranger} matched {enrolled_photo}: {hit:?}"
            );
        }
    }
}

#[tokio::test]
async fn no_face_in_the_group_photos_matches_obama() {
    let tenant = enrolled("face_recognition/obama.jpg").await;
    let mut checked = 0;
    for i in 1..=6 {
        let path = format!("face-api/sample{i}.jpg");
        let image = image::load_from_memory(&testdata_bytes(&path))
            .unwrap()
            .into_rgb8();
        let faces = engine().detect(&photo(&path)).await.unwrap();
        assert!(faces.len() >= 3, "{path}: {} faces", faces.len());
        for face in faces {
            // Each face on its own: its box with a margin, cut from the photo.
            let b = face.bounding_box;
            let (cx, cy, side) = (
                b.left + b.width / 2.0,
                b.top + b.height / 2.0,
                b.height * 1.3,
            );
            let x = (cx - side / 2.0).max(0.0) as u32;
            let y = (cy - side / 2.0).max(0.0) as u32;
            let w = (side as u32).min(image.width() - x);
            let h = (side as u32).min(image.height() - y);
            let crop = image::imageops::crop_imm(&image, x, y, w, h).to_image();
            let probe = engine()
                .probe(&png(&crop))
                .await
                .unwrap_or_else(|err| panic!("{path} face at {b:?}: {err}"));
            let hit = engine().search(&tenant, &probe, THRESHOLD).await.unwrap();
            assert!(hit.is_none(), "{path} face at {b:?} matched Obama: {hit:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 22, "every face in the six samples");
}

#[tokio::test]
async fn group_photos_are_many_faces_and_blank_images_no_face() {
    for i in 1..=6 {
        let result = engine()
            .probe(&photo(&format!("face-api/sample{i}.jpg")))
            .await;
        assert!(
            matches!(result, Err(FaceError::ManyFaces)),
            "sample{i}: {result:?}"
        );
    }
    let blank = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x / 3) as u8, (y / 2) as u8, 90])
    });
    assert!(matches!(
        engine().probe(&png(&blank)).await,
        Err(FaceError::NoFace)
    ));
    assert!(engine().detect(&png(&blank)).await.unwrap().is_empty());
}

#[tokio::test]
async fn faces_under_the_minimum_size_do_not_count() {
    let image = image::load_from_memory(&testdata_bytes("face_recognition/obama.jpg")).unwrap();
    // The face is ~314 px wide in the 910 px photo; at 1/5 it is ~63 px.
    let small = image
        .resize(182, 228, image::imageops::FilterType::Triangle)
        .into_rgb8();
    assert!(matches!(
        engine().probe(&png(&small)).await,
        Err(FaceError::NoFace)
    ));
}

#[tokio::test]
async fn a_mirrored_face_turns_the_other_way() {
    let image = image::load_from_memory(&testdata_bytes("face_recognition/obama2.jpg"))
        .unwrap()
        .into_rgb8();
    let mirrored = image::imageops::flip_horizontal(&image);
    let yaw = |faces: Vec<facegate_core::providers::face::DetectedFace>| {
        faces[0].attributes["pose"]["yaw"].as_f64().unwrap()
    };
    let original = yaw(engine().detect(&png(&image)).await.unwrap());
    let flipped = yaw(engine().detect(&png(&mirrored)).await.unwrap());
    assert!(
        original.signum() != flipped.signum(),
        "yaw {original} vs mirrored {flipped}"
    );
}

#[tokio::test]
async fn a_full_pool_answers_busy_instead_of_queueing() {
    let config = EngineConfig {
        workers: 1,
        queue: 0,
        ..EngineConfig::default()
    };
    let engine = LocalFaceEngine::load(config).unwrap();
    let image = photo("face_recognition/obama.jpg");
    let (a, b, c) = tokio::join!(
        engine.probe(&image),
        engine.probe(&image),
        engine.probe(&image)
    );
    let results = [a, b, c];
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(FaceError::Busy)))
        .count();
    let served = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!((served, busy), (1, 2), "{results:?}");
}

#[test]
fn models_with_the_wrong_hash_or_missing_are_refused_with_the_fix() {
    let mut set = ModelSet::faceplugin(&default_model_dir());
    set.detector.sha256 = "00".repeat(32);
    let err = LocalFaceEngine::load(EngineConfig::new(set)).err().unwrap();
    assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("scripts/fetch-models"));

    let missing = ModelSet::faceplugin(std::path::Path::new("/nonexistent"));
    let err = LocalFaceEngine::load(EngineConfig::new(missing))
        .err()
        .unwrap();
    assert!(matches!(err, ModelError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("scripts/fetch-models"));
}

/// What liveness challenges are judged on, as the models report it for the
/// test photos (the axum tests build their challenge frames from these).
#[tokio::test]
async fn liveness_observations_follow_head_pose_and_identity() {
    let obama2 = image::open(default_testdata_dir().join("face_recognition/obama2.jpg"))
        .unwrap()
        .to_rgb8();
    let frames = vec![
        photo("face_recognition/obama.jpg"),
        png(&image::imageops::flip_horizontal(&obama2)),
        photo("face_recognition/obama2.jpg"),
        photo("face_recognition/obama3.jpg"),
        photo("face-api/sample1.jpg"),
    ];
    let observed: Vec<_> = engine()
        .observe_liveness(&frames)
        .await
        .unwrap()
        .into_iter()
        .map(|o| match o {
            FrameObservation::Face(face) => Some(face),
            FrameObservation::NotOneFace => None,
        })
        .collect();
    let [Some(front), Some(left), Some(right), Some(up), group] = &observed[..] else {
        panic!("one face expected in each Obama photo");
    };
    assert!(group.is_none(), "a group photo is not one face");
    assert!(front.yaw.abs() < 5.0, "frontal: {}", front.yaw);
    // The mirror image flips the yaw.
    assert!(right.yaw - front.yaw > 10.0, "turned right: {}", right.yaw);
    assert!(left.yaw - front.yaw < -10.0, "mirrored: {}", left.yaw);
    assert!((left.yaw + right.yaw).abs() < 2.0);
    assert!(up.pitch - front.pitch > 10.0, "looking up: {}", up.pitch);
    for face in [front, left, right, up] {
        assert!(
            face.similarity_to_first >= THRESHOLD,
            "{}",
            face.similarity_to_first
        );
        assert!(face.eyes_open > 0.5);
        assert!(face.live_score > 0.5);
    }
}
