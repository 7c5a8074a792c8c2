//! Authenticity checks (防伪) through the HTTP API on both engines: a genuine unit, the same code
//! checked in a second region and outside its distributor's regions, checked too often, a unit
//! still in our warehouse, a scrapped one, a made-up serial of our product, a code that is not
//! ours, and bad requests that record nothing.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use common::{Api, history};
use serde_json::{Value, json};
use threadline_testkit::fixtures::plant;
use threadline_testkit::{TestStore, store_test};

const GTIN: &str = "09521234543213";

async fn check(api: &Api, code: &str, region: Option<&str>) -> Value {
    let r = api
        .post(
            "/api/v1/authenticity/checks",
            json!({"code": code, "region": region, "channel": "wechat"}),
        )
        .await;
    assert_eq!(r.status, 201, "{code}: {:?}", r.body);
    r.body
}

fn reasons(v: &Value) -> Vec<&str> {
    v["reasons"]
        .as_array()
        .map(|a| a.iter().map(|r| r["code"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

async fn listed(api: &Api, query: &str) -> Vec<Value> {
    let r = api
        .get(&format!(
            "/api/v1/authenticity/checks?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z{query}"
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["checks"].as_array().unwrap().clone()
}

store_test!(
    codes_are_judged_genuine_suspicious_unknown_or_not_ours,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        history(&api).await;
        // P3 reaches DIST-GD (authorised for CN-GD) and is sold in Guangzhou.
        for (path, body) in [
            (
                "/api/v1/ops/distributor-receipt",
                json!({"time": "2026-05-31T09:00:00+08:00", "distributor": "DIST-GD", "location": "EXT-GD",
                    "items": [{"product": "PHONE", "serial": "P3"}]}),
            ),
            (
                "/api/v1/ops/sell",
                json!({"time": "2026-05-31T15:00:00+08:00", "customer": "CUST1", "region": "CN-GD-GZ",
                    "items": [{"product": "PHONE", "serial": "P3"}]}),
            ),
        ] {
            let r = api.post(path, body).await;
            assert_eq!(r.status, 201, "{path}: {:?}", r.body);
        }

        // Bad requests are refused naming the field, and record nothing.
        for (body, field) in [
            (json!({"code": "  "}), "code"),
            (json!({}), "code"),
            (json!({"code": "x".repeat(513)}), "code"),
            (json!({"code": "P3", "region": "CN GD"}), "region"),
            (json!({"code": "P3", "where": "CN-GD"}), "where"),
        ] {
            let r = api.post("/api/v1/authenticity/checks", body.clone()).await;
            assert_eq!(
                (r.status.as_u16(), r.body["error"]["field"].as_str()),
                (400, Some(field)),
                "{body}: {:?}",
                r.body
            );
        }
        assert!(listed(&api, "").await.is_empty());

        // The consumer scans the Digital Link QR in Guangzhou: genuine.
        let dl = format!("https://id.example.com/01/{GTIN}/21/P3");
        let v = check(&api, &dl, Some("CN-GD-GZ")).await;
        assert_eq!(
            (
                v["verdict"].as_str(),
                v["product"].as_str(),
                v["serial"].as_str()
            ),
            (Some("genuine"), Some("PHONE"), Some("P3")),
            "{v}"
        );
        assert_eq!(v["earlier"]["checks"], 0);

        // The same code in Shanghai: checked in two regions, and outside DIST-GD's.
        let v = check(&api, &format!("(01){GTIN}(21)P3"), Some("cn-sh")).await;
        assert_eq!(v["verdict"], "suspicious", "{v}");
        assert_eq!(reasons(&v), ["two_regions", "outside_region"], "{v}");
        assert!(
            v["reasons"][1]["message"]
                .as_str()
                .unwrap()
                .contains("DIST-GD"),
            "{v}"
        );
        // Checked over and over: from the sixth check on, `checked_often`.
        for _ in 0..3 {
            check(&api, &dl, Some("CN-GD-GZ")).await;
        }
        let v = check(&api, &dl, Some("CN-GD-GZ")).await;
        assert_eq!(v["earlier"]["checks"], 5, "{v}");
        assert_eq!(v["earlier"]["regions"], json!(["CN-GD-GZ", "CN-SH"]), "{v}");
        assert!(reasons(&v).contains(&"checked_often"), "{v}");

        // P2 is in our own warehouse: a label checked outside is a copy.
        let v = check(&api, &format!("(01){GTIN}(21)P2"), None).await;
        assert_eq!(
            (v["verdict"].as_str(), reasons(&v)),
            (Some("suspicious"), vec!["in_our_hands"]),
            "{v}"
        );
        // Once scrapped, its code must never be seen again.
        let r = api
            .post(
                "/api/v1/ops/scrap",
                json!({"time": "2026-06-01T19:00:00+08:00", "reason": "drop test", "items": [{"product": "PHONE", "serial": "P2"}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let v = check(&api, &format!("(01){GTIN}(21)P2"), None).await;
        assert_eq!(reasons(&v), ["scrapped"], "{v}");

        // A serial we never issued under our GTIN: unknown (a made-up code).
        let v = check(&api, &format!("(01){GTIN}(21)FAKE-0001"), Some("CN-SH")).await;
        assert_eq!(v["verdict"], "unknown", "{v}");
        assert!(v.get("product").is_none(), "{v}");
        // Another company's GTIN, or no GS1 code at all: not ours.
        for code in ["(01)04006381333931(21)X1", "https://example.com/about"] {
            let v = check(&api, code, None).await;
            assert_eq!(v["verdict"], "not_ours", "{code}: {v}");
        }

        // Every check is listed, newest first; filtered by verdict; a bad filter is named.
        let all = listed(&api, "").await;
        assert_eq!(all.len(), 11, "{all:?}");
        assert_eq!(all[0]["verdict"], "not_ours");
        assert_eq!(all.last().unwrap()["verdict"], "genuine");
        assert_eq!(all.last().unwrap()["region"], "CN-GD-GZ");
        assert_eq!(all.last().unwrap()["channel"], "wechat");
        let suspicious = listed(&api, "&verdict=suspicious,unknown").await;
        assert_eq!(suspicious.len(), 8, "{suspicious:?}");
        assert!(
            suspicious
                .iter()
                .all(|c| c["verdict"] == "suspicious" || c["verdict"] == "unknown")
        );
        let r = api.get("/api/v1/authenticity/checks?verdict=fake").await;
        assert_eq!(
            (r.status.as_u16(), r.body["error"]["field"].as_str()),
            (400, Some("verdict"))
        );
        let r = api.get("/api/v1/authenticity/checks?limit=0").await;
        assert_eq!(r.body["error"]["field"], "limit");

        // The dashboard lists the suspicious and never-issued ones, in the reader's language.
        let r = api
            .get("/dashboard?lang=zh&from=2026-05-01&to=2026-06-01&tz=%2B08:00")
            .await;
        let html = r.body.as_str().unwrap();
        let at = html
            .find("id=\"authenticity-table\"")
            .unwrap_or_else(|| panic!("{html}"));
        let table = &html[at..at + html[at..].find("</table>").unwrap()];
        assert_eq!(table.matches("<tr class=\"bad\">").count(), 8, "{table}");
        assert!(
            table.contains("超出授权区域")
                && table.contains("已报废")
                && table.contains("FAKE-0001"),
            "{table}"
        );
        assert!(!table.contains("example.com/about"), "{table}");
    }
);
