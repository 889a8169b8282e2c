//! Builds the actix application: one function used by `main` and the tests.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::error::{ApiError, json_error, path_error, query_error};
use crate::methods::MethodTable;
use crate::middleware::request_context;
use crate::openapi::ApiDoc;
use crate::routes;
use crate::state::AppState;

/// The application with its OpenAPI document, plus `extra` routes (tests
/// register probes there, so they run behind the real middleware and
/// extractor settings; production passes none). The document is complete only
/// because every route is registered through `UtoipaApp::service`.
pub fn split_app_with(
    state: AppState,
    extra: impl FnOnce(&mut web::ServiceConfig),
) -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    crate::openapi::Document,
) {
    // Runs once on each worker thread: its own connections.
    if let Err(e) = state.attach_worker_pool() {
        tracing::warn!(error.cause = %e, "worker pool not built; using the process's pool");
    }
    let body_limit = state.config.http.body_limit_bytes;
    let cors = cors(&state.config.http);
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(body_limit)
                .error_handler(json_error),
        )
        .app_data(web::PayloadConfig::default().limit(body_limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        // The public reads first: actix tries routes in order, matching each
        // pattern before it by regex (2 % of a cold slug read's CPU when
        // `/api/posts/{id_or_slug}` came sixtieth). A path spelled out in
        // full still comes before the pattern that would also match it.
        .service(routes::posts::list_posts)
        .service(routes::posts::search_posts)
        .service(routes::posts::get_post)
        .service(routes::health::get_health)
        .service(routes::health::get_livez)
        .service(routes::health::get_readyz)
        .service(routes::auth::register)
        .service(routes::auth::init_admin)
        .service(routes::auth::login)
        .service(routes::auth::login_second_factor)
        .service(routes::auth::refresh_token)
        .service(routes::auth::logout)
        .service(routes::auth::get_me)
        .service(routes::auth::verify_session)
        .service(routes::auth::change_password)
        .service(routes::auth::list_sessions)
        .service(routes::auth::delete_session)
        .service(routes::auth::setup_totp)
        .service(routes::auth::verify_totp)
        .service(routes::auth::disable_totp)
        .service(routes::auth::regenerate_backup_codes)
        .service(routes::auth::create_api_key)
        .service(routes::auth::list_api_keys)
        .service(routes::auth::revoke_api_key)
        .service(routes::auth::github_login)
        .service(routes::auth::github_callback)
        .service(routes::auth::github_callback_post)
        .service(routes::content::create_content_task)
        .service(routes::content::generate_blog_post)
        .service(routes::content::list_content_tasks)
        .service(routes::content::list_drafts)
        .service(routes::content::get_content_task)
        .service(routes::content::approve_content_task)
        .service(routes::content::regenerate_content_task)
        .service(routes::content::delete_content_task)
        .service(routes::social::generate_social)
        .service(routes::social::schedule_social_post)
        .service(routes::social::list_social_posts)
        .service(routes::social::delete_social_post)
        .service(routes::social::social_platforms)
        .service(routes::metrics::get_metrics)
        .service(crate::prometheus::scrape)
        .service(routes::metrics::get_costs)
        .service(routes::models::list_models)
        .service(routes::models::list_providers)
        .service(routes::models::test_model)
        .service(routes::ollama::ollama_health)
        .service(routes::ollama::ollama_models)
        .service(routes::ollama::ollama_status)
        .service(routes::ollama::ollama_warmup)
        .service(routes::chat::chat)
        .service(routes::chat::get_history)
        .service(routes::chat::delete_history)
        .service(routes::chat::chat_models)
        .service(routes::posts::view_post)
        .service(routes::posts::create_post)
        .service(routes::posts::put_post)
        .service(routes::posts::patch_post)
        .service(routes::posts::delete_post)
        .service(routes::posts::publish_post)
        .service(routes::posts::unpublish_post)
        .service(routes::posts::get_cms_status)
        .service(routes::revisions::list_post_revisions)
        .service(routes::revisions::get_post_revision)
        .service(routes::revisions::diff_post_revisions)
        .service(routes::revisions::restore_post_revision)
        .service(routes::revisions::list_review_revisions)
        .service(routes::revisions::get_review_revision)
        .service(routes::revisions::diff_review_revisions)
        .service(routes::previews::create_preview_link)
        .service(routes::previews::list_preview_links)
        .service(routes::previews::revoke_preview_link)
        .service(routes::previews::open_preview)
        .service(routes::previews::create_review_preview_link)
        .service(routes::previews::list_review_preview_links)
        .service(routes::previews::revoke_review_preview_link)
        .service(routes::audit::list_audit)
        .service(routes::taxonomy::list_categories)
        .service(routes::taxonomy::get_category)
        .service(routes::taxonomy::create_category)
        .service(routes::taxonomy::put_category)
        .service(routes::taxonomy::patch_category)
        .service(routes::taxonomy::delete_category)
        .service(routes::taxonomy::list_tags)
        .service(routes::taxonomy::get_tag)
        .service(routes::taxonomy::create_tag)
        .service(routes::taxonomy::put_tag)
        .service(routes::taxonomy::patch_tag)
        .service(routes::taxonomy::delete_tag)
        .service(routes::taxonomy::list_authors)
        .service(routes::taxonomy::get_author)
        .service(routes::taxonomy::create_author)
        .service(routes::taxonomy::put_author)
        .service(routes::taxonomy::patch_author)
        .service(routes::taxonomy::delete_author)
        .service(routes::tasks::create_task)
        .service(routes::tasks::list_tasks)
        .service(routes::tasks::get_task_summary)
        .service(routes::tasks::get_task)
        .service(routes::tasks::put_task)
        .service(routes::tasks::patch_task)
        .service(routes::tasks::cancel_task)
        .service(routes::tasks::retry_task)
        .service(routes::tasks::task_events)
        .service(routes::commands::create_command)
        .service(routes::commands::list_commands)
        .service(routes::commands::get_command_stats)
        .service(routes::commands::claim_command)
        .service(routes::commands::get_command)
        .service(routes::commands::complete_command)
        .service(routes::commands::fail_command)
        .service(routes::commands::cancel_command)
        .service(routes::webhooks::create_subscription)
        .service(routes::webhooks::list_subscriptions)
        .service(routes::webhooks::delete_subscription)
        .service(routes::webhooks::content_created)
        .service(routes::agents::get_agents_status)
        .service(routes::users::list_users)
        .service(routes::users::get_user)
        .service(routes::users::create_user)
        .service(routes::users::update_user)
        .service(routes::users::delete_user)
        .service(routes::users::list_roles)
        .service(routes::settings::list_settings)
        .service(routes::settings::get_setting)
        .service(routes::settings::put_setting)
        .service(routes::settings::put_settings)
        .service(routes::settings::delete_setting)
        .split_for_parts();
    // Every app of the process has the same routes: the first one finishes
    // and serialises the document, the others (one per worker) reuse it.
    let mut methods = MethodTable::default();
    methods.add_document(&api);
    let doc = crate::openapi::finished(api);
    let served = doc.clone();
    // Routes outside the document are recorded next to their registration.
    methods.add("/api/openapi.json", Method::GET);
    methods.add("/docs", Method::GET);
    methods.add("/docs/swagger", Method::GET);
    methods.add("/docs/swagger/{_:.*}", Method::GET);
    let console = crate::console::scope(&mut methods);
    let docs = SwaggerUi::new("/docs/swagger/{_:.*}")
        .config(SwaggerConfig::new(["/api/openapi.json"]).validator_url("none"));
    let app = app
        // Before Swagger UI's own files: its page, titled for us.
        .route("/docs/swagger/", web::get().to(docs_page))
        .route("/docs/swagger/index.html", web::get().to(docs_page))
        .service(docs)
        .route(
            "/api/openapi.json",
            web::get().to(move || {
                let doc = served.clone();
                async move {
                    doc.map(|doc| {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(doc)
                    })
                    .map_err(ApiError::internal)
                }
            }),
        )
        .route("/docs", web::get().to(redirect_to_docs))
        .route("/docs/swagger", web::get().to(redirect_to_docs))
        .service(console)
        .configure(extra)
        .app_data(web::Data::new(methods))
        .default_service(web::to(not_found))
        .wrap(from_fn(crate::methods::literal_paths))
        .wrap(from_fn(crate::middleware::json_objects_only))
        .wrap(from_fn(crate::ratelimit::rate_limit))
        .wrap(from_fn(crate::auth::authenticate))
        .wrap(cors)
        .wrap(security_headers())
        .wrap(from_fn(crate::methods::head_as_get))
        .wrap(from_fn(request_context));
    (app, doc)
}

/// Headers every response carries unless the handler set its own: no MIME
/// sniffing, no framing, no referrer leaks, a content security policy that
/// allows only this origin (Swagger UI included), HSTS for HTTPS deployments.
fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; \
             object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
        ))
        .add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
}

