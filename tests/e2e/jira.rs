//! The Jira connector (`plugins/jira`, Go, on plugins/shared/atlassian), built from source with
//! the Go SDK and run by the real `inlet` binary against the Jira-shaped test server
//! (`tests/ftest/fixtures/jira/server.py`, Cloud mode): search pages of 5 with
//! `nextPageToken`, HTTP Basic auth that only the host can supply, a 429 + `Retry-After: 1` to
//! ride out, attachment downloads redirected to the media service, JQL `updated` for
//! incremental syncs written in the account's time zone (Asia/Kolkata, +05:30), and a
//! persistent 503 that must fail the sync without deleting anything. A second test runs
//! document-level security (identities, then each document's `_allow_access_control` from
//! project permissions, security levels and role restrictions); a third advanced sync rules
//! (JQL queries): exactly what they find, narrowed by `updated` in an incremental sync, and a
//! rule of the wrong shape refused before any request.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use serde_json::{Value, json};

const MARK: &str = "TOPSECRET";
const TOKEN: &str = "jira-TOPSECRET-api-token-5d1e";
const USER: &str = "inlet@example.com";
/// The account's time zone at the stand-in: a half-hour offset without daylight saving time.
const ZONE: &str = "Asia/Kolkata";
const ZONE_OFFSET_MINUTES: i64 = 5 * 60 + 30;
/// Issues loaded (over ENG, OPS, HR; every 5th with a text file, every 15th also an image):
/// with pages of 5, every search takes several requests.
const ISSUES: usize = 40;

fn requests(server: &FixtureServer) -> Vec<Value> {
    server
        .control("GET", "requests", None)
        .as_array()
        .expect("a list")
        .clone()
}

fn target(r: &Value) -> &str {
    r["target"].as_str().unwrap_or_default()
}

/// Percent-decoding of a query string value (`+` is a space).
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

fn query_param(target: &str, key: &str) -> Option<String> {
    let (_, q) = target.split_once('?')?;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
}

/// The JQL of each first search page (later pages repeat it with a token), in order.
fn searched_jql(seen: &[Value]) -> Vec<String> {
    seen.iter()
        .filter(|r| target(r).starts_with("/rest/api/2/search/jql?") && r["status"] == 200)
        .filter(|r| query_param(target(r), "nextPageToken").is_none())
        .filter_map(|r| query_param(target(r), "jql"))
        .collect()
}

/// The issue keys, documents ids and attachment ids `load?n=` makes: issue i is in
/// PROJECTS[i % 3] (ENG, OPS, HR) with the next number of that project; attachment ids count
/// from 10001 in creation order.
struct Loaded {
    /// (issue number i, key, document id)
    issues: Vec<(usize, String, String)>,
    /// (issue key, attachment id, file name)
    files: Vec<(String, u64, String)>,
}

fn loaded(n: usize) -> Loaded {
    let projects = [
        ("ENG", "Engineering"),
        ("OPS", "Operations"),
        ("HR", "People"),
    ];
    let mut seq = [0; 3];
    let mut next_file = 10_000;
    let mut out = Loaded {
        issues: Vec::new(),
        files: Vec::new(),
    };
    for i in 1..=n {
        let p = i % 3;
        seq[p] += 1;
        let key = format!("{}-{}", projects[p].0, seq[p]);
        out.issues
            .push((i, key.clone(), format!("{}-{key}", projects[p].1)));
        if i % 5 == 0 {
            next_file += 1;
            out.files
                .push((key.clone(), next_file, format!("notes-{i}.txt")));
        }
        if i % 15 == 0 {
            next_file += 1;
            out.files
                .push((key.clone(), next_file, format!("screen-{i}.png")));
        }
    }
    out
}

impl Loaded {
    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = ["project-10000", "project-10001", "project-10002"]
            .map(String::from)
            .to_vec();
        ids.extend(self.issues.iter().map(|(_, _, id)| id.clone()));
        ids.extend(self.files.iter().map(|(k, a, _)| format!("{k}-{a}")));
        ids.sort();
        ids
    }

    fn doc_id(&self, key: &str) -> String {
        self.issues
            .iter()
            .find(|(_, k, _)| k == key)
            .map(|(_, _, id)| id.clone())
            .unwrap_or_else(|| panic!("no issue {key}"))
    }
}

struct Setup {
    tmp: tempfile::TempDir,
    origin: String,
}

