//! The demo plant: a small electronics factory with a living history, so a newcomer opening
//! Threadline sees passports, genealogy, holds and channel data instead of empty tables.
//!
//! Everything is recorded through the same [`Store`] calls as real data (and so checked by the
//! same rules), deterministically: the same `now` gives the same plant.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use threadline_domain::event::CaptureContext;
use threadline_domain::master::MasterRecord;
use threadline_server::ops;
use threadline_store::{MasterWrite, Receipt, Store};
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

    /// Performs one operation, exactly as `/api/v1/ops/<name>` would.
    async fn op<T: ops::Operation>(&mut self, body: Value) -> anyhow::Result<Vec<Receipt>> {
        let op: T = serde_json::from_value(body)
            .map_err(|e| anyhow::anyhow!("demo {} body: {e}", T::NAME))?;
        let ctx = CaptureContext {
            actor: "demo".into(),
            now: self.now,
        };
        let receipts = ops::perform(self.store, &ctx, &op)
            .await
            .map_err(|e| anyhow::anyhow!("demo {} refused: {e:?}", T::NAME))?;
        self.entries += receipts.len();
        Ok(receipts)
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

    r.master("product", json!({"code": "HSG-TC2", "name": "TC-200 外壳 Moulded housing", "tracking": "lot", "uom": "EA"})).await?;
    r.master("product", json!({"code": "CASE-10", "name": "十台装纸箱 Case of ten", "tracking": "serial", "container": true})).await?;

    // Purchase receipts against purchase orders: material lots and supplier-serialized battery
    // packs (registered with their supplier as origin).
    let resin_lots = ["KF-2609-01", "KF-2610-07"];
    for (i, lot) in resin_lots.iter().enumerate() {
        r.op::<ops::Receive>(json!({"time": r.time(60.0 - i as f64 * 20.0), "supplier": "SUP-RESIN",
            "purchase_order": format!("PO-2026-{:04}", 101 + i), "location": "SZ-RM-R01", "inspector": "吴静",
            "lines": [{"line": "10", "product": "RESIN-PC", "lots": [{"lot": lot, "quantity": "40",
                       "production_date": "2026-09-01", "expiry_date": "2028-09-01"}]}]}))
            .await?;
    }
    r.op::<ops::Receive>(json!({"time": r.time(59.0), "supplier": "SUP-PCB", "purchase_order": "PO-2026-0103",
        "location": "SZ-RM-R02", "lines": [{"line": "10", "product": "SCREW-M3", "lots": [{"lot": "M3-2609", "quantity": "2000"}]}]}))
        .await?;
    let batteries: Vec<String> = (1..=260)
        .map(|i| format!("ND5A{:07}", 2_609_000 + i))
        .collect();
    for (n, chunk) in batteries.chunks(100).enumerate() {
        r.op::<ops::Receive>(json!({"time": r.time(58.0), "supplier": "SUP-BAT", "purchase_order": "PO-2026-0104",
            "location": "SZ-RM-R02", "lines": [{"line": format!("{}", 10 * (n + 1)), "product": "BAT-5", "serials": chunk}]}))
            .await?;
    }

    // Boards made on the SMT line.
    let boards: Vec<String> = (1..=220).map(|i| format!("PCBA-2610-{i:05}")).collect();
    for chunk in boards.chunks(110) {
        r.op::<ops::Commission>(json!({"time": r.time(50.0), "product": "PCB-A", "serials": chunk,
            "work_order": "WO-2026-0201", "line": "SZ-L2", "station": "SMT-02", "operator": "王芳"}))
            .await?;
    }
    // Housings moulded from resin: a batch transformation with its process parameters.
    r.op::<ops::Move>(json!({"time": r.time(49.0), "lots": [{"product": "RESIN-PC", "lot": resin_lots[0], "quantity": "2"}],
        "from": "SZ-RM-R01", "to": "SZ-L2", "operator": "王芳"}))
        .await?;
    r.op::<ops::Transform>(json!({"time": r.time(48.5), "location": "SZ-L2",
        "input_lots": [{"product": "RESIN-PC", "lot": resin_lots[0], "quantity": "2"}],
        "output_lots": [{"product": "HSG-TC2", "lot": "HSG-2610-01", "quantity": "40"}],
        "production_date": "2026-10-05", "equipment": "注塑机 IMM-05",
        "parameters": {"barrel_temperature_c": 285, "injection_pressure_bar": 1100, "cycle_s": 38},
        "work_order": "WO-2026-0202"}))
        .await?;

    // 200 controllers: commission, assemble, inspect — per work order of 50.
    let units: Vec<String> = (1..=200).map(|i| format!("TC2-2610-{i:05}")).collect();
    let mut failed = Vec::new();
    for (wo, chunk) in units.chunks(50).enumerate() {
        let day = 45.0 - wo as f64 * 6.0;
        let wo_id = format!("WO-2026-03{:02}", wo + 1);
        // Raw material is issued to the line before assembly.
        r.op::<ops::Move>(json!({"time": r.time(day + 0.5), "lots": [{"product": "RESIN-PC", "lot": resin_lots[wo / 2], "quantity": "6"}],
            "from": "SZ-RM-R01", "to": "SZ-L1"}))
            .await?;
        r.op::<ops::Commission>(json!({"time": r.time(day), "product": "TC-200", "serials": chunk, "work_order": wo_id,
            "line": "SZ-L1", "station": "FA-01", "operator": "李强", "revision": "C",
            "attributes": {"firmware": "2.4.1", "color": if wo % 2 == 0 { "graphite" } else { "white" }}}))
            .await?;
        for (k, serial) in chunk.iter().enumerate() {
            let n = wo * 50 + k;
            r.op::<ops::Assemble>(json!({"time": r.time(day - 0.01 * k as f64), "parent": item("TC-200", serial),
                "components": [item("PCB-A", &boards[n]), item("BAT-5", &batteries[n])],
                "component_lots": [{"product": "RESIN-PC", "lot": resin_lots[n / 100], "quantity": "0.12"}],
                "location": "SZ-L1", "work_order": wo_id, "station": "FA-03", "operator": "李强"}))
                .await?;
        }
        for serial in chunk {
            let fail = rng.below(100) < 4;
            let volts = if fail {
                4.61
            } else {
                5.0 + (rng.below(20) as f64 - 10.0) / 100.0
            };
            r.op::<ops::Inspect>(json!({"time": r.time(day - 0.6), "items": [item("TC-200", serial)],
                "result": if fail { "fail" } else { "pass" }, "location": "SZ-QC",
                "measurements": [{"name": "output_voltage", "value": volts, "unit": "V", "low": 4.8, "high": 5.2}],
                "defect_codes": if fail { json!(["E-VOLT-LOW"]) } else { json!([]) },
                "inspector": "赵敏", "equipment": "ATE-07"}))
                .await?;
            if fail {
                failed.push(serial.clone());
            }
        }
    }
    // Failed units: the first is used as it is with an approval, the others reworked.
    for (i, serial) in failed.iter().enumerate() {
        let decision = if i == 0 {
            json!({"decision": "use_as_is", "approved_by": "质量经理 孙丽", "reason": "4.61 V 在客户允差内 within the customer's tolerance"})
        } else {
            json!({"decision": "rework", "reason": "电源模块重焊 power stage re-soldered"})
        };
        let mut body =
            json!({"time": r.time(20.0), "items": [item("TC-200", serial)], "location": "SZ-QC"});
        if let (Some(b), Some(d)) = (body.as_object_mut(), decision.as_object()) {
            b.extend(d.clone());
        }
        r.op::<ops::QcDisposition>(body).await?;
    }
    // Put away into the finished-goods bins.
    for bin in 0..4 {
        let items: Vec<Value> = units
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 == bin)
            .map(|(_, s)| item("TC-200", s))
            .collect();
        r.op::<ops::Move>(json!({"time": r.time(19.0), "items": items, "to": format!("SZ-WH-A0{}", bin + 1), "put_away": true}))
            .await?;
    }
    // A unit scanned into the wrong bin, and the correction that puts it where it is (the
    // mistaken move stays in its history, marked as corrected).
    let misplaced = json!([item("TC-200", &units[199])]);
    let wrong = r
        .op::<ops::Move>(json!({"time": r.time(18.8), "items": misplaced, "to": "SZ-WH-A01", "transfer_order": "TO-2026-0007"}))
        .await?;
    if let Some(wrong) = wrong.first() {
        r.op::<ops::Correct>(json!({"time": r.time(18.7), "event": wrong.id, "reason": "扫错库位 scanned into the wrong bin",
            "location": "SZ-WH-A04"}))
            .await?;
    }
    // An administrative hold for a stock count, released the next day.
    let counted = json!([item("TC-200", &units[199])]);
    r.op::<ops::Hold>(json!({"time": r.time(18.0), "kind": "admin", "items": counted, "reason": "盘点 stock count"}))
        .await?;
    r.op::<ops::Release>(json!({"time": r.time(17.0), "kind": "admin", "items": counted, "reason": "盘点完成 count done"}))
        .await?;

    // Shipments to distributors (the first ten of each in a case), their receipts, and sales
    // to end customers.
    for (n, (dist, ext, so, region)) in [
        ("DIST-GD", "EXT-DIST-GD", "SO-2026-0501", "CN-GD"),
        ("DIST-SH", "EXT-DIST-SH", "SO-2026-0502", "CN-SH"),
    ]
    .iter()
    .enumerate()
    {
        let shipped: Vec<&String> = units.iter().skip(n * 80).take(70).collect();
        let case = format!("069012340000{:05}{}", 10 + n, n);
        let in_case: Vec<Value> = shipped.iter().take(10).map(|s| item("TC-200", s)).collect();
        let loose: Vec<&String> = shipped.iter().skip(10).copied().collect();
        r.op::<ops::Pack>(json!({"time": r.time(15.5 - n as f64), "container": item("CASE-10", &case), "items": in_case,
            "location": "SZ-WH"}))
            .await?;
        r.op::<ops::Ship>(json!({"time": r.time(15.0 - n as f64), "sales_order": so, "distributor": dist, "ship_to_region": region,
            "carrier": "顺丰 SF Express", "tracking_number": format!("SF10{:08}", 4_410_000 + n), "from": "SZ-WH",
            "to": ext, "lines": [{"line": "1", "product": "TC-200", "serials": loose}], "containers": [item("CASE-10", &case)]}))
            .await?;
        let mut received: Vec<Value> = loose.iter().map(|s| item("TC-200", s)).collect();
        received.push(item("CASE-10", &case));
        r.op::<ops::DistributorReceipt>(
            json!({"time": r.time(13.0 - n as f64), "distributor": dist, "location": ext,
            "sales_order": so, "items": received}),
        )
        .await?;
        r.op::<ops::Unpack>(json!({"time": r.time(12.5 - n as f64), "container": item("CASE-10", &case), "location": ext}))
            .await?;
        for (k, s) in shipped.iter().take(40).enumerate() {
            let cust = ["CUST-001", "CUST-002", "CUST-003"][(k + n) % 3];
            r.op::<ops::Sell>(json!({"time": r.time(10.0 - 0.1 * k as f64), "customer": cust, "seller": dist, "region": region,
                "items": [item("TC-200", s)]}))
                .await?;
        }
    }

    // After-sales: returns, repairs that swap a battery, and scrap.
    let spares: Vec<&String> = batteries.iter().skip(200).collect();
    for (k, s) in units.iter().take(5).enumerate() {
        let rma = format!("RMA-2026-{:04}", 11 + k);
        let ro = format!("RO-{rma}");
        let cust = ["CUST-001", "CUST-002", "CUST-003"][k % 3];
        let repairable = k < 3;
        r.op::<ops::Return>(json!({"time": r.time(6.0 - k as f64 * 0.5), "rma": rma, "customer": cust,
            "reason": "不开机 does not power on", "condition": "外观完好 cosmetically fine",
            "outcome": if repairable { "repair" } else { "quarantine" }, "location": "SZ-RW", "items": [item("TC-200", s)]}))
            .await?;
        let unit = item("TC-200", s);
        let old = item("BAT-5", &batteries[k]);
        let new = item("BAT-5", spares[k]);
        if repairable {
            let parts = if k == 2 {
                // The swap recorded on its own first, then the repair that closes the order.
                r.op::<ops::Replace>(json!({"time": r.time(5.0 - k as f64 * 0.5), "parent": unit, "location": "SZ-RW",
                    "repair_order": ro, "parts": [{"old": old, "new": new}]}))
                    .await?;
                json!([])
            } else {
                json!([{"old": old, "new": new}])
            };
            r.op::<ops::Repair>(json!({"time": r.time(4.99 - k as f64 * 0.5), "repair_order": ro, "unit": unit,
                "fault": "电芯失效 battery cell failed", "fault_code": "F-BAT-CELL", "engineer": "陈工", "parts": parts,
                "completed": true, "location": "SZ-WH-A04"}))
                .await?;
            r.op::<ops::Scrap>(json!({"time": r.time(4.8 - k as f64 * 0.5), "items": [old], "reason": "电芯失效 failed cell",
                "location": "SZ-RW"}))
                .await?;
            r.op::<ops::Ship>(
                json!({"time": r.time(4.7 - k as f64 * 0.5), "sales_order": ro, "customer": cust,
                "carrier": "顺丰 SF Express", "from": "SZ-WH-A04",
                "lines": [{"product": "TC-200", "serials": [s]}]}),
            )
            .await?;
        } else {
            // Beyond repair: the battery is salvaged, the unit scrapped.
            r.op::<ops::Remove>(json!({"time": r.time(4.2), "parent": unit, "components": [old], "location": "SZ-RW",
                "repair_order": ro, "reason": "拆件回收 salvaged"}))
                .await?;
            r.op::<ops::Scrap>(json!({"time": r.time(4.0), "items": [unit], "reason": "主板烧毁 board burnt, beyond repair",
                "location": "SZ-RW"}))
                .await?;
        }
    }
    Ok(Some(r.entries))
}
