//! `threadline serial rule …`: serial rules as master data from the command line, through the
//! same checks and ledger writes as `/api/v1/serial-rules`.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use threadline_domain::master::MasterRecord;
use threadline_server::error::AppError;
use threadline_server::serials::{RuleBody, put_rule, rule_view};
use threadline_store::{ListQuery, MasterWrite, Store};

use crate::cli::RuleCommand;

/// The actor recorded on the ledger entries the command line writes.
const ACTOR: &str = "cli";

fn refused(e: AppError) -> anyhow::Error {
    let fields = match &e {
        AppError::Malformed(v) | AppError::Rule(v) | AppError::Conflict(v) => v
            .iter()
            .filter_map(|f| f.field.clone())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    };
    if fields.is_empty() {
        anyhow::anyhow!("refused: {}", e.first_message())
    } else {
        anyhow::anyhow!("refused ({fields}): {}", e.first_message())
    }
}

fn read_body(file: &Path) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    if file == Path::new("-") {
        std::io::stdin().read_to_end(&mut body)?;
    } else {
        body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    }
    Ok(body)
}

/// Runs one rule command; returns the process exit code.
pub async fn run(store: &dyn Store, cmd: RuleCommand) -> anyhow::Result<i32> {
    let now = chrono::Utc::now();
    let mut out = std::io::stdout().lock();
    match cmd {
        RuleCommand::Create { file, .. } => {
            let body = read_body(&file)?;
            let record = threadline_server::body::parse::<RuleBody>(&body, "")
                .and_then(RuleBody::into_record)
                .map_err(refused)?;
            let v = put_rule(store, record, None, ACTOR, now, None)
                .await
                .map_err(refused)?;
            writeln!(
                out,
                "created serial rule {} (version {})",
                v.def.code(),
                v.version
            )?;
        }
        RuleCommand::List { .. } => {
            let mut after = None;
            loop {
                let page = store
                    .serial_rules(&ListQuery {
                        after: after.take(),
                        limit: 1000,
                        ..ListQuery::default()
                    })
                    .await?;
                for v in &page.items {
                    let template = v.def.rule.get("template").and_then(|t| t.as_str());
                    writeln!(
                        out,
                        "{}\tv{}\t{}\t{}",
                        v.def.code(),
                        v.version,
                        template.unwrap_or(""),
                        v.def.categories.join(",")
                    )?;
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }
        RuleCommand::Show { code, .. } => {
            let Some(v) = store.serial_rule(&code).await? else {
                bail!("serial rule {code} does not exist")
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&rule_view(&v))?)?;
        }
        RuleCommand::Assign {
            code,
            product,
            category,
            ..
        } => {
            let Some(rule) = store.serial_rule(&code).await? else {
                bail!("serial rule {code} does not exist")
            };
            if let Some(product) = product {
                let Some(p) = store.product(&product).await? else {
                    bail!("product {product} does not exist")
                };
                let mut def = p.def;
                def.serial_rule = Some(serde_json::Value::String(code.clone()));
                store
                    .put_master(MasterWrite {
                        record: MasterRecord::Product(def),
                        actor: ACTOR.to_owned(),
                        now,
                        id: uuid::Uuid::now_v7(),
                        replaces: Some(p.version),
                    })
                    .await
                    .map_err(|e| refused(e.into()))?;
                writeln!(out, "product {product} now takes serial rule {code}")?;
            } else if let Some(category) = category {
                let mut def = rule.def;
                if !def.categories.contains(&category) {
                    def.categories.push(category.clone());
                }
                put_rule(store, def, Some(rule.version), ACTOR, now, None)
                    .await
                    .map_err(refused)?;
                writeln!(out, "category {category} now takes serial rule {code}")?;
            }
        }
    }
    Ok(0)
}
