//! The OpenAPI 3.1 document of `/api/v1`, built from the code: every path, method and
//! permission comes from the route table ([`crate::routes`]); every request, query and
//! response schema is the JSON Schema (2020-12, the dialect of OpenAPI 3.1) that `schemars`
//! derives from the Rust type the handler parses or answers with, so a renamed field or a new
//! variant changes the document by itself. What cannot be derived — a summary, an example, the
//! status of success — is stated here, once per route, in [`describe`]; a route without an
//! entry is listed by [`undocumented`] and fails the test suite.
//!
//! Served at `GET /api/v1/openapi.json` without credentials (it describes the surface and holds
//! no data; an integrator reads it before holding a token) and rendered for people at
//! `GET /api/docs` by [`crate::ui::apidocs`].

use std::collections::BTreeMap;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Guard;
use crate::error::AppError;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;
type ParseFn = fn(&[u8]) -> Result<(), AppError>;

/// A JSON request body: its schema, examples, and the parser of its endpoint.
pub struct JsonBody {
    schema: SchemaFn,
    /// Parses a body exactly as the endpoint does ([`crate::body::parse`] into the same type).
    pub parse: ParseFn,
    /// At least one; the document shows one as `example`, several as named `examples`.
    pub examples: Vec<Example>,
}

/// A named example (OpenAPI's Example Object).
pub struct Example {
    pub name: &'static str,
    pub summary: &'static str,
    pub value: Value,
}

/// What a request carries.
pub enum RequestBody {
    Json(JsonBody),
    /// A file upload (CSV or XLSX) sent as the raw body.
    File {
        media: &'static [&'static str],
        description: &'static str,
        /// A CSV file one could send, as text.
        csv_example: Option<&'static str>,
    },
}

/// A refusal worth showing with its operation: the request that earns it and the answer,
/// shown in place of the shared response of its status.
pub struct Refusal {
    pub status: u16,
    pub summary: &'static str,
    /// The body sent (shown as the example's `x-request`).
    pub request: Value,
    pub answer: Value,
}

/// What success answers.
pub enum Success {
    Json {
        status: u16,
        schema: SchemaFn,
        example: Option<Value>,
    },
    /// A file (CSV, XLSX, PDF, PNG, ZPL…).
    File {
        media: &'static [&'static str],
        description: &'static str,
    },
    /// 204, no body.
    Empty,
}

/// The part of an operation's documentation that is not in the types.
pub struct Doc {
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// A type whose fields are the query parameters (`axum::extract::Query<T>` in the handler).
    query: Option<SchemaFn>,
    /// Query parameters the type does not name (`format=csv|xlsx` on exports).
    extra_query: &'static [(&'static str, &'static str, &'static [&'static str])],
    pub body: Option<RequestBody>,
    pub success: Success,
    /// Takes `Idempotency-Key`.
    idempotent: bool,
    /// Needs `If-Match` with the version it replaces.
    if_match: bool,
    /// Examples of query parameters.
    query_examples: &'static [(&'static str, &'static str)],
    /// Refusals shown with this operation.
    pub refusals: Vec<Refusal>,
    /// Another success status of the same schema (a commit's 201 beside a dry run's 200).
    also: Option<(u16, &'static str, Value)>,
}

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

fn inline<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.root_schema_for::<T>()
}

fn parses<T: DeserializeOwned>(b: &[u8]) -> Result<(), AppError> {
    crate::body::parse::<T>(b, "").map(|_| ())
}

/// An event or a batch of them, as `POST /api/v1/events` reads it.
fn parses_events(b: &[u8]) -> Result<(), AppError> {
    use threadline_domain::event::EventRequest;
    if crate::body::first_byte(&axum::body::Bytes::copy_from_slice(b)) == Some(b'[') {
        crate::body::parse::<Vec<EventRequest>>(b, "events").map(|_| ())
    } else {
        parses::<EventRequest>(b)
    }
}

fn body<T: JsonSchema + DeserializeOwned>(example: Value) -> Option<RequestBody> {
    Some(RequestBody::Json(JsonBody {
        schema: schema::<T>,
        parse: parses::<T>,
        examples: vec![Example {
            name: "example",
            summary: "",
            value: example,
        }],
    }))
}

fn ok<T: JsonSchema>(status: u16) -> Success {
    Success::Json {
        status,
        schema: schema::<T>,
        example: None,
    }
}

fn ok_eg<T: JsonSchema>(status: u16, example: Value) -> Success {
    Success::Json {
        status,
        schema: schema::<T>,
        example: Some(example),
    }
}

/// A custom role as the API answers it; `held` adds who holds it (lists only).
fn role_example(held: bool) -> Value {
    let mut e = json!({"name": "line-inspector", "label": "产线检验员", "description": "Inspects at the line; cannot ship.",
        "permissions": ["inspect", "read"], "shipped": false, "version": 1,
        "created_at": "2026-03-01T08:00:00Z", "created_by": "admin", "updated_at": "2026-03-01T08:00:00Z", "updated_by": "admin"});
    if held {
        e["held_by"] = json!({"users": 1, "tokens": 1});
    }
    e
}

/// A ledger receipt of the examples' story (see `tests/openapi.rs`): its position, a UUID v7
/// and a chain hash, made up alike for every example so that each position has one id.
fn receipt(seq: u64) -> Value {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(format!("threadline example {seq}")));
    json!({"id": format!("0196e{seq:03x}-4f80-7a31-9c2e-5d7f1b3a{seq:04x}"), "seq": seq, "hash": hash})
}

fn receipts(first: u64, n: u64) -> Vec<Value> {
    (first..first + n).map(receipt).collect()
}

fn serial_rule_example() -> Value {
    json!({"code": "PJC", "name": "Controllers, by line and day", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}{CHECK:mod37-36}",
        "time_zone": "+08:00", "sequence_reset": "daily", "uniqueness": "product", "categories": ["controllers"]})
}

fn doc(tag: &'static str, summary: &'static str, success: Success) -> Doc {
    Doc {
        tag,
        summary,
        description: "",
        query: None,
        extra_query: &[],
        body: None,
        success,
        idempotent: false,
        if_match: false,
        query_examples: &[],
        refusals: Vec::new(),
        also: None,
    }
}

impl Doc {
    fn says(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }
    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(inline::<T>);
        self
    }
    fn eg(mut self, examples: &'static [(&'static str, &'static str)]) -> Self {
        self.query_examples = examples;
        self
    }
    fn export(mut self) -> Self {
        self.extra_query = FORMAT_PARAM;
        self
    }
    fn body(mut self, b: Option<RequestBody>) -> Self {
        self.body = b;
        self
    }
    fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
    fn if_match(mut self) -> Self {
        self.if_match = true;
        self
    }
    /// Adds `key` to the written answer (what an operation reports besides its receipts).
    fn answering(mut self, key: &str, value: Value) -> Self {
        if let Success::Json {
            example: Some(e), ..
        } = &mut self.success
        {
            e[key] = value;
        }
        self
    }
    fn also(mut self, status: u16, description: &'static str, example: Value) -> Self {
        self.also = Some((status, description, example));
        self
    }
    fn refuses(
        mut self,
        status: u16,
        summary: &'static str,
        request: Value,
        answer: Value,
    ) -> Self {
        self.refusals.push(Refusal {
            status,
            summary,
            request,
            answer,
        });
        self
    }
}

/// The groups of operations, in reading order.
const TAGS: &[&str] = &[
    "Meta",
    "Identity",
    "Master data",
    "Ledger",
    "Operations",
    "Process",
    "Identifiers",
    "Labels",
    "Passport",
    "Trace",
    "Recalls",
    "Import",
    "Webhooks",
];

const LIST_EG: &[(&str, &str)] = &[("q", "controller"), ("limit", "50")];

const FORMAT_PARAM: &[(&str, &str, &[&str])] = &[(
    "format",
    "`json` (default), or `csv` / `xlsx` to download the same rows as a spreadsheet (streamed).",
    &["json", "csv", "xlsx"],
)];
const SPREADSHEETS: &[&str] = &[
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];

/// Response shapes the handlers build as JSON objects around typed parts.
mod shapes {
    use std::collections::BTreeMap;

