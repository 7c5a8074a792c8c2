//! The search page on both engines: a serial in any scanned form, a lot, an order number, a
//! customer, and text that finds nothing.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use common::{Api, history};
use serde_json::json;
use threadline_testkit::fixtures::plant;
use threadline_testkit::{TestStore, store_test};

async fn page(api: &Api, q: &str) -> String {
    let r = api
        .get(&format!(
            "/search?lang=en&q={}",
            q.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
        ))
        .await;
    assert_eq!(r.status, 200, "{q}");
    r.body.as_str().unwrap().to_owned()
}

/// The text of the section with `id`, tags removed, or `None` if the page has none.
fn section(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("<section id=\"{id}\""))?;
    let rest = &html[at..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    let mut text = String::new();
    let mut in_tag = false;
    for c in rest[..end].chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

store_test!(
    search_finds_every_kind_of_thing,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        history(&api).await;
        let r = api
        .post(
            "/api/v1/ops/receive",
            json!({"supplier": "SUP1", "purchase_order": "PO-9", "location": "SZ-WH-A2",
                   "lines": [{"product": "RESIN", "lots": [{"lot": "R-2605-01", "quantity": "25"}]}]}),
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);

        // A plain serial, and the same unit as a GS1 barcode reads it.
        let html = page(&api, "P2").await;
        assert_eq!(
            section(&html, "hits-units").unwrap(),
            "Units Units Status PHONE · P2 In stock"
        );
        assert!(html.contains("href=\"/unit?product=PHONE&amp;serial=P2&amp;lang=en\""));
        let html = page(&api, "(01)09521234543213(21)P3").await;
        assert_eq!(
            section(&html, "hits-units").unwrap(),
            "Units Units Status PHONE · P3 In transit"
        );
        // A GS1 code for a serial we never registered says so.
        let html = page(&api, "(01)09521234543213(21)P404").await;
        assert!(section(&html, "hits-units").is_none());
        assert!(html.contains("id=\"scan-problem\""), "{html}");
        assert!(html.contains("P404"));

        // A lot by the start of its code.
        let html = page(&api, "R-2605").await;
        assert_eq!(
            section(&html, "hits-lots").unwrap(),
            "Lots Lot Product Holds R-2605-01 RESIN"
        );

        // An order number: the shipment of P1 and P3, with its units.
        let html = page(&api, "SO-1").await;
        let orders = section(&html, "hits-orders").unwrap();
        assert!(
            orders.starts_with("Orders Type Number Events Units First event Last event Sales order SO-1 1 2 29 May 2026, 09:00 29 May 2026, 09:00"),
            "{orders}"
        );
        assert!(
            orders.ends_with(
                "Units on this order Units Status PHONE · P1 In stock PHONE · P3 In transit"
            ),
            "{orders}"
        );
        // Times are the plant's: 01:00 UTC is 09:00 in Shanghai (the default) and 03:00 in
        // Berlin in summer once the plant says it is there.
        let ledger = api.ledger_len().await;
        for zone in ["Mars/Olympus_Mons", "+08:00", ""] {
            let r = api
                .put("/api/v1/process", "\"0\"", json!({"time_zone": zone}))
                .await;
            assert_eq!(
                (r.status.as_u16(), r.codes()),
                (
                    422,
                    vec![("invalid_time_zone".to_owned(), "time_zone".to_owned())]
                ),
                "{zone}: {:?}",
                r.body
            );
        }
        assert_eq!(api.ledger_len().await, ledger);
        let r = api
            .put(
                "/api/v1/process",
                "\"0\"",
                json!({"time_zone": "Europe/Berlin"}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["time_zone"], "Europe/Berlin");
        let orders = section(&page(&api, "SO-1").await, "hits-orders").unwrap();
        assert!(orders.contains("SO-1 1 2 29 May 2026, 03:00"), "{orders}");
        let html = page(&api, "WO-1").await;
        assert!(
            section(&html, "hits-orders")
                .unwrap()
                .contains("Work order WO-1 1 3")
        );

        // A customer by part of its name, whatever the case; a distributor with what it holds.
        let html = page(&api, "acme").await;
        assert!(
            section(&html, "hits-parties").unwrap().starts_with(
                "Customers and partners Party Name Kind Units held CUST1 Acme Retail customer"
            ),
            "{html}"
        );
        let html = page(&api, "dist-gd").await;
        let parties = section(&html, "hits-parties").unwrap();
        assert!(
        parties.contains("DIST-GD Guangdong Dist. distributor 1 Units held Units Status PHONE · P3 In transit"),
        "{parties}"
    );

        // Nothing: the wildcards of the text are not wildcards.
        for q in ["no-such-thing", "%", "_"] {
            let html = page(&api, q).await;
            assert!(section(&html, "nothing").is_some(), "{q}: {html}");
            assert!(section(&html, "hits-parties").is_none(), "{q}");
        }
        // Without a text, the box alone.
        let html = page(&api, "").await;
        assert!(html.contains("id=\"q\"") && section(&html, "nothing").is_none());
    }
);
