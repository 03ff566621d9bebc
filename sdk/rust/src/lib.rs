//! Write an [Inlet](https://github.com/) connector in Rust.
//!
//! A connector is a type implementing [`Connector`], exported with [`export!`]. Build it with
//! `cargo build --release --target wasm32-wasip2` and put the `.wasm` beside a `plugin.toml`.
//!
//! ```ignore
//! use inlet_sdk::{Connector, Config, Document, Metadata, Result, SyncRequest, DocStream, field};
//!
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn metadata() -> Metadata { Metadata::new("hello", "Hello", env!("CARGO_PKG_VERSION")) }
//!     fn configuration() -> Vec<inlet_sdk::ConfigField> {
//!         vec![field("greeting", "Greeting").default_value("\"hi\"")]
//!     }
//!     fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
//!         let config = Config::from(&request);
//!         let greeting = config.str("greeting")?;
//!         let docs = (0..3).map(move |i| Ok(Document::index(format!("{i}"), &serde_json::json!({"text": greeting}))));
//!         Ok(inlet_sdk::batches(docs, 100))
//!     }
//! }
//!
//! inlet_sdk::export!(Hello);
//! ```
//!
//! The host pulls one batch at a time, so a connector fetches its next page from the source
//! only when the host is ready for it: memory stays flat however large the source is.

#![deny(missing_docs)]

use std::cell::RefCell;
use std::marker::PhantomData;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "connector",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_connector_raw",
        default_bindings_module: "inlet_sdk::bindings",
    });
}

mod fields;
#[cfg(feature = "http")]
pub mod http;
pub mod sql;

use bindings::exports::inlet::connector::source::{self, GuestSync};
pub use bindings::inlet::connector::types::{
    Attachment, ConfigField, ConfigValue, ConnectorError, Dependency, DisplayType, Document,
    ErrorKind, Features, FieldType, Metadata, Operation, RulesValidation, SelectOption,
    SyncRequest, Validation,
};
pub use fields::field;

/// Result of connector operations.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// A connector. Only [`metadata`](Connector::metadata), [`configuration`](Connector::configuration)
/// and [`full_sync`](Connector::full_sync) are required.
pub trait Connector: 'static {
    /// Service type, name, version and features.
    fn metadata() -> Metadata;
    /// The configuration form, in Elastic's Rich Configurable Fields shape. Fields without an
    /// explicit order are numbered in the order given.
    fn configuration() -> Vec<ConfigField>;
    /// Checks values beyond what the schema says.
    fn validate_config(_config: &Config) -> Result<()> {
        Ok(())
    }
    /// Checks that the source is reachable.
    fn ping(_config: &Config) -> Result<()> {
        Ok(())
    }
    /// Checks advanced sync rules (JSON text).
    fn validate_advanced_rules(_config: &Config, _rules: &str) -> Result<RulesValidation> {
        Ok(RulesValidation {
            valid: false,
            messages: vec!["this connector does not support advanced sync rules".into()],
        })
    }
    /// Every document in the source.
    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>>;
    /// Changes since `request.cursor`. Declare `incremental_sync` in the features to use it.
    fn incremental_sync(_request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Err(error(
            ErrorKind::Config,
            "incremental sync is not supported",
        ))
    }
    /// Access-control documents. Declare `document_level_security` in the features to use it.
    fn access_control_sync(_request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Err(error(
            ErrorKind::Config,
            "access-control sync is not supported",
        ))
    }
}

/// A sync in progress, pulled by the host one batch at a time.
pub trait DocStream {
    /// The next batch, or `None` when done.
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>>;
    /// The cursor for the next incremental sync, read after the last batch.
    fn cursor(&self) -> Option<String> {
        None
    }
}

