//! A fake Elasticsearch for the Kibana-protocol tests: what Inlet (and Kibana) call, with
//! Elasticsearch's documented request and response shapes and semantics — the `_connector` and
//! `_connector/_sync_job` APIs, `.elastic-connectors*` documents with `_seq_no`/`_primary_term`
//! and a 409 on a stale `if_seq_no`, and enough of the document APIs (`_bulk` NDJSON,
//! `_delete_by_query`, `_refresh`, `_count`, index create/exists) for full syncs into it.
//! Test code only: it keeps everything in memory behind one lock.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};

const CONNECTORS: &str = ".elastic-connectors";
const JOBS: &str = ".elastic-connectors-sync-jobs";
const PRIMARY_TERM: u64 = 1;

#[derive(Clone, Debug)]
struct Doc {
    source: Value,
    seq_no: u64,
    version: u64,
}

#[derive(Default)]
struct State {
    indices: BTreeMap<String, BTreeMap<String, Doc>>,
    seq_no: u64,
    next_id: u64,
    /// Every `_claim`: (job id, worker_hostname).
    claims: Vec<(String, String)>,
    /// Every request: `METHOD /path`.
    log: Vec<String>,
    version: String,
}

/// A running fake cluster on 127.0.0.1.
#[derive(Clone)]
pub struct FakeEs {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

type Reply = (StatusCode, Value);

fn err(status: StatusCode, kind: &str, reason: &str) -> Reply {
    (
        status,
        json!({
            "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
            "status": status.as_u16(),
        }),
    )
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `.elastic-connectors-v1` and its alias are one index.
fn canonical(index: &str) -> String {
    index.trim_end_matches("-v1").to_owned()
}

fn concrete(index: &str) -> String {
    if index == CONNECTORS || index == JOBS {
        format!("{index}-v1")
    } else {
        index.to_owned()
    }
}

fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ES's partial update: objects merge recursively, everything else is replaced.
fn deep_merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn field<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    doc.get(path)
        .or_else(|| path.split('.').try_fold(doc, |v, p| v.get(p)))
}

/// Term equality as Elasticsearch sees it for keyword/boolean/number fields: `"true"` matches
/// `true`, `"5"` matches `5`.
fn same(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    a == b || text(a) == text(b)
}

/// The query DSL subset Inlet's stale deletion and tests use.
fn matches(id: &str, doc: &Value, q: &Value) -> bool {
    let Some((kind, body)) = q.as_object().and_then(|o| o.iter().next()) else {
        return true;
    };
    match kind.as_str() {
        "match_all" => true,
        "term" => body
            .as_object()
            .and_then(|o| o.iter().next())
            .is_some_and(|(f, v)| {
                let v = v.get("value").unwrap_or(v);
                field(doc, f).is_some_and(|d| {
                    same(d, v) || d.as_array().is_some_and(|a| a.iter().any(|x| same(x, v)))
                })
            }),
        "terms" => body
            .as_object()
            .and_then(|o| o.iter().next())
            .is_some_and(|(f, vs)| {
                let d = if f == "_id" {
                    Some(Value::String(id.into()))
                } else {
                    field(doc, f).cloned()
                };
                d.is_some_and(|d| vs.as_array().into_iter().flatten().any(|v| same(&d, v)))
            }),
        "ids" => body["values"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v.as_str() == Some(id)),
        "bool" => {
            let list = |k: &str| -> Vec<Value> {
                match &body[k] {
                    Value::Array(a) => a.clone(),
                    Value::Null => vec![],
                    other => vec![other.clone()],
                }
            };
            list("must")
                .iter()
                .chain(list("filter").iter())
                .all(|c| matches(id, doc, c))
                && !list("must_not").iter().any(|c| matches(id, doc, c))
                && {
                    let should = list("should");
                    should.is_empty() || should.iter().any(|c| matches(id, doc, c))
                }
        }
        _ => true,
    }
}

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

impl State {
    fn bump(&mut self) -> u64 {
        self.seq_no += 1;
        self.seq_no
    }

    fn index(&mut self, index: &str) -> &mut BTreeMap<String, Doc> {
        self.indices.entry(canonical(index)).or_default()
    }

