//! WebSocket query subscriptions, the REST binding's other way to subscribe: `GET
//! /epcis/queries/{name}/events` upgraded to a WebSocket sends the events the named query
//! matches as `EPCISQueryDocument`s (at most 500 events each) naming the query and the
//! socket's subscription ID, until either side closes it. The query string says when:
//!
//! - `stream=true`: each look (every [`POLL`]) sends what was captured since the last one;
//! - a schedule (`second`, `minute`, `hour`, `dayOfMonth`, `month`, `dayOfWeek`, read as a
//!   webhook subscription's `schedule`, in UTC): at each query time, what was captured since
//!   the last — nothing when nothing matched, unless `reportIfEmpty=true` (one empty
//!   document; it applies to schedules only).
//!
//! Either way `initialRecordTime` first replays what was recorded since that time, then goes
//! on; without it the socket starts at the ledger's end when it opened. The upgrade answers
//! `GS1-Query-Min-Record-Time`. Documents are JSON-LD, or XML when the upgrade request's
//! `Accept` names XML, with identifiers as its `GS1-EPC-Format` asks.
//!
//! What a socket sends is what its client may read: the upgrade request passed the route's
//! guard (`read`, an EPCIS problem document otherwise), and every event is masked, kept behind
//! a partner's wall and a site's scope by the same [`Reader`] as the query itself. A socket
//! holds no row: a socket is its connection, and a client that reconnects asks with
//! `initialRecordTime` for what it missed.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::json;
use threadline_domain::error::FieldError;
use threadline_domain::event::Event;
use threadline_domain::mask::masked;
use threadline_epcis::format::EpcFormat;
use threadline_epcis::query::Filter;
use threadline_epcis::schedule::Schedule;
use uuid::Uuid;

use super::subscriptions::{REPORT_BATCH, controls, millis};
use super::{Problem, Products, Reader, is_xml, judge, narrowed, prepared_filter};
use crate::AppState;

/// How often an open socket looks for newly captured events (and, on a schedule, whether its
/// query time has come).
pub const POLL: Duration = Duration::from_millis(200);
/// Most ledger entries one look reads; the rest wait for the next.
const LOOK_LIMIT: usize = 20_000;

/// The schedule's fields, as the query string names them.
const SCHEDULE: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "dayOfMonth",
    "month",
    "dayOfWeek",
];
/// Parameters the query string of a WebSocket subscription may carry besides the schedule.
const PARAMETERS: [&str; 3] = ["stream", "initialRecordTime", "reportIfEmpty"];

/// When a socket reports, read from its query string.
#[derive(Debug)]
struct Controls {
    schedule: Option<Schedule>,
    report_if_empty: bool,
    initial_record_time: Option<DateTime<Utc>>,
}

/// Reads the subscription's own parameters: `stream=true` or a schedule (not both, one of
/// them), `reportIfEmpty` (a schedule's), `initialRecordTime`; each refusal names its
/// parameter.
fn controls_of(own: &[(String, String)], now: DateTime<Utc>) -> Result<Controls, Problem> {
    let mut stream = None;
    let mut fields = BTreeMap::new();
    let mut report_if_empty = false;
    let mut initial_record_time = None;
    for (k, v) in own {
        match k.as_str() {
            "stream" => match v.as_str() {
                "true" => stream = Some(true),
                "false" => stream = Some(false),
                _ => return Err(controls("stream", "stream is true or false")),
            },
            "reportIfEmpty" => match v.as_str() {
                "true" => report_if_empty = true,
                "false" => report_if_empty = false,
                _ => return Err(controls("reportIfEmpty", "reportIfEmpty is true or false")),
            },
            "initialRecordTime" => {
                let t = DateTime::parse_from_rfc3339(v).map_err(|_| {
                    controls(
                        "initialRecordTime",
                        format!("initialRecordTime must be a date-time with offset, got `{v}`"),
                    )
                })?;
                initial_record_time = Some(t.with_timezone(&Utc));
            }
            f if SCHEDULE.contains(&f) => {
                fields.insert(k.clone(), v.clone());
            }
            _ => {
                return Err(Problem::query(
                    FieldError::new(
                        "not_allowed",
                        format!(
                            "a WebSocket subscription takes stream=true or a schedule ({}), and {}",
                            SCHEDULE.join(", "),
                            PARAMETERS[1..].join(", ")
                        ),
                    )
                    .at(k),
                ));
            }
        }
    }
    let schedule = if fields.is_empty() {
        None
    } else {
        Some(Schedule::parse(&fields, now).map_err(|mut e| {
            // The schedule's fields are parameters of their own here, not `schedule.minute`.
            e.field = e
                .field
                .map(|f| f.strip_prefix("schedule.").unwrap_or(&f).to_owned());
            Problem::new(
                axum::http::StatusCode::BAD_REQUEST,
                "SubscriptionControlsException",
                vec![e],
            )
        })?)
    };
    match (stream, &schedule) {
        (Some(true), Some(_)) => {
            return Err(controls(
                "stream",
                "a subscription either streams or has a schedule, not both",
            ));
        }
        (None | Some(false), None) => {
            return Err(controls(
                "stream",
                "ask for stream=true, or give a schedule: a subscription must say when it reports",
            ));
        }
        _ => {}
    }
    if report_if_empty && schedule.is_none() {
        return Err(controls(
            "reportIfEmpty",
            "reportIfEmpty applies to a scheduled subscription; a stream reports what it matches",
        ));
    }
    Ok(Controls {
        schedule,
        report_if_empty,
        initial_record_time,
    })
}

