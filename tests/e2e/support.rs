//! Shared by the end-to-end tests: builds the plugins from source once per test run, lays out
//! plugin directories, writes configs, and runs the real `inlet` binary.

#![allow(dead_code)] // helpers for every area; not each is used by all of them

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Every guest crate the tests use, by package name → component file stem and source folder.
const GUESTS: &[(&str, &str, &str)] = &[
    ("plugin-dir", "dir", "plugins/dir"),
    ("plugin-loadgen", "loadgen", "plugins/loadgen"),
    ("plugin-postgresql", "postgresql", "plugins/postgresql"),
    ("plugin-mysql", "mysql", "plugins/mysql"),
    (
        "test-sql-hostile",
        "sql_hostile",
        "tests/plugins/test-sql-hostile",
    ),
    ("test-spin", "spin", "tests/plugins/test-spin"),
    ("test-membomb", "membomb", "tests/plugins/test-membomb"),
    ("test-panic", "panic", "tests/plugins/test-panic"),
    ("test-badjson", "badjson", "tests/plugins/test-badjson"),
    ("test-badlines", "badlines", "tests/plugins/test-badlines"),
    ("test-bigbatch", "bigbatch", "tests/plugins/test-bigbatch"),
    ("test-flood", "flood", "tests/plugins/test-flood"),
    (
        "test-recursion",
        "recursion",
        "tests/plugins/test-recursion",
    ),
    (
        "test-unknown-import",
        "unknown_import",
        "tests/plugins/test-unknown-import",
    ),
    (
        "test-http-probe",
        "http_probe",
        "tests/plugins/test-http-probe",
    ),
    ("test-hostile", "hostile", "tests/plugins/test-hostile"),
    (
        "test-kibana-form",
        "kibana_form",
        "tests/plugins/test-kibana-form",
    ),
];

/// Builds all guest crates for wasm32-wasip2 once per test process (cargo makes the second
/// test binary's build a no-op). A separate target directory avoids waiting on the lock of the
/// `cargo test` that runs us.
pub fn built_components() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = root().join("target").join("guests");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(root())
            .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
            .env("CARGO_TARGET_DIR", &target);
        for (package, _, _) in GUESTS {
            cmd.args(["-p", package]);
        }
        let out = cmd.output().expect("run cargo to build the test plugins");
        assert!(
            out.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2").join("plugin")
    })
}

/// Lays out `plugins/<folder>` (a Python, JavaScript or Go connector) as `<into>/<folder>`:
/// its plugin.toml and component, built from source with its SDK's build command once per test
/// process, then copied for each test. Building per test cost each test the SDK build (~20 s)
/// and, since those builds are not byte-reproducible, a fresh Cranelift compilation of a
/// 10–20 MB component (most of a minute on 2 cores); one build makes every later test a
/// compiled-cache hit. Returns `<into>/<folder>`.
pub fn install_sdk_plugin(folder: &str, into: &Path) -> PathBuf {
    let built = built_sdk_plugin(folder);
    let dest = into.join(folder);
    std::fs::create_dir_all(&dest).expect("create plugin folder");
    for entry in std::fs::read_dir(&built).expect("read the built plugin") {
        let entry = entry.expect("read the built plugin");
        std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy the built plugin");
    }
    dest
}

/// `plugins/<folder>` built by its SDK's build command into target/e2e-plugins/<folder>, once
/// per test process (tests asking for the same plugin wait for the one build; different plugins
/// build in parallel).
fn built_sdk_plugin(folder: &str) -> PathBuf {
    type Builds = std::collections::BTreeMap<String, std::sync::Arc<OnceLock<PathBuf>>>;
    static BUILDS: std::sync::Mutex<Builds> = std::sync::Mutex::new(Builds::new());
    let cell = BUILDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(folder.to_owned())
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let dest = root().join("target").join("e2e-plugins").join(folder);
        let _ = std::fs::remove_dir_all(&dest);
        build_with_sdk(&root().join("plugins").join(folder), &dest);
        dest
    })
    .clone()
}

