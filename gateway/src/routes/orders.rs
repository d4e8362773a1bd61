//! `/orders/*` and `/vendors/me/orders/`: checkout (cart → order →
//! cart), order reads, refunds; `Idempotency-Key` on checkout and refund.
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use common::status::{Named, OrderStatus};
use common::{ApiError, FieldErrors};
use proto::cart::v1 as cart_pb;
use proto::order::v1 as pb;
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::{AdminUser, AuthUser, CustomerUser, VendorUser};
use crate::body::JsonBody;
use crate::error::HttpResult;
use crate::idempotency::{self, KeyHeader};
use crate::openapi::schemas::IdPath;
use crate::origin::Origin;
use crate::pagination::{LimitOffset, LimitOffsetQuery, Page};
use crate::statuses;
use common::grpc_client::RetrySafe;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order))
        .routes(routes!(list_orders))
        .routes(routes!(get_order))
        .routes(routes!(refund_order))
        .routes(routes!(vendor_orders))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItem {
    id: i64,
    product: i64,
    product_name: String,
    sku: String,
    vendor: i64,
    vendor_name: String,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    unit_price: String,
    quantity: i64,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    line_total: String,
}

impl From<pb::OrderItem> for OrderItem {
    fn from(i: pb::OrderItem) -> Self {
        Self {
            id: i.id,
            product: i.product,
            product_name: i.product_name,
            sku: i.sku,
            vendor: i.vendor,
            vendor_name: i.vendor_name,
            unit_price: i.unit_price,
            quantity: i.quantity,
            line_total: i.line_total,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubOrder {
    id: i64,
    vendor: i64,
    vendor_name: String,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    subtotal: String,
    /// Follows the order's.
    #[schema(value_type = crate::statuses::schema::OrderStatus)]
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    id: i64,
    user: i64,
    #[schema(value_type = crate::statuses::schema::OrderStatus)]
    status: &'static str,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    total_price: String,
    currency: String,
    items: Vec<OrderItem>,
    vendor_orders: Vec<SubOrder>,
    /// The latest payment's status, null before any payment.
    #[schema(value_type = Option<crate::statuses::schema::PaymentStatus>)]
    payment_status: Option<&'static str>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Option<String>,
    /// When an unpaid order is cancelled and its stock released.
    #[schema(value_type = String, format = DateTime)]
    expires_at: Option<String>,
}

/// The admin's filters of `/orders/` (a customer sees only their own).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct OrderFilter {
    /// Orders in this status; any case, empty for all.
    #[param(required = false, schema_with = order_status_filter)]
    status: String,
    /// Orders of this user (admins; ignored for customers).
    #[param(required = false, schema_with = crate::openapi::schemas::id_filter)]
    user: i64,
}

/// The admin's filters of `/orders/`, read as django-filter reads them:
/// empty is no filter, and every bad one is named at once.
pub(crate) struct OrderFilters {
    pub status: Option<OrderStatus>,
    pub user_id: Option<i64>,
}

impl OrderFilters {
    pub(crate) fn read(status: Option<&str>, user: Option<&str>) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let status = statuses::filter(&mut errors, "status", status);
        let user_id = user.map(str::trim).filter(|raw| !raw.is_empty()).and_then(|raw| {
            let parsed = raw.parse::<i64>().ok();
            if parsed.is_none() {
                errors.add("user", "Enter a whole number.");
            }
            parsed
        });
        errors.into_result()?;
        Ok(Self { status, user_id })
    }
}

fn order_status_filter() -> utoipa::openapi::schema::ObjectBuilder {
    statuses::choice::<OrderStatus>(true)
}

impl From<pb::OrderMessage> for Order {
    fn from(o: pb::OrderMessage) -> Self {
        Self {
            id: o.id,
            user: o.user,
            status: o.status().name(),
            payment_status: o.payment_status.map(|_| o.payment_status().name()),
            total_price: o.total_price,
            currency: o.currency,
            items: o.items.into_iter().map(OrderItem::from).collect(),
            vendor_orders: o
                .vendor_orders
                .into_iter()
                .map(|v| SubOrder {
                    status: v.status().name(),
                    id: v.id,
                    vendor: v.vendor,
                    vendor_name: v.vendor_name,
                    subtotal: v.subtotal,
                })
                .collect(),
            created_at: rfc3339(o.created_at.as_ref()),
            updated_at: rfc3339(o.updated_at.as_ref()),
            expires_at: rfc3339(o.expires_at.as_ref()),
        }
    }
}

/// A vendor's part of an order: only its own lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct VendorOrder {
    id: i64,
    order: i64,
    #[schema(value_type = crate::statuses::schema::OrderStatus)]
    status: &'static str,
    items: Vec<OrderItem>,
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    subtotal: String,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// The checkout: the cart's lines become one order (all or nothing), and
/// exactly those lines leave the cart — units added meanwhile survive.
async fn checkout(state: &AppState, token: &str, key: Option<String>) -> HttpResult<(StatusCode, Value)> {
    let d = &state.downstream;
    let mut cart = d.cart.clone();
    let contents = d.call(cart.get_cart(d.request(cart_pb::GetCartRequest {}, Some(token)))).await?;
    let lines = contents.lines.iter().map(|l| pb::OrderLine { product: l.product, quantity: l.quantity }).collect();
    let mut orders = d.order.clone();
    // Every PlaceOrder carries a key (the client's, else one for this
    // request only), and the order service answers a repeated (user, key)
    // with the first order: so this write may be retried on another
    // replica after a transport failure without ever making two orders.
    let key = key.unwrap_or_else(|| format!("gateway-{}", uuid::Uuid::new_v4()));
    let mut place = d.request(pb::PlaceOrderRequest { lines, idempotency_key: Some(key) }, Some(token));
    place.extensions_mut().insert(RetrySafe);
    let placed = d.call(orders.place_order(place)).await;
    let order = match placed {
        Ok(order) => order,
        Err(error) => {
            if error.code.as_deref() == Some("product_unavailable")
                && let Some((_, Value::Array(ids))) = error.extra.iter().find(|(k, _)| k == "products")
            {
                // Lines that can never be bought leave the cart.
                let lines =
                    ids.iter().filter_map(Value::as_i64).map(|product| cart_pb::StoredLine { product, quantity: 0 });
                let prune = cart_pb::RemoveItemsRequest { lines: lines.collect(), order_id: None };
                if let Err(e) = d.call(cart.remove_items(d.request(prune, Some(token)))).await {
                    tracing::warn!(error = %e, "could not prune unavailable products from a cart");
                }
            }
            return Err(error.into());
        }
    };
    let ordered =
        order.items.iter().map(|i| cart_pb::StoredLine { product: i.product, quantity: i.quantity }).collect();
    let remove = cart_pb::RemoveItemsRequest { lines: ordered, order_id: Some(order.id) };
    if let Err(error) = d.call(cart.remove_items(d.request(remove, Some(token)))).await {
        // The order stands; cart's OrderPlaced consumer takes the lines out.
        tracing::warn!(order = order.id, %error, "ordered lines stay in the cart until the event backstop");
    }
    Ok((StatusCode::CREATED, to_json(&Order::from(order))?))
}

/// Place an order from the whole cart.
#[utoipa::path(post, path = "/orders/create/", tag = "orders", security(("bearer" = [])), params(KeyHeader),
    responses((status = 201, description = "Created; the ordered lines left the cart", body = Order,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer replayed"))),
        (status = 400, description = "`cart_empty`, `product_unavailable` (with `products`), `order_total_too_large`, or `idempotency_key_invalid`"),
        (status = 403, description = "Not a customer"),
        (status = 409, description = "`insufficient_stock` (with `products`), `too_many_pending_orders`, or `idempotency_key_in_flight`"),
        (status = 422, description = "`idempotency_key_reused`: the key was used with another request")))]
