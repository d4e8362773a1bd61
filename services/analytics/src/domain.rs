//! Analytics rules as pure functions: the events, their amounts read, and
//! what each one says about an order, the `from`/`to` date range of a query, and the
//! average order value.
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, Utc};
use common::money::{self, UnreadableAmount};
use common::proto_time::from_timestamp;
use common::{ApiError, FieldErrors};
use proto::order::v1 as events;
use proto::payment::v1::PaymentRecord;
use rust_decimal::{Decimal, RoundingStrategy};

/// One line of an `OrderPlaced`.
#[derive(Debug, Clone)]
pub struct PlacedItem {
    pub vendor_id: i64,
    pub vendor_name: String,
    pub quantity: i64,
    pub line_total: Decimal,
}

/// The order stream's `OrderPlaced`, its amounts read.
#[derive(Debug, Clone)]
pub struct OrderPlaced {
    pub order_id: i64,
    pub user_id: i64,
    pub total_price: Decimal,
    pub currency: String,
    pub items: Vec<PlacedItem>,
    pub created_at: DateTime<Utc>,
}

/// The order stream's `OrderCancelled`, its amount read.
#[derive(Debug, Clone)]
pub struct OrderCancelled {
    pub order_id: i64,
    pub user_id: i64,
    /// A cancelled paid order (a refund) was paid, whichever of its events
    /// arrives first.
    pub was_paid: bool,
    pub total_price: Decimal,
    pub currency: String,
}

/// The payment stream's `PaymentSucceeded` and `PaymentRefunded`.
#[derive(Debug, Clone)]
pub struct PaymentEvent {
    pub payment_id: i64,
    pub order_id: i64,
    pub user_id: i64,
    pub amount: Decimal,
}

impl TryFrom<events::OrderPlaced> for OrderPlaced {
    type Error = String;

    fn try_from(placed: events::OrderPlaced) -> Result<Self, String> {
        let created_at = placed.created_at.as_ref().and_then(from_timestamp);
        let items = placed.items.into_iter().map(|item| {
            Ok(PlacedItem {
                vendor_id: item.vendor_id,
                vendor_name: item.vendor_name,
                quantity: item.quantity,
                line_total: money::from_text("line_total", &item.line_total)?,
            })
        });
        Ok(Self {
            order_id: placed.order_id,
            user_id: placed.user_id,
            total_price: money::from_text("total_price", &placed.total_price).map_err(|e| e.to_string())?,
            currency: placed.currency,
            items: items.collect::<Result<_, UnreadableAmount>>().map_err(|e| e.to_string())?,
            created_at: created_at.ok_or("an OrderPlaced without a valid created_at")?,
        })
    }
}

impl TryFrom<events::OrderCancelled> for OrderCancelled {
    type Error = String;

    fn try_from(cancelled: events::OrderCancelled) -> Result<Self, String> {
        Ok(Self {
            order_id: cancelled.order_id,
            user_id: cancelled.user_id,
            was_paid: cancelled.previous_status() == events::OrderStatus::Paid,
            total_price: money::from_text("total_price", &cancelled.total_price).map_err(|e| e.to_string())?,
            currency: cancelled.currency,
        })
    }
}

impl TryFrom<PaymentRecord> for PaymentEvent {
    type Error = String;

    fn try_from(payment: PaymentRecord) -> Result<Self, String> {
        Ok(Self {
            payment_id: payment.payment_id,
            order_id: payment.order_id,
            user_id: payment.user_id,
            amount: money::from_text("amount", &payment.amount).map_err(|e| e.to_string())?,
        })
    }
}

/// A vendor's share of an order: its sub-order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorOrder {
    pub vendor_id: i64,
    pub vendor_name: String,
    pub units: i64,
    pub revenue: Decimal,
}

impl OrderPlaced {
    /// The sub-orders, one per vendor in vendor-id order (the order rows
    /// are locked in).
    pub fn vendor_orders(&self) -> Vec<VendorOrder> {
        let mut vendors: BTreeMap<i64, VendorOrder> = BTreeMap::new();
        for item in &self.items {
            let vendor = vendors.entry(item.vendor_id).or_insert_with(|| VendorOrder {
                vendor_id: item.vendor_id,
                vendor_name: item.vendor_name.clone(),
                units: 0,
                revenue: Decimal::ZERO,
            });
            vendor.units += item.quantity;
            vendor.revenue += item.line_total;
        }
        vendors.into_values().collect()
    }

