//! The application: shared state, the actix `App` (routes, middleware,
//! docs), and the HTTP server with graceful shutdown.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, http, web};
use anyhow::Context;
use tracing::Instrument;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::password;
use crate::auth::token::Tokens;
use crate::config::Settings;
use crate::error::ApiError;
use crate::error::middleware::problem_responses;
use crate::extract::path_error;
use crate::openapi::ApiDoc;
use crate::realtime::Realtime;
use crate::routes;
use crate::store::Store;

/// What every handler can reach. Cheap to clone (all handles).
pub struct AppState {
    /// Redis.
    pub store: Store,
    /// Access token signing and checking.
    pub tokens: Tokens,
    /// The settings confab was started with.
    pub settings: Arc<Settings>,
    /// Event streams and their delivery.
    pub realtime: Arc<Realtime>,
}

/// A bound, not yet running, confab server.
pub struct Application {
    /// The port actually bound (useful when the settings said 0).
    port: u16,
    /// The server; runs when awaited.
    server: Server,
    /// Event streams, ended on shutdown.
    realtime: Arc<Realtime>,
}

impl Application {
    /// Binds the configured address and prepares the server. Redis need not
    /// be up yet: requests answer 503 until it is.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("Failed to bind {}", settings.server.bind))?;
        let port = listener
            .local_addr()
            .context("Failed to read the bound address")?
            .port();
        let store = Store::new(&settings.redis, &settings.limits)?;
        let tokens = Tokens::new(settings.auth.secret_bytes(), settings.auth.token_ttl_secs);
        let workers = settings.server.workers;
        let realtime = Realtime::start(&settings, store.clone())?;
        let state = web::Data::new(AppState {
            store,
            tokens,
            settings: Arc::new(settings),
            realtime: realtime.clone(),
        });
        let openapi = web::Data::new(openapi());
        let known_routes = web::Data::new(KnownRoutes::from_openapi(&openapi));
        tokio::task::spawn_blocking(password::warm_up);
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi_base())
                .configure(documented_routes)
                .split_for_parts();
            app.app_data(state.clone())
                .app_data(known_routes.clone())
                .app_data(web::PayloadConfig::new(
                    state.settings.server.max_body_bytes,
                ))
                .app_data(web::PathConfig::default().error_handler(path_error))
                .service(
                    SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.get_ref().clone()),
                )
                .service(web::redirect("/docs", "/docs/"))
                .configure(routes::web::configure)
                .default_service(web::to(not_found))
                .wrap(cors(&state.settings.server.cors_origins))
                .wrap(from_fn(problem_responses))
                .wrap(security_headers())
                .wrap(from_fn(log_request))
        })
        // A client that goes away is noticed at once, so its stream ends and
        // presence follows within a second.
        .h1_allow_half_closed(false)
        // Signals are handled by `run_until_signalled`, which ends event
        // streams first so the graceful stop is quick.
        .disable_signals()
        .listen(listener)
        .context("Failed to listen")?
        .shutdown_timeout(10);
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            realtime,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully: stops
    /// accepting, ends every event stream (clients reconnect elsewhere and
    /// resume), lets other requests finish for up to 10 s, and returns.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let realtime = self.realtime.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!(streams = realtime.hub.len(), "shutting down");
            let stopping = handle.stop(true);
            realtime.shutdown();
            stopping.await;
        });
        self.server.await
    }

    /// A handle to stop the server (tests use it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The OpenAPI document of everything the server routes, generated from the
/// handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi_base())
        .configure(documented_routes)
        .split_for_parts();
    ApiDoc::finish(api)
}

/// Every route in the OpenAPI document: the API under `/api/v1` and the
/// operations endpoints. (The web client and `/docs` are served beside
/// them, undocumented.)
fn documented_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(scope::scope("/api/v1").configure(routes::api_v1))
        .service(routes::health::healthz)
        .service(routes::health::readyz)
        .service(routes::health::metrics);
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

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
async fn not_found(req: actix_web::HttpRequest, known: web::Data<KnownRoutes>) -> HttpResponse {
    if let Some(mut methods) = known.methods(req.path()) {
        methods.sort_unstable();
        methods.dedup();
        let mut res = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
        if let Ok(allow) = http::header::HeaderValue::from_str(&methods.join(", ")) {
            res.headers_mut().insert(http::header::ALLOW, allow);
        }
        return res;
    }
    actix_web::ResponseError::error_response(&ApiError::NotFound {
        code: "not_found",
        detail: format!("no route matches {} {}", req.method(), req.path()),
    })
}

/// Headers every response carries: no MIME sniffing, no framing, no
/// referrers. (The web client's pages add a strict Content-Security-Policy.)
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
}

/// CORS for browser frontends on other origins.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers([
            http::header::AUTHORIZATION,
            http::header::CONTENT_TYPE,
            http::header::ACCEPT,
            http::header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            http::header::HeaderName::from_static("x-request-id"),
            http::header::LOCATION,
            http::header::RETRY_AFTER,
            http::header::WWW_AUTHENTICATE,
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// The request id of a request: the client's `X-Request-Id` when it is a
/// short token, otherwise a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned)
}

/// Gives every request an id (in every log line it causes, through a span,
/// and in the `X-Request-Id` response header), and logs one line per request:
/// method, path (never the query string, which may carry a ticket), status
/// and duration.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    if let Ok(res) = &mut res
        && let Ok(value) = http::header::HeaderValue::from_str(&id)
    {
        res.headers_mut()
            .insert(http::header::HeaderName::from_static("x-request-id"), value);
    }
    let (status, route) = match &res {
        Ok(res) => (res.status(), res.request().match_pattern()),
        Err(err) => (err.as_response_error().status_code(), None),
    };
    let elapsed: Duration = started.elapsed();
    let route = route.as_deref().unwrap_or("(unmatched)");
    crate::metrics::record_request(method.as_str(), route, status.as_u16());
    crate::metrics::observe_request(route, elapsed.as_secs_f64());
    tracing::info!(
        %method,
        %path,
        status = status.as_u16(),
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    res
}
