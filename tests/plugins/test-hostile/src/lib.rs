//! Tries to make the host hold, open or wait for more than its budget allows. The
//! configuration field `attack` (JSON) picks one; the plugin emits one document saying how far
//! it got, or fails the way the host makes it fail. Attacks:
//! - `{"op": "fields", "count", "bytes", "keep"}`: `count` header maps of one `bytes`-long
//!   header, kept alive (`keep: true`) or dropped one by one;
//! - `{"op": "handles", "count"}`: `count` empty header maps, all kept;
//! - `{"op": "requests", "url", "count"}`: `count` requests sent without waiting for answers;
//! - `{"op": "sequential", "url", "count", "bytes"}`: `count` requests one after the other, each
//!   with a `bytes`-long header, each answer read before the next (what a well-behaved
//!   connector does; it must not accumulate charges);
//! - `{"op": "open", "path", "count"}`: opens one file `count` times and keeps every handle;
//! - `{"op": "read", "path"}`: reads a path (a FIFO, a socket, a device...);
//! - `{"op": "listings", "path", "count"}`: lists a directory `count` times, keeping each
//!   listing open;
//! - `{"op": "wait"}`: blocks in the host (a timer that never fires) until the host ends the
//!   call;
//! - `{"op": "batch", "count", "bytes"}`: one batch of `count` valid documents of `bytes` bytes
//!   each through `sync.next-batch`, which the host lifts into its own memory.

use inlet_sdk::{
    ConfigField, Connector, DocStream, Document, ErrorKind, Metadata, Result, SyncRequest, error,
    field,
};
use serde_json::{Value, json};
use wasip2::http::types::{Fields, OutgoingRequest, Scheme};

struct Hostile;

impl Connector for Hostile {
    fn metadata() -> Metadata {
        Metadata::new("hostile", "Host-budget attacker", "0.0.0")
    }

    fn configuration() -> Vec<ConfigField> {
        vec![field("attack", "Attack (JSON)").textarea()]
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let config = inlet_sdk::Config::from(&request);
        let attack: Value = serde_json::from_str(&config.str("attack")?)
            .map_err(|e| error(ErrorKind::Config, format!("attack is not JSON: {e}")))?;
        let n = attack["count"].as_u64().unwrap_or(1) as usize;
        if attack["op"] == "batch" {
            // Past the SDK's batching (which closes batches at 4 MiB): one batch, whole.
            let pad = "a".repeat(attack["bytes"].as_u64().unwrap_or(1024) as usize);
            let docs = (0..n)
                .map(|i| Document::index(format!("doc-{i}"), &json!({"pad": pad})))
                .collect();
            return Ok(Box::new(OneBatch(Some(docs))));
        }
        let out = match attack["op"].as_str() {
            Some("fields") => fields(
                n,
                attack["bytes"].as_u64().unwrap_or(1024) as usize,
                attack["keep"].as_bool().unwrap_or(true),
            ),
            Some("handles") => handles(n),
            Some("requests") => requests(attack["url"].as_str().unwrap_or_default(), n),
            Some("sequential") => sequential(
                attack["url"].as_str().unwrap_or_default(),
                n,
                attack["bytes"].as_u64().unwrap_or(1024) as usize,
            ),
            Some("open") => open(attack["path"].as_str().unwrap_or_default(), n),
            Some("read") => read(attack["path"].as_str().unwrap_or_default()),
            Some("listings") => listings(attack["path"].as_str().unwrap_or_default(), n),
            Some("wait") => wait(),
            other => json!({"error": format!("unknown op {other:?}")}),
        };
        let docs = vec![Ok(Document::index("result", &out))];
        Ok(inlet_sdk::batches(docs.into_iter(), 1))
    }
}

/// Hands over everything in one batch.
struct OneBatch(Option<Vec<Document>>);

impl DocStream for OneBatch {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        Ok(self.0.take())
    }
}

