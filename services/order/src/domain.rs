//! Order rules as pure functions: the order status machine,
//! and turning a cart plus a catalog snapshot into an order (lines, one
//! sub-order per vendor, totals) or the reason it cannot be placed, and
//! the events that announce an order's moves.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::proto_time::timestamp;
use common::{ApiError, money};
use proto::order::v1 as events;
use rust_decimal::Decimal;

pub use common::status::{OrderStatus, PaymentStatus};

/// Whether a refund (or expiry) may cancel an order in this status
/// (`pending → paid → cancelled`, `pending → cancelled`).
pub fn cancellable(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::Pending | OrderStatus::Paid)
}

/// Whether an order that records `recorded` (payment id, status) should
/// record `incoming` instead. A newer payment replaces an older one; for
/// the same payment the status only moves forward (`pending`, then
/// `succeeded` or `failed`, then `refunded`). Payment events may arrive
/// in any order — several order replicas consume them concurrently — so a
/// late `PaymentCreated` must not turn a `succeeded` back into `pending`.
pub fn payment_supersedes(recorded: Option<(i64, PaymentStatus)>, incoming: (i64, PaymentStatus)) -> bool {
    let rank = |status| match status {
        PaymentStatus::Pending | PaymentStatus::Unspecified => 0,
        PaymentStatus::Succeeded | PaymentStatus::Failed => 1,
        PaymentStatus::Refunded => 2,
    };
    match recorded {
        None => true,
        Some((id, _)) if id != incoming.0 => id < incoming.0,
        Some((_, status)) => rank(status) <= rank(incoming.1),
    }
}

/// What catalog says of a product at checkout.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub product_id: i64,
    pub name: String,
    pub sku: String,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub price: Decimal,
    pub buyable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemDraft {
    pub product_id: i64,
    pub name: String,
    pub sku: String,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub unit_price: Decimal,
    pub quantity: i64,
    pub line_total: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VendorDraft {
    pub vendor_id: i64,
    pub vendor_name: String,
    pub subtotal: Decimal,
    pub items: Vec<ItemDraft>,
}

/// An order ready to be written: sub-orders by vendor id, items by product id.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderDraft {
    pub total: Decimal,
    pub vendors: Vec<VendorDraft>,
}

impl OrderDraft {
    /// Every (product, quantity), in product-id order: the order in which
    /// stock rows are locked, so concurrent checkouts never deadlock.
    pub fn decrements(&self) -> Vec<(i64, i64)> {
        let mut all: Vec<(i64, i64)> =
            self.vendors.iter().flat_map(|v| v.items.iter().map(|i| (i.product_id, i.quantity))).collect();
        all.sort_unstable();
        all
    }
}

/// The largest amount a line, a sub-order or an order can hold: its
/// column is `DECIMAL(12,2)`.
/// The `OrderPlaced` a draft becomes once written as order `order_id`.
pub fn order_placed(
    order_id: i64,
    user_id: i64,
    draft: &OrderDraft,
    currency: &str,
    created_at: DateTime<Utc>,
) -> events::OrderPlaced {
    let items = draft.vendors.iter().flat_map(|v| &v.items).map(|i| events::PlacedItem {
        product_id: i.product_id,
        vendor_id: i.vendor_id,
        vendor_name: i.vendor_name.clone(),
        quantity: i.quantity,
        unit_price: money::to_text(i.unit_price),
        line_total: money::to_text(i.line_total),
    });
    events::OrderPlaced {
        order_id,
        user_id,
        total_price: money::to_text(draft.total),
        currency: currency.to_owned(),
        items: items.collect(),
        created_at: Some(timestamp(created_at)),
    }
}

/// The `OrderCancelled` of an order that was `previous` (a paid one is
/// refunded).
pub fn order_cancelled(
    order_id: i64,
    user_id: i64,
    previous: OrderStatus,
    reason: &str,
    total: Decimal,
    currency: String,
) -> events::OrderCancelled {
    events::OrderCancelled {
        order_id,
        user_id,
        previous_status: previous.into(),
        reason: reason.to_owned(),
        total_price: money::to_text(total),
        currency,
    }
}

