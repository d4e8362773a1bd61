//! Catalog rules as pure functions: what valid categories and products
//! look like (DRF's messages), the listing query a request asks for, the
//! opaque keyset cursor, and the search tokenizer. No I/O here.
use std::collections::HashSet;
use std::str::FromStr;

use common::{ApiError, FieldErrors};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";
pub const DEFAULT_PAGE_SIZE: u32 = 10;
pub const MAX_PAGE_SIZE: u32 = 50;
pub const MAX_STOCK: i64 = 1_000_000;
const MAX_SEARCH_WORDS: usize = 8;
const MAX_TERM_CHARS: usize = 64;

pub fn max_price() -> Decimal {
    Decimal::new(9_999_999_999, 2)
}

/// A required, non-blank string, trimmed.
fn required_text(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<String> {
    match value.map(str::trim) {
        None => {
            errors.add(field, REQUIRED);
            None
        }
        Some("") => {
            errors.add(field, BLANK);
            None
        }
        Some(v) => Some(v.to_owned()),
    }
}

fn within(errors: &mut FieldErrors, field: &str, value: String, max: usize) -> Option<String> {
    if value.chars().count() > max {
        errors.add(field, format!("Ensure this field has no more than {max} characters."));
        None
    } else {
        Some(value)
    }
}

/// A category name: required, at most 100 characters.
pub fn validate_category_name(name: Option<&str>, required: bool) -> Result<Option<String>, ApiError> {
    let mut errors = FieldErrors::new();
    let name = match name {
        None if !required => None,
        name => required_text(&mut errors, "name", name).and_then(|n| within(&mut errors, "name", n, 100)),
    };
    errors.into_result()?;
    Ok(name)
}

/// A money amount as DRF's `DecimalField(max_digits=10, decimal_places=2, min_value=0)`.
pub fn parse_price(raw: &str) -> Result<Decimal, String> {
    let raw = raw.trim();
    let looks_numeric = !raw.is_empty()
        && raw.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
        && raw.chars().filter(|c| *c == '.').count() <= 1;
    let value = looks_numeric
        .then(|| Decimal::from_str(raw).ok())
        .flatten()
        .ok_or_else(|| "A valid number is required.".to_owned())?;
    if value.normalize().scale() > 2 {
        return Err("Ensure that there are no more than 2 decimal places.".into());
    }
    if value < Decimal::ZERO {
        return Err("Ensure this value is greater than or equal to 0.00.".into());
    }
    if value > max_price() {
        return Err("Ensure this value is less than or equal to 99999999.99.".into());
    }
    Ok(value.round_dp(2))
}

/// A stock level: an integer 0..=1,000,000 (`"5"`, `5` and `5.0` all count).
pub fn parse_stock(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    let value = raw
        .parse::<i64>()
        .ok()
        .or_else(|| {
            Decimal::from_str(raw).ok().filter(|d| d.fract().is_zero()).and_then(|d| d.trunc().to_string().parse().ok())
        })
        .ok_or_else(|| "A valid integer is required.".to_owned())?;
    if value < 0 {
        return Err("Ensure this value is greater than or equal to 0.".into());
    }
    if value > MAX_STOCK {
        return Err(format!("Ensure this value is less than or equal to {MAX_STOCK}."));
    }
    Ok(value)
}

/// The product fields as a client sent them (`None`: not sent).
#[derive(Debug, Default, Clone)]
pub struct RawProduct {
    pub name: Option<String>,
    pub price: Option<String>,
    pub stock: Option<String>,
    /// `Some("null")` (or empty) clears the category.
    pub category: Option<String>,
    pub description: Option<String>,
    pub sku: Option<String>,
    pub is_active: Option<bool>,
}

/// Validated product fields; for an update, `None` keeps the current value.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProductChange {
    pub name: Option<String>,
    pub price: Option<Decimal>,
    pub stock: Option<i64>,
    pub category: Option<Option<i64>>,
    pub description: Option<String>,
    pub sku: Option<String>,
    pub is_active: Option<bool>,
}

