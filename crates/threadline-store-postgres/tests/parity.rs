//! The PostgreSQL engine answers exactly as the SQLite reference does. The same inputs (the same
//! event and entry ids, the same times) go to both engines, and every answer is compared:
//! receipts and hashes, refusals with their codes, fields and messages, reads, paging,
//! snapshots, and `verify` after the same tampering.
//!
//! Run with `THREADLINE_TEST_PG=postgres://…`; without it each test says so and passes.

// Test helpers panic on any failure, which is what a test should do with it.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::path::PathBuf;

use serde_json::{Value, json};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::event::{Event, EventKind};
use threadline_domain::ledger::{Hash, chain_hash};
use threadline_domain::projection::Node;
use threadline_store::{
    Direction, EventQuery, IdempotencyKey, ListQuery, MasterWrite, NewUser, Receipt, Store,
    StoreError,
};
use threadline_store_postgres::PgStore;
use threadline_store_postgres::testing::{SchemaGuard, empty_schema};
use threadline_store_sqlite::{Durability, SqliteStore};
use threadline_testkit::fixtures::{at, master, now, try_event};
use tokio_postgres::NoTls;
use uuid::Uuid;

/// One SQLite and one PostgreSQL store, fed the same requests.
struct Pair {
    sqlite: SqliteStore,
    sqlite_path: PathBuf,
    _dir: tempfile::TempDir,
    pg: PgStore,
    pg_config: tokio_postgres::Config,
    _guard: SchemaGuard,
    next_id: u128,
}

impl Pair {
    async fn new() -> Option<Pair> {
        let Some(url) = threadline_testkit::pg_url() else {
            eprintln!("THREADLINE_TEST_PG is not set: PostgreSQL parity test skipped");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let sqlite_path = dir.path().join("t.db");
        let sqlite = SqliteStore::open(&sqlite_path, Durability::Process).unwrap();
        let (pg_config, guard) = empty_schema(&url).await.unwrap();
        let pg = PgStore::from_config(pg_config.clone()).await.unwrap();
        Some(Pair {
            sqlite,
            sqlite_path,
            _dir: dir,
            pg,
            pg_config,
            _guard: guard,
            next_id: 0,
        })
    }

    /// Asks both engines and insists they answer alike.
    async fn both<T: Debug>(&self, what: &str, f: impl AsyncFn(&dyn Store) -> T) -> T {
        let a = f(&self.sqlite).await;
        let b = f(&self.pg).await;
        let (a_text, b_text) = (format!("{a:#?}"), format!("{b:#?}"));
        assert!(
            a_text == b_text,
            "{what}: the engines disagree\n--- sqlite\n{a_text}\n--- postgres\n{b_text}"
        );
        a
    }

    fn id(&mut self) -> Uuid {
        self.next_id += 1;
        Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + self.next_id)
    }

    async fn put(
        &mut self,
        kind: &str,
        def: Value,
        replaces: Option<u32>,
    ) -> Result<Receipt, StoreError> {
        let w = MasterWrite {
            record: master(kind, def),
            actor: "test".into(),
            now: now(),
            id: self.id(),
            replaces,
        };
        self.both("put_master", async |s| s.put_master(w.clone()).await)
            .await
    }

    async fn capture(
        &self,
        events: &[Event],
        key: Option<&IdempotencyKey>,
    ) -> Result<Vec<Receipt>, StoreError> {
        self.both("capture", async |s| {
            s.capture(events.to_vec(), key.cloned())
                .await
                .map(|o| o.receipts().to_vec())
        })
        .await
    }

    /// Runs the same SQL on both databases behind the stores' backs.
    async fn tamper(&self, sql: &str) {
        let c = rusqlite::Connection::open(&self.sqlite_path).unwrap();
        c.execute_batch(sql).unwrap();
        let (client, connection) = self.pg_config.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
    }

    /// Sets entry `seq`'s body to `body`, with a hash that is right for it.
    async fn replace_body(&self, seq: i64, body: &str) {
        let c = rusqlite::Connection::open(&self.sqlite_path).unwrap();
        let prev: Vec<u8> = c
            .query_row("SELECT hash FROM ledger WHERE seq = ?1", [seq - 1], |r| {
                r.get(0)
            })
            .unwrap();
        let prev: Hash = prev.try_into().unwrap();
        let hash = chain_hash(&prev, seq, body.as_bytes()).to_vec();
        c.execute(
            "UPDATE ledger SET body = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![body, hash, seq],
        )
        .unwrap();
        let (client, connection) = self.pg_config.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .execute(
                "UPDATE ledger SET body = $1, hash = $2 WHERE seq = $3",
                &[&body, &hash, &seq],
            )
            .await
            .unwrap();
    }

