//! The OpenAPI 3.1 document, collected from the handlers' `#[utoipa::path]`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's title, also the docs page's.
pub const TITLE: &str = "Presswork API";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Presswork API",
        description = "Headless CMS with an LLM content pipeline and a human approval gate. \
                       Errors use the envelope `{\"error\": {\"code\", \"message\", \"details\"}}`. \
                       Text never contains NUL (U+0000), which PostgreSQL cannot store: \
                       such a request is refused with 400 `invalid_text`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "operations", description = "Health, readiness and documentation"),
        (name = "auth", description = "Login, tokens, sessions, 2FA, API keys, GitHub sign-in"),
        (name = "posts", description = "Posts: public reads (front-end compatible) and editorial writes"),
        (name = "categories", description = "Categories"),
        (name = "tags", description = "Tags"),
        (name = "authors", description = "Authors"),
        (name = "tasks", description = "The task queue: tasks, progress and event streams"),
        (name = "commands", description = "Durable commands for agents"),
        (name = "webhooks", description = "Outgoing webhook subscriptions; the incoming compatibility webhook"),
        (name = "users", description = "User and role administration"),
        (name = "settings", description = "Runtime settings; secrets encrypted and masked"),
    )
)]
pub struct ApiDoc;

/// `bearer`: a JWT access token or an API key in `Authorization: Bearer`;
/// `api_key`: an API key in `X-API-Key`. Scopes name the permission needed.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The full document as served at `/api/openapi.json`.
/// Built from the same route table as the server (with default configuration,
/// which opens no connection), so it cannot drift from what is served.
pub fn document() -> Result<serde_json::Value, anyhow::Error> {
    // No request is served from this app, so a fixed secret is fine here.
    let env: std::collections::HashMap<String, String> = [(
        "JWT_SECRET".to_owned(),
        "document-generation-only-not-a-real-secret".to_owned(),
    )]
    .into();
    let config = presswork_domain::runtime::load_from(&env, "presswork-api")?;
    let pool = presswork_db::build_pool(&config.database)?;
    let (_, doc) = crate::startup::split_app_with(crate::AppState::new(pool, config)?, |_| {});
    Ok(serde_json::from_slice(&doc.map_err(anyhow::Error::msg)?)?)
}

/// The served document's JSON, or why it could not be made.
pub type Document = Result<actix_web::web::Bytes, String>;

/// The document served, as JSON: the route table's operations with the
/// [common responses](add_common_responses), built and serialised by the
/// first app of the process (each actix worker builds its own app, all with
/// the same routes), then shared. Building and keeping one per worker cost
/// several MB of memory each.
pub fn finished(api: utoipa::openapi::OpenApi) -> Document {
    static DOCUMENT: std::sync::OnceLock<Document> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut api = api;
            add_common_responses(&mut api);
            let mut doc = serde_json::to_value(&api)
                .map_err(|e| format!("the OpenAPI document does not serialise: {e}"))?;
            split_nullable_formats(&mut doc);
            serde_json::to_vec(&doc)
                .map(actix_web::web::Bytes::from)
                .map_err(|e| format!("the OpenAPI document does not serialise: {e}"))
        })
        .clone()
}

/// `{"type": ["string", "null"], "format": "uuid"}` (what the derive makes of
/// `Option<Uuid>`) leaves some tools unsure whether the format binds the
/// string: generators then send `""` as a "valid" UUID or date. Spelled as
/// `oneOf` a string with its format, or `null`, it is unambiguous.
fn split_nullable_formats(v: &mut serde_json::Value) {
    use serde_json::{Value, json};
    match v {
        Value::Object(o) => {
            let nullable_with_format = o.get("format").is_some()
                && o.get("type")
                    .and_then(Value::as_array)
                    .is_some_and(|types| types.len() == 2 && types.iter().any(|t| t == "null"));
            if nullable_with_format {
                let types = o.remove("type").unwrap_or_default();
                let other = types
                    .as_array()
                    .and_then(|ts| ts.iter().find(|t| *t != "null").cloned())
                    .unwrap_or(Value::Null);
                let description = o.remove("description");
                let mut string = std::mem::take(o);
                string.insert("type".to_owned(), other);
                o.insert(
                    "oneOf".to_owned(),
                    json!([Value::Object(string), {"type": "null"}]),
                );
                if let Some(d) = description {
                    o.insert("description".to_owned(), d);
                }
            }
            o.values_mut().for_each(split_nullable_formats);
        }
        Value::Array(a) => a.iter_mut().for_each(split_nullable_formats),
        _ => {}
    }
}

/// Answers any operation can give besides its own, added where an
/// operation does not list them: malformed requests (400), bodies too large
/// or of the wrong type (413, 415), rate limits (429), the database down
/// (503), a credential that is sent but not valid (401, on every route);
/// permission missing (403) on secured ones;
/// 404 where a path names a resource. All carry the error envelope.
pub fn add_common_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let envelope = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                    .build(),
            )
            .build()
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let has_params = path.contains('{');
        let ops = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for op in ops.into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|reqs| {
                serde_json::to_value(reqs).is_ok_and(|v| {
                    v.as_array().is_some_and(|a| {
                        a.iter()
                            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                    })
                })
            });
            let has_body = op.request_body.is_some();
            let has_query = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| serde_json::to_value(p).is_ok_and(|v| v["in"] == "query"))
            });
            let mut common = vec![
                ("400", "Malformed request (JSON, query or path)"),
                ("429", "Rate limited; see Retry-After"),
                ("503", "The database is unavailable"),
            ];
            if has_body {
                common.push(("413", "Request body too large"));
                common.push(("415", "Unsupported content type"));
                common.push(("422", "Invalid input; details name the field"));
            }
            // A credential that is sent must be valid, on every route.
            common.push(("401", "Missing or invalid credentials"));
            if secured {
                common.push(("403", "Missing permission"));
            }
            if has_query {
                common.push(("422", "Invalid input; details name the field"));
            }
            if has_params {
                common.push(("404", "No such resource"));
                common.push(("422", "Invalid input; details name the field"));
            }
            for (code, description) in common {
                if !op.responses.responses.contains_key(code) {
                    op.responses
                        .responses
                        .insert(code.to_owned(), envelope(description).into());
                }
            }
        }
    }
}
