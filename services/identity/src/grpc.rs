//! The Identity gRPC service: proto <-> domain, authentication and role
//! checks. Rules live in `domain`, SQL in `store`, token material in
//! `tokens`.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::auth::{KeyRing, Principal, Role};
use common::error::OnDuplicate;
use common::proto_time::timestamp;
use common::status::{self, Named, VendorStatus};
use common::{ApiError, FieldErrors};
use proto::identity::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::{self, RegistrationInput};
use crate::passwords;
use crate::store::{Rotation, Store, Unique, UserRow, VendorRow, VendorSearch};
use crate::tokens::{self, Signer};

const BAD_CREDENTIALS: &str = "No active account found with the given credentials";
const TOKEN_INVALID_OR_EXPIRED: &str = "Token is invalid or expired";

pub struct IdentityService {
    store: Store,
    keys: Arc<KeyRing>,
    signer: Signer,
    refresh_ttl: chrono::Duration,
}

type RpcResult<T> = Result<Response<T>, Status>;

fn user_message(row: UserRow) -> pb::User {
    pb::User {
        id: row.id,
        email: row.email,
        role: row.role,
        first_name: row.first_name,
        last_name: row.last_name,
        phone: row.phone,
        is_active: row.is_active,
        created_at: Some(timestamp(row.created_at)),
    }
}

/// A write that lost a uniqueness race, as DRF's unique validators word it.
fn duplicate(key: Unique) -> ApiError {
    match key {
        Unique::Email => ApiError::field("email", "user with this email already exists."),
        Unique::Phone => ApiError::field("phone", "user with this phone already exists."),
        Unique::VendorOfUser => ApiError::bad_request("Vendor profile already exists.", "vendor_exists"),
        Unique::ShopName => ApiError::field("shop_name", "vendor with this shop name already exists."),
        Unique::VendorSlug => ApiError::field("shop_name", "Choose a more distinctive shop name."),
    }
}

fn vendor_message(row: VendorRow) -> pb::Vendor {
    pb::Vendor {
        id: row.id,
        user: row.user_id,
        shop_name: row.shop_name,
        slug: row.slug,
        description: row.description,
        status: status::stored::<VendorStatus>(&row.status).into(),
        verified_at: row.verified_at.map(timestamp),
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        owner_email: String::new(),
    }
}

fn required_field(value: Option<String>, field: &str, errors: &mut FieldErrors) -> String {
    domain::required(errors, field, value.as_deref()).map(str::to_owned).unwrap_or_default()
}

fn token_invalid_unauthenticated() -> ApiError {
    ApiError::new(common::ErrorKind::Unauthenticated, TOKEN_INVALID_OR_EXPIRED).with_code("token_not_valid")
}

impl IdentityService {
    pub fn new(store: Store, keys: Arc<KeyRing>, signer: Signer, refresh_ttl: chrono::Duration) -> Self {
        Self { store, keys, signer, refresh_ttl }
    }

