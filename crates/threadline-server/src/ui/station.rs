//! The scan station (`/scan`): a clerk picks an operation and its context, then scans. A
//! keyboard-wedge scanner types the code and Enter into one input that keeps focus; every scan
//! is judged at once by [`check`] (the scan parser, the unit's state and the process definition)
//! and listed green or red with the reason. The batch is submitted to the operation's own
//! `/api/v1/ops/…` endpoint with an `Idempotency-Key`, so a queue kept in the browser while the
//! Wi-Fi is down is sent exactly once when it returns.
//!
//! The verdict at the scan is advice for the person holding the scanner; the operation's
//! capture decides, with the same rules, when the batch is submitted.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use threadline_domain::access::Permission;
use threadline_domain::codes::ItemKey;
use threadline_domain::error::FieldError;
use threadline_domain::event::HoldKind;
use threadline_domain::process::{Operation, Process};
use threadline_domain::projection::ItemStatus;
use threadline_domain::{ProductCode, Serial};
use threadline_gs1::scan::{Scan, parse_scan};
use threadline_store::{ListQuery, Store};

use super::{PageParams, esc, lang_of, lang_param, page_with};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{Lang, Msg, t};
use crate::site::{Shown, SiteScope};

/// An operation the station offers: its name in `/api/v1/ops/{name}`, the permission it needs,
/// and the context fields it asks for (the first of each pair is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationOp {
    Receive,
    Commission,
    Assemble,
    Inspect,
    Move,
    Ship,
    Return,
    Repair,
    Scrap,
}

impl StationOp {
    pub const ALL: [StationOp; 9] = [
        StationOp::Receive,
        StationOp::Commission,
        StationOp::Assemble,
        StationOp::Inspect,
        StationOp::Move,
        StationOp::Ship,
        StationOp::Return,
        StationOp::Repair,
        StationOp::Scrap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StationOp::Receive => "receive",
            StationOp::Commission => "commission",
            StationOp::Assemble => "assemble",
            StationOp::Inspect => "inspect",
            StationOp::Move => "move",
            StationOp::Ship => "ship",
            StationOp::Return => "return",
            StationOp::Repair => "repair",
            StationOp::Scrap => "scrap",
        }
    }

    pub fn parse(s: &str) -> Option<StationOp> {
        StationOp::ALL.into_iter().find(|o| o.name() == s)
    }

    pub fn permission(self) -> Permission {
        match self {
            StationOp::Receive => Permission::Receive,
            StationOp::Commission => Permission::Commission,
            StationOp::Assemble => Permission::Assemble,
            StationOp::Inspect => Permission::Inspect,
            StationOp::Move => Permission::Move,
            StationOp::Ship => Permission::Ship,
            StationOp::Return => Permission::Return,
            StationOp::Repair => Permission::Repair,
            StationOp::Scrap => Permission::Scrap,
        }
    }

    /// The step of the process definition it performs.
    fn process_operation(self) -> Operation {
        match self {
            StationOp::Receive => Operation::Receive,
            StationOp::Commission => Operation::Commission,
            StationOp::Assemble => Operation::Assemble,
            StationOp::Inspect => Operation::Inspect,
            StationOp::Move => Operation::Store,
            StationOp::Ship => Operation::Ship,
            StationOp::Return => Operation::Return,
            StationOp::Repair => Operation::Repair,
            StationOp::Scrap => Operation::Scrap,
        }
    }

    /// Operations whose scans are serials new to Threadline (of the product in the context).
    fn registers(self) -> bool {
        matches!(self, StationOp::Receive | StationOp::Commission)
    }

    /// The operation's one name, as the passport and the process rules also call it.
    fn label(self, lang: Lang) -> &'static str {
        crate::i18n::operation(lang, self.process_operation())
    }
}

