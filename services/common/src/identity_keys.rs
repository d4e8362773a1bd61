//! The key source of every service but identity: the public keys identity
//! publishes over gRPC.
use std::time::Duration;

use crate::grpc_client::ServiceChannel;
use futures::future::BoxFuture;
use proto::identity::v1::{GetPublicKeysRequest, identity_client::IdentityClient};

use crate::auth::KeySource;
use crate::error::ApiError;
use crate::grpc_client;

pub struct IdentityKeySource {
    client: IdentityClient<ServiceChannel>,
}

impl IdentityKeySource {
    pub fn new(channel: ServiceChannel) -> Self {
        Self { client: IdentityClient::new(channel) }
    }
}

impl KeySource for IdentityKeySource {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, ApiError>> {
        Box::pin(async move {
            let deadline = Duration::from_secs(3);
            let mut client = self.client.clone();
            let keys = grpc_client::call(
                deadline,
                client.get_public_keys(grpc_client::request(GetPublicKeysRequest {}, deadline, None)),
            )
            .await?;
            Ok(keys.keys.into_iter().map(|k| (k.kid, k.public_key_pem)).collect())
        })
    }
}
