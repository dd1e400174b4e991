//! The engine on real photos (fetched by scripts/fetch-models and
//! scripts/fetch-testdata).

use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine as _;
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{FaceError, FaceProvider, ImageInput};
use facegate_face_local::{EngineConfig, LocalFaceEngine};

fn testdata(path: &str) -> ImageInput {
    let dir = std::env::var_os("FACEGATE_TESTDATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/facegate/testdata")
        });
    let bytes = std::fs::read(dir.join(path))
        .unwrap_or_else(|err| panic!("{path}: {err} (run scripts/fetch-testdata)"));
    ImageInput(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn engine() -> &'static LocalFaceEngine {
    static ENGINE: OnceLock<LocalFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        LocalFaceEngine::load(EngineConfig::default()).unwrap_or_else(|err| panic!("{err}"))
    })
}

#[tokio::test]
async fn similarity_table() {
    let engine = engine();
    let names = [
        "face_recognition/obama.jpg",
        "face_recognition/obama2.jpg",
        "face_recognition/obama3.jpg",
        "face_recognition/biden.jpg",
        "face_recognition/obama_partial_face.jpg",
        "face_recognition/obama_partial_face2.jpg",
        "skimage/astronaut.png",
    ];
    let tenant = TenantId::generate();
    for name in names {
        let probe = engine.probe(&testdata(name)).await;
        match probe {
            Ok(probe) => {
                println!(
                    "{name}: {:?} age {:?} angle {}",
                    probe.face.bounding_box, probe.face.estimated_age, probe.angle
                );
                let user = UserId::from_string(name);
                engine
                    .index(&tenant, &user, &FaceId::generate(), &probe)
                    .await
                    .unwrap();
            }
            Err(err) => println!("{name}: {err}"),
        }
    }
    for name in names {
        if let Ok(probe) = engine.probe(&testdata(name)).await {
            let hit = engine.search(&tenant, &probe, 0.0).await.unwrap();
            println!(
                "search {name} -> {:?}",
                hit.map(|h| (h.user_id, h.confidence))
            );
        }
    }
    for i in 1..=6 {
        let name = format!("face-api/sample{i}.jpg");
        let faces = engine.detect(&testdata(&name)).await.unwrap();
        println!(
            "{name}: {} faces: {:?}",
            faces.len(),
            faces
                .iter()
                .map(|f| (f.bounding_box.width, f.confidence))
                .collect::<Vec<_>>()
        );
        match engine.probe(&testdata(&name)).await {
            Err(FaceError::ManyFaces) => println!("  many"),
            other => println!("  probe: {:?}", other.map(|p| p.face.bounding_box)),
        }
    }
}

#[tokio::test]
async fn cross_table() {
    let engine = engine();
    let names = [
        "face_recognition/obama.jpg",
        "face_recognition/obama2.jpg",
        "face_recognition/obama3.jpg",
        "face_recognition/obama_partial_face.jpg",
        "face_recognition/obama_partial_face2.jpg",
        "face_recognition/biden.jpg",
        "skimage/astronaut.png",
    ];
    let mut probes = Vec::new();
    for name in names {
        probes.push(engine.probe(&testdata(name)).await.unwrap());
    }
    for (i, a) in probes.iter().enumerate() {
        let tenant = TenantId::generate();
        engine
            .index(&tenant, &UserId::from_string("u"), &FaceId::generate(), a)
            .await
            .unwrap();
        let mut row = Vec::new();
        for b in &probes {
            let c = engine
                .search(&tenant, b, 0.0)
                .await
                .unwrap()
                .map_or(0.0, |h| h.confidence);
            row.push(format!("{c:5.1}"));
        }
        println!("{:45} {}", names[i], row.join(" "));
    }
    // every face in the group photos against obama
    let tenant = TenantId::generate();
    engine
        .index(
            &tenant,
            &UserId::from_string("obama"),
            &FaceId::generate(),
            &probes[0],
        )
        .await
        .unwrap();
    for i in 1..=6 {
        let name = format!("face-api/sample{i}.jpg");
        let faces = engine.detect(&testdata(&name)).await.unwrap();
        println!(
            "{name}: anti-spoof {:?}",
            faces
                .iter()
                .map(|f| f.attributes["anti_spoof_score"].clone())
                .collect::<Vec<_>>()
        );
    }
}
