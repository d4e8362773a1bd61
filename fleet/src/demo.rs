//! Seeds a small demo marketplace through the public REST API of a running
//! fleet: an admin (created by the caller beforehand), four vendors (three
//! approved, one left pending), two customers, a category tree and about
//! fifty products. Everything goes over HTTP exactly as a client would send
//! it, so the seed also exercises the contract.
//!
//! It is idempotent: users, vendor profiles, categories (by name) and
//! products (by SKU, per vendor) are created only when missing, so running it
//! twice changes nothing and prints the same logins.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// The password of every demo account, the admin included.
pub const DEMO_PASSWORD: &str = "Demo-Pass-2026";
/// The demo admin; the caller creates it (`fleet create-admin`) before [`seed`] runs.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.example.com";

/// One account the demo can be explored with (all use [`DEMO_PASSWORD`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// `admin`, `vendor` or `customer`.
    pub role: &'static str,
    /// The login email.
    pub email: String,
    /// What the account is, e.g. "approved vendor, 17 products".
    pub note: String,
}

/// Seeds the demo marketplace through the REST API at `base_url` (e.g.
/// `http://127.0.0.1:8000`) and returns the demo logins. Any unexpected
/// answer is an error naming the method, path, status and body.
pub async fn seed(base_url: &str) -> Result<Vec<Login>, String> {
    let api = Api::new(base_url)?;
    let admin = api.login(DEMO_ADMIN_EMAIL).await?;
    let mut logins = vec![Login {
        role: "admin",
        email: DEMO_ADMIN_EMAIL.to_owned(),
        note: "admin: verifies vendors, manages categories".to_owned(),
    }];

    let categories = ensure_categories(&api, &admin).await?;
    for vendor in VENDORS {
        let token = ensure_user(&api, vendor.email, "vendor").await?;
        ensure_vendor_profile(&api, &admin, &token, vendor).await?;
        let note = if vendor.approve {
            let total = ensure_products(&api, &token, &categories, vendor.products).await?;
            format!("approved vendor \"{}\", {total} products", vendor.shop_name)
        } else {
            format!("pending vendor \"{}\" (awaiting admin approval)", vendor.shop_name)
        };
        logins.push(Login { role: "vendor", email: vendor.email.to_owned(), note });
    }
    for email in CUSTOMERS {
        ensure_user(&api, email, "customer").await?;
        logins.push(Login { role: "customer", email: (*email).to_owned(), note: "customer".to_owned() });
    }
    Ok(logins)
}

/// Prints the logins as an aligned table (role, email, password, note) and
/// where the API documentation of the fleet at `base_url` lives.
pub fn print_logins(base_url: &str, logins: &[Login]) {
    let role_w = logins.iter().map(|l| l.role.len()).chain(["role".len()]).max().unwrap_or(0);
    let email_w = logins.iter().map(|l| l.email.len()).chain(["email".len()]).max().unwrap_or(0);
    let password_w = DEMO_PASSWORD.len().max("password".len());
    println!("Demo logins:");
    println!("  {:role_w$}  {:email_w$}  {:password_w$}  note", "role", "email", "password");
    for login in logins {
        println!("  {:role_w$}  {:email_w$}  {:password_w$}  {}", login.role, login.email, DEMO_PASSWORD, login.note);
    }
    println!(
        "Sign in to the console at {}/admin/ (open {}/ in a browser)",
        base_url.trim_end_matches('/'),
        base_url.trim_end_matches('/')
    );
    println!("Explore the API at {}/api/docs/", base_url.trim_end_matches('/'));
}

/// A demo vendor account with its shop and catalogue.
struct DemoVendor {
    email: &'static str,
    shop_name: &'static str,
    description: &'static str,
    /// Approved by the admin; a pending vendor gets no products.
    approve: bool,
    products: &'static [DemoProduct],
}

/// A demo product; `category` is a category name from [`CATEGORIES`].
struct DemoProduct {
    sku: &'static str,
    name: &'static str,
    category: &'static str,
    price: &'static str,
    stock: u32,
    is_active: bool,
    description: &'static str,
}