    use schemars::JsonSchema;
    use serde_json::Value;
    use threadline_domain::access::Permission;
    use threadline_domain::ledger::MasterChange;
    use threadline_store::webhook::{Delivery, Webhook};
    use threadline_store::{LabelTemplateRecord, Receipt, TokenRecord};

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct AuditPage {
        pub records: Vec<threadline_store::audit::AuditEntry>,
        /// Pass back as `after` for the next page; absent on the last page.
        pub next: Option<String>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Receipts {
        /// One receipt per recorded event, in ledger order.
        pub events: Vec<Receipt>,
    }

    /// What an operation recorded: the receipts of its events, the operation's name, and
    /// what the operation adds (e.g. the units a receipt registered).
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct OperationResult {
        pub operation: String,
        pub events: Vec<Receipt>,
        #[serde(flatten)]
        pub extra: BTreeMap<String, Value>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Versions {
        pub versions: Vec<MasterChange>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct User {
        pub name: String,
        pub roles: threadline_domain::access::Roles,
        pub site: Option<String>,
        pub disabled: bool,
        pub locked_until: Option<chrono::DateTime<chrono::Utc>>,
        pub password_changed_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Users {
        pub items: Vec<User>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Roles {
        /// The shipped roles, then the custom roles by name.
        pub items: Vec<crate::roles::RoleView>,
    }

    /// A signed-in session; the cookie `threadline_session` is set beside it.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Session {
        pub actor: String,
        pub user: User,
        pub permissions: Vec<Permission>,
        /// Send back as `X-CSRF-Token` on writes made with the session cookie.
        pub csrf_token: String,
        pub expires_at: chrono::DateTime<chrono::Utc>,
    }

    /// Who is calling.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Me {
        /// `user:<name>` is shown as the name; `token:<name>` for an API token.
        pub actor: String,
        /// `user` or `token`.
        pub kind: String,
        pub name: String,
        pub roles: threadline_domain::access::Roles,
        pub permissions: Vec<Permission>,
        pub site: Option<String>,
        pub csrf_token: Option<String>,
        pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Tokens {
        pub items: Vec<TokenRecord>,
    }

    /// A new token: the secret is shown this once.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct NewToken {
        pub token: TokenRecord,
        pub secret: String,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct LabelTemplates {
        pub items: Vec<LabelTemplateRecord>,
    }

    /// `GET /api/v1/ops/pick`: what to pick, in order, and how much is missing.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Picks {
        pub product: String,
        pub quantity: threadline_domain::Quantity,
        /// `fifo` or `fefo`.
        pub strategy: String,
        pub picks: Vec<crate::ops::Pick>,
        /// What the stock cannot cover (`"0"` when it can).
        pub short: threadline_domain::Quantity,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Printed {
        pub printer: String,
        pub labels: u64,
        pub bytes: u64,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Webhooks {
        pub webhooks: Vec<Webhook>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Deliveries {
        pub deliveries: Vec<Delivery>,
    }

    /// A delivery with every attempt made.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct DeliveryDetail {
        #[serde(flatten)]
        pub delivery: Delivery,
        pub attempts_log: Vec<Value>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Recalls {
        pub recalls: Vec<threadline_store::recall::Recall>,
    }

    /// `GET /api/v1/authenticity/checks`.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Checks {
        pub from: chrono::DateTime<chrono::Utc>,
        pub to: chrono::DateTime<chrono::Utc>,
        pub checks: Vec<threadline_store::authenticity::AuthenticityCheck>,
    }

    /// `GET /api/v1/channel/diversions`.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Diversions {
        pub from: chrono::DateTime<chrono::Utc>,
        pub to: chrono::DateTime<chrono::Utc>,
        pub diversions: Vec<crate::channel::DiversionRow>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct RecallUnits {
        pub recall: String,
        pub units: Vec<crate::recall::Affected>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct RecallContacts {
        pub recall: String,
        pub contacts: Vec<crate::recall::ContactRow>,
    }

    /// The outcome of an import: a dry run checks every row and keeps nothing.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Imported {
        pub kind: String,
        pub rows: u64,
        pub dry_run: bool,
        /// The ledger receipts of the first 1,000 committed rows (empty on a dry run).
        pub entries: Vec<Receipt>,
        /// The ledger position of the first committed row (`null` on a dry run).
        pub first_seq: Option<i64>,
        /// The ledger position of the last committed row: the rows' entries are
        /// `first_seq..=last_seq`, contiguous.
        pub last_seq: Option<i64>,
    }

    /// A scanned code: what it names, and what was read from it.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Scanned {
        pub resolved: crate::scan::Resolved,
        pub scan: crate::scan::ScanReading,
    }

    /// A stored serial rule: the rule's fields, its name, categories and version.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct SerialRuleView {
        pub code: String,
        pub name: String,
        pub template: String,
        pub time_zone: Option<String>,
        pub sequence_reset: threadline_serial::SequenceReset,
        pub sequence_start: Option<u64>,
        pub uniqueness: threadline_serial::Uniqueness,
        pub alphabets: Option<BTreeMap<String, String>>,
        pub categories: Vec<String>,
        pub version: u32,
        pub updated_at: chrono::DateTime<chrono::Utc>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct SerialRules {
        pub items: Vec<SerialRuleView>,
        /// Pass back as `after` for the next page; absent on the last page.
        pub next: Option<String>,
    }

    /// The rule that applies to a product, and where it comes from.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct ProductRule {
        pub product: String,
        pub source: crate::serials::RuleSource,
        pub rule: threadline_serial::RuleSpec,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct PrintMarked {
        pub product: String,
        pub printed: usize,
        pub receipt: threadline_store::Receipt,
    }

    /// Serials a rule would make, without allocating them.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct SerialPreview {
        pub serials: Vec<String>,
        /// The rule's pattern with the context filled in.
        pub pattern: String,
        /// The sequence scope these serials count in.
        pub scope: String,
        /// How likely a guessed serial is a real one after `issued` serials.
        pub guessing: Guessing,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Guessing {
        pub issued: u64,
        pub probability: f64,
        pub meets_eu_fmd: bool,
    }

    /// Whether a serial fits a rule, and its parts.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct SerialCheck {
        pub valid: bool,
        pub product: Option<String>,
        pub category: Option<String>,
        pub site: Option<String>,
        pub line: Option<String>,
        /// The date parts the serial carries.
        pub date: Option<BTreeMap<String, Value>>,
        pub sequence: Option<u64>,
        pub random: Vec<String>,
        pub check: Option<String>,
    }

    /// The refusal of every `/api/v1` endpoint.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct Problem {
        /// The first problem, for clients that show one.
        pub error: threadline_domain::error::FieldError,
        /// Every problem found (a batch or an import names each bad event or row).
        pub errors: Vec<threadline_domain::error::FieldError>,
    }
}

const EVENT_ID: &str = "01936f3e-8a5b-7c2d-9e4f-0a1b2c3d4e5f";
/// The event the correction example corrects: the put-away of the examples' story, the 34th
/// entry of its ledger (`receipt(34)`).
pub const MOVE_EVENT_ID: &str = "0196e022-4f80-7a31-9c2e-5d7f1b3a0022";

/// The serials import example: a legacy unit in stock and a supplier's board, with the
/// template's Chinese headers.
const SERIALS_CSV: &str = "产品编码 (product),序列号 (serial),来源 (origin),供应商 (supplier),状态 (status),位置 (location),批次 (lot),生产日期 (production_date)\nTC,TC-LEGACY-0907,历史,,在库,SZ-FG-A02,,2025-09-07\nBOARD,SB-2026-118842,供应商,S1,在库,SZ-RM,BL-2605,2026-05-02\n";

fn unit(serial: &str) -> Value {
    json!({"product": "TC", "serial": serial})
}

/// The documentation of one route; `None` for a route not described yet.
pub fn describe(method: &Method, path: &str) -> Option<Doc> {
    use crate::{account, api, audit, import, labels, ops, passport, recall, scan, serials, trace};
    use threadline_domain::event::EventRequest;
    use threadline_domain::master::{Location, Party, Product};
    use threadline_domain::process::Process;
    use threadline_store::{
        ItemRow, ItemView, LabelTemplateRecord, LotView, Page, StoredEvent, VerifyReport, Versioned,
    };
    let m = method.as_str();
    let d = match (m, path) {
        ("GET", "/api/v1/openapi.json") => doc(
            "Meta",
            "This OpenAPI 3.1 document",
            Success::Json {
                status: 200,
                schema: |_| schemars::json_schema!({"type": "object", "description": "An OpenAPI 3.1 document."}),
                example: None,
            },
        )
        .says("Public: it describes the API and holds no data. Built from the route table and the request and response types."),
        ("GET", "/api/v1/scan/check") => doc(
            "Identifiers",
            "Check a scan at the station",
            ok::<crate::ui::station::Verdict>(200),
        )
        .says("What the scan station page asks before it records an operation: may this scan be part of this operation now? Always 200 with a verdict once the request is readable.")
        .query::<crate::ui::station::CheckParams>()
        .eg(&[("operation", "ship"), ("code", "(01)06901234567892(21)TC-00001")]),
        // Identity.
        ("POST", "/api/v1/session") => doc("Identity", "Sign in", ok_eg::<shapes::Session>(200, json!({
            "actor": "zhao", "user": {"name": "zhao", "roles": ["quality"], "site": null, "disabled": false,
            "locked_until": null, "password_changed_at": "2026-03-01T08:00:00Z"},
            "permissions": ["read", "inspect", "hold", "recall"], "csrf_token": "b64url-token",
            "expires_at": "2026-03-02T08:00:00Z"})))
            .says("Checks a user's password and starts a session: the `threadline_session` cookie for browsers, and the CSRF token to send as `X-CSRF-Token` on writes made with it. Repeated failures lock the user for a while.")
            .body(body::<account::SignInRequest>(json!({"name": "zhao", "password": "correct horse battery"}))),
        ("DELETE", "/api/v1/session") => doc("Identity", "Sign out", Success::Empty)
            .says("Ends the session of the cookie sent."),
        ("GET", "/api/v1/me") => doc("Identity", "Who am I", ok_eg::<shapes::Me>(200, json!({
            "actor": "token:erp", "kind": "token", "name": "erp", "roles": ["production"],
            "permissions": ["read", "commission", "assemble", "move"], "site": "SZ"}))),
        ("POST", "/api/v1/me/password") => doc("Identity", "Change my password", Success::Empty)
            .body(body::<account::PasswordChange>(json!({"old_password": "correct horse battery", "new_password": "a longer passphrase 2026"}))),
        ("GET", "/api/v1/users") => doc("Identity", "List users", ok::<shapes::Users>(200)),
        ("POST", "/api/v1/users") => doc("Identity", "Create a user", ok::<shapes::User>(201))
            .body(body::<account::UserRequest>(json!({"name": "zhao", "password": "correct horse battery", "roles": ["quality"], "site": "SZ"}))),
        ("GET", "/api/v1/users/{name}") => doc("Identity", "Get a user", ok::<shapes::User>(200)),
        ("PUT", "/api/v1/users/{name}/roles") => doc("Identity", "Set a user's roles and site", ok::<shapes::User>(200))
            .body(body::<account::AccessRequest>(json!({"roles": ["quality", "warehouse"], "site": "SZ"}))),
        ("POST", "/api/v1/users/{name}/password") => doc("Identity", "Reset a user's password", Success::Empty)
            .body(body::<account::PasswordReset>(json!({"password": "a temporary passphrase 7"}))),
        ("POST", "/api/v1/users/{name}/lock") => doc("Identity", "Disable a user", Success::Empty)
            .says("The user can no longer sign in; their sessions end."),
        ("POST", "/api/v1/users/{name}/unlock") => doc("Identity", "Enable a user", Success::Empty)
            .says("Also clears a lock from repeated failed sign-ins."),
        ("GET", "/api/v1/tokens") => doc("Identity", "List API tokens", ok::<shapes::Tokens>(200))
            .says("Secrets are never shown again after creation."),
        ("POST", "/api/v1/tokens") => doc("Identity", "Create an API token", ok_eg::<shapes::NewToken>(201, json!({
            "token": {"id": EVENT_ID, "name": "erp", "roles": ["production"], "site": "SZ", "created_at": "2026-03-01T08:00:00Z",
                      "created_by": "admin", "last_used_at": null, "revoked_at": null},
            "secret": "tlt_…"})))
            .says("For machines (ERP, MES, PLC gateways): send `Authorization: Bearer <secret>`. The secret is in this answer only.")
            .body(body::<account::TokenRequest>(json!({"name": "erp", "roles": ["production"], "site": "SZ"}))),
        ("DELETE", "/api/v1/tokens/{name}") => doc("Identity", "Revoke an API token", Success::Empty),
        ("GET", "/api/v1/roles") => doc("Identity", "List roles", ok_eg::<shapes::Roles>(200, json!({"items": [
            {"name": "qc", "label": "QC", "permissions": ["inspect", "hold", "read"], "shipped": true,
             "held_by": {"users": 2, "tokens": 0}},
            role_example(true)]})))
            .says("The shipped roles (fixed) and the plant's custom roles, each with its permissions and how many users and unrevoked tokens hold it."),
        ("POST", "/api/v1/roles") => doc("Identity", "Create a custom role", ok_eg::<crate::roles::RoleView>(201, role_example(false)))
            .says("A role of the plant's own: a name (a lowercase slug that is no shipped role's), a label, a description and the permissions it grants — nothing else: a custom role never makes an account a partner, and the site an account is bound to still bounds it. Give it to users and tokens like a shipped role (`roles`). The answer's `ETag` is the version a change names in `If-Match`.")
            .body(body::<crate::roles::RoleRequest>(json!({"name": "line-inspector", "label": "产线检验员",
                "description": "Inspects at the line; cannot ship.", "permissions": ["read", "inspect"]})))
            .refuses(422, "A custom role named after a shipped role",
                json!({"name": "qc", "label": "QC", "permissions": ["read"]}),
                problem("shipped_role", "`qc` is a shipped role; a custom role needs a name of its own", Some("name"))),
        ("GET", "/api/v1/roles/{name}") => doc("Identity", "Get a role", ok_eg::<crate::roles::RoleView>(200, role_example(false)))
            .says("A shipped role or a custom one (with its version as `ETag`)."),
        ("PUT", "/api/v1/roles/{name}") => doc("Identity", "Change a custom role", ok_eg::<crate::roles::RoleView>(200, {
            let mut e = role_example(false);
            e["permissions"] = json!(["inspect", "hold", "read"]);
            e["version"] = json!(2);
            e
        }))
            .says("Replaces its label, description and permissions (the name stays). Every user and token holding it has the new permissions from its next request. A shipped role is refused (409 `shipped_role`).")
            .if_match()
            .body(body::<crate::roles::RoleChange>(json!({"label": "产线检验员",
                "description": "Inspects at the line and holds what fails; cannot ship.", "permissions": ["read", "inspect", "hold"]}))),
        ("DELETE", "/api/v1/roles/{name}") => doc("Identity", "Delete a custom role", Success::Empty)
            .says("Refused with 409 `role_in_use`, naming how many users and unrevoked tokens hold it, until nobody does; a shipped role with 409 `shipped_role`."),
        // The ledger.
        ("GET", "/api/v1/events") => doc("Ledger", "Search events", ok::<Page<StoredEvent>>(200))
            .says("Events in ledger order, filtered; `next` is the `after` of the following page.")
            .query::<api::EventFilter>()
            .eg(&[("product", "TC"), ("serial", "TC-00001"), ("biz_step", "shipping"), ("from", "2026-03-01T00:00:00+08:00"), ("limit", "100")]),
        ("POST", "/api/v1/events") => doc("Ledger", "Capture events", ok_eg::<shapes::Receipts>(201, json!({
            "events": receipts(23, 2)})))
            .says("One event, or an array of at most 10,000 recorded all or nothing. Each event needs the permission of its business step. A retry with the same `Idempotency-Key` and body answers the first receipts (header `Idempotent-Replayed: true`).")
            .refuses(409, "A batch naming a unit commissioned before: nothing in it is recorded, TC-00006 neither",
                json!([
                    {"type": "object", "action": "ADD", "event_time": "2026-05-19T09:02:00+08:00", "biz_step": "commissioning",
                     "disposition": "active", "biz_location": "SZ-L1", "items": [unit("TC-00006")]},
                    {"type": "object", "action": "ADD", "event_time": "2026-05-19T09:03:00+08:00", "biz_step": "commissioning",
                     "disposition": "active", "biz_location": "SZ-L1", "items": [unit("TC-00004")]}]),
                problem("duplicate_serial", "serial TC-00004 of TC is already registered", Some("events[1].items[0].serial")))
            .refuses(400, "An event without its time",
                json!({"type": "object", "action": "OBSERVE", "biz_step": "inspecting", "biz_location": "SZ-QC",
                       "items": [unit("TC-00003")]}),
                problem("missing_field", "missing field `event_time`", Some("event_time")))
            .idempotent()
            .body(Some(RequestBody::Json(JsonBody {
                schema: |g| {
                    let one = g.subschema_for::<EventRequest>();
                    schemars::json_schema!({"oneOf": [one, {"type": "array", "items": one, "minItems": 1}]})
                },
                parse: parses_events,
                examples: vec![
                    Example {
                        name: "single",
                        summary: "One event: a PLC gateway commissions a controller at station ST-3",
                        value: json!({"type": "object", "action": "ADD", "event_time": "2026-05-19T08:41:07+08:00",
                            "event_time_zone_offset": "+08:00", "biz_step": "commissioning", "disposition": "active",
                            "biz_location": "SZ-L1", "items": [unit("TC-00003")],
                            "biz_transactions": [{"type": "prodorder", "id": "WO-2026-0301"}],
                            "fields": {"station": "ST-3", "operator": "li.wei"}}),
                    },
                    Example {
                        name: "batch",
                        summary: "A batch, recorded all or nothing: two stations' commissionings a gateway buffered",
                        value: json!([
                            {"type": "object", "action": "ADD", "event_time": "2026-05-19T08:45:12+08:00",
                             "event_time_zone_offset": "+08:00", "biz_step": "commissioning", "disposition": "active",
                             "biz_location": "SZ-L1", "items": [unit("TC-00004")],
                             "biz_transactions": [{"type": "prodorder", "id": "WO-2026-0301"}], "fields": {"station": "ST-3"}},
                            {"type": "object", "action": "ADD", "event_time": "2026-05-19T08:46:30+08:00",
                             "event_time_zone_offset": "+08:00", "biz_step": "commissioning", "disposition": "active",
                             "biz_location": "SZ-L1", "items": [unit("TC-00005")],
                             "biz_transactions": [{"type": "prodorder", "id": "WO-2026-0301"}], "fields": {"station": "ST-4"}}
                        ]),
                    },
                ],
            }))),
        ("GET", "/api/v1/items") => doc("Ledger", "List units by state", ok::<Page<ItemRow>>(200))
            .says("Units by product, status and location, in the order they were registered; `format=csv` or `xlsx` streams every match as a spreadsheet.")
            .query::<api::ItemParams>()
            .eg(&[("product", "TC"), ("status", "in_stock"), ("location", "SZ-FG"), ("format", "xlsx")]),
        ("GET", "/api/v1/lots") => doc("Ledger", "List lots with their stock", ok::<Page<LotView>>(200))
            .says("Lots by product, or with stock at a location; `format=csv` or `xlsx` streams one row per lot and location.")
            .query::<api::LotParams>()
            .eg(&[("product", "RESIN"), ("location", "SZ-RM"), ("format", "csv")]),
        ("GET", "/api/v1/events/{id}") => doc("Ledger", "Get an event", ok::<StoredEvent>(200)),
        ("GET", "/api/v1/items/{product}/{serial}") => doc("Ledger", "Get a unit's current state", ok_eg::<ItemView>(200, item_example()))
            .says("Status, location, custodian, parent, components and holds, as the ledger leaves them."),
        ("GET", "/api/v1/lots/{product}/{lot}") => doc("Ledger", "Get a lot's current state", ok_eg::<LotView>(200, json!({
                "product": "RESIN", "lot": "R1", "production_date": "2026-04-20", "expiry_date": "2027-04-20", "holds": [],
                "stock": [{"location": "SZ-L1", "quantity": "4.75"}, {"location": "SZ-RM", "quantity": "224"}]})))
            .says("Quantity on hand per location, and holds."),
        ("GET", "/api/v1/ledger/verify") => doc("Ledger", "Verify the hash chain", ok::<VerifyReport>(200))
            .says("Recomputes every entry's chain hash, then the audit trail's; names the first break."),
        ("GET", "/api/v1/audit") => doc("Ledger", "Search the audit trail", ok::<shapes::AuditPage>(200))
            .says("Who did what, when, from where, with the before and after of each change.")
            .query::<audit::AuditParams>()
            .eg(&[("actor", "token:erp"), ("object", "products/TC"), ("format", "xlsx")]),
        // Master data.
        ("GET", "/api/v1/products") => doc("Master data", "List products", ok::<Page<Versioned<Product>>>(200)).query::<api::ListParams>().eg(LIST_EG),
        ("POST", "/api/v1/products") => doc("Master data", "Create a product", ok_eg::<Versioned<Product>>(201, json!({
                "code": "TC", "name": "Controller", "tracking": "serial", "gtin": "06901234567892", "uom": "EA",
                "category": "electronics", "warranty_months": 24,
                "serial_rule": {"code": "TCR", "template": "TC-{SEQ:5}", "sequence_reset": "never"},
                "version": 1, "updated_at": "2026-05-18T00:00:00Z"})))
            .says("Answers the record with its version in `ETag`.")
            .body(body::<Product>(json!({"code": "TC", "name": "Controller", "tracking": "serial", "gtin": "06901234567892",
                "category": "electronics", "warranty_months": 24,
                "serial_rule": {"code": "TCR", "template": "TC-{SEQ:5}", "sequence_reset": "never"}}))),
        ("GET", "/api/v1/products/{code}") => doc("Master data", "Get a product", ok::<Versioned<Product>>(200)),
        ("PUT", "/api/v1/products/{code}") => doc("Master data", "Replace a product", ok::<Versioned<Product>>(200))
            .says("A new version; the old one stays in the history.")
            .if_match()
            .body(body::<Product>(json!({"code": "TC", "name": "Controller v2", "tracking": "serial", "warranty_months": 36}))),
        ("GET", "/api/v1/parties") => doc("Master data", "List parties", ok::<Page<Versioned<Party>>>(200)).query::<api::ListParams>().eg(LIST_EG),
        ("POST", "/api/v1/parties") => doc("Master data", "Create a party", ok::<Versioned<Party>>(201))
            .body(body::<Party>(json!({"code": "D1", "name": "South China Distribution", "kind": "distributor", "regions": ["CN-GD"]}))),
        ("GET", "/api/v1/parties/{code}") => doc("Master data", "Get a party", ok::<Versioned<Party>>(200)),
        ("PUT", "/api/v1/parties/{code}") => doc("Master data", "Replace a party", ok::<Versioned<Party>>(200))
            .if_match()
            .body(body::<Party>(json!({"code": "D1", "name": "South China Distribution", "kind": "distributor", "regions": ["CN-GD", "CN-GX"]}))),
        ("GET", "/api/v1/locations") => doc("Master data", "List locations", ok::<Page<Versioned<Location>>>(200)).query::<api::ListParams>().eg(LIST_EG),
        ("POST", "/api/v1/locations") => doc("Master data", "Create a location", ok::<Versioned<Location>>(201))
            .body(body::<Location>(json!({"code": "SZ", "name": "Shenzhen plant", "kind": "site"}))),
        ("GET", "/api/v1/locations/{code}") => doc("Master data", "Get a location", ok::<Versioned<Location>>(200)),
        ("PUT", "/api/v1/locations/{code}") => doc("Master data", "Replace a location", ok::<Versioned<Location>>(200))
            .if_match()
            .body(body::<Location>(json!({"code": "SZ", "name": "Shenzhen plant 1", "kind": "site"}))),
        ("GET", "/api/v1/{kind}/{code}/history") => doc("Master data", "A record's versions", ok::<shapes::Versions>(200))
            .says("`kind` is `products`, `parties`, `locations` or `serial-rules`."),
        // Operations.
        ("POST", "/api/v1/ops/receive") => op::<ops::Receive>("Receive against a purchase order", json!({
            "time": "2026-05-18T09:10:00+08:00", "supplier": "S1", "purchase_order": "PO-2026-0042", "location": "SZ-RM",
            "inspector": "zhou.min",
            "lines": [
                {"line": "10", "product": "RESIN", "lots": [{"lot": "R1", "quantity": "250.5", "production_date": "2026-04-20", "expiry_date": "2027-04-20"}]},
                {"line": "20", "product": "BOARD", "serials": ["B-77", "B-78", "B-79", "B-80"]}]}), 19, 2)
            .refuses(422, "A supplier that is not in the master data",
                json!({"time": "2026-05-31T09:00:00+08:00", "supplier": "S404", "purchase_order": "PO-2026-0043", "location": "SZ-RM",
                       "lines": [{"product": "RESIN", "lots": [{"lot": "R2", "quantity": "100"}]}]}),
                problem("unknown_party", "party S404 does not exist", Some("supplier"))),
        ("POST", "/api/v1/ops/commission") => op::<ops::Commission>("Commission serials on a line", json!({
            "time": "2026-05-19T08:30:00+08:00", "product": "TC", "serials": ["TC-00001", "TC-00002"], "work_order": "WO-2026-0301",
            "line": "SZ-L1", "station": "ST-3", "operator": "li.wei", "revision": "C"}), 21, 1),
        ("POST", "/api/v1/ops/assemble") => op::<ops::Assemble>("Build components into a unit", json!({
            "time": "2026-05-19T10:05:00+08:00", "parent": unit("TC-00001"), "components": [{"product": "BOARD", "serial": "B-77"}],
            "component_lots": [{"product": "RESIN", "lot": "R1", "quantity": "0.25"}], "location": "SZ-L1",
            "work_order": "WO-2026-0301", "station": "ST-5", "operator": "li.wei"}), 26, 1),
        ("POST", "/api/v1/ops/remove") => op::<ops::Remove>("Take components out of a unit", json!({
            "time": "2026-05-20T10:00:00+08:00", "parent": unit("TC-00002"), "components": [{"product": "BOARD", "serial": "B-79"}],
            "location": "SZ-L1", "reason": "salvage: the housing cracked"}), 33, 1),
        ("POST", "/api/v1/ops/replace") => op::<ops::Replace>("Swap components of a unit", json!({
            "time": "2026-05-20T09:00:00+08:00", "parent": unit("TC-00001"),
            "parts": [{"old": {"product": "BOARD", "serial": "B-77"}, "new": {"product": "BOARD", "serial": "B-78"}}],
            "location": "SZ-L1", "repair_order": "RW-2026-0520"}), 31, 2),
        ("POST", "/api/v1/ops/transform") => op::<ops::Transform>("Make outputs from inputs", json!({
            "time": "2026-05-19T13:00:00+08:00", "location": "SZ-RM",
            "input_lots": [{"product": "RESIN", "lot": "R1", "quantity": "20"}],
            "output_lots": [{"product": "HOUSING", "lot": "H-260519", "quantity": "400"}],
            "production_date": "2026-05-19", "equipment": "IMM-02",
            "parameters": {"melt_temperature_c": 215, "cycle_s": 38.5}, "work_order": "WO-2026-0302"}), 28, 1),
        ("POST", "/api/v1/ops/inspect") => op::<ops::Inspect>("Record a QC inspection", json!({
            "time": "2026-05-19T15:20:00+08:00", "items": [unit("TC-00001")], "result": "fail", "inspector": "zhao",
            "equipment": "DMM-07",
            "measurements": [{"name": "output_voltage", "value": 5.31, "unit": "V", "low": 4.75, "high": 5.25}],
            "defect_codes": ["D-OVERVOLT"], "location": "SZ-QC", "note": "regulator output high at full load"}), 29, 1),
        ("POST", "/api/v1/ops/disposition") => op::<ops::QcDisposition>("Decide what happens to failed units", json!({
            "time": "2026-05-19T16:00:00+08:00", "items": [unit("TC-00001")], "decision": "rework",
            "reason": "replace the main board", "approved_by": "qa.lead"}), 30, 1),
        ("POST", "/api/v1/ops/pack") => op::<ops::Pack>("Pack units into a container", json!({
            "time": "2026-05-20T15:00:00+08:00", "container": {"product": "CASE", "serial": "006901234000000018"},
            "items": [unit("TC-00001"), unit("TC-00003")], "location": "SZ-FG-A02"}), 36, 2),
        ("POST", "/api/v1/ops/unpack") => op::<ops::Unpack>("Take units out of a container", json!({
            "time": "2026-05-20T15:30:00+08:00", "container": {"product": "CASE", "serial": "006901234000000018"},
            "items": [unit("TC-00003")]}), 38, 1),
        ("POST", "/api/v1/ops/move") => op::<ops::Move>("Move or put away", json!({
            "time": "2026-05-20T14:00:00+08:00", "items": [unit("TC-00001"), unit("TC-00003")], "to": "SZ-FG-A01",
            "put_away": true, "operator": "wang"}), 34, 1),
        ("GET", "/api/v1/ops/pick") => doc("Operations", "Suggest lots to pick", ok_eg::<shapes::Picks>(200, json!({
                "product": "RESIN", "quantity": "120.5", "strategy": "fefo", "short": "0",
                "picks": [{"lot": "R1", "location": "SZ-L1", "quantity": "4.75", "expiry_date": "2027-04-20"},
                          {"lot": "R1", "location": "SZ-RM", "quantity": "115.75", "expiry_date": "2027-04-20"}]})))
            .says("Lots in stock to pick a quantity from, first-in-first-out or first-expiry-first-out.")
            .query::<ops::PickParams>()
            .eg(&[("product", "RESIN"), ("quantity", "120.5"), ("strategy", "fefo")]),
        ("POST", "/api/v1/ops/ship") => op::<ops::Ship>("Ship against a sales order", json!({
            "time": "2026-05-21T09:00:00+08:00", "sales_order": "SO-2026-1001", "distributor": "D1", "ship_to_region": "CN-GD",
            "from": "SZ-FG-A02", "to": "D1-GZ", "carrier": "SF Express", "tracking_number": "SF1234567890",
            "containers": [{"product": "CASE", "serial": "006901234000000018"}]}), 39, 1)
            .refuses(422, "Shipping a unit that was scrapped",
                json!({"time": "2026-05-31T09:00:00+08:00", "sales_order": "SO-2026-1002", "customer": "C9", "from": "SZ-FG-A02",
                       "lines": [{"product": "TC", "serials": ["TC-00002"]}]}),
                problem("item_scrapped", "serial TC-00002 of TC is scrapped and can take no further steps", Some("lines[0].serials[0]"))),
        ("POST", "/api/v1/ops/distributor-receipt") => op::<ops::DistributorReceipt>("A distributor receives units", json!({
            "time": "2026-05-22T14:00:00+08:00", "distributor": "D1", "location": "D1-GZ", "sales_order": "SO-2026-1001",
            "items": [{"product": "CASE", "serial": "006901234000000018"}]}), 40, 1),
        ("POST", "/api/v1/ops/sell") => op::<ops::Sell>("Sell units to an end customer", json!({
            "time": "2026-05-25T11:30:00+08:00", "customer": "C9", "seller": "D1", "region": "CN-GD-SZ",
            "invoice": "INV-2026-0088", "items": [unit("TC-00001")]}), 42, 1),
        ("POST", "/api/v1/ops/return") => op::<ops::Return>("Take a return (RMA)", json!({
            "time": "2026-05-28T10:00:00+08:00", "rma": "RMA-501", "customer": "C9", "reason": "no power", "condition": "scuffed",
            "outcome": "repair", "location": "SZ-RMA", "items": [unit("TC-00001")]}), 43, 2),
        ("POST", "/api/v1/ops/repair") => op::<ops::Repair>("Record a repair", json!({
            "time": "2026-05-29T16:00:00+08:00", "repair_order": "RO-9", "unit": unit("TC-00001"), "fault": "regulator failed",
            "fault_code": "F-REG", "engineer": "chen",
            "parts": [{"old": {"product": "BOARD", "serial": "B-78"}, "new": {"product": "BOARD", "serial": "B-80"}}],
            "completed": true, "location": "SZ-RMA"}), 45, 3),
        ("POST", "/api/v1/ops/scrap") => op::<ops::Scrap>("Scrap units or lot quantities", json!({
            "time": "2026-05-30T09:00:00+08:00", "items": [unit("TC-00002")],
            "lots": [{"product": "RESIN", "lot": "R1", "quantity": "1.5"}], "reason": "housing cracked; resin contaminated by the spill",
            "location": "SZ-RM"}), 48, 1),
        ("POST", "/api/v1/ops/hold") => op::<ops::Hold>("Place a hold", json!({
            "time": "2026-05-30T10:00:00+08:00", "kind": "admin", "lots": [{"product": "RESIN", "lot": "R1"}],
            "reason": "supplier notice SN-2026-11: viscosity out of range"}), 49, 1)
            .answering("units", json!(0)).answering("not_held", json!([])),
        ("POST", "/api/v1/ops/release") => op::<ops::Release>("Release a hold", json!({
            "time": "2026-05-30T17:00:00+08:00", "kind": "admin", "lots": [{"product": "RESIN", "lot": "R1"}],
            "reason": "supplier certificate CoA-7781 received; lot within spec"}), 50, 1)
            .answering("units", json!(0)).answering("not_held", json!([])),
        ("POST", "/api/v1/ops/correct") => op::<ops::Correct>("Correct an earlier event", json!({
            "time": "2026-05-20T14:20:00+08:00", "event": MOVE_EVENT_ID, "reason": "put away to the wrong bin",
            "location": "SZ-FG-A02"}), 35, 1),
        // The process definition.
        ("GET", "/api/v1/process") => {
            let mut example = serde_json::to_value(Process::default()).unwrap_or_default();
            example["time_zone"] = json!("Asia/Shanghai");
            doc("Process", "The process definition", ok_eg::<Process>(200, example))
                .says("Which state each operation takes its units from and to, and the plant's time zone; version in `ETag` (`\"0\"`: the shipped default).")
        }
        ("PUT", "/api/v1/process") => {
            let mut example = serde_json::to_value(Process::default()).unwrap_or_default();
            example["required_fields"] = json!([{"operation": "inspect", "fields": ["inspector", "equipment"]}]);
            example["time_zone"] = json!("Asia/Shanghai");
            doc("Process", "Replace the process definition", ok_eg::<Process>(200, example.clone()))
                .says("Applies from now on; events keep the definition of their day. `time_zone` must be an IANA name (`invalid_time_zone` otherwise).")
                .if_match()
                .body(body::<Process>(example))
        }
        ("GET", "/api/v1/process/history") => doc("Process", "Versions of the process definition", ok::<shapes::Versions>(200)),
        // Passport.
        ("GET", "/api/v1/items/{product}/{serial}/passport") => doc("Passport", "A unit's passport", ok_eg::<passport::Passport>(200, passport_example()))
            .says("Identity, state, warranty, timeline, QC and repairs of one unit."),
        ("GET", "/api/v1/passport") => doc("Passport", "A unit's passport from a scan", ok::<passport::Passport>(200))
            .says("`code` is anything printed on the unit: GS1 element string, Digital Link URL, or a plain serial.")
            .query::<passport::ByCode>()
            .eg(&[("code", "https://id.example.com/01/06901234567892/21/TC-00001")]),
        // Trace.
        ("GET", "/api/v1/trace/backward") => doc("Trace", "Trace back: what went into a unit or lot", ok_eg::<trace::Trace>(200, json!({
                "direction": "backward", "as_of": "2026-06-01T12:00:00Z",
                "scope": {"start": {"item": unit("TC-00001")}, "as_of": "2026-06-01T12:00:00Z"},
                "nodes": [
                    {"depth": 1, "kind": "aggregation", "node": {"item": {"product": "BOARD", "serial": "B-77"}}, "via": {"item": unit("TC-00001")},
                     "linked_at": "2026-05-19T02:05:00Z", "removed_at": "2026-05-20T01:00:00Z",
                     "state": {"status": "in_stock", "location": "SZ-RM", "in_our_hands": true}},
                    {"depth": 1, "kind": "aggregation", "node": {"lot": {"product": "RESIN", "lot": "R1"}}, "via": {"item": unit("TC-00001")},
                     "linked_at": "2026-05-19T02:05:00Z", "quantity": "0.25"},
                    {"depth": 1, "kind": "aggregation", "node": {"item": {"product": "BOARD", "serial": "B-80"}}, "via": {"item": unit("TC-00001")},
                     "linked_at": "2026-05-29T08:00:00Z",
                     "state": {"status": "in_stock", "location": "SZ-RMA", "inside": unit("TC-00001"), "in_our_hands": true}}]})))
            .says("Every component and input lot, depth by depth, with where each is now.")
            .query::<trace::ScopeRequest>()
            .eg(&[("product", "TC"), ("serial", "TC-00001")])
            .export(),
        ("GET", "/api/v1/trace/forward") => doc("Trace", "Trace forward: where a unit, lot, supplier, work order or line went", ok_eg::<trace::Trace>(200, json!({
                "direction": "forward", "as_of": "2026-06-01T12:00:00Z",
                "scope": {"start": {"lot": {"product": "RESIN", "lot": "R1"}}, "as_of": "2026-06-01T12:00:00Z"},
                "nodes": [
                    {"depth": 1, "kind": "aggregation", "node": {"item": unit("TC-00001")}, "via": {"lot": {"product": "RESIN", "lot": "R1"}},
                     "linked_at": "2026-05-19T02:05:00Z", "quantity": "0.25",
                     "state": {"status": "sold", "location": "D1-GZ", "custodian": "C9", "customer": "C9", "customer_name": "Li Ming",
                               "distributor": "D1", "region": "CN-GD-SZ", "in_our_hands": false}},
                    {"depth": 1, "kind": "transformation", "node": {"lot": {"product": "HOUSING", "lot": "H-260519"}},
                     "via": {"lot": {"product": "RESIN", "lot": "R1"}}, "linked_at": "2026-05-19T05:00:00Z", "quantity": "20"}]})))
            .says("Everything built from the start, and where each is now (distributor, customer, region).")
            .query::<trace::ScopeRequest>()
            .eg(&[("product", "RESIN"), ("lot", "R1"), ("supplier", "S1"), ("from", "2026-03-01T00:00:00+08:00"), ("to", "2026-03-31T23:59:59+08:00")])
            .export(),
        ("GET", "/api/v1/channel/diversions") => doc("Trace", "Sales outside authorised regions (窜货)", ok::<shapes::Diversions>(200))
            .says("Units each distributor sold into a region outside its authorised ones (a sub-region of an authorised region is inside it), by seller and region, in the window (default: the last 30 days). The sale itself carries a `diversion` field and fires the `diversion` webhook topic.")
            .query::<crate::channel::DiversionParams>()
            .eg(&[("from", "2026-05-01T00:00:00+08:00"), ("to", "2026-06-01T00:00:00+08:00")]),
        ("GET", "/api/v1/discrepancies") => doc("Trace", "Partner reports that differ (discrepancies)", ok_eg::<crate::discrepancies::Reports>(200, json!({
            "discrepancies": [{"seq": 1042, "n": 0, "event_id": "01936f3e-8a5b-7c2d-9e4f-0a1b2c3d4e5f",
                "event_time": "2026-05-31T08:20:00Z", "recorded_at": "2026-06-01T01:05:12Z",
                "code": "on_hold", "field": "epcList[0]", "kind": "process",
                "message": "serial TC-00007 of TC is on recall hold and cannot be shipped",
                "unit": {"product": "TC", "serial": "TC-00007"}}],
            "next": "1042.0"})))
            .says("The discrepancies of partners' EPCIS events that Threadline recorded although its state or process disagreed, newest first, paged by ledger position (`next` → `after`), each with the unit it names. `kind=process&code=on_hold,qc_hold` lists the reports of units moved while on hold (the webhook topic `past_hold`). An account of one site reads those of events at its site or of units it saw; a partner's account none.")
            .query::<crate::discrepancies::ListParams>()
            .eg(&[("kind", "process"), ("code", "on_hold,qc_hold"), ("since", "2026-05-01T00:00:00+08:00"), ("limit", "100")]),
        ("POST", "/api/v1/authenticity/checks") => doc("Trace", "Check a code's authenticity (防伪)", ok::<crate::authenticity::Verdict>(201))
            .says("Judges a code scanned outside (a consumer's phone, customs, a shop): `genuine`; `suspicious` with reasons (never released, scrapped, in our own hands, checked often, in two regions, outside its distributor's regions); `unknown` (our GTIN, a serial we never issued); `not_ours`. Every check is recorded.")
            .body(body::<crate::authenticity::CheckRequest>(json!({"code": "https://id.example.com/01/09521234543213/21/TC2-2610-00001",
                "region": "CN-GD-SZ", "channel": "wechat"}))),
        ("GET", "/api/v1/authenticity/checks") => doc("Trace", "Authenticity checks", ok::<shapes::Checks>(200))
            .says("The checks in a window (default: the last 30 days), newest first, optionally only some verdicts.")
            .query::<crate::authenticity::ListParams>()
            .eg(&[("verdict", "suspicious,unknown"), ("from", "2026-05-01T00:00:00+08:00"), ("limit", "100")]),
        // Recalls.
        ("GET", "/api/v1/recalls") => doc("Recalls", "List recall campaigns", ok::<shapes::Recalls>(200)),
        ("POST", "/api/v1/recalls") => doc("Recalls", "Open a recall campaign", ok::<recall::CampaignView>(201))
            .says("Places recall holds on everything affected still in our hands (one capture batch) and answers counts, progress and contacts.")
            .body(body::<recall::RecallRequest>(json!({"code": "RC-1", "reason": "resin lot R1 is brittle", "severity": "critical",
                "scope": {"product": "RESIN", "lot": "R1"}}))),
        ("GET", "/api/v1/recalls/{code}") => doc("Recalls", "A recall campaign with its progress", ok::<recall::CampaignView>(200)),
        ("GET", "/api/v1/recalls/{code}/units") => doc("Recalls", "Units affected by a recall", ok::<shapes::RecallUnits>(200))
            .says("What the campaign covers now, or with `removed=true` what its narrowings took out.")
            .query::<recall::ListParams>()
            .eg(&[("format", "csv"), ("removed", "true")]),
        ("GET", "/api/v1/recalls/{code}/contacts") => doc("Recalls", "Who to contact for a recall", ok::<shapes::RecallContacts>(200))
            .says("Distributors and customers holding affected units; needs `read_customer_data`.")
            .query::<recall::ListParams>()
            .eg(&[("format", "xlsx")]),
        ("POST", "/api/v1/recalls/{code}/narrow") => doc("Recalls", "Narrow a recall campaign's scope", ok::<recall::CampaignView>(200))
            .says("Keeps what the campaign covers and the narrower scope also reaches; what leaves is listed with `removed=true`, its recall holds are released unless another open campaign covers it, and the narrowing is recorded with who, when and why.")
            .body(body::<recall::NarrowRequest>(json!({"reason": "only resin lot R1 failed the drop test",
                "scope": {"product": "RESIN", "lot": "R1"}}))),
        ("POST", "/api/v1/recalls/{code}/close") => doc("Recalls", "Close a recall campaign", ok::<recall::CampaignView>(200))
            .body(body::<recall::CloseRequest>(json!({"note": "all affected units accounted for"}))),
        // Identifiers.
        ("GET", "/api/v1/scan") => doc("Identifiers", "Resolve a scanned code", ok::<shapes::Scanned>(200))
            .says("Reads a GS1 element string, GS1 Digital Link URL, SSCC or plain serial, and names the unit, lot or container.")
            .query::<scan::ScanParams>()
            .eg(&[("code", "(01)06901234567892(21)TC-00001")]),
        ("POST", "/api/v1/products/{code}/allocations") => doc("Identifiers", "Allocate serials from the product's rule", ok_eg::<serials::Allocated>(201, json!({
                "product": "TC", "first": 1, "serials": ["TC-00001", "TC-00002", "TC-00003", "TC-00004", "TC-00005"],
                "scope": "TCR#3a801abd7f6a|always|product=TC", "receipt": receipt(18)})))
            .says("Reserves the next serials (recorded as an encoding event) for printing and later commissioning.")
            .refuses(400, "Too many serials at once",
                json!({"count": 1_000_000, "line": "L1"}),
                problem("invalid_count", "count must be 1–100000", Some("count")))
            .body(body::<serials::AllocationRequest>(json!({"count": 5, "line": "L1", "printer": "ZT410-01"}))),
        ("GET", "/api/v1/serial-rules") => doc("Identifiers", "List serial rules", ok::<shapes::SerialRules>(200))
            .query::<serials::RuleListParams>()
            .eg(&[("q", "controllers"), ("limit", "50")]),
        ("POST", "/api/v1/serial-rules") => doc("Identifiers", "Create a serial rule", ok::<shapes::SerialRuleView>(201))
            .says("A rule is master data: versioned, assigned to products (`serial_rule: \"<code>\"`) or to product categories (one rule per category). Answers the rule with its version in `ETag`.")
            .body(body::<serials::RuleBody>(serial_rule_example())),
        ("GET", "/api/v1/serial-rules/{code}") => doc("Identifiers", "Get a serial rule", ok::<shapes::SerialRuleView>(200)),
        ("PUT", "/api/v1/serial-rules/{code}") => doc("Identifiers", "Replace a serial rule", ok::<shapes::SerialRuleView>(200))
            .says("A new version of the rule. Its counters continue, so no serial is ever issued twice across versions.")
            .if_match()
            .body(body::<serials::RuleBody>(serial_rule_example())),
        ("GET", "/api/v1/products/{code}/serial-rule") => doc("Identifiers", "The serial rule a product takes", ok::<shapes::ProductRule>(200))
            .says("The product's own rule, the stored rule it names, or its category's — with which one it is."),
        ("POST", "/api/v1/products/{code}/serials/printed") => doc("Identifiers", "Mark pool serials printed", ok::<shapes::PrintMarked>(201))
            .says("For labels printed outside Threadline (e.g. by a contract packer): unassigned serials become `printed`. Serials not in the pool are refused by name (`serials[i]`) and nothing is recorded.")
            .body(body::<serials::PrintedRequest>(json!({"serials": ["PJC-260302-L1-00001", "PJC-260302-L1-00002"], "printer": "CM-PACK-1"}))),
        ("POST", "/api/v1/serial-rules/preview") => doc("Identifiers", "Preview a serial rule", ok::<shapes::SerialPreview>(200))
            .body(body::<serials::PreviewRequest>(json!({"rule": {"code": "TCR", "template": "TC{YY}{MM}{DD}{LINE}{SEQ:5}", "time_zone": "+08:00"},
                "context": {"product": "TC", "line": "L1", "at": "2026-03-02T01:00:00Z"}, "count": 3}))),
        ("POST", "/api/v1/serial-rules/validate") => doc("Identifiers", "Check a serial against a rule", ok::<shapes::SerialCheck>(200))
            .body(body::<serials::ValidateRequest>(json!({"rule": {"code": "TCR", "template": "TC-{SEQ:5}"}, "serial": "TC-00042"}))),
        // Labels.
        ("GET", "/api/v1/label-templates") => doc("Labels", "List label templates", ok::<shapes::LabelTemplates>(200)),
        ("POST", "/api/v1/label-templates") => doc("Labels", "Create a label template", ok_eg::<LabelTemplateRecord>(201, json!({
                "name": "unit-50x30", "definition": label_template(), "version": 1,
                "updated_at": "2026-06-01T12:00:00Z", "updated_by": "token:erp"})))
            .body(body::<labels::NewTemplate>(json!({"name": "unit-50x30", "template": label_template()}))),
        ("POST", "/api/v1/label-templates/preview") => doc("Labels", "Preview a label", Success::File {
                media: &["image/png", "image/svg+xml"], description: "The label drawn with the given data." })
            .body(body::<labels::PreviewRequest>(json!({"name": "unit-50x30",
                "data": {"product_name": "Controller", "serial": "TC-00001", "gtin": "06901234567892"}, "format": "png"}))),
        ("GET", "/api/v1/label-templates/{name}") => doc("Labels", "Get a label template", ok::<LabelTemplateRecord>(200)),
        ("PUT", "/api/v1/label-templates/{name}") => doc("Labels", "Replace a label template", ok::<LabelTemplateRecord>(200))
            .says("The body is the template itself.")
            .if_match()
            .body(body::<threadline_labels::template::LabelTemplate>(label_template())),
        ("DELETE", "/api/v1/label-templates/{name}") => doc("Labels", "Delete a label template", Success::Empty),
        ("POST", "/api/v1/label-jobs") => doc("Labels", "Render a print job", Success::File {
                media: &["application/pdf", "application/zpl"], description: "The labels as PDF, or ZPL for a Zebra printer; `X-Label-Count` says how many." })
            .says("Labels for an allocation block (`allocation`: the allocation event's id), a commissioning batch (`commissioning`: the commissioning event's id), a lot (`copies` times) or a reprint of one unit. Once every label renders, the job is recorded: units never labelled get their first label (pool serials become `printed`), units labelled before are recorded as a reprint (business transaction `urn:threadline:btt:reprint`: who, which serials, when). Units voided, scrapped or consumed get no label; a reprint of one is refused.")
            .body(body::<labels::JobRequest>(json!({"template": "unit-50x30", "allocation": EVENT_ID, "format": "pdf"}))),
        ("POST", "/api/v1/label-jobs/print") => doc("Labels", "Send a print job to a printer", ok_eg::<shapes::Printed>(200, json!({
                "printer": "192.168.1.50:9100", "labels": 4, "bytes": 948})))
            .says("The job's labels as ZPL over raw TCP to `printer` (`host:port`, Zebra printers listen on 9100), recorded as `/api/v1/label-jobs` records them.")
            .body(body::<labels::JobRequest>(json!({"template": "unit-50x30", "allocation": EVENT_ID, "printer": "192.168.1.50:9100"}))),
        // Imports.
        ("POST", "/api/v1/imports/{kind}") => doc("Import", "Import master data, serials, lots or history from CSV or XLSX", ok_eg::<shapes::Imported>(200, json!({
                "kind": "serials", "rows": 2, "dry_run": true, "entries": [], "first_seq": null, "last_seq": null})))
            .also(201, "Committed: every row recorded.", json!({"kind": "serials", "rows": 2, "dry_run": false, "entries": receipts(52, 2), "first_seq": 52, "last_seq": 53}))
            .says("`kind`: `products`, `parties`, `locations` (master records), `serials` (legacy or supplier serials, each registered with its origin, status and location: the units' opening stock) `lots` (a quantity of a lot at a location: the lots' opening stock) or `events` (history from an old system: one unit or lot quantity per row at its own time, recorded in time order through the same rules as a capture). Headers in English or Chinese (see the template). `mode=dry_run` (default) checks every row and names each bad one (`rows[N].<header>`, N the spreadsheet row); `mode=commit` keeps all rows or none (201). The file is read a chunk at a time and recorded in one transaction: CSV up to 2 GiB (a million rows import in bounded memory), XLSX up to 32 MiB (read whole; 413 beyond). At most 1,000 refusals are listed, by row, then `too_many_errors` says how many more. A commit retried with the same `Idempotency-Key` and file answers the first commit (header `Idempotent-Replayed: true`) and records nothing; the key with another file is refused (`idempotency_key_reused`). A dry run ignores the key.")
            .idempotent()
            .query::<import::ImportParams>()
            .eg(&[("mode", "dry_run")])
            .body(Some(RequestBody::File { media: SPREADSHEETS, description: "The spreadsheet, as the raw body.", csv_example: Some(SERIALS_CSV) })),
        ("GET", "/api/v1/imports/{kind}/template") => doc("Import", "Download an import template", Success::File {
                media: SPREADSHEETS, description: "The header row to fill in." })
            .query::<import::TemplateParams>()
            .eg(&[("format", "xlsx")]),
        // Webhooks.
        ("GET", "/api/v1/webhooks") => doc("Webhooks", "List webhook subscriptions", ok::<shapes::Webhooks>(200)),
        ("POST", "/api/v1/webhooks") => doc("Webhooks", "Subscribe a URL to events", ok_eg::<threadline_store::webhook::Webhook>(201, webhook_example(true)))
            .says("Deliveries are signed with HMAC-SHA256 over id, timestamp and body (`json`), or sent as a DingTalk / WeCom robot message. Private and loopback addresses are refused unless the server allows them.")
            .body(body::<crate::webhook::WebhookRequest>(json!({"name": "erp", "url": "https://erp.example.com/threadline",
                "filter": {"topics": ["qc_failed"], "products": ["BOARD"], "locations": ["SZ"]}}))),
        ("GET", "/api/v1/webhooks/{name}") => doc("Webhooks", "Get a webhook subscription", ok_eg::<threadline_store::webhook::Webhook>(200, webhook_example(false))),
        ("PUT", "/api/v1/webhooks/{name}") => doc("Webhooks", "Replace a webhook subscription", ok::<threadline_store::webhook::Webhook>(200))
            .if_match()
            .body(body::<crate::webhook::WebhookRequest>(json!({"url": "https://erp.example.com/threadline/v2", "active": true}))),
        ("DELETE", "/api/v1/webhooks/{name}") => doc("Webhooks", "Delete a webhook subscription", Success::Empty),
        ("GET", "/api/v1/webhooks/{name}/deliveries") => doc("Webhooks", "A subscription's delivery log", ok::<shapes::Deliveries>(200))
            .query::<crate::webhook::DeliveriesParams>()
            .eg(&[("status", "dead"), ("limit", "50")]),
        ("GET", "/api/v1/webhook-deliveries/{id}") => doc("Webhooks", "A delivery with its attempts", ok::<shapes::DeliveryDetail>(200)),
        ("POST", "/api/v1/webhook-deliveries/{id}/redeliver") => doc("Webhooks", "Send a delivery again", ok::<threadline_store::webhook::Delivery>(200))
            .says("Queues a dead-lettered (or any) delivery for another attempt now."),
        _ => return None,
    };
    Some(d)
}

/// An operation's entry: its request example, and the answer's — the receipts of the `n`
/// events it records, from ledger position `first` of the examples' story.
fn op<T: crate::ops::Operation + JsonSchema>(
    summary: &'static str,
    example: Value,
    first: u64,
    n: u64,
) -> Doc {
    let answer = json!({"operation": T::NAME, "events": receipts(first, n)});
    doc("Operations", summary, ok_eg::<shapes::OperationResult>(201, answer))
        .says("Plans the events of the step, checks each against the process definition and the caller's permissions, and records them in one capture (201). Nothing to do answers 200 with no events. A retry with the same `Idempotency-Key` and body answers the first receipts.")
        .idempotent()
        .body(body::<T>(example))
}

fn item_example() -> Value {
    json!({"product": "TC", "serial": "TC-00001", "status": "in_stock", "location": "SZ-RMA", "custodian": null,
        "parent": null, "children": [{"product": "BOARD", "serial": "B-80"}], "lot": null, "attributes": {},
        "holds": [], "first_seen": "2026-05-18T00:00:00Z", "last_event_time": "2026-05-29T08:00:00Z", "event_count": 17})
}

/// A stored event of the examples' story, as the ledger answers it.
fn stored(seq: u64, event: Value) -> Value {
    let mut e = event;
    let r = receipt(seq);
    e["id"] = r["id"].clone();
    e["seq"] = json!(seq);
    e["hash"] = r["hash"].clone();
    e["hash_id"] = json!(format!(
        "ni:///sha-256;{}?ver=CBV2.0",
        receipt(seq + 1000)["hash"].as_str().unwrap_or_default()
    ));
    e["actor"] = json!("token:erp");
    e["record_time"] = e["event_time"].clone();
    e["event_time_zone_offset"] = json!("+08:00");
    e
}

fn passport_example() -> Value {
    let inspection = stored(
        29,
        json!({"type": "object", "action": "OBSERVE", "event_time": "2026-05-19T07:20:00Z",
        "biz_step": "inspecting", "disposition": "non_conformant", "biz_location": "SZ-QC", "items": [unit("TC-00001")],
        "hold": {"place": "qc"}, "fields": {"result": "fail", "inspector": "zhao", "equipment": "DMM-07",
            "defect_codes": ["D-OVERVOLT"], "note": "regulator output high at full load",
            "measurements": [{"name": "output_voltage", "value": 5.31, "unit": "V", "low": 4.75, "high": 5.25}]}}),
    );
    let repair = stored(
        47,
        json!({"type": "object", "action": "OBSERVE", "event_time": "2026-05-29T08:00:00Z",
        "biz_step": "repairing", "disposition": "sellable_not_accessible", "biz_location": "SZ-RMA", "items": [unit("TC-00001")],
        "biz_transactions": [{"type": "ro", "id": "RO-9"}],
        "fields": {"completed": true, "engineer": "chen", "fault": "regulator failed", "fault_code": "F-REG", "warranty": "in_warranty",
            "parts_replaced": [{"old": {"product": "BOARD", "serial": "B-78"}, "new": {"product": "BOARD", "serial": "B-80"}}]}}),
    );
    let mut allocation = stored(
        18,
        json!({"type": "object", "action": "ADD", "event_time": "2026-05-18T00:00:00Z",
        "biz_step": "encoding", "disposition": "encoded", "items": [unit("TC-00001")], "others": 4,
        "allocation": {"count": 5, "first": 1, "rule_version": 1, "scope": "TCR#3a801abd7f6a|always|product=TC"},
        "fields": {"line": "L1", "printer": "ZT410-01", "rule": "TCR"}}),
    );
    allocation["event_time_zone_offset"] = json!("+00:00");
    json!({
        "identity": {"product": "TC", "serial": "TC-00001", "product_name": "Controller", "gtin": "06901234567892",
            "digital_link": "https://id.gs1.org/01/06901234567892/21/TC-00001"},
        "state": item_example(),
        "warranty": {"months": 24, "start": "2026-05-25T03:30:00Z", "end": "2028-05-25T03:30:00Z", "status": "active"},
        "timeline": [
            allocation,
            stored(21, json!({"type": "object", "action": "ADD", "event_time": "2026-05-19T00:30:00Z", "biz_step": "commissioning",
                "disposition": "active", "biz_location": "SZ-L1", "read_point": "SZ-L1", "items": [unit("TC-00001")], "others": 1,
                "biz_transactions": [{"type": "prodorder", "id": "WO-2026-0301"}],
                "fields": {"operator": "li.wei", "revision": "C", "station": "ST-3"}})),
            inspection.clone(),
            stored(39, json!({"type": "object", "action": "OBSERVE", "event_time": "2026-05-21T01:00:00Z", "biz_step": "shipping",
                "disposition": "in_transit", "read_point": "SZ-FG-A02", "items": [{"product": "CASE", "serial": "006901234000000018"}],
                "via": {"product": "CASE", "serial": "006901234000000018"},
                "biz_transactions": [{"type": "so", "id": "SO-2026-1001"}],
                "sources": [{"type": "location", "id": "SZ-FG-A02"}],
                "destinations": [{"type": "owning_party", "id": "D1"}, {"type": "location", "id": "D1-GZ"}],
                "fields": {"carrier": "SF Express", "distributor": "D1", "ship_to_region": "CN-GD", "tracking_number": "SF1234567890"}})),
            stored(42, json!({"type": "object", "action": "OBSERVE", "event_time": "2026-05-25T03:30:00Z", "biz_step": "retail_selling",
                "disposition": "retail_sold", "items": [unit("TC-00001")], "destinations": [{"type": "owning_party", "id": "C9"}],
                "fields": {"invoice": "INV-2026-0088", "region": "CN-GD-SZ", "sold_by": "D1", "warranty_months": {"TC": 24},
                    "warranty_start": "2026-05-25T11:30:00+08:00"}})),
            repair.clone()],
        "qc": [inspection],
        "repairs": [
            stored(31, json!({"type": "aggregation", "action": "DELETE", "event_time": "2026-05-20T01:00:00Z", "biz_step": "removing",
                "biz_location": "SZ-L1", "parent": unit("TC-00001"), "children": [{"product": "BOARD", "serial": "B-77"}],
                "biz_transactions": [{"type": "ro", "id": "RW-2026-0520"}]})),
            stored(32, json!({"type": "aggregation", "action": "ADD", "event_time": "2026-05-20T01:00:00Z", "biz_step": "replacing",
                "biz_location": "SZ-L1", "parent": unit("TC-00001"), "children": [{"product": "BOARD", "serial": "B-78"}],
                "biz_transactions": [{"type": "ro", "id": "RW-2026-0520"}]})),
            repair],
    })
}

fn webhook_example(created: bool) -> Value {
    let mut w = json!({"id": "0196e035-9b1c-7e42-a5d3-6c8f0e2b4a17", "name": "erp", "url": "https://erp.example.com/threadline",
        "format": "json", "language": "zh-CN", "active": true,
        "filter": {"topics": ["qc_failed"], "products": ["BOARD"], "locations": ["SZ"], "biz_steps": []},
        "version": 1, "created_at": "2026-06-01T12:00:00Z", "updated_at": "2026-06-01T12:00:00Z", "updated_by": "token:erp"});
    if created {
        w["secret"] = json!("whsec_95PpHNdqPcB/yAEm/DEPG1yrC7j1JSF8");
    }
    w
}

fn label_template() -> Value {
    json!({"width_mm": 50, "height_mm": 30, "dpi": 300, "fields": [
        {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name} {serial}"},
        {"type": "barcode", "x_mm": 2, "y_mm": 6, "symbology": "gs1_datamatrix", "module_mm": 0.5,
         "data": "(01){gtin}(21){serial}"}
    ]})
}

/// Routes of `/api/v1` that [`describe`] says nothing about.
pub fn undocumented() -> Vec<String> {
    crate::routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && describe(&r.method, r.path).is_none())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// What a path parameter means, and an example, by the path it is in.
fn path_param(path: &str, name: &str) -> (&'static str, &'static str) {
    match name {
        "product" => ("Product code.", "TC"),
        "serial" => ("Serial number.", "TC-00001"),
        "lot" => ("Lot code.", "R1"),
        "id" if path.contains("webhook-deliveries") => ("Delivery id (UUID).", EVENT_ID),
        "id" => ("Event id (UUID).", EVENT_ID),
        "kind" if path.starts_with("/api/v1/imports") => (
            "`products`, `parties`, `locations`, `serials`, `lots` or `events`.",
            "serials",
        ),
        "kind" => ("`products`, `parties` or `locations`.", "products"),
        "code" if path.starts_with("/api/v1/recalls") => ("Recall code.", "RC-1"),
        "code" if path.starts_with("/api/v1/parties") => ("Party code.", "D1"),
        "code" if path.starts_with("/api/v1/locations") => ("Location code.", "SZ"),
        "code" if path.starts_with("/api/v1/products") => ("Product code.", "TC"),
        "code" => ("Record code.", "TC"),
        "name" if path.starts_with("/api/v1/users") => ("User name.", "zhao"),
        "name" if path.starts_with("/api/v1/tokens") => ("Token name.", "erp"),
        "name" if path.starts_with("/api/v1/roles") => (
            "Role name: a shipped role or a custom one.",
            "line-inspector",
        ),
        "name" if path.starts_with("/api/v1/label-templates") => ("Template name.", "unit-50x30"),
        "name" => ("Webhook name.", "erp"),
        _ => ("", ""),
    }
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let (description, example) = path_param(path, name);
            json!({"name": name, "in": "path", "required": true, "description": description,
                   "schema": {"type": "string"}, "example": example})
        })
        .collect()
}

