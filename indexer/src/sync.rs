//! One sync's path into the indexer: the writer the host sends through, and the batcher task that turns
//! its actions into `_bulk` requests for its index.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::HeaderValue;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::batch::{Batch, push_json_string};
use crate::body_pool::BodyPool;
use crate::indexer::Shared;
use crate::stats::{Stat, StatSinks, SyncStats};
use crate::{Action, IndexerConfig, IndexerError, Op, bulk, stale};

/// Where and how one sync writes.
#[derive(Clone, Debug, Default)]
pub struct SyncTarget {
    pub connector_id: String,
    pub sync_id: String,
    pub index: String,
    /// Elastic semantics: the connector's own API key replaces the global credentials for this sync's
    /// requests (index creation, `_bulk`, stale deletion).
    pub api_key: Option<String>,
    /// Ingest pipeline (`_bulk?pipeline=`).
    pub pipeline: Option<String>,
    /// Used only when the index is created.
    pub index_settings: Option<serde_json::Value>,
    /// Used only when the index is created.
    pub index_mappings: Option<serde_json::Value>,
    /// Full syncs: stamp every indexed document with the sync id and delete the unstamped rest on success.
    pub stale_deletion: bool,
}

/// How the sync ended, which decides whether stale documents may be deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Succeeded,
    /// Errors, cancellation, a crashed plugin: what was sent is still flushed, nothing is deleted.
    Failed,
}

/// What the batcher and the request tasks of one sync share.
pub(crate) struct SyncCtx {
    pub target: SyncTarget,
    pub auth: Option<HeaderValue>,
    pub bulk_path: String,
    pub bulk_query: String,
    /// `"field":"sync-id"`, spliced into each document of a full sync.
    pub stamp: Option<Vec<u8>>,
    pub stats: StatSinks,
    /// Request-body buffers, reused within the sync and freed with it.
    pub bodies: BodyPool,
    /// The first error that makes the sync's result untrustworthy (a dead-letter write failed, a task panicked).
    fatal: Mutex<Option<IndexerError>>,
    /// Ids of dead-lettered index actions, `None` once there are too many to spare in stale deletion.
    dead_ids: Mutex<Option<Vec<String>>>,
}

impl SyncCtx {
    pub(crate) fn new(
        cfg: &IndexerConfig,
        target: SyncTarget,
        auth: Option<HeaderValue>,
        stats: StatSinks,
    ) -> SyncCtx {
        let mut bulk_query = format!("filter_path={}", crate::response::FILTER_PATH);
        if let Some(p) = &target.pipeline {
            bulk_query.push_str("&pipeline=");
            bulk_query.extend(url::form_urlencoded::byte_serialize(p.as_bytes()));
        }
        let stamp = target.stale_deletion.then(|| {
            let mut s = Vec::new();
            push_json_string(&mut s, &cfg.stale_field);
            s.push(b':');
            push_json_string(&mut s, &target.sync_id);
            s
        });
        SyncCtx {
            bulk_path: format!("/{}/_bulk", target.index),
            bulk_query,
            stamp,
            auth,
            stats,
            bodies: BodyPool::new(cfg.max_in_flight + 2, cfg.max_batch_bytes),
            target,
            fatal: Mutex::new(None),
            dead_ids: Mutex::new(Some(Vec::new())),
        }
    }

    pub(crate) fn set_fatal(&self, err: IndexerError) {
        tracing::error!(index = %self.target.index, sync_id = %self.target.sync_id, error = %err, "sync cannot complete cleanly");
        self.fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(err);
    }

    pub(crate) fn note_dead_id(&self, op: Op, id: &str) {
        if op != Op::Index {
            return;
        }
        let mut ids = self.dead_ids.lock().unwrap_or_else(PoisonError::into_inner);
        if ids
            .as_ref()
            .is_some_and(|v| v.len() >= stale::MAX_SPARED_IDS)
        {
            *ids = None;
        }
        if let Some(v) = ids.as_mut() {
            v.push(id.to_owned());
        }
    }