/// A numeric field: required when creating, parsed with `parse`.
fn numeric<T>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    required: bool,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    match value {
        None => {
            if required {
                errors.add(field, REQUIRED);
            }
            None
        }
        Some(v) => parse(v).map_err(|m| errors.add(field, m)).ok(),
    }
}

pub fn validate_product(raw: &RawProduct, creating: bool) -> Result<ProductChange, ApiError> {
    let mut errors = FieldErrors::new();
    let name = match raw.name.as_deref() {
        None if !creating => None,
        name => required_text(&mut errors, "name", name).and_then(|n| within(&mut errors, "name", n, 200)),
    };
    let price = numeric(&mut errors, "price", raw.price.as_deref(), creating, parse_price);
    let stock = numeric(&mut errors, "stock", raw.stock.as_deref(), creating, parse_stock);
    let category = match raw.category.as_deref().map(str::trim) {
        None => None,
        Some("" | "null") => Some(None),
        Some(v) => match v.parse::<i64>() {
            Ok(id) if id > 0 => Some(Some(id)),
            _ => {
                errors.add("category", "Incorrect type. Expected pk value.");
                None
            }
        },
    };
    let description =
        raw.description.as_ref().and_then(|d| within(&mut errors, "description", d.trim().to_owned(), 5000));
    let sku = raw.sku.as_ref().and_then(|s| within(&mut errors, "sku", s.trim().to_owned(), 64));
    errors.into_result()?;
    Ok(ProductChange { name, price, stock, category, description, sku, is_active: raw.is_active })
}

/// The sort orders a listing offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ordering {
    #[serde(rename = "price")]
    PriceAsc,
    #[serde(rename = "-price")]
    PriceDesc,
    #[serde(rename = "created_at")]
    CreatedAsc,
    #[serde(rename = "-created_at")]
    CreatedDesc,
    #[serde(rename = "name")]
    NameAsc,
    #[serde(rename = "-name")]
    NameDesc,
    /// Best match first (only with a search), then newest.
    #[serde(rename = "relevance")]
    Relevance,
}

/// What a listing sorts by (then by id, in the same direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Price,
    CreatedAt,
    Name,
    /// The match score, then `created_at`.
    Relevance,
}

impl Ordering {
    pub const ALL: [Ordering; 7] = [
        Ordering::PriceAsc,
        Ordering::PriceDesc,
        Ordering::CreatedAsc,
        Ordering::CreatedDesc,
        Ordering::NameAsc,
        Ordering::NameDesc,
        Ordering::Relevance,
    ];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == value.trim())
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ordering::PriceAsc => "price",
            Ordering::PriceDesc => "-price",
            Ordering::CreatedAsc => "created_at",
            Ordering::CreatedDesc => "-created_at",
            Ordering::NameAsc => "name",
            Ordering::NameDesc => "-name",
            Ordering::Relevance => "relevance",
        }
    }

    pub fn key(self) -> SortKey {
        match self {
            Ordering::PriceAsc | Ordering::PriceDesc => SortKey::Price,
            Ordering::CreatedAsc | Ordering::CreatedDesc => SortKey::CreatedAt,
            Ordering::NameAsc | Ordering::NameDesc => SortKey::Name,
            Ordering::Relevance => SortKey::Relevance,
        }
    }

    pub fn descending(self) -> bool {
        matches!(self, Ordering::PriceDesc | Ordering::CreatedDesc | Ordering::NameDesc | Ordering::Relevance)
    }
}

/// A position in a listing: the sort value and id of the row it is
/// relative to, and whether the page runs forwards (after it) or backwards
/// (before it). Opaque to clients: base64url of JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "o")]
    pub ordering: Ordering,
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "i")]
    pub id: i64,
    #[serde(rename = "b", default)]
    pub backwards: bool,
}

