//! A fake cluster: a document store behind the real `_bulk` wire format, with injectable faults. It records
//! every id it saw and its final verdict on each, so tests can check exactly what was lost (nothing) and what
//! was dead-lettered (exactly what the server refused for good).
//!
//! Response shapes follow `shared/reference/es-bulk-responses/`: full items, or the fields our `filter_path`
//! keeps when the request carries one; whole-request errors as `{"error": {...}, "status": N}`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{HttpReply, HttpRequest, serve};

/// Faults to inject into `_bulk` requests (counted from 1, per server).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The first N bulk requests answer a whole-request 429 (indexing pressure), like example 06.
    pub request_429_first: usize,
    /// Every Nth bulk request answers 503 (0: never).
    pub request_503_every: usize,
    /// Every Nth bulk request is processed, then the connection is reset halfway through the answer.
    pub reset_every: usize,
    /// Every Nth bulk request is processed but its answer misses the last item.
    pub mismatch_every: usize,
    /// Bodies above this many (uncompressed) bytes answer 413 (0: no limit).
    pub max_body_bytes: usize,
    /// The first N bulk requests are answered after `slow_delay`.
    pub slow_first: usize,
    pub slow_delay: Duration,
    /// Items whose id hashes below this percentage get a per-item 429 on their first `item_429_attempts` tries.
    pub item_429_percent: u8,
    pub item_429_attempts: u32,
    /// Ids that always get a per-item 503.
    pub item_503_ids: HashSet<String>,
    /// Documents with this top-level field get a per-item 400 `document_parsing_exception`.
    pub poison_field: Option<String>,
    /// Ids that get a per-item 409.
    pub conflict_ids: HashSet<String>,
    /// `Authorization` required on every request (401 otherwise), unless `index_auth` names the index.
    pub required_auth: Option<String>,
    /// Per-index `Authorization` required for requests to that index.
    pub index_auth: HashMap<String, String>,
    /// Answer `GET /` as OpenSearch 2.19.1 instead of Elasticsearch 8.15.0.
    pub opensearch: bool,
}

/// The server's last word on an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Indexed, deleted, or deleted-not-found.
    Done,
    /// Refused with this status (0: the request failed before items were judged, e.g. a reset).
    Refused(u16),
}

#[derive(Clone, Debug)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub content_encoding: Option<String>,
    /// The body's length as sent (compressed, when `content_encoding` says so).
    pub body_bytes: usize,
}

#[derive(Default)]
struct State {
    faults: Faults,
    bulk_requests: usize,
    attempts: HashMap<(String, String), u32>,
    verdicts: HashMap<(String, String), Verdict>,
    docs: HashMap<String, BTreeMap<String, String>>,
    created: HashMap<String, Value>,
    log: Vec<LoggedRequest>,
    dbq: Vec<(String, Value)>,
}

