//! A fake Elasticsearch for the Kibana-protocol tests, strict the way Elasticsearch is: every
//! request goes through the route table of its release ([`declarations::ROUTES`]: a path the
//! release lacks answers `400 no handler found`, a known path with another method `405`), every
//! body through the parser Elasticsearch declares for it ([`parse`]: required fields, object vs
//! null vs scalar, unknown fields), every sync-job status change through the protocol's state
//! machine, and `POST _connector/_sync_job` parses the stored connector document the way
//! Elasticsearch snapshots it into the job. What it refuses is recorded ([`FakeEs::refusals`]),
//! so a test fails when Inlet sends something a real cluster would refuse.
//!
//! Besides the `_connector` API it keeps `.elastic-connectors*` documents with
//! `_seq_no`/`_primary_term` (409 on a stale `if_seq_no`) and enough of the document APIs
//! (`_bulk` NDJSON, `_delete_by_query`, `_refresh`, `_count`, index create/exists) for syncs into
//! it. Test code only: everything is in memory behind one lock.

#![allow(dead_code)] // helpers for every area; not each is used by all of them

mod connector_api;
pub mod declarations;
mod documents;
pub mod parse;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use declarations::{Body, Endpoint, ROUTES, Release, Route};
use parse::Refusal;

const CONNECTORS: &str = ".elastic-connectors";
const JOBS: &str = ".elastic-connectors-sync-jobs";
const PRIMARY_TERM: u64 = 1;

#[derive(Clone, Debug)]
struct Doc {
    source: Value,
    seq_no: u64,
    version: u64,
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// The JSON body (`null` when empty; NDJSON bodies as a string).
    pub body: Value,
    pub status: u16,
}

