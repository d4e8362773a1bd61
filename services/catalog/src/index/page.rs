//! A keyset page straight from the index: a collector that keeps, per
//! segment, the `limit + 1` best documents past the cursor by the sort key
//! read from fast fields, then merges the segments' picks. The picks are a
//! buffer of twice the page cut back to the best `limit` (a selection, not a
//! sort) whenever it fills: memory stays bounded, and a stream of ever
//! better documents — newest first over documents stored oldest first, the
//! default listing — costs a push each rather than a heap's sift.
//!
//! Every sort key is a triple compared in its natural order — `(price in
//! cents, 0, id)`, `(created µs, 0, id)`, `(score, created µs, id)` — read
//! ascending or descending. Names are the exception: within a segment they
//! are compared by the ordinal of their sort key in the segment's
//! dictionary (sorted), twice the ordinal so that a cursor key missing from
//! the dictionary falls strictly between two neighbours; across segments
//! they are compared as text.
use std::cmp::Ordering as Cmp;

use rust_decimal::Decimal;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn, TermOrdHit};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

use super::document::{self, cents};
use super::ordered::{self, CreationOrder};
use crate::domain::{SortKey, SortValue};

/// Which page: its key, direction of reading and starting point.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub key: SortKey,
    /// Reading towards smaller keys: a descending ordering read forwards,
    /// or an ascending one read backwards.
    pub descending: bool,
    /// The cursor's position: strictly past it.
    pub after: Option<(SortValue, i64)>,
    /// How many documents to keep (a page and one more).
    pub limit: usize,
}

/// One picked document and its sort value.
#[derive(Debug, Clone)]
pub struct Hit {
    pub id: i64,
    /// Where its stored fields are.
    pub address: DocAddress,
    primary: i64,
    secondary: i64,
    /// The name's sort key, for `ordering=name`.
    text: Option<String>,
}

impl Hit {
    pub fn sort_value(&self, key: SortKey) -> SortValue {
        match key {
            SortKey::Price => SortValue::Price(Decimal::new(self.primary, 2)),
            SortKey::CreatedAt => SortValue::CreatedAt(self.primary),
            SortKey::Name => SortValue::Name(self.text.clone().unwrap_or_default()),
            SortKey::Relevance => SortValue::Relevance { score: self.primary, created: self.secondary },
        }
    }

    fn natural_order(&self, other: &Hit) -> Cmp {
        self.text
            .cmp(&other.text)
            .then(self.primary.cmp(&other.primary))
            .then(self.secondary.cmp(&other.secondary))
            .then(self.id.cmp(&other.id))
    }
}

pub struct PageCollector {
    pub request: PageRequest,
    /// Which segments hold their documents in creation order.
    pub creation_order: std::sync::Arc<CreationOrder>,
}

fn schema_error(what: &str) -> TantivyError {
    TantivyError::SchemaError(format!("the listing index has no fast field {what}"))
}

/// Where the key is read from, in one segment.
enum Source {
    Number(Column<i64>),
    Name(StrColumn),
    Score(Column<i64>),
}

