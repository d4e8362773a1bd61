//! Cart rules: what a quantity may be, and when a product can sit in a
//! cart at all.
use common::ApiError;

/// The most units of one product a line may hold, whatever the stock.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// A quantity as a client sent it: an integer ≥ 1 (`None`: the default 1).
pub fn parse_quantity(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(1);
    };
    let value: i64 = raw.trim().parse().map_err(|_| ApiError::field("quantity", "A valid integer is required."))?;
    if value < 1 {
        return Err(ApiError::field("quantity", "Ensure this value is greater than or equal to 1."));
    }
    if value > MAX_QUANTITY {
        return Err(ApiError::field("quantity", format!("Ensure this value is less than or equal to {MAX_QUANTITY}.")));
    }
    Ok(value)
}

/// The whole line must fit in the stock.
pub fn check_stock(quantity: i64, available: i64) -> Result<(), ApiError> {
    if quantity > available {
        Err(ApiError::field("quantity", format!("Only {} left in stock.", available.max(0))))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_default_to_one_and_must_be_positive() {
        assert_eq!(parse_quantity(None).ok(), Some(1));
        assert_eq!(parse_quantity(Some("3")).ok(), Some(3));
        assert!(parse_quantity(Some("0")).is_err());
        assert!(parse_quantity(Some("-2")).is_err());
        assert!(parse_quantity(Some("two")).is_err());
        assert!(parse_quantity(Some("1.5")).is_err());
    }

    #[test]
    fn the_whole_line_must_fit_in_stock() {
        assert!(check_stock(3, 3).is_ok());
        let error = check_stock(4, 3).expect_err("too many");
        assert_eq!(error.fields.iter().next().map(|(_, m)| m[0].clone()), Some("Only 3 left in stock.".to_owned()));
    }
}
