//! The process: opens the store, sink and runtime once, loads the plugins that configured
//! connectors need, and runs syncs — once (`--once`), on demand, or on cron schedules.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Semaphore;

use crate::plugin::signature::TrustedKeys;
use crate::plugin::{self, Discovered, Plugin, PluginError};
use crate::sink::{Sink, dead_letter::DeadLetters, embedded::EmbeddedSink};
use crate::sync::{self, Progress, SyncEnv, SyncJob, SyncReport};
use inlet_policy::config::{self, Connector};
use inlet_policy::job::JobStatus;
use inlet_policy::job::JobType;
use inlet_runtime::{EngineSettings, Runtime};
use inlet_store::StateStore;

mod cluster;
pub use cluster::cluster_auth;
mod plugin_calls;
mod reload;

/// Everything a running `inlet` holds: opened once by [`Service::open`], then shared (in an
/// `Arc`) by the run loop, the hot-reload watcher and the Kibana protocol.
pub struct Service {
    /// The configuration it was opened with; never reloaded (a changed config.yml takes a
    /// restart).
    pub config: config::Loaded,
    /// What every sync shares: the runtime, store, sink, dead letters, caps and brokers.
    pub env: Arc<SyncEnv>,
    /// The plugin directory (`--plugins`, else `inlet.plugins_dir`), watched by hot reload.
    pub(crate) plugins_dir: PathBuf,
    /// The plugins syncs use; hot reload (`reload`) swaps entries while syncs run.
    plugins: RwLock<PluginTable>,
    /// `inlet.plugins.trusted_keys`, checked at start and on every reload.
    trust: TrustedKeys,
    /// What the plugin directory held when the plugins were loaded at start: hot reload acts
    /// on changes from here.
    seen_at_start: BTreeMap<String, reload::Seen>,
    /// Syncs a crash or a shutdown interrupted: (connector id, job type), run first by
    /// `inlet run`.
    resume: Vec<(String, JobType)>,
}

/// Loaded plugins by service type, and why the others are not. Readers clone an
/// `Arc<Plugin>` out, so replacing an entry never disturbs a sync holding the previous one.
#[derive(Default)]
struct PluginTable {
    loaded: BTreeMap<String, Arc<Plugin>>,
    /// Service types with no usable plugin, with the reason.
    broken: BTreeMap<String, String>,
}

impl PluginTable {
    /// Returns the version `p` replaces.
    fn install(&mut self, service_type: &str, p: Arc<Plugin>) -> Option<Arc<Plugin>> {
        self.broken.remove(service_type);
        self.loaded.insert(service_type.to_owned(), p)
    }

    /// A version that failed to load: the loaded one, if any, keeps serving (and is returned);
    /// otherwise `reason` is what the service type's syncs fail with.
    fn refuse(&mut self, service_type: &str, reason: &str) -> Option<Arc<Plugin>> {
        let serving = self.loaded.get(service_type).cloned();
        if serving.is_none() {
            self.broken
                .insert(service_type.to_owned(), reason.to_owned());
        }
        serving
    }

    /// Returns the version removed.
    fn remove(&mut self, service_type: &str) -> Option<Arc<Plugin>> {
        self.broken.remove(service_type);
        self.loaded.remove(service_type)
    }
}

/// Where the plugin directory is: `--plugins`, else `inlet.plugins_dir` relative to the file.
fn plugins_dir(loaded: &config::Loaded, flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| loaded.resolve(&loaded.config.inlet.plugins_dir))
}

/// Builds the runtime with the operator's caps; the compiled-plugin cache lives under the data
/// directory unless `inlet.cache_dir` says otherwise.
fn runtime_for(loaded: &config::Loaded) -> anyhow::Result<Arc<Runtime>> {
    let inlet = &loaded.config.inlet;
    let data_dir = loaded.resolve(&inlet.data_dir);
    let cache_dir = inlet
        .cache_dir
        .as_ref()
        .map(|c| loaded.resolve(c))
        .unwrap_or_else(|| data_dir.join("cache"));
    let settings = EngineSettings {
        max_memory_bytes: inlet.limits.memory_mib.saturating_mul(1024 * 1024),
        pooled_instances: (loaded.config.service.max_concurrent_content_syncs
            + loaded.config.service.max_concurrent_access_control_syncs
            + 8) as u32,
    };
    Ok(Arc::new(Runtime::new(&settings, &cache_dir)?))
}

