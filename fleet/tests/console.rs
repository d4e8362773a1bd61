//! The console (`/admin/`) in a real browser against the whole fleet:
//! headless Chromium signs in, follows links and presses buttons by what
//! they say, and the REST API confirms what the console did.
#[path = "console/browser.rs"]
mod browser;
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use browser::{Browser, Driver};
use common::cases;
use common::events::StreamEvent;
use proto::order::v1::{OrderPlaced, PlacedItem, order_event};
use serde_json::{Value, json};
use support::{Api, Ctx, PASSWORD, User};

const DESKTOP: u32 = 1280;
const PHONE: u32 = 390;

fn main() -> ExitCode {
    support::run_suite(
        "console",
        cases![Ctx;
            admin_approves_a_pending_vendor,
            a_wrong_password_is_shown_on_the_form,
            a_customer_is_refused,
            a_post_without_the_csrf_token_is_refused,
            logout_ends_the_session,
            a_browser_at_the_root_is_sent_to_the_console,
            the_dashboard_counts_pending_vendors,
            admin_creates_and_moves_categories,
            vendor_creates_a_product_with_stock,
            a_pending_vendor_sees_what_it_waits_for,
            admin_refunds_a_paid_order,
            admin_replays_a_parked_event_once,
            the_cli_lists_replays_and_discards_parked_events,
            a_vendor_sees_its_sub_orders_and_revenue,
            admin_edits_deactivates_and_deletes_any_product,
            a_vendor_imports_products_from_a_file,
            an_expired_session_is_refreshed_on_the_next_page,
        ],
        |_| {},
    )
}

/// A browser with a fresh driver, signed in as `email`.
async fn signed_in(ctx: &Ctx, email: &str, width: u32) -> (Driver, Browser) {
    let driver = Driver::start();
    let browser = Browser::open(&driver, &ctx.base, width).await;
    browser.visit("/admin/login/").await;
    browser.fill("Email", email).await;
    browser.fill("Password", PASSWORD).await;
    browser.press("Log in").await;
    (driver, browser)
}

/// Where the test run leaves the console's screenshots for the README.
fn screenshot(name: &str, png: &[u8]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(dir.join(name), png)) {
        eprintln!("could not keep the screenshot {name}: {e}");
    }
}

async fn admin_approves_a_pending_vendor(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (_, profile) = api.vendor_with_profile().await;
    let shop = profile["shop_name"].as_str().expect("shop name").to_owned();
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    assert_eq!(browser.heading().await, "Dashboard");

    browser.follow("Vendors").await;
    assert_eq!(browser.heading().await, "Vendors");
    browser.choose("Status", "Pending").await;
    browser.fill("Search shop name or email", &shop).await;
    browser.press("Filter").await;
    browser.follow(&shop).await;
    assert_eq!(browser.heading().await, shop);
    browser.press("Approve").await;
    assert_eq!(browser.said("status").await, "The vendor is approved.");
    assert!(!browser.has_button("Approve").await, "an approved vendor offers only Suspend");
    screenshot("vendor.png", &browser.screenshot().await);

    let listed = api.walk("/vendors/", None).await;
    assert!(listed.iter().any(|v| v["id"] == profile["id"] && v["status"] == "approved"), "{shop} is listed");
    browser.close().await;
}

async fn a_wrong_password_is_shown_on_the_form(ctx: Arc<Ctx>) {
    let driver = Driver::start();
    let browser = Browser::open(&driver, &ctx.base, DESKTOP).await;
    browser.visit("/admin/login/").await;
    browser.fill("Email", &ctx.admin_email).await;
    browser.fill("Password", "not-the-password").await;
    browser.press("Log in").await;
    assert_eq!(browser.said("alert").await, "No active account found with the given credentials");
    assert_eq!(browser.heading().await, "Log in");
    browser.close().await;
}

async fn a_customer_is_refused(ctx: Arc<Ctx>) {
    let customer = ctx.api().user("customer").await;
    let (_driver, browser) = signed_in(&ctx, &customer.email, DESKTOP).await;
    assert_eq!(browser.heading().await, "403 Forbidden");
    browser.visit("/admin/vendors/").await;
    assert_eq!(browser.heading().await, "403 Forbidden");
    browser.close().await;
}

