//! What the sandbox needs from the brokers, as traits. The runtime links `wasi:http` and the
//! contract's `sql` import to whatever implements them and knows nothing of credentials,
//! origins, pools, drivers or the wire; `inlet-broker` implements them (its per-connector
//! `ConnectorNetwork` and `ConnectorSql`, resolved by its capability granter), as Spin's
//! factors implement its runtime's. What the runtime keeps is the sandbox's side: every byte
//! and handle a guest makes the host hold is charged to the instance's budget here, whichever
//! broker serves it.
//!
//! The SQL vocabulary ([`Value`], [`Column`], [`SqlFailure`]) lives here because both sides
//! speak it: the runtime converts it to and from the contract's types, the broker to and from
//! the database's.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::HeaderName;
use inlet_policy::budget::HostBudget;
use inlet_policy::guest_output::GuestLog;
use wasmtime_wasi_http::{RequestOptions, WasiBody};

/// A boxed future, as the traits' async methods return (they are called through `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Brokered HTTP for one connector. Every `wasi:http` request of its instances goes through
/// [`HttpBroker::handle`] once the instance's own limits (requests in flight, forbidden
/// headers) let it.
pub trait HttpBroker: Send + Sync {
    /// Header names a guest may not set: wasmtime-wasi-http's defaults plus every header the
    /// broker injects (a credential's `Authorization`, …), so a guest can neither read nor
    /// forge them.
    fn forbidden_headers(&self) -> HashSet<HeaderName>;

    /// The instance's log pipe: the broker's refusals of its requests are logged through it,
    /// sharing the instance's log budget (a plugin looping on refused requests cannot flood the
    /// log). Called once per instance, before its first request.
    fn attach_log(&self, log: GuestLog);

    /// Checks the request against the connector's policy (origins, addresses, rates), adds the
    /// credentials bound to its origin and sends it; a refusal is
    /// [`wasmtime_wasi_http::Error::HttpRequestDenied`] (the broker logs why).
    fn handle(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> BoxFuture<'static, Result<http::Response<WasiBody>, wasmtime_wasi_http::Error>>;
}

/// The databases one connector may open: its manifest's `[permissions] sql` ∩ the operator's
/// `grants.databases`.
pub trait SqlBroker: Send + Sync {
    /// Opens the database config.yml names `name`; refused with [`FailureKind::Config`] (and a
    /// message naming what to add) unless declared and granted.
    fn open(&self, name: &str) -> Result<Box<dyn Database>, SqlFailure>;
}

/// An opened database: the guest's `sql.connection`.
pub trait Database: Send {
    /// The SQL dialect the guest must write: `postgres` or `mysql`.
    fn dialect(&self) -> &'static str;

    /// Runs one statement with positional parameters. Returns once the first rows (or the end,
    /// or an error) arrived, so a statement's error surfaces here; rows the host buffers for
    /// the stream are charged to `budget`.
    fn query<'a>(
        &'a self,
        statement: String,
        params: Vec<Value>,
        budget: &'a HostBudget,
    ) -> BoxFuture<'a, Result<Box<dyn RowStream>, SqlFailure>>;
}

/// The rows of one statement, drained batch by batch: the guest's `sql.row-stream`.
pub trait RowStream: Send {
    /// The result's columns, in order.
    fn columns(&self) -> Vec<Column>;

    /// Up to `max_rows` rows; `None` once the result is exhausted.
    fn next_batch(
        &mut self,
        max_rows: u32,
    ) -> BoxFuture<'_, Result<Option<Vec<Vec<Value>>>, SqlFailure>>;
}

/// A value in a row or a parameter; mirrors the contract's `sql-value` (temporal values and
/// decimals as text, so nothing is lost in a float).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // One variant per `sql-value` case, named alike (wit/connector.wit).
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Decimal(String),
    Text(String),
    Bytes(Vec<u8>),
    Timestamp(String),
    Date(String),
    Time(String),
    Json(String),
}

impl Value {
    /// Bytes the value occupies, roughly, for the per-row and per-batch budgets.
    pub fn weight(&self) -> usize {
        8 + match self {
            Value::Decimal(s)
            | Value::Text(s)
            | Value::Timestamp(s)
            | Value::Date(s)
            | Value::Time(s)
            | Value::Json(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 8,
        }
    }
}

/// A column of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name (or alias) in the result.
    pub name: String,
    /// The database's name for its type (`int8`, `VARCHAR`, …).
    pub db_type: String,
}

/// What a plugin's SQL call failed with; becomes a `connector-error` of this kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// Not declared or not granted, a refused statement, bad parameters.
    Config,
    /// The database refused the credentials.
    Auth,
    /// Could not connect, the connection broke, or the database did not answer in time.
    Network,
    /// The database refused the statement, or a limit was hit.
    Source,
}

/// A failed SQL call of a plugin: what the runtime hands back as a `connector-error`. The
/// message names the database and what to change; database text in it is bounded and escaped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SqlFailure {
    /// Becomes the `connector-error`'s kind (who can fix it).
    pub kind: FailureKind,
    /// The whole sentence, as the plugin and the log see it.
    pub message: String,
}

impl SqlFailure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        SqlFailure {
            kind,
            message: message.into(),
        }
    }
}