/// A running fake cluster; cheap to clone.
#[derive(Clone)]
pub struct FakeCluster {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeCluster {
    pub async fn start(faults: Faults) -> std::io::Result<FakeCluster> {
        let state = Arc::new(Mutex::new(State {
            faults,
            ..State::default()
        }));
        let s = state.clone();
        let addr = serve("127.0.0.1:0", move |req| handle(&s, req)).await?;
        Ok(FakeCluster { addr, state })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change faults between phases of a test.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Put documents in place, as if an earlier run had indexed them.
    pub fn seed(&self, index: &str, docs: impl IntoIterator<Item = (String, String)>) {
        self.lock()
            .docs
            .entry(index.to_owned())
            .or_default()
            .extend(docs);
    }

    pub fn docs(&self, index: &str) -> BTreeMap<String, String> {
        self.lock().docs.get(index).cloned().unwrap_or_default()
    }

    pub fn bulk_requests(&self) -> usize {
        self.lock().bulk_requests
    }

    /// Ids of `index` the server received in at least one bulk request.
    pub fn seen_ids(&self, index: &str) -> HashSet<String> {
        self.lock()
            .attempts
            .keys()
            .filter(|(i, _)| i == index)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// How often each id of `index` reached the server.
    pub fn attempts(&self, index: &str, id: &str) -> u32 {
        self.lock()
            .attempts
            .get(&(index.to_owned(), id.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Ids whose last verdict was a refusal: exactly what the client must have dead-lettered.
    pub fn refused_ids(&self, index: &str) -> HashSet<String> {
        self.lock()
            .verdicts
            .iter()
            .filter(|((i, _), v)| i == index && matches!(v, Verdict::Refused(_)))
            .map(|((_, id), _)| id.clone())
            .collect()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().log.clone()
    }

    /// `(index, body)` of every `_delete_by_query` received.
    pub fn delete_by_query_calls(&self) -> Vec<(String, Value)> {
        self.lock().dbq.clone()
    }

    /// The body of the `PUT /<index>` that created it.
    pub fn creation_body(&self, index: &str) -> Option<Value> {
        self.lock().created.get(index).cloned()
    }
}

fn error_body(status: u16, kind: &str, reason: &str) -> Vec<u8> {
    json!({"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason}, "status": status})
        .to_string()
        .into_bytes()
}

fn handle(state: &Mutex<State>, req: HttpRequest) -> HttpReply {
    let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
    st.log.push(LoggedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        authorization: req.header("authorization").map(str::to_owned),
        content_encoding: req.header("content-encoding").map(str::to_owned),
        body_bytes: req.body.len(),
    });
    let segments: Vec<&str> = req
        .path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let index = segments.first().copied().unwrap_or_default().to_owned();
    let required = st
        .faults
        .index_auth
        .get(&index)
        .or(st.faults.required_auth.as_ref())
        .cloned();
    if let Some(required) = required
        && req.header("authorization") != Some(required.as_str())
    {
        return HttpReply::json(
            401,
            error_body(401, "security_exception", "unable to authenticate user"),
        );
    }
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", []) => HttpReply::json(200, root(st.faults.opensearch)),
        ("HEAD", [_]) => HttpReply::json(
            if st.docs.contains_key(&index) {
                200
            } else {
                404
            },
            "",
        ),
        ("PUT", [_]) => {
            if st.docs.contains_key(&index) {
                return HttpReply::json(
                    400,
                    error_body(
                        400,
                        "resource_already_exists_exception",
                        "index already exists",
                    ),
                );
            }
            st.docs.insert(index.clone(), BTreeMap::new());
            st.created.insert(
                index.clone(),
                serde_json::from_slice(&req.body).unwrap_or(Value::Null),
            );
            HttpReply::json(
                200,
                json!({"acknowledged": true, "shards_acknowledged": true, "index": index})
                    .to_string(),
            )
        }
        ("PUT", [_, "_mapping"]) | ("POST", [_, "_refresh"]) => {
            HttpReply::json(200, r#"{"acknowledged":true}"#)
        }
        ("POST", [_, "_delete_by_query"]) => delete_by_query(&mut st, &index, &req),
        ("POST" | "PUT", [_, "_bulk"]) => bulk(&mut st, &index, &req),
        _ => HttpReply::json(404, error_body(404, "not_found", "no handler")),
    }
}

fn root(opensearch: bool) -> String {
    if opensearch {
        json!({"name": "node-1", "cluster_name": "fake", "version": {"distribution": "opensearch", "number": "2.19.1"},
               "tagline": "The OpenSearch Project: https://opensearch.org/"})
    } else {
        json!({"name": "node-1", "cluster_name": "fake", "version": {"number": "8.15.0", "build_flavor": "default"},
               "tagline": "You Know, for Search"})
    }
    .to_string()
}

struct Parsed {
    op: String,
    id: String,
    doc: Option<String>,
}

fn parse_ndjson(body: &[u8]) -> Result<Vec<Parsed>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut lines = text.split('\n').enumerate().filter(|(_, l)| !l.is_empty());
    let mut out = Vec::new();
    while let Some((n, line)) = lines.next() {
        let meta: Value = serde_json::from_str(line)
            .map_err(|e| format!("Malformed action/metadata line [{}]: {e}", n + 1))?;
        let obj = meta
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or(format!("Malformed action/metadata line [{}]", n + 1))?;
        let (op, inner) = obj.iter().next().ok_or("empty action")?;
        let id = inner
            .get("_id")
            .and_then(Value::as_str)
            .ok_or("missing _id")?
            .to_owned();
        let doc = if op == "delete" {
            None
        } else {
            let (_, doc) = lines.next().ok_or("missing document line")?;
            serde_json::from_str::<Value>(doc)
                .map_err(|e| format!("document of {id} is not JSON: {e}"))?;
            Some(doc.to_owned())
        };
        out.push(Parsed {
            op: op.clone(),
            id,
            doc,
        });
    }
    Ok(out)
}

fn pct(id: &str) -> u8 {
    // FNV-1a: stable across runs, so which ids are throttled is reproducible.
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % 100) as u8
}

fn bulk(st: &mut State, index: &str, req: &HttpRequest) -> HttpReply {
    st.bulk_requests += 1;
    let n = st.bulk_requests;
    let actions = match parse_ndjson(&req.body) {
        Ok(a) => a,
        Err(reason) => {
            return HttpReply::json(400, error_body(400, "illegal_argument_exception", &reason));
        }
    };
    for a in &actions {
        *st.attempts
            .entry((index.to_owned(), a.id.clone()))
            .or_default() += 1;
    }
    let f = st.faults.clone();
    let delay = if n <= f.slow_first {
        f.slow_delay
    } else {
        Duration::ZERO
    };
    let refuse_all = |st: &mut State, status: u16| {
        for a in &actions {
            st.verdicts
                .insert((index.to_owned(), a.id.clone()), Verdict::Refused(status));
        }
    };
    if f.max_body_bytes > 0 && req.body.len() > f.max_body_bytes {
        refuse_all(st, 413);
        return HttpReply::Respond {
            status: 413,
            body: Vec::new(),
            delay,
        };
    }
    if n <= f.request_429_first {
        refuse_all(st, 429);
        let reason = "rejected execution of coordinating operation [coordinating_and_primary_bytes=XXXXX, replica_bytes=XXXXX, all_bytes=XXXXX, coordinating_operation_bytes=XXXXX, max_coordinating_and_primary_bytes=XXXXX]";
        return HttpReply::Respond {
            status: 429,
            body: error_body(429, "es_rejected_execution_exception", reason),
            delay,
        };
    }
    if f.request_503_every > 0 && n.is_multiple_of(f.request_503_every) {
        refuse_all(st, 503);
        let body = error_body(
            503,
            "unavailable_shards_exception",
            "[idx][0] primary shard is not active",
        );
        return HttpReply::Respond {
            status: 503,
            body,
            delay,
        };
    }
    let filtered = req.query_param("filter_path").is_some();
    let mut items = Vec::with_capacity(actions.len());
    let mut errors = false;
    for a in actions {
        let key = (index.to_owned(), a.id.clone());
        let attempt = st.attempts.get(&key).copied().unwrap_or(1);
        let docs = st.docs.entry(index.to_owned()).or_default();
        let poisoned = match (&f.poison_field, &a.doc) {
            (Some(field), Some(doc)) => serde_json::from_str::<Value>(doc)
                .ok()
                .and_then(|v| v.get(field).cloned())
                .is_some(),
            _ => false,
        };
        let (status, result, error): (u16, Option<&str>, Option<Value>) = if poisoned {
            let reason =
                "[1:20] failed to parse field [poison] of type [long] in document with id 'x'";
            (
                400,
                None,
                Some(
                    json!({"type": "document_parsing_exception", "reason": reason,
                "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"true\""}}),
                ),
            )
        } else if f.conflict_ids.contains(&a.id) {
            (
                409,
                None,
                Some(
                    json!({"type": "version_conflict_engine_exception", "reason": format!("[{}]: version conflict, document already exists (current version [1])", a.id)}),
                ),
            )
        } else if f.item_503_ids.contains(&a.id) {
            (
                503,
                None,
                Some(
                    json!({"type": "unavailable_shards_exception", "reason": "primary shard is not active"}),
                ),
            )
        } else if pct(&a.id) < f.item_429_percent && attempt <= f.item_429_attempts {
            (
                429,
                None,
                Some(
                    json!({"type": "es_rejected_execution_exception", "reason": "rejected execution of TransportWriteAction on EsThreadPoolExecutor[name = node-1/write, queue capacity = 10000]"}),
                ),
            )
        } else if a.op == "delete" {
            if docs.remove(&a.id).is_some() {
                (200, Some("deleted"), None)
            } else {
                (404, Some("not_found"), None)
            }
        } else {
            let doc = a.doc.clone().unwrap_or_default();
            if docs.insert(a.id.clone(), doc).is_some() {
                (200, Some("updated"), None)
            } else {
                (201, Some("created"), None)
            }
        };
        let ok = error.is_none();
        errors |= !ok;
        st.verdicts.insert(
            key,
            if ok {
                Verdict::Done
            } else {
                Verdict::Refused(status)
            },
        );
        let mut item = serde_json::Map::new();
        if !filtered {
            item.insert("_index".into(), json!(index));
        }
        item.insert("_id".into(), json!(a.id));
        if let Some(r) = result {
            item.insert("result".into(), json!(r));
            if !filtered {
                item.insert("_version".into(), json!(1));
                item.insert(
                    "_shards".into(),
                    json!({"total": 2, "successful": 1, "failed": 0}),
                );
                item.insert("_seq_no".into(), json!(0));
                item.insert("_primary_term".into(), json!(1));
            }
        }
        item.insert("status".into(), json!(status));
        if let Some(e) = error {
            item.insert("error".into(), e);
        }
        items.push(json!({ a.op.clone(): item }));
    }
    if f.reset_every > 0 && n.is_multiple_of(f.reset_every) {
        // The cluster did the work; the client never hears about it and must resend.
        for item in &items {
            if let Some(id) = item
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(|i| i.get("_id"))
                .and_then(Value::as_str)
            {
                st.verdicts
                    .insert((index.to_owned(), id.to_owned()), Verdict::Refused(0));
            }
        }
        return HttpReply::ResetMidResponse;
    }
    if f.mismatch_every > 0 && n.is_multiple_of(f.mismatch_every) && !items.is_empty() {
        items.pop();
    }
    let body = if filtered {
        json!({"errors": errors, "items": items})
    } else {
        json!({"took": 3, "errors": errors, "items": items})
    };
    HttpReply::Respond {
        status: 200,
        body: body.to_string().into_bytes(),
        delay,
    }
}

fn delete_by_query(st: &mut State, index: &str, req: &HttpRequest) -> HttpReply {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    st.dbq.push((index.to_owned(), body.clone()));
    let must_not = body
        .pointer("/query/bool/must_not")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut keep_term: Option<(String, String)> = None;
    let mut keep_ids: HashSet<String> = HashSet::new();
    for clause in &must_not {
        if let Some(term) = clause.get("term").and_then(Value::as_object)
            && let Some((field, value)) = term.iter().next()
        {
            let value = value.get("value").unwrap_or(value);
            keep_term = Some((field.clone(), value.as_str().unwrap_or_default().to_owned()));
        }
        if let Some(ids) = clause.pointer("/ids/values").and_then(Value::as_array) {
            keep_ids.extend(ids.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    let Some((field, value)) = keep_term else {
        return HttpReply::json(
            400,
            error_body(400, "parsing_exception", "expected must_not term"),
        );
    };
    let docs = st.docs.entry(index.to_owned()).or_default();
    let stale: Vec<String> = docs
        .iter()
        .filter(|(id, doc)| {
            let stamp = serde_json::from_str::<Value>(doc)
                .ok()
                .and_then(|d| d.get(&field).and_then(Value::as_str).map(str::to_owned));
            stamp.as_deref() != Some(value.as_str()) && !keep_ids.contains(*id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    for id in &stale {
        docs.remove(id);
    }
    let n = stale.len();
    HttpReply::json(
        200,
        json!({"took": 5, "timed_out": false, "total": n, "deleted": n, "batches": 1, "version_conflicts": 0, "noops": 0,
               "retries": {"bulk": 0, "search": 0}, "failures": []})
        .to_string(),
    )
}
