//! Runs a script of SQL steps (configuration field `script`, a JSON list) against the databases
//! the host grants, and emits one document per step with what happened. Steps:
//! - `{"id", "op": "query", "db", "sql", "params"?: [...]}`: runs the statement and reads every
//!   row; the document holds the rows (as JSON, the first 20), their count, or the error the
//!   host returned (kind and message);
//! - `{"id", "op": "hold", "db", "sql", "ms", "read"?: n}`: starts the statement, reads nothing
//!   for `ms` milliseconds while the host keeps the stream (a plugin that never drains its
//!   rows), then reads up to `n` rows (default 0) and drops the stream half read;
//! - `{"id", "op": "sleep", "ms"}`.
//!
//! It behaves like a plugin trying to write through a read-only grant or to make the host
//! buffer rows for it, and reports exactly what the host let through.

use inlet_sdk::sql::{Connection, Value as Sql};
use inlet_sdk::{
    ConfigField, Connector, ConnectorError, DocStream, Document, ErrorKind, Metadata, Result,
    SyncRequest, error, field,
};
use serde_json::{Value, json};

struct Hostile;

impl Connector for Hostile {
    fn metadata() -> Metadata {
        Metadata::new("sql-hostile", "SQL hostile", "0.0.0")
    }

    fn configuration() -> Vec<ConfigField> {
        vec![field("script", "Steps (JSON list)").textarea()]
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let config = inlet_sdk::Config::from(&request);
        let script: Vec<Value> = serde_json::from_str(&config.str("script")?)
            .map_err(|e| error(ErrorKind::Config, format!("script is not a JSON list: {e}")))?;
        let mut docs = Vec::new();
        for (i, step) in script.iter().enumerate() {
            let id = step["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("step-{i}"));
            let mut out = match step["op"].as_str() {
                Some("query") => query(step).unwrap_or_else(failed),
                Some("hold") => hold(step).unwrap_or_else(failed),
                Some("sleep") => {
                    let ms = step["ms"].as_u64().unwrap_or(0);
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                    json!({"ok": true, "slept_ms": ms})
                }
                other => json!({"ok": false, "error": format!("unknown op {other:?}")}),
            };
            out["step"] = json!(id);
            docs.push(Ok(Document::index(id, &out)));
        }
        Ok(inlet_sdk::batches(docs.into_iter(), 100))
    }
}

fn failed(e: ConnectorError) -> Value {
    json!({"ok": false, "kind": format!("{:?}", e.kind), "error": e.message})
}

fn params(step: &Value) -> Vec<Sql> {
    step["params"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p {
            Value::Null => Sql::Null,
            Value::Bool(b) => Sql::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| Sql::Float(n.as_f64().unwrap_or(0.0)), Sql::Int),
            Value::String(s) => Sql::Text(s.clone()),
            other => Sql::Json(other.to_string()),
        })
        .collect()
}

fn open(step: &Value) -> Result<Connection> {
    Connection::open(step["db"].as_str().unwrap_or("pg"))
}

fn query(step: &Value) -> Result<Value> {
    let conn = open(step)?;
    let mut rows = conn.query(step["sql"].as_str().unwrap_or_default(), &params(step))?;
    let mut count = 0u64;
    let mut first = Vec::new();
    while let Some(row) = rows.next_row()? {
        count += 1;
        if first.len() < 20 {
            first.push(row.iter().map(Sql::to_json).collect::<Vec<_>>());
        }
    }
    Ok(json!({"ok": true, "row_count": count, "rows": first}))
}

fn hold(step: &Value) -> Result<Value> {
    let conn = open(step)?;
    let mut rows = conn
        .query(step["sql"].as_str().unwrap_or_default(), &params(step))?
        .batch_size(1);
    std::thread::sleep(std::time::Duration::from_millis(
        step["ms"].as_u64().unwrap_or(0),
    ));
    let want = step["read"].as_u64().unwrap_or(0);
    let mut read = 0u64;
    let mut bytes = 0u64;
    while read < want {
        match rows.next_row() {
            Ok(Some(row)) => {
                read += 1;
                bytes += row.iter().map(|v| v.to_id_part().len() as u64).sum::<u64>();
            }
            Ok(None) => break,
            Err(e) => {
                return Ok(
                    json!({"ok": false, "rows_read": read, "kind": format!("{:?}", e.kind), "error": e.message}),
                );
            }
        }
    }
    // Dropping `rows` here leaves the result half read.
    Ok(json!({"ok": true, "rows_read": read, "bytes_read": bytes}))
}

inlet_sdk::export!(Hostile);
