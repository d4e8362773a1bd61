//! Ids the marketplace hands out as text: UUIDs in their hyphenated form
//! (event ids, product write ids), checked one way wherever they come in.
use crate::ApiError;

/// True when `raw` is a UUID written hyphenated (36 characters), the only
/// form the marketplace makes.
pub fn is_hyphenated_uuid(raw: &str) -> bool {
    raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok()
}

/// A product write's id as catalog and order receive it, or a 400 naming
/// `write_id`.
pub fn stock_write_id(raw: &str) -> Result<&str, ApiError> {
    if is_hyphenated_uuid(raw) { Ok(raw) } else { Err(ApiError::field("write_id", "Not a product write id.")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hyphenated_form_is_an_id() {
        assert!(is_hyphenated_uuid("6f1c2a4e-9b0d-4c3e-8a57-2d9e1f0b7c64"));
        assert!(!is_hyphenated_uuid("6f1c2a4e9b0d4c3e8a572d9e1f0b7c64"));
        assert!(!is_hyphenated_uuid("42"));
        assert!(stock_write_id("not-an-id").is_err_and(|e| e.fields.has("write_id")));
    }
}
