//! One typed configuration. Precedence: defaults < TOML file < `THREADLINE_*` environment
//! (with `_FILE` variants for secrets) < command-line flags. Unknown `THREADLINE_*` variables
//! are warned about; secrets are never printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

pub const DEFAULT_DB: &str = "sqlite:./threadline.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

const KNOWN_ENV: &[&str] = &[
    "THREADLINE_CONFIG",
    "THREADLINE_DB",
    "THREADLINE_LISTEN",
    "THREADLINE_ADMIN_PASSWORD",
    "THREADLINE_ADMIN_PASSWORD_FILE",
    "THREADLINE_DURABILITY",
    "THREADLINE_COOKIE_SECURE",
    "THREADLINE_LOG",
    "THREADLINE_TEST_PG",
    "THREADLINE_WEBHOOKS_ALLOW_PRIVATE",
    "THREADLINE_SIGNATURES",
    "THREADLINE_MQTT_BROKER",
    "THREADLINE_MQTT_TOPICS",
    "THREADLINE_MQTT_TOKEN",
    "THREADLINE_MQTT_TOKEN_FILE",
    "THREADLINE_MQTT_USERNAME",
    "THREADLINE_MQTT_PASSWORD",
    "THREADLINE_MQTT_PASSWORD_FILE",
    "THREADLINE_MQTT_TLS",
    "THREADLINE_MQTT_CA_FILE",
    "THREADLINE_MQTT_CLIENT_CERT_FILE",
    "THREADLINE_MQTT_CLIENT_KEY_FILE",
    "THREADLINE_GS1_COMPANY_PREFIXES",
];

/// The file form; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    db: Option<String>,
    listen: Option<String>,
    admin_password: Option<String>,
    admin_password_file: Option<PathBuf>,
    durability: Option<String>,
    cookie_secure: Option<bool>,
    webhooks_allow_private: Option<bool>,
    gs1_company_prefixes: Option<Vec<String>>,
    signatures: Option<Vec<String>>,
    mqtt: Option<MqttFile>,
}

/// `[mqtt]` in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MqttFile {
    broker: Option<String>,
    topics: Option<Vec<String>>,
    reply_topic: Option<String>,
    dead_letter_topic: Option<String>,
    client_id: Option<String>,
    token_file: Option<PathBuf>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    tls: Option<bool>,
    ca_file: Option<PathBuf>,
    client_cert_file: Option<PathBuf>,
    client_key_file: Option<PathBuf>,
}

/// TLS to the broker: the files are PEM, read when the server starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttTls {
    /// The CAs that may sign the broker's certificate; none: the public web's CAs.
    pub ca_file: Option<PathBuf>,
    /// The bridge's certificate and private key, for a broker that requires one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// MQTT ingestion: on when a broker is named.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttConfig {
    /// `host:port`.
    pub broker: String,
    pub topics: Vec<String>,
    pub reply_topic: String,
    pub dead_letter_topic: String,
    pub client_id: String,
    /// The API token messages are recorded as.
    pub token: String,
    /// The broker's user name and password, when it asks for them.
    pub credentials: Option<(String, String)>,
    /// TLS to the broker; `None`: plain TCP.
    pub tls: Option<MqttTls>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub db: String,
    pub listen: String,
    pub admin_password: Option<String>,
    /// `process` (default) or `power`: see `threadline_store_sqlite::Durability`.
    pub durability: String,
    /// Mark the session cookie `Secure` (default). Browsers accept secure cookies from
    /// `http://localhost`; turn this off only for plain HTTP on another host.
    pub cookie_secure: bool,
    /// Let webhooks reach loopback and private addresses (a receiver inside the plant).
    pub webhooks_allow_private: bool,
    /// The GS1 Company Prefixes EPCIS answers may write EPC URNs under
    /// (`GS1-EPC-Format: Always_EPC_URN`): the plant's own and its partners'.
    pub gs1_company_prefixes: Vec<String>,
    /// The operations that need an electronic signature: `disposition`, `recall_close`.
    pub signatures: threadline_server::esign::SignedOps,
    pub mqtt: Option<MqttConfig>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("db", &redact_url(&self.db))
            .field("listen", &self.listen)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<secret>"),
            )
            .field("durability", &self.durability)
            .field("cookie_secure", &self.cookie_secure)
            .field("webhooks_allow_private", &self.webhooks_allow_private)
            .field("gs1_company_prefixes", &self.gs1_company_prefixes)
            .field("signatures", &self.signatures)
            .field(
                "mqtt",
                &self.mqtt.as_ref().map(|m| {
                    (
                        &m.broker,
                        &m.topics,
                        &m.reply_topic,
                        &m.dead_letter_topic,
                        m.credentials.as_ref().map(|(user, _)| user),
                        &m.tls,
                    )
                }),
            )
            .finish()
    }
}

