//! The connector document (`.elastic-connectors`) and the sync-job document
//! (`_connector/_sync_job`) as Inlet reads them. Only the fields Inlet reads are declared:
//! Elasticsearch adds fields from release to release, and the others are ignored. Fields it may
//! omit or write as `null` are `Option`s. Values of a closed set that a later release may extend
//! (statuses, job types) are `Open`, so one new value does not make a whole document
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
pub(crate) enum Open<T> {
    /// A value Inlet knows.
    Known(T),
    /// Any other value, as written.
    Unknown(Value),
}

impl<T: Copy> Open<T> {
    /// The value, if Inlet knows it.
    pub(crate) fn known(&self) -> Option<T> {
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

/// The parts of a connector document Inlet reads (its `_source` in `.elastic-connectors`; the
/// fields Inlet writes at the end of a sync, such as `last_synced`, are written, never read).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConnectorDoc {
    /// `service_type`: the data source Kibana recorded (`mysql`, `dir`…). Elastic's service
    /// serves a connector only with a source of that type; Inlet writes config.yml's when it is
    /// empty and sets the connector in `error` when it differs.
    pub(crate) service_type: Option<String>,
    /// `status`: `created → needs_configuration → configured → connected / error`, shown in
    /// Kibana. The configuration is checked only from `configured` on.
    pub(crate) status: Option<Open<ConnectorStatus>>,
    /// `error`: the message Kibana shows with status `error`; compared so that `_error` is only
    /// written when it changes.
    pub(crate) error: Option<String>,
    /// `index_name`: the content index (`search-*`) syncs write to; access-control syncs write
    /// to `.search-acl-filter-<index_name>`.
    pub(crate) index_name: Option<String>,
    /// `configuration`: the form, by field key, in Kibana's Rich Configurable Fields shape: the
    /// field properties (`label`, `type`, `display`, `required`, `sensitive`…) and the user's
    /// `value`. Elastic's service writes its source's form here on first contact and adds the
    /// fields an upgrade brings; syncs read the `value`s.
    pub configuration: Option<Map<String, Value>>,
    /// `pipeline`: the ingest pipeline settings, `{name, extract_binary_content,
    /// reduce_whitespace, run_ml_inference}`. Elastic's service indexes every document of a
    /// sync through pipeline `name`, with the three flags as `_`-prefixed fields of the
    /// document.
    pub(crate) pipeline: Option<Value>,
    /// `filtering`: the sync rules by domain, `[{domain, active, draft}]`; syncs apply the
    /// `DEFAULT` domain's `active` rules.
    pub(crate) filtering: Option<Filtering>,
    /// `features`: what the connector supports (`incremental_sync`, `document_level_security`,
    /// `sync_rules.basic`/`advanced`, each `{enabled}`), which decides the options Kibana
    /// shows. Elastic's service writes its source's; Inlet writes the plugin's when they
    /// differ.
    pub(crate) features: Option<Value>,
    /// `scheduling`: Kibana's sync schedules.
    pub(crate) scheduling: Option<Scheduling>,
    /// `sync_cursor`: where the source stood after the last completed content sync; the next
    /// incremental sync starts from it. Inlet keeps the plugin's cursor here, wrapped in an
    /// object when it is not one.
    pub(crate) sync_cursor: Option<Value>,
    /// `last_sync_status`: the job status of the last full or incremental sync. `in_progress`
    /// while a worker holds the connector: the cross-process mutex of content syncs, taken
    /// under the document's version.
    pub(crate) last_sync_status: Option<Open<JobStatus>>,
    /// `last_access_control_sync_status`: the same for access-control syncs, which have a mutex
    /// of their own.
    pub(crate) last_access_control_sync_status: Option<Open<JobStatus>>,
    /// `last_sync_scheduled_at` (RFC 3339): the last fire time of the full-sync schedule a
    /// process acted on. Written under the document's version before the job is created, so
    /// one fire time makes one job however many processes serve the connector.
    pub(crate) last_sync_scheduled_at: Option<String>,
    /// `last_incremental_sync_scheduled_at`: the same for the incremental schedule.
    pub(crate) last_incremental_sync_scheduled_at: Option<String>,
    /// `last_access_control_sync_scheduled_at`: the same for the access-control schedule.
    pub(crate) last_access_control_sync_scheduled_at: Option<String>,
    /// `deleted`: soft deletion (`DELETE _connector/{id}` from 8.16). A deleted connector counts
    /// as gone: the jobs its workers held are ended as orphans.
    pub(crate) deleted: Option<bool>,
}

impl ConnectorDoc {
    /// The connector's status; one Inlet does not know counts as `created`, like a missing one:
    /// the configuration is not checked until the user fills in the form.
    pub(crate) fn status(&self) -> ConnectorStatus {
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
    pub(crate) fn last_sync_status(&self, kind: JobType) -> Option<&Open<JobStatus>> {
        match kind {
            JobType::AccessControl => self.last_access_control_sync_status.as_ref(),
            JobType::Full | JobType::Incremental => self.last_sync_status.as_ref(),
        }
    }

    /// Whether a worker holds the connector for syncs of `kind`.
    pub(crate) fn sync_running(&self, kind: JobType) -> bool {
        self.last_sync_status(kind).and_then(Open::known) == Some(JobStatus::InProgress)
    }

    /// The schedule of `kind` in `scheduling`.
    pub(crate) fn schedule(&self, kind: JobType) -> Option<&Schedule> {
        let s = self.scheduling.as_ref()?;
        match kind {
            JobType::Full => s.full.as_ref(),
            JobType::Incremental => s.incremental.as_ref(),
            JobType::AccessControl => s.access_control.as_ref(),
        }
    }

    /// `last_*_scheduled_at` of `kind`: the last fire time a process recorded.
    pub(crate) fn scheduled_at(&self, kind: JobType) -> Option<&str> {
        match kind {
            JobType::Full => self.last_sync_scheduled_at.as_deref(),
            JobType::Incremental => self.last_incremental_sync_scheduled_at.as_deref(),
            JobType::AccessControl => self.last_access_control_sync_scheduled_at.as_deref(),
        }
    }

    /// Whether the connector is soft-deleted (`deleted: true`).
    pub(crate) fn is_deleted(&self) -> bool {
        self.deleted == Some(true)
    }
}

/// `scheduling`: a Quartz cron expression per job type. Elastic's service evaluates them in
/// UTC at every pass and creates a `scheduled` job when one is due. `custom_scheduling`, beside
/// it, is read by neither service.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Scheduling {
    /// `scheduling.full`.
    pub(crate) full: Option<Schedule>,
    /// `scheduling.incremental`: fires only for a connector whose plugin has incremental sync.
    pub(crate) incremental: Option<Schedule>,
    /// `scheduling.access_control`: fires only for a connector whose plugin has document-level
    /// security.
    pub(crate) access_control: Option<Schedule>,
}

/// One job type's schedule in `scheduling`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Schedule {
    /// `enabled`: whether the schedule fires (missing: it does not).
    pub(crate) enabled: Option<bool>,
    /// `interval`: a Quartz cron expression, `sec min hour day-of-month month day-of-week
    /// [year]` (`0 0 * * * ?`: hourly).
    pub(crate) interval: Option<String>,
}

