//! Catalog's products as this process last read them, kept per catalog
//! version. Cart reads a product on every add and order on every checkout;
//! asking catalog each time cost a gRPC hop and a query per product. Every
//! catalog write that changes a product (or its vendor's status) bumps the
//! catalog version before it answers, so a process that sees the same
//! version may answer from what it read before; any other version empties
//! the memory. When Redis cannot say the version, catalog is asked.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use proto::catalog::v1::catalog_client::CatalogClient;
use proto::catalog::v1::{GetProductsRequest, Product};

use crate::ApiError;
use crate::cache::{Cache, catalog_version_key};
use crate::grpc_client::{ServiceChannel, call, request};

/// Products remembered at most; the memory empties when full.
const CAPACITY: usize = 100_000;

pub struct ProductSnapshots {
    cache: Cache,
    version_key: String,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    version: u64,
    products: HashMap<i64, Product>,
}

impl ProductSnapshots {
    /// `prefix` is the fleet's `SCHEMA_PREFIX`.
    pub fn new(cache: Cache, prefix: &str) -> Self {
        Self { cache, version_key: catalog_version_key(prefix), held: Mutex::default() }
    }

    /// The products of `ids` catalog has (deleted ones are absent): those
    /// read at the current version from memory, the rest from `fetch`.
    pub async fn products<F, Fut>(&self, ids: &[i64], fetch: F) -> Result<Vec<Product>, ApiError>
    where
        F: FnOnce(Vec<i64>) -> Fut,
        Fut: Future<Output = Result<Vec<Product>, ApiError>>,
    {
        let Some(version) = self.cache.version(&self.version_key).await else {
            return fetch(ids.to_vec()).await;
        };
        let (mut found, missing) = {
            let mut held = self.held();
            if held.version != version {
                *held = Held { version, products: HashMap::new() };
            }
            let mut found = Vec::with_capacity(ids.len());
            let mut missing = Vec::new();
            for id in ids {
                match held.products.get(id) {
                    Some(product) => found.push(product.clone()),
                    None => missing.push(*id),
                }
            }
            (found, missing)
        };
        if missing.is_empty() {
            return Ok(found);
        }
        let fetched = fetch(missing).await?;
        {
            let mut held = self.held();
            // Read at `version`: kept only while that is still the version held.
            if held.version == version {
                if held.products.len() + fetched.len() > CAPACITY {
                    held.products.clear();
                }
                held.products.extend(fetched.iter().map(|p| (p.id, p.clone())));
            }
        }
        found.extend(fetched);
        Ok(found)
    }

    /// `products`, asking catalog (`GetProducts`) for what is not in memory.
    pub async fn from_catalog(
        &self,
        catalog: &CatalogClient<ServiceChannel>,
        deadline: Duration,
        ids: &[i64],
    ) -> Result<Vec<Product>, ApiError> {
        let fetch = |ids| async move {
            let mut client = catalog.clone();
            let message = GetProductsRequest { ids };
            Ok(call(deadline, client.get_products(request(message, deadline, None))).await?.products)
        };
        self.products(ids, fetch).await
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        // Plain data: a panic elsewhere cannot leave it half-written.
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
