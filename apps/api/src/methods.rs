//! Which methods each path answers, for HTTP's method contract:
//!
//! - `HEAD` wherever `GET` exists (RFC 9110 §9.3.2): [`head_as_get`] routes a
//!   HEAD request to the GET handler and sends its status and headers
//!   (`Content-Length`, `ETag`, … included) without the body;
//! - `405` carries `Allow` (RFC 9110 §15.5.6), listing the methods the path
//!   does accept, from the [`MethodTable`].
//!
//! The table is filled from the route registrations themselves (the OpenAPI
//! document for the API, [`Recorder`] for routes outside it), so it cannot
//! list a method the server does not serve, or miss one it does.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, FromRequest, Handler, Responder};

/// Path patterns (actix syntax, `{id}` and `{tail:.*}`) and their methods.
#[derive(Default)]
pub struct MethodTable {
    routes: Vec<(ResourceDef, Method)>,
    /// Paths spelled out in full and their methods, for [`literal_paths`];
    /// hashed with XXH3, as every request looks its path up.
    literals: HashMap<String, Vec<Method>, xxhash_rust::xxh3::Xxh3DefaultBuilder>,
}

impl MethodTable {
    pub fn add(&mut self, pattern: &str, method: Method) {
        let def = ResourceDef::new(pattern);
        if is_literal(&def) {
            self.literals
                .entry(pattern.to_owned())
                .or_default()
                .push(method.clone());
        }
        self.routes.push((def, method));
    }

    /// For a path spelled out in full by some route (`/api/commands/claim`),
    /// the methods it accepts when `method` is not one of them; `None` when
    /// the path is no literal route or accepts `method`.
    pub fn refused_by_literal(&self, path: &str, method: &Method) -> Option<Vec<Method>> {
        let methods = self.literals.get(path)?;
        let accepted =
            methods.contains(method) || (*method == Method::HEAD && methods.contains(&Method::GET));
        (!accepted).then(|| self.allowed(path))
    }

    /// Every operation of an OpenAPI document (its paths use the same
    /// `{param}` syntax as actix).
    pub fn add_document(&mut self, api: &utoipa::openapi::OpenApi) {
        for (path, item) in &api.paths.paths {
            let ops = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            for (method, present) in ops {
                if present {
                    self.add(path, method);
                }
            }
        }
    }

    /// The methods `path` accepts, HEAD included wherever GET is, in a
    /// fixed order; empty when no route has this path.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        const ORDER: [Method; 6] = [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ];
        // A path spelled out in full (`/api/posts/search`) is that resource,
        // not an instance of a pattern that also matches it
        // (`/api/posts/{id_or_slug}`).
        let matching: Vec<&(ResourceDef, Method)> = self
            .routes
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .collect();
        let literal = matching.iter().any(|(def, _)| is_literal(def));
        let matched: Vec<&Method> = matching
            .iter()
            .filter(|(def, _)| !literal || is_literal(def))
            .map(|(_, m)| m)
            .collect();
        ORDER
            .into_iter()
            .filter(|m| {
                matched.contains(&m) || (*m == Method::HEAD && matched.contains(&&Method::GET))
            })
            .collect()
    }

    /// The `Allow` header's value.
    pub fn allow_header(methods: &[Method]) -> String {
        methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn is_literal(def: &ResourceDef) -> bool {
    def.pattern().is_some_and(|p| !p.contains('{'))
}

/// Registers routes on a scope and records them in the table in one call, so
/// the two cannot disagree.
pub struct Recorder<'t> {
    prefix: &'static str,
    scope: actix_web::Scope,
    table: &'t mut MethodTable,
}

impl<'t> Recorder<'t> {
    pub fn new(prefix: &'static str, scope: actix_web::Scope, table: &'t mut MethodTable) -> Self {
        Self {
            prefix,
            scope,
            table,
        }
    }

    pub fn route<F, Args>(mut self, path: &str, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.table
            .add(&format!("{}{path}", self.prefix), method.clone());
        self.scope = self.scope.route(path, web::method(method).to(handler));
        self
    }

    pub fn get<F, Args>(self, path: &str, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(path, Method::GET, handler)
    }

    pub fn post<F, Args>(self, path: &str, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(path, Method::POST, handler)
    }

    pub fn finish(self) -> actix_web::Scope {
        self.scope
    }
}

/// Serves HEAD with the GET handler, then drops the body but keeps its size,
/// so `Content-Length` is what GET would send. The request is logged and
/// counted as HEAD (the request context sits outside this middleware).
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::HEAD {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    req.head_mut().method = Method::GET;
    let res = next.call(req).await?;
    Ok(res.map_body(|_, body| BoxBody::new(HeadBody(body.size()))))
}

/// A path spelled out in full is that resource, even when a pattern route
/// for another method also matches it: `GET /api/commands/claim` (only POST
/// is routed) is a 405 naming POST, not `GET /api/commands/{id}` with the id
/// "claim". Actix tries routes in order and would pick the pattern. One hash
/// lookup per request.
pub async fn literal_paths(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let refused = req
        .app_data::<web::Data<MethodTable>>()
        .and_then(|t| t.refused_by_literal(req.path(), req.method()));
    if let Some(allowed) = refused {
        let refusal = crate::error::ApiError::method_not_allowed(&allowed);
        return Ok(req.error_response(refusal).map_into_boxed_body());
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// A body that reports the size of the one it replaces and yields nothing.
struct HeadBody(BodySize);

impl MessageBody for HeadBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        self.0
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_methods_follow_the_patterns() {
        let mut t = MethodTable::default();
        t.add("/api/posts", Method::GET);
        t.add("/api/posts", Method::POST);
        t.add("/api/posts/{id}", Method::GET);
        t.add("/api/posts/{id}", Method::DELETE);
        t.add("/api/posts/search", Method::GET);
        t.add("/docs/swagger/{_:.*}", Method::GET);
        assert_eq!(
            MethodTable::allow_header(&t.allowed("/api/posts")),
            "GET, HEAD, POST"
        );
        assert_eq!(
            MethodTable::allow_header(&t.allowed("/api/posts/x")),
            "GET, HEAD, DELETE"
        );
        assert_eq!(
            MethodTable::allow_header(&t.allowed("/docs/swagger/a/b.js")),
            "GET, HEAD"
        );
        assert_eq!(
            MethodTable::allow_header(&t.allowed("/api/posts/search")),
            "GET, HEAD"
        );
        assert!(t.allowed("/api/nothing").is_empty());
    }

    #[test]
    fn a_literal_path_refuses_the_methods_a_pattern_would_take() {
        let mut t = MethodTable::default();
        t.add("/api/commands/claim", Method::POST);
        t.add("/api/commands/{id}", Method::GET);
        t.add("/api/posts/search", Method::GET);
        assert_eq!(
            t.refused_by_literal("/api/commands/claim", &Method::GET),
            Some(vec![Method::POST])
        );
        assert_eq!(
            t.refused_by_literal("/api/commands/claim", &Method::POST),
            None
        );
        assert_eq!(t.refused_by_literal("/api/commands/x", &Method::GET), None);
        assert_eq!(
            t.refused_by_literal("/api/posts/search", &Method::HEAD),
            None
        );
        assert_eq!(
            t.refused_by_literal("/api/posts/search", &Method::DELETE),
            Some(vec![Method::GET, Method::HEAD])
        );
    }
}
