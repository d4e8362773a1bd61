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
    parent: Option<i64>,
    children: Vec<i64>,
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
    /// At most 100 characters, unique case-insensitively.
    name: String,
    /// A category id, or null for a root.
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
    responses((status = 201, description = "Created", body = Category), (status = 400, description = "Validation error"),
        (status = 401, description = "Not authenticated"), (status = 403, description = "Not an admin")))]
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
#[utoipa::path(get, path = "/products/categories/{id}/", tag = "categories", params(("id" = i64, Path)),
    responses((status = 200, description = "OK", body = Category), (status = 404, description = "Not found")))]
async fn get_category(State(state): State<AppState>, Path(id): Path<String>) -> HttpResult<Json<Category>> {
    let message = pb::GetCategoryRequest { id: path_id(&id)? };
    let mut client = state.downstream.catalog.clone();
    let category = state.downstream.call(client.get_category(state.downstream.request(message, None))).await?;
    Ok(Json(category.into()))
}

/// Rename or move a category (admin); it can never move under itself.
#[utoipa::path(patch, path = "/products/categories/{id}/", tag = "categories", request_body = CategoryBody,
    security(("bearer" = [])), params(("id" = i64, Path)),
    responses((status = 200, description = "OK", body = Category), (status = 400, description = "Validation error"),
        (status = 401, description = "Not authenticated"), (status = 403, description = "Not an admin"),
        (status = 404, description = "Not found")))]
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
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Not authenticated"),
        (status = 403, description = "Not an admin"), (status = 404, description = "Not found")))]
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
