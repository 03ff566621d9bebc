//! Kibana's connector protocol (crate `inlet-kibana`, `inlet::protocol` in the host): Inlet
//! serves the connectors of `config.yml` the way Elastic's connector service does, through
//! Elasticsearch's `_connector` API. Kibana (or anyone using the API) writes configuration
//! values, schedules, sync rules and sync jobs; Inlet polls, writes the configuration form and
//! statuses, claims and runs jobs, and reports on them.
//!
//! [`run`] (or [`serve`]) runs three loops over one shared context (the engine's service, the
//! API client, the intervals of `service.*` and `inlet.kibana.*`, the sync slots):
//! - `scheduler`: per connector, every `service.idling` seconds: describe the plugin into the
//!   connector document, check in, check the configuration (→ `connected` / `error`), validate
//!   sync-rule drafts, create `scheduled` jobs from cron schedules;
//! - `jobs`: pick up `pending` and `suspended` jobs, claim them safely across processes, run
//!   them (many at once), report `_stats`, honour cancellation, end them;
//! - `cleanup`: jobs whose worker vanished (`last_seen` too old) or whose connector was
//!   deleted end in `error`.
//!
//! Every write that two processes could race on is guarded by optimistic concurrency on the
//! connector document (`if_seq_no`/`if_primary_term`), as in Elastic's service. What the cluster
//! is (release, serverless, licence) is in [`cluster`]; the connector and sync-job documents as
//! Inlet reads them are in [`model`]; the request sequence of a sync, beside Elastic's, is in
//! docs/KIBANA.md.
//!
//! It sits on the engine (`inlet-engine`: the service that loads plugins and runs syncs) and
//! the crates below it; only the `inlet` binary sits on it (docs/ARCHITECTURE.md).

#![warn(missing_docs, unreachable_pub)]

pub mod api;
mod cleanup;
mod client;
pub mod cluster;
pub mod document;
mod jobs;
pub mod model;
mod rules;
mod schedule;
mod scheduler;
mod status;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use tokio::sync::Semaphore;

use inlet_engine::service::Service;
use inlet_policy::config;
use inlet_runtime::types;

pub use client::{EsClient, EsError, EsSettings};

/// What a plugin tells Kibana about itself, computed once per service type.
pub(crate) struct PluginInfo {
    /// What the plugin supports (incremental sync, document-level security, sync rules): which
    /// schedules may fire and which draft rules are validated.
    pub(crate) features: types::Features,
    /// `features` in the connector document's shape.
    pub(crate) features_doc: Value,
    /// The configuration form in Kibana's shape, by field key.
    pub(crate) schema: serde_json::Map<String, Value>,
}

/// A cached [`PluginInfo`] and the plugin version (sha256) it describes.
type PluginInfoEntry = (Option<String>, Result<Arc<PluginInfo>, String>);

/// What the loops share.
pub(crate) struct Ctx {
    /// The engine: config.yml, the plugins, syncs.
    pub(crate) service: Arc<Service>,
    /// The cluster's `_connector` API.
    pub(crate) api: api::Api,
    /// `worker_hostname` of the jobs this process claims.
    pub(crate) hostname: String,
    /// `service.idling`: the pause between two passes of the scheduler and of the job poll.
    pub(crate) idling: Duration,
    /// `service.heartbeat`: the interval of a connector's `_check_in`.
    pub(crate) heartbeat: Duration,
    /// `inlet.kibana.report_interval_secs`: the interval of a running job's `_stats`.
    pub(crate) report_interval: Duration,
    /// `inlet.kibana.idle_job_timeout_secs`: how old a held job's `last_seen` may get before the
    /// cleanup ends it.
    pub(crate) idle_job_timeout: Duration,
    /// `service.job_cleanup_interval`: the pause between two cleanup passes.
    pub(crate) cleanup_interval: Duration,
    /// Set when the process is stopping.
    pub(crate) shutdown: Arc<AtomicBool>,
    /// Jobs running in this process.
    pub(crate) running: Mutex<HashSet<String>>,
    /// `service.max_concurrent_content_syncs` permits (full and incremental syncs).
    pub(crate) content_slots: Arc<Semaphore>,
    /// `service.max_concurrent_access_control_syncs` permits.
    pub(crate) access_control_slots: Arc<Semaphore>,
    /// By service type, with the sha256 of the plugin version described (`None`: no plugin).
    plugins: tokio::sync::Mutex<HashMap<String, PluginInfoEntry>>,
    /// By connector id, when this process last checked it in.
    check_ins: Mutex<HashMap<String, Instant>>,
}

impl Ctx {
    /// config.yml's connectors: the ones this process serves.
    pub(crate) fn connectors(&self) -> &[config::Connector] {
        &self.service.config.config.connectors
    }

    /// Whether the process is stopping.
    pub(crate) fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    /// Whether the job runs in this process (the job lists cannot tell it from another
    /// worker's).
    pub(crate) fn is_running(&self, job_id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(job_id)
    }

    /// Records that the job starts (`true`) or stops (`false`) running in this process.
    pub(crate) fn set_running(&self, job_id: &str, running: bool) {
        let mut set = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running {
            set.insert(job_id.to_owned());
        } else {
            set.remove(job_id);
        }
    }

