//! The OneDrive connector (`plugins/onedrive`, JavaScript, with the Graph client it shares with
//! `sharepoint_online`), built from source with the JS SDK and run by the real `inlet` binary
//! against the Graph-shaped test server of the functional tests
//! (`tests/ftest/fixtures/onedrive/server.py`, small pages). The host fetches an OAuth2
//! client-credentials token from the server's Entra-ID-shaped token endpoint and injects it into
//! every Graph call; the plugin never sees the secret or the token.
//!
//! Checked: Elastic's documents for every licensed user's drive (and none for the users it does
//! not sync), file contents (exact bytes for the files Elastic extracts, none for the others, no
//! Graph token on the download origin), a 429 ridden out, delta-link incremental syncs (updates
//! and deletions, only changed files downloaded), a persistent 503 failing the sync without
//! deleting anything, document-level security (permissions and access-control documents),
//! Elastic's advanced rules (owners, extensions, path patterns) applied at the source, and the
//! form's client secret becoming a host credential that neither the plugin nor the data
//! directory ever holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

const TENANT: &str = "8b1e4f2a-6c3d-4e5f-9a0b-1c2d3e4f5a6b";
const CLIENT_ID: &str = "inlet-e2e-onedrive";
/// Searched for in everything the plugin could have seen or written.
const MARK: &str = "TOPSECRET";
const SECRET: &str = "onedrive-TOPSECRET-7d2c9e";
const SCOPE: &str = "https://graph.microsoft.com/.default";
/// Items the server generates, over its three users' drives.
const ITEMS: usize = 45;
/// The server's page size.
const PAGE: usize = 4;
/// Elastic's size limit for downloading a file.
const MAX_DOCUMENT_SIZE: u64 = 10_485_760;

/// The Graph test server (killed on drop).
struct Graph {
    server: FixtureServer,
    /// Its second port, standing in for `https://contoso-my.sharepoint.com` (file downloads).
    downloads: String,
}

impl Graph {
    fn start() -> Graph {
        let page = PAGE.to_string();
        let server = FixtureServer::start(
            "onedrive",
            &[
                "--tenant-id",
                TENANT,
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                SECRET,
                "--page-size",
                &page,
            ],
        );
        let downloads = server.control("GET", "state", None)["download_origin"]
            .as_str()
            .expect("download_origin")
            .to_owned();
        Graph { server, downloads }
    }

    fn control(&self, method: &str, action: &str, body: Option<&str>) -> Value {
        self.server.control(method, action, body)
    }

    fn load(&self) -> usize {
        self.control("POST", &format!("load?n={ITEMS}"), None)["expected"]
            .as_u64()
            .expect("expected") as usize
    }

    fn faults(&self, spec: Value) {
        self.control("POST", "faults", Some(&spec.to_string()));
    }

    /// A file's current name and bytes at the source.
    fn content(&self, id: &str) -> (String, Vec<u8>) {
        let c = self.control("GET", &format!("content?id={id}"), None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(c["base64"].as_str().expect("base64"))
            .expect("base64 from the fixture");
        (c["name"].as_str().expect("name").to_owned(), bytes)
    }

    /// Every live item at the source (not the roots): id → its description.
    fn items(&self) -> BTreeMap<String, Value> {
        self.control("GET", "items", None)
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| (i["id"].as_str().expect("id").to_owned(), i.clone()))
            .collect()
    }

    /// The request log since the last call (then cleared).
    fn take_requests(&self) -> Vec<Value> {
        let log = self.control("GET", "requests", None);
        self.control("DELETE", "requests", None);
        log.as_array().expect("a list").clone()
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    origin: String,
    downloads: String,
}

impl Setup {
    fn new(graph: &Graph) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        install_sdk_plugin("onedrive", &tmp.path().join("plugins"));
        Setup {
            tmp,
            origin: graph.server.origin.clone(),
            downloads: graph.downloads.clone(),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-od.ndjson")
    }

    fn acl_sink(&self) -> PathBuf {
        self.path()
            .join("data/sink/.search-acl-filter-search-od.ndjson")
    }

