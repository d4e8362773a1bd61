//! Catalog's downstreams: identity, asked who a vendor is and whether it
//! is approved; order, which applies and takes back product writes' stock.
use std::time::Duration;

use common::ApiError;
use common::grpc_client::ServiceChannel;
use common::grpc_client::{call, request};
use common::status::{Named, VendorStatus};
use proto::identity::v1 as pb;
use proto::identity::v1::identity_client::IdentityClient;
use proto::order::v1 as order_pb;
use proto::order::v1::order_client::OrderClient;

use crate::store::VendorRow;

#[derive(Clone)]
pub struct Identity {
    client: IdentityClient<ServiceChannel>,
    deadline: Duration,
}

/// A vendor as catalog stores it. A vendor without a status comes from an
/// identity on an older build (mid-deploy): refused as unavailable, so
/// catalog never overwrites the status it knows with none.
fn vendor_row(v: pb::Vendor) -> Result<VendorRow, ApiError> {
    let status = v.status();
    if status == VendorStatus::Unspecified {
        return Err(ApiError::unavailable("Identity did not say the vendor's status; try again shortly."));
    }
    Ok(VendorRow { id: v.id, user_id: v.user, shop_name: v.shop_name, status: status.name().to_owned() })
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
            Ok(vendor) => vendor_row(vendor).map(Some),
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
        answer.vendors.into_iter().map(vendor_row).collect()
    }
}

/// The order service, which owns stock: asked to apply a product write's
/// stock, or to take back the stock of a write catalog abandoned. Neither
/// call carries a user's token: order reads the write from catalog.
#[derive(Clone)]
pub struct Order {
    client: OrderClient<ServiceChannel>,
    deadline: Duration,
}

impl Order {
    pub fn new(channel: ServiceChannel, deadline: Duration) -> Self {
        Self { client: OrderClient::new(channel), deadline }
    }

    pub async fn apply_stock_write(&self, write_id: &str) -> Result<(), ApiError> {
        let mut client = self.client.clone();
        let message = order_pb::StockWriteRequest { write_id: write_id.to_owned() };
        call(self.deadline, client.apply_stock_write(request(message, self.deadline, None))).await?;
        Ok(())
    }

    pub async fn undo_stock_write(&self, write_id: &str) -> Result<(), ApiError> {
        let mut client = self.client.clone();
        let message = order_pb::StockWriteRequest { write_id: write_id.to_owned() };
        call(self.deadline, client.undo_stock_write(request(message, self.deadline, None))).await?;
        Ok(())
    }
}