/// How a context field is entered.
#[derive(Debug, Clone, Copy)]
enum Input {
    Text,
    /// A location code, offered from the location list.
    Location,
    /// A party code, offered from the party list.
    Party,
    /// A product code, offered from the product list.
    Product,
    Number,
    Choice(&'static [(&'static str, Msg)]),
    Check,
}

/// One context field of the station: the operation body's key, its label, how it is entered,
/// and which operations ask for it (required or optional).
struct Field {
    key: &'static str,
    label: Msg,
    input: Input,
    required: &'static [&'static str],
    optional: &'static [&'static str],
}

const FIELDS: &[Field] = &[
    Field {
        key: "product",
        label: Msg::Product,
        input: Input::Product,
        required: &["receive", "commission"],
        optional: &[],
    },
    Field {
        key: "supplier",
        label: Msg::FieldSupplier,
        input: Input::Party,
        required: &["receive"],
        optional: &[],
    },
    Field {
        key: "purchase_order",
        label: Msg::FieldPurchaseOrder,
        input: Input::Text,
        required: &["receive"],
        optional: &[],
    },
    Field {
        key: "work_order",
        label: Msg::FieldWorkOrder,
        input: Input::Text,
        required: &["commission"],
        optional: &["assemble"],
    },
    Field {
        key: "line",
        label: Msg::FieldLine,
        input: Input::Location,
        required: &["commission"],
        optional: &[],
    },
    Field {
        key: "parent",
        label: Msg::FieldParent,
        input: Input::Text,
        required: &["assemble"],
        optional: &[],
    },
    Field {
        key: "sales_order",
        label: Msg::FieldSalesOrder,
        input: Input::Text,
        required: &["ship"],
        optional: &[],
    },
    Field {
        key: "rma",
        label: Msg::FieldRma,
        input: Input::Text,
        required: &["return"],
        optional: &[],
    },
    Field {
        key: "repair_order",
        label: Msg::FieldRepairOrder,
        input: Input::Text,
        required: &["repair"],
        optional: &[],
    },
    Field {
        key: "result",
        label: Msg::FieldResult,
        input: Input::Choice(&[
            ("pass", Msg::ResultPass),
            ("fail", Msg::ResultFail),
            ("conditional", Msg::ResultConditional),
        ]),
        required: &["inspect"],
        optional: &[],
    },
    Field {
        key: "inspector",
        label: Msg::FieldInspector,
        input: Input::Text,
        required: &["inspect"],
        optional: &["receive"],
    },
    Field {
        key: "engineer",
        label: Msg::FieldEngineer,
        input: Input::Text,
        required: &["repair"],
        optional: &[],
    },
    Field {
        key: "fault",
        label: Msg::FieldFault,
        input: Input::Text,
        required: &["repair"],
        optional: &[],
    },
    Field {
        key: "reason",
        label: Msg::FieldReason,
        input: Input::Text,
        required: &["return", "scrap"],
        optional: &[],
    },
    Field {
        key: "condition",
        label: Msg::FieldCondition,
        input: Input::Text,
        required: &["return"],
        optional: &[],
    },
    Field {
        key: "outcome",
        label: Msg::FieldOutcome,
        input: Input::Choice(&[
            ("quarantine", Msg::OutcomeQuarantine),
            ("restock", Msg::OutcomeRestock),
            ("repair", Msg::OutcomeRepair),
        ]),
        required: &["return"],
        optional: &[],
    },
    Field {
        key: "from",
        label: Msg::FieldFrom,
        input: Input::Location,
        required: &["ship"],
        optional: &["move"],
    },
    Field {
        key: "to",
        label: Msg::FieldTo,
        input: Input::Location,
        required: &["move"],
        optional: &[],
    },
    Field {
        key: "location",
        label: Msg::Location,
        input: Input::Location,
        required: &["receive", "return", "repair"],
        optional: &["assemble", "inspect", "scrap"],
    },
    Field {
        key: "customer",
        label: Msg::FieldCustomer,
        input: Input::Party,
        required: &[],
        optional: &["ship", "return"],
    },
    Field {
        key: "distributor",
        label: Msg::FieldDistributor,
        input: Input::Party,
        required: &[],
        optional: &["ship"],
    },
    Field {
        key: "ship_to_region",
        label: Msg::FieldRegion,
        input: Input::Text,
        required: &[],
        optional: &["ship"],
    },
    Field {
        key: "tracking_number",
        label: Msg::FieldTracking,
        input: Input::Text,
        required: &[],
        optional: &["ship"],
    },
    Field {
        key: "station",
        label: Msg::FieldStation,
        input: Input::Text,
        required: &[],
        optional: &["commission"],
    },
    Field {
        key: "operator",
        label: Msg::FieldOperator,
        input: Input::Text,
        required: &[],
        optional: &["commission", "move"],
    },
    Field {
        key: "defect_codes",
        label: Msg::FieldDefectCodes,
        input: Input::Text,
        required: &[],
        optional: &["inspect"],
    },
    Field {
        key: "note",
        label: Msg::FieldNote,
        input: Input::Text,
        required: &[],
        optional: &["inspect"],
    },
    Field {
        key: "put_away",
        label: Msg::FieldPutAway,
        input: Input::Check,
        required: &[],
        optional: &["move"],
    },
    Field {
        key: "completed",
        label: Msg::FieldCompleted,
        input: Input::Check,
        required: &[],
        optional: &["repair"],
    },
    Field {
        key: "expected",
        label: Msg::FieldExpected,
        input: Input::Number,
        required: &[],
        optional: &[
            "receive",
            "commission",
            "assemble",
            "inspect",
            "move",
            "ship",
            "return",
            "repair",
            "scrap",
        ],
    },
];

