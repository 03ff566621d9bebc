//! Brokered network and credentials, end to end: the real `inlet` binary runs an adversarial
//! plugin (`tests/plugins/test-http-probe`) against a local HTTP server that plays the data
//! source and an OAuth2 token endpoint and records every request it receives.
//!
//! Every secret in these tests contains `TOPSECRET`; every inlet run (at debug log level) is
//! checked for it in stdout and stderr, and the data directory (sink, dead letters, state) is
//! checked after each sync.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::support::*;
use serde_json::Value;

const MARK: &str = "TOPSECRET";
const BEARER: &str = "sk-TOPSECRET-bearer-4f1b";
const API_KEY: &str = "ak-TOPSECRET-header-9c2";
const QUERY_KEY: &str = "qk-TOPSECRET-query-77";
const PASSWORD: &str = "pw-TOPSECRET-file-31";
const CLIENT_SECRET: &str = "cs-TOPSECRET-oauth-5e";

// ---------------------------------------------------------------------------------------------
// The local source: a tiny HTTP/1.1 server on 127.0.0.1 (one request per connection).

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path with query, as received.
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// OAuth2: tokens issued so far; a token is `tok-TOPSECRET-<n>`.
    issued: u32,
    expires_in: u64,
    /// OAuth2: a token stops working after this many uses of `/protected` (0: never).
    uses_per_token: u32,
    /// `/protected` answers 401 to every token (a disabled app, a missing scope).
    refuse_all: bool,
    /// `/token-rotate`: the one refresh token it accepts; each use replaces it.
    refresh_current: String,
    refresh_issued: u32,
    uses: BTreeMap<String, u32>,
}

#[derive(Clone)]
struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            expires_in: 3600,
            ..Default::default()
        }));
        let server = Server { port, state };
        let s = server.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || s.serve(conn));
            }
        });
        server
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("state").seen.clone()
    }

    fn token_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path() == "/token")
            .collect()
    }

    fn serve(&self, conn: TcpStream) {
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        let _ = reader.read_exact(&mut body);
        let seen = Seen {
            method,
            target,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        self.state.lock().expect("state").seen.push(seen.clone());
        let mut out = conn;
        let query = |name: &str| -> Option<String> {
            let q = seen.target.split_once('?')?.1;
            q.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
        };
        match seen.path() {
            "/echo" => {
                // Names of everything received; values only of headers that carry no
                // credential (a source echoing the secret would leak it by itself).
                let headers: BTreeMap<&str, &str> = seen
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        let v = if k == "authorization" || k == "x-api-key" {
                            "<present>"
                        } else {
                            v.as_str()
                        };
                        (k.as_str(), v)
                    })
                    .collect();
                let query_names: Vec<&str> = seen
                    .target
                    .split_once('?')
                    .map(|(_, q)| q.split('&').filter_map(|kv| kv.split('=').next()).collect())
                    .unwrap_or_default();
                let body = serde_json::json!({
                    "method": seen.method,
                    "path": seen.path(),
                    "query_names": query_names,
                    "headers": headers,
                });
                respond(&mut out, "200 OK", &[], body.to_string().as_bytes());
            }
            "/redirect" => {
                let to = query("to").unwrap_or_default();
                respond(&mut out, "302 Found", &[("Location", &to)], b"");
            }
            "/big" => {
                let n: usize = query("n").and_then(|n| n.parse().ok()).unwrap_or(0);
                respond(&mut out, "200 OK", &[], &vec![b'x'; n]);
            }
            "/big-chunked" => {
                let n: usize = query("n").and_then(|n| n.parse().ok()).unwrap_or(0);
                let _ = out.write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                );
                let chunk = vec![b'y'; 8192];
                let mut left = n;
                while left > 0 {
                    let k = left.min(chunk.len());
                    if out
                        .write_all(format!("{k:x}\r\n").as_bytes())
                        .and_then(|_| out.write_all(&chunk[..k]))
                        .and_then(|_| out.write_all(b"\r\n"))
                        .is_err()
                    {
                        return;
                    }
                    left -= k;
                }
                let _ = out.write_all(b"0\r\n\r\n");
            }
            "/token" => {
                let mut st = self.state.lock().expect("state");
                st.issued += 1;
                let body = serde_json::json!({
                    "access_token": format!("tok-{MARK}-{}", st.issued),
                    "token_type": "Bearer",
                    "expires_in": st.expires_in,
                });
                drop(st);
                respond(&mut out, "200 OK", &[], body.to_string().as_bytes());
            }
            "/token-rotate" => {
                // A provider that rotates refresh tokens: each is good for one refresh.
                let fields: BTreeMap<String, String> = form_urlencoded::parse(seen.body.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let mut st = self.state.lock().expect("state");
                let presented = fields.get("refresh_token").cloned().unwrap_or_default();
                if fields.get("grant_type").map(String::as_str) != Some("refresh_token")
                    || presented != st.refresh_current
                {
                    drop(st);
                    let body = serde_json::json!({"error": "invalid_grant"});
                    respond(
                        &mut out,
                        "400 Bad Request",
                        &[],
                        body.to_string().as_bytes(),
                    );
                    return;
                }
                st.issued += 1;
                st.refresh_issued += 1;
                st.refresh_current = format!("rtok-7f3a-{}", st.refresh_issued);
                let body = serde_json::json!({
                    "access_token": format!("tok-{MARK}-{}", st.issued),
                    "token_type": "bearer",
                    "expires_in": st.expires_in,
                    "refresh_token": st.refresh_current,
                });
                drop(st);
                respond(&mut out, "200 OK", &[], body.to_string().as_bytes());
            }
            "/token-refuse" => {
                // Google's answer to an assertion signed with a key it does not know.
                let body = serde_json::json!({
                    "error": "invalid_grant",
                    "error_description": "Invalid JWT Signature.",
                });
                respond(
                    &mut out,
                    "400 Bad Request",
                    &[],
                    body.to_string().as_bytes(),
                );
            }
            "/protected" => {
                let mut st = self.state.lock().expect("state");
                let token = seen
                    .header("authorization")
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned();
                let current = format!("tok-{MARK}-{}", st.issued);
                let limit = st.uses_per_token;
                let refuse_all = st.refuse_all;
                let uses = st.uses.entry(token.clone()).or_insert(0);
                *uses += 1;
                let ok = !refuse_all && token == current && (limit == 0 || *uses <= limit);
                drop(st);
                if ok {
                    respond(&mut out, "200 OK", &[], b"{\"ok\":true}");
                } else {
                    respond(&mut out, "401 Unauthorized", &[], b"{\"ok\":false}");
                }
            }
            _ => respond(&mut out, "404 Not Found", &[], b""),
        }
    }
}

