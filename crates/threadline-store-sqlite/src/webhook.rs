//! Webhook subscriptions and the delivery outbox on SQLite. The outbox rows of a capture are
//! written by [`enqueue`] inside the capture transaction.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use threadline_domain::event::Event;
use threadline_store::authenticity::AuthenticityCheck;
use threadline_store::webhook::{
    Attempt, AttemptOutcome, Delivery, DeliveryQuery, DeliveryStatus, EpcisSubscription,
    SubscriptionRun, Webhook, WebhookFilter, WebhookFormat, WebhookWrite, plan_check_deliveries,
    plan_deliveries, report_column, report_of_column, topics_column, topics_of_column,
};
use threadline_store::{Receipt, StoreError};
use uuid::Uuid;

use crate::{db, from_micros, micros};

const HOOK_COLUMNS: &str = "id, name, url, format, secret, filter, language, active, version, created_at, updated_at, updated_by";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, seq, topics, status, attempts, next_attempt_at, created_at, last_attempt_at, last_status, last_error, check_id, report";

fn schema(what: &str) -> impl Fn(String) -> StoreError + '_ {
    move |e| StoreError::Schema(format!("stored {what}: {e}"))
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| schema("id")(e.to_string()))
}

fn hook(r: &Row<'_>) -> rusqlite::Result<Result<Webhook, StoreError>> {
    let id: String = r.get(0)?;
    let format: String = r.get(3)?;
    let filter: String = r.get(5)?;
    let version: i64 = r.get(8)?;
    Ok((|| {
        Ok(Webhook {
            id: uuid(&id)?,
            name: r.get(1).map_err(db)?,
            url: r.get(2).map_err(db)?,
            format: WebhookFormat::parse(&format)
                .ok_or_else(|| schema("webhook format")(format.clone()))?,
            secret: r.get(4).map_err(db)?,
            filter: serde_json::from_str(&filter).map_err(|e| schema("filter")(e.to_string()))?,
            language: r.get(6).map_err(db)?,
            active: r.get(7).map_err(db)?,
            version: u32::try_from(version).unwrap_or(0),
            created_at: from_micros(r.get(9).map_err(db)?),
            updated_at: from_micros(r.get(10).map_err(db)?),
            updated_by: r.get(11).map_err(db)?,
        })
    })())
}

fn delivery(r: &Row<'_>) -> rusqlite::Result<Result<Delivery, StoreError>> {
    let (id, hook, event): (String, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let check: Option<i64> = r.get(12)?;
    let report: Option<String> = r.get(13)?;
    let status: String = r.get(5)?;
    let attempts: i64 = r.get(6)?;
    let last_status: Option<i64> = r.get(10)?;
    let topics: String = r.get(4)?;
    let seq: i64 = r.get(3)?;
    let (next, created, last): (i64, i64, Option<i64>) = (r.get(7)?, r.get(8)?, r.get(9)?);
    let last_error: Option<String> = r.get(11)?;
    Ok((|| {
        Ok(Delivery {
            id: uuid(&id)?,
            webhook: uuid(&hook)?,
            event: event.as_deref().map(uuid).transpose()?,
            check,
            report: report_of_column(report.as_deref())?,
            seq,
            topics: topics_of_column(&topics),
            status: DeliveryStatus::parse(&status)
                .ok_or_else(|| schema("delivery status")(status.clone()))?,
            attempts: u32::try_from(attempts).unwrap_or(0),
            next_attempt_at: from_micros(next),
            created_at: from_micros(created),
            last_attempt_at: last.map(from_micros),
            last_status: last_status.and_then(|s| u16::try_from(s).ok()),
            last_error,
        })
    })())
}

fn flatten<T>(r: rusqlite::Result<Result<T, StoreError>>) -> Result<T, StoreError> {
    r.map_err(db)?
}

pub fn list(c: &Connection) -> Result<Vec<Webhook>, StoreError> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY name"
        ))
        .map_err(db)?;
    let rows = st.query_map([], hook).map_err(db)?;
    rows.map(flatten).collect()
}

pub fn get(c: &Connection, name: &str) -> Result<Option<Webhook>, StoreError> {
    c.query_row(
        &format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE name = ?1"),
        [name],
        hook,
    )
    .optional()
    .map_err(db)?
    .transpose()
}

