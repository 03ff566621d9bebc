//! Sync jobs: pick up `pending` and `suspended` jobs of the served connectors, claim each so that
//! exactly one process runs it, run it while reporting `_stats` and watching for `canceling`,
//! then end it and record the outcome on the connector. A job of a type Inlet does not know is
//! claimed and ended in `error`, naming the type: Elastic's service would not run it either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::api::Versioned;
use super::cleanup::failed_end;
use super::model::{Open, SyncJobDoc};
use super::status::{ConnectorStatus, StopReason, ending};
use super::{Ctx, EsError, document, now_iso};
use inlet_engine::sync::{Progress, SyncStats};
use inlet_policy::config;
use inlet_policy::job::{JobStatus, JobType};

const CAS_ATTEMPTS: usize = 3;
const MIB: f64 = 1024.0 * 1024.0;

/// The statuses of jobs that wait for a worker, polled in this order.
const WAITING: [JobStatus; 2] = [JobStatus::Pending, JobStatus::Suspended];

/// A connector's `last_*sync_status` as it was before a claim, to write back if the job is gone.
type LastStatus = Option<Open<JobStatus>>;

pub(super) async fn run(ctx: Arc<Ctx>) {
    let mut runners = tokio::task::JoinSet::new();
    while !ctx.stopping() {
        for entry in ctx.connectors() {
            for status in WAITING {
                match ctx.api.jobs(Some(&entry.connector_id), status).await {
                    Ok(jobs) => {
                        for job in &jobs {
                            start_one(&ctx, entry, job, &mut runners);
                        }
                    }
                    Err(e) => {
                        tracing::error!(connector_id = %entry.connector_id, "cannot list sync jobs: {e}")
                    }
                }
            }
        }
        while runners.try_join_next().is_some() {}
        ctx.pause(ctx.idling).await;
    }
    // Stopping: running jobs see the flag at their next report tick and hand themselves back.
    while runners.join_next().await.is_some() {}
}

/// What this worker does with a job the list showed it.
#[derive(Debug, PartialEq, Eq)]
enum Pickup {
    /// Claim it and run a sync of this type.
    Run(JobType),
    /// Claim it and end it in `error` with this message.
    Fail(String),
    /// Leave it: it runs in this process already, or no longer waits for a worker.
    Leave,
}

fn pickup(job: &SyncJobDoc, running_here: bool) -> Pickup {
    if running_here || !still_runnable(Some(job)) {
        return Pickup::Leave;
    }
    match job.job_type() {
        Ok(kind) => Pickup::Run(kind),
        Err(e) => Pickup::Fail(e.to_string()),
    }
}

/// Whether the job (as last read; `None`: gone) still waits for a worker.
fn still_runnable(job: Option<&SyncJobDoc>) -> bool {
    job.and_then(SyncJobDoc::status)
        .is_some_and(JobStatus::is_runnable)
}

/// Access-control syncs have their own limit (`max_concurrent_access_control_syncs`).
fn uses_access_control_slots(kind: JobType) -> bool {
    kind == JobType::AccessControl
}

fn slots(ctx: &Ctx, kind: JobType) -> &Arc<Semaphore> {
    if uses_access_control_slots(kind) {
        &ctx.access_control_slots
    } else {
        &ctx.content_slots
    }
}

/// Starts a runner for `job` if a slot of its kind is free; a job Inlet cannot run is failed
/// without one.
fn start_one(
    ctx: &Arc<Ctx>,
    entry: &config::Connector,
    job: &SyncJobDoc,
    runners: &mut tokio::task::JoinSet<()>,
) {
    let job_id = job.id.clone();
    let kind = match pickup(job, ctx.is_running(&job_id)) {
        Pickup::Leave => return,
        Pickup::Fail(reason) => return start_refusal(ctx, entry, job_id, reason, runners),
        Pickup::Run(kind) => kind,
    };
    let Ok(permit) = slots(ctx, kind).clone().try_acquire_owned() else {
        tracing::debug!(sync_job_id = %job_id, "all sync slots are busy; the job waits");
        return;
    };
    ctx.set_running(&job_id, true);
    let ctx = ctx.clone();
    let entry = entry.clone();
    runners.spawn(async move {
        if let Err(e) = execute(&ctx, &entry, &job_id, kind, permit).await {
            tracing::error!(connector_id = %entry.connector_id, sync_job_id = %job_id, "sync job: {e}");
        }
        ctx.set_running(&job_id, false);
    });
}

