//! The Salesforce connector (`plugins/salesforce`, Rust, over the Rust SDK's `http` module),
//! built from source and run by the real `inlet` binary against the Salesforce-REST-shaped test
//! server of the functional tests (`tests/ftest/fixtures/salesforce/server.py`: a small SOQL
//! engine, describe calls, getDeleted, file downloads, tiny query pages). The host runs the
//! OAuth2 client-credentials flow against the server's `/services/oauth2/token` with the
//! operator's credential and injects the token; the plugin never sees the secret or the token.
//!
//! Checked: Elastic's documents for every standard object (relationships, child records, the
//! lookups of Contacts and Leads, Case feeds), a custom object, files with the synced records
//! they are linked to and their exact bytes (none for a file above Elastic's size limit, no
//! document for an extension Elastic does not extract), query pagination, a 429 ridden out,
//! SystemModstamp-based incremental syncs with Salesforce's deleted records, the org's API
//! limit failing a sync without deleting anything, Elastic's SOQL and SOSL advanced rules, and
//! the form's client id and secret never leaving the host.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

const CLIENT_ID: &str = "3MVG9-inlet-e2e-consumer-key";
/// Searched for in everything the plugin could have seen or written.
const MARK: &str = "TOPSECRET";
const SECRET: &str = "salesforce-TOPSECRET-1a7f3c";
/// Records the server generates (files are linked to every tenth).
const RECORDS: usize = 100;
/// The server's query page size.
const BATCH: usize = 7;
/// Objects the connector syncs and their key prefixes.
const SYNCED: &[(&str, &str)] = &[
    ("Account", "001"),
    ("Opportunity", "006"),
    ("Contact", "003"),
    ("Lead", "00Q"),
    ("Campaign", "701"),
    ("Case", "500"),
    ("Machine__c", "a01"),
];

/// The plugin, built once per test run into the guests' target directory.
fn built_plugin() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let target = root().join("target").join("guests");
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root())
            .args([
                "build",
                "--profile",
                "plugin",
                "--target",
                "wasm32-wasip2",
                "-p",
                "plugin-salesforce",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("run cargo to build plugins/salesforce");
        assert!(
            out.status.success(),
            "building plugins/salesforce failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2/plugin/salesforce.wasm")
    })
}

struct Org {
    server: FixtureServer,
}

impl Org {
    fn start() -> Org {
        let batch = BATCH.to_string();
        Org {
            server: FixtureServer::start(
                "salesforce",
                &[
                    "--client-id",
                    CLIENT_ID,
                    "--client-secret",
                    SECRET,
                    "--batch-size",
                    &batch,
                ],
            ),
        }
    }

    fn control(&self, method: &str, action: &str, body: Option<&str>) -> Value {
        self.server.control(method, action, body)
    }

    fn faults(&self, spec: Value) {
        self.control("POST", "faults", Some(&spec.to_string()));
    }

    fn records(&self, object: &str) -> Vec<Value> {
        self.control("GET", &format!("records?type={object}"), None)
            .as_array()
            .expect("a list")
            .clone()
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
}

impl Setup {
    fn new(org: &Org) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("plugins/salesforce");
        std::fs::create_dir_all(&dest).expect("plugin folder");
        std::fs::copy(
            root().join("plugins/salesforce/plugin.toml"),
            dest.join("plugin.toml"),
        )
        .expect("copy plugin.toml");
        std::fs::copy(built_plugin(), dest.join("salesforce.wasm")).expect("copy the component");
        Setup {
            tmp,
            origin: org.server.origin.clone(),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-sf.ndjson")
    }

    /// config.yml with the operator's credential for the org; `extra` is YAML under the
    /// connector (indented 4).
    fn configure(&self, extra: &str) {
        let origin = &self.origin;
        let secret_file = self.path().join("salesforce-secret");
        std::fs::write(&secret_file, SECRET).expect("write the secret file");
        write_config(
            self.path(),
            &format!(
                "credentials:\n  salesforce:\n    type: oauth2_client_credentials\n\
                 \x20   token_url: {origin}/services/oauth2/token\n    client_id: {CLIENT_ID}\n\
                 \x20   client_secret: {{file: {}}}\n    client_auth: body\n    hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: sf\n    service_type: salesforce\n    configuration:\n\
                 \x20     domain: acme\n      instance_url: {origin}\n      sync_custom_objects: true\n\
                 \x20     custom_objects_to_sync: [Machine]\n\
                 \x20   grants:\n      http: [\"{origin}\"]\n      credentials: [salesforce]\n{extra}",
                secret_file.display()
            ),
        );
    }

