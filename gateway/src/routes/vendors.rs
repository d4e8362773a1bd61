//! `/vendors/*`: vendor profiles, the public list of approved vendors,
//! and admin verification.
use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use common::status::{Named, VendorStatus};
use proto::catalog::v1 as catalog_pb;
use proto::identity::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{path_id, rfc3339};
use crate::AppState;
use crate::auth::{AdminUser, VendorUser};
use crate::body::{Form, JsonBody};
use crate::error::HttpResult;
use crate::openapi::schemas::IdPath;
use crate::origin::Origin;
use crate::pagination::{LimitOffset, LimitOffsetQuery, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_vendors))
        .routes(routes!(create_vendor))
        .routes(routes!(my_vendor, update_my_vendor))
        .routes(routes!(verify_vendor))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Vendor {
    id: i64,
    /// The owning user's id.
    user: i64,
    shop_name: String,
    slug: String,
    description: String,
    #[schema(value_type = crate::statuses::schema::VendorStatus)]
    status: &'static str,
    /// Whether the vendor is approved (sells).
    is_verified: bool,
    /// When it was last approved; null unless approved.
    #[schema(format = DateTime)]
    verified_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Option<String>,
}

impl From<pb::Vendor> for Vendor {
    fn from(v: pb::Vendor) -> Self {
        Self {
            id: v.id,
            user: v.user,
            is_verified: common::buyable::sells(v.status()),
            status: v.status().name(),
            shop_name: v.shop_name,
            slug: v.slug,
            description: v.description,
            verified_at: rfc3339(v.verified_at.as_ref()),
            created_at: rfc3339(v.created_at.as_ref()),
            updated_at: rfc3339(v.updated_at.as_ref()),
        }
    }
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct VendorBody {
    /// 2..100 characters after trimming, unique case-insensitively.
    #[schema(min_length = 2, max_length = 100)]
    shop_name: String,
    /// At most 1000 characters; null means empty.
    #[schema(max_length = 1000)]
    description: Option<String>,
}

/// Either field may be left out (re-sending your own `shop_name` is fine).
#[allow(dead_code)]
#[derive(ToSchema)]
struct VendorChange {
    /// 2..100 characters after trimming, unique case-insensitively.
    #[schema(required = false, min_length = 2, max_length = 100)]
    shop_name: String,
    /// At most 1000 characters; null means empty.
    #[schema(max_length = 1000)]
    description: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct VerifyBody {
    /// `approved` (the default, also when left out or empty), `suspended` or `pending`; any case.
    #[schema(required = false, schema_with = verify_status)]
    status: String,
}

fn verify_status() -> utoipa::openapi::schema::ObjectBuilder {
    crate::statuses::choice::<VendorStatus>(true)
}

/// Tells catalog a vendor changed, so its products' public visibility and
/// `vendor_name` follow at once. Catalog also reconciles periodically, so a
/// failure here is logged, not fatal.
async fn refresh_catalog(state: &AppState, vendor_id: i64) {
    let mut client = state.downstream.catalog.clone();
    let message = catalog_pb::RefreshVendorRequest { vendor_id };
    if let Err(error) = state.downstream.call(client.refresh_vendor(state.downstream.request(message, None))).await {
        tracing::warn!(vendor_id, %error, "catalog did not take the vendor change yet; its reconciliation will");
    }
}

/// Approved vendors, by id.
#[utoipa::path(get, path = "/vendors/", tag = "vendors", params(LimitOffsetQuery),
    responses((status = 200, description = "OK", body = Page<Vendor>), (status = 400, description = "A bad `limit` or `offset`")))]
async fn list_vendors(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    origin: Origin,
) -> HttpResult<Json<Page<Vendor>>> {
    let page = LimitOffset::from_uri(&uri)?;
    let mut client = state.downstream.identity.clone();
    let message = pb::ListVendorsRequest { limit: page.limit, offset: page.offset };
    let answer = state.downstream.call(client.list_vendors(state.downstream.request(message, None))).await?;
    let vendors = answer.vendors.into_iter().map(Vendor::from).collect();
    Ok(Json(page.page(answer.count, vendors, &uri, &origin)))
}

