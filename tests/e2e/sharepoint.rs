//! The SharePoint Online connector (`plugins/sharepoint_online`, JavaScript), built from source
//! with the JS SDK and run by the real `inlet` binary against the Graph-shaped test server of
//! the functional tests (`tests/ftest/fixtures/sharepoint_online/server.py`, small pages). The
//! host fetches an OAuth2 client-credentials token from the server's Entra-ID-shaped token
//! endpoint and injects it into every Graph call; the plugin never sees the secret or the token.
//! Checked: the documents and their ids, pagination, a 429 ridden out, delta-based incremental
//! syncs (updates and deletions), a persistent 503 failing the sync without deleting anything,
//! and clear errors for a missing grant or a wrong secret. File contents: the server's second
//! port plays `<tenant>.sharepoint.com` (pre-authenticated download links, a different origin
//! from Graph); eligible files carry their exact bytes as `_attachment`, the others none, no
//! download carries the Graph token, and changed files' new bytes come with incremental syncs.
//! Elastic's advanced rule `skipExtractingDriveItemsOlderThan` (from config.yml's `sync_rules`):
//! old files indexed without content and never downloaded, invalid rules refused.
//!
//! Sensitive fields and form credentials: the guide's form as it is (the "Secret value" in
//! `configuration.secret_value`, no `credentials:` block) becomes a host-held OAuth2 credential
//! through the plugin's `[credentials.graph]`; sensitive values are withheld from a plugin
//! unless `grants.sensitive_fields` names them (the adversarial `http-probe` plugin reports what
//! it received); a manifest whose credential would send a form's secret to an origin the
//! operator did not grant fails before any request.
//!
//! Document-level security over Elastic's Certificate method: the host signs client assertions
//! with a key made by `openssl`, the server's token endpoint verifies them with the certificate
//! and issues SharePoint REST tokens only for them; identity documents, every document's
//! `_allow_access_control` from the server's role assignments and permissions, none without DLS.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use base64::Engine as _;
use serde_json::{Value, json};

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

/// The Graph test server (killed on drop).
struct Graph {
    server: FixtureServer,
    /// Its second port, standing in for `https://contoso.sharepoint.com` (file downloads).
    downloads: String,
}

