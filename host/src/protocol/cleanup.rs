//! Jobs nobody will finish, ended in `error` the way Elastic's `JobCleanUpService` ends them
//! (`services/job_cleanup.py`), at start and every `service.job_cleanup_interval` seconds:
//! - idle jobs of the served connectors: `in_progress` or `canceling` with a `last_seen` (bumped
//!   by every `_stats` report) older than `inlet.kibana.idle_job_timeout_secs`; their connector
//!   is released (`last_sync_status: error`) so new jobs can start;
//! - orphaned jobs: `in_progress` or `canceling` jobs of any connector that no longer exists
//!   (deleted in Kibana while a worker ran it).
//!
//! Both are ended with one `_update` of the job document carrying `status`, `error`,
//! `completed_at` and `last_seen`, as Elastic's `SyncJob.fail` writes them: `PUT …/_error` sets
//! neither timestamp, so Kibana would show the job as never finished.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::status::JobStatus;
use super::{Ctx, EsError, jobs, now_iso};

/// Elastic's message, which Kibana users know.
pub const IDLE_JOB_ERROR: &str = "The job has not seen any update for some time.";

/// The statuses of jobs a worker holds.
const HELD: [JobStatus; 2] = [JobStatus::InProgress, JobStatus::Canceling];

pub(super) async fn run(ctx: Arc<Ctx>) {
    while !ctx.stopping() {
        if let Err(e) = clean_orphans(&ctx).await {
            tracing::error!("cleanup of jobs of deleted connectors failed: {e}");
        }
        for entry in ctx.connectors() {
            if let Err(e) = clean_idle(&ctx, &entry.connector_id).await {
                tracing::error!(connector_id = %entry.connector_id, "idle job cleanup failed: {e}");
            }
        }
        ctx.pause(ctx.cleanup_interval).await;
    }
}

/// The job document's end as Elastic's service writes it for a failed job.
fn failed_end(error: &str) -> Value {
    let now = now_iso();
    json!({
        "status": JobStatus::Error.as_str(),
        "error": error,
        "completed_at": now,
        "last_seen": now,
    })
}

fn count(job: &Value, field: &str) -> u64 {
    job[field].as_u64().unwrap_or(0)
}

async fn clean_idle(ctx: &Ctx, connector_id: &str) -> Result<(), EsError> {
    let now = Utc::now();
    let timeout = chrono::Duration::from_std(ctx.idle_job_timeout).unwrap_or(chrono::Duration::MAX);
    for status in HELD {
        for job in ctx.api.jobs(Some(connector_id), status.as_str()).await? {
            let Some(id) = job["id"].as_str() else {
                continue;
            };
            if ctx.is_running(id) {
                continue;
            }
            let last_seen = job["last_seen"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            if last_seen.is_some_and(|t| now - t <= timeout) {
                continue;
            }
            tracing::warn!(
                connector_id,
                sync_job_id = id,
                last_seen = %job["last_seen"],
                worker = %job["worker_hostname"],
                "the job's worker stopped reporting; marking it as error"
            );
            ctx.api.update_job(id, &failed_end(IDLE_JOB_ERROR)).await?;
            jobs::sync_done(
                ctx,
                connector_id,
                jobs::job_kind(&job),
                JobStatus::Error,
                Some(IDLE_JOB_ERROR),
                Some((
                    count(&job, "indexed_document_count"),
                    count(&job, "deleted_document_count"),
                )),
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// Whether the connector a job belongs to still exists (a soft-deleted one, `deleted: true`,
/// does not).
async fn connector_exists(
    ctx: &Ctx,
    known: &mut HashMap<String, bool>,
    connector_id: &str,
) -> Result<bool, EsError> {
    if let Some(k) = known.get(connector_id) {
        return Ok(*k);
    }
    let exists = ctx
        .api
        .connector(connector_id)
        .await?
        .is_some_and(|d| d.source["deleted"] != Value::Bool(true));
    known.insert(connector_id.to_owned(), exists);
    Ok(exists)
}

async fn clean_orphans(ctx: &Ctx) -> Result<(), EsError> {
    let mut known = HashMap::new();
    for status in HELD {
        for job in ctx.api.jobs(None, status.as_str()).await? {
            let (Some(id), Some(connector_id)) =
                (job["id"].as_str(), job["connector"]["id"].as_str())
            else {
                continue;
            };
            if ctx.is_running(id) || connector_exists(ctx, &mut known, connector_id).await? {
                continue;
            }
            tracing::warn!(
                connector_id,
                sync_job_id = id,
                worker = %job["worker_hostname"],
                "the job's connector was deleted; marking the job as error"
            );
            ctx.api.update_job(id, &failed_end(IDLE_JOB_ERROR)).await?;
        }
    }
    Ok(())
}
