//! The contract's statuses at the edge. Their names live in
//! `common::status`, one table per status; services send only the enums.
//! Here a name in a request becomes its enum, with DRF's message when it
//! is not one, and the names become OpenAPI choices and console labels.
use common::FieldErrors;
use common::status::Named;
use utoipa::openapi::schema::ObjectBuilder;

use crate::openapi::schemas;

/// A status a JSON body names, one of `allowed` (any case); otherwise
/// DRF's `ChoiceField` message on `field`.
pub fn chosen<S: Named>(errors: &mut FieldErrors, field: &str, raw: &str, allowed: &[S]) -> Option<S> {
    let found = S::from_name(raw).filter(|status| allowed.contains(status));
    if found.is_none() {
        errors.add(field, format!("\"{}\" is not a valid choice.", raw.trim()));
    }
    found
}

/// A status a query filters by: empty or left out is no filter (as
/// django-filter reads it); an unknown one is django-filter's message.
pub fn filter<S: Named>(errors: &mut FieldErrors, field: &str, raw: Option<&str>) -> Option<S> {
    let raw = raw.map(str::trim).filter(|raw| !raw.is_empty())?;
    let found = S::from_name(raw);
    if found.is_none() {
        errors.add(field, format!("Select a valid choice. {raw} is not one of the available choices."));
    }
    found
}

/// The OpenAPI choice of a status's names; `lenient` as
/// `schemas::choice` says.
pub fn choice<S: Named>(lenient: bool) -> ObjectBuilder {
    schemas::choice(&S::names().collect::<Vec<_>>(), lenient)
}

/// A status as the console labels it: its name, capitalised.
pub fn label<S: Named>(status: S) -> String {
    let mut chars = status.name().chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// One option of a console filter.
pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

/// Every status as a console filter's option, `selected` marked.
pub fn options<S: Named>(selected: Option<&str>) -> Vec<Choice> {
    let selected = selected.and_then(S::from_name);
    S::NAMES
        .iter()
        .map(|(status, name)| Choice { value: name, label: label(*status), selected: selected == Some(*status) })
        .collect()
}

/// The OpenAPI components of the statuses, named as before they were
/// generated from the names.
pub mod schema {
    use common::status as names;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    macro_rules! status_schema {
        ($(#[doc = $doc:literal] $name:ident,)*) => {$(
            #[doc = $doc]
            pub struct $name;

            impl utoipa::PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    super::choice::<names::$name>(false).description(Some($doc.trim())).into()
                }
            }

            impl utoipa::ToSchema for $name {}
        )*};
    }

    status_schema! {
        /// A vendor profile's verification status.
        VendorStatus,
        /// An order's (and its sub-orders') status.
        OrderStatus,
        /// A payment's status.
        PaymentStatus,
    }
}

#[cfg(test)]
mod tests {
    use common::status::{OrderStatus, PaymentStatus, VendorStatus};

    use super::*;

    #[test]
    fn a_body_names_one_of_the_allowed_statuses() {
        let mut errors = FieldErrors::new();
        let allowed = [PaymentStatus::Succeeded, PaymentStatus::Failed];
        assert_eq!(chosen(&mut errors, "outcome", " FAILED ", &allowed), Some(PaymentStatus::Failed));
        assert_eq!(chosen(&mut errors, "outcome", "refunded", &allowed), None);
        let messages: Vec<_> = errors.iter().cloned().collect();
        assert_eq!(messages, vec![("outcome".to_owned(), vec!["\"refunded\" is not a valid choice.".to_owned()])]);
    }

    #[test]
    fn an_empty_filter_is_none_and_an_unknown_one_an_error() {
        let mut errors = FieldErrors::new();
        assert_eq!(filter::<OrderStatus>(&mut errors, "status", Some(" ")), None);
        assert_eq!(filter::<OrderStatus>(&mut errors, "status", Some("Paid")), Some(OrderStatus::Paid));
        assert!(errors.is_empty());
        assert_eq!(filter::<OrderStatus>(&mut errors, "status", Some("shipped")), None);
        assert!(!errors.is_empty());
    }

    #[test]
    fn labels_are_capitalised_names() {
        assert_eq!(label(VendorStatus::Suspended), "Suspended");
        let options = options::<OrderStatus>(Some("PAID"));
        let shown: Vec<_> = options.iter().map(|o| (o.value, o.label.as_str(), o.selected)).collect();
        assert_eq!(shown, [("pending", "Pending", false), ("paid", "Paid", true), ("cancelled", "Cancelled", false)]);
    }
}