async fn a_post_without_the_csrf_token_is_refused(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (_, profile) = api.vendor_with_profile().await;
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    browser.visit(&format!("/admin/vendors/{}/", profile["id"])).await;
    browser.script("document.querySelectorAll('input[name=csrf]').forEach(input => input.remove());").await;
    browser.press("Approve").await;
    assert_eq!(browser.heading().await, "403 Forbidden");
    let listed = api.walk("/vendors/", None).await;
    assert!(!listed.iter().any(|v| v["id"] == profile["id"]), "the vendor is still not approved");
    browser.close().await;
}

async fn logout_ends_the_session(ctx: Arc<Ctx>) {
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, PHONE).await;
    assert_eq!(browser.heading().await, "Dashboard");
    browser.press("Log out").await;
    assert_eq!(browser.heading().await, "Log in");
    browser.visit("/admin/vendors/").await;
    assert_eq!(browser.heading().await, "Log in");
    assert_eq!(browser.path().await, "/admin/login/");
    browser.close().await;
}

async fn a_browser_at_the_root_is_sent_to_the_console(ctx: Arc<Ctx>) {
    let driver = Driver::start();
    let browser = Browser::open(&driver, &ctx.base, DESKTOP).await;
    browser.visit("/").await;
    assert_eq!(browser.path().await, "/admin/login/");
    assert_eq!(browser.heading().await, "Log in");
    let api_client = ctx.api().get("/", None).await;
    assert_eq!(api_client.status.as_u16(), 404);
    assert_eq!(api_client.body["detail"], "Not found.");
    browser.close().await;
}

async fn the_dashboard_counts_pending_vendors(ctx: Arc<Ctx>) {
    let api = ctx.api();
    api.vendor_with_profile().await;
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    assert_eq!(browser.heading().await, "Dashboard");
    let queue = browser.link_ending("pending vendors").await;
    let waiting: i64 = queue.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a count");
    assert!(waiting >= 1, "{queue}");
    browser.follow(&queue).await;
    assert_eq!(browser.heading().await, "Vendors");
    assert_eq!(browser.path().await, "/admin/vendors/?status=pending");
    browser.close().await;
}

async fn admin_creates_and_moves_categories(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (kitchen, kettles) = (format!("Kitchen {tag}"), format!("Kettles {tag}"));
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    browser.follow("Categories").await;
    for name in [&kitchen, &kettles] {
        browser.fill("Name", name).await;
        browser.choose("Parent", "None (top level)").await;
        browser.press("Create category").await;
        assert_eq!(browser.said("status").await, "The category is created.");
    }
    // A taken name is refused on the form.
    browser.fill("Name", &kitchen.to_uppercase()).await;
    browser.press("Create category").await;
    assert!(browser.said("alert").await.starts_with("name: "), "the duplicate is explained");

    browser.follow(&kettles).await;
    browser.choose("Parent", &kitchen).await;
    browser.press("Save").await;
    assert_eq!(browser.said("status").await, "The category is saved.");
    let categories = api.get("/products/categories/", None).await.expect(200);
    let id_of = |name: &str| {
        categories.as_array().and_then(|all| all.iter().find(|c| c["name"] == name)).map(|c| c["id"].clone())
    };
    let kettles_row = categories.as_array().and_then(|all| all.iter().find(|c| c["name"] == kettles.as_str()));
    assert_eq!(kettles_row.map(|c| c["parent"].clone()), id_of(&kitchen), "moved under {kitchen}");

    // Kitchen cannot move under its own child.
    browser.follow("Categories").await;
    browser.follow(&kitchen).await;
    browser.choose("Parent", &format!("\u{2014} {kettles}")).await;
    browser.press("Save").await;
    assert!(browser.said("alert").await.starts_with("parent: "), "the cycle is explained");
    browser.close().await;
}

