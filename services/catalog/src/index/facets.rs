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
}

impl Collector for FacetCollector {
    type Fruit = Counts;
    type Child = SegmentFacets;

    fn for_segment(&self, _segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentFacets> {
        let fast = reader.fast_fields();
        Ok(SegmentFacets {
            categories: fast.u64(document::CATEGORY)?,
            vendors: fast.u64(document::VENDOR)?,
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
        let counts = &mut self.counts;
        counts.total += 1;
        if let Some(category) = self.categories.first(doc).filter(|c| *c != 0) {
            *counts.categories.entry(category as i64).or_default() += 1;
        }
        if let Some(vendor) = self.vendors.first(doc) {
            *counts.vendors.entry(vendor as i64).or_default() += 1;
        }
        if let Some(price) = self.prices.first(doc) {
            counts.price = Some(counts.price.map_or((price, price), |(low, high)| (low.min(price), high.max(price))));
        }
    }

    fn harvest(self) -> Counts {
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
