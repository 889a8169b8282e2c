//! The OpenAPI 3.1 document, collected from the handlers' `#[utoipa::path]`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Presswork API",
        description = "Headless CMS with an LLM content pipeline and a human approval gate. \
                       Errors use the envelope `{\"error\": {\"code\", \"message\", \"details\"}}`.",
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
pub fn document() -> Result<utoipa::openapi::OpenApi, anyhow::Error> {
    // No request is served from this app, so a fixed secret is fine here.
    let env: std::collections::HashMap<String, String> = [(
        "JWT_SECRET".to_owned(),
        "document-generation-only-not-a-real-secret".to_owned(),
    )]
    .into();
    let config = presswork_domain::runtime::load_from(&env, "presswork-api")?;
    let pool = presswork_db::build_pool(&config.database)?;
    Ok(crate::startup::split_app_with(crate::AppState::new(pool, config)?, |_| {}).1)
}