impl Collector for PageCollector {
    type Fruit = Vec<Hit>;
    type Child = SegmentPage;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentPage> {
        let fast = reader.fast_fields();
        let request = &self.request;
        let source = match request.key {
            SortKey::Price => Source::Number(fast.i64(document::PRICE)?),
            SortKey::CreatedAt => Source::Number(fast.i64(document::CREATED)?),
            SortKey::Relevance => Source::Score(fast.i64(document::CREATED)?),
            SortKey::Name => Source::Name(fast.str(document::NAME_KEY)?.ok_or_else(|| schema_error("name_key"))?),
        };
        // The cursor as a triple of this segment.
        let after = match &request.after {
            None => None,
            Some((value, id)) => Some(match (value, &source) {
                (SortValue::Price(price), _) => (cents(*price).unwrap_or(i64::MAX), 0, *id),
                (SortValue::CreatedAt(micros), _) => (*micros, 0, *id),
                (SortValue::Relevance { score, created }, _) => (*score, *created, *id),
                (SortValue::Name(key), Source::Name(names)) => {
                    match names.dictionary().term_ord_or_next(key.as_bytes())? {
                        TermOrdHit::Exact(ord) => (2 * ord as i64, 0, *id),
                        TermOrdHit::Next(ord) => (2 * ord.min(i64::MAX as u64 / 4) as i64 - 1, 0, 0),
                    }
                }
                (SortValue::Name(_), _) => return Err(schema_error("for a name cursor")),
            }),
        };
        let ids = fast.u64(document::ID)?;
        Ok(SegmentPage {
            segment,
            ids,
            source,
            descending: request.descending,
            after: after.map(|t| normalize(t, request.descending)),
            limit: request.limit,
            kept: Vec::with_capacity(buffer_len(request.limit)),
            threshold: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.request.key == SortKey::Relevance
    }

    /// A `created_at` page over a segment in creation order reads only its
    /// window of matches; every other page walks all of them.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<Hit>> {
        let mut page = self.for_segment(segment, reader)?;
        let request = &self.request;
        match &page.source {
            Source::Number(created) if request.key == SortKey::CreatedAt && self.creation_order.holds(reader)? => {
                let after = match &request.after {
                    Some((SortValue::CreatedAt(micros), id)) => Some((*micros, *id)),
                    _ => None,
                };
                let docs =
                    ordered::window(weight, reader, created, &page.ids, after, request.descending, request.limit)?;
                page.keep_window(docs);
            }
            _ => walk_matches(&mut page, weight, reader, self.requires_scoring())?,
        }
        Ok(page.harvest())
    }

    fn merge_fruits(&self, segments: Vec<Vec<Hit>>) -> tantivy::Result<Vec<Hit>> {
        let mut hits: Vec<Hit> = segments.into_iter().flatten().collect();
        if self.request.descending {
            hits.sort_by(|a, b| b.natural_order(a));
        } else {
            hits.sort_by(|a, b| a.natural_order(b));
        }
        hits.truncate(self.request.limit);
        Ok(hits)
    }
}

/// A triple flipped for descending reads, so that "next" is always "smallest".
fn normalize((a, b, id): (i64, i64, i64), descending: bool) -> (i64, i64, i64) {
    if descending { (-a, -b, -id) } else { (a, b, id) }
}

pub struct SegmentPage {
    segment: SegmentOrdinal,
    ids: Column<u64>,
    source: Source,
    descending: bool,
    after: Option<(i64, i64, i64)>,
    limit: usize,
    /// Candidates (normalized triples and their documents); the best
    /// `limit` of them are the segment's page.
    kept: Vec<((i64, i64, i64), DocId)>,
    /// The worst triple of the best `limit` at the last cut: nothing that
    /// does not beat it can make the page.
    threshold: Option<(i64, i64, i64)>,
}

/// How many candidates are held before they are cut back to the page.
fn buffer_len(limit: usize) -> usize {
    (2 * limit).max(128)
}

/// Every match offered to the page, as Tantivy's own `collect_segment`
/// does it: deleted documents skipped, keys read a block at a time unless
/// scores are needed.
fn walk_matches(
    page: &mut SegmentPage,
    weight: &dyn Weight,
    reader: &SegmentReader,
    scored: bool,
) -> tantivy::Result<()> {
    let alive = reader.alive_bitset();
    match (alive, scored) {
        (Some(alive), true) => weight.for_each(reader, &mut |doc, score| {
            if alive.is_alive(doc) {
                page.collect(doc, score);
            }
        }),
        (None, true) => weight.for_each(reader, &mut |doc, score| page.collect(doc, score)),
        (Some(alive), false) => weight.for_each_no_score(reader, &mut |docs| {
            const BLOCK: usize = tantivy::COLLECT_BLOCK_BUFFER_LEN;
            for docs in docs.chunks(BLOCK) {
                let mut living = [0 as DocId; BLOCK];
                let mut n = 0;
                for doc in docs.iter().copied().filter(|doc| alive.is_alive(*doc)) {
                    living[n] = doc;
                    n += 1;
                }
                page.collect_block(&living[..n]);
            }
        }),
        (None, false) => weight.for_each_no_score(reader, &mut |docs| page.collect_block(docs)),
    }
}

impl SegmentPage {
    /// Keeps a creation-order window's documents: the page itself.
    fn keep_window(&mut self, docs: Vec<DocId>) {
        let Source::Number(created) = &self.source else { return };
        for doc in docs {
            let key = (created.first(doc).unwrap_or_default(), 0, self.ids.first(doc).unwrap_or_default() as i64);
            self.kept.push((normalize(key, self.descending), doc));
        }
    }