fn query_params(g: &mut SchemaGenerator, d: &Doc) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(f) = d.query {
        let s = f(g);
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (name, schema) in props {
                let mut schema = schema.clone();
                let description = schema
                    .as_object_mut()
                    .and_then(|o| o.remove("description"))
                    .unwrap_or(Value::String(String::new()));
                let mut p = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()),
                                   "description": description, "schema": schema});
                if let Some((_, e)) = d.query_examples.iter().find(|(n, _)| n == name) {
                    p["example"] = json!(e);
                }
                out.push(p);
            }
        }
    }
    for (name, description, values) in d.extra_query {
        out.push(
            json!({"name": name, "in": "query", "required": false, "description": description,
                        "schema": {"type": "string", "enum": values}}),
        );
    }
    out
}

fn security(guard: Guard) -> (Value, String) {
    match guard {
        Guard::Public => (json!([]), "Public.".to_owned()),
        Guard::SignedIn => (
            json!([{"bearer": []}, {"session": []}]),
            "Any signed-in caller.".to_owned(),
        ),
        Guard::Needs(p) => (
            json!([{"bearer": []}, {"session": []}]),
            format!("Needs the permission `{}`.", p.as_str()),
        ),
        Guard::Capture => (
            json!([{"bearer": []}, {"session": []}]),
            "Needs, for each event, the permission of its business step.".to_owned(),
        ),
    }
}

