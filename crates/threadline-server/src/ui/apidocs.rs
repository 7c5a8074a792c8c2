//! `GET /api/docs`: the API reference for people, drawn on the server from the OpenAPI
//! document ([`crate::openapi::document`]) — the same document an ERP imports, so the two
//! cannot disagree. Plain HTML, no script; the labels come from the catalogue.

use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{esc, lang_of_request};
use crate::i18n::{Lang, Msg, t};

/// Text with `code` spans for back-quoted parts, and paragraphs.
fn prose(s: &str) -> String {
    s.split("\n\n")
        .map(|para| {
            let html: String = para
                .split('`')
                .enumerate()
                .map(|(i, part)| {
                    if i % 2 == 1 {
                        format!("<code>{}</code>", esc(part))
                    } else {
                        esc(part)
                    }
                })
                .collect();
            format!("<p>{html}</p>")
        })
        .collect()
}

fn pretty(v: &Value) -> String {
    match v {
        // A file's text (a CSV example) as it would be sent.
        Value::String(text) => esc(text),
        v => esc(&serde_json::to_string_pretty(v).unwrap_or_default()),
    }
}

/// A schema in a word or two: its type, or a link to the named schema it refers to.
fn type_of(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{n}\">{n}</a>", n = esc(name));
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        let v: Vec<String> = values
            .iter()
            .map(|v| esc(v.as_str().unwrap_or("")))
            .collect();
        return v.join(" | ");
    }
    match s.get("type") {
        Some(Value::String(ty)) if ty == "array" => {
            format!("{}[]", s.get("items").map(type_of).unwrap_or_default())
        }
        Some(Value::String(ty)) => {
            let format = s
                .get("format")
                .and_then(Value::as_str)
                .map(|f| format!(" ({})", esc(f)))
                .unwrap_or_default();
            format!("{}{format}", esc(ty))
        }
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .map(esc)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| s.get(*k).and_then(Value::as_array))
            .map(|alts| alts.iter().map(type_of).collect::<Vec<_>>().join(" | "))
            .unwrap_or_else(|| "any".into()),
    }
}

fn anchor(op: &Value) -> String {
    esc(op["operationId"].as_str().unwrap_or(""))
}

fn parameters(lang: Lang, op: &Value) -> String {
    let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) else {
        return String::new();
    };
    let rows: String = params
        .iter()
        .map(|p| {
            let example = p
                .get("example")
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .map(|e| format!(" <span class=\"muted\">{}: <code>{}</code></span>", t(lang, Msg::Example), esc(&e)))
                .unwrap_or_default();
            format!(
                "<tr><td><code>{name}</code></td><td>{within}</td><td>{ty}</td><td>{req}</td><td>{desc}{example}</td></tr>",
                name = esc(p["name"].as_str().unwrap_or("")),
                within = esc(p["in"].as_str().unwrap_or("")),
                ty = type_of(&p["schema"]),
                req = t(lang, if p["required"] == Value::Bool(true) { Msg::Required } else { Msg::Optional }),
                desc = prose(p["description"].as_str().unwrap_or("")),
            )
        })
        .collect();
    format!(
        "<h4>{title}</h4><table><thead><tr><th>{name}</th><th>{within}</th><th>{ty}</th><th></th><th>{desc}</th></tr></thead><tbody>{rows}</tbody></table>",
        title = t(lang, Msg::Parameters),
        name = t(lang, Msg::Name),
        within = t(lang, Msg::ParamIn),
        ty = t(lang, Msg::ParamType),
        desc = t(lang, Msg::Description),
    )
}

/// The media types of a request or response, with schema and example where JSON.
fn content(lang: Lang, c: &Value) -> String {
    let Some(map) = c.as_object() else {
        return String::new();
    };
    map.iter()
        .map(|(media, body)| {
            let mut example = body
                .get("example")
                .map(|e| {
                    format!(
                        "<details open><summary>{}</summary><pre>{}</pre></details>",
                        t(lang, Msg::Example),
                        pretty(e)
                    )
                })
                .unwrap_or_default();
            // Named examples: each with its summary, and the request a refusal answers.
            for e in body
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
            {
                let request = e
                    .get("x-request")
                    .map(|r| {
                        format!(
                            "<p class=\"muted\">{}</p><pre>{}</pre>",
                            t(lang, Msg::RequestBody),
                            pretty(r)
                        )
                    })
                    .unwrap_or_default();
                example.push_str(&format!(
                    "<details open><summary>{}: {}</summary>{request}<pre>{}</pre></details>",
                    t(lang, Msg::Example),
                    esc(e["summary"].as_str().unwrap_or("")),
                    pretty(&e["value"])
                ));
            }
            format!(
                "<p><code>{}</code> · {}</p>{example}",
                esc(media),
                type_of(&body["schema"])
            )
        })
        .collect()
}