    fn put(&mut self, index: &str, id: &str, source: Value) -> (bool, Doc) {
        let seq_no = self.bump();
        let docs = self.index(index);
        let version = docs.get(id).map_or(1, |d| d.version + 1);
        let created = !docs.contains_key(id);
        let doc = Doc {
            source,
            seq_no,
            version,
        };
        docs.insert(id.to_owned(), doc.clone());
        (created, doc)
    }

    fn get(&self, index: &str, id: &str) -> Option<&Doc> {
        self.indices.get(&canonical(index))?.get(id)
    }

    /// A partial update of a system document (the `_connector` APIs write this way).
    fn patch(&mut self, index: &str, id: &str, patch: Value) -> Result<Doc, Reply> {
        let Some(doc) = self.get(index, id).cloned() else {
            let what = if canonical(index) == JOBS {
                "connector sync job"
            } else {
                "connector"
            };
            return Err(err(
                StatusCode::NOT_FOUND,
                "resource_not_found_exception",
                &format!("{what} [{id}] not found"),
            ));
        };
        let mut source = doc.source;
        deep_merge(&mut source, &patch);
        Ok(self.put(index, id, source).1)
    }

    fn connector_doc(&self, id: &str) -> Option<Value> {
        self.get(CONNECTORS, id).map(|d| d.source.clone())
    }
}

impl FakeEs {
    /// Starts the server on the current tokio runtime.
    pub async fn start() -> FakeEs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            version: "8.15.0".into(),
            ..State::default()
        }));
        let fake = FakeEs { addr, state };
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connector document's `_source`.
    pub fn connector(&self, id: &str) -> Value {
        self.lock().connector_doc(id).unwrap_or(Value::Null)
    }

    /// A job with its `id`.
    pub fn job(&self, id: &str) -> Value {
        let s = self.lock();
        s.get(JOBS, id)
            .map(|d| with_id(&d.source, id))
            .unwrap_or(Value::Null)
    }

    /// Every job of a connector, oldest first.
    pub fn jobs(&self, connector_id: &str) -> Vec<Value> {
        let s = self.lock();
        let mut jobs: Vec<(u64, Value)> = s
            .indices
            .get(JOBS)
            .into_iter()
            .flatten()
            .filter(|(_, d)| d.source["connector"]["id"] == connector_id)
            .map(|(id, d)| (d.seq_no, with_id(&d.source, id)))
            .collect();
        jobs.sort_by(|a, b| {
            a.1["created_at"]
                .as_str()
                .cmp(&b.1["created_at"].as_str())
                .then(a.0.cmp(&b.0))
        });
        jobs.into_iter().map(|(_, j)| j).collect()
    }

    /// Every `_claim` so far: (job id, worker).
    pub fn claims(&self) -> Vec<(String, String)> {
        self.lock().claims.clone()
    }

    /// Documents in a (content) index.
    pub fn count(&self, index: &str) -> usize {
        self.lock().indices.get(index).map_or(0, BTreeMap::len)
    }

    /// Requests seen so far (`METHOD /path`).
    pub fn requests(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Overwrites a job's fields directly (a test standing in for a worker that vanished).
    pub fn patch_job(&self, id: &str, patch: Value) {
        let _ = self.lock().patch(JOBS, id, patch);
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        self.lock().log.push(format!("{method} {path}"));
        let (status, value) = self.route(&method, &path, &query, &body);
        let bytes = if method == "HEAD" {
            Bytes::new()
        } else {
            Bytes::from(value.to_string())
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-elastic-product", "Elasticsearch")
            .body(Full::new(bytes))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }

    fn route(
        &self,
        method: &str,
        path: &str,
        query: &BTreeMap<String, String>,
        body: &[u8],
    ) -> Reply {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let json_body = || -> Result<Value, Reply> {
            if body.is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_slice(body).map_err(|e| {
                err(
                    StatusCode::BAD_REQUEST,
                    "x_content_parse_exception",
                    &e.to_string(),
                )
            })
        };
        if segs.last() == Some(&"_bulk") && matches!(method, "POST" | "PUT") {
            let index = (segs.len() == 2).then(|| segs[0]);
            return bulk(
                &mut self.lock(),
                index,
                &String::from_utf8_lossy(body),
                query,
            );
        }
        let body = match json_body() {
            Ok(v) => v,
            Err(e) => return e,
        };
        let mut s = self.lock();
        match (method, segs.as_slice()) {
            ("GET", []) => (
                StatusCode::OK,
                json!({
                    "name": "fake-node", "cluster_name": "fake", "cluster_uuid": "fake-uuid",
                    "version": {"number": s.version, "build_flavor": "default", "build_type": "docker",
                                "lucene_version": "9.11.1", "minimum_wire_compatibility_version": "7.17.0",
                                "minimum_index_compatibility_version": "7.0.0"},
                    "tagline": "You Know, for Search",
                }),
            ),
            ("POST", ["_connector", "_sync_job"]) => create_job(&mut s, &body),
            ("GET", ["_connector", "_sync_job"]) => list_jobs(&s, query),
            ("GET", ["_connector", "_sync_job", id]) => match s.get(JOBS, id) {
                Some(d) => (StatusCode::OK, with_id(&d.source, id)),
                None => err(
                    StatusCode::NOT_FOUND,
                    "resource_not_found_exception",
                    &format!("connector sync job [{id}] not found"),
                ),
            },
            ("PUT", ["_connector", "_sync_job", id, action]) => {
                job_action(&mut s, id, action, &body)
            }
            ("PUT", ["_connector", id]) | ("POST", ["_connector", id]) if !id.starts_with('_') => {
                create_connector(&mut s, id, &body)
            }
            ("GET", ["_connector", id]) => match s.connector_doc(id) {
                Some(d) => (StatusCode::OK, with_id(&d, id)),
                None => err(
                    StatusCode::NOT_FOUND,
                    "resource_not_found_exception",
                    &format!("connector [{id}] not found"),
                ),
            },
            ("PUT", ["_connector", id, rest @ ..]) => connector_action(&mut s, id, rest, &body),
            ("GET", [index, "_doc", id]) => match s.get(index, id) {
                Some(d) => (
                    StatusCode::OK,
                    json!({
                        "_index": concrete(index), "_id": id, "_version": d.version, "_seq_no": d.seq_no,
                        "_primary_term": PRIMARY_TERM, "found": true, "_source": d.source,
                    }),
                ),
                None => (
                    StatusCode::NOT_FOUND,
                    json!({"_index": concrete(index), "_id": id, "found": false}),
                ),
            },
            ("POST", [index, "_update", id]) => update(&mut s, index, id, query, &body),
            ("POST", [index, "_delete_by_query"]) => delete_by_query(&mut s, index, &body),
            ("POST" | "GET", [index, "_refresh"]) => {
                if s.indices.contains_key(*index)
                    || query.get("ignore_unavailable").is_some_and(|v| v == "true")
                {
                    (
                        StatusCode::OK,
                        json!({"_shards": {"total": 2, "successful": 1, "failed": 0}}),
                    )
                } else {
                    not_found_index(index)
                }
            }
            ("GET" | "POST", [index, "_count"]) => match s.indices.get(*index) {
                Some(docs) => (
                    StatusCode::OK,
                    json!({"count": docs.len(), "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
                ),
                None if query.get("ignore_unavailable").is_some_and(|v| v == "true") => (
                    StatusCode::OK,
                    json!({"count": 0, "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0}}),
                ),
                None => not_found_index(index),
            },
            ("PUT" | "POST", [index, "_mapping"]) => {
                if s.indices.contains_key(*index) {
                    (StatusCode::OK, json!({"acknowledged": true}))
                } else {
                    not_found_index(index)
                }
            }
            ("HEAD", [index]) => {
                if s.indices.contains_key(*index) {
                    (StatusCode::OK, Value::Null)
                } else {
                    (StatusCode::NOT_FOUND, Value::Null)
                }
            }
            ("PUT", [index]) => {
                if s.indices.contains_key(*index) {
                    err(
                        StatusCode::BAD_REQUEST,
                        "resource_already_exists_exception",
                        &format!("index [{index}/fake] already exists"),
                    )
                } else {
                    s.indices.insert((*index).to_owned(), BTreeMap::new());
                    (
                        StatusCode::OK,
                        json!({"acknowledged": true, "shards_acknowledged": true, "index": index}),
                    )
                }
            }
            _ => err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("fake: no handler for [{method} {path}]"),
            ),
        }
    }
}

fn not_found_index(index: &str) -> Reply {
    err(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
    )
}

fn with_id(source: &Value, id: &str) -> Value {
    let mut v = source.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(id));
    }
    v
}

fn update(
    s: &mut State,
    index: &str,
    id: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Reply {
    let Some(current) = s.get(index, id).cloned() else {
        return err(
            StatusCode::NOT_FOUND,
            "document_missing_exception",
            &format!("[{id}]: document missing"),
        );
    };
    let want_seq = query.get("if_seq_no").and_then(|v| v.parse::<u64>().ok());
    let want_term = query
        .get("if_primary_term")
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(seq) = want_seq
        && (seq != current.seq_no || want_term.unwrap_or(PRIMARY_TERM) != PRIMARY_TERM)
    {
        return err(
            StatusCode::CONFLICT,
            "version_conflict_engine_exception",
            &format!(
                "[{id}]: version conflict, required seqNo [{seq}], primary term [{}]. current document has seqNo [{}] and primary term [{PRIMARY_TERM}]",
                want_term.unwrap_or(PRIMARY_TERM),
                current.seq_no
            ),
        );
    }
    let mut source = current.source.clone();
    deep_merge(&mut source, &body["doc"]);
    let shards = json!({"total": 2, "successful": 1, "failed": 0});
    if source == current.source {
        return (
            StatusCode::OK,
            json!({
                "_index": concrete(index), "_id": id, "_version": current.version, "result": "noop",
                "_shards": {"total": 0, "successful": 0, "failed": 0}, "_seq_no": current.seq_no, "_primary_term": PRIMARY_TERM,
            }),
        );
    }
    let (_, doc) = s.put(index, id, source);
    (
        StatusCode::OK,
        json!({
            "_index": concrete(index), "_id": id, "_version": doc.version, "result": "updated",
            "_shards": shards, "_seq_no": doc.seq_no, "_primary_term": PRIMARY_TERM,
        }),
    )
}

fn create_connector(s: &mut State, id: &str, body: &Value) -> Reply {
    if s.connector_doc(id).is_some() {
        // PUT on an existing connector updates the given fields, as Elasticsearch does.
        let _ = s.patch(CONNECTORS, id, body.clone());
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
        "service_type": body["service_type"], "status": "created", "sync_cursor": null, "deleted": false,
    });
    s.put(CONNECTORS, id, doc);
    (StatusCode::CREATED, json!({"result": "created", "id": id}))
}

fn connector_action(s: &mut State, id: &str, rest: &[&str], body: &Value) -> Reply {
    let Some(current) = s.connector_doc(id) else {
        return err(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            &format!("connector [{id}] not found"),
        );
    };
    let patch = match rest {
        ["_check_in"] => json!({"last_seen": now()}),
        ["_error"] => {
            let e = &body["error"];
            json!({"error": e, "status": if e.is_null() { "connected" } else { "error" }})
        }
        ["_status"] => json!({"status": body["status"]}),
        ["_index_name"] => json!({"index_name": body["index_name"]}),
        ["_pipeline"] => json!({"pipeline": body["pipeline"]}),
        ["_features"] => json!({"features": body["features"]}),
        ["_scheduling"] => json!({"scheduling": body["scheduling"]}),
        ["_last_sync"] => body.clone(),
        ["_configuration"] => {
            if let Some(values) = body["values"].as_object() {
                let mut conf = Map::new();
                for (k, v) in values {
                    if current["configuration"].get(k).is_none() {
                        return err(
                            StatusCode::BAD_REQUEST,
                            "illegal_argument_exception",
                            &format!("Unknown configuration field [{k}]"),
                        );
                    }
                    conf.insert(k.clone(), json!({"value": v}));
                }
                json!({"configuration": conf, "status": "configured"})
            } else {
                json!({"configuration": body["configuration"], "status": "configured"})
            }
        }
        ["_filtering"] => {
            // Kibana saves edits as the draft, marked `edited`.
            let mut filtering = current["filtering"].clone();
            let t = now();
            let mut draft = filtering[0]["draft"].clone();
            if let Some(rules) = body.get("rules") {
                draft["rules"] = rules.clone();
            }
            if let Some(adv) = body.get("advanced_sync_rules") {
                draft["advanced_snippet"] = json!({"created_at": t, "updated_at": t, "value": adv});
            }
            draft["validation"] = json!({"state": "edited", "errors": []});
            filtering[0]["draft"] = draft;
            return replace_filtering(s, id, filtering);
        }
        ["_filtering", "_validation"] => {
            let mut filtering = current["filtering"].clone();
            filtering[0]["draft"]["validation"] = body["validation"].clone();
            return replace_filtering(s, id, filtering);
        }
        ["_filtering", "_activate"] => {
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
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("fake: no connector action {rest:?}"),
            );
        }
    };
    match s.patch(CONNECTORS, id, patch) {
        Ok(_) => (StatusCode::OK, json!({"result": "updated"})),
        Err(e) => e,
    }
}

/// Arrays are replaced, not merged: write the whole `filtering` list.
fn replace_filtering(s: &mut State, id: &str, filtering: Value) -> Reply {
    let seq_no = s.bump();
    if let Some(doc) = s.indices.get_mut(CONNECTORS).and_then(|d| d.get_mut(id)) {
        doc.source["filtering"] = filtering;
        doc.seq_no = seq_no;
        doc.version += 1;
    }
    (StatusCode::OK, json!({"result": "updated"}))
}

fn create_job(s: &mut State, body: &Value) -> Reply {
    let Some(cid) = body["id"].as_str() else {
        return err(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: [id] of the connector cannot be null or empty;",
        );
    };
    let Some(c) = s.connector_doc(cid) else {
        return err(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            &format!("connector [{cid}] not found"),
        );
    };
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
            "service_type": c["service_type"], "sync_cursor": c["sync_cursor"],
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

fn list_jobs(s: &State, query: &BTreeMap<String, String>) -> Reply {
    let from: usize = query.get("from").and_then(|v| v.parse().ok()).unwrap_or(0);
    let size: usize = query
        .get("size")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let types: Option<Vec<&str>> = query.get("job_type").map(|t| t.split(',').collect());
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
    jobs.sort_by(|a, b| a.1["created_at"].as_str().cmp(&b.1["created_at"].as_str()));
    let count = jobs.len();
    let results: Vec<Value> = jobs
        .into_iter()
        .skip(from)
        .take(size)
        .map(|(_, j)| j)
        .collect();
    (StatusCode::OK, json!({"count": count, "results": results}))
}

fn job_action(s: &mut State, id: &str, action: &str, body: &Value) -> Reply {
    let Some(job) = s.get(JOBS, id).map(|d| d.source.clone()) else {
        return err(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            &format!("connector sync job [{id}] not found"),
        );
    };
    let t = now();
    let patch = match action {
        "_claim" => {
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
        "_check_in" => json!({"last_seen": t}),
        "_cancel" => match job["status"].as_str() {
            Some("pending" | "suspended") => {
                json!({"status": "canceled", "cancelation_requested_at": t, "canceled_at": t, "completed_at": t})
            }
            Some("in_progress") => json!({"status": "canceling", "cancelation_requested_at": t}),
            other => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "status_exception",
                    &format!(
                        "Connector sync job [{id}] can not be canceled in status [{}]",
                        other.unwrap_or("unknown")
                    ),
                );
            }
        },
        "_error" => json!({"status": "error", "error": body["error"]}),
        "_stats" => {
            let mut p = json!({
                "deleted_document_count": body["deleted_document_count"],
                "indexed_document_count": body["indexed_document_count"],
                "indexed_document_volume": body["indexed_document_volume"],
                "last_seen": body.get("last_seen").cloned().unwrap_or(json!(t)),
            });
            if let Some(total) = body.get("total_document_count") {
                p["total_document_count"] = total.clone();
            }
            p
        }
        other => {
            return err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("fake: no job action {other}"),
            );
        }
    };
    match s.patch(JOBS, id, patch) {
        Ok(_) => (StatusCode::OK, json!({"result": "updated"})),
        Err(e) => e,
    }
}

