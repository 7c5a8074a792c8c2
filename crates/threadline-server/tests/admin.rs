//! The forms of the web UI on both engines: master data, users and tokens (create and edit,
//! what the form does not show kept, a refusal shown on the form with nothing written), and
//! closing a recall campaign.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{Api, Reply};
use serde_json::json;
use threadline_testkit::fixtures::plant;
use threadline_testkit::{TestStore, store_test};

async fn post_form(api: &Api, uri: &str, fields: &[(&str, &str)]) -> Reply {
    let body: String = fields
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    api.send(
        Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

fn html(r: &Reply) -> &str {
    r.body.as_str().unwrap()
}

store_test!(
    products_are_created_and_edited_through_the_form,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = api.get("/admin/products?lang=en&new=1").await;
        assert_eq!(r.status, 200);
        assert!(
            html(&r).contains("id=\"record-form\"") && html(&r).contains("name=\"attr.0.name\"")
        );

        let r = post_form(
            &api,
            "/admin/products",
            &[
                ("lang", "en"),
                ("code", "DRONE"),
                ("name", "Drone X1"),
                ("tracking", "serial"),
                ("warranty_months", "12"),
                ("attr.0.name", "color"),
                ("attr.0.type", "enum"),
                ("attr.0.required", "on"),
                ("attr.0.options", "red, grey"),
                ("attr.1.name", ""),
                ("attr.1.type", "text"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(r.headers["location"], "/admin/products?saved=DRONE&lang=en");
        let p = api.get("/api/v1/products/DRONE").await;
        assert_eq!(p.body["version"], 1);
        assert_eq!(p.body["name"], "Drone X1");
        assert_eq!(p.body["warranty_months"], 12);
        assert_eq!(
            p.body["attributes"],
            json!([{"name": "color", "type": "enum", "required": true, "options": ["red", "grey"]}])
        );
        let r = api.get("/admin/products?lang=en&saved=DRONE").await;
        assert!(html(&r).contains("id=\"saved\""));
        assert!(html(&r).contains("<a href=\"/admin/products?edit=DRONE&amp;lang=en\">DRONE</a>"));

        // A product with a serial rule: the form does not show the rule, and an edit keeps it.
        let r = api
        .put(
            "/api/v1/products/DRONE",
            "\"1\"",
            json!({"code": "DRONE", "name": "Drone X1", "tracking": "serial", "warranty_months": 12,
                   "container": true}),
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = api.get("/admin/products?lang=en&edit=DRONE").await;
        let page = html(&r);
        assert!(page.contains("name=\"version\" value=\"2\""));
        assert!(page.contains("value=\"DRONE\" autocomplete=\"off\" required readonly"));
        let r = post_form(
            &api,
            "/admin/products",
            &[
                ("lang", "en"),
                ("version", "2"),
                ("code", "DRONE"),
                ("name", "Drone X2"),
                ("tracking", "serial"),
                ("warranty_months", ""),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        let p = api.get("/api/v1/products/DRONE").await;
        assert_eq!(p.body["version"], 3);
        assert_eq!(p.body["name"], "Drone X2");
        assert_eq!(p.body["container"], true);
        assert!(p.body.get("warranty_months").is_none());
        assert!(p.body.get("attributes").is_none());

        // Saving over a version someone else replaced is refused on the form.
        let r = post_form(
            &api,
            "/admin/products",
            &[
                ("lang", "en"),
                ("version", "2"),
                ("code", "DRONE"),
                ("name", "Stale"),
                ("tracking", "serial"),
            ],
        )
        .await;
        assert_eq!(r.status, 409, "{:?}", r.body);
        assert!(html(&r).contains("id=\"form-errors\""));
        assert_eq!(
            api.get("/api/v1/products/DRONE").await.body["name"],
            "Drone X2"
        );
    }
);

store_test!(
    a_refused_form_names_the_field_and_writes_nothing,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let before = api.ledger_len().await;
        let r = post_form(
            &api,
            "/admin/products",
            &[
                ("lang", "en"),
                ("code", "KITE"),
                ("name", "Kite"),
                ("tracking", "serial"),
                ("warranty_months", "a year"),
            ],
        )
        .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        let page = html(&r);
        assert!(
            page.contains("<strong>Warranty (months)</strong> (<code>warranty_months</code>)"),
            "{page}"
        );
        // What was typed is still in the form.
        assert!(page.contains("value=\"a year\""));
        let r = post_form(
            &api,
            "/admin/locations",
            &[
                ("lang", "zh"),
                ("code", "SZ-L9"),
                ("name", "Line 9"),
                ("kind", "line"),
                ("parent", "NO-SUCH-SITE"),
            ],
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(
            html(&r).contains("<strong>上级位置</strong> (<code>parent</code>)"),
            "{}",
            html(&r)
        );
        assert_eq!(api.ledger_len().await, before);
        assert_eq!(api.get("/api/v1/products/KITE").await.status, 404);
        // An unknown kind of record is no page.
        assert_eq!(api.get("/admin/widgets").await.status, 404);
    }
);

store_test!(
    parties_and_locations_through_the_forms,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = post_form(
            &api,
            "/admin/parties",
            &[
                ("lang", "zh"),
                ("code", "DIST-SH"),
                ("name", "上海经销"),
                ("kind", "distributor"),
                ("regions", "CN-SH，CN-JS"),
                ("contact.person", "王经理"),
                ("contact.phone", "021-5555"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        let p = api.get("/api/v1/parties/DIST-SH").await;
        assert_eq!(p.body["regions"], json!(["CN-SH", "CN-JS"]));
        assert_eq!(
            p.body["contact"],
            json!({"person": "王经理", "phone": "021-5555"})
        );
        let r = post_form(
            &api,
            "/admin/locations",
            &[
                ("lang", "en"),
                ("code", "EXT-SH"),
                ("name", "Shanghai DC"),
                ("kind", "external"),
                ("party", "DIST-SH"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        let r = api.get("/admin/locations?lang=en").await;
        assert!(
            html(&r).contains("<td>External</td><td></td><td>DIST-SH</td>"),
            "{}",
            html(&r)
        );
        let r = api.get("/admin/parties?lang=zh").await;
        assert!(html(&r).contains("<td>经销商</td><td>CN-SH, CN-JS</td>"));
    }
);

store_test!(
    users_roles_and_tokens_through_the_forms,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "create_user"),
                ("name", "li.na"),
                ("password", "correct-horse-battery-7"),
                ("role.warehouse", "on"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(
            api.get("/api/v1/users/li.na").await.body["roles"],
            json!(["warehouse"])
        );
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "roles"),
                ("name", "li.na"),
                ("role.warehouse", "on"),
                ("role.qc", "on"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(
            r.headers["location"],
            "/admin/users?done=li.na&lang=en&edit=li.na"
        );
        assert_eq!(
            api.get("/api/v1/users/li.na").await.body["roles"],
            json!(["warehouse", "qc"])
        );
        let r = post_form(
            &api,
            "/admin/users",
            &[("lang", "en"), ("action", "lock"), ("name", "li.na")],
        )
        .await;
        assert_eq!(r.status, 303);
        assert_eq!(api.get("/api/v1/users/li.na").await.body["disabled"], true);
        let r = api.get("/admin/users?lang=en&edit=li.na").await;
        let page = html(&r);
        assert!(page.contains("id=\"user-form\"") && page.contains("value=\"unlock\""));
        assert!(page.contains("<td><a href=\"/admin/users?edit=li.na&amp;lang=en\">li.na</a></td><td>Warehouse, QC</td><td></td><td><span class=\"badge bad\">Locked</span>"), "{page}");

        // A token's secret is shown once, and works.
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "create_token"),
                ("name", "erp-bridge"),
                ("role.auditor", "on"),
            ],
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let page = html(&r);
        let at = page.find("<code id=\"secret\">").unwrap() + "<code id=\"secret\">".len();
        let secret = &page[at..at + page[at..].find('<').unwrap()];
        let erp = Api {
            router: api.router.clone(),
            auth: format!("Bearer {secret}"),
        };
        assert_eq!(erp.get("/api/v1/ledger/verify").await.status, 200);
        // Its one record says what the page answered (201, the secret shown), not a redirect.
        let audit = api.get("/api/v1/audit?object=tokens/erp-bridge").await;
        let records = audit.body["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{:?}", audit.body);
        assert_eq!(records[0]["status"], 201, "{:?}", records[0]);
        assert_eq!(
            records[0]["action"], "POST /admin/users",
            "{:?}",
            records[0]
        );
        assert_eq!(
            records[0]["after"]["name"], "erp-bridge",
            "{:?}",
            records[0]
        );
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "revoke_token"),
                ("name", "erp-bridge"),
            ],
        )
        .await;
        assert_eq!(r.status, 303);
        assert_eq!(erp.get("/api/v1/ledger/verify").await.status, 401);

        // Refusals: a weak password, no role; nothing is created.
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "create_user"),
                ("name", "weak"),
                ("password", "123"),
                ("role.qc", "on"),
            ],
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(html(&r).contains("<code>password</code>"), "{}", html(&r));
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "create_token"),
                ("name", "no-roles"),
            ],
        )
        .await;
        assert!(r.status == 400 || r.status == 422, "{:?}", r.status);
        assert!(html(&r).contains("<code>roles</code>"), "{}", html(&r));
        assert_eq!(api.get("/api/v1/users/weak").await.status, 404);

        // Configuring master data is not managing users.
        let configurer =
            Api::with_roles(&s, "planner", &[threadline_domain::access::Role::Quality]).await;
        assert_eq!(configurer.get("/admin/users?lang=en").await.status, 403);
    }
);

store_test!(
    a_recall_is_closed_from_its_page_once,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        common::history(&api).await;
        let r = api
            .post(
                "/api/v1/recalls",
                json!({"code": "RC-9", "reason": "boards short", "severity": "major",
                   "scope": {"product": "BOARD", "serial": "B1"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = api.get("/recalls/RC-9?lang=en").await;
        assert!(html(&r).contains("id=\"close-recall\""));
        let r = post_form(
            &api,
            "/recalls/RC-9/close",
            &[("lang", "en"), ("note", "located")],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(r.headers["location"], "/recalls/RC-9?lang=en");
        let v = api.get("/api/v1/recalls/RC-9").await;
        assert_eq!(v.body["close_note"], "located");
        let r = api.get("/recalls/RC-9?lang=en").await;
        assert!(html(&r).contains("id=\"closure\"") && !html(&r).contains("id=\"close-recall\""));
        // A second close is refused, and says why.
        let r = post_form(
            &api,
            "/recalls/RC-9/close",
            &[("lang", "en"), ("note", "again")],
        )
        .await;
        assert_eq!(r.status, 409, "{:?}", r.body);
        assert!(html(&r).contains(
            "<p class=\"bad\" id=\"close-error\" role=\"alert\">recall RC-9 is already closed</p>"
        ));
        // The language switch of that page leads back to the campaign, not to the form's address.
        assert!(html(&r).contains("id=\"lang-switch\" href=\"/recalls/RC-9?lang=zh\""));
        // In Chinese, the catalogue's sentence, with the API's message as its title.
        let r = post_form(
            &api,
            "/recalls/RC-9/close",
            &[("lang", "zh"), ("note", "again")],
        )
        .await;
        assert_eq!(r.status, 409, "{:?}", r.body);
        assert!(
            html(&r).contains(
                "id=\"close-error\" role=\"alert\"><span title=\"recall RC-9 is already closed\">召回已结案</span></p>"
            ),
            "{}",
            html(&r)
        );
        // A passport lookup of a code that is not one, in Chinese.
        let r = api.get("/unit?lang=zh&code=%5D%5A9").await;
        let page = html(&r);
        let refusal = &page[page.find("id=\"not-found\"").expect("a refusal")..];
        assert!(refusal.contains("<span title=\""), "{refusal}");
        assert!(
            !refusal[..refusal.find("</section>").unwrap()].contains("is not"),
            "{refusal}"
        );
        assert_eq!(
            api.get("/api/v1/recalls/RC-9").await.body["close_note"],
            "located"
        );
    }
);

store_test!(
    a_recall_is_narrowed_from_its_page,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        common::history(&api).await;
        // Everything from SUP1: boards B1, B2 and the phones they are in.
        let r = api
            .post(
                "/api/v1/recalls",
                json!({"code": "RC-N", "reason": "SUP1 boards may short", "severity": "major",
                   "scope": {"supplier": "SUP1"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.body["units"], 4, "{:?}", r.body);
        let page = api.get("/recalls/RC-N?lang=zh").await;
        assert!(
            html(&page).contains("id=\"narrow-recall\"") && html(&page).contains("缩小召回范围")
        );
        assert!(!html(&page).contains("id=\"narrowings\""));

        // Refused: a scope that still reaches everything; the page says why, nothing changes.
        let r = post_form(
            &api,
            "/recalls/RC-N/narrow",
            &[
                ("lang", "en"),
                ("supplier", "SUP1"),
                ("reason", "no change"),
            ],
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(html(&r).contains("id=\"narrow-error\""), "{}", html(&r));
        assert!(
            html(&r).contains("nothing would leave the campaign"),
            "{}",
            html(&r)
        );
        let r = post_form(
            &api,
            "/recalls/RC-N/narrow",
            &[("lang", "en"), ("reason", "no scope")],
        )
        .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(html(&r).contains("give a starting point"), "{}", html(&r));
        assert!(
            api.get("/api/v1/recalls/RC-N")
                .await
                .body
                .get("narrowings")
                .is_none()
        );

        // Only board B1 was bad: B2 and phone P2 leave, and P2's recall hold is released.
        let r = post_form(
            &api,
            "/recalls/RC-N/narrow",
            &[
                ("lang", "en"),
                ("product", "BOARD"),
                ("serial", "B1"),
                ("reason", "only B1 failed the hipot test"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(r.headers["location"], "/recalls/RC-N?lang=en");
        let v = api.get("/api/v1/recalls/RC-N").await.body;
        assert_eq!(v["units"], 2, "{v}");
        assert_eq!(
            v["narrowings"][0]["reason"], "only B1 failed the hipot test",
            "{v}"
        );
        assert_eq!(v["narrowings"][0]["removed_units"], 2, "{v}");
        assert_eq!(
            api.get("/api/v1/items/PHONE/P2").await.body["holds"],
            json!([])
        );
        let r = api.get("/recalls/RC-N?lang=en").await;
        let page = html(&r);
        assert!(
            page.contains("id=\"narrowings\"") && page.contains("only B1 failed the hipot test"),
            "{page}"
        );
        assert!(
            page.contains("/api/v1/recalls/RC-N/units?removed=true&amp;format=csv"),
            "{page}"
        );
    }
);

store_test!(
    a_serial_rule_is_created_and_edited_from_its_admin_page,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        // The form, with the live preview's panel and script, in Chinese.
        let r = api.get("/admin/serial-rules?lang=zh&new=1").await;
        assert_eq!(r.status, 200);
        let page = html(&r);
        assert!(
            page.contains("id=\"rule-preview\"") && page.contains("/assets/serial-rules.js"),
            "{page}"
        );
        assert!(
            page.contains("序列号规则") && page.contains("流水号归零") && page.contains("每天"),
            "{page}"
        );
        let js = api.get("/assets/serial-rules.js").await;
        assert_eq!(js.status, 200);

        // A template the rule engine refuses is named on the form; nothing is stored.
        let bad = [
            ("lang", "en"),
            ("code", "PJC"),
            ("name", "Controllers"),
            ("template", "PJC-{SEQ:5"),
            ("sequence_reset", "daily"),
            ("time_zone", "+08:00"),
        ];
        let r = post_form(&api, "/admin/serial-rules", &bad).await;
        assert!(r.status == 400 || r.status == 422, "{:?}", r.status);
        assert!(html(&r).contains("<code>template</code>"), "{}", html(&r));
        assert_eq!(api.get("/api/v1/serial-rules/PJC").await.status, 404);

        // Created through the API's own handler, with its categories.
        let good = [
            ("lang", "en"),
            ("code", "PJC"),
            ("name", "Controllers"),
            ("template", "PJC-{YYMMDD}-{LINE}-{SEQ:5}"),
            ("sequence_reset", "daily"),
            ("time_zone", "+08:00"),
            ("sequence_start", "1"),
            ("uniqueness", "product"),
            ("categories", "controllers, drives"),
        ];
        let r = post_form(&api, "/admin/serial-rules", &good).await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(
            r.headers["location"],
            "/admin/serial-rules?saved=PJC&lang=en"
        );
        let v = api.get("/api/v1/serial-rules/PJC").await;
        assert_eq!(
            v.body["template"], "PJC-{YYMMDD}-{LINE}-{SEQ:5}",
            "{:?}",
            v.body
        );
        assert_eq!(
            v.body["categories"],
            serde_json::json!(["controllers", "drives"])
        );
        assert_eq!(v.body["version"], 1);
        let r = api.get("/admin/serial-rules?lang=en").await;
        assert!(
            html(&r).contains("PJC-{YYMMDD}-{LINE}-{SEQ:5}"),
            "{}",
            html(&r)
        );

        // Edited: the form shows the stored values; the save makes version 2.
        let r = api.get("/admin/serial-rules?lang=en&edit=PJC").await;
        assert!(
            html(&r).contains("value=\"PJC-{YYMMDD}-{LINE}-{SEQ:5}\""),
            "{}",
            html(&r)
        );
        assert!(
            html(&r).contains("<option value=\"daily\" selected>"),
            "{}",
            html(&r)
        );
        let mut edit: Vec<(&str, &str)> = good.to_vec();
        edit.push(("version", "1"));
        edit.retain(|(k, _)| *k != "template");
        edit.push(("template", "PJC{YYMMDD}{LINE}{SEQ:6}"));
        let r = post_form(&api, "/admin/serial-rules", &edit).await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        let v = api.get("/api/v1/serial-rules/PJC").await;
        assert_eq!(
            (v.body["template"].as_str(), v.body["version"].as_u64()),
            (Some("PJC{YYMMDD}{LINE}{SEQ:6}"), Some(2))
        );
        // A stale form (version 1 again) is refused, not applied over version 2.
        let r = post_form(&api, "/admin/serial-rules", &edit).await;
        assert_eq!(r.status, 409, "{:?}", r.body);
    }
);

store_test!(
    a_distributor_account_is_bound_and_moved_from_the_users_page,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let r = api
            .post(
                "/api/v1/parties",
                serde_json::json!({"code": "DIST-SH", "name": "Shanghai Dist.", "kind": "distributor"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = api.get("/admin/users?lang=zh").await;
        assert!(html(&r).contains("id=\"u-party\"") && html(&r).contains("所属经销商"));
        // Without its party a distributor account is refused, the field named.
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "create_user"),
                ("name", "wang.gd"),
                ("password", "a-long-password-1"),
                ("role.distributor", "on"),
            ],
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(html(&r).contains("<code>party</code>"), "{}", html(&r));
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "create_user"),
                ("name", "wang.gd"),
                ("password", "a-long-password-1"),
                ("role.distributor", "on"),
                ("party", "DIST-GD"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(
            api.get("/api/v1/users/wang.gd").await.body["party"],
            "DIST-GD"
        );
        // The edit form shows the binding; moving the account to Shanghai keeps its roles.
        let r = api.get("/admin/users?lang=en&edit=wang.gd").await;
        assert!(
            html(&r).contains("id=\"edit-party\" name=\"party\" value=\"DIST-GD\""),
            "{}",
            html(&r)
        );
        let r = post_form(
            &api,
            "/admin/users",
            &[
                ("lang", "en"),
                ("action", "roles"),
                ("name", "wang.gd"),
                ("role.distributor", "on"),
                ("party", "DIST-SH"),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        let u = api.get("/api/v1/users/wang.gd").await.body;
        assert_eq!(
            (u["party"].as_str(), u["roles"].clone()),
            (Some("DIST-SH"), serde_json::json!(["distributor"])),
            "{u}"
        );
        let r = api.get("/admin/users?lang=en").await;
        assert!(html(&r).contains("<td>DIST-SH</td>"), "{}", html(&r));
    }
);

/// The fields the process rules form sends for the shipped default, as the page shows it.
fn default_process_form() -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    let on = |k: &str| (k.to_owned(), "on".to_owned());
    f.push(on("step.ship.from.in_stock"));
    f.push(on("step.ship.held"));
    for s in ["in_stock", "in_transit"] {
        f.push(on(&format!("step.sell.from.{s}")));
    }
    f.push(on("step.sell.held"));
    for s in ["in_production", "in_stock", "returned", "in_repair"] {
        f.push(on(&format!("step.assemble.from.{s}")));
        f.push(on(&format!("step.store.from.{s}")));
    }
    f.push(on("step.assemble.held"));
    for s in ["unassigned", "in_transit", "in_stock"] {
        f.push(on(&format!("step.receive.from.{s}")));
    }
    for s in ["sold", "in_transit", "in_stock"] {
        f.push(on(&format!("step.return.from.{s}")));
    }
    for s in ["returned", "in_repair", "in_stock"] {
        f.push(on(&format!("step.repair.from.{s}")));
    }
    f
}

fn with<'a>(base: &'a [(String, String)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(more.iter().copied())
        .collect()
}

store_test!(
    the_process_rules_are_viewed_and_changed_through_their_page,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        // Until a plant saves its own rules, the page shows the shipped default as version 0.
        let r = api.get("/admin/process?lang=zh").await;
        assert_eq!(r.status, 200);
        let page = html(&r);
        assert!(
            page.contains("工序规则") && page.contains("系统默认规则（版本 0）"),
            "{page}"
        );
        assert!(page.contains("name=\"version\" value=\"0\""));
        assert!(
            page.contains("name=\"step.ship.from.in_stock\" checked"),
            "{page}"
        );
        assert!(page.contains("name=\"step.ship.held\" checked"));
        assert!(!page.contains("name=\"step.ship.from.sold\" checked"));
        assert!(page.contains("<legend>销售出库</legend>"));
        assert!(!page.contains("id=\"history\""));
        let r = api.get("/admin/process?lang=en").await;
        assert!(
            html(&r).contains("Refuse units on hold")
                && html(&r).contains("<legend>Shipment</legend>")
        );

        // Inspection only in stock; medical devices name inspector and
        // equipment on every inspection.
        let base = default_process_form();
        let fields = with(
            &base,
            &[
                ("lang", "en"),
                ("version", "0"),
                ("step.inspect.from.in_stock", "on"),
                ("req.0.operation", "inspect"),
                ("req.0.category", "medical"),
                ("req.0.fields", "inspector， equipment"),
                ("req.1.operation", ""),
                ("req.1.category", ""),
                ("req.1.fields", ""),
            ],
        );
        let r = post_form(&api, "/admin/process", &fields).await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(r.headers["location"], "/admin/process?saved=1&lang=en");
        let p = api.get("/api/v1/process").await.body;
        assert_eq!(p["version"], 1);
        let rule = |op: &str| {
            p["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["operation"] == op)
                .cloned()
        };
        assert_eq!(
            rule("inspect"),
            Some(json!({"operation": "inspect", "from": ["in_stock"], "refuse_held": false}))
        );
        // What the form did not change is kept as it was.
        assert_eq!(
            rule("ship"),
            Some(json!({"operation": "ship", "from": ["in_stock"], "refuse_held": true}))
        );
        assert_eq!(p["steps"].as_array().unwrap().len(), 8);
        assert_eq!(
            p["required_fields"],
            json!([{"operation": "inspect", "category": "medical", "fields": ["inspector", "equipment"]}])
        );
        let r = api.get("/admin/process?lang=en&saved=1").await;
        let page = html(&r);
        assert!(page.contains("id=\"saved\"") && page.contains("name=\"version\" value=\"1\""));
        assert!(
            page.contains("name=\"req.0.fields\" value=\"inspector, equipment\""),
            "{page}"
        );
        assert!(
            page.contains("id=\"process-history\"") && page.contains("<td>token:test-admin</td>")
        );
        // The change is in the audit trail, as the API's own change would be.
        let audit = api.get("/api/v1/audit?object=process").await;
        let recorded = audit.body["records"].as_array().unwrap().iter().any(|r| {
            r["status"] == 303 && r["after"]["version"] == 1 && r["actor"] == "token:test-admin"
        });
        assert!(recorded, "{:?}", audit.body);
        // And scans are judged by it: a unit still in production may not be inspected.
        let r = api
            .post(
                "/api/v1/ops/commission",
                json!({"product": "BOARD", "serials": ["B1"], "work_order": "WO-1", "line": "SZ-L1"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let v = api
            .get("/api/v1/scan/check?operation=inspect&code=B1")
            .await;
        assert_eq!(
            (v.body["accepted"].clone(), v.body["reason"].clone()),
            (json!(false), json!("wrong_state")),
            "{:?}",
            v.body
        );

        // A rule the API refuses is shown on the form as typed, the field named; nothing written.
        let before = api.ledger_len().await;
        let fields = with(
            &base,
            &[
                ("lang", "en"),
                ("version", "1"),
                ("step.ship.to", "voided"),
                ("req.0.operation", "inspect"),
                ("req.0.category", "medical"),
                ("req.0.fields", ""),
            ],
        );
        let r = post_form(&api, "/admin/process", &fields).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        let page = html(&r);
        assert!(page.contains("id=\"form-errors\""), "{page}");
        assert!(
            page.contains("<strong>Required fields · row 1 · Field names (comma-separated)</strong> (<code>required_fields[0].fields</code>)"),
            "{page}"
        );
        assert!(
            page.contains("<strong>Shipment · Leaves units</strong> (<code>steps[3].to</code>)"),
            "{page}"
        );
        assert!(page.contains("id=\"step-ship\" class=\"rule invalid\""));
        assert!(page.contains("<tr id=\"req-0\" class=\"invalid\">"));
        assert!(page.contains("<option value=\"voided\" selected>voided</option>"));
        assert!(page.contains("name=\"req.0.category\" value=\"medical\""));
        assert_eq!(api.ledger_len().await, before);
        assert_eq!(api.get("/api/v1/process").await.body["version"], 1);

        // An unknown state, a bad operation: named by the API's parser.
        let fields = with(
            &base,
            &[
                ("lang", "zh"),
                ("version", "1"),
                ("req.0.operation", "fly"),
                ("req.0.fields", "x"),
            ],
        );
        let r = post_form(&api, "/admin/process", &fields).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert!(
            html(&r).contains("<strong>必填字段 · 第 1 行 · 作业</strong> (<code>required_fields[0].operation</code>)"),
            "{}",
            html(&r)
        );
        assert_eq!(api.ledger_len().await, before);

        // The plant's time zone: Shanghai until the plant names another; a name that is no
        // time zone is refused next to its label; the history's times follow the zone.
        let r = api.get("/admin/process?lang=en").await;
        assert!(
            html(&r).contains("<input id=\"time-zone\" name=\"time_zone\" value=\"\" placeholder=\"Asia/Shanghai\""),
            "{}",
            html(&r)
        );
        assert!(
            html(&r).contains("<td>1 Jun 2026, 20:00</td>"),
            "{}",
            html(&r)
        );
        let fields = with(
            &base,
            &[("lang", "en"), ("version", "1"), ("time_zone", "Shanghai")],
        );
        let r = post_form(&api, "/admin/process", &fields).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(
            html(&r).contains("<strong>Plant time zone</strong> (<code>time_zone</code>)"),
            "{}",
            html(&r)
        );
        assert!(html(&r).contains("class=\"field invalid\"><label for=\"time-zone\">"));
        assert_eq!(api.ledger_len().await, before);
        let fields = with(
            &base,
            &[
                ("lang", "en"),
                ("version", "1"),
                ("time_zone", "Europe/London"),
            ],
        );
        let r = post_form(&api, "/admin/process", &fields).await;
        assert_eq!(r.status, 303, "{:?}", r.body);
        assert_eq!(
            api.get("/api/v1/process").await.body["time_zone"],
            "Europe/London"
        );
        let r = api.get("/admin/process?lang=en").await;
        let page = html(&r);
        assert!(page.contains("value=\"Europe/London\""), "{page}");
        assert!(page.contains("<td>1 Jun 2026, 13:00</td>"), "{page}");
        let before = api.ledger_len().await;

        // Saving over a version someone else replaced is refused, and says so.
        let fields = with(&base, &[("lang", "en"), ("version", "0")]);
        let r = post_form(&api, "/admin/process", &fields).await;
        assert_eq!(r.status, 409, "{:?}", r.body);
        assert!(
            html(&r).contains("<strong>Version</strong> (<code>If-Match</code>)"),
            "{}",
            html(&r)
        );
        assert_eq!(api.ledger_len().await, before);
    }
);

store_test!(
    the_process_rules_page_is_for_those_who_configure,
    |s: TestStore| async move {
        plant(&*s).await;
        let clerk =
            Api::with_roles(&s, "clerk", &[threadline_domain::access::Role::Warehouse]).await;
        assert_eq!(clerk.get("/admin/process?lang=en").await.status, 403);
        let base = default_process_form();
        let fields = with(&base, &[("lang", "en"), ("version", "0")]);
        let r = post_form(&clerk, "/admin/process", &fields).await;
        assert_eq!(r.status, 403);
        let admin = Api::new(&s).await;
        assert_eq!(admin.get("/api/v1/process").await.body["version"], 0);
        // The admin tabs offer the page to those who may use it.
        assert!(
            html(&admin.get("/admin/products?lang=en").await)
                .contains("href=\"/admin/process?lang=en\"")
        );
    }
);

store_test!(
    a_refusal_reads_in_the_readers_language,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        let bin = |lang: &'static str| {
            vec![
                ("lang", lang),
                ("code", "SZ-WH-B9"),
                ("name", "Bin B9"),
                ("kind", "bin"),
            ]
        };
        // In Chinese: the catalogue's sentence under the field's label, the API's own words
        // kept as its title.
        let r = post_form(&api, "/admin/locations", &bin("zh")).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(
            html(&r).contains("<strong>上级位置</strong> (<code>parent</code>): <span title=\"a bin must name the location it is in\">必须指定所在的上级位置</span>"),
            "{}",
            html(&r)
        );
        // In English: the API's message as it is.
        let r = post_form(&api, "/admin/locations", &bin("en")).await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert!(
            html(&r).contains("(<code>parent</code>): a bin must name the location it is in</li>"),
            "{}",
            html(&r)
        );
        // A value refused while it is read: the kind in Chinese, what is wrong in the API's words.
        let r = post_form(
            &api,
            "/admin/products",
            &[
                ("lang", "zh"),
                ("code", "X"),
                ("name", "X"),
                ("tracking", "serial"),
                ("gtin", "123"),
            ],
        )
        .await;
        assert!(r.status.is_client_error(), "{:?}", r.status);
        assert!(
            html(&r).contains("(<code>gtin</code>): 取值无效 <span class=\"muted\" lang=\"en\">(GTIN `123` must be 8, 12, 13 or 14 digits)</span>"),
            "{}",
            html(&r)
        );
        assert_eq!(api.get("/api/v1/locations/SZ-WH-B9").await.status, 404);
        assert_eq!(api.get("/api/v1/products/X").await.status, 404);
    }
);

store_test!(
    an_unreadable_form_says_why_in_the_readers_language,
    |s: TestStore| async move {
        plant(&*s).await;
        let api = Api::new(&s).await;
        for (accept, says) in [
            ("zh-CN", "表单无法读取"),
            ("en", "the form could not be read"),
        ] {
            let r = api
                .send(
                    Request::post("/admin/products")
                        .header("content-type", "text/plain")
                        .header("accept-language", accept)
                        .body(Body::from("code=KITE"))
                        .unwrap(),
                )
                .await;
            assert_eq!(r.status, 400, "{:?}", r.body);
            let page = html(&r);
            assert!(page.contains("<span id=\"refusal\">"), "{page}");
            assert!(page.contains(says), "{accept}: {page}");
        }
        assert!(api.get("/api/v1/products/KITE").await.status == 404);
    }
);
