//! The SharePoint Online connector (`plugins/sharepoint_online`, JavaScript), built from source
//! with the JS SDK and run by the real `inlet` binary against the Graph-shaped test server of
//! the functional tests (`tests/ftest/fixtures/sharepoint_online/server.py`, small pages). The
//! host fetches an OAuth2 client-credentials token from the server's Entra-ID-shaped token
//! endpoint and injects it into every Graph call; the plugin never sees the secret or the token.
//! Checked: the documents and their ids, pagination, a 429 ridden out, delta-based incremental
//! syncs (updates and deletions), a persistent 503 failing the sync without deleting anything,
//! and clear errors for a missing grant or a wrong secret.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use support::*;

const TENANT: &str = "3c9f6a2e-51d4-4b8e-9a07-6f2d1e0c4b7a";
const CLIENT_ID: &str = "inlet-e2e-app";
/// Searched for in everything the plugin could have seen or written.
const MARK: &str = "TOPSECRET";
const SECRET: &str = "graph-TOPSECRET-4e8a1c";
const SCOPE: &str = "https://graph.microsoft.com/.default";
/// Drive items the server generates, over its two sites' drives.
const ITEMS: usize = 40;
/// The server's page size.
const PAGE: usize = 4;
const ENG_SITE: &str = "contoso.sharepoint.com,00005173-0000-4000-8000-000000000001,000003eb-0000-4000-8000-000000000001";
const ENG_DRIVE: &str = "b!engineering-drive-0001";

/// The Graph test server, a child process killed on drop.
struct Graph {
    child: Child,
    origin: String,
}

impl Graph {
    fn start() -> Graph {
        let server = root().join("tests/ftest/fixtures/sharepoint_online/server.py");
        let mut child = Command::new("python3")
            .arg(&server)
            .args([
                "--port",
                "0",
                "--tenant-id",
                TENANT,
                "--client-id",
                CLIENT_ID,
            ])
            .args(["--client-secret", SECRET, "--page-size", &PAGE.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3 server.py");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("read PORT=");
        let port = first
            .trim()
            .strip_prefix("PORT=")
            .unwrap_or_else(|| panic!("server.py printed {first:?}, not PORT=<n>"));
        Graph {
            child,
            origin: format!("http://127.0.0.1:{port}"),
        }
    }

    fn control(&self, method: &str, action: &str, body: Option<&str>) -> Value {
        let (status, text) = http(method, &format!("{}/_fixture/{action}", self.origin), body);
        assert_eq!(status, 200, "{action}: {text}");
        serde_json::from_str(&text).expect("fixture answers JSON")
    }

    fn faults(&self, spec: Value) {
        self.control("POST", "faults", Some(&spec.to_string()));
    }

    /// The request log since the last call (then cleared).
    fn take_requests(&self) -> Vec<Value> {
        let log = self.control("GET", "requests", None);
        self.control("DELETE", "requests", None);
        log.as_array().expect("a list").clone()
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    origin: String,
}

#[derive(Clone, Copy)]
struct Grants {
    http: bool,
    credential: bool,
    right_secret: bool,
}

const ALL: Grants = Grants {
    http: true,
    credential: true,
    right_secret: true,
};

impl Setup {
    fn new(origin: &str) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("plugins").join("sharepoint_online");
        let o = Command::new("node")
            .arg(root().join("sdk/js/build.mjs"))
            .arg(root().join("plugins/sharepoint_online"))
            .arg("-o")
            .arg(&dest)
            .current_dir(root())
            .output()
            .expect("run node sdk/js/build.mjs (run scripts/setup)");
        assert!(
            o.status.success(),
            "building plugins/sharepoint_online failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let setup = Setup {
            tmp,
            origin: origin.to_owned(),
        };
        setup.configure(ALL);
        setup
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-spo.ndjson")
    }

    fn configure(&self, g: Grants) {
        let origin = &self.origin;
        let secret_file = self.path().join("graph-secret");
        let secret = if g.right_secret {
            SECRET.to_owned()
        } else {
            format!("{SECRET}-wrong")
        };
        std::fs::write(&secret_file, secret).expect("write the secret file");
        let http = if g.http {
            format!("[\"{origin}\"]")
        } else {
            "[]".into()
        };
        let creds = if g.credential { "[graph]" } else { "[]" };
        write_config(
            self.path(),
            &format!(
                "credentials:\n  graph:\n    type: oauth2_client_credentials\n\
                 \x20   token_url: {origin}/{TENANT}/oauth2/v2.0/token\n    client_id: {CLIENT_ID}\n\
                 \x20   client_secret: {{file: {}}}\n    scopes: [\"{SCOPE}\"]\n    client_auth: body\n\
                 \x20   hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: spo\n    service_type: sharepoint_online\n    configuration:\n\
                 \x20     tenant_id: {TENANT}\n      tenant_name: contoso\n      client_id: {CLIENT_ID}\n\
                 \x20     site_collections: \"*\"\n      graph_endpoint: {origin}\n\
                 \x20   grants:\n      http: {http}\n      credentials: {creds}\n",
                secret_file.display()
            ),
        );
    }

    /// One sync; checks that the secret reached neither inlet's output nor its data directory.
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "spo", "--json", "--type", kind, "--config"])
            .arg(self.path().join("config.yml"))
            .env(
                "RUST_LOG",
                "debug,wasmtime=warn,cranelift=warn,hyper=info,rustls=info",
            )
            .output()
            .expect("run inlet");
        let (so, se) = (stdout(&out), stderr(&out));
        assert!(
            !so.contains(MARK) && !se.contains(MARK),
            "the secret reached inlet's output:\n{so}\n{se}"
        );
        assert_not_under(&self.path().join("data"), MARK);
        let report: Value = serde_json::from_str(&so)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {so}\n{se}"));
        (out.status.success(), report, se)
    }
}

