//! Seeding through the public API only: the admin logs in, vendors register,
//! create their shop and get approved, the admin builds a category tree, and
//! the vendors import the products (`POST /products/import/`) in files of
//! up to 2,000 lines, two files in flight. Every run uses
//! its own tag in emails, shop, category and product names and SKUs, so runs
//! never collide with each other or with real data. Registration, login and
//! the bounded runner are shared with the checkout scenarios' setup.
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::client::{Api, Reply, id_of};
use crate::error::{BenchError, Result};
use crate::rng::Rng;
use crate::words::WORDS;

/// Vendor onboardings in flight (registration and login hash passwords: CPU-bound on the server).
const VENDOR_CONCURRENCY: usize = 4;
/// Import files in flight (each is one transaction on the server).
const IMPORT_CONCURRENCY: usize = 2;
/// Lines per import file: well under the route's 10,000 so a 50,000-product
/// seed spreads over every vendor and both cores.
const IMPORT_LINES: usize = 2_000;
/// Password of every seeded vendor: valid by the contract's rules and unlike the seeded emails.
const VENDOR_PASSWORD: &str = "Quartz-Harbor-5813";

/// How much to seed.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub vendors: usize,
    pub categories: usize,
    pub products: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Category {
    pub id: i64,
    pub parent: Option<i64>,
}

/// What this run put into the marketplace, for the scenarios to query.
#[derive(Debug)]
pub struct Catalog {
    pub tag: String,
    pub vendor_ids: Vec<i64>,
    pub categories: Vec<Category>,
    pub product_ids: Vec<i64>,
    /// The seeded vendors, logged in (the checkout scenarios edit and create products as them).
    pub vendors: Arc<Vec<Vendor>>,
}

impl Catalog {
    /// `id` and every category below it (the `category` filter includes descendants).
    pub fn subtree(&self, id: i64) -> HashSet<i64> {
        let mut members = HashSet::from([id]);
        // Parents are created before children, so one pass in creation order suffices.
        for category in &self.categories {
            if category.parent.is_some_and(|p| members.contains(&p)) {
                members.insert(category.id);
            }
        }
        members
    }

    /// The index in `vendors` of the vendor who created `product_ids[index]`.
    pub fn owner(&self, index: usize) -> usize {
        owner_index(index, self.vendors.len())
    }
}

/// Products are dealt round-robin over the vendors: product `index` belongs to this vendor index.
fn owner_index(index: usize, vendors: usize) -> usize {
    index % vendors.max(1)
}

/// A seeded vendor account and its current access token (renewed on 401).
#[derive(Debug)]
pub struct Vendor {
    pub id: i64,
    pub email: String,
    token: Mutex<String>,
}

impl Vendor {
    fn token(&self) -> String {
        self.token.lock().map(|t| t.clone()).unwrap_or_default()
    }

    async fn relogin(&self, api: &Api) -> Result<String> {
        let token = login(api, &self.email, VENDOR_PASSWORD).await?;
        if let Ok(mut slot) = self.token.lock() {
            slot.clone_from(&token);
        }
        Ok(token)
    }

    /// An NDJSON import as this vendor (logging in again on a 401, once).
    pub async fn import(&self, api: &Api, file: Vec<u8>) -> Result<Reply> {
        const NDJSON: &str = "application/x-ndjson";
        let path = "/products/import/";
        let reply = api.call_with(Method::POST, path, Some(&self.token()), NDJSON, file.clone()).await?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let token = self.relogin(api).await?;
        api.call_with(Method::POST, path, Some(&token), NDJSON, file).await
    }

    /// One call as this vendor. A 401 means the 15-minute access token
    /// expired during a long run: log in again and retry, once.
    pub async fn call(&self, api: &Api, method: Method, path: &str, body: &Value) -> Result<Reply> {
        let reply = api.call(method.clone(), path, Some(&self.token()), body).await?;
        if reply.status != 401 {
            return Ok(reply);
        }
        let token = self.relogin(api).await?;
        api.call(method, path, Some(&token), body).await
    }
}

