//! Webhook subscriptions and their outbox, as stored.
//!
//! A subscription says which events a receiver wants ([`WebhookFilter`]); `Store::capture`
//! writes one [`Delivery`] per matching subscription and event in the same transaction as the
//! event (the outbox), so an event is never recorded without its deliveries nor a delivery
//! queued for an event that was rolled back. A worker in the server claims due deliveries,
//! sends them and records each attempt. Which events match is decided here, once, for both
//! engines; the engines only load subscriptions and store rows.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use threadline_domain::error::FieldError;
use threadline_domain::event::{Event, HoldChange, HoldKind};
use uuid::Uuid;

use crate::authenticity::AuthenticityCheck;

/// What an event means to a receiver. Every event is an `event`; some are more.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Any event recorded in the ledger.
    Event,
    /// A hold placed (QC, recall or admin).
    Hold,
    /// A hold released.
    Release,
    /// A recall hold placed: a recall campaign reached these units or lots.
    Recall,
    /// A QC failure: an inspection left them non-conformant, or a QC hold was placed.
    QcFailed,
    /// A sale outside the seller's authorised regions (窜货): the event carries `diversion`.
    Diversion,
    /// An authenticity check (防伪) judged `suspicious`, or naming a code of ours we never
    /// issued (`unknown`). A check is no ledger event: only a subscription that names this
    /// topic hears of checks, and its delivery carries the check instead of an event.
    SuspiciousCheck,
    /// A partner's EPCIS event recorded although a unit it moved was on hold (QC, recall or
    /// admin): Threadline's own API would have refused it (`on_hold`, `qc_hold`), and the unit
    /// has taken the step all the same.
    PastHold,
}

impl Topic {
    pub const ALL: [Topic; 8] = [
        Topic::Event,
        Topic::Hold,
        Topic::Release,
        Topic::Recall,
        Topic::QcFailed,
        Topic::Diversion,
        Topic::SuspiciousCheck,
        Topic::PastHold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Event => "event",
            Topic::Hold => "hold",
            Topic::Release => "release",
            Topic::Recall => "recall",
            Topic::QcFailed => "qc_failed",
            Topic::Diversion => "diversion",
            Topic::SuspiciousCheck => "suspicious_check",
            Topic::PastHold => "past_hold",
        }
    }

    pub fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The topics of one event, most general first.
    pub fn of(event: &Event) -> Vec<Topic> {
        let mut out = vec![Topic::Event];
        match event.hold {
            Some(HoldChange::Place(kind)) => {
                out.push(Topic::Hold);
                if kind == HoldKind::Recall {
                    out.push(Topic::Recall);
                }
            }
            Some(HoldChange::Release(_)) => out.push(Topic::Release),
            None => {}
        }
        let non_conformant = event
            .disposition
            .as_ref()
            .is_some_and(|d| d.as_str() == "non_conformant");
        if non_conformant || event.hold == Some(HoldChange::Place(HoldKind::Qc)) {
            out.push(Topic::QcFailed);
        }
        if event.fields.get("diversion").is_some_and(|d| !d.is_null()) {
            out.push(Topic::Diversion);
        }
        if threadline_domain::projection::past_hold(&event.process_discrepancies) {
            out.push(Topic::PastHold);
        }
        out
    }
}

/// Which events a subscription wants. Every list that is not empty must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookFilter {
    /// The event is any of these topics; empty: every event.
    #[serde(default)]
    pub topics: Vec<Topic>,
    /// It names a unit or lot of any of these products.
    #[serde(default)]
    pub products: Vec<String>,
    /// It happened at one of these locations or anywhere under one (a site, an area, a line).
    #[serde(default)]
    pub locations: Vec<String>,
    /// Its business step (the operation) is one of these (`shipping`, `inspecting`, …).
    #[serde(default)]
    pub biz_steps: Vec<String>,
}

impl WebhookFilter {
    /// Does `event` match, given its topics and the ancestors (self included) of the
    /// locations it happened at?
    pub fn matches(&self, event: &Event, topics: &[Topic], places: &BTreeSet<String>) -> bool {
        (self.topics.is_empty() || self.topics.iter().any(|t| topics.contains(t)))
            && (self.products.is_empty() || {
                let named = products_of(event);
                self.products.iter().any(|p| named.contains(p.as_str()))
            })
            && (self.locations.is_empty() || self.locations.iter().any(|l| places.contains(l)))
            && (self.biz_steps.is_empty()
                || event
                    .biz_step
                    .as_ref()
                    .is_some_and(|s| self.biz_steps.iter().any(|b| b == s.as_str())))
    }

    /// Does an authenticity check match? Only when the subscription names
    /// [`Topic::SuspiciousCheck`] (an empty topic list means every *event*), its products
    /// include the unit checked, and it asks for no location or business step — a check
    /// happens at none of ours and is no step.
    pub fn matches_check(&self, check: &AuthenticityCheck) -> bool {
        check.is_alert()
            && self.topics.contains(&Topic::SuspiciousCheck)
            && (self.products.is_empty()
                || check
                    .product
                    .as_deref()
                    .is_some_and(|p| self.products.iter().any(|x| x == p)))
            && self.locations.is_empty()
            && self.biz_steps.is_empty()
    }
}