async fn create_order(
    State(state): State<AppState>,
    CustomerUser(user): CustomerUser,
    headers: HeaderMap,
    body: JsonBody,
) -> HttpResult<Response> {
    let key = idempotency::key_of(&headers)?;
    let body = Value::Object(body.0);
    let run = || checkout(&state, &user.token, key.clone());
    Ok(idempotency::once(&state, user.user_id, key.clone(), "POST", "/orders/create/", &body, run).await)
}

/// Own orders (customer) or all orders (admin, `?status=`, `?user=`), newest first.
#[utoipa::path(get, path = "/orders/", tag = "orders", security(("bearer" = [])), params(LimitOffsetQuery, OrderFilter),
    responses((status = 200, description = "OK", body = Page<Order>), (status = 400, description = "A bad parameter, named"),
        (status = 403, description = "A vendor")))]
async fn list_orders(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> HttpResult<Json<Page<Order>>> {
    let page = LimitOffset::from_uri(&uri)?;
    let filters = OrderFilters::read(params.get("status").map(String::as_str), params.get("user").map(String::as_str))?;
    let message = pb::ListOrdersRequest {
        limit: page.limit,
        offset: page.offset,
        status: filters.status.map(Into::into),
        user_id: filters.user_id,
    };
    let d = &state.downstream;
    let mut client = d.order.clone();
    let answer = d.call(client.list_orders(d.request(message, Some(&user.token)))).await?;
    Ok(Json(page.page(answer.count, answer.orders.into_iter().map(Order::from).collect(), &uri, &origin)))
}

/// One order (its owner or an admin).
#[utoipa::path(get, path = "/orders/{id}/", tag = "orders", security(("bearer" = [])), params(IdPath),
    responses((status = 200, description = "OK", body = Order), (status = 403, description = "A vendor"),
        (status = 404, description = "Not found, or not yours")))]
