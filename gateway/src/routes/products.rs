//! `/products/*`: vendor-owned products. Catalog owns everything but
//! stock, which the order service owns; a write with `stock` is still one
//! call to catalog, which has order store it (all or nothing). Every
//! response carries stock from ONE batched `GetStock`.
//! Public listings are served from the gateway's in-process cache.
use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::ApiError;
use proto::catalog::v1 as pb;
use proto::order::v1 as order_pb;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::{AuthUser, MaybeUser, VendorUser};
use crate::body::{Form, JsonBody};
use crate::error::HttpResult;
use crate::openapi::schemas::{self, IdPath};
use crate::origin::Origin;
use crate::pagination::{self, with_param};

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
    /// Null when `category` is null.
    category_name: Option<String>,
    name: String,
    slug: String,
    description: String,
    sku: String,
    /// Decimal string with two places.
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$", examples("19.99"))]
    price: String,
    stock: i64,
    is_active: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
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
    /// The next page's absolute URL.
    #[schema(format = "uri")]
    next: Option<String>,
    /// The previous page's absolute URL.
    #[schema(format = "uri")]
    previous: Option<String>,
    results: Vec<Product>,
}

/// The filters of a product listing (and of its facets).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListFilters {
    /// Words matched (as prefixes) in name, description and sku.
    #[param(required = false)]
    search: String,
    /// A category id; its descendants are included.
    #[param(required = false, schema_with = schemas::id_filter)]
    category: i64,
    /// A category slug; its descendants are included.
    #[param(required = false)]
    category_slug: String,
    /// A vendor id.
    #[param(required = false, schema_with = schemas::id_filter)]
    vendor: i64,
    /// Inclusive lower bound of the price.
    #[param(required = false, schema_with = schemas::amount_filter)]
    min_price: String,
    /// Inclusive upper bound of the price.
    #[param(required = false, schema_with = schemas::amount_filter)]
    max_price: String,
}

/// The order and cursor page of a product listing.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct ListPaging {
    /// Default `-created_at`; `relevance` (best match first) only with `search`.
    #[param(required = false, schema_with = ordering)]
    ordering: String,
    /// An opaque cursor from `next` or `previous`; one that does not decode,
    /// or belongs to another ordering, is a 404 `Invalid cursor`.
    #[param(required = false)]
    cursor: String,
    /// Products per page: default 10 (also when empty); a value above 50 is clamped to 50.
    #[param(required = false, schema_with = schemas::page_size)]
    page_size: i64,
}

fn ordering() -> utoipa::openapi::schema::ObjectBuilder {
    // Empty means the default, as leaving it out does.
    let orders = ["price", "-price", "created_at", "-created_at", "name", "-name", "relevance", ""];
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(orders))
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct ProductBody {
    /// 1..200 characters after trimming.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(schema_with = schemas::price)]
    price: String,
    #[schema(schema_with = schemas::stock)]
    stock: i64,
    #[schema(required = false, schema_with = schemas::category)]
    category: Option<i64>,
    /// At most 5000 characters; null means empty.
    #[schema(max_length = 5000)]
    description: Option<String>,
    /// At most 64 characters, unique per vendor (case-insensitively) when
    /// not empty; null means empty.
    #[schema(max_length = 64)]
    sku: Option<String>,
    /// Default true.
    #[schema(required = false, schema_with = schemas::flag)]
    is_active: bool,
}

/// Any of the create fields; those left out keep their value.
#[allow(dead_code)]
#[derive(ToSchema)]
struct ProductChange {
    /// 1..200 characters after trimming.
    #[schema(required = false, min_length = 1, max_length = 200)]
    name: String,
    #[schema(required = false, schema_with = schemas::price)]
    price: String,
    #[schema(required = false, schema_with = schemas::stock)]
    stock: i64,
    #[schema(required = false, schema_with = schemas::category)]
    category: Option<i64>,
    /// At most 5000 characters; null means empty.
    #[schema(max_length = 5000)]
    description: Option<String>,
    /// At most 64 characters, unique per vendor (case-insensitively) when
    /// not empty; null means empty.
    #[schema(max_length = 64)]
    sku: Option<String>,
    #[schema(required = false, schema_with = schemas::flag)]
    is_active: bool,
}

