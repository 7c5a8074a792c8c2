//! The demo plant: a small electronics factory with a living history, so a newcomer opening
//! Threadline sees passports, genealogy, holds and channel data instead of empty tables.
//!
//! Everything is recorded through the same [`Store`] calls as real data (and so checked by the
//! same rules), deterministically: the same `now` gives the same plant.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use threadline_domain::event::{CaptureContext, Event, EventRequest};
use threadline_domain::master::MasterRecord;
use threadline_store::{MasterWrite, Store};
use uuid::Uuid;

/// SplitMix64: small, deterministic, good enough to vary a demo.
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
        self.next() % n.max(1)
    }
}

struct Recorder<'a> {
    store: &'a dyn Store,
    now: DateTime<Utc>,
    pending: Vec<Event>,
    entries: usize,
}

impl Recorder<'_> {
    fn time(&self, days_ago: f64) -> String {
        let t = self.now - Duration::seconds((days_ago * 86_400.0) as i64);
        t.with_timezone(
            &chrono::FixedOffset::east_opt(8 * 3600)
                .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset")),
        )
        .to_rfc3339()
    }

    async fn master(&mut self, kind: &str, def: Value) -> anyhow::Result<()> {
        let record: MasterRecord = serde_json::from_value(json!({ "type": kind, "def": def }))?;
        self.store
            .put_master(MasterWrite {
                record,
                actor: "demo".into(),
                now: self.now,
                id: Uuid::now_v7(),
                replaces: None,
            })
            .await?;
        self.entries += 1;
        Ok(())
    }

    /// Queues an event; `flush` records the queue as one batch.
    fn event(&mut self, v: Value) -> anyhow::Result<()> {
        let req: EventRequest = serde_json::from_value(v)?;
        let ev = Event::from_request(
            req,
            &CaptureContext {
                actor: "demo".into(),
                now: self.now,
            },
            Uuid::now_v7(),
        )
        .map_err(|v| anyhow::anyhow!("demo event invalid: {v:?}"))?;
        self.pending.push(ev);
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.entries += batch.len();
        self.store
            .capture(batch, None)
            .await
            .map_err(|e| anyhow::anyhow!("demo batch refused: {e}"))?;
        Ok(())
    }
}

fn item(product: &str, serial: &str) -> Value {
    json!({ "product": product, "serial": serial })
}