/// Product codes of every unit and lot an event names.
pub fn products_of(event: &Event) -> BTreeSet<&str> {
    let items = event
        .items
        .iter()
        .chain(&event.children)
        .chain(&event.inputs)
        .chain(&event.outputs)
        .chain(&event.parent)
        .map(|k| k.product.as_str());
    let lots = event
        .lots
        .iter()
        .chain(&event.child_lots)
        .chain(&event.input_lots)
        .chain(&event.output_lots)
        .map(|l| l.product.as_str());
    items.chain(lots).collect()
}

/// The locations an event happened at: its business location and read point.
pub fn places_of(event: &Event) -> Vec<&str> {
    event
        .biz_location
        .iter()
        .chain(&event.read_point)
        .map(|l| l.as_str())
        .collect()
}

/// How a delivery's body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Threadline's JSON (the event as `GET /api/v1/events/{id}` shows it), signed with
    /// HMAC-SHA256.
    Json,
    /// A DingTalk group robot's markdown message; the secret, if any, signs the URL.
    Dingtalk,
    /// A WeCom (企业微信) group robot's markdown message.
    Wecom,
    /// An EPCIS 2.0 query subscription's `EPCISQueryDocument`, signed like JSON and with
    /// `GS1-Signature`. Made and removed through `/epcis/queries/{name}/subscriptions`, never
    /// through the webhook API; capture queues nothing for it.
    Epcis,
    /// As `epcis`, for a subscriber whose request accepted XML: the same
    /// `EPCISQueryDocument` in the EPCIS 2.0 XML binding, signed the same way.
    EpcisXml,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Dingtalk => "dingtalk",
            WebhookFormat::Wecom => "wecom",
            WebhookFormat::Epcis => "epcis",
            WebhookFormat::EpcisXml => "epcis_xml",
        }
    }

    /// An EPCIS query subscription's webhook (JSON-LD or XML)?
    pub fn is_epcis(self) -> bool {
        matches!(self, WebhookFormat::Epcis | WebhookFormat::EpcisXml)
    }

    pub fn parse(s: &str) -> Option<WebhookFormat> {
        [
            WebhookFormat::Json,
            WebhookFormat::Dingtalk,
            WebhookFormat::Wecom,
            WebhookFormat::Epcis,
            WebhookFormat::EpcisXml,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// A subscription as stored. The secret is kept as given (it must sign every delivery): it is
/// shown once, when the subscription is created, and never listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub format: WebhookFormat,
    /// In the answer that creates the subscription only.
    #[serde(skip_serializing)]
    #[schemars(default)]
    pub secret: String,
    pub filter: WebhookFilter,
    /// `zh-CN` or `en`: the language of chat messages.
    pub language: String,
    pub active: bool,
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Creating or replacing a subscription.
#[derive(Debug, Clone)]
pub struct WebhookWrite {
    pub webhook: Webhook,
    /// `None`: create, refusing a taken name. `Some(v)`: replace version `v`.
    pub replaces: Option<u32>,
}

impl WebhookWrite {
    pub fn taken(&self) -> crate::StoreError {
        crate::StoreError::Conflict(
            FieldError::new(
                "already_exists",
                format!("webhook {} already exists", self.webhook.name),
            )
            .at("name"),
        )
    }

    pub fn stale(&self, current: u32) -> crate::StoreError {
        crate::StoreError::Conflict(
            FieldError::new(
                "version_mismatch",
                format!(
                    "webhook {} is at version {current}, not {}; reload it and try again",
                    self.webhook.name,
                    self.replaces.unwrap_or(0)
                ),
            )
            .at("If-Match"),
        )
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; it waits for someone to ask for a redelivery.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Dead,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One event — or one authenticity check — queued for one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook: Uuid,
    /// The ledger event it carries (absent for a check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Uuid>,
    /// The authenticity check it carries (`GET /api/v1/authenticity/checks` lists it under
    /// this id), for topic `suspicious_check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<i64>,
    /// A scheduled EPCIS subscription's report: the events it carries, in ledger order (empty
    /// for a subscription that reports even when nothing matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Vec<Uuid>>,
    /// The event's place in the ledger; for a check, the ledger's length when it was made.
    pub seq: i64,
    pub topics: Vec<Topic>,
    pub status: DeliveryStatus,
    /// Attempts since it was queued (or last redelivered).
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status on the last attempt, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Delivery {
    /// A delivery for `webhook` queued at `at`, due at once, carrying nothing yet: the caller
    /// sets its `event`, `check` or `report`.
    pub fn pending(webhook: Uuid, seq: i64, topics: Vec<Topic>, at: DateTime<Utc>) -> Delivery {
        Delivery {
            id: Uuid::now_v7(),
            webhook,
            event: None,
            check: None,
            report: None,
            seq,
            topics,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: at,
            created_at: at,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
        }
    }
}

/// One try at sending a delivery, for the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attempt {
    pub delivery: Uuid,
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u32,
}

/// What the worker decided after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    pub attempt: Attempt,
    /// `Delivered`, `Pending` (try again at `next_attempt_at`) or `Dead`.
    pub status: DeliveryStatus,
    pub next_attempt_at: DateTime<Utc>,
}

/// Filters for the delivery log.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub webhook: Option<Uuid>,
    pub status: Option<DeliveryStatus>,
    pub limit: u32,
}

/// An EPCIS 2.0 query subscription (`POST /epcis/queries/{name}/subscriptions`): a webhook of
/// format [`WebhookFormat::Epcis`] with the same id (its `subscriptionID`) that receives what a
/// named query matches — each matching event as it is recorded (`stream`), or on a schedule
/// what matched since the last run. Capture queues nothing for it: the server's worker reads
/// the ledger after `after_seq`, judges the events with the query, and queues their
/// deliveries in the transaction that moves `after_seq` on ([`SubscriptionRun`]), so every
/// event is judged once and none is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpcisSubscription {
    pub id: Uuid,
    /// The named query.
    pub query: String,
    pub stream: bool,
    /// The schedule's fields as given (`second`, `minute`, `hour`, `dayOfMonth`, `month`,
    /// `dayOfWeek`); `None` for a stream.
    pub schedule: Option<std::collections::BTreeMap<String, String>>,
    pub report_if_empty: bool,
    /// Events recorded before this are never reported.
    pub initial_record_time: Option<DateTime<Utc>>,
    /// The ledger sequence number the last run read up to.
    pub after_seq: i64,
    /// When a schedule runs next.
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// One run of a subscription, recorded in one transaction: its deliveries are queued and its
/// cursor moves from `from_seq` to `to_seq` (and its schedule to `next_run_at`) only if no
/// other run moved them first.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRun {
    pub id: Uuid,
    pub from_seq: i64,
    pub to_seq: i64,
    /// The `next_run_at` the run was planned from.
    pub due: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub deliveries: Vec<Delivery>,
}

