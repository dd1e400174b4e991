"""Issue 19, model parity: runs the cases `examples/model_parity.rs` wrote
(each model's inputs, tract's outputs and times) through ONNX Runtime and
fails when the runtimes disagree: any output by more than 1e-4 (absolute,
or relative to the output's largest magnitude), an embedding below cosine
0.9999. Prints both runtimes' median times per model, one thread each.

Usage: python model_parity.py CASES.json MODEL_DIR [RUNS]
"""

import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

TOLERANCE = 1e-4
MIN_COSINE = 0.9999


def main() -> int:
    cases_path, model_dir = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    with open(cases_path) as f:
        cases = json.load(f)
    ort.set_default_logger_severity(3)  # the models' initializer warnings
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sessions = {}
    failures = []
    times = {}
    for case in cases:
        name, file = case["model"], case["file"]
        if file not in sessions:
            sessions[file] = ort.InferenceSession(
                f"{model_dir}/{file}", options, providers=["CPUExecutionProvider"]
            )
        session = sessions[file]
        feed = {
            session.get_inputs()[0].name: np.asarray(case["input"], dtype=np.float32).reshape(
                case["shape"]
            )
        }
        took = []
        for _ in range(runs):
            started = time.perf_counter()
            outputs = session.run(None, feed)
            took.append((time.perf_counter() - started) * 1000)
        ort_ms, tract_ms = statistics.median(took), case["tract_ms"]
        times.setdefault(name, []).append((tract_ms, ort_ms))
        worst = 0.0
        for i, (ours, theirs) in enumerate(zip(case["outputs"], outputs)):
            ours = np.asarray(ours, dtype=np.float64)
            theirs = np.asarray(theirs, dtype=np.float64).ravel()
            if ours.shape != theirs.shape:
                failures.append(f"{name} ({case['source']}) output {i}: {ours.shape} vs {theirs.shape}")
                continue
            if name == "embedder":
                cosine = float(ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
                if not cosine >= MIN_COSINE:
                    failures.append(f"{name} ({case['source']}): cosine {cosine:.6f}")
            scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
            diff = float(np.abs(ours - theirs).max(initial=0.0)) / scale
            worst = max(worst, diff)
            if not diff <= TOLERANCE:
                failures.append(f"{name} ({case['source']}) output {i}: differs by {diff:.2e}")
        print(f"{name:<11} {case['source']:<28} max diff {worst:.2e}  tract {tract_ms:7.2f} ms  onnxruntime {ort_ms:7.2f} ms")
    print("\nmedian per model (ms, one thread): model, tract, onnxruntime")
    for name, pairs in times.items():
        print(f"  {name:<11} {statistics.median(p[0] for p in pairs):7.2f} {statistics.median(p[1] for p in pairs):7.2f}")
    print(f"\n{len(cases)} cases, {len(failures)} failures")
    for failure in failures:
        print("  FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