fn respond(out: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
}

// ---------------------------------------------------------------------------------------------
// Running inlet.

struct Run {
    ok: bool,
    report: Value,
    stderr: String,
    docs: BTreeMap<String, Value>,
}

impl Run {
    fn doc(&self, id: &str) -> &Value {
        self.docs
            .get(id)
            .unwrap_or_else(|| panic!("no document {id}: {:?}\n{}", self.docs, self.stderr))
    }
}

/// A temporary setup: the probe plugin (optionally with another `[permissions] http`), and a
/// config with the given `credentials:` and connector grants.
struct Setup {
    tmp: tempfile::TempDir,
}

impl Setup {
    fn new(declared: Option<&str>) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        match declared {
            Some(declared) => http_probe_dir(tmp.path(), declared),
            None => plugin_dir(tmp.path(), &["http_probe"]),
        };
        std::fs::write(tmp.path().join("password.txt"), format!("{PASSWORD}\n")).expect("write");
        std::fs::write(tmp.path().join("apikey.txt"), API_KEY).expect("write");
        Setup { tmp }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes the config and runs one full sync of connector `probe` with this script.
    fn sync(&self, credentials: &str, grants: &str, script: &Value, extra: &str) -> Run {
        let script = script.to_string();
        assert!(
            !script.contains('\''),
            "the script goes in a single-quoted YAML string"
        );
        let config = write_config(
            self.path(),
            &format!(
                "credentials:\n{credentials}\nconnectors:\n  - connector_id: probe\n    service_type: http-probe\n    configuration:\n      script: '{script}'\n{extra}    grants:\n{grants}\n"
            ),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "probe", "--json", "--config"])
            .arg(&config)
            // Debug level, so the broker's per-request lines are checked too.
            .env(
                "RUST_LOG",
                "debug,wasmtime=warn,cranelift=warn,hyper=info,rustls=info",
            )
            .env("PROBE_BEARER", BEARER)
            .env("PROBE_CLIENT_SECRET", CLIENT_SECRET)
            .output()
            .expect("run inlet");
        let stdout = stdout(&out);
        let stderr = stderr(&out);
        assert!(
            !stdout.contains(MARK) && !stderr.contains(MARK),
            "a secret reached inlet's output:\n{stdout}\n{stderr}"
        );
        assert_not_under(&self.path().join("data"), MARK);
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {stdout}\n{stderr}"));
        let docs = replay(&self.path().join("data/sink/search-probe.ndjson"));
        Run {
            ok: out.status.success(),
            report,
            stderr,
            docs,
        }
    }
}

fn http(id: &str, url: String) -> Value {
    serde_json::json!({"id": id, "op": "http", "url": url})
}

fn error_of(doc: &Value) -> String {
    doc["error"].as_str().unwrap_or_default().to_owned()
}

/// Credentials of the main tests: all bound to the source at 127.0.0.1:<port>, except a basic
/// one bound elsewhere, which must never be sent to the source.
fn credentials(port: u16) -> String {
    format!(
        "  bearer:\n    type: bearer\n    token: ${{PROBE_BEARER}}\n    hosts: [\"http://127.0.0.1:{port}\"]\n\
         \x20 key:\n    type: api_key_header\n    header: X-Api-Key\n    value: {{file: apikey.txt}}\n    hosts: [\"http://127.0.0.1:{port}\"]\n\
         \x20 query:\n    type: api_key_query\n    param: api_key\n    value: {QUERY_KEY}\n    hosts: [\"http://127.0.0.1:{port}\"]\n\
         \x20 elsewhere:\n    type: basic\n    username: svc\n    password: {{file: password.txt}}\n    hosts: [\"https://other.example\"]\n"
    )
}

