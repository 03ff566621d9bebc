//! The `_connector` and `_connector/_sync_job` endpoints, after routing and body parsing: what
//! each one changes, with Elasticsearch's semantics (8.15): the sync-job snapshot of
//! `POST _connector/_sync_job` (`ConnectorSyncJobIndexService.createConnectorSyncJob`), the
//! status checks of `_cancel` and `_error`, the `validate()` of each request.

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::declarations::{self, Endpoint, JOB_TYPES};
use super::documents::deep_merge;
use super::parse::{Refusal, one_of};
use super::{CONNECTORS, JOBS, Reply, State, err, not_found, now, refused, with_id};

fn default_filtering() -> Value {
    let t = now();
    let rules = json!({
        "advanced_snippet": {"created_at": t, "updated_at": t, "value": {}},
        "rules": [{"created_at": t, "field": "_", "id": "DEFAULT", "order": 0, "policy": "include", "rule": "regex", "updated_at": t, "value": ".*"}],
        "validation": {"errors": [], "state": "valid"},
    });
    json!([{"domain": "DEFAULT", "active": rules, "draft": rules}])
}

fn schedule_off(interval: &str) -> Value {
    json!({"enabled": false, "interval": interval})
}

fn updated() -> Reply {
    (StatusCode::OK, json!({"result": "updated"}))
}

fn connector_missing(id: &str) -> Reply {
    not_found(&format!("connector [{id}] not found"))
}

fn job_missing(id: &str) -> Reply {
    not_found(&format!("connector sync job [{id}] not found"))
}

