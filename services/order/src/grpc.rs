//! The Order gRPC service: checkout, order reads, refunds, and the
//! inventory reads and vendor stock writes. Rules live in `domain`, SQL in
//! `store`.
use std::sync::Arc;

use chrono::Utc;
use common::ApiError;
use common::auth::{KeyRing, Principal, Role};
use common::cache::Cache;
use common::proto_time::timestamp;
use common::status;
use proto::catalog::v1::StockWriteState;
use proto::order::v1 as pb;
use tonic::{Request, Response, Status};

use crate::clients::Catalog;
use crate::domain::{self, OrderStatus, PaymentStatus};
use crate::store::{self, Applied, Cancelled, FullOrder, ItemRow, Level, Placed, Store};

type RpcResult<T> = Result<Response<T>, Status>;

const MAX_IDS: usize = 500;

fn stock_write_closed() -> ApiError {
    ApiError::conflict("This product write is no longer open.", "stock_write_closed")
}

pub struct OrderService {
    store: Store,
    keys: Arc<KeyRing>,
    catalog: Catalog,
    cache: Cache,
    catalog_version_key: String,
    rules: CheckoutRules,
}

/// What every new order is placed under.
#[derive(Debug, Clone)]
pub struct CheckoutRules {
    pub currency: String,
    /// How long an unpaid order holds its stock.
    pub reservation: chrono::Duration,
    /// Unpaid orders a customer may have at once (0: no cap).
    pub max_pending: u32,
}

fn item_message(item: &ItemRow) -> pb::OrderItem {
    pb::OrderItem {
        id: item.id,
        product: item.product_id,
        product_name: item.product_name.clone(),
        sku: item.sku.clone(),
        vendor: item.vendor_id,
        vendor_name: item.vendor_name.clone(),
        unit_price: common::money::to_text(item.unit_price),
        quantity: item.quantity,
        line_total: common::money::to_text(item.line_total),
    }
}

pub fn order_message(full: &FullOrder) -> pb::OrderMessage {
    let o = &full.order;
    pb::OrderMessage {
        id: o.id,
        user: o.user_id,
        status: status::stored::<OrderStatus>(&o.status).into(),
        total_price: common::money::to_text(o.total_price),
        currency: o.currency.clone(),
        items: full.items.iter().map(item_message).collect(),
        vendor_orders: full
            .vendor_orders
            .iter()
            .map(|v| pb::VendorOrderSummary {
                id: v.id,
                vendor: v.vendor_id,
                vendor_name: v.vendor_name.clone(),
                subtotal: common::money::to_text(v.subtotal),
                status: status::stored::<OrderStatus>(&v.status).into(),
            })
            .collect(),
        payment_status: o.payment_status.as_deref().map(|s| status::stored::<PaymentStatus>(s).into()),
        created_at: Some(timestamp(o.created_at)),
        updated_at: Some(timestamp(o.updated_at)),
        expires_at: Some(timestamp(o.expires_at)),
    }
}

fn not_approved() -> ApiError {
    ApiError::new(common::ErrorKind::PermissionDenied, "Your vendor profile is not approved.")
        .with_code("vendor_not_approved")
}

impl OrderService {
    pub fn new(
        store: Store,
        keys: Arc<KeyRing>,
        catalog: Catalog,
        cache: Cache,
        prefix: &str,
        rules: CheckoutRules,
    ) -> Self {
        Self { store, keys, catalog, cache, catalog_version_key: common::cache::catalog_version_key(prefix), rules }
    }

    async fn load(&self, id: i64) -> Result<FullOrder, ApiError> {
        self.store.order(id).await?.ok_or_else(ApiError::not_found)
    }

