//! Backward and forward trace (逆向溯源 / 正向追踪) over the time-aware genealogy, as of a date.
//!
//! Backward: everything that went into a unit or lot, level by level; a part removed before the
//! as-of date is listed with when it was removed and not descended into. Forward: every unit and
//! lot a component or material reached through links that held at the as-of date, each with its
//! current state (status, location, custodian).

use std::collections::{HashSet, VecDeque};

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::projection::Node;
use threadline_domain::{LotCode, ProductCode, Quantity, Serial};
use threadline_store::{Direction, ItemView, Store};

use crate::AppState;
use crate::error::AppError;

/// Most nodes one trace returns; a larger result is refused rather than cut silently.
pub const MAX_NODES: usize = 200_000;

#[derive(Debug, Serialize)]
pub struct TraceNode {
    pub node: Node,
    /// 1 for direct components (or direct parents), 2 for theirs, …
    pub depth: u32,
    /// The node this one was reached from.
    pub via: Node,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Quantity>,
    pub linked_at: DateTime<Utc>,
    /// Set when the link ended before the as-of date (a part swapped out in a repair).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<DateTime<Utc>>,
    /// For units reached by a forward trace: where they are now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ItemView>,
}

#[derive(Debug, Serialize)]
pub struct Trace {
    pub root: Node,
    pub direction: &'static str,
    pub as_of: DateTime<Utc>,
    pub nodes: Vec<TraceNode>,
}

/// Walks the genealogy from `root`.
pub async fn trace(
    store: &dyn Store,
    root: Node,
    direction: Direction,
    as_of: DateTime<Utc>,
) -> Result<Trace, AppError> {
    let mut nodes = Vec::new();
    let mut seen: HashSet<Node> = HashSet::from([root.clone()]);
    let mut queue = VecDeque::from([(root.clone(), 0u32)]);
    while let Some((node, depth)) = queue.pop_front() {
        for link in store.links(&node, direction).await? {
            if link.from_time > as_of {
                continue; // not linked yet at the as-of date
            }
            let removed = link.to_time.filter(|end| *end <= as_of);
            if direction == Direction::Parents && removed.is_some() {
                continue; // it had left that parent by then
            }
            if !seen.insert(link.node.clone()) {
                continue;
            }
            if nodes.len() >= MAX_NODES {
                return Err(AppError::Rule(vec![threadline_domain::FieldError::new(
                    "trace_too_large",
                    format!(
                        "the trace reaches more than {MAX_NODES} units and lots; narrow it with an as-of date"
                    ),
                )]));
            }
            if removed.is_none() {
                queue.push_back((link.node.clone(), depth + 1));
            }
            let state = match (&link.node, direction) {
                (Node::Item(k), Direction::Parents) => store.item(k).await?,
                _ => None,
            };
            nodes.push(TraceNode {
                node: link.node,
                depth: depth + 1,
                via: node.clone(),
                kind: link.kind,
                quantity: link.quantity,
                linked_at: link.from_time,
                removed_at: removed,
                state,
            });
        }
    }
    let direction = if direction == Direction::Children {
        "backward"
    } else {
        "forward"
    };
    Ok(Trace {
        root,
        direction,
        as_of,
        nodes,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceParams {
    product: String,
    serial: Option<String>,
    lot: Option<String>,
    as_of: Option<DateTime<chrono::FixedOffset>>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn root_of(p: &TraceParams) -> Result<Node, AppError> {
    let product =
        ProductCode::parse(&p.product).map_err(|e| AppError::Malformed(vec![e.at("product")]))?;
    match (&p.serial, &p.lot) {
        (Some(s), None) => Ok(Node::Item(ItemKey {
            product,
            serial: Serial::parse(s).map_err(|e| AppError::Malformed(vec![e.at("serial")]))?,
        })),
        (None, Some(l)) => Ok(Node::Lot(LotKey {
            product,
            lot: LotCode::parse(l).map_err(|e| AppError::Malformed(vec![e.at("lot")]))?,
        })),
        _ => Err(AppError::malformed(
            "missing_field",
            "give either `serial` or `lot` with `product`",
            Some("serial".into()),
        )),
    }
}

async fn run(
    app: AppState,
    params: Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
    direction: Direction,
) -> Result<Response, AppError> {
    let Query(p) = params.map_err(|e| AppError::malformed("invalid_query", e.body_text(), None))?;
    let root = root_of(&p)?;
    let known = match &root {
        Node::Item(k) => app.store.item(k).await?.is_some(),
        Node::Lot(k) => app.store.lot(k).await?.is_some(),
    };
    if !known {
        return Err(AppError::NotFound(format!(
            "{} is not registered",
            match &root {
                Node::Item(k) => format!("serial {} of {}", k.serial, k.product),
                Node::Lot(k) => k.to_string(),
            }
        )));
    }
    let as_of = p
        .as_of
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| app.clock.now());
    let t = trace(&*app.store, root, direction, as_of).await?;
    match p.format.as_deref() {
        None | Some("json") => Ok(Json(t).into_response()),
        Some("csv") => {
            let name = format!("trace-{}.csv", t.direction);
            Ok((
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "text/csv; charset=utf-8".to_owned(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                t.to_csv()?,
            )
                .into_response())
        }
        Some(other) => Err(AppError::malformed(
            "invalid_format",
            format!("format must be json or csv, not `{other}`"),
            Some("format".into()),
        )),
    }
}

/// `GET /api/v1/trace/backward?product=…&serial=…|lot=…[&as_of=…]`
pub async fn backward(
    State(app): State<AppState>,
    params: Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    run(app, params, Direction::Children).await
}

/// `GET /api/v1/trace/forward?product=…&serial=…|lot=…[&as_of=…]`
pub async fn forward(
    State(app): State<AppState>,
    params: Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    run(app, params, Direction::Parents).await
}

impl Trace {
    /// The trace as a spreadsheet: one row per unit or lot with the key data elements, for
    /// auditors and regulators (sortable in any spreadsheet program).
    pub fn to_csv(&self) -> Result<Vec<u8>, AppError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
        w.write_record([
            "depth",
            "kind_of_node",
            "product",
            "serial_or_lot",
            "via_product",
            "via_serial_or_lot",
            "link",
            "quantity",
            "linked_at",
            "removed_at",
            "status",
            "location",
            "custodian",
        ])
        .map_err(fail)?;
        let parts = |n: &Node| match n {
            Node::Item(k) => ("unit", k.product.to_string(), k.serial.to_string()),
            Node::Lot(k) => ("lot", k.product.to_string(), k.lot.to_string()),
        };
        for n in &self.nodes {
            let (kind, product, id) = parts(&n.node);
            let (_, via_product, via_id) = parts(&n.via);
            let state = n.state.as_ref();
            w.write_record([
                n.depth.to_string(),
                kind.to_owned(),
                product,
                id,
                via_product,
                via_id,
                n.kind.clone(),
                n.quantity.map(|q| q.to_string()).unwrap_or_default(),
                n.linked_at.to_rfc3339(),
                n.removed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                state
                    .map(|s| s.status.as_str().to_owned())
                    .unwrap_or_default(),
                state.and_then(|s| s.location.clone()).unwrap_or_default(),
                state.and_then(|s| s.custodian.clone()).unwrap_or_default(),
            ])
            .map_err(fail)?;
        }
        w.into_inner()
            .map_err(|e| AppError::Internal(format!("csv: {e}")))
    }
}