async fn vendor_creates_a_product_with_stock(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let name = format!("Teapot {}", uuid::Uuid::new_v4().simple());
    let (_driver, browser) = signed_in(&ctx, &vendor.email, DESKTOP).await;
    assert_eq!(browser.heading().await, "Dashboard");
    browser.follow("Products").await;
    browser.follow("Add a product").await;
    browser.fill("Name", &name).await;
    browser.fill("Price", "12.50").await;
    browser.fill("Stock", "7").await;
    browser.press("Create product").await;
    assert_eq!(browser.said("status").await, "The product is created.");

    let listed = api.get(&format!("/products/?vendor={}", profile["id"]), None).await.expect(200);
    let product = listed["results"].as_array().and_then(|all| all.iter().find(|p| p["name"] == name.as_str())).cloned();
    let product = product.unwrap_or_else(|| panic!("{name} is listed: {listed}"));
    assert_eq!((product["price"].as_str(), product["stock"].as_i64()), (Some("12.50"), Some(7)));

    // Edit the stock and take it off sale.
    browser.follow(&name).await;
    browser.fill("Stock", "3").await;
    browser.click_label("Active (on sale)").await;
    browser.press("Save").await;
    assert_eq!(browser.said("status").await, "The product is saved.");
    let mine = api.get("/products/vendor/", Some(&vendor.access)).await.expect(200);
    let edited = mine["results"].as_array().and_then(|all| all.iter().find(|p| p["id"] == product["id"])).cloned();
    let edited = edited.unwrap_or_else(|| panic!("the vendor still has it: {mine}"));
    assert_eq!((edited["stock"].as_i64(), edited["is_active"].as_bool()), (Some(3), Some(false)));
    screenshot("vendor-products.png", &browser.screenshot().await);
    browser.close().await;
}

async fn a_pending_vendor_sees_what_it_waits_for(ctx: Arc<Ctx>) {
    let (vendor, _) = ctx.api().vendor_with_profile().await;
    let (_driver, browser) = signed_in(&ctx, &vendor.email, PHONE).await;
    assert_eq!(browser.heading().await, "Dashboard");
    assert!(browser.said("status").await.contains("waiting for an admin's approval"));
    assert!(!browser.has_link("Products").await && !browser.has_link("Sub-orders").await, "nothing it may not do");
    browser.visit("/admin/products/new/").await;
    assert_eq!(browser.heading().await, "403 Forbidden");

    // Its shop profile it may edit while it waits.
    browser.follow("Shop profile").await;
    browser.fill("Description", "Handmade kettles").await;
    browser.press("Save").await;
    assert_eq!(browser.said("status").await, "Your shop profile is saved.");
    let me = ctx.api().get("/vendors/me/", Some(&vendor.access)).await.expect(200);
    assert_eq!(me["description"], "Handmade kettles");
    browser.close().await;
}

