//! argon2id password hashing (OWASP parameters: m = 19 MiB, t = 2, p = 1)
//! on the blocking pool, at most one hash per core at a time.
//!
//! Each hash takes 19 MiB and a core for tens of milliseconds; on the
//! unbounded blocking pool a burst of logins or registrations piled up
//! gigabytes. A request that cannot get a slot within `QUEUE_DEADLINE` is
//! answered "unavailable" (the gateway's 503 with `Retry-After`) instead of
//! waiting without bound.
use std::sync::LazyLock;
use std::time::Duration;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use common::{ApiError, ErrorKind};
use tokio::sync::Semaphore;

/// How long a request may wait for a hashing slot.
const QUEUE_DEADLINE: Duration = Duration::from_secs(2);
const BUSY: &str = "The server is busy checking passwords; try again shortly.";

/// Hashing slots: one per core, and how long a request may wait for one.
struct Slots {
    semaphore: Semaphore,
    deadline: Duration,
}

impl Slots {
    fn per_core(deadline: Duration) -> Self {
        Self { semaphore: Semaphore::new(cores()), deadline }
    }

    /// Runs `work` on the blocking pool once a slot is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let _slot = tokio::time::timeout(self.deadline, self.semaphore.acquire())
            .await
            .map_err(|_| ApiError::new(ErrorKind::Unavailable, BUSY))?
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

static SLOTS: LazyLock<Slots> = LazyLock::new(|| Slots::per_core(QUEUE_DEADLINE));

/// A hash of nothing in particular: unknown emails are verified against it
/// so a login takes as long whether or not the account exists.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default().hash_password(b"decoy password, never valid").map(|h| h.to_string()).unwrap_or_default()
});

pub async fn hash(password: String) -> Result<String, ApiError> {
    SLOTS
        .run(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await?
        .map_err(ApiError::internal)
}

/// True when `password` matches `hash`; with no hash, burns the same time
/// and answers false. Unavailable when no slot freed up in time.
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    SLOTS
        .run(move || {
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| DECOY_HASH.clone());
            Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok() && known
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hashed = hash("correct horse".into()).await.expect("hash");
        assert!(hashed.starts_with("$argon2id$"));
        assert!(verify("correct horse".into(), Some(hashed.clone())).await.expect("slot"));
        assert!(!verify("wrong horse".into(), Some(hashed)).await.expect("slot"));
        assert!(!verify("decoy password, never valid".into(), None).await.expect("slot"));
    }

    #[tokio::test]
    async fn a_full_queue_answers_unavailable() {
        let slots = Slots::per_core(Duration::from_millis(50));
        let _all = slots.semaphore.acquire_many(cores() as u32).await.expect("every slot");
        let error = slots.run(|| ()).await.expect_err("no slot within the deadline");
        assert_eq!(error.kind, ErrorKind::Unavailable);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_never_runs_more_hashes_than_cores() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let slots = Arc::new(Slots::per_core(Duration::from_secs(30)));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks = (0..24).map(|_| {
            let (slots, running, most) = (slots.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                slots
                    .run(move || {
                        most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
            })
        });
        for task in futures::future::join_all(tasks).await {
            task.expect("joined").expect("a slot within the deadline");
        }
        assert!(most.load(Ordering::SeqCst) <= cores(), "{} at once on {} cores", most.load(Ordering::SeqCst), cores());
    }
}
