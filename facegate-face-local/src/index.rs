//! The 1:N index: every enrolled face of a tenant as one row of a contiguous
//! int8 matrix, searched exhaustively.
//!
//! Embeddings are L2-normalised, so cosine similarity is a dot product.
//! Quantising each component to `round(x * 127)` cuts memory and bandwidth by
//! 4× against f32 (1M faces × 512 dims = 512 MiB) at a cost of about ±0.003 in
//! cosine, far below the gap between a match and a stranger. Large indexes are
//! scanned on all cores.

use std::collections::HashMap;

/// One enrolled face's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub face_id: String,
    pub user_id: String,
}

/// The best row for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub entry: Entry,
    /// Cosine similarity, −1 to 1.
    pub similarity: f32,
}

const SCALE: f32 = 127.0;
/// Below this many rows one thread is faster than spawning more.
const PARALLEL_FROM_ROWS: usize = 32 * 1024;

#[derive(Debug, Clone)]
pub struct FaceIndex {
    dims: usize,
    codes: Vec<i8>,
    entries: Vec<Entry>,
    row_of: HashMap<String, usize>,
}

impl FaceIndex {
    pub fn new(dims: usize) -> Self {
        Self {
            dims,
            codes: Vec::new(),
            entries: Vec::new(),
            row_of: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds (or replaces) a face. `embedding` must be L2-normalised with `dims` components.
    pub fn insert(&mut self, entry: Entry, embedding: &[f32]) {
        assert_eq!(embedding.len(), self.dims, "embedding width");
        self.remove(&entry.face_id);
        self.codes.extend(embedding.iter().map(|&x| quantise(x)));
        self.row_of
            .insert(entry.face_id.clone(), self.entries.len());
        self.entries.push(entry);
    }

    /// Removes a face; unknown ids are ignored. The last row moves into the gap.
    pub fn remove(&mut self, face_id: &str) -> bool {
        let Some(row) = self.row_of.remove(face_id) else {
            return false;
        };
        let last = self.entries.len() - 1;
        if row != last {
            let (dims, codes) = (self.dims, &mut self.codes);
            codes.copy_within(last * dims..(last + 1) * dims, row * dims);
            self.entries.swap(row, last);
            self.row_of.insert(self.entries[row].face_id.clone(), row);
        }
        self.entries.pop();
        self.codes.truncate(last * self.dims);
        true
    }

    /// The most similar face, if any.
    pub fn best(&self, query: &[f32]) -> Option<Hit> {
        self.best_two(query).into_iter().next()
    }

    /// The two most similar faces (fewer in a smaller index), best first:
    /// the runner-up tells a clear match from an ambiguous one.
    pub fn best_two(&self, query: &[f32]) -> Vec<Hit> {
        assert_eq!(query.len(), self.dims, "query width");
        if self.entries.is_empty() {
            return Vec::new();
        }
        let query: Vec<i8> = query.iter().map(|&x| quantise(x)).collect();
        let rows = self.entries.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let top = if rows < PARALLEL_FROM_ROWS || threads == 1 {
            best_in(&self.codes, &query, 0)
        } else {
            let per_thread = rows.div_ceil(threads) * self.dims;
            std::thread::scope(|scope| {
                let workers: Vec<_> = self
                    .codes
                    .chunks(per_thread)
                    .enumerate()
                    .map(|(i, chunk)| {
                        let query = &query;
                        let first_row = i * per_thread / self.dims;
                        scope.spawn(move || best_in(chunk, query, first_row))
                    })
                    .collect();
                let mut top = [NO_ROW; 2];
                for worker in workers {
                    for scored in worker.join().expect("index scan thread") {
                        keep_top_two(&mut top, scored);
                    }
                }
                top
            })
        };
        top.into_iter()
            .filter(|&scored| scored != NO_ROW)
            .map(|(row, score)| Hit {
                entry: self.entries[row].clone(),
                similarity: score as f32 / (SCALE * SCALE),
            })
            .collect()
    }
}

/// A row and its dot product with the query.
type Scored = (usize, i32);
/// No row: scores below any real dot product.
const NO_ROW: Scored = (usize::MAX, i32::MIN);

#[inline(always)]
fn keep_top_two(top: &mut [Scored; 2], scored: Scored) {
    if scored.1 > top[1].1 {
        if scored.1 > top[0].1 {
            top[1] = top[0];
            top[0] = scored;
        } else {
            top[1] = scored;
        }
    }
}

fn quantise(x: f32) -> i8 {
    (x * SCALE).round().clamp(-SCALE, SCALE) as i8
}

/// The two best-scoring rows of `codes` (rows of `query.len()`), numbered
/// from `first_row`; [`NO_ROW`] where there are fewer.
fn best_in(codes: &[i8], query: &[i8], first_row: usize) -> [Scored; 2] {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // The measured hot path: the same loop compiled for AVX2 scans twice
        // as many lanes per instruction (see docs/local-engine.md).
        #[allow(unsafe_code)]
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { best_in_avx2(codes, query, first_row) };
    }
    scan(codes, query, first_row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn best_in_avx2(codes: &[i8], query: &[i8], first_row: usize) -> [Scored; 2] {
    scan(codes, query, first_row)
}

#[inline(always)]
fn scan(codes: &[i8], query: &[i8], first_row: usize) -> [Scored; 2] {
    let mut top = [NO_ROW; 2];
    for (i, row) in codes.chunks_exact(query.len()).enumerate() {
        keep_top_two(&mut top, (first_row + i, dot(row, query)));
    }
    top
}

/// Written so the compiler vectorises it: fixed-width lanes of i16 products
/// summed into i32 accumulators.
#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 32;
    let mut acc = [0i32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += i32::from(i16::from(x[i]) * i16::from(y[i]));
        }
    }
    let tail: i32 = a_rest
        .iter()
        .zip(b_rest)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum();
    acc.iter().sum::<i32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u32, dims: usize) -> Vec<f32> {
        // A deterministic pseudo-random unit vector.
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let v: Vec<f32> = (0..dims)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) - 0.5
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }

    fn entry(i: u32) -> Entry {
        Entry {
            face_id: format!("face_{i}"),
            user_id: format!("user_{i}"),
        }
    }

    #[test]
    fn finds_the_same_vector_with_similarity_near_one() {
        let mut index = FaceIndex::new(512);
        for i in 0..100 {
            index.insert(entry(i), &unit(i, 512));
        }
        let hit = index.best(&unit(42, 512)).unwrap();
        assert_eq!(hit.entry, entry(42));
        assert!((hit.similarity - 1.0).abs() < 0.01, "{}", hit.similarity);
    }

    #[test]
    fn removal_keeps_other_rows_findable() {
        let mut index = FaceIndex::new(64);
        for i in 0..10 {
            index.insert(entry(i), &unit(i, 64));
        }
        assert!(index.remove("face_3"));
        assert!(!index.remove("face_3"));
        assert_eq!(index.len(), 9);
        for i in (0..10).filter(|&i| i != 3) {
            assert_eq!(index.best(&unit(i, 64)).unwrap().entry, entry(i));
        }
        assert_ne!(index.best(&unit(3, 64)).unwrap().entry, entry(3));
        for i in 0..10 {
            index.remove(&format!("face_{i}"));
        }
        assert!(index.is_empty());
        assert!(index.best(&unit(1, 64)).is_none());
    }

    #[test]
    fn parallel_scan_agrees_with_a_single_thread() {
        let dims = 16;
        let mut index = FaceIndex::new(dims);
        for i in 0..(PARALLEL_FROM_ROWS as u32 + 999) {
            index.insert(entry(i), &unit(i, dims));
        }
        for probe in [0u32, 5_000, PARALLEL_FROM_ROWS as u32 + 998] {
            let hits = index.best_two(&unit(probe, dims));
            let query: Vec<i8> = unit(probe, dims).iter().map(|&x| quantise(x)).collect();
            let [(first, _), (second, _)] = best_in(&index.codes, &query, 0);
            assert_eq!(hits[0].entry, index.entries[first]);
            assert_eq!(hits[1].entry, index.entries[second]);
        }
    }

    #[test]
    fn the_runner_up_is_the_second_most_similar_face() {
        let mut index = FaceIndex::new(64);
        index.insert(entry(1), &unit(1, 64));
        assert_eq!(
            index.best_two(&unit(1, 64)).len(),
            1,
            "one face, no runner-up"
        );
        // A near twin of face 1: face 1's vector nudged towards face 9's.
        let twin: Vec<f32> = unit(1, 64)
            .iter()
            .zip(unit(9, 64))
            .map(|(a, b)| a + 0.2 * b)
            .collect();
        let norm = twin.iter().map(|x| x * x).sum::<f32>().sqrt();
        index.insert(entry(2), &twin.iter().map(|x| x / norm).collect::<Vec<_>>());
        for i in 3..50 {
            index.insert(entry(i), &unit(i, 64));
        }
        let hits = index.best_two(&unit(1, 64));
        assert_eq!(hits[0].entry, entry(1));
        assert_eq!(hits[1].entry, entry(2));
        assert!(hits[0].similarity > hits[1].similarity && hits[1].similarity > 0.9);
    }

    #[test]
    fn the_dispatched_scan_agrees_with_the_portable_one() {
        let dims = 512;
        let codes: Vec<i8> = (0..dims * 300)
            .map(|i| ((i * 7919 % 255) as i32 - 127) as i8)
            .collect();
        for seed in 0..5 {
            let query: Vec<i8> = unit(seed, dims).iter().map(|&x| quantise(x)).collect();
            assert_eq!(best_in(&codes, &query, 3), scan(&codes, &query, 3));
        }
    }

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<i8> = (0..77).map(|i| (i * 7 % 255) as i8).collect();
        let b: Vec<i8> = (0..77).map(|i| (i * 13 % 255) as i8).collect();
        let plain: i32 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        assert_eq!(dot(&a, &b), plain);
    }
}