/// A customer's order of 2 units of a fresh product (stock 10, 12.34),
/// paid through the sandbox; the order, the product and its vendor.
async fn paid_order(api: &Api) -> (Value, Value, User) {
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"price": "12.34", "stock": 10})).await;
    api.post("/carts/items/", Some(&customer.access), json!({"product": product["id"], "quantity": 2}))
        .await
        .expect(201);
    let order = api.post("/orders/create/", Some(&customer.access), json!({})).await.expect(201);
    let payment =
        api.post("/payments/initiate/", Some(&customer.access), json!({"order_id": order["id"]})).await.expect(201);
    let complete = format!("/payments/{}/sandbox/complete/", payment["id"]);
    api.post(&complete, Some(&customer.access), json!({"outcome": "succeeded"})).await.expect(202);
    let path = format!("/orders/{}/", order["id"]);
    for _ in 0..100 {
        let now = api.get(&path, Some(&customer.access)).await.expect(200);
        if now["status"] == "paid" {
            return (now, product, vendor);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("order {} was never paid", order["id"]);
}

async fn admin_refunds_a_paid_order(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (order, product, _) = paid_order(&api).await;
    let stock = |p: Value| p["stock"].as_i64();
    let path = format!("/products/{}/", product["id"]);
    assert_eq!(stock(api.get(&path, None).await.expect(200)), Some(8));
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    browser.follow("Orders").await;
    browser.choose("Status", "Paid").await;
    browser.fill("Customer (user id)", &order["user"].to_string()).await;
    browser.press("Filter").await;
    browser.follow(&format!("Order #{}", order["id"])).await;
    assert!(browser.row_exists("succeeded").await, "the order's payment is listed");
    browser.follow("Refund").await;
    assert_eq!(browser.heading().await, format!("Refund order #{}?", order["id"]));
    browser.press("Yes, refund").await;
    assert_eq!(browser.said("status").await, "The order is refunded and its stock restored.");
    assert!(!browser.has_link("Refund").await, "a cancelled order cannot be refunded again");

    let admin = api.admin().await;
    let refunded = api.get(&format!("/orders/{}/", order["id"]), Some(&admin.access)).await.expect(200);
    assert_eq!(refunded["status"], "cancelled");
    assert_eq!(stock(api.get(&path, None).await.expect(200)), Some(10), "stock restored");

    // The dashboard counts the refund (analytics follow the events).
    let mut refunded = 0.0;
    for _ in 0..50 {
        browser.follow("Dashboard").await;
        refunded =
            browser.described("Refunded").await.split_whitespace().next().and_then(|a| a.parse().ok()).unwrap_or(0.0);
        if refunded >= 24.68 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(refunded >= 24.68, "the refund of 24.68 is counted: {refunded}");
    assert!(browser.has_chart("Revenue per day").await);
    assert!(browser.has_chart("Top vendors by revenue").await);
    screenshot("dashboard.png", &browser.screenshot().await);
    browser.close().await;
}

/// Parks an OrderPlaced in cart's `parked_events`, as its consumer does
/// when the handler keeps failing; returns its event id.
async fn park_order_placed(ctx: &Ctx, event_id: &str, user: i64, product: &Value) {
    use sqlx::Connection;
    let url = std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let mut db = sqlx::MySqlConnection::connect(&url).await.expect("mariadb");
    let placed = order_event::Event::Placed(OrderPlaced {
        order_id: 900_000_000 + user,
        user_id: user,
        items: vec![PlacedItem { product_id: product["id"].as_i64().expect("id"), quantity: 1, ..Default::default() }],
        ..Default::default()
    });
    let table = format!("`{}cart`.parked_events", ctx.prefix);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} (consumer, event_id, stream, entry_id, event_type, payload, encoding, error, attempts) \
         VALUES ('cart', ?, 'order', '1-0', 'OrderPlaced', ?, 'protobuf', 'simulated: the handler kept failing', 5)"
    )))
    .bind(event_id)
    .bind(placed.to_payload())
    .execute(&mut db)
    .await
    .expect("park");
}

/// A customer with 3 units of a fresh product (stock 10) in its cart.
async fn customer_with_cart(api: &Api) -> (User, Value) {
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"stock": 10})).await;
    api.post("/carts/items/", Some(&customer.access), json!({"product": product["id"], "quantity": 3}))
        .await
        .expect(201);
    (customer, product)
}

async fn cart_quantity(api: &Api, token: &str, product: &Value) -> Option<i64> {
    let lines = api.get("/carts/items/", Some(token)).await.expect(200);
    lines["results"].as_array()?.iter().find(|l| l["product"] == product["id"]).and_then(|l| l["quantity"].as_i64())
}