pub fn max_amount() -> Decimal {
    Decimal::new(999_999_999_999, 2)
}

/// An order (or one of its lines) worth more than its column can store:
/// refused before anything is written, rather than failing the insert.
pub fn order_total_too_large() -> ApiError {
    ApiError::bad_request(
        format!("The order total is too large: an order can hold at most {}.", max_amount()),
        "order_total_too_large",
    )
}

/// A customer already has `cap` unpaid orders: pay one, or let one expire.
pub fn too_many_pending_orders(cap: u32) -> ApiError {
    ApiError::conflict(
        format!("You have too many unpaid orders ({cap}). Pay or wait for one to expire."),
        "too_many_pending_orders",
    )
}

pub fn cart_empty() -> ApiError {
    ApiError::bad_request("Cart is empty.", "cart_empty")
}

pub fn insufficient_stock(name: &str, product_id: i64, requested: i64, available: i64) -> ApiError {
    ApiError::conflict(
        format!("Not enough stock for '{name}': requested {requested}, available {available}."),
        "insufficient_stock",
    )
    .with_extra("products", serde_json::json!([product_id]))
}

/// Builds the order from the cart's lines and the catalog's snapshot:
/// every product must be there and buyable, else `product_unavailable`
/// names all that are not; every line total, sub-order and the order total
/// must fit `max_amount`, else `order_total_too_large`.
pub fn draft_order(lines: &[(i64, i64)], snapshots: &[Snapshot]) -> Result<OrderDraft, ApiError> {
    let mut wanted: BTreeMap<i64, i64> = BTreeMap::new();
    for (product, quantity) in lines {
        if *quantity > 0 {
            let units = wanted.entry(*product).or_default();
            *units = units.saturating_add(*quantity);
        }
    }
    if wanted.is_empty() {
        return Err(cart_empty());
    }
    let unavailable: Vec<i64> =
        wanted.keys().filter(|id| !snapshots.iter().any(|s| s.product_id == **id && s.buyable)).copied().collect();
    if !unavailable.is_empty() {
        return Err(ApiError::bad_request("Some products in the cart are no longer available.", "product_unavailable")
            .with_extra("products", serde_json::json!(unavailable)));
    }
    let mut vendors: BTreeMap<i64, VendorDraft> = BTreeMap::new();
    for (product_id, quantity) in wanted {
        let Some(s) = snapshots.iter().find(|s| s.product_id == product_id) else {
            continue;
        };
        // Checked: quantities and prices come from outside, and an overflow
        // must be this 400, never a panic.
        let line_total = s
            .price
            .checked_mul(Decimal::from(quantity))
            .filter(|total| *total <= max_amount())
            .ok_or_else(order_total_too_large)?;
        let vendor = vendors.entry(s.vendor_id).or_insert_with(|| VendorDraft {
            vendor_id: s.vendor_id,
            vendor_name: s.vendor_name.clone(),
            subtotal: Decimal::ZERO,
            items: Vec::new(),
        });
        vendor.subtotal = vendor.subtotal.checked_add(line_total).ok_or_else(order_total_too_large)?;
        vendor.items.push(ItemDraft {
            product_id,
            name: s.name.clone(),
            sku: s.sku.clone(),
            vendor_id: s.vendor_id,
            vendor_name: s.vendor_name.clone(),
            unit_price: s.price,
            quantity,
            line_total,
        });
    }
    let vendors: Vec<VendorDraft> = vendors.into_values().collect();
    let total = vendors
        .iter()
        .try_fold(Decimal::ZERO, |total, vendor| total.checked_add(vendor.subtotal))
        .filter(|total| *total <= max_amount())
        .ok_or_else(order_total_too_large)?;
    Ok(OrderDraft { total, vendors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(product_id: i64, vendor_id: i64, price: i64, buyable: bool) -> Snapshot {
        Snapshot {
            product_id,
            name: format!("P{product_id}"),
            sku: String::new(),
            vendor_id,
            vendor_name: format!("V{vendor_id}"),
            price: Decimal::new(price, 2),
            buyable,
        }
    }

    #[test]
    fn orders_split_by_vendor_and_sum_exactly() {
        let draft = draft_order(
            &[(3, 2), (1, 1), (2, 3), (3, 1)],
            &[snapshot(1, 10, 1999, true), snapshot(2, 20, 250, true), snapshot(3, 10, 1, true)],
        )
        .expect("draft");
        assert_eq!(draft.total, Decimal::new(1999 + 750 + 3, 2));
        assert_eq!(draft.vendors.iter().map(|v| v.vendor_id).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(draft.vendors[0].subtotal, Decimal::new(2002, 2));
        assert_eq!(draft.decrements(), [(1, 1), (2, 3), (3, 3)]);
    }

    #[test]
    fn an_empty_cart_or_unavailable_products_are_refused() {
        assert_eq!(draft_order(&[], &[]).expect_err("empty").code.as_deref(), Some("cart_empty"));
        let error = draft_order(&[(1, 1), (2, 1), (3, 1)], &[snapshot(1, 10, 100, true), snapshot(2, 10, 100, false)])
            .expect_err("unavailable");
        assert_eq!(error.code.as_deref(), Some("product_unavailable"));
        assert_eq!(error.extra, vec![("products".to_owned(), serde_json::json!([2, 3]))]);
    }

    #[test]
    fn an_order_worth_more_than_its_column_holds_is_refused() {
        let dearest = Snapshot { price: Decimal::new(9_999_999_999, 2), ..snapshot(1, 10, 0, true) };
        let second = Snapshot { product_id: 2, vendor_id: 20, ..dearest.clone() };
        // 100 at 99,999,999.99 fit (9,999,999,999.00); one more unit does not.
        assert_eq!(
            draft_order(&[(1, 100)], std::slice::from_ref(&dearest)).expect("fits").total.to_string(),
            "9999999999.00"
        );
        let line = draft_order(&[(1, 101)], std::slice::from_ref(&dearest)).expect_err("a line too large");
        assert_eq!(line.code.as_deref(), Some("order_total_too_large"));
        assert_eq!(line.kind, common::ErrorKind::Invalid);
        // Two lines that each fit, and an order total that does not.
        let total = draft_order(&[(1, 60), (2, 60)], &[dearest.clone(), second]).expect_err("a total too large");
        assert_eq!(total.code.as_deref(), Some("order_total_too_large"));
        // Quantities beyond any stock neither overflow nor panic.
        let huge = draft_order(&[(1, i64::MAX), (1, i64::MAX)], &[dearest]).expect_err("huge");
        assert_eq!(huge.code.as_deref(), Some("order_total_too_large"));
    }

    #[test]
    fn a_payment_status_never_moves_back_and_a_newer_payment_wins() {
        use PaymentStatus::{Failed, Pending, Refunded, Succeeded};
        assert!(payment_supersedes(None, (1, Pending)));
        assert!(payment_supersedes(Some((1, Pending)), (1, Succeeded)));
        assert!(payment_supersedes(Some((1, Succeeded)), (1, Refunded)));
        assert!(payment_supersedes(Some((1, Succeeded)), (1, Succeeded)));
        assert!(!payment_supersedes(Some((1, Succeeded)), (1, Pending)));
        assert!(!payment_supersedes(Some((1, Refunded)), (1, Succeeded)));
        assert!(!payment_supersedes(Some((1, Failed)), (1, Pending)));
        assert!(payment_supersedes(Some((1, Failed)), (2, Pending)));
        assert!(!payment_supersedes(Some((2, Pending)), (1, Succeeded)));
    }

    #[test]
    fn statuses_move_forward_only() {
        assert!(cancellable(OrderStatus::Pending));
        assert!(cancellable(OrderStatus::Paid));
        assert!(!cancellable(OrderStatus::Cancelled));
        assert!(!cancellable(OrderStatus::Unspecified));
    }
}
