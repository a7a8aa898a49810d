//! The server: [`Application::build`] binds, wires the actix `App` (routes,
//! middleware, docs) around the shared [`AppState`], and runs it with a
//! graceful shutdown. Imported by `main` and the tests only.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::auth::password::Hasher;
use crate::auth::token::Tokens;
use crate::config::Settings;
use crate::connections::{self, Connections};
use crate::error::ApiError;
use crate::error::middleware::problem_responses;
use crate::extract::path_error;
use crate::middleware::{
    body_deadline, connection_cap, cors, docs_content_security_policy, log_request,
    security_headers,
};
use crate::openapi::ApiDoc;
use crate::realtime::Realtime;
use crate::routes;
use crate::routes::fallback::{KnownRoutes, not_found};
use crate::routes::health::MetricsServedElsewhere;
use crate::state::AppState;
use crate::store::Store;

/// A bound, not yet running, confab server.
pub struct Application {
    /// The port actually bound (useful when the settings said 0).
    port: u16,
    /// The server; runs when awaited.
    server: Server,
    /// The operations server on `server.metrics_bind`, when set, and its
    /// port.
    operations: Option<(u16, Server)>,
    /// Event streams, ended on shutdown.
    realtime: Arc<Realtime>,
    /// Webhook deliverers, which give their leases up on shutdown.
    webhooks: Arc<crate::webhooks::Webhooks>,
}

impl Application {
    /// Binds the configured address (and `server.metrics_bind`, when set)
    /// and prepares the server. Redis need not be up yet: requests answer
    /// 503 until it is.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("Failed to bind {}", settings.server.bind))?;
        let port = listener
            .local_addr()
            .context("Failed to read the bound address")?
            .port();
        let operations_listener = match settings.server.metrics_bind.as_str() {
            "" => None,
            bind => {
                Some(TcpListener::bind(bind).with_context(|| format!("Failed to bind {bind}"))?)
            }
        };
        let connections = connection_caps(&settings);
        let write_timeout = std::time::Duration::from_millis(settings.sse.write_timeout_ms);
        let store = Store::new(&settings.redis, &settings.limits)?;
        actix_web::rt::spawn(watch_redis(store.clone(), settings.redis.target()));
        let tokens = Tokens::new(settings.auth.secret_bytes(), settings.auth.token_ttl_secs);
        let hasher = Hasher::start(settings.auth.hash_workers, settings.auth.hash_queue)?;
        let workers = settings.server.workers;
        let realtime = Realtime::start(&settings, store.clone())?;
        let webhooks = crate::webhooks::Webhooks::start(&settings.webhooks, store.clone())?;
        let state = web::Data::new(AppState {
            store,
            tokens,
            hasher,
            settings: Arc::new(settings),
            realtime: realtime.clone(),
            webhooks: webhooks.clone(),
            connections: Arc::clone(&connections),
        });
        let openapi = web::Data::new(openapi());
        let known_routes = web::Data::new(KnownRoutes::from_openapi(&openapi));
        actix_web::rt::spawn(crate::service::rooms::index_look_alikes(
            state.store.clone(),
        ));
        let metrics_elsewhere = operations_listener.is_some();
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            let state = app_state.clone();
            let (app, _) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi_base())
                .configure(documented_routes)
                .split_for_parts();
            let mut app = app
                .app_data(state.clone())
                .app_data(known_routes.clone())
                .app_data(web::PayloadConfig::new(
                    state.settings.server.max_body_bytes,
                ))
                .app_data(web::PathConfig::default().error_handler(path_error));
            if metrics_elsewhere {
                app = app.app_data(MetricsServedElsewhere);
            }
            app.service(
                SwaggerUi::new("/docs/{_:.*}")
                    .url("/openapi.json", openapi.get_ref().clone())
                    // No badge from the online validator: it would hand the
                    // document's address to a third party (and the CSP
                    // blocks it anyway).
                    .config(Config::default().validator_url("none")),
            )
            .service(web::redirect("/docs", "/docs/"))
            .configure(routes::web::configure)
            .default_service(web::to(not_found))
            .wrap(cors(&state.settings.server.cors_origins))
            .wrap(from_fn(connection_cap))
            .wrap(from_fn(problem_responses))
            // Outside `problem_responses`, which may replace a response's
            // body (and with it the request body the body holds).
            .wrap(from_fn(body_deadline))
            .wrap(from_fn(docs_content_security_policy))
            .wrap(security_headers())
            .wrap(from_fn(log_request))
        })
        // Every connection is counted (per instance and per address) while
        // it is open; requests on one over a cap are refused by
        // `connection_cap`. A served connection whose client stops reading
        // for the stream write deadline is cut by the kernel.
        .on_connect(move |conn, extensions| {
            let peer = conn
                .downcast_ref::<actix_web::rt::net::TcpStream>()
                .and_then(|tcp| tcp.peer_addr().ok())
                .map(|addr| addr.ip());
            let slot = connections.open(peer);
            let served = slot.over_cap().is_none();
            extensions.insert(slot);
            if served {
                crate::connection::cut_when_unread_for(conn, write_timeout);
            }
        })
        // actix stops accepting at its own per-worker cap (25k by default);
        // it must never stop before ours, or health checks would wait in
        // the kernel's backlog. The open-file limit is the real bound.
        .max_connections(accept_limit(&state.settings))
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
        let operations = operations_listener
            .map(|listener| operations_server(listener, state))
            .transpose()?;
        Ok(Self {
            port,
            server: server.run(),
            operations,
            realtime,
            webhooks,
        })
    }

    /// The port the server listens on (the real one when the settings said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the operations listener (`server.metrics_bind`), if set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.operations.as_ref().map(|(port, _)| *port)
    }

    /// Serves until stopped through [`Application::handle`]; the operations
    /// listener stops with the main one.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some((_, operations)) = self.operations else {
            return self.server.await;
        };
        let operations_handle = operations.handle();
        let operations = actix_web::rt::spawn(operations);
        let served = self.server.await;
        operations_handle.stop(true).await;
        let _ = operations.await;
        served
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully: stops
    /// accepting, ends every event stream (clients reconnect elsewhere and
    /// resume), lets other requests finish for up to 10 s, waits up to 5 s
    /// more for the streams' closes to be recorded, and returns.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let realtime = self.realtime.clone();
        let webhooks = self.webhooks.clone();
        let stopper = realtime.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!(streams = stopper.hub.len(), "shutting down");
            let stopping = handle.stop(true);
            stopper.shutdown();
            webhooks.shutdown();
            stopping.await;
        });
        let served = self.run_until_stopped().await;
        // The streams' closes, recorded on this runtime, finish first.
        realtime.all_closed(std::time::Duration::from_secs(5)).await;
        served
    }

    /// A handle to stop the server (tests use it).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// The connection counts of a new instance, with its caps: the instance cap