/// Hides a password in a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// What the command line said.
#[derive(Debug, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub db: Option<String>,
    pub listen: Option<String>,
    pub admin_password: Option<String>,
}

fn parse_bool(name: &str, v: &str) -> anyhow::Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => bail!("{name} must be true or false, not `{v}`"),
    }
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("reading secret file {}", path.display()))?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

/// Builds the configuration from `flags` and an environment (a function, so tests can pass
/// their own).
pub fn load(
    flags: Flags,
    env: &dyn Fn(&str) -> Option<String>,
    env_names: &[String],
) -> anyhow::Result<Config> {
    for name in env_names {
        if name.starts_with("THREADLINE_") && !KNOWN_ENV.contains(&name.as_str()) {
            tracing::warn!(variable = %name, "unknown THREADLINE_ environment variable ignored");
        }
    }
    let file_path = flags
        .config
        .clone()
        .or_else(|| env("THREADLINE_CONFIG").map(PathBuf::from));
    let file: FileConfig = match &file_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config file {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("config file {}", p.display()))?
        }
        None => FileConfig::default(),
    };
    let mut admin_password = file.admin_password;
    if let Some(p) = &file.admin_password_file {
        admin_password = Some(read_secret(p)?);
    }
    if let Some(p) = env("THREADLINE_ADMIN_PASSWORD") {
        admin_password = Some(p);
    }
    if let Some(p) = env("THREADLINE_ADMIN_PASSWORD_FILE") {
        admin_password = Some(read_secret(Path::new(&p))?);
    }
    if flags.admin_password.is_some() {
        admin_password = flags.admin_password;
    }
    let mqtt = mqtt_config(file.mqtt.unwrap_or_default(), env)?;
    let signatures = match env("THREADLINE_SIGNATURES") {
        Some(v) => signed_ops(
            "THREADLINE_SIGNATURES",
            v.split(',').map(str::trim).filter(|s| !s.is_empty()),
        )?,
        None => signed_ops(
            "signatures",
            file.signatures.iter().flatten().map(String::as_str),
        )?,
    };
    let cfg = Config {
        db: flags
            .db
            .or_else(|| env("THREADLINE_DB"))
            .or(file.db)
            .unwrap_or_else(|| DEFAULT_DB.to_owned()),
        listen: flags
            .listen
            .or_else(|| env("THREADLINE_LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
        admin_password,
        durability: env("THREADLINE_DURABILITY")
            .or(file.durability)
            .unwrap_or_else(|| "process".to_owned()),
        cookie_secure: match env("THREADLINE_COOKIE_SECURE") {
            Some(v) => parse_bool("THREADLINE_COOKIE_SECURE", &v)?,
            None => file.cookie_secure.unwrap_or(true),
        },
        webhooks_allow_private: match env("THREADLINE_WEBHOOKS_ALLOW_PRIVATE") {
            Some(v) => parse_bool("THREADLINE_WEBHOOKS_ALLOW_PRIVATE", &v)?,
            None => file.webhooks_allow_private.unwrap_or(false),
        },
        gs1_company_prefixes: match env("THREADLINE_GS1_COMPANY_PREFIXES") {
            Some(v) => v
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            None => file.gs1_company_prefixes.unwrap_or_default(),
        },
        signatures,
        mqtt,
    };
    if !matches!(cfg.durability.as_str(), "process" | "power") {
        bail!(
            "durability must be `process` or `power`, not `{}`",
            cfg.durability
        );
    }
    if let Err(e) = threadline_epcis::format::CompanyPrefixes::new(cfg.gs1_company_prefixes.clone())
    {
        bail!("gs1_company_prefixes: {e}");
    }
    if let Some(p) = &cfg.admin_password
        && p.chars().count() < 8
    {
        bail!("the admin password must be at least 8 characters");
    }
    Ok(cfg)
}

fn signed_ops<'a>(
    key: &str,
    names: impl Iterator<Item = &'a str>,
) -> anyhow::Result<threadline_server::esign::SignedOps> {
    use threadline_server::esign::{Signed, SignedOps};
    let mut ops = SignedOps::NONE;
    for n in names {
        let Some(op) = Signed::parse(n) else {
            bail!(
                "{key}: `{n}` is not an operation that can be signed; they are {}",
                Signed::ALL.map(Signed::as_str).join(", ")
            );
        };
        ops = ops.with(op);
    }
    Ok(ops)
}

