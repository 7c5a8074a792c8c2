//! The `threadline` program: configuration, start-up, and the subcommands. `main` only parses
//! the command line and calls [`run`].

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use threadline_domain::access::{Role, Roles, TokenName, UserName};
use threadline_store::{AccessChange, NewUser, Store};

pub mod bench;
pub mod bench_alloc;
pub mod bench_epcis;
pub mod bench_import;
pub mod bench_labels;
pub mod bench_load;
pub mod bench_plant;
pub mod bench_trace;
pub mod cli;
pub mod config;
pub mod demo;
pub mod import;
pub mod rules;

use cli::{BenchCommand, Cli, Command, RuleCommand, SerialCommand, TokenCommand};
use config::{Config, Flags};

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn open_store(url: &str, durability: &str) -> anyhow::Result<Arc<dyn Store>> {
    if is_postgres(url) {
        let s = threadline_store_postgres::PgStore::connect(url)
            .await
            .with_context(|| format!("opening PostgreSQL database {}", config::redact_url(url)))?;
        return Ok(Arc::new(s));
    }
    let path = sqlite_path(url)?;
    let durability = if durability == "power" {
        threadline_store_sqlite::Durability::Power
    } else {
        threadline_store_sqlite::Durability::Process
    };
    let s = threadline_store_sqlite::SqliteStore::open(&path, durability)
        .with_context(|| format!("opening SQLite database {}", path.display()))?;
    Ok(Arc::new(s))
}

pub(crate) fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The file a `sqlite:` URL (or a bare path) names.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        bail!("the database URL `{url}` names no file");
    }
    Ok(PathBuf::from(path))
}

/// `path` with `suffix` appended to its file name (`db.sqlite` → `db.sqlite-wal`).
fn beside(path: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn remove_if_present(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// `threadline backup`: a consistent copy of a SQLite database that may be in use.
pub fn backup(url: &str, to: &std::path::Path) -> anyhow::Result<u64> {
    if is_postgres(url) {
        bail!(
            "`threadline backup` copies SQLite databases; back up PostgreSQL with pg_dump (see README, Backups)"
        );
    }
    let path = sqlite_path(url)?;
    threadline_store_sqlite::backup(&path, to)
        .with_context(|| format!("backing up {} to {}", path.display(), to.display()))?;
    Ok(std::fs::metadata(to)?.len())
}

/// `threadline restore`: checks the backup's ledger and audit chains on a copy beside the
/// database, then moves the copy into place. A broken backup, or one newer than this program,
/// leaves everything as it was.
pub async fn restore(
    url: &str,
    from: &std::path::Path,
    force: bool,
) -> anyhow::Result<threadline_store::VerifyReport> {
    if is_postgres(url) {
        bail!(
            "`threadline restore` restores SQLite databases; restore PostgreSQL with pg_restore (see README, Backups)"
        );
    }
    let path = sqlite_path(url)?;
    if !from.is_file() {
        bail!("there is no backup file at {}", from.display());
    }
    if path.exists() && !force {
        bail!(
            "{} exists; stop the server and pass --force to replace it",
            path.display()
        );
    }
    let tmp = beside(&path, ".restoring");
    for p in [&tmp, &beside(&tmp, "-wal"), &beside(&tmp, "-shm")] {
        remove_if_present(p)?;
    }
    std::fs::copy(from, &tmp).with_context(|| format!("copying {}", from.display()))?;
    let checked = async {
        let store = open_store(&format!("sqlite:{}", tmp.display()), "process").await?;
        let report = store.verify().await?;
        drop(store);
        if let Some(b) = &report.first_break {
            bail!("the backup is broken: {b}; nothing was restored");
        }
        threadline_store_sqlite::settle(&tmp)?;
        Ok(report)
    }
    .await;
    let report = match checked {
        Ok(r) => r,
        Err(e) => {
            for p in [&tmp, &beside(&tmp, "-wal"), &beside(&tmp, "-shm")] {
                remove_if_present(p)?;
            }
            return Err(e);
        }
    };
    for p in [beside(&path, "-wal"), beside(&path, "-shm")] {
        remove_if_present(&p)?;
    }
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("moving the restored copy to {}", path.display()))?;
    Ok(report)
}

/// A password for the first sign-in: 20 characters from an alphabet without look-alikes.
fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rand::Rng::random_range(&mut rng, 0..ALPHABET.len())] as char)
        .collect()
}

