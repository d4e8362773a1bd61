//! Who is calling: access-token claims, the `Principal` every service acts
//! for, and the key ring that verifies tokens.
//!
//! Identity signs access tokens with Ed25519 and names the key in the JWT
//! header (`kid`). Everyone else verifies with the public keys identity
//! publishes; an unknown `kid` triggers one re-fetch (rate limited), so a
//! key rotation reaches every replica without a restart. The gateway
//! forwards the caller's raw token and each service verifies it again:
//! nobody trusts a bare user-id header.
//!
//! A ring remembers the tokens it has verified (by their SHA-256, until
//! they expire), so each process checks a token's signature once rather
//! than on every call: a checkout crosses three services, each of which
//! used to verify the same token again. Keys are never taken out of a
//! ring, so a remembered token is exactly as valid as a re-verified one.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};
use tonic::metadata::MetadataMap;

use crate::error::ApiError;

pub const ACCESS_TOKEN_TYPE: &str = "access";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Customer,
    Vendor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Vendor => "vendor",
            Role::Admin => "admin",
        }
    }

    /// Accepts any letter case, as the contract does.
    pub fn parse(value: &str) -> Option<Role> {
        match value.to_ascii_lowercase().as_str() {
            "customer" => Some(Role::Customer),
            "vendor" => Some(Role::Vendor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<i64>,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub token_type: String,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub role: Role,
    pub vendor_id: Option<i64>,
    /// The raw bearer token, forwarded on downstream calls.
    pub token: String,
}

impl Principal {
    pub fn require_role(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role { Ok(()) } else { Err(ApiError::forbidden()) }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Where a key ring gets the current public keys: `(kid, SPKI PEM)` pairs.
pub trait KeySource: Send + Sync {
    fn fetch(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, ApiError>>;
}

/// Verifies access tokens against the keys it knows, refreshing them from
/// its source when a token names a `kid` it has not seen.
pub struct KeyRing {
    keys: RwLock<HashMap<String, DecodingKey>>,
    source: Option<Box<dyn KeySource>>,
    last_fetch: Mutex<Option<Instant>>,
    verified: std::sync::Mutex<HashMap<[u8; 32], Verified>>,
}

const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Seconds a token stays valid past its `exp` (clock skew between replicas).
const LEEWAY: i64 = 5;
/// Tokens remembered at most; when full, expired ones go, then all.
const VERIFIED_CAPACITY: usize = 20_000;

/// What a verified token says, kept until it expires.
#[derive(Debug, Clone, Copy)]
struct Verified {
    user_id: i64,
    role: Role,
    vendor_id: Option<i64>,
    exp: i64,
}

impl KeyRing {
    /// A ring with fixed keys (identity verifies with its own).
    pub fn fixed(keys: &[(String, String)]) -> Result<Arc<Self>, ApiError> {
        Ok(Arc::new(Self {
            keys: RwLock::new(decode_keys(keys)?),
            source: None,
            last_fetch: Mutex::new(None),
            verified: Default::default(),
        }))
    }

    /// A ring that fetches keys from `source` on first use and on unknown `kid`s.
    pub fn fetching(source: impl KeySource + 'static) -> Arc<Self> {
        Arc::new(Self {
            keys: RwLock::new(HashMap::new()),
            source: Some(Box::new(source)),
            last_fetch: Mutex::new(None),
            verified: Default::default(),
        })
    }

    async fn key_for(&self, kid: &str) -> Result<Option<DecodingKey>, ApiError> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Some(key.clone()));
        }
        let Some(source) = &self.source else {
            return Ok(None);
        };
        let mut last = self.last_fetch.lock().await;
        // Another task may have fetched while we waited for the lock.
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Some(key.clone()));
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return Ok(None);
        }
        let fetched = decode_keys(&source.fetch().await?)?;
        *last = Some(Instant::now());
        let mut keys = self.keys.write().await;
        keys.extend(fetched);
        Ok(keys.get(kid).cloned())
    }

    /// The claims of a valid, unexpired access token.
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::token_not_valid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(ApiError::token_not_valid());
        }
        let kid = header.kid.ok_or_else(ApiError::token_not_valid)?;
        let key = self.key_for(&kid).await?.ok_or_else(ApiError::token_not_valid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY as u64;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|_| ApiError::token_not_valid())?;
        if data.claims.token_type != ACCESS_TOKEN_TYPE {
            return Err(ApiError::token_not_valid());
        }
        Ok(data.claims)
    }

    /// The principal of a bearer token, verified once per process.
    pub async fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = chrono::Utc::now().timestamp();
        let remembered = self.remembered().get(&digest).copied().filter(|v| v.exp >= now - LEEWAY);
        let verified = match remembered {
            Some(verified) => verified,
            None => {
                let claims = self.verify(token).await?;
                let verified = Verified {
                    user_id: claims.sub.parse().map_err(|_| ApiError::token_not_valid())?,
                    role: Role::parse(&claims.role).ok_or_else(ApiError::token_not_valid)?,
                    vendor_id: claims.vendor_id,
                    exp: claims.exp,
                };
                self.remember(digest, verified, now);
                verified
            }
        };
        let Verified { user_id, role, vendor_id, .. } = verified;
        Ok(Principal { user_id, role, vendor_id, token: token.to_owned() })
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        // A panic while holding it cannot leave the map inconsistent.
        self.verified.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, digest: [u8; 32], verified: Verified, now: i64) {
        let mut remembered = self.remembered();
        if remembered.len() >= VERIFIED_CAPACITY {
            remembered.retain(|_, v| v.exp >= now - LEEWAY);
            if remembered.len() >= VERIFIED_CAPACITY {
                remembered.clear();
            }
        }
        remembered.insert(digest, verified);
    }

    /// The principal of a gRPC call's `authorization` metadata, if it has one.
    pub async fn principal_from_metadata(&self, metadata: &MetadataMap) -> Result<Option<Principal>, ApiError> {
        let Some(value) = metadata.get("authorization") else {
            return Ok(None);
        };
        let value = value.to_str().map_err(|_| ApiError::token_not_valid())?;
        let token = bearer_token(value).ok_or_else(ApiError::token_not_valid)?;
        self.principal(token).await.map(Some)
    }

    /// Like `principal_from_metadata`, but the call must carry a token.
    pub async fn require_principal(&self, metadata: &MetadataMap) -> Result<Principal, ApiError> {
        self.principal_from_metadata(metadata).await?.ok_or_else(ApiError::not_authenticated)
    }
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn decode_keys(keys: &[(String, String)]) -> Result<HashMap<String, DecodingKey>, ApiError> {
    keys.iter()
        .map(|(kid, pem)| {
            DecodingKey::from_ed_pem(pem.as_bytes()).map(|key| (kid.clone(), key)).map_err(ApiError::internal)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn roles_parse_in_any_case() {
        assert_eq!(Role::parse("VENDOR"), Some(Role::Vendor));
        assert_eq!(Role::parse("Customer"), Some(Role::Customer));
        assert_eq!(Role::parse("root"), None);
    }
}
