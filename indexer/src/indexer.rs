//! The shared indexer: one per process, fed by every sync, owning the transport, the concurrency limit,
//! the byte budget of the queue and the dead-letter files.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::cluster::{self, ClusterInfo};
use crate::concurrency::Limiter;
use crate::dead_letter::DeadLetters;
use crate::stats::{Counters, StatSinks, SyncStats};
use crate::sync::{self, SyncCtx, SyncTarget, SyncWriter};
use crate::transport::{Transport, secret_header};
use crate::{IndexerConfig, IndexerError, setup};

/// The bulk indexer. Cheap to clone; all clones share the same queue budget, connections and limits.
#[derive(Clone)]
pub struct Indexer {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub cfg: IndexerConfig,
    pub transport: Arc<Transport>,
    pub limiter: Arc<Limiter>,
    /// Bytes of actions queued in front of the batchers, across all syncs.
    pub budget: Semaphore,
    pub budget_cap: u32,
    pub dead_letters: Arc<DeadLetters>,
    pub info: ClusterInfo,
    index_stats: Mutex<HashMap<String, Arc<Counters>>>,
    total: Arc<Counters>,
    pub closing: watch::Sender<bool>,
    /// Every batcher holds a clone; shutdown waits until the receiver sees them all gone.
    alive: Mutex<Option<mpsc::Sender<()>>>,
    alive_rx: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl Indexer {
    /// Checks the configuration, asks `GET /` which cluster answers (failing with a message naming the URL and
    /// what to check if none does), and prepares the dead-letter directory.
    pub async fn connect(cfg: IndexerConfig) -> Result<Indexer, IndexerError> {
        cfg.validate()?;
        let transport = Transport::new(&cfg)?;
        let info = cluster::detect(&transport).await?;
        tracing::info!(
            distribution = ?info.distribution, version = %info.version, cluster = %info.cluster_name, url = %info.url,
            "connected to the search cluster"
        );
        let dead_letters = DeadLetters::new(&cfg.dead_letter_dir)?;
        // The semaphore counts bytes in u32 units per acquire: cap the budget there (4 GiB is far beyond sane).
        let budget_cap = u32::try_from(cfg.channel_bytes).unwrap_or(u32::MAX);
        let (alive, alive_rx) = mpsc::channel(1);
        let shared = Shared {
            limiter: Limiter::new(cfg.max_in_flight),
            budget: Semaphore::new(budget_cap as usize),
            budget_cap,
            transport,
            dead_letters,
            info,
            index_stats: Mutex::new(HashMap::new()),
            total: Arc::new(Counters::default()),
            closing: watch::Sender::new(false),
            alive: Mutex::new(Some(alive)),
            alive_rx: tokio::sync::Mutex::new(alive_rx),
            cfg,
        };
        Ok(Indexer {
            shared: Arc::new(shared),
        })
    }

    /// Which product and version the cluster runs.
    pub fn flavour(&self) -> &ClusterInfo {
        &self.shared.info
    }

    /// The configuration in force.
    pub fn config(&self) -> &IndexerConfig {
        &self.shared.cfg
    }

    /// Starts a sync into `target.index`: creates the index if it is missing (with the target's settings and
    /// mappings), maps the stale field as `keyword` for full syncs, and returns the writer to send actions through.
    pub async fn begin_sync(&self, target: SyncTarget) -> Result<SyncWriter, IndexerError> {
        let shared = &self.shared;
        let alive = shared
            .alive
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or(IndexerError::Closed)?;
        setup::check_index_name(&target.index)?;
        let auth = target
            .api_key
            .as_deref()
            .map(|k| secret_header(&crate::config::api_key_header(k)))
            .transpose()?;
        setup::prepare_index(shared, &target, auth.as_ref()).await?;
        let index_counters = shared
            .index_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(target.index.clone())
            .or_default()
            .clone();
        let stats = StatSinks {
            sync: Arc::new(Counters::default()),
            index: index_counters,
            total: shared.total.clone(),
        };
        let ctx = Arc::new(SyncCtx::new(&shared.cfg, target, auth, stats));
        Ok(sync::start(shared.clone(), ctx, alive))
    }

    /// Concurrent `_bulk` requests allowed right now (lower than `max_in_flight` while the cluster pushes back).
    pub fn in_flight_limit(&self) -> usize {
        self.shared.limiter.limit()
    }

    /// Totals over every sync since the process started.
    pub fn stats(&self) -> SyncStats {
        self.shared.total.snapshot()
    }

    /// Totals per index over every sync since the process started.
    pub fn stats_by_index(&self) -> BTreeMap<String, SyncStats> {
        let map = self
            .shared
            .index_stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, v)| (k.clone(), v.snapshot())).collect()
    }

    /// Stops accepting actions, sends everything already queued or in flight (retries included), then returns.
    /// Writers still open get [`IndexerError::Closed`]; their `finish` still reports exact counts.
    pub async fn shutdown(self) -> Result<(), IndexerError> {
        let shared = &self.shared;
        shared.closing.send_replace(true);
        shared.budget.close();
        drop(
            shared
                .alive
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        // `recv` returns `None` once the last batcher has flushed and dropped its sender.
        while shared.alive_rx.lock().await.recv().await.is_some() {}
        tracing::info!("bulk indexer stopped: everything queued was sent");
        Ok(())
    }
}
