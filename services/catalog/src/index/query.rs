//! A listing request as a Tantivy query: who may see (public scope or one
//! vendor), the filters, and one clause per search word. Filters score 0; a
//! word scores 3 when it starts a word of the name and 1 for each of
//! description and SKU, so `ordering=relevance` ranks name matches first and
//! its scores are whole numbers (exact in a cursor).
use std::ops::Bound;

use rust_decimal::Decimal;
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, PhrasePrefixQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use super::document::{Fields, cents};

const NAME_WEIGHT: f32 = 3.0;
const OTHER_WEIGHT: f32 = 1.0;

/// Whose products a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Active products of approved vendors.
    Public,
    /// One vendor's own products, inactive included.
    Vendor(i64),
    /// Every product (for admins), only active or inactive ones when set.
    All { active: Option<bool> },
}

/// What a listing or a facet count matches, resolved against the index's
/// view (the category filter is the category's whole subtree).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Folded search words; each must start a word of the name, description or SKU.
    pub words: Vec<String>,
    pub categories: Option<Vec<i64>>,
    pub vendor: Option<i64>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
}

fn filter(query: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(query, 0.0)))
}

fn id_term(field: Field, id: i64) -> Term {
    Term::from_field_u64(field, id as u64)
}

fn prefix(field: Field, word: &str, weight: f32) -> (Occur, Box<dyn Query>) {
    let query = PhrasePrefixQuery::new(vec![Term::from_field_text(field, word)]);
    (Occur::Should, Box::new(ConstScoreQuery::new(Box::new(query), weight)))
}

/// The query (one that matches nothing when the price range is empty).
pub fn build(fields: &Fields, scope: Scope, filters: &Filters) -> Box<dyn Query> {
    let mut clauses = vec![match scope {
        Scope::Public => {
            filter(Box::new(TermQuery::new(Term::from_field_u64(fields.public, 1), IndexRecordOption::Basic)))
        }
        Scope::Vendor(vendor) => {
            filter(Box::new(TermQuery::new(id_term(fields.vendor, vendor), IndexRecordOption::Basic)))
        }
        Scope::All { active: None } => filter(Box::new(AllQuery)),
        Scope::All { active: Some(active) } => filter(Box::new(TermQuery::new(
            Term::from_field_u64(fields.is_active, u64::from(active)),
            IndexRecordOption::Basic,
        ))),
    }];
    if let Some(vendor) = filters.vendor {
        clauses.push(filter(Box::new(TermQuery::new(id_term(fields.vendor, vendor), IndexRecordOption::Basic))));
    }
    if let Some(categories) = &filters.categories {
        // A union of term queries: a subtree is a handful of ids, and a
        // TermSetQuery builds an FST per query.
        let terms = categories.iter().map(|id| id_term(fields.category, *id)).collect();
        clauses.push(filter(Box::new(BooleanQuery::new_multiterms_query(terms))));
    }
    if filters.min_price.is_some() || filters.max_price.is_some() {
        match price_range(filters.min_price, filters.max_price) {
            Some((low, high)) => {
                let bound = |cents: i64| Bound::Included(Term::from_field_i64(fields.price, cents));
                clauses.push(filter(Box::new(RangeQuery::new(bound(low), bound(high)))));
            }
            None => return Box::new(EmptyQuery),
        }
    }
    for word in &filters.words {
        let any_field = vec![
            prefix(fields.name, word, NAME_WEIGHT),
            prefix(fields.description, word, OTHER_WEIGHT),
            prefix(fields.sku, word, OTHER_WEIGHT),
        ];
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(any_field))));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// Inclusive bounds in whole cents: a price of `p` cents is in range when
/// `min <= p <= max`, so the bounds round inwards. `None`: an empty range.
pub(super) fn price_range(min: Option<Decimal>, max: Option<Decimal>) -> Option<(i64, i64)> {
    let low = match min {
        None => i64::MIN,
        Some(min) => match cents(min.ceil_cents()) {
            Some(c) => c,
            None if min.is_sign_negative() => i64::MIN,
            None => return None,
        },
    };
    let high = match max {
        None => i64::MAX,
        Some(max) => match cents(max.floor_cents()) {
            Some(c) => c,
            None if max.is_sign_negative() => return None,
            None => i64::MAX,
        },
    };
    (low <= high).then_some((low, high))
}

trait Cents {
    fn ceil_cents(self) -> Decimal;
    fn floor_cents(self) -> Decimal;
}

impl Cents for Decimal {
    fn ceil_cents(self) -> Decimal {
        self.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToPositiveInfinity)
    }

    fn floor_cents(self) -> Decimal {
        self.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToNegativeInfinity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Option<Decimal> {
        text.parse().ok()
    }

    #[test]
    fn price_bounds_are_inclusive_and_round_inwards() {
        assert_eq!(price_range(d("10.00"), d("20.00")), Some((1000, 2000)));
        assert_eq!(price_range(d("10.001"), d("20.009")), Some((1001, 2000)));
        assert_eq!(price_range(d("-5"), None), Some((-500, i64::MAX)));
        assert_eq!(price_range(d("30"), d("20")), None);
        assert_eq!(price_range(None, d("-1")), Some((i64::MIN, -100)));
        assert_eq!(price_range(Some(Decimal::MAX), None), None);
        assert_eq!(price_range(None, Some(Decimal::MAX)), Some((i64::MIN, i64::MAX)));
        assert_eq!(price_range(None, Some(Decimal::MIN)), None);
    }
}