/// The application without its document; see [`split_app_with`].
pub fn app_with(
    state: AppState,
    extra: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    split_app_with(state, extra).0
}

/// CORS from configuration only: no origin is allowed unless listed; the
/// request headers a browser may send are `http.cors_allowed_headers`.
fn cors(http: &presswork_domain::config::HttpConfig) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers(
            http.cors_allowed_headers
                .iter()
                .filter_map(|h| HeaderName::try_from(h.as_str()).ok()),
        )
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::ALLOW,
            HeaderName::from_static("x-request-id"),
        ])
        .supports_credentials()
        .max_age(3600);
    for origin in &http.cors_allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Swagger UI's page (vendored into the binary, so nothing comes from another
/// host) with the document's own title instead of "Swagger UI".
async fn docs_page() -> Result<HttpResponse, ApiError> {
    static PAGE: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    let page = PAGE.get_or_init(|| {
        let config = std::sync::Arc::new(SwaggerConfig::new(["/api/openapi.json"]));
        let file = utoipa_swagger_ui::serve("index.html", config)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "Swagger UI has no index.html".to_owned())?;
        let html = String::from_utf8(file.bytes.into_owned()).map_err(|e| e.to_string())?;
        let title = crate::openapi::TITLE;
        Ok(html.replace(
            "<title>Swagger UI</title>",
            &format!("<title>{title}</title>"),
        ))
    });
    match page {
        Ok(html) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html.clone())),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn redirect_to_docs() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", "/docs/swagger/"))
        .finish()
}

/// Reached when no route matched: 405 with `Allow` if the path exists for
/// other methods (the route macros guard by method), else 404.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = req
        .app_data::<web::Data<MethodTable>>()
        .map(|t| t.allowed(req.path()))
        .unwrap_or_default();
    if allowed.is_empty() {
        return Err(ApiError::not_found("no such resource"));
    }
    Err(ApiError::method_not_allowed(&allowed))
}

/// The production application.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    app_with(state, |_| {})
}
