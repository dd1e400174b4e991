//! Issue 19, model parity: writes every model's inputs (seeded, and built
//! by the engine from the test photos) with tract's outputs and timings as
//! JSON, for `scripts/model-parity` to run through ONNX Runtime.
//!
//! `cargo run [--release] -p facegate-face-local --example model_parity -- OUT.json [RUNS]`
//! (`scripts/model-parity` runs it and then ONNX Runtime).

use facegate_face_local::models::Models;
use facegate_face_local::{EngineConfig, default_testdata_dir};

const PHOTOS: [&str; 4] = [
    "face_recognition/obama.jpg",
    "face_recognition/obama2.jpg",
    "face_recognition/biden.jpg",
    "face-api/sample1.jpg",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: model_parity OUT.json [RUNS]")?;
    let runs: usize = args.next().map_or(Ok(20), |runs| runs.parse())?;
    let models = Models::load(&EngineConfig::default())?;
    let mut cases = Vec::new();
    for (model, input) in models.parity_seeded(0x5eed_f00d) {
        cases.push(models.parity_case(model, "seeded", input, runs)?);
    }
    for photo in PHOTOS {
        let image = image::open(default_testdata_dir().join(photo))?.to_rgb8();
        for (model, input) in models.parity_inputs(&image)? {
            cases.push(models.parity_case(model, photo, input, runs)?);
        }
    }
    std::fs::write(&out, serde_json::to_vec(&cases)?)?;
    eprintln!("model_parity: {} cases written to {out}", cases.len());
    Ok(())
}
