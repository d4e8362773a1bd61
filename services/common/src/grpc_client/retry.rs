//! Which downstream calls may be sent a second time, and why.
//!
//! A call that failed at the transport level (the replica died, the
//! connection was reset) may or may not have reached the service. Sending
//! it again is safe only when doing it twice has the effect of doing it
//! once. Those calls are listed here by gRPC path, each with its reason;
//! everything else is a write that is never blindly retried: it is sent
//! again only when the replica provably never processed it (the
//! connection was refused, hyper cancelled it before writing it, or the
//! replica refused its stream with GOAWAY or REFUSED_STREAM, as a replica
//! draining for a restart does). A caller that knows a particular write is
//! safe (it carries an idempotency key the service dedupes on) marks that
//! one request with [`RetrySafe`].

/// Marks one request as safe to send twice; put it in the request's
/// extensions (tonic moves them onto the HTTP request). Say at the call
/// site why it is safe.
#[derive(Debug, Clone, Copy)]
pub struct RetrySafe;

/// Calls that change nothing, or whose repetition changes nothing more.
const RETRY_SAFE: &[(&str, &str)] = &[
    // Reads: no effect at all.
    ("/grpc.health.v1.Health/Check", "read"),
    ("/marketplace.identity.v1.Identity/GetProfile", "read"),
    ("/marketplace.identity.v1.Identity/GetMyVendor", "read"),
    ("/marketplace.identity.v1.Identity/ListVendors", "read"),
    ("/marketplace.identity.v1.Identity/GetVendors", "read"),
    ("/marketplace.identity.v1.Identity/SearchVendors", "read"),
    ("/marketplace.identity.v1.Identity/GetPublicKeys", "read"),
    ("/marketplace.catalog.v1.Catalog/ListCategories", "read"),
    ("/marketplace.catalog.v1.Catalog/GetCategory", "read"),
    ("/marketplace.catalog.v1.Catalog/ListProducts", "read"),
    ("/marketplace.catalog.v1.Catalog/GetFacets", "read"),
    ("/marketplace.catalog.v1.Catalog/GetProduct", "read"),
    ("/marketplace.catalog.v1.Catalog/GetProducts", "read"),
    ("/marketplace.catalog.v1.Catalog/GetCallerVendor", "read"),
    ("/marketplace.catalog.v1.Catalog/AuthorizeProductWrite", "read: answers whether the caller may write"),
    ("/marketplace.cart.v1.Cart/ListItems", "read"),
    ("/marketplace.cart.v1.Cart/Summary", "read"),
    ("/marketplace.cart.v1.Cart/GetCart", "read"),
    ("/marketplace.order.v1.Order/GetOrder", "read"),
    ("/marketplace.order.v1.Order/ListOrders", "read"),
    ("/marketplace.order.v1.Order/ListVendorOrders", "read"),
    ("/marketplace.order.v1.Order/GetStock", "read"),
    ("/marketplace.payment.v1.Payment/GetPayment", "read"),
    ("/marketplace.payment.v1.Payment/ListOrderPayments", "read"),
    ("/marketplace.analytics.v1.Analytics/GetSummary", "read"),
    ("/marketplace.analytics.v1.Analytics/ListVendorStats", "read"),
    ("/marketplace.analytics.v1.Analytics/ListDailyRevenue", "read"),
    ("/marketplace.analytics.v1.Analytics/ListVendorDays", "read"),
    ("/marketplace.events.v1.ParkedEvents/ListParked", "read"),
    // Writes whose second application is a no-op.
    ("/marketplace.catalog.v1.Catalog/RefreshVendor", "copies identity's current vendor status; converges"),
    ("/marketplace.order.v1.Order/SetStock", "sets an absolute level, not a delta"),
    (
        "/marketplace.cart.v1.Cart/RemoveItems",
        "once per order id (cart_removals); a prune of quantity 0 lines converges",
    ),
    ("/marketplace.payment.v1.Payment/HandleWebhook", "each provider event id is applied at most once (unique row)"),
    ("/marketplace.payment.v1.Payment/InitiatePayment", "one open payment per order (generated unique key)"),
];

/// Whether the call at `path` may be repeated after a transport failure.
pub fn is_retry_safe(path: &str) -> bool {
    RETRY_SAFE.iter().any(|(safe, _)| *safe == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_retry_safe_and_order_writes_are_not() {
        assert!(is_retry_safe("/marketplace.catalog.v1.Catalog/GetProducts"));
        assert!(is_retry_safe("/grpc.health.v1.Health/Check"));
        assert!(!is_retry_safe("/marketplace.order.v1.Order/PlaceOrder"));
        assert!(!is_retry_safe("/marketplace.order.v1.Order/RefundOrder"));
        assert!(!is_retry_safe("/marketplace.identity.v1.Identity/Register"));
        assert!(!is_retry_safe("/marketplace.cart.v1.Cart/AddItem"));
    }

    #[test]
    fn every_listed_path_names_a_real_method() {
        let descriptors = proto::FILE_DESCRIPTOR_SET;
        for (path, _) in RETRY_SAFE.iter().filter(|(p, _)| p.starts_with("/marketplace.")) {
            let method = path.rsplit('/').next().unwrap_or_default();
            let needle = method.as_bytes();
            assert!(descriptors.windows(needle.len()).any(|w| w == needle), "{path} is not in the protos");
        }
    }
}