fn media(types: &[&str], description: &str) -> Value {
    let content: serde_json::Map<String, Value> = types
        .iter()
        .map(|t| {
            (
                (*t).to_owned(),
                json!({"schema": {"type": "string", "contentMediaType": t}}),
            )
        })
        .collect();
    json!({"description": description, "content": content})
}

fn operation(g: &mut SchemaGenerator, method: &Method, path: &str, guard: Guard, d: Doc) -> Value {
    let (security, who) = security(guard);
    let mut params = path_params(path);
    params.extend(query_params(g, &d));
    if d.idempotent {
        params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Any 1–255 characters; a retry with the same key and body answers the first result.",
            "schema": {"type": "string", "maxLength": 255}, "example": "erp-4711"}));
    }
    if d.if_match {
        params.push(json!({"name": "If-Match", "in": "header", "required": true,
            "description": "The version being replaced, from the `ETag` of the record.",
            "schema": {"type": "string"}, "example": "\"1\""}));
    }
    let description = if d.description.is_empty() {
        who
    } else {
        format!("{}\n\n{who}", d.description)
    };
    let operation_id = format!(
        "{}{}",
        method.as_str().to_ascii_lowercase(),
        path.trim_start_matches("/api/v1")
            .split(['/', '-', '{', '}', '.'])
            .filter(|s| !s.is_empty())
            .map(|s| {
                let mut c = s.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<String>()
    );
    let mut op = json!({
        "operationId": operation_id,
        "tags": [d.tag],
        "summary": d.summary,
        "description": description,
        "parameters": params.clone(),
        "security": security,
        "x-permission": match guard {
            Guard::Needs(p) => json!(p.as_str()),
            Guard::Capture => json!("per event"),
            Guard::SignedIn => json!("signed in"),
            Guard::Public => json!("public"),
        },
    });
    let has_body = d.body.is_some();
    match d.body {
        Some(RequestBody::Json(b)) => {
            let schema = (b.schema)(g);
            let mut content = json!({"schema": schema});
            match <[Example; 1]>::try_from(b.examples) {
                Ok([one]) => content["example"] = one.value,
                Err(several) => content["examples"] = examples(several),
            }
            op["requestBody"] = json!({"required": true, "content": {"application/json": content}});
        }
        Some(RequestBody::File {
            media: types,
            description,
            csv_example,
        }) => {
            op["requestBody"] = media(types, description);
            op["requestBody"]["required"] = json!(true);
            if let Some(csv) = csv_example {
                op["requestBody"]["content"]["text/csv"]["example"] = json!(csv);
            }
        }
        None => {}
    }
    let mut responses = serde_json::Map::new();
    match d.success {
        Success::Json {
            status,
            schema,
            example,
        } => {
            let mut content = json!({"schema": schema(g)});
            if let Some(e) = example {
                content["example"] = e;
            }
            let mut response = json!({"description": if status == 201 { "Created." } else { "OK." },
                                      "content": {"application/json": content}});
            // A list that takes `format` also answers as a streamed spreadsheet.
            if params
                .iter()
                .any(|p| p["name"] == "format" && p["in"] == "query")
            {
                for (media, file) in media(SPREADSHEETS, "")["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    response["content"][media] = file.clone();
                }
                response["description"] = json!("OK: JSON, or the spreadsheet `format` asks for.");
            }
            if let Some((status, description, example)) = d.also {
                let mut other = response.clone();
                other["description"] = json!(description);
                other["content"]["application/json"]["example"] = example;
                responses.insert(status.to_string(), other);
            }
            responses.insert(status.to_string(), response);
        }
        Success::File {
            media: types,
            description,
        } => {
            responses.insert("200".into(), media(types, description));
        }
        Success::Empty => {
            responses.insert("204".into(), json!({"description": "Done; no body."}));
        }
    }
    let mut errors = vec![];
    if has_body || !path_params(path).is_empty() || d.query.is_some() {
        errors.push("400");
    }
    if guard != Guard::Public {
        errors.extend(["401", "403"]);
    }
    if !path_params(path).is_empty() {
        errors.push("404");
    }
    if method == Method::POST && has_body || method == Method::PUT {
        errors.extend(["409", "422"]);
    }
    if d.if_match {
        errors.push("428");
    }
    for e in errors {
        responses.insert(
            e.into(),
            json!({"$ref": format!("#/components/responses/{e}")}),
        );
    }
    // A refusal of this operation's own replaces the shared response of its status.
    for r in d.refusals {
        let status = r.status.to_string();
        let entry = responses.entry(status.clone()).or_insert(Value::Null);
        if entry.get("content").is_none() {
            *entry = json!({"description": refusal_description(&status), "content": {"application/json": {
                "schema": g.subschema_for::<shapes::Problem>(), "examples": {}}}});
        }
        let name = r.answer["error"]["code"]
            .as_str()
            .unwrap_or("refused")
            .to_owned();
        entry["content"]["application/json"]["examples"][name] =
            json!({"summary": r.summary, "x-request": r.request, "value": r.answer});
    }
    op["responses"] = Value::Object(responses);
    op
}

fn examples(list: Vec<Example>) -> Value {
    Value::Object(
        list.into_iter()
            .map(|e| {
                (
                    e.name.to_owned(),
                    json!({"summary": e.summary, "value": e.value}),
                )
            })
            .collect(),
    )
}

/// What a refusal status means (the shared responses say the same).
fn refusal_description(status: &str) -> &'static str {
    match status {
        "400" => {
            "The request cannot be read: bad JSON, a wrong type, an unknown or missing field (named in `field`)."
        }
        "404" => "No such record.",
        "409" => "It exists already, or the version changed since it was read.",
        "422" => "Readable, but breaks a rule (every violation listed).",
        _ => "Refused.",
    }
}