/// Opens a WebSocket subscription to the named query's `params` for the request's reader;
/// `own` (the request's query string) says when it reports.
pub async fn open(
    app: AppState,
    headers: &HeaderMap,
    reader: Reader,
    query: String,
    mut params: Vec<(String, String)>,
    own: &[(String, String)],
    ws: WebSocketUpgrade,
) -> Result<Response, Problem> {
    let now = app.clock.now();
    let controls = controls_of(own, now)?;
    let format = EpcFormat::parse(headers.get("gs1-epc-format").and_then(|v| v.to_str().ok()))
        .map_err(|e| Problem::validation(vec![e]))?;
    // With an initialRecordTime the ledger is read from its start and the record time decides;
    // without, the socket reports what is recorded from now on.
    let after = match controls.initial_record_time {
        Some(t) => {
            params.push(("GE_recordTime".into(), millis(t)));
            0
        }
        None => app.store.ledger_len().await?,
    };
    let filter = prepared_filter(&app, &params).await?;
    let next_run = controls.schedule.as_ref().and_then(|s| s.next_after(now));
    let min_record_time = millis(controls.initial_record_time.unwrap_or(now));
    let stream = Stream {
        app,
        query,
        filter,
        reader,
        format,
        xml: is_xml(headers, header::ACCEPT),
        after,
        id: Uuid::now_v7(),
        controls,
        next_run,
    };
    let mut resp = ws.on_upgrade(move |socket| stream.run(socket));
    if let Ok(v) = HeaderValue::from_str(&min_record_time) {
        resp.headers_mut().insert("gs1-query-min-record-time", v);
    }
    Ok(resp)
}

struct Stream {
    app: AppState,
    query: String,
    filter: Filter,
    reader: Reader,
    format: EpcFormat,
    /// Documents in XML (the upgrade request's `Accept` named it), else JSON-LD.
    xml: bool,
    /// The last ledger sequence looked at.
    after: i64,
    id: Uuid,
    controls: Controls,
    /// A schedule's next query time (`None`: streaming, or a schedule that never comes again).
    next_run: Option<DateTime<Utc>>,
}

