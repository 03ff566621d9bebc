//! One query's rows, streamed: a task takes a connection from the pool, runs the statement
//! (inside a read-only transaction on a read-only grant) and reads its cursor into a buffer the
//! plugin's `next-batch` drains.
//!
//! The buffer is bounded by bytes, not rows: the task waits for room before it keeps a row
//! ([`STREAM_BUFFER_BYTES`] per stream), and every byte kept is charged to the plugin
//! instance's host budget until the row is handed over. A plugin that never reads holds at most
//! that much (plus the one row being read) and a slow plugin slows the database cursor.
//!
//! The stream holds its connection until the result ends. Then the transaction is rolled back
//! and the connection goes back to the pool, where it is reset (see `build_pool`). A stream
//! dropped half read, a timeout or a limit closes the connection instead: a session in the
//! middle of a result is never handed to the next statement.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt as _;
use futures_util::stream::BoxStream;
use tokio::sync::{Semaphore, TryAcquireError, mpsc};

use super::values::{self, Column, Value};
use super::{FailureKind, Pool, QueryLimits, SqlFailure};
use inlet_policy::budget::{Charge, HostBudget};

/// Bytes of rows one stream keeps for the plugin before the database cursor waits. A row larger
/// than this still passes, alone.
pub(super) const STREAM_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// Rows, and bytes, per message from the database task: small enough that the plugin gets rows
/// soon, large enough to keep the channel cheap.
const CHUNK_ROWS: usize = 256;
const CHUNK_BYTES: usize = 256 * 1024;
/// Bytes (roughly) one `next-batch` hands the plugin at most, so a batch of wide rows cannot
/// blow the guest's memory; at least one row is always returned.
pub(super) const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// What the budget calls the bytes a stream holds.
const BUFFERED_ROWS: &str = "SQL rows waiting to be read";

enum Msg {
    Columns(Vec<Column>),
    Rows(Vec<Vec<Value>>),
    Failed(SqlFailure),
}

/// Bytes of a row as the buffer and the budget count them.
fn row_weight(row: &[Value]) -> usize {
    std::mem::size_of::<Vec<Value>>() + row.iter().map(Value::weight).sum::<usize>()
}

/// The byte bound between the database task and the plugin, and the budget charge of what is
/// inside it.
struct RowBuffer {
    room: Semaphore,
    capacity: usize,
    charge: Mutex<Charge>,
}

impl RowBuffer {
    fn new(capacity: usize, budget: &HostBudget) -> Self {
        RowBuffer {
            room: Semaphore::new(capacity),
            capacity,
            charge: Mutex::new(budget.empty_charge()),
        }
    }

    /// Room a row of `bytes` takes: a row larger than the whole buffer takes all of it.
    fn permits(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.min(self.capacity)).unwrap_or(u32::MAX)
    }

    fn charge(&self) -> std::sync::MutexGuard<'_, Charge> {
        self.charge
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Charges a row the task has read; fails when the instance's budget is spent.
    fn keep(&self, bytes: usize) -> Result<(), SqlFailure> {
        let mut charge = self.charge();
        let total = charge.bytes().saturating_add(bytes as u64);
        charge
            .resize(total, BUFFERED_ROWS)
            .map_err(|e| SqlFailure::new(FailureKind::Source, e.to_string()))
    }

    /// A row left the buffer for the plugin: its room and its charge are free again.
    fn release(&self, bytes: usize) {
        {
            let mut charge = self.charge();
            let total = charge.bytes().saturating_sub(bytes as u64);
            // Shrinking a charge cannot fail.
            let _ = charge.resize(total, BUFFERED_ROWS);
        }
        // Room only after the charge is down, so the task's next row never counts twice.
        self.room.add_permits(self.permits(bytes) as usize);
    }
}

