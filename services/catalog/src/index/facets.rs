//! Facet counts of a listing query: how many products match, per category
//! (each counted in its whole subtree), per vendor, and the price range,
//! read from fast fields in one pass over the matches.
use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::document;

/// The counts of one query, categories by their own id (not yet rolled up).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub categories: HashMap<i64, u64>,
    pub vendors: HashMap<i64, u64>,
    /// Lowest and highest price in cents.
    pub price: Option<(i64, i64)>,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.total += other.total;
        for (id, n) in other.categories {
            *self.categories.entry(id).or_default() += n;
        }
        for (id, n) in other.vendors {
            *self.vendors.entry(id).or_default() += n;
        }
        self.price = match (self.price, other.price) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (one, other) => one.or(other),
        };
    }

    /// Each category's count covering its subtree: every product counts
    /// once in its own category and once in each ancestor.
    pub fn rolled_up(&self, parents: &HashMap<i64, Option<i64>>) -> HashMap<i64, u64> {
        let mut totals: HashMap<i64, u64> = HashMap::new();
        for (&category, &n) in &self.categories {
            let mut at = Some(category);
            // A tree is at most as deep as it is large; stop regardless.
            let mut steps = 0;
            while let Some(id) = at.filter(|id| parents.contains_key(id) && steps <= parents.len()) {
                *totals.entry(id).or_default() += n;
                at = parents.get(&id).copied().flatten();
                steps += 1;
            }
        }
        totals
    }
}

pub struct FacetCollector;

pub struct SegmentFacets {
    categories: Column<u64>,
    vendors: Column<u64>,
    prices: Column<i64>,
    counts: Counts,
    per_category: Tally,
    per_vendor: Tally,
}

/// Counts per id within one segment: a dense array over the segment's id
/// range when it is small (ids are auto-increment, so it is), else a map.
enum Tally {
    Dense { min: u64, counts: Vec<u64> },
    Sparse(HashMap<u64, u64>),
}

const DENSE_RANGE: u64 = 1 << 16;

impl Tally {
    fn over(column: &Column<u64>) -> Tally {
        let (min, max) = (column.min_value(), column.max_value());
        match max.checked_sub(min) {
            Some(range) if range < DENSE_RANGE => Tally::Dense { min, counts: vec![0; range as usize + 1] },
            _ => Tally::Sparse(HashMap::new()),
        }
    }

    fn add(&mut self, id: u64) {
        match self {
            Tally::Dense { min, counts } => {
                if let Some(count) = id.checked_sub(*min).and_then(|at| counts.get_mut(at as usize)) {
                    *count += 1;
                }
            }
            Tally::Sparse(counts) => *counts.entry(id).or_default() += 1,
        }
    }

    fn into_map(self, into: &mut HashMap<i64, u64>, skip_zero_id: bool) {
        let pairs: Box<dyn Iterator<Item = (u64, u64)>> = match self {
            Tally::Dense { min, counts } => {
                Box::new(counts.into_iter().enumerate().map(move |(at, n)| (min + at as u64, n)))
            }
            Tally::Sparse(counts) => Box::new(counts.into_iter()),
        };
        for (id, n) in pairs.filter(|(id, n)| *n > 0 && !(skip_zero_id && *id == 0)) {
            *into.entry(id as i64).or_default() += n;
        }
    }
}

impl Collector for FacetCollector {
    type Fruit = Counts;
    type Child = SegmentFacets;

    fn for_segment(&self, _segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentFacets> {
        let fast = reader.fast_fields();
        let (categories, vendors) = (fast.u64(document::CATEGORY)?, fast.u64(document::VENDOR)?);
        Ok(SegmentFacets {
            per_category: Tally::over(&categories),
            per_vendor: Tally::over(&vendors),
            categories,
            vendors,
            prices: fast.i64(document::PRICE)?,
            counts: Counts::default(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut all = Counts::default();
        for counts in segments {
            all.add(counts);
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.collect_block(&[doc]);
    }

    /// Counts are never scored: the columns are read a block at a time.
    fn collect_block(&mut self, docs: &[DocId]) {
        const BLOCK: usize = tantivy::COLLECT_BLOCK_BUFFER_LEN;
        for docs in docs.chunks(BLOCK) {
            let (mut categories, mut vendors, mut prices) = ([None; BLOCK], [None; BLOCK], [None; BLOCK]);
            let n = docs.len();
            self.categories.first_vals(docs, &mut categories[..n]);
            self.vendors.first_vals(docs, &mut vendors[..n]);
            self.prices.first_vals(docs, &mut prices[..n]);
            let counts = &mut self.counts;
            counts.total += n as u64;
            for category in categories[..n].iter().flatten() {
                self.per_category.add(*category);
            }
            for vendor in vendors[..n].iter().flatten() {
                self.per_vendor.add(*vendor);
            }
            for price in prices[..n].iter().flatten() {
                counts.price =
                    Some(counts.price.map_or((*price, *price), |(low, high)| (low.min(*price), high.max(*price))));
            }
        }
    }

    fn harvest(mut self) -> Counts {
        // Category 0 stands for "none".
        self.per_category.into_map(&mut self.counts.categories, true);
        self.per_vendor.into_map(&mut self.counts.vendors, false);
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_category_counts_its_whole_subtree() {
        let parents = HashMap::from([(1, None), (2, Some(1)), (3, Some(2)), (4, None)]);
        let counts = Counts { categories: HashMap::from([(3, 2), (2, 1), (4, 5), (99, 7)]), ..Default::default() };
        let totals = counts.rolled_up(&parents);
        assert_eq!(totals, HashMap::from([(1, 3), (2, 3), (3, 2), (4, 5)]));
    }
}
