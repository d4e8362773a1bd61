//! Pages by price, name or `created_at` that stop at the page instead of
//! walking every match. A large segment keeps its documents sorted by the
//! key then id (built on first use, remembered per segment: segments never
//! change). A page reads that order from the cursor on, in stretches: each
//! stretch's documents are put in document order and tested against the
//! query with `seek_danger` (membership, the way an intersection tests its
//! other clauses), and the matches, back in key order, fill the page. The
//! cost follows the page and how rare matches are, not how many there are;
//! a narrow query, whose matches are fewer than the documents between them,
//! still walks its matches.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::query::{Scorer, Weight};
use tantivy::{DocId, DocSet, SegmentReader, TERMINATED};

use crate::domain::SortKey;

/// Segments with fewer documents walk their matches.
const MIN_DOCS: DocId = 4_096;

/// Past this many remembered orders the memo starts over (segments come
/// and go with commits and merges).
const MEMO_LIMIT: usize = 256;

/// How much dearer testing one document of a stretch is than offering one
/// walked match (sorting the stretch, seeking the query).
const STRETCH_COST: u64 = 8;

/// A segment's documents in one key's order.
type Orders = HashMap<(SegmentId, SortKey), Arc<[DocId]>>;

/// Segments' documents in key order.
#[derive(Default)]
pub struct SortedDocs {
    orders: Mutex<Orders>,
    #[cfg(test)]
    mode: Option<bool>,
}

impl SortedDocs {
    /// Always walks (`false`) or always reads sorted (`true`), whatever the
    /// sizes: to compare the two.
    #[cfg(test)]
    pub fn forced_for_tests(sorted: bool) -> Self {
        Self { orders: Mutex::default(), mode: Some(sorted) }
    }

    /// Whether a page of `limit` is cheaper read in key order than by
    /// walking `matches` (an estimate) of the segment's documents.
    pub fn pays(&self, reader: &SegmentReader, matches: u32, limit: usize) -> bool {
        #[cfg(test)]
        if let Some(sorted) = self.mode {
            return sorted;
        }
        let docs = reader.max_doc();
        let matches = u64::from(matches);
        docs >= MIN_DOCS && matches * matches >= STRETCH_COST * limit.max(1) as u64 * u64::from(docs)
    }

    /// The segment's documents sorted by `(key, id)`, deleted ones included;
    /// `keys` reads a block of documents' keys and ids.
    pub fn order(
        &self,
        reader: &SegmentReader,
        key: SortKey,
        keys: impl Fn(&[DocId], &mut [(i64, i64)]),
    ) -> Arc<[DocId]> {
        let memo_key = (reader.segment_id(), key);
        if let Some(order) = self.orders.lock().unwrap_or_else(|p| p.into_inner()).get(&memo_key) {
            return order.clone();
        }
        const BLOCK: usize = 1024;
        let max_doc = reader.max_doc();
        let mut keyed = Vec::with_capacity(max_doc as usize);
        let mut docs = [0 as DocId; BLOCK];
        let mut block = [(0i64, 0i64); BLOCK];
        for start in (0..max_doc).step_by(BLOCK) {
            let len = (max_doc - start).min(BLOCK as DocId) as usize;
            for (i, doc) in docs[..len].iter_mut().enumerate() {
                *doc = start + i as DocId;
            }
            keys(&docs[..len], &mut block[..len]);
            keyed.extend(block[..len].iter().zip(&docs[..len]).map(|(k, d)| (*k, *d)));
        }
        keyed.sort_unstable();
        let order: Arc<[DocId]> = keyed.into_iter().map(|(_, doc)| doc).collect();
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        if orders.len() >= MEMO_LIMIT {
            orders.clear();
        }
        orders.insert(memo_key, order.clone());
        order
    }
}

/// The first `limit` matches of `order[range]`, read forwards or (when
/// `backwards`) from its end; `scorer` is the query's fresh scorer, whose
/// size hint estimates the matches.
pub fn read(
    weight: &dyn Weight,
    reader: &SegmentReader,
    mut scorer: Box<dyn Scorer>,
    order: &[DocId],
    range: std::ops::Range<usize>,
    backwards: bool,
    limit: usize,
) -> tantivy::Result<Vec<DocId>> {
    let alive = |doc: DocId| reader.alive_bitset().is_none_or(|bits| bits.is_alive(doc));
    let span = range.len();
    // A first stretch that holds about twice the page if matches are spread
    // evenly.
    let matches = u64::from(scorer.size_hint()).max(1);
    let mut stretch = ((2 * limit.max(1) as u64 * u64::from(reader.max_doc())) / matches).clamp(256, 1 << 30) as usize;
    let mut page = Vec::with_capacity(limit);
    let mut read = 0;
    let mut docs: Vec<(DocId, usize)> = Vec::new();
    let mut matched: Vec<bool> = Vec::new();
    while read < span && page.len() < limit {
        let n = stretch.min(span - read);
        let start = if backwards { range.end - read - n } else { range.start + read };
        let positions = &order[start..start + n];
        docs.clear();
        docs.extend(positions.iter().enumerate().map(|(rank, doc)| (*doc, rank)));
        docs.sort_unstable();
        matched.clear();
        matched.resize(n, false);
        let mut lower_bound = 0;
        for &(doc, rank) in &docs {
            if doc < lower_bound {
                continue;
            }
            match scorer.seek_danger(doc) {
                tantivy::SeekDangerResult::Found => matched[rank] = alive(doc),
                tantivy::SeekDangerResult::SeekLowerBound(TERMINATED) => break,
                tantivy::SeekDangerResult::SeekLowerBound(bound) => lower_bound = bound,
            }
        }
        let wanted = limit - page.len();
        let hits = positions.iter().zip(&matched).filter(|(_, hit)| **hit).map(|(doc, _)| *doc);
        if backwards {
            let hits: Vec<DocId> = hits.collect();
            page.extend(hits.into_iter().rev().take(wanted));
        } else {
            page.extend(hits.take(wanted));
        }
        read += n;
        stretch = stretch.saturating_mul(8);
        if read < span && page.len() < limit {
            scorer = weight.scorer(reader, 1.0)?;
        }
    }
    Ok(page)
}