    /// Everything a reader can see, compared.
    async fn compare_reads(&self, step: &str) {
        self.both(&format!("{step}: snapshot"), async |s| {
            s.snapshot().await.unwrap()
        })
        .await;
        self.both(&format!("{step}: verify"), async |s| {
            s.verify().await.unwrap()
        })
        .await;
        for (p, serials) in [("PHONE", PHONES), ("BOARD", BOARDS)] {
            for serial in serials {
                let k = key(p, serial);
                self.both(&format!("{step}: item {k}"), async |s| {
                    s.item(&k).await.unwrap()
                })
                .await;
            }
        }
        // Every unit's state in one batch (an unknown key and a repeated one among them),
        // in the order asked, each as its own point read has it.
        let keys: Vec<ItemKey> = [("PHONE", "NOPE")]
            .into_iter()
            .chain(PHONES.iter().rev().map(|s| ("PHONE", *s)))
            .chain(BOARDS.iter().map(|s| ("BOARD", *s)))
            .chain([("PHONE", PHONES[0])])
            .map(|(p, s)| key(p, s))
            .collect();
        let states = self
            .both(&format!("{step}: unit states"), async |s| {
                s.unit_states(&keys).await.unwrap()
            })
            .await;
        assert_eq!(states.len(), keys.len());
        for (k, state) in keys.iter().zip(states) {
            let item = self.sqlite.item(k).await.unwrap();
            assert_eq!(
                state,
                item.map(|v| threadline_store::UnitState {
                    status: v.status,
                    location: v.location,
                    custodian: v.custodian,
                    lot: v.lot,
                    parent: v.parent,
                }),
                "{step}: unit state of {k}"
            );
        }
        // The genealogy walked both ways from each lot, phone and board, and from all of them
        // at once: SQLite's one recursive statement and PostgreSQL's statement per level reach
        // the same nodes, each at the same depth, through the same link. (Rows of one depth
        // from links of one event come in an order neither engine promises, so they are
        // compared sorted.)
        let roots: Vec<Node> = LOTS
            .iter()
            .map(|l| Node::Lot(lot("RESIN", l)))
            .chain(PHONES.iter().map(|s| Node::Item(key("PHONE", s))))
            .chain(BOARDS.iter().map(|s| Node::Item(key("BOARD", s))))
            .collect();
        for direction in [Direction::Parents, Direction::Children] {
            for start in roots.iter().map(|r| vec![r.clone()]).chain([roots.clone()]) {
                self.both(
                    &format!("{step}: walk {direction:?} from {start:?}"),
                    async |s| {
                        let rx = s.reach(start.clone(), direction, now()).await.unwrap();
                        let rows = threadline_store::collect_reach(rx, usize::MAX)
                            .await
                            .unwrap();
                        let depths: Vec<u32> = rows.iter().map(|r| r.depth).collect();
                        assert!(depths.is_sorted(), "{rows:#?}");
                        // A row carries where the unit its node is built into is, as that
                        // unit's own state read says.
                        for r in &rows {
                            let outer = match r.unit.as_ref().and_then(|u| u.parent.clone()) {
                                Some(p) => s.unit_states(&[p]).await.unwrap().pop().flatten(),
                                None => None,
                            };
                            assert_eq!(r.inside, outer, "inside of {:?}", r.node);
                        }
                        let mut rows: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
                        rows.sort();
                        rows
                    },
                )
                .await;
            }
        }
        for l in LOTS {
            let k = lot("RESIN", l);
            self.both(&format!("{step}: lot {k}"), async |s| {
                s.lot(&k).await.unwrap()
            })
            .await;
        }
        for q in event_queries() {
            self.both(&format!("{step}: events {q:?}"), async |s| {
                all_pages(s, q.clone()).await
            })
            .await;
        }
        for q in list_queries() {
            self.both(&format!("{step}: products {q:?}"), async |s| {
                s.products(&q).await.unwrap()
            })
            .await;
            self.both(&format!("{step}: parties {q:?}"), async |s| {
                s.parties(&q).await.unwrap()
            })
            .await;
            self.both(&format!("{step}: locations {q:?}"), async |s| {
                s.locations(&q).await.unwrap()
            })
            .await;
        }
    }
}

fn key(p: &str, s: &str) -> ItemKey {
    serde_json::from_value(json!({"product": p, "serial": s})).unwrap()
}

fn lot(p: &str, l: &str) -> LotKey {
    serde_json::from_value(json!({"product": p, "lot": l})).unwrap()
}