    pub(crate) fn dead_index_ids(&self) -> Option<Vec<String>> {
        self.dead_ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Queued actions, with the budget bytes they hold until the batcher has encoded them.
struct Chunk {
    actions: Vec<Action>,
    budget: u32,
}

/// The handle a sync sends its actions through. Dropping it without `finish` still flushes what was sent.
pub struct SyncWriter {
    shared: Arc<Shared>,
    ctx: Arc<SyncCtx>,
    tx: Option<mpsc::UnboundedSender<Chunk>>,
    batcher: Option<tokio::task::JoinHandle<()>>,
}

pub(crate) fn start(shared: Arc<Shared>, ctx: Arc<SyncCtx>, alive: mpsc::Sender<()>) -> SyncWriter {
    // Unbounded in count, bounded in bytes: the shared byte budget is taken before a chunk is queued.
    let (tx, rx) = mpsc::unbounded_channel();
    let batcher = tokio::spawn(run_batcher(shared.clone(), ctx.clone(), rx, alive));
    SyncWriter {
        shared,
        ctx,
        tx: Some(tx),
        batcher: Some(batcher),
    }
}

impl SyncWriter {
    /// Queues one action, waiting while the indexer's queue is over its byte budget.
    pub async fn send(&self, action: Action) -> Result<(), IndexerError> {
        self.send_batch(vec![action]).await
    }

    /// Queues several actions at once (cheaper per action than [`SyncWriter::send`]). All are checked first:
    /// on an invalid one nothing is queued.
    pub async fn send_batch(&self, actions: Vec<Action>) -> Result<(), IndexerError> {
        if actions.is_empty() {
            return Ok(());
        }
        let mut bytes = 0usize;
        for a in &actions {
            a.check().map_err(|reason| IndexerError::InvalidAction {
                index: self.ctx.target.index.clone(),
                id: a.id.clone(),
                reason,
            })?;
            bytes = bytes.saturating_add(a.budget_bytes());
        }
        let tx = self.tx.as_ref().ok_or(IndexerError::Closed)?;
        // A chunk bigger than the whole budget takes all of it, so it still fits (alone).
        let budget = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .min(self.shared.budget_cap);
        self.shared
            .budget
            .acquire_many(budget)
            .await
            .map_err(|_| IndexerError::Closed)?
            .forget();
        let n = actions.len() as u64;
        self.ctx.stats.add(Stat::Emitted, n);
        if tx.send(Chunk { actions, budget }).is_err() {
            self.ctx.stats.sub_emitted(n);
            self.shared.budget.add_permits(budget as usize);
            return Err(IndexerError::Closed);
        }
        Ok(())
    }

    /// Live counters of this sync.
    pub fn stats(&self) -> SyncStats {
        self.ctx.stats.sync.snapshot()
    }

    pub fn target(&self) -> &SyncTarget {
        &self.ctx.target
    }

    /// Waits until every action of this sync is settled (indexed, deleted or dead-lettered). Then, if the sync
    /// succeeded and is a full sync, deletes the documents it did not stamp. A failed sync never deletes.
    ///
    /// An error still carries the counts: the documents indexed before a stale deletion failed are in the
    /// index, and the caller's report must say so (`indexed + deleted + dead_lettered = emitted`).
    pub async fn finish(mut self, outcome: SyncOutcome) -> Result<SyncStats, FinishError> {
        match self.settle(outcome).await {
            Ok(stats) => Ok(stats),
            Err(error) => Err(FinishError {
                error,
                stats: self.stats(),
            }),
        }
    }

    async fn settle(&mut self, outcome: SyncOutcome) -> Result<SyncStats, IndexerError> {
        drop(self.tx.take());
        if let Some(batcher) = self.batcher.take() {
            batcher.await.map_err(|e| {
                IndexerError::Internal(format!(
                    "the batcher of index {} failed: {e}",
                    self.ctx.target.index
                ))
            })?;
        }
        if let Some(err) = self
            .ctx
            .fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            return Err(err);
        }
        let s = self.stats();
        if s.indexed + s.deleted + s.dead_lettered != s.emitted || s.failed != 0 {
            return Err(IndexerError::Internal(format!(
                "counters do not add up after the sync: {s:?}"
            )));
        }
        if outcome == SyncOutcome::Succeeded && self.ctx.target.stale_deletion {
            stale::delete_stale(&self.shared, &self.ctx).await?;
        } else if self.ctx.target.stale_deletion {
            tracing::info!(index = %self.ctx.target.index, sync_id = %self.ctx.target.sync_id, "sync failed: stale documents are kept");
        }
        Ok(self.stats())
    }
}

/// A sync that did not finish cleanly, with what its documents came to anyway.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct FinishError {
    #[source]
    pub error: IndexerError,
    /// The counts at the moment of the failure.
    pub stats: SyncStats,
}

