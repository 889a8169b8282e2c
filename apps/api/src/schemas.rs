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

/// One value of `values` or several, comma-separated (spaces allowed
/// around each), as a pattern.
pub fn comma_list<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    let one = values.into_iter().collect::<Vec<_>>().join("|");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^ *({one}) *(, *({one}) *)*$")))
        .description(Some("One value or several, comma-separated."))
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

/// [`text`], or `null`.
pub fn nullable_non_blank(min: usize, max: usize) -> Object {
    let mut o = text(min, max);
    o.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    o
}

/// Text of at most `max` characters, or `null`.
pub fn nullable_text(max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(max))
        .build()
}

/// What `check_url` accepts (an absolute http(s) URL), or `null`.
pub fn nullable_url() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(Some(presswork_domain::post::URL_MAX))
        .pattern(Some(presswork_domain::post::URL_PATTERN))
        .build()
}

/// A slug: what `Slug::parse` accepts.
pub fn slug() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(presswork_domain::slug::MAX_SLUG_LEN))
        .pattern(Some(presswork_domain::slug::SLUG_PATTERN))
        .build()
}

/// A slug, or `null` (left as it is).
pub fn slug_or_null() -> Object {
    let mut o = slug();
    o.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    o
}

/// A chat conversation id (what `ConversationId::parse` accepts), or `null`
/// for a new conversation.
pub fn conversation_id_or_null() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(
            "Your name for the conversation (1 to 128 printable characters, e.g. `default`), \
             scoped to you; a new one, named by the server, starts when absent.",
        ))
        .min_length(Some(1))
        .max_length(Some(presswork_domain::chat::ConversationId::MAX_CHARS))
        .pattern(Some(presswork_domain::chat::ConversationId::PATTERN))
        .build()
}

/// A pattern that white space alone does not match.
pub const NON_BLANK: &str = r"\S";

/// Wraps an object as a schema.
pub fn schema(o: Object) -> RefOr<Schema> {
    RefOr::T(Schema::Object(o))
}
