//! MQTT ingestion end to end against the local Mosquitto (127.0.0.1:1883): publish → event
//! recorded → reply; the same message again records nothing; broken JSON and refused messages
//! go to the dead-letter topic with the reason; an operation call. Unique topics per test.
//! Both engines. Without a broker the test says it was skipped, except in CI, where it fails.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::mqtt::{Link, MqttSettings, spawn};
use threadline_server::{AppState, FixedClock};
use threadline_testkit::fixtures::{at, now, plant, token};
use threadline_testkit::{TestStore, store_test};
use uuid::Uuid;

const BROKER: (&str, u16) = ("127.0.0.1", 1883);

async fn broker_up() -> bool {
    let up = tokio::net::TcpStream::connect(BROKER).await.is_ok();
    if !up && std::env::var_os("CI").is_some() {
        panic!("CI is set but no MQTT broker listens on 127.0.0.1:1883");
    }
    if !up {
        eprintln!("no MQTT broker on 127.0.0.1:1883: MQTT test skipped");
    }
    up
}

/// A test client subscribed to the reply and dead-letter topics.
struct Listener {
    client: AsyncClient,
    events: EventLoop,
}

impl Listener {
    async fn new(topics: &[&str]) -> Listener {
        let mut opts = MqttOptions::new(format!("tl-test-{}", Uuid::new_v4()), BROKER.0, BROKER.1);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(opts, 16);
        for t in topics {
            client.subscribe(*t, QoS::AtLeastOnce).await.unwrap();
        }
        let mut acks = 0;
        while acks < topics.len() {
            if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.unwrap() {
                acks += 1;
            }
        }
        Listener { client, events }
    }