const fn product(
    sku: &'static str,
    name: &'static str,
    category: &'static str,
    price: &'static str,
    stock: u32,
    is_active: bool,
    description: &'static str,
) -> DemoProduct {
    DemoProduct { sku, name, category, price, stock, is_active, description }
}

/// The category tree: (name, parent name), parents before their children.
const CATEGORIES: &[(&str, Option<&str>)] = &[
    ("Home & Kitchen", None),
    ("Sports & Outdoors", None),
    ("Books", None),
    ("Cookware", Some("Home & Kitchen")),
    ("Tableware", Some("Home & Kitchen")),
    ("Cycling", Some("Sports & Outdoors")),
    ("Camping", Some("Sports & Outdoors")),
    ("Cookbooks", Some("Books")),
];

const CUSTOMERS: &[&str] = &["carol@demo.example.com", "dave@demo.example.com"];

const VENDORS: &[DemoVendor] = &[
    DemoVendor {
        email: "anna@demo.example.com",
        shop_name: "Anna's Atelier",
        description: "Hand-finished cookware and tableware from small European workshops.",
        approve: true,
        products: ANNA,
    },
    DemoVendor {
        email: "ben@demo.example.com",
        shop_name: "Ben's Bikes",
        description: "Cycling parts, accessories and lightweight camping gear, tested on real tours.",
        approve: true,
        products: BEN,
    },
    DemoVendor {
        email: "chloe@demo.example.com",
        shop_name: "Chloe Cooks",
        description: "Cookbooks for every kitchen and the pans the recipes were tested in.",
        approve: true,
        products: CHLOE,
    },
    DemoVendor {
        email: "dan@demo.example.com",
        shop_name: "Dan's Drafts",
        description: "Craft beer brewing kits and supplies (opening soon).",
        approve: false,
        products: &[],
    },
];

#[rustfmt::skip]
const ANNA: &[DemoProduct] = &[
    product("ANNA-CW-001", "Cast Iron Skillet 26 cm", "Cookware", "39.90", 42, true, "Pre-seasoned cast iron skillet that goes from hob to oven."),
    product("ANNA-CW-002", "Enamelled Dutch Oven 5 L", "Cookware", "129.00", 12, true, "Heavy enamelled casserole for braises, stews and bread."),
    product("ANNA-CW-003", "Carbon Steel Wok 32 cm", "Cookware", "49.50", 25, true, "Hand-hammered carbon steel wok with a wooden handle."),
    product("ANNA-CW-004", "Copper Saucepan 1.5 L", "Cookware", "89.00", 8, true, "Tin-lined copper saucepan with a cast bronze handle."),
    product("ANNA-CW-005", "Stainless Stock Pot 8 L", "Cookware", "64.00", 30, true, "Tri-ply stainless steel stock pot with a glass lid."),
    product("ANNA-CW-006", "Ceramic Non-Stick Frying Pan 24 cm", "Cookware", "34.95", 0, true, "PTFE-free ceramic coating, induction ready."),
    product("ANNA-CW-007", "Stoneware Baking Dish", "Cookware", "27.50", 36, true, "Glazed stoneware dish for gratins and lasagne."),
    product("ANNA-CW-008", "Olive Wood Spatula Set", "Cookware", "19.90", 60, true, "Three olive wood spatulas, oiled and ready to use."),
    product("ANNA-CW-009", "Copper Jam Pan 9 L", "Cookware", "159.00", 3, false, "Unlined copper preserving pan; back in the workshop for re-polishing."),
    product("ANNA-TW-001", "Stoneware Dinner Plate Set (4)", "Tableware", "58.00", 20, true, "Four reactive-glaze dinner plates, 27 cm."),
    product("ANNA-TW-002", "Hand-Thrown Pasta Bowls (4)", "Tableware", "64.00", 15, true, "Wide, shallow bowls thrown on the wheel, each one unique."),
    product("ANNA-TW-003", "Linen Napkins, Set of 6", "Tableware", "29.00", 48, true, "Stonewashed linen napkins in oat."),
    product("ANNA-TW-004", "Crystal Wine Glasses (2)", "Tableware", "45.00", 22, true, "Mouth-blown, lead-free crystal glasses."),
    product("ANNA-TW-005", "Walnut Serving Board", "Tableware", "38.50", 17, true, "Solid walnut board with a juice groove."),
    product("ANNA-TW-006", "Porcelain Espresso Cups (6)", "Tableware", "32.00", 0, true, "Thick-walled porcelain cups that keep espresso hot."),
    product("ANNA-TW-007", "Brass Cutlery Set, 24 Pieces", "Tableware", "119.00", 9, true, "Brushed brass cutlery for six."),
    product("ANNA-TW-008", "Ceramic Salad Bowl", "Tableware", "42.00", 26, true, "Large speckled salad bowl, 30 cm."),
];

