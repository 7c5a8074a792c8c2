//! Webhook subscriptions and the delivery outbox on PostgreSQL. The outbox rows of a capture
//! are written by [`enqueue`] inside the capture transaction.

use deadpool_postgres::GenericClient;
use deadpool_postgres::Transaction;
use threadline_domain::event::Event;
use threadline_store::authenticity::AuthenticityCheck;
use threadline_store::webhook::{
    Attempt, AttemptOutcome, Delivery, DeliveryQuery, DeliveryStatus, EpcisSubscription,
    SubscriptionRun, Webhook, WebhookFilter, WebhookFormat, WebhookWrite, plan_check_deliveries,
    plan_deliveries, report_column, report_of_column, topics_column, topics_of_column,
};
use threadline_store::{AuditOf, Receipt, StoreError};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{PgStore, col, db, from_micros, micros, storable};

const HOOK_COLUMNS: &str = "id, name, url, format, secret, filter, language, active, version, created_at, updated_at, updated_by";
const DELIVERY_COLUMNS: &str = "id, webhook_id, event_id, seq, topics, status, attempts, next_attempt_at, created_at, last_attempt_at, last_status, last_error, check_id, report";

fn schema(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Schema(format!("stored {what}: {e}"))
}

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| schema("id", e))
}

fn hook(r: &Row) -> Result<Webhook, StoreError> {
    let id: String = col(r, 0)?;
    let format: String = col(r, 3)?;
    let filter: String = col(r, 5)?;
    let version: i32 = col(r, 8)?;
    Ok(Webhook {
        id: uuid(&id)?,
        name: col(r, 1)?,
        url: col(r, 2)?,
        format: WebhookFormat::parse(&format).ok_or_else(|| schema("webhook format", &format))?,
        secret: col(r, 4)?,
        filter: serde_json::from_str(&filter).map_err(|e| schema("filter", e))?,
        language: col(r, 6)?,
        active: col(r, 7)?,
        version: u32::try_from(version).unwrap_or(0),
        created_at: from_micros(col(r, 9)?),
        updated_at: from_micros(col(r, 10)?),
        updated_by: col(r, 11)?,
    })
}

fn delivery(r: &Row) -> Result<Delivery, StoreError> {
    let (id, hook, event): (String, String, Option<String>) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
    let status: String = col(r, 5)?;
    let topics: String = col(r, 4)?;
    let attempts: i32 = col(r, 6)?;
    let last_status: Option<i32> = col(r, 10)?;
    let last: Option<i64> = col(r, 9)?;
    Ok(Delivery {
        id: uuid(&id)?,
        webhook: uuid(&hook)?,
        event: event.as_deref().map(uuid).transpose()?,
        check: col(r, 12)?,
        report: report_of_column(col::<Option<String>>(r, 13)?.as_deref())?,
        seq: col(r, 3)?,
        topics: topics_of_column(&topics),
        status: DeliveryStatus::parse(&status).ok_or_else(|| schema("delivery status", &status))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_attempt_at: from_micros(col(r, 7)?),
        created_at: from_micros(col(r, 8)?),
        last_attempt_at: last.map(from_micros),
        last_status: last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: col(r, 11)?,
    })
}

fn invalid_name() -> StoreError {
    StoreError::Invalid(vec![
        threadline_domain::FieldError::new("invalid_name", "a name cannot contain NUL").at("name"),
    ])
}

async fn get_on(c: &impl GenericClient, name: &str) -> Result<Option<Webhook>, StoreError> {
    if !storable(name) {
        return Ok(None);
    }
    let row = c
        .query_opt(
            &format!("SELECT {HOOK_COLUMNS} FROM webhooks WHERE name = $1"),
            &[&name],
        )
        .await
        .map_err(db)?;
    row.as_ref().map(hook).transpose()
}