/// Loads the demo into an empty database. Returns the number of ledger entries written, or
/// `None` if the database already has products (the demo is never mixed into real data).
pub async fn load(store: &dyn Store, now: DateTime<Utc>) -> anyhow::Result<Option<usize>> {
    let any = store
        .products(&threadline_store::ListQuery {
            limit: 1,
            ..Default::default()
        })
        .await?;
    if !any.items.is_empty() {
        return Ok(None);
    }
    let mut r = Recorder {
        store,
        now,
        pending: Vec::new(),
        entries: 0,
    };
    let mut rng = Rng(2026);

    // Places.
    r.master(
        "location",
        json!({"code": "SZ", "name": "深圳工厂 Shenzhen plant", "kind": "site", "region": "CN-GD"}),
    )
    .await?;
    for (code, name, kind) in [
        ("SZ-L1", "总装线 1 Final assembly line 1", "line"),
        ("SZ-L2", "SMT 线 2 SMT line 2", "line"),
        ("SZ-QC", "质检区 QC bench", "area"),
        ("SZ-WH", "成品仓 Finished goods warehouse", "area"),
        ("SZ-RM", "原料仓 Raw material store", "area"),
        ("SZ-RW", "维修站 Repair workshop", "area"),
    ] {
        r.master(
            "location",
            json!({"code": code, "name": name, "kind": kind, "parent": "SZ"}),
        )
        .await?;
    }
    for bin in ["A01", "A02", "A03", "A04"] {
        r.master("location", json!({"code": format!("SZ-WH-{bin}"), "name": format!("库位 Bin {bin}"), "kind": "bin", "parent": "SZ-WH"})).await?;
    }
    for bin in ["R01", "R02"] {
        r.master("location", json!({"code": format!("SZ-RM-{bin}"), "name": format!("库位 Bin {bin}"), "kind": "bin", "parent": "SZ-RM"})).await?;
    }

    // Parties.
    for (code, name) in [
        ("SUP-BAT", "宁德电芯 Ningde Cells Co."),
        ("SUP-PCB", "东莞电路板 Dongguan PCB Ltd."),
        ("SUP-RESIN", "金发塑料 Kingfa Resin"),
    ] {
        r.master("party", json!({"code": code, "name": name, "kind": "supplier", "contact": {"person": "销售部", "phone": "+86 755 0000 0000"}})).await?;
    }
    r.master("party", json!({"code": "DIST-GD", "name": "广东华南分销 South China Distribution", "kind": "distributor", "regions": ["CN-GD", "CN-GX"]})).await?;
    r.master("party", json!({"code": "DIST-SH", "name": "上海华东分销 East China Distribution", "kind": "distributor", "regions": ["CN-SH", "CN-JS", "CN-ZJ"]})).await?;
    r.master("party", json!({"code": "DIST-SH-HZ", "name": "杭州二级经销 Hangzhou sub-distributor", "kind": "distributor", "regions": ["CN-ZJ"], "parent": "DIST-SH"})).await?;
    for (code, name) in [
        ("CUST-001", "深圳智造科技 Shenzhen SmartMake"),
        ("CUST-002", "苏州精工 Suzhou Precision"),
        ("CUST-003", "杭州云仓 Hangzhou CloudStore"),
    ] {
        r.master("party", json!({"code": code, "name": name, "kind": "customer", "contact": {"person": "采购 Purchasing", "phone": "+86 400 000 0000", "address": "—"}})).await?;
    }
    r.master("location", json!({"code": "EXT-DIST-GD", "name": "华南分销仓 DIST-GD warehouse", "kind": "external", "party": "DIST-GD", "region": "CN-GD"})).await?;
    r.master("location", json!({"code": "EXT-DIST-SH", "name": "华东分销仓 DIST-SH warehouse", "kind": "external", "party": "DIST-SH", "region": "CN-SH"})).await?;

    // Products: a controller made of a main board, a battery pack, housing resin and screws.
    r.master("product", json!({"code": "TC-200", "name": "智能温控器 TC-200 smart controller", "tracking": "serial", "gtin": "06901234567892",
        "category": "controllers", "warranty_months": 24,
        "serial_rule": {"code": "TC2", "template": "TC2-{YYMMDD}-{LINE}-{SEQ:4}", "time_zone": "+08:00", "sequence_reset": "daily"},
        "attributes": [{"name": "firmware", "type": "text", "required": true}, {"name": "color", "type": "enum", "options": ["graphite", "white"], "required": true}]})).await?;
    r.master("product", json!({"code": "PCB-A", "name": "主板 Main board A", "tracking": "serial", "category": "modules"})).await?;
    r.master("product", json!({"code": "BAT-5", "name": "电池包 Battery pack 5Ah", "tracking": "serial", "category": "modules"})).await?;
    r.master("product", json!({"code": "RESIN-PC", "name": "PC 外壳料 Polycarbonate resin", "tracking": "lot", "uom": "KGM"})).await?;
    r.master(
        "product",
        json!({"code": "SCREW-M3", "name": "M3 螺丝 M3 screw", "tracking": "lot", "uom": "EA"}),
    )
    .await?;

    // Purchase receipts: material lots and supplier-serialized battery packs.
    let resin_lots = ["KF-2609-01", "KF-2610-07"];
    for (i, lot) in resin_lots.iter().enumerate() {
        r.event(json!({"type": "object", "action": "ADD", "event_time": r.time(60.0 - i as f64 * 20.0), "biz_step": "receiving",
            "disposition": "sellable_not_accessible", "biz_location": "SZ-RM-R01",
            "lots": [{"product": "RESIN-PC", "lot": lot, "quantity": "40"}],
            "sources": [{"type": "owning_party", "id": "SUP-RESIN"}],
            "biz_transactions": [{"type": "po", "id": format!("PO-2026-{:04}", 101 + i)}],
            "ilmd": {"production_date": "2026-09-01", "expiry_date": "2028-09-01"}}))?;
    }
    r.event(json!({"type": "object", "action": "ADD", "event_time": r.time(59.0), "biz_step": "receiving",
        "disposition": "sellable_not_accessible", "biz_location": "SZ-RM-R02",
        "lots": [{"product": "SCREW-M3", "lot": "M3-2609", "quantity": "2000"}],
        "sources": [{"type": "owning_party", "id": "SUP-PCB"}], "biz_transactions": [{"type": "po", "id": "PO-2026-0103"}]}))?;
    let batteries: Vec<String> = (1..=260)
        .map(|i| format!("ND5A{:07}", 2_609_000 + i))
        .collect();
    for chunk in batteries.chunks(100) {
        let items: Vec<Value> = chunk.iter().map(|s| item("BAT-5", s)).collect();
        r.event(json!({"type": "object", "action": "ADD", "event_time": r.time(58.0), "biz_step": "receiving",
            "disposition": "sellable_not_accessible", "biz_location": "SZ-RM-R02", "items": items,
            "sources": [{"type": "owning_party", "id": "SUP-BAT"}], "biz_transactions": [{"type": "po", "id": "PO-2026-0104"}]}))?;
    }
    r.flush().await?;

    // Boards made on the SMT line.
    let boards: Vec<String> = (1..=220).map(|i| format!("PCBA-2610-{i:05}")).collect();
    for chunk in boards.chunks(110) {
        let items: Vec<Value> = chunk.iter().map(|s| item("PCB-A", s)).collect();
        r.event(json!({"type": "object", "action": "ADD", "event_time": r.time(50.0), "biz_step": "commissioning",
            "disposition": "active", "biz_location": "SZ-L2", "items": items,
            "biz_transactions": [{"type": "prodorder", "id": "WO-2026-0201"}], "fields": {"station": "SMT-02", "operator": "王芳"}}))?;
    }
    r.flush().await?;

    // 200 controllers: commission, assemble, inspect, store — per work order of 50.
    let units: Vec<String> = (1..=200).map(|i| format!("TC2-2610-{i:05}")).collect();
    let mut failed = Vec::new();
    for (wo, chunk) in units.chunks(50).enumerate() {
        let day = 45.0 - wo as f64 * 6.0;
        let wo_id = format!("WO-2026-03{:02}", wo + 1);
        let items: Vec<Value> = chunk.iter().map(|s| item("TC-200", s)).collect();
        r.event(json!({"type": "object", "action": "ADD", "event_time": r.time(day), "biz_step": "commissioning", "disposition": "active",
            "biz_location": "SZ-L1", "read_point": "SZ-L1", "items": items, "biz_transactions": [{"type": "prodorder", "id": wo_id}],
            "ilmd": {"firmware": "2.4.1", "color": if wo % 2 == 0 { "graphite" } else { "white" }},
            "fields": {"station": "FA-01", "operator": "李强", "revision": "C"}}))?;
        for (k, serial) in chunk.iter().enumerate() {
            let n = wo * 50 + k;
            let t = r.time(day - 0.01 * k as f64);
            r.event(json!({"type": "aggregation", "action": "ADD", "event_time": t, "biz_step": "assembling", "biz_location": "SZ-L1",
                "parent": item("TC-200", serial), "children": [item("PCB-A", &boards[n]), item("BAT-5", &batteries[n])],
                "child_lots": [{"product": "RESIN-PC", "lot": resin_lots[n / 100], "quantity": "0.12"}],
                "biz_transactions": [{"type": "prodorder", "id": wo_id}], "fields": {"station": "FA-03", "operator": "李强"}}))?;
        }
        // Raw material is issued to the line before assembly.
        r.pending.insert(
            0,
            {
                let req: EventRequest = serde_json::from_value(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(day + 0.5),
                    "biz_step": "picking", "lots": [{"product": "RESIN-PC", "lot": resin_lots[wo / 2], "quantity": "6"}],
                    "sources": [{"type": "location", "id": "SZ-RM-R01"}], "destinations": [{"type": "location", "id": "SZ-L1"}]}))?;
                Event::from_request(req, &CaptureContext { actor: "demo".into(), now }, Uuid::now_v7()).map_err(|v| anyhow::anyhow!("{v:?}"))?
            },
        );
        r.flush().await?;
        for serial in chunk {
            let fail = rng.below(100) < 4;
            let volts = if fail {
                4.61
            } else {
                5.0 + (rng.below(20) as f64 - 10.0) / 100.0
            };
            r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(day - 0.6), "biz_step": "inspecting",
                "disposition": if fail { "non_conformant" } else { "conformant" }, "biz_location": "SZ-QC",
                "items": [item("TC-200", serial)], "hold": if fail { json!({"place": "qc"}) } else { Value::Null },
                "fields": {"inspector": "赵敏", "equipment": "ATE-07", "measurements": [{"name": "output_voltage", "value": volts, "unit": "V", "low": 4.8, "high": 5.2}],
                           "defect_code": if fail { json!("E-VOLT-LOW") } else { Value::Null }}}))?;
            if fail {
                failed.push(serial.clone());
            }
        }
        r.flush().await?;
    }
    // Failed units are reworked and released.
    for serial in &failed {
        r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(20.0), "biz_step": "inspecting", "disposition": "conformant",
            "biz_location": "SZ-QC", "items": [item("TC-200", serial)], "hold": {"release": "qc"},
            "fields": {"inspector": "赵敏", "disposition": "rework", "note": "电源模块重焊 power stage re-soldered"}}))?;
    }
    for (i, serial) in units.iter().enumerate() {
        r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(19.0), "biz_step": "storing",
            "disposition": "sellable_not_accessible", "biz_location": format!("SZ-WH-A0{}", 1 + i % 4), "items": [item("TC-200", serial)]}))?;
    }
    r.flush().await?;

    // Shipments to distributors, their receipts, and sales to end customers.
    for (n, (dist, ext, so)) in [
        ("DIST-GD", "EXT-DIST-GD", "SO-2026-0501"),
        ("DIST-SH", "EXT-DIST-SH", "SO-2026-0502"),
    ]
    .iter()
    .enumerate()
    {
        let shipped: Vec<&String> = units.iter().skip(n * 80).take(70).collect();
        let items: Vec<Value> = shipped.iter().map(|s| item("TC-200", s)).collect();
        r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(15.0 - n as f64), "biz_step": "shipping", "disposition": "in_transit",
            "read_point": "SZ-WH", "items": items.clone(), "biz_transactions": [{"type": "so", "id": so}],
            "sources": [{"type": "location", "id": "SZ-WH"}],
            "destinations": [{"type": "owning_party", "id": dist}, {"type": "location", "id": ext}],
            "fields": {"carrier": "顺丰 SF Express", "tracking_number": format!("SF10{:08}", 4_410_000 + n), "ship_to_region": if n == 0 { "CN-GD" } else { "CN-SH" }}}))?;
        r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(13.0 - n as f64), "biz_step": "receiving", "disposition": "sellable_accessible",
            "biz_location": ext, "items": items, "destinations": [{"type": "possessing_party", "id": dist}], "biz_transactions": [{"type": "so", "id": so}]}))?;
        for (k, s) in shipped.iter().take(40).enumerate() {
            let cust = ["CUST-001", "CUST-002", "CUST-003"][(k + n) % 3];
            r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(10.0 - 0.1 * k as f64), "biz_step": "retail_selling",
                "disposition": "retail_sold", "items": [item("TC-200", s)], "destinations": [{"type": "owning_party", "id": cust}],
                "fields": {"warranty_start": true, "sold_by": dist}}))?;
        }
    }
    r.flush().await?;

    // After-sales: returns, repairs that swap a battery, and scrap.
    let spares: Vec<&String> = batteries.iter().skip(200).collect();
    for (k, s) in units.iter().take(5).enumerate() {
        let rma = format!("RMA-2026-{:04}", 11 + k);
        r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(6.0 - k as f64 * 0.5), "biz_step": "receiving", "disposition": "returned",
            "biz_location": "SZ-RW", "items": [item("TC-200", s)], "biz_transactions": [{"type": "rma", "id": rma}],
            "fields": {"reason": "不开机 does not power on", "condition": "外观完好 cosmetically fine"}}))?;
        if k < 3 {
            let old = &batteries[k];
            let new = spares[k];
            r.event(json!({"type": "aggregation", "action": "DELETE", "event_time": r.time(5.0 - k as f64 * 0.5), "biz_step": "removing",
                "biz_location": "SZ-RW", "parent": item("TC-200", s), "children": [item("BAT-5", old)], "biz_transactions": [{"type": "ro", "id": format!("RO-{rma}")}]}))?;
            r.event(json!({"type": "aggregation", "action": "ADD", "event_time": r.time(4.99 - k as f64 * 0.5), "biz_step": "replacing",
                "biz_location": "SZ-RW", "parent": item("TC-200", s), "children": [item("BAT-5", new)], "biz_transactions": [{"type": "ro", "id": format!("RO-{rma}")}]}))?;
            r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(4.9 - k as f64 * 0.5), "biz_step": "repairing", "disposition": "sellable_not_accessible",
                "biz_location": "SZ-WH-A04", "items": [item("TC-200", s)], "biz_transactions": [{"type": "ro", "id": format!("RO-{rma}")}],
                "fields": {"fault_code": "F-BAT-CELL", "engineer": "陈工", "warranty": "in_warranty"}}))?;
            let cust = ["CUST-001", "CUST-002", "CUST-003"][k % 3];
            r.event(json!({"type": "object", "action": "OBSERVE", "event_time": r.time(4.7 - k as f64 * 0.5), "biz_step": "shipping", "disposition": "in_transit",
                "read_point": "SZ-WH", "items": [item("TC-200", s)], "destinations": [{"type": "possessing_party", "id": cust}],
                "biz_transactions": [{"type": "ro", "id": format!("RO-{rma}")}], "fields": {"carrier": "顺丰 SF Express", "note": "repaired unit returned to customer"}}))?;
            r.event(json!({"type": "object", "action": "DELETE", "event_time": r.time(4.8 - k as f64 * 0.5), "biz_step": "destroying",
                "disposition": "destroyed", "biz_location": "SZ-RW", "items": [item("BAT-5", old)], "fields": {"reason": "电芯失效 failed cell"}}))?;
        } else {
            r.event(json!({"type": "object", "action": "DELETE", "event_time": r.time(4.0), "biz_step": "destroying", "disposition": "destroyed",
                "biz_location": "SZ-RW", "items": [item("TC-200", s)], "fields": {"reason": "主板烧毁 board burnt, beyond repair"}}))?;
        }
    }
    r.flush().await?;
    Ok(Some(r.entries))
}
