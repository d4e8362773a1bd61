//! Time on the wire: `prost_types::Timestamp` from chrono's UTC time, the
//! one conversion every service's messages need.
use chrono::{DateTime, Utc};

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: at.timestamp_subsec_nanos() as i32 }
}