impl Cursor {
    pub fn encode(&self) -> String {
        common::base64url::encode(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let cursor: Cursor = serde_json::from_slice(&common::base64url::decode(raw)?).ok()?;
        cursor.sort_value().map(|_| cursor)
    }

    /// The typed sort value, checked against the ordering.
    pub fn sort_value(&self) -> Option<SortValue> {
        match self.ordering.key() {
            SortKey::Price => Decimal::from_str(&self.value).ok().map(SortValue::Price),
            SortKey::CreatedAt => self.value.parse::<i64>().ok().map(SortValue::CreatedAt),
            SortKey::Name => Some(SortValue::Name(self.value.clone())),
            SortKey::Relevance => {
                let (score, created) = self.value.split_once(':')?;
                Some(SortValue::Relevance { score: score.parse().ok()?, created: created.parse().ok()? })
            }
        }
    }
}

/// A listing position's sort value: a price, a `created_at` in
/// microseconds, a name's sort key (see `index::document::name_key`), or a
/// match score and `created_at`.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Price(Decimal),
    CreatedAt(i64),
    Name(String),
    Relevance { score: i64, created: i64 },
}

impl SortValue {
    pub fn cursor_text(&self) -> String {
        match self {
            SortValue::Price(p) => p.to_string(),
            SortValue::CreatedAt(micros) => micros.to_string(),
            SortValue::Name(n) => n.clone(),
            SortValue::Relevance { score, created } => format!("{score}:{created}"),
        }
    }
}

/// The raw listing parameters of a request.
#[derive(Debug, Default, Clone)]
pub struct RawListQuery {
    pub search: Option<String>,
    pub category: Option<String>,
    pub category_slug: Option<String>,
    pub vendor: Option<String>,
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    pub ordering: Option<String>,
    pub cursor: Option<String>,
    pub page_size: Option<String>,
}

/// A validated listing request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub words: Vec<String>,
    pub category: Option<i64>,
    pub category_slug: Option<String>,
    pub vendor: Option<i64>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    pub ordering: Ordering,
    pub cursor: Option<Cursor>,
    pub page_size: u32,
}

fn filled(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Validates the parameters: a bad value is a 400 naming it; a cursor that
/// does not decode (or belongs to another ordering) is DRF's 404.
/// The admin listing's `active` filter: "true", "false", or none.
pub fn parse_active(raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::field("active", "Must be a valid boolean.")),
    }
}

pub fn parse_list_query(raw: &RawListQuery) -> Result<ListQuery, ApiError> {
    let mut errors = FieldErrors::new();
    let mut id = |field: &str, value: &Option<String>| {
        let value = filled(value)?;
        match value.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add(field, "Enter a whole number.");
                None
            }
        }
    };
    let category = id("category", &raw.category);
    let vendor = id("vendor", &raw.vendor);
    let mut money = |field: &str, value: &Option<String>| {
        let value = filled(value)?;
        match Decimal::from_str(value) {
            Ok(amount) => Some(amount),
            Err(_) => {
                errors.add(field, "Enter a number.");
                None
            }
        }
    };
    let min_price = money("min_price", &raw.min_price);
    let max_price = money("max_price", &raw.max_price);
    let ordering = match filled(&raw.ordering) {
        None => Ordering::CreatedDesc,
        Some(value) => Ordering::parse(value).unwrap_or_else(|| {
            errors.add("ordering", format!("Select a valid choice. {value} is not one of the available choices."));
            Ordering::CreatedDesc
        }),
    };
    if ordering == Ordering::Relevance && filled(&raw.search).is_none() {
        errors.add("ordering", "Ordering by relevance needs a search.");
    }
    errors.into_result()?;
    let page_size = filled(&raw.page_size)
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p > 0)
        .map_or(DEFAULT_PAGE_SIZE, |p| p.min(MAX_PAGE_SIZE));
    let cursor = match filled(&raw.cursor) {
        None => None,
        Some(raw) => match Cursor::decode(raw) {
            Some(cursor) if cursor.ordering == ordering => Some(cursor),
            _ => return Err(ApiError::new(common::ErrorKind::NotFound, "Invalid cursor")),
        },
    };
    let words =
        raw.search.as_deref().map_or_else(Vec::new, |search| Terms::new(search).take(MAX_SEARCH_WORDS).collect());
    Ok(ListQuery {
        words,
        category,
        category_slug: filled(&raw.category_slug).map(str::to_owned),
        vendor,
        min_price,
        max_price,
        ordering,
        cursor,
        page_size,
    })
}