fn operation(lang: Lang, doc: &Value, path: &str, method: &str, op: &Value) -> String {
    let request = op
        .get("requestBody")
        .map(|b| {
            format!(
                "<h4>{}</h4>{}{}",
                t(lang, Msg::RequestBody),
                b.get("description")
                    .and_then(Value::as_str)
                    .map(prose)
                    .unwrap_or_default(),
                content(lang, &b["content"])
            )
        })
        .unwrap_or_default();
    let responses: String = op["responses"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(status, r)| match r.get("$ref").and_then(Value::as_str) {
                    Some(target) => {
                        let shared = doc
                            .pointer(target.trim_start_matches('#'))
                            .and_then(|r| r["description"].as_str())
                            .unwrap_or("");
                        format!(
                            "<li><a href=\"#response-{s}\">{s}</a> {d}</li>",
                            s = esc(target.rsplit('/').next().unwrap_or(status)),
                            d = esc(shared)
                        )
                    }
                    None => format!(
                        "<li><strong>{}</strong> {}{}</li>",
                        esc(status),
                        esc(r["description"].as_str().unwrap_or("")),
                        content(lang, &r["content"])
                    ),
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "<section id=\"{id}\" class=\"api-op\"><h3><span class=\"method method-{m}\">{M}</span> <code>{path}</code></h3>\
         <p><strong>{summary}</strong></p>{description}<p><span class=\"muted\">{perm}:</span> <code>{x}</code></p>\
         {params}{request}<h4>{resp}</h4><ul>{responses}</ul></section>",
        id = anchor(op),
        m = esc(method),
        M = esc(&method.to_ascii_uppercase()),
        path = esc(path),
        summary = esc(op["summary"].as_str().unwrap_or("")),
        description = prose(op["description"].as_str().unwrap_or("")),
        perm = t(lang, Msg::Permission),
        x = esc(op["x-permission"].as_str().unwrap_or("")),
        params = parameters(lang, op),
        resp = t(lang, Msg::Responses),
    )
}

/// One operation: path, method, the operation object.
type Entry = (String, String, Value);

/// The reference page of `doc`, in `lang`.
pub fn render(lang: Lang, doc: &Value) -> String {
    let mut by_tag: Vec<(String, Vec<Entry>)> = doc["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| (t["name"].as_str().unwrap_or("").to_owned(), Vec::new()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let tag = op["tags"][0].as_str().unwrap_or("");
                if let Some((_, ops)) = by_tag.iter_mut().find(|(t, _)| t == tag) {
                    ops.push((path.clone(), method.clone(), op.clone()));
                }
            }
        }
    }
    let toc: String = by_tag
        .iter()
        .map(|(tag, ops)| {
            let items: String = ops
                .iter()
                .map(|(path, method, op)| {
                    format!(
                        "<li><a href=\"#{id}\"><span class=\"method method-{m}\">{M}</span> <code>{p}</code></a> {s}</li>",
                        id = anchor(op),
                        m = esc(method),
                        M = esc(&method.to_ascii_uppercase()),
                        p = esc(path),
                        s = esc(op["summary"].as_str().unwrap_or("")),
                    )
                })
                .collect();
            format!("<h3>{}</h3><ul class=\"api-toc\">{items}</ul>", esc(tag))
        })
        .collect();
    let operations: String = by_tag
        .iter()
        .map(|(tag, ops)| {
            let body: String = ops
                .iter()
                .map(|(path, method, op)| operation(lang, doc, path, method, op))
                .collect();
            format!("<h2>{}</h2>{body}", esc(tag))
        })
        .collect();
    let errors: String = doc["components"]["responses"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(status, r)| {
                    format!(
                        "<li id=\"response-{s}\"><strong>{s}</strong> {d}{c}</li>",
                        s = esc(status),
                        d = prose(r["description"].as_str().unwrap_or("")),
                        c = content(lang, &r["content"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let schemas: String = doc["components"]["schemas"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, s)| {
                    format!(
                        "<details id=\"schema-{n}\"><summary><code>{n}</code></summary><pre>{body}</pre></details>",
                        n = esc(name),
                        body = pretty(s)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "<section><h1>{title}</h1><p>{intro}</p><p><a id=\"openapi-json\" href=\"/api/v1/openapi.json\">{download}</a> · OpenAPI {version}</p>\
         <h2>{contents}</h2>{toc}</section>{operations}<section><h2>{resp}</h2><p>{shape}</p><ul>{errors}</ul></section>\
         <section><h2>{schemas_title}</h2>{schemas}</section>",
        title = t(lang, Msg::ApiReference),
        intro = t(lang, Msg::ApiDocIntro),
        download = t(lang, Msg::OpenApiDocument),
        version = esc(doc["openapi"].as_str().unwrap_or("")),
        contents = t(lang, Msg::Contents),
        resp = t(lang, Msg::Responses),
        shape = t(lang, Msg::ErrorShape),
        schemas_title = t(lang, Msg::Schemas),
    )
}

/// `GET /api/docs`: public, like the document it shows.
pub async fn page(uri: Uri, headers: HeaderMap) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let doc = crate::openapi::document();
    super::page(lang, t(lang, Msg::ApiReference), None, &render(lang, &doc)).into_response()
}
