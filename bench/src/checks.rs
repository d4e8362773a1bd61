//! Correctness checks on what the scenarios read: the contract's page and
//! product shapes, and that filters (vendor, category subtree, price range),
//! price ordering and page sizes hold; for the checkout scenarios, that a cart
//! line and an order hold what was put in the cart and add up. A failed check
//! is a "mismatch".
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Deserializer};

/// Default `page_size` of product lists.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// Largest `page_size` honoured (larger values are clamped).
pub const MAX_PAGE_SIZE: usize = 50;

/// A cursor page of products; `next`/`previous` must be present (null or a URL).
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(deserialize_with = "required")]
    pub next: Option<String>,
    #[serde(deserialize_with = "required")]
    #[allow(dead_code, reason = "only its presence is checked")]
    pub previous: Option<String>,
    pub results: Vec<Product>,
}

/// The fields of a product the checks look at (the others are ignored).
#[derive(Debug, Deserialize)]
pub struct Product {
    pub id: i64,
    pub vendor: i64,
    #[serde(deserialize_with = "required")]
    pub category: Option<i64>,
    pub price: String,
    pub is_active: bool,
}

/// Makes an `Option` field required (present, possibly null) instead of defaulting to `None`.
fn required<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::deserialize(d)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceOrder {
    Ascending,
    Descending,
}

/// What a list request asked for, hence what every page of it must satisfy.
#[derive(Debug, Clone)]
pub struct Expect {
    pub page_size: usize,
    pub vendor: Option<i64>,
    pub categories: Option<Arc<HashSet<i64>>>,
    pub min_cents: Option<i64>,
    pub max_cents: Option<i64>,
    pub price_order: Option<PriceOrder>,
}

impl Default for Expect {
    fn default() -> Self {
        Self {
            page_size: DEFAULT_PAGE_SIZE,
            vendor: None,
            categories: None,
            min_cents: None,
            max_cents: None,
            price_order: None,
        }
    }
}

/// A money string with exactly two decimal places, in cents.
pub fn cents(money: &str) -> Option<i64> {
    let (units, fraction) = money.split_once('.')?;
    let digits = |s: &str, n: Option<usize>| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && n.is_none_or(|n| s.len() == n)
    };
    if !digits(units, None) || !digits(fraction, Some(2)) {
        return None;
    }
    Some(units.parse::<i64>().ok()?.checked_mul(100)? + fraction.parse::<i64>().ok()?)
}

/// Parses a list page and checks it against `expect`.
pub fn check_page(body: &[u8], expect: &Expect) -> Result<Page, String> {
    let page: Page = serde_json::from_slice(body).map_err(|e| format!("not a product page: {e}"))?;
    if page.results.len() > expect.page_size {
        return Err(format!("{} results for page_size {}", page.results.len(), expect.page_size));
    }
    let mut previous_cents: Option<i64> = None;
    for product in &page.results {
        let id = product.id;
        let price = cents(&product.price).ok_or_else(|| format!("product {id}: bad price {:?}", product.price))?;
        if !product.is_active {
            return Err(format!("product {id}: inactive product in a public list"));
        }
        if expect.vendor.is_some_and(|v| v != product.vendor) {
            return Err(format!("product {id}: vendor {} but filtered on {:?}", product.vendor, expect.vendor));
        }
        if let Some(allowed) = &expect.categories
            && !product.category.is_some_and(|c| allowed.contains(&c))
        {
            return Err(format!("product {id}: category {:?} outside the filtered subtree", product.category));
        }
        if expect.min_cents.is_some_and(|min| price < min) || expect.max_cents.is_some_and(|max| price > max) {
            return Err(format!(
                "product {id}: price {} outside [{:?}, {:?}] cents",
                product.price, expect.min_cents, expect.max_cents
            ));
        }
        if let (Some(order), Some(before)) = (expect.price_order, previous_cents) {
            let sorted = match order {
                PriceOrder::Ascending => before <= price,
                PriceOrder::Descending => before >= price,
            };
            if !sorted {
                return Err(format!("product {id}: price {} out of {order:?} order", product.price));
            }
        }
        previous_cents = Some(price);
    }
    Ok(page)
}

