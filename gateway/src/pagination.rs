//! DRF's `LimitOffsetPagination`: `limit` (default 20, clamped to 100) and
//! `offset`, answered as `{"count", "next", "previous", "results"}` with
//! absolute URLs starting at the request's `Origin`; and the `page_size`
//! of cursor pages (default 10, clamped to 50).
//!
//! Unlike DRF, which falls back to the defaults on a bad value, a value
//! that is not an integer in range is a 400 naming the parameter: the
//! OpenAPI document declares these bounds, and the server enforces them.
use axum::http::Uri;
use common::FieldErrors;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::HttpResult;
use crate::openapi::schemas;

use crate::origin::Origin;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// Catalog clamps too; the gateway clamps first so that any `i64` is
/// clamped to it (catalog reads the value as a `u32`).
pub const MAX_PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitOffset {
    pub limit: i64,
    pub offset: i64,
}

/// A limit/offset page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// Rows in the whole list.
    pub count: i64,
    /// The next page's absolute URL.
    #[schema(format = "uri")]
    pub next: Option<String>,
    /// The previous page's absolute URL.
    #[schema(format = "uri")]
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// `limit` and `offset` as the document shows them (`params(LimitOffsetQuery)`).
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitOffsetQuery {
    /// Rows per page: default 20 (also when empty); a value above 100 is clamped to 100.
    #[param(required = false, schema_with = schemas::limit)]
    limit: i64,
    /// Rows to skip: default 0 (also when empty).
    #[param(required = false, schema_with = schemas::offset)]
    offset: i64,
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}

/// An integer query parameter of at least `min`: absent or empty (as every
/// filter treats an empty value, the way django-filter does) → `None`;
/// anything else (not an integer, beyond `i64`, below `min`) is a field
/// error.
fn integer_at_least(errors: &mut FieldErrors, name: &str, raw: Option<&str>, min: i64) -> Option<i64> {
    let raw = raw.filter(|r| !r.is_empty())?;
    // `+5` is not the document's integer syntax, though Rust would read it.
    match raw.parse::<i64>().ok().filter(|_| !raw.starts_with('+')) {
        Some(value) if value >= min => Some(value),
        Some(_) => {
            errors.add(name, format!("Ensure this value is greater than or equal to {min}."));
            None
        }
        None => {
            errors.add(name, "A valid integer is required.");
            None
        }
    }
}

impl LimitOffset {
    /// `limit` ≥ 1 (above 100 clamped to 100) and `offset` ≥ 0, defaults
    /// 20 and 0; any other value is a 400 naming the parameter.
    pub fn from_uri(uri: &Uri) -> HttpResult<Self> {
        // Percent-decoded; a query that does not decode is read as it is
        // (its values then fail to parse as integers, if they were ours).
        let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|query| query.0)
            .unwrap_or_else(|_| query_pairs(uri));
        let raw = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut errors = FieldErrors::new();
        let limit = integer_at_least(&mut errors, "limit", raw("limit").as_deref(), 1);
        let offset = integer_at_least(&mut errors, "offset", raw("offset").as_deref(), 0);
        errors.into_result()?;
        Ok(Self { limit: limit.map_or(DEFAULT_LIMIT, |l| l.min(MAX_LIMIT)), offset: offset.unwrap_or(0) })
    }

    /// The page's links; offsets near `i64::MAX` saturate instead of
    /// overflowing (a client may ask for any offset the type holds).
    pub fn page<T: ToSchema>(self, count: i64, results: Vec<T>, uri: &Uri, origin: &Origin) -> Page<T> {
        let after = self.offset.saturating_add(self.limit);
        let next = (after < count).then(|| page_url(uri, origin, self.limit, Some(after)));
        let previous = (self.offset > 0).then(|| {
            let offset = self.offset.saturating_sub(self.limit);
            page_url(uri, origin, self.limit, (offset > 0).then_some(offset))
        });
        Page { count, next, previous, results }
    }
}

/// A cursor page's `page_size`: an integer ≥ 1, clamped to 50 (`None`:
/// the default); anything else is a 400 naming it.
pub fn page_size(raw: Option<&str>) -> HttpResult<Option<i64>> {
    let mut errors = FieldErrors::new();
    let size = integer_at_least(&mut errors, "page_size", raw, 1);
    errors.into_result()?;
    Ok(size.map(|s| s.min(MAX_PAGE_SIZE)))
}