/// Creates the `admin` user on a database without users. Returns the generated password if
/// none was configured, for printing once.
pub async fn ensure_admin(
    store: &dyn Store,
    configured: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match configured {
        Some(p) => (p.to_owned(), false),
        None => (one_time_password(), true),
    };
    let admin = NewUser {
        name: UserName::parse("admin")?,
        password_hash: threadline_server::auth::hash_password_blocking(&password)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        roles: Roles::one(Role::Admin),
        site: None,
        party: None,
        created_at: chrono::Utc::now(),
    };
    let record = audit_cli(
        "create admin (first start)",
        "users/admin",
        serde_json::json!({"roles": ["admin"]}),
    );
    store
        .change_access(AccessChange::CreateUser(admin), Some(record))
        .await?;
    Ok(generated.then_some(password))
}

/// The audit record of a change made from the command line, as actor `cli` (whoever could run
/// the binary against the database); written with the change.
fn audit_cli(
    action: &str,
    object: &str,
    after: serde_json::Value,
) -> threadline_domain::audit::AuditRecord {
    threadline_domain::audit::AuditRecord {
        id: uuid::Uuid::now_v7(),
        recorded_at: chrono::Utc::now(),
        actor: Some("cli".into()),
        address: None,
        action: action.into(),
        object: object.into(),
        status: None,
        before: None,
        after: Some(after),
        reason: None,
        signature: None,
    }
}

fn config_of(
    cli_config: Option<PathBuf>,
    db: Option<String>,
    listen: Option<String>,
    admin_password: Option<String>,
) -> anyhow::Result<Config> {
    let names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    config::load(
        Flags {
            config: cli_config,
            db,
            listen,
            admin_password,
        },
        &|k| std::env::var(k).ok(),
        &names,
    )
}

