//! SQL on databases the operator granted (`[permissions] sql = ["name"]` in plugin.toml and
//! `grants.databases` in config.yml). The host owns the connection and its password; a plugin
//! only names it.
//!
//! ```ignore
//! use inlet_sdk::sql::{Connection, Value};
//!
//! let conn = Connection::open("postgresql")?;
//! let mut rows = conn.query("SELECT id, title FROM posts WHERE id > $1", &[Value::Int(10)])?;
//! while let Some(row) = rows.next_row()? {
//!     // row[0], row[1] ...
//! }
//! ```
//!
//! Rows arrive in batches pulled from the host on demand ([`Rows::batch_size`]), so a large
//! table never sits whole in the plugin's memory.

use std::collections::VecDeque;

use crate::Result;
use crate::bindings::inlet::connector::sql;

pub use sql::{Column, SqlValue as Value};

/// Rows asked from the host per call unless [`Rows::batch_size`] says otherwise.
pub const DEFAULT_BATCH_ROWS: u32 = 500;

/// The SQL flavour of a connection: placeholders and identifier quoting differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `$1` placeholders, `"identifiers"`.
    Postgres,
    /// MySQL and MariaDB: `?` placeholders, `` `identifiers` ``.
    Mysql,
}

impl Dialect {
    /// The placeholder of the `n`th parameter (1-based).
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Mysql => "?".to_owned(),
        }
    }

    /// Quotes an identifier (doubling the quote character inside it).
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
            Dialect::Mysql => format!("`{}`", ident.replace('`', "``")),
        }
    }
}

/// A pooled connection the host opened for this connector.
pub struct Connection {
    inner: sql::Connection,
    dialect: Dialect,
}

impl Connection {
    /// Opens the granted connection called `name` (a name from config.yml's `databases:`, never
    /// a URL). A connection that is not declared and granted is refused with an error naming
    /// the grant to add.
    pub fn open(name: &str) -> Result<Self> {
        let inner = sql::Connection::open(name)?;
        let dialect = if inner.dialect() == "mysql" {
            Dialect::Mysql
        } else {
            Dialect::Postgres
        };
        Ok(Connection { inner, dialect })
    }

    /// Placeholders and quoting of this connection.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs a statement with parameters; rows are pulled in batches as [`Rows`] is read.
    pub fn query(&self, statement: &str, params: &[Value]) -> Result<Rows> {
        let stream = self.inner.query(statement, params)?;
        Ok(Rows {
            columns: stream.columns(),
            stream: Some(stream),
            buffered: VecDeque::new(),
            batch_size: DEFAULT_BATCH_ROWS,
        })
    }

    /// Runs a query and returns its first row, if any.
    pub fn query_one(&self, statement: &str, params: &[Value]) -> Result<Option<Vec<Value>>> {
        self.query(statement, params)?.batch_size(1).next_row()
    }
}

/// The rows of one query, fetched from the host a batch at a time.
pub struct Rows {
    columns: Vec<Column>,
    stream: Option<sql::RowStream>,
    buffered: VecDeque<Vec<Value>>,
    batch_size: u32,
}

impl Rows {
    /// Rows asked from the host per call (at least 1).
    pub fn batch_size(mut self, rows: u32) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// The result's columns, known before the first row.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The next batch of rows as the host sent it, or `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<Vec<Vec<Value>>>> {
        if !self.buffered.is_empty() {
            return Ok(Some(self.buffered.drain(..).collect()));
        }
        let Some(stream) = &self.stream else {
            return Ok(None);
        };
        match stream.next_batch(self.batch_size)? {
            Some(rows) if !rows.is_empty() => Ok(Some(rows)),
            _ => {
                // Dropping the stream hands the connection back to the host's pool at once.
                self.stream = None;
                Ok(None)
            }
        }
    }

    /// The next row, or `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<Vec<Value>>> {
        if self.buffered.is_empty() {
            match self.next_batch()? {
                Some(rows) => self.buffered.extend(rows),
                None => return Ok(None),
            }
        }
        Ok(self.buffered.pop_front())
    }
}

impl Iterator for Rows {
    type Item = Result<Vec<Value>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().transpose()
    }
}

impl Value {
    /// SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as JSON, typed: numbers as numbers (decimals too, when they fit a float
    /// exactly enough to print back), booleans, text, timestamps and dates as strings, bytes as
    /// base64, JSON columns as JSON, NULL as null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            // serde_json parses the decimal text as a number without going through f64 text
            // formatting; anything it cannot take (NaN) stays a string.
            Value::Decimal(d) => serde_json::from_str::<serde_json::Number>(d)
                .map_or_else(|_| J::String(d.clone()), J::Number),
            Value::Text(s) | Value::Date(s) | Value::Time(s) => J::String(s.clone()),
            Value::Timestamp(s) => J::String(s.clone()),
            Value::Bytes(b) => J::String(base64(b)),
            Value::Json(text) => serde_json::from_str(text).unwrap_or(J::String(text.clone())),
        }
    }

    /// The value as text for ids and cursors (`NULL` for null).
    pub fn to_id_part(&self) -> String {
        match self {
            Value::Null => "NULL".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Decimal(s)
            | Value::Text(s)
            | Value::Timestamp(s)
            | Value::Date(s)
            | Value::Time(s)
            | Value::Json(s) => s.clone(),
            Value::Bytes(b) => base64(b),
        }
    }
}

/// Standard base64 with padding (no dependency for one small function).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
