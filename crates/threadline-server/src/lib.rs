//! The HTTP surface of Threadline: the JSON API under `/api/v1` and the server-rendered web UI.
//!
//! [`app`] builds the whole router from an [`AppState`] and the one route table, [`routes`],
//! in which every route states who may call it ([`Guard`]); tests call it in-process and walk
//! the same table, `serve` binds it to a socket. Handlers parse input into domain types, call
//! the [`Store`], and render; no rule lives here.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, header};
use axum::routing::{MethodFilter, MethodRouter, on};
use threadline_domain::access::Permission;
use threadline_store::Store;

pub mod account;
pub mod api;
pub mod audit;
pub mod auth;
pub mod authenticity;
pub mod body;
pub mod channel;
pub mod clock;
pub mod discrepancies;
pub mod epcis;
pub mod error;
pub mod esign;
pub mod export;
pub mod i18n;
pub mod import;
pub mod labels;
pub mod mqtt;
pub mod openapi;
pub mod ops;
pub mod partner;
pub mod passport;
pub mod process;
pub mod recall;
pub mod roles;
pub mod scan;
pub mod serials;
pub mod site;
pub mod trace;
pub mod ui;
pub mod webhook;

pub use auth::{Actor, AuthSettings, Guard, Surface};
pub use clock::{Clock, FixedClock, ManualClock, SystemClock};

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
    pub auth: AuthSettings,
    /// How webhook deliveries are sent.
    pub webhooks: webhook::WebhookSettings,
    /// The GS1 Company Prefixes EPCIS answers may write EPC URNs under (`GS1-EPC-Format:
    /// Always_EPC_URN`); a key under none of them stays a Digital Link.
    pub company_prefixes: Arc<threadline_epcis::format::CompanyPrefixes>,
    /// Recent failed sign-ins by client address (see [`auth::AddressLimit`]).
    pub sign_in_failures: Arc<auth::AddressFailures>,
    /// API tokens recently found valid (see [`auth::TokenCache`]).
    pub tokens: Arc<auth::TokenCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            auth: AuthSettings::default(),
            webhooks: webhook::WebhookSettings::default(),
            company_prefixes: Arc::default(),
            sign_in_failures: Arc::default(),
            tokens: Arc::default(),
        }
    }

    /// Changes users, tokens or custom roles (with the change's audit record, in one
    /// transaction) and forgets the tokens this server had found valid with their permissions,
    /// so a revocation or a role's new permissions hold from the next request on.
    pub async fn change_access(
        &self,
        change: threadline_store::AccessChange,
        audit: Option<threadline_domain::audit::AuditRecord>,
    ) -> Result<Option<i64>, threadline_store::StoreError> {
        let out = self.store.change_access(change, audit).await;
        self.tokens.forget_all();
        out
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

/// One route: its method and path, who may call it, how a refusal is shown, and the handler.
pub struct Route {
    pub method: Method,
    /// The full path in axum's syntax (`/api/v1/events/{id}`).
    pub path: &'static str,
    pub guard: Guard,
    pub surface: Surface,
    handler: MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {:?}", self.method, self.path, self.guard)
    }
}

fn route<H, T>(method: Method, path: &'static str, guard: Guard, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    // The EPCIS binding is an API too: its clients are programs, told 401/403 (not sent
    // to a sign-in page) as EPCIS problem documents, and its writes are recorded with the
    // status they answered.
    let surface = if path.starts_with("/api/") {
        Surface::Api
    } else if path.starts_with("/epcis") {
        Surface::Epcis
    } else {
        Surface::Page
    };
    #[allow(clippy::expect_used)] // the table is code: a bad method fails the first test run
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
    Route {
        method,
        path,
        guard,
        surface,
        handler: on(filter, handler),
    }
}

