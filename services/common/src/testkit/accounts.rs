//! Users for service tests, made through a real identity over gRPC: a
//! customer, a vendor with its profile (approved by the admin when asked),
//! the admin itself.
use std::time::Duration;

use proto::identity::v1 as pb;
use proto::identity::v1::identity_client::IdentityClient;

use crate::grpc_client::{ServiceChannel, call, request};

const DEADLINE: Duration = Duration::from_secs(10);

pub struct Accounts {
    identity: ServiceChannel,
    admin_email: String,
    password: String,
}

impl Accounts {
    /// Against identity at `identity` whose admin is `admin_email`; every
    /// user made here has `password`.
    pub fn new(identity: ServiceChannel, admin_email: String, password: &str) -> Self {
        Self { identity, admin_email, password: password.to_owned() }
    }

    fn client(&self) -> IdentityClient<ServiceChannel> {
        IdentityClient::new(self.identity.clone())
    }

    pub async fn login(&self, email: &str) -> String {
        let message = pb::LoginRequest { email: Some(email.into()), password: Some(self.password.clone()) };
        call(DEADLINE, self.client().login(request(message, DEADLINE, None))).await.expect("login").access
    }

    pub async fn admin(&self) -> String {
        self.login(&self.admin_email).await
    }

    /// A new user of `role` (`customer` or `vendor`): its access token.
    pub async fn user(&self, role: &str) -> String {
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let message = pb::RegisterRequest {
            email: Some(email.clone()),
            password: Some(self.password.clone()),
            password_confirm: Some(self.password.clone()),
            role: Some(role.into()),
            ..Default::default()
        };
        call(DEADLINE, self.client().register(request(message, DEADLINE, None))).await.expect("registered");
        self.login(&email).await
    }

    /// A vendor's token and its profile id; approved when asked.
    pub async fn vendor(&self, approved: bool) -> (String, i64) {
        let token = self.user("vendor").await;
        let shop = pb::CreateVendorRequest {
            shop_name: Some(format!("Shop {}", uuid::Uuid::new_v4().simple())),
            description: None,
        };
        let profile =
            call(DEADLINE, self.client().create_vendor(request(shop, DEADLINE, Some(&token)))).await.expect("profile");
        if approved {
            let verify = pb::VerifyVendorRequest { vendor_id: profile.id, status: pb::VendorStatus::Approved.into() };
            let admin = self.admin().await;
            call(DEADLINE, self.client().verify_vendor(request(verify, DEADLINE, Some(&admin))))
                .await
                .expect("approved");
        }
        (token, profile.id)
    }
}
