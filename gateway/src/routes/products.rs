//! `/products/*`: vendor-owned products. Catalog owns everything but
//! stock, which the order service owns: writes go to catalog, then stock
//! to order; every response carries stock from ONE batched `GetStock`.
//! Public listings are served from the gateway's in-process cache.
use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::ApiError;
use proto::catalog::v1 as pb;
use proto::order::v1 as order_pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::{AuthUser, MaybeUser, VendorUser};
use crate::body::{Form, JsonBody};
use crate::error::HttpResult;
use crate::pagination::{self, origin, with_param};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(vendor_products))
        .routes(routes!(get_product, update_product, delete_product))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    id: i64,
    vendor: i64,
    vendor_name: String,
    category: Option<i64>,
    category_name: Option<String>,
    name: String,
    slug: String,
    description: String,
    sku: String,
    /// Decimal string with two places.
    price: String,
    stock: i64,
    is_active: bool,
    created_at: Option<String>,
    updated_at: Option<String>,
}

fn render(p: pb::Product, stock: i64) -> Product {
    Product {
        id: p.id,
        vendor: p.vendor,
        vendor_name: p.vendor_name,
        category: p.category,
        category_name: p.category_name,
        name: p.name,
        slug: p.slug,
        description: p.description,
        sku: p.sku,
        price: p.price,
        stock,
        is_active: p.is_active,
        created_at: rfc3339(p.created_at.as_ref()),
        updated_at: rfc3339(p.updated_at.as_ref()),
    }
}

/// A cursor page of products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    next: Option<String>,
    previous: Option<String>,
    results: Vec<Product>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct ProductBody {
    /// 1..200 characters.
    name: String,
    /// Decimal ≥ 0.00, ≤ 99999999.99, at most 2 places.
    price: String,
    /// 0..1000000 units.
    stock: i64,
    category: Option<i64>,
    description: Option<String>,
    /// Unique per vendor (case-insensitive) when not empty.
    sku: Option<String>,
    is_active: Option<bool>,
}

/// Stock per product, in one call.
async fn stock_of(state: &AppState, ids: Vec<i64>) -> Result<HashMap<i64, i64>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut client = state.downstream.order.clone();
    let levels = state
        .downstream
        .call(client.get_stock(state.downstream.request(order_pb::GetStockRequest { product_ids: ids }, None)))
        .await?;
    Ok(levels.levels.into_iter().map(|l| (l.product_id, l.available)).collect())
}

async fn with_stock(state: &AppState, product: pb::Product) -> Result<Product, ApiError> {
    let stock = stock_of(state, vec![product.id]).await?;
    let units = stock.get(&product.id).copied().unwrap_or(0);
    Ok(render(product, units))
}

/// Renders a catalog page with stock and the neighbouring pages' URLs.
async fn render_page(
    state: &AppState,
    page: pb::ProductPage,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<ProductPage, ApiError> {
    let stock = stock_of(state, page.products.iter().map(|p| p.id).collect()).await?;
    let link = |cursor: &str| (!cursor.is_empty()).then(|| with_param(uri, headers, "cursor", Some(cursor)));
    Ok(ProductPage {
        next: link(&page.next_cursor),
        previous: link(&page.previous_cursor),
        results: page
            .products
            .into_iter()
            .map(|p| {
                let units = stock.get(&p.id).copied().unwrap_or(0);
                render(p, units)
            })
            .collect(),
    })
}

fn list_request(params: &HashMap<String, String>, mine: bool) -> HttpResult<pb::ListProductsRequest> {
    let get = |name: &str| params.get(name).cloned();
    let page_size = pagination::page_size(params.get("page_size").map(String::as_str))?;
    Ok(pb::ListProductsRequest {
        search: get("search"),
        category: get("category"),
        category_slug: get("category_slug"),
        vendor: get("vendor"),
        min_price: get("min_price"),
        max_price: get("max_price"),
        ordering: get("ordering"),
        cursor: get("cursor"),
        page_size: page_size.map(|size| size.to_string()),
        mine,
    })
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Active products of approved vendors, in cursor pages.
#[utoipa::path(get, path = "/products/", tag = "products",
    params(
        ("search" = Option<String>, Query, description = "words matched in name, description, sku"),
        ("category" = Option<i64>, Query, description = "category id, descendants included"),
        ("category_slug" = Option<String>, Query),
        ("vendor" = Option<i64>, Query),
        ("min_price" = Option<String>, Query),
        ("max_price" = Option<String>, Query),
        ("ordering" = Option<String>, Query, description = "price, -price, created_at, -created_at (default), name, -name"),
        ("cursor" = Option<String>, Query),
        ("page_size" = Option<i64>, Query, description = "default 10, max 50"),
    ),
    responses((status = 200, description = "OK", body = ProductPage), (status = 400, description = "A bad parameter"),
        (status = 404, description = "Invalid cursor")))]
async fn list_products(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Response> {
    let request = list_request(&params, false)?;
    let version = state.cache.version(&state.catalog_version_key).await;
    let key = format!("{}{uri}", origin(&headers));
    if let Some(version) = version
        && let Some(hit) = state.list_cache.get(version, &key)
    {
        metrics::counter!("list_cache_hits_total").increment(1);
        return Ok(json_bytes(hit));
    }
    metrics::counter!("list_cache_misses_total").increment(1);
    let mut client = state.downstream.catalog.clone();
    let page = state.downstream.call(client.list_products(state.downstream.request(request, None))).await?;
    let rendered = render_page(&state, page, &uri, &headers).await?;
    let body = Bytes::from(serde_json::to_vec(&rendered).map_err(ApiError::internal)?);
    if let Some(version) = version {
        state.list_cache.put(version, key, body.clone());
    }
    Ok(json_bytes(body))
}

/// The calling vendor's own products, inactive included.
#[utoipa::path(get, path = "/products/vendor/", tag = "products", security(("bearer" = [])),
    params(("ordering" = Option<String>, Query), ("cursor" = Option<String>, Query), ("page_size" = Option<i64>, Query)),
    responses((status = 200, description = "OK", body = ProductPage), (status = 401, description = "Not authenticated"),
        (status = 403, description = "Not a vendor")))]