/// Seeds `plan` under a fresh tag and reports the time taken.
pub async fn seed(api: &Api, plan: Plan, admin_email: &str, admin_password: &str) -> Result<Catalog> {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    println!(
        "seeding tag {tag}: {} vendors, {} categories, {} products at {}",
        plan.vendors,
        plan.categories,
        plan.products,
        api.origin()
    );
    let started = Instant::now();
    let admin = login(api, admin_email, admin_password).await.map_err(|e| {
        BenchError::new(format!(
            "{e}\nhint: start the fleet with ADMIN_EMAIL/ADMIN_PASSWORD set (or `cargo run -p fleet -- create-admin`) \
             and give the same credentials to the bench (--admin-email/--admin-password or the same env vars)"
        ))
    })?;

    let phase = Instant::now();
    let vendors = onboard_vendors(api, &admin, &tag, plan.vendors).await?;
    let vendors_secs = phase.elapsed().as_secs_f64();

    let phase = Instant::now();
    let mut rng = Rng::from_clock(0);
    let categories = create_categories(api, &admin, &tag, plan.categories, &mut rng).await?;
    let categories_secs = phase.elapsed().as_secs_f64();

    let phase = Instant::now();
    let vendors = Arc::new(vendors);
    let product_ids = create_products(api, &vendors, &categories, &tag, plan.products, &mut rng).await?;
    let products_secs = phase.elapsed().as_secs_f64();

    println!(
        "seeded tag {tag} in {:.2} s: vendors {vendors_secs:.2} s, categories {categories_secs:.2} s, \
         products {products_secs:.2} s ({:.0} products/s)",
        started.elapsed().as_secs_f64(),
        plan.products as f64 / products_secs.max(1e-9),
    );
    // The first list after the seed waits for the listing index to catch up
    // with it: timed here, so the scenarios measure a settled server.
    let phase = Instant::now();
    let call = "GET /products/?page_size=1 after seeding";
    api.call(Method::GET, "/products/?page_size=1", None, &Value::Null).await?.expect(200, call)?;
    println!("first list after seeding answered in {:.2} s (the index catching up)", phase.elapsed().as_secs_f64());
    Ok(Catalog { tag, vendor_ids: vendors.iter().map(|v| v.id).collect(), categories, product_ids, vendors })
}

/// POST /users/register/ of a new account. A 429 (the per-IP registration
/// limit) is explained, since it is what a second big run within the hour meets.
pub async fn register(api: &Api, email: &str, password: &str, role: &str) -> Result<()> {
    let body = json!({"email": email, "password": password, "password_confirm": password, "role": role});
    let reply = api.call(Method::POST, "/users/register/", None, &body).await?;
    let call = format!("POST /users/register/ for {email}");
    if reply.status == 429 {
        let retry = reply.retry_after.as_deref().map(|r| format!(" (Retry-After: {r} s)")).unwrap_or_default();
        return Err(BenchError::new(format!(
            "{call} answered 429{retry}: REGISTER_RATE_LIMIT registrations per IP per hour (default 300) are used up.\n\
             hint: restart the fleet with a higher REGISTER_RATE_LIMIT, or REGISTER_RATE_LIMIT=0 to switch the limit \
             off (e.g. `REGISTER_RATE_LIMIT=0 make run`); the window is kept in Redis, so a restart without it does \
             not reset the count (it empties an hour after the registrations)"
        )));
    }
    reply.expect(201, &call).map(|_| ())
}

/// POST /users/login/ → the access token.
pub async fn login(api: &Api, email: &str, password: &str) -> Result<String> {
    let call = format!("POST /users/login/ as {email}");
    let body = api
        .call(Method::POST, "/users/login/", None, &json!({"email": email, "password": password}))
        .await?
        .expect(200, &call)?;
    body.get("access")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BenchError::new(format!("{call}: no \"access\" token in {body}")))
}

/// Registers, logs in, creates the shop of and approves each vendor.
async fn onboard_vendors(api: &Api, admin: &str, tag: &str, count: usize) -> Result<Vec<Vendor>> {
    bounded(count, VENDOR_CONCURRENCY, |i| {
        let (api, admin, tag) = (api.clone(), admin.to_owned(), tag.to_owned());
        async move {
            let email = format!("bench-{tag}-v{i}@example.com");
            register(&api, &email, VENDOR_PASSWORD, "vendor").await?;
            let token = login(&api, &email, VENDOR_PASSWORD).await?;
            let shop = json!({"shop_name": format!("Bench {tag} Shop {i}"), "description": "Seeded by the bench."});
            let call = format!("POST /vendors/create/ for {email}");
            let created = api.call(Method::POST, "/vendors/create/", Some(&token), &shop).await?.expect(201, &call)?;
            let id = id_of(&created, &call)?;
            let path = format!("/vendors/{id}/verify/");
            let call = format!("PATCH {path}");
            let verified = api.call(Method::PATCH, &path, Some(&admin), &json!({})).await?.expect(200, &call)?;
            if verified.get("status").and_then(Value::as_str) != Some("approved") {
                return Err(BenchError::new(format!("{call}: vendor not approved: {verified}")));
            }
            Ok(Vendor { id, email, token: Mutex::new(token) })
        }
    })
    .await
}