    /// `created_at` as stored: naive UTC, whole microseconds (what
    /// `DATETIME(6)` holds), truncated so a time just before midnight can
    /// never round into the next day.
    pub fn created_at_utc(&self) -> NaiveDateTime {
        self.created_at.trunc_subsecs(6).naive_utc()
    }
}

/// The days a query covers, both ends inclusive; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The span a `DATETIME` can hold: unbounded ends become its limits.
fn earliest() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(1000, 1, 1).unwrap_or(NaiveDate::MIN).and_time(NaiveTime::MIN)
}

fn latest() -> NaiveDateTime {
    let last_day = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    last_day.and_time(NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap_or(NaiveTime::MIN))
}

impl DateRange {
    /// The first and the last instant (inclusive, UTC, microseconds) an
    /// order's `created_at` may have to fall in the range, for
    /// `created_at BETWEEN ? AND ?`.
    pub fn bounds(&self) -> (NaiveDateTime, NaiveDateTime) {
        let start = self.from.map_or(earliest(), |day| day.and_time(NaiveTime::MIN).max(earliest()));
        let end_of = |day: NaiveDate| day.and_time(latest().time()).min(latest());
        (start, self.to.map_or(latest(), end_of))
    }
}

/// `from`/`to` as a client sent them: `YYYY-MM-DD`, either absent or
/// empty for unbounded, `from` not after `to`.
pub fn parse_range(from: Option<&str>, to: Option<&str>) -> Result<DateRange, ApiError> {
    let mut errors = FieldErrors::new();
    let mut day = |field: &str, raw: Option<&str>| match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
        None => None,
        Some(raw) => parse_date(raw).or_else(|| {
            errors.add(field, "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.");
            None
        }),
    };
    let range = DateRange { from: day("from", from), to: day("to", to) };
    if let (Some(from), Some(to)) = (range.from, range.to)
        && from > to
    {
        errors.add("to", "Ensure this date is not before from.");
    }
    errors.into_result()?;
    Ok(range)
}

/// Longest range a per-day series covers.
pub const MAX_CHART_DAYS: i64 = 366;

/// A per-day series needs both bounds, at most `MAX_CHART_DAYS` apart.
pub fn require_chart_range(range: &DateRange) -> Result<(), ApiError> {
    match (range.from, range.to) {
        (Some(from), Some(to)) if (to - from).num_days() < MAX_CHART_DAYS => Ok(()),
        (Some(_), Some(_)) => {
            Err(ApiError::field("to", format!("Ensure the range covers at most {MAX_CHART_DAYS} days.")))
        }
        (None, _) => Err(ApiError::field("from", "This field is required.")),
        (_, None) => Err(ApiError::field("to", "This field is required.")),
    }
}

/// Exactly `YYYY-MM-DD` with a real calendar day.
fn parse_date(raw: &str) -> Option<NaiveDate> {
    let shape = raw.len() == 10
        && raw.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if shape { NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok() } else { None }
}