/// kept at most 3/4 of the open-file limit (logged, with a warning when
/// that lowers the configured one).
fn connection_caps(settings: &Settings) -> Arc<Connections> {
    let configured = settings.server.max_connections;
    let per_address = settings.server.max_connections_per_address;
    let open_files = connections::open_file_limit();
    let cap = connections::effective_cap(configured, open_files);
    if cap < configured {
        tracing::warn!(
            configured,
            cap,
            open_file_limit = open_files,
            "server.max_connections is above 3/4 of the open-file limit: serving at most \
             {cap} connections (raise `ulimit -n` to serve more)"
        );
    } else {
        tracing::info!(
            max_connections = cap,
            max_connections_per_address = per_address,
            open_file_limit = open_files,
            "connection caps"
        );
    }
    Connections::new(cap, per_address)
}

/// actix's per-worker connection cap: never below ours (any worker may
/// hold every connection), nor below the open-file limit, so that actix
/// keeps accepting (and our middleware answering) until the process runs
/// out of descriptors.
fn accept_limit(settings: &Settings) -> usize {
    let open_files = connections::open_file_limit()
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(0);
    settings
        .server
        .max_connections
        .saturating_mul(2)
        .max(open_files)
        .max(25_000)
}

/// The server on `server.metrics_bind`: `/metrics`, `/healthz` and
/// `/readyz` only, on one worker, without connection caps (its address is
/// meant to be reachable by the monitoring system only).
fn operations_server(
    listener: TcpListener,
    state: web::Data<AppState>,
) -> anyhow::Result<(u16, Server)> {
    let port = listener
        .local_addr()
        .context("Failed to read the bound metrics address")?
        .port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(routes::health::healthz)
            .service(routes::health::readyz)
            .service(routes::health::metrics)
            .default_service(web::to(operations_not_found))
            .wrap(from_fn(problem_responses))
            .wrap(from_fn(body_deadline))
            .wrap(security_headers())
            .wrap(from_fn(log_request))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .context("Failed to listen on the metrics address")?
    .shutdown_timeout(1)
    .run();
    Ok((port, server))
}

/// Anything but the operations endpoints on the operations listener.
async fn operations_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::no_route(req.method().as_str(), req.path()))
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

/// Says which Redis this instance uses, and keeps saying (every 30 s) when
/// it cannot reach it, until it can: requests that need Redis answer 503
/// meanwhile, and nothing else would show why.
async fn watch_redis(store: Store, target: String) {
    const CHECK: std::time::Duration = std::time::Duration::from_secs(5);
    const REPEAT: std::time::Duration = std::time::Duration::from_secs(30);
    tracing::info!(redis = %target, "using Redis");
    let mut reachable = None;
    let mut last_warning: Option<tokio::time::Instant> = None;
    loop {
        match store.ping().await {
            Ok(()) => {
                if reachable != Some(true) {
                    tracing::info!(redis = %target, "Redis is reachable");
                }
                reachable = Some(true);
                last_warning = None;
            }
            Err(e) => {
                if last_warning.is_none_or(|at| at.elapsed() >= REPEAT) {
                    tracing::warn!(
                        redis = %target,
                        error = %e,
                        "cannot reach Redis: requests that need it answer 503 until it is back"
                    );
                    last_warning = Some(tokio::time::Instant::now());
                }
                reachable = Some(false);
            }
        }
        tokio::time::sleep(CHECK).await;
    }
}