/// Builds the Python, JavaScript or Go connector in `src` (told apart by its connector.py,
/// connector.js or go.mod) with its SDK's build command into `dest`.
pub fn build_with_sdk(src: &Path, dest: &Path) {
    let mut cmd = if src.join("connector.py").is_file() {
        let mut c = Command::new("python3");
        c.args(["-m", "inlet_sdk.build"]);
        c
    } else if src.join("connector.js").is_file() {
        let mut c = Command::new("node");
        c.arg(root().join("sdk/js/build.mjs"));
        c
    } else if src.join("go.mod").is_file() {
        Command::new(root().join("sdk/go/build.sh"))
    } else {
        panic!(
            "{} is not a Python, JavaScript or Go connector",
            src.display()
        );
    };
    let o = cmd
        .arg(src)
        .arg("-o")
        .arg(dest)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the build of {} (run scripts/setup): {e}",
                src.display()
            )
        });
    assert!(
        o.status.success(),
        "building {} failed:\n{}\n{}",
        src.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A plugin directory holding the named plugins (by component stem), each in its own folder
/// with its `plugin.toml`, as an operator would lay it out.
pub fn plugin_dir(into: &Path, stems: &[&str]) -> PathBuf {
    let built = built_components();
    let dir = into.join("plugins");
    for stem in stems {
        let (_, _, src) = GUESTS
            .iter()
            .find(|(_, s, _)| s == stem)
            .unwrap_or_else(|| panic!("unknown test plugin {stem}"));
        let folder = dir.join(stem);
        std::fs::create_dir_all(&folder).expect("create plugin folder");
        std::fs::copy(
            root().join(src).join("plugin.toml"),
            folder.join("plugin.toml"),
        )
        .expect("copy plugin.toml");
        std::fs::copy(
            built.join(format!("{stem}.wasm")),
            folder.join(format!("{stem}.wasm")),
        )
        .expect("copy component");
    }
    dir
}

/// The compiled-plugin cache shared by every test in the run, so each component is compiled
/// once.
pub fn shared_cache() -> PathBuf {
    root().join("target").join("inlet-test-cache")
}

/// Writes `config.yml` into `dir` with the given connectors section, the shared cache and a
/// data dir under `dir`.
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("config.yml");
    let text = format!(
        "inlet:\n  data_dir: {data}\n  cache_dir: {cache}\n{body}",
        data = dir.join("data").display(),
        cache = shared_cache().display(),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Runs `inlet` with these arguments.
pub fn inlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
        .output()
        .expect("run inlet")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Replays an embedded-sink NDJSON file (as a cluster would replay `_bulk`) and returns the
/// documents it ends with, by id.
pub fn replay(path: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut docs = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(action) = lines.next() {
        let action: serde_json::Value = serde_json::from_str(action).expect("action line is JSON");
        if let Some(meta) = action.get("index") {
            let id = meta["_id"].as_str().expect("_id").to_owned();
            let source: serde_json::Value =
                serde_json::from_str(lines.next().expect("source line follows"))
                    .expect("source is JSON");
            docs.insert(id, source);
        } else if let Some(meta) = action.get("delete") {
            docs.remove(meta["_id"].as_str().expect("_id"));
        } else {
            panic!("unexpected action {action}");
        }
    }
    docs
}

/// Like [`replay`], for a file another process may be writing: `None` while its last line is
/// still incomplete.
pub fn try_replay(path: &Path) -> Option<std::collections::BTreeMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.ends_with('\n') && !text.is_empty() {
        return None;
    }
    let mut docs = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(action) = lines.next() {
        let action: serde_json::Value = serde_json::from_str(action).ok()?;
        if let Some(meta) = action.get("index") {
            let source = serde_json::from_str(lines.next()?).ok()?;
            docs.insert(meta["_id"].as_str()?.to_owned(), source);
        } else {
            docs.remove(action.get("delete")?["_id"].as_str()?);
        }
    }
    Some(docs)
}

/// Counts the `index` and `delete` actions in an NDJSON sink file.
pub fn action_counts(path: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut index = 0;
    let mut delete = 0;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.starts_with("{\"index\"") {
            index += 1;
            lines.next();
        } else if l.starts_with("{\"delete\"") {
            delete += 1;
        }
    }
    (index, delete)
}

/// The real OpenSearch node for this test run: `INLET_TEST_OPENSEARCH` if set (scripts/test
/// starts one), else started here with tests/opensearch/start (idempotent; left running for
/// the other tests, stopped by scripts/test).
pub fn opensearch() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("INLET_TEST_OPENSEARCH") {
            return url;
        }
        let out = Command::new(root().join("tests/opensearch/start"))
            .output()
            .expect("run tests/opensearch/start");
        assert!(
            out.status.success(),
            "cannot start the OpenSearch test node:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
    .clone()
}