    /// Offers a document whose sort key is read: kept when it is past the
    /// cursor and among the best so far. The id (a second column read) is
    /// read only when the primary key does not settle it.
    fn offer(&mut self, doc: DocId, primary: i64, secondary: i64) {
        let flip = |v: i64| if self.descending { -v } else { v };
        self.offer_normalized(doc, flip(primary), flip(secondary));
    }

    /// `offer` with the key already flipped for the direction of reading.
    fn offer_normalized(&mut self, doc: DocId, primary: i64, secondary: i64) {
        let flip = |v: i64| if self.descending { -v } else { v };
        if let Some(after) = self.after
            && primary < after.0
        {
            return;
        }
        if let Some((worst, _, _)) = self.threshold
            && primary > worst
        {
            return;
        }
        let id = flip(self.ids.first(doc).unwrap_or_default() as i64);
        let triple = (primary, secondary, id);
        if self.after.is_some_and(|after| triple <= after) || self.threshold.is_some_and(|worst| triple >= worst) {
            return;
        }
        self.kept.push((triple, doc));
        if self.kept.len() >= buffer_len(self.limit) {
            self.cut();
        }
    }

    /// Keeps the best `limit` candidates (in no order) and raises the bar.
    fn cut(&mut self) {
        if self.kept.len() > self.limit && self.limit > 0 {
            self.kept.select_nth_unstable(self.limit - 1);
            self.kept.truncate(self.limit);
            self.threshold = self.kept.iter().map(|(triple, _)| *triple).max();
        }
    }
}

impl SegmentPage {
    /// Offers a block's documents, but only the block's best `limit` by
    /// primary key (and any tied with the last of them): no other can make
    /// the page, and the rest — in a stream of ever better keys, most of the
    /// block — cost neither an id read nor a place in the buffer.
    fn offer_block(&mut self, docs: &[DocId], keys: &[Option<i64>]) {
        const BLOCK: usize = tantivy::COLLECT_BLOCK_BUFFER_LEN;
        let mut candidates = [(0i64, 0 as DocId); BLOCK];
        let mut n = 0;
        for (doc, key) in docs.iter().zip(keys) {
            let key = key.unwrap_or_default();
            let primary = if self.descending { -key } else { key };
            // A key equal to the cursor's is settled by the id: offered
            // as is, so every candidate below is surely past the cursor.
            if self.after.is_some_and(|after| primary == after.0) {
                self.offer_normalized(*doc, primary, 0);
                continue;
            }
            let before_cursor = self.after.is_some_and(|after| primary < after.0);
            let beaten = self.threshold.is_some_and(|worst| primary > worst.0);
            if !before_cursor && !beaten && n < BLOCK {
                candidates[n] = (primary, *doc);
                n += 1;
            }
        }
        let candidates = &mut candidates[..n];
        let limit = self.limit.max(1);
        let kept = if n > limit {
            candidates.select_nth_unstable(limit - 1);
            let bar = candidates[limit - 1].0;
            let mut end = limit;
            for i in limit..n {
                if candidates[i].0 == bar {
                    candidates.swap(end, i);
                    end += 1;
                }
            }
            end
        } else {
            n
        };
        for &(primary, doc) in &candidates[..kept] {
            self.offer_normalized(doc, primary, 0);
        }
    }
}

impl SegmentCollector for SegmentPage {
    type Fruit = Vec<Hit>;

    fn collect(&mut self, doc: DocId, score: Score) {
        let (primary, secondary) = match &self.source {
            Source::Number(column) => (column.first(doc).unwrap_or_default(), 0),
            Source::Score(created) => (score.round() as i64, created.first(doc).unwrap_or_default()),
            Source::Name(names) => (2 * names.ords().first(doc).unwrap_or_default() as i64, 0),
        };
        self.offer(doc, primary, secondary);
    }

    /// The unscored path (every ordering but relevance): keys are read a
    /// block at a time.
    fn collect_block(&mut self, docs: &[DocId]) {
        const BLOCK: usize = tantivy::COLLECT_BLOCK_BUFFER_LEN;
        for docs in docs.chunks(BLOCK) {
            let mut keys = [None; BLOCK];
            let keys = &mut keys[..docs.len()];
            match &self.source {
                Source::Number(column) => column.first_vals(docs, keys),
                Source::Name(names) => {
                    let mut ords = [None; BLOCK];
                    names.ords().first_vals(docs, &mut ords[..docs.len()]);
                    for (key, ord) in keys.iter_mut().zip(ords) {
                        *key = ord.map(|o| 2 * o as i64);
                    }
                }
                // Scores come only through `collect`.
                Source::Score(_) => {
                    for doc in docs {
                        self.collect(*doc, 0.0);
                    }
                    continue;
                }
            }
            self.offer_block(docs, keys);
        }
    }