fn mqtt_config(
    file: MqttFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<MqttConfig>> {
    let Some(broker) = env("THREADLINE_MQTT_BROKER").or(file.broker) else {
        return Ok(None);
    };
    let topics = match env("THREADLINE_MQTT_TOPICS") {
        Some(t) => t
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        None => file.topics.unwrap_or_default(),
    };
    if topics.is_empty() {
        bail!(
            "MQTT needs at least one topic to subscribe to (mqtt.topics or THREADLINE_MQTT_TOPICS)"
        );
    }
    let token = match (
        env("THREADLINE_MQTT_TOKEN"),
        env("THREADLINE_MQTT_TOKEN_FILE"),
    ) {
        (_, Some(p)) => read_secret(Path::new(&p))?,
        (Some(t), None) => t,
        (None, None) => match &file.token_file {
            Some(p) => read_secret(p)?,
            None => bail!(
                "MQTT needs the API token its messages are recorded as (mqtt.token_file, THREADLINE_MQTT_TOKEN or THREADLINE_MQTT_TOKEN_FILE)"
            ),
        },
    };
    let username = env("THREADLINE_MQTT_USERNAME").or(file.username);
    let password = match (
        env("THREADLINE_MQTT_PASSWORD"),
        env("THREADLINE_MQTT_PASSWORD_FILE"),
    ) {
        (_, Some(p)) => Some(read_secret(Path::new(&p))?),
        (Some(p), None) => Some(p),
        (None, None) => match (&file.password_file, file.password) {
            (Some(p), _) => Some(read_secret(p)?),
            (None, p) => p,
        },
    };
    let credentials = match (username, password) {
        (Some(u), Some(p)) => Some((u, p)),
        (Some(u), None) => Some((u, String::new())),
        (None, Some(_)) => bail!(
            "an MQTT password is set but no user name (mqtt.username or THREADLINE_MQTT_USERNAME)"
        ),
        (None, None) => None,
    };
    let path = |var: &str, file: Option<PathBuf>| env(var).map(PathBuf::from).or(file);
    let ca_file = path("THREADLINE_MQTT_CA_FILE", file.ca_file);
    let client_cert = path("THREADLINE_MQTT_CLIENT_CERT_FILE", file.client_cert_file);
    let client_key = path("THREADLINE_MQTT_CLIENT_KEY_FILE", file.client_key_file);
    let client = match (client_cert, client_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        (Some(_), None) => bail!(
            "an MQTT client certificate needs its private key (mqtt.client_key_file or THREADLINE_MQTT_CLIENT_KEY_FILE)"
        ),
        (None, Some(_)) => bail!(
            "an MQTT client key needs its certificate (mqtt.client_cert_file or THREADLINE_MQTT_CLIENT_CERT_FILE)"
        ),
    };
    let files_given = ca_file.is_some() || client.is_some();
    let tls_on = match env("THREADLINE_MQTT_TLS") {
        Some(v) => parse_bool("THREADLINE_MQTT_TLS", &v)?,
        None => file.tls.unwrap_or(files_given),
    };
    if !tls_on && files_given {
        bail!(
            "MQTT certificate files are set but TLS is off (mqtt.tls = false or THREADLINE_MQTT_TLS=false)"
        );
    }
    Ok(Some(MqttConfig {
        broker,
        topics,
        reply_topic: file
            .reply_topic
            .unwrap_or_else(|| "threadline/replies".into()),
        dead_letter_topic: file
            .dead_letter_topic
            .unwrap_or_else(|| "threadline/dead-letter".into()),
        client_id: file.client_id.unwrap_or_else(|| "threadline".into()),
        token,
        credentials,
        tls: tls_on.then_some(MqttTls { ca_file, client }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn flags_beat_env_beats_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "db = \"sqlite:/from/file.db\"\nlisten = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let flags = || Flags {
            config: Some(file.clone()),
            ..Default::default()
        };

        let c = load(flags(), &env_of(&[]), &[]).unwrap();
        assert_eq!(
            (c.db.as_str(), c.listen.as_str()),
            ("sqlite:/from/file.db", "0.0.0.0:1")
        );
        let c = load(
            flags(),
            &env_of(&[("THREADLINE_DB", "sqlite:/env.db")]),
            &[],
        )
        .unwrap();
        assert_eq!(c.db, "sqlite:/env.db");
        let c = load(
            Flags {
                db: Some("sqlite:/flag.db".into()),
                ..flags()
            },
            &env_of(&[("THREADLINE_DB", "x")]),
            &[],
        )
        .unwrap();
        assert_eq!(c.db, "sqlite:/flag.db");
        let c = load(Flags::default(), &env_of(&[]), &[]).unwrap();
        assert_eq!(
            (c.db.as_str(), c.listen.as_str()),
            (DEFAULT_DB, DEFAULT_LISTEN)
        );
    }

    #[test]
    fn secrets_come_from_files_and_are_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("pw");
        std::fs::write(&secret, "correct horse battery\n").unwrap();
        let c = load(
            Flags::default(),
            &env_of(&[("THREADLINE_ADMIN_PASSWORD_FILE", secret.to_str().unwrap())]),
            &[],
        )
        .unwrap();
        assert_eq!(c.admin_password.as_deref(), Some("correct horse battery"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("horse"), "{shown}");
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn session_cookies_are_secure_unless_turned_off() {
        let c = load(Flags::default(), &env_of(&[]), &[]).unwrap();
        assert!(c.cookie_secure);
        let c = load(
            Flags::default(),
            &env_of(&[("THREADLINE_COOKIE_SECURE", "false")]),
            &[],
        )
        .unwrap();
        assert!(!c.cookie_secure);
        let e = load(
            Flags::default(),
            &env_of(&[("THREADLINE_COOKIE_SECURE", "maybe")]),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("true or false"), "{e}");
    }

    #[test]
    fn signatures_are_required_for_the_operations_named() {
        use threadline_server::esign::Signed;
        let c = load(Flags::default(), &env_of(&[]), &[]).unwrap();
        assert!(!c.signatures.contains(Signed::Disposition));
        let c = load(
            Flags::default(),
            &env_of(&[("THREADLINE_SIGNATURES", "disposition, recall_close")]),
            &[],
        )
        .unwrap();
        assert!(c.signatures.contains(Signed::Disposition));
        assert!(c.signatures.contains(Signed::RecallClose));
        let e = load(
            Flags::default(),
            &env_of(&[("THREADLINE_SIGNATURES", "release")]),
            &[],
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("`release` is not an operation"),
            "{e}"
        );
    }

    #[test]
    fn bad_configuration_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "dbb = \"x\"\n").unwrap();
        let e = load(
            Flags {
                config: Some(file),
                ..Default::default()
            },
            &env_of(&[]),
            &[],
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("unknown field"), "{e:#}");
        let e = load(
            Flags {
                admin_password: Some("short".into()),
                ..Default::default()
            },
            &env_of(&[]),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("at least 8"));
    }

    #[test]
    fn mqtt_is_on_when_a_broker_is_named_and_needs_topics_and_a_token() {
        let c = load(Flags::default(), &env_of(&[]), &[]).unwrap();
        assert!(c.mqtt.is_none());
        let c = load(
            Flags::default(),
            &env_of(&[
                ("THREADLINE_MQTT_BROKER", "127.0.0.1:1883"),
                ("THREADLINE_MQTT_TOPICS", "plant/+/scans, plant/+/events"),
                ("THREADLINE_MQTT_TOKEN", "tlt_x"),
            ]),
            &[],
        )
        .unwrap();
        let m = c.mqtt.clone().unwrap();
        assert_eq!(m.topics, vec!["plant/+/scans", "plant/+/events"]);
        assert_eq!(m.reply_topic, "threadline/replies");
        assert!(
            !format!("{c:?}").contains("tlt_x"),
            "the token is never printed"
        );
        let e = load(
            Flags::default(),
            &env_of(&[
                ("THREADLINE_MQTT_BROKER", "127.0.0.1:1883"),
                ("THREADLINE_MQTT_TOPICS", "a"),
            ]),
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
    }

    #[test]
    fn mqtt_credentials_and_tls_come_from_file_env_and_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("mqtt-pw");
        std::fs::write(&pw, "s3cret-broker\n").unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            format!(
                "[mqtt]\nbroker = \"broker.plant:8883\"\ntopics = [\"plant/+/scans\"]\ntoken_file = \"{tok}\"\n\
                 username = \"threadline\"\npassword_file = \"{pw}\"\nca_file = \"/etc/plant/ca.pem\"\n",
                tok = pw.display(),
                pw = pw.display()
            ),
        )
        .unwrap();
        let flags = || Flags {
            config: Some(file.clone()),
            ..Default::default()
        };
        // A CA file turns TLS on; the password comes from its file and is never printed.
        let c = load(flags(), &env_of(&[]), &[]).unwrap();
        let m = c.mqtt.clone().unwrap();
        assert_eq!(
            m.credentials,
            Some(("threadline".into(), "s3cret-broker".into()))
        );
        assert_eq!(
            m.tls,
            Some(MqttTls {
                ca_file: Some("/etc/plant/ca.pem".into()),
                client: None
            })
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("threadline"), "{shown}");
        // The environment beats the file: another user, a password, mutual TLS.
        let c = load(
            flags(),
            &env_of(&[
                ("THREADLINE_MQTT_USERNAME", "gw"),
                ("THREADLINE_MQTT_PASSWORD", "from-env"),
                ("THREADLINE_MQTT_CLIENT_CERT_FILE", "/c.pem"),
                ("THREADLINE_MQTT_CLIENT_KEY_FILE", "/k.pem"),
            ]),
            &[],
        )
        .unwrap();
        let m = c.mqtt.unwrap();
        assert_eq!(m.credentials, Some(("gw".into(), "from-env".into())));
        assert_eq!(
            m.tls.unwrap().client,
            Some(("/c.pem".into(), "/k.pem".into()))
        );
        // Plain TCP without files; TLS on by the switch alone (the public CAs).
        let base = [
            ("THREADLINE_MQTT_BROKER", "127.0.0.1:1883"),
            ("THREADLINE_MQTT_TOPICS", "a"),
            ("THREADLINE_MQTT_TOKEN", "tlt_x"),
        ];
        let c = load(Flags::default(), &env_of(&base), &[]).unwrap();
        assert_eq!(c.mqtt.as_ref().unwrap().tls, None);
        assert_eq!(c.mqtt.unwrap().credentials, None);
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            load(Flags::default(), &env_of(&all), &[])
        };
        let c = with(&[("THREADLINE_MQTT_TLS", "true")]).unwrap();
        assert_eq!(
            c.mqtt.unwrap().tls,
            Some(MqttTls {
                ca_file: None,
                client: None
            })
        );
        // Refusals name what is missing or contradictory.
        let e = with(&[("THREADLINE_MQTT_PASSWORD", "x")]).unwrap_err();
        assert!(e.to_string().contains("no user name"), "{e}");
        let e = with(&[("THREADLINE_MQTT_CLIENT_CERT_FILE", "/c.pem")]).unwrap_err();
        assert!(e.to_string().contains("private key"), "{e}");
        let e = with(&[
            ("THREADLINE_MQTT_CA_FILE", "/ca.pem"),
            ("THREADLINE_MQTT_TLS", "false"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("TLS is off"), "{e}");
        let e = with(&[("THREADLINE_MQTT_TLS", "sometimes")]).unwrap_err();
        assert!(e.to_string().contains("THREADLINE_MQTT_TLS"), "{e}");
    }
}