/// Every page of an event query, following `next`.
async fn all_pages(
    s: &dyn Store,
    mut q: EventQuery,
) -> Vec<Result<threadline_store::Page<threadline_store::StoredEvent>, String>> {
    let mut pages = Vec::new();
    for _ in 0..200 {
        let page = s.events(&q).await.map_err(|e| e.to_string());
        let next = page.as_ref().ok().and_then(|p| p.next.clone());
        pages.push(page);
        let Some(next) = next else { break };
        q.after_seq = Some(next.parse().unwrap());
    }
    pages
}

fn event_queries() -> Vec<EventQuery> {
    let q = |f: &dyn Fn(&mut EventQuery)| {
        let mut q = EventQuery {
            limit: 4,
            ..EventQuery::default()
        };
        f(&mut q);
        q
    };
    vec![
        q(&|_| {}),
        q(&|q| q.limit = 0),
        q(&|q| q.item = Some(key("PHONE", "P1"))),
        q(&|q| q.item = Some(key("BOARD", "B2"))),
        q(&|q| q.lot = Some(lot("RESIN", "L0"))),
        q(&|q| q.kind = Some(EventKind::Aggregation)),
        q(&|q| q.biz_step = Some("shipping".into())),
        q(&|q| q.biz_step = Some("ship\0ping".into())),
        q(&|q| q.biz_location = Some("SZ-L1".into())),
        q(&|q| q.biz_transaction = Some(("po".into(), "PO-7".into()))),
        q(&|q| {
            q.from = Some(now() - chrono::Duration::minutes(9_000));
            q.to = Some(now() - chrono::Duration::minutes(8_000));
        }),
        q(&|q| {
            q.item = Some(key("PHONE", "P0"));
            q.kind = Some(EventKind::Object);
            q.after_seq = Some(20);
        }),
    ]
}

fn list_queries() -> Vec<ListQuery> {
    let q = |search: Option<&str>,
             kind: Option<&str>,
             parent: Option<&str>,
             after: Option<&str>,
             limit: u32| ListQuery {
        search: search.map(str::to_owned),
        kind: kind.map(str::to_owned),
        parent: parent.map(str::to_owned),
        after: after.map(str::to_owned),
        limit,
    };
    vec![
        q(None, None, None, None, 100),
        q(None, None, None, None, 2),
        q(None, None, None, Some("B"), 2),
        q(None, None, None, Some("SZ-WH\0x"), 10),
        q(Some("R"), None, None, None, 10),
        q(Some("plant"), None, None, None, 10),
        q(Some("_"), None, None, None, 10),
        q(Some("%"), None, None, None, 10),
        q(Some("a\\b"), None, None, None, 10),
        q(Some("ÄRGER"), None, None, None, 10),
        q(None, Some("serial"), None, None, 10),
        q(None, Some("distributor"), None, None, 10),
        q(None, Some("bin"), Some("SZ-WH"), None, 10),
        q(None, None, Some("SZ"), Some("SZ-L1"), 1),
        q(None, Some("b\0in"), None, None, 10),
    ]
}

const PHONES: &[&str] = &["P0", "P1", "P2", "P3", "P4"];
const BOARDS: &[&str] = &["B0", "B1", "B2", "B3", "B4"];
const LOTS: &[&str] = &["L0", "L1", "L2"];
const PLACES: &[&str] = &[
    "SZ-WH-A1", "SZ-WH-A2", "SZ-L1", "SZ-WH-A1", "SZ-WH-A2", "SZ-L1", "NOWHERE",
];

