//! The calls Inlet makes to Elasticsearch, typed. Like Elastic's own service, it reads the
//! connector document from `.elastic-connectors` (it needs `_seq_no`/`_primary_term` for
//! optimistic concurrency, which `GET _connector/{id}` does not return) and writes it with
//! `_update` where Elastic does; everything else goes through the `_connector` API. Where the
//! cluster predates an endpoint ([`Cluster`]), the call is made the way Elastic's service made
//! it on that release: an `_update` of the system document.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{EsClient, EsError, query, segment};
use super::cluster::{Cluster, ClusterInfo, Licence, LicenceAnswer};
use super::document::DEFAULT_DOMAIN;
use super::model::{ConnectorDoc, SyncJobDoc};
use inlet_policy::job::JobStatus;

/// The connector documents' index (an alias of `.elastic-connectors-v1`).
const CONNECTORS_INDEX: &str = ".elastic-connectors";
/// The sync-job documents' index (an alias of `.elastic-connectors-sync-jobs-v1`).
const JOBS_INDEX: &str = ".elastic-connectors-sync-jobs";

/// A document's version, for optimistic concurrency (`if_seq_no` / `if_primary_term`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    /// `_seq_no`.
    pub(crate) seq_no: u64,
    /// `_primary_term`.
    pub(crate) primary_term: u64,
}

/// A document with the version Elasticsearch gave it.
#[derive(Debug, Clone)]
pub struct Versioned<T = ConnectorDoc> {
    /// `_id`.
    pub(crate) id: String,
    /// `_seq_no` and `_primary_term`, to guard a write of this document.
    pub(crate) version: Version,
    /// `_source` (an empty document when Elasticsearch returned none).
    pub source: T,
}

/// `GET /{index}/_doc/{id}`'s answer.
#[derive(Deserialize)]
struct GetAnswer<T> {
    found: Option<bool>,
    #[serde(rename = "_id")]
    id: Option<String>,
    #[serde(rename = "_seq_no")]
    seq_no: Option<u64>,
    #[serde(rename = "_primary_term")]
    primary_term: Option<u64>,
    #[serde(rename = "_source")]
    source: Option<T>,
}

impl<T: Default> GetAnswer<T> {
    /// The document, if there is one with a version to guard writes with.
    fn versioned(self, id: &str) -> Option<Versioned<T>> {
        if self.found == Some(false) {
            return None;
        }
        Some(Versioned {
            id: self.id.unwrap_or_else(|| id.to_owned()),
            version: Version {
                seq_no: self.seq_no?,
                primary_term: self.primary_term?,
            },
            source: self.source.unwrap_or_default(),
        })
    }
}

/// A page of `GET /_connector/_sync_job`. The jobs are read one by one ([`read_jobs`]).
#[derive(Deserialize)]
struct JobPage {
    count: Option<u64>,
    results: Option<Vec<Value>>,
}

/// `POST /_connector/_sync_job`'s answer.
#[derive(Deserialize)]
struct Created {
    id: Option<String>,
}

/// `GET /{index}/_count`'s answer.
#[derive(Deserialize)]
struct CountAnswer {
    count: Option<u64>,
}

/// Attempts of a read-modify-write of the connector document that loses a version race.
const CAS_ATTEMPTS: usize = 3;

/// Inlet's calls to one cluster, each made the way the cluster's release takes it. Cheap to
/// clone.
#[derive(Clone)]
pub struct Api {
    es: EsClient,
    cluster: Cluster,
}

impl Api {
    /// An API for a current cluster; [`Api::with_cluster`] once `GET /` said what it is.
    pub fn new(es: EsClient) -> Self {
        Api {
            es,
            cluster: Cluster::current(),
        }
    }

