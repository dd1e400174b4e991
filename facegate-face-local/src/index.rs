//! The 1:N index: every enrolled face of a tenant as one row of a contiguous
//! int8 matrix, plus a 64-byte binary code per row to search large indexes by.
//!
//! Embeddings are L2-normalised, so cosine similarity is a dot product.
//! Quantising each component to `round(x * 127)` cuts memory and bandwidth by
//! 4× against f32 (1M faces × 512 dims = 512 MiB) at a cost of about ±0.003 in
//! cosine, far below the gap between a match and a stranger.
//!
//! Below [`PREFILTER_FROM_ROWS`] rows a search scans the int8 matrix exactly.
//! Above, it reads 64 bytes per face instead of 512: each row also keeps the
//! sign bits of its embedding after a fixed pseudo-random rotation, so two
//! codes disagree in each bit with probability θ/π, θ the angle between the
//! embeddings. The [`CANDIDATES`] rows nearest the query by Hamming distance
//! are rescored from the int8 matrix, and the best two of them are returned
//! with their int8 cosine, as the exact scan would. A face at cosine ≥ 0.5 to
//! the query (a match is ≥ 0.40 by default, and usually far above) ranks in
//! those candidates at 1M faces with a margin of several standard deviations;
//! see docs/local-engine.md for the measured recall. Large indexes are
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
/// Below this many rows one thread is faster than spawning more (exact scan).
const PARALLEL_FROM_ROWS: usize = 32 * 1024;
/// Below this many rows [`FaceIndex::best_two`] scans the int8 matrix exactly:
/// under a millisecond there, and exact for strangers too (at 10k rows the
/// prefilter saved 0.14 ms).
pub const PREFILTER_FROM_ROWS: usize = 32 * 1024;
/// How many rows, nearest the query by Hamming distance, are rescored.
pub const CANDIDATES: usize = 512;
/// Below this many rows one thread compares the codes: at about 3.5 ns a
/// row, a second thread saves little more than it costs to spawn (measured
/// alongside another build, two were slower at 100k and 200k rows).
const PREFILTER_PARALLEL_FROM_ROWS: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct FaceIndex {
    dims: usize,
    /// `dims` int8 components per row.
    matrix: Vec<i8>,
    /// The sign code of each row: `dims.div_ceil(64)` words.
    bits: Vec<u64>,
    rotation: Rotation,
    entries: Vec<Entry>,
    row_of: HashMap<String, usize>,
}