/// A batch is closed once its documents reach this many bytes, whatever their count, as in the
/// Python, JavaScript and Go SDKs: the host copies each batch out of the plugin's memory and
/// charges it to the instance's `limits.host_memory_mib` (64 MiB by default) until the sink has
/// taken it, so a batch of large documents must not grow with the count alone.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// The bytes a document occupies in a batch: id, body, timestamp and attachment.
pub fn document_bytes(doc: &Document) -> usize {
    let attachment = match &doc.attachment {
        Some(Attachment::Bytes(b)) => b.len(),
        Some(Attachment::Text(t)) => t.len(),
        None => 0,
    };
    doc.id.len() + doc.body.len() + doc.timestamp.as_ref().map_or(0, String::len) + attachment
}

/// Adapts an iterator of documents into batches of at most `batch_size` documents and about
/// [`MAX_BATCH_BYTES`] (a batch holds at least one document, however large).
pub fn batches<I>(docs: I, batch_size: usize) -> Box<dyn DocStream>
where
    I: Iterator<Item = Result<Document>> + 'static,
{
    Box::new(Batches {
        docs,
        batch_size: batch_size.max(1),
        cursor: None,
    })
}

/// Like [`batches`], with the cursor to report once the iterator is exhausted.
pub fn batches_with_cursor<I>(
    docs: I,
    batch_size: usize,
    cursor: Option<String>,
) -> Box<dyn DocStream>
where
    I: Iterator<Item = Result<Document>> + 'static,
{
    Box::new(Batches {
        docs,
        batch_size: batch_size.max(1),
        cursor,
    })
}

struct Batches<I> {
    docs: I,
    batch_size: usize,
    cursor: Option<String>,
}