/// A running query's rows, drained by the plugin batch by batch. Holds its connection until
/// the result ends; dropped half read, it stops the query and closes that connection.
pub struct RowStream {
    columns: Vec<Column>,
    rx: mpsc::UnboundedReceiver<Msg>,
    buffered: VecDeque<Vec<Value>>,
    buffer: Arc<RowBuffer>,
    done: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RowStream {
    fn drop(&mut self) {
        // The plugin stopped reading: stop the cursor now; the task's connection closes. After
        // the end or an error the task is only rolling back: let it, so the session is reused.
        if !self.done {
            self.task.abort();
        }
    }
}

impl RowStream {
    /// The result's columns in order, taken from its first row: empty when the result has no
    /// rows (or the statement returns none).
    pub fn columns(&self) -> Vec<Column> {
        self.columns.clone()
    }

    /// Bytes of rows the stream holds for the plugin now (buffered, not yet handed over).
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> u64 {
        self.buffer.charge().bytes()
    }

    /// Up to `max_rows` rows (at least 1, and about 8 MiB at most so wide rows cannot blow the
    /// guest's memory), `None` at the end. Waits on the database only when no row is buffered;
    /// a failure of the query (a timeout, a limit, the server) ends the stream.
    pub async fn next_batch(
        &mut self,
        max_rows: u32,
    ) -> Result<Option<Vec<Vec<Value>>>, SqlFailure> {
        let max_rows = (max_rows as usize).max(1);
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while batch.len() < max_rows && bytes < MAX_BATCH_BYTES {
            if let Some(row) = self.buffered.pop_front() {
                let weight = row_weight(&row);
                self.buffer.release(weight);
                bytes += weight;
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

/// What one engine needs for a query: how to begin a read-only transaction, how to run the
/// bound statement, and how to read its rows.
trait Backend: sqlx::Database {
    const BEGIN_READ_ONLY: &'static str;
    fn rows<'c>(
        conn: &'c mut Self::Connection,
        statement: &'c str,
        params: &'c [Value],
    ) -> BoxStream<'c, Result<Self::Row, sqlx::Error>>;
    fn columns(row: &Self::Row) -> Vec<Column>;
    fn convert(row: &Self::Row) -> Result<Vec<Value>, String>;
}

impl inlet_runtime::brokers::RowStream for RowStream {
    fn columns(&self) -> Vec<Column> {
        RowStream::columns(self)
    }

    fn next_batch(
        &mut self,
        max_rows: u32,
    ) -> inlet_runtime::brokers::BoxFuture<'_, Result<Option<Vec<Vec<Value>>>, SqlFailure>> {
        Box::pin(RowStream::next_batch(self, max_rows))
    }
}

/// Binding was checked before the task started; should it fail anyway, the query fails.
fn unbindable<'c, R: Send + 'c>(m: String) -> BoxStream<'c, Result<R, sqlx::Error>> {
    Box::pin(futures_util::stream::once(async move {
        Err(sqlx::Error::Protocol(m))
    }))
}

impl Backend for sqlx::Postgres {
    const BEGIN_READ_ONLY: &'static str = "BEGIN READ ONLY";
    fn rows<'c>(
        conn: &'c mut sqlx::PgConnection,
        statement: &'c str,
        params: &'c [Value],
    ) -> BoxStream<'c, Result<sqlx::postgres::PgRow, sqlx::Error>> {
        match values::pg_query(statement, params) {
            // Unnamed: the session is reset with `DISCARD ALL` after every statement.
            Ok(q) => q.persistent(false).fetch(conn),
            Err(m) => unbindable(m),
        }
    }
    fn columns(row: &sqlx::postgres::PgRow) -> Vec<Column> {
        values::pg_columns(row)
    }
    fn convert(row: &sqlx::postgres::PgRow) -> Result<Vec<Value>, String> {
        values::pg_row(row)
    }
}