    /// config.yml with the operator's credential (a 0600-style secret file); `extra` is YAML
    /// under the connector (indented 4: sync rules) and `configuration` more values (indented 6).
    fn configure(&self, configuration: &str, extra: &str) {
        let origin = &self.origin;
        let secret_file = self.path().join("graph-secret");
        std::fs::write(&secret_file, SECRET).expect("write the secret file");
        write_config(
            self.path(),
            &format!(
                "credentials:\n  graph:\n    type: oauth2_client_credentials\n\
                 \x20   token_url: {origin}/{TENANT}/oauth2/v2.0/token\n    client_id: {CLIENT_ID}\n\
                 \x20   client_secret: {{file: {}}}\n    scopes: [\"{SCOPE}\"]\n    client_auth: body\n\
                 \x20   hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: od\n    service_type: onedrive\n    configuration:\n\
                 \x20     client_id: {CLIENT_ID}\n      tenant_id: {TENANT}\n      graph_endpoint: {origin}\n\
                 \x20     retry_count: 3\n{configuration}\
                 \x20   grants:\n      http: [\"{origin}\", \"{}\"]\n      credentials: [graph]\n{extra}",
                secret_file.display(),
                self.downloads
            ),
        );
    }

    /// Elastic's form as it is: the client secret in `configuration.client_secret`, no
    /// `credentials:` block; `http` is the YAML list of granted origins.
    fn configure_form(&self, secret: &str, http: &str) {
        let origin = &self.origin;
        write_config(
            self.path(),
            &format!(
                "connectors:\n  - connector_id: od\n    service_type: onedrive\n    configuration:\n\
                 \x20     client_id: {CLIENT_ID}\n      client_secret: \"{secret}\"\n      tenant_id: {TENANT}\n\
                 \x20     graph_endpoint: {origin}\n    grants:\n      http: {http}\n"
            ),
        );
    }

    /// The built plugin's `plugin.toml` with the origins of its form credential (Entra ID's token
    /// endpoint, Microsoft Graph) replaced by the test server's, which plays both: everything
    /// else of the declaration is the shipped one.
    fn point_form_credential_at_stand_in(&self) {
        let path = self.path().join("plugins/onedrive/plugin.toml");
        let shipped = std::fs::read_to_string(&path).expect("read the built plugin.toml");
        let token =
            "token_url = \"https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token\"";
        let hosts = "hosts = [\"https://graph.microsoft.com\"]";
        assert!(
            shipped.contains("[credentials.graph]")
                && shipped.contains(token)
                && shipped.contains(hosts)
                && shipped.contains("client_secret = \"{client_secret}\""),
            "the shipped form credential changed: {shipped}"
        );
        let origin = &self.origin;
        let text = shipped
            .replace(
                token,
                &format!("token_url = \"{origin}/{{tenant_id}}/oauth2/v2.0/token\""),
            )
            .replace(hosts, &format!("hosts = [\"{origin}\"]"));
        std::fs::write(&path, text).expect("write plugin.toml");
    }

    /// One sync; checks that the secret reached neither inlet's output nor its data directory.
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "od", "--json", "--type", kind, "--config"])
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

fn path_of(r: &Value) -> &str {
    r["path"].as_str().unwrap_or_default()
}

fn graph_calls(log: &[Value]) -> Vec<&Value> {
    log.iter()
        .filter(|r| path_of(r).starts_with("/v1.0/"))
        .collect()
}

/// The items whose download link was fetched (status 200), sorted.
fn downloaded(log: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = log
        .iter()
        .filter(|r| r["download"] == true && r["status"] == 200)
        .map(|r| r["item"].as_str().expect("item").to_owned())
        .collect();
    ids.sort();
    ids
}

