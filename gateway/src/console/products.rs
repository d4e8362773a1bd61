//! Products in the console: a vendor's own listing and an admin's listing
//! of every product (filtered by vendor, category, active and searched by
//! name: the catalog's listing, inactive ones included), both with stock;
//! a form for a vendor to create one with its stock; and a product's page
//! to edit any field and the stock, deactivate it or delete it. Writes go through the REST routes' own helpers (catalog
//! first, then stock at the order service, undone together), so the
//! rules and refusals are the API's.
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use common::{ApiError, ErrorKind};
use proto::catalog::v1 as pb;
use serde::Deserialize;

use super::categories::{self, Node};
use super::page::{self, Layout, Posted, Section};
use super::session::{Csrf, Manager, Session, Vendor};
use crate::AppState;
use crate::routes::products::{create_with_stock, stock_of, update_with_stock};

const PRODUCTS_PER_PAGE: &str = "25";

/// A product as the table and the form show it.
pub struct ProductRow {
    id: i64,
    name: String,
    vendor: String,
    sku: String,
    price: String,
    stock: i64,
    is_active: bool,
    category: Option<i64>,
    description: String,
}

impl ProductRow {
    fn new(product: pb::Product, stock: i64) -> Self {
        Self {
            id: product.id,
            name: product.name,
            vendor: product.vendor_name,
            sku: product.sku,
            price: product.price,
            stock,
            is_active: product.is_active,
            category: product.category,
            description: product.description,
        }
    }
}

#[derive(Template)]
#[template(path = "console/products.html")]
struct ProductsPage {
    layout: Layout,
    products: Vec<ProductRow>,
    notice: Option<&'static str>,
    previous: Option<String>,
    next: Option<String>,
    /// The admin's filters as the form shows them (a vendor has none).
    filters: ProductFilters,
    categories: Vec<Node>,
}

/// The admin listing's filters, as the query string carries them.
#[derive(Debug, Default, Clone)]
pub struct ProductFilters {
    q: String,
    vendor: String,
    category: String,
    active: String,
}

impl ProductFilters {
    fn of(params: &HashMap<String, String>) -> Self {
        let get = |name: &str| params.get(name).map(|v| v.trim().chars().take(100).collect()).unwrap_or_default();
        Self { q: get("q"), vendor: get("vendor"), category: get("category"), active: get("active") }
    }

    /// The query string of another page of the same listing.
    fn link(&self, cursor: &str) -> Option<String> {
        if cursor.is_empty() {
            return None;
        }
        Some(super::query_string(&[
            ("q", &self.q),
            ("vendor", &self.vendor),
            ("category", &self.category),
            ("active", &self.active),
            ("cursor", cursor),
        ]))
    }
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned()).filter(|t| !t.is_empty())
}

