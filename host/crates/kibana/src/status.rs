//! Connector and job statuses, and the transitions Inlet makes between them.

use serde::{Deserialize, Serialize};

use inlet_engine::sync;
use inlet_policy::job::JobStatus;

/// A connector's `status`: `created → needs_configuration → configured → connected / error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ConnectorStatus {
    /// Kibana created the connector; Inlet has not written its form yet.
    Created,
    /// Inlet wrote the plugin's form; the user has not saved values yet.
    NeedsConfiguration,
    /// Kibana saved the user's values; the next pass checks them.
    Configured,
    /// The last configuration check passed.
    Connected,
    /// The last check failed, or a sync failed; the connector's `error` says why.
    Error,
}

impl ConnectorStatus {
    /// Whether the user has filled in the form, so the configuration can be checked (Elastic's
    /// service waits in `created` and `needs_configuration` too).
    pub(crate) fn is_configured(self) -> bool {
        matches!(
            self,
            ConnectorStatus::Configured | ConnectorStatus::Connected | ConnectorStatus::Error
        )
    }
}

/// What a configuration check changes: `Some(error)` to write through `_error` (`None` inside
/// means "connected"), or nothing when the document already says so.
pub(crate) fn after_check(
    status: ConnectorStatus,
    current_error: Option<&str>,
    check: &Result<(), String>,
) -> Option<Option<String>> {
    match check {
        Ok(()) if status == ConnectorStatus::Connected && current_error.is_none() => None,
        Ok(()) => Some(None),
        Err(e) if status == ConnectorStatus::Error && current_error == Some(e.as_str()) => None,
        Err(e) => Some(Some(e.clone())),
    }
}

/// Why Inlet stopped a running sync before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The user asked (`canceling`).
    Canceled,
    /// This process is shutting down: the job is handed back (`suspended`).
    Shutdown,
    /// The job document disappeared or left `in_progress` under us.
    Lost,
}

/// The status a job ends with, and its error text.
pub(crate) fn ending(
    report: sync::Status,
    error: Option<&str>,
    stop: Option<StopReason>,
) -> (JobStatus, Option<String>) {
    match (report, stop) {
        (sync::Status::Completed, _) => (JobStatus::Completed, None),
        (sync::Status::Canceled, Some(StopReason::Shutdown)) => (JobStatus::Suspended, None),
        (sync::Status::Canceled, Some(StopReason::Lost)) => (
            JobStatus::Error,
            Some("the job was removed or changed by someone else while it ran".into()),
        ),
        (sync::Status::Canceled, _) => (JobStatus::Canceled, None),
        (sync::Status::Suspended, _) => (JobStatus::Suspended, None),
        (sync::Status::Error, _) => (
            JobStatus::Error,
            Some(error.unwrap_or("unknown error").to_owned()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConnectorDoc;
    use serde_json::json;

    #[test]
    fn only_configured_connectors_are_checked() {
        for (s, checked) in [
            (json!(null), false),
            (json!("created"), false),
            (json!("needs_configuration"), false),
            (json!("configured"), true),
            (json!("connected"), true),
            (json!("error"), true),
            (json!("a status of a later release"), false),
        ] {
            let doc: ConnectorDoc =
                serde_json::from_value(json!({ "status": s })).expect("connector");
            assert_eq!(doc.status().is_configured(), checked, "{s}");
        }
    }

    #[test]
    fn checks_move_between_connected_and_error_writing_only_changes() {
        use ConnectorStatus::*;
        assert_eq!(after_check(Configured, None, &Ok(())), Some(None));
        assert_eq!(after_check(Connected, None, &Ok(())), None);
        assert_eq!(after_check(Connected, Some("old"), &Ok(())), Some(None));
        assert_eq!(after_check(Error, Some("bad"), &Ok(())), Some(None));
        let err = Err("cannot reach".to_owned());
        assert_eq!(
            after_check(Connected, None, &err),
            Some(Some("cannot reach".into()))
        );
        assert_eq!(after_check(Error, Some("cannot reach"), &err), None);
        assert_eq!(
            after_check(Error, Some("other"), &err),
            Some(Some("cannot reach".into()))
        );
    }

    #[test]
    fn jobs_end_by_report_and_reason() {
        use sync::Status as S;
        assert_eq!(
            ending(S::Completed, None, None),
            (JobStatus::Completed, None)
        );
        assert_eq!(
            ending(S::Completed, None, Some(StopReason::Canceled)).0,
            JobStatus::Completed,
            "a sync that finished before it saw the cancellation completed"
        );
        assert_eq!(
            ending(S::Canceled, None, Some(StopReason::Canceled)).0,
            JobStatus::Canceled
        );
        assert_eq!(
            ending(S::Canceled, None, Some(StopReason::Shutdown)).0,
            JobStatus::Suspended
        );
        assert_eq!(
            ending(S::Canceled, None, Some(StopReason::Lost)).0,
            JobStatus::Error
        );
        assert_eq!(
            ending(S::Error, Some("boom"), None),
            (JobStatus::Error, Some("boom".into()))
        );
        assert!(JobStatus::Pending.is_runnable() && JobStatus::Suspended.is_runnable());
        assert!(!JobStatus::InProgress.is_runnable());
    }
}