/// The broker link's TLS from the configured PEM files.
fn mqtt_tls(t: &config::MqttTls) -> anyhow::Result<threadline_server::mqtt::Tls> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).with_context(|| format!("reading MQTT TLS file {}", p.display()))
    };
    let ca = t.ca_file.as_deref().map(read).transpose()?;
    let client = match &t.client {
        Some((cert, key)) => Some((read(cert)?, read(key)?)),
        None => None,
    };
    threadline_server::mqtt::Tls::new(
        ca.as_deref(),
        client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())),
    )
    .context("MQTT TLS")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Runs a parsed command line; the exit code is the return value.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve {
            db,
            listen,
            demo,
            admin_password,
        } => {
            let cfg = config_of(cli.config, db.db, listen, admin_password)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            if let Some(pw) = ensure_admin(&*store, cfg.admin_password.as_deref()).await? {
                println!("Created user `admin` with one-time password: {pw}");
                println!("Sign in and change it; it is not shown again.");
            }
            if demo {
                match demo::load(&*store, chrono::Utc::now()).await? {
                    Some(n) => println!("Loaded the demo plant: {n} ledger entries."),
                    None => println!("The database already holds data; demo not loaded."),
                }
            }
            // The broker link's certificates are read before anything listens: a bad file
            // stops the start, naming the setting.
            let broker_tls = match cfg.mqtt.as_ref().and_then(|m| m.tls.as_ref()) {
                Some(t) => Some(mqtt_tls(t)?),
                None => None,
            };
            let listener = tokio::net::TcpListener::bind(&cfg.listen)
                .await
                .with_context(|| format!("listening on {}", cfg.listen))?;
            let addr = listener.local_addr()?;
            println!(
                "Threadline {} listening on http://{addr} ({} database {})",
                env!("CARGO_PKG_VERSION"),
                store.engine(),
                config::redact_url(&cfg.db)
            );
            let state = threadline_server::AppState {
                auth: threadline_server::AuthSettings {
                    secure_cookies: cfg.cookie_secure,
                    signatures: cfg.signatures,
                    ..Default::default()
                },
                webhooks: threadline_server::webhook::WebhookSettings {
                    allow_private: cfg.webhooks_allow_private,
                    ..Default::default()
                },
                company_prefixes: std::sync::Arc::new(
                    threadline_epcis::format::CompanyPrefixes::new(
                        cfg.gs1_company_prefixes.clone(),
                    )
                    .map_err(anyhow::Error::msg)?,
                ),
                ..threadline_server::AppState::new(store)
            };
            if let Some(m) = &cfg.mqtt {
                let (host, port) = m
                    .broker
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
                    .with_context(|| format!("MQTT broker `{}` is not host:port", m.broker))?;
                threadline_server::mqtt::spawn(
                    state.clone(),
                    threadline_server::mqtt::MqttSettings {
                        host,
                        port,
                        client_id: m.client_id.clone(),
                        topics: m.topics.clone(),
                        reply_topic: m.reply_topic.clone(),
                        dead_letter_topic: m.dead_letter_topic.clone(),
                        token: m.token.clone(),
                        credentials: m.credentials.clone(),
                        tls: broker_tls,
                    },
                );
                println!(
                    "MQTT: listening on {} at {}{}",
                    m.topics.join(", "),
                    m.broker,
                    if m.tls.is_some() { " (TLS)" } else { "" }
                );
            }
            threadline_server::serve(listener, state, shutdown_signal()).await?;
            Ok(0)
        }
        Command::Verify { db } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            let report = store.verify().await?;
            match report.first_break {
                None => {
                    println!(
                        "ledger OK: {} entries verified; audit trail OK: {} records verified",
                        report.entries, report.audit_records
                    );
                    Ok(0)
                }
                Some(b) => {
                    println!(
                        "ledger BROKEN: {b} ({} entries verified before it)",
                        report.entries
                    );
                    Ok(1)
                }
            }
        }
        Command::Import {
            db,
            kind,
            file,
            commit,
            server,
            token,
        } => {
            let target = match server {
                Some(url) => import::Target::Server {
                    url,
                    token: token.context("--server needs --token (or THREADLINE_TOKEN)")?,
                },
                None => {
                    let cfg = config_of(cli.config, db.db, None, None)?;
                    import::Target::Database(open_store(&cfg.db, &cfg.durability).await?)
                }
            };
            let outcome = import::import(&target, &kind, &file, commit).await?;
            Ok(import::report(&kind, &outcome))
        }
        Command::Token {
            what:
                TokenCommand::Create {
                    db,
                    name,
                    roles,
                    site,
                    party,
                },
        } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let name = TokenName::parse(&name).context("--name")?;
            let roles = Roles::parse(&roles).context("--role")?;
            let site = site
                .map(|s| threadline_domain::LocationCode::parse(&s))
                .transpose()
                .context("--site")?;
            let party = party
                .map(|p| threadline_domain::PartyCode::parse(&p))
                .transpose()
                .context("--party")?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            threadline_server::account::partner(&*store, party.as_ref(), &roles)
                .await
                .map_err(|e| anyhow::anyhow!("--party: {}", e.first_message()))?;
            let site_text = site.as_ref().map(ToString::to_string);
            let party_text = party.as_ref().map(ToString::to_string);
            let record = audit_cli(
                "token create",
                &format!("tokens/{name}"),
                serde_json::json!({"roles": roles, "site": site_text, "party": party_text}),
            );
            let secret = threadline_server::account::mint_token(
                &*store,
                name.clone(),
                roles.clone(),
                site,
                party,
                "cli".to_owned(),
                chrono::Utc::now(),
                Some(record),
            )
            .await?;
            eprintln!(
                "Created token `{name}` (roles: {}); it records events as `{}`.",
                roles.to_stored().replace(' ', ", "),
                name.actor()
            );
            eprintln!("Its secret follows; it is not shown again:");
            println!("{}", secret.expose());
            Ok(0)
        }
        Command::Bench {
            what: BenchCommand::Labels { count, out },
        } => {
            let mut stdout = std::io::stdout();
            match out {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    bench_labels::labels(count, std::io::BufWriter::new(file), &mut stdout)?;
                }
                None => {
                    bench_labels::labels(count, std::io::sink(), &mut stdout)?;
                }
            }
            if count <= threadline_server::labels::MAX_JOB_LABELS {
                bench_labels::through_http(count, &mut stdout).await?;
            }
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Capture {
                    db,
                    events,
                    batch,
                    clients,
                    runs,
                    json,
                },
        } => {
            let figures = bench::capture(
                bench::CaptureBench {
                    db,
                    events,
                    batch: batch.max(1),
                    clients: clients.max(1),
                    runs: runs.max(1),
                },
                &mut std::io::stdout(),
            )
            .await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Epcis {
                    db,
                    documents,
                    events,
                    json,
                },
        } => {
            let figures = bench_epcis::epcis(
                bench_epcis::EpcisBench {
                    db,
                    documents: documents.max(1),
                    events: events.max(1),
                },
                &mut std::io::stdout(),
            )
            .await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Allocate {
                    db,
                    serials,
                    block,
                    runs,
                    json,
                },
        } => {
            let figures = bench_alloc::allocate_bench(
                bench_alloc::AllocBench {
                    db,
                    serials: serials.max(1),
                    block: block.clamp(1, threadline_server::serials::MAX_ALLOCATION),
                    runs,
                },
                &mut std::io::stdout(),
            )
            .await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Import {
                    db,
                    rows,
                    runs,
                    quick,
                    json,
                },
        } => {
            let opts = if quick {
                bench_import::ImportBench::quick(db)
            } else {
                bench_import::ImportBench {
                    db,
                    rows: rows.max(1),
                    runs: runs.max(1),
                }
            };
            let figures = bench_import::import_bench(opts, &mut std::io::stdout()).await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Trace {
                    db,
                    units,
                    runs,
                    xlsx,
                    json,
                },
        } => {
            let figures = bench_trace::trace(
                bench_trace::TraceBench {
                    db,
                    units: units.max(1),
                    runs: runs.max(1),
                    xlsx,
                },
                &mut std::io::stdout(),
            )
            .await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Gen {
                    db,
                    seed,
                    events,
                    wo_size,
                    resin_span,
                    batch,
                    quick,
                    manifest,
                },
        } => {
            let opts = if quick {
                bench_plant::GenOptions::quick(seed)
            } else {
                bench_plant::GenOptions {
                    seed,
                    events,
                    wo_size,
                    resin_span,
                    batch: batch.max(1),
                }
            };
            let path = bench_plant::manifest_path(&db, manifest)?;
            let store = open_store(&db, "process").await?;
            let made = if is_postgres(&db) {
                // Planned on a scratch SQLite file (its reads are in-process), written to both.
                let scratch = tempfile::Builder::new()
                    .prefix("threadline-gen-")
                    .tempdir()
                    .context("a scratch directory for planning (TMPDIR)")?;
                let plan = open_store(
                    &format!("sqlite:{}", scratch.path().join("plan.db").display()),
                    "process",
                )
                .await?;
                println!(
                    "planning on a scratch SQLite file in {} (removed at the end)",
                    scratch.path().display()
                );
                bench_plant::generate_into(
                    &*plan,
                    Some((store, Some(db.clone()))),
                    opts,
                    &mut std::io::stdout(),
                )
                .await?
            } else {
                bench_plant::generate(&*store, opts, &mut std::io::stdout()).await?
            };
            if is_postgres(&db) {
                bench_plant::vacuum(&db).await?;
                println!(
                    "VACUUM (ANALYZE) done (statistics and visibility map of the loaded tables)"
                );
            }
            std::fs::write(&path, serde_json::to_vec_pretty(&made)?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("manifest: {}", path.display());
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Passport {
                    db,
                    manifest,
                    clients,
                    seconds,
                    runs,
                    traces,
                    json,
                },
        } => {
            let figures = bench_load::passport(
                bench_load::PassportBench {
                    manifest: bench_plant::manifest_path(&db, manifest)?,
                    db,
                    exe: std::env::current_exe()?,
                    clients: clients.max(1),
                    seconds,
                    runs: runs.max(1),
                    traces,
                },
                &mut std::io::stdout(),
            )
            .await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Load {
                    url,
                    token,
                    manifest,
                    clients,
                    seconds,
                    runs,
                    traces,
                    json,
                },
        } => {
            let figures = bench_load::load(
                bench_load::LoadOptions {
                    url,
                    token,
                    manifest: bench_load::read_manifest(&manifest)?,
                    clients: clients.max(1),
                    seconds,
                    runs,
                    traces,
                },
                &mut std::io::stdout(),
            )
            .await?;
            bench::write_figures(json.as_deref(), &figures)?;
            Ok(0)
        }
        Command::Serial {
            what:
                SerialCommand::Allocate {
                    db,
                    product,
                    count,
                    line,
                    site,
                    printer,
                },
        } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            let req = threadline_server::serials::AllocationRequest {
                count,
                site,
                line,
                at: None,
                printer,
            };
            // The allocation keeps its audit record with its event.
            let object = format!("products/{product}/allocations");
            let audited = move || -> threadline_store::AuditOf<Vec<threadline_store::Receipt>> {
                let object = object.clone();
                Box::new(move |r: &Vec<threadline_store::Receipt>| {
                    audit_cli(
                        "allocate",
                        &object,
                        serde_json::json!({"count": count, "seq": r.first().map(|r| r.seq)}),
                    )
                })
            };
            match threadline_server::serials::allocate(
                &*store,
                &product,
                &req,
                "cli",
                chrono::Utc::now(),
                Some(&audited),
            )
            .await
            {
                Ok(out) => {
                    let mut stdout = std::io::stdout().lock();
                    for s in &out.serials {
                        std::io::Write::write_all(&mut stdout, format!("{s}\n").as_bytes())?;
                    }
                    eprintln!(
                        "allocated {} serials of {product} (counter {}, entry {})",
                        out.serials.len(),
                        out.scope,
                        out.receipt.seq
                    );
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("refused: {}", e.first_message());
                    Ok(1)
                }
            }
        }
        Command::Serial {
            what: SerialCommand::Rule { what },
        } => {
            let db = match &what {
                RuleCommand::Create { db, .. }
                | RuleCommand::List { db }
                | RuleCommand::Show { db, .. }
                | RuleCommand::Assign { db, .. } => db.db.clone(),
            };
            let cfg = config_of(cli.config, db, None, None)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            rules::run(&*store, what).await
        }
        Command::Serial {
            what:
                SerialCommand::Validate {
                    db,
                    product,
                    serial,
                },
        } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            let Some(p) = store.product(&product).await? else {
                bail!("product {product} does not exist")
            };
            let Some(rule) = threadline_server::serials::product_rule(&*store, &p)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.first_message()))?
                .map(|r| r.rule)
            else {
                bail!("product {product} has no serial rule")
            };
            match rule.validate(&serial) {
                Ok(parts) => {
                    println!("{serial}: valid for rule {}", rule.code());
                    if let Some(d) = parts.date.and_then(|d| d.date) {
                        println!("  date      {d}");
                    }
                    for (name, v) in [
                        ("product", parts.product),
                        ("category", parts.category),
                        ("site", parts.site),
                        ("line", parts.line),
                    ] {
                        if let Some(v) = v {
                            println!("  {name:<9} {v}");
                        }
                    }
                    if let Some(q) = parts.sequence {
                        println!("  sequence  {q}");
                    }
                    Ok(0)
                }
                Err(e) => {
                    println!(
                        "{serial}: NOT valid for rule {}: {}",
                        rule.code(),
                        e.message
                    );
                    Ok(1)
                }
            }
        }
        Command::Trace {
            db,
            direction,
            product,
            serial,
            lot,
            supplier,
            work_order,
            line,
            shift,
            from,
            to,
            as_of,
            csv,
        } => {
            use threadline_domain::projection::Node;
            let cfg = config_of(cli.config, db.db, None, None)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            let time = |flag: &str, t: Option<String>| -> anyhow::Result<_> {
                t.map(|t| {
                    chrono::DateTime::parse_from_rfc3339(&t)
                        .with_context(|| format!("--{flag} `{t}` is not an RFC 3339 time"))
                })
                .transpose()
            };
            let req = threadline_server::trace::ScopeRequest {
                product,
                serial,
                lot,
                supplier,
                work_order,
                line,
                shift,
                from: time("from", from)?,
                to: time("to", to)?,
                as_of: time("as-of", as_of)?,
            };
            let refused =
                |e: threadline_server::error::AppError| anyhow::anyhow!("{}", e.first_message());
            let scope = req.check(chrono::Utc::now(), "").map_err(refused)?;
            let dir = if direction == "backward" {
                if !scope.is_single() {
                    bail!("a backward trace starts from one unit or lot (--serial or --lot)");
                }
                threadline_store::Direction::Children
            } else {
                threadline_store::Direction::Parents
            };
            let t = threadline_server::trace::trace_scope(&*store, scope, dir)
                .await
                .map_err(refused)?;
            let mut out = std::io::stdout().lock();
            if csv {
                std::io::Write::write_all(
                    &mut out,
                    &t.to_csv().map_err(|e| anyhow::anyhow!(e.first_message()))?,
                )?;
            } else {
                for n in &t.nodes {
                    let name = match &n.node {
                        Node::Item(k) => format!("{} {}", k.product, k.serial),
                        Node::Lot(k) => format!("{} lot {}", k.product, k.lot),
                    };
                    let removed = n
                        .removed_at
                        .map(|r| format!("  removed {}", r.to_rfc3339()))
                        .unwrap_or_default();
                    let status = n
                        .state
                        .as_ref()
                        .map(|s| format!("  [{}]", s.status.as_str()))
                        .unwrap_or_default();
                    std::io::Write::write_all(
                        &mut out,
                        format!("{}{name}{status}{removed}\n", "  ".repeat(n.depth as usize))
                            .as_bytes(),
                    )?;
                }
                eprintln!(
                    "{} {} nodes as of {}",
                    t.nodes.len(),
                    t.direction,
                    t.as_of.to_rfc3339()
                );
            }
            Ok(0)
        }
        Command::Backup { db, to } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let bytes = backup(&cfg.db, &to)?;
            println!("backed up to {} ({bytes} bytes)", to.display());
            Ok(0)
        }
        Command::Restore { db, from, force } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let report = restore(&cfg.db, &from, force).await?;
            println!(
                "restored {}: ledger OK: {} entries verified; audit trail OK: {} records verified",
                from.display(),
                report.entries,
                report.audit_records
            );
            Ok(0)
        }
        Command::Rebuild { db } => {
            let cfg = config_of(cli.config, db.db, None, None)?;
            let store = open_store(&cfg.db, &cfg.durability).await?;
            let r = store.rebuild().await?;
            println!(
                "rebuilt from {} ledger entries: {} items, {} lots",
                r.entries, r.items, r.lots
            );
            Ok(0)
        }
    }
}