pub async fn list(
    State(state): State<AppState>,
    Manager(session, csrf): Manager,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let admin = session.principal.is_admin();
    let filters = if admin { ProductFilters::of(&params) } else { ProductFilters::default() };
    let message = pb::ListProductsRequest {
        cursor: params.get("cursor").filter(|c| c.len() <= 512).cloned(),
        page_size: Some(PRODUCTS_PER_PAGE.to_owned()),
        mine: !admin,
        all: admin,
        search: some(&filters.q),
        vendor: some(&filters.vendor),
        category: some(&filters.category),
        active: some(&filters.active),
        ..Default::default()
    };
    let d = &state.downstream;
    let mut catalog = d.catalog.clone();
    let page = match d.call(catalog.list_products(d.request(message, Some(session.token())))).await {
        Ok(page) => page,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let chosen = filters.category.parse::<i64>().ok();
    let categories = match categories::load(&state).await {
        Ok(nodes) => categories::choose(nodes, chosen),
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let stock = match stock_of(&state, page.products.iter().map(|p| p.id).collect()).await {
        Ok(stock) => stock,
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let notice = match params.get("done").map(String::as_str) {
        Some("created") => Some("The product is created."),
        Some("saved") => Some("The product is saved."),
        Some("deleted") => Some("The product is deleted."),
        Some("imported") => Some("The file's products are imported."),
        _ => None,
    };
    let products = page
        .products
        .into_iter()
        .map(|p| {
            let units = stock.get(&p.id).copied().unwrap_or(0);
            ProductRow::new(p, units)
        })
        .collect();
    let layout = Layout::new("Products", Some(&session), &csrf, Section::Products);
    let (previous, next) = (filters.link(&page.previous_cursor), filters.link(&page.next_cursor));
    page::render(StatusCode::OK, &ProductsPage { layout, products, notice, previous, next, filters, categories })
}

/// The product form's fields, as posted.
#[derive(Debug, Default, Deserialize)]
pub struct ProductForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    category: String,
    /// Present (as `on`) when the box is ticked.
    is_active: Option<String>,
}

impl ProductForm {
    fn of(product: &ProductRow) -> Self {
        Self {
            name: product.name.clone(),
            description: product.description.clone(),
            sku: product.sku.clone(),
            price: product.price.clone(),
            stock: product.stock.to_string(),
            category: product.category.map(|c| c.to_string()).unwrap_or_default(),
            is_active: product.is_active.then(|| "on".to_owned()),
        }
    }

    /// The fields as catalog reads them; `clearing`: an empty category
    /// removes the product's (an edit) rather than leaving it unset.
    fn fields(&self, clearing: bool) -> pb::ProductFields {
        let category = match self.category.trim() {
            "" if clearing => Some("null".to_owned()),
            "" => None,
            id => Some(id.to_owned()),
        };
        pb::ProductFields {
            name: Some(self.name.clone()),
            price: Some(self.price.trim().to_owned()),
            stock: Some(self.stock.trim().to_owned()).filter(|s| !s.is_empty()),
            category,
            description: Some(self.description.clone()),
            sku: Some(self.sku.clone()),
            is_active: Some(self.is_active.is_some()),
        }
    }

    fn active(&self) -> bool {
        self.is_active.is_some()
    }
}

#[derive(Template)]
#[template(path = "console/product_form.html")]
struct ProductFormPage {
    layout: Layout,
    /// The product being edited; none for a new one.
    id: Option<i64>,
    form: ProductForm,
    categories: Vec<Node>,
    error: Option<String>,
}

async fn form_page(
    state: &AppState,
    session: &Session,
    csrf: &Csrf,
    status: StatusCode,
    id: Option<i64>,
    form: ProductForm,
    error: Option<String>,
) -> Response {
    let chosen = form.category.trim().parse::<i64>().ok();
    let categories = match categories::load(state).await {
        Ok(nodes) => categories::choose(nodes, chosen),
        Err(error) => return page::failure(Some(session), csrf, error),
    };
    let title = if id.is_some() { form.name.clone() } else { "New product".to_owned() };
    let layout = Layout::new(title, Some(session), csrf, Section::Products);
    page::render(status, &ProductFormPage { layout, id, form, categories, error })
}

pub async fn new(State(state): State<AppState>, Vendor(session, csrf): Vendor) -> Response {
    let form = ProductForm { stock: "0".into(), is_active: Some("on".into()), ..ProductForm::default() };
    form_page(&state, &session, &csrf, StatusCode::OK, None, form, None).await
}

/// A refusal the form shows, or a failure page.
async fn refused(
    state: &AppState,
    session: &Session,
    csrf: &Csrf,
    id: Option<i64>,
    form: ProductForm,
    error: ApiError,
) -> Response {
    let status = crate::error::status_of(error.kind);
    if status.is_client_error() && status != StatusCode::NOT_FOUND {
        return form_page(state, session, csrf, status, id, form, Some(page::explain(&error))).await;
    }
    page::failure(Some(session), csrf, error)
}

pub async fn create(
    State(state): State<AppState>,
    Vendor(session, csrf): Vendor,
    Posted(form): Posted<ProductForm>,
) -> Response {
    match create_with_stock(&state, session.token(), form.fields(false)).await {
        Ok(_) => Redirect::to("/admin/products/?done=created").into_response(),
        Err(error) => refused(&state, &session, &csrf, None, form, error).await,
    }
}

fn no_such_product(session: &Session, csrf: &Csrf) -> Response {
    page::message(StatusCode::NOT_FOUND, Some(session), csrf, "Not found", "No such product you may change.")
}

pub async fn edit(State(state): State<AppState>, Manager(session, csrf): Manager, Path(id): Path<String>) -> Response {
    let Some(id) = page::path_id(&id) else { return no_such_product(&session, &csrf) };
    let d = &state.downstream;
    let mut catalog = d.catalog.clone();
    // A vendor edits only its own products, an admin any: catalog says
    // whether this caller may write this one.
    let owned = pb::AuthorizeProductWriteRequest { product_id: id };
    let product = match d.call(catalog.authorize_product_write(d.request(owned, Some(session.token())))).await {
        Ok(_) => d.call(catalog.get_product(d.request(pb::GetProductRequest { id }, Some(session.token())))).await,
        Err(error) => Err(error),
    };
    let product = match product {
        Ok(product) => product,
        Err(error) if matches!(error.kind, ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
            return no_such_product(&session, &csrf);
        }
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let stock = match stock_of(&state, vec![id]).await {
        Ok(stock) => stock.get(&id).copied().unwrap_or(0),
        Err(error) => return page::failure(Some(&session), &csrf, error),
    };
    let form = ProductForm::of(&ProductRow::new(product, stock));
    form_page(&state, &session, &csrf, StatusCode::OK, Some(id), form, None).await
}

pub async fn update(
    State(state): State<AppState>,
    Manager(session, csrf): Manager,
    Path(id): Path<String>,
    Posted(form): Posted<ProductForm>,
) -> Response {
    let Some(id) = page::path_id(&id) else { return no_such_product(&session, &csrf) };
    match update_with_stock(&state, session.token(), id, form.fields(true)).await {
        Ok(_) => Redirect::to("/admin/products/?done=saved").into_response(),
        Err(error) => refused(&state, &session, &csrf, Some(id), form, error).await,
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

pub async fn delete(
    State(state): State<AppState>,
    Manager(session, csrf): Manager,
    Path(id): Path<String>,
    Posted(Nothing {}): Posted<Nothing>,
) -> Response {
    let Some(id) = page::path_id(&id) else { return no_such_product(&session, &csrf) };
    let d = &state.downstream;
    let mut catalog = d.catalog.clone();
    match d.call(catalog.delete_product(d.request(pb::DeleteProductRequest { id }, Some(session.token())))).await {
        Ok(_) => Redirect::to("/admin/products/?done=deleted").into_response(),
        Err(error) => page::failure(Some(&session), &csrf, error),
    }
}
