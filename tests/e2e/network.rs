//! Enterprise networks, end to end (issue 15.4): brokered HTTP through a real HTTP proxy
//! (proxy.py, with Basic credentials held by the host), to a real TLS server whose certificate
//! comes from a private CA made here with `openssl`. The plugin is the adversarial
//! `test-http-probe`; the echo server answers each request with the path and headers it got.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;
use serde_json::Value;

const PROXY_USER: &str = "inlet";
const PROXY_PASSWORD: &str = "px-TOPSECRET-7d1";

/// Answers every GET with `{"path", "headers"}`; TLS when given a certificate and key.
const ECHO: &str = r#"
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
}

/// A private CA and a certificate for 127.0.0.1/localhost signed by it: (ca.pem, cert, key).
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |f: &str| dir.join(f);
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=Inlet test private CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.pem")));
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

/// The echo server (HTTPS with `tls`), and its port.
fn echo(tls: Option<(&Path, &Path)>) -> (KillOnDrop, u16) {
    let mut cmd = Command::new("python3");
    cmd.args(["-c", ECHO]);
    if let Some((cert, key)) = tls {
        cmd.arg(cert).arg(key);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("port");
    let port = line
        .trim()
        .parse()
        .expect("the echo server prints its port");
    (KillOnDrop(child), port)
}

/// proxy.py on a free port, requiring Basic credentials; its log (one line per request or
/// tunnel) goes to `log`.
fn proxy(log: &Path) -> (KillOnDrop, u16) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "proxy", "--hostname", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--num-workers", "1", "--num-acceptors", "1"])
        .args(["--basic-auth", &format!("{PROXY_USER}:{PROXY_PASSWORD}")])
        .arg("--log-file")
        .arg(log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("proxy.py (python3 -m pip install proxy.py; scripts/setup does)");
    let process = KillOnDrop(child);
    wait_listening(port, "proxy.py");
    (process, port)
}

struct Outcome {
    ok: bool,
    stderr: String,
    docs: std::collections::BTreeMap<String, Value>,
}

/// One sync of the probe with `script`, `network` under `inlet:`, extra `grants` lines and
/// environment variables.
fn probe(tmp: &Path, script: &Value, network: &str, grants: &str, env: &[(&str, &str)]) -> Outcome {
    http_probe_dir(tmp, r#"["http://*:*", "https://*:*"]"#);
    let config = write_config(
        tmp,
        &format!(
            "  network:\n{network}\nconnectors:\n  - connector_id: probe\n    service_type: http-probe\n    configuration:\n      script: '{script}'\n    grants:\n      http: [\"http://127.0.0.1:*\", \"https://127.0.0.1:*\"]\n{grants}"
        ),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
    cmd.args(["sync", "probe", "--json", "--config"])
        .arg(&config)
        .env(
            "RUST_LOG",
            "debug,wasmtime=warn,cranelift=warn,hyper=info,rustls=info",
        );
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run inlet");
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(
        !stdout.contains("TOPSECRET") && !stderr.contains("TOPSECRET"),
        "the proxy password reached inlet's output:\n{stdout}\n{stderr}"
    );
    assert_not_under(&tmp.join("data"), "TOPSECRET");
    Outcome {
        ok: out.status.success(),
        stderr,
        docs: replay(&tmp.join("data/sink/search-probe.ndjson")),
    }
}

fn get(id: &str, url: String) -> Value {
    serde_json::json!({"id": id, "op": "http", "url": url})
}

impl Outcome {
    fn doc(&self, id: &str) -> &Value {
        self.docs
            .get(id)
            .unwrap_or_else(|| panic!("no document {id}: {:?}\n{}", self.docs, self.stderr))
    }

    fn status(&self, id: &str) -> Option<u64> {
        self.doc(id)["status"].as_u64()
    }

    /// What the echo server saw, from the response body the plugin kept.
    fn seen(&self, id: &str) -> Value {
        let body = self.doc(id)["body"].as_str().unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{id}: body {body:?}: {e}"))
    }

    fn error(&self, id: &str) -> String {
        self.doc(id)["error"].to_string()
    }
}

fn yaml_path(p: &Path) -> String {
    p.to_str().expect("utf8").to_owned()
}

#[test]
fn a_source_behind_a_private_ca_is_trusted_only_with_its_ca_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = private_ca(tmp.path());
    let (_server, port) = echo(Some((&cert, &key)));
    let script = serde_json::json!([get("tls", format!("https://127.0.0.1:{port}/secure"))]);

    let without = probe(tmp.path(), &script, "    {}", "", &[]);
    assert!(without.ok, "{}", without.stderr);
    assert!(
        without.error("tls").contains("TlsCertificateError"),
        "the platform's roots do not know the private CA: {}",
        without.doc("tls")
    );

    let with = probe(
        tmp.path(),
        &script,
        "    {}",
        &format!("      http_ca_file: {}\n", yaml_path(&ca)),
        &[],
    );
    assert_eq!(with.status("tls"), Some(200), "{}", with.stderr);
    assert_eq!(with.seen("tls")["path"], "/secure");

    // The same CA for every connector, from `inlet.network.ca_file`.
    let global = probe(
        tmp.path(),
        &script,
        &format!("    ca_file: {}", yaml_path(&ca)),
        "",
        &[],
    );
    assert_eq!(global.status("tls"), Some(200), "{}", global.stderr);

    // A file that holds no certificate stops the sync before the plugin runs, naming the key.
    std::fs::write(tmp.path().join("not-a-ca.pem"), "hello\n").expect("write");
    let bad = probe(
        tmp.path(),
        &script,
        "    {}",
        &format!(
            "      http_ca_file: {}\n",
            yaml_path(&tmp.path().join("not-a-ca.pem"))
        ),
        &[],
    );
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("grants.http_ca_file")
            && bad.stderr.contains("holds no PEM certificate"),
        "{}",
        bad.stderr
    );
}

#[test]
fn requests_go_through_the_operators_proxy_with_credentials_only_the_proxy_sees() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = private_ca(tmp.path());
    let (_tls, tls_port) = echo(Some((&cert, &key)));
    let (_plain, plain_port) = echo(None);
    let log = tmp.path().join("proxy.log");
    let (_proxy, proxy_port) = proxy(&log);
    std::fs::write(
        tmp.path().join("proxy-password"),
        format!("{PROXY_PASSWORD}\n"),
    )
    .expect("write");
    let network = format!(
        "    proxy: http://127.0.0.1:{proxy_port}\n    proxy_username: {PROXY_USER}\n    proxy_password: {{file: proxy-password}}\n    no_proxy: []\n    ca_file: {}",
        yaml_path(&ca)
    );
    let script = serde_json::json!([
        get(
            "tunnel",
            format!("https://127.0.0.1:{tls_port}/through?x=1")
        ),
        get("plain", format!("http://127.0.0.1:{plain_port}/plain")),
    ]);
    let run = probe(tmp.path(), &script, &network, "", &[]);
    assert!(run.ok, "{}", run.stderr);
    // HTTPS: a CONNECT tunnel, TLS end to end (the private CA checked as the target's).
    assert_eq!(run.status("tunnel"), Some(200), "{}", run.doc("tunnel"));
    assert_eq!(run.seen("tunnel")["path"], "/through?x=1");
    // HTTP: the absolute-form request to the proxy, in origin form at the source.
    assert_eq!(run.status("plain"), Some(200), "{}", run.doc("plain"));
    assert_eq!(run.seen("plain")["path"], "/plain");
    for id in ["tunnel", "plain"] {
        let headers = run.seen(id)["headers"].to_string().to_ascii_lowercase();
        assert!(
            !headers.contains("proxy-authorization"),
            "{id}: the source saw the proxy's credentials: {headers}"
        );
    }
    let proxied = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        proxied.contains(&format!("CONNECT 127.0.0.1:{tls_port}"))
            && proxied.contains(&format!("127.0.0.1:{plain_port}/plain")),
        "the proxy carried both requests:\n{proxied}"
    );
    assert!(
        run.stderr.contains("brokered HTTP goes through a proxy"),
        "{}",
        run.stderr
    );

    // Wrong credentials: the proxy's 407 reaches the plugin as an error, the operator a hint.
    std::fs::write(tmp.path().join("proxy-password"), "wrong\n").expect("write");
    let refused = probe(tmp.path(), &script, &network, "", &[]);
    assert!(
        refused.error("tunnel").contains("407"),
        "{}",
        refused.doc("tunnel")
    );
    assert_eq!(
        refused.status("plain"),
        Some(407),
        "{}",
        refused.doc("plain")
    );
    assert!(
        refused.stderr.contains("the proxy refused its credentials"),
        "{}",
        refused.stderr
    );
}