    /// The same API for `cluster` (from [`Cluster::from_info`]): calls its release lacks are
    /// made as Elastic's service made them there.
    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = cluster;
        self
    }

    /// The cluster's base URL, for messages.
    pub fn url(&self) -> &str {
        self.es.base_url()
    }

    /// `GET /`: the cluster's name and version.
    pub async fn info(&self) -> Result<ClusterInfo, EsError> {
        self.es.send_as(Method::GET, "/", None).await
    }

    /// `GET /_license`.
    pub(crate) async fn licence(&self) -> Result<Licence, EsError> {
        let answer: LicenceAnswer = self.es.send_as(Method::GET, "/_license", None).await?;
        Ok(Licence::from_answer(&answer))
    }

    /// `GET /.elastic-connectors/_doc/{id}`; `None` when there is no such connector.
    pub async fn connector(&self, id: &str) -> Result<Option<Versioned>, EsError> {
        self.connector_as(id).await
    }

    /// The connector document read as `T` (JSON, to edit a part of it and write it back).
    async fn connector_as<T: DeserializeOwned + Default>(
        &self,
        id: &str,
    ) -> Result<Option<Versioned<T>>, EsError> {
        let path = format!("/{CONNECTORS_INDEX}/_doc/{}", segment(id));
        match self
            .es
            .send_as::<GetAnswer<T>>(Method::GET, &path, None)
            .await
        {
            Ok(answer) => Ok(answer.versioned(id)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /.elastic-connectors/_update/{id}` with `{"doc": doc}` (a deep merge). With `cas`,
    /// only if the document is still at that version: a 409 means someone else changed it.
    pub(crate) async fn update_connector(
        &self,
        id: &str,
        doc: &Value,
        cas: Option<Version>,
    ) -> Result<(), EsError> {
        let mut path = format!("/{CONNECTORS_INDEX}/_update/{}", segment(id));
        if let Some(v) = cas {
            path.push('?');
            path.push_str(&query(&[
                ("if_seq_no", &v.seq_no.to_string()),
                ("if_primary_term", &v.primary_term.to_string()),
            ]));
        }
        self.es
            .send(Method::POST, &path, Some(&json!({ "doc": doc })))
            .await
            .map(drop)
    }

    /// `PUT /_connector/{id}/_check_in`: sets `last_seen`.
    pub async fn check_in(&self, id: &str) -> Result<(), EsError> {
        let path = format!("/_connector/{}/_check_in", segment(id));
        self.es.send(Method::PUT, &path, None).await.map(drop)
    }

    /// `PUT /_connector/{id}/_error`: a message sets status `error`; `null` sets `connected`.
    pub async fn set_error(&self, id: &str, error: Option<&str>) -> Result<(), EsError> {
        let path = format!("/_connector/{}/_error", segment(id));
        self.es
            .send(Method::PUT, &path, Some(&json!({ "error": error })))
            .await
            .map(drop)
    }

    /// Records the validation of the default domain's draft rules and, when `activate`, makes
    /// the draft the active rules: `PUT _connector/{id}/_filtering/_validation` (body
    /// `{"validation": {state, errors}}`) then `PUT …/_filtering/_activate` from 8.14; before,
    /// the same change to the connector document's `filtering` under its version, as Elastic's
    /// service wrote it.
    pub async fn record_draft_validation<V: Serialize>(
        &self,
        id: &str,
        validation: &V,
        activate: bool,
    ) -> Result<(), EsError> {
        if self.cluster.has_filtering_validation_api() {
            let path = format!("/_connector/{}/_filtering/_validation", segment(id));
            self.es
                .send(
                    Method::PUT,
                    &path,
                    Some(&json!({ "validation": validation })),
                )
                .await?;
            if activate {
                let path = format!("/_connector/{}/_filtering/_activate", segment(id));
                self.es.send(Method::PUT, &path, None).await?;
            }
            return Ok(());
        }
        for _ in 0..CAS_ATTEMPTS {
            // Read as JSON: the whole `filtering` is written back, with the fields Inlet does
            // not read (timestamps, a later release's) as they were.
            let Some(doc) = self.connector_as::<Value>(id).await? else {
                return Ok(());
            };
            let Some(filtering) = doc
                .source
                .get("filtering")
                .and_then(|f| with_draft_validation(f, json!(validation), activate))
            else {
                return Ok(());
            };
            match self
                .update_connector(id, &json!({ "filtering": filtering }), Some(doc.version))
                .await
            {
                Err(e) if e.is_conflict() => continue,
                other => return other,
            }
        }
        Ok(())
    }

    /// `GET /_connector/_sync_job?connector_id=…&status=…`: one status at a time (what every
    /// 8.x and 9.x accepts; a [`JobStatus`] or its wire string), of one connector or (`None`) of
    /// all, oldest first; a job Inlet cannot read is logged and left out.
    pub async fn jobs(
        &self,
        connector_id: Option<&str>,
        status: impl AsRef<str>,
    ) -> Result<Vec<SyncJobDoc>, EsError> {
        let mut raw = Vec::new();
        let size = 100usize;
        loop {
            let from = raw.len().to_string();
            let size_text = size.to_string();
            let mut pairs = vec![
                ("status", status.as_ref()),
                ("from", &from),
                ("size", &size_text),
            ];
            if let Some(c) = connector_id {
                pairs.insert(0, ("connector_id", c));
            }
            let q = query(&pairs);
            let page: JobPage = self
                .es
                .send_as(Method::GET, &format!("/_connector/_sync_job?{q}"), None)
                .await?;
            let results = page.results.unwrap_or_default();
            let n = results.len();
            raw.extend(results);
            let total = page.count.unwrap_or(0) as usize;
            if n < size || raw.len() >= total {
                break;
            }
        }
        let mut out = read_jobs(raw);
        // Oldest first, as Elastic's service picks them.
        out.sort_by(|a, b| {
            let at = |j: &SyncJobDoc| j.created_at.clone().unwrap_or_default();
            at(a).cmp(&at(b))
        });
        Ok(out)
    }

    /// `GET /_connector/_sync_job/{id}`; `None` when it is gone.
    pub(crate) async fn job(&self, id: &str) -> Result<Option<SyncJobDoc>, EsError> {
        let path = format!("/_connector/_sync_job/{}", segment(id));
        match self.es.send_as(Method::GET, &path, None).await {
            Ok(job) => Ok(Some(job)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /_connector/_sync_job`: a `pending` job of `job_type` (a
    /// [`JobType`](inlet_policy::job::JobType) or its wire string), `trigger_method` `on_demand`
    /// or `scheduled`; returns its id.
    pub async fn create_job(
        &self,
        connector_id: &str,
        job_type: impl AsRef<str>,
        trigger_method: &str,
    ) -> Result<String, EsError> {
        let body = json!({"id": connector_id, "job_type": job_type.as_ref(), "trigger_method": trigger_method});
        let created: Created = self
            .es
            .send_as(Method::POST, "/_connector/_sync_job", Some(&body))
            .await?;
        Ok(created.id.unwrap_or_default())
    }

    /// Claims a job for this worker: `in_progress`, `started_at`, `last_seen`,
    /// `worker_hostname` and the cursor the job starts from. 8.15+: `PUT
    /// _connector/_sync_job/{id}/_claim`, whose parser declares `sync_cursor` an optional object
    /// (not nullable), so the key is left out when there is no cursor, as Elastic's client does.
    /// Before 8.15: the same fields through an `_update` of the job document, as Elastic's
    /// service wrote them.
    pub async fn claim_job(
        &self,
        id: &str,
        worker_hostname: &str,
        sync_cursor: Option<&Value>,
    ) -> Result<(), EsError> {
        if self.cluster.has_claim_api() {
            let path = format!("/_connector/_sync_job/{}/_claim", segment(id));
            let mut body = json!({ "worker_hostname": worker_hostname });
            if let Some(c) = sync_cursor {
                body["sync_cursor"] = c.clone();
            }
            return self
                .es
                .send(Method::PUT, &path, Some(&body))
                .await
                .map(drop);
        }
        let now = super::now_iso();
        let mut doc = json!({
            "status": JobStatus::InProgress,
            "started_at": now,
            "last_seen": now,
            "worker_hostname": worker_hostname,
        });
        if let Some(c) = sync_cursor {
            doc["connector"] = json!({ "sync_cursor": c });
        }
        self.update_job(id, &doc).await
    }

    /// `PUT /_connector/_sync_job/{id}/_stats`; Elasticsearch also bumps `last_seen`. `metadata`
    /// is sent where the parser knows it (8.15+).
    pub async fn job_stats(
        &self,
        id: &str,
        stats: &Value,
        metadata: Option<&Value>,
    ) -> Result<(), EsError> {
        let path = format!("/_connector/_sync_job/{}/_stats", segment(id));
        let mut body = stats.clone();
        if let Some(m) = metadata.filter(|_| self.cluster.takes_stats_metadata()) {
            body["metadata"] = m.clone();
        }
        self.es
            .send(Method::PUT, &path, Some(&body))
            .await
            .map(drop)
    }

    /// `POST /.elastic-connectors-sync-jobs/_update/{id}`: how Elastic's service ends a job
    /// (status, timestamps and final counts in one write; the API has no call for that, and
    /// `_error` cannot set `completed_at`).
    pub async fn update_job(&self, id: &str, doc: &Value) -> Result<(), EsError> {
        let path = format!("/{JOBS_INDEX}/_update/{}", segment(id));
        self.es
            .send(Method::POST, &path, Some(&json!({ "doc": doc })))
            .await
            .map(drop)
    }

    /// Documents in `index` (after a refresh, except on serverless, which refuses `_refresh`);
    /// `None` when the index does not exist.
    pub async fn document_count(&self, index: &str) -> Result<Option<u64>, EsError> {
        let q = query(&[("ignore_unavailable", "true")]);
        let idx = segment(index);
        if self.cluster.refreshes() {
            match self
                .es
                .send(Method::POST, &format!("/{idx}/_refresh?{q}"), None)
                .await
            {
                Err(e) if e.is_not_found() => return Ok(None),
                other => other?,
            };
        }
        match self
            .es
            .send_as::<CountAnswer>(Method::GET, &format!("/{idx}/_count?{q}"), None)
            .await
        {
            Ok(answer) => Ok(answer.count),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The jobs of a page that Inlet can read; any other is logged and left alone (a job is never
/// run on a guess, and one odd job must not stop the others).
fn read_jobs(page: Vec<Value>) -> Vec<SyncJobDoc> {
    page.into_iter()
        .filter_map(|raw| {
            let id = raw.get("id").cloned().unwrap_or(Value::Null);
            serde_path_to_error::deserialize(raw)
                .map_err(|e| tracing::warn!(sync_job_id = %id, "a sync job Inlet cannot read is left alone: {e}"))
                .ok()
        })
        .collect()
}

/// `filtering` (a list of domains) with the default domain's draft validated and, when
/// `activate`, made the active rules; `None` when there is no such draft to validate.
fn with_draft_validation(filtering: &Value, validation: Value, activate: bool) -> Option<Value> {
    let mut filtering = filtering.clone();
    let domain = filtering
        .as_array_mut()?
        .iter_mut()
        .find(|d| d.get("domain").and_then(Value::as_str) == Some(DEFAULT_DOMAIN))?
        .as_object_mut()?;
    let draft = domain.get_mut("draft")?.as_object_mut()?;
    draft.insert("validation".into(), validation);
    if activate {
        let active = Value::Object(draft.clone());
        domain.insert("active".into(), active);
    }
    Some(filtering)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_answer_is_a_versioned_document_or_none() {
        let answer: GetAnswer<ConnectorDoc> = serde_json::from_value(json!({
            "_index": ".elastic-connectors-v1", "_id": "c1", "_version": 3, "_seq_no": 7,
            "_primary_term": 1, "found": true, "_source": {"status": "connected"},
        }))
        .expect("answer");
        let doc = answer.versioned("c1").expect("found");
        assert_eq!(
            doc.version,
            Version {
                seq_no: 7,
                primary_term: 1
            }
        );
        assert!(doc.source.status().is_configured());
        let missing: GetAnswer<ConnectorDoc> =
            serde_json::from_value(json!({"_id": "c1", "found": false})).expect("answer");
        assert!(missing.versioned("c1").is_none());
        // Without a version a write could not be guarded: treated as no document.
        let unversioned: GetAnswer<Value> =
            serde_json::from_value(json!({"_id": "c1", "_source": {}})).expect("answer");
        assert!(unversioned.versioned("c1").is_none());
    }

    #[test]
    fn unreadable_jobs_are_left_out_and_the_others_kept() {
        let jobs = read_jobs(vec![
            json!({"id": "a", "status": "pending", "job_type": "full"}),
            json!({"id": "b", "status": "pending", "indexed_document_count": "many"}),
            json!({"status": "pending"}),
            json!({"id": "c", "status": "suspended", "job_type": "partial"}),
        ]);
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(
            ids,
            ["a", "c"],
            "an unknown type is read, to be failed by name"
        );
    }

    #[test]
    fn draft_validation_edits_only_the_default_domain_and_keeps_unknown_fields() {
        let filtering = json!([
            {"domain": "OTHER", "draft": {"rules": []}},
            {"domain": "DEFAULT", "active": {"rules": []},
             "draft": {"rules": [{"id": "r"}], "advanced_snippet": {"updated_at": "t", "value": {}},
                       "validation": {"state": "edited", "errors": []}}},
        ]);
        let valid = json!({"state": "valid", "errors": []});
        let out = with_draft_validation(&filtering, valid.clone(), true).expect("a draft");
        let default = &out.as_array().expect("domains")[1];
        assert_eq!(
            default.get("draft").and_then(|d| d.get("validation")),
            Some(&valid)
        );
        assert_eq!(default.get("active"), default.get("draft"), "activated");
        assert_eq!(
            out.as_array().expect("domains")[0],
            filtering.as_array().expect("domains")[0]
        );
        let kept = with_draft_validation(&filtering, valid.clone(), false).expect("a draft");
        assert_eq!(
            kept.as_array().expect("domains")[1].get("active"),
            Some(&json!({"rules": []})),
            "an invalid draft is not activated"
        );
        assert!(with_draft_validation(&json!([{"domain": "OTHER"}]), valid, true).is_none());
    }
}
