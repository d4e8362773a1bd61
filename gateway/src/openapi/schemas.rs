//! Schemas the handlers' attributes and the shared responses point at: the
//! DRF error bodies, the path id, the query filters (where an empty value
//! means "no filter"), and the request fields whose accepted JSON is wider
//! than one Rust type says.
//!
//! DRF accepts a number's text where a number is expected (`"7"` for a
//! stock, `"19.99"` for a price) and the strings `"true"`/`"yes"`/… for a
//! boolean; the gateway keeps those conversions (clients rely on them), so
//! the schemas below list every JSON type such a field takes, with the
//! text's syntax as a `pattern`. Strings are trimmed by the server before
//! their length is checked, as DRF's `CharField` does.
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::{IntoParams, ToSchema};

/// `{"detail": ..., "code"?: ...}`, and for some errors more members
/// (`products` lists the product ids a checkout error is about).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    detail: String,
    /// For a machine: `token_not_valid`, `vendor_not_approved`, `cart_empty`, ….
    #[schema(required = false)]
    code: String,
}

/// `{"detail": ...}` as a success message (logout, sandbox completion).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Message {
    detail: String,
}

/// DRF's validation errors: every invalid field (or `non_field_errors`)
/// with its messages.
pub fn validation_errors() -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some(
            "Each invalid field with its messages, e.g. `{\"email\": [\"Enter a valid email address.\"]}`.",
        ))
        .min_properties(Some(1))
        .additional_properties(Some(
            utoipa::openapi::schema::ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)),
        ))
}

/// A 400: field errors, or an error not tied to a field.
pub fn bad_request() -> AnyOfBuilder {
    AnyOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name("ValidationErrors"))
        .item(utoipa::openapi::Ref::from_schema_name("Error"))
}

/// The 400 of an import: every invalid line, or an error about the whole
/// file (`{"detail": ...}`: no products, not UTF-8).
pub struct ImportErrors;

impl utoipa::PartialSchema for ImportErrors {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::ArrayBuilder;
        let line = ObjectBuilder::new()
            .description(Some(
                "One invalid line: `line`, 1-based in the file (a CSV's header is line 1), and each invalid \
                 field with its messages, as a single create's 400.",
            ))
            .property("line", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
            .required("line")
            .additional_properties(Some(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String))));
        let lines = ObjectBuilder::new()
            .property("errors", ArrayBuilder::new().items(line))
            .required("errors")
            .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
        AnyOfBuilder::new().item(lines).item(utoipa::openapi::Ref::from_schema_name("Error")).into()
    }
}

impl ToSchema for ImportErrors {}

/// The `{id}` of a path. Anything but a positive integer names nothing
/// (404), like an id that does not exist.
#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdPath {
    #[param(minimum = 1)]
    id: i64,
}

/// One of `values`. `lenient`: the server trims and lower-cases what it
/// reads and takes an empty string for the default, so the upper-case
/// spellings and `""` are listed too.
pub fn choice(values: &[&str], lenient: bool) -> ObjectBuilder {
    let mut accepted: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    if lenient {
        accepted.extend(values.iter().map(|v| v.to_uppercase()));
        accepted.push(String::new());
    }
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(accepted))
}

/// A query filter: `value`, or empty for "no filter" (the server reads an
/// empty value as a left-out one, as django-filter does).
fn or_empty(value: ObjectBuilder) -> AnyOfBuilder {
    AnyOfBuilder::new().item(value).item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(0)))
}

fn integer_from(min: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min))
}

/// `limit` of a limit/offset page.
pub fn limit() -> AnyOfBuilder {
    or_empty(integer_from(1))
}

/// `offset` of a limit/offset page.
pub fn offset() -> AnyOfBuilder {
    or_empty(integer_from(0))
}

/// `page_size` of a cursor page.
pub fn page_size() -> AnyOfBuilder {
    or_empty(integer_from(1))
}

/// A query filter by id (any integer: one that names nothing finds nothing).
pub fn id_filter() -> AnyOfBuilder {
    or_empty(
        ObjectBuilder::new().schema_type(Type::Integer).format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))),
    )
}

/// A query filter by amount.
pub fn amount_filter() -> AnyOfBuilder {
    or_empty(ObjectBuilder::new().schema_type(Type::Number))
}

/// A query filter by day (`YYYY-MM-DD`, UTC).
pub fn date_filter() -> AnyOfBuilder {
    or_empty(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
}

fn whole_number(min: Option<i64>, max: Option<i64>, nullable: bool, description: &str) -> ObjectBuilder {
    let mut types = vec![Type::Integer, Type::String];
    if nullable {
        types.push(Type::Null);
    }
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(types))
        .minimum(min)
        .maximum(max)
        // Rust's (and so the server's) integer syntax; bounds as above.
        .pattern(Some("^[+-]?[0-9]+$"))
        .description(Some(description))
}

/// The id of a product or an order: an integer, or its digits as a string.
pub fn id() -> ObjectBuilder {
    whole_number(None, None, false, "An id: an integer, or its digits as a string.")
}

/// A category id, or null for none.
pub fn category() -> ObjectBuilder {
    whole_number(None, None, true, "A category id (an integer, or its digits as a string), or null for none.")
}

/// Units of a cart line.
pub fn quantity() -> ObjectBuilder {
    whole_number(Some(1), Some(1_000_000), false, "Units: 1 to 1,000,000, and at most the stock.")
}

/// A product's stock.
pub fn stock() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Integer, Type::String]))
        .minimum(Some(0))
        .maximum(Some(1_000_000))
        // DRF's IntegerField also takes "5.0".
        .pattern(Some("^[+-]?[0-9]+(\\.0*)?$"))
        .description(Some("Units in stock: 0 to 1,000,000, an integer or its digits as a string."))
}

/// A product's price.
pub fn price() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Number]))
        .minimum(Some(0))
        .maximum(Some(99_999_999.99))
        .pattern(Some("^[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)$"))
        .description(Some("0.00 to 99999999.99, at most 2 decimal places; a decimal string (`\"19.99\"`) or a number."))
        .examples(["19.99"])
}

/// A boolean, or what DRF's `BooleanField` reads as one.
pub fn flag() -> AnyOfBuilder {
    let words = ["true", "false", "1", "0", "yes", "no", "on", "off"];
    // The server lower-cases what it reads; these are the spellings a
    // client is likely to send.
    let mut texts: Vec<String> = words.iter().flat_map(|w| [w.to_string(), w.to_uppercase(), capitalized(w)]).collect();
    texts.sort();
    texts.dedup();
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(ObjectBuilder::new().schema_type(Type::Integer).enum_values(Some([0, 1])))
        .item(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(texts)))
        .description(Some("true or false; also 1/0 and the strings true, yes, on, 1 / false, no, off, 0."))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
