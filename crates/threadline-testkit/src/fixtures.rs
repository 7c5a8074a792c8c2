//! Builders for test data: events and master records from JSON, the way a client sends them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use threadline_domain::access::{Credential, CredentialKind, Role, Roles, TokenName};
use threadline_domain::event::{CaptureContext, Event, EventRequest};
use threadline_domain::master::MasterRecord;
use threadline_store::{MasterWrite, NewToken, Store};
use uuid::Uuid;

/// A fixed "now" so tests never depend on the wall clock.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
        .expect("valid time")
        .with_timezone(&Utc)
}

/// `now()` minus `minutes`, as RFC 3339 with a +08:00 offset.
pub fn at(minutes_ago: i64) -> String {
    let t = now() - chrono::Duration::minutes(minutes_ago);
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"))
        .to_rfc3339()
}

/// Parses a JSON event request into an event, panicking with the violations if it is invalid.
pub fn event(v: Value) -> Event {
    try_event(v).unwrap_or_else(|e| panic!("invalid test event: {e:?}"))
}

pub fn try_event(v: Value) -> Result<Event, threadline_domain::Violations> {
    let req: EventRequest =
        serde_json::from_value(v).unwrap_or_else(|e| panic!("bad request shape: {e}"));
    Event::from_request(
        req,
        &CaptureContext {
            actor: "test".into(),
            now: now(),
        },
        Uuid::now_v7(),
    )
}

pub fn master(kind: &str, def: Value) -> MasterRecord {
    serde_json::from_value(json!({ "type": kind, "def": def }))
        .unwrap_or_else(|e| panic!("bad master record: {e}"))
}

pub async fn put(store: &dyn Store, kind: &str, def: Value) {
    store
        .put_master(MasterWrite {
            record: master(kind, def),
            actor: "test".into(),
            now: now(),
            id: Uuid::now_v7(),
            replaces: None,
        })
        .await
        .unwrap_or_else(|e| panic!("master write failed: {e:?}"));
}

/// A small plant: a site with a line and two bins, a supplier, a customer, a distributor,
/// a serialized finished good (`PHONE`), a serialized module (`BOARD`) and a lot-tracked
/// material (`RESIN`, kg).
pub async fn plant(store: &dyn Store) {
    put(
        store,
        "location",
        json!({"code": "SZ", "name": "Shenzhen plant", "kind": "site"}),
    )
    .await;
    put(
        store,
        "location",
        json!({"code": "SZ-L1", "name": "Line 1", "kind": "line", "parent": "SZ"}),
    )
    .await;
    put(
        store,
        "location",
        json!({"code": "SZ-WH", "name": "Warehouse", "kind": "area", "parent": "SZ"}),
    )
    .await;
    put(
        store,
        "location",
        json!({"code": "SZ-WH-A1", "name": "Bin A1", "kind": "bin", "parent": "SZ-WH"}),
    )
    .await;
    put(
        store,
        "location",
        json!({"code": "SZ-WH-A2", "name": "Bin A2", "kind": "bin", "parent": "SZ-WH"}),
    )
    .await;
    put(
        store,
        "party",
        json!({"code": "SUP1", "name": "Resin Co.", "kind": "supplier"}),
    )
    .await;
    put(store, "party", json!({"code": "DIST-GD", "name": "Guangdong Dist.", "kind": "distributor", "regions": ["CN-GD"]})).await;
    put(
        store,
        "party",
        json!({"code": "CUST1", "name": "Acme Retail", "kind": "customer"}),
    )
    .await;
    put(store, "product", json!({"code": "PHONE", "name": "Phone", "tracking": "serial", "gtin": "09521234543213",
        "warranty_months": 24, "attributes": [{"name": "color", "type": "enum", "options": ["black", "white"], "required": true}]})).await;
    put(
        store,
        "product",
        json!({"code": "BOARD", "name": "Main board", "tracking": "serial"}),
    )
    .await;
    put(
        store,
        "product",
        json!({"code": "RESIN", "name": "Resin", "tracking": "lot", "uom": "KGM"}),
    )
    .await;
}

/// Commissions `serials` of PHONE on line 1.
pub fn commission_phones(serials: &[&str], minutes_ago: i64) -> Event {
    let items: Vec<Value> = serials
        .iter()
        .map(|s| json!({"product": "PHONE", "serial": s}))
        .collect();
    event(json!({
        "type": "object", "action": "ADD", "event_time": at(minutes_ago), "biz_step": "commissioning",
        "disposition": "active", "biz_location": "SZ-L1", "items": items, "ilmd": {"color": "black"},
        "biz_transactions": [{"type": "prodorder", "id": "WO-1"}]
    }))
}

pub fn commission_boards(serials: &[&str], minutes_ago: i64) -> Event {
    let items: Vec<Value> = serials
        .iter()
        .map(|s| json!({"product": "BOARD", "serial": s}))
        .collect();
    event(json!({
        "type": "object", "action": "ADD", "event_time": at(minutes_ago), "biz_step": "commissioning",
        "disposition": "active", "biz_location": "SZ-L1", "items": items
    }))
}

pub fn receive_resin(lot: &str, kg: &str, bin: &str, minutes_ago: i64) -> Event {
    event(json!({
        "type": "object", "action": "ADD", "event_time": at(minutes_ago), "biz_step": "receiving",
        "disposition": "sellable_not_accessible", "biz_location": bin,
        "lots": [{"product": "RESIN", "lot": lot, "quantity": kg}],
        "sources": [{"type": "owning_party", "id": "SUP1"}],
        "biz_transactions": [{"type": "po", "id": "PO-7"}],
        "ilmd": {"production_date": "2026-05-01", "expiry_date": "2027-05-01"}
    }))
}

/// Creates an API token named `name` with `roles` and returns its secret, ready for an
/// `Authorization: Bearer` header.
pub async fn token(store: &dyn Store, name: &str, roles: &[Role]) -> String {
    let mut random = [0u8; 32];
    random[..16].copy_from_slice(Uuid::new_v4().as_bytes());
    random[16..].copy_from_slice(Uuid::new_v4().as_bytes());
    let secret = Credential::new(CredentialKind::ApiToken, random);
    store
        .create_token(NewToken {
            id: Uuid::now_v7(),
            name: TokenName::parse(name).unwrap_or_else(|e| panic!("token name: {e}")),
            secret_digest: secret.digest(),
            roles: Roles::parse(&roles.iter().map(|r| r.as_str()).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("roles: {e}")),
            site: None,
            party: None,
            created_at: now(),
            created_by: "test".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("token creation failed: {e:?}"));
    secret.expose().to_owned()
}
