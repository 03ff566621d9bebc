//! Checks a document from a plugin and turns it into a bulk action, without re-encoding the
//! body: the JSON text is parsed once to validate it, then the host's fields are spliced in.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use sha2::{Digest, Sha256};

use crate::runtime::types;
use crate::sink::{Action, Op};

/// Elasticsearch rejects `_id`s longer than this (bytes).
pub const MAX_ID_BYTES: usize = 512;

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("document has an empty id")]
    EmptyId,
    #[error("document body is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("document body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("document body must be a JSON object, got {0}")]
    NotAnObject(String),
    #[error("document timestamp {0:?} is not an RFC 3339 date-time")]
    BadTimestamp(String),
}

impl DocError {
    pub fn kind(&self) -> &'static str {
        match self {
            DocError::EmptyId => "empty_id",
            DocError::TooLarge { .. } => "document_too_large",
            DocError::InvalidJson(_) => "invalid_json",
            DocError::NotAnObject(_) => "not_an_object",
            DocError::BadTimestamp(_) => "bad_timestamp",
        }
    }
}

/// What the validating parse learned about the body's top-level keys.
#[derive(Default)]
struct TopLevel {
    has_id: bool,
    has_timestamp: bool,
    empty: bool,
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut seen = TopLevel {
            empty: true,
            ..TopLevel::default()
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            seen.empty = false;
            match &*key {
                "id" => seen.has_id = true,
                "_timestamp" => seen.has_timestamp = true,
                _ => {}
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(seen)
    }
}

fn inspect(body: &str) -> Result<TopLevel, DocError> {
    let mut de = serde_json::Deserializer::from_str(body);
    let top = match (&mut de).deserialize_map(TopLevelVisitor) {
        Ok(top) => top,
        Err(e) if e.is_data() => {
            let what = serde_json::from_str::<serde_json::Value>(body)
                .map(|v| match v {
                    serde_json::Value::Array(_) => "an array",
                    serde_json::Value::String(_) => "a string",
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Null => "null",
                    serde_json::Value::Object(_) => "an object",
                })
                .unwrap_or("something else");
            return Err(DocError::NotAnObject(what.into()));
        }
        Err(e) => return Err(DocError::InvalidJson(e.to_string())),
    };
    de.end().map_err(|e| DocError::InvalidJson(e.to_string()))?;
    Ok(top)
}

/// Limits and settings applied to each document.
pub struct DocLimits<'a> {
    pub max_body_bytes: usize,
    /// Elastic's pipeline settings: each document carries them as `_extract_binary_content`,
    /// `_reduce_whitespace` and `_run_ml_inference` for the ingest pipeline, and binary
    /// attachments are sent only when extraction is on.
    pub pipeline: Option<&'a crate::config::Pipeline>,
}

/// Validates a plugin's document and builds the bulk action for it.
///
/// `now` (RFC 3339) is used as `_timestamp` when neither the document nor its body has one. The
/// `id` field is added (Elastic's connectors carry it) unless the body has its own.
pub fn prepare(
    doc: types::Document,
    now: &str,
    limits: &DocLimits<'_>,
) -> Result<Action, DocError> {
    if doc.id.is_empty() {
        return Err(DocError::EmptyId);
    }
    let id = if doc.id.len() > MAX_ID_BYTES {
        hex::encode(Sha256::digest(doc.id.as_bytes()))
    } else {
        doc.id
    };
    if doc.op == types::Operation::Delete {
        return Ok(Action {
            id,
            op: Op::Delete,
            source: None,
        });
    }
    let attachment_len = match &doc.attachment {
        Some(types::Attachment::Bytes(b)) => b.len() * 4 / 3 + 4,
        Some(types::Attachment::Text(t)) => t.len(),
        None => 0,
    };
    let size = doc.body.len() + attachment_len;
    if size > limits.max_body_bytes {
        return Err(DocError::TooLarge {
            size,
            limit: limits.max_body_bytes,
        });
    }
    if let Some(ts) = &doc.timestamp
        && chrono::DateTime::parse_from_rfc3339(ts).is_err()
    {
        return Err(DocError::BadTimestamp(ts.clone()));
    }
    let top = inspect(&doc.body)?;

    let mut fields: Vec<(&str, String)> = Vec::with_capacity(4);
    if !top.has_id {
        fields.push(("id", json_string(&id)));
    }
    match (&doc.timestamp, top.has_timestamp) {
        // The document's own timestamp wins; a body with `_timestamp` keeps it.
        (Some(ts), false) => fields.push(("_timestamp", json_string(ts))),
        (None, false) => fields.push(("_timestamp", json_string(now))),
        (_, true) => {}
    }
    let extract = limits.pipeline.is_none_or(|p| p.extract_binary_content);
    match &doc.attachment {
        Some(types::Attachment::Bytes(b)) if extract => fields.push((
            "_attachment",
            json_string(&base64::engine::general_purpose::STANDARD.encode(b)),
        )),
        Some(types::Attachment::Text(t)) => fields.push(("body", json_string(t))),
        _ => {}
    }
    if let Some(p) = limits.pipeline {
        fields.push((
            "_extract_binary_content",
            p.extract_binary_content.to_string(),
        ));
        fields.push(("_reduce_whitespace", p.reduce_whitespace.to_string()));
        fields.push(("_run_ml_inference", p.run_ml_inference.to_string()));
    }
    Ok(Action {
        id,
        op: Op::Index,
        source: Some(splice(&doc.body, &fields, top.empty)),
    })
}