/// Every route of [`app`], with its guard. The router is built from this table, so a route
/// cannot exist without stating who may call it, and the access tests walk the same list.
///
/// Event capture needs, per event, the permission of its business step (see
/// [`threadline_domain::access::required_for`]); master-data writes need `configure`; every
/// read needs `read`; the ledger check needs `read_audit`; users and tokens need
/// `manage_users`.
pub fn routes() -> Vec<Route> {
    use Guard::{Capture, Needs, Public, SignedIn};
    use Method as M;
    use Permission::{
        Assemble, Commission, Configure, Correct, Hold, Inspect, ManageUsers, Move, Read,
        ReadAudit, Receive, Repair, Return, Scrap, Ship,
    };
    let mut table = vec![
        route(M::GET, "/healthz", Public, healthz),
        route(M::GET, "/assets/threadline.css", Public, ui::stylesheet),
        route(M::GET, "/assets/station.js", Public, ui::station::script),
        route(M::GET, "/assets/trace.js", Public, ui::trace::script),
        route(M::GET, "/assets/labels.js", Public, ui::labels::script),
        route(
            M::GET,
            "/assets/serial-rules.js",
            Public,
            ui::admin::rule_script,
        ),
        route(M::GET, "/login", Public, ui::login_page),
        route(M::POST, "/login", Public, ui::login_submit),
        route(M::POST, "/logout", SignedIn, ui::logout),
        route(M::GET, "/", Needs(Read), ui::home),
        route(M::GET, "/unit", Needs(Read), ui::passport::page),
        route(M::GET, "/scan", Needs(Read), ui::station::page),
        route(M::GET, "/trace", Needs(Read), ui::trace::page),
        route(M::GET, "/recalls", Needs(Read), ui::recall::list),
        route(M::GET, "/dashboard", Needs(Read), ui::dashboard::page),
        route(M::GET, "/search", Needs(Read), ui::search::page),
        route(M::GET, "/admin", Needs(Configure), ui::admin::index),
        route(
            M::GET,
            "/labels",
            Needs(Permission::Commission),
            ui::labels::page,
        ),
        route(
            M::POST,
            "/labels",
            Needs(Permission::Commission),
            ui::labels::act,
        ),
        route(
            M::GET,
            "/admin/labels",
            Needs(Configure),
            ui::labels::templates,
        ),
        route(
            M::POST,
            "/admin/labels",
            Needs(Configure),
            ui::labels::save_template,
        ),
        route(
            M::GET,
            "/admin/process",
            Needs(Configure),
            ui::process::page,
        ),
        route(
            M::POST,
            "/admin/process",
            Needs(Configure),
            ui::process::save,
        ),
        route(
            M::GET,
            "/admin/webhooks",
            Needs(Configure),
            ui::webhooks::page,
        ),
        route(
            M::POST,
            "/admin/webhooks",
            Needs(Configure),
            ui::webhooks::act,
        ),
        route(M::GET, "/admin/users", Needs(ManageUsers), ui::users::page),
        route(M::POST, "/admin/users", Needs(ManageUsers), ui::users::act),
        route(M::GET, "/admin/roles", Needs(ManageUsers), ui::roles::page),
        route(M::POST, "/admin/roles", Needs(ManageUsers), ui::roles::act),
        route(M::GET, "/admin/{kind}", Needs(Configure), ui::admin::page),
        route(M::POST, "/admin/{kind}", Needs(Configure), ui::admin::save),
        route(
            M::GET,
            "/recalls/new",
            Needs(Permission::Recall),
            ui::recall::preview,
        ),
        route(
            M::POST,
            "/recalls",
            Needs(Permission::Recall),
            ui::recall::create,
        ),
        route(M::GET, "/recalls/{code}", Needs(Read), ui::recall::campaign),
        route(
            M::POST,
            "/recalls/{code}/narrow",
            Needs(Permission::Recall),
            ui::recall::narrow,
        ),
        route(
            M::POST,
            "/recalls/{code}/close",
            Needs(Permission::Recall),
            ui::recall::close,
        ),
        route(
            M::GET,
            "/api/v1/scan/check",
            Needs(Read),
            ui::station::check,
        ),
        // The API's own description (public: it holds no data).
        route(M::GET, "/api/v1/openapi.json", Public, openapi::serve),
        route(M::GET, "/api/docs", Public, ui::apidocs::page),
        // Identity.
        route(M::POST, "/api/v1/session", Public, account::create_session),
        route(M::DELETE, "/api/v1/session", SignedIn, account::end_session),
        route(M::GET, "/api/v1/me", SignedIn, account::me),
        route(
            M::POST,
            "/api/v1/me/password",
            SignedIn,
            account::change_own_password,
        ),
        route(
            M::GET,
            "/api/v1/users",
            Needs(ManageUsers),
            account::list_users,
        ),
        route(
            M::POST,
            "/api/v1/users",
            Needs(ManageUsers),
            account::create_user,
        ),
        route(
            M::GET,
            "/api/v1/users/{name}",
            Needs(ManageUsers),
            account::get_user,
        ),
        route(
            M::PUT,
            "/api/v1/users/{name}/roles",
            Needs(ManageUsers),
            account::set_user_roles,
        ),
        route(
            M::POST,
            "/api/v1/users/{name}/password",
            Needs(ManageUsers),
            account::reset_password,
        ),
        route(
            M::POST,
            "/api/v1/users/{name}/lock",
            Needs(ManageUsers),
            account::lock_user,
        ),
        route(
            M::POST,
            "/api/v1/users/{name}/unlock",
            Needs(ManageUsers),
            account::unlock_user,
        ),
        route(
            M::GET,
            "/api/v1/tokens",
            Needs(ManageUsers),
            account::list_tokens,
        ),
        route(
            M::POST,
            "/api/v1/tokens",
            Needs(ManageUsers),
            account::create_token,
        ),
        route(
            M::DELETE,
            "/api/v1/tokens/{name}",
            Needs(ManageUsers),
            account::revoke_token,
        ),
        route(M::GET, "/api/v1/roles", Needs(ManageUsers), roles::list),
        route(M::POST, "/api/v1/roles", Needs(ManageUsers), roles::create),
        route(
            M::GET,
            "/api/v1/roles/{name}",
            Needs(ManageUsers),
            roles::get,
        ),
        route(
            M::PUT,
            "/api/v1/roles/{name}",
            Needs(ManageUsers),
            roles::replace,
        ),
        route(
            M::DELETE,
            "/api/v1/roles/{name}",
            Needs(ManageUsers),
            roles::delete,
        ),
        // The ledger.
        route(M::GET, "/api/v1/events", Needs(Read), api::list_events),
        route(M::POST, "/api/v1/events", Capture, api::capture_events),
        route(M::GET, "/api/v1/events/{id}", Needs(Read), api::get_event),
        route(M::GET, "/api/v1/items", Needs(Read), api::list_items),
        route(M::GET, "/api/v1/lots", Needs(Read), api::list_lots),
        route(
            M::GET,
            "/api/v1/items/{product}/{serial}",
            Needs(Read),
            api::get_item,
        ),
        route(
            M::GET,
            "/api/v1/lots/{product}/{lot}",
            Needs(Read),
            api::get_lot,
        ),
        route(
            M::GET,
            "/api/v1/ledger/verify",
            Needs(ReadAudit),
            api::verify,
        ),
        route(M::GET, "/api/v1/audit", Needs(ReadAudit), audit::search),
        // Master data.
        route(M::GET, "/api/v1/products", Needs(Read), api::list_products),
        route(
            M::POST,
            "/api/v1/products",
            Needs(Configure),
            api::create_product,
        ),
        route(
            M::GET,
            "/api/v1/products/{code}",
            Needs(Read),
            api::get_product,
        ),
        route(
            M::PUT,
            "/api/v1/products/{code}",
            Needs(Configure),
            api::replace_product,
        ),
        route(M::GET, "/api/v1/parties", Needs(Read), api::list_parties),
        route(
            M::POST,
            "/api/v1/parties",
            Needs(Configure),
            api::create_party,
        ),
        route(
            M::GET,
            "/api/v1/parties/{code}",
            Needs(Read),
            api::get_party,
        ),
        route(
            M::PUT,
            "/api/v1/parties/{code}",
            Needs(Configure),
            api::replace_party,
        ),
        route(
            M::GET,
            "/api/v1/locations",
            Needs(Read),
            api::list_locations,
        ),
        route(
            M::POST,
            "/api/v1/locations",
            Needs(Configure),
            api::create_location,
        ),
        route(
            M::GET,
            "/api/v1/locations/{code}",
            Needs(Read),
            api::get_location,
        ),
        route(
            M::PUT,
            "/api/v1/locations/{code}",
            Needs(Configure),
            api::replace_location,
        ),
        route(
            M::GET,
            "/api/v1/{kind}/{code}/history",
            Needs(Read),
            api::master_history,
        ),
        // Operations: one per business step, each recorded as events through capture. The
        // guard is the step's permission; every planned event is checked like a captured one.
        route(
            M::POST,
            "/api/v1/ops/receive",
            Needs(Receive),
            ops::handle::<ops::Receive>,
        ),
        route(
            M::POST,
            "/api/v1/ops/commission",
            Needs(Commission),
            ops::handle::<ops::Commission>,
        ),
        route(
            M::POST,
            "/api/v1/ops/assemble",
            Needs(Assemble),
            ops::handle::<ops::Assemble>,
        ),
        route(
            M::POST,
            "/api/v1/ops/remove",
            Needs(Assemble),
            ops::handle::<ops::Remove>,
        ),
        route(
            M::POST,
            "/api/v1/ops/replace",
            Needs(Assemble),
            ops::handle::<ops::Replace>,
        ),
        route(
            M::POST,
            "/api/v1/ops/transform",
            Needs(Commission),
            ops::handle::<ops::Transform>,
        ),
        route(
            M::POST,
            "/api/v1/ops/inspect",
            Needs(Inspect),
            ops::handle::<ops::Inspect>,
        ),
        route(
            M::POST,
            "/api/v1/ops/disposition",
            Needs(Inspect),
            ops::handle::<ops::QcDisposition>,
        ),
        route(
            M::POST,
            "/api/v1/ops/pack",
            Needs(Assemble),
            ops::handle::<ops::Pack>,
        ),
        route(
            M::POST,
            "/api/v1/ops/unpack",
            Needs(Assemble),
            ops::handle::<ops::Unpack>,
        ),
        route(
            M::POST,
            "/api/v1/ops/move",
            Needs(Move),
            ops::handle::<ops::Move>,
        ),
        route(M::GET, "/api/v1/ops/pick", Needs(Read), ops::pick),
        route(
            M::POST,
            "/api/v1/ops/ship",
            Needs(Ship),
            ops::handle::<ops::Ship>,
        ),
        route(
            M::POST,
            "/api/v1/ops/distributor-receipt",
            Needs(Receive),
            ops::handle::<ops::DistributorReceipt>,
        ),
        route(
            M::POST,
            "/api/v1/ops/sell",
            Needs(Ship),
            ops::handle::<ops::Sell>,
        ),
        route(
            M::POST,
            "/api/v1/ops/return",
            Needs(Return),
            ops::handle::<ops::Return>,
        ),
        route(
            M::POST,
            "/api/v1/ops/repair",
            Needs(Repair),
            ops::handle::<ops::Repair>,
        ),
        route(
            M::POST,
            "/api/v1/ops/scrap",
            Needs(Scrap),
            ops::handle::<ops::Scrap>,
        ),
        route(
            M::POST,
            "/api/v1/ops/hold",
            Needs(Hold),
            ops::handle::<ops::Hold>,
        ),
        route(
            M::POST,
            "/api/v1/ops/release",
            Needs(Hold),
            ops::handle::<ops::Release>,
        ),
        route(
            M::POST,
            "/api/v1/ops/correct",
            Needs(Correct),
            ops::handle::<ops::Correct>,
        ),
        // The process definition.
        route(M::GET, "/api/v1/process", Needs(Read), process::get_process),
        route(
            M::PUT,
            "/api/v1/process",
            Needs(Configure),
            process::put_process,
        ),
        route(
            M::GET,
            "/api/v1/process/history",
            Needs(Read),
            process::process_history,
        ),
        // The passport of one unit.
        route(
            M::GET,
            "/api/v1/items/{product}/{serial}/passport",
            Needs(Read),
            passport::by_key,
        ),
        route(M::GET, "/api/v1/passport", Needs(Read), passport::by_code),
        // Trace.
        route(
            M::GET,
            "/api/v1/trace/backward",
            Needs(Read),
            trace::backward,
        ),
        route(M::GET, "/api/v1/trace/forward", Needs(Read), trace::forward),
        route(
            M::GET,
            "/api/v1/channel/diversions",
            Needs(Read),
            channel::list,
        ),
        route(
            M::GET,
            "/api/v1/discrepancies",
            Needs(Read),
            discrepancies::list,
        ),
        route(
            M::POST,
            "/api/v1/authenticity/checks",
            Needs(Read),
            authenticity::check,
        ),
        route(
            M::GET,
            "/api/v1/authenticity/checks",
            Needs(Read),
            authenticity::list,
        ),
        // Recall campaigns.
        route(M::GET, "/api/v1/recalls", Needs(Read), recall::list),
        route(
            M::POST,
            "/api/v1/recalls",
            Needs(Permission::Recall),
            recall::create,
        ),
        route(M::GET, "/api/v1/recalls/{code}", Needs(Read), recall::get),
        route(
            M::GET,
            "/api/v1/recalls/{code}/units",
            Needs(Read),
            recall::units,
        ),
        route(
            M::GET,
            "/api/v1/recalls/{code}/contacts",
            Needs(Permission::ReadCustomerData),
            recall::contacts,
        ),
        route(
            M::POST,
            "/api/v1/recalls/{code}/narrow",
            Needs(Permission::Recall),
            recall::narrow,
        ),
        route(
            M::POST,
            "/api/v1/recalls/{code}/close",
            Needs(Permission::Recall),
            recall::close,
        ),
        // Identifiers: scanning and serial numbers.
        route(M::GET, "/api/v1/scan", Needs(Read), scan::scan),
        route(
            M::POST,
            "/api/v1/products/{code}/allocations",
            Needs(Permission::Commission),
            serials::allocate_endpoint,
        ),
        // Labels.
        route(M::GET, "/api/v1/label-templates", Needs(Read), labels::list),
        route(
            M::POST,
            "/api/v1/label-templates",
            Needs(Configure),
            labels::create,
        ),
        route(
            M::POST,
            "/api/v1/label-templates/preview",
            Needs(Read),
            labels::preview,
        ),
        route(
            M::GET,
            "/api/v1/label-templates/{name}",
            Needs(Read),
            labels::get,
        ),
        route(
            M::PUT,
            "/api/v1/label-templates/{name}",
            Needs(Configure),
            labels::replace,
        ),
        route(
            M::DELETE,
            "/api/v1/label-templates/{name}",
            Needs(Configure),
            labels::delete,
        ),
        route(
            M::POST,
            "/api/v1/label-jobs",
            Needs(Permission::Commission),
            labels::download_job,
        ),
        route(
            M::POST,
            "/api/v1/label-jobs/print",
            Needs(Permission::Commission),
            labels::print_job,
        ),
        route(
            M::GET,
            "/api/v1/serial-rules",
            Needs(Read),
            serials::list_rules,
        ),
        route(
            M::POST,
            "/api/v1/serial-rules",
            Needs(Configure),
            serials::create_rule,
        ),
        route(
            M::GET,
            "/api/v1/serial-rules/{code}",
            Needs(Read),
            serials::get_rule,
        ),
        route(
            M::PUT,
            "/api/v1/serial-rules/{code}",
            Needs(Configure),
            serials::replace_rule,
        ),
        route(
            M::POST,
            "/api/v1/products/{code}/serials/printed",
            Needs(Permission::Commission),
            serials::printed_endpoint,
        ),
        route(
            M::GET,
            "/api/v1/products/{code}/serial-rule",
            Needs(Read),
            serials::product_rule_endpoint,
        ),
        route(
            M::POST,
            "/api/v1/serial-rules/preview",
            Needs(Read),
            serials::preview,
        ),
        route(
            M::POST,
            "/api/v1/serial-rules/validate",
            Needs(Read),
            serials::validate,
        ),
        // EPCIS 2.0 (GS1 REST binding).
        route(M::GET, "/epcis", Needs(Read), epcis::discovery),
        route(M::POST, "/epcis/capture", Capture, epcis::capture),
        route(
            M::GET,
            "/epcis/capture/{id}",
            Needs(Read),
            epcis::capture_job,
        ),
        route(M::GET, "/epcis/events", Needs(Read), epcis::query),
        route(M::POST, "/epcis/events", Capture, epcis::capture_one),
        route(M::GET, "/epcis/events/{id}", Needs(Read), epcis::get_event),
        // Bulk import of master data (CSV/XLSX; dry run by default).
        route(
            M::POST,
            "/api/v1/imports/{kind}",
            Needs(Configure),
            import::import,
        ),
        route(
            M::GET,
            "/api/v1/imports/{kind}/template",
            Needs(Read),
            import::template,
        ),
        // Webhooks: subscriptions and their delivery log (administrators: `configure`).
        route(M::GET, "/api/v1/webhooks", Needs(Configure), webhook::list),
        route(
            M::POST,
            "/api/v1/webhooks",
            Needs(Configure),
            webhook::create,
        ),
        route(
            M::GET,
            "/api/v1/webhooks/{name}",
            Needs(Configure),
            webhook::get,
        ),
        route(
            M::PUT,
            "/api/v1/webhooks/{name}",
            Needs(Configure),
            webhook::replace,
        ),
        route(
            M::DELETE,
            "/api/v1/webhooks/{name}",
            Needs(Configure),
            webhook::delete,
        ),
        route(
            M::GET,
            "/api/v1/webhooks/{name}/deliveries",
            Needs(Configure),
            webhook::deliveries,
        ),
        route(
            M::GET,
            "/api/v1/webhook-deliveries/{id}",
            Needs(Configure),
            webhook::get_delivery,
        ),
        route(
            M::POST,
            "/api/v1/webhook-deliveries/{id}/redeliver",
            Needs(Configure),
            webhook::redeliver,
        ),
        route(M::GET, "/epcis/eventTypes", Needs(Read), epcis::event_types),
        route(
            M::GET,
            "/epcis/eventTypes/{id}/events",
            Needs(Read),
            epcis::event_type_events,
        ),
        route(M::GET, "/epcis/epcs", Needs(Read), epcis::epcs),
        route(
            M::GET,
            "/epcis/epcs/{id}/events",
            Needs(Read),
            epcis::epc_events,
        ),
        route(M::GET, "/epcis/bizSteps", Needs(Read), epcis::biz_steps),
        route(
            M::GET,
            "/epcis/bizSteps/{id}/events",
            Needs(Read),
            epcis::biz_step_events,
        ),
        route(M::GET, "/epcis/bizLocations", Needs(Read), epcis::places),
        route(
            M::GET,
            "/epcis/bizLocations/{id}/events",
            Needs(Read),
            epcis::biz_location_events,
        ),
        route(M::GET, "/epcis/readPoints", Needs(Read), epcis::places),
        route(
            M::GET,
            "/epcis/readPoints/{id}/events",
            Needs(Read),
            epcis::read_point_events,
        ),
        route(
            M::GET,
            "/epcis/dispositions",
            Needs(Read),
            epcis::dispositions,
        ),
        route(
            M::GET,
            "/epcis/dispositions/{id}/events",
            Needs(Read),
            epcis::disposition_events,
        ),
        route(M::GET, "/epcis/queries", Needs(Read), epcis::queries),
        route(M::POST, "/epcis/queries", Needs(Read), epcis::create_query),
        route(
            M::GET,
            "/epcis/queries/{name}",
            Needs(Read),
            epcis::named_query,
        ),
        route(
            M::DELETE,
            "/epcis/queries/{name}",
            Needs(Read),
            epcis::delete_query,
        ),
        route(
            M::GET,
            "/epcis/queries/{name}/events",
            Needs(Read),
            epcis::named_query_events,
        ),
        route(
            M::GET,
            "/epcis/queries/{name}/subscriptions",
            Needs(Read),
            epcis::subscriptions::list,
        ),
        route(
            M::POST,
            "/epcis/queries/{name}/subscriptions",
            Needs(Read),
            epcis::subscriptions::create,
        ),
        route(
            M::GET,
            "/epcis/queries/{name}/subscriptions/{id}",
            Needs(Read),
            epcis::subscriptions::get,
        ),
        route(
            M::DELETE,
            "/epcis/queries/{name}/subscriptions/{id}",
            Needs(Read),
            epcis::subscriptions::delete,
        ),
    ];
    // The REST binding answers OPTIONS on each of its resources with the methods it takes
    // (`Allow`) and the GS1 headers, as the standard's OpenAPI document does; it reveals
    // nothing but needs `read` like the resource itself.
    let mut allowed: Vec<(&'static str, Vec<Method>)> = Vec::new();
    for r in table.iter().filter(|r| r.surface == Surface::Epcis) {
        match allowed.iter_mut().find(|(p, _)| *p == r.path) {
            Some((_, methods)) => methods.push(r.method.clone()),
            None => allowed.push((r.path, vec![r.method.clone()])),
        }
    }
    for (path, methods) in allowed {
        let allow: Vec<&str> = methods
            .iter()
            .map(Method::as_str)
            .chain(["OPTIONS"])
            .collect();
        let allow = allow.join(", ");
        table.push(route(M::OPTIONS, path, Needs(Read), move || {
            let allow = allow.clone();
            async move { epcis::options(&allow) }
        }));
    }
    table
}

/// The content security policy: nothing but this origin's stylesheet and scripts (no inline
/// script, no `eval`), API calls to this origin only, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers on every response, refusals and 404s included. Responses that say nothing
/// about caching are not cached: they carry traceability data or credentials.
async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let mut api = Router::new();
    let mut root = Router::new();
    for r in routes() {
        let handler = match r.guard {
            Guard::Public => r.handler,
            guard => r.handler.route_layer(axum::middleware::from_fn_with_state(
                auth::GuardState {
                    app: state.clone(),
                    guard,
                    surface: r.surface,
                    path: r.path,
                },
                auth::guard,
            )),
        };
        match r.path.strip_prefix("/api/v1") {
            Some(rest) => api = api.route(rest, handler),
            None => root = root.route(r.path, handler),
        }
    }
    root.nest("/api/v1", api.fallback(api_not_found))
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, with the background work of a server
/// (the webhook delivery worker) running beside it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let worker = webhook::spawn_worker(state.clone());
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    worker.abort();
    served
}
