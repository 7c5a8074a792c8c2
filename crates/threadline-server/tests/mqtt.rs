//! MQTT ingestion end to end against the local Mosquitto (127.0.0.1:1883): publish → event
//! recorded → reply; the same message again records nothing; broken JSON and refused messages
//! go to the dead-letter topic with the reason; an operation call. Unique topics per test.
//! Both engines. Without a broker the test says it was skipped, except in CI, where it fails.
//!
//! The broker link's credentials and TLS against a Mosquitto the test starts itself (see
//! [`OwnBroker`]): a listener asking for a password, a TLS listener asking for one, and one
//! requiring a client certificate; wrong credentials and an untrusted broker certificate are
//! told on the bridge's link, and record nothing.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use threadline_domain::access::Role;
use threadline_server::mqtt::{Link, MqttSettings, Tls, spawn};
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
        Listener::at(BROKER.1, None, topics).await
    }

    /// A listener on a broker's plain port, with credentials if it asks for them.
    async fn at(port: u16, credentials: Option<(&str, &str)>, topics: &[&str]) -> Listener {
        let mut opts = MqttOptions::new(format!("tl-test-{}", Uuid::new_v4()), BROKER.0, port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        if let Some((u, p)) = credentials {
            opts.set_credentials(u, p);
        }
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
                tls: None,
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

/// A Mosquitto of the test's own, on free ports, with its files in a temporary directory:
/// `plain` asks for a password (user `bridge`, password `bridge-pw-1`), `tls` is TLS with a
/// server certificate for 127.0.0.1 signed by the test's CA and asks for the same password,
/// `mtls` is TLS requiring a client certificate signed by that CA (no password). Killed when
/// dropped.
struct OwnBroker {
    child: std::process::Child,
    dir: tempfile::TempDir,
    plain: u16,
    tls: u16,
    mtls: u16,
    ca: String,
    /// A certificate and key the broker accepts as a client's.
    client: (String, String),
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` in /usr/sbin, /usr/bin or on PATH.
fn program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(std::path::PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA: its certificate and key.
fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    (params.self_signed(&key).unwrap(), key)
}

/// A certificate signed by `ca` for `names`: (certificate PEM, key PEM).
fn leaf(
    ca: &(rcgen::Certificate, rcgen::KeyPair),
    common_name: &str,
    names: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, &ca.0, &ca.1).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl OwnBroker {
    /// Starts it, or says why not (no Mosquitto installed: skipped, except in CI).
    async fn start() -> Option<OwnBroker> {
        let (Some(mosquitto), Some(passwd)) = (program("mosquitto"), program("mosquitto_passwd"))
        else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but mosquitto or mosquitto_passwd is not installed"
            );
            eprintln!(
                "mosquitto or mosquitto_passwd not found (/usr/sbin, /usr/bin, PATH): MQTT TLS and credentials test skipped"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p.display().to_string()
        };
        let authority = ca("Threadline test CA");
        let ca_pem = authority.0.pem();
        let (server_cert, server_key) = leaf(
            &authority,
            "broker",
            &["127.0.0.1", "localhost"],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf(
            &authority,
            "threadline-bridge",
            &[],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (ca_file, cert_file, key_file) = (
            file("ca.pem", &ca_pem),
            file("server.pem", &server_cert),
            file("server.key", &server_key),
        );
        let passwords = file("passwd", "");
        let made = std::process::Command::new(passwd)
            .args(["-b", &passwords, "bridge", "bridge-pw-1"])
            .status()
            .unwrap();
        assert!(made.success(), "mosquitto_passwd -b failed");
        let (plain, tls, mtls) = (free_port(), free_port(), free_port());
        // `user root`: Mosquitto started as root would otherwise switch to its own user, who
        // cannot read this directory; as anyone else the line does nothing.
        let config = file(
            "mosquitto.conf",
            &format!(
                "per_listener_settings true\nuser root\npersistence false\n\
                 listener {plain} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n\
                 listener {tls} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n\
                 cafile {ca_file}\ncertfile {cert_file}\nkeyfile {key_file}\n\
                 listener {mtls} 127.0.0.1\nallow_anonymous true\nrequire_certificate true\n\
                 cafile {ca_file}\ncertfile {cert_file}\nkeyfile {key_file}\n"
            ),
        );
        let log = std::fs::File::create(dir.path().join("mosquitto.log")).unwrap();
        let child = std::process::Command::new(mosquitto)
            .args(["-c", &config])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let broker = OwnBroker {
            child,
            dir,
            plain,
            tls,
            mtls,
            ca: ca_pem,
            client,
        };
        for port in [plain, tls, mtls] {
            let up = async {
                while tokio::net::TcpStream::connect((BROKER.0, port))
                    .await
                    .is_err()
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            if tokio::time::timeout(Duration::from_secs(10), up)
                .await
                .is_err()
            {
                panic!(
                    "mosquitto did not listen on {port} within 10 s: {}",
                    std::fs::read_to_string(broker.dir.path().join("mosquitto.log"))
                        .unwrap_or_default()
                );
            }
        }
        Some(broker)
    }
}

fn bridge(
    port: u16,
    topic: &str,
    reply: &str,
    token: &str,
    credentials: Option<(&str, &str)>,
    tls: Option<Tls>,
) -> MqttSettings {
    MqttSettings {
        host: BROKER.0.into(),
        port,
        client_id: format!("tl-bridge-{}", Uuid::new_v4()),
        topics: vec![topic.to_owned()],
        reply_topic: reply.to_owned(),
        dead_letter_topic: format!("{reply}/dead"),
        token: token.to_owned(),
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        tls,
    }
}

/// Waits for the link to be subscribed, or down (with the reason).
async fn settled(link: &mut tokio::sync::watch::Receiver<Link>) -> Link {
    tokio::time::timeout(
        Duration::from_secs(20),
        link.wait_for(|l| *l != Link::Connecting),
    )
    .await
    .expect("the bridge connects or fails within 20 s")
    .unwrap()
    .clone()
}

store_test!(
    the_broker_link_takes_passwords_tls_and_client_certificates,
    |s: TestStore| async move {
        let Some(broker) = OwnBroker::start().await else {
            return;
        };
        plant(&*s).await;
        let secret = token(&*s, "plc-gw", &[Role::Production]).await;
        let state = AppState {
            clock: Arc::new(FixedClock(now())),
            ..AppState::new(s.store.clone())
        };
        let prefix = format!("tl-sec/{}", Uuid::new_v4());
        let reply = format!("{prefix}/reply");
        let mut l = Listener::at(broker.plain, Some(("bridge", "bridge-pw-1")), &[&reply]).await;
        let ledger = || async { s.verify().await.unwrap().entries };
        let trusted = || Tls::new(Some(broker.ca.as_bytes()), None).unwrap();
        let mutual = || {
            let (cert, key) = &broker.client;
            Tls::new(
                Some(broker.ca.as_bytes()),
                Some((cert.as_bytes(), key.as_bytes())),
            )
            .unwrap()
        };
        let links = [
            (
                "password",
                broker.plain,
                Some(("bridge", "bridge-pw-1")),
                None,
            ),
            (
                "tls",
                broker.tls,
                Some(("bridge", "bridge-pw-1")),
                Some(trusted()),
            ),
            ("mutual-tls", broker.mtls, None, Some(mutual())),
        ];
        for (name, port, credentials, tls) in links {
            let scans = format!("{prefix}/{name}/scans");
            let mut link = spawn(
                state.clone(),
                bridge(port, &scans, &reply, &secret, credentials, tls),
            );
            assert_eq!(settled(&mut link).await, Link::Subscribed, "{name}");
            let before = ledger().await;
            let serial = format!("S-{name}");
            l.publish(&scans, commission(&format!("sec-{name}"), &[&serial]))
                .await;
            let (_, r) = l.next().await;
            assert_eq!(
                (r["message_id"].as_str(), r["status"].as_u64()),
                (Some(format!("sec-{name}").as_str()), Some(201)),
                "{name}: {r}"
            );
            assert_eq!(r["topic"], scans.as_str());
            assert_eq!(ledger().await, before + 1, "{name}");
            let unit = s
                .item(&threadline_domain::codes::ItemKey {
                    product: threadline_domain::ProductCode::parse("BOARD").unwrap(),
                    serial: threadline_domain::Serial::parse(&serial).unwrap(),
                })
                .await
                .unwrap();
            assert!(unit.is_some(), "{name}: the scan over the link is recorded");
        }

        // Refused links: told on the link with a reason to act on; nothing subscribes, nothing
        // is recorded.
        let before = ledger().await;
        let stranger = ca("Someone else's CA");
        let refused = [
            (
                "wrong-password",
                broker.plain,
                Some(("bridge", "not-the-password")),
                None,
                "refused the bridge's credentials",
            ),
            (
                "no-password",
                broker.tls,
                None,
                Some(trusted()),
                "refused the bridge's credentials",
            ),
            (
                "untrusted-broker",
                broker.tls,
                Some(("bridge", "bridge-pw-1")),
                Some(Tls::new(Some(stranger.0.pem().as_bytes()), None).unwrap()),
                "TLS with the MQTT broker",
            ),
            (
                "no-client-certificate",
                broker.mtls,
                None,
                Some(trusted()),
                "wants a client certificate it trusts",
            ),
        ];
        for (name, port, credentials, tls, says) in refused {
            let scans = format!("{prefix}/{name}/scans");
            let mut link = spawn(
                state.clone(),
                bridge(port, &scans, &reply, &secret, credentials, tls),
            );
            let Link::Down(reason) = settled(&mut link).await else {
                panic!("{name}: the bridge subscribed")
            };
            assert!(reason.contains(says), "{name}: {reason}");
            assert!(
                reason.contains(&format!("127.0.0.1:{port}")),
                "{name}: {reason}"
            );
            l.publish(&scans, commission(&format!("sec-{name}"), &["S-NEVER"]))
                .await;
        }
        // The one listener that holds every topic answers a marker after those messages, and
        // none of them was recorded or answered before it.
        let scans = format!("{prefix}/password/scans");
        l.publish(&scans, commission("sec-marker", &["S-MARK"]))
            .await;
        let (_, r) = l.next().await;
        assert_eq!(r["message_id"], "sec-marker", "{r}");
        assert_eq!(ledger().await, before + 1);
    }
);

#[test]
fn tls_settings_that_cannot_be_used_are_refused_naming_the_key() {
    let e = Tls::new(Some(b"not a certificate"), None).err().unwrap();
    assert_eq!(e.field, "mqtt.ca_file");
    assert!(e.to_string().contains("no PEM certificate"), "{e}");
    let authority = ca("CA");
    let pem = authority.0.pem();
    let (cert, _) = leaf(
        &authority,
        "c",
        &[],
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    );
    let e = Tls::new(
        Some(pem.as_bytes()),
        Some((cert.as_bytes(), b"no key here")),
    )
    .err()
    .unwrap();
    assert_eq!(e.field, "mqtt.client_key_file");
    let e = Tls::new(Some(pem.as_bytes()), Some((b"", b"")))
        .err()
        .unwrap();
    assert_eq!(e.field, "mqtt.client_cert_file");
    // Without a CA file, the public web's CAs.
    assert!(Tls::new(None, None).is_ok());
}
