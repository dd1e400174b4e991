//! The 1:N index on random 512-d faces with planted matches: the exact int8
//! scan against the binary-code prefilter, in the same run and query by
//! query, so a build running alongside slows both alike. Run with
//! `cargo bench -p facegate-face-local --bench index_search` (no models
//! needed); `FACEGATE_INDEX_SIZES=1000000` runs only the sizes listed.
//!
//! For each size: 1,000 queries, each with a face planted at cosine 0.5–0.9
//! to it, half of them with a second planted face 0–0.01 below the first (a
//! near tie, some the very same embedding under another id); then 200 queries
//! at each of some lower cosines, to show where the prefilter starts to miss.
//! Recall@1 is the share of queries whose best row is the exact scan's.

use std::time::{Duration, Instant};

use facegate_face_local::index::{CANDIDATES, Entry, FaceIndex, Hit, PREFILTER_FROM_ROWS};

const DIMS: usize = 512;
const QUERIES: usize = 1_000;
const BAND_QUERIES: usize = 200;
const BANDS: [f32; 5] = [0.30, 0.35, 0.40, 0.45, 0.50];
const SWEEP: [usize; 6] = [64, 128, 256, 512, 1024, 2048];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn unit(&mut self) -> Vec<f32> {
        normalised((0..DIMS).map(|_| self.uniform() - 0.5).collect())
    }

    /// A unit vector at cosine `cosine` to the unit vector `to`.
    fn at_cosine(&mut self, to: &[f32], cosine: f32) -> Vec<f32> {
        let noise = self.unit();
        let along: f32 = noise.iter().zip(to).map(|(a, b)| a * b).sum();
        let across = normalised(noise.iter().zip(to).map(|(n, t)| n - along * t).collect());
        let sine = (1.0 - cosine * cosine).sqrt();
        to.iter()
            .zip(across)
            .map(|(t, a)| cosine * t + sine * a)
            .collect()
    }
}