/// Inserts a new subscription; 0 rows when its name is taken.
async fn insert_hook(c: &impl GenericClient, h: &Webhook) -> Result<u64, StoreError> {
    let filter = serde_json::to_string(&h.filter).map_err(StoreError::db)?;
    c.execute(
        &format!(
            "INSERT INTO webhooks ({HOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9, $10)
             ON CONFLICT (name) DO NOTHING"
        ),
        &[
            &h.id.to_string(),
            &h.name,
            &h.url,
            &h.format.as_str(),
            &h.secret,
            &filter,
            &h.language,
            &h.active,
            &micros(h.updated_at),
            &h.updated_by,
        ],
    )
    .await
    .map_err(db)
}

/// A webhook with its deliveries and their log (its EPCIS subscription, if any, by cascade).
async fn delete_by_id(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
        &[&id],
    )
    .await
    .map_err(db)?;
    tx.execute(
        "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
        &[&id],
    )
    .await
    .map_err(db)?;
    tx.execute("DELETE FROM webhooks WHERE id = $1", &[&id])
        .await
        .map_err(db)?;
    Ok(())
}

const SUBSCRIPTION_COLUMNS: &str = "id, query_name, stream, schedule, report_if_empty, initial_record_time, after_seq, next_run_at, created_at, created_by";

fn subscription(r: &Row) -> Result<EpcisSubscription, StoreError> {
    let id: String = col(r, 0)?;
    let schedule: Option<String> = col(r, 3)?;
    let initial: Option<i64> = col(r, 5)?;
    let next: Option<i64> = col(r, 7)?;
    Ok(EpcisSubscription {
        id: uuid(&id)?,
        query: col(r, 1)?,
        stream: col(r, 2)?,
        schedule: schedule
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| schema("schedule", e))?,
        report_if_empty: col(r, 4)?,
        initial_record_time: initial.map(from_micros),
        after_seq: col(r, 6)?,
        next_run_at: next.map(from_micros),
        created_at: from_micros(col(r, 8)?),
        created_by: col(r, 9)?,
    })
}

async fn get_delivery_on(c: &impl GenericClient, id: Uuid) -> Result<Option<Delivery>, StoreError> {
    let row = c
        .query_opt(
            &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"),
            &[&id.to_string()],
        )
        .await
        .map_err(db)?;
    row.as_ref().map(delivery).transpose()
}

