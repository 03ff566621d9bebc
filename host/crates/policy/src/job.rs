//! A sync job's type and status, named once: Kibana's connector protocol, the local job history
//! (the `inlet` crate's store), the metrics and the CLI all use these, so each wire string is written in
//! one place. The strings are Elastic's (`ConnectorSyncJobType`, `ConnectorSyncStatus`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A sync job's `job_type`: which of the plugin's exports a sync runs. Also `inlet sync --type`
/// (`full`, `incremental`, `access-control`; Elastic's `access_control` is accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// Every document from scratch; what the source no longer has is deleted from the index.
    Full,
    /// Only what changed since the cursor the previous sync left.
    Incremental,
    /// The source's users and what they may see (document-level security), not its content.
    #[cfg_attr(feature = "clap", value(alias = "access_control"))]
    AccessControl,
}

impl JobType {
    /// All three, for code that must cover each type.
    pub const ALL: [JobType; 3] = [JobType::Full, JobType::Incremental, JobType::AccessControl];

    /// The wire string, for log fields and metric labels (which want `&'static str`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Full => "full",
            JobType::Incremental => "incremental",
            JobType::AccessControl => "access_control",
        }
    }
}

/// The wire string, where a [`JobType`] or the string itself will do (a query, a request body).
impl AsRef<str> for JobType {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A sync job's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Created (by a schedule, Kibana or `inlet sync`) and waiting for a worker.
    Pending,
    /// Claimed by a worker, which reports `_stats` while it runs.
    InProgress,
    /// Cancellation was asked for; the worker has not stopped yet.
    Canceling,
    /// Stopped on request.
    Canceled,
    /// Stopped without finishing (e.g. by a shutdown); runnable again, like `Pending`.
    Suspended,
    /// Ran to the end; its counts are final.
    Completed,
    /// Failed; the job's `error` says why.
    Error,
}

impl JobStatus {
    /// All seven, for code that must cover each status.
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Pending,
        JobStatus::InProgress,
        JobStatus::Canceling,
        JobStatus::Canceled,
        JobStatus::Suspended,
        JobStatus::Completed,
        JobStatus::Error,
    ];

    /// The wire string, for query parameters, log fields and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::InProgress => "in_progress",
            JobStatus::Canceling => "canceling",
            JobStatus::Canceled => "canceled",
            JobStatus::Suspended => "suspended",
            JobStatus::Completed => "completed",
            JobStatus::Error => "error",
        }
    }

    /// Jobs a worker may pick up.
    pub fn is_runnable(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Suspended)
    }
}

/// The wire string, where a [`JobStatus`] or the string itself will do (a query parameter).
impl AsRef<str> for JobStatus {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// `as_str` (labels, queries) and serde (documents, records) must never disagree.
    #[test]
    fn as_str_is_the_serde_string() {
        for t in JobType::ALL {
            assert_eq!(json!(t), Value::String(t.as_str().into()));
            assert_eq!(
                serde_json::from_value::<JobType>(json!(t.as_str())).ok(),
                Some(t)
            );
        }
        for s in JobStatus::ALL {
            assert_eq!(json!(s), Value::String(s.as_str().into()));
            assert_eq!(
                serde_json::from_value::<JobStatus>(json!(s.as_str())).ok(),
                Some(s)
            );
        }
    }

    #[test]
    fn the_wire_strings_are_elastics() {
        let types: Vec<&str> = JobType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(types, ["full", "incremental", "access_control"]);
        let statuses: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            statuses,
            [
                "pending",
                "in_progress",
                "canceling",
                "canceled",
                "suspended",
                "completed",
                "error"
            ]
        );
        assert!(serde_json::from_value::<JobType>(json!("partial")).is_err());
    }

    #[test]
    fn only_pending_and_suspended_jobs_are_runnable() {
        let runnable: Vec<JobStatus> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_runnable())
            .collect();
        assert_eq!(runnable, [JobStatus::Pending, JobStatus::Suspended]);
    }
}
