//! Per-request context: request id, one span and one log line per request, and
//! the guarantee that every error response carries the JSON envelope.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse};
use tracing::Instrument;

use crate::error::ApiError;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in request extensions for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Accepts a caller's id only if it is short and plain, so it is safe to log
/// and to echo; otherwise a fresh one is made.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = request_id_from(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let span = tracing::info_span!(
        "http.request",
        request.id = %request_id,
        http.method = %method,
        http.route = tracing::field::Empty,
        http.status = tracing::field::Empty,
        principal.id = tracing::field::Empty,
    );
    let started = Instant::now();
    let outcome = next.call(req).instrument(span.clone()).await;
    let res = match outcome {
        Ok(res) => res.map_into_boxed_body(),
        Err(err) => {
            let status = err.as_response_error().status_code();
            span.record("http.status", status.as_u16());
            tracing::info!(parent: &span, duration_ms = elapsed_ms(started), "request");
            return Err(err);
        }
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    span.record("http.route", route.as_str());
    let mut res = normalise_error(res, &request_id);
    span.record("http.status", res.status().as_u16());
    if let Some(state) = res
        .request()
        .app_data::<actix_web::web::Data<crate::AppState>>()
    {
        state.prom.observe_http(
            method.as_str(),
            &route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::info!(parent: &span, duration_ms = elapsed_ms(started), "request");
    Ok(res)
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// Errors that did not come from `ApiError` (routing's 404/405, framework
/// errors) get the envelope; 500s are replaced by an opaque body carrying the
/// request id, whatever produced them.
fn normalise_error(res: ServiceResponse<BoxBody>, request_id: &str) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_json = content_type.starts_with("application/json");
    // The console's own error pages (they explain the problem to a person).
    let is_console_page =
        content_type.starts_with("text/html") && res.request().path().starts_with("/console");
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        let body = ApiError::from_status(status).body(Some(request_id.to_owned()));
        return replace_body(res, status, &body);
    }
    if is_json || is_console_page {
        return res;
    }
    let body = ApiError::from_status(status).body(None);
    replace_body(res, status, &body)
}

fn replace_body(
    res: ServiceResponse<BoxBody>,
    status: StatusCode,
    body: &crate::error::ErrorEnvelope,
) -> ServiceResponse<BoxBody> {
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status).json(body);
    // Keep headers such as Allow and Retry-After.
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

/// Every JSON body this API accepts is an object. serde would also build a
/// struct from an array (`[null, null]` as a PATCH with every field left
/// alone), so a JSON body that starts with anything but `{` is refused
/// here: 422 naming the body. The first chunk is peeked at and put back;
/// the rest streams on untouched (body limits still apply downstream).
pub async fn json_objects_only(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    use futures_util::StreamExt;
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let has_body = matches!(
        *req.method(),
        actix_web::http::Method::POST
            | actix_web::http::Method::PUT
            | actix_web::http::Method::PATCH
    );
    if !(is_json && has_body) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut payload = req.take_payload();
    let first = payload.next().await;
    let starts_with_object_or_nothing = match &first {
        Some(Ok(bytes)) => bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_none_or(|b| *b == b'{'),
        // Errors and empty bodies are the JSON extractor's to report.
        _ => true,
    };
    if !starts_with_object_or_nothing {
        return Ok(req.error_response(ApiError::validation("body", "must be a JSON object")));
    }
    let rest = futures_util::stream::iter(first).chain(payload);
    req.set_payload(actix_web::dev::Payload::Stream {
        payload: Box::pin(rest),
    });
    Ok(next.call(req).await?.map_into_boxed_body())
}
