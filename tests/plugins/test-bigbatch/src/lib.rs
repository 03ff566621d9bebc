//! Hands over `batches` batches of `mib` MiB each through `inlet:connector/json-lines` (raw
//! bindings: no SDK has a Rust side for it), as one JSON-lines text (`shape: lines`, the
//! default) or as records (`shape: documents`). Every line is a valid ~64 KiB document, so
//! nothing but the batch's size can stop it: the host must charge the lifted batch to the
//! instance's `limits.host_memory_mib` (tests/e2e/containment.rs).

use std::cell::Cell;

wit_bindgen::generate!({
    world: "connector-json-lines",
    path: "../../../wit",
});

use exports::inlet::connector::json_lines::{self, Batch};
use exports::inlet::connector::source::{self, GuestSync};
use inlet::connector::types::{
    ConfigField, ConfigValue, ConnectorError, DisplayType, Document, ErrorKind, Features,
    FieldType, Metadata, Operation, RulesValidation, SyncRequest,
};

/// Bytes of one document's padding.
const PAD: usize = 64 * 1024;

struct Plugin;

struct Pull {
    left: Cell<u64>,
    docs_per_batch: u64,
    records: bool,
    sent: Cell<u64>,
}

fn setting(request: &SyncRequest, key: &str) -> Option<String> {
    request
        .configuration
        .iter()
        .find(|v| v.key == key)
        // Values are JSON text: a string comes quoted.
        .map(|v| v.value.trim_matches('"').to_owned())
}

fn number(request: &SyncRequest, key: &str, default: u64) -> Result<u64, ConnectorError> {
    match setting(request, key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConnectorError {
            kind: ErrorKind::Config,
            message: format!("{key} is not a number: {v}"),
        }),
    }
}

impl json_lines::Guest for Plugin {
    fn next_batch(sync: source::SyncBorrow<'_>) -> Result<Option<Batch>, ConnectorError> {
        let pull: &Pull = sync.get();
        if pull.left.get() == 0 {
            return Ok(None);
        }
        pull.left.set(pull.left.get() - 1);
        let pad = "a".repeat(PAD);
        let ids = (0..pull.docs_per_batch).map(|_| {
            let n = pull.sent.get();
            pull.sent.set(n + 1);
            format!("doc-{n}")
        });
        Ok(Some(if pull.records {
            Batch::Documents(
                ids.map(|id| Document {
                    id,
                    timestamp: None,
                    body: format!(r#"{{"pad":"{pad}"}}"#),
                    op: Operation::Index,
                    attachment: None,
                })
                .collect(),
            )
        } else {
            let mut text = String::with_capacity((pull.docs_per_batch as usize) * (PAD + 32));
            for id in ids {
                text.push_str(&format!(r#"{{"_id":"{id}","pad":"{pad}"}}"#));
                text.push('\n');
            }
            Batch::JsonLines(text)
        }))
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
            service_type: "bigbatch".into(),
            name: "big batches".into(),
            version: "0.0.0".into(),
            features: Features {
                incremental_sync: false,
                document_level_security: false,
                advanced_rules: false,
                basic_rules: false,
            },
        }
    }
    fn configuration_schema() -> Vec<ConfigField> {
        let field = |order: u32, key: &str, default: &str| ConfigField {
            key: key.into(),
            label: key.into(),
            order,
            type_: FieldType::Str,
            display: DisplayType::Text,
            default_value: Some(format!("\"{default}\"")),
            required: false,
            sensitive: false,
            tooltip: None,
            depends_on: Vec::new(),
            validations: Vec::new(),
            ui_restrictions: Vec::new(),
            options: Vec::new(),
        };
        vec![
            field(0, "mib", "1"),
            field(1, "batches", "1"),
            field(2, "shape", "lines"),
        ]
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
    fn full_sync(request: SyncRequest) -> Result<source::Sync, ConnectorError> {
        let mib = number(&request, "mib", 1)?;
        Ok(source::Sync::new(Pull {
            left: Cell::new(number(&request, "batches", 1)?),
            docs_per_batch: mib * (1024 * 1024 / PAD as u64),
            records: setting(&request, "shape").as_deref() == Some("documents"),
            sent: Cell::new(0),
        }))
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