impl PgStore {
    pub(crate) async fn webhooks_list(&self) -> Result<Vec<Webhook>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY name"),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(hook).collect()
    }

    pub(crate) async fn webhooks_get(&self, name: &str) -> Result<Option<Webhook>, StoreError> {
        let client = self.client().await?;
        get_on(&client, name).await
    }

    pub(crate) async fn webhooks_put(
        &self,
        w: WebhookWrite,
        audit: Option<AuditOf<Webhook>>,
    ) -> Result<Webhook, StoreError> {
        let h = &w.webhook;
        if ![&h.name, &h.url, &h.secret, &h.updated_by]
            .iter()
            .all(|s| storable(s))
        {
            return Err(invalid_name());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let filter = serde_json::to_string(&h.filter).map_err(StoreError::db)?;
        let n = match w.replaces {
            None => insert_hook(&tx, h).await?,
            Some(v) => tx
                .execute(
                    "UPDATE webhooks SET url = $2, format = $3, secret = $4, filter = $5, language = $6,
                        active = $7, version = version + 1, updated_at = $8, updated_by = $9
                     WHERE name = $1 AND version = $10",
                    &[
                        &h.name,
                        &h.url,
                        &h.format.as_str(),
                        &h.secret,
                        &filter,
                        &h.language,
                        &h.active,
                        &micros(h.updated_at),
                        &h.updated_by,
                        &i32::try_from(v).unwrap_or(i32::MAX),
                    ],
                )
                .await
                .map_err(db)?,
        };
        if n == 0 {
            return Err(match (w.replaces, get_on(&tx, &h.name).await?) {
                (None, _) => w.taken(),
                (Some(_), Some(current)) => w.stale(current.version),
                (Some(_), None) => StoreError::NotFound(format!("webhook {}", h.name)),
            });
        }
        let saved = get_on(&tx, &h.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("webhook {}", h.name)))?;
        crate::audit::append_of(&tx, audit, &saved).await?;
        tx.commit().await.map_err(db)?;
        Ok(saved)
    }

    pub(crate) async fn webhooks_delete(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let Some(h) = get_on(&tx, name).await? else {
            return Err(StoreError::NotFound(format!("webhook {name}")));
        };
        delete_by_id(&tx, &h.id.to_string()).await?;
        crate::audit::append_of(&tx, audit, &()).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn subscription_create(
        &self,
        hook: Webhook,
        s: EpcisSubscription,
        audit: Option<AuditOf<EpcisSubscription>>,
    ) -> Result<(), StoreError> {
        if ![&hook.name, &hook.url, &hook.secret, &s.query, &s.created_by]
            .iter()
            .all(|x| storable(x))
        {
            return Err(invalid_name());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let known = tx
            .query_opt("SELECT 1 FROM epcis_queries WHERE name = $1", &[&s.query])
            .await
            .map_err(db)?;
        if known.is_none() {
            return Err(StoreError::NotFound(format!("query {}", s.query)));
        }
        if insert_hook(&tx, &hook).await? == 0 {
            return Err(WebhookWrite {
                webhook: hook,
                replaces: None,
            }
            .taken());
        }
        let schedule = s
            .schedule
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(StoreError::db)?;
        tx.execute(
            &format!(
                "INSERT INTO epcis_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &s.id.to_string(),
                &s.query,
                &s.stream,
                &schedule,
                &s.report_if_empty,
                &s.initial_record_time.map(micros),
                &s.after_seq,
                &s.next_run_at.map(micros),
                &micros(s.created_at),
                &s.created_by,
            ],
        )
        .await
        .map_err(db)?;
        crate::audit::append_of(&tx, audit, &s).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn subscriptions_list(&self) -> Result<Vec<EpcisSubscription>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM epcis_subscriptions ORDER BY created_at, id"
                ),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter().map(subscription).collect()
    }

    pub(crate) async fn subscription_delete(
        &self,
        id: Uuid,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let known = tx
            .query_opt("SELECT 1 FROM epcis_subscriptions WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        if known.is_none() {
            return Err(StoreError::NotFound(format!("subscription {id}")));
        }
        delete_by_id(&tx, &id).await?;
        crate::audit::append_of(&tx, audit, &()).await?;
        tx.commit().await.map_err(db)
    }

    /// Deletes a named query and the webhooks of its subscriptions, in one transaction.
    pub(crate) async fn query_delete(
        &self,
        name: &str,
        audit: Option<AuditOf<()>>,
    ) -> Result<(), StoreError> {
        if !storable(name) {
            return Err(StoreError::NotFound(format!("query {name}")));
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let ids: Vec<String> = tx
            .query(
                "SELECT id FROM epcis_subscriptions WHERE query_name = $1",
                &[&name],
            )
            .await
            .map_err(db)?
            .iter()
            .map(|r| col(r, 0))
            .collect::<Result<_, _>>()?;
        for id in ids {
            delete_by_id(&tx, &id).await?;
        }
        let n = tx
            .execute("DELETE FROM epcis_queries WHERE name = $1", &[&name])
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("query {name}")));
        }
        crate::audit::append_of(&tx, audit, &()).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn subscription_advance(
        &self,
        run: SubscriptionRun,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "UPDATE epcis_subscriptions SET after_seq = $3, next_run_at = $5
                 WHERE id = $1 AND after_seq = $2 AND next_run_at IS NOT DISTINCT FROM $4",
                &[
                    &run.id.to_string(),
                    &run.from_seq,
                    &run.to_seq,
                    &run.due.map(micros),
                    &run.next_run_at.map(micros),
                ],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Ok(false);
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (id, webhook_id, event_id, report, seq, topics, status, attempts, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
            )
            .await
            .map_err(db)?;
        for d in &run.deliveries {
            tx.execute(
                &insert,
                &[
                    &d.id.to_string(),
                    &d.webhook.to_string(),
                    &d.event.map(|e| e.to_string()),
                    &report_column(&d.report),
                    &d.seq,
                    &topics_column(&d.topics),
                    &micros(d.created_at),
                ],
            )
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    pub(crate) async fn deliveries_claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "UPDATE webhook_deliveries SET next_attempt_at = $2
                     WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
                            AND webhook_id IN (SELECT id FROM webhooks WHERE active)
                                  ORDER BY next_attempt_at, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&now, &lease_until, &i64::from(limit)],
            )
            .await
            .map_err(db)?;
        let mut out = rows.iter().map(delivery).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|d| d.seq);
        Ok(out)
    }

    pub(crate) async fn deliveries_finish(
        &self,
        id: Uuid,
        o: AttemptOutcome,
    ) -> Result<(), StoreError> {
        let a = &o.attempt;
        let error = a.error.as_ref().map(|e| e.replace('\0', ""));
        let status = a.status.map(i32::from);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3,
                    last_attempt_at = $4, last_status = $5, last_error = $6 WHERE id = $1",
                &[
                    &id.to_string(),
                    &o.status.as_str(),
                    &micros(o.next_attempt_at),
                    &micros(a.at),
                    &status,
                    &error,
                ],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("delivery {id}")));
        }
        tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
            &[
                &id.to_string(),
                &micros(a.at),
                &status,
                &error,
                &i32::try_from(a.duration_ms).unwrap_or(i32::MAX),
            ],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn deliveries_list(
        &self,
        q: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                     WHERE ($1::text IS NULL OR webhook_id = $1) AND ($2::text IS NULL OR status = $2)
                     ORDER BY seq DESC, id LIMIT $3"
                ),
                &[
                    &q.webhook.map(|w| w.to_string()),
                    &q.status.map(|s| s.as_str()),
                    &i64::from(q.limit),
                ],
            )
            .await
            .map_err(db)?;
        rows.iter().map(delivery).collect()
    }

    pub(crate) async fn deliveries_get(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        let client = self.client().await?;
        get_delivery_on(&client, id).await
    }

    pub(crate) async fn deliveries_attempts(&self, id: Uuid) -> Result<Vec<Attempt>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY at, ctid",
                &[&id.to_string()],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let status: Option<i32> = col(r, 1)?;
                let ms: i32 = col(r, 3)?;
                Ok(Attempt {
                    delivery: id,
                    at: from_micros(col(r, 0)?),
                    status: status.and_then(|s| u16::try_from(s).ok()),
                    error: col(r, 2)?,
                    duration_ms: u32::try_from(ms).unwrap_or(0),
                })
            })
            .collect()
    }

    pub(crate) async fn deliveries_redeliver(
        &self,
        id: Uuid,
        now: i64,
        audit: Option<AuditOf<Delivery>>,
    ) -> Result<Delivery, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let n = tx
            .execute(
                "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $2 WHERE id = $1",
                &[&id.to_string(), &now],
            )
            .await
            .map_err(db)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("delivery {id}")));
        }
        let d = get_delivery_on(&tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("delivery {id}")))?;
        crate::audit::append_of(&tx, audit, &d).await?;
        tx.commit().await.map_err(db)?;
        Ok(d)
    }
}

