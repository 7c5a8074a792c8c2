//! `threadline bench gen`: a realistic plant, deterministically from a seed, recorded through
//! the same operations as the API offers and captured in large batches through
//! [`Store::capture`] (the ledger, its hash chain, the process rules and the projection — no
//! shortcut).
//!
//! The plant: six final-assembly lines making three controllers (`TC-100`, `TC-200`,
//! `TC-300`) in work orders of `wo_size` units, three shifts a day. Each controller is built
//! from a main board (`PCB-A`, made on SMT line 1 from a supplier-serialized microcontroller
//! and solder paste) and a power pack (`PWR-5`, made on line 2 from a supplier-serialized cell
//! and housing compound), with screws: three levels (controller ← modules ← components and
//! material lots). Housing compound is moulded from supplier resin lots, each resin lot
//! covering `resin_span` work orders, so one resin lot reaches `resin_span × wo_size`
//! controllers through compound → pack → controller. Every finished unit is inspected with a
//! measurement (about 3 % fail: most are reworked and pass a re-test, a few are scrapped), put
//! away in a bin, 90 % are shipped to one of six regional distributors who receive them, 80 % of
//! those are sold to end customers, and about 1 % of the sold come back: returned, repaired
//! with the power pack swapped for a spare, the old pack scrapped, the unit shipped back.
//!
//! Serials come from each product's serial rule (`{YYMMDD}-{LINE}-{SEQ}` with a daily
//! sequence per line), suppliers' serials are sequential. The same seed gives the same events
//! (their identifiers included); only the record times differ.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use rand::{Rng as _, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use threadline_domain::event::{CaptureContext, Event};
use threadline_server::ops;
use threadline_store::{MasterWrite, Store};
use uuid::Uuid;

/// Options of `bench gen`.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub seed: u64,
    /// Stop after the work order that brings the ledger to this many events.
    pub events: usize,
    /// Finished units per work order.
    pub wo_size: usize,
    /// Work orders one resin lot covers.
    pub resin_span: usize,
    /// Events per capture.
    pub batch: usize,
}

impl GenOptions {
    /// The CI size: a few thousand events, every kind of step.
    pub fn quick(seed: u64) -> GenOptions {
        GenOptions {
            seed,
            events: 3_000,
            wo_size: 40,
            resin_span: 10,
            batch: 1000,
        }
    }
}

/// A unit of the generated plant, as the load generator asks for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitKey {
    pub product: String,
    pub serial: String,
}

/// What `bench gen` made: the counts and the samples the passport and trace benchmarks use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub events: usize,
    pub work_orders: usize,
    pub finished_units: usize,
    pub units: usize,
    pub seconds: f64,
    /// Finished units drawn uniformly from the whole set (passport and backward trace).
    pub sample: Vec<UnitKey>,
    /// The resin lot of the first `resin_span` work orders and how many finished units it
    /// reached.
    pub resin_lot: UnitKey,
    pub resin_lot_reaches: usize,
}

const LINES: usize = 6;
const SHIFTS: usize = 3;
const PRODUCTS: [(&str, &str); 3] = [("TC-100", "T1"), ("TC-200", "T2"), ("TC-300", "T3")];
const REGIONS: [&str; 6] = ["CN-BJ", "CN-SH", "CN-GD", "CN-SC", "CN-HB", "CN-ZJ"];
const CUSTOMERS: usize = 300;
const SAMPLE: usize = 10_000;

struct Gen<'a> {
    /// The database the operations are planned on (their reads) and captured into.
    store: &'a dyn Store,
    /// The database the plant is for, when it is another one ([`generate_into`]).
    copy: Option<Copy>,
    opts: GenOptions,
    rng: StdRng,
    pending: Vec<Event>,
    events: usize,
    units: usize,
    now: DateTime<Utc>,
    /// Daily sequence per (rule prefix, day, line).
    seqs: HashMap<(String, NaiveDate, String), u64>,
    supplier_seq: u64,
    masters: usize,
}