/// The reference plant, with names that exercise the text rules (case, `%`, `_`, `\`, non-ASCII).
async fn plant(p: &mut Pair) {
    let defs = [
        (
            "location",
            json!({"code": "SZ", "name": "Shenzhen plant", "kind": "site"}),
        ),
        (
            "location",
            json!({"code": "SZ-L1", "name": "Line 1", "kind": "line", "parent": "SZ"}),
        ),
        (
            "location",
            json!({"code": "SZ-WH", "name": "Warehouse 100%", "kind": "area", "parent": "SZ"}),
        ),
        (
            "location",
            json!({"code": "SZ-WH-A1", "name": "Bin a\\b", "kind": "bin", "parent": "SZ-WH"}),
        ),
        (
            "location",
            json!({"code": "SZ-WH-A2", "name": "Bin_A2", "kind": "bin", "parent": "SZ-WH"}),
        ),
        (
            "party",
            json!({"code": "SUP1", "name": "Ärger Resin Co.", "kind": "supplier"}),
        ),
        (
            "party",
            json!({"code": "DIST-GD", "name": "Guangdong Dist.", "kind": "distributor", "regions": ["CN-GD"]}),
        ),
        (
            "party",
            json!({"code": "CUST1", "name": "Acme Retail", "kind": "customer"}),
        ),
        (
            "location",
            json!({"code": "EXT-GD", "name": "GD warehouse", "kind": "external", "party": "DIST-GD"}),
        ),
        (
            "product",
            json!({"code": "PHONE", "name": "Phone", "tracking": "serial", "gtin": "09521234543213",
                   "attributes": [{"name": "color", "type": "enum", "options": ["black", "white"], "required": true}]}),
        ),
        (
            "product",
            json!({"code": "BOARD", "name": "Main board", "tracking": "serial"}),
        ),
        (
            "product",
            json!({"code": "RESIN", "name": "Resin", "tracking": "lot", "uom": "KGM"}),
        ),
        (
            "product",
            json!({"code": "b-lower", "name": "lower case", "tracking": "none"}),
        ),
    ];
    for (kind, def) in defs {
        p.put(kind, def, None).await.unwrap();
    }
}

/// SplitMix64: reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &'a [&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn random_event(r: &mut Rng, minutes_ago: i64, accepted: &[Uuid]) -> Value {
    let t = at(minutes_ago);
    let phone = json!({"product": "PHONE", "serial": r.pick(PHONES)});
    let board = json!({"product": "BOARD", "serial": r.pick(BOARDS)});
    let board2 = json!({"product": "BOARD", "serial": r.pick(BOARDS)});
    let qty = format!("{}.{}", r.below(20), r.below(1000));
    let lotq = json!({"product": "RESIN", "lot": r.pick(LOTS), "quantity": qty});
    let place = r.pick(PLACES);
    match r.below(16) {
        0 => {
            json!({"type": "object", "action": "ADD", "event_time": t, "biz_location": place, "items": [phone],
                    "ilmd": {"color": if r.below(10) == 0 { "red" } else { "white" }, "lot": r.pick(LOTS)}})
        }
        1 => {
            json!({"type": "object", "action": "ADD", "event_time": t, "biz_location": place, "items": [board, board2]})
        }
        2 => {
            json!({"type": "object", "action": "ADD", "event_time": t, "biz_location": place, "lots": [lotq],
                    "ilmd": {"production_date": "2026-01-01", "expiry_date": "2027-01-01"},
                    "sources": [{"type": "owning_party", "id": if r.below(3) == 0 { "SUP\u{0}1" } else { "SUP1" }}],
                    "biz_transactions": [{"type": "po", "id": "PO-7"}]})
        }
        3 => {
            json!({"type": "aggregation", "action": "ADD", "event_time": t, "parent": phone, "children": [board, board2]})
        }
        4 => json!({"type": "aggregation", "action": "DELETE", "event_time": t, "parent": phone}),
        5 => {
            json!({"type": "aggregation", "action": "DELETE", "event_time": t, "parent": phone, "children": [board]})
        }
        6 => {
            json!({"type": "association", "action": "ADD", "event_time": t, "biz_location": place, "parent": board,
                    "child_lots": [lotq]})
        }
        7 => {
            json!({"type": "aggregation", "action": "ADD", "event_time": t, "parent": board, "children": [board2]})
        }
        8 => {
            json!({"type": "object", "action": "OBSERVE", "event_time": t, "biz_step": "shipping", "disposition": "in_transit",
                    "items": [phone], "destinations": [{"type": "owning_party", "id": "DIST-GD"},
                                                       {"type": "location", "id": if r.below(4) == 0 { "EXT\u{0}" } else { "EXT-GD" }}],
                    "biz_transactions": [{"type": "so", "id": "SO-1"}]})
        }
        9 => json!({"type": "object", "action": "OBSERVE", "event_time": t, "lots": [lotq],
                    "sources": [{"type": "location", "id": r.pick(PLACES)}], "destinations": [{"type": "location", "id": r.pick(PLACES)}]}),
        10 => {
            json!({"type": "transformation", "event_time": t, "biz_location": place, "input_lots": [lotq], "outputs": [board],
                     "output_lots": [{"product": "RESIN", "lot": r.pick(LOTS), "quantity": "1.5"}]})
        }
        11 => {
            json!({"type": "object", "action": "OBSERVE", "event_time": t, "items": [phone], "lots": [lotq],
                     "hold": if r.below(2) == 0 { json!({"place": "recall"}) } else { json!({"release": "recall"}) }})
        }
        12 => {
            json!({"type": "object", "action": "DELETE", "event_time": t, "biz_step": "destroying", "items": [board]})
        }
        13 => {
            json!({"type": "transaction", "action": "ADD", "event_time": t, "items": [phone], "read_point": place,
                     "biz_transactions": [{"type": "so", "id": format!("SO-{}", r.below(3))}]})
        }
        14 => match accepted.get(r.below(accepted.len().max(1) as u64) as usize) {
            Some(id) => {
                json!({"type": "object", "action": "OBSERVE", "event_time": t, "items": [phone], "biz_step": "repairing",
                               "disposition": "in_progress", "corrects": {"event": id, "reason": "wrong step"}})
            }
            None => {
                json!({"type": "object", "action": "OBSERVE", "event_time": t, "items": [phone]})
            }
        },
        _ => {
            json!({"type": "transformation", "event_time": t, "biz_location": place, "inputs": [board], "outputs": [phone],
                    "ilmd": {"color": "black"}})
        }
    }
}

