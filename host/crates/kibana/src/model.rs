//! The connector document (`.elastic-connectors`) and the sync-job document
//! (`_connector/_sync_job`) as Inlet reads them. Only the fields Inlet reads are declared:
//! Elasticsearch adds fields from release to release, and the others are ignored. Fields it may
//! omit or write as `null` are `Option`s. Values of a closed set that a later release may extend
//! (statuses, job types) are [`Open`], so one new value does not make a whole document
//! unreadable. The types are otherwise Elasticsearch's own (its parsers refuse a document of
//! other types, so no sync could be created for it anyway).
//!
//! Parts Inlet only hands on are kept as JSON: a field's form properties (written back merged),
//! pipeline settings and sync rules (read into the sync's own types when a sync is merged, so a
//! bad one fails that sync with its reason, not the whole document), `features` (compared with
//! what the plugin declares) and `sync_cursor` (the plugin's).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::status::ConnectorStatus;
use inlet_policy::job::{JobStatus, JobType};

/// A value of a closed set as Elasticsearch wrote it: one Inlet knows, or one it does not (kept
/// as written, to name it in a message or write it back unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Open<T> {
    Known(T),
    Unknown(Value),
}

impl<T: Copy> Open<T> {
    pub fn known(&self) -> Option<T> {
        match self {
            Open::Known(t) => Some(*t),
            Open::Unknown(_) => None,
        }
    }
}

/// A present field as it is, `null` included (`Some(Value::Null)`); with `#[serde(default)]`, a
/// missing one is `None`. For the job snapshot, where a `null` must not fall back to the
/// connector's current value.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The parts of a connector document Inlet reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConnectorDoc {
    pub service_type: Option<String>,
    pub status: Option<Open<ConnectorStatus>>,
    pub error: Option<String>,
    pub index_name: Option<String>,
    /// The form, by field key: Kibana's field properties, the user's `value` among them.
    pub configuration: Option<Map<String, Value>>,
    pub pipeline: Option<Value>,
    pub filtering: Option<Filtering>,
    pub features: Option<Value>,
    pub scheduling: Option<Scheduling>,
    pub sync_cursor: Option<Value>,
    pub last_sync_status: Option<Open<JobStatus>>,
    pub last_access_control_sync_status: Option<Open<JobStatus>>,
    pub last_sync_scheduled_at: Option<String>,
    pub last_incremental_sync_scheduled_at: Option<String>,
    pub last_access_control_sync_scheduled_at: Option<String>,
    /// Soft deletion (`DELETE _connector/{id}` from 8.16).
    pub deleted: Option<bool>,
}

impl ConnectorDoc {
    /// The connector's status; one Inlet does not know counts as `created`, like a missing one:
    /// the configuration is not checked until the user fills in the form.
    pub fn status(&self) -> ConnectorStatus {
        self.status
            .as_ref()
            .and_then(Open::known)
            .unwrap_or(ConnectorStatus::Created)
    }

    /// The service type Kibana recorded, if any.
    pub fn service_type(&self) -> Option<&str> {
        self.service_type.as_deref().filter(|s| !s.is_empty())
    }

    /// `last_sync_status` (content syncs) or `last_access_control_sync_status`, as written: the
    /// cross-process mutex of syncs of that kind.
    pub fn last_sync_status(&self, kind: JobType) -> Option<&Open<JobStatus>> {
        match kind {
            JobType::AccessControl => self.last_access_control_sync_status.as_ref(),
            JobType::Full | JobType::Incremental => self.last_sync_status.as_ref(),
        }
    }

    /// Whether a worker holds the connector for syncs of `kind`.
    pub fn sync_running(&self, kind: JobType) -> bool {
        self.last_sync_status(kind).and_then(Open::known) == Some(JobStatus::InProgress)
    }

    /// The schedule of `kind` in `scheduling`.
    pub fn schedule(&self, kind: JobType) -> Option<&Schedule> {
        let s = self.scheduling.as_ref()?;
        match kind {
            JobType::Full => s.full.as_ref(),
            JobType::Incremental => s.incremental.as_ref(),
            JobType::AccessControl => s.access_control.as_ref(),
        }
    }

    /// `last_*_scheduled_at` of `kind`: the last fire time a process recorded.
    pub fn scheduled_at(&self, kind: JobType) -> Option<&str> {
        match kind {
            JobType::Full => self.last_sync_scheduled_at.as_deref(),
            JobType::Incremental => self.last_incremental_sync_scheduled_at.as_deref(),
            JobType::AccessControl => self.last_access_control_sync_scheduled_at.as_deref(),
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted == Some(true)
    }
}

/// `scheduling`: a Quartz cron expression per job type.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Scheduling {
    pub full: Option<Schedule>,
    pub incremental: Option<Schedule>,
    pub access_control: Option<Schedule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Schedule {
    pub enabled: Option<bool>,
    pub interval: Option<String>,
}

/// `filtering`: in the connector document a list of domains; in a job's snapshot, the active
/// rules themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Filtering {
    Domains(Vec<FilteringDomain>),
    Rules(FilteringRules),
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilteringDomain {
    pub domain: Option<String>,
    pub active: Option<FilteringRules>,
    pub draft: Option<FilteringRules>,
}

/// One set of sync rules (a domain's `active` or `draft`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilteringRules {
    /// Basic rules, each read on its own so that a bad one is named.
    pub rules: Option<Vec<Value>>,
    pub advanced_snippet: Option<AdvancedSnippet>,
    pub validation: Option<FilteringValidation>,
}

