//! The order service's downstream: catalog — a product write's stock (the
//! levels and whether catalog still holds the write open), the product
//! snapshot taken at checkout, and a vendor caller's own profile.
use std::sync::Arc;
use std::time::Duration;

use common::ApiError;
use common::grpc_client::ServiceChannel;
use common::grpc_client::{call, request};
use common::product_snapshots::ProductSnapshots;
use common::status::VendorStatus;
use proto::catalog::v1 as pb;
use proto::catalog::v1::catalog_client::CatalogClient;

use crate::domain::Snapshot;

#[derive(Clone)]
pub struct Catalog {
    client: CatalogClient<ServiceChannel>,
    deadline: Duration,
    snapshots: Arc<ProductSnapshots>,
}

impl Catalog {
    pub fn new(channel: ServiceChannel, deadline: Duration, snapshots: ProductSnapshots) -> Self {
        Self { client: CatalogClient::new(channel), deadline, snapshots: Arc::new(snapshots) }
    }

    /// A product write's stock as catalog recorded it (NotFound for a write
    /// catalog does not know).
    pub async fn stock_write(&self, write_id: &str) -> Result<pb::StockWrite, ApiError> {
        let mut client = self.client.clone();
        let message = pb::GetStockWriteRequest { write_id: write_id.to_owned() };
        call(self.deadline, client.get_stock_write(request(message, self.deadline, None))).await
    }

    /// What catalog says of these products now (deleted ones are absent).
    /// A price that does not read as a decimal is catalog's fault and fails
    /// the checkout; it is never taken for zero.
    pub async fn snapshot(&self, ids: Vec<i64>) -> Result<Vec<Snapshot>, ApiError> {
        let products = self.snapshots.from_catalog(&self.client, self.deadline, &ids).await?;
        products
            .into_iter()
            .map(|p| {
                let price = common::money::from_text("price", &p.price)
                    .map_err(|e| ApiError::internal(format!("catalog sent product {}: {e}", p.id)))?;
                Ok(Snapshot {
                    product_id: p.id,
                    buyable: common::buyable::is_buyable(p.is_active, p.vendor_status()),
                    price,
                    name: p.name,
                    sku: p.sku,
                    vendor_id: p.vendor,
                    vendor_name: p.vendor_name,
                })
            })
            .collect()
    }

    /// The calling vendor's id and status, or `None` without a profile.
    pub async fn caller_vendor(&self, token: &str) -> Result<Option<(i64, VendorStatus)>, ApiError> {
        let mut client = self.client.clone();
        let message = pb::GetCallerVendorRequest {};
        match call(self.deadline, client.get_caller_vendor(request(message, self.deadline, Some(token)))).await {
            Ok(v) => Ok(Some((v.vendor_id, v.status()))),
            Err(e) if e.kind == common::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
