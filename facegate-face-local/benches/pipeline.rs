//! Stage-by-stage timings of the local engine and of the 1:N index, printed
//! as percentiles. Run with `cargo bench -p facegate-face-local` after
//! scripts/fetch-models and scripts/fetch-testdata.
//!
//! Single request at a time, on a 640×480 JPEG made from a test photo.

use std::time::{Duration, Instant};

use base64::Engine as _;
use facegate_core::domain::LivenessMode;
use facegate_core::ids::{FaceId, TenantId, UserId};
use facegate_core::providers::face::{FaceProvider, ImageInput};
use facegate_face_local::index::{Entry, FaceIndex};
use facegate_face_local::models::Models;
use facegate_face_local::{EngineConfig, LocalFaceEngine, image_input};

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    format!(
        "p50 {:7.2} ms   p90 {:7.2} ms   min {:7.2} ms   (n={})",
        at(0.5),
        at(0.9),
        at(0.0),
        samples.len()
    )
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    std::hint::black_box(f()); // warm-up
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect()
}

fn test_jpeg() -> Vec<u8> {
    let photo =
        image::open(facegate_face_local::default_testdata_dir().join("face_recognition/obama.jpg"))
            .expect("run scripts/fetch-testdata");
    let frame = photo
        .resize_to_fill(640, 480, image::imageops::FilterType::Triangle)
        .into_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&frame)
        .unwrap();
    jpeg
}

/// Three frames of a liveness upload at 640×480, moving a little from
/// frame to frame, each encoded on its own: a head-and-shoulders shot (as
/// the login bench sends), or, `cut`, one with the top of the head out of
/// the picture (the face box changes from frame to frame, so the cheap
/// same-face check does not hold and every frame is embedded).
fn upload_frames(cut: bool) -> Vec<ImageInput> {
    let photo =
        image::open(facegate_face_local::default_testdata_dir().join("face_recognition/obama.jpg"))
            .expect("run scripts/fetch-testdata");
    let photo = match cut {
        false => photo.resize(720, 960, image::imageops::FilterType::Triangle),
        true => photo.resize_to_fill(688, 512, image::imageops::FilterType::Triangle),
    };
    [(0, 0), (24, 16), (48, 32)]
        .iter()
        .map(|&(x, y)| {
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
                .encode_image(&photo.crop_imm(x, y, 640, 480).to_rgb8())
                .unwrap();
            ImageInput(base64::engine::general_purpose::STANDARD.encode(jpeg))
        })
        .collect()
}

fn unit_vectors(count: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(count * dims);
    for _ in 0..count {
        let row: Vec<f32> = (0..dims)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(row.iter().map(|x| x / norm));
    }
    out
}

fn main() {
    let runs = 30;
    let jpeg = test_jpeg();
    let input = ImageInput(base64::engine::general_purpose::STANDARD.encode(&jpeg));
    let config = EngineConfig::default();
    let models = Models::load(&config).unwrap_or_else(|err| panic!("{err}"));

    println!(
        "== local engine stages, 640×480 JPEG ({} KB), one request at a time",
        jpeg.len() / 1024
    );
    let image = image_input::decode(&input).unwrap();
    println!(
        "decode (base64 + JPEG)  {}",
        percentiles(time(runs, || image_input::decode(&input).unwrap()))
    );
    let faces = models.detect(&image).unwrap();
    let face = faces[0].rect;
    println!(
        "detect                  {}",
        percentiles(time(runs, || models.detect(&image).unwrap()))
    );
    let landmarks = models.landmarks(&image, face).unwrap();
    println!(
        "landmarks               {}",
        percentiles(time(runs, || models.landmarks(&image, face).unwrap()))
    );
    let aligned = models.aligned(&image, &landmarks).unwrap();
    println!(
        "align                   {}",
        percentiles(time(runs, || models.aligned(&image, &landmarks).unwrap()))
    );
    println!(
        "embed                   {}",
        percentiles(time(runs, || models.embed(&aligned).unwrap()))
    );
    println!(
        "anti-spoof              {}",
        percentiles(time(runs, || models.anti_spoof(&image, face).unwrap()))
    );
    println!(
        "age                     {}",
        percentiles(time(runs, || models.age(&image, face).unwrap()))
    );
    println!(
        "gender                  {}",
        percentiles(time(runs, || models.gender(&image, face).unwrap()))
    );
    println!(
        "pose                    {}",
        percentiles(time(runs, || models.pose(&image, face).unwrap()))
    );
    println!(
        "eyes                    {}",
        percentiles(time(runs, || models.eyes_open(&image, &landmarks).unwrap()))
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = LocalFaceEngine::load(config).unwrap();
    let tenant = TenantId::generate();
    runtime.block_on(async {
        let probe = engine.probe(&input).await.unwrap();
        engine
            .index(
                &tenant,
                &UserId::from_string("user_bench"),
                &FaceId::generate(),
                &probe,
            )
            .await
            .unwrap();
    });
    let end_to_end = time(runs, || {
        runtime.block_on(async {
            let probe = engine.probe(&input).await.unwrap();
            engine
                .search(&tenant, &probe, 90.0)
                .await
                .unwrap()
                .expect("matches itself")
        })
    });
    println!(
        "match end to end        {}   (decode→detect→landmarks→align→embed→age→gender→search)",
        percentiles(end_to_end)
    );
    for (label, mode, cut, models) in [
        (
            "passive",
            LivenessMode::Passive,
            false,
            "decode, detect, landmarks, align, anti-spoof each; one embedding",
        ),
        (
            "active",
            LivenessMode::Active,
            false,
            "the same with pose and eyes each",
        ),
        (
            "passive, face cut",
            LivenessMode::Passive,
            true,
            "the face cut by the frame's edge: every frame embedded",
        ),
    ] {
        let upload = upload_frames(cut);
        let observed = time(runs, || {
            runtime
                .block_on(engine.observe_liveness(mode, &upload))
                .unwrap()
        });
        println!(
            "liveness upload, {label:<18}{}   (3 frames: {models})",
            percentiles(observed)
        );
    }

    println!(
        "\n== 1:N search (exact below 32k rows, prefiltered above: see --bench index_search), 512-d int8 rows, {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    for count in [10_000usize, 100_000, 1_000_000] {
        let mut index = FaceIndex::new(512);
        let rows = unit_vectors(count, 512, count as u64);
        for (i, row) in rows.chunks_exact(512).enumerate() {
            index.insert(
                Entry {
                    face_id: format!("face_{i}"),
                    user_id: format!("user_{i}"),
                },
                row,
            );
        }
        drop(rows);
        let query = unit_vectors(1, 512, 7);
        let runs = if count >= 1_000_000 { 20 } else { 50 };
        println!(
            "{count:>9} faces        {}",
            percentiles(time(runs, || index.best(&query).unwrap()))
        );
    }
}