    /// Whether the connector is due a check-in (always on the first pass); records it if so.
    pub(crate) fn check_in_due(&self, connector_id: &str) -> bool {
        let mut map = self
            .check_ins
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get(connector_id) {
            Some(t) if t.elapsed() < self.heartbeat => false,
            _ => {
                map.insert(connector_id.to_owned(), Instant::now());
                true
            }
        }
    }

    /// The plugin's metadata and form, asked once per plugin version: hot reload may swap the
    /// plugin of a service type, and the new version's form is what Kibana must show.
    pub(crate) async fn plugin_info(
        &self,
        entry: &config::Connector,
    ) -> Result<Arc<PluginInfo>, String> {
        let mut cache = self.plugins.lock().await;
        let version = self
            .service
            .plugin_for(entry)
            .ok()
            .map(|p| p.sha256.clone());
        if let Some((described, known)) = cache.get(&entry.service_type)
            && *described == version
        {
            return known.clone();
        }
        let info = self.service.describe(entry).await.map(|(meta, fields)| {
            Arc::new(PluginInfo {
                features_doc: document::features_doc(&meta.features),
                features: meta.features,
                schema: document::rcf_schema(&fields),
            })
        });
        cache.insert(entry.service_type.clone(), (version, info.clone()));
        info
    }

    /// Sleeps `d`, waking early when the process stops.
    pub(crate) async fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
    }
}

/// RFC 3339 "now", as the protocol's timestamps.
pub(crate) fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Serves Kibana with the cluster of `elasticsearch.*` until `cancel` is set; running jobs are
/// then handed back as `suspended`.
pub async fn run(service: Arc<Service>, cancel: Arc<AtomicBool>) -> anyhow::Result<()> {
    let es = service
        .config
        .config
        .elasticsearch
        .as_ref()
        .with_context(|| {
            format!(
                "{}: serving Kibana needs elasticsearch.host (or cloud_id)",
                service.config.path.display()
            )
        })?;
    let settings = EsSettings::from_config(es, &service.config.base_dir())?;
    serve(service, settings, cancel).await
}

/// [`run`] against the cluster `settings` names (tests use it to point at a fake cluster while
/// documents go to the embedded sink).
pub async fn serve(
    service: Arc<Service>,
    settings: EsSettings,
    cancel: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let client = EsClient::new(&settings)?;
    let api = api::Api::new(client);
    let Some(cluster) = wait_for_cluster(&api, &service, &cancel).await? else {
        return Ok(());
    };
    let api = api.with_cluster(cluster);
    let cfg = &service.config.config;
    let secs = |s: u64| Duration::from_secs(s.max(1));
    let ctx = Arc::new(Ctx {
        api,
        hostname: hostname(),
        idling: secs(cfg.service.idling),
        heartbeat: secs(cfg.service.heartbeat),
        report_interval: secs(cfg.inlet.kibana.report_interval_secs),
        idle_job_timeout: secs(cfg.inlet.kibana.idle_job_timeout_secs),
        cleanup_interval: secs(cfg.service.job_cleanup_interval.unwrap_or(300)),
        shutdown: cancel,
        running: Mutex::default(),
        content_slots: Arc::new(Semaphore::new(
            cfg.service.max_concurrent_content_syncs.max(1),
        )),
        access_control_slots: Arc::new(Semaphore::new(
            cfg.service.max_concurrent_access_control_syncs.max(1),
        )),
        plugins: tokio::sync::Mutex::default(),
        check_ins: Mutex::default(),
        service,
    });
    tracing::info!(
        cluster = %ctx.api.url(),
        connectors = ctx.connectors().len(),
        worker = %ctx.hostname,
        "serving Kibana's connector protocol"
    );
    tokio::join!(
        scheduler::run(ctx.clone()),
        jobs::run(ctx.clone()),
        cleanup::run(ctx.clone()),
    );
    tracing::info!("stopped serving Kibana");
    Ok(())
}

/// Waits for the cluster like Elastic's preflight check (backoff up to
/// `elasticsearch.max_wait_duration`, 240 s) and refuses one without the connector API
/// ([`cluster::Cluster::from_info`]). `None` when stopped meanwhile.
async fn wait_for_cluster(
    api: &api::Api,
    service: &Service,
    cancel: &AtomicBool,
) -> anyhow::Result<Option<cluster::Cluster>> {
    let es = service.config.config.elasticsearch.as_ref();
    let max_wait = Duration::from_secs(es.and_then(|e| e.max_wait_duration).unwrap_or(240));
    let started = Instant::now();
    let mut backoff = Duration::from_secs(1);
    let info = loop {
        match api.info().await {
            Ok(info) => break info,
            Err(e) if started.elapsed() + backoff <= max_wait => {
                tracing::warn!("waiting for Elasticsearch: {e}");
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "Elasticsearch did not answer within {} s",
                        max_wait.as_secs()
                    )
                });
            }
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    };
    let cluster = cluster::Cluster::from_info(&info, api.url()).map_err(anyhow::Error::msg)?;
    if cluster.serverless {
        tracing::info!(cluster = %api.url(), "Elasticsearch serverless: no version check, no `_refresh`");
    } else {
        tracing::info!(cluster = %api.url(), version = %cluster.version, "Elasticsearch is up");
    }
    for how in cluster.fallbacks() {
        tracing::info!(version = %cluster.version, "as Elastic's service on this release, Inlet {how}");
    }
    Ok(Some(cluster))
}

/// The machine's name for `worker_hostname`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "inlet".into())
}
