//! The engine on real photos (models from scripts/fetch-models, photos from
//! scripts/fetch-testdata).

use std::sync::OnceLock;

use base64::Engine as _;
use facegate_core::domain::{FaceEnrollment, LivenessMode};
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{
    FaceError, FaceProbe, FaceProvider, FrameObservation, ImageInput, SameFace,
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
    let observed = engine()
        .observe_liveness(LivenessMode::Active, &frames)
        .await
        .unwrap();
    let reference = observed.reference.expect("a reference face");
    assert_eq!(reference.frame, 0, "active: the first frame");
    let observed: Vec<_> = observed
        .frames
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
    assert!(
        up.pitch.unwrap() - front.pitch.unwrap() > 10.0,
        "looking up: {:?}",
        up.pitch
    );
    assert_eq!(front.same_face, SameFace::Reference);
    for face in [left, right, up] {
        // Other photos: compared by embedding, never merely tracked.
        assert!(
            matches!(face.same_face, SameFace::Compared(s) if s >= THRESHOLD),
            "{:?}",
            face.same_face
        );
    }
    for face in [front, left, right, up] {
        assert!(face.eyes_open.unwrap() > 0.5);
        assert!(face.live_score > 0.5);
    }
}

/// Three camera frames of one person at 640×480, as the login bench sends
/// them: a head-and-shoulders shot that moves a little from frame to
/// frame, each re-encoded with its own noise.
fn camera_frames(path: &str) -> Vec<image::RgbImage> {
    let photo = image::open(default_testdata_dir().join(path)).unwrap();
    let photo = photo.resize(720, 960, image::imageops::FilterType::Triangle);
    [(0, 0), (24, 16), (48, 32)]
        .iter()
        .map(|&(x, y)| photo.crop_imm(x, y, 640, 480).to_rgb8())
        .collect()
}

fn jpeg(image: &image::RgbImage) -> ImageInput {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(image)
        .unwrap();
    encode(&bytes)
}

/// A passive upload runs one embedding: the reference frame's, the most
/// live; the other frames, the same face in place, are tracked.
#[tokio::test]
async fn a_passive_upload_embeds_the_reference_and_tracks_the_rest() {
    let frames: Vec<_> = camera_frames(OBAMAS[0]).iter().map(jpeg).collect();
    let observed = engine()
        .observe_liveness(LivenessMode::Passive, &frames)
        .await
        .unwrap();
    let reference = observed.reference.expect("a reference face");
    let faces: Vec<_> = observed
        .frames
        .iter()
        .map(|o| match o {
            FrameObservation::Face(face) => face,
            FrameObservation::NotOneFace => panic!("one face in every frame"),
        })
        .collect();
    let most_live = faces
        .iter()
        .map(|f| f.live_score)
        .fold(f32::NEG_INFINITY, f32::max);
    assert_eq!(faces[reference.frame].live_score, most_live);
    for (i, face) in faces.iter().enumerate() {
        let expected = if i == reference.frame {
            SameFace::Reference
        } else {
            SameFace::Tracked
        };
        assert_eq!(face.same_face, expected, "frame {i}");
        assert_eq!(
            (face.pitch, face.eyes_open),
            (None, None),
            "not measured in passive mode"
        );
    }
    // The reference face is what verify searches later, kept as bytes.
    let tenant = enrolled(OBAMAS[1]).await;
    let kept = engine().encode_probe(&reference.probe).unwrap();
    let restored = engine().decode_probe(&kept).unwrap();
    let mut confidences = Vec::new();
    for probe in [reference.probe.clone(), restored] {
        let hit = engine().search(&tenant, &probe, THRESHOLD).await.unwrap();
        confidences.push(hit.expect("Obama matches Obama").confidence);
    }
    assert_eq!(confidences[0], confidences[1]);
    assert!(engine().decode_probe(b"fgp1 too short").is_none());
    assert!(engine().decode_probe(&kept[..kept.len() - 1]).is_none());
    let mut template = kept.clone();
    template[..4].copy_from_slice(b"fgl1");
    assert!(
        engine().decode_probe(&template).is_none(),
        "a template is not a probe"
    );
    // The tag names the embedder (its hash's first 16 hex digits follow).
    let mut other_model = kept.clone();
    other_model[4] ^= 0x01;
    assert!(
        engine().decode_probe(&other_model).is_none(),
        "another model's probe"
    );
    let mut not_unit = kept.clone();
    not_unit[20..24].copy_from_slice(&3.0f32.to_le_bytes());
    assert!(
        engine().decode_probe(&not_unit).is_none(),
        "not an embedding this engine makes"
    );
}

