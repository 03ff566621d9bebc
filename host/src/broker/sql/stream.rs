//! One query's rows, streamed: a task reads the database cursor into a bounded channel of small
//! chunks; the plugin's `next-batch` drains it. The channel's bound is the backpressure, so at
//! most a few chunks are in memory whatever the result's size; dropping the stream ends the task
//! and returns the connection to the pool.

use std::collections::VecDeque;

use futures_util::TryStreamExt as _;
use tokio::sync::mpsc;

use super::values::{self, Column, Value};
use super::{FailureKind, Pool, QueryLimits, SqlFailure};

/// Rows per chunk sent over the channel.
const CHUNK_ROWS: usize = 256;
/// Chunks in flight between the database task and the plugin.
const CHANNEL_CHUNKS: usize = 4;
/// Bytes (roughly) one `next-batch` hands the plugin at most, so a batch of wide rows cannot
/// blow the guest's memory; at least one row is always returned.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

enum Msg {
    Columns(Vec<Column>),
    Rows(Vec<Vec<Value>>),
    Failed(SqlFailure),
}

/// A running query's rows.
pub struct RowStream {
    columns: Vec<Column>,
    rx: mpsc::Receiver<Msg>,
    buffered: VecDeque<Vec<Value>>,
    done: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RowStream {
    fn drop(&mut self) {
        // The plugin stopped reading: stop the cursor now rather than at the next send.
        self.task.abort();
    }
}

impl RowStream {
    pub fn columns(&self) -> Vec<Column> {
        self.columns.clone()
    }

    /// Up to `max_rows` rows (and about [`MAX_BATCH_BYTES`]), `None` at the end.
    pub async fn next_batch(
        &mut self,
        max_rows: u32,
    ) -> Result<Option<Vec<Vec<Value>>>, SqlFailure> {
        let max_rows = (max_rows as usize).max(1);
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while batch.len() < max_rows && bytes < MAX_BATCH_BYTES {
            if let Some(row) = self.buffered.pop_front() {
                bytes += row.iter().map(Value::weight).sum::<usize>();
                batch.push(row);
                continue;
            }
            if self.done {
                break;
            }
            // Hand over what we have rather than wait on the database while holding rows.
            let msg = if batch.is_empty() {
                self.rx.recv().await
            } else {
                match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            match msg {
                Some(Msg::Rows(rows)) => self.buffered.extend(rows),
                Some(Msg::Columns(_)) => {}
                Some(Msg::Failed(f)) => {
                    self.done = true;
                    return Err(f);
                }
                None => self.done = true,
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

/// Starts the query task and waits for its first message, so that errors in the statement
/// come back from `query` itself and the columns are known.
pub(super) async fn start(
    database: String,
    pool: Pool,
    statement: String,
    params: Vec<Value>,
    limits: QueryLimits,
) -> Result<RowStream, SqlFailure> {
    let (tx, mut rx) = mpsc::channel(CHANNEL_CHUNKS);
    // Binding checks the parameters before the task starts.
    let task = match pool {
        Pool::Postgres(pool) => {
            values::pg_query(&statement, &params)
                .map(drop)
                .map_err(|m| SqlFailure::new(FailureKind::Config, m))?;
            tokio::spawn(async move {
                let Ok(query) = values::pg_query(&statement, &params) else {
                    return;
                };
                let rows = query.fetch(&pool);
                pump(
                    &database,
                    rows,
                    values::pg_columns,
                    values::pg_row,
                    &tx,
                    limits,
                )
                .await;
            })
        }
        Pool::Mysql(pool) => {
            values::my_query(&statement, &params)
                .map(drop)
                .map_err(|m| SqlFailure::new(FailureKind::Config, m))?;
            tokio::spawn(async move {
                let Ok(query) = values::my_query(&statement, &params) else {
                    return;
                };
                let rows = query.fetch(&pool);
                pump(
                    &database,
                    rows,
                    values::my_columns,
                    values::my_row,
                    &tx,
                    limits,
                )
                .await;
            })
        }
    };
    let mut stream = RowStream {
        columns: Vec::new(),
        rx: mpsc::channel(1).1,
        buffered: VecDeque::new(),
        done: false,
        task,
    };
    match rx.recv().await {
        Some(Msg::Columns(c)) => stream.columns = c,
        Some(Msg::Failed(f)) => return Err(f),
        Some(Msg::Rows(rows)) => stream.buffered.extend(rows),
        None => stream.done = true,
    }
    stream.rx = rx;
    Ok(stream)
}

/// Reads the cursor into chunks until the end, an error, a limit, or the reader is gone.
async fn pump<S, R>(
    database: &str,
    mut rows: S,
    columns: fn(&R) -> Vec<Column>,
    convert: fn(&R) -> Result<Vec<Value>, String>,
    tx: &mpsc::Sender<Msg>,
    limits: QueryLimits,
) where
    S: futures_util::Stream<Item = Result<R, sqlx::Error>> + Unpin,
{
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut count = 0u64;
    let mut first = true;
    loop {
        let next = match tokio::time::timeout(limits.timeout, rows.try_next()).await {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                let _ = tx
                    .send(Msg::Failed(SqlFailure::from_sqlx(database, &e)))
                    .await;
                return;
            }
            Err(_) => {
                let _ = tx
                    .send(Msg::Failed(SqlFailure::new(
                        FailureKind::Network,
                        format!(
                            "database `{database}` did not answer within {:?} (query_timeout_secs)",
                            limits.timeout
                        ),
                    )))
                    .await;
                return;
            }
        };
        let Some(row) = next else { break };
        if first {
            first = false;
            if tx.send(Msg::Columns(columns(&row))).await.is_err() {
                return;
            }
        }
        count += 1;
        if count > limits.max_rows {
            let _ = tx
                .send(Msg::Failed(SqlFailure::new(
                    FailureKind::Source,
                    format!(
                        "database `{database}`: the query returned more than {} rows (max_rows); page through the table or raise the limit",
                        limits.max_rows
                    ),
                )))
                .await;
            return;
        }
        let values = match convert(&row) {
            Ok(v) => v,
            Err(m) => {
                let _ = tx
                    .send(Msg::Failed(SqlFailure::new(
                        FailureKind::Source,
                        format!("database `{database}`: {m}"),
                    )))
                    .await;
                return;
            }
        };
        let size: usize = values.iter().map(Value::weight).sum();
        if size as u64 > limits.max_row_bytes {
            let _ = tx
                .send(Msg::Failed(SqlFailure::new(
                    FailureKind::Source,
                    format!(
                        "database `{database}`: a row of {size} bytes exceeds max_row_bytes = {}",
                        limits.max_row_bytes
                    ),
                )))
                .await;
            return;
        }
        chunk.push(values);
        if chunk.len() == CHUNK_ROWS
            && tx
                .send(Msg::Rows(std::mem::replace(
                    &mut chunk,
                    Vec::with_capacity(CHUNK_ROWS),
                )))
                .await
                .is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Msg::Rows(chunk)).await;
    }
}