    async fn principal<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        self.keys.require_principal(request.metadata()).await
    }

    async fn vendor_principal<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        let principal = self.principal(request).await?;
        principal.require_role(Role::Vendor)?;
        Ok(principal)
    }

    /// A fresh access token for `user` (its vendor id read now, so a
    /// profile made after login shows up on the next refresh).
    async fn access_token_for(&self, user: &UserRow, now: DateTime<Utc>) -> Result<String, ApiError> {
        let vendor_id = self.store.vendor_of_user(user.id).await?.map(|v| v.id);
        self.signer.access_token(user.id, user.role()?, vendor_id, now)
    }

    async fn register(&self, request: pb::RegisterRequest) -> Result<pb::User, ApiError> {
        let registration = domain::validate_registration(&RegistrationInput {
            email: request.email,
            password: request.password,
            password_confirm: request.password_confirm,
            role: request.role,
            first_name: request.first_name,
            last_name: request.last_name,
            phone: request.phone,
        })?;
        let hash = passwords::hash(registration.password.clone()).await?;
        Ok(user_message(self.store.insert_user(&registration, &hash).await.on_duplicate(duplicate)?))
    }

    async fn login(&self, request: pb::LoginRequest) -> Result<pb::TokenPair, ApiError> {
        let mut errors = FieldErrors::new();
        let email = required_field(request.email, "email", &mut errors);
        let password = required_field(request.password, "password", &mut errors);
        errors.into_result()?;
        let user = self.store.user_by_email(&email).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let valid = passwords::verify(password, hash).await?;
        let user = match user {
            Some(user) if valid && user.is_active => user,
            _ => return Err(ApiError::new(common::ErrorKind::Unauthenticated, BAD_CREDENTIALS)),
        };
        let now = Utc::now();
        let access = self.access_token_for(&user, now).await?;
        let (refresh, hash) = tokens::new_refresh_token();
        let family = uuid::Uuid::new_v4().to_string();
        self.store.insert_refresh_token(user.id, &family, &hash, now + self.refresh_ttl).await?;
        Ok(pb::TokenPair { access, refresh })
    }

    async fn refresh(&self, request: pb::RefreshTokenRequest) -> Result<pb::TokenPair, ApiError> {
        let mut errors = FieldErrors::new();
        let token = required_field(request.refresh, "refresh", &mut errors);
        errors.into_result()?;
        let now = Utc::now();
        let (refresh, new_hash) = tokens::new_refresh_token();
        let rotation = self
            .store
            .rotate_refresh_token(&tokens::hash_refresh_token(&token), &new_hash, now + self.refresh_ttl, now)
            .await?;
        let user_id = match rotation {
            Rotation::Rotated { user_id } => user_id,
            Rotation::Reused => {
                tracing::warn!("rotated refresh token presented again; its family is revoked");
                return Err(token_invalid_unauthenticated());
            }
            Rotation::Invalid => return Err(token_invalid_unauthenticated()),
        };
        let user = self.store.user(user_id).await?.filter(|u| u.is_active).ok_or_else(token_invalid_unauthenticated)?;
        let access = self.access_token_for(&user, now).await?;
        Ok(pb::TokenPair { access, refresh })
    }

    async fn logout(&self, principal: Principal, request: pb::LogoutRequest) -> Result<pb::LogoutResponse, ApiError> {
        let mut errors = FieldErrors::new();
        let token = required_field(request.refresh, "refresh", &mut errors);
        errors.into_result()?;
        let revoked =
            self.store.revoke_family(&tokens::hash_refresh_token(&token), principal.user_id, Utc::now()).await?;
        if revoked {
            Ok(pb::LogoutResponse {})
        } else {
            Err(ApiError::bad_request(TOKEN_INVALID_OR_EXPIRED, "token_not_valid"))
        }
    }

    async fn current_user(&self, principal: &Principal) -> Result<UserRow, ApiError> {
        self.store.user(principal.user_id).await?.filter(|u| u.is_active).ok_or_else(ApiError::token_not_valid)
    }
}

#[tonic::async_trait]
impl pb::identity_server::Identity for IdentityService {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> RpcResult<pb::User> {
        Ok(Response::new(self.register(request.into_inner()).await?))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> RpcResult<pb::TokenPair> {
        Ok(Response::new(self.login(request.into_inner()).await?))
    }

    async fn refresh_token(&self, request: Request<pb::RefreshTokenRequest>) -> RpcResult<pb::TokenPair> {
        Ok(Response::new(self.refresh(request.into_inner()).await?))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> RpcResult<pb::LogoutResponse> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(self.logout(principal, request.into_inner()).await?))
    }

    async fn get_profile(&self, request: Request<pb::GetProfileRequest>) -> RpcResult<pb::User> {
        let principal = self.principal(&request).await?;
        Ok(Response::new(user_message(self.current_user(&principal).await?)))
    }

    async fn update_profile(&self, request: Request<pb::UpdateProfileRequest>) -> RpcResult<pb::User> {
        let principal = self.principal(&request).await?;
        self.current_user(&principal).await?;
        let body = request.into_inner();
        let change = domain::validate_profile_change(
            body.first_name.as_deref(),
            body.last_name.as_deref(),
            body.phone.as_deref(),
        )?;
        let user = self.store.update_profile(principal.user_id, &change).await.on_duplicate(duplicate)?;
        Ok(Response::new(user_message(user)))
    }

