//! The calls Inlet makes to Elasticsearch, typed. Like Elastic's own service, it reads the
//! connector document from `.elastic-connectors` (it needs `_seq_no`/`_primary_term` for
//! optimistic concurrency, which `GET _connector/{id}` does not return) and writes it with
//! `_update` where Elastic does; everything else goes through the `_connector` API. Where the
//! cluster predates an endpoint ([`Cluster`]), the call is made the way Elastic's service made
//! it on that release: an `_update` of the system document.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{EsClient, EsError, query, segment};
use super::cluster::{Cluster, Licence};
use super::document::DEFAULT_DOMAIN;

pub const CONNECTORS_INDEX: &str = ".elastic-connectors";
pub const JOBS_INDEX: &str = ".elastic-connectors-sync-jobs";

/// A document with the version Elasticsearch gave it.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub id: String,
    pub seq_no: u64,
    pub primary_term: u64,
    pub source: Value,
}

/// Attempts of a read-modify-write of the connector document that loses a version race.
const CAS_ATTEMPTS: usize = 3;

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

    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.cluster = cluster;
        self
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn url(&self) -> &str {
        self.es.base_url()
    }

    /// `GET /`: the cluster's name and version.
    pub async fn info(&self) -> Result<Value, EsError> {
        self.es.send(Method::GET, "/", None).await
    }

    /// `GET /_license`.
    pub async fn licence(&self) -> Result<Licence, EsError> {
        let v = self.es.send(Method::GET, "/_license", None).await?;
        Ok(Licence::from_answer(&v))
    }

    /// `GET /.elastic-connectors/_doc/{id}`; `None` when there is no such connector.
    pub async fn connector(&self, id: &str) -> Result<Option<Versioned>, EsError> {
        let path = format!("/{CONNECTORS_INDEX}/_doc/{}", segment(id));
        match self.es.send(Method::GET, &path, None).await {
            Ok(v) => Ok(versioned(id, v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /.elastic-connectors/_update/{id}` with `{"doc": doc}` (a deep merge). With `cas`,
    /// only if the document is still at that version: a 409 means someone else changed it.
    pub async fn update_connector(
        &self,
        id: &str,
        doc: &Value,
        cas: Option<&Versioned>,
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
    pub async fn record_draft_validation(
        &self,
        id: &str,
        validation: &Value,
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
            let Some(doc) = self.connector(id).await? else {
                return Ok(());
            };
            let mut filtering = doc.source["filtering"].clone();
            let Some(domain) = filtering
                .as_array_mut()
                .and_then(|domains| domains.iter_mut().find(|d| d["domain"] == DEFAULT_DOMAIN))
            else {
                return Ok(());
            };
            domain["draft"]["validation"] = validation.clone();
            if activate {
                domain["active"] = domain["draft"].clone();
            }
            match self
                .update_connector(id, &json!({ "filtering": filtering }), Some(&doc))
                .await
            {
                Err(e) if e.is_conflict() => continue,
                other => return other,
            }
        }
        Ok(())
    }

    /// `GET /_connector/_sync_job?connector_id=…&status=…`: one status at a time (what every
    /// 8.x and 9.x accepts), of one connector or (`None`) of all, oldest first, each job with
    /// its `id`.
    pub async fn jobs(
        &self,
        connector_id: Option<&str>,
        status: &str,
    ) -> Result<Vec<Value>, EsError> {
        let mut out = Vec::new();
        let size = 100usize;
        loop {
            let from = out.len().to_string();
            let size_text = size.to_string();
            let mut pairs = vec![("status", status), ("from", &from), ("size", &size_text)];
            if let Some(c) = connector_id {
                pairs.insert(0, ("connector_id", c));
            }
            let q = query(&pairs);
            let v = self
                .es
                .send(Method::GET, &format!("/_connector/_sync_job?{q}"), None)
                .await?;
            let page = v["results"].as_array().cloned().unwrap_or_default();
            let n = page.len();
            out.extend(page);
            let total = v["count"].as_u64().unwrap_or(0) as usize;
            if n < size || out.len() >= total {
                break;
            }
        }
        // Oldest first, as Elastic's service picks them.
        out.sort_by(|a, b| {
            a["created_at"]
                .as_str()
                .unwrap_or("")
                .cmp(b["created_at"].as_str().unwrap_or(""))
        });
        Ok(out)
    }

    /// `GET /_connector/_sync_job/{id}`; `None` when it is gone.
    pub async fn job(&self, id: &str) -> Result<Option<Value>, EsError> {
        let path = format!("/_connector/_sync_job/{}", segment(id));
        match self.es.send(Method::GET, &path, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /_connector/_sync_job`: a `pending` job; returns its id.
    pub async fn create_job(
        &self,
        connector_id: &str,
        job_type: &str,
        trigger_method: &str,
    ) -> Result<String, EsError> {
        let body =
            json!({"id": connector_id, "job_type": job_type, "trigger_method": trigger_method});
        let v = self
            .es
            .send(Method::POST, "/_connector/_sync_job", Some(&body))
            .await?;
        Ok(v["id"].as_str().unwrap_or_default().to_owned())
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
            "status": "in_progress",
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
            .send(Method::GET, &format!("/{idx}/_count?{q}"), None)
            .await
        {
            Ok(v) => Ok(v["count"].as_u64()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn versioned(id: &str, v: Value) -> Option<Versioned> {
    if v["found"] == Value::Bool(false) {
        return None;
    }
    Some(Versioned {
        id: v["_id"].as_str().unwrap_or(id).to_owned(),
        seq_no: v["_seq_no"].as_u64()?,
        primary_term: v["_primary_term"].as_u64()?,
        source: v.get("_source").cloned().unwrap_or(Value::Null),
    })
}