    fn harvest(mut self) -> Vec<Hit> {
        self.cut();
        let descending = self.descending;
        self.kept
            .into_iter()
            .map(|(triple, doc)| {
                let (primary, secondary, id) = normalize(triple, descending);
                let text = match &self.source {
                    Source::Name(names) => {
                        let mut text = String::new();
                        // A name's ordinal always resolves in its own segment.
                        let _found = names.ord_to_str((primary / 2) as u64, &mut text);
                        Some(text)
                    }
                    _ => None,
                };
                // Ordinals are the segment's own: names compare as text.
                let primary = if text.is_some() { 0 } else { primary };
                Hit { id, address: DocAddress::new(self.segment, doc), primary, secondary, text }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};
    use tantivy::Term;
    use tantivy::query::{AllQuery, Query, TermQuery};
    use tantivy::schema::IndexRecordOption;

    use super::*;
    use crate::index::document::Fields;
    use crate::store::IndexedProduct;

    fn product(id: i64, created_micros: i64) -> IndexedProduct {
        let at = DateTime::<Utc>::from_timestamp_micros(created_micros).expect("time");
        IndexedProduct {
            id,
            vendor_id: 1 + id % 4,
            vendor_status: "approved".into(),
            category_id: None,
            name: format!("Item {id}"),
            slug: format!("item-{id}"),
            description: String::new(),
            sku: String::new(),
            price: Decimal::new(100, 2),
            is_active: true,
            deleted: false,
            created_at: at,
            updated_at: at,
            change_seq: 1,
        }
    }

    /// Pages by `created_at` both ways, from every cursor, over every
    /// document and over a quarter of them, with some deleted: the window
    /// over a segment in creation order answers what the general collector
    /// does.
    #[test]
    fn creation_order_windows_match_the_general_collector() {
        let (schema, fields) = Fields::schema();
        let index = tantivy::Index::create_in_ram(schema);
        index.tokenizers().register(document::WORDS, document::words_analyzer());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("writer");
        // In creation order, with ties on created_at broken by id.
        let products: Vec<IndexedProduct> = (1..=1_500).map(|id| product(id, 1_000_000 + (id / 3) * 10)).collect();
        for p in &products {
            writer.add_document(fields.document(p)).expect("add");
        }
        writer.commit().expect("commit");
        for id in (5..=1_500).step_by(7) {
            writer.delete_term(Term::from_field_u64(fields.id, id));
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let ordered = Arc::new(CreationOrder::default());
        assert!(ordered.holds(&searcher.segment_readers()[0]).expect("check"));
        let general = Arc::new(CreationOrder::unordered_for_tests());
        assert!(searcher.segment_reader(0).alive_bitset().is_some());
        let one_vendor = TermQuery::new(Term::from_field_u64(fields.vendor, 3), IndexRecordOption::Basic);
        let queries: [(&str, &dyn Query); 2] = [("all", &AllQuery), ("one vendor", &one_vendor)];
        let cursors = std::iter::once(None).chain(
            products.iter().step_by(13).map(|p| Some((SortValue::CreatedAt(p.created_at.timestamp_micros()), p.id))),
        );
        for after in cursors {
            for descending in [false, true] {
                for limit in [1, 3, 7, 50, 400] {
                    for (name, query) in queries {
                        let request = PageRequest { key: SortKey::CreatedAt, descending, after: after.clone(), limit };
                        let ids = |creation_order: &Arc<CreationOrder>| {
                            let collector =
                                PageCollector { request: request.clone(), creation_order: creation_order.clone() };
                            let hits = searcher.search(query, &collector).expect("search");
                            hits.iter().map(|h| h.id).collect::<Vec<_>>()
                        };
                        let general_ids = ids(&general);
                        assert_eq!(
                            ids(&ordered),
                            general_ids,
                            "{name}: after {after:?}, descending {descending}, limit {limit}"
                        );
                    }
                }
            }
        }
    }
}
