//! The one rule for whether customers may see and buy a product: it is
//! active and its vendor is approved. Catalog's public listings, index and
//! detail reads, cart's adds and order's checkout all ask it here.
use crate::status::VendorStatus;

pub fn is_buyable(is_active: bool, vendor_status: VendorStatus) -> bool {
    is_active && vendor_status == VendorStatus::Approved
}

/// Whether a vendor in this status may sell (manage its own products and
/// see its sub-orders).
pub fn sells(vendor_status: VendorStatus) -> bool {
    vendor_status == VendorStatus::Approved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_products_of_approved_vendors() {
        assert!(is_buyable(true, VendorStatus::Approved));
        assert!(!is_buyable(false, VendorStatus::Approved));
        assert!(!is_buyable(true, VendorStatus::Pending));
        assert!(!is_buyable(true, VendorStatus::Suspended));
        assert!(!is_buyable(true, VendorStatus::Unspecified));
    }
}