async fn get_order(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> HttpResult<Json<Order>> {
    let message = pb::GetOrderRequest { id: path_id(&id)? };
    let d = &state.downstream;
    let mut client = d.order.clone();
    Ok(Json(d.call(client.get_order(d.request(message, Some(&user.token)))).await?.into()))
}

/// Cancel a pending or paid order and restore its stock (admin).
#[utoipa::path(post, path = "/orders/{id}/refund/", tag = "orders", security(("bearer" = [])), params(IdPath, KeyHeader),
    responses((status = 200, description = "The cancelled order; its stock is restored", body = Order,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the stored answer replayed"))),
        (status = 400, description = "`idempotency_key_invalid`"), (status = 403, description = "Not an admin"),
        (status = 404, description = "Not found"),
        (status = 409, description = "`order_not_refundable` (already cancelled), or `idempotency_key_in_flight`"),
        (status = 422, description = "`idempotency_key_reused`: the key was used with another request")))]
async fn refund_order(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> HttpResult<Response> {
    let key = idempotency::key_of(&headers)?;
    let body = Value::Object(body.0);
    let path = format!("/orders/{id}/refund/");
    let run = || async {
        let message = pb::RefundOrderRequest { id: path_id(&id)? };
        let d = &state.downstream;
        let mut client = d.order.clone();
        let order = d.call(client.refund_order(d.request(message, Some(&admin.token)))).await?;
        Ok((StatusCode::OK, to_json(&Order::from(order))?))
    };
    Ok(idempotency::once(&state, admin.user_id, key.clone(), "POST", &path, &body, run).await)
}

/// The calling vendor's sub-orders with only its own lines (approved vendors).
#[utoipa::path(get, path = "/vendors/me/orders/", tag = "vendors", security(("bearer" = [])), params(LimitOffsetQuery),
    responses((status = 200, description = "OK", body = Page<VendorOrder>), (status = 400, description = "A bad `limit` or `offset`"),
        (status = 403, description = "Not a vendor, or not approved (`vendor_not_approved`)")))]
async fn vendor_orders(
    State(state): State<AppState>,
    VendorUser(vendor): VendorUser,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> HttpResult<Json<Page<VendorOrder>>> {
    let page = LimitOffset::from_uri(&uri)?;
    let message = pb::ListVendorOrdersRequest { limit: page.limit, offset: page.offset };
    let d = &state.downstream;
    let mut client = d.order.clone();
    let answer = d.call(client.list_vendor_orders(d.request(message, Some(&vendor.token)))).await?;
    let results = answer
        .vendor_orders
        .into_iter()
        .map(|v| VendorOrder {
            id: v.id,
            order: v.order,
            status: v.status().name(),
            items: v.items.into_iter().map(OrderItem::from).collect(),
            subtotal: v.subtotal,
            created_at: rfc3339(v.created_at.as_ref()),
        })
        .collect();
    Ok(Json(page.page(answer.count, results, &uri, &origin)))
}
