//! Request authentication and authorisation.
//!
//! `authenticate` (middleware) turns a bearer token or API key into a
//! [`Principal`] before any handler extractor runs, and rejects bad
//! credentials at once. Handlers then declare their permission with the
//! [`Require`] extractor as their first argument — one visible line — which
//! answers 401/403 synchronously, before the body is even read.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, web};
use presswork_auth::service::ClientInfo;
use presswork_auth::{AuthError, Principal};
use presswork_domain::net::Hop;

use crate::AppState;
use crate::error::ApiError;

/// The credential a request carries: `Authorization: Bearer <jwt|api key>`
/// or `X-API-Key`. `Err` when one is sent but cannot be one (empty, not
/// UTF-8, another scheme): a client that sends a credential means to be
/// someone, so it is refused rather than served as anonymous.
fn credential(req: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let refuse = |code: &'static str, message: &str| {
        ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            code,
            message.to_owned(),
        )
    };
    if let Some(key) = req.headers().get("x-api-key") {
        return match key.to_str().map(str::trim) {
            Ok(key) if !key.is_empty() => Ok(Some(key.to_owned())),
            _ => Err(refuse(
                "invalid_api_key",
                "the X-API-Key header is empty or not plain text",
            )),
        };
    }
    let Some(auth) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        refuse(
            "invalid_token",
            "the Authorization header must be 'Bearer <access token or API key>'",
        )
    };
    let auth = auth.to_str().map_err(|_| malformed())?.trim();
    let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
    let value = value.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || value.is_empty() {
        return Err(malformed());
    }
    Ok(Some(value.to_owned()))
}

/// Who sent the request: the TCP peer, or, when the peer is one of
/// `http.trusted_proxies`, the client its forwarding headers name (the rule
/// is `presswork_domain::net::TrustedProxies::client`).
pub fn hop(req: &HttpRequest) -> Option<Hop> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(Hop {
            client: peer,
            via_trusted_proxy: false,
        });
    };
    let proxies = &state.trusted_proxies;
    if proxies.is_empty() {
        return Some(Hop {
            client: peer,
            via_trusted_proxy: false,
        });
    }
    let forwarded = header_values(req, header::FORWARDED);
    let xff = header_values(req, header::HeaderName::from_static("x-forwarded-for"));
    Some(proxies.client(peer, &forwarded, &xff))
}

fn header_values(req: &HttpRequest, name: header::HeaderName) -> Vec<&str> {
    req.headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// The client's address (see [`hop`]).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    hop(req).map(|h| h.client)
}

/// Whether the client used HTTPS: this server's own TLS, or what a trusted
/// proxy says (`Forwarded: proto=`, `X-Forwarded-Proto`); from anyone else
/// those headers are ignored.
pub fn is_https(req: &HttpRequest) -> bool {
    if req.app_config().secure() {
        return true;
    }
    if !hop(req).is_some_and(|h| h.via_trusted_proxy) {
        return false;
    }
    let forwarded = header_values(req, header::FORWARDED);
    let proto = header_values(req, header::HeaderName::from_static("x-forwarded-proto"));
    presswork_domain::net::forwarded_proto(&forwarded, &proto)
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The request as the audit trail records it: its id and the client's
/// address.
pub fn audit_request(req: &HttpRequest) -> presswork_db::audit::Request {
    presswork_db::audit::Request {
        request_id: req
            .extensions()
            .get::<crate::middleware::RequestId>()
            .map(|r| r.0.clone()),
        client_addr: client_ip(req).map(|ip| ip.to_string()),
    }
}

pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        request_id: req
            .extensions()
            .get::<crate::middleware::RequestId>()
            .map(|r| r.0.clone()),
    }
}

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let credential = match credential(&req) {
        Ok(c) => c,
        Err(e) => return Ok(req.error_response(e)),
    };
    if let Some(credential) = credential {
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            return Ok(req.error_response(ApiError::internal("application state missing")));
        };
        let ip = client_ip(req.request());
        let principal = if presswork_auth::api_key::looks_like_key(&credential) {
            state.auth.authenticate_api_key(&credential, ip).await
        } else {
            state.auth.authenticate_token(&credential).await
        };
        match principal {
            Ok(p) => {
                tracing::Span::current().record("principal.id", p.log_id().as_str());
                req.extensions_mut().insert(p);
            }
            Err(e) => return Ok(req.error_response(ApiError::from(e))),
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Any authenticated caller.
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .map(Authenticated)
                .ok_or_else(|| ApiError::from(AuthError::Unauthenticated)),
        )
    }
}

