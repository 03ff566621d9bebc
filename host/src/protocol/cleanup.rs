//! Jobs whose worker vanished: a job `in_progress` or `canceling` whose `last_seen` (bumped by
//! every `_stats` report) is older than `inlet.kibana.idle_job_timeout_secs` ends in `error`, and
//! its connector is released (`last_sync_status: error`), so new jobs can start. Runs at start
//! and every `service.job_cleanup_interval` seconds.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::status::JobStatus;
use super::{Ctx, EsError, jobs};

/// Elastic's message, which Kibana users know.
pub const IDLE_JOB_ERROR: &str = "The job has not seen any update for some time.";

pub(super) async fn run(ctx: Arc<Ctx>) {
    while !ctx.stopping() {
        for entry in ctx.connectors() {
            if let Err(e) = clean(&ctx, &entry.connector_id).await {
                tracing::error!(connector_id = %entry.connector_id, "idle job cleanup failed: {e}");
            }
        }
        ctx.pause(ctx.cleanup_interval).await;
    }
}

async fn clean(ctx: &Ctx, connector_id: &str) -> Result<(), EsError> {
    let now = Utc::now();
    let timeout = chrono::Duration::from_std(ctx.idle_job_timeout).unwrap_or(chrono::Duration::MAX);
    for status in [JobStatus::InProgress, JobStatus::Canceling] {
        for job in ctx.api.jobs(connector_id, status.as_str()).await? {
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
            ctx.api.job_error(id, IDLE_JOB_ERROR).await?;
            jobs::sync_done(
                ctx,
                connector_id,
                jobs::job_kind(&job),
                JobStatus::Error,
                Some(IDLE_JOB_ERROR),
                None,
                None,
            )
            .await?;
        }
    }
    Ok(())
}