/// Creates `count` categories one by one: the first third are roots, the
/// others hang below a random earlier one, forming a tree.
async fn create_categories(api: &Api, admin: &str, tag: &str, count: usize, rng: &mut Rng) -> Result<Vec<Category>> {
    let roots = count.div_ceil(3).max(1);
    let mut categories: Vec<Category> = Vec::with_capacity(count);
    for i in 0..count {
        let parent = if i < roots { None } else { rng.pick(&categories).map(|c| c.id) };
        let word = rng.pick(WORDS).copied().unwrap_or("misc");
        let name = format!("{} {tag} {i}", capitalised(word));
        let call = format!("POST /products/categories/ {name:?}");
        let body = api
            .call(Method::POST, "/products/categories/", Some(admin), &json!({"name": name, "parent": parent}))
            .await?
            .expect(201, &call)?;
        let id = id_of(&body, &call)?;
        if body.get("parent").and_then(Value::as_i64) != parent {
            return Err(BenchError::new(format!("{call}: parent should be {parent:?}: {body}")));
        }
        categories.push(Category { id, parent });
    }
    Ok(categories)
}

/// Imports the products, spread round-robin over vendors and randomly over
/// categories: each vendor's share in files of `IMPORT_LINES`.
async fn create_products(
    api: &Api,
    vendors: &Arc<Vec<Vendor>>,
    categories: &[Category],
    tag: &str,
    count: usize,
    rng: &mut Rng,
) -> Result<Vec<i64>> {
    let files = import_files(vendors.len(), count);
    let imported = bounded(files.len(), IMPORT_CONCURRENCY, |f| {
        let (api, vendors) = (api.clone(), Arc::clone(vendors));
        let (vendor_index, indices) = files.get(f).cloned().unwrap_or_default();
        let body: String = indices.iter().map(|i| format!("{}\n", product_body(rng, categories, tag, *i))).collect();
        async move {
            let vendor = vendors.get(vendor_index).ok_or_else(|| BenchError::new("no vendors seeded"))?;
            let call = format!("POST /products/import/ of {} lines as {}", indices.len(), vendor.email);
            let reply = vendor.import(&api, body.into_bytes()).await?.expect(201, &call)?;
            let ids: Vec<i64> =
                reply["ids"].as_array().map(|ids| ids.iter().filter_map(Value::as_i64).collect()).unwrap_or_default();
            if ids.len() != indices.len() {
                return Err(BenchError::new(format!("{call}: {} ids for {} lines", ids.len(), indices.len())));
            }
            Ok(indices.into_iter().zip(ids).collect::<Vec<_>>())
        }
    })
    .await?;
    let mut product_ids = vec![0; count];
    for (index, id) in imported.into_iter().flatten() {
        if let Some(slot) = product_ids.get_mut(index) {
            *slot = id;
        }
    }
    Ok(product_ids)
}

/// The import files of a seed: `(vendor index, product indices)`, each
/// vendor's products (dealt by `owner_index`) in files of `IMPORT_LINES`.
fn import_files(vendors: usize, count: usize) -> Vec<(usize, Vec<usize>)> {
    let mut shares: Vec<Vec<usize>> = vec![Vec::new(); vendors.max(1)];
    for index in 0..count {
        if let Some(share) = shares.get_mut(owner_index(index, vendors)) {
            share.push(index);
        }
    }
    shares
        .into_iter()
        .enumerate()
        .flat_map(|(vendor, share)| share.chunks(IMPORT_LINES).map(|c| (vendor, c.to_vec())).collect::<Vec<_>>())
        .collect()
}

