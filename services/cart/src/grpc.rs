//! The Cart gRPC service: every call is the calling customer's own cart.
//! Lines are shown with the product's current name, price and stock, and
//! reads drop lines whose product can no longer be bought.
use std::collections::HashMap;
use std::sync::Arc;

use common::ApiError;
use common::auth::{KeyRing, Principal, Role};
use common::proto_time::timestamp;
use proto::cart::v1 as pb;
use proto::catalog::v1::Product;
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use crate::clients::Downstream;
use crate::domain;
use crate::store::{Added, LineRow, Store};

type RpcResult<T> = Result<Response<T>, Status>;

pub struct CartService {
    store: Store,
    keys: Arc<KeyRing>,
    downstream: Downstream,
    currency: String,
}

/// Catalog's price of a product; one it cannot read fails the call
/// rather than pricing the line at zero.
fn price_of(product: &Product) -> Result<Decimal, ApiError> {
    common::money::from_text("price", &product.price)
        .map_err(|e| ApiError::internal(format!("catalog sent product {}: {e}", product.id)))
}

fn render(line: &LineRow, product: &Product, stock: i64) -> Result<pb::CartLine, ApiError> {
    let unit = price_of(product)?;
    Ok(pb::CartLine {
        id: line.id,
        product: line.product_id,
        product_name: product.name.clone(),
        vendor: product.vendor,
        vendor_name: product.vendor_name.clone(),
        unit_price: common::money::to_text(unit),
        quantity: line.quantity,
        line_total: common::money::to_text(unit * Decimal::from(line.quantity)),
        available_stock: stock,
        added_at: Some(timestamp(line.added_at)),
    })
}

fn unavailable_product() -> ApiError {
    ApiError::field("product", "This product is not available.")
}

/// A line whose product can still be bought, with that product.
struct LiveLine {
    line: LineRow,
    product: Product,
    stock: i64,
}

impl CartService {
    pub fn new(store: Store, keys: Arc<KeyRing>, downstream: Downstream, currency: String) -> Self {
        Self { store, keys, downstream, currency }
    }

    async fn customer<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Customer)?;
        Ok(principal)
    }

    /// The customer's lines that can still be bought; the others are
    /// deleted on the way (a read prunes the cart).
    async fn live_lines(&self, user_id: i64) -> Result<Vec<LiveLine>, ApiError> {
        let lines = self.store.lines(user_id).await?;
        let ids: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
        let (products, stock) = tokio::try_join!(self.downstream.products(ids.clone()), self.downstream.stock(ids))?;
        let mut live = Vec::with_capacity(lines.len());
        let mut dead = Vec::new();
        for line in lines {
            match products.get(&line.product_id) {
                Some(product) if common::buyable::is_buyable(product.is_active, product.vendor_status()) => {
                    let units = stock.get(&line.product_id).copied().unwrap_or(0);
                    live.push(LiveLine { product: product.clone(), stock: units, line });
                }
                _ => dead.push(line.product_id),
            }
        }
        if !dead.is_empty() {
            self.store.drop_products(user_id, &dead).await?;
        }
        Ok(live)
    }

    /// A buyable product and its stock, or the `product` field error.
    async fn buyable(&self, product_id: i64) -> Result<(Product, i64), ApiError> {
        let products = self.downstream.products(vec![product_id]).await?;
        let product = products.get(&product_id).cloned().ok_or_else(|| {
            ApiError::field("product", format!("Invalid pk \"{product_id}\" - object does not exist."))
        })?;
        if !common::buyable::is_buyable(product.is_active, product.vendor_status()) {
            return Err(unavailable_product());
        }
        let stock = self.downstream.stock(vec![product_id]).await?;
        Ok((product, stock.get(&product_id).copied().unwrap_or(0)))
    }
}

