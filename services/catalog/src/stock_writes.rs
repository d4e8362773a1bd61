//! A product write that carries stock (a create, an update with `stock`,
//! an import) as one operation of catalog's, though the order service owns
//! stock. Nobody may see half of it:
//!
//! 1. catalog records the write as open, with each product's level, and
//!    inserts created products unseen (`pending_write`), in one transaction;
//! 2. order applies the levels, reading them from catalog by the write's
//!    id (`GetStockWrite`) and only while the write is open;
//! 3. catalog publishes the write with its product change in one
//!    transaction: from then on both are seen.
//!
//! A failure or a timeout before step 3 abandons the write (its created
//! products are deleted) and asks order to take the stock back: by what
//! the write changed, units sold since kept, unless a later write set the
//! level again; a write order had not applied yet is fenced, so it never
//! applies late. What cannot be done at once (order is down), and writes
//! whose catalog died mid-way, are settled by the recovery pass every
//! replica runs.
use std::sync::Arc;
use std::time::Duration;

use common::ApiError;
use common::shutdown::CancellationToken;
use tokio::task::JoinHandle;

use crate::clients::Order;
use crate::store::Store;

/// An open write older than this has lost its owner (the order call's
/// deadline is seconds): the recovery abandons it.
const STALE_SECS: u64 = 30;
/// Writes settled per recovery pass.
const RECOVERY_BATCH: i64 = 50;

pub struct StockWrites {
    store: Store,
    order: Order,
}

/// A new write's id: random, so it is also the capability order reads the
/// write with.
pub fn new_write_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl StockWrites {
    pub fn new(store: Store, order: Order) -> Self {
        Self { store, order }
    }

    /// Steps 2 and 3 for open write `write_id`: order applies its stock,
    /// then `publish` makes the product change and the write visible. Any
    /// failure abandons the write and is returned.
    pub async fn complete<Fut>(&self, write_id: &str, publish: impl FnOnce() -> Fut) -> Result<(), ApiError>
    where
        Fut: Future<Output = Result<(), ApiError>>,
    {
        let outcome = match self.order.apply_stock_write(write_id).await {
            Ok(()) => publish().await,
            Err(error) => Err(error),
        };
        if let Err(error) = &outcome {
            tracing::warn!(write = write_id, %error, "product write failed; abandoning it");
            self.abandon(write_id).await;
        }
        outcome
    }

    /// Abandons the write (if still open) and has order take its stock
    /// back; a failure is left to the recovery pass.
    async fn abandon(&self, write_id: &str) {
        if let Err(error) = self.store.abandon_stock_write(write_id).await {
            tracing::warn!(write = write_id, %error, "cannot abandon the product write now; recovery will");
            return;
        }
        self.take_back(write_id).await;
    }

    async fn take_back(&self, write_id: &str) {
        match self.order.undo_stock_write(write_id).await {
            Ok(()) => {
                if let Err(error) = self.store.stock_write_undone(write_id).await {
                    tracing::warn!(write = write_id, %error, "stock taken back, not yet recorded; recovery will");
                }
            }
            Err(error) => {
                tracing::warn!(write = write_id, %error, "order cannot take the stock back now; recovery will")
            }
        }
    }

    /// One recovery pass: abandons open writes whose owner is gone, takes
    /// back the stock of abandoned ones, forgets week-old settled ones.
    pub async fn recover(&self) -> Result<(), ApiError> {
        for write_id in self.store.unsettled_stock_writes(STALE_SECS, RECOVERY_BATCH).await? {
            if self.store.abandon_stock_write(&write_id).await? {
                tracing::warn!(write = write_id, "a product write lost its owner; abandoned");
            }
            self.take_back(&write_id).await;
        }
        self.store.purge_stock_writes().await
    }

    /// The recovery pass every `interval`, until `shutdown`.
    pub fn spawn_recovery(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) -> JoinHandle<()> {
        common::shutdown::spawn_every("product write recovery", interval, shutdown, move || {
            let writes = self.clone();
            async move { writes.recover().await }
        })
    }
}
