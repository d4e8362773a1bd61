//! Token material: the Ed25519 signing key (made on first start and kept
//! in identity's schema so replicas share it, or given as
//! `JWT_PRIVATE_KEY_PEM`), access JWTs, and opaque refresh tokens, which
//! are only ever stored as SHA-256 hashes.
use chrono::{DateTime, Utc};
use common::ApiError;
use common::auth::{ACCESS_TOKEN_TYPE, Claims, Role};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A PEM key pair and its id.
#[derive(Clone)]
pub struct KeyPair {
    pub kid: String,
    pub private_pem: String,
    pub public_pem: String,
}

impl KeyPair {
    pub fn generate() -> Result<Self, ApiError> {
        let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
        Self::from_signing_key(&key)
    }

    pub fn from_private_pem(pem: &str) -> Result<Self, ApiError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim()).map_err(ApiError::internal)?;
        Self::from_signing_key(&key)
    }

    fn from_signing_key(key: &ed25519_dalek::SigningKey) -> Result<Self, ApiError> {
        let private_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(ApiError::internal)?.to_string();
        let public_pem = key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(ApiError::internal)?;
        // The kid names the key by its public half, so it is stable across
        // restarts and replicas.
        let kid = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]);
        Ok(Self { kid, private_pem, public_pem })
    }
}

/// Signs access tokens.
pub struct Signer {
    kid: String,
    key: EncodingKey,
    access_ttl_secs: i64,
}

impl Signer {
    pub fn new(pair: &KeyPair, access_ttl_secs: i64) -> Result<Self, ApiError> {
        Ok(Self {
            kid: pair.kid.clone(),
            key: EncodingKey::from_ed_pem(pair.private_pem.as_bytes()).map_err(ApiError::internal)?,
            access_ttl_secs,
        })
    }

    pub fn access_token(
        &self,
        user_id: i64,
        role: Role,
        vendor_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let iat = now.timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            role: role.as_str().to_owned(),
            vendor_id,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat,
            exp: iat + self.access_ttl_secs,
            token_type: ACCESS_TOKEN_TYPE.to_owned(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(ApiError::internal)
    }
}

/// A fresh refresh token and the hash that is stored in its place.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::auth::KeyRing;

    #[tokio::test]
    async fn a_remembered_token_is_refused_once_it_expires() {
        let pair = KeyPair::generate().expect("key");
        let ring = KeyRing::fixed(&[(pair.kid.clone(), pair.public_pem.clone())]).expect("ring");
        // Valid for one more second, plus the ring's 5 s of leeway.
        let token = Signer::new(&pair, 1).expect("signer").access_token(7, Role::Customer, None, Utc::now());
        let token = token.expect("token");
        for _ in 0..2 {
            assert_eq!(ring.principal(&token).await.expect("valid").user_id, 7);
        }
        tokio::time::sleep(std::time::Duration::from_secs(7)).await;
        assert!(ring.principal(&token).await.is_err(), "remembered past its expiry");
    }

    #[tokio::test]
    async fn signed_tokens_verify_with_the_public_half_only() {
        let pair = KeyPair::generate().expect("key");
        let signer = Signer::new(&pair, 900).expect("signer");
        let token = signer.access_token(7, Role::Vendor, Some(3), Utc::now()).expect("token");
        let ring = KeyRing::fixed(&[(pair.kid.clone(), pair.public_pem.clone())]).expect("ring");
        let principal = ring.principal(&token).await.expect("valid");
        assert_eq!((principal.user_id, principal.role, principal.vendor_id), (7, Role::Vendor, Some(3)));

        let other = KeyPair::generate().expect("key");
        let other_ring = KeyRing::fixed(&[(pair.kid.clone(), other.public_pem)]).expect("ring");
        assert!(other_ring.principal(&token).await.is_err());
    }

    #[tokio::test]
    async fn expired_tokens_are_refused() {
        let pair = KeyPair::generate().expect("key");
        let signer = Signer::new(&pair, 900).expect("signer");
        let token =
            signer.access_token(7, Role::Customer, None, Utc::now() - chrono::Duration::seconds(1000)).expect("token");
        let ring = KeyRing::fixed(&[(pair.kid.clone(), pair.public_pem.clone())]).expect("ring");
        assert!(ring.principal(&token).await.is_err());
    }

    #[test]
    fn a_pem_key_keeps_its_kid() {
        let pair = KeyPair::generate().expect("key");
        let again = KeyPair::from_private_pem(&pair.private_pem).expect("parse");
        assert_eq!(pair.kid, again.kid);
    }

    #[test]
    fn refresh_tokens_are_stored_hashed() {
        let (token, hash) = new_refresh_token();
        assert_eq!(token.len(), 64);
        assert_ne!(token, hash);
        assert_eq!(hash_refresh_token(&token), hash);
    }
}
