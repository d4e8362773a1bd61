//! The Order gRPC service: inventory reads and vendor stock writes.
use std::sync::Arc;

use common::ApiError;
use common::auth::KeyRing;
use common::cache::Cache;
use proto::order::v1 as pb;
use tonic::{Request, Response, Status};

use crate::clients::Catalog;
use crate::domain;
use crate::store::Store;

type RpcResult<T> = Result<Response<T>, Status>;

const MAX_IDS: usize = 500;

pub struct OrderService {
    store: Store,
    keys: Arc<KeyRing>,
    catalog: Catalog,
    cache: Cache,
    catalog_version_key: String,
}

impl OrderService {
    pub fn new(store: Store, keys: Arc<KeyRing>, catalog: Catalog, cache: Cache, prefix: &str) -> Self {
        Self { store, keys, catalog, cache, catalog_version_key: common::cache::catalog_version_key(prefix) }
    }
}

#[tonic::async_trait]
impl pb::order_server::Order for OrderService {
    async fn set_stock(&self, request: Request<pb::SetStockRequest>) -> RpcResult<pb::StockLevel> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let body = request.into_inner();
        // Ownership first: a stranger learns nothing from validation.
        let vendor_id = self.catalog.authorize_product_write(&principal.token, body.product_id).await?;
        let available = domain::validate_stock(body.available)?;
        self.store.set_stock(body.product_id, vendor_id, available).await?;
        // Stock set by a vendor shows in the very next listing; stock moved
        // by checkouts does not bump (lists may lag it briefly).
        self.cache.bump(&self.catalog_version_key).await;
        Ok(Response::new(pb::StockLevel { product_id: body.product_id, available: i64::from(available) }))
    }

    async fn get_stock(&self, request: Request<pb::GetStockRequest>) -> RpcResult<pb::StockLevels> {
        let ids = request.into_inner().product_ids;
        if ids.len() > MAX_IDS {
            return Err(ApiError::field("product_ids", "Ask for at most 500 products at a time.").into());
        }
        let known = self.store.stock(&ids).await?;
        let levels = ids
            .iter()
            .map(|id| pb::StockLevel {
                product_id: *id,
                available: known.iter().find(|(p, _)| p == id).map_or(0, |(_, a)| *a),
            })
            .collect();
        Ok(Response::new(pb::StockLevels { levels }))
    }
}
