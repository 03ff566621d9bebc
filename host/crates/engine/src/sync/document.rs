//! Checks a document from a plugin and turns it into a bulk action, without re-encoding the
//! body: the JSON text is scanned once against the policy Elasticsearch applies (see
//! `json_policy`), then the host's fields are spliced in.

mod json_policy;

use base64::Engine as _;
use md5::Digest as _;

use crate::sink::{Action, Op};
use inlet_runtime::types;
use json_policy::{
    HostField, HostFields, LineMembers, MAX_DEPTH, MAX_NUMBER_DIGITS, Member, Shape, Violation,
};

/// Elasticsearch rejects `_id`s longer than this (bytes).
const MAX_ID_BYTES: usize = 512;

/// The `_id` written for a plugin's id: the id itself, or over [`MAX_ID_BYTES`] the md5 hex of
/// its UTF-8 bytes — what Elastic's framework writes (`sync_job_runner.prepare_docs` with
/// `BaseDataSource.hash_id`), so an index Elastic's connector filled keeps its ids. md5 is no
/// weakness here: a source already chooses every id it sends.
fn index_id(id: String) -> String {
    if id.len() > MAX_ID_BYTES {
        hex::encode(md5::Md5::digest(id.as_bytes()))
    } else {
        id
    }
}

/// Why a document was refused. The JSON policy's refusals (see `json_policy`) are what
/// Elasticsearch would refuse, so a document is refused the same way, with the same reason,
/// into the embedded sink and into a cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DocError {
    #[error("document has an empty id")]
    EmptyId,
    /// A JSON line (`inlet:connector/json-lines`) carries its id as `_id`.
    #[error("document has no `_id` string: {0}")]
    NoId(&'static str),
    #[error("document body is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("document body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("document body must be a JSON object, got {0}")]
    NotAnObject(String),
    #[error("document timestamp {0:?} is not an RFC 3339 date-time")]
    BadTimestamp(String),
    /// Elasticsearch parses with Jackson's `STRICT_DUPLICATE_DETECTION`.
    #[error(
        "document body has the key {key:?} twice in one object (byte {at}); Elasticsearch refuses duplicate keys (\"Duplicate field\")"
    )]
    DuplicateKey { key: String, at: usize },
    #[error(
        "document body nests objects and arrays more than {limit} deep (byte {at}); Elasticsearch refuses it (Jackson's maximum nesting depth)",
        limit = MAX_DEPTH
    )]
    TooDeep { at: usize },
    #[error(
        "document body has a number of {digits} digits (byte {at}); Elasticsearch refuses numbers of more than {limit} digits",
        limit = MAX_NUMBER_DIGITS
    )]
    NumberTooLong { digits: usize, at: usize },
    /// Measured on Elasticsearch 8.15.3: such a key fails the shard (see `json_policy`).
    #[error(
        "document body has a key with an unpaired UTF-16 surrogate escape (byte {at}); Elasticsearch fails the whole shard on it"
    )]
    LoneSurrogateKey { at: usize },
}

impl DocError {
    /// The refusal's `error.type` in the dead-letter entry (`empty_id`, `invalid_json`, …):
    /// stable, operators filter on it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            DocError::EmptyId => "empty_id",
            DocError::NoId(_) => "missing_id",
            DocError::TooLarge { .. } => "document_too_large",
            DocError::InvalidJson(_) => "invalid_json",
            DocError::NotAnObject(_) => "not_an_object",
            DocError::BadTimestamp(_) => "bad_timestamp",
            DocError::DuplicateKey { .. } => "duplicate_key",
            DocError::TooDeep { .. } => "nesting_too_deep",
            DocError::NumberTooLong { .. } => "number_too_long",
            DocError::LoneSurrogateKey { .. } => "lone_surrogate_key",
        }
    }
}

impl From<Violation> for DocError {
    fn from(v: Violation) -> Self {
        match v {
            Violation::Syntax { expected, at } => {
                DocError::InvalidJson(format!("expected {expected} at byte {at}"))
            }
            Violation::DuplicateKey { key, at } => DocError::DuplicateKey { key, at },
            Violation::TooDeep { at } => DocError::TooDeep { at },
            Violation::NumberTooLong { digits, at } => DocError::NumberTooLong { digits, at },
            Violation::LoneSurrogateKey { at } => DocError::LoneSurrogateKey { at },
        }
    }
}

/// Scans the body: an object that passes the policy, or the reason it is refused.
fn inspect(body: &str) -> Result<(bool, HostFields), DocError> {
    match json_policy::check(body)? {
        Shape::Object { empty, has } => Ok((empty, has)),
        Shape::Other(what) => Err(DocError::NotAnObject(what.into())),
    }
}