    async fn create_vendor(&self, request: Request<pb::CreateVendorRequest>) -> RpcResult<pb::Vendor> {
        let principal = self.vendor_principal(&request).await?;
        let body = request.into_inner();
        let fields = domain::validate_vendor_fields(body.shop_name.as_deref(), body.description.as_deref(), true)?;
        let vendor = self
            .store
            .create_vendor(
                principal.user_id,
                fields.shop_name.as_deref().unwrap_or_default(),
                fields.description.as_deref().unwrap_or_default(),
            )
            .await
            .on_duplicate(duplicate)?;
        Ok(Response::new(vendor_message(vendor)))
    }

    async fn get_my_vendor(&self, request: Request<pb::GetMyVendorRequest>) -> RpcResult<pb::Vendor> {
        let principal = self.vendor_principal(&request).await?;
        let vendor = self.store.vendor_of_user(principal.user_id).await?.ok_or_else(ApiError::not_found)?;
        Ok(Response::new(vendor_message(vendor)))
    }

    async fn update_my_vendor(&self, request: Request<pb::UpdateMyVendorRequest>) -> RpcResult<pb::Vendor> {
        let principal = self.vendor_principal(&request).await?;
        self.store.vendor_of_user(principal.user_id).await?.ok_or_else(ApiError::not_found)?;
        let body = request.into_inner();
        let fields = domain::validate_vendor_fields(body.shop_name.as_deref(), body.description.as_deref(), false)?;
        let vendor = self.store.update_vendor(principal.user_id, &fields).await.on_duplicate(duplicate)?;
        Ok(Response::new(vendor_message(vendor)))
    }

    async fn list_vendors(&self, request: Request<pb::ListVendorsRequest>) -> RpcResult<pb::VendorPage> {
        let body = request.into_inner();
        let limit = body.limit.clamp(1, 100);
        let offset = body.offset.max(0);
        let (count, rows) = self.store.approved_vendors(limit, offset).await?;
        Ok(Response::new(pb::VendorPage { count, vendors: rows.into_iter().map(vendor_message).collect() }))
    }

    async fn get_vendors(&self, request: Request<pb::GetVendorsRequest>) -> RpcResult<pb::VendorList> {
        let ids = request.into_inner().ids;
        if ids.len() > 500 {
            return Err(ApiError::field("ids", "Ask for at most 500 vendors at a time.").into());
        }
        let rows = self.store.vendors_by_ids(&ids).await?;
        Ok(Response::new(pb::VendorList { vendors: rows.into_iter().map(vendor_message).collect() }))
    }

    async fn verify_vendor(&self, request: Request<pb::VerifyVendorRequest>) -> RpcResult<pb::Vendor> {
        let principal = self.principal(&request).await?;
        principal.require_role(Role::Admin)?;
        let body = request.into_inner();
        let status: VendorStatus = status::required("status", body.status)?;
        let vendor = self.store.set_vendor_status(body.vendor_id, status).await?;
        tracing::info!(vendor_id = vendor.id, status = status.name(), "vendor status set");
        Ok(Response::new(vendor_message(vendor)))
    }

    async fn search_vendors(&self, request: Request<pb::SearchVendorsRequest>) -> RpcResult<pb::VendorPage> {
        let principal = self.principal(&request).await?;
        principal.require_role(Role::Admin)?;
        let body = request.into_inner();
        let status = status::filter::<VendorStatus>("status", body.status)?;
        let words = body.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if words.is_some_and(|w| w.chars().count() > 100) {
            return Err(ApiError::field("search", "Ensure this field has no more than 100 characters.").into());
        }
        let search = VendorSearch {
            status,
            words,
            vendor_id: body.vendor_id.max(0),
            limit: body.limit.clamp(1, 100),
            offset: body.offset.max(0),
        };
        let (count, rows) = self.store.search_vendors(&search).await?;
        let vendors =
            rows.into_iter().map(|row| pb::Vendor { owner_email: row.email, ..vendor_message(row.vendor) }).collect();
        Ok(Response::new(pb::VendorPage { count, vendors }))
    }

    async fn get_public_keys(&self, _request: Request<pb::GetPublicKeysRequest>) -> RpcResult<pb::PublicKeys> {
        let keys = self.store.public_keys().await?;
        Ok(Response::new(pb::PublicKeys {
            keys: keys.into_iter().map(|(kid, public_key_pem)| pb::PublicKey { kid, public_key_pem }).collect(),
        }))
    }
}