struct State {
    indices: BTreeMap<String, BTreeMap<String, Doc>>,
    seq_no: u64,
    next_id: u64,
    /// Every `_claim` (or pre-8.15 claiming `_update`): (job id, worker_hostname).
    claims: Vec<(String, String)>,
    calls: Vec<Call>,
    /// Requests refused with 400/405: `METHOD /path -> status type: reason`.
    refusals: Vec<String>,
    /// Sync-job status changes the protocol's state machine does not allow, however made.
    violations: Vec<String>,
    version: String,
    serverless: bool,
    licence: String,
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

fn refused(r: Refusal) -> Reply {
    let mut reply = err(StatusCode::BAD_REQUEST, r.kind, &r.reason);
    if let Some(cause) = r.cause {
        reply.1["error"]["caused_by"] = json!({ "reason": cause });
    }
    reply
}

fn not_found(reason: &str) -> Reply {
    err(
        StatusCode::NOT_FOUND,
        "resource_not_found_exception",
        reason,
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

fn with_id(source: &Value, id: &str) -> Value {
    let mut v = source.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(id));
    }
    v
}

fn release_of(version: &str) -> Release {
    let mut parts = version
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

impl State {
    fn release(&self) -> Release {
        if self.serverless {
            (99, 0)
        } else {
            release_of(&self.version)
        }
    }

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

    fn connector_doc(&self, id: &str) -> Option<Value> {
        self.get(CONNECTORS, id).map(|d| d.source.clone())
    }

    /// Records a sync-job status change the protocol does not allow.
    fn note_transition(&mut self, job: &str, from: &Value, to: &Value, how: &str) {
        let (Some(from), Some(to)) = (from.as_str(), to.as_str()) else {
            return;
        };
        if from != to && !declarations::job_transition_allowed(from, to) {
            self.violations
                .push(format!("job {job}: {from} -> {to} by {how}"));
        }
    }
}

/// What the route table says about a request.
enum Resolved {
    Found(&'static Route, Vec<String>),
    /// The path exists with other methods: 405.
    WrongMethod(Vec<&'static str>),
    /// No handler: 400.
    Missing,
}

fn resolve(method: &str, segs: &[String], release: Release) -> Resolved {
    let mut found: Option<(&Route, Vec<String>, usize)> = None;
    let mut allowed = Vec::new();
    for r in ROUTES.iter().filter(|r| release >= r.since) {
        let pattern: Vec<&str> = r.path.split('/').filter(|s| !s.is_empty()).collect();
        if pattern.len() != segs.len() {
            continue;
        }
        let mut params = Vec::new();
        let matched = pattern.iter().zip(segs).all(|(p, s)| {
            if p.starts_with('{') {
                params.push(s.clone());
                true
            } else {
                p == s
            }
        });
        if !matched {
            continue;
        }
        // Elasticsearch's path trie prefers literal segments over `{placeholders}`.
        let wildcards = params.len();
        if r.method == method {
            if found.as_ref().is_none_or(|(_, _, w)| wildcards < *w) {
                found = Some((r, params, wildcards));
            }
        } else if !allowed.contains(&r.method) {
            allowed.push(r.method);
        }
    }
    match (found, allowed.is_empty()) {
        (Some((r, params, _)), _) => Resolved::Found(r, params),
        (None, false) => Resolved::WrongMethod(allowed),
        (None, true) => Resolved::Missing,
    }
}

/// Query parameters each endpoint consumes; Elasticsearch refuses any other ("request [...]
/// contains unrecognized parameter"). `filter_path`, `pretty`, `human` and `error_trace` are
/// accepted everywhere.
fn consumed_params(e: Endpoint) -> &'static [&'static str] {
    match e {
        Endpoint::SyncJobList => &["from", "size", "status", "connector_id", "job_type"],
        Endpoint::ConnectorDelete => &["delete_sync_jobs"],
        Endpoint::DocUpdate => &[
            "if_seq_no",
            "if_primary_term",
            "refresh",
            "retry_on_conflict",
            "routing",
            "timeout",
            "wait_for_active_shards",
            "require_alias",
        ],
        Endpoint::DocGet | Endpoint::DocDelete => &["refresh", "routing", "realtime", "_source"],
        Endpoint::Bulk | Endpoint::IndexBulk => &[
            "pipeline",
            "refresh",
            "routing",
            "timeout",
            "wait_for_active_shards",
            "require_alias",
        ],
        Endpoint::DeleteByQuery => &[
            "conflicts",
            "refresh",
            "slices",
            "wait_for_completion",
            "ignore_unavailable",
            "allow_no_indices",
            "expand_wildcards",
            "scroll_size",
        ],
        Endpoint::Refresh | Endpoint::Count => {
            &["ignore_unavailable", "allow_no_indices", "expand_wildcards"]
        }
        _ => &[],
    }
}

impl FakeEs {
    /// Starts Elasticsearch 8.15.3 (default flavor, basic licence) on the current tokio runtime.
    pub async fn start() -> FakeEs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            indices: BTreeMap::new(),
            seq_no: 0,
            next_id: 0,
            claims: Vec::new(),
            calls: Vec::new(),
            refusals: Vec::new(),
            violations: Vec::new(),
            version: "8.15.3".into(),
            serverless: false,
            licence: "basic".into(),
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

    /// The release `GET /` reports (and whose routes and parsers the fake applies).
    pub fn set_version(&self, version: &str) {
        self.lock().version = version.into();
    }

    /// Answers as Elasticsearch serverless: `build_flavor: serverless`, version 8.11.0, the
    /// current API.
    pub fn set_serverless(&self) {
        let mut s = self.lock();
        s.serverless = true;
        s.version = "8.11.0".into();
    }

    /// `license.type` of `GET /_license`.
    pub fn set_licence(&self, kind: &str) {
        self.lock().licence = kind.into();
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

    /// Every claim so far: (job id, worker).
    pub fn claims(&self) -> Vec<(String, String)> {
        self.lock().claims.clone()
    }

    /// Documents in a (content) index.
    pub fn count(&self, index: &str) -> usize {
        self.lock().indices.get(index).map_or(0, BTreeMap::len)
    }

    /// Requests seen so far (`METHOD /path`).
    pub fn requests(&self) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect()
    }

    /// Requests seen so far, with their bodies and answers.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Requests refused with 400 or 405 so far (a real cluster would have refused them too).
    pub fn refusals(&self) -> Vec<String> {
        self.lock().refusals.clone()
    }

    /// Sync-job status changes the protocol's state machine does not allow.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// Overwrites a job's fields directly (a test standing in for a worker that vanished).
    pub fn patch_job(&self, id: &str, patch: Value) {
        let mut s = self.lock();
        if let Some(doc) = s.get(JOBS, id).cloned() {
            let mut source = doc.source;
            documents::deep_merge(&mut source, &patch);
            s.put(JOBS, id, source);
        }
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let uri = req.uri().to_string();
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
        let (status, value) = self.route(&method, &path, &uri, &query, &body);
        {
            let mut s = self.lock();
            let shown = serde_json::from_slice(&body).unwrap_or_else(|_| {
                if body.is_empty() {
                    Value::Null
                } else {
                    Value::String(String::from_utf8_lossy(&body).into_owned())
                }
            });
            s.calls.push(Call {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                body: shown,
                status: status.as_u16(),
            });
            if matches!(status.as_u16(), 400 | 405) {
                let reason = value["error"]["reason"]
                    .as_str()
                    .or(value["error"].as_str())
                    .unwrap_or_default();
                s.refusals.push(format!(
                    "{method} {path} -> {} {}: {reason} {}",
                    status.as_u16(),
                    value["error"]["type"].as_str().unwrap_or_default(),
                    value["error"]["caused_by"]["reason"]
                        .as_str()
                        .unwrap_or_default(),
                ));
            }
        }
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
        uri: &str,
        query: &BTreeMap<String, String>,
        body: &[u8],
    ) -> Reply {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect();
        let release = self.lock().release();
        let (route, params) = match resolve(method, &segs, release) {
            Resolved::Found(r, p) => (r, p),
            Resolved::WrongMethod(allowed) => {
                return (
                    StatusCode::METHOD_NOT_ALLOWED,
                    json!({
                        "error": format!("Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{}]", allowed.join(", ")),
                        "status": 405,
                    }),
                );
            }
            Resolved::Missing => {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("no handler found for uri [{uri}] and method [{method}]")}),
                );
            }
        };
        let global = ["filter_path", "pretty", "human", "error_trace"];
        if let Some(p) = query.keys().find(|k| {
            !global.contains(&k.as_str()) && !consumed_params(route.endpoint).contains(&k.as_str())
        }) {
            return err(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("request [{path}] contains unrecognized parameter: [{p}]"),
            );
        }
        let json_body = match route.body {
            Body::None if !body.is_empty() => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "illegal_argument_exception",
                    &format!("request [{method} {path}] does not support having a body"),
                );
            }
            Body::None => Value::Null,
            Body::Required(_) if body.is_empty() => {
                return err(
                    StatusCode::BAD_REQUEST,
                    "parse_exception",
                    "request body is required",
                );
            }
            Body::Required(parser) => {
                let v: Value = match serde_json::from_slice(body) {
                    Ok(v) => v,
                    Err(e) => {
                        return err(
                            StatusCode::BAD_REQUEST,
                            "x_content_parse_exception",
                            &e.to_string(),
                        );
                    }
                };
                if let Err(r) = parser.parse(&v, release) {
                    return refused(r);
                }
                v
            }
            Body::Free => match route.endpoint {
                Endpoint::Bulk | Endpoint::IndexBulk => Value::Null,
                _ if body.is_empty() => Value::Null,
                _ => match serde_json::from_slice(body) {
                    Ok(v) => v,
                    Err(e) => {
                        return err(
                            StatusCode::BAD_REQUEST,
                            "x_content_parse_exception",
                            &e.to_string(),
                        );
                    }
                },
            },
        };
        let mut s = self.lock();
        let p = |i: usize| params.get(i).map(String::as_str).unwrap_or_default();
        match route.endpoint {
            Endpoint::Info => info(&s),
            Endpoint::Licence => licence(&s),
            Endpoint::Bulk => documents::bulk(&mut s, None, &String::from_utf8_lossy(body), query),
            Endpoint::IndexBulk => {
                documents::bulk(&mut s, Some(p(0)), &String::from_utf8_lossy(body), query)
            }
            Endpoint::DocGet => documents::get(&s, p(0), p(1)),
            Endpoint::DocDelete => documents::delete(&mut s, p(0), p(1)),
            Endpoint::DocUpdate => documents::update(&mut s, p(0), p(1), query, &json_body),
            Endpoint::DeleteByQuery => documents::delete_by_query(&mut s, p(0), &json_body),
            Endpoint::Refresh => documents::refresh(&s, p(0), query),
            Endpoint::Count => documents::count(&s, p(0), query),
            Endpoint::Mapping => documents::mapping(&s, p(0)),
            Endpoint::IndexExists => documents::exists(&s, p(0)),
            Endpoint::IndexCreate => documents::create_index(&mut s, p(0)),
            e => connector_api::handle(&mut s, e, &params, query, &json_body),
        }
    }
}

fn info(s: &State) -> Reply {
    let flavor = if s.serverless {
        "serverless"
    } else {
        "default"
    };
    (
        StatusCode::OK,
        json!({
            "name": "fake-node", "cluster_name": "fake", "cluster_uuid": "fake-uuid",
            "version": {"number": s.version, "build_flavor": flavor, "build_type": "docker",
                        "lucene_version": "9.11.1", "minimum_wire_compatibility_version": "7.17.0",
                        "minimum_index_compatibility_version": "7.0.0"},
            "tagline": "You Know, for Search",
        }),
    )
}

fn licence(s: &State) -> Reply {
    (
        StatusCode::OK,
        json!({"license": {
            "status": "active", "uid": "fake-licence", "type": s.licence,
            "issue_date": "2024-01-01T00:00:00.000Z", "issue_date_in_millis": 1704067200000_i64,
            "max_nodes": 1000, "max_resource_units": null, "issued_to": "fake",
            "issuer": "elasticsearch", "start_date_in_millis": -1,
        }}),
    )
}