/// The reasons a scan is refused at the station, each with its message key.
const REASONS: &[(&str, Msg)] = &[
    ("accepted", Msg::ScanAccepted),
    ("duplicate", Msg::ScanDuplicate),
    ("unreadable", Msg::ScanUnreadable),
    ("not_registered", Msg::ScanNotRegistered),
    ("already_registered", Msg::ScanAlreadyRegistered),
    ("wrong_product", Msg::ScanWrongProduct),
    ("wrong_state", Msg::ScanWrongState),
    ("on_hold", Msg::ScanOnHold),
    ("not_a_unit", Msg::ScanNotAUnit),
    ("ambiguous", Msg::ScanAmbiguous),
    ("choose_product", Msg::ScanChooseProduct),
    ("unchecked", Msg::ScanUnchecked),
    ("offline", Msg::Offline),
    ("online", Msg::Online),
    ("queued", Msg::Queued),
    ("submitted", Msg::Submitted),
    ("refused", Msg::SubmitRefused),
    ("missing", Msg::FieldMissing),
    ("nothing", Msg::NothingToSubmit),
    ("undone", Msg::Undone),
    ("signed-out", Msg::StationSignedOut),
    ("server-error", Msg::StationServerError),
    ("camera-start", Msg::CameraStart),
    ("camera-stop", Msg::CameraStop),
    ("camera-failed", Msg::CameraFailed),
];

/// The codes of a kind of master record offered as a field's choices: of the locations, for
/// an account of one site, its site's and the external ones ([`crate::site::Shown`]).
async fn codes_of(store: &dyn Store, site: Option<&SiteScope>, kind: &str) -> Vec<String> {
    let q = ListQuery {
        limit: 500,
        ..Default::default()
    };
    let r = match kind {
        "location" => store.locations(&q).await.map(|p| {
            p.items
                .into_iter()
                .filter(|v| site.is_none_or(|s| v.def.shown_to(s)))
                .map(|v| v.def.code.to_string())
                .collect()
        }),
        "party" => store.parties(&q).await.map(|p| {
            p.items
                .into_iter()
                .map(|v| v.def.code.to_string())
                .collect()
        }),
        _ => store.products(&q).await.map(|p| {
            p.items
                .into_iter()
                .map(|v| v.def.code.to_string())
                .collect()
        }),
    };
    r.unwrap_or_default()
}

