//! Console sign-in: the session cookie, the signed-in [`Viewer`], CSRF tokens,
//! and the login (password, then TOTP when enabled) and logout forms.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::LocalBoxFuture;
use hmac::{Hmac, Mac};
use minijinja::context;
use presswork_auth::service::LoginStep;
use presswork_auth::{AuthError, Principal};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::{Console, ConsoleError, OrConsole};
use crate::AppState;
use crate::auth::client_info;

/// The session secret (the session's refresh token, never rotated here).
pub const SESSION_COOKIE: &str = "pw_console";
/// Double-submit token of the login forms (there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "pw_console_login";

type HmacSha256 = Hmac<Sha256>;

impl Console {
    /// The CSRF token of a session: HMAC-SHA256 of its id.
    pub(crate) fn csrf_for(&self, session_id: Uuid) -> String {
        let mut mac = match HmacSha256::new_from_slice(&self.csrf_key) {
            Ok(m) => m,
            // HMAC takes keys of any length.
            Err(_) => return String::new(),
        };
        mac.update(b"presswork-console-csrf:");
        mac.update(session_id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn csrf_ok(&self, session_id: Uuid, token: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return false;
        };
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.csrf_key) else {
            return false;
        };
        mac.update(b"presswork-console-csrf:");
        mac.update(session_id.as_bytes());
        mac.verify_slice(&given).is_ok()
    }
}

/// What the templates know of the signed-in user.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub username: String,
    pub roles: Vec<String>,
}

/// What the signed-in user may do, for showing only the buttons that work.
#[derive(Debug, Clone, Serialize)]
pub struct Can {
    pub create: bool,
    pub approve: bool,
    pub publish: bool,
    pub metrics: bool,
    pub edit_any_post: bool,
    pub audit: bool,
}

/// A console request from a signed-in user: the principal, as the API would
/// see it, and the session's CSRF token.
pub struct Viewer {
    pub principal: Principal,
    pub user: UserView,
    pub csrf: String,
    /// The request, as the audit trail records it.
    pub request: presswork_db::audit::Request,
    session_id: Uuid,
}

impl Viewer {
    /// Checked first on every form post: missing or wrong is a 403.
    pub fn check_csrf(&self, state: &AppState, token: &str) -> Result<(), ConsoleError> {
        if !token.is_empty() && state.console.csrf_ok(self.session_id, token) {
            Ok(())
        } else {
            Err(ConsoleError::forbidden(
                "The form's security token is missing or wrong. Reload the page and try again.",
            ))
        }
    }

    pub fn require(&self, permission: &str) -> Result<(), ConsoleError> {
        if self.principal.has(permission) {
            Ok(())
        } else {
            Err(ConsoleError::forbidden(format!(
                "This needs the {permission} permission, which your account does not have."
            )))
        }
    }

    pub fn can(&self) -> Can {
        use presswork_domain::permissions as p;
        Can {
            create: self.principal.has(p::CONTENT_CREATE),
            approve: self.principal.has(p::CONTENT_APPROVE),
            publish: self.principal.has(p::POSTS_PUBLISH),
            metrics: self.principal.has(p::METRICS_READ),
            edit_any_post: self.principal.has(p::POSTS_UPDATE),
            audit: self.principal.has(p::AUDIT_READ),
        }
    }

    /// The context every page's layout needs, plus the page's own.
    pub fn ctx(&self, nav: &str, flash: Option<Flash>, page: minijinja::Value) -> minijinja::Value {
        let base = context! {
            user => self.user.clone(),
            can => self.can(),
            csrf => self.csrf.clone(),
            nav => nav,
            flash => flash,
        };
        context! { ..page, ..base }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    pub kind: &'static str,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            kind: "ok",
            text: text.into(),
        })
    }
    pub fn error(text: impl Into<String>) -> Option<Self> {
        Some(Self {
            kind: "error",
            text: text.into(),
        })
    }
}

fn session_error(e: AuthError) -> ConsoleError {
    match e {
        AuthError::Db(_) | AuthError::Internal(_) | AuthError::Unavailable(_) => {
            ConsoleError::from(crate::error::ApiError::from(e))
        }
        _ => ConsoleError::Login,
    }
}

impl FromRequest for Viewer {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let secret = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let request = crate::auth::audit_request(req);
        Box::pin(async move {
            let state = state.ok_or(ConsoleError::Internal)?;
            let secret = secret
                .filter(|s| !s.is_empty())
                .ok_or(ConsoleError::Login)?;
            let principal = state
                .auth
                .authenticate_session_secret(&secret)
                .await
                .map_err(session_error)?;
            let session_id = principal.session_id().ok_or(ConsoleError::Login)?;
            let summary = state
                .auth
                .user_summary(principal.user_id)
                .await
                .map_err(session_error)?;
            tracing::Span::current().record("principal.id", principal.log_id().as_str());
            Ok(Viewer {
                csrf: state.console.csrf_for(session_id),
                principal,
                user: UserView {
                    username: summary.username,
                    roles: summary.roles,
                },
                session_id,
                request,
            })
        })
    }
}

fn cookie<'c>(req: &HttpRequest, name: &'c str, value: String, path: &'c str) -> Cookie<'c> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(crate::auth::is_https(req))
        .finish()
}

