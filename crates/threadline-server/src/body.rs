//! Reading JSON request bodies so that every mistake names its field: `items[2].serial`,
//! `events[14].event_time`. Built on `serde_path_to_error`.

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Requests larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

fn classify(msg: &str) -> &'static str {
    if msg.starts_with("unknown field") {
        "unknown_field"
    } else if msg.starts_with("missing field") {
        "missing_field"
    } else if msg.starts_with("invalid type") {
        "invalid_type"
    } else if msg.starts_with("unknown variant") {
        "unknown_value"
    } else {
        "invalid_value"
    }
}

/// Turns serde's path (`[3].items[0].serial`) into ours, with `prefix` for a leading index.
fn field_path(path: &serde_path_to_error::Path, array_prefix: &str) -> Option<String> {
    let p = path.to_string();
    if p == "." || p.is_empty() {
        return None;
    }
    Some(if p.starts_with('[') {
        format!("{array_prefix}{p}")
    } else {
        p
    })
}

pub fn require_json(headers: &HeaderMap) -> Result<(), AppError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")) {
        return Ok(());
    }
    Err(AppError::malformed(
        "unsupported_media_type",
        format!("send the body as application/json (got `{ct}`)"),
        Some("Content-Type".into()),
    ))
}

/// Parses `bytes` as `T`, naming the field of the first problem.
pub fn parse<T: DeserializeOwned>(bytes: &[u8], array_prefix: &str) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let mut field = field_path(e.path(), array_prefix);
            let inner = e.into_inner();
            let msg = inner.to_string();
            // A missing field is reported at the object that lacks it: name the field itself.
            if let Some(name) = msg
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                field = Some(match field {
                    Some(at) => format!("{at}.{name}"),
                    None => name.to_owned(),
                });
            }
            let code = match inner.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "malformed_json"
                }
                _ => classify(&msg),
            };
            // serde appends " at line L column C"; keep it for syntax errors only, where it helps.
            let msg = if code == "malformed_json" {
                format!("the body is not valid JSON: {msg}")
            } else {
                msg.split(" at line ").next().unwrap_or(&msg).to_owned()
            };
            Err(AppError::malformed(code, msg, field))
        }
    }
}

/// The first non-blank byte, to tell a single object from a batch array.
pub fn first_byte(bytes: &Bytes) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}
