//! The ServiceNow connector (`plugins/servicenow`, Python), built from source with the Python
//! SDK and run by the real `inlet` binary against the ServiceNow-shaped test server
//! (`tests/ftest/fixtures/servicenow/server.py`): the Table, Attachment and Batch APIs, HTTP
//! Basic auth that only the host can supply, a 429 + `Retry-After: 1` on a Batch API call to
//! ride out, `sys_updated_on` for incremental syncs (from ServiceNow's own clock), and a
//! persistent 503 that must fail the sync without deleting anything. A second test syncs with
//! advanced sync rules (per-service encoded queries): exactly what they find, narrowed by
//! `sys_updated_on` in an incremental sync, and rules of the wrong shape or for an unknown
//! service refused before any record is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use serde_json::Value;

const MARK: &str = "TOPSECRET";
const PASSWORD: &str = "sn-TOPSECRET-pw-0b7c";
const USER: &str = "inlet.integration";
/// Records loaded, over sys_user, sc_req_item, incident, kb_knowledge, change_request (record
/// i in table i % 5); every 7th has a text file, every 21st also an image.
const RECORDS: usize = 60;

fn requests(server: &FixtureServer) -> Vec<Value> {
    server
        .control("GET", "requests", None)
        .as_array()
        .expect("a list")
        .clone()
}

fn target(r: &Value) -> String {
    decode(r["target"].as_str().unwrap_or_default())
}

/// Percent-decoding (`+` is a space).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The documents by their `number` (records) or `file_name` (attachments).
fn by_name(docs: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    docs.values()
        .map(|d| {
            let name = d["number"]
                .as_str()
                .or(d["file_name"].as_str())
                .expect("a number or a file name");
            (name.to_owned(), d.clone())
        })
        .collect()
}

/// The names `load?n=` makes, as [`by_name`] keys them.
fn loaded(n: usize) -> Vec<String> {
    let prefix = ["USR", "RITM", "INC", "KB", "CHG"];
    let mut out = Vec::new();
    for i in 1..=n {
        out.push(format!("{}{i:07}", prefix[i % 5]));
        if i % 7 == 0 {
            out.push(format!("report-{i}.txt"));
        }
        if i % 21 == 0 {
            out.push(format!("photo-{i}.png"));
        }
    }
    out.sort();
    out
}

struct Setup {
    tmp: tempfile::TempDir,
    origin: String,
}

impl Setup {
    fn new(origin: &str) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        install_sdk_plugin("servicenow", &tmp.path().join("plugins"));
        Setup {
            tmp,
            origin: origin.to_owned(),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-sn.ndjson")
    }

    /// `extra`: more configuration lines (6 spaces in); `rules`: the YAML items under
    /// `sync_rules.advanced:` (8 spaces in).
    fn configure(&self, grant_http: bool, extra: &str, rules: Option<&str>) {
        let origin = &self.origin;
        let http = if grant_http {
            format!("[\"{origin}\"]")
        } else {
            "[]".to_owned()
        };
        let rules = rules
            .map(|r| format!("    sync_rules:\n      advanced:\n{r}"))
            .unwrap_or_default();
        write_config(
            self.path(),
            &format!(
                "credentials:\n  servicenow:\n    type: basic\n    username: {USER}\n    password: {PASSWORD}\n    hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: sn\n    service_type: servicenow\n    configuration:\n\
                 \x20     url: {origin}\n{extra}\
                 \x20   grants:\n      http: {http}\n      credentials: [servicenow]\n{rules}"
            ),
        );
    }

    /// One sync; checks that the password reached neither inlet's output nor its data
    /// directory (the plugin's configuration, state and documents live there).
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let config = self.path().join("config.yml");
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "sn", "--json", "--type", kind, "--config"])
            .arg(&config)
            .env("RUST_LOG", "debug,wasmtime=warn,cranelift=warn,hyper=info")
            .output()
            .expect("run inlet");
        let (so, se) = (stdout(&out), stderr(&out));
        assert!(
            !so.contains(MARK) && !se.contains(MARK),
            "the password reached inlet's output:\n{so}\n{se}"
        );
        assert_not_under(&self.path().join("data"), MARK);
        let report: Value = serde_json::from_str(&so)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {so}\n{se}"));
        (out.status.success(), report, se)
    }
}

fn start_server() -> FixtureServer {
    FixtureServer::start("servicenow", &["--user", USER, "--password", PASSWORD])
}

fn cursor_since(report: &Value) -> String {
    let cursor: Value =
        serde_json::from_str(report["cursor"].as_str().expect("a cursor")).expect("JSON cursor");
    cursor["since"].as_str().expect("since").to_owned()
}