async fn run_batcher(
    shared: Arc<Shared>,
    ctx: Arc<SyncCtx>,
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    _alive: mpsc::Sender<()>,
) {
    let cfg = &shared.cfg;
    let initial_capacity = cfg.max_batch_bytes.min(1 << 20);
    let mut batch = Batch::with_body(ctx.bodies.take(initial_capacity));
    let mut jobs = JoinSet::new();
    let mut closing = shared.closing.subscribe();
    let mut closed = false;
    let flush = tokio::time::sleep(Duration::from_secs(86_400));
    tokio::pin!(flush);
    let stamp = ctx.stamp.as_deref();
    // The stamp and the comma after it.
    let stamp_bytes = stamp.map_or(0, |s| s.len() + 1);
    loop {
        tokio::select! {
            chunk = rx.recv() => {
                let Some(chunk) = chunk else { break };
                for action in chunk.actions {
                    // The stamp is written into each indexed document too: counted here, a
                    // full sync's body stays within `max_batch_bytes` and so within the
                    // capacity it grew to, instead of passing it by a stamp and doubling.
                    let size = action.budget_bytes() + stamp_bytes;
                    if !batch.is_empty() && batch.body.len() + size > cfg.max_batch_bytes {
                        let full = std::mem::replace(&mut batch, Batch::with_body(ctx.bodies.take(initial_capacity)));
                        dispatch(&shared, &ctx, &mut jobs, full).await;
                    }
                    if batch.is_empty() {
                        flush.as_mut().reset(tokio::time::Instant::now() + cfg.flush_interval);
                    }
                    let before = batch.body.len();
                    batch.push(action, stamp);
                    ctx.stats.add(Stat::Bytes, (batch.body.len() - before) as u64);
                    if batch.len() >= cfg.max_batch_docs {
                        let full = std::mem::replace(&mut batch, Batch::with_body(ctx.bodies.take(initial_capacity)));
                        dispatch(&shared, &ctx, &mut jobs, full).await;
                    }
                }
                shared.budget.add_permits(chunk.budget as usize);
            }
            () = &mut flush, if !batch.is_empty() => {
                let partial = std::mem::replace(&mut batch, Batch::with_body(ctx.bodies.take(initial_capacity)));
                dispatch(&shared, &ctx, &mut jobs, partial).await;
            }
            // Shutdown: take no more, but drain what is already queued (the loop ends when `recv` says so).
            // `wait_for` also sees a shutdown that happened before this task first ran.
            _ = async { closing.wait_for(|&c| c).await.is_ok() }, if !closed => {
                closed = true;
                rx.close();
            }
        }
        while let Some(done) = jobs.try_join_next() {
            reap(&ctx, done);
        }
    }
    if !batch.is_empty() {
        dispatch(&shared, &ctx, &mut jobs, batch).await;
    }
    while let Some(done) = jobs.join_next().await {
        reap(&ctx, done);
    }
}

/// Waits for a request slot (this is where backpressure starts), then sends the batch in its own task.
async fn dispatch(shared: &Arc<Shared>, ctx: &Arc<SyncCtx>, jobs: &mut JoinSet<()>, batch: Batch) {
    let permit = shared.limiter.acquire().await;
    jobs.spawn(bulk::run(shared.clone(), ctx.clone(), batch, permit));
}

fn reap(ctx: &SyncCtx, done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        ctx.set_fatal(IndexerError::Internal(format!(
            "a bulk request task failed: {e}"
        )));
    }
}
