//! Hands its documents over through `inlet:connector/json-lines` (no SDK has a Rust side for it,
//! so the bindings are raw): one batch of JSON lines as text with every kind of bad line among
//! good ones, one as UTF-8 bytes with a line that is not UTF-8, and one of records. Asked for
//! `sync.next-batch` instead, it fails the sync: the host must use the optional export.

use std::cell::Cell;

wit_bindgen::generate!({
    world: "connector-json-lines",
    path: "../../../wit",
});

use exports::inlet::connector::json_lines::{self, Batch};
use exports::inlet::connector::source::{self, GuestSync};
use inlet::connector::types::{
    ConfigField, ConfigValue, ConnectorError, Document, ErrorKind, Features, Metadata, Operation,
    RulesValidation, SyncRequest,
};

/// The text batch; the e2e test (tests/e2e/json_lines.rs) says what the host makes of each line.
const TEXT_LINES: &[&str] = &[
    r#"{"_id":"good-1","n":1}"#,
    r#"{"_id":"dup","a":1,"a":2}"#,
    r#"{"n":2}"#,
    r#"{"_id":"","n":3}"#,
    r#"{"_id":"ts","_timestamp":"yesterday"}"#,
    r#"[{"_id":"array"}]"#,
    r#"{"_id":"broken","n":"#,
    "   ",
    r#"{"n":4, "_id" : "good-2" , "_timestamp":"2024-05-01T10:00:00Z"}"#,
    r#"{"_id":"good-3","id":"own","o":{"_id":"inner"}}"#,
];

struct Plugin;

struct Pull {
    step: Cell<u32>,
}

fn deep(depth: usize) -> String {
    format!(
        r#"{{"_id":"deep","a":{}{}}}"#,
        "[".repeat(depth - 1),
        "]".repeat(depth - 1)
    )
}

impl json_lines::Guest for Plugin {
    fn next_batch(sync: source::SyncBorrow<'_>) -> Result<Option<Batch>, ConnectorError> {
        let pull: &Pull = sync.get();
        let step = pull.step.get();
        pull.step.set(step + 1);
        Ok(match step {
            0 => {
                let mut lines: Vec<String> = TEXT_LINES.iter().map(|l| l.to_string()).collect();
                // One level past Elasticsearch's 1000.
                lines.insert(2, deep(1001));
                Some(Batch::JsonLines(lines.join("\n") + "\n"))
            }
            1 => {
                let mut bytes = br#"{"_id":"not-utf8","x":""#.to_vec();
                bytes.extend_from_slice(&[0xff, 0xfe]);
                bytes.extend_from_slice(b"\"}\r\n{\"_id\":\"good-4\",\"x\":\"\xc3\xa9\"}\r\n");
                Some(Batch::JsonLinesUtf8(bytes))
            }
            2 => Some(Batch::Documents(vec![
                Document {
                    id: "record".into(),
                    timestamp: None,
                    body: r#"{"n":5}"#.into(),
                    op: Operation::Index,
                    attachment: None,
                },
                Document {
                    id: "good-1".into(),
                    timestamp: None,
                    body: "{}".into(),
                    op: Operation::Delete,
                    attachment: None,
                },
            ])),
            _ => None,
        })
    }
}

impl GuestSync for Pull {
    fn next_batch(&self) -> Result<Option<Vec<Document>>, ConnectorError> {
        Err(ConnectorError {
            kind: ErrorKind::Internal,
            message: "asked for `sync.next-batch`, but this plugin exports `json-lines`".into(),
        })
    }
    fn cursor(&self) -> Option<String> {
        None
    }
}

impl source::Guest for Plugin {
    type Sync = Pull;

    fn metadata() -> Metadata {
        Metadata {
            service_type: "badlines".into(),
            name: "bad JSON lines".into(),
            version: "0.0.0".into(),
            features: Features {
                incremental_sync: true,
                document_level_security: false,
                advanced_rules: false,
                basic_rules: true,
            },
        }
    }
    fn configuration_schema() -> Vec<ConfigField> {
        Vec::new()
    }
    fn validate_config(_: Vec<ConfigValue>) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn ping(_: Vec<ConfigValue>) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn validate_advanced_rules(
        _: Vec<ConfigValue>,
        _: String,
    ) -> Result<RulesValidation, ConnectorError> {
        Ok(RulesValidation {
            valid: true,
            messages: Vec::new(),
        })
    }
    fn full_sync(_: SyncRequest) -> Result<source::Sync, ConnectorError> {
        Ok(source::Sync::new(Pull { step: Cell::new(0) }))
    }
    fn incremental_sync(request: SyncRequest) -> Result<source::Sync, ConnectorError> {
        Self::full_sync(request)
    }
    fn access_control_sync(_: SyncRequest) -> Result<source::Sync, ConnectorError> {
        Err(ConnectorError {
            kind: ErrorKind::Config,
            message: "no access control".into(),
        })
    }
}

export!(Plugin);
