//! The document APIs the syncs and the protocol use: `GET`/`DELETE …/_doc/{id}`, `_update`
//! with `if_seq_no`/`if_primary_term` (409 on a stale version), `_bulk` (NDJSON in, Elasticsearch's
//! item answers out, see `shared/reference/es-bulk-responses/`), `_delete_by_query` with the
//! query subset Inlet uses, `_refresh`, `_count`, index create/exists.

use std::collections::BTreeMap;

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::{JOBS, PRIMARY_TERM, Reply, State, canonical, concrete, err};

/// ES's partial update: objects merge recursively, everything else is replaced.
pub(super) fn deep_merge(into: &mut Value, from: &Value) {
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

/// `_bulk`: NDJSON action/source pairs, Elasticsearch's answer shape (see
/// `shared/reference/es-bulk-responses/`), `filter_path` as Inlet's indexer asks for it.
pub(super) fn bulk(
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

pub(super) fn delete_by_query(s: &mut State, index: &str, body: &Value) -> Reply {
    let Some(docs) = s.indices.get_mut(&canonical(index)) else {
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

fn not_found_index(index: &str) -> Reply {
    err(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
    )
}

fn exists_index(s: &State, index: &str) -> bool {
    s.indices.contains_key(&canonical(index))
}

pub(super) fn get(s: &State, index: &str, id: &str) -> Reply {
    match s.get(index, id) {
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
    }
}

pub(super) fn delete(s: &mut State, index: &str, id: &str) -> Reply {
    let seq_no = s.bump();
    let existed = s.index(index).remove(id).is_some();
    (
        if existed {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        },
        json!({"_index": concrete(index), "_id": id, "_version": 1, "result": if existed { "deleted" } else { "not_found" },
               "_seq_no": seq_no, "_primary_term": PRIMARY_TERM}),
    )
}

/// `POST /{index}/_update/{id}` with `doc` (a deep merge); `if_seq_no`/`if_primary_term` make it
/// conditional. Status changes of sync jobs made this way are checked against the protocol's
/// state machine (Elasticsearch does not check them; Kibana and other workers rely on them).
pub(super) fn update(
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
    if canonical(index) == JOBS {
        let (from, to) = (current.source["status"].clone(), source["status"].clone());
        s.note_transition(id, &from, &to, "_update");
        if to == "in_progress" && from != "in_progress" {
            // Elastic's service claimed this way before 8.15.
            let worker = source["worker_hostname"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            s.claims.push((id.to_owned(), worker));
        }
    }
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
            "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": doc.seq_no, "_primary_term": PRIMARY_TERM,
        }),
    )
}

pub(super) fn refresh(s: &State, index: &str, query: &BTreeMap<String, String>) -> Reply {
    if exists_index(s, index) || query.get("ignore_unavailable").is_some_and(|v| v == "true") {
        (
            StatusCode::OK,
            json!({"_shards": {"total": 2, "successful": 1, "failed": 0}}),
        )
    } else {
        not_found_index(index)
    }
}

pub(super) fn count(s: &State, index: &str, query: &BTreeMap<String, String>) -> Reply {
    match s.indices.get(&canonical(index)) {
        Some(docs) => (
            StatusCode::OK,
            json!({"count": docs.len(), "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
        ),
        None if query.get("ignore_unavailable").is_some_and(|v| v == "true") => (
            StatusCode::OK,
            json!({"count": 0, "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0}}),
        ),
        None => not_found_index(index),
    }
}

pub(super) fn mapping(s: &State, index: &str) -> Reply {
    if exists_index(s, index) {
        (StatusCode::OK, json!({"acknowledged": true}))
    } else {
        not_found_index(index)
    }
}

pub(super) fn exists(s: &State, index: &str) -> Reply {
    if exists_index(s, index) {
        (StatusCode::OK, Value::Null)
    } else {
        (StatusCode::NOT_FOUND, Value::Null)
    }
}

pub(super) fn create_index(s: &mut State, index: &str) -> Reply {
    if exists_index(s, index) {
        err(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            &format!("index [{index}/fake] already exists"),
        )
    } else {
        s.indices.insert(index.to_owned(), BTreeMap::new());
        (
            StatusCode::OK,
            json!({"acknowledged": true, "shards_acknowledged": true, "index": index}),
        )
    }
}