pub(super) fn handle(
    s: &mut State,
    endpoint: Endpoint,
    params: &[String],
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Reply {
    let id = params.first().map(String::as_str).unwrap_or_default();
    match endpoint {
        Endpoint::ConnectorPut => put_connector(s, id, body),
        Endpoint::ConnectorGet => match s.connector_doc(id) {
            Some(d) => (StatusCode::OK, with_id(&d, id)),
            None => connector_missing(id),
        },
        Endpoint::ConnectorDelete => delete_connector(s, id, query),
        Endpoint::SyncJobPost => create_job(s, body),
        Endpoint::SyncJobList => list_jobs(s, query),
        Endpoint::SyncJobGet => match s.get(JOBS, id) {
            Some(d) => (StatusCode::OK, with_id(&d.source, id)),
            None => job_missing(id),
        },
        Endpoint::SyncJobCancel
        | Endpoint::SyncJobCheckIn
        | Endpoint::SyncJobError
        | Endpoint::SyncJobStats
        | Endpoint::SyncJobClaim => job_action(s, endpoint, id, body),
        other => connector_action(s, other, id, body),
    }
}

/// `PUT _connector/{id}`: creates the connector as Kibana's "new self-managed connector" does,
/// or updates the given fields of an existing one.
fn put_connector(s: &mut State, id: &str, body: &Value) -> Reply {
    if let Some(mut doc) = s.connector_doc(id) {
        deep_merge(&mut doc, body);
        s.put(CONNECTORS, id, doc);
        return (StatusCode::OK, json!({"result": "updated", "id": id}));
    }
    let doc = json!({
        "api_key_id": null, "api_key_secret_id": null,
        "configuration": {}, "custom_scheduling": {},
        "description": body["description"], "error": null, "features": null,
        "filtering": default_filtering(),
        "index_name": body["index_name"], "is_native": body["is_native"].as_bool().unwrap_or(false),
        "language": body["language"], "last_access_control_sync_error": null,
        "last_access_control_sync_scheduled_at": null, "last_access_control_sync_status": null,
        "last_deleted_document_count": null, "last_incremental_sync_scheduled_at": null,
        "last_indexed_document_count": null, "last_seen": null, "last_sync_error": null,
        "last_sync_scheduled_at": null, "last_sync_status": null, "last_synced": null,
        "name": body["name"],
        "pipeline": {"extract_binary_content": true, "name": "search-default-ingestion", "reduce_whitespace": true, "run_ml_inference": true},
        "scheduling": {"access_control": schedule_off("0 0 0 * * ?"), "full": schedule_off("0 0 0 * * ?"), "incremental": schedule_off("0 0 0 * * ?")},
        "service_type": body["service_type"], "status": "created", "sync_cursor": null,
    });
    s.put(CONNECTORS, id, doc);
    (StatusCode::CREATED, json!({"result": "created", "id": id}))
}

/// `DELETE _connector/{id}?delete_sync_jobs=…`: the jobs stay unless asked.
fn delete_connector(s: &mut State, id: &str, query: &BTreeMap<String, String>) -> Reply {
    if s.index(CONNECTORS).remove(id).is_none() {
        return connector_missing(id);
    }
    if query.get("delete_sync_jobs").is_some_and(|v| v == "true") {
        s.index(JOBS)
            .retain(|_, d| d.source["connector"]["id"] != id);
    }
    (StatusCode::OK, json!({"acknowledged": true}))
}

fn connector_action(s: &mut State, endpoint: Endpoint, id: &str, body: &Value) -> Reply {
    let Some(current) = s.connector_doc(id) else {
        return connector_missing(id);
    };
    let patch = match endpoint {
        Endpoint::ConnectorCheckIn => json!({"last_seen": now()}),
        Endpoint::ConnectorError => {
            let e = &body["error"];
            json!({"error": e, "status": if e.is_null() { "connected" } else { "error" }})
        }
        Endpoint::ConnectorIndexName => json!({"index_name": body["index_name"]}),
        Endpoint::ConnectorPipeline => json!({"pipeline": body["pipeline"]}),
        Endpoint::ConnectorFeatures => json!({"features": body["features"]}),
        Endpoint::ConnectorScheduling => json!({"scheduling": body["scheduling"]}),
        Endpoint::ConnectorConfiguration => match configuration_patch(&current, body) {
            Ok(p) => p,
            Err(e) => return e,
        },
        Endpoint::ConnectorFiltering => {
            // Kibana saves edits as the draft, marked `edited`.
            let mut filtering = current["filtering"].clone();
            if let Some(f) = body.get("filtering") {
                filtering = f.clone();
            } else {
                let t = now();
                let mut draft = filtering[0]["draft"].clone();
                if let Some(rules) = body.get("rules") {
                    draft["rules"] = rules.clone();
                }
                if let Some(adv) = body.get("advanced_sync_rules") {
                    draft["advanced_snippet"] =
                        json!({"created_at": t, "updated_at": t, "value": adv});
                }
                draft["validation"] = json!({"state": "edited", "errors": []});
                filtering[0]["draft"] = draft;
            }
            return replace_filtering(s, id, filtering);
        }
        Endpoint::ConnectorFilteringValidation => {
            let mut filtering = current["filtering"].clone();
            filtering[0]["draft"]["validation"] = body["validation"].clone();
            return replace_filtering(s, id, filtering);
        }
        Endpoint::ConnectorFilteringActivate => {
            let mut filtering = current["filtering"].clone();
            if filtering[0]["draft"]["validation"]["state"] != "valid" {
                return err(
                    StatusCode::BAD_REQUEST,
                    "illegal_argument_exception",
                    "Filtering draft needs to be validated by the connector service before activation. Current filtering draft validation state is not [valid]",
                );
            }
            filtering[0]["active"] = filtering[0]["draft"].clone();
            return replace_filtering(s, id, filtering);
        }
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("fake: {other:?} is not a connector action"),
            );
        }
    };
    let mut doc = current;
    deep_merge(&mut doc, &patch);
    s.put(CONNECTORS, id, doc);
    updated()
}

/// `PUT _connector/{id}/_configuration`: `values` for fields the form has, or a whole form; the
/// connector becomes `configured`.
fn configuration_patch(current: &Value, body: &Value) -> Result<Value, Reply> {
    let Some(values) = body["values"].as_object() else {
        return Ok(json!({"configuration": body["configuration"], "status": "configured"}));
    };
    let mut conf = Map::new();
    for (k, v) in values {
        if current["configuration"].get(k).is_none() {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!(
                    "Unknown [configuration] fields in the request payload: [{k}]. Remove them from request or register their configuration first."
                ),
            ));
        }
        conf.insert(k.clone(), json!({"value": v}));
    }
    Ok(json!({"configuration": conf, "status": "configured"}))
}