/// A refused body as the dead-letter file keeps it: verbatim when it is JSON a common reader
/// takes (serde_json's: duplicate keys pass, 129 levels or a 1001-digit number do not), else as
/// a JSON string of its text — a body nested 100,000 deep must not make the dead-letter file
/// unreadable in its turn. Builds a whole tree, which is fine for refused documents only.
pub(crate) fn dead_letter_body(body: &str) -> Box<serde_json::value::RawValue> {
    let verbatim = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|_| serde_json::value::RawValue::from_string(body.to_owned()).ok());
    verbatim.unwrap_or_else(|| {
        // Serializing a &str cannot fail; the fallback is never used.
        serde_json::value::to_raw_value(body).unwrap_or_default()
    })
}

/// Limits and settings applied to each document.
pub(crate) struct DocLimits<'a> {
    /// `limits.max_document_bytes`: largest body (with its attachment) accepted, in bytes.
    pub(crate) max_body_bytes: usize,
    /// Elastic's pipeline settings: each document carries them as `_extract_binary_content`,
    /// `_reduce_whitespace` and `_run_ml_inference` for the ingest pipeline, and binary
    /// attachments are sent only when extraction is on.
    pub(crate) pipeline: Option<&'a inlet_policy::config::Pipeline>,
}

/// Validates a plugin's document and builds the bulk action for it.
///
/// `now` (RFC 3339) is used as `_timestamp` when neither the document nor its body has one. The
/// `id` field is added (Elastic's connectors carry it) unless the body has its own. Borrows the
/// document so a refused one is dead-lettered without a copy kept just in case.
pub(crate) fn prepare(
    doc: &types::Document,
    now: &str,
    limits: &DocLimits<'_>,
) -> Result<Action, DocError> {
    if doc.id.is_empty() {
        return Err(DocError::EmptyId);
    }
    let id = index_id(doc.id.clone());
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
    let (empty, has) = inspect(&doc.body)?;
    let fields = host_fields(
        &id,
        doc.timestamp.as_deref(),
        now,
        doc.attachment.as_ref(),
        has,
        limits,
    );
    let trimmed = doc.body.trim();
    // `inspect` proved the body is an object, so it starts with `{`.
    let source = splice(&[&trimmed[1..]], &fields, empty);
    Ok(Action {
        id,
        op: Op::Index,
        source: Some(source),
    })
}

/// A JSON line the host refused: the id when one could be read, the line, and why.
#[derive(Debug)]
pub(crate) struct RefusedLine {
    /// The line's `_id` when one could be read, else empty.
    pub(crate) id: String,
    /// The line, trimmed (lossily decoded when it is not UTF-8).
    pub(crate) line: String,
    pub(crate) error: DocError,
}

/// The documents of a JSON-lines batch (`inlet:connector/json-lines`): its lines that hold more
/// than whitespace.
pub(crate) fn json_lines(batch: &[u8]) -> Vec<&[u8]> {
    let blank = |line: &[u8]| line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
    match std::str::from_utf8(batch) {
        // The usual case (always, for the text form): `str::split` finds line breaks a word at
        // a time; a byte slice's `split` tests byte by byte, which costs more than the rest of
        // the checks of a 1 KiB document together.
        Ok(text) => text
            .split('\n')
            .map(str::as_bytes)
            .filter(|line| !blank(line))
            .collect(),
        // Bytes that are not UTF-8 somewhere: each line is checked on its own.
        Err(_) => batch
            .split(|&b| b == b'\n')
            .filter(|line| !blank(line))
            .collect(),
    }
}