impl Backend for sqlx::MySql {
    const BEGIN_READ_ONLY: &'static str = "START TRANSACTION READ ONLY";
    fn rows<'c>(
        conn: &'c mut sqlx::MySqlConnection,
        statement: &'c str,
        params: &'c [Value],
    ) -> BoxStream<'c, Result<sqlx::mysql::MySqlRow, sqlx::Error>> {
        match values::my_query(statement, params) {
            Ok(q) => q.fetch(conn),
            Err(m) => unbindable(m),
        }
    }
    fn columns(row: &sqlx::mysql::MySqlRow) -> Vec<Column> {
        values::my_columns(row)
    }
    fn convert(row: &sqlx::mysql::MySqlRow) -> Result<Vec<Value>, String> {
        values::my_row(row)
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
    budget: HostBudget,
) -> Result<RowStream, SqlFailure> {
    // Binding checks the parameters before the task starts.
    let bound = match &pool {
        Pool::Postgres(_) => values::pg_query(&statement, &params).map(drop),
        Pool::Mysql(_) => values::my_query(&statement, &params).map(drop),
    };
    bound.map_err(|m| SqlFailure::new(FailureKind::Config, m))?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let buffer = Arc::new(RowBuffer::new(STREAM_BUFFER_BYTES, &budget));
    let task_buffer = buffer.clone();
    let task = tokio::spawn(async move {
        let out = Out {
            database: &database,
            tx,
            buffer: task_buffer,
            limits,
        };
        match pool {
            Pool::Postgres(pool) => session(pool, &statement, &params, out).await,
            Pool::Mysql(pool) => session(pool, &statement, &params, out).await,
        }
    });
    let mut stream = RowStream {
        columns: Vec::new(),
        rx: mpsc::unbounded_channel().1,
        buffered: VecDeque::new(),
        buffer,
        done: false,
        task,
    };
    match rx.recv().await {
        Some(Msg::Columns(c)) => stream.columns = c,
        Some(Msg::Failed(f)) => {
            // The statement failed: the task ends its transaction and returns the session.
            stream.done = true;
            return Err(f);
        }
        Some(Msg::Rows(rows)) => stream.buffered.extend(rows),
        None => stream.done = true,
    }
    stream.rx = rx;
    Ok(stream)
}

/// Where the task's rows go.
struct Out<'a> {
    database: &'a str,
    tx: mpsc::UnboundedSender<Msg>,
    buffer: Arc<RowBuffer>,
    limits: QueryLimits,
}

impl Out<'_> {
    fn fail(&self, kind: FailureKind, message: String) {
        let _ = self.tx.send(Msg::Failed(SqlFailure::new(kind, message)));
    }

    fn fail_sqlx(&self, e: &sqlx::Error) {
        let _ = self
            .tx
            .send(Msg::Failed(super::failure_from_sqlx(self.database, e)));
    }

    fn timed_out(&self) {
        self.fail(
            FailureKind::Network,
            format!(
                "database `{}` did not answer within {:?} (query_timeout_secs)",
                self.database, self.limits.timeout
            ),
        );
    }
}

/// A pooled connection that is closed, not returned, unless the statement finished cleanly:
/// an aborted task (the plugin dropped its stream), a timeout or a limit leave the session in
/// the middle of a result or a transaction.
struct Lease<DB: sqlx::Database> {
    conn: sqlx::pool::PoolConnection<DB>,
    clean: bool,
}

impl<DB: sqlx::Database> Drop for Lease<DB> {
    fn drop(&mut self) {
        if !self.clean {
            self.conn.close_on_drop();
        }
    }
}

/// Runs one statement on its own connection and pumps its rows to `out`.
async fn session<B: Backend>(pool: sqlx::Pool<B>, statement: &str, params: &[Value], out: Out<'_>) {
    let timeout = out.limits.timeout;
    let conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => return out.fail_sqlx(&e),
    };
    let mut lease = Lease { conn, clean: false };
    if !out.limits.read_only {
        let rows = B::rows(&mut *lease.conn, statement, params);
        lease.clean = pump::<B>(rows, &out).await.is_clean();
        return;
    }
    let mut transaction = match tokio::time::timeout(
        timeout,
        sqlx::Connection::begin_with(&mut *lease.conn, B::BEGIN_READ_ONLY),
    )
    .await
    {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return out.fail_sqlx(&e),
        Err(_) => return out.timed_out(),
    };
    let rows = B::rows(&mut *transaction, statement, params);
    if !pump::<B>(rows, &out).await.is_clean() {
        return;
    }
    // Rolled back, never committed: whatever the statement changed in the session or the
    // database (settings, role, a function's writes) is undone.
    match tokio::time::timeout(timeout, transaction.rollback()).await {
        Ok(Ok(())) => lease.clean = true,
        Ok(Err(e)) => {
            tracing::warn!(database = %out.database, error = %e, "rollback of a read-only statement failed; closing its connection");
        }
        Err(_) => {}
    }
}