    /// Places `lines` for the customer, or says why not.
    async fn place(&self, user_id: i64, lines: &[(i64, i64)], key: Option<&str>) -> Result<FullOrder, ApiError> {
        if lines.iter().all(|(_, q)| *q <= 0) {
            return Err(domain::cart_empty());
        }
        let snapshot = self.catalog.snapshot(lines.iter().map(|(p, _)| *p).collect()).await?;
        let draft = domain::draft_order(lines, &snapshot)?;
        let terms = store::Checkout {
            currency: &self.rules.currency,
            reservation: self.rules.reservation,
            key,
            max_pending: self.rules.max_pending,
        };
        match self.store.place_order(user_id, &draft, terms).await? {
            Placed::Created(order) => Ok(*order),
            Placed::Replayed(id) => self.load(id).await,
            Placed::Short { product_id, requested, available } => {
                Err(store::short_error(&draft, product_id, requested, available))
            }
            Placed::TooManyPending => Err(domain::too_many_pending_orders(self.rules.max_pending)),
        }
    }

    /// An order its owner or an admin may see; vendors never own orders.
    async fn visible_order(&self, principal: &Principal, id: i64) -> Result<FullOrder, ApiError> {
        match principal.role {
            Role::Vendor => Err(ApiError::forbidden()),
            Role::Admin => self.load(id).await,
            Role::Customer => {
                let order = self.load(id).await?;
                if order.order.user_id == principal.user_id { Ok(order) } else { Err(ApiError::not_found()) }
            }
        }
    }

    /// Cancels pending orders whose reservation ran out; safe with several
    /// replicas (each cancellation locks its order and re-checks it). Also
    /// forgets week-old stock writes.
    pub async fn reap_expired(&self) -> Result<usize, ApiError> {
        self.store.purge_stock_writes().await?;
        let mut cancelled = 0;
        for id in self.store.expired_orders(Utc::now(), 100).await? {
            if matches!(self.store.cancel(id, &[OrderStatus::Pending], "expired").await?, Cancelled::Done) {
                tracing::info!(order = id, "reservation expired; order cancelled and stock released");
                cancelled += 1;
            }
        }
        Ok(cancelled)
    }
}

#[tonic::async_trait]
impl pb::order_server::Order for OrderService {
    async fn apply_stock_write(
        &self,
        request: Request<pb::StockWriteRequest>,
    ) -> RpcResult<pb::ApplyStockWriteResponse> {
        let write_id = common::ids::stock_write_id(&request.get_ref().write_id)?.to_owned();
        // Authorized by the write's owner: catalog recorded these levels for
        // a caller it had checked, and still holds the write open.
        let write = self.catalog.stock_write(&write_id).await?;
        if write.state() != StockWriteState::Open {
            return Err(stock_write_closed().into());
        }
        let levels: Vec<Level> = write
            .levels
            .iter()
            .map(|l| Level { product_id: l.product_id, vendor_id: l.vendor_id, available: l.available })
            .collect();
        if self.store.apply_stock_write(&write_id, &levels).await? == Applied::Fenced {
            return Err(stock_write_closed().into());
        }
        // Stock set by a vendor shows in the very next listing; stock moved
        // by checkouts does not bump (lists may lag it briefly).
        self.cache.bump(&self.catalog_version_key).await;
        Ok(Response::new(pb::ApplyStockWriteResponse {}))
    }

    async fn undo_stock_write(&self, request: Request<pb::StockWriteRequest>) -> RpcResult<pb::UndoStockWriteResponse> {
        let write_id = common::ids::stock_write_id(&request.get_ref().write_id)?.to_owned();
        let write = self.catalog.stock_write(&write_id).await?;
        if !matches!(write.state(), StockWriteState::Abandoned | StockWriteState::Undone) {
            return Err(ApiError::conflict("Catalog has not abandoned this product write.", "stock_write_open").into());
        }
        self.store.undo_stock_write(&write_id).await?;
        self.cache.bump(&self.catalog_version_key).await;
        Ok(Response::new(pb::UndoStockWriteResponse {}))
    }

