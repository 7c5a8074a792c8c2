//! End-to-end tests of the web UI in real headless Chromium, driven through chromedriver
//! (WebDriver) on both engines: sign-in and the language switch, a scan session typed as a
//! hardware scanner types it, the scan station's offline queue behind a network the test
//! controls, the passport, a forward trace into a recall.
//!
//! Each test serves the real router on `127.0.0.1:0` and starts its own chromedriver. Without
//! `chromedriver` on the PATH the tests say so and pass, except under `CI=true`, where
//! `.ci/run` installs Debian's `chromium` and `chromium-driver` and a missing browser fails.
//! Screenshots of every page, in both languages, land in `target/screenshots/`.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::Api;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use threadline_server::{AppState, AuthSettings, FixedClock, app};
use threadline_testkit::fixtures::{now, plant};
use threadline_testkit::{TestStore, store_test};

const PASSWORD: &str = "correct-horse-battery-7";

/// The served application and an admin API client on the same store.
struct Site {
    base: String,
    api: Api,
    /// The server's own address (`base` names it too).
    addr: std::net::SocketAddr,
    /// How many `POST /api/v1/ops/…` requests reached the server.
    ops_posts: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
    _store: TestStore,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The fixture plant, one user per role the tests sign in as, and the router on a socket.
async fn site(store: TestStore) -> Site {
    plant(&*store).await;
    site_with(
        store,
        &[
            ("boss", &["admin"]),
            ("liu", &["production"]),
            ("wang", &["warehouse"]),
            ("zhao", &["quality"]),
        ],
    )
    .await
}

/// The router on a socket over `store` as it is, with these users (name, roles).
async fn site_with(store: TestStore, users: &[(&str, &[&str])]) -> Site {
    let api = Api::new(&store).await;
    for (name, roles) in users {
        let r = api
            .post(
                "/api/v1/users",
                json!({"name": name, "password": PASSWORD, "roles": roles}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let state = AppState {
        clock: Arc::new(FixedClock(now())),
        auth: AuthSettings {
            secure_cookies: false,
            ..AuthSettings::default()
        },
        ..AppState::new(store.store.clone())
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let ops_posts = Arc::new(AtomicUsize::new(0));
    let counter = ops_posts.clone();
    let router = app(state).layer(axum::middleware::map_request(
        move |req: axum::extract::Request| {
            let counter = counter.clone();
            async move {
                if req.method() == axum::http::Method::POST
                    && req.uri().path().starts_with("/api/v1/ops/")
                {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                req
            }
        },
    ));
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Site {
        base,
        api,
        addr,
        ops_posts,
        server,
        _store: store,
    }
}

/// One headless Chromium behind its own chromedriver; both end when this is dropped.
struct Browser {
    client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group: ending the group ends the browser too.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn have_chromedriver() -> bool {
    let found = Command::new("chromedriver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "CI must install chromium and chromium-driver (see .ci/run)"
        );
        eprintln!("chromedriver is not installed: browser test skipped");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A browser whose preferred language is `accept` (`zh-CN`, `en-US`) and whose window is
/// `width` pixels wide.
async fn browser(accept: &str, width: u32) -> Browser {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--force-device-scale-factor=1",
                     // A camera for the scan station: a generated test pattern, no prompt.
                     "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                     format!("--window-size={width},900"), format!("--lang={accept}")],
            "prefs": {"intl.accept_languages": accept},
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    client.set_window_size(width, 900).await.unwrap();
    Browser { client, driver }
}

/// A Chrome DevTools command sent through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({"cmd": self.cmd, "params": self.params}).to_string()),
        )
    }
}

impl Browser {
    /// Runs `source` in every page this browser opens from now on, before the page's own
    /// scripts (to take away or stand in for what the browser offers).
    async fn before_every_page(&self, source: &str) {
        self.client
            .issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: json!({ "source": source }),
            })
            .await
            .unwrap();
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until the expression is true in the page.
    async fn until(&self, expr: &str) {
        for _ in 0..300 {
            if self.js(&format!("return !!({expr});")).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "timed out waiting for `{expr}` on {}",
            self.client.current_url().await.unwrap()
        );
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn lang(&self) -> String {
        self.js("return document.documentElement.lang;")
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Saves the whole page (the window grown to its height) as
    /// `target/screenshots/{name}.png`.
    async fn shot(&self, name: &str) {
        let (width, height) = self.client.get_window_size().await.unwrap();
        let page = self
            .js("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(height);
        let full = u32::try_from(page.clamp(height, 4000)).unwrap();
        let width = u32::try_from(width).unwrap();
        self.client.set_window_size(width, full).await.unwrap();
        self.js("window.scrollTo(0, 0); return 0;").await;
        let png = self.client.screenshot().await.unwrap();
        self.client
            .set_window_size(width, u32::try_from(height).unwrap())
            .await
            .unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, site: &Site, name: &str, lang: &str) {
        self.open(&format!("{}/login?lang={lang}", site.base)).await;
        self.type_into("#name", name).await;
        self.type_into("#password", PASSWORD).await;
        self.click("main button[type=submit]").await;
        self.until("document.getElementById('who')").await;
    }

    async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

store_test!(
    sign_in_language_switch_and_sign_out,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let b = browser("zh-CN", 1280).await;
        // A zh browser gets Chinese without asking.
        b.open(&format!("{}/", site.base)).await;
        b.until("document.getElementById('password')").await;
        assert_eq!(b.lang().await, "zh-CN");
        assert_eq!(b.text("h1").await, "登录");
        b.shot("login-zh").await;
        b.type_into("#name", "liu").await;
        b.type_into("#password", "not-the-password").await;
        b.click("main button[type=submit]").await;
        b.until("document.querySelector('main .bad')").await;
        assert_eq!(b.text("main .bad").await, "用户名或密码错误");
        b.type_into("#password", PASSWORD).await;
        b.click("main button[type=submit]").await;
        b.until("document.getElementById('who')").await;
        assert_eq!(b.text("#who").await, "liu");
        // A production operator is offered the scan station, not what needs other permissions.
        let nav = b.text("nav").await;
        assert!(nav.contains("扫码工作站"), "{nav}");
        b.shot("home-zh").await;
        b.click("#lang-switch").await;
        b.until("document.documentElement.lang === 'en'").await;
        assert!(b.text("nav").await.contains("Scan station"));
        b.shot("home-en").await;
        b.click("#sign-out").await;
        b.until("document.getElementById('password')").await;
        assert_eq!(b.lang().await, "en");
        b.shot("login-en").await;
        // Signed out means signed out: the home page sends us back to the sign-in form.
        b.open(&format!("{}/", site.base)).await;
        b.until("document.getElementById('password')").await;
        b.close().await;
    }
);

store_test!(
    a_scan_session_with_an_error_and_an_undo,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        // B9 exists already: scanning it again for commissioning is an error at the scan.
        let r = site
        .api
        .post(
            "/api/v1/ops/commission",
            json!({"product": "BOARD", "serials": ["B9"], "work_order": "WO-0", "line": "SZ-L1"}),
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let before = site.api.ledger_len().await;

        let b = browser("zh-CN", 360).await;
        b.sign_in(&site, "liu", "zh").await;
        b.open(&format!("{}/scan", site.base)).await;
        b.until("document.getElementById('scan')").await;
        // Only the operations a production operator may perform are offered.
        let ops = b
            .js("return Array.from(document.querySelectorAll('#op option')).map(o => o.value);")
            .await;
        assert_eq!(ops, json!(["commission", "assemble", "move"]));
        b.client
            .find(Locator::Css("#op"))
            .await
            .unwrap()
            .select_by_value("commission")
            .await
            .unwrap();
        b.type_into("#f-product", "BOARD").await;
        b.type_into("#f-work_order", "WO-9").await;
        b.type_into("#f-line", "SZ-L1").await;
        b.type_into("#f-expected", "2").await;
        // The input has focus; a wedge scanner types each code and Enter.
        b.click("#scan").await;
        let enter = char::from(fantoccini::key::Key::Enter);
        let active = b.client.active_element().await.unwrap();
        assert_eq!(active.attr("id").await.unwrap().as_deref(), Some("scan"));
        active
            .send_keys(&format!("B1{enter}B2{enter}B1{enter}B9{enter}B3{enter}"))
            .await
            .unwrap();
        b.until("document.querySelectorAll('#scans li').length === 5 && !document.querySelector('#scans li.pending')")
        .await;
        let rows = b
        .js("return Array.from(document.querySelectorAll('#scans li')).reverse().map(li => [li.className, li.querySelector('.code').textContent, li.querySelector('.why').textContent]);")
        .await;
        assert_eq!(
            rows,
            json!([
                ["ok", "B1", "通过"],
                ["ok", "B2", "通过"],
                ["bad", "B1", "重复扫码"],
                ["bad", "B9", "序列号已登记 · 生产中"],
                ["ok", "B3", "通过"],
            ])
        );
        assert_eq!(b.text("#count").await, "3");
        assert_eq!(b.text("#errors").await, "2");
        let beeps = b
            .js("return document.getElementById('station').dataset.beeps;")
            .await;
        assert_eq!(beeps, json!("2"));
        b.shot("scan-zh").await;
        // One too many: undo the last scan, and the count meets the expected quantity.
        b.click("#undo").await;
        b.until("document.querySelectorAll('#scans li').length === 4")
            .await;
        assert_eq!(b.text("#count").await, "2");
        assert_eq!(b.text("#expected").await, "/ 2");
        b.click("#submit").await;
        b.until("document.getElementById('result').classList.contains('ok')")
            .await;
        assert_eq!(b.text("#result").await, "已提交: 2");
        assert_eq!(
            b.js("return document.querySelectorAll('#scans li').length;")
                .await,
            json!(0)
        );
        assert_eq!(
            b.js("return JSON.parse(localStorage.getItem('threadline.queue.v1')).length;")
                .await,
            json!(0)
        );
        b.shot("scan-submitted-zh").await;
        // One commissioning event for B1 and B2; B3 was undone, B9 untouched.
        assert_eq!(site.api.ledger_len().await, before + 1);
        assert_eq!(
            site.api.item("BOARD", "B1").await["status"],
            "in_production"
        );
        assert_eq!(
            site.api.item("BOARD", "B2").await["status"],
            "in_production"
        );
        assert_eq!(site.api.get("/api/v1/items/BOARD/B3").await.status, 404);
        b.open(&format!("{}/scan?lang=en", site.base)).await;
        b.until("document.documentElement.lang === 'en'").await;
        b.shot("scan-en").await;
        b.close().await;
    }
);

store_test!(
    switching_operation_leaves_the_last_context_behind,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let r = site
            .api
            .post(
                "/api/v1/ops/commission",
                json!({"product": "PHONE", "serials": ["P5"], "work_order": "WO-P", "line": "SZ-L1",
                       "attributes": {"color": "black"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let b = browser("zh-CN", 360).await;
        b.sign_in(&site, "liu", "zh").await;
        // A board commissioned on work order WO-OLD…
        b.station_batch(
            "commission",
            &[
                ("#f-product", "BOARD"),
                ("#f-work_order", "WO-OLD"),
                ("#f-line", "SZ-L1"),
            ],
            &["B5"],
        )
        .await;
        b.submit_batch(1).await;
        // …then an assembly: it does not carry WO-OLD, and its work order field is its own.
        b.station_batch(
            "assemble",
            &[("#f-parent", "P5"), ("#f-location", "SZ-L1")],
            &["B5"],
        )
        .await;
        b.submit_batch(1).await;
        let events = site.api.get("/api/v1/events?product=BOARD&serial=B5").await;
        let assembly = events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .find(|e| e.contains("\"assembling\""))
            .unwrap_or_else(|| panic!("no assembly in {:?}", events.body));
        assert!(assembly.contains("\"P5\""), "{assembly}");
        assert!(
            !assembly.contains("WO-OLD"),
            "the assembly carries the commissioning's work order: {assembly}"
        );
        assert_eq!(
            b.js("return document.getElementById('f-work_order').value;")
                .await,
            json!("")
        );
        // Back to commissioning: its own context is still there.
        b.select("#op", "commission").await;
        assert_eq!(
            b.js("return [document.getElementById('f-work_order').value, document.getElementById('f-line').value];")
                .await,
            json!(["WO-OLD", "SZ-L1"])
        );
        b.shot("scan-context-per-operation-zh").await;
        b.close().await;
    }
);

store_test!(
    a_refused_scan_says_why_in_the_page_language,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let r = site
            .api
            .post(
                "/api/v1/ops/receive",
                json!({"supplier": "SUP1", "purchase_order": "PO-1", "location": "SZ-WH-A1",
                       "lines": [{"product": "BOARD", "serials": ["B1"]}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let b = browser("zh-CN", 360).await;
        b.sign_in(&site, "wang", "zh").await;
        b.open(&format!("{}/scan", site.base)).await;
        b.until("document.getElementById('scan')").await;
        b.select("#op", "ship").await;
        b.fill(&[
            ("#f-sales_order", "SO-9"),
            ("#f-from", "SZ-WH-A1"),
            ("#f-customer", "CUST1"),
        ])
        .await;
        // A GS1 code whose check digit is wrong (…13 is right), a GTIN no product has, and B1.
        b.click("#scan").await;
        let enter = char::from(fantoccini::key::Key::Enter);
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!(
                "(01)09521234543214(21)B1{enter}(01)09521234999997(21)X1{enter}B1{enter}"
            ))
            .await
            .unwrap();
        b.until("document.querySelectorAll('#scans li').length === 3 && !document.querySelector('#scans li.pending')")
            .await;
        let rows = "return Array.from(document.querySelectorAll('#scans li')).reverse().map(li => [li.className, li.querySelector('.why').textContent, li.title]);";
        let zh = b.js(rows).await;
        assert_eq!(zh[0][1], "无法识别的条码 · 校验位不对", "{zh}");
        assert_eq!(zh[1][1], "无法识别的条码 · 没有产品使用这个 GTIN", "{zh}");
        assert_eq!(zh[2][0], "ok", "{zh}");
        // The API's English stays at hand, as the row's title.
        assert!(zh[0][2].as_str().unwrap().contains("check digit"), "{zh}");
        b.shot("scan-refused-rows-zh").await;
        // The same refused scans in English read the API's own words.
        b.open(&format!("{}/scan?lang=en", site.base)).await;
        b.until("document.documentElement.lang === 'en' && document.querySelectorAll('#scans li').length === 3")
            .await;
        let en = b.js(rows).await;
        assert!(
            en[0][1].as_str().unwrap().starts_with("Unreadable code · "),
            "{en}"
        );
        assert!(en[0][1].as_str().unwrap().contains("check digit"), "{en}");
        assert!(
            en[1][1]
                .as_str()
                .unwrap()
                .contains("no product has GTIN 09521234999997"),
            "{en}"
        );
        b.shot("scan-refused-en").await;
        // B1 is put on QC hold after it was scanned: the batch is refused, naming the unit
        // and the reason in Chinese.
        let r = site
            .api
            .post(
                "/api/v1/ops/hold",
                json!({"kind": "qc", "items": [{"product": "BOARD", "serial": "B1"}], "reason": "suspect"}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        b.open(&format!("{}/scan?lang=zh", site.base)).await;
        b.until("document.documentElement.lang === 'zh-CN' && document.querySelectorAll('#scans li').length === 3")
            .await;
        b.click("#submit").await;
        b.until("document.getElementById('result').classList.contains('bad')")
            .await;
        assert_eq!(
            b.text("#result").await,
            "提交被拒绝: BOARD · B1: 单品处于质检冻结"
        );
        b.shot("scan-refused-zh").await;
        b.close().await;
    }
);

/// A board received, a phone built from it and failed at QC: the story the passport tells.
async fn build_a_phone(site: &Site) {
    for (op, body) in [
        (
            "receive",
            json!({"supplier": "SUP1", "purchase_order": "PO-7", "location": "SZ-WH-A1",
                   "lines": [{"product": "BOARD", "serials": ["B1"]}]}),
        ),
        (
            "commission",
            json!({"product": "PHONE", "serials": ["P1"], "work_order": "WO-7", "line": "SZ-L1",
                   "operator": "Li", "attributes": {"color": "black"}}),
        ),
        (
            "assemble",
            json!({"parent": {"product": "PHONE", "serial": "P1"},
                   "components": [{"product": "BOARD", "serial": "B1"}], "location": "SZ-L1"}),
        ),
        (
            "inspect",
            json!({"items": [{"product": "PHONE", "serial": "P1"}], "result": "fail",
                   "measurements": [{"name": "output_voltage", "value": 4.6, "unit": "V", "low": 4.8, "high": 5.2}],
                   "defect_codes": ["E-VOLT-LOW"], "inspector": "Zhao", "equipment": "ATE-07"}),
        ),
    ] {
        let r = site.api.post(&format!("/api/v1/ops/{op}"), body).await;
        assert_eq!(r.status, 201, "{op}: {:?}", r.body);
    }
}

store_test!(the_passport_of_a_scanned_unit, |s: TestStore| async move {
    if !have_chromedriver() {
        return;
    }
    let site = site(s).await;
    build_a_phone(&site).await;
    let b = browser("zh-CN", 1280).await;
    b.sign_in(&site, "zhao", "zh").await;
    b.open(&format!("{}/unit", site.base)).await;
    // The search box takes what a scanner sends: here a GS1 code in its printed form.
    let enter = char::from(fantoccini::key::Key::Enter);
    b.type_into("#code", &format!("(01)09521234543213(21)P1{enter}"))
        .await;
    b.until("document.getElementById('identity')").await;
    assert_eq!(b.text("#identity h1").await, "Phone P1");
    let badges = b.text("#badges").await;
    assert!(
        badges.contains("生产中") && badges.contains("质检冻结"),
        "{badges}"
    );
    assert_eq!(b.text("#components").await, "BOARD · B1");
    assert_eq!(
        b.js("return document.querySelectorAll('#timeline li').length;")
            .await,
        json!(3)
    );
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("生产赋码")
            && timeline.contains("WO-7")
            && timeline.contains("token:test-admin"),
        "{timeline}"
    );
    let qc = b.text("#qc").await;
    assert!(
        qc.contains("不合格") && qc.contains("output_voltage = 4.6 V") && qc.contains("E-VOLT-LOW"),
        "{qc}"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('#qc td div.bad').length;")
            .await,
        json!(1)
    );
    b.shot("passport-zh").await;
    // On a 360 px PDA the QC records stack, each field under its name, and no date wraps.
    b.client.set_window_size(360, 900).await.unwrap();
    b.until("window.innerWidth <= 360").await;
    let layout = b
        .js("const qc = document.querySelector('#qc table'); \
             return {lines: Array.from(document.querySelectorAll('#qc time, #timeline .when')) \
                       .map(t => { const r = document.createRange(); r.selectNodeContents(t); \
                                   return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size; }), \
                     label: getComputedStyle(qc.querySelector('td'), '::before').content, \
                     head: qc.querySelector('thead').getBoundingClientRect().height <= 1, \
                     overflow: qc.parentElement.scrollWidth - qc.parentElement.clientWidth, \
                     page: document.documentElement.scrollWidth - window.innerWidth};")
        .await;
    assert_eq!(
        layout,
        json!({"lines": [1, 1, 1, 1], "label": "\"时间\"", "head": true, "overflow": 0, "page": 0}),
        "{layout}"
    );
    b.shot("passport-360-zh").await;
    b.client.set_window_size(1280, 900).await.unwrap();
    b.click("#lang-switch").await;
    b.until("document.documentElement.lang === 'en'").await;
    assert!(b.text("#badges").await.contains("QC hold"));
    b.shot("passport-en").await;
    // From the phone to its board, and back through the parent link.
    b.click("#components a").await;
    b.until("document.querySelector('#identity h1') && document.querySelector('#identity h1').textContent.startsWith('Main board')")
        .await;
    assert_eq!(b.text("#parent").await, "PHONE · P1");
    // An unknown code says so, next to the search box.
    b.type_into("#code", &format!("NO-SUCH-SERIAL{enter}"))
        .await;
    b.until("document.getElementById('not-found')").await;
    b.shot("passport-not-found-en").await;
    b.close().await;
});

store_test!(a_forward_trace_into_a_recall, |s: TestStore| async move {
    if !have_chromedriver() {
        return;
    }
    let site = site(s).await;
    build_a_phone(&site).await;
    let b = browser("zh-CN", 1280).await;
    b.sign_in(&site, "zhao", "zh").await;
    b.open(&format!("{}/trace", site.base)).await;
    b.type_into("#t-product", "BOARD").await;
    b.type_into("#t-serial", "B1").await;
    b.click("#scope button[type=submit]").await;
    b.until("document.getElementById('trace-result')").await;
    // The board reached one phone: the start and the phone are drawn, the phone is listed.
    assert_eq!(
        b.js("return document.querySelectorAll('#trace-graph g.node').length;")
            .await,
        json!(2)
    );
    assert!(b.text("#trace-table").await.contains("PHONE · P1"));
    assert_eq!(
        b.js("return document.querySelectorAll('#trace-graph g.node.held').length;")
            .await,
        json!(1)
    );
    // Folding the start hides what was reached through it; unfolding shows it again.
    b.click("#trace-graph g.toggle").await;
    b.until("document.getElementById('trace-graph').dataset.visible === '1'")
        .await;
    b.click("#trace-graph g.toggle").await;
    b.until("document.getElementById('trace-graph').dataset.visible === '2'")
        .await;
    let csv = b
        .js("return document.getElementById('export-csv').getAttribute('href');")
        .await;
    assert_eq!(
        csv,
        json!("/api/v1/trace/forward?product=BOARD&serial=B1&format=csv")
    );
    b.shot("trace-zh").await;
    b.click("#lang-switch").await;
    b.until("document.documentElement.lang === 'en'").await;
    b.until("document.getElementById('trace-result')").await;
    b.shot("trace-en").await;

    // From the trace to a recall: preview, then create.
    b.click("#start-recall").await;
    b.until("document.getElementById('recall-preview')").await;
    // The board and the phone it is in; the board goes with the phone, held in its place.
    let summary = b.text("#preview-summary").await;
    assert!(
        summary.starts_with("Units: 2 · In our hands: 1 · Outside: 0"),
        "{summary}"
    );
    b.shot("recall-preview-en").await;
    b.type_into("#r-code", "RC-TEST-1").await;
    b.type_into("#r-reason", "Boards from PO-7 short the supply rail")
        .await;
    b.click("#create-recall button[type=submit]").await;
    b.until("document.getElementById('campaign')").await;
    assert_eq!(b.text("#campaign h1").await, "Recall RC-TEST-1");
    let counts = b.text("#campaign-counts").await;
    assert!(counts.contains("Held by the recall\n1"), "{counts}");
    b.shot("recall-en").await;
    b.click("#lang-switch").await;
    b.until("document.documentElement.lang === 'zh-CN'").await;
    b.shot("recall-zh").await;
    // The hold is real: the phone is now on recall hold too.
    let holds = &site.api.item("PHONE", "P1").await["holds"];
    assert_eq!(holds, &json!(["qc", "recall"]));
    // Closing from the campaign's page: the status says so, the holds stay.
    b.type_into("#close-note", "all units located").await;
    b.click("#close-recall button[type=submit]").await;
    b.until("document.getElementById('closure')").await;
    assert_eq!(b.text("#campaign-status").await, "已结案");
    assert!(b.text("#closure").await.contains("all units located"));
    assert!(
        b.js("return !document.getElementById('close-recall');")
            .await
            == json!(true)
    );
    let r = site.api.get("/api/v1/recalls/RC-TEST-1").await;
    assert_eq!(r.body["closed_by"], "zhao");
    assert_eq!(r.body["close_note"], "all units located");
    b.shot("recall-closed-zh").await;
    b.open(&format!("{}/recalls?lang=zh", site.base)).await;
    b.until("document.getElementById('recalls')").await;
    assert!(b.text("#recalls").await.contains("RC-TEST-1"));
    b.shot("recalls-zh").await;
    b.close().await;
});

store_test!(a_dashboard_with_real_numbers, |s: TestStore| async move {
    if !have_chromedriver() {
        return;
    }
    let site = site(s).await;
    common::history(&site.api).await;
    let b = browser("zh-CN", 1280).await;
    b.sign_in(&site, "zhao", "zh").await;
    b.open(&format!(
        "{}/dashboard?from=2026-05-01&to=2026-06-01&period=week",
        site.base
    ))
    .await;
    b.until("document.getElementById('kpi-fpy')").await;
    // 2 of the 3 phones passed their first inspection, 1 of 4 inspections failed.
    assert!(b.text("#kpi-fpy").await.starts_with("66.7%"));
    assert!(b.text("#kpi-defects").await.starts_with("25.0%"));
    assert!(b.text("#qc-table").await.contains("SZ-L1"));
    assert_eq!(
        b.js("return document.querySelectorAll('#chart-fpy g.series circle').length;")
            .await,
        json!(1)
    );
    assert!(b.text("#channel-table").await.contains("DIST-GD"));
    b.shot("dashboard-zh").await;
    b.click("#lang-switch").await;
    b.until("document.documentElement.lang === 'en'").await;
    assert!(b.text("#quality h2").await.starts_with("Quality"));
    // The filter keeps the window across the switch; group by supplier from the form.
    assert_eq!(
        b.js("return document.getElementById('d-from').value;")
            .await,
        json!("2026-05-01")
    );
    b.client
        .find(Locator::Css("#d-by"))
        .await
        .unwrap()
        .select_by_value("supplier")
        .await
        .unwrap();
    b.click("#filter button[type=submit]").await;
    b.until("document.getElementById('qc-table') && document.getElementById('qc-table').textContent.includes('SUP1')")
        .await;
    assert_eq!(
        b.js("return document.querySelectorAll('#chart-fpy g.series').length;")
            .await,
        json!(2)
    );
    b.shot("dashboard-en").await;
    b.close().await;

    // On a 360 px PDA the page fits the screen: nothing sticks out sideways.
    let b = browser("zh-CN", 360).await;
    b.sign_in(&site, "zhao", "zh").await;
    b.open(&format!(
        "{}/dashboard?from=2026-05-01&to=2026-06-01",
        site.base
    ))
    .await;
    b.until("document.getElementById('kpi-fpy')").await;
    assert_eq!(
        b.js("return document.documentElement.scrollWidth <= window.innerWidth;")
            .await,
        json!(true)
    );
    b.shot("dashboard-zh-360").await;
    b.close().await;
});

store_test!(
    search_by_scan_order_and_customer,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        common::history(&site.api).await;
        let b = browser("en-US", 1280).await;
        b.sign_in(&site, "wang", "en").await;
        b.click("nav a[href^='/search']").await;
        b.until("document.getElementById('q') && document.activeElement.id === 'q'")
            .await;
        // A scanner types the GS1 code and Enter into the focused box.
        let enter = char::from(fantoccini::key::Key::Enter);
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!("(01)09521234543213(21)P3{enter}"))
            .await
            .unwrap();
        b.until("document.getElementById('hits-units')").await;
        assert_eq!(b.text("#units tbody td").await, "PHONE · P3");
        b.type_into("#q", &format!("SO-1{enter}")).await;
        b.until("document.getElementById('order-units')").await;
        assert!(b.text("#orders").await.contains("Sales order"));
        assert_eq!(
            b.js("return document.querySelectorAll('#order-units tbody tr').length;")
                .await,
            json!(2)
        );
        b.shot("search-order-en").await;
        b.type_into("#q", &format!("Guangdong{enter}")).await;
        b.until("document.getElementById('party-units')").await;
        b.click("#party-units a").await;
        b.until("document.getElementById('identity')").await;
        assert_eq!(b.text("#identity h1").await, "Phone P3");
        b.open(&format!("{}/search?q=SO-1&lang=zh", site.base))
            .await;
        b.until("document.getElementById('orders')").await;
        assert!(b.text("#orders").await.contains("销售订单"));
        b.shot("search-order-zh").await;
        b.close().await;
    }
);

store_test!(an_admin_creates_a_product, |s: TestStore| async move {
    if !have_chromedriver() {
        return;
    }
    let site = site(s).await;
    let b = browser("zh-CN", 1280).await;
    b.sign_in(&site, "boss", "zh").await;
    b.click("nav a[href^='/admin']").await;
    b.until("document.getElementById('products-list')").await;
    b.click("#new-record").await;
    b.until("document.getElementById('record-form')").await;
    b.type_into("#f-code", "DRONE").await;
    b.type_into("#f-name", "无人机 X1").await;
    b.type_into("#f-warranty_months", "18").await;
    b.type_into("input[name='attr.0.name']", "color").await;
    b.client
        .find(Locator::Css("#attr-0-type"))
        .await
        .unwrap()
        .select_by_value("enum")
        .await
        .unwrap();
    b.click("input[name='attr.0.required']").await;
    b.type_into("input[name='attr.0.options']", "red, grey")
        .await;
    b.shot("admin-product-form-zh").await;
    b.click("#save").await;
    b.until("document.getElementById('saved')").await;
    assert!(b.text("#products-list").await.contains("无人机 X1"));
    let p = site.api.get("/api/v1/products/DRONE").await;
    assert_eq!(p.body["attributes"][0]["options"], json!(["red", "grey"]));
    b.shot("admin-products-zh").await;
    // The form is bound to the session: a post without its CSRF token is refused.
    let status = b
        .client
        .execute_async(
            "const done = arguments[0];
             fetch('/admin/products', {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'},
                    body: 'code=EVIL&name=Evil&tracking=serial'}).then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    assert_eq!(site.api.get("/api/v1/products/EVIL").await.status, 404);
    b.click("#lang-switch").await;
    b.until("document.documentElement.lang === 'en'").await;
    b.click("a.tab[href^='/admin/locations']").await;
    b.until("document.getElementById('locations-list')").await;
    b.shot("admin-locations-en").await;
    // Users: a new operator with two roles.
    b.click("a.tab[href^='/admin/users']").await;
    b.until("document.getElementById('new-user')").await;
    b.type_into("#u-name", "chen").await;
    b.type_into("#u-password", PASSWORD).await;
    b.click("#u-role-service").await;
    b.click("#u-role-qc").await;
    b.click("#new-user button[type=submit]").await;
    b.until("document.getElementById('saved')").await;
    assert!(b.text("#users").await.contains("chen"));
    assert_eq!(
        site.api.get("/api/v1/users/chen").await.body["roles"],
        json!(["qc", "service"])
    );
    b.shot("admin-users-en").await;
    b.close().await;
});

store_test!(
    labels_a_template_previewed_live_then_500_serials_allocated_and_printed,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let r = site
            .api
            .post(
                "/api/v1/products",
                json!({"code": "TC", "name": "Controller", "tracking": "serial", "gtin": "06901234567892",
                       "serial_rule": {"code": "TCR", "template": "TC-{SEQ:5}", "sequence_reset": "never"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);

        // An administrator writes a template; the preview follows the definition as it is typed.
        let b = browser("en-US", 1280).await;
        b.sign_in(&site, "boss", "en").await;
        b.open(&format!("{}/admin/labels?new=1&lang=en", site.base))
            .await;
        b.until("document.querySelector('#label-preview svg')")
            .await;
        b.type_into("#template-name", "unit").await;
        let definition = json!({"width_mm": 50, "height_mm": 30, "dpi": 203, "fields": [
            {"type": "text", "x_mm": 2, "y_mm": 1.5, "size_mm": 3, "text": "{product_name} {serial}"},
            {"type": "barcode", "x_mm": 2, "y_mm": 6, "symbology": "gs1_datamatrix", "module_mm": 0.5,
             "data": "(01){gtin}(21){serial}"}]});
        b.type_into(
            "#definition",
            &definition.to_string().replace("{serial}", "{colour}"),
        )
        .await;
        b.until("document.getElementById('preview-errors').textContent.includes('template.fields[0].text')")
            .await;
        b.type_into("#definition", &definition.to_string()).await;
        b.type_into("#sample-serial", "LIVE-1").await;
        b.until("document.querySelector('#label-preview svg text') && document.querySelector('#label-preview svg text').textContent.includes('LIVE-1')")
            .await;
        assert_eq!(b.text("#preview-errors").await, "");
        b.shot("admin-label-template-en").await;
        b.click("#save").await;
        b.until("document.getElementById('saved')").await;
        assert_eq!(
            site.api.get("/api/v1/label-templates/unit").await.body["definition"],
            definition
        );
        b.close().await;

        // The production lead allocates 500 serials and prints them.
        let b = browser("zh-CN", 1280).await;
        b.sign_in(&site, "liu", "zh").await;
        b.click("nav a[href^='/labels']").await;
        b.until("document.getElementById('allocate')").await;
        b.client
            .find(Locator::Css("#allocate-product"))
            .await
            .unwrap()
            .select_by_value("TC")
            .await
            .unwrap();
        b.type_into("#allocate-count", "500").await;
        b.click("#allocate-button").await;
        b.until("document.getElementById('allocated')").await;
        assert!(b.text("#allocated").await.contains("TC-00001 … TC-00500"));
        b.client
            .find(Locator::Css("#print-output"))
            .await
            .unwrap()
            .select_by_value("zpl")
            .await
            .unwrap();
        b.shot("labels-zh").await;
        // The labels come back as a download: the page stays, and the block is printed.
        b.click("#print-button").await;
        for _ in 0..200 {
            if site.api.item("TC", "TC-00500").await["status"] == "printed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(site.api.item("TC", "TC-00500").await["status"], "printed");
        assert_eq!(site.api.item("TC", "TC-00001").await["status"], "printed");
        b.close().await;
    }
);

store_test!(
    every_page_fits_a_pda_in_both_languages,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        common::history(&site.api).await;
        let r = site
            .api
            .post(
                "/api/v1/webhooks",
                json!({"name": "erp-qc", "url": "https://erp.example.com/threadline/hooks/quality",
                    "filter": {"topics": ["qc_failed", "recall"], "products": ["PHONE", "BOARD"], "locations": ["SZ"]}}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let pages = [
            ("home", "/"),
            ("scan", "/scan"),
            ("passport", "/unit?product=PHONE&serial=P1"),
            ("trace", "/trace?product=BOARD&serial=B1&direction=forward"),
            ("recalls", "/recalls"),
            ("dashboard", "/dashboard?from=2026-05-01&to=2026-06-01"),
            ("search", "/search?q=SO-1"),
            ("admin-products", "/admin/products?edit=PHONE"),
            ("admin-users", "/admin/users"),
            ("labels", "/labels"),
            ("admin-labels", "/admin/labels?new=1"),
            ("admin-process", "/admin/process"),
            ("admin-webhooks", "/admin/webhooks?hook=erp-qc"),
        ];
        for (lang, accept) in [("zh", "zh-CN"), ("en", "en-US")] {
            let b = browser(accept, 360).await;
            b.sign_in(&site, "boss", lang).await;
            for (name, path) in pages {
                let sep = if path.contains('?') { '&' } else { '?' };
                b.open(&format!("{}{path}{sep}lang={lang}", site.base))
                    .await;
                b.until("document.querySelector('main')").await;
                let code = if lang == "zh" { "zh-CN" } else { "en" };
                assert_eq!(b.lang().await, code, "{name}");
                // Nothing sticks out sideways: wide tables and charts scroll inside their boxes.
                let fits = b
                    .js("return document.documentElement.scrollWidth <= window.innerWidth;")
                    .await;
                b.shot(&format!("pda-{name}-{lang}")).await;
                assert_eq!(fits, json!(true), "{name} in {lang} is wider than 360 px");
            }
            b.close().await;
        }
    }
);

store_test!(
    a_serial_rule_previewed_live_as_it_is_typed,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let b = browser("zh-CN", 1280).await;
        b.sign_in(&site, "boss", "zh").await;
        b.open(&format!("{}/admin/serial-rules?new=1&lang=zh", site.base))
            .await;
        b.until("document.getElementById('rule-preview')").await;
        b.type_into("#f-code", "TCR").await;
        b.type_into("#f-name", "控制器").await;
        b.type_into("#f-template", "TC-{LINE}-{SEQ:4}").await;
        b.until("document.querySelectorAll('#rule-preview li').length === 5")
            .await;
        assert!(b.text("#rule-preview").await.starts_with("TC-L1-0001"));
        // The sample line is the context of the preview only.
        b.type_into("#sample-line", "L7").await;
        b.until("document.querySelector('#rule-preview li') && document.querySelector('#rule-preview li').textContent === 'TC-L7-0001'")
            .await;
        // A template the engine refuses lists the problem instead.
        b.type_into("#f-template", "TC-{SEQ:4").await;
        b.until("document.querySelector('#rule-preview-errors code')")
            .await;
        assert_eq!(b.text("#rule-preview-errors code").await, "rule.template");
        assert_eq!(
            b.js("return document.querySelectorAll('#rule-preview li').length;")
                .await,
            json!(0)
        );
        b.type_into("#f-template", "TC-{LINE}-{SEQ:4}").await;
        b.until("document.querySelectorAll('#rule-preview li').length === 5")
            .await;
        b.shot("admin-serial-rule-zh").await;
        b.click("#save").await;
        b.until("document.getElementById('saved')").await;
        let r = site.api.get("/api/v1/serial-rules/TCR").await;
        assert_eq!(r.body["template"], "TC-{LINE}-{SEQ:4}", "{:?}", r.body);
        // Nothing was reserved by the previews: the counter has not moved.
        assert!(site.api.get("/api/v1/ledger/verify").await.status == 200);
        b.close().await;
    }
);

/// What the network between the browser and the server does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Everything passes.
    Up,
    /// A dead zone: every connection is cut and new ones are closed at once.
    Down,
    /// A gateway with no way through: every request is answered `503` by the network itself.
    Gateway,
    /// Requests reach the server, but the answer to a `POST` is lost on the way back (the
    /// connection drops as the server starts answering): the server recorded what the
    /// browser never hears about.
    LosesPostAnswers,
}

/// A TCP relay in front of the server that the test switches between [`Link`]s. Switching
/// cuts every open connection, so the browser's kept-alive sockets see the change too.
struct Network {
    base: String,
    link: tokio::sync::watch::Sender<Link>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Network {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Network {
    async fn to(server: std::net::SocketAddr) -> Network {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (link, watch) = tokio::sync::watch::channel(Link::Up);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut changes = watch.clone();
                let mode = *changes.borrow_and_update();
                match mode {
                    Link::Down => drop(client),
                    Link::Gateway => {
                        tokio::spawn(unavailable(client));
                    }
                    _ => {
                        tokio::spawn(relay(client, server, mode, changes));
                    }
                }
            }
        });
        Network { base, link, task }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

async fn unavailable(mut client: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = vec![0u8; 64 * 1024];
    if let Ok(1..) = client.read(&mut request).await {
        let _ = client
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    }
}

async fn relay(
    mut client: tokio::net::TcpStream,
    server: std::net::SocketAddr,
    mode: Link,
    mut changes: tokio::sync::watch::Receiver<Link>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = upstream.split();
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    let mut posted = false;
    loop {
        tokio::select! {
            _ = changes.changed() => return,
            n = from_client.read(&mut up) => {
                let Ok(n @ 1..) = n else { return };
                posted |= up[..n].starts_with(b"POST ");
                if to_server.write_all(&up[..n]).await.is_err() {
                    return;
                }
            }
            n = from_server.read(&mut down) => {
                let Ok(n @ 1..) = n else { return };
                if mode == Link::LosesPostAnswers && posted {
                    return;
                }
                if to_client.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

store_test!(
    the_station_queues_scans_offline_and_submits_them_once,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let net = Network::to(site.addr).await;
        let before = site.api.ledger_len().await;
        let b = browser("zh-CN", 360).await;
        // Everything goes through the network the test controls, the sign-in too.
        b.open(&format!("{}/login?lang=zh", net.base)).await;
        b.type_into("#name", "wang").await;
        b.type_into("#password", PASSWORD).await;
        b.click("main button[type=submit]").await;
        b.until("document.getElementById('who')").await;
        b.open(&format!("{}/scan", net.base)).await;
        b.until("document.getElementById('scan')").await;
        b.client
            .find(Locator::Css("#op"))
            .await
            .unwrap()
            .select_by_value("receive")
            .await
            .unwrap();
        b.type_into("#f-product", "BOARD").await;
        b.type_into("#f-supplier", "SUP1").await;
        b.type_into("#f-purchase_order", "PO-9").await;
        b.type_into("#f-location", "SZ-WH-A1").await;
        let enter = char::from(fantoccini::key::Key::Enter);
        b.click("#scan").await;
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!("R1{enter}"))
            .await
            .unwrap();
        b.until("document.querySelector('#scans li.ok')").await;
        assert_eq!(b.text("#net").await, "在线");

        // Into the dead zone: the scans are kept, unchecked, and the page says it is offline.
        net.set(Link::Down);
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!("R2{enter}R3{enter}"))
            .await
            .unwrap();
        b.until("document.querySelectorAll('#scans li.pending').length === 2")
            .await;
        b.until("document.getElementById('station').dataset.online === 'false'")
            .await;
        assert_eq!(b.text("#net").await, "离线");
        let why = b
            .js("return Array.from(document.querySelectorAll('#scans li.pending .why')).map(e => e.textContent);")
            .await;
        assert_eq!(why, json!(["待校验（离线）", "待校验（离线）"]));
        b.click("#submit").await;
        b.until("document.querySelectorAll('#scans li').length === 0")
            .await;
        b.until("!document.getElementById('queue').hidden").await;
        assert_eq!(b.text("#queue").await, "待提交: 1");
        b.shot("scan-offline-zh-360").await;
        // The batch waits in the browser with its key; nothing reached the server.
        let queued = b
            .js("return JSON.parse(localStorage.getItem('threadline.queue.v1'));")
            .await;
        assert_eq!(queued.as_array().unwrap().len(), 1, "{queued}");
        let key = queued[0]["key"].as_str().unwrap().to_owned();
        assert_eq!(site.ops_posts.load(Ordering::SeqCst), 0);
        assert_eq!(site.api.ledger_len().await, before);

        // A gateway that answers 503 for the server is no answer about the batch: it stays.
        net.set(Link::Gateway);
        b.until(
            "document.getElementById('result').textContent === '服务器暂时无法处理，稍后自动重试'",
        )
        .await;
        assert_eq!(b.text("#queue").await, "待提交: 1");
        assert_eq!(site.ops_posts.load(Ordering::SeqCst), 0);

        // The connection comes back flaky: the receipt is recorded, but its answer is lost.
        net.set(Link::LosesPostAnswers);
        for _ in 0..400 {
            if site.ops_posts.load(Ordering::SeqCst) >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let posts = site.ops_posts.load(Ordering::SeqCst);
        assert!(posts >= 2, "the batch was sent {posts} times");
        assert_eq!(b.text("#net").await, "离线");
        assert_eq!(site.api.ledger_len().await, before + 1);
        assert_eq!(b.text("#queue").await, "待提交: 1");
        let queued = b
            .js("return JSON.parse(localStorage.getItem('threadline.queue.v1'));")
            .await;
        assert_eq!(
            queued[0]["key"],
            json!(key),
            "the key is kept for the resend"
        );

        // Out of the dead zone: the queue goes, the server answers the resend with the first
        // receipt, and the page says so.
        net.set(Link::Up);
        b.until("document.getElementById('result').classList.contains('ok')")
            .await;
        assert_eq!(b.text("#result").await, "已提交: 3");
        // The answer came to a resend after the link was back.
        assert!(site.ops_posts.load(Ordering::SeqCst) > posts);
        assert_eq!(b.text("#net").await, "在线");
        assert!(
            b.js("return document.getElementById('queue').hidden;")
                .await
                == json!(true)
        );
        assert_eq!(
            b.js("return JSON.parse(localStorage.getItem('threadline.queue.v1')).length;")
                .await,
            json!(0)
        );
        b.shot("scan-back-online-zh-360").await;
        // Exactly once: one receipt event naming each board, nothing more in the ledger.
        assert_eq!(site.api.ledger_len().await, before + 1);
        for serial in ["R1", "R2", "R3"] {
            let unit = site.api.item("BOARD", serial).await;
            assert_eq!(unit["status"], "in_stock", "{serial}: {unit}");
            let events = site
                .api
                .get(&format!("/api/v1/events?product=BOARD&serial={serial}"))
                .await;
            assert_eq!(
                events.body["items"].as_array().map(Vec::len),
                Some(1),
                "{serial}: {:?}",
                events.body
            );
        }
        b.close().await;
    }
);

store_test!(
    an_admin_changes_the_process_rules_on_their_page,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        let b = browser("zh-CN", 1280).await;
        b.sign_in(&site, "boss", "zh").await;
        b.click("nav a[href^='/admin']").await;
        b.until("document.getElementById('products-list')").await;
        b.click("a.tab[href^='/admin/process']").await;
        b.until("document.getElementById('process-form')").await;
        assert!(b.text("#process-version").await.contains("版本 0"));
        // Shipping refuses held units by default; inspection gets a rule of its own.
        assert_eq!(
            b.js("return document.getElementById('held-ship').checked;")
                .await,
            json!(true)
        );
        b.click("#s-inspect-in_stock").await;
        b.client
            .find(Locator::Css("#req-0-operation"))
            .await
            .unwrap()
            .select_by_value("inspect")
            .await
            .unwrap();
        b.type_into("#req-0-category", "medical").await;
        // Left without field names first: refused, the row named and marked.
        b.click("#save").await;
        b.until("document.getElementById('form-errors')").await;
        assert!(
            b.text("#form-errors")
                .await
                .contains("必填字段 · 第 1 行 · 字段名"),
            "{}",
            b.text("#form-errors").await
        );
        assert_eq!(
            b.js("return document.getElementById('req-0').classList.contains('invalid');")
                .await,
            json!(true)
        );
        assert_eq!(site.api.get("/api/v1/process").await.body["version"], 0);
        b.shot("admin-process-refused-zh").await;
        b.type_into("#req-0-fields", "inspector, equipment").await;
        b.click("#save").await;
        b.until("document.getElementById('saved')").await;
        let p = site.api.get("/api/v1/process").await.body;
        assert_eq!(p["version"], 1);
        assert_eq!(
            p["required_fields"],
            json!([{"operation": "inspect", "category": "medical", "fields": ["inspector", "equipment"]}])
        );
        assert!(b.text("#process-history").await.contains("boss"));
        b.shot("admin-process-zh").await;
        b.click("#lang-switch").await;
        b.until("document.documentElement.lang === 'en'").await;
        assert_eq!(
            b.js("return document.getElementById('s-inspect-in_stock').checked;")
                .await,
            json!(true)
        );
        b.shot("admin-process-en").await;
        b.close().await;
    }
);

store_test!(
    the_camera_scans_where_the_browser_offers_a_barcode_detector,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        let site = site(s).await;
        // Without a BarcodeDetector the station offers no camera, and works as ever.
        let b = browser("zh-CN", 360).await;
        b.before_every_page("delete window.BarcodeDetector;").await;
        b.sign_in(&site, "liu", "zh").await;
        b.open(&format!("{}/scan", site.base)).await;
        b.until("document.getElementById('scan')").await;
        assert_eq!(
            b.js("return typeof window.BarcodeDetector;").await,
            json!("undefined")
        );
        assert_eq!(
            b.js("return document.getElementById('camera').hidden && getComputedStyle(document.getElementById('camera')).display === 'none';")
                .await,
            json!(true)
        );
        b.close().await;

        // A stand-in detector that reads what the test puts in front of the camera: the same
        // label for a while (B7 in two frames), then another (B8).
        let b = browser("zh-CN", 360).await;
        b.before_every_page(
            "window.BarcodeDetector = class {
               static getSupportedFormats() { return Promise.resolve(['qr_code', 'data_matrix', 'aztec']); }
               constructor(options) { window.detectorFormats = options && options.formats; }
               detect(source) {
                 window.detectedFrom = source && source.tagName;
                 const codes = window.inFrontOfCamera || [];
                 return Promise.resolve(codes.length ? [{rawValue: codes.shift(), format: 'data_matrix'}] : []);
               }
             };",
        )
        .await;
        b.sign_in(&site, "liu", "zh").await;
        b.open(&format!("{}/scan", site.base)).await;
        b.until("document.getElementById('scan')").await;
        b.client
            .find(Locator::Css("#op"))
            .await
            .unwrap()
            .select_by_value("commission")
            .await
            .unwrap();
        b.type_into("#f-product", "BOARD").await;
        b.type_into("#f-work_order", "WO-CAM").await;
        b.type_into("#f-line", "SZ-L1").await;
        assert_eq!(b.text("#camera").await, "用摄像头扫码");
        b.click("#camera").await;
        b.until(
            "!document.getElementById('camera-panel').hidden && window.detectedFrom === 'VIDEO'",
        )
        .await;
        assert_eq!(b.text("#camera").await, "关闭摄像头");
        assert_eq!(
            b.js("return window.detectorFormats;").await,
            json!(["data_matrix", "qr_code"])
        );
        // The camera shows the fake device's picture.
        b.until("document.getElementById('camera-video').videoWidth > 0")
            .await;
        b.js("window.inFrontOfCamera = ['B7', 'B7', 'B8']; return 0;")
            .await;
        b.until("document.querySelectorAll('#scans li.ok').length === 2 && window.inFrontOfCamera.length === 0")
            .await;
        let rows = b
            .js("return Array.from(document.querySelectorAll('#scans li')).reverse().map(li => [li.className, li.querySelector('.code').textContent, li.querySelector('.why').textContent]);")
            .await;
        assert_eq!(rows, json!([["ok", "B7", "通过"], ["ok", "B8", "通过"]]));
        b.shot("scan-camera-zh-360").await;
        // A code typed by a wedge scanner still lands in the same list.
        b.click("#camera").await;
        b.until("document.getElementById('camera-panel').hidden")
            .await;
        let enter = char::from(fantoccini::key::Key::Enter);
        b.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!("B9{enter}"))
            .await
            .unwrap();
        b.until("document.querySelectorAll('#scans li.ok').length === 3")
            .await;
        b.click("#submit").await;
        b.until("document.getElementById('result').classList.contains('ok')")
            .await;
        assert_eq!(b.text("#result").await, "已提交: 3");
        for serial in ["B7", "B8", "B9"] {
            assert_eq!(
                site.api.item("BOARD", serial).await["status"],
                "in_production",
                "{serial}"
            );
        }
        b.close().await;
    }
);

impl Browser {
    async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Fills a form's fields: text inputs are typed into, selects chosen by value.
    async fn fill(&self, fields: &[(&str, &str)]) {
        for (css, value) in fields {
            let e = self.client.find(Locator::Css(css)).await.unwrap();
            if e.tag_name().await.unwrap() == "select" {
                e.select_by_value(value).await.unwrap();
            } else {
                e.clear().await.unwrap();
                e.send_keys(value).await.unwrap();
            }
        }
    }

    /// One batch at the scan station: the operation, its context, the codes as a wedge
    /// scanner types them; every scan must be accepted, and the batch is submitted.
    async fn station_batch(&self, op: &str, context: &[(&str, &str)], codes: &[&str]) {
        self.click("nav a[href^='/scan']").await;
        self.until("document.getElementById('scan')").await;
        self.select("#op", op).await;
        self.fill(context).await;
        self.click("#scan").await;
        let enter = char::from(fantoccini::key::Key::Enter);
        let typed: String = codes.iter().map(|c| format!("{c}{enter}")).collect();
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&typed)
            .await
            .unwrap();
        self.until(&format!(
            "document.querySelectorAll('#scans li').length === {n} && !document.querySelector('#scans li.pending')",
            n = codes.len()
        ))
        .await;
        let refused = self
            .js("return Array.from(document.querySelectorAll('#scans li.bad')).map(li => li.textContent);")
            .await;
        assert_eq!(refused, json!([]), "{op}");
    }

    async fn submit_batch(&self, n: usize) {
        self.click("#submit").await;
        self.until("document.getElementById('result').classList.contains('ok') || document.getElementById('result').classList.contains('bad')")
            .await;
        assert_eq!(self.text("#result").await, format!("已提交: {n}"));
    }

    /// Saves one master record through its admin page.
    async fn admin_record(&self, tab: &str, fields: &[(&str, &str)]) {
        self.click(&format!("a.tab[href^='/admin/{tab}']")).await;
        self.until(&format!("document.getElementById('{tab}-list')"))
            .await;
        self.click("#new-record").await;
        self.until("document.getElementById('record-form')").await;
        self.fill(fields).await;
        self.click("#save").await;
        self.until("document.getElementById('saved') || document.getElementById('form-errors')")
            .await;
        assert!(
            self.js("return !!document.getElementById('saved');").await == json!(true),
            "{tab}: {}",
            self.text("#record-form").await
        );
    }
}

store_test!(
    a_new_user_runs_the_plant_from_a_phone_in_chinese,
    |s: TestStore| async move {
        if !have_chromedriver() {
            return;
        }
        // What the first start does: an administrator exists. Everything else is the UI.
        let site = site_with(s, &[("boss", &["admin"])]).await;
        let b = browser("zh-CN", 360).await;
        b.open(&format!("{}/", site.base)).await;
        b.until("document.getElementById('password')").await;
        b.shot("e2e-01-login").await;
        b.type_into("#name", "boss").await;
        b.type_into("#password", PASSWORD).await;
        b.click("main button[type=submit]").await;
        b.until("document.getElementById('who')").await;
        b.shot("e2e-02-home-admin").await;

        // The administrator sets the plant up: places, partners, products, a user.
        b.click("nav a[href^='/admin']").await;
        b.until("document.getElementById('products-list')").await;
        for (code, name, kind, parent) in [
            ("SZ", "深圳工厂", "site", ""),
            ("SZ-WH-A1", "成品仓 A1", "bin", "SZ"),
            ("SZ-L1", "一号线", "line", "SZ"),
        ] {
            b.admin_record(
                "locations",
                &[
                    ("#f-code", code),
                    ("#f-name", name),
                    ("#f-kind", kind),
                    ("#f-parent", parent),
                ],
            )
            .await;
        }
        b.shot("e2e-03-locations").await;
        for (code, name, kind) in [
            ("SUP1", "深圳华强电子", "supplier"),
            ("CUST1", "广州零售", "customer"),
        ] {
            b.admin_record(
                "parties",
                &[("#f-code", code), ("#f-name", name), ("#f-kind", kind)],
            )
            .await;
        }
        for (code, name) in [("BOARD", "主板"), ("PHONE", "手机 X1")] {
            b.admin_record(
                "products",
                &[
                    ("#f-code", code),
                    ("#f-name", name),
                    ("#f-tracking", "serial"),
                ],
            )
            .await;
        }
        b.shot("e2e-04-products").await;
        b.click("a.tab[href^='/admin/users']").await;
        b.until("document.getElementById('new-user')").await;
        b.type_into("#u-name", "chen").await;
        b.type_into("#u-password", PASSWORD).await;
        for role in ["warehouse", "production", "quality"] {
            b.click(&format!("#u-role-{role}")).await;
        }
        b.click("#new-user button[type=submit]").await;
        b.until("document.getElementById('saved')").await;
        b.shot("e2e-05-users").await;
        b.click("#sign-out").await;
        b.until("document.getElementById('password')").await;

        // The new user, told only the address and a password.
        b.type_into("#name", "chen").await;
        b.type_into("#password", PASSWORD).await;
        b.click("main button[type=submit]").await;
        b.until("document.getElementById('who')").await;
        assert_eq!(b.text("#who").await, "chen");
        b.shot("e2e-06-home").await;

        // Receive two boards from the supplier.
        b.station_batch(
            "receive",
            &[
                ("#f-product", "BOARD"),
                ("#f-supplier", "SUP1"),
                ("#f-purchase_order", "PO-1"),
                ("#f-location", "SZ-WH-A1"),
            ],
            &["B1", "B2"],
        )
        .await;
        b.shot("e2e-07-receive").await;
        b.submit_batch(2).await;
        // Make two phones, and build a board into each.
        b.station_batch(
            "commission",
            &[
                ("#f-product", "PHONE"),
                ("#f-work_order", "WO-1"),
                ("#f-line", "SZ-L1"),
            ],
            &["P1", "P2"],
        )
        .await;
        b.submit_batch(2).await;
        b.shot("e2e-08-commission").await;
        // A parent that does not exist: the batch is refused, and says why in Chinese.
        b.station_batch(
            "assemble",
            &[("#f-parent", "P9"), ("#f-location", "SZ-L1")],
            &["B1"],
        )
        .await;
        b.click("#submit").await;
        b.until("document.getElementById('result').classList.contains('bad')")
            .await;
        let refused = b.text("#result").await;
        assert_eq!(refused, "提交被拒绝: 未找到");
        b.shot("e2e-09-assemble-refused").await;
        for (phone, board) in [("P1", "B1"), ("P2", "B2")] {
            b.station_batch(
                "assemble",
                &[("#f-parent", phone), ("#f-location", "SZ-L1")],
                &[board],
            )
            .await;
            b.submit_batch(1).await;
        }
        b.shot("e2e-09-assemble").await;
        // Inspect both, put them away into stock.
        b.station_batch(
            "inspect",
            &[("#f-result", "pass"), ("#f-inspector", "陈工")],
            &["P1", "P2"],
        )
        .await;
        b.submit_batch(2).await;
        b.shot("e2e-10-inspect").await;
        b.station_batch("move", &[("#f-to", "SZ-WH-A1")], &["P1", "P2"])
            .await;
        b.click("#f-put_away").await;
        b.submit_batch(2).await;
        // Ship one to the customer.
        b.station_batch(
            "ship",
            &[
                ("#f-sales_order", "SO-1"),
                ("#f-from", "SZ-WH-A1"),
                ("#f-customer", "CUST1"),
            ],
            &["P1"],
        )
        .await;
        b.submit_batch(1).await;
        b.shot("e2e-11-ship").await;

        // Look the shipped phone up.
        b.click("nav a[href^='/unit']").await;
        b.until("document.getElementById('code')").await;
        let enter = char::from(fantoccini::key::Key::Enter);
        b.type_into("#code", &format!("P1{enter}")).await;
        b.until("document.getElementById('identity')").await;
        assert_eq!(b.text("#identity h1").await, "手机 X1 P1");
        assert_eq!(b.text("#components").await, "BOARD · B1");
        b.shot("e2e-12-passport").await;
        let timeline = b.text("#timeline").await;
        for step in ["生产赋码", "装配绑定", "质检", "销售出库", "销售订单 SO-1"]
        {
            assert!(timeline.contains(step), "{step}: {timeline}");
        }

        // The supplier's boards turn out bad: trace them forward and recall.
        b.click("nav a[href^='/trace']").await;
        b.until("document.getElementById('t-supplier')").await;
        b.type_into("#t-supplier", "SUP1").await;
        b.click("#scope button[type=submit]").await;
        b.until("document.getElementById('trace-result')").await;
        let reached = b.text("#trace-table").await;
        assert!(
            reached.contains("PHONE · P1") && reached.contains("PHONE · P2"),
            "{reached}"
        );
        b.shot("e2e-13-trace").await;
        b.click("#start-recall").await;
        b.until("document.getElementById('recall-preview')").await;
        let summary = b.text("#preview-summary").await;
        assert!(summary.contains("已流出: 1"), "{summary}");
        b.shot("e2e-14-recall-preview").await;
        b.type_into("#r-code", "RC-1").await;
        b.type_into("#r-reason", "PO-1 主板供电短路").await;
        b.click("#create-recall button[type=submit]").await;
        b.until("document.getElementById('campaign')").await;
        assert_eq!(b.text("#campaign h1").await, "召回 RC-1");
        b.shot("e2e-15-recall").await;
        // Nothing sticks out sideways on the way.
        assert_eq!(
            b.js("return document.documentElement.scrollWidth <= window.innerWidth;")
                .await,
            json!(true)
        );
        b.close().await;

        // What the UI did is what the ledger holds.
        assert_eq!(site.api.item("PHONE", "P1").await["status"], "in_transit");
        assert_eq!(site.api.item("PHONE", "P2").await["status"], "in_stock");
        assert_eq!(
            site.api.item("PHONE", "P2").await["holds"],
            json!(["recall"])
        );
        let r = site.api.get("/api/v1/recalls/RC-1").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["created_by"], "chen", "{:?}", r.body);
    }
);
