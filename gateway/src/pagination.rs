//! DRF's `LimitOffsetPagination`: `limit` (default 20, clamped to 100) and
//! `offset`, answered as `{"count", "next", "previous", "results"}` with
//! absolute URLs starting at the request's `Origin`.
use axum::http::Uri;
use serde::Serialize;
use utoipa::ToSchema;

use crate::origin::Origin;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitOffset {
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
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

impl LimitOffset {
    /// Invalid or negative values fall back to the defaults, as DRF does.
    pub fn from_uri(uri: &Uri) -> Self {
        let pairs = query_pairs(uri);
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.parse::<i64>().ok());
        let limit = get("limit").filter(|l| *l > 0).map_or(DEFAULT_LIMIT, |l| l.min(MAX_LIMIT));
        let offset = get("offset").filter(|o| *o >= 0).unwrap_or(0);
        Self { limit, offset }
    }

    pub fn page<T: ToSchema>(self, count: i64, results: Vec<T>, uri: &Uri, origin: &Origin) -> Page<T> {
        let next = (self.offset + self.limit < count)
            .then(|| page_url(uri, origin, self.limit, Some(self.offset + self.limit)));
        let previous = (self.offset > 0).then(|| {
            let offset = self.offset - self.limit;
            page_url(uri, origin, self.limit, (offset > 0).then_some(offset))
        });
        Page { count, next, previous, results }
    }
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

    #[test]
    fn limits_are_clamped_and_bad_values_ignored() {
        assert_eq!(LimitOffset::from_uri(&uri("/v/")), LimitOffset { limit: 20, offset: 0 });
        assert_eq!(LimitOffset::from_uri(&uri("/v/?limit=500&offset=3")), LimitOffset { limit: 100, offset: 3 });
        assert_eq!(LimitOffset::from_uri(&uri("/v/?limit=x&offset=-1")), LimitOffset { limit: 20, offset: 0 });
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