    async fn get_stock(&self, request: Request<pb::GetStockRequest>) -> RpcResult<pb::StockLevels> {
        let ids = request.into_inner().product_ids;
        if ids.len() > MAX_IDS {
            return Err(ApiError::field("product_ids", "Ask for at most 500 products at a time.").into());
        }
        let known = self.store.stock(&ids).await?;
        let levels = ids
            .iter()
            .map(|id| pb::StockLevel {
                product_id: *id,
                available: known.iter().find(|(p, _)| p == id).map_or(0, |(_, a)| *a),
            })
            .collect();
        Ok(Response::new(pb::StockLevels { levels }))
    }

    async fn place_order(&self, request: Request<pb::PlaceOrderRequest>) -> RpcResult<pb::OrderMessage> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Customer)?;
        let body = request.into_inner();
        let key = body.idempotency_key.filter(|k| !k.is_empty());
        let lines: Vec<(i64, i64)> = body.lines.iter().map(|l| (l.product, l.quantity)).collect();
        let placed = self.place(principal.user_id, &lines, key.as_deref()).await;
        // A replay must not depend on the cart or the stock of now: a key
        // that placed an order answers with it, whatever refused this
        // attempt. (An attempt that gets as far as writing meets the key's
        // unique index instead, so a success needs no lookup.)
        let order = match (placed, &key) {
            (Ok(order), _) => order,
            (Err(refused), Some(key)) => match self.store.order_by_key(principal.user_id, key).await? {
                Some(id) => self.load(id).await?,
                None => return Err(refused.into()),
            },
            (Err(refused), None) => return Err(refused.into()),
        };
        Ok(Response::new(order_message(&order)))
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> RpcResult<pb::OrderMessage> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let order = self.visible_order(&principal, request.into_inner().id).await?;
        Ok(Response::new(order_message(&order)))
    }

    async fn list_orders(&self, request: Request<pb::ListOrdersRequest>) -> RpcResult<pb::OrderPage> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let body = request.into_inner();
        let status = status::filter::<OrderStatus>("status", body.status)?;
        let user = match principal.role {
            Role::Vendor => return Err(ApiError::forbidden().into()),
            Role::Customer => Some(principal.user_id),
            Role::Admin => body.user_id,
        };
        let (count, ids) = self.store.order_ids(user, status, body.limit.clamp(1, 100), body.offset.max(0)).await?;
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(order) = self.store.order(id).await? {
                orders.push(order_message(&order));
            }
        }
        Ok(Response::new(pb::OrderPage { count, orders }))
    }

    async fn list_vendor_orders(
        &self,
        request: Request<pb::ListVendorOrdersRequest>,
    ) -> RpcResult<pb::VendorOrderPage> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Vendor)?;
        let (vendor_id, status) = self.catalog.caller_vendor(&principal.token).await?.ok_or_else(not_approved)?;
        if !common::buyable::sells(status) {
            return Err(not_approved().into());
        }
        let body = request.into_inner();
        let (count, rows) = self.store.vendor_orders(vendor_id, body.limit.clamp(1, 100), body.offset.max(0)).await?;
        let vendor_orders = rows
            .into_iter()
            .map(|(row, items)| pb::VendorOrder {
                id: row.id,
                order: row.order_id,
                status: status::stored::<OrderStatus>(&row.status).into(),
                items: items.iter().map(item_message).collect(),
                subtotal: common::money::to_text(row.subtotal),
                created_at: Some(timestamp(row.created_at)),
            })
            .collect();
        Ok(Response::new(pb::VendorOrderPage { count, vendor_orders }))
    }

    async fn refund_order(&self, request: Request<pb::RefundOrderRequest>) -> RpcResult<pb::OrderMessage> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Admin)?;
        let id = request.into_inner().id;
        match self.store.cancel(id, &[OrderStatus::Pending, OrderStatus::Paid], "refund").await? {
            Cancelled::Done => {}
            Cancelled::NotFound => return Err(ApiError::not_found().into()),
            Cancelled::NotCancellable => {
                return Err(ApiError::conflict("Order is already cancelled.", "order_not_refundable").into());
            }
        }
        Ok(Response::new(order_message(&self.load(id).await?)))
    }
}
