//! A tiny xorshift64* generator seeded from the clock: enough randomness for
//! picking words, prices, query parameters and products without a crate.
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Rng(u64);

impl Rng {
    /// A generator seeded from the clock, mixed with `stream` so tasks started
    /// in the same nanosecond still differ.
    pub fn from_clock(stream: u64) -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Self::seeded(nanos ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn seeded(seed: u64) -> Self {
        // xorshift must never hold zero.
        Self(if seed == 0 { 0x2545_F491_4F6C_DD1D } else { seed })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough in `low..=high` (the modulo bias is irrelevant here).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        debug_assert!(low <= high);
        low + self.next_u64() % (high - low + 1)
    }

    /// An index into a non-empty slice of length `len`.
    pub fn index(&mut self, len: usize) -> usize {
        (self.next_u64() % len.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() { None } else { items.get(self.index(items.len())) }
    }

    /// `count` distinct indices into a slice of length `len` (all of them,
    /// shuffled, when `count >= len`): a partial Fisher–Yates shuffle.
    pub fn sample(&mut self, len: usize, count: usize) -> Vec<usize> {
        let mut indices: Vec<usize> = (0..len).collect();
        let count = count.min(len);
        for i in 0..count {
            let j = i + self.index(len - i);
            indices.swap(i, j);
        }
        indices.truncate(count);
        indices
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_stays_in_bounds_and_varies() {
        let mut rng = Rng::seeded(42);
        let draws: Vec<u64> = (0..1000).map(|_| rng.between(10, 50)).collect();
        assert!(draws.iter().all(|d| (10..=50).contains(d)));
        assert!(draws.contains(&10) && draws.contains(&50));
    }

    #[test]
    fn samples_are_distinct_and_in_range() {
        let mut rng = Rng::seeded(9);
        let picked = rng.sample(2000, 200);
        assert_eq!(picked.len(), 200);
        assert!(picked.iter().all(|&i| i < 2000));
        assert_eq!(picked.iter().collect::<std::collections::HashSet<_>>().len(), 200);
        let mut all = rng.sample(5, 50);
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
        assert!(rng.sample(0, 3).is_empty());
    }

    #[test]
    fn zero_seed_does_not_stick() {
        let mut rng = Rng::seeded(0);
        assert_ne!(rng.next_u64(), 0);
    }
}