async fn random_master(p: &mut Pair, r: &mut Rng) {
    let code = ["DIST-SZ", "CUST2", "SUP1", "EXT-SZ"][r.below(4) as usize];
    let replaces = if r.below(2) == 0 {
        None
    } else {
        Some(1 + r.below(3) as u32)
    };
    let def = match code {
        "DIST-SZ" => {
            json!({"code": code, "name": "Shenzhen Dist.", "kind": "distributor", "parent": "DIST-GD"})
        }
        "CUST2" => {
            json!({"code": code, "name": "Customer 2", "kind": "customer", "parent": if r.below(2) == 0 { "CUST1" } else { "NOPE" }})
        }
        "SUP1" => {
            json!({"code": code, "name": format!("Resin Co. v{}", r.below(9)), "kind": "supplier"})
        }
        _ => {
            json!({"code": code, "name": "SZ external", "kind": "external", "party": "DIST-SZ", "parent": "EXT-GD"})
        }
    };
    let kind = if code.starts_with("EXT") {
        "location"
    } else {
        "party"
    };
    let _ = p.put(kind, def, replaces).await;
    if r.below(4) == 0 {
        let gtin = if r.below(2) == 0 {
            "09521234543213"
        } else {
            "04012345678901"
        };
        let def = json!({"code": "TABLET", "name": "Tablet", "tracking": if r.below(3) == 0 { "lot" } else { "serial" }, "gtin": gtin});
        let _ = p
            .put("product", def, if r.below(2) == 0 { None } else { Some(1) })
            .await;
    }
}