/// `filtering`: in the connector document a list of domains; in a job's snapshot, the active
/// rules themselves.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Filtering {
    /// The connector document's `filtering`: `[{domain, active, draft}]`.
    Domains(Vec<FilteringDomain>),
    /// A job snapshot's `connector.filtering`: the rules that were active when the job was
    /// created.
    Rules(FilteringRules),
}

/// One domain of the connector's `filtering`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FilteringDomain {
    /// `domain`: `DEFAULT` is the one Kibana edits and syncs apply (Inlet takes the first
    /// domain when there is no `DEFAULT`).
    pub(crate) domain: Option<String>,
    /// `active`: the rules syncs apply.
    pub(crate) active: Option<FilteringRules>,
    /// `draft`: the rules as edited in Kibana; they become `active` once validated.
    pub(crate) draft: Option<FilteringRules>,
}

/// One set of sync rules (a domain's `active` or `draft`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FilteringRules {
    /// `rules`: the basic rules, `{id, order, policy, field, rule, value}`, which the host
    /// applies to each document (first match wins; Kibana's rule `DEFAULT` includes
    /// everything). Kept as JSON and read one by one, so that a bad one is named.
    pub(crate) rules: Option<Vec<Value>>,
    /// `advanced_snippet`: the advanced rules, which only the plugin reads.
    pub(crate) advanced_snippet: Option<AdvancedSnippet>,
    /// `validation`: the outcome of the last validation of these rules.
    pub(crate) validation: Option<FilteringValidation>,
}

impl FilteringRules {
    /// No rules at all: what a domain without `active` rules has.
    pub(crate) const NONE: FilteringRules = FilteringRules {
        rules: None,
        advanced_snippet: None,
        validation: None,
    };

    /// Whether the object holds rules (a job snapshot of `{}` holds none, and the connector's
    /// rules apply).
    pub(crate) fn is_given(&self) -> bool {
        self.rules.is_some() || self.advanced_snippet.is_some()
    }
}

/// A rule set's `advanced_snippet`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AdvancedSnippet {
    /// `advanced_snippet.value`: the source's own query language, any JSON (MySQL's
    /// `[{tables, query}]`, …); `{}` when there are no advanced rules.
    #[serde(default)]
    pub(crate) value: Value,
}

/// A rule set's `validation`, `{state, errors}`; Inlet reads only the state.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct FilteringValidation {
    /// `validation.state`.
    pub(crate) state: Option<Open<ValidationState>>,
}

