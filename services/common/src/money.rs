//! Money: `rust_decimal::Decimal` in Rust, `DECIMAL(12,2)` in SQL and a
//! decimal string with two places on the wire ("19.99"). Never f64.
use rust_decimal::Decimal;

/// The wire form: always two decimal places ("19.99", "0.00").
pub fn to_text(amount: Decimal) -> String {
    format!("{:.2}", amount.round_dp(2))
}

/// A wire amount (already validated by its producer).
pub fn from_text(text: &str) -> Option<Decimal> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_places_always() {
        assert_eq!(to_text(Decimal::new(5, 0)), "5.00");
        assert_eq!(to_text(Decimal::new(1999, 2)), "19.99");
        assert_eq!(to_text(Decimal::ZERO), "0.00");
        assert_eq!(from_text("19.99"), Some(Decimal::new(1999, 2)));
        assert_eq!(from_text("x"), None);
    }
}
