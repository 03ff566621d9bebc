//! The null `_bulk` server: answers every bulk request with a correct all-success response (one item per
//! action, in order, shaped as Elasticsearch shapes it under our `filter_path`), as fast as it can. It is the
//! ceiling for throughput benchmarks: the client's cost, not the cluster's.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

use super::http::{HttpReply, HttpRequest, serve};

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum ActionLine<'a> {
    Index(#[serde(borrow)] Meta<'a>),
    Create(#[serde(borrow)] Meta<'a>),
    Update(#[serde(borrow)] Meta<'a>),
    Delete(#[serde(borrow)] Meta<'a>),
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(default, borrow, rename = "_id")]
    id: Option<Cow<'a, str>>,
}

/// Counters of what the null server acknowledged.
#[derive(Default, Debug)]
pub struct NullStats {
    pub requests: AtomicU64,
    pub actions: AtomicU64,
    pub bytes: AtomicU64,
}

/// Starts the null server on `addr` (e.g. `127.0.0.1:0`).
pub async fn start(addr: &str) -> std::io::Result<(SocketAddr, Arc<NullStats>)> {
    let stats = Arc::new(NullStats::default());
    let s = stats.clone();
    let addr = serve(addr, move |req| handle(&s, req)).await?;
    Ok((addr, stats))
}

fn handle(stats: &NullStats, req: HttpRequest) -> HttpReply {
    if req.method == "GET" && req.path == "/" {
        return HttpReply::json(
            200,
            r#"{"name":"null","cluster_name":"null-bulk","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}"#,
        );
    }
    if !req.path.ends_with("/_bulk") {
        return HttpReply::json(200, r#"{"acknowledged":true}"#);
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats
        .bytes
        .fetch_add(req.wire_len as u64, Ordering::Relaxed);
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(br#"{"errors":false,"items":["#);
    let mut lines = req.body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let mut n = 0u64;
    while let Some(line) = lines.next() {
        let Ok(action) = serde_json::from_slice::<ActionLine>(line) else {
            return HttpReply::json(
                400,
                r#"{"error":{"type":"illegal_argument_exception","reason":"Malformed action/metadata line"},"status":400}"#,
            );
        };
        let (op, meta, has_doc, item) = match &action {
            ActionLine::Index(m) => ("index", m, true, r#""result":"created","status":201"#),
            ActionLine::Create(m) => ("create", m, true, r#""result":"created","status":201"#),
            ActionLine::Update(m) => ("update", m, true, r#""result":"updated","status":200"#),
            ActionLine::Delete(m) => ("delete", m, false, r#""result":"deleted","status":200"#),
        };
        if has_doc {
            lines.next();
        }
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(op.as_bytes());
        out.extend_from_slice(b"\":{");
        if let Some(id) = &meta.id {
            out.extend_from_slice(b"\"_id\":");
            let _ = serde_json::to_writer(&mut out, id);
            out.push(b',');
        }
        out.extend_from_slice(item.as_bytes());
        out.extend_from_slice(b"}}");
        n += 1;
    }
    out.extend_from_slice(b"]}");
    stats.actions.fetch_add(n, Ordering::Relaxed);
    HttpReply::json(200, out)
}
