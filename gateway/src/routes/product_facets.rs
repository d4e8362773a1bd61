//! `GET /products/facets/`: how the public listing a set of filters selects
//! breaks down — its size, per category (each counting its subtree), per
//! vendor, and its price range. Counted by catalog's index; the rendered
//! body is cached in-process like a listing page.
use std::collections::HashMap;

use axum::extract::{OriginalUri, Query, State};
use axum::response::Response;
use common::ApiError;
use proto::catalog::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::products::{ListFilters, cached_json, filters_request};
use crate::AppState;
use crate::error::HttpResult;
use crate::origin::Origin;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(product_facets))
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
#[utoipa::path(get, path = "/products/facets/", tag = "products", params(ListFilters),
    responses((status = 200, description = "OK", body = Facets), (status = 400, description = "A bad parameter, named")))]
async fn product_facets(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
    Query(params): Query<HashMap<String, String>>,
) -> HttpResult<Response> {
    let request = filters_request(&params);
    let (state, uri, origin) = (&state, &uri, &origin);
    cached_json(state, uri, origin, move |version| async move {
        let request = pb::ListProductsRequest { catalog_version: version, ..request };
        let mut client = state.downstream.catalog.clone();
        let facets = state.downstream.call(client.get_facets(state.downstream.request(request, None))).await?;
        Ok(serde_json::to_vec(&render(facets)).map_err(ApiError::internal)?)
    })
    .await
}