/// The target of [`generate_into`]: every master record and capture batch written to the
/// planning database is written here too, in the same order, through the same
/// [`Store::put_master`] and [`Store::capture`]. A batch's copy is captured while the next
/// batch is planned.
struct Copy {
    store: Arc<dyn Store>,
    /// PostgreSQL's URL, to `ANALYZE` as the tables grow (a server with autovacuum off would
    /// plan the capture's lookups against tables it takes for empty).
    analyze: Option<String>,
    analyzed_at: usize,
    writing: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Copy {
    /// Waits for the batch being copied.
    async fn written(&mut self) -> anyhow::Result<()> {
        if let Some(w) = self.writing.take() {
            w.await.context("the copy's capture task")??;
        }
        Ok(())
    }
}

fn local(t: DateTime<Utc>) -> String {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix());
    t.with_timezone(&tz).to_rfc3339()
}

fn item(product: &str, serial: &str) -> Value {
    json!({"product": product, "serial": serial})
}

impl Gen<'_> {
    fn id(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    async fn master(&mut self, kind: &str, def: Value) -> anyhow::Result<()> {
        let record: threadline_domain::master::MasterRecord =
            serde_json::from_value(json!({"type": kind, "def": def}))
                .with_context(|| format!("bench plant {kind}"))?;
        let id = self.id();
        let write = |record| MasterWrite {
            record,
            actor: "bench".into(),
            now: self.now,
            id,
            replaces: None,
        };
        if let Some(copy) = &mut self.copy {
            copy.written().await?;
            copy.store.put_master(write(record.clone())).await?;
        }
        self.store.put_master(write(record)).await?;
        self.masters += 1;
        Ok(())
    }

    /// Plans one operation exactly as `/api/v1/ops/<name>` would, and queues its events.
    async fn op<T: ops::Operation>(&mut self, body: Value) -> anyhow::Result<()> {
        let op: T = serde_json::from_value(body)
            .map_err(|e| anyhow::anyhow!("bench plant {} body: {e}", T::NAME))?;
        let ctx = CaptureContext {
            actor: "bench".into(),
            now: self.now,
        };
        let mut seed = StdRng::seed_from_u64(self.rng.random());
        let mut id = move || uuid::Builder::from_random_bytes(seed.random()).into_uuid();
        let events = ops::plan_events(self.store, &ctx, &op, &mut id)
            .await
            .map_err(|e| anyhow::anyhow!("bench plant {} refused: {e:?}", T::NAME))?;
        self.pending.extend(events);
        if self.pending.len() >= self.opts.batch {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        let n = batch.len();
        if let Some(copy) = &mut self.copy {
            copy.written().await?;
            if let Some(url) = &copy.analyze
                && self.events >= copy.analyzed_at.saturating_mul(2).max(50_000)
            {
                analyze(url).await?;
                copy.analyzed_at = self.events;
            }
            let (store, events) = (copy.store.clone(), batch.clone());
            copy.writing = Some(tokio::spawn(async move {
                store
                    .capture(events, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow::anyhow!("bench plant copy: capture refused: {e}"))
            }));
        }
        self.store
            .capture(batch, None)
            .await
            .map_err(|e| anyhow::anyhow!("bench plant capture refused: {e}"))?;
        self.events += n;
        Ok(())
    }

    fn queued(&self) -> usize {
        self.events + self.pending.len()
    }

    /// `count` serials from a product's rule (`PREFIX-{YYMMDD}-{LINE}-{SEQ:5}`, daily per line).
    fn serials(&mut self, prefix: &str, day: NaiveDate, line: &str, count: usize) -> Vec<String> {
        let seq = self
            .seqs
            .entry((prefix.to_owned(), day, line.to_owned()))
            .or_insert(0);
        let first = *seq + 1;
        *seq += count as u64;
        let ymd = day.format("%y%m%d");
        self.units += count;
        (first..first + count as u64)
            .map(|n| format!("{prefix}-{ymd}-{line}-{n:05}"))
            .collect()
    }

    fn supplier_serials(&mut self, prefix: &str, count: usize) -> Vec<String> {
        let first = self.supplier_seq;
        self.supplier_seq += count as u64;
        self.units += count;
        (first..first + count as u64)
            .map(|n| format!("{prefix}{n:010}"))
            .collect()
    }
}

fn rule(code: &str, prefix: &str) -> Value {
    json!({"code": code, "template": format!("{prefix}-{{YYMMDD}}-{{LINE}}-{{SEQ:5}}"),
        "time_zone": "+08:00", "sequence_reset": "daily"})
}

async fn master_data(g: &mut Gen<'_>) -> anyhow::Result<()> {
    g.master(
        "location",
        json!({"code": "PLANT", "name": "Bench plant", "kind": "site", "region": "CN-GD"}),
    )
    .await?;
    let mut areas: Vec<(String, &str)> = (1..=LINES).map(|l| (format!("FA-{l}"), "line")).collect();
    areas.extend([
        ("SMT-1".to_owned(), "line"),
        ("SMT-2".to_owned(), "line"),
        ("QC".to_owned(), "area"),
        ("WH".to_owned(), "area"),
        ("RM".to_owned(), "area"),
        ("RW".to_owned(), "area"),
    ]);
    for (code, kind) in areas {
        g.master(
            "location",
            json!({"code": code, "name": code, "kind": kind, "parent": "PLANT"}),
        )
        .await?;
    }
    for b in 1..=20 {
        g.master("location", json!({"code": format!("WH-A{b:02}"), "name": format!("Bin A{b:02}"), "kind": "bin", "parent": "WH"})).await?;
    }
    for (code, name) in [
        ("SUP-MCU", "Microcontroller supplier"),
        ("SUP-CELL", "Cell supplier"),
        ("SUP-RESIN", "Resin supplier"),
        ("SUP-SOLDER", "Solder supplier"),
        ("SUP-SCREW", "Fastener supplier"),
    ] {
        g.master(
            "party",
            json!({"code": code, "name": name, "kind": "supplier"}),
        )
        .await?;
    }
    for (d, region) in REGIONS.iter().enumerate() {
        g.master("party", json!({"code": format!("DIST-{d}"), "name": format!("Distributor {region}"), "kind": "distributor", "regions": [region]})).await?;
        g.master("location", json!({"code": format!("EXT-DIST-{d}"), "name": format!("Distributor {region} warehouse"), "kind": "external", "party": format!("DIST-{d}"), "region": region})).await?;
    }
    for c in 0..CUSTOMERS {
        g.master("party", json!({"code": format!("CUST-{c:04}"), "name": format!("Customer {c}"), "kind": "customer",
            "contact": {"person": "Purchasing", "phone": format!("+86 400 {c:07}")}})).await?;
    }
    for (code, prefix) in PRODUCTS {
        g.master(
            "product",
            json!({"code": code, "name": format!("Controller {code}"), "tracking": "serial",
            "category": "controllers", "warranty_months": 24, "serial_rule": rule(prefix, prefix)}),
        )
        .await?;
    }
    g.master("product", json!({"code": "PCB-A", "name": "Main board", "tracking": "serial", "category": "modules", "serial_rule": rule("PB", "PB")})).await?;
    g.master("product", json!({"code": "PWR-5", "name": "Power pack", "tracking": "serial", "category": "modules", "serial_rule": rule("PW", "PW")})).await?;
    g.master(
        "product",
        json!({"code": "MCU-32", "name": "Microcontroller", "tracking": "serial"}),
    )
    .await?;
    g.master(
        "product",
        json!({"code": "CELL-18", "name": "Cell", "tracking": "serial"}),
    )
    .await?;
    for (code, name, uom) in [
        ("RESIN", "Polycarbonate resin", "KGM"),
        ("COMPOUND", "Housing compound", "KGM"),
        ("SOLDER", "Solder paste", "KGM"),
        ("SCREW", "M3 screw", "EA"),
    ] {
        g.master(
            "product",
            json!({"code": code, "name": name, "tracking": "lot", "uom": uom}),
        )
        .await?;
    }
    Ok(())
}

fn lot(product: &str, lot: &str, quantity: f64) -> Value {
    json!({"product": product, "lot": lot, "quantity": format!("{quantity:.3}")})
}

/// Generates the plant into an empty database; returns what was made.
pub async fn generate(
    store: &dyn Store,
    opts: GenOptions,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Manifest> {
    generate_into(store, None, opts, out).await
}

/// [`generate`] planned on `plan` and written to `plan` and to `copy` alike, batch by batch in
/// the same order: `bench gen` into PostgreSQL plans on a scratch SQLite file, because
/// planning an operation reads the database a few times (its products, parties, units), and
/// over a connection those reads — not the capture — set the pace (≈ 900 events/s under
/// load against PostgreSQL's 21,000 events/s of capture). Both databases must be empty;
/// `analyze` is PostgreSQL's URL when `copy` is PostgreSQL.
pub async fn generate_into(
    plan: &dyn Store,
    copy: Option<(Arc<dyn Store>, Option<String>)>,
    opts: GenOptions,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Manifest> {
    let started = Instant::now();
    let mut targets = vec![plan];
    if let Some((c, _)) = &copy {
        targets.push(&**c);
    }
    for store in targets {
        let any = store
            .products(&threadline_store::ListQuery {
                limit: 1,
                ..Default::default()
            })
            .await?;
        if !any.items.is_empty() {
            anyhow::bail!("the database is not empty: bench gen writes into an empty one");
        }
    }
    let store = plan;
    let wo_size = opts.wo_size.max(10);
    let span = opts.resin_span.max(1);
    let per_wo = wo_size * 5;
    let total_wos = opts.events.div_ceil(per_wo).max(1);
    let base = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .context("base date")?;
    // Work orders spread over 540 days, three shifts a day on six lines at least.
    let wos_per_day = total_wos.div_ceil(540).max(LINES * SHIFTS);
    let mut g = Gen {
        store,
        copy: copy.map(|(store, analyze)| Copy {
            store,
            analyze,
            analyzed_at: 0,
            writing: None,
        }),
        rng: StdRng::seed_from_u64(opts.seed),
        opts: GenOptions {
            wo_size,
            resin_span: span,
            ..opts.clone()
        },
        pending: Vec::new(),
        events: 0,
        units: 0,
        now: Utc::now(),
        seqs: HashMap::new(),
        supplier_seq: 1,
        masters: 0,
    };
    master_data(&mut g).await?;
    let mut sample: Vec<UnitKey> = Vec::new();
    let mut finished = 0usize;
    let (mut solder_left, mut screw_left, mut resin_left, mut compound_left) =
        (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let (mut solder_lot, mut screw_lot, mut resin_lot, mut compound_lot) =
        (String::new(), String::new(), String::new(), String::new());
    let mut first_resin_reach = 0usize;
    let mut wo = 0usize;
    let mut last_report = Instant::now();
    while g.queued() < opts.events || wo == 0 {
        let day_index = wo / wos_per_day;
        let slot = wo % wos_per_day;
        let t0 = base
            + Duration::days(day_index as i64)
            + Duration::minutes((slot * (24 * 60) / wos_per_day) as i64);
        let day = (t0 + Duration::hours(8)).date_naive();
        let line = format!("{}", slot % LINES + 1);
        let fa = format!("FA-{line}");
        let (product, prefix) = PRODUCTS[wo % PRODUCTS.len()];
        let wo_id = format!("WO-{:07}", wo + 1);
        let at = |minutes: f64| local(t0 + Duration::seconds((minutes * 60.0) as i64));
        let w = wo_size;

        // How this order's units will fare, drawn up front.
        let fails: Vec<bool> = (0..w).map(|_| g.rng.random_bool(0.03)).collect();
        let scrapped: Vec<bool> = fails.iter().map(|f| *f && g.rng.random_bool(0.1)).collect();
        let returns = (0..w)
            .filter(|_| g.rng.random_bool(0.01 * 0.72))
            .count()
            .min(w / 4);

        // Materials: new lots when the old ones run out, issued to the lines.
        let solder_need = w as f64 * 0.01;
        if solder_left < solder_need {
            solder_lot = format!("SP-{:06}", wo + 1);
            solder_left = solder_need * 20.0;
            g.op::<ops::Receive>(json!({"time": at(-600.0), "supplier": "SUP-SOLDER", "purchase_order": format!("PO-S-{wo:07}"),
                "location": "RM", "lines": [{"line": "10", "product": "SOLDER", "lots": [{"lot": solder_lot, "quantity": format!("{solder_left:.3}"),
                "production_date": day.format("%Y-%m-%d").to_string(), "expiry_date": (day + Duration::days(180)).format("%Y-%m-%d").to_string()}]}]})).await?;
        }
        let screw_need = (w * 4) as f64;
        if screw_left < screw_need {
            screw_lot = format!("SC-{:06}", wo + 1);
            screw_left = screw_need * 50.0;
            g.op::<ops::Receive>(json!({"time": at(-590.0), "supplier": "SUP-SCREW", "purchase_order": format!("PO-F-{wo:07}"),
                "location": "RM", "lines": [{"line": "10", "product": "SCREW", "lots": [{"lot": screw_lot, "quantity": format!("{screw_left:.0}")}]}]})).await?;
        }
        // Housing compound: a resin lot every `span` work orders (so the first one reaches
        // exactly `span × wo_size` finished units), a compound batch every five.
        let compound_need = (w + returns) as f64 * 0.1;
        let new_resin = wo.is_multiple_of(span);
        let compound_batch = (w + w / 4) as f64 * 0.1 * 5.0;
        if new_resin {
            resin_lot = format!("RS-{:06}", wo / span + 1);
            resin_left = compound_batch * (span.div_ceil(5) + 1) as f64;
            if wo > 0 && first_resin_reach == 0 {
                first_resin_reach = finished;
            }
            g.op::<ops::Receive>(json!({"time": at(-580.0), "supplier": "SUP-RESIN", "purchase_order": format!("PO-R-{wo:07}"),
                "location": "RM", "inspector": "QA incoming", "lines": [{"line": "10", "product": "RESIN", "lots": [{"lot": resin_lot,
                "quantity": format!("{resin_left:.3}"), "production_date": day.format("%Y-%m-%d").to_string()}]}]})).await?;
        }
        if new_resin || wo.is_multiple_of(5) || compound_left < compound_need {
            let batch = compound_batch.min(resin_left);
            compound_lot = format!("CP-{:06}", wo + 1);
            g.op::<ops::Move>(json!({"time": at(-500.0), "lots": [lot("RESIN", &resin_lot, batch)], "from": "RM", "to": "SMT-2"})).await?;
            let temperature = 280 + g.rng.random_range(0..10);
            g.op::<ops::Transform>(json!({"time": at(-480.0), "location": "SMT-2",
                "input_lots": [lot("RESIN", &resin_lot, batch)], "output_lots": [lot("COMPOUND", &compound_lot, batch)],
                "equipment": "IMM-05", "parameters": {"barrel_temperature_c": temperature, "cycle_s": 38},
                "work_order": format!("WO-M-{wo:07}")})).await?;
            resin_left -= batch;
            compound_left = batch;
        }
        g.op::<ops::Move>(json!({"time": at(-400.0), "lots": [lot("SOLDER", &solder_lot, solder_need)], "from": "RM", "to": "SMT-1"})).await?;
        g.op::<ops::Move>(json!({"time": at(-400.0), "lots": [lot("SCREW", &screw_lot, screw_need)], "from": "RM", "to": fa})).await?;
        solder_left -= solder_need;
        screw_left -= screw_need;
        compound_left -= compound_need;

        // Supplier-serialized components, received against a purchase order.
        let mcus = g.supplier_serials("MCU", w);
        let cells = g.supplier_serials("CEL", w + returns);
        g.op::<ops::Receive>(json!({"time": at(-700.0), "supplier": "SUP-MCU", "purchase_order": format!("PO-M-{wo:07}"),
            "location": "RM", "lines": [{"line": "10", "product": "MCU-32", "serials": mcus}]})).await?;
        g.op::<ops::Receive>(json!({"time": at(-700.0), "supplier": "SUP-CELL", "purchase_order": format!("PO-C-{wo:07}"),
            "location": "RM", "lines": [{"line": "10", "product": "CELL-18", "serials": cells}]})).await?;

        // Modules: boards on SMT-1, power packs (and spares for repairs) on SMT-2.
        let boards = g.serials("PB", day, "S1", w);
        let packs = g.serials("PW", day, "S2", w + returns);
        for (product, serials, smt, parts, material, qty, minutes) in [
            (
                "PCB-A",
                &boards,
                "SMT-1",
                &mcus,
                ("SOLDER", &solder_lot),
                0.01,
                -360.0,
            ),
            (
                "PWR-5",
                &packs,
                "SMT-2",
                &cells,
                ("COMPOUND", &compound_lot),
                0.1,
                -300.0,
            ),
        ] {
            let module_wo = format!("{wo_id}-{product}");
            g.op::<ops::Commission>(json!({"time": at(minutes), "product": product, "serials": serials, "work_order": module_wo,
                "line": smt, "station": format!("{smt}-01"), "operator": "op-smt", "revision": "B"})).await?;
            for (i, (s, part)) in serials.iter().zip(parts.iter()).enumerate() {
                let part_product = if product == "PCB-A" {
                    "MCU-32"
                } else {
                    "CELL-18"
                };
                g.op::<ops::Assemble>(json!({"time": at(minutes + 1.0 + i as f64 * 0.2), "parent": item(product, s),
                    "components": [item(part_product, part)], "component_lots": [lot(material.0, material.1, qty)],
                    "location": smt, "work_order": module_wo, "station": format!("{smt}-02"), "operator": "op-smt"})).await?;
            }
            let items: Vec<Value> = serials.iter().map(|s| item(product, s)).collect();
            g.op::<ops::Inspect>(json!({"time": at(minutes + 100.0), "items": items, "result": "pass", "location": "QC",
                "inspector": "qc-smt", "equipment": "AOI-2"})).await?;
        }

        // Finished units: commission, assemble, test.
        let units = g.serials(prefix, day, &line, w);
        g.op::<ops::Commission>(json!({"time": at(0.0), "product": product, "serials": units, "work_order": wo_id,
            "line": fa, "station": format!("{fa}-S1"), "operator": format!("op-{line}"), "revision": "C"})).await?;
        for (i, s) in units.iter().enumerate() {
            g.op::<ops::Assemble>(json!({"time": at(1.0 + i as f64 * 0.5), "parent": item(product, s),
                "components": [item("PCB-A", &boards[i]), item("PWR-5", &packs[i])],
                "component_lots": [lot("SCREW", &screw_lot, 4.0)],
                "location": fa, "work_order": wo_id, "station": format!("{fa}-S3"), "operator": format!("op-{line}")})).await?;
        }
        for (i, s) in units.iter().enumerate() {
            let volts = if fails[i] {
                4.55 + g.rng.random_range(0..20) as f64 / 100.0
            } else {
                4.9 + g.rng.random_range(0..21) as f64 / 100.0
            };
            g.op::<ops::Inspect>(json!({"time": at(200.0 + i as f64 * 0.3), "items": [item(product, s)],
                "result": if fails[i] { "fail" } else { "pass" }, "location": "QC",
                "measurements": [{"name": "output_voltage", "value": volts, "unit": "V", "low": 4.8, "high": 5.2}],
                "defect_codes": if fails[i] { json!(["E-VOLT-LOW"]) } else { json!([]) },
                "inspector": "qc-final", "equipment": "ATE-07"})).await?;
        }
        for (i, s) in units.iter().enumerate().filter(|(i, _)| fails[*i]) {
            if scrapped[i] {
                g.op::<ops::QcDisposition>(
                    json!({"time": at(300.0), "items": [item(product, s)], "decision": "scrap",
                    "reason": "output stage damaged", "location": "QC"}),
                )
                .await?;
            } else {
                g.op::<ops::QcDisposition>(
                    json!({"time": at(300.0), "items": [item(product, s)], "decision": "rework",
                    "reason": "power stage re-soldered", "location": "QC"}),
                )
                .await?;
                g.op::<ops::Inspect>(json!({"time": at(400.0 + i as f64 * 0.1), "items": [item(product, s)], "result": "pass", "location": "QC",
                    "measurements": [{"name": "output_voltage", "value": 5.01, "unit": "V", "low": 4.8, "high": 5.2}],
                    "inspector": "qc-final", "equipment": "ATE-07", "note": "re-test after rework"})).await?;
            }
        }
        let good: Vec<&String> = units
            .iter()
            .enumerate()
            .filter(|(i, _)| !scrapped[*i])
            .map(|(_, s)| s)
            .collect();
        finished += units.len();
        for s in &units {
            // Reservoir sampling: every finished unit equally likely to be in the sample.
            if sample.len() < SAMPLE {
                sample.push(UnitKey {
                    product: product.into(),
                    serial: s.clone(),
                });
            } else {
                let j = g.rng.random_range(0..finished);
                if j < SAMPLE {
                    sample[j] = UnitKey {
                        product: product.into(),
                        serial: s.clone(),
                    };
                }
            }
        }
        let bin = format!("WH-A{:02}", wo % 20 + 1);
        let items: Vec<Value> = good.iter().map(|s| item(product, s)).collect();
        g.op::<ops::Move>(json!({"time": at(600.0), "items": items, "to": bin, "put_away": true}))
            .await?;

        // To a regional distributor, who sells to end customers.
        let d = g.rng.random_range(0..REGIONS.len());
        let (dist, ext, region) = (format!("DIST-{d}"), format!("EXT-DIST-{d}"), REGIONS[d]);
        let shipped: Vec<&String> = good.iter().take(good.len() * 9 / 10).copied().collect();
        let so = format!("SO-{:07}", wo + 1);
        g.op::<ops::Ship>(json!({"time": at(2.0 * 1440.0), "sales_order": so, "distributor": dist, "ship_to_region": region,
            "carrier": "SF Express", "tracking_number": format!("SF{:010}", wo + 1), "from": bin, "to": ext,
            "lines": [{"line": "1", "product": product, "serials": shipped}]})).await?;
        let received: Vec<Value> = shipped.iter().map(|s| item(product, s)).collect();
        g.op::<ops::DistributorReceipt>(
            json!({"time": at(4.0 * 1440.0), "distributor": dist, "location": ext,
            "sales_order": so, "items": received}),
        )
        .await?;
        let sold: Vec<&String> = shipped
            .iter()
            .take(shipped.len() * 8 / 10)
            .copied()
            .collect();
        let mut buyers = Vec::with_capacity(sold.len());
        for (k, s) in sold.iter().enumerate() {
            let cust = format!("CUST-{:04}", g.rng.random_range(0..CUSTOMERS));
            g.op::<ops::Sell>(json!({"time": at(5.0 * 1440.0 + k as f64 * 30.0), "customer": cust, "seller": dist, "region": region,
                "items": [item(product, s)]})).await?;
            buyers.push(cust);
        }

        // Returns: repaired with a spare pack, the old pack scrapped, the unit sent back.
        if returns > 0 && !sold.is_empty() {
            g.flush().await?;
        }
        for r in 0..returns.min(sold.len()) {
            let k = g.rng.random_range(0..sold.len());
            let s = sold[k];
            let at_day = |d: f64| at((40.0 + d + r as f64) * 1440.0);
            let rma = format!("RMA-{:07}-{r}", wo + 1);
            let ro = format!("RO-{:07}-{r}", wo + 1);
            let unit = item(product, s);
            let idx = units.iter().position(|u| u == s).unwrap_or(0);
            // A unit can be drawn twice; the second return is skipped.
            if buyers[k].is_empty() {
                continue;
            }
            g.op::<ops::Return>(json!({"time": at_day(0.0), "rma": rma, "customer": buyers[k], "reason": "does not power on",
                "condition": "cosmetically fine", "outcome": "repair", "location": "RW", "items": [unit]})).await?;
            let old = item("PWR-5", &packs[idx]);
            let new = item("PWR-5", &packs[w + r]);
            g.op::<ops::Repair>(json!({"time": at_day(1.0), "repair_order": ro, "unit": unit,
                "fault": "cell failed", "fault_code": "F-CELL", "engineer": "svc-1", "parts": [{"old": old, "new": new}],
                "completed": true, "location": "RW"})).await?;
            g.op::<ops::Scrap>(json!({"time": at_day(1.1), "items": [old], "reason": "failed cell", "location": "RW"}))
                .await?;
            g.op::<ops::Ship>(json!({"time": at_day(1.2), "sales_order": ro, "customer": buyers[k], "carrier": "SF Express",
                "from": "RW", "lines": [{"product": product, "serials": [s]}]})).await?;
            buyers[k] = String::new();
        }
        wo += 1;
        if last_report.elapsed().as_secs() >= 30 {
            last_report = Instant::now();
            writeln!(
                out,
                "{} events, {wo} work orders, {:.0} events/s",
                g.queued(),
                g.queued() as f64 / started.elapsed().as_secs_f64()
            )?;
        }
    }
    g.flush().await?;
    if let Some(copy) = &mut g.copy {
        copy.written().await?;
    }
    if first_resin_reach == 0 {
        first_resin_reach = finished;
    }
    let seconds = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "generated {} events ({} master records), {wo} work orders, {finished} finished units, {} units in all, in {seconds:.1} s ({:.0} events/s)",
        g.events,
        g.masters,
        g.units,
        g.events as f64 / seconds
    )?;
    Ok(Manifest {
        seed: opts.seed,
        events: g.events,
        work_orders: wo,
        finished_units: finished,
        units: g.units,
        seconds,
        sample,
        resin_lot: UnitKey {
            product: "RESIN".into(),
            serial: "RS-000001".into(),
        },
        resin_lot_reaches: first_resin_reach,
    })
}

/// Runs `ANALYZE` on a PostgreSQL database after the bulk load: without statistics (a server
/// with autovacuum off, or before it has run) the planner takes the new tables for empty and
/// passports and traces slow down a hundredfold.
pub async fn analyze(url: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL for ANALYZE")?;
    let conn = tokio::spawn(connection);
    client.batch_execute("ANALYZE").await.context("ANALYZE")?;
    drop(client);
    let _ = conn.await;
    Ok(())
}

/// Runs `VACUUM (ANALYZE)` on a PostgreSQL database once the plant is loaded: the statistics,
/// and the visibility map and hint bits a server's autovacuum would have set by the time the
/// plant is read — without them every first read of a page writes it again and index-only scans
/// visit the table (a server with autovacuum off never gets them).
pub async fn vacuum(url: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL for VACUUM")?;
    let conn = tokio::spawn(connection);
    client
        .batch_execute("VACUUM (ANALYZE)")
        .await
        .context("VACUUM (ANALYZE)")?;
    drop(client);
    let _ = conn.await;
    Ok(())
}

/// Where the manifest of a generated database is kept: beside a SQLite file, or the given
/// file.
pub fn manifest_path(db: &str, given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    match db.strip_prefix("sqlite:") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(format!("{path}.manifest.json"))),
        _ => anyhow::bail!("a PostgreSQL database needs --manifest FILE"),
    }
}
