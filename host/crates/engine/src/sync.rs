//! One sync, start to end: a fresh plugin instance, configuration checked against the plugin's
//! schema, batches pulled at the sink's pace, every document counted, stale documents removed
//! only after success, the cursor saved only after success.

mod batch;
pub mod configuration;
pub(crate) mod document;
pub(crate) mod source;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::plugin::Plugin;
use crate::sink::dead_letter::{DeadLetters, Entry, ErrorInfo};
use crate::sink::{Sink, Target, Writer};
use batch::Prepared;
use inlet_policy::config::{Connector, Limits};
use inlet_policy::job::{JobStatus, JobType};
use inlet_policy::manifest::Manifest;
use inlet_runtime::{CallError, InstanceOptions, PluginInstance, Runtime, types};
use inlet_store::{JobRecord, StateStore};
use source::Source;

/// The target of a sync's start and outcome lines (`INFO inlet::sync: sync completed …`): the
/// name operators filter and grep on, kept when the engine became a crate of its own.
const LOG_TARGET: &str = "inlet::sync";

/// Largest cursor kept between syncs, in bytes; a larger one fails the sync (Elastic's
/// unbounded cursors broke claims with 413s).
const MAX_CURSOR_BYTES: usize = 64 * 1024;

/// What every sync in this process shares, opened once by the service.
pub struct SyncEnv {
    /// The sandbox: instances are made from loaded plugins here.
    pub(crate) runtime: Arc<Runtime>,
    /// Cursors, plugin state and the job history.
    pub(crate) store: Arc<StateStore>,
    /// Where documents go; flush it with [`Sink::shutdown`] before the process exits.
    pub sink: Sink,
    /// Documents the host's checks refuse (the sink dead-letters what the cluster refuses).
    pub(crate) dead_letters: Arc<DeadLetters>,
    /// The operator's caps (`inlet.limits`); a connector's `limits` apply within them.
    pub(crate) caps: Limits,
    /// Brokered network access and credentials.
    pub broker: Arc<inlet_broker::Broker>,
    /// Operator-granted SQL databases and their pools.
    pub(crate) databases: Arc<inlet_broker::sql::Databases>,
}

/// Live counters of a running sync, readable from another task (progress bars, Kibana's
/// `_stats`). Updated after each batch the sink has taken, so they lag the plugin by up to a
/// batch; the exact, final counts are the report's [`SyncStats`]. Each means what the field of
/// the same name there means; dead letters and stale deletions are known only at the end.
#[derive(Debug, Default)]
pub struct Progress {
    /// Documents the plugin has returned so far.
    pub extracted: AtomicU64,
    /// Documents refused by the host's checks so far.
    pub invalid: AtomicU64,
    /// Documents the sink has indexed so far (written to the embedded sink's file, or
    /// acknowledged by the cluster).
    pub indexed: AtomicU64,
    /// Deletions the plugin asked for that the sink has carried out so far.
    pub deleted: AtomicU64,
    /// Bytes the sink has taken so far (see [`SyncStats::bytes`]).
    pub bytes: AtomicU64,
    /// Batches pulled from the plugin so far.
    pub batches: AtomicU64,
    /// Documents excluded by basic sync rules so far.
    pub filtered: AtomicU64,
}

