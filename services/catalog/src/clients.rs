//! Catalog's one downstream: identity, asked who a vendor is and whether
//! it is approved.
use std::time::Duration;

use common::ApiError;
use common::grpc_client::ServiceChannel;
use common::grpc_client::{call, request};
use proto::identity::v1 as pb;
use proto::identity::v1::identity_client::IdentityClient;

use crate::store::VendorRow;

#[derive(Clone)]
pub struct Identity {
    client: IdentityClient<ServiceChannel>,
    deadline: Duration,
}

fn vendor_row(v: pb::Vendor) -> VendorRow {
    VendorRow { id: v.id, user_id: v.user, shop_name: v.shop_name, status: v.status }
}

impl Identity {
    pub fn new(channel: ServiceChannel, deadline: Duration) -> Self {
        Self { client: IdentityClient::new(channel), deadline }
    }

    /// The calling vendor's profile (with the caller's own token), or
    /// `None` when it has none yet.
    pub async fn my_vendor(&self, token: &str) -> Result<Option<VendorRow>, ApiError> {
        let mut client = self.client.clone();
        match call(self.deadline, client.get_my_vendor(request(pb::GetMyVendorRequest {}, self.deadline, Some(token))))
            .await
        {
            Ok(vendor) => Ok(Some(vendor_row(vendor))),
            Err(e) if e.kind == common::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Vendors by id, whatever their status.
    pub async fn vendors(&self, ids: Vec<i64>) -> Result<Vec<VendorRow>, ApiError> {
        let mut client = self.client.clone();
        let answer =
            call(self.deadline, client.get_vendors(request(pb::GetVendorsRequest { ids }, self.deadline, None)))
                .await?;
        Ok(answer.vendors.into_iter().map(vendor_row).collect())
    }
}