/// Checks a product detail body is the product asked for, in the contract's shape.
pub fn check_detail(body: &[u8], id: i64) -> Result<(), String> {
    let product: Product = serde_json::from_slice(body).map_err(|e| format!("product {id}: not a product: {e}"))?;
    if product.id != id {
        return Err(format!("asked for product {id}, got {}", product.id));
    }
    cents(&product.price).map(|_| ()).ok_or_else(|| format!("product {id}: bad price {:?}", product.price))
}

/// The fields of a facets answer the checks look at.
#[derive(Debug, Deserialize)]
struct Facets {
    count: u64,
    categories: Vec<FacetCount>,
    vendors: Vec<FacetCount>,
}

#[derive(Debug, Deserialize)]
struct FacetCount {
    count: u64,
}

/// Checks a facets answer: no vendor counts more than the whole, nor do
/// the vendors together differ from it (each product has one vendor).
pub fn check_facets(body: &[u8]) -> Result<(), String> {
    let facets: Facets = serde_json::from_slice(body).map_err(|e| format!("not facets: {e}"))?;
    let by_vendor: u64 = facets.vendors.iter().map(|v| v.count).sum();
    if by_vendor != facets.count {
        return Err(format!("vendors count {by_vendor} products, the total is {}", facets.count));
    }
    match facets.categories.iter().find(|c| c.count == 0 || c.count > facets.count) {
        Some(bad) => Err(format!("a category counts {} of {}", bad.count, facets.count)),
        None => Ok(()),
    }
}

/// The fields of a cart line the checks look at.
#[derive(Debug, Deserialize)]
struct CartLine {
    product: i64,
    quantity: u64,
}

/// Checks an answer of POST /carts/items/ is the line of `product`, holding
/// `quantity` units in all when the cart's content is known.
pub fn check_cart_line(body: &[u8], product: i64, quantity: Option<u64>) -> Result<(), String> {
    let line: CartLine =
        serde_json::from_slice(body).map_err(|e| format!("product {product}: not a cart line: {e}"))?;
    if line.product != product {
        return Err(format!("added product {product}, the line is of product {}", line.product));
    }
    match quantity {
        Some(wanted) if wanted != line.quantity => {
            Err(format!("product {product}: the line holds {} units, the cart should hold {wanted}", line.quantity))
        }
        _ => Ok(()),
    }
}

/// The fields of an order the checks look at.
#[derive(Debug, Deserialize)]
struct Order {
    id: i64,
    status: String,
    total_price: String,
    items: Vec<OrderItem>,
}

#[derive(Debug, Deserialize)]
struct OrderItem {
    product: i64,
    quantity: u64,
    unit_price: String,
    line_total: String,
}

