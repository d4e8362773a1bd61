//! The Catalog gRPC service: proto <-> domain, who may do what, listings
//! from the index and the cache around product reads. Rules live in
//! `domain`, SQL in `store`, the listing index in `index`.
use std::sync::Arc;
use std::time::Duration;

use common::ApiError;
use common::auth::{KeyRing, Principal, Role};
use common::cache::Cache;
use common::proto_time::timestamp;
use prost::Message;
use proto::catalog::v1 as pb;
use tonic::{Request, Response, Status};

use crate::clients::Identity;
use crate::domain::{self, Cursor, ListQuery, RawListQuery, RawProduct};
use crate::import;
use crate::index::document::StoredProduct;
use crate::index::query::{Filters, Scope};
use crate::index::{CatalogIndex, PageRequest, View, document};
use crate::stock_writes::{StockWrites, new_write_id};
use crate::store::{CategoryRow, Imported, ProductRow, Store, VendorRow, WrittenStock};

const CACHE_TTL: Duration = Duration::from_secs(60);

type RpcResult<T> = Result<Response<T>, Status>;

pub struct CatalogService {
    store: Store,
    keys: Arc<KeyRing>,
    identity: Identity,
    cache: Cache,
    prefix: String,
    version_key: String,
    index: Arc<CatalogIndex>,
    stock_writes: Arc<StockWrites>,
}

/// Who may write products: an admin, or an approved vendor.
enum Writer {
    Admin,
    Vendor(VendorRow),
}

fn not_approved() -> ApiError {
    ApiError::new(common::ErrorKind::PermissionDenied, "Your vendor profile is not approved.")
        .with_code("vendor_not_approved")
}

pub fn product_message(row: ProductRow) -> pb::Product {
    let vendor_status = row.vendor_status().into();
    pb::Product {
        id: row.id,
        vendor: row.vendor_id,
        vendor_name: row.vendor_name,
        category: row.category_id,
        category_name: row.category_name,
        name: row.name,
        slug: row.slug,
        description: row.description,
        sku: row.sku,
        price: common::money::to_text(row.price),
        is_active: row.is_active,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        vendor_status,
    }
}

/// A product as a listing shows it, from the index's stored fields.
fn listed_product(view: &View, stored: &StoredProduct) -> pb::Product {
    let vendor = view.vendors.get(&stored.vendor_id);
    let micros = |at: i64| {
        let at = chrono::DateTime::from_timestamp_micros(at).unwrap_or_default();
        Some(timestamp(at))
    };
    pb::Product {
        id: stored.id,
        vendor: stored.vendor_id,
        vendor_name: vendor.map(|v| v.name.clone()).unwrap_or_default(),
        category: stored.category_id,
        category_name: stored.category_id.and_then(|id| view.category_names.get(&id).cloned()),
        name: stored.name.clone(),
        slug: stored.slug.clone(),
        description: stored.description.clone(),
        sku: stored.sku.clone(),
        price: common::money::to_text(rust_decimal::Decimal::new(stored.price_cents, 2)),
        is_active: stored.is_active,
        created_at: micros(stored.created_micros),
        updated_at: micros(stored.updated_micros),
        vendor_status: vendor.map(|v| v.status).unwrap_or_default().into(),
    }
}

fn category_message(row: CategoryRow, children: Vec<i64>) -> pb::Category {
    pb::Category {
        id: row.id,
        name: row.name,
        slug: row.slug,
        parent: row.parent_id,
        children,
        created_at: Some(timestamp(row.created_at)),
    }
}

pub(crate) fn raw_product(fields: Option<pb::ProductFields>) -> RawProduct {
    let f = fields.unwrap_or_default();
    RawProduct {
        name: f.name,
        price: f.price,
        stock: f.stock,
        category: f.category,
        description: f.description,
        sku: f.sku,
        is_active: f.is_active,
    }
}

