//! Schemas the derive cannot infer: string enums whose values live in one
//! list in the domain (or a route module), used by `schema_with` so the
//! document lists exactly the values the validators accept.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Object, RefOr, Schema};

/// A string that is one of `values`.
pub fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.into_iter().map(str::to_owned)))
        .build()
}

/// The same, or `null`.
pub fn nullable_enum<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            values
                .into_iter()
                .map(|v| serde_json::Value::String(v.to_owned()))
                .chain([serde_json::Value::Null]),
        ))
        .build()
}

/// Text with at least one character that is not white space (what "must not
/// be empty" means once input is trimmed), between `min` and `max`
/// characters long.
pub fn text(min: usize, max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(NON_BLANK))
        .build()
}

/// A pattern that white space alone does not match.
pub const NON_BLANK: &str = r"\S";

/// Wraps an object as a schema.
pub fn schema(o: Object) -> RefOr<Schema> {
    RefOr::T(Schema::Object(o))
}
