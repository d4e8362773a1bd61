//! Listed products' stored fields, decoded once per document: a segment
//! never changes, so the fields read for one page serve every later page
//! that lists the same document (reading them again costs a store lookup
//! and a deserialisation per listed product, a tenth of a listing's work).
//! Bounded, and emptied when full like the gateway's caches: the entries of
//! merged-away segments go with it.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Searcher, TantivyDocument};

use super::document::{Fields, StoredProduct};

/// About 400 bytes a product with a short description: ~80 MB when full.
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
pub struct StoredFields {
    decoded: Mutex<HashMap<(SegmentId, DocId), Arc<StoredProduct>>>,
}

impl StoredFields {
    pub fn read(&self, searcher: &Searcher, fields: &Fields, at: DocAddress) -> tantivy::Result<Arc<StoredProduct>> {
        let key = (searcher.segment_reader(at.segment_ord).segment_id(), at.doc_id);
        if let Some(found) = self.decoded.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(found.clone());
        }
        let doc: TantivyDocument = searcher.doc(at)?;
        let stored = Arc::new(fields.stored(&doc));
        let mut decoded = self.decoded.lock().unwrap_or_else(|p| p.into_inner());
        if decoded.len() >= MAX_ENTRIES {
            decoded.clear();
        }
        decoded.insert(key, stored.clone());
        Ok(stored)
    }
}