/// How the cursor ended.
enum Ended {
    /// The result ended, or the database refused the statement: the session is between
    /// statements.
    Clean,
    /// A timeout, a limit or an unreadable row stopped reading in the middle of the result.
    Stopped,
}

impl Ended {
    fn is_clean(&self) -> bool {
        matches!(self, Ended::Clean)
    }
}

/// Reads the cursor into the buffer until the end, an error, a limit, or the reader is gone.
async fn pump<B: Backend>(
    mut rows: BoxStream<'_, Result<B::Row, sqlx::Error>>,
    out: &Out<'_>,
) -> Ended {
    let limits = out.limits;
    let database = out.database;
    let mut chunk = Vec::new();
    let mut chunk_bytes = 0usize;
    let mut count = 0u64;
    let mut first = true;
    let flush = |chunk: &mut Vec<Vec<Value>>, chunk_bytes: &mut usize| {
        *chunk_bytes = 0;
        out.tx.send(Msg::Rows(std::mem::take(chunk))).is_ok()
    };
    loop {
        let next = match tokio::time::timeout(limits.timeout, rows.try_next()).await {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                out.fail_sqlx(&e);
                // A server error ends the statement; a broken connection is closed by the pool.
                return if matches!(e, sqlx::Error::Database(_)) {
                    Ended::Clean
                } else {
                    Ended::Stopped
                };
            }
            Err(_) => {
                out.timed_out();
                return Ended::Stopped;
            }
        };
        let Some(row) = next else { break };
        if first {
            first = false;
            if out.tx.send(Msg::Columns(B::columns(&row))).is_err() {
                return Ended::Stopped;
            }
        }
        count += 1;
        if count > limits.max_rows {
            out.fail(
                FailureKind::Source,
                format!(
                    "database `{database}`: the query returned more than {} rows (max_rows); page through the table or raise the limit",
                    limits.max_rows
                ),
            );
            return Ended::Stopped;
        }
        // A decoder that panics (sqlx's chrono decoding does on out-of-range values) must fail
        // the query: a panic would end the task, and the closed channel would read as the end
        // of the rows, a silently short result.
        let converted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| B::convert(&row)))
            .unwrap_or_else(|_| {
                Err("a column value could not be decoded (decoder panicked)".into())
            });
        let values = match converted {
            Ok(v) => v,
            Err(m) => {
                out.fail(FailureKind::Source, format!("database `{database}`: {m}"));
                return Ended::Stopped;
            }
        };
        drop(row);
        let size = row_weight(&values);
        if size as u64 > limits.max_row_bytes {
            out.fail(
                FailureKind::Source,
                format!(
                    "database `{database}`: a row of {size} bytes exceeds max_row_bytes = {}",
                    limits.max_row_bytes
                ),
            );
            return Ended::Stopped;
        }
        // The row is in memory now: charge it, then wait for room in the buffer. Rows already
        // read go to the plugin first, or waiting could hold the very rows it waits on.
        if let Err(f) = out.buffer.keep(size) {
            let _ = out.tx.send(Msg::Failed(f));
            return Ended::Stopped;
        }
        let permits = out.buffer.permits(size);
        match out.buffer.room.try_acquire_many(permits) {
            Ok(p) => p.forget(),
            Err(TryAcquireError::NoPermits) => {
                if !chunk.is_empty() && !flush(&mut chunk, &mut chunk_bytes) {
                    return Ended::Stopped;
                }
                match out.buffer.room.acquire_many(permits).await {
                    Ok(p) => p.forget(),
                    Err(_) => return Ended::Stopped,
                }
            }
            Err(TryAcquireError::Closed) => return Ended::Stopped,
        }
        chunk.push(values);
        chunk_bytes += size;
        if (chunk.len() >= CHUNK_ROWS || chunk_bytes >= CHUNK_BYTES)
            && !flush(&mut chunk, &mut chunk_bytes)
        {
            return Ended::Stopped;
        }
    }
    if !chunk.is_empty() && !flush(&mut chunk, &mut chunk_bytes) {
        return Ended::Stopped;
    }
    Ended::Clean
}
