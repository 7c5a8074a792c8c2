//! WebSocket query subscriptions, the REST binding's other way to subscribe: `GET
//! /epcis/queries/{name}/events?stream=true` upgraded to a WebSocket sends, as they are
//! captured, the events the named query matches — as `EPCISQueryDocument`s (JSON-LD, at most
//! 500 events each) naming the query and the socket's subscription ID — until either side
//! closes it.
//!
//! What a socket sends is what its client may read: the upgrade request passed the route's
//! guard (`read`, an EPCIS problem document otherwise), and every event is masked, kept behind
//! a partner's wall and a site's scope by the same [`Reader`] as the query itself. A socket
//! holds no row: it streams from the ledger's end when it opened, looking for new entries every
//! [`POLL`]; a client that reconnects asks a plain query for what it missed. Scheduled
//! subscriptions stay with webhooks (`POST …/subscriptions`), which outlive a connection.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use threadline_domain::error::FieldError;
use threadline_domain::event::Event;
use threadline_domain::mask::masked;
use threadline_epcis::format::EpcFormat;
use threadline_epcis::query::Filter;
use uuid::Uuid;

use super::subscriptions::REPORT_BATCH;
use super::{Problem, Products, Reader, judge, narrowed, prepared_filter};
use crate::AppState;

/// How often an open socket looks for newly captured events.
pub const POLL: Duration = Duration::from_millis(200);
/// Most ledger entries one look reads; the rest wait for the next.
const LOOK_LIMIT: usize = 20_000;

/// Parameters the query string of a WebSocket subscription may carry.
const PARAMETERS: [&str; 1] = ["stream"];

/// Opens a WebSocket subscription to the named query's `params` for the request's reader:
/// `own` (the request's query string) must ask for a stream.
pub async fn open(
    app: AppState,
    headers: &HeaderMap,
    reader: Reader,
    query: String,
    params: Vec<(String, String)>,
    own: &[(String, String)],
    ws: WebSocketUpgrade,
) -> Result<Response, Problem> {
    for (k, v) in own {
        if !PARAMETERS.contains(&k.as_str()) {
            let why = match k.as_str() {
                "second" | "minute" | "hour" | "dayOfMonth" | "month" | "dayOfWeek" => {
                    "scheduled subscriptions are webhooks: POST /epcis/queries/{name}/subscriptions"
                }
                _ => "a WebSocket subscription takes only stream=true",
            };
            return Err(Problem::query(FieldError::new("not_allowed", why).at(k)));
        }
        if k == "stream" && v != "true" {
            return Err(Problem::query(
                FieldError::new("invalid_value", "stream is true").at("stream"),
            ));
        }
    }
    if !own.iter().any(|(k, _)| k == "stream") {
        return Err(Problem::query(
            FieldError::new("required", "a WebSocket subscription asks for stream=true")
                .at("stream"),
        ));
    }
    let format = EpcFormat::parse(headers.get("gs1-epc-format").and_then(|v| v.to_str().ok()))
        .map_err(|e| Problem::validation(vec![e]))?;
    let filter = prepared_filter(&app, &params).await?;
    let after = app.store.ledger_len().await?;
    let stream = Stream {
        app,
        query,
        filter,
        reader,
        format,
        after,
        id: Uuid::now_v7(),
    };
    Ok(ws.on_upgrade(move |socket| stream.run(socket)))
}

struct Stream {
    app: AppState,
    query: String,
    filter: Filter,
    reader: Reader,
    format: EpcFormat,
    /// The last ledger sequence looked at.
    after: i64,
    id: Uuid,
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
                    let docs = match self.look().await {
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

    /// The events captured since the last look that the query matches, as
    /// `EPCISQueryDocument`s of at most [`REPORT_BATCH`] events; none when none matched.
    async fn look(&mut self) -> Result<Vec<String>, Problem> {
        let head = self.app.store.ledger_len().await?;
        if head <= self.after {
            return Ok(Vec::new());
        }
        let Some(mut q) = narrowed(&self.app, &self.filter).await? else {
            self.after = head;
            return Ok(Vec::new());
        };
        q.after_seq = Some(self.after);
        let mut products = Products::default();
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
        let now = self.app.clock.now();
        Ok(found
            .chunks(REPORT_BATCH)
            .map(|events| {
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
            .collect())
    }
}
