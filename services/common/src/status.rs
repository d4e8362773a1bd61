//! The one mapping between each status of the protos and its name. The
//! name is what the REST contract shows (`"approved"`, `"paid"`, …) and
//! what each owner stores in its status column, so the gateway renders and
//! parses statuses here and the stores bind and read them here; no status
//! is written as a string anywhere else. On the wire between services a
//! status is only ever the enum.
pub use proto::identity::v1::VendorStatus;
pub use proto::order::v1::OrderStatus;
pub use proto::payment::v1::PaymentStatus;

use crate::ApiError;

/// A status enum with its names. `Unspecified` (a peer that sent none) has
/// no name: it is never stored and never shown.
pub trait Named: Sized + Copy + PartialEq + 'static {
    /// Every status with its name, in the contract's order.
    const NAMES: &'static [(Self, &'static str)];

    /// The status's name; empty for `Unspecified`.
    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(status, _)| *status == self).map_or("", |(_, name)| name)
    }

    /// The status with this name, ignoring case and surrounding blanks
    /// (as the contract's filters and bodies always have).
    fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::NAMES.iter().find(|(_, known)| known.eq_ignore_ascii_case(name)).map(|(status, _)| *status)
    }

    /// Every name, for a choice list (OpenAPI, a filter's options).
    fn names() -> impl Iterator<Item = &'static str> {
        Self::NAMES.iter().map(|(_, name)| *name)
    }
}

impl Named for VendorStatus {
    const NAMES: &'static [(Self, &'static str)] =
        &[(Self::Pending, "pending"), (Self::Approved, "approved"), (Self::Suspended, "suspended")];
}

impl Named for OrderStatus {
    const NAMES: &'static [(Self, &'static str)] =
        &[(Self::Pending, "pending"), (Self::Paid, "paid"), (Self::Cancelled, "cancelled")];
}

impl Named for PaymentStatus {
    const NAMES: &'static [(Self, &'static str)] = &[
        (Self::Pending, "pending"),
        (Self::Succeeded, "succeeded"),
        (Self::Failed, "failed"),
        (Self::Refunded, "refunded"),
    ];
}

/// A status a request must state: unset or a number this build does not
/// know is the field's error (the gateway only ever sends a known one).
pub fn required<S: Named + Default + TryFrom<i32>>(field: &str, raw: i32) -> Result<S, ApiError> {
    S::try_from(raw).ok().filter(|s| *s != S::default()).ok_or_else(|| ApiError::field(field, "Unknown status."))
}

/// A status a request may state as a filter (`None`: any).
pub fn filter<S: Named + Default + TryFrom<i32>>(field: &str, raw: Option<i32>) -> Result<Option<S>, ApiError> {
    raw.map(|raw| required(field, raw)).transpose()
}

/// A stored name read back: a name this build does not know is a corrupt
/// row, reported as `Unspecified` (never shown as a status, never
/// buyable, never cancellable) rather than failing the whole read.
pub fn stored<S: Named + Default>(name: &str) -> S {
    S::from_name(name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<S: Named + std::fmt::Debug>() {
        for (status, name) in S::NAMES {
            assert_eq!(status.name(), *name);
            assert_eq!(S::from_name(name), Some(*status));
            assert_eq!(S::from_name(&format!(" {} ", name.to_uppercase())), Some(*status));
        }
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        round_trips::<VendorStatus>();
        round_trips::<OrderStatus>();
        round_trips::<PaymentStatus>();
    }

    #[test]
    fn unspecified_has_no_name_and_no_name_means_it() {
        assert_eq!(VendorStatus::Unspecified.name(), "");
        assert_eq!(OrderStatus::from_name("shipped"), None);
        assert_eq!(OrderStatus::from_name(""), None);
        assert_eq!(stored::<PaymentStatus>("lost"), PaymentStatus::Unspecified);
    }

    #[test]
    fn a_request_states_a_known_status_or_none() {
        assert_eq!(required::<OrderStatus>("status", OrderStatus::Paid.into()).ok(), Some(OrderStatus::Paid));
        assert!(required::<OrderStatus>("status", 0).is_err());
        assert!(required::<OrderStatus>("status", 99).is_err());
        assert_eq!(filter::<VendorStatus>("status", None).ok(), Some(None));
        assert!(filter::<VendorStatus>("status", Some(0)).is_err());
    }
}