/// Lower-cased runs of letters and digits (at most `MAX_TERM_CHARS` each),
/// each once, in order of first appearance: the words of a search (the
/// index splits product text the same way).
///
/// Read lazily, so `.take(n)` reads the text only up to the end of the n-th
/// distinct word: a query is cut to `MAX_SEARCH_WORDS` without looking at
/// the rest of it. Each word costs time linear in its length and a set
/// lookup, so a text of many distinct words stays linear (a list scanned
/// per word made it quadratic).
pub struct Terms<'a> {
    unread: &'a str,
    seen: HashSet<String>,
}

impl<'a> Terms<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { unread: text, seen: HashSet::new() }
    }
}

impl Iterator for Terms<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            let Some(start) = self.unread.find(char::is_alphanumeric) else {
                self.unread = "";
                return None;
            };
            let rest = &self.unread[start..];
            let end = rest.find(|c: char| !c.is_alphanumeric()).unwrap_or(rest.len());
            let term = term_of(&rest[..end]);
            self.unread = &rest[end..];
            if !self.seen.contains(&term) {
                self.seen.insert(term.clone());
                return Some(term);
            }
        }
    }
}

/// The first `MAX_TERM_CHARS` characters of a word, lower-cased exactly as
/// `str::to_lowercase` would. That differs from lower-casing character by
/// character only for a capital sigma (final form at the end of a word), so
/// only a word with one in its head is lower-cased whole; any other word
/// costs no more than its head, however long it is.
fn term_of(word: &str) -> String {
    let head = word.char_indices().nth(MAX_TERM_CHARS).map_or(word, |(at, _)| &word[..at]);
    if head.contains('Σ') {
        word.to_lowercase().chars().take(MAX_TERM_CHARS).collect()
    } else {
        head.chars().flat_map(char::to_lowercase).take(MAX_TERM_CHARS).collect()
    }
}

/// A category and every category below it, from `(id, parent)` pairs.
pub fn subtree(tree: &[(i64, Option<i64>)], root: i64) -> Vec<i64> {
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(tree.iter().filter(|(_, p)| *p == Some(parent)).map(|(id, _)| *id));
        next += 1;
        // A tree has no cycles (the store refuses them); stop regardless.
        if found.len() > tree.len() + 1 {
            break;
        }
    }
    found
}

/// What catalog tells a client whose write lost a race or named what is
/// not there, in DRF's words; the store says which, these say how.
pub mod refusals {
    use common::ApiError;

    pub fn duplicate_category_name() -> ApiError {
        ApiError::field("name", "category with this name already exists.")
    }

    pub fn duplicate_sku() -> ApiError {
        ApiError::field("sku", "product with this sku already exists for this vendor.")
    }