/// Exact counts of a finished sync. `extracted = indexed + deleted + dead_lettered + filtered`;
/// `stale_deleted` counts documents removed because the full sync did not see them. The
/// counts are final once the report is made, also for a failed sync: what they count happened.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SyncStats {
    /// Documents (index and delete operations) the plugin returned.
    pub extracted: u64,
    /// Documents the sink indexed (written to the embedded sink's file, or acknowledged by the
    /// cluster).
    pub indexed: u64,
    /// Deletions the plugin asked for that the sink carried out (a cluster's "not found"
    /// counts: the document is gone either way).
    pub deleted: u64,
    /// Documents written to the dead-letter file instead: refused by the host's checks or
    /// by the cluster.
    pub dead_lettered: u64,
    /// Of the dead-lettered: refused by the host's document checks.
    pub invalid: u64,
    /// Excluded by basic sync rules.
    pub filtered: u64,
    /// Documents of the index this full or access-control sync did not write, deleted at its
    /// end, and only when everything before succeeded: a sync that failed or was stopped
    /// earlier deletes none; incremental syncs never delete stale documents.
    pub stale_deleted: u64,
    /// Bytes taken by the sink: ids and bodies (embedded sink), or the `_bulk` lines of each
    /// action's first attempt (cluster).
    pub bytes: u64,
    /// Batches pulled from the plugin.
    pub batches: u64,
}

/// How a sync ended: the job statuses a run can end in. Written as its [`JobStatus`], so the
/// report, the job history and the metrics say the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "JobStatus")]
pub enum Status {
    /// The plugin said the sync is complete and the sink took every document (and, for a full
    /// or access-control sync, deleted the stale ones); the report carries the plugin's new
    /// cursor, if it gave one.
    Completed,
    /// The sync failed; the report's `error` and `error_class` say why.
    Error,
    /// Stopped by its cancel flag when that is not the process's shutdown (a user's or
    /// Kibana's cancel).
    Canceled,
    /// Stopped by a process shutdown; the next start runs it again.
    Suspended,
}

impl From<Status> for JobStatus {
    fn from(s: Status) -> JobStatus {
        match s {
            Status::Completed => JobStatus::Completed,
            Status::Error => JobStatus::Error,
            Status::Canceled => JobStatus::Canceled,
            Status::Suspended => JobStatus::Suspended,
        }
    }
}

/// What one sync did, as `inlet sync --json` prints it and the job history and metrics record
/// it. Made once the sync has ended, whatever its status.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The job's id (sortable by start time), as in the job history and the log lines.
    pub job_id: String,
    /// The connector synced.
    pub connector_id: String,
    /// Full, incremental or access control.
    pub job_type: JobType,
    /// How it ended.
    pub status: Status,
    /// Why it did not complete; `None` exactly when `status` is `Completed`. May quote the
    /// plugin: clean it before logging.
    pub error: Option<String>,
    /// `config`, `trap`, `deadline`, `memory`, `host`, `plugin` (no usable plugin),
    /// `cancelled`, `suspended`, … (see [`CallError::class`]); `None` when completed.
    pub error_class: Option<&'static str>,
    /// The counts, final.
    pub stats: SyncStats,
    /// The index written: the connector's, or `.search-acl-filter-<index>` for an
    /// access-control sync.
    pub index: String,
    /// Wall-clock time of the sync, in milliseconds.
    pub elapsed_ms: u64,
    /// Peak linear memory of the plugin instance, in bytes (0 when none was made).
    pub peak_memory_bytes: u64,
    /// High-water marks of what the host held for the plugin (host memory, open files,
    /// requests in flight): the figures its `limits.host_memory_mib`, `max_open_files` and
    /// `max_requests_in_flight` cap.
    pub host_peak: inlet_policy::budget::Usage,
    /// Peak resident memory of the whole inlet process so far (Linux; 0 elsewhere).
    pub process_peak_rss_bytes: u64,
    /// The plugin's cursor for the next incremental sync; set only when the sync completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A sync to run.
pub(crate) struct SyncJob<'a> {
    /// From [`new_job_id`].
    pub(crate) job_id: String,
    pub(crate) connector: &'a Connector,
    pub(crate) kind: JobType,
    /// Set from another task to stop the sync between calls into the plugin.
    pub(crate) cancel: Arc<AtomicBool>,
    /// Where an incremental sync starts (the previous successful sync's cursor).
    pub(crate) cursor: Option<String>,
    /// `cancel` is the process's shutdown signal: a stopped sync is `suspended` (resumed at
    /// the next start), not `canceled`.
    pub(crate) cancel_is_shutdown: bool,
}