fn removal<'c>(req: &HttpRequest, name: &'c str, path: &'c str) -> Cookie<'c> {
    let mut c = cookie(req, name, String::new(), path);
    c.make_removal();
    c
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn login_ctx(
    csrf: &str,
    error: Option<&str>,
    login: &str,
    ticket: Option<&str>,
) -> minijinja::Value {
    context! {
        csrf => csrf,
        error => error,
        login => login,
        ticket => ticket,
    }
}

/// The login form; a signed-in user goes straight to the queue.
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(secret) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
        && state
            .auth
            .authenticate_session_secret(&secret)
            .await
            .is_ok()
    {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/console/queue"))
            .finish());
    }
    let token = presswork_auth::crypto::random_token::<24>().map_err(|_| ConsoleError::Internal)?;
    let mut resp = state
        .console
        .render("login.html", login_ctx(&token, None, "", None))?;
    resp.add_cookie(&cookie(&req, LOGIN_CSRF_COOKIE, token, "/console/login"))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(resp)
}

/// No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

/// No `Debug`: it holds a ticket and a code.
#[derive(Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    code: String,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// The double-submit check of the login forms.
fn login_csrf(req: &HttpRequest, token: &str) -> Result<String, ConsoleError> {
    let expected = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !same(&expected, token) {
        return Err(ConsoleError::forbidden(
            "The login form's security token is missing or wrong. Reload the page and try again.",
        ));
    }
    Ok(expected)
}

/// The answer to a login step: signed in, the TOTP step, or the form again
/// with what went wrong.
fn login_outcome(
    req: &HttpRequest,
    state: &AppState,
    csrf: &str,
    login: &str,
    ticket: Option<&str>,
    step: Result<LoginStep, AuthError>,
) -> Result<HttpResponse, ConsoleError> {
    let (status, message, retry_after) = match step {
        Ok(LoginStep::SignedIn(tokens)) => {
            let mut resp = HttpResponse::SeeOther()
                .insert_header(("Location", "/console/queue"))
                .insert_header(("Cache-Control", "no-store"))
                .finish();
            resp.add_cookie(&cookie(
                req,
                SESSION_COOKIE,
                tokens.refresh_token,
                "/console",
            ))
            .map_err(|_| ConsoleError::Internal)?;
            resp.add_cookie(&removal(req, LOGIN_CSRF_COOKIE, "/console/login"))
                .map_err(|_| ConsoleError::Internal)?;
            return Ok(resp);
        }
        Ok(LoginStep::SecondFactor { ticket }) => {
            return state
                .console
                .render("login.html", login_ctx(csrf, None, login, Some(&ticket)));
        }
        Err(AuthError::InvalidCredentials) => (
            StatusCode::UNAUTHORIZED,
            "Wrong login or password.".to_owned(),
            None,
        ),
        Err(AuthError::InvalidTotp) => (
            StatusCode::UNAUTHORIZED,
            "That code is not valid. Try the current one.".to_owned(),
            None,
        ),
        Err(AuthError::InvalidToken | AuthError::TokenExpired) => (
            StatusCode::UNAUTHORIZED,
            "The sign-in took too long. Start again.".to_owned(),
            None,
        ),
        Err(
            AuthError::AccountLocked { retry_after_s }
            | AuthError::TooManyAttempts { retry_after_s },
        ) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts. Try again in {retry_after_s} seconds."),
            Some(retry_after_s),
        ),
        Err(AuthError::AccountDisabled) => (
            StatusCode::FORBIDDEN,
            "This account is disabled.".to_owned(),
            None,
        ),
        Err(e) => return Err(ConsoleError::from(crate::error::ApiError::from(e))),
    };
    // A wrong TOTP code keeps the ticket (it is short-lived and the failures
    // count towards the lockout); anything else starts over.
    let keep_ticket =
        ticket.filter(|_| status == StatusCode::UNAUTHORIZED && message.starts_with("That code"));
    let mut resp = state.console.render_status(
        status,
        "login.html",
        login_ctx(csrf, Some(&message), login, keep_ticket),
    )?;
    if let Some(s) = retry_after {
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(s),
        );
    }
    Ok(resp)
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    let csrf = login_csrf(&req, &form.csrf)?;
    let step = state
        .auth
        .login_first_factor(
            form.login.trim(),
            SecretString::from(form.password),
            &client_info(&req),
        )
        .await;
    login_outcome(&req, &state, &csrf, form.login.trim(), None, step)
}

pub async fn second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SecondFactorForm>,
) -> Result<HttpResponse, ConsoleError> {
    let form = form.into_inner();
    let csrf = login_csrf(&req, &form.csrf)?;
    let step = state
        .auth
        .login_second_factor(&form.ticket, &form.code, &client_info(&req))
        .await
        .map(LoginStep::SignedIn);
    login_outcome(&req, &state, &csrf, "", Some(&form.ticket), step)
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    viewer: Viewer,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    viewer.check_csrf(&state, &form.csrf)?;
    state.auth.logout(viewer.session_id).await.or_console()?;
    let mut resp = HttpResponse::SeeOther()
        .insert_header(("Location", "/console/login"))
        .finish();
    resp.add_cookie(&removal(&req, SESSION_COOKIE, "/console"))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound_to_the_session_and_the_key() {
        let c = Console::new(vec![1; 32]).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let t = c.csrf_for(a);
        assert!(c.csrf_ok(a, &t));
        assert!(!c.csrf_ok(b, &t));
        assert!(!c.csrf_ok(a, ""));
        assert!(!c.csrf_ok(a, "not base64!"));
        let other = Console::new(vec![2; 32]).unwrap();
        assert!(!other.csrf_ok(a, &t));
    }

    #[test]
    fn double_submit_comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