/// Starts a runner that fails a job Inlet cannot run (no sync slot: it runs no sync).
fn start_refusal(
    ctx: &Arc<Ctx>,
    entry: &config::Connector,
    job_id: String,
    reason: String,
    runners: &mut tokio::task::JoinSet<()>,
) {
    ctx.set_running(&job_id, true);
    let (ctx, connector_id) = (ctx.clone(), entry.connector_id.clone());
    runners.spawn(async move {
        if let Err(e) = refuse(&ctx, &connector_id, &job_id, &reason).await {
            tracing::error!(connector_id, sync_job_id = %job_id, "cannot fail the sync job: {e}");
        }
        ctx.set_running(&job_id, false);
    });
}

/// Ends a job Inlet cannot run in `error`, with `reason`. The protocol lets a job reach `error`
/// only from `in_progress`, so it is claimed first, as an access-control job the licence refuses
/// is. The connector is left as it is: no sync of it ran.
async fn refuse(ctx: &Ctx, connector_id: &str, job_id: &str, reason: &str) -> Result<(), EsError> {
    // A fresh read: another worker may have ended it since the list.
    if !still_runnable(ctx.api.job(job_id).await?.as_ref()) {
        return Ok(());
    }
    tracing::error!(
        connector_id,
        sync_job_id = job_id,
        "sync job refused: {reason}"
    );
    ctx.api.claim_job(job_id, &ctx.hostname, None).await?;
    ctx.api.update_job(job_id, &failed_end(reason)).await
}

/// The connector fields that say how its last sync of `kind` went (read back by
/// [`super::model::ConnectorDoc::last_sync_status`]).
fn last_fields(kind: JobType) -> (&'static str, &'static str) {
    match kind {
        JobType::AccessControl => (
            "last_access_control_sync_status",
            "last_access_control_sync_error",
        ),
        JobType::Full | JobType::Incremental => ("last_sync_status", "last_sync_error"),
    }
}

/// How a job ended, with its counts.
struct Outcome {
    status: JobStatus,
    error: Option<String>,
    stats: SyncStats,
    cursor: Option<String>,
}

impl Outcome {
    fn failed(error: String) -> Self {
        Outcome {
            status: JobStatus::Error,
            error: Some(error),
            stats: SyncStats::default(),
            cursor: None,
        }
    }

    fn deleted(&self) -> u64 {
        self.stats.deleted + self.stats.stale_deleted
    }
}

async fn execute(
    ctx: &Ctx,
    entry: &config::Connector,
    job_id: &str,
    kind: JobType,
    _permit: OwnedSemaphorePermit,
) -> Result<(), EsError> {
    if !still_runnable(ctx.api.job(job_id).await?.as_ref()) {
        return Ok(());
    }
    let Some((connector, previous)) = sync_starts(ctx, entry, kind).await? else {
        return Ok(());
    };
    // Another process may have run the whole job between our read of it and our claim on the
    // connector; it claimed it before releasing the connector, so a fresh read shows it.
    let job = ctx.api.job(job_id).await?;
    if !still_runnable(job.as_ref()) {
        let (status_field, _) = last_fields(kind);
        ctx.api
            .update_connector(
                &entry.connector_id,
                &json!({ status_field: previous }),
                None,
            )
            .await?;
        return Ok(());
    }
    tracing::info!(connector_id = %entry.connector_id, sync_job_id = job_id, job_type = kind.as_str(), "claiming the sync job");
    // The job's snapshot (index, pipeline, configuration, rules) as Elasticsearch took it when
    // the job was created.
    let snapshot = job.as_ref().and_then(SyncJobDoc::snapshot);
    let merged = document::merge(entry, &connector.source, snapshot);
    let cursor = match kind {
        JobType::Incremental => document::cursor_from_doc(connector.source.sync_cursor.as_ref()),
        JobType::Full | JobType::AccessControl => None,
    };
    let claim_cursor = document::cursor_to_doc(cursor.as_deref());
    let claimed = ctx
        .api
        .claim_job(job_id, &ctx.hostname, claim_cursor.as_ref())
        .await;
    let index = merged
        .as_ref()
        .map(config::Connector::index_name)
        .unwrap_or_else(|_| entry.index_name());
    let outcome = match (merged, claimed) {
        (_, Err(e)) => Outcome::failed(format!("cannot claim the job: {e}")),
        (Err(e), Ok(())) => Outcome::failed(e),
        (Ok(c), Ok(())) => match licence_refusal(ctx, kind).await {
            Some(refusal) => Outcome::failed(refusal),
            None => run_sync(ctx, &c, job_id, kind, cursor).await,
        },
    };
    finish(ctx, &entry.connector_id, job_id, kind, &index, outcome).await
}