    async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.into())
            .await
            .unwrap();
    }

    /// The next message on a subscribed topic: (topic, JSON).
    async fn next(&mut self) -> (String, Value) {
        let wait = async {
            loop {
                if let Event::Incoming(Packet::Publish(p)) = self.events.poll().await.unwrap() {
                    return (p.topic.clone(), serde_json::from_slice(&p.payload).unwrap());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .expect("an MQTT message within 20 s")
    }

    /// The next `n` messages, split into replies and dead letters.
    async fn take(&mut self, n: usize) -> (Vec<Value>, Vec<Value>) {
        let (mut replies, mut dead) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (topic, v) = self.next().await;
            if topic.ends_with("/reply") {
                replies.push(v);
            } else {
                dead.push(v);
            }
        }
        (replies, dead)
    }
}

fn commission(id: &str, serials: &[&str]) -> Vec<u8> {
    let items: Vec<Value> = serials
        .iter()
        .map(|s| json!({"product": "BOARD", "serial": s}))
        .collect();
    json!({"message_id": id, "event": {"type": "object", "action": "ADD", "event_time": at(5),
        "biz_step": "commissioning", "disposition": "active", "biz_location": "SZ-L1", "items": items}})
    .to_string()
    .into_bytes()
}

store_test!(
    messages_are_recorded_answered_deduplicated_and_dead_lettered,
    |s: TestStore| async move {
        if !broker_up().await {
            return;
        }
        plant(&*s).await;
        let secret = token(&*s, "plc-gw", &[Role::Production]).await;
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        let prefix = format!("tl-test/{}", Uuid::new_v4());
        let (scans, reply, dead) = (
            format!("{prefix}/scans/line1"),
            format!("{prefix}/reply"),
            format!("{prefix}/dead"),
        );
        let mut link = spawn(
            state,
            MqttSettings {
                host: BROKER.0.into(),
                port: BROKER.1,
                client_id: format!("tl-bridge-{}", Uuid::new_v4()),
                topics: vec![format!("{prefix}/scans/+")],
                reply_topic: reply.clone(),
                dead_letter_topic: dead.clone(),
                token: secret,
                credentials: None,
            },
        );
        tokio::time::timeout(
            Duration::from_secs(20),
            link.wait_for(|l| *l == Link::Subscribed),
        )
        .await
        .expect("the bridge subscribes within 20 s")
        .unwrap();
        let mut l = Listener::new(&[&reply, &dead]).await;
        let ledger = || async { s.verify().await.unwrap().entries };
        let before = ledger().await;

        // Recorded, and answered with the API's receipts.
        l.publish(&scans, commission("gw-0001", &["B-1", "B-2"]))
            .await;
        let (replies, dead_letters) = l.take(1).await;
        assert!(dead_letters.is_empty());
        let r = &replies[0];
        assert_eq!(
            (
                r["message_id"].as_str(),
                r["status"].as_u64(),
                r["ok"].as_bool()
            ),
            (Some("gw-0001"), Some(201), Some(true))
        );
        assert_eq!(r["topic"], scans.as_str());
        assert_eq!(r["replayed"], false);
        let receipt = r["response"]["events"][0]["id"].clone();
        assert_eq!(ledger().await, before + 1);
        let unit = s
            .item(&threadline_domain::codes::ItemKey {
                product: threadline_domain::ProductCode::parse("BOARD").unwrap(),
                serial: threadline_domain::Serial::parse("B-2").unwrap(),
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unit.location.as_deref(), Some("SZ-L1"));

        // The broker sends it again (at least once): the same receipts, nothing written.
        l.publish(&scans, commission("gw-0001", &["B-1", "B-2"]))
            .await;
        let (replies, _) = l.take(1).await;
        assert_eq!(replies[0]["replayed"], true);
        assert_eq!(replies[0]["response"]["events"][0]["id"], receipt);
        assert_eq!(ledger().await, before + 1);

        // Broken JSON: dead letter with the reason and the payload, no reply (no id to answer).
        l.publish(&scans, b"{\"message_id\": \"gw-0002\", ".to_vec())
            .await;
        let (replies, dead_letters) = l.take(1).await;
        assert!(replies.is_empty());
        assert_eq!(dead_letters[0]["reason"]["code"], "malformed");
        assert!(
            dead_letters[0]["reason"]["message"]
                .as_str()
                .unwrap()
                .contains("not JSON")
        );
        assert_eq!(dead_letters[0]["payload"], "{\"message_id\": \"gw-0002\", ");

        // Refused by the rules (a serial scanned twice): answered and dead-lettered, the field
        // named as the API names it, nothing written.
        l.publish(&scans, commission("gw-0003", &["B-1"])).await;
        let (replies, dead_letters) = l.take(2).await;
        assert_eq!(replies[0]["status"], 409);
        assert_eq!(replies[0]["ok"], false);
        assert_eq!(dead_letters[0]["message_id"], "gw-0003");
        assert_eq!(
            dead_letters[0]["reason"]["error"]["code"],
            "duplicate_serial"
        );
        assert_eq!(
            dead_letters[0]["reason"]["error"]["field"],
            "items[0].serial"
        );
        assert_eq!(ledger().await, before + 1);

        // Not permitted for the bridge's token (production may not ship): refused with 403.
        let ship = json!({"message_id": "gw-0004", "event": {"type": "object", "action": "OBSERVE",
            "event_time": at(1), "biz_step": "shipping", "items": [{"product": "BOARD", "serial": "B-1"}]}});
        l.publish(&scans, ship.to_string()).await;
        let (replies, dead_letters) = l.take(2).await;
        assert_eq!(replies[0]["status"], 403);
        assert_eq!(dead_letters[0]["reason"]["error"]["code"], "forbidden");

        // An operation call, exactly like POST /api/v1/ops/move.
        let mv = json!({"message_id": "gw-0005", "operation": "move",
            "body": {"items": [{"product": "BOARD", "serial": "B-2"}], "to": "SZ-WH-A1"}});
        l.publish(&scans, mv.to_string()).await;
        let (replies, dead_letters) = l.take(1).await;
        assert!(dead_letters.is_empty(), "{dead_letters:?}");
        assert_eq!(replies[0]["status"], 201, "{:?}", replies[0]);
        assert_eq!(replies[0]["response"]["operation"], "move");
        assert_eq!(ledger().await, before + 2);

        // An envelope without a message id, and one naming no request.
        l.publish(&scans, json!({"event": {}}).to_string()).await;
        l.publish(&scans, json!({"message_id": "gw-0006"}).to_string())
            .await;
        let (replies, dead_letters) = l.take(3).await;
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0]["status"], 400);
        assert_eq!(dead_letters.len(), 2);
        assert!(
            dead_letters[0]["reason"]["message"]
                .as_str()
                .unwrap()
                .contains("message_id")
        );
        assert_eq!(ledger().await, before + 2);
    }
);