/// Validates one JSON line and builds the bulk action for it, with the guarantees of
/// [`prepare`]: the same JSON policy, size limit, id and timestamp rules, the same host fields.
/// The line is Elastic's document shape: `_id` (a non-empty string) is the id and leaves the
/// body, `_timestamp` (optional, RFC 3339) stays in it. The size compared with
/// `max_body_bytes` is the line's without those two members.
pub(crate) fn prepare_line(
    line: &[u8],
    now: &str,
    limits: &DocLimits<'_>,
) -> Result<Action, RefusedLine> {
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(e) => {
            let lossy = String::from_utf8_lossy(line);
            let trimmed = lossy.trim();
            return Err(RefusedLine {
                id: id_seen(trimmed, json_policy::check_line(trimmed).1),
                line: trimmed.to_owned(),
                error: DocError::InvalidJson(format!(
                    "the line is not UTF-8 (byte {})",
                    e.valid_up_to()
                )),
            });
        }
    };
    let trimmed = text.trim();
    let refuse = |id: String, error: DocError| RefusedLine {
        id,
        line: trimmed.to_owned(),
        error,
    };
    let (shape, members) = match json_policy::check_line(trimmed) {
        (Ok(shape), members) => (shape, members),
        (Err(v), members) => return Err(refuse(id_seen(trimmed, members), v.into())),
    };
    let (empty, has) = match shape {
        Shape::Object { empty, has } => (empty, has),
        Shape::Other(what) => {
            return Err(refuse(String::new(), DocError::NotAnObject(what.into())));
        }
    };
    let LineMembers {
        id: Some(id_member),
        timestamp,
    } = members
    else {
        return Err(refuse(String::new(), DocError::NoId("the line has none")));
    };
    let Ok(id) = serde_json::from_str::<String>(value_text(trimmed, id_member)) else {
        return Err(refuse(
            String::new(),
            DocError::NoId("its `_id` is not a string (or has an unpaired surrogate escape)"),
        ));
    };
    if id.is_empty() {
        return Err(refuse(id, DocError::EmptyId));
    }
    let id_cut = member_cut(trimmed, id_member, None);
    // As if both members and a `,` each were cut out (the record path's body has neither).
    let ts_cut = timestamp.map_or((0, 0), |m| member_cut(trimmed, m, Some(id_cut)));
    let size = trimmed.len() - (id_cut.1 - id_cut.0) - (ts_cut.1 - ts_cut.0);
    if size > limits.max_body_bytes {
        return Err(refuse(
            id,
            DocError::TooLarge {
                size,
                limit: limits.max_body_bytes,
            },
        ));
    }
    if let Some(member) = timestamp {
        let raw = value_text(trimmed, member);
        match serde_json::from_str::<String>(raw) {
            Ok(ts) if chrono::DateTime::parse_from_rfc3339(&ts).is_ok() => {}
            Ok(ts) => return Err(refuse(id, DocError::BadTimestamp(ts))),
            Err(_) => return Err(refuse(id, DocError::BadTimestamp(raw.to_owned()))),
        }
    }
    let id = index_id(id);
    // `_timestamp` stays in the body, so `has` holds it and the host adds none.
    let fields = host_fields(&id, None, now, None, has, limits);
    // The `_id` member leaves the body; the object is empty when it was the only member.
    let only_member = id_member.comma_before.is_none() && id_cut.1 == id_member.value.1;
    let source = splice(
        &[&trimmed[1..id_cut.0], &trimmed[id_cut.1..]],
        &fields,
        empty || only_member,
    );
    Ok(Action {
        id,
        op: Op::Index,
        source: Some(source),
    })
}

fn value_text(text: &str, member: Member) -> &str {
    &text[member.value.0..member.value.1]
}

/// The bytes to cut to remove a member and one `,` next to it: the one before it, or for the
/// first member (or when `taken`, another cut, has that `,`) the one after it, if any.
fn member_cut(text: &str, member: Member, taken: Option<(usize, usize)>) -> (usize, usize) {
    if let Some(comma) = member.comma_before
        && !taken.is_some_and(|(from, to)| (from..to).contains(&comma))
    {
        return (comma, member.value.1);
    }
    let after = &text[member.value.1..];
    let gap = after.len() - after.trim_start().len();
    if after[gap..].starts_with(',') {
        (member.key, member.value.1 + gap + 1)
    } else {
        (member.key, member.value.1)
    }
}

/// The `_id` of a refused line, for its dead-letter entry, when the scan got past a string one.
fn id_seen(text: &str, members: LineMembers) -> String {
    members
        .id
        .and_then(|m| serde_json::from_str::<String>(value_text(text, m)).ok())
        .unwrap_or_default()
}