impl Setup {
    fn new(origin: &str) -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        install_sdk_plugin("jira", &tmp.path().join("plugins"));
        Setup {
            tmp,
            origin: origin.to_owned(),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn sink(&self) -> PathBuf {
        self.path().join("data/sink/search-jira.ndjson")
    }

    fn acl_sink(&self) -> PathBuf {
        self.path()
            .join("data/sink/.search-acl-filter-search-jira.ndjson")
    }

    /// Jira Cloud at the stand-in; `extra`: more configuration lines (6 spaces in), `rules`:
    /// the YAML items under `sync_rules.advanced:` (8 spaces in).
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
                "credentials:\n  jira:\n    type: basic\n    username: {USER}\n    password: {TOKEN}\n    hosts: [\"{origin}\"]\n\
                 connectors:\n  - connector_id: jira\n    service_type: jira\n    configuration:\n\
                 \x20     data_source: jira_cloud\n      jira_url: {origin}\n      projects: [\"*\"]\n{extra}\
                 \x20   grants:\n      http: {http}\n      credentials: [jira]\n{rules}"
            ),
        );
    }

    /// One sync; checks that the token reached neither inlet's output nor its data directory
    /// (the plugin's configuration, state and documents live there).
    fn sync(&self, kind: &str) -> (bool, Value, String) {
        let config = self.path().join("config.yml");
        let out = Command::new(env!("CARGO_BIN_EXE_inlet"))
            .args(["sync", "jira", "--json", "--type", kind, "--config"])
            .arg(&config)
            .env("RUST_LOG", "debug,wasmtime=warn,cranelift=warn,hyper=info")
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

fn start_server() -> FixtureServer {
    FixtureServer::start(
        "jira",
        &["--user", USER, "--token", TOKEN, "--time-zone", ZONE],
    )
}

/// The JQL date the cursor of `report` is, in the account's zone, to the minute.
fn jql_minute(report: &Value) -> String {
    let cursor: Value =
        serde_json::from_str(report["cursor"].as_str().expect("a cursor")).expect("JSON cursor");
    let since = chrono::DateTime::parse_from_rfc3339(cursor["since"].as_str().expect("since"))
        .expect("an RFC 3339 cursor");
    (since + chrono::Duration::minutes(ZONE_OFFSET_MINUTES))
        .format("%Y/%m/%d %H:%M")
        .to_string()
}

#[test]
fn jira_connector_syncs_through_the_broker() {
    let server = start_server();
    let setup = Setup::new(&server.origin);
    setup.configure(true, "", None);
    let data = loaded(ISSUES);

    // 1. Full sync, riding out one 429 (Retry-After: 1) on the first search page.
    let expected = server.control("POST", &format!("load?n={ISSUES}"), None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    assert_eq!(expected, data.ids().len());
    server.control(
        "POST",
        "faults",
        Some(r#"{"throttle_once": "/rest/api/2/search/jql?"}"#),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["indexed"], expected as u64, "{report}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.keys().cloned().collect::<Vec<_>>(), data.ids());

    let origin = &server.origin;
    let eng = &docs["project-10000"];
    assert_eq!(eng["Type"], "Project");
    assert_eq!(eng["Key"], "ENG");
    assert_eq!(eng["Project"]["name"], "Engineering");
    assert_eq!(eng["Project"]["description"], "The Engineering project.");
    // Issue 5: HR-2, a Task with a text file; issue 15 (ENG-5) also has an image.
    let issue = &docs["People-HR-2"];
    assert_eq!(issue["Key"], "HR-2");
    assert_eq!(issue["Type"], "Task");
    assert_eq!(issue["Issue"]["summary"], "Issue 5 in HR");
    assert_eq!(
        issue["Issue"]["description"], "h1. Issue 5 in HR\n\nDescription of issue 5 in *People*.",
        "API v2's wiki text, as in Elastic's documents (v3 would be Atlassian Document Format)"
    );
    assert_eq!(
        issue["Custom_Fields"],
        json!({"Story Points": 5, "Team": {"self": format!("{origin}/rest/api/2/customFieldOption/1"), "value": "Team A", "id": "1"}, "Sprint": null})
    );
    assert!(
        issue["Issue"].get("customfield_10010").is_none(),
        "custom fields are under Custom_Fields, by name"
    );
    // 00:05 UTC is 05:35 in Kolkata, as Jira writes it; RFC 3339 for the host.
    assert_eq!(issue["_timestamp"], "2024-01-01T05:35:00.000+05:30");
    let (key, att, _) = &data.files[0];
    let file = &docs[&format!("{key}-{att}")];
    assert_eq!(file["Type"], "Attachment");
    assert_eq!(file["title"], "notes-5.txt");
    assert_eq!(file["issue"], "HR-2");
    assert_eq!(file["size"], 30);
    assert_eq!(
        file["_attachment"], "Tm90ZXMgb2YgaXNzdWUgNTogcGxhaW4gdGV4dC4K",
        "the file's bytes, through the redirect to the media service"
    );
    let image = data
        .files
        .iter()
        .find(|(_, _, name)| name.ends_with(".png"))
        .expect("an image");
    assert!(
        docs[&format!("{}-{}", image.0, image.1)]
            .get("_attachment")
            .is_none(),
        "an image is not extracted (Elastic's file types)"
    );

    let seen = requests(&server);
    // The host injected the operator's credential into every API request; the media service's
    // links carry their own token.
    assert!(
        seen.iter()
            .filter(|r| !target(r).starts_with("/media/"))
            .all(|r| r["authorization"] == true && r["auth_ok"] == true),
        "{seen:?}"
    );
    let downloads: Vec<&Value> = seen
        .iter()
        .filter(|r| target(r).starts_with("/rest/api/2/attachment/content/"))
        .collect();
    assert_eq!(
        downloads.len(),
        data.files.iter().filter(|f| f.2.ends_with(".txt")).count()
    );
    assert!(downloads.iter().all(|r| r["status"] == 303));
    assert_eq!(
        seen.iter()
            .filter(|r| target(r).starts_with("/media/file/") && r["status"] == 200)
            .count(),
        downloads.len()
    );
    // Pagination by token through the whole search (40 issues, 5 a page), the throttled page
    // fetched again after its Retry-After.
    let search: Vec<&Value> = seen
        .iter()
        .filter(|r| target(r).starts_with("/rest/api/2/search/jql?"))
        .collect();
    assert_eq!(
        search.iter().filter(|r| r["status"] == 200).count(),
        ISSUES / 5
    );
    let throttled: Vec<&&Value> = search.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(throttled.len(), 1, "{search:?}");
    let retried = search
        .iter()
        .find(|r| target(r) == target(throttled[0]) && r["status"] == 200)
        .expect("the throttled page is fetched again");
    let waited = retried["at"].as_f64().expect("at") - throttled[0]["at"].as_f64().expect("at");
    assert!(
        waited >= 0.95,
        "the retry waited {waited:.2}s, not the 1 s Retry-After asked for"
    );
    assert_eq!(searched_jql(&seen), ["key IS NOT EMPTY"]);
    assert_eq!(
        query_param(target(search[0]), "fields").as_deref(),
        Some("*all")
    );

    // 2. Incremental: two issues edited, a file uploaded to a third (which updates it, as in
    // Jira); JQL `updated` in the account's time zone asks for exactly these.
    server.control("POST", "requests/clear", None);
    let updated = server.control("POST", "update?n=2", None);
    assert_eq!(updated["updated"], json!(["OPS-1", "HR-1"]));
    let upload = server.control("POST", "attach?key=ENG-2", None);
    let upload_id = format!("ENG-2-{}", upload["id"].as_str().expect("an id"));
    let minute = jql_minute(&report);
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental sync failed: {report}\n{stderr}");
    assert_eq!(report["stats"]["extracted"], 4, "{report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected + 1);
    assert_eq!(
        docs["Operations-OPS-1"]["Issue"]["summary"],
        "Issue 1 in OPS (edited)"
    );
    assert_eq!(
        docs["People-HR-1"]["Issue"]["summary"],
        "Issue 2 in HR (edited)"
    );
    assert_eq!(docs[&upload_id]["title"], "upload-1.txt");
    assert_eq!(
        docs[&upload_id]["_attachment"],
        "VXBsb2FkZWQgdG8gRU5HLTIuCg=="
    );
    let seen = requests(&server);
    assert_eq!(
        searched_jql(&seen),
        [format!("(key IS NOT EMPTY) and updated >= \"{minute}\"")],
        "the cursor in Kolkata time: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|r| target(r).starts_with("/rest/api/2/project")),
        "an incremental sync lists no projects"
    );

    // 3. Issues removed at the source leave the index at the next full sync: the newest 6
    // (35..=40; 35 and 40 have files).
    let expected = server.control("POST", "remove?n=6", None)["expected"]
        .as_u64()
        .expect("expected") as usize;
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "second full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(docs.len(), expected, "{report}");
    assert_eq!(report["stats"]["stale_deleted"], 8, "{report}");
    for (i, _, id) in &data.issues {
        assert_eq!(docs.contains_key(id), *i <= ISSUES - 6, "{id}");
    }

    // 4. A persistent 503 on the search: retried retry_count times, then the sync fails and
    // nothing is deleted.
    setup.configure(true, "      retry_count: 1\n", None);
    server.control(
        "POST",
        "faults",
        Some(r#"{"fail": "/rest/api/2/search/jql", "status": 503, "times": 99}"#),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "a sync against a failing Jira must fail: {report}");
    assert_eq!(report["status"], "error", "{report}");
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
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("grants.http") && error.contains(origin.as_str()),
        "{report}\n{stderr}"
    );
    assert!(
        requests(&server).is_empty(),
        "nothing reached the server without the grant"
    );
    assert_eq!(replay(&setup.sink()).len(), expected);
}

fn acl_of(doc: &Value) -> Vec<String> {
    let mut acl: Vec<String> = doc["_allow_access_control"]
        .as_array()
        .unwrap_or_else(|| panic!("no _allow_access_control in {doc}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect();
    acl.sort();
    acl
}

fn strings(v: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    out.sort();
    out
}

#[test]
fn jira_cloud_document_level_security() {
    const N: usize = 35;
    let server = start_server();
    let setup = Setup::new(&server.origin);
    setup.configure(true, "      use_document_level_security: true\n", None);
    server.control("POST", &format!("load?n={N}"), None);
    let data = loaded(N);

    // 1. Access-control sync: one identity per active Atlassian account (not the app, the
    // service-desk customer or the deactivated account), in Elastic's shape.
    let (ok, report, stderr) = setup.sync("access-control");
    assert!(ok, "access-control sync failed: {report}\n{stderr}");
    let ids = replay(&setup.acl_sink());
    assert_eq!(
        ids.keys().cloned().collect::<Vec<_>>(),
        strings(&["acc-alice", "acc-bob", "acc-carol"]),
        "{report}"
    );
    assert_eq!(
        ids["acc-carol"]["identity"],
        json!({"account_id": "account_id:acc-carol", "display_name": "name:Carol-Chen",
               "email_address": null, "locale": "locale:de_DE"})
    );
    assert_eq!(
        ids["acc-carol"]["query"]["template"]["params"]["access_control"],
        json!([
            "account_id:acc-carol",
            "group_id:grp-hr",
            "group_id:grp-users",
            "role_key:jira-servicedesk",
            "role_key:jira-software"
        ])
    );

    // 2. Full sync: projects get who may browse them (Atlassian accounts only, as Elastic's
    // filter), issues with a security level its members (users, groups, the Developers role's
    // members in the issue's project; not the add-ons role, not the reporter holder),
    // role-restricted issues that role's members, others their project's; files their issue's.
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "full sync failed: {report}\n{stderr}");
    let docs = replay(&setup.sink());
    assert_eq!(
        docs.keys().cloned().collect::<Vec<_>>(),
        data.ids(),
        "{report}"
    );
    let alice = ["account_id:acc-alice", "name:Alice-Adams"];
    let bob = ["account_id:acc-bob", "name:Bob-Brown"];
    let carol = ["account_id:acc-carol", "name:Carol-Chen"];
    let dave = ["account_id:acc-dave", "name:Dave-Davis"];
    let project = |p: usize| -> Vec<String> {
        match p {
            0 => strings(&[alice[0], alice[1], carol[0], carol[1]]),
            1 => strings(&[alice[0], alice[1], bob[0], bob[1]]),
            _ => strings(&[carol[0], carol[1], dave[0], dave[1]]),
        }
    };
    let developers = |p: usize| -> Vec<&str> {
        match p {
            0 => vec![bob[0], bob[1], "group_id:grp-ops"],
            1 => vec![alice[0], alice[1]],
            _ => vec!["group_id:grp-hr"],
        }
    };
    let level = |p: usize| -> Vec<String> {
        let mut v = vec![carol[0], carol[1], "group_id:grp-eng"];
        v.extend(developers(p));
        let mut v = strings(&v);
        v.dedup();
        v
    };
    assert_eq!(acl_of(&docs["project-10000"]), project(0));
    assert_eq!(acl_of(&docs["project-10002"]), project(2));
    let mut by_kind = [0; 3];
    for (i, key, id) in &data.issues {
        let p = i % 3;
        let (kind, want) = if i % 7 == 0 {
            (0, level(p))
        } else if i % 11 == 0 {
            (1, strings(&developers(p)))
        } else {
            (2, project(p))
        };
        by_kind[kind] += 1;
        assert_eq!(
            acl_of(&docs[id]),
            want,
            "_allow_access_control of {key} ({i})"
        );
        for (k, a, _) in data.files.iter().filter(|(k, _, _)| k == key) {
            assert_eq!(
                acl_of(&docs[&format!("{k}-{a}")]),
                want,
                "a file has its issue's"
            );
        }
    }
    assert_eq!(
        by_kind,
        [5, 3, 27],
        "levels on 7..35, role restrictions on 11, 22, 33"
    );
    let seen = requests(&server);
    assert_eq!(
        seen.iter()
            .filter(
                |r| target(r).starts_with("/rest/api/3/issuesecurityschemes/level/member?")
                    && query_param(target(r), "startAt").as_deref() == Some("0")
            )
            .count(),
        1,
        "a level's members are read once per sync: {seen:?}"
    );
    assert_eq!(
        docs[&data.doc_id("OPS-3")]["Issue"]["security"]["name"],
        "Staff"
    );
}

#[test]
fn jira_advanced_rules_index_what_the_jql_finds() {
    let server = start_server();
    let setup = Setup::new(&server.origin);
    server.control("POST", &format!("load?n={ISSUES}"), None);
    let data = loaded(ISSUES);

    // OPS's stories (every OPS issue: i % 3 == 1) and issue 2 by its summary, by two rules;
    // `projects` is ignored and no project is indexed, as in Elastic's.
    setup.configure(
        true,
        "",
        Some("        - query: \"project = OPS and issuetype = Story\"\n        - query: 'summary ~ \"Issue 2 in\" ORDER BY created DESC'\n"),
    );
    let (ok, report, stderr) = setup.sync("full");
    assert!(ok, "rules sync failed: {report}\n{stderr}");
    let mut want: Vec<String> = Vec::new();
    for (i, key, id) in &data.issues {
        let story_in_ops = i % 3 == 1;
        let summary = format!("Issue {i} in ");
        if story_in_ops || summary.starts_with("Issue 2 in") {
            want.push(id.clone());
            for (k, a, _) in data.files.iter().filter(|(k, _, _)| k == key) {
                want.push(format!("{k}-{a}"));
            }
        }
    }
    want.sort();
    want.dedup();
    let docs = replay(&setup.sink());
    assert_eq!(docs.keys().cloned().collect::<Vec<_>>(), want, "{report}");
    let seen = requests(&server);
    assert_eq!(
        searched_jql(&seen),
        [
            "project = OPS and issuetype = Story",
            "summary ~ \"Issue 2 in\" ORDER BY created DESC"
        ]
    );
    assert!(
        !seen
            .iter()
            .any(|r| target(r).starts_with("/rest/api/2/project")),
        "rules index no projects: {seen:?}"
    );

    // An incremental sync narrows each rule by `updated`, its ORDER BY kept last.
    server.control("POST", "requests/clear", None);
    let minute = jql_minute(&report);
    server.control("POST", "update?n=4", None); // issues 1-4: OPS-1 and OPS-2 are Stories
    let (ok, report, stderr) = setup.sync("incremental");
    assert!(ok, "incremental rules sync failed: {report}\n{stderr}");
    assert_eq!(
        searched_jql(&requests(&server)),
        [
            format!("(project = OPS and issuetype = Story) and updated >= \"{minute}\""),
            format!("(summary ~ \"Issue 2 in\") and updated >= \"{minute}\" ORDER BY created DESC"),
        ]
    );
    // OPS-1, OPS-2 (Stories; 4 is OPS-2) and HR-1 (issue 2).
    assert_eq!(report["stats"]["extracted"], 3, "{report}");

    // Rules of the wrong shape are refused before the sync asks Jira anything.
    server.control("POST", "requests/clear", None);
    setup.configure(true, "", Some("        - jql: \"project = ENG\"\n"));
    let (ok, report, stderr) = setup.sync("full");
    assert!(!ok, "an invalid rule must fail the sync: {report}");
    let err = report["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("\"query\"") && err.contains("JQL"),
        "{report}\n{stderr}"
    );
    assert!(requests(&server).is_empty(), "{:?}", requests(&server));
    assert_eq!(replay(&setup.sink()).len(), want.len(), "nothing deleted");
}