fn datalist(id: &str, codes: &[String]) -> String {
    let options: String = codes
        .iter()
        .map(|c| format!("<option value=\"{}\">", esc(c)))
        .collect();
    format!("<datalist id=\"{id}\">{options}</datalist>")
}

/// `GET /scan`: the station. Only the operations the actor may perform are offered.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    Query(p): Query<PageParams>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of(&p, &headers);
    let ops: Vec<StationOp> = StationOp::ALL
        .into_iter()
        .filter(|o| actor.permissions.contains(o.permission()))
        .collect();
    if ops.is_empty() {
        // Readers may open the page; it offers them nothing to do.
        let body = format!(
            "<section class=\"card\"><h1>{}</h1><p>{}</p></section>",
            t(lang, Msg::ScanStation),
            t(lang, Msg::NoOperationPermitted)
        );
        return page_with(
            lang,
            t(lang, Msg::ScanStation),
            Some(&actor),
            &body,
            &[],
            Some(&uri),
        )
        .into_response();
    }
    let options: String = ops
        .iter()
        .map(|o| format!("<option value=\"{}\">{}</option>", o.name(), o.label(lang)))
        .collect();
    let mut fields = String::new();
    for f in FIELDS {
        let offered: Vec<&str> = f
            .required
            .iter()
            .chain(f.optional)
            .copied()
            .filter(|name| ops.iter().any(|o| o.name() == *name))
            .collect();
        if offered.is_empty() {
            continue;
        }
        let id = format!("f-{}", f.key);
        let control = match f.input {
            Input::Choice(choices) => {
                let opts: String = choices
                    .iter()
                    .map(|(v, m)| format!("<option value=\"{v}\">{}</option>", t(lang, *m)))
                    .collect();
                format!("<select id=\"{id}\" name=\"{}\">{opts}</select>", f.key)
            }
            Input::Check => format!(
                "<input id=\"{id}\" name=\"{}\" type=\"checkbox\" value=\"true\">",
                f.key
            ),
            Input::Number => format!(
                "<input id=\"{id}\" name=\"{}\" type=\"number\" min=\"0\" inputmode=\"numeric\">",
                f.key
            ),
            Input::Location => format!(
                "<input id=\"{id}\" name=\"{}\" list=\"dl-location\" autocomplete=\"off\">",
                f.key
            ),
            Input::Party => format!(
                "<input id=\"{id}\" name=\"{}\" list=\"dl-party\" autocomplete=\"off\">",
                f.key
            ),
            Input::Product => format!(
                "<input id=\"{id}\" name=\"{}\" list=\"dl-product\" autocomplete=\"off\">",
                f.key
            ),
            Input::Text => format!(
                "<input id=\"{id}\" name=\"{}\" autocomplete=\"off\">",
                f.key
            ),
        };
        fields.push_str(&format!(
            "<div class=\"field\" data-required=\"{req}\" data-optional=\"{opt}\"><label for=\"{id}\">{label}<span class=\"req\" aria-hidden=\"true\"> *</span></label>{control}</div>",
            req = f.required.join(" "),
            opt = f.optional.join(" "),
            label = t(lang, f.label),
        ));
    }
    let messages: String = REASONS
        .iter()
        .map(|(code, m)| format!(" data-{code}=\"{}\"", esc(t(lang, *m))))
        .chain(ItemStatus::ALL.iter().map(|s| {
            format!(
                " data-status-{}=\"{}\"",
                s.as_str(),
                esc(crate::i18n::status(lang, *s))
            )
        }))
        .chain(crate::i18n::ERRORS.iter().map(|(code, zh, en)| {
            let text = if lang == Lang::Zh { zh } else { en };
            format!(" data-err-{code}=\"{}\"", esc(text))
        }))
        .collect();
    // A page without the places is still a station: the field takes any code typed.
    let site = crate::site::SiteScope::of(&*app.store, &actor)
        .await
        .ok()
        .flatten();
    let lists = format!(
        "{}{}{}",
        datalist(
            "dl-location",
            &codes_of(&*app.store, site.as_ref(), "location").await
        ),
        datalist("dl-party", &codes_of(&*app.store, None, "party").await),
        datalist("dl-product", &codes_of(&*app.store, None, "product").await),
    );
    let body = format!(
        "<div id=\"station\" class=\"station\" data-lang=\"{l}\">\
         <div id=\"messages\" hidden{messages}></div>{lists}\
         <section class=\"card\"><h1>{title}</h1><div class=\"status-line\"><span id=\"net\" class=\"pill ok\" role=\"status\">{online}</span>\
         <span id=\"queue\" class=\"pill\" hidden></span></div>\
         <label for=\"op\">{l_op}</label><select id=\"op\" name=\"op\" form=\"context\">{options}</select>\
         <label for=\"scan\" class=\"big\">{l_scan}</label>\
         <input id=\"scan\" class=\"scan-input\" autocomplete=\"off\" autocapitalize=\"off\" spellcheck=\"false\" enterkeyhint=\"enter\" autofocus>\
         <button type=\"button\" id=\"camera\" class=\"secondary\" aria-controls=\"camera-panel\" aria-pressed=\"false\" hidden>{l_camera}</button>\
         <div id=\"camera-panel\" class=\"camera\" hidden><video id=\"camera-video\" muted playsinline aria-label=\"{l_camera}\"></video></div>\
         <p class=\"hint\">{hint}</p>\
         <div class=\"counter\"><span id=\"count\" class=\"count\">0</span><span id=\"expected\" class=\"muted\"></span> <span class=\"muted\">{l_acc}</span> · <span id=\"errors\" class=\"bad\">0</span> <span class=\"muted\">{l_err}</span></div>\
         <div class=\"actions\"><button type=\"button\" id=\"undo\" class=\"secondary\">{l_undo}</button><button type=\"button\" id=\"clear\" class=\"secondary\">{l_clear}</button><button type=\"button\" id=\"submit\">{l_submit}</button></div>\
         <p id=\"result\" class=\"result\" role=\"status\" aria-live=\"polite\"></p>\
         <ol id=\"scans\" class=\"scans\" reversed aria-live=\"polite\"></ol></section>\
         <section class=\"card\"><h2>{l_ctx}</h2><form id=\"context\" class=\"grid\" autocomplete=\"off\">{fields}</form></section></div>",
        l = lang_param(lang),
        title = t(lang, Msg::ScanStation),
        online = t(lang, Msg::Online),
        l_op = t(lang, Msg::Operation),
        l_scan = t(lang, Msg::ScanOrType),
        hint = t(lang, Msg::StationHint),
        l_acc = t(lang, Msg::Accepted),
        l_err = t(lang, Msg::Refused),
        l_undo = t(lang, Msg::UndoLast),
        l_clear = t(lang, Msg::ClearList),
        l_submit = t(lang, Msg::SubmitBatch),
        l_ctx = t(lang, Msg::OperationDetails),
        l_camera = t(lang, Msg::CameraStart),
    );
    page_with(
        lang,
        t(lang, Msg::ScanStation),
        Some(&actor),
        &body,
        &["/assets/station.js"],
        Some(&uri),
    )
    .into_response()
}

