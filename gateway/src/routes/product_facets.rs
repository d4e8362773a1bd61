//! `GET /products/facets/`: how the public listing a set of filters selects
//! breaks down — its size, per category (each counting its subtree), per
//! vendor, and its price range. Counted by catalog's index; the rendered
//! body is cached in-process like a listing page.
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use common::ApiError;
use proto::catalog::v1 as pb;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::products::json_bytes;
use crate::AppState;
use crate::error::HttpResult;
use crate::openapi::schemas;
use crate::origin::Origin;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(product_facets))
}

/// The filters of `/products/`.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct FacetQuery {
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

#[derive(Debug, Serialize, ToSchema)]
struct CategoryCount {
    id: i64,
    name: String,
    slug: String,
    /// Products in this category and every category below it.
    count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
struct VendorCount {
    id: i64,
    name: String,
    count: i64,
}

/// Lowest and highest price among the products counted.
#[derive(Debug, Serialize, ToSchema)]
struct PriceRange {
    /// Decimal string with two places; null when nothing matches.
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    min: Option<String>,
    /// Decimal string with two places; null when nothing matches.
    #[schema(pattern = "^[0-9]+\\.[0-9]{2}$")]
    max: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Facets {
    /// The products `/products/` pages through for the same filters.
    count: i64,
    /// Categories with a count above 0, by name.
    categories: Vec<CategoryCount>,
    /// Vendors with a count above 0, by count (highest first), then id.
    vendors: Vec<VendorCount>,
    price: PriceRange,
}

fn render(facets: pb::Facets) -> Facets {
    Facets {
        count: facets.count,
        categories: facets
            .categories
            .into_iter()
            .map(|c| CategoryCount { id: c.id, name: c.name, slug: c.slug, count: c.count })
            .collect(),
        vendors: facets.vendors.into_iter().map(|v| VendorCount { id: v.id, name: v.name, count: v.count }).collect(),
        price: PriceRange { min: facets.min_price, max: facets.max_price },
    }
}

/// Facet counts of the public listing (active products of approved vendors).
#[utoipa::path(get, path = "/products/facets/", tag = "products", params(FacetQuery),
    responses((status = 200, description = "OK", body = Facets), (status = 400, description = "A bad parameter, named")))]
async fn product_facets(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Response> {
    let get = |name: &str| params.get(name).cloned();
    let request = pb::ListProductsRequest {
        search: get("search"),
        category: get("category"),
        category_slug: get("category_slug"),
        vendor: get("vendor"),
        min_price: get("min_price"),
        max_price: get("max_price"),
        ..Default::default()
    };
    let version = state.cache.version(&state.catalog_version_key).await;
    let key = format!("{}{uri}", origin.as_str());
    if let Some(version) = version
        && let Some(hit) = state.list_cache.get(version, &key)
    {
        return Ok(json_bytes(hit));
    }
    let mut client = state.downstream.catalog.clone();
    let facets = state.downstream.call(client.get_facets(state.downstream.request(request, None))).await?;
    let body = Bytes::from(serde_json::to_vec(&render(facets)).map_err(ApiError::internal)?);
    if let Some(version) = version {
        state.list_cache.put(version, key, body.clone());
    }
    Ok(json_bytes(body))
}