fn grants(http: &[String], credentials: &[&str]) -> String {
    format!(
        "      http: {}\n      credentials: {}\n",
        serde_json::to_string(http).expect("json"),
        serde_json::to_string(credentials).expect("json")
    )
}

// ---------------------------------------------------------------------------------------------

#[test]
fn granted_host_gets_the_credentials_the_plugin_never_sees() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let script = serde_json::json!([
        http("echo", format!("http://127.0.0.1:{port}/echo?page=2")),
        {"id": "env", "op": "env"},
        {"id": "files", "op": "files", "paths": [
            "/", ".", "/etc/passwd", "/proc/self/environ",
            setup.path().join("password.txt").to_str().expect("utf8"),
            setup.path().join("config.yml").to_str().expect("utf8"),
        ]},
        {"id": "config", "op": "config"},
    ]);
    let run = setup.sync(
        &credentials(port),
        &grants(
            &[format!("http://127.0.0.1:{port}")],
            &["bearer", "key", "query", "elsewhere"],
        ),
        &script,
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);

    // The source got every bound credential, in the right place, and nothing else.
    let seen = source.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let req = &seen[0];
    assert_eq!(
        req.header("authorization"),
        Some(&*format!("Bearer {BEARER}"))
    );
    assert_eq!(req.header("x-api-key"), Some(API_KEY));
    assert_eq!(req.target, format!("/echo?page=2&api_key={QUERY_KEY}"));
    assert!(
        !format!("{seen:?}").contains(PASSWORD),
        "basic credential sent to an unbound host"
    );

    // The plugin saw a normal response; the credential headers only as names.
    let echo = run.doc("echo");
    assert_eq!(echo["status"], 200, "{echo}");
    let body: Value = serde_json::from_str(echo["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["headers"]["authorization"], "<present>");
    assert_eq!(body["headers"]["x-api-key"], "<present>");
    assert_eq!(body["query_names"], serde_json::json!(["page", "api_key"]));

    // And found nothing in its environment, its files or its configuration.
    assert_eq!(
        run.doc("env")["env"],
        serde_json::json!([]),
        "{}",
        run.doc("env")
    );
    for f in run.doc("files")["files"].as_array().expect("files") {
        assert!(
            f["read"].as_str().is_some_and(|r| r.starts_with("Err")),
            "{f}"
        );
        assert!(
            f["list"].as_str().is_some_and(|r| r.starts_with("Err")),
            "{f}"
        );
    }
    let config = run.doc("config")["config"].to_string();
    assert!(
        config.contains("script") && !config.contains(MARK),
        "{config}"
    );
}

#[test]
fn plugin_cannot_set_the_injected_header_or_parameter_itself() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let url = format!("http://127.0.0.1:{port}/echo");
    let script = serde_json::json!([
        {"id": "authz", "op": "http", "url": url, "headers": [["Authorization", "Bearer mine"]]},
        {"id": "apikey", "op": "http", "url": url, "headers": [["x-api-key", "mine"]]},
        {"id": "proxy", "op": "http", "url": url, "headers": [["proxy-authorization", "Basic eA=="]]},
        http("param", format!("{url}?api_key=mine")),
    ]);
    let run = setup.sync(
        &credentials(port),
        &grants(
            &[format!("http://127.0.0.1:{port}")],
            &["bearer", "key", "query"],
        ),
        &script,
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    for id in ["authz", "apikey", "proxy"] {
        let e = error_of(run.doc(id));
        assert!(
            e.contains("setting header") && e.contains("Forbidden"),
            "{id}: {e}"
        );
    }
    assert!(
        error_of(run.doc("param")).contains("HttpRequestDenied"),
        "{}",
        run.doc("param")
    );
    assert!(
        run.stderr.contains("rule: credential_param"),
        "{}",
        run.stderr
    );
    assert!(source.seen().is_empty(), "{:?}", source.seen());
}

#[test]
fn hosts_not_granted_or_not_declared_are_refused_with_the_grant_to_add() {
    let source = Server::start();
    let other = Server::start();
    let setup = Setup::new(None);
    let script = serde_json::json!([
        http("granted", format!("http://127.0.0.1:{}/echo", source.port)),
        http("other", format!("http://127.0.0.1:{}/echo", other.port)),
        http("https", format!("https://127.0.0.1:{}/echo", source.port)),
    ]);
    let run = setup.sync(
        &credentials(source.port),
        &grants(&[format!("http://127.0.0.1:{}", source.port)], &["bearer"]),
        &script,
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    assert_eq!(run.doc("granted")["status"], 200);
    assert!(
        error_of(run.doc("other")).contains("HttpRequestDenied"),
        "{}",
        run.doc("other")
    );
    assert!(
        error_of(run.doc("https")).contains("HttpRequestDenied"),
        "{}",
        run.doc("https")
    );
    let hint = format!(
        "add \"http://127.0.0.1:{}\" to connectors[0].grants.http",
        other.port
    );
    assert!(
        run.stderr.contains(&hint) && run.stderr.contains("rule: not_granted"),
        "{}",
        run.stderr
    );
    assert!(other.seen().is_empty());
    assert_eq!(source.seen().len(), 1);

    // The operator cannot grant what the plugin does not declare.
    let setup = Setup::new(Some(&format!("[\"http://127.0.0.1:{}\"]", source.port)));
    let run = setup.sync(
        "  {}\n",
        &grants(&["http://*:*".into()], &[]),
        &serde_json::json!([http(
            "other",
            format!("http://127.0.0.1:{}/echo", other.port)
        )]),
        "",
    );
    assert!(error_of(run.doc("other")).contains("HttpRequestDenied"));
    assert!(run.stderr.contains("rule: not_declared"), "{}", run.stderr);
    assert!(other.seen().is_empty());
}

#[test]
fn loopback_needs_an_explicit_grant_even_through_a_wildcard_or_a_name() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    // A wildcard grant matches, but loopback answers are refused after DNS.
    let run = setup.sync(
        "  {}\n",
        &grants(&[format!("http://*:{port}")], &[]),
        &serde_json::json!([
            http("name", format!("http://localhost:{port}/echo")),
            http("ip", format!("http://127.0.0.1:{port}/echo")),
            http("mapped", format!("http://[::ffff:127.0.0.1]:{port}/echo")),
        ]),
        "",
    );
    for id in ["name", "ip", "mapped"] {
        assert!(
            error_of(run.doc(id)).contains("HttpRequestDenied"),
            "{id}: {}",
            run.doc(id)
        );
    }
    assert!(
        run.stderr.contains("rule: blocked_address"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("add \"http://127.0.0.1:{port}\"")),
        "{}",
        run.stderr
    );
    // Granting the address does not grant `localhost`: the names differ.
    let run = setup.sync(
        "  {}\n",
        &grants(&[format!("http://127.0.0.1:{port}")], &[]),
        &serde_json::json!([http("name", format!("http://localhost:{port}/echo"))]),
        "",
    );
    assert!(error_of(run.doc("name")).contains("HttpRequestDenied"));
    assert!(source.seen().is_empty(), "{:?}", source.seen());
    // Naming the host exactly vouches for it.
    let run = setup.sync(
        "  {}\n",
        &grants(&[format!("http://localhost:{port}")], &[]),
        &serde_json::json!([http("name", format!("http://localhost:{port}/echo"))]),
        "",
    );
    assert_eq!(run.doc("name")["status"], 200, "{}", run.doc("name"));
}

#[test]
fn redirects_to_hosts_not_granted_are_never_fetched() {
    let source = Server::start();
    let elsewhere = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let target = format!("http://127.0.0.1:{}/echo", elsewhere.port);
    let run = setup.sync(
        &credentials(port),
        &grants(&[format!("http://127.0.0.1:{port}")], &["bearer", "key"]),
        &serde_json::json!([
            http("plain", format!("http://127.0.0.1:{port}/redirect?to={target}")),
            {"id": "follow", "op": "http", "follow": 3,
             "url": format!("http://127.0.0.1:{port}/redirect?to={target}")},
            {"id": "same", "op": "http", "follow": 3,
             "url": format!("http://127.0.0.1:{port}/redirect?to=http://127.0.0.1:{port}/echo")},
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    // The host hands the 3xx to the plugin as it is...
    let plain = run.doc("plain");
    assert_eq!(plain["status"], 302, "{plain}");
    // ...and the plugin's own next request meets the policy again.
    let follow = run.doc("follow");
    assert_eq!(follow["hops"][0]["status"], 302, "{follow}");
    assert!(error_of(follow).contains("HttpRequestDenied"), "{follow}");
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    // A redirect within the grant works, with the credentials on both hops.
    let same = run.doc("same");
    assert_eq!(same["status"], 200, "{same}");
    let seen = source.seen();
    assert!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(&*format!("Bearer {BEARER}"))),
        "{seen:?}"
    );
}

#[test]
fn responses_over_the_size_limit_fail_cleanly() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let run = setup.sync(
        "  {}\n",
        &format!(
            "{}      http_limits:\n        max_response_bytes: 10000\n",
            grants(&[format!("http://127.0.0.1:{port}")], &[])
        ),
        &serde_json::json!([
            http("small", format!("http://127.0.0.1:{port}/big?n=5000")),
            http("declared", format!("http://127.0.0.1:{port}/big?n=50000")),
            http(
                "streamed",
                format!("http://127.0.0.1:{port}/big-chunked?n=50000")
            ),
            http("after", format!("http://127.0.0.1:{port}/big?n=10")),
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    assert_eq!(run.doc("small")["body"].as_str().map(str::len), Some(5000));
    assert!(
        error_of(run.doc("declared")).contains("HttpResponseBodySize"),
        "{}",
        run.doc("declared")
    );
    // Cut off while streaming: the plugin's read of the body fails.
    assert!(
        error_of(run.doc("streamed")).contains("reading the body")
            && error_of(run.doc("streamed")).contains("size exceeds limit"),
        "{}",
        run.doc("streamed")
    );
    assert_eq!(run.doc("after")["status"], 200);
    assert!(
        run.stderr
            .contains("connectors[0].grants.http_limits.max_response_bytes"),
        "{}",
        run.stderr
    );
}

fn oauth_credentials(port: u16) -> String {
    format!(
        "  wiki:\n    type: oauth2_client_credentials\n    token_url: http://127.0.0.1:{port}/token\n    client_id: inlet-test\n    client_secret: ${{PROBE_CLIENT_SECRET}}\n    scopes: [read, write]\n    hosts: [\"http://127.0.0.1:{port}\"]\n"
    )
}

#[test]
fn oauth2_tokens_are_fetched_once_reused_and_refreshed() {
    // Expiry: a 1-second token serves two requests, then a new one is fetched.
    let source = Server::start();
    let port = source.port;
    source.state.lock().expect("state").expires_in = 1;
    let setup = Setup::new(None);
    let protected = format!("http://127.0.0.1:{port}/protected");
    let run = setup.sync(
        &oauth_credentials(port),
        &grants(&[format!("http://127.0.0.1:{port}")], &["wiki"]),
        &serde_json::json!([
            http("a", protected.clone()),
            http("b", protected.clone()),
            {"id": "wait", "op": "sleep", "ms": 1500},
            http("c", protected.clone()),
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    for id in ["a", "b", "c"] {
        assert_eq!(run.doc(id)["status"], 200, "{id}: {}", run.doc(id));
    }
    let tokens = source.token_requests();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("inlet-test:{CLIENT_SECRET}")
        )
    );
    assert_eq!(tokens[0].header("authorization"), Some(basic.as_str()));
    assert_eq!(tokens[0].method, "POST");
    assert_eq!(
        tokens[0].body,
        "grant_type=client_credentials&scope=read+write"
    );

    // Revocation: the source refuses a token after two uses; the host fetches a new one and
    // sends the request once more, so the plugin never sees the 401.
    let source = Server::start();
    let port = source.port;
    source.state.lock().expect("state").uses_per_token = 2;
    let protected = format!("http://127.0.0.1:{port}/protected");
    let run = setup.sync(
        &oauth_credentials(port),
        &grants(&[format!("http://127.0.0.1:{port}")], &["wiki"]),
        &serde_json::json!([
            http("a", protected.clone()),
            http("b", protected.clone()),
            http("c", protected.clone()),
        ]),
        "",
    );
    for id in ["a", "b", "c"] {
        assert_eq!(run.doc(id)["status"], 200, "{id}: {}", run.doc(id));
    }
    assert_eq!(source.token_requests().len(), 2);
    let protected_hits = source
        .seen()
        .iter()
        .filter(|s| s.path() == "/protected")
        .count();
    assert_eq!(protected_hits, 4, "{:?}", source.seen());
}

#[test]
fn sensitive_configuration_values_stay_out_of_logs_and_reports() {
    let setup = Setup::new(None);
    let run = setup.sync(
        "  {}\n",
        &grants(&[], &[]),
        &serde_json::json!([]),
        &format!("      decoy_pin: \"{MARK}-pin\"\n"),
    );
    assert!(!run.ok);
    assert_eq!(run.report["error_class"], "config", "{}", run.report);
    assert!(
        run.report["error"]
            .as_str()
            .is_some_and(|e| e.contains("decoy_pin") && e.contains("sensitive")),
        "{}",
        run.report
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 12: `Host` from the checked target, token requests rate-limited, denial logs bounded.

/// WARN lines of inlet's log that contain `needle` (the level is followed by a space, or by
/// a colour code on a terminal-style log).
fn warn_lines(stderr: &str, needle: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains(" WARN") && l.contains(needle))
        .count()
}

#[test]
fn the_source_reads_the_checked_host_and_userinfo_never_passes() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let run = setup.sync(
        &credentials(port),
        &grants(
            &[
                format!("http://127.0.0.1:{port}"),
                format!("http://localhost:{port}"),
            ],
            &["bearer"],
        ),
        &serde_json::json!([
            // wasi-http puts the authority into `Host` verbatim; the policy checks the host
            // after the `@`, and the credential is bound to that one.
            http(
                "userinfo",
                format!("http://evil.example@127.0.0.1:{port}/echo")
            ),
            http("password", format!("http://u:pw@localhost:{port}/echo")),
            // Spelled differently from the grant: upper case and a trailing dot.
            http("spelled", format!("http://LocalHost.:{port}/echo")),
            http("plain", format!("http://127.0.0.1:{port}/echo")),
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    // Exactly two requests arrived, each with the Host the policy checked (before: four, one
    // with `Host: evil.example@127.0.0.1:<port>` and the bearer token, one with
    // `LocalHost.:<port>`).
    let seen = source.seen();
    let hosts: Vec<&str> = seen.iter().filter_map(|s| s.header("host")).collect();
    assert_eq!(
        hosts,
        vec![format!("localhost:{port}"), format!("127.0.0.1:{port}")],
        "{seen:?}"
    );
    for id in ["userinfo", "password"] {
        assert!(
            error_of(run.doc(id)).contains("HttpRequestDenied"),
            "{id}: {}",
            run.doc(id)
        );
    }
    assert_eq!(run.doc("spelled")["status"], 200, "{}", run.doc("spelled"));
    assert_eq!(run.doc("plain")["status"], 200, "{}", run.doc("plain"));
    assert_eq!(
        warn_lines(&run.stderr, "rule: bad_url"),
        2,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("user information"), "{}", run.stderr);
}

#[test]
fn a_source_refusing_every_token_costs_two_token_requests_not_one_per_request() {
    let source = Server::start();
    let port = source.port;
    source.state.lock().expect("state").refuse_all = true;
    let setup = Setup::new(None);
    let run = setup.sync(
        &oauth_credentials(port),
        &grants(&[format!("http://127.0.0.1:{port}")], &["wiki"]),
        &serde_json::json!([
            {"id": "flood", "op": "http", "repeat": 200,
             "url": format!("http://127.0.0.1:{port}/protected")},
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    let flood = run.doc("flood");
    assert_eq!(
        flood["statuses"],
        serde_json::json!({"401": 200}),
        "{flood}"
    );
    // The first 401 replaces the token once (a revoked token is replaced, and that request
    // sent again); the next 200 go to the plugin with the token kept. Before: a token
    // request before every request and every retry, 400 in all.
    assert_eq!(source.token_requests().len(), 2);
    let protected = source
        .seen()
        .iter()
        .filter(|s| s.path() == "/protected")
        .count();
    assert_eq!(protected, 201);
}

#[test]
fn thirty_thousand_denied_origins_log_sixty_four_warn_lines_and_one_summary() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let run = setup.sync(
        "  {}\n",
        &grants(&[format!("http://127.0.0.1:{port}")], &[]),
        &serde_json::json!([
            {"id": "flood", "op": "http", "repeat": 30000,
             "url": format!("http://d{{i}}.example:{port}/")},
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    let flood = run.doc("flood");
    assert_eq!(
        flood["errors"],
        serde_json::json!({"ErrorCode::HttpRequestDenied": 30000}),
        "{flood}"
    );
    // Before: 30,000 WARN lines (and 30,000 remembered messages).
    assert_eq!(warn_lines(&run.stderr, "rule: not_granted"), 64);
    assert_eq!(
        warn_lines(
            &run.stderr,
            "further distinct refusals are logged at DEBUG only"
        ),
        1,
        "{}",
        run.stderr
            .lines()
            .filter(|l| l.contains(" WARN"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(source.seen().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Issue 17: token grants the host signs itself (RFC 7523): Google's service-account JWT grant
// and Entra ID's certificate client assertion. The token endpoint checks each assertion's
// signature with the certificate's public key, as Google and Entra ID do with the registered one.

/// An RSA key and a self-signed certificate for it, made by `openssl` in `dir`.
fn openssl_key_and_certificate(dir: &Path, stem: &str) -> (String, String) {
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=inlet-e2e", "-keyout"])
        .arg(dir.join(format!("{stem}.key")))
        .arg("-out")
        .arg(dir.join(format!("{stem}.crt")))
        .output()
        .expect("openssl (scripts/setup installs it)");
    assert!(out.status.success(), "{out:?}");
    let read =
        |ext: &str| std::fs::read_to_string(dir.join(format!("{stem}.{ext}"))).expect("read");
    (read("key"), read("crt"))
}

/// The token request's form fields.
fn form_fields(seen: &Seen) -> BTreeMap<String, String> {
    form_urlencoded::parse(seen.body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Checks `jwt`'s RS256 signature with the certificate's public key and its audience.
fn verified(jwt: &str, certificate: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(certificate.as_bytes()).expect("public key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .unwrap_or_else(|e| panic!("the assertion does not verify: {e}"));
    (data.header, data.claims)
}

/// A key line: it must show up nowhere but in the key file.
fn key_line(private_key_pem: &str) -> String {
    private_key_pem
        .lines()
        .nth(2)
        .expect("a key line")
        .to_owned()
}

#[test]
fn a_google_service_account_key_signs_the_grant_and_the_plugin_gets_only_the_bearer() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let (key, certificate) = openssl_key_and_certificate(setup.path(), "sa");
    // The token endpoint comes from the key file's `token_uri`, as Google's libraries do.
    let token_url = format!("http://127.0.0.1:{port}/token");
    let key_file = serde_json::json!({
        "type": "service_account",
        "project_id": "inlet-e2e",
        "private_key_id": "kid-e2e-1",
        "private_key": key,
        "client_email": "indexer@inlet-e2e.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_url,
    });
    std::fs::write(setup.path().join("sa.json"), key_file.to_string()).expect("write");
    let protected = format!("http://127.0.0.1:{port}/protected");
    let credentials = format!(
        "  drive:\n    type: google_service_account\n    service_account_key: {{file: sa.json}}\n    scopes: [\"https://www.googleapis.com/auth/drive.readonly\", \"https://www.googleapis.com/auth/admin.directory.user.readonly\"]\n    subject: admin@corp.example\n    hosts: [\"http://127.0.0.1:{port}\"]\n"
    );
    let run = setup.sync(
        &credentials,
        &grants(&[format!("http://127.0.0.1:{port}")], &["drive"]),
        &serde_json::json!([
            http("a", protected.clone()),
            http("b", protected.clone()),
            http("echo", format!("http://127.0.0.1:{port}/echo")),
        ]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    for id in ["a", "b"] {
        assert_eq!(run.doc(id)["status"], 200, "{id}: {}", run.doc(id));
    }
    assert_eq!(
        run.doc("echo")["body"]
            .as_str()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
            .map(|b| b["headers"]["authorization"].clone()),
        Some(Value::from("<present>"))
    );
    let tokens = source.token_requests();
    assert_eq!(
        tokens.len(),
        1,
        "one token serves every request: {tokens:?}"
    );
    let fields = form_fields(&tokens[0]);
    assert_eq!(
        fields.get("grant_type").map(String::as_str),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(fields.len(), 2, "grant_type and assertion only: {fields:?}");
    let (header, claims) = verified(&fields["assertion"], &certificate, &token_url);
    assert_eq!(header.kid.as_deref(), Some("kid-e2e-1"));
    assert_eq!(claims["iss"], "indexer@inlet-e2e.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], "admin@corp.example");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/drive.readonly https://www.googleapis.com/auth/admin.directory.user.readonly"
    );
    let lifetime = claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat");
    assert_eq!(lifetime, 3600);
    let line = key_line(&key);
    assert!(!run.stderr.contains(&line));
    assert_not_under(&setup.path().join("data"), &line);

    // Google refuses the assertion: the plugin's request fails, the operator's log has
    // Google's reason, and the source is not asked.
    let source = Server::start();
    let port = source.port;
    let credentials = format!(
        "  drive:\n    type: google_service_account\n    service_account_key: {{file: sa.json}}\n    token_url: http://127.0.0.1:{port}/token-refuse\n    scopes: [s]\n    hosts: [\"http://127.0.0.1:{port}\"]\n"
    );
    let run = setup.sync(
        &credentials,
        &grants(&[format!("http://127.0.0.1:{port}")], &["drive"]),
        &serde_json::json!([http("a", format!("http://127.0.0.1:{port}/protected"))]),
        "",
    );
    let error = error_of(run.doc("a"));
    assert!(
        error.contains("could not obtain credential `drive`"),
        "{error}"
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("invalid_grant: Invalid JWT Signature.")),
        "{}",
        run.stderr
    );
    assert!(
        !source.seen().iter().any(|s| s.path() == "/protected"),
        "{:?}",
        source.seen()
    );
}

#[test]
fn a_certificate_signs_the_client_assertion_entra_id_expects() {
    let source = Server::start();
    let port = source.port;
    let setup = Setup::new(None);
    let (key, certificate) = openssl_key_and_certificate(setup.path(), "app");
    let token_url = format!("http://127.0.0.1:{port}/token");
    let credentials = format!(
        "  sharepoint:\n    type: oauth2_client_certificate\n    token_url: {token_url}\n    client_id: 7d9c-app\n    certificate: {{file: app.crt}}\n    private_key: {{file: app.key}}\n    scopes: [\"https://corp.sharepoint.com/.default\"]\n    hosts: [\"http://127.0.0.1:{port}\"]\n"
    );
    let protected = format!("http://127.0.0.1:{port}/protected");
    let run = setup.sync(
        &credentials,
        &grants(&[format!("http://127.0.0.1:{port}")], &["sharepoint"]),
        &serde_json::json!([http("a", protected.clone()), http("b", protected)]),
        "",
    );
    assert!(run.ok, "{}\n{}", run.report, run.stderr);
    for id in ["a", "b"] {
        assert_eq!(run.doc(id)["status"], 200, "{id}: {}", run.doc(id));
    }
    let tokens = source.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0].header("authorization"), None);
    let fields = form_fields(&tokens[0]);
    for (k, v) in [
        ("grant_type", "client_credentials"),
        ("client_id", "7d9c-app"),
        ("scope", "https://corp.sharepoint.com/.default"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
    ] {
        assert_eq!(fields.get(k).map(String::as_str), Some(v), "{fields:?}");
    }
    let (header, claims) = verified(&fields["client_assertion"], &certificate, &token_url);
    // Entra ID finds the certificate by its thumbprint: openssl's SHA-1 fingerprint of it.
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(setup.path().join("app.crt"))
        .output()
        .expect("openssl");
    let fingerprint = String::from_utf8_lossy(&out.stdout)
        .split('=')
        .nth(1)
        .expect("fingerprint")
        .trim()
        .replace(':', "");
    let thumbprint = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        hex::decode(fingerprint).expect("hex"),
    );
    assert_eq!(header.x5t.as_deref(), Some(thumbprint.as_str()));
    assert_eq!(claims["iss"], "7d9c-app");
    assert_eq!(claims["sub"], "7d9c-app");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() == 36),
        "{claims}"
    );
    let line = key_line(&key);
    assert!(!run.stderr.contains(&line));
    assert_not_under(&setup.path().join("data"), &line);

    // A key that is not the certificate's fails `inlet config check`, naming the credential.
    let (_, other_certificate) = openssl_key_and_certificate(setup.path(), "other");
    std::fs::write(setup.path().join("app.crt"), other_certificate).expect("write");
    let config = write_config(
        setup.path(),
        &format!(
            "credentials:\n{credentials}connectors:\n  - connector_id: probe\n    service_type: http-probe\n    grants:\n{}",
            grants(&[format!("http://127.0.0.1:{port}")], &["sharepoint"])
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["config", "check", "--config"])
        .arg(&config)
        .output()
        .expect("run inlet");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("sharepoint") && text.contains("does not belong to the certificate"),
        "{text}"
    );
    assert!(!text.contains(&line), "{text}");
}

#[test]
fn rotated_refresh_tokens_are_stored_and_survive_a_restart() {
    let source = Server::start();
    let port = source.port;
    source.state.lock().expect("state").refresh_current = "rtok-7f3a-initial".into();
    let setup = Setup::new(None);
    std::fs::write(setup.path().join("refresh.txt"), "rtok-7f3a-initial\n").expect("write");
    let credentials = |secret: &str| {
        format!(
            "  dropbox:\n    type: oauth2_refresh_token\n    token_url: http://127.0.0.1:{port}/token-rotate\n    client_id: app-key\n{secret}    refresh_token: {{file: refresh.txt}}\n    hosts: [\"http://127.0.0.1:{port}\"]\n"
        )
    };
    let confidential = credentials("    client_secret: ${PROBE_CLIENT_SECRET}\n");
    let grant = grants(&[format!("http://127.0.0.1:{port}")], &["dropbox"]);
    let script = serde_json::json!([http("a", format!("http://127.0.0.1:{port}/protected"))]);
    let token_bodies = |source: &Server| -> Vec<BTreeMap<String, String>> {
        source
            .seen()
            .iter()
            .filter(|s| s.path() == "/token-rotate")
            .map(form_fields)
            .collect()
    };

    let run = setup.sync(&confidential, &grant, &script, "");
    assert_eq!(
        run.doc("a")["status"],
        200,
        "{}\n{}",
        run.doc("a"),
        run.stderr
    );
    let sent = token_bodies(&source);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["grant_type"], "refresh_token");
    assert_eq!(sent[0]["refresh_token"], "rtok-7f3a-initial");
    assert!(!sent[0].contains_key("client_secret"), "Basic by default");
    // The provider rotated the token: the new one is stored, readable by inlet's user only.
    let stored: Vec<_> = std::fs::read_dir(setup.path().join("data/credentials"))
        .expect("stored refresh tokens")
        .flatten()
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let text = std::fs::read_to_string(stored[0].path()).expect("read");
    assert!(text.contains("rtok-7f3a-1"), "{text}");
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = stored[0].metadata().expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A new process continues from the stored token (the initial one is dead now); a public
    // client (no secret) sends its id in the body.
    let run = setup.sync(&credentials(""), &grant, &script, "");
    assert_eq!(
        run.doc("a")["status"],
        200,
        "{}\n{}",
        run.doc("a"),
        run.stderr
    );
    let sent = token_bodies(&source);
    assert_eq!(sent[1]["refresh_token"], "rtok-7f3a-1");
    assert_eq!(sent[1]["client_id"], "app-key");
    for line in run.stderr.lines() {
        assert!(
            !line.contains("rtok-7f3a"),
            "a refresh token in the log: {line}"
        );
    }

    // The operator authorizes again and configures the new token: it wins over the stored one.
    source.state.lock().expect("state").refresh_current = "rtok-7f3a-reissued".into();
    std::fs::write(setup.path().join("refresh.txt"), "rtok-7f3a-reissued\n").expect("write");
    let run = setup.sync(&confidential, &grant, &script, "");
    assert_eq!(
        run.doc("a")["status"],
        200,
        "{}\n{}",
        run.doc("a"),
        run.stderr
    );
    assert_eq!(
        token_bodies(&source)[2]["refresh_token"],
        "rtok-7f3a-reissued"
    );

    // Revoked at the provider: the log says what to do.
    source.state.lock().expect("state").refresh_current = "revoked".into();
    let run = setup.sync(&confidential, &grant, &script, "");
    assert!(
        error_of(run.doc("a")).contains("could not obtain credential `dropbox`"),
        "{}",
        run.doc("a")
    );
    assert!(
        run.stderr.contains("invalid_grant")
            && run
                .stderr
                .contains("put the new refresh token in `credentials.dropbox.refresh_token`"),
        "{}",
        run.stderr
    );
}
