//! The GitHub connector (`plugins/github`, Python), built from source with the Python SDK and
//! run by the real `inlet` binary against a local server that plays GitHub's REST API (GitHub
//! Server shape: `/api/v3/...`): `Link` pagination with small pages, bearer-token auth (the
//! host injects the token; the plugin never sees it) and one secondary rate limit (403 +
//! `Retry-After: 1`) that the connector must ride out.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::support::*;
use serde_json::{Value, json};

const MARK: &str = "TOPSECRET";
const TOKEN: &str = "ghp-TOPSECRET-9d3e1f";
/// Items per page, whatever `per_page` asks: several pages for every list.
const PAGE: usize = 2;

#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Option<String>,
    status: u16,
}

struct Issue {
    repo: &'static str,
    number: u64,
    title: String,
    pr: bool,
    updated_at: String,
}

struct State {
    port: u16,
    seen: Vec<Seen>,
    issues: Vec<Issue>,
    /// The first request whose target contains each `|`-separated part gets a 403 +
    /// `Retry-After: 1` (then this is cleared).
    rate_limit_once: Option<String>,
}

#[derive(Clone)]
struct GitHub {
    port: u16,
    state: Arc<Mutex<State>>,
}

const REPOS: &[&str] = &["octo/alpha", "octo/beta", "octo/gamma"];

impl GitHub {
    fn start() -> GitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        let mut issues = Vec::new();
        let mut add = |repo, number, pr, day: u32| {
            issues.push(Issue {
                repo,
                number,
                title: format!("{repo} #{number}"),
                pr,
                updated_at: format!("2024-01-{day:02}T00:00:00Z"),
            })
        };
        // alpha: 5 issues and 2 pull requests (4 pages); beta: 3 issues; gamma: 1 issue.
        for n in 1..=7 {
            add("octo/alpha", n, n >= 6, n as u32);
        }
        for n in 1..=3 {
            add("octo/beta", n, false, 10 + n as u32);
        }
        add("octo/gamma", 1, false, 20);
        let state = Arc::new(Mutex::new(State {
            port,
            seen: Vec::new(),
            issues,
            rate_limit_once: None,
        }));
        let server = GitHub { port, state };
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

    fn clear_seen(&self) {
        self.state.lock().expect("state").seen.clear();
    }