/// The caller if authenticated, else `None` (public endpoints that show more
/// to some callers).
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(MaybePrincipal(
            req.extensions().get::<Principal>().cloned(),
        )))
    }
}

/// A permission, named at type level so handlers can require it in their signature.
pub trait Permission {
    const NAME: &'static str;
}

/// An authenticated caller holding permission `P`; 401 / 403 otherwise.
pub struct Require<P: Permission> {
    pub principal: Principal,
    _permission: PhantomData<P>,
}

impl<P: Permission> FromRequest for Require<P> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.extensions().get::<Principal>() {
            None => Err(ApiError::from(AuthError::Unauthenticated)),
            Some(p) => p
                .require(P::NAME)
                .map(|()| Require {
                    principal: p.clone(),
                    _permission: PhantomData,
                })
                .map_err(ApiError::from),
        };
        ready(result)
    }
}

macro_rules! permissions {
    ($($ty:ident => $name:path),* $(,)?) => {
        /// Type-level permissions for [`Require`].
        pub mod perm {
            $(
                pub struct $ty;
                impl super::Permission for $ty {
                    const NAME: &'static str = $name;
                }
            )*
        }
    };
}

permissions! {
    PostsReadDrafts => presswork_domain::permissions::POSTS_READ_DRAFTS,
    PostsCreate => presswork_domain::permissions::POSTS_CREATE,
    PostsUpdateOwn => presswork_domain::permissions::POSTS_UPDATE_OWN,
    PostsUpdate => presswork_domain::permissions::POSTS_UPDATE,
    PostsDelete => presswork_domain::permissions::POSTS_DELETE,
    PostsPublish => presswork_domain::permissions::POSTS_PUBLISH,
    TaxonomyWrite => presswork_domain::permissions::TAXONOMY_WRITE,
    ContentRead => presswork_domain::permissions::CONTENT_READ,
    ContentCreate => presswork_domain::permissions::CONTENT_CREATE,
    ContentApprove => presswork_domain::permissions::CONTENT_APPROVE,
    TasksRead => presswork_domain::permissions::TASKS_READ,
    TasksCreate => presswork_domain::permissions::TASKS_CREATE,
    TasksManage => presswork_domain::permissions::TASKS_MANAGE,
    SettingsRead => presswork_domain::permissions::SETTINGS_READ,
    SettingsWrite => presswork_domain::permissions::SETTINGS_WRITE,
    UsersRead => presswork_domain::permissions::USERS_READ,
    UsersAdmin => presswork_domain::permissions::USERS_ADMIN,
    ApiKeysManage => presswork_domain::permissions::API_KEYS_MANAGE,
    ApiKeysAdmin => presswork_domain::permissions::API_KEYS_ADMIN,
    ModelsRead => presswork_domain::permissions::MODELS_READ,
    ModelsTest => presswork_domain::permissions::MODELS_TEST,
    MetricsRead => presswork_domain::permissions::METRICS_READ,
    AuditRead => presswork_domain::permissions::AUDIT_READ,
}

/// The caller as a requester of content (the API's content routes,
/// `POST /api/tasks` and the console).
pub fn requester(principal: &Principal) -> presswork_pipeline::requests::Requester {
    presswork_pipeline::requests::Requester {
        user: principal.user_id,
        can_publish: principal.has(presswork_domain::permissions::POSTS_PUBLISH),
        can_create_terms: principal.has(presswork_domain::permissions::TAXONOMY_WRITE),
    }
}
