//! Every binary's default addresses, each port stated once. The clap
//! defaults of the services' own listen addresses and of where they find
//! each other, the gateway's, the payment webhook's and the fleet's REST
//! port are all made from these; so are the settings several binaries
//! share (the downstream deadline, the currency).

/// A port and the two addresses made from it: where its binary listens by
/// default (every interface) and where its callers look for it by default
/// (this machine).
macro_rules! port {
    ($(#[$doc:meta])* $binary:ident = $port:expr) => {
        $(#[$doc])*
        pub mod $binary {
            pub const PORT: u16 = $port;
            pub const LISTEN: &str = concat!("0.0.0.0:", $port);
            pub const LOCAL: &str = concat!("127.0.0.1:", $port);
        }
    };
}

port!(identity = 50051);
port!(catalog = 50052);
port!(cart = 50053);
port!(order = 50054);
port!(payment = 50055);
port!(analytics = 50056);

/// The gateway's REST port, a literal for `concat!`.
macro_rules! gateway_port {
    () => {
        8000
    };
}

port!(
    /// The gateway's REST port (also the fleet's).
    gateway = gateway_port!()
);

/// Where the sandbox payment provider posts its webhooks: the local
/// gateway's webhook route.
pub const PAYMENT_WEBHOOK_URL: &str = concat!("http://127.0.0.1:", gateway_port!(), "/payments/webhook/");

/// Deadline of each call to another service, milliseconds.
pub const DOWNSTREAM_TIMEOUT_MS: &str = "5000";

/// The marketplace's one currency.
pub const CURRENCY: &str = "USD";

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_are_made_from_the_port() {
        assert_eq!((super::identity::LISTEN, super::identity::LOCAL), ("0.0.0.0:50051", "127.0.0.1:50051"));
        assert_eq!(super::gateway::PORT, 8000);
        assert_eq!(super::PAYMENT_WEBHOOK_URL, "http://127.0.0.1:8000/payments/webhook/");
    }
}