    fn serve(&self, conn: TcpStream) {
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut authorization = None;
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.trim_end().split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "authorization" {
                    authorization = Some(v.trim().to_owned());
                } else if k == "content-length" {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        let _ = reader.read_exact(&mut body);
        let (status, headers, body) = self.route(&target, authorization.as_deref());
        self.state.lock().expect("state").seen.push(Seen {
            target,
            authorization,
            status,
        });
        let mut out = conn;
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            403 => "Forbidden",
            409 => "Conflict",
            _ => "Not Found",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(body.as_bytes());
    }

    fn route(&self, target: &str, auth: Option<&str>) -> (u16, Vec<(String, String)>, String) {
        let mut st = self.state.lock().expect("state");
        if auth != Some(&*format!("Bearer {TOKEN}")) {
            return (
                401,
                vec![],
                json!({"message": "Requires authentication"}).to_string(),
            );
        }
        if let Some(marker) = st.rate_limit_once.clone()
            && marker.split('|').all(|m| target.contains(m))
        {
            st.rate_limit_once = None;
            return (
                403,
                vec![("Retry-After".into(), "1".into())],
                json!({"message": "You have exceeded a secondary rate limit."}).to_string(),
            );
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let q: BTreeMap<String, String> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), decode(v)))
            .collect();
        let Some(path) = path.strip_prefix("/api/v3") else {
            return (404, vec![], "{}".into());
        };
        let base = format!("http://127.0.0.1:{}", st.port);
        let repo_json = |name: &str| {
            json!({
                "full_name": name,
                "name": name.split('/').nth(1),
                "private": false,
                "html_url": format!("{base}/{name}"),
                "description": format!("The {name} repository"),
                "default_branch": "main",
                "updated_at": "2024-02-01T00:00:00Z",
                "pushed_at": "2024-02-01T00:00:00Z",
            })
        };
        if path == "/user/repos" {
            let all: Vec<Value> = REPOS.iter().map(|r| repo_json(r)).collect();
            return paginate(&base, path, &q, all);
        }
        let Some(rest) = path.strip_prefix("/repos/") else {
            return (404, vec![], "{}".into());
        };
        let mut parts = rest.splitn(3, '/');
        let repo = format!(
            "{}/{}",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        );
        if !REPOS.contains(&repo.as_str()) {
            return (404, vec![], json!({"message": "Not Found"}).to_string());
        }
        let tail = parts.next().unwrap_or_default();
        match tail {
            "" => (200, vec![], repo_json(&repo).to_string()),
            "issues" => {
                let since = q.get("since").cloned().unwrap_or_default();
                let mut items: Vec<&Issue> = st
                    .issues
                    .iter()
                    .filter(|i| i.repo == repo && i.updated_at >= since)
                    .collect();
                items.sort_by(|a, b| a.updated_at.cmp(&b.updated_at));
                let items = items
                    .into_iter()
                    .map(|i| {
                        let mut v = json!({
                            "number": i.number,
                            "title": i.title,
                            "body": format!("Body of {}", i.title),
                            "state": "open",
                            "html_url": format!("{base}/{repo}/issues/{}", i.number),
                            "user": {"login": "octocat"},
                            "labels": [{"name": "bug"}],
                            "assignees": [],
                            "created_at": "2024-01-01T00:00:00Z",
                            "updated_at": i.updated_at,
                        });
                        if i.pr {
                            v["pull_request"] = json!({"url": "x"});
                        }
                        v
                    })
                    .collect();
                paginate(&base, path, &q, items)
            }
            "git/trees/main" => {
                let tree = match repo.as_str() {
                    "octo/alpha" => json!([
                        {"path": "README.md", "type": "blob", "size": 20, "sha": "a1"},
                        {"path": "src", "type": "tree", "sha": "a2"},
                        {"path": "src/main.rs", "type": "blob", "size": 30, "sha": "a3"},
                        {"path": "logo.png", "type": "blob", "size": 900, "sha": "a4"},
                    ]),
                    "octo/beta" => json!([
                        {"path": "README.md", "type": "blob", "size": 20, "sha": "b1"},
                    ]),
                    // An empty repository has no tree.
                    _ => {
                        return (
                            409,
                            vec![],
                            json!({"message": "Git Repository is empty."}).to_string(),
                        );
                    }
                };
                (
                    200,
                    vec![],
                    json!({"sha": "t", "tree": tree, "truncated": false}).to_string(),
                )
            }
            t if t.starts_with("contents/") => {
                let file = decode(&t["contents/".len()..]);
                let text = format!("{repo}:{file} contents");
                (
                    200,
                    vec![],
                    json!({"type": "file", "encoding": "base64", "content": b64(text.as_bytes())})
                        .to_string(),
                )
            }
            _ => (404, vec![], json!({"message": "Not Found"}).to_string()),
        }
    }
}

/// One page of `items` (page size [`PAGE`]) with GitHub's `Link` header.
fn paginate(
    base: &str,
    path: &str,
    q: &BTreeMap<String, String>,
    items: Vec<Value>,
) -> (u16, Vec<(String, String)>, String) {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let chunk: Vec<Value> = items
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .cloned()
        .collect();
    let mut headers = vec![];
    if page * PAGE < items.len() {
        let mut next = q.clone();
        next.insert("page".into(), (page + 1).to_string());
        let query: Vec<String> = next.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let last = items.len().div_ceil(PAGE);
        headers.push((
            "Link".into(),
            format!(
                "<{base}/api/v3{path}?{}>; rel=\"next\", <{base}/api/v3{path}?page={last}>; rel=\"last\"",
                query.join("&")
            ),
        ));
    }
    (200, headers, Value::Array(chunk).to_string())
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn b64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------

struct Setup {
    tmp: tempfile::TempDir,
    port: u16,
}

impl Setup {
    fn new(port: u16) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        install_sdk_plugin("github", &tmp.path().join("plugins"));
        let setup = Setup { tmp, port };
        setup.configure(&["\"*\""], true);
        setup
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-gh.ndjson")
    }

    fn configure(&self, repositories: &[&str], grant_credentials: bool) {
        self.configure_with(repositories, grant_credentials, true);
    }

    fn configure_with(&self, repositories: &[&str], grant_credentials: bool, grant_http: bool) {
        let port = self.port;
        let http = if grant_http {
            format!("[\"http://127.0.0.1:{port}\"]")
        } else {
            "[]".to_owned()
        };
        let creds = if grant_credentials { "[gh]" } else { "[]" };
        write_config(
            self.path(),
            &format!(
                "credentials:\n  gh:\n    type: bearer\n    token: {TOKEN}\n    hosts: [\"http://127.0.0.1:{port}\"]\n\
                 connectors:\n  - connector_id: gh\n    service_type: github\n    configuration:\n\
                 \x20     data_source: github_server\n      host: http://127.0.0.1:{port}\n\
                 \x20     repositories: [{}]\n      retry_count: 3\n\
                 \x20   grants:\n      http: {http}\n      credentials: {creds}\n",
                repositories.join(", ")
            ),
        );
    }

    /// One sync; checks that the token reached neither inlet's output nor its data directory.
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let config = self.path().join("config.yml");
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "gh", "--json", "--type", kind, "--config"])
            .arg(&config)
            .env(
                "RUST_LOG",
                "debug,wasmtime=warn,cranelift=warn,hyper=info,rustls=info",
            )
            .output()
            .expect("run inlet");
        let (so, se) = (stdout(&out), stderr(&out));
        assert!(
            !so.contains(MARK) && !se.contains(MARK),
            "the token reached inlet's output:\n{so}\n{se}"
        );
        assert_not_under(&self.path().join("data"), MARK);
        let report: Value = serde_json::from_str(&so)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {so}\n{se}"));
        (out.status.success(), report, se)
    }
}

