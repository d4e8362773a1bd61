//! One module per REST resource; request and response shapes live beside
//! the handlers that use them.
pub mod analytics;
pub mod cart;
pub mod categories;
pub mod ops;
pub mod orders;
pub mod payments;
pub mod product_facets;
pub mod product_import;
pub mod products;
pub mod users;
pub mod vendors;

use serde_json::Value;

/// RFC 3339 UTC with microseconds, as DRF renders datetimes.
pub fn rfc3339(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    let ts = ts?;
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32)
        // Not `format(…)`: parsing a strftime pattern per timestamp was 2 % of a listing.
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// A path id; anything that is not a positive integer cannot name an object.
pub fn path_id(raw: &str) -> Result<i64, crate::error::HttpError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| common::ApiError::not_found().into())
}

/// `{"detail": ...}`
pub fn detail(message: &str) -> Value {
    serde_json::json!({ "detail": message })
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_render_as_drf_does() {
        let at = |seconds, nanos| super::rfc3339(Some(&prost_types::Timestamp { seconds, nanos }));
        assert_eq!(at(1_764_806_400, 0).as_deref(), Some("2025-12-04T00:00:00.000000Z"));
        assert_eq!(at(1_764_806_400, 123_456_789).as_deref(), Some("2025-12-04T00:00:00.123456Z"));
    }
}
