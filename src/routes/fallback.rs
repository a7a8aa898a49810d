//! The answer to a request no route took: 405 `method_not_allowed` (with
//! `Allow`) on a known path, otherwise 404 `not_found`.

use actix_web::{HttpResponse, http, web};

use crate::error::{ApiError, Code};

/// The documented paths and their methods, to tell a wrong method on a
/// known path (405, with `Allow`) from an unknown route (404).
pub struct KnownRoutes {
    /// Path templates split at `/` (`None` for a `{param}` segment), with
    /// their methods.
    routes: Vec<(Vec<Option<String>>, Vec<&'static str>)>,
}

impl KnownRoutes {
    /// The routes of an OpenAPI document.
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods allowed on `path`, if it is a known path.
    fn methods(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut found: Option<Vec<&'static str>> = None;
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| match s {
                    Some(literal) => literal == p,
                    None => !p.is_empty(),
                });
            if matches {
                found.get_or_insert_with(Vec::new).extend(methods);
            }
        }
        found
    }
}

/// Any request no route took: 405 `method_not_allowed` (with `Allow`) on a
/// known path, otherwise 404 `not_found`.
pub async fn not_found(req: actix_web::HttpRequest, known: web::Data<KnownRoutes>) -> HttpResponse {
    if let Some(mut methods) = known.methods(req.path()) {
        methods.sort_unstable();
        methods.dedup();
        let mut res =
            actix_web::ResponseError::error_response(&ApiError::from(Code::MethodNotAllowed));
        if let Ok(allow) = http::header::HeaderValue::from_str(&methods.join(", ")) {
            res.headers_mut().insert(http::header::ALLOW, allow);
        }
        return res;
    }
    actix_web::ResponseError::error_response(&ApiError::no_route(req.method().as_str(), req.path()))
}