#[rustfmt::skip]
const BEN: &[DemoProduct] = &[
    product("BEN-CY-001", "Road Bike Helmet", "Cycling", "89.99", 24, true, "Lightweight helmet with MIPS liner and 18 vents."),
    product("BEN-CY-002", "Clipless Pedals", "Cycling", "54.90", 31, true, "Two-bolt SPD-compatible pedals with adjustable tension."),
    product("BEN-CY-003", "LED Bike Light Set", "Cycling", "39.00", 55, true, "USB-C rechargeable front and rear lights."),
    product("BEN-CY-004", "Floor Pump with Gauge", "Cycling", "34.50", 19, true, "Steel floor pump, up to 11 bar, Presta and Schrader."),
    product("BEN-CY-005", "Carbon Bottle Cage", "Cycling", "24.00", 60, true, "18 g carbon cage that holds bottles on rough roads."),
    product("BEN-CY-006", "Cycling Jersey, Merino", "Cycling", "79.00", 14, true, "Merino-blend short-sleeve jersey with three pockets."),
    product("BEN-CY-007", "Tubeless Repair Kit", "Cycling", "16.90", 0, true, "Plugs, reamer and insertion tool in a compact case."),
    product("BEN-CY-008", "Handlebar Bag 3 L", "Cycling", "44.00", 27, true, "Waterproof roll-top bag for bikepacking."),
    product("BEN-CY-009", "Chain Lube, Wet Conditions", "Cycling", "9.50", 58, true, "Long-lasting lube for rain and mud."),
    product("BEN-CA-001", "Two-Person Backpacking Tent", "Camping", "249.00", 7, true, "Freestanding 1.6 kg tent with two doors."),
    product("BEN-CA-002", "Down Sleeping Bag -5 C", "Camping", "189.00", 11, true, "Responsibly sourced 700-fill down, 900 g."),
    product("BEN-CA-003", "Inflatable Sleeping Pad", "Camping", "74.50", 21, true, "R-value 4.2 pad that packs to the size of a bottle."),
    product("BEN-CA-004", "Titanium Camping Mug", "Camping", "22.00", 40, true, "450 ml titanium mug with folding handles."),
    product("BEN-CA-005", "Canister Stove", "Camping", "49.00", 0, true, "Compact stove that boils a litre in three minutes."),
    product("BEN-CA-006", "Headlamp 400 Lumen", "Camping", "29.90", 35, true, "Rechargeable headlamp with a red night mode."),
    product("BEN-CA-007", "Trekking Poles (pair)", "Camping", "59.00", 16, true, "Aluminium poles with cork grips and flick locks."),
    product("BEN-CA-008", "Water Filter Squeeze", "Camping", "36.00", 5, false, "Hollow-fibre squeeze filter; recalled batch, listing paused."),
];