#[test]
fn no_proxy_bypasses_the_proxy_and_the_environment_names_it_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (_plain, plain_port) = echo(None);
    let log = tmp.path().join("proxy.log");
    let (_proxy, proxy_port) = proxy(&log);
    let script = serde_json::json!([get("plain", format!("http://127.0.0.1:{plain_port}/env"))]);
    // From the environment, credentials in the URL (percent-encoded), as curl takes them.
    let url = format!("http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{proxy_port}");
    let run = probe(tmp.path(), &script, "    {}", "", &[("HTTP_PROXY", &url)]);
    assert_eq!(run.status("plain"), Some(200), "{}", run.stderr);
    let proxied = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        proxied.contains(&format!("127.0.0.1:{plain_port}/env")),
        "{proxied}"
    );

    // NO_PROXY names the source: straight there. The proxy is a port nothing listens on, so
    // the request succeeds only if it really bypassed the proxy.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let run = probe(
        tmp.path(),
        &script,
        "    {}",
        "",
        &[("HTTP_PROXY", &dead), ("NO_PROXY", "localhost,127.0.0.0/8")],
    );
    assert_eq!(run.status("plain"), Some(200), "{}", run.stderr);
    // Without NO_PROXY the same dead proxy is used, and the request fails.
    let run = probe(tmp.path(), &script, "    {}", "", &[("HTTP_PROXY", &dead)]);
    assert!(run.status("plain").is_none(), "{}", run.doc("plain"));
}