impl FilteringRules {
    /// No rules at all: what a domain without `active` rules has.
    pub const NONE: FilteringRules = FilteringRules {
        rules: None,
        advanced_snippet: None,
        validation: None,
    };

    /// Whether the object holds rules (a job snapshot of `{}` holds none, and the connector's
    /// rules apply).
    pub fn is_given(&self) -> bool {
        self.rules.is_some() || self.advanced_snippet.is_some()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdvancedSnippet {
    /// The plugin's query language: any JSON.
    #[serde(default)]
    pub value: Value,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FilteringValidation {
    pub state: Option<Open<ValidationState>>,
}

/// A draft's `validation.state`: Kibana marks an edited draft `edited`; Inlet writes the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationState {
    Edited,
    Valid,
    Invalid,
}

impl ValidationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationState::Edited => "edited",
            ValidationState::Valid => "valid",
            ValidationState::Invalid => "invalid",
        }
    }
}

/// The parts of a sync-job document Inlet reads.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncJobDoc {
    pub id: String,
    pub status: Option<Open<JobStatus>>,
    pub job_type: Option<Open<JobType>>,
    pub created_at: Option<String>,
    pub last_seen: Option<String>,
    pub worker_hostname: Option<String>,
    pub indexed_document_count: Option<u64>,
    pub deleted_document_count: Option<u64>,
    /// What Elasticsearch copied from the connector when it created the job.
    pub connector: Option<JobConnector>,
}

/// A job's type that Inlet cannot run: the job is ended in `error` with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadJobType {
    #[error(
        "the sync job has no job_type; Inlet runs full, incremental and access_control jobs, as Elastic's connector service does"
    )]
    Missing,
    #[error(
        "the sync job's job_type {0} is unknown; Inlet runs full, incremental and access_control jobs, as Elastic's connector service does"
    )]
    Unknown(Value),
}

impl SyncJobDoc {
    /// The status, if Inlet knows it.
    pub fn status(&self) -> Option<JobStatus> {
        self.status.as_ref().and_then(Open::known)
    }

    /// The type to run; a missing or unknown one is an error for this job, never a guess.
    pub fn job_type(&self) -> Result<JobType, BadJobType> {
        match &self.job_type {
            Some(Open::Known(t)) => Ok(*t),
            Some(Open::Unknown(v)) => Err(BadJobType::Unknown(v.clone())),
            None => Err(BadJobType::Missing),
        }
    }

    /// `last_seen` as a time; `None` when missing or not RFC 3339.
    pub fn last_seen_at(&self) -> Option<DateTime<Utc>> {
        parse_time(self.last_seen.as_deref()?)
    }

    /// The connector the job belongs to.
    pub fn connector_id(&self) -> Option<&str> {
        self.connector.as_ref()?.id.as_deref()
    }

    /// The job's snapshot, with which the job runs.
    pub fn snapshot(&self) -> Option<&JobConnector> {
        self.connector.as_ref()
    }
}

/// A job's `connector`: the connector's settings when the job was created.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobConnector {
    pub id: Option<String>,
    pub configuration: Option<Map<String, Value>>,
    pub index_name: Option<String>,
    /// `Some(Value::Null)` when the snapshot says "no pipeline" (it still wins).
    #[serde(default, deserialize_with = "present")]
    pub pipeline: Option<Value>,
    pub filtering: Option<Filtering>,
}

