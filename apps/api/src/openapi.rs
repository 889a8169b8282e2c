//! The OpenAPI 3.1 document, collected from the handlers' `#[utoipa::path]`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Presswork API",
        description = "Headless CMS with an LLM content pipeline and a human approval gate. \
                       Errors use the envelope `{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody)),
    tags(
        (name = "operations", description = "Health, readiness and documentation"),
    )
)]
pub struct ApiDoc;

/// The full document as served at `/api/openapi.json`.
/// Built from the same route table as the server (with default configuration,
/// which opens no connection), so it cannot drift from what is served.
pub fn document() -> Result<utoipa::openapi::OpenApi, anyhow::Error> {
    let config =
        presswork_domain::runtime::load_from(&std::collections::HashMap::new(), "presswork-api")?;
    let pool = presswork_db::build_pool(&config.database)?;
    Ok(crate::startup::split_app(crate::AppState::new(pool, config)).1)
}