impl Service {
    /// Opens what `config.yml` describes: the data directory (`inlet.data_dir`, created if
    /// missing) with its state store, the sink (the cluster `elasticsearch.host` or `cloud_id`
    /// names, which must answer now; with neither, the embedded sink under `<data_dir>/sink`),
    /// the runtime, the brokers, and the plugin of every configured service type. Syncs the
    /// last process left unfinished are recorded as errors and, like suspended ones, queued to
    /// run first under [`Service::run_forever`]. `plugins_flag` is `--plugins`.
    ///
    /// Fails on an unusable data directory, store, sink, trusted key, credential or database
    /// configuration, or plugin directory. A plugin that does not load fails only its
    /// connectors' syncs ([`Service::plugin_for`] says why).
    pub async fn open(
        loaded: config::Loaded,
        plugins_flag: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        for key in &loaded.unknown_keys {
            tracing::warn!(key = %key, "{}: unknown key, ignored", loaded.path.display());
        }
        let data_dir = loaded.resolve(&loaded.config.inlet.data_dir);
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let store = Arc::new(StateStore::open(&data_dir.join("state.redb"))?);
        let mut resume = Vec::new();
        for job in store.unfinished_jobs()? {
            tracing::warn!(
                connector_id = %job.connector_id,
                sync_job_id = %job.job_id,
                "a sync was interrupted (the process died mid-sync); it runs again now"
            );
            let mut job = job;
            job.status = JobStatus::Error;
            job.error = Some("interrupted: the process died during the sync".into());
            job.completed_at = Some(chrono::Utc::now().to_rfc3339());
            store.record_job(&job)?;
            resume.push((job.connector_id, job.job_type));
        }
        for c in &loaded.config.connectors {
            let last = store.jobs(&c.connector_id)?.pop();
            if let Some(job) = last.filter(|j| j.status == JobStatus::Suspended) {
                resume.push((job.connector_id, job.job_type));
            }
        }
        let sink = match loaded
            .config
            .elasticsearch
            .as_ref()
            .filter(|_| loaded.config.uses_cluster())
        {
            Some(es) => {
                let cfg = cluster::indexer_config(&loaded, es, &data_dir);
                let indexer = inlet_indexer::Indexer::connect(cfg)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot use the cluster configured in {} (elasticsearch.host)",
                            loaded.path.display()
                        )
                    })?;
                Sink::Cluster(indexer)
            }
            None => Sink::Embedded(Arc::new(
                EmbeddedSink::open(&data_dir.join("sink"), store.clone()).with_context(|| {
                    format!("cannot open the embedded sink under {}", data_dir.display())
                })?,
            )),
        };
        let runtime = runtime_for(&loaded)?;
        let plugins_dir = plugins_dir(&loaded, plugins_flag);
        // A bad trusted key stops the start: running with signatures silently unchecked would
        // be worse than not running.
        let trust = TrustedKeys::from_config(&loaded)?;
        let env = Arc::new(SyncEnv {
            runtime,
            store,
            sink,
            dead_letters: Arc::new(DeadLetters::new(&data_dir.join("dead-letter"))),
            caps: loaded.config.inlet.limits.clone(),
            broker: Arc::new(inlet_broker::Broker::new(
                &loaded.config,
                &loaded.base_dir(),
            )?),
            databases: Arc::new(inlet_broker::sql::Databases::new(
                &loaded.config,
                &loaded.base_dir(),
            )?),
        });
        let mut service = Service {
            config: loaded,
            env,
            plugins_dir,
            plugins: RwLock::default(),
            trust,
            seen_at_start: BTreeMap::new(),
            resume,
        };
        service.load_plugins()?;
        Ok(service)
    }

    /// Loads the plugin of every configured service type. A plugin that fails to load fails
    /// only its connectors' syncs.
    fn load_plugins(&mut self) -> anyhow::Result<()> {
        // Stamped before the loads read the files: a change racing the start is then seen as a
        // change by hot reload, never missed.
        let observed = reload::observe(&self.plugins_dir, &self.service_types(), &BTreeMap::new())?;
        for p in &observed.problems {
            tracing::warn!("{p}");
        }
        let mut table = PluginTable::default();
        for c in &self.config.config.connectors {
            if table.loaded.contains_key(&c.service_type)
                || table.broken.contains_key(&c.service_type)
            {
                continue;
            }
            match load_one(
                &self.env.runtime,
                &observed.found,
                &c.service_type,
                c.sha256.as_deref(),
                &self.trust,
            ) {
                Ok(p) => {
                    table.loaded.insert(c.service_type.clone(), p);
                }
                Err(e) => {
                    tracing::error!(connector_id = %c.connector_id, "{e}");
                    table.broken.insert(c.service_type.clone(), e.to_string());
                }
            }
        }
        self.seen_at_start = observed.seen;
        tracing::info!(
            plugins = table.loaded.len(),
            broken = table.broken.len(),
            sink = %self.env.sink.describe(),
            allocator = ?self.env.runtime.allocator(),
            "inlet ready"
        );
        self.plugins = RwLock::new(table);
        Ok(())
    }

    /// The service types configured connectors use, each once.
    fn service_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .config
            .config
            .connectors
            .iter()
            .map(|c| c.service_type.clone())
            .collect();
        types.sort();
        types.dedup();
        types
    }

    /// The sha256 pin of a service type: the first of its connectors', as at start.
    fn pin_for(&self, service_type: &str) -> Option<&str> {
        self.config
            .config
            .connectors
            .iter()
            .find(|c| c.service_type == service_type)
            .and_then(|c| c.sha256.as_deref())
    }

    fn table(&self) -> RwLockWriteGuard<'_, PluginTable> {
        self.plugins.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// `inlet run`: watches the plugin directory until `cancel` is set, so a plugin folder
    /// that is added, changed or removed is used from the next sync on (see `reload`).
    pub fn watch_plugins(self: &Arc<Self>, cancel: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(reload::run(self.clone(), cancel))
    }

    /// The configured connector with this `connector_id`; the error lists the configured ids.
    pub fn connector(&self, id: &str) -> anyhow::Result<&Connector> {
        self.config
            .config
            .connectors
            .iter()
            .find(|c| c.connector_id == id)
            .with_context(|| {
                let known: Vec<&str> = self
                    .config
                    .config
                    .connectors
                    .iter()
                    .map(|c| c.connector_id.as_str())
                    .collect();
                format!(
                    "no connector `{id}` in {} (configured: {})",
                    self.config.path.display(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )
            })
    }

    /// Runs one sync of one connector (`inlet sync`); `progress` is updated as batches are
    /// written and `cancel` stops the sync (status `canceled`). The cursor is kept in the state
    /// store: an incremental sync starts from the last completed full or incremental sync's,
    /// and a completed one saves its own.
    pub async fn sync(
        &self,
        connector: &Connector,
        kind: JobType,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
    ) -> SyncReport {
        self.sync_with(connector, kind, progress, cancel, false)
            .await
    }

    /// A sync the service itself runs (`--once`, schedules, resumes): `cancel` is the process's
    /// shutdown, so a stopped sync is recorded `suspended` and runs again at the next start.
    async fn service_sync(
        &self,
        connector: &Connector,
        kind: JobType,
        cancel: Arc<AtomicBool>,
    ) -> SyncReport {
        self.sync_with(connector, kind, Arc::default(), cancel, true)
            .await
    }

    async fn sync_with(
        &self,
        connector: &Connector,
        kind: JobType,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
        shutdown: bool,
    ) -> SyncReport {
        let cursor = match kind {
            JobType::Incremental => match self.env.store.cursor(&connector.connector_id) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(connector_id = %connector.connector_id, error = %e, "cannot read the cursor; syncing from the start");
                    None
                }
            },
            _ => None,
        };
        let report = self
            .sync_job(connector, kind, progress, cancel, cursor, shutdown)
            .await;
        // Cursors are saved only after success.
        if report.status == sync::Status::Completed
            && matches!(kind, JobType::Full | JobType::Incremental)
            && let Err(e) = self
                .env
                .store
                .set_cursor(&connector.connector_id, report.cursor.as_deref())
        {
            tracing::error!(connector_id = %connector.connector_id, error = %e, "cannot save the cursor");
        }
        report
    }

    /// Runs one sync starting from `cursor`, storing no cursor: for callers that keep cursors
    /// elsewhere (Kibana's connector document). The new cursor is in the report.
    pub async fn sync_from(
        &self,
        connector: &Connector,
        kind: JobType,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
        cursor: Option<String>,
    ) -> SyncReport {
        self.sync_job(connector, kind, progress, cancel, cursor, false)
            .await
    }

    async fn sync_job(
        &self,
        connector: &Connector,
        kind: JobType,
        progress: Arc<Progress>,
        cancel: Arc<AtomicBool>,
        cursor: Option<String>,
        cancel_is_shutdown: bool,
    ) -> SyncReport {
        let job_id = sync::new_job_id();
        let plugin = match self.plugin_for(connector) {
            Ok(p) => p,
            Err(reason) => {
                tracing::error!(connector_id = %connector.connector_id, "sync not started: {reason}");
                return SyncReport {
                    job_id,
                    connector_id: connector.connector_id.clone(),
                    job_type: kind,
                    status: sync::Status::Error,
                    error: Some(reason),
                    error_class: Some("plugin"),
                    stats: Default::default(),
                    index: connector.index_name(),
                    elapsed_ms: 0,
                    peak_memory_bytes: 0,
                    host_peak: Default::default(),
                    process_peak_rss_bytes: crate::sync::process_peak_rss_bytes(),
                    cursor: None,
                };
            }
        };
        // Which version this sync runs on (hot reload may swap it for the next ones).
        tracing::info!(
            connector_id = %connector.connector_id,
            sync_job_id = %job_id,
            plugin = %plugin.path.display(),
            plugin_version = plugin.manifest.as_ref().and_then(|m| m.version.as_deref()).unwrap_or("-"),
            plugin_sha256 = %plugin.sha256,
            "sync uses plugin"
        );
        let job = SyncJob {
            job_id,
            connector,
            kind,
            cancel,
            cursor,
            cancel_is_shutdown,
        };
        sync::run(&self.env, job, plugin, progress).await
    }

    /// The loaded plugin of a connector's service type, or why there is none (the load error,
    /// or that no plugin provides it). Reflects hot reload: the version the next sync uses.
    pub fn plugin_for(&self, connector: &Connector) -> Result<Arc<Plugin>, String> {
        let table = self.plugins.read().unwrap_or_else(PoisonError::into_inner);
        table
            .loaded
            .get(&connector.service_type)
            .cloned()
            .ok_or_else(|| {
                table
                    .broken
                    .get(&connector.service_type)
                    .cloned()
                    .unwrap_or_else(|| {
                        PluginError::Unknown(connector.service_type.clone()).to_string()
                    })
            })
    }

    /// `inlet run --once`: a full sync of every connector, concurrently up to the configured
    /// limit. Returns the reports in configuration order.
    pub async fn run_once(self: &Arc<Self>, cancel: Arc<AtomicBool>) -> Vec<SyncReport> {
        let limit = Arc::new(Semaphore::new(
            self.config
                .config
                .service
                .max_concurrent_content_syncs
                .max(1),
        ));
        let mut tasks = Vec::new();
        for i in 0..self.config.config.connectors.len() {
            let svc = self.clone();
            let limit = limit.clone();
            let cancel = cancel.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                let c = &svc.config.config.connectors[i];
                svc.service_sync(c, JobType::Full, cancel).await
            }));
        }
        let mut reports = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => reports.push(r),
                Err(e) => tracing::error!("a sync task panicked: {e}"),
            }
        }
        reports
    }

    /// `inlet run`: each connector syncs on its cron schedules; one without any schedule gets
    /// one full sync at start. Returns when `cancel` is set.
    pub async fn run_forever(self: &Arc<Self>, cancel: Arc<AtomicBool>) {
        let limit = Arc::new(Semaphore::new(
            self.config
                .config
                .service
                .max_concurrent_content_syncs
                .max(1),
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.config.config.connectors.len() {
            let svc = self.clone();
            let limit = limit.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move { svc.connector_loop(i, limit, cancel).await });
        }
        while tasks.join_next().await.is_some() {}
    }

    async fn connector_loop(&self, i: usize, limit: Arc<Semaphore>, cancel: Arc<AtomicBool>) {
        let c = &self.config.config.connectors[i];
        let schedules: Vec<(JobType, &config::Cron)> = [
            (JobType::Full, c.schedule.full.as_ref()),
            (JobType::Incremental, c.schedule.incremental.as_ref()),
            (JobType::AccessControl, c.schedule.access_control.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        let tick = Duration::from_millis(200);
        let mut resumed_full = false;
        for &(_, kind) in self.resume.iter().filter(|(id, _)| *id == c.connector_id) {
            let _permit = limit.acquire().await;
            tracing::info!(connector_id = %c.connector_id, job_type = kind.as_str(), "resuming an interrupted sync");
            self.service_sync(c, kind, cancel.clone()).await;
            resumed_full |= kind == JobType::Full;
        }
        if schedules.is_empty() {
            if resumed_full {
                return;
            }
            let _permit = limit.acquire().await;
            self.service_sync(c, JobType::Full, cancel.clone()).await;
            return;
        }
        let mut last = chrono::Utc::now();
        while !cancel.load(std::sync::atomic::Ordering::Relaxed) {
            tokio::time::sleep(tick).await;
            let now = chrono::Utc::now();
            for (kind, cron) in &schedules {
                if due(cron, last, now) {
                    let _permit = limit.acquire().await;
                    tracing::info!(connector_id = %c.connector_id, schedule = %cron.expression, "scheduled sync due");
                    self.service_sync(c, *kind, cancel.clone()).await;
                }
            }
            last = now;
        }
    }
}

/// Whether a schedule fires in the tick (`last`, `now`]: half-open, so consecutive ticks
/// neither miss an instant on their boundary nor fire it twice; instants a long sync skipped
/// over fire once, not once each.
fn due(
    cron: &config::Cron,
    last: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    cron.schedule.after(&last).next().is_some_and(|t| t <= now)
}

/// Loads and verifies the plugin of one service type, with its pin: the one path both the
/// start and hot reload take.
fn load_one(
    runtime: &Runtime,
    found: &BTreeMap<String, Discovered>,
    service_type: &str,
    pin: Option<&str>,
    trust: &TrustedKeys,
) -> Result<Arc<Plugin>, PluginError> {
    let d = found
        .get(service_type)
        .ok_or_else(|| PluginError::Unknown(service_type.to_owned()))?;
    plugin::load(
        runtime,
        &d.component_path(),
        Some(d.manifest.clone()),
        pin,
        trust,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone as _, Utc};

    fn cron(expression: &str) -> config::Cron {
        serde_yaml_ng::from_str(&format!("{expression:?}")).expect("a cron expression")
    }

    fn at(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, s)
            .single()
            .expect("a time")
            + chrono::Duration::milliseconds(ms)
    }

    /// The instants a run loop ticking every `tick` from `from` to `to` fires at.
    fn fired(
        cron: &config::Cron,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tick: chrono::Duration,
    ) -> Vec<DateTime<Utc>> {
        let (mut last, mut out) = (from, Vec::new());
        while last < to {
            let now = last + tick;
            if due(cron, last, now) {
                out.push(now);
            }
            last = now;
        }
        out
    }

    #[test]
    fn each_scheduled_instant_fires_once_in_the_tick_that_reaches_it() {
        let every_minute = cron("0 * * * * ?");
        // 200 ms ticks that land exactly on the minute: the boundary belongs to one tick only.
        let fires = fired(
            &every_minute,
            at(11, 59, 59, 0),
            at(12, 2, 0, 100),
            chrono::Duration::milliseconds(200),
        );
        assert_eq!(fires, [at(12, 0, 0, 0), at(12, 1, 0, 0), at(12, 2, 0, 0)]);
        // Ticks that straddle the minute fire in the tick after it.
        let fires = fired(
            &every_minute,
            at(11, 59, 59, 50),
            at(12, 0, 1, 0),
            chrono::Duration::milliseconds(200),
        );
        assert_eq!(fires, [at(12, 0, 0, 50)]);
    }

    #[test]
    fn a_sync_longer_than_the_period_fires_once_after_it_not_once_per_missed_instant() {
        let every_minute = cron("0 * * * * ?");
        // The loop's next tick comes after a 5-minute sync: `due` is one yes for the five
        // instants it skipped, so one sync runs, not five queued up.
        assert!(due(&every_minute, at(12, 0, 0, 100), at(12, 5, 0, 300)));
        assert!(!due(&every_minute, at(12, 0, 0, 100), at(12, 0, 59, 999)));
    }
}
