//! Liveness and readiness probes, and metrics.

use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::error::{ApiError, Problem};
use crate::service;
use crate::state::AppState;

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Up", body = String, content_type = "text/plain", example = "ok")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Readiness: 200 only while Redis answers.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Redis answers", body = String, content_type = "text/plain", example = "ready"),
    (status = 503, description = "Redis is unreachable (`unavailable`)", body = Problem, content_type = "application/problem+json"),
))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    service::operations::ready(&state).await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

/// App data of the main listener when `server.metrics_bind` is set:
/// `/metrics` is served on that separate address, and answers 404 here.
#[derive(Debug, Clone, Copy)]
pub struct MetricsServedElsewhere;

/// Prometheus metrics of this instance (text exposition format).
///
/// When the operator serves metrics on a separate address
/// (`server.metrics_bind`), this path answers 404 on the main one.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Metrics", body = String, content_type = "text/plain; version=0.0.4"),
    (status = 404, description = "`not_found`: metrics are served on a separate address (`server.metrics_bind`)", body = Problem, content_type = "application/problem+json"),
))]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if req.app_data::<MetricsServedElsewhere>().is_some() {
        return Err(ApiError::no_route("GET", "/metrics"));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(service::operations::metrics_text(&state)))
}
