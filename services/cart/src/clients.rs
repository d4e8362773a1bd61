//! Cart's downstreams: catalog (is the product buyable, at what price) and
//! order (how many units are in stock).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::ApiError;
use common::grpc_client::ServiceChannel;
use common::grpc_client::{call, request};
use common::product_snapshots::ProductSnapshots;
use proto::catalog::v1 as catalog_pb;
use proto::catalog::v1::catalog_client::CatalogClient;
use proto::order::v1 as order_pb;
use proto::order::v1::order_client::OrderClient;

#[derive(Clone)]
pub struct Downstream {
    catalog: CatalogClient<ServiceChannel>,
    order: OrderClient<ServiceChannel>,
    deadline: Duration,
    snapshots: Arc<ProductSnapshots>,
}

impl Downstream {
    pub fn new(
        catalog: ServiceChannel,
        order: ServiceChannel,
        deadline: Duration,
        snapshots: ProductSnapshots,
    ) -> Self {
        Self {
            catalog: CatalogClient::new(catalog),
            order: OrderClient::new(order),
            deadline,
            snapshots: Arc::new(snapshots),
        }
    }

    /// Products by id (deleted ones are absent), as of the catalog version.
    pub async fn products(&self, ids: Vec<i64>) -> Result<HashMap<i64, catalog_pb::Product>, ApiError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let products = self.snapshots.from_catalog(&self.catalog, self.deadline, &ids).await?;
        Ok(products.into_iter().map(|p| (p.id, p)).collect())
    }

    /// Units in stock by product id.
    pub async fn stock(&self, ids: Vec<i64>) -> Result<HashMap<i64, i64>, ApiError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut client = self.order.clone();
        let message = order_pb::GetStockRequest { product_ids: ids };
        let levels = call(self.deadline, client.get_stock(request(message, self.deadline, None))).await?;
        Ok(levels.levels.into_iter().map(|l| (l.product_id, l.available)).collect())
    }
}
