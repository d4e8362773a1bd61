//! `/products/categories/*`: the category tree (read by anyone, changed by
//! admins).
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use proto::catalog::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::AdminUser;
use crate::body::{Form, JsonBody};
use crate::error::HttpResult;
use crate::openapi::schemas::IdPath;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_categories, create_category)).routes(routes!(
        get_category,
        update_category,
        delete_category
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Category {
    id: i64,
    name: String,
    slug: String,
    /// The parent's id; null for a root.
    parent: Option<i64>,
    /// The direct children's ids.
    children: Vec<i64>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
}

impl From<pb::Category> for Category {
    fn from(c: pb::Category) -> Self {
        Self {
            id: c.id,
            name: c.name,
            slug: c.slug,
            parent: c.parent,
            children: c.children,
            created_at: rfc3339(c.created_at.as_ref()),
        }
    }
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct CategoryBody {
    /// 1..100 characters after trimming, unique case-insensitively.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// The parent category, or null (or left out) for a root.
    #[schema(required = false, schema_with = crate::openapi::schemas::category)]
    parent: Option<i64>,
}

/// Either field may be left out.
#[allow(dead_code)]
#[derive(ToSchema)]
struct CategoryChange {
    /// 1..100 characters after trimming, unique case-insensitively.
    #[schema(required = false, min_length = 1, max_length = 100)]
    name: String,
    /// The new parent (never the category itself or one of its
    /// descendants), or null to make it a root.
    #[schema(required = false, schema_with = crate::openapi::schemas::category)]
    parent: Option<i64>,
}

/// Every category, as a flat list ordered by name.
#[utoipa::path(get, path = "/products/categories/", tag = "categories",
    responses((status = 200, description = "OK", body = Vec<Category>)))]
async fn list_categories(State(state): State<AppState>) -> HttpResult<Json<Vec<Category>>> {
    let mut client = state.downstream.catalog.clone();
    let list = state
        .downstream
        .call(client.list_categories(state.downstream.request(pb::ListCategoriesRequest {}, None)))
        .await?;
    Ok(Json(list.categories.into_iter().map(Category::from).collect()))
}

/// Create a category (admin).
#[utoipa::path(post, path = "/products/categories/", tag = "categories", request_body = CategoryBody, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Category),
        (status = 400, description = "Invalid fields, the name is taken, or the parent does not exist"),
        (status = 403, description = "Not an admin")))]
async fn create_category(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<Category>)> {
    let mut form = Form::new(body);
    let name = form.string("name");
    let parent = form.id_or_null("parent");
    form.finish()?;
    let message = pb::CreateCategoryRequest { name, parent: parent.and_then(|p| p.parse().ok()) };
    let mut client = state.downstream.catalog.clone();
    let category =
        state.downstream.call(client.create_category(state.downstream.request(message, Some(&admin.token)))).await?;
    Ok((StatusCode::CREATED, Json(category.into())))
}

/// One category.
#[utoipa::path(get, path = "/products/categories/{id}/", tag = "categories", params(IdPath),
    responses((status = 200, description = "OK", body = Category), (status = 404, description = "Not found")))]
async fn get_category(State(state): State<AppState>, Path(id): Path<String>) -> HttpResult<Json<Category>> {
    let message = pb::GetCategoryRequest { id: path_id(&id)? };
    let mut client = state.downstream.catalog.clone();
    let category = state.downstream.call(client.get_category(state.downstream.request(message, None))).await?;
    Ok(Json(category.into()))
}

/// Rename or move a category (admin); it can never move under itself.
#[utoipa::path(patch, path = "/products/categories/{id}/", tag = "categories", request_body = Option<CategoryChange>,
    security(("bearer" = [])), params(IdPath),
    responses((status = 200, description = "OK", body = Category),
        (status = 400, description = "Invalid fields, the name is taken, or the parent is missing or would make a cycle"),
        (status = 403, description = "Not an admin"), (status = 404, description = "Not found")))]
async fn update_category(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    body: JsonBody,
) -> HttpResult<Json<Category>> {
    let id = path_id(&id)?;
    let mut form = Form::new(body);
    let name = form.string("name");
    let parent = form.id_or_null("parent");
    form.finish()?;
    let message = pb::UpdateCategoryRequest {
        id,
        name,
        clear_parent: parent.as_deref() == Some("null"),
        parent: parent.and_then(|p| p.parse().ok()),
    };
    let mut client = state.downstream.catalog.clone();
    let category =
        state.downstream.call(client.update_category(state.downstream.request(message, Some(&admin.token)))).await?;
    Ok(Json(category.into()))
}

/// Delete a category (admin): children move up, products lose the category.
#[utoipa::path(delete, path = "/products/categories/{id}/", tag = "categories", security(("bearer" = [])),
    params(IdPath),
    responses((status = 204, description = "Deleted"), (status = 403, description = "Not an admin"),
        (status = 404, description = "Not found")))]
async fn delete_category(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> HttpResult<StatusCode> {
    let message = pb::DeleteCategoryRequest { id: path_id(&id)? };
    let mut client = state.downstream.catalog.clone();
    state.downstream.call(client.delete_category(state.downstream.request(message, Some(&admin.token)))).await?;
    Ok(StatusCode::NO_CONTENT)
}
