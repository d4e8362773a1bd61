//! The listing index: every catalog replica holds the whole catalog in a
//! Tantivy index in RAM and answers every listing from it (`page`), so a
//! listing costs the same at 2,000 products as at 500,000 save for the
//! matches it walks, and a page's fields come from the index too: no SQL.
//!
//! MariaDB stays the source of truth. The index is built at start-up and
//! caught up from the change sequence (`store::changes`): products, vendors
//! and the category tree each have a watermark, and a catch-up reads only
//! what was stamped past it. Freshness rides on the catalog version in Redis
//! that every write bumps after its commit: a read that sees a version other
//! than the one its view was caught up at waits for a catch-up — one at a
//! time per replica, the others then find the view current. Without Redis
//! every read asks MariaDB's sequence row (one primary-key read).
pub mod document;
pub mod facets;
mod ordered;
mod page;
pub mod query;
mod sorted;
mod stored;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use common::ApiError;
use common::status::{self, VendorStatus};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher};

use self::document::{Fields, StoredProduct};
use self::facets::{Counts, FacetCollector};
use self::page::PageCollector;
pub use self::page::{Hit, PageRequest};
use self::query::{Filters, Scope};
use self::writer::Writer;
use crate::store::{CategoryRow, IndexedProduct, IndexedVendor, Store};

/// Rows read from MariaDB per statement while building or catching up.
const BATCH: i64 = 2_000;
/// Decompressed 16 KiB blocks of stored fields kept per segment (Tantivy
/// keeps 100): a page's documents are scattered over the store, and
/// decompressing a block per listed product was a visible share of a list
/// at 50,000 products. 2,048 blocks hold ~100,000 products' fields (32 MiB).
const DOC_STORE_CACHE_BLOCKS: usize = 2_048;
/// The indexing arena: segments are written out when it fills.
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// What reads use: a searcher and the category tree and vendor names as of
/// one catch-up.
pub struct View {
    pub searcher: Searcher,
    /// By name, as the store reads them.
    pub tree: Arc<Vec<CategoryRow>>,
    /// Category names by id.
    pub category_names: Arc<HashMap<i64, String>>,
    /// Name and status by id.
    pub vendors: Arc<HashMap<i64, Vendor>>,
    /// The Redis catalog version seen before the catch-up that made it.
    version: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Vendor {
    pub name: String,
    pub status: VendorStatus,
}

fn vendor_entry(vendor: IndexedVendor) -> (i64, Vendor) {
    (vendor.id, Vendor { name: vendor.shop_name, status: status::stored(&vendor.status) })
}

fn names_of(tree: &[CategoryRow]) -> Arc<HashMap<i64, String>> {
    Arc::new(tree.iter().map(|c| (c.id, c.name.clone())).collect())
}

/// How far the index has read the change sequence.
struct Watermarks {
    /// The last product applied, as `(change_seq, id)`.
    products: (i64, i64),
    vendors: i64,
    tree: i64,
    /// The sequence as read when the last catch-up began: unchanged, there
    /// is nothing to read.
    checked: i64,
}

pub struct CatalogIndex {
    fields: Fields,
    reader: IndexReader,
    writer: Arc<Mutex<Writer>>,
    watermarks: tokio::sync::Mutex<Watermarks>,
    view: RwLock<Arc<View>>,
    creation_order: Arc<ordered::CreationOrder>,
    sorted: Arc<sorted::SortedDocs>,
    stored: Arc<stored::StoredFields>,
}

fn index_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("listing index: {error}"))
}

impl CatalogIndex {
    /// Builds the index from every live product.
    pub async fn build(store: &Store) -> Result<Self, ApiError> {
        let started = std::time::Instant::now();
        let (schema, fields) = Fields::schema();
        let index = Index::create_in_ram(schema);
        index.tokenizers().register(document::WORDS, document::words_analyzer());
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY).map_err(index_error)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()
            .map_err(index_error)?;
        // Read first: whatever is stamped later is caught up afterwards.
        let sequence = store.sequence().await?;
        let vendors = store.changed_vendors(-1).await?;
        let tree = store.categories().await?;
        let writer = Arc::new(Mutex::new(Writer::new(writer)));
        let mut after = 0;
        let mut products = 0;
        loop {
            let batch = store.live_products(after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            products += batch.len();
            apply(&writer, fields, batch).await?;
        }
        commit(&writer, &reader).await?;
        tracing::info!(products, elapsed_ms = started.elapsed().as_millis() as u64, "listing index built");
        let view = View {
            searcher: reader.searcher(),
            category_names: names_of(&tree),
            tree: Arc::new(tree),
            vendors: Arc::new(vendors.into_iter().map(vendor_entry).collect()),
            version: None,
        };
        Ok(Self {
            fields,
            reader,
            writer,
            watermarks: tokio::sync::Mutex::new(Watermarks {
                products: (sequence.seq, i64::MAX),
                vendors: sequence.seq,
                tree: sequence.tree_seq,
                checked: sequence.seq,
            }),
            view: RwLock::new(Arc::new(view)),
            creation_order: Arc::default(),
            sorted: Arc::default(),
            stored: Arc::default(),
        })
    }