/// Stock per product, in one call.
pub(crate) async fn stock_of(state: &AppState, ids: Vec<i64>) -> Result<HashMap<i64, i64>, ApiError> {
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

/// Stock for a listing: what the stock cache holds for this catalog
/// version, the rest in one `GetStock` (and kept).
async fn listing_stock(state: &AppState, version: Option<u64>, ids: Vec<i64>) -> Result<HashMap<i64, i64>, ApiError> {
    let Some(version) = version else {
        return stock_of(state, ids).await;
    };
    let mut found = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match state.stock_cache.get(version, &id) {
            Some(units) => {
                found.insert(id, units);
            }
            None => missing.push(id),
        }
    }
    let fetched = stock_of(state, missing).await?;
    state.stock_cache.put_all(version, fetched.iter().map(|(id, units)| (*id, *units)));
    found.extend(fetched);
    Ok(found)
}

/// Renders a catalog page with stock and the neighbouring pages' URLs;
/// `version`: the catalog version the page was read at, when listed stock
/// may come from the cache.
async fn render_page(
    state: &AppState,
    page: pb::ProductPage,
    version: Option<u64>,
    uri: &Uri,
    origin: &Origin,
) -> Result<ProductPage, ApiError> {
    let stock = listing_stock(state, version, page.products.iter().map(|p| p.id).collect()).await?;
    let link = |cursor: &str| (!cursor.is_empty()).then(|| with_param(uri, origin, "cursor", Some(cursor)));
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

/// The filters of a listing request; nothing else of it.
pub(super) fn filters_request(params: &HashMap<String, String>) -> pb::ListProductsRequest {
    let get = |name: &str| params.get(name).cloned();
    pb::ListProductsRequest {
        search: get("search"),
        category: get("category"),
        category_slug: get("category_slug"),
        vendor: get("vendor"),
        min_price: get("min_price"),
        max_price: get("max_price"),
        ..Default::default()
    }
}

fn list_request(params: &HashMap<String, String>, mine: bool) -> HttpResult<pb::ListProductsRequest> {
    let page_size = pagination::page_size(params.get("page_size").map(String::as_str))?;
    Ok(pb::ListProductsRequest {
        ordering: params.get("ordering").cloned(),
        cursor: params.get("cursor").cloned(),
        page_size: page_size.map(|size| size.to_string()),
        mine,
        ..filters_request(params)
    })
}

/// A public read through the gateway's page cache: the body cached for this
/// origin and URI at the current catalog version, or `load`'s for that
/// version (when Redis answered), kept.
pub(super) async fn cached_json<F, Fut>(state: &AppState, uri: &Uri, origin: &Origin, load: F) -> HttpResult<Response>
where
    F: FnOnce(Option<u64>) -> Fut,
    Fut: Future<Output = HttpResult<Vec<u8>>>,
{
    let version = state.cache.version(&state.catalog_version_key).await;
    let key = format!("{}{uri}", origin.as_str());
    if let Some(version) = version
        && let Some(hit) = state.list_cache.get(version, &key)
    {
        metrics::counter!("list_cache_hits_total").increment(1);
        return Ok(json_bytes(hit));
    }
    metrics::counter!("list_cache_misses_total").increment(1);
    let body = Bytes::from(load(version).await?);
    if let Some(version) = version {
        state.list_cache.put(version, key, body.clone());
    }
    Ok(json_bytes(body))
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Active products of approved vendors, in cursor pages.
#[utoipa::path(get, path = "/products/", tag = "products", params(ListFilters, ListPaging),
    responses((status = 200, description = "OK", body = ProductPage), (status = 400, description = "A bad parameter, named"),
        (status = 404, description = "`Invalid cursor`")))]