#[rustfmt::skip]
const CHLOE: &[DemoProduct] = &[
    product("CHLOE-BK-001", "Weeknight Suppers", "Cookbooks", "24.99", 50, true, "Seventy dinners on the table in thirty minutes."),
    product("CHLOE-BK-002", "The Sourdough Year", "Cookbooks", "29.00", 33, true, "Bread, month by month, from starter to celebration loaves."),
    product("CHLOE-BK-003", "Vegetables First", "Cookbooks", "27.50", 28, true, "Seasonal vegetable cooking with meat as a side."),
    product("CHLOE-BK-004", "One-Pan Wonders", "Cookbooks", "19.99", 45, true, "Everything cooked in a single pan, washing-up included."),
    product("CHLOE-BK-005", "Spice Routes", "Cookbooks", "32.00", 12, true, "Recipes and stories from the markets of the Silk Road."),
    product("CHLOE-BK-006", "Baking with Kids", "Cookbooks", "17.50", 0, true, "Simple bakes that small hands can help with."),
    product("CHLOE-BK-007", "The Preserving Pantry", "Cookbooks", "22.00", 18, true, "Jams, pickles and ferments for every season."),
    product("CHLOE-BK-008", "Pasta by Hand", "Cookbooks", "26.00", 24, true, "Forty shapes, no machine needed."),
    product("CHLOE-BK-009", "Signed First Edition: Chloe's Kitchen", "Cookbooks", "75.00", 2, true, "Chloe's first book, signed and dated."),
    product("CHLOE-BK-010", "Soups for Every Season", "Cookbooks", "21.00", 37, true, "Fifty soups, from chilled gazpacho to winter broths."),
    product("CHLOE-CW-001", "Chef's Knife 20 cm", "Cookware", "69.00", 20, true, "Forged stainless chef's knife, the one used on every page."),
    product("CHLOE-CW-002", "Cast Iron Griddle", "Cookware", "44.00", 15, true, "Reversible griddle for flatbreads and pancakes."),
    product("CHLOE-CW-003", "Dough Scraper Set", "Cookware", "8.90", 60, true, "A steel bench scraper and a flexible bowl scraper."),
    product("CHLOE-CW-004", "Proofing Basket 1 kg", "Cookware", "18.50", 29, true, "Rattan banneton with a linen liner."),
    product("CHLOE-CW-005", "Enamel Roasting Tin", "Cookware", "31.00", 0, true, "Speckled enamel tin for roasts and traybakes."),
    product("CHLOE-CW-006", "Mortar and Pestle, Granite", "Cookware", "35.00", 10, true, "Heavy granite mortar for pastes and spice blends."),
];

/// The REST client: one connection pool, one base URL.
struct Api {
    client: Client,
    base: String,
}

impl Api {
    fn new(base_url: &str) -> Result<Self, String> {
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(Self { client, base: base_url.trim_end_matches('/').to_owned() })
    }

    /// Sends a request to `path` (or an absolute URL, as in `next` links)
    /// and returns the status and the body (JSON, or the raw text as a string).
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), String> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.client.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| format!("{method} {path}: reading the body: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, body))
    }

    /// Sends a request and insists on the `expected` status.
    async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<Value, String> {
        let (status, reply) = self.send(method.clone(), path, token, body).await?;
        if status == expected { Ok(reply) } else { Err(unexpected(&method, path, status, &reply)) }
    }

    async fn get(&self, path: &str, token: &str) -> Result<Value, String> {
        self.expect(Method::GET, path, Some(token), None, StatusCode::OK).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<(StatusCode, Value), String> {
        self.send(Method::POST, path, token, Some(body)).await
    }

    /// Logs `email` in with [`DEMO_PASSWORD`]; the access token.
    async fn login(&self, email: &str) -> Result<String, String> {
        let path = "/users/login/";
        let reply = self
            .expect(Method::POST, path, None, Some(&json!({"email": email, "password": DEMO_PASSWORD})), StatusCode::OK)
            .await?;
        str_field(&reply, "access", "POST", path)
    }
}

fn unexpected(method: &Method, path: &str, status: StatusCode, body: &Value) -> String {
    format!("{method} {path} answered {status}: {body}")
}

fn str_field(reply: &Value, field: &str, method: &str, path: &str) -> Result<String, String> {
    reply[field].as_str().map(str::to_owned).ok_or_else(|| format!("{method} {path}: no string {field:?} in {reply}"))
}

fn id_field(reply: &Value, method: &str, path: &str) -> Result<i64, String> {
    reply["id"].as_i64().ok_or_else(|| format!("{method} {path}: no integer \"id\" in {reply}"))
}

/// Registers `email` with `role` unless it exists, then logs it in; the access token.
async fn ensure_user(api: &Api, email: &str, role: &str) -> Result<String, String> {
    let path = "/users/register/";
    let body = json!({"email": email, "password": DEMO_PASSWORD, "password_confirm": DEMO_PASSWORD, "role": role});
    match api.post(path, None, &body).await? {
        (StatusCode::CREATED, _) => {}
        (StatusCode::BAD_REQUEST, reply) if reply.get("email").is_some() => {}
        (status, reply) => return Err(unexpected(&Method::POST, path, status, &reply)),
    }
    api.login(email).await
}