fn fields(count: usize, bytes: usize, keep: bool) -> Value {
    let value = vec![b'a'; bytes];
    let mut kept = Vec::new();
    for i in 0..count {
        match Fields::from_list(&[("x-big".to_owned(), value.clone())]) {
            Ok(f) if keep => kept.push(f),
            Ok(f) => drop(f),
            Err(e) => return json!({"made": i, "error": format!("{e:?}")}),
        }
    }
    json!({"made": count, "kept": kept.len()})
}

fn handles(count: usize) -> Value {
    let kept: Vec<Fields> = (0..count).map(|_| Fields::new()).collect();
    json!({"made": kept.len()})
}

fn split(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    Some(
        rest.split_once('/')
            .map_or((rest.to_owned(), "/".to_owned()), |(a, p)| {
                (a.to_owned(), format!("/{p}"))
            }),
    )
}

fn request(authority: &str, path: &str, headers: Fields) -> OutgoingRequest {
    let req = OutgoingRequest::new(headers);
    let _ = req.set_scheme(Some(&Scheme::Http));
    let _ = req.set_authority(Some(authority));
    let _ = req.set_path_with_query(Some(path));
    req
}

fn requests(url: &str, count: usize) -> Value {
    let Some((authority, path)) = split(url) else {
        return json!({"error": "need an http:// URL"});
    };
    let mut pending = Vec::new();
    let mut refused = 0;
    for _ in 0..count {
        let req = request(&authority, &path, Fields::new());
        match wasip2::http::outgoing_handler::handle(req, None) {
            Ok(f) => pending.push(f),
            Err(_) => refused += 1,
        }
    }
    json!({"sent": pending.len(), "refused": refused})
}

fn sequential(url: &str, count: usize, bytes: usize) -> Value {
    let Some((authority, path)) = split(url) else {
        return json!({"error": "need an http:// URL"});
    };
    let value = vec![b'a'; bytes];
    let mut ok = 0;
    for i in 0..count {
        let headers = match Fields::from_list(&[("x-big".to_owned(), value.clone())]) {
            Ok(h) => h,
            Err(e) => return json!({"ok": ok, "error": format!("fields {i}: {e:?}")}),
        };
        let req = request(&authority, &path, headers);
        let future = match wasip2::http::outgoing_handler::handle(req, None) {
            Ok(f) => f,
            Err(e) => return json!({"ok": ok, "error": format!("request {i}: {e:?}")}),
        };
        future.subscribe().block();
        match future.get() {
            Some(Ok(Ok(response))) if response.status() == 200 => ok += 1,
            other => return json!({"ok": ok, "error": format!("response {i}: {other:?}")}),
        }
    }
    json!({"ok": ok})
}

fn open(path: &str, count: usize) -> Value {
    let mut kept = Vec::new();
    for i in 0..count {
        match std::fs::File::open(path) {
            Ok(f) => kept.push(f),
            Err(e) => return json!({"opened": i, "error": e.to_string()}),
        }
    }
    json!({"opened": kept.len()})
}

fn read(path: &str) -> Value {
    match std::fs::read(path) {
        Ok(b) => json!({"read": b.len()}),
        Err(e) => json!({"error": e.to_string(), "kind": format!("{:?}", e.kind())}),
    }
}

fn listings(path: &str, count: usize) -> Value {
    let mut kept = Vec::new();
    for i in 0..count {
        match std::fs::read_dir(path) {
            Ok(d) => kept.push(d),
            Err(e) => return json!({"listed": i, "error": e.to_string()}),
        }
    }
    json!({"listed": kept.len()})
}

fn wait() -> Value {
    // A day, in nanoseconds: far past any deadline (u64::MAX would overflow the host's clock
    // arithmetic and fire at once).
    wasip2::clocks::monotonic_clock::subscribe_duration(86_400 * 1_000_000_000).block();
    json!({"woke": true})
}

inlet_sdk::export!(Hostile);