async fn list_products(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Response> {
    let request = list_request(&params, false)?;
    let (state, uri, origin) = (&state, &uri, &origin);
    cached_json(state, uri, origin, move |version| async move {
        let request = pb::ListProductsRequest { catalog_version: version, ..request };
        let mut client = state.downstream.catalog.clone();
        let page = state.downstream.call(client.list_products(state.downstream.request(request, None))).await?;
        let rendered = render_page(state, page, version, uri, origin).await?;
        Ok(serde_json::to_vec(&rendered).map_err(ApiError::internal)?)
    })
    .await
}

/// The calling vendor's own products, inactive included.
#[utoipa::path(get, path = "/products/vendor/", tag = "products", security(("bearer" = [])), params(ListFilters, ListPaging),
    responses((status = 200, description = "OK (an empty page for a vendor without a profile)", body = ProductPage),
        (status = 400, description = "A bad parameter, named"), (status = 403, description = "Not a vendor"),
        (status = 404, description = "`Invalid cursor`")))]
async fn vendor_products(
    State(state): State<AppState>,
    VendorUser(vendor): VendorUser,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Json<ProductPage>> {
    let mut client = state.downstream.catalog.clone();
    let page = state
        .downstream
        .call(client.list_products(state.downstream.request(list_request(&params, true)?, Some(&vendor.token))))
        .await?;
    Ok(Json(render_page(&state, page, None, &uri, &origin).await?))
}

/// The fields of a create or update body.
pub(super) fn product_fields(body: JsonBody) -> HttpResult<pb::ProductFields> {
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

/// Create a product (approved vendor) with its stock, in one operation of catalog's.
#[utoipa::path(post, path = "/products/", tag = "products", request_body = ProductBody, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Product),
        (status = 400, description = "Invalid fields, the sku is taken, or the category does not exist"),
        (status = 403, description = "Not a vendor, or not approved (`vendor_not_approved`)")))]
async fn create_product(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<Product>)> {
    let product = create_with_stock(&state, &user.token, product_fields(body)?).await?;
    Ok((StatusCode::CREATED, Json(with_stock(&state, product).await?)))
}

/// Creates a product with its stock (the REST route's and the console's):
/// catalog owns the write, order stores the stock, and a failure leaves
/// neither.
pub(crate) async fn create_with_stock(
    state: &AppState,
    token: &str,
    fields: pb::ProductFields,
) -> Result<pb::Product, ApiError> {
    let mut client = state.downstream.catalog.clone();
    let message = pb::CreateProductRequest { fields: Some(fields) };
    state.downstream.call(client.create_product(state.downstream.request(message, Some(token)))).await
}

/// One product (an inactive one only for its owner or an admin).
#[utoipa::path(get, path = "/products/{id}/", tag = "products", params(IdPath), security((), ("bearer" = [])),
    responses((status = 200, description = "OK", body = Product),
        (status = 401, description = "A token was sent and is invalid, expired or tampered with (`token_not_valid`)"),
        (status = 404, description = "Not found, or inactive and not yours")))]
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
#[utoipa::path(patch, path = "/products/{id}/", tag = "products", request_body = Option<ProductChange>, security(("bearer" = [])),
    params(IdPath),
    responses((status = 200, description = "OK", body = Product),
        (status = 400, description = "Invalid fields, the sku is taken, or the category does not exist"),
        (status = 403, description = "A customer, or a vendor not approved (`vendor_not_approved`)"),
        (status = 404, description = "Not found, or another vendor's")))]
async fn update_product(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    body: JsonBody,
) -> HttpResult<Json<Product>> {
    let product = update_with_stock(&state, &user.token, path_id(&id)?, product_fields(body)?).await?;
    Ok(Json(with_stock(&state, product).await?))
}

/// Changes a product, with its stock when one was sent, in one operation
/// of catalog's: a failure changes nothing.
pub(crate) async fn update_with_stock(
    state: &AppState,
    token: &str,
    id: i64,
    fields: pb::ProductFields,
) -> Result<pb::Product, ApiError> {
    let mut client = state.downstream.catalog.clone();
    let message = pb::UpdateProductRequest { id, fields: Some(fields) };
    state.downstream.call(client.update_product(state.downstream.request(message, Some(token)))).await
}

/// Delete a product (owning vendor or admin): it leaves every read.
#[utoipa::path(delete, path = "/products/{id}/", tag = "products", security(("bearer" = [])), params(IdPath),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "A customer, or a vendor not approved (`vendor_not_approved`)"),
        (status = 404, description = "Not found, or another vendor's")))]
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
