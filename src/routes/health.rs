//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};

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

/// Prometheus metrics of this instance (text exposition format).
#[utoipa::path(tag = "operations", responses((status = 200, description = "Metrics", body = String, content_type = "text/plain; version=0.0.4")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(service::operations::metrics_text(&state))
}