impl Stream {
    async fn run(mut self, mut socket: WebSocket) {
        // An interval, not a sleep per turn: a chatty client must not keep the looks away.
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
                _ = tick.tick() => {
                    let docs = match self.turn().await {
                        Ok(docs) => docs,
                        Err(p) => {
                            tracing::warn!(query = %self.query, problem = ?p, "EPCIS WebSocket subscription stopped");
                            let _ = socket.send(Message::Close(None)).await;
                            return;
                        }
                    };
                    for doc in docs {
                        if socket.send(Message::text(doc)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// What this turn sends: a stream's look, or — when a schedule's query time has come —
    /// everything matched since the last run (an empty report with `reportIfEmpty`).
    async fn turn(&mut self) -> Result<Vec<String>, Problem> {
        let mut products = Products::default();
        if self.controls.schedule.is_none() {
            let (found, _) = self.look(&mut products).await?;
            return Ok(self.documents(&found, &products, false));
        }
        let now = self.app.clock.now();
        if self.next_run.is_none_or(|t| t > now) {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        loop {
            let (more, done) = self.look(&mut products).await?;
            found.extend(more);
            if done {
                break;
            }
        }
        self.next_run = self
            .controls
            .schedule
            .as_ref()
            .and_then(|s| s.next_after(now));
        Ok(self.documents(&found, &products, self.controls.report_if_empty))
    }

    /// The events captured since the last look that the query matches (their products loaded
    /// into `products`), and whether the look reached the ledger's end (it reads at most
    /// [`LOOK_LIMIT`] entries).
    async fn look(&mut self, products: &mut Products) -> Result<(Vec<Event>, bool), Problem> {
        let head = self.app.store.ledger_len().await?;
        if head <= self.after {
            return Ok((Vec::new(), true));
        }
        let Some(mut q) = narrowed(&self.app, &self.filter).await? else {
            self.after = head;
            return Ok((Vec::new(), true));
        };
        q.after_seq = Some(self.after);
        let mut found: Vec<Event> = Vec::new();
        let mut scanned = 0usize;
        let mut to = head;
        'scan: loop {
            let page = self.app.store.events(&q).await?;
            let mut seen = Vec::new();
            for stored in page.items.iter().filter(|s| s.seq <= head) {
                let mut ev = masked(stored.event.clone(), self.reader.seen);
                if let Some(p) = self.reader.partner.as_mut()
                    && !p.redact(&*self.app.store, &mut ev).await?
                {
                    continue;
                }
                if self
                    .reader
                    .site
                    .as_ref()
                    .is_some_and(|s| !s.happened_here(&ev))
                {
                    continue;
                }
                seen.push(ev);
            }
            products.load(&self.app, &seen).await?;
            found.extend(
                seen.into_iter()
                    .filter(|ev| judge(&self.filter, ev, &products.catalogue)),
            );
            scanned += page.items.len();
            let last = page.items.last().map(|s| s.seq);
            match (page.next, last) {
                (Some(_), Some(last)) if last < head && scanned >= LOOK_LIMIT => {
                    to = last;
                    break 'scan;
                }
                (Some(_), Some(last)) if last < head => q.after_seq = Some(last),
                _ => break 'scan,
            }
        }
        self.after = to;
        Ok((found, to >= head))
    }

    /// `EPCISQueryDocument`s of at most [`REPORT_BATCH`] events each, in the socket's binding;
    /// none for no events, unless `if_empty` (one empty document).
    fn documents(&self, found: &[Event], products: &Products, if_empty: bool) -> Vec<String> {
        let now = self.app.clock.now();
        let empty: [Event; 0] = [];
        let mut batches: Vec<&[Event]> = found.chunks(REPORT_BATCH).collect();
        if batches.is_empty() && if_empty {
            batches.push(&empty);
        }
        batches
            .into_iter()
            .map(|events| {
                if self.xml {
                    let list: Vec<_> = events
                        .iter()
                        .map(|e| {
                            let mut form = threadline_epcis::event_json(e, &products.catalogue);
                            threadline_epcis::format::reformat(
                                &mut form,
                                self.format,
                                &self.app.company_prefixes,
                            );
                            form
                        })
                        .collect();
                    let ctx = threadline_epcis::json::context_of(events);
                    return threadline_epcis::xml::write_subscription_document(
                        &list,
                        &ctx,
                        &self.query,
                        &self.id.to_string(),
                        &millis(now),
                    );
                }
                let mut doc =
                    threadline_epcis::query_document(&self.query, events, &products.catalogue, now);
                doc["epcisBody"]["queryResults"]["subscriptionID"] = json!(self.id.to_string());
                threadline_epcis::format::reformat_document(
                    &mut doc,
                    self.format,
                    &self.app.company_prefixes,
                );
                doc.to_string()
            })
            .collect()
    }
}