/// `GET /assets/station.js`: the scan loop, served from this origin so the content security
/// policy allows no inline script.
pub async fn script() -> Response {
    super::script_asset(include_str!("station.js"))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    operation: String,
    code: String,
    /// The product of the context: what a plain serial belongs to when it is new.
    #[serde(default)]
    product: Option<String>,
}

/// The verdict on one scan.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub accepted: bool,
    /// `accepted`, or why not: `unreadable`, `not_registered`, `already_registered`,
    /// `wrong_product`, `wrong_state`, `on_hold`, `not_a_unit`, `ambiguous`, `choose_product`.
    pub reason: &'static str,
    /// What went wrong, in English, for the log and the API user.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The error code behind `detail` where there is one — why a scan is `unreadable`
    /// (`invalid_check_digit`, `unknown_ai`, `unknown_gtin`…), or that no product has the GTIN
    /// of a new serial (`unknown_gtin`) — for a page to say it in its reader's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail_code: Option<&'static str>,
    /// The unit the scan names (for a new serial: the one it will name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<ItemKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<HoldKind>,
}

impl Verdict {
    /// A refusal for `reason` because of the problem `e`.
    fn refuse_for(reason: &'static str, e: FieldError) -> Verdict {
        Verdict {
            detail_code: Some(e.code),
            ..Verdict::refuse(reason, e.message)
        }
    }

