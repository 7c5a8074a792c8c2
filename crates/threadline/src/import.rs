//! `threadline import KIND FILE [--commit]`: the bulk import of the API
//! ([`threadline_server::import::run`]) from the command line, into a database it opens or
//! through a running server. Both paths give the same report: how many rows, or every bad row
//! by its spreadsheet row and header.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use threadline_server::error::AppError;
use threadline_store::Store;

/// Where the rows go.
pub enum Target {
    /// Straight into this database, recorded as actor `cli`.
    Database(Arc<dyn Store>),
    /// `POST /api/v1/imports/{kind}` on the server at `url`, with an API token.
    Server { url: String, token: String },
}

/// The media type of an import file, by its extension.
pub fn media_type(file: &Path) -> anyhow::Result<&'static str> {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Ok("text/csv"),
        Some("xlsx") => Ok(threadline_server::import::XLSX),
        _ => bail!(
            "{}: an import file is .csv or .xlsx (name it so)",
            file.display()
        ),
    }
}

/// The import's answer (`{kind, rows, dry_run, entries}`), or the problems that refused it
/// (`{code, message, field}` each); nothing was kept in the second case.
pub type Outcome = Result<Value, Vec<Value>>;

/// Imports `file` as `kind` into `target`, keeping the rows only if `commit`.
pub async fn import(
    target: &Target,
    kind: &str,
    file: &Path,
    commit: bool,
) -> anyhow::Result<Outcome> {
    let ct = media_type(file)?;
    match target {
        Target::Database(store) => {
            // A commit keeps its audit record with its rows, in one transaction.
            let audit: threadline_store::AuditOf<threadline_server::import::Summary> = {
                let (object, file) = (format!("imports/{kind}"), file.display().to_string());
                Box::new(move |s: &threadline_server::import::Summary| {
                    crate::audit_cli("import", &object, json!({"rows": s.rows, "file": file}))
                })
            };
            // The file is read a chunk at a time, not loaded.
            std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
            let outcome = threadline_server::import::run(
                &**store,
                kind,
                ct,
                file,
                !commit,
                None,
                "cli",
                chrono::Utc::now(),
                Some(audit),
            )
            .await;
            match outcome {
                Ok(imported) => Ok(Ok(imported.answer)),
                Err(AppError::Internal(m)) => bail!("the import failed: {m}"),
                Err(e) => Ok(Err(e
                    .into_errors()
                    .into_iter()
                    .map(|f| serde_json::to_value(f).unwrap_or(Value::Null))
                    .collect())),
            }
        }
        Target::Server { url, token } => {
            // The file goes out a piece at a time, as the server stores it: a million-row CSV
            // is never held here.
            let opened =
                std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
            let size = opened
                .metadata()
                .with_context(|| format!("reading {}", file.display()))?
                .len();
            let body = reqwest::Body::wrap_stream(file_pieces(opened));
            let mode = if commit { "commit" } else { "dry_run" };
            let endpoint = format!(
                "{}/api/v1/imports/{kind}?mode={mode}",
                url.trim_end_matches('/')
            );
            let resp = reqwest::Client::new()
                .post(&endpoint)
                .bearer_auth(token)
                .header(reqwest::header::CONTENT_TYPE, ct)
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(body)
                .send()
                .await
                .with_context(|| format!("sending the file to {endpoint}"))?;
            let status = resp.status();
            let bytes = resp
                .bytes()
                .await
                .with_context(|| format!("reading the answer of {endpoint}"))?;
            let answer: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("{endpoint} answered {status} without JSON"))?;
            if status.is_success() {
                return Ok(Ok(answer));
            }
            match answer["errors"].as_array() {
                Some(errors) if !errors.is_empty() => Ok(Err(errors.clone())),
                _ => bail!("{endpoint} answered {status}: {answer}"),
            }
        }
    }
}

/// The bytes of `file` in pieces of 64 KiB, read as they are sent (a local file: each read is
/// short, and the command line has nothing else to do meanwhile).
fn file_pieces(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::try_unfold(file, |mut file| async move {
        use std::io::Read;
        let mut piece = vec![0u8; 64 * 1024];
        let n = file.read(&mut piece)?;
        if n == 0 {
            return Ok(None);
        }
        piece.truncate(n);
        Ok(Some((piece, file)))
    })
}

/// Prints the outcome (the summary on standard output, refusals on standard error) and
/// returns the exit code: 0 when every row was good, 1 when any was refused.
pub fn report(kind: &str, outcome: &Outcome) -> i32 {
    match outcome {
        Ok(v) => {
            let rows = v["rows"].as_u64().unwrap_or(0);
            if v["dry_run"] == Value::Bool(true) {
                println!(
                    "{rows} {kind} rows checked, all good. Nothing was written (a dry run); add --commit to keep them."
                );
            } else {
                // `entries` lists the first receipts only; the sequence numbers span them all.
                let entries = match (v["first_seq"].as_i64(), v["last_seq"].as_i64()) {
                    (Some(first), Some(last)) => last - first + 1,
                    _ => 0,
                };
                println!("{rows} {kind} rows imported ({entries} ledger entries).");
            }
            0
        }
        Err(errors) => {
            eprintln!(
                "Refused: {} problem{}; nothing was written.",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            for e in errors {
                let message = e["message"].as_str().unwrap_or("");
                match e["field"].as_str() {
                    Some(field) => eprintln!("  {field}: {message}"),
                    None => eprintln!("  {message}"),
                }
            }
            1
        }
    }
}