/// A new job id: sortable by time, unique within the process.
pub(crate) fn new_job_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Why a sync stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("{0}")]
    Host(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl Failure {
    fn class(&self) -> &'static str {
        match self {
            Failure::Call(e) => e.class(),
            Failure::Host(_) => "host",
            Failure::Config(_) => "config",
        }
    }
}

/// Runs one sync of `plugin` to completion and records it in the job history. Never panics on
/// plugin misbehaviour: every failure ends up in the report.
pub(crate) async fn run(
    env: &SyncEnv,
    job: SyncJob<'_>,
    plugin: Arc<Plugin>,
    progress: Arc<Progress>,
) -> SyncReport {
    let open = async |limits: &Limits| {
        instantiate(
            env,
            job.connector,
            &plugin,
            limits,
            job.cancel.clone(),
            true,
        )
        .await
    };
    execute(env, &job, plugin.manifest.as_ref(), progress, open).await
}

/// [`run`] on any [`Source`]: `open` makes it (with the connector's limits) once the job is
/// recorded as started.
pub(crate) async fn execute<S: Source>(
    env: &SyncEnv,
    job: &SyncJob<'_>,
    manifest: Option<&Manifest>,
    progress: Arc<Progress>,
    open: impl AsyncFnOnce(&Limits) -> Result<S, Failure>,
) -> SyncReport {
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339();
    let connector = job.connector;
    let content_index = connector.index_name();
    let index = match job.kind {
        JobType::AccessControl => format!(".search-acl-filter-{content_index}"),
        _ => content_index,
    };
    let mut record = JobRecord {
        job_id: job.job_id.clone(),
        connector_id: connector.connector_id.clone(),
        job_type: job.kind,
        status: JobStatus::InProgress,
        started_at,
        completed_at: None,
        error: None,
        stats: serde_json::Value::Null,
    };
    if let Err(e) = env.store.record_job(&record) {
        tracing::warn!(error = %e, "cannot record the job start");
    }
    tracing::info!(
        target: LOG_TARGET,
        connector_id = %connector.connector_id,
        sync_job_id = %job.job_id,
        service_type = %connector.service_type,
        index = %index,
        job_type = job.kind.as_str(),
        "sync started"
    );

    let mut runner = Runner {
        env,
        job,
        manifest,
        index: index.clone(),
        progress,
        stats: SyncStats::default(),
        peak_memory: 0,
        host_peak: Default::default(),
        cursor: None,
    };
    let outcome = runner.run(open).await;
    let cancelled = job.cancel.load(Ordering::Relaxed);
    let (status, error, class) = match &outcome {
        Ok(()) => (Status::Completed, None, None),
        // A process shutdown, not a user's cancel: the next start runs this job type again.
        Err(_) if cancelled && job.cancel_is_shutdown => (
            Status::Suspended,
            Some("the process shut down during the sync; it runs again at the next start".into()),
            Some("suspended"),
        ),
        Err(_) if cancelled => (
            Status::Canceled,
            Some("the sync was cancelled".into()),
            Some("cancelled"),
        ),
        Err(e) => (Status::Error, Some(e.to_string()), Some(e.class())),
    };
    let report = SyncReport {
        job_id: job.job_id.clone(),
        connector_id: connector.connector_id.clone(),
        job_type: job.kind,
        status,
        error,
        error_class: class,
        stats: runner.stats.clone(),
        index,
        elapsed_ms: started.elapsed().as_millis() as u64,
        peak_memory_bytes: runner.peak_memory as u64,
        host_peak: runner.host_peak,
        process_peak_rss_bytes: process_peak_rss_bytes(),
        cursor: if status == Status::Completed {
            runner.cursor.take()
        } else {
            None
        },
    };
    record.status = status.into();
    record.completed_at = Some(chrono::Utc::now().to_rfc3339());
    record.error = report.error.clone();
    record.stats = serde_json::to_value(&report.stats).unwrap_or_default();
    if let Err(e) = env.store.record_job(&record) {
        tracing::warn!(error = %e, "cannot record the job result");
    }
    record_metrics(&report, &connector.service_type);
    match &report.error {
        None => tracing::info!(
            target: LOG_TARGET,
            connector_id = %report.connector_id,
            sync_job_id = %report.job_id,
            index = %report.index,
            extracted = report.stats.extracted,
            indexed = report.stats.indexed,
            deleted = report.stats.deleted,
            stale_deleted = report.stats.stale_deleted,
            dead_lettered = report.stats.dead_lettered,
            elapsed_ms = report.elapsed_ms,
            "sync completed"
        ),
        Some(error) if report.status == Status::Suspended => tracing::warn!(
            target: LOG_TARGET,
            connector_id = %report.connector_id,
            sync_job_id = %report.job_id,
            index = %report.index,
            extracted = report.stats.extracted,
            indexed = report.stats.indexed,
            "sync suspended: {}",
            inlet_policy::guest_output::clean(error)
        ),
        Some(error) => tracing::error!(
            target: LOG_TARGET,
            connector_id = %report.connector_id,
            sync_job_id = %report.job_id,
            index = %report.index,
            error_class = report.error_class.unwrap_or("unknown"),
            extracted = report.stats.extracted,
            indexed = report.stats.indexed,
            // The error may quote the plugin (its own message, a stderr tail).
            "sync failed: {}",
            inlet_policy::guest_output::clean(error)
        ),
    }
    report
}