#[test]
fn github_connector_syncs_through_the_broker() {
    let gh = GitHub::start();
    let setup = Setup::new(gh.port);

    // 1. Full sync, riding out one secondary rate limit on page 2 of alpha's issues.
    gh.state.lock().expect("state").rate_limit_once =
        Some("/repos/octo/alpha/issues?|page=2".into());
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    let expected: BTreeMap<String, usize> = [
        ("Repository", 3),
        ("Issue", 9),
        ("Pull request", 2),
        ("File", 4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts_by(&docs, "type"), expected, "{report}");
    assert_eq!(docs["octo/alpha/issues/1"]["title"], "octo/alpha #1");
    assert_eq!(docs["octo/alpha/pull/7"]["type"], "Pull request");
    assert_eq!(docs["octo/gamma/issues/1"]["repository"], "octo/gamma");
    assert_eq!(
        docs["octo/alpha/blob/src/main.rs"]["body"],
        "octo/alpha:src/main.rs contents"
    );
    assert!(
        docs["octo/alpha/blob/logo.png"].get("body").is_none(),
        "binary files are indexed without content"
    );

    let seen = gh.seen();
    // The host injected the token into every request; the plugin could not have set it.
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&*format!("Bearer {TOKEN}"))),
        "{seen:?}"
    );
    // One 403 (rate limit), then the same page again; every page of every list was fetched.
    let limited: Vec<&Seen> = seen.iter().filter(|s| s.status == 403).collect();
    assert_eq!(limited.len(), 1, "{seen:?}");
    let retried = seen
        .iter()
        .filter(|s| s.target == limited[0].target && s.status == 200)
        .count();
    assert_eq!(
        retried, 1,
        "the rate-limited page is fetched again: {seen:?}"
    );
    let pages = |path: &str| -> Vec<String> {
        let mut p: Vec<String> = seen
            .iter()
            .filter(|s| s.status == 200 && s.target.split('?').next() == Some(path))
            .map(|s| {
                s.target
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("page="))
                    .unwrap_or("1")
                    .to_owned()
            })
            .collect();
        p.sort();
        p
    };
    assert_eq!(
        pages("/api/v3/repos/octo/alpha/issues"),
        ["1", "2", "3", "4"]
    );
    assert_eq!(pages("/api/v3/repos/octo/beta/issues"), ["1", "2"]);
    assert_eq!(pages("/api/v3/user/repos"), ["1", "2"]);

    // 2. An issue deleted at the source leaves the index at the next full sync.
    gh.state
        .lock()
        .expect("state")
        .issues
        .retain(|i| !(i.repo == "octo/alpha" && i.number == 2));
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "second full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert!(!docs.contains_key("octo/alpha/issues/2"), "{report}");
    assert_eq!(counts_by(&docs, "type")["Issue"], 8);
    assert_eq!(docs.len(), 17);

    // 3. Incremental: one issue changed since the cursor; only it is fetched again.
    {
        let mut st = gh.state.lock().expect("state");
        let issue = st
            .issues
            .iter_mut()
            .find(|i| i.repo == "octo/beta" && i.number == 1)
            .expect("beta #1");
        issue.title = "renamed".into();
        issue.updated_at = "2024-03-01T00:00:00Z".into();
    }
    gh.clear_seen();
    setup.configure(&["octo/alpha", "octo/beta", "octo/gamma"], true);
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["extracted"], 1, "{report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs["octo/beta/issues/1"]["title"], "renamed");
    assert_eq!(docs.len(), 17);
    let seen = gh.seen();
    assert!(
        seen.iter()
            .filter(|s| s.target.contains("/issues?"))
            .all(|s| s.target.contains("since=2024-01-20T00%3A00%3A00Z")),
        "incremental asks for issues since the cursor: {seen:?}"
    );
    assert!(
        !seen.iter().any(|s| s.target.contains("/git/trees/")),
        "{seen:?}"
    );

    // 4. Without the credential granted, GitHub answers 401: the sync fails as an auth error
    // and deletes nothing.
    setup.configure(&["\"*\""], false);
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "a sync without the token must fail: {report}");
    assert!(
        report.to_string().contains("401") || stderr.contains("401"),
        "{report}\n{stderr}"
    );
    assert_eq!(
        replay(&setup.sink()).len(),
        17,
        "a failed sync deletes nothing"
    );
    assert!(
        gh.seen()
            .iter()
            .any(|s| s.status == 401 && s.authorization.is_none())
    );
}

