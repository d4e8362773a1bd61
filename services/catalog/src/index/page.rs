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
use super::sorted::{self, SortedDocs};
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
    /// Segments' documents in key order.
    pub sorted: std::sync::Arc<SortedDocs>,
    /// The price filter's inclusive bounds in cents, if any: a page by
    /// price reads only the documents between them.
    pub price_cents: Option<(i64, i64)>,
}

/// Documents whose keys are read at once: Tantivy's collector block.
const BLOCK: usize = tantivy::COLLECT_BLOCK_BUFFER_LEN;

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
    /// window of matches; a page of a broad query over a large segment
    /// reads the segment in key order until the page is full; every other
    /// page walks all the matches.
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<Hit>> {
        let mut page = self.for_segment(segment, reader)?;
        let request = &self.request;
        if request.key == SortKey::Relevance {
            walk_scored(&mut page, weight, reader)?;
            return Ok(page.harvest());
        }
        if let Source::Number(created) = &page.source
            && request.key == SortKey::CreatedAt
            && self.creation_order.holds(reader)?
        {
            let after = match &request.after {
                Some((SortValue::CreatedAt(micros), id)) => Some((*micros, *id)),
                _ => None,
            };
            let docs = ordered::window(weight, reader, created, &page.ids, after, request.descending, request.limit)?;
            page.keep(docs);
            return Ok(page.harvest());
        }
        let scorer = weight.scorer(reader, 1.0)?;
        if self.sorted.pays(reader, scorer.size_hint(), request.limit) {
            let order = self.sorted.order(reader, request.key, |docs, keys| page.read_keys(docs, keys));
            let price_cents = if request.key == SortKey::Price { self.price_cents } else { None };
            let range = page.positions(&order, price_cents);
            let docs = sorted::read(weight, reader, scorer, &order, range, request.descending, request.limit)?;
            page.keep(docs);
        } else {
            walk_unscored(&mut page, scorer, reader);
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

/// Every match offered to the page with its score, as Tantivy's own
/// `collect_segment` does it (deleted documents skipped).
fn walk_scored(page: &mut SegmentPage, weight: &dyn Weight, reader: &SegmentReader) -> tantivy::Result<()> {
    match reader.alive_bitset() {
        Some(alive) => weight.for_each(reader, &mut |doc, score| {
            if alive.is_alive(doc) {
                page.collect(doc, score);
            }
        }),
        None => weight.for_each(reader, &mut |doc, score| page.collect(doc, score)),
    }
}

/// Every match of `scorer` offered to the page, keys read a block at a
/// time (deleted documents skipped).
fn walk_unscored(page: &mut SegmentPage, mut scorer: Box<dyn tantivy::query::Scorer>, reader: &SegmentReader) {
    let alive = reader.alive_bitset();
    let mut buffer = [0 as DocId; BLOCK];
    loop {
        let n = scorer.fill_buffer(&mut buffer);
        match alive {
            Some(alive) => {
                let mut living = [0 as DocId; BLOCK];
                let mut kept = 0;
                for doc in buffer[..n].iter().copied().filter(|doc| alive.is_alive(*doc)) {
                    living[kept] = doc;
                    kept += 1;
                }
                page.collect_block(&living[..kept]);
            }
            None => page.collect_block(&buffer[..n]),
        }
        if n < BLOCK {
            break;
        }
    }
}

impl SegmentPage {
    /// Keeps documents read in key order past the cursor: the page itself.
    fn keep(&mut self, docs: Vec<DocId>) {
        for doc in docs {
            let (primary, id) = self.key_of(doc);
            self.kept.push((normalize((primary, 0, id), self.descending), doc));
        }
    }

    /// A document's primary key (price in cents, created µs or twice the
    /// name's ordinal) and id, not normalized.
    fn key_of(&self, doc: DocId) -> (i64, i64) {
        let primary = match &self.source {
            Source::Number(column) => column.first(doc).unwrap_or_default(),
            Source::Name(names) => 2 * names.ords().first(doc).unwrap_or_default() as i64,
            Source::Score(_) => 0,
        };
        (primary, self.ids.first(doc).unwrap_or_default() as i64)
    }

    /// `key_of` for a block of documents.
    fn read_keys(&self, docs: &[DocId], keys: &mut [(i64, i64)]) {
        for (docs, keys) in docs.chunks(BLOCK).zip(keys.chunks_mut(BLOCK)) {
            let mut primaries = [None; BLOCK];
            let mut ids = [None; BLOCK];
            self.read_primaries(docs, &mut primaries[..docs.len()]);
            self.ids.first_vals(docs, &mut ids[..docs.len()]);
            for ((key, primary), id) in keys.iter_mut().zip(primaries).zip(ids) {
                *key = (primary.unwrap_or_default(), id.unwrap_or_default() as i64);
            }
        }
    }

    /// The primary keys of at most a block of documents, from their
    /// column; `false` (and nothing read) for scores, which have none.
    fn read_primaries(&self, docs: &[DocId], keys: &mut [Option<i64>]) -> bool {
        match &self.source {
            Source::Number(column) => column.first_vals(docs, keys),
            Source::Name(names) => {
                let mut ords = [None; BLOCK];
                names.ords().first_vals(docs, &mut ords[..docs.len()]);
                for (key, ord) in keys.iter_mut().zip(ords) {
                    *key = ord.map(|o| 2 * o as i64);
                }
            }
            Source::Score(_) => return false,
        }
        true
    }

    /// The positions of `order` (documents sorted by `key_of`) past the
    /// cursor, and within the price bounds when given.
    fn positions(&self, order: &[DocId], price_cents: Option<(i64, i64)>) -> std::ops::Range<usize> {
        let (mut start, mut end) = (0, order.len());
        if let Some(after) = self.after {
            let (primary, _, id) = normalize(after, self.descending);
            let cursor = (primary, id);
            if self.descending {
                end = order.partition_point(|doc| self.key_of(*doc) < cursor);
            } else {
                start = order.partition_point(|doc| self.key_of(*doc) <= cursor);
            }
        }
        if let Some((low, high)) = price_cents {
            start = start.max(order.partition_point(|doc| self.key_of(*doc).0 < low));
            end = end.min(order.partition_point(|doc| self.key_of(*doc).0 <= high));
        }
        start..end.max(start)
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
        for docs in docs.chunks(BLOCK) {
            let mut keys = [None; BLOCK];
            let keys = &mut keys[..docs.len()];
            if self.read_primaries(docs, keys) {
                self.offer_block(docs, keys);
            } else {
                // Scores come only through `collect`.
                for doc in docs {
                    self.collect(*doc, 0.0);
                }
            }
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
            vendor_status: common::status::Named::name(common::status::VendorStatus::Approved).into(),
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

    /// Pages by price, name and `created_at`, both ways, from cursors on and
    /// between documents, over every document, one vendor's and price
    /// ranges, with ties and deleted documents, over a segment stored in no
    /// key's order: reading the segment in key order answers what walking
    /// every match does.
    #[test]
    fn key_order_reads_match_walking_every_match() {
        use crate::index::query::{self, Filters, Scope};

        let (schema, fields) = Fields::schema();
        let index = tantivy::Index::create_in_ram(schema);
        index.tokenizers().register(document::WORDS, document::words_analyzer());
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).expect("writer");
        let products: Vec<IndexedProduct> = (1..=1_500)
            .map(|id| IndexedProduct {
                // Ties on every key, and no key in document order.
                price: Decimal::new(100 + (id * 37 % 61) * 25, 2),
                name: format!("{} item", ["pear", "Apple", "äpple", "fig"][(id % 4) as usize]) + &(id % 53).to_string(),
                ..product(id, 1_000_000 + ((id * 7_919) % 1_500 / 2) * 10)
            })
            .collect();
        for p in &products {
            writer.add_document(fields.document(p)).expect("add");
        }
        writer.commit().expect("commit");
        for id in (5..=1_500).step_by(11) {
            writer.delete_term(Term::from_field_u64(fields.id, id));
        }
        writer.commit().expect("commit");
        let searcher = index.reader().expect("reader").searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let price = |cents: i64| Some(Decimal::new(cents, 2));
        let filters = [
            Filters::default(),
            Filters { vendor: Some(3), ..Filters::default() },
            Filters { min_price: price(600), max_price: price(1_100), ..Filters::default() },
            Filters { min_price: price(1_000), ..Filters::default() },
            Filters { max_price: price(350), vendor: Some(2), ..Filters::default() },
        ];
        let mut cursors: Vec<Option<(SortValue, i64)>> = vec![None];
        for p in products.iter().step_by(97) {
            cursors.push(Some((SortValue::Price(p.price), p.id)));
            cursors.push(Some((SortValue::Name(document::name_key(&p.name)), p.id)));
            cursors.push(Some((SortValue::CreatedAt(p.created_at.timestamp_micros()), p.id)));
        }
        // Between two names of the dictionary.
        cursors.push(Some((SortValue::Name("BANANA".into()), 0)));
        let unordered = Arc::new(CreationOrder::unordered_for_tests());
        let (mut compared, mut filled) = (0, 0);
        for key in [SortKey::Price, SortKey::Name, SortKey::CreatedAt] {
            let keyed = cursors.iter().filter(|c| match c {
                None => true,
                Some((SortValue::Price(_), _)) => key == SortKey::Price,
                Some((SortValue::Name(_), _)) => key == SortKey::Name,
                Some((SortValue::CreatedAt(_), _)) => key == SortKey::CreatedAt,
                Some(_) => false,
            });
            for after in keyed {
                for descending in [false, true] {
                    for limit in [1, 6, 41, 700] {
                        for filters in &filters {
                            let query = query::build(&fields, Scope::All { active: None }, filters);
                            let request = PageRequest { key, descending, after: after.clone(), limit };
                            let ids = |sorted: bool| {
                                let collector = PageCollector {
                                    request: request.clone(),
                                    creation_order: unordered.clone(),
                                    sorted: Arc::new(SortedDocs::forced_for_tests(sorted)),
                                    price_cents: query::price_range(filters.min_price, filters.max_price),
                                };
                                let hits = searcher.search(&*query, &collector).expect("search");
                                hits.iter().map(|h| h.id).collect::<Vec<_>>()
                            };
                            let walked = ids(false);
                            compared += 1;
                            filled += usize::from(!walked.is_empty());
                            assert_eq!(
                                ids(true),
                                walked,
                                "{key:?}: after {after:?}, descending {descending}, limit {limit}, {filters:?}"
                            );
                        }
                    }
                }
            }
        }
        assert!(filled * 4 > compared * 3, "only {filled} of {compared} pages had documents");
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
                            let collector = PageCollector {
                                request: request.clone(),
                                creation_order: creation_order.clone(),
                                sorted: Arc::new(SortedDocs::forced_for_tests(false)),
                                price_cents: None,
                            };
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