/// A minimal HTTP/1.1 client for talking to test servers: returns status and body.
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(authority).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `_count` of an index after a refresh.
pub fn count(url: &str, index: &str) -> u64 {
    http("POST", &format!("{url}/{index}/_refresh"), None);
    let (status, body) = http("GET", &format!("{url}/{index}/_count"), None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    v["count"].as_u64().expect("count")
}

/// A stand-in API server from `tests/ftest/fixtures/<name>/server.py` (the same one the
/// functional tests use), started on a free loopback port and killed on drop.
pub struct FixtureServer {
    child: std::process::Child,
    pub port: u16,
    /// `http://127.0.0.1:<port>`
    pub origin: String,
}

impl FixtureServer {
    /// Runs `server.py --port 0 <args>`; the server prints `PORT=<n>` first.
    pub fn start(name: &str, args: &[&str]) -> FixtureServer {
        use std::io::{BufRead, BufReader};
        let script = root().join(format!("tests/ftest/fixtures/{name}/server.py"));
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run python3 {}: {e}", script.display()));
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read PORT=");
        let port: u16 = first
            .trim()
            .strip_prefix("PORT=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{} printed {first:?}, not PORT=<n>", script.display()));
        FixtureServer {
            child,
            port,
            origin: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A `/_fixture/<action>` control call; returns its JSON answer.
    pub fn control(&self, method: &str, action: &str, body: Option<&str>) -> serde_json::Value {
        let (status, text) = http(method, &format!("{}/_fixture/{action}", self.origin), body);
        assert_eq!(status, 200, "{method} /_fixture/{action}: {text}");
        serde_json::from_str(&text).expect("the fixture answers JSON")
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails if `needle` (a secret) is in any file under `dir`.
pub fn assert_not_under(dir: &Path, needle: &str) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle:?} was written to {}",
                    p.display()
                );
            }
        }
    }
}

/// How many documents have each value of the string field `field`.
pub fn counts_by(
    docs: &std::collections::BTreeMap<String, serde_json::Value>,
    field: &str,
) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for d in docs.values() {
        *out.entry(d[field].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    out
}

/// A free loopback port (for `service.metrics.listen` and the like).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits (up to 30 s) until something listens on loopback `port`: a server a test started as a
/// child process on a port from [`free_port`].
pub fn wait_listening(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The adversarial `http_probe` test plugin in `into/plugins`, its manifest declaring
/// `http = <declared>` (a TOML array of origins); returns the plugins directory.
pub fn http_probe_dir(into: &Path, declared: &str) -> PathBuf {
    let plugins = plugin_dir(into, &["http_probe"]);
    std::fs::write(
        plugins.join("http_probe").join("plugin.toml"),
        format!(
            "service_type = \"http-probe\"\ncomponent = \"http_probe.wasm\"\n[permissions]\nhttp = {declared}\n"
        ),
    )
    .expect("rewrite plugin.toml");
    plugins
}

/// The body of `GET /metrics` on the admin port, if it answers 200.
pub fn metrics_text(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The JSON log (`--log-format json`) a running `inlet` writes to this file.
pub struct Log(pub PathBuf);

impl Log {
    /// Its complete lines so far.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.0).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The first line matching `what` (and its index), polling for up to 60 s.
    pub fn wait(
        &self,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> (usize, serde_json::Value) {
        self.wait_after(0, what, matches)
    }

    /// Like [`Log::wait`], among the lines from index `from` on.
    pub fn wait_after(
        &self,
        from: usize,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> (usize, serde_json::Value) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let lines = self.lines();
            if let Some(i) = (from..lines.len()).find(|&i| matches(&lines[i])) {
                return (i, lines[i].clone());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no log line for {what} within 60 s:\n{}",
                std::fs::read_to_string(&self.0).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// One full sync of the http-probe plugin (already in `tmp/plugins`) with `config` (its
/// `credentials:` and `connectors:` sections), at debug log level; asserts it succeeded and that
/// `secret` reached neither inlet's output nor its data directory. The sink's documents.
pub fn sync_probe_keeping_secret(
    tmp: &Path,
    config: &str,
    secret: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let config = write_config(tmp, config);
    let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["sync", "probe", "--json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "debug,wasmtime=warn,cranelift=warn,hyper=info")
        .output()
        .expect("run inlet");
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the secret reached inlet's output"
    );
    assert_not_under(&tmp.join("data"), secret);
    replay(&tmp.join("data/sink/search-probe.ndjson"))
}

/// One step of an http-probe script: a request with optional headers and body.
pub fn probe_request(
    id: &str,
    method: &str,
    url: String,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> serde_json::Value {
    let mut step = serde_json::json!({"id": id, "op": "http", "method": method, "url": url});
    if !headers.is_empty() {
        step["headers"] = headers
            .iter()
            .map(|(k, v)| serde_json::json!([k, v]))
            .collect();
    }
    if let Some(b) = body {
        step["body"] = serde_json::json!(b);
    }
    step
}