/// Create the caller's vendor profile (it starts `pending`).
#[utoipa::path(post, path = "/vendors/create/", tag = "vendors", request_body = VendorBody, security(("bearer" = [])),
    responses((status = 201, description = "Created, `pending`", body = Vendor),
        (status = 400, description = "Invalid fields, the shop name is taken, or a profile already exists (`vendor_exists`)"),
        (status = 403, description = "Not a vendor")))]
async fn create_vendor(
    State(state): State<AppState>,
    VendorUser(user): VendorUser,
    body: JsonBody,
) -> HttpResult<(StatusCode, Json<Vendor>)> {
    let mut form = Form::new(body);
    let message = pb::CreateVendorRequest {
        shop_name: form.string("shop_name"),
        description: form.nullable_string("description"),
    };
    form.finish()?;
    let mut client = state.downstream.identity.clone();
    let vendor =
        state.downstream.call(client.create_vendor(state.downstream.request(message, Some(&user.token)))).await?;
    Ok((StatusCode::CREATED, Json(vendor.into())))
}

/// The caller's vendor profile.
#[utoipa::path(get, path = "/vendors/me/", tag = "vendors", security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Vendor), (status = 403, description = "Not a vendor"),
        (status = 404, description = "No profile yet")))]
async fn my_vendor(State(state): State<AppState>, VendorUser(user): VendorUser) -> HttpResult<Json<Vendor>> {
    let mut client = state.downstream.identity.clone();
    let vendor = state
        .downstream
        .call(client.get_my_vendor(state.downstream.request(pb::GetMyVendorRequest {}, Some(&user.token))))
        .await?;
    Ok(Json(vendor.into()))
}

/// Change the caller's shop name or description.
#[utoipa::path(patch, path = "/vendors/me/", tag = "vendors", request_body = Option<VendorChange>, security(("bearer" = [])),
    responses((status = 200, description = "OK", body = Vendor), (status = 400, description = "Invalid fields, or the shop name is taken"),
        (status = 403, description = "Not a vendor"), (status = 404, description = "No profile yet")))]
async fn update_my_vendor(
    State(state): State<AppState>,
    VendorUser(user): VendorUser,
    body: JsonBody,
) -> HttpResult<Json<Vendor>> {
    let mut form = Form::new(body);
    let message = pb::UpdateMyVendorRequest {
        shop_name: form.string("shop_name"),
        description: form.nullable_string("description"),
    };
    form.finish()?;
    Ok(Json(update_my_shop(&state, &user.token, message).await?.into()))
}

/// A vendor changes its own profile; catalog shows the new name at once.
pub(crate) async fn update_my_shop(
    state: &AppState,
    token: &str,
    message: pb::UpdateMyVendorRequest,
) -> Result<pb::Vendor, common::ApiError> {
    let mut client = state.downstream.identity.clone();
    let vendor = state.downstream.call(client.update_my_vendor(state.downstream.request(message, Some(token)))).await?;
    refresh_catalog(state, vendor.id).await;
    Ok(vendor)
}

/// Set a vendor's status (admin).
#[utoipa::path(patch, path = "/vendors/{id}/verify/", tag = "vendors", request_body = Option<VerifyBody>, security(("bearer" = [])),
    params(IdPath),
    responses((status = 200, description = "OK", body = Vendor), (status = 400, description = "Not a valid status"),
        (status = 403, description = "Not an admin"), (status = 404, description = "No such vendor")))]
async fn verify_vendor(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    body: JsonBody,
) -> HttpResult<Json<Vendor>> {
    let vendor_id = path_id(&id)?;
    let mut form = Form::new(body);
    let all = [VendorStatus::Pending, VendorStatus::Approved, VendorStatus::Suspended];
    let status = form.status("status", &all, Some(VendorStatus::Approved));
    form.finish()?;
    let message = pb::VerifyVendorRequest { vendor_id, status: status.unwrap_or_default().into() };
    Ok(Json(set_vendor_status(&state, &admin.token, message).await?.into()))
}

/// An admin sets a vendor's status; catalog hears of it at once.
pub(crate) async fn set_vendor_status(
    state: &AppState,
    token: &str,
    message: pb::VerifyVendorRequest,
) -> Result<pb::Vendor, common::ApiError> {
    let mut client = state.downstream.identity.clone();
    let vendor = state.downstream.call(client.verify_vendor(state.downstream.request(message, Some(token)))).await?;
    refresh_catalog(state, vendor.id).await;
    Ok(vendor)
}
