//! `/carts/*`: the calling customer's cart (vendors and admins: 403).
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use proto::cart::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::CustomerUser;
use crate::body::{Form, JsonBody};
use crate::error::HttpResult;
use crate::openapi::schemas::{self, IdPath};
use crate::origin::Origin;
use crate::pagination::{LimitOffset, LimitOffsetQuery, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, add_item))
        .routes(routes!(update_item, remove_item))
        .routes(routes!(summary))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartLine {
    id: i64,
    product: i64,
    product_name: String,
    vendor: i64,
    vendor_name: String,
    /// The product's current price.
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    unit_price: String,
    quantity: i64,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    line_total: String,
    available_stock: i64,
    #[schema(value_type = String, format = DateTime)]
    added_at: Option<String>,
}

impl From<pb::CartLine> for CartLine {
    fn from(l: pb::CartLine) -> Self {
        Self {
            id: l.id,
            product: l.product,
            product_name: l.product_name,
            vendor: l.vendor,
            vendor_name: l.vendor_name,
            unit_price: l.unit_price,
            quantity: l.quantity,
            line_total: l.line_total,
            available_stock: l.available_stock,
            added_at: rfc3339(l.added_at.as_ref()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartSummary {
    total_items: i64,
    total_lines: i64,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    total_price: String,
    currency: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct AddBody {
    /// The product: active, of an approved vendor.
    #[schema(schema_with = schemas::id)]
    product: i64,
    /// Default 1; the line's whole quantity must fit in the stock.
    #[schema(required = false, schema_with = schemas::quantity)]
    quantity: i64,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct QuantityBody {
    #[schema(schema_with = schemas::quantity)]
    quantity: i64,
}

/// The caller's cart lines, oldest first (lines of products that can no
/// longer be bought are dropped).
#[utoipa::path(get, path = "/carts/items/", tag = "cart", security(("bearer" = [])), params(LimitOffsetQuery),
    responses((status = 200, description = "OK", body = Page<CartLine>), (status = 400, description = "A bad `limit` or `offset`"),
        (status = 403, description = "Not a customer")))]
async fn list_items(
    State(state): State<AppState>,
    CustomerUser(user): CustomerUser,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> HttpResult<Json<Page<CartLine>>> {
    let page = LimitOffset::from_uri(&uri)?;
    let message = pb::ListItemsRequest { limit: page.limit, offset: page.offset };
    let mut client = state.downstream.cart.clone();
    let answer = state.downstream.call(client.list_items(state.downstream.request(message, Some(&user.token)))).await?;
    let lines = answer.lines.into_iter().map(CartLine::from).collect();
    Ok(Json(page.page(answer.count, lines, &uri, &origin)))
}

/// Add a product (201), or add to its line when it is already in the cart (200).
#[utoipa::path(post, path = "/carts/items/", tag = "cart", request_body = AddBody, security(("bearer" = [])),
    responses((status = 201, description = "New line", body = CartLine), (status = 200, description = "Merged into the product's line", body = CartLine),
        (status = 400, description = "Invalid fields, the product unavailable (`product`), or not enough stock (`quantity`: `Only N left in stock.`)"),
        (status = 403, description = "Not a customer")))]
async fn add_item(
    State(state): State<AppState>,
    CustomerUser(user): CustomerUser,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<CartLine>)> {
    let mut form = Form::new(body);
    let message = pb::AddItemRequest { product: form.number_text("product"), quantity: form.number_text("quantity") };
    form.finish()?;
    let mut client = state.downstream.cart.clone();
    let added = state.downstream.call(client.add_item(state.downstream.request(message, Some(&user.token)))).await?;
    let status = if added.created { StatusCode::CREATED } else { StatusCode::OK };
    let line = added.line.ok_or_else(|| common::ApiError::internal("cart answered without a line"))?;
    Ok((status, Json(line.into())))
}

/// Set a line's quantity (at least 1, at most the stock).
#[utoipa::path(patch, path = "/carts/items/{id}/", tag = "cart", request_body = QuantityBody, security(("bearer" = [])),
    params(IdPath),
    responses((status = 200, description = "OK", body = CartLine),
        (status = 400, description = "Invalid quantity, not enough stock, or the product is no longer available"),
        (status = 403, description = "Not a customer"), (status = 404, description = "Not your line")))]
async fn update_item(
    State(state): State<AppState>,
    CustomerUser(user): CustomerUser,
    Path(id): Path<String>,
    body: JsonBody,
) -> HttpResult<Json<CartLine>> {
    let id = path_id(&id)?;
    let mut form = Form::new(body);
    let message = pb::UpdateItemRequest { id, quantity: form.number_text("quantity") };
    form.finish()?;
    let mut client = state.downstream.cart.clone();
    let line = state.downstream.call(client.update_item(state.downstream.request(message, Some(&user.token)))).await?;
    Ok(Json(line.into()))
}

/// Remove a line.
#[utoipa::path(delete, path = "/carts/items/{id}/", tag = "cart", security(("bearer" = [])), params(IdPath),
    responses((status = 204, description = "Removed"), (status = 403, description = "Not a customer"),
        (status = 404, description = "Not your line")))]
async fn remove_item(
    State(state): State<AppState>,
    CustomerUser(user): CustomerUser,
    Path(id): Path<String>,
) -> HttpResult<StatusCode> {
    let message = pb::RemoveItemRequest { id: path_id(&id)? };
    let mut client = state.downstream.cart.clone();
    state.downstream.call(client.remove_item(state.downstream.request(message, Some(&user.token)))).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Units, lines and the total at current prices.
#[utoipa::path(get, path = "/carts/summary/", tag = "cart", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = CartSummary), (status = 403, description = "Not a customer")))]
async fn summary(State(state): State<AppState>, CustomerUser(user): CustomerUser) -> HttpResult<Json<CartSummary>> {
    let mut client = state.downstream.cart.clone();
    let s = state
        .downstream
        .call(client.summary(state.downstream.request(pb::SummaryRequest {}, Some(&user.token))))
        .await?;
    Ok(Json(CartSummary {
        total_items: s.total_items,
        total_lines: s.total_lines,
        total_price: s.total_price,
        currency: s.currency,
    }))
}