/// Queues the deliveries of a batch just appended, in the capture transaction.
/// The active subscriptions and their filters.
async fn active(tx: &Transaction<'_>) -> Result<Vec<(Uuid, WebhookFilter)>, StoreError> {
    let stmt = tx
        .prepare_cached(
            "SELECT id, filter FROM webhooks WHERE active AND format NOT IN ('epcis', 'epcis_xml')",
        )
        .await
        .map_err(db)?;
    tx.query(&stmt, &[])
        .await
        .map_err(db)?
        .iter()
        .map(|r| {
            let id: String = col(r, 0)?;
            let filter: String = col(r, 1)?;
            let filter: WebhookFilter =
                serde_json::from_str(&filter).map_err(|e| schema("filter", e))?;
            Ok((uuid(&id)?, filter))
        })
        .collect()
}

/// Queues the deliveries of an authenticity check just recorded as `id`, in its transaction.
/// The ledger's length is read, not locked: a check does not queue behind captures.
pub(crate) async fn enqueue_check(
    tx: &Transaction<'_>,
    check: &AuthenticityCheck,
    id: i64,
) -> Result<(), StoreError> {
    let hooks = active(tx).await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let head = tx
        .query_one("SELECT seq FROM ledger_head WHERE id = 1", &[])
        .await
        .map_err(db)?;
    let seq: i64 = col(&head, 0)?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO webhook_deliveries (id, webhook_id, check_id, seq, topics, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        )
        .await
        .map_err(db)?;
    for d in plan_check_deliveries(&hooks, check, id, seq) {
        tx.execute(
            &insert,
            &[
                &d.id.to_string(),
                &d.webhook.to_string(),
                &d.check,
                &d.seq,
                &topics_column(&d.topics),
                &micros(d.created_at),
            ],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub(crate) async fn enqueue(
    tx: &Transaction<'_>,
    events: &[Event],
    receipts: &[Receipt],
) -> Result<(), StoreError> {
    let hooks = active(tx).await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let Some(now) = events.first().map(|e| e.record_time) else {
        return Ok(());
    };
    // Location ancestry is read before planning (planning is synchronous): every location the
    // batch happened at, with its parents.
    let mut chains = std::collections::HashMap::new();
    if hooks.iter().any(|(_, f)| !f.locations.is_empty()) {
        let parent = tx
            .prepare_cached("SELECT parent FROM locations WHERE code = $1")
            .await
            .map_err(db)?;
        for e in events {
            for place in threadline_store::webhook::places_of(e) {
                if chains.contains_key(place) {
                    continue;
                }
                let mut chain = vec![place.to_owned()];
                while chain.len() < 16 {
                    let Some(last) = chain.last() else { break };
                    let row = tx.query_opt(&parent, &[last]).await.map_err(db)?;
                    let p: Option<String> = match row {
                        Some(r) => col(&r, 0)?,
                        None => None,
                    };
                    match p {
                        Some(p) if !chain.contains(&p) => chain.push(p),
                        _ => break,
                    }
                }
                chains.insert(place.to_owned(), chain);
            }
        }
    }
    let batch: Vec<(&Event, i64)> = events.iter().zip(receipts.iter().map(|r| r.seq)).collect();
    let planned = plan_deliveries(&hooks, &batch, now, |code| {
        Ok(chains
            .get(code)
            .cloned()
            .unwrap_or_else(|| vec![code.to_owned()]))
    })?;
    if planned.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(planned.len());
    let mut hook_ids = Vec::with_capacity(planned.len());
    let mut event_ids = Vec::with_capacity(planned.len());
    let mut seqs = Vec::with_capacity(planned.len());
    let mut topics = Vec::with_capacity(planned.len());
    for d in &planned {
        ids.push(d.id.to_string());
        hook_ids.push(d.webhook.to_string());
        event_ids.push(d.event.map(|e| e.to_string()));
        seqs.push(d.seq);
        topics.push(topics_column(&d.topics));
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, seq, topics, status, attempts, next_attempt_at, created_at)
             SELECT k.id, k.hook, k.event, k.seq, k.topics, 'pending', 0, $6, $6
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) AS k(id, hook, event, seq, topics)",
        )
        .await
        .map_err(db)?;
    tx.execute(
        &insert,
        &[&ids, &hook_ids, &event_ids, &seqs, &topics, &micros(now)],
    )
    .await
    .map_err(db)?;
    Ok(())
}