impl Graph {
    fn start() -> Graph {
        let page = PAGE.to_string();
        let server = FixtureServer::start(
            "sharepoint_online",
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

    /// A file's current name and bytes at the source.
    fn content(&self, id: &str) -> (String, Vec<u8>) {
        let c = self.control("GET", &format!("content?id={id}"), None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(c["base64"].as_str().expect("base64"))
            .expect("base64 from the fixture");
        (c["name"].as_str().expect("name").to_owned(), bytes)
    }

    fn control(&self, method: &str, action: &str, body: Option<&str>) -> Value {
        self.server.control(method, action, body)
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

struct Setup {
    tmp: tempfile::TempDir,
    origin: String,
    downloads: String,
}

#[derive(Clone, Copy)]
struct Grants {
    http: bool,
    /// The download origin, on top of `http`.
    downloads: bool,
    credential: bool,
    right_secret: bool,
}

const ALL: Grants = Grants {
    http: true,
    downloads: true,
    credential: true,
    right_secret: true,
};

impl Setup {
    fn new(graph: &Graph) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        install_sdk_plugin("sharepoint_online", &tmp.path().join("plugins"));
        let setup = Setup {
            tmp,
            origin: graph.server.origin.clone(),
            downloads: graph.downloads.clone(),
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
        self.configure_rules(g, "");
    }

    /// `sync_rules` is YAML under the connector (`    sync_rules:\n      advanced: ...`).
    fn configure_rules(&self, g: Grants, sync_rules: &str) {
        let origin = &self.origin;
        let secret_file = self.path().join("graph-secret");
        let secret = if g.right_secret {
            SECRET.to_owned()
        } else {
            format!("{SECRET}-wrong")
        };
        std::fs::write(&secret_file, secret).expect("write the secret file");
        // The credential stays bound to the Graph origin only (`hosts`): the download origin is
        // granted to the connector, not to the credential.
        let http = match (g.http, g.downloads) {
            (true, true) => format!("[\"{origin}\", \"{}\"]", self.downloads),
            (true, false) => format!("[\"{origin}\"]"),
            (false, _) => "[]".into(),
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
                 \x20   grants:\n      http: {http}\n      credentials: {creds}\n{sync_rules}",
                secret_file.display()
            ),
        );
    }

    /// The built plugin's `plugin.toml` with the origins of its form credential (Entra ID's token
    /// endpoint, Microsoft Graph) replaced by the test server's, which plays both: everything
    /// else of the declaration (placeholders, scope, client authentication) is the shipped one.
    fn point_form_credential_at_stand_in(&self) {
        let path = self.path().join("plugins/sharepoint_online/plugin.toml");
        let shipped = std::fs::read_to_string(&path).expect("read the built plugin.toml");
        let token =
            "token_url = \"https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token\"";
        let hosts = "hosts = [\"https://graph.microsoft.com\"]";
        assert!(
            shipped.contains("[credentials.graph]")
                && shipped.contains(token)
                && shipped.contains(hosts)
                && shipped.contains("client_secret = \"{secret_value}\""),
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

    /// Elastic's connector-clients form for SharePoint, filled as the guide says, in
    /// `configuration:`; `grants` is the YAML of the connector's grants (indented 6).
    fn configure_form(&self, secret: &str, grants: &str, credentials: &str) {
        let origin = &self.origin;
        write_config(
            self.path(),
            &format!(
                "{credentials}connectors:\n  - connector_id: spo\n    service_type: sharepoint_online\n    configuration:\n\
                 \x20     tenant_id: {TENANT}\n      tenant_name: contoso\n      client_id: {CLIENT_ID}\n\
                 \x20     auth_method: secret\n      secret_value: \"{secret}\"\n\
                 \x20     site_collections: \"*\"\n      graph_endpoint: {origin}\n\
                 \x20   grants:\n{grants}"
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

fn path_of(r: &Value) -> &str {
    r["path"].as_str().unwrap_or_default()
}

/// Elastic's size limit for downloading a file (`MAX_DOCUMENT_SIZE`).
const MAX_DOCUMENT_SIZE: u64 = 10_485_760;
/// A generated file whose download the server answers with a 404 once (deleted meanwhile).
const VANISHING: &str = "01ENGINEERING00000004";
const VANISHING_UNIQUE_ID: &str = "0000f11e-0000-4000-8000-000000000004";

/// Checks every drive item's `_attachment`, as the embedded sink wrote it (base64), against the
/// file's bytes at the source: `.txt` and `.pdf` files within the limit carry exactly their
/// bytes, `.png` files (not an extension Elastic extracts), too large `.docx` files, folders and
/// the `without` ids none. Returns the ids that carry content.
fn assert_contents(graph: &Graph, docs: &BTreeMap<String, Value>, without: &[&str]) -> Vec<String> {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with = Vec::new();
    for (id, d) in docs
        .iter()
        .filter(|(_, d)| d["object_type"] == "drive_item")
    {
        let attachment = d.get("_attachment");
        if d.get("file").is_none() {
            assert!(attachment.is_none(), "{id}: folders have no content");
            continue;
        }
        let name = d["name"].as_str().expect("name");
        let size = d["size"].as_u64().expect("size");
        let kind = match (name.rsplit('.').next(), size <= MAX_DOCUMENT_SIZE) {
            (Some("txt" | "pdf"), true) => "extracted",
            (Some("png"), true) => "unsupported extension",
            (Some("docx"), false) => "too large",
            other => panic!("{id} {name} ({size} bytes): not a file the fixture makes ({other:?})"),
        };
        *kinds.entry(kind).or_default() += 1;
        if kind != "extracted" || without.contains(&id.as_str()) {
            assert!(
                attachment.is_none(),
                "{id} {name} ({kind}) must carry no content: {d}"
            );
            continue;
        }
        let encoded = attachment
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{id} {name}: no _attachment: {d}"));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("_attachment is base64");
        let (source_name, source_bytes) = graph.content(id);
        assert_eq!(
            source_name, name,
            "{id}: the indexed name is the current one"
        );
        assert!(
            bytes == source_bytes,
            "{id} {name}: the indexed bytes differ from the source's"
        );
        assert_eq!(bytes.len() as u64, size, "{id}");
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

/// The download requests in a request log (the server's second port).
fn downloads(log: &[Value]) -> Vec<&Value> {
    log.iter().filter(|r| r["download"] == true).collect()
}

#[test]
fn sharepoint_online_connector_syncs_graph_through_the_broker() {
    let graph = Graph::start();
    let expected = graph.control("POST", &format!("load?n={ITEMS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let setup = Setup::new(&graph);
    graph.take_requests();

    // 1. Full sync, riding out one 429 on the second page of a drive's delta feed; one file's
    // download answers 404 (as if deleted meanwhile).
    graph.faults(json!({
        "throttle_once": "/root/delta?since=0&until=",
        "fail": format!("UniqueId={VANISHING_UNIQUE_ID}"), "status": 404, "times": 1,
    }));
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
    assert_eq!(counts_by(&docs, "object_type"), want);

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
    // File contents: exact bytes for eligible files (text and binary), none for the others.
    let with_content = assert_contents(&graph, &docs, &[VANISHING]);
    let text = base64::engine::general_purpose::STANDARD
        .decode(
            item["_attachment"]
                .as_str()
                .expect("Document 2.txt has content"),
        )
        .expect("base64");
    assert_eq!(
        String::from_utf8(text).expect("UTF-8"),
        "Document 2, revision 0: the quick brown fox jumps over the lazy dog.\n"
    );
    let pdf = &docs["01MARKETING00000009"];
    assert_eq!(pdf["name"], "Document 9.pdf");
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(
            pdf["_attachment"]
                .as_str()
                .expect("Document 9.pdf has content"),
        )
        .expect("base64");
    assert!(
        pdf.starts_with(b"%PDF-1.4\n") && pdf[9..265].iter().copied().eq(0..=255u8),
        "binary bytes arrive unchanged"
    );
    assert!(
        stderr.contains("was not found for download"),
        "a file gone meanwhile is skipped with a warning: {stderr}"
    );
    assert!(docs[VANISHING].get("_attachment").is_none());
    assert!(
        !stderr.contains("tempauth"),
        "download links (their token) stay out of the logs"
    );
    assert_not_under(&setup.path().join("data"), "tempauth");
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
    // Every eligible file was fetched once from its download link, none carrying the Graph token
    // (the credential is bound to Graph's origin; the link is its own authorization), and never
    // through Graph's /content (the delta's link saves that call).
    let dl = downloads(&log);
    assert!(
        dl.iter().all(|r| r["authorization"].is_null()),
        "no download carries Authorization: {dl:?}"
    );
    let mut fetched: Vec<String> = dl
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["item"].as_str().expect("item").to_owned())
        .collect();
    fetched.sort();
    assert_eq!(
        fetched, with_content,
        "exactly the eligible files are downloaded"
    );
    assert_eq!(
        dl.iter().filter(|r| r["status"] == 404).count(),
        1,
        "{dl:?}"
    );
    assert!(
        !log.iter().any(|r| path_of(r).ends_with("/content")),
        "no Graph /content call"
    );
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
    // The updated files' new bytes came with the incremental sync (and only theirs were fetched).
    assert_contents(&graph, &docs, &[VANISHING]);
    let mut updated_ids: Vec<String> = updated["updated"]
        .as_array()
        .expect("updated ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    updated_ids.sort();
    for id in &updated_ids {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(docs[id]["_attachment"].as_str().expect("content"))
            .expect("base64");
        assert!(
            String::from_utf8_lossy(&bytes).contains(", revision 1:"),
            "{id}: the new content"
        );
    }
    let log = graph.take_requests();
    let dl = downloads(&log);
    assert!(dl.iter().all(|r| r["authorization"].is_null()), "{dl:?}");
    let mut fetched: Vec<String> = dl
        .iter()
        .map(|r| r["item"].as_str().unwrap_or("?").to_owned())
        .collect();
    fetched.sort();
    assert_eq!(
        fetched, updated_ids,
        "only the changed files are downloaded"
    );
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

    // 4. Missing grants and a wrong secret: clear errors, nothing deleted. Graph granted but not
    // the download origin: the first download fails the sync and names the grant.
    setup.configure(Grants {
        downloads: false,
        ..ALL
    });
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("grants.http")
            && error.contains(&graph.downloads)
            && !error.contains("tempauth"),
        "{report}"
    );
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

/// The drive items that carry `_attachment`, sorted.
fn with_attachment(docs: &BTreeMap<String, Value>) -> Vec<String> {
    docs.iter()
        .filter(|(_, d)| d["object_type"] == "drive_item" && d.get("_attachment").is_some())
        .map(|(id, _)| id.clone())
        .collect()
}

/// The items whose download link was fetched (status 200), sorted.
fn downloaded(log: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = downloads(log)
        .iter()
        .filter(|r| r["status"] == 200)
        .map(|r| r["item"].as_str().expect("item").to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

/// Elastic's advanced rule `{"skipExtractingDriveItemsOlderThan": N}`: files last modified more
/// than N days ago are indexed without content and never downloaded, in full and incremental
/// syncs; recent files carry theirs. Invalid rules fail the sync before any Graph call.
#[test]
fn sharepoint_online_advanced_rule_skips_old_files_contents() {
    let graph = Graph::start();
    graph.control("POST", &format!("load?n={ITEMS}"), None);
    // The generated files are dated from 2024-01-01; two (Documents 1 and 2, `.txt`) are
    // modified now.
    let recent = sorted_ids(&graph.control("POST", "update?n=2", None)["updated"]);
    let state = graph.control("GET", "state", None);
    let setup = Setup::new(&graph);
    let rule = |days: &str| {
        format!(
            "    sync_rules:\n      advanced:\n        skipExtractingDriveItemsOlderThan: {days}\n"
        )
    };
    setup.configure_rules(ALL, &rule("30"));
    graph.take_requests();

    // 1. Full sync: every item indexed; only the recent files' contents downloaded.
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    let items = docs
        .values()
        .filter(|d| d["object_type"] == "drive_item")
        .count();
    assert_eq!(items, ITEMS + 2, "old files are still indexed: {state}");
    let old: Vec<&str> = docs
        .keys()
        .filter(|id| !recent.contains(id))
        .map(String::as_str)
        .collect();
    // Checks the recent files' bytes against the source, and that the old ones (of every kind
    // that would otherwise be extracted) carry none.
    let with = assert_contents(&graph, &docs, &old);
    assert_eq!(with, recent, "only the recent files carry content");
    assert_eq!(with_attachment(&docs), recent);
    let old_doc = &docs["01MARKETING00000009"];
    assert_eq!(
        (&old_doc["name"], &old_doc["lastModifiedDateTime"]),
        (&json!("Document 9.pdf"), &json!("2024-01-01T16:49:00Z")),
        "an old, otherwise extracted file keeps its metadata"
    );
    assert!(old_doc.get("_attachment").is_none());
    assert_eq!(
        downloaded(&graph.take_requests()),
        recent,
        "old files are never downloaded"
    );
    assert!(
        stderr.contains("older than skipExtractingDriveItemsOlderThan indexed without content"),
        "{stderr}"
    );

    // 2. Incremental: two files change with an old date (as the delta feed can report), one
    // now; only the latter is downloaded.
    let changed_old = sorted_ids(
        &graph.control("POST", "update?n=2&modified=2024-06-01T00:00:00Z", None)["updated"],
    );
    let changed_now = sorted_ids(&graph.control("POST", "update?n=1", None)["updated"]);
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    for id in &changed_old {
        let d = &docs[id];
        assert!(
            d["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Revised document")),
            "{id} re-indexed: {d}"
        );
        assert!(d.get("_attachment").is_none(), "{id}: old, no content");
    }
    let mut want = recent.clone();
    want.extend(changed_now.iter().cloned());
    want.sort();
    assert_eq!(with_attachment(&docs), want);
    assert_contents(
        &graph,
        &docs,
        &docs
            .keys()
            .filter(|id| !want.contains(id))
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(downloaded(&graph.take_requests()), changed_now);

    // 3. Invalid rules (a negative age, an unknown key) fail the sync as configuration errors
    // before any request reaches the server, and delete nothing.
    let count = docs.len();
    for (rules, needle) in [
        (rule("-3"), "must be 0 or more days"),
        (
            "    sync_rules:\n      advanced:\n        skipExtractingDriveItemsOlderThen: 30\n"
                .to_owned(),
            "unknown advanced rule \"skipExtractingDriveItemsOlderThen\"",
        ),
        (rule("\"30\""), "must be a whole number of days"),
    ] {
        setup.configure_rules(ALL, &rules);
        let (ok, report, stderr) = setup.sync("full");
        assert!(!ok, "{rules}: {report}");
        assert_eq!(report["error_class"], "config", "{report}\n{stderr}");
        let error = report["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("skipExtractingDriveItemsOlderThan") && error.contains(needle),
            "{report}"
        );
        assert_eq!(graph.take_requests(), Vec::<Value>::new(), "{rules}");
        assert_eq!(replay(&setup.sink()).len(), count, "nothing deleted");
    }
}

/// Elastic's connector-clients guide as it is: the app's secret typed into the form's "Secret
/// value" (`configuration.secret_value`), no `credentials:` block. The host forms the Graph
/// credential from the plugin's `[credentials.graph]`: the token endpoint receives the secret,
/// Graph the host's bearer token, and nothing under the data directory (nor inlet's output)
/// holds the secret. Without the token endpoint's grant the sync fails before any request; a
/// granted config.yml credential wins over the form.
#[test]
fn sharepoint_online_secret_value_from_the_form_becomes_a_host_credential() {
    let graph = Graph::start();
    let expected = graph.control("POST", &format!("load?n={ITEMS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let setup = Setup::new(&graph);
    setup.point_form_credential_at_stand_in();
    let origin = &setup.origin;
    let both = format!("      http: [\"{origin}\", \"{}\"]\n", setup.downloads);
    setup.configure_form(SECRET, &both, "");
    graph.take_requests();

    // 1. The form's secret, and nothing else: the sync indexes everything.
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    assert_eq!(replay(&setup.sink()).len(), expected, "{report}");
    let log = graph.take_requests();
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).ends_with("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "one token, fetched by the host: {tokens:?}"
    );
    assert_eq!(
        (
            &tokens[0]["path"],
            &tokens[0]["client_id"],
            &tokens[0]["client_secret_ok"],
            &tokens[0]["scope"],
            &tokens[0]["status"]
        ),
        (
            &json!(format!("/{TENANT}/oauth2/v2.0/token")),
            &json!(CLIENT_ID),
            &json!(true),
            &json!(SCOPE),
            &json!(200)
        ),
        "the token endpoint received the form's secret"
    );
    let calls: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).starts_with("/v1.0/"))
        .collect();
    let bearer = calls[0]["authorization"].as_str().unwrap_or_default();
    assert!(bearer.starts_with("Bearer eyJ0eXAi."), "{bearer}");
    assert!(
        calls
            .iter()
            .all(|r| r["authorization"] == bearer && r["status"] == 200),
        "every Graph call carries the host's token: {calls:?}"
    );
    assert!(
        downloads(&log).iter().all(|r| r["authorization"].is_null()),
        "the credential stays bound to Graph's origin"
    );
    assert_not_under(&setup.path().join("data"), &bearer[7..]);

    // 2. The token endpoint's origin (here also Graph's) not granted: refused before the plugin
    // runs, naming the grant; the source sees no request at all.
    setup.configure_form(
        SECRET,
        &format!("      http: [\"{}\"]\n", setup.downloads),
        "",
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("connectors[0].grants.http")
            && error.contains(origin.as_str())
            && error.contains("secret_value"),
        "{report}\n{stderr}"
    );
    assert_eq!(graph.take_requests(), Vec::<Value>::new(), "no request");
    assert_eq!(replay(&setup.sink()).len(), expected, "nothing deleted");

    // 3. No secret anywhere: no credential is formed, Graph answers 401, and the plugin says
    // where the secret goes.
    setup.configure_form("", &both, "");
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "auth", "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("401") && error.contains("secret_value"),
        "{report}"
    );
    let log = graph.take_requests();
    assert!(
        !log.iter()
            .any(|r| path_of(r).ends_with("/oauth2/v2.0/token")),
        "no token requested without a secret: {log:?}"
    );

    // 4. A config.yml credential granted for Graph wins over the form (here a wrong secret in the
    // form, the right one in the operator's credential file).
    let secret_file = setup.path().join("graph-secret");
    std::fs::write(&secret_file, SECRET).expect("write the secret file");
    setup.configure_form(
        &format!("{SECRET}-wrong"),
        &format!("{}      credentials: [graph]\n", both),
        &format!(
            "credentials:\n  graph:\n    type: oauth2_client_credentials\n\
             \x20   token_url: {origin}/{TENANT}/oauth2/v2.0/token\n    client_id: {CLIENT_ID}\n\
             \x20   client_secret: {{file: {}}}\n    scopes: [\"{SCOPE}\"]\n    client_auth: body\n\
             \x20   hosts: [\"{origin}\"]\n",
            secret_file.display()
        ),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "{report}\n{stderr}");
    let log = graph.take_requests();
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).ends_with("/oauth2/v2.0/token"))
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(tokens[0]["client_secret_ok"], true, "the operator's secret");
    assert!(
        stderr.contains("the operator's credential wins"),
        "{stderr}"
    );
}

/// A plugin directory with the adversarial `http-probe` plugin, its `plugin.toml` replaced by
/// `manifest` when given.
fn probe_plugin(dir: &Path, manifest: Option<&str>) {
    let plugins = plugin_dir(dir, &["http_probe"]);
    if let Some(text) = manifest {
        std::fs::write(plugins.join("http_probe/plugin.toml"), text).expect("write plugin.toml");
    }
}

/// config.yml for one `http-probe` connector running `script`, with `decoy_pin` (a sensitive
/// field of the plugin) set to `pin`; `grants` is YAML indented 6.
fn probe_config(dir: &Path, script: &Value, pin: u32, grants: &str) {
    write_config(
        dir,
        &format!(
            "connectors:\n  - connector_id: probe\n    service_type: http-probe\n    configuration:\n\
             \x20     script: '{script}'\n      decoy_pin: {pin}\n    grants:\n{grants}"
        ),
    );
}

fn probe_sync(dir: &Path) -> (bool, Value, String) {
    let out = inlet(&[
        "sync",
        "probe",
        "--json",
        "--config",
        dir.join("config.yml").to_str().expect("utf-8 path"),
    ]);
    let report = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (out.status.success(), report, stderr(&out))
}

/// The `config` probe's view: every configuration value the plugin received, by key.
fn received(dir: &Path) -> BTreeMap<String, String> {
    let docs = replay(&dir.join("data/sink/search-probe.ndjson"));
    docs["seen"]["config"]
        .as_array()
        .expect("the config probe ran")
        .iter()
        .map(|kv| {
            (
                kv[0].as_str().expect("key").to_owned(),
                kv[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

/// A sensitive field (`decoy_pin` of the probe) is checked but not handed to the plugin unless
/// the operator lists it in `grants.sensitive_fields`; a listed key the plugin does not have is
/// warned about.
#[test]
fn sensitive_fields_are_withheld_unless_granted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    probe_plugin(tmp.path(), None);
    let script = json!([{"id": "seen", "op": "config"}]);
    const PIN: u32 = 907_153;

    probe_config(tmp.path(), &script, PIN, "      http: []\n");
    let (ok, report, stderr) = probe_sync(tmp.path());
    assert!(ok, "{report}\n{stderr}");
    let seen = received(tmp.path());
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        vec!["script"],
        "the sensitive value is withheld: {seen:?}"
    );
    assert_not_under(&tmp.path().join("data"), &PIN.to_string());

    probe_config(
        tmp.path(),
        &script,
        PIN,
        "      sensitive_fields: [decoy_pin, no_such_field]\n",
    );
    let (ok, report, stderr) = probe_sync(tmp.path());
    assert!(ok, "{report}\n{stderr}");
    assert_eq!(
        received(tmp.path()).get("decoy_pin").map(String::as_str),
        Some(PIN.to_string().as_str()),
        "granted, it is handed over"
    );
    assert!(
        stderr.contains("grants.sensitive_fields[1] = \"no_such_field\""),
        "{stderr}"
    );
}

/// True once something connected to `listener` (non-blocking).
fn was_contacted(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).expect("non-blocking");
    listener.accept().is_ok()
}

/// A hostile manifest: a form credential that would send the form's sensitive value somewhere
/// the operator did not grant. Each variant fails before the plugin makes a request (the probe's
/// script would reach a granted origin first thing), before the token endpoint is asked, and
/// with the grant or manifest key to look at.
#[test]
fn a_hostile_form_credential_fails_before_any_request() {
    let granted = TcpListener::bind("127.0.0.1:0").expect("bind");
    let evil = TcpListener::bind("127.0.0.1:0").expect("bind");
    let granted_origin = format!(
        "http://127.0.0.1:{}",
        granted.local_addr().expect("addr").port()
    );
    let evil_origin = format!(
        "http://127.0.0.1:{}",
        evil.local_addr().expect("addr").port()
    );
    let head = "service_type = \"http-probe\"\ncomponent = \"http_probe.wasm\"\n[permissions]\nhttp = [\"http://*:*\"]\n[credentials.steal]\n";
    let script = json!([{"id": "reach", "op": "http", "url": format!("{granted_origin}/x")}]);
    for (variant, declaration, needles) in [
        (
            "bound to an origin that is not granted",
            format!("type = \"bearer\"\ntoken = \"{{decoy_pin}}\"\nhosts = [\"{evil_origin}\"]\n"),
            vec!["connectors[0].grants.http".to_owned(), evil_origin.clone()],
        ),
        (
            "a token endpoint that is not granted",
            format!(
                "type = \"oauth2_client_credentials\"\ntoken_url = \"{evil_origin}/oauth2/token\"\nclient_id = \"probe\"\nclient_secret = \"{{decoy_pin}}\"\nhosts = [\"{granted_origin}\"]\n"
            ),
            vec!["connectors[0].grants.http".to_owned(), evil_origin.clone()],
        ),
        (
            "a placeholder in the token endpoint's host",
            "type = \"oauth2_client_credentials\"\ntoken_url = \"http://{script}/token\"\nclient_id = \"probe\"\nclient_secret = \"{decoy_pin}\"\nhosts = [\"http://127.0.0.1:9\"]\n".to_owned(),
            vec!["credentials.steal.token_url".to_owned(), "never in the scheme or host".to_owned()],
        ),
        (
            "the sensitive value in the token endpoint's path",
            format!(
                "type = \"oauth2_client_credentials\"\ntoken_url = \"{granted_origin}/{{decoy_pin}}/token\"\nclient_id = \"probe\"\nclient_secret = \"{{script}}\"\nhosts = [\"{granted_origin}\"]\n"
            ),
            vec!["decoy_pin".to_owned(), "credentials.steal.token_url".to_owned()],
        ),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        probe_plugin(tmp.path(), Some(&format!("{head}{declaration}")));
        probe_config(
            tmp.path(),
            &script,
            4242,
            &format!("      http: [\"{granted_origin}\"]\n"),
        );
        let (ok, report, stderr) = probe_sync(tmp.path());
        assert!(!ok, "{variant}: {report}\n{stderr}");
        let said = format!("{report}\n{stderr}");
        for needle in &needles {
            assert!(said.contains(needle.as_str()), "{variant}: no {needle:?} in {said}");
        }
        assert!(!was_contacted(&evil), "{variant}: the ungranted origin was contacted");
        assert!(!was_contacted(&granted), "{variant}: the plugin ran a request");
        assert!(
            replay(&tmp.path().join("data/sink/search-probe.ndjson")).is_empty(),
            "{variant}: no document"
        );
    }
}

// Document-level security over the certificate credential (issue 17). The server registers a
// certificate made here with `openssl`; its token endpoint verifies each client assertion with
// the certificate's public key and issues SharePoint REST tokens for verified assertions only;
// its REST API (on the second port, the tenant's SharePoint host) refuses any other token.

/// `certificate` and `private_key` as a YAML block scalar under `configuration:`.
fn yaml_block(key: &str, pem: &str) -> String {
    let body: String = pem.lines().map(|l| format!("        {l}\n")).collect();
    format!("      {key}: |\n{body}")
}

/// An RSA key and a self-signed certificate for it, made by `openssl` in `dir`.
fn openssl_key_and_certificate(dir: &Path, stem: &str) -> (String, String) {
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=inlet-e2e-sharepoint", "-keyout"])
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

const UPN: &str = "contoso.onmicrosoft.com";
const GROUP_ENG: &str = "9e0a7a51-0000-4000-8000-00000000e001";
const MKT_SITE: &str = "contoso.sharepoint.com,00005173-0000-4000-8000-000000000002,000003eb-0000-4000-8000-000000000002";
const ENG_LIST: &str = "00001157-0000-4000-8000-000000000001";
const MKT_LIST: &str = "00001157-0000-4000-8000-000000000002";

/// `user:` and `email:` of a member of the tenant, as Elastic writes a SharePoint user.
fn person(name: &str) -> [String; 2] {
    [format!("email:{name}@{UPN}"), format!("user:{name}@{UPN}")]
}

fn sorted(mut v: Vec<String>) -> Value {
    v.sort();
    v.dedup();
    json!(v)
}

impl Setup {
    /// The shipped certificate credentials (`graph_certificate`, `sharepoint_rest`) pointed at
    /// the stand-in: its token endpoint and Graph, and its second port for the tenant's
    /// SharePoint host (`https://{tenant_name}.sharepoint.com`); everything else as shipped.
    fn point_certificate_credentials_at_stand_in(&self) {
        self.point_form_credential_at_stand_in();
        let path = self.path().join("plugins/sharepoint_online/plugin.toml");
        let text = std::fs::read_to_string(&path).expect("read plugin.toml");
        let rest = "hosts = [\"https://{tenant_name}.sharepoint.com\"]";
        for shipped in [
            "[credentials.graph_certificate]",
            "[credentials.sharepoint_rest]",
            rest,
            "scopes = [\"https://{tenant_name}.sharepoint.com/.default\"]",
            "certificate = \"{certificate}\"",
            "private_key = \"{private_key}\"",
        ] {
            assert!(
                text.contains(shipped),
                "the shipped manifest lost {shipped}: {text}"
            );
        }
        let text = text.replace(rest, &format!("hosts = [\"{}\"]", self.downloads));
        std::fs::write(&path, text).expect("write plugin.toml");
    }

    /// Elastic's form with the Certificate method (no secret anywhere) and `extra` fields.
    fn configure_certificate(&self, key: &str, certificate: &str, extra: &str) {
        let origin = &self.origin;
        write_config(
            self.path(),
            &format!(
                "connectors:\n  - connector_id: spo\n    service_type: sharepoint_online\n    configuration:\n\
                 \x20     tenant_id: {TENANT}\n      tenant_name: contoso\n      client_id: {CLIENT_ID}\n\
                 \x20     auth_method: certificate\n{}{}\
                 \x20     site_collections: \"*\"\n      graph_endpoint: {origin}\n{extra}\
                 \x20   grants:\n      http: [\"{origin}\", \"{}\"]\n",
                yaml_block("certificate", certificate),
                yaml_block("private_key", key),
                self.downloads
            ),
        );
    }

    fn acl_sink(&self) -> PathBuf {
        self.path()
            .join("data/sink/.search-acl-filter-search-spo.ndjson")
    }
}

#[test]
fn sharepoint_online_dls_from_role_assignments_over_the_certificate() {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, certificate) = openssl_key_and_certificate(keys.path(), "app");
    let cert_path = keys.path().join("app.crt");
    let page = PAGE.to_string();
    let server = FixtureServer::start(
        "sharepoint_online",
        &[
            "--tenant-id",
            TENANT,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            SECRET,
            "--page-size",
            &page,
            "--rest",
            "--certificate",
            cert_path.to_str().expect("UTF-8 path"),
        ],
    );
    let downloads = server.control("GET", "state", None)["download_origin"]
        .as_str()
        .expect("download_origin")
        .to_owned();
    let graph = Graph { server, downloads };
    let expected = graph.control("POST", &format!("load?n={ITEMS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let setup = Setup::new(&graph);
    setup.point_certificate_credentials_at_stand_in();
    let dls = "      use_document_level_security: true\n";
    setup.configure_certificate(&key, &certificate, dls);
    graph.take_requests();
    let key_line = key.lines().nth(2).expect("a key line").to_owned();

    // 1. The access-control sync: one identity document per user, Elastic's shape.
    let (ok, report, stderr) = setup.sync("access-control");
    assert!(ok, "access-control sync failed: {report}\n{stderr}");
    let acl = replay(&setup.acl_sink());
    assert_eq!(
        acl.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            format!("alice@{UPN}"),
            format!("bob@{UPN}"),
            format!("carol@{UPN}"),
            format!("dave@{UPN}"),
        ]
    );
    let alice = &acl[&format!("alice@{UPN}")];
    assert_eq!(
        alice["identity"],
        json!({"email": format!("email:alice@{UPN}"), "username": format!("user:alice@{UPN}"), "user_id": "user_id:u-alice"})
    );
    assert_eq!(
        alice["query"]["template"]["params"]["access_control"],
        json!([
            format!("email:alice@{UPN}"),
            format!("user:alice@{UPN}"),
            "user_id:u-alice",
            format!("group:{GROUP_ENG}")
        ])
    );
    assert!(
        alice["query"]["template"]["source"]
            .as_str()
            .is_some_and(|s| s.contains("_allow_access_control.keyword")),
        "{alice}"
    );
    // bob is in 25 groups: past `$expand`'s 20, paged from /users/{id}/transitiveMemberOf.
    let bob = acl[&format!("bob@{UPN}")]["query"]["template"]["params"]["access_control"]
        .as_array()
        .expect("a list")
        .clone();
    assert_eq!(
        bob.iter()
            .filter(|v| v.as_str().is_some_and(|s| s.starts_with("group:g-")))
            .count(),
        25
    );
    // dave has no mail: the user name is the `_id`, the e-mail identity null.
    assert_eq!(
        acl[&format!("dave@{UPN}")]["identity"]["email"],
        Value::Null
    );

    // 2. A full sync: every document but the site collection carries its readers.
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync with DLS failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    // Items 16 and 33 have no permission at all: left out, where Elastic would make them public.
    let nobody = ["01ENGINEERING00000010", "01MARKETING00000021"];
    assert_eq!(docs.len(), expected - nobody.len(), "{report}");
    for id in nobody {
        assert!(
            !docs.contains_key(id),
            "{id}: nobody may read it, yet it is indexed"
        );
    }
    assert!(
        docs["https://contoso.sharepoint.com"]
            .get("_allow_access_control")
            .is_none()
    );

    let admins: Vec<String> = [person("carol"), person("dave")].concat();
    let readers = |extra: &[&str]| {
        let mut v: Vec<String> = [person("alice"), person("carol"), person("olivia")].concat();
        v.extend([format!("group:{GROUP_ENG}"), "user_id:u-olivia".to_owned()]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let eng = readers(&[]);
    let mkt = readers(&["group:EveryoneExceptExternalUsers"]);
    let acl_of = |id: &str| docs[id]["_allow_access_control"].clone();
    // Sites and drives: the site's role assignments (guest bob has no view access).
    assert_eq!(acl_of(ENG_SITE), sorted(eng.clone()));
    assert_eq!(acl_of(MKT_SITE), sorted(mkt.clone()));
    assert_eq!(acl_of(ENG_DRIVE), sorted(eng.clone()));
    // Lists: engineering's has unique role assignments (erin); marketing's inherits. Both add
    // the site's administrators (the owner carol, the collection administrator dave).
    assert_eq!(
        acl_of(ENG_LIST),
        sorted([person("erin").to_vec(), admins.clone()].concat())
    );
    assert_eq!(
        acl_of(MKT_LIST),
        sorted([mkt.clone(), admins.clone()].concat())
    );
    // List items: item 1 is unique (frank), the others inherit.
    assert_eq!(
        acl_of(&format!("{ENG_LIST}-1")),
        sorted([person("frank").to_vec(), admins.clone()].concat())
    );
    assert_eq!(
        acl_of(&format!("{MKT_LIST}-2")),
        sorted([mkt.clone(), admins.clone()].concat())
    );
    // Pages: page 1 is unique (the "Page editors" group's grace), the others inherit.
    let page = |site: &str, n: u32| format!("{site}-site_page-00009a6e-0000-4000-8000-{n:012x}");
    assert_eq!(
        acl_of(&page(ENG_SITE, 101)),
        sorted([person("grace").to_vec(), admins.clone()].concat())
    );
    assert_eq!(
        acl_of(&page(ENG_SITE, 102)),
        sorted([eng.clone(), admins.clone()].concat())
    );
    // Drive items: their Graph permissions, site group 7 expanded through the REST API.
    let mut items = 0;
    for (id, d) in docs
        .iter()
        .filter(|(_, d)| d["object_type"] == "drive_item")
    {
        let mut want = person("author").to_vec();
        want.push("user_id:u-author".into());
        if let Some(k) = id
            .get(id.len() - 8..)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
        {
            if k % 3 == 0 {
                want.push(format!("group:{GROUP_ENG}"));
            }
            if k % 5 == 0 {
                want.extend(person("heidi"));
            }
        }
        assert_eq!(d["_allow_access_control"], sorted(want), "{id}");
        items += 1;
    }
    assert_eq!(items, ITEMS + 2 - nobody.len());
    // Files' contents still come along.
    assert_contents(&graph, &docs, &[]);

    let log = graph.take_requests();
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).ends_with("/oauth2/v2.0/token"))
        .collect();
    let scopes: Vec<&str> = tokens.iter().filter_map(|t| t["scope"].as_str()).collect();
    assert!(
        tokens
            .iter()
            .all(|t| t["assertion_ok"] == true && t["status"] == 200),
        "every token came from a verified assertion: {tokens:?}"
    );
    assert!(
        scopes.contains(&SCOPE) && scopes.contains(&"https://contoso.sharepoint.com/.default"),
        "{scopes:?}"
    );
    let rest: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).contains("/_api/web"))
        .collect();
    assert!(
        rest.len() > 20,
        "role assignments were read: {}",
        rest.len()
    );
    assert!(
        rest.iter().all(|r| r["status"] == 200),
        "the REST API took every token: {rest:?}"
    );
    assert_not_under(&setup.path().join("data"), &key_line);
    assert!(!stderr.contains(&key_line));

    // 3. Without DLS: no readers, no REST call.
    setup.configure_certificate(&key, &certificate, "");
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync without DLS failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected);
    assert!(
        docs.values()
            .all(|d| d.get("_allow_access_control").is_none())
    );
    let log = graph.take_requests();
    assert!(
        !log.iter().any(|r| path_of(r).contains("/_api/")),
        "no REST call without DLS"
    );

    // 4. A certificate the app did not register: the token endpoint refuses its assertion, and
    // the sync fails as an authentication problem.
    let (other_key, other_certificate) = openssl_key_and_certificate(keys.path(), "other");
    setup.configure_certificate(&other_key, &other_certificate, dls);
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    let log = graph.take_requests();
    assert!(
        log.iter()
            .any(|r| path_of(r).ends_with("/oauth2/v2.0/token")
                && r["status"] == 401
                && r["assertion_ok"] == false),
        "{log:?}"
    );
    assert!(
        !log.iter()
            .any(|r| path_of(r).contains("/_api/") && r["status"] == 200)
    );

    // 5. DLS with the client secret: refused before any request, saying why.
    setup.configure_form(
        SECRET,
        &format!(
            "      http: [\"{}\", \"{}\"]\n",
            setup.origin, setup.downloads
        ),
        "",
    );
    let config = std::fs::read_to_string(setup.path().join("config.yml")).expect("config");
    let connectors = config.find("connectors:").expect("connectors");
    write_config(
        setup.path(),
        &config[connectors..].replace("    grants:", &format!("{dls}    grants:")),
    );
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "config", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("auth_method \"certificate\"")),
        "{report}"
    );
}