fn json_string(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `{"a":1}` + [("id", "\"x\"")] → `{"id":"x","a":1}`.
fn splice(body: &str, fields: &[(&str, String)], empty: bool) -> String {
    let trimmed = body.trim();
    // `inspect` proved the body is an object, so it starts with `{`.
    let rest = &trimmed[1..];
    let mut out = String::with_capacity(
        trimmed.len()
            + fields
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>(),
    );
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(k);
        out.push_str("\":");
        out.push_str(v);
    }
    if empty {
        out.push('}');
    } else {
        if !fields.is_empty() {
            out.push(',');
        }
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, body: &str) -> types::Document {
        types::Document {
            id: id.into(),
            timestamp: None,
            body: body.into(),
            op: types::Operation::Index,
            attachment: None,
        }
    }

    const LIMITS: DocLimits<'static> = DocLimits {
        max_body_bytes: 1024,
        pipeline: None,
    };

    #[test]
    fn splices_id_and_timestamp_into_a_valid_object() {
        let a = prepare(
            doc("a", r#" {"x": [1, {"y": 2}]} "#),
            "2026-01-01T00:00:00Z",
            &LIMITS,
        )
        .expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("still JSON");
        assert_eq!(v["id"], "a");
        assert_eq!(v["_timestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(v["x"][1]["y"], 2);
    }

    #[test]
    fn keeps_the_body_id_and_handles_empty_objects() {
        let a = prepare(doc("a", r#"{"id":"mine"}"#), "t", &LIMITS).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["id"], "mine");
        let a = prepare(doc("a", "{}"), "t", &LIMITS).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["id"], "a");
    }

    #[test]
    fn refuses_bad_documents_with_reasons() {
        assert_eq!(
            prepare(doc("", "{}"), "t", &LIMITS).unwrap_err(),
            DocError::EmptyId
        );
        assert!(matches!(
            prepare(doc("a", "{\"x\": }"), "t", &LIMITS).unwrap_err(),
            DocError::InvalidJson(_)
        ));
        assert!(matches!(
            prepare(doc("a", "{\"x\":1} trailing"), "t", &LIMITS).unwrap_err(),
            DocError::InvalidJson(_)
        ));
        assert_eq!(
            prepare(doc("a", "[1]"), "t", &LIMITS).unwrap_err(),
            DocError::NotAnObject("an array".into())
        );
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(2000));
        assert!(matches!(
            prepare(doc("a", &big), "t", &LIMITS).unwrap_err(),
            DocError::TooLarge { .. }
        ));
        let mut d = doc("a", "{}");
        d.timestamp = Some("yesterday".into());
        assert!(matches!(
            prepare(d, "t", &LIMITS).unwrap_err(),
            DocError::BadTimestamp(_)
        ));
    }

    #[test]
    fn long_ids_are_hashed() {
        let long = "x".repeat(600);
        let a = prepare(doc(&long, "{}"), "t", &LIMITS).expect("valid");
        assert_eq!(a.id.len(), 64);
    }

    #[test]
    fn attachments_go_to_their_fields() {
        let mut d = doc("a", "{\"name\":\"f.bin\"}");
        d.attachment = Some(types::Attachment::Bytes(vec![0, 1, 2]));
        let a = prepare(d, "t", &LIMITS).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["_attachment"], "AAEC");
        assert_eq!(v["name"], "f.bin");
    }
}
