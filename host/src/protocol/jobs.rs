//! Sync jobs: pick up `pending` and `suspended` jobs of the served connectors, claim each so that
//! exactly one process runs it, run it while reporting `_stats` and watching for `canceling`,
//! then end it and record the outcome on the connector.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use super::api::Versioned;
use super::status::{JobStatus, StopReason, ending};
use super::{Ctx, EsError, document, now_iso};
use crate::config;
use crate::runtime::SyncKind;
use crate::sync::{self, Progress, SyncStats};

const CAS_ATTEMPTS: usize = 3;
const MIB: f64 = 1024.0 * 1024.0;

pub(super) async fn run(ctx: Arc<Ctx>) {
    let mut runners = tokio::task::JoinSet::new();
    while !ctx.stopping() {
        for entry in ctx.connectors() {
            for status in ["pending", "suspended"] {
                match ctx.api.jobs(Some(&entry.connector_id), status).await {
                    Ok(jobs) => {
                        for job in jobs {
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

fn kind_of(job: &Value) -> Option<SyncKind> {
    match job["job_type"].as_str().unwrap_or("full") {
        "full" => Some(SyncKind::Full),
        "incremental" => Some(SyncKind::Incremental),
        "access_control" => Some(SyncKind::AccessControl),
        _ => None,
    }
}

/// Starts a runner for `job` if a slot of its kind is free.
fn start_one(
    ctx: &Arc<Ctx>,
    entry: &config::Connector,
    job: Value,
    runners: &mut tokio::task::JoinSet<()>,
) {
    let Some(job_id) = job["id"].as_str().map(str::to_owned) else {
        return;
    };
    if ctx.is_running(&job_id) {
        return;
    }
    let Some(kind) = kind_of(&job) else {
        tracing::warn!(sync_job_id = %job_id, job_type = %job["job_type"], "unknown job type; left alone");
        return;
    };
    let slots = match kind {
        SyncKind::AccessControl => &ctx.access_control_slots,
        _ => &ctx.content_slots,
    };
    let Ok(permit) = slots.clone().try_acquire_owned() else {
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

/// The connector fields that say how its last sync of `kind` went.
fn last_fields(kind: SyncKind) -> (&'static str, &'static str) {
    match kind {
        SyncKind::AccessControl => (
            "last_access_control_sync_status",
            "last_access_control_sync_error",
        ),
        _ => ("last_sync_status", "last_sync_error"),
    }
}

fn job_status(job: &Value) -> Option<JobStatus> {
    JobStatus::parse(job["status"].as_str())
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
    kind: SyncKind,
    _permit: OwnedSemaphorePermit,
) -> Result<(), EsError> {
    let still_runnable = |j: &Option<Value>| {
        j.as_ref()
            .and_then(job_status)
            .is_some_and(JobStatus::is_runnable)
    };
    if !still_runnable(&ctx.api.job(job_id).await?) {
        return Ok(());
    }
    let Some((connector, previous)) = sync_starts(ctx, entry, kind).await? else {
        return Ok(());
    };
    // Another process may have run the whole job between our read of it and our claim on the
    // connector; it claimed it before releasing the connector, so a fresh read shows it.
    let job = ctx.api.job(job_id).await?;
    if !still_runnable(&job) {
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
    tracing::info!(connector_id = %entry.connector_id, sync_job_id = job_id, job_type = sync::job_type_name(kind), "claiming the sync job");
    // The job's snapshot (index, pipeline, configuration, rules) as Elasticsearch took it when
    // the job was created.
    let merged = document::merge(entry, &connector.source, job.as_ref());
    let cursor = match kind {
        SyncKind::Incremental => document::cursor_from_doc(&connector.source["sync_cursor"]),
        _ => None,
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
async fn licence_refusal(ctx: &Ctx, kind: SyncKind) -> Option<String> {
    if kind != SyncKind::AccessControl {
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
    kind: SyncKind,
) -> Result<Option<(Versioned, Value)>, EsError> {
    let id = entry.connector_id.as_str();
    let (status_field, error_field) = last_fields(kind);
    for _ in 0..CAS_ATTEMPTS {
        let Some(doc) = ctx.api.connector(id).await? else {
            tracing::warn!(
                connector_id = id,
                "the connector is gone; its jobs are left alone"
            );
            return Ok(None);
        };
        if doc.source[status_field] == "in_progress" {
            tracing::debug!(connector_id = id, "another worker runs a sync of this kind");
            return Ok(None);
        }
        let previous = doc.source[status_field].clone();
        let update = json!({
            "status": "connected",
            "error": null,
            status_field: "in_progress",
            error_field: null,
        });
        match ctx.api.update_connector(id, &update, Some(&doc)).await {
            Ok(()) => return Ok(Some((doc, previous))),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn stats_doc(indexed: u64, deleted: u64, bytes: u64) -> Value {
    json!({
        "indexed_document_count": indexed,
        "indexed_document_volume": (bytes as f64 / MIB).round() as u64,
        "deleted_document_count": deleted,
    })
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
    kind: SyncKind,
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
                let stats = stats_doc(now.indexed, now.deleted, now.bytes);
                if let Err(e) = ctx.api.job_stats(job_id, &stats, Some(&metadata_doc(&now))).await {
                    tracing::warn!(sync_job_id = job_id, "cannot report stats: {e}");
                }
                if stop.is_some() {
                    continue;
                }
                let seen = match ctx.api.job(job_id).await {
                    Ok(Some(j)) => job_status(&j),
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

/// Ends the job (status, timestamps, final counts) and records it on the connector.
async fn finish(
    ctx: &Ctx,
    connector_id: &str,
    job_id: &str,
    kind: SyncKind,
    index: &str,
    o: Outcome,
) -> Result<(), EsError> {
    let now = now_iso();
    let mut job = stats_doc(o.stats.indexed, o.deleted(), o.stats.bytes);
    job["metadata"] = metadata_doc(&o.stats);
    job["status"] = json!(o.status.as_str());
    job["error"] = json!(o.error);
    job["last_seen"] = json!(now);
    if matches!(
        o.status,
        JobStatus::Completed | JobStatus::Error | JobStatus::Canceled
    ) {
        job["completed_at"] = json!(now);
    }
    if o.status == JobStatus::Canceled {
        job["canceled_at"] = json!(now);
    }
    match ctx.api.document_count(index).await {
        Ok(Some(n)) => job["total_document_count"] = json!(n),
        Ok(None) => {}
        Err(e) => tracing::warn!(
            sync_job_id = job_id,
            "cannot count the documents of {index}: {e}"
        ),
    }
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
    let cursor = (kind != SyncKind::AccessControl && o.status == JobStatus::Completed)
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

/// Records a job's end on the connector (Elastic's `sync_done`): `last_*` fields, status
/// `error` after a failed job (else `connected`), and the cursor only after a completed content
/// sync (`cursor: Some(..)`).
pub(super) async fn sync_done(
    ctx: &Ctx,
    connector_id: &str,
    kind: SyncKind,
    status: JobStatus,
    error: Option<&str>,
    counts: Option<(u64, u64)>,
    cursor: Option<Option<String>>,
) -> Result<(), EsError> {
    let (status_field, error_field) = last_fields(kind);
    let mut doc = json!({
        "last_synced": now_iso(),
        "status": if status == JobStatus::Error { "error" } else { "connected" },
        "error": error,
        status_field: status.as_str(),
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
    ctx.api.update_connector(connector_id, &doc, None).await
}

pub(super) fn job_kind(job: &Value) -> SyncKind {
    kind_of(job).unwrap_or(SyncKind::Full)
}