/// Another person in place of the reference face is compared by
/// embedding, not tracked, whatever the frame's position.
#[tokio::test]
async fn another_person_in_the_same_place_is_compared_not_tracked() {
    let obama = camera_frames(OBAMAS[0]);
    let biden = camera_frames(OTHERS[0]);
    let frames = [jpeg(&obama[0]), jpeg(&biden[1]), jpeg(&obama[2])];
    let observed = engine()
        .observe_liveness(LivenessMode::Passive, &frames)
        .await
        .unwrap();
    let reference = observed.reference.expect("a reference face").frame;
    for (i, frame) in observed.frames.iter().enumerate() {
        let FrameObservation::Face(face) = frame else {
            panic!("one face in every frame");
        };
        if i != reference {
            // Obama's against Biden's, whichever the passive model trusted most.
            assert!(
                matches!(face.same_face, SameFace::Compared(s) if s < THRESHOLD),
                "frame {i}: {:?}",
                face.same_face
            );
        }
    }
}

/// The cheap check's margin, on every pair of different faces in the test
/// photos (27 faces, group photos included), placed in the same spot:
/// none comes near the likeness that counts as the same moment.
#[test]
fn no_two_faces_in_the_test_photos_look_alike_to_the_track_check() {
    use facegate_face_local::models::Models;
    use facegate_face_local::track::{MIN_LIKENESS, Track};
    let models = Models::load(&EngineConfig::default()).unwrap();
    let place = facegate_face_local::preprocess::Rect {
        x: 0.0,
        y: 0.0,
        w: 100.0,
        h: 100.0,
    };
    let mut tracks = Vec::new();
    let group_photos = (1..=6).map(|i| format!("face-api/sample{i}.jpg"));
    let paths = OBAMAS.iter().chain(&OTHERS).map(|p| p.to_string());
    for path in paths.chain(group_photos) {
        let image = image::load_from_memory(&testdata_bytes(&path))
            .unwrap()
            .to_rgb8();
        for face in models
            .detect(&image)
            .unwrap()
            .into_iter()
            .filter(|d| d.rect.w >= 40.0)
        {
            let landmarks = models.landmarks(&image, face.rect).unwrap();
            if let Some(aligned) = models.aligned(&image, &landmarks) {
                tracks.push((path.clone(), Track::of(place, &aligned)));
            }
        }
    }
    assert!(tracks.len() >= 25, "{} faces", tracks.len());
    let mut closest = f32::NEG_INFINITY;
    for (i, (a_path, a)) in tracks.iter().enumerate() {
        for (b_path, b) in &tracks[i + 1..] {
            // Another person, or the same one in another photo: either
            // way not the same moment.
            closest = closest.max(a.likeness(b));
            assert!(!a.same_moment(b), "{a_path} ~ {b_path}: {}", a.likeness(b));
        }
    }
    println!(
        "closest likeness of two different faces: {closest:.3} (same moment: ≥ {MIN_LIKENESS})"
    );
    assert!(closest < MIN_LIKENESS - 0.1, "margin: {closest}");
}

/// A stored face of `user` with `template`, as the store hands it back.
fn stored_face(tenant: &TenantId, user: &str, template: Option<Vec<u8>>) -> FaceEnrollment {
    let id = FaceId::generate();
    FaceEnrollment {
        provider_face_id: id.to_string(),
        id,
        tenant_id: tenant.clone(),
        user_id: UserId::from_string(user),
        provider: "local".into(),
        angle: "front".into(),
        confidence: 99.0,
        enrolled_with_glasses: false,
        template,
        created_at: facegate_core::clock::now(),
    }
}

#[tokio::test]
async fn a_stored_face_the_engine_cannot_read_fails_the_load() {
    // Left out, the face would let its owner enroll again as someone new.
    let source = TenantId::generate();
    let good = engine()
        .index(
            &source,
            &UserId::from_string("obama"),
            &FaceId::generate(),
            &probe(OBAMAS[0]).await,
        )
        .await
        .unwrap()
        .template;
    let tenant = TenantId::generate();
    let faces = [
        stored_face(&tenant, "obama", good),
        stored_face(&tenant, "damaged", Some(b"fgl1 cut short".to_vec())),
        stored_face(&tenant, "missing", None),
    ];
    for bad in &faces[1..] {
        let loaded = [faces[0].clone(), bad.clone()];
        let err = engine().restore(&tenant, &loaded).await.unwrap_err();
        assert!(
            matches!(&err, FaceError::Engine(why) if why.contains(&bad.id.to_string())),
            "{err}"
        );
        let err = engine()
            .apply_changes(&tenant, &loaded, &[])
            .await
            .unwrap_err();
        assert!(matches!(err, FaceError::Engine(_)), "{err}");
        assert_eq!(engine().indexed_faces(&tenant), 0, "nothing half-loaded");
    }
    // Another engine's faces are not this one's to read.
    let mut elsewhere = faces[2].clone();
    elsewhere.provider = "rekognition".into();
    engine()
        .restore(&tenant, &[faces[0].clone(), elsewhere])
        .await
        .unwrap();
    assert_eq!(engine().indexed_faces(&tenant), 1);
}