/// Arrays are replaced, not merged: write the whole `filtering` list.
fn replace_filtering(s: &mut State, id: &str, filtering: Value) -> Reply {
    if let Some(mut doc) = s.connector_doc(id) {
        doc["filtering"] = filtering;
        s.put(CONNECTORS, id, doc);
    }
    updated()
}

/// `POST _connector/_sync_job`: parses the stored connector document (`Connector.fromXContent`;
/// a field it refuses fails the request) and snapshots it into a `pending` job. The snapshot is
/// `id`, the active rules of the first filtering domain, `index_name` (the ACL index for access
/// control), `language`, `pipeline`, `service_type` and `configuration`; no `sync_cursor` until a
/// worker claims the job.
fn create_job(s: &mut State, body: &Value) -> Reply {
    let cid = body["id"].as_str().unwrap_or_default();
    if cid.is_empty() {
        return refused(Refusal::validation(&[
            "[id] of the connector cannot be null or empty.",
        ]));
    }
    let Some(c) = s.connector_doc(cid) else {
        return not_found(&format!("Connector with id '{cid}' does not exist."));
    };
    if let Err(r) = declarations::CONNECTOR_DOC.parse(&c, (99, 0)) {
        return refused(r);
    }
    let job_type = body["job_type"].as_str().unwrap_or("full").to_owned();
    let index = c["index_name"].as_str().unwrap_or_default();
    let index_name = if job_type == "access_control" {
        format!(".search-acl-filter-{index}")
    } else {
        index.to_owned()
    };
    let active = c["filtering"]
        .as_array()
        .and_then(|f| f.first())
        .map(|d| d["active"].clone())
        .unwrap_or(Value::Null);
    s.next_id += 1;
    let id = format!("job-{}", s.next_id);
    let t = now();
    let job = json!({
        "cancelation_requested_at": null, "canceled_at": null, "completed_at": null,
        "connector": {
            "configuration": c["configuration"], "filtering": active, "id": cid,
            "index_name": index_name, "language": c["language"], "pipeline": c["pipeline"],
            "service_type": c["service_type"],
        },
        "created_at": t, "deleted_document_count": 0, "error": null,
        "indexed_document_count": 0, "indexed_document_volume": 0,
        "job_type": job_type, "last_seen": t, "metadata": {}, "started_at": null,
        "status": "pending", "total_document_count": 0,
        "trigger_method": body["trigger_method"].as_str().unwrap_or("on_demand"),
        "worker_hostname": null,
    });
    s.put(JOBS, &id, job);
    (StatusCode::OK, json!({"id": id}))
}

/// `GET _connector/_sync_job`: `from`, `size`, `connector_id`, `status` (one
/// `ConnectorSyncStatus`), `job_type` (comma-separated), newest first.
fn list_jobs(s: &State, query: &BTreeMap<String, String>) -> Reply {
    let int = |k: &str, default: i64| -> Result<i64, Reply> {
        match query.get(k) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    "illegal_argument_exception",
                    &format!("Failed to parse int parameter [{k}] with value [{v}]"),
                )
            }),
        }
    };
    let (from, size) = match (int("from", 0), int("size", 100)) {
        (Ok(f), Ok(z)) => (f, z),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    if from < 0 || size < 0 {
        return refused(Refusal::validation(&[
            "[from] and [size] parameters cannot be negative",
        ]));
    }
    if let Some(st) = query.get("status")
        && let Err(r) = one_of(
            &json!(st),
            "ConnectorSyncStatus",
            declarations::SYNC_STATUSES,
        )
    {
        return refused(r);
    }
    let types: Option<Vec<&str>> = query.get("job_type").map(|t| t.split(',').collect());
    for t in types.iter().flatten() {
        if let Err(r) = one_of(&json!(t), "ConnectorSyncJobType", JOB_TYPES) {
            return refused(r);
        }
    }
    let mut jobs: Vec<(u64, Value)> = s
        .indices
        .get(JOBS)
        .into_iter()
        .flatten()
        .filter(|(_, d)| {
            query
                .get("connector_id")
                .is_none_or(|c| d.source["connector"]["id"] == c.as_str())
        })
        .filter(|(_, d)| {
            query
                .get("status")
                .is_none_or(|st| d.source["status"] == st.as_str())
        })
        .filter(|(_, d)| {
            types
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| d.source["job_type"] == *t))
        })
        .map(|(id, d)| (d.seq_no, with_id(&d.source, id)))
        .collect();
    // `created_at` descending, as `listConnectorSyncJobs` sorts.
    jobs.sort_by(|a, b| {
        b.1["created_at"]
            .as_str()
            .cmp(&a.1["created_at"].as_str())
            .then(b.0.cmp(&a.0))
    });
    let count = jobs.len();
    let results: Vec<Value> = jobs
        .into_iter()
        .skip(from as usize)
        .take(size as usize)
        .map(|(_, j)| j)
        .collect();
    (StatusCode::OK, json!({"count": count, "results": results}))
}