    pub fn missing(field: &str, id: i64) -> ApiError {
        ApiError::field(field, format!("Invalid pk \"{id}\" - object does not exist."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_follow_drf_decimal_rules() {
        assert_eq!(parse_price("19.99"), Ok(Decimal::new(1999, 2)));
        assert_eq!(parse_price("0"), Ok(Decimal::ZERO));
        assert_eq!(parse_price("99999999.99"), Ok(max_price()));
        assert!(parse_price("100000000.00").is_err());
        assert!(parse_price("1.999").expect_err("places").contains("2 decimal places"));
        assert!(parse_price("-1").is_err());
        assert!(parse_price("abc").is_err());
        assert!(parse_price("1e3").is_err());
        assert_eq!(parse_price("1.50"), Ok(Decimal::new(150, 2)));
    }

    #[test]
    fn stock_is_a_bounded_integer() {
        assert_eq!(parse_stock("5"), Ok(5));
        assert_eq!(parse_stock("5.0"), Ok(5));
        assert!(parse_stock("5.5").is_err());
        assert!(parse_stock("-1").is_err());
        assert!(parse_stock("1000001").is_err());
    }

    #[test]
    fn product_creation_requires_name_price_and_stock() {
        let error = validate_product(&RawProduct::default(), true).expect_err("invalid");
        assert!(error.fields.has("name") && error.fields.has("price") && error.fields.has("stock"));
        let change = validate_product(&RawProduct { category: Some("null".into()), ..Default::default() }, false)
            .expect("an update may send anything");
        assert_eq!(change.category, Some(None));
    }

    #[test]
    fn list_queries_default_clamp_and_name_bad_parameters() {
        let query =
            parse_list_query(&RawListQuery { page_size: Some("500".into()), ..Default::default() }).expect("ok");
        assert_eq!((query.ordering, query.page_size), (Ordering::CreatedDesc, 50));
        let error = parse_list_query(&RawListQuery {
            ordering: Some("stock".into()),
            min_price: Some("cheap".into()),
            ..Default::default()
        })
        .expect_err("invalid");
        assert!(error.fields.has("ordering") && error.fields.has("min_price"));
    }

    #[test]
    fn cursors_round_trip_and_must_match_the_ordering() {
        let cursor = Cursor { ordering: Ordering::PriceAsc, value: "19.99".into(), id: 42, backwards: false };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor.clone()));
        let raw = RawListQuery { cursor: Some(cursor.encode()), ordering: Some("-price".into()), ..Default::default() };
        assert_eq!(parse_list_query(&raw).expect_err("mismatch").detail, "Invalid cursor");
        let garbage = RawListQuery { cursor: Some("not-a-cursor".into()), ..Default::default() };
        assert_eq!(parse_list_query(&garbage).expect_err("garbage").kind, common::ErrorKind::NotFound);
    }

    #[test]
    fn terms_are_lower_case_words_once() {
        let terms: Vec<String> = Terms::new("Blue TV, blue-ray SKU-42").collect();
        assert_eq!(terms, ["blue", "tv", "ray", "sku", "42"]);
        assert_eq!(Terms::new("Café X1").collect::<Vec<_>>(), ["café", "x1"]);
        let long = "A".repeat(MAX_TERM_CHARS + 10);
        assert_eq!(Terms::new(&long).collect::<Vec<_>>(), ["a".repeat(MAX_TERM_CHARS)]);
    }

    #[test]
    fn terms_lower_case_like_str_to_lowercase() {
        for word in ["ΟΔΟΣ", "ΣΑΣ", "İstanbul", "ẞtraße", "ǅemal", "x1Σ"] {
            let expected: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
            assert_eq!(Terms::new(word).collect::<Vec<_>>(), [expected], "{word}");
        }
    }

    #[test]
    fn a_search_reads_the_query_only_up_to_its_last_word() {
        // Eight distinct words (one repeated in between), then a long tail
        // of distinct words that must not be read at all.
        let head = "one Two one three four five six seven eight";
        let tail: String = (0..10_000).map(|i| format!(" w{i}")).collect();
        let query = format!("{head}{tail}");
        let mut terms = Terms::new(&query);
        let words: Vec<String> = terms.by_ref().take(MAX_SEARCH_WORDS).collect();
        assert_eq!(words, ["one", "two", "three", "four", "five", "six", "seven", "eight"]);
        assert_eq!(terms.unread.len(), tail.len(), "read past the eighth word");

        let raw = RawListQuery { search: Some(query), ..Default::default() };
        assert_eq!(parse_list_query(&raw).expect("valid").words, words);
    }

    #[test]
    fn subtrees_hold_every_descendant() {
        let tree = [(1, None), (2, Some(1)), (3, Some(2)), (4, None), (5, Some(1))];
        let mut below_one = subtree(&tree, 1);
        below_one.sort();
        assert_eq!(below_one, [1, 2, 3, 5]);
        assert_eq!(subtree(&tree, 4), [4]);
    }
}