#[tonic::async_trait]
impl pb::cart_server::Cart for CartService {
    async fn add_item(&self, request: Request<pb::AddItemRequest>) -> RpcResult<pb::AddItemResponse> {
        let principal = self.customer(&request).await?;
        let body = request.into_inner();
        let product_id = match body.product.as_deref().map(str::trim) {
            None | Some("") => return Err(ApiError::field("product", "This field is required.").into()),
            Some(raw) => {
                raw.parse::<i64>().map_err(|_| ApiError::field("product", "Incorrect type. Expected pk value."))?
            }
        };
        let quantity = domain::parse_quantity(body.quantity.as_deref())?;
        let (product, stock) = self.buyable(product_id).await?;
        let (line, created) = match self.store.add(principal.user_id, product_id, quantity, stock).await? {
            Added::Created(line) => (line, true),
            Added::Merged(line) => (line, false),
            Added::TooMany { wanted } => {
                return Err(domain::check_stock(wanted, stock).err().unwrap_or_else(unavailable_product).into());
            }
        };
        Ok(Response::new(pb::AddItemResponse { line: Some(render(&line, &product, stock)?), created }))
    }

    async fn list_items(&self, request: Request<pb::ListItemsRequest>) -> RpcResult<pb::CartPage> {
        let principal = self.customer(&request).await?;
        let body = request.into_inner();
        let live = self.live_lines(principal.user_id).await?;
        let count = live.len() as i64;
        let lines = live
            .iter()
            .skip(body.offset.max(0) as usize)
            .take(body.limit.clamp(1, 100) as usize)
            .map(|l| render(&l.line, &l.product, l.stock))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::CartPage { count, lines }))
    }

    async fn update_item(&self, request: Request<pb::UpdateItemRequest>) -> RpcResult<pb::CartLine> {
        let principal = self.customer(&request).await?;
        let body = request.into_inner();
        let line = self.store.line(principal.user_id, body.id).await?.ok_or_else(ApiError::not_found)?;
        if body.quantity.is_none() {
            return Err(ApiError::field("quantity", "This field is required.").into());
        }
        let quantity = domain::parse_quantity(body.quantity.as_deref())?;
        let (product, stock) = match self.buyable(line.product_id).await {
            Ok(found) => found,
            Err(error) => {
                self.store.drop_products(principal.user_id, &[line.product_id]).await?;
                return Err(error.into());
            }
        };
        domain::check_stock(quantity, stock)?;
        if !self.store.set_quantity(principal.user_id, body.id, quantity).await? {
            return Err(ApiError::not_found().into());
        }
        let line = self.store.line(principal.user_id, body.id).await?.ok_or_else(ApiError::not_found)?;
        Ok(Response::new(render(&line, &product, stock)?))
    }

    async fn remove_item(&self, request: Request<pb::RemoveItemRequest>) -> RpcResult<pb::RemoveItemResponse> {
        let principal = self.customer(&request).await?;
        if self.store.remove(principal.user_id, request.into_inner().id).await? {
            Ok(Response::new(pb::RemoveItemResponse {}))
        } else {
            Err(ApiError::not_found().into())
        }
    }

    async fn summary(&self, request: Request<pb::SummaryRequest>) -> RpcResult<pb::CartSummary> {
        let principal = self.customer(&request).await?;
        let live = self.live_lines(principal.user_id).await?;
        let total_items = live.iter().map(|l| l.line.quantity).sum();
        let total_price = live
            .iter()
            .map(|l| Ok(price_of(&l.product)? * Decimal::from(l.line.quantity)))
            .sum::<Result<Decimal, ApiError>>()?;
        Ok(Response::new(pb::CartSummary {
            total_items,
            total_lines: live.len() as i64,
            total_price: common::money::to_text(total_price),
            currency: self.currency.clone(),
        }))
    }

    async fn get_cart(&self, request: Request<pb::GetCartRequest>) -> RpcResult<pb::CartContents> {
        let principal = self.customer(&request).await?;
        let lines = self.store.lines(principal.user_id).await?;
        Ok(Response::new(pb::CartContents {
            lines: lines.into_iter().map(|l| pb::StoredLine { product: l.product_id, quantity: l.quantity }).collect(),
        }))
    }

    async fn remove_items(&self, request: Request<pb::RemoveItemsRequest>) -> RpcResult<pb::RemoveItemsResponse> {
        let principal = self.customer(&request).await?;
        let body = request.into_inner();
        let mut merged: HashMap<i64, i64> = HashMap::new();
        for line in body.lines {
            *merged.entry(line.product).or_default() += line.quantity.max(0);
        }
        let lines: Vec<(i64, i64)> = merged.into_iter().collect();
        self.store.take_out(principal.user_id, body.order_id, &lines).await?;
        Ok(Response::new(pb::RemoveItemsResponse {}))
    }
}