/// A report as stored: the JSON array of its event ids.
pub fn report_column(report: &Option<Vec<Uuid>>) -> Option<String> {
    report.as_ref().map(|ids| {
        serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()).to_string()
    })
}

/// A report from its stored form.
pub fn report_of_column(s: Option<&str>) -> crate::Result<Option<Vec<Uuid>>> {
    s.map(|s| {
        let ids: Vec<String> = serde_json::from_str(s)
            .map_err(|e| crate::StoreError::Schema(format!("stored report: {e}")))?;
        ids.iter()
            .map(|i| {
                Uuid::parse_str(i)
                    .map_err(|e| crate::StoreError::Schema(format!("stored report: {e}")))
            })
            .collect()
    })
    .transpose()
}

/// Topics as stored: comma-separated names.
pub fn topics_column(topics: &[Topic]) -> String {
    topics
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Topics from their stored form; unknown names (from a newer version) are skipped.
pub fn topics_of_column(s: &str) -> Vec<Topic> {
    s.split(',').filter_map(Topic::parse).collect()
}

/// The deliveries to queue for a batch just appended: for each event, every active
/// subscription that matches it. `ancestors` gives a location's chain of parents (itself
/// first); it is asked only when some subscription filters by location.
pub fn plan_deliveries(
    webhooks: &[(Uuid, WebhookFilter)],
    events: &[(&Event, i64)],
    now: DateTime<Utc>,
    mut ancestors: impl FnMut(&str) -> crate::Result<Vec<String>>,
) -> crate::Result<Vec<Delivery>> {
    if webhooks.is_empty() {
        return Ok(Vec::new());
    }
    let by_location = webhooks.iter().any(|(_, f)| !f.locations.is_empty());
    let mut out = Vec::new();
    for (event, seq) in events {
        let topics = Topic::of(event);
        let mut places = BTreeSet::new();
        if by_location {
            for p in places_of(event) {
                places.extend(ancestors(p)?);
            }
        }
        for (id, filter) in webhooks {
            if filter.matches(event, &topics, &places) {
                out.push(Delivery {
                    event: Some(event.id),
                    ..Delivery::pending(*id, *seq, topics.clone(), now)
                });
            }
        }
    }
    Ok(out)
}

/// The deliveries to queue for a check just recorded as `id`: one per active subscription
/// that [`WebhookFilter::matches_check`]. `seq` is the ledger's length at the check.
pub fn plan_check_deliveries(
    webhooks: &[(Uuid, WebhookFilter)],
    check: &AuthenticityCheck,
    id: i64,
    seq: i64,
) -> Vec<Delivery> {
    webhooks
        .iter()
        .filter(|(_, f)| f.matches_check(check))
        .map(|(hook, _)| Delivery {
            check: Some(id),
            ..Delivery::pending(*hook, seq, vec![Topic::SuspiciousCheck], check.at)
        })
        .collect()
}