pub fn put(c: &Connection, w: &WebhookWrite) -> Result<Webhook, StoreError> {
    let h = &w.webhook;
    let filter = serde_json::to_string(&h.filter).map_err(StoreError::db)?;
    match w.replaces {
        None => {
            let n = c
                .execute(
                    &format!("INSERT INTO webhooks ({HOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9, ?10)
                     ON CONFLICT (name) DO NOTHING"),
                    params![
                        h.id.to_string(),
                        h.name,
                        h.url,
                        h.format.as_str(),
                        h.secret,
                        filter,
                        h.language,
                        h.active,
                        micros(h.updated_at),
                        h.updated_by
                    ],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(w.taken());
            }
        }
        Some(v) => {
            let n = c
                .execute(
                    "UPDATE webhooks SET url = ?2, format = ?3, secret = ?4, filter = ?5, language = ?6,
                        active = ?7, version = version + 1, updated_at = ?8, updated_by = ?9
                     WHERE name = ?1 AND version = ?10",
                    params![
                        h.name,
                        h.url,
                        h.format.as_str(),
                        h.secret,
                        filter,
                        h.language,
                        h.active,
                        micros(h.updated_at),
                        h.updated_by,
                        i64::from(v)
                    ],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(match get(c, &h.name)? {
                    Some(current) => w.stale(current.version),
                    None => StoreError::NotFound(format!("webhook {}", h.name)),
                });
            }
        }
    }
    get(c, &h.name)?.ok_or_else(|| StoreError::NotFound(format!("webhook {}", h.name)))
}

pub fn delete(c: &Connection, name: &str) -> Result<(), StoreError> {
    let Some(h) = get(c, name)? else {
        return Err(StoreError::NotFound(format!("webhook {name}")));
    };
    delete_by_id(c, &h.id.to_string())
}

/// A webhook with its deliveries and their log (its EPCIS subscription, if any, by cascade).
fn delete_by_id(c: &Connection, id: &str) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = ?1)",
        [id],
    )
    .map_err(db)?;
    c.execute("DELETE FROM webhook_deliveries WHERE webhook_id = ?1", [id])
        .map_err(db)?;
    c.execute("DELETE FROM webhooks WHERE id = ?1", [id])
        .map_err(db)?;
    Ok(())
}

const SUBSCRIPTION_COLUMNS: &str = "id, query_name, stream, schedule, report_if_empty, initial_record_time, after_seq, next_run_at, created_at, created_by";

/// Creates a subscription and its webhook; `NotFound` when the query does not exist.
pub fn create_subscription(
    tx: &Transaction,
    hook: &Webhook,
    s: &EpcisSubscription,
) -> Result<(), StoreError> {
    let known: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM epcis_queries WHERE name = ?1",
            [&s.query],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if known.is_none() {
        return Err(StoreError::NotFound(format!("query {}", s.query)));
    }
    put(
        tx,
        &WebhookWrite {
            webhook: hook.clone(),
            replaces: None,
        },
    )?;
    let schedule = s
        .schedule
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(StoreError::db)?;
    tx.execute(
        &format!(
            "INSERT INTO epcis_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            s.id.to_string(),
            s.query,
            s.stream,
            schedule,
            s.report_if_empty,
            s.initial_record_time.map(micros),
            s.after_seq,
            s.next_run_at.map(micros),
            micros(s.created_at),
            s.created_by
        ],
    )
    .map_err(db)?;
    Ok(())
}

pub fn subscriptions(c: &Connection) -> Result<Vec<EpcisSubscription>, StoreError> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM epcis_subscriptions ORDER BY created_at, id"
        ))
        .map_err(db)?;
    let rows = st
        .query_map([], |r| {
            let id: String = r.get(0)?;
            let schedule: Option<String> = r.get(3)?;
            let initial: Option<i64> = r.get(5)?;
            let next: Option<i64> = r.get(7)?;
            Ok((|| {
                Ok(EpcisSubscription {
                    id: uuid(&id)?,
                    query: r.get(1).map_err(db)?,
                    stream: r.get(2).map_err(db)?,
                    schedule: schedule
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| schema("schedule")(e.to_string()))?,
                    report_if_empty: r.get(4).map_err(db)?,
                    initial_record_time: initial.map(from_micros),
                    after_seq: r.get(6).map_err(db)?,
                    next_run_at: next.map(from_micros),
                    created_at: from_micros(r.get(8).map_err(db)?),
                    created_by: r.get(9).map_err(db)?,
                })
            })())
        })
        .map_err(db)?;
    rows.map(flatten).collect()
}