// ---------------------------------------------------------------------------------------------
// Advanced sync rules, against the functional tests' GitHub fixture
// (tests/ftest/fixtures/github/server.py), which plays GitHub's search API.

/// config.yml for connector `gh` against the fixture, with `rules` (YAML lines of the
/// `sync_rules.advanced` list, indented for it).
fn rules_config(setup: &Setup, port: u16, rules: &str) {
    write_config(
        setup.path(),
        &format!(
            "credentials:\n  gh:\n    type: bearer\n    token: {TOKEN}\n    hosts: [\"http://127.0.0.1:{port}\"]\n\
             connectors:\n  - connector_id: gh\n    service_type: github\n    configuration:\n\
             \x20     data_source: github_server\n      host: http://127.0.0.1:{port}\n\
             \x20     repositories: [ftest/repo-0]\n      retry_count: 3\n\
             \x20   grants:\n      http: [\"http://127.0.0.1:{port}\"]\n      credentials: [gh]\n\
             \x20   sync_rules:\n      advanced:\n{rules}"
        ),
    );
}

#[test]
fn github_advanced_rules_index_only_what_they_match() {
    let fixture = FixtureServer::start("github", &["--token", TOKEN]);
    let port = fixture.port;
    // 40 issues over ftest/repo-0..4: repo-1 and repo-2 each hold #1..#8; #4 and #8 are pull
    // requests, #3 and #6 closed; labels `bug` and `area-<number % 5>`.
    fixture.control("POST", "load?n=40", None);
    let setup = Setup::new(port);

    rules_config(
        &setup,
        port,
        "        - repository: ftest/repo-1\n          filter:\n            issue: \"is:open label:bug\"\n            pr: is:open\n            branch: dev\n\
         \x20       - repository: ftest/repo-2\n          filter:\n            issue: label:area-3\n",
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "advanced-rule sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    let ids: Vec<&str> = docs.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            // Each rule's repository document (Elastic indexes it too); not repo-0, which the
            // ignored `repositories` setting names.
            "ftest/repo-1",
            // The dev branch's files, not main's.
            "ftest/repo-1/blob/CHANGELOG.md",
            "ftest/repo-1/blob/README.md",
            // Open issues labelled bug (#3, #6 are closed; #4, #8 are pull requests).
            "ftest/repo-1/issues/1",
            "ftest/repo-1/issues/2",
            "ftest/repo-1/issues/5",
            "ftest/repo-1/issues/7",
            // Open pull requests.
            "ftest/repo-1/pull/4",
            "ftest/repo-1/pull/8",
            // label:area-3 matches #3 and #8, but #8 is a pull request and the rule asks for
            // issues; no branch: no files.
            "ftest/repo-2",
            "ftest/repo-2/issues/3",
        ],
        "{report}"
    );
    assert_eq!(docs["ftest/repo-1/blob/CHANGELOG.md"]["branch"], "dev");
    assert_eq!(docs["ftest/repo-1/pull/8"]["type"], "Pull request");

    // A rule of the wrong shape is refused before any sync, naming what is wrong.
    rules_config(
        &setup,
        port,
        "        - repository: ftest/repo-1\n          filter:\n            labels: bug\n",
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "an invalid rule set must be refused: {report}");
    let err = report["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("unknown filter key(s) labels"),
        "{report}\n{stderr}"
    );

    // A repository the token cannot see is refused, as Elastic's validator does.
    rules_config(
        &setup,
        port,
        "        - repository: ftest/nope\n          filter:\n            branch: main\n",
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(
        !ok,
        "a rule on an inaccessible repository must be refused: {report}"
    );
    let err = report["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("Inaccessible repositories 'ftest/nope'"),
        "{report}\n{stderr}"
    );
    // Refused syncs delete nothing.
    assert_eq!(replay(&setup.sink()).len(), 11);
}