    fn refuse(reason: &'static str, detail: impl Into<String>) -> Verdict {
        Verdict {
            accepted: false,
            reason,
            detail: detail.into(),
            detail_code: None,
            unit: None,
            status: None,
            holds: Vec::new(),
        }
    }
}

/// `GET /api/v1/scan/check?operation=ship&code=…[&product=…]`: may this scan be part of this
/// operation now? Always 200 with a [`Verdict`] once the request itself is readable.
pub async fn check(
    State(app): State<AppState>,
    actor: Actor,
    params: Result<Query<CheckParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| {
        AppError::malformed("invalid_query", e.body_text(), Some("operation".into()))
    })?;
    let Some(op) = StationOp::parse(p.operation.trim()) else {
        return Err(AppError::malformed(
            "unknown_operation",
            format!(
                "operation must be one of {}",
                StationOp::ALL.map(|o| o.name()).join(", ")
            ),
            Some("operation".into()),
        ));
    };
    let product = match p
        .product
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            Some(ProductCode::parse(s).map_err(|e| AppError::Malformed(vec![e.at("product")]))?)
        }
    };
    let process = match app.store.process().await? {
        Some(v) => v.def,
        None => Process::default(),
    };
    let year = chrono::Datelike::year(&app.clock.now());
    if op.registers() && actor.is_partner() {
        // Whether a serial is free would tell a partner that another's exists.
        return Err(AppError::NotFound(format!(
            "{} is not an operation of a partner account",
            op.name()
        )));
    }
    let verdict = judge(
        &*app.store,
        &actor,
        &process,
        op,
        p.code.trim(),
        product,
        year,
    )
    .await?;
    Ok(Json(verdict).into_response())
}

async fn judge(
    store: &dyn Store,
    actor: &Actor,
    process: &Process,
    op: StationOp,
    code: &str,
    product: Option<ProductCode>,
    year: i32,
) -> Result<Verdict, AppError> {
    if op.registers() {
        return judge_new(store, process, op, code, product).await;
    }
    let item = match crate::passport::unit_of_code(store, actor, code, year).await {
        Ok((crate::scan::Resolved::Item { item }, _)) => item,
        Ok(_) => {
            return Ok(Verdict::refuse(
                "not_a_unit",
                format!("`{code}` names no unit"),
            ));
        }
        Err(AppError::NotFound(m)) => return Ok(Verdict::refuse("not_registered", m)),
        Err(AppError::Rule(v)) => {
            let ambiguous = v.iter().any(|e| e.code == "ambiguous_serial");
            // The reason of an ambiguous serial says all the sentence would.
            return Ok(match v.into_iter().next() {
                Some(e) if ambiguous => Verdict::refuse("ambiguous", e.message),
                Some(e) => Verdict::refuse_for("unreadable", e),
                None => Verdict::refuse("unreadable", ""),
            });
        }
        Err(e) => return Err(e),
    };
    let (Ok(p), Ok(s)) = (
        ProductCode::parse(&item.product),
        Serial::parse(&item.serial),
    ) else {
        return Err(AppError::Internal(format!(
            "a stored unit has an unreadable key: {} {}",
            item.product, item.serial
        )));
    };
    Ok(by_state(
        process,
        op,
        ItemKey {
            product: p,
            serial: s,
        },
        item.status,
        item.holds,
    ))
}