/// `_bulk`: NDJSON action/source pairs, Elasticsearch's answer shape (see
/// `shared/reference/es-bulk-responses/`), `filter_path` as Inlet's indexer asks for it.
fn bulk(
    s: &mut State,
    default_index: Option<&str>,
    body: &str,
    query: &BTreeMap<String, String>,
) -> Reply {
    let mut lines = body.lines().filter(|l| !l.trim().is_empty());
    let mut items = Vec::new();
    let mut errors = false;
    while let Some(line) = lines.next() {
        let Ok(action) = serde_json::from_str::<Value>(line) else {
            return err(
                StatusCode::BAD_REQUEST,
                "x_content_parse_exception",
                &format!("[1:1] Unexpected character in action line: {line}"),
            );
        };
        let Some((op, meta)) = action
            .as_object()
            .and_then(|o| o.iter().next())
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            return err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                "Malformed action/metadata line",
            );
        };
        let index = meta["_index"]
            .as_str()
            .or(default_index)
            .unwrap_or_default()
            .to_owned();
        let id = meta["_id"].as_str().map(str::to_owned).unwrap_or_else(|| {
            s.next_id += 1;
            format!("auto-{}", s.next_id)
        });
        let source = if op == "delete" {
            None
        } else {
            match lines.next().map(serde_json::from_str::<Value>) {
                Some(Ok(v)) => Some(v),
                _ => {
                    return err(
                        StatusCode::BAD_REQUEST,
                        "illegal_argument_exception",
                        "The bulk request must be terminated by a newline [\\n]",
                    );
                }
            }
        };
        let shards = json!({"total": 2, "successful": 1, "failed": 0});
        let item = match (op.as_str(), source) {
            ("index" | "create", Some(src)) => {
                if op == "create" && s.get(&index, &id).is_some() {
                    errors = true;
                    json!({"_index": index, "_id": id, "status": 409, "error": {"type": "version_conflict_engine_exception", "reason": format!("[{id}]: version conflict, document already exists (current version [1])"), "index": index}})
                } else {
                    let (created, doc) = s.put(&index, &id, src);
                    json!({"_index": index, "_id": id, "_version": doc.version, "result": if created { "created" } else { "updated" }, "_shards": shards, "_seq_no": doc.seq_no, "_primary_term": PRIMARY_TERM, "status": if created { 201 } else { 200 }})
                }
            }
            ("update", Some(src)) => match s.get(&index, &id).cloned() {
                Some(cur) => {
                    let mut merged = cur.source;
                    deep_merge(&mut merged, &src["doc"]);
                    let (_, doc) = s.put(&index, &id, merged);
                    json!({"_index": index, "_id": id, "_version": doc.version, "result": "updated", "_shards": shards, "_seq_no": doc.seq_no, "_primary_term": PRIMARY_TERM, "status": 200})
                }
                None if src["doc_as_upsert"] == true => {
                    let (_, doc) = s.put(&index, &id, src["doc"].clone());
                    json!({"_index": index, "_id": id, "_version": doc.version, "result": "created", "_shards": shards, "_seq_no": doc.seq_no, "_primary_term": PRIMARY_TERM, "status": 201})
                }
                None => {
                    errors = true;
                    json!({"_index": index, "_id": id, "status": 404, "error": {"type": "document_missing_exception", "reason": format!("[{id}]: document missing"), "index": index}})
                }
            },
            ("delete", None) => {
                let seq_no = s.bump();
                let existed = s.index(&index).remove(&id).is_some();
                json!({"_index": index, "_id": id, "_version": 1, "result": if existed { "deleted" } else { "not_found" }, "_shards": shards, "_seq_no": seq_no, "_primary_term": PRIMARY_TERM, "status": if existed { 200 } else { 404 }})
            }
            _ => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "illegal_argument_exception",
                    &format!(
                        "Malformed action/metadata line, expected one of [create, delete, index, update] but found [{op}]"
                    ),
                );
            }
        };
        let item = match query.get("filter_path") {
            // `errors,items.*._id,items.*.status,items.*.result,items.*.error`
            Some(_) => {
                let keep: Map<String, Value> = item
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| matches!(k.as_str(), "_id" | "status" | "result" | "error"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::Object(keep)
            }
            None => item,
        };
        items.push(json!({ op: item }));
    }
    match query.get("filter_path") {
        Some(_) => (StatusCode::OK, json!({"errors": errors, "items": items})),
        None => (
            StatusCode::OK,
            json!({"took": 1, "errors": errors, "items": items}),
        ),
    }
}

fn delete_by_query(s: &mut State, index: &str, body: &Value) -> Reply {
    let Some(docs) = s.indices.get_mut(index) else {
        return not_found_index(index);
    };
    let q = body
        .get("query")
        .cloned()
        .unwrap_or(json!({"match_all": {}}));
    let before = docs.len();
    docs.retain(|id, d| !matches(id, &d.source, &q));
    let deleted = before - docs.len();
    (
        StatusCode::OK,
        json!({
            "took": 1, "timed_out": false, "total": deleted, "deleted": deleted, "batches": 1,
            "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0},
            "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": [],
        }),
    )
}
