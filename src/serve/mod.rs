//! `netvigil serve`: scoring over HTTP for SIEMs and pipelines (axum on tokio). REST scoring
//! of JSON, CSV and captures, the active model, health, Prometheus metrics and an OpenAPI
//! document. Safe by default: loopback unless told otherwise, a bearer token required for
//! any other address, body size, concurrency and time limits, and a JSON error naming the
//! field or line for every bad request.

mod api;
mod batcher;
pub mod bench;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

pub use api::ApiDoc;
use api::ApiError;
use metrics::Metrics;

use crate::ingest::ReadOptions;
use crate::model::DeviceChoice;
use crate::service::served::ServedBatch;
use crate::service::{self, LoadedModel};

/// The documented default port.
pub const DEFAULT_PORT: u16 = 8750;

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Bundle folder or registry name; `None`: the start-up model.
    pub model: Option<String>,
    pub bind: SocketAddr,
    pub token_file: Option<PathBuf>,
    pub max_body_bytes: usize,
    pub concurrency: usize,
    pub timeout: Duration,
    pub device: DeviceChoice,
    pub data_dir: PathBuf,
}

impl ServeOptions {
    /// Loopback on the default port, limits as documented.
    pub fn local(data_dir: PathBuf) -> Self {
        ServeOptions {
            model: None,
            bind: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            token_file: None,
            max_body_bytes: 64 << 20,
            concurrency: 64,
            timeout: Duration::from_secs(60),
            device: DeviceChoice::Cpu,
            data_dir,
        }
    }
}

/// What every request sees.
pub struct ServerState {
    pub model: LoadedModel,
    batcher: batcher::Batcher,
    token: Option<String>,
    metrics: Metrics,
    read: ReadOptions,
}

/// Reads the token file: its first line, which must not be empty.
fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--token-file {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    anyhow::ensure!(!token.is_empty(), "--token-file {}: the first line (the token) is empty", path.display());
    Ok(token)
}

/// The bearer token the server requires, if any: required for any address but loopback.
fn token_for(opts: &ServeOptions) -> anyhow::Result<Option<String>> {
    let token = opts.token_file.as_deref().map(read_token).transpose()?;
    anyhow::ensure!(
        opts.bind.ip().is_loopback() || token.is_some(),
        "refusing to listen on {} without --token-file: anything but loopback needs a bearer token",
        opts.bind
    );
    Ok(token)
}

/// The router with every route and limit, for `model`; what it scores is counted in the
/// history's batch `session`.
fn router(
    model: LoadedModel,
    opts: &ServeOptions,
    token: Option<String>,
    session: ServedBatch,
) -> anyhow::Result<Router> {
    let batcher = batcher::Batcher::start(model.clone(), session)?;
    let state = Arc::new(ServerState {
        metrics: Metrics::new(&model),
        batcher,
        model,
        token,
        read: ReadOptions { addresses: false, ..ReadOptions::default() },
    });
    let guarded = Router::new()
        .route("/v1/score", post(api::score))
        .route("/v1/model", get(api::model))
        .route("/metrics", get(api::metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Ok(Router::new()
        .merge(guarded)
        .route("/healthz", get(api::healthz))
        .route("/openapi.json", get(api::openapi))
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(opts.max_body_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, opts.timeout))
        .layer(tower::limit::ConcurrencyLimitLayer::new(opts.concurrency.max(1)))
        .with_state(state))
}

/// Counts every answered request by route and code, with its latency.
async fn track(State(state): State<Arc<ServerState>>, path: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = path.map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.request(&route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// Requires `Authorization: Bearer TOKEN` when the server has a token (compared in constant
/// time, so the answer's timing says nothing about how much of a guess was right).
async fn authorize(State(state): State<Arc<ServerState>>, req: Request, next: Next) -> Response {
    let Some(expected) = &state.token else { return next.run(req).await };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        next.run(req).await
    } else {
        let mut r =
            ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
                .into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        r
    }
}

/// A server running on its own threads; dropped or [`RunningServer::stop`]ped, it ends.
pub struct RunningServer {
    pub address: SocketAddr,
    pub model: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, and waits for the threads.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Binds and starts serving `model` on a runtime of its own; returns once it listens. The
/// session is a batch in the history of `opts.data_dir`, finished when the server stops.
pub fn start(model: LoadedModel, opts: &ServeOptions) -> anyhow::Result<RunningServer> {
    let token = token_for(opts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name("netvigil-serve")
        .enable_all()
        .build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(opts.bind))
        .with_context(|| format!("cannot listen on {}", opts.bind))?;
    let address = listener.local_addr()?;
    let session = ServedBatch::start(&opts.data_dir, &model, &address.to_string())?;
    let app = router(model.clone(), opts, token, session)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("netvigil-serve".into()).spawn(move || {
        let served = runtime.block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        if let Err(e) = served {
            tracing::error!("the server stopped: {e}");
        }
    })?;
    Ok(RunningServer { address, model: model.name, shutdown: Some(tx), thread: Some(thread) })
}

/// Starts servers for the window (see `service::server`), with the documented limits.
pub struct Launcher {
    pub data_dir: PathBuf,
}

impl service::server::ServerLauncher for Launcher {
    fn start(&self, model: LoadedModel, bind: SocketAddr) -> anyhow::Result<Box<dyn service::server::RunningService>> {
        let mut opts = ServeOptions::local(self.data_dir.clone());
        opts.bind = bind;
        Ok(Box::new(start(model, &opts)?))
    }
}

impl service::server::RunningService for RunningServer {
    fn address(&self) -> SocketAddr {
        self.address
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn stop(self: Box<Self>) {
        RunningServer::stop(*self);
    }
}

/// `netvigil serve`: loads the model, serves until Ctrl+C.
pub fn run(opts: &ServeOptions) -> anyhow::Result<()> {
    let model = service::models::resolve_and_load(&opts.data_dir, opts.model.as_deref(), opts.device)?;
    let server = start(model, opts)?;
    eprintln!(
        "serving model {} on http://{} (POST /v1/score, GET /v1/model /healthz /metrics /openapi.json); Ctrl+C stops",
        server.model, server.address
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(tokio::signal::ctrl_c())?;
    eprintln!("stopping");
    server.stop();
    Ok(())
}
