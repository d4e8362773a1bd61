//! Payment's downstream: the order service, asked (with the customer's own
//! token) for the order's owner, status and amount.
use std::time::Duration;

use common::ApiError;
use common::grpc_client::ServiceChannel;
use common::grpc_client::{call, request};
use proto::order::v1 as pb;
use proto::order::v1::order_client::OrderClient;

#[derive(Clone)]
pub struct Orders {
    client: OrderClient<ServiceChannel>,
    deadline: Duration,
}

impl Orders {
    pub fn new(channel: ServiceChannel, deadline: Duration) -> Self {
        Self { client: OrderClient::new(channel), deadline }
    }

    /// The order as its caller may see it (NotFound when it is not theirs).
    pub async fn order(&self, token: &str, id: i64) -> Result<pb::OrderMessage, ApiError> {
        let mut client = self.client.clone();
        call(self.deadline, client.get_order(request(pb::GetOrderRequest { id }, self.deadline, Some(token)))).await
    }
}
