//! Newest-first without walking every match. Documents are mostly stored in
//! the order products were created (the start-up build reads by id, a
//! catch-up of new products by stamp, an import is one statement), so in
//! such a segment `(created_at, id)` rises with the document number and a
//! page by `created_at` is simply the first or last `limit` matches on one
//! side of the cursor's document: no fast-field read per match, no top-k,
//! and no walk over the matches outside the page.
//! Whether a segment is in that order is checked once (a pass over two
//! columns) and remembered; segments that are not (updates re-add old
//! products at the end) take the general collector.
use std::collections::HashMap;
use std::sync::Mutex;

use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::query::{Scorer, Weight};
use tantivy::{DocId, DocSet, SegmentReader};

use super::document;

/// Segments known to hold their documents in `(created_at, id)` order.
#[derive(Default)]
pub struct CreationOrder {
    checked: Mutex<HashMap<SegmentId, bool>>,
    #[cfg(test)]
    never: bool,
}

/// Past this many remembered segments the memo starts over (segments come
/// and go with commits and merges).
const MEMO_LIMIT: usize = 4_096;

impl CreationOrder {
    /// A memo that takes every segment for unordered: the general
    /// collector, to compare the windows against.
    #[cfg(test)]
    pub fn unordered_for_tests() -> Self {
        Self { checked: Mutex::default(), never: true }
    }

    pub fn holds(&self, reader: &SegmentReader) -> tantivy::Result<bool> {
        #[cfg(test)]
        if self.never {
            return Ok(false);
        }
        let id = reader.segment_id();
        if let Some(known) = self.checked.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(*known);
        }
        let fast = reader.fast_fields();
        let ordered = in_creation_order(&fast.i64(document::CREATED)?, &fast.u64(document::ID)?, reader.max_doc());
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        if checked.len() >= MEMO_LIMIT {
            checked.clear();
        }
        checked.insert(id, ordered);
        Ok(ordered)
    }
}

fn in_creation_order(created: &Column<i64>, ids: &Column<u64>, max_doc: DocId) -> bool {
    const BLOCK: usize = 1024;
    let mut previous: Option<(i64, u64)> = None;
    let mut docs = [0 as DocId; BLOCK];
    for start in (0..max_doc).step_by(BLOCK) {
        let len = (max_doc - start).min(BLOCK as DocId) as usize;
        for (i, doc) in docs[..len].iter_mut().enumerate() {
            *doc = start + i as DocId;
        }
        let chunk = &docs[..len];
        let mut keys = [None; BLOCK];
        let mut numbers = [None; BLOCK];
        created.first_vals(chunk, &mut keys[..chunk.len()]);
        ids.first_vals(chunk, &mut numbers[..chunk.len()]);
        for (key, number) in keys[..chunk.len()].iter().zip(&numbers[..chunk.len()]) {
            let (Some(key), Some(number)) = (key, number) else { return false };
            if previous.is_some_and(|p| p >= (*key, *number)) {
                return false;
            }
            previous = Some((*key, *number));
        }
    }
    true
}

/// The page of one segment in creation order, read straight from the
/// query's matches rather than by walking all of them: oldest first, the
/// first `limit` matches past the cursor's document (one seek); newest
/// first, the last `limit` before it, found by reading ever longer
/// stretches backwards from the cursor (a scorer only moves forwards, so
/// each stretch opens the query's scorer again). `after`: the cursor's
/// `(created_at, id)`, strictly past which the page starts. Documents come
/// back in reading order.
pub fn window(
    weight: &dyn Weight,
    reader: &SegmentReader,
    created: &Column<i64>,
    ids: &Column<u64>,
    after: Option<(i64, i64)>,
    newest_first: bool,
    limit: usize,
) -> tantivy::Result<Vec<DocId>> {
    let max_doc = reader.max_doc();
    let key = |doc: DocId| (created.first(doc).unwrap_or_default(), ids.first(doc).unwrap_or_default() as i64);
    let (from, to) = match after {
        None => (0, max_doc),
        // Older than the cursor: the documents before the first not older.
        Some(after) if newest_first => (0, partition_point(max_doc, |doc| key(doc) < after)),
        // Newer than the cursor: from the first document newer.
        Some(after) => (partition_point(max_doc, |doc| key(doc) <= after), max_doc),
    };
    let alive = |doc: DocId| reader.alive_bitset().is_none_or(|bits| bits.is_alive(doc));
    let mut scorer = weight.scorer(reader, 1.0)?;
    let mut page = Vec::with_capacity(limit);
    if !newest_first {
        let mut doc = seek(&mut *scorer, from);
        while doc < to && page.len() < limit {
            if alive(doc) {
                page.push(doc);
            }
            doc = scorer.advance();
        }
        return Ok(page);
    }
    // A first stretch that holds about twice the page if matches are spread
    // evenly (the scorer's size hint is an upper bound on their number).
    let matches = (scorer.size_hint() as u64).max(1);
    let mut stretch = ((2 * limit.max(1) as u64 * max_doc as u64) / matches).clamp(256, u32::MAX as u64) as DocId;
    let mut end = to;
    let mut stretch_docs = Vec::new();
    while end > from && page.len() < limit {
        let start = end.saturating_sub(stretch).max(from);
        stretch_docs.clear();
        let mut doc = seek(&mut *scorer, start);
        while doc < end {
            if alive(doc) {
                stretch_docs.push(doc);
            }
            doc = scorer.advance();
        }
        let wanted = (limit - page.len()).min(stretch_docs.len());
        page.extend(stretch_docs.iter().rev().take(wanted));
        end = start;
        stretch = stretch.saturating_mul(8);
        if end > from && page.len() < limit {
            scorer = weight.scorer(reader, 1.0)?;
        }
    }
    Ok(page)
}

/// Moves a fresh or advanced scorer to its first match at or past `target`.
fn seek(scorer: &mut dyn Scorer, target: DocId) -> DocId {
    let doc = scorer.doc();
    if doc < target { scorer.seek(target) } else { doc }
}

/// The first document for which `before` is false (`before` holds for a
/// prefix of the documents).
fn partition_point(max_doc: DocId, before: impl Fn(DocId) -> bool) -> DocId {
    let (mut low, mut high) = (0, max_doc);
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_point_finds_the_first_outside_the_prefix() {
        let keys = [1, 3, 3, 5, 8];
        assert_eq!(partition_point(5, |d| keys[d as usize] < 3), 1);
        assert_eq!(partition_point(5, |d| keys[d as usize] <= 3), 3);
        assert_eq!(partition_point(5, |d| keys[d as usize] < 100), 5);
        assert_eq!(partition_point(0, |_| true), 0);
    }
}