/// Why an access-control job may not run on this cluster, if it may not: Elastic's service
/// checks the licence before running one (`es/license.py`). It leaves such a job `pending` and
/// only logs; Inlet claims it and ends it in `error` with the reason, so Kibana shows why.
async fn licence_refusal(ctx: &Ctx, kind: JobType) -> Option<String> {
    if kind != JobType::AccessControl {
        return None;
    }
    match ctx.api.licence().await {
        Ok(l) if l.allows_document_level_security() => None,
        Ok(l) => Some(l.refusal()),
        Err(e) => Some(format!(
            "cannot read the cluster's licence, which access-control syncs need (the user or API key of elasticsearch.* needs the `monitor` cluster privilege): {e}"
        )),
    }
}

/// Elastic's cross-process mutex: flips the connector's last sync status of this kind to
/// `in_progress` under its version; refuses if another worker holds it. Returns the document as
/// read and the status it had.
async fn sync_starts(
    ctx: &Ctx,
    entry: &config::Connector,
    kind: JobType,
) -> Result<Option<(Versioned, LastStatus)>, EsError> {
    let id = entry.connector_id.as_str();
    for _ in 0..CAS_ATTEMPTS {
        let Some(doc) = ctx.api.connector(id).await? else {
            tracing::warn!(
                connector_id = id,
                "the connector is gone; its jobs are left alone"
            );
            return Ok(None);
        };
        if doc.source.sync_running(kind) {
            tracing::debug!(connector_id = id, "another worker runs a sync of this kind");
            return Ok(None);
        }
        let previous = doc.source.last_sync_status(kind).cloned();
        match ctx
            .api
            .update_connector(id, &mutex_claim(kind), Some(doc.version))
            .await
        {
            Ok(()) => return Ok(Some((doc, previous))),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The connector update that takes the mutex for syncs of `kind`.
fn mutex_claim(kind: JobType) -> Value {
    let (status_field, error_field) = last_fields(kind);
    json!({
        "status": ConnectorStatus::Connected,
        "error": null,
        status_field: JobStatus::InProgress,
        error_field: null,
    })
}

/// A job's counts as the protocol reports them (`_stats`, and the job's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Counts {
    indexed_document_count: u64,
    /// MiB, rounded.
    indexed_document_volume: u64,
    deleted_document_count: u64,
}

impl Counts {
    fn new(indexed: u64, deleted: u64, bytes: u64) -> Self {
        Counts {
            indexed_document_count: indexed,
            indexed_document_volume: (bytes as f64 / MIB).round() as u64,
            deleted_document_count: deleted,
        }
    }
}

/// The job's `metadata` (the protocol's "connector-specific metadata"): the counts Kibana has
/// no field for, under `inlet`.
fn metadata_doc(stats: &SyncStats) -> Value {
    json!({ "inlet": {
        "extracted": stats.extracted,
        "filtered": stats.filtered,
        "dead_lettered": stats.dead_lettered,
        "invalid": stats.invalid,
        "stale_deleted": stats.stale_deleted,
        "batches": stats.batches,
    }})
}

/// The counts so far of a running sync (dead letters are known at the end only).
fn progress_stats(p: &Progress) -> SyncStats {
    SyncStats {
        extracted: p.extracted.load(Ordering::Relaxed),
        indexed: p.indexed.load(Ordering::Relaxed),
        deleted: p.deleted.load(Ordering::Relaxed),
        invalid: p.invalid.load(Ordering::Relaxed),
        filtered: p.filtered.load(Ordering::Relaxed),
        bytes: p.bytes.load(Ordering::Relaxed),
        batches: p.batches.load(Ordering::Relaxed),
        ..SyncStats::default()
    }
}

/// Runs the sync; every `report_interval` pushes `_stats` (the job's heartbeat) and re-reads the
/// job for `canceling`; a stopping process suspends it.
async fn run_sync(
    ctx: &Ctx,
    connector: &config::Connector,
    job_id: &str,
    kind: JobType,
    cursor: Option<String>,
) -> Outcome {
    let progress = Arc::new(Progress::default());
    let cancel = Arc::new(AtomicBool::new(false));
    let mut stop: Option<StopReason> = None;
    let sync = ctx
        .service
        .sync_from(connector, kind, progress.clone(), cancel.clone(), cursor);
    tokio::pin!(sync);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut last_report = Instant::now();
    let report = loop {
        tokio::select! {
            report = &mut sync => break report,
            _ = tick.tick() => {
                if stop.is_none() && ctx.stopping() {
                    tracing::warn!(sync_job_id = job_id, "stopping: the job will be suspended");
                    stop = Some(StopReason::Shutdown);
                    cancel.store(true, Ordering::Relaxed);
                }
                if last_report.elapsed() < ctx.report_interval {
                    continue;
                }
                last_report = Instant::now();
                let now = progress_stats(&progress);
                let stats = json!(Counts::new(now.indexed, now.deleted, now.bytes));
                if let Err(e) = ctx.api.job_stats(job_id, &stats, Some(&metadata_doc(&now))).await {
                    tracing::warn!(sync_job_id = job_id, "cannot report stats: {e}");
                }
                if stop.is_some() {
                    continue;
                }
                let seen = match ctx.api.job(job_id).await {
                    Ok(Some(j)) => j.status(),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(sync_job_id = job_id, "cannot read the job: {e}");
                        Some(JobStatus::InProgress)
                    }
                };
                stop = match seen {
                    Some(JobStatus::InProgress) => None,
                    Some(JobStatus::Canceling) => {
                        tracing::info!(sync_job_id = job_id, "cancellation requested");
                        Some(StopReason::Canceled)
                    }
                    _ => {
                        tracing::warn!(sync_job_id = job_id, "the job was removed or changed under us; stopping it");
                        Some(StopReason::Lost)
                    }
                };
                if stop.is_some() {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    let (status, error) = ending(report.status, report.error.as_deref(), stop);
    Outcome {
        status,
        error,
        stats: report.stats,
        cursor: report.cursor,
    }
}

/// The job document's end, written in one `_update` as Elastic's service writes it.
#[derive(Debug, Serialize)]
struct JobEnd<'a> {
    #[serde(flatten)]
    counts: Counts,
    metadata: Value,
    status: JobStatus,
    error: Option<&'a str>,
    last_seen: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canceled_at: Option<&'a str>,
    /// Documents in the index after the sync, when it could be counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    total_document_count: Option<u64>,
}

impl<'a> JobEnd<'a> {
    /// `completed_at` marks a job that is over (a suspended one runs again); `canceled_at` a
    /// canceled one.
    fn new(o: &'a Outcome, now: &'a str, total_document_count: Option<u64>) -> Self {
        let over = matches!(
            o.status,
            JobStatus::Completed | JobStatus::Error | JobStatus::Canceled
        );
        JobEnd {
            counts: Counts::new(o.stats.indexed, o.deleted(), o.stats.bytes),
            metadata: metadata_doc(&o.stats),
            status: o.status,
            error: o.error.as_deref(),
            last_seen: now,
            completed_at: over.then_some(now),
            canceled_at: (o.status == JobStatus::Canceled).then_some(now),
            total_document_count,
        }
    }
}

/// Ends the job (status, timestamps, final counts) and records it on the connector.
async fn finish(
    ctx: &Ctx,
    connector_id: &str,
    job_id: &str,
    kind: JobType,
    index: &str,
    o: Outcome,
) -> Result<(), EsError> {
    let total = match ctx.api.document_count(index).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(
                sync_job_id = job_id,
                "cannot count the documents of {index}: {e}"
            );
            None
        }
    };
    let now = now_iso();
    let job = json!(JobEnd::new(&o, &now, total));
    match &o.error {
        None => tracing::info!(
            connector_id,
            sync_job_id = job_id,
            status = o.status.as_str(),
            indexed = o.stats.indexed,
            deleted = o.deleted(),
            "sync job ended"
        ),
        Some(e) => tracing::error!(connector_id, sync_job_id = job_id, "sync job failed: {e}"),
    }
    let job_written = ctx.api.update_job(job_id, &job).await;
    let cursor = (kind != JobType::AccessControl && o.status == JobStatus::Completed)
        .then(|| o.cursor.clone());
    sync_done(
        ctx,
        connector_id,
        kind,
        o.status,
        o.error.as_deref(),
        Some((o.stats.indexed, o.deleted())),
        cursor,
    )
    .await?;
    job_written
}

/// Records a job's end on the connector (Elastic's `sync_done`).
pub(super) async fn sync_done(
    ctx: &Ctx,
    connector_id: &str,
    kind: JobType,
    status: JobStatus,
    error: Option<&str>,
    counts: Option<(u64, u64)>,
    cursor: Option<Option<String>>,
) -> Result<(), EsError> {
    let doc = sync_done_doc(kind, status, error, counts, cursor, &now_iso());
    ctx.api.update_connector(connector_id, &doc, None).await
}

/// The connector's update for a job's end: `last_*` fields, status `error` after a failed job
/// (else `connected`), and the cursor only after a completed content sync (`cursor: Some(..)`).
fn sync_done_doc(
    kind: JobType,
    status: JobStatus,
    error: Option<&str>,
    counts: Option<(u64, u64)>,
    cursor: Option<Option<String>>,
    now: &str,
) -> Value {
    let (status_field, error_field) = last_fields(kind);
    let connector_status = if status == JobStatus::Error {
        ConnectorStatus::Error
    } else {
        ConnectorStatus::Connected
    };
    let mut doc = json!({
        "last_synced": now,
        "status": connector_status,
        "error": error,
        status_field: status,
        error_field: error,
    });
    if let Some((indexed, deleted)) = counts {
        doc["last_indexed_document_count"] = json!(indexed);
        doc["last_deleted_document_count"] = json!(deleted);
    }
    if let Some(cursor) = cursor {
        // `sync_cursor` is an object or null in the connector document.
        doc["sync_cursor"] = document::cursor_to_doc(cursor.as_deref()).unwrap_or(Value::Null);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConnectorDoc;

    fn job(v: Value) -> SyncJobDoc {
        serde_json::from_value(v).expect("a sync-job document")
    }

    fn listed(status: &str, job_type: Value) -> SyncJobDoc {
        job(json!({"id": "j1", "status": status, "job_type": job_type, "connector": {"id": "c1"}}))
    }

    #[test]
    fn waiting_jobs_of_a_known_type_are_claimed_to_run() {
        for t in JobType::ALL {
            for status in WAITING {
                assert_eq!(
                    pickup(&listed(status.as_str(), json!(t)), false),
                    Pickup::Run(t),
                    "{status} {t}"
                );
            }
        }
    }

    #[test]
    fn jobs_running_here_or_not_waiting_are_left_alone() {
        assert_eq!(
            pickup(&listed("pending", json!("full")), true),
            Pickup::Leave
        );
        for status in JobStatus::ALL.into_iter().filter(|s| !WAITING.contains(s)) {
            assert_eq!(
                pickup(&listed(status.as_str(), json!("full")), false),
                Pickup::Leave,
                "{status}"
            );
        }
        // A status of a later release, or none: not known to wait for a worker.
        assert_eq!(
            pickup(&listed("queued", json!("full")), false),
            Pickup::Leave
        );
        let no_status = job(json!({"id": "j1", "job_type": "full"}));
        assert_eq!(pickup(&no_status, false), Pickup::Leave);
        assert!(!still_runnable(None), "a job that is gone");
    }

    /// Never run as `full` on a guess: Elastic's service would not run such a job either.
    #[test]
    fn a_job_of_an_unknown_type_is_failed_naming_the_type() {
        let Pickup::Fail(msg) = pickup(&listed("pending", json!("partial")), false) else {
            panic!("an unknown type must fail the job");
        };
        assert!(msg.contains("\"partial\""), "{msg}");
        for odd in [json!(null), json!(42)] {
            assert!(
                matches!(
                    pickup(&listed("suspended", odd.clone()), false),
                    Pickup::Fail(_)
                ),
                "{odd}"
            );
        }
        let untyped = job(json!({"id": "j1", "status": "pending"}));
        let Pickup::Fail(msg) = pickup(&untyped, false) else {
            panic!("a job without a type must fail");
        };
        assert!(msg.contains("no job_type"), "{msg}");
        // Once failed (or while this process fails it), it is not failed again.
        assert_eq!(
            pickup(&listed("error", json!("partial")), false),
            Pickup::Leave
        );
        assert_eq!(
            pickup(&listed("pending", json!("partial")), true),
            Pickup::Leave
        );
    }

    #[test]
    fn access_control_syncs_take_their_own_slots() {
        assert!(uses_access_control_slots(JobType::AccessControl));
        assert!(!uses_access_control_slots(JobType::Full));
        assert!(!uses_access_control_slots(JobType::Incremental));
    }

    /// The mutex written for a kind is the one read back, for the kinds that share it only.
    #[test]
    fn the_mutex_written_is_the_one_read() {
        for kind in JobType::ALL {
            let doc: ConnectorDoc = serde_json::from_value(mutex_claim(kind)).expect("connector");
            for other in JobType::ALL {
                let shared = uses_access_control_slots(kind) == uses_access_control_slots(other);
                assert_eq!(doc.sync_running(other), shared, "{kind} / {other}");
            }
        }
        assert_eq!(
            mutex_claim(JobType::Incremental),
            json!({"status": "connected", "error": null, "last_sync_status": "in_progress", "last_sync_error": null})
        );
    }

    fn outcome(status: JobStatus, error: Option<&str>) -> Outcome {
        Outcome {
            status,
            error: error.map(str::to_owned),
            stats: SyncStats {
                extracted: 12,
                indexed: 10,
                deleted: 1,
                stale_deleted: 2,
                bytes: 3 * 1024 * 1024 / 2,
                ..SyncStats::default()
            },
            cursor: None,
        }
    }

    #[test]
    fn a_jobs_end_carries_its_timestamps_by_status() {
        let now = "2025-03-07T10:00:00.000Z";
        let end = |status, error| json!(JobEnd::new(&outcome(status, error), now, Some(40)));
        assert_eq!(
            end(JobStatus::Completed, None),
            json!({
                "indexed_document_count": 10, "indexed_document_volume": 2,
                "deleted_document_count": 3, "total_document_count": 40,
                "metadata": {"inlet": {"extracted": 12, "filtered": 0, "dead_lettered": 0,
                    "invalid": 0, "stale_deleted": 2, "batches": 0}},
                "status": "completed", "error": null, "last_seen": now, "completed_at": now,
            })
        );
        let failed = end(JobStatus::Error, Some("boom"));
        assert_eq!(failed.get("status"), Some(&json!("error")));
        assert_eq!(failed.get("error"), Some(&json!("boom")));
        assert_eq!(failed.get("completed_at"), Some(&json!(now)));
        assert_eq!(failed.get("canceled_at"), None);
        let canceled = end(JobStatus::Canceled, None);
        assert_eq!(canceled.get("completed_at"), Some(&json!(now)));
        assert_eq!(canceled.get("canceled_at"), Some(&json!(now)));
        // A suspended job is not over: another worker resumes it.
        let suspended = end(JobStatus::Suspended, None);
        assert_eq!(suspended.get("completed_at"), None);
        assert_eq!(suspended.get("canceled_at"), None);
        let uncounted = json!(JobEnd::new(&outcome(JobStatus::Completed, None), now, None));
        assert_eq!(uncounted.get("total_document_count"), None);
    }

    #[test]
    fn the_connector_records_each_jobs_end_in_the_fields_of_its_kind() {
        let now = "2025-03-07T10:00:00.000Z";
        let done = |kind, status, error, counts, cursor| {
            sync_done_doc(kind, status, error, counts, cursor, now)
        };
        assert_eq!(
            done(
                JobType::Incremental,
                JobStatus::Completed,
                None,
                Some((10, 3)),
                Some(Some("42".into()))
            ),
            json!({
                "last_synced": now, "status": "connected", "error": null,
                "last_sync_status": "completed", "last_sync_error": null,
                "last_indexed_document_count": 10, "last_deleted_document_count": 3,
                "sync_cursor": {"inlet_cursor": "42"},
            })
        );
        assert_eq!(
            done(
                JobType::AccessControl,
                JobStatus::Error,
                Some("boom"),
                None,
                None
            ),
            json!({
                "last_synced": now, "status": "error", "error": "boom",
                "last_access_control_sync_status": "error",
                "last_access_control_sync_error": "boom",
            })
        );
        // A completed sync without a cursor clears the previous one.
        let cleared = done(JobType::Full, JobStatus::Completed, None, None, Some(None));
        assert_eq!(cleared.get("sync_cursor"), Some(&Value::Null));
        let suspended = done(JobType::Full, JobStatus::Suspended, None, None, None);
        assert_eq!(suspended.get("status"), Some(&json!("connected")));
        assert_eq!(suspended.get("last_sync_status"), Some(&json!("suspended")));
    }

    #[test]
    fn volumes_are_whole_mebibytes() {
        assert_eq!(Counts::new(1, 0, 0).indexed_document_volume, 0);
        assert_eq!(Counts::new(1, 0, 400 * 1024).indexed_document_volume, 0);
        assert_eq!(
            Counts::new(1, 0, 3 * 1024 * 1024 / 2).indexed_document_volume,
            2
        );
    }
}
