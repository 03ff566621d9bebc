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

use super::model::SyncJobDoc;
use super::{Ctx, EsError, jobs, now_iso};
use inlet_policy::job::{JobStatus, JobType};

/// Elastic's message, which Kibana users know.
const IDLE_JOB_ERROR: &str = "The job has not seen any update for some time.";

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
pub(super) fn failed_end(error: &str) -> Value {
    let now = now_iso();
    json!({
        "status": JobStatus::Error,
        "error": error,
        "completed_at": now,
        "last_seen": now,
    })
}

/// Whether the job's worker stopped reporting: no `last_seen` (or none readable), or one older
/// than `timeout`.
fn is_idle(job: &SyncJobDoc, now: DateTime<Utc>, timeout: chrono::Duration) -> bool {
    job.last_seen_at().is_none_or(|t| now - t > timeout)
}

/// The kind of sync whose connector fields an idle job held. Elastic's `sync_done` releases the
/// access-control fields for an access-control job and the content fields for any other, a job
/// of a type Inlet does not know included.
fn held_kind(job: &SyncJobDoc) -> JobType {
    match job.job_type() {
        Ok(JobType::AccessControl) => JobType::AccessControl,
        Ok(JobType::Full | JobType::Incremental) | Err(_) => JobType::Full,
    }
}

async fn clean_idle(ctx: &Ctx, connector_id: &str) -> Result<(), EsError> {
    let now = Utc::now();
    let timeout = chrono::Duration::from_std(ctx.idle_job_timeout).unwrap_or(chrono::Duration::MAX);
    for status in HELD {
        for job in ctx.api.jobs(Some(connector_id), status).await? {
            let id = job.id.as_str();
            if ctx.is_running(id) || !is_idle(&job, now, timeout) {
                continue;
            }
            tracing::warn!(
                connector_id,
                sync_job_id = id,
                last_seen = job.last_seen.as_deref().unwrap_or("never"),
                worker = job.worker_hostname.as_deref().unwrap_or("none"),
                "the job's worker stopped reporting; marking it as error"
            );
            ctx.api.update_job(id, &failed_end(IDLE_JOB_ERROR)).await?;
            jobs::sync_done(
                ctx,
                connector_id,
                held_kind(&job),
                JobStatus::Error,
                Some(IDLE_JOB_ERROR),
                Some((
                    job.indexed_document_count.unwrap_or(0),
                    job.deleted_document_count.unwrap_or(0),
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
        .is_some_and(|d| !d.source.is_deleted());
    known.insert(connector_id.to_owned(), exists);
    Ok(exists)
}

async fn clean_orphans(ctx: &Ctx) -> Result<(), EsError> {
    let mut known = HashMap::new();
    for status in HELD {
        for job in ctx.api.jobs(None, status).await? {
            let id = job.id.as_str();
            let Some(connector_id) = job.connector_id() else {
                continue;
            };
            if ctx.is_running(id) || connector_exists(ctx, &mut known, connector_id).await? {
                continue;
            }
            tracing::warn!(
                connector_id,
                sync_job_id = id,
                worker = job.worker_hostname.as_deref().unwrap_or("none"),
                "the job's connector was deleted; marking the job as error"
            );
            ctx.api.update_job(id, &failed_end(IDLE_JOB_ERROR)).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(v: Value) -> SyncJobDoc {
        serde_json::from_value(v).expect("a sync-job document")
    }

    #[test]
    fn a_job_is_idle_when_its_worker_has_not_reported_within_the_timeout() {
        let now = DateTime::parse_from_rfc3339("2025-03-07T10:00:10Z")
            .expect("time")
            .with_timezone(&Utc);
        let timeout = chrono::Duration::seconds(5);
        let idle = |t: Value| is_idle(&job(json!({"id": "j", "last_seen": t})), now, timeout);
        assert!(!idle(json!("2025-03-07T10:00:08Z")));
        assert!(
            !idle(json!("2025-03-07T10:00:05Z")),
            "at the timeout exactly"
        );
        assert!(idle(json!("2025-03-07T10:00:04.999Z")));
        assert!(idle(json!(null)), "never seen");
        assert!(idle(json!("yesterday")), "unreadable");
    }

    #[test]
    fn an_idle_job_releases_the_fields_of_its_kind() {
        let kind = |t: Value| held_kind(&job(json!({"id": "j", "job_type": t})));
        assert_eq!(kind(json!("access_control")), JobType::AccessControl);
        assert_eq!(kind(json!("full")), JobType::Full);
        // Incremental and full syncs share the content fields.
        assert_eq!(kind(json!("incremental")), JobType::Full);
        assert_eq!(
            kind(json!("partial")),
            JobType::Full,
            "as Elastic's `sync_done`"
        );
        assert_eq!(kind(json!(null)), JobType::Full);
    }

    #[test]
    fn a_failed_jobs_end_is_over() {
        let end = failed_end(IDLE_JOB_ERROR);
        assert_eq!(end.get("status"), Some(&json!("error")));
        assert_eq!(end.get("error"), Some(&json!(IDLE_JOB_ERROR)));
        assert!(end.get("completed_at").is_some());
        assert_eq!(end.get("completed_at"), end.get("last_seen"));
    }
}
