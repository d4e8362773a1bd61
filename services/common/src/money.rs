//! Money: `rust_decimal::Decimal` in Rust, `DECIMAL(12,2)` in SQL and a
//! decimal string with two places on the wire ("19.99"). Never f64, and
//! never defaulted: an amount that cannot be read is an error where it
//! enters (a gRPC reply, an event), named after the field it came in.
use rust_decimal::Decimal;

/// The wire form: always two decimal places ("19.99", "0.00").
pub fn to_text(amount: Decimal) -> String {
    format!("{:.2}", amount.round_dp(2))
}

/// A wire amount that is not a decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} is not an amount: {text:?}")]
pub struct UnreadableAmount {
    pub field: &'static str,
    pub text: String,
}

/// Reads the wire amount `field` carries.
pub fn from_text(field: &'static str, text: &str) -> Result<Decimal, UnreadableAmount> {
    text.trim().parse().map_err(|_| UnreadableAmount { field, text: text.chars().take(40).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_places_always() {
        assert_eq!(to_text(Decimal::new(5, 0)), "5.00");
        assert_eq!(to_text(Decimal::new(1999, 2)), "19.99");
        assert_eq!(to_text(Decimal::ZERO), "0.00");
    }

    #[test]
    fn an_unreadable_amount_names_its_field() {
        assert_eq!(from_text("price", "19.99"), Ok(Decimal::new(1999, 2)));
        let error = from_text("price", "").expect_err("empty");
        assert_eq!(error.to_string(), "price is not an amount: \"\"");
        assert!(from_text("total", "x").is_err());
    }
}