async fn vendor_products(
    State(state): State<AppState>,
    VendorUser(vendor): VendorUser,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Json<ProductPage>> {
    let mut client = state.downstream.catalog.clone();
    let page = state
        .downstream
        .call(client.list_products(state.downstream.request(list_request(&params, true)?, Some(&vendor.token))))
        .await?;
    Ok(Json(render_page(&state, page, &uri, &headers).await?))
}

/// The fields of a create or update body.
fn product_fields(body: JsonBody) -> HttpResult<pb::ProductFields> {
    let mut form = Form::new(body);
    let fields = pb::ProductFields {
        name: form.string("name"),
        price: form.number_text("price"),
        stock: form.number_text("stock"),
        category: form.id_or_null("category"),
        description: form.nullable_string("description"),
        sku: form.nullable_string("sku"),
        is_active: form.boolean("is_active"),
    };
    form.finish()?;
    Ok(fields)
}

/// The whole units of a stock value catalog already validated.
fn units(stock: &str) -> i64 {
    stock.trim().split('.').next().and_then(|whole| whole.parse().ok()).unwrap_or(0)
}

async fn set_stock(state: &AppState, token: &str, product_id: i64, available: i64) -> Result<(), ApiError> {
    let mut client = state.downstream.order.clone();
    let message = order_pb::SetStockRequest { product_id, available };
    state.downstream.call(client.set_stock(state.downstream.request(message, Some(token)))).await?;
    Ok(())
}

/// Create a product (approved vendor); `stock` is stored by the order service.
#[utoipa::path(post, path = "/products/", tag = "products", request_body = ProductBody, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Product), (status = 400, description = "Validation error"),
        (status = 401, description = "Not authenticated"), (status = 403, description = "Not an approved vendor")))]
async fn create_product(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<Product>)> {
    let fields = product_fields(body)?;
    let stock = fields.stock.as_deref().map(units).unwrap_or(0);
    let mut client = state.downstream.catalog.clone();
    let product = state
        .downstream
        .call(client.create_product(
            state.downstream.request(pb::CreateProductRequest { fields: Some(fields) }, Some(&user.token)),
        ))
        .await?;
    if let Err(error) = set_stock(&state, &user.token, product.id, stock).await {
        // No product without its stock: undo the create, then report.
        let undo = pb::DeleteProductRequest { id: product.id };
        if let Err(undo_error) =
            state.downstream.call(client.delete_product(state.downstream.request(undo, Some(&user.token)))).await
        {
            tracing::error!(product = product.id, %undo_error, "could not undo a product whose stock failed");
        }
        return Err(error.into());
    }
    Ok((StatusCode::CREATED, Json(render(product, stock))))
}

/// One product (an inactive one only for its owner or an admin).
#[utoipa::path(get, path = "/products/{id}/", tag = "products", params(("id" = i64, Path)),
    responses((status = 200, description = "OK", body = Product), (status = 404, description = "Not found")))]
async fn get_product(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(id): Path<String>,
) -> HttpResult<Json<Product>> {
    let message = pb::GetProductRequest { id: path_id(&id)? };
    let mut client = state.downstream.catalog.clone();
    let token = user.as_ref().map(|u| u.token.as_str());
    let product = state.downstream.call(client.get_product(state.downstream.request(message, token))).await?;
    Ok(Json(with_stock(&state, product).await?))
}

/// Change a product (owning vendor or admin); any create field may be sent.
#[utoipa::path(patch, path = "/products/{id}/", tag = "products", request_body = ProductBody, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "OK", body = Product), (status = 400, description = "Validation error"),
        (status = 401, description = "Not authenticated"), (status = 403, description = "Wrong role or not approved"),
        (status = 404, description = "Not found, or not yours")))]
async fn update_product(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: JsonBody,
) -> HttpResult<Json<Product>> {
    let id = path_id(&id)?;
    let fields = product_fields(body)?;
    let stock = fields.stock.as_deref().map(units);
    let mut client = state.downstream.catalog.clone();
    let message = pb::UpdateProductRequest { id, fields: Some(fields) };
    let product =
        state.downstream.call(client.update_product(state.downstream.request(message, Some(&user.token)))).await?;
    if let Some(stock) = stock {
        set_stock(&state, &user.token, id, stock).await?;
    }
    Ok(Json(with_stock(&state, product).await?))
}

/// Delete a product (owning vendor or admin): it leaves every read.
#[utoipa::path(delete, path = "/products/{id}/", tag = "products", security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not authenticated"),
        (status = 403, description = "Wrong role or not approved"), (status = 404, description = "Not found, or not yours")))]
async fn delete_product(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> HttpResult<StatusCode> {
    let message = pb::DeleteProductRequest { id: path_id(&id)? };
    let mut client = state.downstream.catalog.clone();
    state.downstream.call(client.delete_product(state.downstream.request(message, Some(&user.token)))).await?;
    Ok(StatusCode::NO_CONTENT)
}