pub fn delete_subscription(tx: &Transaction, id: Uuid) -> Result<(), StoreError> {
    let id = id.to_string();
    let known: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM epcis_subscriptions WHERE id = ?1",
            [&id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if known.is_none() {
        return Err(StoreError::NotFound(format!("subscription {id}")));
    }
    delete_by_id(tx, &id)
}

/// The webhooks of every subscription to a query, before the query goes.
pub fn delete_query_subscriptions(tx: &Transaction, query: &str) -> Result<(), StoreError> {
    let ids: Vec<String> = {
        let mut st = tx
            .prepare_cached("SELECT id FROM epcis_subscriptions WHERE query_name = ?1")
            .map_err(db)?;
        st.query_map([query], |r| r.get(0))
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)?
    };
    for id in ids {
        delete_by_id(tx, &id)?;
    }
    Ok(())
}

pub fn advance(tx: &Transaction, run: &SubscriptionRun) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE epcis_subscriptions SET after_seq = ?3, next_run_at = ?5
             WHERE id = ?1 AND after_seq = ?2 AND next_run_at IS ?4",
            params![
                run.id.to_string(),
                run.from_seq,
                run.to_seq,
                run.due.map(micros),
                run.next_run_at.map(micros)
            ],
        )
        .map_err(db)?;
    if n == 0 {
        return Ok(false);
    }
    insert(tx, run.deliveries.clone())?;
    Ok(true)
}

/// The active subscriptions and their filters.
fn active(tx: &Transaction) -> Result<Vec<(Uuid, WebhookFilter)>, StoreError> {
    let mut st = tx
        .prepare_cached(
            "SELECT id, filter FROM webhooks WHERE active AND format NOT IN ('epcis', 'epcis_xml')",
        )
        .map_err(db)?;
    st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(db)?
        .map(|r| {
            let (id, filter) = r.map_err(db)?;
            let filter: WebhookFilter =
                serde_json::from_str(&filter).map_err(|e| schema("filter")(e.to_string()))?;
            Ok((uuid(&id)?, filter))
        })
        .collect()
}

fn insert(tx: &Transaction, planned: Vec<Delivery>) -> Result<(), StoreError> {
    let mut insert = tx
        .prepare_cached(&format!(
            "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, NULL, NULL, NULL, ?7, ?8)"
        ))
        .map_err(db)?;
    for d in planned {
        insert
            .execute(params![
                d.id.to_string(),
                d.webhook.to_string(),
                d.event.map(|e| e.to_string()),
                d.seq,
                topics_column(&d.topics),
                micros(d.created_at),
                d.check,
                report_column(&d.report)
            ])
            .map_err(db)?;
    }
    Ok(())
}

/// Queues the deliveries of an authenticity check just recorded as `id`, in its transaction.
pub(crate) fn enqueue_check(
    tx: &Transaction,
    check: &AuthenticityCheck,
    id: i64,
) -> Result<(), StoreError> {
    let hooks = active(tx)?;
    if hooks.is_empty() {
        return Ok(());
    }
    let (seq, _) = crate::capture::head(tx)?;
    insert(tx, plan_check_deliveries(&hooks, check, id, seq))
}

/// Queues the deliveries of a batch just appended, in the capture transaction.
pub(crate) fn enqueue(
    tx: &Transaction,
    events: &[Event],
    receipts: &[Receipt],
) -> Result<(), StoreError> {
    let hooks = active(tx)?;
    if hooks.is_empty() {
        return Ok(());
    }
    let Some(now) = events.first().map(|e| e.record_time) else {
        return Ok(());
    };
    let batch: Vec<(&Event, i64)> = events.iter().zip(receipts.iter().map(|r| r.seq)).collect();
    let planned = plan_deliveries(&hooks, &batch, now, |code| ancestors(tx, code))?;
    insert(tx, planned)
}