/// An RFC 3339 time as the protocol writes them.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connector(v: Value) -> ConnectorDoc {
        serde_json::from_value(v).expect("a connector document")
    }

    fn job(v: Value) -> SyncJobDoc {
        serde_json::from_value(v).expect("a sync-job document")
    }

    /// A connector as Kibana creates it: many `null`s, fields Inlet does not read.
    #[test]
    fn kibanas_new_connector_reads() {
        let c = connector(json!({
            "api_key_id": null, "configuration": {}, "custom_scheduling": {}, "description": null,
            "error": null, "features": null, "filtering": [{"domain": "DEFAULT",
                "active": {"advanced_snippet": {"created_at": "2025-01-01T00:00:00Z", "value": {}},
                    "rules": [], "validation": {"errors": [], "state": "valid"}},
                "draft": {"advanced_snippet": {"value": {}}, "rules": [], "validation": {"errors": [], "state": "valid"}}}],
            "index_name": "search-c", "is_native": false, "language": null,
            "last_access_control_sync_status": null, "last_sync_status": null, "last_seen": null,
            "last_sync_scheduled_at": null, "name": "c", "pipeline": {"name": "p"},
            "scheduling": {"full": {"enabled": false, "interval": "0 0 0 * * ?"}},
            "service_type": null, "status": "created", "sync_cursor": null,
            "some_field_of_a_later_release": {"x": 1},
        }));
        assert_eq!(c.status(), ConnectorStatus::Created);
        assert_eq!(c.service_type(), None);
        assert!(c.features.is_none() && c.sync_cursor.is_none());
        assert_eq!(c.index_name.as_deref(), Some("search-c"));
        assert!(!c.sync_running(JobType::Full));
        assert!(!c.is_deleted());
        // A document without any of them reads too (`_source` missing).
        let empty = ConnectorDoc::default();
        assert_eq!(empty.status(), ConnectorStatus::Created);
        assert!(empty.schedule(JobType::Full).is_none());
    }

    #[test]
    fn values_a_later_release_adds_do_not_make_the_document_unreadable() {
        let c = connector(json!({"status": "paused", "last_sync_status": "queued"}));
        assert_eq!(c.status(), ConnectorStatus::Created);
        assert!(!c.sync_running(JobType::Full));
        assert_eq!(
            c.last_sync_status(JobType::Incremental),
            Some(&Open::Unknown(json!("queued"))),
            "kept as written, to be written back unchanged"
        );
        let j = job(json!({"id": "j", "status": "queued", "job_type": "partial"}));
        assert_eq!(j.status(), None);
        assert_eq!(j.job_type(), Err(BadJobType::Unknown(json!("partial"))));
    }

    #[test]
    fn the_sync_mutex_is_per_kind() {
        let c = connector(json!({
            "last_sync_status": "in_progress",
            "last_access_control_sync_status": "completed",
        }));
        assert!(c.sync_running(JobType::Full));
        assert!(c.sync_running(JobType::Incremental));
        assert!(!c.sync_running(JobType::AccessControl));
    }

    #[test]
    fn scheduled_at_reads_the_field_of_each_kind() {
        let c = connector(json!({
            "last_sync_scheduled_at": "f",
            "last_incremental_sync_scheduled_at": "i",
            "last_access_control_sync_scheduled_at": "a",
        }));
        assert_eq!(c.scheduled_at(JobType::Full), Some("f"));
        assert_eq!(c.scheduled_at(JobType::Incremental), Some("i"));
        assert_eq!(c.scheduled_at(JobType::AccessControl), Some("a"));
    }

    #[test]
    fn a_jobs_type_is_known_or_an_error_never_a_guess() {
        for t in JobType::ALL {
            let j = job(json!({"id": "j", "job_type": t.as_str()}));
            assert_eq!(j.job_type(), Ok(t));
        }
        let missing = job(json!({"id": "j", "job_type": null}));
        assert_eq!(missing.job_type(), Err(BadJobType::Missing));
        let err = job(json!({"id": "j", "job_type": "partial"}))
            .job_type()
            .expect_err("unknown");
        assert!(err.to_string().contains("\"partial\""), "{err}");
    }

    #[test]
    fn a_job_as_the_sync_job_api_returns_it() {
        let j = job(json!({
            "id": "job-1", "cancelation_requested_at": null, "canceled_at": null,
            "completed_at": null, "created_at": "2025-03-07T10:00:00.000Z",
            "connector": {"configuration": {"n": {"value": 3}}, "filtering": {"rules": [],
                "advanced_snippet": {"value": {}}, "validation": {"state": "valid", "errors": []}},
                "id": "c1", "index_name": "search-c", "language": null, "pipeline": null,
                "service_type": "loadgen"},
            "deleted_document_count": 0, "error": null, "indexed_document_count": 12,
            "indexed_document_volume": 0, "job_type": "incremental",
            "last_seen": "2025-03-07T10:00:05.000Z", "metadata": {}, "started_at": null,
            "status": "pending", "total_document_count": 0, "trigger_method": "on_demand",
            "worker_hostname": null,
        }));
        assert_eq!(j.status(), Some(JobStatus::Pending));
        assert_eq!(j.job_type(), Ok(JobType::Incremental));
        assert_eq!(j.connector_id(), Some("c1"));
        assert_eq!(j.indexed_document_count, Some(12));
        let snap = j.snapshot().expect("snapshot");
        assert_eq!(snap.pipeline, Some(Value::Null), "a null pipeline is kept");
        assert!(matches!(snap.filtering, Some(Filtering::Rules(_))));
        assert_eq!(
            j.last_seen_at().map(|t| t.to_rfc3339()),
            Some("2025-03-07T10:00:05+00:00".into())
        );
        let bare = job(json!({"id": "job-2", "connector": {}}));
        assert_eq!(bare.snapshot().and_then(|s| s.pipeline.clone()), None);
    }
}
