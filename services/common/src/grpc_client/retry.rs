//! Which downstream calls may be sent a second time, and why.
//!
//! A call that failed at the transport level (the replica died, the
//! connection was reset) may or may not have reached the service. Sending
//! it again is safe only when doing it twice has the effect of doing it
//! once. The protos say which calls those are: a method marked
//! `option idempotency_level = NO_SIDE_EFFECTS` (a read) or `IDEMPOTENT`
//! (a write whose repetition changes nothing more, its reason in a comment
//! beside it) is in `proto::RETRY_SAFE`, generated from the descriptors.
//! Everything else is a write that is never blindly retried: it is sent
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

/// The standard health check, a read from tonic-health's proto rather than ours.
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";

/// Whether the call at `path` may be repeated after a transport failure.
pub fn is_retry_safe(path: &str) -> bool {
    path == HEALTH_CHECK || proto::RETRY_SAFE.binary_search(&path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_declared_idempotent_writes_are_retry_safe_and_order_writes_are_not() {
        assert!(is_retry_safe("/marketplace.catalog.v1.Catalog/GetProducts"));
        assert!(is_retry_safe("/marketplace.order.v1.Order/GetStock"));
        assert!(is_retry_safe("/marketplace.order.v1.Order/ApplyStockWrite"));
        assert!(is_retry_safe("/grpc.health.v1.Health/Check"));
        assert!(!is_retry_safe("/marketplace.order.v1.Order/PlaceOrder"));
        assert!(!is_retry_safe("/marketplace.order.v1.Order/RefundOrder"));
        assert!(!is_retry_safe("/marketplace.identity.v1.Identity/Register"));
        assert!(!is_retry_safe("/marketplace.cart.v1.Cart/AddItem"));
        assert!(!is_retry_safe("/marketplace.events.v1.ParkedEvents/ReplayParked"));
    }

    /// Every method named like a read is declared one: a new `Get…` or
    /// `List…` left unmarked would lose its retries silently.
    #[test]
    fn every_read_by_name_is_declared() {
        use tonic_prost::prost::Message;
        let set = prost_types::FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
        let mut reads = 0;
        for file in &set.file {
            for service in &file.service {
                for method in &service.method {
                    let name = method.name();
                    if name.starts_with("Get") || name.starts_with("List") || name.starts_with("Search") {
                        let path = format!("/{}.{}/{}", file.package(), service.name(), name);
                        assert!(is_retry_safe(&path), "{path} reads but is not declared NO_SIDE_EFFECTS");
                        reads += 1;
                    }
                }
            }
        }
        assert!(reads > 20, "only {reads} reads found in the descriptors");
    }
}