/// A draft's `validation.state`: Kibana marks an edited draft `edited`; Inlet writes the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ValidationState {
    /// Kibana saved a changed draft, which waits for validation.
    Edited,
    /// The rules passed validation (a draft is then activated).
    Valid,
    /// The rules failed validation (`errors` say why); the active rules stay as they were.
    Invalid,
}

impl ValidationState {
    /// The wire string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ValidationState::Edited => "edited",
            ValidationState::Valid => "valid",
            ValidationState::Invalid => "invalid",
        }
    }
}

/// The parts of a sync-job document Inlet reads, as `GET _connector/_sync_job` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct SyncJobDoc {
    /// `id`: the job's id (the API puts it in the document; a job without one is not read).
    pub(crate) id: String,
    /// `status`: `pending` and `suspended` jobs wait for a worker; a claim makes them
    /// `in_progress`; Kibana's *Cancel* makes them `canceling`, which the worker ends in
    /// `canceled`.
    pub(crate) status: Option<Open<JobStatus>>,
    /// `job_type`: `full`, `incremental` or `access_control`.
    pub(crate) job_type: Option<Open<JobType>>,
    /// `created_at` (RFC 3339): jobs are taken oldest first, as Elastic's service takes them.
    pub(crate) created_at: Option<String>,
    /// `last_seen` (RFC 3339): set by the claim and by every `_stats` report. A held job whose
    /// `last_seen` grows older than the idle timeout has lost its worker, and the cleanup ends
    /// it.
    pub(crate) last_seen: Option<String>,
    /// `worker_hostname`: the process that claimed the job (named in the cleanup's log).
    pub(crate) worker_hostname: Option<String>,
    /// `indexed_document_count`: documents indexed so far, as the worker last reported; the
    /// cleanup copies it to the connector's `last_indexed_document_count`.
    pub(crate) indexed_document_count: Option<u64>,
    /// `deleted_document_count`: documents deleted so far; likewise copied to
    /// `last_deleted_document_count`.
    pub(crate) deleted_document_count: Option<u64>,
    /// `connector`: what Elasticsearch copied from the connector when it created the job.
    pub(crate) connector: Option<JobConnector>,
}

/// A job's type that Inlet cannot run: the job is ended in `error` with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadJobType {
    /// No `job_type`, or `null`.
    #[error(
        "the sync job has no job_type; Inlet runs full, incremental and access_control jobs, as Elastic's connector service does"
    )]
    Missing,
    /// A `job_type` Inlet does not know, as written.
    #[error(
        "the sync job's job_type {0} is unknown; Inlet runs full, incremental and access_control jobs, as Elastic's connector service does"
    )]
    Unknown(Value),
}

impl SyncJobDoc {
    /// The status, if Inlet knows it.
    pub(crate) fn status(&self) -> Option<JobStatus> {
        self.status.as_ref().and_then(Open::known)
    }

    /// The type to run; a missing or unknown one is an error for this job, never a guess.
    pub(crate) fn job_type(&self) -> Result<JobType, BadJobType> {
        match &self.job_type {
            Some(Open::Known(t)) => Ok(*t),
            Some(Open::Unknown(v)) => Err(BadJobType::Unknown(v.clone())),
            None => Err(BadJobType::Missing),
        }
    }

    /// `last_seen` as a time; `None` when missing or not RFC 3339.
    pub(crate) fn last_seen_at(&self) -> Option<DateTime<Utc>> {
        parse_time(self.last_seen.as_deref()?)
    }

    /// The connector the job belongs to.
    pub(crate) fn connector_id(&self) -> Option<&str> {
        self.connector.as_ref()?.id.as_deref()
    }

    /// The job's snapshot, with which the job runs.
    pub(crate) fn snapshot(&self) -> Option<&JobConnector> {
        self.connector.as_ref()
    }
}

/// A job's `connector`: the connector's settings when the job was created. As in Elastic's
/// service, they win over the connector's current ones, so a job created before the index or
/// pipeline changed writes where it was created to write ([`crate::document::merge`]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobConnector {
    /// `connector.id`: the connector the job belongs to.
    pub(crate) id: Option<String>,
    /// `connector.configuration`: the form with its values at creation (an empty one: the
    /// connector's current values apply).
    pub(crate) configuration: Option<Map<String, Value>>,
    /// `connector.index_name`: the index the job writes to (an access-control job's is
    /// `.search-acl-filter-<content index>`, from which Inlet takes the content index).
    pub(crate) index_name: Option<String>,
    /// `connector.pipeline`: `Some(Value::Null)` when the snapshot says "no pipeline" (it still
    /// wins).
    #[serde(default, deserialize_with = "present")]
    pub(crate) pipeline: Option<Value>,
    /// `connector.filtering`: the rules that were active at creation (none given: the
    /// connector's current rules apply).
    pub(crate) filtering: Option<Filtering>,
}

/// An RFC 3339 time as the protocol writes them.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
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