fn raw_list_query(body: pb::ListProductsRequest) -> RawListQuery {
    RawListQuery {
        search: body.search,
        category: body.category,
        category_slug: body.category_slug,
        vendor: body.vendor,
        min_price: body.min_price,
        max_price: body.max_price,
        ordering: body.ordering,
        cursor: body.cursor,
        page_size: body.page_size,
    }
}

fn decode<T: Message + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    T::decode(bytes).map_err(ApiError::internal)
}

impl CatalogService {
    pub fn new(
        store: Store,
        keys: Arc<KeyRing>,
        identity: Identity,
        cache: Cache,
        index: Arc<CatalogIndex>,
        stock_writes: Arc<StockWrites>,
        prefix: &str,
    ) -> Self {
        Self {
            store,
            keys,
            identity,
            cache,
            prefix: prefix.to_owned(),
            version_key: common::cache::catalog_version_key(prefix),
            index,
            stock_writes,
        }
    }

    async fn principal<T>(&self, request: &Request<T>) -> Result<Option<Principal>, ApiError> {
        self.keys.principal_from_metadata(request.metadata()).await
    }

    async fn admin<T>(&self, request: &Request<T>) -> Result<Principal, ApiError> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Admin)?;
        Ok(principal)
    }

    async fn bump(&self) {
        self.cache.bump(&self.version_key).await;
    }

    /// Records what identity says of a vendor; a change shows in listings
    /// at once (the version bump).
    async fn remember_vendor(&self, vendor: &VendorRow) -> Result<(), ApiError> {
        if self.store.upsert_vendor(vendor).await? {
            self.bump().await;
        }
        Ok(())
    }

    /// The caller as a product writer. A vendor's profile and status are
    /// asked of identity now, so a suspension acts on tokens already issued.
    async fn writer(&self, principal: &Principal) -> Result<Writer, ApiError> {
        match principal.role {
            Role::Admin => Ok(Writer::Admin),
            Role::Customer => Err(ApiError::forbidden()),
            Role::Vendor => {
                let vendor = self.identity.my_vendor(&principal.token).await?.ok_or_else(not_approved)?;
                self.remember_vendor(&vendor).await?;
                if common::buyable::sells(vendor.status()) { Ok(Writer::Vendor(vendor)) } else { Err(not_approved()) }
            }
        }
    }

    /// A live product the caller may write (owner or admin; a non-owner
    /// vendor is told it does not exist).
    async fn writable_product(&self, principal: &Principal, id: i64) -> Result<ProductRow, ApiError> {
        let writer = self.writer(principal).await?;
        let product = self.store.product(id).await?.ok_or_else(ApiError::not_found)?;
        match writer {
            Writer::Admin => Ok(product),
            Writer::Vendor(vendor) if vendor.id == product.vendor_id => Ok(product),
            Writer::Vendor(_) => Err(ApiError::not_found()),
        }
    }

    /// A product row through the cache (any state but deleted).
    async fn product_row(&self, id: i64) -> Result<Option<pb::Product>, ApiError> {
        let Some(version) = self.cache.version(&self.version_key).await else {
            return Ok(self.store.product(id).await?.map(product_message));
        };
        let key = format!("{}catalog:v{version}:product:{id}", self.prefix);
        let loaded = self
            .cache
            .get_or_load(&key, CACHE_TTL, || async {
                match self.store.product(id).await? {
                    Some(row) => Ok(product_message(row).encode_to_vec()),
                    None => Err(ApiError::not_found()),
                }
            })
            .await;
        match loaded {
            Ok(bytes) => decode(&bytes).map(Some),
            Err(e) if e.kind == common::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The index's view, caught up to the catalog version the caller read,
    /// else to the one in Redis now.
    async fn view(&self, read: Option<u64>) -> Result<Arc<View>, ApiError> {
        let version = match read {
            Some(version) => Some(version),
            None => self.cache.version(&self.version_key).await,
        };
        self.index.view(&self.store, version).await
    }

    /// What a listing query matches, resolved against the view; `None` when
    /// it names a category slug that does not exist (an empty listing).
    fn filters(view: &View, query: &ListQuery) -> Result<Option<Filters>, ApiError> {
        let subtree = |root: i64, tree: &[CategoryRow]| {
            domain::subtree(&tree.iter().map(|c| (c.id, c.parent_id)).collect::<Vec<_>>(), root)
        };
        let categories = match (&query.category, &query.category_slug) {
            (Some(id), _) => {
                if !view.tree.iter().any(|c| c.id == *id) {
                    return Err(ApiError::field(
                        "category",
                        "Select a valid choice. That choice is not one of the available choices.",
                    ));
                }
                Some(subtree(*id, &view.tree))
            }
            (None, Some(slug)) => match view.tree.iter().find(|c| c.slug == *slug) {
                Some(category) => Some(subtree(category.id, &view.tree)),
                None => return Ok(None),
            },
            (None, None) => None,
        };
        let mut analyzer = document::words_analyzer();
        Ok(Some(Filters {
            words: query.words.iter().filter_map(|w| document::fold_word(&mut analyzer, w)).collect(),
            categories,
            vendor: query.vendor,
            min_price: query.min_price,
            max_price: query.max_price,
        }))
    }

    /// One keyset page, all from the index: its documents' stored fields,
    /// with vendor and category names as of the same view.
    async fn page(&self, scope: Scope, query: &ListQuery, version: Option<u64>) -> Result<pb::ProductPage, ApiError> {
        let view = self.view(version).await?;
        let Some(filters) = Self::filters(&view, query)? else {
            return Ok(pb::ProductPage::default());
        };
        let backwards = query.cursor.as_ref().is_some_and(|c| c.backwards);
        let after = match &query.cursor {
            None => None,
            Some(cursor) => Some((
                cursor.sort_value().ok_or_else(|| ApiError::new(common::ErrorKind::NotFound, "Invalid cursor"))?,
                cursor.id,
            )),
        };
        let size = query.page_size as usize;
        let key = query.ordering.key();
        let request = PageRequest { key, descending: query.ordering.descending() != backwards, after, limit: size + 1 };
        let mut hits = self.index.page(view.clone(), scope, &filters, request).await?;
        let more = hits.len() > size;
        hits.truncate(size);
        if backwards {
            hits.reverse();
        }
        let cursor_at = |hit: &crate::index::Hit, backwards: bool| {
            Cursor { ordering: query.ordering, value: hit.sort_value(key).cursor_text(), id: hit.id, backwards }
                .encode()
        };
        let (has_next, has_previous) = if backwards { (true, more) } else { (more, query.cursor.is_some()) };
        let next_cursor = hits.last().filter(|_| has_next).map(|(h, _)| cursor_at(h, false)).unwrap_or_default();
        let previous_cursor =
            hits.first().filter(|_| has_previous).map(|(h, _)| cursor_at(h, true)).unwrap_or_default();
        let products = hits.into_iter().map(|(_, stored)| listed_product(&view, &stored)).collect();
        Ok(pb::ProductPage { products, next_cursor, previous_cursor })
    }

    /// The facet counts of the public listing `query` selects.
    async fn facets(&self, query: &ListQuery, version: Option<u64>) -> Result<pb::Facets, ApiError> {
        let view = self.view(version).await?;
        let Some(filters) = Self::filters(&view, query)? else {
            return Ok(pb::Facets::default());
        };
        let counts = self.index.facets(view.clone(), Scope::Public, &filters).await?;
        let parents = view.tree.iter().map(|c| (c.id, c.parent_id)).collect();
        let per_category = counts.rolled_up(&parents);
        // The tree is held by name already.
        let categories = view
            .tree
            .iter()
            .filter_map(|c| {
                let count = *per_category.get(&c.id)?;
                Some(pb::CategoryFacet { id: c.id, name: c.name.clone(), slug: c.slug.clone(), count: count as i64 })
            })
            .collect();
        let mut vendors: Vec<pb::VendorFacet> = counts
            .vendors
            .iter()
            .map(|(id, count)| pb::VendorFacet {
                id: *id,
                name: view.vendors.get(id).map(|v| v.name.clone()).unwrap_or_default(),
                count: *count as i64,
            })
            .collect();
        vendors.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        let money = |cents: i64| common::money::to_text(rust_decimal::Decimal::new(cents, 2));
        Ok(pb::Facets {
            count: counts.total as i64,
            categories,
            vendors,
            min_price: counts.price.map(|(low, _)| money(low)),
            max_price: counts.price.map(|(_, high)| money(high)),
        })
    }

    async fn category(&self, id: i64) -> Result<pb::Category, ApiError> {
        let row = self.store.category(id).await?.ok_or_else(ApiError::not_found)?;
        let children = self.store.children(id).await?;
        Ok(category_message(row, children))
    }

    /// Re-reads every known vendor from identity, so a status change that
    /// no `RefreshVendor` reported (a crash between the two) still reaches
    /// the listings.
    pub async fn reconcile_vendors(&self) -> Result<(), ApiError> {
        let mut after = 0;
        loop {
            let known = self.store.vendors_after(after, 200).await?;
            let Some(last) = known.last() else {
                return Ok(());
            };
            after = last.id;
            let fresh = self.identity.vendors(known.iter().map(|v| v.id).collect()).await?;
            for vendor in fresh {
                self.remember_vendor(&vendor).await?;
            }
        }
    }
}

#[tonic::async_trait]
impl pb::catalog_server::Catalog for CatalogService {
    async fn list_categories(&self, _request: Request<pb::ListCategoriesRequest>) -> RpcResult<pb::CategoryList> {
        let rows = self.store.categories().await?;
        let mut children: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        for row in &rows {
            if let Some(parent) = row.parent_id {
                children.entry(parent).or_default().push(row.id);
            }
        }
        let categories = rows
            .into_iter()
            .map(|row| {
                let mut kids = children.remove(&row.id).unwrap_or_default();
                kids.sort_unstable();
                category_message(row, kids)
            })
            .collect();
        Ok(Response::new(pb::CategoryList { categories }))
    }

    async fn get_category(&self, request: Request<pb::GetCategoryRequest>) -> RpcResult<pb::Category> {
        Ok(Response::new(self.category(request.into_inner().id).await?))
    }

    async fn create_category(&self, request: Request<pb::CreateCategoryRequest>) -> RpcResult<pb::Category> {
        self.admin(&request).await?;
        let body = request.into_inner();
        let name = domain::validate_category_name(body.name.as_deref(), true)?.unwrap_or_default();
        let row = self.store.create_category(&name, body.parent).await?;
        self.bump().await;
        Ok(Response::new(category_message(row, Vec::new())))
    }

    async fn update_category(&self, request: Request<pb::UpdateCategoryRequest>) -> RpcResult<pb::Category> {
        self.admin(&request).await?;
        let body = request.into_inner();
        let name = domain::validate_category_name(body.name.as_deref(), false)?;
        let parent = if body.clear_parent { Some(None) } else { body.parent.map(Some) };
        self.store.update_category(body.id, name.as_deref(), parent).await?;
        self.bump().await;
        Ok(Response::new(self.category(body.id).await?))
    }

    async fn delete_category(
        &self,
        request: Request<pb::DeleteCategoryRequest>,
    ) -> RpcResult<pb::DeleteCategoryResponse> {
        self.admin(&request).await?;
        self.store.delete_category(request.into_inner().id).await?;
        self.bump().await;
        Ok(Response::new(pb::DeleteCategoryResponse {}))
    }

    async fn list_products(&self, request: Request<pb::ListProductsRequest>) -> RpcResult<pb::ProductPage> {
        let principal = self.principal(&request).await?;
        let body = request.into_inner();
        let (mine, all, version) = (body.mine, body.all, body.catalog_version);
        let active = body.active.clone();
        let query = domain::parse_list_query(&raw_list_query(body))?;
        if all {
            principal.ok_or_else(ApiError::not_authenticated)?.require_role(Role::Admin)?;
            let active = domain::parse_active(active.as_deref())?;
            return Ok(Response::new(self.page(Scope::All { active }, &query, version).await?));
        }
        if !mine {
            return Ok(Response::new(self.page(Scope::Public, &query, version).await?));
        }
        let principal = principal.ok_or_else(ApiError::not_authenticated)?;
        principal.require_role(Role::Vendor)?;
        let page = match self.store.vendor_of_user(principal.user_id).await? {
            Some(vendor) => self.page(Scope::Vendor(vendor.id), &query, version).await?,
            None => pb::ProductPage::default(),
        };
        Ok(Response::new(page))
    }

    async fn get_facets(&self, request: Request<pb::ListProductsRequest>) -> RpcResult<pb::Facets> {
        let body = request.into_inner();
        let version = body.catalog_version;
        // Only the filters count: an order or a page means nothing here.
        let raw = RawListQuery { ordering: None, cursor: None, page_size: None, ..raw_list_query(body) };
        Ok(Response::new(self.facets(&domain::parse_list_query(&raw)?, version).await?))
    }

    async fn get_product(&self, request: Request<pb::GetProductRequest>) -> RpcResult<pb::Product> {
        let principal = self.principal(&request).await?;
        let product = self.product_row(request.into_inner().id).await?.ok_or_else(ApiError::not_found)?;
        let visible = common::buyable::is_buyable(product.is_active, product.vendor_status())
            || match &principal {
                Some(p) if p.is_admin() => true,
                Some(p) if p.role == Role::Vendor => {
                    self.store.vendor_of_user(p.user_id).await?.is_some_and(|v| v.id == product.vendor)
                }
                _ => false,
            };
        if visible { Ok(Response::new(product)) } else { Err(ApiError::not_found().into()) }
    }

    async fn create_product(&self, request: Request<pb::CreateProductRequest>) -> RpcResult<pb::Product> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let Writer::Vendor(vendor) = self.writer(&principal).await? else {
            return Err(ApiError::forbidden().into());
        };
        let change = domain::validate_product(&raw_product(request.into_inner().fields), true)?;
        let write_id = new_write_id();
        let id = [self.store.create_product(vendor.id, &change, &write_id).await?];
        self.stock_writes.complete(&write_id, || self.store.publish_created(&write_id, &id)).await?;
        self.bump().await;
        let row = self.store.product(id[0]).await?.ok_or_else(|| ApiError::internal("created product vanished"))?;
        Ok(Response::new(product_message(row)))
    }

    async fn import_products(
        &self,
        request: Request<pb::ImportProductsRequest>,
    ) -> RpcResult<pb::ImportProductsResponse> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let Writer::Vendor(vendor) = self.writer(&principal).await? else {
            return Err(ApiError::forbidden().into());
        };
        let body = request.into_inner();
        if body.lines.len() + body.invalid.len() > import::MAX_LINES {
            return Err(ApiError::field("lines", "At most 10,000 products per import.").into());
        }
        let (rows, mut errors) = import::validate(body.lines);
        errors.extend(import::from_message(body.invalid));
        let write_id = new_write_id();
        let write = errors.is_empty().then_some(write_id.as_str());
        match self.store.import_products(vendor.id, &rows, write).await? {
            Imported::Written(ids) => {
                self.stock_writes.complete(&write_id, || self.store.publish_created(&write_id, &ids)).await?;
                self.bump().await;
                Ok(Response::new(pb::ImportProductsResponse { ids, errors: Vec::new() }))
            }
            Imported::Refused(refused) => {
                errors.extend(refused);
                Ok(Response::new(pb::ImportProductsResponse { ids: Vec::new(), errors: import::to_message(errors) }))
            }
        }
    }

    async fn update_product(&self, request: Request<pb::UpdateProductRequest>) -> RpcResult<pb::Product> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let body = request.into_inner();
        let product = self.writable_product(&principal, body.id).await?;
        let change = domain::validate_product(&raw_product(body.fields), false)?;
        match change.stock {
            None => self.store.update_product(body.id, &change).await?,
            Some(available) => {
                let write_id = new_write_id();
                let stock = WrittenStock { product_id: body.id, vendor_id: product.vendor_id, available };
                self.store.open_stock_write(&write_id, stock).await?;
                let publish = || self.store.publish_update(&write_id, body.id, &change);
                self.stock_writes.complete(&write_id, publish).await?;
            }
        }
        self.bump().await;
        let row = self.store.product(body.id).await?.ok_or_else(ApiError::not_found)?;
        Ok(Response::new(product_message(row)))
    }

    async fn delete_product(&self, request: Request<pb::DeleteProductRequest>) -> RpcResult<pb::DeleteProductResponse> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let id = request.into_inner().id;
        self.writable_product(&principal, id).await?;
        self.store.delete_product(id).await?;
        self.bump().await;
        Ok(Response::new(pb::DeleteProductResponse {}))
    }

    async fn authorize_product_write(
        &self,
        request: Request<pb::AuthorizeProductWriteRequest>,
    ) -> RpcResult<pb::AuthorizeProductWriteResponse> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        let product = self.writable_product(&principal, request.into_inner().product_id).await?;
        Ok(Response::new(pb::AuthorizeProductWriteResponse { vendor_id: product.vendor_id }))
    }

    async fn get_stock_write(&self, request: Request<pb::GetStockWriteRequest>) -> RpcResult<pb::StockWrite> {
        let body = request.into_inner();
        let write_id = common::ids::stock_write_id(&body.write_id)?;
        let write = self.store.stock_write(write_id).await?.ok_or_else(ApiError::not_found)?;
        let levels = write
            .levels
            .into_iter()
            .map(|l| pb::WrittenStock { product_id: l.product_id, vendor_id: l.vendor_id, available: l.available })
            .collect();
        Ok(Response::new(pb::StockWrite { state: write.state.into(), levels }))
    }

    async fn get_products(&self, request: Request<pb::GetProductsRequest>) -> RpcResult<pb::ProductList> {
        let ids = request.into_inner().ids;
        if ids.len() > 500 {
            return Err(ApiError::field("ids", "Ask for at most 500 products at a time.").into());
        }
        let rows = self.store.products_by_ids(&ids).await?;
        Ok(Response::new(pb::ProductList { products: rows.into_iter().map(product_message).collect() }))
    }

    async fn get_caller_vendor(&self, request: Request<pb::GetCallerVendorRequest>) -> RpcResult<pb::CallerVendor> {
        let principal = self.keys.require_principal(request.metadata()).await?;
        principal.require_role(Role::Vendor)?;
        let vendor = self.identity.my_vendor(&principal.token).await?.ok_or_else(ApiError::not_found)?;
        self.remember_vendor(&vendor).await?;
        Ok(Response::new(pb::CallerVendor { vendor_id: vendor.id, status: vendor.status().into() }))
    }

    async fn refresh_vendor(&self, request: Request<pb::RefreshVendorRequest>) -> RpcResult<pb::RefreshVendorResponse> {
        let id = request.into_inner().vendor_id;
        for vendor in self.identity.vendors(vec![id]).await? {
            self.remember_vendor(&vendor).await?;
        }
        Ok(Response::new(pb::RefreshVendorResponse {}))
    }
}
