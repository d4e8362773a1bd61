//! A keyset page straight from the index: a collector that keeps, per
//! segment, the `limit + 1` best documents past the cursor by the sort key
//! read from fast fields (a bounded heap, so memory does not grow with the
//! matches), then merges the segments' picks.
//!
//! Every sort key is a triple compared in its natural order — `(price in
//! cents, 0, id)`, `(created µs, 0, id)`, `(score, created µs, id)` — read
//! ascending or descending. Names are the exception: within a segment they
//! are compared by the ordinal of their sort key in the segment's
//! dictionary (sorted), twice the ordinal so that a cursor key missing from
//! the dictionary falls strictly between two neighbours; across segments
//! they are compared as text.
use std::cmp::Ordering as Cmp;
use std::collections::BinaryHeap;

use rust_decimal::Decimal;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn, TermOrdHit};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

use super::document::{self, cents};
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
        Ok(SegmentPage {
            segment,
            ids: fast.u64(document::ID)?,
            source,
            descending: request.descending,
            after: after.map(|t| normalize(t, request.descending)),
            limit: request.limit,
            kept: BinaryHeap::with_capacity(request.limit + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.request.key == SortKey::Relevance
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
    /// The best triples so far (normalized), the worst on top, with their documents.
    kept: BinaryHeap<((i64, i64, i64), DocId)>,
}

impl SegmentPage {
    /// Offers a document whose sort key is read: kept when it is past the
    /// cursor and among the best so far. The id (a second column read) is
    /// read only when the primary key does not settle it.
    fn offer(&mut self, doc: DocId, primary: i64, secondary: i64) {
        let flip = |v: i64| if self.descending { -v } else { v };
        let (primary, secondary) = (flip(primary), flip(secondary));
        if let Some(after) = self.after
            && primary < after.0
        {
            return;
        }
        let full = self.kept.len() >= self.limit;
        if full
            && let Some(((worst, _, _), _)) = self.kept.peek()
            && primary > *worst
        {
            return;
        }
        let id = flip(self.ids.first(doc).unwrap_or_default() as i64);
        let triple = (primary, secondary, id);
        if self.after.is_some_and(|after| triple <= after) {
            return;
        }
        if full
            && let Some((worst, _)) = self.kept.peek()
            && triple >= *worst
        {
            return;
        }
        self.kept.push((triple, doc));
        if self.kept.len() > self.limit {
            self.kept.pop();
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
            for (doc, key) in docs.iter().zip(keys.iter()) {
                self.offer(*doc, key.unwrap_or_default(), 0);
            }
        }
    }

    fn harvest(self) -> Vec<Hit> {
        let descending = self.descending;
        self.kept
            .into_vec()
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