#[test]
fn servicenow_connector_syncs_through_the_broker() {
    let server = start_server();
    let setup = Setup::new(&server.origin);
    setup.configure(true, "", None);

    // 1. Full sync of the default services (`*`), riding out one 429 (Retry-After: 1) on a
    // Batch API call.
    let expected = server.control("POST", &format!("load?n={RECORDS}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    assert_eq!(expected, loaded(RECORDS).len());
    server.control(
        "POST",
        "faults",
        Some(r#"{"throttle_once": "/api/now/v1/batch"}"#),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["indexed"], expected as u64, "{report}");
    let docs = replay(&setup.sink());
    let named = by_name(&docs);
    assert_eq!(named.keys().cloned().collect::<Vec<_>>(), loaded(RECORDS));
    // Record 12, an incident: its non-empty values, `_id` its sys_id, `_timestamp` its
    // sys_updated_on (UTC).
    let inc = &named["INC0000012"];
    let sys_id = inc["sys_id"].as_str().expect("sys_id");
    assert_eq!(
        inc["id"], sys_id,
        "the host writes `_id` into `id`, as Elastic's sink does"
    );
    assert!(docs.contains_key(sys_id));
    assert_eq!(inc["short_description"], "Record 12 of incident");
    assert_eq!(inc["sys_updated_on"], "2024-01-01 00:00:06");
    assert_eq!(inc["_timestamp"], "2024-01-01T00:00:06+00:00");
    assert!(
        inc.get("assigned_to").is_none() && inc.get("close_notes").is_none(),
        "empty values are dropped, as Elastic does: {inc}"
    );
    assert_eq!(
        named["INC0000007"]["assigned_to"]["value"]
            .as_str()
            .map(str::len),
        Some(32)
    );
    let report7 = &named["report-7.txt"];
    assert_eq!(report7["table_name"], "incident");
    assert_eq!(report7["table_sys_id"], named["INC0000007"]["sys_id"]);
    assert_eq!(
        report7["_attachment"],
        "UmVwb3J0IG9mIHJlY29yZCA3OiBwbGFpbiB0ZXh0Lgo="
    );
    assert!(
        named["photo-21.png"].get("_attachment").is_none(),
        "an image is not extracted (Elastic's file types)"
    );

    let seen = requests(&server);
    assert!(
        seen.iter()
            .all(|r| r["authorization"] == true && r["auth_ok"] == true),
        "the host injected the operator's credential into every request: {seen:?}"
    );
    // Record pages of 50 through the Batch API, in a stable order.
    let pages: Vec<String> = seen
        .iter()
        .filter(|r| r["batched"] == true && target(r).starts_with("/api/now/table/"))
        .map(target)
        .collect();
    assert_eq!(
        pages.len(),
        5,
        "one page per table (12 records each): {pages:?}"
    );
    assert!(
        pages
            .iter()
            .all(|t| t
                .contains("sysparm_query=ORDERBYsys_created_on^ORDERBYsys_id&sysparm_limit=50")),
        "{pages:?}"
    );
    let batches: Vec<&Value> = seen
        .iter()
        .filter(|r| target(r) == "/api/now/v1/batch")
        .collect();
    assert_eq!(batches[0]["status"], 429);
    let waited = batches[1]["at"].as_f64().expect("at") - batches[0]["at"].as_f64().expect("at");
    assert!(
        waited >= 0.95,
        "the retry waited {waited:.2}s, not the 1 s Retry-After asked for"
    );
    let since = cursor_since(&report);

    // 2. Incremental: two records edited, a file uploaded to a third (which does not change):
    // `sys_updated_on` asks for exactly these.
    server.control("POST", "requests/clear", None);
    let updated = server.control("POST", "update?n=2", None);
    assert_eq!(updated["updated"].as_array().map(Vec::len), Some(2));
    let inc7 = named["INC0000007"]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned();
    server.control("POST", &format!("attach?sys_id={inc7}"), None);
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["extracted"], 3, "{report}\n{stderr}");
    let named = by_name(&replay(&setup.sink()));
    assert_eq!(named.len(), expected + 1);
    assert_eq!(
        named["RITM0000001"]["short_description"],
        "Record 1 of sc_req_item (edited)"
    );
    assert_eq!(
        named["INC0000002"]["short_description"],
        "Record 2 of incident (edited)"
    );
    assert_eq!(named["upload-2.txt"]["table_sys_id"], inc7.as_str());
    let seen = requests(&server);
    let changed = format!("sys_updated_on>={since}");
    assert!(
        seen.iter().any(|r| target(r).starts_with(&format!(
            "/api/now/table/incident?sysparm_query={changed}^ORDERBYsys_created_on^ORDERBYsys_id&sysparm_limit=1"
        ))),
        "the records changed since the cursor: {seen:?}"
    );
    assert!(
        seen.iter().any(|r| target(r).starts_with(&format!(
            "/api/now/attachment?sysparm_query=table_name=incident^{changed}^"
        ))),
        "the files changed since the cursor: {seen:?}"
    );

    // 3. Records removed at the source leave the index at the next full sync: the newest 6
    // (55..=60; 56 has a file).
    let expected = server.control("POST", "remove?n=6", None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "second full sync failed: {report}\n{stderr}");
    assert_eq!(replay(&setup.sink()).len(), expected, "{report}");
    assert_eq!(report["stats"]["stale_deleted"], 7, "{report}");

    // 4. A persistent 503 on the Batch API: retried retry_count times, then the sync fails and
    // nothing is deleted.
    setup.configure(true, "      retry_count: 1\n", None);
    server.control(
        "POST",
        "faults",
        Some(r#"{"fail": "/api/now/v1/batch", "status": 503, "times": 99}"#),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(
        !ok,
        "a sync against a failing ServiceNow must fail: {report}"
    );
    assert!(
        report["error"].as_str().unwrap_or_default().contains("503"),
        "{report}\n{stderr}"
    );
    assert_eq!(
        replay(&setup.sink()).len(),
        expected,
        "a failed sync deletes nothing"
    );
    server.control("POST", "faults", Some("{}"));

    // 5. Without the origin granted, the host refuses the request and says which grant to add.
    setup.configure(false, "", None);
    server.control("POST", "requests/clear", None);
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "a sync without the http grant must fail: {report}");
    assert!(
        stderr.contains(&format!(
            "add \"{}\" to connectors[0].grants.http",
            server.origin
        )),
        "the host's log names the grant to add:\n{stderr}"
    );
    assert!(requests(&server).is_empty(), "nothing reached the server");
    assert_eq!(replay(&setup.sink()).len(), expected);
}

#[test]
fn servicenow_advanced_rules_index_what_the_queries_find() {
    let server = start_server();
    let setup = Setup::new(&server.origin);
    server.control("POST", &format!("load?n={RECORDS}"), None);

    // Incidents of priority 3 (all of them: record i has priority 1 + i % 5), and two articles
    // by number; `services` is ignored.
    setup.configure(
        true,
        "      services: \"Requested Item\"\n",
        Some("        - service: Incident\n          query: priority=3^ORpriority=4\n        - service: Knowledge\n          query: numberINKB0000003,KB0000008\n"),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "rules sync failed: {report}\n{stderr}");
    let mut want: Vec<String> = (2..=RECORDS)
        .step_by(5)
        .map(|i| format!("INC{i:07}"))
        .collect();
    want.extend(
        [
            "KB0000003",
            "KB0000008",
            "report-7.txt",
            "report-42.txt",
            "photo-42.png",
        ]
        .map(String::from),
    );
    want.sort();
    let named = by_name(&replay(&setup.sink()));
    assert_eq!(named.keys().cloned().collect::<Vec<_>>(), want, "{report}");
    let seen = requests(&server);
    let queried: Vec<String> = seen
        .iter()
        .map(target)
        .filter(|t| {
            t.starts_with("/api/now/table/") && !t.starts_with("/api/now/table/sys_db_object")
        })
        .collect();
    assert!(
        queried.iter().all(|t| t
            .starts_with("/api/now/table/incident?sysparm_query=priority=3^ORpriority=4^ORDERBY")
            || t.starts_with(
                "/api/now/table/kb_knowledge?sysparm_query=numberINKB0000003,KB0000008^ORDERBY"
            )),
        "only the rules' tables, with their queries: {queried:?}"
    );
    let since = cursor_since(&report);

    // An incremental sync narrows each rule by `sys_updated_on`.
    server.control("POST", "requests/clear", None);
    server.control("POST", "update?n=8", None); // records 1-8: incidents 2 and 7, article 3 and 8
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental rules sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["extracted"], 4, "{report}");
    assert!(
        requests(&server).iter().map(target).any(|t| t.starts_with(&format!(
            "/api/now/table/incident?sysparm_query=priority=3^ORpriority=4^sys_updated_on>={since}^ORDERBY"
        ))),
        "the rule narrowed by the cursor"
    );

    // Rules of the wrong shape, or for a service the instance does not have, are refused
    // before any record is read.
    for (rules, message) in [
        (
            "        - service: Incident\n          filter: active=true\n",
            "unknown key(s) filter",
        ),
        (
            "        - service: Nope\n          query: active=true\n",
            "Services 'Nope' are not available",
        ),
    ] {
        server.control("POST", "requests/clear", None);
        setup.configure(true, "", Some(rules));
        let (ok, report, stderr) = setup.sync("full");
        assert!(!ok, "an invalid rule must fail the sync: {report}");
        assert!(
            report["error"]
                .as_str()
                .unwrap_or_default()
                .contains(message),
            "{report}\n{stderr}"
        );
        assert!(
            requests(&server)
                .iter()
                .all(|r| target(r).starts_with("/api/now/table/sys_db_object?")),
            "at most the service lookup: {:?}",
            requests(&server)
        );
        assert_eq!(replay(&setup.sink()).len(), want.len(), "nothing deleted");
    }
}
