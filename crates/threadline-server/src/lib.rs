//! The HTTP surface of Threadline: the JSON API under `/api/v1` and the server-rendered web UI.
//!
//! [`app`] builds the whole router from an [`AppState`]; tests call it in-process, `serve`
//! binds it to a socket. Handlers parse input into domain types, call the [`Store`], and render;
//! no rule lives here.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use threadline_store::Store;

pub mod api;
pub mod body;
pub mod clock;
pub mod error;
pub mod i18n;
pub mod scan;
pub mod serials;
pub mod ui;

pub use clock::{Clock, FixedClock, SystemClock};

/// Limits the API enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most events in one capture request.
    pub max_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_batch: 10_000 }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
        }
    }
}

async fn healthz(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> axum::Json<serde_json::Value> {
    axum::Json(
        serde_json::json!({ "status": "ok", "engine": app.store.engine(), "version": env!("CARGO_PKG_VERSION") }),
    )
}

async fn api_not_found(uri: axum::http::Uri) -> error::AppError {
    error::AppError::NotFound(format!("{} is not an API endpoint", uri.path()))
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    use api::*;
    let api = Router::new()
        .route("/events", get(list_events).post(capture_events))
        .route("/events/{id}", get(get_event))
        .route("/items/{product}/{serial}", get(get_item))
        .route("/lots/{product}/{lot}", get(get_lot))
        .route("/products", get(list_products).post(create_product))
        .route("/products/{code}", get(get_product).put(replace_product))
        .route("/parties", get(list_parties).post(create_party))
        .route("/parties/{code}", get(get_party).put(replace_party))
        .route("/locations", get(list_locations).post(create_location))
        .route("/locations/{code}", get(get_location).put(replace_location))
        .route("/{kind}/{code}/history", get(master_history))
        .route("/ledger/verify", get(verify))
        .route("/scan", get(scan::scan))
        .route(
            "/products/{code}/allocations",
            axum::routing::post(serials::allocate_endpoint),
        )
        .route(
            "/serial-rules/preview",
            axum::routing::post(serials::preview),
        )
        .route(
            "/serial-rules/validate",
            axum::routing::post(serials::validate),
        )
        .fallback(api_not_found);
    Router::new()
        .route("/", get(ui::home))
        .route("/unit", get(ui::unit))
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