struct Runner<'a> {
    env: &'a SyncEnv,
    job: &'a SyncJob<'a>,
    manifest: Option<&'a Manifest>,
    index: String,
    progress: Arc<Progress>,
    stats: SyncStats,
    peak_memory: usize,
    host_peak: inlet_policy::budget::Usage,
    cursor: Option<String>,
}

impl Runner<'_> {
    async fn run<S: Source>(
        &mut self,
        open: impl AsyncFnOnce(&Limits) -> Result<S, Failure>,
    ) -> Result<(), Failure> {
        let connector = self.job.connector;
        let limits = connector.limits.within(&self.env.caps);
        let mut source = open(&limits).await?;
        let result = self.drive(&mut source, &limits).await;
        self.peak_memory = source.peak_memory();
        self.host_peak = source.host_peak();
        result
    }

    async fn drive<S: Source>(&mut self, instance: &mut S, limits: &Limits) -> Result<(), Failure> {
        let connector = self.job.connector;
        let meta = instance.metadata().await?;
        if meta.service_type != connector.service_type {
            return Err(Failure::Host(format!(
                "the plugin reports service type `{}`, but connector `{}` is `{}`",
                meta.service_type, connector.connector_id, connector.service_type
            )));
        }
        match self.job.kind {
            JobType::Incremental if !meta.features.incremental_sync => {
                return Err(Failure::Host(format!(
                    "`{}` does not support incremental syncs; run a full sync",
                    meta.service_type
                )));
            }
            JobType::AccessControl if !meta.features.document_level_security => {
                return Err(Failure::Host(format!(
                    "`{}` does not support access-control syncs (document-level security)",
                    meta.service_type
                )));
            }
            _ => {}
        }
        let schema = instance.configuration_schema().await?;
        let handover = configuration::Handover::new(connector, self.manifest);
        let (configuration, unknown) =
            configuration::resolve(&schema, &connector.configuration, &handover)
                .map_err(|e| Failure::Config(e.to_string()))?;
        if !unknown.is_empty() {
            tracing::warn!(
                connector_id = %connector.connector_id,
                keys = ?unknown,
                "configuration keys the plugin does not know; ignored"
            );
        }
        instance.validate_config(&configuration).await?;
        let rules = inlet_policy::sync_rules::RuleSet::new(connector.sync_rules.basic.clone())
            .map_err(|e| Failure::Config(e.to_string()))?;
        if let Some(advanced) = &connector.sync_rules.advanced
            && self.job.kind != JobType::AccessControl
        {
            check_advanced_rules(instance, &meta, &configuration, advanced).await?;
        }

        let request = types::SyncRequest {
            configuration,
            advanced_rules: connector
                .sync_rules
                .advanced
                .as_ref()
                .map(|v| v.to_string()),
            cursor: match self.job.kind {
                JobType::Incremental => self.job.cursor.clone(),
                _ => None,
            },
        };
        let sync = instance.start_sync(self.job.kind, &request).await?;
        flush_state(instance)?;

        let target = Target {
            connector_id: connector.connector_id.clone(),
            sync_id: self.job.job_id.clone(),
            index: self.index.clone(),
            stale_deletion: matches!(self.job.kind, JobType::Full | JobType::AccessControl),
            api_key: connector.api_key.clone(),
            pipeline: connector.pipeline.as_ref().map(|p| p.name.clone()),
        };
        let mut writer = self
            .env
            .sink
            .begin(target)
            .await
            .map_err(|e| Failure::Host(e.to_string()))?;
        let pulled = self.pull(instance, sync, &mut writer, limits, &rules).await;
        let cursor = match pulled {
            Ok(()) => match instance.cursor(sync).await {
                Ok(Some(c)) if c.len() > MAX_CURSOR_BYTES => Err(Failure::Host(format!(
                    "the plugin's cursor is {} bytes, over the {MAX_CURSOR_BYTES}-byte limit",
                    c.len()
                ))),
                Ok(c) => Ok(c),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        let cursor = cursor.and_then(|c| flush_state(instance).map(|()| c));
        if cursor.is_ok() {
            // A failed destructor is the plugin's bug, not a reason to fail a complete sync.
            if let Err(e) = instance.end_sync(sync).await {
                tracing::warn!(connector_id = %connector.connector_id, error = %inlet_policy::guest_output::clean(&e.to_string()), "plugin failed to release its sync");
            }
        }
        let succeeded = cursor.is_ok() && !self.job.cancel.load(Ordering::Relaxed);
        let (sink_stats, finished) = writer.finish(succeeded).await;
        // Counted before the error is raised: documents indexed before a failed stale deletion
        // are in the index, and the report says so.
        self.stats.indexed = sink_stats.indexed;
        self.stats.deleted = sink_stats.deleted;
        self.stats.stale_deleted = sink_stats.stale_deleted;
        self.stats.dead_lettered += sink_stats.dead_lettered;
        self.stats.bytes = sink_stats.bytes;
        finished.map_err(|e| Failure::Host(e.to_string()))?;
        self.cursor = cursor?;
        if self.job.cancel.load(Ordering::Relaxed) {
            return Err(Failure::Call(CallError::Cancelled { call: "sync" }));
        }
        Ok(())
    }

    /// Pulls batches until the plugin says the sync is complete.
    async fn pull<S: Source>(
        &mut self,
        instance: &mut S,
        sync: S::Sync,
        writer: &mut Writer,
        limits: &Limits,
        rules: &inlet_policy::sync_rules::RuleSet,
    ) -> Result<(), Failure> {
        let checks = batch::Checks {
            max_body_bytes: limits.max_document_bytes,
            max_batch_docs: limits.max_batch_docs,
            pipeline: self.job.connector.pipeline.as_ref(),
            rules,
        };
        loop {
            if self.job.cancel.load(Ordering::Relaxed) {
                return Err(CallError::Cancelled { call: "next-batch" }.into());
            }
            let Some(held) = instance.next_batch(sync).await? else {
                return Ok(());
            };
            let prepared = checks
                .prepare(held)
                .map_err(|e| Failure::Host(e.to_string()))?;
            self.deliver(instance, writer, prepared).await?;
        }
    }

    /// Counts a prepared batch, dead-letters what the checks refused, hands the rest to the
    /// sink and then commits the state the plugin wrote while making the batch.
    async fn deliver<S: Source>(
        &mut self,
        instance: &mut S,
        writer: &mut Writer,
        prepared: Prepared,
    ) -> Result<(), Failure> {
        self.stats.extracted += prepared.count as u64;
        self.stats.batches += 1;
        self.stats.filtered += prepared.filtered;
        if !prepared.refused.is_empty() {
            self.dead_letter(&prepared.refused)?;
        }
        writer
            .send_batch(prepared.actions)
            .await
            .map_err(|e| Failure::Host(e.to_string()))?;
        // The sink has the documents: the host no longer holds them for the plugin.
        drop(prepared.charge);
        // The batch is the sink's now: what the plugin stored while producing it (a
        // checkpoint) may be kept.
        flush_state(instance)?;
        let live = writer.stats();
        let p = &self.progress;
        p.extracted.store(self.stats.extracted, Ordering::Relaxed);
        p.invalid.store(self.stats.invalid, Ordering::Relaxed);
        p.indexed.store(live.indexed, Ordering::Relaxed);
        p.deleted.store(live.deleted, Ordering::Relaxed);
        p.bytes.store(live.bytes, Ordering::Relaxed);
        p.batches.store(self.stats.batches, Ordering::Relaxed);
        p.filtered.store(self.stats.filtered, Ordering::Relaxed);
        tracing::trace!(connector_id = %self.job.connector.connector_id, extracted = self.stats.extracted, "batch written");
        Ok(())
    }

    fn dead_letter(&mut self, rejected: &[batch::Refused]) -> Result<(), Failure> {
        let connector = self.job.connector;
        let time = chrono::Utc::now().to_rfc3339();
        let bodies: Vec<Box<serde_json::value::RawValue>> = rejected
            .iter()
            .map(|(_, body, _)| document::dead_letter_body(body))
            .collect();
        let reasons: Vec<String> = rejected.iter().map(|(_, _, e)| e.to_string()).collect();
        let entries: Vec<Entry<'_>> = rejected
            .iter()
            .zip(&bodies)
            .zip(&reasons)
            .map(|(((id, _, e), body), reason)| Entry {
                time: time.clone(),
                connector_id: &connector.connector_id,
                sync_id: &self.job.job_id,
                index: &self.index,
                id,
                op: "index",
                status: None,
                error: ErrorInfo {
                    kind: e.kind(),
                    reason,
                },
                document: body,
            })
            .collect();
        self.env.dead_letters.write(&entries).map_err(|e| {
            Failure::Host(format!(
                "cannot write the dead-letter file {}: {e}",
                self.env
                    .dead_letters
                    .path_for(&connector.connector_id)
                    .display()
            ))
        })?;
        for (id, _, e) in rejected.iter().take(10) {
            tracing::warn!(
                connector_id = %connector.connector_id,
                document_id = %inlet_policy::guest_output::clean(id),
                "document refused: {}",
                inlet_policy::guest_output::clean(&e.to_string())
            );
        }
        if rejected.len() > 10 {
            tracing::warn!(connector_id = %connector.connector_id, more = rejected.len() - 10, "more documents refused in this batch");
        }
        self.stats.invalid += rejected.len() as u64;
        self.stats.dead_lettered += rejected.len() as u64;
        Ok(())
    }
}

/// Commits what the plugin put in its state during the steps the host has accepted so far.
fn flush_state<S: Source>(instance: &mut S) -> Result<(), Failure> {
    instance
        .flush_state()
        .map_err(|e| Failure::Host(format!("cannot save the plugin's state: {e}")))
}

/// Advanced rules are the plugin's to judge: checked before every content sync (Kibana
/// activates only rules that passed, but config.yml's `sync_rules.advanced` reaches a sync
/// directly), so a bad rule set fails the sync before the source is touched.
async fn check_advanced_rules<S: Source>(
    instance: &mut S,
    meta: &types::Metadata,
    configuration: &[types::ConfigValue],
    advanced: &serde_json::Value,
) -> Result<(), Failure> {
    if !meta.features.advanced_rules {
        return Err(Failure::Config(format!(
            "`{}` does not support advanced sync rules; remove `sync_rules.advanced`",
            meta.service_type
        )));
    }
    let verdict = instance
        .validate_advanced_rules(configuration, &advanced.to_string())
        .await?;
    if verdict.valid {
        Ok(())
    } else {
        Err(Failure::Config(format!(
            "invalid advanced sync rules: {}",
            verdict.messages.join("; ")
        )))
    }
}

/// A fresh instance of `plugin` for `connector`, with exactly what the operator granted it:
/// directories, network, credentials, limits. `with_state` gives it the state store (syncs do;
/// inspections and checks do not).
pub(crate) async fn instantiate(
    env: &SyncEnv,
    connector: &Connector,
    plugin: &Plugin,
    limits: &Limits,
    cancel: Arc<AtomicBool>,
    with_state: bool,
) -> Result<PluginInstance, Failure> {
    let granted = inlet_broker::capabilities::grant(
        &env.broker,
        &env.databases,
        connector,
        plugin.manifest.as_ref(),
    )
    .map_err(|e| Failure::Config(e.to_string()))?;
    let opts = InstanceOptions {
        connector_id: connector.connector_id.clone(),
        memory_limit_bytes: (limits.memory_mib as usize).saturating_mul(1024 * 1024),
        call_timeout: Duration::from_secs(limits.call_timeout_secs),
        read_only_dirs: granted.read_only_dirs,
        state: with_state.then(|| env.store.clone()),
        state_quota: inlet_runtime::StateQuota::from_limits(limits),
        cancel,
        network: Some(granted.network),
        databases: Some(granted.databases),
        budget: inlet_policy::budget::HostBudget::new(
            inlet_policy::budget::BudgetLimits::from_limits(limits),
        ),
    };
    Ok(env.runtime.instantiate(&plugin.component, opts).await?)
}

/// Records a finished sync in the exporter (the names are described in the host's `inlet::metrics`).
fn record_metrics(report: &SyncReport, service_type: &str) {
    let connector = report.connector_id.clone();
    let outcome = JobStatus::from(report.status).as_str();
    let job_type = report.job_type.as_str();
    ::metrics::counter!("inlet_syncs_total", "connector" => connector.clone(), "service_type" => service_type.to_owned(), "job_type" => job_type, "outcome" => outcome).increment(1);
    let s = &report.stats;
    for (fate, n) in [
        ("extracted", s.extracted),
        ("indexed", s.indexed),
        ("deleted", s.deleted),
        ("stale_deleted", s.stale_deleted),
        ("dead_lettered", s.dead_lettered),
        ("filtered", s.filtered),
    ] {
        ::metrics::counter!("inlet_documents_total", "connector" => connector.clone(), "fate" => fate)
            .increment(n);
    }
    ::metrics::counter!("inlet_bytes_total", "connector" => connector.clone()).increment(s.bytes);
    if let Some(class) = report.error_class {
        ::metrics::counter!("inlet_plugin_failures_total", "connector" => connector.clone(), "cause" => class)
            .increment(1);
    }
    ::metrics::histogram!("inlet_sync_duration_seconds", "connector" => connector.clone(), "job_type" => job_type)
        .record(report.elapsed_ms as f64 / 1000.0);
    ::metrics::gauge!("inlet_plugin_memory_peak_bytes", "connector" => connector)
        .set(report.peak_memory_bytes as f64);
}

/// Peak resident memory of this process (`VmHWM` from /proc/self/status), in bytes; 0 where
/// the platform does not say. Reported with each sync so an operator (and the containment
/// tests) can see what a plugin made the host hold.
pub(crate) fn process_peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|kb| kb.trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests;
