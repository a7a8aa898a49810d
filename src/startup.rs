//! The server: [`Application::build`] binds, wires the actix `App` (routes,
//! middleware, docs) around the shared [`AppState`], and runs it with a
//! graceful shutdown. Imported by `main` and the tests only.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::password;
use crate::auth::token::Tokens;
use crate::config::Settings;
use crate::error::middleware::problem_responses;
use crate::extract::path_error;
use crate::middleware::{cors, log_request, security_headers};
use crate::openapi::ApiDoc;
use crate::realtime::Realtime;
use crate::routes;
use crate::routes::fallback::{KnownRoutes, not_found};
use crate::state::AppState;
use crate::store::Store;

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
        actix_web::rt::spawn(crate::service::rooms::index_look_alikes(
            state.store.clone(),
        ));
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
        // Event streams can cut a connection whose client stopped reading.
        .on_connect(crate::connection::remember_socket)
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

    /// The port the server listens on (the real one when the settings said 0).
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