impl FaceIndex {
    pub fn new(dims: usize) -> Self {
        assert!(dims > 0, "embedding width");
        Self {
            dims,
            matrix: Vec::new(),
            bits: Vec::new(),
            rotation: Rotation::new(dims),
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

    fn words(&self) -> usize {
        self.dims.div_ceil(64)
    }

    /// Adds (or replaces) a face. `embedding` must be L2-normalised with `dims` components.
    pub fn insert(&mut self, entry: Entry, embedding: &[f32]) {
        assert_eq!(embedding.len(), self.dims, "embedding width");
        self.remove(&entry.face_id);
        self.matrix.extend(embedding.iter().map(|&x| quantise(x)));
        self.rotation.sign_code(embedding, &mut self.bits);
        self.row_of
            .insert(entry.face_id.clone(), self.entries.len());
        self.entries.push(entry);
    }

    /// Removes a face; unknown ids are ignored. The last row (its int8
    /// components and its code) moves into the gap.
    pub fn remove(&mut self, face_id: &str) -> bool {
        let Some(row) = self.row_of.remove(face_id) else {
            return false;
        };
        let (dims, words) = (self.dims, self.words());
        let last = self.entries.len() - 1;
        if row != last {
            self.matrix
                .copy_within(last * dims..(last + 1) * dims, row * dims);
            self.bits
                .copy_within(last * words..(last + 1) * words, row * words);
            self.entries.swap(row, last);
            self.row_of.insert(self.entries[row].face_id.clone(), row);
        }
        self.entries.pop();
        self.matrix.truncate(last * dims);
        self.bits.truncate(last * words);
        true
    }

    /// The most similar face, if any.
    pub fn best(&self, query: &[f32]) -> Option<Hit> {
        self.best_two(query).into_iter().next()
    }

    /// The two most similar faces (fewer in a smaller index), best first:
    /// the runner-up tells a clear match from an ambiguous one.
    ///
    /// Exact below [`PREFILTER_FROM_ROWS`] rows; above, the best two of the
    /// [`CANDIDATES`] rows nearest by binary code, which are the exact scan's
    /// whenever they are faces at cosine ≥ 0.5 to the query (see the module
    /// docs). A runner-up below that may be another stranger than the exact
    /// scan's, still a different row with its int8 cosine.
    pub fn best_two(&self, query: &[f32]) -> Vec<Hit> {
        if self.len() < PREFILTER_FROM_ROWS {
            self.exact_best_two(query)
        } else {
            self.prefiltered_best_two(query, CANDIDATES)
        }
    }

    /// The exact scan of every int8 row: what [`Self::best_two`] does below
    /// [`PREFILTER_FROM_ROWS`], and the reference for its recall.
    #[doc(hidden)]
    pub fn exact_best_two(&self, query: &[f32]) -> Vec<Hit> {
        assert_eq!(query.len(), self.dims, "query width");
        if self.entries.is_empty() {
            return Vec::new();
        }
        let query: Vec<i8> = query.iter().map(|&x| quantise(x)).collect();
        let rows = self.entries.len();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let top = if rows < PARALLEL_FROM_ROWS || threads == 1 {
            best_in(&self.matrix, &query, 0)
        } else {
            let per_thread = rows.div_ceil(threads) * self.dims;
            std::thread::scope(|scope| {
                let workers: Vec<_> = self
                    .matrix
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
        self.hits(top)
    }

    /// The best two of the `candidates` rows (at least two) whose codes are
    /// nearest the query's, scored on their int8 rows: what
    /// [`Self::best_two`] does from [`PREFILTER_FROM_ROWS`] on, with
    /// [`CANDIDATES`].
    #[doc(hidden)]
    pub fn prefiltered_best_two(&self, query: &[f32], candidates: usize) -> Vec<Hit> {
        assert_eq!(query.len(), self.dims, "query width");
        if self.entries.is_empty() {
            return Vec::new();
        }
        let threads = if self.len() < PREFILTER_PARALLEL_FROM_ROWS {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        };
        self.prefiltered_on(query, candidates, threads)
    }

    /// [`Self::prefiltered_best_two`] on `threads` threads: the same hits
    /// for any number.
    fn prefiltered_on(&self, query: &[f32], candidates: usize, threads: usize) -> Vec<Hit> {
        let candidates = candidates.max(2);
        let mut code = Vec::with_capacity(self.words());
        self.rotation.sign_code(query, &mut code);
        let rows = self.entries.len();
        let mut nearest = if threads <= 1 {
            nearest_codes(&self.bits, &code, 0, candidates)
        } else {
            let words = self.words();
            let per_thread = rows.div_ceil(threads) * words;
            std::thread::scope(|scope| {
                let workers: Vec<_> = self
                    .bits
                    .chunks(per_thread)
                    .enumerate()
                    .map(|(i, chunk)| {
                        let code = &code;
                        let first_row = i * per_thread / words;
                        scope.spawn(move || nearest_codes(chunk, code, first_row, candidates))
                    })
                    .collect();
                let mut nearest = Vec::with_capacity(threads * candidates);
                for worker in workers {
                    nearest.extend(worker.join().expect("index scan thread"));
                }
                nearest
            })
        };
        // The same candidates however many threads found them: the nearest
        // by (distance, row).
        if nearest.len() > candidates {
            nearest.select_nth_unstable(candidates - 1);
            nearest.truncate(candidates);
        }
        // In row order, so ties go to the lower row as in the exact scan.
        let mut rows: Vec<usize> = nearest.into_iter().map(|(_, row)| row).collect();
        rows.sort_unstable();
        let query: Vec<i8> = query.iter().map(|&x| quantise(x)).collect();
        self.hits(best_of_rows(&self.matrix, &query, &rows))
    }

    fn hits(&self, top: [Scored; 2]) -> Vec<Hit> {
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

/// The two best-scoring of `rows` (ascending) of `matrix`, rows of `query.len()`.
fn best_of_rows(matrix: &[i8], query: &[i8], rows: &[usize]) -> [Scored; 2] {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // The measured hot path: the rescoring's dot products, compiled for
        // AVX2 as in the exact scan, took 0.3 ms less for 2,048 candidates.
        #[allow(unsafe_code)]
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { best_of_rows_avx2(matrix, query, rows) };
    }
    rescore(matrix, query, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn best_of_rows_avx2(matrix: &[i8], query: &[i8], rows: &[usize]) -> [Scored; 2] {
    rescore(matrix, query, rows)
}

#[inline(always)]
fn rescore(matrix: &[i8], query: &[i8], rows: &[usize]) -> [Scored; 2] {
    let dims = query.len();
    let mut top = [NO_ROW; 2];
    for &row in rows {
        let components = &matrix[row * dims..(row + 1) * dims];
        keep_top_two(&mut top, (row, dot(components, query)));
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

/// A fixed pseudo-random rotation, `D₂·H·D₁·H` on the embedding zero-padded
/// to a power of two (H the Walsh–Hadamard transform, Dᵢ fixed random signs),
/// whose sign bits are a row's code. Without it the code of a model that puts
/// most of an embedding's energy in a few components would waste its other
/// bits on noise; with it every bit is a hyperplane through the whole
/// embedding. O(dims·log dims) per insert and per query.
#[derive(Debug, Clone)]
struct Rotation {
    dims: usize,
    /// ±1, the padded width twice: D₁ then D₂.
    signs: Vec<f32>,
}

impl Rotation {
    fn new(dims: usize) -> Self {
        let width = dims.next_power_of_two();
        // Any fixed seed: codes are only ever compared within one process.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let signs = (0..2 * width)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if state >> 63 == 0 { 1.0 } else { -1.0 }
            })
            .collect();
        Self { dims, signs }
    }

    /// Appends the code of `embedding`: bit i of the code (word i / 64, bit
    /// i % 64) is set where rotated component i is negative.
    fn sign_code(&self, embedding: &[f32], code: &mut Vec<u64>) {
        let width = self.signs.len() / 2;
        let (first, second) = self.signs.split_at(width);
        let mut x = vec![0.0f32; width];
        for ((x, &v), &s) in x.iter_mut().zip(embedding).zip(first) {
            *x = v * s;
        }
        walsh_hadamard(&mut x);
        for (x, &s) in x.iter_mut().zip(second) {
            *x *= s;
        }
        walsh_hadamard(&mut x);
        code.extend(x[..self.dims].chunks(64).map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .fold(0u64, |word, (i, &c)| word | (u64::from(c < 0.0) << i))
        }));
    }
}

/// The unnormalised fast Walsh–Hadamard transform, in place; `x.len()` a power of two.
fn walsh_hadamard(x: &mut [f32]) {
    let mut half = 1;
    while half < x.len() {
        for block in x.chunks_exact_mut(2 * half) {
            let (low, high) = block.split_at_mut(half);
            for (a, b) in low.iter_mut().zip(high) {
                (*a, *b) = (*a + *b, *a - *b);
            }
        }
        half *= 2;
    }
}

/// A candidate: its code's Hamming distance to the query's, and its row.
type Coded = (u32, usize);

/// The `k` nearest candidates offered so far, by (distance, row).
struct Nearest {
    /// Up to `2k`, cut back to the nearest `k` whenever full: amortised
    /// O(1) per candidate, where a heap would cost O(log k).
    kept: Vec<Coded>,
    k: usize,
    /// Only a candidate nearer than this can enter: the farthest of the
    /// nearest `k` once cut back (rows are offered in ascending order, so a
    /// tie with it loses).
    bound: u32,
}

impl Nearest {
    fn new(k: usize) -> Self {
        assert!(k > 0);
        Self {
            kept: Vec::with_capacity(2 * k),
            k,
            bound: u32::MAX,
        }
    }

    #[inline(always)]
    fn offer(&mut self, distance: u32, row: usize) {
        if distance < self.bound {
            self.kept.push((distance, row));
            if self.kept.len() == 2 * self.k {
                self.cut_back();
            }
        }
    }

    /// Rare once `k` are kept: the bound soon nears the k-th nearest distance.
    #[inline(never)]
    fn cut_back(&mut self) {
        if self.kept.len() > self.k {
            self.kept.select_nth_unstable(self.k - 1);
            self.kept.truncate(self.k);
            self.bound = self.kept[self.k - 1].0;
        }
    }

    /// The nearest `k` (fewer if fewer were offered), in no order.
    fn into_vec(mut self) -> Vec<Coded> {
        self.cut_back();
        self.kept
    }
}

/// The `k` rows of `bits` (codes of `code.len()` words, numbered from
/// `first_row`) nearest `code` by Hamming distance, in no order.
fn nearest_codes(bits: &[u64], code: &[u64], first_row: usize, k: usize) -> Vec<Coded> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") {
        // The measured hot path: baseline x86-64 has no POPCNT instruction,
        // and `count_ones` without it is a dozen shifts and masks per word
        // (1.6× the time at 100k rows; AVX2's byte shuffles measured no
        // faster than POPCNT here).
        #[allow(unsafe_code)]
        // SAFETY: the CPU supports POPCNT, checked just above.
        return unsafe { nearest_codes_popcnt(bits, code, first_row, k) };
    }
    nearest_in(bits, code, first_row, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn nearest_codes_popcnt(bits: &[u64], code: &[u64], first_row: usize, k: usize) -> Vec<Coded> {
    nearest_in(bits, code, first_row, k)
}
#[inline(always)]
fn nearest_in(bits: &[u64], code: &[u64], first_row: usize, k: usize) -> Vec<Coded> {
    let mut nearest = Nearest::new(k);
    if let Ok(code) = <&[u64; 8]>::try_from(code) {
        // 512-d embeddings: a fixed-width loop the compiler unrolls.
        let (rows, _) = bits.as_chunks::<8>();
        for (i, row) in rows.iter().enumerate() {
            nearest.offer(hamming(row, code), first_row + i);
        }
    } else {
        for (i, row) in bits.chunks_exact(code.len()).enumerate() {
            nearest.offer(hamming(row, code), first_row + i);
        }
    }
    nearest.into_vec()
}

#[inline(always)]
fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
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
        normalised(v)
    }

    fn normalised(v: Vec<f32>) -> Vec<f32> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }

    /// A unit vector at cosine `cosine` to the unit vector `to`.
    fn at_cosine(to: &[f32], cosine: f32, seed: u32) -> Vec<f32> {
        let noise = unit(seed, to.len());
        let along: f32 = noise.iter().zip(to).map(|(a, b)| a * b).sum();
        let across = normalised(noise.iter().zip(to).map(|(n, t)| n - along * t).collect());
        let sine = (1.0 - cosine * cosine).sqrt();
        to.iter()
            .zip(across)
            .map(|(t, a)| cosine * t + sine * a)
            .collect()
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
            let hits = index.prefiltered_best_two(&unit(i, 64), 2);
            assert_eq!(hits[0].entry, entry(i));
        }
        assert_ne!(index.best(&unit(3, 64)).unwrap().entry, entry(3));
        for i in 0..10 {
            index.remove(&format!("face_{i}"));
        }
        assert!(index.is_empty());
        assert!(index.best(&unit(1, 64)).is_none());
        assert!(index.prefiltered_best_two(&unit(1, 64), 8).is_empty());
    }

    #[test]
    fn parallel_scan_agrees_with_a_single_thread() {
        let dims = 16;
        let mut index = FaceIndex::new(dims);
        for i in 0..(PARALLEL_FROM_ROWS as u32 + 999) {
            index.insert(entry(i), &unit(i, dims));
        }
        for probe in [0u32, 5_000, PARALLEL_FROM_ROWS as u32 + 998] {
            let hits = index.exact_best_two(&unit(probe, dims));
            let query: Vec<i8> = unit(probe, dims).iter().map(|&x| quantise(x)).collect();
            let [(first, _), (second, _)] = best_in(&index.matrix, &query, 0);
            assert_eq!(hits[0].entry, index.entries[first]);
            assert_eq!(hits[1].entry, index.entries[second]);
        }
    }

    #[test]
    fn the_code_search_finds_the_same_on_any_number_of_threads() {
        let dims = 16;
        let mut index = FaceIndex::new(dims);
        for i in 0..3_001 {
            index.insert(entry(i), &unit(i, dims));
        }
        // Duplicates, so that distances tie at the candidates' edge.
        for i in 0..500 {
            index.insert(entry(10_000 + i), &unit(i % 7, dims));
        }
        for probe in [0u32, 1_234, 3_000] {
            let query = unit(probe, dims);
            // The reference: every code's distance, the nearest 100 by
            // (distance, row), rescored in row order.
            let mut code = Vec::new();
            index.rotation.sign_code(&query, &mut code);
            let mut all: Vec<Coded> = index
                .bits
                .chunks_exact(code.len())
                .enumerate()
                .map(|(row, bits)| (hamming(bits, &code), row))
                .collect();
            all.sort_unstable();
            let mut rows: Vec<usize> = all[..100].iter().map(|&(_, row)| row).collect();
            rows.sort_unstable();
            let quantised: Vec<i8> = query.iter().map(|&x| quantise(x)).collect();
            let expected = index.hits(rescore(&index.matrix, &quantised, &rows));
            assert_eq!(expected[0].entry, entry(probe), "itself, at distance 0");
            for threads in 1..=3 {
                assert_eq!(index.prefiltered_on(&query, 100, threads), expected);
            }
            assert_eq!(index.prefiltered_best_two(&query, 100), expected);
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
        assert_eq!(index.prefiltered_best_two(&unit(1, 64), 8).len(), 1);
        // A near twin of face 1: face 1's vector nudged towards face 9's.
        let twin: Vec<f32> = unit(1, 64)
            .iter()
            .zip(unit(9, 64))
            .map(|(a, b)| a + 0.2 * b)
            .collect();
        index.insert(entry(2), &normalised(twin));
        for i in 3..50 {
            index.insert(entry(i), &unit(i, 64));
        }
        for hits in [
            index.best_two(&unit(1, 64)),
            index.prefiltered_best_two(&unit(1, 64), 4),
        ] {
            assert_eq!(hits[0].entry, entry(1));
            assert_eq!(hits[1].entry, entry(2));
            assert!(hits[0].similarity > hits[1].similarity && hits[1].similarity > 0.9);
        }
    }

    /// Random 512-d faces and, for each query, one or two planted at cosine
    /// 0.5–0.9 to it: the second planted face in a near tie with the first
    /// (0–0.01 apart, some the very same embedding under another id). Three
    /// candidates of 10k rows is a smaller share of the index than
    /// [`CANDIDATES`] of 1M, so this is the harder case.
    #[test]
    fn the_prefilter_finds_what_the_exact_scan_finds() {
        let dims = 512;
        let (strangers, queries) = (10_000u32, 100u32);
        let mut index = FaceIndex::new(dims);
        let mut planted = Vec::new();
        for q in 0..queries {
            let query = unit(1_000_000 + q, dims);
            let cosine = 0.5 + 0.4 * (q as f32 / queries as f32);
            let first = at_cosine(&query, cosine, 2_000_000 + q);
            planted.push(first.clone());
            if q % 2 == 0 {
                let gap = 0.01 * (q % 10) as f32 / 10.0;
                let second = if q % 10 == 0 {
                    first
                } else {
                    at_cosine(&query, cosine - gap, 3_000_000 + q)
                };
                planted.push(second);
            }
        }
        // Planted faces spread among the strangers, so rows of both kinds
        // are in each thread's share.
        let every = strangers as usize / planted.len();
        let mut planted = planted.into_iter();
        for i in 0..strangers {
            index.insert(entry(i), &unit(i, dims));
            if (i as usize).is_multiple_of(every)
                && let Some(face) = planted.next()
            {
                index.insert(entry(10_000_000 + i), &face);
            }
        }
        assert!(planted.next().is_none());
        for q in 0..queries {
            let query = unit(1_000_000 + q, dims);
            let exact = index.exact_best_two(&query);
            assert!(
                exact[0].similarity > 0.49,
                "{q}: the planted face is the best"
            );
            if q % 2 == 0 {
                assert!(exact[1].similarity > 0.48, "{q}: and the runner-up");
                assert_ne!(exact[0].entry, exact[1].entry);
                assert_eq!(index.prefiltered_best_two(&query, 3), exact, "{q}");
                assert_eq!(index.prefiltered_best_two(&query, CANDIDATES), exact, "{q}");
            } else {
                let hits = index.prefiltered_best_two(&query, 3);
                assert_eq!(hits[0], exact[0], "{q}");
                assert_ne!(hits[1].entry, hits[0].entry, "{q}: a different row");
                assert!(hits[1].similarity <= exact[1].similarity, "{q}");
            }
        }
    }

    /// Random inserts, replacements and removals: every row's int8
    /// components and code stay those of the embedding its face was given.
    #[test]
    fn insert_and_remove_keep_the_codes_in_step() {
        let dims = 100; // not a multiple of 64, nor a power of two
        let mut index = FaceIndex::new(dims);
        let mut given: HashMap<String, Vec<f32>> = HashMap::new();
        let mut state = 7u32;
        for step in 0..2_000u32 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let face = state % 300;
            if state.is_multiple_of(3) {
                assert_eq!(
                    index.remove(&format!("face_{face}")),
                    given.remove(&format!("face_{face}")).is_some()
                );
            } else {
                let embedding = unit(step, dims);
                index.insert(entry(face), &embedding);
                given.insert(format!("face_{face}"), embedding);
            }
        }
        assert_eq!(index.len(), given.len());
        assert_eq!(index.matrix.len(), given.len() * dims);
        assert_eq!(index.bits.len(), given.len() * index.words());
        for (row, entry) in index.entries.iter().enumerate() {
            assert_eq!(index.row_of[&entry.face_id], row);
            let embedding = &given[&entry.face_id];
            let quantised: Vec<i8> = embedding.iter().map(|&x| quantise(x)).collect();
            assert_eq!(index.matrix[row * dims..(row + 1) * dims], quantised[..]);
            let mut code = Vec::new();
            index.rotation.sign_code(embedding, &mut code);
            let words = index.words();
            assert_eq!(index.bits[row * words..(row + 1) * words], code[..]);
            let hits = index.prefiltered_best_two(embedding, 2);
            assert_eq!(hits[0].entry.face_id, entry.face_id);
        }
    }

    #[test]
    fn codes_are_sign_bits_after_the_rotation() {
        let dims = 512;
        let rotation = Rotation::new(dims);
        let v = unit(5, dims);
        let minus: Vec<f32> = v.iter().map(|x| -x).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        rotation.sign_code(&v, &mut a);
        rotation.sign_code(&minus, &mut b);
        assert_eq!(a.len(), 8);
        assert_eq!(hamming(&a, &a), 0);
        // Opposite vectors disagree in every bit (no rotated component is 0).
        assert_eq!(hamming(&a, &b), 512);
        // The rotation is orthogonal up to scale: H·H = width·I.
        let mut x = v.clone();
        walsh_hadamard(&mut x);
        walsh_hadamard(&mut x);
        for (y, v) in x.iter().zip(&v) {
            assert!((y / 512.0 - v).abs() < 1e-5);
        }
        // Orthogonal faces disagree in about half the bits.
        let mut far = Vec::new();
        rotation.sign_code(&at_cosine(&v, 0.0, 9), &mut far);
        assert!(
            (200..=312).contains(&hamming(&a, &far)),
            "{}",
            hamming(&a, &far)
        );
    }

    #[test]
    fn nearest_keeps_the_k_nearest_with_ties_to_the_lower_row() {
        let mut nearest = Nearest::new(3);
        for (row, distance) in [9, 4, 7, 4, 1, 7, 4, 8].into_iter().enumerate() {
            nearest.offer(distance, row);
        }
        let mut kept = nearest.into_vec();
        kept.sort_unstable();
        assert_eq!(kept, [(1, 4), (4, 1), (4, 3)]);
    }

    #[test]
    fn the_dispatched_code_search_agrees_with_the_portable_one() {
        for words in [8usize, 3] {
            let bits: Vec<u64> = (0..words as u64 * 500)
                .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17))
                .collect();
            let code: Vec<u64> = (0..words as u64)
                .map(|i| i.wrapping_mul(0x5555_1234_0F0F_AAAA))
                .collect();
            let mut dispatched = nearest_codes(&bits, &code, 11, 20);
            let mut portable = nearest_in(&bits, &code, 11, 20);
            dispatched.sort_unstable();
            portable.sort_unstable();
            assert_eq!(dispatched, portable);
            let mut all: Vec<Coded> = bits
                .chunks_exact(words)
                .enumerate()
                .map(|(i, row)| (hamming(row, &code), 11 + i))
                .collect();
            all.sort_unstable();
            assert_eq!(portable, all[..20]);
        }
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