fn normalised(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

struct Query {
    embedding: Vec<f32>,
    /// Whether a second face was planted in a near tie with the first.
    tie: bool,
}

/// The queries and the faces planted for them.
fn queries(rng: &mut Rng) -> (Vec<Query>, Vec<Vec<Query>>, Vec<Vec<f32>>) {
    let mut planted = Vec::new();
    let main = (0..QUERIES)
        .map(|i| {
            let embedding = rng.unit();
            let cosine = 0.5 + 0.4 * rng.uniform();
            let first = rng.at_cosine(&embedding, cosine);
            let tie = i % 2 == 0;
            if tie {
                let second = if i % 20 == 0 {
                    first.clone()
                } else {
                    let gap = 0.01 * rng.uniform();
                    rng.at_cosine(&embedding, cosine - gap)
                };
                planted.push(second);
            }
            planted.push(first);
            Query { embedding, tie }
        })
        .collect();
    let bands = BANDS
        .iter()
        .map(|&cosine| {
            (0..BAND_QUERIES)
                .map(|_| {
                    let embedding = rng.unit();
                    planted.push(rng.at_cosine(&embedding, cosine));
                    Query {
                        embedding,
                        tie: false,
                    }
                })
                .collect()
        })
        .collect();
    (main, bands, planted)
}

/// Resident memory of this process, from /proc (Linux).
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// `count` faces, the planted ones spread evenly among random ones, with
/// ids as long as FaceGate's (`face_` and 32 hex digits).
fn build(count: usize, planted: Vec<Vec<f32>>, rng: &mut Rng) -> FaceIndex {
    let mut index = FaceIndex::new(DIMS);
    let every = count / planted.len();
    let mut planted = planted.into_iter();
    for i in 0..count {
        let embedding = if i % every == 0 {
            planted.next().unwrap_or_else(|| rng.unit())
        } else {
            rng.unit()
        };
        index.insert(
            Entry {
                face_id: format!("face_{i:032x}"),
                user_id: format!("user_{i:032x}"),
            },
            &embedding,
        );
    }
    assert!(planted.next().is_none());
    index
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = std::hint::black_box(f());
    (out, start.elapsed())
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    format!(
        "p50 {:7.3} ms  p90 {:7.3} ms  min {:7.3} ms",
        at(0.5),
        at(0.9),
        at(0.0)
    )
}

fn same_row(a: &[Hit], b: &[Hit], i: usize) -> bool {
    a.get(i).map(|hit| &hit.entry) == b.get(i).map(|hit| &hit.entry)
}

fn main() {
    println!(
        "== 1:N search, {DIMS}-d int8 rows + {}-byte codes, {} threads; \
         best_two prefilters from {PREFILTER_FROM_ROWS} rows with K = {CANDIDATES}",
        DIMS / 8,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    // FACEGATE_INDEX_SIZES=100000,1000000 runs only those sizes.
    let sizes: Vec<usize> = std::env::var("FACEGATE_INDEX_SIZES").map_or_else(
        |_| vec![10_000, 100_000, 1_000_000],
        |sizes| {
            sizes
                .split(',')
                .map(|size| size.trim().parse().expect("FACEGATE_INDEX_SIZES: numbers"))
                .collect()
        },
    );
    for count in sizes {
        let mut rng = Rng(count as u64 | 1);
        let (main, bands, planted) = queries(&mut rng);
        let before = resident_bytes();
        let (index, took) = timed(|| build(count, planted, &mut rng));
        let memory = resident_bytes()
            .zip(before)
            .map_or("n/a".to_string(), |(after, before)| {
                let bytes = after.saturating_sub(before);
                format!(
                    "{:.0} MiB, {} B per face",
                    bytes as f64 / (1 << 20) as f64,
                    bytes / count
                )
            });
        println!(
            "\n{count} faces (built in {:.1} s): memory {memory}",
            took.as_secs_f64()
        );

        // Warm-up, then exact and prefiltered query by query, alternating
        // which goes first.
        index.exact_best_two(&main[0].embedding);
        index.prefiltered_best_two(&main[0].embedding, CANDIDATES);
        let (mut exact_times, mut prefilter_times) = (Vec::new(), Vec::new());
        let mut exact_hits = Vec::new();
        let (mut best, mut both_tied, mut ties, mut runner_up) = (0, 0, 0, 0);
        for (i, query) in main.iter().enumerate() {
            let run_exact = || timed(|| index.exact_best_two(&query.embedding));
            let run_prefilter =
                || timed(|| index.prefiltered_best_two(&query.embedding, CANDIDATES));
            let ((exact, exact_took), (hits, prefilter_took)) = if i % 2 == 0 {
                let exact = run_exact();
                (exact, run_prefilter())
            } else {
                let hits = run_prefilter();
                (run_exact(), hits)
            };
            exact_times.push(exact_took);
            prefilter_times.push(prefilter_took);
            best += usize::from(same_row(&hits, &exact, 0) && hits[0] == exact[0]);
            if query.tie {
                ties += 1;
                both_tied += usize::from(hits == exact);
            } else {
                runner_up += usize::from(same_row(&hits, &exact, 1));
            }
            exact_hits.push(exact);
        }
        println!("  exact scan         {}", percentiles(exact_times));
        println!(
            "  prefilter K={CANDIDATES:<5} {}   recall@1 {best}/{QUERIES}, \
             best_two = exact on near ties {both_tied}/{ties}, \
             stranger runner-up = exact's {runner_up}/{}",
            percentiles(prefilter_times),
            QUERIES - ties
        );

        // Other K: time and recall@1 on the same queries, then on lower cosines.
        let band_exact: Vec<Vec<Hit>> = bands
            .iter()
            .map(|band| {
                band.iter()
                    .map(|query| index.exact_best_two(&query.embedding)[0].clone())
                    .collect()
            })
            .collect();
        println!(
            "  K sweep: p50/p90, recall@1 at cosine 0.5–0.9, then at {BANDS:?} ({BAND_QUERIES} each)"
        );
        for k in SWEEP {
            let mut times = Vec::new();
            let mut found = 0;
            for (query, exact) in main.iter().zip(&exact_hits) {
                let (hits, took) = timed(|| index.prefiltered_best_two(&query.embedding, k));
                times.push(took);
                found += usize::from(hits[0] == exact[0]);
            }
            let per_band: Vec<String> = bands
                .iter()
                .zip(&band_exact)
                .map(|(band, exact)| {
                    let found = band
                        .iter()
                        .zip(exact)
                        .filter(|(query, exact)| {
                            index.prefiltered_best_two(&query.embedding, k)[0] == **exact
                        })
                        .count();
                    format!("{found:>3}")
                })
                .collect();
            println!(
                "    K={k:<5} {}   {found:>4}/{QUERIES}   {}",
                percentiles(times),
                per_band.join(" ")
            );
        }
    }
}