/// Judges a registered unit by its state, as the process definition would at capture.
fn by_state(
    process: &Process,
    op: StationOp,
    key: ItemKey,
    status: ItemStatus,
    holds: Vec<HoldKind>,
) -> Verdict {
    let rule = process.rule(op.process_operation());
    let ended = matches!(
        status,
        ItemStatus::Scrapped | ItemStatus::Consumed | ItemStatus::Voided
    );
    let allowed = match rule {
        Some(r) if !r.from.is_empty() => r.from.contains(&status),
        _ => !ended,
    };
    let (accepted, reason, detail) = if !allowed {
        (
            false,
            "wrong_state",
            format!("{} {} is {}", key.product, key.serial, status.as_str()),
        )
    } else if rule.is_some_and(|r| r.refuse_held) && !holds.is_empty() {
        (
            false,
            "on_hold",
            format!("{} {} is on hold", key.product, key.serial),
        )
    } else {
        (true, "accepted", String::new())
    };
    Verdict {
        accepted,
        reason,
        detail,
        detail_code: None,
        unit: Some(key),
        status: Some(status),
        holds,
    }
}

/// Receipt and commissioning name serials that are new: the scan must read as a serial of the
/// context's product, not yet registered (a receipt may also take back a unit in transit).
async fn judge_new(
    store: &dyn Store,
    process: &Process,
    op: StationOp,
    code: &str,
    product: Option<ProductCode>,
) -> Result<Verdict, AppError> {
    let scan = match parse_scan(code) {
        Ok(s) => s,
        Err(e) => return Ok(Verdict::refuse_for("unreadable", e)),
    };
    let (product, serial) = match &scan {
        Scan::Plain(text) => {
            let Some(product) = product else {
                return Ok(Verdict::refuse(
                    "choose_product",
                    "choose the product of the serials first",
                ));
            };
            (product, text.clone())
        }
        _ => {
            let (Some(gtin), Some(serial)) = (scan.gtin(), scan.serial()) else {
                return Ok(Verdict::refuse(
                    "not_a_unit",
                    format!("`{code}` names no serial"),
                ));
            };
            let Some(found) = store.product_by_gtin(gtin.as_str()).await? else {
                return Ok(Verdict::refuse_for(
                    "wrong_product",
                    FieldError::new("unknown_gtin", format!("no product has GTIN {gtin}")),
                ));
            };
            if product.as_ref().is_some_and(|p| *p != found.def.code) {
                return Ok(Verdict::refuse(
                    "wrong_product",
                    format!("GTIN {gtin} is {}", found.def.code),
                ));
            }
            (found.def.code, serial.to_owned())
        }
    };
    let serial = match Serial::parse(&serial) {
        Ok(s) => s,
        Err(e) => return Ok(Verdict::refuse_for("unreadable", e)),
    };
    let key = ItemKey { product, serial };
    match store.item(&key).await? {
        None => Ok(Verdict {
            accepted: true,
            reason: "accepted",
            detail: String::new(),
            detail_code: None,
            unit: Some(key),
            status: None,
            holds: Vec::new(),
        }),
        Some(item) if op == StationOp::Receive && item.status != ItemStatus::Unassigned => {
            Ok(by_state(process, op, key, item.status, item.holds))
        }
        Some(item) if item.status.is_pooled() => Ok(Verdict {
            accepted: true,
            reason: "accepted",
            detail: String::new(),
            detail_code: None,
            unit: Some(key),
            status: Some(item.status),
            holds: item.holds,
        }),
        Some(item) => Ok(Verdict {
            accepted: false,
            reason: "already_registered",
            detail: format!("{} {} is registered already", key.product, key.serial),
            detail_code: None,
            unit: Some(key),
            status: Some(item.status),
            holds: item.holds,
        }),
    }
}
