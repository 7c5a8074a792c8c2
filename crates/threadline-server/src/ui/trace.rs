//! The trace page (`/trace`): backward (逆向溯源) or forward (正向追踪) from a unit, a lot, a
//! supplier or a work order, as of a date — drawn as a server-rendered SVG tree (nodes coloured
//! by state, held ones outlined red; `/assets/trace.js` folds and unfolds levels) and listed
//! as a table, with CSV/XLSX links to the streaming export and, forward, a way into a recall.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use threadline_domain::access::Permission;
use threadline_domain::projection::{ItemStatus, Node};
use threadline_store::Direction;

use super::{esc, lang_param, page_with, url_encode};
use crate::AppState;
use crate::auth::Actor;
use crate::error::AppError;
use crate::i18n::{Lang, Msg, t};
use crate::trace::{ScopeRequest, Trace, TraceNode, node_cells};

/// The scope fields the page carries, in the order of the form.
const SCOPE_FIELDS: [(&str, Msg); 5] = [
    ("product", Msg::Product),
    ("serial", Msg::Serial),
    ("lot", Msg::Lot),
    ("supplier", Msg::FieldSupplier),
    ("work_order", Msg::FieldWorkOrder),
];

/// The page's query: the scope, the direction and the as-of day.
#[derive(Debug)]
pub(super) struct TraceQuery {
    pub lang: Option<String>,
    pub direction: Direction,
    pub fields: BTreeMap<&'static str, String>,
    /// `YYYY-MM-DD`; the end of that day (UTC) is the as-of time.
    pub as_of: Option<String>,
}

impl TraceQuery {
    pub(super) fn read(q: &BTreeMap<String, String>) -> TraceQuery {
        let mut fields = BTreeMap::new();
        for (key, _) in SCOPE_FIELDS {
            if let Some(v) = q.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                fields.insert(key, v.to_owned());
            }
        }
        TraceQuery {
            lang: q.get("lang").cloned(),
            direction: if q.get("direction").map(String::as_str) == Some("backward") {
                Direction::Children
            } else {
                Direction::Parents
            },
            fields,
            as_of: q.get("as_of").filter(|v| !v.trim().is_empty()).cloned(),
        }
    }

    /// The scope as the trace API reads it; a bad as-of date is named.
    /// An as-of date means the end of that day in the plant's time zone `zone`.
    pub(super) fn scope(&self, zone: chrono_tz::Tz) -> Result<ScopeRequest, AppError> {
        let get = |k: &str| self.fields.get(k).cloned();
        let as_of = match &self.as_of {
            None => None,
            Some(d) => {
                let day = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
                    AppError::malformed(
                        "invalid_date",
                        format!("as_of `{d}` is not a date (YYYY-MM-DD)"),
                        Some("as_of".into()),
                    )
                })?;
                day.and_hms_opt(23, 59, 59)
                    .and_then(|t| t.and_local_timezone(zone).latest())
                    .map(|t| t.fixed_offset())
            }
        };
        Ok(ScopeRequest {
            product: get("product"),
            serial: get("serial"),
            lot: get("lot"),
            supplier: get("supplier"),
            work_order: get("work_order"),
            as_of,
            ..ScopeRequest::default()
        })
    }

    /// The scope as a query string (for links to the export and the recall).
    pub(super) fn query_string(&self) -> String {
        let mut parts: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect();
        if let Some(d) = &self.as_of {
            parts.push(format!("as_of={}T23:59:59Z", url_encode(d.trim())));
        }
        parts.join("&")
    }

    fn direction_name(&self) -> &'static str {
        match self.direction {
            Direction::Children => "backward",
            Direction::Parents => "forward",
        }
    }
}

/// The fill colour of a state; lots are teal.
fn colour(status: Option<ItemStatus>) -> &'static str {
    match status {
        None => "#d2f4f0",
        Some(ItemStatus::InProduction) => "#dbe9ff",
        Some(ItemStatus::InStock) => "#dafbe1",
        Some(ItemStatus::InTransit) => "#fff1c2",
        Some(ItemStatus::Sold) => "#eadcff",
        Some(ItemStatus::InRepair) => "#ffe2c7",
        Some(ItemStatus::Returned) => "#ffd9ec",
        Some(ItemStatus::Unassigned | ItemStatus::Printed) => "#f0f0f0",
        Some(ItemStatus::Consumed | ItemStatus::Scrapped | ItemStatus::Voided) => "#d5d8dc",
    }
}

