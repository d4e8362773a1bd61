//! Every service keeps the event tables in its own migrations (a service
//! touches only its own schema), copied from `common::events`: the copies
//! must stay the text the relay and the consumers are written against.
use common::events::{
    OUTBOX_BINARY_DDL, OUTBOX_DDL, PARKED_EVENTS_BINARY_DDL, PARKED_EVENTS_DDL, PROCESSED_EVENTS_DDL,
};

fn migration(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

#[test]
fn producers_copy_the_outbox_unchanged() {
    for path in ["order/migrations/0003_outbox.sql", "payment/migrations/0002_events.sql"] {
        assert!(migration(path).contains(OUTBOX_DDL), "{path} differs from OUTBOX_DDL");
    }
    for path in ["order/migrations/0006_binary_events.sql", "payment/migrations/0003_binary_events.sql"] {
        assert!(migration(path).contains(OUTBOX_BINARY_DDL), "{path} differs from OUTBOX_BINARY_DDL");
    }
}

#[test]
fn consumers_copy_their_bookkeeping_unchanged() {
    for path in [
        "cart/migrations/0003_events.sql",
        "order/migrations/0004_payment_events.sql",
        "payment/migrations/0002_events.sql",
        "analytics/migrations/0002_events.sql",
    ] {
        let text = migration(path);
        assert!(text.contains(PROCESSED_EVENTS_DDL), "{path} differs from PROCESSED_EVENTS_DDL");
        assert!(text.contains(PARKED_EVENTS_DDL), "{path} differs from PARKED_EVENTS_DDL");
    }
    for path in [
        "cart/migrations/0004_binary_events.sql",
        "order/migrations/0006_binary_events.sql",
        "payment/migrations/0003_binary_events.sql",
        "analytics/migrations/0003_binary_events.sql",
    ] {
        assert!(migration(path).contains(PARKED_EVENTS_BINARY_DDL), "{path} differs from PARKED_EVENTS_BINARY_DDL");
    }
}