/// The create body of product number `i`.
fn product_body(rng: &mut Rng, categories: &[Category], tag: &str, i: usize) -> Value {
    let mut words = |n: usize| (0..n).map(|_| *rng.pick(WORDS).unwrap_or(&"item")).collect::<Vec<_>>().join(" ");
    let name = format!("{} {tag}", words(2));
    let description = format!("{} {}.", capitalised(&words(6)), words(3));
    let cents = rng.between(100, 50_000);
    json!({
        "name": name,
        "description": description,
        "price": format!("{}.{:02}", cents / 100, cents % 100),
        "stock": rng.between(0, 100),
        "category": rng.pick(categories).map(|c| c.id),
        "sku": format!("{tag}-{i:06}"),
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Runs `make(0..count)` with at most `in_flight` futures at once; results in
/// index order. After the first error no new work starts; the ones in flight finish.
pub async fn bounded<T, F, Fut>(count: usize, in_flight: usize, mut make: F) -> Result<Vec<T>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    let mut running = JoinSet::new();
    let mut first_error: Option<BenchError> = None;
    let mut next = 0;
    loop {
        while next < count && running.len() < in_flight && first_error.is_none() {
            let work = make(next);
            let index = next;
            running.spawn(async move { (index, work.await) });
            next += 1;
        }
        match running.join_next().await {
            Some(Ok((index, Ok(value)))) => {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(value);
                }
            }
            Some(Ok((_, Err(error)))) => {
                first_error.get_or_insert(error);
            }
            Some(Err(join)) => {
                first_error.get_or_insert(BenchError::new(format!("seeding task failed: {join}")));
            }
            None => break,
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    results.into_iter().map(|r| r.ok_or_else(|| BenchError::new("seeding task lost its result"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_follows_parents() {
        let c = |id, parent| Category { id, parent };
        let catalog = Catalog {
            tag: "t".into(),
            vendor_ids: vec![],
            categories: vec![c(1, None), c(2, None), c(3, Some(1)), c(4, Some(3)), c(5, Some(2))],
            product_ids: vec![],
            vendors: Arc::default(),
        };
        assert_eq!(catalog.subtree(1), HashSet::from([1, 3, 4]));
        assert_eq!(catalog.subtree(4), HashSet::from([4]));
        assert_eq!(catalog.subtree(2), HashSet::from([2, 5]));
    }

    #[test]
    fn products_belong_to_the_vendor_that_created_them() {
        let vendor = |id| Vendor { id, email: format!("v{id}@example.com"), token: Mutex::default() };
        let catalog = Catalog {
            tag: "t".into(),
            vendor_ids: vec![1, 2, 3],
            categories: vec![],
            product_ids: (100..110).collect(),
            vendors: Arc::new(vec![vendor(1), vendor(2), vendor(3)]),
        };
        // create_products deals product i to vendor i % vendors, as owner() says.
        let files = import_files(3, 7);
        assert_eq!(files, vec![(0, vec![0, 3, 6]), (1, vec![1, 4]), (2, vec![2, 5])]);
        let owners: Vec<i64> = (0..7).filter_map(|i| catalog.vendors.get(catalog.owner(i)).map(|v| v.id)).collect();
        assert_eq!(owners, vec![1, 2, 3, 1, 2, 3, 1]);
        assert_eq!(owner_index(5, 0), 0, "no vendors: no division by zero");
    }

    #[test]
    fn product_bodies_follow_the_contract() {
        let mut rng = Rng::seeded(7);
        let categories = [Category { id: 9, parent: None }];
        for i in 0..200 {
            let body = product_body(&mut rng, &categories, "abcd1234", i);
            let price = body["price"].as_str().unwrap_or_default();
            let cents = crate::checks::cents(price).unwrap_or(-1);
            assert!((100..=50_000).contains(&cents), "{price}");
            assert!((0..=100).contains(&body["stock"].as_i64().unwrap_or(-1)));
            assert!(body["name"].as_str().is_some_and(|n| n.ends_with(" abcd1234")));
            assert_eq!(body["category"], 9);
        }
    }

    #[tokio::test]
    async fn bounded_keeps_order_and_reports_errors() {
        let ok = bounded(50, 4, |i| async move { Ok(i * 2) }).await;
        assert_eq!(ok.ok(), Some((0..50).map(|i| i * 2).collect()));
        let failed =
            bounded(50, 4, |i| async move { if i == 7 { Err(BenchError::new("seven")) } else { Ok(i) } }).await;
        assert_eq!(failed.err().map(|e| e.0), Some("seven".to_owned()));
    }
}