    fn current(&self) -> Arc<View> {
        self.view.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A view at least as fresh as the catalog `version` just read from
    /// Redis (`None`: Redis did not answer, so MariaDB is asked).
    pub async fn view(&self, store: &Store, version: Option<u64>) -> Result<Arc<View>, ApiError> {
        let current = self.current();
        if version.is_some() && current.version == version {
            return Ok(current);
        }
        let mut marks = self.watermarks.lock().await;
        let current = self.current();
        if version.is_some() && current.version == version {
            return Ok(current);
        }
        let view = Arc::new(self.catch_up(store, &mut marks, &current, version).await?);
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = view.clone();
        Ok(view)
    }

    async fn catch_up(
        &self,
        store: &Store,
        marks: &mut Watermarks,
        current: &View,
        version: Option<u64>,
    ) -> Result<View, ApiError> {
        let started = std::time::Instant::now();
        let sequence = store.sequence().await?;
        let mut view = View {
            searcher: current.searcher.clone(),
            tree: current.tree.clone(),
            category_names: current.category_names.clone(),
            vendors: current.vendors.clone(),
            version,
        };
        if sequence.seq == marks.checked {
            return Ok(view);
        }
        let mut products = 0;
        loop {
            let batch = store.changed_products(marks.products, BATCH).await?;
            let Some(last) = batch.last() else { break };
            let reached = (last.change_seq, last.id);
            products += batch.len();
            apply(&self.writer, self.fields, batch).await?;
            marks.products = reached;
        }
        if products > 0 {
            commit(&self.writer, &self.reader).await?;
            view.searcher = self.reader.searcher();
        }
        let vendors = store.changed_vendors(marks.vendors).await?;
        if let Some(last) = vendors.last() {
            marks.vendors = last.change_seq;
            let mut names = (*view.vendors).clone();
            names.extend(vendors.into_iter().map(vendor_entry));
            view.vendors = Arc::new(names);
        }
        if sequence.tree_seq != marks.tree {
            let tree = store.categories().await?;
            view.category_names = names_of(&tree);
            view.tree = Arc::new(tree);
            marks.tree = sequence.tree_seq;
        }
        marks.checked = sequence.seq;
        tracing::debug!(products, elapsed_us = started.elapsed().as_micros() as u64, "listing index caught up");
        Ok(view)
    }

    /// The best `request.limit` documents past the cursor, with their
    /// stored fields.
    pub async fn page(
        &self,
        view: Arc<View>,
        scope: Scope,
        filters: &Filters,
        request: PageRequest,
    ) -> Result<Vec<(Hit, Arc<StoredProduct>)>, ApiError> {
        let query = query::build(&self.fields, scope, filters);
        let fields = self.fields;
        let collector = PageCollector {
            request,
            creation_order: self.creation_order.clone(),
            sorted: self.sorted.clone(),
            price_cents: query::price_range(filters.min_price, filters.max_price),
        };
        let stored = self.stored.clone();
        tokio::task::spawn_blocking(move || {
            let hits = view.searcher.search(&*query, &collector)?;
            hits.into_iter()
                .map(|hit| {
                    let product = stored.read(&view.searcher, &fields, hit.address)?;
                    Ok((hit, product))
                })
                .collect::<tantivy::Result<Vec<_>>>()
        })
        .await
        .map_err(index_error)?
        .map_err(index_error)
    }

    /// The facet counts of the documents that match.
    pub async fn facets(&self, view: Arc<View>, scope: Scope, filters: &Filters) -> Result<Counts, ApiError> {
        let query = query::build(&self.fields, scope, filters);
        tokio::task::spawn_blocking(move || view.searcher.search(&*query, &FacetCollector))
            .await
            .map_err(index_error)?
            .map_err(index_error)
    }
}

/// Replaces these products' documents (a deleted one is only removed).
async fn apply(writer: &Arc<Mutex<Writer>>, fields: Fields, products: Vec<IndexedProduct>) -> Result<(), ApiError> {
    let writer = writer.clone();
    tokio::task::spawn_blocking(move || {
        writer.lock().unwrap_or_else(|p| p.into_inner()).apply(&fields, &products).map_err(index_error)
    })
    .await
    .map_err(index_error)?
}

async fn commit(writer: &Arc<Mutex<Writer>>, reader: &IndexReader) -> Result<(), ApiError> {
    let writer = writer.clone();
    let reader = reader.clone();
    tokio::task::spawn_blocking(move || {
        writer.lock().unwrap_or_else(|p| p.into_inner()).commit().map_err(index_error)?;
        reader.reload().map_err(index_error)
    })
    .await
    .map_err(index_error)?
}
