//! Peak memory of the worst liveness uploads, measured in this process
//! (`VmHWM`, the kernel's high-water mark of resident memory, from
//! `/proc/self/status`; Linux only).
//!
//! ```text
//! cargo bench -p facegate-axum --bench liveness_memory
//! ```
//!
//! Real work throughout: the local engine with its models, a SeaORM store on
//! in-memory SQLite, `FaceGate::handle` on real request bodies. Three runs,
//! each on a fresh liveness session (active mode, up to 30 frames):
//!
//! - `bomb`: 30 frames of a 4096×4096 grey JPEG built for size (64 KB each,
//!   see [`tiny_jpeg`]: the whole body is 2.6 MB, under the 6 MB limit),
//!   which would decode to 30 × 48 MB;
//! - `worst accepted`: the most pixels the header check lets through, two
//!   4096×4096 frames and 28 of 256×256;
//! - `worst accepted ×2`: that upload twice at once (the engine's default
//!   is one worker per core: 2 here).
//!
//! Peak growth is reported per run against the resident size after the
//! models loaded. Runs go from the smallest expected peak up (a high-water
//! mark only rises). The target is under 300 MB.

mod support;
use support::status_kib;

use base64::Engine as _;
use bytes::Bytes;
use facegate_core::domain::KeyEnvironment;
use facegate_core::{FaceGate, StaticConsentRegistry};
use facegate_face_local::{EngineConfig, LocalFaceEngine};
use serde_json::{Value, json};

/// The smallest 4096×4096 JPEG we can build: baseline greyscale, one
/// quantisation table of ones, and Huffman tables with a single 1-bit code
/// each (DC difference 0, end of block), so every 8×8 block costs 2 bits:
/// 64 KB of zeros for 16.7 million pixels. What an attacker would send.
fn tiny_jpeg(side: u16) -> String {
    let mut out = vec![0xFF, 0xD8]; // SOI
    // DQT: table 0, all ones.
    out.extend([0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend([1u8; 64]);
    // SOF0: 8-bit, side × side, one component (id 1, 1×1 sampling, table 0).
    out.extend([0xFF, 0xC0, 0x00, 0x0B, 0x08]);
    out.extend(side.to_be_bytes());
    out.extend(side.to_be_bytes());
    out.extend([0x01, 0x01, 0x11, 0x00]);
    // DHT: DC table 0 and AC table 0, one code of length 1 each (symbol 0).
    for class in [0x00, 0x10] {
        out.extend([0xFF, 0xC4, 0x00, 0x14, class, 0x01]);
        out.extend([0u8; 15]);
        out.push(0x00);
    }
    // SOS: one component, tables 0/0, full spectral range.
    out.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    let blocks = (usize::from(side) / 8).pow(2);
    out.extend(std::iter::repeat_n(0u8, blocks * 2 / 8));
    out.extend([0xFF, 0xD9]); // EOI
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn jpeg(side: u32) -> String {
    // Grey: one channel, a few bits per 8×8 block.
    let image = image::GrayImage::from_pixel(side, side, image::Luma([120]));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn call(facegate: &FaceGate, key: &str, path: &str, body: String) -> (u16, Value) {
    let request = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(body)))
        .unwrap();
    let response = facegate.handle(request).await;
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(response.body()).unwrap_or(Value::Null),
    )
}

async fn upload(facegate: &FaceGate, key: &str, frames: &[String]) -> (u16, Value, usize) {
    let (_, started) = call(facegate, key, "/v1/liveness/session", String::new()).await;
    let id = started["session_id"]
        .as_str()
        .expect("a session")
        .to_owned();
    let body = json!({
        "nonce": started["challenge"]["nonce"],
        "frames": frames.iter().enumerate().map(|(i, image)| json!({
            "image": image, "timestamp_ms": 1_000 + 100 * i as i64,
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let size = body.len();
    let (status, reply) = call(
        facegate,
        key,
        &format!("/v1/liveness/session/{id}/frames"),
        body,
    )
    .await;
    (status, reply, size)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let engine =
        LocalFaceEngine::load(EngineConfig::default()).expect("models (scripts/fetch-models)");
    let store = facegate_store_seaorm::SeaOrmStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let facegate = FaceGate::builder(store)
        .consent_registry(StaticConsentRegistry::new().with_version("v1", "text"))
        .face_provider(engine)
        .build();
    let tenant = facegate.create_tenant("bench").await.unwrap();
    let key = facegate
        .mint_api_key(&tenant.id, KeyEnvironment::Test)
        .await
        .unwrap()
        .key
        .expose_secret()
        .to_owned();
    // Warm the engine (lazy allocations) with an ordinary small upload.
    let small = jpeg(256);
    upload(&facegate, &key, &vec![small.clone(); 3]).await;
    let baseline = status_kib("VmRSS:");
    println!("resident after models and warm-up: {} MB", baseline / 1024);

    let big = tiny_jpeg(4096);
    let bomb = vec![big.clone(); 30];
    let mut accepted = vec![big.clone(), big.clone()];
    accepted.extend(std::iter::repeat_n(small.clone(), 28));

    let report = |name: &str, status: u16, code: &Value, size: usize| {
        let peak = status_kib("VmHWM:");
        println!(
            "{name:<20} body {:>5.2} MB → {status} {:<22} peak growth {:>5} MB",
            size as f64 / 1e6,
            code.as_str().unwrap_or("(judged)"),
            peak.saturating_sub(baseline) / 1024
        );
    };
    let (status, reply, size) = upload(&facegate, &key, &bomb).await;
    report("bomb", status, &reply["code"], size);
    let (status, reply, size) = upload(&facegate, &key, &accepted).await;
    report("worst accepted", status, &reply["code"], size);
    let (a, b) = tokio::join!(
        upload(&facegate, &key, &accepted),
        upload(&facegate, &key, &accepted)
    );
    report("worst accepted ×2", a.0.max(b.0), &a.1["code"], a.2 + b.2);
    let peak = status_kib("VmHWM:").saturating_sub(baseline) / 1024;
    println!(
        "peak RSS growth {peak} MB (target < 300 MB): {}",
        if peak < 300 { "met" } else { "MISSED" }
    );
}