async fn random_run(seed: u64) {
    let Some(mut p) = Pair::new().await else {
        return;
    };
    plant(&mut p).await;
    let mut r = Rng(seed);
    let mut accepted: Vec<Uuid> = Vec::new();
    let mut recorded = 0;
    for i in 0..300 {
        if r.below(8) == 0 {
            random_master(&mut p, &mut r).await;
        }
        let n = 1 + r.below(2) as usize;
        let batch: Vec<Event> = (0..n)
            .filter_map(|j| {
                try_event(random_event(&mut r, 10_000 - i * 5 - j as i64, &accepted)).ok()
            })
            .collect();
        if batch.is_empty() {
            continue;
        }
        let key = (r.below(5) == 0).then(|| IdempotencyKey {
            key: format!("k{}", r.below(4)),
            request_hash: [r.below(2) as u8; 32],
        });
        if p.capture(&batch, key.as_ref()).await.is_ok() {
            recorded += 1;
            accepted.extend(batch.iter().map(|e| e.id));
        }
        if i % 30 == 0 {
            p.compare_reads(&format!("seed {seed} step {i}")).await;
        }
    }
    eprintln!("seed {seed}: {recorded} batches recorded");
    assert!(
        recorded > 40,
        "the generator should produce mostly acceptable batches, got {recorded}"
    );
    p.compare_reads(&format!("seed {seed} end")).await;
    for id in accepted.iter().step_by(7) {
        p.both("event", async |s| s.event(*id).await.unwrap()).await;
    }
    for (kind, code) in [
        ("party", "SUP1"),
        ("location", "EXT-SZ"),
        ("product", "TABLET"),
        ("party", "NONE"),
    ] {
        p.both("master history", async |s| {
            s.master_history(kind, code).await.unwrap()
        })
        .await;
    }
    p.both("rebuild", async |s| s.rebuild().await.unwrap())
        .await;
    p.compare_reads(&format!("seed {seed} rebuilt")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_histories_read_the_same_on_both_engines_seed_1() {
    random_run(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_histories_read_the_same_on_both_engines_seed_2() {
    random_run(0x5EED_0002).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_histories_read_the_same_on_both_engines_seed_3() {
    random_run(77).await;
}

/// A short history to tamper with: master entries 1–13, then events 14–25.
async fn history() -> Option<Pair> {
    let mut p = Pair::new().await?;
    plant(&mut p).await;
    let phone = |s: &str| json!({"product": "PHONE", "serial": s});
    let board = |s: &str| json!({"product": "BOARD", "serial": s});
    let resin = |l: &str, q: &str| json!({"product": "RESIN", "lot": l, "quantity": q});
    let mut events = Vec::new();
    for i in 0..3 {
        let (ph, b1, b2) = (format!("P{i}"), format!("B{i}"), format!("B{}", i + 3));
        events.push(json!({"type": "object", "action": "ADD", "event_time": at(100 - i), "biz_location": "SZ-L1",
                           "items": [phone(&ph)], "ilmd": {"color": "black"}}));
        events.push(json!({"type": "object", "action": "ADD", "event_time": at(90 - i), "items": [board(&b1), board(&b2)]}));
        events.push(json!({"type": "aggregation", "action": "ADD", "event_time": at(80 - i), "parent": phone(&ph),
                           "children": [board(&b1), board(&b2)]}));
    }
    events.push(json!({"type": "object", "action": "ADD", "event_time": at(70), "biz_location": "SZ-WH-A1",
                       "lots": [resin("L0", "10")], "biz_transactions": [{"type": "po", "id": "PO-7"}]}));
    events.push(
        json!({"type": "transformation", "event_time": at(60), "biz_location": "SZ-WH-A1",
                       "input_lots": [resin("L0", "2.5")], "output_lots": [resin("L1", "2")]}),
    );
    events.push(json!({"type": "aggregation", "action": "DELETE", "event_time": at(50), "parent": phone("P1")}));
    for (i, v) in events.into_iter().enumerate() {
        let receipts = p.capture(&[try_event(v).unwrap()], None).await.unwrap();
        assert_eq!(receipts[0].seq, 14 + i as i64);
    }
    Some(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_tampering_gives_the_same_verify_report() {
    let cases: &[(&str, bool)] = &[
        (
            "UPDATE ledger SET body = replace(body, '\"actor\":\"test\"', '\"actor\":\"evil\"') WHERE seq = 15",
            true,
        ),
        (
            "UPDATE ledger SET body = replace(body, 'Shenzhen', 'Shenzhen ') WHERE seq = 1",
            true,
        ),
        ("DELETE FROM ledger WHERE seq = 16", true),
        (
            "DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)",
            true,
        ),
        ("UPDATE ledger_head SET seq = seq + 1", true),
        (
            "UPDATE events SET event_time = event_time + 1 WHERE seq = 17",
            true,
        ),
        (
            "UPDATE events SET kind = 'transaction' WHERE seq = 18",
            true,
        ),
        ("DELETE FROM events WHERE seq = 19", true),
        ("UPDATE events SET seq = 1000 WHERE seq = 20", true),
        // Whoever can rewrite the head along with the entries is not caught by the database
        // alone (that needs the head hash kept elsewhere); both engines agree on that too.
        ("DELETE FROM ledger; UPDATE ledger_head SET seq = 0", false),
    ];
    for (sql, noticed) in cases {
        let Some(p) = history().await else { return };
        p.tamper(sql).await;
        let report = p.both(sql, async |s| s.verify().await.unwrap()).await;
        assert_eq!(report.first_break.is_some(), *noticed, "{sql}: {report:?}");
    }

    // A body that no longer parses, with a hash made to match it.
    let Some(p) = history().await else { return };
    p.replace_body(14, "{\"entry\":\"event\"}").await;
    let report = p
        .both("unparseable body", async |s| s.verify().await.unwrap())
        .await;
    assert!(matches!(
        report.first_break,
        Some(threadline_domain::ledger::Break::Body { seq: 14, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_is_chained_searched_and_verified_alike() {
    let record = |i: u128, actor: &str, object: &str| threadline_domain::audit::AuditRecord {
        id: Uuid::from_u128(0xa0d1_7000 + i),
        recorded_at: chrono::DateTime::from_timestamp(1_790_000_000 + i as i64, 0).unwrap(),
        actor: Some(actor.into()),
        address: Some("192.0.2.1".into()),
        action: "PUT /api/v1/products/{code}".into(),
        object: object.into(),
        status: Some(200),
        before: Some(json!({"name": "old"})),
        after: Some(json!({"name": "new"})),
        reason: None,
        signature: None,
    };
    let cases: &[&str] = &[
        "UPDATE audit_log SET body = replace(body, 'old', 'odd') WHERE seq = 2",
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
        "UPDATE audit_log SET object = 'products/X' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 4",
    ];
    for sql in cases {
        let Some(p) = Pair::new().await else { return };
        for (i, (actor, object)) in [
            ("li.na", "products/TC-200"),
            ("token:erp", "products/TC-2000"),
            ("li.na", "products/TC-200/x"),
            ("wang", "users/li.na"),
        ]
        .into_iter()
        .enumerate()
        {
            let seq = p
                .both("append", async |s| {
                    s.append_audit(record(i as u128, actor, object))
                        .await
                        .unwrap()
                })
                .await;
            assert_eq!(seq, i as i64 + 1);
        }
        let q = threadline_store::AuditQuery {
            object: Some("products/TC-200".into()),
            limit: 10,
            ..Default::default()
        };
        let found = p.both("search", async |s| s.audit(&q).await.unwrap()).await;
        let seqs: Vec<i64> = found.items.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 3], "the object and what is below it, not TC-2000");
        let q = threadline_store::AuditQuery {
            actor: Some("li.na".into()),
            limit: 1,
            ..Default::default()
        };
        let page = p.both("page", async |s| s.audit(&q).await.unwrap()).await;
        assert_eq!(page.next.as_deref(), Some("1"));
        let ok = p.both("verify", async |s| s.verify().await.unwrap()).await;
        assert_eq!((ok.audit_records, ok.first_break), (4, None));

        p.tamper(sql).await;
        let report = p.both(sql, async |s| s.verify().await.unwrap()).await;
        assert!(
            matches!(
                report.first_break,
                Some(threadline_domain::ledger::Break::Audit(_))
            ),
            "{sql}: {report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_read_the_same_on_both_engines() {
    let Some(mut p) = Pair::new().await else {
        return;
    };
    plant(&mut p).await;
    let ev = |v: Value| try_event(v).unwrap();
    let phone = |s: &str| json!({"product": "PHONE", "serial": s});

    // An event whose id a master entry already holds passes the projection (it is not an
    // event) and is refused by the ledger, naming the entry — in a batch, the right one.
    let master_id = p
        .put(
            "party",
            json!({"code": "CUST9", "name": "C9", "kind": "customer"}),
            None,
        )
        .await
        .unwrap()
        .id;
    let a = ev(
        json!({"type": "object", "action": "ADD", "event_time": at(9), "items": [phone("X1")], "ilmd": {"color": "black"}}),
    );
    let mut b = ev(
        json!({"type": "object", "action": "ADD", "event_time": at(9), "items": [phone("X2")], "ilmd": {"color": "black"}}),
    );
    b.id = master_id;
    let e = p.capture(&[a.clone(), b.clone()], None).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(f) if f.code == "duplicate_event" && f.message.contains(&master_id.to_string())),
        "{e:?}"
    );
    p.capture(&[b], None).await.unwrap_err();
    p.capture(std::slice::from_ref(&a), None).await.unwrap();

    // An event sent again (the client's retry without an idempotency key) that the state still
    // accepts: the ledger refuses it, naming it, behind a new event in the same batch.
    let seen = ev(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(9), "items": [phone("X1")]}),
    );
    p.capture(std::slice::from_ref(&seen), None).await.unwrap();
    let fresh = ev(
        json!({"type": "object", "action": "OBSERVE", "event_time": at(9), "items": [phone("X1")]}),
    );
    let e = p.capture(&[fresh, seen.clone()], None).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict(f) if f.message == format!("entry {} is already recorded", seen.id)),
        "{e:?}"
    );

    // And a master change whose id an event holds.
    let w = MasterWrite {
        record: master(
            "party",
            json!({"code": "CUST8", "name": "C8", "kind": "customer"}),
        ),
        actor: "test".into(),
        now: now(),
        id: a.id,
        replaces: None,
    };
    p.both("master id taken", async |s| s.put_master(w.clone()).await)
        .await
        .unwrap_err();

    // Every kind of capture refusal, in one batch and alone.
    let bad = [
        json!({"type": "object", "action": "ADD", "event_time": at(8), "items": [phone("X1")], "ilmd": {"color": "black"}}),
        json!({"type": "object", "action": "ADD", "event_time": at(8), "items": [phone("X3")]}),
        json!({"type": "object", "action": "OBSERVE", "event_time": at(8), "items": [phone("NOPE")], "biz_location": "NOWHERE"}),
        json!({"type": "object", "action": "OBSERVE", "event_time": at(8), "items": [{"product": "RESIN", "serial": "1"}]}),
        json!({"type": "object", "action": "DELETE", "event_time": at(8), "biz_location": "SZ-L1",
               "lots": [{"product": "RESIN", "lot": "L9", "quantity": "1"}]}),
        json!({"type": "aggregation", "action": "ADD", "event_time": at(8), "parent": phone("X1"), "children": [phone("X1-child")]}),
        json!({"type": "object", "action": "OBSERVE", "event_time": at(8), "items": [phone("X1")],
               "destinations": [{"type": "possessing_party", "id": "GHOST"}, {"type": "location", "id": "bad\u{0}loc"}]}),
        json!({"type": "object", "action": "OBSERVE", "event_time": at(8), "items": [phone("X1")],
               "corrects": {"event": Uuid::nil(), "reason": "typo"}}),
    ];
    let batch: Vec<Event> = bad.iter().cloned().map(ev).collect();
    p.capture(&batch, None).await.unwrap_err();
    for e in &batch {
        p.capture(std::slice::from_ref(e), None).await.unwrap_err();
    }

    // Idempotency: replay, and the same key for another request.
    let k = IdempotencyKey {
        key: "abc".into(),
        request_hash: [1; 32],
    };
    let c = ev(
        json!({"type": "object", "action": "ADD", "event_time": at(7), "items": [phone("X4")], "ilmd": {"color": "black"}}),
    );
    let first = p.capture(std::slice::from_ref(&c), Some(&k)).await.unwrap();
    assert_eq!(
        p.capture(std::slice::from_ref(&c), Some(&k)).await.unwrap(),
        first
    );
    p.capture(
        std::slice::from_ref(&c),
        Some(&IdempotencyKey {
            request_hash: [2; 32],
            ..k.clone()
        }),
    )
    .await
    .unwrap_err();
    // An empty batch is recorded as nothing.
    p.capture(&[], None).await.unwrap();

    // Master refusals.
    p.put(
        "product",
        json!({"code": "PHONE", "name": "again", "tracking": "serial"}),
        None,
    )
    .await
    .unwrap_err();
    p.put(
        "product",
        json!({"code": "PHONE", "name": "v9", "tracking": "serial"}),
        Some(9),
    )
    .await
    .unwrap_err();
    p.put(
        "product",
        json!({"code": "PHONE", "name": "lot now", "tracking": "lot"}),
        Some(1),
    )
    .await
    .unwrap_err();
    p.put(
        "product",
        json!({"code": "GHOST", "name": "g", "tracking": "lot"}),
        Some(1),
    )
    .await
    .unwrap_err();
    p.put(
        "product",
        json!({"code": "TAB", "name": "t", "tracking": "serial", "gtin": "09521234543213"}),
        None,
    )
    .await
    .unwrap_err();
    p.put(
        "location",
        json!({"code": "SZ-X", "name": "x", "kind": "bin", "parent": "NOPE", "party": "NOPE"}),
        None,
    )
    .await
    .unwrap_err();
    p.put(
        "location",
        json!({"code": "SZ-Y", "name": "y", "kind": "area", "parent": "SZ-WH-A1"}),
        None,
    )
    .await
    .unwrap_err();
    p.put(
        "party",
        json!({"code": "D2", "name": "d", "kind": "distributor", "parent": "CUST1"}),
        None,
    )
    .await
    .unwrap_err();
    p.put("party", json!({"code": "D3", "name": "name\u{0}with nul", "kind": "distributor", "parent": "DIST-GD"}), None).await.unwrap();
    p.put(
        "product",
        json!({"code": "PHONE", "name": "Phone 2", "tracking": "serial"}),
        Some(1),
    )
    .await
    .unwrap();

    // Lookups of what cannot exist.
    p.both("product with NUL", async |s| {
        s.product("PH\0ONE").await.unwrap()
    })
    .await;
    p.both("user with NUL", async |s| s.user("a\0b").await.unwrap())
        .await;

    // Users.
    let u = NewUser {
        name: threadline_domain::access::UserName::parse("ana").unwrap(),
        password_hash: "h".into(),
        roles: threadline_domain::access::Roles::one(threadline_domain::access::Role::Admin),
        site: None,
        party: None,
        created_at: now(),
    };
    p.both("create user", async |s| s.create_user(u.clone()).await)
        .await
        .unwrap();
    p.both("duplicate user", async |s| s.create_user(u.clone()).await)
        .await
        .unwrap_err();
    p.both("user", async |s| s.user("ana").await.unwrap()).await;
    p.both("user count", async |s| s.user_count().await.unwrap())
        .await;

    p.compare_reads("refusals").await;
}
