//! The editorial console: server-rendered pages at `/console` for the people
//! who review and publish.
//!
//! - Pages are minijinja templates compiled into the binary, HTML-escaped by
//!   default; one stylesheet and one small script are served from memory.
//!   Nothing is fetched from elsewhere, so the console works offline.
//! - It uses the API's own accounts, sessions and permissions. Login (with the
//!   TOTP step) creates an ordinary server-side session; the browser holds its
//!   secret in an HttpOnly, SameSite=Strict cookie scoped to `/console`
//!   (Secure over HTTPS). Logging out, or revoking the session through the
//!   API, ends it at once.
//! - Every form carries a CSRF token bound to the session (an HMAC of its id),
//!   checked before anything else; the login form uses a double-submit cookie.
//! - Handlers are as thin as the API's: they call the same crate functions
//!   (`presswork_pipeline::approval`, `presswork_db::cms`, …) and check the
//!   same permissions.

mod audit;
mod history;
mod pages;
mod session;

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, web};
use minijinja::{AutoEscape, Environment};

pub use session::Viewer;

use crate::error::ApiError;

/// Content-Security-Policy of console pages: only this origin's script and
/// style; images may come from anywhere over HTTPS (featured photos).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
     connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// A template compiled into the binary, by file name.
macro_rules! template {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../console/templates/", $name)),
        )
    };
}

const TEMPLATES: [(&str, &str); 12] = [
    template!("base.html"),
    template!("macros.html"),
    template!("login.html"),
    template!("queue.html"),
    template!("review.html"),
    template!("new.html"),
    template!("posts.html"),
    template!("post_edit.html"),
    template!("costs.html"),
    template!("history.html"),
    template!("audit.html"),
    template!("shared.html"),
];

const CONSOLE_CSS: &str = include_str!("../../console/static/console.css");
const CONSOLE_JS: &str = include_str!("../../console/static/console.js");

/// The console's templates and the key its CSRF tokens are made with.
pub struct Console {
    env: Environment<'static>,
    csrf_key: Vec<u8>,
}

impl Console {
    /// Fails if a template does not parse (caught by the tests, and at start).
    pub fn new(csrf_key: Vec<u8>) -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env, csrf_key })
    }

    pub(crate) fn render(
        &self,
        name: &str,
        ctx: minijinja::Value,
    ) -> Result<HttpResponse, ConsoleError> {
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                tracing::error!(template = name, error = %e, "console template failed");
                ConsoleError::Internal
            })?;
        Ok(page(StatusCode::OK, html))
    }

    pub(crate) fn render_status(
        &self,
        status: StatusCode,
        name: &str,
        ctx: minijinja::Value,
    ) -> Result<HttpResponse, ConsoleError> {
        let mut resp = self.render(name, ctx)?;
        *resp.status_mut() = status;
        Ok(resp)
    }
}

/// An HTML page that no cache keeps (it shows a signed-in user's data).
fn page(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Content-Security-Policy", CSP))
        .body(html)
}

/// What a console request can end in besides a page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in (or the session ended): to the login page.
    Login,
    Status(StatusCode, String),
    Internal,
}

impl ConsoleError {
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Status(StatusCode::FORBIDDEN, message.into())
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Status(StatusCode::BAD_REQUEST, message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::Status(StatusCode::NOT_FOUND, message.into())
    }
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Login => f.write_str("sign in first"),
            Self::Status(s, m) => write!(f, "{s}: {m}"),
            Self::Internal => f.write_str("internal error"),
        }
    }
}

/// Every error the API maps has a status and a message meant for callers;
/// the console shows the same.
impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        if e.status == StatusCode::UNAUTHORIZED {
            return Self::Login;
        }
        if e.status.is_server_error() && e.status != StatusCode::SERVICE_UNAVAILABLE {
            return Self::Internal;
        }
        Self::Status(e.status, e.message)
    }
}

/// `?` on any error the API knows how to answer.
pub(crate) trait OrConsole<T> {
    fn or_console(self) -> Result<T, ConsoleError>;
}

impl<T, E: Into<ApiError>> OrConsole<T> for Result<T, E> {
    fn or_console(self) -> Result<T, ConsoleError> {
        self.map_err(|e| ConsoleError::from(e.into()))
    }
}

fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Login => StatusCode::SEE_OTHER,
            Self::Status(s, _) => *s,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Login = self {
            return HttpResponse::SeeOther()
                .insert_header(("Location", "/console/login"))
                .insert_header(("Cache-Control", "no-store"))
                .finish();
        }
        let status = self.status_code();
        let message = match self {
            Self::Status(_, m) => m.as_str(),
            _ => "Something went wrong on our side; it has been logged.",
        };
        // A fixed page: it must render even when templates or state do not.
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{code} · Presswork console</title><link rel=\"stylesheet\" href=\"/console/static/console.css\"></head>\
             <body><main id=\"main\"><section class=\"card narrow\"><h1>{code} · {reason}</h1>\
             <p role=\"alert\" class=\"error-text\">{message}</p>\
             <p><a href=\"/console/queue\">Back to the queue</a></p></section></main></body></html>",
            code = status.as_u16(),
            reason = status.canonical_reason().unwrap_or("Error"),
            message = escape(message),
        );
        page(status, html)
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CONSOLE_CSS)
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CONSOLE_JS)
}

/// Form bodies: drafts can be long (the content field), so 2 MiB; a body that
/// does not parse is a 400 page, not actix's plain-text answer.
fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(2 * 1024 * 1024)
        .error_handler(|err, _| {
            let message = format!("The form could not be read: {err}");
            actix_web::Error::from(ConsoleError::bad_request(message))
        })
}

/// The console's routes, each recorded in the method table as it is
/// registered.
pub fn scope(methods: &mut crate::methods::MethodTable) -> actix_web::Scope {
    crate::methods::Recorder::new(
        "/console",
        web::scope("/console").app_data(form_config()),
        methods,
    )
    .get("", pages::home)
    .get("/", pages::home)
    .get("/static/console.css", stylesheet)
    .get("/static/console.js", script)
    .get("/login", session::login_page)
    .post("/login", session::login)
    .post("/login/2fa", session::second_factor)
    .post("/logout", session::logout)
    .get("/queue", pages::queue)
    .get("/new", pages::new_form)
    .post("/new", pages::create)
    .get("/content/{id}", pages::review)
    .post("/content/{id}/decide", pages::decide)
    .post("/content/{id}/feedback", pages::feedback)
    .post("/content/{id}/retry", pages::retry)
    .post("/content/{id}/preview", pages::share_review_preview)
    .get("/tasks/{id}/events", pages::task_events)
    .post("/preview", pages::preview)
    .get("/posts", pages::posts)
    .get("/posts/{id}", pages::post_page)
    .post("/posts/{id}", pages::save_post)
    .post("/posts/{id}/status", pages::post_status)
    .get("/posts/{id}/history", history::post_history)
    .post("/posts/{id}/preview", pages::share_preview)
    .post("/posts/{id}/revisions/{rev}/restore", history::restore)
    .get("/content/{id}/history", history::review_history)
    .get("/costs", pages::costs)
    .get("/audit", audit::audit_page)
    .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let c = Console::new(vec![7; 32]).unwrap();
        for (name, _) in TEMPLATES {
            assert!(c.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn error_pages_escape_the_message() {
        let resp = ConsoleError::bad_request("<script>alert(1)</script>").error_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