/// Checks every document's `_attachment` against the source: `.txt` and `.pdf` files within
/// the limit carry exactly their bytes, `.png` and too large `.docx` files and folders none.
/// Returns the ids that carry content.
fn assert_contents(graph: &Graph, docs: &BTreeMap<String, Value>) -> Vec<String> {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with = Vec::new();
    for (id, d) in docs {
        let attachment = d.get("_attachment");
        if d["type"] == "folder" {
            assert!(attachment.is_none(), "{id}: folders have no content");
            continue;
        }
        let name = d["title"].as_str().expect("title");
        let size = d["size"].as_u64().expect("size");
        let kind = match (name.rsplit('.').next(), size <= MAX_DOCUMENT_SIZE) {
            (Some("txt" | "pdf"), true) => "extracted",
            (Some("png"), true) => "unsupported extension",
            (Some("docx"), false) => "too large",
            other => panic!("{id} {name} ({size} bytes): not a file the fixture makes ({other:?})"),
        };
        *kinds.entry(kind).or_default() += 1;
        if kind != "extracted" {
            assert!(attachment.is_none(), "{id} {name} ({kind}): no content");
            continue;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(
                attachment
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{id} {name}: no _attachment: {d}")),
            )
            .expect("_attachment is base64");
        let (source_name, source_bytes) = graph.content(id);
        assert_eq!(
            source_name, name,
            "{id}: the indexed name is the current one"
        );
        assert!(
            bytes == source_bytes,
            "{id} {name}: the indexed bytes differ"
        );
        with.push(id.clone());
    }
    assert!(
        ["extracted", "unsupported extension", "too large"]
            .iter()
            .all(|k| kinds.get(k).is_some_and(|&n| n > 0)),
        "the fixture has every kind of file: {kinds:?}"
    );
    with
}

#[test]
fn onedrive_connector_syncs_users_drives_through_the_broker() {
    let graph = Graph::start();
    let expected = graph.load();
    let source = graph.items();
    let setup = Setup::new(&graph);
    setup.configure("", "");
    graph.take_requests();

    // 1. Full sync, riding out one 429 on the second page of a drive's delta feed.
    graph.faults(json!({"throttle_once": "/drive/root/delta?since=0&until="}));
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected, "{report}");
    assert_eq!(report["stats"]["indexed"], expected, "{report}");
    // Exactly the items of the licensed users' drives (not the roots, not the other users').
    let want: BTreeSet<&String> = source
        .iter()
        .filter(|(_, i)| i["synced"] == true)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(docs.keys().collect::<BTreeSet<_>>(), want);
    assert_eq!(
        counts_by(&docs, "type"),
        BTreeMap::from([("file".to_owned(), 38), ("folder".to_owned(), 7)])
    );
    // Elastic's document for a drive item.
    let item = &docs["01USER300000008"];
    assert_eq!(
        item,
        &json!({
            "id": "01USER300000008", "type": "file", "title": "Document 8.txt",
            "created_at": "2024-01-01T16:48:00Z", "size": item["size"],
            "url": "https://contoso-my.sharepoint.com/personal/user3_contoso_onmicrosoft_com/Documents/Reports/Archive/Document%208.txt",
            "mime_type": "text/plain", "_timestamp": "2024-01-01T16:48:00Z",
            "_attachment": item["_attachment"],
        })
    );
    let text = base64::engine::general_purpose::STANDARD
        .decode(item["_attachment"].as_str().expect("content"))
        .expect("base64");
    assert_eq!(
        text,
        b"OneDrive document 8, revision 0: pack my box with five dozen liquor jugs.\n"
    );
    let with_content = assert_contents(&graph, &docs);
    assert!(
        !stderr.contains("tempauth"),
        "download links stay out of the logs"
    );
    assert_not_under(&setup.path().join("data"), "tempauth");

    let log = graph.take_requests();
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).ends_with("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(tokens.len(), 1, "one token, cached: {tokens:?}");
    assert_eq!(
        (
            &tokens[0]["client_id"],
            &tokens[0]["client_secret_ok"],
            &tokens[0]["scope"]
        ),
        (&json!(CLIENT_ID), &json!(true), &json!(SCOPE))
    );
    let calls = graph_calls(&log);
    let bearer = calls[0]["authorization"].as_str().unwrap_or_default();
    assert!(bearer.starts_with("Bearer eyJ0eXAi."), "{bearer}");
    assert!(
        calls.iter().all(|r| r["authorization"] == bearer),
        "every Graph call carries the host's token"
    );
    assert_not_under(&setup.path().join("data"), &bearer[7..]);
    // Users: the licensed, enabled ones, asked with the header Graph's $count filter needs, and
    // every page of them followed.
    let user_pages: Vec<&&Value> = calls
        .iter()
        .filter(|r| path_of(r).starts_with("/v1.0/users?"))
        .collect();
    assert_eq!(user_pages.len(), 4usize.div_ceil(PAGE), "{user_pages:?}");
    assert!(
        user_pages
            .iter()
            .all(|r| r["consistency_level"] == "eventual" && r["status"] == 200)
    );
    // The user without a OneDrive answered 404; the unlicensed and disabled ones were not asked.
    let drives_asked: BTreeSet<&str> = calls
        .iter()
        .filter(|r| path_of(r).contains("/drive/root/delta"))
        .map(|r| path_of(r).split('/').nth(3).expect("user id"))
        .collect();
    assert_eq!(drives_asked.len(), 4, "{drives_asked:?}");
    assert!(stderr.contains("has no OneDrive"), "{stderr}");
    // One 429, and the same page again.
    let limited: Vec<&&Value> = calls.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(limited.len(), 1, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|r| r["path"] == limited[0]["path"] && r["status"] == 200)
    );
    // Exactly the eligible files were downloaded, none with Authorization.
    assert_eq!(downloaded(&log), with_content);
    assert!(
        log.iter()
            .filter(|r| r["download"] == true)
            .all(|r| r["authorization"].is_null())
    );
    let cursor: Value =
        serde_json::from_str(report["cursor"].as_str().expect("a cursor")).expect("JSON");
    assert_eq!(
        cursor["user_drives"].as_object().map(|m| m.len()),
        Some(3),
        "a delta link per drive: {cursor}"
    );

    // 2. Incremental: 3 files deleted and 2 changed at the source; the delta links bring
    // exactly those changes, and only the changed files are downloaded again.
    let removed = graph.control("POST", "remove?n=3", None);
    let updated = graph.control("POST", "update?n=2", None);
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["deleted"], 3, "{report}");
    assert_eq!(report["stats"]["indexed"], 2, "{report}");
    let docs = replay(&setup.sink());
    assert_eq!(
        docs.len(),
        removed["expected"].as_u64().expect("n") as usize
    );
    for id in removed["removed"].as_array().expect("ids") {
        assert!(!docs.contains_key(id.as_str().expect("id")), "{id} deleted");
    }
    let mut changed: Vec<String> = updated["updated"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    changed.sort();
    for id in &changed {
        assert!(
            docs[id]["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Revised document")),
            "{}",
            docs[id]
        );
    }
    assert_contents(&graph, &docs);
    let log = graph.take_requests();
    let eligible: Vec<String> = changed
        .iter()
        .filter(|id| {
            let t = docs[*id]["title"].as_str().unwrap_or_default();
            t.ends_with(".txt") || t.ends_with(".pdf")
        })
        .cloned()
        .collect();
    assert_eq!(downloaded(&log), eligible, "only changed files are fetched");
    assert!(
        graph_calls(&log)
            .iter()
            .filter(|r| path_of(r).contains("/drive/root/delta"))
            .all(|r| path_of(r).contains("token=") || r["status"] == 404),
        "incremental syncs follow the delta links"
    );

    // 3. A persistent 503 fails the sync as a network error; nothing is deleted.
    let count = docs.len();
    graph
        .faults(json!({"fail": "/drive/root/delta", "status": 503, "times": 99, "retry_after": 0}));
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "network", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("503 after 3 retries")),
        "{report}"
    );
    assert_eq!(replay(&setup.sink()).len(), count, "nothing deleted");
    graph.faults(json!({}));

    // 4. Document-level security: the access-control sync writes one document per enabled user
    // (licensed or not); content documents carry their permissions' identities.
    setup.configure("      use_document_level_security: true\n", "");
    let (ok, report, stderr) = setup.sync("access-control");
    assert!(ok, "access-control sync failed: {report}\n{stderr}");
    let acl = replay(&setup.acl_sink());
    assert_eq!(
        acl.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "nodrive@contoso.onmicrosoft.com",
            "unlicensed@contoso.onmicrosoft.com",
            "user1@contoso.onmicrosoft.com",
            "user2@contoso.onmicrosoft.com",
            "user3@contoso.onmicrosoft.com",
        ]
    );
    let user1 = &acl["user1@contoso.onmicrosoft.com"];
    assert_eq!(
        user1["query"]["template"]["params"]["access_control"],
        json!([
            "email:user1@contoso.onmicrosoft.com",
            "user:user1@contoso.onmicrosoft.com",
            "user_id:000005e7-0000-4000-8000-000000000001",
            "group:0000a11c-0000-4000-8000-000000000001",
            "group:0000a11c-0000-4000-8000-000000000009"
        ])
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync with DLS failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    let user3 = "user_id:000005e7-0000-4000-8000-000000000003";
    assert_eq!(
        docs["01USER30000000E"]["_allow_access_control"],
        json!([user3]),
        "the owner only"
    );
    assert_eq!(
        docs["01USER300000008"]["_allow_access_control"],
        json!([user3, "group:0000a11c-0000-4000-8000-000000000001"]),
        "the owner and the group it is shared with"
    );
    assert!(
        docs.values().all(|d| d["_allow_access_control"]
            .as_array()
            .is_some_and(|a| !a.is_empty())),
        "every item carries its identities"
    );
}