/// `revenue / paid_orders`, rounded half-up to cents; zero without any.
pub fn average_order_value(revenue: Decimal, paid_orders: i64) -> Decimal {
    if paid_orders <= 0 {
        return Decimal::ZERO;
    }
    (revenue / Decimal::from(paid_orders)).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ErrorKind;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_chart_range_has_both_bounds_and_at_most_a_year() {
        let range = |from: Option<&str>, to: Option<&str>| DateRange { from: from.map(date), to: to.map(date) };
        assert!(require_chart_range(&range(Some("2026-01-01"), Some("2026-12-31"))).is_ok());
        assert!(require_chart_range(&range(Some("2024-01-01"), Some("2024-12-31"))).is_ok(), "a leap year");
        let too_long = require_chart_range(&range(Some("2025-01-01"), Some("2026-01-02"))).expect_err("367 days");
        assert!(too_long.fields.has("to"));
        assert!(require_chart_range(&range(None, Some("2026-01-01"))).expect_err("no from").fields.has("from"));
        assert!(require_chart_range(&range(Some("2026-01-01"), None)).expect_err("no to").fields.has("to"));
    }

    fn cents(amount: i64) -> Decimal {
        Decimal::new(amount, 2)
    }

    #[test]
    fn a_range_covers_whole_utc_days_inclusive() {
        let range = parse_range(Some("2024-03-01"), Some("2024-03-01")).expect("range");
        let (start, end) = range.bounds();
        assert_eq!(start.to_string(), "2024-03-01 00:00:00");
        assert_eq!(end.to_string(), "2024-03-01 23:59:59.999999");
    }

    #[test]
    fn absent_or_empty_ends_are_unbounded_within_what_the_database_holds() {
        assert_eq!(parse_range(None, Some(" ")).expect("range"), DateRange::default());
        let (start, end) = DateRange::default().bounds();
        assert_eq!(
            (start.to_string().as_str(), end.to_string().as_str()),
            ("1000-01-01 00:00:00", "9999-12-31 23:59:59.999999")
        );
        let (start, _) = DateRange { from: Some(date("0999-05-05")), to: None }.bounds();
        assert_eq!(start, earliest());
    }

    #[test]
    fn bad_dates_name_their_field() {
        for bad in ["2024-13-01", "2024-02-30", "yesterday", "2024-1-01", "20240101", "+2024-01-01", "2024-01-01T00:00"]
        {
            let error = parse_range(Some(bad), Some("2024-01-01")).expect_err(bad);
            assert_eq!(error.kind, ErrorKind::Invalid);
            assert!(error.fields.has("from") && !error.fields.has("to"), "{bad}");
        }
        let both = parse_range(Some("x"), Some("y")).expect_err("both");
        assert!(both.fields.has("from") && both.fields.has("to"));
    }

    #[test]
    fn from_after_to_is_refused() {
        let error = parse_range(Some("2024-03-02"), Some("2024-03-01")).expect_err("reversed");
        assert!(error.fields.has("to"));
        assert!(parse_range(Some("2024-02-29"), Some("2024-02-29")).is_ok());
    }

    #[test]
    fn average_rounds_half_up_to_cents() {
        assert_eq!(average_order_value(cents(1000), 3), cents(333));
        assert_eq!(average_order_value(cents(2000), 3), cents(667));
        assert_eq!(average_order_value(cents(1), 2), cents(1));
        assert_eq!(average_order_value(cents(5), 2), cents(3));
        assert_eq!(average_order_value(cents(999), 0), Decimal::ZERO);
    }

    #[test]
    fn an_order_splits_into_one_sub_order_per_vendor() {
        let item = |product_id, vendor_id, vendor_name: &str, quantity, line_total: &str| events::PlacedItem {
            product_id,
            vendor_id,
            vendor_name: vendor_name.into(),
            quantity,
            line_total: line_total.into(),
            ..Default::default()
        };
        let created_at = DateTime::parse_from_rfc3339("2024-03-01T23:30:00.1234567-02:00").expect("time");
        let placed = OrderPlaced::try_from(events::OrderPlaced {
            order_id: 1,
            user_id: 2,
            total_price: "31.00".into(),
            currency: "USD".into(),
            items: vec![item(5, 9, "Nine", 2, "10.00"), item(3, 4, "Four", 1, "1.00"), item(7, 9, "Nine", 4, "20.00")],
            created_at: Some(common::proto_time::timestamp(created_at.with_timezone(&Utc))),
        })
        .expect("readable");
        let split = placed.vendor_orders();
        assert_eq!(
            split,
            [
                VendorOrder { vendor_id: 4, vendor_name: "Four".into(), units: 1, revenue: cents(100) },
                VendorOrder { vendor_id: 9, vendor_name: "Nine".into(), units: 6, revenue: cents(3000) },
            ]
        );
        assert_eq!(placed.created_at_utc().to_string(), "2024-03-02 01:30:00.123456");
    }
}