/// A location and its parents, itself first (at most 16 levels: locations cannot loop, but a
/// bound costs nothing).
fn ancestors(tx: &Transaction, code: &str) -> Result<Vec<String>, StoreError> {
    let mut out = vec![code.to_owned()];
    let mut st = tx
        .prepare_cached("SELECT parent FROM locations WHERE code = ?1")
        .map_err(db)?;
    while out.len() < 16 {
        let Some(last) = out.last() else { break };
        let parent: Option<String> = st
            .query_row([last], |r| r.get(0))
            .optional()
            .map_err(db)?
            .flatten();
        match parent {
            Some(p) if !out.contains(&p) => out.push(p),
            _ => break,
        }
    }
    Ok(out)
}

/// Takes up to `limit` due deliveries and hides them from other claims until `lease_until`.
pub fn claim(
    tx: &Transaction,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let mut st = tx
        .prepare_cached(&format!(
            "UPDATE webhook_deliveries SET next_attempt_at = ?2
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1
                            AND webhook_id IN (SELECT id FROM webhooks WHERE active)
                          ORDER BY next_attempt_at, seq LIMIT ?3)
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .map_err(db)?;
    let rows = st
        .query_map(params![now, lease_until, i64::from(limit)], delivery)
        .map_err(db)?;
    let mut out = rows.map(flatten).collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|d| d.seq);
    Ok(out)
}

pub fn finish(tx: &Transaction, id: Uuid, o: &AttemptOutcome) -> Result<(), StoreError> {
    let a = &o.attempt;
    let n = tx
        .execute(
            "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1, next_attempt_at = ?3,
                last_attempt_at = ?4, last_status = ?5, last_error = ?6 WHERE id = ?1",
            params![
                id.to_string(),
                o.status.as_str(),
                micros(o.next_attempt_at),
                micros(a.at),
                a.status.map(i64::from),
                a.error
            ],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("delivery {id}")));
    }
    tx.execute(
        "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.to_string(),
            micros(a.at),
            a.status.map(i64::from),
            a.error,
            i64::from(a.duration_ms)
        ],
    )
    .map_err(db)?;
    Ok(())
}

pub fn list_deliveries(c: &Connection, q: &DeliveryQuery) -> Result<Vec<Delivery>, StoreError> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
             WHERE (?1 IS NULL OR webhook_id = ?1) AND (?2 IS NULL OR status = ?2)
             ORDER BY seq DESC, id LIMIT ?3"
        ))
        .map_err(db)?;
    let rows = st
        .query_map(
            params![
                q.webhook.map(|w| w.to_string()),
                q.status.map(|s| s.as_str()),
                i64::from(q.limit)
            ],
            delivery,
        )
        .map_err(db)?;
    rows.map(flatten).collect()
}

pub fn get_delivery(c: &Connection, id: Uuid) -> Result<Option<Delivery>, StoreError> {
    c.query_row(
        &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1"),
        [id.to_string()],
        delivery,
    )
    .optional()
    .map_err(db)?
    .transpose()
}

pub fn attempts(c: &Connection, id: Uuid) -> Result<Vec<Attempt>, StoreError> {
    let mut st = c
        .prepare_cached(
            "SELECT at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY at, rowid",
        )
        .map_err(db)?;
    let rows = st
        .query_map([id.to_string()], |r| {
            Ok(Attempt {
                delivery: id,
                at: from_micros(r.get(0)?),
                status: r
                    .get::<_, Option<i64>>(1)?
                    .and_then(|s| u16::try_from(s).ok()),
                error: r.get(2)?,
                duration_ms: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })
        .map_err(db)?;
    rows.map(|r| r.map_err(db)).collect()
}

pub fn redeliver(c: &Connection, id: Uuid, now: i64) -> Result<Delivery, StoreError> {
    let n = c
        .execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?2 WHERE id = ?1",
            params![id.to_string(), now],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("delivery {id}")));
    }
    get_delivery(c, id)?.ok_or_else(|| StoreError::NotFound(format!("delivery {id}")))
}