impl<I: Iterator<Item = Result<Document>>> DocStream for Batches<I> {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        let mut batch = Vec::with_capacity(self.batch_size.min(1024));
        let mut bytes = 0;
        for doc in self.docs.by_ref() {
            let doc = doc?;
            bytes += document_bytes(&doc);
            batch.push(doc);
            if batch.len() == self.batch_size || bytes >= MAX_BATCH_BYTES {
                break;
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn cursor(&self) -> Option<String> {
        self.cursor.clone()
    }
}

/// Builds a [`ConnectorError`].
pub fn error(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
    ConnectorError {
        kind,
        message: message.into(),
    }
}

impl Metadata {
    /// Metadata with no optional features (basic rules on, as in Elastic's framework).
    pub fn new(service_type: &str, name: &str, version: &str) -> Self {
        Metadata {
            service_type: service_type.into(),
            name: name.into(),
            version: version.into(),
            features: Features {
                incremental_sync: false,
                document_level_security: false,
                advanced_rules: false,
                basic_rules: true,
            },
        }
    }

    /// Declares incremental sync support.
    pub fn incremental(mut self) -> Self {
        self.features.incremental_sync = true;
        self
    }
}

impl Document {
    /// A document to index, from a JSON value (must be an object).
    pub fn index(id: impl Into<String>, body: &serde_json::Value) -> Self {
        Self::index_json(id, body.to_string())
    }

    /// A document to index, from JSON text you already have (not re-encoded).
    pub fn index_json(id: impl Into<String>, body: String) -> Self {
        Document {
            id: id.into(),
            timestamp: None,
            body,
            op: Operation::Index,
            attachment: None,
        }
    }

    /// A deletion.
    pub fn delete(id: impl Into<String>) -> Self {
        Document {
            id: id.into(),
            timestamp: None,
            body: String::new(),
            op: Operation::Delete,
            attachment: None,
        }
    }

    /// Sets when the source last changed this item (RFC 3339).
    pub fn at(mut self, timestamp: impl Into<String>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    /// Attaches binary content (for the ingest attachment pipeline).
    pub fn with_bytes(mut self, bytes: Vec<u8>) -> Self {
        self.attachment = Some(Attachment::Bytes(bytes));
        self
    }
}

/// Configuration values by key, decoded from the JSON the host sends.
pub struct Config {
    values: Vec<(String, serde_json::Value)>,
}

impl From<&[ConfigValue]> for Config {
    fn from(values: &[ConfigValue]) -> Self {
        Config {
            values: values
                .iter()
                .map(|v| {
                    (
                        v.key.clone(),
                        serde_json::from_str(&v.value)
                            .unwrap_or(serde_json::Value::String(v.value.clone())),
                    )
                })
                .collect(),
        }
    }
}

impl From<&SyncRequest> for Config {
    fn from(r: &SyncRequest) -> Self {
        Config::from(r.configuration.as_slice())
    }
}

impl Config {
    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn missing(key: &str) -> ConnectorError {
        error(
            ErrorKind::Config,
            format!("configuration field `{key}` is missing"),
        )
    }

    /// A string value, or a config error naming the key.
    pub fn str(&self, key: &str) -> Result<String> {
        match self.get(key) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(Self::missing(key)),
        }
    }

    /// An integer value.
    pub fn int(&self, key: &str) -> Result<i64> {
        self.get(key)
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| {
                error(
                    ErrorKind::Config,
                    format!("configuration field `{key}` must be an integer"),
                )
            })
    }

    /// A boolean value (false when absent).
    pub fn bool(&self, key: &str) -> bool {
        self.get(key)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    }

    /// A list of strings (empty when absent).
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Logging through the host: lines are tagged with the connector and rate-limited.
pub mod log {
    use crate::bindings::inlet::connector::log::{Level, log};

    /// Debug line.
    pub fn debug(message: &str) {
        log(Level::Debug, message);
    }
    /// Info line.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }
    /// Warning line.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }
    /// Error line.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// Small per-connector key/value state that survives restarts.
pub mod state {
    pub use crate::bindings::inlet::connector::state::{delete, get, set};
}

#[doc(hidden)]
pub struct SyncHandle(RefCell<Box<dyn DocStream>>);

impl GuestSync for SyncHandle {
    fn next_batch(&self) -> Result<Option<Vec<Document>>> {
        self.0.borrow_mut().next_batch()
    }
    fn cursor(&self) -> Option<String> {
        self.0.borrow().cursor()
    }
}

#[doc(hidden)]
pub struct Adapter<C>(PhantomData<C>);

fn wrap(stream: Result<Box<dyn DocStream>>) -> Result<source::Sync> {
    stream.map(|s| source::Sync::new(SyncHandle(RefCell::new(s))))
}

impl<C: Connector> source::Guest for Adapter<C> {
    type Sync = SyncHandle;

    fn metadata() -> Metadata {
        C::metadata()
    }

    fn configuration_schema() -> Vec<ConfigField> {
        let mut fields = C::configuration();
        for (i, f) in fields.iter_mut().enumerate() {
            if f.order == 0 {
                f.order = i as u32 + 1;
            }
        }
        fields
    }

    fn validate_config(configuration: Vec<ConfigValue>) -> Result<()> {
        C::validate_config(&Config::from(configuration.as_slice()))
    }

    fn ping(configuration: Vec<ConfigValue>) -> Result<()> {
        C::ping(&Config::from(configuration.as_slice()))
    }

    fn validate_advanced_rules(
        configuration: Vec<ConfigValue>,
        rules: String,
    ) -> Result<RulesValidation> {
        C::validate_advanced_rules(&Config::from(configuration.as_slice()), &rules)
    }

    fn full_sync(request: SyncRequest) -> Result<source::Sync> {
        wrap(C::full_sync(request))
    }

    fn incremental_sync(request: SyncRequest) -> Result<source::Sync> {
        wrap(C::incremental_sync(request))
    }

    fn access_control_sync(request: SyncRequest) -> Result<source::Sync> {
        wrap(C::access_control_sync(request))
    }
}

/// Exports a [`Connector`] implementation as the component's `source` interface.
#[macro_export]
macro_rules! export {
    ($connector:ty) => {
        type __InletExportedConnector = $crate::Adapter<$connector>;
        $crate::bindings::__export_connector_raw!(
            __InletExportedConnector with_types_in $crate::bindings
        );
    };
}
