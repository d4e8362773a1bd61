//! Inventory rules: what a stock level may be.
use common::ApiError;

pub const MAX_STOCK: i64 = 1_000_000;

/// A stock level a vendor may set: 0..=1,000,000 units.
pub fn validate_stock(available: i64) -> Result<u32, ApiError> {
    if available < 0 {
        return Err(ApiError::field("stock", "Ensure this value is greater than or equal to 0."));
    }
    if available > MAX_STOCK {
        return Err(ApiError::field("stock", format!("Ensure this value is less than or equal to {MAX_STOCK}.")));
    }
    u32::try_from(available).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_is_bounded() {
        assert_eq!(validate_stock(0).ok(), Some(0));
        assert_eq!(validate_stock(MAX_STOCK).ok(), Some(1_000_000));
        assert!(validate_stock(-1).is_err());
        assert!(validate_stock(MAX_STOCK + 1).is_err());
    }
}