fn node_id(n: &Node) -> String {
    let (kind, product, id) = node_cells(n);
    format!("{kind}:{product}:{id}")
}

/// One box of the graph: its label lines, colour and whether it is held.
struct Drawn {
    id: String,
    parent: Option<String>,
    depth: u32,
    title: String,
    subtitle: String,
    fill: &'static str,
    held: bool,
    removed: bool,
}

const COL: u32 = 250;
const ROW: u32 = 50;
const BOX_W: u32 = 220;
const BOX_H: u32 = 40;

/// The tree, laid out one row per node in depth-first order from the start, each node one
/// column right of the node it was reached from.
fn svg(lang: Lang, root: Option<Drawn>, trace: &Trace) -> String {
    let mut drawn: Vec<Drawn> = root.into_iter().collect();
    for n in &trace.nodes {
        let (_, product, id) = node_cells(&n.node);
        let status = n.state.as_ref().map(|s| s.status);
        let subtitle = match &n.state {
            Some(s) => format!(
                "{}{}",
                crate::i18n::status(lang, s.status),
                s.location
                    .as_deref()
                    .map(|l| format!(" · {l}"))
                    .unwrap_or_default()
            ),
            None => n
                .quantity
                .map(|q| format!("{} {q}", t(lang, Msg::Lot)))
                .unwrap_or_else(|| t(lang, Msg::Lot).to_owned()),
        };
        drawn.push(Drawn {
            id: node_id(&n.node),
            parent: n.via.as_ref().map(node_id),
            depth: n.depth,
            title: format!("{product} · {id}"),
            subtitle,
            fill: colour(status),
            held: !n.holds.is_empty(),
            removed: n.removed_at.is_some(),
        });
    }
    // Depth-first order: children listed under their parent, in the order they were reached.
    let mut children: HashMap<Option<String>, Vec<usize>> = HashMap::new();
    let ids: std::collections::HashSet<&str> = drawn.iter().map(|d| d.id.as_str()).collect();
    for (i, d) in drawn.iter().enumerate() {
        let parent = d.parent.clone().filter(|p| ids.contains(p.as_str()));
        children.entry(parent).or_default().push(i);
    }
    let mut order = Vec::with_capacity(drawn.len());
    let mut stack: Vec<usize> = children.get(&None).cloned().unwrap_or_default();
    stack.reverse();
    let mut seen = vec![false; drawn.len()];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        order.push(i);
        if let Some(kids) = children.get(&Some(drawn[i].id.clone())) {
            stack.extend(kids.iter().rev().copied());
        }
    }
    let min_depth = drawn.iter().map(|d| d.depth).min().unwrap_or(0);
    let mut rows: HashMap<&str, u32> = HashMap::new();
    let mut nodes = String::new();
    let mut edges = String::new();
    let mut max_col = 0;
    for (row, &i) in order.iter().enumerate() {
        let d = &drawn[i];
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        let col = d.depth - min_depth;
        max_col = max_col.max(col);
        rows.insert(&d.id, row);
        let (x, y) = (10 + col * COL, 10 + row * ROW);
        let has_kids = children
            .get(&Some(d.id.clone()))
            .is_some_and(|k| !k.is_empty());
        nodes.push_str(&format!(
            "<g class=\"node{held}{removed}\" data-id=\"{id}\" data-parent=\"{parent}\" data-col=\"{col}\" transform=\"translate({x},{y})\">\
             <title>{title}</title><rect width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{fill}\"{stroke}/>\
             <text x=\"10\" y=\"16\" font-weight=\"600\">{title}</text><text x=\"10\" y=\"32\" fill=\"#5b6673\">{sub}</text>{toggle}</g>",
            held = if d.held { " held" } else { "" },
            removed = if d.removed { " removed" } else { "" },
            id = esc(&d.id),
            parent = esc(d.parent.as_deref().unwrap_or("")),
            title = esc(&d.title),
            fill = d.fill,
            stroke = if d.held {
                " stroke=\"#b42318\" stroke-width=\"2.5\""
            } else {
                ""
            },
            sub = esc(&d.subtitle),
            toggle = if has_kids {
                format!(
                    "<g class=\"toggle\" role=\"button\" tabindex=\"0\" aria-label=\"{}\"><circle cx=\"{BOX_W}\" cy=\"20\" r=\"9\" fill=\"#fff\" stroke=\"#8592a3\"/><text x=\"{tx}\" y=\"24\" font-size=\"13\">−</text></g>",
                    t(lang, Msg::ExpandCollapse),
                    tx = BOX_W - 4,
                )
            } else {
                String::new()
            },
        ));
    }
    for &i in &order {
        let d = &drawn[i];
        let (Some(p), Some(&row)) = (d.parent.as_deref(), rows.get(d.id.as_str())) else {
            continue;
        };
        let Some(&prow) = rows.get(p) else { continue };
        let col = d.depth - min_depth;
        let (x1, y1) = (
            10 + (col.saturating_sub(1)) * COL + BOX_W,
            10 + prow * ROW + BOX_H / 2,
        );
        let (x2, y2) = (10 + col * COL, 10 + row * ROW + BOX_H / 2);
        edges.push_str(&format!(
            "<path class=\"edge\" data-from=\"{}\" data-to=\"{}\" d=\"M{x1} {y1} C{mx} {y1} {mx} {y2} {x2} {y2}\"/>",
            esc(p),
            esc(&d.id),
            mx = (x1 + x2) / 2,
        ));
    }
    let rows_n = u32::try_from(order.len()).unwrap_or(u32::MAX);
    let width = 20 + max_col * COL + BOX_W + 12;
    let height = 20 + rows_n * ROW;
    format!(
        "<div class=\"graph\"><svg id=\"trace-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{label}\" data-row=\"{ROW}\" data-col=\"{COL}\" data-box-w=\"{BOX_W}\" data-box-h=\"{BOX_H}\">{edges}{nodes}</svg></div>",
        label = t(lang, Msg::TraceGraph),
    )
}

