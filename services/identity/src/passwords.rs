//! argon2id password hashing (OWASP parameters: m = 19 MiB, t = 2, p = 1),
//! run on the blocking pool so a burst of logins never stalls the async
//! workers.
use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use common::ApiError;

/// A hash of nothing in particular: unknown emails are verified against it
/// so a login takes as long whether or not the account exists.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default().hash_password(b"decoy password, never valid").map(|h| h.to_string()).unwrap_or_default()
});

pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// True when `password` matches `hash`; with no hash, burns the same time
/// and answers false.
pub async fn verify(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DECOY_HASH.clone());
        Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hashed = hash("correct horse".into()).await.expect("hash");
        assert!(hashed.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(hashed.clone())).await);
        assert!(!verify("wrong horse".into(), Some(hashed)).await);
        assert!(!verify("decoy password, never valid".into(), None).await);
    }
}