/// The request's own absolute URL, with `limit`/`offset` replaced.
fn page_url(uri: &Uri, origin: &Origin, limit: i64, offset: Option<i64>) -> String {
    let mut pairs: Vec<(String, String)> =
        query_pairs(uri).into_iter().filter(|(k, _)| k != "limit" && k != "offset").collect();
    pairs.push(("limit".into(), limit.to_string()));
    if let Some(offset) = offset {
        pairs.push(("offset".into(), offset.to_string()));
    }
    let query = pairs
        .iter()
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") })
        .collect::<Vec<_>>()
        .join("&");
    format!("{}{}?{query}", origin.as_str(), uri.path())
}

/// The request's own absolute URL with `name` set to `value` (or removed).
pub fn with_param(uri: &Uri, origin: &Origin, name: &str, value: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(uri).into_iter().filter(|(k, _)| k != name).collect();
    if let Some(value) = value {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let query = pairs
        .iter()
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") })
        .collect::<Vec<_>>()
        .join("&");
    let path = uri.path();
    if query.is_empty() { format!("{}{path}", origin.as_str()) } else { format!("{}{path}?{query}", origin.as_str()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    fn refused(result: HttpResult<impl std::fmt::Debug>) -> Vec<String> {
        match result {
            Err(crate::error::HttpError::Api(error)) => error.fields.iter().map(|(field, _)| field.clone()).collect(),
            other => panic!("a field error expected, got {other:?}"),
        }
    }

    #[test]
    fn limits_are_clamped_and_empty_values_are_defaults() {
        let read = |s: &str| LimitOffset::from_uri(&uri(s)).expect("valid");
        assert_eq!(read("/v/"), LimitOffset { limit: 20, offset: 0 });
        assert_eq!(read("/v/?limit=500&offset=3"), LimitOffset { limit: 100, offset: 3 });
        assert_eq!(read("/v/?limit=&offset="), LimitOffset { limit: 20, offset: 0 });
        assert_eq!(read("/v/?limit=%35"), LimitOffset { limit: 5, offset: 0 });
    }

    #[test]
    fn bad_limits_and_offsets_are_refused_by_name() {
        assert_eq!(refused(LimitOffset::from_uri(&uri("/v/?limit=x&offset=-1"))), ["limit", "offset"]);
        for query in ["limit=0", "limit=+5", "limit=1.5", "limit=9223372036854775808"] {
            assert_eq!(refused(LimitOffset::from_uri(&uri(&format!("/v/?{query}")))), ["limit"], "{query}");
        }
        assert_eq!(refused(LimitOffset::from_uri(&uri("/v/?offset=9223372036854775808"))), ["offset"]);
    }

    #[test]
    fn the_largest_offset_pages_without_overflowing() {
        let origin = Origin("http://h:8000".to_owned());
        let at = uri("/v/?offset=9223372036854775807");
        let request = LimitOffset::from_uri(&at).expect("i64::MAX is a valid offset");
        assert_eq!(request, LimitOffset { limit: 20, offset: i64::MAX });
        let page = request.page(5, Vec::<i64>::new(), &at, &origin);
        assert_eq!(page.next, None);
        assert_eq!(page.previous.as_deref(), Some("http://h:8000/v/?limit=20&offset=9223372036854775787"));
        let near_the_end =
            LimitOffset { limit: 100, offset: i64::MAX - 1 }.page(i64::MAX, Vec::<i64>::new(), &at, &origin);
        assert_eq!(near_the_end.next, None);
    }

    #[test]
    fn page_sizes_are_clamped_and_bad_ones_refused() {
        assert_eq!(page_size(None).expect("absent"), None);
        assert_eq!(page_size(Some("")).expect("empty"), None);
        assert_eq!(page_size(Some("7")).expect("small"), Some(7));
        assert_eq!(page_size(Some("9223372036854775807")).expect("huge"), Some(MAX_PAGE_SIZE));
        for bad in ["0", "-1", "x", "9223372036854775808"] {
            assert_eq!(refused(page_size(Some(bad))), ["page_size"], "{bad}");
        }
    }

    #[test]
    fn next_and_previous_follow_drf() {
        let origin = Origin("http://h:8000".to_owned());
        let page =
            LimitOffset { limit: 2, offset: 2 }.page(5, Vec::<i64>::new(), &uri("/vendors/?limit=2&offset=2"), &origin);
        assert_eq!(page.next.as_deref(), Some("http://h:8000/vendors/?limit=2&offset=4"));
        assert_eq!(page.previous.as_deref(), Some("http://h:8000/vendors/?limit=2"));
        let last = LimitOffset { limit: 2, offset: 4 }.page(5, Vec::<i64>::new(), &uri("/vendors/"), &origin);
        assert_eq!(last.next, None);
    }
}