/// A colour sample for the legend (SVG attributes: the policy allows no inline style).
fn swatch(fill: &str, stroke: &str) -> String {
    format!(
        "<svg width=\"14\" height=\"14\" aria-hidden=\"true\"><rect x=\"1\" y=\"1\" width=\"12\" height=\"12\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/></svg> "
    )
}

fn legend(lang: Lang) -> String {
    let mut items: Vec<String> = [
        ItemStatus::InProduction,
        ItemStatus::InStock,
        ItemStatus::InTransit,
        ItemStatus::Sold,
        ItemStatus::InRepair,
        ItemStatus::Returned,
        ItemStatus::Scrapped,
    ]
    .iter()
    .map(|s| {
        format!(
            "<span>{}{}</span>",
            swatch(colour(Some(*s)), "#8592a3"),
            crate::i18n::status(lang, *s)
        )
    })
    .collect();
    items.push(format!(
        "<span>{}{}</span>",
        swatch(colour(None), "#8592a3"),
        t(lang, Msg::Lot)
    ));
    items.push(format!(
        "<span>{}{}</span>",
        swatch("#ffffff", "#b42318"),
        t(lang, Msg::Holds)
    ));
    format!("<div class=\"legend\">{}</div>", items.concat())
}

fn table(lang: Lang, trace: &Trace) -> String {
    let none = t(lang, Msg::None);
    let rows: String = trace
        .nodes
        .iter()
        .map(|n: &TraceNode| {
            let (_, product, id) = node_cells(&n.node);
            let via = n
                .via
                .as_ref()
                .map(|v| {
                    let (_, p, i) = node_cells(v);
                    format!("{p} · {i}")
                })
                .unwrap_or_default();
            let s = n.state.as_ref();
            let opt = |v: Option<&String>| v.map(|v| esc(v)).unwrap_or_else(|| none.to_owned());
            let status = s
                .map(|s| crate::i18n::status(lang, s.status).to_owned())
                .unwrap_or_else(|| t(lang, Msg::Lot).to_owned());
            let holds: String = n
                .holds
                .iter()
                .map(|h| format!("<span class=\"badge hold\">{}</span>", crate::i18n::hold(lang, *h)))
                .collect();
            let link = match &n.node {
                Node::Item(k) => super::passport::unit_link(lang, k.product.as_str(), k.serial.as_str()),
                Node::Lot(_) => format!("{} · {}", esc(&product), esc(&id)),
            };
            let customer = match (s.and_then(|s| s.customer.as_ref()), s.and_then(|s| s.customer_name.as_ref())) {
                (Some(c), Some(n)) => format!("{} · {}", esc(c), esc(n)),
                (c, _) => opt(c),
            };
            format!(
                "<tr><td>{depth}</td><td>{link}</td><td>{via}</td><td>{status} {holds}</td><td>{loc}</td><td>{cus}</td><td>{dist}</td><td>{customer}</td><td>{region}</td><td>{qty}</td></tr>",
                depth = n.depth,
                via = esc(&via),
                loc = opt(s.and_then(|s| s.location.as_ref())),
                cus = opt(s.and_then(|s| s.custodian.as_ref())),
                dist = opt(s.and_then(|s| s.distributor.as_ref())),
                region = opt(s.and_then(|s| s.region.as_ref())),
                qty = n.quantity.map(|q| q.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    format!(
        "<div class=\"table-wrap\"><table id=\"trace-table\"><thead><tr><th>{d}</th><th>{n}</th><th>{v}</th><th>{s}</th><th>{l}</th><th>{c}</th><th>{di}</th><th>{cu}</th><th>{r}</th><th>{q}</th></tr></thead><tbody>{rows}</tbody></table></div>",
        d = t(lang, Msg::Level),
        n = t(lang, Msg::UnitOrLot),
        v = t(lang, Msg::ReachedFrom),
        s = t(lang, Msg::Status),
        l = t(lang, Msg::Location),
        c = t(lang, Msg::Custodian),
        di = t(lang, Msg::FieldDistributor),
        cu = t(lang, Msg::FieldCustomer),
        r = t(lang, Msg::FieldRegion),
        q = t(lang, Msg::Quantity),
    )
}

/// The labelled inputs of a scope (product, serial, lot, supplier, work order), their ids
/// prefixed with `id`.
pub(super) fn scope_inputs(lang: Lang, q: &TraceQuery, id: &str) -> String {
    SCOPE_FIELDS
        .iter()
        .map(|(key, label)| {
            format!(
                "<div><label for=\"{id}-{key}\">{label}</label><input id=\"{id}-{key}\" name=\"{key}\" value=\"{v}\" autocomplete=\"off\"></div>",
                label = t(lang, *label),
                v = esc(q.fields.get(key).map(String::as_str).unwrap_or("")),
            )
        })
        .collect()
}

pub(super) fn scope_form(lang: Lang, q: &TraceQuery, action: &str, button: Msg) -> String {
    let fields = scope_inputs(lang, q, "t");
    let dir = |d: Direction, m: Msg| {
        format!(
            "<option value=\"{v}\"{sel}>{l}</option>",
            v = if d == Direction::Children {
                "backward"
            } else {
                "forward"
            },
            sel = if q.direction == d { " selected" } else { "" },
            l = t(lang, m),
        )
    };
    format!(
        "<form method=\"get\" action=\"{action}\" class=\"inline\" id=\"scope\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <div><label for=\"t-direction\">{l_dir}</label><select id=\"t-direction\" name=\"direction\">{b}{f}</select></div>{fields}\
         <div><label for=\"t-as_of\">{l_asof}</label><input id=\"t-as_of\" name=\"as_of\" type=\"date\" value=\"{asof}\"></div>\
         <button type=\"submit\">{go}</button></form><p class=\"hint\">{hint}</p>",
        l = lang_param(lang),
        l_dir = t(lang, Msg::Direction),
        b = dir(Direction::Children, Msg::TraceBackward),
        f = dir(Direction::Parents, Msg::TraceForward),
        l_asof = t(lang, Msg::AsOf),
        asof = esc(q.as_of.as_deref().unwrap_or("")),
        go = t(lang, button),
        hint = t(lang, Msg::TraceHint),
    )
}

/// `GET /trace?direction=forward|backward&product=…&serial=…|lot=…|supplier=…|work_order=…&as_of=YYYY-MM-DD`
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    Query(raw): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let q = TraceQuery::read(&raw);
    let lang = crate::i18n::Lang::negotiate(
        q.lang.as_deref(),
        headers.get("accept-language").and_then(|v| v.to_str().ok()),
    );
    let zone = super::zone(&app).await;
    let form = format!(
        "<section class=\"card\"><h1>{}</h1>{}</section>",
        t(lang, Msg::Trace),
        scope_form(lang, &q, "/trace", Msg::Trace)
    );
    let show = |body: String, scripts: &[&str]| {
        page_with(
            lang,
            t(lang, Msg::Trace),
            Some(&actor),
            &format!("{form}{body}"),
            scripts,
            Some(&uri),
        )
        .into_response()
    };
    if q.fields.is_empty() {
        return show(String::new(), &[]);
    }
    let result = async {
        let scope = q.scope(zone)?.check(app.clock.now(), "")?;
        if q.direction == Direction::Children && !scope.is_single() {
            return Err(AppError::malformed(
                "unexpected_field",
                "a backward trace starts from one unit or lot",
                Some("serial".into()),
            ));
        }
        crate::trace::shown(&*app.store, &actor, scope, q.direction).await
    }
    .await;
    let trace = match result {
        Ok(t) => t,
        Err(AppError::Internal(m)) => return super::refusal(lang, AppError::Internal(m)),
        Err(e) => {
            return show(
                format!(
                    "<section class=\"card bad\" id=\"trace-error\">{}</section>",
                    super::refusal_line(lang, &e)
                ),
                &[],
            );
        }
    };
    // The start of a single-unit or single-lot trace is drawn as the root.
    let root = match (
        &q.fields.get("product"),
        q.fields.get("serial"),
        q.fields.get("lot"),
    ) {
        (Some(p), Some(s), _) => Some((format!("unit:{p}:{s}"), format!("{p} · {s}"))),
        (Some(p), None, Some(l)) => Some((format!("lot:{p}:{l}"), format!("{p} · {l}"))),
        _ => None,
    }
    .map(|(id, title)| Drawn {
        id,
        parent: None,
        depth: 0,
        title,
        subtitle: t(lang, Msg::TraceStart).to_owned(),
        fill: "#ffffff",
        held: false,
        removed: false,
    });
    let query = q.query_string();
    let dir = q.direction_name();
    let mut actions = format!(
        "<a class=\"button secondary\" id=\"export-csv\" href=\"/api/v1/trace/{dir}?{query}&amp;format=csv\">CSV</a> \
         <a class=\"button secondary\" id=\"export-xlsx\" href=\"/api/v1/trace/{dir}?{query}&amp;format=xlsx\">XLSX</a>",
        query = esc(&query),
    );
    if q.direction == Direction::Parents && actor.permissions.contains(Permission::Recall) {
        actions.push_str(&format!(
            " <a class=\"button\" id=\"start-recall\" href=\"/recalls/new?{query}&amp;lang={l}\">{label}</a>",
            query = esc(&query),
            l = lang_param(lang),
            label = t(lang, Msg::RecallFromTrace),
        ));
    }
    let units = trace.nodes.iter().filter(|n| n.state.is_some()).count();
    let lots = trace.nodes.len() - units;
    let body = format!(
        "<section class=\"card\" id=\"trace-result\"><h2>{title}</h2><p id=\"trace-summary\">{l_units}: <strong>{units}</strong> · {l_lots}: <strong>{lots}</strong> · {l_asof}: {asof}</p>\
         <p>{actions}</p>{legend}{graph}</section><section class=\"card\"><h2>{l_table}</h2>{table}</section>",
        title = t(
            lang,
            if q.direction == Direction::Parents {
                Msg::TraceForward
            } else {
                Msg::TraceBackward
            }
        ),
        l_units = t(lang, Msg::Units),
        l_lots = t(lang, Msg::Lots),
        l_asof = t(lang, Msg::AsOf),
        asof = esc(&crate::i18n::datetime(lang, zone, &trace.as_of)),
        legend = legend(lang),
        graph = svg(lang, root, &trace),
        l_table = t(lang, Msg::TraceTable),
        table = table(lang, &trace),
    );
    show(body, &["/assets/trace.js"])
}

/// `GET /assets/trace.js`: folding and unfolding the trace graph.
pub async fn script() -> Response {
    super::script_asset(include_str!("trace.js"))
}