/// The members the host adds to a body, as (key, JSON value). A key the body has already keeps
/// the body's value: adding it again would make the very duplicate the policy refuses.
fn host_fields(
    id: &str,
    timestamp: Option<&str>,
    now: &str,
    attachment: Option<&types::Attachment>,
    has: HostFields,
    limits: &DocLimits<'_>,
) -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(4);
    let mut add = |field: HostField, value: String| {
        if !has.contains(field) {
            fields.push((field.key(), value));
        }
    };
    add(HostField::Id, json_string(id));
    // The document's own timestamp wins over the sync's time.
    add(HostField::Timestamp, json_string(timestamp.unwrap_or(now)));
    let extract = limits.pipeline.is_none_or(|p| p.extract_binary_content);
    match attachment {
        Some(types::Attachment::Bytes(b)) if extract => add(
            HostField::Attachment,
            json_string(&base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        Some(types::Attachment::Text(t)) => add(HostField::Body, json_string(t)),
        _ => {}
    }
    if let Some(p) = limits.pipeline {
        add(
            HostField::ExtractBinaryContent,
            p.extract_binary_content.to_string(),
        );
        add(HostField::ReduceWhitespace, p.reduce_whitespace.to_string());
        add(HostField::RunMlInference, p.run_ml_inference.to_string());
    }
    fields
}

fn json_string(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `{` + host fields + the body after its `{` (given in pieces, around what was cut out):
/// `{"a":1}` + [("id", "\"x\"")] → `{"id":"x","a":1}`.
fn splice(rest: &[&str], fields: &[(&str, String)], empty: bool) -> String {
    let mut out = String::with_capacity(
        rest.iter().map(|r| r.len()).sum::<usize>()
            + 1
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
        for r in rest {
            out.push_str(r);
        }
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
            &doc("a", r#" {"x": [1, {"y": 2}]} "#),
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
        let a = prepare(&doc("a", r#"{"id":"mine"}"#), "t", &LIMITS).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["id"], "mine");
        let a = prepare(&doc("a", "{}"), "t", &LIMITS).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["id"], "a");
    }

    #[test]
    fn refuses_bad_documents_with_reasons() {
        assert_eq!(
            prepare(&doc("", "{}"), "t", &LIMITS).unwrap_err(),
            DocError::EmptyId
        );
        assert!(matches!(
            prepare(&doc("a", "{\"x\": }"), "t", &LIMITS).unwrap_err(),
            DocError::InvalidJson(_)
        ));
        assert!(matches!(
            prepare(&doc("a", "{\"x\":1} trailing"), "t", &LIMITS).unwrap_err(),
            DocError::InvalidJson(_)
        ));
        assert_eq!(
            prepare(&doc("a", "[1]"), "t", &LIMITS).unwrap_err(),
            DocError::NotAnObject("an array".into())
        );
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(2000));
        assert!(matches!(
            prepare(&doc("a", &big), "t", &LIMITS).unwrap_err(),
            DocError::TooLarge { .. }
        ));
        let mut d = doc("a", "{}");
        d.timestamp = Some("yesterday".into());
        assert!(matches!(
            prepare(&d, "t", &LIMITS).unwrap_err(),
            DocError::BadTimestamp(_)
        ));
    }

    #[test]
    fn long_ids_are_hashed_as_elastic_hashes_them() {
        // Python: hashlib.md5(("x" * 600).encode()).hexdigest()
        let long = "x".repeat(600);
        let a = prepare(&doc(&long, "{}"), "t", &LIMITS).expect("valid");
        assert_eq!(a.id, "2bfac1bb871236a26c9bbc8389d00b83");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["id"], "2bfac1bb871236a26c9bbc8389d00b83");
        // Bytes, not characters: 300 × `é` is 600 bytes.
        let line = format!("{{\"_id\":\"{}\"}}", "é".repeat(300));
        let a = prepare_line(line.as_bytes(), "t", &LIMITS).expect("valid");
        assert_eq!(a.id, "4bf78d5bfde016534964234b60ced94a");
        // 512 bytes exactly stay as they are.
        let edge = "y".repeat(512);
        assert_eq!(
            prepare(&doc(&edge, "{}"), "t", &LIMITS).expect("valid").id,
            edge
        );
    }

    #[test]
    fn attachments_go_to_their_fields() {
        let mut d = doc("a", "{\"name\":\"f.bin\"}");
        d.attachment = Some(types::Attachment::Bytes(vec![0, 1, 2]));
        let a = prepare(&d, "t", &LIMITS).expect("valid");
        let v: serde_json::Value =
            serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        assert_eq!(v["_attachment"], "AAEC");
        assert_eq!(v["name"], "f.bin");
    }
    #[test]
    fn refuses_what_elasticsearch_refuses_with_its_reason() {
        let dup = prepare(&doc("d", r#"{"a":1,"a":2}"#), "t", &LIMITS).unwrap_err();
        assert_eq!(dup.kind(), "duplicate_key");
        assert!(dup.to_string().contains("\"a\" twice"), "{dup}");
        let limits = DocLimits {
            max_body_bytes: 1 << 20,
            pipeline: None,
        };
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = prepare(&doc("d", &deep), "t", &limits).unwrap_err();
        assert_eq!(e, DocError::TooDeep { at: 1004 });
        assert_eq!(e.kind(), "nesting_too_deep");
        assert!(e.to_string().contains("more than 1000 deep"), "{e}");
        let long = format!("{{\"n\":{}}}", "1".repeat(1001));
        assert!(dead_letter_body(&long).get().starts_with('"'));
        assert_eq!(
            prepare(&doc("d", &long), "t", &limits).unwrap_err().kind(),
            "number_too_long"
        );
        // A hostile key cannot put a line break into the host's log line about it.
        let e = prepare(
            &doc("d", "{\"x\\nINFO forged\":1,\"x\\nINFO forged\":2}"),
            "t",
            &LIMITS,
        )
        .unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[test]
    fn host_fields_the_body_has_are_not_added_twice() {
        let pipeline = inlet_policy::config::Pipeline {
            name: "p".into(),
            extract_binary_content: true,
            reduce_whitespace: true,
            run_ml_inference: false,
        };
        let limits = DocLimits {
            max_body_bytes: 1024,
            pipeline: Some(&pipeline),
        };
        let mut d = doc("a", r#"{"body":"mine","_reduce_whitespace":false}"#);
        d.attachment = Some(types::Attachment::Text("extracted".into()));
        let a = prepare(&d, "t", &limits).expect("valid");
        let source = a.source.expect("source");
        // Still passes the policy it enforces: no duplicate key was made by the host.
        assert!(json_policy::check(&source).is_ok(), "{source}");
        let v: serde_json::Value = serde_json::from_str(&source).expect("JSON");
        assert_eq!(v["body"], "mine");
        assert_eq!(v["_reduce_whitespace"], false);
        assert_eq!(v["_run_ml_inference"], false);
    }

    #[test]
    fn dead_letter_bodies_stay_readable() {
        let keep = |body: &str| dead_letter_body(body).get().to_owned();
        assert_eq!(keep(r#"{"a":1,"a":2}"#), r#"{"a":1,"a":2}"#);
        assert_eq!(keep("{\"n\": 2,"), r#""{\"n\": 2,""#);
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        let kept = keep(&deep);
        let back: String = serde_json::from_str(&kept).expect("a JSON string serde_json reads");
        assert_eq!(back, deep);
        let shallow = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(keep(&shallow), shallow);
    }

    /// A JSON line's action, its source parsed back.
    fn line(text: &str) -> (String, serde_json::Value) {
        let a = prepare_line(text.as_bytes(), "2026-01-01T00:00:00Z", &LIMITS).expect("valid line");
        let v = serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
        (a.id, v)
    }

    fn refused(text: &str) -> RefusedLine {
        prepare_line(text.as_bytes(), "t", &LIMITS).expect_err("refused")
    }

    #[test]
    fn a_json_line_loses_its_id_member_wherever_it_stands() {
        for text in [
            r#"{"_id":"a","x":1,"y":[2]}"#,
            r#"{"x":1,"_id":"a","y":[2]}"#,
            r#"{"x":1,"y":[2],"_id":"a"}"#,
            r#" { "x" : 1 , "_id" : "a" , "y" : [ 2 ] } "#,
            "{\"x\":1,\n\"y\":[2],\t\"_id\":\"a\"\r}",
        ] {
            let (id, v) = line(text);
            assert_eq!(id, "a", "{text}");
            assert_eq!(
                v,
                serde_json::json!({"id": "a", "_timestamp": "2026-01-01T00:00:00Z", "x": 1, "y": [2]}),
                "{text}"
            );
        }
        // The only member: the body is then empty, like `{}` with an id.
        let (_, v) = line(r#"{ "_id" : "a" }"#);
        assert_eq!(
            v,
            serde_json::json!({"id": "a", "_timestamp": "2026-01-01T00:00:00Z"})
        );
        // Escapes are decoded; the body's own `id` and `_timestamp` win, as for records.
        let (id, v) =
            line(r#"{"_id":"a\"b\u00e9","id":"mine","_timestamp":"2024-05-01T10:00:00Z"}"#);
        assert_eq!(id, "a\"bé");
        assert_eq!(
            v,
            serde_json::json!({"id": "mine", "_timestamp": "2024-05-01T10:00:00Z"})
        );
        // Nested `_id` and `_timestamp` are ordinary fields.
        let (_, v) = line(r#"{"_id":"a","o":{"_id":1,"_timestamp":"x"}}"#);
        assert_eq!(v["o"], serde_json::json!({"_id": 1, "_timestamp": "x"}));
    }

    #[test]
    fn a_json_line_is_refused_for_what_a_document_is_refused_for() {
        let r = refused(r#"{"x":1}"#);
        assert_eq!((r.id.as_str(), r.error.kind()), ("", "missing_id"));
        assert_eq!(refused(r#"{"_id":7}"#).error.kind(), "missing_id");
        assert_eq!(refused(r#"{"_id":"\ud800"}"#).error.kind(), "missing_id");
        assert_eq!(refused(r#"{"_id":""}"#).error, DocError::EmptyId);
        assert_eq!(
            refused(r#"[{"_id":"a"}]"#).error,
            DocError::NotAnObject("an array".into())
        );
        let dup = refused(r#"{"_id":"d","a":1,"a":2}"#);
        assert_eq!((dup.id.as_str(), dup.error.kind()), ("d", "duplicate_key"));
        assert_eq!(dup.line, r#"{"_id":"d","a":1,"a":2}"#);
        let deep = format!(
            r#"{{"_id":"deep","a":{}{}}}"#,
            "[".repeat(1000),
            "]".repeat(1000)
        );
        let limits = DocLimits {
            max_body_bytes: 1 << 20,
            pipeline: None,
        };
        let r = prepare_line(deep.as_bytes(), "t", &limits).expect_err("too deep");
        assert_eq!(
            (r.id.as_str(), r.error.kind()),
            ("deep", "nesting_too_deep")
        );
        let r = refused(r#"{"_id":"t","_timestamp":"yesterday"}"#);
        assert_eq!(
            (r.id.as_str(), &r.error),
            ("t", &DocError::BadTimestamp("yesterday".into()))
        );
        assert_eq!(
            refused(r#"{"_id":"t","_timestamp":17}"#).error.kind(),
            "bad_timestamp"
        );
        let r = refused(r#"{"_id":"j","x": }"#);
        assert_eq!((r.id.as_str(), r.error.kind()), ("j", "invalid_json"));
        // A refusal names the document when the scan got past its `_id`.
        assert_eq!(refused(r#"{"x": ,"_id":"late"}"#).id, "");
        let r =
            prepare_line(b"{\"_id\":\"u\",\"x\":\"\xff\"}", "t", &LIMITS).expect_err("not UTF-8");
        assert_eq!((r.id.as_str(), r.error.kind()), ("u", "invalid_json"));
        assert!(r.error.to_string().contains("not UTF-8"), "{}", r.error);
    }

    #[test]
    fn a_json_line_is_measured_without_its_id_and_timestamp() {
        // LIMITS allows 1024 bytes: a body of exactly 1024 passes, one more does not, however
        // long the id and timestamp members are.
        let body_of = |n: usize| format!(r#"{{"x":"{}"}}"#, "a".repeat(n - 8));
        for (n, ok) in [(1024, true), (1025, false)] {
            let body = body_of(n);
            assert_eq!(body.len(), n);
            let text = format!(
                r#"{{"_id":"{}","_timestamp":"2024-05-01T10:00:00Z",{}"#,
                "i".repeat(300),
                &body[1..]
            );
            let as_doc = prepare(&doc("i", &body), "t", &LIMITS)
                .map(|_| ())
                .map_err(|e| e.kind());
            let as_line = prepare_line(text.as_bytes(), "t", &LIMITS)
                .map(|_| ())
                .map_err(|r| r.error.kind());
            assert_eq!(as_line, as_doc, "{n}");
            assert_eq!(as_line.is_ok(), ok, "{n}");
        }
    }

    #[test]
    fn blank_lines_are_not_documents() {
        let batch = b"{\"_id\":\"a\"}\n\n  \r\n{\"_id\":\"b\"}\r\n";
        let ids: Vec<String> = json_lines(batch)
            .into_iter()
            .map(|l| prepare_line(l, "t", &LIMITS).expect("valid").id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Any JSON value, keys unique per object (serde_json's map keeps one of each).
        fn json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(serde_json::Value::from),
                "\\PC{0,12}".prop_map(serde_json::Value::from),
                "[a\"\\\\\n\u{1}\u{7f}\u{e9}\u{1f600}]{0,6}".prop_map(serde_json::Value::from),
            ];
            leaf.prop_recursive(6, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                    prop::collection::btree_map("[a-d_]{0,3}|id|body", inner, 0..6)
                        .prop_map(|m| { serde_json::Value::Object(m.into_iter().collect()) }),
                ]
            })
        }

        fn object() -> impl Strategy<Value = serde_json::Value> {
            prop::collection::btree_map("[a-z]{1,4}", json(), 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect()))
        }

        /// Characters that break JSON in interesting ways when dropped into valid text.
        const NOISE: &[&str] = &[
            "{", "}", "[", "]", ",", ":", "\"", "\\", "-", "0", "1", ".", "e", "+", " ", "\n",
            "\u{0}", "\u{1f}", "t", "n", "u", "\\u", "é", "\u{feff}",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Where duplicates, depth and number length are not involved, the scanner
            /// accepts exactly what serde_json accepts.
            #[test]
            fn agrees_with_serde_json_on_mangled_text(
                value in json(),
                edits in prop::collection::vec((any::<prop::sample::Index>(), 0..NOISE.len(), any::<bool>()), 0..4),
            ) {
                let mut text = serde_json::to_string(&value).expect("serialize");
                for (at, noise, delete) in edits {
                    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
                    let i = boundaries[at.index(boundaries.len())];
                    if delete && i < text.len() {
                        let end = text[i..].chars().next().map_or(i, |c| i + c.len_utf8());
                        text.replace_range(i..end, "");
                    } else {
                        text.insert_str(i, NOISE[noise]);
                    }
                }
                let ours = json_policy::check(&text);
                let theirs = serde_json::from_str::<serde::de::IgnoredAny>(&text);
                match ours {
                    Ok(_) => prop_assert!(theirs.is_ok(), "we accepted {text:?}: {theirs:?}"),
                    Err(Violation::Syntax { .. }) => prop_assert!(theirs.is_err(), "we refused {text:?}: {ours:?}"),
                    // serde_json keeps the last duplicate; the policy refuses it.
                    Err(_) => {}
                }
            }

            /// Every valid object is accepted, and the action's source is the same object plus
            /// the host's fields.
            #[test]
            fn valid_objects_pass_and_keep_their_content(value in object(), id in "[a-z0-9]{1,8}") {
                let body = serde_json::to_string_pretty(&value).expect("serialize");
                let a = prepare(&doc(&id, &body), "2026-01-01T00:00:00Z", &LIMITS_BIG).expect("valid object");
                let out: serde_json::Value = serde_json::from_str(a.source.as_deref().expect("source")).expect("JSON");
                // Parsed back rather than cloned: serde_json's float parsing is not an exact
                // round trip, and both sides should go through the same one.
                let mut expected: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                let map = expected.as_object_mut().expect("object");
                map.entry("id").or_insert(serde_json::Value::from(id.clone()));
                map.entry("_timestamp").or_insert(serde_json::Value::from("2026-01-01T00:00:00Z"));
                prop_assert_eq!(out, expected);
            }

            /// A document handed over as a JSON line (Elastic's shape: `_id` and `_timestamp`
            /// among the body's members, anywhere) becomes the same action as the same document
            /// handed over as a record.
            #[test]
            fn a_json_line_and_a_document_make_the_same_action(
                value in object(),
                id in "[a-z0-9]{1,8}|\\PC{1,4}",
                ts in prop::option::of(Just("2024-05-01T10:00:00.5+02:00")),
                at in any::<prop::sample::Index>(),
                ts_at in any::<prop::sample::Index>(),
                pretty in any::<bool>(),
            ) {
                let body = serde_json::to_string(&value).expect("serialize");
                let mut record = doc(&id, &body);
                record.timestamp = ts.map(str::to_owned);
                let want = prepare(&record, "2026-01-01T00:00:00Z", &LIMITS_BIG).expect("valid object");
                // The same members with `_id` (and `_timestamp`) inserted at some position.
                let mut members: Vec<(String, serde_json::Value)> =
                    value.as_object().expect("object").clone().into_iter().collect();
                members.insert(at.index(members.len() + 1), ("_id".into(), id.clone().into()));
                if let Some(ts) = ts {
                    members.insert(ts_at.index(members.len() + 1), ("_timestamp".into(), ts.into()));
                }
                let text = members
                    .iter()
                    .map(|(k, v)| {
                        let sep = if pretty { " : " } else { ":" };
                        format!("{}{sep}{}", serde_json::to_string(k).expect("key"), serde_json::to_string(v).expect("value"))
                    })
                    .collect::<Vec<_>>()
                    .join(if pretty { " ,\t" } else { "," });
                let text = if pretty { format!(" {{ {text} }} ") } else { format!("{{{text}}}") };
                let got = prepare_line(text.as_bytes(), "2026-01-01T00:00:00Z", &LIMITS_BIG).expect("valid line");
                prop_assert_eq!(&got.id, &want.id);
                let got: serde_json::Value = serde_json::from_str(got.source.as_deref().expect("source")).expect("JSON");
                let want: serde_json::Value = serde_json::from_str(want.source.as_deref().expect("source")).expect("JSON");
                prop_assert_eq!(got, want);
            }

            /// A key repeated in any one object, at any depth, is refused.
            #[test]
            fn a_duplicate_anywhere_is_refused(value in object(), path in prop::collection::vec(any::<prop::sample::Index>(), 0..6), key in "[a-z]{1,3}") {
                let mut value = value;
                // Walk down to some object or array of the value, as a JSON pointer.
                let mut pointer = String::new();
                let mut node = &value;
                for step in path {
                    let next = match node {
                        serde_json::Value::Object(m) if !m.is_empty() => {
                            let (k, v) = m.iter().nth(step.index(m.len())).expect("entry");
                            Some((k.clone(), v))
                        }
                        serde_json::Value::Array(a) if !a.is_empty() => {
                            let i = step.index(a.len());
                            Some((i.to_string(), &a[i]))
                        }
                        _ => None,
                    };
                    match next {
                        Some((k, n)) if n.is_object() || n.is_array() => {
                            pointer.push('/');
                            pointer.push_str(&k);
                            node = n;
                        }
                        _ => break,
                    }
                }
                let marker = "\u{1d11e}marker";
                match value.pointer_mut(&pointer) {
                    Some(serde_json::Value::Object(m)) => {
                        m.insert(key.clone(), serde_json::Value::from(marker));
                    }
                    Some(serde_json::Value::Array(v)) => v.push(serde_json::json!({ key.clone(): marker })),
                    other => unreachable!("walked to a container, got {other:?}"),
                }
                let text = serde_json::to_string(&value).expect("serialize");
                // Write the key a second time right before the marker value.
                let twice = text.replacen(
                    &format!("\"{key}\":\"{marker}\""),
                    &format!("\"{key}\":0,\"{key}\":\"{marker}\""),
                    1,
                );
                prop_assert_ne!(&twice, &text);
                let refused = matches!(json_policy::check(&twice), Err(Violation::DuplicateKey { key: ref k, .. }) if *k == key);
                prop_assert!(refused, "{}", twice);
            }

            /// Nesting is accepted up to Elasticsearch's limit and refused past it, whatever the
            /// mix of objects and arrays.
            #[test]
            fn depth_is_judged_exactly(depth in 990usize..1010, kinds in prop::collection::vec(any::<bool>(), 1010)) {
                // Level 1 is the document; each further level is an object or an array as drawn.
                let mut text = String::from("{\"k\":");
                let mut tail = String::from("}");
                for &object in &kinds[..depth - 1] {
                    if object {
                        text.push_str("{\"k\":");
                        tail.insert(0, '}');
                    } else {
                        text.push('[');
                        tail.insert(0, ']');
                    }
                }
                text.push('1');
                text.push_str(&tail);
                let result = json_policy::check(&text);
                if depth <= MAX_DEPTH {
                    prop_assert!(result.is_ok(), "depth {depth}: {result:?}");
                } else {
                    prop_assert!(matches!(result, Err(Violation::TooDeep { .. })), "depth {depth}: {result:?}");
                }
            }
        }

        const LIMITS_BIG: DocLimits<'static> = DocLimits {
            max_body_bytes: 1 << 20,
            pipeline: None,
        };
    }

    /// Throughput of `prepare_line` on the same documents as JSON lines (`_id` and
    /// `_timestamp` members, as the Python and JavaScript SDKs send them), split from batches of
    /// 100 as the sync does. Not a timed assertion: prints docs/s.
    /// `cargo test --release -p inlet --lib bench_prepare -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn bench_prepare_line_1kib() {
        let pad = "lorem ipsum dolor sit amet ".repeat(40);
        let batches: Vec<Vec<u8>> = (0..2_000)
            .map(|b| {
                (b * 100..b * 100 + 100)
                    .map(|n| {
                        format!(
                            "{{\"_id\":\"doc-{n}\",\"_timestamp\":\"2024-01-01T00:00:00Z\",\"title\":\"Document {n}\",\"n\":{n},\"seed\":\"s\",\"even\":{},\"tags\":[\"a\",\"b\",{{\"k\":1.5e3}}],\"text\":\"{}\"}}",
                            n % 2 == 0,
                            &pad[..930]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes()
            })
            .collect();
        let limits = DocLimits {
            max_body_bytes: 10 << 20,
            pipeline: None,
        };
        let started = std::time::Instant::now();
        let mut kept = 0usize;
        for batch in &batches {
            for line in json_lines(batch) {
                kept += prepare_line(line, "2026-01-01T00:00:00.000Z", &limits).is_ok() as usize;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(kept, 200_000);
        println!("prepare_line: {:.0} docs/s", 200_000.0 / secs);
    }

    /// Throughput of `prepare` on ~1 KiB documents shaped like the loadgen plugin's. Not a
    /// timed assertion: prints docs/s. `cargo test --release -p inlet --lib bench_prepare -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn bench_prepare_1kib() {
        let pad = "lorem ipsum dolor sit amet ".repeat(40);
        let docs: Vec<types::Document> = (0..200_000)
            .map(|n| {
                let body = format!(
                    "{{\"title\":\"Document {n}\",\"n\":{n},\"seed\":\"s\",\"even\":{},\"tags\":[\"a\",\"b\",{{\"k\":1.5e3}}],\"text\":\"{}\"}}",
                    n % 2 == 0,
                    &pad[..930]
                );
                doc(&format!("doc-{n}"), &body)
            })
            .collect();
        let limits = DocLimits {
            max_body_bytes: 10 << 20,
            pipeline: None,
        };
        let bytes: usize = docs.iter().map(|d| d.body.len()).sum();
        let started = std::time::Instant::now();
        let mut kept = 0usize;
        for d in docs {
            kept += prepare(&d, "2026-01-01T00:00:00.000Z", &limits).is_ok() as usize;
        }
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(kept, 200_000);
        println!(
            "prepare: {:.0} docs/s, {:.0} MB/s ({} bytes per doc)",
            200_000.0 / secs,
            bytes as f64 / secs / 1e6,
            bytes / 200_000
        );
    }
}