    /// Elastic's form as a Kibana user fills it: the connected app's key and secret typed into
    /// `client_id` / `client_secret`, and no `credentials:` block.
    fn configure_form_only(&self) {
        let origin = &self.origin;
        write_config(
            self.path(),
            &format!(
                "connectors:\n  - connector_id: sf\n    service_type: salesforce\n    configuration:\n\
                 \x20     domain: acme\n      instance_url: {origin}\n      client_id: \"{CLIENT_ID}-{MARK}\"\n\
                 \x20     client_secret: \"{SECRET}\"\n    grants:\n      http: [\"{origin}\"]\n"
            ),
        );
    }

    /// One sync; checks that the secret reached neither inlet's output nor its data directory.
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "sf", "--json", "--type", kind, "--config"])
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

fn queries(log: &[Value]) -> Vec<&str> {
    log.iter().filter_map(|r| r["q"].as_str()).collect()
}

fn prefix(id: &str) -> &str {
    id.get(..3).unwrap_or_default()
}

/// Checks every file document against the source: linked to exactly the synced records the
/// source links it to, with its exact bytes, or none when it is above Elastic's size limit.
/// Returns the ids of the files with content.
fn assert_files(org: &Org, docs: &BTreeMap<String, Value>) -> Vec<String> {
    let synced: BTreeSet<&str> = SYNCED.iter().map(|(_, p)| *p).collect();
    let mut with = Vec::new();
    for (id, d) in docs.iter().filter(|(id, _)| prefix(id) == "069") {
        let source = org.control("GET", &format!("content?id={id}"), None);
        let want: BTreeSet<&str> = source["links"]
            .as_array()
            .expect("links")
            .iter()
            .filter_map(Value::as_str)
            .filter(|l| synced.contains(prefix(l)))
            .collect();
        let got: BTreeSet<&str> = d["linked_ids"]
            .as_array()
            .expect("linked_ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(got, want, "{id}: linked_ids");
        assert_eq!(d["title"], source["title"]);
        assert_eq!(d["type"], "content_document");
        if source["size"].as_u64().expect("size") > 10_485_760 {
            assert!(
                d.get("_attachment").is_none(),
                "{id}: above the limit, no content"
            );
            continue;
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(
                d["_attachment"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id}: no content: {d}")),
            )
            .expect("base64");
        let source_bytes = base64::engine::general_purpose::STANDARD
            .decode(source["base64"].as_str().expect("base64"))
            .expect("base64");
        assert!(bytes == source_bytes, "{id}: the indexed bytes differ");
        with.push(id.clone());
    }
    with
}

#[test]
fn salesforce_connector_syncs_an_org_through_the_broker() {
    let org = Org::start();
    let expected = org.control("POST", &format!("load?n={RECORDS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let setup = Setup::new(&org);
    setup.configure("");
    org.take_requests();

    // 1. Full sync, riding out one 429 on a query page.
    org.faults(json!({"throttle_once": "/services/data/v59.0/query/01g"}));
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected, "{report}");
    let mut by_prefix: BTreeMap<&str, usize> = BTreeMap::new();
    for id in docs.keys() {
        *by_prefix.entry(prefix(id)).or_default() += 1;
    }
    for (object, p) in SYNCED {
        assert_eq!(
            by_prefix.get(p).copied().unwrap_or(0),
            org.records(object).len(),
            "{object}"
        );
    }
    // Files: the .png is not indexed (Elastic's query leaves it out), the too large .docx is,
    // without content; the others carry their bytes.
    let state = org.control("GET", "state", None);
    let eligible: BTreeSet<String> = state["eligible_files"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        docs.keys()
            .filter(|id| prefix(id) == "069")
            .cloned()
            .collect::<BTreeSet<_>>(),
        eligible
    );
    let with_content = assert_files(&org, &docs);
    assert_eq!(
        with_content.len(),
        eligible.len() - 1,
        "one file is above the limit"
    );
    assert!(
        docs.values()
            .any(|d| d["linked_ids"].as_array().is_some_and(|l| l.len() == 2)),
        "a file linked to two records is indexed once, with both"
    );

    // Elastic's document for an Account: the record as Salesforce returns it, url, id.
    let account = &docs["001000000000007AAA"];
    assert_eq!(account["id"], "001000000000007AAA");
    assert_eq!(
        account["url"],
        format!("{}/001000000000007AAA", setup.origin)
    );
    assert_eq!(account["_timestamp"], "2024-01-01T01:41:00Z");
    assert_eq!(account["attributes"]["type"], "Account");
    assert_eq!(
        (
            &account["Name"],
            &account["Rating"],
            &account["BillingAddress"]["city"]
        ),
        (&json!("Account 0"), &json!("Hot"), &json!("Springfield"))
    );
    assert_eq!(account["Owner"]["Name"], "User 1");
    assert_eq!(
        account["Opportunities"]["records"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(
        account.get("Industry").is_none(),
        "only Elastic's fields are selected"
    );
    assert_eq!(
        account["ContentDocumentLinks"]["records"][0]["ContentDocument"]["Title"],
        "File 0"
    );
    // Contacts and Leads get Elastic's lookups.
    let contact = docs
        .values()
        .find(|d| d["attributes"]["type"] == "Contact")
        .expect("a contact");
    assert_eq!(contact["Account"]["Id"], contact["AccountId"]);
    assert!(contact["Account"]["Name"].is_string() && contact["Owner"]["Email"].is_string());
    let converted = docs
        .values()
        .find(|d| d["attributes"]["type"] == "Lead" && d["ConvertedContactId"].is_string())
        .expect("a converted lead");
    assert_eq!(
        converted["ConvertedContact"]["Id"],
        converted["ConvertedContactId"]
    );
    assert_eq!(converted["ConvertedAccount"]["Name"], "Account 0");
    // Cases: comments, e-mails and feed items (with their comments).
    let case = docs
        .values()
        .find(|d| d["CaseNumber"] == "00001000")
        .expect("case 0");
    assert_eq!(
        case["CaseComments"]["records"][0]["CommentBody"],
        "Comment on case 0"
    );
    assert_eq!(case["EmailMessages"]["records"][0]["Subject"], "Re: case 0");
    assert_eq!(case["Feeds"][0]["Title"], "Feed of case 0");
    assert_eq!(
        case["Feeds"][0]["FeedComments"]["records"][0]["CommentBody"],
        "Noted."
    );
    assert!(
        docs.values()
            .any(|d| d["attributes"]["type"] == "Case" && d["Feeds"].is_null()),
        "a case without feed items has Feeds null"
    );
    // The custom object: every field.
    let machine = docs
        .values()
        .find(|d| d["attributes"]["type"] == "Machine__c")
        .expect("a machine");
    assert_eq!(machine["Status__c"], "Running");

    let log = org.take_requests();
    let tokens: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r) == "/services/oauth2/token")
        .collect();
    assert_eq!(tokens.len(), 1, "one token, cached: {tokens:?}");
    assert_eq!(
        (
            &tokens[0]["grant_type"],
            &tokens[0]["client_id"],
            &tokens[0]["client_secret_ok"]
        ),
        (
            &json!("client_credentials"),
            &json!(CLIENT_ID),
            &json!(true)
        )
    );
    let calls: Vec<&Value> = log
        .iter()
        .filter(|r| path_of(r).starts_with("/services/data/"))
        .collect();
    let bearer = calls[0]["authorization"].as_str().unwrap_or_default();
    assert!(bearer.starts_with("Bearer 00D5g000004TEST!"), "{bearer}");
    assert!(calls.iter().all(|r| r["authorization"] == bearer));
    assert_not_under(&setup.path().join("data"), &bearer[7..]);
    // Pages followed (7 records each), one 429 and the same page again.
    let pages = calls
        .iter()
        .filter(|r| path_of(r).starts_with("/services/data/v59.0/query/01g"))
        .count();
    assert!(pages >= RECORDS / BATCH - SYNCED.len(), "{pages} pages");
    let limited: Vec<&&Value> = calls.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(limited.len(), 1, "{calls:?}");
    assert!(
        calls
            .iter()
            .any(|r| r["path"] == limited[0]["path"] && r["status"] == 200)
    );
    let downloads = calls
        .iter()
        .filter(|r| path_of(r).ends_with("/VersionData"))
        .count();
    assert_eq!(
        downloads,
        with_content.len(),
        "each eligible file downloaded once"
    );
    assert!(stderr.contains("larger than 10485760 bytes"), "{stderr}");
    let cursor: Value =
        serde_json::from_str(report["cursor"].as_str().expect("a cursor")).expect("JSON");
    assert!(cursor["cursor_timestamp"].is_string(), "{cursor}");

    // 2. Incremental: 3 records deleted and 2 renamed, one file with a new version. Only the
    // changes come: records by SystemModstamp, deletions from getDeleted, the file again.
    let removed = org.control("POST", "remove?n=3", None);
    let updated = org.control("POST", "update?n=2", None);
    let before = docs.len();
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["deleted"], 3, "{report}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), before - 3);
    for id in removed["removed"].as_array().expect("ids") {
        assert!(!docs.contains_key(id.as_str().expect("id")), "{id} deleted");
    }
    let changed: Vec<&str> = updated["updated"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for id in changed.iter().filter(|id| prefix(id) != "069") {
        assert!(
            docs[*id]["Name"]
                .as_str()
                .is_some_and(|n| n.ends_with("(renamed)")),
            "{}",
            docs[*id]
        );
    }
    let file = changed
        .iter()
        .find(|id| prefix(id) == "069")
        .expect("a changed file");
    assert_eq!(docs[*file]["version_number"], "2");
    assert_files(&org, &docs);
    // Indexed again: the 2 records, and the files that changed or are linked to them.
    let files_again: BTreeSet<&String> = docs
        .iter()
        .filter(|(id, d)| {
            prefix(id) == "069"
                && (id.as_str() == *file
                    || d["linked_ids"].as_array().is_some_and(|l| {
                        l.iter()
                            .any(|x| changed.contains(&x.as_str().unwrap_or_default()))
                    }))
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        report["stats"]["indexed"],
        2 + files_again.len(),
        "{report}"
    );
    let log = org.take_requests();
    let q = queries(&log);
    assert!(
        q.iter()
            .filter(|q| q.contains("FROM Account") && !q.contains("SELECT Id, Name FROM"))
            .all(|q| q.contains("SystemModstamp >= ")),
        "{q:?}"
    );
    assert_eq!(
        log.iter()
            .filter(|r| path_of(r).contains("/deleted"))
            .count(),
        SYNCED.len(),
        "getDeleted per synced object"
    );

    // 3. The org's API limit used up: the sync fails as a network error and deletes nothing.
    org.faults(json!({"fail": "/services/data/v59.0/query", "status": 403, "code": "REQUEST_LIMIT_EXCEEDED", "times": 99}));
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "network", "{report}");
    assert!(
        report["error"].as_str().is_some_and(
            |e| e.contains("REQUEST_LIMIT_EXCEEDED") && e.contains("nothing is deleted")
        ),
        "{report}"
    );
    assert_eq!(replay(&setup.sink()).len(), before - 3, "nothing deleted");
}

/// `sync_rules.advanced` under the connector: JSON, which YAML reads as the same list.
fn rules(json: &str) -> String {
    format!(
        "    sync_rules:\n      advanced: {}\n",
        json.replace('\n', " ")
    )
}

#[test]
fn salesforce_advanced_rules_run_soql_and_sosl_at_the_source() {
    let org = Org::start();
    org.control("POST", &format!("load?n={RECORDS}"), None);
    let setup = Setup::new(&org);
    setup.configure(&rules(
        r#"[{"query": "SELECT Name, Rating FROM Account WHERE Rating = 'Hot'", "language": "SOQL"},
            {"query": "SELECT FIELDS(ALL) FROM Machine__c", "language": "SOQL"},
            {"query": "FIND {Lead 1} IN ALL FIELDS RETURNING Lead(Name, Email)", "language": "SOSL"}]"#,
    ));
    org.take_requests();
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    let hot: BTreeSet<String> = org
        .records("Account")
        .iter()
        .filter(|a| a["Rating"] == "Hot")
        .map(|a| a["Id"].as_str().expect("id").to_owned())
        .collect();
    let machines: BTreeSet<String> = org
        .records("Machine__c")
        .iter()
        .map(|m| m["Id"].as_str().expect("id").to_owned())
        .collect();
    let leads: BTreeSet<String> = org
        .records("Lead")
        .iter()
        .filter(|l| l["Name"].as_str().is_some_and(|n| n.contains("Lead 1")))
        .map(|l| l["Id"].as_str().expect("id").to_owned())
        .collect();
    assert!(hot.len() >= 2 && !machines.is_empty() && leads.len() >= 2);
    let want: BTreeSet<String> = hot.iter().chain(&machines).chain(&leads).cloned().collect();
    assert_eq!(docs.keys().cloned().collect::<BTreeSet<_>>(), want);
    // Elastic's rewrites: Id and LastModifiedDate added to a SOQL select list; FIELDS(...)
    // paged with LIMIT/OFFSET; SOSL records get their id from attributes.url.
    let log = org.take_requests();
    let q = queries(&log);
    assert!(
        q.contains(&"SELECT Name, Rating, Id, LastModifiedDate FROM Account WHERE Rating = 'Hot'"),
        "{q:?}"
    );
    assert!(
        q.contains(&"SELECT FIELDS(ALL) FROM Machine__c LIMIT 200 OFFSET 0"),
        "{q:?}"
    );
    assert!(
        q.contains(&"SELECT FIELDS(ALL) FROM Machine__c LIMIT 200 OFFSET 200"),
        "{q:?}"
    );
    let lead = &docs[leads.iter().next().expect("a lead")];
    assert!(
        lead["Email"].is_string() && lead.get("Company").is_none(),
        "{lead}"
    );
    assert_eq!(
        docs[hot.iter().next().expect("an account")]["_timestamp"]
            .as_str()
            .map(str::len),
        Some(20)
    );

    // A query Salesforce rejects fails the sync as a configuration error naming it; an
    // invalid rule fails before any request. Nothing is deleted.
    setup.configure(&rules(
        r#"[{"query": "SELECT Nmae FROM Account", "language": "SOQL"}]"#,
    ));
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "config", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("INVALID_FIELD") && e.contains("Nmae")),
        "{report}"
    );
    org.take_requests();
    setup.configure(&rules(r#"[{"query": "SELECT Id FROM Account"}]"#));
    let (ok, report, _) = setup.sync("full");
    assert!(!ok, "{report}");
    assert_eq!(report["error_class"], "config", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("language")),
        "{report}"
    );
    assert_eq!(org.take_requests(), Vec::<Value>::new(), "no request");
    assert_eq!(replay(&setup.sink()).len(), want.len(), "nothing deleted");
}

/// Elastic's form asks for the connected app's key and secret; a Kibana user types them in.
/// The host withholds both (sensitive) and, as their token endpoint lies on the org's own
/// domain, forms no credential from them: the secret goes nowhere (no token request reaches the
/// org), and the plugin's error says where the operator declares the credential.
#[test]
fn salesforce_form_secrets_never_leave_the_host() {
    let org = Org::start();
    org.control("POST", "load?n=10", None);
    let setup = Setup::new(&org);
    setup.configure_form_only();
    org.take_requests();
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "{report}\n{stderr}");
    assert_eq!(report["error_class"], "auth", "{report}");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("credentials:")
            && error.contains(&format!("{}/services/oauth2/token", setup.origin))
            && error.contains("grants.credentials"),
        "{report}"
    );
    let log = org.take_requests();
    assert!(
        !log.iter().any(|r| path_of(r) == "/services/oauth2/token"),
        "no token request: {log:?}"
    );
    assert!(
        log.iter().all(|r| r["authorization"].is_null()),
        "nothing authenticated the plugin's requests: {log:?}"
    );
}
