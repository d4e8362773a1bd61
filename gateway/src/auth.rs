//! Authentication as extractors: a handler's signature says who may call
//! it. `AuthUser` is anyone with a valid access token; `CustomerUser`,
//! `VendorUser` and `AdminUser` also require that role (403 otherwise).
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use common::ApiError;
use common::auth::{Principal, Role, bearer_token};

use crate::AppState;
use crate::error::HttpError;

pub struct AuthUser(pub Principal);
/// The caller when a token is sent (an invalid one is still a 401).
pub struct MaybeUser(pub Option<Principal>);
pub struct CustomerUser(pub Principal);
pub struct VendorUser(pub Principal);
pub struct AdminUser(pub Principal);

/// A header that is not a bearer token at all counts as no credentials
/// (as DRF's JWT authentication does); a bearer token that fails
/// verification is `token_not_valid`.
async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, HttpError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .ok_or_else(ApiError::not_authenticated)?;
    let is_bearer = header.split_whitespace().next().is_some_and(|s| s.eq_ignore_ascii_case("bearer"));
    if !is_bearer {
        return Err(ApiError::not_authenticated().into());
    }
    let token = bearer_token(header).ok_or_else(ApiError::token_not_valid)?;
    Ok(state.keys.principal(token).await?)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        principal(parts, state).await.map(AuthUser)
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            principal(parts, state).await.map(|p| MaybeUser(Some(p)))
        } else {
            Ok(MaybeUser(None))
        }
    }
}

macro_rules! role_extractor {
    ($name:ident, $role:expr) => {
        impl FromRequestParts<AppState> for $name {
            type Rejection = HttpError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                let principal = principal(parts, state).await?;
                principal.require_role($role)?;
                Ok($name(principal))
            }
        }
    };
}

role_extractor!(CustomerUser, Role::Customer);
role_extractor!(VendorUser, Role::Vendor);
role_extractor!(AdminUser, Role::Admin);