/// `sync_rules.advanced` under the connector: JSON, which YAML reads as the same list.
fn rules(json: &str) -> String {
    format!(
        "    sync_rules:\n      advanced: {}\n",
        json.replace('\n', " ")
    )
}

#[test]
fn onedrive_advanced_rules_select_owners_extensions_and_folders_at_the_source() {
    let graph = Graph::start();
    graph.load();
    let source = graph.items();
    let setup = Setup::new(&graph);
    graph.take_requests();

    // user2's files under Reports' subfolders (wcmatch: `Reports/**` is below Reports), not
    // .pdf, and not in Archive; plus everything of user3's outside Archive.
    setup.configure(
        "",
        &rules(
            r#"[{"owners": ["user2@contoso.onmicrosoft.com"], "parentPathPattern": "/drive/root:/Reports/**", "skipFilesWithExtensions": [".pdf"]},
                {"owners": ["user3@contoso.onmicrosoft.com"], "notParentPathPattern": "**/Archive"}]"#,
        ),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    let want: BTreeSet<String> = source
        .iter()
        .filter(|(_, i)| {
            let (owner, path, name) = (
                i["owner"].as_str().unwrap_or_default(),
                i["path"].as_str().unwrap_or_default(),
                i["name"].as_str().unwrap_or_default(),
            );
            (owner == "user2@contoso.onmicrosoft.com"
                && path.starts_with("/drive/root:/Reports/")
                && !name.ends_with(".pdf"))
                || (owner == "user3@contoso.onmicrosoft.com" && !path.ends_with("/Archive"))
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert!(want.len() >= 10, "the rules select something: {want:?}");
    assert_eq!(docs.keys().cloned().collect::<BTreeSet<_>>(), want);
    // user1's drive (no rule applies) was never read.
    let log = graph.take_requests();
    assert!(
        !graph_calls(&log)
            .iter()
            .any(|r| path_of(r).contains("000005e7-0000-4000-8000-000000000001/drive")),
        "no request for a drive no rule applies to"
    );

    // An invalid rule fails the sync as a configuration error before any request, deleting
    // nothing.
    setup.configure("", &rules(r#"[{"owners": "user2"}]"#));
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "config", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("owners must be a non-empty list")),
        "{report}"
    );
    assert_eq!(graph.take_requests(), Vec::<Value>::new());
    assert_eq!(replay(&setup.sink()).len(), want.len(), "nothing deleted");
}

#[test]
fn onedrive_client_secret_from_the_form_stays_with_the_host() {
    let graph = Graph::start();
    let expected = graph.load();
    let setup = Setup::new(&graph);
    setup.point_form_credential_at_stand_in();
    let both = format!("[\"{}\", \"{}\"]", setup.origin, setup.downloads);
    setup.configure_form(SECRET, &both);
    graph.take_requests();

    // The form's secret, and no credentials: block: the host forms the credential, the token
    // endpoint receives the secret, Graph the host's token.
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    assert_eq!(replay(&setup.sink()).len(), expected);
    let log = graph.take_requests();
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).ends_with("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["client_secret_ok"], true);
    assert_eq!(tokens[0]["path"], format!("/{TENANT}/oauth2/v2.0/token"));
    assert!(
        graph_calls(&log).iter().all(|r| r["authorization"]
            .as_str()
            .is_some_and(|a| a.starts_with("Bearer eyJ0eXAi."))),
        "every Graph call carries the host's token"
    );

    // The token endpoint (here also Graph) not granted: refused before the plugin runs; the
    // source sees no request at all.
    setup.configure_form(SECRET, &format!("[\"{}\"]", setup.downloads));
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("connectors[0].grants.http")
            && error.contains(setup.origin.as_str())
            && error.contains("client_secret"),
        "{report}"
    );
    assert_eq!(graph.take_requests(), Vec::<Value>::new(), "no request");

    // No secret anywhere: Graph answers 401 and the plugin says where the secret goes.
    setup.configure_form("", &both);
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "auth", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("401") && e.contains("client_secret")),
        "{report}"
    );
}