fn problem_response(g: &mut SchemaGenerator, description: &str, example: Value) -> Value {
    json!({"description": description, "content": {"application/json": {
        "schema": g.subschema_for::<shapes::Problem>(), "example": example}}})
}

fn problem(code: &str, message: &str, field: Option<&str>) -> Value {
    let e = json!({"code": code, "message": message, "field": field});
    json!({"error": e, "errors": [e]})
}

/// The whole document.
pub fn document() -> Value {
    let mut g = SchemaGenerator::new(SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
    }));
    let mut paths: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    for r in crate::routes() {
        if !r.path.starts_with("/api/v1/") {
            continue;
        }
        let Some(d) = describe(&r.method, r.path) else {
            continue;
        };
        let op = operation(&mut g, &r.method, r.path, r.guard, d);
        paths
            .entry(r.path)
            .or_default()
            .insert(r.method.as_str().to_ascii_lowercase(), op);
    }
    let responses = json!({
        "400": problem_response(&mut g, refusal_description("400"),
            problem("missing_field", "missing field `reason`", Some("reason"))),
        "401": problem_response(&mut g, "No credentials, or credentials that do not hold.",
            problem("unauthenticated", "send a bearer token or sign in", None)),
        "403": problem_response(&mut g, "Signed in, but lacking the permission (or the CSRF token).",
            problem("forbidden", "this needs the permission configure, which token:erp lacks", None)),
        "404": problem_response(&mut g, refusal_description("404"),
            problem("not_found", "product TC does not exist", None)),
        "409": problem_response(&mut g, refusal_description("409"),
            problem("already_exists", "product TC exists already", Some("code"))),
        "422": problem_response(&mut g, refusal_description("422"),
            problem("on_hold", "TC/TC-00001 is on a QC hold and cannot be shipped", Some("lines[0].serials[0]"))),
        "428": problem_response(&mut g, "`If-Match` is missing.",
            problem("version_required", "send If-Match with the version you are changing (the ETag of the record)", Some("If-Match"))),
    });
    let mut tags: Vec<&str> = Vec::new();
    for r in crate::routes() {
        if let Some(d) = describe(&r.method, r.path)
            && !tags.contains(&d.tag)
        {
            tags.push(d.tag);
        }
    }
    // In the order an integrator meets them; a tag not listed goes last.
    tags.sort_by_key(|t| TAGS.iter().position(|x| x == t).unwrap_or(TAGS.len()));
    let schemas = g.take_definitions(true);
    // Answers without a written example get one drawn from their schema (see `sample`).
    let lookup = Value::Object(schemas.clone());
    for item in paths.values_mut() {
        for op in item.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, r) in responses.iter_mut() {
                if !status.starts_with('2') {
                    continue;
                }
                if let Some(content) = r.pointer_mut("/content/application~1json")
                    && content.get("example").is_none()
                    && let Some(schema) = content.get("schema").cloned()
                {
                    content["example"] = sample::of(&schema, &lookup);
                }
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Threadline API",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Serial-number and lot traceability: capture, operations, trace, recalls, labels, imports and webhooks.",
            "description": "The EPCIS 2.0 REST binding is served under `/epcis` (capture, events, queries, top-level resources) as the GS1 standard describes it in its own OpenAPI document, not repeated here: https://github.com/gs1/EPCIS/blob/master/REST%20Bindings/openapi.json (GS1's EPCIS 2.0.0 REST bindings); `GET /epcis` lists the top-level resources this server offers of it (every answer carries `GS1-EPCIS-Version`).\n\nEvery refusal answers `{\"error\": {code, message, field}, \"errors\": [...]}`: `field` names the input at fault (`events[3].event_time`, `rows[12].GTIN`). Writes that a client may retry take `Idempotency-Key`. Record changes take `If-Match` with the version from `ETag`. Machines authenticate with `Authorization: Bearer <token>`; browsers with the session cookie and `X-CSRF-Token` on writes.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "externalDocs": {
            "description": "EPCIS 2.0 REST binding (served under /epcis): the GS1 standard's OpenAPI document",
            "url": "https://github.com/gs1/EPCIS/blob/master/REST%20Bindings/openapi.json",
        },
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`tlt_…`) from `POST /api/v1/tokens`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "threadline_session",
                            "description": "The browser session from `POST /api/v1/session`; writes also need `X-CSRF-Token`."},
            },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Response {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(document()),
    )
        .into_response()
}

