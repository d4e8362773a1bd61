//! The order service's downstream: catalog, asked whether a caller may
//! change a product.
use std::time::Duration;

use common::ApiError;
use common::grpc_client::{call, request};
use proto::catalog::v1 as pb;
use proto::catalog::v1::catalog_client::CatalogClient;
use tonic::transport::Channel;

#[derive(Clone)]
pub struct Catalog {
    client: CatalogClient<Channel>,
    deadline: Duration,
}

impl Catalog {
    pub fn new(channel: Channel, deadline: Duration) -> Self {
        Self { client: CatalogClient::new(channel), deadline }
    }

    /// The product's vendor, when the caller (by their token) may change it.
    pub async fn authorize_product_write(&self, token: &str, product_id: i64) -> Result<i64, ApiError> {
        let mut client = self.client.clone();
        let message = pb::AuthorizeProductWriteRequest { product_id };
        let answer =
            call(self.deadline, client.authorize_product_write(request(message, self.deadline, Some(token)))).await?;
        Ok(answer.vendor_id)
    }
}