/// Fails if `needle` is in any file under `dir`.
fn assert_not_under(dir: &Path, needle: &str) {
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

fn by_type(docs: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for d in docs.values() {
        *out.entry(d["object_type"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    out
}

fn path_of(r: &Value) -> &str {
    r["path"].as_str().unwrap_or_default()
}

#[test]
fn sharepoint_online_connector_syncs_graph_through_the_broker() {
    let graph = Graph::start();
    let expected = graph.control("POST", &format!("load?n={ITEMS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let setup = Setup::new(&graph.origin);
    graph.take_requests();

    // 1. Full sync, riding out one 429 on the second page of a drive's delta feed.
    graph.faults(json!({"throttle_once": "/root/delta?since=0&until="}));
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected, "{report}");
    assert_eq!(report["stats"]["indexed"], expected, "{report}");
    let want: BTreeMap<String, usize> = [
        ("site_collection", 1),
        ("site", 2),
        ("site_drive", 2),
        ("drive_item", ITEMS + 2), // the generated items and each drive's root
        ("site_list", 2),
        ("list_item", 10),
        ("site_page", 6),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(by_type(&docs), want);

    // Elastic's ids and fields.
    let sc = &docs["https://contoso.sharepoint.com"];
    assert_eq!(sc["object_type"], "site_collection");
    let site = &docs[ENG_SITE];
    assert_eq!(
        (&site["title"], &site["url"]),
        (
            &json!("Engineering"),
            &json!("https://contoso.sharepoint.com/sites/engineering")
        )
    );
    assert_eq!(docs[ENG_DRIVE]["object_type"], "site_drive");
    let item = &docs["01ENGINEERING00000002"];
    assert_eq!(item["object_type"], "drive_item");
    assert_eq!(item["id"], "01ENGINEERING00000002");
    assert_eq!(item["title"], "Document 2.txt");
    assert_eq!(item["lastModifiedDateTime"], "2024-01-01T16:42:00Z");
    assert_eq!(
        item["_timestamp"], item["lastModifiedDateTime"],
        "_timestamp is Graph's lastModifiedDateTime"
    );
    assert_eq!(item["parentReference"]["driveId"], ENG_DRIVE);
    assert!(
        item.get("@microsoft.graph.downloadUrl").is_none(),
        "pre-authenticated download links stay out of the index"
    );
    assert_eq!(docs["01ENGINEERING00000000"]["folder"]["childCount"], 0);
    let list_item = &docs["00001157-0000-4000-8000-000000000001-1"];
    assert_eq!(list_item["object_type"], "list_item");
    assert_eq!(list_item["title"], "Engineering announcement 1");
    let page = &docs[&format!("{ENG_SITE}-site_page-00009a6e-0000-4000-8000-000000000065")];
    assert_eq!(page["title"], "Engineering page 1");

    let log = graph.take_requests();
    // The host fetched one token with the client credentials (body auth), and injected it into
    // every Graph call; the plugin set no Authorization itself.
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).ends_with("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(tokens.len(), 1, "one token, cached: {tokens:?}");
    let t = tokens[0];
    assert_eq!(t["path"], format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        (
            &t["grant_type"],
            &t["client_id"],
            &t["client_secret_ok"],
            &t["scope"],
            &t["status"]
        ),
        (
            &json!("client_credentials"),
            &json!(CLIENT_ID),
            &json!(true),
            &json!(SCOPE),
            &json!(200)
        )
    );
    let calls: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).starts_with("/v1.0/"))
        .collect();
    let bearer = calls[0]["authorization"].as_str().unwrap_or_default();
    assert!(bearer.starts_with("Bearer eyJ0eXAi."), "{bearer}");
    assert!(
        calls.iter().all(|r| r["authorization"] == bearer),
        "every Graph call carries the host's token: {calls:?}"
    );
    assert_not_under(&setup.path().join("data"), &bearer[7..]);
    // One 429, then the same page again; every page of the engineering drive's delta fetched.
    let limited: Vec<&&Value> = calls.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(limited.len(), 1, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|r| r["path"] == limited[0]["path"] && r["status"] == 200),
        "the throttled page is fetched again"
    );
    let eng_delta = calls
        .iter()
        .filter(|r| path_of(r).contains("engineering-drive-0001/root/delta") && r["status"] == 200)
        .count();
    assert_eq!(
        eng_delta,
        (ITEMS / 2 + 1).div_ceil(PAGE),
        "every delta page followed"
    );
    assert!(
        calls
            .iter()
            .any(|r| path_of(r).contains("/items?") && path_of(r).contains("skiptoken")),
        "list items paginated: {calls:?}"
    );
    let cursor: Value =
        serde_json::from_str(report["cursor"].as_str().expect("a cursor")).expect("JSON");
    assert!(
        cursor["site_drives"][ENG_DRIVE]
            .as_str()
            .is_some_and(|l| l.contains("/root/delta?token=")),
        "the cursor keeps each drive's delta link: {cursor}"
    );

    // 2. Incremental: 3 files deleted and 2 renamed at the source; the delta links bring
    // exactly those changes (and the edited list items).
    let removed = graph.control("POST", "remove?n=3", None);
    let updated = graph.control("POST", "update?n=2", None);
    let expected = removed["expected"].as_u64().expect("expected") as usize;
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["deleted"], 3, "{report}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected, "{report}");
    for id in removed["removed"].as_array().expect("removed ids") {
        assert!(!docs.contains_key(id.as_str().expect("id")), "{id} deleted");
    }
    for id in updated["updated"].as_array().expect("updated ids") {
        let d = &docs[id.as_str().expect("id")];
        assert!(
            d["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Revised document")),
            "{d}"
        );
    }
    assert_eq!(
        docs["00001157-0000-4000-8000-000000000001-1"]["title"],
        "Engineering announcement 1 (edited)"
    );
    let log = graph.take_requests();
    let deltas: Vec<&str> = log
        .iter()
        .map(path_of)
        .filter(|p| p.contains("/root/delta"))
        .collect();
    assert!(
        deltas
            .iter()
            .all(|p| p.contains("token=") || p.contains("since=")),
        "incremental syncs follow the stored delta links, never a full delta: {deltas:?}"
    );

    // 3. A persistent 503 on the lists fails the sync after bounded retries; nothing is deleted.
    graph.faults(json!({"fail": "/lists", "status": 503, "times": 99, "retry_after": 1}));
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "a sync through persistent 503s must fail: {report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("503") && report["error_class"] == "network",
        "{report}"
    );
    assert!(stderr.contains("retry 5/5"), "{stderr}");
    assert_eq!(
        replay(&setup.sink()).len(),
        expected,
        "a failed sync deletes nothing"
    );
    graph.faults(json!({}));

    // 4. Missing grants and a wrong secret: clear errors, nothing deleted.
    setup.configure(Grants { http: false, ..ALL });
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("grants.http")),
        "{report}"
    );
    setup.configure(Grants {
        credential: false,
        ..ALL
    });
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "auth", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("401") && e.contains("grants.credentials")),
        "{report}"
    );
    setup.configure(Grants {
        right_secret: false,
        ..ALL
    });
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "auth", "{report}\n{stderr}");
    assert_eq!(
        replay(&setup.sink()).len(),
        expected,
        "failed syncs delete nothing"
    );
    let log = graph.take_requests();
    assert!(
        log.iter()
            .any(|r| r["client_secret_ok"] == false && r["status"] == 401),
        "the wrong secret reached the token endpoint and was refused: {log:?}"
    );
}