/// Examples drawn from a JSON Schema, for answers no example was written for: every property
/// of an object (required or not), one item of an array, the first of an enum or a union that
/// is not null, a value shaped by the string's format, and, for the words the API uses
/// everywhere (`product`, `serial`, `lot`, `location`…), the value an integrator would see. It
/// follows `$ref`s into the document's schemas, to a bounded depth (types may nest themselves).
mod sample {
    use serde_json::{Map, Value, json};

    const DEPTH: usize = 8;

    pub fn of(schema: &Value, schemas: &Value) -> Value {
        value(schema, schemas, "", 0)
    }

    fn resolve<'a>(schema: &'a Value, schemas: &'a Value) -> &'a Value {
        let mut s = schema;
        for _ in 0..DEPTH {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => match r
                    .strip_prefix("#/components/schemas/")
                    .and_then(|n| schemas.get(n))
                {
                    Some(next) => s = next,
                    None => break,
                },
                None => break,
            }
        }
        s
    }

    fn value(schema: &Value, schemas: &Value, name: &str, depth: usize) -> Value {
        let s = resolve(schema, schemas);
        if let Some(e) = s.get("example").or_else(|| s.get("default")) {
            return e.clone();
        }
        if let Some(c) = s.get("const") {
            return c.clone();
        }
        if let Some(first) = s
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.iter().find(|v| !v.is_null()))
        {
            return first.clone();
        }
        for union in ["oneOf", "anyOf"] {
            if let Some(variants) = s.get(union).and_then(Value::as_array) {
                let chosen = variants
                    .iter()
                    .find(|v| resolve(v, schemas).get("type") != Some(&json!("null")));
                if let Some(v) = chosen {
                    return value(v, schemas, name, depth + 1);
                }
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for part in all {
                if let Value::Object(o) = value(part, schemas, name, depth + 1) {
                    merged.extend(o);
                }
            }
            return Value::Object(merged);
        }
        let ty = match s.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if s.get("properties").is_some() => "object",
            _ => "any",
        };
        match ty {
            "object" => {
                let mut out = Map::new();
                if depth < DEPTH
                    && let Some(props) = s.get("properties").and_then(Value::as_object)
                {
                    for (k, v) in props {
                        out.insert(k.clone(), value(v, schemas, k, depth + 1));
                    }
                }
                Value::Object(out)
            }
            "array" => {
                if depth >= DEPTH {
                    return json!([]);
                }
                match s.get("items") {
                    Some(items) if items.is_object() => {
                        json!([value(items, schemas, singular(name), depth + 1)])
                    }
                    _ => json!([]),
                }
            }
            "string" => string(s.get("format").and_then(Value::as_str), name),
            "integer" => json!(integer(name)),
            "number" => json!(12.5),
            "boolean" => json!(false),
            "null" => Value::Null,
            _ => json!({}),
        }
    }

    fn singular(name: &str) -> &str {
        match name {
            "items" | "units" => "item",
            "lots" => "lot",
            n => n.strip_suffix('s').unwrap_or(n),
        }
    }

    fn integer(name: &str) -> i64 {
        match name {
            "seq" | "entries" => 1042,
            "version" => 1,
            "limit" => 100,
            "status" | "last_status" => 200,
            "duration_ms" => 84,
            "warranty_months" => 24,
            _ => 3,
        }
    }

    fn string(format: Option<&str>, name: &str) -> Value {
        let v = match format {
            Some("uuid") => super::EVENT_ID,
            Some("date-time") => "2026-05-26T10:00:00+08:00",
            Some("date") => "2026-05-26",
            Some("uri") => "https://erp.example.com/threadline",
            _ => match name {
                "product" => "TC",
                "serial" | "item" => "TC-00001",
                "lot" => "R1",
                "gtin" => "06901234567892",
                "location" | "biz_location" | "read_point" | "site" | "from" | "to" => "SZ-WH-A01",
                "party" | "custodian" | "owner" | "distributor" | "seller" | "customer" => {
                    "DIST-GD"
                }
                "supplier" => "SUP-RESIN",
                "region" => "CN-GD",
                "code" => "TC-200",
                "name" | "user" | "actor" | "updated_by" | "created_by" | "closed_by" => "li.na",
                "hash" | "prev_hash" => {
                    "9f2c4e0b7a1d3c5e8f6a2b4d0c9e7f1a3b5d7c9e2f4a6b8d0e1c3f5a7b9d2e4f"
                }
                "url" => "https://erp.example.com/threadline",
                "message" => "TC/TC-00001 is a genuine unit",
                "reason" => "cold solder joint",
                "work_order" => "WO-2026-0301",
                "biz_step" | "step" | "operation" => "shipping",
                "disposition" => "in_transit",
                "language" => "zh-CN",
                "time_zone" => "+08:00",
                "uom" => "EA",
                "quantity" => "12.5",
                "secret" => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "csrf_token" => "3b1f0c9e5a7d2e4f6a8b0c1d3e5f7a9b",
                "verdict" => "genuine",
                "kind" => "products",
                _ => return json!(format!("{}-1", name.replace('_', "-"))),
            },
        };
        json!(v)
    }
}
