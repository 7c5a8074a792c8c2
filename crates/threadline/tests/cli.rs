//! The `threadline` binary end to end: verify catches tampering in the database file, and a
//! server killed with SIGKILL mid-stream loses no acknowledged batch and keeps no half batch.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_threadline");

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("THREADLINE_DB")
        .output()
        .expect("run threadline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Starts `threadline serve` on a free port and returns it with the port.
fn serve(db: &Path, demo: bool) -> (Child, u16) {
    serve_url(&format!("sqlite:{}", db.display()), demo)
}

/// Starts `threadline serve` on the database at `url` on a free port.
fn serve_url(url: &str, demo: bool) -> (Child, u16) {
    let url = url.to_owned();
    let mut args = vec![
        "serve",
        "--db",
        url.as_str(),
        "--listen",
        "127.0.0.1:0",
        "--admin-password",
        "test-password-1",
    ];
    if demo {
        args.push("--demo");
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            let port: u16 = rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap();
            std::thread::spawn(move || for _ in lines {});
            return (child, port);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

/// Creates an API token with `roles` in the database and returns its secret (`threadline
/// token create` prints only the secret on standard output).
fn token(db: &Path, name: &str, roles: &[&str]) -> String {
    token_url(&format!("sqlite:{}", db.display()), name, roles)
}

/// [`token`] on the database at `url`.
fn token_url(url: &str, name: &str, roles: &[&str]) -> String {
    let url = url.to_owned();
    let mut args = vec!["token", "create", "--db", url.as_str(), "--name", name];
    for r in roles {
        args.extend(["--role", r]);
    }
    let out = Command::new(BIN)
        .args(&args)
        .env_remove("THREADLINE_DB")
        .output()
        .expect("run threadline token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A minimal HTTP/1.1 client: enough for tests, no extra dependencies. `token` is sent as a
/// bearer token when not empty.
fn http(
    port: u16,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let auth = if token.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {token}\r\n")
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    // Chunked responses: take the first chunk's JSON.
    let json_start = body.find(['{', '[']).unwrap_or(0);
    let json_end = body.rfind(['}', ']']).map(|i| i + 1).unwrap_or(body.len());
    Ok((
        status,
        serde_json::from_str(&body[json_start..json_end]).unwrap_or(Value::Null),
    ))
}

#[test]
fn verify_detects_rows_altered_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let (mut child, port) = serve(&db, true);
    let (status, _) = http(port, "", "GET", "/healthz", None).unwrap();
    assert_eq!(status, 200);
    child.kill().unwrap();
    child.wait().unwrap();
    let url = format!("sqlite:{}", db.display());

    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ledger OK"), "{out}");

    let tamper = |sql: &str| {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(sql).unwrap();
    };
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let backup = std::fs::read(&db).unwrap();
    let restore = || {
        std::fs::write(&db, &backup).unwrap();
        let _ = std::fs::remove_file(db.with_extension("db-wal"));
        let _ = std::fs::remove_file(db.with_extension("db-shm"));
    };

    // Content changed: a serial rewritten inside an event body.
    tamper(
        "UPDATE ledger SET body = replace(body, 'ND5A2609001', 'ND5A2609999') WHERE seq = (SELECT min(seq) FROM ledger WHERE body LIKE '%ND5A2609001%')",
    );
    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("BROKEN") && out.contains("does not match its hash"),
        "{out}"
    );
    restore();

    // An entry removed from the middle.
    tamper("DELETE FROM ledger WHERE seq = 100");
    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 1);
    assert!(out.contains("entry 100 is missing"), "{out}");
    restore();

    // The tail cut off.
    tamper("DELETE FROM ledger WHERE seq = (SELECT max(seq) FROM ledger)");
    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 1);
    assert!(out.contains("ledger head"), "{out}");
    restore();

    // An index column changed behind the ledger's back.
    tamper("UPDATE events SET event_time = event_time + 1 WHERE seq = 200");
    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 1);
    assert!(
        out.contains("entry 200") && out.contains("event_time"),
        "{out}"
    );
    restore();

    // The audit trail (the admin created on first start) altered.
    let (_, out) = run(&["verify", "--db", &url]);
    assert!(out.contains("audit trail OK: 1 records"), "{out}");
    tamper("UPDATE audit_log SET body = replace(body, 'admin', 'root') WHERE seq = 1");
    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 1);
    assert!(
        out.contains("audit trail: entry 1: content or link does not match its hash"),
        "{out}"
    );
    restore();

    let (code, _) = run(&["verify", "--db", &url]);
    assert_eq!(code, 0);
    // The trace on the command line, as a spreadsheet: a header and one row per reached unit.
    let (code, out) = run(&[
        "trace",
        "forward",
        "--db",
        &url,
        "--product",
        "RESIN-PC",
        "--lot",
        "KF-2609-01",
        "--csv",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("depth,kind_of_node,product,serial_or_lot"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains(",unit,TC-200,")).count(),
        100,
        "{out}"
    );
    // Forward from a supplier: both resin lots it delivered reach all 200 controllers.
    let (code, out) = run(&[
        "trace",
        "forward",
        "--db",
        &url,
        "--supplier",
        "SUP-RESIN",
        "--csv",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(",unit,TC-200,")).count(),
        200,
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("0,lot,RESIN-PC,"))
            .count(),
        2,
        "{out}"
    );
    // A scope that makes no sense is refused, naming what is wrong.
    let (code, out) = run(&[
        "trace", "forward", "--db", &url, "--line", "SZ-L1", "--shift", "8-16",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("shift `8-16`"), "{out}");
    let (code, out) = run(&[
        "trace",
        "backward",
        "--db",
        &url,
        "--product",
        "TC-200",
        "--serial",
        "TC2-2610-00001",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("BAT-5 ND5A2609001") && out.contains("removed"),
        "{out}"
    );
    let (code, out) = run(&["rebuild", "--db", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rebuilt from"), "{out}");
}

fn batch(round: usize) -> (Vec<String>, String) {
    let serials: Vec<String> = (0..200).map(|i| format!("K{round:04}-{i:03}")).collect();
    let events: Vec<Value> = serials
        .chunks(20)
        .map(|c| {
            json!({"type": "object", "action": "ADD", "event_time": "2026-01-01T08:00:00+08:00", "biz_step": "commissioning",
                   "biz_location": "SZ-L1", "items": c.iter().map(|s| json!({"product": "PCB-A", "serial": s})).collect::<Vec<_>>()})
        })
        .collect();
    (serials, Value::Array(events).to_string())
}

#[test]
fn sigkill_mid_stream_keeps_every_acknowledged_batch_and_no_half_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let secret = token(&db, "line-1", &["production"]);
    let (mut child, port) = serve(&db, true);

    // Stream batches from a thread; kill the server while it is busy.
    let writer_secret = secret.clone();
    let writer = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        let mut attempted = Vec::new();
        for round in 0..10_000 {
            let (serials, body) = batch(round);
            attempted.push(serials.clone());
            match http(port, &writer_secret, "POST", "/api/v1/events", Some(&body)) {
                Ok((201, _)) => acknowledged.push(serials),
                Ok((status, body)) => panic!("batch {round} refused: {status} {body}"),
                Err(_) => break,
            }
        }
        (acknowledged, attempted)
    });
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (acknowledged, attempted) = writer.join().unwrap();
    assert!(
        acknowledged.len() >= 2,
        "the server should have acknowledged some batches before the kill"
    );

    let (mut child, port) = serve(&db, false);
    let exists = |serial: &str| {
        http(
            port,
            &secret,
            "GET",
            &format!("/api/v1/items/PCB-A/{serial}"),
            None,
        )
        .unwrap()
        .0 == 200
    };
    for serials in &acknowledged {
        assert!(
            exists(&serials[0]) && exists(&serials[199]),
            "acknowledged batch lost: {}",
            serials[0]
        );
    }
    for serials in attempted.iter().skip(acknowledged.len()) {
        assert_eq!(
            exists(&serials[0]),
            exists(&serials[199]),
            "half a batch was kept: {}",
            serials[0]
        );
    }
    let auditor = token(&db, "auditor", &["auditor"]);
    let (_, report) = http(port, &auditor, "GET", "/api/v1/ledger/verify", None).unwrap();
    assert_eq!(report["first_break"], Value::Null, "{report}");
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, out) = run(&["verify", "--db", &format!("sqlite:{}", db.display())]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn bad_configuration_fails_with_a_clear_message() {
    let (code, out) = run(&["serve", "--db", "sqlite:", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 2);
    assert!(out.contains("names no file"), "{out}");
    let (code, out) = run(&[
        "serve",
        "--admin-password",
        "short",
        "--db",
        "sqlite:/nonexistent-dir/x.db",
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("at least 8"), "{out}");
    let (code, out) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("threadline "), "{out}");
}

#[test]
fn an_unusable_mqtt_certificate_stops_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let db = format!("sqlite:{}", dir.path().join("a.db").display());
    let start = |ca_file: &str| {
        let out = Command::new(BIN)
            .args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
            .env_remove("THREADLINE_DB")
            .env("THREADLINE_ADMIN_PASSWORD", "correct horse battery")
            .env("THREADLINE_MQTT_BROKER", "127.0.0.1:8883")
            .env("THREADLINE_MQTT_TOPICS", "plant/+/scans")
            .env("THREADLINE_MQTT_TOKEN", "tlt_x")
            .env("THREADLINE_MQTT_CA_FILE", ca_file)
            .output()
            .expect("run threadline");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = start(ca.to_str().unwrap());
    assert!(!ok, "{out}");
    assert!(
        out.contains("mqtt.ca_file: holds no PEM certificate"),
        "{out}"
    );
    assert!(!out.contains("listening on"), "nothing listens: {out}");
    let (ok, out) = start("/nonexistent/ca.pem");
    assert!(!ok, "{out}");
    assert!(
        out.contains("reading MQTT TLS file /nonexistent/ca.pem"),
        "{out}"
    );
}

#[test]
fn a_default_install_lets_nobody_in_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let url = format!("sqlite:{}", db.display());

    // The secret is the only thing on standard output, so scripts can capture it.
    let secret = token(&db, "erp", &["production", "qc"]);
    assert!(secret.starts_with("tlt_") && secret.len() == 68, "{secret}");
    let (code, out) = run(&[
        "token", "create", "--db", &url, "--name", "erp", "--role", "qc",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("never reused"), "{out}");
    let (code, out) = run(&[
        "token", "create", "--db", &url, "--name", "x", "--role", "boss",
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("not a role"), "{out}");

    let (mut child, port) = serve(&db, true);
    let (status, body) =
        http(port, "", "GET", "/api/v1/items/TC-200/TC2-2610-00001", None).unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, _) = http(port, "", "GET", "/", None).unwrap();
    assert_eq!(status, 303, "the web UI sends visitors to the sign-in page");
    let (status, me) = http(port, &secret, "GET", "/api/v1/me", None).unwrap();
    assert_eq!(status, 200);
    assert_eq!(me["actor"], "token:erp");
    assert_eq!(me["roles"], json!(["production", "qc"]));
    let (status, _) = http(
        port,
        &secret,
        "GET",
        "/api/v1/items/TC-200/TC2-2610-00001",
        None,
    )
    .unwrap();
    assert_eq!(status, 200);
    // `serve` created `admin` with the configured password.
    let (status, session) = http(
        port,
        "",
        "POST",
        "/api/v1/session",
        Some(r#"{"name": "admin", "password": "test-password-1"}"#),
    )
    .unwrap();
    assert_eq!(
        (status, session["user"]["roles"].clone()),
        (200, json!(["admin"]))
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The products of the database at `url`, by code.
fn product_codes(url: &str) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = threadline::open_store(url, "process").await.unwrap();
        let page = store
            .products(&threadline_store::ListQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        page.items.iter().map(|p| p.def.code.to_string()).collect()
    })
}

fn import(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("import")
        .args(args)
        .env_remove("THREADLINE_DB")
        .env_remove("THREADLINE_SERVER")
        .env_remove("THREADLINE_TOKEN")
        .output()
        .expect("run threadline import");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `threadline import` into a database (a SQLite file, and a PostgreSQL schema when
/// THREADLINE_TEST_PG is set): a file with bad rows is refused naming each by its spreadsheet
/// row and header, and nothing is written, not even its good rows; a dry run writes nothing;
/// a commit keeps every row; an XLSX with Chinese headers imports the same way.
#[test]
fn import_from_the_command_line_checks_every_row_and_keeps_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut targets = vec![(
        format!("sqlite:{}", dir.path().join("i.db").display()),
        None,
    )];
    match threadline_testkit::pg_url() {
        Some(base) => {
            let (_, guard) = rt
                .block_on(threadline_store_postgres::testing::empty_schema(&base))
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{}", guard.schema());
            targets.push((url, Some(guard)));
        }
        None => eprintln!("THREADLINE_TEST_PG is not set: PostgreSQL variant skipped"),
    }
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "code,name,tracking,warranty_months\nTC,Controller,serial,24\nTB,,lot,x\nTD,Drive,sometimes,\n",
    )
    .unwrap();
    let good = dir.path().join("products.csv");
    std::fs::write(
        &good,
        "编码,名称,追溯方式,保修月数\nTC,Controller,序列号,24\nRESIN,Resin,批次,\n",
    )
    .unwrap();
    let parties = dir.path().join("parties.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["编码 (code)", "名称 (name)", "类型 (kind)"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in [
        ["S1", "华南树脂", "供应商"],
        ["D1", "South Distribution", "经销商"],
    ]
    .iter()
    .enumerate()
    {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    book.save(&parties).unwrap();

    for (url, _guard) in &targets {
        let bad_s = bad.to_str().unwrap();
        // Every bad row at once, by spreadsheet row and header; nothing written.
        let (code, out, err) = import(&["products", bad_s, "--db", url, "--commit"]);
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert!(err.contains("rows[3].name"), "{err}");
        assert!(
            err.contains("rows[3].warranty_months: `x` is not a whole number"),
            "{err}"
        );
        assert!(err.contains("rows[4].tracking"), "{err}");
        assert!(!err.contains("rows[2]"), "{err}");
        assert_eq!(product_codes(url), Vec::<String>::new(), "{url}");

        let good_s = good.to_str().unwrap();
        let (code, out, err) = import(&["products", good_s, "--db", url]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("2 products rows checked"), "{out}");
        assert_eq!(
            product_codes(url),
            Vec::<String>::new(),
            "a dry run writes nothing"
        );

        let (code, out, err) = import(&["products", good_s, "--db", url, "--commit"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("2 products rows imported"), "{out}");
        let mut codes = product_codes(url);
        codes.sort();
        assert_eq!(codes, ["RESIN", "TC"]);
        // Again: they exist now, and the report says so.
        let (code, _, err) = import(&["products", good_s, "--db", url, "--commit"]);
        assert_eq!(code, 1);
        assert!(err.contains("rows[2]") && err.contains("rows[3]"), "{err}");

        let (code, out, err) = import(&[
            "parties",
            parties.to_str().unwrap(),
            "--db",
            url,
            "--commit",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("2 parties rows imported"), "{out}");

        // Serials already in the field register with their origin.
        let serials = dir.path().join("serials.csv");
        std::fs::write(
            &serials,
            "产品编码,序列号,来源,状态\nTC,OLD-0001,历史,已售\n",
        )
        .unwrap();
        let (code, out, err) = import(&[
            "serials",
            serials.to_str().unwrap(),
            "--db",
            url,
            "--commit",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("1 serials rows imported (1 ledger entries)"),
            "{out}"
        );
    }

    // A file that is neither CSV nor XLSX is refused before anything is opened.
    let txt = dir.path().join("products.txt");
    std::fs::write(&txt, "code,name\n").unwrap();
    let (code, _, err) = import(&["products", txt.to_str().unwrap(), "--db", &targets[0].0]);
    assert_eq!(code, 2);
    assert!(err.contains(".csv or .xlsx"), "{err}");
}

/// `threadline import --server URL --token SECRET` sends the file to a running server, under
/// the token's permissions.
#[test]
fn import_through_a_running_server_uses_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let admin = token(&db, "erp-admin", &["admin"]);
    let clerk = token(&db, "clerk", &["warehouse"]);
    let file = dir.path().join("locations.csv");
    std::fs::write(
        &file,
        "code,name,kind,parent\nSZ,Shenzhen plant,site,\nSZ-FG,Finished goods,area,SZ\n",
    )
    .unwrap();
    let (mut child, port) = serve(&db, false);
    let server = format!("http://127.0.0.1:{port}");
    let f = file.to_str().unwrap();

    let (code, _, err) = import(&[
        "locations",
        f,
        "--server",
        &server,
        "--token",
        &clerk,
        "--commit",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("configure"), "{err}");
    let (code, _, err) = import(&["locations", f, "--server", &server, "--commit"]);
    assert_eq!(code, 2);
    assert!(err.contains("--token"), "{err}");

    let (code, out, err) = import(&[
        "locations",
        f,
        "--server",
        &server,
        "--token",
        &admin,
        "--commit",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("2 locations rows imported (2 ledger entries)"),
        "{out}"
    );
    let (status, fg) = http(port, &admin, "GET", "/api/v1/locations/SZ-FG", None).unwrap();
    assert_eq!((status, fg["parent"].as_str()), (200, Some("SZ")));

    // A file of many pieces (the command sends it as it reads it) arrives whole, in order.
    let big = dir.path().join("bins.csv");
    let mut csv = String::from("code,name,kind,parent\n");
    for n in 0..4000 {
        csv.push_str(&format!(
            "SZ-BIN-{n:05},Bin {n} of the finished-goods store,bin,SZ-FG\n"
        ));
    }
    assert!(csv.len() > 3 * 64 * 1024, "{}", csv.len());
    std::fs::write(&big, &csv).unwrap();
    let (code, out, err) = import(&[
        "locations",
        big.to_str().unwrap(),
        "--server",
        &server,
        "--token",
        &admin,
        "--commit",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("4000 locations rows imported (4000 ledger entries)"),
        "{out}"
    );
    for code in ["SZ-BIN-00000", "SZ-BIN-02047", "SZ-BIN-03999"] {
        let (status, bin) = http(
            port,
            &admin,
            "GET",
            &format!("/api/v1/locations/{code}"),
            None,
        )
        .unwrap();
        assert_eq!(
            (status, bin["parent"].as_str()),
            (200, Some("SZ-FG")),
            "{code}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_backup_of_a_busy_server_restores_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let url = format!("sqlite:{}", db.display());
    let secret = token(&db, "line-1", &["production"]);
    let (mut child, port) = serve(&db, true);

    // Batches stream in while the backup runs (at most 300; stopped after the backup).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (acked, first_ack) = std::sync::mpsc::channel();
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for round in 0..300 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let (_, body) = batch(round);
                let (status, body) =
                    http(port, &secret, "POST", "/api/v1/events", Some(&body)).unwrap();
                assert_eq!(status, 201, "{body}");
                let _ = acked.send(round);
            }
        })
    };
    first_ack.recv_timeout(Duration::from_secs(60)).unwrap();
    let copy = dir.path().join("copy.db");
    let (code, out) = run(&["backup", "--db", &url, copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("backed up to"), "{out}");
    let (code, out) = run(&["backup", "--db", &url, copy.to_str().unwrap()]);
    assert_ne!(code, 0, "an existing file is never overwritten");
    assert!(out.contains("already exists"), "{out}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    // Restored into a new place: the chains verify, and only whole batches are in it.
    let restored = dir.path().join("restored.db");
    let restored_url = format!("sqlite:{}", restored.display());
    let (code, out) = run(&["restore", "--db", &restored_url, copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ledger OK"), "{out}");
    let (code, out) = run(&["verify", "--db", &restored_url]);
    assert_eq!(code, 0, "{out}");
    let count = |path: &Path, sql: &str| -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    let streamed = "SELECT count(*) FROM items WHERE serial LIKE 'K%'";
    let kept = count(&restored, streamed);
    assert!(kept > 0 && kept % 200 == 0, "{kept} streamed units kept");
    assert!(kept <= count(&db, streamed));
    let entries = count(&restored, "SELECT count(*) FROM ledger");

    // An existing database is replaced only with --force.
    let (code, out) = run(&["restore", "--db", &restored_url, copy.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(out.contains("--force"), "{out}");

    // A tampered backup restores nothing: the database stays as it was.
    let bad = dir.path().join("bad.db");
    std::fs::copy(&copy, &bad).unwrap();
    rusqlite::Connection::open(&bad)
        .unwrap()
        .execute_batch("UPDATE ledger SET body = replace(body, 'PCB-A', 'PCB-X') WHERE seq = (SELECT max(seq) FROM ledger)")
        .unwrap();
    let (code, out) = run(&[
        "restore",
        "--force",
        "--db",
        &restored_url,
        bad.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("broken") && out.contains("nothing was restored"),
        "{out}"
    );
    assert_eq!(count(&restored, "SELECT count(*) FROM ledger"), entries);
    let (code, out) = run(&["verify", "--db", &restored_url]);
    assert_eq!(code, 0, "{out}");
    // With --force a good backup replaces it.
    let (code, out) = run(&[
        "restore",
        "--force",
        "--db",
        &restored_url,
        copy.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");

    // PostgreSQL has its own tools.
    let (code, out) = run(&["backup", "--db", "postgres://nobody@127.0.0.1:1/x", "pg.db"]);
    assert_ne!(code, 0);
    assert!(out.contains("pg_dump"), "{out}");
}

#[test]
fn serial_rules_are_created_assigned_allocated_from_and_validated_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rules.db");
    let url = format!("sqlite:{}", db.display());
    // The demo plant, for its products.
    let (mut child, _) = serve(&db, true);
    child.kill().unwrap();
    child.wait().unwrap();

    let rule = dir.path().join("pjc.json");
    std::fs::write(
        &rule,
        json!({"code": "PJC", "name": "Controllers", "template": "PJC-{YYMMDD}-{LINE}-{SEQ:5}{CHECK:mod37-36}",
               "time_zone": "+08:00", "sequence_reset": "daily"})
        .to_string(),
    )
    .unwrap();
    let (code, out) = run(&[
        "serial",
        "rule",
        "create",
        "--db",
        &url,
        rule.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("created serial rule PJC (version 1)"), "{out}");
    let (code, out) = run(&[
        "serial",
        "rule",
        "create",
        "--db",
        &url,
        rule.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("PJC already exists"), "{out}");

    // A bad rule names its field, and is not stored.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        json!({"code": "BAD", "name": "No zone", "template": "B-{YYMMDD}-{SEQ:3}"}).to_string(),
    )
    .unwrap();
    let (code, out) = run(&[
        "serial",
        "rule",
        "create",
        "--db",
        &url,
        bad.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(out.contains("(time_zone)"), "{out}");
    let (code, out) = run(&["serial", "rule", "show", "--db", &url, "BAD"]);
    assert_ne!(code, 0);
    assert!(out.contains("BAD does not exist"), "{out}");

    let (code, out) = run(&[
        "serial",
        "rule",
        "assign",
        "--db",
        &url,
        "PJC",
        "--product",
        "TC-200",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&[
        "serial",
        "rule",
        "assign",
        "--db",
        &url,
        "PJC",
        "--category",
        "boards",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(&["serial", "rule", "list", "--db", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l == "PJC\tv2\tPJC-{YYMMDD}-{LINE}-{SEQ:5}{CHECK:mod37-36}\tboards"),
        "{out}"
    );
    let (code, out) = run(&["serial", "rule", "show", "--db", &url, "PJC"]);
    assert_eq!(code, 0, "{out}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (shown["version"].clone(), shown["categories"].clone()),
        (json!(2), json!(["boards"]))
    );

    // TC-200 now allocates from PJC, and its serials check back; the allocation is in the
    // audit trail, kept with its event.
    let audit_records = || {
        let (code, out) = run(&["verify", "--db", &url]);
        assert_eq!(code, 0, "{out}");
        let at = out.find("audit trail OK: ").unwrap() + "audit trail OK: ".len();
        out[at..].split(' ').next().unwrap().parse::<u64>().unwrap()
    };
    let before = audit_records();
    let (code, out) = run(&[
        "serial",
        "allocate",
        "--db",
        &url,
        "--product",
        "TC-200",
        "--count",
        "3",
        "--line",
        "A01",
    ]);
    assert_eq!(code, 0, "{out}");
    let first = out.lines().next().unwrap().to_owned();
    assert!(
        first.starts_with("PJC-") && first.contains("-A01-00001"),
        "{out}"
    );
    assert_eq!(audit_records(), before + 1);
    let (code, out) = run(&[
        "serial",
        "validate",
        "--db",
        &url,
        "--product",
        "TC-200",
        &first,
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("valid for rule PJC") && out.contains("line      A01"),
        "{out}"
    );
    let (code, out) = run(&[
        "serial",
        "validate",
        "--db",
        &url,
        "--product",
        "TC-200",
        "PJC-260101-A01-00001X",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT valid"), "{out}");
}

/// Two `threadline serve` processes on one PostgreSQL database allocate from the same rule at
/// once, through HTTP: every serial is issued once, and the ledger verifies.
#[test]
fn two_server_processes_on_one_postgres_never_issue_a_serial_twice() {
    let Some(base) = threadline_testkit::pg_url() else {
        eprintln!("THREADLINE_TEST_PG is not set: PostgreSQL test skipped");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, guard) = rt
        .block_on(threadline_store_postgres::testing::empty_schema(&base))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{}", guard.schema());
    let secret = token_url(&url, "line-mes", &["admin"]);
    let (mut a, port_a) = serve_url(&url, false);
    let (mut b, port_b) = serve_url(&url, false);

    let (status, body) = http(
        port_a,
        &secret,
        "POST",
        "/api/v1/serial-rules",
        Some(
            &json!({
        "code": "PJC", "name": "Controllers", "template": "PJC-{SEQ:7}{CHECK:mod37-36}"})
            .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(
        port_b,
        &secret,
        "POST",
        "/api/v1/products",
        Some(
            &json!({
        "code": "TC", "name": "Controller", "tracking": "serial", "serial_rule": "PJC"})
            .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");

    let workers: Vec<_> = (0..8)
        .map(|w| {
            let port = if w % 2 == 0 { port_a } else { port_b };
            let secret = secret.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..5 {
                    let (status, body) = http(
                        port,
                        &secret,
                        "POST",
                        "/api/v1/products/TC/allocations",
                        Some(r#"{"count": 25}"#),
                    )
                    .unwrap();
                    assert_eq!(status, 201, "{body}");
                    got.extend(
                        body["serials"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|s| s.as_str().unwrap().to_owned()),
                    );
                }
                got
            })
        })
        .collect();
    let all: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let distinct: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (8 * 5 * 25, 8 * 5 * 25));
    for child in [&mut a, &mut b] {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (code, out) = run(&["verify", "--db", &url]);
    assert_eq!(code, 0, "{out}");
    drop(guard);
}
