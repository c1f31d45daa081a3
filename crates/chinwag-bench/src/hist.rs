//! A log-linear latency histogram (in microseconds) with under 1% error,
//! mergeable across processes through a sparse form.

use serde::{Deserialize, Serialize};

/// Sub-bucket bits: each power of two is split into `2^SUB_BITS` buckets.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (SUB + (64 - SUB_BITS as u64) * SUB) as usize;

/// A histogram of `u64` values (the bench records microseconds).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The sparse form of a [`Histogram`]: `(bucket, count)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseHistogram {
    /// Non-empty buckets.
    pub buckets: Vec<(u32, u64)>,
    /// The largest value recorded.
    pub max: u64,
}

fn index_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = e - SUB_BITS;
    let mantissa = (v >> shift) - SUB;
    (SUB + u64::from(shift) * SUB + mantissa) as usize
}

/// The highest value that falls in bucket `idx`.
fn high_of(idx: usize) -> u64 {
    let idx = idx as u64;
    if idx < SUB {
        return idx;
    }
    let k = idx - SUB;
    let shift = k / SUB;
    let mantissa = k % SUB;
    let low = (SUB + mantissa) << shift;
    low + ((1u64 << shift) - 1)
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[index_of(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the highest value equivalent to
    /// the bucket holding the `ceil(q * count)`-th smallest value, capped at
    /// the true maximum. Zero when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return high_of(i).min(self.max);
            }
        }
        self.max
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// Adds a sparse histogram.
    pub fn merge_sparse(&mut self, s: &SparseHistogram) {
        for &(i, c) in &s.buckets {
            if let Some(slot) = self.counts.get_mut(i as usize) {
                *slot += c;
                self.total += c;
            }
        }
        self.max = self.max.max(s.max);
    }

    /// The sparse form.
    pub fn to_sparse(&self) -> SparseHistogram {
        SparseHistogram {
            buckets: self
                .counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (i as u32, *c))
                .collect(),
            max: self.max,
        }
    }

    /// Empties it.
    pub fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
        self.max = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), 50);
        assert_eq!(h.quantile(0.99), 99);
        assert_eq!(h.quantile(1.0), 100);
        assert_eq!(h.quantile(0.0), 1);
    }

    #[test]
    fn large_values_within_one_percent() {
        for v in [
            200u64,
            1_000,
            12_345,
            99_999,
            1_000_000,
            123_456_789,
            u64::MAX / 3,
        ] {
            let idx = index_of(v);
            let hi = high_of(idx);
            assert!(hi >= v, "{v}: high {hi}");
            let err = (hi - v) as f64 / v as f64;
            assert!(err < 0.01, "{v}: err {err}");
            assert!(idx < BUCKETS);
        }
    }

    #[test]
    fn bucket_bounds_are_contiguous() {
        for i in 1..BUCKETS - 1 {
            assert_eq!(index_of(high_of(i)), i);
            assert_eq!(index_of(high_of(i) + 1), i + 1);
        }
    }

    #[test]
    fn percentiles_of_a_uniform_range() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        let p999 = h.quantile(0.999) as f64;
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.01, "{p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.01, "{p99}");
        assert!((p999 / 99_900.0 - 1.0).abs() < 0.01, "{p999}");
        assert_eq!(h.quantile(1.0), 100_000);
    }

    #[test]
    fn sparse_round_trip_and_merge() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for v in 0..1000 {
            a.record(v * 7);
            b.record(v * 13);
        }
        let mut m = Histogram::new();
        m.merge_sparse(&a.to_sparse());
        m.merge_sparse(&b.to_sparse());
        let mut direct = a.clone();
        direct.merge(&b);
        assert_eq!(m.count(), 2000);
        assert_eq!(m.max(), direct.max());
        for q in [0.1, 0.5, 0.9, 0.99, 0.999] {
            assert_eq!(m.quantile(q), direct.quantile(q));
        }
        m.reset();
        assert_eq!(m.count(), 0);
        assert_eq!(m.quantile(0.5), 0);
    }
}