async fn admin_replays_a_parked_event_once(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, product) = customer_with_cart(&api).await;
    let event_id = uuid::Uuid::new_v4().to_string();
    park_order_placed(&ctx, &event_id, customer.id, &product).await;

    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    browser.follow("Events").await;
    assert_eq!(browser.heading().await, "Parked events");
    browser.press_in_row(&event_id, "Replay").await;
    assert_eq!(browser.said("status").await, "The event is replayed: its consumer applied it.");
    assert!(!browser.row_exists(&event_id).await, "a replayed event leaves the list");
    assert_eq!(cart_quantity(&api, &customer.access, &product).await, Some(2), "the ordered unit left the cart");

    // Parked again (a second delivery gave up too): replaying it changes nothing more.
    park_order_placed(&ctx, &event_id, customer.id, &product).await;
    browser.follow("Events").await;
    browser.press_in_row(&event_id, "Replay").await;
    assert_eq!(browser.said("status").await, "The event had been applied already; it is off the list.");
    assert_eq!(cart_quantity(&api, &customer.access, &product).await, Some(2), "applied once");

    let dropped = uuid::Uuid::new_v4().to_string();
    park_order_placed(&ctx, &dropped, customer.id, &product).await;
    browser.follow("Events").await;
    browser.press_in_row(&dropped, "Discard").await;
    assert_eq!(browser.said("status").await, "The event is discarded.");
    assert!(!browser.row_exists(&dropped).await);
    assert_eq!(cart_quantity(&api, &customer.access, &product).await, Some(2), "a discarded event is not applied");
    browser.close().await;
}