fn job_action(s: &mut State, endpoint: Endpoint, id: &str, body: &Value) -> Reply {
    let Some(job) = s.get(JOBS, id).map(|d| d.source.clone()) else {
        return job_missing(id);
    };
    let status = job["status"].as_str().unwrap_or("unknown").to_owned();
    let invalid = |to: &str| {
        err(
            StatusCode::BAD_REQUEST,
            "status_exception",
            &format!(
                "Invalid transition attempt from [{status}] to [{to}]. Such a status transition is not supported by the Connector Protocol."
            ),
        )
    };
    let t = now();
    let patch = match endpoint {
        Endpoint::SyncJobClaim => {
            // `_claim` does not check the status (ConnectorSyncJobIndexService.claimConnectorSyncJob).
            let worker = body["worker_hostname"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            s.claims.push((id.to_owned(), worker.clone()));
            let mut p = json!({"status": "in_progress", "started_at": t, "last_seen": t, "worker_hostname": worker});
            if let Some(c) = body.get("sync_cursor") {
                p["connector"] = json!({"sync_cursor": c});
            }
            p
        }
        Endpoint::SyncJobCheckIn => json!({"last_seen": t}),
        Endpoint::SyncJobCancel => match status.as_str() {
            "pending" | "suspended" => {
                json!({"status": "canceled", "cancelation_requested_at": t, "canceled_at": t, "completed_at": t})
            }
            _ if declarations::job_transition_allowed(&status, "canceling") => {
                json!({"status": "canceling", "cancelation_requested_at": t})
            }
            _ => return invalid("canceling"),
        },
        Endpoint::SyncJobError => {
            if body["error"].as_str().is_none_or(str::is_empty) {
                return refused(Refusal::validation(&[
                    "[error] cannot be [null] or [\"\"].",
                ]));
            }
            if !declarations::job_transition_allowed(&status, "error") {
                return invalid("error");
            }
            json!({"status": "error", "error": body["error"]})
        }
        Endpoint::SyncJobStats => {
            let negative: Vec<String> = [
                "deleted_document_count",
                "indexed_document_count",
                "indexed_document_volume",
                "total_document_count",
            ]
            .iter()
            .filter(|k| body[**k].as_i64().is_some_and(|n| n < 0))
            .map(|k| format!("[{k}] cannot be negative."))
            .collect();
            if !negative.is_empty() {
                let refs: Vec<&str> = negative.iter().map(String::as_str).collect();
                return refused(Refusal::validation(&refs));
            }
            let mut p = json!({
                "deleted_document_count": body["deleted_document_count"],
                "indexed_document_count": body["indexed_document_count"],
                "indexed_document_volume": body["indexed_document_volume"],
                "last_seen": body.get("last_seen").cloned().unwrap_or(json!(t)),
            });
            for k in ["total_document_count", "metadata"] {
                if let Some(v) = body.get(k) {
                    p[k] = v.clone();
                }
            }
            p
        }
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("fake: {other:?} is not a job action"),
            );
        }
    };
    let mut doc = job;
    let before = doc["status"].clone();
    deep_merge(&mut doc, &patch);
    let how = format!("{endpoint:?}");
    s.note_transition(id, &before, &doc["status"].clone(), &how);
    s.put(JOBS, id, doc);
    updated()
}