/// Makes sure the vendor has its shop profile and, if it is meant to be,
/// that the admin approved it; the vendor id.
async fn ensure_vendor_profile(api: &Api, admin: &str, token: &str, vendor: &DemoVendor) -> Result<i64, String> {
    let path = "/vendors/create/";
    let body = json!({"shop_name": vendor.shop_name, "description": vendor.description});
    let profile = match api.post(path, Some(token), &body).await? {
        (StatusCode::CREATED, reply) => reply,
        (StatusCode::BAD_REQUEST, reply) if reply["code"] == "vendor_exists" => api.get("/vendors/me/", token).await?,
        (status, reply) => return Err(unexpected(&Method::POST, path, status, &reply)),
    };
    let id = id_field(&profile, "POST", path)?;
    if vendor.approve {
        api.expect(Method::PATCH, &format!("/vendors/{id}/verify/"), Some(admin), Some(&json!({})), StatusCode::OK)
            .await?;
    }
    Ok(id)
}

/// Creates the missing categories of [`CATEGORIES`]; every name's id.
async fn ensure_categories(api: &Api, admin: &str) -> Result<HashMap<&'static str, i64>, String> {
    let path = "/products/categories/";
    let listed = api.get(path, admin).await?;
    let listed = listed.as_array().ok_or_else(|| format!("GET {path}: expected a JSON array, got {listed}"))?;
    let mut existing = HashMap::new();
    for category in listed {
        let name = str_field(category, "name", "GET", path)?;
        existing.insert(name.to_lowercase(), id_field(category, "GET", path)?);
    }
    let mut ids = HashMap::new();
    for &(name, parent) in CATEGORIES {
        let id = match existing.get(&name.to_lowercase()) {
            Some(&id) => id,
            None => {
                let parent = match parent {
                    Some(parent) => {
                        Some(*ids.get(parent).ok_or_else(|| format!("category {parent:?} is listed after {name:?}"))?)
                    }
                    None => None,
                };
                let created = api
                    .expect(
                        Method::POST,
                        path,
                        Some(admin),
                        Some(&json!({"name": name, "parent": parent})),
                        StatusCode::CREATED,
                    )
                    .await?;
                id_field(&created, "POST", path)?
            }
        };
        ids.insert(name, id);
    }
    Ok(ids)
}

/// How many products the vendor owns, inactive included, and their SKUs (lower-cased).
async fn vendor_skus(api: &Api, token: &str) -> Result<(usize, HashSet<String>), String> {
    let mut count = 0;
    let mut skus = HashSet::new();
    let mut next = Some("/products/vendor/?page_size=50".to_owned());
    while let Some(url) = next.take() {
        let page = api.get(&url, token).await?;
        let results = page["results"].as_array().ok_or_else(|| format!("GET {url}: no \"results\" array in {page}"))?;
        count += results.len();
        for product in results {
            skus.insert(product["sku"].as_str().unwrap_or_default().to_lowercase());
        }
        next = page["next"].as_str().map(str::to_owned);
    }
    Ok((count, skus))
}

/// Creates the vendor's products whose SKU it does not have yet; how many
/// products the vendor owns afterwards.
async fn ensure_products(
    api: &Api,
    token: &str,
    categories: &HashMap<&'static str, i64>,
    products: &[DemoProduct],
) -> Result<usize, String> {
    let path = "/products/";
    let (mut count, mut skus) = vendor_skus(api, token).await?;
    for product in products {
        if skus.contains(&product.sku.to_lowercase()) {
            continue;
        }
        let category =
            categories.get(product.category).ok_or_else(|| format!("unknown demo category {:?}", product.category))?;
        let body = json!({
            "name": product.name,
            "description": product.description,
            "sku": product.sku,
            "price": product.price,
            "stock": product.stock,
            "category": category,
            "is_active": product.is_active,
        });
        api.expect(Method::POST, path, Some(token), Some(&body), StatusCode::CREATED).await?;
        skus.insert(product.sku.to_lowercase());
        count += 1;
    }
    Ok(count)
}
