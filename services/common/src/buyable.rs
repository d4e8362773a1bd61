//! The one rule for whether customers may see and buy a product: it is
//! active and its vendor is approved. Catalog's public listings, index and
//! detail reads, cart's adds and order's checkout all ask it here.

/// The vendor status under which a shop sells.
pub const APPROVED: &str = "approved";

pub fn is_buyable(is_active: bool, vendor_status: &str) -> bool {
    is_active && vendor_status == APPROVED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_products_of_approved_vendors() {
        assert!(is_buyable(true, "approved"));
        assert!(!is_buyable(false, "approved"));
        assert!(!is_buyable(true, "pending"));
        assert!(!is_buyable(true, "suspended"));
    }
}