/// Checks a 201 of POST /orders/create/: a `pending` order whose lines are
/// price × quantity and add up to its total, and which holds exactly the
/// cart's units per product when the cart's content (`cart`) is known.
/// Returns the order's id.
pub fn check_order(body: &[u8], cart: Option<&BTreeMap<i64, u64>>) -> Result<i64, String> {
    let order: Order = serde_json::from_slice(body).map_err(|e| format!("not an order: {e}"))?;
    let id = order.id;
    if order.status != "pending" {
        return Err(format!("order {id}: a new order is {:?}, not \"pending\"", order.status));
    }
    let money = |m: &str| cents(m).ok_or_else(|| format!("order {id}: bad money {m:?}"));
    let mut units: BTreeMap<i64, u64> = BTreeMap::new();
    let mut sum = 0i64;
    for item in &order.items {
        let line = money(&item.line_total)?;
        let expected = i64::try_from(item.quantity).ok().and_then(|q| money(&item.unit_price).ok()?.checked_mul(q));
        if expected != Some(line) {
            return Err(format!(
                "order {id}: product {}: {} x {} is not {}",
                item.product, item.quantity, item.unit_price, item.line_total
            ));
        }
        sum = sum.saturating_add(line);
        *units.entry(item.product).or_default() += item.quantity;
    }
    if money(&order.total_price)? != sum {
        return Err(format!("order {id}: total {} is not the sum of its lines", order.total_price));
    }
    if units.is_empty() {
        return Err(format!("order {id}: no items"));
    }
    if let Some(cart) = cart
        && *cart != units
    {
        return Err(format!("order {id}: holds {units:?} (product: units), the cart held {cart:?}"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i64, vendor: i64, category: Option<i64>, price: &str) -> serde_json::Value {
        serde_json::json!({"id": id, "vendor": vendor, "category": category, "price": price, "is_active": true, "name": "x"})
    }

    fn page(results: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::json!({"next": "http://127.0.0.1:8000/products/?cursor=abc", "previous": null, "results": results})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn money_parses_two_places_only() {
        assert_eq!(cents("19.99"), Some(1999));
        assert_eq!(cents("0.05"), Some(5));
        assert_eq!(cents("500.00"), Some(50_000));
        for bad in ["19.9", "19", "-1.00", "1.999", ".99", "1e2.00", "abc"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn good_page_passes_and_keeps_next() {
        let expect = Expect {
            vendor: Some(3),
            categories: Some(Arc::new(HashSet::from([1, 2]))),
            min_cents: Some(500),
            max_cents: Some(2000),
            price_order: Some(PriceOrder::Descending),
            ..Expect::default()
        };
        let body = page(vec![product(1, 3, Some(2), "20.00"), product(2, 3, Some(1), "5.00")]);
        let checked = check_page(&body, &expect);
        assert_eq!(checked.ok().and_then(|p| p.next).as_deref(), Some("http://127.0.0.1:8000/products/?cursor=abc"));
    }

    #[test]
    fn violations_are_mismatches() {
        let by_vendor = Expect { vendor: Some(3), ..Expect::default() };
        assert!(check_page(&page(vec![product(1, 4, None, "1.00")]), &by_vendor).is_err());
        let by_category = Expect { categories: Some(Arc::new(HashSet::from([1]))), ..Expect::default() };
        assert!(check_page(&page(vec![product(1, 4, None, "1.00")]), &by_category).is_err());
        let ascending = Expect { price_order: Some(PriceOrder::Ascending), ..Expect::default() };
        assert!(check_page(&page(vec![product(1, 1, None, "2.00"), product(2, 1, None, "1.00")]), &ascending).is_err());
        let small = Expect { page_size: 1, ..Expect::default() };
        assert!(check_page(&page(vec![product(1, 1, None, "2.00"), product(2, 1, None, "1.00")]), &small).is_err());
        let missing_next = br#"{"previous": null, "results": []}"#;
        assert!(check_page(missing_next, &Expect::default()).is_err());
    }

    fn order(status: &str, total: &str, items: &[(i64, u64, &str, &str)]) -> Vec<u8> {
        let items: Vec<_> = items
            .iter()
            .map(|(product, quantity, unit, line)| {
                serde_json::json!({"id": 1, "product": product, "quantity": quantity, "unit_price": unit, "line_total": line})
            })
            .collect();
        serde_json::json!({"id": 42, "status": status, "total_price": total, "currency": "USD", "items": items})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn orders_must_hold_the_cart_and_add_up() {
        let cart = BTreeMap::from([(7, 3), (9, 1)]);
        let good = order("pending", "31.50", &[(7, 3, "10.00", "30.00"), (9, 1, "1.50", "1.50")]);
        assert_eq!(check_order(&good, Some(&cart)), Ok(42));
        assert_eq!(check_order(&good, None), Ok(42));
        let fewer = BTreeMap::from([(7, 3)]);
        assert!(check_order(&good, Some(&fewer)).is_err(), "a line the cart did not hold");
        let paid = order("paid", "30.00", &[(7, 3, "10.00", "30.00")]);
        assert!(check_order(&paid, None).is_err());
        let bad_line = order("pending", "20.00", &[(7, 3, "10.00", "20.00")]);
        assert!(check_order(&bad_line, None).is_err());
        let bad_total = order("pending", "30.01", &[(7, 3, "10.00", "30.00")]);
        assert!(check_order(&bad_total, None).is_err());
        assert!(check_order(&order("pending", "0.00", &[]), None).is_err());
        assert!(check_order(b"{}", None).is_err());
    }

    #[test]
    fn cart_lines_must_be_the_added_product() {
        let line = br#"{"id": 5, "product": 7, "quantity": 4, "unit_price": "1.00"}"#;
        assert!(check_cart_line(line, 7, Some(4)).is_ok());
        assert!(check_cart_line(line, 7, None).is_ok());
        assert!(check_cart_line(line, 7, Some(3)).is_err());
        assert!(check_cart_line(line, 8, None).is_err());
    }

    #[test]
    fn detail_must_be_the_asked_product() {
        let body = product(7, 1, None, "3.50").to_string().into_bytes();
        assert!(check_detail(&body, 7).is_ok());
        assert!(check_detail(&body, 8).is_err());
    }
}