/// `fleet events …` on this run's schemas; its standard output.
fn fleet_events(ctx: &Ctx, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleet"))
        .arg("events")
        .args(args)
        .env("SCHEMA_PREFIX", &ctx.prefix)
        .env("RUST_LOG", "error")
        .output()
        .expect("fleet runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "fleet events {args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

async fn the_cli_lists_replays_and_discards_parked_events(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (customer, product) = customer_with_cart(&api).await;
    let (kept, dropped) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    park_order_placed(&ctx, &kept, customer.id, &product).await;
    park_order_placed(&ctx, &dropped, customer.id, &product).await;

    let listed = fleet_events(&ctx, &["list"]);
    for id in [&kept, &dropped] {
        assert!(listed.lines().any(|l| l.starts_with("cart\tcart\t") && l.contains(id.as_str())), "{id} in {listed}");
    }
    assert!(fleet_events(&ctx, &["replay", "cart", "cart", &kept]).trim_end().ends_with(": applied"));
    assert_eq!(cart_quantity(&api, &customer.access, &product).await, Some(2));
    assert!(fleet_events(&ctx, &["discard", "cart", "cart", &dropped]).trim_end().ends_with(": discarded"));
    assert_eq!(cart_quantity(&api, &customer.access, &product).await, Some(2), "a discarded event is not applied");
    let listed = fleet_events(&ctx, &["list"]);
    assert!(!listed.contains(kept.as_str()) && !listed.contains(dropped.as_str()), "{listed}");
}

async fn a_vendor_sees_its_sub_orders_and_revenue(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (order, _, vendor) = paid_order(&api).await;
    let (_driver, browser) = signed_in(&ctx, &vendor.email, DESKTOP).await;
    let mut revenue = String::new();
    for _ in 0..50 {
        browser.visit("/admin/").await;
        revenue = browser.described("Revenue").await;
        if revenue == "24.68" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(revenue, "24.68", "two units at 12.34, paid");
    assert_eq!(browser.described("Paid").await, "1");
    assert!(browser.has_chart("Revenue per day").await);
    screenshot("vendor-dashboard.png", &browser.screenshot().await);
    browser.follow("Sub-orders").await;
    assert_eq!(browser.heading().await, "Sub-orders");
    assert!(browser.row_exists(&format!("#{}", order["id"])).await, "the order's sub-order is listed");
    browser.close().await;
}

async fn admin_edits_deactivates_and_deletes_any_product(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let name = format!("Kettle {}", uuid::Uuid::new_v4().simple());
    let product = api.product(&vendor, json!({"name": name, "stock": 5})).await;
    let (_driver, browser) = signed_in(&ctx, &ctx.admin_email, DESKTOP).await;
    browser.follow("Products").await;
    browser.fill("Search by name", &name).await;
    browser.choose("Active", "Active").await;
    browser.press("Filter").await;
    browser.follow(&name).await;
    browser.fill("Stock", "9").await;
    browser.click_label("Active (on sale)").await;
    browser.press("Save").await;
    assert_eq!(browser.said("status").await, "The product is saved.");
    let admin = api.admin().await;
    let path = format!("/products/{}/", product["id"]);
    let saved = api.get(&path, Some(&admin.access)).await.expect(200);
    assert_eq!((saved["stock"].as_i64(), saved["is_active"].as_bool()), (Some(9), Some(false)));

    browser.fill("Search by name", &name).await;
    browser.choose("Active", "Inactive").await;
    browser.press("Filter").await;
    assert!(browser.row_exists(&name).await, "found among the inactive");
    browser.choose("Active", "Active").await;
    browser.press("Filter").await;
    assert!(!browser.row_exists(&name).await, "not among the active");
    browser.choose("Active", "All").await;
    browser.press("Filter").await;
    browser.follow(&name).await;
    browser.press("Delete product").await;
    assert_eq!(browser.said("status").await, "The product is deleted.");
    api.get(&path, Some(&admin.access)).await.expect(404);
    browser.close().await;
}

async fn a_vendor_imports_products_from_a_file(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("console-import-{tag}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, format!("name,price,stock\nMug {tag},4.50,3\nPlate {tag},,2\n")).expect("file");
    let good = dir.join("good.csv");
    std::fs::write(&good, format!("name,price,stock\nMug {tag},4.50,3\nPlate {tag},6.00,2\n")).expect("file");

    let (_driver, browser) = signed_in(&ctx, &vendor.email, DESKTOP).await;
    browser.follow("Products").await;
    browser.follow("Import products from a file").await;
    browser.fill("File", &bad.to_string_lossy()).await;
    browser.press("Import").await;
    assert!(browser.said("alert").await.starts_with("Nothing was imported"));
    assert!(browser.row_exists("price: ").await, "line 3's price is explained");
    let listed = api.get(&format!("/products/?vendor={}", profile["id"]), None).await.expect(200);
    assert_eq!(listed["results"].as_array().map(Vec::len), Some(0), "all or nothing");

    browser.fill("File", &good.to_string_lossy()).await;
    browser.press("Import").await;
    assert_eq!(browser.said("status").await, "The file's products are imported.");
    let listed = api.get(&format!("/products/?vendor={}", profile["id"]), None).await.expect(200);
    let mut stock: Vec<(String, i64)> = listed["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p["stock"].as_i64().unwrap_or(-1)))
        .collect();
    stock.sort();
    assert_eq!(stock, vec![(format!("Mug {tag}"), 3), (format!("Plate {tag}"), 2)]);
    let _ = std::fs::remove_dir_all(&dir);
    browser.close().await;
}

async fn an_expired_session_is_refreshed_on_the_next_page(ctx: Arc<Ctx>) {
    use common::auth::Role;
    use identity::tokens::Signer;
    let customer = ctx.api().user("customer").await;
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let expired = Signer::new(&ctx.signing_key, 900).expect("signer").access_token(
        customer.id,
        Role::Customer,
        None,
        an_hour_ago,
    );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = |refresh: String| {
        let cookie = format!("mp_session={}|{refresh}", expired.as_ref().expect("token"));
        http.get(format!("{}/admin/", ctx.base)).header("cookie", cookie).send()
    };
    let sessions = |response: &reqwest::Response| -> Vec<String> {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| v.starts_with("mp_session="))
            .map(str::to_owned)
            .collect()
    };

    // The refresh token still lives: the page is served (a customer's 403)
    // and the cookie carries a fresh pair.
    let resumed = page(customer.refresh.clone()).await.expect("page");
    assert_eq!(resumed.status().as_u16(), 403);
    let set = sessions(&resumed);
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(!set[0].contains(&customer.refresh) && set[0].contains("HttpOnly") && set[0].contains("SameSite=Strict"));

    // The rotated refresh token is dead: the session ends at the login page.
    let ended = page(customer.refresh.clone()).await.expect("page");
    assert_eq!(ended.status().as_u16(), 303);
    assert_eq!(ended.headers().get("location").and_then(|v| v.to_str().ok()), Some("/admin/login/"));
    assert!(sessions(&ended).iter().any(|c| c.contains("Max-Age=0")), "the cookie is cleared");
}
