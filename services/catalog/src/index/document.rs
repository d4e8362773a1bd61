//! What the listing index holds of a product: the words of its name,
//! description and SKU (each its own field, so a name match can weigh more),
//! as fast fields what listings filter and sort on, and stored (lz4 blocks)
//! the fields a listing shows, so a page needs no SQL. Vendor and category
//! names are not stored: they are joined from the index's view when read,
//! so a rename needs no product touched.
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use tantivy::schema::document::Value;
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, SimpleTokenizer, TextAnalyzer};
use tantivy::{TantivyDocument, doc};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::store::IndexedProduct;

/// Splits on anything but letters and digits, lower-cases and folds accents:
/// a search for `cafe` finds `Café`, as MariaDB's collation did.
pub const WORDS: &str = "catalog_words";

pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default()).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// The index's fields, by name in the schema.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub vendor: Field,
    /// 0 for a product without a category.
    pub category: Field,
    /// 1 when everyone may see it: active, of an approved vendor.
    pub public: Field,
    /// In cents.
    pub price: Field,
    /// Microseconds since the epoch.
    pub created: Field,
    pub name_key: Field,
    pub name: Field,
    pub description: Field,
    pub sku: Field,
    pub slug: Field,
    pub is_active: Field,
    /// Microseconds since the epoch.
    pub updated: Field,
}

/// A product's stored fields, as a listing shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredProduct {
    pub id: i64,
    pub vendor_id: i64,
    pub category_id: Option<i64>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub sku: String,
    pub price_cents: i64,
    pub is_active: bool,
    pub created_micros: i64,
    pub updated_micros: i64,
}

pub const NAME_KEY: &str = "name_key";
pub const ID: &str = "id";
pub const PRICE: &str = "price";
pub const CREATED: &str = "created";
pub const VENDOR: &str = "vendor";
pub const CATEGORY: &str = "category";

impl Fields {
    pub fn schema() -> (Schema, Fields) {
        let mut schema = Schema::builder();
        let words = TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default().set_tokenizer(WORDS).set_index_option(IndexRecordOption::Basic),
            )
            .set_stored();
        let fields = Fields {
            id: schema.add_u64_field(ID, INDEXED | FAST | STORED),
            vendor: schema.add_u64_field(VENDOR, INDEXED | FAST | STORED),
            category: schema.add_u64_field(CATEGORY, INDEXED | FAST | STORED),
            public: schema.add_u64_field("public", INDEXED),
            price: schema.add_i64_field(PRICE, INDEXED | FAST | STORED),
            created: schema.add_i64_field(CREATED, FAST | STORED),
            name_key: schema.add_text_field(NAME_KEY, TextOptions::default().set_fast("raw")),
            name: schema.add_text_field("name", words.clone()),
            description: schema.add_text_field("description", words.clone()),
            sku: schema.add_text_field("sku", words),
            slug: schema.add_text_field("slug", STORED),
            is_active: schema.add_u64_field("is_active", INDEXED | STORED),
            updated: schema.add_i64_field("updated", STORED),
        };
        (schema.build(), fields)
    }

    pub fn document(&self, product: &IndexedProduct) -> TantivyDocument {
        let public = common::buyable::is_buyable(product.is_active, common::status::stored(&product.vendor_status));
        doc!(
            self.id => product.id as u64,
            self.vendor => product.vendor_id as u64,
            self.category => product.category_id.unwrap_or(0) as u64,
            self.public => u64::from(public),
            self.price => cents(product.price).unwrap_or(i64::MAX),
            self.created => product.created_at.timestamp_micros(),
            self.name_key => name_key(&product.name),
            self.name => product.name.as_str(),
            self.description => product.description.as_str(),
            self.sku => product.sku.as_str(),
            self.slug => product.slug.as_str(),
            self.is_active => u64::from(product.is_active),
            self.updated => product.updated_at.timestamp_micros(),
        )
    }

    /// The stored fields of a document this index wrote.
    pub fn stored(&self, doc: &TantivyDocument) -> StoredProduct {
        let number = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or_default() as i64;
        let signed = |field: Field| doc.get_first(field).and_then(|v| v.as_i64()).unwrap_or_default();
        let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        StoredProduct {
            id: number(self.id),
            vendor_id: number(self.vendor),
            category_id: Some(number(self.category)).filter(|c| *c != 0),
            name: text(self.name),
            slug: text(self.slug),
            description: text(self.description),
            sku: text(self.sku),
            price_cents: signed(self.price),
            is_active: number(self.is_active) == 1,
            created_micros: signed(self.created),
            updated_micros: signed(self.updated),
        }
    }
}

/// An amount in whole cents, when it is one that fits.
pub fn cents(amount: Decimal) -> Option<i64> {
    amount.checked_mul(Decimal::ONE_HUNDRED)?.to_i64()
}

/// What `ordering=name` sorts by: the name without accents, upper-cased, so
/// `apple`, `Apple` and `Äpple` sort together, as MariaDB's case- and
/// accent-insensitive collation sorted them (ties by id).
pub fn name_key(name: &str) -> String {
    name.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_uppercase).collect()
}

/// A search word as the index holds words (folded like product text).
pub fn fold_word(analyzer: &mut TextAnalyzer, word: &str) -> Option<String> {
    let mut stream = analyzer.token_stream(word);
    stream.advance().then(|| stream.token().text.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_without_case_or_accents() {
        assert_eq!(name_key("Äpple pie"), name_key("apple PIE"));
        assert!(name_key("apple") < name_key("Banana"));
    }

    #[test]
    fn search_words_fold_like_product_text() {
        let mut analyzer = words_analyzer();
        assert_eq!(fold_word(&mut analyzer, "éclair").as_deref(), Some("eclair"));
        assert_eq!(fold_word(&mut analyzer, "KETTLE").as_deref(), Some("kettle"));
        assert_eq!(fold_word(&mut analyzer, "--"), None);
    }

    #[test]
    fn prices_are_whole_cents() {
        assert_eq!(cents(Decimal::new(1999, 2)), Some(1999));
        assert_eq!(cents(Decimal::MAX), None);
    }
}
