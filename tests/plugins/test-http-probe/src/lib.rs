//! Runs a script of probes (configuration field `script`, a JSON list) and emits one document
//! per probe with what it saw. Probes:
//! - `{"id", "op": "http", "url", "method"?, "headers"?: [[name, value]], "body"?, "follow"?: n}`:
//!   a request through `wasi:http/outgoing-handler`, following up to `n` redirects itself (each
//!   hop is a new request, so it meets the host's policy again); with `"repeat": n` the request
//!   is sent n times (`{i}` in the URL becomes 0..n, so each can go somewhere else) and the
//!   document counts the outcomes instead: `{"sent", "statuses": {code: n}, "errors": {e: n}}`;
//! - `{"id", "op": "sleep", "ms"}`;
//! - `{"id", "op": "env"}`: environment variables and arguments;
//! - `{"id", "op": "files", "paths": [...]}`: tries to read files and list directories;
//! - `{"id", "op": "config"}`: every configuration value the plugin received.
//!
//! The point is to behave like a plugin hunting for the operator's secrets, and to report
//! exactly what the host let it see.

use inlet_sdk::{
    ConfigField, Connector, DocStream, Document, ErrorKind, Metadata, Result, SyncRequest, error,
    field,
};
use serde_json::{Value, json};
use wasip2::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

struct Probe;

impl Connector for Probe {
    fn metadata() -> Metadata {
        Metadata::new("http-probe", "HTTP probe", "0.0.0")
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("script", "Probes (JSON list)").textarea(),
            // A sensitive field of the wrong type in some tests: its value must never be
            // echoed in the host's error messages or logs.
            field("decoy_pin", "Decoy PIN").int().sensitive().optional(),
        ]
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let config = inlet_sdk::Config::from(&request);
        let script: Vec<Value> = serde_json::from_str(&config.str("script")?)
            .map_err(|e| error(ErrorKind::Config, format!("script is not a JSON list: {e}")))?;
        let mut docs = Vec::new();
        for (i, probe) in script.iter().enumerate() {
            let id = probe["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("probe-{i}"));
            let mut out = match probe["op"].as_str() {
                Some("http") if probe.get("repeat").is_some() => repeated_http_probe(probe),
                Some("http") => http_probe(probe),
                Some("sleep") => {
                    let ms = probe["ms"].as_u64().unwrap_or(0);
                    wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
                    json!({"slept_ms": ms})
                }
                Some("env") => json!({
                    "env": std::env::vars().collect::<Vec<_>>(),
                    "args": std::env::args().collect::<Vec<_>>(),
                }),
                Some("files") => files_probe(probe),
                Some("config") => json!({
                    "config": request
                        .configuration
                        .iter()
                        .map(|v| json!([v.key, v.value]))
                        .collect::<Vec<_>>()
                }),
                other => json!({"error": format!("unknown op {other:?}")}),
            };
            out["probe"] = json!(id);
            docs.push(Ok(Document::index(id, &out)));
        }
        Ok(inlet_sdk::batches(docs.into_iter(), 100))
    }
}

fn files_probe(probe: &Value) -> Value {
    let mut results = Vec::new();
    for p in probe["paths"].as_array().into_iter().flatten() {
        let path = p.as_str().unwrap_or_default();
        let read = std::fs::read_to_string(path).map_err(|e| e.to_string());
        let list = std::fs::read_dir(path)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string());
        results
            .push(json!({"path": path, "read": format!("{read:?}"), "list": format!("{list:?}")}));
    }
    json!({ "files": results })
}

/// The same request (or one per `{i}` in the URL) `repeat` times, counted by outcome: what a
/// plugin flooding the host's policy, a source or its token endpoint looks like.
fn repeated_http_probe(probe: &Value) -> Value {
    let url = probe["url"].as_str().unwrap_or_default();
    let n = probe["repeat"].as_u64().unwrap_or(0);
    let mut statuses = serde_json::Map::new();
    let mut errors = serde_json::Map::new();
    let bump = |m: &mut serde_json::Map<String, Value>, k: String| {
        let v = m.entry(k).or_insert(json!(0));
        *v = json!(v.as_u64().unwrap_or(0) + 1);
    };
    for i in 0..n {
        let url = url.replace("{i}", &i.to_string());
        match send("GET", &url, &[], &[]) {
            Ok((status, _, _)) => bump(&mut statuses, status.to_string()),
            Err(e) => bump(&mut errors, e),
        }
    }
    json!({"sent": n, "statuses": statuses, "errors": errors})
}

/// One logical request, following redirects itself when asked.
fn http_probe(probe: &Value) -> Value {
    let mut url = probe["url"].as_str().unwrap_or_default().to_owned();
    let method = probe["method"].as_str().unwrap_or("GET").to_owned();
    let headers: Vec<(String, String)> = probe["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h[0].as_str()?.to_owned(), h[1].as_str()?.to_owned())))
        .collect();
    let body = probe["body"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec();
    let mut follow = probe["follow"].as_u64().unwrap_or(0);
    let mut hops = Vec::new();
    loop {
        match send(&method, &url, &headers, &body) {
            Err(e) => {
                hops.push(json!({"url": url, "error": e}));
                return json!({"ok": false, "hops": hops, "error": e});
            }
            Ok((status, response_headers, text)) => {
                let location = response_headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("location"))
                    .map(|(_, v)| v.clone());
                hops.push(json!({"url": url, "status": status}));
                match location {
                    Some(next) if (300..400).contains(&status) && follow > 0 => {
                        follow -= 1;
                        url = next;
                    }
                    _ => {
                        return json!({
                            "ok": true,
                            "status": status,
                            "headers": response_headers,
                            "body": text,
                            "hops": hops,
                        });
                    }
                }
            }
        }
    }
}

type Response = (u16, Vec<(String, String)>, String);

fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::result::Result<Response, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("not a URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let fields = Fields::new();
    for (k, v) in headers {
        fields
            .append(k, v.as_bytes())
            .map_err(|e| format!("setting header {k}: {e:?}"))?;
    }
    let req = OutgoingRequest::new(fields);
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        other => Method::Other(other.to_owned()),
    };
    req.set_method(&method).map_err(|()| "bad method")?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    req.set_scheme(Some(&scheme)).map_err(|()| "bad scheme")?;
    req.set_authority(Some(authority))
        .map_err(|()| "bad authority")?;
    req.set_path_with_query(Some(path))
        .map_err(|()| "bad path")?;
    let outgoing = req.body().map_err(|()| "no body")?;
    let future = wasip2::http::outgoing_handler::handle(req, None).map_err(code)?;
    {
        let stream = outgoing.write().map_err(|()| "no body stream")?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(code)?;
    future.subscribe().block();
    let response: IncomingResponse = future
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice")?
        .map_err(code)?;
    let status = response.status();
    let response_headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| "no response body")?;
    let stream = incoming.stream().map_err(|()| "no response stream")?;
    let mut text = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => text.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let detail = wasip2::http::types::http_error_code(&e)
                    .map(|c| format!("{c:?}"))
                    // The first line: wasmtime may append a backtrace.
                    .unwrap_or_else(|| {
                        e.to_debug_string()
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    });
                return Err(format!("reading the body: {detail}"));
            }
        }
    }
    Ok((
        status,
        response_headers,
        String::from_utf8_lossy(&text).into_owned(),
    ))
}

fn code(e: ErrorCode) -> String {
    format!("{e:?}")
}

inlet_sdk::export!(Probe);
